/* Native frames in replay: the MODULE, NATIVE_NODE and NATIVE_STACK records
 * of a capture recorded with --native-frames (docs/format.md, "Extension
 * records"), symbolization, and the merge into the Python stack trie.
 *
 * Each return address is symbolized once, with elfutils' libdwfl: the
 * loaded object it falls in is looked up by the path the recorder wrote,
 * and used only if its GNU build id is the recorded one; otherwise (the
 * file was rebuilt, or the capture is read on another machine) the object's
 * separate debug file .build-id/xx/yyyy.debug under /usr/lib/debug (or
 * $MEMSCOPE_DEBUG_DIR) is used when present, else the frame is named
 * `object+0xoffset`. A frame becomes an ordinary trie node: a synthetic
 * code object (file: the source file, else the object's path; function:
 * the symbol) and the line from DWARF (0 without debug info), so every
 * report shows native frames unchanged. */
#include "nativesym.h"

#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memscope/encode.h"
#include "memscope/format.h"
#include "memscope/nframes.h"

/* An exact map from a pair of 64-bit keys to a 64-bit value. */
typedef struct entry {
    uint64_t a, b, value;
    int used;
} entry_t;

typedef struct map {
    entry_t *e;                /* owned */
    uint32_t mask, count;
} map_t;

static size_t map_slot(uint64_t a, uint64_t b, uint32_t mask)
{
    uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) * 0xBF58476D1CE4E5B9ull;
    return (size_t)(h ^ h >> 31) & mask;
}

static entry_t *map_find(map_t *m, uint64_t a, uint64_t b)
{
    if (!m->e) return NULL;
    for (size_t i = map_slot(a, b, m->mask); m->e[i].used; i = (i + 1) & m->mask)
        if (m->e[i].a == a && m->e[i].b == b) return &m->e[i];
    return NULL;
}

static int map_put(map_t *m, uint64_t a, uint64_t b, uint64_t value)
{
    if (!m->e || (m->count + 1) * 2 > m->mask) {
        uint32_t mask = m->e ? m->mask * 2 + 1 : 255;
        entry_t *grown = msc_calloc((size_t)mask + 1, sizeof(entry_t));
        if (!grown) return MSC_ENOMEM;
        for (uint32_t i = 0; m->e && i <= m->mask; i++) {
            if (!m->e[i].used) continue;
            size_t j = map_slot(m->e[i].a, m->e[i].b, mask);
            while (grown[j].used) j = (j + 1) & mask;
            grown[j] = m->e[i];
        }
        msc_free(m->e);
        m->e = grown;
        m->mask = mask;
    }
    size_t i = map_slot(a, b, m->mask);
    while (m->e[i].used) i = (i + 1) & m->mask;
    m->e[i] = (entry_t){a, b, value, 1};
    m->count++;
    return 0;
}

/* A loaded object as the recorder saw it. */
typedef struct module {
    uint64_t lo, hi;           /* the address range of its loaded segments */
    uint64_t bias;             /* load bias: address minus file address */
    uint8_t build_id[MSC_MAX_BUILD_ID];
    uint32_t build_id_len;
    char *path;                /* owned */
    Dwfl *dwfl;                /* owned once opened; NULL while unopened or unusable */
    Dwfl_Module *mod;          /* borrowed from dwfl */
    int opened;                /* 1: tried (dwfl, mod set if usable) */
} module_t;

/* A node of the capture's native trie: a return address below its parent. */
typedef struct nnode {
    uint32_t parent;
    uint64_t addr;
} nnode_t;

struct msc_native {
    module_t *modules;         /* owned, in the order recorded: a later one wins */
    uint32_t nmodules, cap_modules;
    nnode_t *nodes;            /* owned; [0] is the root */
    uint32_t nnodes, cap_nodes;
    map_t node_index;          /* (parent, addr) -> global native node */
    map_t frames;              /* (addr, 0) -> synthetic code id << 32 | line */
    map_t merged;              /* (Python node, native node) -> extended node */
    map_t strings;             /* (hash, length) -> synthetic string id */
    map_t codes;               /* (file id, function id) -> synthetic code id */
};

