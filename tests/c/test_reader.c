/* The capture reader against damaged and hostile files: a valid capture cut
 * at every chunk boundary and inside every chunk, every bit of it flipped,
 * payload bytes changed behind valid checksums, chunks and records holding
 * absurd lengths, counts and ids, foreign files, and out-of-memory at every
 * allocation. Each must end in a clear error (code, what, offset inside the
 * file) or a clean partial result, with no crash, no leak and no request
 * above 64 MiB.
 *
 * Run with "--write-seeds DIR" it writes its small valid captures there as
 * fuzzing seeds (fuzz/seeds/capture-*.msc) and exits. */
#include <zstd.h>

#include "capture_util.h"
#include "check.h"
#include "memscope/analysis.h"

#define HUGE_REQUEST (64u << 20)

/* A capture with several chunks on both streams: names, code objects and
 * nodes defined early and used across later chunks, side events between
 * main ones. */
static void build_capture(const char *path, int batches)
{
    static const uint8_t table[] = {0xEA, 0x02, 0x81, 0x05};
    msc_header_t h;
    tc_capture_t c;
    tc_default_header(&h);
    if (tc_open(&c, path, &h)) abort();
    tc_string(&c, 1, "app.py");
    tc_string(&c, 2, "work");
    tc_code(&c, 1, 1, 2, 10, table, sizeof(table));
    uint32_t root = tc_node(&c, 0, 1, 0), leaf = tc_node(&c, root, 1, 4);
    for (int b = 0; b < batches; b++) {
        uint64_t base = 0x7f0000000000ull + (uint64_t)b * 0x10000;
        for (int i = 0; i < 12; i++)
            tc_alloc(&c, i % 3, base + (uint64_t)i * 48, 16 + (uint64_t)i, i & 1 ? leaf : root);
        tc_side_begin(&c);
        tc_alloc(&c, MSC_DOMAIN_RAW, base + 0x8000, 100, 0);
        tc_thread(&c, 1);
        tc_thread_info(&c, 1, 99, "side");
        tc_side_end(&c);
        for (int i = 0; i < 12; i += 2) tc_free(&c, i % 3, base + (uint64_t)i * 48);
        tc_mark(&c, TC_TIME0 + (uint64_t)b, "batch");
        tc_gc(&c, TC_TIME0 + (uint64_t)b + 1, 0, 10, 2, 0);
        msc_sink_flush(c.sink);
    }
    tc_lost(&c, 1, MSC_LOST_WRITE_FAILED);
    if (msc_sink_close(c.sink, 5000) != 0) abort();
}

/* Rewrites a capture with every chunk stored uncompressed, so payload bytes
 * are records and can be changed one at a time. */
static void store_uncompressed(const char *from, tc_craft_t *out)
{
    size_t len;
    uint8_t *buf = tc_read_file(from, &len);
    size_t head = MSC_FILE_HEADER_FIXED + msc__get_u32(buf + 12) + 4;
    memcpy(out->data, buf, head);
    out->len = head;
    int fd = open(from, O_RDONLY);
    msc_chunk_reader_t r;
    msc_chunk_t ch;
    msc_error_info_t info;
    if (msc_chunk_reader_init(&r, fd, head, MSC_STREAM_COUNT - 1)) abort();
    while (msc_chunk_next(&r, &ch, &info) == 1)
        tc_craft_chunk(out, ch.stream, ch.seq, ch.data, ch.len);
    msc_chunk_reader_release(&r);
    close(fd);
    free(buf);
}

/* Whether every event of part appears in whole, in order. */
static int is_subsequence(const tc_events_t *part, const tc_events_t *whole)
{
    size_t j = 0;
    for (size_t i = 0; i < part->n; i++) {
        while (j < whole->n && !tc_same_event(&part->e[i], &whole->e[j])) j++;
        if (j++ >= whole->n) return 0;
    }
    return 1;
}

static int same_events(const tc_events_t *a, const tc_events_t *b)
{
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (!tc_same_event(&a->e[i], &b->e[i]) || a->e[i].ev.time_ns != b->e[i].ev.time_ns)
            return 0;
    return 1;
}

