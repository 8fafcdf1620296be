/* test_checkpoint.c — safetensors checkpoints (graph/sg_checkpoint.h):
 * bit-exact round trips in f32 and f64, training state (Adam/SGD moments,
 * step count, learning rates, RNG, counters, strings) resuming exactly,
 * atomic saves that leave the old file intact on failure, every corruption
 * case named in the message with the parameters left unchanged, and files that
 * Python reads with json + struct alone.
 *
 * Everything is written into a directory made with mkdtemp and removed at the
 * end.  Shapes of the test sets are written next to their parameters. */
#include "sg_test.h"

#include "graph/core/sg_alloc_testing.h"
#include "graph/format/sg_checkpoint.h"
#include "graph/optim/sg_optim.h"

#include <dirent.h>
#include <float.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64]; /* the temp dir of this run */

/* ---- helpers -------------------------------------------------------------- */

static const char *tpath(const char *name)
{
    static char buf[4][384]; /* g_dir (64) + "/" + a file name (up to 256) */
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void write_all(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Number of entries of g_dir whose name contains ".tmp.". */
static int count_tmp_files(void)
{
    DIR *d = opendir(g_dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

/* The usual test set: "enc.W" (3, 4), "enc.b" (4), "dec/W" (4, 2), "s" (),
 * values normal(0, 1) from seed. */
static sg_params *make_set(sg_dtype dt, uint64_t seed)
{
    sg_params *ps = sg_params_new(dt);
    assert_non_null(ps);
    assert_non_null(sg_params_add(ps, "enc.W", SG_SHAPE(3, 4)));
    assert_non_null(sg_params_add(ps, "enc.b", SG_SHAPE(4)));
    assert_non_null(sg_params_add(ps, "dec/W", SG_SHAPE(4, 2)));
    assert_non_null(sg_params_add(ps, "s", SG_SCALAR));
    sg_rng r;
    sg_rng_seed(&r, seed);
    for (size_t i = 0; i < ps->n; i++)
        for (size_t j = 0; j < ps->items[i]->numel; j++)
            sg_param_set(ps->items[i], j, seed ? sg_rng_normal(&r) : 0.0);
    return ps;
}

static void set_grad(sg_param *p, size_t i, double g)
{
    if (p->dtype == SG_F32)
        ((float *)p->grad)[i] = (float)g;
    else
        ((double *)p->grad)[i] = g;
}

/* Gradients drawn from r (so the RNG's position matters for a resume). */
static void random_grads(sg_params *ps, sg_rng *r)
{
    for (size_t i = 0; i < ps->n; i++)
        for (size_t j = 0; j < ps->items[i]->numel; j++)
            set_grad(ps->items[i], j, sg_rng_range(r, -1.0, 1.0));
}

/* A copy of every value and moment of ps (a moment absent is NULL). */
typedef struct snapshot {
    size_t n;
    void *buf[64][3];
    size_t bytes[64];
} snapshot;

static snapshot *snap_take(const sg_params *ps)
{
    snapshot *s = calloc(1, sizeof *s);
    assert_non_null(s);
    assert_true(ps->n <= 64);
    s->n = ps->n;
    for (size_t i = 0; i < ps->n; i++) {
        const sg_param *p = ps->items[i];
        const void *src[3] = {p->value, p->m, p->v};
        s->bytes[i] = p->numel * sg_dtype_size(p->dtype);
        for (int k = 0; k < 3; k++) {
            if (!src[k])
                continue;
            s->buf[i][k] = malloc(s->bytes[i]);
            assert_non_null(s->buf[i][k]);
            memcpy(s->buf[i][k], src[k], s->bytes[i]);
        }
    }
    return s;
}

/* Whether ps holds exactly (bit for bit, moments present or not) the snapshot. */
static bool snap_equal(const snapshot *s, const sg_params *ps)
{
    if (s->n != ps->n)
        return false;
    for (size_t i = 0; i < ps->n; i++) {
        const sg_param *p = ps->items[i];
        const void *cur[3] = {p->value, p->m, p->v};
        for (int k = 0; k < 3; k++) {
            if (!cur[k] != !s->buf[i][k])
                return false;
            if (cur[k] && memcmp(cur[k], s->buf[i][k], s->bytes[i]) != 0)
                return false;
        }
    }
    return true;
}

static void snap_free(snapshot *s)
{
    for (size_t i = 0; i < s->n; i++)
        for (int k = 0; k < 3; k++)
            free(s->buf[i][k]);
    free(s);
}

/* ---- setup ---------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/sg_ckpt_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(g_dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        const char *p = tpath(e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            rmdir(p);
        else
            unlink(p);
    }
    closedir(d);
    return rmdir(g_dir);
}

/* ---- round trips ---------------------------------------------------------- */

/* Values with special bit patterns: -0, denormals, infinities, NaN payload. */
static void fill_special(sg_params *ps)
{
    sg_param *p = ps->items[0]; /* "enc.W" (3, 4) */
    if (ps->dtype == SG_F32) {
        float *v = p->value;
        uint32_t nan_bits = 0x7fc00123u;
        v[0] = -0.0f;
        v[1] = FLT_MIN / 8;
        v[2] = INFINITY;
        v[3] = -INFINITY;
        memcpy(&v[4], &nan_bits, 4);
        v[5] = FLT_MAX;
        v[6] = -FLT_MAX;
        v[7] = 1.0f / 3.0f;
    } else {
        double *v = p->value;
        uint64_t nan_bits = 0x7ff8000000000abcull;
        v[0] = -0.0;
        v[1] = DBL_MIN / 1024;
        v[2] = INFINITY;
        v[3] = -INFINITY;
        memcpy(&v[4], &nan_bits, 8);
        v[5] = DBL_MAX;
        v[6] = -DBL_MAX;
        v[7] = 1.0 / 3.0;
    }
}

static void roundtrip_dtype(sg_dtype dt)
{
    char err[512] = "";
    sg_params *a = make_set(dt, 11);
    fill_special(a);
    const char *path = tpath(dt == SG_F32 ? "rt32.safetensors" : "rt64.safetensors");
    assert_int_equal(sg_checkpoint_save(path, a, NULL, err, sizeof err), SG_OK);
    assert_int_equal(count_tmp_files(), 0);

    sg_params *b = make_set(dt, 0); /* zeros */
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    assert_int_equal(sg_checkpoint_load(path, b, &ck, err, sizeof err), SG_OK);
    snapshot *sa = snap_take(a);
    assert_true(snap_equal(sa, b)); /* bit-exact, no moments appear */
    assert_false(ck.has_optim);
    assert_false(ck.has_rng);
    assert_true(ck.epoch == 0 && ck.step == 0);
    assert_int_equal(ck.n_strings, 0);

    /* deterministic bytes: saving the loaded set gives the same file */
    size_t n1, n2;
    unsigned char *f1 = sg_test_read_all(path, &n1), *f2 = NULL;
    assert_int_equal(sg_checkpoint_save_mem(b, NULL, &f2, &n2, err, sizeof err), SG_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(f1, f2, n1);
    size_t hn = 0;
    for (int k = 0; k < 8; k++)
        hn |= (size_t)f1[k] << (8 * k);
    assert_int_equal((8 + hn) % 8, 0); /* the header is padded: the data section is 8-aligned */
    assert_true(8 + hn <= n1 && f1[8] == '{' && (f1[8 + hn - 1] == ' ' || f1[8 + hn - 1] == '}'));

    /* the other dtype: f32 -> f64 exact; f64 -> f32 is the float cast */
    sg_params *c = make_set(dt == SG_F32 ? SG_F64 : SG_F32, 0);
    if (dt == SG_F64) /* DBL_MAX does not fit f32: named in the message */
    {
        assert_int_equal(sg_checkpoint_load(path, c, NULL, err, sizeof err), SG_ERR_DTYPE);
        assert_true(sg_contains(err, "tensor 'enc.W': element 5 is 1.79769e+308, too large for the f32"));
        ((double *)a->items[0]->value)[5] = 3.0e38;
        ((double *)a->items[0]->value)[6] = -1e-310; /* a denormal that flushes to -0 in f32 */
        assert_int_equal(sg_checkpoint_save(path, a, NULL, err, sizeof err), SG_OK);
    }
    assert_int_equal(sg_checkpoint_load(path, c, NULL, err, sizeof err), SG_OK);
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < a->items[i]->numel; j++) {
            double x = sg_param_get(a->items[i], j), y = sg_param_get(c->items[i], j);
            double want = dt == SG_F32 ? x : (double)(float)x;
            if (isnan(want))
                assert_true(isnan(y));
            else
                assert_memory_equal(&want, &y, sizeof y);
        }
    free(f1);
    sg_free(f2);
    snap_free(sa);
    sg_checkpoint_free(&ck);
    sg_params_free(a);
    sg_params_free(b);
    sg_params_free(c);
}

static void test_roundtrip_f32(void **state)
{
    (void)state;
    roundtrip_dtype(SG_F32);
}

static void test_roundtrip_f64(void **state)
{
    (void)state;
    roundtrip_dtype(SG_F64);
}

/* Adam training interrupted by save/load resumes bit for bit: same moments,
 * step count, learning rate, RNG stream, counters and strings. */
static void test_training_state_resumes_exactly(void **state)
{
    (void)state;
    for (int d = 0; d < 2; d++) {
        sg_dtype dt = d ? SG_F64 : SG_F32;
        char err[512] = "";
        sg_params *a = make_set(dt, 5);
        sg_optim opt;
        sg_adam_config cfg = sg_adam_defaults();
        cfg.lr = 0.01;
        cfg.weight_decay = 1e-4;
        assert_int_equal(sg_optim_init_adam(&opt, &cfg), SG_OK);
        assert_int_equal(sg_optim_set_schedule(&opt, 0.5, 1), SG_OK);
        assert_int_equal(sg_optim_set_epoch(&opt, 3), SG_OK); /* lr = 0.01 * 0.5^2 */
        sg_rng rng;
        sg_rng_seed(&rng, 2024);
        for (int s = 0; s < 3; s++) {
            random_grads(a, &rng);
            assert_int_equal(sg_optim_step(&opt, a), SG_OK);
        }
        sg_checkpoint ck;
        sg_checkpoint_init(&ck);
        ck.has_optim = true;
        ck.optim = opt;
        ck.has_rng = true;
        ck.rng = rng;
        ck.epoch = 3;
        ck.step = 3;
        assert_int_equal(sg_checkpoint_set_string(&ck, "vocab", "<unk> na\xc3\xafve \"quoted\" tab\there\n"), SG_OK);
        assert_int_equal(sg_checkpoint_set_string(&ck, "hidden", "16"), SG_OK);
        const char *path = tpath("train.safetensors");
        assert_int_equal(sg_checkpoint_save(path, a, &ck, err, sizeof err), SG_OK);
        snapshot *at_save = snap_take(a);

        /* the original run continues for 2 steps */
        sg_rng rng_a = rng;
        for (int s = 0; s < 2; s++) {
            random_grads(a, &rng_a);
            assert_int_equal(sg_optim_step(&opt, a), SG_OK);
        }

        /* a fresh run loads and continues */
        sg_params *b = make_set(dt, 0);
        sg_checkpoint got;
        sg_checkpoint_init(&got);
        assert_int_equal(sg_checkpoint_set_string(&got, "stale", "x"), SG_OK); /* replaced by the load */
        assert_int_equal(sg_checkpoint_load(path, b, &got, err, sizeof err), SG_OK);
        assert_true(snap_equal(at_save, b)); /* values and Adam moments m, v bit-exact */
        assert_true(got.has_optim && got.has_rng);
        assert_int_equal(got.optim.kind, SG_OPTIM_ADAM);
        assert_int_equal(got.optim.t, 3);
        assert_true(got.optim.lr == 0.0025 && got.optim.lr == ck.optim.lr);
        assert_true(got.optim.base_lr == 0.01 && got.optim.decay == 0.5 && got.optim.decay_start == 1);
        assert_true(got.optim.adam.lr == cfg.lr && got.optim.adam.beta1 == cfg.beta1 &&
                    got.optim.adam.beta2 == cfg.beta2 && got.optim.adam.eps == cfg.eps &&
                    got.optim.adam.weight_decay == cfg.weight_decay);
        assert_memory_equal(got.rng.s, rng.s, sizeof rng.s);
        assert_true(got.epoch == 3 && got.step == 3);
        assert_int_equal(got.n_strings, 2);
        assert_null(sg_checkpoint_get_string(&got, "stale"));
        assert_string_equal(sg_checkpoint_get_string(&got, "vocab"), "<unk> na\xc3\xafve \"quoted\" tab\there\n");
        assert_string_equal(sg_checkpoint_get_string(&got, "hidden"), "16");

        sg_optim opt_b = got.optim;
        sg_rng rng_b = got.rng;
        for (int s = 0; s < 2; s++) {
            random_grads(b, &rng_b);
            assert_int_equal(sg_optim_step(&opt_b, b), SG_OK);
        }
        snapshot *end_a = snap_take(a);
        assert_true(snap_equal(end_a, b)); /* resumed training == uninterrupted training */
        for (int k = 0; k < 10; k++)       /* and the RNG stream goes on identically */
            assert_true(sg_rng_next(&rng_a) == sg_rng_next(&rng_b));

        snap_free(end_a);
        snap_free(at_save);
        sg_checkpoint_free(&got);
        sg_checkpoint_free(&ck);
        sg_params_free(a);
        sg_params_free(b);
    }
}

/* SGD with momentum stores only m; moments the file lacks are zeroed on load. */
static void test_sgd_momentum_and_absent_moments(void **state)
{
    (void)state;
    char err[512] = "";
    sg_params *a = make_set(SG_F32, 8);
    sg_optim opt;
    assert_int_equal(sg_optim_init_sgd(&opt, &(sg_sgd_config){.lr = 0.1, .momentum = 0.9, .weight_decay = 0}), SG_OK);
    sg_rng r;
    sg_rng_seed(&r, 1);
    random_grads(a, &r);
    assert_int_equal(sg_optim_step(&opt, a), SG_OK);
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    ck.has_optim = true;
    ck.optim = opt;
    const char *path = tpath("sgd.safetensors");
    assert_int_equal(sg_checkpoint_save(path, a, &ck, err, sizeof err), SG_OK);
    sg_params *b = make_set(SG_F32, 0);
    sg_checkpoint got;
    sg_checkpoint_init(&got);
    assert_int_equal(sg_checkpoint_load(path, b, &got, err, sizeof err), SG_OK);
    snapshot *sa = snap_take(a);
    assert_true(snap_equal(sa, b));
    assert_non_null(b->items[0]->m);
    assert_null(b->items[0]->v);
    assert_int_equal(got.optim.kind, SG_OPTIM_SGD);
    assert_true(got.optim.sgd.momentum == 0.9 && got.optim.sgd.lr == 0.1 && got.optim.t == 1);

    /* a parameters-only file zeroes b's moments (memory kept) */
    const char *p2 = tpath("plain.safetensors");
    assert_int_equal(sg_checkpoint_save(p2, a, NULL, err, sizeof err), SG_OK);
    void *m0 = b->items[0]->m;
    assert_int_equal(sg_checkpoint_load(p2, b, NULL, err, sizeof err), SG_OK);
    assert_ptr_equal(b->items[0]->m, m0);
    for (size_t i = 0; i < b->n; i++)
        for (size_t j = 0; j < b->items[i]->numel; j++)
            assert_true(((float *)b->items[i]->m)[j] == 0.0f);
    snap_free(sa);
    sg_checkpoint_free(&got);
    sg_checkpoint_free(&ck);
    sg_params_free(a);
    sg_params_free(b);
}

static void test_strings_and_reserved_names(void **state)
{
    (void)state;
    char err[512] = "";
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    assert_int_equal(sg_checkpoint_set_string(&ck, "b", "1"), SG_OK);
    assert_int_equal(sg_checkpoint_set_string(&ck, "a", "2"), SG_OK);
    assert_int_equal(sg_checkpoint_set_string(&ck, "b", "3"), SG_OK); /* replaces */
    assert_int_equal(ck.n_strings, 2);
    assert_string_equal(ck.strings[0].key, "a"); /* kept sorted */
    assert_string_equal(sg_checkpoint_get_string(&ck, "b"), "3");
    assert_null(sg_checkpoint_get_string(&ck, "c"));
    assert_int_equal(sg_checkpoint_set_string(&ck, "seqgrad.epoch", "1"), SG_ERR_ARG);
    assert_int_equal(sg_checkpoint_set_string(&ck, "__metadata__", "1"), SG_ERR_ARG);
    assert_int_equal(sg_checkpoint_set_string(&ck, "k", "\xff\xfe"), SG_ERR_ARG);     /* not UTF-8 */
    assert_int_equal(sg_checkpoint_set_string(&ck, "k", "\xed\xa0\x80"), SG_ERR_ARG); /* a surrogate */
    assert_int_equal(sg_checkpoint_set_string(&ck, "k", "\xe2\x82\xac ok"), SG_OK);   /* euro sign */
    assert_int_equal(sg_checkpoint_set_string(&ck, NULL, "x"), SG_ERR_ARG);
    assert_int_equal(ck.n_strings, 3);

    /* reserved parameter names cannot be saved */
    sg_params *ps = sg_params_new(SG_F32);
    assert_non_null(sg_params_add(ps, "optim/x", SG_SHAPE(2)));
    assert_int_equal(sg_checkpoint_save(tpath("bad.safetensors"), ps, &ck, err, sizeof err), SG_ERR_ARG);
    assert_true(sg_contains(err, "parameter name 'optim/x' is reserved"));
    assert_int_equal(access(tpath("bad.safetensors"), F_OK), -1);
    assert_int_equal(sg_checkpoint_save(NULL, ps, &ck, err, sizeof err), SG_ERR_ARG);
    assert_int_equal(sg_checkpoint_save(tpath("x"), NULL, &ck, err, sizeof err), SG_ERR_ARG);
    sg_params_free(ps);
    ps = sg_params_new(SG_F32);
    assert_non_null(sg_params_add(ps, "w", SG_SHAPE(2)));
    ck.has_optim = true; /* an optimizer with a NaN rate would give an unloadable file */
    assert_int_equal(sg_optim_init_sgd(&ck.optim, &(sg_sgd_config){.lr = 0.5}), SG_OK);
    ck.optim.lr = NAN;
    assert_int_equal(sg_checkpoint_save(tpath("x"), ps, &ck, err, sizeof err), SG_ERR_ARG);
    assert_true(sg_contains(err, "optimizer state cannot be saved"));
    ck.optim.lr = 0.5;
    ck.optim.sgd.momentum = 1.5; /* out of range for sg_optim_init_sgd */
    assert_int_equal(sg_checkpoint_save(tpath("x"), ps, &ck, err, sizeof err), SG_ERR_ARG);
    ck.optim.sgd.momentum = 0;
    assert_int_equal(sg_checkpoint_save(tpath("x"), ps, &ck, err, sizeof err), SG_OK);
    assert_int_equal(count_tmp_files(), 0);
    sg_params_free(ps);
    sg_checkpoint_free(&ck);
    assert_int_equal(ck.n_strings, 0);
    sg_checkpoint_free(&ck); /* twice is harmless */
}

/* A plain safetensors file (no seqgrad keys, other metadata) loads. */
static void test_plain_safetensors_file(void **state)
{
    (void)state;
    char err[512] = "";
    const char *hdr = "{\"x\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                      "\"__metadata__\":{\"format\":\"pt\"}}";
    size_t hn = strlen(hdr);
    unsigned char file[256];
    for (int k = 0; k < 8; k++)
        file[k] = (unsigned char)(hn >> (8 * k));
    memcpy(file + 8, hdr, hn);
    double v[2] = {1.5, -2.25};
    for (int i = 0; i < 2; i++) {
        uint64_t u;
        memcpy(&u, &v[i], 8);
        for (int k = 0; k < 8; k++)
            file[8 + hn + 8 * (size_t)i + (size_t)k] = (unsigned char)(u >> (8 * k));
    }
    sg_params *ps = sg_params_new(SG_F32);
    sg_param *x = sg_params_add(ps, "x", SG_SHAPE(2)); /* (2) */
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    assert_int_equal(sg_checkpoint_load_mem(file, 8 + hn + 16, ps, &ck, err, sizeof err), SG_OK);
    assert_true(sg_param_get(x, 0) == 1.5 && sg_param_get(x, 1) == -2.25);
    assert_false(ck.has_optim || ck.has_rng);
    assert_string_equal(sg_checkpoint_get_string(&ck, "format"), "pt");
    sg_checkpoint_free(&ck);
    sg_params_free(ps);
}

/* ---- atomic saves --------------------------------------------------------- */

static void test_interrupted_save_keeps_old_file(void **state)
{
    (void)state;
    char err[512] = "";
    const char *path = tpath("atomic.safetensors");
    sg_params *old = make_set(SG_F32, 1);
    assert_int_equal(sg_checkpoint_save(path, old, NULL, err, sizeof err), SG_OK);
    size_t n0;
    unsigned char *orig = sg_test_read_all(path, &n0);

    sg_params *neu = make_set(SG_F32, 2);
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    ck.has_rng = true;
    sg_rng_seed(&ck.rng, 3);
    assert_int_equal(sg_checkpoint_set_string(&ck, "note", "new"), SG_OK);

    /* (1) every allocation of a save fails in turn */
    int failures = 0;
    for (long k = 0;; k++) {
        sg_alloc_fail_after(k);
        sg_status st = sg_checkpoint_save(path, neu, &ck, err, sizeof err);
        sg_alloc_fail_after(-1);
        if (st == SG_OK)
            break;
        failures++;
        assert_int_equal(st, SG_ERR_NOMEM);
        assert_true(sg_contains(err, "out of memory"));
        size_t n;
        unsigned char *now = sg_test_read_all(path, &n);
        assert_int_equal(n, n0);
        assert_memory_equal(now, orig, n0);
        free(now);
        assert_int_equal(count_tmp_files(), 0);
        assert_true(k < 100000);
    }
    print_message("save: %d allocation failures, each left the old file intact\n", failures);
    assert_true(failures >= 10); /* cJSON's allocations go through sg_malloc too */
    assert_int_equal(sg_checkpoint_save(path, old, NULL, err, sizeof err), SG_OK); /* back to the original */

    /* (2) the disk "fills up" while the temp file is written (RLIMIT_FSIZE) */
    struct rlimit saved;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = saved;
    small.rlim_cur = 100;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    sg_status st = sg_checkpoint_save(path, neu, &ck, err, sizeof err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(st, SG_ERR_IO);
    assert_true(sg_contains(err, "temporary file"));
    assert_true(sg_contains(err, "is unchanged"));
    size_t n;
    unsigned char *now = sg_test_read_all(path, &n);
    assert_int_equal(n, n0);
    assert_memory_equal(now, orig, n0);
    free(now);
    assert_int_equal(count_tmp_files(), 0);

    /* (3) the target is a directory: the rename fails, the temp file goes */
    const char *dpath = tpath("adir");
    assert_int_equal(mkdir(dpath, 0700), 0);
    char inner[512];
    snprintf(inner, sizeof inner, "%s/keep", dpath);
    write_all(inner, "x", 1);
    assert_int_equal(sg_checkpoint_save(dpath, neu, &ck, err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "renaming temporary file"));
    assert_int_equal(count_tmp_files(), 0);
    unlink(inner);
    rmdir(dpath);

    /* (4) a directory that does not exist */
    assert_int_equal(sg_checkpoint_save(tpath("nodir/x.safetensors"), neu, &ck, err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "cannot create temporary file"));
    assert_true(sg_contains(err, "nodir/x.safetensors.tmp."));

    free(orig);
    sg_checkpoint_free(&ck);
    sg_params_free(old);
    sg_params_free(neu);
}

/* ---- corrupt files -------------------------------------------------------- */

/* A full-featured file of the usual set (Adam moments, RNG, strings). */
static unsigned char *full_file(sg_dtype dt, size_t *len)
{
    char err[512] = "";
    sg_params *ps = make_set(dt, 9);
    sg_optim opt;
    sg_adam_config cfg = sg_adam_defaults();
    assert_int_equal(sg_optim_init_adam(&opt, &cfg), SG_OK);
    sg_rng r;
    sg_rng_seed(&r, 4);
    random_grads(ps, &r);
    assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    ck.has_optim = true;
    ck.optim = opt;
    ck.has_rng = true;
    ck.rng = r;
    ck.epoch = 1;
    ck.step = 1;
    assert_int_equal(sg_checkpoint_set_string(&ck, "vocab", "a b c"), SG_OK);
    unsigned char *b = NULL;
    assert_int_equal(sg_checkpoint_save_mem(ps, &ck, &b, len, err, sizeof err), SG_OK);
    sg_checkpoint_free(&ck);
    sg_params_free(ps);
    return b;
}

/* A checkpoint struct holding a marker, to see that failed loads leave it. */
static void marker_init(sg_checkpoint *ck)
{
    sg_checkpoint_init(ck);
    ck->epoch = 77;
    assert_int_equal(sg_checkpoint_set_string(ck, "marker", "kept"), SG_OK);
}

static void marker_check(const sg_checkpoint *ck)
{
    assert_true(ck->epoch == 77 && !ck->has_optim && !ck->has_rng && ck->n_strings == 1);
    assert_string_equal(sg_checkpoint_get_string(ck, "marker"), "kept");
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    size_t len;
    unsigned char *full = full_file(SG_F32, &len);
    size_t hn = 0;
    for (int k = 0; k < 8; k++)
        hn |= (size_t)full[k] << (8 * k);
    sg_params *ps = make_set(SG_F32, 33);
    snapshot *before = snap_take(ps);
    sg_checkpoint ck;
    marker_init(&ck);
    char err[512];
    for (size_t cut = 0; cut < len; cut++) {
        err[0] = '\0';
        sg_status st = sg_checkpoint_load_mem(full, cut, ps, &ck, err, sizeof err);
        assert_int_equal(st, SG_ERR_FORMAT);
        if (cut < 8)
            assert_true(sg_contains(err, "too short for the 8-byte header length"));
        else if (cut < 8 + hn)
            assert_true(sg_contains(err, "is larger than the"));
        else
            assert_true(sg_contains(err, "data is truncated: tensor '"));
        assert_true(snap_equal(before, ps));
        marker_check(&ck);
    }
    /* through a file too: the message starts with the path */
    const char *path = tpath("trunc.safetensors");
    write_all(path, full, len - 3);
    assert_int_equal(sg_checkpoint_load(path, ps, &ck, err, sizeof err), SG_ERR_FORMAT);
    char want[512];
    snprintf(want, sizeof want, "checkpoint '%s': data is truncated: tensor 's' has data_offsets", path);
    assert_true(sg_contains(err, want));
    assert_int_equal(sg_checkpoint_load(tpath("missing.safetensors"), ps, &ck, err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "cannot open"));
    assert_int_equal(sg_checkpoint_load(g_dir, ps, &ck, err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "not a regular file"));
    assert_true(snap_equal(before, ps));
    marker_check(&ck);
    /* and the whole file still loads */
    assert_int_equal(sg_checkpoint_load_mem(full, len, ps, &ck, err, sizeof err), SG_OK);
    assert_false(snap_equal(before, ps));
    snap_free(before);
    sg_checkpoint_free(&ck);
    sg_params_free(ps);
    free(full);
}

/* Every byte of the header flipped three ways: an error (parameters and
 * checkpoint untouched, a message) or a successful load, never a crash. */
static void test_header_byte_flips(void **state)
{
    (void)state;
    size_t len;
    unsigned char *full = full_file(SG_F64, &len);
    size_t hn = 0;
    for (int k = 0; k < 8; k++)
        hn |= (size_t)full[k] << (8 * k);
    unsigned char *buf = malloc(len);
    assert_non_null(buf);
    sg_params *ps = make_set(SG_F64, 12);
    snapshot *before = snap_take(ps);
    sg_checkpoint ck;
    marker_init(&ck);
    const unsigned char flips[3] = {0x01, 0x20, 0xff};
    size_t fails = 0, oks = 0;
    char err[512];
    for (size_t i = 0; i < 8 + hn; i++)
        for (int f = 0; f < 3; f++) {
            memcpy(buf, full, len);
            buf[i] ^= flips[f];
            err[0] = '\0';
            sg_status st = sg_checkpoint_load_mem(buf, len, ps, &ck, err, sizeof err);
            if (st == SG_OK) {
                oks++; /* e.g. a changed letter inside the vocab string: reset for the next round */
                sg_checkpoint_free(&ck);
                marker_init(&ck);
                for (size_t p = 0; p < ps->n; p++) {
                    memcpy(ps->items[p]->value, before->buf[p][0], before->bytes[p]);
                    sg_free(ps->items[p]->m);
                    sg_free(ps->items[p]->v);
                    ps->items[p]->m = ps->items[p]->v = NULL;
                }
                continue;
            }
            fails++;
            assert_true(strlen(err) > 10);
            assert_true(snap_equal(before, ps));
            marker_check(&ck);
            if (i < 8) /* the length field */
                assert_true(strstr(err, "header length") || strstr(err, "JSON") || strstr(err, "header has bytes"));
        }
    print_message("header flips: %zu rejected, %zu loaded\n", fails, oks);
    assert_true(fails > 2 * (8 + hn)); /* most flips must be caught */
    /* flips in the data section always load (they are just other values) */
    memcpy(buf, full, len);
    buf[len - 1] ^= 0xff;
    assert_int_equal(sg_checkpoint_load_mem(buf, len, ps, NULL, err, sizeof err), SG_OK);
    snap_free(before);
    sg_checkpoint_free(&ck);
    sg_params_free(ps);
    free(buf);
    free(full);
}

/* A file from a header text and data bytes (header length = strlen). */
static unsigned char *build_file(const char *hdr, const void *data, size_t dlen, size_t *len)
{
    size_t hn = strlen(hdr);
    unsigned char *b = malloc(8 + hn + dlen + 1);
    assert_non_null(b);
    for (int k = 0; k < 8; k++)
        b[k] = (unsigned char)((uint64_t)hn >> (8 * k));
    memcpy(b + 8, hdr, hn);
    if (dlen)
        memcpy(b + 8 + hn, data, dlen);
    *len = 8 + hn + dlen;
    return b;
}

typedef struct bad_case {
    const char *header;
    size_t data_len; /* bytes of data after the header */
    sg_status status;
    const char *message;
} bad_case;

#define T_A "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}"
#define T_B "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}"

static void test_corrupt_cases_named(void **state)
{
    (void)state;
    /* the set: "a" (2, 3), "b" (3), f32 */
    static const bad_case cases[] = {
        {"{" T_A "," T_B "}", 36, SG_OK, ""},
        {"{" T_A "}", 24, SG_ERR_FORMAT, "parameter 'b' (3) is missing from the checkpoint"},
        {"{" T_A "," T_B ",\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[36,40]}}", 40, SG_ERR_FORMAT,
         "unexpected tensor 'z': not a parameter of the set"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}," T_B "}", 36, SG_ERR_SHAPE,
         "tensor 'a' (parameter 'a'): shape (3, 2) in the file, (2, 3) expected"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3,1],\"data_offsets\":[0,24]}," T_B "}", 36, SG_ERR_SHAPE,
         "shape (2, 3, 1) in the file, (2, 3) expected"},
        {"{\"a\":{\"dtype\":\"F33\",\"shape\":[2,3],\"data_offsets\":[0,24]}," T_B "}", 36, SG_ERR_FORMAT,
         "tensor 'a': dtype 'F33' is not a safetensors dtype"},
        {"{\"a\":{\"dtype\":\"I32\",\"shape\":[2,3],\"data_offsets\":[0,24]}," T_B "}", 36, SG_ERR_DTYPE,
         "tensor 'a' (parameter 'a'): dtype I32 cannot be loaded, F32 or F64 expected"},
        {"{\"a\":{\"dtype\":7,\"shape\":[2,3],\"data_offsets\":[0,24]}," T_B "}", 36, SG_ERR_FORMAT,
         "tensor 'a': \"dtype\" is missing or not a string"},
        {"{" T_A "," T_B "}", 30, SG_ERR_FORMAT,
         "data is truncated: tensor 'b' has data_offsets [24, 36], but the data section has only 30 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[20,32]}}",
         36, SG_ERR_FORMAT, "tensors 'a' and 'b' overlap: data_offsets [0, 24] and [20, 32]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[28,40]}}",
         40, SG_ERR_FORMAT, "the data section has a hole: bytes [24, 28) belong to no tensor (next is 'b')"},
        {"{" T_A "," T_B "}", 44, SG_ERR_FORMAT, "the data section has 8 bytes after the last tensor"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}," T_B "}", 36, SG_ERR_FORMAT,
         "tensor 'a': data_offsets [0, 20] hold 20 bytes, but shape (2, 3) of F32 needs 24"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[24,0]}," T_B "}", 36, SG_ERR_FORMAT,
         "tensor 'a': data_offsets [24, 0] run backwards"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,24]}," T_B "}", 36, SG_ERR_FORMAT,
         "tensor 'a': shape[1] is not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,1.5],\"data_offsets\":[0,24]}," T_B "}", 36, SG_ERR_FORMAT,
         "tensor 'a': shape[1] is not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24,36]}," T_B "}", 36, SG_ERR_FORMAT,
         "tensor 'a': \"data_offsets\" is missing or not two non-negative integers"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3]}," T_B "}", 36, SG_ERR_FORMAT,
         "tensor 'a': \"data_offsets\" is missing"},
        {"{\"a\":5," T_B "}", 36, SG_ERR_FORMAT, "tensor 'a': its header entry is not a JSON object"},
        {"[1,2,3]", 0, SG_ERR_FORMAT, "header is not a JSON object"},
        {"\"text\"", 0, SG_ERR_FORMAT, "header is not a JSON object"},
        {"{\"a\":", 0, SG_ERR_FORMAT, "header is not valid JSON (parse error at byte"},
        {"{" T_A "," T_B "}x", 36, SG_ERR_FORMAT, "header has bytes after its JSON value"},
        {"{" T_A "," T_B "," T_B "}", 36, SG_ERR_FORMAT, "header has the key 'b' twice"},
        {"{" T_A "," T_B ",\"__metadata__\":[1]}", 36, SG_ERR_FORMAT, "\"__metadata__\" is not a JSON object"},
        {"{" T_A "," T_B ",\"__metadata__\":{\"k\":1}}", 36, SG_ERR_FORMAT, "metadata 'k' is not a string"},
        {"{" T_A "," T_B ",\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 36, SG_ERR_FORMAT,
         "metadata key 'k' appears twice"},
        {"{" T_A "," T_B ",\"__metadata__\":{\"seqgrad.epoch\":\"abc\"}}", 36, SG_ERR_FORMAT,
         "metadata 'seqgrad.epoch' is \"abc\", a decimal integer expected"},
        {"{" T_A "," T_B ",\"__metadata__\":{\"seqgrad.version\":\"2\"}}", 36, SG_ERR_FORMAT,
         "metadata 'seqgrad.version' is \"2\""},
        {"{" T_A "," T_B ",\"__metadata__\":{\"seqgrad.colour\":\"red\"}}", 36, SG_ERR_FORMAT,
         "metadata 'seqgrad.colour' is not a key of this seqgrad version"},
        {"{" T_A "," T_B ",\"__metadata__\":{\"seqgrad.optim.kind\":\"adam\"}}", 36, SG_ERR_FORMAT,
         "metadata 'seqgrad.optim.t' is missing"},
        {"{" T_A "," T_B ",\"__metadata__\":{\"seqgrad.optim.lr\":\"0.1\"}}", 36, SG_ERR_FORMAT,
         "metadata 'seqgrad.optim.lr' is not a key of this seqgrad version"},
        {"{" T_A "," T_B ",\"__metadata__\":{\"seqgrad.optim.kind\":\"sgd\",\"seqgrad.optim.t\":\"1\","
         "\"seqgrad.optim.decay_start\":\"0\",\"seqgrad.optim.lr\":\"nan\",\"seqgrad.optim.base_lr\":\"1\","
         "\"seqgrad.optim.decay\":\"1\",\"seqgrad.optim.config.lr\":\"1\",\"seqgrad.optim.config.weight_decay\":\"0\","
         "\"seqgrad.optim.config.momentum\":\"0\"}}",
         36, SG_ERR_FORMAT, "metadata 'seqgrad.optim.lr' is \"nan\", a finite decimal number expected"},
        {"{" T_A "," T_B ",\"__metadata__\":{\"seqgrad.optim.kind\":\"sgd\",\"seqgrad.optim.t\":\"1\","
         "\"seqgrad.optim.decay_start\":\"0\",\"seqgrad.optim.lr\":\"1\",\"seqgrad.optim.base_lr\":\"1\","
         "\"seqgrad.optim.decay\":\"1\",\"seqgrad.optim.config.lr\":\"1\",\"seqgrad.optim.config.weight_decay\":\"0\","
         "\"seqgrad.optim.config.momentum\":\"1.5\"}}",
         36, SG_ERR_FORMAT, "the SGD configuration (lr 1, momentum 1.5, weight decay 0) is out of range"},
        {"{" T_A "," T_B ",\"rng/state\":{\"dtype\":\"I64\",\"shape\":[4],\"data_offsets\":[36,68]}}", 68,
         SG_ERR_FORMAT, "tensor 'rng/state': I64 (4) in the file, U64 (4) expected"},
        {"{" T_A "," T_B ",\"optim/zz/m\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[36,48]}}", 48,
         SG_ERR_FORMAT, "unexpected tensor 'optim/zz/m'"},
        {"{" T_A "," T_B ",\"optim/a/m\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[36,60]}}", 60, SG_ERR_SHAPE,
         "tensor 'optim/a/m' (optimizer moment of parameter 'a'): shape (6) in the file, (2, 3) expected"},
        {"{\"a\":{\"dtype\":\"F64\",\"shape\":[2,3],\"data_offsets\":[0,48]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[48,60]}}",
         60, SG_ERR_DTYPE, "tensor 'a': element 0 is 1e+300, too large for the f32 parameter set"},
    };
    unsigned char data[80];
    memset(data, 0, sizeof data);
    double big = 1e300; /* the first 8 bytes: a huge F64 (or two F32 garbage values) */
    uint64_t u;
    memcpy(&u, &big, 8);
    for (int k = 0; k < 8; k++)
        data[k] = (unsigned char)(u >> (8 * k));
    char err[512];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sg_params *ps = sg_params_new(SG_F32);
        sg_param *a = sg_params_add(ps, "a", SG_SHAPE(2, 3)); /* (2, 3) */
        sg_params_add(ps, "b", SG_SHAPE(3));                  /* (3) */
        for (size_t j = 0; j < 6; j++)
            sg_param_set(a, j, (double)j + 0.5);
        snapshot *before = snap_take(ps);
        sg_checkpoint ck;
        marker_init(&ck);
        size_t len;
        unsigned char *file = build_file(cases[c].header, data, cases[c].data_len, &len);
        err[0] = '\0';
        sg_status st = sg_checkpoint_load_mem(file, len, ps, &ck, err, sizeof err);
        if (st != cases[c].status || !strstr(err, cases[c].message))
            fail_msg("case %zu: status %d (expected %d), message '%s' (expected '%s')", c, (int)st,
                     (int)cases[c].status, err, cases[c].message);
        if (st != SG_OK) {
            assert_true(snap_equal(before, ps));
            marker_check(&ck);
        }
        free(file);
        snap_free(before);
        sg_checkpoint_free(&ck);
        sg_params_free(ps);
    }

    /* the header length larger than the file; and an empty file */
    sg_params *ps = sg_params_new(SG_F32);
    sg_params_add(ps, "a", SG_SHAPE(2, 3));
    unsigned char small[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    assert_int_equal(sg_checkpoint_load_mem(small, 10, ps, NULL, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "header length 65535 is larger than the 2 bytes that follow it"));
    assert_int_equal(sg_checkpoint_load_mem(small, 0, ps, NULL, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "file is 0 bytes, too short"));
    assert_int_equal(sg_checkpoint_load_mem(NULL, 0, NULL, NULL, err, sizeof err), SG_ERR_ARG);
    assert_int_equal(sg_checkpoint_load_mem(small, 10, ps, NULL, NULL, 0), SG_ERR_FORMAT); /* err may be NULL */
    sg_params_free(ps);
}

