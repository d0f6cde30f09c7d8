/* `memscope timeline`: the `mprof plot` picture as a file. Heap in use and
 * RSS over time as two lines, marks as labelled dashed lines, GC runs as
 * ticks under the axis and the peak as a dot, drawn as plain SVG (readable
 * by browsers, rsvg-convert and image viewers) or as an HTML page holding
 * that SVG. Samples are downsampled to one point per bucket, keeping each
 * bucket's highest heap and RSS so no spike disappears. */
#include <math.h>
#include <stdlib.h>

#include "memscope/common.h"
#include "memscope/html.h"
#include "html.h"
#include "report.h"

#define W 1000
#define H 380
#define LEFT 76
#define RIGHT 16
#define TOP 40
#define BOTTOM 44
#define MAX_MARKS 200
#define MAX_LABEL 80

size_t msc__timeline_points(const msc_analysis_t *a, msc_sample_t *out, size_t max)
{
    size_t n, k = 0;
    const msc_sample_t *s = msc_analysis_samples(a, &n);
    size_t per = max ? (n + max - 1) / max : n;
    if (!per) per = 1;
    for (size_t i = 0; i < n && k < max; i += per) {
        msc_sample_t top = s[i];
        for (size_t j = i + 1; j < i + per && j < n; j++) {
            if (s[j].heap_bytes > top.heap_bytes) {
                top.heap_bytes = s[j].heap_bytes;
                top.time_ns = s[j].time_ns;
            }
            if (s[j].rss_bytes > top.rss_bytes) top.rss_bytes = s[j].rss_bytes;
            top.cpu_ns += s[j].cpu_ns; /* the bucket's CPU time, all of it */
        }
        out[k++] = top;
    }
    return k;
}

typedef struct plot {
    FILE *out;
    double end_s, top_bytes;
} plot_t;

static double px(const plot_t *p, double t)
{
    return LEFT + (W - LEFT - RIGHT) * t / p->end_s;
}

static double py(const plot_t *p, double v)
{
    return TOP + (H - TOP - BOTTOM) * (1 - v / p->top_bytes);
}

/* A round step for about five ticks over range. */
static double tick_step(double range)
{
    double step = pow(10, floor(log10(range / 5)));
    if (range / step > 20) step *= 5;
    else if (range / step > 10) step *= 2;
    return step;
}

static void axes(const plot_t *p)
{
    char b[32];
    fprintf(p->out, "<path d=\"M%d %d V%d H%d\" fill=\"none\" stroke=\"#888\"/>\n", LEFT, TOP,
            H - BOTTOM, W - RIGHT);
    double mib = p->top_bytes / 1048576, ystep = tick_step(mib);
    for (double v = 0; v <= mib * 1.0001; v += ystep) {
        double y = py(p, v * 1048576);
        fprintf(p->out,
                "<path d=\"M%d %.1f H%d\" stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" "
                "text-anchor=\"end\">%s</text>\n",
                LEFT, y, W - RIGHT, LEFT - 6, y + 4,
                msc_format_bytes((uint64_t)(v * 1048576), b, 32));
    }
    double tstep = tick_step(p->end_s);
    for (double t = 0; t <= p->end_s * 1.0001; t += tstep)
        fprintf(p->out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g s</text>\n", px(p, t),
                H - BOTTOM + 16, t);
}

static void line(const plot_t *p, const msc_sample_t *pts, size_t n, int rss, const char *color)
{
    if (!n) return;
    fprintf(p->out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"", color);
    for (size_t i = 0; i < n; i++)
        fprintf(p->out, "%s%.1f,%.1f", i ? " " : "", px(p, (double)pts[i].time_ns / 1e9),
                py(p, (double)(rss ? pts[i].rss_bytes : pts[i].heap_bytes)));
    fputs("\"/>\n", p->out);
}

