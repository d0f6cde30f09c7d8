/* memscope attach PID: record, or take a heap snapshot of, a running CPython
 * process that was not started under memscope.
 *
 * gdb attaches for a moment and asks the interpreter for a pending call
 * (Py_AddPendingCall), then detaches: the target runs the call itself, in
 * its main thread between two bytecodes with the GIL held, the one place
 * where running Python code in it is safe. The call runs a bootstrap file
 * that imports memscope from this program's package folder (python/memscope/
 * _attach.py does the work) and writes one status line to a file this
 * command waits for. Before that, a first look with gdb reads the
 * interpreter's version (Py_Version, a variable: nothing runs in the target)
 * so that an unsupported or non-Python process is refused without touching
 * it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_attach = {
    "attach", run, "record or snapshot a running Python process",
    "usage: memscope attach PID [-o FILE] [--duration S] [--force]\n"
    "       memscope attach PID --stop\n"
    "       memscope attach PID --heap FILE\n\n"
    "Start recording every allocation of a running CPython 3.11 process that\n"
    "was not started under memscope, stop that recording, or write a heap\n"
    "snapshot of it. memscope attaches with gdb for a moment and the process\n"
    "runs the request itself, in its main thread at the next bytecode: a main\n"
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

#define GDB_SECONDS 60 /* gdb attaches, reads or calls, and detaches well within this */

/* Runs gdb in batch mode on pid with the given commands; its output
 * (stdout and stderr) goes to out. gdb runs without the LD_PRELOAD this
 * command may have (a sanitizer's runtime, say: not gdb's to load), and is
 * killed if it has not finished in GDB_SECONDS. The exit status, or -1. */
