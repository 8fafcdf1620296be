/* sg_seq2seq.c — encoder, bridge, decoder step with attention, the masked
 * teacher-forced loss and greedy decoding (see sg_seq2seq.h for the
 * equations and the dimension legend).  Op calls only; the host code here
 * only arranges ids and masks (data), never gradients. */
#include "models/seq2seq/sg_seq2seq.h"

#include "graph/core/sg_init.h"
#include "models/decode/sg_decode.h"
#include "ops/sg_ops.h"

#include <math.h>
#include <string.h>

/* The score added at padded source steps.  exp(-1e4) is 0 in f32 and f64
 * alike, so padding gets no weight while real scores stay below 1e4 in size
 * (they are products of bounded states); a larger constant would drown the
 * per-op gradient check's differences in rounding. */
#define SG_S2S_MASKED 1e4

static const char *const sg_attention_names[] = {"none", "dot", "general", "additive"};

const char *sg_attention_name(sg_attention a) { return (unsigned)a < 4 ? sg_attention_names[a] : "?"; }

sg_status sg_attention_parse(const char *name, sg_attention *out)
{
    for (int i = 0; name && i < 4; i++)
        if (strcmp(name, sg_attention_names[i]) == 0) {
            *out = (sg_attention)i;
            return SG_OK;
        }
    return SG_ERR_ARG;
}

/* ---- making it -------------------------------------------------------------- */

void sg_seq2seq_free(sg_seq2seq *m)
{
    if (!m)
        return;
    sg_seq_layers_free(&m->enc);
    sg_cell_free(&m->dec);
    memset(m, 0, sizeof *m);
}

sg_status sg_seq2seq_init(sg_seq2seq *m, sg_params *ps, const sg_seq2seq_config *cfg)
{
    if (!m || !ps || !cfg)
        return SG_ERR_ARG;
    memset(m, 0, sizeof *m);
    const size_t V = cfg->vocab, E = cfg->embed, H = cfg->hidden;
    if (V < 4 || !E || !H || !cfg->layers || (unsigned)cfg->attention > SG_ATTN_ADDITIVE ||
        (cfg->kind == SG_CELL_CUSTOM && !cfg->make) || (cfg->input_feeding && cfg->attention == SG_ATTN_NONE))
        return SG_ERR_ARG;
    m->cfg = *cfg;
    const bool attn = cfg->attention != SG_ATTN_NONE, bi = cfg->bidirectional;
    sg_seq_config sc = {.kind = cfg->kind,
                        .act = cfg->act,
                        .input = E,
                        .hidden = H,
                        .layers = cfg->layers,
                        .bidirectional = bi,
                        .make = cfg->make,
                        .make_ctx = cfg->make_ctx};
    sg_status st = sg_embedding_init(&m->embed, ps, "embed", V, E);
    if (!st)
        st = sg_seq_layers_init(&m->enc, ps, "enc", &sc);
    if (!st && bi) {
        st = sg_linear_init(&m->bridge_h, ps, "bridge_h", 2 * H, H, false);
        if (!st && m->enc.cells[0].has_c)
            st = sg_linear_init(&m->bridge_c, ps, "bridge_c", 2 * H, H, false);
        if (!st && attn)
            st = sg_linear_init(&m->keys, ps, "keys", 2 * H, H, false);
    }
    if (!st) {
        const size_t in = E + (cfg->peeky ? H : 0) + (cfg->input_feeding ? H : 0);
        st = sg_cell_init_made(&m->dec, ps, "dec", cfg->kind, cfg->act, cfg->make, cfg->make_ctx, in, H);
    }
    if (!st && cfg->attention == SG_ATTN_GENERAL)
        st = sg_linear_init(&m->attn_W, ps, "attn.W", H, H, false);
    if (!st && cfg->attention == SG_ATTN_ADDITIVE) {
        st = sg_linear_init(&m->attn_Wk, ps, "attn.Wk", H, H, false);
        if (!st)
            st = sg_linear_init(&m->attn_Wq, ps, "attn.Wq", H, H, true);
        if (!st)
            st = sg_linear_init(&m->attn_v, ps, "attn.v", H, 1, false);
    }
    if (!st && attn)
        st = sg_linear_init(&m->combine, ps, "attn.combine", 2 * H, H, false);
    if (!st)
        st = sg_linear_init(&m->out, ps, "out", H + (cfg->peeky ? H : 0), V, true);
    if (st)
        sg_seq2seq_free(m);
    return st;
}

