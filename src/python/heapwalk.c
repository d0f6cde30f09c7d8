/* The heap walker: a breadth-first walk of the live object graph through
 * each type's tp_traverse, from the interpreter's roots (sys.modules, the
 * builtins, every thread's frames and state) and then from every object the
 * collector tracks that the roots did not reach. Objects the collector does
 * not track (str, int, float, bytes) are found inside the containers, and
 * numpy arrays, which numpy does not traverse, are read in place
 * (ndarray.h): their base, their dtype and an object array's elements.
 *
 * It measures without disturbing: no Python object is created for
 * bookkeeping (the graph lives in core's malloc'd columns), instance
 * dictionaries that CPython keeps as inline values are read in place rather
 * than materialised, and sizes come from each type's C __sizeof__, never
 * from a Python override. The version layer (version.h) gives the frame,
 * GC and dict layouts. Reports that look at contents also get, read from each object's
 * own fields, a digest of every str's and bytes' contents (to find equal
 * copies) and every container's length and capacity (to find empty ones). */
#include "version.h"

#include <structmember.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "heapwalk.h"
#include "ndarray.h"

#define MAX_LABELS 64              /* members remembered per type for edge names */
#define MAX_VALUES 256             /* inline attribute values routed through "dict of" */

/* How an object of a type is sized: the common builtins inline, with the
 * formula of their own __sizeof__, the rest by calling it. */
enum sizer { SIZE_CALL, SIZE_OBJECT, SIZE_STR, SIZE_INT };

/* What the walker knows about one type, computed on first sight. */
typedef struct type_info {
    PyTypeObject *tp;          /* key; NULL for an empty slot */
    uint32_t index;            /* heap type index */
    PyCFunction sizeof_fn;     /* the C __sizeof__ to call, NULL for object's rule */
    enum sizer sizer;
    Py_ssize_t preheader;      /* GC head and managed-dict pointers sys.getsizeof adds */
    int ndarray;               /* numpy.ndarray or a subclass (ndarray.h) */
    uint16_t nlabels;
    Py_ssize_t label_off[MAX_LABELS]; /* offsets of object pointers named below */
    uint32_t label_id[MAX_LABELS];
} type_info_t;

/* An instance whose attributes are inline values: the synthetic node of
 * those values, processed later, needs its owner back. */
typedef struct owner {
    uint32_t node;
    PyObject *obj;
} owner_t;

/* Which objects the walk has reached: node index + 1 for every 16-byte
 * slot of address space, in 64 KiB pages found through a small hash table
 * of page numbers. Objects and frames are at least 16 bytes and never
 * overlap, so each has a slot of its own; and objects made together sit
 * together, so the lookups of a walk through them stay in cache, where a
 * hash of each address would miss on nearly every edge. */
#define SEEN_PAGE_SHIFT 16
#define SEEN_SLOT_SHIFT 4
#define SEEN_SLOTS (1u << (SEEN_PAGE_SHIFT - SEEN_SLOT_SHIFT))

typedef struct seen_page {
    uintptr_t number;          /* address >> SEEN_PAGE_SHIFT */
    uint32_t *slots;           /* SEEN_SLOTS entries; NULL for an empty table slot */
} seen_page_t;

typedef struct seen {
    seen_page_t *pages;        /* open addressing on the page number */
    size_t mask, used;
    seen_page_t last;          /* the page of the previous lookup */
} seen_t;

typedef struct walker {
    msc_heap_t *h;
    seen_t seen;
    type_info_t *types;        /* open addressing on the type pointer */
    size_t types_mask;
    size_t types_used;
    owner_t *owners;           /* in increasing node order */
    size_t owners_len, owners_cap, owners_next;
    uint32_t current;          /* node whose referents are being visited */
    const type_info_t *cur_type;
    PyObject *cur_obj;
    PyObject *skip[MAX_VALUES]; /* referents reported through the values node instead */
    int nskip;
    uint8_t used[MAX_LABELS];  /* member labels already given to an edge */
    int detail;                /* previews, content digests, container lengths, and dict
                                  keys and locals naming edges (files, reports) */
    uint32_t t_frame, t_dict;  /* types of synthetic nodes */
    uint32_t l_key, l_dict, l_stack, l_value, l_base, l_dtype;
    PyObject *s_sizeof, *s_module, *s_name; /* interned names, owned */
    int err;                   /* first core error */
} walker_t;

static const char *const func_fields[] = {"__code__",       "__globals__",  "__builtins__",
                                          "__name__",       "__qualname__", "__defaults__",
                                          "__kwdefaults__", "__doc__",      "__dict__",
                                          "__closure__",    "__module__",   "__annotations__"};

static uint32_t intern_c(walker_t *w, const char *s, size_t n)
{
    uint32_t id = 0;
    if (!w->err && msc_heap_intern(w->h, s, n, &id) < 0) w->err = MSC_ENOMEM;
    return id;
}

