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
        fprintf(out, "%6zu %8llu %3d %10llu %3d %10llu %3d %s\n", i, (unsigned long long)r->count,
                percent(r->count, p->total_count), (unsigned long long)r->bytes,
                percent(r->bytes, p->total_bytes), (unsigned long long)cumulative,
                percent(cumulative, p->total_bytes), msc__text_in(r->name, name, sizeof(name)));
    }
    if (shown < p->len) fprintf(out, "<%zu more rows>\n", p->len - shown);
    return ferror(out) ? MSC_EIO : 0;
}

int msc_heap_write_partition_json(FILE *out, const msc_heap_partition_t *p, size_t limit)
{
    size_t shown = limit && limit < p->len ? limit : p->len;
    msc_json_t j;
    msc_json_init(&j, out, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_str(&j, "by", by_name(p->by));
    msc_json_u64(&j, "total_count", p->total_count);
    msc_json_u64(&j, "total_bytes", p->total_bytes);
    msc_json_u64(&j, "total_rows", p->len);
    msc_json_array_begin(&j, "rows");
    for (size_t i = 0; i < shown; i++) {
        msc_json_newline(&j, 2);
        msc_json_object_begin(&j, NULL);
        msc_json_str(&j, "name", p->rows[i].name);
        msc_json_u64(&j, "count", p->rows[i].count);
        msc_json_u64(&j, "bytes", p->rows[i].bytes);
        msc_json_end(&j);
    }
    msc_json_end(&j);
    msc_json_end(&j);
    return msc_json_finish(&j);
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
                (long long)c->count_delta, (unsigned long long)c->bytes, (long long)c->bytes_delta,
                msc__text_in(c->name, name, sizeof(name)));
    }
    if (shown < d->len) fprintf(out, "<%zu more rows>\n", d->len - shown);
    return ferror(out) ? MSC_EIO : 0;
}

int msc_heap_write_diff_json(FILE *out, const msc_heap_diff_t *d, size_t limit)
{
    size_t shown = limit && limit < d->len ? limit : d->len;
    msc_json_t j;
    msc_json_init(&j, out, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_i64(&j, "count_delta", d->count_delta);
    msc_json_i64(&j, "bytes_delta", d->bytes_delta);
    msc_json_u64(&j, "total_rows", d->len);
    msc_json_array_begin(&j, "rows");
    for (size_t i = 0; i < shown; i++) {
        const msc_heap_change_t *c = &d->rows[i];
        msc_json_newline(&j, 2);
        msc_json_object_begin(&j, NULL);
        msc_json_str(&j, "kind", c->name);
        msc_json_u64(&j, "count", c->count);
        msc_json_u64(&j, "bytes", c->bytes);
        msc_json_i64(&j, "count_delta", c->count_delta);
        msc_json_i64(&j, "bytes_delta", c->bytes_delta);
        msc_json_end(&j);
    }
    msc_json_end(&j);
    msc_json_end(&j);
    return msc_json_finish(&j);
}
