/* The in-memory heap graph (msc_heap_t): growable node columns, edges in
 * compressed-row form, an intern table for names, an address table, built
 * on demand, so the analyses can go from id() to node, and the contents the
 * walker records beside the graph (digests, containers, numpy arrays).
 * Both hash tables store indices (and the address table a hash tag) and
 * compare against the columns, so the tables stay small at ten million
 * objects. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "internal.h"
#include "memscope/heap.h"
#include "heapint.h"

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    return XXH3_64bits(s, n);
}

/* Doubles *cap (at least to need) and reallocates *p of elem-sized items. */
static int grow(void **p, uint64_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap) return 0;
    uint64_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    if (n > (uint64_t)SIZE_MAX / elem) return MSC_ENOMEM;
    void *q = msc_realloc(*p, (size_t)(n * elem));
    if (!q) return MSC_ENOMEM;
    msc__advise_huge_pages(q, (size_t)(n * elem)); /* the part not yet touched faults in less */
    *p = q;
    *cap = n;
    return 0;
}

static int grow32(void **p, uint32_t *cap, uint64_t need, size_t elem)
{
    uint64_t c = *cap;
    int rc = grow(p, &c, need, elem);
    *cap = (uint32_t)(c > UINT32_MAX ? UINT32_MAX : c);
    return rc;
}

msc_heap_t *msc_heap_new(void)
{
    msc_heap_t *h = msc_calloc(1, sizeof(*h));
    if (!h) return NULL;
    h->build = msc_calloc(1, sizeof(*h->build));
    if (!h->build) goto fail;
    uint32_t empty, root_type, root;
    if (msc_heap_intern(h, "", 0, &empty) < 0) goto fail;
    uint32_t name;
    if (msc_heap_intern(h, "<roots>", 7, &name) < 0) goto fail;
    if (msc_heap_add_type(h, name, empty, &root_type) < 0) goto fail;
    if (msc_heap_add_node(h, 0, root_type, 0, 0, MSC_HEAP_SYNTHETIC, 0, &root) < 0) goto fail;
    h->edge_start[0] = 0;
    return h;
fail:
    msc_heap_free(h);
    return NULL;
}

void msc_heap_free(msc_heap_t *h)
{
    if (!h) return;
    msc_free(h->addr);
    msc_free(h->size);
    msc_free(h->type);
    msc_free(h->refcnt);
    msc_free(h->preview);
    msc_free(h->flags);
    msc_free(h->site);
    msc_free(h->digest);
    msc_free(h->containers);
    msc_free(h->arrays);
    msc_free(h->edge_start);
    msc_free(h->edge_to);
    msc_free(h->edge_label);
    msc_free(h->types);
    msc_free(h->blob);
    msc_free(h->str_off);
    msc_free(h->node_slots);
    if (h->build) {
        msc_free(h->build->late_to);
        msc_free(h->build->late_label);
        msc_free(h->build->str_slots);
        msc_free(h->build);
    }
    msc_free(h);
}

/* A string slot holds the string id and 32 bits of its hash, so a probe
 * reads the string's bytes only on a likely match. */
static uint64_t string_slot(uint64_t hash, uint32_t id)
{
    return (uint64_t)(id + 1) << 32 | (hash >> 32);
}

static int rehash_strings(msc_heap_t *h)
{
    msc__heap_build_t *b = h->build;
    uint32_t cap = b->str_mask ? (b->str_mask + 1) * 2 : 1024;
    uint64_t *slots = msc_calloc(cap, sizeof(*slots));
    if (!slots) return MSC_ENOMEM;
    for (uint32_t j = 0; b->str_slots && j <= b->str_mask; j++) {
        if (!b->str_slots[j]) continue;
        size_t n;
        const char *s = msc_heap_string(h, (uint32_t)(b->str_slots[j] >> 32) - 1, &n);
        uint32_t i = (uint32_t)hash_bytes(s, n) & (cap - 1);
        while (slots[i]) i = (i + 1) & (cap - 1);
        slots[i] = b->str_slots[j];
    }
    msc_free(b->str_slots);
    b->str_slots = slots;
    b->str_mask = cap - 1;
    return 0;
}

