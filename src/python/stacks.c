/* Stack capture: the recorder's per-allocation work besides the record
 * itself. The walk reads only the calling thread's own frame chain (safe
 * without the GIL, since only the thread itself pushes and pops its frames),
 * reading only the frames themselves, then compares the stack, outermost
 * frame first, with the last one resolved by code pointer and instruction
 * address; only frames from where they part are checked for completeness,
 * named and looked up in the trie. Line numbers are not computed here: each
 * code object's line table is written once and the analyser decodes
 * (code, offset) pairs. */
#include "stacks.h"

#include <pthread.h>

#include "memscope/common.h"
#include "memscope/encode.h"
#include "memscope/table.h"

static uint32_t next_code_id;

/* Interned strings (file names, qualified names) of the current capture. */
typedef struct name_entry {
    uint64_t hash;
    uint32_t id;
    uint32_t len;
    char *text;
} name_entry_t;

static name_entry_t *names;
static uint32_t names_mask, names_count;
static char *utf8_buf;         /* a code object's name as UTF-8, MSC_MAX_STRING bytes */

/* The ids of the code objects named in this capture, by address: open
 * addressing with linear probing, emptied slots closed up by shifting back
 * (no tombstones). The GIL holder reads it without a lock, since every
 * change is made with the GIL held; changes, and readers without the GIL
 * (GIL-less RAW events), take codes_mutex. */
typedef struct code_entry {
    const void *code;          /* NULL: empty */
    uint32_t id;
} code_entry_t;

static code_entry_t *codes;
static uint32_t codes_mask, codes_count;
static pthread_mutex_t codes_mutex = PTHREAD_MUTEX_INITIALIZER; /* protects codes,
                                  codes_mask and codes_count against GIL-less readers */

_Atomic uint64_t msc_code_deaths;
_Atomic uint8_t msc_code_filter[1u << MSC_CODE_FILTER_BITS];

/* Moves co's filter count by delta (it saturates at 255, then stays).
 * codes_mutex held. */
static void code_filter_move_locked(const void *co, int delta)
{
    uint32_t bucket = (uint32_t)((uintptr_t)co >> 4) & ((1u << MSC_CODE_FILTER_BITS) - 1);
    uint8_t v = atomic_load_explicit(&msc_code_filter[bucket], memory_order_relaxed);
    if (v < 255)
        atomic_store_explicit(&msc_code_filter[bucket], (uint8_t)(v + delta), memory_order_relaxed);
}

static inline uint32_t code_slot(const void *co, uint32_t mask)
{
    return (uint32_t)(((uintptr_t)co >> 4) * 0x9E3779B97F4A7C15ull >> 32) & mask;
}

static uint32_t codes_find(const void *co)
{
    if (!codes) return 0;
    for (uint32_t i = code_slot(co, codes_mask); codes[i].code; i = (i + 1) & codes_mask)
        if (codes[i].code == co) return codes[i].id;
    return 0;
}

static int codes_grow_locked(void)
{
    uint32_t mask = codes_mask * 2 + 1;
    code_entry_t *grown = msc_calloc((size_t)mask + 1, sizeof(code_entry_t));
    if (!grown) return -1;
    for (uint32_t i = 0; i <= codes_mask; i++) {
        if (!codes[i].code) continue;
        uint32_t j = code_slot(codes[i].code, mask);
        while (grown[j].code) j = (j + 1) & mask;
        grown[j] = codes[i];
    }
    msc_free(codes);
    codes = grown;
    codes_mask = mask;
    return 0;
}

static int codes_add(const void *co, uint32_t id)
{
    pthread_mutex_lock(&codes_mutex);
    int rc = 0;
    if ((codes_count + 1) * 2 > codes_mask) rc = codes_grow_locked();
    if (rc == 0) {
        uint32_t i = code_slot(co, codes_mask);
        while (codes[i].code) i = (i + 1) & codes_mask;
        codes[i] = (code_entry_t){co, id};
        codes_count++;
        code_filter_move_locked(co, 1);
    }
    pthread_mutex_unlock(&codes_mutex);
    return rc;
}

