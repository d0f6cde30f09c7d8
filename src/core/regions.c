/* Live memory mappings for the analyser (internal.h): the address ranges
 * that mmap and mremap created and munmap has not taken back. Unlike heap
 * blocks, a mapping can be unmapped in part (its head, its tail or a hole in
 * its middle) and mapped over (MAP_FIXED), so the analyser keeps ranges, not
 * addresses: a sorted array of disjoint ranges, searched by bisection. A
 * program holds few mappings, so the array's moves cost little. Each range
 * remembers the bytes it stands for (its length, or a sample's weighted
 * share of it) so a piece taken back releases its part of them. */
#include <string.h>

#include "internal.h"

void msc__regions_release(msc__regions_t *r)
{
    msc_free(r->v);
    memset(r, 0, sizeof(*r));
}

/* The first range that ends after addr. */
static size_t first_after(const msc__regions_t *r, uint64_t addr)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->v[mid].end <= addr) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int make_room(msc__regions_t *r, size_t at)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        msc__region_t *v = msc_realloc(r->v, cap * sizeof(*v));
        if (!v) return MSC_ENOMEM;
        r->v = v;
        r->cap = cap;
    }
    memmove(r->v + at + 1, r->v + at, (r->n - at) * sizeof(*r->v));
    r->n++;
    return 0;
}

/* The bytes of g that stand for [lo, hi), a part of it. */
static uint64_t share(const msc__region_t *g, uint64_t lo, uint64_t hi)
{
    uint64_t len = g->end - g->start;
    if (hi - lo == len) return g->bytes;
    return (uint64_t)((double)g->bytes * (double)(hi - lo) / (double)len);
}

/* Takes [lo, hi) out of range i, which it overlaps; the range may split in
 * two. Returns how many ranges now stand where i stood (0, 1 or 2), or
 * MSC_ENOMEM. */
static int cut_one(msc__regions_t *r, size_t i, uint64_t lo, uint64_t hi, msc__cut_fn fn, void *arg)
{
    msc__region_t *g = &r->v[i];
    if (lo < g->start) lo = g->start;
    if (hi > g->end) hi = g->end;
    if (lo == g->start && hi == g->end) {
        fn(arg, g, g->bytes, g->count);
        memmove(r->v + i, r->v + i + 1, (r->n - i - 1) * sizeof(*r->v));
        r->n--;
        return 0;
    }
    if (lo > g->start && hi < g->end) {
        if (make_room(r, i + 1) < 0) return MSC_ENOMEM;
        g = &r->v[i];
        uint64_t gone = share(g, lo, hi), tail = share(g, hi, g->end);
        fn(arg, g, gone, 0);
        r->v[i + 1] = (msc__region_t){hi, g->end, tail, g->stack, 0, g->domain};
        g->bytes -= gone + tail < g->bytes ? gone + tail : g->bytes;
        g->end = lo;
        return 2;
    }
    uint64_t gone = share(g, lo, hi);
    fn(arg, g, gone, 0);
    g->bytes -= gone;
    if (lo == g->start) g->start = hi;
    else g->end = lo;
    return 1;
}

int msc__regions_cut(msc__regions_t *r, uint64_t start, uint64_t len, msc__cut_fn fn, void *arg)
{
    uint64_t end = start + len < start ? UINT64_MAX : start + len;
    size_t i = first_after(r, start);
    while (i < r->n && r->v[i].start < end) {
        int kept = cut_one(r, i, start, end, fn, arg);
        if (kept < 0) return kept;
        i += (size_t)kept;
    }
    return 0;
}

int msc__regions_add(msc__regions_t *r, const msc__region_t *g, msc__cut_fn fn, void *arg)
{
    int err = msc__regions_cut(r, g->start, g->end - g->start, fn, arg);
    if (err) return err;
    size_t at = first_after(r, g->start);
    if ((err = make_room(r, at)) < 0) return err;
    r->v[at] = *g;
    return 0;
}
