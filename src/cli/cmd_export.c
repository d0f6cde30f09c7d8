/* memscope export FILE --format F -o OUT: one view of a capture in a format
 * other tools read (folded stacks, speedscope, the JSON call tree, pprof):
 * a memory view, or with --metric the CPU or wall time of run --cpu. */
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "memscope/export.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_export = {
    "export", run, "write a view as collapsed stacks, speedscope, JSON or pprof",
    "usage: memscope export FILE --format collapsed|speedscope|json|pprof\n"
    "                            [--at peak|exit|total | --metric cpu|wall]\n"
    "                            [-o OUT [--force]]\n\n"
    "Write one view of a capture in a format other tools read:\n"
    "  collapsed    folded stacks, \"outer;inner;leaf BYTES\" per line, for\n"
    "               flamegraph.pl, inferno and friends\n"
    "  speedscope   a file for https://www.speedscope.app (unit: bytes)\n"
    "  json         the whole call tree with bytes and allocation counts\n"
    "               (schema in docs/reports.md)\n"
    "  pprof        gzipped profile.proto for go tool pprof, Pyroscope, Parca:\n"
    "               alloc_objects/alloc_space (everything allocated) and\n"
    "               inuse_objects/inuse_space (live at the peak with --at peak,\n"
    "               the default; at exit otherwise); with CPU samples (run --cpu)\n"
    "               also cpu/nanoseconds and wall/nanoseconds\n\n"
    "options:\n"
    "  --format F             the output format (required)\n"
    "  --at peak|exit|total   live at the peak (default), leaked at exit, or\n"
    "                         everything allocated\n"
    "  --metric cpu|wall      the CPU or wall time of the samples of memscope run\n"
    "                         --cpu instead of bytes (unit: nanoseconds)\n"
    "  -o, --output OUT       write to OUT instead of standard output (created\n"
    "                         mode 0600; an existing file is kept without --force)\n"
    "  --force                replace OUT if it exists (a regular file only)\n\n"
    "examples:\n"
    "  memscope export run.msc --format collapsed | flamegraph.pl > peak.svg\n"
    "  memscope export run.msc --format speedscope --at total -o run.speedscope.json\n"
    "  memscope export run.msc --format json --at exit -o leaks.json\n"
    "  memscope export run.msc --format speedscope --metric cpu -o cpu.speedscope.json\n"
    "  memscope export run.msc --format pprof -o run.pb.gz && go tool pprof -top run.pb.gz\n"};

static int parse_format(const char *text, msc_export_format_t *out)
{
    static const char *names[] = {"collapsed", "speedscope", "json", "pprof"};
    for (int i = 0; i < 4; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = (msc_export_format_t)i;
            return 0;
        }
    return -1;
}

typedef struct job {
    cli_capture_t *cap;
    msc_export_format_t format;
    msc_view_t view;
} job_t;

static int write_export(FILE *out, void *arg)
{
    job_t *job = arg;
    msc_report_ctx_t ctx = cli_report_ctx(job->cap, out);
    return msc_export(&ctx, out, job->format, job->view);
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"at", required_argument, NULL, 'a'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {"force", no_argument, NULL, 'F'},
        {"metric", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    msc_export_format_t format = MSC_EXPORT_COLLAPSED;
    msc_view_t view = MSC_VIEW_PEAK;
    cli_output_t output = {NULL, 0, {NULL, NULL}};
    int have_format = 0, timed = 0, at = 0, c;
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (parse_format(optarg, &format) == 0) {
                have_format = 1;
                break;
            }
            cli_error("--format wants collapsed, speedscope, json or pprof, not '%s'", optarg);
            return EXIT_USAGE;
        case 'a':
            if (cli_parse_view(optarg, &view) < 0) return EXIT_USAGE;
            at = 1;
            break;
        case 'm':
            if (cli_parse_metric(optarg, &view) < 0) return EXIT_USAGE;
            timed = 1;
            break;
        case 'o': output.path = optarg; break;
        case 'F': output.force = 1; break;
        case 'h': return cli_usage(&cli_cmd_export, stdout, EXIT_OK);
        default: return cli_usage(&cli_cmd_export, stderr, EXIT_USAGE);
        }
    }
    if (cli_at_or_metric(at, timed) < 0) return EXIT_USAGE;
    if (optind != argc - 1) return cli_usage(&cli_cmd_export, stderr, EXIT_USAGE);
    if (!have_format) {
        cli_error("export needs --format collapsed, speedscope, json or pprof");
        return EXIT_USAGE;
    }
    cli_capture_t cap;
    int rc = cli_capture_open(&cap, argv[optind], 0);
    if (rc) return rc;
    if (timed && cli_require_samples(&cap, argv[optind]) < 0) {
        cli_capture_close(&cap);
        return EXIT_USAGE;
    }
    job_t job = {&cap, format, view};
    output.inputs[0] = cap.path;
    rc = cli_write_output(&output, write_export, &job);
    cli_capture_close(&cap);
    return rc;
}
