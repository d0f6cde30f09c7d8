/* Empty and mostly empty containers in a heap snapshot: lists, dicts,
 * sets and instance attribute values whose allocation holds far more than
 * they do (a dict that grew and was emptied keeps its table), and those
 * that hold nothing and are as small as they get (an object per instance
 * that could be created when first needed, or left out with __slots__).
 * The walker records each container's length and capacity; what a
 * container of the same length would cost comes from CPython's own sizing
 * rules, kept together below. Rows are kinds as the partition names them,
 * so "dict of Foo" sums the dicts of Foo's instances. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "memscope/heapanalysis.h"
#include "heapint.h"

/* CPython 3.11 on 64-bit builds (Objects/listobject.c, setobject.c,
 * dictobject.c), unchanged in 3.12 and 3.13 with the GIL (the tests check
 * them against sys.getsizeof on each). Every rule that depends on the
 * interpreter's version is in this block. A right-sized container is the one CPython builds when
 * copying: l.copy() allocates exactly len(l) slots; set(s) and dict(d) size
 * their table for the items in one step. */
#define PY311_POINTER 8      /* a list slot */
#define PY311_SET_ENTRY 16   /* setentry: key, hash */
#define PY311_SET_INLINE 8   /* PySet_MINSIZE: slots of the table inside the object */
#define PY311_KEYS_HEADER 32 /* sizeof(PyDictKeysObject), before the index array */
#define PY311_STR_ENTRY 16   /* PyDictUnicodeEntry: key, value */
#define PY311_ENTRY 24       /* PyDictKeyEntry: hash, key, value */

/* Items the allocation holds before the next insertion makes it grow. */
static uint64_t py311_room(const msc_heap_container_t *c)
{
    switch (c->layout) {
    case MSC_HEAP_SET: /* set_add_entry grows the table once fill * 5 >= mask * 3 */
        return c->capacity > 1 ? (3 * (c->capacity - 1) - 1) / 5 : 0;
    case MSC_HEAP_DICT_STR:
    case MSC_HEAP_DICT: return (c->capacity << 1) / 3; /* USABLE_FRACTION */
    default: return c->capacity;
    }
}

/* Bytes of a set's table outside the object: none while it is inline. */
static uint64_t py311_set_table(uint64_t slots)
{
    return slots > PY311_SET_INLINE ? slots * PY311_SET_ENTRY : 0;
}

/* set(s) of n items: set_merge resizes to the smallest table above 2n
 * once n * 5 >= 7 * 3 (set_table_resize); fewer stay inline. */
static uint64_t py311_set_slots(uint64_t n)
{
    uint64_t slots = PY311_SET_INLINE;
    if (n * 5 < (PY311_SET_INLINE - 1) * 3) return slots;
    while (slots <= 2 * n) slots <<= 1;
    return slots;
}

/* A keys table of slots hash slots (new_keys_object): the header, an
 * index array of 1, 2, 4 or 8 bytes an index, and entries for two thirds
 * of the slots. */
static uint64_t py311_keys_bytes(uint64_t slots, uint64_t entry)
{
    uint64_t index = slots < 1u << 8 ? 1 : slots < 1u << 16 ? 2 : slots < 1ULL << 32 ? 4 : 8;
    return PY311_KEYS_HEADER + slots * index + (slots << 1) / 3 * entry;
}

/* dict(d) of n items: estimate_log2_keysize(n), that is
 * calculate_log2_keysize((3n + 1) / 2), bit trick included. */
static uint64_t py311_dict_slots(uint64_t n)
{
    uint64_t m = ((((3 * n + 1) / 2) | 8) - 1) | 7, slots = 1;
    for (; m; m >>= 1) slots <<= 1;
    return slots;
}

/* Bytes a right-sized copy of c would not have: its allocation minus the
 * one CPython makes for c's length (for no items, an empty container's:
 * none for a list or a dict, the inline table for a set). A split dict's
 * value slots follow its class's shared keys, so no copy of one
 * instance's dict is smaller. */
static uint64_t py311_excess(const msc_heap_container_t *c)
{
    uint64_t now, fit;
    switch (c->layout) {
    case MSC_HEAP_LIST: return (c->capacity - c->length) * PY311_POINTER;
    case MSC_HEAP_SET:
        now = py311_set_table(c->capacity);
        fit = py311_set_table(py311_set_slots(c->length));
        break;
    case MSC_HEAP_DICT_STR:
    case MSC_HEAP_DICT: {
        uint64_t entry = c->layout == MSC_HEAP_DICT_STR ? PY311_STR_ENTRY : PY311_ENTRY;
        now = py311_keys_bytes(c->capacity, entry);
        /* dict(d) of an empty d shares the interpreter's empty keys, which
         * its size does not count. */
        fit = c->length ? py311_keys_bytes(py311_dict_slots(c->length), entry) : 0;
        break;
    }
    default: return 0;
    }
    return now > fit ? now - fit : 0;
}

