/* The analyser on hand-made event sequences: the live map against a
 * reference array under random inserts and deletes, peak / exit / total per
 * stack (including the epoch trick that settles peak values lazily), the
 * summary and size histogram, the clock observer and the thinned GC times,
 * and folding stacks into rows by line, function and file, exclusive and
 * inclusive, with recursion counted once.
 * Every allocation is also failed in turn: MSC_ENOMEM comes back and
 * nothing leaks. */
#include "capture_util.h"
#include "check.h"
#include "internal.h"
#include "memscope/livemap.h"
#include "memscope/aggregate.h"
#include "memscope/analysis.h"
#include "memscope/tree.h"

/*
 * Live map.
 */

static void test_livemap_basics(void)
{
    msc_livemap_t m;
    msc_live_t old;
    CHECK_EQ(msc_livemap_init(&m), 0);
    CHECK_EQ(msc_livemap_put(&m, &(msc_live_t){0x1000, 10, 1, 1}, &old), 0);
    CHECK_EQ(msc_livemap_put(&m, &(msc_live_t){0x2000, 20, 2, 1}, &old), 0);
    CHECK_EQ(msc_livemap_put(&m, &(msc_live_t){0x1000, 11, 3, 1}, &old), 1);
    CHECK_EQ(old.addr, 0x1000);
    CHECK_EQ(old.size, 10);
    CHECK_EQ(old.stack, 1);
    CHECK_EQ(m.count, 2);
    CHECK_EQ(msc_livemap_take(&m, 0x1000, &old), 1);
    CHECK_EQ(old.size, 11);
    CHECK_EQ(old.stack, 3);
    CHECK_EQ(msc_livemap_take(&m, 0x1000, &old), 0);
    CHECK_EQ(msc_livemap_take(&m, 0x3000, &old), 0);
    CHECK_EQ(m.count, 1);

    /* Growth keeps every entry. */
    size_t mask = m.mask;
    for (uint64_t i = 1; i <= 200000; i++)
        msc_livemap_put(&m, &(msc_live_t){i * 16 + 0x10000, i, (uint32_t)i, 1}, &old);
    CHECK(m.mask > mask);
    CHECK((m.count + 1) * 2 <= m.mask + 1);
    int lost = 0;
    for (uint64_t i = 1; i <= 200000; i++)
        if (msc_livemap_take(&m, i * 16 + 0x10000, &old) != 1 || old.size != i) lost++;
    CHECK_EQ(lost, 0);
    CHECK_EQ(m.count, 1);
    msc_livemap_release(&m);
}

/* The debug checker passes a map after growth and deletions, and names
 * each kind of damage: a wrong count, an entry a lookup cannot reach, an
 * address held twice. */
static void test_livemap_checker(void)
{
    msc_livemap_t m;
    msc_live_t old;
    CHECK_EQ(msc_livemap_init(&m), 0);
    for (uint64_t i = 1; i <= 50000; i++)
        CHECK_EQ(msc_livemap_put(&m, &(msc_live_t){i * 16, i, 1, 1}, &old), 0);
    for (uint64_t i = 1; i <= 50000; i += 3) CHECK_EQ(msc_livemap_take(&m, i * 16, &old), 1);
    CHECK_EQ(msc__livemap_check(&m), 0);

    m.count++;
    CHECK_EQ(msc__livemap_check(&m), MSC_ECORRUPT);
    m.count--;

    /* An entry moved to the slot before its home: no lookup gets there. */
    size_t home = msc_livemap_slot(32, m.mask), at = home;
    while (m.slots[at].addr != 32) at = (at + 1) & m.mask;
    size_t before = (home - 1) & m.mask;
    msc_live_t moved = m.slots[at], displaced = m.slots[before];
    m.slots[before] = moved;
    m.slots[at] = displaced;
    CHECK_EQ(msc__livemap_check(&m), MSC_ECORRUPT);
    m.slots[at] = moved;
    m.slots[before] = displaced;
    CHECK_EQ(msc__livemap_check(&m), 0);

    /* The same address in a later slot of its run, counted. */
    size_t end = at;
    while (m.slots[end].addr) end = (end + 1) & m.mask;
    m.slots[end] = moved;
    m.count++;
    CHECK_EQ(msc__livemap_check(&m), MSC_ECORRUPT);
    m.slots[end].addr = 0;
    m.count--;
    CHECK_EQ(msc__livemap_check(&m), 0);
    msc_livemap_release(&m);
}

/* Random inserts, replaces and deletes over a small address range (long
 * probe runs, many wrap-arounds), checked against a plain array. */
static void test_livemap_random(void)
{
    enum { RANGE = 40000, OPS = 1500000 };
    static uint64_t size[RANGE];   /* 0 = absent */
    static uint32_t stack[RANGE];
    msc_livemap_t m;
    msc_live_t got;
    CHECK_EQ(msc_livemap_init(&m), 0);
    uint64_t seed = 7;
    size_t present = 0;
    int wrong = 0;
    for (int op = 0; op < OPS; op++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t k = (uint32_t)((seed >> 33) % RANGE);
        /* Even keys 16-aligned, like most heap blocks; odd keys 8 past. */
        uint64_t addr = (uint64_t)(k + 1) * 16 + (k & 1) * 8;
        int insert = (seed >> 20) % 100 < (op < OPS / 2 ? 60 : 40);
        if (insert) {
            uint64_t s = (seed >> 40) + 1;
            int rc = msc_livemap_put(&m, &(msc_live_t){addr, s, (uint32_t)op, 1}, &got);
            if (rc != (size[k] != 0) || (rc == 1 && (got.size != size[k] || got.stack != stack[k])))
                wrong++;
            if (!size[k]) present++;
            size[k] = s;
            stack[k] = (uint32_t)op;
        } else {
            int rc = msc_livemap_take(&m, addr, &got);
            if (rc != (size[k] != 0) || (rc == 1 && (got.size != size[k] || got.stack != stack[k])))
                wrong++;
            if (size[k]) present--;
            size[k] = 0;
        }
        if (m.count != present) wrong++;
    }
    CHECK_EQ(wrong, 0);
    /* The table holds exactly what the reference holds. */
    int missing = 0;
    size_t occupied = 0;
    for (size_t i = 0; i <= m.mask; i++) {
        uint64_t a = m.slots[i].addr;
        if (!a) continue;
        occupied++;
        uint32_t k = (uint32_t)((a >> 4) - 1);
        if (k >= RANGE || size[k] != m.slots[i].size || stack[k] != m.slots[i].stack) missing++;
    }
    CHECK_EQ(occupied, present);
    CHECK_EQ(missing, 0);
    msc_livemap_release(&m);
}

/*
 * Analysis on hand-made events.
 */

