/* The allocation recorder: wraps CPython's RAW, MEM and OBJ allocators and
 * records every malloc, calloc, realloc and free with its Python stack into
 * the capture sink. Wrappers always forward to the allocators they replaced.
 *
 * Events made while holding the GIL (all MEM/OBJ ones, and RAW ones from the
 * GIL holder) go to the sink's main stream with no lock: the GIL serialises
 * them. RAW events from threads without the GIL go to the side stream under
 * its mutex. One thread-local flag, t_busy, is set around every wrapped call
 * and all recorder work, so allocations made by the allocator itself (pymalloc
 * falling back to RAW) or by the recorder are never recorded. */
#include "frames.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "memscope/common.h"
#include "memscope/sink.h"
#include "pyparts.h"
#include "stacks.h"

typedef struct hook {
    PyMemAllocatorEx orig;     /* the allocator we wrap; never changes once saved */
    int domain;                /* enum msc_domain */
} hook_t;

static struct recorder {
    hook_t hooks[MSC_DOMAIN_COUNT];
    int installed;             /* wrappers stay installed for the process's life */
    _Atomic int active;        /* recording; cleared by stop, fork and sink failure */
    msc_sink_t *sink;
    msc_trie_t main_trie;      /* GIL held */
    msc_trie_t side_trie;      /* side_mutex held */
    pthread_mutex_t side_mutex;/* protects side_trie and the sink's lifetime for
                                  GIL-less recording */
    msc_pyframe_t *root;       /* the launcher's frame: stacks stop below it */
    uint32_t max_depth;
    uint64_t session;          /* counts captures; tags thread indexes and code ids */
    _Atomic uint32_t threads;  /* thread indexes handed out in this session */
    Py_ssize_t extra_index;
    uint64_t gc_start_ns;
    PyObject *path;            /* str: the capture being written */
} R = {.side_mutex = PTHREAD_MUTEX_INITIALIZER, .extra_index = -1};

static __thread int t_busy __attribute__((tls_model("initial-exec")));
static __thread uint32_t t_thread __attribute__((tls_model("initial-exec")));
static __thread uint64_t t_session __attribute__((tls_model("initial-exec")));

/* The recorder's own memory comes from the allocator RAW had before us. */
static void *raw_malloc(void *ctx, size_t n)
{
    hook_t *h = ctx;
    return h->orig.malloc(h->orig.ctx, n);
}

static void *raw_realloc(void *ctx, void *p, size_t n)
{
    hook_t *h = ctx;
    return h->orig.realloc(h->orig.ctx, p, n);
}

static void raw_free(void *ctx, void *p)
{
    hook_t *h = ctx;
    h->orig.free(h->orig.ctx, p);
}

/*
 * Threads.
 */

/*  THREAD_INFO | 1000 | thread index | native id | name |   (side stream) */
static void emit_thread_info(uint32_t index, const char *name, size_t n);

static inline uint32_t thread_index(void)
{
    if (__builtin_expect(t_session == R.session, 1)) return t_thread;
    t_session = R.session;
    t_thread = atomic_fetch_add(&R.threads, 1);
    emit_thread_info(t_thread, "", 0);
    return t_thread;
}

/*
 * Recording.
 */

static void stop_recording(void)
{
    atomic_store(&R.active, 0);
}

/* Room for a record of up to need bytes on the main stream, preceded by a
 * THREAD record when another thread wrote last. */
static inline uint8_t *main_cursor(msc_stream_t *st, uint32_t *nrec, size_t need)
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

static int64_t main_stack(msc_stream_t *st, PyThreadState *ts)
{
    msc_capture_ctx_t ctx = {R.sink, st, R.root, R.max_depth, 1};
    return msc_stack_capture(&R.main_trie, &ctx, ts);
}

/* GIL held. realloc has old != NULL; alloc has old == NULL. */
static void record_main(PyThreadState *ts, int domain, void *old, void *p, size_t n)
{
    msc_stream_t *st = msc_sink_main(R.sink);
    int64_t stack = main_stack(st, ts);
    uint32_t nrec = 1;
    uint8_t *w = stack < 0 ? NULL : main_cursor(st, &nrec, MSC_REC_MAX);
    if (!w) {
        stop_recording();
        return;
    }
    if (old)
        w = msc_enc_realloc(w, &st->delta, domain, (uintptr_t)old, (uintptr_t)p, n,
                            (uint32_t)stack);
    else
        w = msc_enc_alloc(w, &st->delta, domain, (uintptr_t)p, n, (uint32_t)stack);
    msc_stream_commit(st, w, nrec);
}

