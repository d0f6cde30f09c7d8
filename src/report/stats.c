/* `memscope stats`: the one-screen summary of a capture (peak, totals,
 * leaks, GC, size histogram, top sites at the peak), as text or JSON. */
#include <string.h>

#include "memscope/report.h"
#include "report.h"

static double seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

static void json_header(const msc_report_ctx_t *ctx, FILE *out)
{
    const msc_header_t *h = msc_replay_header(ctx->replay);
    fputs("\"python_version\": ", out);
    msc_json_string(out, h->python_version);
    fprintf(out, ", \"pid\": %llu, \"argv\": [", (unsigned long long)h->pid);
    for (int i = 0; i < h->argc; i++) {
        if (i) fputs(", ", out);
        msc_json_string(out, h->argv[i]);
    }
    fprintf(out, "], \"argv_omitted\": %llu, \"complete\": %s, \"native\": %s, ",
            (unsigned long long)h->argv_omitted, msc_replay_complete(ctx->replay) ? "true" : "false",
            h->native ? "true" : "false");
}

static void json_histogram(const msc_summary_t *s, FILE *out)
{
    fputs("\"histogram\": [", out);
    int first = 1;
    for (int b = 0; b < MSC_HISTOGRAM_BUCKETS; b++) {
        if (!s->histogram_count[b]) continue;
        uint64_t lo = b ? 1ull << (b - 1) : 0, hi = b ? (1ull << b) - 1 : 0;
        fprintf(out, "%s{\"min_bytes\": %llu, \"max_bytes\": %llu, \"allocations\": %llu, "
                     "\"bytes\": %llu}",
                first ? "" : ", ", (unsigned long long)lo, (unsigned long long)hi,
                (unsigned long long)s->histogram_count[b], (unsigned long long)s->histogram_bytes[b]);
        first = 0;
    }
    fputs("], \"gc\": [", out);
    for (int g = 0; g < 3; g++)
        fprintf(out, "%s{\"generation\": %d, \"runs\": %llu, \"pause_s\": %.6f, "
                     "\"collected\": %llu, \"uncollectable\": %llu}",
                g ? ", " : "", g, (unsigned long long)s->gc[g].runs, seconds(s->gc[g].pause_ns),
                (unsigned long long)s->gc[g].collected, (unsigned long long)s->gc[g].uncollectable);
    fputs("]", out);
}

/* Whether anything was allocated outside CPython's own allocators. */
static int has_other_domains(const msc_summary_t *s)
{
    for (uint32_t i = 0; i < s->ndomains; i++)
        if (s->domains[i].domain >= MSC_DOMAIN_COUNT) return 1;
    return 0;
}

