/* memscope attach PID: record, or take a heap snapshot of, a running CPython
 * process that was not started under memscope.
 *
 * The process's main thread is stopped for a moment with ptrace and asked
 * for a pending call (Py_AddPendingCall; inject.c makes the call), then let
 * go: the target runs the call itself, in its main thread between two
 * bytecodes with the GIL held, the one place where running Python code in
 * it is safe. To start recording or take a snapshot, the call runs a
 * bootstrap file that imports memscope from this program's package folder
 * (python/memscope/_attach.py does the work); to stop, it is the recorder's
 * own msc_attach_stop, in C, so that nothing of the request is recorded.
 * Either writes one status line to a file this command waits for. Before that, a
 * first look reads the interpreter's version (Py_Version, a variable: the
 * process is only read) so that an unsupported or non-Python process is
 * refused without touching it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "inject.h"
#include "memscope/outfile.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_attach = {
    "attach", run, "record or snapshot a running Python process",
    "usage: memscope attach PID [-o FILE] [--duration S] [--force]\n"
    "       memscope attach PID --stop\n"
    "       memscope attach PID --heap FILE\n\n"
    "Start recording every allocation of a running CPython 3.11+ process that\n"
    "was not started under memscope, stop that recording, or write a heap\n"
    "snapshot of it. memscope stops the process's main thread for a moment\n"
    "with ptrace to queue the request (no debugger needed; x86-64), and the\n"
    "process runs it itself, in its main thread at the next bytecode: a main\n"
    "thread blocked in a system call (a long sleep, a read) answers when it\n"
    "returns. The process must belong to you (or you need CAP_SYS_PTRACE), and\n"
    "the kernel must allow ptrace (/proc/sys/kernel/yama/ptrace_scope 0, or\n"
    "run as root).\n\n"
    "options:\n"
    "  -o, --output FILE   the capture (default memscope-attach.PID.msc)\n"
    "  --duration S        stop recording after S seconds (default: at the\n"
    "                      process's exit, or at `attach PID --stop`)\n"
    "  --stop              stop the recording a previous attach started\n"
    "  --heap FILE         write a heap snapshot of the process instead\n"
    "  --timeout S         how long to wait for the process to answer (10)\n"
    "  -f, --force         replace an existing output file\n\n"
    "examples:\n"
    "  memscope attach 4242 -o service.msc --duration 60\n"
    "  memscope attach 4242 --heap service.heap\n"
    "  memscope heap service.heap --retained\n"};

typedef struct attach_options {
    pid_t pid;
    const char *output;
    const char *heap;
    double duration;
    double timeout;
    int stop;
    int force;
} attach_options_t;

static int parse_seconds(const char *option, const char *text, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= 0) || v > 1e7) {
        cli_error("%s wants a number of seconds, not '%s'", option, text);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse(int argc, char **argv, attach_options_t *o)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'}, {"duration", required_argument, NULL, 'd'},
        {"heap", required_argument, NULL, 'H'},   {"timeout", required_argument, NULL, 't'},
        {"stop", no_argument, NULL, 's'},         {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "o:fh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case 'H': o->heap = optarg; break;
        case 's': o->stop = 1; break;
        case 'f': o->force = 1; break;
        case 'd':
            if (parse_seconds("--duration", optarg, &o->duration) < 0) return -1;
            break;
        case 't':
            if (parse_seconds("--timeout", optarg, &o->timeout) < 0) return -1;
            break;
        case 'h': return 1;
        default: return -1;
        }
    }
    if (optind != argc - 1) {
        cli_error("attach needs one process id");
        return -1;
    }
    uint64_t pid;
    if (cli_parse_uint(argv[optind], &pid) < 0 || pid < 1 || pid > INT_MAX) {
        cli_error("attach wants a process id, not '%s'", argv[optind]);
        return -1;
    }
    o->pid = (pid_t)pid;
    if ((o->stop != 0) + (o->heap != NULL) + (o->output != NULL || o->duration > 0) > 1) {
        cli_error("--stop, --heap and recording (-o, --duration) are separate requests");
        return -1;
    }
    return 0;
}

/* Seconds since process pid started (large when unknown). */
static double process_age(pid_t pid)
{
    char path[64], stat[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(stat, 1, sizeof(stat) - 1, f) : 0;
    if (f) fclose(f);
    stat[n] = 0;
    const char *after = strrchr(stat, ')'); /* the name may hold spaces and parentheses */
    unsigned long long start = 0;
    /* state is field 3, starttime field 22: 19 fields after the name */
    if (!after || sscanf(after + 1,
                         " %*c"
                         "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s"
                         "%*s %*s %*s %*s %*s %*s %*s %*s %llu",
                         &start) != 1)
        return 1e9;
    double uptime = 0;
    f = fopen("/proc/uptime", "r");
    if (!f || fscanf(f, "%lf", &uptime) != 1) uptime = 1e9;
    if (f) fclose(f);
    return uptime - (double)start / (double)sysconf(_SC_CLK_TCK);
}

/* What attach uses in the target, found in the objects it maps. The last,
 * the recorder's own stop (src/python/recorder.c), is there only once
 * memscope is loaded in the target: the others are required. */
enum {
    PY_VERSION,
    PY_IS_INITIALIZED,
    PY_ADD_PENDING_CALL,
    PY_RUN_SIMPLE_STRING,
    LIBC_MMAP,
    NREQUIRED,
    MSC_ATTACH_STOP = NREQUIRED,
    NSYMS
};
static const char *const symbol_names[NSYMS] = {
    "Py_Version", "Py_IsInitialized", "Py_AddPendingCall", "PyRun_SimpleString",
    "mmap",       "msc_attach_stop"};

static const struct timespec tick = {0, 20 * 1000 * 1000}; /* between two looks */

static int all_found(const uint64_t at[NSYMS], int n)
{
    for (int i = 0; i < n; i++)
        if (!at[i]) return 0;
    return 1;
}

/* Refuses what cannot be attached to, in one line: a missing process, one
 * ptrace may not touch, one that is not CPython, or a version without a
 * built extension; otherwise fills at[] with the addresses of
 * symbol_names. Only reads the process. 0 when it can be asked. */
static int check_target(pid_t pid, const char *root, uint64_t at[NSYMS])
{
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/%d", (int)pid);
    if (access(proc, F_OK) != 0) {
        cli_error("no process %d", (int)pid);
        return -1;
    }
    /* A process just started may not have mapped all its libraries yet. */
    int err;
    while ((err = cli_proc_symbols(pid, symbol_names, NSYMS, at) < 0 ? errno : 0) == ENOENT &&
           !all_found(at, NREQUIRED) && process_age(pid) < 1)
        nanosleep(&tick, NULL);
    if (err == ENOENT && all_found(at, NREQUIRED)) err = 0;
    uint32_t version = 0;
    if (!err || err == ENOENT) {
        if (at[PY_VERSION] && cli_proc_read(pid, at[PY_VERSION], &version, sizeof(version)) < 0)
            err = errno;
    }
    if (err == ESRCH) {
        cli_error("no process %d", (int)pid);
        return -1;
    }
    if (err == EACCES || err == EPERM) {
        cli_error("cannot attach to process %d: ptrace is not permitted (attach as its "
                  "user with /proc/sys/kernel/yama/ptrace_scope at 0, or as root)",
                  (int)pid);
        return -1;
    }
    if (version < 0x030b0000) {
        cli_error("process %d is not a CPython 3.11 or newer interpreter", (int)pid);
        return -1;
    }
    for (int i = 0; i < NREQUIRED; i++) {
        if (!at[i]) {
            cli_error("cannot attach to process %d: it has no %s", (int)pid, symbol_names[i]);
            return -1;
        }
    }
    if (err) {
        cli_error("cannot read process %d's memory map: %s", (int)pid, strerror(err));
        return -1;
    }
    unsigned major = (unsigned)(version >> 24) & 0xff, minor = (unsigned)(version >> 16) & 0xff;
    char pattern[PATH_MAX + 64];
    snprintf(pattern, sizeof(pattern), "%s/memscope/_memscope.cpython-%u%u*.so", root, major,
             minor);
    glob_t g;
    int found = glob(pattern, 0, NULL, &g) == 0;
    globfree(&g);
    if (!found) {
        cli_error("process %d runs CPython %u.%u, for which this memscope has no recorder "
                  "(build it with that interpreter)",
                  (int)pid, major, minor);
        return -1;
    }
    return 0;
}

/* A path as a Python expression that needs no quoting: its bytes, decoded
 * as the target's os module decodes file names. */
static void py_path(FILE *f, const char *s)
{
    fputs("os.fsdecode(bytes([", f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fprintf(f, "%u%s", *p, p[1] ? ", " : "");
    fputs("]))", f);
}

/* Writes the bootstrap the target runs: it imports memscope from root (first
 * on sys.path only while it imports) and calls one _attach function, which
 * reports to the status file itself. Whatever fails before that is written
 * there too: nothing may print a traceback into the target's stderr. */
static int write_bootstrap(const char *path, const char *root, const char *call, const char *arg,
                           double duration, const char *status)
{
    int fd;
    FILE *f = msc_file_create(path, 0, &fd) != 0 ? NULL : fdopen(fd, "w");
    if (!f) return -1;
    fputs("import os, sys\nstatus = ", f);
    py_path(f, status);
    fputs("\ntry:\n    root = ", f);
    py_path(f, root);
    fputs("\n    sys.path.insert(0, root)\n"
          "    try:\n"
          "        from memscope import _attach\n"
          "    finally:\n"
          "        sys.path.remove(root)\n",
          f);
    fprintf(f, "    _attach.%s(", call);
    if (arg) py_path(f, arg), fputs(", ", f);
    if (strcmp(call, "start") == 0) fprintf(f, "%.3f, ", duration);
    fputs("status)\n"
          "except Exception as e:\n"
          "    with open(status, 'x') as f:\n"
          "        f.write(f'error: {e}\\n')\n",
          f);
    return fclose(f);
}

/* The command the pending call runs, with PyRun_SimpleString, in the
 * namespace of the program's __main__: so it is one expression, binding no
 * name there, that runs the real command in a namespace of its own. An
 * exception must not leave it (the interpreter would raise SystemError in
 * the program's code), except that a Ctrl-C that arrived meanwhile is raised
 * again for the program. It runs the bootstrap only when no import is under
 * way in the main thread: interpreter start-up imports site, os and the
 * rest of the standard library's core after Py_IsInitialized() is already
 * true, and the bootstrap's own imports would find those half made; then it
 * answers "busy" and is asked again. The paths are mkdtemp's: letters,
 * digits, '/', '-' and '.', nothing to quote. */
static int knock_command(char *out, size_t n, const char *bootstrap, const char *status)
{
    return snprintf(out, n,
                    "exec(\""
                    "try:\\n"
                    "    import sys\\n"
                    "    f = sys._getframe()\\n"
                    "    while f and not f.f_code.co_filename.startswith('<frozen importlib'):\\n"
                    "        f = f.f_back\\n"
                    "    if f:\\n"
                    "        with open('%s', 'x') as f:\\n"
                    "            f.write('busy\\\\n')\\n"
                    "    else:\\n"
                    "        with open('%s', 'rb') as f:\\n"
                    "            code = compile(f.read(), f.name, 'exec')\\n"
                    "        exec(code, {'__name__': 'memscope_attach'})\\n"
                    "except KeyboardInterrupt:\\n"
                    "    __import__('_signal').raise_signal(2)\\n"
                    "except BaseException:\\n"
                    "    pass\\n"
                    "\", {})\n",
                    status, bootstrap);
}

/* Asks the target for the pending call fn(text): its main thread, stopped
 * for a moment, maps a page for text (which must outlive the stop: the call
 * runs later; the page stays, 4 KiB), and queues the call with
 * Py_AddPendingCall. fn is PyRun_SimpleString, text a command, or the
 * recorder's stop, text the status file. A process still starting (its
 * interpreter not yet initialized: pending calls made then are not run) is
 * asked again every 20 ms until the deadline. */
static int request(pid_t pid, const uint64_t at[NSYMS], uint64_t fn, const char *text,
                   double deadline)
{
    const char *why = "";
    uint64_t initialized = 0, page = 0, queued = 1;
    uint64_t map[6] = {0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1,
                       0};
    uint64_t pend[2] = {fn, 0};
    size_t len = strlen(text) + 1;
    int ok = len <= 4096;
    while (ok) {
        cli_tracee_t *t;
        int got;
        if (cli_tracee_stop(pid, &t, &why) < 0) ok = 0;
        else if ((got = cli_tracee_call(t, at[PY_IS_INITIALIZED], NULL, 0, &initialized, &why)) ==
                 -1)
            ok = 0;
        else if (got == -2 || (int)initialized == 0) /* got -2: not even relocated yet */
            initialized = 0, why = "its interpreter is still starting";
        else if (cli_tracee_call(t, at[LIBC_MMAP], map, 6, &page, &why) < 0) ok = 0;
        else if (page == (uint64_t)-1 || page == 0) ok = 0, why = "it could not map a page";
        else if (cli_tracee_write(t, page, text, len, &why) < 0) ok = 0;
        else if (pend[1] = page,
                 cli_tracee_call(t, at[PY_ADD_PENDING_CALL], pend, 2, &queued, &why) < 0)
            ok = 0;
        else if ((int)queued != 0) ok = 0, why = "its pending-call queue is full";
        cli_tracee_release(t);
        if ((int)initialized != 0 || cli_monotonic() >= deadline) break;
        nanosleep(&tick, NULL);
    }
    if (!ok || (int)initialized == 0) {
        cli_error("process %d refused the request (%s)", (int)pid, why);
        return -1;
    }
    return 0;
}

#define ANSWER_BUSY (-1)

/* Waits for the status line into line (left empty when none came) until
 * deadline: EXIT_OK when it says ok, ANSWER_BUSY when the target asks to be
 * asked again, EXIT_USAGE after saying what went wrong. */
static int await_status(pid_t pid, const char *status, double deadline, double timeout, char *line,
                        size_t n)
{
    line[0] = 0;
    do {
        FILE *f = fopen(status, "r");
        if (f) {
            int ok = fgets(line, (int)n, f) != NULL;
            fclose(f);
            if (ok && strchr(line, '\n')) {
                line[strcspn(line, "\n")] = 0;
                if (strncmp(line, "ok", 2) == 0) return EXIT_OK;
                if (strcmp(line, "busy") == 0) return ANSWER_BUSY;
                cli_error("process %d: %s", (int)pid,
                          strncmp(line, "error: ", 7) == 0 ? line + 7 : line);
                return EXIT_USAGE;
            }
        }
        if (kill(pid, 0) < 0 && errno == ESRCH) {
            cli_error("process %d ended before it answered", (int)pid);
            return EXIT_USAGE;
        }
        nanosleep(&tick, NULL);
    } while (cli_monotonic() < deadline);
    cli_error("process %d did not answer within %g s: its main thread is not running Python "
              "code (blocked in a system call?); the request stays queued and runs when it "
              "does",
              (int)pid, timeout);
    return EXIT_USAGE;
}

static int absolute(const char *path, char *out, size_t n)
{
    if (path[0] == '/') return snprintf(out, n, "%s", path) < (int)n ? 0 : -1;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd))) return -1;
    return snprintf(out, n, "%s/%s", cwd, path) < (int)n ? 0 : -1;
}

