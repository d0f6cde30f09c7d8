/* What every part of the analyser library shares: error codes and the one
 * allocator pair all core memory goes through. The recorder keeps the
 * default, libc's allocator (never the Python allocators, whose hooks may
 * take locks or the GIL), and the tests point it at a failing one
 * (_memscope._fail_allocations) to check the out-of-memory paths. */
#ifndef MEMSCOPE_COMMON_H
#define MEMSCOPE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Core functions return 0 or one of these (negative). */
enum msc_error {
    MSC_OK = 0,
    MSC_ENOMEM = -1,     /* out of memory */
    MSC_EIO = -2,        /* a system call failed; errno says which */
    MSC_EEXIST = -3,     /* output exists and replacing it was not asked for */
    MSC_EFORMAT = -4,    /* input is not a capture (bad magic or version) */
    MSC_ECORRUPT = -5,   /* a checksum, length, count or id is wrong */
    MSC_ETRUNCATED = -6, /* input ends inside a header, chunk or record */
    MSC_EUSAGE = -7,     /* a caller passed an argument out of range */
    MSC_ENOTREG = -8,    /* output to replace is not a regular file (a link, directory...) */
    MSC_ELOST = -9,      /* an output descriptor was closed or reused by the program */
};

const char *msc_strerror(int err);

/* memscope's version, "MAJOR.MINOR.PATCH", from the checkout's VERSION file
 * (the one place it is written; the Makefile compiles it in). */
extern const char msc_version[];

/* Where and why a file was rejected; what is a static string. */
typedef struct msc_error_info {
    uint64_t offset;           /* byte offset in the file */
    const char *what;
} msc_error_info_t;

typedef struct msc_allocator {
    void *(*malloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t size);
    void (*free)(void *ctx, void *ptr);
    void *ctx;
} msc_allocator_t;

/* Replaces the allocator; NULL restores libc's. Not thread-safe: call before
 * any other core function runs. */
void msc_set_allocator(const msc_allocator_t *a);

void *msc_malloc(size_t size);
void *msc_calloc(size_t n, size_t size);
void *msc_realloc(void *ptr, size_t size);
void msc_free(void *ptr);
char *msc_strdup(const char *s);
/* A string formatted like printf, from msc_malloc; NULL when out of memory. */
char *msc_strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Opens a file we did not write for reading, refusing what is not a regular
 * file: a FIFO with no writer would block the open, and a directory, a
 * device or a socket holds no capture or source. The open does not block,
 * reads do. Returns the descriptor (its fstat in *st unless st is NULL),
 * or -1 with *why saying what is wrong ("is a directory", "is not a
 * regular file") or NULL when errno says. */
int msc_open_regular(const char *path, const char **why, struct stat *st);

#endif
