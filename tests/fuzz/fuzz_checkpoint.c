/* fuzz_checkpoint.c — libFuzzer target for checkpoint loading
 * (graph/sg_checkpoint.h), and, built with -DSG_FUZZ_SEED_MAIN, the program
 * that writes its seed corpus.
 *
 * Each input is read with sg_checkpoint_read_meta_mem, then loaded from memory
 * into a small fixed parameter set, once as f32 and once as f64.  A load must never crash, leak or write out of bounds;
 * when it succeeds, the state is saved again and reloaded into a fresh set,
 * which must succeed and give the same values, moments (when the file has an
 * optimizer; without one none are saved) and training state, and
 * saving that must give the same bytes (the format round-trips exactly); and
 * read_meta must have succeeded with the same training state.
 * A broken property calls abort(), which libFuzzer reports as a crash.
 *
 * The fixed set (dimension legend: shapes written next to names):
 *     "a" (2, 3), "b" (3), "c" () — a scalar.
 * See tests/fuzz/README.md for how to build and run it.
 */
#include "graph/core/sg_alloc.h"
#include "graph/format/sg_checkpoint.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fixed set of dtype dt, values from a counter (NULL on out of memory). */
static sg_params *fz_make_set(sg_dtype dt)
{
    sg_params *ps = sg_params_new(dt);
    if (!ps || !sg_params_add(ps, "a", SG_SHAPE(2, 3)) || !sg_params_add(ps, "b", SG_SHAPE(3)) ||
        !sg_params_add(ps, "c", SG_SCALAR)) {
        sg_params_free(ps);
        return NULL;
    }
    for (size_t i = 0; i < ps->n; i++)
        for (size_t j = 0; j < ps->items[i]->numel; j++)
            sg_param_set(ps->items[i], j, 0.25 * (double)(i * 10 + j) - 1.0);
    return ps;
}

#ifndef SG_FUZZ_SEED_MAIN

/* Whether buffers a and b (numel elements of the set's dtype, either may be
 * NULL) hold the same bits; a NULL buffer counts as all zeros. */
static int fz_same(const void *a, const void *b, size_t bytes)
{
    if (!a && !b)
        return 1;
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < bytes; i++)
        if ((x ? x[i] : 0) != (y ? y[i] : 0))
            return 0;
    return 1;
}

static void fz_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_checkpoint: property broken: %s\n", what);
        abort();
    }
}

/* Loads data into a fresh set of dtype dt; on success checks the round trip. */
/* Whether two loaded states are the same. */
static int fz_same_state(const sg_checkpoint *x, const sg_checkpoint *y)
{
    if (x->has_optim != y->has_optim || x->has_rng != y->has_rng || x->epoch != y->epoch || x->step != y->step ||
        x->n_strings != y->n_strings)
        return 0;
    if (x->has_rng && memcmp(x->rng.s, y->rng.s, sizeof x->rng.s) != 0)
        return 0;
    if (x->has_optim && !(x->optim.kind == y->optim.kind && x->optim.t == y->optim.t && x->optim.lr == y->optim.lr &&
                          x->optim.base_lr == y->optim.base_lr && x->optim.decay == y->optim.decay &&
                          x->optim.decay_start == y->optim.decay_start))
        return 0;
    for (size_t i = 0; i < x->n_strings; i++)
        if (strcmp(x->strings[i].key, y->strings[i].key) != 0 || strcmp(x->strings[i].value, y->strings[i].value) != 0)
            return 0;
    return 1;
}