sg_status sg_seq2seq_reset_parameters(sg_seq2seq *m, sg_rng *rng)
{
    sg_cell_init_opts co = sg_cell_init_defaults();
    sg_status st = sg_init_uniform(m->embed.E, rng, -0.1, 0.1);
    if (!st)
        st = sg_seq_layers_reset_parameters(&m->enc, rng, &co);
    sg_linear *lin[] = {&m->bridge_h, &m->bridge_c, &m->keys,   &m->attn_W,
                        &m->attn_Wk,  &m->attn_Wq,  &m->attn_v, &m->combine};
    for (size_t i = 0; !st && i < sizeof lin / sizeof lin[0]; i++)
        if (lin[i]->W)
            st = sg_linear_reset_xavier(lin[i], rng, 0.0);
    if (!st)
        st = sg_cell_reset_parameters(&m->dec, rng, &co);
    if (!st)
        st = sg_linear_reset_xavier(&m->out, rng, 0.0);
    return st;
}

/* ---- the encoder ---------------------------------------------------------- */

typedef struct sg_s2s_enc {
    size_t S, B;
    sg_tensor *keys_t;   /* (B, H, S) */
    sg_tensor *values;   /* (B, S, H) */
    sg_tensor *keys_add; /* (B, S, A): additive attention's projected keys */
    sg_tensor *bias;     /* (B, S): 0 at real source steps, -1e4 at padding */
    sg_cell_state init;  /* the decoder's first state */
    sg_tensor *h0;       /* (B, H): the encoder's summary, fed everywhere when peeky */
    /* The decoder's input projection [token; h0 if peeky; h~ if input feeding]
     * W_x + b_x taken apart by rows, when its cell has one (G > 0), so that the
     * part that is the same at every step, h0, is multiplied once per batch: */
    sg_tensor *dec_w_tok;  /* (E, G*H) the token's rows of W_x */
    sg_tensor *dec_w_feed; /* (H, G*H) h~'s rows, input feeding only */
    sg_tensor *dec_const;  /* (B, G*H) h0 W_x[h0's rows] + b_x when peeky, else b_x (G*H) */
    /* and the output layer [h~; h0] W + b of a peeky decoder the same way: */
    sg_tensor *out_w_z;   /* (H, V) h~'s rows of W */
    sg_tensor *out_const; /* (B, V) h0 W[h0's rows] + b */
} sg_s2s_enc;

/* (S, B, F) -> (B, F, S), by reshape and transpose (ops only); S = 1 is a
 * reshape alone (the same memory order). */
static sg_tensor *sg_s2s_batch_major_t(sg_graph *g, sg_tensor *x, size_t S, size_t B, size_t F)
{
    if (S == 1)
        return sg_reshape(g, x, SG_SHAPE(B, F, 1));
    sg_tensor *flat = sg_reshape(g, x, SG_SHAPE(S, B * F));
    return sg_reshape(g, sg_transpose(g, flat), SG_SHAPE(B, F, S));
}

/* The inverse: (B, F, S) -> (S * B, F). */
static sg_tensor *sg_s2s_time_major(sg_graph *g, sg_tensor *x, size_t S, size_t B, size_t F)
{
    if (S == 1)
        return sg_reshape(g, x, SG_SHAPE(B, F));
    sg_tensor *flat = sg_reshape(g, x, SG_SHAPE(B * F, S));
    return sg_reshape(g, sg_transpose(g, flat), SG_SHAPE(S * B, F));
}

/* Takes the decoder's input projection and, when peeky, its output layer
 * apart by the rows of their inputs' parts (the fields of sg_s2s_enc), after
 * sg_s2s_encode and before the decoder's first step.  An op that fails leaves
 * the graph in error, which the steps then return. */
