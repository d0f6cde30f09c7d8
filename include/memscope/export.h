/* Exports: one view of a capture written in a format other tools read.
 *
 *   collapsed   Brendan Gregg's folded stacks, "outer;inner;leaf BYTES" per
 *               line, for flamegraph.pl, inferno and friends
 *   speedscope  the speedscope JSON file format, one "sampled" profile in bytes
 *   json        the whole call tree with bytes and counts (docs/reports.md)
 *   pprof       gzipped perftools.profiles.Profile with alloc_objects,
 *               alloc_space (everything allocated), inuse_objects and
 *               inuse_space (live at the peak, or at exit for the other views)
 *
 * Writers return 0, MSC_ENOMEM or MSC_EIO (output failed). */
#ifndef MEMSCOPE_EXPORT_H
#define MEMSCOPE_EXPORT_H

#include <stdio.h>

#include "memscope/report.h"

typedef enum msc_export_format {
    MSC_EXPORT_COLLAPSED = 0,
    MSC_EXPORT_SPEEDSCOPE = 1,
    MSC_EXPORT_JSON = 2,
    MSC_EXPORT_PPROF = 3,
} msc_export_format_t;

/* Writes view of ctx's capture to out in format (pprof: see above). */
int msc_export(const msc_report_ctx_t *ctx, FILE *out, msc_export_format_t format, msc_view_t view);

/* The text of a frame for folded stacks: "function (file:line)", with ';'
 * and control characters replaced so the line stays parseable. */
void msc_collapsed_frame(FILE *out, const char *function, const char *file, unsigned line);

#endif
