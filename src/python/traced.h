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
 * interpreters) under its mutex; RAW events are a few in a million. A free
 * of a block neither table holds (allocated before recording started)
 * changes nothing, as in tracemalloc. Sampled mode keeps no table:
 * sampling.c adds and takes each sampled block's estimate (its bytes over
 * its probability of being sampled), the estimate the reports use.
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

/* Open addressing with linear probing and backward-shift deletion, at most
 * half full. */
typedef struct msc_sizes {
    msc_size_slot_t *slots;        /* mmap'd, owned; NULL when not counting */
    size_t mask;                   /* slots - 1, a power of two minus one */
    unsigned shift;                /* 64 - log2(slots): the hash's top bits index */
    size_t count;
} msc_sizes_t;

extern msc_sizes_t msc__gil_sizes;           /* main interpreter's GIL held */
extern msc_traced_counts_t msc__gil_counts;  /* written with the GIL held */
extern msc_traced_counts_t msc__shared_counts; /* written under the shared lock */
/* MEM and OBJ blocks in the shared table: while 0, a GIL holder's free that
 * misses its own table need not look there. */
extern _Atomic size_t msc__shared_pyblocks;

/* Resets the counters and, for exact mode, maps empty tables. GIL held,
 * not recording. 0, or -1 when memory runs out. */
int msc_traced_start(int exact);
/* Unmaps the tables; counting stops. GIL held, recording stopped. */
void msc_traced_stop(void);
/* Around fork (recorder.c): no thread is in the shared table meanwhile. */
void msc_traced_lock(void);
void msc_traced_unlock(void);

/* (current, peak) bytes, and the current ones by kind unless by_kind is
 * NULL. GIL held, so the GIL holder's counters are still. */
void msc_traced_read(uint64_t *current, uint64_t *peak, uint64_t by_kind[MSC_TRACED_KINDS]);

/* The shared table, from any thread; kind from msc_traced_kind. */
void msc_traced_shared_add(int kind, uintptr_t p, uint64_t n);
/* Removes p: its size_kind, or -1 when the shared table does not hold it. */
int64_t msc_traced_shared_take(uintptr_t p);

/* The tables' slow paths: doubling t (on failure, recording stops and t
 * stays as it is), and the removal of the GIL table's slot i. */
void msc__traced_grow(msc_sizes_t *t);
int64_t msc__traced_gil_take_at(size_t i);

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

/* The GIL table: kind MEM or OBJ; GIL held. A block already at p (its free
 * was never seen) is replaced. */
static inline void msc_traced_gil_add(int kind, uintptr_t p, uint64_t n)
{
    msc_sizes_t *t = &msc__gil_sizes;
    if (__builtin_expect((t->count + 1) * 2 > t->mask + 1, 0)) {
        msc__traced_grow(t);
        if (t->count + 1 > t->mask) return; /* not counting, or out of memory */
    }
    size_t i = msc_sizes_home(t, p);
    while (t->slots[i].addr && t->slots[i].addr != p) i = (i + 1) & t->mask;
    if (t->slots[i].addr) msc_traced_uncount(&msc__gil_counts, t->slots[i].size_kind);
    else t->count++;
    t->slots[i] = (msc_size_slot_t){p, n << 2 | (uint64_t)kind};
    msc_traced_count(&msc__gil_counts, &msc__shared_counts, kind, n);
}

/* Removes p from the GIL table: its size_kind, or -1 when not there. */
static inline int64_t msc_traced_gil_take(uintptr_t p)
{
    const msc_sizes_t *t = &msc__gil_sizes;
    if (!t->slots) return -1;
    size_t i = msc_sizes_home(t, p);
    for (; t->slots[i].addr; i = (i + 1) & t->mask)
        if (t->slots[i].addr == p) return msc__traced_gil_take_at(i);
    return -1;
}

#endif
