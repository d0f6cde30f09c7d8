/* Who keeps memory alive: the retained-size report (leak suspects, types
 * and objects retaining the most, each with its path from a root and, when
 * the snapshot was taken while recording, the line that allocated it) and
 * the reference chain to one object (objgraph's find_backref_chain), as
 * text and as JSON. The findings are made once and rendered either way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memscope/heapreport.h"
#include "report.h"

#define SUSPECT_SHARE 10 /* percent of the heap that makes an object or type a suspect */

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

#define MAX_STEPS 4096 /* references a path shows; a longer one loses those nearest the root */

/* The nodes from v up to (not including) the root, v first: how many. */
static size_t path_steps(const msc_heap_paths_t *p, uint32_t v, uint32_t *steps)
{
    size_t count = 0;
    if (p->parent[v] == UINT32_MAX) return 0;
    for (uint32_t x = v; x != 0 && count < MAX_STEPS; x = p->parent[x]) steps[count++] = x;
    return count;
}

/* Previews are program data, shown between quotes. */
void msc__heap_escape(const char *s, size_t len, char *out, size_t n)
{
    msc__text_escape(s, len, out, n, '\'');
}

const char *msc_heap_describe(const msc_heap_t *h, uint32_t v, char *buf, size_t n)
{
    char name[400], type[MSC_TEXT_BUF], preview[4 * MSC_HEAP_MAX_PREVIEW + 200];
    size_t plen;
    const char *raw = msc_heap_string(h, h->preview[v], &plen);
    msc__heap_escape(raw, plen, preview, sizeof(preview));
    msc__text_in(msc_heap_type_name(h, h->type[v], name, sizeof(name)), type, sizeof(type));
    if (v == 0) snprintf(buf, n, "<roots>");
    else if (plen)
        snprintf(buf, n, "%s at 0x%llx '%s'", type, (unsigned long long)h->addr[v], preview);
    else snprintf(buf, n, "%s at 0x%llx", type, (unsigned long long)h->addr[v]);
    return buf;
}

typedef struct ranked {
    uint64_t key;
    uint32_t id;
} ranked_t;

/* A leak suspect: one object, or a group of objects of one type that one
 * holder dominates, with the allocation site that explains it best. */
typedef struct suspect {
    uint32_t node;             /* the object, or the group's holder */
    uint32_t type;             /* the members' type; UINT32_MAX for one object */
    uint32_t count;            /* members (1 for one object) */
    uint64_t retained;
    uint32_t site_node;        /* one object: the node whose site is shown (itself or the
                                  nearest holder that has one), UINT32_MAX none */
    uint32_t holder_node;      /* one list or dict with a site of its own (its storage's):
                                  the nearest holder with a site too, UINT32_MAX none */
    uint32_t site;             /* a group: string id of its members' commonest site */
    uint32_t site_count;       /* a group: members allocated there */
} suspect_t;

/* Everything the retained report shows, found once for both renderings. */
typedef struct findings {
    uint64_t total;            /* bytes of all objects */
    suspect_t *suspects;
    size_t suspect_count;
    ranked_t *types;           /* by retained bytes; key 0 ends the useful part */
    uint64_t *type_count;      /* objects per type */
    ranked_t *objects;         /* reachable objects by retained bytes */
    uint32_t object_count;
} findings_t;

static uint64_t heap_bytes(const msc_heap_t *h)
{
    uint64_t total = 0;
    for (uint32_t v = 1; v < h->node_count; v++) total += msc_heap_has_bytes(h, v) ? h->size[v] : 0;
    return total;
}

static int add_suspect(findings_t *f, suspect_t s)
{
    if ((f->suspect_count & (f->suspect_count + 1)) == 0) {
        suspect_t *q = msc_realloc(f->suspects, (f->suspect_count * 2 + 1) * sizeof(*q));
        if (!q) return MSC_ENOMEM;
        f->suspects = q;
    }
    f->suspects[f->suspect_count++] = s;
    return 0;
}

/* The nearest object from v up its dominators (v included) that has a
 * site, UINT32_MAX none. */
static uint32_t holder_with_site(const msc_heap_t *h, const msc_heap_dom_t *d, uint32_t v)
{
    uint32_t x = v;
    while (h->site && x != 0 && x != UINT32_MAX && !h->site[x]) x = d->idom[x];
    return h->site && x != 0 && x != UINT32_MAX ? x : UINT32_MAX;
}

