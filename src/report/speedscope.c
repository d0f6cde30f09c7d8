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
    msc_frame_ids_t ids;       /* the distinct frames, in tree order */
} frames_t;

/* Numbers the distinct frames in tree order. */
static int number_frames(frames_t *f)
{
    uint32_t size = msc_tree_size(f->tree);
    f->index = msc_malloc((size_t)size * sizeof(uint32_t));
    if (!f->index) return MSC_ENOMEM;
    for (uint32_t id = 1; id < size; id++) {
        const msc_tree_node_t *x = msc_tree_node(f->tree, id);
        int64_t k = msc__frame_number(&f->ids, x->function, x->file, x->line);
        if (k < 0) return MSC_ENOMEM;
        f->index[id] = (uint32_t)k;
    }
    return 0;
}

static void write_frames(msc_json_t *j, const frames_t *f)
{
    msc_json_array_begin(j, "frames");
    for (size_t k = 0; k < msc__frame_count(&f->ids); k++) {
        const msc_frame_key_t *x = &f->ids.frames[k];
        msc_json_newline(j, 0);
        msc_json_object_begin(j, NULL);
        msc_json_str(j, "name", x->function);
        if (*x->file) msc_json_str(j, "file", x->file);
        if (x->line) msc_json_u64(j, "line", x->line);
        msc_json_end(j);
    }
    msc_json_end(j);
}

/* The samples (each a path of frame numbers, one a line) and their
 * weights, without spaces: they are most of the file. */
static void write_samples(msc_json_t *j, const frames_t *f, uint32_t *path)
{
    uint32_t size = msc_tree_size(f->tree);
    msc_json_array_begin(j, "samples");
    msc_json_compact(j, 1);
    for (uint32_t id = 1; id < size; id++) {
        if (!msc_tree_node(f->tree, id)->self_bytes) continue;
        uint32_t n = 0;
        for (uint32_t x = id; x; x = msc_tree_node(f->tree, x)->parent) path[n++] = x;
        msc_json_newline(j, 0);
        msc_json_array_begin(j, NULL);
        while (n--) msc_json_u64(j, NULL, f->index[path[n]]);
        msc_json_end(j);
    }
    msc_json_compact(j, 0);
    msc_json_end(j);
    msc_json_newline(j, 0);
    msc_json_array_begin(j, "weights");
    msc_json_compact(j, 1);
    for (uint32_t id = 1; id < size; id++) {
        uint64_t b = msc_tree_node(f->tree, id)->self_bytes;
        if (b) msc_json_u64(j, NULL, b);
    }
    msc_json_compact(j, 0);
    msc_json_end(j);
}

static void write_profile(const msc_report_ctx_t *ctx, FILE *out, const frames_t *f,
                          msc_view_t view, uint32_t *path)
{
    static const char *const names[] = {"live at peak", "leaked at exit", "total allocated",
                                        "CPU time",     "wall time",      "native CPU time"};
    char exporter[64];
    snprintf(exporter, sizeof(exporter), "memscope %s", msc_version);
    msc_json_t j;
    msc_json_init(&j, out, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_str(&j, "$schema", "https://www.speedscope.app/file-format-schema.json");
    msc_json_newline(&j, 0);
    msc_json_str(&j, "exporter", exporter);
    msc_json_str(&j, "name", ctx->path);
    msc_json_u64(&j, "activeProfileIndex", 0);
    msc_json_newline(&j, 0);
    msc_json_object_begin(&j, "shared");
    write_frames(&j, f);
    msc_json_end(&j);
    msc_json_newline(&j, 0);
    msc_json_array_begin(&j, "profiles");
    msc_json_object_begin(&j, NULL);
    msc_json_str(&j, "type", "sampled");
    msc_json_str(&j, "name", names[view < MSC_VIEW_ALL ? view : MSC_VIEW_TOTAL]);
    msc_json_str(&j, "unit", view >= MSC_VIEW_CPU ? "nanoseconds" : "bytes");
    msc_json_u64(&j, "startValue", 0);
    msc_json_u64(&j, "endValue", msc_tree_node(f->tree, 0)->bytes);
    msc_json_newline(&j, 0);
    write_samples(&j, f, path);
    msc_json_end(&j);
    msc_json_end(&j);
    msc_json_end(&j);
    (void)msc_json_finish(&j); /* the caller checks the stream */
}

int msc__export_speedscope(const msc_report_ctx_t *ctx, FILE *out, msc_view_t view)
{
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(ctx->replay);
    frames_t f = {msc_tree_of_view(sym, ctx->analysis, view, 0), NULL, {0}};
    if (!f.tree) return MSC_ENOMEM;
    msc__frame_ids_init(&f.ids);
    uint32_t *path = msc_malloc(((size_t)msc_tree_max_depth(f.tree) + 1) * sizeof(uint32_t));
    int err = path ? number_frames(&f) : MSC_ENOMEM;
    if (!err) write_profile(ctx, out, &f, view, path);
    msc_free(path);
    msc_free(f.index);
    msc__frame_ids_release(&f.ids);
    msc_tree_free((msc_tree_t *)f.tree);
    return err ? err : ferror(out) ? MSC_EIO : 0;
}
