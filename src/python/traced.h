/* The traced memory: what memscope.get_traced_memory() answers, the bytes
 * live now and at their peak in the domains tracemalloc traces (the Python
 * allocators RAW, MEM and OBJ, and the foreign domains reported through
 * PyTraceMalloc_Track; not NATIVE or MMAP), kept by the hooks as they
 * record, so that answering is a few loads and allocates nothing.
 *
 * Exact mode keeps each live block's requested size, by address, in one of
 * two tables. The GIL table holds the MEM and OBJ blocks of threads that
 * hold the main interpreter's GIL, which serialises every access: no lock,
 * inline below. The shared table holds the rest (RAW blocks, which any
 * thread may free, with or without the GIL; foreign blocks; blocks of other
 * interpreters) under the recorder's side mutex; RAW events are a few in a
 * million. A free of a block neither table holds (allocated before
 * recording started) changes nothing, as in tracemalloc.
 *
 * The tables cost every event a random access, so they start counting
 * when first asked (msc_traced_seed_unlocked): seeded with every block the
 * capture holds live, from one reading of it, while no event can be
 * recorded (the caller holds the GIL, which every main-stream event needs,
 * and the side mutex, under which every other event is recorded and
 * counted); from then on the hooks keep them. A native capture counts from
 * the start: the foreign blocks it counts are not in its capture.
 *
 * Sampled mode keeps no table: sampling.c adds and takes each sampled
 * block's estimate (its bytes over its probability of being sampled), the
 * estimate the reports use, from the start.
 *
 * Table memory comes from mmap, never from an allocator a hook wraps. */
#ifndef MEMSCOPE_TRACED_H
#define MEMSCOPE_TRACED_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "memscope/format.h"

/* What a counted block is, kept with its size so a free takes its bytes
 * from the right counter. */
enum msc_traced_kind {
    MSC_TRACED_RAW = MSC_DOMAIN_RAW,
    MSC_TRACED_MEM = MSC_DOMAIN_MEM,
    MSC_TRACED_OBJ = MSC_DOMAIN_OBJ,
    MSC_TRACED_FOREIGN,            /* every foreign domain */
    MSC_TRACED_KINDS
};

/* The kind a domain's blocks count as; -1 for domains not counted. */
static inline int msc_traced_kind(uint64_t domain)
{
    if (domain < MSC_DOMAIN_COUNT) return (int)domain;
    return domain >= MSC_DOMAIN_FOREIGN ? MSC_TRACED_FOREIGN : -1;
}

/* One party's counters: the GIL holder's, or the shared table's (in sampled
 * mode, the sampled set's). Each is written by its party only and read by
 * anyone, relaxed: plain loads and stores, no atomic read-modify-write. */
typedef struct msc_traced_counts {
    _Atomic uint64_t bytes[MSC_TRACED_KINDS]; /* live, by kind */
    _Atomic uint64_t total;        /* the sum of bytes */
    _Atomic uint64_t peak;         /* the highest total + the other party's total this
                                      party saw after one of its allocations */
} __attribute__((aligned(64))) msc_traced_counts_t;

/* An address and what lives there: size << 2 | kind. Address 0: empty. */
typedef struct msc_size_slot {
    uint64_t addr;
    uint64_t size_kind;
} msc_size_slot_t;

/* A table of blocks by address: open addressing with linear probing and
 * backward-shift deletion, at most half full. The shared table, and the
 * GIL table's blocks that no page holds. */
typedef struct msc_sizes {
    msc_size_slot_t *slots;        /* mmap'd, owned; NULL when not counting */
    size_t mask;                   /* slots - 1, a power of two minus one */
    unsigned shift;                /* 64 - log2(slots): the hash's top bits index */
    size_t count;
} msc_sizes_t;

