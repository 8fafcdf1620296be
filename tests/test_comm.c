/* test_comm.c — the reverse pass's grad-ready hook and the bucketed gradient
 * sync (graph/comm/sg_grad_sync.h), over the one-rank communicator and over
 * a "twin" communicator that plays a second rank with the same gradients
 * (a sum doubles every value) and records the order reductions start in.
 * The sync over real ranks is tests/cli_dist.sh. */
#include "sg_test.h"

#include "graph/comm/sg_comm.h"
#include "graph/comm/sg_grad_sync.h"
#include "graph/core/sg_alloc.h"

/* ---- the twin communicator ------------------------------------------------ */

typedef struct twin {
    size_t started[64]; /* slots in the order they were started */
    size_t n_started;
    size_t n_blocking;
} twin;

static void twin_double(void *buf, size_t n, sg_comm_type type)
{
    if (type == SG_COMM_F64)
        for (size_t i = 0; i < n; i++)
            ((double *)buf)[i] *= 2;
    else if (type == SG_COMM_F32)
        for (size_t i = 0; i < n; i++)
            ((float *)buf)[i] *= 2;
}

static sg_status twin_allreduce(sg_comm *c, void *buf, size_t n, sg_comm_type type, sg_comm_op op)
{
    twin *t = c->impl;
    t->n_blocking++;
    if (op == SG_COMM_SUM)
        twin_double(buf, n, type);
    return SG_OK;
}

static sg_status twin_reserve(sg_comm *c, size_t n)
{
    (void)c;
    return n <= 64 ? SG_OK : SG_ERR_NOMEM;
}

static sg_status twin_iallreduce(sg_comm *c, size_t slot, void *buf, size_t n, sg_comm_type type, sg_comm_op op)
{
    twin *t = c->impl;
    t->started[t->n_started++] = slot;
    if (op == SG_COMM_SUM)
        twin_double(buf, n, type);
    return SG_OK;
}

static sg_status twin_test(sg_comm *c, size_t slot, bool *done)
{
    (void)c, (void)slot;
    *done = true;
    return SG_OK;
}

static sg_status twin_wait(sg_comm *c, size_t slot)
{
    (void)c, (void)slot;
    return SG_OK;
}

static void twin_abort(sg_comm *c, int code) { (void)c, (void)code; }

static void twin_free(sg_comm *c) { (void)c; }

static const sg_comm_ops twin_ops = {"twin",    twin_allreduce, twin_reserve, twin_iallreduce,
                                     twin_test, twin_wait,      twin_abort,   twin_free};

/* ---- a small model --------------------------------------------------------- */

typedef struct model {
    sg_params *ps;
    sg_param *U, *E, *W1, *W2; /* U (2) is never used; E (10, 3) is listed */
} model;

/* Registered U, E, W1, W2 (input to output), or with output_first W2, W1, E, U. */
static void model_init_order(model *m, bool output_first)
{
    m->ps = sg_params_new(SG_F64);
    assert_non_null(m->ps);
    if (output_first) {
        m->W2 = sg_params_add(m->ps, "W2", SG_SHAPE(4, 2));
        m->W1 = sg_params_add(m->ps, "W1", SG_SHAPE(3, 4));
    }
    m->U = sg_params_add(m->ps, "U", SG_SHAPE(2));
    m->E = sg_params_add(m->ps, "E", SG_SHAPE(10, 3));
    if (!output_first) {
        m->W1 = sg_params_add(m->ps, "W1", SG_SHAPE(3, 4));
        m->W2 = sg_params_add(m->ps, "W2", SG_SHAPE(4, 2));
    }
    assert_true(m->U && m->E && m->W1 && m->W2);
    sg_rng r;
    sg_rng_seed(&r, 7);
    for (size_t k = 0; k < m->ps->n; k++)
        for (size_t i = 0; i < m->ps->items[k]->numel; i++)
            sg_param_set(m->ps->items[k], i, sg_rng_range(&r, -1, 1));
    sg_param_set_grad_listed(m->E, true);
}

