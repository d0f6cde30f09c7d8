/* The cold paths' open-addressing table and array growth (table.h), and
 * the exports' frame numbering built on them: every entry found again
 * after the table grew many times, entries whose hashes all collide, the
 * first-seen numbering of frames, and out of memory at each step leaving
 * the table as it was. */
#include <stdlib.h>
#include <string.h>

#include "capture_util.h"
#include "check.h"
#include "memscope/table.h"
#include "../../src/report/export.h"

typedef struct set {
    uint64_t *keys;            /* entry e's key */
    size_t n, cap;
    msc_table_t t;
    int collide;               /* every key hashes alike */
    uint64_t probes;           /* slots looked at, over all lookups */
} set_t;

static uint64_t key_hash(const set_t *s, uint64_t key)
{
    return s->collide ? 7 : key;
}

static uint64_t entry_hash(const void *ctx, uint32_t e)
{
    const set_t *s = ctx;
    return key_hash(s, s->keys[e]);
}

/* The entry of key, added when new; -1 on OOM. */
static int64_t find_or_add(set_t *s, uint64_t key, int *added)
{
    *added = 0;
    if (msc_table_reserve(&s->t, entry_hash, s) < 0) return -1;
    size_t i = msc_table_slot(&s->t, key_hash(s, key));
    for (uint32_t e; (e = msc_table_entry(&s->t, i)) != MSC_TABLE_EMPTY;
         i = msc_table_next(&s->t, i)) {
        s->probes++;
        if (s->keys[e] == key) return e;
    }
    if (msc_array_grow((void **)&s->keys, &s->cap, s->n + 1, sizeof(uint64_t)) < 0) return -1;
    s->keys[s->n] = key;
    msc_table_add(&s->t, i);
    *added = 1;
    return (int64_t)s->n++;
}

static void test_grow_and_find(int collide, uint32_t count)
{
    set_t s = {NULL, 0, 0, {0}, collide, 0};
    msc_table_init(&s.t);
    int added, ok = 1;
    for (uint32_t i = 0; i < count; i++) {
        ok &= find_or_add(&s, (uint64_t)i * 2654435761u + 1, &added) == i && added;
        ok &= s.t.n * 2 <= s.t.mask + 1;        /* at most half full */
    }
    for (uint32_t i = 0; i < count; i++)
        ok &= find_or_add(&s, (uint64_t)i * 2654435761u + 1, &added) == i && !added;
    CHECK(ok);
    CHECK_EQ(s.t.n, count);
    CHECK(s.cap >= count);
    msc_table_release(&s.t);
    CHECK(s.t.slots == NULL && s.t.n == 0);
    msc_free(s.keys);
}

/* Keys that differ only in their high 32 bits (an id shifted left, as the
 * callers pack pairs) spread out: short probe chains, not one. */
static void test_high_bits_spread(void)
{
    set_t s = {NULL, 0, 0, {0}, 0, 0};
    msc_table_init(&s.t);
    int added;
    for (uint64_t i = 1; i <= 20000; i++) find_or_add(&s, i << 32 | 7, &added);
    s.probes = 0;
    for (uint64_t i = 1; i <= 20000; i++) find_or_add(&s, i << 32 | 7, &added);
    CHECK(s.probes < 3 * 20000);
    msc_table_release(&s.t);
    msc_free(s.keys);
}

static void test_presize(void)
{
    msc_table_t t;
    msc_table_init(&t);
    CHECK_EQ(msc_table_presize(&t, 5000), 0);
    CHECK(t.mask + 1 >= 10002);
    size_t mask = t.mask;
    CHECK_EQ(msc_table_reserve(&t, NULL, NULL), 0); /* no growth, so no hashing */
    CHECK_EQ(t.mask, mask);
    msc_table_release(&t);
}

/* A failed growth leaves everything found as before. */
static void test_out_of_memory(void)
{
    set_t s = {NULL, 0, 0, {0}, 0, 0};
    msc_table_init(&s.t);
    int added;
    for (uint64_t k = 1; k <= 600; k++) find_or_add(&s, k, &added);
    size_t mask = s.t.mask;
    tc_use_allocator(1, 0);                     /* the next allocation fails */
    int64_t got = 0;
    for (uint64_t k = 601; k <= 2000 && got >= 0; k++) got = find_or_add(&s, k, &added);
    tc_use_allocator(0, 0);
    CHECK_EQ(got, -1);
    CHECK_EQ(s.t.mask, mask);
    int ok = 1;
    for (uint64_t k = 1; k <= s.n; k++)
        ok &= find_or_add(&s, k, &added) == (int64_t)k - 1 && !added;
    CHECK(ok);
    msc_table_release(&s.t);
    msc_free(s.keys);
}

static void test_array_grow(void)
{
    int *a = NULL;
    size_t cap = 0;
    CHECK_EQ(msc_array_grow((void **)&a, &cap, 1, sizeof(int)), 0);
    CHECK_EQ(cap, 1024);
    CHECK_EQ(msc_array_grow((void **)&a, &cap, 1024, sizeof(int)), 0);
    CHECK_EQ(cap, 1024);
    CHECK_EQ(msc_array_grow((void **)&a, &cap, 5000, sizeof(int)), 0);
    CHECK_EQ(cap, 8192);
    a[4999] = 1;
    CHECK_EQ(msc_array_grow((void **)&a, &cap, SIZE_MAX / 2, sizeof(int)), MSC_ENOMEM);
    CHECK_EQ(cap, 8192);
    msc_free(a);
}

/* Frames numbered first seen first; equal frames (same pointers) share. */
static void test_frame_ids(void)
{
    static const char *names[] = {"f", "g", "h"};
    static const char *files[] = {"a.py", "b.py"};
    msc_frame_ids_t f;
    msc__frame_ids_init(&f);
    CHECK_EQ(msc__frame_find(&f, names[0], files[0], 1), -1);
    int ok = 1;
    for (uint32_t line = 0; line < 2000; line++)
        for (int k = 0; k < 6; k++)
            ok &= msc__frame_number(&f, names[k % 3], files[k % 2], line) == (int64_t)line * 6 + k;
    CHECK(ok);
    CHECK_EQ(msc__frame_count(&f), 12000);
    CHECK_EQ(msc__frame_number(&f, names[1], files[1], 7), 7 * 6 + 1);
    CHECK_EQ(msc__frame_find(&f, names[2], files[0], 1999), 1999 * 6 + 2);
    CHECK_EQ(msc__frame_find(&f, names[2], files[0], 2000), -1);
    CHECK(f.frames[13].function == names[1] && f.frames[13].file == files[1] &&
          f.frames[13].line == 2);
    msc__frame_ids_release(&f);
}

int main(void)
{
    test_grow_and_find(0, 100000);
    test_grow_and_find(1, 3000);
    test_high_bits_spread();
    test_presize();
    test_out_of_memory();
    test_array_grow();
    test_frame_ids();
    return check_done("table");
}
