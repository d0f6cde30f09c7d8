/* Heap snapshots: the live object graph of a Python process as the heap
 * walker (src/python/heapwalk.c) saw it, held in flat arrays so that ten
 * million objects fit in a few hundred megabytes, with its accessors and
 * the builder the walker and the file reader fill it with. The snapshot
 * file is in heapfile.h, the analyses (partitions, dominators, paths,
 * cycles, duplicates, empty containers) in heapanalysis.h and their report
 * writers in heapreport.h.
 *
 * Node 0 is always the synthetic root; its edges name the real roots
 * ("sys.modules", a thread's frames, objects only the collector knows of). */
#ifndef MEMSCOPE_HEAP_H
#define MEMSCOPE_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "memscope/common.h"

#define MSC_HEAP_MAX_NODES (1u << 30)      /* more nodes than this is corrupt */
#define MSC_HEAP_MAX_PREVIEW 40            /* bytes of a str/bytes kept as preview */
/* Bytes of a name; longer ones are cut, and a file with a longer string is
 * corrupt. */
#define MSC_HEAP_MAX_STRING (1u << 16)

enum msc_heap_flag {
    MSC_HEAP_GC_TRACKED = 1,   /* the collector tracks it (gc.is_tracked) */
    MSC_HEAP_SYNTHETIC = 2,    /* not a Python object: the root, an interpreter frame, an
                                  instance's inline attribute values */
    MSC_HEAP_FLAGS_ALL = 3,
};

/* An edge label is 0 (none), a string id (a name: attribute, dict key,
 * local variable, "__dict__"), or MSC_HEAP_LABEL_INDEX | i (a list or tuple
 * index, or element i of a numpy object array in C order). */
#define MSC_HEAP_LABEL_INDEX 0x80000000u

typedef struct msc_heap_type {
    uint32_t name;             /* string id: the type's name, e.g. "dict", "Foo" */
    uint32_t module;           /* string id: "builtins", "__main__", "collections" */
} msc_heap_type_t;

/* How a container stores its items, which decides what its capacity counts
 * and how a right-sized one would look (CPython's list, set and dict). */
enum msc_heap_layout {
    MSC_HEAP_LIST = 0,         /* an array of item pointers; capacity: allocated slots */
    MSC_HEAP_SET = 1,          /* set or frozenset: a hash table of 16-byte entries;
                                  capacity: table slots (8 when the table is inline) */
    MSC_HEAP_DICT_STR = 2,     /* a dict with its own keys table of str keys only (16-byte
                                  entries); capacity: hash slots, a power of two */
    MSC_HEAP_DICT = 3,         /* a dict with its own keys table of any keys (24-byte
                                  entries); capacity: hash slots, a power of two */
    MSC_HEAP_DICT_SPLIT = 4,   /* an instance's values beside keys its class shares (a split
                                  dict or inline attribute values); capacity: value slots */
    MSC_HEAP_LAYOUTS = 5,
};

/* A container's length and capacity as the walker read them from the
 * object's own fields. */
typedef struct msc_heap_container {
    uint32_t node;
    uint8_t layout;            /* enum msc_heap_layout */
    uint64_t length;           /* items held: len() */
    uint64_t capacity;         /* slots allocated, as the layout counts them */
} msc_heap_container_t;

/* What the walker read from a numpy array that owns its buffer: its dtype
 * and length, and, for numbers, the narrowest element of the same kind that
 * held every value it sampled (up to MSC_HEAP_ARRAY_SAMPLES spread over the
 * array), which the dtype and downcast advice turn into bytes saved. */
#define MSC_HEAP_ARRAY_SAMPLES 4096

typedef struct msc_heap_array {
    uint32_t node;
    uint8_t kind;              /* numpy's dtype.kind: 'i' signed, 'u' unsigned, 'f' float,
                                  'O' object (elements are the node's index edges) */
    uint8_t itemsize;          /* bytes an element: 1, 2, 4 or 8 (8 for 'O') */
    uint8_t fits;              /* bytes an element of the same kind needs to hold every
                                  sampled value ('f': 4 when each is exactly a float32);
                                  <= itemsize; equal to it for 'O' */
    uint64_t length;           /* elements (numpy's size); nbytes is length * itemsize */
} msc_heap_array_t;

