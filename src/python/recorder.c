/* The recorder's life and its Python functions: start (create the capture,
 * install the allocator wrappers once), stop, flush, fork handling, and the
 * records the Python layer asks for (marks, GC runs, thread names). The
 * wrappers themselves are in hooks.c. */
#include "recorder.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "memscope/common.h"
#include "memscope/outfile.h"
#include "cpu.h"
#include "native.h"
#include "pyparts.h"
#include "sampling.h"
#include "traced.h"

#define R msc__rec

/*
 * Records the Python layer asks for (GIL held).
 */

static int main_record_ok(void)
{
    return atomic_load(&R.active);
}

/* memscope.mark(label): a MARK record (msc_enc_mark) in the main stream. */
static PyObject *py_mark(PyObject *self, PyObject *arg)
{
    (void)self;
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "mark() takes a str");
        return NULL;
    }
    if (main_record_ok()) {
        /* The label as UTF-8, a lone surrogate as '?': a label is never a
         * reason for the program to fail. */
        msc__busy = 1;
        char *label = msc_malloc(MSC_MAX_STRING);
        size_t n = label ? msc_str_utf8(arg, label, MSC_MAX_STRING) : 0;
        msc_stream_t *st = R.main;
        uint32_t nrec = 1;
        uint8_t *p = label ? msc__main_cursor(st, &nrec, MSC_REC_MAX + n) : NULL;
        if (p) {
            uint64_t now = msc_sink_now(R.sink);
            msc_stream_commit(st, msc_enc_mark(p, &st->delta, now, label, n), nrec);
        }
        msc_free(label);
        msc__busy = 0;
    }
    Py_RETURN_NONE;
}

/* gc.callbacks: a collection's start is remembered, its end written as a GC
 * record (msc_enc_gc) with the pause between them. */
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
    msc__busy = 1;
    msc_stream_t *st = R.main;
    uint32_t nrec = 1;
    uint8_t *p = msc__main_cursor(st, &nrec, MSC_REC_MAX);
    if (p) {
        uint64_t duration = now >= R.gc_start_ns ? now - R.gc_start_ns : 0;
        msc_stream_commit(st, msc_enc_gc(p, &st->delta, now, v[0], duration, v[1], v[2]), nrec);
    }
    msc__busy = 0;
    Py_RETURN_NONE;
}

/* The command as CHILD carries it: each argument followed by a NUL byte;
 * arguments are cut at the first NUL they hold (exec would cut them there
 * too), the whole at MSC_MAX_STRING bytes. Returns the length or -1. */
static Py_ssize_t child_command(PyObject *argv, char *out)
{
    size_t n = 0;
    Py_ssize_t count = PyList_GET_SIZE(argv);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *bytes = PyUnicode_EncodeFSDefault(PyList_GET_ITEM(argv, i));
        if (!bytes) return -1;
        const char *a = PyBytes_AS_STRING(bytes);
        size_t len = strlen(a);
        if (n + len + 1 > MSC_MAX_STRING) {
            Py_DECREF(bytes);
            break;
        }
        memcpy(out + n, a, len + 1);
        n += len + 1;
        Py_DECREF(bytes);
    }
    return (Py_ssize_t)n;
}

/*  CHILD | 1111 | time delta | pid | capture length | capture | command length | command |
 *  (main stream) */
