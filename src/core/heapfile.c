/* Heap snapshot files: a small header, then the graph as records in the
 * chunk framing every memscope file shares (chunk.h), so a damaged file is
 * caught by its checksums. Layout in docs/format.md, "Heap snapshot files".
 *
 * The reader trusts nothing: every id is checked against what came before,
 * every edge target against the final node count, and every count in the
 * END record against what was read.
 *
 * msc_heap_read_partition reads the same records, checked the same way
 * (all but the uniqueness of addresses, which needs the address table and
 * which no partition depends on), but keeps only what a partition needs:
 * each node's type, size and flags, and the "__dict__" edges that name a
 * dict's owner. At ten million objects that is a third of one whole graph,
 * and `heap --diff` used to hold two. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "memscope/encode.h"
#include "memscope/heapfile.h"
#include "memscope/table.h"
#include "heapint.h"

#define HEADER_FIXED 16            /* magic, version, body length */
#define HEADER_MAX_BODY 4096
#define EDGES_PER_RECORD 1024
#define ENTRIES_PER_RECORD 1024     /* in SITES, DIGESTS, CONTAINERS and ARRAYS records */
#define RECORD_MAX (16 + 10 + MSC_HEAP_MAX_STRING) /* the longest record: a STRING */
#define PROGRESS_BYTES (4u << 20)  /* of the file read between progress calls */

enum heap_key {
    KEY_PID = 1,               /* varint */
    KEY_TIME_NS = 2,           /* varint, ns since the Unix epoch */
    KEY_HEXVERSION = 3,        /* varint, sys.hexversion of the walked process */
    KEY_CONTENTS = 4,          /* varint, 1: digests and container lengths recorded */
};

enum heap_record {
    REC_STRING = 1,
    REC_TYPE = 2,
    REC_NODE = 3,
    REC_EDGES = 4,
    REC_END = 5,
    REC_SITES = 6,             /* version 2 on */
    REC_DIGESTS = 7,           /* version 3 on */
    REC_CONTAINERS = 8,        /* version 3 on */
    REC_ARRAYS = 9,            /* version 4 on */
};

/* Strings 0 ("") and 1 ("<roots>"), type 0 and node 0 exist in every heap
 * (msc_heap_new); the file carries node 0 (for its edges) but not them. */
#define FIRST_STRING 2
#define FIRST_TYPE 1

typedef struct writer {
    msc_chunk_writer_t chunks;
    uint8_t *buf;              /* payload of the chunk being filled */
    size_t len;
    uint64_t last_addr;        /* address of the previous NODE record */
} writer_t;

