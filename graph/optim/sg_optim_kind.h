/* sg_optim_kind.h — what each optimizer kind provides (internal to
 * graph/optim/; users see sg_optim.h).  One kind, one file: sg_sgd.c and
 * sg_adam.c each hold their update, their validity check and the keys of
 * their configuration in a saved state; sg_optim.c dispatches through
 * sg_optim_kinds and owns what every kind shares (rates, schedule, step
 * count, clipping). */
#ifndef SG_OPTIM_KIND_H
#define SG_OPTIM_KIND_H

#include "graph/optim/sg_optim.h"

typedef struct sg_optim_kind_ops {
    const char *name; /* the "kind" value in a saved state */
    /* whether o's configuration is one sg_optim_init_<kind> accepts */
    bool (*valid)(const sg_optim *o);
    /* one update of every parameter (dtypes already checked); counts o->t */
    sg_status (*step)(sg_optim *o, sg_params *ps);
    /* the "config.*" keys of o through io */
    sg_status (*save)(const sg_optim *o, const sg_state_io *io);
    /* reads the "config.*" keys into a fresh *o via sg_optim_init_<kind> */
    sg_status (*load)(sg_optim *o, const sg_state_io *io);
} sg_optim_kind_ops;

extern const sg_optim_kind_ops sg_optim_sgd_ops, sg_optim_adam_ops;

/* Helpers the kinds share (sg_optim.c). */
/* *opt = kind at rate lr, constant schedule, step 0, an empty configuration. */
void sg_optim_init_base(sg_optim *opt, sg_optim_kind kind, double lr);
bool sg_optim_nonneg(double x); /* finite and >= 0 */
bool sg_optim_unit(double x);   /* in [0, 1) */
/* Makes sure every parameter has the moments needed (zeroed); allocates only
 * when one is still NULL, i.e. on the first step. */
SG_NODISCARD sg_status sg_optim_ensure_state(sg_params *ps, bool need_m, bool need_v);
/* The gradient elements of ps as one array (parameter k's element i is number
 * off + i, off the sizes of the parameters before it) cut into chunks that
 * run as pool tasks (graph/exec/sg_pool.h): fn(ctx, task, p, off, begin, end)
 * for every piece [begin, end) of p's gradient ranges (sg_param_grad_ranges,
 * rows sorted; every element when dense) inside chunk `task`, in order.  The
 * cut depends on the sizes alone, not on the thread count or on which ranges
 * are sparse, so a per-task reduction summed in task order gives the same bytes
 * at any thread count, sparse or dense.  Returns the number of tasks (at most
 * SG_OPTIM_MAX_TASKS). */
enum { SG_OPTIM_MAX_TASKS = 256 };
typedef void (*sg_optim_piece_fn)(void *ctx, size_t task, sg_param *p, size_t off, size_t begin, size_t end);
size_t sg_optim_walk(const sg_params *ps, bool dense, sg_optim_piece_fn fn, void *ctx);
/* Stores "<key>" = v (exact decimal) through io. */
SG_NODISCARD sg_status sg_optim_put_double(const sg_state_io *io, const char *key, double v);
/* Reads the required finite number "<key>" through io. */
SG_NODISCARD sg_status sg_optim_get_double(const sg_state_io *io, const char *key, double *out);

#endif
