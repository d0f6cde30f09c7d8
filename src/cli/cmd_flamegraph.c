/* memscope flamegraph FILE: the flame graph of one view as a self-contained
 * HTML page: a memory view, or with --metric the CPU or wall time of
 * run --cpu. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "memscope/html.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_flamegraph = {
    "flamegraph", run, "flame graph of one view as an HTML page",
    "usage: memscope flamegraph FILE [-o OUT.html [--force]] [--at peak|exit|total]\n"
    "                           [--metric cpu|wall] [--inverted]\n\n"
    "Write the flame graph of one view as a self-contained HTML page: hover a\n"
    "frame for its function, file:line, bytes, share and allocations; click to\n"
    "zoom; search to highlight.\n\n"
    "options:\n"
    "  --at peak|exit|total   live at the peak (default), leaked at exit, or\n"
    "                         everything allocated\n"
    "  --metric cpu|wall      CPU or wall time from the samples of memscope run --cpu\n"
    "  --inverted             allocating frames at the top, callers below\n"
    "  -o, --output OUT       where to write (default: FILE-flamegraph.html)\n"
    "  --force                replace OUT if it exists (a regular file only)\n\n"
    "examples:\n"
    "  memscope flamegraph run.msc\n"
    "  memscope flamegraph run.msc --at exit -o leaks.html\n"
    "  memscope flamegraph run.msc --at total --inverted\n"
    "  memscope flamegraph run.msc --metric cpu -o cpu.html\n"};

typedef struct job {
    cli_capture_t *cap;
    msc_view_t view;
    int inverted;
} job_t;

static int write_flamegraph(FILE *out, void *arg)
{
    job_t *job = arg;
    msc_report_ctx_t ctx = cli_report_ctx(job->cap, out);
    return msc_report_flamegraph(&ctx, out, job->view, job->inverted);
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"at", required_argument, NULL, 'a'},
        {"inverted", no_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {"force", no_argument, NULL, 'F'},
        {"metric", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    job_t job = {NULL, MSC_VIEW_PEAK, 0};
    cli_output_t output = {NULL, 0, {NULL, NULL}};
    int c, timed = 0, at = 0;
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (cli_parse_view(optarg, &job.view) < 0) return EXIT_USAGE;
            at = 1;
            break;
        case 'm':
            if (cli_parse_metric(optarg, &job.view) < 0) return EXIT_USAGE;
            timed = 1;
            break;
        case 'i': job.inverted = 1; break;
        case 'o': output.path = optarg; break;
        case 'F': output.force = 1; break;
        case 'h': return cli_usage(&cli_cmd_flamegraph, stdout, EXIT_OK);
        default: return cli_usage(&cli_cmd_flamegraph, stderr, EXIT_USAGE);
        }
    }
    if (cli_at_or_metric(at, timed) < 0) return EXIT_USAGE;
    if (optind != argc - 1) return cli_usage(&cli_cmd_flamegraph, stderr, EXIT_USAGE);
    cli_capture_t cap;
    int rc = cli_capture_open(&cap, argv[optind], 0);
    if (rc) return rc;
    if (timed && cli_require_samples(&cap, argv[optind]) < 0) {
        cli_capture_close(&cap);
        return EXIT_USAGE;
    }
    char *path =
        output.path ? strdup(output.path) : cli_default_output(cap.path, "-flamegraph.html");
    job.cap = &cap;
    output.path = path;
    output.inputs[0] = cap.path;
    rc = path ? cli_write_output(&output, write_flamegraph, &job) : EXIT_USAGE;
    cli_shown_t shown;
    if (!rc) printf("memscope: flame graph written to '%s'\n", cli_shown(path, &shown));
    free(path);
    cli_capture_close(&cap);
    return rc;
}
