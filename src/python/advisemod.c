/* memscope.advise() in the running process: the heap rules on a walk of
 * the live heap, and the capture rules on the capture being recorded when
 * there is one (memscope/advise.h). The walk and every rule run before any
 * result object is made, so the results do not count themselves. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapwalk.h"
#include "memscope/advise.h"
#include "memscope/common.h"
#include "memscope/report.h"
#include "pyparts.h"

/* A str of the program's names: invalid UTF-8 becomes U+FFFD, as in every
 * report. NULL with an exception set; Py_BuildValue's "N" passes it on. */
static PyObject *text(const char *s)
{
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

/* One piece of advice as the tuple memscope.Advice is made of: (rule,
 * title, bytes_saved, measure, where, evidence, change), where None when
 * unknown. */
static PyObject *advice_row(const msc_heap_t *h, const msc_advice_t *x)
{
    const char *where = x->where ? x->where : x->site ? msc_heap_string(h, x->site, NULL) : NULL;
    return Py_BuildValue("(sNKsNNN)", x->rule, text(x->title), (unsigned long long)x->bytes_saved,
                         x->measure, where ? text(where) : Py_NewRef(Py_None), text(x->evidence),
                         text(x->change));
}

static PyObject *advice_result(const msc_heap_t *h, const msc_advice_list_t *l, size_t limit)
{
    size_t shown = limit && limit < l->len ? limit : l->len;
    PyObject *rows = PyList_New((Py_ssize_t)shown);
    for (size_t i = 0; rows && i < shown; i++) {
        PyObject *row = advice_row(h, &l->items[i]);
        if (!row) Py_CLEAR(rows);
        else PyList_SET_ITEM(rows, (Py_ssize_t)i, row);
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = rows ? open_memstream(&text, &len) : NULL;
    int rc = out ? msc_report_advice(out, h, l, limit, 0) : MSC_ENOMEM;
    if (out && fclose(out) != 0) rc = MSC_ENOMEM;
    PyObject *table =
        rows && rc == 0 ? PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "replace") : NULL;
    free(text);
    if (rows && !table && !PyErr_Occurred()) PyErr_NoMemory();
    PyObject *result = table ? PyTuple_Pack(2, rows, table) : NULL;
    Py_XDECREF(rows);
    Py_XDECREF(table);
    return result;
}

/* advise(limit, capture=None, path=None) -> (rows, text): capture is the
 * live _memscope.Capture of the recording at path, brought up to date by
 * the caller. */
static PyObject *py_advise(PyObject *self, PyObject *args)
{
    (void)self;
    Py_ssize_t limit = 10;
    PyObject *capture = Py_None;
    const char *path = NULL;
    const struct msc_analysis *a = NULL;
    struct msc_symbols *sym = NULL;
    if (!PyArg_ParseTuple(args, "|nOz:advise", &limit, &capture, &path)) return NULL;
    if (capture != Py_None && (!path || msc_py_capture_parts(capture, &a, &sym) < 0)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "advise: a capture needs its path");
        return NULL;
    }
    msc_heap_t *h = msc__heap_walk(1);
    if (!h) return NULL;
    msc_advice_list_t l = {0};
    int rc = msc_advise_heap(h, &l);
    if (rc == 0 && a) rc = msc_advise_capture(path, a, sym, NULL, NULL, &l);
    PyObject *result =
        rc == 0 ? advice_result(h, &l, limit > 0 ? (size_t)limit : 0)
                : PyErr_Format(PyExc_OSError, "memscope: cannot advise: %s", msc_strerror(rc));
    msc_advice_list_release(&l);
    msc_heap_free(h);
    return result;
}

static PyMethodDef advise_methods[] = {
    {"advise", py_advise, METH_VARARGS,
     "advise(limit=10, capture=None, path=None) -> (rows, text): what to change to use "
     "less memory."},
    {NULL, NULL, 0, NULL},
};

int msc_py_advise_init(PyObject *module)
{
    return PyModule_AddFunctions(module, advise_methods);
}
