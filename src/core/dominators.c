/* Dominator tree and retained sizes of a heap graph, by semi-NCA
 * (Georgiadis' variant of Lengauer-Tarjan): a depth-first numbering, the
 * semidominators from predecessors with path-compressed eval, then each
 * immediate dominator as the nearest common ancestor of parent and
 * semidominator. Everything is iterative (ten million deep chains exist:
 * a long linked list) and works in preorder numbers, so the arrays are
 * dense and the passes sequential. */
#include <string.h>

#include "memscope/heapanalysis.h"

#define NONE UINT32_MAX

typedef struct dom_work {
    uint32_t *pre;             /* node -> preorder number, NONE if unreachable */
    uint32_t *parent;          /* preorder -> preorder of the DFS parent */
    uint32_t *semi, *label, *ancestor, *idom, *stack;
    uint64_t *pred_start;      /* predecessors (preorder numbers) in CSR form */
    uint32_t *pred;
} dom_work_t;

/* Depth-first preorder from the root; fills pre, order, parent. */
static uint32_t number(const msc_heap_t *h, dom_work_t *w, uint32_t *order, uint64_t *cursor)
{
    uint32_t k = 0, depth = 0;
    w->pre[0] = k;
    order[k] = 0;
    w->parent[k++] = 0;
    w->stack[depth] = 0;
    cursor[depth++] = h->edge_start[0];
    while (depth) {
        uint32_t u = w->stack[depth - 1];
        if (cursor[depth - 1] == h->edge_start[u + 1]) {
            depth--;
            continue;
        }
        uint32_t t = h->edge_to[cursor[depth - 1]++];
        if (w->pre[t] != NONE) continue;
        w->pre[t] = k;
        order[k] = t;
        w->parent[k++] = w->pre[u];
        w->stack[depth] = t;
        cursor[depth++] = h->edge_start[t];
    }
    return k;
}

static int build_preds(const msc_heap_t *h, dom_work_t *w, const uint32_t *order, uint32_t k)
{
    w->pred_start = msc_calloc((size_t)k + 1, sizeof(uint64_t));
    if (!w->pred_start) return MSC_ENOMEM;
    uint64_t total = 0;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t u = order[i];
        for (uint64_t e = h->edge_start[u]; e < h->edge_start[u + 1]; e++)
            w->pred_start[w->pre[h->edge_to[e]] + 1]++;
        total += h->edge_start[u + 1] - h->edge_start[u];
    }
    for (uint32_t i = 0; i < k; i++) w->pred_start[i + 1] += w->pred_start[i];
    w->pred = msc_malloc((size_t)total * sizeof(uint32_t) + 1);
    uint64_t *fill = msc_malloc(((size_t)k + 1) * sizeof(uint64_t));
    if (!w->pred || !fill) {
        msc_free(fill);
        return MSC_ENOMEM;
    }
    memcpy(fill, w->pred_start, ((size_t)k + 1) * sizeof(uint64_t));
    for (uint32_t i = 0; i < k; i++) {
        uint32_t u = order[i];
        for (uint64_t e = h->edge_start[u]; e < h->edge_start[u + 1]; e++)
            w->pred[fill[w->pre[h->edge_to[e]]]++] = i;
    }
    msc_free(fill);
    return 0;
}

/* Lengauer-Tarjan's eval with path compression, without recursion: the
 * path to the forest root is collected on the stack, then compressed from
 * the top down. */
static uint32_t eval(dom_work_t *w, uint32_t v)
{
    if (w->ancestor[v] == NONE) return v;
    uint32_t depth = 0, x = v;
    while (w->ancestor[w->ancestor[x]] != NONE) {
        w->stack[depth++] = x;
        x = w->ancestor[x];
    }
    while (depth) {
        uint32_t y = w->stack[--depth], a = w->ancestor[y];
        if (w->semi[w->label[a]] < w->semi[w->label[y]]) w->label[y] = w->label[a];
        w->ancestor[y] = w->ancestor[a];
    }
    return w->label[v];
}

static void semi_nca(dom_work_t *w, uint32_t k)
{
    for (uint32_t i = 0; i < k; i++) {
        w->semi[i] = w->label[i] = i;
        w->ancestor[i] = NONE;
    }
    for (uint32_t i = k; i-- > 1;) {
        for (uint64_t e = w->pred_start[i]; e < w->pred_start[i + 1]; e++) {
            uint32_t u = eval(w, w->pred[e]);
            if (w->semi[u] < w->semi[i]) w->semi[i] = w->semi[u];
        }
        w->ancestor[i] = w->parent[i];
    }
    w->idom[0] = 0;
    for (uint32_t i = 1; i < k; i++) {
        uint32_t d = w->parent[i];
        while (d > w->semi[i]) d = w->idom[d];
        w->idom[i] = d;
    }
}

