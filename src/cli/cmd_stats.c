/* memscope stats FILE [--json]: the summary of a capture. */
#include <getopt.h>

#include "cli.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_stats = {
    "stats", run, "summary: peak heap, totals, leaks, GC, sizes, top sites",
    "usage: memscope stats FILE [--json] [--top N]\n\n"
    "Summarise a capture: peak heap and when it happened, total allocated,\n"
    "allocation and free counts, bytes leaked at exit, duration, threads, GC\n"
    "runs, a size histogram and the top allocation sites at the peak.\n\n"
    "options:\n"
    "  --json     one JSON object (keys: peak_bytes, peak_time_s, total_allocated_bytes,\n"
    "             allocations, frees, leaked_bytes, leaked_allocations, duration_s,\n"
    "             threads, histogram, gc, top)\n"
    "  --top N    how many top sites to list (default 10)\n\n"
    "examples:\n"
    "  memscope stats run.msc\n"
    "  memscope stats run.msc --json | jq .peak_bytes\n"};

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"top", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, c;
    uint64_t top = 10;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 't':
            if (cli_option_uint("--top", optarg, &top) < 0) return EXIT_USAGE;
            break;
        case 'h': return cli_usage(&cli_cmd_stats, stdout, EXIT_OK);
        default: return cli_usage(&cli_cmd_stats, stderr, EXIT_USAGE);
        }
    }
    if (optind != argc - 1) return cli_usage(&cli_cmd_stats, stderr, EXIT_USAGE);
    cli_capture_t cap;
    int rc = cli_capture_open(&cap, argv[optind], 0);
    if (rc) return rc;
    msc_report_ctx_t ctx = cli_report_ctx(&cap, stdout);
    int err = msc_report_stats(&ctx, stdout, json, (size_t)top);
    cli_capture_close(&cap);
    if (err) cli_error("cannot write the report: %s", msc_strerror(err));
    return err ? EXIT_USAGE : EXIT_OK;
}
