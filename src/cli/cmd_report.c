/* memscope report FILE [-o OUT]: the one-file HTML report. One pass over
 * the capture (cli_capture_open, with a progress bar on a terminal) both
 * analyses it and snapshots what was live at moments along the timeline.
 * Also what the file-writing commands share: the default output name, and
 * parsing "FILE [-o OUT]". */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "memscope/html.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_report = {
    "report", run, "one-file HTML report: timeline, flame graphs, tables",
    "usage: memscope report FILE [-o OUT.html] [--force]\n\n"
    "Write one self-contained HTML file (opens from disk, fetches nothing):\n"
    "the summary, the memory timeline (heap and RSS, GC runs, marks, the\n"
    "peak; click a moment to see what was live then), flame graphs of live\n"
    "at peak, leaked at exit and total allocated (hover for bytes, click to\n"
    "zoom, search, invert), and sortable tables of the top sites. The file\n"
    "stays under 10 MB whatever the capture size.\n\n"
    "options:\n"
    "  -o, --output OUT   where to write (default: FILE with .html for .msc)\n"
    "  --force            replace OUT if it exists (a regular file only)\n\n"
    "examples:\n"
    "  memscope report run.msc                 # writes run.html\n"
    "  memscope report run.msc -o /tmp/memory.html\n"};

char *cli_default_output(const char *capture, const char *suffix)
{
    size_t n = strlen(capture);
    if (n > 4 && strcmp(capture + n - 4, ".msc") == 0) n -= 4;
    char *out = malloc(n + strlen(suffix) + 1);
    if (!out) return NULL;
    memcpy(out, capture, n);
    strcpy(out + n, suffix);
    return out;
}

static int write_report(FILE *out, void *arg)
{
    cli_capture_t *cap = arg;
    msc_report_ctx_t ctx = cli_report_ctx(cap, out);
    return msc_report_html(&ctx, out, cap->moments);
}

static void say_written(const char *path)
{
    struct stat st;
    char size[32];
    cli_shown_t shown;
    if (stat(path, &st) == 0)
        printf("memscope: report written to '%s' (%s)\n", cli_shown(path, &shown),
               msc_format_bytes((uint64_t)st.st_size, size, sizeof(size)));
}

int cli_parse_file_output(int argc, char **argv, const cli_command_t *cmd, cli_output_t *o)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    *o = (cli_output_t){NULL, 0, {NULL, NULL}};
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->path = optarg; break;
        case 'F': o->force = 1; break;
        case 'h': return cli_usage(cmd, stdout, EXIT_OK);
        default: return cli_usage(cmd, stderr, EXIT_USAGE);
        }
    }
    if (optind != argc - 1) return cli_usage(cmd, stderr, EXIT_USAGE);
    o->inputs[0] = argv[optind];
    return -1;
}

static int run(int argc, char **argv)
{
    cli_output_t output;
    int done = cli_parse_file_output(argc, argv, &cli_cmd_report, &output);
    if (done >= 0) return done;
    cli_capture_t cap;
    int rc = cli_capture_open_advised(&cap, argv[optind], MSC_REPORT_MOMENTS);
    if (rc) return rc;
    char *path = output.path ? strdup(output.path) : cli_default_output(cap.path, ".html");
    output.path = path;
    rc = path ? cli_write_output(&output, write_report, &cap) : EXIT_USAGE;
    if (!rc) say_written(path);
    free(path);
    cli_capture_close(&cap);
    return rc;
}
