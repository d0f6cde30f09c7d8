/* Sampled recording: each allocated byte is sampled with probability 1/R
 * (R = mean bytes between samples), by a per-thread countdown drawn from an
 * exponential distribution, so the analyser can unbias every sample exactly
 * (docs/format.md, "Sampled captures"). Frees matter only for sampled
 * blocks: a set of sampled pointers, guarded by a lock, sits behind a
 * lock-free filter that answers "certainly not sampled" for almost every free
 * without touching the lock. */
#ifndef MEMSCOPE_SAMPLING_H
#define MEMSCOPE_SAMPLING_H

#include <stdatomic.h>
#include <stdint.h>

#define MSC_FILTER_BITS 20

/* Per filter bucket: sampled blocks live there (saturates at 255, then
 * stays). Written under the set's lock, read without it. */
extern _Atomic uint8_t msc_sampled_filter[1u << MSC_FILTER_BITS];

static inline uint32_t msc_sampled_bucket(uintptr_t p)
{
    return (uint32_t)(((uint64_t)p >> 4) * 0x9E3779B97F4A7C15ull >> (64 - MSC_FILTER_BITS));
}

/* False means p is certainly not a live sampled block. */
static inline int msc_sampled_maybe(uintptr_t p)
{
    return atomic_load_explicit(&msc_sampled_filter[msc_sampled_bucket(p)],
                                memory_order_relaxed) != 0;
}

/* 0, or -1 when memory runs out. */
int msc_sampled_init(void);
void msc_sampled_release(void);
int msc_sampled_add(uintptr_t p, uint64_t size);
/* 1 and *size when p was a live sampled block (now removed), else 0. */
int msc_sampled_take(uintptr_t p, uint64_t *size);

/* Bytes until the next sample: exponential with mean mean_bytes. */
int64_t msc_sample_gap(uint64_t *rng, uint64_t mean_bytes);

#endif