static void test_truncation(const char *path)
{
    size_t len;
    uint8_t *buf = tc_read_file(path, &len);
    uint64_t off[256];
    size_t n = tc_chunk_offsets(buf, len, off, 256), chunks = n - 1;
    CHECK(chunks >= 8);
    const char *cut = tc_path("cut.msc");
    msc_error_info_t info;
    tc_events_t full = {0};
    CHECK_EQ(tc_replay(path, &full, &info), 0);

    /* Cut at a boundary: a clean, shorter capture. Cut inside the next
     * chunk: the same events, and MSC_ETRUNCATED at that chunk. */
    size_t last = 0;
    for (size_t i = 0; i <= chunks; i++) {
        tc_events_t at = {0};
        tc_write_file(cut, buf, off[i]);
        CHECK_EQ(tc_replay(cut, &at, &info), 0);
        CHECK(is_subsequence(&at, &full));
        CHECK(at.n >= last);
        last = at.n;
        if (i == chunks) {
            CHECK(same_events(&at, &full));
            free(at.e);
            break;
        }
        uint64_t size = off[i + 1] - off[i];
        const uint64_t inside[] = {1, 12, 23, 24, 25, size / 2, size - 1};
        for (size_t k = 0; k < sizeof(inside) / sizeof(inside[0]); k++) {
            if (inside[k] >= size) continue;
            tc_events_t part = {0};
            tc_write_file(cut, buf, off[i] + inside[k]);
            CHECK_EQ(tc_replay(cut, &part, &info), MSC_ETRUNCATED);
            CHECK_EQ(info.offset, off[i]);
            CHECK(info.what != NULL);
            CHECK(same_events(&part, &at));
            free(part.e);
        }
        free(at.e);
    }

    /* Cut inside the file header: refused when opened. */
    for (uint64_t k = 0; k < off[0]; k++) {
        int err;
        tc_write_file(cut, buf, k);
        msc_replay_t *r = msc_replay_open(cut, 0, &err, &info);
        CHECK(r == NULL);
        msc_replay_free(r);
        CHECK_EQ(err, k < 8 ? MSC_EFORMAT : MSC_ETRUNCATED);
        CHECK(info.what != NULL);
    }
    free(full.e);
    free(buf);
}

/* A capture being written: a follow-mode replay stops quietly inside the
 * last chunk and goes on from there once the file has grown. */
static void test_follow(const char *path)
{
    size_t len;
    uint8_t *buf = tc_read_file(path, &len);
    uint64_t off[256];
    size_t n = tc_chunk_offsets(buf, len, off, 256);
    const char *grow = tc_path("grow.msc");
    msc_error_info_t info;
    tc_events_t full = {0}, got = {0};
    CHECK_EQ(tc_replay(path, &full, &info), 0);

    uint64_t mid = off[n / 2] + 30;
    tc_write_file(grow, buf, mid);
    int err;
    msc_replay_t *r = msc_replay_open(grow, MSC_REPLAY_FOLLOW, &err, &info);
    CHECK(r != NULL);
    if (!r) return;
    CHECK_EQ(msc_replay_run(r, tc_collect, &got, &info), 0);
    size_t first = got.n;
    CHECK(first > 0 && first < full.n);
    FILE *f = fopen(grow, "ab");
    fwrite(buf + mid, 1, len - mid, f);
    fclose(f);
    CHECK_EQ(msc_replay_run(r, tc_collect, &got, &info), 0);
    CHECK(same_events(&got, &full));
    CHECK(msc_replay_complete(r));
    msc_replay_free(r);
    free(full.e);
    free(got.e);
    free(buf);
}

/* Analyses path under the 64 MiB request limit: the error (0 if none), and
 * checks that whatever was refused, nothing leaked. */
static int analyse_bounded(const char *path, msc_error_info_t *info)
{
    msc_replay_t *r = NULL;
    tc_use_allocator(0, HUGE_REQUEST);
    msc_analysis_t *a = msc_analysis_new();
    int err = a ? msc_analyse_file(path, a, &r, info, NULL, NULL) : MSC_ENOMEM;
    msc_analysis_free(a);
    msc_replay_free(r);
    msc_set_allocator(NULL);
    CHECK_EQ(tc_ctl.live, 0);
    if (tc_ctl.refused) fprintf(stderr, "%s: a request of %zu bytes\n", path, tc_ctl.biggest);
    CHECK_EQ(tc_ctl.refused, 0);
    return err;
}

