/* Heap snapshot files (docs/format.md, "Heap snapshot files"): writing a
 * finished heap, reading one back with every field validated, and reading
 * only its partition, for the files too big to load whole. */
#ifndef MEMSCOPE_HEAPFILE_H
#define MEMSCOPE_HEAPFILE_H

#include <stdint.h>

#include "memscope/chunk.h"
#include "memscope/heap.h"
#include "memscope/heapanalysis.h"

#define MSC_HEAP_MAGIC "MEMHEAP"           /* 8 bytes with its terminating NUL */
/* The snapshot format's version; every earlier one still reads: 1 has no
 * allocation sites; 2 unique strings but no digests or container lengths;
 * 3 no array summaries. */
#define MSC_HEAP_VERSION 4

/* Snapshot files. msc_heap_write: 0 or MSC_EIO / MSC_ENOMEM. msc_heap_read
 * validates everything and returns NULL with *err and *info (byte offset,
 * what) on any defect; the caller frees the heap with msc_heap_free().
 * progress, if given, is called with bytes read and the file size every
 * few megabytes. */
int msc_heap_write(const msc_heap_t *h, int fd);
msc_heap_t *msc_heap_read(int fd, int *err, msc_error_info_t *info,
                          void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg);

/* The partition of a snapshot file, read straight from it: the same rows
 * as msc_heap_partition of msc_heap_read's heap, checked the same way (but
 * for repeated addresses), in about a third of the memory (only each
 * node's type, size and flags and the "__dict__" edges are kept). 0, or an error with *info set as by
 * msc_heap_read; the caller releases p with msc_heap_partition_release(). */
int msc_heap_read_partition(int fd, int by, msc_heap_partition_t *p, msc_error_info_t *info,
                            void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg);
#endif
