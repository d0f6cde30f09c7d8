/* Replay of a capture: decodes and validates every record and delivers the
 * events in program order. The main stream is delivered as it is read; side
 * records wait in a FIFO until the main stream reaches their SYNC position
 * (docs/format.md, "Ordering"), which the writer bounds to about one flush.
 * Stream-local stack node ids are mapped to the global trie in msc_symbols. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "memscope/encode.h"
#include "memscope/nframes.h"
#include "memscope/replay.h"
#include "nativesym.h"

typedef struct stream_state {
    msc_delta_t delta;         /* the encoder's delta state, mirrored */
    uint32_t *node_map;        /* local node id -> global; [0] = 0 */
    uint32_t nodes;            /* local ids defined so far, including 0 */
    uint32_t cap;
    uint32_t thread;           /* current thread index */
    uint64_t position;         /* side: main position of the last SYNC */
    msc_native_stream_t native;/* native frames (--native-frames captures) */
} stream_state_t;

typedef struct pending {
    uint64_t position;         /* deliver before main record number position */
    msc_event_t ev;
    char *text;                /* owned copy of ev.text */
} pending_t;

struct msc_replay {
    int fd;
    int flags;
    uint64_t file_size;
    msc_header_t header;
    msc_chunk_reader_t chunks;
    msc_symbols_t *sym;
    msc_native_t *native;      /* made at the first extension record */
    stream_state_t st[MSC_STREAM_COUNT];
    uint64_t main_records;     /* main records decoded so far */
    pending_t *queue;          /* side events waiting for their position, FIFO */
    size_t qhead, qtail, qcap;
    uint64_t now;              /* latest time seen, ns */
    uint64_t events;
    uint64_t duration;
    int complete;
};

/* Reads and checks the file header into r->header; *used is its size. The
 * fixed part says how long the body is (up to 1 MiB); an absurd length is
 * left for the decoder to refuse. */
static int read_header(msc_replay_t *r, size_t *used, msc_error_info_t *info)
{
    uint8_t fixed[MSC_FILE_HEADER_FIXED];
    ssize_t n = pread(r->fd, fixed, sizeof(fixed), 0);
    size_t len = sizeof(fixed), body = n == (ssize_t)len ? msc__get_u32(fixed + 12) : 0;
    if (n >= 0 && body <= MSC_FILE_HEADER_MAX_BODY) len += body + 4;
    uint8_t *head = n < 0 ? NULL : msc_malloc(len);
    if (n >= 0 && !head) return MSC_ENOMEM;
    if (head) n = pread(r->fd, head, len, 0);
    int err = MSC_EIO;
    if (n < 0) info->what = NULL; /* errno says why */
    else err = msc__header_decode(head, (size_t)n, &r->header, used, info);
    msc_free(head);
    return err;
}

msc_replay_t *msc_replay_open(const char *path, int flags, int *err, msc_error_info_t *info)
{
    size_t used;
    struct stat sb;

    info->offset = 0;
    info->what = "out of memory";
    *err = MSC_ENOMEM;
    msc_replay_t *r = msc_calloc(1, sizeof(*r));
    if (!r) goto fail_alloc;
    r->flags = flags;
    const char *why;
    r->fd = msc_open_regular(path, &why, &sb);
    if (r->fd < 0) {
        *err = why ? MSC_EFORMAT : MSC_EIO;
        info->what = why; /* NULL: errno says why */
        goto fail_open;
    }
    r->file_size = (uint64_t)sb.st_size;
    *err = read_header(r, &used, info);
    if (*err) goto fail_header;
    *err = MSC_ENOMEM;
    info->what = "out of memory";
    r->sym = msc_symbols_new(r->header.python_hexversion);
    if (!r->sym) goto fail_symbols;
    if (msc_chunk_reader_init(&r->chunks, r->fd, used, MSC_STREAM_COUNT - 1)) goto fail_chunks;
    *err = 0;
    return r;

fail_chunks:
    msc_symbols_free(r->sym);
fail_symbols:
    msc_header_release(&r->header);
fail_header:
    close(r->fd);
fail_open:
    msc_free(r);
fail_alloc:
    return NULL;
}

