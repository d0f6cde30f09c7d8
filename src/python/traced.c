/* The traced memory (traced.h): the two size tables' life, growth and
 * removals, the shared table, the seeding from the capture, and the
 * reading of the counters. The GIL table's additions and lookups are
 * inline in traced.h, on the hot path of every MEM and OBJ event. */
#include "traced.h"

#include <string.h>
#include <sys/mman.h>

#include "memscope/analysis.h"
#include "memscope/replay.h"
#include "recorder.h"

#define MIN_SLOTS_LOG2 12              /* 64 KiB a table to start with */
#define SLAB_BYTES (2u << 20)          /* pages are made from slabs of 2 MiB */

_Atomic int msc__traced_on;
msc_pages_t msc__gil_pages;
msc_sizes_t msc__gil_sizes;
msc_traced_counts_t msc__gil_counts;
msc_traced_counts_t msc__shared_counts;
_Atomic size_t msc__shared_pyblocks;

static msc_sizes_t shared_sizes; /* the recorder's side mutex held */

static void *map_zeroed(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/*
 * Tables by address (msc_sizes_t).
 */

static void unmap(msc_sizes_t *t)
{
    if (t->slots) munmap(t->slots, (t->mask + 1) * sizeof(msc_size_slot_t));
    memset(t, 0, sizeof(*t));
}

static int map_empty(msc_sizes_t *t, unsigned log2)
{
    t->slots = map_zeroed(((size_t)1 << log2) * sizeof(msc_size_slot_t));
    t->mask = ((size_t)1 << log2) - 1;
    t->shift = 64 - log2;
    t->count = 0;
    return t->slots ? 0 : -1;
}

/* Doubles t; on failure recording stops and t stays as it is. */
static void grow(msc_sizes_t *t)
{
    msc_sizes_t bigger;
    if (map_empty(&bigger, 64 - t->shift + 1) < 0) {
        msc__stop_recording();
        return;
    }
    for (size_t i = 0; i <= t->mask; i++) {
        if (!t->slots[i].addr) continue;
        size_t j = msc_sizes_home(&bigger, t->slots[i].addr);
        while (bigger.slots[j].addr) j = (j + 1) & bigger.mask;
        bigger.slots[j] = t->slots[i];
    }
    bigger.count = t->count;
    unmap(t);
    *t = bigger;
}

/* Empties slot i, pulling later members of its probe run into the hole so
 * that lookups stop at the first empty slot. Returns what slot i held. */
static uint64_t remove_at(msc_sizes_t *t, size_t i)
{
    uint64_t sk = t->slots[i].size_kind;
    size_t hole = i;
    for (size_t j = (i + 1) & t->mask; t->slots[j].addr; j = (j + 1) & t->mask) {
        size_t home = msc_sizes_home(t, t->slots[j].addr);
        if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
            t->slots[hole] = t->slots[j];
            hole = j;
        }
    }
    t->slots[hole].addr = 0;
    t->count--;
    return sk;
}

/* Removes p from t: its size_kind, or -1 when t does not hold it. */
static int64_t sizes_take(msc_sizes_t *t, uintptr_t p)
{
    if (!t->slots) return -1;
    for (size_t i = msc_sizes_home(t, p); t->slots[i].addr; i = (i + 1) & t->mask)
        if (t->slots[i].addr == p) return (int64_t)remove_at(t, i);
    return -1;
}

/* Puts p in t (not holding it): 0, or -1 when t is not counting or is out
 * of memory. */
static int sizes_put(msc_sizes_t *t, int kind, uintptr_t p, uint64_t n)
{
    if (!t->slots) return -1;
    if ((t->count + 1) * 2 > t->mask + 1) grow(t);
    if (t->count + 1 > t->mask) return -1;
    size_t i = msc_sizes_home(t, p);
    while (t->slots[i].addr) i = (i + 1) & t->mask;
    t->slots[i] = (msc_size_slot_t){p, n << 2 | (uint64_t)kind};
    t->count++;
    return 0;
}

/*
 * The GIL table's pages (msc_pages_t).
 */

/* A fresh page structure from the newest slab, mapping another when it is
 * used up. */