static void record_main_free(int domain, void *p)
{
    msc_stream_t *st = msc_sink_main(R.sink);
    uint32_t nrec = 1;
    uint8_t *w = main_cursor(st, &nrec, MSC_REC_MAX);
    if (!w) {
        stop_recording();
        return;
    }
    msc_stream_commit(st, msc_enc_free(w, &st->delta, domain, (uintptr_t)p), nrec);
}

/* Without the GIL: the side stream, under side_mutex, which also keeps the
 * sink alive until stop has taken it. ts may be NULL (a thread that never
 * ran Python). old/p/n as in record_main; n == SIZE_MAX marks a free. */
static void record_side(PyThreadState *ts, int domain, void *old, void *p, size_t n)
{
    pthread_mutex_lock(&R.side_mutex);
    if (!atomic_load(&R.active)) {
        pthread_mutex_unlock(&R.side_mutex);
        return;
    }
    uint32_t thread = thread_index();
    msc_stream_t *st = msc_sink_side_lock(R.sink);
    msc_capture_ctx_t ctx = {R.sink, st, NULL, R.max_depth, 0};
    int64_t stack = n == SIZE_MAX ? 0 : msc_stack_capture(&R.side_trie, &ctx, ts);
    uint8_t *w = stack < 0 ? NULL : msc_stream_reserve(R.sink, st, 2 * MSC_REC_MAX);
    if (w) {
        uint32_t nrec = 1;
        if (thread != st->thread) {
            w = msc_enc_thread(w, thread);
            st->thread = thread;
            nrec++;
        }
        if (n == SIZE_MAX) w = msc_enc_free(w, &st->delta, domain, (uintptr_t)p);
        else if (old)
            w = msc_enc_realloc(w, &st->delta, domain, (uintptr_t)old, (uintptr_t)p, n,
                                (uint32_t)stack);
        else w = msc_enc_alloc(w, &st->delta, domain, (uintptr_t)p, n, (uint32_t)stack);
        msc_stream_commit(st, w, nrec);
    }
    msc_sink_side_unlock(R.sink);
    pthread_mutex_unlock(&R.side_mutex);
    if (!w) stop_recording();
}

/* Which stream an event of this domain belongs to: MEM and OBJ are called
 * with the GIL held by contract; RAW is the main stream only when this
 * thread is the GIL holder. Returns the thread state for the stack. */
static inline PyThreadState *gil_state(int domain, int *holds_gil)
{
    PyThreadState *holder = msc_tstate_gil();
    if (domain != MSC_DOMAIN_RAW) {
        *holds_gil = 1;
        return holder;
    }
    PyThreadState *mine = PyGILState_GetThisThreadState();
    *holds_gil = mine && mine == holder;
    return mine;
}

static void on_alloc(int domain, void *old, void *p, size_t n)
{
    int holds_gil;
    PyThreadState *ts = gil_state(domain, &holds_gil);
    if (holds_gil) record_main(ts, domain, old, p, n);
    else record_side(ts, domain, old, p, n);
}

static void on_free(int domain, void *p)
{
    int holds_gil;
    PyThreadState *ts = gil_state(domain, &holds_gil);
    if (holds_gil) record_main_free(domain, p);
    else record_side(ts, domain, NULL, p, SIZE_MAX);
}

/*
 * The wrappers. Frees are recorded before the real free, so the address
 * cannot be handed out again before its FREE record is ordered.
 */

static void *hook_malloc(void *ctx, size_t n)
{
    hook_t *h = ctx;
    if (t_busy) return h->orig.malloc(h->orig.ctx, n);
    t_busy = 1;
    void *p = h->orig.malloc(h->orig.ctx, n);
    if (p && atomic_load_explicit(&R.active, memory_order_relaxed)) on_alloc(h->domain, NULL, p, n);
    t_busy = 0;
    return p;
}

static void *hook_calloc(void *ctx, size_t nelem, size_t elsize)
{
    hook_t *h = ctx;
    if (t_busy) return h->orig.calloc(h->orig.ctx, nelem, elsize);
    t_busy = 1;
    void *p = h->orig.calloc(h->orig.ctx, nelem, elsize);
    if (p && atomic_load_explicit(&R.active, memory_order_relaxed))
        on_alloc(h->domain, NULL, p, nelem * elsize);
    t_busy = 0;
    return p;
}

static void *hook_realloc(void *ctx, void *old, size_t n)
{
    hook_t *h = ctx;
    if (t_busy) return h->orig.realloc(h->orig.ctx, old, n);
    t_busy = 1;
    void *p = h->orig.realloc(h->orig.ctx, old, n);
    if (p && atomic_load_explicit(&R.active, memory_order_relaxed)) on_alloc(h->domain, old, p, n);
    t_busy = 0;
    return p;
}