static uint32_t intern_str(walker_t *w, PyObject *s, size_t max)
{
    char small[256], *buf = max <= sizeof(small) ? small : malloc(max);
    if (!buf) {
        w->err = MSC_ENOMEM;
        return 0;
    }
    uint32_t id = intern_c(w, buf, msc_str_utf8(s, buf, max));
    if (buf != small) free(buf);
    return id;
}

/* A str or bytes object's preview: its own string, not interned. */
static uint32_t preview_string(walker_t *w, const char *s, size_t n)
{
    uint32_t id = 0;
    if (!w->err && msc_heap_add_string(w->h, s, n, &id) < 0) w->err = MSC_ENOMEM;
    return id;
}

/* The C __sizeof__ sys.getsizeof would reach, skipping Python-level
 * overrides (calling those would run the program's code); NULL means
 * object.__sizeof__, whose rule is computed inline. */
static PyCFunction find_sizeof(walker_t *w, PyTypeObject *tp)
{
    PyObject *mro = tp->tp_mro;
    if (!mro || !PyTuple_Check(mro)) return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *base = PyTuple_GET_ITEM(mro, i);
        if (!PyType_Check(base) || base == (PyObject *)&PyBaseObject_Type) continue;
        PyObject *dict = msc_type_dict((PyTypeObject *)base);
        PyObject *d = dict ? PyDict_GetItemWithError(dict, w->s_sizeof) : NULL;
        if (!d) {
            PyErr_Clear();
            continue;
        }
        if (Py_IS_TYPE(d, &PyMethodDescr_Type)) {
            PyMethodDef *m = ((PyMethodDescrObject *)d)->d_method;
            if ((m->ml_flags & (METH_VARARGS | METH_FASTCALL | METH_NOARGS | METH_O |
                                METH_KEYWORDS | METH_METHOD)) == METH_NOARGS)
                return m->ml_meth;
        }
    }
    return NULL;
}

static void add_label(type_info_t *ti, Py_ssize_t offset, uint32_t id)
{
    if (ti->nlabels < MAX_LABELS) {
        ti->label_off[ti->nlabels] = offset;
        ti->label_id[ti->nlabels++] = id;
    }
}

/* Which pointer fields of a type's instances have names: members (slots
 * included) of the type and its bases, the instance dict, and the fields
 * of functions and cells that are only reachable through getters. */
static void find_labels(walker_t *w, type_info_t *ti, PyTypeObject *tp)
{
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) add_label(ti, MSC_MANAGED_DICT_OFFSET, w->l_dict);
    else if (tp->tp_dictoffset > 0) add_label(ti, tp->tp_dictoffset, w->l_dict);
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE)
        add_label(ti, offsetof(PyObject, ob_type), intern_c(w, "__class__", 9));
    for (PyTypeObject *b = tp; b; b = b->tp_base) {
        for (PyMemberDef *m = b->tp_members; m && m->name; m++)
            if (m->type == T_OBJECT || m->type == T_OBJECT_EX)
                add_label(ti, m->offset, intern_c(w, m->name, strlen(m->name)));
    }
    if (PyType_IsSubtype(tp, &PyFunction_Type)) {
        static const Py_ssize_t offs[] = {offsetof(PyFunctionObject, func_code),
                                          offsetof(PyFunctionObject, func_globals),
                                          offsetof(PyFunctionObject, func_builtins),
                                          offsetof(PyFunctionObject, func_name),
                                          offsetof(PyFunctionObject, func_qualname),
                                          offsetof(PyFunctionObject, func_defaults),
                                          offsetof(PyFunctionObject, func_kwdefaults),
                                          offsetof(PyFunctionObject, func_doc),
                                          offsetof(PyFunctionObject, func_dict),
                                          offsetof(PyFunctionObject, func_closure),
                                          offsetof(PyFunctionObject, func_module),
                                          offsetof(PyFunctionObject, func_annotations)};
        for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
            add_label(ti, offs[i], intern_c(w, func_fields[i], strlen(func_fields[i])));
    }
    if (tp == &PyCell_Type)
        add_label(ti, offsetof(PyCellObject, ob_ref), intern_c(w, "cell_contents", 13));
    if (PyType_IsSubtype(tp, &PyType_Type))
        add_label(ti, offsetof(PyTypeObject, tp_bases), intern_c(w, "__bases__", 9));
}

