/* test_plot.c — pictures through PLplot (frontends/plot): a curve plot and a
 * heatmap are real PNG/SVG files of the stated pixel size, they change when
 * the data change, a failed write leaves an existing file untouched, and bad
 * arguments are refused with a message instead of ending the process. */
#include "sg_test.h"

#include "frontends/plot/sg_plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/sg_plot_XXXXXX";

static void path_in(const char *name, char *p, size_t cap) { snprintf(p, cap, "%s/%s", dir, name); }

/* The PNG's width and height from its IHDR chunk. */
static void png_size(const char *path, unsigned *w, unsigned *h)
{
    size_t n;
    unsigned char *b = sg_test_read_all(path, &n);
    static const unsigned char magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_true(n > 24);
    assert_memory_equal(b, magic, 8);
    assert_memory_equal(b + 12, "IHDR", 4);
    *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
    *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
    free(b);
}

static bool same_bytes(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *x = sg_test_read_all(a, &na), *y = sg_test_read_all(b, &nb);
    bool same = na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static void test_curves(void **s)
{
    (void)s;
    double y1[50], y2[50], y3[50];
    for (int i = 0; i < 50; i++) {
        y1[i] = exp(-0.1 * i);
        y2[i] = 1.0 / (1 + i);
        y3[i] = exp(-0.1 * i) * (i == 20 ? 3.0 : 1.0); /* one point differs */
    }
    sg_plot_series a[2] = {{.name = "exp", .y = y1, .n = 50}, {.name = "1/(1+t)", .y = y2, .n = 50}};
    sg_plot_series b[2] = {{.name = "exp", .y = y3, .n = 50}, {.name = "1/(1+t)", .y = y2, .n = 50}};
    char pa[256], pb[256], pc[256], svg[256];
    path_in("a.png", pa, sizeof pa);
    path_in("b.png", pb, sizeof pb);
    path_in("c.png", pc, sizeof pc);
    path_in("a.svg", svg, sizeof svg);
    char err[256];
    assert_int_equal(sg_plot_curves(pa, "t", "step", "loss", a, 2, true, err, sizeof err), SG_OK);
    assert_int_equal(sg_plot_curves(pc, "t", "step", "loss", a, 2, true, err, sizeof err), SG_OK);
    assert_int_equal(sg_plot_curves(pb, "t", "step", "loss", b, 2, true, err, sizeof err), SG_OK);
    unsigned w, h;
    png_size(pa, &w, &h);
    assert_int_equal(w, SG_PLOT_WIDTH);
    assert_int_equal(h, SG_PLOT_HEIGHT);
    assert_true(same_bytes(pa, pc));  /* the same data draw the same picture */
    assert_false(same_bytes(pa, pb)); /* one changed point changes it */
    assert_int_equal(sg_plot_curves(svg, "t", "step", "loss", a, 2, false, err, sizeof err), SG_OK);
    size_t n;
    unsigned char *t = sg_test_read_all(svg, &n);
    t[n - 1] = 0;
    assert_non_null(strstr((char *)t, "<svg"));
    free(t);
    /* no fixed limit on the number of series in the legend */
    sg_plot_series many[70];
    char names[70][8];
    for (int k = 0; k < 70; k++) {
        snprintf(names[k], sizeof names[k], "s%d", k);
        many[k] = (sg_plot_series){.name = names[k], .y = y2, .n = 50};
    }
    assert_int_equal(sg_plot_curves(pc, "70 series", NULL, NULL, many, 70, false, err, sizeof err), SG_OK);
    /* no drawable point is not an error: the axes say so */
    double bad[3] = {NAN, -1.0, INFINITY};
    sg_plot_series none = {.name = "none", .y = bad, .n = 3};
    assert_int_equal(sg_plot_curves(pc, NULL, NULL, NULL, &none, 1, true, err, sizeof err), SG_OK);
    /* refused: a path without .png/.svg, an unwritable directory, y missing */
    assert_int_equal(sg_plot_curves("/tmp/x.jpg", NULL, NULL, NULL, a, 2, false, err, sizeof err), SG_ERR_ARG);
    assert_non_null(strstr(err, ".png or .svg"));
    assert_int_equal(sg_plot_curves("/nonexistent/dir/x.png", NULL, NULL, NULL, a, 2, false, err, sizeof err),
                     SG_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/dir/x.png"));
    sg_plot_series noy = {.name = "x", .y = NULL, .n = 4};
    assert_int_equal(sg_plot_curves(pa, NULL, NULL, NULL, &noy, 1, false, err, sizeof err), SG_ERR_ARG);
    /* the failed calls left the earlier picture as it was */
    png_size(pa, &w, &h);
    assert_int_equal(w, SG_PLOT_WIDTH);
}

static void test_heatmap(void **s)
{
    (void)s;
    enum { R = 6, C = 9 };
    double v[R * C], v2[R * C];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            /* a soft diagonal, like an attention alignment; each row sums to 1 */
            double sum = 0;
            for (int k = 0; k < C; k++)
                sum += exp(-fabs(k - 1.5 * r));
            v[r * C + c] = exp(-fabs(c - 1.5 * r)) / sum;
            v2[r * C + c] = v[r * C + c];
        }
    v2[2 * C + 7] = 0.9;
    const char *rows[R] = {"2", "0", "1", "6", "-", "0"};
    const char *cols[C] = {"J", "u", "n", "e", " ", "1", "2", ",", "2016"};
    char pa[256], pb[256], big[256];
    path_in("h.png", pa, sizeof pa);
    path_in("h2.png", pb, sizeof pb);
    path_in("big.png", big, sizeof big);
    char err[256];
    assert_int_equal(sg_plot_heatmap(pa, "attention", "source", "output", v, R, C, rows, cols, err, sizeof err), SG_OK);
    assert_int_equal(sg_plot_heatmap(pb, "attention", "source", "output", v2, R, C, rows, cols, err, sizeof err),
                     SG_OK);
    unsigned w, h;
    png_size(pa, &w, &h);
    assert_int_equal(w, SG_PLOT_WIDTH);
    assert_int_equal(h, SG_PLOT_HEIGHT);
    assert_false(same_bytes(pa, pb));
    /* many cells: the picture grows so that labels stay apart */
    double *many = calloc(40 * 60, sizeof *many);
    assert_non_null(many);
    for (int i = 0; i < 40 * 60; i++)
        many[i] = (double)(i % 7);
    assert_int_equal(sg_plot_heatmap(big, NULL, NULL, NULL, many, 40, 60, NULL, NULL, err, sizeof err), SG_OK);
    png_size(big, &w, &h);
    assert_true(w > SG_PLOT_WIDTH);
    assert_true(h > SG_PLOT_HEIGHT);
    free(many);
    /* refused: a non-finite cell, no cells */
    v2[3] = NAN;
    assert_int_equal(sg_plot_heatmap(pb, NULL, NULL, NULL, v2, R, C, NULL, NULL, err, sizeof err), SG_ERR_ARG);
    assert_non_null(strstr(err, "not finite"));
    assert_int_equal(sg_plot_heatmap(pb, NULL, NULL, NULL, v, 0, C, NULL, NULL, err, sizeof err), SG_ERR_ARG);
    if (getenv("SG_PLOT_KEEP")) /* for looking at them */
        printf("pictures kept in %s\n", dir);
}

static int setup(void **s)
{
    (void)s;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **s)
{
    (void)s;
    if (getenv("SG_PLOT_KEEP"))
        return 0;
    const char *names[] = {"a.png", "b.png", "c.png", "a.svg", "h.png", "h2.png", "big.png"};
    char p[256];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        path_in(names[i], p, sizeof p);
        remove(p);
    }
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_curves), cmocka_unit_test(test_heatmap)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
