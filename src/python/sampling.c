/* The sampled-pointer set and the sampling gaps (sampling.h). The set is
 * open addressing with backward-shift deletion; its memory comes from the
 * core allocator pair, which the recorder points at the untraced raw
 * allocator. Only sampled allocations (one per R bytes on average) and frees
 * that pass the filter take the lock. */
#include "sampling.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "memscope/common.h"

typedef struct slot {
    uintptr_t ptr;             /* 0 = empty */
    uint64_t size;
} slot_t;

_Atomic uint8_t msc_sampled_filter[1u << MSC_FILTER_BITS];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* protects slots, mask, count and
                                                            writes to the filter */
static slot_t *slots;
static size_t mask, count;

static size_t home(uintptr_t p, size_t m)
{
    return (size_t)((((uint64_t)p >> 4) * 0xBF58476D1CE4E5B9ull) >> 17) & m;
}

int msc_sampled_init(void)
{
    msc_sampled_release();
    pthread_mutex_lock(&lock);
    mask = 4095;
    count = 0;
    slots = msc_calloc(mask + 1, sizeof(slot_t));
    memset((void *)msc_sampled_filter, 0, sizeof(msc_sampled_filter));
    pthread_mutex_unlock(&lock);
    return slots ? 0 : -1;
}

void msc_sampled_release(void)
{
    pthread_mutex_lock(&lock);
    msc_free(slots);
    slots = NULL;
    pthread_mutex_unlock(&lock);
}

static int grow_unlocked(void)
{
    size_t m = mask * 2 + 1;
    slot_t *grown = msc_calloc(m + 1, sizeof(slot_t));
    if (!grown) return -1;
    for (size_t i = 0; i <= mask; i++) {
        if (!slots[i].ptr) continue;
        size_t j = home(slots[i].ptr, m);
        while (grown[j].ptr) j = (j + 1) & m;
        grown[j] = slots[i];
    }
    msc_free(slots);
    slots = grown;
    mask = m;
    return 0;
}

int msc_sampled_add(uintptr_t p, uint64_t size)
{
    int rc = 0;
    pthread_mutex_lock(&lock);
    if (!slots || ((count + 1) * 2 > mask && grow_unlocked() < 0)) {
        rc = -1;
    } else {
        size_t i = home(p, mask);
        while (slots[i].ptr && slots[i].ptr != p) i = (i + 1) & mask;
        if (!slots[i].ptr) {
            count++;
            _Atomic uint8_t *f = &msc_sampled_filter[msc_sampled_bucket(p)];
            uint8_t v = atomic_load_explicit(f, memory_order_relaxed);
            if (v < 255) atomic_store_explicit(f, v + 1, memory_order_relaxed);
        }
        slots[i] = (slot_t){p, size};
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int msc_sampled_take(uintptr_t p, uint64_t *size)
{
    pthread_mutex_lock(&lock);
    size_t i = slots ? home(p, mask) : 0;
    while (slots && slots[i].ptr && slots[i].ptr != p) i = (i + 1) & mask;
    if (!slots || !slots[i].ptr) {
        pthread_mutex_unlock(&lock);
        return 0;
    }
    if (size) *size = slots[i].size;
    size_t hole = i;
    for (size_t j = (i + 1) & mask; slots[j].ptr; j = (j + 1) & mask) {
        size_t h = home(slots[j].ptr, mask);
        if (((j - h) & mask) >= ((j - hole) & mask)) {
            slots[hole] = slots[j];
            hole = j;
        }
    }
    slots[hole].ptr = 0;
    count--;
    _Atomic uint8_t *f = &msc_sampled_filter[msc_sampled_bucket(p)];
    uint8_t v = atomic_load_explicit(f, memory_order_relaxed);
    if (v < 255) atomic_store_explicit(f, v - 1, memory_order_relaxed);
    pthread_mutex_unlock(&lock);
    return 1;
}

int64_t msc_sample_gap(uint64_t *rng, uint64_t mean_bytes)
{
    /* xorshift64*: a uniform double in (0, 1], then the inverse CDF. */
    uint64_t x = *rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rng = x;
    double u = (double)((x * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
    double gap = -log(1.0 - u) * (double)mean_bytes;
    return gap < 1 ? 1 : gap > 9e18 ? (int64_t)9e18 : (int64_t)gap;
}
