/* sg_init.h — parameter initializers driven by a seeded sg_rng.
 *
 * Every value is computed in double from the generator and then stored in the
 * parameter's dtype, element by element in flat row-major order, so a seed
 * gives the same values bit for bit on every platform (and the f32 values are
 * the f64 values rounded).  Each random initializer draws exactly one value
 * (uniform) or one normal (two uniforms) per element, in order.
 *
 *   uniform(lo, hi):      w ~ U[lo, hi)
 *   xavier_uniform:       w ~ U[-a, a),  a = sqrt(6 / (fan_in + fan_out))
 *                         2-D (d0, d1): fan_in = d0, fan_out = d1
 *                         1-D (d0):     fan_in = fan_out = d0
 *                         0-D:          fan_in = fan_out = 1
 *                         3-D/4-D:      fan_in = d0 * r, fan_out = d1 * r,
 *                                       r = product of the remaining dims
 *   normal(mean, std):    w ~ N(mean, std^2)   (Box-Muller, sg_rng_normal)
 *   zeros, constant(c):   w = 0, w = c
 *
 * Errors: SG_ERR_ARG for a NULL parameter or rng, a non-finite bound, lo > hi,
 * or std < 0; the parameter is then unchanged.  Nothing allocates.
 */
#ifndef SG_INIT_H
#define SG_INIT_H

#include "graph/core/sg_param.h"
#include "graph/core/sg_rng.h"

SG_NODISCARD sg_status sg_init_uniform(sg_param *p, sg_rng *r, double lo, double hi);
SG_NODISCARD sg_status sg_init_xavier_uniform(sg_param *p, sg_rng *r);
SG_NODISCARD sg_status sg_init_normal(sg_param *p, sg_rng *r, double mean, double std);
SG_NODISCARD sg_status sg_init_zeros(sg_param *p);
SG_NODISCARD sg_status sg_init_constant(sg_param *p, double c);

/* fan_in / fan_out of a shape as defined above. */
void sg_init_fans(sg_shape s, double *fan_in, double *fan_out);
/* The Xavier bound a = sqrt(6 / (fan_in + fan_out)) of p's shape. */
double sg_init_xavier_bound(const sg_param *p);

/* Every parameter of ps ~ U[lo, hi), in set order (Zaremba et al. style). */
SG_NODISCARD sg_status sg_params_init_uniform(sg_params *ps, sg_rng *r, double lo, double hi);

#endif
