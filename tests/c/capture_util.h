/* What the C tests share: writing captures through the real sink (one helper
 * per record kind, each committed as one record so SYNC positions count the
 * way the recorder counts them), crafting files chunk by chunk with chosen
 * bytes, collecting replayed events, and an allocator that fails on demand
 * (by call number or by request size) and counts live blocks, so tests can
 * prove there is no leak and no huge allocation, with a loop that fails
 * each allocation of a whole analysis in turn. Everything is static inline:
 * each test uses a different subset. */
#ifndef MEMSCOPE_CAPTURE_UTIL_H
#define MEMSCOPE_CAPTURE_UTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "internal.h"
#include "memscope/analysis.h"
#include "memscope/replay.h"
#include "memscope/sink.h"
#include "memscope/temporal.h"

/*
 * Temporary files: one directory per test process, removed by tc_cleanup.
 */

static char tc_dir[64];

static inline const char *tc_path(const char *name)
{
    static char path[4][160];
    static int next;
    if (!tc_dir[0]) {
        snprintf(tc_dir, sizeof(tc_dir), "/tmp/memscope-test-XXXXXX");
        if (!mkdtemp(tc_dir)) abort();
    }
    char *p = path[next++ & 3];
    snprintf(p, sizeof(path[0]), "%s/%s", tc_dir, name);
    return p;
}

static inline void tc_cleanup(void)
{
    char cmd[128];
    if (!tc_dir[0]) return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tc_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tc_dir);
}

static inline uint8_t *tc_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

/* Replaces path with a new file: rewriting in place would make some file
 * systems flush the old blocks to disk on every one of thousands of writes. */
static inline void tc_write_file(const char *path, const void *data, size_t len)
{
    unlink(path);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) abort();
    fclose(f);
}

/*
 * Writing through the sink. Timed records take absolute ns; tests use times
 * far above the writer's own RSS-sample times so theirs are the latest seen.
 */

#define TC_RSS_MARK 0xABCDE000ull  /* RSS value of test samples, unlike any real one */
#define TC_TIME0 1000000000000000ull

typedef struct tc_capture {
    msc_sink_t *sink;
    msc_stream_t *st;              /* stream the helpers write to */
} tc_capture_t;

static inline int tc_open(tc_capture_t *c, const char *path, const msc_header_t *h)
{
    msc_sink_options_t opt = {0};
    opt.path = path;
    opt.force = 1;
    int err, sys_errno;
    c->sink = msc_sink_open(&opt, h, &err, &sys_errno);
    c->st = c->sink ? msc_sink_main(c->sink) : NULL;
    return c->sink ? 0 : err;
}

static inline void tc_default_header(msc_header_t *h)
{
    static char *argv[] = {"prog.py", "--flag"};
    memset(h, 0, sizeof(*h));
    strcpy(h->python_version, "3.11.7");
    h->python_hexversion = 0x030B07F0;
    h->pid = 4321;
    h->start_ns = 1700000000000000000ull;
    h->max_depth = 128;
    h->argc = 2;
    h->argv = argv;
}

static inline void tc_side_begin(tc_capture_t *c)
{
    c->st = msc_sink_side_lock(c->sink);
}

static inline void tc_side_end(tc_capture_t *c)
{
    msc_sink_side_unlock(c->sink);
    c->st = msc_sink_main(c->sink);
}

static inline uint8_t *tc_reserve(tc_capture_t *c, size_t extra)
{
    uint8_t *p = msc_stream_reserve(c->sink, c->st, MSC_REC_MAX + extra);
    if (!p) abort();
    return p;
}

static inline void tc_commit(tc_capture_t *c, uint8_t *p)
{
    msc_stream_commit(c->st, p, 1);
}

static inline void tc_alloc(tc_capture_t *c, uint64_t domain, uint64_t addr, uint64_t size,
                            uint32_t stack)
{
    tc_commit(c, msc_enc_alloc(tc_reserve(c, 0), &c->st->delta, domain, addr, size, stack));
}

static inline void tc_free(tc_capture_t *c, uint64_t domain, uint64_t addr)
{
    tc_commit(c, msc_enc_free(tc_reserve(c, 0), &c->st->delta, domain, addr, 0));
}

