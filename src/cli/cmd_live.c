/* memscope live FILE: a view of a capture while it is being written,
 * redrawn every second: the heap now and at its peak, RSS, what has been
 * allocated, a sparkline of the heap, the lines holding the most memory now
 * and the lines that grew most since the view started.
 *
 * It follows the file as `Capture(path, follow=True)` does (a replay opened
 * with MSC_REPLAY_FOLLOW picks up where it stopped on each run), so each
 * refresh costs only the events written since the last one. On a terminal
 * the screen is redrawn in place and `q` or Ctrl-C quits; otherwise each
 * refresh prints a plain block. It ends by itself when the capture is
 * complete (the program ended). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "memscope/aggregate.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_live = {
    "live", run, "watch a capture while it is recorded",
    "usage: memscope live FILE [--interval S] [--limit N]\n"
    "       memscope live --pid PID [-o FILE] [--force] [--interval S] [--limit N]\n\n"
    "Show a capture that is still being written, refreshed every second: the\n"
    "heap now and its peak, RSS, bytes allocated, a sparkline of the heap, the\n"
    "lines holding the most memory now and those that grew most since the view\n"
    "started. On a terminal, q or Ctrl-C quits; piped, each refresh prints a\n"
    "plain block. It ends when the program does. With --pid, it first starts\n"
    "recording the running process (as memscope attach does) and stops that\n"
    "recording when it quits; the capture stays.\n\n"
    "options:\n"
    "  --pid PID      attach to a running CPython process and watch it\n"
    "  -o FILE        with --pid: the capture (default memscope-attach.PID.msc)\n"
    "  -f, --force    with --pid: replace an existing capture file\n"
    "  --interval S   seconds between refreshes (default 1)\n"
    "  --limit N      lines in each table (default 8)\n\n"
    "examples:\n"
    "  memscope run -o app.msc app.py &  memscope live app.msc\n"
    "  memscope live --pid 4242\n"};

#define SPARK_WIDTH 60

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* A line's bytes when the view started, to show growth since. */
typedef struct baseline {
    msc_row_t *rows;           /* sorted by (file, line, function); owned */
    size_t n;
} baseline_t;

static int row_order(const void *a, const void *b)
{
    const msc_row_t *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    if (c) return c;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    return strcmp(x->function ? x->function : "", y->function ? y->function : "");
}

static uint64_t baseline_bytes(const baseline_t *b, const msc_row_t *r)
{
    msc_row_t *hit = b->n ? bsearch(r, b->rows, b->n, sizeof(*r), row_order) : NULL;
    return hit ? hit->bytes : 0;
}

static void put_row(FILE *out, const msc_row_t *r, int64_t growth)
{
    char a[32], b[32], signed_b[34];
    msc_format_bytes(r->bytes, a, sizeof(a));
    msc_format_bytes((uint64_t)(growth < 0 ? -growth : growth), b, sizeof(b));
    snprintf(signed_b, sizeof(signed_b), "%s%s", growth < 0 ? "-" : growth ? "+" : "", b);
    fprintf(out, "  %12s  %12s  ", a, signed_b);
    msc_put_text(out, r->file);
    fprintf(out, ":%u in ", r->line);
    msc_put_text(out, r->function ? r->function : "?");
    fputc('\n', out);
}

/* The heap over the whole capture in SPARK_WIDTH columns, each the highest
 * sample that falls in it. */
static void put_sparkline(FILE *out, const msc_analysis_t *a)
{
    static const char *const bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    size_t n;
    const msc_sample_t *s = msc_analysis_samples(a, &n);
    if (n < 2) return;
    uint64_t col[SPARK_WIDTH] = {0}, top = 1;
    uint64_t t0 = s[0].time_ns, span = s[n - 1].time_ns - t0 + 1;
    for (size_t i = 0; i < n; i++) {
        size_t c = (size_t)((double)(s[i].time_ns - t0) / (double)span * SPARK_WIDTH);
        if (c >= SPARK_WIDTH) c = SPARK_WIDTH - 1;
        if (s[i].heap_bytes > col[c]) col[c] = s[i].heap_bytes;
        if (s[i].heap_bytes > top) top = s[i].heap_bytes;
    }
    fputs("heap  ", out);
    uint64_t last = 0;
    for (size_t c = 0; c < SPARK_WIDTH; c++) {
        last = col[c] ? col[c] : last; /* a column with no sample holds the last value */
        fputs(bars[last * 7 / top], out);
    }
    fputc('\n', out);
}

static int by_growth(const void *a, const void *b, void *arg)
{
    const baseline_t *base = arg;
    const msc_row_t *x = a, *y = b;
    int64_t gx = (int64_t)x->bytes - (int64_t)baseline_bytes(base, x);
    int64_t gy = (int64_t)y->bytes - (int64_t)baseline_bytes(base, y);
    return gx < gy ? 1 : gx > gy ? -1 : 0;
}

