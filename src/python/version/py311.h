/* CPython 3.11's internals, for the version layer (version.h). The GIL
 * holder's thread state is one global, the frame chain hangs off
 * tstate->cframe, code objects have no watchers, and an instance's inline
 * values are a separate block whose pointer sits four words before the
 * object, with the managed dict pointer at three. */
#ifndef MEMSCOPE_VERSION_PY311_H
#define MEMSCOPE_VERSION_PY311_H

#include "internal/pycore_dict.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_object.h"
#include "internal/pycore_pystate.h"

/*
 * Threads and frames.
 */

typedef _PyInterpreterFrame msc_pyframe_t;

/* This thread's thread state if it holds the GIL now, else NULL. MEM and
 * OBJ calls hold it by contract (gil_by_contract); a RAW call holds it when
 * this thread's own state is the GIL holder, a global here. */
static inline PyThreadState *msc_tstate_attached(int gil_by_contract)
{
    PyThreadState *holder = _PyThreadState_GET();
    if (gil_by_contract) return holder;
    return holder && holder == PyGILState_GetThisThreadState() ? holder : NULL;
}

static inline msc_pyframe_t *msc_frame_first(PyThreadState *ts)
{
    return ts && ts->cframe ? ts->cframe->current_frame : NULL;
}

static inline msc_pyframe_t *msc_frame_previous(msc_pyframe_t *f)
{
    return f->previous;
}

/* The frame's code object; NULL for a frame that runs no code of its own
 * (3.11 pushes none: every frame holds its code object, and saying so spares
 * the stack walk a test per frame). */
static inline PyCodeObject *msc_frame_code(msc_pyframe_t *f)
{
    PyCodeObject *co = f->f_code;
    if (!co) __builtin_unreachable();
    return co;
}

/* The frame's code object as the frame holds it, not checked to be one:
 * for a copy of a frame a signal handler read, which checks it itself. */
static inline PyCodeObject *msc_frame_code_unchecked(msc_pyframe_t *f)
{
    return f->f_code;
}

/* Whether a frame is an entry shim owned by the C stack: 3.11 pushes none. */
static inline int msc_frame_is_shim(msc_pyframe_t *f)
{
    (void)f;
    return 0;
}

/* The instruction being executed, in code units from the first. */
static inline uint32_t msc_frame_offset(msc_pyframe_t *f)
{
    return (uint32_t)_PyInterpreterFrame_LASTI(f);
}

/* The instruction the frame runs as an address, for comparing frames:
 * msc_code_offset makes it msc_frame_offset's offset. */
static inline uintptr_t msc_frame_instr(msc_pyframe_t *f)
{
    return (uintptr_t)f->prev_instr;
}

/* The offset of instr in co's code, computed from the two addresses alone
 * (co is not read). */
static inline uint32_t msc_code_offset(PyCodeObject *co, uintptr_t instr)
{
    return (uint32_t)((_Py_CODEUNIT *)instr - _PyCode_CODE(co));
}

static inline int msc_frame_offset_incomplete(PyCodeObject *co, uint32_t offset)
{
    return (int32_t)offset < co->_co_firsttraceable;
}

/* Frames between their push and first RESUME are not yet running code: they
 * have no meaningful offset (CPython's _PyFrame_IsIncomplete, gh-96612). A
 * generator's frame only runs from its first RESUME on, so the offset test
 * alone gives the same answer for every frame on a running stack. */
static inline int msc_frame_incomplete(msc_pyframe_t *f)
{
    return f->owner != FRAME_OWNED_BY_GENERATOR &&
           msc_frame_offset_incomplete(f->f_code, msc_frame_offset(f));
}

static inline PyObject *msc_frame_function(msc_pyframe_t *f)
{
    return (PyObject *)f->f_func;
}

static inline PyObject *msc_frame_locals(msc_pyframe_t *f)
{
    return f->f_locals;
}

static inline PyObject *msc_frame_object(msc_pyframe_t *f)
{
    return (PyObject *)f->frame_obj;
}

/* The frame's fast locals, cells and value stack, in use up to *n. */
static inline PyObject **msc_frame_slots(msc_pyframe_t *f, int *n)
{
    *n = f->stacktop;
    return f->localsplus;
}

/*
 * Code objects.
 */

/* 3.11 has no code watchers: the code type's deallocator is wrapped, so
 * that died(co) runs as each code object is destroyed (GIL held, before its
 * memory is freed), the one place that sees every code death and only
 * them: asking at every free of an object whether it was a code object cost
 * each free a filter lookup. The wrapper stays installed for the life of the
 * process (a thread may be inside it at any moment: deallocation can run
 * Python code, through weak reference callbacks); once no recording watches
 * it, died() finds nothing to forget. PyCode_Type is shared by every
 * interpreter, as the watcher list of 3.12 is. 0. */
static void (*msc__code_died_fn)(PyCodeObject *co);
static destructor msc__code_dealloc;

static inline void msc__code_dealloc_wrapper(PyObject *co)
{
    msc__code_died_fn((PyCodeObject *)co);
    msc__code_dealloc(co);
}

static inline int msc_code_watch(void (*died)(PyCodeObject *co))
{
    msc__code_died_fn = died;
    if (PyCode_Type.tp_dealloc != msc__code_dealloc_wrapper) {
        msc__code_dealloc = PyCode_Type.tp_dealloc;
        PyCode_Type.tp_dealloc = msc__code_dealloc_wrapper;
    }
    return 0;
}

