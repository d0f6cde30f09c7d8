/* Native frames in replay (nativesym.c): decodes the extension records of a
 * capture recorded with --native-frames and extends an event's Python stack
 * with its symbolized native frames. Shared inside core only. */
#ifndef MEMSCOPE_NATIVESYM_H
#define MEMSCOPE_NATIVESYM_H

#include "internal.h"
#include "memscope/symbols.h"

typedef struct msc_native msc_native_t;

/* One stream's state: its native node ids mapped to the capture's, and the
 * delta state of its records. */
typedef struct msc_native_stream {
    uint32_t *map;             /* owned: local native node id -> global; [0] = 0 */
    uint32_t n, cap;           /* local ids defined so far (including 0), room */
    uint64_t last_addr;        /* NATIVE_NODE's address delta state */
    uint32_t current;          /* local leaf of the stream's following allocations */
} msc_native_stream_t;

msc_native_t *msc__native_new(void);
void msc__native_free(msc_native_t *n);
void msc__native_stream_release(msc_native_stream_t *st);

/* Decodes the body b of an extension record of one of the native
 * sub-kinds (MSC_EXT_MODULE, NATIVE_NODE, NATIVE_STACK). 0, or a negative
 * MSC_E code. */
int msc__native_decode(msc_native_t *n, msc_native_stream_t *st, int stream, uint64_t kind,
                       msc_cursor_t *b);

/* The node that extends Python stack *node with the stream's current native
 * frames (outermost first), written back into *node. 0 or MSC_E code. */
int msc__native_extend(msc_native_t *n, msc_symbols_t *sym, const msc_native_stream_t *st,
                       uint32_t *node);

#endif
