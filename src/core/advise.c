/* The advice rules over a heap snapshot (memscope/advise.h). Two are
 * computed here from the graph; three turn the results of the waste and
 * cycle analyses into advice. Each saving is what the change frees, by
 * the sizes the snapshot recorded and CPython's layout of the replacement:
 *
 *   __slots__   an instance with slots is its GC header (16 bytes), its
 *               object header (16) and one 8-byte pointer a slot, with no
 *               dict, values array or dict-and-weakref pre-header
 *               (CPython 3.11-3.13, 64-bit)
 *   array('q')  64 bytes of object and 8 bytes an item, built from the
 *   array('d')  list or tuple at once, against the sequence and every int
 *               (or float) only it holds (at their allocated size)
 *
 * The numpy and pandas rules are in advarrays.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "memscope/advise.h"
#include "memscope/heapanalysis.h"
#include "heapint.h"

#define SLOTS_MIN_INSTANCES 100   /* fewer are not worth a class change */
#define ARRAY_MIN_ITEMS 1000      /* shorter lists are not worth a type change */
#define SLOTS_OBJECT_BYTES 32     /* GC header + PyObject header */
#define POINTER_BYTES 8
#define ARRAY_OBJECT_BYTES 64     /* sys.getsizeof(array.array('q')) */
#define MIN_SAVING 4096           /* advice that saves less is noise */
#define MIN_EMPTY_SAVING 65536    /* the interpreter itself keeps some empty containers */

/* Adds one piece of advice, taking ownership of the three strings (freed
 * here when anything fails). */
int msc__advice_add(msc_advice_list_t *l, const char *rule, uint64_t saved, uint32_t site,
                    char *title, char *evidence, char *change)
{
    msc_advice_t a = {rule, "held", title, evidence, change, saved, site, NULL};
    return msc_advice_add(l, &a);
}

int msc_advice_add(msc_advice_list_t *l, const msc_advice_t *a)
{
    if (!a->title || !a->evidence || !a->change) goto fail;
    if (l->len == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        msc_advice_t *grown = msc_realloc(l->items, cap * sizeof(*grown));
        if (!grown) goto fail;
        l->items = grown;
        l->cap = cap;
    }
    l->items[l->len++] = *a;
    return 0;
fail:
    msc_free(a->title);
    msc_free(a->evidence);
    msc_free(a->change);
    msc_free(a->where);
    return MSC_ENOMEM;
}

static const char *type_name(const msc_heap_t *h, uint32_t v, char *buf, size_t n)
{
    return msc_heap_type_name(h, h->type[v], buf, n);
}

static uint32_t site_of(const msc_heap_t *h, uint32_t v)
{
    return h->site ? h->site[v] : 0;
}

/* An instance of a class defined in Python: not a builtin's, a module, a
 * class or a function (which have a __dict__ of their own). */
static int is_plain_instance(const msc_heap_t *h, uint32_t v)
{
    const msc_heap_type_t *t = &h->types[h->type[v]];
    return !(h->flags[v] & MSC_HEAP_SYNTHETIC) &&
           strcmp(msc_heap_string(h, t->module, NULL), "builtins") != 0;
}

typedef struct class_use {
    uint64_t instances;
    uint64_t bytes;            /* the instances and their attribute storage */
    uint64_t max_attributes;
    uint32_t example;
    uint32_t site;
} class_use_t;

static int advise_slots(const msc_heap_t *h, msc_advice_list_t *l)
{
    uint32_t *owners = msc_heap_dict_owners(h);
    class_use_t *use = msc_calloc(h->type_count ? h->type_count : 1, sizeof(*use));
    int rc = owners && use ? 0 : MSC_ENOMEM;
    for (uint32_t d = 1; rc == 0 && d < h->node_count; d++) {
        uint32_t o = owners[d];
        if (o == UINT32_MAX || !is_plain_instance(h, o) || msc_heap_container(h, o)) continue;
        const msc_heap_container_t *values = msc_heap_container(h, d);
        class_use_t *u = &use[h->type[o]];
        uint64_t attributes = values ? values->length : 0;
        u->instances++;
        u->bytes += h->size[o] + h->size[d];
        if (attributes > u->max_attributes) u->max_attributes = attributes;
        if (!u->example) u->example = o;
        if (!u->site) u->site = site_of(h, o);
    }
    for (uint32_t t = 0; rc == 0 && t < h->type_count; t++) {
        class_use_t *u = &use[t];
        uint64_t slotted = u->instances * (SLOTS_OBJECT_BYTES + POINTER_BYTES * u->max_attributes);
        if (u->instances < SLOTS_MIN_INSTANCES || u->bytes < slotted + MIN_SAVING) continue;
        char name[400];
        msc_heap_type_name(h, t, name, sizeof(name));
        rc = msc__advice_add(
            l, "slots", u->bytes - slotted, u->site, msc_strfmt("Give %s __slots__", name),
            msc_strfmt(
                "%llu instances hold their attributes in a dict or values array: "
                "%llu bytes, %llu a piece; with __slots__ for %llu attributes each "
                "would take %llu",
                (unsigned long long)u->instances, (unsigned long long)u->bytes,
                (unsigned long long)(u->bytes / u->instances),
                (unsigned long long)u->max_attributes,
                (unsigned long long)(SLOTS_OBJECT_BYTES + POINTER_BYTES * u->max_attributes)),
            msc_strfmt("declare __slots__ = (...) with the %llu attribute names in the class "
                       "(add \"__weakref__\" if its instances are weakly referenced; "
                       "subclasses need __slots__ too)",
                       (unsigned long long)u->max_attributes));
    }
    msc_free(use);
    msc_free(owners);
    return rc;
}

