/* Shared inside src/report by the HTML writers (html.c, flame.c,
 * timeline.c): text made safe for markup, the shared frame
 * table and the size-capped flame-graph encoding, and the page assets
 * bundled from web/ at build time. */
#ifndef MEMSCOPE_REPORT_HTML_H
#define MEMSCOPE_REPORT_HTML_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "memscope/analysis.h"
#include "memscope/json.h"
#include "memscope/tree.h"

/* Text for SVG and HTML bodies: & < > " ' as entities, at most max bytes
 * (html.c). Strings in the page's data go through the JSON writer with
 * MSC_JSON_HTML. */
void msc__html_text(FILE *out, const char *s, size_t max);

/* Distinct frames (function, file, line) of every tree in one report, each
 * written once; trees refer to them by index. budget bounds the bytes of
 * strings the table may hold: a frame that would pass it is left out and
 * its node merges into "other". */
typedef struct msc_frames msc_frames_t;
msc_frames_t *msc__frames_new(size_t budget);
void msc__frames_free(msc_frames_t *f);
/* The index of a frame (strings borrowed from the symbols; equal frames
 * share pointers); -1 when it is new and the budget is spent; -2 on OOM. */
int64_t msc__frame_index(msc_frames_t *f, const char *function, const char *file, uint32_t line);
/* The member "frames": [[function, file, line], ...], one frame a line. */
void msc__frames_write(msc_json_t *j, const msc_frames_t *f);

/* A tree as nested [frame, bytes, count, [children]] arrays, keeping the
 * max_nodes largest frames (and none under 1/min_share of the root); the
 * rest of each node's children merge into one [-merged, bytes, count] node.
 * The tree is the writer's next element (after msc_json_member), without
 * spaces. Returns 0 or MSC_ENOMEM. */
int msc__flame_write(msc_json_t *j, const msc_tree_t *t, msc_frames_t *frames, uint32_t max_nodes,
                     uint32_t min_share);

/* At most max points of the heap/RSS timeline into out: each covers a run
 * of samples with its highest heap and highest RSS. Returns the count. */
size_t msc__timeline_points(const msc_analysis_t *a, msc_sample_t *out, size_t max);

/* The page assets, generated from web/ by the build. */
extern const char msc__web_report_html[], msc__web_report_css[], msc__web_report_js[];

#endif