typedef struct msc_heap {
    uint32_t node_count;
    uint32_t node_cap;
    uint64_t *addr;            /* id() of the object (address); unique per node */
    uint64_t *size;            /* bytes, as sys.getsizeof counts them */
    uint32_t *type;            /* index into types */
    uint32_t *refcnt;          /* reference count (saturated at UINT32_MAX) */
    uint32_t *preview;         /* string id of a short preview (str, bytes, names, a numpy
                                  array's dtype and shape), 0 none */
    uint8_t *flags;            /* enum msc_heap_flag */
    uint32_t *site;            /* string id of where node v was allocated ("file:line in
                                  function"), 0 unknown; NULL when no site is known */
    uint64_t *digest;          /* XXH3-64 of an exact str's or bytes' contents, 0 for other
                                  nodes; NULL when no node has one (msc_heap_set_digest) */
    uint32_t digest_cap;       /* entries allocated in digest */
    int contents;              /* digests and container lengths were recorded: every exact
                                  str and bytes has a digest, every list, dict, set and
                                  frozenset a container entry */
    struct msc_heap_container *containers; /* owned; in increasing node order */
    uint32_t container_count;
    uint32_t container_cap;
    struct msc_heap_array *arrays; /* owned; in increasing node order */
    uint32_t array_count;
    uint32_t array_cap;

    uint64_t edge_count;
    uint64_t edge_cap;
    uint64_t *edge_start;      /* node i's edges are [edge_start[i], edge_start[i + 1]) */
    uint32_t *edge_to;         /* target node */
    uint32_t *edge_label;      /* see MSC_HEAP_LABEL_INDEX */

    msc_heap_type_t *types;
    uint32_t type_count;
    uint32_t type_cap;

    char *blob;                /* string bytes, each followed by a NUL */
    uint64_t blob_len;
    uint64_t blob_cap;
    uint64_t *str_off;         /* string i is blob[str_off[i] .. str_off[i + 1] - 1) */
    uint32_t string_count;     /* string 0 is "" */
    uint32_t string_cap;

    uint64_t *node_slots;      /* address table: (node index + 1) << 32 | hash tag, 0 empty;
                                  NULL until msc_heap_index() */
    uint64_t node_mask;

    struct msc__heap_build *build; /* owned: the builder's edge cursor, late root edges and
                                      intern table, private to src/core (heapint.h) */

    uint64_t pid;              /* process the snapshot was taken in */
    uint64_t time_ns;          /* wall clock, ns since the Unix epoch */
    uint32_t python_hexversion;
} msc_heap_t;

/* Building (the walker and the file reader). The heap starts with the root
 * node 0, string 0 ("") and no types. Returns NULL on out-of-memory;
 * msc_heap_free(NULL) is a no-op. */
msc_heap_t *msc_heap_new(void);
void msc_heap_free(msc_heap_t *h);

/* Interns n bytes (a NUL inside is kept), sets *id to the string interned
 * before with those bytes, else to a new one: 0 or MSC_ENOMEM. Strings added
 * by msc_heap_add_string (and so all strings read from a file) are not
 * looked at. Both keep at most MSC_HEAP_MAX_STRING bytes of s (cut before a
 * UTF-8 character that does not fit), so every heap has only strings its
 * file can hold; the same long name is cut the same way each time. */
int msc_heap_intern(msc_heap_t *h, const char *s, size_t n, uint32_t *id);

/* Adds n bytes as a new string whether or not it is already there (the
 * previews of a heap's strings are mostly unique, and looking each up
 * would cost a cache miss apiece): 0 or MSC_ENOMEM. */
int msc_heap_add_string(msc_heap_t *h, const char *s, size_t n, uint32_t *id);
static inline const char *msc_heap_string(const msc_heap_t *h, uint32_t id, size_t *len)
{
    if (len) *len = (size_t)(h->str_off[id + 1] - h->str_off[id] - 1);
    return h->blob + h->str_off[id];
}

int msc_heap_add_type(msc_heap_t *h, uint32_t name, uint32_t module, uint32_t *index);

/* Makes room for nodes and edges in all, so that a builder who can guess
 * the heap's size grows its columns once instead of copying them at every
 * doubling: 0 or MSC_ENOMEM. */
int msc_heap_reserve(msc_heap_t *h, uint32_t nodes, uint64_t edges);

/* Adds a node for an address not yet present and sets *index: 0, MSC_ENOMEM, or MSC_ECORRUPT past MSC_HEAP_MAX_NODES. */
int msc_heap_add_node(msc_heap_t *h, uint64_t addr, uint32_t type, uint64_t size, uint32_t refcnt,
                      uint8_t flags, uint32_t preview, uint32_t *index);