/* The GIL table keeps most blocks by page instead: the small ones (up to
 * MSC_PAGE_SMALL bytes) that start on a 16-byte boundary, as every
 * pymalloc and malloc block does. A page of 4 KiB has a slot per 16 bytes;
 * the blocks an allocator hands out one after another share a page, so
 * most events touch a cache line a recent one did, where a table keyed by
 * address would take a cache miss per event, and the slots cost an eighth
 * of the memory they describe, where a table entry costs 16 bytes a block
 * at least. */
#define MSC_PAGE_SHIFT 12
#define MSC_PAGE_SLOTS (1u << (MSC_PAGE_SHIFT - 4))
#define MSC_PAGE_SMALL 32766u

typedef struct msc_size_page {
    uint64_t page;                 /* address >> MSC_PAGE_SHIFT */
    uint16_t slots[MSC_PAGE_SLOTS]; /* by 16-byte granule of a block's start: 0 none,
                                      else (size + 1) << 1 | (kind == OBJ) */
} msc_size_page_t;

typedef struct msc_pages {
    msc_size_page_t **map;         /* open addressing by page number; mmap'd, owned */
    size_t mask;                   /* map slots - 1 */
    unsigned shift;                /* 64 - log2(map slots) */
    size_t count;                  /* pages in the map; they stay until counting stops */
    msc_size_page_t *last;         /* the page of the latest lookup, or NULL */
    msc_size_page_t *spare;        /* unused page structures of the newest slab */
    size_t nspare;
    void *slabs;                   /* mmap'd slabs of pages, linked by their first word */
} msc_pages_t;

/* The tables are counting (exact mode); written with the GIL and the side
 * mutex held, so either one is enough to read it. */
extern _Atomic int msc__traced_on;
/* The GIL table: pages, and the blocks they cannot hold. Main interpreter's
 * GIL held. */
extern msc_pages_t msc__gil_pages;
extern msc_sizes_t msc__gil_sizes;
extern msc_traced_counts_t msc__gil_counts;  /* written with the GIL held */
extern msc_traced_counts_t msc__shared_counts; /* written under the side mutex, or the
                                                 sampled set's lock in sampled mode */
/* MEM and OBJ blocks in the shared table: while 0, a GIL holder's free that
 * misses its own table need not look there. */
extern _Atomic size_t msc__shared_pyblocks;

/* Resets the counters and, for exact mode, maps empty tables, counting at
 * once if now. GIL held, not recording. 0, or -1 when memory runs out. */
int msc_traced_start(int exact, int now);
/* Unmaps the tables; counting stops. GIL and side mutex held. */
void msc_traced_stop_unlocked(void);
/* Starts counting with every live block of the capture at path, which
 * holds every event recorded so far. GIL and side mutex held. 0, or a
 * negative MSC_E code (MSC_ENOMEM, or the capture's read error). */
int msc_traced_seed_unlocked(const char *path);

/* (current, peak) bytes, and the current ones by kind unless by_kind is
 * NULL. GIL held, so the GIL holder's counters are still. */
void msc_traced_read(uint64_t *current, uint64_t *peak, uint64_t by_kind[MSC_TRACED_KINDS]);

/* The shared table, from any thread holding the side mutex; kind from
 * msc_traced_kind. */
void msc_traced_shared_add_unlocked(int kind, uintptr_t p, uint64_t n);
/* Removes p: its size_kind, or -1 when the shared table does not hold it. */
int64_t msc_traced_shared_take_unlocked(uintptr_t p);

/* The GIL table's slow paths: its blocks that no page holds, and the page
 * of a page number, made when missing (NULL when out of memory, after
 * which recording stops). */
void msc__traced_gil_add_other(int kind, uintptr_t p, uint64_t n);
int64_t msc__traced_gil_take_other(uintptr_t p);
msc_size_page_t *msc__traced_page_make(uint64_t page);

/* Sampled mode: moves kind's counters by an estimate of delta bytes. The
 * caller holds the sampled set's lock, the only writer in that mode. */
void msc_traced_sampled(int kind, int64_t delta);

