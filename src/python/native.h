/* Native recording (native.c): the malloc family and mmap, called from any
 * loaded object, recorded in domains NATIVE and MMAP with the Python stack
 * of the calling thread. */
#ifndef MEMSCOPE_NATIVE_H
#define MEMSCOPE_NATIVE_H

#include <stdatomic.h>

/* Set while a capture that records native allocations is active. */
extern _Atomic int msc__native_on;

static inline int msc__native_recording(void)
{
    return atomic_load_explicit(&msc__native_on, memory_order_relaxed);
}

/* Redirects every loaded object's calls to the malloc family, mmap, mremap
 * and munmap to the recording wrappers; once per process (later calls
 * return 0). 0, or -1 when this platform cannot be patched. */
int msc__native_install(void);

/* Redirects PyTraceMalloc_Track / _Untrack (foreign.c); once per process. */
int msc__foreign_install(void);

#endif
