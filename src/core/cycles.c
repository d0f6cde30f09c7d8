/* Reference cycles in a heap snapshot: what the cyclic collector would
 * free, found the way the collector finds it (unreached objects whose
 * reference counts are all explained by references from other unreached
 * objects), split into strongly connected components (Tarjan, iterative),
 * grouped by the kinds of objects in each, and for each group the one
 * named reference which, made weak, leaves no cycle: the parent/child
 * advice of making child.parent a weakref.ref. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "memscope/heapanalysis.h"
#include "heapint.h"

#define NONE UINT32_MAX
#define MAX_KINDS 8                /* kinds named in a group's signature */
#define MAX_CANDIDATES 64          /* names tried as the reference to weaken */

typedef struct scan {
    const msc_heap_t *h;
    uint32_t *owners;          /* dict -> the object whose __dict__ it is */
    uint32_t dict_type;        /* builtins.dict's type index (msc__heap_dict_type) */
    uint8_t *garbage;          /* per node: the collector would free it */
    uint32_t *comp;            /* per node: component, NONE outside garbage */
    uint32_t *start, *member;  /* component -> members, CSR */
    uint32_t comp_count;
    uint8_t *color;            /* scratch for the acyclicity test */
    uint32_t *stack;           /* scratch, node_count long */
    uint64_t *cursor;          /* scratch, node_count long */
} scan_t;

/* Marks everything reachable from the queued nodes; returns the new tail. */
static size_t flood(const msc_heap_t *h, uint8_t *mark, uint32_t *queue, size_t head, size_t tail)
{
    while (head < tail) {
        uint32_t u = queue[head++];
        for (uint64_t e = h->edge_start[u]; e < h->edge_start[u + 1]; e++) {
            uint32_t t = h->edge_to[e];
            if (!mark[t]) mark[t] = 1, queue[tail++] = t;
        }
    }
    return tail;
}

/* Garbage: not reached from a real root (the walker's "gc (no root
 * reaches it)" edges are not real roots), and not reached from an
 * unreached object that something outside the snapshot holds. That test
 * is the collector's (references left over once the unreached objects'
 * references to each other are subtracted), applied to untracked objects
 * too: a static type held by C code keeps its dict alive just the same. */
static int mark_garbage(scan_t *s)
{
    const msc_heap_t *h = s->h;
    uint32_t *inref = msc_calloc(h->node_count, sizeof(uint32_t));
    if (!inref) return MSC_ENOMEM;
    uint8_t *live = s->garbage; /* filled as "live", inverted at the end */
    uint32_t *queue = s->stack;
    size_t tail = 0;
    live[0] = 1;
    for (uint64_t e = h->edge_start[0]; e < h->edge_start[1]; e++)
        if (!msc_heap_label_is(h, h->edge_label[e], "gc (no root reaches it)") &&
            !live[h->edge_to[e]])
            live[h->edge_to[e]] = 1, queue[tail++] = h->edge_to[e];
    tail = flood(h, live, queue, 0, tail);
    for (uint32_t u = 1; u < h->node_count; u++)
        for (uint64_t e = h->edge_start[u]; !live[u] && e < h->edge_start[u + 1]; e++)
            inref[h->edge_to[e]]++;
    size_t held = tail;
    for (uint32_t v = 1; v < h->node_count; v++)
        if (!live[v] && !(h->flags[v] & MSC_HEAP_SYNTHETIC) && h->refcnt[v] > inref[v])
            live[v] = 1, queue[tail++] = v;
    flood(h, live, queue, held, tail);
    for (uint32_t v = 0; v < h->node_count; v++) live[v] = !live[v];
    msc_free(inref);
    return 0;
}

/* Tarjan's strongly connected components over the garbage, iterative:
 * stack holds the DFS path, member the component stack. */
