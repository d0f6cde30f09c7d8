/* The capture sink: output file, record buffers, and the writer thread that
 * turns buffers into compressed, checksummed chunks (docs/format.md, "Chunks").
 *
 * Producers never write to the file. The main stream's single producer
 * appends to its current buffer and publishes the committed length; when the
 * buffer is full it is sealed onto the main queue. Every 100 ms, or when a
 * buffer is sealed, the writer takes a snapshot of the main stream first and
 * of the side stream second, and writes the side data before the main data:
 * that order guarantees every side record placed before main record K is in
 * the file before main record K (see "Ordering" in docs/format.md). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "memscope/chunk.h"
#include "memscope/outfile.h"
#include "memscope/sink.h"

#define BUF_DEFAULT (256u << 10)
#define SPARE_MAX 8
#define FLUSH_NS (100ull * 1000 * 1000)
#define SAMPLE_NS (10ull * 1000 * 1000)
/* The sink's descriptors move at or above this number, out of the range a
 * program's own open() calls hand out, so a program that closes every
 * descriptor and opens files is unlikely to get one of ours. */
#define FD_HIGH 512

typedef struct buf_list {
    msc_buf_t *head;
    msc_buf_t *tail;
} buf_list_t;

struct msc_sink {
    int fd;                        /* output; written by the writer thread only */
    msc_file_id_t fd_id;           /* the file fd was opened for: checked before each write */
    int statm_fd;                  /* /proc/self/statm for RSS samples, or -1 */
    msc_file_id_t statm_id;        /* the file statm_fd was opened for */
    int smaps_fd;                  /* /proc/self/smaps_rollup for the RSS split, or -1: kept
                                      open and checked like statm_fd, never opened and
                                      closed per sample (a program closing every
                                      descriptor could get its number in between) */
    msc_file_id_t smaps_id;
    long page_size;
    unsigned rss_samples;          /* RSS samples taken; writer thread only */
    uint64_t t0;                   /* monotonic ns at open */
    uint64_t duration_ns;          /* set by close before stopping the writer */
    msc_sink_options_t opt;

    msc_chunk_writer_t chunks;     /* writer thread only, once started */

    pthread_mutex_t qlock;         /* protects main_full, spare, buffered, flush_*, stop,
                                      and main.buf when it is replaced */
    pthread_cond_t wake;           /* signals the writer: work, flush request, stop */
    pthread_cond_t done;           /* signals producers: space freed, flush finished */
    buf_list_t main_full;          /* sealed main buffers, oldest first */
    msc_buf_t *spare;              /* recycled default-size buffers */
    int spare_count;
    size_t buffered;               /* bytes of main buffers not yet recycled */
    uint64_t flush_req;            /* flush requests made / completed */
    uint64_t flush_done;
    int stop;
    int running;                   /* the writer thread has started */
    _Atomic int failed;            /* first error (negative MSC_E code), sticky */

    pthread_mutex_t side_lock;     /* protects side and side_full */
    pthread_mutex_t work_lock;     /* held by the writer whenever it is not waiting: fork()
                                      takes it first, so the child never inherits an
                                      allocator or zstd state the writer was midway in */
    msc_stream_t side;
    buf_list_t side_full;

    msc_stream_t main;
    pthread_t writer;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t msc_sink_now(const msc_sink_t *s)
{
    return mono_ns() - s->t0;
}

static msc_buf_t *buf_new(size_t cap)
{
    msc_buf_t *b = msc_malloc(sizeof(*b) + cap);
    if (!b) return NULL;
    b->next = NULL;
    b->cap = cap;
    atomic_init(&b->committed, 0);
    b->taken = 0;
    return b;
}

static void list_push(buf_list_t *l, msc_buf_t *b)
{
    b->next = NULL;
    if (l->tail) l->tail->next = b;
    else l->head = b;
    l->tail = b;
}

static msc_buf_t *list_take(buf_list_t *l)
{
    msc_buf_t *head = l->head;
    l->head = l->tail = NULL;
    return head;
}

static void stream_use(msc_stream_t *st, msc_buf_t *b)
{
    st->buf = b;
    st->pos = b ? b->data : NULL;
    st->end = b ? b->data + b->cap : NULL;
}

static void fail(msc_sink_t *s, int err)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&s->failed, &expected, err) && s->opt.on_error)
        s->opt.on_error(err, s->opt.arg);
}