static void sg_s2s_split(sg_graph *g, const sg_seq2seq *m, sg_s2s_enc *enc)
{
    const size_t E = m->cfg.embed, H = m->cfg.hidden;
    if (m->dec.gates > 0) {
        sg_tensor *W = sg_param_use(g, m->dec.W_x), *b = sg_param_use(g, m->dec.b_x); /* (I, G*H), (G*H) */
        enc->dec_w_tok = m->dec.input == E ? W : sg_slice(g, W, 0, 0, E);
        size_t row = E;
        enc->dec_const = b;
        if (m->cfg.peeky) {
            enc->dec_const = sg_addmm(g, enc->h0, sg_slice(g, W, 0, row, H), b, false); /* (B, G*H) */
            row += H;
        }
        if (m->cfg.input_feeding)
            enc->dec_w_feed = sg_slice(g, W, 0, row, H);
    }
    if (m->cfg.peeky) {
        sg_tensor *W = sg_param_use(g, m->out.W), *b = sg_param_use(g, m->out.b); /* (2H, V), (V) */
        enc->out_w_z = sg_slice(g, W, 0, 0, H);
        enc->out_const = sg_addmm(g, enc->h0, sg_slice(g, W, 0, H, H), b, false); /* (B, V) */
    }
}

static bool sg_s2s_encode(sg_graph *g, const sg_seq2seq *m, const sg_pair_batch *b, sg_s2s_enc *enc)
{
    const size_t S = b->src_steps, B = b->batch, H = m->cfg.hidden, D = m->enc.n_dirs, N = m->enc.n_layers;
    memset(enc, 0, sizeof *enc);
    enc->S = S;
    enc->B = B;
    /* ids (data): each example's real tokens reversed in place when asked */
    int32_t *ids = sg_graph_alloc(g, S * B * sizeof *ids);
    double *bias = sg_graph_alloc(g, S * B * sizeof *bias);
    sg_cell_state *final = sg_graph_alloc(g, N * D * sizeof *final);
    size_t *lengths = sg_graph_alloc(g, B * sizeof *lengths); /* (B) real source steps */
    if (!ids || !bias || !final || !lengths)
        return false;
    if (!sg_seq_lengths_from_mask(b->src_mask, S, B, lengths)) {
        sg_graph_fail(g, SG_ERR_ARG,
                      "seq2seq: the source mask must be 1 at real tokens then 0 at padding, in each of "
                      "the %zu columns",
                      B);
        return false;
    }
    for (size_t j = 0; j < B; j++) {
        const size_t len = lengths[j];
        for (size_t t = 0; t < S; t++) {
            size_t from = m->cfg.reverse_source && t < len ? len - 1 - t : t;
            ids[t * B + j] = b->src[from * B + j];
            bias[j * S + t] = t < len ? 0.0 : -SG_S2S_MASKED;
        }
    }
    sg_scope_push(g, "enc");
    sg_tensor *x = sg_embedding_lookup(g, &m->embed, SG_SHAPE(S, B), ids); /* (S, B, E) */
    sg_seq_opts so = sg_seq_opts_defaults();
    so.lengths = lengths;                                            /* packed: padding costs no steps */
    sg_tensor *o = sg_seq_layers_forward(g, &m->enc, x, &so, final); /* (S, B, D*H) */
    const sg_cell_state *fw = &final[(N - 1) * D], *bw = D == 2 ? &final[(N - 1) * D + 1] : NULL;
    if (o && bw) {
        sg_tensor *hh[2] = {fw->h, bw->h};
        enc->init.h = sg_linear_forward(g, &m->bridge_h, sg_concat(g, hh, 2, 1));
        if (fw->c) {
            sg_tensor *cc[2] = {fw->c, bw->c};
            enc->init.c = sg_linear_forward(g, &m->bridge_c, sg_concat(g, cc, 2, 1));
        }
    } else if (o) {
        enc->init.h = fw->h;
        enc->init.c = fw->c;
    }
    enc->h0 = enc->init.h;
    if (o && m->cfg.attention != SG_ATTN_NONE) {
        sg_tensor *k = D == 2 ? sg_linear_forward(g, &m->keys, o) : o; /* (S, B, H) */
        enc->keys_t = sg_s2s_batch_major_t(g, k, S, B, H);             /* (B, H, S) */
        enc->values = sg_transpose(g, enc->keys_t);                    /* (B, S, H) */
        if (m->cfg.attention == SG_ATTN_ADDITIVE) {
            sg_tensor *kp = sg_linear_forward(g, &m->attn_Wk, k); /* (S, B, A) */
            enc->keys_add = sg_transpose(g, sg_s2s_batch_major_t(g, kp, S, B, H));
        }
        enc->bias = sg_input_f64(g, "src_bias", SG_SHAPE(B, S), bias, false);
    }
    sg_scope_pop(g);
    return enc->init.h != NULL && sg_graph_status(g) == SG_OK;
}

