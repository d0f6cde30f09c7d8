/* The allocator wrappers: every malloc, calloc, realloc and free of the RAW,
 * MEM and OBJ domains is forwarded to the allocator it replaced and recorded
 * with its Python stack (every one in exact mode; one per R bytes on average
 * in sampled mode).
 *
 * Events made while holding the GIL (all MEM/OBJ ones, and RAW ones from the
 * GIL holder) go to the sink's main stream with no lock: the GIL serialises
 * them. RAW events from threads without the GIL go to the side stream under
 * its mutex. msc__busy is set around every wrapped call and all recorder
 * work, so allocations made by the allocator itself (pymalloc falling back to
 * RAW) or by the recorder are never recorded. A free is recorded before the
 * real free and an allocation after the real one, which orders the reuse of
 * an address across threads (docs/format.md, "Ordering"); the traced
 * memory's tables (traced.h) are kept in the same order, for the same
 * reason. */
#include "recorder.h"

#include <sys/syscall.h>
#include <unistd.h>

#include "cpu.h"
#include "sampling.h"
#include "traced.h"

struct msc_recorder msc__rec = {.side_mutex = PTHREAD_MUTEX_INITIALIZER};
#define R msc__rec

__thread int msc__busy __attribute__((tls_model("initial-exec")));
static __thread uint32_t t_thread __attribute__((tls_model("initial-exec")));
static __thread uint64_t t_session __attribute__((tls_model("initial-exec")));
static __thread uint64_t t_left __attribute__((tls_model("initial-exec")));
static __thread uint64_t t_rng __attribute__((tls_model("initial-exec")));

void msc__stop_recording(void)
{
    atomic_store(&R.active, 0);
}

/* A thread's native id and name, in a THREAD_INFO record (msc_enc_thread_info)
 * on the side stream. */
void msc__emit_thread_info(uint32_t index, const char *name, size_t n)
{
    if (!R.sink) return;
    msc_stream_t *st = msc_sink_side_lock(R.sink);
    uint8_t *p = msc_stream_reserve(R.sink, st, MSC_REC_MAX + n);
    if (p) {
        uint64_t native_id = (uint64_t)syscall(SYS_gettid);
        msc_stream_commit(st, msc_enc_thread_info(p, index, native_id, name, n), 1);
    }
    msc_sink_side_unlock(R.sink);
}

#define HOT static inline __attribute__((always_inline))

/* A thread's first event in a capture: its index, THREAD_INFO, and its
 * sampling budget (t_left, below). */
static __attribute__((noinline)) uint32_t thread_start(void)
{
    t_session = R.session;
    t_thread = atomic_fetch_add(&R.threads, 1);
    /* The session is multiplied in, not xored: captures 2 and 3 of a
     * thread would otherwise differ only in the bit the | 1 sets, and
     * sample the same allocations. */
    t_rng = ((uint64_t)syscall(SYS_gettid) * 0x9E3779B97F4A7C15ull ^ (uintptr_t)&t_rng ^
             R.session * 0xD1B54A32D192ED03ull) |
            1;
    t_left = R.sample_bytes ? (uint64_t)msc_sample_gap(&t_rng, R.sample_bytes) - 1 : 0;
    msc__emit_thread_info(t_thread, "", 0);
    return t_thread;
}

HOT uint32_t thread_index(void)
{
    return __builtin_expect(t_session == R.session, 1) ? t_thread : thread_start();
}

uint32_t msc__thread_index(void)
{
    return thread_index();
}

HOT uint8_t *main_cursor(msc_stream_t *st, uint32_t *nrec, size_t need)
{
    uint8_t *p = msc_stream_reserve(R.sink, st, MSC_REC_MAX + need);
    if (!p) return NULL;
    uint32_t thread = thread_index();
    if (thread != st->thread) {
        p = msc_enc_thread(p, thread);
        st->thread = thread;
        (*nrec)++;
    }
    return p;
}

