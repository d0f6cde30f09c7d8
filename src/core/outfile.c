/* Output files (include/memscope/outfile.h): create without following links
 * or replacing anything unasked, and tell whether a descriptor kept open for
 * a long time still refers to the file it was opened for. Every writer in
 * the library, the CLI and the Python extension creates its file here. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memscope/outfile.h"

#define CREATE_FLAGS (O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC)

/* Another process may create the name again between our unlink and open:
 * retry a few times, then report that it exists. */
#define REPLACE_TRIES 4

static int replace(const char *path, int *fd)
{
    for (int i = 0; i < REPLACE_TRIES; i++) {
        struct stat st;
        if (lstat(path, &st) < 0) {
            if (errno != ENOENT) return MSC_EIO;
        } else if (!S_ISREG(st.st_mode)) {
            return MSC_ENOTREG;
        } else if (unlink(path) < 0 && errno != ENOENT) {
            return MSC_EIO;
        }
        *fd = open(path, CREATE_FLAGS, 0600);
        if (*fd >= 0) return 0;
        if (errno != EEXIST) return MSC_EIO;
    }
    return MSC_EEXIST;
}

int msc_file_create(const char *path, int force, int *fd)
{
    *fd = open(path, CREATE_FLAGS, 0600);
    if (*fd >= 0) return 0;
    /* O_EXCL|O_NOFOLLOW on an existing symbolic link fails with EEXIST. */
    if (errno != EEXIST) return MSC_EIO;
    return force ? replace(path, fd) : MSC_EEXIST;
}

int msc_file_identify(int fd, msc_file_id_t *id)
{
    struct stat st;
    if (fstat(fd, &st) < 0) return MSC_EIO;
    id->dev = (uint64_t)st.st_dev;
    id->ino = (uint64_t)st.st_ino;
    return 0;
}

int msc_file_is(int fd, const msc_file_id_t *id)
{
    msc_file_id_t now;
    int saved = errno;
    int same =
        fd >= 0 && msc_file_identify(fd, &now) == 0 && now.dev == id->dev && now.ino == id->ino;
    errno = saved;
    return same;
}

int msc_file_same(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}