/* The type's entry in the heap's type table: qualified name and module. */
static uint32_t type_index(walker_t *w, PyTypeObject *tp)
{
    uint32_t name, module, index = 0;
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        /* Whole names (up to what a snapshot holds), so that a type is
         * found by the name it has. */
        name = intern_str(w, ((PyHeapTypeObject *)tp)->ht_qualname, MSC_HEAP_MAX_STRING);
        PyObject *dict = msc_type_dict(tp);
        PyObject *mod = dict ? PyDict_GetItemWithError(dict, w->s_module) : NULL;
        if (!mod) PyErr_Clear();
        module = mod && PyUnicode_Check(mod) ? intern_str(w, mod, MSC_HEAP_MAX_STRING) : 0;
    } else {
        const char *dot = strrchr(tp->tp_name, '.');
        name = intern_c(w, dot ? dot + 1 : tp->tp_name, strlen(dot ? dot + 1 : tp->tp_name));
        module = dot ? intern_c(w, tp->tp_name, (size_t)(dot - tp->tp_name))
                     : intern_c(w, "builtins", 8);
    }
    if (!w->err && msc_heap_add_type(w->h, name, module, &index) < 0) w->err = MSC_ENOMEM;
    return index;
}

/* Doubles the type table. The entry of the type whose instance is being
 * traversed moves with it: visit() meets new types, and so growths, in the
 * middle of a traversal. */
static int grow_types(walker_t *w)
{
    size_t cap = w->types_mask ? (w->types_mask + 1) * 2 : 256;
    type_info_t *t = calloc(cap, sizeof(*t));
    if (!t) return -1;
    for (size_t i = 0; w->types && i <= w->types_mask; i++) {
        if (!w->types[i].tp) continue;
        size_t j = ((uintptr_t)w->types[i].tp >> 4) & (cap - 1);
        while (t[j].tp) j = (j + 1) & (cap - 1);
        t[j] = w->types[i];
        if (w->cur_type == &w->types[i]) w->cur_type = &t[j];
    }
    free(w->types);
    w->types = t;
    w->types_mask = cap - 1;
    return 0;
}

uint64_t msc__object_block(PyObject *o)
{
    return msc_object_block(o);
}

static const type_info_t *type_info(walker_t *w, PyTypeObject *tp)
{
    size_t i = ((uintptr_t)tp >> 4) & w->types_mask;
    for (; w->types[i].tp; i = (i + 1) & w->types_mask)
        if (w->types[i].tp == tp) return &w->types[i];
    if ((w->types_used + 1) * 2 > w->types_mask) {
        if (grow_types(w) < 0) {
            w->err = MSC_ENOMEM;
            return NULL;
        }
        return type_info(w, tp);
    }
    type_info_t *ti = &w->types[i];
    memset(ti, 0, sizeof(*ti));
    ti->index = type_index(w, tp);
    ti->sizeof_fn = find_sizeof(w, tp);
    ti->sizer = !ti->sizeof_fn          ? SIZE_OBJECT
                : tp == &PyUnicode_Type ? SIZE_STR
                : tp == &PyLong_Type    ? SIZE_INT
                                        : SIZE_CALL;
    ti->preheader = msc_type_preheader(tp);
    ti->ndarray = msc_ndarray_type(tp);
    find_labels(w, ti, tp);
    ti->tp = tp;
    w->types_used++;
    return ti;
}

/* sys.getsizeof(o), computed without running Python code. The inline
 * cases repeat CPython's unicode and int __sizeof__ for the common shapes
 * (compact ASCII; any int), which are most of a heap; every other case
 * calls the type's C __sizeof__. */
static uint64_t object_size(PyObject *o, const type_info_t *ti)
{
    PyTypeObject *tp = Py_TYPE(o);
    Py_ssize_t size = -1;
    uint64_t ascii = ti->sizer == SIZE_STR ? msc_ascii_size(o) : 0;
    if (ascii) return ascii;
    if (ti->sizer == SIZE_INT) return msc_int_size(o);
    if (ti->sizer != SIZE_OBJECT) {
        PyObject *r = ti->sizeof_fn(o, NULL);
        if (r && PyLong_Check(r)) size = PyLong_AsSsize_t(r);
        Py_XDECREF(r);
        if (size < 0) PyErr_Clear();
    }
    if (size < 0)
        size = tp->tp_basicsize + (tp->tp_itemsize > 0 ? Py_SIZE(o) * tp->tp_itemsize : 0);
    return (uint64_t)size + (uint64_t)msc_object_preheader(o, ti->preheader);
}

static uint32_t preview_of(walker_t *w, PyObject *o, const type_info_t *ti)
{
    if (!w->detail) return 0;
    if (ti->ndarray) {
        char buf[128];
        return intern_c(w, buf, msc_ndarray_describe(o, buf, sizeof(buf)));
    }
    if (PyUnicode_Check(o)) {
        char buf[MSC_HEAP_MAX_PREVIEW];
        return preview_string(w, buf, msc_str_utf8(o, buf, sizeof(buf)));
    }
    if (PyBytes_Check(o)) {
        Py_ssize_t n = PyBytes_GET_SIZE(o);
        return preview_string(w, PyBytes_AS_STRING(o),
                              n < MSC_HEAP_MAX_PREVIEW ? (size_t)n : MSC_HEAP_MAX_PREVIEW);
    }
    if (PyType_Check(o)) {
        const char *name = ((PyTypeObject *)o)->tp_name;
        return intern_c(w, name, strlen(name));
    }
    if (PyFunction_Check(o)) return intern_str(w, ((PyFunctionObject *)o)->func_qualname, 200);
    if (PyCode_Check(o)) return intern_str(w, ((PyCodeObject *)o)->co_qualname, 200);
    if (PyModule_Check(o)) {
        PyObject *dict = PyModule_GetDict(o);
        PyObject *name = dict ? PyDict_GetItemWithError(dict, w->s_name) : NULL;
        if (!name) PyErr_Clear();
        return name ? intern_str(w, name, 200) : 0;
    }
    return 0;
}

