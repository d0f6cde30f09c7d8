/* `export --format speedscope`: the speedscope file format
 * (https://www.speedscope.app/file-format-schema.json). One "sampled"
 * profile whose unit is bytes: each distinct frame path that allocated is a
 * sample, weighted by its bytes. Frames are shared by (function, file, line)
 * so speedscope's "left heavy" and "sandwich" views add a function's bytes
 * up across all its callers. A time view (run --cpu) is the same profile
 * in nanoseconds: each stack weighted by the time its samples stand for. */
#include <stdint.h>

#include "memscope/common.h"
#include "memscope/export.h"
#include "export.h"

typedef struct frames {
    const msc_tree_t *tree;
    uint32_t *index;           /* per tree node: its shared frame */
    uint32_t *slots;           /* tree node + 1 of each distinct frame; 0 = empty */
    size_t mask;
    uint32_t n;                /* distinct frames */
} frames_t;

static int same_frame(const msc_tree_node_t *a, const msc_tree_node_t *b)
{
    return a->function == b->function && a->file == b->file && a->line == b->line;
}

/* Numbers the distinct frames in tree order (the tree's strings are the
 * symbols' interned ones, so equal frames share pointers). */
static int number_frames(frames_t *f)
{
    uint32_t size = msc_tree_size(f->tree);
    f->mask = 1;
    while (f->mask < (size_t)size * 2) f->mask = f->mask * 2 + 1;
    f->index = msc_malloc((size_t)size * sizeof(uint32_t));
    f->slots = msc_calloc(f->mask + 1, sizeof(uint32_t));
    if (!f->index || !f->slots) return MSC_ENOMEM;
    for (uint32_t id = 1; id < size; id++) {
        const msc_tree_node_t *x = msc_tree_node(f->tree, id);
        uint64_t h = ((uintptr_t)x->function ^ (uintptr_t)x->file * 31 ^ x->line) *
                     0x9E3779B97F4A7C15ull;
        size_t i = (size_t)(h >> 20) & f->mask;
        while (f->slots[i] && !same_frame(msc_tree_node(f->tree, f->slots[i] - 1), x))
            i = (i + 1) & f->mask;
        if (!f->slots[i]) {
            f->slots[i] = id + 1;
            f->index[id] = f->n++;
        } else {
            f->index[id] = f->index[f->slots[i] - 1];
        }
    }
    return 0;
}

static void write_frames(FILE *out, const frames_t *f)
{
    uint32_t size = msc_tree_size(f->tree), written = 0;
    for (uint32_t id = 1; id < size; id++) {
        if (f->index[id] != written) continue; /* not a frame's first node */
        const msc_tree_node_t *x = msc_tree_node(f->tree, id);
        fputs(written++ ? ",\n{\"name\": " : "\n{\"name\": ", out);
        msc_json_string(out, x->function);
        if (*x->file) {
            fputs(", \"file\": ", out);
            msc_json_string(out, x->file);
        }
        if (x->line) fprintf(out, ", \"line\": %u", x->line);
        fputc('}', out);
    }
}

static void write_samples(FILE *out, const frames_t *f, uint32_t *path)
{
    uint32_t size = msc_tree_size(f->tree);
    int first = 1;
    fputs("\"samples\": [", out);
    for (uint32_t id = 1; id < size; id++) {
        if (!msc_tree_node(f->tree, id)->self_bytes) continue;
        uint32_t n = 0;
        for (uint32_t x = id; x; x = msc_tree_node(f->tree, x)->parent) path[n++] = x;
        fputs(first ? "\n[" : ",\n[", out);
        first = 0;
        while (n--) fprintf(out, n ? "%u," : "%u", f->index[path[n]]);
        fputc(']', out);
    }
    fputs("],\n\"weights\": [", out);
    first = 1;
    for (uint32_t id = 1; id < size; id++) {
        uint64_t b = msc_tree_node(f->tree, id)->self_bytes;
        if (!b) continue;
        fprintf(out, first ? "%llu" : ",%llu", (unsigned long long)b);
        first = 0;
    }
    fputc(']', out);
}

static void write_profile(const msc_report_ctx_t *ctx, FILE *out, const frames_t *f,
                          msc_view_t view, uint32_t *path)
{
    fprintf(out, "{\"$schema\": \"https://www.speedscope.app/file-format-schema.json\",\n"
                 "\"exporter\": \"memscope %s\", \"name\": ", msc_version);
    msc_json_string(out, ctx->path);
    fputs(", \"activeProfileIndex\": 0,\n\"shared\": {\"frames\": [", out);
    write_frames(out, f);
    static const char *const names[] = {"live at peak", "leaked at exit", "total allocated",
                                        "CPU time", "wall time", "native CPU time"};
    int timed = view >= MSC_VIEW_CPU;
    fprintf(out, "]},\n\"profiles\": [{\"type\": \"sampled\", \"name\": \"%s\", "
                 "\"unit\": \"%s\", \"startValue\": 0, \"endValue\": %llu,\n",
            names[view < MSC_VIEW_ALL ? view : MSC_VIEW_TOTAL], timed ? "nanoseconds" : "bytes",
            (unsigned long long)msc_tree_node(f->tree, 0)->bytes);
    write_samples(out, f, path);
    fputs("}]}\n", out);
}

int msc__export_speedscope(const msc_report_ctx_t *ctx, FILE *out, msc_view_t view)
{
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(ctx->replay);
    frames_t f = {msc_tree_of_view(sym, ctx->analysis, view, 0), NULL, NULL, 0, 0};
    if (!f.tree) return MSC_ENOMEM;
    uint32_t *path = msc_malloc(((size_t)msc_tree_max_depth(f.tree) + 1) * sizeof(uint32_t));
    int err = path ? number_frames(&f) : MSC_ENOMEM;
    if (!err) write_profile(ctx, out, &f, view, path);
    msc_free(path);
    msc_free(f.index);
    msc_free(f.slots);
    msc_tree_free((msc_tree_t *)f.tree);
    return err ? err : ferror(out) ? MSC_EIO : 0;
}
