/* The heap functions of the _memscope module: each walks the live heap
 * (heapwalk.c) and hands the graph to the core analyses and report
 * writers; the Python package (memscope/heap.py) shapes the results. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heapwalk.h"
#include "memscope/heapfile.h"
#include "memscope/heapreport.h"
#include "memscope/outfile.h"
#include "pyparts.h"

static int parse_by(const char *by)
{
    int b = msc_heap_by_parse(by);
    if (b < 0)
        PyErr_Format(PyExc_ValueError, "by must be kind, type, module or size, not '%s'", by);
    return b;
}

/* Names each object's allocation site from capture (a Capture following
 * the recording in progress). Runs right after the walk, before any Python
 * code, so every object node is still the live object at its address. */
static int join_sites(msc_heap_t *h, PyObject *capture)
{
    const struct msc_analysis *a;
    struct msc_symbols *sym;
    if (msc_py_capture_parts(capture, &a, &sym) < 0) return -1;
    uint64_t *block = calloc(h->node_count, sizeof(uint64_t));
    if (!block) {
        PyErr_NoMemory();
        return -1;
    }
    for (uint32_t v = 1; v < h->node_count; v++) {
        if (h->flags[v] & MSC_HEAP_SYNTHETIC) continue;
        block[v] = msc__object_block((PyObject *)(uintptr_t)h->addr[v]);
    }
    int rc = msc_heap_join_sites(h, block, a, sym);
    free(block);
    if (rc < 0) PyErr_NoMemory();
    return rc < 0 ? -1 : 0;
}

/* A file the package writes (what: "heap snapshot", "file"), created as
 * every memscope output is (msc_file_create: mode 0600, never through a
 * link, an existing file replaced only with force and only when it is a
 * regular file). -1 with an exception set. */
static int create_file(PyObject *path, int force, const char *what)
{
    const char *name = PyBytes_AS_STRING(path);
    int fd, err = msc_file_create(name, force, &fd);
    if (err == MSC_EEXIST)
        PyErr_Format(PyExc_FileExistsError, "%s '%s' already exists (use force=True to replace it)",
                     what, name);
    else if (err == MSC_ENOTREG)
        PyErr_Format(PyExc_FileExistsError, "cannot replace '%s': not a regular file", name);
    else if (err) PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
    return err ? -1 : fd;
}

/* Writes h to fd and closes it; the file is removed when writing fails. */
static int write_heap(const msc_heap_t *h, int fd, PyObject *path)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = msc_heap_write(h, fd);
    if (close(fd) < 0 && rc == 0) rc = MSC_EIO;
    Py_END_ALLOW_THREADS if (rc == MSC_EIO)
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
    else if (rc < 0) PyErr_SetString(PyExc_MemoryError, msc_strerror(rc));
    if (rc < 0) unlink(PyBytes_AS_STRING(path));
    return rc < 0 ? -1 : 0;
}

/* dump_heap(path, capture=None, force=False) -> number of objects written.
 * With a Capture of the recording in progress (advanced just before), each
 * object whose allocation was recorded carries its allocation site. The
 * file is created first, so a name that cannot be written costs no walk. */
static PyObject *py_dump_heap(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *path, *capture = Py_None, *result = NULL;
    int force = 0;
    if (!PyArg_ParseTuple(args, "O&|Op:dump_heap", PyUnicode_FSConverter, &path, &capture, &force))
        return NULL;
    int fd = create_file(path, force, "heap snapshot");
    if (fd < 0) {
        Py_DECREF(path);
        return NULL;
    }
    msc_heap_t *h = msc__heap_walk(1);
    int joined = h && (capture == Py_None || join_sites(h, capture) == 0);
    if (joined && write_heap(h, fd, path) == 0) {
        uint32_t objects = 0;
        for (uint32_t v = 0; v < h->node_count; v++) objects += msc_heap_is_object(h, v);
        result = PyLong_FromUnsignedLong(objects);
    } else if (!joined) {
        close(fd);
        unlink(PyBytes_AS_STRING(path));
    }
    msc_heap_free(h);
    Py_DECREF(path);
    return result;
}

