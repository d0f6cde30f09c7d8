/* The call tree on a hand-made stack trie: inclusive and self values,
 * recursion kept as nested frames, instructions of one line merged into one
 * frame, the no-Python-frame stack, children largest first, the inverted
 * tree (allocating frames first), the frame nodes the trees are built on,
 * and every allocation failed in turn. */
#include "capture_util.h"
#include "check.h"
#include "memscope/tree.h"

/* Frames: f (a.py, from line 10), g (a.py, 20), h (b.py, 30), each offset k
 * at its first line + k; k (b.py) has no line table, so every offset of it
 * is line 0 and its nodes merge. */
typedef struct fixture {
    msc_symbols_t *sym;
    uint32_t n[9];
    msc_stack_value_t v[7];
} fixture_t;

static int fixture_init(fixture_t *fx)
{
    static const uint8_t table[] = {0x80, 0x00, 0xE8, 0x02, 0xE8, 0x02};
    memset(fx, 0, sizeof(*fx));
    fx->sym = msc_symbols_new(0x030B00F0);
    if (!fx->sym) return MSC_ENOMEM;
    const char *names[] = {"", "a.py", "b.py", "f", "g", "h", "k"};
    for (uint32_t i = 1; i < 7; i++) {
        int err = msc_symbols_add_string(fx->sym, i, (const uint8_t *)names[i], strlen(names[i]));
        if (err) return err;
    }
    const uint32_t code[][4] = {{1, 3, 10, 6}, {1, 4, 20, 6}, {2, 5, 30, 6}, {2, 6, 40, 0}};
    for (uint32_t c = 0; c < 4; c++) {
        int err = msc_symbols_add_code(fx->sym, c + 1, code[c][0], code[c][1], code[c][2], table,
                                       code[c][3]);
        if (err) return err;
    }
    /* n1 f:10; n2 g:21 under f; n3 h:30 under g; n4 g:22 under f; n5, n6:
     * f:10 under f:10 under f:10 (recursion); n7, n8: k at two offsets. */
    const uint32_t nodes[][3] = {{0, 1, 0}, {1, 2, 1}, {2, 3, 0}, {1, 2, 2},
                                 {1, 1, 0}, {5, 1, 0}, {1, 4, 0}, {1, 4, 2}};
    for (int i = 0; i < 8; i++) {
        int64_t id = msc_symbols_add_node(fx->sym, fx->n[nodes[i][0]], nodes[i][1], nodes[i][2]);
        if (id < 0) return (int)id;
        fx->n[i + 1] = (uint32_t)id;
    }
    const uint64_t values[][2] = {{3, 100}, {4, 40}, {2, 7}, {6, 1000}, {0, 5}, {7, 3}, {8, 4}};
    for (int i = 0; i < 7; i++)
        fx->v[i] = (msc_stack_value_t){fx->n[values[i][0]], values[i][1], 1};
    return 0;
}

/* The child of parent at rank i (largest first); checks its frame. */
static uint32_t child(const msc_tree_t *t, uint32_t parent, uint32_t i, const char *function,
                      uint32_t line, uint64_t bytes)
{
    uint32_t n;
    const uint32_t *kids = msc_tree_children(t, parent, &n);
    CHECK(i < n);
    if (i >= n) return 0;
    const msc_tree_node_t *x = msc_tree_node(t, kids[i]);
    int ok = strcmp(x->function, function) == 0 && x->line == line && x->bytes == bytes &&
             x->parent == parent;
    if (!ok)
        fprintf(stderr, "child %u of %u: %s:%u %llu\n", i, parent, x->function, x->line,
                (unsigned long long)x->bytes);
    CHECK(ok);
    return kids[i];
}

static uint32_t nchildren(const msc_tree_t *t, uint32_t node)
{
    uint32_t n;
    msc_tree_children(t, node, &n);
    return n;
}

