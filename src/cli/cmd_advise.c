/* memscope advise CAPTURE [HEAP]: what to change in the program to use less
 * memory, most bytes saved first, from a capture's events, a heap
 * snapshot's objects, or both (memscope/advise.h has the rules). */
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
    "usage: memscope advise CAPTURE [HEAP] [--limit N] [--json]\n"
    "       memscope advise HEAP [--limit N] [--json]\n\n"
    "Say what to change in the program, each piece of advice with the evidence,\n"
    "the change and the bytes it saves, most saved first. From a capture: list\n"
    "comprehensions that made the peak and could be generators, strings built\n"
    "by += that join would allocate once. From a heap snapshot (computed with\n"
    "CPython's own sizes): __slots__ for classes with many instances,\n"
    "array.array for long lists of ints, one copy of equal strings, no empty\n"
    "containers kept, weak references that break cycles. Each piece says what\n"
    "it saves: bytes held, bytes off the peak, or bytes allocated.\n\n"
    "options:\n"
    "  --limit N   pieces of advice shown (default 10; 0 for all)\n"
    "  --json      one JSON object: bytes_saved, advice [{rule, title, bytes_saved,\n"
    "              measure, where [{file, function, line}], evidence, change}]\n\n"
    "examples:\n"
    "  memscope run -o app.msc --heap-at-exit app.heap app.py\n"
    "  memscope advise app.msc app.heap\n"
    "  memscope advise app.heap --json --limit 0\n"};

/* Whether path starts like a capture (else it is taken for a heap
 * snapshot, whose reader says what is wrong with it). */
static int is_capture(const char *path)
{
    char magic[8];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int yes = fd >= 0 && read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
              memcmp(magic, MSC_FILE_MAGIC, sizeof(magic)) == 0;
    if (fd >= 0) close(fd);
    return yes;
}

/* Sorts the paths into one capture and one heap snapshot, each optional:
 * 0, or -1 after saying why not. */
static int classify(char **paths, int n, const char **capture, const char **heap)
{
    *capture = *heap = NULL;
    for (int i = 0; i < n; i++) {
        const char **slot = is_capture(paths[i]) ? capture : heap;
        if (*slot) {
            cli_error("advise reads one capture and one heap snapshot; '%s' and '%s' are both %s",
                      *slot, paths[i], slot == capture ? "captures" : "heap snapshots");
            return -1;
        }
        *slot = paths[i];
    }
    return 0;
}

static int advise(const char *capture, const char *heap, size_t limit, int json)
{
    cli_capture_t c = {0};
    msc_heap_t *h = NULL;
    msc_advice_list_t advice = {0};
    if (capture && cli_capture_open(&c, capture, 0) != EXIT_OK) return EXIT_USAGE;
    if (heap && !(h = cli_heap_load(heap))) {
        if (capture) cli_capture_close(&c);
        return EXIT_USAGE;
    }
    int rc = h ? msc_advise_heap(h, &advice) : 0;
    const char *failed = heap;
    if (rc == 0 && capture) {
        failed = capture;
        rc = msc_advise_capture(capture, c.analysis,
                                (msc_symbols_t *)msc_replay_symbols(c.replay), &advice);
    }
    if (rc == 0) rc = msc_report_advice(stdout, h, &advice, limit, json);
    else cli_error("cannot advise on '%s': %s", failed, msc_strerror(rc));
    msc_advice_list_release(&advice);
    msc_heap_free(h);
    if (capture) cli_capture_close(&c);
    return rc ? EXIT_USAGE : EXIT_OK;
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
    int n = argc - optind;
    if (n < 1 || n > 2) {
        cli_error("advise needs a capture, a heap snapshot, or one of each");
        return EXIT_USAGE;
    }
    const char *capture, *heap;
    if (classify(argv + optind, n, &capture, &heap) < 0) return EXIT_USAGE;
    return advise(capture, heap, (size_t)limit, json);
}