void msc_replay_free(msc_replay_t *r)
{
    if (!r) return;
    for (size_t i = r->qhead; i < r->qtail; i++) msc_free(r->queue[i].text);
    msc_free(r->queue);
    for (int i = 0; i < MSC_STREAM_COUNT; i++) {
        msc_free(r->st[i].node_map);
        msc__native_stream_release(&r->st[i].native);
    }
    msc__native_free(r->native);
    msc_chunk_reader_release(&r->chunks);
    msc_symbols_free(r->sym);
    msc_header_release(&r->header);
    close(r->fd);
    msc_free(r);
}

const msc_header_t *msc_replay_header(const msc_replay_t *r)
{
    return &r->header;
}

const msc_symbols_t *msc_replay_symbols(const msc_replay_t *r)
{
    return r->sym;
}

uint64_t msc_replay_offset(const msc_replay_t *r)
{
    return r->chunks.offset;
}

uint64_t msc_replay_file_size(const msc_replay_t *r)
{
    return r->file_size;
}

int msc_replay_complete(const msc_replay_t *r)
{
    return r->complete;
}

uint64_t msc_replay_duration_ns(const msc_replay_t *r)
{
    return r->complete ? r->duration : r->now;
}

uint64_t msc_replay_events(const msc_replay_t *r)
{
    return r->events;
}

/*
 * Delivery and the side queue.
 */

static int deliver(msc_replay_t *r, msc_event_t *ev, msc_event_fn fn, void *arg)
{
    if (ev->kind == MSC_REC_SAMPLE || ev->kind == MSC_REC_GC || ev->kind == MSC_REC_MARK ||
        ev->kind == MSC_REC_CHILD || ev->kind == MSC_REC_CPU) {
        if (ev->time_ns > r->now) r->now = ev->time_ns;
    }
    ev->time_ns = r->now;
    r->events++;
    return fn(arg, ev);
}

/* Whether the oldest waiting side event is due: the main stream reached
 * its position. */
static int side_due(const msc_replay_t *r)
{
    return r->qhead < r->qtail && r->queue[r->qhead].position <= r->main_records;
}

static int drain(msc_replay_t *r, msc_event_fn fn, void *arg)
{
    while (side_due(r)) {
        pending_t *p = &r->queue[r->qhead++];
        int rc = deliver(r, &p->ev, fn, arg);
        msc_free(p->text);
        p->text = NULL;
        if (rc) return rc;
    }
    if (r->qhead == r->qtail) r->qhead = r->qtail = 0;
    return 0;
}

static int enqueue(msc_replay_t *r, uint64_t position, const msc_event_t *ev)
{
    if (r->qtail == r->qcap) {
        if (r->qhead > 0) {
            memmove(r->queue, r->queue + r->qhead, (r->qtail - r->qhead) * sizeof(pending_t));
            r->qtail -= r->qhead;
            r->qhead = 0;
        }
        if (r->qtail == r->qcap) {
            size_t cap = r->qcap ? r->qcap * 2 : 256;
            pending_t *q = msc_realloc(r->queue, cap * sizeof(pending_t));
            if (!q) return MSC_ENOMEM;
            r->queue = q;
            r->qcap = cap;
        }
    }
    pending_t *p = &r->queue[r->qtail];
    p->position = position;
    p->ev = *ev;
    p->text = NULL;
    if (ev->text_len) {
        p->text = msc_malloc(ev->text_len);
        if (!p->text) return MSC_ENOMEM;
        memcpy(p->text, ev->text, ev->text_len);
        p->ev.text = p->text;
    }
    r->qtail++;
    return 0;
}

/*
 * Record decoding.
 */

