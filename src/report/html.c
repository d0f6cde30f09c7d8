/* `memscope report` and `memscope flamegraph`: one HTML file holding the page
 * template, style and script bundled from web/ and the capture's data as
 * one JSON object in a <script type="application/json"> element, which the
 * script renders with text nodes only. The data is capped so the file stays
 * small: each flame graph keeps its largest frames (the rest merge into
 * "other"), frame names share one table with a byte budget, the timeline is
 * downsampled keeping each bucket's highest point, tables keep their top
 * rows, marks are counted and cut. The report also carries the capture's
 * advice (memscope/advise.h). A capture with CPU samples (run --cpu) adds
 * CPU and wall time flame graphs ("cpu", "wall"), weighted in ns. */
#include <string.h>

#include "memscope/advise.h"
#include "memscope/aggregate.h"
#include "memscope/common.h"
#include "memscope/html.h"
#include "html.h"
#include "report.h"

#define TREE_NODES 3000            /* frames kept per flame graph of a view */
#define MOMENT_NODES 800           /* frames kept per moment's flame graph */
#define MIN_SHARE 10000            /* frames under 1/10000 of a graph merge */
#define FRAME_BUDGET (3u << 20)    /* bytes of frame names in one page */
#define MAX_POINTS 2000            /* timeline points */
#define MAX_MARKS 500
#define MAX_LABEL 160              /* bytes of a mark label or command word */
#define TABLE_ROWS 100

typedef struct page {
    const msc_report_ctx_t *ctx;
    const msc_temporal_t *moments;
    msc_frames_t *frames;
    msc_json_t *json;              /* borrowed: the data's writer, safe for <script> */
    const char *kind;              /* "report" or "flamegraph" */
    msc_view_t view;               /* the flamegraph's */
    int inverted;
    msc_views_values_t values;     /* every view drawn, read once for trees, tables and advice */
} page_t;

/* Text for SVG and HTML bodies (the one escaper of markup; the data's JSON
 * is escaped by the JSON writer with MSC_JSON_HTML). */

/* Bytes of s to write, at most max, not splitting a UTF-8 character. */
static size_t cut(const char *s, size_t max, int *cut_short)
{
    size_t n = strlen(s);
    *cut_short = n > max;
    if (n <= max) return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) max--;
    return max;
}

void msc__html_text(FILE *out, const char *s, size_t max)
{
    int short_;
    size_t n = cut(s, max, &short_);
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc((unsigned char)s[i] < 0x20 ? ' ' : s[i], out);
        }
    }
    if (short_) fputs("\u2026", out);
}

static double seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* Each domain that allocated, [name, bytes at the peak, bytes at exit],
 * and the resident memory split (null when no sample said). */
static void write_domains(msc_json_t *j, const msc_summary_t *s)
{
    char name[64];
    msc_json_newline(j, 0);
    msc_json_array_begin(j, "domains");
    msc_json_compact(j, 1);
    for (uint32_t i = 0; i < s->ndomains; i++) {
        const msc_domain_stats_t *d = &s->domains[i];
        msc_json_array_begin(j, NULL);
        msc_json_str_cut(j, NULL, msc_domain_name(d->domain, name, sizeof(name)), 64);
        msc_json_u64(j, NULL, d->peak_bytes);
        msc_json_u64(j, NULL, d->leaked_bytes);
        msc_json_end(j);
    }
    msc_json_compact(j, 0);
    msc_json_end(j);
    msc_json_newline(j, 0);
    msc__json_rss_explained(j, s);
}

static void write_totals(msc_json_t *j, const page_t *p, const msc_summary_t *s)
{
    msc_json_newline(j, 0);
    msc_json_object_begin(j, "summary");
    msc_json_f64(j, "duration_s", seconds(msc_replay_duration_ns(p->ctx->replay)), 6);
    msc_json_u64(j, "peak_bytes", s->peak_bytes);
    msc_json_f64(j, "peak_time_s", seconds(s->peak_time_ns), 6);
    msc_json_u64(j, "peak_rss_bytes", s->peak_rss_bytes);
    msc_json_u64(j, "total_allocated_bytes", s->total_allocated_bytes);
    msc_json_u64(j, "allocations", s->allocations);
    msc_json_u64(j, "frees", s->frees);
    msc_json_u64(j, "leaked_bytes", s->leaked_bytes);
    msc_json_u64(j, "leaked_allocations", s->leaked_allocations);
    msc_json_u64(j, "threads", s->threads);
    msc_json_u64(j, "cpu_samples", s->cpu_samples);
    msc_json_f64(j, "cpu_seconds", seconds(s->cpu_ns), 6);
    msc_json_f64(j, "native_cpu_seconds", seconds(s->native_cpu_ns), 6);
    msc_json_f64(j, "wall_seconds", seconds(s->wall_ns), 6);
    msc_json_end(j);
}

