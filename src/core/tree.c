/* Call trees from per-stack values (tree.h), over the symbols' frame nodes
 * (the trie with a frame's nodes under one caller merged, symbols.h).
 * Upright, one reverse sweep over the frame nodes sums inclusive values
 * (callers have smaller numbers than their callees), then one forward sweep
 * maps the frame nodes that reach the floor onto tree nodes, parents
 * first: a frame node is its own tree node, so no table of frames is
 * probed. Inverted, the stacks are followed from their leaves one level of
 * callers at a time, and only the frames that reach the floor are followed
 * further. The floor is a share
 * of the total and, for a graph of at most k frames, rises to the k-th
 * largest frame made so far (bar_t). Either way a tree holds only the
 * frames it can show, whatever the number of distinct stacks. A
 * hash on (parent, frame) finds a child in O(1); children are sorted once
 * at the end. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "memscope/table.h"
#include "memscope/tree.h"

/* A tree node's key: its parent, and its frame as the frame nodes number
 * frames (0, the root's, names "<no Python frame>"). */
typedef struct frame_key {
    uint32_t parent, frame;
} frame_key_t;

struct msc_tree {
    msc_tree_node_t *nodes;
    frame_key_t *keys;             /* per node: what it was found by */
    uint32_t n;
    size_t cap_nodes, cap_keys;    /* room in nodes and keys */
    uint32_t max_depth;
    msc_table_t index;             /* node by its frame_key_t: entry e is node e + 1 */
    uint32_t *child_start;         /* per node: first entry in children (n + 1) */
    uint32_t *children;            /* node ids grouped by parent, largest first */
};

static size_t hash_key(const frame_key_t *k)
{
    uint64_t h = ((uint64_t)k->parent << 32 | k->frame) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ h >> 29);
}

/* Entry e of the index is node e + 1 (the root is in none). */
static uint64_t node_hash(const void *ctx, uint32_t e)
{
    return hash_key(&((const msc_tree_t *)ctx)->keys[e + 1]);
}

/* Room for one more node. */
static int grow_nodes(msc_tree_t *t)
{
    if (msc_array_grow((void **)&t->nodes, &t->cap_nodes, (size_t)t->n + 1, sizeof(*t->nodes)) <
            0 ||
        msc_array_grow((void **)&t->keys, &t->cap_keys, (size_t)t->n + 1, sizeof(*t->keys)) < 0)
        return MSC_ENOMEM;
    return 0;
}

/* The child of parent for frame k.frame, named by trie node `trie` (0: the
 * no-stack frame), created if new; its id, or UINT32_MAX on OOM. */
static uint32_t child_of(msc_tree_t *t, msc_symbols_t *sym, frame_key_t k, uint32_t trie)
{
    msc_frame_t f = {"", "<no Python frame>", 0, 0, 0, 0};
    if (trie) msc_symbols_frame(sym, trie, &f);
    uint32_t parent = k.parent;
    if (msc_table_reserve(&t->index, node_hash, t) < 0) return UINT32_MAX;
    size_t i = msc_table_slot(&t->index, hash_key(&k));
    for (uint32_t e; (e = msc_table_entry(&t->index, i)) != MSC_TABLE_EMPTY;
         i = msc_table_next(&t->index, i))
        if (memcmp(&t->keys[e + 1], &k, sizeof(k)) == 0) return e + 1;
    if (t->n == t->cap_nodes && grow_nodes(t) < 0) return UINT32_MAX;
    uint32_t id = t->n++;
    t->keys[id] = k;
    t->nodes[id] = (msc_tree_node_t){
        parent, t->nodes[parent].depth + 1, f.file, f.function, f.line, 0, 0, 0, 0, 0};
    msc_table_add(&t->index, i);
    if (t->nodes[id].depth > t->max_depth) t->max_depth = t->nodes[id].depth;
    return id;
}

/* Both orientations build the tree one level at a time: everything at a
 * level adds its values to a candidate, the frame it names under its
 * parent's tree node; a candidate that reaches the floor becomes a tree node
 * (so trie nodes that name one frame reach it together), the others are
 * counted in their parent's pruned and followed no further. Without a floor
 * every candidate is kept: the whole tree. */
