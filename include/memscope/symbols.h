/* Symbol tables of a capture: interned strings, code objects (file, function,
 * first line, CPython line table) and the stack trie whose nodes are
 * (parent, code, instruction offset). A stack is named by its leaf node;
 * node 0 is the empty stack. Line numbers are decoded here, from the line
 * table of the Python version that wrote the capture, once per node.
 *
 * Everything returned is borrowed from the table and valid until it is freed. */
#ifndef MEMSCOPE_SYMBOLS_H
#define MEMSCOPE_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

typedef struct msc_symbols msc_symbols_t;

typedef struct msc_frame {
    const char *file;          /* "<unknown>" when the code object was never described */
    const char *function;      /* qualified name */
    uint32_t line;             /* 0 when the line table has no line for the offset */
    uint32_t file_id;          /* interned: equal ids, equal strings */
    uint32_t function_id;
    uint32_t code_id;
} msc_frame_t;

msc_symbols_t *msc_symbols_new(uint32_t python_hexversion);
void msc_symbols_free(msc_symbols_t *s);

/* Builders (used by replay). Return 0 or a negative MSC_E code. */
int msc_symbols_add_string(msc_symbols_t *s, uint32_t id, const uint8_t *bytes, size_t n);
int msc_symbols_add_code(msc_symbols_t *s, uint32_t id, uint32_t file_id, uint32_t name_id,
                         uint32_t first_line, const uint8_t *linetable, size_t n);
/* Interns (parent, code, offset); returns the global node id (> 0) or a
 * negative MSC_E code. */
int64_t msc_symbols_add_node(msc_symbols_t *s, uint32_t parent, uint32_t code_id, uint32_t offset);
/* The same for a NODE record of a capture's stream (numbered from 0): the
 * recorder names a node once per stream, so while a single stream has
 * defined nodes none needs looking up, and the index (a cache miss a node
 * once the trie outgrows the cache) is made only when a second stream, or
 * msc_symbols_add_node, adds one. */
int64_t msc_symbols_add_stream_node(msc_symbols_t *s, unsigned stream, uint32_t parent,
                                    uint32_t code_id, uint32_t offset);

/* Native frames (src/core/nativesym.c): a string, and a code object of a
 * source file and a function (string ids), with ids of their own
 * (MSC_NATIVE_ID_BIT set) that never meet the capture's. A native frame's
 * node carries its line where a Python one has its instruction offset.
 * Return the id, or a negative MSC_E code. */
int64_t msc_symbols_add_native_string(msc_symbols_t *s, const char *text);
int64_t msc_symbols_add_native_code(msc_symbols_t *s, uint32_t file_id, uint32_t name_id);

/* The capture is read: drops the node index (4 to 8 bytes a node, made
 * again if a node is added after all), so that what the analyses build
 * after the replay does not sit on top of the replay's working room. */
void msc_symbols_trim(msc_symbols_t *s);

uint32_t msc_symbols_nodes(const msc_symbols_t *s);       /* node ids are 1..n-1 */
uint32_t msc_symbols_parent(const msc_symbols_t *s, uint32_t node);
uint32_t msc_symbols_depth(const msc_symbols_t *s, uint32_t node);
void msc_symbols_frame(msc_symbols_t *s, uint32_t node, msc_frame_t *out);
/* The ids msc_symbols_frame would give (0 for the empty stack and unknown
 * code), without looking up their strings: what a table keyed on frames
 * compares, at a third of the memory reads. */
void msc_symbols_frame_ids(msc_symbols_t *s, uint32_t node, uint32_t *file_id,
                           uint32_t *function_id, uint32_t *line);
const char *msc_symbols_string(const msc_symbols_t *s, uint32_t id);

/* Frame nodes: the trie with the nodes that name one frame (file, function
 * and line) under one caller merged, so that the trie nodes of a line's
 * several instructions become one. A call tree keyed on frames, or a table
 * of frames, is then a sum over arrays, with no table of frames to probe
 * per tree or per stack. Frame node 0 is the root (trie node 0's); a
 * caller's number is smaller than its callees'. Frames are numbered too,
 * from 1 (0 is the root's, "<no Python frame>"): equal numbers, equal
 * (file, function, line). */
typedef struct msc_frame_nodes {
    uint32_t ntrie;            /* trie nodes mapped: of[] holds this many */
    uint32_t n;                /* frame nodes, the root included */
    uint32_t nframes;          /* frames, 0 included */
    uint32_t made;             /* how many times they were made: a number kept from them
                                  holds while this stays the same */
    const uint32_t *of;        /* per trie node: its frame node */
    const uint32_t *parent;    /* per frame node: its caller's (0 for the outermost) */
    const uint32_t *frame;     /* per frame node: its frame */
    const uint32_t *frame_trie;/* per frame: the first trie node naming it */
    uint32_t *scratch;         /* per frame node, all 0: a user may number the nodes
                                  it works on here, and zeroes them again when done
                                  (a per-use array would fault in every page of it) */
} msc_frame_nodes_t;

/* Made on first use and again once the tables have grown; NULL when memory
 * runs out. Borrowed: valid until the next call or msc_symbols_free. */
const msc_frame_nodes_t *msc_symbols_frame_nodes(msc_symbols_t *s);

/* Decodes a CPython 3.11 location table: the line of the instruction at
 * code-unit offset, or 0 if it has none. */
uint32_t msc_linetable_line(const uint8_t *table, size_t n, uint32_t first_line, uint32_t offset);

#endif