/* ---- one decoder step -------------------------------------------------------- */

/* What the decoder carries from step to step: the cell's state and, with
 * input feeding, the last attentional state h~ (zeros before the first step). */
typedef struct sg_s2s_dec {
    sg_cell_state cell; /* h, c (B, H) */
    sg_tensor *feed;    /* (B, H) or NULL */
} sg_s2s_dec;

static bool sg_s2s_dec_start(sg_graph *g, const sg_seq2seq *m, const sg_s2s_enc *enc, sg_s2s_dec *d)
{
    d->cell = enc->init;
    d->feed = NULL;
    if (!m->cfg.input_feeding)
        return true;
    d->feed = sg_const_fill(g, "feed0", SG_SHAPE(enc->B, m->cfg.hidden), 0.0);
    return d->feed != NULL;
}

/* The decoder's projected input (G > 0) for the token embeddings e, one step
 * (B, E) or T steps (T, B, E), and with input feeding the fed h~ (B, H) of
 * one step: e W_tok [+ feed W_feed] + (h0 W_h0 + b_x, or b_x), shaped
 * (B, G*H) or (T, B, G*H). */
static sg_tensor *sg_s2s_dec_project(sg_graph *g, const sg_s2s_enc *enc, sg_tensor *e, sg_tensor *feed)
{
    sg_tensor *p = enc->dec_const && enc->dec_const->shape.ndim == 1
                       ? sg_addmm(g, e, enc->dec_w_tok, enc->dec_const, false)
                       : sg_add(g, sg_matmul(g, e, enc->dec_w_tok), enc->dec_const);
    return feed ? sg_add(g, p, sg_matmul(g, feed, enc->dec_w_feed)) : p;
}

/* The decoder's cell on the ids (B), or on their projection p (B, G*H) when
 * the caller made it already (then ids is not read), from *state: *state
 * becomes the new state and its h (B, H) is returned. */
static sg_tensor *sg_s2s_cell(sg_graph *g, const sg_seq2seq *m, const sg_s2s_enc *enc, const int32_t *ids, sg_tensor *p,
                              sg_s2s_dec *state)
{
    sg_cell_state next = {0};
    if (m->dec.gates > 0) {
        if (!p)
            p = sg_s2s_dec_project(g, enc, sg_embedding_lookup(g, &m->embed, SG_SHAPE(enc->B), ids),
                                   m->cfg.input_feeding ? state->feed : NULL); /* (B, G*H) */
        if (!p || !sg_cell_step_projected(g, &m->dec, p, &state->cell, &next))
            return NULL;
    } else { /* a cell without a projection gets the joined input */
        sg_tensor *parts[3] = {sg_embedding_lookup(g, &m->embed, SG_SHAPE(enc->B), ids)}; /* (B, E) */
        size_t n_parts = 1;
        if (m->cfg.peeky)
            parts[n_parts++] = enc->h0;
        if (m->cfg.input_feeding)
            parts[n_parts++] = state->feed;
        sg_tensor *u = n_parts > 1 ? sg_concat(g, parts, n_parts, 1) : parts[0];
        if (!u || !sg_cell_step(g, &m->dec, u, &state->cell, &next))
            return NULL;
    }
    state->cell = (sg_cell_state){.h = next.h, .c = next.c};
    return next.h;
}

