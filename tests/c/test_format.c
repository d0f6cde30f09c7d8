/* Round trips of capture format v1: the file header through its encoder and
 * decoder, CPython 3.11 line tables through msc_linetable_line, and whole
 * captures written with the real sink (every record kind, on both streams)
 * and read back with msc_replay_run, field by field, including where side
 * events land in the main stream's order and how frames are named. */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "capture_util.h"
#include "check.h"
#include "memscope/analysis.h"
#include "memscope/format.h"
#include "memscope/replay.h"
#include "memscope/symbols.h"

/*
 * File header.
 */

/* A header around a hand-written body, with a correct checksum. */
static size_t header_with_body(uint8_t *out, const uint8_t *body, size_t n)
{
    memcpy(out, MSC_FILE_MAGIC, 8);
    msc__put_u16(out + 8, MSC_FORMAT_VERSION);
    msc__put_u16(out + 10, 0);
    msc__put_u32(out + 12, (uint32_t)n);
    memcpy(out + MSC_FILE_HEADER_FIXED, body, n);
    msc__put_u32(out + MSC_FILE_HEADER_FIXED + n, XXH32(out, MSC_FILE_HEADER_FIXED + n, 0));
    return MSC_FILE_HEADER_FIXED + n + 4;
}

static void test_header_round_trip(void)
{
    char *argv[] = {"script.py", "", "--name=\xc3\xa9t\xc3\xa9", "last"};
    msc_header_t h = {0}, got;
    strcpy(h.python_version, "3.11.9");
    h.python_hexversion = 0x030B09F0;
    h.pid = 123456789012ull;
    h.parent_pid = 77;
    h.parent_capture = "/runs/parent.msc";
    h.start_ns = 1700000000123456789ull;
    h.mode = MSC_MODE_SAMPLED;
    h.sample_bytes = 512 * 1024;
    h.max_depth = 256;
    h.argc = 4;
    h.argv = argv;

    uint8_t buf[4096];
    size_t len, used = 0;
    msc_error_info_t info;
    CHECK_EQ(msc_header_encode(&h, buf, sizeof(buf), &len), 0);
    CHECK_EQ(msc__header_decode(buf, len, &got, &used, &info), 0);
    CHECK_EQ(used, len);
    CHECK(strcmp(got.python_version, "3.11.9") == 0);
    CHECK_EQ(got.python_hexversion, 0x030B09F0);
    CHECK_EQ(got.pid, 123456789012ull);
    CHECK_EQ(got.parent_pid, 77);
    CHECK(got.parent_capture && strcmp(got.parent_capture, "/runs/parent.msc") == 0);
    CHECK_EQ(got.start_ns, 1700000000123456789ull);
    CHECK_EQ(got.mode, MSC_MODE_SAMPLED);
    CHECK_EQ(got.sample_bytes, 512 * 1024);
    CHECK_EQ(got.max_depth, 256);
    CHECK_EQ(got.argc, 4);
    for (int i = 0; i < got.argc && i < 4; i++) CHECK(strcmp(got.argv[i], argv[i]) == 0);
    msc_header_release(&got);

    /* Trailing bytes after the header (the first chunk) are not consumed. */
    memset(buf + len, 0xEE, 10);
    CHECK_EQ(msc__header_decode(buf, len + 10, &got, &used, &info), 0);
    CHECK_EQ(used, len);
    msc_header_release(&got);

    /* A buffer too small for every argument keeps the first ones. */
    size_t small_len;
    CHECK_EQ(msc_header_encode(&h, buf, MSC_FILE_HEADER_FIXED + 4 + 10 * 32 + 6 + 20 + 16 + 20 + 9,
                               &small_len),
             0);
    CHECK_EQ(msc__header_decode(buf, small_len, &got, &used, &info), 0);
    CHECK_EQ(got.argc, 1);
    CHECK(got.argc == 1 && strcmp(got.argv[0], "script.py") == 0);
    CHECK_EQ(got.argv_omitted, 3); /* and says how many it left out */
    msc_header_release(&got);
    CHECK_EQ(msc_header_encode(&h, buf, 40, &small_len), MSC_EUSAGE);
}

/* More arguments than a header holds: the first MSC_HEADER_MAX_ARGS are
 * kept, the rest counted, and the header reads back. */
