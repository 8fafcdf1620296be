/* sg_hred.c — the utterance encoder, the context RNN, VHRED's prior and
 * posterior, the conditioned decoder, the loss and the decoding (equations
 * and legend in sg_hred.h).  Op calls only; the host code here arranges ids,
 * masks and noise (data), never gradients. */
#include "models/hred/sg_hred.h"

#include "graph/core/sg_init.h"
#include "models/decode/sg_decode.h"
#include "ops/sg_ops.h"

#include <math.h>
#include <string.h>

static const char *const sg_hred_names[] = {"prev", "hred", "vhred"};

const char *sg_hred_kind_name(sg_hred_kind k) { return (unsigned)k < 3 ? sg_hred_names[k] : "?"; }

/* ---- making it -------------------------------------------------------------- */

void sg_hred_free(sg_hred *m)
{
    if (!m)
        return;
    sg_seq_layers_free(&m->enc);
    sg_cell_free(&m->ctx);
    sg_cell_free(&m->dec);
    memset(m, 0, sizeof *m);
}

/* Two tanh layers, then the mean and the log-variance: "<name>.l1" ... */
static sg_status sg_hred_mlp_init(sg_linear *l, sg_params *ps, const char *name, size_t in, size_t M, size_t Z)
{
    static const char *const part[4] = {"l1", "l2", "mu", "lv"};
    const size_t ins[4] = {in, M, M, M}, outs[4] = {M, M, Z, Z};
    sg_status st = SG_OK;
    for (int i = 0; i < 4 && !st; i++) {
        char n[64];
        snprintf(n, sizeof n, "%s.%s", name, part[i]);
        st = sg_linear_init(&l[i], ps, n, ins[i], outs[i], true);
    }
    return st;
}

sg_status sg_hred_init(sg_hred *m, sg_params *ps, const sg_hred_config *cfg)
{
    if (!m || !ps || !cfg)
        return SG_ERR_ARG;
    memset(m, 0, sizeof *m);
    const size_t V = cfg->vocab, E = cfg->embed, H = cfg->hidden, C = cfg->context;
    const bool vh = cfg->model == SG_VHRED, prev = cfg->model == SG_HRED_PREV;
    if (V < 4 || !E || !H || (!prev && !C) || (unsigned)cfg->model > SG_VHRED ||
        (cfg->kind == SG_CELL_CUSTOM && !cfg->make) || (vh && (!cfg->latent || !cfg->mlp)))
        return SG_ERR_ARG;
    m->cfg = *cfg;
    m->F = (cfg->bidirectional ? 2 : 1) * H;
    m->K = prev ? m->F : C + (vh ? cfg->latent : 0);
    sg_seq_config sc = {.kind = cfg->kind,
                        .act = SG_ACT_TANH,
                        .input = E,
                        .hidden = H,
                        .layers = 1,
                        .bidirectional = cfg->bidirectional,
                        .make = cfg->make,
                        .make_ctx = cfg->make_ctx};
    sg_status st = sg_embedding_init(&m->embed, ps, "embed", V, E);
    if (!st)
        st = sg_seq_layers_init(&m->enc, ps, "enc", &sc);
    if (!st && !prev)
        st = sg_cell_init_made(&m->ctx, ps, "ctx", cfg->kind, SG_ACT_TANH, cfg->make, cfg->make_ctx, m->F, C);
    if (!st && vh)
        st = sg_hred_mlp_init(m->prior, ps, "prior", C, cfg->mlp, cfg->latent);
    if (!st && vh)
        st = sg_hred_mlp_init(m->post, ps, "post", C + m->F, cfg->mlp, cfg->latent);
    if (!st)
        st = sg_linear_init(&m->dec_init, ps, "dec_init", m->K, H, true);
    if (!st)
        st = sg_cell_init_made(&m->dec, ps, "dec", cfg->kind, SG_ACT_TANH, cfg->make, cfg->make_ctx,
                               E + (cfg->context_input ? m->K : 0), H);
    if (!st)
        st = sg_linear_init(&m->out, ps, "out", H, V, true);
    if (st)
        sg_hred_free(m);
    return st;
}