/*
 * Writing (writer thread).
 */

/* The traced program may close our descriptor (daemons close them all) and
 * open a file that gets its number: each write first checks that the
 * descriptor still refers to the capture, so recording stops instead of
 * writing into the program's file. */
static void write_chunk(msc_sink_t *s, int stream, const uint8_t *raw, size_t n)
{
    if (atomic_load(&s->failed)) return;
    if (!msc_file_is(s->fd, &s->fd_id)) fail(s, MSC_ELOST);
    else if (msc_chunk_write(&s->chunks, stream, raw, n) < 0) fail(s, MSC_EIO);
}

/* Writes [taken, upto) of b; records never straddle buffers, so every chunk
 * ends on a record boundary. */
static void write_range(msc_sink_t *s, int stream, msc_buf_t *b, size_t upto)
{
    if (upto > b->taken) write_chunk(s, stream, b->data + b->taken, upto - b->taken);
    b->taken = upto;
}

static size_t write_list(msc_sink_t *s, int stream, msc_buf_t *b, msc_buf_t **recycle)
{
    size_t freed = 0;
    while (b) {
        msc_buf_t *next = b->next;
        write_range(s, stream, b, atomic_load_explicit(&b->committed, memory_order_acquire));
        freed += b->cap;
        b->next = *recycle;
        *recycle = b;
        b = next;
    }
    return freed;
}

static void flush_all(msc_sink_t *s)
{
    msc_buf_t *main_list, *main_cur, *side_list, *side_cur, *recycle = NULL;
    size_t main_upto, side_upto = 0;
    uint64_t req;

    /* Main first, side second: see the file comment. */
    pthread_mutex_lock(&s->qlock);
    main_list = list_take(&s->main_full);
    main_cur = s->main.buf;
    main_upto = main_cur ? atomic_load_explicit(&main_cur->committed, memory_order_acquire) : 0;
    req = s->flush_req;
    pthread_mutex_unlock(&s->qlock);

    pthread_mutex_lock(&s->side_lock);
    side_list = list_take(&s->side_full);
    side_cur = s->side.buf;
    if (side_cur) side_upto = atomic_load_explicit(&side_cur->committed, memory_order_relaxed);
    pthread_mutex_unlock(&s->side_lock);

    write_list(s, MSC_STREAM_SIDE, side_list, &recycle);
    if (side_cur) write_range(s, MSC_STREAM_SIDE, side_cur, side_upto);
    while (recycle) {
        msc_buf_t *next = recycle->next;
        msc_free(recycle);
        recycle = next;
    }

    size_t freed = write_list(s, MSC_STREAM_MAIN, main_list, &recycle);
    if (main_cur) write_range(s, MSC_STREAM_MAIN, main_cur, main_upto);

    pthread_mutex_lock(&s->qlock);
    while (recycle) {
        msc_buf_t *next = recycle->next;
        if (recycle->cap == BUF_DEFAULT && s->spare_count < SPARE_MAX) {
            recycle->next = s->spare;
            s->spare = recycle;
            s->spare_count++;
        } else {
            msc_free(recycle);
        }
        recycle = next;
    }
    s->buffered -= freed;
    s->flush_done = req;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->qlock);
}

/* The resident size, in a SAMPLE record (msc_enc_sample) on the side
 * stream. Every tenth sample (about every 100 ms) says where the resident
 * memory is, from smaps_rollup, which costs the kernel a walk of every
 * mapping. */
static void sample_rss(msc_sink_t *s)
{
    char text[128];
    if (s->statm_fd < 0 || !msc_file_is(s->statm_fd, &s->statm_id)) return;
    ssize_t n = pread(s->statm_fd, text, sizeof(text) - 1, 0);
    if (n <= 0) return;
    text[n] = 0;
    unsigned long size_pages, rss_pages;
    if (sscanf(text, "%lu %lu", &size_pages, &rss_pages) != 2) return;
    uint64_t rollup = 0, anon = 0;
    int detail = s->rss_samples++ % 10 == 0 && s->smaps_fd >= 0 &&
                 msc_file_is(s->smaps_fd, &s->smaps_id) &&
                 msc__smaps_rollup(s->smaps_fd, &rollup, &anon) == 0;

    msc_stream_t *st = msc_sink_side_lock(s);
    uint8_t *p = msc_stream_reserve(s, st, MSC_REC_MAX);
    if (p) {
        uint64_t rss = (uint64_t)rss_pages * (uint64_t)s->page_size;
        uint64_t file_backed = rollup > anon ? rollup - anon : 0;
        msc_stream_commit(
            st, msc_enc_sample(p, &st->delta, msc_sink_now(s), rss, detail, anon, file_backed), 1);
    }
    msc_sink_side_unlock(s);
}