typedef struct walker {
    uint32_t value;                /* index into the values */
    uint32_t fx;                   /* the frame node to add next (0: no Python frame) */
    uint32_t node;                 /* the tree node it hangs under */
    uint32_t candidate;            /* at this level */
} walker_t;

typedef struct candidate {
    frame_key_t key;
    uint32_t trie;                 /* one trie node naming the frame */
    uint64_t bytes, count;
} candidate_t;

/* The candidates of one level: an open-addressing table on frame keys,
 * both grown to the most candidates a level has had (often far fewer than
 * the stacks followed: the stacks of one frame are one candidate). */
typedef struct level {
    candidate_t *items;
    size_t cap_items;
    uint32_t *slots;               /* candidate + 1; 0 empty */
    size_t mask;                   /* slots - 1, at least twice the candidates */
    uint32_t n;
} level_t;

static void level_start(level_t *l)
{
    l->n = 0;
    memset(l->slots, 0, (l->mask + 1) * 4);
}

/* The first empty slot for key k. */
static size_t empty_slot(const uint32_t *slots, size_t mask, const frame_key_t *k)
{
    size_t i = hash_key(k) & mask;
    while (slots[i]) i = (i + 1) & mask;
    return i;
}

/* Room for one more candidate: twice the slots, rehashed, when half full;
 * 0 or MSC_ENOMEM. */
static int level_reserve(level_t *l)
{
    if (msc_array_grow((void **)&l->items, &l->cap_items, (size_t)l->n + 1, sizeof(candidate_t)) <
        0)
        return MSC_ENOMEM;
    if (((size_t)l->n + 1) * 2 <= l->mask) return 0;
    size_t mask = l->mask * 2 + 1;
    uint32_t *slots = msc_calloc(mask + 1, 4);
    if (!slots) return MSC_ENOMEM;
    for (uint32_t c = 0; c < l->n; c++) slots[empty_slot(slots, mask, &l->items[c].key)] = c + 1;
    msc_free(l->slots);
    l->slots = slots;
    l->mask = mask;
    return 0;
}

/* The candidate for frame node fx under tree node parent, made when new;
 * UINT32_MAX on OOM. */
static uint32_t candidate_of(level_t *l, const msc_frame_nodes_t *fn, uint32_t parent, uint32_t fx)
{
    frame_key_t k = {parent, fn->frame[fx]};
    size_t i = hash_key(&k) & l->mask;
    for (; l->slots[i]; i = (i + 1) & l->mask)
        if (memcmp(&l->items[l->slots[i] - 1].key, &k, sizeof(k)) == 0) return l->slots[i] - 1;
    size_t mask = l->mask;
    if (level_reserve(l) < 0) return UINT32_MAX;
    if (l->mask != mask) i = empty_slot(l->slots, l->mask, &k); /* grown */
    l->items[l->n] = (candidate_t){k, fn->frame_trie[k.frame], 0, 0};
    l->slots[i] = ++l->n;
    return l->n - 1;
}

/* What a node must reach to be made: the share floor, and, when the tree
 * serves a graph of at most k frames, the k-th largest bytes among the
 * nodes made so far. A graph cut best-first from the root takes its k
 * largest frames (a frame never outweighs its caller), so a frame below
 * the k-th of those already made can never be drawn, nor can anything
 * under it; the bar only rises as nodes are made. A min-heap of the k
 * largest. */
typedef struct bar {
    uint64_t floor;                /* bytes / min_share */
    uint64_t *top;                 /* the k largest made, smallest first; NULL: no cap */
    uint32_t k, n;
} bar_t;

static uint64_t bar_of(const bar_t *b)
{
    return b->top && b->n == b->k && b->top[0] > b->floor ? b->top[0] : b->floor;
}

