/* The analyser: consumes a capture's events (msc_replay_run with
 * msc_analysis_event as the callback) and answers what the reports ask: the
 * heap's high-water mark and what was live then, by stack; what was still
 * live at the end; totals; a size histogram; GC runs, marks and the heap/RSS
 * timeline. One pass, memory bounded by live allocations and distinct
 * stacks. An observer of the replay's clock (msc_analysis_set_clock) sees
 * the analysis as it stood at chosen times of that same pass.
 *
 * Per-stack values are kept for the leaf node of each stack; msc_aggregate
 * (aggregate.h) folds them into lines, functions and files. */
#ifndef MEMSCOPE_ANALYSIS_H
#define MEMSCOPE_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "memscope/replay.h"

#define MSC_HISTOGRAM_BUCKETS 48   /* bucket b holds sizes in [2^(b-1), 2^b) */
#define MSC_MAX_GC_TIMES 4096      /* GC start times kept; more are thinned evenly */

typedef struct msc_node_values {
    uint64_t bytes;
    uint64_t count;
} msc_node_values_t;

typedef enum msc_view {
    MSC_VIEW_PEAK = 0,         /* live at the heap's high-water mark */
    MSC_VIEW_EXIT = 1,         /* live when the capture ended (leaked at exit) */
    MSC_VIEW_TOTAL = 2,        /* everything ever allocated */
    MSC_VIEW_COUNT,            /* the memory views above */
    MSC_VIEW_CPU = MSC_VIEW_COUNT, /* CPU time sampled (memscope run --cpu): bytes hold ns,
                                  count the samples that found the thread on CPU */
    MSC_VIEW_WALL,             /* wall time sampled: bytes hold ns, count every sample */
    MSC_VIEW_NATIVE_CPU,       /* of the CPU view, the samples that found the thread in
                                  native code */
    MSC_VIEW_ALL
} msc_view_t;

typedef struct msc_sample {
    uint64_t time_ns;
    uint64_t heap_bytes;
    uint64_t rss_bytes;
    uint64_t cpu_ns;           /* CPU time of the CPU samples (run --cpu) taken after the
                                  previous sample and up to this one, every thread */
} msc_sample_t;

typedef struct msc_mark {
    uint64_t time_ns;
    char *label;               /* owned by the analysis */
} msc_mark_t;

/* A child process the recorded program started (CHILD records). */
typedef struct msc_child {
    uint64_t time_ns;          /* when it started, ns since the capture started */
    uint64_t pid;
    char *capture;             /* its capture's path, "" when it records none; owned by
                                  the analysis */
    char *command;             /* its arguments, each ended by a NUL byte; owned by the
                                  analysis */
    uint32_t command_len;      /* bytes in command, NULs included */
} msc_child_t;

#define MSC_MAX_CHILDREN 65536     /* children kept; more are only counted */

typedef struct msc_gc_stats {
    uint64_t runs;
    uint64_t pause_ns;
    uint64_t max_pause_ns;
    uint64_t collected;
    uint64_t uncollectable;
} msc_gc_stats_t;

#define MSC_MAX_DOMAIN_STATS 16    /* domains kept apart; further foreign ones are pooled */
#define MSC_DOMAIN_OTHER UINT64_MAX /* the pool of foreign domains past the table */

/* One allocator domain's share (enum msc_domain: RAW, MEM, OBJ, NATIVE, MMAP,
 * or FOREIGN + a tracemalloc domain). */
typedef struct msc_domain_stats {
    uint64_t domain;
    uint64_t peak_bytes;           /* live in this domain at the heap's peak */
    uint64_t leaked_bytes;         /* live when the capture ended */
    uint64_t total_bytes;
    uint64_t allocations;
} msc_domain_stats_t;

/* A domain's name for reports: "raw", "mem", "obj", "native", "mmap",
 * "numpy" (tracemalloc domain 389047), "domain <d>" for another foreign
 * domain, "other" for the pool. Returns buf (n >= 32). */
const char *msc_domain_name(uint64_t domain, char *buf, size_t n);

/* Resident memory at one sample, split by what the capture knows holds it.
 * The anonymous part is handed out in this order, each share at most what
 * is left (live bytes are requested bytes, and a mapping need not be
 * resident): live Python objects, the native heap, anonymous mappings,
 * and what is left is unexplained (allocator free space and overhead,
 * thread stacks, memory allocated before recording or not recorded).
 * The parts add up to rss_bytes. */