static int map_node(msc_replay_t *r, stream_state_t *st, uint64_t distance, uint64_t code_id,
                    uint64_t offset)
{
    uint32_t id = st->nodes ? st->nodes : 1;
    if (distance == 0 || distance > id || code_id >= MSC_MAX_IDS || offset > UINT32_MAX)
        return MSC_ECORRUPT;
    if (st->nodes == 0) st->nodes = 1; /* local node 0 is the root */
    if (id >= MSC_MAX_IDS) return MSC_ECORRUPT;
    if (id >= st->cap) {
        uint32_t cap = st->cap ? st->cap * 2 : 1024;
        uint32_t *map = msc_realloc(st->node_map, sizeof(uint32_t) * cap);
        if (!map) return MSC_ENOMEM;
        map[0] = 0;
        st->node_map = map;
        st->cap = cap;
    }
    int64_t global =
        msc_symbols_add_stream_node(r->sym, (unsigned)(st - r->st), st->node_map[id - distance],
                                    (uint32_t)code_id, (uint32_t)offset);
    if (global < 0) return (int)global;
    st->node_map[id] = (uint32_t)global;
    st->nodes = id + 1;
    st->delta.node = id;
    return 0;
}

static uint64_t get_addr(msc_cursor_t *c, uint8_t tag, uint64_t *last)
{
    int64_t d = msc_unzigzag(msc__get_varint(c));
    *last += (tag & MSC_FLAG_ALIGNED) ? (uint64_t)d * 16 : (uint64_t)d;
    return *last;
}

static int get_stack(msc_cursor_t *c, uint8_t tag, stream_state_t *st, uint32_t *out)
{
    if (!(tag & MSC_FLAG_SAME_STACK)) st->delta.stack += (uint32_t)msc_unzigzag(msc__get_varint(c));
    uint32_t local = st->delta.stack;
    if (local != 0 && local >= st->nodes) return MSC_ECORRUPT;
    *out = local ? st->node_map[local] : 0;
    return 0;
}

static const uint8_t *get_text(msc_cursor_t *c, uint32_t *len, uint32_t max)
{
    uint64_t n = msc__get_varint(c);
    if (n > max) {
        c->err = MSC_ECORRUPT;
        return NULL;
    }
    *len = (uint32_t)n;
    return msc__get_bytes(c, n);
}

static const char *const malformed[] = {
    [MSC_REC_ALLOC] = "malformed ALLOC record",
    [MSC_REC_FREE] = "malformed FREE record",
    [MSC_REC_REALLOC] = "malformed REALLOC record",
    [MSC_REC_NODE] = "malformed NODE record",
    [MSC_REC_CODE] = "malformed CODE record",
    [MSC_REC_STRING] = "malformed STRING record",
    [MSC_REC_THREAD] = "malformed THREAD record",
    [MSC_REC_THREAD_INFO] = "malformed THREAD_INFO record",
    [MSC_REC_SAMPLE] = "malformed SAMPLE record",
    [MSC_REC_GC] = "malformed GC record",
    [MSC_REC_MARK] = "malformed MARK record",
    [MSC_REC_SYNC] = "malformed SYNC record",
    [MSC_REC_LOST] = "malformed LOST record",
    [MSC_REC_TRAILER] = "malformed TRAILER record",
    [MSC_REC_CHILD] = "malformed CHILD record",
    [MSC_REC_CPU] = "malformed CPU record",
};

/* ALLOC, FREE, REALLOC. A domain past OBJ follows the tag; mappings are
 * allocated and unmapped, never reallocated (a mremap is written as both). */
static int decode_block(stream_state_t *st, uint8_t tag, msc_cursor_t *c, msc_event_t *ev)
{
    int kind = MSC_TAG_KIND(tag);
    ev->domain = MSC_TAG_DOMAIN(tag);
    if (ev->domain == MSC_TAG_DOMAIN_EXTENDED) {
        ev->domain += msc__get_varint(c);
        if (ev->domain < MSC_TAG_DOMAIN_EXTENDED || ev->domain > MSC_DOMAIN_MAX)
            return MSC_ECORRUPT;
        if (kind == MSC_REC_REALLOC && ev->domain == MSC_DOMAIN_MMAP) return MSC_ECORRUPT;
    }
    if (kind == MSC_REC_REALLOC) {
        st->delta.addr += (uint64_t)msc_unzigzag(msc__get_varint(c));
        ev->old_addr = st->delta.addr;
    }
    ev->addr = get_addr(c, tag, &st->delta.addr);
    if (kind == MSC_REC_FREE) {
        if (tag & MSC_FLAG_SAME_STACK) return MSC_ECORRUPT;
        ev->size = ev->domain == MSC_DOMAIN_MMAP ? msc__get_varint(c) : 0;
        return 0;
    }
    if (ev->addr == 0) return MSC_ECORRUPT; /* no allocator hands out address 0 */
    ev->size = msc__get_varint(c);
    return get_stack(c, tag, st, &ev->stack);
}