sg_status sg_hred_reset_parameters(sg_hred *m, sg_rng *rng)
{
    sg_cell_init_opts co = sg_cell_init_defaults();
    sg_status st = sg_init_uniform(m->embed.E, rng, -0.1, 0.1);
    if (!st)
        st = sg_seq_layers_reset_parameters(&m->enc, rng, &co);
    if (!st && m->ctx.name)
        st = sg_cell_reset_parameters(&m->ctx, rng, &co);
    for (int i = 0; i < 4 && !st && m->prior[0].W; i++) {
        st = sg_linear_reset_xavier(&m->prior[i], rng, 0.0);
        if (!st)
            st = sg_linear_reset_xavier(&m->post[i], rng, 0.0);
    }
    if (!st)
        st = sg_linear_reset_xavier(&m->dec_init, rng, 0.0);
    if (!st)
        st = sg_cell_reset_parameters(&m->dec, rng, &co);
    if (!st)
        st = sg_linear_reset_xavier(&m->out, rng, 0.0);
    return st;
}

/* ---- pieces ------------------------------------------------------------------ */

/* Columns [c0, c0 + n) of a (L, R) array as a new (L, n) arena array. */
static void *sg_hred_columns(sg_graph *g, const void *src, size_t elem, size_t L, size_t R, size_t c0, size_t n)
{
    char *dst = sg_graph_alloc(g, L * n * elem);
    for (size_t t = 0; dst && t < L; t++)
        memcpy(dst + t * n * elem, (const char *)src + (t * R + c0) * elem, n * elem);
    return dst;
}

/* The vectors of utterances [u0, u1) (rows u0*B .. u1*B): (u1 - u0, B, F). */
static sg_tensor *sg_hred_encode(sg_graph *g, const sg_hred *m, const sg_dialog_batch *b, size_t u0, size_t u1)
{
    const size_t L = b->steps, R = b->utts * b->batch, n = (u1 - u0) * b->batch, D = m->enc.n_dirs;
    const int32_t *ids = sg_hred_columns(g, b->enc_in, sizeof *b->enc_in, L, R, u0 * b->batch, n);
    const double *mask = sg_hred_columns(g, b->enc_mask, sizeof *b->enc_mask, L, R, u0 * b->batch, n);
    sg_cell_state *final = sg_graph_alloc(g, D * sizeof *final);
    size_t *lengths = sg_graph_alloc(g, n * sizeof *lengths); /* (n) */
    if (!ids || !mask || !final || !lengths)
        return NULL;
    sg_scope_push(g, "enc");
    sg_tensor *x = sg_embedding_lookup(g, &m->embed, SG_SHAPE(L, n), ids); /* (L, n, E) */
    sg_seq_opts so = sg_seq_opts_defaults();
    if (sg_seq_lengths_from_mask(mask, L, n, lengths))
        so.lengths = lengths; /* packed: padding costs no steps */
    else
        so.mask = sg_input_f64(g, "utt_mask", SG_SHAPE(L, n), mask, false);
    sg_tensor *e = NULL;
    if (sg_seq_layers_forward(g, &m->enc, x, &so, final)) {
        sg_tensor *hh[2] = {final[0].h, D == 2 ? final[1].h : NULL};
        e = D == 2 ? sg_concat(g, hh, 2, 1) : hh[0]; /* (n, F) */
        e = sg_reshape(g, e, SG_SHAPE(u1 - u0, b->batch, m->F));
    }
    sg_scope_pop(g);
    return e;
}

/* (N, 2 sizes) MLP: mu and log-variance of a diagonal Gaussian. */
static bool sg_hred_gauss(sg_graph *g, const sg_linear *l, sg_tensor *x, sg_tensor **mu, sg_tensor **lv)
{
    sg_tensor *h = sg_tanh(g, sg_linear_forward(g, &l[1], sg_tanh(g, sg_linear_forward(g, &l[0], x))));
    *mu = sg_linear_forward(g, &l[2], h);
    *lv = sg_linear_forward(g, &l[3], h);
    return *mu && *lv;
}

/* The decoder's first state from k (N, K). */
static sg_tensor *sg_hred_dec_h0(sg_graph *g, const sg_hred *m, sg_tensor *k)
{
    return sg_tanh(g, sg_linear_forward(g, &m->dec_init, k));
}

/* ---- the loss ------------------------------------------------------------------- */