int cli_attach_ask(pid_t pid, const char *call, const char *target, double duration, double timeout,
                   char *answer, size_t n)
{
    char root[PATH_MAX];
    if (cli_package_root(root, sizeof(root)) < 0) {
        cli_error("cannot find the memscope Python package next to this program");
        return EXIT_USAGE;
    }
    double deadline = cli_monotonic() + timeout;
    uint64_t at[NSYMS];
    if (check_target(pid, root, at) < 0) return EXIT_USAGE;
    char dir[] = "/tmp/memscope-attach-XXXXXX", bootstrap[64], status[64], command[1024];
    if (!mkdtemp(dir)) {
        cli_error("cannot make a temporary folder: %s", strerror(errno));
        return EXIT_USAGE;
    }
    chmod(dir, 0711); /* the target (same user) reads the bootstrap, writes the status */
    snprintf(bootstrap, sizeof(bootstrap), "%s/bootstrap.py", dir);
    snprintf(status, sizeof(status), "%s/status", dir);
    knock_command(command, sizeof(command), bootstrap, status);
    int asked = 0, rc = EXIT_USAGE;
    answer[0] = 0;
    if (strcmp(call, "stop") == 0) {
        /* The recorder's own stop, in C: nothing to import or compile. */
        if (!at[MSC_ATTACH_STOP]) cli_error("process %d: not recording", (int)pid);
        else if ((asked = request(pid, at, at[MSC_ATTACH_STOP], status, deadline) == 0))
            rc = await_status(pid, status, deadline, timeout, answer, n);
    } else if (write_bootstrap(bootstrap, root, call, target, duration, status) < 0)
        cli_error("cannot write '%s': %s", bootstrap, strerror(errno));
    else
        while ((asked = request(pid, at, at[PY_RUN_SIMPLE_STRING], command, deadline) == 0) &&
               (rc = await_status(pid, status, deadline, timeout, answer, n)) == ANSWER_BUSY) {
            unlink(status);
            if (cli_monotonic() >= deadline) {
                cli_error("process %d was importing modules each time it was asked within %g s "
                          "(try again)",
                          (int)pid, timeout);
                rc = EXIT_USAGE;
                break;
            }
            nanosleep(&tick, NULL);
        }
    if (answer[0] || !asked) {
        /* Answered, or never asked: a request still queued keeps its files. */
        unlink(status), unlink(bootstrap), rmdir(dir);
    }
    return rc;
}