/* create_file(path, force=False) -> a descriptor open for writing, for the
 * package's other outputs (pictures); the caller closes it. */
static PyObject *py_create_file(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *path;
    int force = 0;
    if (!PyArg_ParseTuple(args, "O&|p:create_file", PyUnicode_FSConverter, &path, &force))
        return NULL;
    int fd = create_file(path, force, "file");
    Py_DECREF(path);
    return fd < 0 ? NULL : PyLong_FromLong(fd);
}

/* A report as a str: what write prints for arg. */
static PyObject *report_text(int (*write)(FILE *out, const void *arg), const void *arg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    int rc = out ? write(out, arg) : MSC_ENOMEM;
    if (out && fclose(out) != 0) rc = MSC_ENOMEM;
    PyObject *result =
        rc == 0 ? PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "replace") : PyErr_NoMemory();
    free(text);
    return result;
}

typedef struct partition_report {
    const msc_heap_partition_t *p;
    size_t limit;
} partition_report_t;

static int write_partition(FILE *out, const void *arg)
{
    const partition_report_t *r = arg;
    return msc_heap_write_partition(out, r->p, r->limit);
}

static PyObject *partition_result(const msc_heap_partition_t *p, Py_ssize_t limit)
{
    PyObject *rows = PyList_New((Py_ssize_t)p->len);
    if (!rows) return NULL;
    for (size_t i = 0; i < p->len; i++) {
        PyObject *row =
            Py_BuildValue("(sKK)", p->rows[i].name, (unsigned long long)p->rows[i].count,
                          (unsigned long long)p->rows[i].bytes);
        if (!row) {
            Py_DECREF(rows);
            return NULL;
        }
        PyList_SET_ITEM(rows, (Py_ssize_t)i, row);
    }
    partition_report_t r = {p, limit > 0 ? (size_t)limit : 0};
    PyObject *table = report_text(write_partition, &r);
    if (!table) {
        Py_DECREF(rows);
        return NULL;
    }
    return Py_BuildValue("(KKNN)", (unsigned long long)p->total_count,
                         (unsigned long long)p->total_bytes, rows, table);
}

/* heap_partition(by='kind', limit=10) -> (count, bytes, rows, table): the
 * live heap grouped, rows (name, count, bytes) sorted by bytes, and heapy's
 * table of the first limit rows. The walk and the grouping happen before
 * any result object is made, so the results do not count themselves. */
static PyObject *py_heap_partition(PyObject *self, PyObject *args)
{
    (void)self;
    const char *by_name = "kind";
    Py_ssize_t limit = 10;
    if (!PyArg_ParseTuple(args, "|sn:heap_partition", &by_name, &limit)) return NULL;
    int by = parse_by(by_name);
    if (by < 0) return NULL;
    msc_heap_t *h = msc__heap_walk(0);
    if (!h) return NULL;
    msc_heap_partition_t p;
    int rc = msc_heap_partition(h, by, &p);
    msc_heap_free(h);
    if (rc < 0) return PyErr_NoMemory();
    PyObject *result = partition_result(&p, limit);
    msc_heap_partition_release(&p);
    return result;
}

/* The chain of (label, description, object or None) from a root to v;
 * objects are alive (the GIL has been held since the walk). */
static PyObject *chain_of(const msc_heap_t *h, const msc_heap_paths_t *p, uint32_t v)
{
    PyObject *chain = PyList_New(0);
    for (uint32_t x = v; chain && x != 0 && p->parent[x] != UINT32_MAX; x = p->parent[x]) {
        char label[300], what[600];
        PyObject *obj =
            h->flags[x] & MSC_HEAP_SYNTHETIC ? Py_None : (PyObject *)(uintptr_t)h->addr[x];
        PyObject *step = Py_BuildValue(
            "(ssO)", msc_heap_label_text(h, p->parent[x], p->label[x], label, sizeof(label)),
            msc_heap_describe(h, x, what, sizeof(what)), obj);
        if (!step || PyList_Insert(chain, 0, step) < 0) Py_CLEAR(chain);
        Py_XDECREF(step);
    }
    return chain;
}

