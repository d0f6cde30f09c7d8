/* Reference paths in a heap graph: a breadth-first search from the root
 * gives every object its shortest chain of references from the first
 * root that reaches it (objgraph's find_backref_chain, for all objects at
 * once), and the chain is written
 * the way a Python programmer would reach the object:
 * sys.modules['app'].__dict__['cache'][3]. The paths of many objects merge
 * (Eclipse MAT's "merge shortest paths to GC roots") when they differ only
 * in which element of a container they pass through:
 * sys.modules['app'].__dict__['cache'][*]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memscope/heapanalysis.h"
#include "heapint.h"

int msc_heap_paths(const msc_heap_t *h, msc_heap_paths_t *p)
{
    size_t n = h->node_count;
    p->parent = msc_malloc(n * sizeof(uint32_t));
    p->label = msc_malloc(n * sizeof(uint32_t));
    uint32_t *queue = msc_malloc(n * sizeof(uint32_t));
    if (!p->parent || !p->label || !queue) {
        msc_free(queue);
        msc_heap_paths_release(p);
        return MSC_ENOMEM;
    }
    memset(p->parent, 0xFF, n * sizeof(uint32_t));
    /* Each root's reach is searched in full before the next root's, so a
     * path starts at the first root that reaches the object (sys.modules
     * before a thread's frames): the name a programmer would use. */
    size_t head = 0, tail = 0;
    p->parent[0] = 0;
    p->label[0] = 0;
    for (uint64_t r = h->edge_start[0]; r < h->edge_start[1]; r++) {
        uint32_t first = h->edge_to[r];
        if (p->parent[first] != UINT32_MAX) continue;
        p->parent[first] = 0;
        p->label[first] = h->edge_label[r];
        queue[tail++] = first;
        while (head < tail) {
            uint32_t u = queue[head++];
            for (uint64_t e = h->edge_start[u]; e < h->edge_start[u + 1]; e++) {
                uint32_t t = h->edge_to[e];
                if (p->parent[t] != UINT32_MAX) continue;
                p->parent[t] = u;
                p->label[t] = h->edge_label[e];
                queue[tail++] = t;
            }
        }
    }
    msc_free(queue);
    return 0;
}

void msc_heap_paths_release(msc_heap_paths_t *p)
{
    msc_free(p->parent);
    msc_free(p->label);
    p->parent = p->label = NULL;
}

static int type_is(const msc_heap_t *h, uint32_t v, const char *name)
{
    return strcmp(msc_heap_string(h, h->types[h->type[v]].name, NULL), name) == 0;
}

const char *msc_heap_label_text(const msc_heap_t *h, uint32_t parent, uint32_t label, char *buf,
                                size_t n)
{
    if (label & MSC_HEAP_LABEL_INDEX) {
        snprintf(buf, n, "[%u]", label & ~MSC_HEAP_LABEL_INDEX);
        return buf;
    }
    const char *name = msc_heap_string(h, label, NULL);
    if (parent == 0) snprintf(buf, n, "%s", name);
    else if (label == 0) snprintf(buf, n, "->");
    else if (name[0] == '[' || name[0] == '<') snprintf(buf, n, "%s", name);
    else if (h->flags[parent] & MSC_HEAP_SYNTHETIC && !type_is(h, parent, "dict"))
        snprintf(buf, n, ":%s", name); /* a frame's local variable */
    else if (type_is(h, parent, "dict")) snprintf(buf, n, "['%s']", name);
    else snprintf(buf, n, ".%s", name);
    return buf;
}

/* Appends s to buf[*len..n), keeping room for the terminator. */
static void append(char *buf, size_t n, size_t *len, const char *s)
{
    size_t k = strlen(s);
    if (*len + k >= n) k = n - 1 - *len;
    memcpy(buf + *len, s, k);
    *len += k;
    buf[*len] = 0;
}

#define MAX_STEPS 4096

/* Whether the edge into x is one of many alike, which a merged path writes
 * as [*]: a list or tuple index, or a key of a dict that holds data. Keys
 * that are names in the program stay: those of a module's or instance's
 * __dict__, and of a dict a root holds (sys.modules). */
static int is_element(const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t x)
{
    uint32_t parent = p->parent[x], label = p->label[x];
    if (label & MSC_HEAP_LABEL_INDEX) return 1;
    if (parent == 0 || p->parent[parent] == 0 || (h->flags[parent] & MSC_HEAP_SYNTHETIC) ||
        !type_is(h, parent, "dict"))
        return 0;
    return !msc_heap_label_is(h, p->label[parent], "__dict__");
}

