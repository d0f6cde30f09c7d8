/* The CPU sampler. A thread of the recorder's own wakes rate times a
 * second and sends each sampled thread a real-time signal (tgkill); the
 * thread's handler reads its own clocks and its own frame chain, which only
 * the thread itself changes, so nothing can move under it. A handler may
 * do no more than that: it takes no lock, allocates nothing and calls no
 * interpreter function; it copies (code object, instruction offset) pairs
 * into the thread's ring and classifies the interrupted instruction as
 * inside the interpreter (libpython and this extension) or native. The GIL
 * holder drains the rings at its next recorded allocation (and at flush and
 * stop), interning the stacks in the main trie.
 *
 * Wall time is measured, not derived: every thread is signalled whether it
 * runs or sleeps, and each sample carries both the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID) and the monotonic time since its previous
 * sample.
 *
 * The frame chain is not always whole when a signal lands: the evaluation
 * loop links a new C-level frame record before filling it in (3.11, 3.12),
 * and a returning frame drops its code object before it is unlinked. So the
 * handler reads frames and code objects only through process_vm_readv on
 * its own process, which fails instead of faulting, and keeps a frame only
 * if its code object looks alive (the code type, a sane reference count;
 * a freed block has an allocator's link there). A stack that stops being
 * plausible is cut there. At the drain, a code object not named yet is
 * named only when no code object has died since the sample and it still
 * looks alive; else its frame is unknown. */
#include "cpu.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "memscope/common.h"
#include "memscope/encode.h"
#include "recorder.h"

#define R msc__rec

#define MSC_CPU_SLOTS 256      /* threads sampled at once */
#define RING 512               /* samples a thread holds until drained (5 s at 100 Hz) */
#define DEPTH 128              /* frames kept per sample, innermost first */

typedef struct cpu_sample {
    uint64_t mono_ns;          /* when taken (CLOCK_MONOTONIC) */
    uint64_t cpu_ns;           /* the thread's CPU time since its previous sample */
    uint64_t wall_ns;          /* and the wall time */
    uint64_t deaths;           /* msc_code_any_deaths when taken */
    uint32_t depth;            /* frames used */
    uint32_t native;           /* interrupted outside the interpreter */
    msc_raw_frame_t frames[DEPTH + 1]; /* + the truncation mark */
} cpu_sample_t;

enum { SLOT_FREE, SLOT_USED, SLOT_RETIRED };

struct msc_cpu_slot {
    _Atomic int state;         /* SLOT_*: USED by its thread, RETIRED once its thread state
                                  is gone (drained, then FREE) */
    PyThreadState *_Atomic ts; /* borrowed from its thread; NULL once freed */
    pid_t tid;
    uint32_t thread;           /* capture thread index */
    uint64_t last_cpu;         /* the handler's: clocks at the previous sample */
    uint64_t last_wall;
    _Atomic uint32_t head;     /* advanced by the handler */
    _Atomic uint32_t tail;     /* advanced by the drain (GIL held) */
    _Atomic uint32_t sent;     /* signals sent: one at a time is outstanding */
    _Atomic uint32_t taken;    /* signals handled */
    _Atomic uint64_t dropped;  /* samples lost to a full ring */
    cpu_sample_t *ring;        /* RING samples, owned; allocated at the slot's first use */
};

__thread msc_cpu_slot_t *msc__cpu_slot __attribute__((tls_model("initial-exec")));
_Atomic int msc__cpu_pending;
_Atomic int msc__cpu_on;

static msc_cpu_slot_t slots[MSC_CPU_SLOTS];
static _Atomic uint32_t slots_used;  /* slots ever claimed in this capture: a bound */

static struct {
    pthread_t thread;
    int running;               /* the sampling thread exists (GIL held to change) */
    _Atomic int stop;
    _Atomic int stolen;        /* the program replaced our handler */
    int sig;                   /* our real-time signal; 0 before the first start */
    uint64_t period_ns;
    pid_t pid;                 /* this process, for process_vm_readv */
} S;

/* Where the interpreter's (and this extension's) machine code lies. */
typedef struct range {
    uintptr_t lo, hi;
} range_t;
static range_t interp_text[8];
static int ninterp_text;

static inline uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The signal handler: async-signal-safe, reads only this thread's state.
 */