/* Every single-bit flip is caught by a checksum or a bound. */
static void test_bit_flips(const char *path)
{
    size_t len;
    uint8_t *buf = tc_read_file(path, &len);
    const char *bad = tc_path("flipped.msc");
    int missed = 0;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            /* Every bit of the first 200 bytes, one bit a byte after. */
            if (i >= 200 && bit != (int)(i % 8)) continue;
            buf[i] ^= (uint8_t)(1u << bit);
            tc_write_file(bad, buf, len);
            msc_error_info_t info = {0, NULL};
            int err = analyse_bounded(bad, &info);
            if (err >= 0 || !info.what || info.offset >= len) missed++;
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    CHECK_EQ(missed, 0);
    free(buf);
}

/* Payload bytes changed with the checksums made to match: the record
 * decoders themselves must hold. */
static void test_payload_damage(const char *path)
{
    static tc_craft_t stored, bad;
    store_uncompressed(path, &stored);
    uint64_t off[256];
    size_t n = tc_chunk_offsets(stored.data, stored.len, off, 256);
    const char *out = tc_path("payload.msc");
    const uint8_t xors[] = {0x01, 0x40, 0x80, 0xFF};
    int unclear = 0, runs = 0;
    for (size_t c = 0; c + 1 < n; c++) {
        uint8_t *h = stored.data + off[c];
        uint32_t size = msc__get_u32(h + 16);
        for (uint32_t p = 0; p < size; p++) {
            for (size_t x = 0; x < sizeof(xors); x++) {
                memcpy(bad.data, stored.data, off[c]);
                bad.len = off[c];
                uint8_t payload[MSC_CHUNK_MAX_RAW > 65536 ? 65536 : MSC_CHUNK_MAX_RAW];
                memcpy(payload, h + MSC_CHUNK_HEADER_SIZE, size);
                payload[p] ^= xors[x];
                tc_craft_chunk(&bad, h[4], msc__get_u32(h + 8), payload, size);
                memcpy(bad.data + bad.len, stored.data + off[c + 1], stored.len - off[c + 1]);
                bad.len += stored.len - off[c + 1];
                tc_write_file(out, bad.data, bad.len);
                msc_error_info_t info = {0, NULL};
                int err = analyse_bounded(out, &info);
                runs++;
                if (err < 0 && (!info.what || info.offset >= bad.len)) unclear++;
            }
        }
    }
    CHECK(runs > 1000);
    CHECK_EQ(unclear, 0);
}

/*
 * Crafted files.
 */

typedef struct rec {
    uint8_t b[256];
    size_t n;
} rec_t;

static rec_t *u8(rec_t *r, uint8_t v)
{
    r->b[r->n++] = v;
    return r;
}

static rec_t *vi(rec_t *r, uint64_t v)
{
    r->n = (size_t)(msc_put_varint(r->b + r->n, v) - r->b);
    return r;
}

/* Writes one main chunk holding r; replays it bounded; returns the error. */
static int replay_records(const rec_t *r, msc_error_info_t *info)
{
    static tc_craft_t f;
    const char *path = tc_path("crafted.msc");
    tc_craft_begin(&f);
    tc_craft_chunk(&f, MSC_STREAM_MAIN, 0, r->b, r->n);
    tc_write_file(path, f.data, f.len);
    return analyse_bounded(path, info);
}

static void expect_corrupt(const rec_t *r, const char *label)
{
    msc_error_info_t info = {0, NULL};
    int err = replay_records(r, &info);
    if (err != MSC_ECORRUPT) fprintf(stderr, "%s: error %d\n", label, err);
    CHECK_EQ(err, MSC_ECORRUPT);
    CHECK(info.what != NULL);
}