static int seen_grow(seen_t *s)
{
    size_t cap = s->mask ? (s->mask + 1) * 2 : 64;
    seen_page_t *t = calloc(cap, sizeof(*t));
    if (!t) return -1;
    for (size_t i = 0; s->pages && i <= s->mask; i++) {
        if (!s->pages[i].slots) continue;
        size_t j = (size_t)(s->pages[i].number * 0x9E3779B97F4A7C15ULL) >> 7 & (cap - 1);
        while (t[j].slots) j = (j + 1) & (cap - 1);
        t[j] = s->pages[i];
    }
    free(s->pages);
    s->pages = t;
    s->mask = cap - 1;
    return 0;
}

/* The page of address p's slot, made when create is set; NULL when absent
 * (or out of memory, with create). */
static uint32_t *seen_page(seen_t *s, uintptr_t p, int create)
{
    uintptr_t number = p >> SEEN_PAGE_SHIFT;
    if (s->last.slots && s->last.number == number) return s->last.slots;
    size_t i = (size_t)(number * 0x9E3779B97F4A7C15ULL) >> 7 & s->mask;
    for (; s->pages[i].slots; i = (i + 1) & s->mask) {
        if (s->pages[i].number == number) return (s->last = s->pages[i]).slots;
    }
    if (!create) return NULL;
    if ((s->used + 1) * 2 > s->mask) {
        if (seen_grow(s) < 0) return NULL;
        return seen_page(s, p, create);
    }
    uint32_t *slots = calloc(SEEN_SLOTS, sizeof(*slots));
    if (!slots) return NULL;
    s->pages[i] = (seen_page_t){number, slots};
    s->used++;
    return (s->last = s->pages[i]).slots;
}

static uint32_t *seen_slot(seen_t *s, const void *p, int create)
{
    uint32_t *page = seen_page(s, (uintptr_t)p, create);
    return page ? &page[(uintptr_t)p >> SEEN_SLOT_SHIFT & (SEEN_SLOTS - 1)] : NULL;
}

static void seen_release(seen_t *s)
{
    for (size_t i = 0; s->pages && i <= s->mask; i++) free(s->pages[i].slots);
    free(s->pages);
}

/* The node of object o, added (sized, named, previewed) on first sight. */
static uint32_t node_of(walker_t *w, PyObject *o)
{
    uint32_t *slot = seen_slot(&w->seen, o, 1);
    if (!slot) w->err = MSC_ENOMEM;
    if (w->err || *slot) return w->err ? 0 : *slot - 1;
    uint32_t v;
    const type_info_t *ti = type_info(w, Py_TYPE(o));
    if (!ti) return 0;
    Py_ssize_t rc = Py_REFCNT(o);
    uint8_t flags = PyObject_IS_GC(o) && PyObject_GC_IsTracked(o) ? MSC_HEAP_GC_TRACKED : 0;
    int err = msc_heap_add_node(w->h, (uint64_t)(uintptr_t)o, ti->index, object_size(o, ti),
                                rc > (Py_ssize_t)UINT32_MAX ? UINT32_MAX : (uint32_t)rc, flags,
                                preview_of(w, o, ti), &v);
    if (err < 0 && !w->err) w->err = err;
    if (err < 0) return 0;
    *slot = v + 1;
    return v;
}

static void edge_to(walker_t *w, PyObject *o, uint32_t label)
{
    uint32_t v = node_of(w, o);
    if (!w->err && msc_heap_add_edge(w->h, w->current, v, label) < 0) w->err = MSC_ENOMEM;
}

static uint32_t index_label(Py_ssize_t i)
{
    return MSC_HEAP_LABEL_INDEX | (uint32_t)(i & 0x7FFFFFFF);
}

/* tp_traverse's callback: names the edge when the referent sits in a
 * known field, and leaves out values already reported through the
 * instance's inline-values node. */
static int visit(PyObject *r, void *arg)
{
    walker_t *w = arg;
    for (int i = 0; i < w->nskip; i++) {
        if (w->skip[i] == r) {
            w->skip[i] = NULL;
            return 0;
        }
    }
    uint32_t label = 0;
    const type_info_t *ti = w->cur_type;
    for (int k = 0; k < ti->nlabels; k++) {
        if (!w->used[k] && *(PyObject **)((char *)w->cur_obj + ti->label_off[k]) == r) {
            w->used[k] = 1;
            label = ti->label_id[k];
            break;
        }
    }
    edge_to(w, r, label);
    return w->err ? -1 : 0;
}