bool sg_hred_loss(sg_graph *g, const sg_hred *m, const sg_dialog_batch *b, const sg_hred_loss_opts *o,
                  sg_hred_terms *out)
{
    memset(out, 0, sizeof *out);
    sg_hred_loss_opts def = {0};
    if (!o)
        o = &def;
    const size_t B = b->batch, U = b->utts, L = b->steps, R = U * B, C = m->cfg.context, H = m->cfg.hidden;
    const size_t first = o->first, end = o->end ? o->end : U;
    const bool prev = m->cfg.model == SG_HRED_PREV, vh = m->cfg.model == SG_VHRED;
    if (first >= end || end > U || (prev && first > 0) || !(o->word_dropout >= 0 && o->word_dropout < 1)) {
        sg_graph_fail(
            g, SG_ERR_ARG,
            "hred: utterances [%zu, %zu) of a batch of %zu (the baseline starts at 0), word dropout %g in [0, 1)",
            first, end, U, o->word_dropout);
        return false;
    }
    const size_t t0 = first ? first : 1, nt = end - t0, N = nt * B; /* targets t0 .. end-1 */
    if (!nt) {                                                      /* nothing to predict */
        out->loss = sg_const_fill(g, "loss", SG_SHAPE(1), 0.0);
        return out->loss != NULL;
    }
    /* the utterance vectors (u in [first, end)) and the conditioning of each target */
    sg_tensor *e = sg_hred_encode(g, m, b, first, end); /* (end - first, B, F) */
    if (!e)
        return false;
    sg_tensor *cond; /* (nt, B, C or F): the state after the utterance before each target */
    if (prev) {
        cond = sg_slice(g, e, 0, 0, nt);
    } else {
        sg_scope_push(g, "ctx");
        sg_seq_run_opts ro = {
            .mask = sg_input_f64(g, "turn_mask", SG_SHAPE(end - first, B), b->utt_mask + first * B, false)};
        if (o->ctx_h)
            ro.init.h = sg_input_f64(g, "ctx_h", SG_SHAPE(B, C), o->ctx_h, false);
        if (o->ctx_c && m->ctx.has_c)
            ro.init.c = sg_input_f64(g, "ctx_c", SG_SHAPE(B, C), o->ctx_c, false);
        sg_tensor *cs = sg_seq_run(g, "ctx.rnn", &m->ctx, e, &ro, &out->ctx); /* (end - first, B, C) */
        if (first == 0)
            cond = nt ? sg_slice(g, cs, 0, 0, nt) : NULL;
        else {
            sg_tensor *h0 = ro.init.h ? ro.init.h : sg_const_fill(g, "ctx_h0", SG_SHAPE(B, C), 0.0);
            sg_tensor *parts[2] = {sg_reshape(g, h0, SG_SHAPE(1, B, C)), nt > 1 ? sg_slice(g, cs, 0, 0, nt - 1) : NULL};
            cond = nt > 1 ? sg_concat(g, parts, 2, 0) : parts[0];
        }
        sg_scope_pop(g);
    }
    sg_tensor *k = sg_reshape(g, cond, SG_SHAPE(N, prev ? m->F : C)); /* (N, K or C) */
    /* the target utterances' ids and masks (data), word dropout on the inputs */
    const size_t c0 = t0 * B;
    int32_t *din = sg_hred_columns(g, b->dec_in, sizeof *b->dec_in, L, R, c0, N);
    int32_t *dout = sg_hred_columns(g, b->dec_out, sizeof *b->dec_out, L, R, c0, N);
    double *dmask = sg_hred_columns(g, b->dec_mask, sizeof *b->dec_mask, L, R, c0, N);
    double *umask = sg_graph_alloc(g, N * sizeof *umask);
    if (!k || !din || !dout || !dmask || !umask)
        return false;
    for (size_t c = 0; c < L * N; c++) {
        if (dmask[c] > 0)
            out->tokens++;
        else
            dout[c] = SG_IGNORE_TARGET;
        if (o->rng && o->word_dropout > 0 && c >= N && dmask[c] > 0 && sg_rng_uniform(o->rng) < o->word_dropout)
            din[c] = SG_PAIRS_UNK_ID;
    }
    for (size_t r = 0; r < N; r++)
        out->targets += (umask[r] = b->utt_mask[c0 + r]) > 0;
    if (vh) {
        sg_scope_push(g, "vhred");
        sg_tensor *target_e = sg_reshape(g, sg_slice(g, e, 0, t0 - first, nt), SG_SHAPE(N, m->F));
        sg_tensor *mu_p, *lv_p, *mu_q, *lv_q, *kq[2] = {k, target_e};
        double *eps = sg_graph_alloc(g, N * m->cfg.latent * sizeof *eps);
        if (!eps || !sg_hred_gauss(g, m->prior, k, &mu_p, &lv_p) ||
            !sg_hred_gauss(g, m->post, sg_concat(g, kq, 2, 1), &mu_q, &lv_q)) {
            sg_scope_pop(g);
            return false;
        }
        for (size_t i = 0; i < N * m->cfg.latent; i++)
            eps[i] = o->rng ? sg_rng_normal(o->rng) : 0.0;
        sg_tensor *noise = sg_input_f64(g, "eps", SG_SHAPE(N, m->cfg.latent), eps, false);
        sg_tensor *z = sg_add(g, mu_q, sg_hadamard(g, sg_exp(g, sg_scale(g, lv_q, 0.5)), noise));
        sg_tensor *kl_rows = sg_loss_kl_gaussian(g, mu_q, lv_q, mu_p, lv_p, SG_REDUCE_NONE); /* (N) */
        out->kl = sg_sum_all(g, sg_hadamard(g, kl_rows, sg_input_f64(g, "target_mask", SG_SHAPE(N), umask, false)));
        sg_tensor *kz[2] = {k, z};
        k = sg_concat(g, kz, 2, 1); /* (N, C + Z) */
        sg_scope_pop(g);
    }
    sg_scope_push(g, "dec");
    sg_tensor *x = sg_embedding_lookup(g, &m->embed, SG_SHAPE(L, N), din); /* (L, N, E) */
    if (m->cfg.context_input) {
        sg_tensor *tiled = sg_add(g, sg_const_fill(g, "tile", SG_SHAPE(L, N, m->K), 0.0),
                                  sg_reshape(g, k, SG_SHAPE(1, N, m->K))); /* (L, N, K) */
        sg_tensor *parts[2] = {x, tiled};
        x = sg_concat(g, parts, 2, 2);
    }
    size_t *dlen = sg_graph_alloc(g, N * sizeof *dlen); /* (N) */
    sg_seq_run_opts ro = {.init = {.h = sg_hred_dec_h0(g, m, k)}};
    if (dlen && sg_seq_lengths_from_mask(dmask, L, N, dlen))
        ro.lengths = dlen; /* packed */
    else
        ro.mask = sg_input_f64(g, "dec_mask", SG_SHAPE(L, N), dmask, false);
    sg_tensor *hs = sg_seq_run(g, "dec.rnn", &m->dec, x, &ro, NULL); /* (L, N, H) */
    sg_tensor *logits = sg_linear_forward(g, &m->out, sg_reshape(g, hs, SG_SHAPE(L * N, H)));
    out->ce = sg_loss_cross_entropy(g, logits, sg_ids(g, "y", SG_SHAPE(L * N), dout), NULL, SG_REDUCE_SUM);
    sg_scope_pop(g);
    sg_tensor *total = out->ce;
    if (vh && o->kl_weight != 0)
        total = sg_add(g, total, sg_scale(g, out->kl, o->kl_weight));
    out->loss = sg_scale(g, total, out->tokens ? 1.0 / (double)out->tokens : 0.0);
    if (prev)
        memset(&out->ctx, 0, sizeof out->ctx);
    return out->loss != NULL && sg_graph_status(g) == SG_OK;
}