static PyObject *inspect_result(const msc_heap_t *h, uint32_t v)
{
    msc_heap_dom_t d;
    msc_heap_paths_t p;
    uint8_t *seen = malloc(h->node_count);
    uint32_t *queue = malloc((size_t)h->node_count * sizeof(uint32_t));
    PyObject *result = NULL;
    if (!seen || !queue || msc_heap_dominators(h, &d) < 0) goto fail_dom;
    if (msc_heap_paths(h, &p) < 0) goto fail_paths;
    char path[4096];
    PyObject *chain = chain_of(h, &p, v);
    if (chain)
        result = Py_BuildValue("{sKsKsKsssN}", "size", (unsigned long long)h->size[v], "retained",
                               (unsigned long long)d.retained[v], "deep",
                               (unsigned long long)msc_heap_deep_size(h, v, seen, queue), "path",
                               msc_heap_path_text(h, &p, v, path, sizeof(path)), "chain", chain);
    msc_heap_paths_release(&p);
fail_paths:
    msc_heap_dom_release(&d);
fail_dom:
    free(seen);
    free(queue);
    if (!result && !PyErr_Occurred()) PyErr_NoMemory();
    return result;
}

/* The node of obj in a walked heap, or UINT32_MAX with an exception set. */
static uint32_t object_node(msc_heap_t *h, PyObject *obj)
{
    int rc = msc_heap_index(h);
    uint32_t v = rc < 0 ? UINT32_MAX : msc_heap_find(h, (uint64_t)(uintptr_t)obj);
    if (rc == MSC_ENOMEM) PyErr_NoMemory();
    else if (rc < 0) PyErr_SetString(PyExc_SystemError, "the heap walk saw one address twice");
    else if (v == UINT32_MAX)
        PyErr_SetString(PyExc_ValueError, "the object is not in the heap walk");
    return v;
}

/* heap_inspect(obj) -> {size, retained, deep, path, chain}: one walk of the
 * heap, then obj's retained size (dominator tree), deep size, and its
 * shortest reference chain from a root. */
static PyObject *py_heap_inspect(PyObject *self, PyObject *obj)
{
    (void)self;
    msc_heap_t *h = msc__heap_walk(1);
    if (!h) return NULL;
    uint32_t v = object_node(h, obj);
    PyObject *result = v == UINT32_MAX ? NULL : inspect_result(h, v);
    msc_heap_free(h);
    return result;
}

/* The partition by type at the previous heap_growth() call, kept in C
 * memory so that remembering it adds nothing to the heap; the GIL guards it. */
static msc_heap_partition_t growth_last;

static PyObject *growth_result(const msc_heap_diff_t *d, Py_ssize_t limit)
{
    PyObject *rows = PyList_New(0);
    for (size_t i = 0; rows && i < d->len && PyList_GET_SIZE(rows) < limit; i++) {
        const msc_heap_change_t *c = &d->rows[i];
        if (c->count_delta <= 0) break;
        PyObject *row = Py_BuildValue("(sKL)", c->name, (unsigned long long)c->count,
                                      (long long)c->count_delta);
        if (!row || PyList_Append(rows, row) < 0) Py_CLEAR(rows);
        Py_XDECREF(row);
    }
    return rows;
}

/* heap_growth(limit=10) -> [(type, count, increase)]: the types whose count
 * went up since the previous call, most first (objgraph's show_growth). */
static PyObject *py_heap_growth(PyObject *self, PyObject *args)
{
    (void)self;
    Py_ssize_t limit = 10;
    if (!PyArg_ParseTuple(args, "|n:heap_growth", &limit)) return NULL;
    msc_heap_t *h = msc__heap_walk(0);
    if (!h) return NULL;
    msc_heap_partition_t now;
    msc_heap_diff_t d;
    int rc = msc_heap_partition(h, MSC_HEAP_BY_TYPE, &now);
    msc_heap_free(h);
    if (rc < 0) return PyErr_NoMemory();
    if (msc_heap_diff(&growth_last, &now, 1, &d) < 0) {
        msc_heap_partition_release(&now);
        return PyErr_NoMemory();
    }
    msc_heap_partition_release(&growth_last);
    growth_last = now;
    PyObject *result = growth_result(&d, limit);
    msc_heap_diff_release(&d);
    return result;
}

