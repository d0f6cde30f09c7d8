/* `export --format pprof`: a gzipped perftools.profiles.Profile (schema in
 * pprof.proto, encoded by protobuf-c, gzipped by zlib) with four sample
 * types: alloc_objects/count and alloc_space/bytes (everything allocated),
 * inuse_objects/count and inuse_space/bytes (live at the chosen moment: the
 * peak, or the exit); and, for a capture with CPU samples (run --cpu), two
 * more: cpu/nanoseconds and wall/nanoseconds, the time the samples found
 * each stack running. One sample per stack, locations leaf first; a location
 * is one (function, file, line), a function one (name, file). Locations
 * and functions are numbered by the exports' shared frame numbering
 * (frameids.c), strings by pointer (the symbols intern them) in the core
 * table. */
#include <string.h>
#include <zlib.h>

#include "memscope/common.h"
#include "memscope/export.h"
#include "export.h"
#include "pprof.pb-c.h"

typedef Perftools__Profiles__Profile profile_t;
typedef Perftools__Profiles__Sample sample_t;
typedef Perftools__Profiles__Location location_t;
typedef Perftools__Profiles__Line line_t;
typedef Perftools__Profiles__Function function_t;
typedef Perftools__Profiles__ValueType value_type_t;

typedef struct builder {
    msc_symbols_t *sym;
    msc_table_t strings;       /* index of each string in string_table */
    msc_frame_ids_t functions; /* (name, file, 0): function i has id i + 1 */
    msc_frame_ids_t locations; /* (name, file, line): location i has id i + 1 */
    char **string_table;       /* owned array; the strings borrowed from the symbols */
    function_t *functions_v;   /* owned: function i */
    location_t *locations_v;   /* owned: location i, whose line is lines_v[i] */
    line_t *lines_v;
    size_t nstrings;
    size_t cap_strings, cap_functions, cap_locations, cap_lines; /* room in each array */
} builder_t;

static uint64_t string_hash(const void *ctx, uint32_t e)
{
    return (uintptr_t)((const builder_t *)ctx)->string_table[e];
}

/* Index of s in the string table; -1 on OOM. */
static int64_t string_of(builder_t *b, const char *s)
{
    if (msc_table_reserve(&b->strings, string_hash, b) < 0) return -1;
    size_t i = msc_table_slot(&b->strings, (uintptr_t)s);
    for (uint32_t e; (e = msc_table_entry(&b->strings, i)) != MSC_TABLE_EMPTY;
         i = msc_table_next(&b->strings, i))
        if (b->string_table[e] == s) return e;
    if (msc_array_grow((void **)&b->string_table, &b->cap_strings, b->nstrings + 1,
                       sizeof(char *)) < 0)
        return -1;
    b->string_table[b->nstrings++] = (char *)s;
    return msc_table_add(&b->strings, i);
}

/* Function id of frame f, added if new; 0 on OOM. */
static uint64_t function_of(builder_t *b, const msc_frame_t *f)
{
    size_t n = msc__frame_count(&b->functions);
    int64_t fn = msc__frame_number(&b->functions, f->function, f->file, 0);
    if (fn < 0) return 0;
    if ((size_t)fn < n) return (uint64_t)fn + 1;
    int64_t name = string_of(b, f->function), file = string_of(b, f->file);
    if (name < 0 || file < 0 ||
        msc_array_grow((void **)&b->functions_v, &b->cap_functions, n + 1, sizeof(function_t)) < 0)
        return 0;
    function_t *x = &b->functions_v[n];
    perftools__profiles__function__init(x);
    x->id = n + 1;
    x->name = x->system_name = name;
    x->filename = file;
    return x->id;
}

/* Location id of a trie node; 0 on OOM. */
static uint64_t location_of(builder_t *b, uint32_t node)
{
    msc_frame_t f;
    msc_symbols_frame(b->sym, node, &f);
    uint64_t fn = function_of(b, &f);
    size_t n = msc__frame_count(&b->locations);
    int64_t loc = fn ? msc__frame_number(&b->locations, f.function, f.file, f.line) : -1;
    if (loc < 0) return 0;
    if ((size_t)loc < n) return (uint64_t)loc + 1;
    if (msc_array_grow((void **)&b->locations_v, &b->cap_locations, n + 1, sizeof(location_t)) <
            0 ||
        msc_array_grow((void **)&b->lines_v, &b->cap_lines, n + 1, sizeof(line_t)) < 0)
        return 0;
    location_t *x = &b->locations_v[n];
    line_t *ln = &b->lines_v[n];
    perftools__profiles__location__init(x);
    perftools__profiles__line__init(ln);
    ln->function_id = fn;
    ln->line = f.line;
    x->id = n + 1;
    x->n_line = 1;
    return x->id;
}

