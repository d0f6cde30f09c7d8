/* Record encoding primitives: LEB128 varints, zigzag, and the one encoder per
 * record kind, each under a diagram of the layout it writes. Inline because
 * the recorder calls them on every allocation; the layouts are specified in
 * docs/format.md and decoded by src/core/replay.c.
 *
 * Each encoder writes into a byte cursor the caller has checked has room for
 * MSC_REC_MAX bytes (plus n for the records that carry n bytes of text) and
 * returns the advanced cursor. */
#ifndef MEMSCOPE_ENCODE_H
#define MEMSCOPE_ENCODE_H

#include <stdint.h>
#include <string.h>

#include "memscope/format.h"

#define MSC_REC_MAX 48 /* the longest fixed record: REALLOC with a domain and four varints */

/* Per-stream delta state. The reader keeps the same struct, updated the same
 * way, so both sides agree on every delta. */
typedef struct msc_delta {
    uint64_t addr;   /* address of the previous ALLOC/FREE/REALLOC */
    uint32_t stack;  /* stack node of the previous ALLOC/REALLOC */
    uint32_t node;   /* id of the previous NODE record (ids count up from 1) */
    uint64_t time;   /* ns of the previous timed record */
} msc_delta_t;

static inline uint8_t *msc_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint64_t msc_zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t msc_unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Address delta: in units of 16 bytes when both ends are 16-aligned (the
 * common case for pymalloc and glibc), else in bytes. Sets the ALIGNED flag. */
static inline uint8_t *msc_put_addr(uint8_t *p, uint8_t *tag, uint64_t *last, uint64_t addr)
{
    int64_t d = (int64_t)(addr - *last);
    *last = addr;
    if ((d & 15) == 0) {
        *tag |= MSC_FLAG_ALIGNED;
        return msc_put_varint(p, msc_zigzag(d >> 4));
    }
    return msc_put_varint(p, msc_zigzag(d));
}

static inline uint8_t *msc_put_stack(uint8_t *p, uint8_t *tag, uint32_t *last, uint32_t stack)
{
    if (stack == *last) {
        *tag |= MSC_FLAG_SAME_STACK;
        return p;
    }
    p = msc_put_varint(p, msc_zigzag((int64_t)stack - (int64_t)*last));
    *last = stack;
    return p;
}

/* The tag with its domain bits; a domain past OBJ is tag domain 3 and a
 * varint (domain - 3) right after the tag. */
static inline uint8_t *msc_put_tag(uint8_t *p, int kind, uint64_t domain)
{
    if (domain < MSC_DOMAIN_COUNT) {
        *p = (uint8_t)(kind | (int)(domain << 4));
        return p + 1;
    }
    *p = (uint8_t)(kind | (MSC_TAG_DOMAIN_EXTENDED << 4));
    return msc_put_varint(p + 1, domain - MSC_TAG_DOMAIN_EXTENDED);
}

/*  ALLOC  | tag: 0001 kind, dd domain, A aligned, S same stack | [domain - 3, if dd = 3] |
 *         | addr delta (varint) | size (varint) | [stack delta (zigzag varint)] | */
static inline uint8_t *msc_enc_alloc(uint8_t *p, msc_delta_t *d, uint64_t domain, uint64_t addr,
                                     uint64_t size, uint32_t stack)
{
    uint8_t *tag = p;
    p = msc_put_tag(p, MSC_REC_ALLOC, domain);
    p = msc_put_addr(p, tag, &d->addr, addr);
    p = msc_put_varint(p, size);
    return msc_put_stack(p, tag, &d->stack, stack);
}

/*  FREE   | tag: 0010 kind, dd domain, A aligned | [domain - 3, if dd = 3] | addr delta (varint) |
 *         | [length (varint), in domain MMAP only] |
 *  An munmap names the bytes it unmaps, which may be part of a mapping;
 *  length is ignored in every other domain. */
static inline uint8_t *msc_enc_free(uint8_t *p, msc_delta_t *d, uint64_t domain, uint64_t addr,
                                    uint64_t length)
{
    uint8_t *tag = p;
    p = msc_put_tag(p, MSC_REC_FREE, domain);
    p = msc_put_addr(p, tag, &d->addr, addr);
    return domain == MSC_DOMAIN_MMAP ? msc_put_varint(p, length) : p;
}

/*  REALLOC | tag: 0011 kind, dd, A (for the new address), S | [domain - 3, if dd = 3] |
 *          | old addr delta (zigzag, bytes) | new addr delta | size | [stack delta] |
 *  The old address is coded in bytes from the previous address; the new one
 *  through msc_put_addr from the old one. Never in domain MMAP. */
