/* sg_parity.c — the seqgrad side of the PyTorch parity test (tests/parity/).
 *
 * Usage:  sg_parity KIND LAYERS DIRS IN.safetensors OUT.safetensors
 *   KIND    rnn_tanh | rnn_relu | rnn_sigmoid | lstm | gru
 *   LAYERS  N >= 1;  DIRS  1 or 2 (bidirectional)
 * The sizes T, B, I, H come from IN's metadata ("parity.T", "parity.B",
 * "parity.I", "parity.H").
 *
 * IN (written by parity.py) holds, in f64:
 *   the stack's parameters under seqgrad's names "<kind>.l<l>[_reverse].W_x" ...
 *   (layer name = the cell kind's name: "rnn", "lstm", "gru"),
 *   "input" (T, B, I), "h0" (N*D, B, H), "c0" (N*D, B, H) (LSTM only),
 *   "R" (T, B, D*H), "S" (N*D, B, H), "U" (N*D, B, H) (LSTM only).
 * The driver builds sg_seq_layers(KIND, N, D) in an f64 set, loads IN into it
 * (the model parameters, and the other tensors as extra "parameters" of the
 * same set, so input, h0 and c0 collect their gradients like weights), runs
 *   L = sum(output * R) + sum(h_n * S) [+ sum(c_n * U)]
 * forward and backward on the tape, and writes OUT (f64):
 *   "output" (T, B, D*H), "h_n" (N*D, B, H), "c_n" (N*D, B, H) (LSTM), "loss" (1),
 *   "grad/<name>" for every model parameter and for "input", "h0", "c0".
 * Exit status 0 on success, 1 with a message on stderr on any failure.
 *
 * Dimension legend: T time steps, B batch, I input features, H hidden units,
 * N layers, D directions.
 *
 * Ownership: main owns both parameter sets, the layers and the graph, and
 * frees them on every path; per-step arrays live in the graph's arena.
 */
#include "graph/format/sg_checkpoint.h"
#include "graph/core/sg_graph.h"
#include "graph/core/sg_param.h"
#include "models/rnn/sg_seq.h"
#include "ops/sg_ops.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the command line and the input file's metadata ask for. */
typedef struct sg_parity_cfg {
    sg_cell_kind kind;
    sg_activation act;   /* SG_CELL_RNN only */
    size_t layers, dirs; /* N, D */
    size_t T, B, I, H;
} sg_parity_cfg;

/* The tensors of the input file that are not model parameters (owned by the set). */
typedef struct sg_parity_extras {
    sg_param *input;   /* (T, B, I) */
    sg_param *h0, *c0; /* (N*D, B, H) each; c0 NULL unless LSTM */
    sg_param *R;       /* (T, B, D*H) */
    sg_param *S, *U;   /* (N*D, B, H) each; U NULL unless LSTM */
} sg_parity_extras;

/* Prints "sg_parity: <message>" to stderr; returns 1 (the failing exit status). */
static int sg_parity_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sg_parity_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sg_parity: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

/* Parses a positive decimal size; false when s is not one. */
static bool sg_parity_parse_size(const char *s, size_t *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0 || s[0] == '-')
        return false;
    *out = (size_t)v;
    return true;
}

/* KIND: "lstm", "gru", or "rnn_<activation>". */
static bool sg_parity_parse_kind(const char *s, sg_parity_cfg *cfg)
{
    cfg->act = SG_ACT_TANH;
    if (strncmp(s, "rnn_", 4) == 0) {
        cfg->kind = SG_CELL_RNN;
        return sg_activation_parse(s + 4, &cfg->act) == SG_OK;
    }
    return sg_cell_kind_parse(s, &cfg->kind) == SG_OK && (cfg->kind == SG_CELL_LSTM || cfg->kind == SG_CELL_GRU);
}

/* Reads T, B, I, H from the metadata of path. */
static bool sg_parity_read_sizes(const char *path, sg_parity_cfg *cfg)
{
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    char err[512];
    if (sg_checkpoint_read_meta(path, &ck, err, sizeof err) != SG_OK) {
        sg_parity_fail("%s", err);
        sg_checkpoint_free(&ck);
        return false;
    }
    static const char *const keys[4] = {"parity.T", "parity.B", "parity.I", "parity.H"};
    size_t *dst[4] = {&cfg->T, &cfg->B, &cfg->I, &cfg->H};
    bool ok = true;
    for (int k = 0; k < 4 && ok; k++)
        if (!sg_parity_parse_size(sg_checkpoint_get_string(&ck, keys[k]), dst[k]))
            ok = !sg_parity_fail("metadata '%s' is missing or not a positive integer", keys[k]);
    sg_checkpoint_free(&ck);
    return ok;
}

