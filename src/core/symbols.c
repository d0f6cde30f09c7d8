/* Symbol tables of a capture: strings and code objects indexed by the ids
 * the recorder gave them, and the global stack trie that replay maps every
 * stream's nodes onto. Node lookups are open addressing on (parent, code,
 * offset). Lines are decoded lazily, once per node, from the code object's
 * CPython 3.11 location table (Objects/locations.md in CPython's source). */
#include <string.h>

#include "internal.h"
#include "memscope/format.h"
#include "memscope/nframes.h"
#include "memscope/symbols.h"
#include "memscope/table.h"

typedef struct code {
    uint32_t file_id;
    uint32_t name_id;
    uint32_t first_line;
    uint32_t *lines;           /* owned: co_linetable decoded once, each code unit's
                                  line (0: none), so naming a frame is one lookup */
    uint32_t nunits;           /* entries in lines */
    int known;
} code_t;

typedef struct node {
    uint32_t parent;
    uint32_t code_id;
    uint32_t offset;           /* instruction offset in code units */
    uint32_t line;             /* decoded line + 1; 0 = not decoded yet */
    uint32_t depth;
} node_t;

struct msc_symbols {
    char **strings;            /* by id; NULL when never defined */
    uint32_t nstrings;
    uint32_t strings_defined;  /* distinct string ids defined so far */
    code_t *codes;             /* by id */
    uint32_t ncodes;
    uint32_t codes_defined;    /* distinct code ids defined so far */
    node_t *nodes;             /* node 0 is the root */
    uint32_t nnodes, cap_nodes;
    uint32_t *index;           /* open addressing: node id | tag, or 0 (index_entry);
                                  NULL until needed, made of every node then */
    unsigned sole_stream;      /* 1 + the one stream whose nodes all are, while the
                                  index is not made (msc_symbols_add_stream_node); 0 */
    uint32_t index_mask;
    uint32_t hexversion;
    char **native_strings;     /* by id without MSC_NATIVE_ID_BIT: native frames' names */
    uint32_t nnative_strings;
    uint32_t (*native_codes)[2];/* by id without the bit: file and function string ids */
    uint32_t nnative_codes;
    msc_frame_nodes_t fn;      /* msc_symbols_frame_nodes: its arrays are owned here */
    uint32_t fn_codes, fn_native; /* codes_defined and nnative_codes when fn was made */
    uint32_t fn_made;          /* times fn was made, or tried */
};

static const char unknown[] = "<unknown>";
static const char no_python[] = "<no Python frame>";

static void frame_nodes_release(msc_frame_nodes_t *fn)
{
    msc_free((void *)fn->of);
    msc_free((void *)fn->parent);
    msc_free(fn->scratch);
    msc_free((void *)fn->frame);
    msc_free((void *)fn->frame_trie);
    memset(fn, 0, sizeof(*fn));
}

msc_symbols_t *msc_symbols_new(uint32_t python_hexversion)
{
    msc_symbols_t *s = msc_calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->hexversion = python_hexversion;
    s->cap_nodes = 1024;
    s->nodes = msc_calloc(s->cap_nodes, sizeof(node_t));
    if (!s->nodes) {
        msc_symbols_free(s);
        return NULL;
    }
    s->nnodes = 1;
    return s;
}

void msc_symbols_free(msc_symbols_t *s)
{
    if (!s) return;
    for (uint32_t i = 0; i < s->nstrings; i++) msc_free(s->strings[i]);
    for (uint32_t i = 0; i < s->ncodes; i++) msc_free(s->codes[i].lines);
    for (uint32_t i = 0; i < s->nnative_strings; i++) msc_free(s->native_strings[i]);
    msc_free(s->native_strings);
    msc_free(s->native_codes);
    msc_free(s->strings);
    msc_free(s->codes);
    msc_free(s->nodes);
    msc_free(s->index);
    frame_nodes_release(&s->fn);
    msc_free(s);
}

/* Ids the recorder hands out are dense and each is defined as soon as it is
 * handed out; only the two streams' buffering lets a later id arrive before
 * earlier ones. An id this far beyond what is defined so far is corrupt. */
#define ID_SLACK (1u << 18)

