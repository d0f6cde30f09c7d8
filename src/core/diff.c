/* Site-by-site comparison of two captures (diff.h). The two captures have
 * their own symbol tables, so sites are matched by their strings: BEFORE's
 * files are first renamed when the program ran from another checkout; both
 * row lists are then sorted by (file, function, line) and merged; what is
 * left is sorted by (file, function, bytes) and merged again on (file,
 * function), pairing a function's unmatched sites largest with largest. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "memscope/diff.h"

typedef struct site {
    const msc_row_t *row;
    const char *file;          /* matched on: the row's file, or AFTER's name for it */
    int matched;
} site_t;

/* Same file and function; a comparator for sites. */
static int same_function(const void *pa, const void *pb)
{
    const site_t *a = pa, *b = pb;
    int c = strcmp(a->file, b->file);
    if (c) return c;
    const char *fa = a->row->function, *fb = b->row->function;
    return strcmp(fa ? fa : "", fb ? fb : "");
}

static int by_site(const void *pa, const void *pb)
{
    const site_t *a = pa, *b = pb;
    int c = same_function(a, b);
    return c ? c : a->row->line < b->row->line ? -1 : a->row->line > b->row->line;
}

static int by_function_then_bytes(const void *pa, const void *pb)
{
    const site_t *a = pa, *b = pb;
    int c = same_function(a, b);
    if (c) return c;
    if (a->row->bytes != b->row->bytes) return a->row->bytes < b->row->bytes ? 1 : -1;
    return a->row->line < b->row->line ? -1 : a->row->line > b->row->line;
}

static site_t *sites_of(const msc_rows_t *rows)
{
    site_t *s = msc_malloc((rows->n ? rows->n : 1) * sizeof(site_t));
    if (!s) return NULL;
    for (size_t i = 0; i < rows->n; i++) s[i] = (site_t){&rows->rows[i], rows->rows[i].file, 0};
    return s;
}

/* ---- a program checked out in another place --------------------------- */

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct files of sites, sorted; NULL on out-of-memory. */
static const char **files_of(const site_t *s, size_t n, size_t *count)
{
    const char **f = msc_malloc((n ? n : 1) * sizeof(*f));
    if (!f) return NULL;
    for (size_t i = 0; i < n; i++) f[i] = s[i].file;
    qsort(f, n, sizeof(*f), by_string);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(f[k - 1], f[i]) != 0) f[k++] = f[i];
    *count = k;
    return f;
}

static const char *find_file(const char **files, size_t n, const char *name)
{
    const char **hit = bsearch(&name, files, n, sizeof(*files), by_string);
    return hit ? *hit : NULL;
}

/* One way to map BEFORE's files onto AFTER's: replace the first blen bytes
 * of b by the first alen bytes of a; votes counts the file pairs that agree. */
typedef struct relocation {
    const char *b, *a;
    size_t blen, alen;
    size_t votes;
} relocation_t;

/* The relocation a file seen only before and one seen only after imply,
 * when they end alike from a '/' on; 0 when they do not. */
static int relocation_of(const char *b, const char *a, relocation_t *r)
{
    size_t lb = strlen(b), la = strlen(a), k = 0;
    while (k < lb && k < la && b[lb - 1 - k] == a[la - 1 - k]) k++;
    while (k > 0 && b[lb - k] != '/') k--;          /* the shared ending starts at a '/' */
    if (k == 0 || (lb == k && la == k)) return 0;
    *r = (relocation_t){b, a, lb - k, la - k, 1};
    return 1;
}

static int same_relocation(const relocation_t *x, const relocation_t *y)
{
    return x->blen == y->blen && x->alen == y->alen && memcmp(x->b, y->b, x->blen) == 0 &&
           memcmp(x->a, y->a, x->alen) == 0;
}

/* Two runs of one program from different checkouts ("/ci/1/src/app.py"
 * before, "/ci/2/src/app.py" after) share no file name. Among the files
 * found on one side only, pairs that end alike vote for the prefix they
 * imply; the winner renames BEFORE's files that then name one of AFTER's.
 * Files both sides have (the standard library) are never renamed. */
