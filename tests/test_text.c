/* test_text.c — word-level text for language modelling (models/sg_text.h):
 * vocabulary ids, counts and min-count, <eos> per line, <unk> at test time,
 * file errors, vocabulary serialization, the Zaremba batching layout (checked
 * by hand), an iterator that never allocates, the data-directory loader,
 * sampling (greedy, frequencies against softmax(logits / T), determinism), and,
 * when the Penn Treebank is present under SG_DATA_DIR, its published figures.
 * Every other test writes its own small text files into a mkdtemp directory. */
#include "sg_test.h"

#include "graph/core/sg_alloc.h"
#include "models/data/sg_text.h"
#include "models/decode/sg_decode.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- a temporary directory per test --------------------------------------- */

typedef struct fixture {
    char dir[64];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/sg_text_XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[512];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            remove_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int teardown(void **state)
{
    fixture *f = *state;
    remove_tree(f->dir);
    free(f);
    return 0;
}

/* Writes dir/name with len bytes of text (len = strlen when SIZE_MAX); returns
 * the path in a static buffer that the next call overwrites. */
static const char *write_file_n(const char *dir, const char *name, const char *text, size_t len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (len == SIZE_MAX)
        len = strlen(text);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    return path;
}

static const char *write_file(const char *dir, const char *name, const char *text)
{
    return write_file_n(dir, name, text, SIZE_MAX);
}

static const char *make_subdir(const char *dir, const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(mkdir(path, 0700), 0);
    return path;
}

static void assert_word(const sg_vocab *v, int32_t id, const char *word, uint64_t count)
{
    const char *w = sg_vocab_word(v, id);
    if (!w || strcmp(w, word) != 0)
        fail_msg("id %d is '%s', expected '%s'", (int)id, w ? w : "(null)", word);
    assert_int_equal(sg_vocab_id(v, word), id);
    if (sg_vocab_count(v, id) != count)
        fail_msg("count of '%s' is %llu, expected %llu", word, (unsigned long long)sg_vocab_count(v, id),
                 (unsigned long long)count);
}

/* ---- vocabulary ------------------------------------------------------------- */

/* Ids by descending count, ties by byte order; "<eos>" counts lines; "<unk>"
 * exists with count 0; lookups of absent words. */
static void test_vocab_ids_counts(void **state)
{
    fixture *f = *state;
    const char *path = write_file(f->dir, "train.txt", "a b c\nb c\nc\n");
    sg_vocab *v = NULL;
    char err[256] = "x";
    assert_int_equal(sg_vocab_build_file(path, 0, &v, err, sizeof err), SG_OK);
    assert_string_equal(err, "");
    assert_int_equal(sg_vocab_size(v), 5);
    /* c and <eos> both 3: '<' (0x3c) sorts before 'c' */
    assert_word(v, 0, "<eos>", 3);
    assert_word(v, 1, "c", 3);
    assert_word(v, 2, "b", 2);
    assert_word(v, 3, "a", 1);
    assert_word(v, 4, "<unk>", 0);
    assert_int_equal(sg_vocab_eos(v), 0);
    assert_int_equal(sg_vocab_unk(v), 4);
    assert_int_equal(sg_vocab_id(v, "zzz"), -1);
    assert_int_equal(sg_vocab_id(v, ""), -1);
    assert_int_equal(sg_vocab_id_n(v, "bcd", 1), 2);
    assert_int_equal(sg_vocab_lookup(v, "zzz"), 4);
    assert_int_equal(sg_vocab_lookup(v, "a"), 3);
    assert_null(sg_vocab_word(v, 5));
    assert_null(sg_vocab_word(v, -1));
    assert_int_equal(sg_vocab_count(v, 5), 0);
    sg_vocab_free(v);

    /* Ties: byte order, and a proper prefix first. */
    const char *t2 = "ab a b\n";
    assert_int_equal(sg_vocab_build_text(t2, strlen(t2), 0, &v, err, sizeof err), SG_OK);
    assert_word(v, 0, "<eos>", 1);
    assert_word(v, 1, "a", 1);
    assert_word(v, 2, "ab", 1);
    assert_word(v, 3, "b", 1);
    assert_word(v, 4, "<unk>", 0);
    sg_vocab_free(v);

    /* The same text gives the same vocabulary whatever the order of first
     * appearance. */
    const char *t3 = "b ab a\n";
    assert_int_equal(sg_vocab_build_text(t3, strlen(t3), 0, &v, err, sizeof err), SG_OK);
    assert_word(v, 1, "a", 1);
    assert_word(v, 2, "ab", 1);
    sg_vocab_free(v);
}

/* Words seen fewer than min_count times become <unk>; a literal <unk> is a
 * normal word; <unk>'s count includes the dropped words; counts sum to the
 * number of training tokens. */
static void test_vocab_min_count(void **state)
{
    (void)state;
    const char *text = "the cat <unk> the dog\nthe cat sat\n";
    sg_vocab *v = NULL;
    char err[256];
    assert_int_equal(sg_vocab_build_text(text, strlen(text), 2, &v, err, sizeof err), SG_OK);
    assert_int_equal(sg_vocab_size(v), 4);
    assert_word(v, 0, "<unk>", 3); /* 1 literal + dog + sat */
    assert_word(v, 1, "the", 3);
    assert_word(v, 2, "<eos>", 2);
    assert_word(v, 3, "cat", 2);
    assert_int_equal(sg_vocab_id(v, "dog"), -1);
    assert_int_equal(sg_vocab_id(v, "sat"), -1);

    sg_tokens t;
    assert_int_equal(sg_tokens_from_text(&t, v, text, strlen(text), err, sizeof err), SG_OK);
    const int32_t want[] = {1, 3, 0, 1, 0, 2, 1, 3, 0, 2};
    assert_int_equal(t.n, 10);
    assert_memory_equal(t.ids, want, sizeof want);
    assert_int_equal(t.n_lines, 2);
    assert_int_equal(t.n_unk, 2); /* dog, sat; the literal <unk> is a known word */
    uint64_t sum = 0;
    for (int32_t i = 0; i < (int32_t)sg_vocab_size(v); i++)
        sum += sg_vocab_count(v, i);
    assert_int_equal(sum, t.n);
    sg_tokens_free(&t);
    assert_null(t.ids);
    sg_vocab_free(v);

    /* min_count 0 and 1 keep everything. */
    for (size_t mc = 0; mc <= 1; mc++) {
        assert_int_equal(sg_vocab_build_text(text, strlen(text), mc, &v, err, sizeof err), SG_OK);
        assert_int_equal(sg_vocab_size(v), 6);
        assert_int_equal(sg_vocab_count(v, sg_vocab_unk(v)), 1);
        sg_vocab_free(v);
    }
    /* A threshold above every count keeps only <unk> and <eos>. */
    assert_int_equal(sg_vocab_build_text(text, strlen(text), 100, &v, err, sizeof err), SG_OK);
    assert_int_equal(sg_vocab_size(v), 2);
    assert_word(v, 0, "<unk>", 8);
    assert_word(v, 1, "<eos>", 2);
    sg_vocab_free(v);
}

/* One <eos> per '\n' (an empty line is just <eos>), one for a last line
 * without '\n' that holds a word, none for trailing blanks; blanks are
 * space, tab, CR, VT, FF. */
static void test_eos_per_line(void **state)
{
    fixture *f = *state;
    const char *text = "a b\n\n  c  \t d\r\ne";
    sg_vocab *v = NULL;
    char err[256];
    assert_int_equal(sg_vocab_build_text(text, strlen(text), 0, &v, err, sizeof err), SG_OK);
    int32_t a = sg_vocab_id(v, "a"), b = sg_vocab_id(v, "b"), c = sg_vocab_id(v, "c"), d = sg_vocab_id(v, "d"),
            e = sg_vocab_id(v, "e"), E = sg_vocab_eos(v);
    assert_true(a >= 0 && b >= 0 && c >= 0 && d >= 0 && e >= 0);
    assert_int_equal(sg_vocab_count(v, E), 4);
    assert_int_equal(sg_vocab_size(v), 7); /* a b c d e <eos> <unk> */
    const char *path = write_file(f->dir, "t.txt", text);
    sg_tokens t;
    assert_int_equal(sg_tokens_read_file(&t, v, path, err, sizeof err), SG_OK);
    const int32_t want[] = {a, b, E, E, c, d, E, e, E};
    assert_int_equal(t.n, 9);
    assert_memory_equal(t.ids, want, sizeof want);
    assert_int_equal(t.n_lines, 4);
    assert_int_equal(t.n_unk, 0);
    sg_tokens_free(&t);

    const char *t2 = "e d\n \t ";
    assert_int_equal(sg_tokens_from_text(&t, v, t2, strlen(t2), err, sizeof err), SG_OK);
    const int32_t want2[] = {e, d, E};
    assert_int_equal(t.n, 3);
    assert_memory_equal(t.ids, want2, sizeof want2);
    assert_int_equal(t.n_lines, 1);
    sg_tokens_free(&t);
    sg_vocab_free(v);
}

/* Words unseen in training map to <unk> at test time and are counted. */
static void test_unknown_words(void **state)
{
    (void)state;
    const char *train = "a b\n";
    sg_vocab *v = NULL;
    char err[256];
    assert_int_equal(sg_vocab_build_text(train, strlen(train), 0, &v, err, sizeof err), SG_OK);
    const char *test = "a z b q q\nAb\n";
    sg_tokens t;
    assert_int_equal(sg_tokens_from_text(&t, v, test, strlen(test), err, sizeof err), SG_OK);
    int32_t a = sg_vocab_id(v, "a"), b = sg_vocab_id(v, "b"), U = sg_vocab_unk(v), E = sg_vocab_eos(v);
    const int32_t want[] = {a, U, b, U, U, E, U, E};
    assert_int_equal(t.n, 8);
    assert_memory_equal(t.ids, want, sizeof want);
    assert_int_equal(t.n_unk, 4);
    assert_int_equal(t.n_lines, 2);
    sg_tokens_free(&t);
    sg_vocab_free(v);
}

/* Missing, empty, blank-only, binary files and directories: a status and a
 * message naming the file, no abort, nothing returned. */
static void test_file_errors(void **state)
{
    fixture *f = *state;
    char err[512], missing[256];
    snprintf(missing, sizeof missing, "%s/nope.txt", f->dir);
    sg_vocab *v = (sg_vocab *)1;
    assert_int_equal(sg_vocab_build_file(missing, 0, &v, err, sizeof err), SG_ERR_IO);
    assert_null(v);
    assert_true(sg_contains(err, "cannot open"));
    assert_true(sg_contains(err, "nope.txt"));
    assert_true(sg_contains(err, "No such file"));

    const char *empty = write_file(f->dir, "empty.txt", "");
    assert_int_equal(sg_vocab_build_file(empty, 0, &v, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "empty.txt' is empty"));

    const char *blank = write_file(f->dir, "blank.txt", "  \n\t\n\n");
    assert_int_equal(sg_vocab_build_file(blank, 0, &v, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "contains no words"));

    const char *bin = write_file_n(f->dir, "bin.txt", "abc\0def\n", 8);
    assert_int_equal(sg_vocab_build_file(bin, 0, &v, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "NUL byte at offset 3"));

    assert_int_equal(sg_vocab_build_file(f->dir, 0, &v, err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "directory"));

    /* The same through the tokenizer. */
    const char *train = "x y\n";
    assert_int_equal(sg_vocab_build_text(train, strlen(train), 0, &v, err, sizeof err), SG_OK);
    sg_tokens t = {(int32_t *)1, 5, 5, 5};
    assert_int_equal(sg_tokens_read_file(&t, v, missing, err, sizeof err), SG_ERR_IO);
    assert_null(t.ids);
    assert_int_equal(t.n, 0);
    assert_int_equal(sg_tokens_read_file(&t, v, empty, err, sizeof err), SG_ERR_FORMAT);
    assert_int_equal(sg_tokens_read_file(&t, v, blank, err, sizeof err), SG_ERR_FORMAT);
    assert_int_equal(sg_tokens_read_file(&t, v, bin, err, sizeof err), SG_ERR_FORMAT);
    assert_null(t.ids);
    assert_int_equal(sg_tokens_from_text(&t, NULL, train, strlen(train), err, sizeof err), SG_ERR_ARG);
    sg_vocab_free(v);
}

/* ---- serialization ---------------------------------------------------------- */

static void test_vocab_roundtrip(void **state)
{
    (void)state;
    const char *text = "a b c\nb c\nc\n";
    sg_vocab *v = NULL, *w = NULL;
    char err[256];
    assert_int_equal(sg_vocab_build_text(text, strlen(text), 0, &v, err, sizeof err), SG_OK);
    char *s = NULL;
    size_t len = 0;
    assert_int_equal(sg_vocab_serialize(v, &s, &len), SG_OK);
    assert_string_equal(s, "<eos>\nc\nb\na\n<unk>\n");
    assert_int_equal(len, strlen(s));
    assert_int_equal(sg_vocab_deserialize(s, len, &w, err, sizeof err), SG_OK);
    assert_int_equal(sg_vocab_size(w), sg_vocab_size(v));
    for (int32_t i = 0; i < (int32_t)sg_vocab_size(v); i++) {
        assert_string_equal(sg_vocab_word(w, i), sg_vocab_word(v, i));
        assert_int_equal(sg_vocab_id(w, sg_vocab_word(v, i)), i);
        assert_int_equal(sg_vocab_count(w, i), 0);
    }
    assert_int_equal(sg_vocab_unk(w), sg_vocab_unk(v));
    assert_int_equal(sg_vocab_eos(w), sg_vocab_eos(v));
    char *s2 = NULL;
    assert_int_equal(sg_vocab_serialize(w, &s2, NULL), SG_OK);
    assert_string_equal(s2, s);
    sg_free(s2);
    sg_vocab_free(w);
    /* Without the final newline. */
    assert_int_equal(sg_vocab_deserialize(s, len - 1, &w, err, sizeof err), SG_OK);
    assert_int_equal(sg_vocab_size(w), 5);
    sg_vocab_free(w);
    sg_free(s);
    sg_vocab_free(v);

    /* A larger vocabulary (hash table growth) round-trips too. */
    char *big = malloc(200000);
    assert_non_null(big);
    size_t bl = 0;
    for (int i = 0; i < 20000; i++)
        bl += (size_t)snprintf(big + bl, 200000 - bl, "w%d%c", i % 5000 * 7 + i / 5000, i % 10 == 9 ? '\n' : ' ');
    assert_int_equal(sg_vocab_build_text(big, bl, 0, &v, err, sizeof err), SG_OK);
    assert_int_equal(sg_vocab_size(v), 20002);
    assert_int_equal(sg_vocab_serialize(v, &s, &len), SG_OK);
    assert_int_equal(sg_vocab_deserialize(s, len, &w, err, sizeof err), SG_OK);
    for (int32_t i = 0; i < (int32_t)sg_vocab_size(v); i++)
        assert_int_equal(sg_vocab_id(w, sg_vocab_word(v, i)), i);
    sg_vocab_free(w);
    sg_free(s);
    sg_vocab_free(v);
    free(big);

    /* Validation. */
    struct {
        const char *text, *msg;
    } bad[] = {
        {"a\nb\na\n<unk>\n<eos>\n", "line 3: duplicate word 'a' (also line 1)"},
        {"<unk>\n\n<eos>\n", "line 2 is empty"},
        {"<unk>\na b\n<eos>\n", "line 2: the word has a blank"},
        {"<unk>\na\n", "has no '<eos>'"},
        {"<eos>\na\n", "has no '<unk>'"},
        {"", "has no '<unk>'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        w = (sg_vocab *)1;
        assert_int_equal(sg_vocab_deserialize(bad[i].text, strlen(bad[i].text), &w, err, sizeof err), SG_ERR_FORMAT);
        assert_null(w);
        assert_true(sg_contains(err, bad[i].msg));
    }
}

/* ---- batching --------------------------------------------------------------- */

/* n = 23, B = 2, T = 3: L = 11, token 22 is dropped; stream 0 is ids 0..10,
 * stream 1 ids 11..21; (L - 1) / T = 3 full windows and a final one of 1 step. */
static void test_batching_layout(void **state)
{
    (void)state;
    int32_t ids[23];
    for (int i = 0; i < 23; i++)
        ids[i] = 100 + i;
    /* x[k][t][b] and y[k][t][b] */
    static const int32_t wx[4][3][2] = {
        {{100, 111}, {101, 112}, {102, 113}},
        {{103, 114}, {104, 115}, {105, 116}},
        {{106, 117}, {107, 118}, {108, 119}},
        {{109, 120}},
    };
    static const int32_t wy[4][3][2] = {
        {{101, 112}, {102, 113}, {103, 114}},
        {{104, 115}, {105, 116}, {106, 117}},
        {{107, 118}, {108, 119}, {109, 120}},
        {{110, 121}},
    };
    const size_t wlen[4] = {3, 3, 3, 1};
    char err[256];
    for (int drop = 0; drop <= 1; drop++) {
        sg_text_batcher it;
        assert_int_equal(sg_text_batcher_init(&it, ids, 23, 2, 3, drop, err, sizeof err), SG_OK);
        assert_int_equal(it.stream_len, 11);
        assert_int_equal(it.n_windows, drop ? 3 : 4);
        for (int pass = 0; pass < 2; pass++) {
            int32_t x[6], y[6], prev_y_last[2] = {-1, -1};
            for (size_t k = 0; k < it.n_windows; k++) {
                memset(x, 0xff, sizeof x);
                memset(y, 0xff, sizeof y);
                size_t Tk = sg_text_batcher_next(&it, x, y);
                assert_int_equal(Tk, wlen[k]);
                assert_memory_equal(x, wx[k], Tk * 2 * sizeof(int32_t));
                assert_memory_equal(y, wy[k], Tk * 2 * sizeof(int32_t));
                for (size_t t = Tk * 2; t < 6; t++) /* rows past T_k untouched */
                    assert_int_equal(x[t], -1);
                for (size_t t = 0; t + 1 < Tk; t++) /* targets are inputs shifted by one */
                    for (size_t b = 0; b < 2; b++)
                        assert_int_equal(y[t * 2 + b], x[(t + 1) * 2 + b]);
                if (k > 0) /* each stream continues across windows */
                    for (size_t b = 0; b < 2; b++)
                        assert_int_equal(x[b], prev_y_last[b]);
                for (size_t b = 0; b < 2; b++)
                    prev_y_last[b] = y[(Tk - 1) * 2 + b];
            }
            assert_int_equal(sg_text_batcher_next(&it, x, y), 0);
            assert_int_equal(x[0], drop ? 106 : 109); /* untouched at the end */
            sg_text_batcher_rewind(&it);
        }
    }

    /* Errors: B or T zero, streams shorter than 2, no full window to keep. */
    sg_text_batcher it;
    assert_int_equal(sg_text_batcher_init(&it, ids, 23, 0, 3, false, err, sizeof err), SG_ERR_ARG);
    assert_true(sg_contains(err, "B >= 1"));
    assert_int_equal(sg_text_batcher_init(&it, ids, 23, 2, 0, false, err, sizeof err), SG_ERR_ARG);
    assert_int_equal(sg_text_batcher_init(&it, ids, 3, 2, 3, false, err, sizeof err), SG_ERR_ARG);
    assert_true(sg_contains(err, "L = 1"));
    assert_int_equal(sg_text_batcher_init(&it, ids, 6, 2, 3, false, err, sizeof err), SG_OK);
    assert_int_equal(it.n_windows, 1);
    assert_int_equal(sg_text_batcher_init(&it, ids, 6, 2, 3, true, err, sizeof err), SG_ERR_ARG);
    assert_true(sg_contains(err, "L - 1 < T"));
    assert_int_equal(sg_text_batcher_init(&it, ids, 8, 2, 3, true, err, sizeof err), SG_OK);
    assert_int_equal(it.n_windows, 1);
}

/* After creation the iterator takes nothing from the heap, over whole epochs;
 * an epoch visits every position of every stream but the last exactly once. */
static void test_batcher_allocates_nothing(void **state)
{
    (void)state;
    enum { N = 10007, B = 20, T = 35 };
    int32_t *ids = malloc(N * sizeof *ids);
    int32_t *x = malloc(T * B * sizeof *x), *y = malloc(T * B * sizeof *y);
    assert_true(ids && x && y);
    for (int i = 0; i < N; i++)
        ids[i] = i;
    sg_text_batcher it;
    size_t before = sg_alloc_count();
    assert_int_equal(sg_text_batcher_init(&it, ids, N, B, T, false, NULL, 0), SG_OK);
    size_t L = N / B;
    for (int epoch = 0; epoch < 3; epoch++) {
        size_t steps = 0, windows = 0, Tk;
        long long sum = 0;
        while ((Tk = sg_text_batcher_next(&it, x, y)) > 0) {
            windows++;
            steps += Tk;
            for (size_t i = 0; i < Tk * B; i++) {
                sum += x[i];
                assert_int_equal(y[i], x[i] + 1);
            }
        }
        assert_int_equal(steps, L - 1);
        assert_int_equal(windows, (L - 1 + T - 1) / T);
        long long want = 0; /* sum of ids[b L + j], j < L - 1 */
        for (size_t b = 0; b < B; b++)
            for (size_t j = 0; j + 1 < L; j++)
                want += (long long)(b * L + j);
        assert_true(sum == want);
        sg_text_batcher_rewind(&it);
    }
    assert_int_equal(sg_alloc_count(), before);
    free(ids);
    free(x);
    free(y);
}

/* ---- data directory --------------------------------------------------------- */

static void write_corpus(const char *dir, const char *const names[3])
{
    write_file(dir, names[0], "the cat sat\nthe dog sat\n");
    write_file(dir, names[1], "the cow sat\n");
    write_file(dir, names[2], "a cat\nthe\n");
}

static void test_corpus_dir(void **state)
{
    fixture *f = *state;
    static const char *const plain[3] = {"train.txt", "valid.txt", "test.txt"};
    static const char *const ptb[3] = {"ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"};
    char err[512], d1[512], d2[512], d3[512], d4[512], d5[512];
    snprintf(d1, sizeof d1, "%s", make_subdir(f->dir, "plain"));
    snprintf(d2, sizeof d2, "%s", make_subdir(f->dir, "ptb"));
    snprintf(d3, sizeof d3, "%s", make_subdir(f->dir, "both"));
    snprintf(d4, sizeof d4, "%s", make_subdir(f->dir, "mixed"));
    snprintf(d5, sizeof d5, "%s", make_subdir(f->dir, "badvalid"));
    write_corpus(d1, plain);
    write_corpus(d2, ptb);
    write_corpus(d3, ptb);
    write_corpus(d3, plain);

    const char *dirs[3] = {d1, d2, d3};
    const char *want_train[3] = {"/train.txt", "/ptb.train.txt", "/train.txt"};
    for (int i = 0; i < 3; i++) {
        sg_text_corpus c;
        assert_int_equal(sg_text_corpus_load(&c, dirs[i], 0, err, sizeof err), SG_OK);
        const char *p = c.path[SG_TEXT_TRAIN];
        assert_true(strlen(p) > strlen(want_train[i]));
        assert_string_equal(p + strlen(p) - strlen(want_train[i]), want_train[i]);
        assert_int_equal(sg_vocab_size(c.vocab), 6); /* the sat <eos> cat dog <unk> */
        assert_int_equal(c.split[SG_TEXT_TRAIN].n, 8);
        assert_int_equal(c.split[SG_TEXT_VALID].n, 4);
        assert_int_equal(c.split[SG_TEXT_VALID].n_unk, 1); /* cow */
        assert_int_equal(c.split[SG_TEXT_TEST].n, 5);
        assert_int_equal(c.split[SG_TEXT_TEST].n_unk, 1); /* a */
        assert_int_equal(c.split[SG_TEXT_TEST].n_lines, 2);
        sg_text_corpus_free(&c);
        assert_null(c.vocab);
    }
    /* Trailing slash in DIR. */
    char slash[600];
    snprintf(slash, sizeof slash, "%s/", d2);
    sg_text_corpus c;
    assert_int_equal(sg_text_corpus_load(&c, slash, 0, err, sizeof err), SG_OK);
    assert_null(strstr(c.path[SG_TEXT_TEST], "//"));
    sg_text_corpus_free(&c);

    /* Neither scheme complete: the message lists what was looked for and found. */
    write_file(d4, "train.txt", "a\n");
    write_file(d4, "ptb.valid.txt", "a\n");
    assert_int_equal(sg_text_corpus_load(&c, d4, 0, err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "no text corpus in"));
    assert_true(sg_contains(err, "looked for train.txt, valid.txt, test.txt or ptb.train.txt, ptb.valid.txt, "
                                 "ptb.test.txt"));
    assert_true(sg_contains(err, "found: train.txt, ptb.valid.txt"));
    assert_null(c.vocab);
    assert_null(c.path[0]);
    /* An empty directory, a missing one. */
    assert_int_equal(sg_text_corpus_load(&c, f->dir, 0, err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "found: none"));
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nowhere", f->dir);
    assert_int_equal(sg_text_corpus_load(&c, missing, 0, err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "No such file"));
    assert_true(sg_contains(err, "ptb.train.txt"));
    /* A complete scheme with an empty valid file: that file's error. */
    write_corpus(d5, plain);
    write_file(d5, "valid.txt", "");
    assert_int_equal(sg_text_corpus_load(&c, d5, 0, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "valid.txt' is empty"));
    assert_null(c.vocab);
    assert_null(c.split[SG_TEXT_TRAIN].ids);
}

/* ---- sampling ------------------------------------------------------------- */

/* A vocabulary from a word list keeps the order, allows blanks, refuses an
 * empty or repeated word (naming both positions). */
static void test_vocab_from_words(void **state)
{
    (void)state;
    const char *words[] = {"<pad>", " ", "<eos>", "b", "<unk>", "a b"};
    sg_vocab *v;
    char err[256];
    assert_int_equal(sg_vocab_from_words(words, 6, &v, err, sizeof err), SG_OK);
    assert_int_equal(sg_vocab_size(v), 6);
    for (int32_t i = 0; i < 6; i++) {
        assert_string_equal(sg_vocab_word(v, i), words[i]);
        assert_int_equal(sg_vocab_id(v, words[i]), i);
        assert_int_equal(sg_vocab_count(v, i), 0);
    }
    assert_int_equal(sg_vocab_unk(v), 4);
    assert_int_equal(sg_vocab_eos(v), 2);
    sg_vocab_free(v);
    const char *twice[] = {"x", "y", "z", "y"};
    assert_int_equal(sg_vocab_from_words(twice, 4, &v, err, sizeof err), SG_ERR_FORMAT);
    assert_null(v);
    assert_true(sg_contains(err, "word 'y' is given twice (words 2 and 4)"));
    const char *empty[] = {"x", ""};
    assert_int_equal(sg_vocab_from_words(empty, 2, &v, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "word 2 is empty"));
}

static void test_sampling_greedy(void **state)
{
    (void)state;
    const double l[] = {0.5, 2.0, -1.0, 2.0, 1.9};
    sg_rng rng, before;
    sg_rng_seed(&rng, 7);
    before = rng;
    size_t id = 99;
    assert_int_equal(sg_argmax(l, 5), 1); /* first of the ties */
    assert_int_equal(sg_sample_logits(l, 5, 0.0, &rng, &id), SG_OK);
    assert_int_equal(id, 1);
    assert_memory_equal(&rng, &before, sizeof rng); /* greedy draws nothing */
    assert_int_equal(sg_sample_logits(l, 5, 0.0, NULL, &id), SG_OK);
    /* Temperature -> 0 tends to the argmax. */
    const double d[] = {0.5, 2.0, -1.0, 1.9};
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(sg_sample_logits(d, 4, 1e-3, &rng, &id), SG_OK);
        assert_int_equal(id, 1);
    }
    const double p[] = {0.1, 0.2, 0.5, 0.2};
    assert_int_equal(sg_sample_probs(p, 4, 0.0, NULL, &id), SG_OK);
    assert_int_equal(id, 2);
    const double nan_first[] = {NAN, -3.0, -2.0};
    assert_int_equal(sg_argmax(nan_first, 3), 2);
    assert_int_equal(sg_argmax(nan_first, 1), SIZE_MAX);
    assert_int_equal(sg_argmax(l, 0), SIZE_MAX);
    /* A +inf logit wins outright. */
    const double inf[] = {1.0, INFINITY, 3.0};
    assert_int_equal(sg_sample_logits(inf, 3, 1.0, &rng, &id), SG_OK);
    assert_int_equal(id, 1);
}

/* Frequencies over 10^5 draws match softmax(logits / T) within 5 standard
 * errors; -inf logits and zero probabilities are never drawn. */
static void check_frequencies(const double *w, size_t n, bool probs, double temp, uint64_t seed)
{
    enum { DRAWS = 100000 };
    double q[8], m = -INFINITY, sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        q[i] = probs ? (w[i] > 0 ? log(w[i]) : -INFINITY) : w[i];
        if (q[i] > m)
            m = q[i];
    }
    for (size_t i = 0; i < n; i++)
        sum += (q[i] = exp((q[i] - m) / temp));
    size_t hits[8] = {0};
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    for (int k = 0; k < DRAWS; k++) {
        size_t id = SIZE_MAX;
        sg_status st = probs ? sg_sample_probs(w, n, temp, &rng, &id) : sg_sample_logits(w, n, temp, &rng, &id);
        assert_int_equal(st, SG_OK);
        assert_true(id < n);
        hits[id]++;
    }
    for (size_t i = 0; i < n; i++) {
        double p = q[i] / sum, fr = (double)hits[i] / DRAWS, se = sqrt(p * (1 - p) / DRAWS);
        if (p == 0.0)
            assert_int_equal(hits[i], 0);
        else if (fabs(fr - p) > 5 * se)
            fail_msg("T = %g id %zu: frequency %.5f, softmax %.5f (5 se = %.5f)", temp, i, fr, p, 5 * se);
    }
}

