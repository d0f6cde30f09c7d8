/* The heap walker's seam inside src/python: heapwalk.c walks the live
 * object graph into a core msc_heap_t, heapmod.c exposes it to Python. */
#ifndef MEMSCOPE_HEAPWALK_H
#define MEMSCOPE_HEAPWALK_H

#include <Python.h>

#include "memscope/heap.h"

/* Where the allocator's block holding o starts: o minus the pre-header
 * CPython puts before objects of its type (the GC head, managed-dict
 * words), since the allocation recorder saw that address, not o; 0 for the
 * types CPython reuses through free lists, whose recorded block may be
 * another object's. */
uint64_t msc__object_block(PyObject *o);

/* Walks every object reachable from the interpreter's roots and every
 * object the collector tracks, with str/bytes/name previews, content
 * digests and container lengths when previews is nonzero (files and
 * reports want them, partitions do not). Holds the
 * GIL throughout and runs no Python code of the program. Returns a
 * finished heap (caller frees with msc_heap_free) or NULL with an
 * exception set. */
msc_heap_t *msc__heap_walk(int previews);

#endif
