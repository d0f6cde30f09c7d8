/* Site-by-site comparison of two captures (diff.h). The two captures have
 * their own symbol tables, so sites are matched by their strings: both row
 * lists are sorted by (file, function, line) and merged; what is left is
 * sorted by (file, function, bytes) and merged again on (file, function),
 * pairing a function's unmatched sites largest with largest. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "memscope/diff.h"

typedef struct site {
    const msc_row_t *row;
    int matched;
} site_t;

static int cmp_function(const msc_row_t *a, const msc_row_t *b)
{
    int c = strcmp(a->file, b->file);
    if (c) return c;
    return strcmp(a->function ? a->function : "", b->function ? b->function : "");
}

static int by_site(const void *pa, const void *pb)
{
    const msc_row_t *a = ((const site_t *)pa)->row, *b = ((const site_t *)pb)->row;
    int c = cmp_function(a, b);
    return c ? c : a->line < b->line ? -1 : a->line > b->line;
}

static int by_function_then_bytes(const void *pa, const void *pb)
{
    const msc_row_t *a = ((const site_t *)pa)->row, *b = ((const site_t *)pb)->row;
    int c = cmp_function(a, b);
    if (c) return c;
    if (a->bytes != b->bytes) return a->bytes < b->bytes ? 1 : -1;
    return a->line < b->line ? -1 : a->line > b->line;
}

static site_t *sites_of(const msc_rows_t *rows)
{
    site_t *s = msc_malloc((rows->n ? rows->n : 1) * sizeof(site_t));
    if (!s) return NULL;
    for (size_t i = 0; i < rows->n; i++) s[i] = (site_t){&rows->rows[i], 0};
    return s;
}

static void add_row(msc_diff_t *d, const msc_row_t *b, const msc_row_t *a,
                    msc_diff_status_t status)
{
    const msc_row_t *named = a ? a : b;
    msc_diff_row_t r = {named->file, named->function, named->line, b ? b->line : 0, status,
                        b ? b->bytes : 0, a ? a->bytes : 0, b ? b->count : 0, a ? a->count : 0, 0};
    r.delta_bytes = (int64_t)r.after_bytes - (int64_t)r.before_bytes;
    if (r.delta_bytes || r.before_count != r.after_count) d->rows[d->n++] = r;
}

/* Merges two sorted site lists: equal elements (by cmp) pair up; with
 * pair_status MSC_DIFF_MOVED the leftovers become new and gone rows. */
static void merge(msc_diff_t *d, site_t *b, size_t nb, site_t *a, size_t na,
                  int (*cmp)(const void *, const void *), msc_diff_status_t pair_status)
{
    size_t i = 0, j = 0;
    while (i < nb || j < na) {
        int c = i == nb ? 1 : j == na ? -1 : cmp(&b[i], &a[j]);
        if (c == 0) {
            add_row(d, b[i].row, a[j].row, pair_status);
            b[i++].matched = a[j++].matched = 1;
        } else if (c < 0) {
            if (pair_status == MSC_DIFF_MOVED) add_row(d, b[i].row, NULL, MSC_DIFF_GONE);
            i++;
        } else {
            if (pair_status == MSC_DIFF_MOVED) add_row(d, NULL, a[j].row, MSC_DIFF_NEW);
            j++;
        }
    }
}

/* Moves the unmatched sites to the front; returns how many there are. */
static size_t unmatched(site_t *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!s[i].matched) s[k++] = s[i];
    return k;
}

/* Pairs by function alone: within a function both sides are already in
 * rank order, so the merge pairs largest with largest. */
static int same_function(const void *pa, const void *pb)
{
    return cmp_function(((const site_t *)pa)->row, ((const site_t *)pb)->row);
}

static int by_delta_desc(const void *pa, const void *pb)
{
    const msc_diff_row_t *a = pa, *b = pb;
    if (a->delta_bytes != b->delta_bytes) return a->delta_bytes < b->delta_bytes ? 1 : -1;
    int c = strcmp(a->file, b->file);
    return c ? c : a->line < b->line ? -1 : a->line > b->line;
}

int msc_diff(const msc_rows_t *before, const msc_rows_t *after, msc_diff_t *out)
{
    memset(out, 0, sizeof(*out));
    site_t *b = sites_of(before), *a = sites_of(after);
    out->rows = msc_malloc((before->n + after->n + 1) * sizeof(msc_diff_row_t));
    if (!a || !b || !out->rows) {
        msc_free(a);
        msc_free(b);
        msc_diff_release(out);
        return MSC_ENOMEM;
    }
    qsort(b, before->n, sizeof(site_t), by_site);
    qsort(a, after->n, sizeof(site_t), by_site);
    merge(out, b, before->n, a, after->n, by_site, MSC_DIFF_SAME_SITE);
    size_t nb = unmatched(b, before->n), na = unmatched(a, after->n);
    qsort(b, nb, sizeof(site_t), by_function_then_bytes);
    qsort(a, na, sizeof(site_t), by_function_then_bytes);
    merge(out, b, nb, a, na, same_function, MSC_DIFF_MOVED);
    msc_free(a);
    msc_free(b);
    qsort(out->rows, out->n, sizeof(msc_diff_row_t), by_delta_desc);
    out->before_total = before->total_bytes;
    out->after_total = after->total_bytes;
    return 0;
}

void msc_diff_release(msc_diff_t *d)
{
    msc_free(d->rows);
    d->rows = NULL;
    d->n = 0;
}
