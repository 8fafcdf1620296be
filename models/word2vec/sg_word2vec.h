/* sg_word2vec.h — word2vec with negative sampling (Mikolov et al. 2013),
 * skip-gram and CBOW, from op calls only: a row gather (skip-gram's center),
 * a weighted sum of gathered rows (CBOW's context: gather_sum), dot products
 * of gathered rows (the scores: gather_dot), hadamard, sum, log-sigmoid.  The gradients come from the
 * tape; the embedding tables get row-sparse gradients (graph/core/sg_param.h),
 * so a step costs the rows it touches, not the vocabulary.
 *
 * Dimension legend: V vocabulary, D vector size, N examples in a batch,
 * K negatives per example, C = 2 * window context slots (CBOW).
 *
 *   skip-gram  v_i = W_in[center_i]                               (N, D)
 *   CBOW       v_i = sum_c m_ic W_in[context_ic] / sum_c m_ic      (N, D)
 *   scores     s_ik = W_out[target_ik] . v_i,  k = 0 the positive  (N, K+1)
 *   loss       L = -sum_i [ log sig(s_i0) + sum_{k>=1} log sig(-s_ik) ]
 * CBOW's context vectors: the exact gradient of the mean gives each context
 * word 1/m of the error (m real slots).  word2vec.c and gensim give each
 * the whole error; with cbow_word2vec_update the model does the same, by
 * writing the mean as S + detach(S/m - S), S the sum (the value is the
 * mean, the gradient that of the sum).  That is not the gradient of L,
 * so gradient checks use the exact form.
 * The loss is a sum, not a mean: plain SGD with rate alpha on it is
 * word2vec.c's update (alpha times each example's gradient), applied per
 * batch instead of per example.
 *
 * Parameter names: "w2v.in" (V, D), the word vectors; "w2v.out" (V, D).
 *
 * Ownership: the model's parameters belong to the set given to init; the
 * model owns nothing and needs no free.  sg_word2vec_loss's tensor belongs
 * to g (valid until sg_graph_reset); the batch is borrowed for the call.
 */
#ifndef SG_WORD2VEC_H
#define SG_WORD2VEC_H

#include "graph/core/sg_graph.h"
#include "graph/core/sg_param.h"
#include "models/data/sg_w2v_data.h"

typedef struct sg_word2vec {
    sg_w2v_arch arch;
    size_t V, D, K, window;
    bool cbow_word2vec_update; /* CBOW: each context word gets the whole error (word2vec.c) */
    sg_param *in;              /* (V, D) */
    sg_param *out;             /* (V, D) */
} sg_word2vec;

/* Adds both tables to ps (zero-filled).  SG_ERR_ARG for a size of 0;
 * SG_ERR_NOMEM.  The tables belong to ps. */
SG_NODISCARD sg_status sg_word2vec_init(sg_word2vec *m, sg_params *ps, sg_w2v_arch arch, size_t V, size_t D, size_t K,
                                        size_t window);
/* word2vec.c's start: W_in ~ U[-0.5/D, 0.5/D), W_out = 0. */
void sg_word2vec_reset_parameters(sg_word2vec *m, sg_rng *rng);
/* The summed negative-sampling loss of a batch (scalar), or NULL (see g). */
sg_tensor *sg_word2vec_loss(sg_graph *g, const sg_word2vec *m, const sg_w2v_batch *b);

#endif
