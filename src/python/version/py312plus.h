/* What CPython 3.12 and 3.13 share, for the version layer: str and int
 * sizes, interpreter state and the GC lists, which 3.13 left as 3.12 had
 * them. Included at the end of py312.h and py313.h, after each has
 * included CPython's internal headers; a version that changes one of these
 * keeps its own copy instead. */
#ifndef MEMSCOPE_VERSION_PY312PLUS_H
#define MEMSCOPE_VERSION_PY312PLUS_H

/* Whether a str's characters are in its canonical storage: always, since
 * 3.12 removed the legacy wchar_t representation. */
static inline int msc_str_ready(PyObject *s)
{
    (void)s;
    return 1;
}

/* sys.getsizeof of a compact ASCII str, or 0 when it is another shape. */
static inline uint64_t msc_ascii_size(PyObject *s)
{
    if (!PyUnicode_IS_COMPACT_ASCII(s)) return 0;
    return sizeof(PyASCIIObject) + (uint64_t)PyUnicode_GET_LENGTH(s) + 1;
}

/* sys.getsizeof of an int: its digits, at least one; their count is in
 * lv_tag since 3.12. */
static inline uint64_t msc_int_size(PyObject *o)
{
    Py_ssize_t digits = _PyLong_DigitCount((PyLongObject *)o);
    return offsetof(PyLongObject, long_value.ob_digit) +
           (uint64_t)Py_MAX(digits, 1) * sizeof(digit);
}

/*
 * Interpreter state.
 */

/* Whether a thread of interp holding its GIL also holds the main
 * interpreter's: from 3.12 an interpreter may have a GIL of its own. */
static inline int msc_interp_shares_main_gil(PyInterpreterState *interp,
                                             PyInterpreterState *main_interp)
{
    return interp->ceval.gil == main_interp->ceval.gil;
}

static inline PyObject *msc_interp_modules(PyInterpreterState *interp)
{
    return interp->imports.modules;
}

static inline PyObject *msc_interp_importlib(PyInterpreterState *interp)
{
    return interp->imports.importlib;
}

static inline PyObject *msc_interp_sysdict(PyInterpreterState *interp)
{
    return interp->sysdict;
}

static inline PyObject *msc_interp_builtins(PyInterpreterState *interp)
{
    return interp->builtins;
}

static inline PyObject *msc_tstate_handled_exception(PyThreadState *ts)
{
    return ts->exc_info ? ts->exc_info->exc_value : NULL;
}

#define MSC_GC_LISTS (NUM_GENERATIONS + 1)
static inline int msc_gc_lists(PyInterpreterState *interp, PyGC_Head **heads)
{
    struct _gc_runtime_state *gc = &interp->gc;
    for (int g = 0; g < NUM_GENERATIONS; g++) heads[g] = &gc->generations[g].head;
    heads[NUM_GENERATIONS] = &gc->permanent_generation.head;
    return MSC_GC_LISTS;
}

static inline PyGC_Head *msc_gc_next(PyGC_Head *g)
{
    return _PyGCHead_NEXT(g);
}

#endif
