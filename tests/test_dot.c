/* test_dot.c — graph export to Graphviz (graph/sg_dot.h).
 *
 * A small RNN-like graph: scope "rnn" holds an input h0 and five step scopes
 * "t0".."t4"; each step makes an input x, uses the parameter w (one unscoped
 * leaf for all steps) through sigmoid, takes tanh(x) and h = tanh(0.9 h).  At
 * the top level a constant goes through sigmoid and the loss is 2 h.
 *
 *   tape: h0 | x w sig tanh scale tanh | 4 x (x sig tanh scale tanh) | c sig loss  = 30 entries
 *   op mode:           30 nodes, 22 edges, 6 clusters (rnn, t0..t4)
 *   collapsed depth 2: 5 step nodes + h0, w, c, sig(c), loss = 10 nodes, 12 edges, 1 cluster
 *   collapsed depth 1: rnn + w, c, sig(c), loss = 5 nodes, 3 edges, 0 clusters
 */
#include "sg_test.h"

#include "graph/export/sg_dot.h"

#include <graphviz/cgraph.h>

#include <stdlib.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

enum { STEPS = 5, TAPE_LEN = 30 };

typedef struct fixture {
    char dir[64]; /* temp dir for the files */
    sg_params *ps;
    sg_param *w;
    sg_graph *g;
    sg_tensor *loss;
} fixture;

