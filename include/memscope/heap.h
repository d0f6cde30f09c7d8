/* Heap snapshots: the live object graph of a Python process as the heap
 * walker (src/python/heapwalk.c) saw it, held in flat arrays so that ten
 * million objects fit in a few hundred megabytes; the snapshot file that
 * stores it (docs/format.md, "Heap snapshot files"); and the analyses that
 * answer "what is in the heap and who keeps it alive": partitions by kind,
 * the dominator tree with retained sizes, shortest reference paths from the
 * roots, the cycles the collector would free, and the memory held twice
 * (duplicate str and bytes) or held empty (containers with little in them).
 *
 * Node 0 is always the synthetic root; its edges name the real roots
 * ("sys.modules", a thread's frames, objects only the collector knows of). */
#ifndef MEMSCOPE_HEAP_H
#define MEMSCOPE_HEAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "memscope/chunk.h"
#include "memscope/common.h"

#define MSC_HEAP_MAGIC "MEMHEAP"           /* 8 bytes with its terminating NUL */
#define MSC_HEAP_VERSION 4                 /* 1: no allocation sites; 2: strings unique,
                                              no digests or container lengths; 3: no
                                              array summaries; all still read */
#define MSC_HEAP_MAX_NODES (1u << 30)      /* more nodes than this is corrupt */
#define MSC_HEAP_MAX_PREVIEW 40            /* bytes of a str/bytes kept as preview */
#define MSC_HEAP_MAX_STRING (1u << 16)     /* bytes of a name; longer ones are cut, and a
                                              file with a longer string is corrupt */

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
    uint32_t edges_of;         /* node whose edges are being added (builder) */
    uint32_t *late_to;         /* root edges added after node 0's list closed (builder) */
    uint32_t *late_label;
    uint64_t late_count, late_cap;

    msc_heap_type_t *types;
    uint32_t type_count;
    uint32_t type_cap;

    char *blob;                /* string bytes, each followed by a NUL */
    uint64_t blob_len;
    uint64_t blob_cap;
    uint64_t *str_off;         /* string i is blob[str_off[i] .. str_off[i + 1] - 1) */
    uint32_t string_count;     /* string 0 is "" */
    uint32_t string_cap;
    uint64_t *str_slots;       /* intern table: (string id + 1) << 32 | hash tag, 0 empty */
    uint32_t str_mask;
    uint32_t str_used;         /* strings in the intern table */

    uint64_t *node_slots;      /* address table: (node index + 1) << 32 | hash tag, 0 empty;
                                  NULL until msc_heap_index() */
    uint64_t node_mask;

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

/* The edge labels that read text ("__dict__", "__class__"): one byte per
 * string id, 1 for each string with those bytes (a name can have several
 * ids, since previews are not interned); caller frees with msc_free(). NULL
 * on out-of-memory. Test an edge with msc_heap_label_in(). */
uint8_t *msc_heap_label_set(const msc_heap_t *h, const char *text);
static inline int msc_heap_label_in(const uint8_t *set, uint32_t label)
{
    return !(label & MSC_HEAP_LABEL_INDEX) && set[label];
}

/* The same test for one edge, without the set. */
static inline int msc_heap_label_is(const msc_heap_t *h, uint32_t label, const char *text)
{
    return !(label & MSC_HEAP_LABEL_INDEX) && strcmp(msc_heap_string(h, label, NULL), text) == 0;
}

/* Makes room for nodes and edges in all, so that a builder who can guess
 * the heap's size grows its columns once instead of copying them at every
 * doubling: 0 or MSC_ENOMEM. */
int msc_heap_reserve(msc_heap_t *h, uint32_t nodes, uint64_t edges);

/* Adds a node for an address not yet present and sets *index: 0, MSC_ENOMEM, or MSC_ECORRUPT past MSC_HEAP_MAX_NODES. */
int msc_heap_add_node(msc_heap_t *h, uint64_t addr, uint32_t type, uint64_t size,
                      uint32_t refcnt, uint8_t flags, uint32_t preview, uint32_t *index);

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

/* Allocation sites: for each node v with block[v] != 0 (the address where
 * the allocator handed out the object's memory, pre-header included), the
 * innermost frame of the stack that allocated the block, if the analysis
 * of the capture recorded while the objects were created knows it as live.
 * Fills h->site; 0 or MSC_ENOMEM. The heap must be finished. */
struct msc_analysis;
struct msc_symbols;
int msc_heap_join_sites(msc_heap_t *h, const uint64_t *block, const struct msc_analysis *a,
                        struct msc_symbols *sym);

