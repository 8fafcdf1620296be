/* sg_decode.c — argmax and temperature sampling (see sg_decode.h). */
#include "models/decode/sg_decode.h"

#include <math.h>
#include <stdbool.h>

size_t sg_argmax(const double *x, size_t n)
{
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]) && (best == SIZE_MAX || x[i] > x[best]))
            best = i;
    return best;
}

/* Score i of a: the logit itself, or log p (log 0 = -inf) for probabilities. */
static double sg_sample_score(const double *a, size_t i, bool probs)
{
    if (!probs)
        return a[i];
    return a[i] > 0.0 ? log(a[i]) : -INFINITY;
}

/* Draws i with probability w(i) / sum w, w(i) = exp((score(i) - m) / temp),
 * where m is the largest score (finite) and a score of -inf weighs 0.  Two
 * passes, no scratch memory, exactly one uniform draw from rng. */
static size_t sg_sample_scores(const double *a, size_t n, bool probs, double m, double temp, sg_rng *rng)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += exp((sg_sample_score(a, i, probs) - m) / temp);
    double u = sg_rng_uniform(rng) * sum, acc = 0.0;
    size_t last = 0; /* the last id with a positive weight: guards against rounding */
    for (size_t i = 0; i < n; i++) {
        double w = exp((sg_sample_score(a, i, probs) - m) / temp);
        if (w > 0.0) {
            acc += w;
            last = i;
            if (u < acc)
                return i;
        }
    }
    return last;
}

static bool sg_temperature_ok(double t) { return isfinite(t) && t >= 0.0; }

sg_status sg_sample_logits(const double *logits, size_t n, double temperature, sg_rng *rng, size_t *out)
{
    if (!logits || n == 0 || !out || !sg_temperature_ok(temperature))
        return SG_ERR_ARG;
    for (size_t i = 0; i < n; i++)
        if (isnan(logits[i]))
            return SG_ERR_ARG;
    size_t best = sg_argmax(logits, n);
    double m = logits[best];
    if (m == -INFINITY)
        return SG_ERR_ARG;
    if (temperature == 0.0 || m == INFINITY) {
        *out = best;
        return SG_OK;
    }
    if (!rng)
        return SG_ERR_ARG;
    *out = sg_sample_scores(logits, n, false, m, temperature, rng);
    return SG_OK;
}

sg_status sg_sample_probs(const double *probs, size_t n, double temperature, sg_rng *rng, size_t *out)
{
    if (!probs || n == 0 || !out || !sg_temperature_ok(temperature))
        return SG_ERR_ARG;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(probs[i]) || probs[i] < 0.0)
            return SG_ERR_ARG;
    size_t best = sg_argmax(probs, n);
    if (probs[best] <= 0.0)
        return SG_ERR_ARG;
    if (temperature == 0.0) {
        *out = best;
        return SG_OK;
    }
    if (!rng)
        return SG_ERR_ARG;
    *out = sg_sample_scores(probs, n, true, log(probs[best]), temperature, rng);
    return SG_OK;
}
