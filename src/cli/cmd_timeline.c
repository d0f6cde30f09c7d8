/* memscope timeline FILE -o plot.svg|plot.png|plot.html: heap in use and RSS
 * over time as a picture, the `mprof plot` figure as a file. PNG goes
 * through rsvg-convert (librsvg), which draws the same SVG. */
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "memscope/html.h"

extern char **environ;

static int run(int argc, char **argv);

const cli_command_t cli_cmd_timeline = {
    "timeline", run, "heap and RSS over time as SVG, PNG or HTML",
    "usage: memscope timeline FILE -o OUT.svg|OUT.png|OUT.html\n\n"
    "Draw heap in use and RSS over time, with memscope.mark() labels, GC runs\n"
    "(ticks under the axis) and the peak. The format follows OUT's extension;\n"
    "PNG needs rsvg-convert (Debian: librsvg2-bin).\n\n"
    "options:\n"
    "  -o, --output OUT   the picture to write (required)\n\n"
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

/* Rasterises svg into png with rsvg-convert; EXIT_OK or EXIT_USAGE. */
static int to_png(const char *svg, const char *png)
{
    char *args[] = {"rsvg-convert", "-f", "png", "-o", (char *)png, (char *)svg, NULL};
    pid_t pid;
    int status, err = posix_spawnp(&pid, "rsvg-convert", NULL, NULL, args, environ);
    if (err) {
        cli_error("cannot write '%s': rsvg-convert %s (Debian: apt-get install librsvg2-bin)",
                  png, err == ENOENT ? "is not installed" : strerror(err));
        return EXIT_USAGE;
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cli_error("cannot write '%s': rsvg-convert failed", png);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int draw(cli_capture_t *cap, const char *output)
{
    job_t job = {cap, ends_with(output, ".html")};
    int rc;
    if (!ends_with(output, ".png")) {
        rc = cli_write_output(output, write_timeline, &job);
    } else {
        char *svg = cli_default_output(output, ".tmp.svg");
        rc = svg ? cli_write_output(svg, write_timeline, &job) : EXIT_USAGE;
        if (!rc) rc = to_png(svg, output);
        if (svg) unlink(svg);
        free(svg);
    }
    return rc;
}

static int run(int argc, char **argv)
{
    const char *output;
    int done = cli_parse_file_output(argc, argv, &cli_cmd_timeline, &output);
    if (done >= 0) return done;
    if (!output || !(ends_with(output, ".svg") || ends_with(output, ".png") ||
                     ends_with(output, ".html"))) {
        cli_error("timeline needs -o OUT ending in .svg, .png or .html");
        return EXIT_USAGE;
    }
    cli_capture_t cap;
    int rc = cli_capture_open(&cap, argv[optind], 0);
    if (rc) return rc;
    rc = draw(&cap, output);
    cli_capture_close(&cap);
    return rc;
}
