/* `memscope lines` and `@memscope.profile`: the source of one file, each line
 * with exact memory, counting everything the line called (as
 * memory_profiler's table does, but from recorded allocations instead of
 * polling RSS). Columns: the bytes the line held at the heap's peak, what it
 * allocated in all, how many allocations, and what it still held at exit;
 * when the capture has CPU samples (run --cpu), the CPU time the samples
 * found the line running, callees included. */
#include <stdlib.h>
#include <string.h>

#include "memscope/report.h"
#include "report.h"

typedef struct line_values {
    uint64_t peak;
    uint64_t total;
    uint64_t count;
    uint64_t exit;
    uint64_t cpu_ns;
} line_values_t;

/* Per-line values of one view, added into lines[1..nlines]. */
static int collect(const msc_report_ctx_t *ctx, const char *source, msc_view_t view,
                   line_values_t **lines, uint32_t *nlines)
{
    msc_rows_t rows;
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(ctx->replay);
    int err = msc_aggregate(ctx->analysis, sym, view, MSC_BY_SOURCE_LINE, 1, source, &rows);
    if (err) return err;
    for (size_t i = 0; i < rows.n; i++) {
        uint32_t line = rows.rows[i].line;
        if (line >= *nlines) {
            uint32_t n = line + 64;
            line_values_t *grown = msc_realloc(*lines, n * sizeof(line_values_t));
            if (!grown) {
                msc_rows_release(&rows);
                return MSC_ENOMEM;
            }
            memset(grown + *nlines, 0, (n - *nlines) * sizeof(line_values_t));
            *lines = grown;
            *nlines = n;
        }
        line_values_t *v = &(*lines)[line];
        if (view == MSC_VIEW_PEAK) v->peak += rows.rows[i].bytes;
        else if (view == MSC_VIEW_EXIT) v->exit += rows.rows[i].bytes;
        else if (view == MSC_VIEW_CPU) v->cpu_ns += rows.rows[i].bytes;
        else {
            v->total += rows.rows[i].bytes;
            v->count += rows.rows[i].count;
        }
    }
    msc_rows_release(&rows);
    return 0;
}

static void cell(FILE *out, uint64_t bytes)
{
    char buf[32];
    if (bytes) fprintf(out, " %11s", msc_format_bytes(bytes, buf, sizeof(buf)));
    else fprintf(out, " %11s", "");
}

static void print_line(FILE *out, uint32_t no, const line_values_t *v, int timed,
                       const char *text)
{
    char count[32];
    fprintf(out, "%6u", no);
    cell(out, v ? v->peak : 0);
    cell(out, v ? v->total : 0);
    fprintf(out, " %9s", v && v->count ? msc__count(v->count, count, sizeof(count)) : "");
    cell(out, v ? v->exit : 0);
    if (timed)
        fprintf(out, " %9s", v && v->cpu_ns ? msc_format_seconds(v->cpu_ns, count, 32) : "");
    fprintf(out, "   %s", text);
    if (!*text || text[strlen(text) - 1] != '\n') fputc('\n', out);
}

int msc_report_lines(const msc_report_ctx_t *ctx, FILE *out, const char *source,
                     uint32_t first, uint32_t last)
{
    line_values_t *lines = NULL;
    uint32_t nlines = 0;
    int err = 0;
    int timed = msc_analysis_summary(ctx->analysis)->cpu_samples != 0;
    for (int view = 0; view < MSC_VIEW_COUNT && !err; view++)
        err = collect(ctx, source, (msc_view_t)view, &lines, &nlines);
    if (!err && timed) err = collect(ctx, source, MSC_VIEW_CPU, &lines, &nlines);
    if (err) {
        msc_free(lines);
        return err;
    }
    fputs("Filename: ", out);
    msc__text(out, source);
    fputs("\n\n", out);
    fprintf(out, "%6s %11s %11s %9s %11s", "Line #", "Peak", "Allocated", "Allocs", "At exit");
    if (timed) fprintf(out, " %9s", "Time");
    fprintf(out, "   %s\n", "Line Contents");
    fputs("==========================================================================\n", out);

    FILE *src = fopen(source, "r");
    char *text = NULL;
    size_t cap = 0;
    uint32_t no = 0;
    while (src && getline(&text, &cap, src) >= 0) {
        no++;
        if ((first && no < first) || (last && no > last)) continue;
        print_line(out, no, no < nlines ? &lines[no] : NULL, timed, text);
    }
    if (!src) {
        /* Source not on disk: show the lines that allocated. */
        for (uint32_t i = 1; i < nlines; i++)
            if ((lines[i].total || lines[i].cpu_ns) && (!first || i >= first) &&
                (!last || i <= last))
                print_line(out, i, &lines[i], timed, "<source not available>");
    }
    if (src) fclose(src);
    free(text);
    msc_free(lines);
    return ferror(out) ? MSC_EIO : 0;
}