/* Adds the non-parameter tensors to ps (zero-filled, owned by ps). */
static bool sg_parity_add_extras(sg_params *ps, const sg_parity_cfg *c, sg_parity_extras *x)
{
    size_t nd = c->layers * c->dirs;
    bool lstm = c->kind == SG_CELL_LSTM;
    x->input = sg_params_add(ps, "input", SG_SHAPE(c->T, c->B, c->I));
    x->h0 = sg_params_add(ps, "h0", SG_SHAPE(nd, c->B, c->H));
    x->c0 = lstm ? sg_params_add(ps, "c0", SG_SHAPE(nd, c->B, c->H)) : NULL;
    x->R = sg_params_add(ps, "R", SG_SHAPE(c->T, c->B, c->dirs * c->H));
    x->S = sg_params_add(ps, "S", SG_SHAPE(nd, c->B, c->H));
    x->U = lstm ? sg_params_add(ps, "U", SG_SHAPE(nd, c->B, c->H)) : NULL;
    return x->input && x->h0 && x->R && x->S && (!lstm || (x->c0 && x->U));
}

/* Row k of a (N*D, B, H) tensor as (B, H). */
static sg_tensor *sg_parity_row(sg_graph *g, sg_tensor *t, size_t k, size_t B, size_t H)
{
    return sg_reshape(g, sg_slice(g, t, 0, k, 1), SG_SHAPE(B, H));
}

/* Stacks the nd (B, H) states h[k] (or c[k]) into (N*D, B, H); arena-owned. */
static sg_tensor *sg_parity_stack(sg_graph *g, const sg_cell_state *fin, size_t nd, bool cells, size_t B, size_t H)
{
    sg_tensor **rows = sg_graph_alloc(g, nd * sizeof *rows); /* (N*D) arena */
    if (!rows)
        return NULL;
    for (size_t k = 0; k < nd; k++)
        rows[k] = sg_reshape(g, cells ? fin[k].c : fin[k].h, SG_SHAPE(1, B, H));
    return sg_concat(g, rows, nd, 0);
}

/* A constant leaf holding p's values (no gradient flows into R, S, U). */
static sg_tensor *sg_parity_const(sg_graph *g, const sg_param *p)
{
    return sg_input_f64(g, p->name, p->shape, p->value, false);
}

/* Adds "name" (shape) to out, a copy of values (numel doubles, borrowed); the
 * new tensor is owned by out.  False when the name is taken or memory runs out. */
static bool sg_parity_put(sg_params *out, const char *name, sg_shape shape, const double *values)
{
    sg_param *p = sg_params_add(out, name, shape);
    if (!p)
        return false;
    memcpy(p->value, values, p->numel * sizeof(double));
    return true;
}

/* The same with the values of the graph tensor t (borrowed). */
static bool sg_parity_put_tensor(sg_params *out, const char *name, const sg_tensor *t)
{
    sg_param *p = sg_params_add(out, name, t->shape);
    if (!p)
        return false;
    sg_tensor_copy_out_f64(t, p->value);
    return true;
}

/* Records forward and backward on g and fills out with the results.  Returns
 * 0 or 1 (message printed). */