static void write_summary(const page_t *p)
{
    msc_json_t *j = p->json;
    const msc_summary_t *s = msc_analysis_summary(p->ctx->analysis);
    const msc_header_t *h = msc_replay_header(p->ctx->replay);
    msc_json_str(j, "kind", p->kind);
    msc_json_str_cut(j, "capture", p->ctx->path, 4096);
    msc_json_str_cut(j, "python_version", h->python_version, 64);
    msc_json_u64(j, "pid", h->pid);
    msc_json_bool(j, "complete", msc_replay_complete(p->ctx->replay));
    msc_json_array_begin(j, "command");
    msc_json_compact(j, 1);
    for (int i = 0; i < h->argc && i < 64; i++) msc_json_str_cut(j, NULL, h->argv[i], MAX_LABEL);
    msc_json_compact(j, 0);
    msc_json_end(j);
    write_totals(j, p, s);
    write_domains(j, s);
    msc_json_newline(j, 0);
    msc__html_children(j, p->ctx);
}

static void write_marks(msc_json_t *j, const page_t *p)
{
    size_t nmarks, ngc;
    const msc_mark_t *m = msc_analysis_marks(p->ctx->analysis, &nmarks);
    msc_json_newline(j, 0);
    msc_json_u64(j, "marks_total", nmarks);
    msc_json_array_begin(j, "marks");
    msc_json_compact(j, 1);
    for (size_t i = 0; i < nmarks && i < MAX_MARKS; i++) {
        msc_json_array_begin(j, NULL);
        msc_json_f64(j, NULL, seconds(m[i].time_ns), 6);
        msc_json_str_cut(j, NULL, m[i].label, MAX_LABEL);
        msc_json_end(j);
    }
    msc_json_end(j);
    const uint64_t *gc = msc_analysis_gc_times(p->ctx->analysis, &ngc);
    msc_json_compact(j, 0);
    msc_json_newline(j, 0);
    msc_json_array_begin(j, "gc_s");
    msc_json_compact(j, 1);
    for (size_t i = 0; i < ngc; i++) msc_json_f64(j, NULL, seconds(gc[i]), 6);
    msc_json_compact(j, 0);
    msc_json_end(j);
}

static int write_timeline(const page_t *p)
{
    msc_json_t *j = p->json;
    msc_sample_t *pts = msc_malloc(MAX_POINTS * sizeof(msc_sample_t));
    if (!pts) return MSC_ENOMEM;
    size_t n = msc__timeline_points(p->ctx->analysis, pts, MAX_POINTS);
    msc_json_newline(j, 0);
    msc_json_array_begin(j, "timeline");
    msc_json_compact(j, 1);
    for (size_t i = 0; i < n; i++) {
        msc_json_array_begin(j, NULL);
        msc_json_f64(j, NULL, seconds(pts[i].time_ns), 6);
        msc_json_u64(j, NULL, pts[i].heap_bytes);
        msc_json_u64(j, NULL, pts[i].rss_bytes);
        msc_json_f64(j, NULL, seconds(pts[i].cpu_ns), 6);
        msc_json_end(j);
    }
    msc_json_compact(j, 0);
    msc_json_end(j);
    msc_free(pts);
    write_marks(j, p);
    return 0;
}

/* The member key holding tree t's flame graph (t freed here). */
static int write_tree(const page_t *p, const char *key, msc_tree_t *t, uint32_t max_nodes)
{
    if (!t) return MSC_ENOMEM;
    msc_json_member(p->json, key);
    int err = msc__flame_write(p->json, t, p->frames, max_nodes, MIN_SHARE);
    msc_tree_free(t);
    return err;
}