static void components(scan_t *s, uint32_t *index, uint32_t *low)
{
    const msc_heap_t *h = s->h;
    uint32_t next = 0, depth = 0, top = 0, *path = s->stack, *pending = s->member;
    for (uint32_t root = 1; root < h->node_count; root++) {
        if (!s->garbage[root] || index[root] != NONE) continue;
        index[root] = low[root] = next++;
        pending[top++] = root;
        path[depth] = root;
        s->cursor[depth++] = h->edge_start[root];
        while (depth) {
            uint32_t u = path[depth - 1];
            if (s->cursor[depth - 1] < h->edge_start[u + 1]) {
                uint32_t t = h->edge_to[s->cursor[depth - 1]++];
                if (!s->garbage[t]) continue;
                if (index[t] == NONE) {
                    index[t] = low[t] = next++;
                    pending[top++] = t;
                    path[depth] = t;
                    s->cursor[depth++] = h->edge_start[t];
                } else if (s->comp[t] == NONE && index[t] < low[u]) {
                    low[u] = index[t];
                }
                continue;
            }
            if (--depth && low[u] < low[path[depth - 1]]) low[path[depth - 1]] = low[u];
            if (low[u] != index[u]) continue;
            uint32_t x;
            do s->comp[x = pending[--top]] = s->comp_count;
            while (x != u);
            s->comp_count++;
        }
    }
}

/* Components as member lists (CSR), after components() has numbered them. */
static int group_members(scan_t *s)
{
    const msc_heap_t *h = s->h;
    s->start = msc_calloc((size_t)s->comp_count + 2, sizeof(uint32_t));
    if (!s->start) return MSC_ENOMEM;
    for (uint32_t v = 0; v < h->node_count; v++)
        if (s->comp[v] != NONE) s->start[s->comp[v] + 2]++;
    for (uint32_t c = 0; c < s->comp_count; c++) s->start[c + 2] += s->start[c + 1];
    for (uint32_t v = 0; v < h->node_count; v++)
        if (s->comp[v] != NONE) s->member[s->start[s->comp[v] + 1]++] = v;
    return 0;
}

static int is_cycle(const scan_t *s, uint32_t c)
{
    const msc_heap_t *h = s->h;
    if (s->start[c + 1] - s->start[c] > 1) return 1;
    uint32_t v = s->member[s->start[c]];
    for (uint64_t e = h->edge_start[v]; e < h->edge_start[v + 1]; e++)
        if (h->edge_to[e] == v) return 1;
    return 0;
}