static void hook_free(void *ctx, void *p)
{
    hook_t *h = ctx;
    if (t_busy || !p) {
        h->orig.free(h->orig.ctx, p);
        return;
    }
    t_busy = 1;
    if (atomic_load_explicit(&R.active, memory_order_relaxed)) on_free(h->domain, p);
    h->orig.free(h->orig.ctx, p);
    t_busy = 0;
}

/* RAW last: once it is wrapped, GIL-less threads can enter the wrappers. */
static void install_hooks(void)
{
    static const PyMemAllocatorDomain order[] = {PYMEM_DOMAIN_OBJ, PYMEM_DOMAIN_MEM,
                                                 PYMEM_DOMAIN_RAW};
    static const int ours[] = {MSC_DOMAIN_OBJ, MSC_DOMAIN_MEM, MSC_DOMAIN_RAW};
    for (int i = 0; i < 3; i++) {
        hook_t *h = &R.hooks[ours[i]];
        PyMemAllocatorEx wrapper = {h, hook_malloc, hook_calloc, hook_realloc, hook_free};
        PyMem_SetAllocator(order[i], &wrapper);
    }
    R.installed = 1;
}

/*
 * Records the Python layer asks for (GIL held).
 */

static void emit_thread_info(uint32_t index, const char *name, size_t n)
{
    if (!R.sink) return;
    msc_stream_t *st = msc_sink_side_lock(R.sink);
    uint8_t *p = msc_stream_reserve(R.sink, st, MSC_REC_MAX + n);
    if (p) {
        *p++ = MSC_REC_THREAD_INFO;
        p = msc_put_varint(p, index);
        p = msc_put_varint(p, (uint64_t)syscall(SYS_gettid));
        msc_stream_commit(st, msc_put_bytes(p, name, n), 1);
    }
    msc_sink_side_unlock(R.sink);
}

static int main_record_ok(void)
{
    return atomic_load(&R.active);
}

/*  MARK | 1011 | time delta | label |   (main stream) */
static PyObject *py_mark(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_ssize_t n;
    const char *label = PyUnicode_AsUTF8AndSize(arg, &n);
    if (!label) return NULL;
    if ((size_t)n > MSC_MAX_STRING) n = MSC_MAX_STRING;
    if (main_record_ok()) {
        t_busy = 1;
        msc_stream_t *st = msc_sink_main(R.sink);
        uint32_t nrec = 1;
        uint8_t *p = main_cursor(st, &nrec, MSC_REC_MAX + (size_t)n);
        if (p) {
            *p++ = MSC_REC_MARK;
            p = msc_put_time(p, &st->delta, msc_sink_now(R.sink));
            msc_stream_commit(st, msc_put_bytes(p, label, (size_t)n), nrec);
        }
        t_busy = 0;
    }
    Py_RETURN_NONE;
}

/*  GC | 1010 | time delta | generation | duration ns | collected | uncollectable | */
static PyObject *py_gc_callback(PyObject *self, PyObject *args)
{
    (void)self;
    const char *phase;
    PyObject *info;
    if (!PyArg_ParseTuple(args, "sO!", &phase, &PyDict_Type, &info)) return NULL;
    if (!main_record_ok()) Py_RETURN_NONE;
    uint64_t now = msc_sink_now(R.sink);
    if (phase[0] == 's' && phase[1] == 't' && phase[2] == 'a') {
        R.gc_start_ns = now;
        Py_RETURN_NONE;
    }
    uint64_t v[3] = {0, 0, 0};
    const char *keys[3] = {"generation", "collected", "uncollectable"};
    for (int i = 0; i < 3; i++) {
        PyObject *o = PyDict_GetItemString(info, keys[i]);
        if (o && PyLong_Check(o)) v[i] = PyLong_AsUnsignedLongLongMask(o);
    }
    t_busy = 1;
    msc_stream_t *st = msc_sink_main(R.sink);
    uint32_t nrec = 1;
    uint8_t *p = main_cursor(st, &nrec, MSC_REC_MAX);
    if (p) {
        *p++ = MSC_REC_GC;
        p = msc_put_time(p, &st->delta, now);
        p = msc_put_varint(p, v[0]);
        p = msc_put_varint(p, now >= R.gc_start_ns ? now - R.gc_start_ns : 0);
        p = msc_put_varint(p, v[1]);
        msc_stream_commit(st, msc_put_varint(p, v[2]), nrec);
    }
    t_busy = 0;
    Py_RETURN_NONE;
}

