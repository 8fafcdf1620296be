/* sg_sine.h — the sine-wave prediction task: from the last W values of a sine
 * wave, predict the next one.
 *
 *   y_t = A sin(w t + phase) + noise_t,   t = 0 .. N-1   (noise_t = s z_t,
 *         z_t ~ N(0, 1) from an sg_rng, one sg_rng_normal per point in time order)
 *   window i: inputs  y_i .. y_{i+W-1}  ->  target y_{i+W},   i = 0 .. N-W-1
 *
 * Split by time: windows [0, n_train) are the training set and windows
 * [n_train, N - W) the test set, n_train = floor(train_frac (N - W)).  No test
 * target is a training target; the first test windows read, as context, values
 * that were training targets (forecasting continues the series).
 *
 * A batch of B windows is laid out time-major for an RNN that reads one value
 * per step: inputs x (W, B, 1) with x[w B + b] = y_{i_b + w}, targets (B, 1)
 * with y[b] = y_{i_b + W}.
 *
 * Dimension legend: N points in the series, W window length (time steps), B
 * windows in a batch.  Pure data code: no ops, no graph; the model is built
 * elsewhere.
 */
#ifndef SG_SINE_H
#define SG_SINE_H

#include "graph/core/sg_rng.h"
#include "graph/core/sg_tensor.h"

#include <stddef.h>

typedef struct sg_sine_opts {
    size_t n_points;   /* N */
    size_t window;     /* W */
    double omega;      /* w, radians per step */
    double phase;      /* radians */
    double amplitude;  /* A */
    double noise_std;  /* s; 0 = no noise (no draws) */
    double train_frac; /* in [0, 1] */
} sg_sine_opts;

/* N = 1000, W = 20, w = 0.1, phase 0, A = 1, no noise, train_frac 0.8. */
sg_sine_opts sg_sine_defaults(void);

typedef struct sg_sine {
    double *series;   /* (N) owned (sg_malloc) */
    size_t n_points;  /* N */
    size_t window;    /* W */
    size_t n_windows; /* N - W */
    size_t n_train;   /* windows [0, n_train) train, [n_train, n_windows) test */
} sg_sine;

typedef enum sg_sine_split { SG_SINE_TRAIN = 0, SG_SINE_TEST = 1 } sg_sine_split;

/* Generates the series.  rng supplies the noise and may be NULL when
 * noise_std is 0.  On success s owns the series (sg_sine_free); on error s is
 * zeroed.  SG_ERR_ARG (message in err): W = 0, N <= W, a non-finite parameter,
 * negative noise, train_frac outside [0, 1], noise without an rng;
 * SG_ERR_NOMEM. */
SG_NODISCARD sg_status sg_sine_init(sg_sine *s, const sg_sine_opts *o, sg_rng *rng, char *err, size_t errcap);
/* Frees the series s owns and zeroes s.  NULL is a no-op. */
void sg_sine_free(sg_sine *s);

/* Number of windows in a split. */
size_t sg_sine_split_size(const sg_sine *s, sg_sine_split split);
/* Global index of window j of a split (j < sg_sine_split_size). */
size_t sg_sine_split_window(const sg_sine *s, sg_sine_split split, size_t j);

/* Fills x (W, B, 1) and y (B, 1), caller buffers, with the windows idx[0..B-1]
 * (global window indices, each < n_windows).  SG_ERR_INDEX (nothing written)
 * if an index is out of range.  The f64 form is for f64 graphs. */
SG_NODISCARD sg_status sg_sine_fill_f32(const sg_sine *s, const size_t *idx, size_t B, float *x, float *y);
SG_NODISCARD sg_status sg_sine_fill_f64(const sg_sine *s, const size_t *idx, size_t B, double *x, double *y);

/* Batch k of a split in time order: windows k B .. k B + B_k - 1 of the split,
 * B_k = min(B, size - k B), into x (W, B_k, 1) and y (B_k, 1) (packed with
 * B_k).  Returns B_k; 0 when k is past the end or B is 0 (nothing written).
 * Number of batches: ceil(size / B). */
size_t sg_sine_batch_f32(const sg_sine *s, sg_sine_split split, size_t k, size_t B, float *x, float *y);

#endif