static inline uintptr_t interrupted_pc(void *ucv)
{
    ucontext_t *uc = ucv;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

/* Native: outside the interpreter's text. An unknown PC counts as Python. */
static inline int is_native(uintptr_t pc)
{
    if (!pc || !ninterp_text) return 0;
    for (int i = 0; i < ninterp_text; i++)
        if (pc >= interp_text[i].lo && pc < interp_text[i].hi) return 0;
    return 1;
}

/* Copies n bytes at src, which may be anything; -1 where they cannot be
 * read. A system call: safe in a signal handler. */
static int safe_read(void *dst, const void *src, size_t n)
{
    struct iovec local = {dst, n}, remote = {(void *)src, n};
    return process_vm_readv(S.pid, &local, 1, &remote, 1, 0) == (ssize_t)n ? 0 : -1;
}

/* Whether co looks like a live code object: its type word is the code
 * type and its reference count is a count, not the free-list link or the
 * zero a freed block holds there. */
static int code_plausible(const void *co)
{
    PyObject head;
    if (!co || safe_read(&head, co, sizeof(head)) < 0) return 0;
    return Py_TYPE(&head) == &PyCode_Type && head.ob_refcnt > 0 &&
           (uint64_t)head.ob_refcnt < (1ull << 40);
}

static int trust_none(const void *co)
{
    (void)co;
    return 0;
}

/* The thread's frames, innermost first, each copied before it is read. A
 * stack longer than the depth, or one that stops making sense, ends in the
 * truncation mark. */
static uint32_t read_frames(PyThreadState *ts, msc_raw_frame_t *out)
{
    uint32_t n = 0, max = R.max_depth < DEPTH ? R.max_depth : DEPTH;
    msc_pyframe_t *root = R.root, copy;
    for (msc_pyframe_t *f = msc_frame_first(ts); f && f != root; f = msc_frame_previous(&copy)) {
        int readable = safe_read(&copy, f, sizeof(copy)) == 0;
        if (readable && msc_frame_is_shim(&copy)) continue;
        PyCodeObject *co = readable ? msc_frame_code_unchecked(&copy) : NULL;
        if (n == max || !code_plausible(co)) {
            out[n++] = (msc_raw_frame_t){NULL, 0};
            break;
        }
        out[n++] = (msc_raw_frame_t){co, msc_frame_instr(&copy)};
    }
    return n;
}

static void take_sample(msc_cpu_slot_t *s, void *uc)
{
    PyThreadState *ts = atomic_load_explicit(&s->ts, memory_order_acquire);
    if (!ts || !atomic_load_explicit(&msc__cpu_on, memory_order_relaxed)) return;
    uint64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID), wall = clock_ns(CLOCK_MONOTONIC);
    uint64_t dcpu = cpu - s->last_cpu, dwall = wall - s->last_wall;
    s->last_cpu = cpu;
    s->last_wall = wall;
    uint32_t head = atomic_load_explicit(&s->head, memory_order_relaxed);
    if (head - atomic_load_explicit(&s->tail, memory_order_acquire) >= RING) {
        atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
        return;
    }
    cpu_sample_t *e = &s->ring[head % RING];
    e->mono_ns = wall;
    e->cpu_ns = dcpu;
    e->wall_ns = dwall;
    e->deaths = atomic_load_explicit(&msc_code_any_deaths, memory_order_relaxed);
    /* Inside the recorder (an allocation of the interpreter's, with what
     * the C library does for it) counts as the interpreter's time. */
    e->native = (uint32_t)(!msc__busy && is_native(interrupted_pc(uc)));
    e->depth = read_frames(ts, e->frames);
    atomic_store_explicit(&s->head, head + 1, memory_order_release);
    atomic_store_explicit(&msc__cpu_pending, 1, memory_order_relaxed);
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    int saved = errno;
    msc_cpu_slot_t *s = msc__cpu_slot;
    if (s) {
        take_sample(s, uc);
        atomic_fetch_add_explicit(&s->taken, 1, memory_order_release);
    }
    errno = saved;
}

/*
 * The sampling thread.
 */

static int handler_is_ours(int sig)
{
    struct sigaction cur;
    return sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
           cur.sa_sigaction == on_signal;
}

static void warn(const char *msg)
{
    if (write(2, msg, strlen(msg)) < 0) return;
}

/* Signals each sampled thread whose previous signal it has handled: a
 * thread that blocks the signal gets no second one. A thread may also have
 * handled more than it was sent (a signal meant for a thread that left
 * without its thread state being freed, whose id the kernel gave it). */
static void signal_threads(pid_t pid)
{
    uint32_t n = atomic_load(&slots_used);
    for (uint32_t i = 0; i < n; i++) {
        msc_cpu_slot_t *s = &slots[i];
        if (atomic_load(&s->state) != SLOT_USED || !atomic_load(&s->ts)) continue;
        uint32_t taken = atomic_load_explicit(&s->taken, memory_order_acquire);
        if ((int32_t)(atomic_load(&s->sent) - taken) > 0) continue; /* still on its way */
        atomic_store(&s->sent, taken + 1);
        if (syscall(SYS_tgkill, pid, s->tid, S.sig) < 0) atomic_store(&s->sent, taken);
    }
}