static void test_header_many_arguments(void)
{
    enum { ARGS = MSC_HEADER_MAX_ARGS + 5 };
    static char *argv[ARGS];
    static uint8_t buf[MSC_FILE_HEADER_FIXED + MSC_FILE_HEADER_MAX_BODY + 4];
    msc_header_t h, got;
    memset(&h, 0, sizeof(h));
    strcpy(h.python_version, "3.11.9");
    for (int i = 0; i < ARGS; i++) argv[i] = "x";
    h.argc = ARGS;
    h.argv = argv;
    size_t len, used;
    msc_error_info_t info;
    CHECK_EQ(msc_header_encode(&h, buf, sizeof(buf), &len), 0);
    CHECK_EQ(msc__header_decode(buf, len, &got, &used, &info), 0);
    CHECK_EQ(got.argc, MSC_HEADER_MAX_ARGS);
    CHECK_EQ(got.argv_omitted, 5);
    msc_header_release(&got);
    h.argc = 2001;
    CHECK_EQ(msc_header_encode(&h, buf, sizeof(buf), &len), 0);
    CHECK_EQ(msc__header_decode(buf, len, &got, &used, &info), 0);
    CHECK_EQ(got.argc, 2001);
    CHECK_EQ(got.argv_omitted, 0);
    msc_header_release(&got);
}

static void test_header_unknown_and_bad_fields(void)
{
    uint8_t buf[256], body[64];
    size_t used, len;
    msc_header_t got;
    msc_error_info_t info;

    /* key 99 (a later version's field) is skipped; the known ones are read. */
    uint8_t fields[] = {99, 3,   'x', 'y', 'z', MSC_HK_PID, 2, 0xAC, 0x02, MSC_HK_PYTHON_VERSION,
                        4,  '3', '.', '1', '2'};
    len = header_with_body(buf, fields, sizeof(fields));
    CHECK_EQ(msc__header_decode(buf, len, &got, &used, &info), 0);
    CHECK_EQ(got.pid, 300);
    CHECK(strcmp(got.python_version, "3.12") == 0);
    CHECK_EQ(used, len);
    msc_header_release(&got);

    /* A field whose length runs past the body. */
    uint8_t overlong[] = {MSC_HK_PID, 9, 1};
    len = header_with_body(buf, overlong, sizeof(overlong));
    CHECK_EQ(msc__header_decode(buf, len, &got, &used, &info), MSC_ECORRUPT);
    CHECK(info.what != NULL);

    /* A parent capture given twice, empty, or holding a NUL. */
    uint8_t twice[] = {MSC_HK_PARENT_CAPTURE, 1, 'a', MSC_HK_PARENT_CAPTURE, 1, 'b'};
    len = header_with_body(buf, twice, sizeof(twice));
    CHECK_EQ(msc__header_decode(buf, len, &got, &used, &info), MSC_ECORRUPT);
    uint8_t empty[] = {MSC_HK_PARENT_CAPTURE, 0};
    len = header_with_body(buf, empty, sizeof(empty));
    CHECK_EQ(msc__header_decode(buf, len, &got, &used, &info), MSC_ECORRUPT);
    uint8_t nul[] = {MSC_HK_PARENT_CAPTURE, 3, 'a', 0, 'b'};
    len = header_with_body(buf, nul, sizeof(nul));
    CHECK_EQ(msc__header_decode(buf, len, &got, &used, &info), MSC_ECORRUPT);

    /* A number field holding a varint that never ends. */
    uint8_t endless[] = {MSC_HK_PID, 2, 0x80, 0x80};
    len = header_with_body(buf, endless, sizeof(endless));
    CHECK_EQ(msc__header_decode(buf, len, &got, &used, &info), MSC_ECORRUPT);

    /* A Python version longer than its field. */
    memset(body, 'v', sizeof(body));
    body[0] = MSC_HK_PYTHON_VERSION;
    body[1] = 40;
    len = header_with_body(buf, body, 42);
    CHECK_EQ(msc__header_decode(buf, len, &got, &used, &info), MSC_ECORRUPT);

    /* Argument count is bounded. */
    static uint8_t many[2 * 5000], big[MSC_FILE_HEADER_FIXED + sizeof(many) + 4];
    for (size_t i = 0; i < 5000; i++) {
        many[2 * i] = MSC_HK_ARGV;
        many[2 * i + 1] = 0;
    }
    len = header_with_body(big, many, sizeof(many));
    CHECK_EQ(msc__header_decode(big, len, &got, &used, &info), MSC_ECORRUPT);
}