static void model_init(model *m) { model_init_order(m, false); }

static size_t g_gather_index; /* the gather's tape index: the reverse pass's last work */

/* loss = sum(tanh(E[ids] W1) W2 * r); tape: gather, matmul W1, tanh, matmul W2, hadamard, sum. */
static sg_tensor *model_loss(sg_graph *g, model *m)
{
    static const int32_t ids[5] = {1, 4, 4, 9, 0};
    double r[10];
    for (int i = 0; i < 10; i++)
        r[i] = 0.1 * (i - 4);
    sg_tensor *x = sg_gather_rows(g, sg_param_use(g, m->E), sg_ids(g, "ids", SG_SHAPE(5), ids));
    g_gather_index = x ? x->tape_index : 0;
    sg_tensor *h = sg_tanh(g, sg_matmul(g, x, sg_param_use(g, m->W1)));
    sg_tensor *y = sg_matmul(g, h, sg_param_use(g, m->W2));
    return sg_sum_all(g, sg_hadamard(g, y, sg_input_f64(g, "r", SG_SHAPE(5, 2), r, false)));
}

/* The gradients of one plain backward, in registration order, flushed. */
static void model_grads(model *m, double *out)
{
    sg_graph *g = sg_graph_new(SG_F64);
    sg_params_zero_grad(m->ps);
    sg_tensor *loss = model_loss(g, m);
    SG_ASSERT_GRAPH_OK(g);
    assert_int_equal(sg_backward(g, loss), SG_OK);
    sg_params_grad_flush_lists(m->ps);
    size_t at = 0;
    for (size_t k = 0; k < m->ps->n; k++)
        for (size_t i = 0; i < m->ps->items[k]->numel; i++)
            out[at++] = sg_param_grad_get(m->ps->items[k], i);
    sg_graph_free(g);
}

/* ---- the hook --------------------------------------------------------------- */

typedef struct ready_log {
    sg_param *order[8];
    double first[8]; /* each one's grad element 0 (listed: the list flushed) when reported */
    size_t n, nodes, left_expected;
} ready_log;

static void on_ready(void *ctx, sg_param *p, size_t left)
{
    ready_log *l = ctx;
    if (!p) {
        assert_int_equal(left, l->left_expected > 0 ? l->left_expected-- : 0); /* counts down to 0 */
        l->nodes++;
        return;
    }
    if (p->grad_listed)
        sg_param_grad_flush_list(p);
    l->first[l->n] = sg_param_grad_get(p, 0);
    l->order[l->n++] = p;
}

static void test_grad_ready_hook(void **state)
{
    (void)state;
    model m;
    model_init(&m);
    double want[64];
    model_grads(&m, want);
    sg_graph *g = sg_graph_new(SG_F64);
    ready_log log = {0};
    sg_graph_set_grad_ready(g, on_ready, &log);
    sg_params_zero_grad(m.ps);
    sg_tensor *loss = model_loss(g, &m);
    log.left_expected = loss->tape_index - g_gather_index;
    assert_int_equal(sg_backward(g, loss), SG_OK);
    /* the reverse order of first uses, each once; U (unused) never */
    assert_int_equal(log.n, 3);
    assert_ptr_equal(log.order[0], m.W2);
    assert_ptr_equal(log.order[1], m.W1);
    assert_ptr_equal(log.order[2], m.E);
    /* when reported, a gradient was already whole */
    for (size_t k = 0; k < 3; k++)
        assert_true(log.first[k] == sg_param_grad_get(log.order[k], 0));
    assert_true(log.first[0] == want[2 + 30 + 12]); /* W2[0] */
    assert_true(log.first[1] == want[2 + 30]);      /* W1[0] */
    assert_true(log.first[2] == want[2]);           /* E[0] */
    /* one progress call per node of the reverse pass */
    assert_int_equal(log.nodes, sg_graph_tape_len(g));
    /* cleared: nothing is reported */
    sg_graph_set_grad_ready(g, NULL, NULL);
    sg_graph_reset(g);
    log.n = 0;
    loss = model_loss(g, &m);
    assert_int_equal(sg_backward(g, loss), SG_OK);
    assert_int_equal(log.n, 0);
    sg_graph_free(g);
    sg_params_free(m.ps);
}