static msc_event_t ev_of(int kind, uint64_t addr, uint64_t size, uint32_t stack)
{
    msc_event_t e;
    memset(&e, 0, sizeof(e));
    e.kind = (uint8_t)kind;
    e.addr = addr;
    e.size = size;
    e.stack = stack;
    return e;
}

static int feed(msc_analysis_t *a, int kind, uint64_t addr, uint64_t size, uint32_t stack,
                uint64_t time)
{
    msc_event_t e = ev_of(kind, addr, size, stack);
    e.time_ns = time;
    return msc_analysis_event(a, &e);
}

static int realloc_event(msc_analysis_t *a, uint64_t old_addr, uint64_t addr, uint64_t size,
                         uint32_t stack)
{
    msc_event_t e = ev_of(MSC_REC_REALLOC, addr, size, stack);
    e.old_addr = old_addr;
    return msc_analysis_event(a, &e);
}

#define NODE_BYTES(a, view, node) (msc_analysis_node(a, view, node).bytes)
#define NODE_COUNT(a, view, node) (msc_analysis_node(a, view, node).count)

static void test_peak_and_epochs(void)
{
    msc_analysis_t *a = msc_analysis_new();
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x100, 100, 1, 10), 0);
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x200, 200, 2, 20), 0); /* peak 300 at 20 */
    CHECK_EQ(feed(a, MSC_REC_FREE, 0x100, 0, 0, 30), 0);    /* stack 1 changes after the peak */
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x300, 50, 1, 40), 0);
    CHECK_EQ(feed(a, MSC_REC_FREE, 0xDEAD0, 0, 0, 45), 0);  /* never allocated */
    msc_analysis_finish(a);
    const msc_summary_t *s = msc_analysis_summary(a);
    CHECK_EQ(s->peak_bytes, 300);
    CHECK_EQ(s->peak_time_ns, 20);
    CHECK_EQ(s->peak_allocations, 2);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_PEAK, 1), 100);  /* its stamped copy */
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_PEAK, 2), 200);  /* unchanged since: its live value */
    CHECK_EQ(NODE_COUNT(a, MSC_VIEW_PEAK, 1), 1);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_EXIT, 1), 50);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_TOTAL, 1), 150);
    CHECK_EQ(NODE_COUNT(a, MSC_VIEW_TOTAL, 1), 2);
    CHECK_EQ(s->unmatched_frees, 1);
    CHECK_EQ(s->frees, 1);
    CHECK_EQ(s->allocations, 3);
    CHECK_EQ(s->total_allocated_bytes, 350);
    CHECK_EQ(s->leaked_bytes, 250);
    CHECK_EQ(s->leaked_allocations, 2);

    /* A higher peak later: every stack's peak value moves to it. */
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x400, 1000, 3, 50), 0); /* 1250 */
    CHECK_EQ(feed(a, MSC_REC_FREE, 0x200, 0, 0, 60), 0);
    CHECK_EQ(feed(a, MSC_REC_FREE, 0x400, 0, 0, 70), 0);
    msc_analysis_finish(a);
    CHECK_EQ(s->peak_bytes, 1250);
    CHECK_EQ(s->peak_time_ns, 50);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_PEAK, 1), 50);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_PEAK, 2), 200);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_PEAK, 3), 1000);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_EXIT, 2), 0);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_EXIT, 3), 0);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_PEAK, 999), 0);
    CHECK_EQ(s->leaked_bytes, 50);
    CHECK_EQ(s->leaked_allocations, 1);

    /* The peak view sums to the peak. */
    uint64_t sum = 0;
    for (uint32_t n = 0; n < msc_analysis_nodes(a); n++) sum += NODE_BYTES(a, MSC_VIEW_PEAK, n);
    CHECK_EQ(sum, 1250);
    msc_analysis_free(a);
}

static void test_realloc_and_reuse(void)
{
    msc_analysis_t *a = msc_analysis_new();
    CHECK_EQ(realloc_event(a, 0, 0x100, 10, 1), 0);        /* realloc(NULL, 10) */
    CHECK_EQ(realloc_event(a, 0x100, 0x200, 30, 2), 0);    /* moves and grows */
    CHECK_EQ(realloc_event(a, 0x200, 0x200, 5, 2), 0);     /* shrinks in place */
    CHECK_EQ(realloc_event(a, 0x999, 0x300, 7, 1), 0);     /* from an unknown block */
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x300, 8, 3, 0), 0);   /* its free was lost */
    msc_analysis_finish(a);
    const msc_summary_t *s = msc_analysis_summary(a);
    CHECK_EQ(s->allocations, 5);
    CHECK_EQ(s->frees, 3);
    CHECK_EQ(s->unmatched_frees, 1);
    CHECK_EQ(s->current_bytes, 13);
    CHECK_EQ(s->leaked_allocations, 2);
    CHECK_EQ(s->peak_bytes, 30);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_EXIT, 1), 0);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_EXIT, 2), 5);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_EXIT, 3), 8);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_PEAK, 2), 30);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_TOTAL, 1), 17);
    msc_analysis_free(a);
}

/* Each stack's smallest size (not 0) and largest, reallocs included, when
 * asked for before the events; unknown when not asked, or past 4 GiB. */
static void test_size_ranges(void)
{
    msc_analysis_t *a = msc_analysis_new(), *plain = msc_analysis_new();
    uint64_t min, max;
    CHECK_EQ(msc_analysis_track_sizes(a), 0);
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x100, 0, 1, 0), 0);      /* 0: not a smallest */
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x200, 233, 1, 0), 0);
    CHECK_EQ(realloc_event(a, 0x200, 0x300, 3000, 1), 0);
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x400, 40, 2, 0), 0);
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x500, 5ull << 32, 3, 0), 0);
    for (uint32_t stack = 4000; stack < 4003; stack++) /* past the first room */
        CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x1000 + stack * 16, stack, stack, 0), 0);
    CHECK_EQ(feed(plain, MSC_REC_ALLOC, 0x100, 10, 1, 0), 0);
    msc_analysis_finish(a);
    msc_analysis_finish(plain);
    CHECK_EQ(msc_analysis_size_range(a, 1, &min, &max), 1);
    CHECK(min == 233 && max == 3000);
    CHECK_EQ(msc_analysis_size_range(a, 2, &min, &max), 1);
    CHECK(min == 40 && max == 40);
    CHECK_EQ(msc_analysis_size_range(a, 4001, &min, &max), 1);
    CHECK(min == 4001 && max == 4001);
    CHECK_EQ(msc_analysis_size_range(a, 3, &min, &max), -1); /* 5 GiB */
    CHECK_EQ(msc_analysis_size_range(a, 7, &min, &max), 0);  /* never allocated */
    CHECK_EQ(msc_analysis_size_range(plain, 1, &min, &max), -1);
    msc_analysis_free(a);
    msc_analysis_free(plain);
}