static void test_header_damage(void)
{
    msc_header_t h, got;
    tc_default_header(&h);
    uint8_t buf[1024], bad[1024];
    size_t len, used;
    msc_error_info_t info;
    CHECK_EQ(msc_header_encode(&h, buf, sizeof(buf), &len), 0);

    memcpy(bad, buf, len);
    bad[0] = 'X';
    CHECK_EQ(msc__header_decode(bad, len, &got, &used, &info), MSC_EFORMAT);
    CHECK_EQ(info.offset, 0);

    memcpy(bad, buf, len);
    msc__put_u16(bad + 8, 2);
    CHECK_EQ(msc__header_decode(bad, len, &got, &used, &info), MSC_EFORMAT);
    CHECK_EQ(info.offset, 8);

    memcpy(bad, buf, len);
    msc__put_u32(bad + 12, MSC_FILE_HEADER_MAX_BODY + 1);
    CHECK_EQ(msc__header_decode(bad, len, &got, &used, &info), MSC_ECORRUPT);
    CHECK_EQ(info.offset, 12);
    msc__put_u32(bad + 12, 0xFFFFFFFFu);
    CHECK_EQ(msc__header_decode(bad, len, &got, &used, &info), MSC_ECORRUPT);

    memcpy(bad, buf, len);
    bad[len - 1] ^= 1;
    CHECK_EQ(msc__header_decode(bad, len, &got, &used, &info), MSC_ECORRUPT);
    CHECK_EQ(info.offset, len - 4);

    for (size_t n = MSC_FILE_HEADER_FIXED; n < len; n++)
        CHECK_EQ(msc__header_decode(buf, n, &got, &used, &info), MSC_ETRUNCATED);
    CHECK_EQ(msc__header_decode(buf, 3, &got, &used, &info), MSC_EFORMAT);
}

/*
 * Line tables (CPython 3.11 Objects/locations.md). An entry starts with
 * 1CCCCLLL: code C, L+1 code units.
 */

#define LT(code, units) ((uint8_t)(0x80 | ((code) << 3) | ((units) - 1)))

static void test_linetable_forms(void)
{
    const uint8_t table[] = {
        LT(0, 2),  0x05,                 /* 0-1: short form, first line (100) */
        LT(10, 1), 0x01, 0x02,          /* 2: one-line form, +0 -> 100 */
        LT(11, 2), 0x01, 0x02,          /* 3-4: one-line form, +1 -> 101 */
        LT(12, 1), 0x01, 0x02,          /* 5: one-line form, +2 -> 103 */
        LT(13, 3), 0x0A,                /* 6-8: no column, +5 -> 108 */
        LT(13, 1), 0x07,                /* 9: no column, -3 -> 105 */
        LT(15, 2),                      /* 10-11: no location */
        LT(14, 1), 0x48, 0x03, 0x00, 0x03, 0x04, /* 12: long form, +100 (two bytes) -> 205 */
        LT(9, 8),  0x07,                 /* 13-20: short form, still 205 */
        LT(14, 1), 0x49, 0x03, 0x00, 0x00, 0x00, /* 21: long form, -100 -> 105 */
    };
    const uint32_t want[] = {100, 100, 100, 101, 101, 103, 108, 108, 108, 105, 0,
                             0,   205, 205, 205, 205, 205, 205, 205, 205, 205, 105};
    for (uint32_t off = 0; off < sizeof(want) / sizeof(want[0]); off++)
        CHECK_EQ(msc_linetable_line(table, sizeof(table), 100, off), want[off]);
    CHECK_EQ(msc_linetable_line(table, sizeof(table), 100, 22), 0);
    CHECK_EQ(msc_linetable_line(table, sizeof(table), 100, 0xFFFFFFFFu), 0);
    CHECK_EQ(msc_linetable_line(table, 0, 100, 0), 0);
}

static void test_linetable_malformed(void)
{
    /* Not an entry start where one is expected. */
    const uint8_t stray[] = {LT(0, 1), 0x01, 0x05, LT(0, 1), 0x01};
    CHECK_EQ(msc_linetable_line(stray, sizeof(stray), 7, 0), 7);
    CHECK_EQ(msc_linetable_line(stray, sizeof(stray), 7, 1), 0);

    /* A long-form entry cut short: nothing after it has a line. */
    const uint8_t cut[] = {LT(0, 1), 0x01, LT(14, 1), 0x48};
    CHECK_EQ(msc_linetable_line(cut, sizeof(cut), 7, 0), 7);
    CHECK_EQ(msc_linetable_line(cut, sizeof(cut), 7, 2), 0);

    /* Lines at or below zero are reported as no line. */
    const uint8_t below[] = {LT(13, 1), 0x0B};  /* -5 */
    CHECK_EQ(msc_linetable_line(below, sizeof(below), 3, 0), 0);

    /* An endless varint stops after 32 bits (all ones: a line delta far
     * below zero) and cannot run past the table. */
    const uint8_t endless[] = {LT(13, 1), 0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0x7F, 0x7F};
    CHECK_EQ(msc_linetable_line(endless, sizeof(endless), 3, 0), 0);
    CHECK_EQ(msc_linetable_line(endless, sizeof(endless), 3, 5), 0);
}