uint8_t *msc__main_cursor(msc_stream_t *st, uint32_t *nrec, size_t need)
{
    return main_cursor(st, nrec, need);
}

/*
 * Sampled mode.
 */

/* A thread's sampling budget, t_left: the bytes it may still allocate
 * before its next sample, each request counted one byte more (tcmalloc's
 * "requested plus one", so empty requests can be sampled too), minus one.
 * An allocation of n bytes is sampled when n >= t_left, then a fresh gap
 * is drawn; one that is not takes n + 1 off. Kept this way, the test is
 * one unsigned comparison, and a budget of 0 (a new thread, exact mode)
 * sends every allocation to the wrappers' slow path, which starts the
 * thread. */
static inline int sample_hit(size_t n)
{
    thread_index();
    if (n < t_left) {
        t_left -= n + 1;
        return 0;
    }
    t_left = (uint64_t)msc_sample_gap(&t_rng, R.sample_bytes) - 1;
    return 1;
}

/* Whether an allocation of n bytes is to be recorded: always in exact mode;
 * in sampled mode when sampled. */
static inline int wants_alloc(size_t n)
{
    return !R.sample_bytes || sample_hit(n);
}

/* Whether to record the allocation of p: always in exact mode; in sampled
 * mode if sampled, remembering p so its free is recorded too. */
static inline int keep_alloc(uint64_t domain, void *p, size_t n)
{
    return wants_alloc(n) &&
           (!R.sample_bytes || msc_sampled_add((uintptr_t)p, n, msc_traced_kind(domain)) == 0);
}

/* Whether to record the free of p; in sampled mode, *taken receives the
 * sampled block's size and kind when it was one (sampling.h). */
static inline int keep_free(void *p, msc_sampled_t *taken)
{
    return !R.sample_bytes ||
           (msc_sampled_maybe((uintptr_t)p) && msc_sampled_take((uintptr_t)p, taken));
}

/*
 * The traced memory in exact mode (traced.h): which table a block is in.
 */

static inline int counting(void)
{
    return atomic_load_explicit(&msc__traced_on, memory_order_relaxed);
}

/* The shared table's additions and removals by a GIL holder, which records
 * without the side mutex. */
static __attribute__((noinline)) void shared_add(int kind, void *p, uint64_t n)
{
    pthread_mutex_lock(&R.side_mutex);
    msc_traced_shared_add_unlocked(kind, (uintptr_t)p, n);
    pthread_mutex_unlock(&R.side_mutex);
}

static __attribute__((noinline)) int64_t shared_take(void *p)
{
    pthread_mutex_lock(&R.side_mutex);
    int64_t sk = msc_traced_shared_take_unlocked((uintptr_t)p);
    pthread_mutex_unlock(&R.side_mutex);
    return sk;
}

/* Counts the block p of n bytes that domain just allocated, on the main
 * stream (GIL held): MEM and OBJ blocks in the GIL table, those of a domain
 * any thread may free in the shared one. */
HOT void count_main_alloc(uint64_t domain, void *p, size_t n)
{
    int kind = msc_traced_kind(domain);
    if (!counting() || kind < 0) return;
    if (kind == MSC_TRACED_MEM || kind == MSC_TRACED_OBJ) msc_traced_gil_add(kind, (uintptr_t)p, n);
    else shared_add(kind, p, n);
}

/* Uncounts the block at p before domain's free gives it back, so that an
 * address handed out again is counted after: its size_kind, or -1 when it
 * was not counted (allocated before recording started). Main stream. */
HOT int64_t count_main_free(uint64_t domain, void *p)
{
    int kind = msc_traced_kind(domain);
    if (!counting() || kind < 0) return -1;
    if (kind == MSC_TRACED_RAW || kind == MSC_TRACED_FOREIGN) return shared_take(p);
    int64_t sk = msc_traced_gil_take((uintptr_t)p);
    if (sk >= 0 || !atomic_load_explicit(&msc__shared_pyblocks, memory_order_relaxed)) return sk;
    return shared_take(p);
}

