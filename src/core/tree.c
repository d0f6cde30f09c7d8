/* Call trees from per-stack values (tree.h). Upright, the stack trie maps
 * onto the tree in one sweep: trie parents have smaller ids than their
 * children, so walking the trie in id order finds every parent's tree node
 * before its children's, and one reverse sweep over the tree sums inclusive
 * values. Inverted, each stack is walked from its leaf. A hash on (parent,
 * frame) finds a child in O(1); children are sorted once at the end. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "memscope/tree.h"

#define NO_STACK_ID UINT32_MAX     /* frame ids of the "<no Python frame>" frame */

typedef struct slot {
    uint32_t node;                 /* tree node + 1; 0 = empty */
} slot_t;

typedef struct frame_key {
    uint32_t parent, file_id, function_id, line;
} frame_key_t;

struct msc_tree {
    msc_tree_node_t *nodes;
    frame_key_t *keys;             /* per node: what it was found by */
    uint32_t n, cap;
    uint32_t max_depth;
    slot_t *slots;                 /* open addressing on frame_key_t */
    size_t mask;
    uint32_t *child_start;         /* per node: first entry in children (n + 1) */
    uint32_t *children;            /* node ids grouped by parent, largest first */
};

static size_t hash_key(const frame_key_t *k)
{
    uint64_t h = (uint64_t)k->parent * 0x9E3779B97F4A7C15ull;
    h ^= ((uint64_t)k->file_id << 32 | k->function_id) * 0xBF58476D1CE4E5B9ull;
    h ^= (uint64_t)k->line * 0x94D049BB133111EBull;
    return (size_t)(h ^ h >> 29);
}

static int grow_slots(msc_tree_t *t)
{
    size_t mask = t->mask ? t->mask * 2 + 1 : 1023;
    slot_t *slots = msc_calloc(mask + 1, sizeof(slot_t));
    if (!slots) return MSC_ENOMEM;
    for (uint32_t id = 1; id < t->n; id++) {
        size_t i = hash_key(&t->keys[id]) & mask;
        while (slots[i].node) i = (i + 1) & mask;
        slots[i].node = id + 1;
    }
    msc_free(t->slots);
    t->slots = slots;
    t->mask = mask;
    return 0;
}

static int grow_nodes(msc_tree_t *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 1024;
    msc_tree_node_t *nodes = msc_realloc(t->nodes, cap * sizeof(*nodes));
    if (!nodes) return MSC_ENOMEM;
    t->nodes = nodes;
    frame_key_t *keys = msc_realloc(t->keys, cap * sizeof(*keys));
    if (!keys) return MSC_ENOMEM;
    t->keys = keys;
    t->cap = cap;
    return 0;
}

/* The child of parent for trie node `trie` (0: the no-stack frame), created
 * if new; its id, or UINT32_MAX on OOM. */
static uint32_t child_of(msc_tree_t *t, msc_symbols_t *sym, uint32_t parent, uint32_t trie)
{
    msc_frame_t f = {"", "<no Python frame>", 0, NO_STACK_ID, NO_STACK_ID, 0};
    if (trie) msc_symbols_frame(sym, trie, &f);
    frame_key_t k = {parent, f.file_id, f.function_id, f.line};
    if ((t->n + 1) * 2 > t->mask && grow_slots(t) < 0) return UINT32_MAX;
    size_t i = hash_key(&k) & t->mask;
    for (; t->slots[i].node; i = (i + 1) & t->mask) {
        uint32_t id = t->slots[i].node - 1;
        if (memcmp(&t->keys[id], &k, sizeof(k)) == 0) return id;
    }
    if (t->n == t->cap && grow_nodes(t) < 0) return UINT32_MAX;
    uint32_t id = t->n++;
    t->keys[id] = k;
    t->nodes[id] = (msc_tree_node_t){parent, t->nodes[parent].depth + 1, f.file, f.function,
                                     f.line, 0, 0, 0, 0};
    t->slots[i].node = id + 1;
    if (t->nodes[id].depth > t->max_depth) t->max_depth = t->nodes[id].depth;
    return id;
}

