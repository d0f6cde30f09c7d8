/* `export --format pprof`: a gzipped perftools.profiles.Profile (schema in
 * pprof.proto, encoded by protobuf-c, gzipped by zlib) with four sample
 * types: alloc_objects/count and alloc_space/bytes (everything allocated),
 * inuse_objects/count and inuse_space/bytes (live at the chosen moment: the
 * peak, or the exit); and, for a capture with CPU samples (run --cpu), two
 * more: cpu/nanoseconds and wall/nanoseconds, the time the samples found
 * each stack running. One sample per stack, locations leaf first; a location
 * is one (function, file, line), a function one (name, file). Interning goes
 * through one hash of 64-bit keys: string pointers (the symbols intern
 * them), (name id, file id) pairs, and (function, line) pairs. */
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

typedef struct ids {
    uint64_t *keys;            /* key + 1; 0 = empty */
    uint32_t *values;
    size_t mask, n;
} ids_t;

typedef struct builder {
    msc_symbols_t *sym;
    ids_t strings, functions, locations;
    char **string_table;
    function_t *functions_v;   /* function i has id i + 1 */
    location_t *locations_v;
    line_t *lines_v;
    size_t nstrings, nfunctions, nlocations, cap;
} builder_t;

/* The value for key, or UINT32_MAX if new (then *slot is where to add). */
static int ids_find(ids_t *t, uint64_t key, size_t *slot, uint32_t *value)
{
    if ((t->n + 1) * 2 > t->mask) {
        size_t mask = t->mask ? t->mask * 2 + 1 : 4095;
        uint64_t *keys = msc_calloc(mask + 1, sizeof(uint64_t));
        uint32_t *values = msc_malloc((mask + 1) * sizeof(uint32_t));
        if (!keys || !values) {
            msc_free(keys);
            msc_free(values);
            return MSC_ENOMEM;
        }
        for (size_t i = 0; t->keys && i <= t->mask; i++) {
            if (!t->keys[i]) continue;
            size_t j = (size_t)(t->keys[i] * 0x9E3779B97F4A7C15ull >> 20) & mask;
            while (keys[j]) j = (j + 1) & mask;
            keys[j] = t->keys[i];
            values[j] = t->values[i];
        }
        msc_free(t->keys);
        msc_free(t->values);
        t->keys = keys;
        t->values = values;
        t->mask = mask;
    }
    size_t i = (size_t)((key + 1) * 0x9E3779B97F4A7C15ull >> 20) & t->mask;
    while (t->keys[i] && t->keys[i] != key + 1) i = (i + 1) & t->mask;
    *slot = i;
    *value = t->keys[i] ? t->values[i] : UINT32_MAX;
    return 0;
}

static void ids_add(ids_t *t, size_t slot, uint64_t key, uint32_t value)
{
    t->keys[slot] = key + 1;
    t->values[slot] = value;
    t->n++;
}

/* Room for one more string, function and location. */
static int reserve(builder_t *b)
{
    if (b->nstrings < b->cap && b->nfunctions < b->cap && b->nlocations < b->cap) return 0;
    size_t cap = b->cap ? b->cap * 2 : 1024;
    char **s = msc_realloc(b->string_table, cap * sizeof(char *));
    if (s) b->string_table = s;
    function_t *f = s ? msc_realloc(b->functions_v, cap * sizeof(function_t)) : NULL;
    if (f) b->functions_v = f;
    location_t *l = f ? msc_realloc(b->locations_v, cap * sizeof(location_t)) : NULL;
    if (l) b->locations_v = l;
    line_t *ln = l ? msc_realloc(b->lines_v, cap * sizeof(line_t)) : NULL;
    if (ln) b->lines_v = ln;
    if (!ln) return MSC_ENOMEM;
    b->cap = cap;
    return 0;
}

/* Index of s in the string table; -1 on OOM. */
static int64_t string_of(builder_t *b, const char *s)
{
    size_t slot;
    uint32_t v;
    if (ids_find(&b->strings, (uint64_t)(uintptr_t)s, &slot, &v) < 0 || reserve(b) < 0) return -1;
    if (v != UINT32_MAX) return v;
    b->string_table[b->nstrings] = (char *)s;
    ids_add(&b->strings, slot, (uint64_t)(uintptr_t)s, (uint32_t)b->nstrings);
    return (int64_t)b->nstrings++;
}