/* An munmap of length bytes at addr. */
static inline void tc_unmap(tc_capture_t *c, uint64_t addr, uint64_t length)
{
    tc_commit(c, msc_enc_free(tc_reserve(c, 0), &c->st->delta, MSC_DOMAIN_MMAP, addr, length));
}

static inline void tc_realloc(tc_capture_t *c, uint64_t domain, uint64_t old_addr,
                              uint64_t new_addr, uint64_t size, uint32_t stack)
{
    uint8_t *p = tc_reserve(c, 0);
    tc_commit(c, msc_enc_realloc(p, &c->st->delta, domain, old_addr, new_addr, size, stack));
}

/* Returns the stream-local id the NODE record defines. */
static inline uint32_t tc_node(tc_capture_t *c, uint32_t parent, uint32_t code, uint32_t offset)
{
    tc_commit(c, msc_enc_node(tc_reserve(c, 0), &c->st->delta, parent, code, offset));
    return c->st->delta.node;
}

static inline void tc_thread(tc_capture_t *c, uint32_t thread)
{
    tc_commit(c, msc_enc_thread(tc_reserve(c, 0), thread));
    c->st->thread = thread;
}

/* The other records, through their encoders in encode.h. */
static inline void tc_string(tc_capture_t *c, uint32_t id, const char *s)
{
    tc_commit(c, msc_enc_string(tc_reserve(c, strlen(s)), id, s, strlen(s)));
}

static inline void tc_code(tc_capture_t *c, uint32_t id, uint32_t file, uint32_t name,
                           uint32_t first_line, const uint8_t *table, size_t n)
{
    tc_commit(c, msc_enc_code(tc_reserve(c, n), id, file, name, first_line, table, n));
}

static inline void tc_thread_info(tc_capture_t *c, uint32_t thread, uint64_t native,
                                  const char *name)
{
    tc_commit(c,
              msc_enc_thread_info(tc_reserve(c, strlen(name)), thread, native, name, strlen(name)));
}

static inline void tc_sample(tc_capture_t *c, uint64_t ns, uint64_t rss)
{
    tc_commit(c, msc_enc_sample(tc_reserve(c, 0), &c->st->delta, ns, rss, 0, 0, 0));
}

/* A sample that also says where the resident memory is (flag D). */
static inline void tc_sample_detail(tc_capture_t *c, uint64_t ns, uint64_t rss, uint64_t anon,
                                    uint64_t file_backed)
{
    tc_commit(c, msc_enc_sample(tc_reserve(c, 0), &c->st->delta, ns, rss, 1, anon, file_backed));
}

static inline void tc_gc(tc_capture_t *c, uint64_t ns, uint64_t generation, uint64_t pause,
                         uint64_t collected, uint64_t uncollectable)
{
    tc_commit(c, msc_enc_gc(tc_reserve(c, 0), &c->st->delta, ns, generation, pause, collected,
                            uncollectable));
}

static inline void tc_mark(tc_capture_t *c, uint64_t ns, const char *label)
{
    tc_commit(c,
              msc_enc_mark(tc_reserve(c, strlen(label)), &c->st->delta, ns, label, strlen(label)));
}

/* A CHILD record: command holds the arguments, each NUL-terminated, ncommand bytes. */
static inline void tc_child(tc_capture_t *c, uint64_t ns, uint64_t pid, const char *capture,
                            const char *command, size_t ncommand)
{
    tc_commit(c, msc_enc_child(tc_reserve(c, strlen(capture) + ncommand), &c->st->delta, ns, pid,
                               capture, strlen(capture), command, ncommand));
}

static inline void tc_cpu(tc_capture_t *c, uint64_t ns, uint64_t age, uint32_t thread,
                          uint32_t stack, uint64_t cpu_ns, uint64_t wall_ns, int native)
{
    tc_commit(c, msc_enc_cpu(tc_reserve(c, 16), &c->st->delta, ns, age, thread, stack, cpu_ns,
                             wall_ns, native));
}

