/* What was live when: a second pass over a capture that stops at chosen
 * moments and keeps, for each, the live bytes and blocks of every stack, so
 * a report can draw the flame graph of any of those moments (clicking the
 * timeline). It also keeps the times of GC runs for the timeline's markers.
 * Memory is bounded by moments x distinct stacks, never by capture length. */
#ifndef MEMSCOPE_TEMPORAL_H
#define MEMSCOPE_TEMPORAL_H

#include <stddef.h>
#include <stdint.h>

#include "memscope/chunk.h"
#include "memscope/tree.h"

#define MSC_TEMPORAL_MAX_GC 4096   /* GC times kept; more are thinned evenly */

typedef struct msc_moment {
    uint64_t time_ns;          /* state after every event up to this time */
    uint64_t heap_bytes;       /* live bytes then */
    msc_stack_value_t *stacks; /* live values of each stack with any; owned */
    size_t n;
} msc_moment_t;

typedef struct msc_temporal {
    msc_moment_t *moments;     /* one per requested time, in order; owned */
    size_t n;
    uint64_t *gc_ns;           /* start times of GC runs (thinned); owned */
    size_t ngc;
} msc_temporal_t;

/* Replays path and snapshots it at each of the k times (ascending, ns since
 * the capture started). Returns 0, MSC_ETRUNCATED (every complete chunk was
 * used), or another negative MSC_E code with *info set. progress, if given,
 * is called with bytes read and the file size every few megabytes. Release
 * *out with msc_temporal_release whatever the result. */
int msc_temporal_collect(const char *path, const uint64_t *times_ns, size_t k,
                         msc_temporal_t *out, msc_error_info_t *info,
                         void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg);
void msc_temporal_release(msc_temporal_t *t);

#endif
