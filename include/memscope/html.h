/* Reports to open in a browser or an image viewer: the one-file HTML report
 * (summary, memory timeline with GC runs, marks and the peak, flame graphs
 * of live-at-peak, leaked-at-exit and total-allocated, the flame graph of
 * chosen moments, sortable tables), the flame graph alone, and the memory
 * timeline as SVG or HTML. Every page is self-contained (scripts and styles
 * inlined, nothing fetched) and stays under 10 MB whatever the capture:
 * frames are capped and merged into "other", the timeline is downsampled,
 * strings are cut. Every string from the program is escaped. */
#ifndef MEMSCOPE_HTML_H
#define MEMSCOPE_HTML_H

#include <stdio.h>

#include "memscope/report.h"
#include "memscope/temporal.h"

#define MSC_REPORT_MOMENTS 24      /* moments of the timeline a report can show */

/* The full report. moments (taken during the analysis's pass, finished
 * with the capture's duration) may be NULL: the timeline then only shows
 * the peak. */
int msc_report_html(const msc_report_ctx_t *ctx, FILE *out, const msc_temporal_t *moments);

/* The flame graph of one view alone. */
int msc_report_flamegraph(const msc_report_ctx_t *ctx, FILE *out, msc_view_t view, int inverted);

/* The timeline (heap in use and RSS over time, marks, GC runs, the peak)
 * as an SVG picture, or as an HTML page holding it. */
int msc_report_timeline_svg(const msc_report_ctx_t *ctx, FILE *out);
int msc_report_timeline_html(const msc_report_ctx_t *ctx, FILE *out);

#endif