static void bar_add(bar_t *b, uint64_t bytes)
{
    if (!b->top) return;
    if (b->n < b->k) {
        size_t i = b->n++;
        for (; i && b->top[(i - 1) / 2] > bytes; i = (i - 1) / 2) b->top[i] = b->top[(i - 1) / 2];
        b->top[i] = bytes;
        return;
    }
    if (bytes <= b->top[0]) return;
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = l;
        if (l >= b->n) break;
        if (r < b->n && b->top[r] < b->top[l]) m = r;
        if (b->top[m] >= bytes) break;
        b->top[i] = b->top[m];
        i = m;
    }
    b->top[i] = bytes;
}

/* Makes candidate c a tree node when it reaches the bar (*id = its id + 1,
 * with c's values) or counts it in its parent's pruned (*id = 0). */
static int make(msc_tree_t *t, msc_symbols_t *sym, const candidate_t *c, bar_t *bar, uint32_t *id)
{
    *id = 0;
    if (c->bytes < bar_of(bar)) {
        t->nodes[c->key.parent].pruned++;
        return 0;
    }
    uint32_t made = t->n;
    uint32_t node = child_of(t, sym, c->key, c->trie);
    if (node == UINT32_MAX) return MSC_ENOMEM;
    t->nodes[node].bytes += c->bytes;
    t->nodes[node].count += c->count;
    if (node >= made) bar_add(bar, c->bytes);
    *id = node + 1;
    return 0;
}

/* Upright: the frame nodes on a valued stack (a moment's few stacks touch
 * few of them), marked in a bitmap and numbered in the order of theirs
 * (fn->scratch holds a node's number + 1 meanwhile), so that the arrays of
 * a tree are as long as the nodes it reached, not as the trie. Their
 * inclusive values are summed in one sweep from the highest number down
 * (a callee's number is above its caller's, so a node is complete before
 * it is added to its caller); then, in one sweep up, each frame node under
 * a kept caller is made a tree node of its own when it reaches the bar
 * (any order that takes a caller before its callees makes the same graph,
 * bar_t). Per frame node reached: 24 bytes, and a bit per frame node. */
int msc__reach(const msc_frame_nodes_t *fn, const msc_stack_value_t *const *values, const size_t *n,
               int lists, msc__reach_t *r)
{
    size_t words = fn->n / 64 + 1;
    uint64_t *reached = msc_calloc(words, 8);
    uint32_t m = 0;
    memset(r, 0, sizeof(*r));
    if (!reached) return MSC_ENOMEM;
    for (int l = 0; l < lists; l++) {
        for (size_t i = 0; i < n[l]; i++) {
            uint32_t s = values[l][i].stack;
            if (!s || s >= fn->ntrie) continue;
            for (uint32_t x = fn->of[s]; x && !(reached[x / 64] >> x % 64 & 1); x = fn->parent[x]) {
                reached[x / 64] |= 1ull << x % 64;
                m++;
            }
        }
    }
    r->order = msc_malloc(((size_t)m + 1) * 4);
    r->up = msc_malloc(((size_t)m + 1) * 4);
    if (!r->order || !r->up) {
        msc_free(reached);
        msc__reach_release(fn, r);
        return MSC_ENOMEM;
    }
    for (uint32_t x = 0; msc__bits_next(reached, words, &x); x++) {
        fn->scratch[x] = r->m + 1;
        r->order[r->m] = x;
        r->up[r->m++] = fn->scratch[fn->parent[x]]; /* a caller's number comes first */
    }
    msc_free(reached);
    return 0;
}

void msc__reach_release(const msc_frame_nodes_t *fn, msc__reach_t *r)
{
    for (uint32_t k = 0; r->order && k < r->m; k++) fn->scratch[r->order[k]] = 0;
    msc_free(r->order);
    msc_free(r->up);
    memset(r, 0, sizeof(*r));
}

