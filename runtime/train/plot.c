/* plot.c: curves.svg from the history (see cnn_plot.h). Plain SVG 1.1, no
 * scripts or external fonts. */
#include "cnn_plot.h"
#include "cnn_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_escaped(cnn_strbuf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': cnn_sb_fmt(b, "&lt;"); break;
        case '>': cnn_sb_fmt(b, "&gt;"); break;
        case '&': cnn_sb_fmt(b, "&amp;"); break;
        case '"': cnn_sb_fmt(b, "&quot;"); break;
        default: cnn_sb_fmt(b, "%c", *s);
        }
    }
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) for a range. */
static double nice_step(double range, int ticks)
{
    double raw = range / ticks;
    double p = pow(10.0, floor(log10(raw)));
    double f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

enum { PW = 440, PH = 300, ML = 60, MR = 16, MT = 40, MB = 46 };

static void panel(cnn_strbuf *b, const cnn_history *h, int x0, const char *title, const char *train_col,
                  const char *val_col, int is_acc)
{
    int ct = cnn_history_col(h, train_col), cv = cnn_history_col(h, val_col);
    double lo = INFINITY, hi = -INFINITY;
    for (int r = 0; r < h->n_rows; r++)
        for (int k = 0; k < 2; k++) {
            int c = k ? cv : ct;
            if (c < 0)
                continue;
            double v = h->rows[(size_t)r * h->n_cols + c];
            if (isfinite(v)) {
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
    if (!(lo <= hi)) {
        lo = 0;
        hi = 1;
    }
    if (is_acc) {
        lo = lo > 0.0 ? floor(lo * 10.0) / 10.0 : 0.0;
        hi = 1.0;
    } else {
        lo = lo > 0 ? 0 : lo;
    }
    if (hi - lo < 1e-9)
        hi = lo + 1.0;
    double step = nice_step(hi - lo, 5);
    hi = ceil(hi / step - 1e-9) * step;
    int n = h->n_rows;
    double xmax = n > 1 ? n : 2;
    const double gx = x0 + ML, gy = MT, gw = PW - ML - MR, gh = PH - MT - MB;
#define X(e) (gx + ((e) - 1.0) / (xmax - 1.0) * gw)
#define Y(v) (gy + gh - ((v) - lo) / (hi - lo) * gh)
    cnn_sb_fmt(b, "<text x=\"%g\" y=\"24\" font-size=\"15\" font-weight=\"bold\" text-anchor=\"middle\">%s</text>\n",
        gx + gw / 2, title);
    /* grid and y ticks */
    for (double v = lo; v <= hi + step * 1e-6; v += step) {
        cnn_sb_fmt(b, "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", gx, Y(v), gx + gw, Y(v));
        cnn_sb_fmt(b, "<text x=\"%g\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%g</text>\n", gx - 6,
            Y(v) + 4, fabs(v) < step * 1e-6 ? 0.0 : v);
    }
    /* x ticks: epochs, at most about 10 labels */
    int every = (int)ceil(xmax / 10.0);
    for (int e = 1; e <= (int)xmax; e += every) {
        cnn_sb_fmt(b, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#999\"/>\n", X(e), gy + gh, X(e),
            gy + gh + 4);
        cnn_sb_fmt(b, "<text x=\"%.1f\" y=\"%g\" font-size=\"11\" text-anchor=\"middle\">%d</text>\n", X(e),
            gy + gh + 17, e);
    }
    cnn_sb_fmt(b, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#333\"/>\n", gx, gy, gw, gh);
    cnn_sb_fmt(b, "<text x=\"%g\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\">epoch</text>\n", gx + gw / 2, PH - 8);
    static const char *colors[2] = {"#1f77b4", "#ff7f0e"};
    for (int k = 0; k < 2; k++) {
        int c = k ? cv : ct;
        if (c < 0)
            continue;
        cnn_sb_fmt(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", colors[k],
            k ? " stroke-dasharray=\"6,4\"" : "");
        for (int r = 0; r < n; r++) {
            double v = h->rows[(size_t)r * h->n_cols + c];
            if (isfinite(v))
                cnn_sb_fmt(b, "%.1f,%.1f ", X(r + 1), Y(v));
        }
        cnn_sb_fmt(b, "\"/>\n");
        for (int r = 0; r < n; r++) {
            double v = h->rows[(size_t)r * h->n_cols + c];
            if (isfinite(v))
                cnn_sb_fmt(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>epoch %d: %s %.4f</title></circle>\n",
                    X(r + 1), Y(v), colors[k], r + 1, k ? val_col : train_col, v);
        }
        /* legend: top right for losses (they fall), bottom right for
         * accuracies (they rise), where the curves usually are not */
        double ly = is_acc ? gy + gh - 26 + 16 * k : gy + 14 + 16 * k, lx = gx + gw - 120;
        cnn_sb_fmt(b, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", lx, ly - 4,
            lx + 24, ly - 4, colors[k], k ? " stroke-dasharray=\"6,4\"" : "");
        cnn_sb_fmt(b, "<text x=\"%g\" y=\"%g\" font-size=\"12\">%s</text>\n", lx + 30, ly, k ? "validation" : "training");
    }
#undef X
#undef Y
}

char *cnn_plot_svg(const cnn_history *h, const char *title)
{
    int acc = cnn_history_col(h, "accuracy") >= 0 || cnn_history_col(h, "val_accuracy") >= 0;
    int width = acc ? 2 * PW : PW, height = PH + 24;
    cnn_strbuf b = {0};
    cnn_sb_fmt(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    cnn_sb_fmt(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\">\n", width, height, width, height);
    cnn_sb_fmt(&b, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    cnn_sb_fmt(&b, "<g transform=\"translate(0,24)\">\n");
    panel(&b, h, 0, "Loss", "loss", "val_loss", 0);
    if (acc)
        panel(&b, h, PW, "Accuracy", "accuracy", "val_accuracy", 1);
    cnn_sb_fmt(&b, "</g>\n<text x=\"8\" y=\"16\" font-size=\"12\" fill=\"#555\">");
    out_escaped(&b, title);
    cnn_sb_fmt(&b, "</text>\n</svg>\n");
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

int cnn_plot_write(const cnn_history *h, const char *title, const char *path, char *err, size_t errlen)
{
    char *s = cnn_plot_svg(h, title);
    if (!s) {
        snprintf(err, errlen, "out of memory writing %s", path);
        return -1;
    }
    int r = cnn_write_file_atomic(path, s, strlen(s), err, errlen);
    free(s);
    return r;
}
