/* The live-allocation map: address -> (size, stack) for every block
 * allocated and not yet freed. Open addressing with linear probing and
 * backward-shift deletion, so lookups never wade through tombstones and the
 * table stays at most half full. Address 0 marks an empty slot. The
 * analyser keeps every live block here; the recorder its sampled blocks.
 * Memory comes from msc_malloc; the map is not thread-safe. */
#ifndef MEMSCOPE_LIVEMAP_H
#define MEMSCOPE_LIVEMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct msc_live {
    uint64_t addr;
    uint64_t size;             /* bytes this block stands for */
    uint32_t stack;
    uint32_t count;            /* blocks it stands for: 1, or a sample's weight */
} msc_live_t;

typedef struct msc_livemap {
    msc_live_t *slots;
    size_t mask;
    size_t count;
} msc_livemap_t;

static inline size_t msc_livemap_slot(uint64_t addr, size_t mask)
{
    return (size_t)(((addr >> 4) * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

/* Starts loading addr's first slot into the cache, for a lookup soon. */
static inline void msc_livemap_prefetch(const msc_livemap_t *m, uint64_t addr)
{
    __builtin_prefetch(&m->slots[msc_livemap_slot(addr, m->mask)]);
}

int msc_livemap_init(msc_livemap_t *m);
void msc_livemap_release(msc_livemap_t *m);

/* Inserts or replaces addr. On replace, *old receives the previous entry and
 * 1 is returned; 0 for a new entry; MSC_ENOMEM if the table cannot grow. */
int msc_livemap_put(msc_livemap_t *m, const msc_live_t *block, msc_live_t *old);

/* Copies the entry of addr into *out without removing it: 1 if addr is
 * live, 0 if not. */
int msc_livemap_find(const msc_livemap_t *m, uint64_t addr, msc_live_t *out);

/* Removes addr into *out: 1 if it was live, 0 if not. */
int msc_livemap_take(msc_livemap_t *m, uint64_t addr, msc_live_t *out);

#endif