/* ---- the sync ------------------------------------------------------------- */

static void run_sync(bool overlap, size_t bucket_elems, size_t *n_buckets, size_t *overlapped, twin *t)
{
    model m;
    model_init(&m);
    double want[64], got[64];
    model_grads(&m, want);
    sg_comm c = {.ops = &twin_ops, .impl = t, .rank = 0, .size = 2, .local_size = 2};
    sg_grad_sync_config cfg = {.bucket_bytes = bucket_elems * sizeof(double), .overlap = overlap};
    char err[256];
    sg_grad_sync *s = sg_grad_sync_new(&c, m.ps, &cfg, err, sizeof err);
    assert_non_null(s);
    sg_graph *g = sg_graph_new(SG_F64);
    for (int step = 0; step < 2; step++) { /* the same twice: a step leaves nothing behind */
        memset(t, 0, sizeof *t);
        sg_graph_reset(g);
        sg_params_zero_grad(m.ps);
        assert_int_equal(sg_grad_sync_begin(s, g), SG_OK);
        assert_int_equal(sg_grad_sync_begin(s, g), SG_ERR_STATE); /* not twice */
        sg_tensor *loss = model_loss(g, &m);
        double half = 0.5; /* this rank's share of the loss */
        assert_int_equal(sg_backward_seed(g, loss, &half), SG_OK);
        *overlapped = t->n_started; /* started during backward */
        assert_int_equal(t->n_blocking, 0);
        assert_int_equal(*overlapped, sg_grad_sync_overlapped(s));
        assert_int_equal(sg_grad_sync_end(s), SG_OK);
        /* 0.5 g + 0.5 g (the twin) is g exactly */
        size_t at = 0;
        for (size_t k = 0; k < m.ps->n; k++)
            for (size_t i = 0; i < m.ps->items[k]->numel; i++)
                got[at++] = sg_param_grad_get(m.ps->items[k], i);
        assert_memory_equal(got, want, at * sizeof *got);
        /* every bucket once: the first ones started in bucket order, the rest blocking */
        *n_buckets = sg_grad_sync_buckets(s);
        assert_int_equal(t->n_started + t->n_blocking, *n_buckets + (step == 0)); /* + the order, after step 1 */
        for (size_t b = 0; b < t->n_started; b++)
            assert_int_equal(t->started[b], b);
    }
    assert_int_equal(sg_grad_sync_end(s), SG_ERR_STATE); /* no step open */
    sg_grad_sync_free(s);
    sg_graph_free(g);
    sg_params_free(m.ps);
}

static void test_sync_buckets_overlap(void **state)
{
    (void)state;
    twin t;
    size_t nb, ov;
    /* in reverse order W2 (8) W1 (12) E (30) U (2), in pieces of at most 8:
     * 1 + 2 + 4 + 1 buckets; W2's and W1's start during backward; E's is
     * done with the gather, the pass's last work, so nothing is left to
     * overlap: blocking at the end, as U's (unused) */
    run_sync(true, 8, &nb, &ov, &t);
    assert_int_equal(nb, 8);
    assert_int_equal(ov, 3);
    assert_int_equal(t.n_blocking, 5);
    /* overlap off: every bucket after backward, blocking */
    run_sync(false, 8, &nb, &ov, &t);
    assert_int_equal(nb, 8);
    assert_int_equal(ov, 0);
    assert_int_equal(t.n_blocking, 8);
    /* pieces of one value */
    run_sync(true, 1, &nb, &ov, &t);
    assert_int_equal(nb, 52);
    assert_int_equal(ov, 20);
}

/* Registered output first, the buckets start in the wrong order: nothing
 * can start during the first backward (its first bucket is U's, never
 * ready); from the second step on, they follow the first step's order of
 * readiness (W2, W1, E, then U), and the sums are right at every step. */
