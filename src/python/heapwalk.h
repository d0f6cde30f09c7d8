/* The heap walker's seam inside src/python: heapwalk.c walks the live
 * object graph into a core msc_heap_t, heapmod.c exposes it to Python. */
#ifndef MEMSCOPE_HEAPWALK_H
#define MEMSCOPE_HEAPWALK_H

#include <Python.h>

#include "memscope/heap.h"

/* Walks every object reachable from the interpreter's roots and every
 * object the collector tracks, with str/bytes/name previews when previews
 * is nonzero (files and reports want them, partitions do not). Holds the
 * GIL throughout and runs no Python code of the program. Returns a
 * finished heap (caller frees with msc_heap_free) or NULL with an
 * exception set. */
msc_heap_t *msc__heap_walk(int previews);

#endif