/* NODE, CODE, STRING, THREAD: they change replay state, deliver nothing. */
static int decode_table(msc_replay_t *r, stream_state_t *st, int kind, msc_cursor_t *c)
{
    uint64_t id = msc__get_varint(c);
    if (kind == MSC_REC_THREAD) {
        st->thread = (uint32_t)id;
        return c->err ? c->err : id >= MSC_MAX_IDS ? MSC_ECORRUPT : 0;
    }
    if (kind == MSC_REC_NODE) {
        uint64_t code = msc__get_varint(c), offset = msc__get_varint(c);
        return c->err ? c->err : map_node(r, st, id, code, offset);
    }
    if (kind == MSC_REC_STRING) {
        uint32_t n;
        const uint8_t *bytes = get_text(c, &n, MSC_MAX_STRING);
        if (c->err) return c->err;
        return id >= MSC_MAX_IDS ? MSC_ECORRUPT
                                 : msc_symbols_add_string(r->sym, (uint32_t)id, bytes, n);
    }
    uint64_t file = msc__get_varint(c), name = msc__get_varint(c), line = msc__get_varint(c);
    uint32_t n;
    const uint8_t *table = get_text(c, &n, MSC_MAX_LINETABLE);
    if (c->err) return c->err;
    if (id >= MSC_MAX_IDS || file >= MSC_MAX_IDS || name >= MSC_MAX_IDS || line > UINT32_MAX)
        return MSC_ECORRUPT;
    return msc_symbols_add_code(r->sym, (uint32_t)id, (uint32_t)file, (uint32_t)name,
                                (uint32_t)line, table, n);
}

/* THREAD_INFO, SAMPLE, GC, MARK, LOST: events with no address. Only a
 * SAMPLE may carry a flag. */
static int decode_info(stream_state_t *st, uint8_t tag, msc_cursor_t *c, msc_event_t *ev)
{
    int kind = MSC_TAG_KIND(tag);
    if (kind == MSC_REC_THREAD_INFO) {
        uint64_t t = msc__get_varint(c);
        ev->value[0] = msc__get_varint(c);
        ev->text = (const char *)get_text(c, &ev->text_len, MSC_MAX_STRING);
        ev->thread = (uint32_t)t;
        return t >= MSC_MAX_IDS ? MSC_ECORRUPT : 0;
    }
    if (kind == MSC_REC_LOST) {
        ev->value[0] = msc__get_varint(c);
        ev->value[1] = msc__get_varint(c);
        return 0;
    }
    st->delta.time += msc__get_varint(c);
    ev->time_ns = st->delta.time;
    if (kind == MSC_REC_SAMPLE) {
        ev->value[0] = msc__get_varint(c);
        if (tag & MSC_FLAG_RSS_DETAIL) {
            ev->value[1] = msc__get_varint(c);
            ev->value[2] = msc__get_varint(c);
            ev->value[3] = 1;
        } else ev->value[1] = ev->value[2] = ev->value[3] = 0;
        return (tag & ~(MSC_FLAG_RSS_DETAIL | 0x0F)) ? MSC_ECORRUPT : 0;
    } else if (kind == MSC_REC_GC)
        for (int i = 0; i < 4; i++) ev->value[i] = msc__get_varint(c);
    else ev->text = (const char *)get_text(c, &ev->text_len, MSC_MAX_STRING);
    return 0;
}

/*  CHILD | 1111 (EXT) | 1 | time delta | pid | capture length | capture | command length |
 *        | command |
 * A child this process started; main stream only. The capture path is a
 * path (no NUL, at most MSC_MAX_PATH bytes, empty when the child records
 * nothing); the command is its arguments, each ended by a NUL byte. */
