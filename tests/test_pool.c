/* test_pool.c — the engine's worker pool (graph/exec/sg_pool.h) and the
 * kernels that cut their work over it: every task runs exactly once, a job
 * posted from inside a task or from a second thread runs in its caller, the
 * shares partition a range; the large matmul (cut by rows and by columns), a
 * batch of small products (cut by products),
 * addmm and cross-entropy give the same bytes twice at the same thread count
 * and agree to rounding with one thread; and an f64 gradient check passes with the work cut. */
#include "sg_test.h"

#include "graph/exec/sg_pool.h"
#include "graph/gradcheck/sg_gradcheck.h"
#include "ops/sg_ops.h"
#include "ops/sg_threads.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static void test_share_partitions(void **s)
{
    (void)s;
    /* the last two would overflow count * i */
    const size_t counts[] = {0, 1, 7, 16, 17, 400, 10000, SIZE_MAX / 3 + 7, SIZE_MAX};
    const size_t aligns[] = {1, 8, 16};
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
        for (size_t a = 0; a < 3; a++)
            for (size_t n = 1; n <= 5; n++) {
                size_t expect = 0;
                for (size_t i = 0; i < n; i++) {
                    size_t lo, hi;
                    sg_pool_share(counts[c], aligns[a], i, n, &lo, &hi);
                    assert_int_equal(lo, expect); /* contiguous, in order */
                    assert_true(hi >= lo);
                    if (i + 1 < n && hi < counts[c])
                        assert_int_equal(hi % aligns[a], 0);
                    /* balanced: no share above ceil(blocks / n) blocks */
                    size_t blocks = counts[c] / aligns[a] + (counts[c] % aligns[a] != 0);
                    assert_true((hi - lo) / aligns[a] <= blocks / n + (blocks % n != 0));
                    expect = hi;
                }
                assert_int_equal(expect, counts[c]); /* covers the whole range */
            }
}

typedef struct counts {
    atomic_int hit[1000];
    atomic_int nested;
} counts;

static void count_task(void *ctx, size_t i, size_t n)
{
    counts *c = ctx;
    assert_int_equal(n, 1000);
    atomic_fetch_add(&c->hit[i], 1);
}

static void inner_task(void *ctx, size_t i, size_t n)
{
    (void)i;
    (void)n;
    atomic_fetch_add(&((counts *)ctx)->nested, 1);
}

static void outer_task(void *ctx, size_t i, size_t n)
{
    (void)i;
    (void)n;
    sg_pool_run(inner_task, ctx, 10); /* the pool is busy: runs here */
}

static void *second_caller(void *ctx)
{
    for (int r = 0; r < 200; r++)
        sg_pool_run(count_task, ctx, 1000);
    return NULL;
}

static void test_run_every_task_once(void **s)
{
    (void)s;
    assert_int_equal(sg_pool_set_threads(0), SG_ERR_ARG);
    assert_int_equal(sg_pool_set_threads(SG_POOL_MAX_THREADS + 1), SG_ERR_ARG);
    for (size_t threads = 1; threads <= 4; threads++) {
        assert_int_equal(sg_pool_set_threads(threads), SG_OK);
        assert_int_equal(sg_pool_threads(), threads);
        static counts c;
        memset(&c, 0, sizeof c);
        for (int r = 0; r < 500; r++)
            sg_pool_run(count_task, &c, 1000);
        for (size_t i = 0; i < 1000; i++)
            assert_int_equal(atomic_load(&c.hit[i]), 500);
        sg_pool_run(outer_task, &c, 7);
        assert_int_equal(atomic_load(&c.nested), 70);
        /* two callers at once: one gets the pool, the other runs its own tasks */
        memset(&c, 0, sizeof c);
        pthread_t other;
        assert_int_equal(pthread_create(&other, NULL, second_caller, &c), 0);
        for (int r = 0; r < 200; r++)
            sg_pool_run(count_task, &c, 1000);
        assert_int_equal(pthread_join(other, NULL), 0);
        for (size_t i = 0; i < 1000; i++)
            assert_int_equal(atomic_load(&c.hit[i]), 400);
    }
    assert_int_equal(sg_pool_set_threads(1), SG_OK);
}

/* Shapes above the kernels' cutting thresholds (PTB-like, smaller). */
enum { M = 120, K = 90, N = 700, R = 20, RK = 100, RN = 400, BB = 64, BK = 40, BN = 30 };

typedef struct outputs {
    float y[M * N], gx[M * K], gw[N * K], gb[N];      /* addmm + cross-entropy */
    float z[R * RN], ga[R * RK], gm[RK * RN];         /* a wide matmul: cut by columns */
    float bz[BB * BN], gq[BB * BK], gk[BB * BK * BN]; /* a batch of small products: cut by products */
    float loss;
} outputs;

static sg_tensor *input(sg_graph *g, const char *name, sg_shape shape, uint64_t seed, double scale)
{
    static float v[M * N];
    size_t n = 1;
    for (int d = 0; d < shape.ndim; d++)
        n *= shape.d[d];
    assert_true(n <= M * N);
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(scale * (2 * sg_rng_uniform(&rng) - 1));
    return sg_input_f32(g, name, shape, v, true);
}

