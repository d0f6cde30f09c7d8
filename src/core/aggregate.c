/* Report rows from per-stack values (aggregate.h). Rows are found through an
 * open-addressing table on (file, function, line) ids; an inclusive pass
 * stamps each row with the stack being folded so a recursive stack counts
 * once per key. One pass folds any of the views at once: naming a stack's
 * frames and finding their rows is most of the work, and is the same for
 * every view. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "memscope/aggregate.h"

typedef struct slot {
    uint64_t key;              /* packed ids + 1; 0 = empty */
    uint32_t row;
} slot_t;

/* A row being summed, for every view. */
typedef struct acc {
    const char *file, *function;
    uint32_t line;
    msc_node_values_t v[MSC_VIEW_ALL];
} acc_t;

typedef struct table {
    slot_t *slots;
    size_t mask;
    acc_t *rows;
    uint32_t *stamps;          /* per row: last stack folded into it */
    size_t n, cap;
} table_t;

int msc_same_file(const char *file, const char *path)
{
    size_t nf = strlen(file), np = strlen(path);
    if (nf == np) return strcmp(file, path) == 0;
    const char *longer = nf > np ? file : path, *shorter = nf > np ? path : file;
    size_t nl = nf > np ? nf : np, ns = nf > np ? np : nf;
    return longer[nl - ns - 1] == '/' && strcmp(longer + nl - ns, shorter) == 0;
}

static int has_function(msc_group_t g)
{
    return g == MSC_BY_LINE || g == MSC_BY_FUNCTION;
}

static int has_line(msc_group_t g)
{
    return g == MSC_BY_LINE || g == MSC_BY_SOURCE_LINE;
}

static uint64_t key_of(const msc_frame_t *f, msc_group_t group)
{
    uint64_t key = (uint64_t)f->file_id << 40;
    if (has_function(group)) key ^= (uint64_t)f->function_id << 20 ^ (uint64_t)f->function_id >> 44;
    if (has_line(group)) key = key * 0x9E3779B97F4A7C15ull ^ f->line;
    return key + 1;
}

/* A key's first slot. The key's parts sit in separate bit ranges (a file id
 * alone leaves the low 40 bits constant), so every bit is mixed into the
 * ones the mask keeps (splitmix64's finalizer), or keys of one file would
 * all start at one slot. */
static size_t slot_of(uint64_t key, size_t mask)
{
    key ^= key >> 30;
    key *= 0xBF58476D1CE4E5B9ull;
    key ^= key >> 27;
    key *= 0x94D049BB133111EBull;
    return (size_t)(key ^ key >> 31) & mask;
}

static int table_grow(table_t *t)
{
    size_t mask = t->mask ? t->mask * 2 + 1 : 1023;
    slot_t *slots = msc_calloc(mask + 1, sizeof(slot_t));
    if (!slots) return MSC_ENOMEM;
    for (size_t i = 0; t->slots && i <= t->mask; i++) {
        if (!t->slots[i].key) continue;
        size_t j = slot_of(t->slots[i].key, mask);
        while (slots[j].key) j = (j + 1) & mask;
        slots[j] = t->slots[i];
    }
    msc_free(t->slots);
    t->slots = slots;
    t->mask = mask;
    return 0;
}

/* Strings are interned (one pointer per id, and the empty stack's and
 * unknown code's names are strings of their own), so equal pointers are the
 * same name; texts are never compared. */
static int same_row(const acc_t *r, const msc_frame_t *f, msc_group_t group)
{
    if (r->file != f->file) return 0;
    if (has_function(group) && r->function != f->function) return 0;
    return !has_line(group) || r->line == f->line;
}

/* The row for frame f, created empty if new; NULL on OOM. */
static acc_t *row_for(table_t *t, const msc_frame_t *f, msc_group_t group, uint32_t **stamp)
{
    if ((t->n + 1) * 2 > t->mask && table_grow(t) < 0) return NULL;
    uint64_t key = key_of(f, group);
    size_t i = slot_of(key, t->mask);
    for (; t->slots[i].key; i = (i + 1) & t->mask) {
        acc_t *r = &t->rows[t->slots[i].row];
        if (t->slots[i].key == key && same_row(r, f, group)) {
            *stamp = &t->stamps[t->slots[i].row];
            return r;
        }
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        acc_t *rows = msc_realloc(t->rows, cap * sizeof(acc_t));
        if (!rows) return NULL;
        t->rows = rows;
        uint32_t *stamps = msc_realloc(t->stamps, cap * sizeof(uint32_t));
        if (!stamps) return NULL;
        t->stamps = stamps;
        t->cap = cap;
    }
    t->slots[i] = (slot_t){key, (uint32_t)t->n};
    acc_t *r = &t->rows[t->n];
    *r = (acc_t){
        f->file, has_function(group) ? f->function : NULL, has_line(group) ? f->line : 0, {{0, 0}}};
    t->stamps[t->n] = UINT32_MAX;
    *stamp = &t->stamps[t->n++];
    return r;
}

