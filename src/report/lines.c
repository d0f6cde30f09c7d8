/* `memscope lines` and `@memscope.profile`: the source of one file, each line
 * with exact memory, counting everything the line called (as
 * memory_profiler's table does, but from recorded allocations instead of
 * polling RSS). Columns: the bytes the line held at the heap's peak, what it
 * allocated in all, how many allocations, and what it still held at exit;
 * when the capture has CPU samples (run --cpu), the CPU time the samples
 * found the line running, callees included. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memscope/report.h"
#include "report.h"

typedef struct line_values {
    uint64_t peak;
    uint64_t total;
    uint64_t count;
    uint64_t exit;
    uint64_t cpu_ns;
} line_values_t;

/* Per-line values of every memory view, and of CPU time when timed, in
 * lines[1..nlines]. */
static int collect(const msc_report_ctx_t *ctx, const char *source, int timed,
                   line_values_t **lines, uint32_t *nlines, int *found)
{
    msc_rows_t rows[MSC_VIEW_ALL];
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(ctx->replay);
    unsigned views = ((1u << MSC_VIEW_COUNT) - 1) | (timed ? 1u << MSC_VIEW_CPU : 0);
    int err = msc_aggregate_views(ctx->analysis, sym, views, MSC_BY_SOURCE_LINE, 1, source, rows);
    if (err) return err;
    uint32_t top = 0;
    *found = 0;
    for (int view = 0; view < MSC_VIEW_ALL; view++)
        for (size_t i = 0; (views & 1u << view) && i < rows[view].n; i++) {
            *found = 1;
            if (rows[view].rows[i].line > top) top = rows[view].rows[i].line;
        }
    *nlines = top + 1;
    *lines = msc_calloc(*nlines, sizeof(line_values_t));
    if (!*lines) err = MSC_ENOMEM;
    for (int view = 0; view < MSC_VIEW_ALL; view++) {
        if (!(views & 1u << view)) continue;
        for (size_t i = 0; i < rows[view].n && !err; i++) {
            const msc_row_t *r = &rows[view].rows[i];
            line_values_t *v = &(*lines)[r->line];
            if (view == MSC_VIEW_PEAK) v->peak += r->bytes;
            else if (view == MSC_VIEW_EXIT) v->exit += r->bytes;
            else if (view == MSC_VIEW_CPU) v->cpu_ns += r->bytes;
            else v->total += r->bytes, v->count += r->count;
        }
        msc_rows_release(&rows[view]);
    }
    return err;
}

static void cell(FILE *out, uint64_t bytes)
{
    char buf[32];
    if (bytes) fprintf(out, " %11s", msc_format_bytes(bytes, buf, sizeof(buf)));
    else fprintf(out, " %11s", "");
}

static void print_line(FILE *out, uint32_t no, const line_values_t *v, int timed, const char *text)
{
    char count[32];
    fprintf(out, "%6u", no);
    cell(out, v ? v->peak : 0);
    cell(out, v ? v->total : 0);
    fprintf(out, " %9s", v && v->count ? msc__count(v->count, count, sizeof(count)) : "");
    cell(out, v ? v->exit : 0);
    if (timed) fprintf(out, " %9s", v && v->cpu_ns ? msc_format_seconds(v->cpu_ns, count, 32) : "");
    /* The source is the program's data like its names: escaped, tabs kept. */
    size_t len = strlen(text);
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r')) len--;
    fputs("   ", out);
    msc__text_source(out, text, len);
    fputc('\n', out);
}

int msc_report_lines(const msc_report_ctx_t *ctx, FILE *out, const char *source, uint32_t first,
                     uint32_t last, int *found)
{
    line_values_t *lines = NULL;
    uint32_t nlines = 0;
    int timed = msc_analysis_summary(ctx->analysis)->cpu_samples != 0;
    int any;
    int err = collect(ctx, source, timed, &lines, &nlines, &any);
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

    if (found) *found = any;
    const char *why;
    int fd = msc_open_regular(source, &why, NULL);
    FILE *src = fd < 0 ? NULL : fdopen(fd, "r");
    if (fd >= 0 && !src) close(fd);
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