static int flush_if(writer_t *w, size_t need)
{
    if (w->len + need <= MSC_CHUNK_MAX_RAW) return 0;
    int rc = msc_chunk_write(&w->chunks, 0, w->buf, w->len);
    w->len = 0;
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return MSC_EIO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static uint8_t *put_field(uint8_t *p, unsigned key, uint64_t value)
{
    uint8_t tmp[10];
    p = msc_put_varint(p, key);
    return msc_put_bytes(p, tmp, (size_t)(msc_put_varint(tmp, value) - tmp));
}

/*  | "MEMHEAP\0" | u32 version | u32 body length | body: (key, length, bytes)... | */
static int write_header(const msc_heap_t *h, int fd)
{
    uint8_t head[HEADER_FIXED + 64], *p = head + HEADER_FIXED;
    p = put_field(p, KEY_PID, h->pid);
    p = put_field(p, KEY_TIME_NS, h->time_ns);
    p = put_field(p, KEY_HEXVERSION, h->python_hexversion);
    if (h->contents) p = put_field(p, KEY_CONTENTS, 1);
    memcpy(head, MSC_HEAP_MAGIC, 8);
    msc__put_u32(head + 8, MSC_HEAP_VERSION);
    msc__put_u32(head + 12, (uint32_t)(p - head - HEADER_FIXED));
    return write_all(fd, head, (size_t)(p - head));
}

/*  STRING | 1 | length (varint) | bytes |                (id = previous + 1)
 *  TYPE   | 2 | name string id | module string id |     (id = previous + 1)  */
static int write_tables(writer_t *w, const msc_heap_t *h)
{
    for (uint32_t id = FIRST_STRING; id < h->string_count; id++) {
        size_t n;
        const char *s = msc_heap_string(h, id, &n);
        if (flush_if(w, 16 + n) < 0) return MSC_EIO;
        uint8_t *p = w->buf + w->len;
        *p++ = REC_STRING;
        p = msc_put_bytes(p, s, n);
        w->len = (size_t)(p - w->buf);
    }
    for (uint32_t t = FIRST_TYPE; t < h->type_count; t++) {
        if (flush_if(w, 32) < 0) return MSC_EIO;
        uint8_t *p = w->buf + w->len;
        *p++ = REC_TYPE;
        p = msc_put_varint(p, h->types[t].name);
        p = msc_put_varint(p, h->types[t].module);
        w->len = (size_t)(p - w->buf);
    }
    return 0;
}

/*  NODE  | 3 | addr delta (zigzag) | type | size | refcnt | u8 flags | preview | edge count |
 *  EDGES | 4 | n (1..1024) | n x (target - source (zigzag), label) |
 *  A node's edges follow its NODE record in as many EDGES records as needed. */
static int write_node(writer_t *w, const msc_heap_t *h, uint32_t v)
{
    uint64_t first = h->edge_start[v], end = h->edge_start[v + 1];
    if (flush_if(w, 80) < 0) return MSC_EIO;
    uint8_t *p = w->buf + w->len;
    *p++ = REC_NODE;
    p = msc_put_varint(p, msc_zigzag((int64_t)(h->addr[v] - w->last_addr)));
    w->last_addr = h->addr[v];
    p = msc_put_varint(p, h->type[v]);
    p = msc_put_varint(p, h->size[v]);
    p = msc_put_varint(p, h->refcnt[v]);
    *p++ = h->flags[v];
    p = msc_put_varint(p, h->preview[v]);
    p = msc_put_varint(p, end - first);
    w->len = (size_t)(p - w->buf);
    for (uint64_t e = first; e < end; e += EDGES_PER_RECORD) {
        uint64_t n = end - e < EDGES_PER_RECORD ? end - e : EDGES_PER_RECORD;
        if (flush_if(w, 16 + n * 15) < 0) return MSC_EIO;
        p = w->buf + w->len;
        *p++ = REC_EDGES;
        p = msc_put_varint(p, n);
        for (uint64_t k = e; k < e + n; k++) {
            p = msc_put_varint(p, msc_zigzag((int64_t)h->edge_to[k] - (int64_t)v));
            p = msc_put_varint(p, h->edge_label[k]);
        }
        w->len = (size_t)(p - w->buf);
    }
    return 0;
}

/* Records written after the last node, each an entry list of a per-node
 * property for the nodes that have it, in increasing node order:
 *
 *  KIND | n (1..1024) | n x (node - previous entry's node (varint, >= 1, first from 0), value) |
 *
 *  SITES      | 6 | value: site string id (varint) |
 *  DIGESTS    | 7 | value: u64 content digest (little-endian, nonzero) |
 *  CONTAINERS | 8 | value: u8 layout | length (varint) | capacity (varint) |
 *  ARRAYS     | 9 | value: u8 kind | u8 itemsize | u8 fits | length (varint) | */
typedef struct tail_kind {
    uint8_t record;
    size_t entry_max;          /* bytes an entry takes at most */
    uint64_t count;            /* entries to consider */
    uint32_t (*node)(const msc_heap_t *h, const uint8_t *keep, uint64_t i); /* UINT32_MAX:
                                                                      nothing to write */
    uint8_t *(*put)(uint8_t *p, const msc_heap_t *h, uint64_t i);
    const uint8_t *keep;       /* per node, for the kinds that write only some */
} tail_kind_t;

static int write_tail(writer_t *w, const msc_heap_t *h, const tail_kind_t *k)
{
    uint32_t prev = 0;
    for (uint64_t i = 0; i < k->count;) {
        uint64_t end = i;
        uint32_t n = 0;
        for (; end < k->count && n < ENTRIES_PER_RECORD; end++)
            n += k->node(h, k->keep, end) != UINT32_MAX;
        if (!n) return 0;
        if (flush_if(w, 16 + (size_t)n * (5 + k->entry_max)) < 0) return MSC_EIO;
        uint8_t *p = w->buf + w->len;
        *p++ = k->record;
        p = msc_put_varint(p, n);
        for (; i < end; i++) {
            uint32_t v = k->node(h, k->keep, i);
            if (v == UINT32_MAX) continue;
            p = msc_put_varint(p, v - prev);
            p = k->put(p, h, i);
            prev = v;
        }
        w->len = (size_t)(p - w->buf);
    }
    return 0;
}

static uint32_t site_node(const msc_heap_t *h, const uint8_t *keep, uint64_t v)
{
    (void)keep;
    return v && h->site[v] ? (uint32_t)v : UINT32_MAX;
}

static uint8_t *put_site(uint8_t *p, const msc_heap_t *h, uint64_t v)
{
    return msc_put_varint(p, h->site[v]);
}

static uint32_t digest_node(const msc_heap_t *h, const uint8_t *keep, uint64_t v)
{
    (void)h;
    return v && keep[v] ? (uint32_t)v : UINT32_MAX;
}

/* One byte per node: 1 when another node has the same digest. A digest
 * nothing else shares cannot make a duplicate, and most of a heap's
 * strings are unique, so only repeated digests are written (8 bytes of
 * noise each to the compressor otherwise). NULL on out-of-memory. */
static uint8_t *repeated_digests(const msc_heap_t *h)
{
    uint8_t *keep = msc_calloc(h->node_count, 1);
    uint64_t n = 0, cap = 64;
    for (uint32_t v = 1; keep && v < h->node_count; v++) n += msc_heap_digest(h, v) != 0;
    while (cap < 2 * n) cap *= 2;
    uint64_t *seen = keep ? msc_calloc((size_t)cap, sizeof(*seen)) : NULL;
    uint32_t *first = seen ? msc_malloc((size_t)cap * sizeof(*first)) : NULL;
    if (!first) {
        msc_free(keep);
        msc_free(seen);
        return NULL;
    }
    for (uint32_t v = 1; v < h->node_count; v++) {
        uint64_t d = msc_heap_digest(h, v), i = d & (cap - 1);
        if (!d) continue;
        while (seen[i] && seen[i] != d) i = (i + 1) & (cap - 1);
        if (seen[i]) keep[v] = keep[first[i]] = 1;
        else seen[i] = d, first[i] = v;
    }
    msc_free(seen);
    msc_free(first);
    return keep;
}

static uint8_t *put_digest(uint8_t *p, const msc_heap_t *h, uint64_t v)
{
    msc__put_u64(p, msc_heap_digest(h, (uint32_t)v));
    return p + 8;
}

static uint32_t container_node(const msc_heap_t *h, const uint8_t *keep, uint64_t i)
{
    (void)keep;
    return h->containers[i].node;
}

static uint8_t *put_container(uint8_t *p, const msc_heap_t *h, uint64_t i)
{
    *p++ = h->containers[i].layout;
    p = msc_put_varint(p, h->containers[i].length);
    return msc_put_varint(p, h->containers[i].capacity);
}

static uint32_t array_node(const msc_heap_t *h, const uint8_t *keep, uint64_t i)
{
    (void)keep;
    return h->arrays[i].node;
}

static uint8_t *put_array(uint8_t *p, const msc_heap_t *h, uint64_t i)
{
    const msc_heap_array_t *a = &h->arrays[i];
    *p++ = a->kind;
    *p++ = a->itemsize;
    *p++ = a->fits;
    return msc_put_varint(p, a->length);
}

static int write_tails(writer_t *w, const msc_heap_t *h)
{
    uint8_t *repeated = h->digest ? repeated_digests(h) : NULL;
    if (h->digest && !repeated) return MSC_ENOMEM;
    const tail_kind_t kinds[] = {
        {REC_SITES, 5, h->site ? h->node_count : 0, site_node, put_site, NULL},
        {REC_DIGESTS, 8, h->digest ? h->node_count : 0, digest_node, put_digest, repeated},
        {REC_CONTAINERS, 21, h->container_count, container_node, put_container, NULL},
        {REC_ARRAYS, 13, h->array_count, array_node, put_array, NULL},
    };
    int rc = 0;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]) && rc == 0; k++)
        rc = write_tail(w, h, &kinds[k]);
    msc_free(repeated);
    return rc;
}

