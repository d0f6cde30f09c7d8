/* The capture sink: where the recorder's records go. It owns the output file,
 * the buffers the recorder fills, and a writer thread that compresses full
 * (and, every 100 ms, partial) buffers into checksummed chunks, samples RSS
 * every 10 ms, and writes the trailer at close.
 *
 * Two streams feed it. The main stream has one producer at a time (the
 * recorder calls it only while holding the GIL) and takes no lock per record:
 * the producer appends, then publishes the committed length with a release
 * store; the writer reads up to that length. The side stream takes records
 * from any thread (GIL-less allocations, RSS samples) under a mutex; each side
 * record is placed in the main stream's order through SYNC records carrying
 * the main stream's committed record count. docs/format.md explains why this
 * ordering is exact for address reuse across threads. */
#ifndef MEMSCOPE_SINK_H
#define MEMSCOPE_SINK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "memscope/encode.h"

typedef struct msc_sink msc_sink_t;

typedef struct msc_buf {
    struct msc_buf *next;      /* queue link; touched under the sink's queue lock */
    size_t cap;                /* bytes in data[] */
    _Atomic size_t committed;  /* bytes of whole records, published by the producer */
    size_t taken;              /* bytes already written to the file; writer thread only */
    uint8_t data[];
} msc_buf_t;

/* One stream's producer side. The producer owns pos/end/delta; records is
 * read by other threads. */
typedef struct msc_stream {
    uint8_t *pos;              /* next free byte in buf */
    uint8_t *end;              /* end of buf's data */
    msc_buf_t *buf;            /* buffer being filled; NULL once recording failed */
    msc_delta_t delta;         /* encoder delta state */
    _Atomic uint64_t records;  /* main stream: records committed so far (SYNC positions) */
    uint64_t synced;           /* side stream: main position of the last SYNC written */
    uint32_t thread;           /* thread index of the last THREAD record written */
} msc_stream_t;

typedef struct msc_sink_options {
    const char *path;
    int force;                 /* replace an existing file instead of failing */
    int level;                 /* zstd level; 0 picks the default (1) */
    size_t max_buffered;       /* bytes of full buffers before the producer waits; 0 = 64 MiB */
    /* Called once, on the writer thread, when writing fails or memory runs
     * out: the recorder warns and stops. err is a negative MSC_E code. */
    void (*on_error)(int err, void *arg);
    /* Called first thing on the writer thread, if set: the recorder marks the
     * thread as its own, so hooks on malloc leave its allocations alone. */
    void (*on_writer_start)(void *arg);
    void *arg;
} msc_sink_options_t;

/* Creates the file (msc_file_create: mode 0600, never through a link; force
 * replaces a regular file only), writes the header and starts the writer
 * thread. Before each write the writer checks that its descriptor still
 * refers to that file; when the program closed or reused it, recording
 * fails with MSC_ELOST and nothing more is written. Returns NULL with *err set (MSC_E* code, errno in
 * *sys_errno) on failure. */
msc_sink_t *msc_sink_open(const msc_sink_options_t *opt, const msc_header_t *h, int *err,
                          int *sys_errno);

/* Flushes everything, writes the trailer, stops the writer thread, closes
 * the file and frees the sink. Returns 0 or the first error the sink hit. */
int msc_sink_close(msc_sink_t *s, uint64_t duration_ns);

/* Writes everything committed so far and waits until it is in the file. */
void msc_sink_flush(msc_sink_t *s);

/* Nanoseconds since the sink was opened (monotonic clock). */
uint64_t msc_sink_now(const msc_sink_t *s);

/* Main stream (caller serialises). */
msc_stream_t *msc_sink_main(msc_sink_t *s);

/* Side stream: lock returns the stream, positioned (SYNC written) at the main
 * stream's current record count; every record appended before unlock is
 * ordered there. */
msc_stream_t *msc_sink_side_lock(msc_sink_t *s);
void msc_sink_side_unlock(msc_sink_t *s);

/* Slow path of msc_stream_reserve: seals the current buffer and takes a new
 * one of at least need bytes. Main stream: may wait for the writer. Side
 * stream: never waits. Returns NULL when recording has failed. */
uint8_t *msc__stream_refill(msc_sink_t *s, msc_stream_t *st, size_t need);

/* Room for need bytes at the returned cursor, or NULL if recording failed. */
static inline uint8_t *msc_stream_reserve(msc_sink_t *s, msc_stream_t *st, size_t need)
{
    if ((size_t)(st->end - st->pos) >= need) return st->pos;
    return msc__stream_refill(s, st, need);
}

/* Publishes records written from st->pos up to p. */
static inline void msc_stream_commit(msc_stream_t *st, uint8_t *p, uint64_t nrecords)
{
    st->pos = p;
    atomic_store_explicit(&st->buf->committed, (size_t)(p - st->buf->data), memory_order_release);
    atomic_store_explicit(&st->records,
                          atomic_load_explicit(&st->records, memory_order_relaxed) + nrecords,
                          memory_order_release);
}

/* fork(): prepare waits for the writer thread to pause between its rounds
 * (so the child never inherits an allocator lock it held mid-free) and
 * takes the sink's locks so the child sees them in a known state; parent
 * releases them; child drops the sink without touching the
 * parent's file or the writer thread that does not exist in the child. */
void msc_sink_atfork_prepare(msc_sink_t *s);
void msc_sink_atfork_parent(msc_sink_t *s);
void msc_sink_atfork_child(msc_sink_t *s);

#endif