/* Removes co's entry, moving back the entries of its probe run that would
 * no longer be found past the emptied slot. */
static void codes_remove_locked(uint32_t i)
{
    code_filter_move_locked(codes[i].code, -1);
    codes[i].code = NULL;
    codes_count--;
    for (uint32_t j = (i + 1) & codes_mask; codes[j].code; j = (j + 1) & codes_mask) {
        uint32_t home = code_slot(codes[j].code, codes_mask);
        /* j's entry stays unless the empty slot i lies on its way from home. */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            codes[i] = codes[j];
            codes[j].code = NULL;
            i = j;
        }
    }
}

void msc_code_died_named(const void *block)
{
    if (!codes_count || !codes_find(block)) return;
    pthread_mutex_lock(&codes_mutex);
    uint32_t i = code_slot(block, codes_mask);
    while (codes[i].code != block) i = (i + 1) & codes_mask;
    codes_remove_locked(i);
    pthread_mutex_unlock(&codes_mutex);
    atomic_fetch_add_explicit(&msc_code_deaths, 1, memory_order_relaxed);
}

void msc_names_lock(void)
{
    pthread_mutex_lock(&codes_mutex);
}

void msc_names_unlock(void)
{
    pthread_mutex_unlock(&codes_mutex);
}

_Atomic uint64_t msc_code_any_deaths;

static void code_destroyed(PyCodeObject *co)
{
    atomic_fetch_add_explicit(&msc_code_any_deaths, 1, memory_order_relaxed);
    msc_code_died(co);
}

int msc_names_watch(void)
{
    static int watching;
    if (watching) return 0;
    if (msc_code_watch(code_destroyed) < 0) return -1;
    watching = 1;
    return 0;
}

int msc_names_init(void)
{
    msc_names_release();
    next_code_id = 1;
    names_mask = 1023;
    names = msc_calloc(names_mask + 1, sizeof(name_entry_t));
    utf8_buf = msc_malloc(MSC_MAX_STRING);
    code_entry_t *table = msc_calloc(1024, sizeof(code_entry_t));
    pthread_mutex_lock(&codes_mutex);
    codes = table;
    codes_mask = 1023;
    codes_count = 0;
    pthread_mutex_unlock(&codes_mutex);
    if (names && utf8_buf && table) return 0;
    msc_names_release(); /* a failed init leaves nothing to release */
    return -1;
}

void msc_names_release(void)
{
    for (uint32_t i = 0; names && i <= names_mask; i++) msc_free(names[i].text);
    msc_free(names);
    names = NULL;
    names_count = 0;
    msc_free(utf8_buf);
    utf8_buf = NULL;
    pthread_mutex_lock(&codes_mutex);
    msc_free(codes);
    codes = NULL;
    codes_count = 0;
    memset((void *)msc_code_filter, 0, sizeof(msc_code_filter));
    pthread_mutex_unlock(&codes_mutex);
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h | 1;
}

static int names_grow(void)
{
    uint32_t mask = names_mask * 2 + 1;
    name_entry_t *grown = msc_calloc((size_t)mask + 1, sizeof(name_entry_t));
    if (!grown) return -1;
    for (uint32_t i = 0; i <= names_mask; i++) {
        if (!names[i].hash) continue;
        uint32_t j = (uint32_t)names[i].hash & mask;
        while (grown[j].hash) j = (j + 1) & mask;
        grown[j] = names[i];
    }
    msc_free(names);
    names = grown;
    names_mask = mask;
    return 0;
}

/* The id of a name, written as a STRING record (msc_enc_string) the first
 * time it is seen. Returns the id, or 0 on failure. */