/* ---- decoding -------------------------------------------------------------------- */

sg_status sg_hred_decode(sg_graph *g, const sg_hred *m, const sg_dialog_batch *b, size_t max_len, double temperature,
                         sg_rng *rng, int32_t *out, size_t *lens)
{
    const size_t B = b->batch, U = b->utts, R = U * B, V = m->cfg.vocab, C = m->cfg.context;
    if (!(temperature >= 0) || !isfinite(temperature) || (temperature > 0 && !rng) || !max_len)
        return SG_ERR_ARG;
    bool was = sg_graph_grad_enabled(g);
    sg_graph_reset(g);
    sg_graph_set_grad_enabled(g, false);
    sg_status st = SG_OK;
    int32_t *cur = sg_graph_alloc(g, R * sizeof *cur);
    double *row = sg_graph_alloc(g, R * V * sizeof *row);
    bool *done = sg_graph_alloc(g, R * sizeof *done);
    sg_tensor *e = cur && row && done ? sg_hred_encode(g, m, b, 0, U) : NULL, *k = NULL;
    if (e && m->cfg.model == SG_HRED_PREV)
        k = sg_reshape(g, e, SG_SHAPE(R, m->F));
    else if (e) {
        sg_seq_run_opts ro = {.mask = sg_input_f64(g, "turn_mask", SG_SHAPE(U, B), b->utt_mask, false)};
        k = sg_reshape(g, sg_seq_run(g, "ctx", &m->ctx, e, &ro, NULL), SG_SHAPE(R, C));
    }
    if (k && m->cfg.model == SG_VHRED) {
        sg_tensor *mu, *lv, *kz[2] = {k, NULL};
        double *eps = sg_graph_alloc(g, R * m->cfg.latent * sizeof *eps);
        if (eps && sg_hred_gauss(g, m->prior, k, &mu, &lv)) {
            for (size_t i = 0; i < R * m->cfg.latent; i++)
                eps[i] = rng ? sg_rng_normal(rng) : 0.0;
            sg_tensor *noise = sg_input_f64(g, "eps", SG_SHAPE(R, m->cfg.latent), eps, false);
            kz[1] = sg_add(g, mu, sg_hadamard(g, sg_exp(g, sg_scale(g, lv, 0.5)), noise));
        }
        k = kz[1] ? sg_concat(g, kz, 2, 1) : NULL;
    }
    sg_cell_state state = {.h = k ? sg_hred_dec_h0(g, m, k) : NULL};
    if (state.h && m->dec.has_c)
        state.c = sg_const_fill(g, "c0", SG_SHAPE(R, m->cfg.hidden), 0.0);
    if (!state.h || (m->dec.has_c && !state.c)) {
        st = sg_graph_status(g) ? sg_graph_status(g) : SG_ERR_NOMEM;
        sg_graph_set_grad_enabled(g, was);
        return st;
    }
    for (size_t r = 0; r < R; r++) {
        cur[r] = SG_PAIRS_BOS_ID;
        done[r] = false;
        lens[r] = max_len;
    }
    sg_scope_push(g, "dec");
    for (size_t t = 0; t < max_len && !st; t++) {
        sg_scope_push(g, "t%zu", t);
        sg_tensor *x = sg_embedding_lookup(g, &m->embed, SG_SHAPE(R), cur);
        if (m->cfg.context_input) {
            sg_tensor *parts[2] = {x, k};
            x = sg_concat(g, parts, 2, 1);
        }
        sg_cell_state next = {0};
        sg_tensor *logits =
            x && sg_cell_step(g, &m->dec, x, &state, &next) ? sg_linear_forward(g, &m->out, next.h) : NULL;
        sg_scope_pop(g);
        if (!logits) {
            st = sg_graph_status(g);
            break;
        }
        state = (sg_cell_state){.h = next.h, .c = next.c};
        sg_tensor_copy_out_f64(logits, row);
        bool all = true;
        for (size_t r = 0; r < R && !st; r++) {
            size_t id = 0;
            row[r * V + SG_PAIRS_PAD_ID] = row[r * V + SG_PAIRS_BOS_ID] = -INFINITY; /* never inside a reply */
            if (sg_sample_logits(row + r * V, V, temperature, rng, &id) != SG_OK)
                st = sg_graph_fail(g, SG_ERR_NONFINITE, "hred decoding step %zu, row %zu: the scores are not finite", t,
                                   r);
            cur[r] = (int32_t)id;
            out[t * R + r] = (int32_t)id;
            if (!done[r] && id == SG_PAIRS_EOS_ID) {
                done[r] = true;
                lens[r] = t;
            }
            all = all && done[r];
        }
        if (all)
            break;
    }
    sg_scope_pop(g);
    sg_graph_set_grad_enabled(g, was);
    return st;
}
