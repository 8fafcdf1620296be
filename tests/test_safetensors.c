/* test_safetensors.c — the generic safetensors container (graph/format/
 * sg_safetensors.h) and the helpers under it (graph/util/sg_util.h,
 * sg_file.h): tensors of several dtypes and metadata round-trip through
 * memory and files, a header-only read reads tensors on demand, writers
 * refuse bad names, the output depends only on content, and the numbers
 * and UTF-8 helpers hold at their edges. */
#include "sg_test.h"

#include "graph/core/sg_alloc.h"
#include "graph/format/sg_safetensors.h"
#include "graph/util/sg_file.h"
#include "graph/util/sg_util.h"

#include <locale.h>
#include <unistd.h>

/* A writer with an I64 (2, 2), a U8 (3), an F64 scalar and metadata, added in
 * the order given by `reverse`. */
static const int64_t k_i64[4] = {-1, 2, INT64_MAX, INT64_MIN};
static const uint8_t k_u8[3] = {0, 200, 255};
static const double k_f64 = -0.1;

static void fill_writer(sg_st_writer *w, bool reverse)
{
    char err[256];
    size_t s22[2] = {2, 2}, s3[1] = {3};
    sg_st_writer_init(w);
    for (int k = 0; k < 3; k++) {
        int which = reverse ? 2 - k : k;
        sg_status st = which == 0   ? sg_st_writer_add(w, "ints", SG_ST_I64, 2, s22, k_i64, err, sizeof err)
                       : which == 1 ? sg_st_writer_add(w, "bytes", SG_ST_U8, 1, s3, k_u8, err, sizeof err)
                                    : sg_st_writer_add(w, "x", SG_ST_F64, 0, NULL, &k_f64, err, sizeof err);
        assert_int_equal(st, SG_OK);
    }
    assert_int_equal(sg_st_writer_meta(w, reverse ? "b" : "a", reverse ? "2" : "1", err, sizeof err), SG_OK);
    assert_int_equal(sg_st_writer_meta(w, reverse ? "a" : "b", reverse ? "1" : "2", err, sizeof err), SG_OK);
    assert_int_equal(sg_st_writer_meta(w, "a", "0", err, sizeof err), SG_OK); /* replaced below */
    assert_int_equal(sg_st_writer_meta(w, "a", "1", err, sizeof err), SG_OK);
}

static void check_file(const sg_st_file *f)
{
    char err[256];
    assert_int_equal(f->n_tensors, 3);
    assert_string_equal(f->tensors[0].name, "bytes"); /* sorted by name */
    const sg_st_tensor *t = sg_st_file_find(f, "ints");
    assert_non_null(t);
    assert_int_equal(t->dtype, SG_ST_I64);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->numel, 4);
    unsigned char raw[32];
    int64_t got[4];
    assert_int_equal(sg_st_file_bytes(f, t, raw, err, sizeof err), SG_OK);
    assert_true(sg_st_decode(t->dtype, raw, t->numel, SG_ST_I64, got));
    assert_memory_equal(got, k_i64, sizeof got);
    assert_false(sg_st_decode(t->dtype, raw, t->numel, SG_ST_F32, got)); /* integers stay integers */
    t = sg_st_file_find(f, "bytes");
    uint8_t b[3];
    assert_int_equal(sg_st_file_bytes(f, t, raw, err, sizeof err), SG_OK);
    assert_true(sg_st_decode(SG_ST_U8, raw, 3, SG_ST_U8, b));
    assert_memory_equal(b, k_u8, 3);
    t = sg_st_file_find(f, "x");
    assert_int_equal(t->ndim, 0);
    double x;
    float xf;
    assert_int_equal(sg_st_file_bytes(f, t, raw, err, sizeof err), SG_OK);
    assert_true(sg_st_decode(SG_ST_F64, raw, 1, SG_ST_F64, &x));
    assert_true(sg_st_decode(SG_ST_F64, raw, 1, SG_ST_F32, &xf));
    assert_true(x == k_f64 && xf == (float)k_f64);
    assert_null(sg_st_file_find(f, "nope"));
    assert_string_equal(sg_st_file_meta(f, "a"), "1");
    assert_string_equal(sg_st_file_meta(f, "b"), "2");
    assert_null(sg_st_file_meta(f, "c"));
}