/* Adds stack node's values v to frame f's row, once per stack however
 * many of its frames share the row: 0 or MSC_ENOMEM. */
static int add_to_row(table_t *t, const msc_frame_t *f, msc_group_t group, uint32_t node,
                      const msc_node_values_t *v)
{
    uint32_t *stamp;
    acc_t *r = row_for(t, f, group, &stamp);
    if (!r) return MSC_ENOMEM;
    if (*stamp == node) return 0;
    *stamp = node;
    for (int k = 0; k < MSC_VIEW_ALL; k++) {
        r->v[k].bytes += v[k].bytes;
        r->v[k].count += v[k].count;
    }
    return 0;
}

static int fold(table_t *t, msc_symbols_t *sym, uint32_t node, const msc_node_values_t *v,
                msc_group_t group, int inclusive, const char *only_file)
{
    msc_frame_t f;
    uint32_t n = node;
    do {
        msc_symbols_frame(sym, n, &f);
        if (!only_file || msc_same_file(f.file, only_file)) {
            if (add_to_row(t, &f, group, node, v) < 0) return MSC_ENOMEM;
            if (!inclusive) return 0;
        }
        n = msc_symbols_parent(sym, n);
    } while ((inclusive || only_file) && n != 0);
    return 0;
}

static int by_bytes_desc(const void *pa, const void *pb)
{
    const msc_row_t *a = pa, *b = pb;
    if (a->bytes != b->bytes) return a->bytes < b->bytes ? 1 : -1;
    if (a->count != b->count) return a->count < b->count ? 1 : -1;
    int c = strcmp(a->file, b->file);
    if (c) return c;
    if (a->line != b->line) return a->line < b->line ? -1 : 1;
    return a->function && b->function ? strcmp(a->function, b->function) : 0;
}

/* The rows of view k: those the view gave something, most bytes first. */
static int rows_of(const table_t *t, int k, msc_rows_t *out)
{
    out->rows = msc_malloc((t->n ? t->n : 1) * sizeof(msc_row_t));
    if (!out->rows) return MSC_ENOMEM;
    out->n = 0;
    for (size_t i = 0; i < t->n; i++) {
        const acc_t *r = &t->rows[i];
        if (r->v[k].bytes || r->v[k].count)
            out->rows[out->n++] =
                (msc_row_t){r->file, r->function, r->line, r->v[k].bytes, r->v[k].count};
    }
    if (out->n) qsort(out->rows, out->n, sizeof(msc_row_t), by_bytes_desc);
    return 0;
}

/* The views' values of a used stack, zero outside views, each view asked
 * adding to its rows' total: whether any is not zero. */
static int values_of(const msc_analysis_t *a, uint32_t node, unsigned views, msc_node_values_t *v,
                     msc_rows_t *out)
{
    if (!msc_analysis_node_views(a, node, v)) return 0;
    int any = 0;
    for (int k = 0; k < MSC_VIEW_ALL; k++) {
        if (!(views & 1u << k)) {
            v[k] = (msc_node_values_t){0, 0};
            continue;
        }
        out[k].total_bytes += v[k].bytes;
        any |= v[k].bytes || v[k].count;
    }
    return any;
}

/* The row of frame f of the frame nodes (nframes: the unknown frame of a
 * stack past them), found once per frame: its index + 1, or 0 on OOM. */
static uint32_t frame_row(table_t *t, msc_symbols_t *sym, const msc_frame_nodes_t *fn,
                          msc_group_t group, uint32_t *rows, uint32_t f)
{
    if (rows[f]) return rows[f];
    msc_frame_t fr;
    msc_symbols_frame(sym, f < fn->nframes ? fn->frame_trie[f] : UINT32_MAX, &fr);
    uint32_t *stamp;
    acc_t *r = row_for(t, &fr, group, &stamp);
    return r ? (rows[f] = (uint32_t)(r - t->rows) + 1) : 0;
}

