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

/* Native frames (src/core/nativesym.c): a string, and a code object of a
 * source file and a function (string ids), with ids of their own
 * (MSC_NATIVE_ID_BIT set) that never meet the capture's. A native frame's
 * node carries its line where a Python one has its instruction offset.
 * Return the id, or a negative MSC_E code. */
int64_t msc_symbols_add_native_string(msc_symbols_t *s, const char *text);
int64_t msc_symbols_add_native_code(msc_symbols_t *s, uint32_t file_id, uint32_t name_id);

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

/* Decodes a CPython 3.11 location table: the line of the instruction at
 * code-unit offset, or 0 if it has none. */
uint32_t msc_linetable_line(const uint8_t *table, size_t n, uint32_t first_line, uint32_t offset);

#endif