static void test_round_trip_memory_and_file(void **state)
{
    (void)state;
    char err[256];
    sg_st_writer w1, w2;
    fill_writer(&w1, false);
    fill_writer(&w2, true);
    unsigned char *m1, *m2;
    size_t n1, n2;
    assert_int_equal(sg_st_writer_to_mem(&w1, &m1, &n1, err, sizeof err), SG_OK);
    assert_int_equal(sg_st_writer_to_mem(&w2, &m2, &n2, err, sizeof err), SG_OK);
    assert_int_equal(n1, n2); /* the order of the calls does not show */
    assert_memory_equal(m1, m2, n1);
    uint64_t hn = 0;
    for (int k = 0; k < 8; k++)
        hn |= (uint64_t)m1[k] << (8 * k);
    assert_int_equal((8 + hn) % 8, 0); /* the data section starts aligned */
    assert_int_equal(n1, 8 + hn + 4 * 8 + 3 + 8);

    sg_st_file f;
    assert_int_equal(sg_st_file_parse(&f, m1, n1, err, sizeof err), SG_OK);
    check_file(&f);
    sg_st_file_free(&f);

    char path[] = "/tmp/sg_st_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sg_st_writer_save(&w1, path, "test file", err, sizeof err), SG_OK);
    unsigned char *back;
    size_t nb;
    assert_int_equal(sg_file_read_all(path, "test file", &back, &nb, err, sizeof err), SG_OK);
    assert_int_equal(nb, n1);
    assert_memory_equal(back, m1, n1);
    assert_int_equal(back[nb], 0); /* NUL past the end */
    sg_free(back);
    assert_int_equal(sg_st_file_read(&f, path, "test file", err, sizeof err), SG_OK);
    check_file(&f);
    sg_st_file_free(&f);
    assert_int_equal(sg_st_file_read_header(&f, path, "test file", err, sizeof err), SG_OK);
    assert_null(f.data);
    check_file(&f); /* tensors read on demand from the open file */
    sg_st_file_free(&f);
    sg_st_file_free(&f); /* freeing twice is harmless */
    unlink(path);

    sg_free(m1);
    sg_free(m2);
    sg_st_writer_free(&w1);
    sg_st_writer_free(&w2);
}

static void test_writer_refuses(void **state)
{
    (void)state;
    char err[256];
    sg_st_writer w;
    sg_st_writer_init(&w);
    float v = 1;
    size_t s1 = 1;
    assert_int_equal(sg_st_writer_add(&w, "__metadata__", SG_ST_F32, 1, &s1, &v, err, sizeof err), SG_ERR_ARG);
    assert_int_equal(sg_st_writer_add(&w, "\xff", SG_ST_F32, 1, &s1, &v, err, sizeof err), SG_ERR_ARG);
    assert_int_equal(sg_st_writer_add(&w, "a", SG_ST_NDTYPES, 1, &s1, &v, err, sizeof err), SG_ERR_ARG);
    size_t huge[2] = {SIZE_MAX / 2, 4};
    assert_int_equal(sg_st_writer_add(&w, "big", SG_ST_F32, 2, huge, &v, err, sizeof err), SG_ERR_ARG);
    assert_true(sg_contains(err, "too large"));
    assert_int_equal(sg_st_writer_meta(&w, "k", "\xc0\x80", err, sizeof err), SG_ERR_ARG); /* overlong NUL */
    assert_int_equal(w.n_tensors, 0);
    assert_int_equal(w.n_meta, 0);
    assert_int_equal(sg_st_writer_add(&w, "a", SG_ST_F32, 1, &s1, &v, err, sizeof err), SG_OK);
    assert_int_equal(sg_st_writer_add(&w, "a", SG_ST_F32, 1, &s1, &v, err, sizeof err), SG_OK);
    unsigned char *m = (unsigned char *)&v;
    size_t n = 7;
    assert_int_equal(sg_st_writer_to_mem(&w, &m, &n, err, sizeof err), SG_ERR_ARG);
    assert_true(sg_contains(err, "tensor 'a' is added twice"));
    assert_null(m);
    assert_int_equal(n, 0);
    assert_int_equal(sg_st_writer_save(&w, "/nonexistent-dir/x.safetensors", NULL, err, sizeof err), SG_ERR_ARG);
    sg_st_writer_free(&w);
}

