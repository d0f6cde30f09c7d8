/* The allocator pair behind every core allocation, huge-page advice for
 * the big tables, and error strings. The
 * recorder swaps in CPython's untraced raw allocator (so the recorder's own
 * tables are never recorded), tests swap in one that fails on demand. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "internal.h"
#include "memscope/common.h"

#define HUGE_PAGE (2u << 20)

static void *libc_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void *libc_realloc(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    return realloc(ptr, size);
}

static void libc_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static msc_allocator_t allocator = {libc_malloc, libc_realloc, libc_free, NULL};

void msc_set_allocator(const msc_allocator_t *a)
{
    static const msc_allocator_t libc = {libc_malloc, libc_realloc, libc_free, NULL};
    allocator = a ? *a : libc;
}

void *msc_malloc(size_t size)
{
    return allocator.malloc(allocator.ctx, size ? size : 1);
}

void *msc_calloc(size_t n, size_t size)
{
    if (size && n > (size_t)-1 / size) return NULL;
    /* libc's calloc takes a large block's pages fresh from the kernel, zero
     * already, and writes only those it reuses: a table sized for every
     * stack costs only the pages touched. */
    if (allocator.malloc == libc_malloc) return calloc(n ? n : 1, size ? size : 1);
    void *p = msc_malloc(n * size);
    if (p) memset(p, 0, n * size);
    return p;
}

void *msc_realloc(void *ptr, size_t size)
{
    return allocator.realloc(allocator.ctx, ptr, size ? size : 1);
}

void msc_free(void *ptr)
{
    if (ptr) allocator.free(allocator.ctx, ptr);
}

char *msc_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = msc_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

char *msc_strfmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n < 0 ? NULL : msc_malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static size_t page_round(size_t n)
{
    size_t page = 4096;
    return (n + page - 1) & ~(page - 1);
}

int msc__zarray_grow(msc_zarray_t *z, size_t bytes)
{
    if (bytes <= z->bytes) return 0;
    if (!z->p) z->mapped = allocator.malloc == libc_malloc;
    if (z->mapped) {
        size_t want = page_round(bytes);
        void *p =
            z->p ? mremap(z->p, page_round(z->bytes), want, MREMAP_MAYMOVE)
                 : mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return MSC_ENOMEM;
        z->p = p;
        z->bytes = want;
        return 0;
    }
    void *p = msc_realloc(z->p, bytes);
    if (!p) return MSC_ENOMEM;
    memset((char *)p + z->bytes, 0, bytes - z->bytes);
    z->p = p;
    z->bytes = bytes;
    return 0;
}

void msc__zarray_populate(msc_zarray_t *z, size_t from, size_t to)
{
    if (!z->mapped) return; /* realloc'ed and cleared: touched already */
    if (to > z->bytes) to = z->bytes;
    from &= ~(size_t)4095;
    if (from < to) (void)madvise((char *)z->p + from, page_round(to) - from, MADV_POPULATE_WRITE);
}

void msc__zarray_free(msc_zarray_t *z)
{
    if (z->mapped && z->p) munmap(z->p, page_round(z->bytes));
    else msc_free(z->p);
    *z = (msc_zarray_t){NULL, 0, 0};
}

void msc__advise_huge_pages(void *p, size_t n)
{
    if (n < 2 * HUGE_PAGE) return;
    uintptr_t start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    uintptr_t end = ((uintptr_t)p + n) & ~(uintptr_t)(HUGE_PAGE - 1);
    if (end > start) madvise((void *)start, end - start, MADV_HUGEPAGE);
}

const char *msc_strerror(int err)
{
    switch (err) {
    case MSC_OK: return "success";
    case MSC_ENOMEM: return "out of memory";
    case MSC_EIO: return "input/output error";
    case MSC_EEXIST: return "file exists (use --force to replace it)";
    case MSC_EFORMAT: return "not a memscope capture";
    case MSC_ECORRUPT: return "corrupt data";
    case MSC_ETRUNCATED: return "truncated";
    case MSC_EUSAGE: return "invalid argument";
    case MSC_ENOTREG: return "not a regular file (only a regular file is replaced)";
    case MSC_ELOST: return "the program closed or reused the capture's file descriptor";
    default: return "unknown error";
    }
}

int msc_open_regular(const char *path, const char **why, struct stat *st)
{
    *why = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    struct stat own, *sb = st ? st : &own;
    if (fstat(fd, sb) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(sb->st_mode)) {
        *why = S_ISDIR(sb->st_mode) ? "is a directory" : "is not a regular file";
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}