static PyObject *py_thread_started(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_ssize_t n;
    const char *name = PyUnicode_AsUTF8AndSize(arg, &n);
    if (!name) return NULL;
    if (main_record_ok()) {
        t_busy = 1;
        uint32_t index = thread_index();
        emit_thread_info(index, name, (size_t)n > 256 ? 256 : (size_t)n);
        t_busy = 0;
    }
    Py_RETURN_NONE;
}

/*
 * Lifecycle.
 */

static void on_sink_error(int err, void *arg)
{
    (void)arg;
    char msg[512];
    const char *why = err == MSC_EIO ? strerror(errno) : msc_strerror(err);
    int n = snprintf(msg, sizeof(msg),
                     "memscope: warning: recording stopped, the capture cannot be written (%s); "
                     "the program continues\n",
                     why);
    stop_recording();
    if (n > 0 && write(2, msg, (size_t)n) < 0) return;
}

static void atfork_prepare(void)
{
    t_busy = 1;
    if (!R.sink) return;
    pthread_mutex_lock(&R.side_mutex);
    msc_sink_atfork_prepare(R.sink);
}

static void atfork_parent(void)
{
    if (R.sink) {
        msc_sink_atfork_parent(R.sink);
        pthread_mutex_unlock(&R.side_mutex);
    }
    t_busy = 0;
}

/* The child writes nothing into the parent's capture. Its copy of the
 * recorder's memory is left alone: the writer thread that owned part of it
 * does not exist here. memscope's Python layer may start a new capture. */
static void atfork_child(void)
{
    if (R.sink) {
        msc_sink_atfork_child(R.sink);
        pthread_mutex_unlock(&R.side_mutex);
        atomic_store(&R.active, 0);
        R.sink = NULL;
        memset(&R.main_trie, 0, sizeof(R.main_trie));
        memset(&R.side_trie, 0, sizeof(R.side_trie));
        Py_CLEAR(R.path);
    }
    t_busy = 0;
}

static int first_start(void)
{
    static const PyMemAllocatorDomain domains[] = {PYMEM_DOMAIN_RAW, PYMEM_DOMAIN_MEM,
                                                   PYMEM_DOMAIN_OBJ};
    for (int d = 0; d < MSC_DOMAIN_COUNT; d++) {
        R.hooks[d].domain = d;
        PyMem_GetAllocator(domains[d], &R.hooks[d].orig);
    }
    msc_allocator_t raw = {raw_malloc, raw_realloc, raw_free, &R.hooks[MSC_DOMAIN_RAW]};
    msc_set_allocator(&raw);
    R.extra_index = _PyEval_RequestCodeExtraIndex(msc_code_died);
    if (R.extra_index < 0) {
        PyErr_SetString(PyExc_RuntimeError, "memscope: no free code-object extra slot");
        return -1;
    }
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    return 0;
}

static int fill_header(msc_header_t *h, PyObject *argv, uint32_t max_depth)
{
    memset(h, 0, sizeof(*h));
    snprintf(h->python_version, sizeof(h->python_version), "%d.%d.%d", PY_MAJOR_VERSION,
             PY_MINOR_VERSION, (int)((Py_Version >> 8) & 0xFF));
    h->python_hexversion = (uint32_t)Py_Version;
    h->pid = (uint64_t)getpid();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h->start_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    h->mode = MSC_MODE_EXACT;
    h->max_depth = max_depth;
    Py_ssize_t argc = PyList_GET_SIZE(argv);
    h->argv = PyMem_Calloc((size_t)argc + 1, sizeof(char *));
    if (!h->argv) return -1;
    for (Py_ssize_t i = 0; i < argc; i++) {
        const char *a = PyUnicode_AsUTF8(PyList_GET_ITEM(argv, i));
        if (!a) return -1;
        h->argv[h->argc++] = (char *)a;
    }
    return 0;
}

static int set_start_error(int err, int sys_errno, PyObject *path)
{
    if (err == MSC_EEXIST) {
        PyErr_Format(PyExc_FileExistsError, "capture '%U' already exists (use force to replace it)",
                     path);
    } else if (err == MSC_EIO && sys_errno) {
        errno = sys_errno;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
    } else {
        PyErr_Format(PyExc_RuntimeError, "cannot start recording to '%U': %s", path,
                     msc_strerror(err));
    }
    return -1;
}

static int open_capture(PyObject *path, PyObject *argv, uint32_t max_depth, int force)
{
    msc_header_t h;
    int err, sys_errno = 0;
    if (fill_header(&h, argv, max_depth) < 0) {
        PyMem_Free(h.argv);
        return -1;
    }
    msc_sink_options_t opt = {.path = PyUnicode_AsUTF8(path), .force = force,
                              .on_error = on_sink_error};
    if (!opt.path) {
        PyMem_Free(h.argv);
        return -1;
    }
    R.sink = msc_sink_open(&opt, &h, &err, &sys_errno);
    PyMem_Free(h.argv);
    return R.sink ? 0 : set_start_error(err, sys_errno, path);
}

