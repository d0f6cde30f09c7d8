/* Advice from a heap snapshot and from a capture: deterministic rules, each naming what to
 * change, the evidence it measured, and the bytes the change saves, computed
 * with CPython's own sizing rules. The rules (src/core/advise.c):
 *
 *   slots    many instances of a class, each with its attributes in a dict or
 *            in values beside its class's shared keys: __slots__ keeps the
 *            attributes in the object itself
 *   array    a list or tuple of many ints (or floats) that only it holds:
 *            array.array('q') (or 'd') stores them as 8-byte machine values
 *   intern   equal str/bytes held in many copies: sys.intern() or a dict of
 *            canonical values keeps one (msc_heap_duplicates)
 *   empty    empty and mostly empty containers (msc_heap_empty)
 *   weakref  reference cycles: the reference to make weak, so that reference
 *            counting frees them without waiting for the collector
 *            (msc_heap_cycles)
 *   dtype    a numpy array whose sampled values fit a narrower dtype of the
 *            same kind: astype saves nbytes less the narrower nbytes
 *   downcast the same for a pandas column's numbers
 *   category a pandas column of objects with few distinct values: codes and
 *            each value once (src/core/advarrays.c)
 *
 *   cache    a free-standing dict that two snapshots of one process show
 *            growing and holding a tenth of the heap: a bound, saving what
 *            it retains beyond what it retained in the older snapshot
 *            (src/core/advise_growth.c)
 *
 * and over a capture's events (src/core/advise_capture.c):
 *
 *   generator  a list built whole on one line (a comprehension, list(...))
 *              that was live at the peak, with what the line called, and
 *              dropped before the end: iterating the source makes and drops
 *              the items one at a time (the saving is the peak the capture
 *              has without the blocks of the stacks the line is on)
 *   join       a line that builds a str or bytes by `+=`, each allocation a
 *              longer copy of the last: ''.join allocates the result once
 *              (the saving is in bytes allocated, not in the peak)
 *
 * Each piece of advice is ranked by bytes saved. Its report is
 * msc_report_advice (memscope/report.h). */
#ifndef MEMSCOPE_ADVISE_H
#define MEMSCOPE_ADVISE_H

#include <stddef.h>
#include <stdint.h>

#include "memscope/heap.h"

typedef struct msc_advice {
    const char *rule;          /* static: "slots", "array", "intern", "empty", "weakref",
                                  "dtype", "downcast", "category", "cache",
                                  "generator", "join" */
    const char *measure;       /* static: what bytes_saved is less of: "held" (live in
                                  the snapshot), "peak" (the capture's peak) or
                                  "allocated" (bytes allocated in all) */
    char *title;               /* owned: "Give __main__.Point __slots__" */
    char *evidence;            /* owned: what was measured */
    char *change;              /* owned: what to write instead */
    uint64_t bytes_saved;
    uint32_t site;             /* string id in the heap snapshot of where the objects
                                  were allocated ("file:line in function"), 0 when
                                  unknown or when where is set */
    char *where;               /* owned, or NULL: the same, for a capture's advice */
} msc_advice_t;

typedef struct msc_advice_list {
    msc_advice_t *items;       /* owned; sorted by bytes_saved, descending */
    size_t len;
    size_t cap;
} msc_advice_list_t;

/* Runs every rule on h (which needs its contents: digests and container
 * lengths): 0 or MSC_ENOMEM. Release with msc_advice_list_release. */
int msc_advise_heap(const msc_heap_t *h, msc_advice_list_t *out);

/* Runs the cache rule on two snapshots of one process (nothing when their
 * pids differ), appending to out and sorting it again: 0 or MSC_ENOMEM. */
int msc_advise_growth(const msc_heap_t *older, const msc_heap_t *newer, msc_advice_list_t *out);

struct msc_analysis;
struct msc_symbols;
struct msc_rows;
struct msc_views_values;
/* Runs the capture rules on a, the finished analysis of the capture at path
 * (whose symbols are sym), appending to out (which may hold a heap's advice
 * already) and sorting it again. values: a's stack values of the peak and
 * exit views, read already (msc_views_values_read), else NULL; by_line:
 * the capture's rows of every view by line, not inclusive
 * (msc_aggregate_views with MSC_BY_LINE), when the caller has them already
 * (the HTML report's tables), else NULL. The rules read the source lines
 * named by the capture and replay the capture again for each candidate. 0,
 * or a negative MSC_E code (out then holds what it held before). */
int msc_advise_capture(const char *path, const struct msc_analysis *a, struct msc_symbols *sym,
                       const struct msc_views_values *values, const struct msc_rows *by_line,
                       msc_advice_list_t *out);

/* Appends a (taking its strings, which are freed here when it fails): 0 or
 * MSC_ENOMEM. A NULL title, evidence or change is taken as out of memory. */
int msc_advice_add(msc_advice_list_t *l, const msc_advice_t *a);
/* Most bytes saved first. */
void msc_advice_list_sort(msc_advice_list_t *l);
void msc_advice_list_release(msc_advice_list_t *l);

#endif