static void draw(FILE *out, const char *path, cli_capture_t *c, const msc_rows_t *now,
                 const baseline_t *base, size_t limit)
{
    const msc_summary_t *s = msc_analysis_summary(c->analysis);
    size_t n;
    const msc_sample_t *samples = msc_analysis_samples(c->analysis, &n);
    char heap[32], peak[32], rss[32], rss_peak[32], total[32];
    msc_format_bytes(s->current_bytes, heap, sizeof(heap));
    msc_format_bytes(s->peak_bytes, peak, sizeof(peak));
    msc_format_bytes(n ? samples[n - 1].rss_bytes : 0, rss, sizeof(rss));
    msc_format_bytes(s->peak_rss_bytes, rss_peak, sizeof(rss_peak));
    msc_format_bytes(s->total_allocated_bytes, total, sizeof(total));
    double secs = (double)msc_replay_duration_ns(c->replay) / 1e9;
    fputs("memscope live: ", out);
    msc_put_text(out, path);
    fprintf(out, "  (%s, %.1f s)\n\n", msc_replay_complete(c->replay) ? "ended" : "recording",
            secs);
    fprintf(out, "Heap now   %12s    peak %s at %.1f s\n", heap, peak,
            (double)s->peak_time_ns / 1e9);
    fprintf(out, "RSS now    %12s    peak %s\n", rss, rss_peak);
    fprintf(out, "Allocated  %12s    in %llu allocations, %llu frees\n\n", total,
            (unsigned long long)s->allocations, (unsigned long long)s->frees);
    put_sparkline(out, c->analysis);
    fprintf(out, "\nLive now, by line:\n  %12s  %12s  Location\n", "Bytes", "Since start");
    for (size_t i = 0; i < now->n && i < limit; i++)
        put_row(out, &now->rows[i],
                (int64_t)now->rows[i].bytes - (int64_t)baseline_bytes(base, &now->rows[i]));
    fputs("\nGrew most since start:\n", out);
    if (!now->n) return; /* nothing live yet */
    msc_row_t *grown = malloc(now->n * sizeof(*grown));
    if (!grown) return;
    memcpy(grown, now->rows, now->n * sizeof(*grown));
    qsort_r(grown, now->n, sizeof(*grown), by_growth, (void *)base);
    for (size_t i = 0; i < now->n && i < limit; i++) {
        int64_t g = (int64_t)grown[i].bytes - (int64_t)baseline_bytes(base, &grown[i]);
        if (g <= 0) break;
        put_row(out, &grown[i], g);
    }
    free(grown);
}

/* Replays what was written since the last call; EXIT_OK or EXIT_USAGE after
 * saying what is wrong with the file. */