static int write_flames(const page_t *p)
{
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(p->ctx->replay);
    int err = 0, first = 1;
    msc_json_newline(p->json, 0);
    msc_json_object_begin(p->json, "flames");
    for (int v = 0; v < MSC_VIEW_ALL && !err; v++) {
        if (!(p->values.views & 1u << v)) continue; /* not drawn (write_data) */
        const msc_stack_value_t *values = p->values.values[v]; /* for both orientations */
        size_t n = p->values.n[v];
        for (int inv = 0; inv < 2 && !err; inv++) {
            if (!strcmp(p->kind, "flamegraph") && inv != p->inverted) continue;
            char key[64];
            snprintf(key, sizeof(key), "%s%s", msc_view_name((msc_view_t)v),
                     inv ? "_inverted" : "");
            if (!first) msc_json_newline(p->json, 0);
            first = 0;
            err = write_tree(p, key,
                             msc_tree_new_pruned(sym, values, n, inv ? MSC_TREE_INVERTED : 0,
                                                 MIN_SHARE, TREE_NODES),
                             TREE_NODES);
        }
    }
    msc_json_end(p->json);
    return err;
}

static int write_moments(const page_t *p)
{
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(p->ctx->replay);
    size_t n = p->moments ? msc_temporal_count(p->moments) : 0;
    msc_moment_t m = {0}; /* one moment decoded at a time */
    msc_tree_series_t *series = msc_tree_series_new(sym);
    int err = series ? 0 : MSC_ENOMEM;
    msc_json_newline(p->json, 0);
    msc_json_array_begin(p->json, "moments");
    for (size_t i = 0; i < n && !err; i++) {
        err = msc_temporal_moment(p->moments, i, &m);
        if (err) break;
        if (i) msc_json_newline(p->json, 0);
        msc_json_object_begin(p->json, NULL);
        msc_json_f64(p->json, "time_s", seconds(m.time_ns), 6);
        msc_json_u64(p->json, "heap_bytes", m.heap_bytes);
        err = write_tree(p, "flame",
                         msc_tree_series_next(series, m.stacks, m.n, MIN_SHARE, MOMENT_NODES),
                         MOMENT_NODES);
        msc_json_end(p->json);
    }
    msc_moment_release(&m);
    msc_tree_series_free(series);
    msc_json_end(p->json);
    return err;
}

/* The member key: rows as [frame, bytes, allocations]; grouped by function
 * the frame has line 0, by file an empty function. */
static int write_table(const page_t *p, const char *key, const msc_rows_t *rows)
{
    int err = 0;
    msc_json_array_begin(p->json, key);
    msc_json_compact(p->json, 1);
    for (size_t i = 0; i < rows->n && i < TABLE_ROWS; i++) {
        const msc_row_t *r = &rows->rows[i];
        int64_t k = msc__frame_index(p->frames, r->function ? r->function : "", r->file, r->line);
        if (k == -2) err = MSC_ENOMEM;
        if (k < 0) continue;
        msc_json_array_begin(p->json, NULL);
        msc_json_i64(p->json, NULL, k);
        msc_json_u64(p->json, NULL, r->bytes);
        msc_json_u64(p->json, NULL, r->count);
        msc_json_end(p->json);
    }
    msc_json_compact(p->json, 0);
    msc_json_end(p->json);
    return err;
}

/* Every view by line, function and file: one pass over the stacks a
 * grouping, for the three views at once. */
/* The tables of every view by line, function and file; by_line[] stays
 * the caller's (the advice reads it), the rest are released here. */
static int write_tables(const page_t *p, msc_rows_t by_line[MSC_VIEW_COUNT])
{
    static const char *groups[] = {"line", "function", "file"};
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(p->ctx->replay);
    msc_rows_t rows[3][MSC_VIEW_ALL];
    int err =
        msc_aggregate_groups(&p->values, sym, (1u << MSC_VIEW_COUNT) - 1,
                             1u << MSC_BY_LINE | 1u << MSC_BY_FUNCTION | 1u << MSC_BY_FILE, rows);
    if (err) return err;
    msc_json_newline(p->json, 0);
    msc_json_object_begin(p->json, "tables");
    for (int v = 0; v < MSC_VIEW_COUNT && !err; v++) {
        if (v) msc_json_newline(p->json, 0);
        msc_json_object_begin(p->json, msc_view_name((msc_view_t)v));
        for (int g = 0; g < 3 && !err; g++) err = write_table(p, groups[g], &rows[g][v]);
        msc_json_end(p->json);
    }
    msc_json_end(p->json);
    for (int v = 0; v < MSC_VIEW_COUNT; v++) {
        by_line[v] = rows[MSC_BY_LINE][v];
        msc_rows_release(&rows[MSC_BY_FUNCTION][v]);
        msc_rows_release(&rows[MSC_BY_FILE][v]);
    }
    return err;
}

