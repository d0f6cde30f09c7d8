/* memscope run: records a Python program. Checks the options, then replaces
 * itself (execv) with `python3 script.py args` (or -m/-c), so the program
 * keeps this process's pid, stdin, signals and exit status and the
 * interpreter runs it as it always does. A sitecustomize put first on its
 * path starts the recorder (python/memscope/_launch.py). */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "memscope/outfile.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_run = {
    "run", run, "run a Python program and record its allocations",
    "usage: memscope run [-o FILE] [--force] [--depth N] [--sample BYTES] [--native]\n"
    "                    [--native-frames] [--cpu] [--cpu-rate HZ]\n"
    "                    [--follow-fork] [--heap-at-exit PATH] [--heap-on-signal PATH]\n"
    "                    [--heap-signal SIG] [--toggle-on SIG]\n"
    "                    (script.py | -m module | -c code) [args ...]\n\n"
    "Run a program as `python3 script.py args` would (same sys.argv, stdin,\n"
    "stdout, exit code, signals) and record every allocation it makes through\n"
    "CPython's allocators, with its full Python stack.\n\n"
    "options:\n"
    "  -o, --output FILE  where to write the capture (default memscope-NAME.PID.msc);\n"
    "                     an existing file is never replaced without --force\n"
    "  --force            replace an existing capture or heap snapshot (a regular\n"
    "                     file only, never a link); files are created mode 0600\n"
    "  --depth N          keep at most N frames per stack (default 128)\n"
    "  --sample BYTES     record one allocation per BYTES allocated, on average\n"
    "                     (e.g. 512KiB), instead of every one: low overhead for\n"
    "                     production; reports show unbiased estimates\n"
    "  --native           also record what every library allocates with malloc,\n"
    "                     calloc, realloc, posix_memalign ... and mmap (sqlite, ctypes,\n"
    "                     OpenSSL, image codecs), each with its Python stack\n"
    "  --native-frames    also record each allocation's C stack (the C functions\n"
    "                     between the Python line and the allocator); reports show\n"
    "                     them under the Python frames, symbolized when read, by\n"
    "                     build id, so a capture can be read on another machine\n"
    "  --cpu              also sample every Python thread's stack for CPU and wall\n"
    "                     time, in the same capture: a Time column in memscope lines,\n"
    "                     memscope table --metric cpu|wall, a CPU flame graph\n"
    "  --cpu-rate HZ      samples a second per thread for --cpu (default 100;\n"
    "                     implies --cpu)\n"
    "  --follow-fork      record every child that runs Python too, each to FILE.PID\n"
    "                     next to FILE (wherever it changes directory to): forks,\n"
    "                     multiprocessing workers (fork, spawn, forkserver),\n"
    "                     Python programs run by subprocess or exec; a child that\n"
    "                     execs another program leaves no capture; `stats FILE`\n"
    "                     lists the children\n"
    "  --heap-at-exit PATH\n"
    "                     write a heap snapshot to PATH when the program's main\n"
    "                     module finishes, before interpreter teardown\n"
    "  --heap-on-signal PATH\n"
    "                     write a heap snapshot on each SIGUSR2: PATH.1, PATH.2, ...\n"
    "                     (read them with memscope heap)\n"
    "  --heap-signal SIG  the signal for --heap-on-signal (default USR2; gunicorn,\n"
    "                     for one, takes USR2 for itself)\n"
    "  --toggle-on SIG    start with recording off; each SIG starts a recording\n"
    "                     (FILE.1, FILE.2, ...) or stops the one running: a\n"
    "                     long-running service recorded only while you look\n\n"
    "environment:\n"
    "  MEMSCOPE_PYTHON    the interpreter to run (default python3)\n\n"
    "examples:\n"
    "  memscope run pipeline.py --rows 100000\n"
    "  memscope run -o before.msc -m mypkg.cli serve\n"
    "  memscope run --sample 512KiB -o prod.msc service.py\n"
    "  memscope run --native -o etl.msc etl.py\n"
    "  memscope run --native --native-frames -o etl.msc etl.py   (then: memscope tree etl.msc)\n"
    "  memscope run --follow-fork -o train.msc train.py   (workers: train.msc.PID)\n"
    "  memscope run --cpu -o slow.msc etl.py    (then: memscope table slow.msc --metric cpu)\n"
    "  memscope run --heap-on-signal svc.heap service.py   (then: kill -USR2 PID)\n"
    "  memscope run --toggle-on USR1 -o svc.msc service.py (kill -USR1 PID: on, again: off)\n"
    "  memscope run -c 'import json; json.loads(\"[1]\" * 1)'\n"};

