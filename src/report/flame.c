/* The data side of the HTML flame graphs: the frame table every tree of a
 * report shares, and the size cap. A tree is cut to its largest frames by a
 * best-first walk from the root (a max-heap on bytes), which keeps every
 * kept frame's callers; each kept frame's other children become one
 * "other" node, so the graph still adds up and the file stays small
 * whatever the capture. */
#include <string.h>

#include "memscope/common.h"
#include "memscope/json.h"
#include "export.h"
#include "html.h"

#define MAX_NAME 240               /* bytes of a function or file name kept */

struct msc_frames {
    msc_frame_ids_t ids;           /* the frames written, numbered as the trees name them */
    size_t bytes, budget;          /* string bytes held, and allowed */
};

msc_frames_t *msc__frames_new(size_t budget)
{
    msc_frames_t *f = msc_calloc(1, sizeof(*f));
    if (!f) return NULL;
    msc__frame_ids_init(&f->ids);
    f->budget = budget;
    return f;
}

void msc__frames_free(msc_frames_t *f)
{
    if (!f) return;
    msc__frame_ids_release(&f->ids);
    msc_free(f);
}

/* Bytes a frame name takes in the data (escapes and ellipsis included). */
static size_t written_size(const char *s)
{
    return msc_json_string_size(s, strnlen(s, MAX_NAME), MSC_JSON_HTML) + 3;
}

int64_t msc__frame_index(msc_frames_t *f, const char *function, const char *file, uint32_t line)
{
    int64_t k = msc__frame_find(&f->ids, function, file, line);
    if (k >= 0) return k;
    size_t size = written_size(function) + written_size(file) + 12;
    if (f->bytes + size > f->budget) return -1;
    k = msc__frame_number(&f->ids, function, file, line);
    if (k < 0) return -2;
    f->bytes += size;
    return k;
}

void msc__frames_write(msc_json_t *j, const msc_frames_t *f)
{
    msc_json_array_begin(j, "frames");
    msc_json_compact(j, 1);
    for (size_t k = 0; k < msc__frame_count(&f->ids); k++) {
        const msc_frame_key_t *x = &f->ids.frames[k];
        if (k) msc_json_newline(j, 0);
        msc_json_array_begin(j, NULL);
        msc_json_str_cut(j, NULL, x->function, MAX_NAME);
        msc_json_str_cut(j, NULL, x->file, MAX_NAME);
        msc_json_u64(j, NULL, x->line);
        msc_json_end(j);
    }
    msc_json_compact(j, 0);
    msc_json_end(j);
}

/* A binary max-heap of tree nodes by bytes, then by id, smaller first: a
 * total order, so the frames taken are the same whatever else the tree
 * holds below them (a tree built for max_nodes frames holds fewer,
 * tree.h, and keeps its nodes' order of making). */
typedef struct heap {
    const msc_tree_t *tree;
    uint32_t *ids;
    size_t n;
} heap_t;

/* Whether the node at i goes before the node at j. */
static int before(const heap_t *h, size_t i, size_t j)
{
    uint64_t a = msc_tree_node(h->tree, h->ids[i])->bytes;
    uint64_t b = msc_tree_node(h->tree, h->ids[j])->bytes;
    return a != b ? a > b : h->ids[i] < h->ids[j];
}