static void marks(const plot_t *p, const msc_report_ctx_t *ctx)
{
    size_t n, ngc;
    const uint64_t *gc = msc_analysis_gc_times(ctx->analysis, &ngc);
    const msc_mark_t *m = msc_analysis_marks(ctx->analysis, &n);
    for (size_t i = 0; i < n && i < MAX_MARKS; i++) {
        double x = px(p, (double)m[i].time_ns / 1e9);
        fprintf(p->out,
                "<path d=\"M%.1f %d V%d\" stroke=\"#666\" stroke-dasharray=\"4 3\"/>"
                "<text x=\"%.1f\" y=\"%d\" class=\"mark\">",
                x, TOP, H - BOTTOM, x + 3, TOP + 12 + (int)(i % 3) * 13);
        msc__html_text(p->out, m[i].label, MAX_LABEL);
        fputs("</text>\n", p->out);
    }
    for (size_t i = 0; i < ngc; i++)
        fprintf(p->out, "<path d=\"M%.1f %d v5\" stroke=\"#999\"/>\n", px(p, (double)gc[i] / 1e9),
                H - BOTTOM);
}

static void title_and_legend(const plot_t *p, const msc_report_ctx_t *ctx)
{
    const msc_header_t *h = msc_replay_header(ctx->replay);
    fputs("<text x=\"16\" y=\"22\" class=\"title\">", p->out);
    for (int i = 0; i < h->argc && i < 16; i++) {
        if (i) fputc(' ', p->out);
        msc__html_text(p->out, h->argv[i], MAX_LABEL);
    }
    fprintf(p->out,
            "</text>\n<text x=\"%d\" y=\"22\" text-anchor=\"end\"><tspan fill=\"#d9480f\">"
            "\u2014 heap in use</tspan>  <tspan fill=\"#1f6feb\">\u2014 RSS</tspan>"
            "  \u25cf peak</text>\n",
            W - RIGHT);
}

int msc_report_timeline_svg(const msc_report_ctx_t *ctx, FILE *out)
{
    enum { POINTS = 2000 };
    msc_sample_t *pts = msc_malloc(POINTS * sizeof(msc_sample_t));
    if (!pts) return MSC_ENOMEM;
    size_t n = msc__timeline_points(ctx->analysis, pts, POINTS);
    const msc_summary_t *s = msc_analysis_summary(ctx->analysis);
    plot_t p = {out, (double)msc_replay_duration_ns(ctx->replay) / 1e9, (double)s->peak_bytes};
    for (size_t i = 0; i < n; i++) {
        if ((double)pts[i].rss_bytes > p.top_bytes) p.top_bytes = (double)pts[i].rss_bytes;
        if ((double)pts[i].time_ns / 1e9 > p.end_s) p.end_s = (double)pts[i].time_ns / 1e9;
    }
    if (p.end_s <= 0) p.end_s = 1;
    p.top_bytes = p.top_bytes > 0 ? p.top_bytes * 1.05 : 1048576;
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<style>text{fill:#333}.title{font-weight:bold}.mark{fill:#444}</style>\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
            W, H, W, H);
    title_and_legend(&p, ctx);
    axes(&p);
    marks(&p, ctx);
    line(&p, pts, n, 1, "#1f6feb");
    line(&p, pts, n, 0, "#d9480f");
    char b[32];
    double x = px(&p, (double)s->peak_time_ns / 1e9), y = py(&p, (double)s->peak_bytes);
    fprintf(out,
            "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"#b3261e\"/>"
            "<text x=\"%.1f\" y=\"%.1f\">peak %s at %.2f s</text>\n</svg>\n",
            x, y, x + 8 > W - 180 ? x - 180 : x + 8, y - 6,
            msc_format_bytes(s->peak_bytes, b, sizeof(b)), (double)s->peak_time_ns / 1e9);
    msc_free(pts);
    return ferror(out) ? MSC_EIO : 0;
}

int msc_report_timeline_html(const msc_report_ctx_t *ctx, FILE *out)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'\">\n<title>memscope timeline: ",
          out);
    msc__html_text(out, ctx->path, 1024);
    fputs("</title>\n<style>body{margin:16px;font-family:sans-serif}svg{max-width:100%;"
          "height:auto}</style></head>\n<body>\n",
          out);
    int err = msc_report_timeline_svg(ctx, out);
    fputs("</body></html>\n", out);
    return err ? err : ferror(out) ? MSC_EIO : 0;
}