static int decode_child(stream_state_t *st, int stream, msc_cursor_t *c, msc_event_t *ev)
{
    st->delta.time += msc__get_varint(c);
    ev->time_ns = st->delta.time;
    ev->value[0] = msc__get_varint(c);
    ev->path = (const char *)get_text(c, &ev->path_len, MSC_MAX_PATH);
    ev->text = (const char *)get_text(c, &ev->text_len, MSC_MAX_STRING);
    if (c->err) return 0;
    if (stream != MSC_STREAM_MAIN || ev->value[0] == 0 || ev->value[0] > UINT32_MAX)
        return MSC_ECORRUPT;
    if (ev->path_len && memchr(ev->path, 0, ev->path_len)) return MSC_ECORRUPT;
    if (ev->text_len && ev->text[ev->text_len - 1] != 0) return MSC_ECORRUPT;
    return 0;
}

/* CPU: a thread's stack sampled; the thread is the record's own, not the
 * stream's current one (samples are written by whichever thread drains
 * them). */
static int decode_cpu(stream_state_t *st, uint8_t flags, msc_cursor_t *c, msc_event_t *ev)
{
    if (flags & ~(MSC_FLAG_NATIVE | MSC_FLAG_SAME_STACK)) return MSC_ECORRUPT;
    st->delta.time += msc__get_varint(c);
    ev->time_ns = st->delta.time;
    ev->value[3] = msc__get_varint(c);
    uint64_t thread = msc__get_varint(c);
    int err = get_stack(c, flags, st, &ev->stack);
    ev->value[0] = msc__get_varint(c);
    ev->value[1] = msc__get_varint(c);
    ev->value[2] = (flags & MSC_FLAG_NATIVE) ? 1 : 0;
    ev->thread = (uint32_t)thread;
    return err ? err : thread >= MSC_MAX_IDS ? MSC_ECORRUPT : 0;
}

/* An extension record: its sub-kind, its body's length, the body. CHILD
 * and CPU are events (ev->kind becomes MSC_REC_EXT_BASE + sub-kind); the
 * native frames' records change the replay's state; a sub-kind this reader
 * does not know is skipped whole, and fields past those it knows in a body
 * it does are skipped too (a newer writer may append some). Returns as
 * decode() does. */
static int decode_ext(msc_replay_t *r, stream_state_t *st, int stream, uint8_t tag, msc_cursor_t *c,
                      msc_event_t *ev)
{
    uint64_t sub = msc__get_varint(c), len = msc__get_varint(c);
    const uint8_t *body = len <= MSC_EXT_MAX_BODY ? msc__get_bytes(c, len) : NULL;
    if (c->err) return c->err == MSC_ETRUNCATED ? MSC_ECORRUPT : c->err;
    if (!body || tag != MSC_REC_EXT) return MSC_ECORRUPT;
    msc_cursor_t b = {body, body + len, 0};
    int err;
    switch (sub) {
    case MSC_EXT_CHILD:
        ev->kind = MSC_REC_CHILD;
        err = decode_child(st, stream, &b, ev);
        break;
    case MSC_EXT_CPU:
        ev->kind = MSC_REC_CPU;
        err = decode_cpu(st, msc__get_byte(&b), &b, ev);
        break;
    case MSC_EXT_MODULE:
    case MSC_EXT_NATIVE_NODE:
    case MSC_EXT_NATIVE_STACK:
        if (!r->native && !(r->native = msc__native_new())) return MSC_ENOMEM;
        return msc__native_decode(r->native, &st->native, stream, sub, &b);
    default: return 0; /* a later sub-kind */
    }
    if (!err && b.err) err = MSC_ECORRUPT; /* the body ends inside a field */
    return err ? err : 1;
}

/* What is wrong with a record of this kind that failed to decode. */
static const char *malformed_record(int kind)
{
    if (kind == MSC_REC_EXT) return "malformed extension record";
    return kind > 0 && (size_t)kind < sizeof(malformed) / sizeof(*malformed) && malformed[kind]
               ? malformed[kind]
               : "unknown record kind";
}

/* Decodes one record into ev (ev->kind set first, for malformed_record).
 * Returns 1 when ev is an event to deliver, 0 when the record only changed
 * replay state, or a negative MSC_E code. */