static PyObject *py_child_started(PyObject *self, PyObject *args)
{
    (void)self;
    unsigned int pid;
    PyObject *argv;
    const char *capture;
    Py_ssize_t capture_len;
    if (!PyArg_ParseTuple(args, "IO!s#", &pid, &PyList_Type, &argv, &capture, &capture_len))
        return NULL;
    if (!main_record_ok() || pid == 0 || (size_t)capture_len > MSC_MAX_PATH ||
        memchr(capture, 0, (size_t)capture_len))
        Py_RETURN_NONE;
    /* The recorder's own work: nothing allocated here is the program's. */
    msc__busy = 1;
    char *command = msc_malloc(MSC_MAX_STRING);
    int no_memory = command == NULL;
    Py_ssize_t n = command ? child_command(argv, command) : -1;
    if (n >= 0) {
        msc_stream_t *st = R.main;
        uint32_t nrec = 1;
        uint8_t *p = msc__main_cursor(st, &nrec, MSC_REC_MAX + (size_t)capture_len + (size_t)n);
        if (p)
            msc_stream_commit(st,
                              msc_enc_child(p, &st->delta, msc_sink_now(R.sink), pid, capture,
                                            (size_t)capture_len, command, (size_t)n),
                              nrec);
    }
    msc_free(command);
    msc__busy = 0;
    if (no_memory) return PyErr_NoMemory();
    if (n < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *py_thread_started(PyObject *self, PyObject *arg)
{
    (void)self;
    if (main_record_ok()) {
        /* Whatever the name holds (a lone surrogate is '?'), the thread runs. */
        char name[256];
        size_t n = msc_str_utf8(arg, name, sizeof(name));
        msc__busy = 1;
        uint32_t index = msc__thread_index();
        msc__emit_thread_info(index, name, n);
        msc__busy = 0;
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
    msc__stop_recording();
    if (n > 0 && write(2, msg, (size_t)n) < 0) return;
}

/* The writer thread is the recorder's own: nothing it allocates is the
 * program's (native.c). */
static void on_writer_start(void *arg)
{
    (void)arg;
    msc__busy = 1;
}

static void atfork_prepare(void)
{
    msc__busy = 1;
    if (!R.sink) return;
    pthread_mutex_lock(&R.side_mutex);
    msc_names_lock();
    msc_sink_atfork_prepare(R.sink);
}

static void atfork_parent(void)
{
    if (R.sink) {
        msc_sink_atfork_parent(R.sink);
        msc_names_unlock();
        pthread_mutex_unlock(&R.side_mutex);
    }
    msc__busy = 0;
}

/* The child writes nothing into the parent's capture. Its copy of the
 * recorder's memory is left alone: the writer thread that owned part of it
 * does not exist here. memscope's Python layer may start a new capture. */
static void atfork_child(void)
{
    if (R.sink) {
        msc_sink_atfork_child(R.sink);
        msc_names_unlock();
        pthread_mutex_unlock(&R.side_mutex);
        atomic_store(&R.active, 0);
        atomic_store(&msc__native_on, 0);
        msc__cpu_atfork_child();
        R.sink = NULL;
        memset(&R.main_trie, 0, sizeof(R.main_trie));
        memset(&R.side_trie, 0, sizeof(R.side_trie));
        R.main_ntrie = R.side_ntrie = NULL;
        Py_CLEAR(R.path);
    }
    msc__busy = 0;
}

static int first_start(void)
{
    /* The recorder's own memory comes from libc's allocator, core's default:
     * never through the Python allocators, whose current hooks (tracemalloc's,
     * when it started first) may take locks or the GIL. */
    if (msc_names_watch() < 0) return -1;
    R.main_interp = PyInterpreterState_Main();
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    return 0;
}

typedef struct start_options {
    unsigned int max_depth;
    unsigned long long sample_bytes;  /* 0: exact */
    int force;
    unsigned int root;                /* levels up: see root_frame */
    int native;                       /* record the malloc family and mmap too */
    unsigned long long parent_pid;    /* a recorded child's parent, else 0 */
    const char *parent_capture;       /* its parent's capture, else NULL; borrowed */
    unsigned int cpu_rate;            /* CPU samples a second; 0: no CPU sampling */
    int native_frames;                /* record each allocation's C stack too */
} start_options_t;

/* argv and paths as the system takes them: a str from bytes that are not
 * UTF-8 holds lone surrogates (Python's surrogateescape), which UTF-8 cannot
 * encode and the file-system encoding gives back as the bytes they were. */
static PyObject *fs_bytes(PyObject *str)
{
    PyObject *b = PyUnicode_EncodeFSDefault(str);
    if (b && strlen(PyBytes_AS_STRING(b)) != (size_t)PyBytes_GET_SIZE(b)) {
        Py_DECREF(b);
        PyErr_SetString(PyExc_ValueError, "embedded null byte");
        return NULL;
    }
    return b;
}

/* Fills the header; its argv points into held, a list of bytes objects the
 * caller releases after the header is written. */
static int fill_header(msc_header_t *h, PyObject *argv, const start_options_t *o, PyObject *held)
{
    memset(h, 0, sizeof(*h));
    snprintf(h->python_version, sizeof(h->python_version), "%d.%d.%d", PY_MAJOR_VERSION,
             PY_MINOR_VERSION, (int)((Py_Version >> 8) & 0xFF));
    h->python_hexversion = (uint32_t)Py_Version;
    h->pid = (uint64_t)getpid();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h->start_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    h->mode = o->sample_bytes ? MSC_MODE_SAMPLED : MSC_MODE_EXACT;
    h->sample_bytes = o->sample_bytes;
    h->max_depth = o->max_depth;
    h->native = o->native;
    h->parent_pid = o->parent_pid;
    h->parent_capture = (char *)o->parent_capture;
    Py_ssize_t argc = PyList_GET_SIZE(argv);
    h->argv = PyMem_Calloc((size_t)argc + 1, sizeof(char *));
    if (!h->argv) return -1;
    for (Py_ssize_t i = 0; i < argc; i++) {
        PyObject *a = fs_bytes(PyList_GET_ITEM(argv, i));
        int err = !a || PyList_Append(held, a) < 0;
        Py_XDECREF(a);
        if (err) return -1;
        h->argv[h->argc++] = PyBytes_AS_STRING(a); /* held keeps it */
    }
    return 0;
}

static int set_start_error(int err, int sys_errno, PyObject *path)
{
    if (err == MSC_EEXIST) {
        PyErr_Format(PyExc_FileExistsError, "capture '%U' already exists (use force to replace it)",
                     path);
    } else if (err == MSC_ENOTREG) {
        PyErr_Format(PyExc_FileExistsError, "cannot replace '%U': not a regular file", path);
    } else if (err == MSC_EIO && sys_errno) {
        errno = sys_errno;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
    } else {
        PyErr_Format(PyExc_RuntimeError, "cannot start recording to '%U': %s", path,
                     msc_strerror(err));
    }
    return -1;
}

static int open_capture(PyObject *path, PyObject *argv, const start_options_t *o)
{
    msc_header_t h;
    int err, sys_errno = 0;
    PyObject *held = PyList_New(0), *fs_path = NULL;
    if (!held || fill_header(&h, argv, o, held) < 0 || !(fs_path = fs_bytes(path))) {
        if (held) PyMem_Free(h.argv);
        Py_XDECREF(held);
        return -1;
    }
    msc_sink_options_t opt = {.path = PyBytes_AS_STRING(fs_path),
                              .force = o->force,
                              .on_error = on_sink_error,
                              .on_writer_start = on_writer_start};
    R.sink = msc_sink_open(&opt, &h, &err, &sys_errno);
    PyMem_Free(h.argv);
    Py_DECREF(held);
    Py_DECREF(fs_path);
    return R.sink ? 0 : set_start_error(err, sys_errno, path);
}

/* Takes down a capture whose start failed after its file was created: the
 * writer stops, and the half-made file is removed, so a failed start
 * leaves nothing behind (the sink removes its file itself when opening
 * fails). */
static void discard_capture(PyObject *path)
{
    msc_sink_close(R.sink, 0);
    R.sink = NULL;
    PyObject *name = fs_bytes(path);
    if (name) unlink(PyBytes_AS_STRING(name));
    else PyErr_Clear();
    Py_XDECREF(name);
}

static void release_native_frames(void)
{
    msc__ntrie_free(R.main_ntrie);
    msc__ntrie_free(R.side_ntrie);
    R.main_ntrie = R.side_ntrie = NULL;
}

/* The native tries, and the objects loaded now written as MODULE records
 * (busy: native recording must not see the recorder's own allocations). */
static int start_native_frames(void)
{
    msc__busy = 1;
    R.main_ntrie = msc__ntrie_new();
    R.side_ntrie = msc__ntrie_new();
    int rc = R.main_ntrie && R.side_ntrie ? msc__nframes_start(R.sink) : -1;
    msc__busy = 0;
    return rc;
}

/* The tables of one capture, set up in order and taken down in reverse
 * when a step fails: 0, or -1 with MemoryError set and none of them left. */
static int init_tables(const start_options_t *o)
{
    if (msc_trie_init(&R.main_trie, o->max_depth) < 0) goto fail_main_trie;
    if (msc_trie_init(&R.side_trie, o->max_depth) < 0) goto fail_side_trie;
    if (msc_names_init() < 0) goto fail_names;
    if (o->sample_bytes && msc_sampled_init(o->sample_bytes) < 0) goto fail_sampled;
    if (msc_traced_start(!o->sample_bytes, o->native) < 0) goto fail_traced;
    if (o->native_frames && start_native_frames() < 0) goto fail_native_frames;
    return 0;

fail_native_frames:
    release_native_frames();
    pthread_mutex_lock(&R.side_mutex);
    msc_traced_stop_unlocked();
    pthread_mutex_unlock(&R.side_mutex);
fail_traced:
    if (o->sample_bytes) msc_sampled_release();
fail_sampled:
    msc_names_release();
fail_names:
    msc_trie_release(&R.side_trie);
fail_side_trie:
    msc_trie_release(&R.main_trie);
fail_main_trie:
    PyErr_NoMemory();
    return -1;
}

static void release_tables(void)
{
    release_native_frames();
    msc_sampled_release();
    msc_names_release();
    msc_trie_release(&R.side_trie);
    msc_trie_release(&R.main_trie);
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
    static char *kwlist[] = {"path",           "argv",     "max_depth",     "force",
                             "root",           "sample",   "native",        "parent_pid",
                             "parent_capture", "cpu_rate", "native_frames", NULL};
    PyObject *path, *argv;
    start_options_t o = {128, 0, 0, 0, 0, 0, NULL, 0, 0};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "UO!|IpIKpKzIp", kwlist, &path, &PyList_Type, &argv,
                                     &o.max_depth, &o.force, &o.root, &o.sample_bytes, &o.native,
                                     &o.parent_pid, &o.parent_capture, &o.cpu_rate,
                                     &o.native_frames))
        return NULL;
    if (o.parent_capture && (!*o.parent_capture || strlen(o.parent_capture) > MSC_MAX_PATH)) {
        PyErr_SetString(PyExc_ValueError, "parent_capture must be a path");
        return NULL;
    }
    if (R.sink) {
        PyErr_Format(PyExc_RuntimeError, "memscope is already recording to '%U'", R.path);
        return NULL;
    }
    if (o.max_depth < 1 || o.max_depth > 4096) {
        PyErr_SetString(PyExc_ValueError, "max_depth must be between 1 and 4096");
        return NULL;
    }
    if (o.cpu_rate > 10000) {
        PyErr_SetString(PyExc_ValueError, "cpu_rate must be between 1 and 10000 samples a second");
        return NULL;
    }
    if (!R.main_interp && first_start() < 0) return NULL;
    if (o.native && msc__native_install() < 0) {
        PyErr_SetString(PyExc_RuntimeError,
                        "memscope: native recording is not available on this platform");
        return NULL;
    }
    if (o.native_frames && msc__nframes_install() < 0) return NULL;
    msc__foreign_install(); /* where it cannot patch, foreign domains go unseen */
    if (open_capture(path, argv, &o) < 0) return NULL;

    R.session++;
    atomic_store(&R.threads, 0);
    R.max_depth = o.max_depth;
    R.sample_bytes = o.sample_bytes;
    R.root = root_frame(o.root);
    if (init_tables(&o) < 0) {
        R.root = NULL;
        discard_capture(path);
        return NULL;
    }
    if (o.cpu_rate && msc__cpu_start(o.cpu_rate) < 0) {
        pthread_mutex_lock(&R.side_mutex);
        msc_traced_stop_unlocked();
        pthread_mutex_unlock(&R.side_mutex);
        release_tables();
        R.root = NULL;
        discard_capture(path);
        return NULL;
    }
    Py_INCREF(path);
    R.path = path;
    R.main = msc_sink_main(R.sink);
    R.main_ctx = (msc_capture_ctx_t){R.sink, R.main, R.root, R.max_depth, 1, NULL};
    msc__busy = 1;
    msc__thread_index(); /* the starting thread is thread 0 */
    msc__busy = 0;
    msc__hooks_install();
    atomic_store(&msc__native_on, o.native);
    atomic_store(&R.active, 1);
    Py_RETURN_NONE;
}

/* 0 while a capture is being written, else -1 with RuntimeError set. */
static int not_recording(void)
{
    if (R.sink) return 0;
    PyErr_SetString(PyExc_RuntimeError, "memscope is not recording");
    return -1;
}

static PyObject *py_stop(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (not_recording()) return NULL;
    msc__busy = 1;
    msc__cpu_stop(); /* its last samples go in while recording is on */
    msc__busy = 0;
    pthread_mutex_lock(&R.side_mutex);
    atomic_store(&R.active, 0);
    atomic_store(&msc__native_on, 0);
    msc_traced_stop_unlocked();
    msc_sink_t *sink = R.sink;
    R.sink = NULL;
    pthread_mutex_unlock(&R.side_mutex);

    /* Everything of this capture is taken down before the GIL is released
     * to close the sink: another thread may start the next one meanwhile. */
    release_tables();
    R.root = NULL;
    PyObject *path = R.path;
    R.path = NULL;
    int err;
    Py_BEGIN_ALLOW_THREADS err = msc_sink_close(sink, msc_sink_now(sink));
    Py_END_ALLOW_THREADS if (err)
    {
        PyErr_Format(PyExc_OSError, "capture '%U' is incomplete: %s", path, msc_strerror(err));
        Py_DECREF(path);
        return NULL;
    }
    return path;
}

/* One line to the status file `memscope attach` waits for (outfile.h). */
static void attach_answer(const char *status, const char *what, const char *detail)
{
    int fd;
    if (msc_file_create(status, 0, &fd) != 0) return;
    char line[MSC_MAX_PATH + 256];
    int n = snprintf(line, sizeof(line), "%s%s\n", what, detail);
    if (n > 0 && (size_t)n < sizeof(line)) (void)!write(fd, line, (size_t)n);
    close(fd);
}

/* The session `memscope attach` started (_attached), the one its --stop may
 * end: a recording the program started itself (Tracker, `memscope run`)
 * is the program's to stop, and stopping it from outside would make its
 * own stop fail. 0: none. */
static uint64_t attach_session;

static PyObject *py_attached(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (not_recording()) return NULL;
    attach_session = R.session;
    Py_RETURN_NONE;
}

/* What `memscope attach PID --stop` has the target run (cmd_attach.c): a
 * pending call, run by the main thread between two bytecodes with the GIL
 * held. The recording ends here, in C, before anything of the request is
 * allocated: a request in Python would be compiled while the recording is
 * still on, and what the compile keeps until the request ends would show
 * as live at the program's line. Then it answers "ok PATH", or "error: ..."
 * to the status file named by arg. Nothing is raised into the program: a
 * pending call that fails would raise there. Exported for attach to find
 * by name in the target's symbol tables. */
__attribute__((visibility("default"))) int msc_attach_stop(void *arg)
{
    const char *status = arg;
    PyObject *exc_type, *exc, *tb;
    PyErr_Fetch(&exc_type, &exc, &tb); /* none expected between bytecodes; kept all the same */
    PyObject *path = NULL, *name = NULL;
    if (!R.sink) {
        attach_answer(status, "error: not recording", "");
    } else if (attach_session != R.session) {
        /* Its own recording: the program's stop would fail if this one ran. */
        char line[MSC_MAX_PATH + 128];
        name = fs_bytes(R.path);
        snprintf(line, sizeof(line),
                 "its recording into '%s' was started by the program, which stops it "
                 "(--stop ends what attach started)",
                 name ? PyBytes_AS_STRING(name) : "?");
        attach_answer(status, "error: ", line);
    } else if ((path = py_stop(NULL, NULL)) && (name = fs_bytes(path))) {
        attach_answer(status, "ok ", PyBytes_AS_STRING(name));
    } else {
        PyObject *t, *e, *b, *text = NULL;
        PyErr_Fetch(&t, &e, &b);
        if (e) text = PyObject_Str(e);
        const char *utf8 = text ? PyUnicode_AsUTF8(text) : NULL;
        attach_answer(status, "error: ", utf8 ? utf8 : "the recording could not be stopped");
        Py_XDECREF(text), Py_XDECREF(t), Py_XDECREF(e), Py_XDECREF(b);
    }
    PyErr_Clear(); /* what naming or wording the answer raised */
    Py_XDECREF(name);
    Py_XDECREF(path);
    PyErr_Restore(exc_type, exc, tb);
    return 0;
}

static PyObject *py_flush(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (R.sink && atomic_load(&R.active)) {
        msc__busy = 1;
        msc__cpu_drain();
        msc__busy = 0;
    }
    if (R.sink) msc_sink_flush(R.sink);
    Py_RETURN_NONE;
}

/* Starts the traced memory's counting in an exact capture, the first time
 * it is asked for (traced.h): everything recorded so far is flushed and
 * read back while no event can be recorded. GIL held. 0, or -1 with an
 * exception set. */
static int traced_begin(void)
{
    if (R.sample_bytes || atomic_load(&msc__traced_on) || !atomic_load(&R.active)) return 0;
    PyObject *name = fs_bytes(R.path);
    if (!name) return -1;
    msc__busy = 1;
    pthread_mutex_lock(&R.side_mutex);
    msc_sink_flush(R.sink);
    int err = msc_traced_seed_unlocked(PyBytes_AS_STRING(name));
    pthread_mutex_unlock(&R.side_mutex);
    msc__busy = 0;
    Py_DECREF(name);
    if (!err) return 0;
    if (err == MSC_ENOMEM) PyErr_NoMemory();
    else PyErr_Format(PyExc_RuntimeError, "cannot read '%U' back: %s", R.path, msc_strerror(err));
    return -1;
}

/* Answers from two counters the hooks keep (traced.h): past the first call
 * of an exact capture, it allocates nothing but its result, and costs the
 * same at any number of live blocks. */
static PyObject *py_traced_memory(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    uint64_t current = 0, peak = 0;
    if (R.sink && traced_begin() < 0) return NULL;
    if (R.sink) msc_traced_read(&current, &peak, NULL);
    return Py_BuildValue("(KK)", (unsigned long long)current, (unsigned long long)peak);
}

static PyObject *py_traced_domains(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    uint64_t current, peak, k[MSC_TRACED_KINDS] = {0};
    if (R.sink && traced_begin() < 0) return NULL;
    if (R.sink) msc_traced_read(&current, &peak, k);
    return Py_BuildValue("{sKsKsKsK}", "raw", (unsigned long long)k[MSC_TRACED_RAW], "mem",
                         (unsigned long long)k[MSC_TRACED_MEM], "obj",
                         (unsigned long long)k[MSC_TRACED_OBJ], "foreign",
                         (unsigned long long)k[MSC_TRACED_FOREIGN]);
}

static PyObject *py_recording(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (!R.sink) Py_RETURN_NONE;
    Py_INCREF(R.path);
    return R.path;
}

/*
 * Fault injection for the tests: core's allocator made to fail, so every
 * step of start can be made to fail in turn.
 */

static atomic_llong alloc_budget; /* core allocations left before they fail */

static void *failing_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return atomic_fetch_sub(&alloc_budget, 1) > 0 ? malloc(size) : NULL;
}

