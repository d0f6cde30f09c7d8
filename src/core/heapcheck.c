/* The heap graph's consistency checker (heapint.h): every invariant the
 * analyses rely on without testing it, walked once over a finished heap.
 * Sanitizer builds run it after every msc_heap_finish (MSC_DEBUG_CHECK in
 * internal.h); the C tests call it directly on good and broken graphs. It
 * allocates nothing and changes nothing. */
#include "internal.h"
#include "memscope/heap.h"
#include "heapint.h"

/* The string table: offsets in order, each string NUL-terminated in the
 * blob, string 0 the empty one. */
static int check_strings(const msc_heap_t *h)
{
    if (h->string_count == 0 || h->str_off[0] != 0) return MSC_ECORRUPT;
    for (uint32_t i = 0; i < h->string_count; i++) {
        uint64_t end = h->str_off[i + 1];
        if (end <= h->str_off[i] || end > h->blob_len || h->blob[end - 1] != 0) return MSC_ECORRUPT;
    }
    return h->blob[0] == 0 ? 0 : MSC_ECORRUPT;
}

/* Every node's columns name existing types and strings, and its flags are
 * known ones; node 0 is the synthetic root. */
static int check_nodes(const msc_heap_t *h)
{
    if (h->node_count == 0 || h->node_count > h->node_cap) return MSC_ECORRUPT;
    if (!(h->flags[0] & MSC_HEAP_SYNTHETIC)) return MSC_ECORRUPT;
    for (uint32_t v = 0; v < h->node_count; v++) {
        if (h->type[v] >= h->type_count || h->preview[v] >= h->string_count ||
            (h->flags[v] & ~MSC_HEAP_FLAGS_ALL) || (h->site && h->site[v] >= h->string_count))
            return MSC_ECORRUPT;
    }
    for (uint32_t t = 0; t < h->type_count; t++)
        if (h->types[t].name >= h->string_count || h->types[t].module >= h->string_count)
            return MSC_ECORRUPT;
    return 0;
}

/* The compressed rows: starts in order from 0 to edge_count, every target a
 * node, every label an index or a string. */
static int check_edges(const msc_heap_t *h)
{
    if (h->edge_start[0] != 0 || h->edge_start[h->node_count] != h->edge_count ||
        h->edge_count > h->edge_cap || h->build->late_count != 0)
        return MSC_ECORRUPT;
    for (uint32_t v = 0; v < h->node_count; v++)
        if (h->edge_start[v] > h->edge_start[v + 1]) return MSC_ECORRUPT;
    for (uint64_t e = 0; e < h->edge_count; e++) {
        uint32_t label = h->edge_label[e];
        if (h->edge_to[e] >= h->node_count) return MSC_ECORRUPT;
        if (!(label & MSC_HEAP_LABEL_INDEX) && label >= h->string_count) return MSC_ECORRUPT;
    }
    return 0;
}

/* Container entries in increasing node order, each one possible. */
static int check_containers(const msc_heap_t *h)
{
    for (uint32_t i = 0; i < h->container_count; i++) {
        const msc_heap_container_t *c = &h->containers[i];
        if (c->node == 0 || c->node >= h->node_count ||
            (i > 0 && c->node <= h->containers[i - 1].node) ||
            !msc__heap_container_valid(c->layout, c->length, c->capacity))
            return MSC_ECORRUPT;
    }
    return 0;
}

/* With an address table, every slot names a node whose address carries
 * the slot's hash tag (nodes added after msc_heap_index are not in it). */
static int check_index(const msc_heap_t *h)
{
    if (!h->node_slots) return 0;
    for (uint64_t i = 0; i <= h->node_mask; i++) {
        uint64_t slot = h->node_slots[i];
        if (!slot) continue;
        uint32_t v = (uint32_t)(slot >> 32) - 1;
        if (v >= h->node_count || msc_heap_find(h, h->addr[v]) != v) return MSC_ECORRUPT;
    }
    return 0;
}

int msc__heap_check(const msc_heap_t *h)
{
    int rc = check_strings(h);
    if (!rc) rc = check_nodes(h);
    if (!rc) rc = check_edges(h);
    if (!rc) rc = check_containers(h);
    return rc ? rc : check_index(h);
}
