/* The call tree: per-stack values (one view of an analysis, or a snapshot of
 * what was live at one moment) folded into a tree of frames, the shape every
 * flame graph, call-tree listing and stack export draws. Trie nodes that name
 * the same frame (file, function, line) under the same parent merge into one
 * tree node, so two instructions of one line are one box. Inverted, the tree
 * starts at the allocating frames and grows towards the callers (who
 * allocates most at the leaves).
 *
 * Tree node 0 is the root ("all"); a parent's id is smaller than its
 * children's. Frame strings are borrowed from the capture's symbols: free the
 * tree before them. */
#ifndef MEMSCOPE_TREE_H
#define MEMSCOPE_TREE_H

#include <stdint.h>

#include "memscope/analysis.h"
#include "memscope/symbols.h"

/* The value of one stack (named by its leaf node). */
typedef struct msc_stack_value {
    uint32_t stack;
    uint64_t bytes;
    uint64_t count;
} msc_stack_value_t;

typedef struct msc_tree_node {
    uint32_t parent;           /* 0 for the root's children (and the root) */
    uint32_t depth;            /* 0 for the root */
    const char *file;          /* borrowed; "" for the root */
    const char *function;      /* borrowed; "all" for the root */
    uint32_t line;             /* 0 when unknown */
    uint64_t bytes;            /* inclusive: this frame and everything under it */
    uint64_t count;            /* inclusive allocation count */
    uint64_t self_bytes;       /* allocated in this frame itself */
    uint64_t self_count;
    uint32_t pruned;           /* children left out for being under the tree's floor (their
                                  values are in bytes and count, not in any child's) */
} msc_tree_node_t;

typedef struct msc_tree msc_tree_t;

enum msc_tree_flags {
    MSC_TREE_INVERTED = 1,     /* allocating frames at the top, callers below */
};

/* Builds the tree of n stack values. Allocations with no Python stack
 * (stack 0) appear as a frame "<no Python frame>" with an empty file.
 * Returns NULL on OOM; free with msc_tree_free. */
msc_tree_t *msc_tree_new(msc_symbols_t *sym, const msc_stack_value_t *values, size_t n, int flags);
/* The same, leaving out every frame under 1/min_share of the total bytes
 * (0: none) and, when max_nodes is not 0, every frame that cannot be among
 * the max_nodes largest (the root included): what a flame graph cut
 * best-first to that many frames (html.h) can show, in memory and time
 * bounded by it rather than by the number of distinct stacks. A frame's
 * values stay inclusive of what was left out under it, and its pruned
 * counts the children left out. */
msc_tree_t *msc_tree_new_pruned(msc_symbols_t *sym, const msc_stack_value_t *values, size_t n,
                                int flags, uint32_t min_share, uint32_t max_nodes);
/* The upright trees of a sequence of value sets, pruned as
 * msc_tree_new_pruned prunes them, each made from the last by what changed:
 * for the moments of a timeline, where one moment's live stacks are mostly
 * the last one's. The values are by stack, ascending (the moments' order);
 * values in another order make a tree of their own. The symbols are
 * borrowed. Returns NULL on OOM; free each tree with msc_tree_free, and
 * the series with msc_tree_series_free. */
typedef struct msc_tree_series msc_tree_series_t;
msc_tree_series_t *msc_tree_series_new(msc_symbols_t *sym);
msc_tree_t *msc_tree_series_next(msc_tree_series_t *s, const msc_stack_value_t *values, size_t n,
                                 uint32_t min_share, uint32_t max_nodes);
void msc_tree_series_free(msc_tree_series_t *s);

/* The whole tree of one view of a finished analysis. */
msc_tree_t *msc_tree_of_view(msc_symbols_t *sym, const msc_analysis_t *a, msc_view_t view,
                             int flags);
void msc_tree_free(msc_tree_t *t);

uint32_t msc_tree_size(const msc_tree_t *t);            /* node ids are 0..size-1 */
uint32_t msc_tree_max_depth(const msc_tree_t *t);       /* of the deepest node */
const msc_tree_node_t *msc_tree_node(const msc_tree_t *t, uint32_t id);
/* A node's children, largest bytes first; borrowed, valid until the tree is
 * freed. */
const uint32_t *msc_tree_children(const msc_tree_t *t, uint32_t id, uint32_t *n);

/* The non-zero values of one view, for msc_tree_new and the exports that
 * want stacks rather than a tree. Caller frees *out with msc_free. */
int msc_stack_values(const msc_analysis_t *a, msc_view_t view, msc_stack_value_t **out, size_t *n);

/* The non-zero values of several views (views: a bit 1 << view each), read
 * in one pass over the stacks: what a report's trees, tables and advice
 * share, where each read the analysis's per-stack accumulators again
 * (on a stack-rich capture, the biggest part of the memory they touch). */
typedef struct msc_views_values {
    msc_stack_value_t *values[MSC_VIEW_ALL]; /* per view read: by stack, ascending; owned */
    size_t n[MSC_VIEW_ALL];
    unsigned views;
} msc_views_values_t;

/* 0 or MSC_ENOMEM (out then holds nothing). Release with
 * msc_views_values_release. */
int msc_views_values_read(const msc_analysis_t *a, unsigned views, msc_views_values_t *out);
void msc_views_values_release(msc_views_values_t *vv);

#endif
