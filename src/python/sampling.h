/* Sampled recording: each allocated byte is sampled with probability 1/R
 * (R = mean bytes between samples), by a per-thread countdown drawn from an
 * exponential distribution, so the analyser can unbias every sample exactly
 * (docs/format.md, "Sampled captures"). Frees matter only for sampled
 * blocks: a set of sampled pointers, guarded by a lock, sits behind a
 * lock-free filter that answers "certainly not sampled" for almost every free
 * without touching the lock. The set also keeps the traced memory's
 * estimates (traced.h) for the blocks of the domains it counts. */
#ifndef MEMSCOPE_SAMPLING_H
#define MEMSCOPE_SAMPLING_H

#include <stdatomic.h>
#include <stdint.h>

#define MSC_FILTER_BITS 20

/* Per filter bucket: sampled blocks live there (saturates at 255, then
 * stays). Written under the set's lock, read without it. */
extern _Atomic uint8_t msc_sampled_filter[1u << MSC_FILTER_BITS];

/* A bucket per 16 bytes of address (the allocators' alignment), taken
 * directly from the address, modulo 16 MiB. Every free reads one: direct,
 * the frees of one region read one cache line per KiB and stay in cache,
 * where a hashed bucket was a cache miss per free (84% of the free
 * wrapper's time in sampled mode). Addresses 16 MiB apart share a bucket:
 * a false "maybe", answered by the set under its lock. */
static inline uint32_t msc_sampled_bucket(uintptr_t p)
{
    return (uint32_t)((uint64_t)p >> 4) & ((1u << MSC_FILTER_BITS) - 1);
}

/* False means p is certainly not a live sampled block. */
static inline int msc_sampled_maybe(uintptr_t p)
{
    return atomic_load_explicit(&msc_sampled_filter[msc_sampled_bucket(p)], memory_order_relaxed) !=
           0;
}

/* A sampled block taken out of the set. */
typedef struct msc_sampled {
    uint64_t size;             /* requested bytes */
    int kind;                  /* its traced kind (traced.h), -1 if not counted */
} msc_sampled_t;

/* For a capture sampled once per sample_bytes on average: 0, or -1 when
 * memory runs out. */
int msc_sampled_init(uint64_t sample_bytes);
void msc_sampled_release(void);
/* Adds sampled block p; kind (msc_traced_kind, -1: none) has its estimate
 * added to the traced memory. 0, or -1 when memory runs out. */
int msc_sampled_add(uintptr_t p, uint64_t size, int kind);
/* 1 when p was a live sampled block (now removed, its estimate taken from
 * the traced memory, and copied to *out unless NULL), else 0. */
int msc_sampled_take(uintptr_t p, msc_sampled_t *out);

/* Bytes until the next sample: exponential with mean mean_bytes. */
int64_t msc_sample_gap(uint64_t *rng, uint64_t mean_bytes);

#endif