/* Everything after the cell, for the decoder states z (T*B, H) of T steps
 * at once (rows t*B + j): attention over the source, Luong's attentional
 * state h~ = tanh(W_c [z; ctx]), the peeky join and the output layer; the
 * logits (T*B, V) are returned, h~ in *feed and, with attention, the weights
 * (B, S, T) in *weights.  Each row depends on its own step's z alone, so T
 * steps at once are T single steps: scores (B, S, T) = values (B, S, H) x
 * q^T (B, H, T) and contexts (B, H, T) = keys^T (B, H, S) x a (B, S, T), one
 * batch of products instead of T.  Additive attention takes T = 1. */
static sg_tensor *sg_s2s_head(sg_graph *g, const sg_seq2seq *m, const sg_s2s_enc *enc, sg_tensor *z, size_t T,
                              sg_tensor **feed, sg_tensor **weights)
{
    const size_t B = enc->B, S = enc->S, H = m->cfg.hidden;
    if (m->cfg.attention != SG_ATTN_NONE) {
        sg_scope_push(g, "attn");
        sg_tensor *s; /* (B, S, T) */
        if (m->cfg.attention == SG_ATTN_ADDITIVE) {
            sg_tensor *q = sg_reshape(g, sg_linear_forward(g, &m->attn_Wq, z), SG_SHAPE(B, 1, H));
            sg_tensor *e = sg_tanh(g, sg_add(g, enc->keys_add, q)); /* (B, S, A) */
            s = sg_reshape(g, sg_linear_forward(g, &m->attn_v, e), SG_SHAPE(B, S, 1));
        } else {
            sg_tensor *q = m->cfg.attention == SG_ATTN_GENERAL ? sg_linear_forward(g, &m->attn_W, z) : z;
            s = sg_matmul(g, enc->values, sg_s2s_batch_major_t(g, q, T, B, H));
        }
        sg_tensor *a = sg_softmax(g, sg_add(g, s, sg_reshape(g, enc->bias, SG_SHAPE(B, S, 1))), 1); /* over S */
        sg_tensor *ctx = sg_s2s_time_major(g, sg_matmul(g, enc->keys_t, a), T, B, H);               /* (T*B, H) */
        sg_tensor *hc[2] = {z, ctx};
        z = sg_tanh(g, sg_linear_forward(g, &m->combine, sg_concat(g, hc, 2, 1))); /* h~ (T*B, H) */
        if (weights)
            *weights = a;
        sg_scope_pop(g);
    }
    if (feed)
        *feed = z;
    if (m->cfg.peeky) { /* [h~; h0] W + b = h~ W_z + (h0 W_h0 + b), the second once per batch */
        sg_tensor *y = sg_matmul(g, sg_reshape(g, z, SG_SHAPE(T, B, H)), enc->out_w_z); /* (T, B, V) */
        return sg_reshape(g, sg_add(g, y, enc->out_const), SG_SHAPE(T * B, m->cfg.vocab));
    }
    return sg_linear_forward(g, &m->out, z);
}

/* One decoder step: feeds the ids (B) from *state; on return *state is the
 * new state, the logits (B, V) are returned and, with attention, *weights
 * (B, S). */
static sg_tensor *sg_s2s_step(sg_graph *g, const sg_seq2seq *m, const sg_s2s_enc *enc, const int32_t *ids,
                              sg_s2s_dec *state, sg_tensor **weights)
{
    sg_tensor *z = sg_s2s_cell(g, m, enc, ids, NULL, state), *w = NULL;
    if (!z)
        return NULL;
    sg_tensor *logits = sg_s2s_head(g, m, enc, z, 1, m->cfg.input_feeding ? &state->feed : NULL, &w);
    if (weights && w)
        *weights = sg_reshape(g, w, SG_SHAPE(enc->B, enc->S));
    return logits;
}