/*  END | 5 | nodes | edges | strings | types |   (the counts the reader must have seen) */
static int write_end(writer_t *w, const msc_heap_t *h)
{
    if (flush_if(w, 48) < 0) return MSC_EIO;
    uint8_t *p = w->buf + w->len;
    *p++ = REC_END;
    p = msc_put_varint(p, h->node_count);
    p = msc_put_varint(p, h->edge_count);
    p = msc_put_varint(p, h->string_count);
    p = msc_put_varint(p, h->type_count);
    w->len = (size_t)(p - w->buf);
    return msc_chunk_write(&w->chunks, 0, w->buf, w->len);
}

int msc_heap_write(const msc_heap_t *h, int fd)
{
    writer_t w = {0};
    int rc = write_header(h, fd);
    if (rc < 0) return rc;
    /* zstd level 1: the program is paused while its heap is written, and
     * level 3 costs a fifth more time for 5-8% smaller files. */
    rc = msc_chunk_writer_init(&w.chunks, fd, 1);
    if (rc < 0) return rc;
    w.buf = msc_malloc(MSC_CHUNK_MAX_RAW);
    if (!w.buf) {
        rc = MSC_ENOMEM;
        goto done;
    }
    rc = write_tables(&w, h);
    for (uint32_t v = 0; rc == 0 && v < h->node_count; v++) rc = write_node(&w, h, v);
    if (rc == 0) rc = write_tails(&w, h);
    if (rc == 0) rc = write_end(&w, h);
done:
    msc_free(w.buf);
    msc_chunk_writer_release(&w.chunks);
    return rc;
}

