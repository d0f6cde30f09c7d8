/* Graphviz pictures of a heap snapshot, objgraph's show_refs and
 * show_backrefs: a breadth-first walk from the chosen objects along their
 * references (or, backwards, along what refers to them), drawn as DOT for
 * `dot -Tsvg`. Program data reaches the labels (str previews, dict keys,
 * type names), so every byte is escaped for DOT's quoted strings and
 * anything that is not valid UTF-8 is shown as \xNN. */
#include <stdio.h>
#include <string.h>

#include "memscope/heapreport.h"
#include "utf8.h"

#define MAX_FANOUT 20              /* references drawn from one object */
#define MAX_NODES 400              /* objects drawn in one picture */

typedef struct graph {
    const msc_heap_t *h;
    int backrefs;
    uint32_t *level;           /* per node: 1 + distance from a start node, 0 if not drawn */
    uint32_t *queue;           /* drawn nodes, in the order they were reached */
    uint32_t drawn;
    uint64_t *pred_start;      /* backrefs: who refers to each node (CSR) */
    uint32_t *pred, *pred_label;
} graph_t;

static void escape(FILE *out, const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < n; i++) {
        size_t k = s[i] >= 0x80 ? msc__utf8_len(s + i, n - i) : 0;
        if (k) {
            fwrite(s + i, 1, k, out);
            i += k - 1;
        } else if (s[i] == '"' || s[i] == '\\') {
            fprintf(out, "\\%c", s[i]);
        } else if (s[i] < 0x20 || s[i] >= 0x7F) {
            fprintf(out, "\\\\x%02x", s[i]);
        } else {
            fputc(s[i], out);
        }
    }
}

static void escape_str(FILE *out, const char *s)
{
    escape(out, s, strlen(s));
}

/* The references of u in the walk's direction: [*first, *end) indices into
 * the edge columns, or with backrefs into pred. */
static void span(const graph_t *g, uint32_t u, uint64_t *first, uint64_t *end)
{
    *first = g->backrefs ? g->pred_start[u] : g->h->edge_start[u];
    *end = g->backrefs ? g->pred_start[u + 1] : g->h->edge_start[u + 1];
}

static uint32_t other(const graph_t *g, uint64_t k)
{
    return g->backrefs ? g->pred[k] : g->h->edge_to[k];
}

static int build_preds(graph_t *g)
{
    const msc_heap_t *h = g->h;
    g->pred_start = msc_calloc((size_t)h->node_count + 1, sizeof(uint64_t));
    g->pred = msc_malloc((size_t)h->edge_count * sizeof(uint32_t) + 1);
    g->pred_label = msc_malloc((size_t)h->edge_count * sizeof(uint32_t) + 1);
    if (!g->pred_start || !g->pred || !g->pred_label) return MSC_ENOMEM;
    for (uint64_t e = 0; e < h->edge_count; e++) g->pred_start[h->edge_to[e] + 1]++;
    for (uint32_t v = 0; v < h->node_count; v++) g->pred_start[v + 1] += g->pred_start[v];
    for (uint32_t u = 0; u < h->node_count; u++) {
        for (uint64_t e = h->edge_start[u]; e < h->edge_start[u + 1]; e++) {
            uint64_t at = g->pred_start[h->edge_to[e]]++;
            g->pred[at] = u;
            g->pred_label[at] = h->edge_label[e];
        }
    }
    for (uint32_t v = h->node_count; v > 0; v--) g->pred_start[v] = g->pred_start[v - 1];
    g->pred_start[0] = 0;
    return 0;
}