static void builder_release(builder_t *b)
{
    msc_table_release(&b->strings);
    msc__frame_ids_release(&b->functions);
    msc__frame_ids_release(&b->locations);
    msc_free(b->string_table);
    msc_free(b->functions_v);
    msc_free(b->locations_v);
    msc_free(b->lines_v);
}

/* gzip of buf to out. */
static int write_gzip(FILE *out, const uint8_t *buf, size_t len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return MSC_ENOMEM;
    uint8_t chunk[1 << 16];
    z.next_in = (uint8_t *)buf;
    z.avail_in = (uInt)len;
    int rc;
    do {
        z.next_out = chunk;
        z.avail_out = sizeof(chunk);
        rc = deflate(&z, Z_FINISH);
        fwrite(chunk, 1, sizeof(chunk) - z.avail_out, out);
    } while (rc == Z_OK);
    deflateEnd(&z);
    return rc == Z_STREAM_END && !ferror(out) ? 0 : MSC_EIO;
}

typedef struct samples {
    sample_t *v;
    sample_t **ptrs;
    uint64_t *locations;       /* every sample's location ids, back to back */
    int64_t *values;           /* nvalues per sample */
    size_t n;
    size_t nvalues;            /* 4, or 6 with CPU and wall time */
} samples_t;

static int has_values(const msc_analysis_t *a, uint32_t x, int timed)
{
    return msc_analysis_node(a, MSC_VIEW_TOTAL, x).count ||
           (timed && msc_analysis_node(a, MSC_VIEW_WALL, x).count);
}

/* One sample per stack with allocations or time: [alloc_objects,
 * alloc_space, inuse_objects, inuse_space (, cpu, wall)], its locations
 * from the leaf out. */
static int build_samples(builder_t *b, const msc_analysis_t *a, msc_view_t inuse, samples_t *s)
{
    uint32_t nodes = msc_analysis_nodes(a);
    size_t n = 0, depth = 0, k = s->nvalues;
    int timed = k > 4;
    for (uint32_t x = 0; x < nodes; x++) {
        if (!has_values(a, x, timed)) continue;
        n++;
        depth += x ? msc_symbols_depth(b->sym, x) : 1;
    }
    s->v = msc_malloc((n + 1) * sizeof(sample_t));
    s->ptrs = msc_malloc((n + 1) * sizeof(sample_t *));
    s->locations = msc_malloc((depth + 1) * sizeof(uint64_t));
    s->values = msc_malloc((n + 1) * k * sizeof(int64_t));
    if (!s->v || !s->ptrs || !s->locations || !s->values) return MSC_ENOMEM;
    uint64_t *loc = s->locations;
    for (uint32_t x = 0; x < nodes; x++) {
        msc_node_values_t total = msc_analysis_node(a, MSC_VIEW_TOTAL, x);
        msc_node_values_t live = msc_analysis_node(a, inuse, x);
        if (!has_values(a, x, timed)) continue;
        sample_t *smp = &s->v[s->n];
        perftools__profiles__sample__init(smp);
        smp->location_id = loc;
        uint32_t y = x;
        do {
            uint64_t id = location_of(b, y);
            if (!id) return MSC_ENOMEM;
            loc[smp->n_location_id++] = id;
            y = msc_symbols_parent(b->sym, y);
        } while (y);
        loc += smp->n_location_id;
        int64_t *v = &s->values[k * s->n];
        v[0] = (int64_t)total.count;
        v[1] = (int64_t)total.bytes;
        v[2] = (int64_t)live.count;
        v[3] = (int64_t)live.bytes;
        if (timed) {
            v[4] = (int64_t)msc_analysis_node(a, MSC_VIEW_CPU, x).bytes;
            v[5] = (int64_t)msc_analysis_node(a, MSC_VIEW_WALL, x).bytes;
        }
        smp->n_value = k;
        smp->value = v;
        s->ptrs[s->n] = smp;
        s->n++;
    }
    return 0;
}