static void run_once(size_t threads, outputs *o)
{
    assert_int_equal(sg_threads_set(threads), SG_OK);
    sg_graph *g = sg_graph_new(SG_F32);
    sg_tensor *x = input(g, "x", SG_SHAPE(M, K), 1, 1.0), *w = input(g, "w", SG_SHAPE(N, K), 2, 0.3);
    sg_tensor *b = input(g, "b", SG_SHAPE(N), 3, 0.1);
    sg_tensor *a = input(g, "a", SG_SHAPE(R, RK), 4, 1.0), *mm = input(g, "m", SG_SHAPE(RK, RN), 5, 0.2);
    int32_t t[M];
    for (size_t i = 0; i < M; i++)
        t[i] = i % 9 == 0 ? SG_IGNORE_TARGET : (int32_t)((i * 37) % N);
    sg_tensor *y = sg_addmm(g, x, w, b, true); /* (M, N) */
    sg_tensor *ce = sg_cross_entropy(g, y, sg_ids(g, "t", SG_SHAPE(M), t), SG_REDUCE_SUM);
    sg_tensor *z = sg_matmul(g, a, mm); /* (R, RN): more columns than rows */
    sg_tensor *q = input(g, "q", SG_SHAPE(BB, 1, BK), 6, 1.0), *kk = input(g, "k", SG_SHAPE(BB, BK, BN), 7, 0.5);
    sg_tensor *bz = sg_matmul(g, q, kk); /* (BB, 1, BN), as attention scores are */
    sg_tensor *loss =
        sg_add(g, sg_add(g, ce, sg_sum_all(g, sg_hadamard(g, z, z))), sg_sum_all(g, sg_hadamard(g, bz, bz)));
    SG_ASSERT_GRAPH_OK(g);
    assert_int_equal(sg_backward(g, loss), SG_OK);
    memcpy(o->y, y->data, sizeof o->y);
    memcpy(o->gx, x->grad, sizeof o->gx);
    memcpy(o->gw, w->grad, sizeof o->gw);
    memcpy(o->gb, b->grad, sizeof o->gb);
    memcpy(o->z, z->data, sizeof o->z);
    memcpy(o->ga, a->grad, sizeof o->ga);
    memcpy(o->gm, mm->grad, sizeof o->gm);
    memcpy(o->bz, bz->data, sizeof o->bz);
    memcpy(o->gq, q->grad, sizeof o->gq);
    memcpy(o->gk, kk->grad, sizeof o->gk);
    o->loss = *(float *)loss->data;
    sg_graph_free(g);
}

static void test_same_bytes_at_any_thread_count(void **s)
{
    (void)s;
    static outputs one, again, other;
    run_once(1, &one);
    for (size_t threads = 2; threads <= 3; threads++) {
        run_once(threads, &other);
        run_once(threads, &again);
        assert_memory_equal(&other, &again, sizeof other); /* the same count: the same bytes */
        /* against one thread: BLAS may round a product cut in pieces
         * differently, so each array agrees to float rounding (relative to
         * its largest element) */
        double worst = 0;
        const struct {
            const float *p, *q;
            size_t n;
        } arrays[] = {{one.y, other.y, M * N},     {one.gx, other.gx, M * K},
                      {one.gw, other.gw, N * K},   {one.gb, other.gb, N},
                      {one.z, other.z, R * RN},    {one.ga, other.ga, R * RK},
                      {one.gm, other.gm, RK * RN}, {one.bz, other.bz, BB * BN},
                      {one.gq, other.gq, BB * BK}, {one.gk, other.gk, BB * BK * BN},
                      {&one.loss, &other.loss, 1}};
        for (size_t k = 0; k < sizeof arrays / sizeof *arrays; k++) {
            double big = 0, diff = 0;
            for (size_t i = 0; i < arrays[k].n; i++) {
                big = fmax(big, fabs((double)arrays[k].p[i]));
                diff = fmax(diff, fabs((double)arrays[k].p[i] - (double)arrays[k].q[i]));
            }
            worst = fmax(worst, diff / big);
        }
        print_message("  %zu threads: the same bytes twice; against 1 thread, max difference %.2e of the largest\n",
                      threads, worst);
        assert_true(worst < 1e-5);
    }
    assert_int_equal(sg_threads_set(1), SG_OK);
}

/* Elementwise and shape ops are cut by elements or rows (sg_kernel.h's ranged kernels):
 * each element is computed as in one pass, so every thread count gives the
 * one-thread bytes, values and gradients.  (EM, EN) is above the cutting
 * threshold; the cases: unary, same-shape binary (forward and VJP cut), a
 * bias row (forward cut by rows, VJP one task) and a scalar factor (forward
 * cut within the single row, VJP one task). */
enum { EM = 200, EN = 300 };

typedef struct elementwise_out {
    float y[EM * EN], gx[EM * EN], gh[EM * EN], gb[EN], gs, loss;
} elementwise_out;

