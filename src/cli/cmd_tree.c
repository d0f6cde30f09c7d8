/* memscope tree FILE: the call tree of one view in the terminal, with bytes
 * and percentages; coloured on a terminal unless NO_COLOR is set. */
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"
#include "memscope/tree.h"
#include "memscope/report.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_tree = {
    "tree", run, "call tree with bytes and percentages, in the terminal",
    "usage: memscope tree FILE [--at peak|exit|total] [--depth N] [--min-percent P]\n"
    "                          [--inverted]\n\n"
    "Show where memory went as a call tree: each frame with the bytes it and\n"
    "everything it called allocated, and its share of the total. Frames below\n"
    "--min-percent are folded into one \"N more frames\" line per caller.\n\n"
    "options:\n"
    "  --at peak|exit|total   live at the peak (default), leaked at exit, or\n"
    "                         everything allocated\n"
    "  --depth N              show N levels of calls (default: all)\n"
    "  --min-percent P        hide frames under P% of the total (default 1)\n"
    "  --inverted             start from the allocating frames, callers below\n\n"
    "examples:\n"
    "  memscope tree run.msc\n"
    "  memscope tree run.msc --at exit --depth 6 --min-percent 5\n"
    "  NO_COLOR=1 memscope tree run.msc --inverted | less\n"};

static int parse_percent(const char *text, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= 0 && v <= 100)) return -1; /* NaN too */
    *out = v;
    return 0;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"at", required_argument, NULL, 'a'},
        {"depth", required_argument, NULL, 'd'},
        {"min-percent", required_argument, NULL, 'p'},
        {"inverted", no_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    msc_tree_options_t opt = {MSC_VIEW_PEAK, 0, 1.0, 0};
    uint64_t depth;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (cli_parse_view(optarg, &opt.view) < 0) return EXIT_USAGE;
            break;
        case 'd':
            if (cli_parse_uint(optarg, &depth) < 0 || depth > UINT32_MAX) {
                cli_error("--depth wants a number, not '%s'", optarg);
                return EXIT_USAGE;
            }
            opt.max_depth = (uint32_t)depth;
            break;
        case 'p':
            if (parse_percent(optarg, &opt.min_percent) == 0) break;
            cli_error("--min-percent wants a number from 0 to 100, not '%s'", optarg);
            return EXIT_USAGE;
        case 'i': opt.inverted = 1; break;
        case 'h': return cli_usage(&cli_cmd_tree, stdout, EXIT_OK);
        default: return cli_usage(&cli_cmd_tree, stderr, EXIT_USAGE);
        }
    }
    if (optind != argc - 1) return cli_usage(&cli_cmd_tree, stderr, EXIT_USAGE);
    cli_capture_t cap;
    int rc = cli_capture_open(&cap, argv[optind], 0);
    if (rc) return rc;
    msc_report_ctx_t ctx = cli_report_ctx(&cap, stdout);
    int err = msc_report_tree(&ctx, stdout, &opt);
    cli_capture_close(&cap);
    if (err) cli_error("cannot write the report: %s", msc_strerror(err));
    return err ? EXIT_USAGE : EXIT_OK;
}