static void samples_release(samples_t *s)
{
    msc_free(s->v);
    msc_free(s->ptrs);
    msc_free(s->locations);
    msc_free(s->values);
}

/* Pointer arrays protobuf-c wants, made once the tables stop moving. */
typedef struct tables {
    function_t **functions;
    location_t **locations;
    line_t **lines;
} tables_t;

static int link_tables(builder_t *b, tables_t *t)
{
    size_t nfunctions = msc__frame_count(&b->functions);
    size_t nlocations = msc__frame_count(&b->locations);
    t->functions = msc_malloc((nfunctions + 1) * sizeof(function_t *));
    t->locations = msc_malloc((nlocations + 1) * sizeof(location_t *));
    t->lines = msc_malloc((nlocations + 1) * sizeof(line_t *));
    if (!t->functions || !t->locations || !t->lines) return MSC_ENOMEM;
    for (size_t i = 0; i < nfunctions; i++) t->functions[i] = &b->functions_v[i];
    for (size_t i = 0; i < nlocations; i++) {
        t->lines[i] = &b->lines_v[i];
        t->locations[i] = &b->locations_v[i];
        t->locations[i]->line = &t->lines[i];
    }
    return 0;
}

static int pack_and_write(FILE *out, profile_t *p)
{
    size_t len = perftools__profiles__profile__get_packed_size(p);
    uint8_t *buf = msc_malloc(len ? len : 1);
    if (!buf) return MSC_ENOMEM;
    perftools__profiles__profile__pack(p, buf);
    int err = write_gzip(out, buf, len);
    msc_free(buf);
    return err;
}

int msc__export_pprof(const msc_report_ctx_t *ctx, FILE *out, msc_view_t view)
{
    static const char *names[] = {"alloc_objects", "count",       "alloc_space", "bytes",
                                  "inuse_objects", "count",       "inuse_space", "bytes",
                                  "cpu",           "nanoseconds", "wall",        "nanoseconds"};
    builder_t b = {.sym = (msc_symbols_t *)msc_replay_symbols(ctx->replay)};
    msc_table_init(&b.strings);
    msc__frame_ids_init(&b.functions);
    msc__frame_ids_init(&b.locations);
    samples_t s = {0};
    tables_t t = {0};
    value_type_t types[6], period;
    value_type_t *type_ptrs[6] = {&types[0], &types[1], &types[2], &types[3], &types[4], &types[5]};
    s.nvalues = msc_analysis_summary(ctx->analysis)->cpu_samples ? 6 : 4;
    int err = string_of(&b, "") < 0 ? MSC_ENOMEM : 0;
    for (size_t i = 0; i < s.nvalues && !err; i++) {
        perftools__profiles__value_type__init(&types[i]);
        types[i].type = string_of(&b, names[2 * i]);
        types[i].unit = string_of(&b, names[2 * i + 1]);
        if (types[i].type < 0 || types[i].unit < 0) err = MSC_ENOMEM;
    }
    if (!err)
        err = build_samples(&b, ctx->analysis, view == MSC_VIEW_PEAK ? view : MSC_VIEW_EXIT, &s);
    if (!err) err = link_tables(&b, &t);
    if (!err) {
        profile_t p;
        perftools__profiles__profile__init(&p);
        perftools__profiles__value_type__init(&period);
        period = types[3];
        p.n_sample_type = s.nvalues;
        p.sample_type = type_ptrs;
        p.n_sample = s.n;
        p.sample = s.ptrs;
        p.n_location = msc__frame_count(&b.locations);
        p.location = t.locations;
        p.n_function = msc__frame_count(&b.functions);
        p.function = t.functions;
        p.n_string_table = b.nstrings;
        p.string_table = b.string_table;
        p.time_nanos = (int64_t)msc_replay_header(ctx->replay)->start_ns;
        p.duration_nanos = (int64_t)msc_replay_duration_ns(ctx->replay);
        p.period_type = &period;
        p.period = 1; /* every allocation is recorded */
        p.default_sample_type = types[3].type;
        err = pack_and_write(out, &p);
    }
    msc_free(t.functions);
    msc_free(t.locations);
    msc_free(t.lines);
    samples_release(&s);
    builder_release(&b);
    return err;
}
