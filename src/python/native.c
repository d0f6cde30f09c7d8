/* Native recording: the wrappers that every loaded object's calls to malloc,
 * calloc, realloc, reallocarray, free, posix_memalign, aligned_alloc,
 * memalign, valloc, pvalloc, mmap, mremap and munmap reach once patched
 * (elfpatch.h). Each forwards to the C library's function and, while a
 * native capture is active, records the block in domain NATIVE (or the
 * mapping in domain MMAP) with the calling thread's Python stack, through
 * the same path as the RAW domain's GIL-less events (hooks.c).
 *
 * Nothing is counted twice: the Python allocator wrappers set msc__busy
 * around the allocator they wrap, so the malloc under a RAW block and the
 * mmap under a pymalloc arena arrive here busy and are only forwarded; so
 * are the recorder's own allocations (its writer thread is marked busy for
 * its whole life). A wrapper never allocates, never takes the GIL and never
 * calls into the interpreter: the stack is read from the thread's frames. */
#include "recorder.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "elfpatch.h"
#include "native.h"

#define R msc__rec

_Atomic int msc__native_on;

/* Whether this call is recorded: not the recorder's own, and a native
 * capture is running. Sets msc__busy when it is. */
static inline int enter(void)
{
    if (msc__busy || !msc__native_recording()) return 0;
    msc__busy = 1;
    return 1;
}

static inline void leave_alloc(void *p, size_t n)
{
    if (p && atomic_load_explicit(&R.active, memory_order_relaxed))
        msc__record_alloc(MSC_DOMAIN_NATIVE, p, n);
    msc__busy = 0;
}

static void *w_malloc(size_t n)
{
    if (!enter()) return malloc(n);
    void *p = malloc(n);
    leave_alloc(p, n);
    return p;
}

static void *w_calloc(size_t nelem, size_t elsize)
{
    if (!enter()) return calloc(nelem, elsize);
    void *p = calloc(nelem, elsize);
    leave_alloc(p, nelem * elsize); /* calloc refused an overflowing product */
    return p;
}

static void w_free(void *p)
{
    if (p && enter()) {
        if (atomic_load_explicit(&R.active, memory_order_relaxed))
            msc__record_free(MSC_DOMAIN_NATIVE, p, 0);
        msc__busy = 0;
    }
    free(p);
}

/* A realloc is the free of the old block, recorded before the call (so a
 * thread given the address next is ordered after it), and the new block
 * after. A failed call leaves the old block live, so it is recorded again. */
static void *w_realloc(void *old, size_t n)
{
    if (!enter()) return realloc(old, n);
    int active = atomic_load_explicit(&R.active, memory_order_relaxed);
    if (old && active) msc__record_free(MSC_DOMAIN_NATIVE, old, 0);
    void *p = realloc(old, n);
    if (!p && old && n && active) {
        size_t was = malloc_usable_size(old);
        msc__record_alloc(MSC_DOMAIN_NATIVE, old, was);
    }
    leave_alloc(p, n);
    return p;
}

static void *w_reallocarray(void *old, size_t nelem, size_t elsize)
{
    size_t n;
    if (__builtin_mul_overflow(nelem, elsize, &n)) return reallocarray(old, nelem, elsize);
    return w_realloc(old, n);
}

static int w_posix_memalign(void **out, size_t align, size_t n)
{
    if (!enter()) return posix_memalign(out, align, n);
    int rc = posix_memalign(out, align, n);
    leave_alloc(rc == 0 ? *out : NULL, n);
    return rc;
}

static void *w_aligned_alloc(size_t align, size_t n)
{
    if (!enter()) return aligned_alloc(align, n);
    void *p = aligned_alloc(align, n);
    leave_alloc(p, n);
    return p;
}

static void *w_memalign(size_t align, size_t n)
{
    if (!enter()) return memalign(align, n);
    void *p = memalign(align, n);
    leave_alloc(p, n);
    return p;
}

static void *w_valloc(size_t n)
{
    if (!enter()) return valloc(n);
    void *p = valloc(n);
    leave_alloc(p, n);
    return p;
}

static void *w_pvalloc(size_t n)
{
    if (!enter()) return pvalloc(n);
    void *p = pvalloc(n);
    leave_alloc(p, n);
    return p;
}

/*
 * Mappings: an anonymous mmap is an allocation of its length in domain
 * MMAP (a file's mapping is the file's pages, not memory the program
 * allocated: the RSS split counts those as file-backed); an munmap names
 * the range it unmaps, which may be part of a mapping.
 */

static void record_mapping(void *p, size_t n)
{
    if (p != MAP_FAILED && atomic_load_explicit(&R.active, memory_order_relaxed))
        msc__record_alloc(MSC_DOMAIN_MMAP, p, n);
}

static void *w_mmap(void *addr, size_t n, int prot, int flags, int fd, off_t off)
{
    if (!enter()) return mmap(addr, n, prot, flags, fd, off);
    void *p = mmap(addr, n, prot, flags, fd, off);
    if (flags & MAP_ANONYMOUS) record_mapping(p, n);
    msc__busy = 0;
    return p;
}

static int w_munmap(void *addr, size_t n)
{
    if (!enter()) return munmap(addr, n);
    if (atomic_load_explicit(&R.active, memory_order_relaxed))
        msc__record_free(MSC_DOMAIN_MMAP, addr, n);
    msc__busy = 0;
    return munmap(addr, n);
}

/* The optional fifth argument (MREMAP_FIXED's new address) is passed on
 * whatever the flags: the kernel reads it only when told to. */
static void *w_mremap(void *old, size_t old_n, size_t n, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    void *want = va_arg(ap, void *);
    va_end(ap);
    if (!enter()) return mremap(old, old_n, n, flags, want);
    int active = atomic_load_explicit(&R.active, memory_order_relaxed);
    if (active) msc__record_free(MSC_DOMAIN_MMAP, old, old_n);
    void *p = mremap(old, old_n, n, flags, want);
    if (p == MAP_FAILED) record_mapping(old, old_n);
    else record_mapping(p, n);
    msc__busy = 0;
    return p;
}

int msc__native_install(void)
{
    static msc_patch_t patches[] = {
        {"malloc", NULL, (void *)w_malloc},
        {"calloc", NULL, (void *)w_calloc},
        {"realloc", NULL, (void *)w_realloc},
        {"reallocarray", NULL, (void *)w_reallocarray},
        {"free", NULL, (void *)w_free},
        {"posix_memalign", NULL, (void *)w_posix_memalign},
        {"aligned_alloc", NULL, (void *)w_aligned_alloc},
        {"memalign", NULL, (void *)w_memalign},
        {"valloc", NULL, (void *)w_valloc},
        {"pvalloc", NULL, (void *)w_pvalloc},
        {"mmap", NULL, (void *)w_mmap},
        {"mmap64", NULL, (void *)w_mmap},
        {"munmap", NULL, (void *)w_munmap},
        {"mremap", NULL, (void *)w_mremap},
    };
    static int done;
    if (done) return 0;
    if (msc__elf_patch(patches, sizeof(patches) / sizeof(patches[0])) < 0) return -1;
    done = 1;
    return 0;
}