static sg_tensor *build_rnn(sg_graph *g, sg_param *w)
{
    static const double xdata[6] = {0.1, -0.2, 0.3, -0.4, 0.5, -0.6};
    sg_scope_push(g, "rnn");
    sg_tensor *h = sg_input_f64(g, "h0", SG_SHAPE(2, 3), xdata, true);
    for (size_t t = 0; t < STEPS; t++) {
        sg_scope_push(g, "t%zu", t);
        sg_tensor *x = sg_input_f64(g, "x", SG_SHAPE(2, 3), xdata, true);
        (void)sg_sigmoid(g, sg_param_use(g, w));
        (void)sg_tanh(g, x);
        h = sg_tanh(g, sg_scale(g, h, 0.9));
        sg_scope_pop(g);
    }
    sg_scope_pop(g);
    (void)sg_sigmoid(g, sg_const_fill(g, "c", SG_SCALAR, 0.5));
    return sg_scale(g, h, 2.0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/sg_test_dot_XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->ps = sg_params_new(SG_F64);
    f->w = f->ps ? sg_params_add(f->ps, "w", SG_SHAPE(2, 3)) : NULL;
    f->g = sg_graph_new(SG_F64);
    if (!f->w || !f->g)
        return -1;
    f->loss = build_rnn(f->g, f->w);
    if (!f->loss)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    sg_graph_free(f->g);
    sg_params_free(f->ps);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ---- helpers ------------------------------------------------------------- */

static void path_in(const fixture *f, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", f->dir, name);
}

static void export_ok(sg_graph *g, const char *path, const sg_export_opts *o)
{
    char err[512] = "unset";
    sg_status st = sg_graph_export(g, path, o, err, sizeof err);
    if (st != SG_OK)
        fail_msg("export to %s failed (%s): %s", path, sg_status_str(st), err);
    assert_string_equal(err, "");
}

/* The whole file (NUL-terminated) and its size; the caller frees it. */
static char *slurp(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    *size = (size_t)n;
    return buf;
}

static Agraph_t *read_dot(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    Agraph_t *rg = agread(fp, NULL);
    fclose(fp);
    if (!rg)
        fail_msg("agread could not read %s", path);
    return rg;
}

static void dot_parses(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "dot -Tcanon '%s' > /dev/null", path);
    if (system(cmd) != 0)
        fail_msg("`%s` failed", cmd);
}

static size_t count_prefix(Agraph_t *rg, char prefix)
{
    size_t n = 0;
    for (Agnode_t *v = agfstnode(rg); v; v = agnxtnode(rg, v))
        if (agnameof(v)[0] == prefix)
            n++;
    return n;
}

/* All subgraphs named cluster_*, at any depth (explicit stack). */
static size_t count_clusters(Agraph_t *rg)
{
    Agraph_t *stack[256];
    size_t top = 0, n = 0;
    stack[top++] = rg;
    while (top > 0) {
        Agraph_t *s = stack[--top];
        for (Agraph_t *c = agfstsubg(s); c; c = agnxtsubg(c)) {
            if (strncmp(agnameof(c), "cluster_s", 9) == 0)
                n++;
            assert_true(top < 256);
            stack[top++] = c;
        }
    }
    return n;
}

static const char *node_attr(Agraph_t *rg, const char *node, const char *attr)
{
    Agnode_t *v = agnode(rg, (char *)node, 0);
    if (!v)
        fail_msg("node %s not found", node);
    const char *val = agget(v, (char *)attr);
    return val ? val : "";
}

/* Checks an exported .dot against the stats of the same options. */
static void check_dot_matches_stats(sg_graph *g, const char *path, const sg_export_opts *o, Agraph_t *rg)
{
    sg_export_stats st;
    char err[256];
    assert_int_equal(sg_graph_export_stats(g, o, &st, err, sizeof err), SG_OK);
    assert_int_equal((size_t)agnnodes(rg), st.n_nodes);
    assert_int_equal((size_t)agnedges(rg), st.n_edges);
    assert_int_equal(count_clusters(rg), st.n_clusters);
    assert_int_equal(count_prefix(rg, 's'), st.n_collapsed);
    (void)path;
}

/* ---- tests --------------------------------------------------------------- */

static void test_formats(void **state)
{
    fixture *f = *state;
    assert_int_equal(sg_graph_tape_len(f->g), TAPE_LEN);
    sg_export_opts o = sg_export_defaults();
    o.title = "tiny rnn";
    char p[256];
    static const char *const names[] = {"g.dot", "g.svg", "g.png", "G.PNG"};
    for (size_t i = 0; i < 4; i++) {
        path_in(f, names[i], p, sizeof p);
        export_ok(f->g, p, &o);
        size_t n;
        char *buf = slurp(p, &n);
        assert_true(n > 0);
        if (strstr(names[i], "png") || strstr(names[i], "PNG")) {
            assert_true(n >= 8);
            assert_memory_equal(buf, "\x89PNG\r\n\x1a\n", 8);
        } else if (strstr(names[i], "svg")) {
            assert_non_null(strstr(buf, "<svg"));
            assert_non_null(strstr(buf, "tiny rnn"));
        } else {
            assert_non_null(strstr(buf, "digraph"));
        }
        free(buf);
    }
    path_in(f, "g.dot", p, sizeof p);
    dot_parses(p);
}

static void test_op_mode(void **state)
{
    fixture *f = *state;
    char p[256];
    path_in(f, "op.dot", p, sizeof p);
    sg_export_opts o = sg_export_defaults();
    export_ok(f->g, p, &o);
    dot_parses(p);
    Agraph_t *rg = read_dot(p);
    assert_int_equal((size_t)agnnodes(rg), sg_graph_tape_len(f->g));
    assert_int_equal(agnedges(rg), 22);
    assert_int_equal(count_clusters(rg), 6);
    assert_int_equal(count_prefix(rg, 's'), 0);
    check_dot_matches_stats(f->g, p, &o, rg);
    /* every tape entry is n<index>; labels are op/leaf name + shape */
    for (size_t i = 0; i < sg_graph_tape_len(f->g); i++) {
        char id[32];
        snprintf(id, sizeof id, "n%zu", i);
        assert_non_null(agnode(rg, id, 0));
    }
    assert_string_equal(node_attr(rg, "n0", "label"), "h0\\n(2, 3)");
    assert_string_equal(node_attr(rg, "n1", "label"), "x\\n(2, 3)");
    assert_string_equal(node_attr(rg, "n2", "label"), "w\\n(2, 3)");
    assert_string_equal(node_attr(rg, "n3", "label"), "sigmoid\\n(2, 3)");
    assert_string_equal(node_attr(rg, "n4", "label"), "tanh\\n(2, 3)");
    assert_string_equal(node_attr(rg, "n5", "label"), "scale\\n(2, 3)");
    assert_string_equal(node_attr(rg, "n27", "label"), "c\\n()");
    /* kinds are drawn distinctly */
    const char *op_fill = node_attr(rg, "n3", "fillcolor");
    const char *kinds[] = {"n0", "n2", "n27", "n29"}; /* input, param, const, loss */
    for (size_t i = 0; i < 4; i++)
        assert_string_not_equal(node_attr(rg, kinds[i], "fillcolor"), op_fill);
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(node_attr(rg, kinds[i], "fillcolor"), node_attr(rg, kinds[j], "fillcolor"));
    assert_string_equal(node_attr(rg, "n29", "shape"), "doubleoctagon");
    assert_string_equal(node_attr(rg, "n2", "shape"), "box");
    /* data flow: x -> tanh(x), w -> sigmoid, h0 -> scale */
    assert_non_null(agedge(rg, agnode(rg, "n1", 0), agnode(rg, "n4", 0), NULL, 0));
    assert_non_null(agedge(rg, agnode(rg, "n2", 0), agnode(rg, "n3", 0), NULL, 0));
    assert_non_null(agedge(rg, agnode(rg, "n0", 0), agnode(rg, "n5", 0), NULL, 0));
    /* the parameter sits at the top level, h0 in cluster rnn, x in rnn/t0 */
    Agraph_t *rnn = agfstsubg(rg);
    assert_non_null(rnn);
    assert_string_equal(agget(rnn, "label"), "rnn");
    assert_null(agnxtsubg(rnn));
    assert_non_null(agnode(rnn, "n0", 0));
    assert_null(agnode(rnn, "n2", 0));
    assert_null(agnode(rnn, "n28", 0));
    Agraph_t *t0 = agsubg(rnn, "cluster_s2", 0);
    assert_non_null(t0);
    assert_string_equal(agget(t0, "label"), "t0");
    assert_non_null(agnode(t0, "n1", 0));
    assert_null(agnode(t0, "n0", 0));
    agclose(rg);
}

static void test_collapsed(void **state)
{
    fixture *f = *state;
    char p[256];
    /* nodes outside the depth-2 scopes */
    size_t outside = 0;
    for (size_t i = 0; i < sg_graph_tape_len(f->g); i++)
        if (sg_scope_depth(sg_graph_tape_at(f->g, i)->scope) < 2)
            outside++;
    assert_int_equal(outside, 5);

    sg_export_opts o = sg_export_defaults();
    o.collapse_depth = 2;
    path_in(f, "c2.dot", p, sizeof p);
    export_ok(f->g, p, &o);
    dot_parses(p);
    Agraph_t *rg = read_dot(p);
    assert_int_equal(count_prefix(rg, 's'), STEPS);
    assert_int_equal((size_t)agnnodes(rg), STEPS + outside);
    /* 12 edges, less the STEPS - 1 that the shared parameter's one compound edge replaces */
    assert_int_equal(agnedges(rg), 12 - (STEPS - 1));
    assert_int_equal(count_clusters(rg), 1);
    check_dot_matches_stats(f->g, p, &o, rg);
    assert_string_equal(agget(rg, "rankdir"), "LR");
    /* one node per step, labelled with the step's name inside the labelled
     * cluster "rnn" (its tooltip has the full path), as a rounded box */
    bool seen[STEPS] = {false};
    for (Agnode_t *v = agfstnode(rg); v; v = agnxtnode(rg, v)) {
        if (agnameof(v)[0] != 's')
            continue;
        unsigned k = 99;
        const char *label = agget(v, "label");
        assert_int_equal(sscanf(label, "t%u", &k), 1);
        assert_true(k < STEPS);
        char tip[64];
        snprintf(tip, sizeof tip, "scope rnn/t%u", k);
        assert_non_null(strstr(agget(v, "tooltip"), tip));
        assert_false(seen[k]);
        seen[k] = true;
        assert_string_equal(agget(v, "shape"), "box");
        assert_non_null(strstr(agget(v, "style"), "rounded"));
        /* collapsed steps sit in the rnn cluster */
        assert_non_null(agnode(agfstsubg(rg), agnameof(v), 0));
    }
    /* the parameter stays visible and is drawn ONCE into the cluster of the
     * steps it feeds: one compound edge (lhead = the cluster), labelled with
     * the number of steps, ending at the first step */
    Agnode_t *w = agnode(rg, "n2", 0);
    assert_non_null(w);
    assert_int_equal(agdegree(rg, w, 0, 1), 1);
    Agedge_t *we = agfstout(rg, w);
    assert_string_equal(agget(we, "lhead"), agnameof(agfstsubg(rg)));
    char steps_label[32];
    snprintf(steps_label, sizeof steps_label, "%d steps", STEPS);
    assert_string_equal(agget(we, "label"), steps_label);
    assert_string_equal(agget(aghead(we), "label"), "t0");
    assert_string_equal(agget(rg, "compound"), "true");
    agclose(rg);
    path_in(f, "c2.svg", p, sizeof p);
    export_ok(f->g, p, &o);

    /* depth 1: the whole rnn is one node */
    o.collapse_depth = 1;
    sg_export_stats st;
    assert_int_equal(sg_graph_export_stats(f->g, &o, &st, NULL, 0), SG_OK);
    assert_int_equal(st.n_nodes, 5);
    assert_int_equal(st.n_edges, 3);
    assert_int_equal(st.n_clusters, 0);
    assert_int_equal(st.n_collapsed, 1);
    path_in(f, "c1.dot", p, sizeof p);
    export_ok(f->g, p, &o);
    rg = read_dot(p);
    check_dot_matches_stats(f->g, p, &o, rg);
    assert_string_equal(node_attr(rg, "s1", "label"), "rnn");
    agclose(rg);

    /* deeper than any scope: same as op mode */
    o.collapse_depth = 3;
    assert_int_equal(sg_graph_export_stats(f->g, &o, &st, NULL, 0), SG_OK);
    assert_int_equal(st.n_nodes, TAPE_LEN);
    assert_int_equal(st.n_collapsed, 0);
    assert_int_equal(st.n_clusters, 6);
}

static void test_stable_ids(void **state)
{
    fixture *f = *state;
    char a[256], b[256], c[256];
    path_in(f, "a.dot", a, sizeof a);
    path_in(f, "b.dot", b, sizeof b);
    path_in(f, "c.dot", c, sizeof c);
    export_ok(f->g, a, NULL);
    export_ok(f->g, b, NULL);
    /* the same model built in another graph (other pointers) */
    sg_graph *g2 = sg_graph_new(SG_F64);
    assert_non_null(g2);
    assert_non_null(build_rnn(g2, f->w));
    export_ok(g2, c, NULL);
    Agraph_t *ra = read_dot(a), *rb = read_dot(b), *rc = read_dot(c);
    assert_int_equal(agnnodes(ra), agnnodes(rb));
    assert_int_equal(agnnodes(ra), agnnodes(rc));
    for (Agnode_t *v = agfstnode(ra); v; v = agnxtnode(ra, v)) {
        Agnode_t *vb = agnode(rb, agnameof(v), 0), *vc = agnode(rc, agnameof(v), 0);
        assert_non_null(vb);
        assert_non_null(vc);
        assert_string_equal(agget(v, "label"), agget(vb, "label"));
        assert_string_equal(agget(v, "label"), agget(vc, "label"));
    }
    agclose(ra);
    agclose(rb);
    agclose(rc);
    /* the files are identical byte for byte */
    size_t na, nb, nc;
    char *fa = slurp(a, &na), *fb = slurp(b, &nb), *fc = slurp(c, &nc);
    assert_int_equal(na, nb);
    assert_int_equal(na, nc);
    assert_memory_equal(fa, fb, na);
    assert_memory_equal(fa, fc, na);
    free(fa);
    free(fb);
    free(fc);
    sg_graph_free(g2);
}

static void test_grad_norms(void **state)
{
    fixture *f = *state;
    double seed[6] = {1, 1, 1, 1, 1, 1};
    assert_int_equal(sg_backward_seed(f->g, f->loss, seed), SG_OK);
    sg_export_opts o = sg_export_defaults();
    o.grad_norms = true;
    char p[256];
    path_in(f, "grad.dot", p, sizeof p);
    export_ok(f->g, p, &o);
    dot_parses(p);
    Agraph_t *rg = read_dot(p);
    assert_string_equal(node_attr(rg, "n29", "label"), "scale\\n(2, 3)\\n|g|=2.45"); /* sqrt(6) */
    assert_non_null(strstr(node_attr(rg, "n2", "label"), "|g|="));                   /* param */
    assert_non_null(strstr(node_attr(rg, "n0", "label"), "|g|="));                   /* h0: input with requires_grad */
    assert_null(strstr(node_attr(rg, "n27", "label"), "|g|"));                       /* constant */
    assert_null(strstr(node_attr(rg, "n28", "label"), "|g|"));                       /* sigmoid of a constant */
    agclose(rg);
    path_in(f, "grad.svg", p, sizeof p);
    export_ok(f->g, p, &o);
}

static void test_errors(void **state)
{
    fixture *f = *state;
    char p[256], err[256];
    struct stat sb;
    /* unknown or missing extension: an error, and no file */
    static const char *const bad[] = {"g.txt", "g", "g.dot.bak", "g.pdf", ".png"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        path_in(f, bad[i], p, sizeof p);
        err[0] = '\0';
        assert_int_equal(sg_graph_export(f->g, p, NULL, err, sizeof err), SG_ERR_ARG);
        assert_true(sg_contains(err, "extension"));
        assert_int_not_equal(stat(p, &sb), 0);
    }
    /* unwritable: missing directory, and a directory in the way */
    path_in(f, "no/such/dir/g.svg", p, sizeof p);
    assert_int_equal(sg_graph_export(f->g, p, NULL, err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "cannot create temporary file"));
    assert_true(sg_contains(err, p));
    path_in(f, "adir.png", p, sizeof p);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(sg_graph_export(f->g, p, NULL, err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "renaming temporary file"));
    assert_true(stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)); /* what was there is still there */
    /* a failed write (a full disk, here a file-size limit) is an error, not an
     * exit; the file saved before is untouched and no temporary file is left */
    path_in(f, "full.svg", p, sizeof p);
    FILE *old = fopen(p, "w");
    assert_non_null(old);
    fputs("old", old);
    fclose(old);
    struct rlimit lim, small = {.rlim_cur = 64, .rlim_max = RLIM_INFINITY};
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &lim), 0);
    small.rlim_max = lim.rlim_max;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    sg_status wst = sg_graph_export(f->g, p, NULL, err, sizeof err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(wst, SG_ERR_IO);
    assert_true(sg_contains(err, "failed"));
    assert_true(stat(p, &sb) == 0 && sb.st_size == 3);
    char tmp_name[600];
    snprintf(tmp_name, sizeof tmp_name, "%s.tmp.%ld", p, (long)getpid());
    assert_int_not_equal(stat(tmp_name, &sb), 0);
    /* a small buffer is truncated, never overrun; a NULL buffer is fine */
    char tiny[8];
    memset(tiny, 'x', sizeof tiny);
    assert_int_equal(sg_graph_export(f->g, "x.txt", NULL, tiny, 5), SG_ERR_ARG);
    assert_int_equal(strlen(tiny), 4);
    assert_int_equal(tiny[5], 'x');
    assert_int_equal(sg_graph_export(f->g, "x.txt", NULL, NULL, 0), SG_ERR_ARG);
    /* bad arguments */
    assert_int_equal(sg_graph_export(NULL, "x.dot", NULL, err, sizeof err), SG_ERR_ARG);
    assert_int_equal(sg_graph_export(f->g, NULL, NULL, err, sizeof err), SG_ERR_ARG);
    assert_int_equal(sg_graph_export(f->g, "", NULL, err, sizeof err), SG_ERR_ARG);
    sg_export_opts o = sg_export_defaults();
    o.rankdir = "sideways";
    assert_int_equal(sg_graph_export_stats(f->g, &o, &(sg_export_stats){0}, err, sizeof err), SG_ERR_ARG);
    assert_true(sg_contains(err, "rankdir"));
    sg_graph *g2 = sg_graph_new(SG_F64);
    assert_non_null(g2);
    o = sg_export_defaults();
    o.loss = sg_input_f64(g2, "other", SG_SHAPE(1), NULL, false);
    assert_int_equal(sg_graph_export_stats(f->g, &o, &(sg_export_stats){0}, err, sizeof err), SG_ERR_ARG);
    assert_true(sg_contains(err, "loss"));
    /* an empty graph exports as an empty picture */
    path_in(f, "empty.dot", p, sizeof p);
    sg_graph_reset(g2);
    export_ok(g2, p, NULL);
    Agraph_t *rg = read_dot(p);
    assert_int_equal(agnnodes(rg), 0);
    agclose(rg);
    sg_graph_free(g2);
}

