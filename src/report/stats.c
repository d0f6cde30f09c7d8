/* `memscope stats`: the one-screen summary of a capture (peak, totals,
 * leaks, GC, size histogram, top sites at the peak), as text or JSON. */
#include <string.h>

#include "memscope/json.h"
#include "memscope/report.h"
#include "report.h"

static double seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

static void json_header(const msc_report_ctx_t *ctx, msc_json_t *j)
{
    const msc_header_t *h = msc_replay_header(ctx->replay);
    msc_json_str(j, "python_version", h->python_version);
    msc_json_u64(j, "pid", h->pid);
    msc_json_array_begin(j, "argv");
    for (int i = 0; i < h->argc; i++) msc_json_str(j, NULL, h->argv[i]);
    msc_json_end(j);
    msc_json_u64(j, "argv_omitted", h->argv_omitted);
    msc_json_bool(j, "complete", msc_replay_complete(ctx->replay));
    msc_json_bool(j, "native", h->native);
}

static void json_histogram(const msc_summary_t *s, msc_json_t *j)
{
    msc_json_array_begin(j, "histogram");
    for (int b = 0; b < MSC_HISTOGRAM_BUCKETS; b++) {
        if (!s->histogram_count[b]) continue;
        msc_json_object_begin(j, NULL);
        msc_json_u64(j, "min_bytes", b ? 1ull << (b - 1) : 0);
        msc_json_u64(j, "max_bytes", b ? (1ull << b) - 1 : 0);
        msc_json_u64(j, "allocations", s->histogram_count[b]);
        msc_json_u64(j, "bytes", s->histogram_bytes[b]);
        msc_json_end(j);
    }
    msc_json_end(j);
    msc_json_array_begin(j, "gc");
    for (int g = 0; g < 3; g++) {
        msc_json_object_begin(j, NULL);
        msc_json_i64(j, "generation", g);
        msc_json_u64(j, "runs", s->gc[g].runs);
        msc_json_f64(j, "pause_s", seconds(s->gc[g].pause_ns), 6);
        msc_json_u64(j, "collected", s->gc[g].collected);
        msc_json_u64(j, "uncollectable", s->gc[g].uncollectable);
        msc_json_end(j);
    }
    msc_json_end(j);
}

/* Whether anything was allocated outside CPython's own allocators. */
static int has_other_domains(const msc_summary_t *s)
{
    for (uint32_t i = 0; i < s->ndomains; i++)
        if (s->domains[i].domain >= MSC_DOMAIN_COUNT) return 1;
    return 0;
}

static void json_domains(const msc_summary_t *s, msc_json_t *j)
{
    char name[64];
    msc_json_array_begin(j, "domains");
    for (uint32_t i = 0; i < s->ndomains; i++) {
        const msc_domain_stats_t *d = &s->domains[i];
        msc_json_object_begin(j, NULL);
        msc_json_str(j, "domain", msc_domain_name(d->domain, name, sizeof(name)));
        if (d->domain >= MSC_DOMAIN_FOREIGN && d->domain != MSC_DOMAIN_OTHER)
            msc_json_u64(j, "tracemalloc_domain", d->domain - MSC_DOMAIN_FOREIGN);
        msc_json_u64(j, "peak_bytes", d->peak_bytes);
        msc_json_u64(j, "leaked_bytes", d->leaked_bytes);
        msc_json_u64(j, "total_allocated_bytes", d->total_bytes);
        msc_json_u64(j, "allocations", d->allocations);
        msc_json_end(j);
    }
    msc_json_end(j);
}

static void text_domains(const msc_summary_t *s, FILE *out)
{
    char name[64], a[32], b[32], c[32];
    if (!has_other_domains(s)) return;
    fputs("\nBy allocator domain:     at peak       at exit     allocated\n", out);
    for (uint32_t i = 0; i < s->ndomains; i++) {
        const msc_domain_stats_t *d = &s->domains[i];
        fprintf(out, "  %-18s %12s  %12s  %12s\n", msc_domain_name(d->domain, name, sizeof(name)),
                msc_format_bytes(d->peak_bytes, a, 32), msc_format_bytes(d->leaked_bytes, b, 32),
                msc_format_bytes(d->total_bytes, c, 32));
    }
}

void msc__json_rss_explained(msc_json_t *j, const msc_summary_t *s)
{
    const msc_rss_split_t *r = &s->rss_split;
    if (!r->rss_bytes) {
        msc_json_null(j, "rss_explained");
        return;
    }
    msc_json_object_begin(j, "rss_explained");
    msc_json_f64(j, "time_s", seconds(r->time_ns), 6);
    msc_json_u64(j, "rss_bytes", r->rss_bytes);
    msc_json_u64(j, "python_objects_bytes", r->python_bytes);
    msc_json_u64(j, "native_heap_bytes", r->native_bytes);
    msc_json_u64(j, "anonymous_mappings_bytes", r->mapped_bytes);
    msc_json_u64(j, "file_backed_bytes", r->file_bytes);
    msc_json_u64(j, "unexplained_bytes", r->unexplained_bytes);
    msc_json_end(j);
}

