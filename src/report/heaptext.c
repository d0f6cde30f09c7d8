/* Text reports of heap snapshots: guppy/heapy's partition table, which
 * users of hpy().heap() already know how to read, with counts and sizes
 * exact for the whole heap, untracked objects included; and what changed
 * between two partitions. Both also as JSON. */
#include <stdio.h>

#include "memscope/heapreport.h"
#include "report.h"

static const char *by_name(int by)
{
    switch (by) {
    case MSC_HEAP_BY_TYPE: return "type";
    case MSC_HEAP_BY_MODULE: return "module";
    case MSC_HEAP_BY_SIZE: return "size";
    default: return "kind";
    }
}

static const char *heading(int by)
{
    switch (by) {
    case MSC_HEAP_BY_TYPE: return "Type";
    case MSC_HEAP_BY_MODULE: return "Module";
    case MSC_HEAP_BY_SIZE: return "Size class (bytes)";
    default: return "Kind (class / dict of class)";
    }
}

static int percent(uint64_t part, uint64_t whole)
{
    return whole ? (int)(part * 100 / whole) : 0;
}

int msc_heap_write_partition(FILE *out, const msc_heap_partition_t *p, size_t limit)
{
    size_t shown = limit && limit < p->len ? limit : p->len;
    uint64_t cumulative = 0;
    fprintf(out, "Partition of a set of %llu objects. Total size = %llu bytes.\n",
            (unsigned long long)p->total_count, (unsigned long long)p->total_bytes);
    fprintf(out, " Index    Count   %%       Size   %% Cumulative   %% %s\n", heading(p->by));
    for (size_t i = 0; i < shown; i++) {
        const msc_heap_row_t *r = &p->rows[i];
        char name[MSC_TEXT_BUF];
        cumulative += r->bytes;
        fprintf(out, "%6zu %8llu %3d %10llu %3d %10llu %3d %s\n", i,
                (unsigned long long)r->count, percent(r->count, p->total_count),
                (unsigned long long)r->bytes, percent(r->bytes, p->total_bytes),
                (unsigned long long)cumulative, percent(cumulative, p->total_bytes),
                msc__text_in(r->name, name, sizeof(name)));
    }
    if (shown < p->len) fprintf(out, "<%zu more rows>\n", p->len - shown);
    return ferror(out) ? MSC_EIO : 0;
}

int msc_heap_write_partition_json(FILE *out, const msc_heap_partition_t *p, size_t limit)
{
    size_t shown = limit && limit < p->len ? limit : p->len;
    fprintf(out, "{\"by\": \"%s\", \"total_count\": %llu, \"total_bytes\": %llu, "
                 "\"total_rows\": %zu, \"rows\": [", by_name(p->by),
            (unsigned long long)p->total_count, (unsigned long long)p->total_bytes, p->len);
    for (size_t i = 0; i < shown; i++) {
        fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", out);
        msc__json_text(out, p->rows[i].name);
        fprintf(out, ", \"count\": %llu, \"bytes\": %llu}", (unsigned long long)p->rows[i].count,
                (unsigned long long)p->rows[i].bytes);
    }
    fputs("]}\n", out);
    return ferror(out) ? MSC_EIO : 0;
}

int msc_heap_write_diff(FILE *out, const msc_heap_diff_t *d, size_t limit)
{
    size_t shown = limit && limit < d->len ? limit : d->len;
    fprintf(out, "Change: %+lld objects, %+lld bytes.\n", (long long)d->count_delta,
            (long long)d->bytes_delta);
    fprintf(out, "    Count     +Count        Size       +Size  Kind\n");
    for (size_t i = 0; i < shown; i++) {
        const msc_heap_change_t *c = &d->rows[i];
        char name[MSC_TEXT_BUF];
        fprintf(out, "%9llu %+10lld %11llu %+11lld  %s\n", (unsigned long long)c->count,
                (long long)c->count_delta, (unsigned long long)c->bytes,
                (long long)c->bytes_delta, msc__text_in(c->name, name, sizeof(name)));
    }
    if (shown < d->len) fprintf(out, "<%zu more rows>\n", d->len - shown);
    return ferror(out) ? MSC_EIO : 0;
}

int msc_heap_write_diff_json(FILE *out, const msc_heap_diff_t *d, size_t limit)
{
    size_t shown = limit && limit < d->len ? limit : d->len;
    fprintf(out, "{\"count_delta\": %lld, \"bytes_delta\": %lld, \"total_rows\": %zu, "
                 "\"rows\": [", (long long)d->count_delta, (long long)d->bytes_delta, d->len);
    for (size_t i = 0; i < shown; i++) {
        const msc_heap_change_t *c = &d->rows[i];
        fputs(i ? ",\n  {\"kind\": " : "\n  {\"kind\": ", out);
        msc__json_text(out, c->name);
        fprintf(out, ", \"count\": %llu, \"bytes\": %llu, \"count_delta\": %lld, "
                     "\"bytes_delta\": %lld}", (unsigned long long)c->count,
                (unsigned long long)c->bytes, (long long)c->count_delta, (long long)c->bytes_delta);
    }
    fputs("]}\n", out);
    return ferror(out) ? MSC_EIO : 0;
}
