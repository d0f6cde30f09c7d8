/* Native frames (--native-frames): at each recorded allocation, the C
 * return addresses of the allocating thread, written as a prefix trie next
 * to the Python stack trie (stacks.c), with the loaded objects they fall in.
 *
 * libunwind's unw_backtrace walks the stack with the DWARF unwind tables it
 * caches per object, without a signal or a ptrace stop: a few hundred
 * nanoseconds for a typical stack. The frames of memscope itself (the
 * wrapper, the recorder, libunwind) are dropped from the inner end, and the
 * walk stops at the first frame of the interpreter's evaluation loop: the
 * Python frames the recorder already writes cover everything above it.
 *
 * Like the Python trie, consecutive stacks share most of their frames, so
 * each trie keeps the last path it resolved and looks up only the frames
 * that differ. Nothing here allocates through the Python allocators or calls
 * into the interpreter: memory comes from core's allocator (libc, with
 * msc__busy set, so native recording forwards it unrecorded). */
#include "unwind.h"

#include "recorder.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "memscope/common.h"
#include "memscope/encode.h"
#include "memscope/nframes.h"

typedef struct range {
    uintptr_t lo, hi;
} range_t;

static range_t own_range;      /* memscope's extension: its frames are dropped */
static range_t unwinder_range; /* libunwind: likewise */
static range_t eval_range;     /* _PyEval_EvalFrameDefault: the walk stops there */

/* One interned frame: the child of parent for return address addr. */
typedef struct nslot {
    uintptr_t addr;
    uint32_t parent;
    uint32_t id;               /* 0: empty slot */
} nslot_t;

struct msc_ntrie {
    nslot_t *slots;            /* owned: open addressing on (parent, addr) */
    uint32_t mask, count;
    uint32_t next_id;          /* the stream's next native node id (from 1) */
    uint32_t current;          /* the leaf the last NATIVE_STACK named */
    uint64_t last_addr;        /* NATIVE_NODE's address delta state */
    uint32_t path_len;         /* the last stack resolved, outermost first: */
    uintptr_t path[MSC_NATIVE_DEPTH];
    uint32_t path_node[MSC_NATIVE_DEPTH];
};

/* The objects already written as MODULE records in this capture, by their
 * address ranges; protected by the sink's side lock, which every writer of
 * MODULE records holds. */
static range_t *modules;
static uint32_t nmodules, cap_modules;

/*
 * Address ranges of loaded objects.
 */

typedef struct find_arg {
    uintptr_t addr;
    range_t found;
} find_arg_t;

static range_t load_range(const struct dl_phdr_info *info)
{
    range_t r = {UINTPTR_MAX, 0};
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (lo < r.lo) r.lo = lo;
        if (hi > r.hi) r.hi = hi;
    }
    return r;
}

static int find_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    find_arg_t *a = data;
    range_t r = load_range(info);
    if (a->addr < r.lo || a->addr >= r.hi) return 0;
    a->found = r;
    return 1;
}

static range_t object_of(const void *addr)
{
    find_arg_t a = {(uintptr_t)addr, {0, 0}};
    dl_iterate_phdr(find_object, &a);
    return a.found;
}

static inline int in_range(const range_t *r, uintptr_t a)
{
    return a >= r->lo && a < r->hi;
}

int msc__nframes_install(void)
{
    if (eval_range.hi) return 0;
    void *eval = dlsym(RTLD_DEFAULT, "_PyEval_EvalFrameDefault");
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!eval || !dladdr1(eval, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym || !sym->st_size) {
        PyErr_SetString(PyExc_RuntimeError,
                        "memscope: native frames need the interpreter's _PyEval_EvalFrameDefault "
                        "symbol, which this python does not export");
        return -1;
    }
    /* Each thread keeps its own cache of unwind entries: no lock shared
     * between allocating threads. */
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    own_range = object_of((const void *)msc__nframes_install);
    unwinder_range = object_of((const void *)unw_backtrace);
    eval_range = (range_t){(uintptr_t)eval, (uintptr_t)eval + sym->st_size};
    return 0;
}

/*
 * MODULE records (side stream, side lock held).
 */

