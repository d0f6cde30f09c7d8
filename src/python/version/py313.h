/* CPython 3.13's internals, for the version layer (version.h). Against
 * 3.12: the frame chain hangs off tstate->current_frame; a frame's
 * f_executable is a code object or, for the shims the C stack owns, None;
 * instr_ptr is the instruction being executed; an instance of a class
 * without __slots__ keeps its attributes inline, right after its object
 * header (Py_TPFLAGS_INLINE_VALUES), in a PyDictValues that carries its own
 * capacity and validity, and the managed dict word holds only a dict;
 * free lists are per thread. */
#ifndef MEMSCOPE_VERSION_PY313_H
#define MEMSCOPE_VERSION_PY313_H

/* 3.13's internal headers have inline functions with unused parameters:
 * -Wunused-parameter is silenced for them, and only for them. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "internal/pycore_dict.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_long.h"
#include "internal/pycore_object.h"
#include "internal/pycore_pystate.h"
#pragma GCC diagnostic pop

/*
 * Threads and frames.
 */

typedef _PyInterpreterFrame msc_pyframe_t;

/* This thread's thread state if it is attached (holds its interpreter's
 * GIL) now, else NULL: a thread-local since 3.12, whatever the domain. */
static inline PyThreadState *msc_tstate_attached(int gil_by_contract)
{
    (void)gil_by_contract;
    return _PyThreadState_GET();
}

static inline msc_pyframe_t *msc_frame_first(PyThreadState *ts)
{
    return ts ? ts->current_frame : NULL;
}

static inline msc_pyframe_t *msc_frame_previous(msc_pyframe_t *f)
{
    return f->previous;
}

/* The frame's code object; NULL for the evaluation loop's entry shims,
 * owned by the C stack, whose f_executable is None. */
static inline PyCodeObject *msc_frame_code(msc_pyframe_t *f)
{
    PyObject *x = f->f_executable;
    return f->owner == FRAME_OWNED_BY_CSTACK || !x || !PyCode_Check(x) ? NULL : (PyCodeObject *)x;
}

/* The frame's executable as the frame holds it, not checked to be a code
 * object: for a copy of a frame a signal handler read, which checks it
 * itself. NULL for shims. */
static inline PyCodeObject *msc_frame_code_unchecked(msc_pyframe_t *f)
{
    return f->owner == FRAME_OWNED_BY_CSTACK ? NULL : (PyCodeObject *)f->f_executable;
}

/* Whether a frame is an entry shim owned by the C stack. */
static inline int msc_frame_is_shim(msc_pyframe_t *f)
{
    return f->owner == FRAME_OWNED_BY_CSTACK;
}

/* The instruction being executed, in code units from the first. */
static inline uint32_t msc_frame_offset(msc_pyframe_t *f)
{
    return (uint32_t)(f->instr_ptr - _PyCode_CODE((PyCodeObject *)f->f_executable));
}

/* The instruction the frame runs as an address, for comparing frames:
 * msc_code_offset makes it msc_frame_offset's offset. */