/* Reading. */

typedef struct reader {
    msc_heap_t *h;
    msc_error_info_t *info;
    uint64_t at;               /* file offset of the chunk being parsed */
    uint64_t last_addr;
    uint32_t nodes_read;       /* NODE records so far (node 0 included) */
    uint64_t edges_due;        /* edges the current node still expects */
    uint32_t version;          /* of the file: SITES from 2 on, DIGESTS and CONTAINERS from 3,
                                  ARRAYS from 4 */
    int tail;                  /* a SITES, DIGESTS, CONTAINERS or ARRAYS record was read: no
                                  more nodes */
    uint32_t last_site;        /* node of the previous entry of each tail record kind */
    uint32_t last_digest;
    uint32_t last_container;
    uint32_t last_array;
    int ended;                 /* END seen */
    int light;                 /* partition only (msc_heap_read_partition) */
    uint32_t *dict_labels;     /* light: ids of the strings "__dict__" */
    uint32_t ndict_labels;
    uint32_t (*dict_edges)[2]; /* light: (from, to) of every "__dict__" edge, in file order */
    uint64_t ndict_edges;
    size_t cap_dict_edges;     /* room in dict_edges */
    uint32_t max_to;           /* light: the highest edge target, checked at the end */
} reader_t;

static int fail(reader_t *r, const char *what, int err)
{
    r->info->offset = r->at;
    r->info->what = what;
    return err;
}

static int read_header(int fd, msc_heap_t *h, uint64_t *body_end, uint32_t *version_out,
                       msc_error_info_t *info)
{
    uint8_t head[HEADER_FIXED + HEADER_MAX_BODY];
    ssize_t n;
    do n = pread(fd, head, sizeof(head), 0);
    while (n < 0 && errno == EINTR);
    info->offset = 0;
    info->what = "read error";
    if (n < 0) return MSC_EIO;
    info->what = "file too short for a heap snapshot header";
    if (n < HEADER_FIXED)
        return n >= 8 && memcmp(head, MSC_HEAP_MAGIC, 8) ? MSC_EFORMAT : MSC_ETRUNCATED;
    info->what = "not a memscope heap snapshot (bad magic)";
    if (memcmp(head, MSC_HEAP_MAGIC, 8) != 0) return MSC_EFORMAT;
    info->offset = 8;
    info->what = "unsupported heap snapshot version";
    uint32_t version = msc__get_u32(head + 8);
    if (version < 1 || version > MSC_HEAP_VERSION) return MSC_EFORMAT;
    *version_out = version;
    uint32_t body = msc__get_u32(head + 12);
    info->offset = 12;
    info->what = "absurd header length";
    if (body > HEADER_MAX_BODY) return MSC_ECORRUPT;
    info->what = "file ends inside the header";
    if ((uint64_t)n < HEADER_FIXED + (uint64_t)body) return MSC_ETRUNCATED;
    msc_cursor_t c = {head + HEADER_FIXED, head + HEADER_FIXED + body, 0};
    while (c.p < c.end && !c.err) {
        uint64_t key = msc__get_varint(&c), len = msc__get_varint(&c);
        const uint8_t *v = msc__get_bytes(&c, len);
        if (!v) break;
        msc_cursor_t f = {v, v + len, 0};
        uint64_t value = msc__get_varint(&f);
        if (key == KEY_PID) h->pid = value;
        else if (key == KEY_TIME_NS) h->time_ns = value;
        else if (key == KEY_HEXVERSION) h->python_hexversion = (uint32_t)value;
        else if (key == KEY_CONTENTS) h->contents = version >= 3 && value == 1;
    }
    info->offset = HEADER_FIXED;
    info->what = "malformed header field";
    if (c.err) return MSC_ECORRUPT;
    *body_end = HEADER_FIXED + body;
    return 0;
}

