/* Frame numbering shared by the exports that write each distinct frame
 * once and refer to it by number (speedscope's shared frames, pprof's
 * functions and locations, the HTML report's frame table): frames are
 * numbered 0, 1, 2 ... in the order first seen. The strings are the
 * symbols' interned ones, so equal frames share pointers and compare by
 * address. */
#include "memscope/common.h"
#include "export.h"

void msc__frame_ids_init(msc_frame_ids_t *f)
{
    f->frames = NULL;
    f->cap = 0;
    msc_table_init(&f->index);
}

void msc__frame_ids_release(msc_frame_ids_t *f)
{
    msc_free(f->frames);
    msc_table_release(&f->index);
    msc__frame_ids_init(f);
}

static uint64_t hash(const char *function, const char *file, uint32_t line)
{
    return (uintptr_t)function * 31 ^ (uintptr_t)file ^ line;
}

static uint64_t hash_of(const void *ctx, uint32_t e)
{
    const msc_frame_key_t *x = &((const msc_frame_ids_t *)ctx)->frames[e];
    return hash(x->function, x->file, x->line);
}

/* The slot frame k is at, or the empty one it would go in. */
static size_t slot_of(const msc_frame_ids_t *f, const msc_frame_key_t *k, int64_t *id)
{
    size_t i = msc_table_slot(&f->index, hash(k->function, k->file, k->line));
    *id = -1;
    for (uint32_t e; (e = msc_table_entry(&f->index, i)) != MSC_TABLE_EMPTY;
         i = msc_table_next(&f->index, i)) {
        const msc_frame_key_t *x = &f->frames[e];
        if (x->function == k->function && x->file == k->file && x->line == k->line) {
            *id = e;
            break;
        }
    }
    return i;
}

int64_t msc__frame_find(const msc_frame_ids_t *f, const char *function, const char *file,
                        uint32_t line)
{
    if (!f->index.slots) return -1;
    msc_frame_key_t k = {function, file, line};
    int64_t id;
    slot_of(f, &k, &id);
    return id;
}

int64_t msc__frame_number(msc_frame_ids_t *f, const char *function, const char *file, uint32_t line)
{
    msc_frame_key_t k = {function, file, line};
    int64_t id;
    if (msc_table_reserve(&f->index, hash_of, f) < 0) return MSC_ENOMEM;
    size_t i = slot_of(f, &k, &id);
    if (id >= 0) return id;
    size_t n = f->index.n;
    if (n >= UINT32_MAX - 1 ||
        msc_array_grow((void **)&f->frames, &f->cap, n + 1, sizeof(msc_frame_key_t)) < 0)
        return MSC_ENOMEM;
    f->frames[n] = k;
    return msc_table_add(&f->index, i);
}
