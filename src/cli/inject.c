/* Calling a function inside another process (inject.h).
 *
 * A call is what a debugger's "call f(x)" does, done with ptrace alone:
 *
 *   1. PTRACE_SEIZE the main thread and PTRACE_INTERRUPT it; it stops in
 *      the kernel, on its way back to user space (from a system call, or
 *      from wherever it was preempted).
 *   2. Save its general registers and its whole XSAVE area. The kernel
 *      takes the area back only at exactly the size it gave (an AMX tile
 *      state makes it 11 KiB where it used to be 2.7 KiB: a buffer of an
 *      older fixed size is refused with EFAULT), so it is read into a
 *      generous buffer, kept at the size read, and written straight back
 *      once to prove the restore will work before anything is changed.
 *   3. For each call: registers as the System V ABI wants them (arguments
 *      in rdi, rsi, rdx, rcx, r8, r9; rsp 16-aligned before the return
 *      address is pushed, below the 128-byte red zone of the interrupted
 *      code), and a return address of 0: the return faults, and ptrace
 *      reports the SIGSEGV before it is delivered, with the result in rax.
 *      orig_rax = -1 tells the kernel this is no longer a system call, so
 *      it does not "restart" one into the middle of the called function.
 *   4. Put the saved state back and detach. The original orig_rax and rax
 *      come back with it, so a system call the thread was in (a sleep, a
 *      read) is restarted by the kernel exactly as after a signal.
 *
 * The SIGSEGV of step 3 is never delivered (the thread resumes with signal
 * 0); signals that arrive for the thread meanwhile are noted and sent
 * again at the detach. */
#include "inject.h"

#include <elf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if CLI_CAN_INJECT
#include <sys/user.h>
#endif

/*
 * Symbols: libdwfl reads /proc/PID/maps, opens each mapped ELF object and
 * applies its load bias; only the objects' own symbol tables are read (no
 * separate debug files: the names wanted are all exported).
 */

typedef struct lookup {
    const char *const *names;
    size_t n, found;
    uint64_t *addrs;
} lookup_t;

static int no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                        const char *file_name, const char *debuglink_file, GElf_Word debuglink_crc,
                        char **debuginfo_file_name)
{
    (void)mod, (void)userdata, (void)modname, (void)base, (void)file_name;
    (void)debuglink_file, (void)debuglink_crc, (void)debuginfo_file_name;
    return -1;
}

static const Dwfl_Callbacks live_process = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = no_debuginfo,
};

static int each_module(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start,
                       void *arg)
{
    (void)userdata, (void)name, (void)start;
    lookup_t *l = arg;
    int count = dwfl_module_getsymtab(mod);
    for (int i = 1; i < count; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        const char *s = dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL);
        int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);
        if (!s || sym.st_shndx == SHN_UNDEF || !addr || (type != STT_FUNC && type != STT_OBJECT) ||
            (bind != STB_GLOBAL && bind != STB_WEAK))
            continue; /* an import, an ifunc resolver, or a file's own static */
        for (size_t k = 0; k < l->n; k++)
            if (!l->addrs[k] && strcmp(s, l->names[k]) == 0) l->addrs[k] = addr, l->found++;
    }
    return l->found < l->n ? DWARF_CB_OK : DWARF_CB_ABORT;
}

int cli_proc_symbols(pid_t pid, const char *const *names, size_t n, uint64_t *addrs)
{
    memset(addrs, 0, n * sizeof(*addrs));
    Dwfl *d = dwfl_begin(&live_process);
    if (!d) return errno = ENOMEM, -1;
    dwfl_report_begin(d);
    int err = dwfl_linux_proc_report(d, pid); /* an errno, or -1 for a libdwfl error */
    dwfl_report_end(d, NULL, NULL);
    if (err) {
        dwfl_end(d);
        return errno = err > 0 ? err : EINVAL, -1;
    }
    lookup_t l = {names, n, 0, addrs};
    dwfl_getmodules(d, each_module, &l, 0);
    dwfl_end(d);
    return l.found == n ? 0 : (errno = ENOENT, -1);
}

int cli_proc_read(pid_t pid, uint64_t addr, void *buf, size_t n)
{
    struct iovec local = {buf, n}, remote = {(void *)(uintptr_t)addr, n};
    ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (got == (ssize_t)n) return 0;
    if (got >= 0) errno = EFAULT;
    return -1;
}

double cli_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#if CLI_CAN_INJECT

