/* memscope lines FILE [--source PATH]: a source file, line by line, with the
 * exact memory each line (and what it called) allocated and held. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The path --source names, as the capture may name it: a file that exists by
 * its real path (the capture names the files a program ran as it ran them,
 * relative to where it ran or absolute, and matches one named by the end
 * of the other), else the path without its leading "./". -1 after saying
 * why it cannot be read (a directory, a FIFO). */
static int resolve_source(const char *given, char **real, const char **source)
{
    const char *why;
    int fd = msc_open_regular(given, &why);
    if (fd < 0 && why) {
        cli_error("cannot read '%s': %s", given, why);
        return -1;
    }
    if (fd >= 0) {
        close(fd);
        *real = realpath(given, NULL);
    }
    *source = *real ? *real : given;
    while (!*real && strncmp(*source, "./", 2) == 0) *source += 2;
    return 0;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"source", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *source = NULL, *given = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': source = given = optarg; break;
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
    char *real = NULL;
    if (given && resolve_source(given, &real, &source) < 0) {
        cli_capture_close(&cap);
        return EXIT_USAGE;
    }
    /* Made aside, so that a file no stack runs is said without a table. */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    int found = 0, err = MSC_ENOMEM;
    if (mem) {
        msc_report_ctx_t ctx = cli_report_ctx(&cap, stdout);
        err = msc_report_lines(&ctx, mem, source, 0, 0, &found);
        if (fclose(mem) != 0 && !err) err = MSC_ENOMEM;
    }
    if (err) {
        cli_error("cannot write the report: %s", msc_strerror(err));
    } else if (!found && given) {
        cli_error("no stack in '%s' runs a line of '%s' (memscope table %s --by file lists the "
                  "files it names)",
                  cap.path, given, cap.path);
        err = MSC_EUSAGE;
    } else {
        fwrite(text, 1, len, stdout);
    }
    free(text);
    free(real);
    cli_capture_close(&cap);
    return err ? EXIT_USAGE : EXIT_OK;
}
