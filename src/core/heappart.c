/* Partitions of a heap snapshot, guppy/heapy's view: each object gets a
 * key (its kind, type, defining module or size class), rows sum count and
 * bytes per key, and the table is sorted by bytes. A dict's kind names the
 * object that holds it as __dict__, which is how heapy tells the memory of
 * a class's instances apart from other dicts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "memscope/heapanalysis.h"
#include "heapint.h"

#define SIZE_CLASSES 64

uint32_t *msc_heap_dict_owners(const msc_heap_t *h)
{
    uint32_t *owner = msc_malloc((size_t)h->node_count * sizeof(*owner));
    uint8_t *dict_label = msc_heap_label_set(h, "__dict__");
    if (!owner || !dict_label) {
        msc_free(owner);
        msc_free(dict_label);
        return NULL;
    }
    memset(owner, 0xFF, (size_t)h->node_count * sizeof(*owner));
    for (uint32_t u = 1; u < h->node_count; u++) {
        for (uint64_t e = h->edge_start[u]; e < h->edge_start[u + 1]; e++) {
            uint32_t t = h->edge_to[e];
            if (msc_heap_label_in(dict_label, h->edge_label[e]) && owner[t] == UINT32_MAX)
                owner[t] = u;
        }
    }
    msc_free(dict_label);
    return owner;
}

static int is_dict_type(const msc_heap_t *h, uint32_t type)
{
    return strcmp(msc_heap_string(h, h->types[type].name, NULL), "dict") == 0 &&
           strcmp(msc_heap_string(h, h->types[type].module, NULL), "builtins") == 0;
}

uint32_t msc__heap_dict_type(const msc_heap_t *h)
{
    for (uint32_t t = 0; t < h->type_count; t++)
        if (is_dict_type(h, t)) return t;
    return UINT32_MAX;
}

/* Kinds are numbered: types, then "dict of" each type, then "dict (no
 * owner)". */
uint64_t msc__heap_kind_key(const msc_heap_t *h, const uint32_t *owners, uint32_t dict_type,
                            uint32_t v)
{
    uint32_t t = h->type[v];
    if (t != dict_type) return t;
    return owners[v] == UINT32_MAX ? 2ULL * h->type_count
                                   : (uint64_t)h->type_count + h->type[owners[v]];
}

uint64_t msc__heap_kind_keys(const msc_heap_t *h)
{
    return 2ULL * h->type_count + 1;
}

void msc__heap_kind_name(const msc_heap_t *h, uint64_t key, char *buf, size_t n)
{
    char tmp[400];
    if (key < h->type_count) msc_heap_type_name(h, (uint32_t)key, buf, n);
    else if (key == 2ULL * h->type_count) snprintf(buf, n, "dict (no owner)");
    else
        snprintf(buf, n, "dict of %s",
                 msc_heap_type_name(h, (uint32_t)(key - h->type_count), tmp, sizeof(tmp)));
}

/* The key of node v: an index into the row table, whose layout depends on
 * by (kinds; or strings; or size classes). */
static uint64_t key_of(const msc_heap_t *h, const uint32_t *owners, uint32_t dict_type, int by,
                       uint32_t v)
{
    uint32_t t = h->type[v];
    switch (by) {
    case MSC_HEAP_BY_KIND: return msc__heap_kind_key(h, owners, dict_type, v);
    case MSC_HEAP_BY_TYPE: return t;
    case MSC_HEAP_BY_MODULE: return h->types[t].module;
    default: {
        uint64_t s = h->size[v], c = 0;
        while (c < SIZE_CLASSES - 1 && (1ULL << c) < s) c++;
        return c;
    }
    }
}

static void key_name(const msc_heap_t *h, int by, uint64_t key, char *buf, size_t n)
{
    if (by == MSC_HEAP_BY_MODULE) snprintf(buf, n, "%s", msc_heap_string(h, (uint32_t)key, NULL));
    else if (by == MSC_HEAP_BY_SIZE)
        snprintf(buf, n, "%llu..%llu", key ? (1ULL << (key - 1)) + 1 : 0ULL, 1ULL << key);
    else msc__heap_kind_name(h, key, buf, n);
}

