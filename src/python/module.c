/* The _memscope extension module: creates the module and lets each part of
 * src/python add its functions (recorder.c, the captures, the heap walker, the advice
 * and wrap.c). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "memscope/common.h"
#include "pyparts.h"

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "memscope._memscope",
    .m_doc = "memscope's recorder and heap walker (C extension).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__memscope(void)
{
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    if (PyModule_AddStringConstant(m, "__version__", msc_version) < 0 ||
        msc_py_recorder_init(m) < 0 || msc_py_capture_init(m) < 0 || msc_py_heap_init(m) < 0 ||
        msc_py_advise_init(m) < 0 || msc_py_wrap_init(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