static int read_string(reader_t *r, msc_cursor_t *c)
{
    uint64_t n = msc__get_varint(c);
    if (n > MSC_HEAP_MAX_STRING) return fail(r, "absurd string length", MSC_ECORRUPT);
    const uint8_t *s = msc__get_bytes(c, n);
    if (!s) return fail(r, "string record cut short", MSC_ECORRUPT);
    uint32_t id;
    if (msc_heap_add_string(r->h, (const char *)s, n, &id) < 0)
        return fail(r, "out of memory", MSC_ENOMEM);
    if (r->light && n == 8 && memcmp(s, "__dict__", 8) == 0) {
        uint32_t *q = msc_realloc(r->dict_labels, (r->ndict_labels + 1) * sizeof(*q));
        if (!q) return fail(r, "out of memory", MSC_ENOMEM);
        r->dict_labels = q;
        r->dict_labels[r->ndict_labels++] = id;
    }
    return 0;
}

static int read_type(reader_t *r, msc_cursor_t *c)
{
    uint64_t name = msc__get_varint(c), module = msc__get_varint(c);
    if (c->err) return fail(r, "type record cut short", MSC_ECORRUPT);
    if (name >= r->h->string_count || module >= r->h->string_count)
        return fail(r, "type names an unknown string", MSC_ECORRUPT);
    uint32_t t;
    if (msc_heap_add_type(r->h, (uint32_t)name, (uint32_t)module, &t) < 0)
        return fail(r, "out of memory", MSC_ENOMEM);
    return 0;
}

/* A light heap's node: only the columns a partition reads. */
static int add_light_node(msc_heap_t *h, uint32_t type, uint64_t size, uint8_t flags)
{
    if (h->node_count >= MSC_HEAP_MAX_NODES) return MSC_ECORRUPT;
    if (h->node_count >= h->node_cap) {
        uint64_t n = (uint64_t)h->node_cap * 2;
        uint32_t *t = msc_realloc(h->type, (size_t)n * sizeof(*t));
        if (t) h->type = t;
        uint64_t *z = msc_realloc(h->size, (size_t)n * sizeof(*z));
        if (z) h->size = z;
        uint8_t *f = msc_realloc(h->flags, (size_t)n);
        if (f) h->flags = f;
        if (!t || !z || !f) return MSC_ENOMEM;
        h->node_cap = (uint32_t)n;
    }
    uint32_t v = h->node_count++;
    h->type[v] = type;
    h->size[v] = size;
    h->flags[v] = flags;
    return 0;
}

static int read_node(reader_t *r, msc_cursor_t *c)
{
    msc_heap_t *h = r->h;
    if (r->edges_due) return fail(r, "node record before the previous node's edges", MSC_ECORRUPT);
    if (r->tail)
        return fail(r, "node record after the nodes' sites, digests, containers or arrays",
                    MSC_ECORRUPT);
    uint64_t addr = r->last_addr + (uint64_t)msc_unzigzag(msc__get_varint(c));
    uint64_t type = msc__get_varint(c), size = msc__get_varint(c), refcnt = msc__get_varint(c);
    uint8_t flags = msc__get_byte(c);
    uint64_t preview = msc__get_varint(c), edges = msc__get_varint(c);
    if (c->err) return fail(r, "node record cut short", MSC_ECORRUPT);
    if (type >= h->type_count) return fail(r, "node of an unknown type", MSC_ECORRUPT);
    if (preview >= h->string_count || refcnt > UINT32_MAX || (flags & ~MSC_HEAP_FLAGS_ALL))
        return fail(r, "malformed node record", MSC_ECORRUPT);
    r->last_addr = addr;
    r->edges_due = edges;
    if (r->nodes_read++ == 0) {
        if (addr != 0 || type != 0) return fail(r, "first node is not the root", MSC_ECORRUPT);
        return 0;
    }
    if (type == 0) return fail(r, "a second root node", MSC_ECORRUPT);
    uint32_t v;
    int rc = r->light ? add_light_node(h, (uint32_t)type, size, flags)
                      : msc_heap_add_node(h, addr, (uint32_t)type, size, (uint32_t)refcnt, flags,
                                          (uint32_t)preview, &v);
    if (rc == MSC_ECORRUPT) return fail(r, "too many nodes", rc);
    return rc < 0 ? fail(r, "out of memory", rc) : 0;
}

