/* `memscope table`: allocation sites ranked by bytes for one view (peak,
 * exit, total), grouped by line, function or file of the allocating frame;
 * or, for the time views (--metric cpu|wall), the places the CPU samples
 * found running, ranked by seconds. */
#include "memscope/report.h"
#include "report.h"

static const char *group_name(msc_group_t g)
{
    return g == MSC_BY_FUNCTION ? "function" : g == MSC_BY_FILE ? "file" : "line";
}

static const char *view_title(msc_view_t v)
{
    switch (v) {
    case MSC_VIEW_PEAK: return "Live at peak";
    case MSC_VIEW_EXIT: return "Leaked at exit";
    case MSC_VIEW_CPU: return "CPU time";
    case MSC_VIEW_WALL: return "Wall time";
    default: return "Total allocated";
    }
}

static void table_json(FILE *out, const msc_table_options_t *opt, const msc_rows_t *rows, size_t n)
{
    msc_json_t j;
    msc_json_init(&j, out, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_str(&j, "view", msc_view_name(opt->view));
    msc_json_str(&j, "by", group_name(opt->group));
    msc_json_u64(&j, "total_bytes", rows->total_bytes);
    msc_json_u64(&j, "total_rows", rows->n);
    msc_json_array_begin(&j, "rows");
    for (size_t i = 0; i < n; i++) {
        msc_json_object_begin(&j, NULL);
        msc__json_location(&j, &rows->rows[i]);
        msc_json_u64(&j, "bytes", rows->rows[i].bytes);
        msc_json_u64(&j, "allocations", rows->rows[i].count);
        msc_json_end(&j);
    }
    msc_json_end(&j);
    msc_json_end(&j);
    (void)msc_json_finish(&j); /* the caller checks the stream */
}

/* The native CPU time of a CPU view's row: the row of the native view with
 * the same location (the symbols intern every string, so pointers compare). */
static uint64_t native_of(const msc_rows_t *native, const msc_row_t *r)
{
    for (size_t i = 0; native && i < native->n; i++) {
        const msc_row_t *x = &native->rows[i];
        if (x->file == r->file && x->function == r->function && x->line == r->line) return x->bytes;
    }
    return 0;
}

/* Time views: a row's bytes hold nanoseconds and its count samples. */
static void time_json(FILE *out, const msc_table_options_t *opt, const msc_rows_t *rows, size_t n,
                      const msc_rows_t *native)
{
    const char *key = opt->view == MSC_VIEW_CPU ? "cpu_seconds" : "wall_seconds";
    const char *total = opt->view == MSC_VIEW_CPU ? "total_cpu_seconds" : "total_wall_seconds";
    msc_json_t j;
    msc_json_init(&j, out, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_str(&j, "metric", msc_view_name(opt->view));
    msc_json_str(&j, "by", group_name(opt->group));
    msc_json_f64(&j, total, (double)rows->total_bytes / 1e9, 6);
    msc_json_u64(&j, "total_rows", rows->n);
    msc_json_array_begin(&j, "rows");
    for (size_t i = 0; i < n; i++) {
        msc_json_object_begin(&j, NULL);
        msc__json_location(&j, &rows->rows[i]);
        msc_json_f64(&j, key, (double)rows->rows[i].bytes / 1e9, 6);
        msc_json_u64(&j, "samples", rows->rows[i].count);
        if (native)
            msc_json_f64(&j, "native_cpu_seconds", (double)native_of(native, &rows->rows[i]) / 1e9,
                         6);
        msc_json_end(&j);
    }
    msc_json_end(&j);
    msc_json_end(&j);
    (void)msc_json_finish(&j); /* the caller checks the stream */
}

static void time_text(const msc_report_ctx_t *ctx, FILE *out, const msc_table_options_t *opt,
                      const msc_rows_t *rows, size_t n, const msc_rows_t *native)
{
    char a[32], b[32];
    const char *bold = ctx->color ? "\033[1m" : "", *reset = ctx->color ? "\033[0m" : "";
    const msc_summary_t *sum = msc_analysis_summary(ctx->analysis);
    fprintf(out, "%s%s, by %s%s: %s in %zu %s%s", bold, view_title(opt->view),
            group_name(opt->group), reset, msc_format_seconds(rows->total_bytes, a, 32), rows->n,
            group_name(opt->group), rows->n == 1 ? "" : "s");
    if (opt->view == MSC_VIEW_CPU && sum->cpu_ns)
        fprintf(out, " (%.1f%% in native code)",
                100.0 * (double)sum->native_cpu_ns / (double)sum->cpu_ns);
    fprintf(out, "\n\n%12s %7s %12s %7s  %s\n", "Time", "%", "Samples", native ? "Native" : "",
            "Location");
    for (size_t i = 0; i < n; i++) {
        const msc_row_t *r = &rows->rows[i];
        double pct = rows->total_bytes ? 100.0 * (double)r->bytes / (double)rows->total_bytes : 0;
        fprintf(out, "%12s %6.1f%% %12s ", msc_format_seconds(r->bytes, a, 32), pct,
                msc__count(r->count, b, 32));
        if (native && r->bytes)
            fprintf(out, "%6.1f%%  ", 100.0 * (double)native_of(native, r) / (double)r->bytes);
        else fprintf(out, "%7s  ", "");
        msc__location(out, r);
        fputc('\n', out);
    }
    if (n < rows->n) fprintf(out, "... %zu more (use --limit)\n", rows->n - n);
}

static void table_text(const msc_report_ctx_t *ctx, FILE *out, const msc_table_options_t *opt,
                       const msc_rows_t *rows, size_t n)
{
    char a[32], b[32];
    const char *bold = ctx->color ? "\033[1m" : "", *reset = ctx->color ? "\033[0m" : "";
    fprintf(out, "%s%s, by %s%s: %s in %zu %s%s\n\n", bold, view_title(opt->view),
            group_name(opt->group), reset, msc_format_bytes(rows->total_bytes, a, 32), rows->n,
            group_name(opt->group), rows->n == 1 ? "" : "s");
    fprintf(out, "%12s %7s %12s  %s\n", "Bytes", "%", "Allocations", "Location");
    for (size_t i = 0; i < n; i++) {
        const msc_row_t *r = &rows->rows[i];
        double pct = rows->total_bytes ? 100.0 * (double)r->bytes / (double)rows->total_bytes : 0;
        fprintf(out, "%12s %6.1f%% %12s  ", msc_format_bytes(r->bytes, a, 32), pct,
                msc__count(r->count, b, 32));
        msc__location(out, r);
        fputc('\n', out);
    }
    if (n < rows->n) fprintf(out, "... %zu more (use --limit)\n", rows->n - n);
}

int msc_report_table(const msc_report_ctx_t *ctx, FILE *out, int json,
                     const msc_table_options_t *opt)
{
    msc_rows_t rows;
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(ctx->replay);
    int err = msc_aggregate(ctx->analysis, sym, opt->view, opt->group, 0, NULL, &rows);
    if (err) return err;
    size_t n = opt->limit && opt->limit < rows.n ? opt->limit : rows.n;
    int time = opt->view == MSC_VIEW_CPU || opt->view == MSC_VIEW_WALL;
    msc_rows_t native = {NULL, 0, 0};
    if (opt->view == MSC_VIEW_CPU && (err = msc_aggregate(ctx->analysis, sym, MSC_VIEW_NATIVE_CPU,
                                                          opt->group, 0, NULL, &native))) {
        msc_rows_release(&rows);
        return err;
    }
    const msc_rows_t *nat = opt->view == MSC_VIEW_CPU ? &native : NULL;
    if (json && time) time_json(out, opt, &rows, n, nat);
    else if (json) table_json(out, opt, &rows, n);
    else if (time) time_text(ctx, out, opt, &rows, n, nat);
    else table_text(ctx, out, opt, &rows, n);
    msc_rows_release(&native);
    msc_rows_release(&rows);
    return ferror(out) ? MSC_EIO : 0;
}
