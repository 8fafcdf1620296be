/* sg_plot.c — PNG line plots of training curves with cairo (see sg_plot.h).
 *
 * Pipeline: scan the drawable points for the data bounds -> build each axis
 * (limits and ticks: linear "nice" steps 1/2/5 x 10^k, or log decades) ->
 * measure the tick labels to size the left margin -> draw grid, frame, ticks,
 * labels, the series (clipped to the plot area, broken at skipped points),
 * then the legend in the least crowded corner.
 */
#include "sg_plot.h"

#include <cairo.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { SG_PLOT_WIDTH = 900, SG_PLOT_HEIGHT = 560, SG_PLOT_MAX_TICKS = 40, SG_PLOT_MAX_MINOR = 160, SG_PLOT_MARKER_MAX = 40 };

#define SG_PLOT_FONT "DejaVu Sans"
#define SG_PLOT_PI 3.14159265358979323846

typedef struct sg_plot_axis {
    bool log;
    double lo, hi;                           /* limits in data units (log: both > 0) */
    int nt;                                  /* major ticks (labelled) */
    double tick[SG_PLOT_MAX_TICKS];          /* (nt) */
    char label[SG_PLOT_MAX_TICKS][32];       /* (nt) */
    int nminor;                              /* minor grid lines (log axes) */
    double minor[SG_PLOT_MAX_MINOR];         /* (nminor) */
} sg_plot_axis;

static const double sg_plot_palette[10][3] = {
    {0.122, 0.467, 0.706}, {1.000, 0.498, 0.055}, {0.173, 0.627, 0.173}, {0.839, 0.153, 0.157},
    {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294}, {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498},
    {0.737, 0.741, 0.133}, {0.090, 0.745, 0.812},
};