/*
 * Whole captures.
 */

#define A1 0x7f0000001000ull      /* 16-aligned */
#define A2 0x7f0000001013ull      /* not aligned */
#define A3 0x7f0000002000ull
#define A4 0x1000ull              /* far below: a large negative delta */
#define A5 0xFFFFFFFFFFFF0000ull  /* near the top: the delta wraps */
#define A6 0x7f0000003008ull
#define A7 0x7f0000004000ull
#define B1 0x5555000ull
#define B2 0x5555011ull

/* Line table of code 0 (first line 10): offsets 0-2 line 11, 3-4 line 11. */
static const uint8_t table0[] = {LT(13, 3), 0x02, LT(0, 2), 0x05};
/* Code 1 (first line 20): 0-1 line 21, 2-3 line 26, 4-5 none, 6 line 23. */
static const uint8_t table1[] = {LT(11, 2), 0x01, 0x02,      LT(14, 2), 0x0A, 0x00,
                                 0x03,      0x04, LT(15, 2), LT(13, 1), 0x07};

typedef struct want {
    int kind, domain;
    uint32_t thread, stack;
    uint64_t addr, old_addr, size;
} want_t;

static void write_every_kind(tc_capture_t *c, uint32_t *n)
{
    tc_string(c, 1, "app.py");
    tc_string(c, 2, "main");
    tc_string(c, 3, "helper");
    tc_string(c, 4, "");
    tc_code(c, 0, 1, 2, 10, table0, sizeof(table0));
    tc_code(c, 1, 1, 3, 20, table1, sizeof(table1));
    n[1] = tc_node(c, 0, 0, 4);
    n[2] = tc_node(c, n[1], 1, 2);
    n[3] = tc_node(c, n[1], 1, 6);
    n[4] = tc_node(c, 0, 7, 0);     /* code 7 is never described */
    n[5] = tc_node(c, n[3], 1, 4);  /* an offset without a location */

    tc_alloc(c, MSC_DOMAIN_OBJ, A1, 64, n[2]);
    tc_alloc(c, MSC_DOMAIN_MEM, A2, 7, n[2]);
    tc_realloc(c, MSC_DOMAIN_RAW, A2, A3, 100, n[3]);
    tc_realloc(c, MSC_DOMAIN_OBJ, A3, A3, 200, n[3]);
    tc_free(c, MSC_DOMAIN_OBJ, A1);
    tc_thread(c, 1);
    tc_alloc(c, MSC_DOMAIN_MEM, A4, 5, 0);
    tc_free(c, MSC_DOMAIN_MEM, A4);
    tc_thread(c, 0);
    tc_alloc(c, MSC_DOMAIN_RAW, A5, 1ull << 40, n[1]);
    /* Records split across chunks keep their delta state and node ids. */
    msc_sink_flush(c->sink);
    tc_gc(c, TC_TIME0 + 1000, 2, 1234, 56, 1);
    tc_mark(c, TC_TIME0 + 2000, "phase one");
    tc_lost(c, 3, MSC_LOST_NO_MEMORY);
    tc_alloc(c, MSC_DOMAIN_OBJ, A6, 48, n[5]);

    tc_side_begin(c);
    uint32_t side_node = tc_node(c, 0, 0, 4); /* the same frame as main's n[1] */
    tc_alloc(c, MSC_DOMAIN_RAW, B1, 33, side_node);
    tc_thread(c, 2);
    tc_thread_info(c, 2, 4242, "worker");
    tc_sample(c, TC_TIME0 + 3000, TC_RSS_MARK);
    tc_sample_detail(c, TC_TIME0 + 3500, TC_RSS_MARK, 5ull << 20, 3ull << 20);
    tc_side_end(c);
    msc_sink_flush(c->sink);

    tc_free(c, MSC_DOMAIN_RAW, A3);
    tc_side_begin(c);
    tc_free(c, MSC_DOMAIN_RAW, B1);
    tc_alloc(c, MSC_DOMAIN_RAW, B2, 17, 0);
    tc_side_end(c);
    tc_realloc(c, MSC_DOMAIN_MEM, 0, A7, 9, n[4]); /* realloc(NULL, 9) */
    tc_child(c, TC_TIME0 + 4000, 4343, "/tmp/run.msc.4343", "python3\0w.py\0", 13);
}