/* n, or less so that s[0..n) ends on a UTF-8 character boundary within
 * MSC_HEAP_MAX_STRING bytes. */
static size_t fitting(const char *s, size_t n)
{
    if (n <= MSC_HEAP_MAX_STRING) return n;
    n = MSC_HEAP_MAX_STRING;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    return n;
}

int msc_heap_intern(msc_heap_t *h, const char *s, size_t n, uint32_t *id)
{
    msc__heap_build_t *b = h->build;
    n = fitting(s, n);
    if ((uint64_t)b->str_used * 2 >= b->str_mask && rehash_strings(h) < 0) return MSC_ENOMEM;
    uint64_t hash = hash_bytes(s, n);
    uint32_t i = (uint32_t)hash & b->str_mask;
    for (; b->str_slots[i]; i = (i + 1) & b->str_mask) {
        uint64_t slot = b->str_slots[i];
        if ((uint32_t)slot != (uint32_t)(hash >> 32)) continue;
        size_t m;
        const char *t = msc_heap_string(h, (uint32_t)(slot >> 32) - 1, &m);
        if (m == n && memcmp(s, t, n) == 0) {
            *id = (uint32_t)(slot >> 32) - 1;
            return 0;
        }
    }
    int rc = msc_heap_add_string(h, s, n, id);
    if (rc == 0) {
        b->str_slots[i] = string_slot(hash, *id);
        b->str_used++;
    }
    return rc;
}

int msc_heap_add_string(msc_heap_t *h, const char *s, size_t n, uint32_t *id)
{
    n = fitting(s, n);
    if (h->string_count >= MSC_HEAP_MAX_NODES) return MSC_ENOMEM;
    if (grow((void **)&h->blob, &h->blob_cap, h->blob_len + n + 1, 1) < 0 ||
        grow32((void **)&h->str_off, &h->string_cap, (uint64_t)h->string_count + 2,
               sizeof(*h->str_off)) < 0)
        return MSC_ENOMEM;
    memcpy(h->blob + h->blob_len, s, n);
    h->blob[h->blob_len + n] = 0;
    h->str_off[h->string_count] = h->blob_len;
    h->blob_len += n + 1;
    h->str_off[h->string_count + 1] = h->blob_len;
    *id = h->string_count++;
    return 0;
}

uint8_t *msc_heap_label_set(const msc_heap_t *h, const char *text)
{
    uint8_t *set = msc_malloc(h->string_count);
    if (!set) return NULL;
    for (uint32_t id = 0; id < h->string_count; id++)
        set[id] = strcmp(msc_heap_string(h, id, NULL), text) == 0;
    return set;
}

int msc_heap_add_type(msc_heap_t *h, uint32_t name, uint32_t module, uint32_t *index)
{
    if (h->type_count >= MSC_HEAP_MAX_NODES) return MSC_ENOMEM;
    if (grow32((void **)&h->types, &h->type_cap, (uint64_t)h->type_count + 1, sizeof(*h->types)) <
        0)
        return MSC_ENOMEM;
    h->types[h->type_count].name = name;
    h->types[h->type_count].module = module;
    *index = h->type_count++;
    return 0;
}

/* Grows the node columns to n nodes. */
static int grow_nodes(msc_heap_t *h, uint64_t n)
{
#define COLUMN(field)                                                                              \
    do {                                                                                           \
        void *q = msc_realloc(h->field, (size_t)n * sizeof(*h->field));                            \
        if (!q) return MSC_ENOMEM;                                                                 \
        msc__advise_huge_pages(q, (size_t)n * sizeof(*h->field));                                  \
        h->field = q;                                                                              \
    } while (0)
    COLUMN(addr);
    COLUMN(size);
    COLUMN(type);
    COLUMN(refcnt);
    COLUMN(preview);
    COLUMN(flags);
#undef COLUMN
    void *q = msc_realloc(h->edge_start, (size_t)(n + 1) * sizeof(*h->edge_start));
    if (!q) return MSC_ENOMEM;
    h->edge_start = q;
    h->node_cap = (uint32_t)n;
    return 0;
}