/* The kind key of v as partitions count it (heappart.c). */
static uint64_t kind_key(const scan_t *s, uint32_t v)
{
    return msc__heap_kind_key(s->h, s->owners, s->dict_type, v);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* "kind, kind, ..." of component c's members, sorted by kind key, unique. */
static char *signature(const scan_t *s, uint32_t c, uint64_t *keys)
{
    uint32_t n = 0, end = s->start[c + 1];
    for (uint32_t i = s->start[c]; i < end; i++) keys[n++] = kind_key(s, s->member[i]);
    qsort(keys, n, sizeof(*keys), cmp_u64);
    char buf[MAX_KINDS * 200 + 16], name[400];
    size_t len = 0, kinds = 0;
    buf[0] = 0;
    for (uint32_t i = 0; i < n && len < sizeof(buf) - 8; i++) {
        if (i && keys[i] == keys[i - 1]) continue;
        if (kinds++ == MAX_KINDS) {
            len += (size_t)snprintf(buf + len, sizeof(buf) - len, ", ...");
            break;
        }
        msc__heap_kind_name(s->h, keys[i], name, sizeof(name));
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", kinds > 1 ? ", " : "", name);
    }
    return msc_strdup(buf);
}

/* A named reference inside a cycle: the attribute `label` of objects of
 * type `owner` (through their __dict__ or a slot), or a key of plain dicts
 * (owner NONE). */
typedef struct candidate {
    uint32_t owner;
    uint32_t label;
    uint32_t refs;             /* edges of this name inside the component */
    int weakrefable;           /* every target is an instance of a class */
} candidate_t;

/* The owner type of edge source u, or NONE for a plain dict. */
static uint32_t owner_type(const scan_t *s, uint32_t u)
{
    if (s->h->type[u] != s->dict_type) return s->h->type[u];
    return s->owners[u] == NONE ? NONE : s->h->type[s->owners[u]];
}

/* Labels a programmer can turn into a weak reference: names, not list
 * indices, not the walker's structural edges ("__dict__", "<key>"). */
static int nameable(const msc_heap_t *h, uint32_t label)
{
    if (label == 0 || (label & MSC_HEAP_LABEL_INDEX)) return 0;
    const char *name = msc_heap_string(h, label, NULL);
    return name[0] != '<' && name[0] != '[' && strcmp(name, "__dict__") != 0 &&
           strcmp(name, "__class__") != 0;
}

static int instance(const msc_heap_t *h, uint32_t v)
{
    const char *module = msc_heap_string(h, h->types[h->type[v]].module, NULL);
    return !(h->flags[v] & MSC_HEAP_SYNTHETIC) && module[0] && strcmp(module, "builtins") != 0;
}

static int matches(const scan_t *s, const candidate_t *k, uint32_t u, uint64_t e)
{
    return s->h->edge_label[e] == k->label && owner_type(s, u) == k->owner;
}

static size_t collect_candidates(const scan_t *s, uint32_t c, candidate_t *k)
{
    const msc_heap_t *h = s->h;
    size_t n = 0;
    for (uint32_t i = s->start[c]; i < s->start[c + 1]; i++) {
        uint32_t u = s->member[i];
        for (uint64_t e = h->edge_start[u]; e < h->edge_start[u + 1]; e++) {
            uint32_t t = h->edge_to[e];
            if (s->comp[t] != c || !nameable(h, h->edge_label[e])) continue;
            size_t j = 0;
            while (j < n && !matches(s, &k[j], u, e)) j++;
            if (j == n && n == MAX_CANDIDATES) continue;
            if (j == n) k[n++] = (candidate_t){owner_type(s, u), h->edge_label[e], 0, 1};
            k[j].refs++;
            k[j].weakrefable &= instance(h, t);
        }
    }
    return n;
}

/* Whether component c has no cycle once the edges named k are gone:
 * a depth-first search that meets no node still on its path. */
static int acyclic_without(scan_t *s, uint32_t c, const candidate_t *k)
{
    const msc_heap_t *h = s->h;
    for (uint32_t i = s->start[c]; i < s->start[c + 1]; i++) s->color[s->member[i]] = 0;
    for (uint32_t i = s->start[c]; i < s->start[c + 1]; i++) {
        uint32_t depth = 0, root = s->member[i];
        if (s->color[root]) continue;
        s->color[root] = 1;
        s->stack[depth] = root;
        s->cursor[depth++] = h->edge_start[root];
        while (depth) {
            uint32_t u = s->stack[depth - 1];
            uint64_t e = s->cursor[depth - 1]++;
            if (e == h->edge_start[u + 1]) {
                s->color[u] = 2;
                depth--;
                continue;
            }
            uint32_t t = h->edge_to[e];
            if (s->comp[t] != c || matches(s, k, u, e) || s->color[t] == 2) continue;
            if (s->color[t] == 1) return 0;
            s->color[t] = 1;
            s->stack[depth] = t;
            s->cursor[depth++] = h->edge_start[t];
        }
    }
    return 1;
}

/* Weak references first (a list or dict cannot be the target of one),
 * then the name with the fewest references: the smallest change. */
static int by_preference(const void *a, const void *b)
{
    const candidate_t *x = a, *y = b;
    if (x->weakrefable != y->weakrefable) return y->weakrefable - x->weakrefable;
    return (x->refs > y->refs) - (x->refs < y->refs);
}

static int advise(scan_t *s, uint32_t c, msc_heap_cycle_group_t *g)
{
    candidate_t k[MAX_CANDIDATES];
    size_t n = collect_candidates(s, c, k);
    qsort(k, n, sizeof(*k), by_preference);
    for (size_t i = 0; i < n; i++) {
        if (!acyclic_without(s, c, &k[i])) continue;
        char name[600], type[400];
        const char *label = msc_heap_string(s->h, k[i].label, NULL);
        if (k[i].owner == NONE) snprintf(name, sizeof(name), "dict['%s']", label);
        else
            snprintf(name, sizeof(name), "%s.%s",
                     msc_heap_type_name(s->h, k[i].owner, type, sizeof(type)), label);
        g->weaken = msc_strdup(name);
        g->weaken_refs = k[i].refs;
        g->weakrefable = k[i].weakrefable;
        return g->weaken ? 0 : MSC_ENOMEM;
    }
    return 0;
}

typedef struct found {
    char *kinds;               /* owned until moved into a group */
    uint32_t comp;
    uint32_t objects;
    uint64_t bytes;
} found_t;

static int by_kinds(const void *a, const void *b)
{
    const found_t *x = a, *y = b;
    int k = strcmp(x->kinds, y->kinds);
    return k ? k : (x->objects < y->objects) - (x->objects > y->objects);
}

static int by_bytes(const void *a, const void *b)
{
    const msc_heap_cycle_group_t *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return strcmp(x->kinds, y->kinds);
}

/* The cyclic components with their signatures; *n of them. */
static found_t *find_cycles(scan_t *s, size_t *n)
{
    uint64_t *keys = msc_malloc(((size_t)s->h->node_count + 1) * sizeof(uint64_t));
    found_t *f = msc_malloc(((size_t)s->comp_count + 1) * sizeof(found_t));
    *n = 0;
    for (uint32_t c = 0; keys && f && c < s->comp_count; c++) {
        if (!is_cycle(s, c)) continue;
        found_t x = {signature(s, c, keys), c, 0, 0};
        if (!x.kinds) goto fail;
        for (uint32_t i = s->start[c]; i < s->start[c + 1]; i++) {
            x.objects += msc_heap_is_object(s->h, s->member[i]);
            x.bytes += s->h->size[s->member[i]];
        }
        f[(*n)++] = x;
    }
    if (keys && f) {
        msc_free(keys);
        return f;
    }
fail:
    for (size_t i = 0; f && i < *n; i++) msc_free(f[i].kinds);
    msc_free(f);
    msc_free(keys);
    return NULL;
}

/* The allocation site most members of the components f[0..n) that have a
 * site share (Boyer-Moore majority vote, then a count). */
static void group_site(const scan_t *s, const found_t *f, size_t n, msc_heap_cycle_group_t *g)
{
    const uint32_t *site = s->h->site;
    uint32_t best = 0;
    uint64_t votes = 0;
    for (size_t j = 0; site && j < n; j++) {
        for (uint32_t i = s->start[f[j].comp]; i < s->start[f[j].comp + 1]; i++) {
            uint32_t x = site[s->member[i]];
            if (!x) continue;
            if (!votes) best = x;
            votes = x == best ? votes + 1 : votes - 1;
        }
    }
    for (size_t j = 0; best && j < n; j++)
        for (uint32_t i = s->start[f[j].comp]; i < s->start[f[j].comp + 1]; i++)
            g->site_count += site[s->member[i]] == best;
    g->site = g->site_count ? best : 0;
}

/* The bytes of the components f[0..n) and of the garbage they reach that
 * no group before claimed: what goes once their cycles are broken. */
static uint64_t freed_bytes(const scan_t *s, const found_t *f, size_t n, uint8_t *claimed,
                            uint32_t *queue)
{
    const msc_heap_t *h = s->h;
    size_t head = 0, tail = 0;
    uint64_t bytes = 0;
    for (size_t j = 0; j < n; j++)
        for (uint32_t i = s->start[f[j].comp]; i < s->start[f[j].comp + 1]; i++)
            if (!claimed[s->member[i]]) claimed[s->member[i]] = 1, queue[tail++] = s->member[i];
    while (head < tail) {
        uint32_t u = queue[head++];
        bytes += h->size[u];
        for (uint64_t e = h->edge_start[u]; e < h->edge_start[u + 1]; e++) {
            uint32_t t = h->edge_to[e];
            if (s->garbage[t] && !claimed[t]) claimed[t] = 1, queue[tail++] = t;
        }
    }
    return bytes;
}

/* Merges runs of equal signatures (f sorted by kinds, largest first). */
static int make_groups(scan_t *s, found_t *f, size_t n, msc_heap_cycles_t *c)
{
    uint8_t *claimed = msc_calloc(s->h->node_count, 1);
    uint32_t *queue = msc_malloc((size_t)s->h->node_count * sizeof(uint32_t));
    c->groups = msc_calloc(n + 1, sizeof(*c->groups));
    int rc = claimed && queue && c->groups ? 0 : MSC_ENOMEM;
    for (size_t i = 0, j; rc == 0 && i < n; i = j) {
        msc_heap_cycle_group_t *g = &c->groups[c->len++];
        g->kinds = f[i].kinds;
        f[i].kinds = NULL;
        g->example = s->member[s->start[f[i].comp]];
        for (j = i; j < n && (j == i || strcmp(f[j].kinds, g->kinds) == 0); j++) {
            g->cycles++;
            g->objects += f[j].objects;
            g->bytes += f[j].bytes;
        }
        c->cycle_count += g->cycles;
        group_site(s, f + i, j - i, g);
        g->freed_bytes = freed_bytes(s, f + i, j - i, claimed, queue);
        if (advise(s, f[i].comp, g) < 0) rc = MSC_ENOMEM;
    }
    msc_free(claimed);
    msc_free(queue);
    if (rc == 0) qsort(c->groups, c->len, sizeof(*c->groups), by_bytes);
    return rc;
}

static void scan_release(scan_t *s)
{
    msc_free(s->owners);
    msc_free(s->garbage);
    msc_free(s->comp);
    msc_free(s->start);
    msc_free(s->member);
    msc_free(s->color);
    msc_free(s->stack);
    msc_free(s->cursor);
}

static int scan(scan_t *s, msc_heap_cycles_t *c)
{
    const msc_heap_t *h = s->h;
    size_t n = h->node_count;
    uint32_t *index = msc_malloc(n * sizeof(uint32_t)), *low = msc_malloc(n * sizeof(uint32_t));
    int rc = MSC_ENOMEM;
    if (!index || !low || mark_garbage(s) < 0) goto done;
    memset(index, 0xFF, n * sizeof(uint32_t));
    memset(s->comp, 0xFF, n * sizeof(uint32_t));
    components(s, index, low);
    if (group_members(s) < 0) goto done;
    for (uint32_t v = 1; v < h->node_count; v++) {
        c->garbage_objects += s->garbage[v] && msc_heap_is_object(h, v);
        c->garbage_bytes += s->garbage[v] ? h->size[v] : 0;
    }
    size_t found = 0;
    found_t *f = find_cycles(s, &found);
    if (!f) goto done;
    qsort(f, found, sizeof(*f), by_kinds);
    rc = make_groups(s, f, found, c);
    for (size_t i = 0; i < found; i++) msc_free(f[i].kinds);
    msc_free(f);
done:
    msc_free(index);
    msc_free(low);
    return rc;
}

int msc_heap_cycles(const msc_heap_t *h, msc_heap_cycles_t *c)
{
    size_t n = h->node_count;
    scan_t s = {h,
                msc_heap_dict_owners(h),
                msc__heap_dict_type(h),
                msc_calloc(n, 1),
                msc_malloc(n * sizeof(uint32_t)),
                NULL,
                msc_malloc(n * sizeof(uint32_t)),
                0,
                msc_calloc(n, 1),
                msc_malloc(n * sizeof(uint32_t)),
                msc_malloc(n * sizeof(uint64_t))};
    memset(c, 0, sizeof(*c));
    int rc = MSC_ENOMEM;
    if (s.owners && s.garbage && s.comp && s.member && s.color && s.stack && s.cursor)
        rc = scan(&s, c);
    scan_release(&s);
    if (rc < 0) msc_heap_cycles_release(c);
    return rc;
}

void msc_heap_cycles_release(msc_heap_cycles_t *c)
{
    for (size_t i = 0; c->groups && i < c->len; i++) {
        msc_free(c->groups[i].kinds);
        msc_free(c->groups[i].weaken);
    }
    msc_free(c->groups);
    memset(c, 0, sizeof(*c));
}
