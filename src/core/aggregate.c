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
    return a->line < b->line ? -1 : a->line > b->line;
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
    int live[MSC_VIEW_ALL], nlive = 0;
    size_t at[MSC_VIEW_ALL] = {0};
    for (int k = 0; !a && k < MSC_VIEW_ALL; k++)
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