/* Grows *arr (of elem-sized items, *n of them) to hold index id. Bounding id
 * by the count defined keeps a table proportional to what the file holds:
 * MSC_MAX_IDS alone would let one record ask for gigabytes. */
static int grow_to(void **arr, uint32_t *n, uint32_t id, size_t elem, uint32_t defined)
{
    if (id < *n) return 0;
    if (id >= MSC_MAX_IDS || id > 2 * (uint64_t)defined + ID_SLACK) return MSC_ECORRUPT;
    uint32_t cap = *n ? *n : 64;
    while (cap <= id) cap *= 2;
    uint8_t *grown = msc_realloc(*arr, (size_t)cap * elem);
    if (!grown) return MSC_ENOMEM;
    memset(grown + (size_t)*n * elem, 0, (size_t)(cap - *n) * elem);
    *arr = grown;
    *n = cap;
    return 0;
}

int msc_symbols_add_string(msc_symbols_t *s, uint32_t id, const uint8_t *bytes, size_t n)
{
    int err = grow_to((void **)&s->strings, &s->nstrings, id, sizeof(char *), s->strings_defined);
    if (err) return err;
    char *copy = msc_malloc(n + 1);
    if (!copy) return MSC_ENOMEM;
    memcpy(copy, bytes, n);
    copy[n] = 0;
    if (!s->strings[id]) s->strings_defined++;
    msc_free(s->strings[id]);
    s->strings[id] = copy;
    return 0;
}

static uint32_t *decode_lines(const uint8_t *table, size_t n, uint32_t first_line,
                              uint32_t *nunits);

int msc_symbols_add_code(msc_symbols_t *s, uint32_t id, uint32_t file_id, uint32_t name_id,
                         uint32_t first_line, const uint8_t *linetable, size_t n)
{
    int err = grow_to((void **)&s->codes, &s->ncodes, id, sizeof(code_t), s->codes_defined);
    if (err) return err;
    uint32_t nunits;
    uint32_t *lines = decode_lines(linetable, n, first_line, &nunits);
    if (!lines) return MSC_ENOMEM;
    code_t *c = &s->codes[id];
    if (!c->known) s->codes_defined++;
    msc_free(c->lines);
    *c = (code_t){file_id, name_id, first_line, lines, nunits, 1};
    return 0;
}

static uint32_t node_hash(uint32_t parent, uint32_t code_id, uint32_t offset)
{
    uint64_t h = ((uint64_t)parent * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)code_id << 32 | offset);
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return (uint32_t)(h ^ (h >> 32));
}

/* An index slot holds a node id (below MSC_MAX_IDS, 2^28) and, in the four
 * bits above it, the top bits of the node's hash. A probe compares those
 * first and reads a node only when they agree: most slots a new node's probe
 * passes belong to other keys, and each node read is a cache miss once the
 * trie outgrows the cache (reading the NODE records of a capture with
 * millions of stacks was 43% of `stats`, almost all of it those misses). */
#define INDEX_ID_BITS 28
#define INDEX_ID_MASK ((1u << INDEX_ID_BITS) - 1)
_Static_assert(MSC_MAX_IDS <= 1u << INDEX_ID_BITS, "node ids must leave the tag bits free");

static inline uint32_t index_entry(uint32_t id, uint32_t hash)
{
    return id | (hash & ~INDEX_ID_MASK);
}

/* Makes the index mask + 1 slots long. */
static int index_nodes(msc_symbols_t *s, uint32_t mask)
{
    uint32_t *index = msc_calloc((size_t)mask + 1, sizeof(uint32_t));
    if (!index) return MSC_ENOMEM;
    for (uint32_t id = 1; id < s->nnodes; id++) {
        node_t *n = &s->nodes[id];
        uint32_t h = node_hash(n->parent, n->code_id, n->offset), i = h & mask;
        while (index[i]) i = (i + 1) & mask;
        index[i] = index_entry(id, h);
    }
    msc_free(s->index);
    s->index = index;
    s->index_mask = mask;
    return 0;
}

void msc_symbols_trim(msc_symbols_t *s)
{
    msc_free(s->index);
    s->index = NULL;
    s->sole_stream = 0;
}