/* A light heap counts its edges and keeps the "__dict__" ones of objects
 * (not the root's). */
static int keep_dict_edge(reader_t *r, uint32_t from, uint32_t to, uint32_t label)
{
    r->h->edge_count++;
    if (to > r->max_to) r->max_to = to;
    uint32_t i = 0;
    while (i < r->ndict_labels && r->dict_labels[i] != label) i++;
    if (from == 0 || i == r->ndict_labels) return 0;
    if (msc_array_grow((void **)&r->dict_edges, &r->cap_dict_edges, (size_t)r->ndict_edges + 1,
                       sizeof(*r->dict_edges)) < 0)
        return MSC_ENOMEM;
    r->dict_edges[r->ndict_edges][0] = from;
    r->dict_edges[r->ndict_edges++][1] = to;
    return 0;
}

static int read_edges(reader_t *r, msc_cursor_t *c)
{
    msc_heap_t *h = r->h;
    uint64_t n = msc__get_varint(c);
    if (c->err || n == 0 || n > EDGES_PER_RECORD || n > r->edges_due)
        return fail(r, "edge record with a wrong count", MSC_ECORRUPT);
    uint32_t from = h->node_count - 1;
    for (uint64_t k = 0; k < n; k++) {
        int64_t to = (int64_t)from + msc_unzigzag(msc__get_varint(c));
        uint64_t label = msc__get_varint(c);
        if (c->err) return fail(r, "edge record cut short", MSC_ECORRUPT);
        if (to < 0 || to >= MSC_HEAP_MAX_NODES)
            return fail(r, "edge to an impossible node", MSC_ECORRUPT);
        if (label > UINT32_MAX || (!(label & MSC_HEAP_LABEL_INDEX) && label >= h->string_count))
            return fail(r, "edge names an unknown string", MSC_ECORRUPT);
        int rc = r->light ? keep_dict_edge(r, from, (uint32_t)to, (uint32_t)label)
                          : msc_heap_add_edge(h, from, (uint32_t)to, (uint32_t)label);
        if (rc < 0) return fail(r, "out of memory", rc);
    }
    r->edges_due -= n;
    return 0;
}

/* The entry count of a SITES, DIGESTS, CONTAINERS or ARRAYS record, which the file
 * version must know and which must come after the last node's edges. */
static int tail_count(reader_t *r, msc_cursor_t *c, uint32_t since, uint64_t *n)
{
    if (r->version < since)
        return fail(r, "record kind newer than the snapshot's version", MSC_ECORRUPT);
    *n = msc__get_varint(c);
    if (c->err || *n == 0 || *n > ENTRIES_PER_RECORD || r->edges_due)
        return fail(r, "site, digest, container or array record with a wrong count", MSC_ECORRUPT);
    r->tail = 1;
    return 0;
}

/* The node of the next entry: the previous one's (*last) plus a delta
 * that keeps it increasing and inside the heap. */
static int tail_node(reader_t *r, msc_cursor_t *c, uint32_t *last)
{
    uint64_t delta = msc__get_varint(c);
    if (c->err) return fail(r, "site, digest, container or array record cut short", MSC_ECORRUPT);
    if (delta == 0 || delta >= r->h->node_count - *last)
        return fail(r, "site, digest, container or array of a node that does not exist",
                    MSC_ECORRUPT);
    *last += (uint32_t)delta;
    return 0;
}

static int read_sites(reader_t *r, msc_cursor_t *c)
{
    msc_heap_t *h = r->h;
    uint64_t n;
    int rc = tail_count(r, c, 2, &n);
    if (rc < 0) return rc;
    if (!r->light && !h->site && !(h->site = msc_calloc(h->node_count, sizeof(uint32_t))))
        return fail(r, "out of memory", MSC_ENOMEM);
    for (uint64_t k = 0; k < n; k++) {
        if ((rc = tail_node(r, c, &r->last_site)) < 0) return rc;
        uint64_t id = msc__get_varint(c);
        if (c->err) return fail(r, "site record cut short", MSC_ECORRUPT);
        if (id == 0 || id >= h->string_count)
            return fail(r, "site names an unknown string", MSC_ECORRUPT);
        if (!r->light) h->site[r->last_site] = (uint32_t)id;
    }
    return 0;
}

