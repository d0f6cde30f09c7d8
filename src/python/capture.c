/* _memscope.Capture: the analyser library seen from Python. It replays a
 * capture (optionally one still being written, picking up where it left off
 * on each advance()) and renders reports, so get_traced_memory() and
 * @memscope.profile answer from the same code as the CLI. No format logic
 * here: everything is a call into src/core and src/report. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdio.h>
#include <stdlib.h>

#include "memscope/analysis.h"
#include "memscope/report.h"
#include "pyparts.h"

typedef struct capture {
    PyObject_HEAD msc_replay_t *replay;
    msc_analysis_t *analysis;
    PyObject *path;
} capture_t;

static PyObject *read_error(PyObject *path, int err, const msc_error_info_t *info)
{
    if (err == MSC_EIO && !info->what)
        return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
    PyErr_Format(PyExc_ValueError, "cannot read '%U': %s at byte %llu", path,
                 info->what ? info->what : msc_strerror(err), (unsigned long long)info->offset);
    return NULL;
}

static int capture_init(capture_t *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "follow", NULL};
    PyObject *path;
    int follow = 0, err;
    msc_error_info_t info = {0, NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|p", kwlist, PyUnicode_FSDecoder, &path, &follow))
        return -1;
    self->path = path;
    self->replay =
        msc_replay_open(PyUnicode_AsUTF8(path), follow ? MSC_REPLAY_FOLLOW : 0, &err, &info);
    if (!self->replay) {
        read_error(path, err, &info);
        return -1;
    }
    self->analysis = msc_analysis_new();
    if (!self->analysis) {
        PyErr_NoMemory();
        return -1;
    }
    const msc_header_t *h = msc_replay_header(self->replay);
    if (h->mode == MSC_MODE_SAMPLED) msc_analysis_set_sampling(self->analysis, h->sample_bytes);
    return 0;
}

static void capture_dealloc(capture_t *self)
{
    msc_analysis_free(self->analysis);
    msc_replay_free(self->replay);
    Py_XDECREF(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *capture_advance(capture_t *self, PyObject *unused)
{
    (void)unused;
    msc_error_info_t info = {0, NULL};
    int err;
    Py_BEGIN_ALLOW_THREADS err =
        msc_replay_run(self->replay, msc_analysis_event, self->analysis, &info);
    Py_END_ALLOW_THREADS if (err && err != MSC_ETRUNCATED) return read_error(self->path, err,
                                                                             &info);
    if (msc_analysis_finish(self->analysis) < 0) return PyErr_NoMemory();
    return PyBool_FromLong(err == MSC_ETRUNCATED);
}

static PyObject *capture_summary(capture_t *self, PyObject *unused)
{
    (void)unused;
    const msc_summary_t *s = msc_analysis_summary(self->analysis);
    return Py_BuildValue("{s:K,s:d,s:K,s:K,s:K,s:K,s:K,s:K,s:d,s:I,s:O}", "peak_bytes",
                         (unsigned long long)s->peak_bytes, "peak_time_s",
                         (double)s->peak_time_ns / 1e9, "current_bytes",
                         (unsigned long long)s->current_bytes, "total_allocated_bytes",
                         (unsigned long long)s->total_allocated_bytes, "allocations",
                         (unsigned long long)s->allocations, "frees", (unsigned long long)s->frees,
                         "leaked_bytes", (unsigned long long)s->leaked_bytes, "leaked_allocations",
                         (unsigned long long)s->leaked_allocations, "duration_s",
                         (double)msc_replay_duration_ns(self->replay) / 1e9, "threads", s->threads,
                         "complete", msc_replay_complete(self->replay) ? Py_True : Py_False);
}

/* Runs a report writer into a memory stream and returns its text. */
static PyObject *render(capture_t *self, int (*write)(const msc_report_ctx_t *, FILE *, void *),
                        void *arg)
{
    char *text = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&text, &n);
    if (!out) return PyErr_NoMemory();
    msc_report_ctx_t ctx = {self->analysis, self->replay, PyUnicode_AsUTF8(self->path), 0};
    int err = write(&ctx, out, arg);
    fclose(out);
    PyObject *result = err ? NULL : PyUnicode_DecodeUTF8(text, (Py_ssize_t)n, "replace");
    free(text);
    if (err) PyErr_SetString(PyExc_MemoryError, msc_strerror(err));
    return result;
}

typedef struct lines_args {
    const char *source;
    unsigned int first, last;
} lines_args_t;

static int write_lines(const msc_report_ctx_t *ctx, FILE *out, void *arg)
{
    lines_args_t *a = arg;
    return msc_report_lines(ctx, out, a->source, a->first, a->last, NULL);
}

static PyObject *capture_lines(capture_t *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"source", "first", "last", NULL};
    lines_args_t a = {NULL, 0, 0};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|II", kwlist, &a.source, &a.first, &a.last))
        return NULL;
    return render(self, write_lines, &a);
}