/* What an int's allocation takes: sys.getsizeof less one digit's padding
 * for the one-digit ints CPython allocates as a whole PyLongObject
 * (_PyLong_FromMedium), which is 32 bytes where getsizeof says 28. */
static uint64_t int_bytes(uint64_t size)
{
    return size <= 28 ? 32 : size;
}

/* A list of at least ARRAY_MIN_ITEMS ints, saving what its storage and the
 * ints only it holds take beyond an array's. */
/* What array.array stores an item type as: its typecode, the bytes an
 * item takes there, and what one such object takes allocated. */
typedef struct array_kind {
    const char *type;          /* "int" or "float" */
    const char *typecode;      /* 'q': 8-byte integers; 'd': doubles */
    const char *what;
} array_kind_t;

static const array_kind_t array_kinds[] = {
    {"int", "q", "8-byte integers"},
    {"float", "d", "8-byte doubles"},
};

/* Allocated bytes of an item only the sequence holds. */
static uint64_t item_bytes(const array_kind_t *k, uint64_t size)
{
    return k == &array_kinds[0] ? int_bytes(size) : size; /* a float is its 24 bytes */
}

/* The kind every item of v has, or NULL when they are not all ints or all
 * floats; *own gets the bytes of the items only v holds. */
static const array_kind_t *items_kind(const msc_heap_t *h, uint32_t v, uint64_t *own)
{
    const array_kind_t *k = NULL;
    char name[64];
    *own = 0;
    for (uint64_t e = h->edge_start[v]; e < h->edge_start[v + 1]; e++) {
        uint32_t t = h->edge_to[e];
        type_name(h, t, name, sizeof(name));
        if (!k) {
            for (size_t i = 0; i < sizeof(array_kinds) / sizeof(*array_kinds); i++)
                if (!strcmp(name, array_kinds[i].type)) k = &array_kinds[i];
            if (!k) return NULL;
        }
        if (strcmp(name, k->type) != 0) return NULL;
        if (h->refcnt[t] == 1) *own += item_bytes(k, h->size[t]); /* freed with v */
    }
    return k;
}

/* One piece of array advice for the list or tuple v of n items, when all
 * are ints (or floats) and the change saves enough. */
static int advise_sequence(const msc_heap_t *h, uint32_t v, const char *seq, uint64_t n,
                           msc_advice_list_t *l)
{
    uint64_t own;
    const array_kind_t *k = items_kind(h, v, &own);
    uint64_t now = h->size[v] + own, array = ARRAY_OBJECT_BYTES + POINTER_BYTES * n;
    if (!k || now < array + MIN_SAVING) return 0;
    return msc__advice_add(
        l, "array", now - array, site_of(h, v),
        msc_strfmt("Store a %s of %llu %ss as array.array('%s')", seq, (unsigned long long)n,
                   k->type, k->typecode),
        msc_strfmt("the %s takes %llu bytes and the %ss only it holds %llu more; an array of "
                   "%s takes %llu",
                   seq, (unsigned long long)h->size[v], k->type, (unsigned long long)own, k->what,
                   (unsigned long long)array),
        msc_strfmt("array.array('%s', the_%s), which sizes it exactly (appending one by one "
                   "over-allocates), or a numpy array with the narrowest dtype that holds the "
                   "values",
                   k->typecode, seq));
}

/* Lists (container records) and tuples (their items are their edges) of at
 * least ARRAY_MIN_ITEMS ints or floats, saving what the sequence and the
 * items only it holds take beyond an array's. */
static int advise_array(const msc_heap_t *h, msc_advice_list_t *l)
{
    char name[64];
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < h->container_count; i++) {
        const msc_heap_container_t *c = &h->containers[i];
        uint32_t v = c->node;
        if (c->layout == MSC_HEAP_LIST && c->length >= ARRAY_MIN_ITEMS &&
            c->length == h->edge_start[v + 1] - h->edge_start[v] &&
            !strcmp(type_name(h, v, name, sizeof(name)), "list"))
            rc = advise_sequence(h, v, "list", c->length, l);
    }
    uint32_t tuple = UINT32_MAX;
    for (uint32_t t = 0; t < h->type_count && tuple == UINT32_MAX; t++)
        if (!strcmp(msc_heap_type_name(h, t, name, sizeof(name)), "tuple")) tuple = t;
    for (uint32_t v = 1; rc == 0 && tuple != UINT32_MAX && v < h->node_count; v++) {
        uint64_t n = h->edge_start[v + 1] - h->edge_start[v];
        if (h->type[v] == tuple && n >= ARRAY_MIN_ITEMS) rc = advise_sequence(h, v, "tuple", n, l);
    }
    return rc;
}

