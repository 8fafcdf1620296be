/* sg_plot.c — curves and heatmaps through PLplot (see sg_plot.h).
 *
 * Each picture: validate the arguments, open "<path>.tmp.<pid>", fork; the
 * child points PLplot at that FILE (plsfile), draws, ends the stream and
 * leaves with _exit(0); the parent waits, checks the child's status and the
 * file, then renames it over path.  PLplot's own error exits therefore only
 * ever end the child.
 */
#include "frontends/plot/sg_plot.h"

#include "graph/util/sg_file.h"

#include <plplot/plplot.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static bool sg_plot_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The PLplot device for path's ending, or NULL. */
static const char *sg_plot_device(const char *path)
{
    if (sg_plot_ends_with(path, ".png"))
        return "pngcairo";
    if (sg_plot_ends_with(path, ".svg"))
        return "svgcairo";
    return NULL;
}

typedef void (*sg_plot_draw_fn)(const void *ctx);

/* Opens the page of width x height pixels on a fresh stream writing to f. */
static void sg_plot_begin(FILE *f, const char *device, int width, int height)
{
    PLINT strm;
    plmkstrm(&strm);
    plsdev(device);
    plsfile(f);
    plspage(0.0, 0.0, width, height, 0, 0);
    plscolbg(255, 255, 255);
    plscol0(15, 0, 0, 0); /* black for text and axes, on white */
    plinit();
    pladv(0);
}

/* Runs draw in a forked child writing to a temporary file, then renames it
 * over path.  Returns SG_OK, or an error with a message. */
