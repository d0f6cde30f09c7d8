/* numpy arrays read in place (ndarray.h): the heap walker asks whether an
 * object is an array, whether it owns its buffer, what its dtype is, where
 * each element sits (an object array's elements are its referents), and how
 * narrow a dtype its values would fit (for the dtype advice).
 *
 * The dtype's layout is where numpy 1.x and 2.x differ: both keep kind,
 * type, byteorder, one spare char and then type_num at the same offsets,
 * but 2.x widened elsize to npy_intp behind a 64-bit flags word. So only
 * the fields up to type_num are read, and the element size of the dtypes
 * the walker cares about comes from type_num, whose values numpy never
 * changes (NPY_TYPES in ndarraytypes.h). The layouts were checked against
 * numpy 2.4's headers (the version the tests run) and numpy 1.x's
 * ndarraytypes.h (char flags then int type_num, int elsize). */
#include "ndarray.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define NPY_ARRAY_OWNDATA 0x0004   /* ndarraytypes.h, 1.x and 2.x */
#define MAX_DIMS 64                /* NPY_MAXDIMS in 2.x; 32 in 1.x */

/* The leading fields of numpy's PyArray_Descr, the same in 1.x and 2.x. */
typedef struct descr_head {
    PyObject_HEAD PyTypeObject *typeobj;
    char kind;                 /* 'b', 'i', 'u', 'f', 'c', 'O', 'S', 'U', 'V', 'M', 'm' */
    char type;
    char byteorder;            /* '=' native, '|' not applicable, '<' or '>' explicit */
    char spare;                /* flags in 1.x, _former_flags in 2.x */
    int type_num;              /* enum NPY_TYPES */
} descr_head_t;

int msc_ndarray_type(PyTypeObject *tp)
{
    /* An "ndarray" too small for the fields read is not numpy's. */
    if (tp->tp_basicsize < (Py_ssize_t)sizeof(msc_ndarray_t)) return 0;
    for (; tp; tp = tp->tp_base)
        if (strcmp(tp->tp_name, "numpy.ndarray") == 0) return 1;
    return 0;
}

/* The element size of the integer, float and object dtypes (NPY_TYPES:
 * BYTE 1 .. ULONGLONG 10, FLOAT 11, DOUBLE 12, OBJECT 17, HALF 23), as the
 * C types numpy names them after; 0 for any other. */
static int type_size(int type_num)
{
    switch (type_num) {
    case 1:
    case 2: return 1;
    case 3:
    case 4: return (int)sizeof(short);
    case 5:
    case 6: return (int)sizeof(int);
    case 7:
    case 8: return (int)sizeof(long);
    case 9:
    case 10: return (int)sizeof(long long);
    case 11: return (int)sizeof(float);
    case 12: return (int)sizeof(double);
    case 17: return (int)sizeof(PyObject *);
    case 23: return 2;
    default: return 0;
    }
}

static int native_order(char byteorder)
{
    if (byteorder == '=' || byteorder == '|') return 1;
#if PY_LITTLE_ENDIAN
    return byteorder == '<';
#else
    return byteorder == '>';
#endif
}

void msc_ndarray_info(PyObject *o, msc_ndarray_info_t *info)
{
    const msc_ndarray_t *a = (const msc_ndarray_t *)o;
    const descr_head_t *d = (const descr_head_t *)a->descr;
    memset(info, 0, sizeof(*info));
    info->owner = (a->flags & NPY_ARRAY_OWNDATA) != 0;
    if (a->nd < 0 || a->nd > MAX_DIMS) return;
    info->length = 1;
    for (int k = 0; k < a->nd; k++)
        info->length *= a->dimensions[k] > 0 ? (uint64_t)a->dimensions[k] : 0;
    if (!d) return;
    int size = type_size(d->type_num);
    int kind = d->kind;
    if (!size || !native_order(d->byteorder) || !strchr("iufO", kind) || !kind) return;
    info->kind = kind;
    info->itemsize = size;
}

