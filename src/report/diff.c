/* `memscope diff`: the sites whose memory changed between two captures, as
 * a table for people (growth and reductions in sections of their own) or
 * one JSON object for CI (rows biggest growth first, biggest shrink last),
 * with the view's totals before and after and whether the growth passed
 * the --fail-over threshold. */
#include <inttypes.h>
#include <stddef.h>

#include "memscope/diff.h"
#include "memscope/report.h"
#include "report.h"

static const char *group_name(msc_group_t g)
{
    return g == MSC_BY_FUNCTION ? "function" : g == MSC_BY_FILE ? "file" : "line";
}

static const char *status_name(msc_diff_status_t s)
{
    static const char *names[] = {"changed", "moved", "new", "gone"};
    return names[s];
}

/* "+1.5 MiB" / "-512 B" / "0 B". */
static const char *signed_bytes(int64_t v, char *buf, size_t n)
{
    char b[32];
    uint64_t mag = v < 0 ? (uint64_t)-v : (uint64_t)v;
    snprintf(buf, n, "%s%s", v > 0 ? "+" : v < 0 ? "-" : "", msc_format_bytes(mag, b, sizeof(b)));
    return buf;
}

static double percent(int64_t delta, uint64_t base)
{
    return base ? 100.0 * (double)delta / (double)base : 0;
}

static void json_side(msc_json_t *j, const char *key, const char *path, uint64_t total)
{
    msc_json_object_begin(j, key);
    msc_json_str(j, "path", path);
    msc_json_u64(j, "total_bytes", total);
    msc_json_end(j);
}

static void json_row(msc_json_t *j, const msc_diff_row_t *r)
{
    msc_row_t loc = {r->file, r->function, r->line, 0, 0};
    msc_json_newline(j, 0);
    msc_json_object_begin(j, NULL);
    msc__json_location(j, &loc);
    if (r->line_before) msc_json_u64(j, "line_before", r->line_before);
    else msc_json_null(j, "line_before");
    msc_json_str(j, "status", status_name(r->status));
    msc_json_u64(j, "before_bytes", r->before_bytes);
    msc_json_u64(j, "after_bytes", r->after_bytes);
    msc_json_i64(j, "delta_bytes", r->delta_bytes);
    msc_json_u64(j, "before_allocations", r->before_count);
    msc_json_u64(j, "after_allocations", r->after_count);
    msc_json_end(j);
}

static void diff_json(FILE *out, const msc_diff_t *d, const msc_diff_report_t *opt)
{
    int64_t delta = (int64_t)d->after_total - (int64_t)d->before_total;
    msc_json_t j;
    msc_json_init(&j, out, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_str(&j, "view", msc_view_name(opt->view));
    msc_json_str(&j, "by", group_name(opt->group));
    json_side(&j, "before", opt->before_path, d->before_total);
    json_side(&j, "after", opt->after_path, d->after_total);
    msc_json_i64(&j, "delta_bytes", delta);
    if (d->before_total) msc_json_f64(&j, "delta_percent", percent(delta, d->before_total), 3);
    else msc_json_null(&j, "delta_percent");
    msc_json_str(&j, "fail_over", opt->fail_over);
    msc_json_bool(&j, "exceeded", opt->exceeded);
    msc_json_array_begin(&j, "rows");
    for (size_t i = 0; i < d->n; i++) json_row(&j, &d->rows[i]);
    msc_json_end(&j);
    msc_json_end(&j);
    (void)msc_json_finish(&j); /* the caller checks the stream */
}

static void diff_row(FILE *out, const msc_diff_row_t *r, const msc_diff_report_t *opt)
{
    char a[32], b[32], c[32];
    const char *hue = !opt->color ? "" : r->delta_bytes > 0 ? "\033[31m" : "\033[32m";
    const char *reset = opt->color ? "\033[0m" : "";
    msc_row_t loc = {r->file, r->function, r->line, 0, 0};
    fprintf(out, "%12s %12s %s%12s%s  ", msc_format_bytes(r->before_bytes, a, 32),
            msc_format_bytes(r->after_bytes, b, 32), hue, signed_bytes(r->delta_bytes, c, 32),
            reset);
    msc__location(out, &loc);
    if (r->status == MSC_DIFF_MOVED) fprintf(out, " (was line %u)", r->line_before);
    else if (r->status != MSC_DIFF_SAME_SITE) fprintf(out, " (%s)", status_name(r->status));
    fputc('\n', out);
}

/* One section: the rows from first, step +1 (growth, biggest first) or -1
 * (reductions, read from the end so the biggest comes first), n of them. */
static void diff_section(FILE *out, const char *title, const msc_diff_row_t *first, int step,
                         size_t n, const msc_diff_report_t *opt)
{
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += first[(ptrdiff_t)i * step].delta_bytes;
    char c[32];
    fprintf(out, "\n%s: %s in %zu site%s\n", title, signed_bytes(sum, c, 32), n, n == 1 ? "" : "s");
    fprintf(out, "%12s %12s %12s  %s\n", "Before", "After", "Change", "Location");
    size_t shown = opt->limit && opt->limit < n ? opt->limit : n;
    for (size_t i = 0; i < shown; i++) diff_row(out, &first[(ptrdiff_t)i * step], opt);
    if (shown < n) fprintf(out, "... %zu more (use --limit)\n", n - shown);
}

/* Growth and reductions in sections of their own, each biggest first and
 * each limited on its own, so an optimisation's savings never hide under
 * the growth; the header line says the net. */
static void diff_text(FILE *out, const msc_diff_t *d, const msc_diff_report_t *opt)
{
    static const char *titles[] = {"Live at peak", "Leaked at exit", "Total allocated"};
    char a[32], b[32], c[32];
    int64_t delta = (int64_t)d->after_total - (int64_t)d->before_total;
    const char *bold = opt->color ? "\033[1m" : "", *reset = opt->color ? "\033[0m" : "";
    fprintf(out, "%s%s, by %s%s: %s -> %s (net %s", bold, titles[opt->view], group_name(opt->group),
            reset, msc_format_bytes(d->before_total, a, 32),
            msc_format_bytes(d->after_total, b, 32), signed_bytes(delta, c, 32));
    if (d->before_total) fprintf(out, ", %+.1f%%", percent(delta, d->before_total));
    fputs(")\n  before: ", out);
    msc__text(out, opt->before_path);
    fputs("\n  after:  ", out);
    msc__text(out, opt->after_path);
    fputc('\n', out);
    size_t grew = 0, shrank = 0;
    while (grew < d->n && d->rows[grew].delta_bytes > 0) grew++;
    while (shrank < d->n - grew && d->rows[d->n - 1 - shrank].delta_bytes < 0) shrank++;
    if (!grew && !shrank) {
        fputs("\nNo site changed its bytes.\n", out);
        return;
    }
    if (grew) diff_section(out, "Grew", d->rows, 1, grew, opt);
    if (shrank) diff_section(out, "Shrank", d->rows + d->n - 1, -1, shrank, opt);
    if (d->n > grew + shrank)
        fprintf(out, "\n%zu more site%s changed only how many allocations they made.\n",
                d->n - grew - shrank, d->n - grew - shrank == 1 ? "" : "s");
}

int msc_report_diff(FILE *out, const msc_diff_t *d, const msc_diff_report_t *opt, int json)
{
    if (json) diff_json(out, d, opt);
    else diff_text(out, d, opt);
    return ferror(out) ? MSC_EIO : 0;
}