static void add_values(acc_t *r, const msc_node_values_t *v, const int *view, int nv)
{
    for (int j = 0; j < nv; j++) {
        r->v[view[j]].bytes += v[j].bytes;
        r->v[view[j]].count += v[j].count;
    }
}

/* A depth-first walk of the reached nodes (id 0 the root, id k + 1 number
 * k, parent[id] the caller's id), adding each node's sums to its row unless
 * the row is on the path above it already: on[row] counts its nodes on the
 * path. A row's sum is then that of every stack with the row on its path,
 * each once. */
static int walk_reached(table_t *t, const uint32_t *parent, uint32_t ids, const uint32_t *row,
                        const msc_node_values_t *sums, const int *view, int nv)
{
    uint32_t *first = msc_calloc((size_t)ids + 1, 4), *kids = msc_malloc((size_t)ids * 4);
    uint32_t *on = msc_calloc(t->n ? t->n : 1, 4);
    uint32_t(*path)[2] = msc_malloc((size_t)ids * sizeof(*path)); /* id, next of its kids */
    int err = first && kids && on && path ? 0 : MSC_ENOMEM;
    if (!err) msc__group_by_parent(parent, 4, ids, first, kids);
    size_t depth = err ? 0 : 1;
    if (!err) path[0][0] = 0, path[0][1] = first[0];
    while (depth) {
        uint32_t *at = path[depth - 1];
        if (at[1] == first[at[0] + 1]) { /* every callee done */
            if (at[0]) on[row[at[0] - 1]]--;
            depth--;
            continue;
        }
        uint32_t id = kids[at[1]++], k = id - 1;
        if (on[row[k]]++ == 0) add_values(&t->rows[row[k]], &sums[(size_t)k * nv], view, nv);
        path[depth][0] = id, path[depth++][1] = first[id];
    }
    msc_free(first);
    msc_free(kids);
    msc_free(on);
    msc_free(path);
    return err;
}

/* Inclusive rows from values read already, over the frame nodes the
 * stacks reach (msc__reach): each node's values are summed over its
 * callees, then walk_reached adds them to the rows. Each node reached is
 * visited a few times, where folding visits every frame of every stack.
 * Stack 0 is the root's row alone, a stack past the trie the unknown
 * frame's. */
static int fold_reached(table_t *t, msc_symbols_t *sym, const msc_views_values_t *vv,
                        unsigned views, msc_group_t group, msc_rows_t *out)
{
    const msc_frame_nodes_t *fn = msc_symbols_frame_nodes(sym);
    if (!fn) return MSC_ENOMEM;
    const msc_stack_value_t *lists[MSC_VIEW_ALL];
    size_t lens[MSC_VIEW_ALL];
    int view[MSC_VIEW_ALL], nv = 0;
    for (int k = 0; k < MSC_VIEW_ALL; k++)
        if (views & vv->views & 1u << k)
            view[nv] = k, lists[nv] = vv->values[k], lens[nv++] = vv->n[k];
    msc__reach_t r;
    int err = msc__reach(fn, lists, lens, nv, &r);
    if (err) return err;
    uint32_t m = r.m;
    /* Per number, nv values (one per view asked); after them the root's
     * own, then the unknown frame's. */
    size_t stride = nv ? (size_t)nv : 1;
    msc_node_values_t *sums = msc_calloc(((size_t)m + 2) * stride, sizeof(*sums));
    uint32_t *rows = msc_calloc((size_t)fn->nframes + 1, 4); /* per frame: row + 1 */
    uint32_t *row = msc_malloc(((size_t)m + 1) * 4);         /* per number: its row */
    uint32_t *parent = msc_malloc(((size_t)m + 1) * 4);      /* per id: its caller's */
    if (!sums || !rows || !row || !parent) err = MSC_ENOMEM;
    for (int j = 0; j < nv && !err; j++) {
        for (size_t i = 0; i < lens[j]; i++) {
            const msc_stack_value_t *x = &lists[j][i];
            uint32_t s = x->stack, at = !s               ? m
                                        : s >= fn->ntrie ? m + 1
                                                         : fn->scratch[fn->of[s]] - 1;
            sums[at * stride + (size_t)j].bytes += x->bytes;
            sums[at * stride + (size_t)j].count += x->count;
            out[view[j]].total_bytes += x->bytes;
        }
    }
    for (uint32_t k = err ? 0 : m; k-- > 0;) /* callees first */
        for (int j = 0; r.up[k] && j < nv; j++) {
            sums[(r.up[k] - 1) * stride + (size_t)j].bytes += sums[k * stride + (size_t)j].bytes;
            sums[(r.up[k] - 1) * stride + (size_t)j].count += sums[k * stride + (size_t)j].count;
        }
    for (uint32_t k = 0; k < m && !err; k++) {
        row[k] = frame_row(t, sym, fn, group, rows, fn->frame[r.order[k]]) - 1;
        if (row[k] == UINT32_MAX) err = MSC_ENOMEM;
        parent[k + 1] = r.up[k];
    }
    /* The root's own values and the unknown frame's: one frame each. */
    for (uint32_t at = m, f = 0; at < m + 2 && !err; at++, f = fn->nframes) {
        int any = 0;
        for (int j = 0; j < nv; j++)
            any |= sums[at * stride + (size_t)j].bytes || sums[at * stride + (size_t)j].count;
        uint32_t x = any ? frame_row(t, sym, fn, group, rows, f) : 1;
        if (!x) err = MSC_ENOMEM;
        else if (any) add_values(&t->rows[x - 1], &sums[at * stride], view, nv);
    }
    if (!err) parent[0] = 0;
    if (!err) err = walk_reached(t, parent, m + 1, row, sums, view, nv);
    msc__reach_release(fn, &r);
    msc_free(sums);
    msc_free(rows);
    msc_free(row);
    msc_free(parent);
    return err;
}

