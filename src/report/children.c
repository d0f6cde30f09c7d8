/* The children a capture lists (its CHILD records) and the parent a
 * child's header names, as stats (text and JSON) and the HTML report's data
 * show them. Each child's peak heap is read from its own capture when that
 * can be found: at the path recorded, or else beside this capture under the
 * same name, so captures moved together (copied off a server) still join.
 * A missing or unreadable child capture is reported as such, never an
 * error of this report. */
#include <string.h>
#include <unistd.h>

#include "memscope/analysis.h"
#include "memscope/common.h"
#include "memscope/report.h"
#include "html.h"
#include "report.h"

#define MAX_PEAKS 256              /* children whose captures are read for a peak */
#define TEXT_CHILDREN 50           /* children stats lists as text */
#define HTML_CHILDREN 500          /* children the HTML report lists */

typedef struct child_capture {
    char path[MSC_MAX_PATH + 1];   /* where it was found */
    int found;
    int readable;                  /* its peak was read */
    uint64_t peak_bytes;
} child_capture_t;

/* The child's capture at its recorded path, or beside the parent's. */
static int find_capture(const char *parent, const char *recorded, char *out)
{
    if (!*recorded) return 0;
    if (access(recorded, R_OK) == 0) {
        snprintf(out, MSC_MAX_PATH + 1, "%s", recorded);
        return 1;
    }
    const char *name = strrchr(recorded, '/'), *slash = strrchr(parent, '/');
    name = name ? name + 1 : recorded;
    int dir = slash ? (int)(slash - parent) + 1 : 0;
    int n = snprintf(out, MSC_MAX_PATH + 1, "%.*s%s", dir, parent, name);
    return n > 0 && n <= MSC_MAX_PATH && access(out, R_OK) == 0;
}

static void read_child(const msc_report_ctx_t *ctx, const msc_child_t *c, size_t index,
                       child_capture_t *cc)
{
    memset(cc, 0, sizeof(*cc));
    cc->found = find_capture(ctx->path, c->capture, cc->path);
    if (!cc->found || index >= MAX_PEAKS) return;
    msc_analysis_t *a = msc_analysis_new();
    if (!a) return;
    msc_replay_t *replay = NULL;
    msc_error_info_t info;
    int err = msc_analyse_file(cc->path, a, &replay, &info, NULL, NULL);
    if (!err || err == MSC_ETRUNCATED) {
        cc->readable = 1;
        cc->peak_bytes = msc_analysis_summary(a)->peak_bytes;
    }
    msc_replay_free(replay);
    msc_analysis_free(a);
}

static void json_child(msc_json_t *j, const msc_report_ctx_t *ctx, const msc_child_t *c,
                       size_t index, size_t max_string)
{
    child_capture_t cc;
    read_child(ctx, c, index, &cc);
    msc_json_object_begin(j, NULL);
    msc_json_u64(j, "pid", c->pid);
    msc_json_f64(j, "time_s", (double)c->time_ns / 1e9, 6);
    msc_json_array_begin(j, "command");
    for (uint32_t at = 0; at < c->command_len;) {
        msc_json_str_cut(j, NULL, c->command + at, max_string);
        at += (uint32_t)strlen(c->command + at) + 1;
    }
    msc_json_end(j);
    if (*c->capture) msc_json_str_cut(j, "capture", cc.found ? cc.path : c->capture, max_string);
    else msc_json_null(j, "capture");
    msc_json_bool(j, "capture_found", cc.found);
    if (cc.readable) msc_json_u64(j, "peak_bytes", cc.peak_bytes);
    else msc_json_null(j, "peak_bytes");
    msc_json_end(j);
}

/* Program strings are cut at max_string bytes (the HTML page's bound). */
static void write_children_json(msc_json_t *j, const msc_report_ctx_t *ctx, size_t max,
                                size_t max_string)
{
    const msc_header_t *h = msc_replay_header(ctx->replay);
    if (h->parent_pid) msc_json_u64(j, "parent_pid", h->parent_pid);
    else msc_json_null(j, "parent_pid");
    if (h->parent_capture) msc_json_str_cut(j, "parent_capture", h->parent_capture, max_string);
    else msc_json_null(j, "parent_capture");
    size_t n;
    uint64_t total;
    const msc_child_t *c = msc_analysis_children(ctx->analysis, &n, &total);
    msc_json_u64(j, "children_total", total);
    msc_json_array_begin(j, "children");
    for (size_t i = 0; i < n && i < max; i++) json_child(j, ctx, &c[i], i, max_string);
    msc_json_end(j);
}

void msc__json_children(msc_json_t *j, const msc_report_ctx_t *ctx)
{
    write_children_json(j, ctx, MSC_MAX_CHILDREN, SIZE_MAX);
}

void msc__html_children(msc_json_t *j, const msc_report_ctx_t *ctx)
{
    write_children_json(j, ctx, HTML_CHILDREN, 4096);
}

/* The command, arguments joined by spaces, escaped for a terminal and cut
 * to a line's worth. */
static void text_command(FILE *out, const msc_child_t *c)
{
    char words[1024], buf[MSC_TEXT_BUF];
    size_t n = 0;
    for (uint32_t at = 0; at < c->command_len && n + 1 < sizeof(words); at++)
        words[n++] = c->command[at] ? c->command[at] : ' ';
    while (n && words[n - 1] == ' ') n--;
    words[n] = 0;
    fputs(msc__text_in(words, buf, sizeof(buf)), out);
}

void msc__text_children(FILE *out, const msc_report_ctx_t *ctx)
{
    const msc_header_t *h = msc_replay_header(ctx->replay);
    char bytes[32], buf[MSC_TEXT_BUF];
    if (h->parent_pid) {
        fprintf(out, "\nChild of pid %llu", (unsigned long long)h->parent_pid);
        if (h->parent_capture)
            fprintf(out, ", whose capture is %s",
                    msc__text_in(h->parent_capture, buf, sizeof(buf)));
        fputc('\n', out);
    }
    size_t n;
    uint64_t total;
    const msc_child_t *c = msc_analysis_children(ctx->analysis, &n, &total);
    if (!total) return;
    fprintf(out, "\nChildren started: %llu\n", (unsigned long long)total);
    for (size_t i = 0; i < n && i < TEXT_CHILDREN; i++) {
        child_capture_t cc;
        read_child(ctx, &c[i], i, &cc);
        fprintf(out, "  pid %llu at %.3f s: ", (unsigned long long)c[i].pid,
                (double)c[i].time_ns / 1e9);
        text_command(out, &c[i]);
        if (!*c[i].capture) fputs("\n      no capture (not a Python program)\n", out);
        else if (!cc.found)
            fprintf(out, "\n      no capture at %s\n",
                    msc__text_in(c[i].capture, buf, sizeof(buf)));
        else if (!cc.readable)
            fprintf(out, "\n      capture %s (unreadable)\n",
                    msc__text_in(cc.path, buf, sizeof(buf)));
        else
            fprintf(out, "\n      peak heap %s, capture %s\n",
                    msc_format_bytes(cc.peak_bytes, bytes, sizeof(bytes)),
                    msc__text_in(cc.path, buf, sizeof(buf)));
    }
    if (total > TEXT_CHILDREN)
        fprintf(out, "  ... %llu more (memscope stats --json lists them)\n",
                (unsigned long long)(total - TEXT_CHILDREN));
}