/* ---- training loss --------------------------------------------------------- */

sg_tensor *sg_seq2seq_loss(sg_graph *g, const sg_seq2seq *m, const sg_pair_batch *b)
{
    const size_t T = b->tgt_steps, B = b->batch;
    sg_s2s_enc enc;
    if (!sg_s2s_encode(g, m, b, &enc))
        return NULL;
    /* Without input feeding no step reads the step before it past the cell,
     * so the cell runs step by step and the head once over all T steps. */
    const bool at_once = !m->cfg.input_feeding && m->cfg.attention != SG_ATTN_ADDITIVE;
    sg_tensor **outs = sg_graph_alloc(g, T * sizeof *outs); /* step t's h (B, H), or its logits (B, V) */
    int32_t *y = sg_graph_alloc(g, T * B * sizeof *y);
    if (!outs || !y)
        return NULL;
    sg_s2s_dec state;
    if (!sg_s2s_dec_start(g, m, &enc, &state))
        return NULL;
    for (size_t i = 0; i < T * B; i++) /* padding is no target */
        y[i] = b->tgt_mask[i] > 0 ? b->dec_out[i] : -1;
    sg_scope_push(g, "dec");
    sg_s2s_split(g, m, &enc); /* in the decoder's scope, before its first step */
    /* with teacher forcing and no input feeding the cell's inputs are known
     * before the loop: their projections, one product for all T steps */
    const bool projected = at_once && m->dec.gates > 0;
    sg_tensor *P = NULL; /* (T*B, G*H) */
    if (projected) {
        sg_tensor *e = sg_embedding_lookup(g, &m->embed, SG_SHAPE(T, B), b->dec_in); /* (T, B, E) */
        P = sg_reshape(g, sg_s2s_dec_project(g, &enc, e, NULL), SG_SHAPE(T * B, m->dec.gates * m->cfg.hidden));
    }
    for (size_t t = 0; t < T; t++) {
        sg_scope_push(g, "t%zu", t);
        outs[t] = at_once ? sg_s2s_cell(g, m, &enc, b->dec_in + t * B, P ? sg_slice(g, P, 0, t * B, B) : NULL, &state)
                          : sg_s2s_step(g, m, &enc, b->dec_in + t * B, &state, NULL);
        sg_scope_pop(g);
        if (!outs[t]) {
            sg_scope_pop(g);
            return NULL;
        }
    }
    sg_tensor *all = sg_concat(g, outs, T, 0); /* (T*B, H) or (T*B, V) */
    if (at_once)
        all = sg_s2s_head(g, m, &enc, all, T, NULL, NULL); /* (T*B, V) */
    sg_scope_pop(g);
    return sg_loss_cross_entropy(g, all, sg_ids(g, "y", SG_SHAPE(T * B), y), NULL, SG_REDUCE_MEAN);
}

/* ---- greedy and sampled decoding ---------------------------------------------- */

