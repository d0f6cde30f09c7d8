/* Heap snapshot internals shared by the files of src/core that build and
 * analyse heaps (heapgraph.c, heapfile.c, heappart.c, cycles.c, ...): edge
 * label tests, "__dict__" owners and the kinds partitions group by. Nothing
 * here is public API; the walker and the reports see heap.h and
 * heapanalysis.h only. */
#ifndef MEMSCOPE_HEAPINT_H
#define MEMSCOPE_HEAPINT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "memscope/heapanalysis.h"
#include "memscope/heapanalysis.h"

/* What only the builder uses (heapgraph.c), kept out of the public struct:
 * where the edge lists are being filled, the root edges found late, and the
 * table that interns names. */
typedef struct msc__heap_build {
    uint32_t edges_of;         /* node whose edges are being added */
    uint32_t *late_to;         /* owned: root edges added after node 0's list closed */
    uint32_t *late_label;      /* owned: their labels */
    uint64_t late_count, late_cap;
    uint64_t *str_slots;       /* owned: intern table, (string id + 1) << 32 | hash tag,
                                  0 empty */
    uint32_t str_mask;
    uint32_t str_used;         /* strings in the intern table */
} msc__heap_build_t;

/* The edge labels that read text ("__dict__", "__class__"): one byte per
 * string id, 1 for each string with those bytes (a name can have several
 * ids, since previews are not interned); caller frees with msc_free(). NULL
 * on out-of-memory. Test an edge with msc_heap_label_in(). */
uint8_t *msc_heap_label_set(const msc_heap_t *h, const char *text);
static inline int msc_heap_label_in(const uint8_t *set, uint32_t label)
{
    return !(label & MSC_HEAP_LABEL_INDEX) && set[label];
}

/* The same test for one edge, without the set. */
static inline int msc_heap_label_is(const msc_heap_t *h, uint32_t label, const char *text)
{
    return !(label & MSC_HEAP_LABEL_INDEX) && strcmp(msc_heap_string(h, label, NULL), text) == 0;
}

/* For each node, the node that owns it as its "__dict__" (UINT32_MAX when
 * none); caller frees with msc_free(). NULL on out-of-memory. */
uint32_t *msc_heap_dict_owners(const msc_heap_t *h);

/* Kinds of heap nodes as partitions number them (heappart.c): the type
 * index of builtins.dict (UINT32_MAX when none), the key of node v given
 * its dict owners and that type, how many keys there are, and a key's name
 * ("str", "dict of app.Foo", "dict (no owner)"). */
uint32_t msc__heap_dict_type(const struct msc_heap *h);
uint64_t msc__heap_kind_key(const struct msc_heap *h, const uint32_t *owners, uint32_t dict_type,
                            uint32_t v);
uint64_t msc__heap_kind_keys(const struct msc_heap *h);
void msc__heap_kind_name(const struct msc_heap *h, uint64_t key, char *buf, size_t n);
/* A container entry's layout, length and capacity are possible, and an
 * array entry's kind, widths and length (heapgraph.c). */
int msc__heap_container_valid(int layout, uint64_t length, uint64_t capacity);
int msc__heap_array_valid(int kind, int itemsize, int fits, uint64_t length);
/* msc_heap_partition with each node's "__dict__" owner given (NULL unless
 * by kind); heappart.c. */
int msc__heap_partition_owned(const struct msc_heap *h, const uint32_t *owners, int by,
                              struct msc_heap_partition *p);

/* Checks every invariant of a finished heap the analyses rely on (strings
 * terminated, columns naming existing types and strings, edge rows in
 * order with targets that are nodes, containers in order and possible, the
 * address table consistent): 0 or MSC_ECORRUPT. Allocates nothing; sanitizer
 * builds run it after every msc_heap_finish (heapcheck.c). */
int msc__heap_check(const msc_heap_t *h);

#endif