static inline uint8_t *msc_enc_realloc(uint8_t *p, msc_delta_t *d, uint64_t domain,
                                       uint64_t old_addr, uint64_t new_addr, uint64_t size,
                                       uint32_t stack)
{
    uint8_t *tag = p;
    p = msc_put_tag(p, MSC_REC_REALLOC, domain);
    p = msc_put_varint(p, msc_zigzag((int64_t)(old_addr - d->addr)));
    d->addr = old_addr;
    p = msc_put_addr(p, tag, &d->addr, new_addr);
    p = msc_put_varint(p, size);
    return msc_put_stack(p, tag, &d->stack, stack);
}

/*  NODE   | 0100 | parent distance: id - parent (varint) | code id | instruction offset |
 *  Ids are implicit: each NODE record's id is the previous one's plus one. */
static inline uint8_t *msc_enc_node(uint8_t *p, msc_delta_t *d, uint32_t parent, uint32_t code_id,
                                    uint32_t offset)
{
    uint32_t id = ++d->node;
    *p++ = MSC_REC_NODE;
    p = msc_put_varint(p, id - parent);
    p = msc_put_varint(p, code_id);
    return msc_put_varint(p, offset);
}

/*  THREAD | 0111 | thread index (varint) | */
static inline uint8_t *msc_enc_thread(uint8_t *p, uint32_t thread)
{
    *p++ = MSC_REC_THREAD;
    return msc_put_varint(p, thread);
}

/*  SYNC   | 1100 | main-stream position delta (varint) |   (side stream only) */
static inline uint8_t *msc_enc_sync(uint8_t *p, uint64_t *last, uint64_t position)
{
    *p++ = MSC_REC_SYNC;
    p = msc_put_varint(p, position - *last);
    *last = position;
    return p;
}

static inline uint8_t *msc_put_time(uint8_t *p, msc_delta_t *d, uint64_t ns)
{
    uint64_t delta = ns >= d->time ? ns - d->time : 0;
    d->time = ns >= d->time ? ns : d->time;
    return msc_put_varint(p, delta);
}

/* Length-prefixed bytes; the caller checks room for 10 + n bytes. */
static inline uint8_t *msc_put_bytes(uint8_t *p, const void *bytes, size_t n)
{
    p = msc_put_varint(p, n);
    memcpy(p, bytes, n);
    return p + n;
}

/*  EXT    | 0000 0000 | sub-kind (varint) | body length (varint) | body |
 *  An extension record (format.h). An encoder opens one, writes the body
 *  where msc_enc_ext_open says, and closes it with the body's end: the
 *  length goes in front and the body moves up to meet it. The caller
 *  checks room for MSC_REC_MAX + the body. */
static inline uint8_t *msc_enc_ext_open(uint8_t *p, int subkind)
{
    *p++ = MSC_REC_EXT;
    return msc_put_varint(p, (uint64_t)subkind) + MSC_EXT_LENGTH_ROOM;
}

static inline uint8_t *msc_enc_ext_close(uint8_t *body, uint8_t *end)
{
    size_t n = (size_t)(end - body);
    uint8_t len[MSC_EXT_LENGTH_ROOM + 7];
    size_t k = (size_t)(msc_put_varint(len, n) - len);
    uint8_t *at = body - MSC_EXT_LENGTH_ROOM;
    memcpy(at, len, k);
    memmove(at + k, body, n);
    return at + k + n;
}

/* An extension record whose body is ready in bytes. */
static inline uint8_t *msc_enc_ext(uint8_t *p, int subkind, const void *body, size_t n)
{
    uint8_t *b = msc_enc_ext_open(p, subkind);
    memcpy(b, body, n);
    return msc_enc_ext_close(b, b + n);
}

/*  CPU    | EXT 5 | flags: S same stack, N native | time delta | age ns (varint) |
 *         | thread index (varint) | [stack delta (zigzag varint), if not S] |
 *         | cpu ns (varint) | wall ns (varint) |
 *  One sample of a thread's Python stack: the CPU and wall time the thread
 *  spent since its previous sample. Written when the recorder drains it,
 *  age ns after it was taken (the sample's time is the record's minus age).
 *  N (0x10): the thread was outside the interpreter, in native code. */
static inline uint8_t *msc_enc_cpu(uint8_t *p, msc_delta_t *d, uint64_t now, uint64_t age,
                                   uint32_t thread, uint32_t stack, uint64_t cpu_ns,
                                   uint64_t wall_ns, int native)
{
    uint8_t *body = msc_enc_ext_open(p, MSC_EXT_CPU), *flags = body;
    p = body;
    *p++ = native ? MSC_FLAG_NATIVE : 0;
    p = msc_put_time(p, d, now);
    p = msc_put_varint(p, age);
    p = msc_put_varint(p, thread);
    p = msc_put_stack(p, flags, &d->stack, stack);
    p = msc_put_varint(p, cpu_ns);
    return msc_enc_ext_close(body, msc_put_varint(p, wall_ns));
}

