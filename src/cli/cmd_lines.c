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

/* path made absolute from the working directory, its "." and ".."
 * components taken out by their names alone (no link is followed: the
 * capture names a file by the path the program took to it), from
 * msc_malloc; NULL when out of memory or the working directory is unknown. */
static char *lexical_path(const char *path)
{
    char *cwd = path[0] == '/' ? NULL : getcwd(NULL, 0);
    if (path[0] != '/' && !cwd) return NULL;
    char *joined = msc_strfmt("%s/%s", cwd ? cwd : "", path);
    free(cwd);
    if (!joined) return NULL;
    /* Components are copied down over the same buffer; ".." drops the last. */
    char *out = joined, *w = joined;
    for (char *r = joined; *r;) {
        while (*r == '/') r++;
        size_t n = strcspn(r, "/");
        if (n == 0) break;
        if (n == 1 && r[0] == '.') {
            /* nothing */
        } else if (n == 2 && r[0] == '.' && r[1] == '.') {
            while (w > out && *--w != '/') continue;
        } else {
            *w++ = '/';
            memmove(w, r, n);
            w += n;
        }
        r += n;
    }
    if (w == out) *w++ = '/';
    *w = 0;
    return joined;
}

/* The report of source into a buffer (a file no stack runs is then said
 * without a table): 0 or an error; *found says whether any stack runs a
 * line of it. */
static int render(const cli_capture_t *cap, const char *source, int *found, char **text,
                  size_t *len)
{
    *text = NULL;
    FILE *mem = open_memstream(text, len);
    if (!mem) return MSC_ENOMEM;
    msc_report_ctx_t ctx = cli_report_ctx(cap, stdout);
    int err = msc_report_lines(&ctx, mem, source, 0, 0, found);
    if (fclose(mem) != 0 && !err) err = MSC_ENOMEM;
    return err;
}

/* The report of the file --source names: by its path made absolute, then,
 * if no stack runs it by that name, by its real path (links followed), then
 * as given (a file of a capture made elsewhere, matched by the end of its
 * name). */
static int render_given(const cli_capture_t *cap, const char *given, int *found, char **text,
                        size_t *len)
{
    const char *why;
    int fd = msc_open_regular(given, &why, NULL);
    if (fd < 0 && why) {
        cli_error("cannot read '%s': %s", given, why);
        return MSC_EUSAGE;
    }
    if (fd >= 0) close(fd);
    char *lexical = lexical_path(given), *real = fd >= 0 ? realpath(given, NULL) : NULL;
    const char *plain = given;
    while (strncmp(plain, "./", 2) == 0) plain += 2;
    const char *names[] = {lexical, real, plain};
    int err = 0;
    *found = 0;
    for (int i = 0; i < 3 && !err && !*found; i++) {
        if (!names[i] || (i && names[i - 1] && strcmp(names[i], names[i - 1]) == 0)) continue;
        free(*text);
        err = render(cap, names[i], found, text, len);
    }
    free(real);
    msc_free(lexical);
    if (!err && !*found)
        cli_error("no stack in '%s' runs a line of '%s' (memscope table %s --by file lists the "
                  "files it names)",
                  cap->path, given, cap->path);
    return err ? err : *found ? 0 : MSC_EUSAGE;
}

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"source", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *source = NULL, *given = NULL; /* the recorded script, --source */
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': given = optarg; break;
        case 'h': return cli_usage(&cli_cmd_lines, stdout, EXIT_OK);
        default: return cli_usage(&cli_cmd_lines, stderr, EXIT_USAGE);
        }
    }
    if (optind != argc - 1) return cli_usage(&cli_cmd_lines, stderr, EXIT_USAGE);
    cli_capture_t cap;
    int rc = cli_capture_open(&cap, argv[optind], 0);
    if (rc) return rc;
    const msc_header_t *h = msc_replay_header(cap.replay);
    if (!given) {
        const char *script = h->argc > 0 ? h->argv[0] : "";
        size_t n = strlen(script);
        if (n < 3 || strcmp(script + n - 3, ".py") != 0) {
            cli_error("'%s' was not recorded from a script; name the file with --source", cap.path);
            cli_capture_close(&cap);
            return EXIT_USAGE;
        }
        source = script;
    }
    char *text = NULL;
    size_t len = 0;
    int found = 0;
    int err = given ? render_given(&cap, given, &found, &text, &len)
                    : render(&cap, source, &found, &text, &len);
    if (!err) fwrite(text, 1, len, stdout);
    else if (err != MSC_EUSAGE) cli_error("cannot write the report: %s", msc_strerror(err));
    free(text);
    cli_capture_close(&cap);
    return err ? EXIT_USAGE : EXIT_OK;
}