static void run_elementwise(size_t threads, elementwise_out *o)
{
    assert_int_equal(sg_threads_set(threads), SG_OK);
    sg_graph *g = sg_graph_new(SG_F32);
    sg_tensor *x = input(g, "x", SG_SHAPE(EM, EN), 11, 3.0), *h = input(g, "h", SG_SHAPE(EM, EN), 12, 2.0);
    sg_tensor *b = input(g, "b", SG_SHAPE(EN), 13, 1.0), *sc = input(g, "s", SG_SHAPE(1), 14, 1.0);
    sg_tensor *w = sg_hadamard(g, sg_sigmoid(g, x), sg_tanh(g, h));
    sg_tensor *q = sg_scale(g, sg_sub(g, sg_add(g, w, b), x), 0.5);
    sg_tensor *y = sg_hadamard(g, sg_log_sigmoid(g, q), sc);
    /* shape ops: transpose (cut by rows of its input), split into slices and
     * concat (by blocks before the axis), reshape (by elements) */
    sg_tensor *halves[2], *tr = sg_transpose(g, y); /* (EN, EM) */
    assert_int_equal(sg_split(g, tr, 1, 2, halves), SG_OK);
    sg_tensor *swapped[2] = {halves[1], halves[0]};
    sg_tensor *r = sg_reshape(g, sg_concat(g, swapped, 2, 1), SG_SHAPE(EM, EN));
    sg_tensor *loss = sg_sum_all(g, sg_hadamard(g, r, y));
    SG_ASSERT_GRAPH_OK(g);
    assert_int_equal(sg_backward(g, loss), SG_OK);
    memcpy(o->y, r->data, sizeof o->y);
    memcpy(o->gx, x->grad, sizeof o->gx);
    memcpy(o->gh, h->grad, sizeof o->gh);
    memcpy(o->gb, b->grad, sizeof o->gb);
    o->gs = *(float *)sc->grad;
    o->loss = *(float *)loss->data;
    sg_graph_free(g);
}

static void test_elementwise_same_bytes(void **s)
{
    (void)s;
    static elementwise_out one, other;
    run_elementwise(1, &one);
    for (size_t threads = 2; threads <= 4; threads++) {
        run_elementwise(threads, &other);
        assert_memory_equal(&one, &other, sizeof one);
    }
    assert_true(one.loss > 0 && one.gs != 0);
    assert_int_equal(sg_threads_set(1), SG_OK);
}

typedef struct gc_ctx {
    sg_param *x, *w, *b;
    int32_t t[64];
} gc_ctx;

static sg_tensor *gc_loss(sg_graph *g, void *p)
{
    gc_ctx *c = p;
    sg_tensor *y = sg_addmm(g, sg_param_use(g, c->x), sg_param_use(g, c->w), sg_param_use(g, c->b), false);
    return sg_cross_entropy(g, y, sg_ids(g, "t", SG_SHAPE(64), c->t), SG_REDUCE_MEAN); /* y (64, 130): cut */
}

static void test_gradcheck_cut(void **s)
{
    (void)s;
    assert_int_equal(sg_threads_set(3), SG_OK);
    sg_params *ps = sg_params_new(SG_F64);
    gc_ctx c = {sg_params_add(ps, "x", SG_SHAPE(64, 40)),
                sg_params_add(ps, "w", SG_SHAPE(40, 130)),
                sg_params_add(ps, "b", SG_SHAPE(130)),
                {0}};
    assert_true(c.x && c.w && c.b);
    sg_rng rng;
    sg_rng_seed(&rng, 7);
    sg_param *all[3] = {c.x, c.w, c.b};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < all[k]->numel; i++)
            sg_param_set(all[k], i, 2 * sg_rng_uniform(&rng) - 1);
    for (int i = 0; i < 64; i++)
        c.t[i] = i % 13 == 0 ? SG_IGNORE_TARGET : (int32_t)((i * 11) % 130);
    sg_graph *g = sg_graph_new(SG_F64);
    sg_gradcheck_opts o = sg_gradcheck_defaults();
    o.max_per_tensor = 200;
    sg_gradcheck_report r, t;
    assert_int_equal(sg_gradcheck_model(g, ps, gc_loss, &c, &o, &r), SG_OK);
    if (!r.passed)
        fail_msg("model mode at 3 threads: %.3g at %s", r.max_rel_err, r.where);
    assert_int_equal(sg_gradcheck_tape(g, NULL, &t), SG_OK);
    if (!t.passed)
        fail_msg("per-op at 3 threads: %.3g at %s", t.max_rel_err, t.where);
    print_message("  addmm + cross-entropy cut over 3 threads: %zu elements, model %.2e, per-op %.2e\n", r.n_checked,
                  r.max_rel_err, t.max_rel_err);
    sg_graph_free(g);
    sg_params_free(ps);
    assert_int_equal(sg_threads_set(1), SG_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_partitions), cmocka_unit_test(test_run_every_task_once),
        cmocka_unit_test(test_same_bytes_at_any_thread_count), cmocka_unit_test(test_elementwise_same_bytes),
        cmocka_unit_test(test_gradcheck_cut)};
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
