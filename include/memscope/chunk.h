/* Chunk framing shared by every memscope file (captures, heap snapshots):
 * each chunk is a 24-byte header, then a payload compressed on its own with
 * zstd (or stored), checksummed with XXH32, so a damaged or truncated file
 * reads back to its last good chunk. Layout in docs/format.md, "Chunks":
 *
 *   | u32 "MSCK" | u8 stream | u8 codec | u16 0 | u32 seq | u32 stored | u32 raw |
 *   | u32 XXH32(payload, seed = XXH32(header bytes 0..19, seed 0)) | payload |
 */
#ifndef MEMSCOPE_CHUNK_H
#define MEMSCOPE_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "memscope/common.h"
#include "memscope/format.h"

typedef struct msc_chunk_writer {
    int fd;                    /* borrowed */
    int level;                 /* zstd level */
    void *cctx;                /* ZSTD_CCtx, owned */
    uint8_t *out;              /* header + compressed payload, owned */
    size_t out_cap;
    uint32_t seq;              /* next chunk's sequence number */
    uint64_t bytes;            /* bytes written so far */
} msc_chunk_writer_t;

int msc_chunk_writer_init(msc_chunk_writer_t *w, int fd, int level);
void msc_chunk_writer_release(msc_chunk_writer_t *w);
/* Writes raw[0..n) (n <= MSC_CHUNK_MAX_RAW) as one chunk: 0 or MSC_EIO. */
int msc_chunk_write(msc_chunk_writer_t *w, int stream, const void *raw, size_t n);

typedef struct msc_chunk {
    int stream;
    uint32_t seq;
    uint64_t offset;           /* file offset of the chunk header */
    const uint8_t *data;       /* decompressed payload; valid until the next read */
    size_t len;
} msc_chunk_t;

typedef struct msc_chunk_reader {
    int fd;                    /* borrowed */
    uint64_t offset;           /* next chunk header */
    void *dctx;                /* ZSTD_DCtx, owned */
    uint8_t *in;               /* stored payload, owned */
    uint8_t *raw;              /* decompressed payload, owned */
    uint32_t seq;              /* expected next sequence number */
    int max_stream;            /* streams above this are corrupt */
} msc_chunk_reader_t;

int msc_chunk_reader_init(msc_chunk_reader_t *r, int fd, uint64_t offset, int max_stream);
/* Frees the buffers; a released reader is at its end (msc_chunk_next: 0). */
void msc_chunk_reader_release(msc_chunk_reader_t *r);

/* Reads the next chunk. Returns 1 with *c filled, 0 at a clean end of file,
 * MSC_ETRUNCATED when the file ends inside a chunk (offset unchanged, so a
 * reader following a growing file can retry), or MSC_ECORRUPT / MSC_EIO /
 * MSC_ENOMEM with *info saying where and what. */
int msc_chunk_next(msc_chunk_reader_t *r, msc_chunk_t *c, msc_error_info_t *info);

#endif
