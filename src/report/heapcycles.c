/* The cycles report: how much garbage the collector would free, the
 * reference cycles in it grouped by the kinds of objects they join, and
 * for each group the reference to make weak (weakref.ref, weakref.proxy,
 * or a WeakValueDictionary) so that reference counting frees the objects
 * as soon as they go out of use, without waiting for a collection. As text
 * and as JSON. */
#include <stdio.h>

#include "memscope/heapreport.h"
#include "report.h"

static void write_advice(FILE *out, const msc_heap_cycle_group_t *g)
{
    char weaken[MSC_TEXT_BUF];
    if (g->weaken) msc__text_in(g->weaken, weaken, sizeof(weaken));
    if (!g->weaken) {
        fprintf(out,
                "%34sno single named reference breaks every cycle in it: "
                "break them explicitly (a close() or clear() method)\n",
                "");
    } else if (g->weakrefable) {
        fprintf(out,
                "%34sbreak it: make %s a weak reference (weakref.ref or weakref.proxy); "
                "%u such reference%s in this cycle\n",
                "", weaken, g->weaken_refs, g->weaken_refs == 1 ? "" : "s");
    } else {
        fprintf(out,
                "%34sbreak it: stop holding %s strongly (it refers to a builtin "
                "container, which weakref.ref cannot refer to: hold its owner weakly, "
                "or clear it when done); %u such reference%s in this cycle\n",
                "", weaken, g->weaken_refs, g->weaken_refs == 1 ? "" : "s");
    }
}

int msc_heap_write_cycles(FILE *out, const msc_heap_t *h, const msc_heap_cycles_t *c, size_t limit)
{
    size_t shown = limit && limit < c->len ? limit : c->len;
    fprintf(out,
            "Garbage the collector would free: %llu objects, %llu bytes, in %llu "
            "reference cycle%s.\n",
            (unsigned long long)c->garbage_objects, (unsigned long long)c->garbage_bytes,
            (unsigned long long)c->cycle_count, c->cycle_count == 1 ? "" : "s");
    if (!c->len) return ferror(out) ? MSC_EIO : 0;
    fprintf(out, "\n  Cycles   Objects        Bytes  Kinds in the cycle\n");
    for (size_t i = 0; i < shown; i++) {
        const msc_heap_cycle_group_t *g = &c->groups[i];
        char what[600], kinds[MSC_TEXT_BUF], site[MSC_TEXT_BUF];
        fprintf(out, "%8llu %9llu %12llu  %s\n%34se.g. %s\n", (unsigned long long)g->cycles,
                (unsigned long long)g->objects, (unsigned long long)g->bytes,
                msc__text_in(g->kinds, kinds, sizeof(kinds)), "",
                msc_heap_describe(h, g->example, what, sizeof(what)));
        if (g->site)
            fprintf(out, "%34s%llu of them allocated at %s\n", "",
                    (unsigned long long)g->site_count,
                    msc__text_in(msc_heap_string(h, g->site, NULL), site, sizeof(site)));
        write_advice(out, g);
    }
    if (shown < c->len) fprintf(out, "<%zu more groups>\n", c->len - shown);
    return ferror(out) ? MSC_EIO : 0;
}

static void json_group(msc_json_t *j, const msc_heap_t *h, const msc_heap_cycle_group_t *g)
{
    msc_json_newline(j, 2);
    msc_json_object_begin(j, NULL);
    msc_json_str(j, "kinds", g->kinds);
    msc_json_u64(j, "cycles", g->cycles);
    msc_json_u64(j, "objects", g->objects);
    msc_json_u64(j, "bytes", g->bytes);
    msc__heap_json_object(j, "example", h, g->example);
    msc_json_str(j, "weaken", g->weaken);
    msc_json_u64(j, "weaken_refs", g->weaken_refs);
    msc_json_bool(j, "weakrefable", g->weakrefable);
    msc_json_str(j, "site", g->site ? msc_heap_string(h, g->site, NULL) : NULL);
    msc_json_u64(j, "site_count", g->site_count);
    msc_json_end(j);
}

int msc_heap_write_cycles_json(FILE *out, const msc_heap_t *h, const msc_heap_cycles_t *c,
                               size_t limit)
{
    size_t shown = limit && limit < c->len ? limit : c->len;
    msc_json_t j;
    msc_json_init(&j, out, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_u64(&j, "garbage_objects", c->garbage_objects);
    msc_json_u64(&j, "garbage_bytes", c->garbage_bytes);
    msc_json_u64(&j, "cycles", c->cycle_count);
    msc_json_u64(&j, "total_groups", c->len);
    msc_json_array_begin(&j, "groups");
    for (size_t i = 0; i < shown; i++) json_group(&j, h, &c->groups[i]);
    msc_json_end(&j);
    msc_json_end(&j);
    return msc_json_finish(&j);
}
