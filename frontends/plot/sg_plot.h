/* sg_plot.h — pictures of numbers, drawn with PLplot (Debian libplplot-dev,
 * plplot-driver-cairo): line plots of curves (loss, perplexity, gradient
 * norms; linear or log y, with a legend) and heatmaps (attention weights,
 * with labelled rows and columns and a colour bar).  Part of the frontends,
 * not of the library.
 *
 * The format follows the path's ending: ".png" (pngcairo) or ".svg"
 * (svgcairo).  The picture is written to "<path>.tmp.<pid>" and renamed over
 * path, so an existing file is replaced whole or not at all.  PLplot ends the
 * process on some internal errors (plexit); to keep that from ever ending the
 * caller, each picture is drawn in a forked child, whose status is checked.
 *
 * Errors: every function returns SG_OK, or a status with a one-line message
 * in err (sg_error_format; err may be NULL): SG_ERR_ARG for a bad argument
 * (no drawable data is NOT an error: the axes say "no data"), SG_ERR_IO for an
 * unwritable path or a failed drawing, SG_ERR_NOMEM.
 */
#ifndef SG_PLOT_H
#define SG_PLOT_H

#include "graph/core/sg_tensor.h" /* sg_status, sg_error_format */

#include <stdbool.h>
#include <stddef.h>

typedef struct sg_plot_series {
    const char *name; /* legend label; NULL or "" leaves it out of the legend */
    const double *x;  /* (n) x values; NULL means 0, 1, ..., n-1 */
    const double *y;  /* (n) y values; may be NULL only when n == 0 */
    size_t n;
} sg_plot_series;

enum { SG_PLOT_WIDTH = 900, SG_PLOT_HEIGHT = 560 };

/* Every series on shared axes, each in its own colour, in a legend placed in
 * the corner that hides the fewest points (as the cairo plots did).  With
 * log_y the y axis is logarithmic and values <= 0 are skipped; non-finite
 * points are skipped and break the line.  title, xlabel, ylabel may be NULL.
 * SG_PLOT_WIDTH x SG_PLOT_HEIGHT pixels. */
SG_NODISCARD sg_status sg_plot_curves(const char *path, const char *title, const char *xlabel, const char *ylabel,
                                      const sg_plot_series *series, size_t n_series, bool log_y, char *err,
                                      size_t errcap);

/* A heatmap of values (rows, cols), row-major: row r is drawn as the r-th row
 * from the top, column c as the c-th column from the left; row_labels (rows)
 * and col_labels (cols) may be NULL (then indices are shown).  Colours run
 * from the smallest to the largest finite value (a colour bar shows the
 * scale); a non-finite cell is refused.  Pixel size grows with the number of
 * cells (at least SG_PLOT_WIDTH x SG_PLOT_HEIGHT). */
SG_NODISCARD sg_status sg_plot_heatmap(const char *path, const char *title, const char *xlabel, const char *ylabel,
                                       const double *values, size_t rows, size_t cols, const char *const *row_labels,
                                       const char *const *col_labels, char *err, size_t errcap);

#endif
