/* Who keeps memory alive: the retained-size report (leak suspects, types
 * and objects retaining the most, each with its path from a root and, when
 * the snapshot was taken while recording, the line that allocated it) and
 * the reference chain to one object (objgraph's find_backref_chain). */
#include <stdlib.h>
#include <string.h>

#include "memscope/heap.h"
#include "report.h"

#define SUSPECT_SHARE 10 /* percent of the heap that makes an object or type a suspect */

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Previews are program data: anything not printable ASCII (NUL, escapes
 * that would drive the terminal) is shown as \xNN. UTF-8 text is kept. */
void msc__heap_escape(const char *s, size_t len, char *out, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 5 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F || c == '\'')
            k += (size_t)snprintf(out + k, n - k, "\\x%02x", c);
        else out[k++] = (char)c;
    }
    out[k] = 0;
}

const char *msc_heap_describe(const msc_heap_t *h, uint32_t v, char *buf, size_t n)
{
    char type[400], preview[4 * MSC_HEAP_MAX_PREVIEW + 200];
    size_t plen;
    const char *raw = msc_heap_string(h, h->preview[v], &plen);
    msc__heap_escape(raw, plen, preview, sizeof(preview));
    msc_heap_type_name(h, h->type[v], type, sizeof(type));
    if (v == 0) snprintf(buf, n, "<roots>");
    else if (plen) snprintf(buf, n, "%s at 0x%llx '%s'", type, (unsigned long long)h->addr[v],
                            preview);
    else snprintf(buf, n, "%s at 0x%llx", type, (unsigned long long)h->addr[v]);
    return buf;
}

typedef struct ranked {
    uint64_t key;
    uint32_t id;
} ranked_t;

/* "allocated at file:line in function" under an entry, when known. */
static void write_site(FILE *out, const msc_heap_t *h, uint32_t v, const char *indent,
                       const char *what)
{
    if (h->site && h->site[v])
        fprintf(out, "%s%sallocated at %s\n", indent, what, msc_heap_string(h, h->site[v], NULL));
}

/* A suspect's own site, or else (CPython recycles dicts and lists without
 * the allocator seeing it) that of the nearest object dominating it. */
static void write_holder_site(FILE *out, const msc_heap_t *h, const msc_heap_dom_t *d, uint32_t v)
{
    char what[600], via[700];
    uint32_t x = v;
    while (h->site && x != 0 && x != UINT32_MAX && !h->site[x]) x = d->idom[x];
    if (x == v || x == 0 || x == UINT32_MAX) {
        write_site(out, h, v, "     ", "");
        return;
    }
    snprintf(via, sizeof(via), "held by %s, ", msc_heap_describe(h, x, what, sizeof(what)));
    write_site(out, h, x, "     ", via);
}

/* The site most members of a suspect group share (Boyer-Moore majority
 * vote, then a count), printed with how many of them it allocated. */
static void write_group_site(FILE *out, const msc_heap_t *h, const ranked_t *g, uint32_t n)
{
    uint32_t best = 0, votes = 0, count = 0;
    if (!h->site) return;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = h->site[g[i].id];
        if (!votes) best = s;
        votes += s == best ? 1 : (uint32_t)-1;
    }
    for (uint32_t i = 0; i < n; i++) count += best && h->site[g[i].id] == best;
    if (count)
        fprintf(out, "     %u of them allocated at %s\n", count, msc_heap_string(h, best, NULL));
}

static uint64_t heap_bytes(const msc_heap_t *h)
{
    uint64_t total = 0;
    for (uint32_t v = 1; v < h->node_count; v++) total += msc_heap_is_object(h, v) ? h->size[v] : 0;
    return total;
}

/* Objects retaining >= 10% none of whose dominated children does: the
 * point where the memory accumulates, not the chain above it. */
