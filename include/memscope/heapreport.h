/* Heap snapshot report writers (src/report/heap*.c): the analyses of
 * heapanalysis.h as text for people, JSON for programs, Graphviz DOT and
 * Chrome DevTools' .heapsnapshot. This is the report layer: core headers
 * never include it. */
#ifndef MEMSCOPE_HEAPREPORT_H
#define MEMSCOPE_HEAPREPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "memscope/heap.h"
#include "memscope/heapanalysis.h"

/* Report writers (src/report/heap*.c). Each writes to out and returns 0 or
 * MSC_EIO (or MSC_ENOMEM). Every report has a twin, msc_heap_write_*_json,
 * that writes one JSON object with the same numbers (docs/reports.md,
 * "Heap snapshots"): snake_case keys, sizes in bytes, each object as
 * {"id", "type", "preview"}, and the same rows as the text for a limit. */

/* heapy's table: "Partition of a set of N objects. Total size = B bytes."
 * then Index Count % Size % Cumulative % Kind, at most limit rows (0: all). */
int msc_heap_write_partition(FILE *out, const msc_heap_partition_t *p, size_t limit);
int msc_heap_write_partition_json(FILE *out, const msc_heap_partition_t *p, size_t limit);

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
int msc_heap_write_path_json(FILE *out, const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t v,
                             const msc_heap_path_groups_t *merged, size_t limit);

/* A diff as a table: Count, +Count, Size, +Size, Kind (at most limit rows). */
int msc_heap_write_diff(FILE *out, const msc_heap_diff_t *d, size_t limit);
int msc_heap_write_diff_json(FILE *out, const msc_heap_diff_t *d, size_t limit);

/* The cycles report: garbage totals, then one row per group (cycles,
 * objects, bytes, kinds) with an example and the reference to weaken. */
int msc_heap_write_cycles(FILE *out, const msc_heap_t *h, const msc_heap_cycles_t *c, size_t limit);
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

#endif