/* Adds n to kind in c, and raises c's peak to its new total plus other's. */
static inline void msc_traced_count(msc_traced_counts_t *c, const msc_traced_counts_t *other,
                                    int kind, uint64_t n)
{
    uint64_t b = atomic_load_explicit(&c->bytes[kind], memory_order_relaxed);
    atomic_store_explicit(&c->bytes[kind], b + n, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&c->total, memory_order_relaxed) + n;
    atomic_store_explicit(&c->total, t, memory_order_relaxed);
    t += atomic_load_explicit(&other->total, memory_order_relaxed);
    if (t > atomic_load_explicit(&c->peak, memory_order_relaxed))
        atomic_store_explicit(&c->peak, t, memory_order_relaxed);
}

/* Takes the block of size_kind sk out of c. */
static inline void msc_traced_uncount(msc_traced_counts_t *c, uint64_t sk)
{
    uint64_t n = sk >> 2;
    int kind = (int)(sk & 3);
    uint64_t b = atomic_load_explicit(&c->bytes[kind], memory_order_relaxed);
    atomic_store_explicit(&c->bytes[kind], b - n, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&c->total, memory_order_relaxed);
    atomic_store_explicit(&c->total, t - n, memory_order_relaxed);
}

static inline size_t msc_sizes_home(const msc_sizes_t *t, uint64_t addr)
{
    return (size_t)((addr >> 4) * 0x9E3779B97F4A7C15ull >> t->shift);
}

/* The size_kind of a page slot's block. */
static inline uint64_t msc_page_block(uint16_t slot)
{
    return ((uint64_t)(slot >> 1) - 1) << 2 | (slot & 1 ? MSC_TRACED_OBJ : MSC_TRACED_MEM);
}

/* The GIL table's page of page number pn, or NULL when it has none. */
static inline msc_size_page_t *msc_traced_page(uint64_t pn)
{
    msc_pages_t *t = &msc__gil_pages;
    if (t->last && t->last->page == pn) return t->last;
    if (!t->map) return NULL;
    size_t i = (size_t)(pn * 0x9E3779B97F4A7C15ull >> t->shift);
    for (; t->map[i]; i = (i + 1) & t->mask)
        if (t->map[i]->page == pn) return t->last = t->map[i];
    return NULL;
}

/* The GIL table: kind MEM or OBJ; GIL held. A block already at p (its free
 * was never seen) is replaced. */
static inline void msc_traced_gil_add(int kind, uintptr_t p, uint64_t n)
{
    if ((p & 15) || n > MSC_PAGE_SMALL) {
        msc__traced_gil_add_other(kind, p, n);
        return;
    }
    uint64_t pn = (uint64_t)p >> MSC_PAGE_SHIFT;
    msc_size_page_t *page = msc_traced_page(pn);
    if (!page && !(page = msc__traced_page_make(pn))) return;
    uint16_t *slot = &page->slots[(p >> 4) & (MSC_PAGE_SLOTS - 1)];
    if (*slot) msc_traced_uncount(&msc__gil_counts, msc_page_block(*slot));
    *slot = (uint16_t)((n + 1) << 1 | (kind == MSC_TRACED_OBJ));
    msc_traced_count(&msc__gil_counts, &msc__shared_counts, kind, n);
}

/* Removes p from the GIL table: its size_kind, or -1 when not there. */
static inline int64_t msc_traced_gil_take(uintptr_t p)
{
    msc_size_page_t *page = p & 15 ? NULL : msc_traced_page((uint64_t)p >> MSC_PAGE_SHIFT);
    uint16_t *slot = page ? &page->slots[(p >> 4) & (MSC_PAGE_SLOTS - 1)] : NULL;
    if (!slot || !*slot) return msc__gil_sizes.count ? msc__traced_gil_take_other(p) : -1;
    uint64_t sk = msc_page_block(*slot);
    *slot = 0;
    msc_traced_uncount(&msc__gil_counts, sk);
    return (int64_t)sk;
}

#endif
