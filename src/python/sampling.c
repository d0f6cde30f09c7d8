/* The sampled-pointer set and the sampling gaps (sampling.h). The set is
 * the analyser's live map (memscope/livemap.h) behind a lock; its memory
 * comes from the core allocator pair, which the recorder points at the
 * untraced raw allocator. Only sampled allocations (one per R bytes on
 * average) and frees that pass the filter take the lock. */
#include "sampling.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "memscope/analysis.h"
#include "memscope/common.h"
#include "memscope/livemap.h"
#include "traced.h"

_Atomic uint8_t msc_sampled_filter[1u << MSC_FILTER_BITS];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* protects set, ready and writes
                                                            to the filter */
static msc_livemap_t set;      /* sampled blocks: address -> size; stack holds the
                                  block's traced kind + 1 (0: not counted) */
static int ready;              /* set is initialised */
static uint64_t sample_mean;   /* the capture's mean bytes between samples */

/* Moves p's filter bucket count by delta (it saturates at 255 and stays). */
static void filter_add_unlocked(uintptr_t p, int delta)
{
    _Atomic uint8_t *f = &msc_sampled_filter[msc_sampled_bucket(p)];
    uint8_t v = atomic_load_explicit(f, memory_order_relaxed);
    if (v < 255) atomic_store_explicit(f, (uint8_t)(v + delta), memory_order_relaxed);
}

int msc_sampled_init(uint64_t sample_bytes)
{
    msc_sampled_release();
    pthread_mutex_lock(&lock);
    sample_mean = sample_bytes;
    memset((void *)msc_sampled_filter, 0, sizeof(msc_sampled_filter));
    ready = msc_livemap_init(&set) == 0;
    pthread_mutex_unlock(&lock);
    return ready ? 0 : -1;
}

void msc_sampled_release(void)
{
    pthread_mutex_lock(&lock);
    if (ready) msc_livemap_release(&set);
    ready = 0;
    pthread_mutex_unlock(&lock);
}

/* Moves the traced memory by the estimate of a block of the set. */
static void count_unlocked(const msc_live_t *block, int sign)
{
    if (!block->stack) return;
    int64_t bytes = (int64_t)msc_sampled_estimate(block->size, sample_mean);
    msc_traced_sampled((int)block->stack - 1, sign * bytes);
}

int msc_sampled_add(uintptr_t p, uint64_t size, int kind)
{
    msc_live_t block = {p, size, (uint32_t)(kind + 1), 1}, old;
    pthread_mutex_lock(&lock);
    int rc = ready ? msc_livemap_put(&set, &block, &old) : -1;
    if (rc == 0) filter_add_unlocked(p, 1);
    if (rc == 1) count_unlocked(&old, -1); /* its free was never seen */
    if (rc >= 0) count_unlocked(&block, 1);
    pthread_mutex_unlock(&lock);
    return rc < 0 ? -1 : 0;
}

int msc_sampled_take(uintptr_t p, msc_sampled_t *out)
{
    msc_live_t block;
    pthread_mutex_lock(&lock);
    int found = ready && msc_livemap_take(&set, p, &block);
    if (found) {
        filter_add_unlocked(p, -1);
        count_unlocked(&block, -1);
    }
    pthread_mutex_unlock(&lock);
    if (found && out) *out = (msc_sampled_t){block.size, (int)block.stack - 1};
    return found;
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