static int sg_parity_run(sg_graph *g, sg_params *ps, const sg_seq_layers *s, const sg_parity_cfg *c,
                         const sg_parity_extras *x, sg_params *out)
{
    size_t nd = c->layers * c->dirs;
    bool lstm = c->kind == SG_CELL_LSTM;
    sg_params_zero_grad(ps);
    sg_tensor *xs = sg_param_use(g, x->input); /* (T, B, I) */
    sg_tensor *h0 = sg_param_use(g, x->h0);    /* (N*D, B, H) */
    sg_tensor *c0 = lstm ? sg_param_use(g, x->c0) : NULL;
    sg_cell_state *init = sg_graph_alloc(g, nd * sizeof *init); /* (N*D) arena, zeroed */
    sg_cell_state *fin = sg_graph_alloc(g, nd * sizeof *fin);   /* (N*D) arena, zeroed */
    if (!init || !fin)
        return sg_parity_fail("%s", sg_graph_error(g));
    for (size_t k = 0; k < nd; k++) {
        init[k].h = sg_parity_row(g, h0, k, c->B, c->H);
        init[k].c = lstm ? sg_parity_row(g, c0, k, c->B, c->H) : NULL;
    }
    sg_seq_opts o = sg_seq_opts_defaults();
    o.init = init;
    sg_tensor *y = sg_seq_layers_forward(g, s, xs, &o, fin);        /* (T, B, D*H) */
    sg_tensor *hn = sg_parity_stack(g, fin, nd, false, c->B, c->H); /* (N*D, B, H) */
    sg_tensor *cn = lstm ? sg_parity_stack(g, fin, nd, true, c->B, c->H) : NULL;
    sg_tensor *loss = sg_add(g, sg_sum_all(g, sg_hadamard(g, y, sg_parity_const(g, x->R))),
                             sg_sum_all(g, sg_hadamard(g, hn, sg_parity_const(g, x->S))));
    if (lstm)
        loss = sg_add(g, loss, sg_sum_all(g, sg_hadamard(g, cn, sg_parity_const(g, x->U))));
    if (sg_graph_status(g) != SG_OK || sg_backward(g, loss) != SG_OK)
        return sg_parity_fail("%s", sg_graph_error(g));

    bool ok = sg_parity_put_tensor(out, "output", y) && sg_parity_put_tensor(out, "h_n", hn) &&
              (!lstm || sg_parity_put_tensor(out, "c_n", cn));
    double lv = sg_tensor_get(loss, 0);
    ok = ok && sg_parity_put(out, "loss", SG_SHAPE(1), &lv);
    char name[512];
    for (size_t i = 0; ok && i < ps->n; i++) {
        const sg_param *p = ps->items[i];
        if (p == x->R || p == x->S || p == x->U)
            continue;
        if ((size_t)snprintf(name, sizeof name, "grad/%s", p->name) >= sizeof name)
            return sg_parity_fail("parameter name '%s' is too long", p->name);
        ok = sg_parity_put(out, name, p->shape, p->grad);
    }
    return ok ? 0 : sg_parity_fail("%s", "out of memory building the output set");
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s rnn_tanh|rnn_relu|lstm|gru LAYERS DIRS(1|2) IN.safetensors OUT.safetensors\n",
                argv[0]);
        return 2;
    }
    sg_parity_cfg c = {0};
    if (!sg_parity_parse_kind(argv[1], &c))
        return sg_parity_fail("unknown kind '%s' (rnn_tanh, rnn_relu, rnn_sigmoid, lstm, gru)", argv[1]);
    if (!sg_parity_parse_size(argv[2], &c.layers))
        return sg_parity_fail("LAYERS must be a positive integer, got '%s'", argv[2]);
    if (!sg_parity_parse_size(argv[3], &c.dirs) || c.dirs > 2)
        return sg_parity_fail("DIRS must be 1 or 2, got '%s'", argv[3]);
    if (!sg_parity_read_sizes(argv[4], &c))
        return 1;

    sg_params *ps = sg_params_new(SG_F64);
    sg_params *out = sg_params_new(SG_F64);
    sg_graph *g = sg_graph_new(SG_F64);
    sg_seq_layers s = {0};
    sg_parity_extras x = {0};
    int rc = 1;
    char err[1024];
    sg_seq_config cfg = {
        .kind = c.kind, .act = c.act, .input = c.I, .hidden = c.H, .layers = c.layers, .bidirectional = c.dirs == 2};
    if (!ps || !out || !g)
        sg_parity_fail("%s", "out of memory");
    else if (sg_seq_layers_init(&s, ps, sg_cell_kind_name(c.kind), &cfg) != SG_OK)
        sg_parity_fail("%s", "cannot build the layers (bad sizes?)");
    else if (!sg_parity_add_extras(ps, &c, &x))
        sg_parity_fail("%s", "cannot add the input tensors to the set");
    else if (sg_checkpoint_load(argv[4], ps, NULL, err, sizeof err) != SG_OK)
        sg_parity_fail("%s", err);
    else if ((rc = sg_parity_run(g, ps, &s, &c, &x, out)) == 0 &&
             sg_checkpoint_save(argv[5], out, NULL, err, sizeof err) != SG_OK)
        rc = sg_parity_fail("%s", err);
    sg_seq_layers_free(&s);
    sg_graph_free(g);
    sg_params_free(out);
    sg_params_free(ps);
    return rc;
}
