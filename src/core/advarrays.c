/* The advice rules for numpy arrays and pandas columns (memscope/advise.h),
 * from the array records the walker wrote beside the graph (each owning
 * array's dtype, length, and the narrowest dtype its sampled values fit):
 *
 *   dtype     a numpy array whose values fit a narrower element of the same
 *             kind (int64 holding values within int16, float64 holding
 *             exact float32s): a.astype(...) saves nbytes minus the
 *             narrower nbytes
 *   downcast  the same for the numbers of a pandas column (the array is
 *             found below a DataFrame or Series on its path from a root)
 *   category  a pandas column of objects with few distinct values: pandas
 *             stores it as codes of the narrowest int holding the number of
 *             values (int8 below 127 of them, as pandas chooses) and each
 *             value once, an object array of them
 *
 * Each names the DataFrame or Series by its path from a root (and whether
 * the array is its index or its columns), else the array by its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "memscope/advise.h"
#include "memscope/heapanalysis.h"
#include "heapint.h"

#define MIN_SAVING 4096            /* advice that saves less is noise */
#define CATEGORY_MIN_ITEMS 1000    /* shorter columns are not worth a dtype change */
#define POINTER_BYTES 8

typedef struct ctx {
    const msc_heap_t *h;
    msc_heap_paths_t paths;
    msc_advice_list_t *out;
} ctx_t;

static const char *dtype_name(int kind, int size)
{
    static const char *const ints[] = {"int8", "int16", "int32", "int64"};
    static const char *const uints[] = {"uint8", "uint16", "uint32", "uint64"};
    static const char *const floats[] = {"float16", "float16", "float32", "float64"};
    int i = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
    return kind == 'i' ? ints[i] : kind == 'u' ? uints[i] : floats[i];
}

/* Whether node v's type is defined in pandas and called name. */
static int is_pandas(const msc_heap_t *h, uint32_t v, const char *name)
{
    const msc_heap_type_t *t = &h->types[h->type[v]];
    const char *module = msc_heap_string(h, t->module, NULL);
    return strncmp(module, "pandas", 6) == 0 &&
           (!name || strcmp(msc_heap_string(h, t->name, NULL), name) == 0);
}

/* The DataFrame (or else the Series) on v's path from a root, nearest
 * first, or UINT32_MAX when the path passes through neither; *in_index is
 * set when the path reaches v through an Index of it (its row labels or
 * column names) rather than a column. */
static uint32_t pandas_owner(const ctx_t *c, uint32_t v, int *in_index)
{
    uint32_t series = UINT32_MAX;
    int index = 0, series_index = 0;
    for (uint32_t u = c->paths.parent[v], steps = 0; u != UINT32_MAX && u != 0 && steps < 64;
         u = c->paths.parent[u], steps++) {
        if (is_pandas(c->h, u, "DataFrame")) {
            *in_index = index;
            return u;
        }
        if (series == UINT32_MAX && is_pandas(c->h, u, "Series")) {
            series = u;
            series_index = index;
        }
        size_t n;
        const char *name = msc_heap_string(c->h, c->h->types[c->h->type[u]].name, &n);
        if (is_pandas(c->h, u, NULL) && n >= 5 && strcmp(name + n - 5, "Index") == 0) index = 1;
    }
    *in_index = series_index;
    return series;
}

/* "DataFrame sys.modules['__main__'].__dict__['df']", or the array's path. */
static void name_of(const ctx_t *c, uint32_t v, uint32_t owner, char *buf, size_t n)
{
    char path[400];
    if (owner == UINT32_MAX) {
        snprintf(buf, n, "%s", msc_heap_path_text(c->h, &c->paths, v, path, sizeof(path)));
        return;
    }
    snprintf(buf, n, "%s %s", is_pandas(c->h, owner, "DataFrame") ? "DataFrame" : "Series",
             msc_heap_path_text(c->h, &c->paths, owner, path, sizeof(path)));
}

