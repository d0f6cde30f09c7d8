/* Folding per-stack values into report rows: by line, function or file of
 * the innermost frame (where the allocation happened, tracemalloc's
 * "lineno"), or inclusively over every frame of the stack (what a line cost
 * including everything it called, memory_profiler's view). */
#ifndef MEMSCOPE_AGGREGATE_H
#define MEMSCOPE_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#include "memscope/analysis.h"
#include "memscope/symbols.h"
#include "memscope/tree.h"

typedef enum msc_group {
    MSC_BY_LINE = 0,
    MSC_BY_FUNCTION = 1,
    MSC_BY_FILE = 2,
    MSC_BY_SOURCE_LINE = 3,    /* file and line, whatever the function (a line
                                  shared by a function and its comprehension) */
} msc_group_t;

typedef struct msc_row {
    const char *file;          /* borrowed from the symbols */
    const char *function;      /* NULL when grouped by file */
    uint32_t line;             /* 0 when grouped by function or file */
    uint64_t bytes;
    uint64_t count;
} msc_row_t;

typedef struct msc_rows {
    msc_row_t *rows;           /* sorted by bytes, descending; owned */
    size_t n;
    uint64_t total_bytes;      /* sum over all rows, for percentages */
} msc_rows_t;

/* Groups every stack's values for view. inclusive counts each stack once
 * toward every distinct key on it; only_file, if not NULL, keeps frames of
 * that file only (matched exactly, or by path suffix at a '/'). Returns 0
 * or MSC_ENOMEM; free with msc_rows_release. */
int msc_aggregate(const msc_analysis_t *a, msc_symbols_t *sym, msc_view_t view, msc_group_t group,
                  int inclusive, const char *only_file, msc_rows_t *out);
/* The same for several views at once (views: a bit 1 << view each), into
 * out[view] for each view asked (out holds at least the highest view asked
 * plus one; the others are not touched); one pass over the stacks instead
 * of one a view. Release each with msc_rows_release. */
int msc_aggregate_views(const msc_analysis_t *a, msc_symbols_t *sym, unsigned views,
                        msc_group_t group, int inclusive, const char *only_file, msc_rows_t *out);
/* The same from values read already (msc_views_values_read; views it did
 * not read are empty): for a caller that reads them once for several uses. */
int msc_aggregate_views_of(const msc_views_values_t *vv, msc_symbols_t *sym, unsigned views,
                           msc_group_t group, int inclusive, const char *only_file,
                           msc_rows_t *out);
/* Not inclusive and for every file, for several groupings at once (groups:
 * a bit 1 << group each), into out[group][view]: one pass over the values,
 * each stack's frame resolved once for every grouping. */
int msc_aggregate_groups(const msc_views_values_t *vv, msc_symbols_t *sym, unsigned views,
                         unsigned groups, msc_rows_t (*out)[MSC_VIEW_ALL]);
void msc_rows_release(msc_rows_t *r);

/* Whether file names the same source as path (equal, or one ends with
 * "/" + the other). */
int msc_same_file(const char *file, const char *path);

#endif