static int write_advice(const page_t *p, const msc_rows_t by_line[MSC_VIEW_COUNT])
{
    msc_json_t *j = p->json;
    msc_advice_list_t l = {0};
    int err = msc_advise_capture(p->ctx->path, p->ctx->analysis,
                                 (msc_symbols_t *)msc_replay_symbols(p->ctx->replay), &p->values,
                                 by_line, &l);
    msc_json_newline(j, 0);
    msc_json_array_begin(j, "advice");
    for (size_t i = 0; i < l.len && !err; i++) {
        const msc_advice_t *x = &l.items[i];
        if (i) msc_json_newline(j, 0);
        msc_json_object_begin(j, NULL);
        msc_json_str(j, "rule", x->rule);
        msc_json_str(j, "measure", x->measure);
        msc_json_u64(j, "bytes_saved", x->bytes_saved);
        msc_json_str_cut(j, "title", x->title, 4096);
        msc_json_str_cut(j, "where", x->where ? x->where : "", 4096);
        msc_json_str_cut(j, "evidence", x->evidence, 4096);
        msc_json_str_cut(j, "change", x->change, 4096);
        msc_json_end(j);
    }
    msc_json_end(j);
    msc_advice_list_release(&l);
    return err;
}

static int write_data(FILE *out, page_t *p)
{
    msc_json_t j;
    p->frames = msc__frames_new(FRAME_BUDGET);
    if (!p->frames) return MSC_ENOMEM;
    msc_json_init(&j, out, MSC_JSON_HTML);
    p->json = &j;
    msc_json_object_begin(&j, NULL);
    write_summary(p);
    int report = !strcmp(p->kind, "report");
    /* The views with flame graphs: the memory ones, and the CPU and wall
     * time ones of a capture with CPU samples; a flamegraph page's own. */
    int timed = msc_analysis_summary(p->ctx->analysis)->cpu_samples != 0;
    unsigned drawn = (1u << (timed ? MSC_VIEW_WALL + 1 : MSC_VIEW_COUNT)) - 1;
    unsigned views = report ? drawn : drawn & 1u << p->view;
    int err = msc_views_values_read(p->ctx->analysis, views, &p->values);
    if (!err && report) err = write_timeline(p);
    if (!err) err = write_flames(p);
    if (!err && report) err = write_moments(p);
    msc_rows_t by_line[MSC_VIEW_COUNT] = {{0}};
    if (!err && report) err = write_tables(p, by_line);
    if (!err && report) err = write_advice(p, by_line);
    for (int v = 0; v < MSC_VIEW_COUNT; v++) msc_rows_release(&by_line[v]);
    msc_views_values_release(&p->values);
    msc_json_newline(&j, 0);
    msc__frames_write(&j, p->frames);
    msc_json_end(&j);
    msc__frames_free(p->frames);
    int jerr = msc_json_release(&j);
    p->json = NULL;
    return err ? err : jerr;
}

/* The template with each <!--memscope:NAME--> replaced by its part. */
static int write_page(FILE *out, page_t *p)
{
    static const char marker[] = "<!--memscope:";
    const char *t = msc__web_report_html;
    int err = 0;
    for (const char *m; !err && (m = strstr(t, marker)) != NULL;) {
        fwrite(t, 1, (size_t)(m - t), out);
        const char *name = m + sizeof(marker) - 1, *end = strstr(name, "-->");
        if (!end) break;
        if (!strncmp(name, "css", 3)) fputs(msc__web_report_css, out);
        else if (!strncmp(name, "js", 2)) fputs(msc__web_report_js, out);
        else if (!strncmp(name, "data", 4)) err = write_data(out, p);
        t = end + 3;
    }
    fputs(t, out);
    return err ? err : ferror(out) ? MSC_EIO : 0;
}

int msc_report_html(const msc_report_ctx_t *ctx, FILE *out, const msc_temporal_t *moments)
{
    page_t p = {ctx, moments, NULL, NULL, "report", MSC_VIEW_PEAK, 0, {{0}, {0}, 0}};
    return write_page(out, &p);
}

int msc_report_flamegraph(const msc_report_ctx_t *ctx, FILE *out, msc_view_t view, int inverted)
{
    page_t p = {ctx, NULL, NULL, NULL, "flamegraph", view, inverted, {{0}, {0}, 0}};
    return write_page(out, &p);
}