/* The absolute path of an output that may be created: EXIT_OK, or
 * EXIT_USAGE when it exists (and is not a regular file --force replaces). */
static int output_path(const char *want, int force, char *out, size_t n)
{
    struct stat sb;
    if (absolute(want, out, n) < 0) {
        cli_error("cannot use '%s': the path is too long", want);
        return EXIT_USAGE;
    }
    if (lstat(out, &sb) == 0) {
        if (!force || !S_ISREG(sb.st_mode)) {
            cli_error("'%s' already exists (use --force to replace a regular file)", want);
            return EXIT_USAGE;
        }
        unlink(out);
    }
    return EXIT_OK;
}

int cli_attach_output(pid_t pid, const char *want, int force, char *out, size_t n)
{
    char dflt[64];
    snprintf(dflt, sizeof(dflt), "memscope-attach.%d.msc", (int)pid);
    return output_path(want ? want : dflt, force, out, n);
}

static int run(int argc, char **argv)
{
    attach_options_t o = {0, NULL, NULL, 0, 10, 0, 0};
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc > 0 ? cli_usage(&cli_cmd_attach, stdout, EXIT_OK)
                      : cli_usage(&cli_cmd_attach, stderr, EXIT_USAGE);
    char target[PATH_MAX] = "", answer[PATH_MAX + 16];
    if (o.heap ? output_path(o.heap, o.force, target, sizeof(target))
               : !o.stop && cli_attach_output(o.pid, o.output, o.force, target, sizeof(target)))
        return EXIT_USAGE;
    const char *call = o.stop ? "stop" : o.heap ? "heap" : "start";
    rc = cli_attach_ask(o.pid, call, o.stop ? NULL : target, o.duration, o.timeout, answer,
                        sizeof(answer));
    if (rc != EXIT_OK) return rc;
    cli_shown_t shown, arg;
    if (o.stop)
        printf("memscope: stopped recording process %d into %s\n", (int)o.pid,
               cli_shown(answer + 3, &shown));
    else if (o.heap)
        printf("memscope: wrote a heap snapshot of process %d to %s\n"
               "  memscope heap %s --by kind\n",
               (int)o.pid, cli_shown(target, &shown), cli_shell_arg(target, &arg));
    else
        printf("memscope: recording process %d into %s%s\n  memscope stats %s\n", (int)o.pid,
               cli_shown(target, &shown),
               o.duration > 0 ? "" : " (until it exits, or attach --stop)",
               cli_shell_arg(target, &arg));
    return EXIT_OK;
}