static int relocate(site_t *b, size_t nb, const site_t *a, size_t na)
{
    size_t nbf, naf, nao = 0, nr = 0;
    const char **bf = files_of(b, nb, &nbf), **af = files_of(a, na, &naf);
    const char **after_only = msc_malloc((naf ? naf : 1) * sizeof(*after_only));
    relocation_t *votes = msc_malloc((nbf ? nbf : 1) * sizeof(*votes)), best = {0};
    int rc = MSC_ENOMEM;
    if (!bf || !af || !after_only || !votes) goto done;
    for (size_t j = 0; j < naf; j++)
        if (!find_file(bf, nbf, af[j])) after_only[nao++] = af[j];
    for (size_t i = 0; i < nbf; i++) {
        if (find_file(af, naf, bf[i])) continue;
        relocation_t r, mine = {0};
        for (size_t j = 0; j < nao; j++) {
            /* The after file with the longest shared ending is this one's. */
            if (relocation_of(bf[i], after_only[j], &r) && (!mine.votes || r.blen < mine.blen))
                mine = r;
        }
        if (!mine.votes) continue;
        size_t k = 0;
        while (k < nr && !same_relocation(&votes[k], &mine)) k++;
        if (k == nr) votes[nr++] = mine;
        else votes[k].votes++;
        if (votes[k].votes > best.votes) best = votes[k];
    }
    for (size_t i = 0; best.votes && i < nb; i++) {
        const char *f = b[i].file;
        size_t rest = strlen(f) - best.blen;
        char name[4096];
        if (strncmp(f, best.b, best.blen) != 0 || find_file(af, naf, f) ||
            best.alen + rest >= sizeof(name))
            continue;
        memcpy(name, best.a, best.alen);
        memcpy(name + best.alen, f + best.blen, rest + 1);
        const char *renamed = find_file(af, naf, name);
        if (renamed) b[i].file = renamed;
    }
    rc = 0;
done:
    msc_free(bf);
    msc_free(af);
    msc_free(after_only);
    msc_free(votes);
    return rc;
}

static void add_row(msc_diff_t *d, const msc_row_t *b, const msc_row_t *a, msc_diff_status_t status)
{
    const msc_row_t *named = a ? a : b;
    msc_diff_row_t r = {
        named->file,      named->function,  named->line,      b ? b->line : 0,  status,
        b ? b->bytes : 0, a ? a->bytes : 0, b ? b->count : 0, a ? a->count : 0, 0};
    r.delta_bytes = (int64_t)r.after_bytes - (int64_t)r.before_bytes;
    if (r.delta_bytes || r.before_count != r.after_count) d->rows[d->n++] = r;
}

/* Merges two sorted site lists: equal elements (by cmp) pair up; with
 * pair_status MSC_DIFF_MOVED the leftovers become new and gone rows. */
static void merge(msc_diff_t *d, site_t *b, size_t nb, site_t *a, size_t na,
                  int (*cmp)(const void *, const void *), msc_diff_status_t pair_status)
{
    size_t i = 0, j = 0;
    while (i < nb || j < na) {
        int c = i == nb ? 1 : j == na ? -1 : cmp(&b[i], &a[j]);
        if (c == 0) {
            add_row(d, b[i].row, a[j].row, pair_status);
            b[i++].matched = a[j++].matched = 1;
        } else if (c < 0) {
            if (pair_status == MSC_DIFF_MOVED) add_row(d, b[i].row, NULL, MSC_DIFF_GONE);
            i++;
        } else {
            if (pair_status == MSC_DIFF_MOVED) add_row(d, NULL, a[j].row, MSC_DIFF_NEW);
            j++;
        }
    }
}

/* Moves the unmatched sites to the front; returns how many there are. */
static size_t unmatched(site_t *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!s[i].matched) s[k++] = s[i];
    return k;
}

static int by_delta_desc(const void *pa, const void *pb)
{
    const msc_diff_row_t *a = pa, *b = pb;
    if (a->delta_bytes != b->delta_bytes) return a->delta_bytes < b->delta_bytes ? 1 : -1;
    int c = strcmp(a->file, b->file);
    return c ? c : a->line < b->line ? -1 : a->line > b->line;
}

int msc_diff(const msc_rows_t *before, const msc_rows_t *after, msc_diff_t *out)
{
    memset(out, 0, sizeof(*out));
    site_t *b = sites_of(before), *a = sites_of(after);
    out->rows = msc_malloc((before->n + after->n + 1) * sizeof(msc_diff_row_t));
    if (!a || !b || !out->rows || relocate(b, before->n, a, after->n) < 0) {
        msc_free(a);
        msc_free(b);
        msc_diff_release(out);
        return MSC_ENOMEM;
    }
    qsort(b, before->n, sizeof(site_t), by_site);
    qsort(a, after->n, sizeof(site_t), by_site);
    merge(out, b, before->n, a, after->n, by_site, MSC_DIFF_SAME_SITE);
    size_t nb = unmatched(b, before->n), na = unmatched(a, after->n);
    qsort(b, nb, sizeof(site_t), by_function_then_bytes);
    qsort(a, na, sizeof(site_t), by_function_then_bytes);
    /* Within a function both sides are now in rank order: the merge on the
     * function alone pairs largest with largest. */
    merge(out, b, nb, a, na, same_function, MSC_DIFF_MOVED);
    msc_free(a);
    msc_free(b);
    qsort(out->rows, out->n, sizeof(msc_diff_row_t), by_delta_desc);
    out->before_total = before->total_bytes;
    out->after_total = after->total_bytes;
    return 0;
}

void msc_diff_release(msc_diff_t *d)
{
    msc_free(d->rows);
    d->rows = NULL;
    d->n = 0;
}
