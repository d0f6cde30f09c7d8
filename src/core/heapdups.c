/* Duplicate str and bytes in a heap snapshot: objects with equal contents
 * held as separate copies, the waste the seeds' interning advice removes.
 * The walker digests each exact str and bytes (XXH3-64 of its canonical
 * storage); copies are the nodes sharing type, digest and size, found by
 * sorting those three keys, so the work is one sort of the strings. */
#include <stdlib.h>
#include <string.h>

#include "memscope/heapanalysis.h"

typedef struct copy {
    uint64_t digest;
    uint64_t size;
    uint32_t type;
    uint32_t node;
} copy_t;

static int by_contents(const void *a, const void *b)
{
    const copy_t *x = a, *y = b;
    if (x->type != y->type) return x->type < y->type ? -1 : 1;
    if (x->digest != y->digest) return x->digest < y->digest ? -1 : 1;
    if (x->size != y->size) return x->size < y->size ? -1 : 1;
    return (x->node > y->node) - (x->node < y->node);
}

static int by_wasted(const void *a, const void *b)
{
    const msc_heap_dup_t *x = a, *y = b;
    if (x->wasted != y->wasted) return x->wasted < y->wasted ? 1 : -1;
    return (x->example > y->example) - (x->example < y->example);
}

/* The nodes with a digest, sorted so that copies are adjacent. */
static copy_t *sorted_copies(const msc_heap_t *h, uint32_t *n)
{
    *n = 0;
    for (uint32_t v = 1; v < h->node_count; v++) *n += msc_heap_digest(h, v) != 0;
    copy_t *c = msc_malloc((size_t)(*n ? *n : 1) * sizeof(*c));
    if (!c) return NULL;
    *n = 0;
    for (uint32_t v = 1; v < h->node_count; v++) {
        uint64_t digest = msc_heap_digest(h, v);
        if (digest) c[(*n)++] = (copy_t){digest, h->size[v], h->type[v], v};
    }
    qsort(c, *n, sizeof(*c), by_contents);
    return c;
}

/* The end of the run of copies that starts at c[i]. */
static uint32_t run_end(const copy_t *c, uint32_t n, uint32_t i)
{
    uint32_t j = i + 1;
    while (j < n && c[j].type == c[i].type && c[j].digest == c[i].digest && c[j].size == c[i].size)
        j++;
    return j;
}

int msc_heap_duplicates(const msc_heap_t *h, msc_heap_dups_t *d)
{
    memset(d, 0, sizeof(*d));
    uint32_t n, groups = 0;
    copy_t *c = sorted_copies(h, &n);
    if (!c) return MSC_ENOMEM;
    for (uint32_t i = 0, j; i < n; i = j) groups += (j = run_end(c, n, i)) - i > 1;
    d->groups = msc_calloc(groups ? groups : 1, sizeof(*d->groups));
    if (!d->groups) {
        msc_free(c);
        return MSC_ENOMEM;
    }
    for (uint32_t i = 0, j; i < n; i = j) {
        uint64_t copies = (j = run_end(c, n, i)) - i;
        if (copies < 2) continue;
        d->groups[d->len++] =
            (msc_heap_dup_t){c[i].type, c[i].node, copies, c[i].size, (copies - 1) * c[i].size};
        d->copies += copies;
        d->wasted += (copies - 1) * c[i].size;
    }
    msc_free(c);
    qsort(d->groups, d->len, sizeof(*d->groups), by_wasted);
    return 0;
}

void msc_heap_dups_release(msc_heap_dups_t *d)
{
    msc_free(d->groups);
    memset(d, 0, sizeof(*d));
}