static void test_upright(void)
{
    fixture_t fx;
    CHECK_EQ(fixture_init(&fx), 0);
    msc_tree_t *t = msc_tree_new(fx.sym, fx.v, 7, 0);
    CHECK(t != NULL);
    const msc_tree_node_t *root = msc_tree_node(t, 0);
    CHECK_EQ(root->bytes, 1159);
    CHECK_EQ(root->count, 7);
    CHECK_EQ(root->self_bytes, 0);
    CHECK_EQ(nchildren(t, 0), 2);
    uint32_t f = child(t, 0, 0, "f", 10, 1154);
    uint32_t none = child(t, 0, 1, "<no Python frame>", 0, 5);
    CHECK_EQ(nchildren(t, none), 0);
    CHECK_EQ(nchildren(t, f), 4);
    uint32_t f2 = child(t, f, 0, "f", 10, 1000);
    uint32_t f3 = child(t, f2, 0, "f", 10, 1000);
    CHECK_EQ(msc_tree_node(t, f3)->self_bytes, 1000);
    CHECK_EQ(msc_tree_node(t, f3)->depth, 3);
    uint32_t g = child(t, f, 1, "g", 21, 107);
    CHECK_EQ(msc_tree_node(t, g)->self_bytes, 7);
    CHECK_EQ(msc_tree_node(t, g)->count, 2);
    child(t, g, 0, "h", 30, 100);
    child(t, f, 2, "g", 22, 40);
    uint32_t k = child(t, f, 3, "k", 0, 7); /* two instructions, one frame */
    CHECK_EQ(msc_tree_node(t, k)->count, 2);
    CHECK_EQ(strcmp(msc_tree_node(t, k)->file, "b.py"), 0);
    CHECK_EQ(msc_tree_max_depth(t), 3);
    for (uint32_t i = 1; i < msc_tree_size(t); i++) CHECK(msc_tree_node(t, i)->parent < i);
    msc_tree_free(t);

    /* No values: only the root. */
    t = msc_tree_new(fx.sym, fx.v, 0, 0);
    CHECK_EQ(msc_tree_size(t), 1);
    CHECK_EQ(msc_tree_node(t, 0)->bytes, 0);
    msc_tree_free(t);
    msc_symbols_free(fx.sym);
}

static void test_inverted(void)
{
    fixture_t fx;
    CHECK_EQ(fixture_init(&fx), 0);
    msc_tree_t *t = msc_tree_new(fx.sym, fx.v, 7, MSC_TREE_INVERTED);
    CHECK(t != NULL);
    CHECK_EQ(msc_tree_node(t, 0)->bytes, 1159);
    CHECK_EQ(nchildren(t, 0), 6);
    uint32_t f = child(t, 0, 0, "f", 10, 1000);
    child(t, child(t, f, 0, "f", 10, 1000), 0, "f", 10, 1000);
    uint32_t h = child(t, 0, 1, "h", 30, 100);
    uint32_t g = child(t, h, 0, "g", 21, 100);
    uint32_t outer = child(t, g, 0, "f", 10, 100);
    CHECK_EQ(msc_tree_node(t, outer)->self_bytes, 100); /* the outermost caller */
    CHECK_EQ(msc_tree_node(t, h)->self_bytes, 0);
    child(t, 0, 2, "g", 22, 40);
    child(t, 0, 3, "k", 0, 7); /* count 2 ranks it before g:21's 7 bytes in 1 */
    child(t, child(t, 0, 4, "g", 21, 7), 0, "f", 10, 7);
    child(t, 0, 5, "<no Python frame>", 0, 5);
    msc_tree_free(t);
    msc_symbols_free(fx.sym);
}

/* The frame nodes the trees are built on (symbols.h): a line's
 * instructions merge, a frame under another caller is a node of its own
 * with the same frame number, callers come first, and a grown trie is
 * mapped again, also after the node index was dropped. */