/* The frame `levels` calls up from the caller of start (1 = the caller):
 * recorded stacks stop below it, hiding the frames that set recording up. */
static msc_pyframe_t *root_frame(unsigned int levels)
{
    msc_pyframe_t *f = levels ? msc_frame_first(PyThreadState_Get()) : NULL;
    while (f && (msc_frame_incomplete(f) || --levels > 0)) f = msc_frame_previous(f);
    return f;
}

static PyObject *py_start(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"path", "argv", "max_depth", "force", "root", NULL};
    PyObject *path, *argv;
    unsigned int max_depth = 128, root = 0;
    int force = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "UO!|IpI", kwlist, &path, &PyList_Type, &argv,
                                     &max_depth, &force, &root))
        return NULL;
    if (R.sink) {
        PyErr_Format(PyExc_RuntimeError, "memscope is already recording to '%U'", R.path);
        return NULL;
    }
    if (max_depth < 1 || max_depth > 4096) {
        PyErr_SetString(PyExc_ValueError, "max_depth must be between 1 and 4096");
        return NULL;
    }
    if (R.extra_index < 0 && first_start() < 0) return NULL;
    if (open_capture(path, argv, max_depth, force) < 0) return NULL;

    R.session++;
    atomic_store(&R.threads, 0);
    R.max_depth = max_depth;
    R.root = root_frame(root);
    if (msc_trie_init(&R.main_trie, max_depth) < 0 || msc_trie_init(&R.side_trie, max_depth) < 0 ||
        msc_names_init(R.extra_index, R.session) < 0) {
        msc_sink_close(R.sink, 0);
        R.sink = NULL;
        msc_trie_release(&R.main_trie);
        msc_trie_release(&R.side_trie);
        return PyErr_NoMemory();
    }
    Py_INCREF(path);
    R.path = path;
    t_busy = 1;
    thread_index(); /* the starting thread is thread 0 */
    t_busy = 0;
    if (!R.installed) install_hooks();
    atomic_store(&R.active, 1);
    Py_RETURN_NONE;
}

static PyObject *py_stop(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (!R.sink) {
        PyErr_SetString(PyExc_RuntimeError, "memscope is not recording");
        return NULL;
    }
    pthread_mutex_lock(&R.side_mutex);
    atomic_store(&R.active, 0);
    msc_sink_t *sink = R.sink;
    R.sink = NULL;
    pthread_mutex_unlock(&R.side_mutex);

    int err;
    Py_BEGIN_ALLOW_THREADS
    err = msc_sink_close(sink, msc_sink_now(sink));
    Py_END_ALLOW_THREADS
    msc_trie_release(&R.main_trie);
    msc_trie_release(&R.side_trie);
    msc_names_release();
    R.root = NULL;
    PyObject *path = R.path;
    R.path = NULL;
    if (err) {
        PyErr_Format(PyExc_OSError, "capture '%U' is incomplete: %s", path, msc_strerror(err));
        Py_DECREF(path);
        return NULL;
    }
    return path;
}

static PyObject *py_flush(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (R.sink) msc_sink_flush(R.sink);
    Py_RETURN_NONE;
}

static PyObject *py_recording(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (!R.sink) Py_RETURN_NONE;
    Py_INCREF(R.path);
    return R.path;
}

static PyMethodDef methods[] = {
    {"start", (PyCFunction)(void (*)(void))py_start, METH_VARARGS | METH_KEYWORDS,
     "start(path, argv, max_depth=128, force=False, root=0): start recording to path;\n"
     "stacks stop below the frame root calls up from the caller (0: keep all)"},
    {"stop", py_stop, METH_NOARGS, "stop(): finish the capture; returns its path"},
    {"flush", py_flush, METH_NOARGS, "flush(): write everything recorded so far"},
    {"recording", py_recording, METH_NOARGS, "recording(): the capture path, or None"},
    {"mark", py_mark, METH_O, "mark(label): record a labelled point in time"},
    {"gc_callback", py_gc_callback, METH_VARARGS, "for gc.callbacks: records GC runs"},
    {"thread_started", py_thread_started, METH_O, "thread_started(name): names this thread"},
    {NULL, NULL, 0, NULL},
};

int msc_py_recorder_init(PyObject *module)
{
    return PyModule_AddFunctions(module, methods);
}