/* The same on the side stream, side mutex held. A MEM or OBJ free there
 * comes from another interpreter's thread, which may free a block of the
 * GIL table only when its GIL is the main one. */
static void count_side_unlocked(uint64_t domain, void *p, size_t n, int is_free)
{
    int kind = msc_traced_kind(domain);
    if (!counting() || kind < 0) return;
    if (!is_free) {
        msc_traced_shared_add_unlocked(kind, (uintptr_t)p, n);
        return;
    }
    if (msc_traced_shared_take_unlocked((uintptr_t)p) >= 0) return;
    if (kind != MSC_TRACED_MEM && kind != MSC_TRACED_OBJ) return;
    PyThreadState *ts = msc_tstate_attached(1);
    if (ts && msc_interp_shares_main_gil(ts->interp, R.main_interp))
        msc_traced_gil_take((uintptr_t)p);
}

/*
 * Recording.
 */

HOT int64_t main_stack(msc_stream_t *st, PyThreadState *ts)
{
    int64_t stack = msc_stack_capture(&R.main_trie, &R.main_ctx, ts);
    if (R.main_ntrie && stack >= 0 && msc__nframes_note(R.main_ntrie, R.sink, st, 0) < 0) return -1;
    return stack;
}

HOT void record_main_alloc(PyThreadState *ts, uint64_t domain, void *p, size_t n)
{
    msc_stream_t *st = R.main;
    int64_t stack = main_stack(st, ts);
    uint32_t nrec = 1;
    uint8_t *w = stack < 0 ? NULL : main_cursor(st, &nrec, MSC_REC_MAX);
    if (!w) {
        msc__stop_recording();
        return;
    }
    msc_stream_commit(st, msc_enc_alloc(w, &st->delta, domain, (uintptr_t)p, n, (uint32_t)stack),
                      nrec);
    msc__cpu_maybe_drain();
}

HOT void record_main_free(uint64_t domain, void *p, size_t n)
{
    msc_stream_t *st = R.main;
    uint32_t nrec = 1;
    uint8_t *w = main_cursor(st, &nrec, MSC_REC_MAX);
    if (!w) {
        msc__stop_recording();
        return;
    }
    msc_stream_commit(st, msc_enc_free(w, &st->delta, domain, (uintptr_t)p, n), nrec);
    msc__cpu_maybe_drain();
}

/* Without the GIL: the side stream, under side_mutex, which also keeps the
 * sink alive until stop has taken it. ts may be NULL (a thread that never
 * ran Python). */
static __attribute__((noinline)) void record_side(PyThreadState *ts, uint64_t domain, void *p,
                                                  size_t n, int is_free)
{
    pthread_mutex_lock(&R.side_mutex);
    if (!atomic_load(&R.active)) {
        pthread_mutex_unlock(&R.side_mutex);
        return;
    }
    uint32_t thread = thread_index();
    count_side_unlocked(domain, p, n, is_free);
    msc_stream_t *st = msc_sink_side_lock(R.sink);
    msc_capture_ctx_t ctx = {R.sink, st, NULL, R.max_depth, 0, NULL};
    int64_t stack = is_free ? 0 : msc_stack_capture(&R.side_trie, &ctx, ts);
    if (!is_free && R.side_ntrie && stack >= 0 &&
        msc__nframes_note(R.side_ntrie, R.sink, st, 1) < 0)
        stack = -1;
    uint8_t *w = stack < 0 ? NULL : msc_stream_reserve(R.sink, st, 2 * MSC_REC_MAX);
    if (w) {
        uint32_t nrec = 1;
        if (thread != st->thread) {
            w = msc_enc_thread(w, thread);
            st->thread = thread;
            nrec++;
        }
        if (is_free) w = msc_enc_free(w, &st->delta, domain, (uintptr_t)p, n);
        else w = msc_enc_alloc(w, &st->delta, domain, (uintptr_t)p, n, (uint32_t)stack);
        msc_stream_commit(st, w, nrec);
    }
    msc_sink_side_unlock(R.sink);
    pthread_mutex_unlock(&R.side_mutex);
    if (!w) msc__stop_recording();
}

