/* memscope: entry point of the command-line tool. Finds the subcommand and
 * hands it the remaining arguments; everything else lives in cmd_*.c. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_command_t *const commands[] = {
    &cli_cmd_run,    &cli_cmd_stats,      &cli_cmd_table,    &cli_cmd_lines,  &cli_cmd_heap,
    &cli_cmd_report, &cli_cmd_flamegraph, &cli_cmd_timeline, &cli_cmd_tree,   &cli_cmd_diff,
    &cli_cmd_export, &cli_cmd_attach,     &cli_cmd_live,     &cli_cmd_advise,
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_overview(FILE *out)
{
    fputs("usage: memscope <command> [options] ...\n\n"
          "memscope records every allocation a Python program makes, with its full\n"
          "stack, and tells you where the memory went.\n\ncommands:\n",
          out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-11s %s\n", commands[i]->name, commands[i]->summary);
    fputs("\nexamples:\n"
          "  memscope run -o run.msc script.py --its-args\n"
          "  memscope stats run.msc\n"
          "  memscope table run.msc --at peak --by line --limit 20\n"
          "  memscope lines run.msc --source script.py\n\n"
          "Run 'memscope <command> --help' for a command's options.\n",
          out);
}

/* A command's exit status once what it wrote to standard output is out: a
 * report that did not reach its reader (a full disk, a closed pipe whose
 * signal is ignored) is a failure, named once, whatever the command found. A
 * command that failed has said why already. */
static int stdout_written(int rc)
{
    errno = 0;
    int flushed = fflush(stdout) == 0;
    int err = errno;
    if ((flushed && !ferror(stdout)) || rc == EXIT_USAGE) return rc;
    cli_error("cannot write 'standard output': %s", strerror(err ? err : EIO));
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    /* A fixed threshold: blocks of 1 MiB and more are their own mappings
     * (glibc otherwise raises the threshold to the largest block freed),
     * so the analyser's stack-sized tables start as untouched zero pages
     * (calloc writes nothing, a moment's flame graph pays for the pages it
     * touches) and go back to the system when freed. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    if (argc < 2) {
        print_overview(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (cli_is_help(name) || strcmp(name, "help") == 0) {
        if (argc > 2) {
            for (size_t i = 0; i < NCOMMANDS; i++)
                if (strcmp(commands[i]->name, argv[2]) == 0)
                    return cli_usage(commands[i], stdout, EXIT_OK);
        }
        print_overview(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("memscope %s (capture format %d)\n", msc_version, MSC_FORMAT_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return stdout_written(commands[i]->run(argc - 1, argv + 1));
    cli_error("unknown command '%s' (see 'memscope --help')", name);
    return EXIT_USAGE;
}