/* Appends node (parent, code_id, offset), known to be new. */
static int64_t append_node(msc_symbols_t *s, uint32_t parent, uint32_t code_id, uint32_t offset)
{
    if (s->nnodes >= MSC_MAX_IDS) return MSC_ECORRUPT;
    if (s->nnodes == s->cap_nodes) {
        node_t *grown = msc_realloc(s->nodes, sizeof(node_t) * (size_t)s->cap_nodes * 2);
        if (!grown) return MSC_ENOMEM;
        s->nodes = grown;
        s->cap_nodes *= 2;
    }
    uint32_t id = s->nnodes++;
    s->nodes[id] = (node_t){parent, code_id, offset, 0, s->nodes[parent].depth + 1};
    return id;
}

int64_t msc_symbols_add_stream_node(msc_symbols_t *s, unsigned stream, uint32_t parent,
                                    uint32_t code_id, uint32_t offset)
{
    if (parent >= s->nnodes) return MSC_ECORRUPT;
    if (!s->index && (s->sole_stream == stream + 1 || (!s->sole_stream && s->nnodes == 1))) {
        s->sole_stream = stream + 1;
        return append_node(s, parent, code_id, offset);
    }
    return msc_symbols_add_node(s, parent, code_id, offset);
}

int64_t msc_symbols_add_node(msc_symbols_t *s, uint32_t parent, uint32_t code_id, uint32_t offset)
{
    if (parent >= s->nnodes) return MSC_ECORRUPT;
    s->sole_stream = 0;
    if (!s->index) { /* not made yet, or trimmed: half full at most */
        uint32_t mask = 2047;
        while ((uint64_t)s->nnodes * 2 > mask) mask = mask * 2 + 1;
        int err = index_nodes(s, mask);
        if (err) return err;
    }
    uint32_t h = node_hash(parent, code_id, offset), tag = h & ~INDEX_ID_MASK;
    uint32_t i = h & s->index_mask;
    for (uint32_t e; (e = s->index[i]); i = (i + 1) & s->index_mask) {
        if ((e & ~INDEX_ID_MASK) != tag) continue;
        node_t *n = &s->nodes[e & INDEX_ID_MASK];
        if (n->parent == parent && n->code_id == code_id && n->offset == offset)
            return e & INDEX_ID_MASK;
    }
    int64_t id = append_node(s, parent, code_id, offset);
    if (id < 0) return id;
    s->index[i] = index_entry((uint32_t)id, h);
    if ((uint64_t)s->nnodes * 2 > s->index_mask) {
        int err = index_nodes(s, s->index_mask * 2 + 1);
        if (err) return err;
    }
    return id;
}

uint32_t msc_symbols_nodes(const msc_symbols_t *s)
{
    return s->nnodes;
}

uint32_t msc_symbols_parent(const msc_symbols_t *s, uint32_t node)
{
    return node < s->nnodes ? s->nodes[node].parent : 0;
}

uint32_t msc_symbols_depth(const msc_symbols_t *s, uint32_t node)
{
    return node < s->nnodes ? s->nodes[node].depth : 0;
}

const char *msc_symbols_string(const msc_symbols_t *s, uint32_t id)
{
    if (id & MSC_NATIVE_ID_BIT) {
        id &= ~MSC_NATIVE_ID_BIT;
        return id < s->nnative_strings ? s->native_strings[id] : unknown;
    }
    return id < s->nstrings && s->strings[id] ? s->strings[id] : unknown;
}

void msc_symbols_frame(msc_symbols_t *s, uint32_t node, msc_frame_t *out)
{
    memset(out, 0, sizeof(*out));
    out->file = out->function = node == 0 ? no_python : unknown;
    if (node == 0 || node >= s->nnodes) return;
    node_t *n = &s->nodes[node];
    out->code_id = n->code_id;
    if (n->code_id & MSC_NATIVE_ID_BIT) {
        uint32_t i = n->code_id & ~MSC_NATIVE_ID_BIT;
        if (i >= s->nnative_codes) return;
        out->file_id = s->native_codes[i][0];
        out->function_id = s->native_codes[i][1];
        out->file = msc_symbols_string(s, out->file_id);
        out->function = msc_symbols_string(s, out->function_id);
        out->line = n->offset;
        return;
    }
    if (n->code_id >= s->ncodes || !s->codes[n->code_id].known) return;
    code_t *c = &s->codes[n->code_id];
    if (!n->line) n->line = 1 + (n->offset < c->nunits ? c->lines[n->offset] : 0);
    out->file = msc_symbols_string(s, c->file_id);
    out->function = msc_symbols_string(s, c->name_id);
    out->file_id = c->file_id;
    out->function_id = c->name_id;
    out->line = n->line - 1;
}

