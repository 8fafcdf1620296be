/* sg_seq2seq.h — the encoder-decoder (sequence to sequence) model, with
 * optional Luong / Bahdanau attention.  Op calls only: BPTT through encoder
 * and decoder comes from the tape.
 *
 * Dimension legend: S source steps, T target steps, B batch, E embedding,
 * H hidden units, N encoder layers, D encoder directions (1 or 2), A the
 * additive attention's size (= H), V vocabulary (shared by both sides).
 *
 *   encoder   x_s = E[src_s]                                  (S, B, E)
 *             o, final = layers(x, mask)                      o (S, B, D*H)
 *             keys k = o (D = 1) or o W_k (D = 2)             (S, B, H)
 *   bridge    h_0 = final top h (D = 1), or [h_fw; h_bw] W_bh (D = 2),
 *             likewise c_0 for cells with c                   (B, H)
 *   decoder   u_t = E[y_{t-1}] (y_0 = <bos>), peeky: [u_t; h_0],
 *             input feeding: [u_t; (h_0); h~_{t-1}] (h~_0 = 0)
 *             h_t = cell(u_t, h_{t-1})                        (B, H)
 *   attention (dot)      a_t = softmax_s(k_s . h_t + m_s)
 *             (general)  a_t = softmax_s(k_s . (h_t W_a) + m_s)
 *             (additive) a_t = softmax_s(v . tanh(k_s W_k' + h_t W_q) + m_s)
 *             m_s = 0 at real source steps, -1e4 at padding (exp gives 0)
 *             ctx_t = sum_s a_t,s k_s;  h~_t = tanh([h_t; ctx_t] W_c)   (B, H)
 *   output    logits_t = z_t W_o + b_o,  z_t = h~_t (attention) or h_t,
 *             peeky: [z_t; h_0]                               (B, V)
 *   loss      cross-entropy of logits_t against y_t, masked: the mean over
 *             the real target tokens ("<eos>" included, padding excluded).
 * Source reversal (Sutskever et al.) reverses each example's real tokens in
 * place, padding staying at the end.
 *
 * Parameter names: "embed" (V, E); "enc.l<l>[_reverse].*" (the cells);
 * "bridge_h.W" (2H, H), "bridge_c.W" (2H, H) (bidirectional); "keys.W" (2H, H)
 * (bidirectional with attention); "dec.*" (the decoder cell, input E, plus H
 * when peeky, plus H with input feeding);
 * "attn.W" (H, H) (general); "attn.Wk" (H, A), "attn.Wq" (H, A), "attn.v" (A, 1)
 * (additive); "attn.combine.W" (2H, H) (any attention); "out.W", "out.b".
 *
 * Ownership: the parameters belong to the set given to sg_seq2seq_init; the
 * model owns its cells and layer lists (sg_seq2seq_free).  Returned tensors
 * belong to g (valid until sg_graph_reset); batches and id arrays are
 * borrowed for the call; names are static strings.
 */
#ifndef SG_SEQ2SEQ_H
#define SG_SEQ2SEQ_H

#include "models/data/sg_pairs.h"
#include "models/nn/sg_nn.h"
#include "models/rnn/sg_seq.h"

typedef enum sg_attention { SG_ATTN_NONE = 0, SG_ATTN_DOT = 1, SG_ATTN_GENERAL = 2, SG_ATTN_ADDITIVE = 3 } sg_attention;

/* "none", "dot", "general", "additive". */
const char *sg_attention_name(sg_attention a);
SG_NODISCARD sg_status sg_attention_parse(const char *name, sg_attention *out);

typedef struct sg_seq2seq_config {
    size_t vocab;       /* V */
    size_t embed;       /* E */
    size_t hidden;      /* H */
    size_t layers;      /* N (encoder) */
    sg_cell_kind kind;  /* encoder and decoder cells */
    sg_activation act;  /* SG_CELL_RNN */
    bool bidirectional; /* D = 2 */
    bool peeky;
    bool reverse_source;
    sg_attention attention;
    bool input_feeding;   /* Luong: h~_{t-1} joins the decoder's input (needs attention) */
    sg_cell_make_fn make; /* kind SG_CELL_CUSTOM: makes every cell (encoder and decoder) */
    void *make_ctx;       /* borrowed: must outlive the model */
} sg_seq2seq_config;

typedef struct sg_seq2seq {
    sg_seq2seq_config cfg;
    sg_embedding embed;
    sg_seq_layers enc;
    sg_linear bridge_h, bridge_c, keys; /* bidirectional only (keys: with attention) */
    sg_cell dec;
    sg_linear attn_W, attn_Wk, attn_Wq, attn_v, combine;
    sg_linear out;
} sg_seq2seq;

/* Adds every parameter to ps (zero-filled).  SG_ERR_ARG for a bad config.
 * On error nothing is left to free.  Pair with sg_seq2seq_free. */
SG_NODISCARD sg_status sg_seq2seq_init(sg_seq2seq *m, sg_params *ps, const sg_seq2seq_config *cfg);
void sg_seq2seq_free(sg_seq2seq *m);
/* Embedding U[-0.1, 0.1), cells PyTorch's rule (forget bias 1), linear
 * layers Glorot with zero biases.  One rng stream, in parameter order. */
SG_NODISCARD sg_status sg_seq2seq_reset_parameters(sg_seq2seq *m, sg_rng *rng);

/* The masked mean cross-entropy of a batch with teacher forcing (scalar), or
 * NULL on error (see g).  Scopes: "enc", "dec" > "t<t>" ("attn" inside). */
sg_tensor *sg_seq2seq_loss(sg_graph *g, const sg_seq2seq *m, const sg_pair_batch *b);

/* Decodes the batch's sources token by token: temperature 0 is greedy (the
 * argmax, rng unused, may be NULL), otherwise each token is drawn from
 * softmax(logits / temperature) with one draw of rng per example and step
 * (models/decode/sg_decode.h).  out (max_len, B) ids, time-major; lens[j] =
 * tokens before "<eos>" (max_len when none came).  attn, when not NULL and
 * the model attends, receives the weights (max_len, B, S).  Runs in no-grad
 * mode on g (reset first).  SG_ERR_ARG for a negative or non-finite
 * temperature or a missing rng; other SG_ERR_* with the message in g. */
SG_NODISCARD sg_status sg_seq2seq_decode(sg_graph *g, const sg_seq2seq *m, const sg_pair_batch *b, size_t max_len,
                                         double temperature, sg_rng *rng, int32_t *out, size_t *lens, double *attn);

/* Beam search for the batch's first example: width k (>= 1), hypotheses
 * ranked by log-probability / length^alpha (length = tokens + the "<eos>";
 * alpha 0: no normalization), a hypothesis ends at "<eos>", the search at
 * k ended ones or max_len steps.  out (max_len) receives the best
 * hypothesis without its "<eos>", *len its length, *score its normalized
 * log-probability.  No-grad on g (reset first).  Width 1 is greedy. */
SG_NODISCARD sg_status sg_seq2seq_beam(sg_graph *g, const sg_seq2seq *m, const sg_pair_batch *b, size_t k, double alpha,
                                       size_t max_len, int32_t *out, size_t *len, double *score);

#endif
