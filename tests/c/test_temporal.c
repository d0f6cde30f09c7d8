/* The timeline's moments, taken by an observer during the analysis's one
 * pass (temporal.h), against a separate replay of the same capture for
 * each moment that stops before the first event later than the moment's
 * time: every stack's live bytes and blocks, and the heap total, must be
 * the same. The captures are long enough to double the grid step many
 * times, with pauses that jump over many steps, stretches with no block
 * event, side-stream blocks and reallocs, exact and sampled, and one with
 * no block at all. The moments must also sit in time order near their even
 * targets. Out of memory at every allocation of the pass comes back as
 * MSC_ENOMEM and leaks nothing. */
#include "capture_util.h"
#include "check.h"

#define MOMENTS 24
#define SLOTS 512                  /* addresses a capture allocates from */

typedef struct shape {
    uint64_t seed;
    int steps;                     /* times the clock moves */
    uint64_t mean_step_ns;
    int sampled;                   /* a sampled capture, one block in ~4 KiB */
} shape_t;

static uint64_t next_random(uint64_t *seed)
{
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    return *seed >> 17;
}

/* A few block events from the main stream, or from the side stream. */
static void churn(tc_capture_t *c, uint64_t *seed, uint64_t *addr, const uint32_t *nodes)
{
    int n = (int)(next_random(seed) % 12);
    for (int i = 0; i < n; i++) {
        uint64_t r = next_random(seed);
        size_t slot = r % SLOTS;
        uint64_t fresh = 0x7f0000000000ull + (uint64_t)slot * 0x1000 + ((r >> 20) % 4) * 0x400;
        uint64_t size = (r >> 24) % 2000;
        uint32_t stack = nodes[(r >> 36) % 8];
        if (!addr[slot]) {
            tc_alloc(c, MSC_DOMAIN_OBJ, fresh, size, stack);
            addr[slot] = fresh;
        } else if ((r >> 40) % 4 == 0 && fresh != addr[slot]) {
            tc_realloc(c, MSC_DOMAIN_MEM, addr[slot], fresh, size, stack);
            addr[slot] = fresh;
        } else {
            tc_free(c, MSC_DOMAIN_OBJ, addr[slot]);
            addr[slot] = 0;
        }
    }
    if (next_random(seed) % 8 == 0) {
        uint64_t side = 0x600000000000ull + (next_random(seed) % 64) * 0x100;
        tc_side_begin(c);
        if (next_random(seed) % 2) tc_alloc(c, MSC_DOMAIN_RAW, side, 300, 0);
        else tc_free(c, MSC_DOMAIN_RAW, side);
        tc_side_end(c);
    }
}

/* Writes a capture whose clock moves shape->steps times, by random steps,
 * now and then by a long pause or with no block event between. The
 * writer's own RSS samples, in real time, may move it further when the
 * capture's clock runs slower; every check below holds whatever the times. */
static void build_capture(const char *path, const shape_t *shape)
{
    msc_header_t h;
    tc_capture_t c;
    uint64_t seed = shape->seed, addr[SLOTS] = {0}, now = 0;
    uint32_t nodes[8];
    tc_default_header(&h);
    if (shape->sampled) {
        h.mode = MSC_MODE_SAMPLED;
        h.sample_bytes = 4096;
    }
    if (tc_open(&c, path, &h)) abort();
    nodes[0] = tc_node(&c, 0, 1, 0);
    for (int i = 1; i < 8; i++)
        nodes[i] = tc_node(&c, nodes[next_random(&seed) % i], 2, (uint32_t)i);
    for (int step = 0; step < shape->steps; step++) {
        uint64_t r = next_random(&seed);
        if (r % 16 != 0) churn(&c, &seed, addr, nodes);
        if (r % 499 == 0) now += shape->mean_step_ns * (uint64_t)shape->steps / 20;
        else now += 1 + (r >> 8) % (2 * shape->mean_step_ns);
        if ((r >> 4) % 5 == 0) tc_gc(&c, now, 0, 100, 1, 0);
        else if ((r >> 4) % 5 == 1) tc_mark(&c, now, "step");
        else {
            tc_side_begin(&c);
            tc_sample(&c, now, TC_RSS_MARK);
            tc_side_end(&c);
        }
    }
    if (msc_sink_close(c.sink, now) != 0) abort();
}