/*  CODE   | 0101 | code id | file string id | name string id | first line |
 *         | line table length | line table bytes |
 *  Names a code object once per capture (main stream only); the caller
 *  checks room for MSC_REC_MAX + n. */
static inline uint8_t *msc_enc_code(uint8_t *p, uint32_t id, uint32_t file, uint32_t name,
                                    uint32_t first_line, const void *table, size_t n)
{
    *p++ = MSC_REC_CODE;
    p = msc_put_varint(p, id);
    p = msc_put_varint(p, file);
    p = msc_put_varint(p, name);
    p = msc_put_varint(p, first_line);
    return msc_put_bytes(p, table, n);
}

/*  STRING | 0110 | string id | length (<= MSC_MAX_STRING) | UTF-8 bytes |
 *  The caller checks room for MSC_REC_MAX + n. */
static inline uint8_t *msc_enc_string(uint8_t *p, uint32_t id, const char *s, size_t n)
{
    *p++ = MSC_REC_STRING;
    p = msc_put_varint(p, id);
    return msc_put_bytes(p, s, n);
}

/*  THREAD_INFO | 1000 | thread index | native thread id | name length | name |
 *  (side stream) The caller checks room for MSC_REC_MAX + n. */
static inline uint8_t *msc_enc_thread_info(uint8_t *p, uint32_t thread, uint64_t native_id,
                                           const char *name, size_t n)
{
    *p++ = MSC_REC_THREAD_INFO;
    p = msc_put_varint(p, thread);
    p = msc_put_varint(p, native_id);
    return msc_put_bytes(p, name, n);
}

/*  SAMPLE | 1001 000D | time delta ns | RSS bytes | [anonymous bytes | file-backed bytes] |
 *  (side stream) With detail, flag D and the resident split follow. */
static inline uint8_t *msc_enc_sample(uint8_t *p, msc_delta_t *d, uint64_t ns, uint64_t rss,
                                      int detail, uint64_t anon, uint64_t file_backed)
{
    *p++ = (uint8_t)(MSC_REC_SAMPLE | (detail ? MSC_FLAG_RSS_DETAIL : 0));
    p = msc_put_time(p, d, ns);
    p = msc_put_varint(p, rss);
    if (!detail) return p;
    p = msc_put_varint(p, anon);
    return msc_put_varint(p, file_backed);
}

/*  GC     | 1010 | time delta ns | generation | duration ns | collected | uncollectable |
 *  (main stream) One collection, written when it ends. */
static inline uint8_t *msc_enc_gc(uint8_t *p, msc_delta_t *d, uint64_t ns, uint64_t generation,
                                  uint64_t duration_ns, uint64_t collected, uint64_t uncollectable)
{
    *p++ = MSC_REC_GC;
    p = msc_put_time(p, d, ns);
    p = msc_put_varint(p, generation);
    p = msc_put_varint(p, duration_ns);
    p = msc_put_varint(p, collected);
    return msc_put_varint(p, uncollectable);
}

/*  MARK   | 1011 | time delta ns | label length | label |   (main stream)
 *  The caller checks room for MSC_REC_MAX + n. */
static inline uint8_t *msc_enc_mark(uint8_t *p, msc_delta_t *d, uint64_t ns, const char *label,
                                    size_t n)
{
    *p++ = MSC_REC_MARK;
    p = msc_put_time(p, d, ns);
    return msc_put_bytes(p, label, n);
}

/*  CHILD  | EXT 4 | time delta ns | pid | capture length | capture | command length |
 *         | command |   (main stream) A child process started, the capture it
 *  records to (empty: none) and its command, each argument NUL-terminated.
 *  The caller checks room for MSC_REC_MAX + both lengths. */
static inline uint8_t *msc_enc_child(uint8_t *p, msc_delta_t *d, uint64_t ns, uint64_t pid,
                                     const char *capture, size_t ncapture, const char *command,
                                     size_t ncommand)
{
    uint8_t *body = msc_enc_ext_open(p, MSC_EXT_CHILD);
    p = msc_put_time(body, d, ns);
    p = msc_put_varint(p, pid);
    p = msc_put_bytes(p, capture, ncapture);
    return msc_enc_ext_close(body, msc_put_bytes(p, command, ncommand));
}

/*  LOST   | 1101 | count | reason (enum msc_lost_reason) | */
static inline uint8_t *msc_enc_lost(uint8_t *p, uint64_t count, uint64_t reason)
{
    *p++ = MSC_REC_LOST;
    p = msc_put_varint(p, count);
    return msc_put_varint(p, reason);
}

/*  TRAILER | 1110 | duration ns | main records |   (side stream, last record) */
static inline uint8_t *msc_enc_trailer(uint8_t *p, uint64_t duration_ns, uint64_t main_records)
{
    *p++ = MSC_REC_TRAILER;
    p = msc_put_varint(p, duration_ns);
    return msc_put_varint(p, main_records);
}

#endif