static void test_reader_errors_name_the_problem(void **state)
{
    (void)state;
    char err[256];
    sg_st_file f;
    /* a tensor with 65 dimensions */
    char hdr[1024] = "{\"t\":{\"dtype\":\"U8\",\"shape\":[";
    for (int i = 0; i < 65; i++)
        strcat(hdr, i ? ",1" : "1");
    strcat(hdr, "],\"data_offsets\":[0,1]}}");
    size_t hn = strlen(hdr);
    unsigned char buf[1200] = {0};
    for (int k = 0; k < 8; k++)
        buf[k] = (unsigned char)(hn >> (8 * k));
    memcpy(buf + 8, hdr, hn);
    assert_int_equal(sg_st_file_parse(&f, buf, 8 + hn + 1, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "tensor 't': shape has more than 64 dimensions"));
    sg_st_file_free(&f);
    /* a header that is not UTF-8 (found by the fuzzer: a lone 0xa0 in a
     * metadata value loaded, then could not be saved again) */
    static const char bad_utf8[] = "{\"__metadata__\":{\"vocab\":\"the\xa0\"}}";
    hn = strlen(bad_utf8);
    memset(buf, 0, sizeof buf);
    for (int k = 0; k < 8; k++)
        buf[k] = (unsigned char)(hn >> (8 * k));
    memcpy(buf + 8, bad_utf8, hn);
    assert_int_equal(sg_st_file_parse(&f, buf, 8 + hn, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "header is not valid UTF-8 (at byte 29 of 33)"));
    sg_st_file_free(&f);
    static const char bad_escape[] = "{\"\\ud800x\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}";
    hn = strlen(bad_escape);
    for (int k = 0; k < 8; k++)
        buf[k] = (unsigned char)(hn >> (8 * k));
    memcpy(buf + 8, bad_escape, hn);
    assert_int_equal(sg_st_file_parse(&f, buf, 8 + hn + 1, err, sizeof err), SG_ERR_FORMAT); /* a lone surrogate */
    sg_st_file_free(&f);
    assert_int_equal(sg_st_file_read(&f, "/nonexistent-dir/x", "model", err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "model '/nonexistent-dir/x': cannot open"));
    sg_st_file_free(&f);
    assert_int_equal(sg_st_file_read_header(&f, "/tmp", NULL, err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "not a regular file"));
    sg_st_file_free(&f);
}

