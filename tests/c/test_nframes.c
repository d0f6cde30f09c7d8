/* Native frames in the reader: crafted captures with MODULE, NATIVE_NODE
 * and NATIVE_STACK extension records. An allocation's stack is its Python
 * stack extended by its native frames, outermost first, named from the
 * object (a missing file is named object+0xoffset); an unknown extension
 * subkind is skipped; every malformed record is refused as corrupt. */
#include <string.h>

#include "capture_util.h"
#include "check.h"
#include "memscope/nframes.h"
#include "memscope/replay.h"
#include "memscope/symbols.h"

typedef struct rec {
    uint8_t b[512];
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

static rec_t *bytes(rec_t *r, const void *p, size_t n)
{
    vi(r, n);
    memcpy(r->b + r->n, p, n);
    r->n += n;
    return r;
}

/* An extension record of subkind kind whose body is body. */
static rec_t *ext(rec_t *r, uint64_t kind, const rec_t *body)
{
    vi(vi(u8(r, MSC_REC_EXT), kind), body->n);
    memcpy(r->b + r->n, body->b, body->n);
    r->n += body->n;
    return r;
}

static void module(rec_t *r, uint64_t lo, uint64_t hi, const char *path)
{
    rec_t b = {0};
    vi(vi(vi(&b, lo), hi), lo);
    bytes(bytes(&b, "\x01\x02\x03\x04", 4), path, strlen(path));
    ext(r, MSC_EXT_MODULE, &b);
}

static void node(rec_t *r, uint64_t distance, int64_t addr_delta)
{
    rec_t b = {0};
    vi(vi(&b, distance), msc_zigzag(addr_delta));
    ext(r, MSC_EXT_NATIVE_NODE, &b);
}

static void stack(rec_t *r, int64_t delta)
{
    rec_t b = {0};
    vi(&b, msc_zigzag(delta));
    ext(r, MSC_EXT_NATIVE_STACK, &b);
}

typedef struct seen {
    uint32_t stack;
    int allocs;
} seen_t;

static int on_event(void *arg, const msc_event_t *ev)
{
    seen_t *s = arg;
    if (ev->kind == MSC_REC_ALLOC) {
        s->stack = ev->stack;
        s->allocs++;
    }
    return 0;
}

/* Writes side then main chunk and replays them: the error, and in *r the
 * replay (caller frees) when it opened. */
static int replay(const rec_t *side, const rec_t *main_, seen_t *seen, msc_replay_t **out)
{
    static tc_craft_t f;
    const char *path = tc_path("nframes.msc");
    tc_craft_begin(&f);
    if (side->n) tc_craft_chunk(&f, MSC_STREAM_SIDE, 0, side->b, side->n);
    /* Chunk sequence numbers count the chunks of both streams. */
    tc_craft_chunk(&f, MSC_STREAM_MAIN, side->n ? 1 : 0, main_->b, main_->n);
    tc_write_file(path, f.data, f.len);
    int err;
    msc_error_info_t info = {0, NULL};
    msc_replay_t *r = msc_replay_open(path, 0, &err, &info);
    if (!r) return err;
    memset(seen, 0, sizeof(*seen));
    err = msc_replay_run(r, on_event, seen, &info);
    if (err) CHECK(info.what != NULL);
    if (out) *out = r;
    else msc_replay_free(r);
    return err;
}

static void test_frames_extend_the_python_stack(void)
{
    rec_t side = {0}, m = {0};
    module(&side, 0x10000, 0x20000, "/nonexistent/libz.so");
    vi(vi(vi(u8(&m, MSC_REC_NODE), 1), 0), 0);  /* Python node 1, code 0 */
    node(&m, 1, 0x10100);                        /* native 1: outermost */
    node(&m, 1, 0x50);                           /* native 2 below it: 0x10150 */
    stack(&m, 2);
    rec_t unknown = {0};
    vi(vi(&unknown, 7), 7);
    ext(&m, 99, &unknown);                       /* a later subkind: skipped */
    vi(vi(vi(u8(&m, MSC_REC_ALLOC), 64), 100), msc_zigzag(1));
    seen_t seen;
    msc_replay_t *r = NULL;
    CHECK_EQ(replay(&side, &m, &seen, &r), 0);
    CHECK_EQ(seen.allocs, 1);
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(r);
    CHECK_EQ(msc_symbols_depth(sym, seen.stack), 3u);
    msc_frame_t f;
    msc_symbols_frame(sym, seen.stack, &f);
    CHECK(strcmp(f.function, "libz.so+0x14f") == 0);  /* the call: the byte before */
    CHECK(strcmp(f.file, "/nonexistent/libz.so") == 0);
    CHECK_EQ(f.line, 0u);
    uint32_t parent = msc_symbols_parent(sym, seen.stack);
    msc_symbols_frame(sym, parent, &f);
    CHECK(strcmp(f.function, "libz.so+0xff") == 0);
    CHECK_EQ(msc_symbols_parent(sym, parent), 1u);    /* under the Python frame */
    msc_replay_free(r);
}

static void test_an_address_outside_every_module(void)
{
    rec_t side = {0}, m = {0};
    node(&m, 1, 0x7777);
    stack(&m, 1);
    vi(vi(vi(u8(&m, MSC_REC_ALLOC), 64), 100), 0);
    seen_t seen;
    msc_replay_t *r = NULL;
    CHECK_EQ(replay(&side, &m, &seen, &r), 0);
    msc_frame_t f;
    msc_symbols_frame((msc_symbols_t *)msc_replay_symbols(r), seen.stack, &f);
    CHECK(strcmp(f.function, "0x7776") == 0);
    CHECK(strcmp(f.file, "<native>") == 0);
    msc_replay_free(r);
}

static void expect_corrupt(const rec_t *side, const rec_t *m, const char *label)
{
    seen_t seen;
    int err = replay(side, m, &seen, NULL);
    if (err != MSC_ECORRUPT) fprintf(stderr, "%s: error %d\n", label, err);
    CHECK_EQ(err, MSC_ECORRUPT);
}

static void test_malformed(void)
{
    rec_t none = {0}, m = {0}, b = {0};
    module(&m, 0x1000, 0x2000, "/lib/x.so");
    expect_corrupt(&none, &m, "module on the main stream");
    rec_t side = {0};
    module(&side, 0x2000, 0x1000, "/lib/x.so");
    m.n = 0;
    vi(vi(vi(u8(&m, MSC_REC_ALLOC), 64), 100), 0);
    expect_corrupt(&side, &m, "module range upside down");
    side.n = b.n = 0;
    vi(vi(vi(vi(&b, 1), 2), 1), MSC_MAX_BUILD_ID + 1);
    ext(&side, MSC_EXT_MODULE, &b);
    expect_corrupt(&side, &m, "build id too long");
    side.n = b.n = 0;
    vi(vi(vi(&b, 1), 2), 1);
    bytes(bytes(&b, "", 0), "a\0b", 3);
    ext(&side, MSC_EXT_MODULE, &b);
    expect_corrupt(&side, &m, "path with a NUL");
    m.n = 0;
    node(&m, 0, 1);
    expect_corrupt(&none, &m, "node distance 0");
    m.n = 0;
    node(&m, 2, 1);
    expect_corrupt(&none, &m, "node parent ahead");
    m.n = 0;
    node(&m, 1, 1);
    stack(&m, 2);
    expect_corrupt(&none, &m, "stack beyond the nodes");
    m.n = 0;
    stack(&m, -1);
    expect_corrupt(&none, &m, "stack wraps");
    m.n = 0;
    vi(vi(u8(&m, MSC_REC_EXT), MSC_EXT_NATIVE_NODE), MSC_EXT_MAX_BODY + 1);
    expect_corrupt(&none, &m, "body too long");
    m.n = 0;
    vi(vi(u8(&m, MSC_REC_EXT), MSC_EXT_NATIVE_NODE), 40);
    expect_corrupt(&none, &m, "body cut short");
    m.n = b.n = 0;
    vi(&b, 1);                                  /* node without its address */
    ext(&m, MSC_EXT_NATIVE_NODE, &b);
    expect_corrupt(&none, &m, "node body cut short");
}

int main(void)
{
    test_frames_extend_the_python_stack();
    test_an_address_outside_every_module();
    test_malformed();
    tc_cleanup();
    return check_done("nframes");
}