/* The GNU build id from the object's PT_NOTE segments, as mapped. */
static size_t build_id(const struct dl_phdr_info *info, const uint8_t **out)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
            const uint8_t *name = p + sizeof(*n);
            const uint8_t *desc = name + ((n->n_namesz + 3) & ~3u);
            if (desc + n->n_descsz > end) break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                *out = desc;
                return n->n_descsz > MSC_MAX_BUILD_ID ? MSC_MAX_BUILD_ID : n->n_descsz;
            }
            p = desc + ((n->n_descsz + 3) & ~3u);
        }
    }
    return 0;
}

/* Writes one extension record (encode.h's msc_enc_ext). */
static int put_ext(msc_sink_t *sink, msc_stream_t *st, int subkind, const uint8_t *body, size_t n)
{
    uint8_t *p = msc_stream_reserve(sink, st, MSC_REC_MAX + n);
    if (!p) return -1;
    msc_stream_commit(st, msc_enc_ext(p, subkind, body, n), 1);
    return 0;
}

typedef struct scan_arg {
    msc_sink_t *sink;
    msc_stream_t *side;
    int err;
} scan_arg_t;

/*  MODULE body | start | end | load bias | build id length | build id |
 *              | path length | path |   (addresses as varints) */
static int emit_module(scan_arg_t *a, const struct dl_phdr_info *info, range_t r)
{
    uint8_t body[MSC_MAX_MODULE_PATH + MSC_MAX_BUILD_ID + 64];
    char exe[MSC_MAX_MODULE_PATH];
    const char *path = info->dlpi_name;
    if (!path || !*path) { /* the main program */
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = 0;
        path = exe;
    }
    size_t plen = strnlen(path, MSC_MAX_MODULE_PATH - 1);
    static const uint8_t no_id[1];
    const uint8_t *id = no_id;  /* an object without a build id note */
    size_t idlen = build_id(info, &id);
    uint8_t *p = msc_put_varint(body, r.lo);
    p = msc_put_varint(p, r.hi);
    p = msc_put_varint(p, info->dlpi_addr);
    p = msc_put_bytes(p, (const char *)id, idlen);
    p = msc_put_bytes(p, path, plen);
    return put_ext(a->sink, a->side, MSC_EXT_MODULE, body, (size_t)(p - body));
}

static int known_module(range_t r)
{
    for (uint32_t i = 0; i < nmodules; i++)
        if (modules[i].lo == r.lo && modules[i].hi == r.hi) return 1;
    return 0;
}

static int scan_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    scan_arg_t *a = data;
    range_t r = load_range(info);
    if (r.lo >= r.hi || known_module(r)) return 0;
    if (nmodules == cap_modules) {
        uint32_t cap = cap_modules ? cap_modules * 2 : 64;
        range_t *grown =
            cap <= MSC_MAX_MODULES ? msc_realloc(modules, cap * sizeof(range_t)) : NULL;
        if (!grown) return a->err = -1;
        modules = grown;
        cap_modules = cap;
    }
    if (emit_module(a, info, r) < 0) return a->err = -1;
    modules[nmodules++] = r;
    return 0;
}

static int scan_modules(msc_sink_t *sink, msc_stream_t *side)
{
    scan_arg_t a = {sink, side, 0};
    dl_iterate_phdr(scan_object, &a);
    return a.err;
}

int msc__nframes_start(msc_sink_t *sink)
{
    msc_stream_t *side = msc_sink_side_lock(sink);
    nmodules = 0;
    int rc = scan_modules(sink, side);
    msc_sink_side_unlock(sink);
    return rc;
}

/* A return address outside every object written so far: an object loaded
 * since (dlopen, an import), whose MODULE record must precede the node. */
static int note_module(msc_sink_t *sink, msc_stream_t *st, int side, uintptr_t addr)
{
    msc_stream_t *s = side ? st : msc_sink_side_lock(sink);
    int rc = 0, known = 0;
    for (uint32_t i = 0; i < nmodules && !known; i++) known = in_range(&modules[i], addr);
    if (!known) rc = scan_modules(sink, s);
    if (!side) msc_sink_side_unlock(sink);
    return rc;
}

/*
 * The trie.
 */

msc_ntrie_t *msc__ntrie_new(void)
{
    msc_ntrie_t *t = msc_calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->mask = 1023;
    t->slots = msc_calloc(t->mask + 1, sizeof(nslot_t));
    if (!t->slots) {
        msc_free(t);
        return NULL;
    }
    t->next_id = 1;
    return t;
}