static uint32_t intern_name(const msc_capture_ctx_t *ctx, const char *s, size_t n)
{
    if (n > MSC_MAX_STRING) n = MSC_MAX_STRING;
    uint64_t h = hash_bytes(s, n);
    uint32_t i = (uint32_t)h & names_mask;
    for (; names[i].hash; i = (i + 1) & names_mask)
        if (names[i].hash == h && names[i].len == n && memcmp(names[i].text, s, n) == 0)
            return names[i].id;
    char *copy = msc_malloc(n + 1);
    uint8_t *p = copy ? msc_stream_reserve(ctx->sink, ctx->stream, n + 32) : NULL;
    if (!p) {
        msc_free(copy);
        return 0;
    }
    memcpy(copy, s, n);
    uint32_t id = ++names_count;
    names[i] = (name_entry_t){h, id, (uint32_t)n, copy};
    msc_stream_commit(ctx->stream, msc_enc_string(p, id, s, n), 1);
    if (names_count * 2 > names_mask && names_grow() < 0) return 0;
    return id;
}

/* Names a code object in a CODE record (msc_enc_code): its file and
 * qualified name as STRING ids, first line and raw co_linetable.
 * Returns the new id, or 0 (unknown) when it cannot be named. GIL held. */
static uint32_t register_code(const msc_capture_ctx_t *ctx, PyCodeObject *co)
{
    size_t n = msc_str_utf8(co->co_filename, utf8_buf, MSC_MAX_STRING);
    uint32_t file_id = intern_name(ctx, n ? utf8_buf : "?", n ? n : 1);
    n = msc_str_utf8(co->co_qualname, utf8_buf, MSC_MAX_STRING);
    uint32_t name_id = intern_name(ctx, n ? utf8_buf : "?", n ? n : 1);
    if (!file_id || !name_id) return 0;

    const char *table = PyBytes_AS_STRING(co->co_linetable);
    size_t tlen = (size_t)PyBytes_GET_SIZE(co->co_linetable);
    if (tlen > MSC_MAX_LINETABLE) tlen = 0;
    uint8_t *p = msc_stream_reserve(ctx->sink, ctx->stream, tlen + 64);
    if (!p) return 0;
    uint32_t id = next_code_id++;
    uint32_t first_line = co->co_firstlineno > 0 ? (uint32_t)co->co_firstlineno : 0;
    p = msc_enc_code(p, id, file_id, name_id, first_line, table, tlen);
    msc_stream_commit(ctx->stream, p, 1);

    return codes_add(co, id) < 0 ? 0 : id;
}

/* The GIL holder reads the table as it is; a thread without the GIL under
 * codes_mutex, and names nothing. */
static inline uint32_t code_id_of(const msc_capture_ctx_t *ctx, PyCodeObject *co)
{
    if (!ctx->can_register) {
        pthread_mutex_lock(&codes_mutex);
        uint32_t id = codes_find(co);
        pthread_mutex_unlock(&codes_mutex);
        return id;
    }
    uint32_t id = codes_find(co);
    return id ? id : register_code(ctx, co);
}

/*
 * The trie.
 */

#define TRIE_FIRST_SLOTS 4096u
#define ROOT_HASH 0x9E3779B9u

int msc_trie_init(msc_trie_t *t, uint32_t max_depth)
{
    memset(t, 0, sizeof(*t));
    t->slots = msc_calloc(TRIE_FIRST_SLOTS, sizeof(msc_trie_slot_t));
    t->mask = TRIE_FIRST_SLOTS - 1;
    t->count = 1;
    int err = msc_array_grow((void **)&t->hashes, &t->cap_hashes, TRIE_FIRST_SLOTS, 4);
    if (!err) t->hashes[0] = ROOT_HASH;
    t->scratch = msc_calloc(max_depth + 2, sizeof(msc_raw_frame_t));
    t->path = msc_calloc(max_depth + 2, sizeof(msc_raw_frame_t));
    t->steps = msc_calloc(max_depth + 1, sizeof(msc_trie_step_t));
    if (err || !t->slots || !t->scratch || !t->path || !t->steps) {
        msc_trie_release(t);
        return -1;
    }
    t->scratch[max_depth + 1] = MSC_RAW_END;
    return 0;
}

