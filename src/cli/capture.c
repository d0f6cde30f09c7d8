/* Opening a capture for a report command: replay it into an analysis with
 * a progress bar on a terminal, taking the timeline's moments in the same
 * pass when asked, and turn every failure into one line that names the
 * file, the byte offset and what is wrong (exit 2). A truncated or
 * unfinished capture is reported with a warning, not refused. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

void cli_bar_draw(uint64_t done, uint64_t total, void *arg)
{
    cli_bar_t *b = arg;
    time_t now = time(NULL);
    if (!total || now - b->started < 1) return; /* quiet for short work */
    double frac = (double)done / (double)total;
    if (frac > 1) frac = 1;
    double eta = frac > 0 ? (double)(now - b->started) * (1 - frac) / frac : 0;
    char got[32], all[32];
    int width = 30, filled = (int)(frac * width);
    cli_shown_t shown;
    fprintf(stderr, "\r%s %s [", b->what, cli_shown(b->path, &shown));
    for (int i = 0; i < width; i++) fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %s / %s, %3.0f%%, eta %.0fs  ", msc_format_bytes(done, got, 32),
            msc_format_bytes(total, all, 32), frac * 100, eta);
    b->shown = 1;
}

void cli_bar_clear(cli_bar_t *b)
{
    if (b->shown) fputs("\r\033[K", stderr);
    b->shown = 0;
}

/* Replays c->path into a new analysis, with an observer taking the
 * moments when asked: 0, MSC_ETRUNCATED, or another MSC_E code with
 * c->replay NULL. */
static int analyse(cli_capture_t *c, size_t moments, int sizes, msc_error_info_t *info)
{
    cli_bar_t bar = {"reading", c->path, time(NULL), 0};
    c->replay = NULL;
    c->moments = NULL;
    c->analysis = msc_analysis_new();
    if (!c->analysis || (moments && !(c->moments = msc_temporal_new(c->analysis, moments))) ||
        (sizes && msc_analysis_track_sizes(c->analysis) < 0))
        return MSC_ENOMEM;
    int err = msc_analyse_file(c->path, c->analysis, &c->replay, info,
                               isatty(2) ? cli_bar_draw : NULL, &bar);
    cli_bar_clear(&bar);
    if (c->replay) msc_analysis_forget_blocks(c->analysis); /* no command asks for a block */
    if (c->replay && c->moments &&
        msc_temporal_finish(c->moments, c->analysis, msc_replay_duration_ns(c->replay)) < 0) {
        msc_replay_free(c->replay);
        c->replay = NULL;
        info->what = "out of memory";
        return MSC_ENOMEM;
    }
    return err;
}

int cli_open_input(const char *path)
{
    const char *why;
    int fd = msc_open_regular(path, &why, NULL);
    if (fd < 0) cli_error("cannot read '%s': %s", path, why ? why : strerror(errno));
    return fd;
}

void cli_read_error(const char *path, int err, const msc_error_info_t *info)
{
    if (err == MSC_EIO && !info->what) cli_error("cannot read '%s': %s", path, strerror(errno));
    else if (err == MSC_EFORMAT && info->offset == 0)
        cli_error("cannot read '%s': %s", path, info->what);
    else
        cli_error("cannot read '%s': %s at byte %llu", path,
                  info->what ? info->what : msc_strerror(err), (unsigned long long)info->offset);
}

static int open_capture(cli_capture_t *c, const char *path, size_t moments, int sizes)
{
    msc_error_info_t info = {0, "out of memory"};
    c->path = path;
    int err = analyse(c, moments, sizes, &info);
    if (!c->replay) {
        cli_capture_close(c);
        cli_read_error(path, err, &info);
        return EXIT_USAGE;
    }
    if (err == MSC_ETRUNCATED)
        cli_warn("'%s' is truncated at byte %llu (%s); showing what it holds", path,
                 (unsigned long long)info.offset, info.what);
    else if (!msc_replay_complete(c->replay))
        cli_warn("'%s' ends without a trailer: the program was killed or is still running; "
                 "showing what it holds",
                 path);
    return EXIT_OK;
}

int cli_capture_open(cli_capture_t *c, const char *path, size_t moments)
{
    return open_capture(c, path, moments, 0);
}

int cli_capture_open_advised(cli_capture_t *c, const char *path, size_t moments)
{
    return open_capture(c, path, moments, 1);
}

void cli_capture_close(cli_capture_t *c)
{
    msc_temporal_free(c->moments);
    msc_analysis_free(c->analysis);
    msc_replay_free(c->replay);
    c->moments = NULL;
    c->analysis = NULL;
    c->replay = NULL;
}

msc_report_ctx_t cli_report_ctx(const cli_capture_t *c, FILE *out)
{
    msc_report_ctx_t ctx = {c->analysis, c->replay, c->path, cli_color(out)};
    return ctx;
}
