/* What was live when: snapshots of every stack's live bytes and blocks at
 * moments spread evenly over a capture, taken by an observer of the
 * analysis's clock during its one pass, so a report can draw the flame
 * graph of any of those moments (clicking the timeline).
 *
 * The capture's duration is known only once the pass has ended, so the
 * moments cannot be placed in advance. The observer keeps a snapshot for
 * every multiple of a grid step the replay passes, the step starting at
 * MSC_TEMPORAL_FIRST_STEP_NS; whenever more than MSC_TEMPORAL_GRID_PER_MOMENT
 * snapshots per wanted moment are kept, the step doubles and the snapshots
 * that no longer stand at a multiple of it are dropped. At the end each
 * wanted time, end / k * (i + 1), takes the kept snapshot nearest to it. A
 * snapshot is exact for the whole span between two events' times, so the
 * moment keeps the wanted time when its span holds it, else takes the
 * nearest time in the span: at most half a step away, and once the step has
 * doubled it is under end / (2 k), so at most a quarter of the spacing of
 * the moments. The last moment is the end itself.
 *
 * Memory is bounded by moments x stacks live at once (snapshots are kept
 * as varints, a few bytes a stack, and a moment is decoded only when it is
 * read), never by the length of the capture. */
#ifndef MEMSCOPE_TEMPORAL_H
#define MEMSCOPE_TEMPORAL_H

#include <stddef.h>
#include <stdint.h>

#include "memscope/analysis.h"
#include "memscope/tree.h"

#define MSC_TEMPORAL_FIRST_STEP_NS 1000000u  /* 1 ms: the grid's step to begin with */
#define MSC_TEMPORAL_GRID_PER_MOMENT 4       /* snapshots kept per moment wanted, at most */

typedef struct msc_moment {
    uint64_t time_ns;          /* every event up to this time applied, none after */
    uint64_t heap_bytes;       /* live bytes then */
    msc_stack_value_t *stacks; /* live values of each stack with any, by stack; owned by the
                                  moment, reused by the next msc_temporal_moment into it */
    size_t n;
    size_t cap;                /* stacks' room */
} msc_moment_t;

typedef struct msc_temporal msc_temporal_t;

/* Watches a's clock (msc_analysis_set_clock: call before its first event)
 * to take k moments; NULL on OOM. a is borrowed until msc_temporal_finish.
 * Free with msc_temporal_free. */
msc_temporal_t *msc_temporal_new(msc_analysis_t *a, size_t k);
void msc_temporal_free(msc_temporal_t *t);

/* Once a is finished (msc_analysis_finish), and fed no event after: picks
 * the k moments over [0, end_ns], end_ns being the capture's duration, and
 * drops the other snapshots. Call once; 0, or MSC_ENOMEM. */
int msc_temporal_finish(msc_temporal_t *t, const msc_analysis_t *a, uint64_t end_ns);

/* The number of moments: k after msc_temporal_finish, else 0. */
size_t msc_temporal_count(const msc_temporal_t *t);

/* Moment i (< msc_temporal_count), in time order, decoded into m, which
 * starts zeroed and is released with msc_moment_release; reading the
 * moments one after the other into one m holds one moment's values at a
 * time. 0, or MSC_ENOMEM. */
int msc_temporal_moment(const msc_temporal_t *t, size_t i, msc_moment_t *m);
void msc_moment_release(msc_moment_t *m);

#endif
