/* memscope advise HEAP: what to change in the program to use less memory,
 * most bytes saved first, from a heap snapshot (memscope/advise.h has the
 * rules). */
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "memscope/advise.h"
#include "memscope/format.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_advise = {
    "advise", run, "what to change to use less memory, with the bytes it saves",
    "usage: memscope advise HEAP [--limit N] [--json]\n\n"
    "Read a heap snapshot and say what to change in the program, each piece of\n"
    "advice with the evidence, the change and the bytes it saves (computed with\n"
    "CPython's own sizes), most saved first: __slots__ for classes with many\n"
    "instances, array.array for long lists of ints, one copy of equal strings,\n"
    "no empty containers kept, weak references that break cycles, a narrower\n"
    "dtype for numpy arrays whose values fit one (int64 holding small numbers,\n"
    "float64 holding float32s), and for pandas columns a downcast or category\n"
    "(few distinct values). A snapshot taken while recording also says where\n"
    "the objects were allocated.\n\n"
    "options:\n"
    "  --limit N   pieces of advice shown (default 10; 0 for all)\n"
    "  --json      one JSON object: bytes_saved, advice [{rule, title, bytes_saved,\n"
    "              where [{file, function, line}], evidence, change}]\n\n"
    "examples:\n"
    "  memscope run --heap-at-exit app.heap app.py && memscope advise app.heap\n"
    "  memscope advise app.heap --json --limit 0\n"
    "  memscope run --heap-at-exit frames.heap load_frames.py &&\n"
    "      memscope advise frames.heap --limit 3   # dtypes and categories for its DataFrames\n"};

/* Whether path starts like a capture, which holds no objects to advise on. */
static int is_capture(const char *path)
{
    char magic[8];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int yes = fd >= 0 && read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
              memcmp(magic, MSC_FILE_MAGIC, sizeof(magic)) == 0;
    if (fd >= 0) close(fd);
    return yes;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"limit", required_argument, NULL, 'n'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    uint64_t limit = 10;
    int json = 0, opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            if (cli_option_uint("--limit", optarg, &limit) < 0) return EXIT_USAGE;
            break;
        case 'j': json = 1; break;
        case 'h': return cli_usage(&cli_cmd_advise, stdout, EXIT_OK);
        default: return cli_usage(&cli_cmd_advise, stderr, EXIT_USAGE);
        }
    }
    if (optind != argc - 1) {
        cli_error("advise needs one heap snapshot");
        return EXIT_USAGE;
    }
    const char *path = argv[optind];
    if (is_capture(path)) {
        cli_error("'%s' is a capture; advise reads a heap snapshot (memscope run "
                  "--heap-at-exit FILE, or memscope.dump_heap(FILE))", path);
        return EXIT_USAGE;
    }
    msc_heap_t *h = cli_heap_load(path);
    if (!h) return EXIT_USAGE;
    msc_advice_list_t advice;
    int rc = msc_advise_heap(h, &advice);
    if (rc == 0) {
        rc = msc_report_advice(stdout, h, &advice, (size_t)limit, json);
        msc_advice_list_release(&advice);
    }
    msc_heap_free(h);
    if (rc) cli_error("cannot advise on '%s': %s", path, msc_strerror(rc));
    return rc ? EXIT_USAGE : EXIT_OK;
}
