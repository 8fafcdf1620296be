/* sg_sine.c — the sine-wave prediction task (see sg_sine.h).
 * Dimension legend: N points, W window length, B windows per batch.
 * Pure data code: no ops, no graph. */
#include "models/data/sg_sine_data.h"

#include "graph/core/sg_alloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

sg_sine_opts sg_sine_defaults(void)
{
    sg_sine_opts o;
    memset(&o, 0, sizeof o);
    o.n_points = 1000;
    o.window = 20;
    o.omega = 0.1;
    o.phase = 0.0;
    o.amplitude = 1.0;
    o.noise_std = 0.0;
    o.train_frac = 0.8;
    return o;
}

sg_status sg_sine_init(sg_sine *s, const sg_sine_opts *o, sg_rng *rng, char *err, size_t errcap)
{
    if (!s || !o)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_sine_init: %s is NULL", s ? "opts" : "s");
    memset(s, 0, sizeof *s);
    if (o->window == 0 || o->n_points <= o->window)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sine series: need W >= 1 and N > W (got N = %zu, W = %zu)",
                               o->n_points, o->window);
    if (!isfinite(o->omega) || !isfinite(o->phase) || !isfinite(o->amplitude) || !isfinite(o->noise_std) ||
        o->noise_std < 0.0)
        return sg_error_format(err, errcap, SG_ERR_ARG,
                               "sine series: omega, phase, amplitude must be finite and noise_std finite and >= 0 "
                               "(got %g, %g, %g, %g)",
                               o->omega, o->phase, o->amplitude, o->noise_std);
    if (!(o->train_frac >= 0.0 && o->train_frac <= 1.0))
        return sg_error_format(err, errcap, SG_ERR_ARG, "sine series: train_frac must be in [0, 1] (got %g)",
                               o->train_frac);
    if (o->noise_std > 0.0 && !rng)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sine series: noise_std %g needs an rng", o->noise_std);
    double *y = sg_malloc(o->n_points * sizeof *y); /* (N) */
    if (!y)
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "out of memory for a sine series of %zu points", o->n_points);
    for (size_t t = 0; t < o->n_points; t++) {
        y[t] = o->amplitude * sin(o->omega * (double)t + o->phase);
        if (o->noise_std > 0.0)
            y[t] += o->noise_std * sg_rng_normal(rng);
    }
    s->series = y;
    s->n_points = o->n_points;
    s->window = o->window;
    s->n_windows = o->n_points - o->window;
    s->n_train = (size_t)floor(o->train_frac * (double)s->n_windows);
    if (s->n_train > s->n_windows)
        s->n_train = s->n_windows;
    if (err && errcap)
        err[0] = '\0';
    return SG_OK;
}

void sg_sine_free(sg_sine *s)
{
    if (!s)
        return;
    sg_free(s->series);
    memset(s, 0, sizeof *s);
}

size_t sg_sine_split_size(const sg_sine *s, sg_sine_split split)
{
    if (!s)
        return 0;
    return split == SG_SINE_TRAIN ? s->n_train : s->n_windows - s->n_train;
}

size_t sg_sine_split_window(const sg_sine *s, sg_sine_split split, size_t j)
{
    return split == SG_SINE_TRAIN ? j : s->n_train + j;
}

static bool sg_sine_idx_ok(const sg_sine *s, const size_t *idx, size_t B)
{
    if (!s || !s->series || (B && !idx))
        return false;
    for (size_t b = 0; b < B; b++)
        if (idx[b] >= s->n_windows)
            return false;
    return true;
}

sg_status sg_sine_fill_f32(const sg_sine *s, const size_t *idx, size_t B, float *x, float *y)
{
    if (!sg_sine_idx_ok(s, idx, B))
        return SG_ERR_INDEX;
    size_t W = s->window;
    for (size_t b = 0; b < B; b++) {
        const double *src = s->series + idx[b];
        for (size_t w = 0; w < W; w++)
            x[w * B + b] = (float)src[w];
        y[b] = (float)src[W];
    }
    return SG_OK;
}

sg_status sg_sine_fill_f64(const sg_sine *s, const size_t *idx, size_t B, double *x, double *y)
{
    if (!sg_sine_idx_ok(s, idx, B))
        return SG_ERR_INDEX;
    size_t W = s->window;
    for (size_t b = 0; b < B; b++) {
        const double *src = s->series + idx[b];
        for (size_t w = 0; w < W; w++)
            x[w * B + b] = src[w];
        y[b] = src[W];
    }
    return SG_OK;
}

size_t sg_sine_batch_f32(const sg_sine *s, sg_sine_split split, size_t k, size_t B, float *x, float *y)
{
    size_t size = sg_sine_split_size(s, split);
    if (!s || B == 0 || k >= size / B + (size % B != 0))
        return 0;
    size_t first = k * B, Bk = size - first < B ? size - first : B, W = s->window;
    size_t start = sg_sine_split_window(s, split, first);
    for (size_t b = 0; b < Bk; b++) {
        const double *src = s->series + start + b;
        for (size_t w = 0; w < W; w++)
            x[w * Bk + b] = (float)src[w];
        y[b] = (float)src[W];
    }
    return Bk;
}
