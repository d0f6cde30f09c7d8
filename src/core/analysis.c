/* The analyser's single pass (analysis.h). Peak-by-stack without copying:
 * every stack keeps its current live bytes plus a copy stamped with the peak
 * "epoch"; a new high-water mark only bumps the epoch, and a stack copies its
 * current value into the peak slot the first time it changes after a peak.
 * So each event is O(1), and at the end a stack's value at the peak is its
 * stamped copy if it changed since, else its current value.
 *
 * A sampled capture's blocks are unbiased one by one before anything is
 * added up: a block of S bytes was sampled with probability
 * p = 1 - e^-((S+1)/R), so it stands for 1/p blocks and S/p bytes (the
 * estimator of tcmalloc, jemalloc and Go's heap profiles).
 *
 * Each block event needs one random probe of the live map, which on a big
 * heap misses the cache. Block events therefore wait in a short queue: the
 * probe's cache line is prefetched when an event arrives and the event is
 * applied LOOKAHEAD events later, in order; any other event, and finish,
 * first applies everything queued.
 *
 * The clock observer costs one comparison an event: the time it waits for
 * is UINT64_MAX when there is none. GC start times are kept with a stride
 * that doubles whenever the list fills, so a long capture keeps an even
 * spread of them in bounded memory. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "memscope/format.h"
#include "memscope/livemap.h"
#include "memscope/analysis.h"

/* What an allocation or a free changes, in one cache line: the accumulators
 * are reached at random, a miss per event once they outgrow the cache, and
 * a line a stack keeps it at one (the CPU samples' values are apart). */
typedef struct stack_acc {
    uint64_t live_bytes;
    uint64_t live_count;
    uint64_t peak_bytes;       /* value at the last peak, valid if stamp == epoch */
    uint64_t peak_count;
    uint64_t total_bytes;
    uint64_t total_count;
    uint64_t stamp;
    uint64_t unused;           /* to 64 bytes */
} stack_acc_t;
_Static_assert(sizeof(stack_acc_t) == 64, "an accumulator is one cache line");

/* The CPU samples whose leaf is a stack; made at the first sample. */
typedef struct stack_cpu {
    uint64_t cpu_ns;
    uint64_t wall_ns;
    uint64_t native_ns;        /* CPU time of those that found the thread in native code */
    uint32_t cpu_samples;      /* of them, those with CPU time */
    uint32_t wall_samples;
    uint32_t native_samples;
} stack_cpu_t;

#define LOOKAHEAD 8

typedef struct block_event {
    uint8_t kind;              /* ALLOC, FREE or REALLOC */
    uint32_t stack;
    uint64_t addr, old_addr, size, time_ns, domain;
} block_event_t;

/* A live block's count field holds its weight in the low bits and its
 * domain slot in the top four. */
#define SLOT_SHIFT 28
#define COUNT_MASK ((1u << SLOT_SHIFT) - 1)

/* One domain's bytes. Slots 0..4 are RAW, MEM, OBJ, NATIVE and MMAP; the
 * foreign domains take the next ones as they appear, and once the table is
 * full the last slot holds every further domain as MSC_DOMAIN_OTHER. The
 * peak is stamped with the epoch as a stack's is. */
typedef struct domain_acc {
    uint64_t domain;
    uint64_t live_bytes;
    uint64_t peak_bytes;       /* valid if stamp == epoch */
    uint64_t stamp;
    uint64_t total_bytes;
    uint64_t allocations;
    msc_livemap_t map;         /* a foreign slot's own blocks: tracemalloc keys them by
                                  domain and address */
} domain_acc_t;

struct msc_analysis {
    msc_livemap_t live;        /* blocks of the malloc heap: RAW, MEM, OBJ and NATIVE */
    domain_acc_t dom[MSC_MAX_DOMAIN_STATS];
    uint32_t ndom;             /* slots in use */
    msc__regions_t maps;       /* live mappings (domain MMAP) */
    uint64_t cut_bytes;        /* bytes the last regions call took out */
    block_event_t queue[LOOKAHEAD]; /* block events not applied yet, oldest at head */
    unsigned qhead, qlen;
    stack_acc_t *stacks;       /* by global node id: stacks_mem's */
    stack_cpu_t *cpu;          /* by global node id, nstacks of them from the first CPU
                                  sample on (NULL before): cpu_mem's */
    msc_zarray_t cpu_mem;
    msc_zarray_t stacks_mem, bits_mem, used_mem, changed_mem;
    uint32_t (*sizes)[2];      /* when tracked (msc_analysis_track_sizes), per stack: its
                                  largest size and UINT32_MAX less its smallest that is not
                                  0 (0 before any), saturating at UINT32_MAX; sizes_mem's */
    msc_zarray_t sizes_mem;
    uint32_t nstacks;
    uint32_t top;              /* one past the highest node whose accumulator was used:
                                  the stacks a report reads (nstacks is the room) */
    uint32_t populated;        /* accumulators below this are faulted in (populate_stacks) */
    uint64_t *live_bits;       /* bit v: stack v has live blocks (nstacks / 64 words), so a
                                  snapshot of what is live visits a word per 64 stacks */
    uint64_t *used_bits;       /* bit v: stack v ever had an allocation or a CPU sample,
                                  so the tables visit those, not every prefix of them */
    uint64_t *changed_bits;    /* with a clock observer, bit v: stack v's live values
                                  changed since it was last called; else NULL */
    uint64_t epoch;            /* bumped at every new high-water mark */
    uint64_t live_blocks;      /* blocks live now (weighted when sampled) */
    uint64_t now_ns;
    msc_summary_t sum;
    msc_sample_t *samples;
    size_t nsamples, cap_samples;
    msc_mark_t *marks;
    size_t nmarks, cap_marks;
    msc_child_t *children;
    size_t nchildren, cap_children;
    uint64_t children_total;   /* CHILD records seen, kept or not */
    char **thread_names;       /* by thread index */
    uint32_t nthread_names;
    uint64_t *gc_times;        /* every gc_stride-th GC run's start; MSC_MAX_GC_TIMES slots */
    size_t ngc_times;
    uint64_t gc_runs, gc_stride;
    uint64_t cpu_ahead;        /* CPU time of samples taken after the last RSS sample */
    uint64_t clock_at;         /* the observer's next time; UINT64_MAX for none */
    msc_clock_fn clock;
    void *clock_arg;
};