static void write_suspect_objects(FILE *out, const msc_heap_t *h, const msc_heap_dom_t *d,
                                  const msc_heap_paths_t *p, uint64_t total, int *found)
{
    uint64_t bar = total * SUSPECT_SHARE / 100;
    uint8_t *big_child = msc_calloc(h->node_count, 1);
    if (!big_child) return;
    for (uint32_t i = 1; i < d->reachable; i++) {
        uint32_t v = d->order[i];
        if (d->retained[v] >= bar && msc_heap_is_object(h, v)) big_child[d->idom[v]] = 1;
    }
    for (uint32_t i = 1; i < d->reachable; i++) {
        uint32_t v = d->order[i];
        if (d->retained[v] < bar || big_child[v] || !msc_heap_is_object(h, v)) continue;
        char what[600], path[2048];
        fprintf(out, "  %d. %s retains %llu bytes (%.1f%% of the heap)\n     reached as %s\n",
                ++*found, msc_heap_describe(h, v, what, sizeof(what)),
                (unsigned long long)d->retained[v], pct(d->retained[v], total),
                msc_heap_path_text(h, p, v, path, sizeof(path)));
        write_holder_site(out, h, d, v);
    }
    msc_free(big_child);
}


static int by_key(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    return x->key != y->key ? (x->key < y->key ? 1 : -1) : (x->id > y->id) - (x->id < y->id);
}

/* Many objects of one type held by one object (a cache, a registry):
 * grouped by (type, immediate dominator), a group retaining >= 10% is a
 * suspect even when each of its objects is small. */
static int write_suspect_groups(FILE *out, const msc_heap_t *h, const msc_heap_dom_t *d,
                                const msc_heap_paths_t *p, uint64_t total, int *found)
{
    ranked_t *g = msc_malloc((size_t)h->node_count * sizeof(ranked_t));
    if (!g) return MSC_ENOMEM;
    uint32_t n = 0;
    for (uint32_t v = 1; v < h->node_count; v++)
        if (msc_heap_is_object(h, v) && d->idom[v] != UINT32_MAX && d->idom[v] != 0)
            g[n++] = (ranked_t){0, v};
    for (uint32_t i = 0; i < n; i++) g[i].key = (uint64_t)h->type[g[i].id] << 32 | d->idom[g[i].id];
    qsort(g, n, sizeof(*g), by_key);
    for (uint32_t i = 0, j; i < n; i = j) {
        uint64_t sum = 0;
        for (j = i; j < n && g[j].key == g[i].key; j++) sum += d->retained[g[j].id];
        if (j - i < 2 || sum < total * SUSPECT_SHARE / 100) continue;
        char type[400], holder[600], path[2048];
        uint32_t dom = d->idom[g[i].id];
        fprintf(out, "  %d. %u %s objects held by %s retain %llu bytes (%.1f%% of the heap)\n"
                     "     reached as %s\n", ++*found, j - i,
                msc_heap_type_name(h, h->type[g[i].id], type, sizeof(type)),
                msc_heap_describe(h, dom, holder, sizeof(holder)), (unsigned long long)sum,
                pct(sum, total), msc_heap_path_text(h, p, dom, path, sizeof(path)));
        write_group_site(out, h, g + i, j - i);
        write_site(out, h, dom, "     ", "the holder was ");
    }
    msc_free(g);
    return 0;
}

static int write_types(FILE *out, const msc_heap_t *h, const msc_heap_dom_t *d, uint64_t total,
                       size_t limit)
{
    uint64_t *by_type = msc_malloc((size_t)h->type_count * sizeof(uint64_t) + 1);
    ranked_t *rank = msc_malloc((size_t)h->type_count * sizeof(ranked_t) + 1);
    uint64_t *count = msc_calloc(h->type_count + 1, sizeof(uint64_t));
    int rc = MSC_ENOMEM;
    if (!by_type || !rank || !count || msc_heap_type_retained(h, d, by_type) < 0) goto done;
    for (uint32_t v = 1; v < h->node_count; v++) count[h->type[v]] += msc_heap_is_object(h, v);
    for (uint32_t t = 0; t < h->type_count; t++) rank[t] = (ranked_t){by_type[t], t};
    qsort(rank, h->type_count, sizeof(*rank), by_key);
    char name[400];
    fprintf(out, "\nTypes retaining the most:\n    Retained      %%    Count  Type\n");
    for (uint32_t t = 0; t < h->type_count && t < limit && rank[t].key; t++)
        fprintf(out, "%12llu %6.1f %8llu  %s\n", (unsigned long long)rank[t].key,
                pct(rank[t].key, total), (unsigned long long)count[rank[t].id],
                msc_heap_type_name(h, rank[t].id, name, sizeof(name)));
    rc = 0;
done:
    msc_free(by_type);
    msc_free(rank);
    msc_free(count);
    return rc;
}