static void fz_one(const uint8_t *data, size_t size, sg_dtype dt, const sg_checkpoint *meta, sg_status meta_st)
{
    char err[512];
    sg_params *ps = fz_make_set(dt);
    fz_check(ps != NULL, "fixed set");
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    sg_status st = sg_checkpoint_load_mem(data, size, ps, &ck, err, sizeof err);
    fz_check(st == SG_OK || err[0] != '\0', "an error comes with a message");
    if (st == SG_OK) {
        unsigned char *b1 = NULL, *b2 = NULL;
        size_t n1 = 0, n2 = 0;
        fz_check(sg_checkpoint_save_mem(ps, &ck, &b1, &n1, err, sizeof err) == SG_OK, "save after load");
        sg_params *ps2 = fz_make_set(dt);
        fz_check(ps2 != NULL, "second set");
        sg_checkpoint ck2;
        sg_checkpoint_init(&ck2);
        fz_check(sg_checkpoint_load_mem(b1, n1, ps2, &ck2, err, sizeof err) == SG_OK, "reload of a saved file");
        size_t es = sg_dtype_size(dt);
        for (size_t i = 0; i < ps->n; i++) {
            const sg_param *p = ps->items[i], *q = ps2->items[i];
            size_t bytes = p->numel * es;
            fz_check(fz_same(p->value, q->value, bytes), "values round-trip");
            if (ck.has_optim) /* moments are saved with the optimizer state only */
                fz_check(fz_same(p->m, q->m, bytes) && fz_same(p->v, q->v, bytes), "moments round-trip");
            else
                fz_check(!q->m && !q->v, "no optimizer, no moments saved");
        }
        fz_check(fz_same_state(&ck, &ck2), "state round-trips");
        fz_check(meta_st == SG_OK && fz_same_state(&ck, meta), "read_meta agrees with a successful load");
        fz_check(sg_checkpoint_save_mem(ps2, &ck2, &b2, &n2, err, sizeof err) == SG_OK, "second save");
        fz_check(n1 == n2 && memcmp(b1, b2, n1) == 0, "saving is deterministic");
        sg_free(b1);
        sg_free(b2);
        sg_checkpoint_free(&ck2);
        sg_params_free(ps2);
    }
    sg_checkpoint_free(&ck);
    sg_params_free(ps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    sg_checkpoint meta;
    sg_checkpoint_init(&meta);
    sg_status st = sg_checkpoint_read_meta_mem(data, size, &meta, err, sizeof err);
    fz_check(st == SG_OK || err[0] != '\0', "a read_meta error comes with a message");
    fz_one(data, size, SG_F32, &meta, st);
    fz_one(data, size, SG_F64, &meta, st);
    sg_checkpoint_free(&meta);
    return 0;
}

#else /* SG_FUZZ_SEED_MAIN: write the seed corpus into argv[1] */

#include "graph/optim/sg_optim.h"

#include <errno.h>
#include <sys/stat.h>

static void seed_set_grad(sg_param *p, size_t i, double g)
{
    if (p->dtype == SG_F64)
        ((double *)p->grad)[i] = g;
    else
        ((float *)p->grad)[i] = (float)g;
}

/* Saves ps + ck as <dir>/<name>; returns 0 on success. */
static int seed_write(const char *dir, const char *name, const sg_params *ps, const sg_checkpoint *ck)
{
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (sg_checkpoint_save(path, ps, ck, err, sizeof err) != SG_OK) {
        fprintf(stderr, "fuzz_checkpoint_seeds: %s\n", err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    if (mkdir(argv[1], 0777) != 0 && errno != EEXIST) {
        perror(argv[1]);
        return 1;
    }
    int bad = 0;
    for (int d = 0; d < 2; d++) {
        sg_dtype dt = d ? SG_F64 : SG_F32;
        const char *tag = d ? "f64" : "f32";
        char name[64];
        sg_params *ps = fz_make_set(dt);
        if (!ps)
            return 1;
        /* parameters only */
        snprintf(name, sizeof name, "params_%s.safetensors", tag);
        bad |= seed_write(argv[1], name, ps, NULL);
        /* Adam state, RNG, counters and strings */
        for (size_t i = 0; i < ps->n; i++)
            for (size_t j = 0; j < ps->items[i]->numel; j++)
                seed_set_grad(ps->items[i], j, 0.5 - (double)j);
        sg_optim opt;
        sg_adam_config cfg = sg_adam_defaults();
        if (sg_optim_init_adam(&opt, &cfg) != SG_OK || sg_optim_set_schedule(&opt, 0.5, 3) != SG_OK ||
            sg_optim_step(&opt, ps) != SG_OK || sg_optim_step(&opt, ps) != SG_OK)
            return 1;
        sg_checkpoint ck;
        sg_checkpoint_init(&ck);
        ck.has_optim = true;
        ck.optim = opt;
        ck.has_rng = true;
        sg_rng_seed(&ck.rng, 42);
        ck.epoch = 3;
        ck.step = 1234;
        if (sg_checkpoint_set_string(&ck, "vocab", "<unk> the a of") != SG_OK ||
            sg_checkpoint_set_string(&ck, "hidden", "16") != SG_OK)
            return 1;
        snprintf(name, sizeof name, "adam_%s.safetensors", tag);
        bad |= seed_write(argv[1], name, ps, &ck);
        /* SGD with momentum: only m */
        sg_params *ps2 = fz_make_set(dt);
        sg_sgd_config sc = {.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4};
        if (!ps2 || sg_optim_init_sgd(&opt, &sc) != SG_OK || sg_optim_step(&opt, ps2) != SG_OK)
            return 1;
        ck.optim = opt;
        ck.has_rng = false;
        snprintf(name, sizeof name, "sgd_%s.safetensors", tag);
        bad |= seed_write(argv[1], name, ps2, &ck);
        sg_checkpoint_free(&ck);
        sg_params_free(ps2);
        sg_params_free(ps);
    }
    return bad;
}

#endif
