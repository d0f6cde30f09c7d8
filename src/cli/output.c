/* The files the commands write: reports, exports, pictures. Each is created
 * by msc_file_create (mode 0600, never through a link, never replacing a
 * file unless --force, and then a regular file only), never over the file
 * the command reads, and removed again when writing it fails. Pictures that
 * a helper program renders (Graphviz's dot, rsvg-convert) are written by
 * that program to the descriptor created here, never by name. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "memscope/outfile.h"

extern char **environ;

int cli_create_output(const cli_output_t *o)
{
    for (size_t i = 0; i < 2; i++) {
        const char *input = o->inputs[i];
        if (input && msc_file_same(o->path, input)) {
            cli_error("'%s' is the input file: write the output to another file", o->path);
            return -1;
        }
    }
    int fd, err = msc_file_create(o->path, o->force, &fd);
    if (err == MSC_EEXIST) cli_error("'%s' already exists (use --force to replace it)", o->path);
    else if (err == MSC_ENOTREG) cli_error("cannot replace '%s': not a regular file", o->path);
    else if (err) cli_error("cannot write '%s': %s", o->path, strerror(errno));
    return err ? -1 : fd;
}

int cli_write_output(const cli_output_t *o, int (*write)(FILE *out, void *arg), void *arg)
{
    FILE *out = stdout;
    if (o->path) {
        int fd = cli_create_output(o);
        if (fd < 0) return EXIT_USAGE;
        out = fdopen(fd, "wb");
        if (!out) {
            cli_error("cannot write '%s': %s", o->path, strerror(errno));
            close(fd);
            unlink(o->path);
            return EXIT_USAGE;
        }
    }
    int err = write(out, arg);
    int done = o->path ? fclose(out) : fflush(out);
    if (done != 0 && !err) err = MSC_EIO;
    if (err) {
        cli_error("cannot write '%s': %s", o->path ? o->path : "standard output",
                  err == MSC_EIO ? strerror(errno) : msc_strerror(err));
        if (o->path) unlink(o->path);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

FILE *cli_filter_start(char *const argv[], int out_fd, pid_t *pid, const char *install)
{
    int fds[2];
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t pipe_signal;
    if (pipe2(fds, O_CLOEXEC) < 0) {
        cli_error("cannot run '%s': %s", argv[0], strerror(errno));
        return NULL;
    }
    /* A renderer that dies must not kill us through SIGPIPE: writing then
     * fails, and cli_filter_finish says so. The renderer gets the default. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigdefault(&attr, &pipe_signal);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    int err = posix_spawnp(pid, argv[0], &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(fds[0]);
    if (err) {
        close(fds[1]);
        if (err == ENOENT) cli_error("cannot run '%s': it is not installed (%s)", argv[0], install);
        else cli_error("cannot run '%s': %s", argv[0], strerror(err));
        return NULL;
    }
    FILE *in = fdopen(fds[1], "w");
    if (!in) {
        cli_error("cannot run '%s': %s", argv[0], strerror(errno));
        close(fds[1]);
        waitpid(*pid, NULL, 0);
    }
    return in;
}

int cli_filter_finish(pid_t pid, const char *name, const char *path)
{
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cli_error("cannot write '%s': %s failed", path, name);
        return -1;
    }
    return 0;
}