void msc_symbols_frame_ids(msc_symbols_t *s, uint32_t node, uint32_t *file_id,
                           uint32_t *function_id, uint32_t *line)
{
    *file_id = *function_id = *line = 0;
    if (node == 0 || node >= s->nnodes) return;
    node_t *n = &s->nodes[node];
    if (n->code_id & MSC_NATIVE_ID_BIT) {
        uint32_t i = n->code_id & ~MSC_NATIVE_ID_BIT;
        if (i >= s->nnative_codes) return;
        *file_id = s->native_codes[i][0];
        *function_id = s->native_codes[i][1];
        *line = n->offset;
        return;
    }
    if (n->code_id >= s->ncodes || !s->codes[n->code_id].known) return;
    code_t *c = &s->codes[n->code_id];
    if (!n->line) n->line = 1 + (n->offset < c->nunits ? c->lines[n->offset] : 0);
    *file_id = c->file_id;
    *function_id = c->name_id;
    *line = n->line - 1;
}

/*
 * Frame nodes. One pass over the trie in id order (a parent before its
 * children) finds each node's frame, then the frame node of (its parent's
 * frame node, its frame), numbering each when new. Frames are looked up in
 * a table (table.h) of their keys; frame nodes by their caller's first three callees
 * (frame_node) or in an index of their own, sized once (make_frame_nodes)
 * and tagged like the node index (index_entry): a probe reads a frame
 * node's arrays only when the tag agrees. Both are dropped once the arrays
 * are made.
 */

typedef struct frame_build {
    msc_table_t frames;        /* entry e: frame e + 1, keyed by keys[e + 1] */
    uint32_t (*keys)[3];       /* per frame: file, function and line ids */
    size_t cap_keys;
    uint32_t *frame_trie;      /* per frame: the first trie node naming it */
    size_t cap_frame_trie;
    uint32_t *index;           /* frame node | tag by (parent, frame), 0: empty; only
                                  the callees of frame nodes with several */
    uint32_t index_mask;
    uint32_t nnodes;           /* frame nodes made, the root included */
    uint32_t *parent, *frame;  /* per frame node */
    uint32_t *only;            /* per frame node: its first callee, 0 for none, or
                                  SEVERAL when its callees are in the index */
    uint32_t *more;            /* per frame node: its second and third callees, 0 for
                                  none */
} frame_build_t;

#define SEVERAL UINT32_MAX

static uint64_t frame_hash(const uint32_t k[3])
{
    return ((uint64_t)k[0] << 32 | k[1]) * 0xBF58476D1CE4E5B9ull ^ k[2];
}

static uint64_t frame_entry_hash(const void *ctx, uint32_t e)
{
    return frame_hash(((const frame_build_t *)ctx)->keys[e + 1]);
}

/* The number of trie node x's frame (ids k), made when new; 0 on OOM. */
static uint32_t frame_number(frame_build_t *b, const uint32_t k[3], uint32_t x)
{
    size_t nf = b->frames.n + 1; /* the number a new frame gets */
    if (msc_table_reserve(&b->frames, frame_entry_hash, b) < 0 ||
        msc_array_grow((void **)&b->keys, &b->cap_keys, nf + 1, sizeof(*b->keys)) < 0 ||
        msc_array_grow((void **)&b->frame_trie, &b->cap_frame_trie, nf + 1, 4) < 0)
        return 0;
    size_t i = msc_table_slot(&b->frames, frame_hash(k));
    for (uint32_t e; (e = msc_table_entry(&b->frames, i)) != MSC_TABLE_EMPTY;
         i = msc_table_next(&b->frames, i))
        if (memcmp(b->keys[e + 1], k, sizeof(b->keys[0])) == 0) return e + 1;
    memcpy(b->keys[nf], k, sizeof(b->keys[0]));
    b->frame_trie[nf] = x;
    return msc_table_add(&b->frames, i) + 1;
}