void msc_analysis_set_sampling(msc_analysis_t *a, uint64_t sample_bytes)
{
    a->sum.sample_bytes = sample_bytes;
}

msc_analysis_t *msc_analysis_new(void)
{
    msc_analysis_t *a = msc_calloc(1, sizeof(*a));
    if (!a) return NULL;
    if (msc_livemap_init(&a->live) < 0) {
        msc_free(a);
        return NULL;
    }
    a->gc_stride = 1;
    a->clock_at = UINT64_MAX;
    for (uint32_t i = 0; i < MSC_DOMAIN_FOREIGN; i++) a->dom[i].domain = i;
    a->ndom = MSC_DOMAIN_FOREIGN;
    return a;
}

void msc_analysis_free(msc_analysis_t *a)
{
    if (!a) return;
    msc_analysis_forget_blocks(a);
    msc__regions_release(&a->maps);
    for (size_t i = 0; i < a->nmarks; i++) msc_free(a->marks[i].label);
    for (size_t i = 0; i < a->nchildren; i++) {
        msc_free(a->children[i].capture);
        msc_free(a->children[i].command);
    }
    msc_free(a->children);
    for (uint32_t i = 0; i < a->nthread_names; i++) msc_free(a->thread_names[i]);
    msc_free(a->thread_names);
    msc_free(a->gc_times);
    msc_free(a->marks);
    msc_free(a->samples);
    msc__zarray_free(&a->stacks_mem);
    msc__zarray_free(&a->cpu_mem);
    msc__zarray_free(&a->bits_mem);
    msc__zarray_free(&a->used_mem);
    msc__zarray_free(&a->changed_mem);
    msc__zarray_free(&a->sizes_mem);
    msc_free(a);
}

/* Room for n stacks' CPU values; 0 or MSC_ENOMEM. */
static int grow_cpu(msc_analysis_t *a, uint32_t n)
{
    if (msc__zarray_grow(&a->cpu_mem, sizeof(*a->cpu) * n) < 0) return MSC_ENOMEM;
    a->cpu = a->cpu_mem.p;
    return 0;
}

/* Makes room for node's accumulator; 0 or MSC_ENOMEM. Rare: out of the
 * per-event path. */
static __attribute__((noinline)) int grow_stacks(msc_analysis_t *a, uint32_t node)
{
    uint32_t n = a->nstacks ? a->nstacks : 1024;
    while (n <= node) n *= 2;
    if (msc__zarray_grow(&a->stacks_mem, sizeof(stack_acc_t) * n) < 0) return MSC_ENOMEM;
    a->stacks = a->stacks_mem.p;
    /* The stacks stay grown if the bits cannot: harmless, n is a bound. */
    if (msc__zarray_grow(&a->bits_mem, sizeof(uint64_t) * (n / 64)) < 0 ||
        msc__zarray_grow(&a->used_mem, sizeof(uint64_t) * (n / 64)) < 0)
        return MSC_ENOMEM;
    a->live_bits = a->bits_mem.p;
    a->used_bits = a->used_mem.p;
    if (a->clock) {
        if (msc__zarray_grow(&a->changed_mem, sizeof(uint64_t) * (n / 64)) < 0) return MSC_ENOMEM;
        a->changed_bits = a->changed_mem.p;
    }
    if (a->sizes) {
        if (msc__zarray_grow(&a->sizes_mem, sizeof(*a->sizes) * n) < 0) return MSC_ENOMEM;
        a->sizes = a->sizes_mem.p;
    }
    if (a->cpu && grow_cpu(a, n) < 0) return MSC_ENOMEM;
    a->nstacks = n;
    return 0;
}

int msc_analysis_track_sizes(msc_analysis_t *a)
{
    size_t n = a->nstacks ? a->nstacks : 1;
    if (a->sizes || msc__zarray_grow(&a->sizes_mem, sizeof(*a->sizes) * n) < 0)
        return a->sizes ? 0 : MSC_ENOMEM;
    a->sizes = a->sizes_mem.p;
    return 0;
}