static int feed_in(msc_analysis_t *a, int kind, uint64_t domain, uint64_t addr, uint64_t size,
                   uint32_t stack)
{
    msc_event_t e = ev_of(kind, addr, size, stack);
    e.domain = domain;
    return msc_analysis_event(a, &e);
}

static const msc_domain_stats_t *domain_stats(const msc_summary_t *s, uint64_t domain)
{
    for (uint32_t i = 0; i < s->ndomains; i++)
        if (s->domains[i].domain == domain) return &s->domains[i];
    return NULL;
}

/* Foreign domains keep their own addresses; mappings are cut by range. */
static void test_domains(void)
{
    const uint64_t numpy = MSC_DOMAIN_FOREIGN + MSC_NUMPY_DOMAIN;
    msc_analysis_t *a = msc_analysis_new();
    CHECK_EQ(feed_in(a, MSC_REC_ALLOC, MSC_DOMAIN_RAW, 0x1000, 100, 1), 0);
    CHECK_EQ(feed_in(a, MSC_REC_ALLOC, numpy, 0x1000, 8000, 2), 0); /* same address, own map */
    CHECK_EQ(feed_in(a, MSC_REC_ALLOC, MSC_DOMAIN_MMAP, 0x100000, 0x10000, 3), 0);
    CHECK_EQ(feed_in(a, MSC_REC_FREE, MSC_DOMAIN_MMAP, 0x104000, 0x2000, 0), 0); /* a hole */
    CHECK_EQ(feed_in(a, MSC_REC_FREE, MSC_DOMAIN_MMAP, 0x100000, 0x1000, 0), 0); /* the head */
    CHECK_EQ(feed_in(a, MSC_REC_FREE, numpy, 0x1000, 0, 0), 0);
    CHECK_EQ(feed_in(a, MSC_REC_ALLOC, MSC_DOMAIN_NATIVE, 0x2000, 50, 4), 0);
    CHECK_EQ(feed_in(a, MSC_REC_FREE, MSC_DOMAIN_RAW, 0x2000, 0, 0), 0); /* one malloc heap */
    CHECK_EQ(feed_in(a, MSC_REC_FREE, numpy, 0x1000, 0, 0), 0);          /* already gone */
    CHECK_EQ(feed_in(a, MSC_REC_FREE, MSC_DOMAIN_MMAP, 0x900000, 0x1000, 0), 0);
    CHECK_EQ(msc_analysis_finish(a), 0);
    const msc_summary_t *s = msc_analysis_summary(a);
    CHECK_EQ(s->peak_bytes, 100 + 8000 + 0x10000);
    CHECK_EQ(s->leaked_bytes, 100 + 0x10000 - 0x3000);
    CHECK_EQ(s->unmatched_frees, 2);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_EXIT, 1), 100);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_EXIT, 3), 0x10000 - 0x3000);
    CHECK_EQ(NODE_COUNT(a, MSC_VIEW_EXIT, 3), 1);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_PEAK, 2), 8000);
    const msc_domain_stats_t *d = domain_stats(s, numpy);
    CHECK(d != NULL);
    if (d) {
        CHECK_EQ(d->peak_bytes, 8000);
        CHECK_EQ(d->leaked_bytes, 0);
    }
    d = domain_stats(s, MSC_DOMAIN_MMAP);
    CHECK(d != NULL);
    if (d) CHECK_EQ(d->leaked_bytes, 0x10000 - 0x3000);
    d = domain_stats(s, MSC_DOMAIN_NATIVE);
    CHECK(d != NULL);
    if (d) CHECK_EQ(d->leaked_bytes, 0);

    /* Mapping over the rest (MAP_FIXED) replaces both pieces; unmapping a
     * range that covers it all frees it. */
    CHECK_EQ(feed_in(a, MSC_REC_ALLOC, MSC_DOMAIN_MMAP, 0x0F0000, 0x30000, 5), 0);
    CHECK_EQ(msc_analysis_finish(a), 0);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_EXIT, 3), 0);
    CHECK_EQ(NODE_COUNT(a, MSC_VIEW_EXIT, 3), 0);
    CHECK_EQ(NODE_BYTES(a, MSC_VIEW_EXIT, 5), 0x30000);
    CHECK_EQ(feed_in(a, MSC_REC_FREE, MSC_DOMAIN_MMAP, 0, UINT64_MAX, 0), 0);
    CHECK_EQ(msc_analysis_finish(a), 0);
    CHECK_EQ(s->leaked_bytes, 100);

    /* More foreign domains than the table holds are pooled as "other". */
    for (uint64_t i = 0; i < 2 * MSC_MAX_DOMAIN_STATS; i++)
        CHECK_EQ(feed_in(a, MSC_REC_ALLOC, MSC_DOMAIN_FOREIGN + 1000 + i, 0x1000, 1, 6), 0);
    CHECK_EQ(msc_analysis_finish(a), 0);
    CHECK(s->ndomains <= MSC_MAX_DOMAIN_STATS);
    CHECK(domain_stats(s, MSC_DOMAIN_OTHER) != NULL);
    char name[64];
    CHECK(strcmp(msc_domain_name(numpy, name, sizeof(name)), "numpy") == 0);
    CHECK(strcmp(msc_domain_name(MSC_DOMAIN_FOREIGN + 7, name, sizeof(name)), "domain 7") == 0);
    msc_analysis_free(a);
}