/* Upright: map every trie node on a valued stack to its tree node, parents
 * first, then give each leaf its values. */
static int build_upright(msc_tree_t *t, msc_symbols_t *sym, const msc_stack_value_t *v,
                         size_t n)
{
    uint32_t ntrie = msc_symbols_nodes(sym);
    uint32_t *map = msc_calloc(ntrie ? ntrie : 1, sizeof(uint32_t)); /* tree id + 1 */
    if (!map) return MSC_ENOMEM;
    int err = 0;
    for (size_t i = 0; i < n; i++) /* mark the needed trie nodes */
        for (uint32_t x = v[i].stack; x && x < ntrie && !map[x]; x = msc_symbols_parent(sym, x))
            map[x] = UINT32_MAX;
    for (uint32_t x = 1; x < ntrie && !err; x++) {
        if (!map[x]) continue;
        uint32_t parent = msc_symbols_parent(sym, x);
        uint32_t id = child_of(t, sym, parent ? map[parent] - 1 : 0, x);
        if (id == UINT32_MAX) err = MSC_ENOMEM;
        map[x] = id + 1;
    }
    for (size_t i = 0; i < n && !err; i++) {
        uint32_t s = v[i].stack;
        uint32_t id = s && s < ntrie ? map[s] - 1 : child_of(t, sym, 0, 0);
        if (id == UINT32_MAX) err = MSC_ENOMEM;
        else {
            t->nodes[id].self_bytes += v[i].bytes;
            t->nodes[id].self_count += v[i].count;
        }
    }
    msc_free(map);
    return err;
}

/* Inverted: each stack from its allocating frame up to its outermost caller;
 * a stack adds its values to every node on its path. */
static int build_inverted(msc_tree_t *t, msc_symbols_t *sym, const msc_stack_value_t *v,
                          size_t n)
{
    uint32_t ntrie = msc_symbols_nodes(sym);
    for (size_t i = 0; i < n; i++) {
        uint32_t x = v[i].stack < ntrie ? v[i].stack : 0, id = 0;
        do {
            id = child_of(t, sym, id, x);
            if (id == UINT32_MAX) return MSC_ENOMEM;
            t->nodes[id].bytes += v[i].bytes;
            t->nodes[id].count += v[i].count;
            x = x ? msc_symbols_parent(sym, x) : 0;
        } while (x);
        t->nodes[id].self_bytes += v[i].bytes;
        t->nodes[id].self_count += v[i].count;
        t->nodes[0].bytes += v[i].bytes;
        t->nodes[0].count += v[i].count;
    }
    return 0;
}

static void sum_upright(msc_tree_t *t)
{
    for (uint32_t id = t->n; id-- > 0;) {
        msc_tree_node_t *x = &t->nodes[id];
        x->bytes += x->self_bytes;
        x->count += x->self_count;
        if (id) {
            t->nodes[x->parent].bytes += x->bytes;
            t->nodes[x->parent].count += x->count;
        }
    }
}

static const msc_tree_t *sort_tree; /* qsort has no context argument */

static int by_bytes_desc(const void *pa, const void *pb)
{
    const msc_tree_node_t *a = &sort_tree->nodes[*(const uint32_t *)pa];
    const msc_tree_node_t *b = &sort_tree->nodes[*(const uint32_t *)pb];
    if (a->bytes != b->bytes) return a->bytes < b->bytes ? 1 : -1;
    if (a->count != b->count) return a->count < b->count ? 1 : -1;
    return *(const uint32_t *)pa < *(const uint32_t *)pb ? -1 : 1;
}