#define XSTATE_MAX (64 * 1024) /* XSAVE areas are 11 KiB with AMX; room to spare */
#define CALL_SECONDS 5         /* a call that has not returned by then is abandoned */
#define MAX_SIGNALS 8

struct cli_tracee {
    pid_t pid;
    int gone;                            /* the process ended while stopped by us */
    struct user_regs_struct regs;        /* as it stopped */
    struct iovec xstate;                 /* its XSAVE area, at the kernel's size */
    struct user_fpregs_struct fpregs;    /* without XSAVE (xstate.iov_len 0) */
    int signals[MAX_SIGNALS], nsignals;  /* arrived meanwhile; sent again at release */
};

static void note_signal(cli_tracee_t *t, int sig)
{
    for (int i = 0; i < t->nsignals; i++)
        if (t->signals[i] == sig) return; /* standard signals do not queue */
    if (t->nsignals < MAX_SIGNALS) t->signals[t->nsignals++] = sig;
}

/* Waits for the thread's next ptrace stop until deadline: 1 stopped, 0 at
 * the deadline, -1 when the process ended (or cannot be waited for). */
static int wait_stop(cli_tracee_t *t, int *status, double deadline)
{
    const struct timespec tick = {0, 1000 * 1000};
    for (;;) {
        pid_t w = waitpid(t->pid, status, __WALL | WNOHANG);
        if (w == t->pid) {
            if (WIFSTOPPED(*status)) return 1;
            t->gone = 1;
            return -1;
        }
        if (w < 0 && errno != EINTR) return t->gone = 1, -1;
        if (cli_monotonic() >= deadline) return 0;
        nanosleep(&tick, NULL);
    }
}

/* A stop made by PTRACE_INTERRUPT (or a group stop), not a signal's. */
static int is_event_stop(int status)
{
    return (status >> 16) == PTRACE_EVENT_STOP;
}

/* Resumes the thread until the stop PTRACE_INTERRUPT asks for, noting the
 * signals met on the way: 0, or -1. A process already stopped (by SIGSTOP
 * or a terminal) reports a group stop instead: 1, and it stays stopped. */
static int interrupt(cli_tracee_t *t, const char **why)
{
    if (ptrace(PTRACE_INTERRUPT, t->pid, 0, 0) < 0) return *why = "it could not be stopped", -1;
    double deadline = cli_monotonic() + CALL_SECONDS;
    for (;;) {
        int status, r = wait_stop(t, &status, deadline);
        if (r < 0) return *why = "it ended", -1;
        if (r == 0) return *why = "it did not stop", -1;
        if (is_event_stop(status)) return WSTOPSIG(status) == SIGTRAP ? 0 : 1;
        note_signal(t, WSTOPSIG(status));
        ptrace(PTRACE_CONT, t->pid, 0, 0);
    }
}

static int save_state(cli_tracee_t *t)
{
    if (ptrace(PTRACE_GETREGS, t->pid, 0, &t->regs) < 0) return -1;
    t->xstate.iov_base = malloc(XSTATE_MAX);
    t->xstate.iov_len = XSTATE_MAX;
    if (t->xstate.iov_base &&
        ptrace(PTRACE_GETREGSET, t->pid, (void *)NT_X86_XSTATE, &t->xstate) == 0 &&
        t->xstate.iov_len < XSTATE_MAX)
        /* Written back unchanged: the restore is known to work. */
        return ptrace(PTRACE_SETREGSET, t->pid, (void *)NT_X86_XSTATE, &t->xstate);
    free(t->xstate.iov_base);
    t->xstate.iov_base = NULL, t->xstate.iov_len = 0;
    if (ptrace(PTRACE_GETFPREGS, t->pid, 0, &t->fpregs) < 0) return -1;
    return ptrace(PTRACE_SETFPREGS, t->pid, 0, &t->fpregs);
}

int cli_tracee_stop(pid_t pid, cli_tracee_t **out, const char **why)
{
    *out = NULL;
    cli_tracee_t *t = calloc(1, sizeof(*t));
    if (!t) return *why = "out of memory", -1;
    t->pid = pid;
    if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0) {
        *why = errno == ESRCH ? "it ended" : "ptrace is not permitted";
        free(t);
        return -1;
    }
    int stopped = interrupt(t, why);
    if (stopped) {
        /* A stopped process is left so: a call would resume it. */
        if (stopped > 0) *why = "it is stopped (send it SIGCONT first)";
        cli_tracee_release(t);
        return -1;
    }
    if (save_state(t) < 0) {
        *why = "its registers could not be saved";
        cli_tracee_release(t);
        return -1;
    }
    *out = t;
    return 0;
}