/* Builds the address table msc_heap_find() answers from, over the nodes
 * added so far (adding nodes does not maintain it, so a walk pays for no
 * table it does not use): 0, MSC_ENOMEM, or MSC_ECORRUPT when two nodes
 * share an address. */
int msc_heap_index(msc_heap_t *h);

/* Node index of addr, or UINT32_MAX (also before msc_heap_index()). */
uint32_t msc_heap_find(const msc_heap_t *h, uint64_t addr);

/* Records the content digest of node v (an exact str or bytes; a digest
 * that comes out 0 is stored as 1, since 0 means none): 0, MSC_ENOMEM, or
 * MSC_EUSAGE for a node that does not exist. */
int msc_heap_set_digest(msc_heap_t *h, uint32_t v, uint64_t digest);

/* Node v's content digest, 0 when it has none. */
static inline uint64_t msc_heap_digest(const msc_heap_t *h, uint32_t v)
{
    return h->digest && v < h->digest_cap ? h->digest[v] : 0;
}

/* Records node v as a container, in increasing node order: 0, MSC_ENOMEM,
 * or MSC_EUSAGE (v not after the previous container or not a node, a
 * layout out of range, a capacity of 2^48 slots or more, a hash table
 * whose capacity is not a power of two, or a length above the capacity). */
int msc_heap_add_container(msc_heap_t *h, uint32_t v, int layout, uint64_t length,
                           uint64_t capacity);

/* Records node v as a numpy array that owns its buffer, in increasing node
 * order: 0, MSC_ENOMEM, or MSC_EUSAGE (v not after the previous array or not
 * a node, a kind other than i, u, f and O, an itemsize or fits not 1, 2, 4
 * or 8, fits above itemsize, an 'O' array with itemsize or fits not 8, or
 * nbytes of 2^56 or more). */
int msc_heap_add_array(msc_heap_t *h, uint32_t v, int kind, int itemsize, int fits,
                       uint64_t length);

/* The array record of node v, or NULL. */
const msc_heap_array_t *msc_heap_array_of(const msc_heap_t *h, uint32_t v);

/* Adds an edge from -> to. Edges are added grouped by source in increasing
 * node order (from >= every earlier from): 0, MSC_ENOMEM or MSC_EUSAGE. */
int msc_heap_add_edge(msc_heap_t *h, uint32_t from, uint32_t to, uint32_t label);

/* Adds an edge from the root at any time: roots found late (objects only
 * the collector knew of) join node 0's list in msc_heap_finish(). */
int msc_heap_add_root_edge(msc_heap_t *h, uint32_t to, uint32_t label);

/* Closes the edge lists of the remaining nodes and merges late root edges.
 * Call once, after the last edge: 0 or MSC_ENOMEM. The heap is then
 * read-only for the analyses below. */
int msc_heap_finish(msc_heap_t *h);

/* "Foo" for builtins, else "module.Foo"; into buf (always terminated). */
const char *msc_heap_type_name(const msc_heap_t *h, uint32_t type, char *buf, size_t n);

/* Whether node v is an object the interpreter has, counted in partitions,
 * growth and cycles: not the root, a frame, nor an instance's inline
 * attribute values (no dict object exists for those). */
static inline int msc_heap_is_object(const msc_heap_t *h, uint32_t v)
{
    return v != 0 && !(h->flags[v] & MSC_HEAP_SYNTHETIC);
}

/* Whether node v's bytes count in totals: an object's, or the inline
 * attribute values of an instance (a synthetic node with a size), which
 * partitions show as the instance's "dict of" storage without counting
 * them as an object. */
static inline int msc_heap_has_bytes(const msc_heap_t *h, uint32_t v)
{
    return v != 0 && !((h->flags[v] & MSC_HEAP_SYNTHETIC) && h->size[v] == 0);
}

/* The container record of node v (a binary search), or NULL. */
const msc_heap_container_t *msc_heap_container(const msc_heap_t *h, uint32_t v);

/* Allocation sites: for each node v with block[v] != 0 (the address where
 * the allocator handed out the object's memory, pre-header included), the
 * innermost frame of the stack that allocated the block, if the analysis
 * of the capture recorded while the objects were created knows it as live.
 * Fills h->site; 0 or MSC_ENOMEM. The heap must be finished. */
struct msc_analysis;
struct msc_symbols;
int msc_heap_join_sites(msc_heap_t *h, const uint64_t *block, const struct msc_analysis *a,
                        struct msc_symbols *sym);

#endif
