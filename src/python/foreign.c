/* Foreign domains: memory that extensions report through
 * PyTraceMalloc_Track / PyTraceMalloc_Untrack (numpy's array data in domain
 * 389047). CPython drops these reports unless tracemalloc is tracing, so the
 * calls are caught where they are made: every loaded object's GOT slots for
 * the two functions point here (elfpatch.h), including objects loaded after
 * recording starts. Each report is recorded in domain FOREIGN + d with the
 * calling thread's Python stack, then forwarded to CPython's function, so a
 * running tracemalloc sees it too.
 *
 * In a native capture the malloc under such a block is recorded already
 * (native.c); the report is then only forwarded, so nothing counts twice,
 * and only counted in the traced memory, which tracemalloc's domains make. */
#include "recorder.h"

#include "elfpatch.h"
#include "native.h"

#define R msc__rec

static inline int recording(void)
{
    return !msc__busy && atomic_load_explicit(&R.active, memory_order_relaxed);
}

static int track(unsigned int domain, uintptr_t ptr, size_t size)
{
    int rc = PyTraceMalloc_Track(domain, ptr, size);
    if (ptr && recording()) {
        msc__busy = 1;
        if (msc__native_recording())
            msc__count_alloc(MSC_DOMAIN_FOREIGN + (uint64_t)domain, (void *)ptr, size);
        else msc__record_alloc(MSC_DOMAIN_FOREIGN + (uint64_t)domain, (void *)ptr, size);
        msc__busy = 0;
    }
    return rc;
}

static int untrack(unsigned int domain, uintptr_t ptr)
{
    if (ptr && recording()) {
        msc__busy = 1;
        if (msc__native_recording())
            msc__count_free(MSC_DOMAIN_FOREIGN + (uint64_t)domain, (void *)ptr);
        else msc__record_free(MSC_DOMAIN_FOREIGN + (uint64_t)domain, (void *)ptr, 0);
        msc__busy = 0;
    }
    return PyTraceMalloc_Untrack(domain, ptr);
}

int msc__foreign_install(void)
{
    static msc_patch_t patches[] = {
        {"PyTraceMalloc_Track", (void *)PyTraceMalloc_Track, (void *)track},
        {"PyTraceMalloc_Untrack", (void *)PyTraceMalloc_Untrack, (void *)untrack},
    };
    static int done;
    if (done) return 0;
    if (msc__elf_patch(patches, sizeof(patches) / sizeof(patches[0])) < 0) return -1;
    done = 1;
    return 0;
}