int cli_tracee_write(cli_tracee_t *t, uint64_t addr, const void *buf, size_t n, const char **why)
{
    struct iovec local = {(void *)buf, n}, remote = {(void *)(uintptr_t)addr, n};
    if (process_vm_writev(t->pid, &local, 1, &remote, 1, 0) == (ssize_t)n) return 0;
    return *why = "its memory could not be written", -1;
}

int cli_tracee_call(cli_tracee_t *t, uint64_t fn, const uint64_t *args, size_t nargs, uint64_t *ret,
                    const char **why)
{
    struct user_regs_struct r = t->regs;
    unsigned long long *slots[6] = {&r.rdi, &r.rsi, &r.rdx, &r.rcx, &r.r8, &r.r9};
    if (nargs > 6) return *why = "too many arguments", -1;
    for (size_t i = 0; i < nargs; i++) *slots[i] = args[i];
    uint64_t sp = ((r.rsp - 256) & ~(uint64_t)15) - 8, zero = 0; /* past the red zone */
    if (cli_tracee_write(t, sp, &zero, sizeof(zero), why) < 0) return -1;
    r.rsp = sp;
    r.rip = fn;
    r.rax = 0;                  /* no vector registers for a variadic callee */
    r.orig_rax = (unsigned long long)-1;
    r.eflags &= ~0x500ull;      /* the ABI's clear direction flag, and no single-stepping */
    if (ptrace(PTRACE_SETREGS, t->pid, 0, &r) < 0 || ptrace(PTRACE_CONT, t->pid, 0, 0) < 0)
        return *why = "it could not be resumed", -1;
    double deadline = cli_monotonic() + CALL_SECONDS;
    for (;;) {
        int status, got = wait_stop(t, &status, deadline);
        if (got < 0) return *why = "it ended during the call", -1;
        if (got == 0) {
            if (interrupt(t, why) >= 0) *why = "the call did not return (a lock it needs is held)";
            return -1;
        }
        int sig = WSTOPSIG(status);
        if (is_event_stop(status)) {
            ptrace(PTRACE_CONT, t->pid, 0, 0); /* a late interrupt: not ours to keep */
            continue;
        }
        if (sig == SIGSEGV) {
            if (ptrace(PTRACE_GETREGS, t->pid, 0, &r) < 0) return *why = "it vanished", -1;
            if (r.rip != 0) return *why = "the call faulted", -2;
            *ret = r.rax;
            return 0;
        }
        note_signal(t, sig);
        ptrace(PTRACE_CONT, t->pid, 0, 0);
    }
}

void cli_tracee_release(cli_tracee_t *t)
{
    if (!t) return;
    if (!t->gone) {
        if (t->regs.rsp) { /* state was saved */
            ptrace(PTRACE_SETREGS, t->pid, 0, &t->regs);
            if (t->xstate.iov_len)
                ptrace(PTRACE_SETREGSET, t->pid, (void *)NT_X86_XSTATE, &t->xstate);
            else ptrace(PTRACE_SETFPREGS, t->pid, 0, &t->fpregs);
        }
        int first = t->nsignals ? t->signals[0] : 0;
        ptrace(PTRACE_DETACH, t->pid, 0, (void *)(uintptr_t)first);
        for (int i = 1; i < t->nsignals; i++) kill(t->pid, t->signals[i]);
    }
    free(t->xstate.iov_base);
    free(t);
}

#else /* !CLI_CAN_INJECT */

struct cli_tracee {
    int unused;
};

int cli_tracee_stop(pid_t pid, cli_tracee_t **out, const char **why)
{
    (void)pid;
    *out = NULL;
    return *why = "calls into a process are made on x86-64 only", -1;
}

int cli_tracee_write(cli_tracee_t *t, uint64_t addr, const void *buf, size_t n, const char **why)
{
    (void)t, (void)addr, (void)buf, (void)n;
    return *why = "calls into a process are made on x86-64 only", -1;
}

int cli_tracee_call(cli_tracee_t *t, uint64_t fn, const uint64_t *args, size_t nargs, uint64_t *ret,
                    const char **why)
{
    (void)t, (void)fn, (void)args, (void)nargs, (void)ret;
    return *why = "calls into a process are made on x86-64 only", -1;
}

void cli_tracee_release(cli_tracee_t *t)
{
    (void)t;
}

#endif
