/* libFuzzer harness for the capture reader: the input is a capture file,
 * replayed into an analysis that takes the timeline's moments on the way,
 * and folded into rows for every view and grouping, as the report commands
 * do. Each input is read twice: as given,
 * and with its header and chunk checksums recomputed, so mutations reach the
 * record decoders instead of stopping at the first checksum. An allocation
 * request above 64 MiB traps: no file may ask for one.
 *
 * Seeds are fuzz/seeds/capture-*.msc, written by
 * "build/tests/test_reader --write-seeds fuzz/seeds". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "memscope/aggregate.h"
#include "memscope/analysis.h"
#include "memscope/html.h"
#include "memscope/replay.h"
#include "memscope/temporal.h"

#define HUGE_REQUEST (64u << 20)

static void *limited_malloc(void *ctx, size_t size)
{
    (void)ctx;
    if (size > HUGE_REQUEST) __builtin_trap();
    return malloc(size);
}

static void *limited_realloc(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (size > HUGE_REQUEST) __builtin_trap();
    return realloc(ptr, size);
}

static void plain_free(void *ctx, void *ptr)
{
    (void)ctx;
    free(ptr);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Recomputes the header checksum and each whole chunk's checksum, as far
 * as the lengths in the file allow. */
static void repair_checksums(uint8_t *buf, size_t len)
{
    if (len < MSC_FILE_HEADER_FIXED || memcmp(buf, MSC_FILE_MAGIC, 8) != 0) return;
    uint64_t end = MSC_FILE_HEADER_FIXED + (uint64_t)get_u32(buf + 12);
    if (end + 4 > len) return;
    put_u32(buf + end, XXH32(buf, end, 0));
    for (uint64_t at = end + 4; at + MSC_CHUNK_HEADER_SIZE <= len;) {
        uint8_t *h = buf + at;
        uint64_t stored = get_u32(h + 12);
        if (at + MSC_CHUNK_HEADER_SIZE + stored > len) return;
        put_u32(h + 20, XXH32(h + MSC_CHUNK_HEADER_SIZE, stored, XXH32(h, 20, 0)));
        at += MSC_CHUNK_HEADER_SIZE + stored;
    }
}

static void fold_every_way(msc_analysis_t *a, msc_symbols_t *sym)
{
    for (int view = 0; view < MSC_VIEW_COUNT; view++) {
        for (int group = MSC_BY_LINE; group <= MSC_BY_SOURCE_LINE; group++) {
            for (int inclusive = 0; inclusive < 2; inclusive++) {
                msc_rows_t rows;
                const char *only = inclusive && group == MSC_BY_LINE ? "app.py" : NULL;
                if (msc_aggregate(a, sym, (msc_view_t)view, (msc_group_t)group, inclusive, only,
                                  &rows) == 0)
                    msc_rows_release(&rows);
            }
        }
    }
}

static void read_capture(const uint8_t *data, size_t size)
{
    int fd = memfd_create("capture", MFD_CLOEXEC);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) abort();
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

    msc_error_info_t info = {0, NULL};
    msc_replay_t *r = NULL;
    msc_analysis_t *a = msc_analysis_new();
    msc_temporal_t *t = a ? msc_temporal_new(a, MSC_REPORT_MOMENTS) : NULL;
    int err = t ? msc_analyse_file(path, a, &r, &info, NULL, NULL) : MSC_ENOMEM;
    if (!r && err != MSC_EIO && err != MSC_ENOMEM && (!info.what || info.offset > size))
        __builtin_trap(); /* every refusal names what and where */
    if (r) {
        fold_every_way(a, (msc_symbols_t *)msc_replay_symbols(r));
        msc_analysis_summary(a);
        msc_temporal_finish(t, a, msc_replay_duration_ns(r));
    }
    msc_temporal_free(t);
    msc_analysis_free(a);
    msc_replay_free(r);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const msc_allocator_t limited = {limited_malloc, limited_realloc, plain_free, NULL};
    msc_set_allocator(&limited);
    read_capture(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    repair_checksums(copy, size);
    if (memcmp(copy, data, size) != 0) read_capture(copy, size);
    free(copy);
    return 0;
}
