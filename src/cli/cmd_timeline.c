/* memscope timeline FILE -o plot.svg|plot.png|plot.html: heap in use and RSS
 * over time as a picture, the `mprof plot` figure as a file. PNG goes
 * through rsvg-convert (librsvg), which draws the same SVG. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "memscope/html.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_timeline = {
    "timeline", run, "heap and RSS over time as SVG, PNG or HTML",
    "usage: memscope timeline FILE -o OUT.svg|OUT.png|OUT.html [--force]\n\n"
    "Draw heap in use and RSS over time, with memscope.mark() labels, GC runs\n"
    "(ticks under the axis) and the peak. The format follows OUT's extension;\n"
    "PNG needs rsvg-convert (Debian: librsvg2-bin).\n\n"
    "options:\n"
    "  -o, --output OUT   the picture to write (required)\n"
    "  --force            replace OUT if it exists (a regular file only)\n\n"
    "examples:\n"
    "  memscope timeline run.msc -o memory.svg\n"
    "  memscope timeline run.msc -o memory.png\n"
    "  memscope timeline run.msc -o memory.html\n"};

typedef struct job {
    cli_capture_t *cap;
    int html;
} job_t;

static int write_timeline(FILE *out, void *arg)
{
    job_t *job = arg;
    msc_report_ctx_t ctx = cli_report_ctx(job->cap, out);
    return job->html ? msc_report_timeline_html(&ctx, out) : msc_report_timeline_svg(&ctx, out);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* The PNG: rsvg-convert reads the SVG from a pipe and writes to the file
 * created here. EXIT_OK or EXIT_USAGE. */
static int draw_png(job_t *job, const cli_output_t *o)
{
    char *args[] = {"rsvg-convert", "-f", "png", NULL};
    pid_t pid;
    int fd = cli_create_output(o);
    if (fd < 0) return EXIT_USAGE;
    FILE *svg = cli_filter_start(args, fd, &pid, "Debian: apt-get install librsvg2-bin");
    close(fd);
    if (!svg) {
        unlink(o->path);
        return EXIT_USAGE;
    }
    int err = write_timeline(svg, job);
    if (fclose(svg) != 0 && !err) err = MSC_EIO;
    int rc = cli_filter_finish(pid, "rsvg-convert", o->path);
    if (err && !rc) cli_error("cannot write '%s': %s", o->path, msc_strerror(err));
    if (err || rc) {
        unlink(o->path);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int draw(cli_capture_t *cap, const cli_output_t *o)
{
    job_t job = {cap, ends_with(o->path, ".html")};
    return ends_with(o->path, ".png") ? draw_png(&job, o)
                                      : cli_write_output(o, write_timeline, &job);
}

static int run(int argc, char **argv)
{
    cli_output_t output;
    int done = cli_parse_file_output(argc, argv, &cli_cmd_timeline, &output);
    if (done >= 0) return done;
    const char *path = output.path;
    if (!path ||
        !(ends_with(path, ".svg") || ends_with(path, ".png") || ends_with(path, ".html"))) {
        cli_error("timeline needs -o OUT ending in .svg, .png or .html");
        return EXIT_USAGE;
    }
    cli_capture_t cap;
    int rc = cli_capture_open(&cap, argv[optind], 0);
    if (rc) return rc;
    rc = draw(&cap, &output);
    cli_capture_close(&cap);
    return rc;
}
