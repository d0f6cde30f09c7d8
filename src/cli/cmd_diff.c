/* memscope diff BEFORE AFTER: per-site memory changes between two captures
 * of one program; with --fail-over, exit 1 when the view grew past the
 * threshold, so CI can gate on it. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "memscope/diff.h"
#include "memscope/report.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_diff = {
    "diff", run, "per-site memory changes between two captures; a CI gate",
    "usage: memscope diff BEFORE AFTER [--at peak|exit|total] [--by line|function|file]\n"
    "                     [--limit N] [--json] [--fail-over SIZE|PERCENT%]\n\n"
    "Compare two captures of the same program site by site. Sites match by\n"
    "file, function and line; when lines moved, by function; when the two\n"
    "runs came from different checkouts, by the path inside them. Sites that\n"
    "grew and sites that shrank are listed in sections of their own, biggest\n"
    "first; the first line says the net change.\n\n"
    "options:\n"
    "  --at peak|exit|total   live at the peak (default), leaked at exit, or\n"
    "                         everything allocated\n"
    "  --by line|function|file   how to group sites (default line)\n"
    "  --limit N              rows shown in each section (default 20; 0 for all)\n"
    "  --json                 one JSON object: before/after totals, delta_bytes,\n"
    "                         delta_percent, exceeded, rows of {file, function,\n"
    "                         line, line_before, status, before_bytes, after_bytes,\n"
    "                         delta_bytes, before_allocations, after_allocations}\n"
    "  --fail-over T          exit 1 when the view's total grew by more than T:\n"
    "                         a size (5MB, 512KiB, 100000) or a percentage (10%)\n\n"
    "exit status: 0 within the threshold, 1 over it, 2 on bad usage or an\n"
    "unreadable capture\n\n"
    "examples:\n"
    "  memscope diff main.msc branch.msc\n"
    "  memscope diff main.msc branch.msc --at exit --by function\n"
    "  memscope diff main.msc branch.msc --fail-over 5MB --json > diff.json\n"};

typedef struct threshold {
    const char *text;          /* as given; NULL when not asked */
    int is_percent;
    double percent;
    uint64_t bytes;
} threshold_t;

static int parse_threshold(const char *text, threshold_t *t)
{
    size_t n = strlen(text);
    t->text = text;
    t->is_percent = n > 1 && text[n - 1] == '%';
    if (!t->is_percent) return cli_parse_size(text, &t->bytes);
    char *end;
    t->percent = strtod(text, &end);
    return end == text + n - 1 && t->percent >= 0 && t->percent < 1e15 ? 0 : -1;
}

static int exceeded(const threshold_t *t, const msc_diff_t *d)
{
    if (!t->text || d->after_total <= d->before_total) return 0;
    uint64_t growth = d->after_total - d->before_total;
    if (!t->is_percent) return growth > t->bytes;
    return !d->before_total || 100.0 * (double)growth / (double)d->before_total > t->percent;
}

static int compare(cli_capture_t cap[2], msc_diff_report_t *opt, const threshold_t *limit, int json)
{
    msc_rows_t rows[2];
    msc_diff_t d;
    int err = 0, n = 0;
    for (; n < 2 && !err; n++) {
        msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(cap[n].replay);
        err = msc_aggregate(cap[n].analysis, sym, opt->view, opt->group, 0, NULL, &rows[n]);
    }
    if (!err) err = msc_diff(&rows[0], &rows[1], &d);
    if (!err) {
        opt->exceeded = exceeded(limit, &d);
        err = msc_report_diff(stdout, &d, opt, json);
        msc_diff_release(&d);
    }
    while (n--) msc_rows_release(&rows[n]);
    if (err) {
        cli_error("cannot write the report: %s", msc_strerror(err));
        return EXIT_USAGE;
    }
    if (!opt->exceeded) return EXIT_OK;
    char grew[32];
    msc_format_bytes(d.after_total - d.before_total, grew, sizeof(grew));
    cli_error("%s grew by %s, past --fail-over %s",
              opt->view == MSC_VIEW_PEAK   ? "the peak"
              : opt->view == MSC_VIEW_EXIT ? "memory leaked at exit"
                                           : "total allocated",
              grew, limit->text);
    return EXIT_FOUND;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"at", required_argument, NULL, 'a'},
        {"by", required_argument, NULL, 'b'},
        {"limit", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"fail-over", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    msc_diff_report_t opt = {NULL, NULL, MSC_VIEW_PEAK, MSC_BY_LINE, 20, 0, NULL, 0};
    threshold_t limit = {NULL, 0, 0, 0};
    uint64_t rows;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (cli_parse_view(optarg, &opt.view) < 0) return EXIT_USAGE;
            break;
        case 'b':
            if (cli_parse_group(optarg, &opt.group) < 0) return EXIT_USAGE;
            break;
        case 'l':
            if (cli_option_uint("--limit", optarg, &rows) < 0) return EXIT_USAGE;
            opt.limit = (size_t)rows;
            break;
        case 'j': json = 1; break;
        case 'f':
            if (parse_threshold(optarg, &limit) == 0) break;
            cli_error("--fail-over wants a size (5MB) or a percentage (10%%), not '%s'", optarg);
            return EXIT_USAGE;
        case 'h': return cli_usage(&cli_cmd_diff, stdout, EXIT_OK);
        default: return cli_usage(&cli_cmd_diff, stderr, EXIT_USAGE);
        }
    }
    if (optind != argc - 2) return cli_usage(&cli_cmd_diff, stderr, EXIT_USAGE);
    cli_capture_t cap[2];
    int rc = cli_capture_open(&cap[0], argv[optind], 0);
    if (rc) return rc;
    rc = cli_capture_open(&cap[1], argv[optind + 1], 0);
    if (rc) {
        cli_capture_close(&cap[0]);
        return rc;
    }
    opt.before_path = argv[optind];
    opt.after_path = argv[optind + 1];
    opt.color = cli_color(stdout);
    opt.fail_over = limit.text;
    rc = compare(cap, &opt, &limit, json);
    cli_capture_close(&cap[1]);
    cli_capture_close(&cap[0]);
    return rc;
}
