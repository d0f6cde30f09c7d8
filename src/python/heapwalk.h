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
 * object the collector tracks. With detail nonzero, nodes carry
 * str/bytes/name previews, content digests and container lengths, and
 * edges the dict keys and local variable names they go through (files,
 * paths, pictures and the waste reports want them; partitions do not, and
 * name only "__dict__" edges). Holds the GIL throughout and runs no Python
 * code of the program. Returns a finished heap, without its address table
 * (see msc_heap_index), which the caller frees with msc_heap_free, or NULL
 * with an exception set. */
msc_heap_t *msc__heap_walk(int detail);

#endif
