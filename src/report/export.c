/* `memscope export`: picks the writer for a format, and writes the JSON one
 * itself: the whole call tree of a view, every frame with its inclusive and
 * self bytes and allocation counts, children largest first. The schema is
 * documented in docs/reports.md. */
#include "memscope/common.h"
#include "memscope/export.h"
#include "export.h"

void msc__json_frame(FILE *out, const msc_tree_node_t *x)
{
    fputs("\"function\": ", out);
    msc_json_string(out, x->function);
    fputs(", \"file\": ", out);
    if (*x->file) msc_json_string(out, x->file);
    else fputs("null", out);
    if (x->line) fprintf(out, ", \"line\": %u", x->line);
    else fputs(", \"line\": null", out);
}

static void open_node(FILE *out, const msc_tree_node_t *x, int first)
{
    fputs(first ? "\n{" : ",\n{", out);
    msc__json_frame(out, x);
    fprintf(out, ", \"bytes\": %llu, \"allocations\": %llu, \"self_bytes\": %llu, "
                 "\"self_allocations\": %llu, \"children\": [",
            (unsigned long long)x->bytes, (unsigned long long)x->count,
            (unsigned long long)x->self_bytes, (unsigned long long)x->self_count);
}

/* Depth-first through an explicit stack: trees can be thousands deep. */
static int write_tree(FILE *out, const msc_tree_t *t)
{
    typedef struct item {
        uint32_t node, next;
    } item_t;
    item_t *stack = msc_malloc(((size_t)msc_tree_max_depth(t) + 1) * sizeof(item_t));
    if (!stack) return MSC_ENOMEM;
    size_t top = 0;
    open_node(out, msc_tree_node(t, 0), 1);
    stack[top++] = (item_t){0, 0};
    while (top) {
        item_t *it = &stack[top - 1];
        uint32_t n;
        const uint32_t *kids = msc_tree_children(t, it->node, &n);
        if (it->next == n) {
            fputs("]}", out);
            top--;
            continue;
        }
        uint32_t child = kids[it->next++];
        open_node(out, msc_tree_node(t, child), it->next == 1);
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
    fputs("{\"format\": \"memscope-tree\", \"version\": 1, \"capture\": ", out);
    msc_json_string(out, ctx->path);
    fprintf(out, ", \"view\": \"%s\", \"total_bytes\": %llu, \"allocations\": %llu, \"tree\": ",
            msc_view_name(view), (unsigned long long)root->bytes,
            (unsigned long long)root->count);
    int err = write_tree(out, t);
    fputs("}\n", out);
    msc_tree_free(t);
    return err ? err : ferror(out) ? MSC_EIO : 0;
}

int msc_export(const msc_report_ctx_t *ctx, FILE *out, msc_export_format_t format,
               msc_view_t view)
{
    switch (format) {
    case MSC_EXPORT_COLLAPSED: return msc__export_collapsed(ctx, out, view);
    case MSC_EXPORT_SPEEDSCOPE: return msc__export_speedscope(ctx, out, view);
    case MSC_EXPORT_JSON: return export_json(ctx, out, view);
    case MSC_EXPORT_PPROF: return msc__export_pprof(ctx, out, view);
    default: return MSC_EUSAGE;
    }
}