/* Which stream an event of this domain belongs to: the main stream when
 * this thread holds the main interpreter's GIL (MEM and OBJ calls hold their
 * interpreter's GIL by contract; RAW and every domain past OBJ, the native
 * heap and foreign domains, may come from any thread), else the side
 * stream. Returns the thread state whose frames make the stack: the
 * attached one, or the one this thread last ran Python with (NULL for a
 * thread that never did). */
HOT PyThreadState *gil_state(uint64_t domain, int *holds_gil)
{
    PyThreadState *ts = msc_tstate_attached(domain == MSC_DOMAIN_MEM || domain == MSC_DOMAIN_OBJ);
    *holds_gil = ts && ts->interp == R.main_interp;
    return ts ? ts : PyGILState_GetThisThreadState();
}

/* With CPU sampling on, a thread joins it at its first event holding the
 * GIL, when its thread state is surely its own and attached. */
static __thread uint64_t t_cpu_session __attribute__((tls_model("initial-exec")));

HOT void cpu_join(PyThreadState *ts)
{
    if (__builtin_expect(!atomic_load_explicit(&msc__cpu_on, memory_order_relaxed), 1)) return;
    if (t_cpu_session == R.session) return;
    t_cpu_session = R.session;
    msc__cpu_thread_start(thread_index(), ts);
}

HOT void on_alloc(uint64_t domain, void *p, size_t n)
{
    int holds_gil;
    PyThreadState *ts = gil_state(domain, &holds_gil);
    if (holds_gil) {
        cpu_join(ts);
        count_main_alloc(domain, p, n);
        record_main_alloc(ts, domain, p, n);
    } else {
        record_side(ts, domain, p, n, 0);
    }
}

/* n: the bytes an munmap unmaps (domain MMAP), else unused. */
HOT void on_free(uint64_t domain, void *p, size_t n)
{
    int holds_gil;
    PyThreadState *ts = gil_state(domain, &holds_gil);
    if (holds_gil) {
        cpu_join(ts);
        count_main_free(domain, p);
        record_main_free(domain, p, n);
    } else {
        record_side(ts, domain, p, n, 1);
    }
}

/*  One REALLOC record under the GIL. Its position is claimed before the
 *  real call frees old, so an address handed to a GIL-less thread right
 *  after is ordered after this record; a failed call fills the claimed
 *  position with a no-op THREAD record. */
static void *realloc_main(msc_hook_t *h, PyThreadState *ts, void *old, size_t n)
{
    msc_stream_t *st = R.main;
    int64_t stack = main_stack(st, ts);
    uint32_t nrec = 0;
    uint8_t *w = stack < 0 ? NULL : main_cursor(st, &nrec, MSC_REC_MAX);
    if (!w) {
        msc__stop_recording();
        return h->orig.realloc(h->orig.ctx, old, n);
    }
    msc_stream_commit(st, w, nrec + 1);
    int64_t had = count_main_free(h->domain, old);
    void *p = h->orig.realloc(h->orig.ctx, old, n);
    w = st->pos;
    if (p) {
        count_main_alloc(h->domain, p, n);
        w = msc_enc_realloc(w, &st->delta, h->domain, (uintptr_t)old, (uintptr_t)p, n,
                            (uint32_t)stack);
    } else {
        if (had >= 0) count_main_alloc(h->domain, old, (uint64_t)had >> 2);
        w = msc_enc_thread(w, st->thread);
    }
    msc_stream_commit(st, w, 0);
    msc__cpu_maybe_drain();
    return p;
}