static void test_frame_nodes(void)
{
    fixture_t fx;
    CHECK_EQ(fixture_init(&fx), 0);
    const msc_frame_nodes_t *fn = msc_symbols_frame_nodes(fx.sym);
    CHECK(fn != NULL);
    if (!fn) return;
    const uint32_t *n = fx.n;
    CHECK_EQ(fn->ntrie, 9);
    CHECK_EQ(fn->n, 8);       /* the root and 8 trie nodes, k's two merged */
    CHECK_EQ(fn->nframes, 6); /* 0, f:10, g:21, h:30, g:22, k:0 */
    CHECK_EQ(fn->of[0], 0);
    CHECK_EQ(fn->of[n[7]], fn->of[n[8]]);
    CHECK_EQ(fn->frame_trie[fn->frame[fn->of[n[8]]]], n[7]);
    CHECK(fn->of[n[5]] != fn->of[n[1]]);
    CHECK_EQ(fn->frame[fn->of[n[5]]], fn->frame[fn->of[n[1]]]);
    CHECK(fn->frame[fn->of[n[2]]] != fn->frame[fn->of[n[4]]]);
    CHECK_EQ(fn->parent[fn->of[n[3]]], fn->of[n[2]]);
    CHECK_EQ(fn->parent[fn->parent[fn->of[n[6]]]], fn->of[n[1]]);
    CHECK_EQ(fn->parent[fn->of[n[1]]], 0);
    for (uint32_t x = 1; x < fn->n; x++) CHECK(fn->parent[x] < x && fn->scratch[x] == 0);
    msc_frame_t f;
    msc_symbols_frame(fx.sym, fn->frame_trie[fn->frame[fn->of[n[3]]]], &f);
    CHECK(strcmp(f.function, "h") == 0 && f.line == 30);

    msc_symbols_trim(fx.sym); /* the index goes, and comes back for the next node */
    CHECK_EQ(msc_symbols_add_node(fx.sym, n[1], 2, 1), n[2]);
    int64_t grown = msc_symbols_add_node(fx.sym, n[4], 3, 0); /* h:30 under g:22 */
    CHECK(grown > 0);
    fn = msc_symbols_frame_nodes(fx.sym);
    CHECK(fn != NULL);
    if (fn && grown > 0) {
        CHECK_EQ(fn->ntrie, 10);
        CHECK_EQ(fn->n, 9);
        CHECK_EQ(fn->nframes, 6);
        CHECK_EQ(fn->parent[fn->of[grown]], fn->of[n[4]]);
        CHECK_EQ(fn->frame[fn->of[grown]], fn->frame[fn->of[n[3]]]);
    }
    msc_symbols_free(fx.sym);
}

static void test_out_of_memory(void)
{
    fixture_t fx;
    CHECK_EQ(fixture_init(&fx), 0);
    /* The frame nodes are the symbols' to keep (symbols.h): made before
     * the count starts, as a report's first tree makes them for the rest. */
    CHECK(msc_symbols_frame_nodes(fx.sym) != NULL);
    for (int flags = 0; flags <= MSC_TREE_INVERTED; flags++) {
        int failed = 0, done = 0;
        for (long at = 1; !done && at < 200; at++) {
            tc_use_allocator(at, 0);
            msc_tree_t *t = msc_tree_new(fx.sym, fx.v, 7, flags);
            long refused = tc_ctl.refused;
            uint64_t bytes = t ? msc_tree_node(t, 0)->bytes : 0;
            msc_tree_free(t);
            msc_set_allocator(NULL);
            CHECK_EQ(tc_ctl.live, 0);
            if (refused) {
                CHECK(t == NULL);
                failed++;
            } else {
                CHECK_EQ(bytes, 1159);
                done = 1;
            }
        }
        CHECK(done);
        CHECK(failed >= 4);
    }
    msc_symbols_free(fx.sym);
}

/* Whether full node a and pruned node b stand for the same frames from the
 * root down. */
static int same_path(const msc_tree_t *full, uint32_t a, const msc_tree_t *pruned, uint32_t b)
{
    while (a && b) {
        const msc_tree_node_t *x = msc_tree_node(full, a), *y = msc_tree_node(pruned, b);
        if (strcmp(x->function, y->function) || strcmp(x->file, y->file) || x->line != y->line)
            return 0;
        a = x->parent;
        b = y->parent;
    }
    return a == b;
}