int msc_analysis_size_range(const msc_analysis_t *a, uint32_t node, uint64_t *min, uint64_t *max)
{
    *min = *max = 0;
    if (!a->sizes) return -1;
    if (node >= a->nstacks || !a->stacks[node].total_count) return 0;
    *max = a->sizes[node][0];
    *min = a->sizes[node][1] ? UINT32_MAX - a->sizes[node][1] : 0;
    return *max < UINT32_MAX ? 1 : -1;
}

/* Widens stack's size range by size (tracked sizes only); the smallest is
 * of the sizes that are not 0. */
static inline void track_size(msc_analysis_t *a, uint32_t stack, uint64_t size)
{
    uint32_t v = size < UINT32_MAX ? (uint32_t)size : UINT32_MAX, *r = a->sizes[stack];
    if (v > r[0]) r[0] = v;
    if (v && UINT32_MAX - v > r[1]) r[1] = UINT32_MAX - v;
}

/* Faults in the accumulators from a->populated to past node: every one is
 * read before it is written (stack_of), which would cost two page faults a
 * page. Node ids are handed out in order and the events name recent ones,
 * so the pages below the highest node used are (nearly) all used; those
 * past it are taken an eighth of the way ahead, from 64 KiB to 4 MiB. */
static __attribute__((noinline)) void populate_stacks(msc_analysis_t *a, uint32_t node)
{
    uint64_t ahead = node / 8, least = (64u << 10) / sizeof(stack_acc_t),
             most = (4u << 20) / sizeof(stack_acc_t);
    uint64_t end = (uint64_t)node + 1 + (ahead < least ? least : ahead > most ? most : ahead);
    if (end > a->nstacks) end = a->nstacks;
    msc__zarray_populate(&a->stacks_mem, (size_t)a->populated * sizeof(stack_acc_t),
                         (size_t)end * sizeof(stack_acc_t));
    a->populated = (uint32_t)end;
}

static inline stack_acc_t *stack_of(msc_analysis_t *a, uint32_t node)
{
    if (node >= a->nstacks && grow_stacks(a, node) < 0) return NULL;
    if (node >= a->top) {
        a->top = node + 1;
        if (node >= a->populated) populate_stacks(a, node);
    }
    stack_acc_t *s = &a->stacks[node];
    if (s->stamp != a->epoch) {
        s->peak_bytes = s->live_bytes;
        s->peak_count = s->live_count;
        s->stamp = a->epoch;
    }
    return s;
}

static int bucket_of(uint64_t size)
{
    int b = size ? 64 - __builtin_clzll(size) : 0;
    return b < MSC_HISTOGRAM_BUCKETS ? b : MSC_HISTOGRAM_BUCKETS - 1;
}

static inline domain_acc_t *domain_of(msc_analysis_t *a, uint32_t slot)
{
    domain_acc_t *d = &a->dom[slot];
    if (d->stamp != a->epoch) {
        d->peak_bytes = d->live_bytes;
        d->stamp = a->epoch;
    }
    return d;
}

/* The slot of a domain, taking a new one for a foreign domain first seen;
 * -1 when out of memory. */
static int domain_slot(msc_analysis_t *a, uint64_t domain)
{
    if (domain < MSC_DOMAIN_FOREIGN) return (int)domain;
    for (uint32_t i = MSC_DOMAIN_FOREIGN; i < a->ndom; i++)
        if (a->dom[i].domain == domain) return (int)i;
    if (a->ndom == MSC_MAX_DOMAIN_STATS) {
        a->dom[MSC_MAX_DOMAIN_STATS - 1].domain = MSC_DOMAIN_OTHER;
        return MSC_MAX_DOMAIN_STATS - 1;
    }
    domain_acc_t *d = &a->dom[a->ndom];
    if (msc_livemap_init(&d->map) < 0) return -1;
    d->domain = domain;
    return (int)a->ndom++;
}

static msc_livemap_t *map_of(msc_analysis_t *a, uint32_t slot)
{
    return slot < MSC_DOMAIN_MMAP ? &a->live : &a->dom[slot].map;
}

/* Takes bytes and count blocks of stack, in domain slot, out of the live
 * totals. */
static void take_live(msc_analysis_t *a, uint32_t stack, uint32_t slot, uint64_t bytes,
                      uint32_t count)
{
    stack_acc_t *s = stack_of(a, stack); /* exists: it was allocated */
    s->live_bytes -= bytes;
    s->live_count -= count;
    if (!s->live_count) a->live_bits[stack / 64] &= ~(1ULL << (stack % 64));
    if (a->changed_bits) a->changed_bits[stack / 64] |= 1ULL << (stack % 64);
    domain_of(a, slot)->live_bytes -= bytes;
    a->sum.current_bytes -= bytes;
    a->live_blocks -= count;
    a->sum.frees += count;
}

static void release(msc_analysis_t *a, const msc_live_t *block)
{
    take_live(a, block->stack, block->count >> SLOT_SHIFT, block->size, block->count & COUNT_MASK);
}

static void cut_mapping(void *arg, const msc__region_t *g, uint64_t bytes, uint32_t count)
{
    msc_analysis_t *a = arg;
    take_live(a, g->stack, g->domain, bytes, count);
    a->cut_bytes += bytes ? bytes : 1;
}

/* 1 over the probability that a block of size bytes is sampled. */
static double sampling_weight(uint64_t size, uint64_t sample_bytes)
{
    return 1.0 / -expm1(-((double)size + 1.0) / (double)sample_bytes);
}

