/* Output files (msc_file_create): a new file is 0600; an existing name,
 * link or not, is kept unless forced; forcing replaces a regular file
 * (other hard links keep their contents) and never a link; and
 * msc_file_is tells a descriptor closed and reused from the one it was. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "memscope/outfile.h"

static char dir[] = "/tmp/msc-outfile-XXXXXX";

static const char *in_dir(const char *name, char *buf)
{
    snprintf(buf, 256, "%s/%s", dir, name);
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static int has_text(const char *path, const char *text)
{
    char got[64] = {0};
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(got, 1, sizeof(got) - 1, f);
    fclose(f);
    return n == strlen(text) && memcmp(got, text, n) == 0;
}

static void test_create_and_keep(void)
{
    char path[256], other[256], sym[256];
    struct stat st;
    int fd;
    umask(022);
    CHECK_EQ(msc_file_create(in_dir("new", path), 0, &fd), 0);
    CHECK(fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600);
    close(fd);
    CHECK_EQ(msc_file_create(path, 0, &fd), MSC_EEXIST);

    /* Forced over a file with a second name: a new file; the other name
     * keeps the old contents. */
    write_text(in_dir("old", other), "theirs");
    unlink(path);
    CHECK_EQ(link(other, path), 0);
    CHECK_EQ(msc_file_create(path, 1, &fd), 0);
    CHECK_EQ(write(fd, "ours", 4), 4);
    close(fd);
    CHECK(has_text(other, "theirs") && has_text(path, "ours"));

    /* A link is never written through, forced or not, dangling or not. */
    CHECK_EQ(symlink(other, in_dir("link", sym)), 0);
    CHECK_EQ(msc_file_create(sym, 0, &fd), MSC_EEXIST);
    CHECK_EQ(msc_file_create(sym, 1, &fd), MSC_ENOTREG);
    CHECK(has_text(other, "theirs"));
    unlink(other);
    CHECK_EQ(msc_file_create(sym, 0, &fd), MSC_EEXIST);
    CHECK(access(other, F_OK) != 0);
    CHECK_EQ(msc_file_create(dir, 1, &fd), MSC_ENOTREG);
    CHECK_EQ(msc_file_create(in_dir("no/such", path), 0, &fd), MSC_EIO);
    unlink(sym);
    unlink(in_dir("new", path));
}

static void test_identity(void)
{
    char a[256], b[256];
    msc_file_id_t id;
    int fd;
    CHECK_EQ(msc_file_create(in_dir("a", a), 0, &fd), 0);
    CHECK_EQ(msc_file_identify(fd, &id), 0);
    CHECK(msc_file_is(fd, &id));
    close(fd);
    CHECK(!msc_file_is(fd, &id)); /* closed */
    int other = open(in_dir("b", b), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    CHECK_EQ(other, fd);          /* the same number, another file */
    CHECK(!msc_file_is(fd, &id));
    close(other);
    CHECK(msc_file_same(a, a) && !msc_file_same(a, b) && !msc_file_same(a, "/no/such"));
    unlink(a);
    unlink(b);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_create_and_keep();
    test_identity();
    rmdir(dir);
    return check_done("outfile");
}