static void check_event(const tc_event_t *got, const want_t *w, int i)
{
    const msc_event_t *e = &got->ev;
    if (e->kind != w->kind) fprintf(stderr, "event %d: kind %d, want %d\n", i, e->kind, w->kind);
    CHECK_EQ(e->kind, w->kind);
    CHECK_EQ(e->thread, w->thread);
    if (w->kind == MSC_REC_ALLOC || w->kind == MSC_REC_FREE || w->kind == MSC_REC_REALLOC) {
        CHECK_EQ(e->domain, w->domain);
        CHECK_EQ(e->addr, w->addr);
    }
    if (w->kind == MSC_REC_ALLOC || w->kind == MSC_REC_REALLOC) {
        CHECK_EQ(e->size, w->size);
        CHECK_EQ(e->stack, w->stack);
    }
    if (w->kind == MSC_REC_REALLOC) CHECK_EQ(e->old_addr, w->old_addr);
}

static void check_symbols(msc_symbols_t *sym, const uint32_t *g)
{
    msc_frame_t f;
    CHECK_EQ(msc_symbols_nodes(sym), 6);
    CHECK_EQ(msc_symbols_parent(sym, g[2]), g[1]);
    CHECK_EQ(msc_symbols_parent(sym, g[3]), g[1]);
    CHECK_EQ(msc_symbols_parent(sym, g[1]), 0);
    CHECK_EQ(msc_symbols_depth(sym, g[5]), 3);
    CHECK_EQ(msc_symbols_depth(sym, 0), 0);

    msc_symbols_frame(sym, g[1], &f);
    CHECK(strcmp(f.file, "app.py") == 0 && strcmp(f.function, "main") == 0);
    CHECK_EQ(f.line, 11);
    CHECK_EQ(f.code_id, 0);
    CHECK_EQ(f.file_id, 1);
    CHECK_EQ(f.function_id, 2);
    msc_symbols_frame(sym, g[2], &f);
    CHECK(strcmp(f.function, "helper") == 0);
    CHECK_EQ(f.line, 26);
    msc_symbols_frame(sym, g[3], &f);
    CHECK_EQ(f.line, 23);
    msc_symbols_frame(sym, g[3], &f); /* decoded once, then cached */
    CHECK_EQ(f.line, 23);
    msc_symbols_frame(sym, g[5], &f);
    CHECK_EQ(f.line, 0);
    CHECK(strcmp(f.function, "helper") == 0);
    msc_symbols_frame(sym, g[4], &f);
    CHECK(strcmp(f.file, "<unknown>") == 0 && strcmp(f.function, "<unknown>") == 0);
    CHECK_EQ(f.code_id, 7);
    msc_symbols_frame(sym, 0, &f);
    CHECK(strcmp(f.file, "<no Python frame>") == 0);
    msc_symbols_frame(sym, 999, &f);
    CHECK(strcmp(f.file, "<unknown>") == 0);
    CHECK(strcmp(msc_symbols_string(sym, 4), "") == 0);
    CHECK(strcmp(msc_symbols_string(sym, 5), "<unknown>") == 0);
    CHECK(strcmp(msc_symbols_string(sym, 1u << 27), "<unknown>") == 0);
}