static void *sampler_main(void *arg)
{
    (void)arg;
    msc__busy = 1; /* nothing this thread allocates is the program's */
    pid_t pid = getpid();
    uint64_t next = clock_ns(CLOCK_MONOTONIC);
    while (!atomic_load(&S.stop)) {
        uint64_t now = clock_ns(CLOCK_MONOTONIC);
        next = next + S.period_ns > now ? next + S.period_ns : now + S.period_ns;
        struct timespec at = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) continue;
        if (atomic_load(&S.stop)) break;
        if (!handler_is_ours(S.sig)) {
            atomic_store(&S.stolen, 1);
            warn("memscope: warning: the program installed its own handler for the signal "
                 "CPU sampling uses; CPU sampling stopped, the program continues\n");
            break;
        }
        signal_threads(pid);
    }
    return NULL;
}

/*
 * Setup.
 */

typedef struct text_search {
    uintptr_t addr;            /* a function of the object wanted */
} text_search_t;

/* dl_iterate_phdr: adds the executable segments of the object holding
 * addr. */
static int find_text(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    const text_search_t *t = arg;
    int holds = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && t->addr >= lo && t->addr < lo + ph->p_memsz) holds = 1;
    }
    if (!holds) return 0;
    for (int i = 0; i < info->dlpi_phnum && ninterp_text < 8; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        interp_text[ninterp_text++] = (range_t){lo, lo + ph->p_memsz};
    }
    return 1;
}

/* The interpreter is libpython (or the python executable it is linked
 * into) and this extension, whose hooks run inside its allocations. */
static void find_interpreter_text(void)
{
    if (ninterp_text) return;
    text_search_t t = {(uintptr_t)(void *)&PyEval_EvalCode};
    dl_iterate_phdr(find_text, &t);
    t.addr = (uintptr_t)(void *)&msc__cpu_start;
    dl_iterate_phdr(find_text, &t);
}

/* The signal: the one installed before if still ours, else the highest
 * real-time signal nobody handles (the program's own, and the C library's
 * lowest ones, are left alone). */
static int pick_signal(void)
{
    if (S.sig && handler_is_ours(S.sig)) return S.sig;
    for (int sig = SIGRTMAX; sig >= SIGRTMIN; sig--) {
        struct sigaction cur;
        if (sigaction(sig, NULL, &cur) < 0) continue;
        if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL) {
            struct sigaction sa;
            memset(&sa, 0, sizeof(sa));
            sa.sa_sigaction = on_signal;
            sa.sa_flags = SA_SIGINFO | SA_RESTART;
            sigemptyset(&sa.sa_mask);
            if (sigaction(sig, &sa, NULL) == 0) return sig;
        }
    }
    return -1;
}

int msc__cpu_start(unsigned int rate_hz)
{
    if (rate_hz < 1 || rate_hz > 10000) {
        PyErr_SetString(PyExc_ValueError, "cpu_rate must be between 1 and 10000 samples a second");
        return -1;
    }
    find_interpreter_text();
    S.pid = getpid();
    int probe = 1, copy = 0;
    if (safe_read(&copy, &probe, sizeof(probe)) < 0 || copy != 1) {
        PyErr_Format(PyExc_RuntimeError,
                     "memscope: CPU sampling needs process_vm_readv, which this system "
                     "refuses (%s)",
                     strerror(errno));
        return -1;
    }
    int sig = pick_signal();
    if (sig < 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "memscope: CPU sampling needs a real-time signal, and the program "
                        "handles every one");
        return -1;
    }
    S.sig = sig;
    S.period_ns = 1000000000ull / rate_hz;
    atomic_store(&S.stop, 0);
    atomic_store(&S.stolen, 0);
    atomic_store(&slots_used, 0);
    atomic_store(&msc__cpu_on, 1);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread takes no signal of the program's */
    int rc = pthread_create(&S.thread, NULL, sampler_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        atomic_store(&msc__cpu_on, 0);
        PyErr_SetString(PyExc_RuntimeError, "memscope: cannot start the CPU sampling thread");
        return -1;
    }
    S.running = 1;
    return 0;
}

void msc__cpu_thread_start(uint32_t index, PyThreadState *ts)
{
    msc__cpu_slot = NULL;
    if (!atomic_load(&msc__cpu_on) || !ts || ts->interp != R.main_interp) return;
    for (uint32_t i = 0; i < MSC_CPU_SLOTS; i++) {
        msc_cpu_slot_t *s = &slots[i];
        int expect = SLOT_FREE;
        if (!atomic_compare_exchange_strong(&s->state, &expect, SLOT_USED)) continue;
        if (!s->ring && !(s->ring = msc_calloc(RING, sizeof(cpu_sample_t)))) {
            atomic_store(&s->state, SLOT_FREE);
            return;
        }
        s->tid = (pid_t)syscall(SYS_gettid);
        s->thread = index;
        s->last_cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        s->last_wall = clock_ns(CLOCK_MONOTONIC);
        atomic_store(&s->tail, atomic_load(&s->head)); /* a stopped capture's leftovers */
        atomic_store(&s->sent, atomic_load(&s->taken));
        atomic_store(&s->dropped, 0);
        uint32_t used = atomic_load(&slots_used);
        while (used < i + 1 && !atomic_compare_exchange_weak(&slots_used, &used, i + 1)) continue;
        msc__cpu_slot = s;
        atomic_store_explicit(&s->ts, ts, memory_order_release);
        return;
    }
}