sg_status sg_seq2seq_decode(sg_graph *g, const sg_seq2seq *m, const sg_pair_batch *b, size_t max_len,
                            double temperature, sg_rng *rng, int32_t *out, size_t *lens, double *attn)
{
    const size_t B = b->batch, V = m->cfg.vocab;
    if (!(temperature >= 0) || !isfinite(temperature) || (temperature > 0 && !rng))
        return SG_ERR_ARG;
    bool was = sg_graph_grad_enabled(g);
    sg_graph_reset(g);
    sg_graph_set_grad_enabled(g, false);
    sg_s2s_enc enc;
    sg_s2s_dec state;
    sg_status st = SG_OK;
    int32_t *cur = sg_graph_alloc(g, B * sizeof *cur);
    double *row = sg_graph_alloc(g, B * V * sizeof *row);
    bool *done = sg_graph_alloc(g, B * sizeof *done);
    if (!cur || !row || !done || !sg_s2s_encode(g, m, b, &enc) || !sg_s2s_dec_start(g, m, &enc, &state)) {
        st = sg_graph_status(g) ? sg_graph_status(g) : SG_ERR_NOMEM;
        sg_graph_set_grad_enabled(g, was);
        return st;
    }
    for (size_t j = 0; j < B; j++) {
        cur[j] = SG_PAIRS_BOS_ID;
        done[j] = false;
        lens[j] = max_len;
    }
    sg_scope_push(g, "dec");
    sg_s2s_split(g, m, &enc); /* in the decoder's scope, before its first step */
    for (size_t t = 0; t < max_len && !st; t++) {
        sg_tensor *w = NULL;
        sg_scope_push(g, "t%zu", t);
        sg_tensor *logits = sg_s2s_step(g, m, &enc, cur, &state, attn ? &w : NULL);
        sg_scope_pop(g);
        if (!logits) {
            st = sg_graph_status(g);
            break;
        }
        sg_tensor_copy_out_f64(logits, row);
        for (size_t j = 0; j < B && !st; j++) {
            size_t next = 0;
            if (sg_sample_logits(row + j * V, V, temperature, rng, &next) != SG_OK)
                st = sg_graph_fail(g, SG_ERR_NONFINITE, "decoding step %zu, example %zu: the scores are not finite", t,
                                   j);
            cur[j] = (int32_t)next;
            out[t * B + j] = (int32_t)next;
            if (!done[j] && next == SG_PAIRS_EOS_ID) {
                done[j] = true;
                lens[j] = t;
            }
        }
        if (attn && w)
            sg_tensor_copy_out_f64(w, attn + t * B * enc.S);
    }
    sg_scope_pop(g);
    sg_graph_set_grad_enabled(g, was);
    return st;
}

/* ---- beam search ------------------------------------------------------------ */

