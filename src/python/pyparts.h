/* The parts of the _memscope extension. Each adds its functions and
 * constants to the module; -1 with an exception set on failure. */
#ifndef MEMSCOPE_PYPARTS_H
#define MEMSCOPE_PYPARTS_H

#include <Python.h>

int msc_py_recorder_init(PyObject *module);
int msc_py_capture_init(PyObject *module);
int msc_py_heap_init(PyObject *module);
int msc_py_advise_init(PyObject *module);

/* The analysis and symbols of a _memscope.Capture, borrowed for as long as
 * the caller holds a reference to it: 0, or -1 with TypeError when obj is
 * not a Capture. */
struct msc_analysis;
struct msc_symbols;
int msc_py_capture_parts(PyObject *obj, const struct msc_analysis **analysis,
                         struct msc_symbols **symbols);

#endif
