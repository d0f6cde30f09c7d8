/* Reading a capture: open and validate the header, then replay its records
 * in program order as events. Replay merges the side stream into the main
 * stream at its SYNC positions, maps every stream's stack nodes onto one
 * global stack trie, and keeps the code and string tables (msc_symbols_t)
 * that name each frame. Nothing read from the file is trusted: every length,
 * count and id is bounded before use, and a damaged file yields an error
 * naming the byte offset, never a crash or an unbounded allocation.
 *
 * Memory is bounded by the number of distinct stacks, code objects and
 * strings, and by one chunk; never by the length of the capture. */
#ifndef MEMSCOPE_REPLAY_H
#define MEMSCOPE_REPLAY_H

#include <stdint.h>

#include "memscope/chunk.h"
#include "memscope/symbols.h"

typedef struct msc_event {
    uint8_t kind;              /* ALLOC, FREE, REALLOC, SAMPLE, GC, MARK, THREAD_INFO, LOST,
                                  CHILD, CPU (format.h: MSC_REC_*) */
    uint32_t thread;           /* thread index (0 = main thread) */
    uint32_t stack;            /* global stack node; 0 = no Python stack */
    uint64_t addr;             /* ALLOC/FREE address; REALLOC new address */
    uint64_t old_addr;         /* REALLOC old address */
    uint64_t size;             /* ALLOC/REALLOC requested bytes; FREE in domain MMAP: bytes
                                  unmapped */
    uint64_t domain;           /* enum msc_domain (FOREIGN + d for tracemalloc domain d),
                                  for ALLOC/FREE/REALLOC */
    uint64_t time_ns;          /* latest time seen, ns since the capture started */
    uint64_t value[4];         /* SAMPLE: rss, anonymous, file-backed, 1 if those two
                                  were sampled; GC: generation, duration ns, collected,
                                  uncollectable; THREAD_INFO: native id; LOST: count, reason;
                                  CHILD: pid; CPU: cpu ns, wall ns, 1 if native, age ns
                                  (the sample was taken at time_ns - age) */
    const char *text;          /* MARK label, THREAD_INFO name, CHILD command (arguments
                                  separated by NUL bytes); borrowed for the callback */
    uint32_t text_len;
    const char *path;          /* CHILD: the child's capture path (empty: none); borrowed
                                  for the callback, never containing NUL */
    uint32_t path_len;
} msc_event_t;

/* Return nonzero from the callback to stop the replay with that value. */
typedef int (*msc_event_fn)(void *arg, const msc_event_t *ev);

typedef struct msc_replay msc_replay_t;

enum msc_replay_flags {
    MSC_REPLAY_FOLLOW = 1,     /* file is still being written: a partial last chunk means
                                  "not yet", and msc_replay_run can be called again */
};

/* Opens path and validates its header. NULL on failure with *err and *info
 * (offset and what) set. */
msc_replay_t *msc_replay_open(const char *path, int flags, int *err, msc_error_info_t *info);
void msc_replay_free(msc_replay_t *r);

/* Replays records up to the end of the file, calling fn for each event.
 * Returns 0 at a clean end; MSC_ETRUNCATED when the file ends inside a chunk
 * (every complete chunk was replayed; *info says where); another negative
 * MSC_E code on corruption (*info says where and what); or the callback's
 * nonzero value. */
int msc_replay_run(msc_replay_t *r, msc_event_fn fn, void *arg, msc_error_info_t *info);

const msc_header_t *msc_replay_header(const msc_replay_t *r);
const msc_symbols_t *msc_replay_symbols(const msc_replay_t *r);

/* Bytes of the file consumed so far, and its size when opened (progress). */
uint64_t msc_replay_offset(const msc_replay_t *r);
uint64_t msc_replay_file_size(const msc_replay_t *r);

/* After a run: whether the trailer was seen (the program ended cleanly) and
 * the duration it gives, or else the last time seen. */
int msc_replay_complete(const msc_replay_t *r);
uint64_t msc_replay_duration_ns(const msc_replay_t *r);
uint64_t msc_replay_events(const msc_replay_t *r);

#endif