static uint32_t key_label(walker_t *w, PyObject *key)
{
    if (!w->detail) return 0;
    if (PyUnicode_Check(key)) return intern_str(w, key, 128);
    if (PyLong_CheckExact(key)) {
        int overflow;
        long long k = PyLong_AsLongLongAndOverflow(key, &overflow);
        if (!overflow && !PyErr_Occurred()) {
            char buf[32];
            return intern_c(w, buf, (size_t)snprintf(buf, sizeof(buf), "[%lld]", k));
        }
        PyErr_Clear();
    }
    return w->l_value;
}

static void walk_dict(walker_t *w, PyObject *o)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (!w->err && PyDict_Next(o, &pos, &key, &value)) {
        edge_to(w, key, w->l_key);
        edge_to(w, value, key_label(w, key));
    }
}

static void walk_items(walker_t *w, PyObject **items, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n && !w->err; i++)
        if (items[i]) edge_to(w, items[i], index_label(i));
}

static void add_container(walker_t *w, uint32_t v, int layout, uint64_t length, uint64_t capacity)
{
    int err = msc_heap_add_container(w->h, v, layout, length, capacity);
    if (err < 0 && !w->err) w->err = err;
}

static void add_digest(walker_t *w, uint32_t v, const void *data, size_t n, uint64_t seed)
{
    if (msc_heap_set_digest(w->h, v, XXH3_64bits_withSeed(data, n, seed)) < 0 && !w->err)
        w->err = MSC_ENOMEM;
}

/* The contents the waste reports need, for the types whose layout is
 * known: an exact str is hashed in its canonical storage (the narrowest
 * of 1, 2 or 4 bytes a character that fits it, so equal strs have equal
 * bytes) seeded with that width, an exact bytes as it is; a list, set or
 * dict, or an instance of a subclass of one (defaultdict, OrderedDict,
 * Counter: the same storage, read from the same fields), gives its length
 * and capacity as its layout counts them (msc_heap_layout). */
static void record_contents(walker_t *w, uint32_t v, PyObject *o)
{
    if (PyUnicode_CheckExact(o)) {
        if (PyUnicode_READY(o) < 0) {
            PyErr_Clear();
            return;
        }
        int kind = PyUnicode_KIND(o);
        add_digest(w, v, PyUnicode_DATA(o), (size_t)PyUnicode_GET_LENGTH(o) * (size_t)kind,
                   (uint64_t)kind);
    } else if (PyBytes_CheckExact(o)) {
        add_digest(w, v, PyBytes_AS_STRING(o), (size_t)PyBytes_GET_SIZE(o), 0);
    } else if (PyList_Check(o)) {
        add_container(w, v, MSC_HEAP_LIST, (uint64_t)Py_SIZE(o),
                      (uint64_t)((PyListObject *)o)->allocated);
    } else if (PyAnySet_Check(o)) {
        PySetObject *set = (PySetObject *)o;
        add_container(w, v, MSC_HEAP_SET, (uint64_t)set->used, (uint64_t)set->mask + 1);
    } else if (PyDict_Check(o)) {
        PyDictObject *d = (PyDictObject *)o;
        PyDictKeysObject *keys = d->ma_keys;
        if (d->ma_values)
            add_container(w, v, MSC_HEAP_DICT_SPLIT, (uint64_t)d->ma_used,
                          (uint64_t)msc_split_slots(keys));
        else
            add_container(w, v, DK_IS_UNICODE(keys) ? MSC_HEAP_DICT_STR : MSC_HEAP_DICT,
                          (uint64_t)d->ma_used, (uint64_t)DK_SIZE(keys));
    }
}

/* An instance whose attributes CPython keeps as inline values (no dict
 * object yet): one synthetic "dict" node stands for them, so the heap reads
 * as the program sees it ("dict of Foo"), sized as the values. Being
 * synthetic, it is the instance's attribute storage, never counted as an
 * object (msc_heap_is_object): the interpreter has no dict there. */
