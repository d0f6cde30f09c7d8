/* Folded stacks (`export --format collapsed`): one line per distinct frame
 * path that allocated, outermost frame first, frames joined by ';', then a
 * space and the bytes, the input flamegraph.pl and its ports expect. Paths
 * come from the call tree, so stacks that differ only in instruction offsets
 * of the same lines are one line. */
#include <stdlib.h>

#include "memscope/common.h"
#include "memscope/export.h"
#include "memscope/tree.h"
#include "export.h"

void msc_collapsed_frame(FILE *out, const char *function, const char *file, unsigned line)
{
    for (const unsigned char *p = (const unsigned char *)function; *p; p++)
        fputc(*p == ';' ? ':' : *p < 0x20 ? '?' : *p, out);
    if (!*file) return;
    fputs(" (", out);
    for (const unsigned char *p = (const unsigned char *)file; *p; p++)
        fputc(*p == ';' ? ':' : *p < 0x20 ? '?' : *p, out);
    if (line) fprintf(out, ":%u", line);
    fputc(')', out);
}

/* One line: the path from the root's child down to node. */
static void write_path(FILE *out, const msc_tree_t *t, uint32_t node, uint32_t *path)
{
    uint32_t n = 0;
    for (uint32_t x = node; x; x = msc_tree_node(t, x)->parent) path[n++] = x;
    while (n--) {
        const msc_tree_node_t *f = msc_tree_node(t, path[n]);
        msc_collapsed_frame(out, f->function, f->file, f->line);
        if (n) fputc(';', out);
    }
    fprintf(out, " %llu\n", (unsigned long long)msc_tree_node(t, node)->self_bytes);
}

int msc__export_collapsed(const msc_report_ctx_t *ctx, FILE *out, msc_view_t view)
{
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(ctx->replay);
    msc_tree_t *t = msc_tree_of_view(sym, ctx->analysis, view, 0);
    if (!t) return MSC_ENOMEM;
    uint32_t n = msc_tree_size(t);
    uint32_t *path = msc_malloc(((size_t)msc_tree_max_depth(t) + 1) * sizeof(uint32_t));
    if (!path) {
        msc_tree_free(t);
        return MSC_ENOMEM;
    }
    for (uint32_t i = 1; i < n; i++)
        if (msc_tree_node(t, i)->self_bytes) write_path(out, t, i, path);
    msc_free(path);
    msc_tree_free(t);
    return ferror(out) ? MSC_EIO : 0;
}