sg_status sg_seq2seq_beam(sg_graph *g, const sg_seq2seq *m, const sg_pair_batch *b, size_t k, double alpha,
                          size_t max_len, int32_t *out, size_t *len, double *score)
{
    const size_t S = b->src_steps, V = m->cfg.vocab;
    if (!k || !max_len || !b->batch)
        return SG_ERR_ARG;
    bool was = sg_graph_grad_enabled(g);
    sg_graph_reset(g);
    sg_graph_set_grad_enabled(g, false);
    /* k copies of the first source (data) */
    int32_t *src = sg_graph_alloc(g, S * k * sizeof *src);
    double *mask = sg_graph_alloc(g, S * k * sizeof *mask);
    double *lp = sg_graph_alloc(g, k * V * sizeof *lp), *beam = sg_graph_alloc(g, k * sizeof *beam);
    double *cand = sg_graph_alloc(g, k * sizeof *cand);
    int32_t *cur = sg_graph_alloc(g, k * sizeof *cur), *parent = sg_graph_alloc(g, k * sizeof *parent);
    int32_t *hist = sg_graph_alloc(g, max_len * k * sizeof *hist),
            *next_hist = sg_graph_alloc(g, max_len * k * sizeof *hist);
    size_t *cand_i = sg_graph_alloc(g, k * sizeof *cand_i);
    int32_t *cand_v = sg_graph_alloc(g, k * sizeof *cand_v);
    sg_status st = SG_OK;
    if (!src || !mask || !lp || !beam || !cand || !cur || !parent || !hist || !next_hist || !cand_i || !cand_v) {
        st = sg_graph_status(g) ? sg_graph_status(g) : SG_ERR_NOMEM;
        goto done;
    }
    for (size_t t = 0; t < S; t++)
        for (size_t i = 0; i < k; i++) {
            src[t * k + i] = b->src[t * b->batch];
            mask[t * k + i] = b->src_mask[t * b->batch];
        }
    sg_pair_batch bk = {.batch = k, .src_steps = S, .src = src, .src_mask = mask};
    sg_s2s_enc enc;
    if (!sg_s2s_encode(g, m, &bk, &enc)) {
        st = sg_graph_status(g);
        goto done;
    }
    for (size_t i = 0; i < k; i++) {
        cur[i] = SG_PAIRS_BOS_ID;
        beam[i] = i == 0 ? 0.0 : -INFINITY; /* one live hypothesis at the start */
    }
    double best = -INFINITY;
    size_t n_done = 0;
    *len = 0;
    sg_s2s_dec state;
    if (!sg_s2s_dec_start(g, m, &enc, &state)) {
        st = sg_graph_status(g) ? sg_graph_status(g) : SG_ERR_NOMEM;
        goto done;
    }
    sg_scope_push(g, "dec");
    sg_s2s_split(g, m, &enc); /* in the decoder's scope, before its first step */
    for (size_t t = 0; t < max_len && n_done < k; t++) {
        sg_scope_push(g, "t%zu", t);
        sg_tensor *logits = sg_s2s_step(g, m, &enc, cur, &state, NULL);
        sg_scope_pop(g);
        if (!logits) {
            st = sg_graph_status(g);
            break;
        }
        sg_tensor_copy_out_f64(logits, lp);
        for (size_t i = 0; i < k; i++) { /* log-softmax per row, on the host: scores, not gradients */
            double mx = -INFINITY, z = 0;
            for (size_t v = 0; v < V; v++)
                mx = fmax(mx, lp[i * V + v]);
            for (size_t v = 0; v < V; v++)
                z += exp(lp[i * V + v] - mx);
            for (size_t v = 0; v < V; v++)
                lp[i * V + v] = beam[i] + lp[i * V + v] - mx - log(z);
        }
        /* the k best extensions (selection; k and V are small) */
        for (size_t c = 0; c < k; c++) {
            cand[c] = -INFINITY;
            cand_i[c] = 0;
            cand_v[c] = SG_PAIRS_EOS_ID;
            for (size_t i = 0; i < k; i++)
                for (size_t v = 0; v < V; v++) {
                    double sc = lp[i * V + v];
                    if (!(sc > cand[c]))
                        continue;
                    bool taken = false;
                    for (size_t d = 0; d < c && !taken; d++)
                        taken = cand_i[d] == i && cand_v[d] == (int32_t)v;
                    if (!taken) {
                        cand[c] = sc;
                        cand_i[c] = i;
                        cand_v[c] = (int32_t)v;
                    }
                }
        }
        for (size_t c = 0; c < k; c++) {
            parent[c] = (int32_t)cand_i[c];
            memcpy(next_hist + c * max_len, hist + cand_i[c] * max_len, t * sizeof *hist);
            next_hist[c * max_len + t] = cand_v[c];
            beam[c] = cand[c];
            cur[c] = cand_v[c];
            if (cand_v[c] == SG_PAIRS_EOS_ID && isfinite(cand[c])) { /* an ended hypothesis */
                double norm = cand[c] / pow((double)(t + 1), alpha);
                if (norm > best) {
                    best = norm;
                    *len = t;
                    memcpy(out, next_hist + c * max_len, t * sizeof *out);
                }
                n_done++;
                beam[c] = -INFINITY; /* it grows no further */
            }
        }
        memcpy(hist, next_hist, k * max_len * sizeof *hist);
        /* the states follow their hypotheses */
        sg_tensor *pid = sg_ids(g, "beam", SG_SHAPE(k), parent);
        state.cell.h = sg_gather_rows(g, state.cell.h, pid);
        if (state.cell.c)
            state.cell.c = sg_gather_rows(g, state.cell.c, pid);
        if (state.feed)
            state.feed = sg_gather_rows(g, state.feed, pid);
        if (!state.cell.h || (enc.init.c && !state.cell.c) || (m->cfg.input_feeding && !state.feed)) {
            st = sg_graph_status(g);
            break;
        }
    }
    sg_scope_pop(g);
    if (!st && !isfinite(best)) { /* none ended: the best live one, all max_len tokens */
        size_t top = 0;
        for (size_t i = 1; i < k; i++)
            if (beam[i] > beam[top])
                top = i;
        best = beam[top] / pow((double)max_len, alpha);
        *len = max_len;
        memcpy(out, hist + top * max_len, max_len * sizeof *out);
    }
    *score = best;
done:
    sg_graph_set_grad_enabled(g, was);
    return st;
}