static void test_capture_every_kind(void)
{
    const char *path = tc_path("every-kind.msc");
    msc_header_t h;
    tc_capture_t c;
    uint32_t n[6];
    tc_default_header(&h);
    CHECK_EQ(tc_open(&c, path, &h), 0);
    if (!c.sink) return;
    write_every_kind(&c, n);
    CHECK_EQ(msc_sink_close(c.sink, 999999), 0);

    int err;
    msc_error_info_t info;
    msc_replay_t *r = msc_replay_open(path, 0, &err, &info);
    CHECK(r != NULL);
    if (!r) return;
    tc_events_t ev = {.skip_rss = 1};
    CHECK_EQ(msc_replay_run(r, tc_collect, &ev, &info), 0);

    /* Global ids follow first definition; the side stream's node is main's n[1]. */
    uint32_t g[6] = {0, 1, 2, 3, 4, 5};
    const want_t want[] = {
        {MSC_REC_ALLOC, MSC_DOMAIN_OBJ, 0, g[2], A1, 0, 64},
        {MSC_REC_ALLOC, MSC_DOMAIN_MEM, 0, g[2], A2, 0, 7},
        {MSC_REC_REALLOC, MSC_DOMAIN_RAW, 0, g[3], A3, A2, 100},
        {MSC_REC_REALLOC, MSC_DOMAIN_OBJ, 0, g[3], A3, A3, 200},
        {MSC_REC_FREE, MSC_DOMAIN_OBJ, 0, 0, A1, 0, 0},
        {MSC_REC_ALLOC, MSC_DOMAIN_MEM, 1, 0, A4, 0, 5},
        {MSC_REC_FREE, MSC_DOMAIN_MEM, 1, 0, A4, 0, 0},
        {MSC_REC_ALLOC, MSC_DOMAIN_RAW, 0, g[1], A5, 0, 1ull << 40},
        {MSC_REC_GC, 0, 0, 0, 0, 0, 0},
        {MSC_REC_MARK, 0, 0, 0, 0, 0, 0},
        {MSC_REC_LOST, 0, 0, 0, 0, 0, 0},
        {MSC_REC_ALLOC, MSC_DOMAIN_OBJ, 0, g[5], A6, 0, 48},
        {MSC_REC_ALLOC, MSC_DOMAIN_RAW, 0, g[1], B1, 0, 33},
        {MSC_REC_THREAD_INFO, 0, 2, 0, 0, 0, 0},
        {MSC_REC_SAMPLE, 0, 2, 0, 0, 0, 0},
        {MSC_REC_SAMPLE, 0, 2, 0, 0, 0, 0},
        {MSC_REC_FREE, MSC_DOMAIN_RAW, 0, 0, A3, 0, 0},
        {MSC_REC_FREE, MSC_DOMAIN_RAW, 2, 0, B1, 0, 0},
        {MSC_REC_ALLOC, MSC_DOMAIN_RAW, 2, 0, B2, 0, 17},
        {MSC_REC_REALLOC, MSC_DOMAIN_MEM, 0, g[4], A7, 0, 9},
        {MSC_REC_CHILD, 0, 0, 0, 0, 0, 0},
    };
    size_t nwant = sizeof(want) / sizeof(want[0]);
    CHECK_EQ(ev.n, nwant);
    for (size_t i = 0; i < nwant && i < ev.n; i++) check_event(&ev.e[i], &want[i], (int)i);

    if (ev.n == nwant) {
        const msc_event_t *gc = &ev.e[8].ev, *mark = &ev.e[9].ev, *lost = &ev.e[10].ev;
        CHECK_EQ(gc->time_ns, TC_TIME0 + 1000);
        CHECK_EQ(gc->value[0], 2);
        CHECK_EQ(gc->value[1], 1234);
        CHECK_EQ(gc->value[2], 56);
        CHECK_EQ(gc->value[3], 1);
        CHECK_EQ(mark->time_ns, TC_TIME0 + 2000);
        CHECK(strcmp(ev.e[9].text, "phase one") == 0);
        CHECK_EQ(mark->text_len, 9);
        CHECK_EQ(lost->value[0], 3);
        CHECK_EQ(lost->value[1], MSC_LOST_NO_MEMORY);
        CHECK_EQ(ev.e[11].ev.time_ns, TC_TIME0 + 2000); /* untimed events take the latest time */
        CHECK_EQ(ev.e[13].ev.value[0], 4242);
        CHECK(strcmp(ev.e[13].text, "worker") == 0);
        CHECK_EQ(ev.e[14].ev.value[0], TC_RSS_MARK);
        CHECK_EQ(ev.e[14].ev.value[3], 0); /* no resident split */
        CHECK_EQ(ev.e[14].ev.time_ns, TC_TIME0 + 3000);
        const msc_event_t *detail = &ev.e[15].ev;
        CHECK_EQ(detail->time_ns, TC_TIME0 + 3500);
        CHECK_EQ(detail->value[0], TC_RSS_MARK);
        CHECK_EQ(detail->value[1], 5ull << 20);
        CHECK_EQ(detail->value[2], 3ull << 20);
        CHECK_EQ(detail->value[3], 1);
        CHECK_EQ(ev.e[16].ev.time_ns, TC_TIME0 + 3500);
        const msc_event_t *child = &ev.e[20].ev;
        CHECK_EQ(child->time_ns, TC_TIME0 + 4000);
        CHECK_EQ(child->value[0], 4343);
    }

    check_symbols((msc_symbols_t *)msc_replay_symbols(r), g);
    const msc_header_t *rh = msc_replay_header(r);
    CHECK(strcmp(rh->python_version, "3.11.7") == 0);
    CHECK_EQ(rh->pid, 4321);
    CHECK_EQ(rh->argc, 2);
    CHECK(msc_replay_complete(r));
    CHECK_EQ(msc_replay_duration_ns(r), 999999);
    CHECK(msc_replay_events(r) >= nwant);
    CHECK_EQ(msc_replay_offset(r), msc_replay_file_size(r));
    msc_replay_free(r);
    free(ev.e);
}

/* Enough records to fill several sink buffers: addresses aligned and not,
 * sizes of every magnitude, stacks switching and repeating. */