static sg_status sg_plot_render(const char *path, int width, int height, sg_plot_draw_fn draw, const void *ctx,
                                char *err, size_t errcap)
{
    const char *device = sg_plot_device(path);
    if (!device)
        return sg_error_format(err, errcap, SG_ERR_ARG, "plot '%s': the name must end in .png or .svg", path);
    sg_file_tmp tmp;
    sg_status st = sg_file_tmp_open(&tmp, path, "plot", err, errcap);
    if (st != SG_OK)
        return st;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        sg_file_tmp_abort(&tmp);
        return sg_error_format(err, errcap, SG_ERR_IO, "plot '%s': cannot fork: %s", path, strerror(e));
    }
    if (pid == 0) {
        sg_plot_begin(tmp.f, device, width, height);
        draw(ctx);
        plend1(); /* the driver flushes and closes the child's copy of the stream */
        _exit(0);
    }
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    struct stat sb;
    bool ok =
        w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 && fstat(fileno(tmp.f), &sb) == 0 && sb.st_size > 0;
    if (!ok) {
        sg_file_tmp_abort(&tmp);
        return sg_error_format(err, errcap, SG_ERR_IO, "plot '%s': drawing failed (PLplot %s %d)", path,
                               WIFSIGNALED(status) ? "signal" : "status",
                               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
    return sg_file_tmp_commit(&tmp, err, errcap); /* fsync, rename over path, directory fsync */
}

/* ---- curves ---------------------------------------------------------------- */

typedef struct sg_curves_ctx {
    const char *title, *xlabel, *ylabel;
    const sg_plot_series *series;
    size_t n_series;
    bool log_y;
    double x0, x1, y0, y1; /* data range (y in log10 units with log_y) */
    bool any;
    size_t n_named;      /* series with a legend label */
    PLINT legend_corner; /* PL_POSITION_{TOP,BOTTOM} | PL_POSITION_{LEFT,RIGHT}: the fewest points */
    /* legend entries, one per named series (allocated before the fork) */
    PLINT *legend_ints;       /* (4 * named): options, colours, styles, text colours */
    PLFLT *legend_widths;     /* (named) */
    const char **legend_text; /* (named) */
} sg_curves_ctx;

static double sg_series_x(const sg_plot_series *s, size_t i) { return s->x ? s->x[i] : (double)i; }

/* Whether point i is drawn, with its plotted coordinates. */
static bool sg_series_point(const sg_plot_series *s, size_t i, bool log_y, double *x, double *y)
{
    *x = sg_series_x(s, i);
    *y = s->y[i];
    if (!isfinite(*x) || !isfinite(*y) || (log_y && *y <= 0.0))
        return false;
    if (log_y)
        *y = log10(*y);
    return true;
}

static const int sg_palette[][3] = {{31, 119, 180},  {214, 39, 40}, {44, 160, 44},   {255, 127, 14},
                                    {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {23, 190, 207}};
enum { SG_PALETTE_N = sizeof sg_palette / sizeof sg_palette[0] };

static void sg_curves_draw(const void *p)
{
    const sg_curves_ctx *c = p;
    for (int k = 0; k < SG_PALETTE_N; k++)
        plscol0(1 + k, sg_palette[k][0], sg_palette[k][1], sg_palette[k][2]);
    plscol0(9, 215, 215, 215); /* grid */
    plvpor(0.09, 0.97, 0.11, 0.91);
    double x0 = c->x0, x1 = c->x1, y0 = c->y0, y1 = c->y1;
    if (!c->any) {
        x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    }
    if (x1 <= x0) {
        x0 -= 0.5, x1 += 0.5;
    }
    if (y1 <= y0) {
        double pad = fabs(y0) > 0 ? fabs(y0) * 0.1 : 0.5;
        y0 -= pad, y1 += pad;
    } else {
        double pad = (y1 - y0) * 0.05;
        y0 -= pad, y1 += pad;
    }
    plwind(x0, x1, y0, y1);
    plcol0(9);
    plwidth(0.5);
    plbox("g", 0.0, 0, c->log_y ? "gl" : "g", 0.0, 0);
    plcol0(15);
    plwidth(1.0);
    plbox("bcnst", 0.0, 0, c->log_y ? "bcnstvl" : "bcnstv", 0.0, 0);
    pllab(c->xlabel ? c->xlabel : "", c->ylabel ? c->ylabel : "", c->title ? c->title : "");
    if (!c->any) {
        plptex(0.5 * (x0 + x1), 0.5 * (y0 + y1), 1.0, 0.0, 0.5, "no data");
        return;
    }
    for (size_t k = 0; k < c->n_series; k++) {
        const sg_plot_series *s = &c->series[k];
        plcol0(1 + (int)(k % SG_PALETTE_N));
        plwidth(2.0);
        size_t drawn = 0;
        PLFLT seg[2][2];
        bool have_prev = false;
        for (size_t i = 0; i < s->n; i++) {
            double x, y;
            if (!sg_series_point(s, i, c->log_y, &x, &y)) {
                have_prev = false; /* a gap breaks the line */
                continue;
            }
            if (have_prev) {
                seg[1][0] = x, seg[1][1] = y;
                PLFLT xs[2] = {seg[0][0], seg[1][0]}, ys[2] = {seg[0][1], seg[1][1]};
                plline(2, xs, ys);
            }
            seg[0][0] = x, seg[0][1] = y;
            have_prev = true;
            drawn++;
        }
        if (drawn > 0 && drawn <= 40) /* few points: markers too */
            for (size_t i = 0; i < s->n; i++) {
                double x, y;
                if (sg_series_point(s, i, c->log_y, &x, &y)) {
                    PLFLT px = x, py = y;
                    plpoin(1, &px, &py, 17);
                }
            }
    }
    if (c->n_named == 0)
        return;
    PLINT nl = (PLINT)c->n_named;
    PLINT *opts = c->legend_ints, *colors = opts + nl, *styles = colors + nl, *text_colors = styles + nl;
    PLFLT *widths = c->legend_widths;
    const char **text = c->legend_text;
    nl = 0;
    for (size_t k = 0; k < c->n_series; k++) {
        if (!c->series[k].name || !c->series[k].name[0])
            continue;
        opts[nl] = PL_LEGEND_LINE;
        colors[nl] = 1 + (int)(k % SG_PALETTE_N);
        styles[nl] = 1;
        widths[nl] = 2.0;
        text[nl] = c->series[k].name;
        text_colors[nl] = 15;
        nl++;
    }
    PLFLT lw, lh;
    plcol0(15);
    pllegend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, c->legend_corner | PL_POSITION_INSIDE, 0.02, 0.02,
             0.08, 0, 15, 1, 0, 0, nl, opts, 1.0, 0.9, 2.0, 0.0, text_colors, text, NULL, NULL, NULL, NULL, colors,
             styles, widths, NULL, NULL, NULL, NULL);
}

/* The corner whose quarter-page box (40% wide, 30% tall) holds the fewest
 * points, top right on ties: where the legend hides the least. */
static PLINT sg_curves_corner(const sg_curves_ctx *c)
{
    static const PLINT corners[4] = {PL_POSITION_TOP | PL_POSITION_RIGHT, PL_POSITION_TOP | PL_POSITION_LEFT,
                                     PL_POSITION_BOTTOM | PL_POSITION_RIGHT, PL_POSITION_BOTTOM | PL_POSITION_LEFT};
    size_t count[4] = {0, 0, 0, 0};
    double dx = c->x1 > c->x0 ? c->x1 - c->x0 : 1.0, dy = c->y1 > c->y0 ? c->y1 - c->y0 : 1.0;
    for (size_t k = 0; c->any && k < c->n_series; k++)
        for (size_t i = 0; i < c->series[k].n; i++) {
            double x, y;
            if (!sg_series_point(&c->series[k], i, c->log_y, &x, &y))
                continue;
            double u = (x - c->x0) / dx, v = (y - c->y0) / dy;
            bool right = u > 0.6, left = u<0.4, top = v> 0.7, bottom = v < 0.3;
            count[0] += top && right;
            count[1] += top && left;
            count[2] += bottom && right;
            count[3] += bottom && left;
        }
    size_t best = 0;
    for (size_t j = 1; j < 4; j++)
        if (count[j] < count[best])
            best = j;
    return corners[best];
}

sg_status sg_plot_curves(const char *path, const char *title, const char *xlabel, const char *ylabel,
                         const sg_plot_series *series, size_t n_series, bool log_y, char *err, size_t errcap)
{
    if (err && errcap)
        err[0] = '\0';
    if (!path || (n_series && !series))
        return sg_error_format(err, errcap, SG_ERR_ARG, "plot: NULL %s", path ? "series" : "path");
    sg_curves_ctx c = {
        .title = title, .xlabel = xlabel, .ylabel = ylabel, .series = series, .n_series = n_series, .log_y = log_y};
    for (size_t k = 0; k < n_series; k++) {
        const sg_plot_series *s = &series[k];
        if (s->n && !s->y)
            return sg_error_format(err, errcap, SG_ERR_ARG, "plot '%s': series %zu has %zu points but no y values",
                                   path, k, s->n);
        for (size_t i = 0; i < s->n; i++) {
            double x, y;
            if (!sg_series_point(s, i, log_y, &x, &y))
                continue;
            if (!c.any) {
                c.x0 = c.x1 = x, c.y0 = c.y1 = y, c.any = true;
            }
            c.x0 = fmin(c.x0, x), c.x1 = fmax(c.x1, x), c.y0 = fmin(c.y0, y), c.y1 = fmax(c.y1, y);
        }
    }
    for (size_t k = 0; k < n_series; k++)
        c.n_named += series[k].name && series[k].name[0];
    c.legend_corner = sg_curves_corner(&c);
    c.legend_ints = malloc((4 * c.n_named + 1) * sizeof *c.legend_ints);
    c.legend_widths = malloc((c.n_named + 1) * sizeof *c.legend_widths);
    c.legend_text = malloc((c.n_named + 1) * sizeof *c.legend_text);
    sg_status st = c.legend_ints && c.legend_widths && c.legend_text
                       ? sg_plot_render(path, SG_PLOT_WIDTH, SG_PLOT_HEIGHT, sg_curves_draw, &c, err, errcap)
                       : sg_error_format(err, errcap, SG_ERR_NOMEM, "plot '%s': out of memory", path);
    free(c.legend_ints);
    free(c.legend_widths);
    free(c.legend_text);
    return st;
}

/* ---- heatmaps --------------------------------------------------------------- */

typedef struct sg_heat_ctx {
    const char *title, *xlabel, *ylabel;
    const double *values;
    size_t rows, cols;
    const char *const *row_labels, *const *col_labels;
    double lo, hi;
} sg_heat_ctx;

static void sg_heat_draw(const void *p)
{
    const sg_heat_ctx *h = p;
    /* white -> deep blue */
    PLFLT pos[3] = {0.0, 0.5, 1.0}, r[3] = {1.0, 0.42, 0.03}, g[3] = {1.0, 0.68, 0.19}, b[3] = {1.0, 0.84, 0.42};
    plscmap1n(256);
    plscmap1l(1, 3, pos, r, g, b, NULL);
    plvpor(0.16, 0.84, 0.16, 0.88);
    plwind(0.0, (double)h->cols, 0.0, (double)h->rows);
    /* one filled rectangle per cell, row r from the top: y in [rows-1-r, rows-r) */
    double lo = h->lo, hi = h->hi > h->lo ? h->hi : h->lo + 1.0;
    for (size_t r = 0; r < h->rows; r++)
        for (size_t c = 0; c < h->cols; c++) {
            PLFLT x0 = (double)c, x1 = (double)c + 1, y0 = (double)(h->rows - 1 - r), y1 = y0 + 1;
            PLFLT xs[4] = {x0, x1, x1, x0}, ys[4] = {y0, y0, y1, y1};
            plcol1((h->values[r * h->cols + c] - lo) / (hi - lo));
            plfill(4, xs, ys);
        }
    plcol0(15);
    plbox("bc", 0.0, 0, "bc", 0.0, 0);
    char buf[32];
    double scale = h->cols > 40 || h->rows > 40 ? 0.6 : 0.8;
    plschr(0.0, scale);
    for (size_t c = 0; c < h->cols; c++) {
        const char *s = h->col_labels ? h->col_labels[c] : (snprintf(buf, sizeof buf, "%zu", c), buf);
        plmtex("bv", 0.6, ((double)c + 0.5) / (double)h->cols, 1.0, s);
    }
    for (size_t r = 0; r < h->rows; r++) {
        const char *s = h->row_labels ? h->row_labels[r] : (snprintf(buf, sizeof buf, "%zu", r), buf);
        plmtex("lv", 0.6, 1.0 - ((double)r + 0.5) / (double)h->rows, 1.0, s);
    }
    plschr(0.0, 1.0);
    plmtex("t", 1.5, 0.5, 0.5, h->title ? h->title : "");
    if (h->xlabel)
        plmtex("b", 5.0, 0.5, 0.5, h->xlabel);
    if (h->ylabel)
        plmtex("l", 7.0, 0.5, 0.5, h->ylabel);
    PLFLT cw, ch;
    PLINT n_values[1] = {2};
    PLFLT vals[2] = {lo, hi};
    const PLFLT *vrows[1] = {vals};
    const char *axis_opts[1] = {"bcvtm"};
    PLFLT ticks[1] = {0.0};
    PLINT sub_ticks[1] = {0};
    PLINT label_opts[1] = {PL_COLORBAR_LABEL_BOTTOM};
    const char *labels[1] = {""};
    plcolorbar(&cw, &ch, PL_COLORBAR_IMAGE, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT, 0.02, 0.0,
               0.03, 0.72, 0, 15, 1, 0.0, 0.0, 0, 0.0, 1, label_opts, labels, 1, axis_opts, ticks, sub_ticks, n_values,
               (PLFLT_MATRIX)vrows);
}

sg_status sg_plot_heatmap(const char *path, const char *title, const char *xlabel, const char *ylabel,
                          const double *values, size_t rows, size_t cols, const char *const *row_labels,
                          const char *const *col_labels, char *err, size_t errcap)
{
    if (err && errcap)
        err[0] = '\0';
    if (!path || !values)
        return sg_error_format(err, errcap, SG_ERR_ARG, "heatmap: NULL %s", path ? "values" : "path");
    if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096)
        return sg_error_format(err, errcap, SG_ERR_ARG, "heatmap '%s': %zu x %zu cells (each side must be 1 to 4096)",
                               path, rows, cols);
    sg_heat_ctx h = {.title = title,
                     .xlabel = xlabel,
                     .ylabel = ylabel,
                     .values = values,
                     .rows = rows,
                     .cols = cols,
                     .row_labels = row_labels,
                     .col_labels = col_labels};
    for (size_t i = 0; i < rows * cols; i++) {
        if (!isfinite(values[i]))
            return sg_error_format(err, errcap, SG_ERR_ARG, "heatmap '%s': cell (%zu, %zu) is not finite", path,
                                   i / cols, i % cols);
        if (i == 0 || values[i] < h.lo)
            h.lo = values[i];
        if (i == 0 || values[i] > h.hi)
            h.hi = values[i];
    }
    int width = SG_PLOT_WIDTH, height = SG_PLOT_HEIGHT;
    if (cols * 28 + 300 > (size_t)width)
        width = (int)(cols * 28 + 300 < 8000 ? cols * 28 + 300 : 8000);
    if (rows * 24 + 200 > (size_t)height)
        height = (int)(rows * 24 + 200 < 8000 ? rows * 24 + 200 : 8000);
    return sg_plot_render(path, width, height, sg_heat_draw, &h, err, errcap);
}