static PyObject *cycle_groups(const msc_heap_t *h, const msc_heap_cycles_t *c)
{
    PyObject *groups = PyList_New(0);
    for (size_t i = 0; groups && i < c->len; i++) {
        const msc_heap_cycle_group_t *g = &c->groups[i];
        char what[600];
        PyObject *row = Py_BuildValue(
            "{sssKsKsKsKsssssIsOszsK}", "kinds", g->kinds, "cycles", (unsigned long long)g->cycles,
            "objects", (unsigned long long)g->objects, "bytes", (unsigned long long)g->bytes,
            "example_id", (unsigned long long)h->addr[g->example], "example",
            msc_heap_describe(h, g->example, what, sizeof(what)), "weaken", g->weaken,
            "weaken_refs", g->weaken_refs, "weakrefable", g->weakrefable ? Py_True : Py_False,
            "site", g->site ? msc_heap_string(h, g->site, NULL) : NULL, "site_count",
            (unsigned long long)g->site_count);
        if (!row || PyList_Append(groups, row) < 0) Py_CLEAR(groups);
        Py_XDECREF(row);
    }
    return groups;
}

/* heap_cycles(limit=10, capture=None) -> {garbage_objects, garbage_bytes,
 * cycles, groups, table}: the reference cycles the collector would free
 * now, grouped by the kinds in them, each group with the reference to make
 * weak and, with the Capture of a recording in progress, where most of its
 * objects were allocated. Objects are named by id and description, not
 * returned, so that asking does not keep the garbage alive. */
static PyObject *py_heap_cycles(PyObject *self, PyObject *args)
{
    (void)self;
    Py_ssize_t limit = 10;
    PyObject *capture = Py_None;
    if (!PyArg_ParseTuple(args, "|nO:heap_cycles", &limit, &capture)) return NULL;
    msc_heap_t *h = msc__heap_walk(1);
    if (!h) return NULL;
    if (capture != Py_None && join_sites(h, capture) < 0) {
        msc_heap_free(h);
        return NULL;
    }
    msc_heap_cycles_t c;
    char *text = NULL;
    size_t len = 0;
    PyObject *result = NULL;
    if (msc_heap_cycles(h, &c) < 0) goto fail_cycles;
    FILE *out = open_memstream(&text, &len);
    int rc = out ? msc_heap_write_cycles(out, h, &c, limit > 0 ? (size_t)limit : 0) : MSC_ENOMEM;
    if (out && fclose(out) != 0) rc = MSC_ENOMEM;
    PyObject *groups = rc == 0 ? cycle_groups(h, &c) : NULL;
    if (groups)
        result = Py_BuildValue(
            "{sKsKsKsNss#}", "garbage_objects", (unsigned long long)c.garbage_objects,
            "garbage_bytes", (unsigned long long)c.garbage_bytes, "cycles",
            (unsigned long long)c.cycle_count, "groups", groups, "table", text, (Py_ssize_t)len);
    free(text);
    msc_heap_cycles_release(&c);
fail_cycles:
    msc_heap_free(h);
    if (!result && !PyErr_Occurred()) PyErr_NoMemory();
    return result;
}

/* (type, preview, copies, size, wasted, example_id) for the first limit
 * groups; a str's preview as str, a bytes' as bytes. */
