/* Shared inside src/report by the export writers (export.h is the public
 * side): one function per format, dispatched by msc_export. */
#ifndef MEMSCOPE_REPORT_EXPORT_H
#define MEMSCOPE_REPORT_EXPORT_H

#include <stdio.h>

#include "memscope/json.h"
#include "memscope/report.h"
#include "memscope/table.h"
#include "memscope/tree.h"

int msc__export_collapsed(const msc_report_ctx_t *ctx, FILE *out, msc_view_t view);
int msc__export_speedscope(const msc_report_ctx_t *ctx, FILE *out, msc_view_t view);
int msc__export_pprof(const msc_report_ctx_t *ctx, FILE *out, msc_view_t view);

/* The members function, file and line of a tree node; the root and the
 * no-stack frame have a null file and line. */
void msc__json_frame(msc_json_t *j, const msc_tree_node_t *x);

/* Distinct frames numbered in the order first seen (frameids.c): the
 * exports' one frame table. Strings are borrowed from the symbols, which
 * intern them, so equal frames share pointers. */
typedef struct msc_frame_key {
    const char *function, *file; /* borrowed from the symbols */
    uint32_t line;
} msc_frame_key_t;

typedef struct msc_frame_ids {
    msc_frame_key_t *frames;   /* owned: frame i, for i < index.n */
    size_t cap;                /* room in frames */
    msc_table_t index;         /* frame -> its number */
} msc_frame_ids_t;

void msc__frame_ids_init(msc_frame_ids_t *f);
void msc__frame_ids_release(msc_frame_ids_t *f);
/* The number of (function, file, line), numbering it if new; MSC_ENOMEM. */
int64_t msc__frame_number(msc_frame_ids_t *f, const char *function, const char *file,
                          uint32_t line);
/* The number of a frame already numbered, or -1. */
int64_t msc__frame_find(const msc_frame_ids_t *f, const char *function, const char *file,
                        uint32_t line);
/* Frames numbered so far. */
static inline size_t msc__frame_count(const msc_frame_ids_t *f)
{
    return f->index.n;
}

#endif
