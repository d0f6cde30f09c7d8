/* Moments of a capture (temporal.h), taken during the analysis's one pass
 * by an observer of its clock. Each time the replay passes the next
 * multiple of the grid step the observer keeps a snapshot of every stack's
 * live values, with the span of times it is exact for; a snapshot taken
 * when no block was allocated or freed since the previous one only widens
 * the previous span. Too many snapshots double the step and drop those
 * that hold no multiple of it, so the kept ones stay evenly spread and
 * bounded in number whatever the capture's length. A snapshot is a run of
 * varints (stack id delta, bytes, blocks); only those of the k moments
 * picked at the end stay, and a moment is decoded when it is read.
 *
 *   kept:  [ s0 | s1 | s2 | ... ]   each exact over [since, until),
 *          |  step  |  step  |      holding at least one multiple of step */
#include <string.h>

#include "internal.h"
#include "memscope/encode.h"
#include "memscope/table.h"
#include "memscope/temporal.h"

#define MAX_ENTRY 25               /* bytes of one stack's varints, at most */

typedef struct snapshot {
    uint64_t since_ns, until_ns;   /* exact at every time in [since, until) */
    uint64_t heap_bytes;
    uint64_t allocations, frees;   /* the summary's counts then: equal, nothing changed */
    uint8_t *data;                 /* varints per stack with live blocks; owned */
    size_t len;
    size_t n;                      /* stacks in data */
} snapshot_t;

struct msc_temporal {
    size_t k;                      /* moments wanted */
    uint64_t step_ns;              /* the grid: a snapshot at every multiple passed */
    snapshot_t *kept;              /* in time order; at most GRID_PER_MOMENT * k */
    size_t nkept;
    uint8_t *scratch;              /* the snapshot being encoded; owned */
    size_t scratch_cap;
    uint8_t *last;                 /* the last snapshot encoded, kept or not; owned */
    size_t last_len, last_cap;
    int have_last;
    struct pick {
        uint64_t time_ns;          /* the moment's time, in its snapshot's span */
        size_t snapshot;           /* in kept */
    } *picks;                      /* k once finished; owned */
    size_t n;
};

/* The first multiple of step at or after t; UINT64_MAX when past the end. */
static uint64_t next_multiple(uint64_t t, uint64_t step)
{
    uint64_t m = t / step * step;
    if (m == t) return m;
    return m > UINT64_MAX - step ? UINT64_MAX : m + step;
}

/* Whether [since, until) holds a positive multiple of step. */
static int holds_multiple(const snapshot_t *s, uint64_t step)
{
    uint64_t since = s->since_ns ? s->since_ns : 1;
    return s->until_ns > since && (s->until_ns - 1) / step > (since - 1) / step;
}

static int grow_scratch(msc_temporal_t *t, size_t need)
{
    size_t cap = t->scratch_cap ? t->scratch_cap : 4096;
    while (cap < need) cap *= 2;
    uint8_t *p = msc_realloc(t->scratch, cap);
    if (!p) return MSC_ENOMEM;
    t->scratch = p;
    t->scratch_cap = cap;
    return 0;
}

/* Appends stack node's live values to the scratch at *len, if it has any. */
static int encode_stack(msc_temporal_t *t, const msc_analysis_t *a, uint32_t node, uint32_t *last,
                        size_t *len, snapshot_t *s)
{
    msc_node_values_t v = msc_analysis_node(a, MSC_VIEW_EXIT, node);
    if (!v.count) return 0;
    if (*len + MAX_ENTRY > t->scratch_cap && grow_scratch(t, *len + MAX_ENTRY) < 0)
        return MSC_ENOMEM;
    uint8_t *p = msc_put_varint(t->scratch + *len, node - *last);
    p = msc_put_varint(p, v.bytes);
    p = msc_put_varint(p, v.count);
    *len = (size_t)(p - t->scratch);
    *last = node;
    s->n++;
    return 0;
}

static const uint8_t *skip_varint(const uint8_t *p)
{
    while (*p & 0x80) p++;
    return p + 1;
}

/* The stack id delta at the start of the entry at p. */
static uint32_t peek_delta(const uint8_t *p, const uint8_t *end)
{
    msc_cursor_t c = {p, end, 0};
    return (uint32_t)msc__get_varint(&c);
}

/* What is live now, from the last snapshot and the stacks that changed
 * since (msc_analysis_changed_stacks): the last snapshot's entries are
 * copied up to each changed stack, a run at a time, and only a changed
 * stack's values are read from the analysis, whose per-stack values are
 * scattered over far more memory than a snapshot's bytes. An entry's
 * stack id is a delta from the one before it, so the first entry of a run
 * is coded again; the rest of the run is copied as it is. The length, or
 * -1 on OOM. */