uint64_t msc_sampled_estimate(uint64_t size, uint64_t sample_bytes)
{
    if (!sample_bytes) return size;
    return (uint64_t)llround((double)size * sampling_weight(size, sample_bytes));
}

/* What a recorded block of size bytes stands for. */
static msc_live_t weigh(const msc_analysis_t *a, uint64_t addr, uint64_t size, uint32_t stack)
{
    msc_live_t b = {addr, size, stack, 1};
    if (a->sum.sample_bytes) {
        double blocks = round(sampling_weight(size, a->sum.sample_bytes));
        b.size = msc_sampled_estimate(size, a->sum.sample_bytes);
        b.count = blocks < 1 ? 1 : blocks > COUNT_MASK ? COUNT_MASK : (uint32_t)blocks;
    }
    return b;
}

/* Puts block b (length bytes from its address) in its domain's map, a
 * mapping over whatever it maps over; 0 or MSC_ENOMEM. */
static int place(msc_analysis_t *a, uint32_t slot, const msc_live_t *b, uint64_t length)
{
    if (slot == MSC_DOMAIN_MMAP) {
        uint64_t end = b->addr + (length ? length : 1);
        msc__region_t g = {b->addr, end < b->addr ? UINT64_MAX : end, b->size, b->stack, b->count,
                           slot};
        return msc__regions_add(&a->maps, &g, cut_mapping, a);
    }
    msc_live_t old, tagged = *b;
    tagged.count |= slot << SLOT_SHIFT;
    int rc = msc_livemap_put(map_of(a, slot), &tagged, &old);
    if (rc == 1) release(a, &old); /* its free was never seen */
    return rc < 0 ? rc : 0;
}

/* A new block of size bytes at addr in domain, allocated by stack. `had` is
 * what the block held before: 0 for malloc, the old size for a realloc,
 * which adds to the totals only what it grew the block by. */
static int allocate(msc_analysis_t *a, uint64_t domain, uint64_t addr, uint64_t size,
                    uint32_t stack, uint64_t had)
{
    int slot = domain_slot(a, domain);
    msc_live_t b = weigh(a, addr, size, stack);
    stack_acc_t *s = stack_of(a, stack);
    if (!s || slot < 0) return MSC_ENOMEM;
    domain_of(a, (uint32_t)slot);
    int rc = place(a, (uint32_t)slot, &b, size);
    if (rc < 0) return rc;
    s = &a->stacks[stack];
    if (a->sizes) track_size(a, stack, size);
    s->live_bytes += b.size;
    if (!s->live_count) a->live_bits[stack / 64] |= 1ULL << (stack % 64);
    a->used_bits[stack / 64] |= 1ULL << (stack % 64);
    if (a->changed_bits) a->changed_bits[stack / 64] |= 1ULL << (stack % 64);
    s->live_count += b.count;
    uint64_t grown = b.size > had ? b.size - had : 0;
    s->total_bytes += grown;
    s->total_count += b.count;
    domain_acc_t *d = domain_of(a, (uint32_t)slot);
    d->live_bytes += b.size;
    d->total_bytes += grown;
    d->allocations += b.count;
    a->sum.allocations += b.count;
    a->sum.total_allocated_bytes += grown;
    a->sum.current_bytes += b.size;
    a->live_blocks += b.count;
    int bucket = bucket_of(size);
    a->sum.histogram_count[bucket] += b.count;
    a->sum.histogram_bytes[bucket] += grown;
    if (a->sum.current_bytes > a->sum.peak_bytes) {
        a->sum.peak_bytes = a->sum.current_bytes;
        a->sum.peak_time_ns = a->now_ns;
        a->sum.peak_allocations = a->live_blocks;
        a->epoch++;
    }
    return 0;
}

/* A free; for a mapping, an munmap of length bytes. */
static int free_block(msc_analysis_t *a, uint64_t domain, uint64_t addr, uint64_t length)
{
    msc_live_t block;
    int slot = domain_slot(a, domain);
    if (slot < 0) return MSC_ENOMEM;
    if (slot == MSC_DOMAIN_MMAP) {
        a->cut_bytes = 0;
        int err = msc__regions_cut(&a->maps, addr, length, cut_mapping, a);
        if (!err && !a->cut_bytes) a->sum.unmatched_frees++;
        return err;
    }
    if (msc_livemap_take(map_of(a, (uint32_t)slot), addr, &block)) release(a, &block);
    else a->sum.unmatched_frees++;
    return 0;
}

/* The split of a sample that says how much is anonymous and how much
 * file-backed (analysis.h, msc_rss_split_t). */
static msc_rss_split_t split_rss(const msc_analysis_t *a, uint64_t anon, uint64_t file)
{
    msc_rss_split_t r = {a->now_ns, anon + file, 0, 0, 0, file, 0};
    uint64_t python = 0, native = 0, left = anon;
    for (uint32_t i = 0; i < a->ndom; i++) {
        if (i < MSC_DOMAIN_COUNT) python += a->dom[i].live_bytes;
        else if (i != MSC_DOMAIN_MMAP) native += a->dom[i].live_bytes;
    }
    r.python_bytes = python < left ? python : left;
    left -= r.python_bytes;
    r.native_bytes = native < left ? native : left;
    left -= r.native_bytes;
    uint64_t mapped = a->dom[MSC_DOMAIN_MMAP].live_bytes;
    r.mapped_bytes = mapped < left ? mapped : left;
    r.unexplained_bytes = left - r.mapped_bytes;
    return r;
}

