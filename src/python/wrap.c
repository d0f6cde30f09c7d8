/* _memscope.wrap: a callable standing in for one of the functions that start
 * processes (os.fork, os.execv, _posixsubprocess.fork_exec ...), so that a
 * recorded program's children are recorded too (memscope/_launch.py).
 *
 * It is written in C, not as a Python function, so that the program sees no
 * difference: the original is called from here with no Python frame between
 * it and its caller, hence a traceback from a failed exec or spawn and a
 * warning os.fork issues name the program's own lines, exactly as without
 * memscope; its attributes (__name__, __doc__ ...) and repr are the
 * original's. The hooks around the call are Python functions of memscope:
 *   before(args, kwargs) -> (args, kwargs)   may change what is called
 *   after(args, kwargs, result)              after success; its errors are dropped
 *   failed(args, kwargs)                     after failure; the exception stays */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pyparts.h"

typedef struct wrapper {
    PyObject ob_base;          /* PyObject_HEAD */
    PyObject *original;        /* the function stood for; owned */
    PyObject *before;          /* hooks, each owned or NULL */
    PyObject *after;
    PyObject *failed;
} wrapper_t;

/* Runs the before hook: new references to the arguments to call with. */
static int run_before(wrapper_t *w, PyObject **args, PyObject **kwargs)
{
    PyObject *kw = *kwargs ? *kwargs : Py_None;
    PyObject *r = PyObject_CallFunctionObjArgs(w->before, *args, kw, NULL);
    if (!r) return -1;
    PyObject *a, *k;
    if (!PyArg_ParseTuple(r, "O!O", &PyTuple_Type, &a, &k) || (k != Py_None && !PyDict_Check(k))) {
        Py_DECREF(r);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "before must return (args, kwargs)");
        return -1;
    }
    Py_INCREF(a);
    *args = a;
    *kwargs = k == Py_None ? NULL : Py_NewRef(k);
    Py_DECREF(r);
    return 0;
}

static void run_after(wrapper_t *w, PyObject *args, PyObject *kwargs, PyObject *result)
{
    PyObject *kw = kwargs ? kwargs : Py_None;
    PyObject *r = PyObject_CallFunctionObjArgs(w->after, args, kw, result, NULL);
    if (!r) PyErr_Clear();
    Py_XDECREF(r);
}

static void run_failed(wrapper_t *w, PyObject *args, PyObject *kwargs)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *r = PyObject_CallFunctionObjArgs(w->failed, args, kwargs ? kwargs : Py_None, NULL);
    if (!r) PyErr_Clear();
    Py_XDECREF(r);
    PyErr_Restore(type, value, tb);
}

static PyObject *wrapper_call(wrapper_t *w, PyObject *args, PyObject *kwargs)
{
    Py_INCREF(args);
    Py_XINCREF(kwargs);
    if (w->before) {
        PyObject *a = args, *k = kwargs;
        int rc = run_before(w, &a, &k);
        Py_DECREF(args);
        Py_XDECREF(kwargs);
        if (rc < 0) return NULL;
        args = a;
        kwargs = k;
    }
    PyObject *result = PyObject_Call(w->original, args, kwargs);
    if (result && w->after) run_after(w, args, kwargs, result);
    if (!result && w->failed) run_failed(w, args, kwargs);
    Py_DECREF(args);
    Py_XDECREF(kwargs);
    return result;
}

static void wrapper_dealloc(wrapper_t *w)
{
    Py_XDECREF(w->original);
    Py_XDECREF(w->before);
    Py_XDECREF(w->after);
    Py_XDECREF(w->failed);
    Py_TYPE(w)->tp_free((PyObject *)w);
}

static PyObject *wrapper_getattro(wrapper_t *w, PyObject *name)
{
    return PyObject_GetAttr(w->original, name);
}

static PyObject *wrapper_repr(wrapper_t *w)
{
    return PyObject_Repr(w->original);
}

static PyTypeObject wrapper_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "memscope._memscope.Wrapper",
    .tp_basicsize = sizeof(wrapper_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "a function that starts processes, called with memscope's hooks around it",
    .tp_call = (ternaryfunc)wrapper_call,
    .tp_getattro = (getattrofunc)wrapper_getattro,
    .tp_repr = (reprfunc)wrapper_repr,
    .tp_dealloc = (destructor)wrapper_dealloc,
};

static PyObject *none_to_null(PyObject *o)
{
    return o == Py_None ? NULL : Py_NewRef(o);
}

static PyObject *py_wrap(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    static char *kwlist[] = {"original", "before", "after", "failed", NULL};
    PyObject *original, *before = Py_None, *after = Py_None, *failed = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOO", kwlist, &original, &before, &after,
                                     &failed))
        return NULL;
    wrapper_t *w = PyObject_New(wrapper_t, &wrapper_type);
    if (!w) return NULL;
    w->original = Py_NewRef(original);
    w->before = none_to_null(before);
    w->after = none_to_null(after);
    w->failed = none_to_null(failed);
    return (PyObject *)w;
}

static PyMethodDef methods[] = {
    {"wrap", (PyCFunction)(void (*)(void))py_wrap, METH_VARARGS | METH_KEYWORDS,
     "wrap(original, before=None, after=None, failed=None): original, called between hooks:\n"
     "before(args, kwargs) -> (args, kwargs); after(args, kwargs, result); failed(args, kwargs)"},
    {NULL, NULL, 0, NULL},
};

int msc_py_wrap_init(PyObject *module)
{
    if (PyType_Ready(&wrapper_type) < 0) return -1;
    return PyModule_AddFunctions(module, methods);
}