void msc__cpu_thread_state_freed(void *block)
{
    msc_cpu_slot_t *s = msc__cpu_slot;
    if (!s || (void *)atomic_load_explicit(&s->ts, memory_order_relaxed) != block) return;
    atomic_store(&s->ts, NULL);
    msc__cpu_slot = NULL;
    atomic_store(&s->state, SLOT_RETIRED);
    atomic_store(&msc__cpu_pending, 1);
}

/*
 * Draining (GIL held).
 */

/* One CPU record; -1 when the sink refuses (recording then stops). */
static int emit(const msc_cpu_slot_t *s, const cpu_sample_t *e)
{
    msc_stream_t *st = R.main;
    int unsure = e->deaths != atomic_load_explicit(&msc_code_any_deaths, memory_order_relaxed);
    msc_capture_ctx_t ctx = {R.sink,      st, R.root,
                             R.max_depth, 1,  unsure ? trust_none : code_plausible};
    msc_raw_frame_t outer[DEPTH + 2]; /* the frames outermost first, as resolved */
    for (uint32_t i = 0; i < e->depth; i++) outer[i] = e->frames[e->depth - 1 - i];
    outer[e->depth] = MSC_RAW_END;
    int64_t stack = msc_stack_resolve(&R.main_trie, &ctx, outer, e->depth);
    uint8_t *p = stack < 0 ? NULL : msc_stream_reserve(R.sink, st, MSC_REC_MAX + 16);
    if (!p) {
        msc__stop_recording();
        return -1;
    }
    uint64_t mono = clock_ns(CLOCK_MONOTONIC);
    uint64_t age = mono > e->mono_ns ? mono - e->mono_ns : 0;
    p = msc_enc_cpu(p, &st->delta, msc_sink_now(R.sink), age, s->thread, (uint32_t)stack, e->cpu_ns,
                    e->wall_ns, (int)e->native);
    msc_stream_commit(st, p, 1);
    return 0;
}

static void drain_slot(msc_cpu_slot_t *s)
{
    int state = atomic_load(&s->state);
    if (state == SLOT_FREE) return;
    uint32_t head = atomic_load_explicit(&s->head, memory_order_acquire);
    uint32_t tail = atomic_load_explicit(&s->tail, memory_order_relaxed);
    for (; tail != head; tail++) {
        if (!atomic_load(&R.active) || emit(s, &s->ring[tail % RING]) < 0) break;
        atomic_store_explicit(&s->tail, tail + 1, memory_order_release);
    }
    if (state == SLOT_RETIRED && tail == head) atomic_store(&s->state, SLOT_FREE);
}

void msc__cpu_drain(void)
{
    atomic_store_explicit(&msc__cpu_pending, 0, memory_order_relaxed);
    if (!R.sink || !atomic_load(&R.active)) return;
    uint32_t n = atomic_load(&slots_used);
    for (uint32_t i = 0; i < n; i++) drain_slot(&slots[i]);
}

void msc__cpu_stop(void)
{
    if (!S.running) return;
    atomic_store(&S.stop, 1);
    pthread_join(S.thread, NULL);
    S.running = 0;
    atomic_store(&msc__cpu_on, 0);
    msc__cpu_drain();
    uint64_t dropped = 0;
    uint32_t n = atomic_load(&slots_used);
    for (uint32_t i = 0; i < n; i++) {
        dropped += atomic_load(&slots[i].dropped);
        atomic_store(&slots[i].ts, NULL);
        atomic_store(&slots[i].state, SLOT_FREE);
    }
    atomic_store(&slots_used, 0);
    if (dropped) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "memscope: warning: %llu CPU samples were dropped: no thread allocated for "
                 "several seconds\n",
                 (unsigned long long)dropped);
        warn(msg);
    }
}

void msc__cpu_atfork_child(void)
{
    S.running = 0;
    atomic_store(&msc__cpu_on, 0);
    atomic_store(&msc__cpu_pending, 0);
    for (uint32_t i = 0; i < MSC_CPU_SLOTS; i++) {
        atomic_store(&slots[i].ts, NULL);
        atomic_store(&slots[i].state, SLOT_FREE);
    }
    atomic_store(&slots_used, 0);
    msc__cpu_slot = NULL;
}