static PyObject *dup_rows(const msc_heap_t *h, const void *result, size_t limit)
{
    const msc_heap_dups_t *d = result;
    PyObject *rows = PyList_New(0);
    for (size_t i = 0; rows && i < d->len && (!limit || i < limit); i++) {
        const msc_heap_dup_t *g = &d->groups[i];
        char type[64];
        size_t n;
        const char *raw = msc_heap_string(h, h->preview[g->example], &n);
        msc_heap_type_name(h, g->type, type, sizeof(type));
        PyObject *preview = strcmp(type, "bytes") == 0
                                ? PyBytes_FromStringAndSize(raw, (Py_ssize_t)n)
                                : PyUnicode_DecodeUTF8(raw, (Py_ssize_t)n, "replace");
        PyObject *row =
            preview ? Py_BuildValue("(sNKKKK)", type, preview, (unsigned long long)g->copies,
                                    (unsigned long long)g->size, (unsigned long long)g->wasted,
                                    (unsigned long long)h->addr[g->example])
                    : NULL;
        if (!row || PyList_Append(rows, row) < 0) Py_CLEAR(rows);
        Py_XDECREF(row);
    }
    return rows;
}

/* (kind, empty, empty_bytes, mostly_empty, mostly_empty_bytes, saving,
 * example_id) for the first limit kinds. */
static PyObject *empty_rows(const msc_heap_t *h, const void *result, size_t limit)
{
    const msc_heap_empty_t *e = result;
    PyObject *rows = PyList_New(0);
    for (size_t i = 0; rows && i < e->len && (!limit || i < limit); i++) {
        const msc_heap_empty_row_t *r = &e->rows[i];
        PyObject *row = Py_BuildValue(
            "(sKKKKKK)", r->kind, (unsigned long long)r->empty, (unsigned long long)r->empty_bytes,
            (unsigned long long)r->mostly_empty, (unsigned long long)r->mostly_empty_bytes,
            (unsigned long long)r->saving, (unsigned long long)h->addr[r->example]);
        if (!row || PyList_Append(rows, row) < 0) Py_CLEAR(rows);
        Py_XDECREF(row);
    }
    return rows;
}

/* The core's analyses and writers of the waste reports, behind one shape. */
static int dups_analyse(const msc_heap_t *h, void *d)
{
    return msc_heap_duplicates(h, d);
}

static void dups_release(void *d)
{
    msc_heap_dups_release(d);
}

static int dups_write(FILE *out, const msc_heap_t *h, const void *d, size_t limit)
{
    return msc_heap_write_duplicates(out, h, d, limit);
}

static int empty_analyse(const msc_heap_t *h, void *e)
{
    return msc_heap_empty(h, e);
}

static void empty_release(void *e)
{
    msc_heap_empty_release(e);
}

static int empty_write(FILE *out, const msc_heap_t *h, const void *e, size_t limit)
{
    (void)h;
    return msc_heap_write_empty(out, e, limit);
}

/* A report on what the live heap holds for nothing: analyse fills a
 * result, rows shapes it for Python, write prints its table. */
typedef struct waste_report {
    int (*analyse)(const msc_heap_t *h, void *result);
    void (*release)(void *result);
    PyObject *(*rows)(const msc_heap_t *h, const void *result, size_t limit);
    int (*write)(FILE *out, const msc_heap_t *h, const void *result, size_t limit);
} waste_report_t;

static const waste_report_t dups_report = {dups_analyse, dups_release, dup_rows, dups_write};
static const waste_report_t empty_report = {empty_analyse, empty_release, empty_rows, empty_write};

typedef struct waste_table {
    const waste_report_t *report;
    const msc_heap_t *h;
    const void *result;
    size_t limit;
} waste_table_t;

static int write_waste(FILE *out, const void *arg)
{
    const waste_table_t *t = arg;
    return t->report->write(out, t->h, t->result, t->limit);
}

/* Walks the heap and returns (rows, table) of one waste report, at most
 * limit rows (0 all). The walk and the analysis come before any result
 * object is made, so the results do not count themselves. */