static msc_size_page_t *page_new(msc_pages_t *t)
{
    if (!t->nspare) {
        char *slab = map_zeroed(SLAB_BYTES);
        if (!slab) return NULL;
        *(void **)slab = t->slabs;
        t->slabs = slab;
        t->spare = (msc_size_page_t *)(slab + 64);
        t->nspare = (SLAB_BYTES - 64) / sizeof(msc_size_page_t);
    }
    t->nspare--;
    return t->spare++;
}

static int map_pages(msc_pages_t *t, unsigned log2)
{
    msc_size_page_t **map = map_zeroed(((size_t)1 << log2) * sizeof(*map));
    if (!map) return -1;
    size_t mask = ((size_t)1 << log2) - 1;
    for (size_t i = 0; t->map && i <= t->mask; i++) {
        if (!t->map[i]) continue;
        size_t j = (size_t)(t->map[i]->page * 0x9E3779B97F4A7C15ull >> (64 - log2));
        while (map[j]) j = (j + 1) & mask;
        map[j] = t->map[i];
    }
    if (t->map) munmap(t->map, (t->mask + 1) * sizeof(*map));
    t->map = map;
    t->mask = mask;
    t->shift = 64 - log2;
    return 0;
}

msc_size_page_t *msc__traced_page_make(uint64_t pn)
{
    msc_pages_t *t = &msc__gil_pages;
    if (!t->map) return NULL;
    if ((t->count + 1) * 2 > t->mask + 1 && map_pages(t, 64 - t->shift + 1) < 0) {
        msc__stop_recording();
        return NULL;
    }
    msc_size_page_t *page = page_new(t);
    if (!page) {
        msc__stop_recording();
        return NULL;
    }
    page->page = pn;
    size_t i = (size_t)(pn * 0x9E3779B97F4A7C15ull >> t->shift);
    while (t->map[i]) i = (i + 1) & t->mask;
    t->map[i] = page;
    t->count++;
    return t->last = page;
}

static void unmap_pages(msc_pages_t *t)
{
    if (t->map) munmap(t->map, (t->mask + 1) * sizeof(*t->map));
    for (void *slab = t->slabs, *next; slab; slab = next) {
        next = *(void **)slab;
        munmap(slab, SLAB_BYTES);
    }
    memset(t, 0, sizeof(*t));
}

void msc__traced_gil_add_other(int kind, uintptr_t p, uint64_t n)
{
    int64_t old = sizes_take(&msc__gil_sizes, p);
    if (old >= 0) msc_traced_uncount(&msc__gil_counts, (uint64_t)old); /* its free was missed */
    if (sizes_put(&msc__gil_sizes, kind, p, n) == 0)
        msc_traced_count(&msc__gil_counts, &msc__shared_counts, kind, n);
}

int64_t msc__traced_gil_take_other(uintptr_t p)
{
    int64_t sk = sizes_take(&msc__gil_sizes, p);
    if (sk >= 0) msc_traced_uncount(&msc__gil_counts, (uint64_t)sk);
    return sk;
}

static void reset_counts(msc_traced_counts_t *c)
{
    for (int k = 0; k < MSC_TRACED_KINDS; k++) atomic_store(&c->bytes[k], 0);
    atomic_store(&c->total, 0);
    atomic_store(&c->peak, 0);
}

int msc_traced_start(int exact, int now)
{
    pthread_mutex_lock(&msc__rec.side_mutex);
    msc_traced_stop_unlocked();
    reset_counts(&msc__gil_counts);
    reset_counts(&msc__shared_counts);
    atomic_store(&msc__shared_pyblocks, 0);
    int rc = 0;
    if (exact && (map_empty(&shared_sizes, MIN_SLOTS_LOG2) < 0 ||
                  map_empty(&msc__gil_sizes, MIN_SLOTS_LOG2) < 0 ||
                  map_pages(&msc__gil_pages, MIN_SLOTS_LOG2) < 0)) {
        msc_traced_stop_unlocked();
        rc = -1;
    }
    atomic_store(&msc__traced_on, exact && now && rc == 0);
    pthread_mutex_unlock(&msc__rec.side_mutex);
    return rc;
}