static int64_t encode_changes(msc_temporal_t *t, const msc_analysis_t *a, const uint64_t *changed,
                              size_t words, snapshot_t *s)
{
    const uint8_t *p = t->last, *end = p ? p + t->last_len : p; /* no snapshot yet: NULL */
    uint32_t at = p < end ? peek_delta(p, end) : 0; /* the stack of the entry at p */
    uint32_t out = 0;                               /* the stack of the last one written */
    size_t len = 0;
    for (uint32_t d = 0;; d++) {
        int more = msc__bits_next(changed, words, &d);
        uint32_t upto = more ? d : UINT32_MAX, first = at, last = at, n = 0;
        const uint8_t *run = p;
        while (p < end && at < upto) { /* the run of unchanged entries before upto */
            last = at;
            p = skip_varint(skip_varint(skip_varint(p)));
            n++;
            if (p < end) at += peek_delta(p, end);
        }
        if (n) {
            const uint8_t *rest = skip_varint(run); /* past the first entry's delta */
            size_t need = len + MAX_ENTRY + (size_t)(p - rest);
            if (need > t->scratch_cap && grow_scratch(t, need) < 0) return -1;
            uint8_t *w = msc_put_varint(t->scratch + len, first - out);
            memcpy(w, rest, (size_t)(p - rest));
            len = (size_t)(w - t->scratch) + (size_t)(p - rest);
            out = last;
            s->n += n;
        }
        if (!more) break;
        if (p < end && at == d) { /* changed: its old entry is left out */
            p = skip_varint(skip_varint(skip_varint(p)));
            if (p < end) at += peek_delta(p, end);
        }
        if (encode_stack(t, a, d, &out, &len, s) < 0) return -1;
    }
    return (int64_t)len;
}

/* Encodes what is live now into s (a copy of the scratch): from the last
 * snapshot and the stacks that changed since, or, the first time, from
 * every stack the analysis marks live, in increasing id order. The scratch
 * then becomes the last snapshot. */
static int encode(msc_temporal_t *t, const msc_analysis_t *a, snapshot_t *s)
{
    size_t words, all = 0;
    int64_t len = 0;
    const uint64_t *changed = msc_analysis_changed_stacks(a, &words);
    if (t->have_last && changed) {
        len = encode_changes(t, a, changed, words, s);
    } else {
        uint32_t last = 0;
        const uint64_t *live = msc_analysis_live_stacks(a, &words);
        for (uint32_t node = 0; len >= 0 && msc__bits_next(live, words, &node); node++)
            if (encode_stack(t, a, node, &last, &all, s) < 0) len = -1;
        if (len >= 0) len = (int64_t)all;
    }
    if (len < 0) return MSC_ENOMEM;
    s->data = msc_malloc(len ? (size_t)len : 1);
    if (!s->data) return MSC_ENOMEM;
    if (len) memcpy(s->data, t->scratch, (size_t)len); /* no scratch yet when nothing is live */
    s->len = (size_t)len;
    uint8_t *swap = t->last; /* the scratch is the last snapshot now */
    size_t cap = t->last_cap;
    t->last = t->scratch, t->last_cap = t->scratch_cap, t->last_len = (size_t)len;
    t->scratch = swap, t->scratch_cap = cap;
    t->have_last = 1;
    return 0;
}

/* Doubles the step until at most GRID_PER_MOMENT * k snapshots hold a
 * multiple of it, dropping the others. Kept spans are disjoint and each
 * holds its own multiple, and fewer than four multiples of a step over 2^62
 * fit below 2^64, so the step stops doubling before it can overflow. */
static void thin(msc_temporal_t *t)
{
    while (t->nkept > MSC_TEMPORAL_GRID_PER_MOMENT * t->k) {
        size_t n = 0;
        t->step_ns *= 2;
        for (size_t i = 0; i < t->nkept; i++) {
            if (holds_multiple(&t->kept[i], t->step_ns)) t->kept[n++] = t->kept[i];
            else msc_free(t->kept[i].data);
        }
        t->nkept = n;
    }
}

/* Keeps what is live now as exact over [since, until): a new snapshot, or
 * the last one widened when no block came or went since it. */
static int keep(msc_temporal_t *t, const msc_analysis_t *a, uint64_t since_ns, uint64_t until_ns)
{
    const msc_summary_t *sum = msc_analysis_summary(a);
    snapshot_t *last = t->nkept ? &t->kept[t->nkept - 1] : NULL;
    if (last && last->allocations == sum->allocations && last->frees == sum->frees &&
        last->heap_bytes == sum->current_bytes) { /* a part of a mapping unmapped frees nothing */
        last->until_ns = until_ns;
        return 0;
    }
    snapshot_t s = {since_ns, until_ns, sum->current_bytes, sum->allocations, sum->frees, NULL,
                    0,        0};
    int err = encode(t, a, &s);
    if (err) {
        msc_free(s.data);
        return err;
    }
    t->kept[t->nkept++] = s;
    return 0;
}

