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
    const char *kind;              /* "report" or "flamegraph" */
    msc_view_t view;               /* the flamegraph's */
    int inverted;
} page_t;

static double seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* Each domain that allocated, [name, bytes at the peak, bytes at exit],
 * and the resident memory split (null when no sample said). */
static void write_domains(FILE *out, const msc_summary_t *s)
{
    char name[64];
    fputs("\"domains\": [", out);
    for (uint32_t i = 0; i < s->ndomains; i++) {
        const msc_domain_stats_t *d = &s->domains[i];
        fputs(i ? ",[" : "[", out);
        msc__html_json_string(out, msc_domain_name(d->domain, name, sizeof(name)), 64);
        fprintf(out, ",%llu,%llu]", (unsigned long long)d->peak_bytes,
                (unsigned long long)d->leaked_bytes);
    }
    fputs("],\n", out);
    /* A fragment of the page's object: the writer starts with no separator. */
    msc_json_t j;
    msc_json_init(&j, out, MSC_JSON_HTML);
    msc__json_rss_explained(&j, s);
    msc_json_release(&j);
    fputs(",\n", out);
}

static void write_summary(FILE *out, const page_t *p)
{
    const msc_summary_t *s = msc_analysis_summary(p->ctx->analysis);
    const msc_header_t *h = msc_replay_header(p->ctx->replay);
    fprintf(out, "\"kind\": \"%s\", \"capture\": ", p->kind);
    msc__html_json_string(out, p->ctx->path, 4096);
    fputs(", \"python_version\": ", out);
    msc__html_json_string(out, h->python_version, 64);
    fprintf(out, ", \"pid\": %llu, \"complete\": %s, \"command\": [", (unsigned long long)h->pid,
            msc_replay_complete(p->ctx->replay) ? "true" : "false");
    for (int i = 0; i < h->argc && i < 64; i++) {
        if (i) fputc(',', out);
        msc__html_json_string(out, h->argv[i], MAX_LABEL);
    }
    fprintf(out, "],\n\"summary\": {\"duration_s\": %.6f, \"peak_bytes\": %llu, "
                 "\"peak_time_s\": %.6f, \"peak_rss_bytes\": %llu, \"total_allocated_bytes\": %llu, "
                 "\"allocations\": %llu, \"frees\": %llu, \"leaked_bytes\": %llu, "
                 "\"leaked_allocations\": %llu, \"threads\": %u, \"cpu_samples\": %llu, "
                 "\"cpu_seconds\": %.6f, \"native_cpu_seconds\": %.6f, \"wall_seconds\": %.6f},\n",
            seconds(msc_replay_duration_ns(p->ctx->replay)), (unsigned long long)s->peak_bytes,
            seconds(s->peak_time_ns), (unsigned long long)s->peak_rss_bytes,
            (unsigned long long)s->total_allocated_bytes, (unsigned long long)s->allocations,
            (unsigned long long)s->frees, (unsigned long long)s->leaked_bytes,
            (unsigned long long)s->leaked_allocations, s->threads,
            (unsigned long long)s->cpu_samples, seconds(s->cpu_ns), seconds(s->native_cpu_ns),
            seconds(s->wall_ns));
    write_domains(out, s);
    msc_json_t j;
    msc_json_init(&j, out, MSC_JSON_HTML);
    msc__html_children(&j, p->ctx);
    msc_json_release(&j);
    fputs(",\n", out);
}