/* Names with quotes, backslashes, label escapes, HTML-ish text, control bytes
 * and invalid UTF-8 must give a DOT file that parses and reads back. */
static void test_escaping(void **state)
{
    fixture *f = *state;
    sg_graph *g = sg_graph_new(SG_F64);
    assert_non_null(g);
    sg_scope_push(g, "%s", "sc\\");
    sg_tensor *a = sg_input_f64(g, "we\"ird\\", SG_SHAPE(1), NULL, false);
    sg_tensor *b = sg_input_f64(g, "x\\N<b>&amp;\\\"", SG_SHAPE(1), NULL, false);
    sg_tensor *c = sg_input_f64(g, "bad\xff\x01nl\nend \xc3\xa9", SG_SHAPE(1), NULL, false);
    sg_scope_pop(g);
    assert_non_null(sg_tanh(g, a));
    assert_non_null(sg_tanh(g, b));
    assert_non_null(sg_tanh(g, c));
    SG_ASSERT_GRAPH_OK(g);
    sg_export_opts o = sg_export_defaults();
    o.title = "title \\G \"q\" \\";
    char p[256];
    path_in(f, "esc.dot", p, sizeof p);
    export_ok(g, p, &o);
    dot_parses(p);
    Agraph_t *rg = read_dot(p);
    assert_string_equal(node_attr(rg, "n0", "label"), "we\"ird\\\\ \\n(1)");
    assert_string_equal(node_attr(rg, "n1", "label"), "x\\\\N<b>&amp;\\\\ \"\\n(1)");
    assert_string_equal(node_attr(rg, "n2", "label"), "bad??nl?end \xc3\xa9\\n(1)");
    assert_string_equal(agget(agfstsubg(rg), "label"), "sc\\\\ ");
    assert_string_equal(agget(rg, "label"), "title \\\\G \"q\" \\\\ ");
    agclose(rg);
    path_in(f, "esc.svg", p, sizeof p);
    export_ok(g, p, &o);
    path_in(f, "esc.png", p, sizeof p);
    export_ok(g, p, &o);
    o.collapse_depth = 1;
    path_in(f, "esc_c.dot", p, sizeof p);
    export_ok(g, p, &o);
    dot_parses(p);
    sg_graph_free(g);
}