static int on_clock(void *arg, const msc_analysis_t *a, uint64_t since_ns, uint64_t until_ns,
                    uint64_t *at_ns)
{
    msc_temporal_t *t = arg;
    int err = keep(t, a, since_ns, until_ns);
    if (err) return err;
    thin(t);
    *at_ns = next_multiple(until_ns, t->step_ns);
    return 0;
}

msc_temporal_t *msc_temporal_new(msc_analysis_t *a, size_t k)
{
    msc_temporal_t *t = msc_calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->k = k;
    t->step_ns = MSC_TEMPORAL_FIRST_STEP_NS;
    t->kept = msc_calloc(MSC_TEMPORAL_GRID_PER_MOMENT * k + 1, sizeof(snapshot_t));
    if (!t->kept) {
        msc_free(t);
        return NULL;
    }
    if (k) msc_analysis_set_clock(a, t->step_ns, on_clock, t);
    return t;
}

static void drop_kept(msc_temporal_t *t)
{
    for (size_t i = 0; i < t->nkept; i++) msc_free(t->kept[i].data);
    t->nkept = 0;
}

void msc_temporal_free(msc_temporal_t *t)
{
    if (!t) return;
    drop_kept(t);
    msc_free(t->picks);
    msc_free(t->kept);
    msc_free(t->scratch);
    msc_free(t->last);
    msc_free(t);
}

/* How far time is from s's span. */
static uint64_t distance(const snapshot_t *s, uint64_t time)
{
    if (time < s->since_ns) return s->since_ns - time;
    return time >= s->until_ns ? time - (s->until_ns - 1) : 0;
}

/* Drops the snapshots no moment picked, keeping the others in order. */
static void keep_picked(msc_temporal_t *t)
{
    size_t n = 0;
    for (size_t j = 0; j < t->nkept; j++) {
        int picked = 0;
        for (size_t i = 0; i < t->n; i++) {
            if (t->picks[i].snapshot != j) continue;
            t->picks[i].snapshot = n;
            picked = 1;
        }
        if (picked) t->kept[n++] = t->kept[j];
        else msc_free(t->kept[j].data);
    }
    t->nkept = n;
}

int msc_temporal_finish(msc_temporal_t *t, const msc_analysis_t *a, uint64_t end_ns)
{
    if (!t->k) return 0;
    uint64_t now = msc_analysis_time(a);
    int err = keep(t, a, now, UINT64_MAX); /* the end: exact from the last event on */
    if (end_ns < now) end_ns = now;
    t->picks = err ? NULL : msc_calloc(t->k, sizeof(*t->picks));
    if (!err && !t->picks) err = MSC_ENOMEM;
    for (size_t i = 0; !err && i < t->k; i++) {
        uint64_t time = i + 1 == t->k ? end_ns : end_ns / t->k * (i + 1);
        size_t best = 0;
        for (size_t j = 1; j < t->nkept; j++)
            if (distance(&t->kept[j], time) < distance(&t->kept[best], time)) best = j;
        const snapshot_t *s = &t->kept[best];
        t->picks[i].time_ns = time < s->since_ns    ? s->since_ns
                              : time >= s->until_ns ? s->until_ns - 1
                                                    : time;
        t->picks[i].snapshot = best;
        t->n = i + 1;
    }
    if (err) {
        drop_kept(t);
        t->n = 0;
    } else {
        keep_picked(t);
    }
    msc_free(t->scratch); /* nothing more is encoded */
    msc_free(t->last);
    t->scratch = t->last = NULL;
    t->scratch_cap = t->last_cap = 0;
    t->have_last = 0;
    return err;
}

size_t msc_temporal_count(const msc_temporal_t *t)
{
    return t->n;
}

int msc_temporal_moment(const msc_temporal_t *t, size_t i, msc_moment_t *m)
{
    const snapshot_t *s = &t->kept[t->picks[i].snapshot];
    if (msc_array_grow((void **)&m->stacks, &m->cap, s->n ? s->n : 1, sizeof(*m->stacks)) < 0)
        return MSC_ENOMEM;
    msc_cursor_t c = {s->data, s->data + s->len, 0};
    uint32_t stack = 0;
    m->time_ns = t->picks[i].time_ns;
    m->heap_bytes = s->heap_bytes;
    for (m->n = 0; m->n < s->n; m->n++) {
        stack += (uint32_t)msc__get_varint(&c);
        uint64_t bytes = msc__get_varint(&c);
        m->stacks[m->n] = (msc_stack_value_t){stack, bytes, msc__get_varint(&c)};
    }
    return 0;
}

void msc_moment_release(msc_moment_t *m)
{
    msc_free(m->stacks);
    memset(m, 0, sizeof(*m));
}
