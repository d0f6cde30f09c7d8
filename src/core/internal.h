/* Shared inside src/core and src/report only: little-endian field access,
 * the bounded varint reader every parser uses, and huge-page advice. Nothing
 * here is public API. */
#ifndef MEMSCOPE_INTERNAL_H
#define MEMSCOPE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "memscope/common.h"

static inline void msc__put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void msc__put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline void msc__put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t msc__get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t msc__get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t msc__get_u64(const uint8_t *p)
{
    return (uint64_t)msc__get_u32(p) | (uint64_t)msc__get_u32(p + 4) << 32;
}

/* The advice rules' shared pieces (advise.c) and the numpy and pandas rules
 * (advarrays.c). */
struct msc_heap;
struct msc_advice_list;
int msc__advice_add(struct msc_advice_list *l, const char *rule, uint64_t saved, uint32_t site,
                    char *title, char *evidence, char *change);
int msc__advise_arrays(const struct msc_heap *h, struct msc_advice_list *l);

/* Consistency checkers of whole structures (msc__heap_check in heapint.h,
 * msc__livemap_check below) run where a structure is complete, but only in
 * sanitizer builds (make SANITIZE=1 defines MSC_DEBUG_CHECKS): each walks
 * all of its structure, which a release build cannot afford. A failed
 * check is a bug in memscope, never in the input, so it asserts. */
#ifdef MSC_DEBUG_CHECKS
#include <assert.h>
#define MSC_DEBUG_CHECK(call) assert((call) == 0)
#else
#define MSC_DEBUG_CHECK(call) ((void)0)
#endif

/* The live map's invariants: the slot count a power of two, at most half
 * full, count equal to the occupied slots, and every entry found from its
 * home slot without crossing an empty one and before any other entry of
 * its address: 0 or MSC_ECORRUPT (livemap.c). */
struct msc_livemap;
int msc__livemap_check(const struct msc_livemap *m);

/* A bounded cursor over untrusted bytes. Reads past the end set err and
 * return 0, so a parser can read a whole record and check once. */
typedef struct msc_cursor {
    const uint8_t *p;
    const uint8_t *end;
    int err;               /* 0 or MSC_ETRUNCATED / MSC_ECORRUPT */
} msc_cursor_t;

static inline uint64_t msc__get_varint(msc_cursor_t *c)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (c->p >= c->end) {
            c->err = c->err ? c->err : MSC_ETRUNCATED;
            return 0;
        }
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) return v;
    }
    c->err = c->err ? c->err : MSC_ECORRUPT;
    return 0;
}

static inline uint8_t msc__get_byte(msc_cursor_t *c)
{
    if (c->p >= c->end) {
        c->err = c->err ? c->err : MSC_ETRUNCATED;
        return 0;
    }
    return *c->p++;
}

/* Borrows n bytes from the cursor, or NULL (and err) if fewer remain. */
static inline const uint8_t *msc__get_bytes(msc_cursor_t *c, uint64_t n)
{
    if ((uint64_t)(c->end - c->p) < n) {
        c->err = c->err ? c->err : MSC_ETRUNCATED;
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += n;
    return p;
}

/* A zero-filled array that grows: with libc's allocator an anonymous
 * mapping grown by mremap, whose new pages come zero from the kernel (and
 * cost nothing until touched), so a table doubled as it fills is never
 * cleared by hand; with another allocator (the recorder's, a test's) a
 * realloc and a memset of the new part. */
typedef struct msc_zarray {
    void *p;                   /* NULL until the first growth */
    size_t bytes;              /* usable, all zero past what the owner wrote */
    int mapped;                /* p is a mapping of its own (munmap, mremap) */
} msc_zarray_t;

/* Grows z to at least `bytes`; 0, or MSC_ENOMEM with z unchanged. */
int msc__zarray_grow(msc_zarray_t *z, size_t bytes);
void msc__zarray_free(msc_zarray_t *z);
/* Faults in z's pages over [from, to) for writing, at once: an array whose
 * first access to an element reads it (x += n) otherwise takes two faults a
 * page, one mapping the zero page and one copying it. Best effort (the
 * pages fault in on use when the kernel cannot). */
void msc__zarray_populate(msc_zarray_t *z, size_t from, size_t to);

/* The next set bit at or after *i in a bitmap of words 64-bit words (the
 * analysis's stack bitmaps): 1 with *i moved to it, or 0 when none is left.
 * A word at a time, so a sparse bitmap costs a load per 64 stacks:
 *
 *     for (uint32_t node = 0; msc__bits_next(bits, words, &node); node++) ...
 */
static inline int msc__bits_next(const uint64_t *bits, size_t words, uint32_t *i)
{
    size_t w = *i / 64;
    if (w >= words) return 0;
    uint64_t b = bits[w] & (~0ULL << (*i % 64));
    while (!b) {
        if (++w >= words) return 0;
        b = bits[w];
    }
    *i = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(b));
    return 1;
}