static int add_sample(msc_analysis_t *a, const msc_event_t *ev)
{
    uint64_t rss = ev->value[0];
    if (ev->value[3] && ev->value[1] + ev->value[2] >= a->sum.rss_split.rss_bytes &&
        ev->value[1] + ev->value[2] >= ev->value[1])
        a->sum.rss_split = split_rss(a, ev->value[1], ev->value[2]);
    if (a->nsamples == a->cap_samples) {
        size_t cap = a->cap_samples ? a->cap_samples * 2 : 1024;
        msc_sample_t *s = msc_realloc(a->samples, cap * sizeof(*s));
        if (!s) return MSC_ENOMEM;
        a->samples = s;
        a->cap_samples = cap;
    }
    a->samples[a->nsamples++] = (msc_sample_t){a->now_ns, a->sum.current_bytes, rss, a->cpu_ahead};
    a->cpu_ahead = 0;
    if (rss > a->sum.peak_rss_bytes) a->sum.peak_rss_bytes = rss;
    return 0;
}

static char *copy_text(const msc_event_t *ev)
{
    char *s = msc_malloc(ev->text_len + 1);
    if (!s) return NULL;
    memcpy(s, ev->text, ev->text_len);
    s[ev->text_len] = 0;
    return s;
}

static char *copy_bytes(const char *bytes, uint32_t n)
{
    char *s = msc_malloc((size_t)n + 1);
    if (!s) return NULL;
    memcpy(s, bytes, n);
    s[n] = 0;
    return s;
}

static int add_child(msc_analysis_t *a, const msc_event_t *ev)
{
    if (a->children_total++ >= MSC_MAX_CHILDREN) return 0;
    if (a->nchildren == a->cap_children) {
        size_t cap = a->cap_children ? a->cap_children * 2 : 8;
        msc_child_t *c = msc_realloc(a->children, cap * sizeof(*c));
        if (!c) return MSC_ENOMEM;
        a->children = c;
        a->cap_children = cap;
    }
    msc_child_t c = {a->now_ns, ev->value[0], copy_bytes(ev->path, ev->path_len),
                     copy_bytes(ev->text, ev->text_len), ev->text_len};
    if (!c.capture || !c.command) {
        msc_free(c.capture);
        msc_free(c.command);
        return MSC_ENOMEM;
    }
    a->children[a->nchildren++] = c;
    return 0;
}

static int add_mark(msc_analysis_t *a, const msc_event_t *ev)
{
    if (a->nmarks == a->cap_marks) {
        size_t cap = a->cap_marks ? a->cap_marks * 2 : 16;
        msc_mark_t *m = msc_realloc(a->marks, cap * sizeof(*m));
        if (!m) return MSC_ENOMEM;
        a->marks = m;
        a->cap_marks = cap;
    }
    char *label = copy_text(ev);
    if (!label) return MSC_ENOMEM;
    a->marks[a->nmarks++] = (msc_mark_t){a->now_ns, label};
    return 0;
}

/* Thread indexes are dense, but a capture's may reach 2^28: the name table
 * is indexed directly, so threads past this keep no name rather than let
 * one record size it at gigabytes. */
#define MAX_NAMED_THREADS (1u << 20)

static int name_thread(msc_analysis_t *a, const msc_event_t *ev)
{
    uint32_t t = ev->thread;
    if (t + 1 > a->sum.threads) a->sum.threads = t + 1;
    if (t >= MAX_NAMED_THREADS) return 0;
    if (t >= a->nthread_names) {
        uint32_t n = a->nthread_names ? a->nthread_names : 16;
        while (n <= t) n *= 2;
        char **names = msc_realloc(a->thread_names, n * sizeof(char *));
        if (!names) return MSC_ENOMEM;
        memset(names + a->nthread_names, 0, (n - a->nthread_names) * sizeof(char *));
        a->thread_names = names;
        a->nthread_names = n;
    }
    if (ev->text_len == 0 && a->thread_names[t]) return 0;
    char *name = copy_text(ev);
    if (!name) return MSC_ENOMEM;
    msc_free(a->thread_names[t]);
    a->thread_names[t] = name;
    return 0;
}

/* Keeps the start of every gc_stride-th run; a full list drops every
 * other entry and doubles the stride. */
static int keep_gc_time(msc_analysis_t *a)
{
    if (!a->gc_times) {
        a->gc_times = msc_malloc(MSC_MAX_GC_TIMES * sizeof(uint64_t));
        if (!a->gc_times) return MSC_ENOMEM;
    }
    if (a->gc_runs++ % a->gc_stride) return 0;
    if (a->ngc_times == MSC_MAX_GC_TIMES) {
        for (size_t i = 0; i < a->ngc_times / 2; i++) a->gc_times[i] = a->gc_times[2 * i];
        a->ngc_times /= 2;
        a->gc_stride *= 2;
        if ((a->gc_runs - 1) % a->gc_stride) return 0;
    }
    a->gc_times[a->ngc_times++] = a->now_ns;
    return 0;
}