static PyObject *waste(const waste_report_t *report, Py_ssize_t limit)
{
    union {
        msc_heap_dups_t dups;
        msc_heap_empty_t empty;
    } result;
    msc_heap_t *h = msc__heap_walk(1);
    if (!h) return NULL;
    PyObject *out = NULL;
    if (report->analyse(h, &result) == 0) {
        waste_table_t t = {report, h, &result, limit > 0 ? (size_t)limit : 0};
        PyObject *rows = report->rows(h, &result, t.limit);
        PyObject *table = rows ? report_text(write_waste, &t) : NULL;
        if (table) out = PyTuple_Pack(2, rows, table);
        Py_XDECREF(rows);
        Py_XDECREF(table);
        report->release(&result);
    }
    msc_heap_free(h);
    if (!out && !PyErr_Occurred()) PyErr_NoMemory();
    return out;
}

/* heap_duplicates(limit=10) -> (rows, table): the str and bytes values the
 * live heap holds in more than one copy, most bytes wasted first. */
static PyObject *py_heap_duplicates(PyObject *self, PyObject *args)
{
    (void)self;
    Py_ssize_t limit = 10;
    return PyArg_ParseTuple(args, "|n:heap_duplicates", &limit) ? waste(&dups_report, limit) : NULL;
}

/* heap_empty(limit=10) -> (rows, table): the live heap's empty and mostly
 * empty containers by kind, largest saving first. */
static PyObject *py_heap_empty(PyObject *self, PyObject *args)
{
    (void)self;
    Py_ssize_t limit = 10;
    return PyArg_ParseTuple(args, "|n:heap_empty", &limit) ? waste(&empty_report, limit) : NULL;
}

/* heap_dot(obj, depth=3, backrefs=False) -> str: the Graphviz source of
 * obj and what it refers to (or what refers to it), as objgraph's
 * show_refs and show_backrefs draw them. */
static PyObject *py_heap_dot(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *obj;
    unsigned int depth = 3;
    int backrefs = 0;
    if (!PyArg_ParseTuple(args, "O|Ip:heap_dot", &obj, &depth, &backrefs)) return NULL;
    msc_heap_t *h = msc__heap_walk(1);
    if (!h) return NULL;
    uint32_t v = object_node(h, obj);
    PyObject *result = NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *out = v == UINT32_MAX ? NULL : open_memstream(&text, &len);
    int rc = out ? msc_heap_write_dot(out, h, &v, 1, depth, backrefs) : MSC_ENOMEM;
    if (out && fclose(out) != 0) rc = MSC_ENOMEM;
    if (v != UINT32_MAX && rc < 0) PyErr_NoMemory();
    else if (v != UINT32_MAX) result = PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "replace");
    free(text);
    msc_heap_free(h);
    return result;
}

static PyMethodDef heap_methods[] = {
    {"heap_inspect", py_heap_inspect, METH_O,
     "heap_inspect(obj) -> {size, retained, deep, path, chain}."},
    {"heap_growth", py_heap_growth, METH_VARARGS,
     "heap_growth(limit=10) -> [(type, count, increase)] since the previous call."},
    {"heap_cycles", py_heap_cycles, METH_VARARGS,
     "heap_cycles(limit=10, capture=None) -> {garbage_objects, garbage_bytes, cycles, groups, "
     "table}."},
    {"heap_dot", py_heap_dot, METH_VARARGS,
     "heap_dot(obj, depth=3, backrefs=False) -> str: Graphviz DOT of obj's references."},
    {"heap_duplicates", py_heap_duplicates, METH_VARARGS,
     "heap_duplicates(limit=10) -> (rows, table): str and bytes held in more than one copy."},
    {"heap_empty", py_heap_empty, METH_VARARGS,
     "heap_empty(limit=10) -> (rows, table): empty and mostly empty containers by kind."},
    {"create_file", py_create_file, METH_VARARGS,
     "create_file(path, force=False): a new file's descriptor (mode 0600, no links)."},
    {"dump_heap", py_dump_heap, METH_VARARGS,
     "dump_heap(path, capture=None, force=False): write a heap snapshot file."},
    {"heap_partition", py_heap_partition, METH_VARARGS,
     "heap_partition(by='kind', limit=10) -> (count, bytes, rows, table)."},
    {NULL, NULL, 0, NULL},
};

int msc_py_heap_init(PyObject *module)
{
    return PyModule_AddFunctions(module, heap_methods);
}
