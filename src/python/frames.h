/* Every access the recorder makes to CPython internals, in one version-gated
 * place: the current thread state, the thread's innermost frame, and a
 * frame's code object, instruction offset, caller and completeness, plus the
 * code object's extra-slot array. Only 3.11 exists on our machines; 3.12 and
 * 3.13 add a branch here (their layouts differ: f_code moves, 3.13 drops
 * _PyCFrame and uses f_executable/instr_ptr) and nothing else changes.
 *
 * Include this before any other Python header. */
#ifndef MEMSCOPE_FRAMES_H
#define MEMSCOPE_FRAMES_H

#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE_MODULE 1
#include <Python.h>

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
#include "internal/pycore_frame.h"
#include "internal/pycore_pystate.h"

typedef _PyInterpreterFrame msc_pyframe_t;

/* The GIL holder's thread state: one relaxed load. Only meaningful when the
 * caller holds the GIL (MEM/OBJ domains), or to test whether it does. */
static inline PyThreadState *msc_tstate_gil(void)
{
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

static inline PyCodeObject *msc_frame_code(msc_pyframe_t *f)
{
    return f->f_code;
}

static inline uint32_t msc_frame_offset(msc_pyframe_t *f)
{
    return (uint32_t)_PyInterpreterFrame_LASTI(f);
}

/* Frames between their push and first RESUME are not yet running code: they
 * have no meaningful offset (CPython's _PyFrame_IsIncomplete, gh-96612).
 * Generator frames are always complete; a generator's frame only runs
 * from its first RESUME on, so the offset test alone gives the same answer
 * for every frame on a running stack. */
static inline int msc_frame_incomplete(msc_pyframe_t *f)
{
    return f->owner != FRAME_OWNED_BY_GENERATOR &&
           f->prev_instr < _PyCode_CODE(f->f_code) + f->f_code->_co_firsttraceable;
}

static inline int msc_frame_offset_incomplete(PyCodeObject *co, uint32_t offset)
{
    return (int32_t)offset < co->_co_firsttraceable;
}

/* co_extra points at this (Objects/codeobject.c, private but fixed in 3.11). */
typedef struct msc_code_extra {
    Py_ssize_t size;
    void *extras[1];
} msc_code_extra_t;

static inline void *msc_code_extra(PyCodeObject *co, Py_ssize_t index)
{
    msc_code_extra_t *ex = co->co_extra;
    return ex && index < ex->size ? ex->extras[index] : NULL;
}

#else
#error "memscope's recorder supports CPython 3.11; add this version's frame access here"
#endif

#endif