static uint32_t site_of(const msc_heap_t *h, uint32_t v)
{
    return h->site ? h->site[v] : 0;
}

/* An array of numbers whose sampled values fit a narrower dtype. */
static int advise_narrower(const ctx_t *c, const msc_heap_array_t *a)
{
    uint64_t saved = a->length * (uint64_t)(a->itemsize - a->fits);
    if (a->kind == 'O' || saved < MIN_SAVING) return 0;
    int in_index;
    uint32_t owner = pandas_owner(c, a->node, &in_index);
    const char *from = dtype_name(a->kind, a->itemsize), *to = dtype_name(a->kind, a->fits);
    char name[512];
    name_of(c, a->node, owner, name, sizeof(name));
    char *evidence = msc_strfmt(
        "%llu %s values take %llu bytes; the %llu sampled from the buffer %s %s, which would "
        "take %llu",
        (unsigned long long)a->length, from, (unsigned long long)(a->length * a->itemsize),
        (unsigned long long)(a->length < MSC_HEAP_ARRAY_SAMPLES ? a->length
                                                                : MSC_HEAP_ARRAY_SAMPLES),
        a->kind == 'f' ? "are each exactly a" : "all fit", to,
        (unsigned long long)(a->length * a->fits));
    if (owner == UINT32_MAX)
        return msc__advice_add(c->out, "dtype", saved, site_of(c->h, a->node),
                               msc_strfmt("Store %s as %s", name, to), evidence,
                               msc_strfmt("a = a.astype(numpy.%s), or create it with "
                                          "dtype=numpy.%s (check that every value "
                                          "fits, not only the sampled ones)",
                                          to, to));
    if (in_index)
        return msc__advice_add(c->out, "downcast", saved, site_of(c->h, a->node),
                               msc_strfmt("Downcast the %s index of %s to %s", from, name, to),
                               evidence, msc_strfmt("df.index = df.index.astype(\"%s\")", to));
    const char *downcast = a->kind == 'i' ? "integer" : a->kind == 'u' ? "unsigned" : "float";
    return msc__advice_add(c->out, "downcast", saved, site_of(c->h, a->node),
                           msc_strfmt("Downcast the %s columns of %s to %s", from, name, to),
                           evidence,
                           msc_strfmt("df[cols] = df[cols].astype(\"%s\") for those "
                                      "columns, or pd.to_numeric(df[col], "
                                      "downcast=\"%s\"), or read them with dtype=",
                                      to, downcast));
}

/* An element of an object column: its node, and the value it stands for
 * (equal str and bytes share a digest and a size; any other object is its
 * own value). */
typedef struct element {
    uint32_t node;
    int own;                   /* the column holds every reference to it */
    uint64_t digest;
    uint64_t size;
} element_t;

static int by_node(const void *a, const void *b)
{
    const element_t *x = a, *y = b;
    return x->node < y->node ? -1 : x->node > y->node;
}

static int by_value(const void *a, const void *b)
{
    const element_t *x = a, *y = b;
    uint64_t kx = x->digest ? x->digest : x->node, ky = y->digest ? y->digest : y->node;
    if (kx != ky) return kx < ky ? -1 : 1;
    if (x->size != y->size) return x->size < y->size ? -1 : 1;
    return x->node < y->node ? -1 : x->node > y->node;
}

static int same_value(const element_t *x, const element_t *y)
{
    return x->digest ? x->digest == y->digest && x->size == y->size : x->node == y->node;
}

/* What an object column holds and what category would keep. */
typedef struct column_use {
    uint64_t items;            /* elements */
    uint64_t values;           /* distinct values */
    uint64_t own;              /* bytes of the objects only the column holds */
    uint64_t kept;             /* bytes of one copy of each value only the column holds */
} column_use_t;

/* Sorts the column's elements by node, then keeps one entry a distinct
 * object (marked own when the column holds every reference to it, so
 * that it goes with the column), then counts the values those objects
 * stand for. */