int msc_heap_reserve(msc_heap_t *h, uint32_t nodes, uint64_t edges)
{
    if (nodes > MSC_HEAP_MAX_NODES) nodes = MSC_HEAP_MAX_NODES;
    if (nodes > h->node_cap && grow_nodes(h, nodes) < 0) return MSC_ENOMEM;
    if (edges <= h->edge_cap) return 0;
    uint64_t cap = h->edge_cap, cap2 = h->edge_cap;
    if (grow((void **)&h->edge_to, &cap, edges, sizeof(uint32_t)) < 0 ||
        grow((void **)&h->edge_label, &cap2, edges, sizeof(uint32_t)) < 0)
        return MSC_ENOMEM;
    h->edge_cap = cap;
    return 0;
}

/* A slot holds the node index and 32 bits of the address's hash, so a
 * probe only reads the address column on a likely match: one cache miss
 * per lookup instead of one per probed slot. */
static uint64_t slot_of(uint64_t hash, uint32_t v)
{
    return (uint64_t)(v + 1) << 32 | (hash >> 32);
}

int msc_heap_index(msc_heap_t *h)
{
    uint64_t cap = 4096;
    while (cap < (uint64_t)h->node_count * 2) cap *= 2;
    uint64_t *slots = msc_calloc((size_t)cap, sizeof(*slots));
    if (!slots) return MSC_ENOMEM;
    msc_free(h->node_slots);
    h->node_slots = slots;
    h->node_mask = cap - 1;
    for (uint32_t v = 0; v < h->node_count; v++) {
        uint64_t hash = mix64(h->addr[v]), i = hash & (cap - 1);
        /* The probe to the free slot passes any node with the same address. */
        for (; slots[i]; i = (i + 1) & (cap - 1)) {
            if ((uint32_t)slots[i] == (uint32_t)(hash >> 32) &&
                h->addr[(uint32_t)(slots[i] >> 32) - 1] == h->addr[v])
                return MSC_ECORRUPT;
        }
        slots[i] = slot_of(hash, v);
    }
    return 0;
}

uint32_t msc_heap_find(const msc_heap_t *h, uint64_t addr)
{
    if (!h->node_slots) return UINT32_MAX;
    uint64_t hash = mix64(addr);
    uint32_t tag = (uint32_t)(hash >> 32);
    for (uint64_t i = hash & h->node_mask; h->node_slots[i]; i = (i + 1) & h->node_mask) {
        uint64_t slot = h->node_slots[i];
        uint32_t v = (uint32_t)(slot >> 32) - 1;
        if ((uint32_t)slot == tag && h->addr[v] == addr) return v;
    }
    return UINT32_MAX;
}

/* The record of node v among n records of size bytes each, sorted by node,
 * whose first field is their node (containers, arrays): a binary search;
 * NULL when v has none. */
_Static_assert(offsetof(msc_heap_container_t, node) == 0, "record_of reads node first");
_Static_assert(offsetof(msc_heap_array_t, node) == 0, "record_of reads node first");

static const void *record_of(const void *records, uint32_t n, size_t size, uint32_t v)
{
    const char *base = records;
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (*(const uint32_t *)(base + (size_t)mid * size) < v) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && *(const uint32_t *)(base + (size_t)lo * size) == v ? base + (size_t)lo * size
                                                                        : NULL;
}

const msc_heap_container_t *msc_heap_container(const msc_heap_t *h, uint32_t v)
{
    return record_of(h->containers, h->container_count, sizeof(*h->containers), v);
}

