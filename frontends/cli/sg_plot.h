/* sg_plot.h — line plots of training curves (loss, perplexity) as PNG, drawn
 * with cairo.  Part of the CLI, not of the library.
 *
 * One call draws every series on shared axes: grid lines at "nice" round
 * ticks (1, 2, 5 x 10^k), tick labels, axis labels, a title and a legend that
 * is placed in the corner covering the fewest points.  With log_y the y axis
 * is logarithmic (ticks at powers of ten, or at round values when the data
 * span less than a decade); values <= 0 cannot be shown there and are skipped.
 * Non-finite points (NaN, Inf) are skipped and break the line; a series with
 * one point, or few points, gets markers; a constant series gets a padded
 * range; with no drawable point at all the axes are drawn with "no data".
 */
#ifndef SG_PLOT_H
#define SG_PLOT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sg_plot_series {
    const char *name; /* legend label; NULL or "" leaves it out of the legend */
    const double *x;  /* (n) x values; NULL means 0, 1, ..., n-1 */
    const double *y;  /* (n) y values; may be NULL only when n == 0 */
    size_t n;
} sg_plot_series;

/* Writes the plot to png_path (900 x 560 pixels).  title, xlabel and ylabel
 * may be NULL.  Returns 0 on success; -1 with a message in err (always
 * NUL-terminated when errcap > 0; err may be NULL) for a bad argument or a
 * cairo failure (for example an unwritable path). */
int sg_plot_curves(const char *png_path, const char *title, const char *xlabel, const char *ylabel,
                   const sg_plot_series *series, size_t n_series, bool log_y, char *err, size_t errcap);

#endif