static int advise_duplicates(const msc_heap_t *h, msc_advice_list_t *l)
{
    msc_heap_dups_t d;
    int rc = msc_heap_duplicates(h, &d);
    if (rc) return rc;
    if (d.wasted >= MIN_SAVING) {
        const msc_heap_dup_t *top = &d.groups[0];
        rc = msc__advice_add(
            l, "intern", d.wasted, site_of(h, top->example),
            msc_strfmt("Keep one copy of equal strings and bytes"),
            msc_strfmt("%llu copies of %zu values are held beside an equal copy; the most "
                       "copied value has %llu copies of %llu bytes",
                       (unsigned long long)d.copies, d.len, (unsigned long long)top->copies,
                       (unsigned long long)top->size),
            msc_strfmt("sys.intern() strings where they are made (keys, names read from "
                       "files), or map each value through a dict of canonical copies"));
    }
    msc_heap_dups_release(&d);
    return rc;
}

static int advise_empty(const msc_heap_t *h, msc_advice_list_t *l)
{
    msc_heap_empty_t e;
    int rc = msc_heap_empty(h, &e);
    for (size_t i = 0; rc == 0 && i < e.len && e.rows[i].saving >= MIN_EMPTY_SAVING; i++) {
        const msc_heap_empty_row_t *r = &e.rows[i];
        if (strncmp(r->kind, "dict of ", 8) == 0) continue; /* instances': the slots rule */
        rc = msc__advice_add(
            l, "empty", r->saving, site_of(h, r->example),
            msc_strfmt("Do not keep empty %s", r->kind),
            msc_strfmt("%llu are empty (%llu bytes) and %llu mostly empty (%llu bytes)",
                       (unsigned long long)r->empty, (unsigned long long)r->empty_bytes,
                       (unsigned long long)r->mostly_empty,
                       (unsigned long long)r->mostly_empty_bytes),
            msc_strfmt("create each when its first item arrives (None until then), and "
                       "copy one that shrank for good"));
    }
    msc_heap_empty_release(&e);
    return rc;
}

static int advise_cycles(const msc_heap_t *h, msc_advice_list_t *l)
{
    msc_heap_cycles_t c;
    int rc = msc_heap_cycles(h, &c);
    for (size_t i = 0; rc == 0 && i < c.len; i++) {
        const msc_heap_cycle_group_t *g = &c.groups[i];
        if (!g->weaken || g->freed_bytes < MIN_SAVING) continue;
        rc = msc__advice_add(
            l, "weakref", g->freed_bytes, g->site,
            msc_strfmt("Make %s a weak reference", g->weaken),
            msc_strfmt("%llu reference cycles of %s (%llu objects, %llu bytes with what "
                       "only they hold) wait for the garbage collector to be freed",
                       (unsigned long long)g->cycles, g->kinds, (unsigned long long)g->objects,
                       (unsigned long long)g->freed_bytes),
            msc_strfmt(g->weakrefable ? "store weakref.ref(target) in %s and call it to "
                                        "read it, so reference counting frees each cycle"
                                      : "break the cycle at %s when the objects are done with",
                       g->weaken));
    }
    msc_heap_cycles_release(&c);
    return rc;
}

/* Most bytes saved first; advice that saves memory held (live in a
 * snapshot or at the peak) before advice that saves allocations, whose
 * bytes do not stay. */
static int by_saving(const void *a, const void *b)
{
    const msc_advice_t *x = a, *y = b;
    int xa = !strcmp(x->measure, "allocated"), ya = !strcmp(y->measure, "allocated");
    if (xa != ya) return xa - ya;
    return x->bytes_saved < y->bytes_saved ? 1 : x->bytes_saved > y->bytes_saved ? -1 : 0;
}

int msc_advise_heap(const msc_heap_t *h, msc_advice_list_t *out)
{
    out->items = NULL;
    out->len = out->cap = 0;
    int rc = advise_slots(h, out);
    if (rc == 0) rc = advise_cycles(h, out);
    if (rc == 0 && h->contents) { /* lengths and digests: snapshots since version 3 */
        rc = advise_array(h, out);
        if (rc == 0) rc = advise_duplicates(h, out);
        if (rc == 0) rc = advise_empty(h, out);
    }
    if (rc == 0) rc = msc__advise_arrays(h, out); /* array records: snapshots since version 4 */
    if (rc) {
        msc_advice_list_release(out);
        return rc;
    }
    msc_advice_list_sort(out);
    return 0;
}

void msc_advice_list_sort(msc_advice_list_t *l)
{
    if (l->len) qsort(l->items, l->len, sizeof(*l->items), by_saving);
}

void msc_advice_list_release(msc_advice_list_t *l)
{
    for (size_t i = 0; i < l->len; i++) {
        msc_free(l->items[i].title);
        msc_free(l->items[i].evidence);
        msc_free(l->items[i].change);
        msc_free(l->items[i].where);
    }
    msc_free(l->items);
    l->items = NULL;
    l->len = l->cap = 0;
}