static void test_atomic_save_keeps_old_file_on_abort(void **state)
{
    (void)state;
    char err[256];
    char path[] = "/tmp/sg_file_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "old", 3), 3);
    close(fd);
    sg_file_tmp t;
    assert_int_equal(sg_file_tmp_open(&t, path, "note", err, sizeof err), SG_OK);
    fputs("new contents", t.f);
    char tmp_path[256];
    snprintf(tmp_path, sizeof tmp_path, "%s", t.tmp_path);
    sg_file_tmp_abort(&t);
    assert_int_equal(access(tmp_path, F_OK), -1); /* the temporary file is gone */
    unsigned char *b;
    size_t n;
    assert_int_equal(sg_file_read_all(path, "note", &b, &n, err, sizeof err), SG_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(b, "old", 3);
    sg_free(b);
    assert_int_equal(sg_file_tmp_open(&t, path, "note", err, sizeof err), SG_OK);
    fputs("new", t.f);
    assert_int_equal(sg_file_tmp_commit(&t, err, sizeof err), SG_OK);
    assert_null(t.f);
    assert_int_equal(sg_file_read_all(path, "note", &b, &n, err, sizeof err), SG_OK);
    assert_memory_equal(b, "new", 3);
    sg_free(b);
    unlink(path);
    assert_int_equal(sg_file_tmp_open(&t, "/nonexistent-dir/f", "note", err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "note '/nonexistent-dir/f': cannot create temporary file"));
}

static void test_util_numbers_and_utf8(void **state)
{
    (void)state;
    char buf[SG_FMT_DOUBLE_CAP];
    const double vals[] = {0.9, 0.1 + 0.2, 1e-300, -1.7976931348623157e308, 5e-324, 0.0, 1.0 / 3.0};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        double back = -1;
        sg_fmt_double(buf, vals[i]);
        assert_true(sg_parse_double(buf, &back));
        assert_true(back == vals[i]);
    }
    sg_fmt_double(buf, 0.9);
    assert_string_equal(buf, "0.9");
    /* floats: 9 digits read back as the same float, over every exponent */
    for (uint32_t bits = 0x00000001u; bits < 0x7f800000u; bits += 0x000a3d71u) {
        float f, g;
        memcpy(&f, &bits, sizeof f);
        for (int sign = 0; sign < 2; sign++, f = -f) {
            double back = 0;
            sg_fmt_float(buf, f);
            assert_true(sg_parse_double(buf, &back));
            g = (float)back;
            assert_memory_equal(&f, &g, sizeof f);
        }
    }
    sg_fmt_float(buf, 0.5f);
    assert_string_equal(buf, "0.5");
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8")) { /* a comma radix, when the locale exists */
        sg_fmt_double(buf, 2.5);
        assert_string_equal(buf, "2.5");
        double v;
        assert_true(sg_parse_double("2.5", &v) && v == 2.5);
        setlocale(LC_NUMERIC, "C");
    }
    double d;
    assert_false(sg_parse_double("nan", &d));
    assert_false(sg_parse_double("1e999", &d));
    assert_false(sg_parse_double(" 1", &d));
    assert_false(sg_parse_double("", &d));
    uint64_t u;
    assert_true(sg_parse_u64("18446744073709551615", &u) && u == UINT64_MAX);
    assert_false(sg_parse_u64("18446744073709551616", &u));
    assert_false(sg_parse_u64("-1", &u));

    assert_true(sg_utf8_valid("h\xc3\xa9llo \xf0\x9f\x98\x80", 11));
    assert_false(sg_utf8_valid("\xed\xa0\x80", 3));     /* a surrogate */
    assert_false(sg_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(sg_utf8_valid("\xc3", 1));             /* cut short */
    assert_int_equal(sg_utf8_seq_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
    assert_int_equal(sg_utf8_seq_len((const unsigned char *)"\xe2\x82\xac", 2), 0);

    size_t s;
    assert_false(sg_size_mul(SIZE_MAX / 2 + 1, 2, &s));
    assert_false(sg_size_add(SIZE_MAX, 1, &s));
    assert_true(sg_size_mul(0, SIZE_MAX, &s) && s == 0);
    int *arr = NULL;
    size_t cap = 0;
    void *p = arr;
    assert_true(sg_array_reserve(&p, &cap, 100, sizeof *arr));
    assert_true(cap >= 100);
    arr = p;
    arr[99] = 7;
    assert_false(sg_array_reserve(&p, &cap, SIZE_MAX / 2, 16)); /* overflow: refused, array intact */
    assert_ptr_equal(p, arr);
    sg_free(arr);
    assert_true(sg_hash_bytes("a", 1) != sg_hash_bytes("b", 1));
    char *c = sg_str_ndup("abcdef", 3);
    assert_string_equal(c, "abc");
    sg_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_memory_and_file),
        cmocka_unit_test(test_writer_refuses),
        cmocka_unit_test(test_reader_errors_name_the_problem),
        cmocka_unit_test(test_atomic_save_keeps_old_file_on_abort),
        cmocka_unit_test(test_util_numbers_and_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