static void text_rss(const msc_summary_t *s, FILE *out)
{
    const msc_rss_split_t *r = &s->rss_split;
    if (!r->rss_bytes) return;
    const char *names[] = {"live Python objects", "native heap", "anonymous mappings",
                           "file-backed", "unexplained"};
    const uint64_t parts[] = {r->python_bytes, r->native_bytes, r->mapped_bytes, r->file_bytes,
                              r->unexplained_bytes};
    char a[32];
    fprintf(out, "\nResident memory at %.3f s: %s\n", seconds(r->time_ns),
            msc_format_bytes(r->rss_bytes, a, 32));
    for (int i = 0; i < 5; i++)
        fprintf(out, "  %-20s %12s %5.1f%%\n", names[i], msc_format_bytes(parts[i], a, 32),
                100.0 * (double)parts[i] / (double)r->rss_bytes);
}

static void json_totals(const msc_report_ctx_t *ctx, const msc_summary_t *s, msc_json_t *j)
{
    msc_json_u64(j, "peak_bytes", s->peak_bytes);
    msc_json_f64(j, "peak_time_s", seconds(s->peak_time_ns), 6);
    msc_json_u64(j, "peak_allocations", s->peak_allocations);
    msc_json_u64(j, "peak_rss_bytes", s->peak_rss_bytes);
    msc_json_u64(j, "total_allocated_bytes", s->total_allocated_bytes);
    msc_json_u64(j, "allocations", s->allocations);
    msc_json_u64(j, "frees", s->frees);
    msc_json_u64(j, "leaked_bytes", s->leaked_bytes);
    msc_json_u64(j, "leaked_allocations", s->leaked_allocations);
    msc_json_f64(j, "duration_s", seconds(msc_replay_duration_ns(ctx->replay)), 6);
    msc_json_u64(j, "threads", s->threads);
    msc_json_u64(j, "lost_events", s->lost_events);
    msc_json_u64(j, "sample_bytes", s->sample_bytes);
    msc_json_u64(j, "cpu_samples", s->cpu_samples);
    msc_json_f64(j, "cpu_seconds", seconds(s->cpu_ns), 6);
    msc_json_f64(j, "native_cpu_seconds", seconds(s->native_cpu_ns), 6);
    msc_json_f64(j, "wall_seconds", seconds(s->wall_ns), 6);
}

static int stats_json(const msc_report_ctx_t *ctx, FILE *out, const msc_rows_t *top, size_t n)
{
    const msc_summary_t *s = msc_analysis_summary(ctx->analysis);
    msc_json_t j;
    msc_json_init(&j, out, 0);
    msc_json_object_begin(&j, NULL);
    json_header(ctx, &j);
    json_totals(ctx, s, &j);
    json_histogram(s, &j);
    json_domains(s, &j);
    msc__json_rss_explained(&j, s);
    msc__json_children(&j, ctx);
    msc_json_array_begin(&j, "top");
    for (size_t i = 0; i < n; i++) {
        msc_json_object_begin(&j, NULL);
        msc__json_location(&j, &top->rows[i]);
        msc_json_u64(&j, "bytes", top->rows[i].bytes);
        msc_json_u64(&j, "allocations", top->rows[i].count);
        msc_json_end(&j);
    }
    msc_json_end(&j);
    msc_json_end(&j);
    return msc_json_finish(&j);
}

static void text_histogram(const msc_summary_t *s, FILE *out)
{
    uint64_t most = 0;
    for (int b = 0; b < MSC_HISTOGRAM_BUCKETS; b++)
        if (s->histogram_count[b] > most) most = s->histogram_count[b];
    if (!most) return;
    fputs("\nAllocation sizes:\n", out);
    for (int b = 0; b < MSC_HISTOGRAM_BUCKETS; b++) {
        if (!s->histogram_count[b]) continue;
        char hi[32], cnt[32], bytes[32];
        msc_format_bytes(b ? (1ull << b) - 1 : 0, hi, sizeof(hi));
        int bar = (int)(40.0 * (double)s->histogram_count[b] / (double)most + 0.5);
        fprintf(out, "  <= %-10s %13s  %10s  ", hi, msc__count(s->histogram_count[b], cnt, 32),
                msc_format_bytes(s->histogram_bytes[b], bytes, 32));
        for (int i = 0; i < bar; i++) fputs("\u2587", out);
        fputc('\n', out);
    }
}

