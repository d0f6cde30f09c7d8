/* memscope advise CAPTURE [HEAP [OLDER_HEAP]]: what to change in the program
 * to use less memory, most bytes saved first, from a capture's events, a
 * heap snapshot's objects (and what grew since an older snapshot), or all
 * of them (memscope/advise.h has the rules). */
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
    "usage: memscope advise [CAPTURE] [HEAP [OLDER_HEAP]] [--limit N] [--json]\n\n"
    "Say what to change in the program, each piece of advice with the evidence,\n"
    "the change and the bytes it saves, most saved first. From a capture: list\n"
    "comprehensions that made the peak and could be generators, strings built\n"
    "by += that join would allocate once. From a heap snapshot (computed with\n"
    "CPython's own sizes): __slots__ for classes with many instances,\n"
    "array.array for long lists of ints, one copy of equal strings, no empty\n"
    "containers kept, weak references that break cycles, a narrower dtype for\n"
    "numpy arrays whose values fit one (int64 holding small numbers, float64\n"
    "holding float32s), and for pandas columns a downcast or category (few\n"
    "distinct values). From two snapshots of one process (in either order): a\n"
    "bound for a dict that grew between them and holds a tenth of the heap.\n"
    "Each piece says what it saves: bytes held, bytes off the peak, or bytes\n"
    "allocated. A snapshot taken while recording also says where the objects\n"
    "were allocated.\n\n"
    "options:\n"
    "  --limit N   pieces of advice shown (default 10; 0 for all)\n"
    "  --json      one JSON object: bytes_saved, advice [{rule, title, bytes_saved,\n"
    "              measure, where [{file, function, line}], evidence, change}]\n\n"
    "examples:\n"
    "  memscope run -o app.msc --heap-at-exit app.heap app.py\n"
    "  memscope advise app.msc app.heap\n"
    "  memscope advise later.heap earlier.heap   # what grew: caches to bound\n"
    "  memscope advise app.heap --json --limit 0\n"
    "  memscope run --heap-at-exit frames.heap load_frames.py &&\n"
    "      memscope advise frames.heap --limit 3   # dtypes and categories for its DataFrames\n"};

/* Whether path starts like a capture (else it is taken for a heap
 * snapshot, whose reader says what is wrong with it). */
static int is_capture(const char *path)
{
    char magic[8];
    const char *why;
    int fd = msc_open_regular(path, &why, NULL);
    int yes = fd >= 0 && read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
              memcmp(magic, MSC_FILE_MAGIC, sizeof(magic)) == 0;
    if (fd >= 0) close(fd);
    return yes;
}

/* Sorts the paths into at most one capture and the heap snapshots: 0, or
 * -1 after saying why not. */
static int classify(char **paths, int n, const char **capture, const char **heaps, int *nheaps)
{
    *capture = NULL;
    *nheaps = 0;
    for (int i = 0; i < n; i++) {
        if (!is_capture(paths[i])) {
            heaps[(*nheaps)++] = paths[i];
        } else if (*capture) {
            cli_error("advise reads one capture; '%s' and '%s' are both captures", *capture,
                      paths[i]);
            return -1;
        } else {
            *capture = paths[i];
        }
    }
    return 0;
}

/* The heap rules on the newer snapshot, and the cache rule when there are
 * two: 0, or -1 after saying why not. h[0] ends up the newer one. */
static int advise_heaps(msc_heap_t **h, int nheaps, const char **paths, msc_advice_list_t *l)
{
    if (nheaps == 2 && h[1]->time_ns > h[0]->time_ns) {
        msc_heap_t *t = h[0];
        const char *p = paths[0];
        h[0] = h[1], h[1] = t;
        paths[0] = paths[1], paths[1] = p;
    }
    int rc = nheaps ? msc_advise_heap(h[0], l) : 0;
    if (rc == 0 && nheaps == 2) rc = msc_advise_growth(h[1], h[0], l);
    if (rc) cli_error("cannot advise on '%s': %s", paths[0], msc_strerror(rc));
    return rc ? -1 : 0;
}

static int advise(const char *capture, const char **heaps, int nheaps, size_t limit, int json)
{
    cli_capture_t c = {0};
    msc_heap_t *h[2] = {NULL, NULL};
    msc_advice_list_t advice = {0};
    int rc = capture && cli_capture_open_advised(&c, capture, 0) != EXIT_OK ? -1 : 0;
    for (int i = 0; rc == 0 && i < nheaps; i++)
        if (!(h[i] = cli_heap_load(heaps[i]))) rc = -1;
    if (rc == 0) rc = advise_heaps(h, nheaps, heaps, &advice);
    if (rc == 0 && capture) {
        rc = msc_advise_capture(capture, c.analysis, (msc_symbols_t *)msc_replay_symbols(c.replay),
                                NULL, NULL, &advice);
        if (rc) cli_error("cannot advise on '%s': %s", capture, msc_strerror(rc));
    }
    if (rc == 0) rc = msc_report_advice(stdout, h[0], &advice, limit, json);
    msc_advice_list_release(&advice);
    for (int i = 0; i < nheaps; i++) msc_heap_free(h[i]);
    if (capture) cli_capture_close(&c);
    return rc ? EXIT_USAGE : EXIT_OK;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"limit", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
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
    int n = argc - optind, nheaps;
    const char *capture, *heaps[3];
    if (n < 1 || n > 3) {
        cli_error("advise needs a capture, a heap snapshot, or both");
        return EXIT_USAGE;
    }
    if (classify(argv + optind, n, &capture, heaps, &nheaps) < 0) return EXIT_USAGE;
    if (nheaps > 2) {
        cli_error("advise reads two heap snapshots at most (a newer and an older one)");
        return EXIT_USAGE;
    }
    return advise(capture, heaps, nheaps, (size_t)limit, json);
}