/* The clean end: a TRAILER record (msc_enc_trailer), last on the side stream. */
static void write_trailer(msc_sink_t *s)
{
    msc_stream_t *st = msc_sink_side_lock(s);
    uint8_t *p = msc_stream_reserve(s, st, MSC_REC_MAX);
    if (p) {
        uint64_t records = atomic_load(&s->main.records);
        msc_stream_commit(st, msc_enc_trailer(p, s->duration_ns, records), 1);
    }
    msc_sink_side_unlock(s);
}

static void *writer_main(void *arg)
{
    msc_sink_t *s = arg;
    if (s->opt.on_writer_start) s->opt.on_writer_start(s->opt.arg);
    uint64_t now = mono_ns(), next_sample = now, next_flush = now + FLUSH_NS;
    pthread_mutex_lock(&s->qlock);
    s->running = 1;
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->qlock);
    for (;;) {
        pthread_mutex_lock(&s->qlock);
        for (;;) {
            now = mono_ns();
            int pending = s->stop || s->main_full.head || s->flush_req != s->flush_done;
            uint64_t until = next_sample < next_flush ? next_sample : next_flush;
            if (pending || now >= until) break;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t wait = until - now;
            ts.tv_sec += (time_t)(wait / 1000000000ull);
            ts.tv_nsec += (long)(wait % 1000000000ull);
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->wake, &s->qlock, &ts);
        }
        int stopping = s->stop;
        int urgent = s->main_full.head || s->flush_req != s->flush_done;
        pthread_mutex_unlock(&s->qlock);

        pthread_mutex_lock(&s->work_lock);
        if (now >= next_sample) {
            sample_rss(s);
            next_sample = now + SAMPLE_NS;
        }
        if (stopping || urgent || now >= next_flush) {
            flush_all(s);
            next_flush = now + FLUSH_NS;
        }
        if (stopping) break;
        pthread_mutex_unlock(&s->work_lock);
    }
    write_trailer(s);
    flush_all(s);
    pthread_mutex_unlock(&s->work_lock);
    return NULL;
}

/*
 * Producer side.
 */

msc_stream_t *msc_sink_main(msc_sink_t *s)
{
    return &s->main;
}

static uint8_t *refill_main(msc_sink_t *s, msc_stream_t *st, size_t need)
{
    size_t cap = need > BUF_DEFAULT ? need : BUF_DEFAULT;
    msc_buf_t *b = NULL;
    pthread_mutex_lock(&s->qlock);
    if (st->buf) list_push(&s->main_full, st->buf);
    stream_use(st, NULL);
    pthread_cond_signal(&s->wake);
    while (!atomic_load(&s->failed) && s->buffered > 0 && s->buffered + cap > s->opt.max_buffered)
        pthread_cond_wait(&s->done, &s->qlock);
    if (!atomic_load(&s->failed)) {
        if (cap == BUF_DEFAULT && s->spare) {
            b = s->spare;
            s->spare = b->next;
            s->spare_count--;
        } else {
            b = buf_new(cap);
        }
        if (b) {
            b->next = NULL;
            atomic_store(&b->committed, 0);
            b->taken = 0;
            s->buffered += cap;
        }
    }
    stream_use(st, b);
    pthread_mutex_unlock(&s->qlock);
    if (!b && !atomic_load(&s->failed)) fail(s, MSC_ENOMEM);
    return b ? st->pos : NULL;
}

/* Caller holds side_lock. */
static uint8_t *refill_side(msc_sink_t *s, msc_stream_t *st, size_t need)
{
    if (st->buf) list_push(&s->side_full, st->buf);
    stream_use(st, NULL);
    if (atomic_load(&s->failed)) return NULL;
    msc_buf_t *b = buf_new(need > BUF_DEFAULT / 4 ? need : BUF_DEFAULT / 4);
    if (!b) {
        fail(s, MSC_ENOMEM);
        return NULL;
    }
    stream_use(st, b);
    return st->pos;
}