static void test_absurd_records(void)
{
    const uint64_t big[] = {MSC_MAX_IDS, 1ull << 32, UINT64_MAX};
    for (size_t i = 0; i < 3; i++) {
        rec_t r = {0};
        expect_corrupt(vi(u8(&r, MSC_REC_STRING), big[i]), "string id");
        r.n = 0;
        expect_corrupt(vi(vi(u8(&r, MSC_REC_STRING), 1), big[i]), "string length");
        r.n = 0;
        expect_corrupt(vi(vi(vi(vi(vi(u8(&r, MSC_REC_CODE), big[i]), 1), 1), 1), 0), "code id");
        r.n = 0;
        expect_corrupt(vi(vi(vi(vi(vi(u8(&r, MSC_REC_CODE), 1), big[i]), 1), 1), 0), "code file");
        r.n = 0;
        expect_corrupt(vi(vi(vi(vi(vi(u8(&r, MSC_REC_CODE), 1), 1), big[i]), 1), 0), "code name");
        r.n = 0;
        expect_corrupt(vi(vi(vi(vi(vi(u8(&r, MSC_REC_CODE), 1), 1), 1), 1), big[i]),
                       "table length");
        r.n = 0;
        expect_corrupt(vi(vi(vi(u8(&r, MSC_REC_NODE), 1), big[i]), 0), "node code");
        r.n = 0;
        expect_corrupt(vi(vi(vi(u8(&r, MSC_REC_NODE), big[i]), 1), 0), "node distance");
        r.n = 0;
        expect_corrupt(vi(u8(&r, MSC_REC_THREAD), big[i]), "thread");
        r.n = 0;
        expect_corrupt(vi(vi(vi(u8(&r, MSC_REC_THREAD_INFO), big[i]), 1), 0), "thread info");
        r.n = 0;
        expect_corrupt(vi(vi(u8(&r, MSC_REC_MARK), 1), big[i]), "mark length");
    }
    /* Stack deltas are zigzag coded: these reach node 2^27, 2^31 and 2^32-1. */
    const uint64_t stack_deltas[] = {MSC_MAX_IDS, 1ull << 32, UINT64_MAX - 1};
    for (size_t i = 0; i < 3; i++) {
        rec_t r = {0};
        expect_corrupt(vi(vi(vi(u8(&r, MSC_REC_ALLOC), 16), 8), stack_deltas[i]), "alloc stack");
    }
    rec_t r = {0};
    expect_corrupt(vi(vi(vi(vi(vi(u8(&r, MSC_REC_CODE), 1), 1), 1), 1ull << 32), 0), "first line");
    r.n = 0;
    expect_corrupt(vi(vi(vi(u8(&r, MSC_REC_NODE), 1), 1), 1ull << 32), "node offset");
    r.n = 0;
    expect_corrupt(vi(vi(vi(u8(&r, MSC_REC_NODE), 0), 1), 0), "node distance 0");
    r.n = 0;
    expect_corrupt(vi(vi(vi(u8(&r, MSC_REC_NODE), 2), 1), 0), "node parent ahead");
    r.n = 0;
    expect_corrupt(vi(vi(u8(&r, MSC_REC_STRING), 1), MSC_MAX_STRING + 1), "string too long");
    r.n = 0;
    expect_corrupt(u8(u8(vi(vi(u8(&r, MSC_REC_STRING), 1), 100), 'a'), 'b'), "string cut short");
    r.n = 0;
    expect_corrupt(vi(u8(&r, MSC_REC_SYNC), 1), "sync on main");
    r.n = 0;
    expect_corrupt(u8(&r, 0), "kind 0");
    r.n = 0;
    expect_corrupt(vi(vi(u8(&r, MSC_REC_EXT | 0x10), MSC_EXT_CHILD), 0), "extension with a flag");
    r.n = 0;
    expect_corrupt(u8(&r, MSC_REC_EXT), "extension cut short");
    r.n = 0;
    u8(vi(u8(&r, MSC_REC_ALLOC), 16), 0x80);
    for (int i = 0; i < 10; i++) u8(&r, 0x80);
    expect_corrupt(u8(&r, 1), "endless varint");
    r.n = 0;
    expect_corrupt(vi(vi(u8(&r, MSC_REC_FREE | MSC_FLAG_ALIGNED), 2), 1), "record after the end");
    /* Extended domains: past 5 + 2^32 - 1, a REALLOC of a mapping, a FREE
     * with the same-stack flag, an munmap without its length. */
    const uint8_t ext = MSC_TAG_DOMAIN_EXTENDED << 4;
    r.n = 0;
    expect_corrupt(vi(vi(vi(u8(&r, MSC_REC_ALLOC | ext), MSC_DOMAIN_MAX - 2), 16), 8), "domain");
    r.n = 0;
    expect_corrupt(vi(vi(vi(u8(&r, MSC_REC_ALLOC | ext), UINT64_MAX), 16), 8), "domain wraps");
    r.n = 0;
    expect_corrupt(vi(vi(vi(vi(u8(&r, MSC_REC_REALLOC | ext), 1), 0), 16), 8), "mmap realloc");
    r.n = 0;
    expect_corrupt(vi(u8(&r, MSC_REC_FREE | MSC_FLAG_SAME_STACK), 16), "free with a stack");
    r.n = 0;
    expect_corrupt(vi(vi(u8(&r, MSC_REC_FREE | ext), 1), 16), "munmap without length");
    r.n = 0;
    expect_corrupt(u8(&r, MSC_REC_FREE | ext), "domain missing");
    r.n = 0;
    expect_corrupt(vi(vi(u8(&r, MSC_REC_SAMPLE | 0x20), 1), 4096), "sample flag");
    r.n = 0;
    expect_corrupt(vi(vi(vi(u8(&r, MSC_REC_SAMPLE | MSC_FLAG_RSS_DETAIL), 1), 4096), 1),
                   "sample detail cut short");
}

