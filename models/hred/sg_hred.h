/* sg_hred.h — hierarchical dialogue models: HRED (Serban et al. 2016), VHRED
 * (Serban et al. 2017), and the seq2seq baseline that sees only the previous
 * utterance, in one model.  Op calls only: BPTT through the utterance
 * encoder, the context RNN and the decoder comes from the tape.
 *
 * Dimension legend: B dialogues, U utterances, L steps, R = U*B utterance
 * rows (row u*B + j, as in models/data/sg_dialog.h), N target rows, E
 * embedding, H hidden units (encoder per direction, decoder), D encoder
 * directions, F = D*H an utterance's vector, C context units, Z latent size,
 * M the prior's and posterior's hidden units, K the decoder's conditioning
 * size (C, plus Z for VHRED; F for the baseline), V vocabulary.
 *
 *   encoder   e_u = final h of enc(E[w_u])   (all R rows in one run; with
 *             two directions [h_fw; h_bw])                         (R, F)
 *   context   c_u = ctx(e_u, c_{u-1})  over u, masked per dialogue   (U, B, C)
 *             baseline ("prev"): no context RNN, c_u = e_u
 *   target u  (u >= 1) is generated from k_u:
 *             HRED   k_u = c_{u-1}
 *             VHRED  prior      [mu_p, lv_p] = MLP_p(c_{u-1})
 *                    posterior  [mu_q, lv_q] = MLP_q([c_{u-1}; e_u])
 *                    MLP(x) = two tanh layers of M units, then linear
 *                    maps to the mean (Z) and the log-variance (Z)
 *                    z_u = mu_q + exp(lv_q / 2) * eps, eps ~ N(0, I) from
 *                    the caller's rng (reparameterization);  k_u = [c_{u-1}; z_u]
 *   decoder   h_0 = tanh(k_u W_init + b_init), c_0 = 0;
 *             input x_t = E[y_{t-1}] (y_0 = "<bos>"), or [E[y_{t-1}]; k_u]
 *             with context_input;  logits_t = h_t W_o + b_o          (N, V)
 *   loss      (CE + w KL) / T: CE the summed cross-entropy of the real
 *             target tokens ("<eos>" included), KL = sum over target
 *             utterances of KL(q || p) (VHRED), T the real target tokens,
 *             w the KL weight (annealing); the ELBO's bound per token is
 *             (CE + KL) / T.
 * The log-variance is a linear map (the reference uses softplus for the
 * variance; the log form cannot reach log 0).
 *
 * Parameter names: "embed" (V, E); "enc.l0[_reverse].*" (the encoder cells);
 * "ctx.*" (the context cell, input F) except for the baseline; "dec.*" (the
 * decoder cell, input E, plus K with context_input); "dec_init.W" (K, H),
 * "dec_init.b"; VHRED: "prior.l1" (C, M), "prior.l2" (M, M), "prior.mu"
 * (M, Z), "prior.lv" (M, Z), "post.l1" (C + F, M), "post.l2", "post.mu",
 * "post.lv" (each .W and .b); "out.W" (H, V), "out.b".
 *
 * Ownership: the parameters belong to the set given to sg_hred_init; the
 * model owns its cells (sg_hred_free).  Returned tensors belong to g (valid
 * until sg_graph_reset); batches are borrowed for the call; names are static
 * strings.
 */
#ifndef SG_HRED_H
#define SG_HRED_H

#include "models/data/sg_dialog.h"
#include "models/nn/sg_nn.h"
#include "models/rnn/sg_seq.h"

typedef enum sg_hred_kind {
    SG_HRED_PREV = 0, /* the seq2seq baseline: the reply from the previous utterance only */
    SG_HRED = 1,
    SG_VHRED = 2
} sg_hred_kind;

/* "prev", "hred", "vhred". */
const char *sg_hred_kind_name(sg_hred_kind k);

