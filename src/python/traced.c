/* The traced memory (traced.h): the two size tables' life, growth and
 * removals, the shared table under its lock, and the reading of the
 * counters. The GIL table's additions and lookups are inline in traced.h,
 * on the hot path of every MEM and OBJ event. */
#include "traced.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "recorder.h"

#define MIN_SLOTS_LOG2 12              /* 64 KiB a table to start with */

msc_sizes_t msc__gil_sizes;
msc_traced_counts_t msc__gil_counts;
msc_traced_counts_t msc__shared_counts;
_Atomic size_t msc__shared_pyblocks;

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER; /* protects shared_sizes
                                                       and writes to msc__shared_counts
                                                       and msc__shared_pyblocks */
static msc_sizes_t shared_sizes;

static msc_size_slot_t *map_slots(size_t n)
{
    void *p = mmap(NULL, n * sizeof(msc_size_slot_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void unmap(msc_sizes_t *t)
{
    if (t->slots) munmap(t->slots, (t->mask + 1) * sizeof(msc_size_slot_t));
    memset(t, 0, sizeof(*t));
}

static int map_empty(msc_sizes_t *t, unsigned log2)
{
    t->slots = map_slots((size_t)1 << log2);
    t->mask = ((size_t)1 << log2) - 1;
    t->shift = 64 - log2;
    t->count = 0;
    return t->slots ? 0 : -1;
}

void msc__traced_grow(msc_sizes_t *t)
{
    if (!t->slots) return;
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

int64_t msc__traced_gil_take_at(size_t i)
{
    uint64_t sk = remove_at(&msc__gil_sizes, i);
    msc_traced_uncount(&msc__gil_counts, sk);
    return (int64_t)sk;
}

static void reset_counts(msc_traced_counts_t *c)
{
    for (int k = 0; k < MSC_TRACED_KINDS; k++) atomic_store(&c->bytes[k], 0);
    atomic_store(&c->total, 0);
    atomic_store(&c->peak, 0);
}

int msc_traced_start(int exact)
{
    msc_traced_stop();
    reset_counts(&msc__gil_counts);
    pthread_mutex_lock(&shared_lock);
    reset_counts(&msc__shared_counts);
    atomic_store(&msc__shared_pyblocks, 0);
    int rc = exact ? map_empty(&shared_sizes, MIN_SLOTS_LOG2) : 0;
    pthread_mutex_unlock(&shared_lock);
    if (rc == 0 && exact) rc = map_empty(&msc__gil_sizes, MIN_SLOTS_LOG2);
    if (rc < 0) msc_traced_stop();
    return rc;
}

void msc_traced_stop(void)
{
    pthread_mutex_lock(&shared_lock);
    unmap(&shared_sizes);
    pthread_mutex_unlock(&shared_lock);
    unmap(&msc__gil_sizes);
}

void msc_traced_lock(void)
{
    pthread_mutex_lock(&shared_lock);
}

void msc_traced_unlock(void)
{
    pthread_mutex_unlock(&shared_lock);
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

/* Takes the block at i out of the shared table and its counters. */
static uint64_t shared_remove_unlocked(size_t i)
{
    uint64_t sk = remove_at(&shared_sizes, i);
    msc_traced_uncount(&msc__shared_counts, sk);
    if (is_pyblock(sk)) atomic_fetch_sub_explicit(&msc__shared_pyblocks, 1, memory_order_relaxed);
    return sk;
}

void msc_traced_shared_add(int kind, uintptr_t p, uint64_t n)
{
    msc_sizes_t *t = &shared_sizes;
    pthread_mutex_lock(&shared_lock);
    if ((t->count + 1) * 2 > t->mask + 1) msc__traced_grow(t);
    if (t->count + 1 <= t->mask) {
        size_t i = msc_sizes_home(t, p);
        while (t->slots[i].addr && t->slots[i].addr != p) i = (i + 1) & t->mask;
        if (t->slots[i].addr) shared_remove_unlocked(i);
        i = msc_sizes_home(t, p);
        while (t->slots[i].addr) i = (i + 1) & t->mask;
        t->slots[i] = (msc_size_slot_t){p, n << 2 | (uint64_t)kind};
        t->count++;
        if (is_pyblock((uint64_t)kind))
            atomic_fetch_add_explicit(&msc__shared_pyblocks, 1, memory_order_relaxed);
        msc_traced_count(&msc__shared_counts, &msc__gil_counts, kind, n);
    }
    pthread_mutex_unlock(&shared_lock);
}

int64_t msc_traced_shared_take(uintptr_t p)
{
    const msc_sizes_t *t = &shared_sizes;
    int64_t sk = -1;
    pthread_mutex_lock(&shared_lock);
    if (t->slots) {
        size_t i = msc_sizes_home(t, p);
        for (; t->slots[i].addr; i = (i + 1) & t->mask) {
            if (t->slots[i].addr == p) {
                sk = (int64_t)shared_remove_unlocked(i);
                break;
            }
        }
    }
    pthread_mutex_unlock(&shared_lock);
    return sk;
}

void msc_traced_sampled(int kind, int64_t delta)
{
    if (delta >= 0) msc_traced_count(&msc__shared_counts, &msc__gil_counts, kind, (uint64_t)delta);
    else msc_traced_uncount(&msc__shared_counts, (uint64_t)-delta << 2 | (uint64_t)kind);
}
