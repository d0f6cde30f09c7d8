/* The cache rule (memscope/advise.h): a dict that two heap snapshots of one
 * process show growing, and holding a large share of the heap. An object
 * keeps its address for its whole life, so the same address with the same
 * type in both snapshots is the same dict. Its retained size in each (what
 * would be freed if it went, from the dominator trees) measures it; bounded
 * at the size it had in the older snapshot, it would hold what it held
 * then, so the saving is the growth of its retained size.
 *
 * Attribute dicts (a module's globals, an instance's __dict__) grow with
 * their owner and are left out: only free-standing dicts are caches. */
#include <string.h>

#include "internal.h"
#include "memscope/advise.h"
#include "memscope/heapanalysis.h"
#include "heapint.h"

#define CACHE_MIN_BYTES (1u << 20) /* retained in the newer snapshot */
#define CACHE_MIN_SHARE 10         /* and a tenth of the heap */
#define CACHE_MIN_GROWTH 10        /* growing by a tenth at least */

static int is_dict(const msc_heap_container_t *c)
{
    return c && (c->layout == MSC_HEAP_DICT || c->layout == MSC_HEAP_DICT_STR);
}

/* Node v of newer as it was in older: UINT32_MAX when older has no object
 * of the same type at its address. */
static uint32_t in_older(const msc_heap_t *older, const msc_heap_t *newer, uint32_t v)
{
    uint32_t o = msc_heap_find(older, newer->addr[v]);
    if (o == UINT32_MAX) return o;
    char a[256], b[256];
    msc_heap_type_name(older, older->type[o], a, sizeof(a));
    msc_heap_type_name(newer, newer->type[v], b, sizeof(b));
    return strcmp(a, b) == 0 ? o : UINT32_MAX;
}

typedef struct grown {
    const msc_heap_t *older, *newer;
    msc_heap_dom_t d_old, d_new;
    msc_heap_paths_t paths;    /* newer's, for naming */
    uint32_t *owners;          /* newer's dict owners */
} grown_t;

static int advise_one(grown_t *g, uint32_t v, uint32_t o, msc_advice_list_t *l)
{
    const msc_heap_t *h = g->newer;
    uint64_t now = g->d_new.retained[v], then = g->d_old.retained[o];
    uint64_t len_now = msc_heap_container(h, v)->length,
             len_then = msc_heap_container(g->older, o)->length;
    char path[512], type[256];
    msc_heap_path_text(h, &g->paths, v, path, sizeof(path));
    msc_heap_type_name(h, h->type[v], type, sizeof(type));
    double seconds =
        h->time_ns > g->older->time_ns ? (double)(h->time_ns - g->older->time_ns) / 1e9 : 0;
    msc_advice_t a = {
        "cache",
        "held",
        msc_strfmt("Bound the %s %s", type, path),
        msc_strfmt(
            "between the snapshots (%.1f s apart) it grew from %llu to %llu entries and "
            "from %llu to %llu bytes with what only it holds, %llu%% of the heap",
            seconds, (unsigned long long)len_then, (unsigned long long)len_now,
            (unsigned long long)then, (unsigned long long)now,
            (unsigned long long)(100 * now / (g->d_new.retained[0] ? g->d_new.retained[0] : 1))),
        msc_strfmt("bound it: functools.lru_cache(maxsize=%llu) for a memoised function, an "
                   "OrderedDict trimmed with popitem(last=False) past %llu entries, or a "
                   "weakref.WeakValueDictionary when its values are held elsewhere anyway",
                   (unsigned long long)len_then, (unsigned long long)len_then),
        now - then,
        h->site ? h->site[v] : 0,
        NULL};
    return msc_advice_add(l, &a);
}

static int scan(grown_t *g, msc_advice_list_t *l)
{
    const msc_heap_t *h = g->newer;
    uint64_t heap = g->d_new.retained[0];
    uint64_t floor =
        heap / CACHE_MIN_SHARE > CACHE_MIN_BYTES ? heap / CACHE_MIN_SHARE : CACHE_MIN_BYTES;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < h->container_count; i++) {
        uint32_t v = h->containers[i].node;
        if (!is_dict(&h->containers[i]) || g->owners[v] != UINT32_MAX ||
            g->d_new.idom[v] == UINT32_MAX || g->d_new.retained[v] < floor)
            continue;
        uint32_t o = in_older(g->older, h, v);
        if (o == UINT32_MAX || !is_dict(msc_heap_container(g->older, o))) continue;
        uint64_t now = g->d_new.retained[v], then = g->d_old.retained[o];
        if (g->d_old.idom[o] == UINT32_MAX || now < then + then / CACHE_MIN_GROWTH ||
            msc_heap_container(h, v)->length <= msc_heap_container(g->older, o)->length)
            continue;
        rc = advise_one(g, v, o, l);
    }
    return rc;
}

int msc_advise_growth(const msc_heap_t *older, const msc_heap_t *newer, msc_advice_list_t *out)
{
    if (older->pid != newer->pid || !newer->containers || !older->containers) return 0;
    grown_t g = {older, newer, {0}, {0}, {0}, NULL};
    int rc = msc_heap_dominators(older, &g.d_old);
    if (rc == 0) rc = msc_heap_dominators(newer, &g.d_new);
    if (rc == 0) rc = msc_heap_paths(newer, &g.paths);
    if (rc == 0 && !(g.owners = msc_heap_dict_owners(newer))) rc = MSC_ENOMEM;
    if (rc == 0) rc = scan(&g, out);
    msc_free(g.owners);
    msc_heap_paths_release(&g.paths);
    msc_heap_dom_release(&g.d_new);
    msc_heap_dom_release(&g.d_old);
    if (rc == 0) msc_advice_list_sort(out);
    return rc;
}