static inline void tc_lost(tc_capture_t *c, uint64_t count, uint64_t reason)
{
    tc_commit(c, msc_enc_lost(tc_reserve(c, 0), count, reason));
}

/*
 * Crafting files by hand: a header from tc_default_header, then chunks whose
 * every header field the test chooses; the checksum is computed over what
 * was chosen, so the reader's other checks are the ones that fire.
 */

typedef struct tc_craft {
    uint8_t data[1 << 16];
    size_t len;
} tc_craft_t;

static inline void tc_craft_begin(tc_craft_t *f)
{
    msc_header_t h;
    tc_default_header(&h);
    if (msc_header_encode(&h, f->data, sizeof(f->data), &f->len)) abort();
}

static inline void tc_craft_chunk_raw(tc_craft_t *f, int stream, int codec, uint32_t seq,
                                      uint32_t stored, uint32_t raw, const void *payload, size_t n)
{
    uint8_t *h = f->data + f->len;
    if (f->len + MSC_CHUNK_HEADER_SIZE + n > sizeof(f->data)) abort();
    msc__put_u32(h, MSC_CHUNK_MAGIC);
    h[4] = (uint8_t)stream;
    h[5] = (uint8_t)codec;
    h[6] = h[7] = 0;
    msc__put_u32(h + 8, seq);
    msc__put_u32(h + 12, stored);
    msc__put_u32(h + 16, raw);
    memcpy(h + MSC_CHUNK_HEADER_SIZE, payload, n);
    msc__put_u32(h + 20, XXH32(h + MSC_CHUNK_HEADER_SIZE, n, XXH32(h, 20, 0)));
    f->len += MSC_CHUNK_HEADER_SIZE + n;
}

/* An uncompressed chunk with consistent lengths. */
static inline void tc_craft_chunk(tc_craft_t *f, int stream, uint32_t seq, const void *payload,
                                  size_t n)
{
    tc_craft_chunk_raw(f, stream, MSC_CODEC_NONE, seq, (uint32_t)n, (uint32_t)n, payload, n);
}

/* Offsets of every chunk header in a capture, then the file's length:
 * returns how many offsets were stored (chunks + 1). */
static inline size_t tc_chunk_offsets(const uint8_t *buf, size_t len, uint64_t *out, size_t max)
{
    size_t n = 0;
    uint64_t off = MSC_FILE_HEADER_FIXED + msc__get_u32(buf + 12) + 4;
    while (off + MSC_CHUNK_HEADER_SIZE <= len && n + 1 < max) {
        out[n++] = off;
        off += MSC_CHUNK_HEADER_SIZE + msc__get_u32(buf + off + 12);
    }
    out[n++] = len;
    return n;
}

/*
 * Collecting events. Texts are copied (cut to the buffer), so events outlive
 * the replay callback.
 */

typedef struct tc_event {
    msc_event_t ev;                /* ev.text is cleared; see text */
    char text[80];
} tc_event_t;

typedef struct tc_events {
    tc_event_t *e;
    size_t n, cap;
    int skip_rss;                  /* drop SAMPLE events the writer thread made */
} tc_events_t;

static inline int tc_collect(void *arg, const msc_event_t *ev)
{
    tc_events_t *l = arg;
    if (l->skip_rss && ev->kind == MSC_REC_SAMPLE && ev->value[0] != TC_RSS_MARK) return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->e = realloc(l->e, l->cap * sizeof(tc_event_t));
    }
    tc_event_t *t = &l->e[l->n++];
    t->ev = *ev;
    t->ev.text = NULL;
    size_t n = ev->text_len < sizeof(t->text) - 1 ? ev->text_len : sizeof(t->text) - 1;
    if (n) memcpy(t->text, ev->text, n);
    t->text[n] = 0;
    return 0;
}

/* Equal in every field but time_ns, which is the latest time the replay
 * had seen and so depends on what else was read before the event. */
static inline int tc_same_event(const tc_event_t *a, const tc_event_t *b)
{
    const msc_event_t *x = &a->ev, *y = &b->ev;
    return x->kind == y->kind && x->domain == y->domain && x->thread == y->thread &&
           x->stack == y->stack && x->addr == y->addr && x->old_addr == y->old_addr &&
           x->size == y->size && memcmp(x->value, y->value, sizeof(x->value)) == 0 &&
           strcmp(a->text, b->text) == 0;
}