/* Groups children by parent (counting sort), each group largest first. */
static int index_children(msc_tree_t *t)
{
    t->child_start = msc_calloc((size_t)t->n + 1, sizeof(uint32_t));
    t->children = msc_malloc((size_t)t->n * sizeof(uint32_t));
    if (!t->child_start || !t->children) return MSC_ENOMEM;
    for (uint32_t id = 1; id < t->n; id++) t->child_start[t->nodes[id].parent + 1]++;
    for (uint32_t id = 0; id < t->n; id++) t->child_start[id + 1] += t->child_start[id];
    uint32_t *fill = msc_malloc((size_t)t->n * sizeof(uint32_t));
    if (!fill) return MSC_ENOMEM;
    memcpy(fill, t->child_start, (size_t)t->n * sizeof(uint32_t));
    for (uint32_t id = 1; id < t->n; id++) t->children[fill[t->nodes[id].parent]++] = id;
    msc_free(fill);
    sort_tree = t;
    for (uint32_t id = 0; id < t->n; id++) {
        uint32_t k = t->child_start[id + 1] - t->child_start[id];
        if (k > 1) qsort(t->children + t->child_start[id], k, sizeof(uint32_t), by_bytes_desc);
    }
    return 0;
}

msc_tree_t *msc_tree_new(msc_symbols_t *sym, const msc_stack_value_t *values, size_t n,
                         int flags)
{
    msc_tree_t *t = msc_calloc(1, sizeof(*t));
    if (!t) return NULL;
    if (grow_nodes(t) < 0 || grow_slots(t) < 0) goto fail;
    t->nodes[0] = (msc_tree_node_t){0, 0, "", "all", 0, 0, 0, 0, 0};
    t->keys[0] = (frame_key_t){UINT32_MAX, 0, 0, 0};
    t->n = 1;
    int err = flags & MSC_TREE_INVERTED ? build_inverted(t, sym, values, n)
                                        : build_upright(t, sym, values, n);
    if (err) goto fail;
    if (!(flags & MSC_TREE_INVERTED)) sum_upright(t);
    if (index_children(t) < 0) goto fail;
    msc_free(t->slots);
    msc_free(t->keys);
    t->slots = NULL;
    t->keys = NULL;
    return t;
fail:
    msc_tree_free(t);
    return NULL;
}

int msc_stack_values(const msc_analysis_t *a, msc_view_t view, msc_stack_value_t **out,
                     size_t *n)
{
    uint32_t nodes = msc_analysis_nodes(a);
    size_t k = 0;
    *out = msc_malloc((size_t)(nodes ? nodes : 1) * sizeof(msc_stack_value_t));
    if (!*out) return MSC_ENOMEM;
    for (uint32_t s = 0; s < nodes; s++) {
        msc_node_values_t v = msc_analysis_node(a, view, s);
        if (v.bytes || v.count) (*out)[k++] = (msc_stack_value_t){s, v.bytes, v.count};
    }
    *n = k;
    return 0;
}

msc_tree_t *msc_tree_of_view(msc_symbols_t *sym, const msc_analysis_t *a, msc_view_t view,
                             int flags)
{
    msc_stack_value_t *v;
    size_t n;
    if (msc_stack_values(a, view, &v, &n) < 0) return NULL;
    msc_tree_t *t = msc_tree_new(sym, v, n, flags);
    msc_free(v);
    return t;
}

void msc_tree_free(msc_tree_t *t)
{
    if (!t) return;
    msc_free(t->nodes);
    msc_free(t->keys);
    msc_free(t->slots);
    msc_free(t->child_start);
    msc_free(t->children);
    msc_free(t);
}

uint32_t msc_tree_size(const msc_tree_t *t)
{
    return t->n;
}

uint32_t msc_tree_max_depth(const msc_tree_t *t)
{
    return t->max_depth;
}

const msc_tree_node_t *msc_tree_node(const msc_tree_t *t, uint32_t id)
{
    return &t->nodes[id < t->n ? id : 0];
}

const uint32_t *msc_tree_children(const msc_tree_t *t, uint32_t id, uint32_t *n)
{
    if (id >= t->n) {
        *n = 0;
        return t->children;
    }
    *n = t->child_start[id + 1] - t->child_start[id];
    return t->children + t->child_start[id];
}