static void json_domains(const msc_summary_t *s, FILE *out)
{
    char name[64];
    fputs(", \"domains\": [", out);
    for (uint32_t i = 0; i < s->ndomains; i++) {
        const msc_domain_stats_t *d = &s->domains[i];
        fprintf(out, "%s{\"domain\": ", i ? ", " : "");
        msc_json_string(out, msc_domain_name(d->domain, name, sizeof(name)));
        if (d->domain >= MSC_DOMAIN_FOREIGN && d->domain != MSC_DOMAIN_OTHER)
            fprintf(out, ", \"tracemalloc_domain\": %llu",
                    (unsigned long long)(d->domain - MSC_DOMAIN_FOREIGN));
        fprintf(out, ", \"peak_bytes\": %llu, \"leaked_bytes\": %llu, \"total_allocated_bytes\": %llu, "
                     "\"allocations\": %llu}",
                (unsigned long long)d->peak_bytes, (unsigned long long)d->leaked_bytes,
                (unsigned long long)d->total_bytes, (unsigned long long)d->allocations);
    }
    fputs("]", out);
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

void msc__json_rss_explained(FILE *out, const msc_summary_t *s)
{
    const msc_rss_split_t *r = &s->rss_split;
    if (!r->rss_bytes) {
        fputs("\"rss_explained\": null", out);
        return;
    }
    fprintf(out,
            "\"rss_explained\": {\"time_s\": %.6f, \"rss_bytes\": %llu, "
            "\"python_objects_bytes\": %llu, \"native_heap_bytes\": %llu, "
            "\"anonymous_mappings_bytes\": %llu, \"file_backed_bytes\": %llu, "
            "\"unexplained_bytes\": %llu}",
            seconds(r->time_ns), (unsigned long long)r->rss_bytes,
            (unsigned long long)r->python_bytes, (unsigned long long)r->native_bytes,
            (unsigned long long)r->mapped_bytes, (unsigned long long)r->file_bytes,
            (unsigned long long)r->unexplained_bytes);
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

static int stats_json(const msc_report_ctx_t *ctx, FILE *out, const msc_rows_t *top, size_t n)
{
    const msc_summary_t *s = msc_analysis_summary(ctx->analysis);
    fputs("{", out);
    json_header(ctx, out);
    fprintf(out,
            "\"peak_bytes\": %llu, \"peak_time_s\": %.6f, \"peak_allocations\": %llu, "
            "\"peak_rss_bytes\": %llu, \"total_allocated_bytes\": %llu, \"allocations\": %llu, "
            "\"frees\": %llu, \"leaked_bytes\": %llu, \"leaked_allocations\": %llu, "
            "\"duration_s\": %.6f, \"threads\": %u, \"lost_events\": %llu, "
            "\"sample_bytes\": %llu, \"cpu_samples\": %llu, \"cpu_seconds\": %.6f, "
            "\"native_cpu_seconds\": %.6f, \"wall_seconds\": %.6f, ",
            (unsigned long long)s->peak_bytes, seconds(s->peak_time_ns),
            (unsigned long long)s->peak_allocations, (unsigned long long)s->peak_rss_bytes,
            (unsigned long long)s->total_allocated_bytes, (unsigned long long)s->allocations,
            (unsigned long long)s->frees, (unsigned long long)s->leaked_bytes,
            (unsigned long long)s->leaked_allocations,
            seconds(msc_replay_duration_ns(ctx->replay)), s->threads,
            (unsigned long long)s->lost_events, (unsigned long long)s->sample_bytes,
            (unsigned long long)s->cpu_samples, seconds(s->cpu_ns), seconds(s->native_cpu_ns),
            seconds(s->wall_ns));
    json_histogram(s, out);
    json_domains(s, out);
    fputs(", ", out);
    msc__json_rss_explained(out, s);
    fputs(", ", out);
    msc__json_children(out, ctx);
    fputs(", \"top\": [", out);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", {" : "{", out);
        msc__json_location(out, &top->rows[i]);
        fprintf(out, ", \"bytes\": %llu, \"allocations\": %llu}",
                (unsigned long long)top->rows[i].bytes, (unsigned long long)top->rows[i].count);
    }
    fputs("]}\n", out);
    return ferror(out) ? MSC_EIO : 0;
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
    fprintf(out, "Peak heap:        %s at %.3f s (%s blocks live)\n", msc_format_bytes(s->peak_bytes, a, 32),
            seconds(s->peak_time_ns), msc__count(s->peak_allocations, b, 32));
    if (s->peak_rss_bytes) fprintf(out, "Peak RSS:         %s\n", msc_format_bytes(s->peak_rss_bytes, a, 32));
    if (s->sample_bytes)
        fprintf(out, "Sampled:          one allocation per %s on average; heap figures are "
                     "estimates\n",
                msc_format_bytes(s->sample_bytes, a, 32));
    fprintf(out, "Total allocated:  %s in %s allocations, %s frees\n",
            msc_format_bytes(s->total_allocated_bytes, a, 32), msc__count(s->allocations, b, 32),
            msc__count(s->frees, c, 32));
    fprintf(out, "Leaked at exit:   %s in %s blocks\n", msc_format_bytes(s->leaked_bytes, a, 32),
            msc__count(s->leaked_allocations, b, 32));
    if (s->lost_events) fprintf(out, "Lost events:      %llu\n", (unsigned long long)s->lost_events);
    if (s->cpu_samples)
        fprintf(out, "CPU time:         %.3f s in %s samples (%.1f%% native), wall %.3f s\n",
                seconds(s->cpu_ns), msc__count(s->cpu_samples, a, 32),
                s->cpu_ns ? 100.0 * (double)s->native_cpu_ns / (double)s->cpu_ns : 0.0,
                seconds(s->wall_ns));
    for (int g = 0; g < 3; g++) {
        if (!s->gc[g].runs) continue;
        fprintf(out, "GC generation %d:  %llu runs, %.2f ms total pause (max %.2f ms), "
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