/* A pruned tree holds exactly the whole tree's frames that reach the floor,
 * with the same inclusive and self values, and counts in each frame the
 * children left out; every floor, both orientations. */
static void test_pruned(void)
{
    fixture_t fx;
    CHECK_EQ(fixture_init(&fx), 0);
    for (int flags = 0; flags <= MSC_TREE_INVERTED; flags++) {
        msc_tree_t *full = msc_tree_new(fx.sym, fx.v, 7, flags);
        const uint32_t shares[] = {1, 2, 10, 100, 300, 1000, 5000};
        for (size_t s = 0; full && s < sizeof(shares) / sizeof(shares[0]); s++) {
            msc_tree_t *t = msc_tree_new_pruned(fx.sym, fx.v, 7, flags, shares[s], 0);
            uint64_t floor = 1159 / shares[s];
            uint32_t kept = 1;
            CHECK(t != NULL);
            if (!t) break;
            for (uint32_t a = 1; a < msc_tree_size(full); a++) {
                const msc_tree_node_t *x = msc_tree_node(full, a);
                uint32_t match = 0;
                for (uint32_t b = 1; b < msc_tree_size(t) && !match; b++)
                    if (same_path(full, a, t, b)) match = b;
                if (x->bytes < floor) {
                    CHECK_EQ(match, 0);
                    continue;
                }
                CHECK(match != 0);
                if (!match) continue;
                kept++;
                const msc_tree_node_t *y = msc_tree_node(t, match);
                CHECK_EQ(y->bytes, x->bytes);
                CHECK_EQ(y->count, x->count);
                CHECK_EQ(y->self_bytes, x->self_bytes);
                uint32_t n, left_out = 0;
                const uint32_t *kids = msc_tree_children(full, a, &n);
                for (uint32_t i = 0; i < n; i++)
                    left_out += msc_tree_node(full, kids[i])->bytes < floor;
                CHECK_EQ(y->pruned, left_out);
            }
            CHECK_EQ(msc_tree_size(t), kept);
            CHECK_EQ(msc_tree_node(t, 0)->bytes, 1159);
            msc_tree_free(t);
        }
        msc_tree_free(full);
    }
    msc_symbols_free(fx.sym);
}

/* The first k nodes of t in a flame graph's order, bytes then the node
 * made first (a best-first walk from the root takes them in this order:
 * no frame outweighs its caller, which was made before it). */
static const msc_tree_t *order_tree;

static int by_drawing_order(const void *pa, const void *pb)
{
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    uint64_t x = msc_tree_node(order_tree, a)->bytes, y = msc_tree_node(order_tree, b)->bytes;
    return x != y ? (x < y ? 1 : -1) : (a < b ? -1 : 1);
}

static uint32_t *drawn(const msc_tree_t *t, uint32_t k)
{
    uint32_t n = msc_tree_size(t), *ids = malloc((size_t)n * sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++) ids[i] = i;
    order_tree = t;
    qsort(ids, n, sizeof(uint32_t), by_drawing_order);
    return k <= n ? ids : (free(ids), NULL);
}

enum { NODES = 3000 };
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t next_random(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33);
}

/* Symbols with a trie of NODES random stacks over four functions of six
 * lines each, node[1..NODES]; two in three of them valued in v[0..*nv). */
static msc_symbols_t *random_trie(uint32_t *node, msc_stack_value_t *v, size_t *nv)
{
    static const uint8_t table[] = {0x80, 0x00, 0xE8, 0x02, 0xE8, 0x02};
    msc_symbols_t *sym = msc_symbols_new(0x030B00F0);
    CHECK(sym != NULL);
    const char *names[] = {"", "a.py", "f", "g", "h", "k"};
    for (uint32_t i = 1; sym && i < 6; i++)
        CHECK_EQ(msc_symbols_add_string(sym, i, (const uint8_t *)names[i], strlen(names[i])), 0);
    for (uint32_t c = 1; sym && c <= 4; c++)
        CHECK_EQ(msc_symbols_add_code(sym, c, 1, c + 1, 10 * c, table, 6), 0);
    *nv = 0;
    for (uint32_t i = 1; sym && i <= NODES; i++) {
        uint32_t r = next_random();
        uint32_t parent = i > 1 && r % 8 ? node[1 + r / 8 % (i - 1)] : 0;
        int64_t id = msc_symbols_add_node(sym, parent, 1 + r / 65536 % 4, r / 256 % 6);
        CHECK(id > 0);
        node[i] = (uint32_t)(id > 0 ? id : 0);
        if (r % 3)
            v[(*nv)++] = (msc_stack_value_t){node[i], 1 + (uint64_t)(r % 1000) * (r % 1000), 1};
    }
    return sym;
}