/* Location id of a trie node; 0 on OOM. */
static uint64_t location_of(builder_t *b, uint32_t node)
{
    msc_frame_t f;
    size_t slot;
    uint32_t fn, loc;
    msc_symbols_frame(b->sym, node, &f);
    uint64_t fkey = (uint64_t)f.function_id << 32 | f.file_id;
    if (ids_find(&b->functions, fkey, &slot, &fn) < 0) return 0;
    if (fn == UINT32_MAX) {
        int64_t name = string_of(b, f.function), file = string_of(b, f.file);
        if (name < 0 || file < 0 || reserve(b) < 0) return 0;
        function_t *x = &b->functions_v[b->nfunctions];
        perftools__profiles__function__init(x);
        x->id = b->nfunctions + 1;
        x->name = x->system_name = name;
        x->filename = file;
        fn = (uint32_t)b->nfunctions++;
        ids_add(&b->functions, slot, fkey, fn);
    }
    uint64_t lkey = (uint64_t)fn << 32 | f.line;
    if (ids_find(&b->locations, lkey, &slot, &loc) < 0 || reserve(b) < 0) return 0;
    if (loc != UINT32_MAX) return loc + 1;
    location_t *x = &b->locations_v[b->nlocations];
    line_t *ln = &b->lines_v[b->nlocations];
    perftools__profiles__location__init(x);
    perftools__profiles__line__init(ln);
    ln->function_id = fn + 1;
    ln->line = f.line;
    x->id = b->nlocations + 1;
    x->n_line = 1;
    ids_add(&b->locations, slot, lkey, (uint32_t)b->nlocations);
    return ++b->nlocations;
}

static void builder_release(builder_t *b)
{
    msc_free(b->strings.keys);
    msc_free(b->strings.values);
    msc_free(b->functions.keys);
    msc_free(b->functions.values);
    msc_free(b->locations.keys);
    msc_free(b->locations.values);
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
    t->functions = msc_malloc((b->nfunctions + 1) * sizeof(function_t *));
    t->locations = msc_malloc((b->nlocations + 1) * sizeof(location_t *));
    t->lines = msc_malloc((b->nlocations + 1) * sizeof(line_t *));
    if (!t->functions || !t->locations || !t->lines) return MSC_ENOMEM;
    for (size_t i = 0; i < b->nfunctions; i++) t->functions[i] = &b->functions_v[i];
    for (size_t i = 0; i < b->nlocations; i++) {
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
    static const char *names[] = {"alloc_objects", "count",      "alloc_space", "bytes",
                                  "inuse_objects", "count",      "inuse_space", "bytes",
                                  "cpu",           "nanoseconds", "wall",       "nanoseconds"};
    builder_t b = {.sym = (msc_symbols_t *)msc_replay_symbols(ctx->replay)};
    samples_t s = {0};
    tables_t t = {0};
    value_type_t types[6], period;
    value_type_t *type_ptrs[6] = {&types[0], &types[1], &types[2],
                                  &types[3], &types[4], &types[5]};
    s.nvalues = msc_analysis_summary(ctx->analysis)->cpu_samples ? 6 : 4;
    int err = string_of(&b, "") < 0 ? MSC_ENOMEM : 0;
    for (size_t i = 0; i < s.nvalues && !err; i++) {
        perftools__profiles__value_type__init(&types[i]);
        types[i].type = string_of(&b, names[2 * i]);
        types[i].unit = string_of(&b, names[2 * i + 1]);
        if (types[i].type < 0 || types[i].unit < 0) err = MSC_ENOMEM;
    }
    if (!err) err = build_samples(&b, ctx->analysis, view == MSC_VIEW_PEAK ? view : MSC_VIEW_EXIT, &s);
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
        p.n_location = b.nlocations;
        p.location = t.locations;
        p.n_function = b.nfunctions;
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