void msc_trie_release(msc_trie_t *t)
{
    msc_free(t->slots);
    msc_free(t->hashes);
    msc_free(t->scratch);
    msc_free(t->path);
    msc_free(t->steps);
    memset(t, 0, sizeof(*t));
}

/* The path hash of a child: its parent's, mixed with the child's frame. */
static inline uint32_t trie_hash(uint32_t parent_hash, uint32_t code_id, uint32_t offset)
{
    uint64_t h =
        ((uint64_t)parent_hash * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)code_id << 32 | offset);
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return (uint32_t)(h ^ (h >> 32));
}

/* Doubles the slots, keeping every node's id; -1 when memory runs out. */
static int trie_grow(msc_trie_t *t)
{
    uint32_t mask = t->mask * 2 + 1;
    msc_trie_slot_t *grown = msc_calloc((size_t)mask + 1, sizeof(msc_trie_slot_t));
    if (!grown) return -1;
    for (uint32_t i = 0; i <= t->mask; i++) {
        const msc_trie_slot_t *e = &t->slots[i];
        if (!e->id) continue;
        uint32_t j = t->hashes[e->id] & mask;
        while (grown[j].id) j = (j + 1) & mask;
        grown[j] = *e;
    }
    msc_free(t->slots);
    t->slots = grown;
    t->mask = mask;
    return 0;
}

/* The child of parent for step s, written as a NODE record when new; -1
 * when memory or the sink refuses (recording then stops, so a node interned
 * without its record is never referred to). */
static int64_t trie_child(msc_trie_t *t, const msc_capture_ctx_t *ctx, uint32_t parent,
                          const msc_trie_step_t *s)
{
    uint32_t i = s->hash & t->mask;
    for (msc_trie_slot_t *e; (e = &t->slots[i])->id; i = (i + 1) & t->mask)
        if (e->parent == parent && e->code_id == s->code_id && e->offset == s->offset) return e->id;
    if (t->count >= MSC_MAX_IDS ||
        msc_array_grow((void **)&t->hashes, &t->cap_hashes, (size_t)t->count + 1, 4) < 0)
        return -1;
    uint8_t *p = msc_stream_reserve(ctx->sink, ctx->stream, MSC_REC_MAX);
    if (!p) return -1;
    uint32_t id = t->count++;
    t->slots[i] = (msc_trie_slot_t){parent, s->code_id, s->offset, id};
    t->hashes[id] = s->hash;
    msc_stream_commit(ctx->stream,
                      msc_enc_node(p, &ctx->stream->delta, parent, s->code_id, s->offset), 1);
    /* At most two thirds full: probe runs stay within a cache line or two. */
    if ((uint64_t)t->count * 3 > (uint64_t)t->mask * 2 && trie_grow(t) < 0) return -1;
    return id;
}

/* A path entry that no frame may match: a code object that may have died,
 * or one not named (NULL is the truncation mark, which matches itself).
 * Frames are compared by their instruction's address alone: it lies in its
 * code object's bytecode, so it names the code object too, and a path entry
 * is either a live named code object (the path is forgotten when one dies,
 * msc_code_deaths) or this mark, whose instruction (2) no frame has: not a
 * real one, nor the truncation mark's (0) or MSC_RAW_END's (1). */
#define UNTRUSTED ((PyCodeObject *)(uintptr_t)1)
#define UNTRUSTED_INSTR ((uintptr_t)2)

static inline void untrust(msc_raw_frame_t *path_entry)
{
    path_entry->code = UNTRUSTED;
    path_entry->instr = UNTRUSTED_INSTR;
}

/* Reads raw (a frame of the stack being captured) into path entry out and
 * its step below the path hash h: the key it is looked up by, or none of
 * its own when the frame has not started running. Names its code object
 * when new (a CODE record); known, when not 0, is its id already (the last
 * stack ran the same code object at this depth: an allocation further on
 * in the same function). Returns the step's path hash. */