static rec_t *text(rec_t *r, const char *s, size_t n)
{
    vi(r, n);
    memcpy(r->b + r->n, s, n);
    r->n += n;
    return r;
}

/* An extension record of sub-kind kind whose body is body. */
static rec_t *ext(rec_t *r, uint64_t kind, const rec_t *body)
{
    vi(vi(u8(r, MSC_REC_EXT), kind), body->n);
    memcpy(r->b + r->n, body->b, body->n);
    r->n += body->n;
    return r;
}

static void craft_children(const char *path)
{
    rec_t r = {0}, b = {0}, c = {0};
    ext(&r, MSC_EXT_CHILD, text(text(vi(vi(&b, 5000), 42), "/c.msc.42", 9), "py\0a b\0", 8));
    ext(&r, MSC_EXT_CHILD, text(text(vi(vi(&c, 1000), 43), "", 0), "", 0));
    static tc_craft_t f;
    tc_craft_begin(&f);
    tc_craft_chunk(&f, MSC_STREAM_MAIN, 0, r.b, r.n);
    tc_write_file(path, f.data, f.len);
}

/* A CHILD record names a child by pid, its capture path (empty: none) and
 * its command, each argument ended by NUL; the analysis keeps them. */
static void test_child_records(void)
{
    const char *path = tc_path("children.msc");
    craft_children(path);
    msc_analysis_t *a = msc_analysis_new();
    msc_replay_t *replay = NULL;
    msc_error_info_t info = {0, NULL};
    CHECK_EQ(msc_analyse_file(path, a, &replay, &info, NULL, NULL), 0);
    size_t n;
    uint64_t total;
    const msc_child_t *c = msc_analysis_children(a, &n, &total);
    CHECK_EQ(n, 2);
    CHECK_EQ(total, 2);
    if (n == 2) {
        CHECK_EQ(c[0].pid, 42);
        CHECK_EQ(c[0].time_ns, 5000);
        CHECK(strcmp(c[0].capture, "/c.msc.42") == 0);
        CHECK(c[0].command_len == 8 && memcmp(c[0].command, "py\0a b\0", 8) == 0);
        CHECK_EQ(c[1].pid, 43);
        CHECK_EQ(c[1].time_ns, 6000);
        CHECK(c[1].capture[0] == 0 && c[1].command_len == 0);
    }
    msc_replay_free(replay);
    msc_analysis_free(a);

    /* Each body in b, wrapped in its extension record in r. */
    rec_t r = {0}, b = {0};
    expect_corrupt(ext(&r, MSC_EXT_CHILD, text(text(vi(vi(&b, 1), 0), "", 0), "", 0)),
                   "child pid 0");
    r.n = b.n = 0;
    expect_corrupt(ext(&r, MSC_EXT_CHILD, text(text(vi(vi(&b, 1), 1ull << 32), "", 0), "", 0)),
                   "child pid");
    r.n = b.n = 0;
    expect_corrupt(ext(&r, MSC_EXT_CHILD, text(text(vi(vi(&b, 1), 7), "a\0b", 3), "", 0)),
                   "child path with a NUL");
    r.n = b.n = 0;
    expect_corrupt(ext(&r, MSC_EXT_CHILD, vi(vi(vi(&b, 1), 7), MSC_MAX_PATH + 1)),
                   "child path length");
    r.n = b.n = 0;
    expect_corrupt(ext(&r, MSC_EXT_CHILD, text(text(vi(vi(&b, 1), 7), "", 0), "py", 2)),
                   "child command without its NUL");
    r.n = b.n = 0;
    expect_corrupt(ext(&r, MSC_EXT_CHILD, text(vi(vi(&b, 1), 7), "", 0)), "child cut short");
    r.n = 0;
    expect_corrupt(vi(vi(u8(&r, MSC_REC_EXT), MSC_EXT_CHILD), MSC_EXT_MAX_BODY + 1),
                   "extension body too long");
    /* A sub-kind this reader does not know is skipped whole. */
    r.n = b.n = 0;
    ext(&r, 99, vi(vi(&b, 1), 2));
    info = (msc_error_info_t){0, NULL};
    CHECK_EQ(replay_records(&r, &info), 0);
}