/* End of the CPython 3.11 rules. */

typedef struct tally {
    uint64_t empty, empty_bytes, mostly_empty, mostly_empty_bytes, saving;
    uint64_t best; /* saving of the example */
    uint32_t example;
} tally_t;

/* What right-sizing (mostly empty) or dropping (empty) container c saves,
 * counted into its kind's tally; owner is the object whose __dict__ it is. */
static void count(const msc_heap_t *h, const msc_heap_container_t *c, uint32_t owner, tally_t *t)
{
    uint64_t size = h->size[c->node], saving;
    if (c->length * 4 < py311_room(c) && (saving = py311_excess(c)) > 0) {
        saving = saving < size ? saving : size;
        t->mostly_empty++;
        t->mostly_empty_bytes += size;
    } else if (c->length == 0) {
        t->empty++;
        t->empty_bytes += size;
        saving = size;
    } else {
        return;
    }
    t->saving += saving;
    if (t->example && saving <= t->best) return;
    t->best = saving;
    /* Inline attribute values are not an object: their instance stands for them. */
    t->example = (h->flags[c->node] & MSC_HEAP_SYNTHETIC) && owner != UINT32_MAX ? owner : c->node;
}

static int by_saving(const void *a, const void *b)
{
    const msc_heap_empty_row_t *x = a, *y = b;
    if (x->saving != y->saving) return x->saving < y->saving ? 1 : -1;
    return strcmp(x->kind, y->kind);
}

static int make_rows(const msc_heap_t *h, const tally_t *t, uint64_t keys, msc_heap_empty_t *e)
{
    size_t used = 0;
    for (uint64_t k = 0; k < keys; k++) used += t[k].empty + t[k].mostly_empty != 0;
    e->rows = msc_calloc(used ? used : 1, sizeof(*e->rows));
    if (!e->rows) return MSC_ENOMEM;
    for (uint64_t k = 0; k < keys; k++) {
        if (!t[k].empty && !t[k].mostly_empty) continue;
        char name[512];
        msc__heap_kind_name(h, k, name, sizeof(name));
        char *kind = msc_strdup(name);
        if (!kind) return MSC_ENOMEM;
        msc_heap_empty_row_t *r = &e->rows[e->len++];
        *r = (msc_heap_empty_row_t){kind,
                                    t[k].example,
                                    t[k].empty,
                                    t[k].empty_bytes,
                                    t[k].mostly_empty,
                                    t[k].mostly_empty_bytes,
                                    t[k].saving};
        e->empty += r->empty;
        e->empty_bytes += r->empty_bytes;
        e->mostly_empty += r->mostly_empty;
        e->mostly_empty_bytes += r->mostly_empty_bytes;
        e->saving += r->saving;
    }
    qsort(e->rows, e->len, sizeof(*e->rows), by_saving);
    return 0;
}

int msc_heap_empty(const msc_heap_t *h, msc_heap_empty_t *e)
{
    memset(e, 0, sizeof(*e));
    uint64_t keys = msc__heap_kind_keys(h);
    uint32_t *owners = msc_heap_dict_owners(h);
    tally_t *t = msc_calloc((size_t)keys, sizeof(*t));
    int rc = MSC_ENOMEM;
    if (!owners || !t) goto done;
    uint32_t dict_type = msc__heap_dict_type(h);
    for (uint32_t i = 0; i < h->container_count; i++) {
        const msc_heap_container_t *c = &h->containers[i];
        count(h, c, owners[c->node], &t[msc__heap_kind_key(h, owners, dict_type, c->node)]);
    }
    e->containers = h->container_count;
    rc = make_rows(h, t, keys, e);
done:
    msc_free(owners);
    msc_free(t);
    if (rc < 0) msc_heap_empty_release(e);
    return rc;
}

void msc_heap_empty_release(msc_heap_empty_t *e)
{
    for (size_t i = 0; e->rows && i < e->len; i++) msc_free(e->rows[i].kind);
    msc_free(e->rows);
    memset(e, 0, sizeof(*e));
}
