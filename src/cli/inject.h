/* Calling a function inside another process, as a debugger does, without
 * one (inject.c): find where a symbol lives in a running process, read its
 * memory, stop its main thread, call a function on that thread, and let it
 * go on exactly where it was. x86-64 Linux only (CLI_CAN_INJECT).
 *
 *     uint64_t at[2];
 *     cli_proc_symbols(pid, (const char *[]){"getpid", "mmap"}, 2, at);
 *     cli_tracee_t *t;
 *     if (cli_tracee_stop(pid, &t, &why) == 0) {
 *         uint64_t ret;
 *         cli_tracee_call(t, at[0], NULL, 0, &ret, &why);
 *         cli_tracee_release(t);     // always: restores and detaches
 *     }
 *
 * Errors come back as -1 and a sentence in *why (static text). */
#ifndef MEMSCOPE_CLI_INJECT_H
#define MEMSCOPE_CLI_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#if defined(__x86_64__) && defined(__linux__)
#define CLI_CAN_INJECT 1
#else
#define CLI_CAN_INJECT 0
#endif

/* The run-time addresses in process pid of the n global functions or
 * variables named, each taken from the first ELF object the process maps
 * that defines it: 0 with every addrs[i] set, or -1 with errno (ESRCH no
 * such process, EACCES or EPERM not ours to read, ENOENT a name that no
 * object defines; its addrs[i] is 0). */
int cli_proc_symbols(pid_t pid, const char *const *names, size_t n, uint64_t *addrs);

/* Seconds on the monotonic clock: the deadlines of the waits for a process. */
double cli_monotonic(void);

/* Reads n bytes at addr of process pid: 0, or -1 with errno. */
int cli_proc_read(pid_t pid, uint64_t addr, void *buf, size_t n);

typedef struct cli_tracee cli_tracee_t;

/* Attaches to pid's main thread and stops it (its other threads run on),
 * saving its registers and extended state: 0 with *out set, or -1. */
int cli_tracee_stop(pid_t pid, cli_tracee_t **out, const char **why);

/* Writes n bytes at addr in the stopped process: 0, or -1. */
int cli_tracee_write(cli_tracee_t *t, uint64_t addr, const void *buf, size_t n, const char **why);

/* Calls fn(args[0], ..., args[nargs - 1]) (nargs <= 6, integer or pointer
 * arguments) on the stopped thread, from its state as it stopped, and
 * waits for it to return: 0 with *ret its return value, -2 when it faulted
 * (the fault is not delivered), or -1 (it did not return within a few
 * seconds and was abandoned, or the process ended). The thread is stopped
 * again afterwards, in every case. */
int cli_tracee_call(cli_tracee_t *t, uint64_t fn, const uint64_t *args, size_t nargs, uint64_t *ret,
                    const char **why);

/* Puts back the registers and extended state saved at the stop, detaches,
 * and sends again the signals that arrived meanwhile: the thread resumes
 * where it stopped (a system call it was in is restarted, as after a
 * signal). Frees t. */
void cli_tracee_release(cli_tracee_t *t);

#endif
