/* The cold paths' open-addressing index and array growth (table.h). Growth
 * is the only place the table calls back: each entry's slot in the larger
 * table comes from the caller's hash, since the table keeps no keys. */
#include <string.h>

#include "memscope/common.h"
#include "memscope/table.h"

#define FIRST_SLOTS 1024

void msc_table_init(msc_table_t *t)
{
    memset(t, 0, sizeof(*t));
}

void msc_table_release(msc_table_t *t)
{
    msc_free(t->slots);
    msc_table_init(t);
}

/* Moves every entry into a table of mask + 1 slots. */
static int rebuild(msc_table_t *t, size_t mask, msc_table_hash_fn hash, const void *ctx)
{
    uint32_t *slots = msc_calloc(mask + 1, sizeof(uint32_t));
    if (!slots) return MSC_ENOMEM;
    msc_table_t grown = {slots, mask, t->n};
    for (size_t i = 0; t->slots && i <= t->mask; i++) {
        if (!t->slots[i]) continue;
        size_t j = msc_table_slot(&grown, hash(ctx, t->slots[i] - 1));
        while (slots[j]) j = msc_table_next(&grown, j);
        slots[j] = t->slots[i];
    }
    msc_free(t->slots);
    *t = grown;
    return 0;
}

int msc_table_reserve(msc_table_t *t, msc_table_hash_fn hash, const void *ctx)
{
    if (t->slots && (t->n + 1) * 2 <= t->mask) return 0;
    return rebuild(t, t->slots ? t->mask * 2 + 1 : FIRST_SLOTS - 1, hash, ctx);
}

int msc_table_presize(msc_table_t *t, size_t n)
{
    size_t mask = FIRST_SLOTS - 1;
    while ((n + 1) * 2 > mask) mask = mask * 2 + 1;
    if (t->slots && mask <= t->mask) return 0;
    if (t->n) return MSC_EUSAGE; /* entries would need their hashes */
    return rebuild(t, mask, NULL, NULL);
}

int msc_array_grow(void **p, size_t *cap, size_t need, size_t elem)
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