static void test_sampling_frequencies(void **state)
{
    (void)state;
    const double logits[] = {1.0, 2.0, 0.5, -1.0, 3.0, -INFINITY};
    check_frequencies(logits, 6, false, 1.0, 1);
    check_frequencies(logits, 6, false, 0.7, 2);
    check_frequencies(logits, 6, false, 2.0, 3);
    const double probs[] = {0.1, 0.2, 0.3, 0.4, 0.0};
    check_frequencies(probs, 5, true, 1.0, 4);
    check_frequencies(probs, 5, true, 0.5, 5); /* p^2 normalized */
    const double unnorm[] = {2.0, 6.0, 2.0};   /* need not sum to 1 */
    check_frequencies(unnorm, 3, true, 1.5, 6);
}

static void test_sampling_deterministic(void **state)
{
    (void)state;
    const double logits[] = {0.1, 0.3, -0.2, 0.8, 0.0, 0.5, -1.0};
    size_t a[1000], b[1000], c[1000];
    sg_rng r1, r2, r3;
    sg_rng_seed(&r1, 42);
    sg_rng_seed(&r2, 42);
    sg_rng_seed(&r3, 43);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(sg_sample_logits(logits, 7, 0.9, &r1, &a[i]), SG_OK);
        assert_int_equal(sg_sample_logits(logits, 7, 0.9, &r2, &b[i]), SG_OK);
        assert_int_equal(sg_sample_logits(logits, 7, 0.9, &r3, &c[i]), SG_OK);
    }
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    /* One uniform per draw: the stream is where 1000 uniforms leave it. */
    sg_rng r4;
    sg_rng_seed(&r4, 42);
    for (int i = 0; i < 1000; i++)
        sg_rng_uniform(&r4);
    assert_memory_equal(&r4, &r1, sizeof r4);
}