static uint32_t step_of(const msc_capture_ctx_t *ctx, uint32_t h, const msc_raw_frame_t *raw,
                        uint32_t known, msc_raw_frame_t *out, msc_trie_step_t *s)
{
    /* Field by field: the walk has just stored code and instruction apart,
     * and one 16-byte load of the pair (a struct copy) would wait for those
     * stores to retire instead of taking their values forwarded. */
    out->code = raw->code;
    out->instr = raw->instr;
    *s = (msc_trie_step_t){0, 0, h, 0, 0};
    if (raw->code && !known && ctx->trust && !codes_find(raw->code) && !ctx->trust(raw->code)) {
        untrust(out); /* it may have died since: never read it */
    } else if (raw->code) {
        uint32_t offset = msc_code_offset(raw->code, raw->instr);
        if (msc_frame_offset_incomplete(raw->code, offset)) {
            s->skip = 1; /* not running yet: no frame of its own */
            return h;
        }
        s->code_id = known ? known : code_id_of(ctx, raw->code);
        s->offset = offset;
        if (!s->code_id) untrust(out); /* unnamed: never trust a match */
    }
    return s->hash = trie_hash(h, s->code_id, s->offset);
}

int64_t msc_stack_capture(msc_trie_t *t, const msc_capture_ctx_t *ctx, PyThreadState *ts)
{
    /* Innermost first, from the scratch's end down: the stack ends up
     * outermost first, as the path it is compared with. Room for max_depth
     * frames and, before them, the truncation mark. */
    msc_raw_frame_t *end = t->scratch + ctx->max_depth + 1, *w = end, *full = t->scratch + 1;
    for (msc_pyframe_t *f = msc_frame_first(ts); f && f != ctx->root; f = msc_frame_previous(f)) {
        PyCodeObject *co = msc_frame_code(f);
        if (!co) continue; /* a shim the C stack owns */
        if (w == full) {
            *--w = (msc_raw_frame_t){NULL, 0}; /* marks a truncated stack */
            break;
        }
        w--;
        w->code = co;
        w->instr = msc_frame_instr(f);
    }
    return msc_stack_resolve(t, ctx, w, (uint32_t)(end - w));
}

int64_t msc_stack_resolve(msc_trie_t *t, const msc_capture_ctx_t *ctx, const msc_raw_frame_t *raw,
                          uint32_t n)
{
    uint64_t deaths = atomic_load_explicit(&msc_code_deaths, memory_order_relaxed);
    if (deaths != t->path_epoch) {
        t->path_len = 0;
        t->path_epoch = deaths;
    }
    /* Frames shared with the last stack, from the outermost in, with no
     * count: the path entry past the end of the shorter stack is made
     * UNTRUSTED, which matches no frame (no path entry past there is read
     * again), and raw[n], MSC_RAW_END, matches no path entry. */
    untrust(&t->path[n < t->path_len ? n : t->path_len]);
    const msc_raw_frame_t *r = raw, *q = t->path;
    while (r->instr == q->instr) r++, q++;
    uint32_t same = (uint32_t)(r - raw);
    /* The steps below, each slot fetched as soon as its hash is known
     * (a code object the last stack ran at the same depth keeps its id: no
     * code-table lookup; the path holds only live ones, see above)... */
    uint32_t h = same ? t->steps[same - 1].hash : ROOT_HASH;
    for (uint32_t i = same; i < n; i++) {
        uint32_t known =
            i < t->path_len && t->path[i].code == raw[i].code ? t->steps[i].code_id : 0;
        h = step_of(ctx, h, &raw[i], known, &t->path[i], &t->steps[i]);
        __builtin_prefetch(&t->slots[h & t->mask]);
    }
    /* ...then looked up in order, each under the node found above it. */
    int64_t node = same ? t->steps[same - 1].node : 0;
    for (uint32_t i = same; i < n; i++) {
        if (!t->steps[i].skip) node = trie_child(t, ctx, (uint32_t)node, &t->steps[i]);
        if (node < 0) {
            t->path_len = i;
            return -1;
        }
        t->steps[i].node = (uint32_t)node;
    }
    t->path_len = n;
    return node;
}