/* Domains past OBJ: the varint after the tag, an munmap's length, and the
 * header's native flag, through the sink and back. */
static void test_capture_domains(void)
{
    const char *path = tc_path("domains.msc");
    const uint64_t numpy = MSC_DOMAIN_FOREIGN + MSC_NUMPY_DOMAIN, top = MSC_DOMAIN_MAX;
    msc_header_t h;
    tc_capture_t c;
    tc_default_header(&h);
    h.native = 1;
    CHECK_EQ(tc_open(&c, path, &h), 0);
    if (!c.sink) return;
    tc_alloc(&c, MSC_DOMAIN_NATIVE, 0x5000, 100, 0);
    tc_alloc(&c, numpy, 0x5000, 800, 0);
    tc_alloc(&c, MSC_DOMAIN_MMAP, 0x7f0000000000, 1 << 20, 0);
    tc_unmap(&c, 0x7f0000001000, 4096);
    tc_realloc(&c, MSC_DOMAIN_NATIVE, 0x5000, 0x6003, 7, 0);
    tc_free(&c, numpy, 0x5000);
    tc_alloc(&c, top, 0x9000, 1, 0);
    tc_free(&c, MSC_DOMAIN_OBJ, 0x9000);
    CHECK_EQ(msc_sink_close(c.sink, 1000), 0);

    tc_events_t ev = {.skip_rss = 1};
    msc_error_info_t info;
    CHECK_EQ(tc_replay(path, &ev, &info), 0);
    const struct {
        int kind;
        uint64_t domain, addr, size;
    } want[] = {
        {MSC_REC_ALLOC, MSC_DOMAIN_NATIVE, 0x5000, 100},
        {MSC_REC_ALLOC, numpy, 0x5000, 800},
        {MSC_REC_ALLOC, MSC_DOMAIN_MMAP, 0x7f0000000000, 1 << 20},
        {MSC_REC_FREE, MSC_DOMAIN_MMAP, 0x7f0000001000, 4096},
        {MSC_REC_REALLOC, MSC_DOMAIN_NATIVE, 0x6003, 7},
        {MSC_REC_FREE, numpy, 0x5000, 0},
        {MSC_REC_ALLOC, top, 0x9000, 1},
        {MSC_REC_FREE, MSC_DOMAIN_OBJ, 0x9000, 0},
    };
    CHECK_EQ(ev.n, 8);
    for (size_t i = 0; i < 8 && i < ev.n; i++) {
        CHECK_EQ(ev.e[i].ev.kind, want[i].kind);
        CHECK_EQ(ev.e[i].ev.domain, want[i].domain);
        CHECK_EQ(ev.e[i].ev.addr, want[i].addr);
        CHECK_EQ(ev.e[i].ev.size, want[i].size);
    }
    if (ev.n > 4) CHECK_EQ(ev.e[4].ev.old_addr, 0x5000);
    free(ev.e);

    int err;
    msc_replay_t *r = msc_replay_open(path, 0, &err, &info);
    CHECK(r != NULL);
    if (r) CHECK_EQ(msc_replay_header(r)->native, 1);
    msc_replay_free(r);
}

static void test_capture_many_records(void)
{
    enum { N = 60000, STACKS = 50 };
    const char *path = tc_path("many.msc");
    msc_header_t h;
    tc_capture_t c;
    tc_default_header(&h);
    CHECK_EQ(tc_open(&c, path, &h), 0);
    if (!c.sink) return;

    static uint64_t addr[N], size[N];
    static uint32_t stack[N];
    uint32_t nodes[STACKS + 1] = {0};
    for (int i = 1; i <= STACKS; i++)
        nodes[i] = tc_node(&c, nodes[i / 2], (uint32_t)i, (uint32_t)i);
    uint64_t seed = 42;
    for (int i = 0; i < N; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        addr[i] = 0x7f0000000000ull + (seed >> 20) % (1ull << 36) * ((seed & 1) ? 16 : 1);
        size[i] = (seed >> 40) >> (seed >> 58);
        stack[i] = (seed & 6) ? stack[i ? i - 1 : 0] : nodes[(seed >> 8) % (STACKS + 1)];
        if (i % 3 == 2) tc_free(&c, MSC_DOMAIN_MEM, addr[i]);
        else tc_alloc(&c, MSC_DOMAIN_OBJ, addr[i], size[i], stack[i]);
    }
    CHECK_EQ(msc_sink_close(c.sink, 1), 0);

    tc_events_t ev = {.skip_rss = 1};
    msc_error_info_t info;
    CHECK_EQ(tc_replay(path, &ev, &info), 0);
    CHECK_EQ(ev.n, N);
    int bad = 0;
    for (int i = 0; i < N && i < (int)ev.n; i++) {
        const msc_event_t *e = &ev.e[i].ev;
        int is_free = i % 3 == 2;
        if (e->kind != (is_free ? MSC_REC_FREE : MSC_REC_ALLOC) || e->addr != addr[i] ||
            (!is_free && (e->size != size[i] || e->stack != stack[i])))
            bad++;
    }
    CHECK_EQ(bad, 0);
    free(ev.e);
}