/* Ids and indexes that pass the reader's bounds must not size a table
 * beyond reason either. */
static void test_large_valid_ids(void)
{
    const uint64_t ids[] = {MSC_MAX_IDS - 1, 1u << 24, 1u << 20};
    for (size_t i = 0; i < 3; i++) {
        msc_error_info_t info = {0, NULL};
        rec_t r = {0};
        vi(vi(vi(u8(&r, MSC_REC_THREAD_INFO), ids[i]), 1), 0);
        vi(vi(u8(&r, MSC_REC_ALLOC | MSC_FLAG_SAME_STACK), 16), 8);
        int err = replay_records(&r, &info);
        CHECK(err == 0 || err == MSC_ECORRUPT);
        r.n = 0;
        vi(vi(vi(u8(&r, MSC_REC_STRING), ids[i]), 1), 'x');
        err = replay_records(&r, &info);
        CHECK(err == 0 || err == MSC_ECORRUPT);
        r.n = 0;
        vi(vi(vi(vi(vi(u8(&r, MSC_REC_CODE), ids[i]), 1), 1), 1), 0);
        err = replay_records(&r, &info);
        CHECK(err == 0 || err == MSC_ECORRUPT);
    }
}

static int replay_crafted(tc_craft_t *f, tc_events_t *ev, msc_error_info_t *info)
{
    const char *path = tc_path("crafted-chunk.msc");
    tc_write_file(path, f->data, f->len);
    tc_use_allocator(0, HUGE_REQUEST);
    int err = tc_replay(path, ev, info);
    msc_set_allocator(NULL);
    CHECK_EQ(tc_ctl.live, 0);
    CHECK_EQ(tc_ctl.refused, 0);
    return err;
}

/* A good chunk, then one with the given header fields: the good chunk's
 * event arrives, then the error, at the second chunk's offset. */
static void expect_bad_chunk(int stream, int codec, uint32_t seq, uint32_t stored, uint32_t raw,
                             const void *payload, size_t n, int want)
{
    static tc_craft_t f;
    rec_t r = {0};
    vi(vi(vi(u8(&r, MSC_REC_ALLOC), 2), 8), 0);
    tc_craft_begin(&f);
    tc_craft_chunk(&f, MSC_STREAM_MAIN, 0, r.b, r.n);
    uint64_t at = f.len;
    tc_craft_chunk_raw(&f, stream, codec, seq, stored, raw, payload, n);
    tc_events_t ev = {0};
    msc_error_info_t info = {0, NULL};
    int err = replay_crafted(&f, &ev, &info);
    CHECK_EQ(err, want);
    CHECK_EQ(ev.n, 1);
    CHECK(info.what != NULL);
    CHECK(info.offset >= at && info.offset < at + MSC_CHUNK_HEADER_SIZE);
    free(ev.e);
}