static int measure_column(const msc_heap_t *h, uint32_t v, column_use_t *u)
{
    uint64_t first = h->edge_start[v], end = h->edge_start[v + 1], n = 0;
    element_t *e = msc_malloc((size_t)(end - first + 1) * sizeof(*e));
    if (!e) return MSC_ENOMEM;
    for (uint64_t k = first; k < end; k++) {
        if (!(h->edge_label[k] & MSC_HEAP_LABEL_INDEX)) continue;
        uint32_t t = h->edge_to[k];
        e[n++] = (element_t){t, 0, msc_heap_digest(h, t), h->size[t]};
    }
    memset(u, 0, sizeof(*u));
    u->items = n;
    qsort(e, (size_t)n, sizeof(*e), by_node);
    uint64_t objects = 0;
    for (uint64_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && e[j].node == e[i].node;) j++;
        e[objects] = e[i];
        e[objects].own = h->refcnt[e[i].node] <= j - i;
        if (e[objects++].own) u->own += e[i].size;
    }
    qsort(e, (size_t)objects, sizeof(*e), by_value);
    for (uint64_t i = 0, j; i < objects; i = j) {
        int all_own = e[i].own;
        for (j = i + 1; j < objects && same_value(&e[j], &e[i]); j++) all_own &= e[j].own;
        u->values++;
        /* A value some other holder keeps alive costs the categories
         * nothing more. */
        if (all_own) u->kept += e[i].size;
    }
    msc_free(e);
    return 0;
}

/* Bytes a code takes: pandas picks int8 for fewer than 127 categories,
 * then int16, int32 and int64 the same way (coerce_indexer_dtype). */
static uint64_t code_bytes(uint64_t values)
{
    return values < 127 ? 1 : values < 32767 ? 2 : values < 2147483647ULL ? 4 : 8;
}

static int advise_category(const ctx_t *c, const msc_heap_array_t *a)
{
    const msc_heap_t *h = c->h;
    if (a->kind != 'O' || a->length < CATEGORY_MIN_ITEMS) return 0;
    int in_index;
    uint32_t owner = pandas_owner(c, a->node, &in_index);
    if (owner == UINT32_MAX || in_index) return 0;
    column_use_t u;
    int rc = measure_column(h, a->node, &u);
    if (rc < 0) return rc;
    if (u.items < CATEGORY_MIN_ITEMS || u.values * 2 > u.items) return 0;
    uint64_t now = a->length * POINTER_BYTES + u.own;
    uint64_t after = a->length * code_bytes(u.values) + u.values * POINTER_BYTES + u.kept;
    if (now < after + MIN_SAVING) return 0;
    char name[512];
    name_of(c, a->node, owner, name, sizeof(name));
    return msc__advice_add(
        c->out, "category", now - after, site_of(h, a->node),
        msc_strfmt("Store the column of %llu values with %llu distinct ones in %s as "
                   "category",
                   (unsigned long long)u.items, (unsigned long long)u.values, name),
        msc_strfmt("its %llu object pointers and the objects only it holds take %llu "
                   "bytes; as a category, %llu-byte codes and each value once take "
                   "%llu",
                   (unsigned long long)a->length, (unsigned long long)now,
                   (unsigned long long)code_bytes(u.values), (unsigned long long)after),
        msc_strfmt("df[col] = df[col].astype(\"category\"), or read it with "
                   "dtype={col: \"category\"}"));
}

int msc__advise_arrays(const msc_heap_t *h, msc_advice_list_t *out)
{
    if (!h->array_count) return 0;
    ctx_t c = {h, {NULL, NULL}, out};
    int rc = msc_heap_paths(h, &c.paths);
    for (uint32_t i = 0; rc == 0 && i < h->array_count; i++) {
        rc = advise_narrower(&c, &h->arrays[i]);
        if (rc == 0) rc = advise_category(&c, &h->arrays[i]);
    }
    msc_heap_paths_release(&c.paths);
    return rc;
}