static int count_gc(msc_analysis_t *a, const msc_event_t *ev)
{
    msc_gc_stats_t *g = &a->sum.gc[ev->value[0] < 3 ? ev->value[0] : 2];
    g->runs++;
    g->pause_ns += ev->value[1];
    if (ev->value[1] > g->max_pause_ns) g->max_pause_ns = ev->value[1];
    g->collected += ev->value[2];
    g->uncollectable += ev->value[3];
    return keep_gc_time(a);
}

/* A realloc frees the old block and allocates the new one, at the new size
 * and charged to the realloc's stack: one free and one allocation, as the
 * allocator sees it. But "allocated" counts only its growth: a string
 * built by `s += piece` is resized in place at every step, and the sum of
 * its intermediate sizes (quadratic in its length) is memory nobody asked
 * for twice. The growth of a block allocated before recording began is
 * unknown: all of it counts. */

/* A realloc: the old block goes and the new one comes; the totals grow by
 * what the block grew (docs/reports.md). A remapped mapping (mremap) is
 * cut out of its region and counts whole. */
static int reallocate(msc_analysis_t *a, const block_event_t *b)
{
    int slot = domain_slot(a, b->domain);
    msc_live_t old = {0, 0, 0, 0};
    if (slot < 0) return MSC_ENOMEM;
    if (b->old_addr && slot == MSC_DOMAIN_MMAP) {
        int err = free_block(a, b->domain, b->old_addr, 0);
        if (err) return err;
    } else if (b->old_addr && msc_livemap_take(map_of(a, (uint32_t)slot), b->old_addr, &old)) {
        release(a, &old);
    } else if (b->old_addr) {
        a->sum.unmatched_frees++;
    }
    return allocate(a, b->domain, b->addr, b->size, b->stack, old.size);
}

static int apply_block(msc_analysis_t *a, const block_event_t *b)
{
    a->now_ns = b->time_ns;
    switch (b->kind) {
    case MSC_REC_ALLOC: return allocate(a, b->domain, b->addr, b->size, b->stack, 0);
    case MSC_REC_FREE: return free_block(a, b->domain, b->addr, b->size);
    default: return reallocate(a, b);
    }
}

/* Applies the oldest queued block event; 0 or MSC_ENOMEM. */
static inline int apply_oldest(msc_analysis_t *a)
{
    int err = apply_block(a, &a->queue[a->qhead]);
    a->qhead = (a->qhead + 1) % LOOKAHEAD;
    a->qlen--;
    return err;
}

/* Applies every queued block event; 0 or MSC_ENOMEM. */
static int drain_blocks(msc_analysis_t *a)
{
    int err = 0;
    while (a->qlen && !err) err = apply_oldest(a);
    return err;
}

void msc_analysis_set_clock(msc_analysis_t *a, uint64_t at_ns, msc_clock_fn fn, void *arg)
{
    a->clock = fn;
    a->clock_arg = arg;
    a->clock_at = fn ? at_ns : UINT64_MAX;
}

/* The event arriving at until_ns passes the observer's time: it sees every
 * event before this one applied. */
static int pass_clock(msc_analysis_t *a, uint64_t until_ns)
{
    int err = drain_blocks(a);
    if (!err) err = a->clock(a->clock_arg, a, a->now_ns, until_ns, &a->clock_at);
    if (!err && a->changed_bits) /* the observer has seen them */
        memset(a->changed_bits, 0, ((size_t)a->top + 63) / 64 * sizeof(uint64_t));
    return err;
}

/* The timeline's share of a CPU sample: the RSS sample whose interval holds
 * the time it was taken (its record comes later, by its age), or the next
 * one to come. */
static void timeline_cpu(msc_analysis_t *a, const msc_event_t *ev)
{
    uint64_t taken = ev->time_ns > ev->value[3] ? ev->time_ns - ev->value[3] : 0;
    size_t lo = 0, hi = a->nsamples;
    if (!hi || taken > a->samples[hi - 1].time_ns) {
        a->cpu_ahead += ev->value[0];
        return;
    }
    while (lo < hi) { /* the first sample at or after taken */
        size_t mid = lo + (hi - lo) / 2;
        if (a->samples[mid].time_ns < taken) lo = mid + 1;
        else hi = mid;
    }
    a->samples[lo].cpu_ns += ev->value[0];
}

/* A CPU sample: its time goes to its stack and to the timeline. */
static int add_cpu(msc_analysis_t *a, const msc_event_t *ev)
{
    timeline_cpu(a, ev);
    if (!stack_of(a, ev->stack) || (!a->cpu && grow_cpu(a, a->nstacks) < 0)) return MSC_ENOMEM;
    stack_cpu_t *s = &a->cpu[ev->stack];
    a->used_bits[ev->stack / 64] |= 1ULL << (ev->stack % 64);
    s->cpu_ns += ev->value[0];
    s->wall_ns += ev->value[1];
    s->cpu_samples += ev->value[0] != 0;
    s->wall_samples++;
    a->sum.cpu_samples++;
    a->sum.cpu_ns += ev->value[0];
    a->sum.wall_ns += ev->value[1];
    if (ev->value[2] && ev->value[0]) {
        a->sum.native_cpu_ns += ev->value[0];
        s->native_ns += ev->value[0];
        s->native_samples++;
    }
    return 0;
}

