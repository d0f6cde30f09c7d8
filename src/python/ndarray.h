/* numpy arrays as the heap walker reads them: from the array's own fields,
 * laid out as numpy's public headers define them, without numpy's C API (the
 * build does not need numpy) and without running any Python code. */
#ifndef MEMSCOPE_NDARRAY_H
#define MEMSCOPE_NDARRAY_H

#include <Python.h>

#include <stdint.h>

/* The leading fields of numpy's PyArrayObject_fields (ndarraytypes.h), the
 * same in numpy 1.x and 2.x; the fields after them (weakreflist,
 * _buffer_info, mem_handler) are never read. */
typedef struct msc_ndarray {
    PyObject_HEAD char *data;                /* borrowed: the first element */
    int nd;                    /* dimensions */
    Py_ssize_t *dimensions;    /* borrowed: nd lengths (numpy's npy_intp) */
    Py_ssize_t *strides;       /* borrowed: nd byte steps */
    PyObject *base;            /* the object whose memory a view shows, or NULL */
    PyObject *descr;           /* the dtype (PyArray_Descr) */
    int flags;                 /* NPY_ARRAY_* */
} msc_ndarray_t;

/* What an array is, read from it and its dtype. */
typedef struct msc_ndarray_info {
    int owner;                 /* it owns its buffer (NPY_ARRAY_OWNDATA) */
    int kind;                  /* 'i', 'u', 'f', 'O', or 0 for any other dtype */
    int itemsize;              /* bytes an element, for the kinds above */
    uint64_t length;           /* elements: the product of the dimensions */
} msc_ndarray_info_t;

/* Whether tp is numpy.ndarray or a subclass of it, found by name along
 * tp_base (so that numpy is never imported), with room for the fields
 * msc_ndarray_t reads. */
int msc_ndarray_type(PyTypeObject *tp);

/* Reads o's fields (o must be of a type msc_ndarray_type accepts). */
void msc_ndarray_info(PyObject *o, msc_ndarray_info_t *info);

/* "float64 (1000, 3)": the name of the array's scalar type (numpy's own
 * tp_name, less "numpy.") and its shape, into buf (always terminated);
 * the length written. */
size_t msc_ndarray_describe(PyObject *o, char *buf, size_t n);

/* Where element i (C order) of the array sits. */
const char *msc_ndarray_item(const msc_ndarray_t *a, uint64_t i);

/* The narrowest element of the array's kind ('i', 'u' or 'f', native byte
 * order) that holds every one of up to samples elements spread evenly over
 * it: 1, 2, 4 or 8 for integers, 4 or the itemsize for floats (4 when each
 * is exactly a float32). */
int msc_ndarray_fits(PyObject *o, const msc_ndarray_info_t *info, uint64_t samples);

#endif