static int write_timeline(FILE *out, const page_t *p)
{
    msc_sample_t *pts = msc_malloc(MAX_POINTS * sizeof(msc_sample_t));
    if (!pts) return MSC_ENOMEM;
    size_t n = msc__timeline_points(p->ctx->analysis, pts, MAX_POINTS);
    fputs("\"timeline\": [", out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s[%.6f,%llu,%llu,%.6f]", i ? "," : "", seconds(pts[i].time_ns),
                (unsigned long long)pts[i].heap_bytes, (unsigned long long)pts[i].rss_bytes,
                seconds(pts[i].cpu_ns));
    msc_free(pts);
    size_t nmarks;
    const msc_mark_t *m = msc_analysis_marks(p->ctx->analysis, &nmarks);
    fprintf(out, "],\n\"marks_total\": %zu, \"marks\": [", nmarks);
    for (size_t i = 0; i < nmarks && i < MAX_MARKS; i++) {
        fprintf(out, "%s[%.6f,", i ? "," : "", seconds(m[i].time_ns));
        msc__html_json_string(out, m[i].label, MAX_LABEL);
        fputc(']', out);
    }
    size_t ngc;
    const uint64_t *gc = msc_analysis_gc_times(p->ctx->analysis, &ngc);
    fputs("],\n\"gc_s\": [", out);
    for (size_t i = 0; i < ngc; i++) fprintf(out, "%s%.6f", i ? "," : "", seconds(gc[i]));
    fputs("],\n", out);
    return 0;
}

static int write_tree(FILE *out, const page_t *p, msc_tree_t *t, uint32_t max_nodes)
{
    if (!t) return MSC_ENOMEM;
    int err = msc__flame_write(out, t, p->frames, max_nodes, MIN_SHARE);
    msc_tree_free(t);
    return err;
}

static int write_flames(FILE *out, const page_t *p)
{
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(p->ctx->replay);
    int err = 0, first = 1;
    int timed = msc_analysis_summary(p->ctx->analysis)->cpu_samples != 0;
    fputs("\"flames\": {", out);
    for (int v = 0; v < (timed ? MSC_VIEW_WALL + 1 : MSC_VIEW_COUNT) && !err; v++) {
        msc_stack_value_t *values = NULL; /* the view's, for both orientations */
        size_t n = 0;
        for (int inv = 0; inv < 2 && !err; inv++) {
            if (!strcmp(p->kind, "flamegraph") && (v != (int)p->view || inv != p->inverted))
                continue;
            if (!values && (err = msc_stack_values(p->ctx->analysis, (msc_view_t)v, &values, &n)))
                break;
            fprintf(out, "%s\"%s%s\": ", first ? "" : ",\n", msc_view_name((msc_view_t)v),
                    inv ? "_inverted" : "");
            first = 0;
            err = write_tree(out, p, msc_tree_new_pruned(sym, values, n,
                                                         inv ? MSC_TREE_INVERTED : 0, MIN_SHARE),
                             TREE_NODES);
        }
        msc_free(values);
    }
    fputs("},\n", out);
    return err;
}

static int write_moments(FILE *out, const page_t *p)
{
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(p->ctx->replay);
    size_t n = 0;
    const msc_moment_t *moments = p->moments ? msc_temporal_moments(p->moments, &n) : NULL;
    int err = 0;
    fputs("\"moments\": [", out);
    for (size_t i = 0; i < n && !err; i++) {
        const msc_moment_t *m = &moments[i];
        fprintf(out, "%s{\"time_s\": %.6f, \"heap_bytes\": %llu, \"flame\": ", i ? ",\n" : "",
                seconds(m->time_ns), (unsigned long long)m->heap_bytes);
        err = write_tree(out, p, msc_tree_new_pruned(sym, m->stacks, m->n, 0, MIN_SHARE),
                         MOMENT_NODES);
        fputc('}', out);
    }
    fputs("],\n", out);
    return err;
}

/* Rows as [frame, bytes, allocations]; grouped by function the frame has
 * line 0, by file an empty function. */
static int write_table(FILE *out, const page_t *p, const msc_rows_t *rows)
{
    int err = 0, first = 1;
    fputc('[', out);
    for (size_t i = 0; i < rows->n && i < TABLE_ROWS; i++) {
        const msc_row_t *r = &rows->rows[i];
        int64_t k = msc__frame_index(p->frames, r->function ? r->function : "", r->file, r->line);
        if (k == -2) err = MSC_ENOMEM;
        if (k < 0) continue;
        fprintf(out, "%s[%lld,%llu,%llu]", first ? "" : ",", (long long)k,
                (unsigned long long)r->bytes, (unsigned long long)r->count);
        first = 0;
    }
    fputc(']', out);
    return err;
}