void msc_traced_stop_unlocked(void)
{
    atomic_store(&msc__traced_on, 0);
    unmap(&shared_sizes);
    unmap(&msc__gil_sizes);
    unmap_pages(&msc__gil_pages);
}

/* A live block of the capture, into the table its kind's events use. */
static void seed_block(void *arg, uint64_t addr, uint64_t domain, uint64_t size)
{
    (void)arg;
    int kind = msc_traced_kind(domain == MSC_DOMAIN_OTHER ? MSC_DOMAIN_FOREIGN : domain);
    if (kind == MSC_TRACED_MEM || kind == MSC_TRACED_OBJ) msc_traced_gil_add(kind, addr, size);
    else if (kind >= 0) msc_traced_shared_add_unlocked(kind, addr, size);
}

int msc_traced_seed_unlocked(const char *path)
{
    msc_error_info_t info = {0, NULL};
    int err;
    msc_replay_t *r = msc_replay_open(path, MSC_REPLAY_FOLLOW, &err, &info);
    if (!r) return err;
    msc_analysis_t *a = msc_analysis_new();
    err = a ? msc_replay_run(r, msc_analysis_event, a, &info) : MSC_ENOMEM;
    if (err == MSC_ETRUNCATED) err = 0; /* the file goes on: everything so far is read */
    if (!err) err = msc_analysis_finish(a);
    if (!err) {
        msc_analysis_each_live(a, seed_block, NULL);
        /* The peak before now is the capture's; the counters go on from it. */
        uint64_t peak = msc_analysis_summary(a)->peak_bytes;
        if (peak > atomic_load(&msc__gil_counts.peak)) atomic_store(&msc__gil_counts.peak, peak);
        atomic_store(&msc__traced_on, 1);
    }
    msc_analysis_free(a);
    msc_replay_free(r);
    return err;
}

void msc_traced_read(uint64_t *current, uint64_t *peak, uint64_t by_kind[MSC_TRACED_KINDS])
{
    for (int k = 0; by_kind && k < MSC_TRACED_KINDS; k++)
        by_kind[k] = atomic_load_explicit(&msc__gil_counts.bytes[k], memory_order_relaxed) +
                     atomic_load_explicit(&msc__shared_counts.bytes[k], memory_order_relaxed);
    uint64_t gil = atomic_load_explicit(&msc__gil_counts.total, memory_order_relaxed);
    uint64_t shared = atomic_load_explicit(&msc__shared_counts.total, memory_order_relaxed);
    uint64_t p1 = atomic_load_explicit(&msc__gil_counts.peak, memory_order_relaxed);
    uint64_t p2 = atomic_load_explicit(&msc__shared_counts.peak, memory_order_relaxed);
    *current = gil + shared;
    *peak = p1 > p2 ? p1 : p2;
    if (*current > *peak) *peak = *current;
}

static int is_pyblock(uint64_t size_kind)
{
    int kind = (int)(size_kind & 3);
    return kind == MSC_TRACED_MEM || kind == MSC_TRACED_OBJ;
}

void msc_traced_shared_add_unlocked(int kind, uintptr_t p, uint64_t n)
{
    msc_traced_shared_take_unlocked(p); /* a block there whose free was never seen */
    if (sizes_put(&shared_sizes, kind, p, n) < 0) return;
    if (is_pyblock((uint64_t)kind))
        atomic_fetch_add_explicit(&msc__shared_pyblocks, 1, memory_order_relaxed);
    msc_traced_count(&msc__shared_counts, &msc__gil_counts, kind, n);
}

int64_t msc_traced_shared_take_unlocked(uintptr_t p)
{
    int64_t sk = sizes_take(&shared_sizes, p);
    if (sk < 0) return -1;
    msc_traced_uncount(&msc__shared_counts, (uint64_t)sk);
    if (is_pyblock((uint64_t)sk))
        atomic_fetch_sub_explicit(&msc__shared_pyblocks, 1, memory_order_relaxed);
    return sk;
}

void msc_traced_sampled(int kind, int64_t delta)
{
    if (delta >= 0) msc_traced_count(&msc__shared_counts, &msc__gil_counts, kind, (uint64_t)delta);
    else msc_traced_uncount(&msc__shared_counts, (uint64_t)-delta << 2 | (uint64_t)kind);
}