/* Whether node v is an exact builtin list or dict, whose site is where
 * its storage (item array, hash table) was last allocated: CPython
 * recycles the objects themselves without the allocator seeing it. */
static int site_is_storage(const msc_heap_t *h, uint32_t v)
{
    const msc_heap_type_t *t = &h->types[h->type[v]];
    const char *name = msc_heap_string(h, t->name, NULL);
    return strcmp(msc_heap_string(h, t->module, NULL), "builtins") == 0 &&
           (strcmp(name, "list") == 0 || strcmp(name, "dict") == 0);
}

/* A suspect's own site, or else that of the nearest object dominating it;
 * for a list or dict with a site (its storage's), that holder's as well:
 * who made the container, next to what filled it. */
static suspect_t one_suspect(const msc_heap_t *h, const msc_heap_dom_t *d, uint32_t v)
{
    suspect_t s = {v, UINT32_MAX, 1, d->retained[v], holder_with_site(h, d, v), UINT32_MAX, 0, 0};
    if (s.site_node == v && site_is_storage(h, v))
        s.holder_node = holder_with_site(h, d, d->idom[v]);
    return s;
}

/* Objects retaining >= 10% none of whose dominated children does: the
 * point where the memory accumulates, not the chain above it. */
static int find_suspect_objects(const msc_heap_t *h, const msc_heap_dom_t *d, findings_t *f)
{
    uint64_t bar = f->total * SUSPECT_SHARE / 100;
    uint8_t *big_child = msc_calloc(h->node_count, 1);
    if (!big_child) return MSC_ENOMEM;
    for (uint32_t i = 1; i < d->reachable; i++) {
        uint32_t v = d->order[i];
        /* An instance's inline values are no suspect of their own, but
         * what they hold is its instance's big child. */
        if (d->retained[v] >= bar && msc_heap_has_bytes(h, v)) big_child[d->idom[v]] = 1;
    }
    int rc = 0;
    for (uint32_t i = 1; i < d->reachable && rc == 0; i++) {
        uint32_t v = d->order[i];
        if (d->retained[v] < bar || big_child[v] || !msc_heap_is_object(h, v)) continue;
        rc = add_suspect(f, one_suspect(h, d, v));
    }
    msc_free(big_child);
    return rc;
}

static int by_key(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    return x->key != y->key ? (x->key < y->key ? 1 : -1) : (x->id > y->id) - (x->id < y->id);
}

/* The site most members of a group share (Boyer-Moore majority vote, then
 * a count). */
static void group_site(const msc_heap_t *h, const ranked_t *g, uint32_t n, suspect_t *s)
{
    uint32_t best = 0, votes = 0, count = 0;
    if (!h->site) return;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t site = h->site[g[i].id];
        if (!votes) best = site;
        votes += site == best ? 1 : (uint32_t)-1;
    }
    for (uint32_t i = 0; i < n; i++) count += best && h->site[g[i].id] == best;
    s->site = count ? best : 0;
    s->site_count = count;
}

/* Many objects of one type held by one object (a cache, a registry):
 * grouped by (type, immediate dominator), a group retaining >= 10% is a
 * suspect even when each of its objects is small. */
static int find_suspect_groups(const msc_heap_t *h, const msc_heap_dom_t *d, findings_t *f)
{
    ranked_t *g = msc_malloc((size_t)h->node_count * sizeof(ranked_t));
    if (!g) return MSC_ENOMEM;
    uint32_t n = 0;
    for (uint32_t v = 1; v < h->node_count; v++)
        if (msc_heap_is_object(h, v) && d->idom[v] != UINT32_MAX && d->idom[v] != 0)
            g[n++] = (ranked_t){(uint64_t)h->type[v] << 32 | d->idom[v], v};
    qsort(g, n, sizeof(*g), by_key);
    int rc = 0;
    for (uint32_t i = 0, j; i < n && rc == 0; i = j) {
        uint64_t sum = 0;
        for (j = i; j < n && g[j].key == g[i].key; j++) sum += d->retained[g[j].id];
        if (j - i < 2 || sum < f->total * SUSPECT_SHARE / 100) continue;
        suspect_t s = {d->idom[g[i].id], h->type[g[i].id], j - i, sum,
                       UINT32_MAX,       UINT32_MAX,       0,     0};
        group_site(h, g + i, j - i, &s);
        rc = add_suspect(f, s);
    }
    msc_free(g);
    return rc;
}