static void inline_values(walker_t *w, PyObject *o)
{
    msc_inline_values_t iv;
    PyObject *dict = msc_untraversed_dict(o, &iv);
    if (dict) {
        /* The dict's own traverse reports the values it shares. */
        edge_to(w, dict, w->l_dict);
        for (Py_ssize_t i = 0; i < iv.slots && w->nskip < MAX_VALUES; i++)
            if (iv.values[i]) w->skip[w->nskip++] = iv.values[i];
        return;
    }
    if (!msc_inline_values(o, &iv)) return;
    uint32_t v;
    int err = msc_heap_add_node(w->h, iv.addr, w->t_dict, iv.bytes, 1, MSC_HEAP_SYNTHETIC, 0, &v);
    if (err == 0 && w->owners_len == w->owners_cap) {
        size_t cap = w->owners_cap ? w->owners_cap * 2 : 1024;
        owner_t *p = realloc(w->owners, cap * sizeof(*p));
        if (!p) err = MSC_ENOMEM;
        else w->owners = p, w->owners_cap = cap;
    }
    if (err < 0 || msc_heap_add_edge(w->h, w->current, v, w->l_dict) < 0) {
        w->err = err < 0 ? err : MSC_ENOMEM;
        return;
    }
    w->owners[w->owners_len++] = (owner_t){v, o};
    for (Py_ssize_t i = 0; i < iv.slots && w->nskip < MAX_VALUES; i++)
        if (iv.values[i]) w->skip[w->nskip++] = iv.values[i];
}

static void walk_values(walker_t *w, uint32_t v)
{
    while (w->owners_next < w->owners_len && w->owners[w->owners_next].node < v) w->owners_next++;
    if (w->owners_next >= w->owners_len || w->owners[w->owners_next].node != v) return;
    PyObject *o = w->owners[w->owners_next++].obj;
    msc_inline_values_t iv;
    if (!msc_inline_values(o, &iv)) return;
    uint64_t used = 0;
    for (Py_ssize_t i = 0; i < iv.entries && !w->err; i++) {
        if (!iv.values[i]) continue;
        used++;
        edge_to(w, iv.values[i], key_label(w, msc_inline_key(&iv, i)));
    }
    if (w->detail) add_container(w, v, MSC_HEAP_DICT_SPLIT, used, (uint64_t)iv.slots);
}

static void named_edges(walker_t *w, PyObject *const *fields, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n && !w->err; i++)
        if (fields[i]) edge_to(w, fields[i], intern_c(w, names[i], strlen(names[i])));
}