/* The frame nodes (symbols.h) that stacks reach: each stack's frame node
 * and its callers up to the root, the root left out, numbered callers
 * first as the frame nodes are. order[k] is number k's frame node and up[k]
 * its caller's number + 1 (0: the root); fn->scratch holds each reached
 * node's number + 1 until msc__reach_release zeroes it again. Stacks 0 and
 * past fn->ntrie reach nothing. Visits each node reached once. */
struct msc_frame_nodes;
struct msc_stack_value;
typedef struct msc__reach {
    uint32_t m;                /* nodes reached */
    uint32_t *order, *up;      /* m each; owned */
} msc__reach_t;

/* From `lists` arrays of values; 0 or MSC_ENOMEM (r then holds nothing). */
int msc__reach(const struct msc_frame_nodes *fn, const struct msc_stack_value *const *values,
               const size_t *n, int lists, msc__reach_t *r);
void msc__reach_release(const struct msc_frame_nodes *fn, msc__reach_t *r);

/* Groups ids 1..n-1 by their parent, a counting sort: the ids under x are
 * kids[first[x] .. first[x + 1]), in increasing order. The parent of id is
 * the uint32_t at parent + id * stride bytes (a tree's nodes, or a plain
 * array); first holds n + 1 zeros. */
void msc__group_by_parent(const void *parent, size_t stride, size_t n, uint32_t *first,
                          uint32_t *kids);

/* A big table probed at random misses the TLB on most probes without huge
 * pages, and faults in 4 KiB at a time as it fills. Advises the 2 MiB-aligned
 * part of [p, p + n) (when it is at least 4 MiB); the kernel may ignore it,
 * nothing depends on it. */
void msc__advise_huge_pages(void *p, size_t n);

/* Resident bytes in all, and anonymous ones (shared anonymous included),
 * read from fd, /proc/self/smaps_rollup opened by the caller (smaps.c); 0,
 * or -1 where the kernel does not provide it. Allocates nothing. */
int msc__smaps_rollup(int fd, uint64_t *rss, uint64_t *anon);

/* Live memory mappings (regions.c): disjoint address ranges, sorted, each
 * standing for some bytes of a stack in a domain slot of the analysis. */
typedef struct msc__region {
    uint64_t start, end;       /* [start, end), end > start */
    uint64_t bytes;            /* bytes it stands for (weighted when sampled) */
    uint32_t stack;
    uint32_t count;            /* blocks it stands for; 0 for a piece split off */
    uint32_t domain;           /* the analysis's domain slot */
} msc__region_t;

typedef struct msc__regions {
    msc__region_t *v;
    size_t n, cap;
} msc__regions_t;

/* Called for every range, or piece of one, taken out: bytes and count are
 * what it stood for. */
typedef void (*msc__cut_fn)(void *arg, const msc__region_t *g, uint64_t bytes, uint32_t count);

void msc__regions_release(msc__regions_t *r);
/* Adds g after cutting out whatever it maps over; 0 or MSC_ENOMEM. */
int msc__regions_add(msc__regions_t *r, const msc__region_t *g, msc__cut_fn fn, void *arg);
/* Takes [start, start + len) out of every range it overlaps; 0 or MSC_ENOMEM. */
int msc__regions_cut(msc__regions_t *r, uint64_t start, uint64_t len, msc__cut_fn fn, void *arg);

#endif
