/* Report writers: each renders an analysis (and the capture's symbols) to a
 * stdio stream, as text for people or JSON for programs. The JSON contract
 * (keys, units) is in docs/reports.md: snake_case keys, sizes in bytes, source
 * locations as {"file", "function", "line"}. Writers return 0 or MSC_ENOMEM
 * / MSC_EIO. */
#ifndef MEMSCOPE_REPORT_H
#define MEMSCOPE_REPORT_H

#include <stdio.h>

#include "memscope/aggregate.h"
#include "memscope/analysis.h"
#include "memscope/diff.h"
#include "memscope/replay.h"
#include "memscope/tree.h"

typedef struct msc_report_ctx {
    msc_analysis_t *analysis;  /* borrowed */
    msc_replay_t *replay;      /* borrowed: header and symbols */
    const char *path;          /* capture path, for titles */
    int color;                 /* ANSI colours in text output */
} msc_report_ctx_t;

int msc_report_stats(const msc_report_ctx_t *ctx, FILE *out, int json, size_t top);

typedef struct msc_table_options {
    msc_view_t view;
    msc_group_t group;
    size_t limit;              /* 0 = all rows */
} msc_table_options_t;

int msc_report_table(const msc_report_ctx_t *ctx, FILE *out, int json,
                     const msc_table_options_t *opt);

/* Source-annotated lines of one file (or of every file with allocations
 * when source is NULL): exact per-line peak, allocated, allocation count and
 * leaked bytes, counting everything each line called. Source text is read
 * from disk when the file exists. first/last, when nonzero, limit the lines
 * shown (a function's span). *found, when not NULL, says whether any stack
 * of the capture runs a line of source. */
int msc_report_lines(const msc_report_ctx_t *ctx, FILE *out, const char *source, uint32_t first,
                     uint32_t last, int *found);

typedef struct msc_tree_options {
    msc_view_t view;
    uint32_t max_depth;        /* frames below the root shown; 0 = all */
    double min_percent;        /* hide frames under this share of the total */
    int inverted;
} msc_tree_options_t;

/* `memscope tree`: the call tree as indented text with bytes and
 * percentages; ANSI colours when ctx->color. */
int msc_report_tree(const msc_report_ctx_t *ctx, FILE *out, const msc_tree_options_t *opt);

typedef struct msc_diff_report {
    const char *before_path, *after_path;
    msc_view_t view;
    msc_group_t group;
    size_t limit;              /* rows shown in text; 0 = all */
    int color;
    const char *fail_over;     /* the threshold as given, or NULL */
    int exceeded;              /* whether the growth passed it */
} msc_diff_report_t;

/* `memscope diff`: the table of changed sites, as text or one JSON object. */
int msc_report_diff(FILE *out, const msc_diff_t *d, const msc_diff_report_t *opt, int json);

/* `memscope advise` (src/report/advise.c): a numbered list, most bytes
 * saved first, at most limit pieces (0: all), each with its evidence,
 * change and allocation site; or one JSON object {"bytes_saved", "advice":
 * [{rule, title, bytes_saved, measure, where: [{file, function, line}],
 * evidence, change}]}. h, the heap snapshot the sites are named in, may be
 * NULL when the advice is a capture's only. */
struct msc_heap;
struct msc_advice_list;
int msc_report_advice(FILE *out, const struct msc_heap *h, const struct msc_advice_list *l,
                      size_t limit, int json);

/* Program data (names, paths) for a terminal, as every text report writes
 * it: control characters and bytes that are not UTF-8 as \xNN. */
void msc_put_text(FILE *out, const char *s);
/* s as msc_put_text writes it, into buf of n bytes (cut to fit); returns
 * buf. */
const char *msc_text_shown(const char *s, char *buf, size_t n);

/* "12.3 MiB" (binary units) into buf; returns buf. */
const char *msc_format_bytes(uint64_t bytes, char *buf, size_t n);
/* A duration for people: "12.3 ms", "4.56 s". Returns buf (n >= 32). */
const char *msc_format_seconds(uint64_t ns, char *buf, size_t n);

/* A view's name as the JSON outputs write it ("peak", "exit", ...). JSON
 * itself is written by memscope/json.h. */
const char *msc_view_name(msc_view_t v);

#endif