static int build_upright(msc_tree_t *t, msc_symbols_t *sym, const msc_frame_nodes_t *fn,
                         const msc_stack_value_t *v, size_t n, bar_t *bar)
{
    uint64_t none_bytes = 0, none_count = 0;
    for (size_t i = 0; i < n; i++) {
        t->nodes[0].bytes += v[i].bytes;
        t->nodes[0].count += v[i].count;
        if (!v[i].stack || v[i].stack >= fn->ntrie)
            none_bytes += v[i].bytes, none_count += v[i].count;
    }
    msc__reach_t r;
    int err = msc__reach(fn, &v, &n, 1, &r);
    uint32_t m = r.m, *slot = fn->scratch, *up = r.up;
    uint32_t *map = err ? NULL : msc_calloc((size_t)m + 1, 4); /* tree id + 1, 0 not in it */
    uint64_t *bytes = err ? NULL : msc_calloc((size_t)m + 1, 8);
    uint64_t *count = err ? NULL : msc_calloc((size_t)m + 1, 8);
    if (!err && !(map && bytes && count)) err = MSC_ENOMEM;
    for (size_t i = 0; i < n && !err; i++) {
        uint32_t s = v[i].stack;
        if (s && s < fn->ntrie) {
            uint32_t x = slot[fn->of[s]] - 1;
            bytes[x] += v[i].bytes, count[x] += v[i].count;
        }
    }
    for (uint32_t x = err ? 0 : m; x-- > 0;) { /* inclusive values, callees first */
        if (up[x]) bytes[up[x] - 1] += bytes[x], count[up[x] - 1] += count[x];
    }
    for (uint32_t x = 0; x < m && !err; x++) {
        if (up[x] && !map[up[x] - 1]) continue; /* under a frame left out */
        uint32_t parent = up[x] ? map[up[x] - 1] - 1 : 0;
        uint32_t f = fn->frame[r.order[x]];
        candidate_t c = {{parent, f}, fn->frame_trie[f], bytes[x], count[x]};
        err = make(t, sym, &c, bar, &map[x]);
    }
    if (!err && (none_bytes || none_count)) {
        candidate_t none = {{0, 0}, 0, none_bytes, none_count};
        uint32_t id;
        err = make(t, sym, &none, bar, &id);
        if (!err && id)
            t->nodes[id - 1].self_bytes += none_bytes, t->nodes[id - 1].self_count += none_count;
    }
    for (size_t i = 0; i < n && !err; i++) { /* self values, on the frames kept */
        uint32_t s = v[i].stack, x = s && s < fn->ntrie ? slot[fn->of[s]] - 1 : UINT32_MAX;
        if (x != UINT32_MAX && map[x]) {
            t->nodes[map[x] - 1].self_bytes += v[i].bytes;
            t->nodes[map[x] - 1].self_count += v[i].count;
        }
    }
    msc__reach_release(fn, &r);
    msc_free(map);
    msc_free(bytes);
    msc_free(count);
    return err;
}

/* Inverted: from the allocating frames, one level of callers at a time;
 * each stack still followed is a walker, and one whose stack has no caller
 * left gives its node its self values. */