size_t msc_ndarray_describe(PyObject *o, char *buf, size_t n)
{
    const msc_ndarray_t *a = (const msc_ndarray_t *)o;
    const descr_head_t *d = (const descr_head_t *)a->descr;
    const char *name = d && d->typeobj ? d->typeobj->tp_name : "?";
    const char *dot = strrchr(name, '.');
    size_t len = (size_t)snprintf(buf, n, "%s (", dot ? dot + 1 : name);
    for (int k = 0; k < a->nd && k < MAX_DIMS && len < n; k++)
        len += (size_t)snprintf(buf + len, n - len, k ? ", %zd" : "%zd", a->dimensions[k]);
    if (len < n) len += (size_t)snprintf(buf + len, n - len, a->nd == 1 ? ",)" : ")");
    return len < n ? len : n - 1;
}

const char *msc_ndarray_item(const msc_ndarray_t *a, uint64_t i)
{
    Py_ssize_t offset = 0;
    for (int k = a->nd - 1; k >= 0; k--) {
        uint64_t n = (uint64_t)a->dimensions[k];
        offset += (Py_ssize_t)(i % n) * a->strides[k];
        i /= n;
    }
    return a->data + offset;
}

/* The bytes a signed (or unsigned) integer needs to hold lo..hi. */
static int int_width(int64_t lo, int64_t hi)
{
    if (lo >= INT8_MIN && hi <= INT8_MAX) return 1;
    if (lo >= INT16_MIN && hi <= INT16_MAX) return 2;
    if (lo >= INT32_MIN && hi <= INT32_MAX) return 4;
    return 8;
}

static int uint_width(uint64_t hi)
{
    return hi <= UINT8_MAX ? 1 : hi <= UINT16_MAX ? 2 : hi <= UINT32_MAX ? 4 : 8;
}

/* Element i as the kind says, widened: signed into *s, unsigned into *u,
 * float into *f. */
static void read_item(const char *p, int kind, int size, int64_t *s, uint64_t *u, double *f)
{
    int8_t i1;
    int16_t i2;
    int32_t i4;
    int64_t i8;
    float f4;
    double f8;
    if (kind == 'f') {
        if (size == 4) memcpy(&f4, p, 4), *f = f4;
        else if (size == 8) memcpy(&f8, p, 8), *f = f8;
        return;
    }
    switch (size) {
    case 1: memcpy(&i1, p, 1), *s = i1, *u = (uint8_t)i1; break;
    case 2: memcpy(&i2, p, 2), *s = i2, *u = (uint16_t)i2; break;
    case 4: memcpy(&i4, p, 4), *s = i4, *u = (uint32_t)i4; break;
    default: memcpy(&i8, p, 8), *s = i8, *u = (uint64_t)i8; break;
    }
}

int msc_ndarray_fits(PyObject *o, const msc_ndarray_info_t *info, uint64_t samples)
{
    const msc_ndarray_t *a = (const msc_ndarray_t *)o;
    int kind = info->kind, size = info->itemsize;
    uint64_t n = info->length, step = n > samples ? n / samples : 1;
    int64_t lo = 0, hi = 0;
    uint64_t uhi = 0;
    int floats_fit = size == 8;
    for (uint64_t i = 0; i < n; i += step) {
        int64_t s = 0;
        uint64_t u = 0;
        double f = 0;
        read_item(msc_ndarray_item(a, i), kind, size, &s, &u, &f);
        if (s < lo) lo = s;
        if (s > hi) hi = s;
        if (u > uhi) uhi = u;
        /* NaN and the infinities are float32 values too; a finite value
         * beyond float32's range is not (and converting it is undefined). */
        if (kind == 'f' && floats_fit && !isnan(f) && !isinf(f) &&
            (fabs(f) > FLT_MAX || (double)(float)f != f))
            floats_fit = 0;
    }
    if (kind == 'i') return int_width(lo, hi);
    if (kind == 'u') return uint_width(uhi);
    return floats_fit ? 4 : size;
}