static PyObject *capture_table(capture_t *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"at", "by", "limit", NULL};
    static const char *views[] = {"peak", "exit", "total"},
                      *groups[] = {"line", "function", "file"};
    const char *at = "peak", *by = "line";
    Py_ssize_t limit = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|ssn", kwlist, &at, &by, &limit)) return NULL;
    int view = -1, group = -1;
    for (int i = 0; i < 3; i++) {
        if (strcmp(at, views[i]) == 0) view = i;
        if (strcmp(by, groups[i]) == 0) group = i;
    }
    if (view < 0 || group < 0) {
        PyErr_SetString(PyExc_ValueError,
                        "at must be peak, exit or total; by line, function or file");
        return NULL;
    }
    msc_rows_t rows;
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(self->replay);
    if (msc_aggregate(self->analysis, sym, (msc_view_t)view, (msc_group_t)group, 0, NULL, &rows))
        return PyErr_NoMemory();
    size_t n = limit > 0 && (size_t)limit < rows.n ? (size_t)limit : rows.n;
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        msc_row_t *r = &rows.rows[i];
        PyObject *row = Py_BuildValue(
            "{s:s,s:z,s:I,s:K,s:K}", "file", r->file, "function", r->function, "line", r->line,
            "bytes", (unsigned long long)r->bytes, "allocations", (unsigned long long)r->count);
        if (!row) Py_CLEAR(list);
        else PyList_SET_ITEM(list, (Py_ssize_t)i, row);
    }
    msc_rows_release(&rows);
    return list;
}

static PyObject *stack_frames(msc_symbols_t *sym, uint32_t node)
{
    PyObject *frames = PyList_New(0);
    for (; frames && node; node = msc_symbols_parent(sym, node)) {
        msc_frame_t f;
        msc_symbols_frame(sym, node, &f);
        PyObject *frame = Py_BuildValue("(ssI)", f.file, f.function, f.line);
        if (!frame || PyList_Append(frames, frame) < 0) Py_CLEAR(frames);
        Py_XDECREF(frame);
    }
    if (!frames) return NULL;
    PyObject *t = PyList_AsTuple(frames);
    Py_DECREF(frames);
    return t;
}

static PyObject *capture_stacks(capture_t *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"at", NULL};
    static const char *views[] = {"peak", "exit", "total"};
    const char *at = "exit";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|s", kwlist, &at)) return NULL;
    int view = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(at, views[i]) == 0) view = i;
    if (view < 0) {
        PyErr_SetString(PyExc_ValueError, "at must be peak, exit or total");
        return NULL;
    }
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(self->replay);
    PyObject *list = PyList_New(0);
    uint32_t n = msc_analysis_nodes(self->analysis);
    for (uint32_t node = 0; list && node < n; node++) {
        msc_node_values_t v = msc_analysis_node(self->analysis, (msc_view_t)view, node);
        if (!v.bytes && !v.count) continue;
        PyObject *frames = stack_frames(sym, node);
        PyObject *item = frames ? Py_BuildValue("(NKK)", frames, (unsigned long long)v.bytes,
                                                (unsigned long long)v.count)
                                : NULL;
        if (!item || PyList_Append(list, item) < 0) Py_CLEAR(list);
        Py_XDECREF(item);
    }
    return list;
}

static PyMethodDef capture_methods[] = {
    {"stacks", (PyCFunction)(void (*)(void))capture_stacks, METH_VARARGS | METH_KEYWORDS,
     "stacks(at='exit') -> [(frames, bytes, count)]: every stack with memory in a view;\n"
     "frames are (file, function, line), innermost first"},
    {"advance", (PyCFunction)capture_advance, METH_NOARGS,
     "advance() -> bool: read what was written since; True if the file ends mid-chunk"},
    {"summary", (PyCFunction)capture_summary, METH_NOARGS, "summary() -> dict of totals"},
    {"lines", (PyCFunction)(void (*)(void))capture_lines, METH_VARARGS | METH_KEYWORDS,
     "lines(source, first=0, last=0) -> str: the line-by-line report of one file"},
    {"table", (PyCFunction)(void (*)(void))capture_table, METH_VARARGS | METH_KEYWORDS,
     "table(at='peak', by='line', limit=0) -> list of {file, function, line, bytes, allocations}"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject capture_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "memscope._memscope.Capture",
    .tp_basicsize = sizeof(capture_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Capture(path, follow=False): a capture replayed into an analysis",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)capture_init,
    .tp_dealloc = (destructor)capture_dealloc,
    .tp_methods = capture_methods,
};

int msc_py_capture_parts(PyObject *obj, const struct msc_analysis **analysis,
                         struct msc_symbols **symbols)
{
    if (!PyObject_TypeCheck(obj, &capture_type)) {
        PyErr_Format(PyExc_TypeError, "expected a Capture, not %.100s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    capture_t *c = (capture_t *)obj;
    *analysis = c->analysis;
    /* Line numbers are decoded lazily into the table, hence not const. */
    *symbols = (msc_symbols_t *)msc_replay_symbols(c->replay);
    return 0;
}

int msc_py_capture_init(PyObject *module)
{
    if (PyType_Ready(&capture_type) < 0) return -1;
    Py_INCREF(&capture_type);
    if (PyModule_AddObject(module, "Capture", (PyObject *)&capture_type) < 0) {
        Py_DECREF(&capture_type);
        return -1;
    }
    return 0;
}