/* Snapshot files. msc_heap_write: 0 or MSC_EIO / MSC_ENOMEM. msc_heap_read
 * validates everything and returns NULL with *err and *info (byte offset,
 * what) on any defect; the caller frees the heap with msc_heap_free().
 * progress, if given, is called with bytes read and the file size every
 * few megabytes. */
int msc_heap_write(const msc_heap_t *h, int fd);
msc_heap_t *msc_heap_read(int fd, int *err, msc_error_info_t *info,
                          void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg);

/* Partitions: the heap grouped by kind (type, with dicts named after the
 * object that owns them as __dict__: "dict of Foo", "dict (no owner)"), by
 * type, by the module that defines the type, or by size class. Interpreter
 * frames and the root, which are not objects, are left out. */
enum msc_heap_by {
    MSC_HEAP_BY_KIND = 0,
    MSC_HEAP_BY_TYPE = 1,
    MSC_HEAP_BY_MODULE = 2,
    MSC_HEAP_BY_SIZE = 3,
};

typedef struct msc_heap_row {
    char *name;                /* owned: "str", "dict of __main__.Foo", "builtins", "33..64" */
    uint64_t count;
    uint64_t bytes;
} msc_heap_row_t;

typedef struct msc_heap_partition {
    msc_heap_row_t *rows;      /* owned; sorted by bytes, descending */
    size_t len;
    uint64_t total_count;
    uint64_t total_bytes;
    int by;                    /* enum msc_heap_by */
} msc_heap_partition_t;

/* Fills *p (caller releases with msc_heap_partition_release): 0, MSC_ENOMEM
 * or MSC_EUSAGE for an unknown by. */
int msc_heap_partition(const msc_heap_t *h, int by, msc_heap_partition_t *p);

/* The partition of a snapshot file, read straight from it: the same rows
 * as msc_heap_partition of msc_heap_read's heap, checked the same way (but
 * for repeated addresses), in about a third of the memory (only each
 * node's type, size and flags and the "__dict__" edges are kept). 0, or an error with *info set as by
 * msc_heap_read; the caller releases p with msc_heap_partition_release(). */
int msc_heap_read_partition(int fd, int by, msc_heap_partition_t *p, msc_error_info_t *info,
                            void (*progress)(uint64_t done, uint64_t total, void *arg),
                            void *arg);
void msc_heap_partition_release(msc_heap_partition_t *p);

/* "kind", "type", "module" or "size" to enum msc_heap_by; MSC_EUSAGE else. */
int msc_heap_by_parse(const char *name);

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

/* For each node, the node that owns it as its "__dict__" (UINT32_MAX when
 * none); caller frees with msc_free(). NULL on out-of-memory. */
uint32_t *msc_heap_dict_owners(const msc_heap_t *h);

/* The container record of node v (a binary search), or NULL. */
const msc_heap_container_t *msc_heap_container(const msc_heap_t *h, uint32_t v);

/* The kind of node v (see partitions) into buf, given dict owners. */
const char *msc_heap_kind(const msc_heap_t *h, const uint32_t *owners, uint32_t v, char *buf,
                          size_t n);

/* Reference cycles the collector would free: the objects no root reaches
 * and nothing outside them holds (a tracked object whose reference count
 * exceeds the references other unreached objects make to it is held from
 * C, and so is all it reaches), split into strongly connected components.
 * Cycles are grouped by the kinds of objects in them; each group names the
 * reference to make weak so that reference counting alone frees it. */
typedef struct msc_heap_cycle_group {
    char *kinds;               /* owned: "__main__.Node, dict of __main__.Node, list" */
    uint64_t cycles;           /* components with these kinds */
    uint64_t objects;          /* their members that are objects (not inline values) */
    uint64_t bytes;
    uint64_t freed_bytes;      /* bytes, plus the garbage only these cycles hold (the first
                                  group to reach an object claims it): what reference
                                  counting frees once the cycles are broken */
    uint32_t example;          /* a member of the largest such component */
    char *weaken;              /* owned: "__main__.Node.parent"; NULL when no one
                                  reference of the example breaks every cycle in it */
    uint32_t weaken_refs;      /* references of that name inside the example */
    int weakrefable;           /* whether its targets are instances of a class (which
                                  weakref.ref accepts) rather than builtin containers */
    uint32_t site;             /* string id of the allocation site most members with one
                                  share, 0 when none has a site */
    uint64_t site_count;       /* members allocated there */
} msc_heap_cycle_group_t;