/* A realloc of a live block recorded as its free before the call and the
 * new block after it: the side stream's way (its position is read per
 * record) and sampled mode's (either end may be unsampled). Exact mode
 * cannot restore a block whose realloc failed; that takes running out of
 * memory, which stops recording anyway. */
static void *realloc_split(msc_hook_t *h, int domain, void *old, size_t n)
{
    msc_sampled_t taken = {0, -1};
    int was = keep_free(old, &taken);
    if (was) on_free(domain, old, 0);
    void *p = h->orig.realloc(h->orig.ctx, old, n);
    if (p && keep_alloc(domain, p, n)) on_alloc(domain, p, n);
    else if (!p && was && R.sample_bytes &&
             msc_sampled_add((uintptr_t)old, taken.size, taken.kind) == 0)
        on_alloc(domain, old, taken.size);
    return p;
}

/* The recording of an allocation that wants_alloc chose, and of a free that
 * may be of a recorded block: inline in exact mode's wrappers, which record
 * every call (one frame set up a call, not two); sampled mode's fast paths
 * reach them only through their out-of-line slow paths. */
HOT void record_alloc(uint64_t domain, void *p, size_t n)
{
    if (R.sample_bytes && msc_sampled_add((uintptr_t)p, n, msc_traced_kind(domain)) != 0) return;
    on_alloc(domain, p, n);
}

HOT void record_free(uint64_t domain, void *p)
{
    if (R.sample_bytes && !msc_sampled_take((uintptr_t)p, NULL)) return;
    on_free(domain, p, 0);
}

/*
 * The wrappers, in two sets: exact mode's records every call; sampled
 * mode's has a fast path for its common case, an allocation that is not
 * sampled or a free of a block that was not, which keeps nothing live
 * across the real call (so saves no registers) and is a budget comparison
 * (t_left) or one filter byte. Its malloc fast path checks the thread's
 * capture too, so a budget left from an earlier capture is never spent in
 * this one. Everything else (a sample, a new thread or capture, recording
 * stopped) goes to the out-of-line slow path, which is exact mode's
 * wrapper. Either set is right in either mode (a capture may find the
 * other set installed, under a hook it cannot take back); the mode's own
 * is the fast one.
 */

static __thread unsigned t_probe_hits __attribute__((tls_model("initial-exec")));

static __attribute__((noinline)) void *malloc_busy(msc_hook_t *h, size_t n)
{
    if (msc__busy == MSC_BUSY_PROBE) t_probe_hits |= 1u << h->domain;
    return h->orig.malloc(h->orig.ctx, n);
}

HOT void *malloc_recorded(msc_hook_t *h, size_t n)
{
    msc__busy = 1;
    void *p = h->orig.malloc(h->orig.ctx, n);
    if (p && atomic_load_explicit(&R.active, memory_order_relaxed) && wants_alloc(n))
        record_alloc(h->domain, p, n);
    msc__busy = 0;
    return p;
}

static __attribute__((noinline)) void *malloc_slow(msc_hook_t *h, size_t n)
{
    return malloc_recorded(h, n);
}

static void *hook_malloc(void *ctx, size_t n)
{
    msc_hook_t *h = ctx;
    if (__builtin_expect(msc__busy, 0)) return malloc_busy(h, n);
    return malloc_recorded(h, n);
}

/* Whether an allocation of n bytes is surely not sampled: the thread's
 * budget covers it and belongs to this capture. */
HOT int unsampled(size_t n)
{
    return __builtin_expect(n < t_left && t_session == R.session, 1);
}

static void *hook_malloc_sampled(void *ctx, size_t n)
{
    msc_hook_t *h = ctx;
    if (__builtin_expect(msc__busy, 0)) return malloc_busy(h, n);
    if (!unsampled(n)) return malloc_slow(h, n);
    t_left -= n + 1;
    msc__busy = 1;
    void *p = h->orig.malloc(h->orig.ctx, n);
    msc__busy = 0;
    return p;
}