static int rank_types(const msc_heap_t *h, const msc_heap_dom_t *d, findings_t *f)
{
    uint64_t *by_type = msc_malloc((size_t)h->type_count * sizeof(uint64_t) + 1);
    f->types = msc_malloc((size_t)h->type_count * sizeof(ranked_t) + 1);
    f->type_count = msc_calloc(h->type_count + 1, sizeof(uint64_t));
    int rc = MSC_ENOMEM;
    if (by_type && f->types && f->type_count && msc_heap_type_retained(h, d, by_type) == 0) {
        for (uint32_t v = 1; v < h->node_count; v++)
            f->type_count[h->type[v]] += msc_heap_is_object(h, v);
        for (uint32_t t = 0; t < h->type_count; t++) f->types[t] = (ranked_t){by_type[t], t};
        qsort(f->types, h->type_count, sizeof(*f->types), by_key);
        rc = 0;
    }
    msc_free(by_type);
    return rc;
}

static int rank_objects(const msc_heap_t *h, const msc_heap_dom_t *d, findings_t *f)
{
    f->objects = msc_malloc((size_t)h->node_count * sizeof(ranked_t));
    if (!f->objects) return MSC_ENOMEM;
    for (uint32_t v = 1; v < h->node_count; v++)
        if (msc_heap_is_object(h, v) && d->idom[v] != UINT32_MAX)
            f->objects[f->object_count++] = (ranked_t){d->retained[v], v};
    qsort(f->objects, f->object_count, sizeof(*f->objects), by_key);
    return 0;
}

static void findings_release(findings_t *f)
{
    msc_free(f->suspects);
    msc_free(f->types);
    msc_free(f->type_count);
    msc_free(f->objects);
}

static int find_all(const msc_heap_t *h, const msc_heap_dom_t *d, findings_t *f)
{
    memset(f, 0, sizeof(*f));
    f->total = heap_bytes(h);
    int rc = find_suspect_objects(h, d, f);
    if (rc == 0) rc = find_suspect_groups(h, d, f);
    if (rc == 0) rc = rank_types(h, d, f);
    if (rc == 0) rc = rank_objects(h, d, f);
    if (rc < 0) findings_release(f);
    return rc;
}

/* Text. */

/* An allocation site ("file:line in function") for a terminal, into buf
 * (MSC_TEXT_BUF bytes). */
static const char *site_text(const msc_heap_t *h, uint32_t site, char *buf)
{
    return msc__text_in(msc_heap_string(h, site, NULL), buf, MSC_TEXT_BUF);
}

/* A path from the roots for a terminal, into buf. */
static const char *path_text(const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t v, char *buf,
                             size_t n)
{
    char raw[2048];
    return msc__text_in(msc_heap_path_text(h, p, v, raw, sizeof(raw)), buf, n);
}

/* "allocated at file:line in function" under an entry, when known. */
static void write_site(FILE *out, const msc_heap_t *h, uint32_t v, const char *indent,
                       const char *what)
{
    char site[MSC_TEXT_BUF];
    if (h->site && h->site[v])
        fprintf(out, "%s%sallocated at %s\n", indent, what, site_text(h, h->site[v], site));
}

static void write_suspect(FILE *out, const msc_heap_t *h, const msc_heap_paths_t *p, uint64_t total,
                          const suspect_t *s, int number)
{
    char what[600], path[MSC_TEXT_BUF], name[400], type[MSC_TEXT_BUF], via[700];
    if (s->type == UINT32_MAX) {
        fprintf(out, "  %d. %s retains %llu bytes (%.1f%% of the heap)\n     reached as %s\n",
                number, msc_heap_describe(h, s->node, what, sizeof(what)),
                (unsigned long long)s->retained, pct(s->retained, total),
                path_text(h, p, s->node, path, sizeof(path)));
        uint32_t holder = s->site_node;
        if (s->site_node == s->node) {
            write_site(out, h, s->node, "     ", site_is_storage(h, s->node) ? "storage " : "");
            holder = s->holder_node;
        }
        if (holder != UINT32_MAX) {
            snprintf(via, sizeof(via), "held by %s, ",
                     msc_heap_describe(h, holder, what, sizeof(what)));
            write_site(out, h, holder, "     ", via);
        }
        return;
    }
    fprintf(out,
            "  %d. %u %s objects held by %s retain %llu bytes (%.1f%% of the heap)\n"
            "     reached as %s\n",
            number, s->count,
            msc__text_in(msc_heap_type_name(h, s->type, name, sizeof(name)), type, sizeof(type)),
            msc_heap_describe(h, s->node, what, sizeof(what)), (unsigned long long)s->retained,
            pct(s->retained, total), path_text(h, p, s->node, path, sizeof(path)));
    if (s->site_count)
        fprintf(out, "     %u of them allocated at %s\n", s->site_count,
                site_text(h, s->site, path));
    write_site(out, h, s->node, "     ",
               site_is_storage(h, s->node) ? "the holder's storage was " : "the holder was ");
}