/* CPU records: their own thread, the allocations' stack delta shared both
 * ways, the native flag, the age; and the analysis' time views. */
static void test_capture_cpu(void)
{
    const char *path = tc_path("cpu.msc");
    msc_header_t h;
    tc_capture_t c;
    tc_default_header(&h);
    CHECK_EQ(tc_open(&c, path, &h), 0);
    if (!c.sink) return;
    tc_string(&c, 1, "app.py");
    tc_string(&c, 2, "main");
    tc_code(&c, 0, 1, 2, 10, table0, sizeof(table0));
    uint32_t a = tc_node(&c, 0, 0, 4), b = tc_node(&c, a, 0, 2);
    tc_alloc(&c, MSC_DOMAIN_OBJ, A1, 64, a);
    tc_cpu(&c, TC_TIME0 + 5000, 300, 3, a, 10000000, 10000000, 0); /* same stack as the alloc */
    tc_cpu(&c, TC_TIME0 + 6000, 0, 0, b, 2000000, 10000000, 1);
    tc_alloc(&c, MSC_DOMAIN_OBJ, A2, 32, b);                      /* same stack as the sample */
    tc_cpu(&c, TC_TIME0 + 6000, 0, 1, 0, 0, 500000000, 0);        /* no Python frame */
    CHECK_EQ(msc_sink_close(c.sink, 999999), 0);

    tc_events_t ev = {.skip_rss = 1};
    msc_error_info_t info;
    CHECK_EQ(tc_replay(path, &ev, &info), 0);
    CHECK_EQ(ev.n, 5);
    if (ev.n == 5) {
        const msc_event_t *s1 = &ev.e[1].ev, *s2 = &ev.e[2].ev, *s3 = &ev.e[4].ev;
        CHECK_EQ(s1->kind, MSC_REC_CPU);
        CHECK_EQ(s1->thread, 3);
        CHECK_EQ(s1->stack, 1);
        CHECK_EQ(s1->value[0], 10000000);
        CHECK_EQ(s1->value[2], 0);
        CHECK_EQ(s1->value[3], 300);
        CHECK_EQ(s1->time_ns, TC_TIME0 + 5000);
        CHECK_EQ(s2->stack, 2);
        CHECK_EQ(s2->value[2], 1);
        CHECK_EQ(ev.e[3].ev.stack, 2);
        CHECK_EQ(ev.e[3].ev.thread, 0);
        CHECK_EQ(s3->thread, 1);
        CHECK_EQ(s3->stack, 0);
        CHECK_EQ(s3->value[1], 500000000);
    }
    free(ev.e);

    msc_analysis_t *an = msc_analysis_new();
    msc_replay_t *r = NULL;
    CHECK_EQ(msc_analyse_file(path, an, &r, &info, NULL, NULL), 0);
    const msc_summary_t *sum = msc_analysis_summary(an);
    CHECK_EQ(sum->cpu_samples, 3);
    CHECK_EQ(sum->cpu_ns, 12000000);
    CHECK_EQ(sum->native_cpu_ns, 2000000);
    CHECK_EQ(sum->wall_ns, 520000000);
    CHECK_EQ(msc_analysis_node(an, MSC_VIEW_CPU, 1).bytes, 10000000);
    CHECK_EQ(msc_analysis_node(an, MSC_VIEW_CPU, 2).count, 1);
    CHECK_EQ(msc_analysis_node(an, MSC_VIEW_CPU, 0).count, 0);  /* no CPU time: not counted */
    CHECK_EQ(msc_analysis_node(an, MSC_VIEW_WALL, 0).count, 1);
    CHECK_EQ(msc_analysis_node(an, MSC_VIEW_TOTAL, 2).bytes, 32); /* memory views untouched */
    msc_replay_free(r);
    msc_analysis_free(an);
}

int main(void)
{
    test_capture_cpu();
    test_header_round_trip();
    test_header_many_arguments();
    test_capture_domains();
    test_header_unknown_and_bad_fields();
    test_header_damage();
    test_linetable_forms();
    test_linetable_malformed();
    test_capture_every_kind();
    test_capture_many_records();
    tc_cleanup();
    return check_done("format");
}
