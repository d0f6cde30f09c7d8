/* The live-allocation map (livemap.h): the analyser's only structure whose
 * size follows the program's live heap rather than its distinct stacks. */
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "memscope/livemap.h"

int msc_livemap_init(msc_livemap_t *m)
{
    m->mask = (1u << 16) - 1;
    m->count = 0;
    m->slots = msc_calloc(m->mask + 1, sizeof(msc_live_t));
    return m->slots ? 0 : MSC_ENOMEM;
}

void msc_livemap_release(msc_livemap_t *m)
{
    MSC_DEBUG_CHECK(msc__livemap_check(m));
    msc_free(m->slots);
    m->slots = NULL;
}

static int grow(msc_livemap_t *m)
{
    size_t mask = m->mask * 2 + 1;
    size_t bytes = (mask + 1) * sizeof(msc_live_t);
    msc_live_t *slots = msc_malloc(bytes);
    if (!slots) return MSC_ENOMEM;
    msc__advise_huge_pages(slots, bytes); /* before the first touch faults pages in */
    memset(slots, 0, bytes);
    for (size_t i = 0; i <= m->mask; i++) {
        if (!m->slots[i].addr) continue;
        size_t j = msc_livemap_slot(m->slots[i].addr, mask);
        while (slots[j].addr) j = (j + 1) & mask;
        slots[j] = m->slots[i];
    }
    msc_free(m->slots);
    m->slots = slots;
    m->mask = mask;
    MSC_DEBUG_CHECK(msc__livemap_check(m));
    return 0;
}

int msc_livemap_put(msc_livemap_t *m, const msc_live_t *block, msc_live_t *old)
{
    if ((m->count + 1) * 2 > m->mask + 1 && grow(m) < 0) return MSC_ENOMEM;
    size_t i = msc_livemap_slot(block->addr, m->mask);
    for (; m->slots[i].addr; i = (i + 1) & m->mask) {
        if (m->slots[i].addr == block->addr) {
            *old = m->slots[i];
            m->slots[i] = *block;
            return 1;
        }
    }
    m->slots[i] = *block;
    m->count++;
    return 0;
}

int msc_livemap_find(const msc_livemap_t *m, uint64_t addr, msc_live_t *out)
{
    if (!addr) return 0;
    for (size_t i = msc_livemap_slot(addr, m->mask); m->slots[i].addr; i = (i + 1) & m->mask) {
        if (m->slots[i].addr == addr) {
            *out = m->slots[i];
            return 1;
        }
    }
    return 0;
}

int msc_livemap_take(msc_livemap_t *m, uint64_t addr, msc_live_t *out)
{
    size_t i = msc_livemap_slot(addr, m->mask);
    for (;; i = (i + 1) & m->mask) {
        if (!m->slots[i].addr) return 0;
        if (m->slots[i].addr == addr) break;
    }
    *out = m->slots[i];
    /* Backward shift: pull later members of the probe run into the hole. */
    size_t hole = i;
    for (size_t j = (i + 1) & m->mask; m->slots[j].addr; j = (j + 1) & m->mask) {
        size_t home = msc_livemap_slot(m->slots[j].addr, m->mask);
        if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].addr = 0;
    m->count--;
    return 1;
}

/* Whether the entry in slot i is found by a lookup of its address: the run
 * from its home slot reaches i with no empty slot and no earlier entry of
 * the same address on the way. */
static int reachable(const msc_livemap_t *m, size_t i)
{
    uint64_t addr = m->slots[i].addr;
    for (size_t j = msc_livemap_slot(addr, m->mask); j != i; j = (j + 1) & m->mask)
        if (!m->slots[j].addr || m->slots[j].addr == addr) return 0;
    return 1;
}

int msc__livemap_check(const msc_livemap_t *m)
{
    if (!m->slots) return 0; /* released, or never initialised */
    if ((m->mask & (m->mask + 1)) || m->count * 2 > m->mask + 1) return MSC_ECORRUPT;
    size_t used = 0;
    for (size_t i = 0; i <= m->mask; i++) {
        if (!m->slots[i].addr) continue;
        used++;
        if (!reachable(m, i)) return MSC_ECORRUPT;
    }
    return used == m->count ? 0 : MSC_ECORRUPT;
}
