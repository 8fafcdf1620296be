/* sg_optim.h — optimizers (SGD with momentum, Adam), gradient-norm clipping and
 * the step learning-rate schedule, all acting on a parameter set (sg_param.h).
 *
 * Usage per training step:
 *     sg_params_zero_grad(ps);  ... forward, sg_backward ...
 *     sg_params_clip_grad_norm(ps, 5.0);
 *     sg_optim_step(&opt, ps);             (reads the grads, does not zero them)
 * and once per epoch:  sg_optim_set_epoch(&opt, epoch).
 *
 * Updates (g = p->grad + weight_decay * w, i.e. weight decay is L2 added to the
 * gradient, never written back into p->grad; lr = opt->lr, the current rate):
 *   SGD, momentum mu = 0:   w <- w - lr * g
 *   SGD, momentum mu > 0:   m <- mu * m + g;  w <- w - lr * m      (m starts at 0)
 *   Adam (step t = 1, 2, ...):
 *       m <- b1 * m + (1 - b1) * g
 *       v <- b2 * v + (1 - b2) * g^2
 *       w <- w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * Arithmetic is done in double per element and stored in the parameter dtype
 * (f32 or f64).  The moments live in p->m / p->v: they are allocated (zeroed)
 * by the first step that needs them and then belong to the parameter
 * (sg_params_free frees them, sg_params_set_dtype converts them), so every
 * later step allocates nothing.
 *
 * Step schedule ("Zaremba" schedule): for 1-based epoch e,
 *     lr(e) = base_lr                                      if e <= decay_start
 *     lr(e) = base_lr * decay^(e - decay_start)            otherwise,
 * e.g. base 1, decay 0.5, start 4: 1 1 1 1 0.5 0.25 0.125 ...
 *
 * Errors: functions return sg_status (SG_ERR_ARG for a bad config or NULL
 * argument, SG_ERR_NOMEM when the moments cannot be allocated); nothing aborts.
 */
#ifndef SG_OPTIM_H
#define SG_OPTIM_H

#include "graph/core/sg_param.h"

#include <stdint.h>

typedef enum sg_optim_kind { SG_OPTIM_SGD = 0, SG_OPTIM_ADAM = 1 } sg_optim_kind;

typedef struct sg_sgd_config {
    double lr;           /* >= 0 */
    double momentum;     /* in [0, 1); 0 = plain SGD (no state allocated) */
    double weight_decay; /* >= 0, L2 coefficient added to the gradient */
} sg_sgd_config;

typedef struct sg_adam_config {
    double lr;           /* >= 0 */
    double beta1;        /* in [0, 1) */
    double beta2;        /* in [0, 1) */
    double eps;          /* > 0 */
    double weight_decay; /* >= 0, L2 coefficient added to the gradient */
} sg_adam_config;

typedef struct sg_optim {
    sg_optim_kind kind;
    sg_sgd_config sgd;   /* valid when kind == SG_OPTIM_SGD */
    sg_adam_config adam; /* valid when kind == SG_OPTIM_ADAM */
    double base_lr;      /* the configured rate */
    double lr;           /* the current rate used by sg_optim_step */
    double decay;        /* schedule: factor per epoch after decay_start (1 = none) */
    int decay_start;     /* schedule: epochs at base_lr */
    uint64_t t;          /* steps taken (Adam bias correction) */
} sg_optim;

/* lr 1, momentum 0, weight decay 0 (the Zaremba et al. setting). */
sg_sgd_config sg_sgd_defaults(void);
/* lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-8, weight decay 0. */
sg_adam_config sg_adam_defaults(void);

/* Initialize opt (any previous content is overwritten; opt owns no memory, so
 * there is nothing to free).  The schedule starts as constant (decay 1).
 * SG_ERR_ARG for NULL pointers or an out-of-range field (opt is then left
 * untouched). */
SG_NODISCARD sg_status sg_optim_init_sgd(sg_optim *opt, const sg_sgd_config *cfg);
SG_NODISCARD sg_status sg_optim_init_adam(sg_optim *opt, const sg_adam_config *cfg);

/* Applies one update to every parameter of ps from its current gradient.
 * The gradients are left as they are.  On SG_ERR_NOMEM (first step only: the
 * moments could not be allocated) no parameter has been changed.  All
 * parameters must have the set's dtype (SG_ERR_DTYPE otherwise). */
SG_NODISCARD sg_status sg_optim_step(sg_optim *opt, sg_params *ps);

/* Zeros the moments of every parameter and the step count (the memory stays,
 * owned by the parameters: nothing is freed or invalidated). */
void sg_optim_reset(sg_optim *opt, sg_params *ps);

/* The current learning rate, and setting it directly (>= 0, finite). */
double sg_optim_lr(const sg_optim *opt);
SG_NODISCARD sg_status sg_optim_set_lr(sg_optim *opt, double lr);

/* The step schedule as a pure function (formula above).  epoch is 1-based;
 * epochs <= decay_start (including 0 and negatives) give base_lr. */
