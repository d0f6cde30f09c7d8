/* The version layer: every access the extension makes to CPython's
 * internals, behind names that say what they return. One file per
 * supported interpreter (version/py311.h, py312.h, py313.h), chosen here by
 * PY_VERSION_HEX; each has the same sections, one per concern:
 *
 *   threads and frames   the attached thread state, the frame chain, a
 *                        frame's code, instruction offset and contents
 *   code objects         how the recorder learns that a code object died
 *   object layouts       pre-headers, managed dicts and inline values, dict
 *                        storage, str and int sizes, free-listed types
 *   interpreter state    the import tables, the GC's lists, block counts
 *
 * Nothing outside src/python/version* includes internal/pycore_*.h. What a
 * new version (3.14, a free-threaded build) needs is in docs/versions.md.
 * Include this before any other Python header. */
#ifndef MEMSCOPE_VERSION_H
#define MEMSCOPE_VERSION_H

#define PY_SSIZE_T_CLEAN
#define Py_BUILD_CORE_MODULE 1
#include <Python.h>

#ifdef Py_GIL_DISABLED
#error                                                                                             \
    "memscope supports CPython 3.11, 3.12 and 3.13 with the GIL; free-threaded builds need a layer of their own (docs/versions.md)"
#elif PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
#include "version/py311.h"
#elif PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030D0000
#include "version/py312.h"
#elif PY_VERSION_HEX >= 0x030D0000 && PY_VERSION_HEX < 0x030E0000
#include "version/py313.h"
#else
#error                                                                                             \
    "memscope supports CPython 3.11, 3.12 and 3.13 (docs/versions.md says what another version needs)"
#endif

/* The same on every version, written once from what the layers give. */

/* The UTF-8 of at most max bytes of a str, cut at a character boundary,
 * computed from the string's own storage: no UTF-8 cache is attached to it
 * and nothing is allocated, so allocator hooks may call it. 0 when s is not
 * a ready str. */
static inline size_t msc_str_utf8(PyObject *s, char *out, size_t max)
{
    if (!s || !PyUnicode_Check(s) || !msc_str_ready(s)) return 0;
    Py_ssize_t len = PyUnicode_GET_LENGTH(s);
    if (PyUnicode_IS_COMPACT_ASCII(s)) {
        size_t n = (size_t)len < max ? (size_t)len : max;
        memcpy(out, PyUnicode_DATA(s), n);
        return n;
    }
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    size_t n = 0;
    for (Py_ssize_t i = 0; i < len; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        char b[4];
        size_t k;
        if (c < 0x80) b[0] = (char)c, k = 1;
        else if (c < 0x800) b[0] = (char)(0xC0 | c >> 6), b[1] = (char)(0x80 | (c & 63)), k = 2;
        else if (c < 0x10000 && (c < 0xD800 || c > 0xDFFF))
            b[0] = (char)(0xE0 | c >> 12), b[1] = (char)(0x80 | ((c >> 6) & 63)),
            b[2] = (char)(0x80 | (c & 63)), k = 3;
        else if (c >= 0x10000)
            b[0] = (char)(0xF0 | c >> 18), b[1] = (char)(0x80 | ((c >> 12) & 63)),
            b[2] = (char)(0x80 | ((c >> 6) & 63)), b[3] = (char)(0x80 | (c & 63)), k = 4;
        else b[0] = '?', k = 1; /* a lone surrogate */
        if (n + k > max) break;
        memcpy(out + n, b, k);
        n += k;
    }
    return n;
}

/* The key of an instance's inline value slot i. */
static inline PyObject *msc_inline_key(const msc_inline_values_t *v, Py_ssize_t i)
{
    return DK_UNICODE_ENTRIES(v->keys)[i].me_key;
}

/* How many blocks the object allocator has handed out and not taken back
 * (sys.getallocatedblocks, whose C side is internal and not exported from
 * 3.12 on); 0 when unknown. Not for allocator hooks: it calls Python. */
static inline Py_ssize_t msc_allocated_blocks(void)
{
    PyObject *fn = PySys_GetObject("getallocatedblocks");
    PyObject *r = fn ? PyObject_CallNoArgs(fn) : NULL;
    Py_ssize_t n = r && PyLong_Check(r) ? PyLong_AsSsize_t(r) : 0;
    Py_XDECREF(r);
    if (PyErr_Occurred()) PyErr_Clear();
    return n > 0 ? n : 0;
}

/* Where the allocator's block holding o starts (see heapwalk.h). Exact
 * floats, short tuples, lists and dicts are recycled through free lists on
 * every supported version (per interpreter up to 3.12, per thread from
 * 3.13) that the allocator never sees, so the block at such an object may
 * be an earlier object's: a list or dict is named by the storage it grew
 * itself instead, a float or short tuple not at all. */
static inline uint64_t msc_object_block(PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    if (tp == &PyList_Type) return (uint64_t)(uintptr_t)((PyListObject *)o)->ob_item;
    if (tp == &PyDict_Type) return msc_dict_block((PyDictObject *)o);
    if (tp == &PyFloat_Type || (tp == &PyTuple_Type && Py_SIZE(o) < MSC_TUPLE_FREELIST_SIZE))
        return 0;
    return (uint64_t)(uintptr_t)o - (uint64_t)msc_type_preheader(tp);
}

#endif