typedef struct sg_hred_config {
    sg_hred_kind model;
    size_t vocab, embed, hidden; /* V, E, H */
    size_t context;              /* C (ignored by the baseline) */
    size_t latent, mlp;          /* Z, M (VHRED) */
    sg_cell_kind kind;           /* every recurrent cell */
    bool bidirectional;          /* the utterance encoder, D = 2 */
    bool context_input;          /* k_u joins the decoder's input at every step */
    sg_cell_make_fn make;        /* kind SG_CELL_CUSTOM: makes every cell (a cell file, a plugin) */
    void *make_ctx;              /* borrowed: must outlive the model */
} sg_hred_config;

typedef struct sg_hred {
    sg_hred_config cfg;
    size_t F, K; /* utterance vector and conditioning sizes */
    sg_embedding embed;
    sg_seq_layers enc;
    sg_cell ctx, dec;
    sg_linear dec_init;
    sg_linear prior[4], post[4]; /* l1, l2, mu, lv */
    sg_linear out;
} sg_hred;

/* Adds every parameter to ps (zero-filled).  SG_ERR_ARG for a bad config
 * (a size of 0, a custom cell without make, V < 4).  On error nothing is left to free.
 * Pair with sg_hred_free. */
SG_NODISCARD sg_status sg_hred_init(sg_hred *m, sg_params *ps, const sg_hred_config *cfg);
void sg_hred_free(sg_hred *m);
/* Embedding U[-0.1, 0.1), cells PyTorch's rule (forget bias 1), linear layers
 * Glorot with zero biases; one rng stream in parameter order. */
SG_NODISCARD sg_status sg_hred_reset_parameters(sg_hred *m, sg_rng *rng);

/* One training (or evaluation) pass over utterances [first, end) of a batch. */
typedef struct sg_hred_loss_opts {
    size_t first, end;           /* end 0: every utterance of the batch */
    const double *ctx_h, *ctx_c; /* (B, C) the context state before utterance
                                  * `first` (truncated BPTT), constants; NULL
                                  * = zeros.  Targets are utterances
                                  * [max(first, 1), end); the baseline refuses first > 0 */
    double kl_weight;            /* w; VHRED */
    double word_dropout;         /* in [0, 1): decoder input words become "<unk>" */
    sg_rng *rng;                 /* eps (VHRED) and word dropout; NULL: eps = 0 and no dropout */
} sg_hred_loss_opts;

/* What a pass gives. */
typedef struct sg_hred_terms {
    sg_tensor *loss;   /* scalar: (CE + w KL) / T */
    sg_tensor *ce;     /* scalar: CE */
    sg_tensor *kl;     /* scalar: KL (VHRED), else NULL */
    size_t tokens;     /* T (0: the loss is 0) */
    size_t targets;    /* target utterances */
    sg_cell_state ctx; /* (B, C) the context state after utterance end - 1
                        * (each dialogue's last real one), for the next chunk;
                        * zeroed for the baseline */
} sg_hred_terms;

/* Records the pass on g.  Returns false with the message in g on error (a
 * bad range, a missing state).  Scopes: "enc", "ctx", "vhred", "dec". */
bool sg_hred_loss(sg_graph *g, const sg_hred *m, const sg_dialog_batch *b, const sg_hred_loss_opts *o,
                  sg_hred_terms *out);

/* Replies: for every row r = u*B + j, the reply to utterances 0..u of
 * dialogue j (rows of missing utterances are decoded too, and meaningless).
 * Temperature 0 is greedy, otherwise each token is drawn from softmax(logits
 * / T) (one draw of rng per row and step); "<pad>" and "<bos>" are never
 * chosen.  VHRED draws z from the prior
 * with rng, or takes the prior's mean when rng is NULL.  out (max_len, R)
 * ids, time-major; lens (R) tokens before "<eos>" (max_len when none came).
 * No-grad on g (reset first).  SG_ERR_ARG: a bad temperature, or no rng for
 * T > 0; other errors with the message in g. */
SG_NODISCARD sg_status sg_hred_decode(sg_graph *g, const sg_hred *m, const sg_dialog_batch *b, size_t max_len,
                                      double temperature, sg_rng *rng, int32_t *out, size_t *lens);

#endif
