/* Who allocated what the heap holds: joins a heap snapshot's nodes to the
 * allocation recorder's live map. The Python side knows where each object's
 * memory block starts (the object minus its pre-header); this file looks
 * that block up in the analysis of the capture being recorded and names it
 * by the innermost frame of its stack, interned in the heap's own strings so
 * that the snapshot file carries the site without the capture. */
#include <stdio.h>

#include "internal.h"
#include "memscope/analysis.h"
#include "memscope/heap.h"
#include "memscope/symbols.h"

/* Most objects of a heap come from few stacks, often in runs (a loop
 * filling a container), so the last stack's string is remembered. */
typedef struct site_cache {
    uint32_t stack;
    uint32_t id;
} site_cache_t;

static int site_of(msc_heap_t *h, struct msc_symbols *sym, uint32_t stack, site_cache_t *last,
                   uint32_t *id)
{
    if (stack == last->stack) {
        *id = last->id;
        return 0;
    }
    msc_frame_t f;
    char text[1024];
    msc_symbols_frame(sym, stack, &f);
    int n = snprintf(text, sizeof(text), "%s:%u in %s", f.file, f.line, f.function);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
    if (msc_heap_intern(h, text, len, id) < 0) return MSC_ENOMEM;
    *last = (site_cache_t){stack, *id};
    return 0;
}

int msc_heap_join_sites(msc_heap_t *h, const uint64_t *block, const struct msc_analysis *a,
                        struct msc_symbols *sym)
{
    uint32_t *site = msc_calloc(h->node_count, sizeof(uint32_t));
    if (!site) return MSC_ENOMEM;
    site_cache_t last = {0, 0};
    uint32_t found = 0;
    for (uint32_t v = 1; v < h->node_count; v++) {
        uint64_t size;
        uint32_t stack;
        if (!block[v] || !msc_analysis_block(a, block[v], &size, &stack) || stack == 0) continue;
        if (site_of(h, sym, stack, &last, &site[v]) < 0) {
            msc_free(site);
            return MSC_ENOMEM;
        }
        found++;
    }
    msc_free(h->site);
    h->site = found ? site : NULL;
    if (!found) msc_free(site);
    return 0;
}