int msc_heap_write_retained(FILE *out, const msc_heap_t *h, const msc_heap_dom_t *d,
                            const msc_heap_paths_t *p, size_t limit)
{
    findings_t f;
    if (find_all(h, d, &f) < 0) return MSC_ENOMEM;
    fprintf(out,
            "Heap: %llu bytes in %u nodes.\n\nLeak suspects (retaining >= %d%% of the heap):\n",
            (unsigned long long)f.total, h->node_count - 1, SUSPECT_SHARE);
    for (size_t i = 0; i < f.suspect_count; i++)
        write_suspect(out, h, p, f.total, &f.suspects[i], (int)i + 1);
    if (!f.suspect_count) fprintf(out, "  none: nothing retains %d%% of the heap\n", SUSPECT_SHARE);
    char name[400], type[MSC_TEXT_BUF];
    fprintf(out, "\nTypes retaining the most:\n    Retained      %%    Count  Type\n");
    for (uint32_t t = 0; t < h->type_count && t < limit && f.types[t].key; t++)
        fprintf(out, "%12llu %6.1f %8llu  %s\n", (unsigned long long)f.types[t].key,
                pct(f.types[t].key, f.total), (unsigned long long)f.type_count[f.types[t].id],
                msc__text_in(msc_heap_type_name(h, f.types[t].id, name, sizeof(name)), type,
                             sizeof(type)));
    fprintf(out, "\nObjects retaining the most:\n    Retained      %%       Size  Object / path\n");
    for (uint32_t i = 0; i < f.object_count && i < limit; i++) {
        char what[600], path[MSC_TEXT_BUF];
        uint32_t v = f.objects[i].id;
        fprintf(out, "%12llu %6.1f %10llu  %s\n%32s%s\n", (unsigned long long)f.objects[i].key,
                pct(f.objects[i].key, f.total), (unsigned long long)h->size[v],
                msc_heap_describe(h, v, what, sizeof(what)), "",
                path_text(h, p, v, path, sizeof(path)));
        write_site(out, h, v, "                                ", "");
    }
    findings_release(&f);
    return ferror(out) ? MSC_EIO : 0;
}

/* The merged paths of all the target type's instances, under its one path. */
static void write_groups(FILE *out, const msc_heap_t *h, const msc_heap_paths_t *p,
                         const msc_heap_path_groups_t *g, size_t limit)
{
    uint64_t count = 0;
    char type[400], path[2048];
    for (size_t i = 0; i < g->n; i++) count += g->groups[i].count;
    msc_heap_type_name(h, h->type[g->groups[0].example], type, sizeof(type));
    fprintf(out, "\nAll %llu ", (unsigned long long)count);
    msc__text(out, type);
    fprintf(out, " objects, by the path that holds them (%zu path%s):\n", g->n,
            g->n == 1 ? "" : "s");
    fprintf(out, "%10s %6s %12s %12s  %s\n", "Count", "%", "Size", "Retained", "Path");
    size_t shown = limit && limit < g->n ? limit : g->n;
    for (size_t i = 0; i < shown; i++) {
        const msc_heap_path_group_t *x = &g->groups[i];
        fprintf(out, "%10u %5.1f%% %12llu %12llu  ", x->count, 100.0 * x->count / (double)count,
                (unsigned long long)x->bytes, (unsigned long long)x->retained);
        msc__text(out, msc_heap_path_pattern(h, p, x->example, path, sizeof(path)));
        fputc('\n', out);
    }
    if (shown < g->n) fprintf(out, "... %zu more (use --limit)\n", g->n - shown);
}