static void test_sync_first_step_order(void **state)
{
    (void)state;
    model m;
    model_init_order(&m, true);
    double want[64], got[64];
    model_grads(&m, want);
    twin t;
    sg_comm c = {.ops = &twin_ops, .impl = &t, .rank = 0, .size = 2, .local_size = 2};
    sg_grad_sync_config cfg = {.bucket_bytes = 8 * sizeof(double), .overlap = true};
    char err[256];
    sg_grad_sync *s = sg_grad_sync_new(&c, m.ps, &cfg, err, sizeof err);
    assert_non_null(s);
    sg_graph *g = sg_graph_new(SG_F64);
    size_t allocs = 0;
    for (int step = 0; step < 3; step++) {
        if (step == 1)
            allocs = sg_alloc_count();
        memset(&t, 0, sizeof t);
        sg_graph_reset(g);
        sg_params_zero_grad(m.ps);
        assert_int_equal(sg_grad_sync_begin(s, g), SG_OK);
        sg_tensor *loss = model_loss(g, &m);
        double half = 0.5;
        assert_int_equal(sg_backward_seed(g, loss, &half), SG_OK);
        size_t during = t.n_started;
        assert_int_equal(sg_grad_sync_end(s), SG_OK);
        assert_int_equal(during, step == 0 ? 0 : 3);
        /* the order, sent from rank 0, is one blocking reduction more after the first step */
        assert_int_equal(t.n_started + t.n_blocking, 8 + (step == 0));
        size_t at = 0;
        for (size_t k = 0; k < m.ps->n; k++)
            for (size_t i = 0; i < m.ps->items[k]->numel; i++)
                got[at++] = sg_param_grad_get(m.ps->items[k], i);
        assert_memory_equal(got, want, at * sizeof *got);
    }
    assert_int_equal(sg_alloc_count(), allocs); /* steps 2 and 3, reordering included, allocated nothing */
    sg_grad_sync_free(s);
    sg_graph_free(g);
    sg_params_free(m.ps);
}

static void test_sync_refuses(void **state)
{
    (void)state;
    char err[256];
    sg_comm *c = sg_comm_local_new();
    assert_non_null(c);
    sg_params *empty = sg_params_new(SG_F32);
    assert_null(sg_grad_sync_new(c, empty, NULL, err, sizeof err));
    assert_true(sg_contains(err, "non-empty"));
    sg_grad_sync_config cfg = {.bucket_bytes = 0, .overlap = true};
    sg_param *p = sg_params_add(empty, "p", SG_SHAPE(3));
    assert_non_null(p);
    assert_null(sg_grad_sync_new(c, empty, &cfg, err, sizeof err));
    sg_params *rep = sg_params_replica(empty);
    assert_null(sg_grad_sync_new(c, rep, NULL, err, sizeof err));
    sg_params_free(rep);
    /* one rank: the sum of one is the gradient */
    sg_grad_sync *s = sg_grad_sync_new(c, empty, NULL, err, sizeof err);
    assert_non_null(s);
    sg_graph *g = sg_graph_new(SG_F32);
    assert_int_equal(sg_grad_sync_begin(s, g), SG_OK);
    float *gr = p->grad;
    gr[0] = 4, gr[1] = -8, gr[2] = 1;
    assert_int_equal(sg_grad_sync_end(s), SG_OK); /* p unused on the tape: reduced at the end */
    assert_true(gr[0] == 4 && gr[1] == -8 && gr[2] == 1);
    /* the agreement is the largest code */
    assert_int_equal(sg_comm_agree(c, 3, 1), 3);
    sg_grad_sync_free(s);
    sg_graph_free(g);
    sg_params_free(empty);
    sg_comm_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_ready_hook),
        cmocka_unit_test(test_sync_buckets_overlap),
        cmocka_unit_test(test_sync_first_step_order),
        cmocka_unit_test(test_sync_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