/* Puts frame node fx in the index, which has room. */
static void index_frame_node(frame_build_t *b, uint32_t fx)
{
    uint32_t h = node_hash(b->parent[fx], b->frame[fx], 0), i = h & b->index_mask;
    while (b->index[i]) i = (i + 1) & b->index_mask;
    b->index[i] = index_entry(fx, h);
}

/* The number of frame node (up, f), made when new. Most frame nodes have
 * three callees at most (a stack seen once below where it parts from the
 * others is a chain of them; where it parts, its caller has two), and those
 * are looked up in `only` and `more`, beside the frame node just made or
 * its caller: only the callees of a frame node with four or more go to the
 * index, a cache miss a probe. (Putting a second callee in the index too
 * was a third of the frame nodes of a stack-rich capture in insertions,
 * two cache misses each.) */
static uint32_t frame_node(frame_build_t *b, uint32_t up, uint32_t f)
{
    uint32_t one = b->only[up], *more = &b->more[2 * (size_t)up], h = 0, i = 0;
    if (one == SEVERAL) {
        h = node_hash(up, f, 0);
        uint32_t tag = h & ~INDEX_ID_MASK;
        for (i = h & b->index_mask; b->index[i]; i = (i + 1) & b->index_mask) {
            uint32_t e = b->index[i], fx = e & INDEX_ID_MASK;
            if ((e & ~INDEX_ID_MASK) == tag && b->parent[fx] == up && b->frame[fx] == f) return fx;
        }
    } else if (one) {
        if (b->frame[one] == f) return one;
        for (int k = 0; k < 2 && more[k]; k++)
            if (b->frame[more[k]] == f) return more[k];
    }
    uint32_t fx = b->nnodes++;
    b->parent[fx] = up;
    b->frame[fx] = f;
    if (one == SEVERAL) {
        b->index[i] = index_entry(fx, h);
    } else if (!one) {
        b->only[up] = fx;
    } else if (!more[0] || !more[1]) {
        more[!more[0] ? 0 : 1] = fx;
    } else { /* a fourth callee: all four to the index */
        index_frame_node(b, one);
        index_frame_node(b, more[0]);
        index_frame_node(b, more[1]);
        index_frame_node(b, fx);
        b->only[up] = SEVERAL;
    }
    return fx;
}

/* Where the frame of a Python node's (code, offset) is kept once known:
 * one cell per code unit of each code object met (0: not yet), so that
 * the frame table is probed once per instruction, not once per node. NULL
 * for native and unknown code (the table then, each time); *err on OOM. */
static uint32_t *frame_cell(msc_symbols_t *s, uint32_t **cells, const node_t *nd, int *err)
{
    if (nd->code_id & MSC_NATIVE_ID_BIT || nd->code_id >= s->ncodes) return NULL;
    const code_t *c = &s->codes[nd->code_id];
    if (!c->known || nd->offset >= c->nunits) return NULL;
    if (!cells[nd->code_id] && !(cells[nd->code_id] = msc_calloc(c->nunits, 4))) {
        *err = MSC_ENOMEM;
        return NULL;
    }
    return &cells[nd->code_id][nd->offset];
}

/* The per-node arrays and the index sized for every trie node (an upper
 * bound), the arrays then cut to what was made. The index is at most three
 * quarters full (less when lines merge): its tags spare the probes past a
 * full half the reads of other frame nodes. */
