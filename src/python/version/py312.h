/* CPython 3.12's internals, for the version layer (version.h). The
 * attached thread state is thread-local, the frame chain still hangs off
 * tstate->cframe, each call of the evaluation loop pushes a shim frame owned
 * by the C stack, frames hold f_funcobj and prev_instr, code objects have
 * watchers, an int's digit count is in lv_tag, str has no wchar_t copy, and
 * the managed dict word three before the object holds either the dict or
 * the tagged pointer of a separate inline-values block. */
#ifndef MEMSCOPE_VERSION_PY312_H
#define MEMSCOPE_VERSION_PY312_H

#include "internal/pycore_dict.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_long.h"
#include "internal/pycore_object.h"
#include "internal/pycore_pystate.h"

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
    return ts && ts->cframe ? ts->cframe->current_frame : NULL;
}

static inline msc_pyframe_t *msc_frame_previous(msc_pyframe_t *f)
{
    return f->previous;
}

/* The frame's code object; NULL for the evaluation loop's entry shims,
 * owned by the C stack, which run the interpreter's trampoline code. */
static inline PyCodeObject *msc_frame_code(msc_pyframe_t *f)
{
    return f->owner == FRAME_OWNED_BY_CSTACK ? NULL : f->f_code;
}

/* The frame's code object as the frame holds it, not checked to be one:
 * for a copy of a frame a signal handler read, which checks it itself.
 * NULL for shims. */
static inline PyCodeObject *msc_frame_code_unchecked(msc_pyframe_t *f)
{
    return f->owner == FRAME_OWNED_BY_CSTACK ? NULL : f->f_code;
}

/* Whether a frame is an entry shim owned by the C stack. */
static inline int msc_frame_is_shim(msc_pyframe_t *f)
{
    return f->owner == FRAME_OWNED_BY_CSTACK;
}

/* The instruction being executed, in code units from the first (the unit
 * before the next instruction: a cache entry of the same line at worst). */
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

/* Frames between their push and first RESUME, and shims, run no code of
 * their own yet (CPython's _PyFrame_IsIncomplete). */
static inline int msc_frame_incomplete(msc_pyframe_t *f)
{
    if (f->owner == FRAME_OWNED_BY_CSTACK) return 1;
    return f->owner != FRAME_OWNED_BY_GENERATOR &&
           msc_frame_offset_incomplete(f->f_code, msc_frame_offset(f));
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

#define MSC_MANAGED_DICT_OFFSET (-3 * (Py_ssize_t)sizeof(PyObject *))
#define MSC_TUPLE_FREELIST_SIZE PyTuple_MAXSAVESIZE
#define MSC_DICT_LOG_MINSIZE 3 /* dictobject.c's PyDict_LOG_MINSIZE */

/* The bytes before an object of type tp in its block, which sys.getsizeof
 * counts: the GC head, and two words for a managed dict or weakref list. */
static inline Py_ssize_t msc_type_preheader(PyTypeObject *tp)
{
    return (Py_ssize_t)_PyType_PreHeaderSize(tp);
}

/* The pre-header sys.getsizeof adds to o, given its type's. */
static inline Py_ssize_t msc_object_preheader(PyObject *o, Py_ssize_t type_preheader)
{
    (void)o;
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
    Py_ssize_t entries;        /* slots that may hold a value (the keys' entries) */
    Py_ssize_t slots;          /* slots allocated */
    PyDictKeysObject *keys;    /* the class's shared keys: slot i's name */
    uint64_t addr;             /* where the values are */
    uint64_t bytes;            /* the values' own block, when they have one */
} msc_inline_values_t;

/* As on 3.11, but the values pointer is tagged in the dict's word. */
static inline int msc_inline_values(PyObject *o, msc_inline_values_t *v)
{
    PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(o);
    PyDictKeysObject *keys = ((PyHeapTypeObject *)Py_TYPE(o))->ht_cached_keys;
    if (!_PyDictOrValues_IsValues(dorv) || !keys) return 0;
    PyDictValues *values = _PyDictOrValues_GetValues(dorv);
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

static inline uint64_t msc_dict_block(PyDictObject *d)
{
    if (d->ma_values) return (uint64_t)(uintptr_t)d->ma_values - ((uint8_t *)d->ma_values)[-1];
    PyDictKeysObject *k = d->ma_keys;
    if (k->dk_log2_size < MSC_DICT_LOG_MINSIZE) return 0;
    if (k->dk_log2_size == MSC_DICT_LOG_MINSIZE && k->dk_kind == DICT_KEYS_UNICODE) return 0;
    return (uint64_t)(uintptr_t)k;
}

#include "py312plus.h"

#endif