double sg_lr_schedule_step(double base_lr, double decay, int decay_start, int epoch);
/* Stores the schedule in opt (decay > 0 and finite, decay_start >= 0). */
SG_NODISCARD sg_status sg_optim_set_schedule(sg_optim *opt, double decay, int decay_start);
/* opt->lr = sg_lr_schedule_step(opt->base_lr, opt->decay, opt->decay_start, epoch). */
SG_NODISCARD sg_status sg_optim_set_epoch(sg_optim *opt, int epoch);

/* ---- the optimizer's state in a file --------------------------------------
 * The state of an optimizer (its kind, step count t, current and base rate,
 * schedule and configuration) as named strings, so that a file format can
 * store it without knowing any optimizer: the keys and their meaning belong to
 * the optimizer (each kind lists its own, in its own file).  The moments are
 * not part of it: they are tensors (p->m, p->v) that the format saves itself.
 * Keys written: "kind" ("sgd" | "adam"), "t", "lr", "base_lr", "decay",
 * "decay_start", and per kind "config.<field>" for each configuration field.
 * Numbers are decimal strings that read back exactly (sg_util.h). */
typedef struct sg_state_io {
    void *ctx;
    /* Stores key = value (both NUL-terminated, copied by the callee). */
    sg_status (*put)(void *ctx, const char *key, const char *value);
    /* The value of key, or NULL when absent (owned by the callee). */
    const char *(*get)(void *ctx, const char *key);
    const char *prefix; /* how the format names the keys in messages, e.g. "seqgrad.optim." */
    char *err;          /* receives the message on failure (may be NULL) */
    size_t errcap;
} sg_state_io;

/* Writes o's state through io->put.  SG_ERR_ARG (nothing written) when o
 * would not load again: an unknown kind, or a configuration, rate or schedule
 * that sg_optim_init_*, sg_optim_set_lr or sg_optim_set_schedule refuse. */
SG_NODISCARD sg_status sg_optim_state_save(const sg_optim *o, const sg_state_io *io);
/* Reads a state written by sg_optim_state_save into *o, all-or-nothing (o is
 * unchanged on failure).  SG_ERR_FORMAT with a message naming the key when a
 * key is missing, malformed or out of range.  io->get is asked only for the
 * keys of the kind found, so the caller can tell which keys were used. */
SG_NODISCARD sg_status sg_optim_state_load(sg_optim *o, const sg_state_io *io);

/* Global L2 norm of all gradients of ps (accumulated in double).  When it is
 * greater than max_norm, every gradient is multiplied by max_norm / norm (so
 * the new norm is max_norm).  Returns the norm before clipping.  Nothing is
 * scaled when the norm is not finite (the caller sees the NaN/Inf in the
 * result) or when max_norm is not > 0 (NaN included); NULL ps gives 0. */
double sg_params_clip_grad_norm(sg_params *ps, double max_norm);
/* The same norm without clipping. */
double sg_params_grad_norm(const sg_params *ps);

/* Data-parallel plain SGD (sg_params_replica): w -= lr[r] * g_r for
 * replicas r = 0..n-1 of master, in that order for every element, visiting
 * only the rows each replica's backward wrote (all rows for a dense
 * gradient).  The rows (first dimension) are split among nparts callers:
 * this call updates rows i with i % nparts == part of every parameter, so
 * nparts threads calling it at once with parts 0..nparts-1 write disjoint
 * elements, and the values do not depend on nparts (only on n and on the
 * replicas' gradients).  Nothing may run backward on a replica meanwhile.
 * An lr[r] of 0 skips replica r.  A replica's listed gradient rows
 * (sg_param.h) are applied first, entry by entry in list order, then its
 * gradient table.  Reads the gradients, does not zero them or empty the
 * lists; allocates nothing.  SG_ERR_ARG for a replica of another set, or part >=
 * nparts. */
SG_NODISCARD sg_status sg_sgd_apply_replicas(sg_params *master, sg_params *const *replicas, const double *lr, size_t n,
                                             size_t part, size_t nparts);
/* One replica's part of that: w -= lr * g over the rows i % nparts == part
 * of every parameter that replica's backward wrote.  For workers that each
 * apply their own replica (whose gradients are in their own cache) in
 * rotation: in phase p of nparts, worker t applies its replica to part
 * (t + p) % nparts, and a barrier ends the phase; part q then receives the
 * replicas in the order q, q - 1, ... (mod nparts), the same every run.
 * The values differ from sg_sgd_apply_replicas's by the order of the
 * updates only.  Same rules otherwise (nothing may run backward on the
 * replica meanwhile; the gradients are read, not zeroed; lr 0 does
 * nothing; allocates nothing).  SG_ERR_ARG for a replica of another set,
 * or part >= nparts. */
SG_NODISCARD sg_status sg_sgd_apply_replica(sg_params *master, const sg_params *replica, double lr, size_t part,
                                            size_t nparts);

#endif