static int write_objects(FILE *out, const msc_heap_t *h, const msc_heap_dom_t *d,
                         const msc_heap_paths_t *p, uint64_t total, size_t limit)
{
    ranked_t *rank = msc_malloc((size_t)h->node_count * sizeof(ranked_t));
    if (!rank) return MSC_ENOMEM;
    uint32_t n = 0;
    for (uint32_t v = 1; v < h->node_count; v++)
        if (msc_heap_is_object(h, v) && d->idom[v] != UINT32_MAX) rank[n++] = (ranked_t){d->retained[v], v};
    qsort(rank, n, sizeof(*rank), by_key);
    fprintf(out, "\nObjects retaining the most:\n    Retained      %%       Size  Object / path\n");
    for (uint32_t i = 0; i < n && i < limit; i++) {
        char what[600], path[2048];
        uint32_t v = rank[i].id;
        fprintf(out, "%12llu %6.1f %10llu  %s\n%32s%s\n", (unsigned long long)rank[i].key,
                pct(rank[i].key, total), (unsigned long long)h->size[v],
                msc_heap_describe(h, v, what, sizeof(what)), "",
                msc_heap_path_text(h, p, v, path, sizeof(path)));
        write_site(out, h, v, "                                ", "");
    }
    msc_free(rank);
    return 0;
}

int msc_heap_write_retained(FILE *out, const msc_heap_t *h, const msc_heap_dom_t *d,
                            const msc_heap_paths_t *p, size_t limit)
{
    uint64_t total = heap_bytes(h);
    int found = 0;
    fprintf(out, "Heap: %llu bytes in %u nodes.\n\nLeak suspects (retaining >= %d%% of the heap):\n",
            (unsigned long long)total, h->node_count - 1, SUSPECT_SHARE);
    write_suspect_objects(out, h, d, p, total, &found);
    if (write_suspect_groups(out, h, d, p, total, &found) < 0) return MSC_ENOMEM;
    if (!found) fprintf(out, "  none: nothing retains %d%% of the heap\n", SUSPECT_SHARE);
    if (write_types(out, h, d, total, limit) < 0) return MSC_ENOMEM;
    if (write_objects(out, h, d, p, total, limit) < 0) return MSC_ENOMEM;
    return ferror(out) ? MSC_EIO : 0;
}

int msc_heap_write_path(FILE *out, const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t v)
{
    uint32_t steps[4096];
    size_t count = 0;
    char what[600], label[300], path[2048];
    if (p->parent[v] == UINT32_MAX) {
        fprintf(out, "%s: no path from a root\n", msc_heap_describe(h, v, what, sizeof(what)));
        return ferror(out) ? MSC_EIO : 0;
    }
    for (uint32_t x = v; x != 0 && count < 4096; x = p->parent[x]) steps[count++] = x;
    fprintf(out, "%s\n", msc_heap_path_text(h, p, v, path, sizeof(path)));
    fprintf(out, "  <roots>\n");
    for (size_t i = count; i-- > 0;) {
        uint32_t x = steps[i];
        fprintf(out, "  %-28s %s\n", msc_heap_label_text(h, p->parent[x], p->label[x], label,
                                                         sizeof(label)),
                msc_heap_describe(h, x, what, sizeof(what)));
    }
    return ferror(out) ? MSC_EIO : 0;
}
