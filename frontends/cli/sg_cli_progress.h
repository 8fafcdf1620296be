/* sg_cli_progress.h — what every training command shows and writes while it
 * runs: a clock, one progress line, and a JSON-lines log.
 *
 * Progress: on a terminal the line is redrawn in place (at most four times a
 * second) as "<label> [#####.....]  42%  <text>  ETA 1m05s"; otherwise one
 * line is printed per tenth of the run, so logs stay short.  The last unit
 * always prints.
 * Log: each sg_cli_log_append writes one JSON object on one line at the end
 * of the file (created when missing), the numbers as cJSON prints them.
 */
#ifndef SG_CLI_PROGRESS_H
#define SG_CLI_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

/* Seconds on a monotonic clock. */
double sg_cli_now(void);

typedef struct sg_cli_progress {
    char label[64];
    size_t total; /* units in the run (> 0) */
    bool tty;     /* stdout is a terminal */
    bool drawn;   /* a line is on screen (tty) */
    double t0;    /* when the run started */
    double last;  /* when the line was last drawn */
} sg_cli_progress;

/* Starts a run of total units (0 counts as 1) now. */
void sg_cli_progress_init(sg_cli_progress *p, const char *label, size_t total);
/* done units are finished; text (printf format) describes the state so far.
 * Prints when due (see above). */
void sg_cli_progress_update(sg_cli_progress *p, size_t done, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Ends the line on a terminal. */
void sg_cli_progress_end(sg_cli_progress *p);
/* "1h02m", "3m05s", or "--" for an unknown or absurd time. */
void sg_cli_fmt_duration(double seconds, char *buf, size_t cap);

/* One number of a log line. */
typedef struct sg_cli_log_field {
    const char *key;
    double value;
} sg_cli_log_field;

/* Appends {"key": value, ...} and a newline to path.  false (with a message
 * on stderr) when it cannot. */
bool sg_cli_log_append(const char *path, const sg_cli_log_field *fields, size_t n);

#endif