int msc_heap_write_path(FILE *out, const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t v,
                        const msc_heap_path_groups_t *merged, size_t limit)
{
    uint32_t steps[MAX_STEPS];
    size_t count = path_steps(p, v, steps);
    char what[600], raw[300], label[MSC_TEXT_BUF], path[MSC_TEXT_BUF];
    if (p->parent[v] == UINT32_MAX) {
        fprintf(out, "%s: no path from a root\n", msc_heap_describe(h, v, what, sizeof(what)));
        return ferror(out) ? MSC_EIO : 0;
    }
    fprintf(out, "%s\n", path_text(h, p, v, path, sizeof(path)));
    fprintf(out, "  <roots>\n");
    for (size_t i = count; i-- > 0;) {
        uint32_t x = steps[i];
        msc_heap_label_text(h, p->parent[x], p->label[x], raw, sizeof(raw));
        fprintf(out, "  %-28s %s\n", msc__text_in(raw, label, sizeof(label)),
                msc_heap_describe(h, x, what, sizeof(what)));
    }
    if (merged && merged->n) write_groups(out, h, p, merged, limit);
    return ferror(out) ? MSC_EIO : 0;
}

/* JSON. */

void msc__heap_json_object(msc_json_t *j, const char *key, const msc_heap_t *h, uint32_t v)
{
    char type[400];
    size_t n;
    const char *preview = msc_heap_string(h, h->preview[v], &n);
    msc_json_object_begin(j, key);
    msc_json_u64(j, "id", h->addr[v]);
    msc_json_str(j, "type", msc_heap_type_name(h, h->type[v], type, sizeof(type)));
    if (n) msc_json_strn(j, "preview", preview, n);
    else msc_json_null(j, "preview");
    msc_json_end(j);
}

/* A member holding the string id's text, or null for 0. */
static void json_string_id(msc_json_t *j, const msc_heap_t *h, const char *key, uint32_t id)
{
    size_t n;
    const char *s = msc_heap_string(h, id, &n);
    if (id) msc_json_strn(j, key, s, n);
    else msc_json_null(j, key);
}

static void json_path(msc_json_t *j, const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t v)
{
    char path[2048];
    if (p->parent[v] == UINT32_MAX) msc_json_null(j, "path");
    else msc_json_str(j, "path", msc_heap_path_text(h, p, v, path, sizeof(path)));
}

/* The suspect's sites: where a lone object (or what it is stored in) was
 * made, or a group's most common site. */
static void json_suspect_sites(msc_json_t *j, const msc_heap_t *h, const suspect_t *s)
{
    if (s->type != UINT32_MAX) {
        json_string_id(j, h, "site", s->site);
        msc_json_u64(j, "site_count", s->site_count);
        json_string_id(j, h, "holder_site", h->site ? h->site[s->node] : 0);
        return;
    }
    json_string_id(j, h, "site", s->site_node == UINT32_MAX ? 0 : h->site[s->site_node]);
    if (s->site_node == UINT32_MAX) msc_json_null(j, "site_of");
    else msc__heap_json_object(j, "site_of", h, s->site_node);
    msc_json_bool(j, "site_is_storage", s->site_node == s->node && site_is_storage(h, s->node));
    json_string_id(j, h, "holder_site", s->holder_node == UINT32_MAX ? 0 : h->site[s->holder_node]);
}

static void json_suspect(msc_json_t *j, const msc_heap_t *h, const msc_heap_paths_t *p,
                         uint64_t total, const suspect_t *s)
{
    char type[400];
    int one = s->type == UINT32_MAX;
    msc_json_newline(j, 2);
    msc_json_object_begin(j, NULL);
    msc_json_str(j, "suspect", one ? "object" : "group");
    msc_json_u64(j, "count", s->count);
    msc_json_str(j, "type",
                 msc_heap_type_name(h, one ? h->type[s->node] : s->type, type, sizeof(type)));
    msc__heap_json_object(j, one ? "object" : "holder", h, s->node);
    msc_json_u64(j, "retained_bytes", s->retained);
    msc_json_f64(j, "percent", pct(s->retained, total), 3);
    json_path(j, h, p, s->node);
    json_suspect_sites(j, h, s);
    msc_json_end(j);
}

static void json_types(msc_json_t *j, const msc_heap_t *h, const findings_t *f, size_t limit)
{
    msc_json_newline(j, 1);
    msc_json_array_begin(j, "types");
    for (uint32_t t = 0; t < h->type_count && t < limit && f->types[t].key; t++) {
        char name[400];
        msc_json_newline(j, 2);
        msc_json_object_begin(j, NULL);
        msc_json_str(j, "type", msc_heap_type_name(h, f->types[t].id, name, sizeof(name)));
        msc_json_u64(j, "count", f->type_count[f->types[t].id]);
        msc_json_u64(j, "retained_bytes", f->types[t].key);
        msc_json_f64(j, "percent", pct(f->types[t].key, f->total), 3);
        msc_json_end(j);
    }
    msc_json_end(j);
}

