/* State shared by the recorder's parts: the wrapped allocators, the capture
 * being written, the tries, and the thread-local flags. hooks.c records
 * events; recorder.c starts, stops and serves the Python functions. */
#ifndef MEMSCOPE_RECORDER_H
#define MEMSCOPE_RECORDER_H

#include "version.h"

#include <pthread.h>
#include <stdatomic.h>

#include "memscope/sink.h"
#include "stacks.h"
#include "unwind.h"

typedef struct msc_hook {
    PyMemAllocatorEx orig;     /* the allocator we wrap; never changes once saved */
    int domain;                /* enum msc_domain */
} msc_hook_t;

struct msc_recorder {
    msc_hook_t hooks[MSC_DOMAIN_COUNT];
    int installed;             /* wrappers were installed; start() installs them again
                                  where another hook's stop removed them */
    _Atomic int active;        /* recording; cleared by stop, fork and sink failure */
    msc_sink_t *sink;
    msc_stream_t *main;        /* the sink's main stream */
    msc_capture_ctx_t main_ctx;/* stack capture onto main, made once per capture */
    msc_trie_t main_trie;      /* GIL held */
    msc_trie_t side_trie;      /* side_mutex held */
    msc_ntrie_t *main_ntrie;   /* native frames (--native-frames), GIL held; NULL without */
    msc_ntrie_t *side_ntrie;   /* native frames, side_mutex held; NULL without */
    pthread_mutex_t side_mutex;/* protects side_trie and the sink's lifetime for
                                  GIL-less recording */
    msc_pyframe_t *root;       /* the launcher's frame: stacks stop below it */
    uint32_t max_depth;
    uint64_t sample_bytes;     /* 0: every event; else mean bytes between samples */
    uint64_t session;          /* counts captures; tags thread indexes and code ids */
    _Atomic uint32_t threads;  /* thread indexes handed out in this session */
    PyInterpreterState *main_interp; /* events of other interpreters' threads go to the
                                  side stream: from 3.12 they may run under a GIL of
                                  their own */
    uint64_t gc_start_ns;
    PyObject *path;            /* str: the capture being written */
};

extern struct msc_recorder msc__rec;

/* Set around every wrapped call and all recorder work on this thread;
 * MSC_BUSY_PROBE while checking that the wrappers are still reached. */
extern __thread int msc__busy __attribute__((tls_model("initial-exec")));
#define MSC_BUSY_PROBE 2

void msc__hooks_install(void);
void msc__stop_recording(void);

/* Records an allocation or a free of another domain (foreign.c, native.c)
 * from any thread; the caller has set msc__busy and seen recording active.
 * A free's n is the length an munmap unmaps (domain MMAP: every munmap is
 * recorded, sampled or not, as part of a mapping may be sampled). */
void msc__record_alloc(uint64_t domain, void *p, size_t n);
void msc__record_free(uint64_t domain, void *p, size_t n);

/* Counts in the traced memory (traced.h) a block of a foreign domain that
 * is not recorded (a native capture records the malloc under it), or its
 * free; same conditions as above. Nothing in sampled mode. */
void msc__count_alloc(uint64_t domain, void *p, size_t n);
void msc__count_free(uint64_t domain, void *p);

/* This thread's index in the current capture, announced (THREAD_INFO) the
 * first time; also starts the thread's sampling budget. */
uint32_t msc__thread_index(void);
void msc__emit_thread_info(uint32_t index, const char *name, size_t n);

/* Room for a record of up to need bytes on the main stream, after a THREAD
 * record if another thread wrote last (counted in *nrec). GIL held. */
uint8_t *msc__main_cursor(msc_stream_t *st, uint32_t *nrec, size_t need);

#endif
