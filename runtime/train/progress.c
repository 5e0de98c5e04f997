/* progress.c: Keras-3-style progress lines (see cnn_progress.h). */
#define _POSIX_C_SOURCE 200809L
#include "cnn_progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 20

double cnn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cnn_progress_init(cnn_progress *p, FILE *f, int tty)
{
    memset(p, 0, sizeof *p);
    p->f = f;
    if (tty < 0) {
        const char *term = getenv("TERM");
        tty = isatty(fileno(f)) && !(term && !strcmp(term, "dumb"));
    }
    p->tty = tty;
}

void cnn_format_time(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0)
        s = 0;
    long t = (long)(s + 0.5);
    if (t < 60)
        snprintf(buf, n, "%lds", t);
    else if (t < 3600)
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

void cnn_progress_begin(cnn_progress *p, int epoch, int epochs, int steps)
{
    p->steps = steps;
    p->t0 = cnn_now();
    p->last = 0;
    p->drawn = 0;
    fprintf(p->f, "Epoch %d/%d\n", epoch, epochs);
    fflush(p->f);
}

static int cmp_names(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int vx = !strncmp(x, "val_", 4), vy = !strncmp(y, "val_", 4);
    if (vx != vy)
        return vx - vy;
    return strcmp(x, y);
}

/* " - accuracy: 0.8125 - loss: 0.4211" in Keras's order. */
static void metrics_text(char *s, size_t cap, const char *const *names, const double *values, int n)
{
    const char *sorted[32];
    int k = n < 32 ? n : 32;
    for (int i = 0; i < k; i++)
        sorted[i] = names[i];
    qsort(sorted, (size_t)k, sizeof sorted[0], cmp_names);
    size_t len = 0;
    s[0] = 0;
    for (int i = 0; i < k && len < cap; i++) {
        int j = 0;
        while (names[j] != sorted[i])
            j++;
        /* a learning rate has significant digits, not decimals (1e-05, 0.0003) */
        len += (size_t)snprintf(s + len, cap - len, strcmp(sorted[i], "lr") ? " - %s: %.4f" : " - %s: %.4g",
                                sorted[i], values[j]);
    }
}

static void line(cnn_progress *p, int step, long images, const char *const *names,
                 const double *values, int n, int final)
{
    double el = cnn_now() - p->t0;
    double per_step = step ? el / step : 0;
    char t[32], ps[32], ms[1024];
    cnn_format_time(final ? el : per_step * (p->steps - step), t, sizeof t);
    /* per step as Keras: milliseconds below a second */
    if (per_step >= 1.0)
        snprintf(ps, sizeof ps, "%.1fs", per_step);
    else
        snprintf(ps, sizeof ps, "%.0fms", per_step * 1000);
    metrics_text(ms, sizeof ms, names, values, n);
    double ips = el > 0 ? (double)images / el : 0;
    int w = snprintf(NULL, 0, "%d", p->steps);
    if (p->tty) {
        int fill = p->steps ? (int)((long)BAR_WIDTH * step / p->steps) : BAR_WIDTH;
        fprintf(p->f, "\r%*d/%d \x1b[1m", w, step, p->steps);
        for (int i = 0; i < fill; i++)
            fputs("\xe2\x94\x81", p->f); /* U+2501 heavy horizontal, as Keras 3 */
        fputs("\x1b[0m\x1b[2m", p->f);
        for (int i = fill; i < BAR_WIDTH; i++)
            fputs("\xe2\x94\x81", p->f);
        fprintf(p->f, "\x1b[0m %s %s/step %.0f img/s%s\x1b[K", t, ps, ips, ms);
        if (final)
            fputc('\n', p->f);
    } else {
        fprintf(p->f, "%*d/%d - %s - %s/step - %.0f img/s%s\n", w, step, p->steps, t, ps, ips, ms);
    }
    fflush(p->f);
}

void cnn_progress_update(cnn_progress *p, int step, long images, const char *const *names,
                         const double *values, int n)
{
    if (!p->tty)
        return;
    double now = cnn_now();
    if (p->drawn && now - p->last < 0.1 && step < p->steps)
        return;
    p->last = now;
    p->drawn = 1;
    line(p, step, images, names, values, n, 0);
}

void cnn_progress_end(cnn_progress *p, int steps, long images, const char *const *names,
                      const double *values, int n)
{
    line(p, steps, images, names, values, n, 1);
}