static void test_absurd_chunks(void)
{
    uint8_t p[64] = {MSC_REC_LOST, 1, 1};
    expect_bad_chunk(0, MSC_CODEC_NONE, 2, 3, 3, p, 3, MSC_ECORRUPT);      /* skipped */
    expect_bad_chunk(0, MSC_CODEC_NONE, 0, 3, 3, p, 3, MSC_ECORRUPT);      /* repeated */
    expect_bad_chunk(0, MSC_CODEC_NONE, UINT32_MAX, 3, 3, p, 3, MSC_ECORRUPT);
    expect_bad_chunk(2, MSC_CODEC_NONE, 1, 3, 3, p, 3, MSC_ECORRUPT);      /* stream */
    expect_bad_chunk(255, MSC_CODEC_NONE, 1, 3, 3, p, 3, MSC_ECORRUPT);
    expect_bad_chunk(0, 7, 1, 3, 3, p, 3, MSC_ECORRUPT);                   /* codec */
    expect_bad_chunk(0, MSC_CODEC_NONE, 1, 3, 0, p, 3, MSC_ECORRUPT);      /* raw 0 */
    expect_bad_chunk(0, MSC_CODEC_NONE, 1, 3, 4, p, 3, MSC_ECORRUPT);      /* stored != raw */
    expect_bad_chunk(0, MSC_CODEC_NONE, 1, UINT32_MAX, UINT32_MAX, p, 3, MSC_ECORRUPT);
    expect_bad_chunk(0, MSC_CODEC_ZSTD, 1, 3, MSC_CHUNK_MAX_RAW + 1, p, 3, MSC_ECORRUPT);
    expect_bad_chunk(0, MSC_CODEC_ZSTD, 1, UINT32_MAX, 3, p, 3, MSC_ECORRUPT);
    expect_bad_chunk(0, MSC_CODEC_ZSTD, 1, 3, 3, p, 3, MSC_ECORRUPT);      /* not zstd */
    /* Stored length larger than what the file holds. */
    expect_bad_chunk(0, MSC_CODEC_NONE, 1, 1000, 1000, p, 3, MSC_ETRUNCATED);

    /* A real zstd frame whose stated length is wrong either way. */
    uint8_t raw[40], z[128];
    memset(raw, MSC_REC_LOST, sizeof(raw));
    for (size_t i = 1; i < sizeof(raw); i += 3) raw[i] = raw[i + 1] = 1;
    size_t zn = ZSTD_compress(z, sizeof(z), raw, 39, 1);
    CHECK(!ZSTD_isError(zn));
    expect_bad_chunk(0, MSC_CODEC_ZSTD, 1, (uint32_t)zn, 38, z, zn, MSC_ECORRUPT);
    expect_bad_chunk(0, MSC_CODEC_ZSTD, 1, (uint32_t)zn, 40, z, zn, MSC_ECORRUPT);
    /* A zstd frame that claims far more than a chunk may hold. */
    static uint8_t zeros[MSC_CHUNK_MAX_RAW + 4096];
    static uint8_t zbig[1 << 16];
    zn = ZSTD_compress(zbig, sizeof(zbig), zeros, sizeof(zeros), 1);
    CHECK(!ZSTD_isError(zn));
    expect_bad_chunk(0, MSC_CODEC_ZSTD, 1, (uint32_t)zn, MSC_CHUNK_MAX_RAW, zbig, zn, MSC_ECORRUPT);
}

/* Side events at a position the main stream never reaches are delivered at
 * the end, after every main event. */
static void test_side_beyond_end(void)
{
    static tc_craft_t f;
    rec_t side = {0}, main = {0};
    vi(u8(&side, MSC_REC_SYNC), UINT64_MAX);
    vi(vi(vi(u8(&side, MSC_REC_ALLOC), 100), 1), 0);
    vi(vi(vi(u8(&main, MSC_REC_ALLOC), 200), 1), 0);
    tc_craft_begin(&f);
    tc_craft_chunk(&f, MSC_STREAM_SIDE, 0, side.b, side.n);
    tc_craft_chunk(&f, MSC_STREAM_MAIN, 1, main.b, main.n);
    tc_events_t ev = {0};
    msc_error_info_t info;
    CHECK_EQ(replay_crafted(&f, &ev, &info), 0);
    CHECK_EQ(ev.n, 2);
    if (ev.n == 2) { /* address deltas are zigzag coded: 200 is +100 */
        CHECK_EQ(ev.e[0].ev.addr, 100);
        CHECK_EQ(ev.e[1].ev.addr, 50);
    }
    free(ev.e);
}