static const char *path_text(const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t v, char *buf,
                             size_t n, int merged)
{
    uint32_t steps[MAX_STEPS];
    size_t count = 0, len = 0;
    buf[0] = 0;
    if (p->parent[v] == UINT32_MAX) {
        append(buf, n, &len, "(no path from a root)");
        return buf;
    }
    for (uint32_t x = v; x != 0 && count < MAX_STEPS; x = p->parent[x]) steps[count++] = x;
    for (size_t i = count; i-- > 0;) {
        char part[300];
        uint32_t x = steps[i], parent = p->parent[x];
        if (count > 24 && i == count - 13) {
            append(buf, n, &len, "...");
            i = 12; /* long chains keep 12 steps at each end */
            continue;
        }
        if (parent != 0 && (h->flags[parent] & MSC_HEAP_SYNTHETIC) && !type_is(h, parent, "dict")) {
            snprintf(part, sizeof(part), " %s", msc_heap_string(h, h->preview[parent], NULL));
            append(buf, n, &len, part);
        }
        if (merged && is_element(h, p, x)) append(buf, n, &len, "[*]");
        else append(buf, n, &len, msc_heap_label_text(h, parent, p->label[x], part, sizeof(part)));
    }
    return buf;
}

const char *msc_heap_path_text(const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t v,
                               char *buf, size_t n)
{
    return path_text(h, p, v, buf, n, 0);
}

const char *msc_heap_path_pattern(const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t v,
                                  char *buf, size_t n)
{
    return path_text(h, p, v, buf, n, 1);
}

/* The merged path's identity: a hash of the types and labels from v up to
 * the root, with [*] for elements. Unreachable nodes all hash alike. */
static uint64_t path_hash(const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t v)
{
    uint64_t hash = 1469598103934665603ull; /* FNV-1a over 32-bit words */
    size_t steps = 0;
    if (p->parent[v] == UINT32_MAX) return 0;
    for (uint32_t x = v; x != 0 && steps < MAX_STEPS; x = p->parent[x], steps++) {
        uint32_t words[2] = {h->type[x], is_element(h, p, x) ? UINT32_MAX : p->label[x]};
        for (int i = 0; i < 2; i++) hash = (hash ^ words[i]) * 1099511628211ull;
    }
    return hash | 1; /* 0 stays "unreachable" */
}

typedef struct keyed {
    uint64_t hash;
    uint32_t node;
} keyed_t;

static int by_hash(const void *a, const void *b)
{
    const keyed_t *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->node < y->node ? -1 : x->node > y->node;
}

static int by_retained(const void *a, const void *b)
{
    const msc_heap_path_group_t *x = a, *y = b;
    if (x->retained != y->retained) return x->retained < y->retained ? 1 : -1;
    return x->count < y->count ? 1 : x->count > y->count ? -1 : 0;
}

/* top[v]: v is in the set and no other member dominates it, so its retained
 * size adds to the group's without counting anything twice. The dominator
 * preorder visits a node's immediate dominator before the node. */
static uint8_t *undominated_members(const msc_heap_t *h, const msc_heap_dom_t *d,
                                    const uint32_t *nodes, uint32_t count)
{
    uint8_t *state = msc_calloc(h->node_count, 1); /* bit 0 member, bit 1 below a member */
    if (!state) return NULL;
    for (uint32_t i = 0; i < count; i++) state[nodes[i]] |= 1;
    for (uint32_t i = 0; i < d->reachable; i++) {
        uint32_t v = d->order[i], up = d->idom[v];
        if (v != 0 && up != UINT32_MAX && (state[up] & 3)) state[v] |= 2;
    }
    return state;
}

int msc_heap_merge_paths(const msc_heap_t *h, const msc_heap_paths_t *p, const msc_heap_dom_t *d,
                         const uint32_t *nodes, uint32_t count, msc_heap_path_groups_t *out)
{
    out->groups = NULL;
    out->n = 0;
    keyed_t *keys = msc_malloc(((size_t)count + 1) * sizeof(*keys));
    uint8_t *state = undominated_members(h, d, nodes, count);
    out->groups = msc_malloc(((size_t)count + 1) * sizeof(*out->groups));
    if (!keys || !state || !out->groups) {
        msc_free(keys);
        msc_free(state);
        msc_heap_path_groups_release(out);
        return MSC_ENOMEM;
    }
    for (uint32_t i = 0; i < count; i++) keys[i] = (keyed_t){path_hash(h, p, nodes[i]), nodes[i]};
    qsort(keys, count, sizeof(*keys), by_hash);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t v = keys[i].node;
        if (i == 0 || keys[i].hash != keys[i - 1].hash)
            out->groups[out->n++] = (msc_heap_path_group_t){v, 0, 0, 0};
        msc_heap_path_group_t *g = &out->groups[out->n - 1];
        g->count++;
        g->bytes += h->size[v];
        if (!(state[v] & 2) && d->idom[v] != UINT32_MAX) g->retained += d->retained[v];
    }
    qsort(out->groups, out->n, sizeof(*out->groups), by_retained);
    msc_free(keys);
    msc_free(state);
    return 0;
}