static inline uintptr_t msc_frame_instr(msc_pyframe_t *f)
{
    return (uintptr_t)f->instr_ptr;
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

/* Frames between their push and first RESUME, and shims, run no code of
 * their own yet (CPython's _PyFrame_IsIncomplete). */
static inline int msc_frame_incomplete(msc_pyframe_t *f)
{
    PyCodeObject *co = msc_frame_code(f);
    if (!co) return 1;
    return f->owner != FRAME_OWNED_BY_GENERATOR &&
           msc_frame_offset_incomplete(co, msc_frame_offset(f));
}

static inline PyObject *msc_frame_function(msc_pyframe_t *f)
{
    return f->f_funcobj;
}

static inline PyObject *msc_frame_locals(msc_pyframe_t *f)
{
    return f->f_locals;
}

static inline PyObject *msc_frame_object(msc_pyframe_t *f)
{
    return (PyObject *)f->frame_obj;
}

static inline PyObject **msc_frame_slots(msc_pyframe_t *f, int *n)
{
    *n = f->stacktop;
    return f->localsplus;
}

/*
 * Code objects.
 */

static void (*msc__code_died_fn)(PyCodeObject *co);

static inline int msc__code_event(PyCodeEvent event, PyCodeObject *co)
{
    if (event == PY_CODE_EVENT_DESTROY) msc__code_died_fn(co);
    return 0;
}

/* Calls died(co) as each code object of this interpreter is destroyed
 * (PyCode_AddWatcher, GIL held, before its memory is freed). 0, or -1
 * with an exception set. */
static inline int msc_code_watch(void (*died)(PyCodeObject *co))
{
    msc__code_died_fn = died;
    return PyCode_AddWatcher(msc__code_event) < 0 ? -1 : 0;
}

/*
 * Object layouts.
 */

/* A type's namespace, borrowed for as long as the type lives. A static
 * builtin type's is kept per interpreter since 3.12 (its tp_dict is NULL):
 * PyType_GetDict finds it, and the interpreter keeps it alive. */
static inline PyObject *msc_type_dict(PyTypeObject *tp)
{
    PyObject *dict = PyType_GetDict(tp);
    Py_XDECREF(dict);
    return dict;
}

#define MSC_MANAGED_DICT_OFFSET MANAGED_DICT_OFFSET
#define MSC_TUPLE_FREELIST_SIZE PyTuple_MAXSAVESIZE
#define MSC_DICT_LOG_MINSIZE 3 /* dictobject.c's PyDict_LOG_MINSIZE */

/* The bytes before an object of type tp in its block, which sys.getsizeof
 * counts: the GC head, and two words for a managed dict or weakref list. */
static inline Py_ssize_t msc_type_preheader(PyTypeObject *tp)
{
    return (Py_ssize_t)_PyType_PreHeaderSize(tp);
}

/* The pre-header sys.getsizeof adds to o, given its type's: none for a
 * static type, which was never allocated with one (3.13's sys.getsizeof
 * leaves it out). */
static inline Py_ssize_t msc_object_preheader(PyObject *o, Py_ssize_t type_preheader)
{
    if (Py_IS_TYPE(o, &PyType_Type) && !(((PyTypeObject *)o)->tp_flags & Py_TPFLAGS_HEAPTYPE))
        return 0;
    return type_preheader;
}

/* The value slots of a split dict or inline values (shared_keys_usable_size). */
static inline Py_ssize_t msc_split_slots(PyDictKeysObject *keys)
{
    return keys->dk_nentries + keys->dk_usable;
}

/* An instance's attributes kept as inline values, with no dict object. */
typedef struct msc_inline_values {
    PyObject **values;         /* the value slots */
    Py_ssize_t entries;        /* slots that may hold a value */
    Py_ssize_t slots;          /* slots allocated */
    PyDictKeysObject *keys;    /* the class's shared keys: slot i's name */
    uint64_t addr;             /* where the values are */
    uint64_t bytes;            /* what they take of the instance's block */
} msc_inline_values_t;

/* The values inside o, when its class has them and they are still in use
 * (a dict that outgrew the shared keys invalidates them). */
static inline PyDictValues *msc__valid_values(PyObject *o)
{
    if (!(Py_TYPE(o)->tp_flags & Py_TPFLAGS_INLINE_VALUES)) return NULL;
    PyDictValues *values = _PyObject_InlineValues(o);
    return values->valid ? values : NULL;
}

static inline void msc__fill_values(PyObject *o, PyDictValues *values, msc_inline_values_t *v)
{
    PyDictKeysObject *keys = ((PyHeapTypeObject *)Py_TYPE(o))->ht_cached_keys;
    v->values = values->values;
    v->entries = values->capacity;
    if (keys && keys->dk_nentries < v->entries) v->entries = keys->dk_nentries;
    v->slots = values->capacity;
    v->keys = keys;
    v->addr = (uint64_t)(uintptr_t)values;
    v->bytes = (uint64_t)_PyInlineValuesSize(Py_TYPE(o));
}

/* 1 and *v filled when o keeps its attributes inline with no dict object;
 * 0 when it has a dict (which may share the inline values) or none. */
static inline int msc_inline_values(PyObject *o, msc_inline_values_t *v)
{
    PyDictValues *values = msc__valid_values(o);
    if (!values || _PyObject_GetManagedDict(o) || !((PyHeapTypeObject *)Py_TYPE(o))->ht_cached_keys)
        return 0;
    msc__fill_values(o, values, v);
    return 1;
}

/* A dict object the instance's traverse does not report: a dict made for
 * an instance whose values are still inline shares them, and the
 * instance's traverse visits the values rather than the dict. *v is
 * filled with the values, which the dict's own traverse reports. */
static inline PyObject *msc_untraversed_dict(PyObject *o, msc_inline_values_t *v)
{
    PyDictValues *values = msc__valid_values(o);
    PyDictObject *dict = values ? _PyObject_GetManagedDict(o) : NULL;
    if (!dict) return NULL;
    msc__fill_values(o, values, v);
    return (PyObject *)dict;
}

/* A split dict's values are the dict's own block unless embedded in the
 * instance they belong to. */
static inline uint64_t msc_dict_block(PyDictObject *d)
{
    if (d->ma_values) return d->ma_values->embedded ? 0 : (uint64_t)(uintptr_t)d->ma_values;
    PyDictKeysObject *k = d->ma_keys;
    if (k->dk_log2_size < MSC_DICT_LOG_MINSIZE) return 0;
    if (k->dk_log2_size == MSC_DICT_LOG_MINSIZE && k->dk_kind == DICT_KEYS_UNICODE) return 0;
    return (uint64_t)(uintptr_t)k;
}

#include "py312plus.h"

#endif
