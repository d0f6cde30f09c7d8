/* memscope lines FILE [--source PATH]: a source file, line by line, with the
 * exact memory each line (and what it called) allocated and held. */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_lines = {
    "lines", run, "each source line with its memory (memory_profiler's view, exact)",
    "usage: memscope lines FILE [--source PATH]\n\n"
    "Print a program's source with the memory of every line, counting what\n"
    "each line called:\n"
    "  Peak       bytes the line held at the heap's high-water mark\n"
    "  Allocated  bytes it allocated over the whole run\n"
    "  Allocs     how many allocations it made\n"
    "  At exit    bytes it still held when the program ended\n"
    "  Time       CPU time the samples found it running (a capture made with\n"
    "             memscope run --cpu only)\n\n"
    "options:\n"
    "  --source PATH   the file to annotate (default: the recorded script)\n\n"
    "examples:\n"
    "  memscope lines run.msc\n"
    "  memscope lines run.msc --source mypkg/loader.py\n"
    "  memscope run --cpu -o slow.msc etl.py && memscope lines slow.msc\n"};

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"source", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *source = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': source = optarg; break;
        case 'h': return cli_usage(&cli_cmd_lines, stdout, EXIT_OK);
        default: return cli_usage(&cli_cmd_lines, stderr, EXIT_USAGE);
        }
    }
    if (optind != argc - 1) return cli_usage(&cli_cmd_lines, stderr, EXIT_USAGE);
    cli_capture_t cap;
    int rc = cli_capture_open(&cap, argv[optind], 0);
    if (rc) return rc;
    const msc_header_t *h = msc_replay_header(cap.replay);
    if (!source) {
        const char *script = h->argc > 0 ? h->argv[0] : "";
        size_t n = strlen(script);
        if (n < 3 || strcmp(script + n - 3, ".py") != 0) {
            cli_error("'%s' was not recorded from a script; name the file with --source", cap.path);
            cli_capture_close(&cap);
            return EXIT_USAGE;
        }
        source = script;
    }
    msc_report_ctx_t ctx = cli_report_ctx(&cap, stdout);
    int err = msc_report_lines(&ctx, stdout, source, 0, 0);
    cli_capture_close(&cap);
    if (err) cli_error("cannot write the report: %s", msc_strerror(err));
    return err ? EXIT_USAGE : EXIT_OK;
}
