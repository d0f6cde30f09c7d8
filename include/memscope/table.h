/* One open-addressing index and one array grow helper for the cold paths
 * (the exports' frame tables, call trees, the heap file reader). The table
 * holds no keys: entries are numbered 0, 1, 2 ... in the order added, and
 * each slot is the number of an entry in the caller's own array, plus one
 * (0: empty). The caller hashes and compares inline while probing, so a
 * lookup costs no call:
 *
 *   if (msc_table_reserve(&t, hash_of, ctx) < 0) return MSC_ENOMEM;
 *   size_t i = msc_table_slot(&t, hash);
 *   for (uint32_t e; (e = msc_table_entry(&t, i)) != MSC_TABLE_EMPTY;
 *        i = msc_table_next(&t, i))
 *       if (same(&entries[e], key)) return e;
 *   entries[t.n] = key;
 *   return msc_table_add(&t, i);
 *
 * The table stays at most half full; growing it rehashes every entry
 * through the caller's hash function (inlined too where it is a constant).
 * Hot tables with layouts of their own (the analyser's live map, the
 * symbols' node index, the recorder's tries, the call tree's per-level
 * candidates) do not use it. */
#ifndef MEMSCOPE_TABLE_H
#define MEMSCOPE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "memscope/common.h"

#define MSC_TABLE_EMPTY UINT32_MAX

typedef struct msc_table {
    uint32_t *slots;           /* owned: entry + 1, 0 = empty; mask + 1 of them */
    size_t mask;               /* slots - 1; 0 before the first reserve */
    size_t n;                  /* entries held */
} msc_table_t;

/* The hash of entry e (the value msc_table_slot was given for it). */
typedef uint64_t (*msc_table_hash_fn)(const void *ctx, uint32_t e);

void msc_table_init(msc_table_t *t);
void msc_table_release(msc_table_t *t);
/* Room for n entries at once, before any is added; 0 or MSC_ENOMEM. */
int msc_table_presize(msc_table_t *t, size_t n);

/* The first slot to probe for hash (mixed here: callers may pass plain
 * pointers and ids packed in words), and the next one. The high half is
 * folded in first: keys that differ only there (an id shifted left 32)
 * must not share a probe chain. */
static inline size_t msc_table_slot(const msc_table_t *t, uint64_t hash)
{
    hash ^= hash >> 32;
    return (size_t)(hash * 0x9E3779B97F4A7C15ull >> 32) & t->mask;
}

static inline size_t msc_table_next(const msc_table_t *t, size_t i)
{
    return (i + 1) & t->mask;
}

/* The entry at slot i, or MSC_TABLE_EMPTY. */
static inline uint32_t msc_table_entry(const msc_table_t *t, size_t i)
{
    return t->slots[i] - 1;
}

/* Adds the next entry (number t->n, returned) at the empty slot i, found
 * by probing since the last reserve. */
static inline uint32_t msc_table_add(msc_table_t *t, size_t i)
{
    t->slots[i] = (uint32_t)++t->n;
    return (uint32_t)t->n - 1;
}

/* A zeroed table of mask + 1 slots, or NULL (table.c). */
uint32_t *msc__table_slots(size_t mask);
void msc__table_free_slots(uint32_t *slots);

/* Room for one more entry, growing (and rehashing with hash) when the table
 * would pass half full; 0 or MSC_ENOMEM (the table is then unchanged).
 * Inline with the rehash loop, so a caller's hash function (a constant
 * where it is called) is inlined into it rather than called per entry. */
static inline int msc_table_reserve(msc_table_t *t, msc_table_hash_fn hash, const void *ctx)
{
    if ((t->n + 1) * 2 <= t->mask) return 0; /* mask 0: no table yet */
    msc_table_t grown = {NULL, t->mask ? t->mask * 2 + 1 : 1023, t->n};
    grown.slots = msc__table_slots(grown.mask);
    if (!grown.slots) return MSC_ENOMEM;
    for (size_t e = 0; e < t->n; e++) {
        size_t j = msc_table_slot(&grown, hash(ctx, (uint32_t)e));
        while (grown.slots[j]) j = msc_table_next(&grown, j);
        grown.slots[j] = (uint32_t)e + 1;
    }
    msc__table_free_slots(t->slots);
    *t = grown;
    return 0;
}
/* The growth behind msc_array_grow. */
int msc__array_grow(void **p, size_t *cap, size_t need, size_t elem);

/* Grows *p, an array of elem-sized items with room for *cap, to hold at
 * least need (doubling, from 1024); 0 or MSC_ENOMEM (*p unchanged). */
static inline int msc_array_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    return need <= *cap ? 0 : msc__array_grow(p, cap, need, elem);
}

#endif