HOT void *calloc_recorded(msc_hook_t *h, size_t nelem, size_t elsize)
{
    msc__busy = 1;
    void *p = h->orig.calloc(h->orig.ctx, nelem, elsize);
    if (p && atomic_load_explicit(&R.active, memory_order_relaxed) && wants_alloc(nelem * elsize))
        record_alloc(h->domain, p, nelem * elsize);
    msc__busy = 0;
    return p;
}

static __attribute__((noinline)) void *calloc_slow(msc_hook_t *h, size_t nelem, size_t elsize)
{
    return calloc_recorded(h, nelem, elsize);
}

static void *hook_calloc(void *ctx, size_t nelem, size_t elsize)
{
    msc_hook_t *h = ctx;
    if (msc__busy) return h->orig.calloc(h->orig.ctx, nelem, elsize);
    return calloc_recorded(h, nelem, elsize);
}

static void *hook_calloc_sampled(void *ctx, size_t nelem, size_t elsize)
{
    msc_hook_t *h = ctx;
    if (__builtin_expect(msc__busy, 0)) return h->orig.calloc(h->orig.ctx, nelem, elsize);
    size_t n;
    if (__builtin_mul_overflow(nelem, elsize, &n) || !unsampled(n))
        return calloc_slow(h, nelem, elsize);
    t_left -= n + 1;
    msc__busy = 1;
    void *p = h->orig.calloc(h->orig.ctx, nelem, elsize);
    msc__busy = 0;
    return p;
}

/* One wrapper for both modes: reallocs are few. */
static void *hook_realloc(void *ctx, void *old, size_t n)
{
    msc_hook_t *h = ctx;
    if (msc__busy) return h->orig.realloc(h->orig.ctx, old, n);
    msc__busy = 1;
    void *p;
    if (!atomic_load_explicit(&R.active, memory_order_relaxed)) {
        p = h->orig.realloc(h->orig.ctx, old, n);
    } else if (!old) {
        p = h->orig.realloc(h->orig.ctx, old, n);
        if (p && keep_alloc(h->domain, p, n)) on_alloc(h->domain, p, n);
    } else {
        int holds_gil;
        PyThreadState *ts = gil_state(h->domain, &holds_gil);
        p = holds_gil && !R.sample_bytes ? realloc_main(h, ts, old, n)
                                         : realloc_split(h, h->domain, old, n);
    }
    msc__busy = 0;
    return p;
}

HOT void free_recorded(msc_hook_t *h, void *p)
{
    if (msc__busy || !p) {
        h->orig.free(h->orig.ctx, p);
        return;
    }
    msc__busy = 1;
    if (atomic_load_explicit(&R.active, memory_order_relaxed) &&
        (!R.sample_bytes || msc_sampled_maybe((uintptr_t)p)))
        record_free(h->domain, p);
    h->orig.free(h->orig.ctx, p);
    msc__busy = 0;
}

static __attribute__((noinline)) void free_slow(msc_hook_t *h, void *p)
{
    free_recorded(h, p);
}

/* In sampled mode, a free that is not recorded calls the real free with
 * msc__busy as it found it: the real frees (the C library's, pymalloc's,
 * which returns arenas with munmap) make no allocation through the
 * wrappers. */
HOT void free_sampled(msc_hook_t *h, void *p)
{
    if (R.sample_bytes && !msc_sampled_maybe((uintptr_t)p)) {
        h->orig.free(h->orig.ctx, p);
        return;
    }
    free_slow(h, p);
}

static __attribute__((noinline)) void free_cpu_slot(msc_hook_t *h, void *p, int sampled)
{
    msc__cpu_thread_state_freed(p);
    if (sampled) free_sampled(h, p);
    else free_recorded(h, p);
}

static void hook_free(void *ctx, void *p)
{
    msc_hook_t *h = ctx;
    if (__builtin_expect(msc__cpu_slot != NULL, 0) && h->domain == MSC_DOMAIN_RAW)
        free_cpu_slot(h, p, 0);
    else free_recorded(h, p);
}