static void reach(graph_t *g, const uint32_t *start, size_t nstart, unsigned depth)
{
    for (size_t i = 0; i < nstart && g->drawn < MAX_NODES; i++) {
        if (start[i] >= g->h->node_count || g->level[start[i]]) continue;
        g->level[start[i]] = 1;
        g->queue[g->drawn++] = start[i];
    }
    for (uint32_t head = 0; head < g->drawn; head++) {
        uint32_t u = g->queue[head];
        uint64_t first, end;
        if (g->level[u] > depth || u == 0) continue;
        span(g, u, &first, &end);
        for (uint64_t k = first; k < end && k < first + MAX_FANOUT && g->drawn < MAX_NODES; k++) {
            uint32_t t = other(g, k);
            if (g->level[t]) continue;
            g->level[t] = g->level[u] + 1;
            g->queue[g->drawn++] = t;
        }
    }
}

static void write_node(FILE *out, const graph_t *g, uint32_t v)
{
    const msc_heap_t *h = g->h;
    char type[400];
    size_t plen;
    const char *preview = msc_heap_string(h, h->preview[v], &plen);
    fprintf(out, "  n%u [label=\"", v);
    if (v == 0) {
        fputs("<roots>\"];\n", out);
        return;
    }
    escape_str(out, msc_heap_type_name(h, h->type[v], type, sizeof(type)));
    fprintf(out, "\\n%llu bytes", (unsigned long long)h->size[v]);
    if (plen) {
        fputs("\\n'", out);
        escape(out, preview, plen);
        fputc('\'', out);
    }
    fprintf(out, "\"%s];\n", g->level[v] == 1 ? ", fillcolor=\"#f4d35e\"" : "");
}

/* u's drawn references as edges in their real direction, then how many
 * were left out. */
static void write_edges(FILE *out, const graph_t *g, uint32_t u, unsigned depth)
{
    const msc_heap_t *h = g->h;
    uint64_t first, end, left_out = 0;
    if (g->level[u] > depth || u == 0) return;
    span(g, u, &first, &end);
    for (uint64_t k = first; k < end; k++) {
        uint32_t t = other(g, k), from = g->backrefs ? t : u, to = g->backrefs ? u : t;
        char label[300];
        if (!g->level[t] || k >= first + MAX_FANOUT) {
            left_out++;
            continue;
        }
        uint32_t l = g->backrefs ? g->pred_label[k] : h->edge_label[k];
        fprintf(out, "  n%u -> n%u [label=\"", from, to);
        escape_str(out, msc_heap_label_text(h, from, l, label, sizeof(label)));
        fputs("\"];\n", out);
    }
    if (!left_out) return;
    fprintf(out, "  more%u [shape=plaintext, style=\"\", label=\"+%llu more\"];\n", u,
            (unsigned long long)left_out);
    if (g->backrefs) fprintf(out, "  more%u -> n%u [style=dashed];\n", u, u);
    else fprintf(out, "  n%u -> more%u [style=dashed];\n", u, u);
}

int msc_heap_write_dot(FILE *out, const msc_heap_t *h, const uint32_t *start, size_t nstart,
                       unsigned depth, int backrefs)
{
    graph_t g = {h,
                 backrefs,
                 msc_calloc(h->node_count, sizeof(uint32_t)),
                 msc_malloc(MAX_NODES * sizeof(uint32_t)),
                 0,
                 NULL,
                 NULL,
                 NULL};
    int rc = MSC_ENOMEM;
    if (!g.level || !g.queue || (backrefs && build_preds(&g) < 0)) goto done;
    reach(&g, start, nstart, depth);
    fputs("digraph memscope {\n  node [shape=box, style=filled, fillcolor=\"#ffffff\", "
          "fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
          out);
    for (uint32_t i = 0; i < g.drawn; i++) write_node(out, &g, g.queue[i]);
    for (uint32_t i = 0; i < g.drawn; i++) write_edges(out, &g, g.queue[i], depth);
    fputs("}\n", out);
    rc = ferror(out) ? MSC_EIO : 0;
done:
    msc_free(g.level);
    msc_free(g.queue);
    msc_free(g.pred_start);
    msc_free(g.pred);
    msc_free(g.pred_label);
    return rc;
}
