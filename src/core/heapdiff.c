/* Differences between two heap partitions: objgraph's show_growth and
 * heapy's relative heap. Rows are matched by name, so partitions of two
 * snapshot files (different processes, different type tables) compare. */
#include <stdlib.h>
#include <string.h>

#include "memscope/heapanalysis.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(((const msc_heap_row_t *)a)->name, ((const msc_heap_row_t *)b)->name);
}

static int by_count_delta(const void *a, const void *b)
{
    const msc_heap_change_t *x = a, *y = b;
    if (x->count_delta != y->count_delta) return x->count_delta < y->count_delta ? 1 : -1;
    return strcmp(x->name, y->name);
}

static int by_bytes_delta(const void *a, const void *b)
{
    const msc_heap_change_t *x = a, *y = b;
    if (x->bytes_delta != y->bytes_delta) return x->bytes_delta < y->bytes_delta ? 1 : -1;
    return strcmp(x->name, y->name);
}

int msc_heap_partition_copy(const msc_heap_partition_t *p, msc_heap_partition_t *copy)
{
    *copy = *p;
    copy->len = 0;
    copy->rows = msc_calloc(p->len ? p->len : 1, sizeof(*copy->rows));
    if (!copy->rows) return MSC_ENOMEM;
    for (size_t i = 0; i < p->len; i++, copy->len++) {
        copy->rows[i] = p->rows[i];
        if (!(copy->rows[i].name = msc_strdup(p->rows[i].name))) {
            msc_heap_partition_release(copy);
            return MSC_ENOMEM;
        }
    }
    return 0;
}

/* Sums rows with equal names (two classes can share a name) into a sorted,
 * name-unique copy. */
static int merged(const msc_heap_partition_t *p, msc_heap_partition_t *out)
{
    if (msc_heap_partition_copy(p, out) < 0) return MSC_ENOMEM;
    qsort(out->rows, out->len, sizeof(*out->rows), by_name);
    size_t n = 0;
    for (size_t i = 0; i < out->len; i++) {
        if (n && strcmp(out->rows[n - 1].name, out->rows[i].name) == 0) {
            out->rows[n - 1].count += out->rows[i].count;
            out->rows[n - 1].bytes += out->rows[i].bytes;
            msc_free(out->rows[i].name);
        } else {
            out->rows[n++] = out->rows[i];
        }
    }
    out->len = n;
    return 0;
}

static int add_change(msc_heap_diff_t *d, const msc_heap_row_t *was, const msc_heap_row_t *now)
{
    const msc_heap_row_t zero = {NULL, 0, 0};
    if (!was) was = &zero;
    if (!now) now = &zero;
    if (was->count == now->count && was->bytes == now->bytes) return 0;
    msc_heap_change_t *c = &d->rows[d->len];
    if (!(c->name = msc_strdup(now->name ? now->name : was->name))) return MSC_ENOMEM;
    c->count = now->count;
    c->bytes = now->bytes;
    c->count_delta = (int64_t)(now->count - was->count);
    c->bytes_delta = (int64_t)(now->bytes - was->bytes);
    d->len++;
    return 0;
}

static int merge_rows(const msc_heap_partition_t *a, const msc_heap_partition_t *b,
                      msc_heap_diff_t *d)
{
    size_t i = 0, j = 0;
    int rc = 0;
    while (rc == 0 && (i < a->len || j < b->len)) {
        int cmp = i == a->len ? 1 : j == b->len ? -1 : strcmp(a->rows[i].name, b->rows[j].name);
        if (cmp < 0) rc = add_change(d, &a->rows[i++], NULL);
        else if (cmp > 0) rc = add_change(d, NULL, &b->rows[j++]);
        else rc = add_change(d, &a->rows[i++], &b->rows[j++]);
    }
    return rc;
}

int msc_heap_diff(const msc_heap_partition_t *older, const msc_heap_partition_t *newer,
                  int by_count, msc_heap_diff_t *d)
{
    msc_heap_partition_t a = {0}, b = {0};
    memset(d, 0, sizeof(*d));
    int rc = MSC_ENOMEM;
    if (merged(older, &a) < 0 || merged(newer, &b) < 0) goto done;
    d->rows = msc_calloc(a.len + b.len + 1, sizeof(*d->rows));
    if (!d->rows) goto done;
    if ((rc = merge_rows(&a, &b, d)) < 0) goto done;
    qsort(d->rows, d->len, sizeof(*d->rows), by_count ? by_count_delta : by_bytes_delta);
    d->count_delta = (int64_t)(newer->total_count - older->total_count);
    d->bytes_delta = (int64_t)(newer->total_bytes - older->total_bytes);
done:
    msc_heap_partition_release(&a);
    msc_heap_partition_release(&b);
    if (rc < 0) msc_heap_diff_release(d);
    return rc;
}

void msc_heap_diff_release(msc_heap_diff_t *d)
{
    for (size_t i = 0; d->rows && i < d->len; i++) msc_free(d->rows[i].name);
    msc_free(d->rows);
    memset(d, 0, sizeof(*d));
}
