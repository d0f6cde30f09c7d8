/* `memscope export`: picks the writer for a format, and writes the JSON one
 * itself: the whole call tree of a view, every frame with its inclusive and
 * self bytes and allocation counts, children largest first. The schema is
 * documented in docs/reports.md. */
#include "memscope/common.h"
#include "memscope/export.h"
#include "export.h"

void msc__json_frame(msc_json_t *j, const msc_tree_node_t *x)
{
    msc_json_str(j, "function", x->function);
    msc_json_str(j, "file", *x->file ? x->file : NULL);
    if (x->line) msc_json_u64(j, "line", x->line);
    else msc_json_null(j, "line");
}

/* A node's object up to its open children array, on a line of its own. */
static void open_node(msc_json_t *j, const msc_tree_node_t *x)
{
    msc_json_newline(j, 0);
    msc_json_object_begin(j, NULL);
    msc__json_frame(j, x);
    msc_json_u64(j, "bytes", x->bytes);
    msc_json_u64(j, "allocations", x->count);
    msc_json_u64(j, "self_bytes", x->self_bytes);
    msc_json_u64(j, "self_allocations", x->self_count);
    msc_json_array_begin(j, "children");
}

/* Depth-first through an explicit stack: trees can be thousands deep. */
static int write_tree(msc_json_t *j, const msc_tree_t *t)
{
    typedef struct item {
        uint32_t node, next;
    } item_t;
    item_t *stack = msc_malloc(((size_t)msc_tree_max_depth(t) + 1) * sizeof(item_t));
    if (!stack) return MSC_ENOMEM;
    size_t top = 0;
    msc_json_member(j, "tree");
    open_node(j, msc_tree_node(t, 0));
    stack[top++] = (item_t){0, 0};
    while (top) {
        item_t *it = &stack[top - 1];
        uint32_t n;
        const uint32_t *kids = msc_tree_children(t, it->node, &n);
        if (it->next == n) {
            msc_json_end(j);
            msc_json_end(j);
            top--;
            continue;
        }
        uint32_t child = kids[it->next++];
        open_node(j, msc_tree_node(t, child));
        stack[top++] = (item_t){child, 0};
    }
    msc_free(stack);
    return 0;
}

static int export_json(const msc_report_ctx_t *ctx, FILE *out, msc_view_t view)
{
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(ctx->replay);
    msc_tree_t *t = msc_tree_of_view(sym, ctx->analysis, view, 0);
    if (!t) return MSC_ENOMEM;
    const msc_tree_node_t *root = msc_tree_node(t, 0);
    msc_json_t j;
    msc_json_init(&j, out, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_str(&j, "format", "memscope-tree");
    msc_json_u64(&j, "version", 1);
    msc_json_str(&j, "capture", ctx->path);
    msc_json_str(&j, "view", msc_view_name(view));
    msc_json_u64(&j, "total_bytes", root->bytes);
    msc_json_u64(&j, "allocations", root->count);
    int err = write_tree(&j, t);
    msc_json_end(&j);
    fputc('\n', out);
    int jerr = msc_json_release(&j);
    msc_tree_free(t);
    return err ? err : jerr ? jerr : ferror(out) ? MSC_EIO : 0;
}

int msc_export(const msc_report_ctx_t *ctx, FILE *out, msc_export_format_t format, msc_view_t view)
{
    switch (format) {
    case MSC_EXPORT_COLLAPSED: return msc__export_collapsed(ctx, out, view);
    case MSC_EXPORT_SPEEDSCOPE: return msc__export_speedscope(ctx, out, view);
    case MSC_EXPORT_JSON: return export_json(ctx, out, view);
    case MSC_EXPORT_PPROF: return msc__export_pprof(ctx, out, view);
    default: return MSC_EUSAGE;
    }
}