static uint32_t frame_preview(walker_t *w, msc_pyframe_t *f)
{
    char buf[512], name[200], file[200];
    PyCodeObject *code = msc_frame_code(f);
    name[msc_str_utf8(code->co_qualname, name, sizeof(name) - 1)] = 0;
    file[msc_str_utf8(code->co_filename, file, sizeof(file) - 1)] = 0;
    int line = PyCode_Addr2Line(code, (int)msc_frame_offset(f) * (int)sizeof(_Py_CODEUNIT));
    int n = snprintf(buf, sizeof(buf), "%s (%s:%d)", name, file, line);
    return intern_c(w, buf, n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static uint32_t frame_node(walker_t *w, msc_pyframe_t *f)
{
    uint32_t *slot = seen_slot(&w->seen, f, 1), v = 0;
    if (!slot) w->err = MSC_ENOMEM;
    if (w->err || *slot) return w->err ? 0 : *slot - 1;
    int err = msc_heap_add_node(w->h, (uint64_t)(uintptr_t)f, w->t_frame, 0, 1, MSC_HEAP_SYNTHETIC,
                                frame_preview(w, f), &v);
    if (err < 0) w->err = err;
    else *slot = v + 1;
    return v;
}

/* An interpreter frame: its function, code, locals namespace, and the locals
 * (named) and value stack (unnamed) in localsplus. */
static void walk_frame(walker_t *w, msc_pyframe_t *f)
{
    /* f_globals and f_builtins are borrowed (the function holds them), so
     * they are not edges: a frame does not keep its module alive. */
    static const char *const names[] = {"f_func", "f_code", "f_locals", "frame_obj"};
    PyCodeObject *code = msc_frame_code(f);
    PyObject *fields[] = {msc_frame_function(f), (PyObject *)code, msc_frame_locals(f),
                          msc_frame_object(f)};
    named_edges(w, fields, names, sizeof(fields) / sizeof(fields[0]));
    int top;
    PyObject **slots = msc_frame_slots(f, &top);
    if (top < 0 || top > code->co_nlocalsplus + code->co_stacksize) top = code->co_nlocalsplus;
    for (int i = 0; i < top && !w->err; i++) {
        PyObject *o = slots[i];
        if (!o) continue;
        uint32_t label = w->l_stack;
        if (i < code->co_nlocalsplus && w->detail)
            label = intern_str(w, PyTuple_GET_ITEM(code->co_localsplusnames, i), 128);
        edge_to(w, o, label);
    }
}

/* Static types are not traversed by the collector, but they hold their
 * dict, mro and bases like any class. */
static void walk_static_type(walker_t *w, PyTypeObject *t)
{
    static const char *const names[] = {"__dict__", "__mro__", "__bases__", "__base__"};
    PyObject *fields[] = {msc_type_dict(t), t->tp_mro, t->tp_bases, (PyObject *)t->tp_base};
    named_edges(w, fields, names, sizeof(fields) / sizeof(fields[0]));
}

/* A numpy array, which numpy does not traverse: the object its view shows
 * (base), its dtype, and, when it owns an object buffer, each element (a
 * view's elements are its base's, reported once, there). Its size is
 * numpy's own __sizeof__, which counts the buffer it owns (nbytes) and not
 * the one it shows. With detail, an owner's dtype, length and the narrowest
 * dtype its sampled values fit go in the snapshot for the advice. */
static void walk_array(walker_t *w, uint32_t v, PyObject *o)
{
    const msc_ndarray_t *a = (const msc_ndarray_t *)o;
    msc_ndarray_info_t info;
    msc_ndarray_info(o, &info);
    if (a->base) edge_to(w, a->base, w->l_base);
    if (a->descr && !w->err) edge_to(w, a->descr, w->l_dtype);
    if (!info.owner || !info.kind) return;
    if (info.kind == 'O') {
        for (uint64_t i = 0; i < info.length && !w->err; i++) {
            PyObject *item;
            memcpy(&item, msc_ndarray_item(a, i), sizeof(item));
            if (item) edge_to(w, item, index_label((Py_ssize_t)i));
        }
    }
    if (!w->detail || w->err) return;
    int fits =
        info.kind == 'O' ? info.itemsize : msc_ndarray_fits(o, &info, MSC_HEAP_ARRAY_SAMPLES);
    int err = msc_heap_add_array(w->h, v, info.kind, info.itemsize, fits, info.length);
    if (err == MSC_ENOMEM) w->err = err; /* an impossible shape is left out */
}

static void walk_object(walker_t *w, uint32_t v, PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    if (PyDict_CheckExact(o)) return walk_dict(w, o);
    if (PyType_Check(o) && !(((PyTypeObject *)o)->tp_flags & Py_TPFLAGS_HEAPTYPE))
        return walk_static_type(w, (PyTypeObject *)o);
    if (PyList_CheckExact(o)) return walk_items(w, ((PyListObject *)o)->ob_item, Py_SIZE(o));
    if (PyTuple_CheckExact(o)) return walk_items(w, ((PyTupleObject *)o)->ob_item, Py_SIZE(o));
    /* str, int, float and bytes, most of a heap, hold nothing and are
     * smaller than any array: they need no type lookup. */
    if (!PyType_IS_GC(tp) && tp->tp_basicsize < (Py_ssize_t)sizeof(msc_ndarray_t)) return;
    w->cur_type = type_info(w, tp);
    if (!w->cur_type) return;
    if (w->cur_type->ndarray) walk_array(w, v, o);
    if (w->err || !PyType_IS_GC(tp) || !tp->tp_traverse || (tp->tp_is_gc && !tp->tp_is_gc(o)))
        return;
    w->cur_obj = o;
    w->nskip = 0;
    memset(w->used, 0, sizeof(w->used));
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) inline_values(w, o);
    if (!w->err) tp->tp_traverse(o, visit, w);
}

static void walk_node(walker_t *w, uint32_t v)
{
    w->current = v;
    void *p = (void *)(uintptr_t)w->h->addr[v];
    if (!(w->h->flags[v] & MSC_HEAP_SYNTHETIC)) {
        if (w->detail) record_contents(w, v, p);
        walk_object(w, v, p);
    } else if (w->h->type[v] == w->t_frame) walk_frame(w, p);
    else if (w->h->type[v] == w->t_dict) walk_values(w, v);
}

static void root(walker_t *w, PyObject *o, const char *label)
{
    if (o && !w->err) edge_to(w, o, intern_c(w, label, strlen(label)));
}

/* A thread's frames, outermost first: a path through a local variable then
 * names the program's own frame rather than the innermost one that merely
 * passed the object along (such as the heap API's own call). Shims the C
 * stack owns run no code and are left out. */
static void thread_frames(walker_t *w, msc_pyframe_t *top, uint32_t label)
{
    size_t n = 0;
    for (msc_pyframe_t *f = top; f; f = msc_frame_previous(f)) n++;
    msc_pyframe_t **frames = malloc((n ? n : 1) * sizeof(*frames));
    if (!frames) {
        w->err = MSC_ENOMEM;
        return;
    }
    n = 0;
    for (msc_pyframe_t *f = top; f; f = msc_frame_previous(f))
        if (msc_frame_code(f)) frames[n++] = f;
    while (n-- > 0 && !w->err) {
        uint32_t v = frame_node(w, frames[n]);
        if (!w->err && msc_heap_add_edge(w->h, 0, v, label) < 0) w->err = MSC_ENOMEM;
    }
    free(frames);
}

/* The roots: the import system's tables, the builtins, and for every
 * thread its frames and its state (thread-local dict, the exception being
 * handled, the contextvars context). */
static void add_roots(walker_t *w)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    w->current = 0;
    root(w, msc_interp_modules(interp), "sys.modules");
    root(w, msc_interp_sysdict(interp), "sys.__dict__");
    root(w, msc_interp_builtins(interp), "builtins");
    root(w, msc_interp_importlib(interp), "importlib");
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts && !w->err;
         ts = PyThreadState_Next(ts)) {
        char label[64];
        snprintf(label, sizeof(label), "thread %lu", ts->thread_id);
        thread_frames(w, msc_frame_first(ts), intern_c(w, label, strlen(label)));
        root(w, ts->dict, "thread dict");
        root(w, ts->async_exc, "thread pending exception");
        root(w, ts->context, "thread context");
        root(w, msc_tstate_handled_exception(ts), "thread handled exception");
    }
}