static int make_frame_nodes(msc_symbols_t *s, msc_frame_nodes_t *fn)
{
    uint32_t n = s->nnodes;
    frame_build_t b = {{NULL, 0, 0}, NULL, 0, NULL, 0, NULL, 1023, 1, NULL, NULL, NULL, NULL};
    msc_table_init(&b.frames);
    while (((uint64_t)b.index_mask + 1) * 3 < (uint64_t)n * 4) b.index_mask = b.index_mask * 2 + 1;
    b.index = msc_calloc((size_t)b.index_mask + 1, 4);
    uint32_t *of = msc_malloc((size_t)n * 4);
    b.parent = msc_malloc((size_t)n * 4);
    b.frame = msc_malloc((size_t)n * 4);
    b.only = msc_calloc(n, 4);
    b.more = msc_calloc(n, 8);
    uint32_t **cells = msc_calloc(s->ncodes ? s->ncodes : 1, sizeof(uint32_t *));
    int err = b.index && of && b.parent && b.frame && b.only && b.more && cells &&
                      msc_array_grow((void **)&b.frame_trie, &b.cap_frame_trie, 1, 4) == 0
                  ? 0
                  : MSC_ENOMEM;
    if (!err) of[0] = b.parent[0] = b.frame[0] = b.frame_trie[0] = 0;
    for (uint32_t x = 1; x < n && !err; x++) {
        uint32_t *cell = frame_cell(s, cells, &s->nodes[x], &err), f = cell ? *cell : 0;
        if (!f && !err) {
            uint32_t k[3];
            msc_symbols_frame_ids(s, x, &k[0], &k[1], &k[2]);
            if (!(f = frame_number(&b, k, x))) err = MSC_ENOMEM;
            else if (cell) *cell = f;
        }
        if (!err) of[x] = frame_node(&b, of[s->nodes[x].parent], f);
    }
    uint32_t nfn = b.nnodes, nf = (uint32_t)b.frames.n + 1;
    for (uint32_t c = 0; cells && c < s->ncodes; c++) msc_free(cells[c]);
    msc_free(cells);
    msc_table_release(&b.frames);
    msc_free(b.index);
    msc_free(b.only);
    msc_free(b.more);
    msc_free(b.keys);
    /* Cut to size (a block that cannot be cut is still ours to free). */
    uint32_t **cut[] = {&b.parent, &b.frame};
    for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]) && !err; i++) {
        uint32_t *smaller = msc_realloc(*cut[i], (size_t)nfn * 4);
        if (smaller) *cut[i] = smaller;
        else err = MSC_ENOMEM;
    }
    uint32_t *scratch = err ? NULL : msc_calloc(nfn, 4);
    if (!err && !scratch) err = MSC_ENOMEM;
    *fn = (msc_frame_nodes_t){n, nfn, nf, 0, of, b.parent, b.frame, b.frame_trie, scratch};
    if (err) frame_nodes_release(fn);
    return err;
}

const msc_frame_nodes_t *msc_symbols_frame_nodes(msc_symbols_t *s)
{
    if (s->fn.of && s->fn.ntrie == s->nnodes && s->fn_codes == s->codes_defined &&
        s->fn_native == s->nnative_codes)
        return &s->fn;
    frame_nodes_release(&s->fn);
    s->fn_made++;
    if (make_frame_nodes(s, &s->fn) < 0) return NULL;
    s->fn.made = s->fn_made;
    s->fn_codes = s->codes_defined;
    s->fn_native = s->nnative_codes;
    return &s->fn;
}

/* Both tables grow by one entry at a time; nativesym.c interns what goes
 * in, so each holds one entry per distinct name or function. */
static int grow_native(void **arr, uint32_t n, size_t elem)
{
    if (n >= MSC_MAX_IDS) return MSC_ECORRUPT;
    if (n != 0 && (n < 16 || (n & (n - 1)))) return 0; /* room is left below a power of two */
    uint32_t cap = n ? n * 2 : 16;
    void *grown = msc_realloc(*arr, (size_t)cap * elem);
    if (!grown) return MSC_ENOMEM;
    *arr = grown;
    return 0;
}

int64_t msc_symbols_add_native_string(msc_symbols_t *s, const char *text)
{
    int err = grow_native((void **)&s->native_strings, s->nnative_strings, sizeof(char *));
    if (err) return err;
    size_t n = strlen(text);
    char *copy = msc_malloc(n + 1);
    if (!copy) return MSC_ENOMEM;
    memcpy(copy, text, n + 1);
    s->native_strings[s->nnative_strings] = copy;
    return (int64_t)(s->nnative_strings++ | MSC_NATIVE_ID_BIT);
}