static int gdb(pid_t pid, const char *const *commands, size_t ncommands, char *out, size_t n)
{
    int pipefd[2];
    if (pipe(pipefd) < 0) return -1;
    char pidtext[16];
    snprintf(pidtext, sizeof(pidtext), "%d", (int)pid);
    const char *args[32] = {"gdb", "-nx", "--batch", "-p", pidtext};
    size_t k = 5;
    for (size_t i = 0; i < ncommands && k + 3 < 32; i++) args[k++] = "-ex", args[k++] = commands[i];
    args[k] = NULL;
    pid_t child = fork();
    if (child < 0) return -1;
    if (child == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        dup2(pipefd[1], STDERR_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        unsetenv("LD_PRELOAD");
        execvp("gdb", (char *const *)args);
        _exit(127);
    }
    close(pipefd[1]);
    size_t used = 0;
    time_t deadline = time(NULL) + GDB_SECONDS;
    struct pollfd p = {pipefd[0], POLLIN, 0};
    for (;;) { /* until gdb closes its end, or the deadline */
        int left = (int)(deadline - time(NULL));
        if (left <= 0 || poll(&p, 1, left * 1000) == 0) {
            kill(child, SIGKILL);
            break;
        }
        char sink[4096];
        ssize_t got = used + 1 < n ? read(pipefd[0], out + used, n - 1 - used)
                                   : read(pipefd[0], sink, sizeof(sink)); /* keep gdb unblocked */
        if (got <= 0) break;
        if (used + 1 < n) used += (size_t)got;
    }
    out[used] = 0;
    close(pipefd[0]);
    int status;
    while (waitpid(child, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The value gdb printed for "$1 = VALUE", or -1 when there is none. */
static long long gdb_value(const char *out)
{
    const char *at = strstr(out, "$1 = ");
    return at ? strtoll(at + 5, NULL, 0) : -1;
}

/* Refuses what cannot be attached to, in one line: a missing process, one
 * ptrace may not touch, one that is not CPython, or a version without a
 * built extension. 0 when the process can be asked. */
static int check_target(pid_t pid, const char *root)
{
    char proc[64], out[8192];
    snprintf(proc, sizeof(proc), "/proc/%d", (int)pid);
    if (access(proc, F_OK) != 0) {
        cli_error("no process %d", (int)pid);
        return -1;
    }
    const char *look[] = {"print (unsigned long)Py_Version"};
    int rc = gdb(pid, look, 1, out, sizeof(out));
    if (rc == 127 || rc < 0) {
        cli_error("cannot attach to process %d: gdb is not installed (apt-get install gdb)",
                  (int)pid);
        return -1;
    }
    if (strstr(out, "ptrace:") || strstr(out, "Could not attach")) {
        cli_error("cannot attach to process %d: ptrace is not permitted (attach as its "
                  "user with /proc/sys/kernel/yama/ptrace_scope at 0, or as root)",
                  (int)pid);
        return -1;
    }
    long long version = gdb_value(out);
    if (version < 0) {
        cli_error("process %d is not a CPython 3.11 or newer interpreter", (int)pid);
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
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
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
          "except BaseException as e:\n"
          "    with open(status, 'x') as f:\n"
          "        f.write(f'error: {e}\\n')\n",
          f);
    return fclose(f);
}

/* Asks the target for the pending call that runs the bootstrap. */
static int request(pid_t pid, const char *bootstrap)
{
    char call[PATH_MAX + 256], out[8192];
    snprintf(call, sizeof(call),
             "print (int)Py_AddPendingCall((int (*)(void *))PyRun_SimpleString, "
             "(void *)\"__import__('runpy').run_path('%s')\")",
             bootstrap);
    const char *commands[] = {call};
    gdb(pid, commands, 1, out, sizeof(out));
    if (gdb_value(out) != 0) {
        cli_error("process %d refused the request (%s)", (int)pid,
                  strstr(out, "$1") ? "its pending-call queue is full" : "gdb could not call it");
        return -1;
    }
    return 0;
}

/* Waits for the status line into line (left empty when none came);
 * EXIT_OK when it says ok. */
static int await_status(pid_t pid, const char *status, double timeout, char *line, size_t n)
{
    line[0] = 0;
    struct timespec tick = {0, 20 * 1000 * 1000};
    for (double waited = 0; waited < timeout; waited += 0.02) {
        FILE *f = fopen(status, "r");
        if (f) {
            int ok = fgets(line, (int)n, f) != NULL;
            fclose(f);
            if (ok && strchr(line, '\n')) {
                line[strcspn(line, "\n")] = 0;
                if (strncmp(line, "ok", 2) == 0) return EXIT_OK;
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
    }
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
    if (check_target(pid, root) < 0) return EXIT_USAGE;
    char dir[] = "/tmp/memscope-attach-XXXXXX", bootstrap[64], status[64];
    if (!mkdtemp(dir)) {
        cli_error("cannot make a temporary folder: %s", strerror(errno));
        return EXIT_USAGE;
    }
    chmod(dir, 0711); /* the target (same user) reads the bootstrap, writes the status */
    snprintf(bootstrap, sizeof(bootstrap), "%s/bootstrap.py", dir);
    snprintf(status, sizeof(status), "%s/status", dir);
    int asked = 0, rc = EXIT_USAGE;
    answer[0] = 0;
    if (write_bootstrap(bootstrap, root, call, target, duration, status) < 0)
        cli_error("cannot write '%s': %s", bootstrap, strerror(errno));
    else if ((asked = request(pid, bootstrap) == 0))
        rc = await_status(pid, status, timeout, answer, n);
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
    if (o.stop) printf("memscope: stopped recording process %d into %s\n", (int)o.pid, answer + 3);
    else if (o.heap)
        printf("memscope: wrote a heap snapshot of process %d to %s\n"
               "  memscope heap %s --by kind\n",
               (int)o.pid, target, target);
    else
        printf("memscope: recording process %d into %s%s\n  memscope stats %s\n", (int)o.pid,
               target, o.duration > 0 ? "" : " (until it exits, or attach --stop)", target);
    return EXIT_OK;
}
