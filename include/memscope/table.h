/* One open-addressing index and one array grow helper for the cold paths
 * (the exports' frame tables, call trees, the heap file reader). The table
 * holds no keys: each slot is the number of an entry in the caller's own
 * array, plus one (0: empty). The caller hashes and compares inline while
 * probing, so a lookup costs no call:
 *
 *   if (msc_table_reserve(&t, hash_of, ctx) < 0) return MSC_ENOMEM;
 *   size_t i = msc_table_slot(&t, hash);
 *   for (uint32_t e; (e = msc_table_entry(&t, i)) != MSC_TABLE_EMPTY;
 *        i = msc_table_next(&t, i))
 *       if (same(&entries[e], key)) return e;
 *   entries[n] = key;
 *   msc_table_set(&t, i, n);
 *
 * The table stays at most half full; growing it rehashes every entry
 * through the caller's hash function (the only call, once per growth).
 * Hot tables with layouts of their own (the analyser's live map, the
 * symbols' node index, the recorder's tries, the call tree's per-level
 * candidates) do not use it. */
#ifndef MEMSCOPE_TABLE_H
#define MEMSCOPE_TABLE_H

#include <stddef.h>
#include <stdint.h>

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
/* Room for one more entry, growing (and rehashing with hash) when the table
 * would pass half full; 0 or MSC_ENOMEM (the table is then unchanged). */
int msc_table_reserve(msc_table_t *t, msc_table_hash_fn hash, const void *ctx);
/* Room for n entries at once, before any is added; 0 or MSC_ENOMEM. */
int msc_table_presize(msc_table_t *t, size_t n);

/* The first slot to probe for hash (mixed here: callers may pass plain
 * pointers and ids), and the next one. */
static inline size_t msc_table_slot(const msc_table_t *t, uint64_t hash)
{
    return (size_t)(hash * 0x9E3779B97F4A7C15ull >> 20) & t->mask;
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

/* Puts entry e at the empty slot i (found by probing since the last
 * reserve). */
static inline void msc_table_set(msc_table_t *t, size_t i, uint32_t e)
{
    t->slots[i] = e + 1;
    t->n++;
}

/* Grows *p, an array of elem-sized items with room for *cap, to hold at
 * least need (doubling, from 1024); 0 or MSC_ENOMEM (*p unchanged). */
int msc_array_grow(void **p, size_t *cap, size_t need, size_t elem);

#endif
