/* Shared inside src/report by the export writers (export.h is the public
 * side): one function per format, dispatched by msc_export. */
#ifndef MEMSCOPE_REPORT_EXPORT_H
#define MEMSCOPE_REPORT_EXPORT_H

#include <stdio.h>

#include "memscope/json.h"
#include "memscope/report.h"
#include "memscope/tree.h"

int msc__export_collapsed(const msc_report_ctx_t *ctx, FILE *out, msc_view_t view);
int msc__export_speedscope(const msc_report_ctx_t *ctx, FILE *out, msc_view_t view);
int msc__export_pprof(const msc_report_ctx_t *ctx, FILE *out, msc_view_t view);

/* The members function, file and line of a tree node; the root and the
 * no-stack frame have a null file and line. */
void msc__json_frame(msc_json_t *j, const msc_tree_node_t *x);

#endif
