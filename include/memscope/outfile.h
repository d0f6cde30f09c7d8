/* Output files: the one way memscope creates a file it writes (captures,
 * children's captures, heap snapshots, reports, exports), and how a writer
 * that keeps a descriptor open checks the descriptor is still its own.
 *
 * A new file is created with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600: it
 * never replaces what is there, never writes through a symbolic link, and
 * is readable by its owner only (captures and snapshots hold the program's
 * strings). Replacing (force) unlinks an existing regular file and creates
 * a new one; a link, directory, device or FIFO is never replaced. */
#ifndef MEMSCOPE_OUTFILE_H
#define MEMSCOPE_OUTFILE_H

#include <stdint.h>

#include "memscope/common.h"

/* Which file a descriptor refers to. */
typedef struct msc_file_id {
    uint64_t dev;              /* st_dev */
    uint64_t ino;              /* st_ino */
} msc_file_id_t;

/* Creates path for writing as above and stores the descriptor (close-on-exec)
 * in *fd. Returns 0, MSC_EEXIST (path exists and force is 0), MSC_ENOTREG
 * (force, but path is not a regular file) or MSC_EIO with errno set. */
int msc_file_create(const char *path, int force, int *fd);

/* Fills *id with fd's file; 0, or MSC_EIO with errno set. */
int msc_file_identify(int fd, msc_file_id_t *id);

/* 1 when fd is open and still refers to id's file, 0 when it was closed or
 * now refers to another file (a program closed it and opened its own). */
int msc_file_is(int fd, const msc_file_id_t *id);

/* 1 when both paths name one existing file (links and other names
 * included), 0 otherwise. */
int msc_file_same(const char *a, const char *b);

#endif
