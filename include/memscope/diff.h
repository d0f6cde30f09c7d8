/* Comparing two captures of one program, site by site: the rows of one view
 * (msc_aggregate) of BEFORE and AFTER matched by file, function and line;
 * sites left over in a function present on both sides are then paired by
 * rank (largest with largest), so a site whose line moved because code
 * above it changed still compares with itself; and a program run from
 * another checkout has its files matched by their path inside it. What CI
 * gates on. */
#ifndef MEMSCOPE_DIFF_H
#define MEMSCOPE_DIFF_H

#include <stdint.h>

#include "memscope/aggregate.h"

typedef enum msc_diff_status {
    MSC_DIFF_SAME_SITE = 0,    /* matched by file, function and line */
    MSC_DIFF_MOVED = 1,        /* matched by function; the line changed */
    MSC_DIFF_NEW = 2,          /* only in AFTER */
    MSC_DIFF_GONE = 3,         /* only in BEFORE */
} msc_diff_status_t;

typedef struct msc_diff_row {
    const char *file;          /* borrowed from the rows it came from */
    const char *function;      /* NULL when grouped by file */
    uint32_t line;             /* in AFTER (in BEFORE for a site that is gone) */
    uint32_t line_before;      /* in BEFORE; 0 for a new site */
    msc_diff_status_t status;
    uint64_t before_bytes, after_bytes;
    uint64_t before_count, after_count;
    int64_t delta_bytes;       /* after - before */
} msc_diff_row_t;

typedef struct msc_diff {
    msc_diff_row_t *rows;      /* sites whose bytes or count changed, biggest growth
                                  first, biggest shrink last; owned */
    size_t n;
    uint64_t before_total, after_total;
} msc_diff_t;

/* Matches before's rows with after's. Strings stay borrowed from both (keep
 * their symbols alive). Returns 0 or MSC_ENOMEM; free with msc_diff_release. */
int msc_diff(const msc_rows_t *before, const msc_rows_t *after, msc_diff_t *out);
void msc_diff_release(msc_diff_t *d);

#endif
