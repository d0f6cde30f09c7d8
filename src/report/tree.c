/* `memscope tree`: the call tree in the terminal. Each line is one frame with
 * its inclusive bytes and share of the view's total, indented under its
 * caller with box-drawing guides; frames under --min-percent are folded into
 * one "N more" line per parent so the total still adds up. Colour (on a
 * terminal) marks the heavy frames: red from half the total, yellow from a
 * tenth. */
#include <stdlib.h>
#include <string.h>

#include "memscope/common.h"
#include "memscope/tree.h"
#include "memscope/report.h"
#include "report.h"

typedef struct walk {
    const msc_tree_t *tree;
    FILE *out;
    const msc_tree_options_t *opt;
    uint64_t total;
    int color;
    char *last;                /* per depth: whether the frame there was its parent's last */
} walk_t;

static double share(uint64_t part, uint64_t total)
{
    return total ? 100.0 * (double)part / (double)total : 0;
}

static void guides(const walk_t *w, uint32_t depth, int last)
{
    for (uint32_t d = 1; d < depth; d++) fputs(w->last[d] ? "   " : "\u2502  ", w->out);
    if (depth) fputs(last ? "\u2514\u2500 " : "\u251c\u2500 ", w->out);
}

static void print_node(const walk_t *w, const msc_tree_node_t *x, int last)
{
    char b[32];
    double pct = share(x->bytes, w->total);
    const char *hot = !w->color ? "" : pct >= 50 ? "\033[31m" : pct >= 10 ? "\033[33m" : "";
    const char *dim = w->color ? "\033[2m" : "", *reset = w->color ? "\033[0m" : "";
    fprintf(w->out, "%s%6.1f%% %10s%s  ", hot, pct, msc_format_bytes(x->bytes, b, sizeof(b)),
            reset);
    guides(w, x->depth, last);
    msc__text(w->out, x->function);
    if (*x->file) {
        fprintf(w->out, "  %s", dim);
        msc__text(w->out, x->file);
        if (x->line) fprintf(w->out, ":%u", x->line);
        fputs(reset, w->out);
    }
    fputc('\n', w->out);
}

static void print_folded(const walk_t *w, uint32_t depth, uint32_t n, uint64_t bytes)
{
    char b[32];
    const char *dim = w->color ? "\033[2m" : "", *reset = w->color ? "\033[0m" : "";
    fprintf(w->out, "%6.1f%% %10s  ", share(bytes, w->total),
            msc_format_bytes(bytes, b, sizeof(b)));
    guides(w, depth, 1);
    fprintf(w->out, "%s%u more frame%s under %.1f%%%s\n", dim, n, n == 1 ? "" : "s",
            w->opt->min_percent, reset);
}

/* Prints node's children (recursing depth-first through an explicit stack,
 * since stacks can be thousands of frames deep). */
static int walk_tree(walk_t *w)
{
    typedef struct item {
        uint32_t node, next;   /* the parent and the index of its next child */
    } item_t;
    uint32_t size = msc_tree_size(w->tree);
    item_t *stack = msc_malloc((size_t)size * sizeof(item_t));
    if (!stack) return MSC_ENOMEM;
    size_t top = 0;
    stack[top++] = (item_t){0, 0};
    while (top) {
        item_t *it = &stack[top - 1];
        uint32_t n;
        const uint32_t *kids = msc_tree_children(w->tree, it->node, &n);
        uint32_t depth = msc_tree_node(w->tree, it->node)->depth + 1;
        uint32_t shown = 0;
        while (shown < n &&
               share(msc_tree_node(w->tree, kids[shown])->bytes, w->total) >= w->opt->min_percent)
            shown++;
        int too_deep = w->opt->max_depth && depth > w->opt->max_depth;
        if (too_deep || it->next >= shown) {
            uint64_t rest = 0;
            for (uint32_t i = shown; i < n; i++) rest += msc_tree_node(w->tree, kids[i])->bytes;
            if (!too_deep && shown < n) print_folded(w, depth, n - shown, rest);
            top--;
            continue;
        }
        uint32_t child = kids[it->next++];
        int last = it->next == shown && shown == n;
        w->last[depth] = (char)last;
        print_node(w, msc_tree_node(w->tree, child), last);
        stack[top++] = (item_t){child, 0};
    }
    msc_free(stack);
    return 0;
}

static const char *view_title(msc_view_t v)
{
    return v == MSC_VIEW_PEAK   ? "Live at peak"
           : v == MSC_VIEW_EXIT ? "Leaked at exit"
                                : "Total allocated";
}

int msc_report_tree(const msc_report_ctx_t *ctx, FILE *out, const msc_tree_options_t *opt)
{
    msc_symbols_t *sym = (msc_symbols_t *)msc_replay_symbols(ctx->replay);
    msc_tree_t *t =
        msc_tree_of_view(sym, ctx->analysis, opt->view, opt->inverted ? MSC_TREE_INVERTED : 0);
    if (!t) return MSC_ENOMEM;
    const msc_tree_node_t *root = msc_tree_node(t, 0);
    char b[32], c[32];
    walk_t w = {t, out, opt, root->bytes, ctx->color, NULL};
    w.last = msc_calloc((size_t)msc_tree_max_depth(t) + 2, 1);
    int err = w.last ? 0 : MSC_ENOMEM;
    if (!err) {
        fprintf(out, "%s%s%s: %s in %s allocations%s\n\n", ctx->color ? "\033[1m" : "",
                view_title(opt->view), ctx->color ? "\033[0m" : "",
                msc_format_bytes(root->bytes, b, sizeof(b)), msc__count(root->count, c, sizeof(c)),
                opt->inverted ? " (inverted: allocating frames first)" : "");
        print_node(&w, root, 1);
        err = walk_tree(&w);
    }
    msc_free(w.last);
    msc_tree_free(t);
    if (!err && ferror(out)) err = MSC_EIO;
    return err;
}