static void *failing_realloc(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    return atomic_fetch_sub(&alloc_budget, 1) > 0 ? realloc(ptr, size) : NULL;
}

static void failing_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

/* _fail_allocations(n): the next n allocations of the recorder and the
 * analyser succeed, every one after them fails; n < 0 restores libc's. */
static PyObject *py_fail_allocations(PyObject *self, PyObject *arg)
{
    (void)self;
    long long n = PyLong_AsLongLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    static const msc_allocator_t failing = {failing_malloc, failing_realloc, failing_free, NULL};
    atomic_store(&alloc_budget, n);
    msc_set_allocator(n < 0 ? NULL : &failing);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"start", (PyCFunction)(void (*)(void))py_start, METH_VARARGS | METH_KEYWORDS,
     "start(path, argv, max_depth=128, force=False, root=0, sample=0, native=False,\n"
     "parent_pid=0, parent_capture=None, cpu_rate=0, native_frames=False): start\n"
     "recording to path; sample=R records one allocation per R bytes on average instead of\n"
     "every one; native=True records the malloc family and mmap of every library too;\n"
     "cpu_rate=HZ samples every thread's stack HZ times a second for CPU and wall time;\n"
     "native_frames=True records each allocation's C stack too;\n"
     "stacks stop below the frame root calls up from the caller (0: keep all)"},
    {"stop", py_stop, METH_NOARGS, "stop(): finish the capture; returns its path"},
    {"flush", py_flush, METH_NOARGS, "flush(): write everything recorded so far"},
    {"recording", py_recording, METH_NOARGS, "recording(): the capture path, or None"},
    {"_attached", py_attached, METH_NOARGS,
     "_attached(): marks the recording in progress as memscope attach's, which its --stop may end"},
    {"traced_memory", py_traced_memory, METH_NOARGS,
     "traced_memory(): (current, peak) bytes of the Python allocators and foreign domains\n"
     "since recording started; (0, 0) when not recording"},
    {"traced_domains", py_traced_domains, METH_NOARGS,
     "traced_domains(): the current bytes of traced_memory() by domain: raw, mem, obj, foreign"},
    {"mark", py_mark, METH_O, "mark(label): record a labelled point in time"},
    {"gc_callback", py_gc_callback, METH_VARARGS, "for gc.callbacks: records GC runs"},
    {"thread_started", py_thread_started, METH_O, "thread_started(name): names this thread"},
    {"_fail_allocations", py_fail_allocations, METH_O,
     "_fail_allocations(n): for tests, core allocations fail after the next n; -1 restores"},
    {"child_started", py_child_started, METH_VARARGS,
     "child_started(pid, argv, capture): record a child process this one started, with the\n"
     "capture it records to ('' for none)"},
    {NULL, NULL, 0, NULL},
};

int msc_py_recorder_init(PyObject *module)
{
    return PyModule_AddFunctions(module, methods);
}
