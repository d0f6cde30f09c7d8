/* memscope table FILE: allocation sites ranked by bytes, or by CPU or wall
 * time (--metric) in a capture recorded with --cpu. */
#include <getopt.h>

#include "cli.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_table = {
    "table", run, "allocation sites ranked by bytes (at peak, at exit, or in total)",
    "usage: memscope table FILE [--at peak|exit|total] [--by line|function|file]\n"
    "                           [--metric cpu|wall] [--limit N] [--json]\n\n"
    "Rank the places that allocated memory, by the line, function or file of\n"
    "the innermost Python frame.\n\n"
    "options:\n"
    "  --at peak    what was live at the heap's high-water mark (default)\n"
    "  --at exit    what was still live when the program ended (leaks)\n"
    "  --at total   everything allocated over the run\n"
    "  --metric cpu time spent running, from the CPU samples of memscope run --cpu\n"
    "  --metric wall  wall time (running, waiting, sleeping), from the same samples\n"
    "  --by line|function|file   how to group (default line)\n"
    "  --limit N    show the top N rows (default 20; 0 for all)\n"
    "  --json       one JSON object with \"rows\": [{file, function, line, bytes,\n"
    "               allocations}], sorted by bytes, descending; with --metric, rows\n"
    "               carry cpu_seconds (or wall_seconds) and samples instead\n\n"
    "examples:\n"
    "  memscope table run.msc\n"
    "  memscope table run.msc --at exit --by function --limit 5\n"
    "  memscope table run.msc --metric cpu --by function\n"};

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"at", required_argument, NULL, 'a'},
        {"by", required_argument, NULL, 'b'},
        {"limit", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"metric", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    msc_table_options_t opt = {MSC_VIEW_PEAK, MSC_BY_LINE, 20};
    int json = 0, c, timed = 0, at = 0;
    msc_view_t metric = MSC_VIEW_CPU;
    uint64_t limit;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (cli_parse_view(optarg, &opt.view) < 0) return EXIT_USAGE;
            at = 1;
            break;
        case 'b':
            if (cli_parse_group(optarg, &opt.group) < 0) return EXIT_USAGE;
            break;
        case 'l':
            if (cli_option_uint("--limit", optarg, &limit) < 0) return EXIT_USAGE;
            opt.limit = (size_t)limit;
            break;
        case 'j': json = 1; break;
        case 'm':
            if (cli_parse_metric(optarg, &metric) < 0) return EXIT_USAGE;
            timed = 1;
            break;
        case 'h': return cli_usage(&cli_cmd_table, stdout, EXIT_OK);
        default: return cli_usage(&cli_cmd_table, stderr, EXIT_USAGE);
        }
    }
    if (cli_at_or_metric(at, timed) < 0) return EXIT_USAGE;
    if (optind != argc - 1) return cli_usage(&cli_cmd_table, stderr, EXIT_USAGE);
    cli_capture_t cap;
    int rc = cli_capture_open(&cap, argv[optind], 0);
    if (rc) return rc;
    if (timed && cli_require_samples(&cap, argv[optind]) < 0) {
        cli_capture_close(&cap);
        return EXIT_USAGE;
    }
    if (timed) opt.view = metric;
    msc_report_ctx_t ctx = cli_report_ctx(&cap, stdout);
    int err = msc_report_table(&ctx, stdout, json, &opt);
    cli_capture_close(&cap);
    if (err) cli_error("cannot write the report: %s", msc_strerror(err));
    return err ? EXIT_USAGE : EXIT_OK;
}