static void test_foreign_files(void)
{
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13,
                                  'I',  'H', 'D', 'R', 0,    0,    0,    1,    0, 0, 0, 1};
    const char *path = tc_path("foreign");
    msc_error_info_t info;
    int err;

    tc_write_file(path, png, sizeof(png));
    CHECK(msc_replay_open(path, 0, &err, &info) == NULL);
    CHECK_EQ(err, MSC_EFORMAT);
    CHECK(info.what != NULL && info.offset == 0);

    tc_write_file(path, "", 0);
    CHECK(msc_replay_open(path, 0, &err, &info) == NULL);
    CHECK_EQ(err, MSC_EFORMAT);

    CHECK(msc_replay_open(tc_path(""), 0, &err, &info) == NULL);
    CHECK_EQ(err, MSC_EFORMAT);
    CHECK(info.what != NULL && strstr(info.what, "directory") != NULL);

    CHECK(msc_replay_open(tc_path("does-not-exist"), 0, &err, &info) == NULL);
    CHECK_EQ(err, MSC_EIO);

    /* A good header, then bytes that are not a chunk. */
    static tc_craft_t f;
    tc_craft_begin(&f);
    uint64_t head = f.len;
    static const char junk[] = "PK\x03\x04 not a chunk at all, just text";
    memcpy(f.data + f.len, junk, sizeof(junk));
    f.len += sizeof(junk);
    tc_events_t ev = {0};
    CHECK_EQ(replay_crafted(&f, &ev, &info), MSC_ECORRUPT);
    CHECK_EQ(info.offset, head);
    CHECK_EQ(ev.n, 0);

    /* A header whose length field points far past the end of the file. */
    tc_craft_begin(&f);
    msc__put_u32(f.data + 12, 1u << 19);
    tc_write_file(path, f.data, f.len);
    CHECK(msc_replay_open(path, 0, &err, &info) == NULL);
    CHECK_EQ(err, MSC_ETRUNCATED);
}

/* Out of memory at every allocation of open, replay and analysis. */
static void test_out_of_memory(const char *path)
{
    int failures, wrong;
    CHECK(tc_fail_each_allocation(path, 0, 400, &failures, &wrong));
    CHECK_EQ(wrong, 0);
    CHECK(failures > 10);
}

/* Native, mapping and foreign-domain blocks, a partial munmap and RSS
 * samples: the records --native and numpy add, as a fuzzing seed. */
static void build_domain_capture(const char *path)
{
    msc_header_t h;
    tc_capture_t c;
    tc_default_header(&h);
    h.native = 1;
    if (tc_open(&c, path, &h)) abort();
    uint32_t root = tc_node(&c, 0, 0, 0);
    tc_alloc(&c, MSC_DOMAIN_NATIVE, 0x5000, 4000, root);
    tc_alloc(&c, MSC_DOMAIN_FOREIGN + MSC_NUMPY_DOMAIN, 0x5000, 4000, root);
    tc_alloc(&c, MSC_DOMAIN_MMAP, 0x7f0000000000ull, 1 << 20, root);
    tc_unmap(&c, 0x7f0000010000ull, 0x10000);
    tc_realloc(&c, MSC_DOMAIN_NATIVE, 0x5000, 0x9000, 9000, root);
    tc_free(&c, MSC_DOMAIN_FOREIGN + MSC_NUMPY_DOMAIN, 0x5000);
    tc_side_begin(&c);
    tc_alloc(&c, MSC_DOMAIN_FOREIGN + 7, 0xA000, 64, 0);
    tc_side_end(&c);
    tc_sample(&c, TC_TIME0 + 10, 1 << 24);
    if (msc_sink_close(c.sink, 5000) != 0) abort();
}

static int write_seeds(const char *dir)
{
    char path[512];
    static tc_craft_t stored;
    snprintf(path, sizeof(path), "%s/capture-domains.msc", dir);
    build_domain_capture(path);
    store_uncompressed(path, &stored);
    tc_write_file(path, stored.data, stored.len);
    stored.len = 0;
    snprintf(path, sizeof(path), "%s/capture-small.msc", dir);
    build_capture(path, 2);
    store_uncompressed(path, &stored);
    snprintf(path, sizeof(path), "%s/capture-stored.msc", dir);
    tc_write_file(path, stored.data, stored.len);
    snprintf(path, sizeof(path), "%s/capture-batches.msc", dir);
    build_capture(path, 6);
    snprintf(path, sizeof(path), "%s/capture-children.msc", dir);
    craft_children(path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) return write_seeds(argv[2]);
    char path[160];
    snprintf(path, sizeof(path), "%s", tc_path("valid.msc"));
    build_capture(path, 8);
    test_truncation(path);
    test_follow(path);
    test_bit_flips(path);
    test_payload_damage(path);
    test_absurd_records();
    test_child_records();
    test_large_valid_ids();
    test_absurd_chunks();
    test_side_beyond_end();
    test_foreign_files();
    test_out_of_memory(path);
    tc_cleanup();
    return check_done("reader");
}