typedef struct upto {
    msc_analysis_t *a;
    uint64_t time_ns;
} upto_t;

static int until_later(void *arg, const msc_event_t *ev)
{
    upto_t *u = arg;
    return ev->time_ns > u->time_ns ? 1 : msc_analysis_event(u->a, ev);
}

/* What was live at time_ns, by a replay of its own. */
static msc_analysis_t *live_at(const char *path, uint64_t time_ns)
{
    int err;
    msc_error_info_t info;
    msc_replay_t *r = msc_replay_open(path, 0, &err, &info);
    upto_t u = {msc_analysis_new(), time_ns};
    if (!r || !u.a) abort();
    const msc_header_t *h = msc_replay_header(r);
    if (h->mode == MSC_MODE_SAMPLED) msc_analysis_set_sampling(u.a, h->sample_bytes);
    err = msc_replay_run(r, until_later, &u, &info);
    if ((err != 0 && err != 1) || msc_analysis_finish(u.a)) abort();
    msc_replay_free(r);
    return u.a;
}

/* How many stacks differ between the moment and the analysis b. */
static int differences(const msc_moment_t *m, const msc_analysis_t *b)
{
    int wrong = 0;
    size_t i = 0;
    uint32_t nodes = msc_analysis_nodes(b);
    for (uint32_t s = 0; s < nodes; s++) {
        msc_node_values_t want = msc_analysis_node(b, MSC_VIEW_EXIT, s);
        msc_stack_value_t got = {s, 0, 0};
        if (i < m->n && m->stacks[i].stack == s) got = m->stacks[i++];
        if (got.bytes != want.bytes || got.count != want.count) wrong++;
    }
    return wrong + (int)(m->n - i);
}

static void check_moments(const char *path, const shape_t *shape)
{
    build_capture(path, shape);
    msc_error_info_t info;
    msc_replay_t *r;
    msc_analysis_t *a = msc_analysis_new();
    msc_temporal_t *t = msc_temporal_new(a, MOMENTS);
    CHECK_EQ(msc_analyse_file(path, a, &r, &info, NULL, NULL), 0);
    CHECK_EQ(msc_temporal_finish(t, a, msc_replay_duration_ns(r)), 0);
    /* The moments span the capture up to its last event, were the trailer
     * to say it ended earlier. */
    uint64_t end = msc_replay_duration_ns(r);
    if (end < msc_analysis_time(a)) end = msc_analysis_time(a);
    size_t n = msc_temporal_count(t);
    CHECK_EQ(n, MOMENTS);
    msc_moment_t *m = calloc(n, sizeof(*m)); /* each read into its own */
    for (size_t i = 0; i < n; i++) CHECK_EQ(msc_temporal_moment(t, i, &m[i]), 0);
    int wrong = 0, far = 0, unordered = 0, exact = 0;
    uint64_t slack = end / (4 * MOMENTS) > MSC_TEMPORAL_FIRST_STEP_NS ? end / (4 * MOMENTS)
                                                                      : MSC_TEMPORAL_FIRST_STEP_NS;
    for (size_t i = 0; i < n; i++) {
        msc_analysis_t *b = live_at(path, m[i].time_ns);
        int d = differences(&m[i], b);
        if (d || m[i].heap_bytes != msc_analysis_summary(b)->current_bytes) wrong++;
        if (d)
            fprintf(stderr, "moment %zu at %llu ns: %d stacks differ\n", i,
                    (unsigned long long)m[i].time_ns, d);
        msc_analysis_free(b);
        uint64_t target = i + 1 == n ? end : end / n * (i + 1);
        uint64_t gap = m[i].time_ns > target ? m[i].time_ns - target : target - m[i].time_ns;
        if (gap > slack) far++;
        if (!gap) exact++;
        if (i && m[i].time_ns < m[i - 1].time_ns) unordered++;
    }
    CHECK_EQ(wrong, 0);
    CHECK_EQ(far, 0);
    CHECK_EQ(unordered, 0);
    CHECK(exact >= 1);                              /* the end, at least */
    CHECK_EQ(m[n - 1].time_ns, end);
    CHECK_EQ(m[n - 1].heap_bytes, msc_analysis_summary(a)->current_bytes);
    /* One moment read over and over, in reverse, holds each in turn. */
    msc_moment_t one = {0};
    int differ = 0;
    for (size_t i = n; i-- > 0;) {
        CHECK_EQ(msc_temporal_moment(t, i, &one), 0);
        differ += one.n != m[i].n || one.time_ns != m[i].time_ns;
        for (size_t j = 0; j < one.n && j < m[i].n; j++)
            differ += one.stacks[j].stack != m[i].stacks[j].stack ||
                      one.stacks[j].bytes != m[i].stacks[j].bytes ||
                      one.stacks[j].count != m[i].stacks[j].count;
    }
    CHECK_EQ(differ, 0);
    msc_moment_release(&one);
    for (size_t i = 0; i < n; i++) msc_moment_release(&m[i]);
    free(m);
    msc_temporal_free(t);
    msc_analysis_free(a);
    msc_replay_free(r);
}