static void table_release(table_t *t)
{
    msc_free(t->slots);
    msc_free(t->stamps);
    msc_free(t->rows);
}

/* The rows of the views asked, from an analysis (each stack it used, read
 * for every view at once) or from values read already. */
static int aggregate(const msc_analysis_t *a, const msc_views_values_t *vv, msc_symbols_t *sym,
                     unsigned views, msc_group_t group, int inclusive, const char *only_file,
                     msc_rows_t *out)
{
    table_t t;
    memset(&t, 0, sizeof(t));
    for (int k = 0; k < MSC_VIEW_ALL; k++)
        if (views & 1u << k) out[k] = (msc_rows_t){NULL, 0, 0};
    int err = 0;
    msc_node_values_t v[MSC_VIEW_ALL] = {{0, 0}};
    if (a) {
        size_t words;
        const uint64_t *used = msc_analysis_used_stacks(a, &words);
        for (uint32_t node = 0; !err && msc__bits_next(used, words, &node); node++)
            if (values_of(a, node, views, v, out))
                err = fold(&t, sym, node, v, group, inclusive, only_file);
    }
    /* Values read already: the views' arrays merged by stack (each is by
     * stack), a view dropped when it runs out. */
    if (!a && inclusive && !only_file) {
        err = fold_reached(&t, sym, vv, views, group, out);
        vv = NULL; /* folded */
    }
    int live[MSC_VIEW_ALL], nlive = 0;
    size_t at[MSC_VIEW_ALL] = {0};
    for (int k = 0; vv && k < MSC_VIEW_ALL; k++)
        if (views & vv->views & 1u << k && vv->n[k]) live[nlive++] = k;
    while (nlive && !err) {
        uint32_t node = UINT32_MAX;
        for (int j = 0; j < nlive; j++)
            if (vv->values[live[j]][at[live[j]]].stack < node)
                node = vv->values[live[j]][at[live[j]]].stack;
        for (int j = 0; j < nlive; j++) {
            int k = live[j];
            const msc_stack_value_t *x = &vv->values[k][at[k]];
            v[k] = x->stack == node ? (msc_node_values_t){x->bytes, x->count}
                                    : (msc_node_values_t){0, 0};
            if (x->stack == node) out[k].total_bytes += x->bytes, at[k]++;
        }
        err = fold(&t, sym, node, v, group, inclusive, only_file);
        for (int j = 0; j < nlive;) {
            if (at[live[j]] < vv->n[live[j]]) {
                j++;
                continue;
            }
            v[live[j]] = (msc_node_values_t){0, 0};
            live[j] = live[--nlive];
        }
    }
    for (int k = 0; k < MSC_VIEW_ALL && !err; k++)
        if (views & 1u << k) err = rows_of(&t, k, &out[k]);
    table_release(&t);
    if (err)
        for (int k = 0; k < MSC_VIEW_ALL; k++)
            if (views & 1u << k) msc_rows_release(&out[k]);
    return err;
}

