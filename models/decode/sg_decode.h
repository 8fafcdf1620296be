/* sg_decode.h — choosing the next token from a model's scores: greedy (argmax)
 * and sampling at a temperature.  One place for every decoder (the language
 * model's generator today; seq2seq's greedy, sampled and beam decoding next).
 *
 * Dimension legend: V vocabulary (n scores).  Pure data code: no ops, no graph.
 * Errors: SG_ERR_ARG as documented per function; nothing aborts.
 */
#ifndef SG_DECODE_H
#define SG_DECODE_H

#include "graph/core/sg_rng.h"
#include "graph/core/sg_tensor.h"

#include <stddef.h>

/* Index of the largest of x[0..n-1] (the first one on ties; NaN never wins);
 * SIZE_MAX when n is 0 or every value is NaN. */
size_t sg_argmax(const double *x, size_t n);
/* Draws an id from softmax(logits / temperature) (V = n) with one uniform draw
 * from rng.  temperature == 0 is greedy: the argmax, with no draw.  -inf
 * logits have probability 0; a +inf logit makes the choice greedy.
 * SG_ERR_ARG: n == 0, a NaN logit, every logit -inf, a negative or
 * non-finite temperature, or rng NULL when a draw is needed.  *out untouched on error. */
SG_NODISCARD sg_status sg_sample_logits(const double *logits, size_t n, double temperature, sg_rng *rng, size_t *out);
/* The same from probabilities (need not sum to 1): draws from p^(1/temperature)
 * normalized, i.e. softmax(log(p) / temperature).  SG_ERR_ARG also for a
 * negative or non-finite p, or all p zero. */
SG_NODISCARD sg_status sg_sample_probs(const double *probs, size_t n, double temperature, sg_rng *rng, size_t *out);

#endif