static void heap_push(heap_t *h, uint32_t id)
{
    size_t i = h->n++;
    h->ids[i] = id;
    while (i && before(h, i, (i - 1) / 2)) {
        uint32_t t = h->ids[i];
        h->ids[i] = h->ids[(i - 1) / 2];
        h->ids[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static uint32_t heap_pop(heap_t *h)
{
    uint32_t top = h->ids[0];
    h->ids[0] = h->ids[--h->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && before(h, l, m)) m = l;
        if (r < h->n && before(h, r, m)) m = r;
        if (m == i) break;
        uint32_t t = h->ids[i];
        h->ids[i] = h->ids[m];
        h->ids[m] = t;
        i = m;
    }
    return top;
}

/* Chooses the kept nodes: kept[id] = frame index + 1, 0 for merged. */
static int choose(const msc_tree_t *t, msc_frames_t *frames, uint32_t max_nodes, uint32_t min_share,
                  uint32_t *kept)
{
    heap_t h = {t, msc_malloc((size_t)msc_tree_size(t) * sizeof(uint32_t)), 0};
    if (!h.ids) return MSC_ENOMEM;
    uint64_t floor = msc_tree_node(t, 0)->bytes / (min_share ? min_share : 1);
    uint32_t taken = 0;
    heap_push(&h, 0);
    while (h.n && taken < max_nodes) {
        uint32_t id = heap_pop(&h);
        const msc_tree_node_t *x = msc_tree_node(t, id);
        if (id && x->bytes < floor) break; /* every node left is smaller */
        int64_t k = msc__frame_index(frames, x->function, x->file, x->line);
        if (k == -2) {
            msc_free(h.ids);
            return MSC_ENOMEM;
        }
        if (k < 0) continue;
        kept[id] = (uint32_t)k + 1;
        taken++;
        uint32_t n;
        const uint32_t *kids = msc_tree_children(t, id, &n);
        for (uint32_t i = 0; i < n; i++) heap_push(&h, kids[i]);
    }
    msc_free(h.ids);
    return 0;
}

/* The frames of node id not drawn, merged into one "other" box: children
 * not kept, and those the tree itself left out (pruned). Its values are
 * what the node holds beyond its own and its drawn children's. */
static void write_other(msc_json_t *j, const msc_tree_t *t, uint32_t id, const uint32_t *kids,
                        uint32_t n, const uint32_t *kept)
{
    const msc_tree_node_t *x = msc_tree_node(t, id);
    uint64_t bytes = x->bytes - x->self_bytes, count = x->count - x->self_count;
    uint32_t merged = x->pruned;
    for (uint32_t i = 0; i < n; i++) {
        const msc_tree_node_t *k = msc_tree_node(t, kids[i]);
        if (kept[kids[i]]) bytes -= k->bytes, count -= k->count;
        else merged++;
    }
    if (!merged) return;
    msc_json_array_begin(j, NULL);
    msc_json_i64(j, NULL, -(int64_t)merged);
    msc_json_u64(j, NULL, bytes);
    msc_json_u64(j, NULL, count);
    msc_json_end(j);
}

/* [frame, bytes, count, [children... */
static void open_node(msc_json_t *j, const msc_tree_t *t, uint32_t id, const uint32_t *kept)
{
    const msc_tree_node_t *x = msc_tree_node(t, id);
    msc_json_array_begin(j, NULL);
    msc_json_u64(j, NULL, kept[id] - 1);
    msc_json_u64(j, NULL, x->bytes);
    msc_json_u64(j, NULL, x->count);
    msc_json_array_begin(j, NULL);
}

/* Writes the kept nodes depth-first through an explicit stack. */
static int write_kept(msc_json_t *j, const msc_tree_t *t, const uint32_t *kept)
{
    typedef struct item {
        uint32_t node, next;
    } item_t;
    item_t *stack = msc_malloc(((size_t)msc_tree_max_depth(t) + 1) * sizeof(item_t));
    if (!stack) return MSC_ENOMEM;
    size_t top = 0;
    stack[top++] = (item_t){0, 0};
    open_node(j, t, 0, kept);
    while (top) {
        item_t *it = &stack[top - 1];
        uint32_t n;
        const uint32_t *kids = msc_tree_children(t, it->node, &n);
        while (it->next < n && !kept[kids[it->next]]) it->next++;
        if (it->next == n) {
            write_other(j, t, it->node, kids, n, kept);
            msc_json_end(j);
            msc_json_end(j);
            top--;
            continue;
        }
        uint32_t child = kids[it->next++];
        open_node(j, t, child, kept);
        stack[top++] = (item_t){child, 0};
    }
    msc_free(stack);
    return 0;
}

int msc__flame_write(msc_json_t *j, const msc_tree_t *t, msc_frames_t *frames, uint32_t max_nodes,
                     uint32_t min_share)
{
    uint32_t *kept = msc_calloc(msc_tree_size(t), sizeof(uint32_t));
    if (!kept) return MSC_ENOMEM;
    int err = choose(t, frames, max_nodes, min_share, kept);
    if (!err && !kept[0]) err = MSC_ENOMEM; /* even the root found no room */
    if (!err) {
        msc_json_compact(j, 1);
        err = write_kept(j, t, kept);
        msc_json_compact(j, 0);
    }
    msc_free(kept);
    return err;
}