typedef struct msc_heap_cycles {
    msc_heap_cycle_group_t *groups; /* owned; sorted by bytes, descending */
    size_t len;
    uint64_t garbage_objects;  /* everything the collector would free, cycles or not */
    uint64_t garbage_bytes;
    uint64_t cycle_count;      /* components in all groups */
} msc_heap_cycles_t;

/* Fills *c (release with msc_heap_cycles_release): 0 or MSC_ENOMEM. */
int msc_heap_cycles(const msc_heap_t *h, msc_heap_cycles_t *c);
void msc_heap_cycles_release(msc_heap_cycles_t *c);

/* Duplicate str and bytes: objects of one type with equal contents (same
 * digest and size) held as separate copies, which sys.intern() or a dict
 * of canonical values would fold into one. Needs h->contents. */
typedef struct msc_heap_dup {
    uint32_t type;             /* str or bytes */
    uint32_t example;          /* one of the copies (the first the walk reached) */
    uint64_t copies;           /* at least 2 */
    uint64_t size;             /* bytes of each copy */
    uint64_t wasted;           /* (copies - 1) * size */
} msc_heap_dup_t;

typedef struct msc_heap_dups {
    msc_heap_dup_t *groups;    /* owned; sorted by wasted, descending */
    size_t len;
    uint64_t copies;           /* copies in all groups */
    uint64_t wasted;           /* bytes all groups hold beyond one copy each */
} msc_heap_dups_t;

/* Fills *d (release with msc_heap_dups_release): 0 or MSC_ENOMEM. */
int msc_heap_duplicates(const msc_heap_t *h, msc_heap_dups_t *d);
void msc_heap_dups_release(msc_heap_dups_t *d);

/* Empty and mostly empty containers (lists, dicts, sets, frozensets and
 * instance attribute values), by kind. A container is mostly empty when it
 * holds fewer than a quarter of the items its allocation takes before it
 * must grow (length * 4 < room), and a right-sized container of its kind
 * holding the same items would be smaller (what CPython makes when
 * copying it: l.copy(), dict(d), set(s); for no items, an empty one); the
 * difference is the saving. Otherwise it is empty when it holds nothing:
 * it is as small as an empty one gets, and all its bytes would be saved by
 * not creating it until needed. A dict emptied by pops is thus mostly
 * empty (it keeps its table), a fresh {} empty. Sizes follow CPython
 * 3.11's rules. Needs h->contents. */
typedef struct msc_heap_empty_row {
    char *kind;                /* owned: "list", "dict of __main__.Foo" */
    uint32_t example;          /* the container of this kind that would save the most (for
                                  inline attribute values, the instance holding them) */
    uint64_t empty;            /* containers holding nothing */
    uint64_t empty_bytes;
    uint64_t mostly_empty;
    uint64_t mostly_empty_bytes;
    uint64_t saving;           /* empty_bytes, plus what right-sizing the others saves */
} msc_heap_empty_row_t;

typedef struct msc_heap_empty {
    msc_heap_empty_row_t *rows; /* owned; sorted by saving, descending */
    size_t len;
    uint64_t containers;       /* containers looked at */
    uint64_t empty;            /* totals of the rows */
    uint64_t empty_bytes;
    uint64_t mostly_empty;
    uint64_t mostly_empty_bytes;
    uint64_t saving;
} msc_heap_empty_t;

/* Fills *e (release with msc_heap_empty_release): 0 or MSC_ENOMEM. */
int msc_heap_empty(const msc_heap_t *h, msc_heap_empty_t *e);
void msc_heap_empty_release(msc_heap_empty_t *e);

/* Report writers (src/report/heap*.c). Each writes to out and returns 0 or
 * MSC_EIO (or MSC_ENOMEM). Every report has a twin, msc_heap_write_*_json,
 * that writes one JSON object with the same numbers (docs/reports.md,
 * "Heap snapshots"): snake_case keys, sizes in bytes, each object as
 * {"id", "type", "preview"}, and the same rows as the text for a limit. */

/* heapy's table: "Partition of a set of N objects. Total size = B bytes."
 * then Index Count % Size % Cumulative % Kind, at most limit rows (0: all). */
int msc_heap_write_partition(FILE *out, const msc_heap_partition_t *p, size_t limit);
int msc_heap_write_partition_json(FILE *out, const msc_heap_partition_t *p, size_t limit);

/* What changed between two partitions of the same kind, row by row
 * (objgraph's show_growth, heapy's relative heap). */
typedef struct msc_heap_change {
    char *name;                /* owned */
    uint64_t count;            /* in the newer partition */
    uint64_t bytes;
    int64_t count_delta;       /* newer minus older */
    int64_t bytes_delta;
} msc_heap_change_t;

