/* Advice from a heap snapshot: deterministic rules, each naming what to
 * change, the evidence it measured, and the bytes the change saves, computed
 * with CPython's own sizing rules. The rules (src/core/advise.c):
 *
 *   slots    many instances of a class, each with its attributes in a dict or
 *            in values beside its class's shared keys: __slots__ keeps the
 *            attributes in the object itself
 *   array    a list of many ints that only it holds: array.array('q') stores
 *            them as 8-byte machine integers
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
 * Each piece of advice is ranked by bytes saved. Its report is
 * msc_report_advice (memscope/report.h). */
#ifndef MEMSCOPE_ADVISE_H
#define MEMSCOPE_ADVISE_H

#include <stddef.h>
#include <stdint.h>

#include "memscope/heap.h"

typedef struct msc_advice {
    const char *rule;          /* static: "slots", "array", "intern", "empty", "weakref",
                                  "dtype", "downcast", "category" */
    char *title;               /* owned: "Give __main__.Point __slots__" */
    char *evidence;            /* owned: what was measured */
    char *change;              /* owned: what to write instead */
    uint64_t bytes_saved;
    uint32_t site;             /* string id of where the objects were allocated
                                  ("file:line in function"), 0 when unknown */
} msc_advice_t;

typedef struct msc_advice_list {
    msc_advice_t *items;       /* owned; sorted by bytes_saved, descending */
    size_t len;
    size_t cap;
} msc_advice_list_t;

/* Runs every rule on h (which needs its contents: digests and container
 * lengths): 0 or MSC_ENOMEM. Release with msc_advice_list_release. */
int msc_advise_heap(const msc_heap_t *h, msc_advice_list_t *out);
void msc_advice_list_release(msc_advice_list_t *l);

#endif