int msc_aggregate_views(const msc_analysis_t *a, msc_symbols_t *sym, unsigned views,
                        msc_group_t group, int inclusive, const char *only_file, msc_rows_t *out)
{
    return aggregate(a, NULL, sym, views, group, inclusive, only_file, out);
}

int msc_aggregate_views_of(const msc_views_values_t *vv, msc_symbols_t *sym, unsigned views,
                           msc_group_t group, int inclusive, const char *only_file, msc_rows_t *out)
{
    return aggregate(NULL, vv, sym, views, group, inclusive, only_file, out);
}

/* Each stack's values go to its frame first (an array add, frames
 * numbered by the symbols' frame nodes), then each frame's to its row in
 * every grouping: a table is probed per frame, not per stack. Stacks past
 * the trie are the unknown frame, in the slot after the last. */
int msc_aggregate_groups(const msc_views_values_t *vv, msc_symbols_t *sym, unsigned views,
                         unsigned groups, msc_rows_t (*out)[MSC_VIEW_ALL])
{
    enum { GROUPS = MSC_BY_SOURCE_LINE + 1 };
    table_t t[GROUPS];
    memset(t, 0, sizeof(t));
    for (int g = 0; g < GROUPS; g++)
        for (int k = 0; k < MSC_VIEW_ALL && groups & 1u << g; k++)
            if (views & 1u << k) out[g][k] = (msc_rows_t){NULL, 0, 0};
    int first = __builtin_ctz(groups | 1u << GROUPS);
    const msc_frame_nodes_t *fn = first < GROUPS ? msc_symbols_frame_nodes(sym) : NULL;
    msc_node_values_t(*per)[MSC_VIEW_ALL] =
        fn ? msc_calloc((size_t)fn->nframes + 1, sizeof(*per)) : NULL;
    int err = first < GROUPS && !per ? MSC_ENOMEM : 0;
    for (int k = 0; k < MSC_VIEW_ALL && !err && first < GROUPS; k++) {
        if (!(views & vv->views & 1u << k)) continue;
        for (size_t i = 0; i < vv->n[k]; i++) {
            const msc_stack_value_t *x = &vv->values[k][i];
            uint32_t f = x->stack < fn->ntrie ? fn->frame[fn->of[x->stack]] : fn->nframes;
            per[f][k].bytes += x->bytes;
            per[f][k].count += x->count;
            out[first][k].total_bytes += x->bytes;
        }
    }
    for (uint32_t f = 0; !err && per && f <= fn->nframes; f++) {
        int any = 0;
        for (int k = 0; k < MSC_VIEW_ALL; k++) any |= per[f][k].bytes || per[f][k].count;
        if (!any) continue;
        msc_frame_t fr;
        msc_symbols_frame(sym, f < fn->nframes ? fn->frame_trie[f] : UINT32_MAX, &fr);
        for (int g = 0; g < GROUPS && !err; g++)
            if (groups & 1u << g) err = add_to_row(&t[g], &fr, (msc_group_t)g, f, per[f]);
    }
    msc_free(per);
    for (int g = 0; g < GROUPS; g++) {
        for (int k = 0; k < MSC_VIEW_ALL && groups & 1u << g; k++) {
            if (!(views & 1u << k)) continue;
            if (g != first) out[g][k].total_bytes = out[first][k].total_bytes;
            if (!err) err = rows_of(&t[g], k, &out[g][k]);
        }
        table_release(&t[g]);
    }
    if (err)
        for (int g = 0; g < GROUPS; g++)
            for (int k = 0; k < MSC_VIEW_ALL && groups & 1u << g; k++)
                if (views & 1u << k) msc_rows_release(&out[g][k]);
    return err;
}

int msc_aggregate(const msc_analysis_t *a, msc_symbols_t *sym, msc_view_t view, msc_group_t group,
                  int inclusive, const char *only_file, msc_rows_t *out)
{
    msc_rows_t all[MSC_VIEW_ALL];
    int err = msc_aggregate_views(a, sym, 1u << view, group, inclusive, only_file, all);
    *out = all[view];
    return err;
}

void msc_rows_release(msc_rows_t *r)
{
    msc_free(r->rows);
    r->rows = NULL;
    r->n = 0;
}