static void walk_pending(walker_t *w, uint32_t *next)
{
    while (*next < w->h->node_count && !w->err) walk_node(w, (*next)++);
}

/* Objects the collector tracks that no root reached: held only from C
 * (extension state, static types' caches) or unreachable garbage. Each
 * becomes a root, and what it reaches is walked before the next, so only
 * the first of a group is a root. */
static void add_unreached(walker_t *w, uint32_t *next)
{
    PyGC_Head *lists[MSC_GC_LISTS];
    int nlists = msc_gc_lists(PyInterpreterState_Get(), lists);
    uint32_t label = intern_c(w, "gc (no root reaches it)", 23);
    for (int g = 0; g < nlists && !w->err; g++) {
        for (PyGC_Head *p = msc_gc_next(lists[g]); p != lists[g] && !w->err; p = msc_gc_next(p)) {
            PyObject *o = (PyObject *)(p + 1);
            const uint32_t *slot = seen_slot(&w->seen, o, 0);
            if (slot && *slot) continue;
            uint32_t v = node_of(w, o);
            if (!w->err && msc_heap_add_root_edge(w->h, v, label) < 0) w->err = MSC_ENOMEM;
            walk_pending(w, next);
        }
    }
}

static int walker_init(walker_t *w)
{
    memset(w, 0, sizeof(*w));
    w->h = msc_heap_new();
    if (!w->h || grow_types(w) < 0 || seen_grow(&w->seen) < 0) return -1;
    w->s_sizeof = PyUnicode_InternFromString("__sizeof__");
    w->s_module = PyUnicode_InternFromString("__module__");
    w->s_name = PyUnicode_InternFromString("__name__");
    if (!w->s_sizeof || !w->s_module || !w->s_name) return -1;
    uint32_t empty = 0, frame_name = intern_c(w, "<frame>", 7);
    if (!w->err && msc_heap_add_type(w->h, frame_name, empty, &w->t_frame) < 0) return -1;
    const type_info_t *dict = type_info(w, &PyDict_Type);
    if (!dict) return -1;
    w->t_dict = dict->index;
    w->l_key = intern_c(w, "<key>", 5);
    w->l_dict = intern_c(w, "__dict__", 8);
    w->l_stack = intern_c(w, "<stack>", 7);
    w->l_value = intern_c(w, "<value>", 7);
    w->l_base = intern_c(w, "base", 4);
    w->l_dtype = intern_c(w, "dtype", 5);
    return w->err ? -1 : 0;
}

static void walker_release(walker_t *w)
{
    Py_XDECREF(w->s_sizeof);
    Py_XDECREF(w->s_module);
    Py_XDECREF(w->s_name);
    free(w->types);
    free(w->owners);
    seen_release(&w->seen);
}

msc_heap_t *msc__heap_walk(int detail)
{
    walker_t w;
    uint32_t next = 1;
    /* A collection in the middle would free objects the walk has seen. */
    int gc_was_enabled = PyGC_Disable();
    int ok = walker_init(&w) == 0;
    w.detail = detail;
    if (ok) {
        /* Nearly every object is one of the allocator's blocks: a guess at
         * the heap's size that spares the columns their doublings. */
        Py_ssize_t blocks = msc_allocated_blocks();
        uint64_t guess = blocks > 0 ? (uint64_t)blocks + (uint64_t)blocks / 8 : 0;
        if (msc_heap_reserve(w.h, guess < UINT32_MAX ? (uint32_t)guess : UINT32_MAX, guess) < 0)
            w.err = MSC_ENOMEM;
        w.h->pid = (uint64_t)getpid();
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        w.h->time_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
        w.h->python_hexversion = PY_VERSION_HEX;
        w.h->contents = detail;
        add_roots(&w);
        walk_pending(&w, &next);
        add_unreached(&w, &next);
        if (!w.err && msc_heap_finish(w.h) < 0) w.err = MSC_ENOMEM;
    } else if (!w.err) {
        w.err = MSC_ENOMEM;
    }
    if (gc_was_enabled) PyGC_Enable();
    walker_release(&w);
    if (w.err) {
        msc_heap_free(w.h);
        PyErr_NoMemory();
        return NULL;
    }
    return w.h;
}