typedef struct msc_heap_diff {
    msc_heap_change_t *rows;   /* owned; only rows that changed, largest increase first */
    size_t len;
    int64_t count_delta;       /* whole heap */
    int64_t bytes_delta;
} msc_heap_diff_t;

/* Fills *d from older to newer, sorted by count_delta (by_count) or by
 * bytes_delta: 0 or MSC_ENOMEM. Release with msc_heap_diff_release. */
int msc_heap_diff(const msc_heap_partition_t *older, const msc_heap_partition_t *newer,
                  int by_count, msc_heap_diff_t *d);
void msc_heap_diff_release(msc_heap_diff_t *d);

/* Copies a partition (for keeping one to diff against later): 0 or MSC_ENOMEM. */
int msc_heap_partition_copy(const msc_heap_partition_t *p, msc_heap_partition_t *copy);

/* The dominator tree: v's immediate dominator is the last object every
 * path from the root to v goes through, and v's retained size is what
 * would be freed if v went: its own size plus that of every object it
 * dominates. Computed with semi-NCA (Lengauer-Tarjan's semidominators,
 * then nearest common ancestors), near-linear in nodes and edges. */
typedef struct msc_heap_dom {
    uint32_t *idom;            /* owned; per node, UINT32_MAX when no path from the root */
    uint64_t *retained;        /* owned; per node, bytes */
    uint32_t *order;           /* owned; reachable nodes in depth-first preorder */
    uint32_t reachable;        /* length of order */
} msc_heap_dom_t;

int msc_heap_dominators(const msc_heap_t *h, msc_heap_dom_t *d);
void msc_heap_dom_release(msc_heap_dom_t *d);

/* Shortest reference paths from the root (breadth-first): for each node
 * the node and edge label it is first reached by. */
typedef struct msc_heap_paths {
    uint32_t *parent;          /* owned; UINT32_MAX when unreachable, 0's parent is 0 */
    uint32_t *label;           /* owned; label of the edge parent -> node */
} msc_heap_paths_t;

int msc_heap_paths(const msc_heap_t *h, msc_heap_paths_t *p);
void msc_heap_paths_release(msc_heap_paths_t *p);

/* The path to v as one Python-like expression, e.g.
 * "sys.modules['app'].__dict__['cache'][3]", into buf (always terminated,
 * shortened in the middle when long). */
const char *msc_heap_path_text(const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t v,
                               char *buf, size_t n);

/* The same path with every container element written [*] (a list or tuple
 * index, a key of a dict that is not a __dict__): the pattern all objects
 * held the same way share, e.g. "sys.modules['app'].__dict__['cache'][*]". */
const char *msc_heap_path_pattern(const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t v,
                                  char *buf, size_t n);

/* Objects grouped by the pattern of their shortest path (Eclipse MAT's
 * merged paths to GC roots): which chains hold how many of them. */
typedef struct msc_heap_path_group {
    uint32_t example;          /* one member: msc_heap_path_pattern of it names the group */
    uint32_t count;            /* members */
    uint64_t bytes;            /* their own sizes */
    uint64_t retained;         /* what freeing them all would free (no byte counted twice) */
} msc_heap_path_group_t;

typedef struct msc_heap_path_groups {
    msc_heap_path_group_t *groups; /* owned; largest retained first */
    size_t n;
} msc_heap_path_groups_t;

/* Groups nodes[0..count) by path pattern: 0 or MSC_ENOMEM. Unreachable
 * nodes form one group. Release with msc_heap_path_groups_release. */
int msc_heap_merge_paths(const msc_heap_t *h, const msc_heap_paths_t *p, const msc_heap_dom_t *d,
                         const uint32_t *nodes, uint32_t count, msc_heap_path_groups_t *out);
void msc_heap_path_groups_release(msc_heap_path_groups_t *g);

/* Formats an edge label as it follows its parent: "['key']", ".name", "[3]". */
const char *msc_heap_label_text(const msc_heap_t *h, uint32_t parent, uint32_t label, char *buf,
                                size_t n);

/* Nodes of the type whose display name (msc_heap_type_name) is name, or
 * whose short name (after the last dot) is name; NULL on out-of-memory,
 * *count 0 when none. Caller frees with msc_free(). */
uint32_t *msc_heap_find_type(const msc_heap_t *h, const char *name, uint32_t *count);

/* Bytes each type retains: the retained sizes of its instances that no
 * other instance of the same type dominates (so nothing counts twice).
 * by_type has h->type_count entries: 0 or MSC_ENOMEM. */
