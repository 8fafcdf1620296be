/* sg_parity_seq2seq.c — the seqgrad side of the seq2seq PyTorch parity test
 * (tests/parity/parity_seq2seq.py).
 *
 * Usage:  sg_parity_seq2seq IN.safetensors OUT.safetensors
 *
 * IN (written by parity_seq2seq.py) holds one padded batch, in f64 (ids as
 * whole numbers): "src" (S, B), "src_mask" (S, B), "dec_in" (T, B), "dec_out"
 * (T, B), "tgt_mask" (T, B); and in its metadata the model: "parity.V",
 * "parity.E", "parity.H", "parity.layers", "parity.attention" (none, dot,
 * general, additive), "parity.reverse", "parity.peeky", "parity.feed" (0 or
 * 1), "parity.seed" and "parity.scale".
 * The driver builds an LSTM sg_seq2seq in an f64 set, initializes it with
 * sg_seq2seq_reset_parameters from the seed, multiplies every parameter by
 * the scale (so that gates and tanh leave their nearly linear range), records
 * sg_seq2seq_loss on the batch, runs backward, and writes OUT (f64): every
 * parameter under its own name, "loss" (1) and "grad/<name>" for every
 * parameter.  The torch side loads the parameters from OUT, so both run the
 * same weights.  Exit status 0 on success, 1 with a message on stderr.
 *
 * Dimension legend: S source steps, T target steps, B batch, V vocabulary,
 * E embedding, H hidden units.
 *
 * Ownership: main owns both parameter sets, the model and the graph and frees
 * them on every path; the batch's arrays are main's (sg_malloc).
 */
#include "graph/core/sg_alloc.h"
#include "graph/core/sg_graph.h"
#include "graph/core/sg_param.h"
#include "graph/format/sg_checkpoint.h"
#include "models/seq2seq/sg_seq2seq.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sg_pq_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sg_pq_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sg_parity_seq2seq: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* A whole number of the metadata in [lo, hi]; false when absent or outside. */
static bool sg_pq_meta_size(const sg_checkpoint *ck, const char *key, size_t lo, size_t hi, size_t *out)
{
    const char *s = sg_checkpoint_get_string(ck, key);
    char *end = NULL;
    unsigned long long v = s && *s && *s != '-' ? strtoull(s, &end, 10) : 0;
    if (!s || !end || *end || v < lo || v > hi)
        return false;
    *out = (size_t)v;
    return true;
}

/* The data tensors of IN, added to the set data (zero-filled, then loaded). */
static const char *const sg_pq_data_names[] = {"src", "src_mask", "dec_in", "dec_out", "tgt_mask"};

/* Copies the id tensor p (whole numbers in f64) to ids; false for a value that
 * is not an id below V. */
static bool sg_pq_ids(const sg_param *p, size_t V, int32_t *ids)
{
    for (size_t i = 0; i < p->numel; i++) {
        double v = sg_param_get(p, i);
        if (!(v >= 0 && v < (double)V && v == floor(v)))
            return false;
        ids[i] = (int32_t)v;
    }
    return true;
}

