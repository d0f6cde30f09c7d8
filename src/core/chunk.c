/* Chunk framing: writing (compress, checksum, one write per chunk) and
 * reading (bounds, checksum, sequence and decompressed-length checks). Every
 * number in a chunk header is checked before it sizes anything. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "internal.h"
#include "memscope/chunk.h"

static size_t stored_max(void)
{
    return ZSTD_compressBound(MSC_CHUNK_MAX_RAW);
}

int msc_chunk_writer_init(msc_chunk_writer_t *w, int fd, int level)
{
    memset(w, 0, sizeof(*w));
    w->fd = fd;
    w->level = level ? level : 1;
    w->out_cap = MSC_CHUNK_HEADER_SIZE + stored_max();
    w->out = msc_malloc(w->out_cap);
    w->cctx = ZSTD_createCCtx();
    if (!w->out || !w->cctx) {
        msc_chunk_writer_release(w);
        return MSC_ENOMEM;
    }
    return 0;
}

void msc_chunk_writer_release(msc_chunk_writer_t *w)
{
    ZSTD_freeCCtx(w->cctx);
    msc_free(w->out);
    w->cctx = NULL;
    w->out = NULL;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return MSC_EIO;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int msc_chunk_write(msc_chunk_writer_t *w, int stream, const void *raw, size_t n)
{
    if (n == 0) return 0;
    if (n > MSC_CHUNK_MAX_RAW) return MSC_EUSAGE;
    uint8_t *h = w->out, *payload = w->out + MSC_CHUNK_HEADER_SIZE;
    size_t stored =
        ZSTD_compressCCtx(w->cctx, payload, w->out_cap - MSC_CHUNK_HEADER_SIZE, raw, n, w->level);
    int codec = MSC_CODEC_ZSTD;
    if (ZSTD_isError(stored) || stored >= n) {
        memcpy(payload, raw, n);
        stored = n;
        codec = MSC_CODEC_NONE;
    }
    msc__put_u32(h, MSC_CHUNK_MAGIC);
    h[4] = (uint8_t)stream;
    h[5] = (uint8_t)codec;
    h[6] = h[7] = 0;
    msc__put_u32(h + 8, w->seq++);
    msc__put_u32(h + 12, (uint32_t)stored);
    msc__put_u32(h + 16, (uint32_t)n);
    msc__put_u32(h + 20, XXH32(payload, stored, XXH32(h, 20, 0)));
    w->bytes += MSC_CHUNK_HEADER_SIZE + stored;
    return write_all(w->fd, w->out, MSC_CHUNK_HEADER_SIZE + stored);
}

int msc_chunk_reader_init(msc_chunk_reader_t *r, int fd, uint64_t offset, int max_stream)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->offset = offset;
    r->max_stream = max_stream;
    r->dctx = ZSTD_createDCtx();
    r->in = msc_malloc(stored_max());
    r->raw = msc_malloc(MSC_CHUNK_MAX_RAW);
    if (!r->dctx || !r->in || !r->raw) {
        msc_chunk_reader_release(r);
        return MSC_ENOMEM;
    }
    return 0;
}

void msc_chunk_reader_release(msc_chunk_reader_t *r)
{
    ZSTD_freeDCtx(r->dctx);
    msc_free(r->in);
    msc_free(r->raw);
    r->dctx = NULL;
    r->in = r->raw = NULL;
}

/* Reads exactly n bytes at off: 1, 0 at end of file before any byte, or
 * MSC_ETRUNCATED / MSC_EIO. */
static int read_at(int fd, uint8_t *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, p + got, n - got, (off_t)(off + got));
        if (k < 0) {
            if (errno == EINTR) continue;
            return MSC_EIO;
        }
        if (k == 0) return got ? MSC_ETRUNCATED : 0;
        got += (size_t)k;
    }
    return 1;
}

static int bad(msc_error_info_t *info, uint64_t offset, const char *what, int err)
{
    info->offset = offset;
    info->what = what;
    return err;
}

int msc_chunk_next(msc_chunk_reader_t *r, msc_chunk_t *c, msc_error_info_t *info)
{
    uint8_t h[MSC_CHUNK_HEADER_SIZE];
    uint64_t at = r->offset;
    if (!r->in) return 0; /* released at the end of a replay */
    int rc = read_at(r->fd, h, sizeof(h), at);
    if (rc == 0) return 0;
    if (rc == MSC_ETRUNCATED) return bad(info, at, "file ends inside a chunk header", rc);
    if (rc < 0) return bad(info, at, "read error", rc);

    if (msc__get_u32(h) != MSC_CHUNK_MAGIC) return bad(info, at, "bad chunk magic", MSC_ECORRUPT);
    int stream = h[4], codec = h[5];
    uint32_t seq = msc__get_u32(h + 8), stored = msc__get_u32(h + 12), raw = msc__get_u32(h + 16);
    if (stream > r->max_stream) return bad(info, at + 4, "unknown chunk stream", MSC_ECORRUPT);
    if (codec > MSC_CODEC_ZSTD || h[6] || h[7])
        return bad(info, at + 5, "unknown chunk codec", MSC_ECORRUPT);
    if (seq != r->seq) return bad(info, at + 8, "chunk out of sequence", MSC_ECORRUPT);
    if (raw == 0 || raw > MSC_CHUNK_MAX_RAW || stored > stored_max() ||
        (codec == MSC_CODEC_NONE && stored != raw))
        return bad(info, at + 12, "absurd chunk length", MSC_ECORRUPT);

    rc = read_at(r->fd, r->in, stored, at + sizeof(h));
    if (rc == 0 || rc == MSC_ETRUNCATED)
        return bad(info, at, "file ends inside a chunk", MSC_ETRUNCATED);
    if (rc < 0) return bad(info, at, "read error", rc);
    if (XXH32(r->in, stored, XXH32(h, 20, 0)) != msc__get_u32(h + 20))
        return bad(info, at, "chunk checksum mismatch", MSC_ECORRUPT);

    const uint8_t *data = r->in;
    if (codec == MSC_CODEC_ZSTD) {
        size_t n = ZSTD_decompressDCtx(r->dctx, r->raw, MSC_CHUNK_MAX_RAW, r->in, stored);
        if (ZSTD_isError(n) || n != raw)
            return bad(info, at, "chunk does not decompress to its stated length", MSC_ECORRUPT);
        data = r->raw;
    }
    r->seq++;
    r->offset = at + sizeof(h) + stored;
    c->stream = stream;
    c->seq = seq;
    c->offset = at;
    c->data = data;
    c->len = raw;
    return 1;
}