static int stats_text(const msc_report_ctx_t *ctx, FILE *out, const msc_rows_t *top, size_t n)
{
    const msc_summary_t *s = msc_analysis_summary(ctx->analysis);
    const msc_header_t *h = msc_replay_header(ctx->replay);
    char a[32], b[32], c[32];
    fputs("Capture:          ", out);
    msc__text(out, ctx->path);
    fprintf(out, " (Python %s, pid %llu%s)\n", h->python_version, (unsigned long long)h->pid,
            h->native ? ", native" : "");
    fputs("Command:          ", out);
    for (int i = 0; i < h->argc; i++) {
        if (i) fputc(' ', out);
        msc__text(out, h->argv[i]);
    }
    if (h->argv_omitted)
        fprintf(out, " ... (%llu more argument%s not recorded)",
                (unsigned long long)h->argv_omitted, h->argv_omitted == 1 ? "" : "s");
    fprintf(out, "\nDuration:         %.3f s%s, %u thread%s\n",
            seconds(msc_replay_duration_ns(ctx->replay)),
            msc_replay_complete(ctx->replay) ? "" : " (capture incomplete)", s->threads,
            s->threads == 1 ? "" : "s");
    fprintf(out, "Peak heap:        %s at %.3f s (%s blocks live)\n",
            msc_format_bytes(s->peak_bytes, a, 32), seconds(s->peak_time_ns),
            msc__count(s->peak_allocations, b, 32));
    if (s->peak_rss_bytes)
        fprintf(out, "Peak RSS:         %s\n", msc_format_bytes(s->peak_rss_bytes, a, 32));
    if (s->sample_bytes)
        fprintf(out,
                "Sampled:          one allocation per %s on average; heap figures are "
                "estimates\n",
                msc_format_bytes(s->sample_bytes, a, 32));
    fprintf(out, "Total allocated:  %s in %s allocations, %s frees\n",
            msc_format_bytes(s->total_allocated_bytes, a, 32), msc__count(s->allocations, b, 32),
            msc__count(s->frees, c, 32));
    fprintf(out, "Leaked at exit:   %s in %s blocks\n", msc_format_bytes(s->leaked_bytes, a, 32),
            msc__count(s->leaked_allocations, b, 32));
    if (s->lost_events)
        fprintf(out, "Lost events:      %llu\n", (unsigned long long)s->lost_events);
    if (s->cpu_samples)
        fprintf(out, "CPU time:         %.3f s in %s samples (%.1f%% native), wall %.3f s\n",
                seconds(s->cpu_ns), msc__count(s->cpu_samples, a, 32),
                s->cpu_ns ? 100.0 * (double)s->native_cpu_ns / (double)s->cpu_ns : 0.0,
                seconds(s->wall_ns));
    for (int g = 0; g < 3; g++) {
        if (!s->gc[g].runs) continue;
        fprintf(out,
                "GC generation %d:  %llu runs, %.2f ms total pause (max %.2f ms), "
                "%llu collected, %llu uncollectable\n",
                g, (unsigned long long)s->gc[g].runs, (double)s->gc[g].pause_ns / 1e6,
                (double)s->gc[g].max_pause_ns / 1e6, (unsigned long long)s->gc[g].collected,
                (unsigned long long)s->gc[g].uncollectable);
    }
    text_domains(s, out);
    text_rss(s, out);
    msc__text_children(out, ctx);
    text_histogram(s, out);
    if (n) fputs("\nTop allocation sites at peak:\n", out);
    for (size_t i = 0; i < n; i++) {
        const msc_row_t *r = &top->rows[i];
        double pct = top->total_bytes ? 100.0 * (double)r->bytes / (double)top->total_bytes : 0;
        fprintf(out, "  %10s %5.1f%%  ", msc_format_bytes(r->bytes, a, 32), pct);
        msc__location(out, r);
        fputc('\n', out);
    }
    return ferror(out) ? MSC_EIO : 0;
}

int msc_report_stats(const msc_report_ctx_t *ctx, FILE *out, int json, size_t top)
{
    msc_rows_t rows;
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(ctx->replay);
    int err = msc_aggregate(ctx->analysis, sym, MSC_VIEW_PEAK, MSC_BY_LINE, 0, NULL, &rows);
    if (err) return err;
    size_t n = 0;
    while (n < rows.n && n < top && rows.rows[n].bytes) n++;
    err = json ? stats_json(ctx, out, &rows, n) : stats_text(ctx, out, &rows, n);
    msc_rows_release(&rows);
    return err;
}