/* Resident memory split at the detailed sample with the most RSS. */
static void test_rss_split(void)
{
    msc_analysis_t *a = msc_analysis_new();
    msc_event_t e = ev_of(MSC_REC_SAMPLE, 0, 0, 0);
    CHECK_EQ(feed_in(a, MSC_REC_ALLOC, MSC_DOMAIN_OBJ, 0x1000, 3000, 1), 0);
    CHECK_EQ(feed_in(a, MSC_REC_ALLOC, MSC_DOMAIN_NATIVE, 0x2000, 2000, 1), 0);
    CHECK_EQ(feed_in(a, MSC_REC_ALLOC, MSC_DOMAIN_MMAP, 0x100000, 100000, 1), 0);
    e.time_ns = 10;
    e.value[0] = 50000;                 /* no detail: no split */
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    CHECK_EQ(msc_analysis_finish(a), 0);
    const msc_summary_t *s = msc_analysis_summary(a);
    CHECK_EQ(s->rss_split.rss_bytes, 0);
    e.time_ns = 20;
    e.value[1] = 8000;                  /* anonymous: python, native, then 3000 mapped */
    e.value[2] = 4000;                  /* file-backed */
    e.value[3] = 1;
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    e.time_ns = 30;
    e.value[1] = 1000;                  /* smaller: the first stays */
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    CHECK_EQ(msc_analysis_finish(a), 0);
    const msc_rss_split_t *r = &s->rss_split;
    CHECK_EQ(r->time_ns, 20);
    CHECK_EQ(r->rss_bytes, 12000);
    CHECK_EQ(r->python_bytes, 3000);
    CHECK_EQ(r->native_bytes, 2000);
    CHECK_EQ(r->mapped_bytes, 3000);
    CHECK_EQ(r->file_bytes, 4000);
    CHECK_EQ(r->unexplained_bytes, 0);
    e.time_ns = 40;
    e.value[1] = 200000;                /* more than everything live */
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    CHECK_EQ(msc_analysis_finish(a), 0);
    CHECK_EQ(r->mapped_bytes, 100000);
    CHECK_EQ(r->unexplained_bytes, 200000 - 105000);
    CHECK_EQ(r->python_bytes + r->native_bytes + r->mapped_bytes + r->file_bytes +
                 r->unexplained_bytes,
             r->rss_bytes);
    msc_analysis_free(a);
}

static void test_histogram_and_other_events(void)
{
    msc_analysis_t *a = msc_analysis_new();
    const uint64_t sizes[] = {0, 1, 2, 3, 4, 7, 8, 1ull << 46, (1ull << 47) + 1, 1ull << 60};
    const int buckets[] = {0, 1, 2, 2, 3, 3, 4, 47, 47, 47};
    for (int i = 0; i < 10; i++) feed(a, MSC_REC_ALLOC, 0x1000 + 16 * (uint64_t)i, sizes[i], 0, 0);
    CHECK_EQ(msc_analysis_finish(a), 0);
    const msc_summary_t *s = msc_analysis_summary(a);
    uint64_t want_count[MSC_HISTOGRAM_BUCKETS] = {0}, want_bytes[MSC_HISTOGRAM_BUCKETS] = {0};
    for (int i = 0; i < 10; i++) {
        want_count[buckets[i]]++;
        want_bytes[buckets[i]] += sizes[i];
    }
    int wrong = 0;
    for (int b = 0; b < MSC_HISTOGRAM_BUCKETS; b++)
        if (s->histogram_count[b] != want_count[b] || s->histogram_bytes[b] != want_bytes[b])
            wrong++;
    CHECK_EQ(wrong, 0);

    msc_event_t e = ev_of(MSC_REC_SAMPLE, 0, 0, 0);
    e.time_ns = 500;
    e.value[0] = 1 << 20;
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    e.value[0] = 1 << 10;
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    size_t n;
    const msc_sample_t *samples = msc_analysis_samples(a, &n);
    CHECK_EQ(n, 2);
    CHECK_EQ(samples[0].time_ns, 500);
    CHECK_EQ(samples[0].rss_bytes, 1 << 20);
    CHECK_EQ(samples[0].heap_bytes, s->current_bytes);
    CHECK_EQ(s->peak_rss_bytes, 1 << 20);

    e = ev_of(MSC_REC_MARK, 0, 0, 0);
    e.time_ns = 600;
    e.text = "label, not terminated here";
    e.text_len = 5;
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    const msc_mark_t *marks = msc_analysis_marks(a, &n);
    CHECK_EQ(n, 1);
    CHECK(n == 1 && strcmp(marks[0].label, "label") == 0 && marks[0].time_ns == 600);

    e = ev_of(MSC_REC_THREAD_INFO, 0, 0, 0);
    e.thread = 3;
    e.text = "worker";
    e.text_len = 6;
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    e.text_len = 0; /* a later nameless record keeps the name */
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    CHECK(strcmp(msc_analysis_thread_name(a, 3), "worker") == 0);
    CHECK(strcmp(msc_analysis_thread_name(a, 2), "") == 0);
    CHECK(strcmp(msc_analysis_thread_name(a, 100000), "") == 0);
    CHECK_EQ(s->threads, 4);
    e.thread = (1u << 28) - 1; /* counted, but not given a 2 GiB name table */
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    CHECK_EQ(s->threads, 1u << 28);

    const uint64_t gc[][4] = {{0, 10, 1, 0}, {0, 30, 2, 1}, {2, 5, 3, 0}, {9, 7, 4, 0}};
    for (int i = 0; i < 4; i++) {
        e = ev_of(MSC_REC_GC, 0, 0, 0);
        memcpy(e.value, gc[i], sizeof(e.value));
        CHECK_EQ(msc_analysis_event(a, &e), 0);
    }
    CHECK_EQ(s->gc[0].runs, 2);
    CHECK_EQ(s->gc[0].pause_ns, 40);
    CHECK_EQ(s->gc[0].max_pause_ns, 30);
    CHECK_EQ(s->gc[0].collected, 3);
    CHECK_EQ(s->gc[0].uncollectable, 1);
    CHECK_EQ(s->gc[2].runs, 2); /* generations above 2 count as 2 */
    CHECK_EQ(s->gc[2].collected, 7);
    CHECK_EQ(s->gc[1].runs, 0);

    e = ev_of(MSC_REC_LOST, 0, 0, 0);
    e.value[0] = 12;
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    CHECK_EQ(s->lost_events, 24);
    msc_analysis_free(a);
}

typedef struct clock_log {
    uint64_t since[4], until[4], live[4];
    uint64_t changed[4];           /* the first word of the changed stacks' bitmap */
    int n;
    int fail_at;                   /* the call that fails, counting from 1; 0 = none */
} clock_log_t;

/* Records the call, then asks to be called 100 ns after until, or never
 * from the third call on. */
static int log_clock(void *arg, const msc_analysis_t *a, uint64_t since_ns, uint64_t until_ns,
                     uint64_t *at_ns)
{
    clock_log_t *l = arg;
    l->since[l->n] = since_ns;
    l->until[l->n] = until_ns;
    l->live[l->n] = msc_analysis_summary(a)->current_bytes;
    size_t words;
    const uint64_t *changed = msc_analysis_changed_stacks(a, &words);
    l->changed[l->n] = changed && words ? changed[0] : UINT64_MAX;
    *at_ns = ++l->n < 3 ? until_ns + 100 : UINT64_MAX;
    return l->n == l->fail_at ? MSC_ENOMEM : 0;
}