static void test_sampling_errors(void **state)
{
    (void)state;
    sg_rng rng;
    sg_rng_seed(&rng, 1);
    size_t id = 77;
    const double ok[] = {1.0, 2.0};
    const double nan[] = {1.0, NAN};
    const double ninf[] = {-INFINITY, -INFINITY};
    const double negp[] = {0.5, -0.1};
    const double zerop[] = {0.0, 0.0};
    assert_int_equal(sg_sample_logits(ok, 0, 1.0, &rng, &id), SG_ERR_ARG);
    assert_int_equal(sg_sample_logits(NULL, 2, 1.0, &rng, &id), SG_ERR_ARG);
    assert_int_equal(sg_sample_logits(nan, 2, 1.0, &rng, &id), SG_ERR_ARG);
    assert_int_equal(sg_sample_logits(ninf, 2, 1.0, &rng, &id), SG_ERR_ARG);
    assert_int_equal(sg_sample_logits(ok, 2, -1.0, &rng, &id), SG_ERR_ARG);
    assert_int_equal(sg_sample_logits(ok, 2, NAN, &rng, &id), SG_ERR_ARG);
    assert_int_equal(sg_sample_logits(ok, 2, INFINITY, &rng, &id), SG_ERR_ARG);
    assert_int_equal(sg_sample_logits(ok, 2, 1.0, NULL, &id), SG_ERR_ARG);
    assert_int_equal(sg_sample_probs(negp, 2, 1.0, &rng, &id), SG_ERR_ARG);
    assert_int_equal(sg_sample_probs(zerop, 2, 1.0, &rng, &id), SG_ERR_ARG);
    assert_int_equal(sg_sample_probs(nan, 2, 1.0, &rng, &id), SG_ERR_ARG);
    assert_int_equal(id, 77);
}