/* read_meta: the training state and strings without a parameter set. */
static void test_read_meta_without_params(void **state)
{
    (void)state;
    size_t len;
    unsigned char *full = full_file(SG_F64, &len);
    const char *path = tpath("meta.safetensors");
    write_all(path, full, len);
    char err[512] = "";
    sg_checkpoint a, b;
    marker_init(&a);
    sg_checkpoint_init(&b);
    assert_int_equal(sg_checkpoint_read_meta(path, &a, err, sizeof err), SG_OK);
    sg_params *ps = make_set(SG_F64, 0);
    assert_int_equal(sg_checkpoint_load(path, ps, &b, err, sizeof err), SG_OK);
    assert_null(sg_checkpoint_get_string(&a, "marker")); /* replaced */
    assert_string_equal(sg_checkpoint_get_string(&a, "vocab"), "a b c");
    assert_true(a.has_optim && a.has_rng && a.epoch == 1 && a.step == 1 && a.optim.t == 1);
    assert_int_equal(a.optim.kind, SG_OPTIM_ADAM);
    assert_memory_equal(a.rng.s, b.rng.s, sizeof a.rng.s); /* same as a full load */
    assert_true(a.optim.lr == b.optim.lr && a.optim.adam.beta2 == b.optim.adam.beta2);
    sg_checkpoint_free(&a);

    /* every truncation fails the same way in memory and from a file; out kept */
    marker_init(&a);
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 7)) {
        err[0] = '\0';
        assert_int_equal(sg_checkpoint_read_meta_mem(full, cut, &a, err, sizeof err), SG_ERR_FORMAT);
        assert_true(strlen(err) > 10);
        marker_check(&a);
    }
    write_all(path, full, len - 1);
    assert_int_equal(sg_checkpoint_read_meta(path, &a, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "data is truncated"));
    write_all(path, full, 5);
    assert_int_equal(sg_checkpoint_read_meta(path, &a, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "file is 5 bytes, too short"));
    assert_int_equal(sg_checkpoint_read_meta(tpath("nope"), &a, err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "cannot open"));
    marker_check(&a);
    /* tensors are not matched to any set: a file for other parameters reads fine */
    sg_params *other = sg_params_new(SG_F32);
    assert_non_null(sg_params_add(other, "zzz", SG_SHAPE(5)));
    unsigned char *ob = NULL;
    size_t on = 0;
    assert_int_equal(sg_checkpoint_save_mem(other, NULL, &ob, &on, err, sizeof err), SG_OK);
    assert_int_equal(sg_checkpoint_read_meta_mem(ob, on, &a, err, sizeof err), SG_OK);
    assert_true(!a.has_optim && !a.has_rng && a.n_strings == 0);
    sg_free(ob);
    sg_params_free(other);
    sg_params_free(ps);
    sg_checkpoint_free(&a);
    sg_checkpoint_free(&b);
    free(full);
}