static int build_inverted(msc_tree_t *t, msc_symbols_t *sym, const msc_frame_nodes_t *fn,
                          const msc_stack_value_t *v, size_t n, bar_t *bar)
{
    walker_t *w = msc_malloc((n ? n : 1) * sizeof(*w));
    size_t mask = 1023; /* room for as many candidates as stacks, up to 64 Ki: then grown */
    while (mask < 2 * n && mask < (1u << 17) - 1) mask = mask * 2 + 1;
    level_t l = {NULL, 0, msc_calloc(mask + 1, 4), mask, 0};
    int err = w && l.slots ? 0 : MSC_ENOMEM;
    size_t live = 0;
    for (size_t i = 0; i < n && !err; i++) {
        uint32_t s = v[i].stack;
        w[live++] = (walker_t){(uint32_t)i, s && s < fn->ntrie ? fn->of[s] : 0, 0, 0};
        t->nodes[0].bytes += v[i].bytes;
        t->nodes[0].count += v[i].count;
    }
    while (live && !err) {
        level_start(&l);
        for (size_t i = 0; i < live && !err; i++) {
            uint32_t c = w[i].candidate = candidate_of(&l, fn, w[i].node, w[i].fx);
            if (c == UINT32_MAX) {
                err = MSC_ENOMEM;
                break;
            }
            l.items[c].bytes += v[w[i].value].bytes;
            l.items[c].count += v[w[i].value].count;
        }
        uint32_t *made = l.slots; /* reused: candidate -> tree node + 1, 0 left out */
        for (uint32_t c = 0; c < l.n && !err; c++) err = make(t, sym, &l.items[c], bar, &made[c]);
        size_t next = 0;
        for (size_t i = 0; i < live && !err; i++) {
            uint32_t id = made[w[i].candidate];
            if (!id) continue;
            uint32_t caller = w[i].fx ? fn->parent[w[i].fx] : 0;
            if (caller) {
                w[next++] = (walker_t){w[i].value, caller, id - 1, 0};
            } else {
                t->nodes[id - 1].self_bytes += v[w[i].value].bytes;
                t->nodes[id - 1].self_count += v[w[i].value].count;
            }
        }
        live = next;
    }
    msc_free(w);
    msc_free(l.items);
    msc_free(l.slots);
    return err;
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

void msc__group_by_parent(const void *parent, size_t stride, size_t n, uint32_t *first,
                          uint32_t *kids)
{
    const char *p = parent;
    for (size_t x = 1; x < n; x++) first[*(const uint32_t *)(p + x * stride) + 1]++;
    for (size_t x = 0; x < n; x++) first[x + 1] += first[x];
    for (size_t x = 1; x < n; x++) kids[first[*(const uint32_t *)(p + x * stride)]++] = (uint32_t)x;
    for (size_t x = n; x-- > 0;) first[x + 1] = first[x]; /* each end back to a start */
    first[0] = 0;
}

/* Groups children by parent, each group largest first. */
static int index_children(msc_tree_t *t)
{
    t->child_start = msc_calloc((size_t)t->n + 1, sizeof(uint32_t));
    t->children = msc_malloc((size_t)t->n * sizeof(uint32_t));
    if (!t->child_start || !t->children) return MSC_ENOMEM;
    msc__group_by_parent(&t->nodes[0].parent, sizeof(t->nodes[0]), t->n, t->child_start,
                         t->children);
    sort_tree = t;
    for (uint32_t id = 0; id < t->n; id++) {
        uint32_t k = t->child_start[id + 1] - t->child_start[id];
        if (k > 1) qsort(t->children + t->child_start[id], k, sizeof(uint32_t), by_bytes_desc);
    }
    return 0;
}

msc_tree_t *msc_tree_new(msc_symbols_t *sym, const msc_stack_value_t *values, size_t n, int flags)
{
    return msc_tree_new_pruned(sym, values, n, flags, 0, 0);
}

/* A tree holding only its root, and the bar for total bytes; NULL on OOM. */
static msc_tree_t *tree_start(bar_t *bar, uint64_t total, uint32_t min_share, uint32_t max_nodes)
{
    *bar = (bar_t){min_share ? total / min_share : 0, NULL, max_nodes, 0};
    msc_tree_t *t = msc_calloc(1, sizeof(*t));
    if (!t) return NULL;
    msc_table_init(&t->index);
    if ((max_nodes && !(bar->top = msc_malloc((size_t)max_nodes * sizeof(uint64_t)))) ||
        grow_nodes(t) < 0) {
        msc_free(bar->top);
        msc_tree_free(t);
        return NULL;
    }
    bar_add(bar, total); /* the root, the first frame a graph takes */
    t->nodes[0] = (msc_tree_node_t){0, 0, "", "all", 0, 0, 0, 0, 0, 0};
    t->keys[0] = (frame_key_t){UINT32_MAX, 0};
    t->n = 1;
    return t;
}

/* Orders the children and drops what only the building needed; t, or NULL
 * (t freed) when err or OOM. */
static msc_tree_t *tree_finish(msc_tree_t *t, bar_t *bar, int err)
{
    msc_free(bar->top);
    if (err || index_children(t) < 0) {
        msc_tree_free(t);
        return NULL;
    }
    msc_table_release(&t->index);
    msc_free(t->keys);
    t->keys = NULL;
    return t;
}

msc_tree_t *msc_tree_new_pruned(msc_symbols_t *sym, const msc_stack_value_t *values, size_t n,
                                int flags, uint32_t min_share, uint32_t max_nodes)
{
    uint64_t total = 0;
    for (size_t i = 0; (min_share || max_nodes) && i < n; i++) total += values[i].bytes;
    bar_t bar;
    msc_tree_t *t = tree_start(&bar, total, min_share, max_nodes);
    if (!t) return NULL;
    const msc_frame_nodes_t *fn = msc_symbols_frame_nodes(sym);
    int err = !fn                         ? MSC_ENOMEM
              : flags & MSC_TREE_INVERTED ? build_inverted(t, sym, fn, values, n, &bar)
                                          : build_upright(t, sym, fn, values, n, &bar);
    return tree_finish(t, &bar, err);
}

/*
 * A series: the upright trees of a timeline's moments. Each moment differs
 * from the one before by what was allocated and freed between them, most
 * often a small part of what is live; the series keeps the inclusive
 * values of every frame node that holds anything, changes them by the
 * difference of the two moments' values (each changed stack up its
 * callers), and makes a tree from the root down, visiting the callees of
 * the frames it makes only. A moment costs its changes times their depth,
 * and the frames it makes times their callees, not what is live.
 */

typedef struct series_slot {
    uint64_t bytes, count;         /* inclusive */
    uint64_t self_bytes, self_count;
} series_slot_t;

struct msc_tree_series {
    msc_symbols_t *sym;
    const msc_frame_nodes_t *fn;   /* what the state below numbers; NULL: none yet */
    uint32_t fn_made;              /* fn->made then */
    msc_stack_value_t *last;       /* the values the state holds, by stack */
    size_t nlast, cap_last;
    uint32_t *slot;                /* per frame node: its slot + 1, 0 holding nothing */
    uint32_t *first, *kids;        /* callees of x: kids[first[x] .. first[x + 1]) */
    series_slot_t *slots;
    size_t nslots, cap_slots;
    uint32_t *spare;               /* slots given back, to be taken first */
    size_t nspare, cap_spare;
    uint32_t (*queue)[2];          /* frame node, tree node: made, callees not yet seen */
    size_t cap_queue;
    uint64_t bytes, count;         /* of every stack */
    uint64_t none_bytes, none_count; /* of the empty stack and stacks past the trie */
};

msc_tree_series_t *msc_tree_series_new(msc_symbols_t *sym)
{
    msc_tree_series_t *s = msc_calloc(1, sizeof(*s));
    if (s) s->sym = sym;
    return s;
}

/* Forgets every value (the state is for fn, or is to be made again). */
static void series_reset(msc_tree_series_t *s)
{
    msc_free(s->slot);
    msc_free(s->first);
    msc_free(s->kids);
    s->slot = s->first = s->kids = NULL;
    s->fn = NULL;
    s->nlast = s->nslots = s->nspare = 0;
    s->bytes = s->count = s->none_bytes = s->none_count = 0;
}

void msc_tree_series_free(msc_tree_series_t *s)
{
    if (!s) return;
    series_reset(s);
    msc_free(s->last);
    msc_free(s->slots);
    msc_free(s->spare);
    msc_free(s->queue);
    msc_free(s);
}

/* Groups fn's callees by caller. */
static int series_start(msc_tree_series_t *s, const msc_frame_nodes_t *fn)
{
    series_reset(s);
    size_t n = fn->n;
    s->slot = msc_calloc(n, 4);
    s->first = msc_calloc(n + 1, 4);
    s->kids = msc_malloc(n * 4);
    if (!s->slot || !s->first || !s->kids) return MSC_ENOMEM;
    msc__group_by_parent(fn->parent, sizeof(fn->parent[0]), n, s->first, s->kids);
    s->fn = fn;
    s->fn_made = fn->made;
    return 0;
}

/* Adds (bytes, count), which wrap around to take away, to stack's frame
 * node and its callers; a node left holding nothing gives its slot back. */
static int series_add(msc_tree_series_t *s, uint32_t stack, uint64_t bytes, uint64_t count)
{
    const msc_frame_nodes_t *fn = s->fn;
    s->bytes += bytes, s->count += count;
    if (!stack || stack >= fn->ntrie) {
        s->none_bytes += bytes, s->none_count += count;
        return 0;
    }
    for (uint32_t x = fn->of[stack], leaf = 1; x; x = fn->parent[x], leaf = 0) {
        uint32_t k = s->slot[x];
        if (!k) {
            if (s->nspare) {
                k = s->spare[--s->nspare];
            } else {
                if (msc_array_grow((void **)&s->slots, &s->cap_slots, s->nslots + 1,
                                   sizeof(series_slot_t)) < 0 ||
                    msc_array_grow((void **)&s->spare, &s->cap_spare, s->nslots + 1, 4) < 0)
                    return MSC_ENOMEM;
                k = (uint32_t)s->nslots++;
            }
            s->slots[k] = (series_slot_t){0, 0, 0, 0};
            s->slot[x] = k + 1;
        } else {
            k--;
        }
        series_slot_t *e = &s->slots[k];
        e->bytes += bytes, e->count += count;
        if (leaf) e->self_bytes += bytes, e->self_count += count;
        if (!e->bytes && !e->count) { /* values are never negative: nothing under it either */
            s->slot[x] = 0;
            s->spare[s->nspare++] = k;
        }
    }
    return 0;
}

/* Moves the state from the last values to v (both by stack): the
 * difference of each stack that changed. */
static int series_move(msc_tree_series_t *s, const msc_stack_value_t *v, size_t n)
{
    const msc_stack_value_t *a = s->last;
    size_t i = 0, j = 0;
    int err = 0;
    while (!err && (i < s->nlast || j < n)) {
        if (j == n || (i < s->nlast && a[i].stack < v[j].stack)) {
            err = series_add(s, a[i].stack, 0 - a[i].bytes, 0 - a[i].count);
            i++;
        } else if (i == s->nlast || v[j].stack < a[i].stack) {
            err = series_add(s, v[j].stack, v[j].bytes, v[j].count);
            j++;
        } else {
            if (a[i].bytes != v[j].bytes || a[i].count != v[j].count)
                err = series_add(s, v[j].stack, v[j].bytes - a[i].bytes, v[j].count - a[i].count);
            i++, j++;
        }
    }
    if (!err && msc_array_grow((void **)&s->last, &s->cap_last, n ? n : 1, sizeof(*v)) < 0)
        err = MSC_ENOMEM;
    if (!err) {
        if (n) memcpy(s->last, v, n * sizeof(*v));
        s->nlast = n;
    }
    return err;
}

/* The tree from the root down: the callees of each frame made, each made
 * when it reaches the bar. */
static int series_build(msc_tree_series_t *s, msc_tree_t *t, bar_t *bar)
{
    const msc_frame_nodes_t *fn = s->fn;
    t->nodes[0].bytes = s->bytes, t->nodes[0].count = s->count;
    size_t head = 0, tail = 0;
    int err = msc_array_grow((void **)&s->queue, &s->cap_queue, 1, sizeof(*s->queue));
    if (!err) s->queue[tail][0] = 0, s->queue[tail++][1] = 0;
    while (head < tail && !err) {
        uint32_t x = s->queue[head][0], id = s->queue[head++][1];
        for (uint32_t i = s->first[x]; i < s->first[x + 1] && !err; i++) {
            uint32_t c = s->kids[i], k = s->slot[c], made;
            if (!k) continue;
            const series_slot_t *e = &s->slots[k - 1];
            uint32_t f = fn->frame[c];
            candidate_t cand = {{id, f}, fn->frame_trie[f], e->bytes, e->count};
            err = make(t, s->sym, &cand, bar, &made);
            if (err || !made) continue;
            t->nodes[made - 1].self_bytes = e->self_bytes;
            t->nodes[made - 1].self_count = e->self_count;
            err = msc_array_grow((void **)&s->queue, &s->cap_queue, tail + 1, sizeof(*s->queue));
            if (!err) s->queue[tail][0] = c, s->queue[tail++][1] = made - 1;
        }
    }
    if (!err && (s->none_bytes || s->none_count)) {
        candidate_t none = {{0, 0}, 0, s->none_bytes, s->none_count};
        uint32_t id;
        err = make(t, s->sym, &none, bar, &id);
        if (!err && id)
            t->nodes[id - 1].self_bytes += s->none_bytes,
                t->nodes[id - 1].self_count += s->none_count;
    }
    return err;
}

msc_tree_t *msc_tree_series_next(msc_tree_series_t *s, const msc_stack_value_t *v, size_t n,
                                 uint32_t min_share, uint32_t max_nodes)
{
    for (size_t i = 1; i < n; i++)
        if (v[i].stack <= v[i - 1].stack) /* not by stack: a tree of its own */
            return msc_tree_new_pruned(s->sym, v, n, 0, min_share, max_nodes);
    const msc_frame_nodes_t *fn = msc_symbols_frame_nodes(s->sym);
    if (!fn) return NULL;
    int err = fn == s->fn && fn->made == s->fn_made ? 0 : series_start(s, fn); /* the first,
                                  or the frame nodes were made again (the tables grew) */
    if (!err) err = series_move(s, v, n);
    if (err) {
        series_reset(s); /* half moved: the next starts over */
        return NULL;
    }
    bar_t bar;
    msc_tree_t *t = tree_start(&bar, s->bytes, min_share, max_nodes);
    return t ? tree_finish(t, &bar, series_build(s, t, &bar)) : NULL;
}

/* Only the stacks that ever had an allocation or a sample can hold a value:
 * a word of the analysis's bitmap per 64 stacks, the array sized by them,
 * not by every prefix of every stack. */
int msc_stack_values(const msc_analysis_t *a, msc_view_t view, msc_stack_value_t **out, size_t *n)
{
    msc_views_values_t vv;
    *out = NULL;
    *n = 0;
    if ((unsigned)view >= MSC_VIEW_ALL) view = MSC_VIEW_TOTAL; /* as msc_analysis_node reads it */
    int err = msc_views_values_read(a, 1u << view, &vv);
    if (err) return err;
    *out = vv.values[view]; /* the only array read: the caller's now */
    *n = vv.n[view];
    return 0;
}

/* Each view's array has room for every stack used (a view's own are not
 * known before the pass): what a sparse view leaves untouched of a block
 * that large is never given pages (blocks of 1 MiB and more are mappings
 * of their own, main.c). */
int msc_views_values_read(const msc_analysis_t *a, unsigned views, msc_views_values_t *out)
{
    memset(out, 0, sizeof(*out));
    out->views = views;
    size_t words, used = 0;
    const uint64_t *bits = msc_analysis_used_stacks(a, &words);
    for (size_t w = 0; w < words; w++) used += (size_t)__builtin_popcountll(bits[w]);
    for (int k = 0; k < MSC_VIEW_ALL; k++) {
        if (!(views & 1u << k)) continue;
        if (!(out->values[k] = msc_malloc((used ? used : 1) * sizeof(msc_stack_value_t)))) {
            msc_views_values_release(out);
            return MSC_ENOMEM;
        }
    }
    for (uint32_t s = 0; msc__bits_next(bits, words, &s); s++) {
        msc_node_values_t v[MSC_VIEW_ALL] = {{0, 0}};
        msc_analysis_node_views(a, s, v);
        for (int k = 0; k < MSC_VIEW_ALL; k++)
            if (views & 1u << k && (v[k].bytes || v[k].count))
                out->values[k][out->n[k]++] = (msc_stack_value_t){s, v[k].bytes, v[k].count};
    }
    return 0;
}

void msc_views_values_release(msc_views_values_t *vv)
{
    for (int k = 0; k < MSC_VIEW_ALL; k++) msc_free(vv->values[k]);
    memset(vv, 0, sizeof(*vv));
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
    msc_table_release(&t->index);
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