/* A 2-layer, 35-step recurrent chain collapsed at depth 2: one node per cell and step. */
static void test_long_chain_collapsed(void **state)
{
    fixture *f = *state;
    enum { T = 35, L = 2 };
    sg_graph *g = sg_graph_new(SG_F64);
    assert_non_null(g);
    sg_tensor *x[T];
    for (size_t t = 0; t < T; t++)
        x[t] = sg_input_f64(g, "x", SG_SHAPE(4, 8), NULL, false);
    for (size_t l = 0; l < L; l++) {
        sg_tensor *h = sg_const_fill(g, "h0", SG_SHAPE(4, 8), 0.0);
        sg_scope_push(g, "lstm.l%zu", l);
        for (size_t t = 0; t < T; t++) {
            sg_scope_push(g, "t%zu", t);
            sg_tensor *gi = sg_sigmoid(g, sg_param_use(g, f->w));
            sg_tensor *in = sg_tanh(g, x[t]);
            sg_tensor *hh = sg_tanh(g, sg_scale(g, h, 0.5));
            (void)gi;
            (void)in;
            x[t] = sg_sigmoid(g, hh); /* feeds the next layer */
            h = hh;
            sg_scope_pop(g);
        }
        sg_scope_pop(g);
    }
    SG_ASSERT_GRAPH_OK(g);
    sg_export_opts o = sg_export_defaults();
    o.collapse_depth = 2;
    sg_export_stats st;
    assert_int_equal(sg_graph_export_stats(g, &o, &st, NULL, 0), SG_OK);
    assert_int_equal(st.n_collapsed, T * L);
    assert_int_equal(st.n_clusters, L);
    /* outside: T inputs, L initial states, the parameter */
    assert_int_equal(st.n_nodes, T * L + T + L + 1);
    char p[256];
    path_in(f, "lstm.svg", p, sizeof p);
    export_ok(g, p, &o);
    o.collapse_depth = 0;
    assert_int_equal(sg_graph_export_stats(g, &o, &st, NULL, 0), SG_OK);
    assert_int_equal(st.n_nodes, sg_graph_tape_len(g));
    assert_int_equal(st.n_clusters, L + T * L);
    sg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_op_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collapsed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stable_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grad_norms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_chain_collapsed, setup, teardown),
    };
    return cmocka_run_group_tests_name("dot", tests, NULL, NULL);
}