static void finish(const msc_heap_t *h, dom_work_t *w, msc_heap_dom_t *d)
{
    uint32_t k = d->reachable;
    for (uint32_t v = 0; v < h->node_count; v++) {
        d->idom[v] = NONE;
        d->retained[v] = h->size[v];
    }
    for (uint32_t i = 0; i < k; i++) d->idom[d->order[i]] = d->order[w->idom[i]];
    for (uint32_t i = k; i-- > 1;) d->retained[d->order[w->idom[i]]] += d->retained[d->order[i]];
}

int msc_heap_dominators(const msc_heap_t *h, msc_heap_dom_t *d)
{
    size_t n = h->node_count;
    dom_work_t w = {0};
    uint64_t *cursor = msc_malloc(n * sizeof(uint64_t));
    memset(d, 0, sizeof(*d));
    d->idom = msc_malloc(n * sizeof(uint32_t));
    d->retained = msc_malloc(n * sizeof(uint64_t));
    d->order = msc_malloc(n * sizeof(uint32_t));
    w.pre = msc_malloc(n * sizeof(uint32_t));
    uint32_t **arrays[] = {&w.parent, &w.semi, &w.label, &w.ancestor, &w.idom, &w.stack};
    int rc = MSC_ENOMEM;
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
        *arrays[i] = msc_malloc(n * sizeof(uint32_t));
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
        if (!*arrays[i]) goto done;
    if (!cursor || !d->idom || !d->retained || !d->order || !w.pre) goto done;
    memset(w.pre, 0xFF, n * sizeof(uint32_t));
    d->reachable = number(h, &w, d->order, cursor);
    if ((rc = build_preds(h, &w, d->order, d->reachable)) < 0) goto done;
    semi_nca(&w, d->reachable);
    finish(h, &w, d);
done:
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) msc_free(*arrays[i]);
    msc_free(w.pre);
    msc_free(w.pred_start);
    msc_free(w.pred);
    msc_free(cursor);
    if (rc < 0) msc_heap_dom_release(d);
    return rc;
}

void msc_heap_dom_release(msc_heap_dom_t *d)
{
    msc_free(d->idom);
    msc_free(d->retained);
    msc_free(d->order);
    memset(d, 0, sizeof(*d));
}

/* Children of each node in the dominator tree, in CSR form. */
static int dom_children(const msc_heap_t *h, const msc_heap_dom_t *d, uint32_t **start,
                        uint32_t **child)
{
    size_t n = h->node_count;
    *start = msc_calloc(n + 1, sizeof(uint32_t));
    *child = msc_malloc(n * sizeof(uint32_t));
    if (!*start || !*child) return MSC_ENOMEM;
    for (uint32_t i = 1; i < d->reachable; i++) (*start)[d->idom[d->order[i]] + 1]++;
    for (size_t v = 0; v < n; v++) (*start)[v + 1] += (*start)[v];
    uint32_t *next = msc_malloc((n + 1) * sizeof(uint32_t));
    if (!next) return MSC_ENOMEM;
    memcpy(next, *start, (n + 1) * sizeof(uint32_t));
    for (uint32_t i = 1; i < d->reachable; i++) {
        uint32_t v = d->order[i];
        (*child)[next[d->idom[v]]++] = v;
    }
    msc_free(next);
    return 0;
}

int msc_heap_type_retained(const msc_heap_t *h, const msc_heap_dom_t *d, uint64_t *by_type)
{
    uint32_t *start = NULL, *child = NULL, *stack = NULL, *active = NULL, *cursor = NULL;
    int rc = dom_children(h, d, &start, &child);
    stack = msc_malloc((size_t)h->node_count * sizeof(uint32_t));
    cursor = msc_malloc((size_t)h->node_count * sizeof(uint32_t));
    active = msc_calloc(h->type_count ? h->type_count : 1, sizeof(uint32_t));
    if (rc < 0 || !stack || !cursor || !active) rc = MSC_ENOMEM;
    memset(by_type, 0, (size_t)h->type_count * sizeof(uint64_t));
    /* Depth-first over the dominator tree, counting per type how many of
     * the current node's dominators are objects of that type (a frame or
     * an instance's inline values is no object of any type). */
    uint32_t depth = 0;
    if (rc == 0) {
        stack[depth] = 0;
        cursor[depth++] = start[0];
    }
    while (depth) {
        uint32_t u = stack[depth - 1];
        if (cursor[depth - 1] == start[u + 1]) {
            if (msc_heap_is_object(h, u)) active[h->type[u]]--;
            depth--;
            continue;
        }
        uint32_t v = child[cursor[depth - 1]++];
        if (msc_heap_is_object(h, v) && active[h->type[v]]++ == 0)
            by_type[h->type[v]] += d->retained[v];
        stack[depth] = v;
        cursor[depth++] = start[v];
    }
    msc_free(start);
    msc_free(child);
    msc_free(stack);
    msc_free(cursor);
    msc_free(active);
    return rc;
}