int64_t msc_symbols_add_native_code(msc_symbols_t *s, uint32_t file_id, uint32_t name_id)
{
    int err = grow_native((void **)&s->native_codes, s->nnative_codes, sizeof(uint32_t[2]));
    if (err) return err;
    s->native_codes[s->nnative_codes][0] = file_id;
    s->native_codes[s->nnative_codes][1] = name_id;
    return (int64_t)(s->nnative_codes++ | MSC_NATIVE_ID_BIT);
}

/*
 * CPython 3.11 location table. Each entry starts with a byte 1CCCCLLL: C is
 * the entry's code, L+1 its length in code units. Codes: 15 no location;
 * 14 long form (signed line delta, end-line delta, column+1, end column+1);
 * 13 no columns (signed line delta); 10..12 one line, delta code-10, then two
 * column bytes; 0..9 short form, same line, one column byte. Varints here are
 * 6 bits per byte with 0x40 as the continuation bit; signed ones keep the
 * sign in bit 0.
 */

static uint32_t lt_varint(msc_cursor_t *c)
{
    uint32_t v = 0;
    for (unsigned shift = 0; shift < 32; shift += 6) {
        uint8_t b = msc__get_byte(c);
        v |= (uint32_t)(b & 63) << shift;
        if (!(b & 64)) break;
    }
    return v;
}

static int32_t lt_svarint(msc_cursor_t *c)
{
    uint32_t u = lt_varint(c);
    return (u & 1) ? -(int32_t)(u >> 1) : (int32_t)(u >> 1);
}

/* One entry of the table at c: the code units [*start, *end) it covers
 * and, in *line, their line (updated from the previous entry's; *has_line
 * 0 when the entry has none). 0 at the end or on a malformed entry. */
static int lt_next(msc_cursor_t *c, int64_t *line, uint64_t *start, uint64_t *end, int *has_line)
{
    if (c->p >= c->end || c->err) return 0;
    uint8_t first = msc__get_byte(c);
    if (!(first & 0x80)) return 0; /* not an entry start: malformed table */
    int code = (first >> 3) & 15;
    *start = *end;
    *end = *start + (first & 7) + 1;
    *has_line = code != 15;
    if (code == 15) {
        /* no location */
    } else if (code == 14) {
        *line += lt_svarint(c);
        lt_varint(c);
        lt_varint(c);
        lt_varint(c);
    } else if (code == 13) {
        *line += lt_svarint(c);
    } else if (code >= 10) {
        *line += code - 10;
        msc__get_byte(c);
        msc__get_byte(c);
    } else if (code < 10) {
        msc__get_byte(c);
    }
    return 1; /* an entry cut short still covers its units; the next call ends */
}

static uint32_t entry_line(int has_line, int64_t line)
{
    return has_line && line > 0 && line <= UINT32_MAX ? (uint32_t)line : 0;
}

uint32_t msc_linetable_line(const uint8_t *table, size_t n, uint32_t first_line, uint32_t offset)
{
    msc_cursor_t c = {table, table + n, 0};
    int64_t line = first_line;
    uint64_t start = 0, end = 0;
    int has_line;
    while (lt_next(&c, &line, &start, &end, &has_line))
        if (offset >= start && offset < end) return entry_line(has_line, line);
    return 0;
}

/* The table decoded: each code unit's line (msc_linetable_line's answer),
 * *nunits of them; NULL when out of memory. */
static uint32_t *decode_lines(const uint8_t *table, size_t n, uint32_t first_line, uint32_t *nunits)
{
    msc_cursor_t c = {table, table + n, 0};
    int64_t line = first_line;
    uint64_t start = 0, end = 0;
    int has_line;
    while (lt_next(&c, &line, &start, &end, &has_line)) {
    }
    uint32_t units = (uint32_t)end; /* at most 8 a table byte */
    uint32_t *lines = msc_calloc(units ? units : 1, sizeof(uint32_t));
    if (!lines) return NULL;
    c = (msc_cursor_t){table, table + n, 0};
    line = first_line;
    start = end = 0;
    while (lt_next(&c, &line, &start, &end, &has_line))
        for (uint64_t u = start; u < end; u++) lines[u] = entry_line(has_line, line);
    *nunits = units;
    return lines;
}