int msc_analysis_event(void *analysis, const msc_event_t *ev)
{
    msc_analysis_t *a = analysis;
    if (ev->time_ns > a->clock_at) {
        int err = pass_clock(a, ev->time_ns);
        if (err) return err;
    }
    if (ev->thread + 1 > a->sum.threads) a->sum.threads = ev->thread + 1;
    if (ev->kind == MSC_REC_ALLOC || ev->kind == MSC_REC_FREE || ev->kind == MSC_REC_REALLOC) {
        int err = a->qlen == LOOKAHEAD ? apply_oldest(a) : 0;
        msc_livemap_prefetch(&a->live, ev->addr);
        if (ev->kind == MSC_REC_REALLOC) msc_livemap_prefetch(&a->live, ev->old_addr);
        a->queue[(a->qhead + a->qlen++) % LOOKAHEAD] = (block_event_t){
            ev->kind, ev->stack, ev->addr, ev->old_addr, ev->size, ev->time_ns, ev->domain};
        return err;
    }
    int err = drain_blocks(a);
    if (err) return err;
    a->now_ns = ev->time_ns;
    switch (ev->kind) {
    case MSC_REC_SAMPLE: return add_sample(a, ev);
    case MSC_REC_MARK: return add_mark(a, ev);
    case MSC_REC_CHILD: return add_child(a, ev);
    case MSC_REC_THREAD_INFO: return name_thread(a, ev);
    case MSC_REC_GC: return count_gc(a, ev);
    case MSC_REC_LOST: a->sum.lost_events += ev->value[0]; return 0;
    case MSC_REC_CPU: return add_cpu(a, ev);
    default: return 0;
    }
}

int msc_analysis_finish(msc_analysis_t *a)
{
    int err = drain_blocks(a);
    a->sum.leaked_bytes = a->sum.current_bytes;
    a->sum.leaked_allocations = a->live_blocks;
    a->sum.ndomains = 0;
    for (uint32_t i = 0; i < a->ndom; i++) {
        const domain_acc_t *d = &a->dom[i];
        if (!d->allocations) continue;
        a->sum.domains[a->sum.ndomains++] =
            (msc_domain_stats_t){d->domain, d->stamp == a->epoch ? d->peak_bytes : d->live_bytes,
                                 d->live_bytes, d->total_bytes, d->allocations};
    }
    return err;
}

const char *msc_domain_name(uint64_t domain, char *buf, size_t n)
{
    static const char *const names[] = {"raw", "mem", "obj", "native", "mmap"};
    if (domain < MSC_DOMAIN_FOREIGN) snprintf(buf, n, "%s", names[domain]);
    else if (domain == MSC_DOMAIN_OTHER) snprintf(buf, n, "other");
    else if (domain == MSC_DOMAIN_FOREIGN + MSC_NUMPY_DOMAIN) snprintf(buf, n, "numpy");
    else snprintf(buf, n, "domain %llu", (unsigned long long)(domain - MSC_DOMAIN_FOREIGN));
    return buf;
}

const msc_summary_t *msc_analysis_summary(const msc_analysis_t *a)
{
    return &a->sum;
}

uint64_t msc_analysis_time(const msc_analysis_t *a)
{
    return a->now_ns;
}

uint32_t msc_analysis_nodes(const msc_analysis_t *a)
{
    return a->top;
}

/* A stack's CPU values: zeros before the capture's first CPU sample. */
static const stack_cpu_t *cpu_of(const msc_analysis_t *a, uint32_t node)
{
    static const stack_cpu_t none;
    return a->cpu ? &a->cpu[node] : &none;
}

int msc_analysis_node_views(const msc_analysis_t *a, uint32_t node,
                            msc_node_values_t v[MSC_VIEW_ALL])
{
    if (node >= a->nstacks) return 0;
    const stack_acc_t *s = &a->stacks[node];
    int now = s->stamp == a->epoch;
    v[MSC_VIEW_PEAK] = (msc_node_values_t){now ? s->peak_bytes : s->live_bytes,
                                           now ? s->peak_count : s->live_count};
    v[MSC_VIEW_EXIT] = (msc_node_values_t){s->live_bytes, s->live_count};
    v[MSC_VIEW_TOTAL] = (msc_node_values_t){s->total_bytes, s->total_count};
    const stack_cpu_t *c = cpu_of(a, node);
    v[MSC_VIEW_CPU] = (msc_node_values_t){c->cpu_ns, c->cpu_samples};
    v[MSC_VIEW_WALL] = (msc_node_values_t){c->wall_ns, c->wall_samples};
    v[MSC_VIEW_NATIVE_CPU] = (msc_node_values_t){c->native_ns, c->native_samples};
    return (s->total_bytes | s->total_count | c->wall_samples) != 0;
}