static bool sg_pq_put(sg_params *out, const char *name, sg_shape shape, const double *values)
{
    sg_param *p = sg_params_add(out, name, shape);
    if (!p)
        return false;
    memcpy(p->value, values, p->numel * sizeof(double));
    return true;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s IN.safetensors OUT.safetensors\n", argv[0]);
        return 2;
    }
    char err[2048];
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    if (sg_checkpoint_read_meta(argv[1], &ck, err, sizeof err) != SG_OK) {
        sg_checkpoint_free(&ck);
        return sg_pq_fail("%s", err);
    }
    size_t V, E, H, N, S, T, B, rev, peeky, feed, seed, scale;
    sg_seq2seq_config cfg = {.kind = SG_CELL_LSTM, .act = SG_ACT_TANH};
    bool ok = sg_pq_meta_size(&ck, "parity.V", 5, 1000, &V) && sg_pq_meta_size(&ck, "parity.E", 1, 1000, &E) &&
              sg_pq_meta_size(&ck, "parity.H", 1, 1000, &H) && sg_pq_meta_size(&ck, "parity.layers", 1, 8, &N) &&
              sg_pq_meta_size(&ck, "parity.S", 1, 1000, &S) && sg_pq_meta_size(&ck, "parity.T", 1, 1000, &T) &&
              sg_pq_meta_size(&ck, "parity.B", 1, 1000, &B) && sg_pq_meta_size(&ck, "parity.reverse", 0, 1, &rev) &&
              sg_pq_meta_size(&ck, "parity.peeky", 0, 1, &peeky) && sg_pq_meta_size(&ck, "parity.feed", 0, 1, &feed) &&
              sg_pq_meta_size(&ck, "parity.seed", 0, 1u << 30, &seed) &&
              sg_pq_meta_size(&ck, "parity.scale", 1, 100, &scale) &&
              sg_attention_parse(sg_checkpoint_get_string(&ck, "parity.attention"), &cfg.attention) == SG_OK;
    sg_checkpoint_free(&ck);
    if (!ok)
        return sg_pq_fail("the metadata of '%s' lacks a model setting or has a bad one", argv[1]);
    cfg.vocab = V;
    cfg.embed = E;
    cfg.hidden = H;
    cfg.layers = N;
    cfg.reverse_source = rev;
    cfg.peeky = peeky;
    cfg.input_feeding = feed;

    sg_params *ps = sg_params_new(SG_F64), *data = sg_params_new(SG_F64), *out = sg_params_new(SG_F64);
    sg_graph *g = sg_graph_new(SG_F64);
    int32_t *src = sg_malloc(S * B * sizeof *src), *dec_in = sg_malloc(T * B * sizeof *dec_in);
    int32_t *dec_out = sg_malloc(T * B * sizeof *dec_out);
    sg_seq2seq m = {0};
    bool m_ready = false;
    int rc = 1;
    sg_param *d[5] = {0};
    if (!ps || !data || !out || !g || !src || !dec_in || !dec_out) {
        sg_pq_fail("out of memory");
        goto done;
    }
    const sg_shape shapes[5] = {SG_SHAPE(S, B), SG_SHAPE(S, B), SG_SHAPE(T, B), SG_SHAPE(T, B), SG_SHAPE(T, B)};
    for (int i = 0; i < 5; i++)
        if (!(d[i] = sg_params_add(data, sg_pq_data_names[i], shapes[i]))) {
            sg_pq_fail("out of memory");
            goto done;
        }
    if (sg_checkpoint_load(argv[1], data, NULL, err, sizeof err) != SG_OK) {
        sg_pq_fail("%s", err);
        goto done;
    }
    if (!sg_pq_ids(d[0], V, src) || !sg_pq_ids(d[2], V, dec_in) || !sg_pq_ids(d[3], V, dec_out)) {
        sg_pq_fail("an id of the batch is not a whole number below V = %zu", V);
        goto done;
    }
    if (sg_seq2seq_init(&m, ps, &cfg) != SG_OK) {
        sg_pq_fail("cannot build the model (bad sizes?)");
        goto done;
    }
    m_ready = true;
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    if (sg_seq2seq_reset_parameters(&m, &rng) != SG_OK) {
        sg_pq_fail("cannot initialize the model");
        goto done;
    }
    for (size_t i = 0; i < ps->n; i++)
        for (size_t j = 0; j < ps->items[i]->numel; j++)
            sg_param_set(ps->items[i], j, (double)scale * sg_param_get(ps->items[i], j));
    sg_pair_batch b = {.batch = B,
                       .src_steps = S,
                       .tgt_steps = T,
                       .src = src,
                       .src_mask = d[1]->value,
                       .dec_in = dec_in,
                       .dec_out = dec_out,
                       .tgt_mask = d[4]->value};
    sg_params_zero_grad(ps);
    sg_tensor *loss = sg_seq2seq_loss(g, &m, &b);
    if (!loss || sg_backward(g, loss) != SG_OK) {
        sg_pq_fail("%s", sg_graph_error(g));
        goto done;
    }
    double lv = sg_tensor_get(loss, 0);
    ok = sg_pq_put(out, "loss", SG_SHAPE(1), &lv);
    char name[512];
    for (size_t i = 0; ok && i < ps->n; i++) {
        const sg_param *p = ps->items[i];
        snprintf(name, sizeof name, "grad/%s", p->name);
        ok = sg_pq_put(out, p->name, p->shape, p->value) && sg_pq_put(out, name, p->shape, p->grad);
    }
    if (!ok)
        sg_pq_fail("out of memory building the output set");
    else if (sg_checkpoint_save(argv[2], out, NULL, err, sizeof err) != SG_OK)
        sg_pq_fail("%s", err);
    else
        rc = 0;
done:
    if (m_ready)
        sg_seq2seq_free(&m);
    sg_free(src);
    sg_free(dec_in);
    sg_free(dec_out);
    sg_graph_free(g);
    sg_params_free(out);
    sg_params_free(data);
    sg_params_free(ps);
    return rc;
}