/* Out of memory at every allocation of a load: NOMEM, nothing changed. */
static void test_load_out_of_memory(void **state)
{
    (void)state;
    size_t len;
    unsigned char *full = full_file(SG_F32, &len);
    sg_params *ps = make_set(SG_F32, 21);
    snapshot *before = snap_take(ps);
    sg_checkpoint ck;
    marker_init(&ck);
    char err[512];
    int failures = 0;
    for (long k = 0;; k++) {
        sg_alloc_fail_after(k);
        sg_status st = sg_checkpoint_load_mem(full, len, ps, &ck, err, sizeof err);
        sg_alloc_fail_after(-1);
        if (st == SG_OK)
            break;
        failures++;
        assert_int_equal(st, SG_ERR_NOMEM);
        assert_true(snap_equal(before, ps));
        marker_check(&ck);
        assert_true(k < 100000);
    }
    print_message("load: %d allocation failures, each left the set unchanged\n", failures);
    assert_true(failures >= 10);
    assert_non_null(ps->items[0]->m); /* the successful load allocated the moments */
    snap_free(before);
    sg_checkpoint_free(&ck);
    sg_params_free(ps);
    free(full);
}

/* ---- Python reads the files (json + struct only) -------------------------- */

static const char *g_py = "import json,struct,sys\n"
                          "b=open(sys.argv[1],'rb').read()\n"
                          "n=struct.unpack('<Q',b[:8])[0]\n"
                          "assert (8+n)%8==0\n"
                          "h=json.loads(b[8:8+n].decode('utf-8'))\n"
                          "meta=h.pop('__metadata__')\n"
                          "d=b[8+n:]\n"
                          "pos=0\n"
                          "for k,v in sorted(h.items(),key=lambda kv:kv[1]['data_offsets'][0]):\n"
                          "    s,e=v['data_offsets']; assert s==pos, k; pos=e\n"
                          "assert pos==len(d)\n"
                          "for k in sorted(h):\n"
                          "    v=h[k]; s,e=v['data_offsets']\n"
                          "    f={'F32':'I','F64':'Q','U64':'Q'}[v['dtype']]\n"
                          "    print(k,v['dtype'],v['shape'],struct.unpack('<'+f,d[s:s+struct.calcsize(f)])[0])\n"
                          "print('meta',meta['seqgrad.optim.kind'],meta['seqgrad.optim.t'],meta['vocab'])\n";