/* The folder holding the memscope package: next to this binary when it is
 * installed inside the package, ../python in a checkout. */
int cli_package_root(char *out, size_t n)
{
    char exe[PATH_MAX], probe[PATH_MAX + 64];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len <= 0) return -1;
    exe[len] = 0;
    char *dir = dirname(exe);
    const char *candidates[] = {"%s/../python", "%s/.."};
    for (size_t i = 0; i < 2; i++) {
        char root[PATH_MAX + 16];
        snprintf(root, sizeof(root), candidates[i], dir);
        snprintf(probe, sizeof(probe), "%s/memscope/_launch.py", root);
        if (access(probe, R_OK) == 0 && realpath(root, out) && strlen(out) < n) return 0;
    }
    return -1;
}

static void default_output(const char *target, char *out, size_t n)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof(copy), "%s", target);
    char *name = basename(copy), *dot = strrchr(name, '.');
    if (dot && dot != name) *dot = 0;
    snprintf(out, n, "memscope-%s.%d.msc", name, (int)getpid());
}

typedef struct run_options {
    const char *output;
    const char *depth;
    char sample[32];           /* bytes, as a decimal string; "0" = every event */
    int force;
    int follow_fork;
    int native;
    int native_frames;
    char cpu_rate[16];         /* CPU samples a second, decimal; "0" = no CPU sampling */
    const char *heap_at_exit;  /* heap snapshot paths, NULL when not asked */
    const char *heap_on_signal;
    int heap_signal;           /* the signal for heap_on_signal (SIGUSR2 unless asked) */
    int toggle_signal;         /* --toggle-on: 0 records from the start */
} run_options_t;

/* A signal by name (USR1, SIGUSR1) or number, for the options that take
 * one; only those a program can catch and that do not stop it. 0 when it is
 * not one. */
static int parse_signal(const char *text)
{
    static const struct {
        const char *name;
        int number;
    } names[] = {{"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT},
                 {"USR1", SIGUSR1}, {"USR2", SIGUSR2},   {"ALRM", SIGALRM},
                 {"TERM", SIGTERM}, {"WINCH", SIGWINCH}, {"PWR", SIGPWR}};
    const char *name = strncasecmp(text, "SIG", 3) == 0 ? text + 3 : text;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i].name) == 0) return names[i].number;
    uint64_t n;
    if (cli_parse_uint(text, &n) == 0 && n >= (uint64_t)SIGRTMIN && n <= (uint64_t)SIGRTMAX)
        return (int)n;
    return 0;
}