void msc__ntrie_free(msc_ntrie_t *t)
{
    if (!t) return;
    msc_free(t->slots);
    msc_free(t);
}

static inline uint32_t slot_of(uint32_t parent, uintptr_t addr, uint32_t mask)
{
    uint64_t h = ((uint64_t)addr ^ (uint64_t)parent << 40) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32) & mask;
}

static int grow(msc_ntrie_t *t)
{
    uint32_t mask = t->mask * 2 + 1;
    nslot_t *slots = msc_calloc((size_t)mask + 1, sizeof(nslot_t));
    if (!slots) return -1;
    for (uint32_t i = 0; i <= t->mask; i++) {
        if (!t->slots[i].id) continue;
        uint32_t j = slot_of(t->slots[i].parent, t->slots[i].addr, mask);
        while (slots[j].id) j = (j + 1) & mask;
        slots[j] = t->slots[i];
    }
    msc_free(t->slots);
    t->slots = slots;
    t->mask = mask;
    return 0;
}

/*  NATIVE_NODE body | parent distance: varint | address delta: zigzag varint |
 *  The stream's next native node: the frame of return address addr called
 *  from node parent (0: the outermost native frame). */
static int64_t child(msc_ntrie_t *t, msc_sink_t *sink, msc_stream_t *st, int side, uint32_t parent,
                     uintptr_t addr)
{
    uint32_t i = slot_of(parent, addr, t->mask);
    for (; t->slots[i].id; i = (i + 1) & t->mask)
        if (t->slots[i].parent == parent && t->slots[i].addr == addr) return t->slots[i].id;
    if (note_module(sink, st, side, addr) < 0) return -1;
    uint32_t id = t->next_id;
    uint8_t body[32], *p = msc_put_varint(body, id - parent);
    p = msc_put_varint(p, msc_zigzag((int64_t)(addr - t->last_addr)));
    if (put_ext(sink, st, MSC_EXT_NATIVE_NODE, body, (size_t)(p - body)) < 0) return -1;
    t->last_addr = addr;
    t->next_id++;
    t->slots[i] = (nslot_t){addr, parent, id};
    if (++t->count * 2 > t->mask && grow(t) < 0) return -1;
    return id;
}

/* The leaf of the native stack ips[0..n) (innermost first). */
static int64_t resolve(msc_ntrie_t *t, msc_sink_t *sink, msc_stream_t *st, int side,
                       void *const *ips, uint32_t n)
{
    uint32_t same = 0;
    while (same < n && same < t->path_len && t->path[same] == (uintptr_t)ips[n - 1 - same]) same++;
    int64_t node = same ? t->path_node[same - 1] : 0;
    for (uint32_t i = same; i < n; i++) {
        uintptr_t addr = (uintptr_t)ips[n - 1 - i];
        node = child(t, sink, st, side, (uint32_t)node, addr);
        if (node < 0) {
            t->path_len = i;
            return -1;
        }
        t->path[i] = addr;
        t->path_node[i] = (uint32_t)node;
    }
    t->path_len = n;
    return node;
}

int msc__nframes_note(msc_ntrie_t *t, msc_sink_t *sink, msc_stream_t *st, int side)
{
    void *ips[MSC_NATIVE_DEPTH + 32];
    int n = unw_backtrace(ips, (int)(sizeof(ips) / sizeof(ips[0])));
    int first = 0, end;
    while (first < n && (in_range(&own_range, (uintptr_t)ips[first]) ||
                         in_range(&unwinder_range, (uintptr_t)ips[first])))
        first++;
    for (end = first; end < n && end - first < MSC_NATIVE_DEPTH; end++)
        if (in_range(&eval_range, (uintptr_t)ips[end])) break;
    int64_t leaf = resolve(t, sink, st, side, ips + first, (uint32_t)(end - first));
    if (leaf < 0) return -1;
    if ((uint32_t)leaf == t->current) return 0;
    /*  NATIVE_STACK body | leaf delta: zigzag varint |   (0: no native frames) */
    uint8_t body[16], *p = msc_put_varint(body, msc_zigzag((int64_t)leaf - (int64_t)t->current));
    if (put_ext(sink, st, MSC_EXT_NATIVE_STACK, body, (size_t)(p - body)) < 0) return -1;
    t->current = (uint32_t)leaf;
    return 0;
}