static int read_digests(reader_t *r, msc_cursor_t *c)
{
    msc_heap_t *h = r->h;
    uint64_t n;
    int rc = tail_count(r, c, 3, &n);
    for (uint64_t k = 0; rc == 0 && k < n; k++) {
        if ((rc = tail_node(r, c, &r->last_digest)) < 0) return rc;
        const uint8_t *d = msc__get_bytes(c, 8);
        if (!d) return fail(r, "digest record cut short", MSC_ECORRUPT);
        uint64_t digest = msc__get_u64(d);
        if (digest == 0 || (h->flags[r->last_digest] & MSC_HEAP_SYNTHETIC))
            return fail(r, "malformed digest", MSC_ECORRUPT);
        if (!r->light && msc_heap_set_digest(h, r->last_digest, digest) < 0)
            return fail(r, "out of memory", MSC_ENOMEM);
    }
    return rc;
}

static int read_containers(reader_t *r, msc_cursor_t *c)
{
    uint64_t n;
    int rc = tail_count(r, c, 3, &n);
    for (uint64_t k = 0; rc == 0 && k < n; k++) {
        if ((rc = tail_node(r, c, &r->last_container)) < 0) return rc;
        uint8_t layout = msc__get_byte(c);
        uint64_t length = msc__get_varint(c), capacity = msc__get_varint(c);
        if (c->err) return fail(r, "container record cut short", MSC_ECORRUPT);
        if (r->light) {
            if (!msc__heap_container_valid(layout, length, capacity)) rc = MSC_EUSAGE;
        } else {
            rc = msc_heap_add_container(r->h, r->last_container, layout, length, capacity);
        }
        if (rc == MSC_EUSAGE)
            return fail(r, "container with an impossible layout, length or capacity", MSC_ECORRUPT);
        if (rc < 0) return fail(r, "out of memory", rc);
    }
    return rc;
}

static int read_arrays(reader_t *r, msc_cursor_t *c)
{
    uint64_t n;
    int rc = tail_count(r, c, 4, &n);
    for (uint64_t k = 0; rc == 0 && k < n; k++) {
        if ((rc = tail_node(r, c, &r->last_array)) < 0) return rc;
        uint8_t kind = msc__get_byte(c), itemsize = msc__get_byte(c), fits = msc__get_byte(c);
        uint64_t length = msc__get_varint(c);
        if (c->err) return fail(r, "array record cut short", MSC_ECORRUPT);
        if (r->h->flags[r->last_array] & MSC_HEAP_SYNTHETIC)
            return fail(r, "array record for a synthetic node", MSC_ECORRUPT);
        if (r->light) {
            if (!msc__heap_array_valid(kind, itemsize, fits, length)) rc = MSC_EUSAGE;
        } else {
            rc = msc_heap_add_array(r->h, r->last_array, kind, itemsize, fits, length);
        }
        if (rc == MSC_EUSAGE)
            return fail(r, "array with an impossible kind, element size or length", MSC_ECORRUPT);
        if (rc < 0) return fail(r, "out of memory", rc);
    }
    return rc;
}

static int end_light(reader_t *r)
{
    if (r->h->edge_count && r->max_to >= r->h->node_count)
        return fail(r, "edge to a node that does not exist", MSC_ECORRUPT);
    r->ended = 1;
    return 0;
}

static int read_end(reader_t *r, msc_cursor_t *c)
{
    msc_heap_t *h = r->h;
    uint64_t nodes = msc__get_varint(c), edges = msc__get_varint(c);
    uint64_t strings = msc__get_varint(c), types = msc__get_varint(c);
    if (c->err) return fail(r, "end record cut short", MSC_ECORRUPT);
    if (r->edges_due || r->nodes_read == 0 || nodes != h->node_count || edges != h->edge_count ||
        strings != h->string_count || types != h->type_count)
        return fail(r, "end record does not match the records before it", MSC_ECORRUPT);
    if (r->light) return end_light(r);
    if (msc_heap_finish(h) < 0) return fail(r, "out of memory", MSC_ENOMEM);
    int rc = msc_heap_index(h);
    if (rc == MSC_ECORRUPT) return fail(r, "two nodes with one address", rc);
    if (rc < 0) return fail(r, "out of memory", rc);
    for (uint64_t e = 0; e < h->edge_count; e++)
        if (h->edge_to[e] >= h->node_count)
            return fail(r, "edge to a node that does not exist", MSC_ECORRUPT);
    r->ended = 1;
    return 0;
}