static void json_objects(msc_json_t *j, const msc_heap_t *h, const msc_heap_paths_t *p,
                         const findings_t *f, size_t limit)
{
    msc_json_newline(j, 1);
    msc_json_array_begin(j, "objects");
    for (uint32_t i = 0; i < f->object_count && i < limit; i++) {
        uint32_t v = f->objects[i].id;
        msc_json_newline(j, 2);
        msc_json_object_begin(j, NULL);
        msc__heap_json_object(j, "object", h, v);
        msc_json_u64(j, "bytes", h->size[v]);
        msc_json_u64(j, "retained_bytes", f->objects[i].key);
        msc_json_f64(j, "percent", pct(f->objects[i].key, f->total), 3);
        json_path(j, h, p, v);
        json_string_id(j, h, "site", h->site ? h->site[v] : 0);
        msc_json_end(j);
    }
    msc_json_end(j);
}

int msc_heap_write_retained_json(FILE *out, const msc_heap_t *h, const msc_heap_dom_t *d,
                                 const msc_heap_paths_t *p, size_t limit)
{
    findings_t f;
    if (find_all(h, d, &f) < 0) return MSC_ENOMEM;
    msc_json_t j;
    msc_json_init(&j, out, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_u64(&j, "heap_bytes", f.total);
    msc_json_u64(&j, "nodes", h->node_count - 1);
    msc_json_i64(&j, "suspect_percent", SUSPECT_SHARE);
    msc_json_array_begin(&j, "suspects");
    for (size_t i = 0; i < f.suspect_count; i++) json_suspect(&j, h, p, f.total, &f.suspects[i]);
    msc_json_end(&j);
    json_types(&j, h, &f, limit);
    json_objects(&j, h, p, &f, limit);
    msc_json_end(&j);
    fputc('\n', out);
    findings_release(&f);
    int err = msc_json_release(&j);
    return err ? err : ferror(out) ? MSC_EIO : 0;
}

static void json_merged(msc_json_t *j, const msc_heap_t *h, const msc_heap_paths_t *p,
                        const msc_heap_path_groups_t *merged, size_t limit)
{
    size_t shown = limit && limit < merged->n ? limit : merged->n;
    msc_json_u64(j, "total_paths", merged->n);
    msc_json_array_begin(j, "merged");
    for (size_t i = 0; i < shown; i++) {
        const msc_heap_path_group_t *g = &merged->groups[i];
        char path[2048];
        msc_json_newline(j, 2);
        msc_json_object_begin(j, NULL);
        msc_json_u64(j, "count", g->count);
        msc_json_u64(j, "bytes", g->bytes);
        msc_json_u64(j, "retained_bytes", g->retained);
        msc_json_str(j, "path", msc_heap_path_pattern(h, p, g->example, path, sizeof(path)));
        msc_json_end(j);
    }
    msc_json_end(j);
}

int msc_heap_write_path_json(FILE *out, const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t v,
                             const msc_heap_path_groups_t *merged, size_t limit)
{
    uint32_t steps[MAX_STEPS];
    size_t count = path_steps(p, v, steps);
    msc_json_t j;
    msc_json_init(&j, out, 0);
    msc_json_object_begin(&j, NULL);
    msc__heap_json_object(&j, "target", h, v);
    msc_json_bool(&j, "reachable", p->parent[v] != UINT32_MAX);
    json_path(&j, h, p, v);
    msc_json_array_begin(&j, "steps");
    for (size_t i = count; i-- > 0;) {
        char label[300];
        uint32_t x = steps[i];
        msc_json_newline(&j, 2);
        msc_json_object_begin(&j, NULL);
        msc_json_str(&j, "edge",
                     msc_heap_label_text(h, p->parent[x], p->label[x], label, sizeof(label)));
        msc__heap_json_object(&j, "object", h, x);
        msc_json_end(&j);
    }
    msc_json_end(&j);
    if (merged) json_merged(&j, h, p, merged, limit);
    msc_json_end(&j);
    return msc_json_finish(&j);
}
