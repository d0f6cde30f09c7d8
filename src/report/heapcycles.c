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
        fprintf(out, "%34sno single named reference breaks every cycle in it: "
                     "break them explicitly (a close() or clear() method)\n", "");
    } else if (g->weakrefable) {
        fprintf(out, "%34sbreak it: make %s a weak reference (weakref.ref or weakref.proxy); "
                     "%u such reference%s in this cycle\n", "", weaken, g->weaken_refs,
                g->weaken_refs == 1 ? "" : "s");
    } else {
        fprintf(out, "%34sbreak it: stop holding %s strongly (it refers to a builtin "
                     "container, which weakref.ref cannot refer to: hold its owner weakly, "
                     "or clear it when done); %u such reference%s in this cycle\n", "",
                weaken, g->weaken_refs, g->weaken_refs == 1 ? "" : "s");
    }
}

int msc_heap_write_cycles(FILE *out, const msc_heap_t *h, const msc_heap_cycles_t *c,
                          size_t limit)
{
    size_t shown = limit && limit < c->len ? limit : c->len;
    fprintf(out, "Garbage the collector would free: %llu objects, %llu bytes, in %llu "
                 "reference cycle%s.\n", (unsigned long long)c->garbage_objects,
            (unsigned long long)c->garbage_bytes, (unsigned long long)c->cycle_count,
            c->cycle_count == 1 ? "" : "s");
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

int msc_heap_write_cycles_json(FILE *out, const msc_heap_t *h, const msc_heap_cycles_t *c,
                               size_t limit)
{
    size_t shown = limit && limit < c->len ? limit : c->len;
    fprintf(out, "{\"garbage_objects\": %llu, \"garbage_bytes\": %llu, \"cycles\": %llu, "
                 "\"total_groups\": %zu, \"groups\": [", (unsigned long long)c->garbage_objects,
            (unsigned long long)c->garbage_bytes, (unsigned long long)c->cycle_count, c->len);
    for (size_t i = 0; i < shown; i++) {
        const msc_heap_cycle_group_t *g = &c->groups[i];
        fputs(i ? ",\n  {\"kinds\": " : "\n  {\"kinds\": ", out);
        msc__json_text(out, g->kinds);
        fprintf(out, ", \"cycles\": %llu, \"objects\": %llu, \"bytes\": %llu, \"example\": ",
                (unsigned long long)g->cycles, (unsigned long long)g->objects,
                (unsigned long long)g->bytes);
        msc__heap_json_object(out, h, g->example);
        fputs(", \"weaken\": ", out);
        if (g->weaken) msc__json_text(out, g->weaken);
        else fputs("null", out);
        fprintf(out, ", \"weaken_refs\": %u, \"weakrefable\": %s, \"site\": ", g->weaken_refs,
                g->weakrefable ? "true" : "false");
        if (g->site) msc__json_text(out, msc_heap_string(h, g->site, NULL));
        else fputs("null", out);
        fprintf(out, ", \"site_count\": %llu}", (unsigned long long)g->site_count);
    }
    fputs("]}\n", out);
    return ferror(out) ? MSC_EIO : 0;
}