static int parse_chunk(reader_t *r, const uint8_t *data, size_t len)
{
    msc_cursor_t c = {data, data + len, 0};
    while (c.p < c.end) {
        if (r->ended) return fail(r, "data after the end record", MSC_ECORRUPT);
        int rc, kind = *c.p++;
        switch (kind) {
        case REC_STRING: rc = read_string(r, &c); break;
        case REC_TYPE: rc = read_type(r, &c); break;
        case REC_NODE: rc = read_node(r, &c); break;
        case REC_EDGES: rc = read_edges(r, &c); break;
        case REC_SITES: rc = read_sites(r, &c); break;
        case REC_DIGESTS: rc = read_digests(r, &c); break;
        case REC_CONTAINERS: rc = read_containers(r, &c); break;
        case REC_ARRAYS: rc = read_arrays(r, &c); break;
        case REC_END: rc = read_end(r, &c); break;
        default: rc = fail(r, "unknown record kind", MSC_ECORRUPT);
        }
        if (rc < 0) return rc;
    }
    return 0;
}

/* Reads the whole file into r->h; 0 or an error with *info set. */
static int read_file(int fd, reader_t *r, msc_error_info_t *info,
                     void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg)
{
    msc_chunk_reader_t chunks;
    uint64_t body_end = 0;
    int err;
    r->info = info;
    info->offset = 0;
    info->what = "out of memory";
    if ((err = read_header(fd, r->h, &body_end, &r->version, info)) < 0) return err;
    if ((err = msc_chunk_reader_init(&chunks, fd, body_end, 0)) < 0) return err;
    struct stat st;
    uint64_t total = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0, reported = 0;
    for (;;) {
        msc_chunk_t ck;
        int rc = msc_chunk_next(&chunks, &ck, info);
        if (rc < 0) err = rc;
        if (rc <= 0) break;
        r->at = ck.offset;
        if ((err = parse_chunk(r, ck.data, ck.len)) < 0) break;
        if (progress && chunks.offset - reported >= PROGRESS_BYTES) {
            reported = chunks.offset;
            progress(reported, total, arg);
        }
    }
    if (err == 0 && !r->ended) {
        err = MSC_ETRUNCATED;
        info->offset = chunks.offset;
        info->what = "file ends before the end record";
    }
    msc_chunk_reader_release(&chunks);
    return err;
}

msc_heap_t *msc_heap_read(int fd, int *err, msc_error_info_t *info,
                          void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg)
{
    reader_t r = {.h = msc_heap_new()};
    *err = MSC_ENOMEM;
    info->offset = 0;
    info->what = "out of memory";
    if (!r.h) return NULL;
    if ((*err = read_file(fd, &r, info, progress, arg)) < 0) {
        msc_heap_free(r.h);
        return NULL;
    }
    return r.h;
}

/* The owner of each node as "__dict__" (the first object with a __dict__
 * edge to it), as msc_heap_dict_owners finds it in a whole graph. */
static uint32_t *light_owners(const reader_t *r)
{
    uint32_t *owner = msc_malloc((size_t)r->h->node_count * sizeof(*owner));
    if (!owner) return NULL;
    memset(owner, 0xFF, (size_t)r->h->node_count * sizeof(*owner));
    for (uint64_t i = 0; i < r->ndict_edges; i++)
        if (owner[r->dict_edges[i][1]] == UINT32_MAX)
            owner[r->dict_edges[i][1]] = r->dict_edges[i][0];
    return owner;
}

int msc_heap_read_partition(int fd, int by, msc_heap_partition_t *p, msc_error_info_t *info,
                            void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg)
{
    reader_t r = {.h = msc_heap_new(), .light = 1};
    uint32_t *owners = NULL;
    int err = MSC_ENOMEM;
    memset(p, 0, sizeof(*p));
    info->offset = 0;
    info->what = "out of memory";
    if (!r.h) return err;
    /* Only type, size and flags grow from here: the other columns go. */
    msc_free(r.h->addr), msc_free(r.h->refcnt), msc_free(r.h->preview);
    msc_free(r.h->edge_start);
    r.h->addr = NULL, r.h->refcnt = NULL, r.h->preview = NULL, r.h->edge_start = NULL;
    if ((err = read_file(fd, &r, info, progress, arg)) < 0) goto done;
    err = MSC_ENOMEM;
    info->offset = 0;
    info->what = "out of memory";
    if (by == MSC_HEAP_BY_KIND && !(owners = light_owners(&r))) goto done;
    err = msc__heap_partition_owned(r.h, owners, by, p);
    if (err == 0) info->what = NULL;
done:
    msc_free(owners);
    msc_free(r.dict_edges);
    msc_free(r.dict_labels);
    msc_heap_free(r.h);
    return err;
}
