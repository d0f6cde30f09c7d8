/* The cold paths' open-addressing index and array growth (table.h): the
 * parts that allocate. The probing and the rehash on growth are inline in
 * table.h, so each caller's hash function is inlined where it is used. */
#include <string.h>

#include "memscope/common.h"
#include "memscope/table.h"

#define FIRST_SLOTS 1024           /* as msc_table_reserve's first table */

void msc_table_init(msc_table_t *t)
{
    memset(t, 0, sizeof(*t));
}

void msc_table_release(msc_table_t *t)
{
    msc_free(t->slots);
    msc_table_init(t);
}

uint32_t *msc__table_slots(size_t mask)
{
    return msc_calloc(mask + 1, sizeof(uint32_t));
}

void msc__table_free_slots(uint32_t *slots)
{
    msc_free(slots);
}

int msc_table_presize(msc_table_t *t, size_t n)
{
    size_t mask = FIRST_SLOTS - 1;
    while ((n + 1) * 2 > mask) mask = mask * 2 + 1;
    if (t->slots && mask <= t->mask) return 0;
    if (t->n) return MSC_EUSAGE; /* entries would need their hashes */
    uint32_t *slots = msc__table_slots(mask);
    if (!slots) return MSC_ENOMEM;
    msc_free(t->slots);
    t->slots = slots;
    t->mask = mask;
    return 0;
}

int msc__array_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 1024;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem) return MSC_ENOMEM;
        n *= 2;
    }
    void *q = msc_realloc(*p, n * elem);
    if (!q) return MSC_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}