static void hook_free_sampled(void *ctx, void *p)
{
    msc_hook_t *h = ctx;
    if (__builtin_expect(msc__cpu_slot != NULL, 0) && h->domain == MSC_DOMAIN_RAW)
        free_cpu_slot(h, p, 1);
    else free_sampled(h, p);
}

/* Whether an allocation of this domain still passes through our wrapper.
 * A hook installed after ours (tracemalloc started later) wraps it, and
 * gives it back when it stops; but one installed before ours restores the
 * allocators it saved, without ours, when it stops (tracemalloc.stop()
 * after tracemalloc started first). A probe allocation tells which. */
static int hook_reachable(PyMemAllocatorDomain domain, int ours)
{
    t_probe_hits = 0;
    msc__busy = MSC_BUSY_PROBE;
    if (domain == PYMEM_DOMAIN_RAW) PyMem_RawFree(PyMem_RawMalloc(1));
    else if (domain == PYMEM_DOMAIN_MEM) PyMem_Free(PyMem_Malloc(1));
    else PyObject_Free(PyObject_Malloc(1));
    msc__busy = 0;
    return (t_probe_hits >> ours) & 1;
}

/* Wraps each domain's current allocator where ours is not reached any more
 * (or yet), RAW last: once it is wrapped, GIL-less threads can enter the
 * wrappers. Where ours is still reached and on top, the mode's own set
 * replaces the other (under another hook, the set it wrapped stays: both
 * are right). GIL held, not recording. */
void msc__hooks_install(void)
{
    static const PyMemAllocatorDomain order[] = {PYMEM_DOMAIN_OBJ, PYMEM_DOMAIN_MEM,
                                                 PYMEM_DOMAIN_RAW};
    static const int ours[] = {MSC_DOMAIN_OBJ, MSC_DOMAIN_MEM, MSC_DOMAIN_RAW};
    for (int i = 0; i < 3; i++) {
        msc_hook_t *h = &R.hooks[ours[i]];
        PyMemAllocatorEx wrapper = {h, hook_malloc, hook_calloc, hook_realloc, hook_free};
        if (R.sample_bytes)
            wrapper = (PyMemAllocatorEx){h, hook_malloc_sampled, hook_calloc_sampled, hook_realloc,
                                         hook_free_sampled};
        if (R.installed && hook_reachable(order[i], ours[i])) {
            PyMemAllocatorEx top;
            PyMem_GetAllocator(order[i], &top);
            if (top.ctx == h) PyMem_SetAllocator(order[i], &wrapper);
            continue;
        }
        h->domain = ours[i];
        PyMem_GetAllocator(order[i], &h->orig);
        PyMem_SetAllocator(order[i], &wrapper);
    }
    R.installed = 1;
}

/* Events the other hooks saw (foreign.c, native.c), by any thread, with or
 * without the GIL; msc__busy is set and recording active. */
void msc__record_alloc(uint64_t domain, void *p, size_t n)
{
    if (keep_alloc(domain, p, n)) on_alloc(domain, p, n);
}

void msc__record_free(uint64_t domain, void *p, size_t n)
{
    if (domain == MSC_DOMAIN_MMAP || keep_free(p, NULL)) on_free(domain, p, n);
}

void msc__count_alloc(uint64_t domain, void *p, size_t n)
{
    pthread_mutex_lock(&R.side_mutex);
    if (atomic_load(&R.active)) count_side_unlocked(domain, p, n, 0);
    pthread_mutex_unlock(&R.side_mutex);
}

void msc__count_free(uint64_t domain, void *p)
{
    pthread_mutex_lock(&R.side_mutex);
    if (atomic_load(&R.active)) count_side_unlocked(domain, p, 0, 1);
    pthread_mutex_unlock(&R.side_mutex);
}