int msc_heap_add_node(msc_heap_t *h, uint64_t addr, uint32_t type, uint64_t size, uint32_t refcnt,
                      uint8_t flags, uint32_t preview, uint32_t *index)
{
    if (h->node_count >= MSC_HEAP_MAX_NODES) return MSC_ECORRUPT;
    if (h->node_count >= h->node_cap) {
        uint64_t n = h->node_cap ? (uint64_t)h->node_cap * 2 : 1024;
        if (grow_nodes(h, n < MSC_HEAP_MAX_NODES ? n : MSC_HEAP_MAX_NODES) < 0) return MSC_ENOMEM;
    }
    uint32_t v = h->node_count++;
    h->addr[v] = addr;
    h->size[v] = size;
    h->type[v] = type;
    h->refcnt[v] = refcnt;
    h->preview[v] = preview;
    h->flags[v] = flags;
    *index = v;
    return 0;
}

/* Closes the edge lists of nodes edges_of .. upto - 1 (all before upto). */
static void close_lists(msc_heap_t *h, uint32_t upto)
{
    while (h->build->edges_of < upto) h->edge_start[++h->build->edges_of] = h->edge_count;
}

int msc_heap_add_edge(msc_heap_t *h, uint32_t from, uint32_t to, uint32_t label)
{
    if (from < h->build->edges_of || from >= h->node_count) return MSC_EUSAGE;
    close_lists(h, from);
    if (h->edge_count >= h->edge_cap) {
        uint64_t cap = h->edge_cap;
        if (grow((void **)&h->edge_to, &cap, h->edge_count + 1, sizeof(uint32_t)) < 0)
            return MSC_ENOMEM;
        uint64_t cap2 = h->edge_cap;
        if (grow((void **)&h->edge_label, &cap2, h->edge_count + 1, sizeof(uint32_t)) < 0)
            return MSC_ENOMEM;
        h->edge_cap = cap;
    }
    h->edge_to[h->edge_count] = to;
    h->edge_label[h->edge_count] = label;
    h->edge_count++;
    return 0;
}

int msc_heap_add_root_edge(msc_heap_t *h, uint32_t to, uint32_t label)
{
    msc__heap_build_t *b = h->build;
    if (b->late_count >= b->late_cap) {
        uint64_t cap = b->late_cap, cap2 = b->late_cap;
        if (grow((void **)&b->late_to, &cap, b->late_count + 1, sizeof(uint32_t)) < 0 ||
            grow((void **)&b->late_label, &cap2, b->late_count + 1, sizeof(uint32_t)) < 0)
            return MSC_ENOMEM;
        b->late_cap = cap;
    }
    b->late_to[b->late_count] = to;
    b->late_label[b->late_count++] = label;
    return 0;
}

/* Moves every list after the root's up by the late root edges and puts
 * them at the end of the root's list: one pass, once per heap. */
static int merge_late(msc_heap_t *h)
{
    msc__heap_build_t *b = h->build;
    uint64_t n = b->late_count, total = h->edge_count + n, cap = h->edge_cap, cap2 = h->edge_cap;
    if (grow((void **)&h->edge_to, &cap, total, sizeof(uint32_t)) < 0 ||
        grow((void **)&h->edge_label, &cap2, total, sizeof(uint32_t)) < 0)
        return MSC_ENOMEM;
    h->edge_cap = cap;
    uint64_t at = h->edge_start[1], tail = h->edge_count - at;
    memmove(h->edge_to + at + n, h->edge_to + at, tail * sizeof(uint32_t));
    memmove(h->edge_label + at + n, h->edge_label + at, tail * sizeof(uint32_t));
    memcpy(h->edge_to + at, b->late_to, n * sizeof(uint32_t));
    memcpy(h->edge_label + at, b->late_label, n * sizeof(uint32_t));
    for (uint32_t v = 1; v <= h->node_count; v++) h->edge_start[v] += n;
    h->edge_count = total;
    msc_free(b->late_to);
    msc_free(b->late_label);
    b->late_to = b->late_label = NULL;
    b->late_count = b->late_cap = 0;
    return 0;
}

int msc_heap_finish(msc_heap_t *h)
{
    close_lists(h, h->node_count);
    int rc = h->build->late_count ? merge_late(h) : 0;
    if (rc == 0) MSC_DEBUG_CHECK(msc__heap_check(h));
    return rc;
}