/* Opens and replays path into *out. Returns the run's result, or the
 * open's error (with *out empty). */
static inline int tc_replay(const char *path, tc_events_t *out, msc_error_info_t *info)
{
    int err;
    info->offset = 0;
    info->what = NULL;
    msc_replay_t *r = msc_replay_open(path, 0, &err, info);
    if (!r) return err;
    err = msc_replay_run(r, tc_collect, out, info);
    msc_replay_free(r);
    return err;
}

/*
 * An allocator that fails the Nth call (fail_at, counting from 1; 0 = never)
 * or any request above max_request, and counts blocks live.
 */

typedef struct tc_alloc_ctl {
    long calls;
    long fail_at;
    size_t max_request;            /* 0 = no limit */
    size_t biggest;                /* largest request seen */
    long live;                     /* blocks allocated and not freed */
    long refused;
} tc_alloc_ctl_t;

static tc_alloc_ctl_t tc_ctl;

static inline int tc_refuse(size_t size)
{
    tc_ctl.calls++;
    if (size > tc_ctl.biggest) tc_ctl.biggest = size;
    if ((tc_ctl.fail_at && tc_ctl.calls == tc_ctl.fail_at) ||
        (tc_ctl.max_request && size > tc_ctl.max_request)) {
        tc_ctl.refused++;
        return 1;
    }
    return 0;
}

static inline void *tc_a_malloc(void *ctx, size_t size)
{
    (void)ctx;
    if (tc_refuse(size)) return NULL;
    void *p = malloc(size);
    if (p) tc_ctl.live++;
    return p;
}

static inline void *tc_a_realloc(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (tc_refuse(size)) return NULL;
    void *p = realloc(ptr, size);
    if (p && !ptr) tc_ctl.live++;
    return p;
}

static inline void tc_a_free(void *ctx, void *ptr)
{
    (void)ctx;
    if (ptr) tc_ctl.live--;
    free(ptr);
}

static inline void tc_use_allocator(long fail_at, size_t max_request)
{
    static const msc_allocator_t a = {tc_a_malloc, tc_a_realloc, tc_a_free, NULL};
    memset(&tc_ctl, 0, sizeof(tc_ctl));
    tc_ctl.fail_at = fail_at;
    tc_ctl.max_request = max_request;
    msc_set_allocator(&a);
}

/* Analyses path as the report commands do, taking that many moments of
 * its timeline (0: none); 0 or the first error. A failed analysis must
 * not hand back a replay. */
static inline int tc_analyse(const char *path, size_t moments)
{
    msc_replay_t *r = NULL;
    msc_error_info_t info = {0, NULL};
    msc_analysis_t *a = msc_analysis_new();
    msc_temporal_t *t = a && moments ? msc_temporal_new(a, moments) : NULL;
    int err = a && (t || !moments) ? msc_analyse_file(path, a, &r, &info, NULL, NULL) : MSC_ENOMEM;
    if (err && err != MSC_ETRUNCATED && r) abort();
    if (!err && t) err = msc_temporal_finish(t, a, msc_replay_duration_ns(r));
    msc_temporal_free(t);
    msc_analysis_free(a);
    msc_replay_free(r);
    return err;
}

/* tc_analyse with the first, then the second, ... allocation failing, up
 * to max runs or until one needs no failure. Counts the runs that failed
 * as they must (MSC_ENOMEM, nothing left allocated) and those that did
 * not; returns whether the last run completed without error. */
static inline int tc_fail_each_allocation(const char *path, size_t moments, long max, int *failures,
                                          int *wrong)
{
    *failures = *wrong = 0;
    for (long at = 1; at <= max; at++) {
        tc_use_allocator(at, 0);
        int err = tc_analyse(path, moments);
        msc_set_allocator(NULL);
        if (tc_ctl.live) (*wrong)++;
        if (!tc_ctl.refused) return err == 0;
        if (err == MSC_ENOMEM) (*failures)++;
        else (*wrong)++;
    }
    return 0;
}

#endif
