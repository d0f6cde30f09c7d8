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

enum node_type {
    N_HIDDEN,
    N_ARRAY,
    N_STRING,
    N_OBJECT,
    N_CODE,
    N_CLOSURE,
    N_REGEXP,
    N_NUMBER,
    N_NATIVE,
    N_SYNTHETIC
};
enum edge_type { E_CONTEXT, E_ELEMENT, E_PROPERTY, E_INTERNAL, E_HIDDEN };

/* snapshot.meta: the layout of the records, the same in every file. */
static const char META[] =
    "{"
    "\"node_fields\":[\"type\",\"name\",\"id\",\"self_size\",\"edge_count\",\"trace_node_id\","
    "\"detachedness\"],"
    "\"node_types\":[[\"hidden\",\"array\",\"string\",\"object\",\"code\",\"closure\",\"regexp\","
    "\"number\",\"native\",\"synthetic\",\"concatenated string\",\"sliced string\",\"symbol\","
    "\"bigint\",\"object "
    "shape\"],\"string\",\"number\",\"number\",\"number\",\"number\",\"number\"],"
    "\"edge_fields\":[\"type\",\"name_or_index\",\"to_node\"],"
    "\"edge_types\":[[\"context\",\"element\",\"property\",\"internal\",\"hidden\",\"shortcut\","
    "\"weak\"],\"string_or_number\",\"node\"],"
    "\"trace_function_info_fields\":[\"function_id\",\"name\",\"script_name\",\"script_id\","
    "\"line\",\"column\"],"
    "\"trace_node_fields\":[\"id\",\"function_info_index\",\"count\",\"size\",\"children\"],"
    "\"sample_fields\":[\"timestamp_us\",\"last_assigned_id\"],"
    "\"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"]}";

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

/* A record of a flat integer array: its fields, each record after the
 * first on a line of its own. */
static void record(msc_json_t *j, int first, const uint64_t *fields, size_t n)
{
    if (!first) msc_json_newline(j, 0);
    for (size_t i = 0; i < n; i++) msc_json_u64(j, NULL, fields[i]);
}

static void write_nodes(msc_json_t *j, const msc_heap_t *h)
{
    msc_json_u64(j, "node_count", h->node_count);
    msc_json_u64(j, "edge_count", h->edge_count);
    msc_json_u64(j, "trace_function_count", 0);
    msc_json_end(j); /* snapshot */
    msc_json_newline(j, 0);
    msc_json_array_begin(j, "nodes");
    for (uint32_t v = 0; v < h->node_count; v++) {
        uint64_t f[NODE_FIELDS] = {(uint64_t)node_type(h, v),
                                   node_name(h, v),
                                   2ULL * v + 1,
                                   h->size[v],
                                   h->edge_start[v + 1] - h->edge_start[v],
                                   0,
                                   0};
        record(j, v == 0, f, NODE_FIELDS);
    }
    msc_json_end(j);
}

static void edge_kind(const msc_heap_t *h, uint32_t from, uint32_t label, uint64_t k, int *type,
                      uint64_t *name)
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

static void write_edges(msc_json_t *j, const msc_heap_t *h)
{
    msc_json_newline(j, 0);
    msc_json_array_begin(j, "edges");
    for (uint32_t u = 0; u < h->node_count; u++) {
        for (uint64_t e = h->edge_start[u]; e < h->edge_start[u + 1]; e++) {
            int type;
            uint64_t name;
            edge_kind(h, u, h->edge_label[e], e - h->edge_start[u], &type, &name);
            uint64_t f[3] = {(uint64_t)type, name, (uint64_t)h->edge_to[e] * NODE_FIELDS};
            record(j, e == 0, f, 3);
        }
    }
    msc_json_end(j);
}

static void write_strings(msc_json_t *j, const msc_heap_t *h)
{
    static const char *const empty[] = {"trace_function_infos", "trace_tree", "samples",
                                        "locations"};
    for (size_t i = 0; i < 4; i++) {
        if (i == 0) msc_json_newline(j, 0);
        msc_json_array_begin(j, empty[i]);
        msc_json_end(j);
    }
    msc_json_newline(j, 0);
    msc_json_array_begin(j, "strings");
    for (uint32_t id = 0; id < h->string_count; id++) {
        size_t n;
        const char *s = msc_heap_string(h, id, &n);
        if (id) msc_json_newline(j, 0);
        msc_json_strn(j, NULL, s, n);
    }
    for (uint32_t t = 0; t < h->type_count; t++) {
        char name[400];
        msc_json_newline(j, 0);
        msc_json_str(j, NULL, msc_heap_type_name(h, t, name, sizeof(name)));
    }
    msc_json_newline(j, 0);
    msc_json_str(j, NULL, "(memscope roots)");
    msc_json_end(j);
}

int msc_heap_write_heapsnapshot(FILE *out, const msc_heap_t *h)
{
    msc_json_t j;
    msc_json_init(&j, out, MSC_JSON_COMPACT);
    msc_json_object_begin(&j, NULL);
    msc_json_object_begin(&j, "snapshot");
    msc_json_key(&j, "meta");
    fputs(META, out);
    write_nodes(&j, h);
    write_edges(&j, h);
    write_strings(&j, h);
    msc_json_end(&j);
    return msc_json_finish(&j);
}