static void test_clock(void)
{
    clock_log_t log = {{0}, {0}, {0}, {0}, 0, 0};
    msc_analysis_t *a = msc_analysis_new();
    msc_analysis_set_clock(a, 50, log_clock, &log);
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x100, 100, 1, 10), 0);
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x200, 200, 1, 50), 0);   /* not later than 50 */
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x400, 9, 3, 50), 0);
    CHECK_EQ(feed(a, MSC_REC_FREE, 0x400, 0, 0, 50), 0);      /* stack 3 changed, none live */
    CHECK_EQ(log.n, 0);
    CHECK_EQ(feed(a, MSC_REC_FREE, 0x100, 0, 0, 60), 0);      /* passes 50: both applied */
    CHECK_EQ(log.n, 1);
    CHECK_EQ(log.since[0], 50);
    CHECK_EQ(log.until[0], 60);
    CHECK_EQ(log.live[0], 300);
    CHECK_EQ(log.changed[0], 1u << 1 | 1u << 3);              /* the stacks changed up to then */
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x500, 5, 2, 70), 0);
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x300, 5, 1, 160), 0);    /* at 160: not later */
    msc_event_t e = ev_of(MSC_REC_SAMPLE, 0, 0, 0);
    e.time_ns = 5000;                                         /* one call for a long jump */
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    CHECK_EQ(log.n, 2);
    CHECK_EQ(log.since[1], 160);
    CHECK_EQ(log.until[1], 5000);
    CHECK_EQ(log.live[1], 210);
    CHECK_EQ(log.changed[1], 1u << 1 | 1u << 2); /* since the last call: the free at 60 (a
                                                   block of stack 1), the allocations at 70
                                                   and 160 */
    e.time_ns = 5101;
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    e.time_ns = 1u << 30;                                     /* never again */
    CHECK_EQ(msc_analysis_event(a, &e), 0);
    CHECK_EQ(log.n, 3);
    msc_analysis_free(a);

    /* An observer's error stops the replay with it. */
    clock_log_t failing = {{0}, {0}, {0}, {0}, 0, 1};
    a = msc_analysis_new();
    msc_analysis_set_clock(a, 0, log_clock, &failing);
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x100, 100, 1, 1), MSC_ENOMEM);
    msc_analysis_set_clock(a, 0, NULL, NULL);                 /* none: no more calls */
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x200, 100, 1, 2), 0);
    CHECK_EQ(failing.n, 1);
    msc_analysis_free(a);

    /* Without an observer nothing is kept. */
    a = msc_analysis_new();
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x100, 100, 1, 1), 0);
    size_t words;
    CHECK(msc_analysis_changed_stacks(a, &words) == NULL);
    CHECK_EQ(words, 0);
    msc_analysis_free(a);
}

/* 10,000 runs: the list fills twice, so every 4th run's start is kept. */
static void test_gc_times(void)
{
    msc_analysis_t *a = msc_analysis_new();
    msc_event_t e = ev_of(MSC_REC_GC, 0, 0, 0);
    size_t n;
    int failed = 0, wrong = 0;
    CHECK(msc_analysis_gc_times(a, &n) == NULL && n == 0);
    for (uint64_t run = 0; run < 10000; run++) {
        e.time_ns = 1000 + run;
        failed += msc_analysis_event(a, &e) != 0;
    }
    CHECK_EQ(failed, 0);
    const uint64_t *times = msc_analysis_gc_times(a, &n);
    CHECK_EQ(n, 2500);
    for (size_t i = 0; i < n; i++) wrong += times[i] != 1000 + 4 * i;
    CHECK_EQ(wrong, 0);
    msc_analysis_free(a);
}

/*
 * Aggregation. Frames: f (a.py, from line 10), g (a.py, 20), h (b.py, 30);
 * each code's offset k is at its first line + k.
 */

typedef struct fixture {
    msc_symbols_t *sym;
    msc_analysis_t *a;
    uint32_t n[8];
} fixture_t;

static int fixture_init(fixture_t *fx)
{
    static const uint8_t table[] = {0x80, 0x00, 0xE8, 0x02, 0xE8, 0x02};
    memset(fx, 0, sizeof(*fx));
    fx->sym = msc_symbols_new(0x030B00F0);
    fx->a = msc_analysis_new();
    if (!fx->sym || !fx->a) return MSC_ENOMEM;
    const char *names[] = {"", "a.py", "b.py", "f", "g", "h"};
    for (uint32_t i = 1; i < 6; i++) {
        int err = msc_symbols_add_string(fx->sym, i, (const uint8_t *)names[i], strlen(names[i]));
        if (err) return err;
    }
    const uint32_t code[][3] = {{1, 3, 10}, {1, 4, 20}, {2, 5, 30}};
    for (uint32_t c = 0; c < 3; c++) {
        int err = msc_symbols_add_code(fx->sym, c + 1, code[c][0], code[c][1], code[c][2], table,
                                       sizeof(table));
        if (err) return err;
    }
    /* n1 f:10; n2 g:21 under f; n3 h:30 under g; n4 g:22 under f;
     * n5, n6: f:10 under f:10 under f:10 (recursion). */
    const uint32_t nodes[][3] = {{0, 1, 0}, {1, 2, 1}, {2, 3, 0}, {1, 2, 2}, {1, 1, 0}, {5, 1, 0}};
    for (int i = 0; i < 6; i++) {
        int64_t id = msc_symbols_add_node(fx->sym, fx->n[nodes[i][0]], nodes[i][1], nodes[i][2]);
        if (id < 0) return (int)id;
        fx->n[i + 1] = (uint32_t)id;
    }
    const uint64_t allocs[][3] = {{3, 100, 0}, {4, 40, 1}, {2, 7, 0}, {6, 1000, 1}, {0, 5, 0}};
    for (int i = 0; i < 5; i++) {
        int err = feed(fx->a, MSC_REC_ALLOC, 0x1000 * (uint64_t)(i + 1), allocs[i][1],
                       fx->n[allocs[i][0]], 0);
        if (err) return err;
    }
    /* The ones marked 1 are freed: gone at exit, still in the peak. */
    for (int i = 0; i < 5; i++)
        if (allocs[i][2]) feed(fx->a, MSC_REC_FREE, 0x1000 * (uint64_t)(i + 1), 0, 0, 0);
    return msc_analysis_finish(fx->a);
}

static void fixture_release(fixture_t *fx)
{
    msc_analysis_free(fx->a);
    msc_symbols_free(fx->sym);
}

typedef struct want_row {
    const char *file, *function;
    uint32_t line;
    uint64_t bytes, count;
} want_row_t;

