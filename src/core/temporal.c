/* Moments of a capture (temporal.h): an analysis replayed a second time,
 * with a callback in front that copies every stack's live values out of it
 * when the replay passes each requested time. GC times are kept with a
 * stride that doubles whenever the list fills, so a long capture keeps an
 * even spread of them in bounded memory. */
#include <string.h>

#include "internal.h"
#include "memscope/analysis.h"
#include "memscope/temporal.h"

typedef struct pass {
    msc_analysis_t *analysis;
    msc_replay_t *replay;
    const uint64_t *times;
    size_t k;
    msc_temporal_t *out;
    uint64_t gc_seen, gc_stride;
    uint64_t countdown;        /* events until the next progress call */
    void (*progress)(uint64_t done, uint64_t total, void *arg);
    void *arg;
} pass_t;

static int snapshot(pass_t *p)
{
    int err = msc_analysis_finish(p->analysis); /* apply every event so far */
    if (err) return err;
    msc_moment_t *m = &p->out->moments[p->out->n];
    uint32_t nodes = msc_analysis_nodes(p->analysis);
    size_t live = 0;
    for (uint32_t s = 0; s < nodes; s++)
        if (msc_analysis_node(p->analysis, MSC_VIEW_EXIT, s).count) live++;
    m->stacks = msc_malloc((live ? live : 1) * sizeof(msc_stack_value_t));
    if (!m->stacks) return MSC_ENOMEM;
    for (uint32_t s = 0; s < nodes; s++) {
        msc_node_values_t v = msc_analysis_node(p->analysis, MSC_VIEW_EXIT, s);
        if (v.count) m->stacks[m->n++] = (msc_stack_value_t){s, v.bytes, v.count};
    }
    m->time_ns = p->times[p->out->n];
    m->heap_bytes = msc_analysis_summary(p->analysis)->current_bytes;
    p->out->n++;
    return 0;
}

static void keep_gc(pass_t *p, uint64_t time_ns)
{
    msc_temporal_t *t = p->out;
    if (p->gc_seen++ % p->gc_stride) return;
    if (t->ngc == MSC_TEMPORAL_MAX_GC) {
        for (size_t i = 0; i < t->ngc / 2; i++) t->gc_ns[i] = t->gc_ns[2 * i];
        t->ngc /= 2;
        p->gc_stride *= 2;
        if ((p->gc_seen - 1) % p->gc_stride) return;
    }
    t->gc_ns[t->ngc++] = time_ns;
}

static int on_event(void *arg, const msc_event_t *ev)
{
    pass_t *p = arg;
    while (p->out->n < p->k && ev->time_ns > p->times[p->out->n]) {
        int err = snapshot(p);
        if (err) return err;
    }
    if (ev->kind == MSC_REC_GC) keep_gc(p, ev->time_ns);
    if (p->progress && --p->countdown == 0) {
        p->countdown = 1u << 20;
        p->progress(msc_replay_offset(p->replay), msc_replay_file_size(p->replay), p->arg);
    }
    return msc_analysis_event(p->analysis, ev);
}

int msc_temporal_collect(const char *path, const uint64_t *times_ns, size_t k,
                         msc_temporal_t *out, msc_error_info_t *info,
                         void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg)
{
    int err;
    memset(out, 0, sizeof(*out));
    pass_t p = {NULL, NULL, times_ns, k, out, 0, 1, 1u << 20, progress, arg};
    out->moments = msc_calloc(k ? k : 1, sizeof(msc_moment_t));
    out->gc_ns = msc_malloc(MSC_TEMPORAL_MAX_GC * sizeof(uint64_t));
    p.analysis = msc_analysis_new();
    if (!out->moments || !out->gc_ns || !p.analysis) {
        info->what = "out of memory";
        err = MSC_ENOMEM;
        goto done;
    }
    p.replay = msc_replay_open(path, 0, &err, info);
    if (!p.replay) goto done;
    err = msc_replay_run(p.replay, on_event, &p, info);
    while ((!err || err == MSC_ETRUNCATED) && out->n < k) {
        int e = snapshot(&p);
        if (e) err = e;
    }
    if (err == MSC_ENOMEM) info->what = "out of memory";
done:
    msc_replay_free(p.replay);
    msc_analysis_free(p.analysis);
    return err;
}

void msc_temporal_release(msc_temporal_t *t)
{
    for (size_t i = 0; i < t->n; i++) msc_free(t->moments[i].stacks);
    msc_free(t->moments);
    msc_free(t->gc_ns);
    memset(t, 0, sizeof(*t));
}
