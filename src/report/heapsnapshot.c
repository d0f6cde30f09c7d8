/* Chrome DevTools .heapsnapshot export: the heap snapshot as the JSON the
 * browser's Memory tab loads, so its summary, containment, retainers and
 * dominators views work on a Python heap. Node and edge records are flat
 * runs of integers whose layout snapshot.meta declares; the strings table
 * is the snapshot's own strings, then the type names, then the root's
 * name, so names need no second intern table. */
#include <stdio.h>
#include <string.h>

#include "memscope/heapreport.h"
#include "report.h"

#define NODE_FIELDS 7

enum node_type { N_HIDDEN, N_ARRAY, N_STRING, N_OBJECT, N_CODE, N_CLOSURE, N_REGEXP, N_NUMBER,
                 N_NATIVE, N_SYNTHETIC };
enum edge_type { E_CONTEXT, E_ELEMENT, E_PROPERTY, E_INTERNAL, E_HIDDEN };

static const char META[] =
    "{\"snapshot\":{\"meta\":{"
    "\"node_fields\":[\"type\",\"name\",\"id\",\"self_size\",\"edge_count\",\"trace_node_id\","
    "\"detachedness\"],"
    "\"node_types\":[[\"hidden\",\"array\",\"string\",\"object\",\"code\",\"closure\",\"regexp\","
    "\"number\",\"native\",\"synthetic\",\"concatenated string\",\"sliced string\",\"symbol\","
    "\"bigint\",\"object shape\"],\"string\",\"number\",\"number\",\"number\",\"number\",\"number\"],"
    "\"edge_fields\":[\"type\",\"name_or_index\",\"to_node\"],"
    "\"edge_types\":[[\"context\",\"element\",\"property\",\"internal\",\"hidden\",\"shortcut\","
    "\"weak\"],\"string_or_number\",\"node\"],"
    "\"trace_function_info_fields\":[\"function_id\",\"name\",\"script_name\",\"script_id\","
    "\"line\",\"column\"],"
    "\"trace_node_fields\":[\"id\",\"function_info_index\",\"count\",\"size\",\"children\"],"
    "\"sample_fields\":[\"timestamp_us\",\"last_assigned_id\"],"
    "\"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"]},";

static int type_is(const msc_heap_t *h, uint32_t v, const char *name)
{
    return strcmp(msc_heap_string(h, h->types[h->type[v]].name, NULL), name) == 0;
}

/* Frames and inline attribute values are hidden nodes: no objects of the
 * program, so the summary counts no "dict" where the interpreter has none,
 * while their bytes stay in their holders' retained sizes. */
static enum node_type node_type(const msc_heap_t *h, uint32_t v)
{
    if (v == 0) return N_SYNTHETIC;
    if (h->flags[v] & MSC_HEAP_SYNTHETIC) return N_HIDDEN;
    if (type_is(h, v, "str")) return N_STRING;
    if (type_is(h, v, "int") || type_is(h, v, "float") || type_is(h, v, "bool") ||
        type_is(h, v, "complex"))
        return N_NUMBER;
    if (type_is(h, v, "function")) return N_CLOSURE;
    if (type_is(h, v, "code")) return N_CODE;
    return N_OBJECT;
}

/* A node's name: a str's text (its preview), else its type's name. */
static uint32_t node_name(const msc_heap_t *h, uint32_t v)
{
    if (v == 0) return h->string_count + h->type_count;
    if (h->preview[v] && type_is(h, v, "str")) return h->preview[v];
    return h->string_count + h->type[v];
}

static void write_nodes(FILE *out, const msc_heap_t *h)
{
    fprintf(out, "\"node_count\":%u,\"edge_count\":%llu,\"trace_function_count\":0},\n\"nodes\":[",
            h->node_count, (unsigned long long)h->edge_count);
    for (uint32_t v = 0; v < h->node_count; v++)
        fprintf(out, "%s%d,%u,%llu,%llu,%llu,0,0", v ? ",\n" : "", node_type(h, v),
                node_name(h, v), 2ULL * v + 1, (unsigned long long)h->size[v],
                (unsigned long long)(h->edge_start[v + 1] - h->edge_start[v]));
    fputs("],\n", out);
}

static void edge_kind(const msc_heap_t *h, uint32_t from, uint32_t label, uint64_t k,
                      int *type, uint64_t *name)
{
    /* A list index is no string id: only a name's text is looked up. */
    const char *text = label & MSC_HEAP_LABEL_INDEX ? "" : msc_heap_string(h, label, NULL);
    *name = label;
    if (label & MSC_HEAP_LABEL_INDEX) *type = E_ELEMENT, *name = label & ~MSC_HEAP_LABEL_INDEX;
    else if (label == 0) *type = E_HIDDEN, *name = k;
    else if (from && (h->flags[from] & MSC_HEAP_SYNTHETIC) && !type_is(h, from, "dict"))
        *type = E_CONTEXT; /* a frame's local variable */
    else if (text[0] == '<' || strcmp(text, "__dict__") == 0 || strcmp(text, "__class__") == 0)
        *type = E_INTERNAL;
    else *type = E_PROPERTY;
}

static void write_edges(FILE *out, const msc_heap_t *h)
{
    fputs("\"edges\":[", out);
    for (uint32_t u = 0; u < h->node_count; u++) {
        for (uint64_t e = h->edge_start[u]; e < h->edge_start[u + 1]; e++) {
            int type;
            uint64_t name;
            edge_kind(h, u, h->edge_label[e], e - h->edge_start[u], &type, &name);
            fprintf(out, "%s%d,%llu,%llu", e ? ",\n" : "", type, (unsigned long long)name,
                    (unsigned long long)h->edge_to[e] * NODE_FIELDS);
        }
    }
    fputs("],\n", out);
}

static void write_strings(FILE *out, const msc_heap_t *h)
{
    fputs("\"trace_function_infos\":[],\"trace_tree\":[],\"samples\":[],\"locations\":[],\n"
          "\"strings\":[", out);
    for (uint32_t id = 0; id < h->string_count; id++) {
        size_t n;
        const char *s = msc_heap_string(h, id, &n);
        if (id) fputs(",\n", out);
        msc__json_bytes(out, s, n);
    }
    for (uint32_t t = 0; t < h->type_count; t++) {
        char name[400];
        msc_heap_type_name(h, t, name, sizeof(name));
        fputs(",\n", out);
        msc__json_bytes(out, name, strlen(name));
    }
    fputs(",\n\"(memscope roots)\"]}\n", out);
}

int msc_heap_write_heapsnapshot(FILE *out, const msc_heap_t *h)
{
    fputs(META, out);
    write_nodes(out, h);
    write_edges(out, h);
    write_strings(out, h);
    return ferror(out) ? MSC_EIO : 0;
}