msc_native_t *msc__native_new(void)
{
    msc_native_t *n = msc_calloc(1, sizeof(*n));
    if (!n) return NULL;
    n->cap_nodes = 1024;
    n->nodes = msc_calloc(n->cap_nodes, sizeof(nnode_t));
    if (!n->nodes) {
        msc_free(n);
        return NULL;
    }
    n->nnodes = 1;
    return n;
}

void msc__native_free(msc_native_t *n)
{
    if (!n) return;
    for (uint32_t i = 0; i < n->nmodules; i++) {
        msc_free(n->modules[i].path);
        if (n->modules[i].dwfl) dwfl_end(n->modules[i].dwfl);
    }
    msc_free(n->modules);
    msc_free(n->nodes);
    map_t *maps[] = {&n->node_index, &n->frames, &n->merged, &n->strings, &n->codes};
    for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) msc_free(maps[i]->e);
    msc_free(n);
}

void msc__native_stream_release(msc_native_stream_t *st)
{
    msc_free(st->map);
    memset(st, 0, sizeof(*st));
}

/*
 * Decoding.
 */

static int decode_module(msc_native_t *n, msc_cursor_t *c)
{
    uint64_t lo = msc__get_varint(c), hi = msc__get_varint(c), bias = msc__get_varint(c);
    uint64_t idlen = msc__get_varint(c);
    const uint8_t *id = idlen <= MSC_MAX_BUILD_ID ? msc__get_bytes(c, idlen) : NULL;
    uint64_t plen = msc__get_varint(c);
    const uint8_t *path = plen < MSC_MAX_MODULE_PATH ? msc__get_bytes(c, plen) : NULL;
    if (c->err) return c->err;
    if (!id || !path || lo >= hi || memchr(path, 0, plen)) return MSC_ECORRUPT;
    if (n->nmodules == n->cap_modules) {
        uint32_t cap = n->cap_modules ? n->cap_modules * 2 : 64;
        if (cap > MSC_MAX_MODULES) return MSC_ECORRUPT;
        module_t *grown = msc_realloc(n->modules, cap * sizeof(module_t));
        if (!grown) return MSC_ENOMEM;
        n->modules = grown;
        n->cap_modules = cap;
    }
    module_t *m = &n->modules[n->nmodules];
    memset(m, 0, sizeof(*m));
    m->path = msc_malloc(plen + 1);
    if (!m->path) return MSC_ENOMEM;
    memcpy(m->path, path, plen);
    m->path[plen] = 0;
    m->lo = lo, m->hi = hi, m->bias = bias;
    memcpy(m->build_id, id, idlen);
    m->build_id_len = (uint32_t)idlen;
    n->nmodules++;
    return 0;
}

static int64_t intern_node(msc_native_t *n, uint32_t parent, uint64_t addr)
{
    entry_t *e = map_find(&n->node_index, parent, addr);
    if (e) return (int64_t)e->value;
    if (n->nnodes >= MSC_MAX_IDS) return MSC_ECORRUPT;
    if (n->nnodes == n->cap_nodes) {
        nnode_t *grown = msc_realloc(n->nodes, sizeof(nnode_t) * (size_t)n->cap_nodes * 2);
        if (!grown) return MSC_ENOMEM;
        n->nodes = grown;
        n->cap_nodes *= 2;
    }
    uint32_t id = n->nnodes++;
    n->nodes[id] = (nnode_t){parent, addr};
    int err = map_put(&n->node_index, parent, addr, id);
    return err ? err : (int64_t)id;
}

static int decode_node(msc_native_t *n, msc_native_stream_t *st, msc_cursor_t *c)
{
    uint64_t distance = msc__get_varint(c);
    st->last_addr += (uint64_t)msc_unzigzag(msc__get_varint(c));
    if (c->err) return c->err;
    uint32_t id = st->n ? st->n : 1;
    if (distance == 0 || distance > id || id >= MSC_MAX_IDS) return MSC_ECORRUPT;
    if (id >= st->cap) {
        uint32_t cap = st->cap ? st->cap * 2 : 1024;
        uint32_t *map = msc_realloc(st->map, sizeof(uint32_t) * cap);
        if (!map) return MSC_ENOMEM;
        map[0] = 0;
        st->map = map;
        st->cap = cap;
    }
    int64_t global = intern_node(n, st->map[id - distance], st->last_addr);
    if (global < 0) return (int)global;
    st->map[id] = (uint32_t)global;
    st->n = id + 1;
    return 0;
}