static void test_python_reads_file(void **state)
{
    (void)state;
    if (access("/usr/bin/python3", X_OK) != 0) {
        print_message("skipped: /usr/bin/python3 is missing\n");
        skip();
    }
    char err[512] = "";
    sg_params *ps = make_set(SG_F32, 3);
    sg_optim opt;
    sg_adam_config cfg = sg_adam_defaults();
    assert_int_equal(sg_optim_init_adam(&opt, &cfg), SG_OK);
    sg_rng r;
    sg_rng_seed(&r, 6);
    random_grads(ps, &r);
    assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    ck.has_optim = true;
    ck.optim = opt;
    ck.has_rng = true;
    ck.rng = r;
    assert_int_equal(sg_checkpoint_set_string(&ck, "vocab", "the cat"), SG_OK);
    const char *path = tpath("py.safetensors");
    assert_int_equal(sg_checkpoint_save(path, ps, &ck, err, sizeof err), SG_OK);
    const char *script_path = tpath("read.py");
    write_all(script_path, g_py, strlen(g_py));

    /* expected: every tensor sorted by name with its first element's bits */
    char want[4096] = "";
    struct {
        const char *name;
        int p, which;
    } rows[] = {{"dec/W", 2, 0},
                {"enc.W", 0, 0},
                {"enc.b", 1, 0},
                {"optim/dec/W/m", 2, 1},
                {"optim/dec/W/v", 2, 2},
                {"optim/enc.W/m", 0, 1},
                {"optim/enc.W/v", 0, 2},
                {"optim/enc.b/m", 1, 1},
                {"optim/enc.b/v", 1, 2},
                {"optim/s/m", 3, 1},
                {"optim/s/v", 3, 2},
                {"rng/state", -1, 0},
                {"s", 3, 0}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char line[256], shape[64] = "[";
        unsigned long long bits;
        const char *dt = "F32";
        if (rows[i].p < 0) {
            dt = "U64";
            strcat(shape, "4");
            bits = (unsigned long long)r.s[0];
        } else {
            const sg_param *p = ps->items[rows[i].p];
            const void *buf[3] = {p->value, p->m, p->v};
            uint32_t u;
            memcpy(&u, buf[rows[i].which], 4);
            bits = u;
            for (int k = 0; k < p->shape.ndim; k++)
                snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%zu", k ? ", " : "", p->shape.d[k]);
        }
        strcat(shape, "]");
        snprintf(line, sizeof line, "%s %s %s %llu\n", rows[i].name, dt, shape, bits);
        strcat(want, line);
    }
    strcat(want, "meta adam 1 the cat\n");

    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' 2>&1", script_path, path);
    FILE *pipe = popen(cmd, "r");
    assert_non_null(pipe);
    char got[4096];
    size_t n = fread(got, 1, sizeof got - 1, pipe);
    got[n] = '\0';
    int rc = pclose(pipe);
    if (rc != 0 || strcmp(got, want) != 0)
        fail_msg("python3 (exit %d) printed:\n%s\nexpected:\n%s", rc, got, want);
    sg_checkpoint_free(&ck);
    sg_params_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_f32),
        cmocka_unit_test(test_roundtrip_f64),
        cmocka_unit_test(test_training_state_resumes_exactly),
        cmocka_unit_test(test_sgd_momentum_and_absent_moments),
        cmocka_unit_test(test_strings_and_reserved_names),
        cmocka_unit_test(test_plain_safetensors_file),
        cmocka_unit_test(test_interrupted_save_keeps_old_file),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_header_byte_flips),
        cmocka_unit_test(test_corrupt_cases_named),
        cmocka_unit_test(test_read_meta_without_params),
        cmocka_unit_test(test_load_out_of_memory),
        cmocka_unit_test(test_python_reads_file),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
