/* sg_lm.c — word-level language model (see sg_lm.h).  Op calls only. */
#include "models/lm/sg_lm.h"

#include "graph/util/sg_util.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_init.h"
#include "ops/sg_ops.h"

#include <string.h>

sg_status sg_lm_init(sg_lm *m, sg_params *ps, const sg_lm_config *cfg)
{
    memset(m, 0, sizeof *m);
    if (!ps || !cfg || !cfg->vocab || !cfg->embed || !cfg->hidden || !cfg->layers ||
        (cfg->tie_weights && cfg->embed != cfg->hidden))
        return SG_ERR_ARG;
    m->cfg = *cfg;
    sg_status st = sg_embedding_init(&m->embed, ps, "embed", cfg->vocab, cfg->embed);
    if (st)
        return st;
    sg_seq_config sc = {.kind = cfg->kind,
                        .act = cfg->act,
                        .input = cfg->embed,
                        .hidden = cfg->hidden,
                        .layers = cfg->layers,
                        .bidirectional = false,
                        .make = cfg->make,
                        .make_ctx = cfg->make_ctx};
    if ((st = sg_seq_layers_init(&m->rnn, ps, "rnn", &sc)) != SG_OK)
        return st;
    if (!cfg->tie_weights) {
        st = sg_linear_init(&m->out, ps, "out", cfg->hidden, cfg->vocab, true);
    } else { /* tied: the embedding transposed is the weight; only the bias is new */
        m->out = (sg_linear){.in = cfg->hidden, .out = cfg->vocab};
        if (sg_params_find(ps, "out.b"))
            st = SG_ERR_ARG;
        else if (!(m->out.b = sg_params_add(ps, "out.b", SG_SHAPE(cfg->vocab))))
            st = SG_ERR_NOMEM;
    }
    if (st)
        sg_lm_free(m);
    return st;
}

void sg_lm_free(sg_lm *m) { sg_seq_layers_free(&m->rnn); }

sg_status sg_lm_reset_parameters(sg_lm *m, sg_params *ps, sg_rng *rng, double r, double forget_bias)
{
    sg_status st = sg_params_init_uniform(ps, rng, -r, r);
    if (st)
        return st;
    if (forget_bias >= 0 && (m->cfg.kind == SG_CELL_LSTM || m->cfg.kind == SG_CELL_PEEPHOLE))
        for (size_t k = 0; k < m->rnn.n_layers * m->rnn.n_dirs && !st; k++)
            st = sg_cell_set_forget_bias(&m->rnn.cells[k], forget_bias);
    return st;
}

sg_status sg_lm_state_init(sg_lm_state *st, const sg_lm *m, size_t batch)
{
    memset(st, 0, sizeof *st);
    if (!batch)
        return SG_ERR_ARG;
    st->batch = batch;
    st->n_cells = m->rnn.n_layers * m->rnn.n_dirs;
    st->hidden = m->cfg.hidden;
    size_t n;
    if (!sg_size_mul(st->n_cells, batch, &n) || !sg_size_mul(n, st->hidden, &n))
        return SG_ERR_ARG; /* sizes that do not fit memory at all */
    st->h = sg_calloc(n, sizeof *st->h);
    st->c = sg_calloc(n, sizeof *st->c);
    if (!st->h || !st->c) {
        sg_lm_state_free(st);
        return SG_ERR_NOMEM;
    }
    return SG_OK;
}

void sg_lm_state_free(sg_lm_state *st)
{
    sg_free(st->h);
    sg_free(st->c);
    st->h = st->c = NULL;
}

void sg_lm_state_zero(sg_lm_state *st)
{
    size_t n = st->n_cells * st->batch * st->hidden;
    memset(st->h, 0, n * sizeof *st->h);
    memset(st->c, 0, n * sizeof *st->c);
}

/* Dropout when training, identity otherwise. */
static sg_tensor *sg_lm_dropout(sg_graph *g, sg_tensor *x, const sg_lm_run *run)
{
    return run ? sg_dropout(g, x, run->dropout, run->training, run->rng) : x;
}

sg_tensor *sg_lm_forward(sg_graph *g, const sg_lm *m, const int32_t *x, const int32_t *y, size_t T, size_t B,
                         sg_lm_state *st, const sg_lm_run *run, double *nll_sum)
{
    size_t H = m->cfg.hidden, V = m->cfg.vocab, N = st->n_cells;
    if (st->batch != B) {
        sg_graph_fail(g, SG_ERR_SHAPE, "language model: the state holds %zu streams, the window has %zu", st->batch, B);
        return NULL;
    }
    size_t TB;
    if (!sg_size_mul(T, B, &TB) || TB > SIZE_MAX / (V > H ? V : H)) {
        sg_graph_fail(g, SG_ERR_SHAPE, "language model: a window of %zu steps x %zu streams is too large", T, B);
        return NULL;
    }
    /* initial states from the carried buffers: inputs without grad (the cut) */
    sg_cell_state *init = sg_graph_alloc(g, N * sizeof *init);
    sg_cell_state *final = sg_graph_alloc(g, N * sizeof *final);
    if (!init || !final)
        return NULL;
    for (size_t k = 0; k < N; k++) {
        init[k].h = sg_input_f64(g, "h0", SG_SHAPE(B, H), st->h + k * B * H, false);
        init[k].c = m->rnn.cells[k].has_c ? sg_input_f64(g, "c0", SG_SHAPE(B, H), st->c + k * B * H, false) : NULL;
    }
    sg_scope_push(g, "embed");
    sg_tensor *emb = sg_embedding_lookup(g, &m->embed, SG_SHAPE(T, B), x); /* (T, B, D) */
    emb = sg_lm_dropout(g, emb, run);
    sg_scope_pop(g);

    sg_seq_opts so = sg_seq_opts_defaults();
    so.init = init;
    so.training = run && run->training;
    so.rng = run ? run->rng : NULL;
    so.dropout = run && run->training ? run->dropout : 0.0;
    sg_tensor *hs = sg_seq_layers_forward(g, &m->rnn, emb, &so, final); /* (T, B, H) */

    sg_scope_push(g, "out");
    hs = sg_reshape(g, sg_lm_dropout(g, hs, run), SG_SHAPE(T * B, H)); /* (T*B, H) */
    sg_tensor *logits = m->cfg.tie_weights ? sg_affine_t(g, hs, sg_param_use(g, m->embed.E), sg_param_use(g, m->out.b))
                                           : sg_linear_forward(g, &m->out, hs); /* (T*B, V) */
    sg_tensor *out = logits;
    if (y && logits) {
        sg_tensor *nll = sg_loss_cross_entropy(g, logits, sg_ids(g, "y", SG_SHAPE(T * B), y), NULL, SG_REDUCE_SUM);
        if (nll && nll_sum)
            *nll_sum = sg_tensor_get(nll, 0);
        out = sg_scale(g, nll, 1.0 / (double)B); /* sum over steps of the batch mean */
    }
    sg_scope_pop(g);
    if (!out || sg_graph_status(g))
        return NULL;
    (void)V;
    /* carry the final states to the next window */
    for (size_t k = 0; k < N; k++) {
        sg_tensor_copy_out_f64(final[k].h, st->h + k * B * H);
        if (final[k].c)
            sg_tensor_copy_out_f64(final[k].c, st->c + k * B * H);
    }
    return out;
}