uint8_t *msc__stream_refill(msc_sink_t *s, msc_stream_t *st, size_t need)
{
    if (need > MSC_CHUNK_MAX_RAW) return NULL;
    return st == &s->main ? refill_main(s, st, need) : refill_side(s, st, need);
}

msc_stream_t *msc_sink_side_lock(msc_sink_t *s)
{
    pthread_mutex_lock(&s->side_lock);
    msc_stream_t *st = &s->side;
    uint64_t position = atomic_load_explicit(&s->main.records, memory_order_acquire);
    if (position != st->synced) {
        uint8_t *p = msc_stream_reserve(s, st, MSC_REC_MAX);
        if (p) msc_stream_commit(st, msc_enc_sync(p, &st->synced, position), 1);
    }
    return st;
}

void msc_sink_side_unlock(msc_sink_t *s)
{
    pthread_mutex_unlock(&s->side_lock);
}

void msc_sink_flush(msc_sink_t *s)
{
    pthread_mutex_lock(&s->qlock);
    uint64_t want = ++s->flush_req;
    pthread_cond_signal(&s->wake);
    while (s->flush_done < want && !s->stop) pthread_cond_wait(&s->done, &s->qlock);
    pthread_mutex_unlock(&s->qlock);
}

/*
 * Lifecycle.
 */

/* fd moved to FD_HIGH or above when there is room (fd itself otherwise),
 * with *id set to its file; -1 with errno set when fd cannot be identified. */
static int keep_high(int fd, msc_file_id_t *id)
{
    int high = fcntl(fd, F_DUPFD_CLOEXEC, FD_HIGH);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    if (msc_file_identify(fd, id) == 0) return fd;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

/* The capture file (msc_file_create's rules); 0 or an MSC_E code with
 * *sys_errno set for MSC_EIO. */
static int open_output(msc_sink_t *s, int *sys_errno)
{
    int fd, err = msc_file_create(s->opt.path, s->opt.force, &fd);
    if (!err && (fd = keep_high(fd, &s->fd_id)) < 0) {
        unlink(s->opt.path);
        err = MSC_EIO;
    }
    if (err == MSC_EIO) *sys_errno = errno;
    s->fd = fd;
    return err;
}

static void open_statm(msc_sink_t *s)
{
    s->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (s->statm_fd >= 0) s->statm_fd = keep_high(s->statm_fd, &s->statm_id);
    s->smaps_fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
    if (s->smaps_fd >= 0) s->smaps_fd = keep_high(s->smaps_fd, &s->smaps_id);
}

/* Closes what is still ours: a descriptor the program closed and reused
 * is the program's now. */
static void close_owned(int fd, const msc_file_id_t *id)
{
    if (fd >= 0 && msc_file_is(fd, id)) close(fd);
}

/* Locks, condition variables and the writer thread; 0 or an errno value
 * (nothing left to undo). */
static int start_writer(msc_sink_t *s)
{
    sigset_t all, old;
    pthread_mutex_init(&s->qlock, NULL);
    pthread_mutex_init(&s->side_lock, NULL);
    pthread_mutex_init(&s->work_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&s->done, NULL);

    /* The writer thread inherits a fully blocked mask: signals belong to the
     * traced program's threads, never to ours. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&s->writer, NULL, writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    /* Open returns once the thread runs: a fork() right after must not find
     * it still being set up (a thread's start allocates, and a child would
     * inherit the allocator's lock mid-use). */
    pthread_mutex_lock(&s->qlock);
    while (!rc && !s->running) pthread_cond_wait(&s->done, &s->qlock);
    pthread_mutex_unlock(&s->qlock);
    if (rc) {
        pthread_cond_destroy(&s->done);
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->work_lock);
        pthread_mutex_destroy(&s->side_lock);
        pthread_mutex_destroy(&s->qlock);
    }
    return rc;
}