const char *msc_heap_type_name(const msc_heap_t *h, uint32_t type, char *buf, size_t n)
{
    const char *name = msc_heap_string(h, h->types[type].name, NULL);
    size_t mlen;
    const char *module = msc_heap_string(h, h->types[type].module, &mlen);
    if (mlen == 0 || strcmp(module, "builtins") == 0) snprintf(buf, n, "%s", name);
    else snprintf(buf, n, "%s.%s", module, name);
    return buf;
}

int msc_heap_set_digest(msc_heap_t *h, uint32_t v, uint64_t digest)
{
    if (v >= h->node_count) return MSC_EUSAGE;
    if (v >= h->digest_cap) {
        /* Sized like the node columns, so nodes added later fit too. */
        uint32_t cap = h->node_cap > v ? h->node_cap : v + 1;
        uint64_t *q = msc_realloc(h->digest, (size_t)cap * sizeof(*q));
        if (!q) return MSC_ENOMEM;
        memset(q + h->digest_cap, 0, (size_t)(cap - h->digest_cap) * sizeof(*q));
        h->digest = q;
        h->digest_cap = cap;
    }
    h->digest[v] = digest ? digest : 1;
    return 0;
}

/* Whether capacity is possible for the layout: hash tables have a power of
 * two of slots, and nothing has 2^48 slots or more. */
static int valid_capacity(int layout, uint64_t capacity)
{
    if (capacity >= 1ULL << 48) return 0;
    if (layout == MSC_HEAP_LIST || layout == MSC_HEAP_DICT_SPLIT) return 1;
    return capacity && !(capacity & (capacity - 1));
}

int msc__heap_container_valid(int layout, uint64_t length, uint64_t capacity)
{
    return layout >= 0 && layout < MSC_HEAP_LAYOUTS && length <= capacity &&
           valid_capacity(layout, capacity);
}

static int valid_width(int n)
{
    return n == 1 || n == 2 || n == 4 || n == 8;
}

int msc__heap_array_valid(int kind, int itemsize, int fits, uint64_t length)
{
    if (kind == 'O') return itemsize == 8 && fits == 8 && length < (1ULL << 53);
    return (kind == 'i' || kind == 'u' || (kind == 'f' && itemsize >= 2 && fits >= 2)) &&
           valid_width(itemsize) && valid_width(fits) && fits <= itemsize &&
           length < (1ULL << 56) / (uint64_t)itemsize;
}

int msc_heap_add_array(msc_heap_t *h, uint32_t v, int kind, int itemsize, int fits, uint64_t length)
{
    if (v == 0 || v >= h->node_count || !msc__heap_array_valid(kind, itemsize, fits, length) ||
        (h->flags[v] & MSC_HEAP_SYNTHETIC) ||
        (h->array_count && h->arrays[h->array_count - 1].node >= v))
        return MSC_EUSAGE;
    if (grow32((void **)&h->arrays, &h->array_cap, (uint64_t)h->array_count + 1,
               sizeof(*h->arrays)) < 0)
        return MSC_ENOMEM;
    h->arrays[h->array_count++] =
        (msc_heap_array_t){v, (uint8_t)kind, (uint8_t)itemsize, (uint8_t)fits, length};
    return 0;
}

const msc_heap_array_t *msc_heap_array_of(const msc_heap_t *h, uint32_t v)
{
    return record_of(h->arrays, h->array_count, sizeof(*h->arrays), v);
}

int msc_heap_add_container(msc_heap_t *h, uint32_t v, int layout, uint64_t length,
                           uint64_t capacity)
{
    if (v == 0 || v >= h->node_count || !msc__heap_container_valid(layout, length, capacity) ||
        (h->container_count && h->containers[h->container_count - 1].node >= v))
        return MSC_EUSAGE;
    if (grow32((void **)&h->containers, &h->container_cap, (uint64_t)h->container_count + 1,
               sizeof(*h->containers)) < 0)
        return MSC_ENOMEM;
    h->containers[h->container_count++] =
        (msc_heap_container_t){v, (uint8_t)layout, length, capacity};
    return 0;
}
