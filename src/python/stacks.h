/* Stack capture for the recorder: walks the calling thread's own frames,
 * names each code object once (CODE and STRING records), and interns the
 * stack into a prefix trie whose new nodes are written as NODE records.
 * Consecutive stacks share most of their frames, so the trie keeps the last
 * path it resolved: a new stack reuses the node ids of the root-side frames
 * it has in common with it and looks up only the frames that differ. */
#ifndef MEMSCOPE_STACKS_H
#define MEMSCOPE_STACKS_H

#include "version.h"

#include <stdatomic.h>
#include "memscope/sink.h"
#include "memscope/symbols.h"

typedef struct msc_frame_key {
    uint32_t code_id;          /* 0 = unknown code object or truncated stack */
    uint32_t offset;           /* instruction offset in code units */
} msc_frame_key_t;

/* A frame as the walk sees it: no code-object field is read to get it. */
typedef struct msc_raw_frame {
    PyCodeObject *code;        /* NULL marks a truncated stack */
    uintptr_t instr;           /* msc_frame_instr: an offset once msc_code_offset makes it one */
} msc_raw_frame_t;

/* One trie node as the recorder finds it: its key and id (0: empty slot). */
typedef struct msc_trie_slot {
    uint32_t parent, code_id, offset, id;
} msc_trie_slot_t;

/* A frame of the stack being resolved, before its lookup. */
typedef struct msc_trie_step {
    uint32_t code_id, offset;  /* the trie key under the frame above */
    uint32_t hash;             /* of the whole path down to this frame */
    uint32_t node;             /* the trie node of the path down to this frame */
    uint32_t skip;             /* 1: no node of its own (a frame not running yet) */
} msc_trie_step_t;

/* One trie per stream; its node ids are that stream's NODE ids.
 *
 * (parent, code id, offset) -> id, numbered in the order a reader interning
 * the NODE records numbers them (the root is 0). Open addressing with the
 * key in the slot. A node's slot comes from the hash of its whole path, its
 * parent's hash mixed with its own frame, not from its parent's id: the
 * slots of every frame below where a stack parts from the last one follow
 * from the frames alone, so they are fetched from memory together before
 * the first is compared. A trie of some MiB misses the cache at every
 * lookup; one after the other, those misses were half of deep_stacks'
 * recording time. */
typedef struct msc_trie {
    msc_trie_slot_t *slots;
    uint32_t mask;             /* slots - 1 (a power of two minus one) */
    uint32_t count;            /* nodes, the root included: the next id */
    uint32_t *hashes;          /* per node id: its path hash, to place it when slots grow */
    size_t cap_hashes;
    msc_raw_frame_t *scratch;  /* the stack being captured, filled from its end,
                                  then MSC_RAW_END */
    msc_raw_frame_t *path;     /* the last stack resolved, outermost first; a frame
                                  that cannot be trusted to match has a code no frame
                                  has; one entry more, for the comparison's end */
    msc_trie_step_t *steps;    /* per depth of path: its key, path hash and node */
    uint32_t path_len;
    uint64_t path_epoch;       /* msc_code_deaths when path was resolved */
} msc_trie_t;

int msc_trie_init(msc_trie_t *t, uint32_t max_depth);
void msc_trie_release(msc_trie_t *t);

typedef struct msc_capture_ctx {
    msc_sink_t *sink;
    msc_stream_t *stream;      /* where NODE (and CODE/STRING) records go */
    msc_pyframe_t *root;       /* stop below this frame (the launcher's), or NULL */
    uint32_t max_depth;
    int can_register;          /* GIL held: unnamed code objects may be named */
    int (*trust)(const void *code); /* NULL: every frame's code object is alive. Else
                                  the frames were read earlier (a CPU sample): a code
                                  object not named yet is named only if trust says it
                                  is one and alive, else its frame is unknown */
} msc_capture_ctx_t;

/* The leaf node of the current stack of ts (0 for no Python frames), or -1
 * when the sink refused a record (recording has failed). */
int64_t msc_stack_capture(msc_trie_t *t, const msc_capture_ctx_t *ctx, PyThreadState *ts);

/* Follows a stack's last frame where msc_stack_resolve is given it: a frame
 * no walk makes (the truncation mark is {NULL, 0}), which ends the
 * comparison with the last stack without a count. */
#define MSC_RAW_END ((msc_raw_frame_t){NULL, 1})

/* The leaf node of a stack read earlier: raw[0..n), outermost first (a
 * truncation mark first), followed by MSC_RAW_END. GIL held. */
int64_t msc_stack_resolve(msc_trie_t *t, const msc_capture_ctx_t *ctx, const msc_raw_frame_t *raw,
                          uint32_t n);

/* Counts deaths of every code object, named or not (the code watcher, or
 * on 3.11 the code type's wrapped deallocator): a CPU sample
 * taken before the count moved may hold a dead code object. */
extern _Atomic uint64_t msc_code_any_deaths;

/* Counts deaths of code objects we named: a path resolved before a death may
 * hold a pointer that a new code object now reuses. */
extern _Atomic uint64_t msc_code_deaths;

/* Per 16 bytes of address, modulo 4 MiB: how many named code objects start
 * there (saturating at 255). Every code death asks whether a named code
 * object died; most code objects that die were never named (compiled and
 * dropped: eval, exec, generated code), and this filter answers them
 * without the table's lock. Written with the GIL held, under the table's
 * lock; read with the GIL held. */
#define MSC_CODE_FILTER_BITS 18
extern _Atomic uint8_t msc_code_filter[1u << MSC_CODE_FILTER_BITS];

void msc_code_died_named(const void *block);

/* Forgets the id of the code object whose block starts at p, if it has one
 * (a code object died). Hook-safe: no Python allocator, no interpreter
 * call; GIL held. */
static inline void msc_code_died(const void *block)
{
    uint32_t bucket = (uint32_t)((uintptr_t)block >> 4) & ((1u << MSC_CODE_FILTER_BITS) - 1);
    if (atomic_load_explicit(&msc_code_filter[bucket], memory_order_relaxed))
        msc_code_died_named(block);
}

/* The code objects named in this capture are found by address in a table of
 * the recorder's own, never in the code objects themselves: setting a code
 * object's co_extra from inside an allocator hook would allocate through the
 * Python allocators (re-entering tracemalloc, which holds its lock around
 * its own allocations) and is refused in subinterpreters. Code deaths come
 * from PyCode_AddWatcher where it exists (3.12+) and from a wrapper of the
 * code type's deallocator on 3.11 (msc_code_watch). Installs the watcher
 * on first use:
 * 0, or -1 with an exception set. GIL held. */
int msc_names_watch(void);

/* Code and string naming state for one capture. GIL held. */
int msc_names_init(void);
void msc_names_release(void);

/* Around fork: the code table's lock is held across it, so the child finds
 * it free (taken after the recorder's side_mutex, as record_side does). */
void msc_names_lock(void);
void msc_names_unlock(void);

#endif