void msc_heap_path_groups_release(msc_heap_path_groups_t *g)
{
    msc_free(g->groups);
    g->groups = NULL;
    g->n = 0;
}

/* Whether type t's display name (msc_heap_type_name: "module.Name", or
 * "Name" for builtins), or its last dotted part, is target. Compared in
 * place, so names of any length are found. */
static int type_matches(const msc_heap_t *h, uint32_t t, const char *target)
{
    size_t mlen, nlen, tlen = strlen(target);
    const char *name = msc_heap_string(h, h->types[t].name, &nlen);
    const char *module = msc_heap_string(h, h->types[t].module, &mlen);
    int builtin = mlen == 0 || strcmp(module, "builtins") == 0;
    if (builtin && strcmp(name, target) == 0) return 1;
    if (!builtin && tlen == mlen + 1 + nlen && memcmp(target, module, mlen) == 0 &&
        target[mlen] == '.' && strcmp(target + mlen + 1, name) == 0)
        return 1;
    const char *dot = strrchr(name, '.');
    if (dot) return strcmp(dot + 1, target) == 0;
    return !builtin ? strcmp(name, target) == 0 : 0;
}

static uint8_t *matching_types(const msc_heap_t *h, const char *name)
{
    uint8_t *match = msc_calloc(h->type_count ? h->type_count : 1, 1);
    for (uint32_t t = 0; match && t < h->type_count; t++) match[t] = type_matches(h, t, name);
    return match;
}

uint32_t *msc_heap_find_type(const msc_heap_t *h, const char *name, uint32_t *count)
{
    uint8_t *match = matching_types(h, name);
    uint32_t *out = NULL;
    *count = 0;
    if (!match) return NULL;
    for (uint32_t v = 1; v < h->node_count; v++)
        *count += match[h->type[v]] && msc_heap_is_object(h, v);
    out = msc_malloc(((size_t)*count + 1) * sizeof(uint32_t));
    *count = 0;
    for (uint32_t v = 1; out && v < h->node_count; v++)
        if (match[h->type[v]] && msc_heap_is_object(h, v)) out[(*count)++] = v;
    msc_free(match);
    return out;
}

static int is_shared(const msc_heap_t *h, uint32_t v)
{
    return type_is(h, v, "module") || type_is(h, v, "type") || v == 0;
}

/* Whether edge e leads into what a function or frame only points to: its
 * globals and builtins, shared with every other function of its module. */
static int is_namespace_edge(const msc_heap_t *h, uint64_t e)
{
    uint32_t label = h->edge_label[e];
    return msc_heap_label_is(h, label, "__class__") || msc_heap_label_is(h, label, "__globals__") ||
           msc_heap_label_is(h, label, "__builtins__");
}

/* Marks every module's namespace (its "__dict__") as seen but v's own, so
 * that a deep size enters no module's globals by any path, including a
 * generator's frame whose function holds them. */
static void mark_module_dicts(const msc_heap_t *h, uint32_t v, uint8_t *seen)
{
    for (uint32_t u = 1; u < h->node_count; u++) {
        if (!type_is(h, u, "module")) continue;
        for (uint64_t e = h->edge_start[u]; e < h->edge_start[u + 1]; e++)
            if (h->edge_to[e] != v && msc_heap_label_is(h, h->edge_label[e], "__dict__"))
                seen[h->edge_to[e]] = 1;
    }
}

uint64_t msc_heap_deep_size(const msc_heap_t *h, uint32_t v, uint8_t *seen, uint32_t *queue)
{
    size_t head = 0, tail = 0;
    uint64_t total = 0;
    memset(seen, 0, h->node_count);
    mark_module_dicts(h, v, seen);
    seen[v] = 1;
    queue[tail++] = v;
    while (head < tail) {
        uint32_t u = queue[head++];
        total += h->size[u];
        for (uint64_t e = h->edge_start[u]; e < h->edge_start[u + 1]; e++) {
            uint32_t t = h->edge_to[e];
            if (seen[t] || is_shared(h, t) || is_namespace_edge(h, e)) continue;
            seen[t] = 1;
            queue[tail++] = t;
        }
    }
    return total;
}