/* A tree built for a graph of k frames draws the same graph as the whole
 * tree: the same k frames with the same values, each with as many children
 * (made or counted as left out), on a trie of 3,000 random stacks; and it
 * holds fewer nodes. */
static void test_capped(void)
{
    static uint32_t node[NODES + 1];
    static msc_stack_value_t v[NODES];
    size_t nv;
    msc_symbols_t *sym = random_trie(node, v, &nv);
    for (int flags = 0; sym && flags <= MSC_TREE_INVERTED; flags++) {
        msc_tree_t *full = msc_tree_new_pruned(sym, v, nv, flags, 10000, 0);
        const uint32_t caps[] = {1, 2, 10, 100, 800};
        for (size_t c = 0; full && c < sizeof(caps) / sizeof(caps[0]); c++) {
            uint32_t k = caps[c];
            msc_tree_t *t = msc_tree_new_pruned(sym, v, nv, flags, 10000, k);
            CHECK(t != NULL);
            if (!t) break;
            CHECK(msc_tree_size(t) < msc_tree_size(full));
            uint32_t *want = drawn(full, k), *got = drawn(t, k);
            CHECK(want != NULL && got != NULL);
            for (uint32_t i = 0; want && got && i < k; i++) {
                CHECK(want[i] == 0 ? got[i] == 0 : same_path(full, want[i], t, got[i]));
                const msc_tree_node_t *x = msc_tree_node(full, want[i]);
                const msc_tree_node_t *y = msc_tree_node(t, got[i]);
                CHECK_EQ(y->bytes, x->bytes);
                CHECK_EQ(y->count, x->count);
                CHECK_EQ(y->self_bytes, x->self_bytes);
                uint32_t nx, ny;
                msc_tree_children(full, want[i], &nx);
                msc_tree_children(t, got[i], &ny);
                CHECK_EQ(ny + y->pruned, nx + x->pruned);
            }
            free(want);
            free(got);
            msc_tree_free(t);
        }
        msc_tree_free(full);
    }
    msc_symbols_free(sym);
}

/* A node's frames from the root, as text, with its values. */
static void describe(const msc_tree_t *t, uint32_t id, char *out, size_t size)
{
    const msc_tree_node_t *x = msc_tree_node(t, id);
    int n = snprintf(out, size, "%llu %llu %llu %llu %u |", (unsigned long long)x->bytes,
                     (unsigned long long)x->count, (unsigned long long)x->self_bytes,
                     (unsigned long long)x->self_count, x->pruned);
    for (; id && n > 0 && (size_t)n < size; id = msc_tree_node(t, id)->parent)
        n += snprintf(out + n, size - (size_t)n, " %s:%u", msc_tree_node(t, id)->function,
                      msc_tree_node(t, id)->line);
}