/* The grid's first step is 1 ms: a capture of a few ms keeps it, one of
 * hours doubles it some sixteen times. */
static void test_moments_match_a_second_replay(void)
{
    static const shape_t shapes[] = {
        {1, 6000, 1000000, 0},        /* 1 ms steps, ~10 s with the pauses */
        {2, 3000, 3000000000ull, 0},  /* 3 s steps, ~3 h */
        {3, 4000, 50000, 0},          /* ~0.3 s: the step doubles a few times */
        {4, 200, 20000, 0},           /* ~4 ms: the step never doubles */
        {5, 5000, 2000000, 1},        /* sampled, ~15 s */
        {6, 40, 500000000ull, 0},     /* fewer clock moves than moments */
        {7, 0, 1000000, 0},           /* nothing at all */
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
        check_moments(tc_path("moments.msc"), &shapes[i]);
}

static int feed_at(msc_analysis_t *a, int kind, uint64_t addr, uint64_t size, uint32_t stack,
                   uint64_t time_ns)
{
    msc_event_t e;
    memset(&e, 0, sizeof(e));
    e.kind = (uint8_t)kind, e.domain = MSC_DOMAIN_MMAP;
    e.addr = addr, e.size = size, e.stack = stack, e.time_ns = time_ns;
    return msc_analysis_event(a, &e);
}

/* Unmapping part of a mapping frees no block, so no count moves, but the
 * bytes do: the moment after it has them. */
static void test_part_of_a_mapping_unmapped(void)
{
    msc_analysis_t *a = msc_analysis_new();
    msc_temporal_t *t = msc_temporal_new(a, 1);
    CHECK_EQ(feed_at(a, MSC_REC_ALLOC, 0x100000, 0x100000, 3, 500000), 0);     /* 1 MiB */
    CHECK_EQ(feed_at(a, MSC_REC_FREE, 0x100000, 0x40000, 0, 1500000), 0);       /* its head */
    CHECK_EQ(feed_at(a, MSC_REC_SAMPLE, 0, 0, 0, 10000000), 0);
    CHECK_EQ(msc_analysis_finish(a), 0);
    CHECK_EQ(msc_temporal_finish(t, a, 10000000), 0);
    CHECK_EQ(msc_temporal_count(t), 1);
    msc_moment_t m = {0};
    CHECK_EQ(msc_temporal_moment(t, 0, &m), 0);
    CHECK_EQ(m.heap_bytes, 0xC0000);
    CHECK_EQ(m.n, 1);
    CHECK(m.n == 1 && m.stacks[0].stack == 3 && m.stacks[0].bytes == 0xC0000);
    msc_moment_release(&m);
    msc_temporal_free(t);
    msc_analysis_free(a);
}

/* Fails each allocation of the pass in turn. */
static void test_out_of_memory(void)
{
    const char *path = tc_path("oom.msc");
    const shape_t shape = {8, 300, 200000, 0};
    int failures, wrong;
    build_capture(path, &shape);
    CHECK(tc_fail_each_allocation(path, MOMENTS, 5000, &failures, &wrong));
    CHECK_EQ(wrong, 0);
    CHECK(failures > 50);
}

int main(void)
{
    test_moments_match_a_second_replay();
    test_part_of_a_mapping_unmapped();
    test_out_of_memory();
    tc_cleanup();
    return check_done("temporal");
}
