/* Native frames for the recorder (--native-frames): each recorded
 * allocation's C return addresses, unwound with libunwind from the hook up
 * to the interpreter's evaluation loop, interned into a per-stream trie and
 * announced with NATIVE_STACK records (include/memscope/nframes.h). */
#ifndef MEMSCOPE_UNWIND_H
#define MEMSCOPE_UNWIND_H

#include <stdint.h>

#include "memscope/sink.h"

typedef struct msc_ntrie msc_ntrie_t;

/* Finds the address ranges the unwinder needs (memscope's own object, the
 * evaluation loop): 0, or -1 with an exception set. GIL held. */
int msc__nframes_install(void);

/* A trie for one stream of one capture; NULL when out of memory. */
msc_ntrie_t *msc__ntrie_new(void);
void msc__ntrie_free(msc_ntrie_t *t);

/* Writes a MODULE record for every object loaded now, on the side stream,
 * and forgets the last capture's. At start, not recording yet. */
int msc__nframes_start(msc_sink_t *sink);

/* Unwinds the calling thread and, when its native stack differs from the
 * last one written on st, writes the new trie nodes (and MODULE records for
 * objects loaded since) and a NATIVE_STACK record. side: st is the side
 * stream, locked by the caller; else st is the main stream (GIL held).
 * 0, or -1 when memory or the sink refuses. Hook-safe: msc__busy is set. */
int msc__nframes_note(msc_ntrie_t *t, msc_sink_t *sink, msc_stream_t *st, int side);

#endif