static int by_text(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Whether two trees hold the same frames with the same values. */
static int same_tree(const msc_tree_t *a, const msc_tree_t *b)
{
    enum { LINE = 400 };
    uint32_t n = msc_tree_size(a);
    if (n != msc_tree_size(b)) return 0;
    char *ta = calloc(n, LINE), *tb = calloc(n, LINE);
    for (uint32_t i = 0; i < n; i++) {
        describe(a, i, ta + (size_t)i * LINE, LINE);
        describe(b, i, tb + (size_t)i * LINE, LINE);
    }
    qsort(ta, n, LINE, by_text);
    qsort(tb, n, LINE, by_text);
    int same = memcmp(ta, tb, (size_t)n * LINE) == 0;
    free(ta);
    free(tb);
    return same;
}

static int stack_order(const void *pa, const void *pb)
{
    const msc_stack_value_t *a = pa, *b = pb;
    return a->stack < b->stack ? -1 : a->stack > b->stack;
}

/* v[0..n) by stack, one value per stack (random stacks repeat): how many. */
static size_t by_stack(msc_stack_value_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), stack_order);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && v[k - 1].stack == v[i].stack) {
            v[k - 1].bytes += v[i].bytes, v[k - 1].count += v[i].count;
            continue;
        }
        v[k++] = v[i];
    }
    return k;
}

/* A series of moments makes the trees each moment makes alone: the whole
 * tree, and the graph of 100 frames, as stacks come, change and go (the
 * empty stack and one past the trie among them); values not in stack
 * order make a tree of their own. */
static void test_series(void)
{
    static uint32_t node[NODES + 1];
    static msc_stack_value_t all[NODES], v[NODES + 2];
    size_t nall, n = 0;
    msc_symbols_t *sym = random_trie(node, all, &nall);
    msc_tree_series_t *whole = msc_tree_series_new(sym), *graph = msc_tree_series_new(sym);
    CHECK(whole && graph);
    uint32_t past = msc_symbols_nodes(sym) + 5;
    for (int moment = 0; sym && whole && graph && moment < 12; moment++) {
        /* Each valued stack is live now with a chance that grows and falls. */
        size_t k = 0;
        if (moment % 3 != 2) v[k++] = (msc_stack_value_t){0, 7 + (uint64_t)moment, 1};
        for (size_t i = 0; i < nall; i++) {
            uint32_t r = next_random();
            if (r % 12 < (uint32_t)(moment < 6 ? moment + 1 : 12 - moment)) continue;
            uint64_t bytes = r % 4 ? all[i].bytes : all[i].bytes + r % 100; /* some change */
            v[k++] = (msc_stack_value_t){all[i].stack, bytes, 1 + r % 3};
        }
        if (moment % 2) v[k++] = (msc_stack_value_t){past, 40, 2};
        n = moment == 11 ? 0 : by_stack(v, k); /* the last moment holds nothing */
        msc_tree_t *want = msc_tree_new_pruned(sym, v, n, 0, 0, 0);
        msc_tree_t *got = msc_tree_series_next(whole, v, n, 0, 0);
        CHECK(want && got && same_tree(want, got));
        msc_tree_free(got);
        msc_tree_t *capped = msc_tree_series_next(graph, v, n, 10000, 100);
        uint32_t *w = want ? drawn(want, 100) : NULL, *g = capped ? drawn(capped, 100) : NULL;
        for (uint32_t i = 0; w && g && i < 100; i++) {
            const msc_tree_node_t *x = msc_tree_node(want, w[i]), *y = msc_tree_node(capped, g[i]);
            CHECK(w[i] == 0 ? g[i] == 0 : same_path(want, w[i], capped, g[i]));
            CHECK(y->bytes == x->bytes && y->count == x->count && y->self_bytes == x->self_bytes);
        }
        CHECK(n < 100 || (w && g));
        free(w);
        free(g);
        msc_tree_free(capped);
        msc_tree_free(want);
    }
    /* Out of stack order: the tree of those values all the same. */
    msc_stack_value_t swapped[2] = {{node[9], 5, 1}, {node[2], 3, 1}};
    msc_tree_t *t = msc_tree_series_next(whole, swapped, 2, 0, 0);
    CHECK(t && msc_tree_node(t, 0)->bytes == 8);
    msc_tree_free(t);
    msc_tree_series_free(whole);
    msc_tree_series_free(graph);
    msc_symbols_free(sym);
}

int main(void)
{
    test_upright();
    test_inverted();
    test_pruned();
    test_capped();
    test_series();
    test_frame_nodes();
    test_out_of_memory();
    tc_cleanup();
    return check_done("tree");
}