/* Every view by line, function and file: one pass over the stacks a
 * grouping, for the three views at once. */
static int write_tables(FILE *out, const page_t *p)
{
    static const char *groups[] = {"line", "function", "file"};
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(p->ctx->replay);
    msc_rows_t rows[3][MSC_VIEW_COUNT];
    int err = 0, made = 0;
    for (; made < 3 && !err; made++)
        err = msc_aggregate_views(p->ctx->analysis, sym, (1u << MSC_VIEW_COUNT) - 1,
                                  (msc_group_t)made, 0, NULL, rows[made]);
    if (err) made--;
    fputs("\"tables\": {", out);
    for (int v = 0; v < MSC_VIEW_COUNT && !err; v++) {
        fprintf(out, "%s\"%s\": {", v ? ",\n" : "", msc_view_name((msc_view_t)v));
        for (int g = 0; g < 3 && !err; g++) {
            fprintf(out, "%s\"%s\": ", g ? ", " : "", groups[g]);
            err = write_table(out, p, &rows[g][v]);
        }
        fputc('}', out);
    }
    fputs("},\n", out);
    while (made-- > 0)
        for (int v = 0; v < MSC_VIEW_COUNT; v++) msc_rows_release(&rows[made][v]);
    return err;
}

/* The capture rules' advice (memscope/advise.h), as objects {rule, title,
 * bytes_saved, measure, where, evidence, change}, most saved first. */
static int write_advice(FILE *out, const page_t *p)
{
    msc_advice_list_t l = {0};
    int err = msc_advise_capture(p->ctx->path, p->ctx->analysis,
                                 (msc_symbols_t *)msc_replay_symbols(p->ctx->replay), &l);
    fputs("\"advice\": [", out);
    for (size_t i = 0; i < l.len && !err; i++) {
        const msc_advice_t *x = &l.items[i];
        fprintf(out, "%s{\"rule\": \"%s\", \"measure\": \"%s\", \"bytes_saved\": %llu",
                i ? ",\n" : "", x->rule, x->measure, (unsigned long long)x->bytes_saved);
        const char *const keys[] = {"title", "where", "evidence", "change"};
        const char *const values[] = {x->title, x->where ? x->where : "", x->evidence, x->change};
        for (int k = 0; k < 4; k++) {
            fprintf(out, ", \"%s\": ", keys[k]);
            msc__html_json_string(out, values[k], 4096);
        }
        fputc('}', out);
    }
    fputs("],\n", out);
    msc_advice_list_release(&l);
    return err;
}

static int write_data(FILE *out, page_t *p)
{
    p->frames = msc__frames_new(FRAME_BUDGET);
    if (!p->frames) return MSC_ENOMEM;
    fputc('{', out);
    write_summary(out, p);
    int report = !strcmp(p->kind, "report");
    int err = report ? write_timeline(out, p) : 0;
    if (!err) err = write_flames(out, p);
    if (!err && report) err = write_moments(out, p);
    if (!err && report) err = write_tables(out, p);
    if (!err && report) err = write_advice(out, p);
    fputs("\"frames\": ", out);
    msc__frames_write(out, p->frames);
    fputs("}", out);
    msc__frames_free(p->frames);
    return err;
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
    page_t p = {ctx, moments, NULL, "report", MSC_VIEW_PEAK, 0};
    return write_page(out, &p);
}

int msc_report_flamegraph(const msc_report_ctx_t *ctx, FILE *out, msc_view_t view,
                          int inverted)
{
    page_t p = {ctx, NULL, NULL, "flamegraph", view, inverted};
    return write_page(out, &p);
}