/* Options end at the program: the script, or -m/-c with their argument. */
static int parse(int argc, char **argv, run_options_t *o)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {"depth", required_argument, NULL, 'd'},
        {"follow-fork", no_argument, NULL, 'F'},
        {"sample", required_argument, NULL, 's'},
        {"native", no_argument, NULL, 'N'},
        {"native-frames", no_argument, NULL, 'n'},
        {"heap-at-exit", required_argument, NULL, 'H'},
        {"heap-on-signal", required_argument, NULL, 'S'},
        {"heap-signal", required_argument, NULL, 'G'},
        {"toggle-on", required_argument, NULL, 'T'},
        {"cpu", no_argument, NULL, 'C'},
        {"cpu-rate", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    uint64_t depth, sample, rate;
    while ((c = getopt_long(argc, argv, "+o:hmc", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case 'f': o->force = 1; break;
        case 'F': o->follow_fork = 1; break;
        case 'N': o->native = 1; break;
        case 'n': o->native_frames = 1; break;
        case 'C':
            if (strcmp(o->cpu_rate, "0") == 0) snprintf(o->cpu_rate, sizeof(o->cpu_rate), "100");
            break;
        case 'R':
            if (cli_parse_uint(optarg, &rate) < 0 || rate < 1 || rate > 10000) {
                cli_error("--cpu-rate wants samples a second from 1 to 10000, not '%s'", optarg);
                return -1;
            }
            snprintf(o->cpu_rate, sizeof(o->cpu_rate), "%llu", (unsigned long long)rate);
            break;
        case 'H': o->heap_at_exit = optarg; break;
        case 'S': o->heap_on_signal = optarg; break;
        case 'G':
        case 'T': {
            int sig = parse_signal(optarg);
            if (!sig) {
                cli_error("--%s wants a signal such as USR1, HUP or a real-time signal's "
                          "number, not '%s'",
                          c == 'G' ? "heap-signal" : "toggle-on", optarg);
                return -1;
            }
            *(c == 'G' ? &o->heap_signal : &o->toggle_signal) = sig;
            break;
        }
        case 'd':
            if (cli_parse_uint(optarg, &depth) < 0 || depth < 1 || depth > 4096) {
                cli_error("--depth wants a number from 1 to 4096, not '%s'", optarg);
                return -1;
            }
            o->depth = optarg;
            break;
        case 's':
            if (cli_parse_size(optarg, &sample) < 0 || sample < 1) {
                cli_error("--sample wants a size in bytes such as 512KiB, not '%s'", optarg);
                return -1;
            }
            snprintf(o->sample, sizeof(o->sample), "%llu", (unsigned long long)sample);
            break;
        case 'm':
        case 'c': optind--; return 0; /* the program starts here */
        case 'h': return 1;
        default: return -1;
        }
    }
    return 0;
}

/* What the recorder would refuse, said before the program starts: an
 * existing file without --force, or (with it) anything but a regular file,
 * which is never replaced. lstat: a link at path counts as existing. */
static int check_output(const char *path, int force)
{
    struct stat sb;
    if (lstat(path, &sb) < 0) return 0;
    if (!force) {
        cli_error("'%s' already exists (use --force to replace it)", path);
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        cli_error("cannot replace '%s': not a regular file", path);
        return -1;
    }
    return 0;
}

/* The capture and the heap snapshot at exit: never the program itself,
 * never one file for both, and each passing check_output. */
static int check_outputs(const run_options_t *o, const char *output, const char *script)
{
    const char *heap = o->heap_at_exit;
    for (int i = 0; i < 2; i++) {
        const char *path = i ? heap : output;
        if (path && script && msc_file_same(path, script)) {
            cli_error("'%s' is the program to run: write the %s to another file", path,
                      i ? "heap snapshot" : "capture");
            return -1;
        }
    }
    if (heap && (strcmp(heap, output) == 0 || msc_file_same(heap, output))) {
        cli_error("'%s' is both the capture and the heap snapshot: name two files", heap);
        return -1;
    }
    if (check_output(output, o->force) < 0) return -1;
    return heap ? check_output(heap, o->force) : 0;
}

/* The interpreter runs the program itself (python3 script.py args): the
 * options travel in MEMSCOPE_RUN_* variables, and memscope/_boot, first on
 * PYTHONPATH, holds the sitecustomize that starts the recorder at start-up
 * and removes all of these again (memscope/_launch.py). */
static int set_launch_environment(const char *root, const char *output, const run_options_t *o)
{
    const char *old = getenv("PYTHONPATH");
    char *pythonpath = malloc(strlen(root) + (old ? strlen(old) : 0) + 32);
    if (!pythonpath) return -1;
    sprintf(pythonpath, old && *old ? "%s/memscope/_boot:%s" : "%s/memscope/_boot", root, old);
    if (old) setenv("MEMSCOPE_PYTHONPATH", old, 1);
    else unsetenv("MEMSCOPE_PYTHONPATH");
    setenv("PYTHONPATH", pythonpath, 1);
    free(pythonpath);
    char flags[64];
    snprintf(flags, sizeof(flags), "%s,%s,%s,%s", o->force ? "force" : "",
             o->follow_fork ? "follow-fork" : "", o->native ? "native" : "",
             o->native_frames ? "native-frames" : "");
    setenv("MEMSCOPE_RUN_OUTPUT", output, 1);
    setenv("MEMSCOPE_RUN_DEPTH", o->depth, 1);
    setenv("MEMSCOPE_RUN_SAMPLE", o->sample, 1);
    setenv("MEMSCOPE_RUN_CPU_RATE", o->cpu_rate, 1);
    setenv("MEMSCOPE_RUN_FLAGS", flags, 1);
    /* Only what this command asked for: nothing left from an outer one. */
    if (o->heap_at_exit) setenv("MEMSCOPE_RUN_HEAP_AT_EXIT", o->heap_at_exit, 1);
    else unsetenv("MEMSCOPE_RUN_HEAP_AT_EXIT");
    if (o->heap_on_signal) setenv("MEMSCOPE_RUN_HEAP_ON_SIGNAL", o->heap_on_signal, 1);
    else unsetenv("MEMSCOPE_RUN_HEAP_ON_SIGNAL");
    char number[16];
    snprintf(number, sizeof(number), "%d", o->heap_signal);
    setenv("MEMSCOPE_RUN_HEAP_SIGNAL", number, 1);
    snprintf(number, sizeof(number), "%d", o->toggle_signal);
    setenv("MEMSCOPE_RUN_TOGGLE_SIGNAL", number, 1);
    return 0;
}

static int run(int argc, char **argv)
{
    run_options_t o = {NULL, "128", "0", 0, 0, 0, 0, "0", NULL, NULL, SIGUSR2, 0};
    int rc = parse(argc, argv, &o);
    if (rc == 0 && o.heap_on_signal && o.toggle_signal == o.heap_signal) {
        cli_error("--toggle-on and --heap-on-signal need two different signals "
                  "(choose the heap's with --heap-signal)");
        rc = -1;
    }
    if (rc)
        return rc > 0 ? cli_usage(&cli_cmd_run, stdout, EXIT_OK)
                      : cli_usage(&cli_cmd_run, stderr, EXIT_USAGE);
    if (optind >= argc) {
        cli_error("run needs a program: a script, -m module or -c code");
        return EXIT_USAGE;
    }
    char **prog = argv + optind;
    int nprog = argc - optind;
    int is_flag = strcmp(prog[0], "-m") == 0 || strcmp(prog[0], "-c") == 0;
    if (is_flag && nprog < 2) {
        cli_error("%s needs an argument", prog[0]);
        return EXIT_USAGE;
    }
    if (!is_flag && access(prog[0], R_OK) != 0) {
        cli_error("cannot run '%s': %s", prog[0], strerror(errno));
        return EXIT_USAGE;
    }
    char output[PATH_MAX], root[PATH_MAX];
    if (o.output) snprintf(output, sizeof(output), "%s", o.output);
    else
        default_output(is_flag ? (prog[0][1] == 'm' ? prog[1] : "c") : prog[0], output,
                       sizeof(output));
    if (check_outputs(&o, output, is_flag ? NULL : prog[0]) < 0) return EXIT_USAGE;
    if (cli_package_root(root, sizeof(root)) < 0) {
        cli_error("cannot find the memscope Python package next to this program");
        return EXIT_USAGE;
    }

    const char *python = getenv("MEMSCOPE_PYTHON");
    if (!python || !*python) python = "python3";
    if (set_launch_environment(root, output, &o) < 0) {
        cli_error("out of memory");
        return EXIT_USAGE;
    }
    char **args = calloc((size_t)nprog + 2, sizeof(char *));
    if (!args) return EXIT_USAGE;
    args[0] = (char *)python;
    memcpy(args + 1, prog, (size_t)nprog * sizeof(char *));
    execvp(python, args);
    cli_error("cannot run '%s': %s (set MEMSCOPE_PYTHON to a CPython 3.11, 3.12 or 3.13 "
              "interpreter)",
              python, strerror(errno));
    return EXIT_USAGE;
}