static int decode(msc_replay_t *r, int stream, msc_cursor_t *c, msc_event_t *ev)
{
    stream_state_t *st = &r->st[stream];
    uint8_t tag = msc__get_byte(c);
    int kind = MSC_TAG_KIND(tag), err;
    ev->kind = (uint8_t)kind;
    ev->thread = st->thread;
    ev->text_len = 0;
    ev->path_len = 0;

    switch (kind) {
    case MSC_REC_ALLOC:
    case MSC_REC_FREE:
    case MSC_REC_REALLOC: err = decode_block(st, tag, c, ev); break;
    case MSC_REC_NODE:
    case MSC_REC_CODE:
    case MSC_REC_STRING:
    case MSC_REC_THREAD: return decode_table(r, st, kind, c);
    case MSC_REC_THREAD_INFO:
    case MSC_REC_SAMPLE:
    case MSC_REC_GC:
    case MSC_REC_MARK:
    case MSC_REC_LOST: err = decode_info(st, tag, c, ev); break;
    case MSC_REC_EXT: return decode_ext(r, st, stream, tag, c, ev);
    case MSC_REC_SYNC:
        if (stream != MSC_STREAM_SIDE) return MSC_ECORRUPT;
        st->position += msc__get_varint(c);
        return c->err;
    case MSC_REC_TRAILER:
        r->duration = msc__get_varint(c);
        msc__get_varint(c);
        r->complete = !c->err;
        return c->err;
    default: return MSC_ECORRUPT;
    }
    if (c->err) return c->err == MSC_ETRUNCATED ? MSC_ECORRUPT : c->err;
    if (!err && r->native && (kind == MSC_REC_ALLOC || kind == MSC_REC_REALLOC))
        err = msc__native_extend(r->native, r->sym, &st->native, &ev->stack);
    return err ? err : 1;
}

static int replay_chunk(msc_replay_t *r, const msc_chunk_t *ch, msc_event_fn fn, void *arg,
                        msc_error_info_t *info)
{
    msc_cursor_t c = {ch->data, ch->data + ch->len, 0};
    msc_event_t ev;
    memset(&ev, 0, sizeof(ev));
    while (c.p < c.end) {
        int rc;
        if (ch->stream == MSC_STREAM_MAIN) {
            if (side_due(r) && (rc = drain(r, fn, arg))) return rc;
            rc = decode(r, MSC_STREAM_MAIN, &c, &ev);
            r->main_records++;
            if (rc == 1 && (rc = deliver(r, &ev, fn, arg))) return rc;
        } else {
            rc = decode(r, MSC_STREAM_SIDE, &c, &ev);
            if (rc == 1) {
                uint64_t pos = r->st[MSC_STREAM_SIDE].position;
                if (pos > r->main_records || r->qhead < r->qtail) rc = enqueue(r, pos, &ev);
                else if ((rc = deliver(r, &ev, fn, arg))) return rc;
            }
        }
        if (rc < 0) {
            info->offset = ch->offset;
            info->what = rc == MSC_ENOMEM ? "out of memory" : malformed_record(ev.kind);
            return rc == MSC_ETRUNCATED ? MSC_ECORRUPT : rc;
        }
    }
    return side_due(r) ? drain(r, fn, arg) : 0;
}

int msc_replay_run(msc_replay_t *r, msc_event_fn fn, void *arg, msc_error_info_t *info)
{
    msc_chunk_t ch;
    int rc;
    while ((rc = msc_chunk_next(&r->chunks, &ch, info)) == 1) {
        rc = replay_chunk(r, &ch, fn, arg, info);
        if (rc) return rc;
    }
    if (rc == MSC_ETRUNCATED && (r->flags & MSC_REPLAY_FOLLOW)) return 0;
    if (rc == 0 || rc == MSC_ETRUNCATED) {
        if (!(r->flags & MSC_REPLAY_FOLLOW)) {
            /* End of the capture: whatever is still waiting was recorded
             * after the last main record. */
            r->main_records = UINT64_MAX;
            int drc = drain(r, fn, arg);
            if (drc) return drc;
            msc_symbols_trim(r->sym);
            msc_chunk_reader_release(&r->chunks); /* nothing more is read */
        }
    }
    return rc;
}
