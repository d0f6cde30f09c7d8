/* Native frames in a capture (`memscope run --native-frames`): the
 * extension records that carry C stacks, and the analyser's side of them.
 *
 * The recorder writes each allocation's native return addresses as a prefix
 * trie of its own, next to the Python one, and the loaded objects (path,
 * address range, load bias, GNU build id) the addresses fall in. The reader
 * symbolizes each address once (src/core/nativesym.c: elfutils' libdwfl) and
 * turns the native frames into ordinary frames: synthetic code objects and
 * trie nodes that extend the event's Python stack, so every report shows
 * them without knowing about them. The records are specified in
 * docs/format.md ("Extension records"). */
#ifndef MEMSCOPE_NFRAMES_H
#define MEMSCOPE_NFRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "memscope/format.h"

/* The records are extension records (MSC_REC_EXT, memscope/format.h):
 * MSC_EXT_MODULE, MSC_EXT_NATIVE_NODE and MSC_EXT_NATIVE_STACK. */
#define MSC_MAX_BUILD_ID 64                /* bytes of a GNU build id note we keep */
#define MSC_MAX_MODULE_PATH 4096
#define MSC_MAX_MODULES (1u << 16)         /* distinct loaded objects in one capture */
#define MSC_NATIVE_DEPTH 128               /* native frames kept per allocation */

/* Synthetic string and code ids (native frames) are this bit or'ed with a
 * small index; a capture's own ids stay below MSC_MAX_IDS, so they never
 * meet. */
#define MSC_NATIVE_ID_BIT 0x80000000u

#endif
