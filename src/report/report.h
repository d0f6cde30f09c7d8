/* Shared inside src/report: text formatting helpers (text.c). */
#ifndef MEMSCOPE_REPORT_INTERNAL_H
#define MEMSCOPE_REPORT_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "memscope/aggregate.h"
#include "memscope/json.h"

/* "\"rss_explained\": {...}" (or null when no sample said): the resident
 * memory split, as stats --json and the HTML report's data write it
 * (stats.c). */
struct msc_summary;
void msc__json_rss_explained(msc_json_t *j, const struct msc_summary *s);

/* The parent a child's capture names and the children a capture lists,
 * each child with its capture and, when it can be read, its peak heap:
 * the members parent_pid, parent_capture, children_total and children as
 * JSON (the html variant lists fewer children and cuts long strings; give
 * it a writer with MSC_JSON_HTML), or as stats' text sections (children.c). */
struct msc_report_ctx;
void msc__json_children(msc_json_t *j, const struct msc_report_ctx *ctx);
void msc__html_children(msc_json_t *j, const struct msc_report_ctx *ctx);
void msc__text_children(FILE *out, const struct msc_report_ctx *ctx);

/* "1,234,567" into buf. */
const char *msc__count(uint64_t v, char *buf, size_t n);
/* "file:line in function" for a row. */
void msc__location(FILE *out, const msc_row_t *r);
/* The members file, function and line of a row (function and line null
 * when unknown). */
void msc__json_location(msc_json_t *j, const msc_row_t *r);
/* Program data for a terminal (names, paths, previews): every C0 and C1
 * control character (escape sequences that would drive the terminal, \r,
 * newlines, NUL), DEL, and byte that is not UTF-8 is shown as \xNN; UTF-8
 * text is kept. msc__text writes a NUL-terminated string to out;
 * msc__text_escape escapes len bytes into buf (n bytes, NUL-terminated,
 * stopping before an escape that would not fit), also escaping the byte
 * quote unless it is 0, and returns the length written (text.c). */
void msc__text(FILE *out, const char *s);
/* len bytes of a program's source line as msc__text writes them, its tabs
 * kept. */
void msc__text_source(FILE *out, const char *s, size_t len);
size_t msc__text_escape(const char *s, size_t len, char *buf, size_t n, int quote);
/* msc__text_escape of a whole NUL-terminated string into buf; returns buf. */
const char *msc__text_in(const char *s, char *buf, size_t n);
/* A buffer for msc__text_in of a name: room for 1024 bytes escaped. */
#define MSC_TEXT_BUF 4100
/* A heap preview for a terminal: msc__text_escape with quote ' (heapretained.c). */
void msc__heap_escape(const char *s, size_t len, char *out, size_t n);

struct msc_heap;
/* A heap node as JSON: {"id", "type", "preview"} (heapretained.c). */
void msc__heap_json_object(msc_json_t *j, const char *key, const struct msc_heap *h, uint32_t v);

#endif