int msc__native_decode(msc_native_t *n, msc_native_stream_t *st, int stream, uint64_t kind,
                       msc_cursor_t *b)
{
    int err = 0;
    if (kind == MSC_EXT_MODULE) {
        if (stream != MSC_STREAM_SIDE) return MSC_ECORRUPT;
        err = decode_module(n, b);
    } else if (kind == MSC_EXT_NATIVE_NODE) {
        err = decode_node(n, st, b);
    } else if (kind == MSC_EXT_NATIVE_STACK) {
        uint32_t leaf = st->current + (uint32_t)msc_unzigzag(msc__get_varint(b));
        err = b->err;
        if (!err && leaf != 0 && leaf >= st->n) err = MSC_ECORRUPT;
        if (!err) st->current = leaf;
    }
    if (!err && b->err) err = b->err;
    return err == MSC_ETRUNCATED ? MSC_ECORRUPT : err;
}

/*
 * Symbolization.
 */

static const Dwfl_Callbacks offline = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

/* Whether the object dwfl found has the build id the recorder wrote (an
 * object written without one is taken as it is). */
static int same_build(const module_t *m, Dwfl_Module *mod)
{
    const unsigned char *bits;
    GElf_Addr vaddr;
    if (!m->build_id_len) return 1;
    int n = dwfl_module_build_id(mod, &bits, &vaddr);
    return n == (int)m->build_id_len && memcmp(bits, m->build_id, m->build_id_len) == 0;
}

/* Reports path at the module's load bias in a Dwfl of its own; 0 when the
 * file cannot be read or is not the object recorded. */
static int try_open(module_t *m, const char *path)
{
    Dwfl *d = dwfl_begin(&offline);
    if (!d) return 0;
    dwfl_report_begin(d);
    /* The path comes from the capture: only a regular file is read (never
     * a FIFO that would block, or a device). */
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0 && (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))) {
        close(fd);
        fd = -1;
    }
    Dwfl_Module *mod = fd < 0 ? NULL : dwfl_report_elf(d, m->path, path, fd, m->bias, false);
    if (fd >= 0 && !mod) close(fd); /* dwfl owns fd once it reports the file */
    dwfl_report_end(d, NULL, NULL);
    if (!mod || !same_build(m, mod)) {
        dwfl_end(d);
        return 0;
    }
    m->dwfl = d;
    m->mod = mod;
    return 1;
}

/* The file at the recorded path, else the debug file named by its build
 * id under $MEMSCOPE_DEBUG_DIR (default /usr/lib/debug: where Debian's
 * -dbgsym packages put them; a report made on another machine points it at
 * a copy of the recording machine's); neither: the module stays unnamed. */
static void open_module(module_t *m)
{
    m->opened = 1;
    if (try_open(m, m->path) || !m->build_id_len) return;
    const char *root = getenv("MEMSCOPE_DEBUG_DIR");
    if (!root || !*root || strlen(root) > MSC_MAX_MODULE_PATH) root = "/usr/lib/debug";
    char debug[MSC_MAX_MODULE_PATH + 64 + 2 * MSC_MAX_BUILD_ID];
    int k = snprintf(debug, sizeof(debug), "%s/.build-id/%02x/", root, m->build_id[0]);
    for (uint32_t i = 1; i < m->build_id_len; i++)
        k += snprintf(debug + k, sizeof(debug) - (size_t)k, "%02x", m->build_id[i]);
    snprintf(debug + k, sizeof(debug) - (size_t)k, ".debug");
    try_open(m, debug);
}

static module_t *module_of(msc_native_t *n, uint64_t addr)
{
    for (uint32_t i = n->nmodules; i-- > 0;) {
        module_t *m = &n->modules[i];
        if (addr >= m->lo && addr < m->hi) {
            if (!m->opened) open_module(m);
            return m;
        }
    }
    return NULL;
}

