/* sg_cli_progress.c — the clock, the progress line and the JSON-lines log of
 * the training commands (see sg_cli_progress.h). */
#include "frontends/cli/sg_cli_progress.h"

#include "frontends/cli/sg_cli.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double sg_cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void sg_cli_fmt_duration(double s, char *buf, size_t cap)
{
    if (!(s >= 0) || s > 1e7)
        snprintf(buf, cap, "--");
    else if (s >= 3600)
        snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)(fmod(s, 3600) / 60));
    else
        snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

void sg_cli_progress_init(sg_cli_progress *p, const char *label, size_t total)
{
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total ? total : 1;
    p->tty = isatty(STDOUT_FILENO);
    p->t0 = sg_cli_now();
}

void sg_cli_progress_update(sg_cli_progress *p, size_t done, const char *fmt, ...)
{
    double el = sg_cli_now() - p->t0;
    size_t tenth = p->total / 10 ? p->total / 10 : 1;
    bool due = done >= p->total || (p->tty ? el - p->last > 0.25 : done % tenth == 0);
    if (!due)
        return;
    p->last = el;
    double frac = (double)(done < p->total ? done : p->total) / (double)p->total;
    char text[256] = "", eta[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sg_cli_fmt_duration(frac > 0 ? el / frac - el : -1, eta, sizeof eta);
    if (p->tty) {
        char bar[31];
        size_t filled = (size_t)(frac * 30);
        for (size_t k = 0; k < 30; k++)
            bar[k] = k < filled ? '#' : '.';
        bar[30] = '\0';
        printf("\r%s [%s] %3.0f%%  %s  ETA %s   ", p->label, bar, 100 * frac, text, eta);
        p->drawn = true;
    } else {
        printf("%s %3.0f%%  %s  ETA %s\n", p->label, 100 * frac, text, eta);
    }
    fflush(stdout);
}

void sg_cli_progress_end(sg_cli_progress *p)
{
    if (p->drawn)
        printf("\n");
    p->drawn = false;
}

bool sg_cli_log_append(const char *path, const sg_cli_log_field *fields, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    bool ok = o != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = cJSON_AddNumberToObject(o, fields[i].key, fields[i].value) != NULL;
    char *line = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!line) {
        sg_cli_error("cannot append to log '%s': out of memory", path);
        return false;
    }
    FILE *f = fopen(path, "a");
    ok = f && fprintf(f, "%s\n", line) >= 0;
    int e = errno;
    if (f && fclose(f) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok)
        sg_cli_error("cannot append to log '%s': %s", path, strerror(e));
    cJSON_free(line);
    return ok;
}