/*
 * Object layouts.
 */

/* A type's namespace, borrowed for as long as the type lives. */
static inline PyObject *msc_type_dict(PyTypeObject *tp)
{
    return tp->tp_dict;
}

#define MSC_MANAGED_DICT_OFFSET MANAGED_DICT_OFFSET
#define MSC_TUPLE_FREELIST_SIZE PyTuple_MAXSAVESIZE
#define MSC_DICT_LOG_MINSIZE 3 /* dictobject.c's PyDict_LOG_MINSIZE */

/* The bytes before an object of type tp in its block, which sys.getsizeof
 * counts (3.11's _PyType_PreHeaderSize): the GC head and, for managed
 * dicts, the values and dict pointers. */
static inline Py_ssize_t msc_type_preheader(PyTypeObject *tp)
{
    return (PyType_IS_GC(tp) ? (Py_ssize_t)sizeof(PyGC_Head) : 0) +
           ((tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) ? 2 * (Py_ssize_t)sizeof(void *) : 0);
}

/* The value slots of a split dict or inline values: what the dict's
 * __sizeof__ counts (shared_keys_usable_size). */
/* The pre-header sys.getsizeof adds to o, given its type's. */
static inline Py_ssize_t msc_object_preheader(PyObject *o, Py_ssize_t type_preheader)
{
    (void)o;
    return type_preheader;
}

static inline Py_ssize_t msc_split_slots(PyDictKeysObject *keys)
{
    return keys->dk_nentries + keys->dk_usable;
}

/* An instance's attributes kept as inline values, with no dict object. */
typedef struct msc_inline_values {
    PyObject **values;         /* the value slots */
    Py_ssize_t entries;        /* slots that may hold a value (the keys' entries) */
    Py_ssize_t slots;          /* slots allocated */
    PyDictKeysObject *keys;    /* the class's shared keys: slot i's name */
    uint64_t addr;             /* where the values are */
    uint64_t bytes;            /* the values' own block, when they have one */
} msc_inline_values_t;

/* 1 and *v filled when o (whose type has a managed dict) keeps its
 * attributes as inline values; 0 when it has a dict object or no values.
 * 3.11's values block has a prefix whose size is its byte before them. */
static inline int msc_inline_values(PyObject *o, msc_inline_values_t *v)
{
    PyDictValues *values = *_PyObject_ValuesPointer(o);
    PyDictKeysObject *keys = ((PyHeapTypeObject *)Py_TYPE(o))->ht_cached_keys;
    if (!values || !keys) return 0;
    v->values = values->values;
    v->entries = keys->dk_nentries;
    v->slots = msc_split_slots(keys);
    v->keys = keys;
    v->addr = (uint64_t)(uintptr_t)values;
    v->bytes = ((uint8_t *)values)[-1] + (uint64_t)v->slots * sizeof(PyObject *);
    return 1;
}

/* A dict object the instance's traverse does not report: none here. */
static inline PyObject *msc_untraversed_dict(PyObject *o, msc_inline_values_t *v)
{
    (void)o;
    (void)v;
    return NULL;
}

/* The block a dict grew itself: its values array or its hash table, 0 for
 * the tables that are shared or recycled (the static empty table, and the
 * smallest str-keyed tables, kept on a free list). */
static inline uint64_t msc_dict_block(PyDictObject *d)
{
    if (d->ma_values) return (uint64_t)(uintptr_t)d->ma_values - ((uint8_t *)d->ma_values)[-1];
    PyDictKeysObject *k = d->ma_keys;
    if (k->dk_log2_size < MSC_DICT_LOG_MINSIZE) return 0;
    if (k->dk_log2_size == MSC_DICT_LOG_MINSIZE && k->dk_kind == DICT_KEYS_UNICODE) return 0;
    return (uint64_t)(uintptr_t)k;
}

/* Whether a str's characters are in its canonical storage: a legacy
 * str made from wchar_t may not be yet on 3.11. */
static inline int msc_str_ready(PyObject *s)
{
    return PyUnicode_IS_READY(s);
}

/* sys.getsizeof of a compact ASCII str, or 0 when it is another shape
 * (3.11 may attach a wchar_t copy). */
static inline uint64_t msc_ascii_size(PyObject *s)
{
    if (!PyUnicode_IS_COMPACT_ASCII(s) || ((PyASCIIObject *)s)->wstr) return 0;
    return sizeof(PyASCIIObject) + (uint64_t)PyUnicode_GET_LENGTH(s) + 1;
}

/* sys.getsizeof of an int: its digits, at least one. */
static inline uint64_t msc_int_size(PyObject *o)
{
    return offsetof(PyLongObject, ob_digit) +
           (uint64_t)Py_MAX(Py_ABS(Py_SIZE(o)), 1) * sizeof(digit);
}

/*
 * Interpreter state.
 */

/* Whether a thread of interp holding its GIL also holds the main
 * interpreter's: 3.11 has one GIL for all interpreters. */
static inline int msc_interp_shares_main_gil(PyInterpreterState *interp,
                                             PyInterpreterState *main_interp)
{
    (void)interp;
    (void)main_interp;
    return 1;
}

static inline PyObject *msc_interp_modules(PyInterpreterState *interp)
{
    return interp->modules;
}

static inline PyObject *msc_interp_importlib(PyInterpreterState *interp)
{
    return interp->importlib;
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

/* The heads of the collector's lists, youngest first: its generations and
 * the permanent one (gc.freeze). Returns how many. */
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