static int sg_plot_fail(char *err, size_t errcap, const char *fmt, ...)
{
    if (err && errcap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- axes ---------------------------------------------------------------- */

/* The 1, 2, 5 x 10^k value nearest above-ish raw (> 0). */
static double sg_nice_step(double raw)
{
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    double m = f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0;
    return m * mag;
}

/* Formats v for a linear axis whose ticks are `step` apart. */
static void sg_format_tick(char *buf, size_t cap, double v, double step, double maxabs)
{
    if (fabs(v) < step * 1e-6)
        v = 0.0; /* no "-0" or "1e-17" at the origin */
    if (maxabs >= 1e6 || step < 1e-4) {
        int prec = (int)ceil(log10(maxabs / step)) + 1;
        prec = prec < 2 ? 2 : prec > 12 ? 12 : prec;
        snprintf(buf, cap, "%.*g", prec, v);
    } else {
        int dec = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, cap, "%.*f", dec, v);
    }
}

/* Last resort: limits as given, a tick at each end. */
static void sg_axis_simple(sg_plot_axis *a, double lo, double hi)
{
    a->lo = lo;
    a->hi = hi;
    a->nt = 2;
    a->tick[0] = lo;
    a->tick[1] = hi;
    snprintf(a->label[0], sizeof a->label[0], "%.4g", lo);
    snprintf(a->label[1], sizeof a->label[1], "%.4g", hi);
    a->nminor = 0;
}

/* Linear ticks k * step inside [lo, hi]; returns false when they do not fit. */
static bool sg_axis_fill_linear_ticks(sg_plot_axis *a, double lo, double hi, double step)
{
    double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
    if (!isfinite(k0) || !isfinite(k1) || k1 - k0 + 1 > SG_PLOT_MAX_TICKS || k1 < k0 || fabs(k0) > 1e15)
        return false;
    double maxabs = fmax(fabs(lo), fabs(hi));
    a->nt = 0;
    for (double k = k0; k <= k1; k += 1.0) {
        double v = k * step;
        a->tick[a->nt] = v;
        sg_format_tick(a->label[a->nt], sizeof a->label[0], v, step, maxabs);
        a->nt++;
    }
    return true;
}

/* Fraction of the data span added on each side, so no point sits on the frame. */
#define SG_PLOT_MARGIN 0.04

static void sg_axis_linear(sg_plot_axis *a, double mn, double mx)
{
    a->log = false;
    a->nminor = 0;
    if (!(mx - mn > 1e-12 * fmax(fabs(mn), fabs(mx)))) { /* constant (or one point): pad */
        double pad = mn == 0.0 ? 1.0 : 0.1 * fabs(mn);
        mn -= pad;
        mx += pad;
    }
    double lo = mn - SG_PLOT_MARGIN * (mx - mn), hi = mx + SG_PLOT_MARGIN * (mx - mn);
    double step = sg_nice_step((hi - lo) / 5.0);
    if (!isfinite(lo) || !isfinite(hi) || !isfinite(step) || !(step > 0.0) ||
        !sg_axis_fill_linear_ticks(a, lo, hi, step)) {
        sg_axis_simple(a, mn, mx);
        return;
    }
    a->lo = lo;
    a->hi = hi;
}

/* Labels a log-axis tick m * 10^e. */
static void sg_format_log_tick(char *buf, size_t cap, double m, int e)
{
    if (e >= -4 && e <= 5)
        snprintf(buf, cap, "%.*f", e < 0 ? -e : 0, m * pow(10.0, e));
    else if (m == 1.0)
        snprintf(buf, cap, "1e%d", e);
    else
        snprintf(buf, cap, "%de%d", (int)m, e);
}

/* Ticks m * 10^e inside [lo, hi] for the mantissas m given (as major ticks
 * when major, else as minor grid lines); returns how many were found (major
 * ticks: only up to SG_PLOT_MAX_TICKS are kept). */
static int sg_axis_log_candidates(sg_plot_axis *a, double lo, double hi, const double *ms, int nm, bool major)
{
    int count = 0;
    if (major)
        a->nt = 0;
    for (int e = (int)floor(log10(lo)) - 1; e <= (int)ceil(log10(hi)); e++)
        for (int k = 0; k < nm; k++) {
            double v = ms[k] * pow(10.0, e);
            if (v < lo || v > hi)
                continue;
            count++;
            if (major && a->nt < SG_PLOT_MAX_TICKS) {
                a->tick[a->nt] = v;
                sg_format_log_tick(a->label[a->nt], sizeof a->label[0], ms[k], e);
                a->nt++;
            } else if (!major && a->nminor < SG_PLOT_MAX_MINOR) {
                a->minor[a->nminor++] = v;
            }
        }
    return count;
}

/* Log axis for data in [mn, mx], 0 < mn <= mx.  Ticks, first that gives 3+:
 * powers of ten (every k-th one past 8 decades) -> 1, 2, 5 x 10^e ->
 * 1..9 x 10^e -> round linear values (a span of less than ~1/3 decade). */
static void sg_axis_log(sg_plot_axis *a, double mn, double mx)
{
    static const double m1[] = {1}, m125[] = {1, 2, 5}, m19[] = {1, 2, 3, 4, 5, 6, 7, 8, 9},
                        m29[] = {2, 3, 4, 5, 6, 7, 8, 9};
    a->log = true;
    a->nminor = 0;
    double lmn = log10(mn), lmx = log10(mx);
    if (!(lmx - lmn > 1e-9)) { /* constant: half a decade around it */
        lmn -= 0.25;
        lmx += 0.25;
    }
    double span = lmx - lmn;
    lmn -= SG_PLOT_MARGIN * span;
    lmx += SG_PLOT_MARGIN * span;
    double lo = pow(10.0, lmn), hi = pow(10.0, lmx);
    if (!(lo > 0.0) || !isfinite(hi) || !(hi > lo)) {
        sg_axis_simple(a, mn, mx);
        return;
    }
    a->lo = lo;
    a->hi = hi;
    int decades = sg_axis_log_candidates(a, lo, hi, m1, 1, true);
    if (decades >= 3) {
        if (decades > 8) { /* keep every k-th power of ten, k so that <= 8 remain */
            int every = (decades + 7) / 8, nt = 0;
            for (int i = 0; i < a->nt; i++) {
                int e = (int)lround(log10(a->tick[i]));
                if (e % every == 0) {
                    a->tick[nt] = a->tick[i];
                    memmove(a->label[nt], a->label[i], sizeof a->label[0]);
                    nt++;
                }
            }
            a->nt = nt;
        } else if (decades <= 6) {
            sg_axis_log_candidates(a, lo, hi, m29, 8, false);
        }
        return;
    }
    if (sg_axis_log_candidates(a, lo, hi, m125, 3, true) >= 3) {
        sg_axis_log_candidates(a, lo, hi, m19, 9, false);
        return;
    }
    if (sg_axis_log_candidates(a, lo, hi, m19, 9, true) >= 3)
        return;
    double step = sg_nice_step((hi - lo) / 5.0);
    if (!isfinite(step) || !(step > 0.0) || !sg_axis_fill_linear_ticks(a, lo, hi, step))
        sg_axis_simple(a, mn, mx);
}

/* Position of v along the axis in [0, 1] (outside for values off the axis). */
static double sg_axis_frac(const sg_plot_axis *a, double v)
{
    if (a->log)
        return (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
    return (v - a->lo) / (a->hi - a->lo);
}

/* ---- drawing helpers ----------------------------------------------------- */

typedef struct sg_plot_rect {
    double l, t, r, b; /* pixels: left, top, right, bottom */
} sg_plot_rect;

static double sg_px(const sg_plot_rect *pr, const sg_plot_axis *ax, double x)
{
    return pr->l + sg_axis_frac(ax, x) * (pr->r - pr->l);
}

static double sg_py(const sg_plot_rect *pr, const sg_plot_axis *ay, double y)
{
    return pr->b - sg_axis_frac(ay, y) * (pr->b - pr->t);
}

/* Snaps a coordinate to a pixel centre so 1-px lines are crisp. */
static double sg_crisp(double v) { return floor(v) + 0.5; }

static void sg_font(cairo_t *cr, double size, bool bold)
{
    cairo_select_font_face(cr, SG_PLOT_FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

/* Draws text with its anchor at (x, y): ax, ay in {0, 0.5, 1} pick the left /
 * centre / right and top / middle / baseline-bottom of the ink box. */
static void sg_text(cairo_t *cr, const char *s, double x, double y, double ax, double ay)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - e.x_bearing - ax * e.width, y - e.y_bearing - ay * e.height);
    cairo_show_text(cr, s);
}

static double sg_text_width(cairo_t *cr, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* Whether point i of series s is drawable (finite, positive on a log y axis). */
static bool sg_point(const sg_plot_series *s, size_t i, bool log_y, double *x, double *y)
{
    double xv = s->x ? s->x[i] : (double)i, yv = s->y[i];
    if (!isfinite(xv) || !isfinite(yv) || (log_y && !(yv > 0.0)))
        return false;
    *x = xv;
    *y = yv;
    return true;
}

/* Number of drawable points of s. */
static size_t sg_drawable(const sg_plot_series *s, bool log_y)
{
    size_t n = 0;
    double x, y;
    for (size_t i = 0; i < s->n; i++)
        n += sg_point(s, i, log_y, &x, &y);
    return n;
}

static void sg_marker(cairo_t *cr, double x, double y, double r)
{
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, r, 0.0, 2.0 * SG_PLOT_PI);
    cairo_fill(cr);
}

/* ---- the plot ------------------------------------------------------------ */

int sg_plot_curves(const char *png_path, const char *title, const char *xlabel, const char *ylabel,
                   const sg_plot_series *series, size_t n_series, bool log_y, char *err, size_t errcap)
{
    if (err && errcap > 0)
        err[0] = '\0';
    if (!png_path || !*png_path)
        return sg_plot_fail(err, errcap, "plot: no output path");
    if (n_series > 0 && !series)
        return sg_plot_fail(err, errcap, "plot: %zu series but no series array", n_series);
    for (size_t s = 0; s < n_series; s++)
        if (series[s].n > 0 && !series[s].y)
            return sg_plot_fail(err, errcap, "plot: series %zu ('%s') has %zu points but no y values", s,
                                series[s].name ? series[s].name : "", series[s].n);

    /* data bounds over every drawable point */
    double xmn = INFINITY, xmx = -INFINITY, ymn = INFINITY, ymx = -INFINITY;
    size_t n_points = 0;
    for (size_t s = 0; s < n_series; s++)
        for (size_t i = 0; i < series[s].n; i++) {
            double x, y;
            if (!sg_point(&series[s], i, log_y, &x, &y))
                continue;
            xmn = fmin(xmn, x);
            xmx = fmax(xmx, x);
            ymn = fmin(ymn, y);
            ymx = fmax(ymx, y);
            n_points++;
        }
    if (n_points == 0) {
        xmn = 0.0;
        xmx = 1.0;
        ymn = log_y ? 1.0 : 0.0;
        ymx = log_y ? 10.0 : 1.0;
    }
    sg_plot_axis ax, ay;
    memset(&ax, 0, sizeof ax);
    memset(&ay, 0, sizeof ay);
    sg_axis_linear(&ax, xmn, xmx);
    if (log_y)
        sg_axis_log(&ay, ymn, ymx);
    else
        sg_axis_linear(&ay, ymn, ymx);

    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, SG_PLOT_WIDTH, SG_PLOT_HEIGHT);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        int rc = sg_plot_fail(err, errcap, "plot: cannot make an image: %s",
                              cairo_status_to_string(cairo_surface_status(surf)));
        cairo_surface_destroy(surf);
        return rc;
    }
    cairo_t *cr = cairo_create(surf);

    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);

    /* margins: the left one fits the widest y tick label */
    sg_font(cr, 12, false);
    double wmax = 0;
    for (int i = 0; i < ay.nt; i++)
        wmax = fmax(wmax, sg_text_width(cr, ay.label[i]));
    sg_plot_rect pr = {.l = ceil(16 + (ylabel && *ylabel ? 22 : 0) + wmax + 10),
                       .t = title && *title ? 48 : 20,
                       .r = SG_PLOT_WIDTH - 28,
                       .b = SG_PLOT_HEIGHT - (xlabel && *xlabel ? 62 : 40)};

    /* grid */
    cairo_set_line_width(cr, 1.0);
    cairo_set_source_rgb(cr, 0.94, 0.94, 0.94);
    for (int i = 0; i < ay.nminor; i++) {
        if (ay.minor[i] <= ay.lo || ay.minor[i] >= ay.hi)
            continue;
        double y = sg_crisp(sg_py(&pr, &ay, ay.minor[i]));
        cairo_move_to(cr, pr.l, y);
        cairo_line_to(cr, pr.r, y);
    }
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
    for (int i = 0; i < ay.nt; i++) {
        double y = sg_crisp(sg_py(&pr, &ay, ay.tick[i]));
        cairo_move_to(cr, pr.l, y);
        cairo_line_to(cr, pr.r, y);
    }
    for (int i = 0; i < ax.nt; i++) {
        double x = sg_crisp(sg_px(&pr, &ax, ax.tick[i]));
        cairo_move_to(cr, x, pr.t);
        cairo_line_to(cr, x, pr.b);
    }
    cairo_stroke(cr);

    /* frame, tick marks, tick labels */
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
    cairo_rectangle(cr, sg_crisp(pr.l), sg_crisp(pr.t), floor(pr.r) - floor(pr.l), floor(pr.b) - floor(pr.t));
    for (int i = 0; i < ay.nt; i++) {
        double y = sg_crisp(sg_py(&pr, &ay, ay.tick[i]));
        cairo_move_to(cr, pr.l - 5, y);
        cairo_line_to(cr, pr.l, y);
    }
    for (int i = 0; i < ax.nt; i++) {
        double x = sg_crisp(sg_px(&pr, &ax, ax.tick[i]));
        cairo_move_to(cr, x, pr.b);
        cairo_line_to(cr, x, pr.b + 5);
    }
    cairo_stroke(cr);
    sg_font(cr, 12, false);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    for (int i = 0; i < ay.nt; i++)
        sg_text(cr, ay.label[i], pr.l - 9, sg_py(&pr, &ay, ay.tick[i]), 1.0, 0.5);
    for (int i = 0; i < ax.nt; i++)
        sg_text(cr, ax.label[i], sg_px(&pr, &ax, ax.tick[i]), pr.b + 9, 0.5, 0.0);

    /* title and axis labels */
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    if (title && *title) {
        sg_font(cr, 17, true);
        sg_text(cr, title, (pr.l + pr.r) / 2, 16, 0.5, 0.0);
    }
    sg_font(cr, 14, false);
    if (xlabel && *xlabel)
        sg_text(cr, xlabel, (pr.l + pr.r) / 2, SG_PLOT_HEIGHT - 14, 0.5, 1.0);
    if (ylabel && *ylabel) {
        cairo_save(cr);
        cairo_translate(cr, 16, (pr.t + pr.b) / 2);
        cairo_rotate(cr, -SG_PLOT_PI / 2);
        sg_text(cr, ylabel, 0, 0, 0.5, 0.0);
        cairo_restore(cr);
    }

    /* the series, clipped to the plot area */
    cairo_save(cr);
    cairo_rectangle(cr, pr.l, pr.t, pr.r - pr.l, pr.b - pr.t);
    cairo_clip(cr);
    cairo_set_line_width(cr, 2.0);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    for (size_t s = 0; s < n_series; s++) {
        const sg_plot_series *se = &series[s];
        const double *c = sg_plot_palette[s % 10];
        cairo_set_source_rgb(cr, c[0], c[1], c[2]);
        size_t drawable = sg_drawable(se, log_y);
        bool pen_down = false;
        for (size_t i = 0; i < se->n; i++) {
            double x, y;
            if (!sg_point(se, i, log_y, &x, &y)) {
                pen_down = false; /* a skipped point breaks the line */
                continue;
            }
            double px = sg_px(&pr, &ax, x), py = sg_py(&pr, &ay, y);
            if (pen_down)
                cairo_line_to(cr, px, py);
            else
                cairo_move_to(cr, px, py);
            pen_down = true;
        }
        cairo_stroke(cr);
        /* markers: on every point of a short series, else on isolated points */
        for (size_t i = 0; i < se->n; i++) {
            double x, y, xn, yn;
            if (!sg_point(se, i, log_y, &x, &y))
                continue;
            bool isolated = (i == 0 || !sg_point(se, i - 1, log_y, &xn, &yn)) &&
                            (i + 1 >= se->n || !sg_point(se, i + 1, log_y, &xn, &yn));
            if (drawable <= SG_PLOT_MARKER_MAX || isolated)
                sg_marker(cr, sg_px(&pr, &ax, x), sg_py(&pr, &ay, y), 3.5);
        }
    }
    cairo_restore(cr);

    if (n_points == 0) {
        sg_font(cr, 16, false);
        cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
        sg_text(cr, "no data", (pr.l + pr.r) / 2, (pr.t + pr.b) / 2, 0.5, 0.5);
    }

    /* legend: named series, in the corner that covers the fewest points */
    sg_font(cr, 12, false);
    size_t n_named = 0;
    double name_w = 0;
    for (size_t s = 0; s < n_series; s++)
        if (series[s].name && *series[s].name) {
            n_named++;
            name_w = fmax(name_w, sg_text_width(cr, series[s].name));
        }
    const double row = 18, pad = 8, sample = 26;
    size_t max_rows = (size_t)fmax(1.0, floor((pr.b - pr.t - 20 - 2 * pad) / row));
    size_t rows = n_named > max_rows ? max_rows : n_named; /* the last row says "+k more" then */
    if (rows > 0) {
        char more[48];
        if (rows < n_named) {
            snprintf(more, sizeof more, "+%zu more", n_named - rows + 1);
            name_w = fmax(name_w, sg_text_width(cr, more));
        }
        name_w = fmin(name_w, (pr.r - pr.l) * 0.6);
        double lw = pad + sample + 8 + name_w + pad, lh = 2 * pad + row * (double)rows - 4;
        double best_x = 0, best_y = 0;
        size_t best_count = (size_t)-1;
        for (int corner = 0; corner < 4; corner++) { /* top-right, top-left, bottom-right, bottom-left */
            double bx = corner % 2 == 0 ? pr.r - 10 - lw : pr.l + 10;
            double by = corner < 2 ? pr.t + 10 : pr.b - 10 - lh;
            size_t count = 0;
            for (size_t s = 0; s < n_series; s++)
                for (size_t i = 0; i < series[s].n; i++) {
                    double x, y;
                    if (!sg_point(&series[s], i, log_y, &x, &y))
                        continue;
                    double px = sg_px(&pr, &ax, x), py = sg_py(&pr, &ay, y);
                    count += px >= bx - 4 && px <= bx + lw + 4 && py >= by - 4 && py <= by + lh + 4;
                }
            if (count < best_count) {
                best_count = count;
                best_x = bx;
                best_y = by;
            }
        }
        cairo_rectangle(cr, sg_crisp(best_x), sg_crisp(best_y), floor(lw), floor(lh));
        cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
        cairo_fill_preserve(cr);
        cairo_set_line_width(cr, 1.0);
        cairo_set_source_rgb(cr, 0.75, 0.75, 0.75);
        cairo_stroke(cr);
        cairo_save(cr);
        cairo_rectangle(cr, best_x, best_y, lw, lh);
        cairo_clip(cr); /* very long names are cut at the legend's edge */
        size_t r = 0;
        for (size_t s = 0; s < n_series && r < rows; s++) {
            if (!series[s].name || !*series[s].name)
                continue;
            double cy = best_y + pad + row * (double)r + 5;
            if (r + 1 == rows && rows < n_named) {
                cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
                sg_text(cr, more, best_x + pad + sample + 8, cy, 0.0, 0.5);
                break;
            }
            const double *c = sg_plot_palette[s % 10];
            cairo_set_source_rgb(cr, c[0], c[1], c[2]);
            cairo_set_line_width(cr, 2.0);
            cairo_move_to(cr, best_x + pad, cy);
            cairo_line_to(cr, best_x + pad + sample, cy);
            cairo_stroke(cr);
            if (sg_drawable(&series[s], log_y) <= SG_PLOT_MARKER_MAX)
                sg_marker(cr, best_x + pad + sample / 2, cy, 3.0);
            cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
            sg_text(cr, series[s].name, best_x + pad + sample + 8, cy, 0.0, 0.5);
            r++;
        }
        cairo_restore(cr);
    }

    int rc = 0;
    cairo_status_t st = cairo_status(cr);
    if (st != CAIRO_STATUS_SUCCESS)
        rc = sg_plot_fail(err, errcap, "plot: drawing failed: %s", cairo_status_to_string(st));
    cairo_destroy(cr);
    if (rc == 0) {
        cairo_surface_flush(surf);
        st = cairo_surface_write_to_png(surf, png_path);
        if (st != CAIRO_STATUS_SUCCESS)
            rc = sg_plot_fail(err, errcap, "plot: cannot write '%s': %s", png_path, cairo_status_to_string(st));
    }
    cairo_surface_destroy(surf);
    return rc;
}