typedef struct msc_rss_split {
    uint64_t time_ns;
    uint64_t rss_bytes;            /* anonymous + file-backed */
    uint64_t python_bytes;         /* live in RAW, MEM, OBJ */
    uint64_t native_bytes;         /* live in NATIVE and the foreign domains */
    uint64_t mapped_bytes;         /* live in MMAP */
    uint64_t file_bytes;           /* resident pages that map files */
    uint64_t unexplained_bytes;
} msc_rss_split_t;

typedef struct msc_summary {
    uint64_t peak_bytes;
    uint64_t peak_time_ns;
    uint64_t peak_allocations;     /* blocks live at the peak */
    uint64_t total_allocated_bytes;
    uint64_t allocations;
    uint64_t frees;
    uint64_t leaked_bytes;
    uint64_t leaked_allocations;
    uint64_t current_bytes;        /* live now (equals leaked once finished) */
    uint64_t unmatched_frees;      /* frees of blocks allocated before recording */
    uint64_t lost_events;
    uint64_t peak_rss_bytes;
    uint64_t sample_bytes;         /* 0 exact; else figures are estimates from samples
                                      one per this many bytes on average */
    uint32_t threads;
    msc_gc_stats_t gc[3];
    uint64_t histogram_count[MSC_HISTOGRAM_BUCKETS];
    uint64_t histogram_bytes[MSC_HISTOGRAM_BUCKETS];
    msc_domain_stats_t domains[MSC_MAX_DOMAIN_STATS]; /* those with allocations, by slot:
                                                        set by msc_analysis_finish */
    uint32_t ndomains;
    uint64_t cpu_samples;          /* CPU records (memscope run --cpu); 0 without */
    uint64_t cpu_ns;               /* CPU time the samples stand for, every thread */
    uint64_t native_cpu_ns;        /* of which the threads were outside the interpreter */
    uint64_t wall_ns;              /* wall time the samples stand for, summed over threads */
    msc_rss_split_t rss_split;     /* at the sample with the most RSS that said where
                                      it was; rss_bytes 0 when none did */
} msc_summary_t;

typedef struct msc_analysis msc_analysis_t;

msc_analysis_t *msc_analysis_new(void);
void msc_analysis_free(msc_analysis_t *a);

/* For a sampled capture (header mode MSC_MODE_SAMPLED): weigh every block
 * by its sampling probability. Call before the first event. */
void msc_analysis_set_sampling(msc_analysis_t *a, uint64_t sample_bytes);

/* The bytes a recorded block of size bytes stands for in a capture sampled
 * once per sample_bytes on average (0: exact, size itself): its size over
 * its probability of being sampled, rounded. The recorder's traced-memory
 * estimates use it too, so they agree with the reports. */
uint64_t msc_sampled_estimate(uint64_t size, uint64_t sample_bytes);

/* msc_event_fn: returns 0, or MSC_ENOMEM (negative) to stop the replay. */
int msc_analysis_event(void *analysis, const msc_event_t *ev);

/* An observer of the replay's clock. When an event later than at_ns
 * arrives, the analysis applies every event before it and calls fn before
 * applying that one: the analysis (a, borrowed for the call) then shows
 * exactly what was live at every time in [since_ns, until_ns), from the
 * time of the last event applied to the time of the one arriving, a span
 * that holds at_ns. fn returns 0 with *at_ns set to the next time to be
 * called after (UINT64_MAX: never; before until_ns: at the next event), or
 * a negative MSC_E code that stops the replay with it. */
typedef int (*msc_clock_fn)(void *arg, const msc_analysis_t *a, uint64_t since_ns,
                            uint64_t until_ns, uint64_t *at_ns);

/* Sets the one clock observer (fn NULL: none) and the first time it wants;
 * call before the first event. arg is borrowed until the replay ends. */
void msc_analysis_set_clock(msc_analysis_t *a, uint64_t at_ns, msc_clock_fn fn, void *arg);

/* Applies every event received and settles the totals; call once the
 * replay has ended (or whenever a consistent view of a growing capture is
 * wanted). 0, or MSC_ENOMEM. */
int msc_analysis_finish(msc_analysis_t *a);

const msc_summary_t *msc_analysis_summary(const msc_analysis_t *a);
/* The time of the latest event applied (all of them once finished). */
uint64_t msc_analysis_time(const msc_analysis_t *a);

/* Values of the stack whose leaf is node, for a view; zero for nodes never
 * seen. Valid after msc_analysis_finish. */
msc_node_values_t msc_analysis_node(const msc_analysis_t *a, msc_view_t view, uint32_t node);
/* Keeps each stack's smallest and largest allocation size (reallocs
 * included) from the next event on, for msc_analysis_size_range: 8 bytes a
 * stack, so only for the callers that ask (the advice's join rule). 0 or
 * MSC_ENOMEM. */