msc_sink_t *msc_sink_open(const msc_sink_options_t *opt, const msc_header_t *h, int *err,
                          int *sys_errno)
{
    size_t header_len, header_cap = MSC_FILE_HEADER_FIXED + MSC_FILE_HEADER_MAX_BODY + 4;
    *sys_errno = 0;

    *err = MSC_ENOMEM;
    uint8_t *header = msc_malloc(header_cap);
    if (!header) return NULL;
    *err = msc_header_encode(h, header, header_cap, &header_len);
    if (*err) goto fail_alloc;
    *err = MSC_ENOMEM;
    msc_sink_t *s = msc_calloc(1, sizeof(*s));
    if (!s) goto fail_alloc;
    s->opt = *opt;
    if (!s->opt.level) s->opt.level = 1;
    if (!s->opt.max_buffered) s->opt.max_buffered = 64u << 20;
    msc_buf_t *main_buf = buf_new(BUF_DEFAULT), *side_buf = buf_new(BUF_DEFAULT / 4);
    stream_use(&s->main, main_buf);
    stream_use(&s->side, side_buf);
    if (!main_buf || !side_buf) goto fail_bufs;
    s->buffered = BUF_DEFAULT;

    *err = open_output(s, sys_errno);
    if (*err) goto fail_open;
    *err = msc_chunk_writer_init(&s->chunks, s->fd, s->opt.level);
    if (*err) goto fail_chunks;
    if (write(s->fd, header, header_len) != (ssize_t)header_len) {
        *sys_errno = errno ? errno : ENOSPC;
        *err = MSC_EIO;
        goto fail_write;
    }
    open_statm(s);
    s->page_size = sysconf(_SC_PAGESIZE);
    s->t0 = mono_ns();
    int rc = start_writer(s);
    if (rc) {
        *sys_errno = rc;
        *err = MSC_EIO;
        goto fail_thread;
    }
    msc_free(header);
    *err = 0;
    return s;

fail_thread:
    if (s->statm_fd >= 0) close(s->statm_fd);
    if (s->smaps_fd >= 0) close(s->smaps_fd);
fail_write:
    msc_chunk_writer_release(&s->chunks);
fail_chunks:
    close(s->fd);
    unlink(opt->path);
fail_open:
fail_bufs:
    msc_free(main_buf);
    msc_free(side_buf);
    msc_free(s);
fail_alloc:
    msc_free(header);
    return NULL;
}

static void free_list(msc_buf_t *b)
{
    while (b) {
        msc_buf_t *next = b->next;
        msc_free(b);
        b = next;
    }
}

int msc_sink_close(msc_sink_t *s, uint64_t duration_ns)
{
    pthread_mutex_lock(&s->qlock);
    s->duration_ns = duration_ns;
    s->stop = 1;
    pthread_cond_signal(&s->wake);
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->qlock);
    pthread_join(s->writer, NULL);

    int err = atomic_load(&s->failed);
    if (!msc_file_is(s->fd, &s->fd_id)) {
        if (!err) err = MSC_ELOST;
    } else if (close(s->fd) < 0 && !err) {
        err = MSC_EIO;
    }
    close_owned(s->statm_fd, &s->statm_id);
    close_owned(s->smaps_fd, &s->smaps_id);
    msc_free(s->main.buf); /* the writer has written and unlinked every other buffer */
    msc_free(s->side.buf);
    free_list(s->spare);
    pthread_cond_destroy(&s->done);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->work_lock);
    pthread_mutex_destroy(&s->side_lock);
    pthread_mutex_destroy(&s->qlock);
    msc_chunk_writer_release(&s->chunks);
    msc_free(s);
    return err;
}

void msc_sink_atfork_prepare(msc_sink_t *s)
{
    pthread_mutex_lock(&s->work_lock); /* first: the writer takes the others inside it */
    pthread_mutex_lock(&s->side_lock);
    pthread_mutex_lock(&s->qlock);
}

void msc_sink_atfork_parent(msc_sink_t *s)
{
    pthread_mutex_unlock(&s->qlock);
    pthread_mutex_unlock(&s->side_lock);
    pthread_mutex_unlock(&s->work_lock);
}

/* In the child the writer thread is gone and the file is the parent's: close
 * our descriptor and leave the memory to the process (freeing buffers the
 * writer may have been holding is not safe to reason about). */
void msc_sink_atfork_child(msc_sink_t *s)
{
    pthread_mutex_unlock(&s->qlock);
    pthread_mutex_unlock(&s->side_lock);
    pthread_mutex_unlock(&s->work_lock);
    close_owned(s->fd, &s->fd_id);
    close_owned(s->statm_fd, &s->statm_id);
    close_owned(s->smaps_fd, &s->smaps_id);
}