msc_node_values_t msc_analysis_node(const msc_analysis_t *a, msc_view_t view, uint32_t node)
{
    msc_node_values_t v = {0, 0};
    if (node >= a->nstacks) return v;
    const stack_acc_t *s = &a->stacks[node];
    const stack_cpu_t *c = cpu_of(a, node);
    switch (view) {
    case MSC_VIEW_PEAK:
        v.bytes = s->stamp == a->epoch ? s->peak_bytes : s->live_bytes;
        v.count = s->stamp == a->epoch ? s->peak_count : s->live_count;
        break;
    case MSC_VIEW_EXIT:
        v.bytes = s->live_bytes;
        v.count = s->live_count;
        break;
    case MSC_VIEW_CPU:
        v.bytes = c->cpu_ns;
        v.count = c->cpu_samples;
        break;
    case MSC_VIEW_WALL:
        v.bytes = c->wall_ns;
        v.count = c->wall_samples;
        break;
    case MSC_VIEW_NATIVE_CPU:
        v.bytes = c->native_ns;
        v.count = c->native_samples;
        break;
    default:
        v.bytes = s->total_bytes;
        v.count = s->total_count;
        break;
    }
    return v;
}

int msc_analysis_block(const msc_analysis_t *a, uint64_t addr, uint64_t *size, uint32_t *stack)
{
    msc_live_t b;
    if (!a->live.slots || !msc_livemap_find(&a->live, addr, &b)) return 0;
    *size = b.size;
    *stack = b.stack;
    return 1;
}

/* The blocks of map m, of domain, or of their own slot's when by_slot. */
static void each_in(const msc_livemap_t *m, int by_slot, uint64_t domain, msc_live_fn fn, void *arg)
{
    for (size_t i = 0; m->slots && i <= m->mask; i++) {
        const msc_live_t *b = &m->slots[i];
        if (b->addr) fn(arg, b->addr, by_slot ? b->count >> SLOT_SHIFT : domain, b->size);
    }
}

void msc_analysis_each_live(const msc_analysis_t *a, msc_live_fn fn, void *arg)
{
    each_in(&a->live, 1, 0, fn, arg); /* the slots of RAW, MEM, OBJ, NATIVE are their domains */
    for (uint32_t i = MSC_DOMAIN_FOREIGN; i < a->ndom; i++)
        each_in(&a->dom[i].map, 0, a->dom[i].domain, fn, arg);
}

void msc_analysis_forget_blocks(msc_analysis_t *a)
{
    msc_livemap_release(&a->live);
    for (uint32_t i = MSC_DOMAIN_FOREIGN; i < a->ndom; i++) msc_livemap_release(&a->dom[i].map);
}

const msc_sample_t *msc_analysis_samples(const msc_analysis_t *a, size_t *n)
{
    *n = a->nsamples;
    return a->samples;
}

const msc_child_t *msc_analysis_children(const msc_analysis_t *a, size_t *n, uint64_t *total)
{
    *n = a->nchildren;
    *total = a->children_total;
    return a->children;
}

const msc_mark_t *msc_analysis_marks(const msc_analysis_t *a, size_t *n)
{
    *n = a->nmarks;
    return a->marks;
}

const uint64_t *msc_analysis_gc_times(const msc_analysis_t *a, size_t *n)
{
    *n = a->ngc_times;
    return a->gc_times;
}

const char *msc_analysis_thread_name(const msc_analysis_t *a, uint32_t thread)
{
    return thread < a->nthread_names && a->thread_names[thread] ? a->thread_names[thread] : "";
}

typedef struct progress_ctx {
    msc_analysis_t *a;
    msc_replay_t *r;
    uint64_t countdown;
    void (*progress)(uint64_t done, uint64_t total, void *arg);
    void *arg;
} progress_ctx_t;

static int event_with_progress(void *arg, const msc_event_t *ev)
{
    progress_ctx_t *p = arg;
    if (--p->countdown == 0) {
        p->countdown = 1u << 20;
        p->progress(msc_replay_offset(p->r), msc_replay_file_size(p->r), p->arg);
    }
    return msc_analysis_event(p->a, ev);
}

int msc_analyse_file(const char *path, msc_analysis_t *a, msc_replay_t **replay,
                     msc_error_info_t *info,
                     void (*progress)(uint64_t done, uint64_t total, void *arg), void *arg)
{
    int err;
    *replay = msc_replay_open(path, 0, &err, info);
    if (!*replay) return err;
    const msc_header_t *h = msc_replay_header(*replay);
    if (h->mode == MSC_MODE_SAMPLED) msc_analysis_set_sampling(a, h->sample_bytes);
    progress_ctx_t p = {a, *replay, 1u << 20, progress, arg};
    err = progress ? msc_replay_run(*replay, event_with_progress, &p, info)
                   : msc_replay_run(*replay, msc_analysis_event, a, info);
    if ((!err || err == MSC_ETRUNCATED) && msc_analysis_finish(a) < 0) err = MSC_ENOMEM;
    if (err && err != MSC_ETRUNCATED) {
        if (err == MSC_ENOMEM) info->what = "out of memory";
        msc_replay_free(*replay);
        *replay = NULL;
    }
    return err;
}

const uint64_t *msc_analysis_live_stacks(const msc_analysis_t *a, size_t *words)
{
    *words = a->nstacks / 64;
    return a->live_bits;
}

const uint64_t *msc_analysis_changed_stacks(const msc_analysis_t *a, size_t *words)
{
    *words = a->changed_bits ? a->nstacks / 64 : 0;
    return a->changed_bits;
}

const uint64_t *msc_analysis_used_stacks(const msc_analysis_t *a, size_t *words)
{
    *words = a->nstacks / 64;
    return a->used_bits;
}