static int by_bytes(const void *a, const void *b)
{
    const msc_heap_row_t *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->name, y->name);
}

static uint64_t key_space(const msc_heap_t *h, int by)
{
    if (by == MSC_HEAP_BY_KIND) return msc__heap_kind_keys(h);
    if (by == MSC_HEAP_BY_TYPE) return h->type_count;
    if (by == MSC_HEAP_BY_MODULE) return h->string_count;
    return SIZE_CLASSES;
}

/* A row for every key some node has: a "dict of" row may count no object
 * and still hold the bytes of inline attribute values. */
static int make_rows(const msc_heap_t *h, msc_heap_partition_t *p, const uint64_t *count,
                     const uint64_t *bytes, const uint8_t *used, uint64_t nkeys)
{
    size_t rows = 0;
    for (uint64_t k = 0; k < nkeys; k++) rows += used[k];
    p->rows = msc_calloc(rows ? rows : 1, sizeof(*p->rows));
    if (!p->rows) return MSC_ENOMEM;
    for (uint64_t k = 0; k < nkeys; k++) {
        if (!used[k]) continue;
        char name[512];
        key_name(h, p->by, k, name, sizeof(name));
        msc_heap_row_t *r = &p->rows[p->len];
        if (!(r->name = msc_strdup(name))) return MSC_ENOMEM;
        r->count = count[k];
        r->bytes = bytes[k];
        p->len++;
    }
    qsort(p->rows, p->len, sizeof(*p->rows), by_bytes);
    return 0;
}

int msc_heap_partition(const msc_heap_t *h, int by, msc_heap_partition_t *p)
{
    memset(p, 0, sizeof(*p));
    if (by < MSC_HEAP_BY_KIND || by > MSC_HEAP_BY_SIZE) return MSC_EUSAGE;
    uint32_t *owners = by == MSC_HEAP_BY_KIND ? msc_heap_dict_owners(h) : NULL;
    if (by == MSC_HEAP_BY_KIND && !owners) return MSC_ENOMEM;
    int rc = msc__heap_partition_owned(h, owners, by, p);
    msc_free(owners);
    return rc;
}

/* Reads only h's types, strings and the type, size and flags columns, so
 * it also serves the light heaps of msc_heap_read_partition. */
int msc__heap_partition_owned(const msc_heap_t *h, const uint32_t *owners, int by,
                              msc_heap_partition_t *p)
{
    memset(p, 0, sizeof(*p));
    if (by < MSC_HEAP_BY_KIND || by > MSC_HEAP_BY_SIZE) return MSC_EUSAGE;
    p->by = by;
    uint64_t nkeys = key_space(h, by);
    uint64_t *count = msc_calloc((size_t)nkeys, sizeof(*count));
    uint64_t *bytes = msc_calloc((size_t)nkeys, sizeof(*bytes));
    uint8_t *used = msc_calloc((size_t)nkeys, 1);
    int rc = MSC_ENOMEM;
    if (!count || !bytes || !used) goto done;
    uint32_t dict_type = msc__heap_dict_type(h);
    for (uint32_t v = 1; v < h->node_count; v++) {
        if (!msc_heap_has_bytes(h, v)) continue;
        uint64_t k = key_of(h, owners, dict_type, by, v);
        int object = msc_heap_is_object(h, v);
        count[k] += object;
        used[k] = 1;
        bytes[k] += h->size[v];
        p->total_count += object;
        p->total_bytes += h->size[v];
    }
    rc = make_rows(h, p, count, bytes, used, nkeys);
done:
    msc_free(count);
    msc_free(bytes);
    msc_free(used);
    if (rc < 0) msc_heap_partition_release(p);
    return rc;
}

void msc_heap_partition_release(msc_heap_partition_t *p)
{
    for (size_t i = 0; p->rows && i < p->len; i++) msc_free(p->rows[i].name);
    msc_free(p->rows);
    memset(p, 0, sizeof(*p));
}

int msc_heap_by_parse(const char *name)
{
    static const char *const names[] = {"kind", "type", "module", "size"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return MSC_EUSAGE;
}