static void check_rows(fixture_t *fx, msc_view_t view, msc_group_t group, int inclusive,
                       const char *only, const want_row_t *want, size_t n, uint64_t total)
{
    msc_rows_t rows;
    CHECK_EQ(msc_aggregate(fx->a, fx->sym, view, group, inclusive, only, &rows), 0);
    CHECK_EQ(rows.n, n);
    CHECK_EQ(rows.total_bytes, total);
    for (size_t i = 0; i < n && i < rows.n; i++) {
        const msc_row_t *r = &rows.rows[i];
        int ok = strcmp(r->file, want[i].file) == 0 && r->line == want[i].line &&
                 r->bytes == want[i].bytes && r->count == want[i].count &&
                 (want[i].function ? r->function && strcmp(r->function, want[i].function) == 0
                                   : r->function == NULL);
        if (!ok)
            fprintf(stderr, "row %zu: %s %s %u %llu %llu\n", i, r->file,
                    r->function ? r->function : "-", r->line, (unsigned long long)r->bytes,
                    (unsigned long long)r->count);
        CHECK(ok);
    }
    msc_rows_release(&rows);
}

#define ROWS(...)                                                                                  \
    ((const want_row_t[]){__VA_ARGS__}),                                                           \
        sizeof((const want_row_t[]){__VA_ARGS__}) / sizeof(want_row_t)

static void test_aggregate(void)
{
    fixture_t fx;
    CHECK_EQ(fixture_init(&fx), 0);
    const char *nop = "<no Python frame>";
    check_rows(&fx, MSC_VIEW_TOTAL, MSC_BY_LINE, 0, NULL,
               ROWS({"a.py", "f", 10, 1000, 1}, {"b.py", "h", 30, 100, 1}, {"a.py", "g", 22, 40, 1},
                    {"a.py", "g", 21, 7, 1}, {nop, nop, 0, 5, 1}),
               1152);
    check_rows(&fx, MSC_VIEW_TOTAL, MSC_BY_FUNCTION, 0, NULL,
               ROWS({"a.py", "f", 0, 1000, 1}, {"b.py", "h", 0, 100, 1}, {"a.py", "g", 0, 47, 2},
                    {nop, nop, 0, 5, 1}),
               1152);
    check_rows(&fx, MSC_VIEW_TOTAL, MSC_BY_FILE, 0, NULL,
               ROWS({"a.py", NULL, 0, 1047, 3}, {"b.py", NULL, 0, 100, 1}, {nop, NULL, 0, 5, 1}),
               1152);
    check_rows(&fx, MSC_VIEW_TOTAL, MSC_BY_SOURCE_LINE, 0, NULL,
               ROWS({"a.py", NULL, 10, 1000, 1}, {"b.py", NULL, 30, 100, 1},
                    {"a.py", NULL, 22, 40, 1}, {"a.py", NULL, 21, 7, 1}, {nop, NULL, 0, 5, 1}),
               1152);

    /* Inclusive: each stack once per key on it, recursion included. */
    check_rows(&fx, MSC_VIEW_TOTAL, MSC_BY_LINE, 1, NULL,
               ROWS({"a.py", "f", 10, 1147, 4}, {"a.py", "g", 21, 107, 2},
                    {"b.py", "h", 30, 100, 1}, {"a.py", "g", 22, 40, 1}, {nop, nop, 0, 5, 1}),
               1152);
    check_rows(&fx, MSC_VIEW_TOTAL, MSC_BY_FUNCTION, 1, NULL,
               ROWS({"a.py", "f", 0, 1147, 4}, {"a.py", "g", 0, 147, 3}, {"b.py", "h", 0, 100, 1},
                    {nop, nop, 0, 5, 1}),
               1152);
    check_rows(&fx, MSC_VIEW_TOTAL, MSC_BY_FILE, 1, NULL,
               ROWS({"a.py", NULL, 0, 1147, 4}, {"b.py", NULL, 0, 100, 1}, {nop, NULL, 0, 5, 1}),
               1152);

    /* One file only: each stack goes to its innermost frame in that file. */
    check_rows(
        &fx, MSC_VIEW_TOTAL, MSC_BY_LINE, 0, "/src/a.py",
        ROWS({"a.py", "f", 10, 1000, 1}, {"a.py", "g", 21, 107, 2}, {"a.py", "g", 22, 40, 1}),
        1152);
    check_rows(&fx, MSC_VIEW_TOTAL, MSC_BY_LINE, 0, "b.py", ROWS({"b.py", "h", 30, 100, 1}), 1152);

    /* Views: the frees after the peak leave 112 bytes at exit. */
    check_rows(&fx, MSC_VIEW_EXIT, MSC_BY_FILE, 0, NULL,
               ROWS({"b.py", NULL, 0, 100, 1}, {"a.py", NULL, 0, 7, 1}, {nop, NULL, 0, 5, 1}), 112);
    check_rows(&fx, MSC_VIEW_PEAK, MSC_BY_FILE, 0, NULL,
               ROWS({"a.py", NULL, 0, 1047, 3}, {"b.py", NULL, 0, 100, 1}, {nop, NULL, 0, 5, 1}),
               1152);
    fixture_release(&fx);

    /* Several groupings in one pass: each the rows msc_aggregate gives. */
    fixture_t gx;
    CHECK_EQ(fixture_init(&gx), 0);
    msc_rows_t groups[MSC_BY_SOURCE_LINE + 1][MSC_VIEW_ALL];
    unsigned views = 1u << MSC_VIEW_PEAK | 1u << MSC_VIEW_TOTAL | 1u << MSC_VIEW_EXIT;
    msc_views_values_t vv;
    CHECK_EQ(msc_views_values_read(gx.a, views, &vv), 0);
    CHECK_EQ(msc_aggregate_groups(&vv, gx.sym, views, 0xF, groups), 0);
    for (int g = 0; g <= MSC_BY_SOURCE_LINE; g++) {
        for (int v = 0; v < MSC_VIEW_COUNT; v++) {
            msc_rows_t one, *many = &groups[g][v];
            CHECK_EQ(msc_aggregate(gx.a, gx.sym, (msc_view_t)v, (msc_group_t)g, 0, NULL, &one), 0);
            CHECK_EQ(many->n, one.n);
            CHECK_EQ(many->total_bytes, one.total_bytes);
            for (size_t i = 0; i < one.n && i < many->n; i++) {
                const msc_row_t *x = &one.rows[i], *y = &many->rows[i];
                CHECK(x->file == y->file && x->function == y->function && x->line == y->line &&
                      x->bytes == y->bytes && x->count == y->count);
            }
            msc_rows_release(&one);
            msc_rows_release(many);
        }
    }
    /* Inclusive, from the values read once: the rows the analysis gives
     * (a recursive stack counted once per row), a view not read empty. */
    for (int g = 0; g <= MSC_BY_SOURCE_LINE; g++) {
        msc_rows_t of[MSC_VIEW_ALL], direct[MSC_VIEW_ALL];
        unsigned asked = views | 1u << MSC_VIEW_CPU;
        CHECK_EQ(msc_aggregate_views_of(&vv, gx.sym, asked, (msc_group_t)g, 1, NULL, of), 0);
        CHECK_EQ(msc_aggregate_views(gx.a, gx.sym, views, (msc_group_t)g, 1, NULL, direct), 0);
        CHECK_EQ(of[MSC_VIEW_CPU].n, 0);
        for (int v = 0; v < MSC_VIEW_COUNT; v++) {
            CHECK_EQ(of[v].n, direct[v].n);
            CHECK_EQ(of[v].total_bytes, direct[v].total_bytes);
            for (size_t i = 0; i < of[v].n && i < direct[v].n; i++) {
                const msc_row_t *x = &direct[v].rows[i], *y = &of[v].rows[i];
                CHECK(x->file == y->file && x->function == y->function && x->line == y->line &&
                      x->bytes == y->bytes && x->count == y->count);
            }
            msc_rows_release(&of[v]);
            msc_rows_release(&direct[v]);
        }
        msc_rows_release(&of[MSC_VIEW_CPU]);
    }
    msc_views_values_release(&vv);
    fixture_release(&gx);

    CHECK(msc_same_file("a.py", "a.py"));
    CHECK(msc_same_file("/src/pkg/a.py", "pkg/a.py"));
    CHECK(msc_same_file("a.py", "/src/a.py"));
    CHECK(!msc_same_file("/src/xa.py", "a.py"));
    CHECK(!msc_same_file("a.py", "b.py"));
    CHECK(!msc_same_file("", "a.py"));
}

