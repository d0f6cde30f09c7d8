/* The memscope command line: one function per subcommand (cmd_*.c), and the
 * few helpers they share for messages, options and opening captures. Only
 * src/cli prints to the terminal or exits. */
#ifndef MEMSCOPE_CLI_H
#define MEMSCOPE_CLI_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "memscope/analysis.h"
#include "memscope/replay.h"
#include "memscope/report.h"
#include "memscope/temporal.h"

/* Exit codes (docs and ../DESIGN contract). */
#define EXIT_OK 0
#define EXIT_FOUND 1     /* a report found what it was asked to fail on */
#define EXIT_USAGE 2     /* bad usage or unreadable input */

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *usage;   /* full help text, shown by --help */
} cli_command_t;

extern const cli_command_t cli_cmd_run, cli_cmd_stats, cli_cmd_table, cli_cmd_lines;
extern const cli_command_t cli_cmd_heap;
extern const cli_command_t cli_cmd_tree, cli_cmd_export, cli_cmd_diff;
extern const cli_command_t cli_cmd_report, cli_cmd_flamegraph, cli_cmd_timeline;
extern const cli_command_t cli_cmd_attach, cli_cmd_live, cli_cmd_advise;

/* A path or name for a message: control bytes escaped as \xNN
 * (cli_shown), and for a command a message suggests also quoted for a
 * shell when it needs to be (cli_shell_arg). */
typedef struct cli_shown {
    char text[8192];
} cli_shown_t;
const char *cli_shown(const char *s, cli_shown_t *buf);
const char *cli_shell_arg(const char *s, cli_shown_t *buf);
/* "memscope: <message>" on stderr. Messages are lowercase, no period. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints usage and returns EXIT_USAGE (for a bad option) or EXIT_OK (help). */
int cli_usage(const cli_command_t *cmd, FILE *out, int code);

/* True when argv[i] is -h/--help. */
int cli_is_help(const char *arg);

/* Parses "10MB", "512KiB", "4096" into bytes; 0 or -1. */
int cli_parse_size(const char *text, uint64_t *out);
/* Parses a non-negative integer; 0 or -1. */
int cli_parse_uint(const char *text, uint64_t *out);
/* The same for an option's value: 0, or -1 after saying what is wrong. */
int cli_option_uint(const char *option, const char *text, uint64_t *out);

/* Asks a running CPython process to run python/memscope/_attach.py's call
 * ("start" recording into target for duration seconds, 0 for until it
 * exits; "stop"; "heap" into target) and waits up to timeout seconds for
 * its one-line answer: EXIT_OK with answer set ("ok ..."), or EXIT_USAGE
 * after saying why not (cmd_attach.c). */
int cli_attach_ask(pid_t pid, const char *call, const char *target, double duration, double timeout,
                   char *answer, size_t n);
/* The absolute path for a capture attach writes (want, or
 * memscope-attach.PID.msc): EXIT_OK, or EXIT_USAGE when it exists and
 * force does not allow replacing it. */
int cli_attach_output(pid_t pid, const char *want, int force, char *out, size_t n);

/* The folder holding the memscope package (the one with memscope/), next to
 * this program: 0, or -1 when there is none (cmd_run.c). */
int cli_package_root(char *out, size_t n);

/* Whether stdout/stderr should be coloured (TTY and NO_COLOR unset). */
int cli_color(FILE *f);

/* A progress bar on stderr for work over a file: what, bytes done of the
 * total and an ETA; silent for the first second (capture.c). */
typedef struct cli_bar {
    const char *what;          /* "reading" */
    const char *path;
    time_t started;
    int shown;                 /* drawn at least once: clear it when done */
} cli_bar_t;
void cli_bar_draw(uint64_t done, uint64_t total, void *bar);
void cli_bar_clear(cli_bar_t *bar);

/* A capture replayed into an analysis (capture.c). */
typedef struct cli_capture {
    const char *path;
    msc_replay_t *replay;
    msc_analysis_t *analysis;
    msc_temporal_t *moments;   /* NULL unless asked for */
} cli_capture_t;

/* Replays path, taking that many moments of its timeline in the same pass
 * (0: none). EXIT_OK, or EXIT_USAGE after printing why the file cannot be
 * read. */
int cli_capture_open(cli_capture_t *c, const char *path, size_t moments);
/* The same, keeping each stack's size range for the advice's join rule
 * (msc_analysis_track_sizes), which then needs no second pass. */
int cli_capture_open_advised(cli_capture_t *c, const char *path, size_t moments);
/* Frees what c holds; closing it again (a failed open closed it already)
 * does nothing. */
void cli_capture_close(cli_capture_t *c);
/* Opens a file to read (msc_open_regular), or prints the one line saying
 * why it cannot and returns -1. */
int cli_open_input(const char *path);
/* The one line for a capture that cannot be read: what is wrong and at
 * which byte (errno for a failed open). */
void cli_read_error(const char *path, int err, const msc_error_info_t *info);
msc_report_ctx_t cli_report_ctx(const cli_capture_t *c, FILE *out);

/* Reads a heap snapshot, with a progress bar on a terminal; NULL after
 * saying why it cannot be read (cmd_heap.c). */
struct msc_heap *cli_heap_load(const char *path);

/* A file a command writes (output.c). */
typedef struct cli_output {
    const char *path;          /* NULL: standard output */
    int force;                 /* --force: replace an existing regular file */
    const char *inputs[2];     /* the files read (NULL when fewer): never written over */
} cli_output_t;

/* Creates o->path (msc_file_create) and returns its descriptor, or -1 after
 * one line saying why not: it is an input, it exists (without --force), it
 * is not a regular file, or the system refused. */
int cli_create_output(const cli_output_t *o);

/* Creates o->path (stdout when NULL), calls write, closes it; EXIT_OK, or
 * EXIT_USAGE after saying what failed (a file written only in part is
 * removed). */
int cli_write_output(const cli_output_t *o, int (*write)(FILE *out, void *arg), void *arg);

/* Starts argv (a renderer such as dot) with its standard output on out_fd
 * and returns a stream to its standard input; NULL after saying why it
 * cannot start (install: how to get it). cli_filter_finish closes nothing:
 * fclose the stream first, then it waits for the renderer; 0, or -1 after
 * saying that writing path failed. */
FILE *cli_filter_start(char *const argv[], int out_fd, pid_t *pid, const char *install);
int cli_filter_finish(pid_t pid, const char *name, const char *path);

/* Parses "FILE [-o OUT] [--force]" (and --help) into o (inputs[0] = FILE):
 * -1 to go on with argv[optind] as FILE, or the exit code to return
 * (cmd_report.c). */
int cli_parse_file_output(int argc, char **argv, const cli_command_t *cmd, cli_output_t *o);
/* FILE.msc -> FILE<suffix>, malloc'd; NULL on OOM (cmd_report.c). */
char *cli_default_output(const char *capture, const char *suffix);

/* Parses --at and --by values: 0, or -1 after saying what is wrong. */
int cli_parse_view(const char *text, msc_view_t *out);
int cli_parse_group(const char *text, msc_group_t *out);
/* Parses a --metric value (cpu, wall) into a time view: 0, or -1 after
 * saying what is wrong. */
int cli_parse_metric(const char *text, msc_view_t *out);
/* -1 after saying why when both --at and --metric were given. */
int cli_at_or_metric(int at, int metric);
/* 0 when the capture has CPU samples, else -1 after saying so (a time view
 * of a capture recorded without --cpu). */
int cli_require_samples(const cli_capture_t *cap, const char *path);

#endif