/* ---- the Penn Treebank, when present ---------------------------------------- */

/* SG_DATA_DIR, or <repo>/../shared/data (the repository found from __FILE__). */
static void data_dir(char *buf, size_t cap)
{
    const char *env = getenv("SG_DATA_DIR");
    if (env && env[0]) {
        snprintf(buf, cap, "%s", env);
        return;
    }
    char repo[512];
    snprintf(repo, sizeof repo, "%s", __FILE__);
    for (int up = 0; up < 2; up++) { /* tests/test_text.c -> tests -> repo */
        char *slash = strrchr(repo, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(repo, sizeof repo, ".");
    }
    size_t n = strlen(repo); /* repo is shorter than 512; buf may be smaller */
    if (n + sizeof "/../shared/data" > cap) {
        snprintf(buf, cap, "../shared/data"); /* cannot fit: relative to the working directory */
        return;
    }
    memcpy(buf, repo, n);
    memcpy(buf + n, "/../shared/data", sizeof "/../shared/data");
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The published figures: V = 10,000, 929,589 / 73,760 / 82,430 tokens with one
 * <eos> per line; the whole corpus loads well under a second. */
static void test_ptb(void **state)
{
    (void)state;
    char base[512], dir[600];
    data_dir(base, sizeof base);
    snprintf(dir, sizeof dir, "%s/ptb", base);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        print_message("  no Penn Treebank at %s: skipped\n", dir);
        skip();
    }
    char err[512];
    sg_text_corpus c;
    double t0 = now_seconds();
    sg_status s = sg_text_corpus_load(&c, dir, 0, err, sizeof err);
    double dt = now_seconds() - t0;
    if (s != SG_OK)
        fail_msg("%s", err);
    print_message("  PTB (%s): V = %zu, train %zu, valid %zu, test %zu tokens; loaded in %.3f s\n", dir,
                  sg_vocab_size(c.vocab), c.split[0].n, c.split[1].n, c.split[2].n, dt);
    assert_int_equal(sg_vocab_size(c.vocab), 10000);
    assert_int_equal(c.split[SG_TEXT_TRAIN].n, 929589);
    assert_int_equal(c.split[SG_TEXT_VALID].n, 73760);
    assert_int_equal(c.split[SG_TEXT_TEST].n, 82430);
    assert_int_equal(c.split[SG_TEXT_TRAIN].n_lines, 42068);
    assert_int_equal(sg_vocab_count(c.vocab, sg_vocab_eos(c.vocab)), 42068);
    for (int i = 0; i < 3; i++) /* PTB's own <unk> covers every rare word */
        assert_int_equal(c.split[i].n_unk, 0);
    assert_string_equal(sg_vocab_word(c.vocab, 0), "the"); /* the most frequent word */
#if defined(__SANITIZE_ADDRESS__)
    assert_true(dt < 3.0); /* AddressSanitizer slows this code about 2-3x */
#else
    assert_true(dt < 1.0);
#endif
    sg_text_corpus_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vocab_ids_counts, setup, teardown),
        cmocka_unit_test(test_vocab_min_count),
        cmocka_unit_test_setup_teardown(test_eos_per_line, setup, teardown),
        cmocka_unit_test(test_unknown_words),
        cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
        cmocka_unit_test(test_vocab_roundtrip),
        cmocka_unit_test(test_batching_layout),
        cmocka_unit_test(test_batcher_allocates_nothing),
        cmocka_unit_test_setup_teardown(test_corpus_dir, setup, teardown),
        cmocka_unit_test(test_vocab_from_words),
        cmocka_unit_test(test_sampling_greedy),
        cmocka_unit_test(test_sampling_frequencies),
        cmocka_unit_test(test_sampling_deterministic),
        cmocka_unit_test(test_sampling_errors),
        cmocka_unit_test(test_ptb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
