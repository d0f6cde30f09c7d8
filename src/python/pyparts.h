/* The parts of the _memscope extension. Each adds its functions and
 * constants to the module; -1 with an exception set on failure. */
#ifndef MEMSCOPE_PYPARTS_H
#define MEMSCOPE_PYPARTS_H

#include <Python.h>

int msc_py_recorder_init(PyObject *module);
int msc_py_capture_init(PyObject *module);
int msc_py_heap_init(PyObject *module);

#endif