/* Rows a and b are the same rows in the same order. */
static int rows_differ(const msc_rows_t *a, const msc_rows_t *b)
{
    int wrong = a->n != b->n || a->total_bytes != b->total_bytes;
    for (size_t i = 0; i < a->n && i < b->n; i++) {
        const msc_row_t *x = &a->rows[i], *y = &b->rows[i];
        wrong += !(x->file == y->file && x->function == y->function && x->line == y->line &&
                   x->bytes == y->bytes && x->count == y->count);
    }
    return wrong;
}

/* Inclusive rows from values read once (over the frame nodes the stacks
 * reach) against the analysis's own fold (every frame of every stack, a
 * row stamped once per stack), on a random trie of few functions, so that
 * recursion, a function calling itself through others and lines shared by
 * several calls are common; with the empty stack and a stack past the
 * trie. */
static void test_inclusive_random(void)
{
    enum { NODES = 3000, BLOCKS = 6000 };
    static const uint8_t table[] = {0x80, 0x00, 0xE8, 0x02, 0xE8, 0x02};
    static uint32_t node[NODES + 1];
    msc_symbols_t *sym = msc_symbols_new(0x030B00F0);
    msc_analysis_t *a = msc_analysis_new();
    CHECK(sym && a);
    const char *names[] = {"", "a.py", "b.py", "f", "g", "h", "k"};
    for (uint32_t i = 1; i < 7; i++)
        CHECK_EQ(msc_symbols_add_string(sym, i, (const uint8_t *)names[i], strlen(names[i])), 0);
    for (uint32_t c = 1; c <= 4; c++) /* h and k share b.py's line 30: one row by source line */
        CHECK_EQ(msc_symbols_add_code(sym, c, c < 3 ? 1 : 2, c + 2, c < 3 ? 10 * c : 30, table, 6),
                 0);
    uint64_t seed = 11;
    for (uint32_t i = 1; i <= NODES; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(seed >> 33);
        uint32_t parent = i > 1 && r % 8 ? node[1 + r / 8 % (i - 1)] : 0;
        int64_t id = msc_symbols_add_node(sym, parent, 1 + r / 65536 % 4, r / 256 % 6);
        CHECK(id > 0);
        node[i] = (uint32_t)(id > 0 ? id : 0);
    }
    for (uint32_t b = 0; b < BLOCKS; b++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(seed >> 33);
        uint32_t stack = r % 50 == 0 ? 0 : r % 50 == 1 ? NODES + 7 : node[1 + r / 64 % NODES];
        CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x1000 + 16 * (uint64_t)b, 1 + r / 4096 % 5000, stack, b),
                 0);
        if (r % 3 == 0) /* freed before the next one: in the total only */
            CHECK_EQ(feed(a, MSC_REC_FREE, 0x1000 + 16 * (uint64_t)b, 0, 0, b), 0);
    }
    CHECK_EQ(msc_analysis_finish(a), 0);
    unsigned views = 1u << MSC_VIEW_PEAK | 1u << MSC_VIEW_TOTAL | 1u << MSC_VIEW_EXIT;
    msc_views_values_t vv;
    CHECK_EQ(msc_views_values_read(a, views, &vv), 0);
    int wrong = 0;
    for (int g = 0; g <= MSC_BY_SOURCE_LINE; g++) {
        msc_rows_t of[MSC_VIEW_ALL], direct[MSC_VIEW_ALL];
        CHECK_EQ(msc_aggregate_views_of(&vv, sym, views, (msc_group_t)g, 1, NULL, of), 0);
        CHECK_EQ(msc_aggregate_views(a, sym, views, (msc_group_t)g, 1, NULL, direct), 0);
        for (int v = 0; v < MSC_VIEW_COUNT; v++) {
            CHECK(of[v].n > 2); /* the empty stack's row, the unknown frame's, and more */
            wrong += rows_differ(&of[v], &direct[v]);
            msc_rows_release(&of[v]);
            msc_rows_release(&direct[v]);
        }
    }
    CHECK_EQ(wrong, 0);
    msc_views_values_release(&vv);
    msc_analysis_free(a);
    msc_symbols_free(sym);
}

/* Fails each allocation in turn; every failure comes back as MSC_ENOMEM
 * (or NULL from a constructor) and frees what was built. */