static int64_t intern_string(msc_native_t *n, msc_symbols_t *sym, const char *text)
{
    size_t len = strlen(text);
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)text[i]) * 0x100000001b3ull;
    entry_t *e = map_find(&n->strings, h, len);
    /* A 64-bit hash collision (never seen) gets a string of its own, uncached. */
    if (e && strcmp(msc_symbols_string(sym, (uint32_t)e->value), text) == 0)
        return (int64_t)e->value;
    int64_t id = msc_symbols_add_native_string(sym, text);
    if (id < 0 || e) return id;
    int err = map_put(&n->strings, h, len, (uint64_t)id);
    return err ? err : id;
}

static int64_t intern_code(msc_native_t *n, msc_symbols_t *sym, const char *file,
                           const char *function)
{
    int64_t f = intern_string(n, sym, file), fn = f < 0 ? f : intern_string(n, sym, function);
    if (fn < 0) return fn;
    entry_t *e = map_find(&n->codes, (uint64_t)f, (uint64_t)fn);
    if (e) return (int64_t)e->value;
    int64_t code = msc_symbols_add_native_code(sym, (uint32_t)f, (uint32_t)fn);
    if (code < 0) return code;
    int err = map_put(&n->codes, (uint64_t)f, (uint64_t)fn, (uint64_t)code);
    return err ? err : code;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

/* The synthetic code and line of return address addr, cached per address.
 * The call instruction is the byte before the return address. */
static int frame_of(msc_native_t *n, msc_symbols_t *sym, uint64_t addr, uint32_t *code,
                    uint32_t *line)
{
    entry_t *e = map_find(&n->frames, addr, 0);
    if (e) {
        *code = (uint32_t)(e->value >> 32);
        *line = (uint32_t)e->value;
        return 0;
    }
    uint64_t pc = addr ? addr - 1 : 0;
    module_t *m = module_of(n, pc);
    const char *name = NULL, *src = NULL;
    int lineno = 0;
    GElf_Off off;
    GElf_Sym s;
    if (m && m->mod) {
        name = dwfl_module_addrinfo(m->mod, pc, &off, &s, NULL, NULL, NULL);
        Dwfl_Line *l = dwfl_module_getsrc(m->mod, pc);
        if (l) src = dwfl_lineinfo(l, NULL, &lineno, NULL, NULL, NULL);
    }
    char fallback[MSC_MAX_MODULE_PATH + 32];
    if (!name && m)
        snprintf(fallback, sizeof(fallback), "%s+0x%" PRIx64, base_name(m->path), pc - m->bias);
    else if (!name) snprintf(fallback, sizeof(fallback), "0x%" PRIx64, pc);
    int64_t c = intern_code(n, sym, src ? src : m ? m->path : "<native>", name ? name : fallback);
    if (c < 0) return (int)c;
    *code = (uint32_t)c;
    *line = src && lineno > 0 ? (uint32_t)lineno : 0;
    return map_put(&n->frames, addr, 0, (uint64_t)*code << 32 | *line);
}

int msc__native_extend(msc_native_t *n, msc_symbols_t *sym, const msc_native_stream_t *st,
                       uint32_t *node)
{
    if (!st->current) return 0;
    uint32_t leaf = st->map[st->current];
    entry_t *e = map_find(&n->merged, *node, leaf);
    if (e) {
        *node = (uint32_t)e->value;
        return 0;
    }
    uint32_t chain[MSC_NATIVE_DEPTH], depth = 0;
    for (uint32_t k = leaf; k && depth < MSC_NATIVE_DEPTH; k = n->nodes[k].parent)
        chain[depth++] = k;
    int64_t at = *node;
    for (uint32_t i = depth; i-- > 0 && at >= 0;) {
        uint32_t code = 0, line = 0;
        int err = frame_of(n, sym, n->nodes[chain[i]].addr, &code, &line);
        if (err) return err;
        at = msc_symbols_add_node(sym, (uint32_t)at, code, line);
    }
    if (at < 0) return (int)at;
    int err = map_put(&n->merged, *node, leaf, (uint64_t)at);
    *node = (uint32_t)at;
    return err;
}
