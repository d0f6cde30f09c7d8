/* Analyses of a finished heap snapshot: what is in the heap and who keeps
 * it alive. Partitions by kind and what changed between two of them, the
 * dominator tree with retained sizes, shortest reference paths from the
 * roots and the chains they merge into, the cycles the collector would
 * free, and the memory held twice (duplicate str and bytes) or held empty
 * (containers with little in them). Each result is a plain struct the
 * caller releases; the writers in heapreport.h render them. */
#ifndef MEMSCOPE_HEAPANALYSIS_H
#define MEMSCOPE_HEAPANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "memscope/heap.h"

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

void msc_heap_partition_release(msc_heap_partition_t *p);

/* "kind", "type", "module" or "size" to enum msc_heap_by; MSC_EUSAGE else. */
int msc_heap_by_parse(const char *name);

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

/* Sum of the sizes of what v reaches, not entering modules, classes
 * (edges named "__class__", objects of type "type" or "module"), nor the
 * namespaces a function or frame shares with its module (edges named
 * "__globals__" or "__builtins__", any module's "__dict__" but v itself),
 * as Pympler's asizeof counts an object with everything it holds. */
uint64_t msc_heap_deep_size(const msc_heap_t *h, uint32_t v, uint8_t *seen, uint32_t *queue);

#endif