int msc_heap_type_retained(const msc_heap_t *h, const msc_heap_dom_t *d, uint64_t *by_type);

/* What retains the most (Eclipse MAT's dominator view): leak suspects (an
 * object or a type retaining at least 10% of the heap, the object being
 * the deepest such one on its chain), then the types and the objects
 * retaining the most, each object with its path from a root. */
int msc_heap_write_retained(FILE *out, const msc_heap_t *h, const msc_heap_dom_t *d,
                            const msc_heap_paths_t *p, size_t limit);
int msc_heap_write_retained_json(FILE *out, const msc_heap_t *h, const msc_heap_dom_t *d,
                                 const msc_heap_paths_t *p, size_t limit);

/* The reference chain from a root to node v, one step a line; with merged
 * (NULL for none), then the merged paths of all of v's type's instances,
 * at most limit of them (0: all). */
int msc_heap_write_path(FILE *out, const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t v,
                        const msc_heap_path_groups_t *merged, size_t limit);
int msc_heap_write_path_json(FILE *out, const msc_heap_t *h, const msc_heap_paths_t *p,
                             uint32_t v, const msc_heap_path_groups_t *merged, size_t limit);

/* A diff as a table: Count, +Count, Size, +Size, Kind (at most limit rows). */
int msc_heap_write_diff(FILE *out, const msc_heap_diff_t *d, size_t limit);
int msc_heap_write_diff_json(FILE *out, const msc_heap_diff_t *d, size_t limit);

/* The cycles report: garbage totals, then one row per group (cycles,
 * objects, bytes, kinds) with an example and the reference to weaken. */
int msc_heap_write_cycles(FILE *out, const msc_heap_t *h, const msc_heap_cycles_t *c,
                          size_t limit);
int msc_heap_write_cycles_json(FILE *out, const msc_heap_t *h, const msc_heap_cycles_t *c,
                               size_t limit);

/* objgraph's show_refs / show_backrefs as Graphviz DOT: the objects within
 * depth references of the start nodes (what they refer to, or with
 * backrefs what refers to them, up to the roots), each a box with its
 * kind, size and preview, each edge with its name. At most 20 edges a
 * node and 400 nodes are drawn; the rest is counted in a "+N more" node.
 * Every label is escaped, so program data cannot break out of it. */
int msc_heap_write_dot(FILE *out, const msc_heap_t *h, const uint32_t *start, size_t nstart,
                       unsigned depth, int backrefs);

/* The snapshot as Chrome DevTools' .heapsnapshot JSON (the Memory tab's
 * "Load"): snapshot.meta describes seven node fields (type, name, id,
 * self_size, edge_count, trace_node_id, detachedness) and three edge
 * fields (type, name_or_index, to_node); nodes and edges are flat number
 * arrays, to_node an offset into nodes, and names index strings. Node 0
 * is the root; str is "string", numbers "number", functions "closure". */
int msc_heap_write_heapsnapshot(FILE *out, const msc_heap_t *h);

/* The duplicates report: how many values are held more than once and what
 * the extra copies hold, then per value its copies, the bytes of each, the
 * bytes wasted, its type and first bytes (at most limit rows), and what
 * interning would save. */
int msc_heap_write_duplicates(FILE *out, const msc_heap_t *h, const msc_heap_dups_t *d,
                              size_t limit);
int msc_heap_write_duplicates_json(FILE *out, const msc_heap_t *h, const msc_heap_dups_t *d,
                                   size_t limit);

/* The empty containers report: totals, then per kind the empty and mostly
 * empty containers with their bytes and the saving (at most limit rows),
 * advice for the first rows, and what following it would save. */
int msc_heap_write_empty(FILE *out, const msc_heap_empty_t *e, size_t limit);
int msc_heap_write_empty_json(FILE *out, const msc_heap_t *h, const msc_heap_empty_t *e,
                              size_t limit);

/* One line describing node v: kind, address and preview. */
const char *msc_heap_describe(const msc_heap_t *h, uint32_t v, char *buf, size_t n);

/* Sum of the sizes of what v reaches, not entering modules, classes
 * (edges named "__class__", objects of type "type" or "module"), nor the
 * namespaces a function or frame shares with its module (edges named
 * "__globals__" or "__builtins__", any module's "__dict__" but v itself),
 * as Pympler's asizeof counts an object with everything it holds. */
uint64_t msc_heap_deep_size(const msc_heap_t *h, uint32_t v, uint8_t *seen, uint32_t *queue);

#endif