static int advance(cli_capture_t *c, const char *path)
{
    msc_error_info_t info = {0, NULL};
    int err = msc_replay_run(c->replay, msc_analysis_event, c->analysis, &info);
    if (err && err != MSC_ETRUNCATED) {
        cli_read_error(path, err, &info);
        return EXIT_USAGE;
    }
    if (msc_analysis_finish(c->analysis) < 0) {
        cli_error("out of memory reading '%s'", path);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int open_follow(cli_capture_t *c, const char *path)
{
    int err;
    msc_error_info_t info = {0, NULL};
    c->path = path;
    c->replay = msc_replay_open(path, MSC_REPLAY_FOLLOW, &err, &info);
    if (!c->replay) {
        cli_read_error(path, err, &info);
        return EXIT_USAGE;
    }
    c->analysis = msc_analysis_new();
    if (!c->analysis) return EXIT_USAGE;
    const msc_header_t *h = msc_replay_header(c->replay);
    if (h->mode == MSC_MODE_SAMPLED) msc_analysis_set_sampling(c->analysis, h->sample_bytes);
    return EXIT_OK;
}

/* Waits up to ms for a key on a terminal; 1 when it was q. */
static int quit_key(int tty, int ms)
{
    if (!tty) {
        poll(NULL, 0, ms);
        return 0;
    }
    struct pollfd p = {STDIN_FILENO, POLLIN, 0};
    char key;
    return poll(&p, 1, ms) > 0 && read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' || key == 'Q');
}

/* With --pid: starts recording the process into path; EXIT_OK or EXIT_USAGE. */
static int attach_start(uint64_t pid, const char *output, int force, char *path, size_t n)
{
    char answer[PATH_MAX + 16];
    if (pid < 1 || pid > INT_MAX) {
        cli_error("--pid wants a process id");
        return EXIT_USAGE;
    }
    if (cli_attach_output((pid_t)pid, output, force, path, n) != EXIT_OK) return EXIT_USAGE;
    return cli_attach_ask((pid_t)pid, "start", path, 0, 10, answer, sizeof(answer));
}

static int view(const char *path, double interval, size_t limit);

static int run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"interval", required_argument, NULL, 'i'},
        {"limit", required_argument, NULL, 'l'},
        {"pid", required_argument, NULL, 'p'},
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double interval = 1;
    uint64_t limit = 8, pid = 0;
    const char *output = NULL;
    int opt, force = 0;
    while ((opt = getopt_long(argc, argv, "o:fh", longopts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'p':
            if (cli_option_uint("--pid", optarg, &pid) < 0) return EXIT_USAGE;
            break;
        case 'o': output = optarg; break;
        case 'f': force = 1; break;
        case 'i':
            interval = strtod(optarg, &end);
            if (end == optarg || *end || !(interval >= 0.05) || interval > 3600) {
                cli_error("--interval wants seconds from 0.05 to 3600, not '%s'", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'l':
            if (cli_option_uint("--limit", optarg, &limit) < 0) return EXIT_USAGE;
            break;
        case 'h': return cli_usage(&cli_cmd_live, stdout, EXIT_OK);
        default: return cli_usage(&cli_cmd_live, stderr, EXIT_USAGE);
        }
    }
    if (optind != argc - (pid ? 0 : 1)) {
        cli_error(pid ? "live --pid takes no capture file (use -o to name it)"
                      : "live needs one capture file, or --pid");
        return EXIT_USAGE;
    }
    if (!pid && (output || force)) {
        cli_error("-o and --force name the capture live --pid makes; without --pid, live "
                  "only reads FILE");
        return EXIT_USAGE;
    }
    if (!pid) return view(argv[optind], interval, (size_t)limit);
    char path[PATH_MAX], answer[PATH_MAX + 16];
    if (attach_start(pid, output, force, path, sizeof(path)) != EXIT_OK) return EXIT_USAGE;
    int rc = view(path, interval, (size_t)limit);
    /* A program that ended has finished its capture itself. */
    if (kill((pid_t)pid, 0) == 0 &&
        cli_attach_ask((pid_t)pid, "stop", NULL, 0, 10, answer, sizeof(answer)) == EXIT_OK) {
        cli_shown_t shown;
        printf("memscope: stopped recording process %d; the capture is %s\n", (int)pid,
               cli_shown(path, &shown));
    }
    return rc;
}

/* Whether the process that writes the capture is gone (there is no
 * process of its id on this machine). */
static int writer_gone(const cli_capture_t *c)
{
    uint64_t pid = msc_replay_header(c->replay)->pid;
    return pid > 0 && pid <= INT_MAX && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Follows path until its program ends or the user quits. */
static int view(const char *path, double interval, size_t limit)
{
    cli_capture_t c = {0};
    if (open_follow(&c, path) != EXIT_OK || advance(&c, path) != EXIT_OK) {
        cli_capture_close(&c);
        return EXIT_USAGE;
    }

    int tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
    struct termios saved, raw;
    if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        fputs("\033[?25l", stdout); /* hide the cursor while redrawing */
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    baseline_t base = {NULL, 0};
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(c.replay);
    int rc = EXIT_OK, ended_early = 0;
    for (int first = 1;; first = 0) {
        msc_rows_t now;
        if (msc_aggregate(c.analysis, sym, MSC_VIEW_EXIT, MSC_BY_LINE, 0, NULL, &now) < 0) {
            cli_error("out of memory reading '%s'", path);
            rc = EXIT_USAGE;
            break;
        }
        if (first && now.n) {
            base.rows = malloc(now.n * sizeof(*base.rows));
            if (base.rows) {
                memcpy(base.rows, now.rows, now.n * sizeof(*base.rows));
                base.n = now.n;
                qsort(base.rows, base.n, sizeof(*base.rows), row_order);
            }
        }
        if (tty) fputs("\033[H\033[2J", stdout);
        else if (!first) fputc('\n', stdout);
        draw(stdout, path, &c, &now, &base, limit);
        if (tty) fputs("\nq quits\n", stdout);
        fflush(stdout);
        msc_rows_release(&now);
        if (msc_replay_complete(c.replay) || interrupted || ended_early) break;
        /* A program that died without ending its capture (killed, or the
         * capture cut short) writes nothing more: the view reads what it
         * wrote to the end, shows it once more, and stops. */
        int gone = writer_gone(&c);
        if (quit_key(tty, gone ? 0 : (int)(interval * 1000)) || interrupted) break;
        if ((rc = advance(&c, path)) != EXIT_OK) break;
        ended_early = gone && !msc_replay_complete(c.replay);
    }
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        fputs("\033[?25h", stdout);
        fflush(stdout);
    }
    if (ended_early)
        cli_warn("'%s' ends without a trailer and process %llu, which wrote it, is gone: the "
                 "program was killed; showing what it holds",
                 path, (unsigned long long)msc_replay_header(c.replay)->pid);
    free(base.rows);
    cli_capture_close(&c);
    return rc;
}