static void test_out_of_memory(void)
{
    int failed = 0, done = 0;
    for (long at = 1; !done && at < 2000; at++) {
        fixture_t fx;
        tc_use_allocator(at, 0);
        int err = fixture_init(&fx);
        msc_rows_t rows = {0}, groups[MSC_BY_FILE + 1][MSC_VIEW_ALL], held[MSC_VIEW_ALL];
        msc_views_values_t vv = {{0}, {0}, 0};
        if (!err) err = msc_aggregate(fx.a, fx.sym, MSC_VIEW_TOTAL, MSC_BY_LINE, 1, NULL, &rows);
        if (!err) err = msc_views_values_read(fx.a, 1u << MSC_VIEW_TOTAL, &vv);
        if (!err) err = msc_aggregate_groups(&vv, fx.sym, 1u << MSC_VIEW_TOTAL, 0x6, groups);
        int folded = !err;
        if (!err)
            err = msc_aggregate_views_of(&vv, fx.sym, 1u << MSC_VIEW_TOTAL, MSC_BY_LINE, 1, NULL,
                                         held);
        msc_views_values_release(&vv);
        long refused = tc_ctl.refused;
        if (!err) CHECK_EQ(rows_differ(&held[MSC_VIEW_TOTAL], &rows), 0);
        if (!err) msc_rows_release(&held[MSC_VIEW_TOTAL]);
        msc_rows_release(&rows);
        for (int g = MSC_BY_FUNCTION; folded && g <= MSC_BY_FILE; g++)
            msc_rows_release(&groups[g][MSC_VIEW_TOTAL]);
        fixture_release(&fx);
        msc_set_allocator(NULL);
        CHECK_EQ(tc_ctl.live, 0);
        if (refused) {
            CHECK_EQ(err, MSC_ENOMEM);
            failed++;
        } else {
            CHECK_EQ(err, 0);
            CHECK_EQ(rows.total_bytes, 1152);
            done = 1;
        }
    }
    CHECK(done);
    CHECK(failed >= 10);

    /* Live map growth failing leaves the map as it was. */
    msc_livemap_t m;
    msc_live_t old;
    CHECK_EQ(msc_livemap_init(&m), 0);
    size_t grow_at = (m.mask + 1) / 2;
    for (uint64_t i = 1; i <= grow_at; i++)
        msc_livemap_put(&m, &(msc_live_t){i * 16, i, 0, 1}, &old);
    tc_use_allocator(1, 0);
    CHECK_EQ(msc_livemap_put(&m, &(msc_live_t){(grow_at + 1) * 16, 1, 0, 1}, &old), MSC_ENOMEM);
    msc_set_allocator(NULL);
    CHECK_EQ(m.count, grow_at);
    CHECK_EQ(msc_livemap_take(&m, 16, &old), 1);
    CHECK_EQ(old.size, 1);
    msc_livemap_release(&m);
}

/* The stacks a table or tree visits: those that ever had an allocation or
 * a CPU sample, freed or not, and a stack with CPU samples alone counts
 * among the analysis's nodes. */
static void test_used_stacks(void)
{
    msc_analysis_t *a = msc_analysis_new();
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x100, 100, 3, 10), 0);
    CHECK_EQ(feed(a, MSC_REC_ALLOC, 0x200, 100, 130, 20), 0);
    CHECK_EQ(feed(a, MSC_REC_FREE, 0x100, 0, 0, 30), 0); /* stack 3 stays used */
    msc_event_t cpu = ev_of(MSC_REC_CPU, 0, 0, 2000);
    cpu.time_ns = 40;
    cpu.value[0] = 5000;
    cpu.value[1] = 7000;
    CHECK_EQ(msc_analysis_event(a, &cpu), 0);
    CHECK_EQ(msc_analysis_finish(a), 0);
    size_t words, set = 0;
    const uint64_t *bits = msc_analysis_used_stacks(a, &words);
    CHECK(words * 64 > 2000);
    for (size_t w = 0; w < words; w++) set += (size_t)__builtin_popcountll(bits[w]);
    CHECK_EQ(set, 3);
    CHECK(bits[0] & 1ull << 3);
    CHECK(bits[2] & 1ull << 2);
    CHECK(bits[2000 / 64] & 1ull << (2000 % 64));
    CHECK_EQ(msc_analysis_nodes(a), 2001);
    msc_stack_value_t *v;
    size_t n;
    CHECK_EQ(msc_stack_values(a, MSC_VIEW_CPU, &v, &n), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(v[0].stack, 2000);
    CHECK_EQ(v[0].bytes, 5000);
    msc_free(v);
    CHECK_EQ(msc_stack_values(a, MSC_VIEW_TOTAL, &v, &n), 0);
    CHECK_EQ(n, 2);
    CHECK_EQ(v[0].stack, 3);
    CHECK_EQ(v[1].stack, 130);
    msc_free(v);
    msc_analysis_free(a);
}

/* A stream's nodes are appended unlooked-up while it is the only one to
 * have defined any; from a second stream's first node on, every node is
 * interned again: the same (parent, code, offset) from either stream, or
 * from msc_symbols_add_node, or after the index was dropped, is one node. */
static void test_stream_nodes(void)
{
    msc_symbols_t *sym = msc_symbols_new(0x030b00f0);
    int64_t a = msc_symbols_add_stream_node(sym, 0, 0, 1, 10);
    int64_t b = msc_symbols_add_stream_node(sym, 0, (uint32_t)a, 2, 20);
    int64_t c = msc_symbols_add_stream_node(sym, 0, (uint32_t)a, 2, 22);
    CHECK(a == 1 && b == 2 && c == 3);
    CHECK_EQ(msc_symbols_add_stream_node(sym, 1, 0, 1, 10), a);
    CHECK_EQ(msc_symbols_add_stream_node(sym, 1, (uint32_t)a, 2, 22), c);
    int64_t d = msc_symbols_add_stream_node(sym, 1, (uint32_t)c, 3, 30);
    CHECK_EQ(d, 4);
    CHECK_EQ(msc_symbols_add_stream_node(sym, 0, (uint32_t)c, 3, 30), d);
    CHECK_EQ(msc_symbols_add_node(sym, (uint32_t)a, 2, 20), b);
    msc_symbols_trim(sym);
    CHECK_EQ(msc_symbols_add_stream_node(sym, 0, (uint32_t)b, 4, 40), 5);
    CHECK_EQ(msc_symbols_add_stream_node(sym, 1, (uint32_t)b, 4, 40), 5);
    CHECK_EQ(msc_symbols_add_stream_node(sym, 0, 9, 1, 1), MSC_ECORRUPT);
    CHECK_EQ(msc_symbols_nodes(sym), 6);
    CHECK_EQ(msc_symbols_depth(sym, 4), 3);
    msc_symbols_free(sym);

    /* Only msc_symbols_add_node from the start: every node looked up. */
    sym = msc_symbols_new(0x030b00f0);
    CHECK_EQ(msc_symbols_add_node(sym, 0, 1, 10), 1);
    CHECK_EQ(msc_symbols_add_stream_node(sym, 0, 0, 1, 10), 1);
    msc_symbols_free(sym);
}

int main(void)
{
    test_livemap_basics();
    test_livemap_checker();
    test_livemap_random();
    test_peak_and_epochs();
    test_realloc_and_reuse();
    test_size_ranges();
    test_domains();
    test_rss_split();
    test_histogram_and_other_events();
    test_clock();
    test_gc_times();
    test_aggregate();
    test_inclusive_random();
    test_used_stacks();
    test_stream_nodes();
    test_out_of_memory();
    return check_done("analysis");
}