int msc_analysis_track_sizes(msc_analysis_t *a);
/* The smallest size not 0 (0 if none was) and the largest that node
 * allocated: 1, or 0 when it never allocated, or -1 when they are not
 * known (sizes not tracked, or one was 4 GiB or more). */
int msc_analysis_size_range(const msc_analysis_t *a, uint32_t node, uint64_t *min, uint64_t *max);

/* The same for every view at once, into v: whether the stack ever
 * allocated or was sampled (else every view is zero, and v is left as it
 * was). */
int msc_analysis_node_views(const msc_analysis_t *a, uint32_t node,
                            msc_node_values_t v[MSC_VIEW_ALL]);
uint32_t msc_analysis_nodes(const msc_analysis_t *a);

/* The live block that starts at addr, as replayed so far: 1 with *size
 * (bytes it stands for) and *stack (leaf node) set, 0 when no recorded
 * block that is still live starts there (allocated before recording, or
 * not sampled). Joins a heap snapshot's objects to their allocation. */
int msc_analysis_block(const msc_analysis_t *a, uint64_t addr, uint64_t *size, uint32_t *stack);

/* Calls fn(arg, addr, domain, size) for every live block but mappings, as
 * replayed so far (after msc_analysis_finish): size is the bytes it stands
 * for, domain its own or MSC_DOMAIN_OTHER (the pool of foreign domains past
 * the table). The recorder seeds its traced-memory counters with it. */
typedef void (*msc_live_fn)(void *arg, uint64_t addr, uint64_t domain, uint64_t size);
void msc_analysis_each_live(const msc_analysis_t *a, msc_live_fn fn, void *arg);

/* Lets go of the live blocks once the replay is over (after
 * msc_analysis_finish) for a caller that will not ask for one: on a capture
 * with many blocks live at its end the live map is the analysis's largest
 * table. Every per-stack value, the summary and the live-stack bitmap stay;
 * msc_analysis_block finds nothing and msc_analysis_each_live calls
 * nothing after, and no event may follow. */
void msc_analysis_forget_blocks(msc_analysis_t *a);

/* Which stacks have live blocks now, as a bitmap (bit v of word v / 64 for
 * stack v), *words long; borrowed until the next event. A snapshot of
 * what is live visits these rather than every stack. */
const uint64_t *msc_analysis_live_stacks(const msc_analysis_t *a, size_t *words);

/* With a clock observer set, the stacks whose live values changed since it
 * was last called (since the start, before its first call), as a bitmap
 * like the one above: an observer that snapshots what is live again and
 * again visits these, not every live stack. NULL (and *words 0) before
 * the first event and without an observer. */
const uint64_t *msc_analysis_changed_stacks(const msc_analysis_t *a, size_t *words);

/* The same for the stacks that ever had an allocation or a CPU sample: the
 * only ones msc_analysis_node_views can find values in. A table visits
 * these rather than every prefix of every stack. */
const uint64_t *msc_analysis_used_stacks(const msc_analysis_t *a, size_t *words);

/* The timeline (one sample per RSS sample, ~10 ms) and marks; borrowed. */
const msc_sample_t *msc_analysis_samples(const msc_analysis_t *a, size_t *n);
const msc_mark_t *msc_analysis_marks(const msc_analysis_t *a, size_t *n);
/* The children started, in order, at most MSC_MAX_CHILDREN; *total counts
 * every one; borrowed. */
const msc_child_t *msc_analysis_children(const msc_analysis_t *a, size_t *n, uint64_t *total);
/* Start times of GC runs, in order: all of them, or an even spread of at
 * most MSC_MAX_GC_TIMES (every 2^j-th run) when there were more; borrowed. */
const uint64_t *msc_analysis_gc_times(const msc_analysis_t *a, size_t *n);
/* Name of a thread index, "" when unnamed; borrowed. */
const char *msc_analysis_thread_name(const msc_analysis_t *a, uint32_t thread);

/* Opens path, replays it into a (new from msc_analysis_new, with any clock
 * observer set; its sampling is set here from the header) and finishes it.
 * Returns 0, MSC_ETRUNCATED (a holds every complete chunk), or another
 * negative MSC_E code; *info is set unless 0. *replay receives the replay
 * (symbols, header) for the caller to free, or NULL on any other error.
 * progress, if given, is called with bytes read and the file size every few
 * megabytes. a stays the caller's to free whatever the result. */
int msc_analyse_file(const char *path, msc_analysis_t *a, msc_replay_t **replay,
                     msc_error_info_t *info,
                     void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg);

#endif
