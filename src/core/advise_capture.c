/* The advice rules over a capture's events (memscope/advise.h). A rule
 * starts from the lines the analysis ranks (by the innermost frame's line,
 * tracemalloc's "lineno"), keeps those whose source text has the shape the advice changes,
 * and measures each candidate with one more pass over the capture:
 *
 *   generator  the capture replayed without the line's blocks, those of
 *              every stack the line is on (an allocation or realloc made
 *              under the line is dropped, a realloc of another block there
 *              frees that block): the saving is the peak less the peak of
 *              that replay, what the line's list and items added to the
 *              high-water mark, whatever else was live
 *   join       the line's smallest and largest allocation: a `+=` that
 *              copies grows from one piece to the whole, and ''.join
 *              allocates the whole once plus a list of the pieces (8 bytes a
 *              piece, over-allocated by an eighth as list.append does)
 *
 * Source text is read from the file the capture names; a line whose file is
 * gone gets no advice, since nothing says what it does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "memscope/advise.h"
#include "memscope/aggregate.h"
#include "memscope/analysis.h"

#define CANDIDATES 3                  /* per rule: each costs a pass */
#define GENERATOR_MIN_BYTES (1u << 20) /* held at the peak, and a twentieth of it */
#define GENERATOR_MIN_SHARE 20
#define JOIN_MIN_ALLOCATIONS 64
#define JOIN_MIN_BYTES (1u << 20)     /* allocated in all by the line */
#define JOIN_MIN_GROWTH 8             /* largest over smallest allocation */
#define LIST_ITEM_BYTES 9             /* 8 a pointer, over-allocated by 1/8 */
#define LIST_OBJECT_BYTES 56          /* sys.getsizeof([]) */
#define SOURCE_MAX 512

typedef struct candidate {
    const char *file;          /* borrowed from the symbols */
    const char *function;
    uint32_t line;
    uint64_t bytes;            /* at the peak (generator) or in all (join) */
    uint64_t count;
    uint64_t min_size, max_size; /* join: filled by the pass */
    uint64_t peak_without;     /* generator: filled by the pass */
} candidate_t;

/* Line n of file, without its newline and leading blanks, into buf: 0, or
 * -1 when the file or the line cannot be read. */
static int source_line(const char *file, uint32_t n, char *buf, size_t size)
{
    FILE *f = fopen(file, "r");
    if (!f) return -1;
    uint32_t at = 0;
    int found = -1;
    while (fgets(buf, (int)size, f)) {
        size_t len = strlen(buf);
        int whole = len && buf[len - 1] == '\n';
        if (whole) buf[--len] = 0;
        if (++at == n) {
            found = 0;
            break;
        }
        /* The rest of an overlong line is not a line of its own. */
        while (!whole && fgets(buf, (int)size, f)) whole = buf[strlen(buf) - 1] == '\n';
    }
    fclose(f);
    if (found) return -1;
    size_t skip = strspn(buf, " \t");
    memmove(buf, buf + skip, strlen(buf + skip) + 1);
    return 0;
}

/* A list built whole that stays in the function: a list comprehension
 * `[... for ... in ...]` or `list(...)` of an iterable, on one line that
 * does not return or yield it. */
static int builds_list(const char *text)
{
    if (!strncmp(text, "return", 6) || !strncmp(text, "yield", 5)) return 0;
    if (strstr(text, "= list(")) return 1;
    const char *open = strchr(text, '[');
    const char *loop = open ? strstr(open, " for ") : NULL;
    const char *in = loop ? strstr(loop, " in ") : NULL;
    return in && strchr(in, ']');
}

/* An augmented addition before any comment: `s += piece`. */
static int concatenates(const char *text)
{
    const char *op = strstr(text, "+="), *comment = strchr(text, '#');
    return op && op > text && (!comment || comment > op);
}

/* The row of rows with this file and line, or NULL. */
static const msc_row_t *row_at(const msc_rows_t *rows, const char *file, uint32_t line)
{
    for (size_t i = 0; i < rows->n; i++)
        if (rows->rows[i].line == line && !strcmp(rows->rows[i].file, file)) return &rows->rows[i];
    return NULL;
}

/*
 * The passes.
 */

typedef struct pass {
    msc_replay_t *replay;      /* borrowed: whose symbols name the stacks */
    const candidate_t *line;   /* the generator line dropped, or NULL */
    candidate_t *joins;        /* the join lines measured */
    size_t njoins;
    msc_analysis_t *analysis;  /* the replay without line's blocks, or NULL */
    int8_t *at;                /* owned: per stack node, the candidate it is on (0 = a
                                  frame on the stack is line's, 1 + i = its innermost
                                  frame is joins[i]'s, -1 none, -2 unknown) */
    uint32_t nat;
} pass_t;

/* Node's own answer, before its callers': 0 when its frame is line's, else
 * 1 + i for joins[i]'s, else -1. */
static int8_t frame_on(pass_t *p, uint32_t node)
{
    msc_frame_t f;
    msc_symbols_frame((msc_symbols_t *)msc_replay_symbols(p->replay), node, &f);
    if (p->line && f.line == p->line->line && !strcmp(f.file, p->line->file)) return 0;
    for (size_t i = 0; i < p->njoins; i++)
        if (f.line == p->joins[i].line && !strcmp(f.file, p->joins[i].file)) return (int8_t)(1 + i);
    return -1;
}

/* The answer for node (its cache entry unknown): its own frame's, unless a
 * caller's frame is line's (everything the line called is the line's),
 * found by walking up the callers to the first one whose answer is known. */
static int8_t resolve(pass_t *p, uint32_t node)
{
    const msc_symbols_t *sym = msc_replay_symbols(p->replay);
    uint32_t top = node;
    int8_t above = -1; /* whether a caller above the walk is on line */
    while (p->line && (top = msc_symbols_parent(sym, top)) != 0) {
        if (top < p->nat && p->at[top] != -2) {
            above = p->at[top] == 0 ? 0 : -1;
            break;
        }
        if (frame_on(p, top) == 0) {
            above = 0;
            break;
        }
    }
    int8_t own = frame_on(p, node);
    return above == 0 ? 0 : own;
}

/* The candidate the stack ending at node is on, cached per node; -1 none,
 * MSC_ENOMEM when the cache cannot grow. */
static int on_candidate(pass_t *p, uint32_t node)
{
    if (!node) return -1;
    if (node >= p->nat) {
        uint32_t n = node + node / 2 + 1024;
        int8_t *grown = msc_realloc(p->at, n);
        if (!grown) return MSC_ENOMEM;
        memset(grown + p->nat, -2, n - p->nat);
        p->at = grown;
        p->nat = n;
    }
    if (p->at[node] == -2) p->at[node] = resolve(p, node);
    return p->at[node];
}

static int pass_event(void *arg, const msc_event_t *ev)
{
    pass_t *p = arg;
    int on = -1;
    if (ev->kind == MSC_REC_ALLOC || ev->kind == MSC_REC_REALLOC) on = on_candidate(p, ev->stack);
    if (on < -1) return on;
    if (on > 0) {
        candidate_t *c = &p->joins[on - 1];
        if (!c->min_size || ev->size < c->min_size) c->min_size = ev->size;
        if (ev->size > c->max_size) c->max_size = ev->size;
    }
    if (!p->analysis) return 0;
    if (on != 0) return msc_analysis_event(p->analysis, ev);
    if (ev->kind != MSC_REC_REALLOC) return 0;
    msc_event_t freed = *ev; /* the block realloc'd on the line becomes the line's */
    freed.kind = MSC_REC_FREE;
    freed.addr = ev->old_addr;
    freed.size = 0;
    return msc_analysis_event(p->analysis, &freed);
}

/* Replays path once: the peak without line's blocks (line may be NULL) and
 * the sizes allocated on the join lines. */
static int measure(const char *path, uint64_t sample_bytes, candidate_t *line, candidate_t *joins,
                   size_t njoins)
{
    msc_error_info_t info = {0, NULL};
    int err = 0;
    pass_t p = {msc_replay_open(path, 0, &err, &info), line, joins, njoins, NULL, NULL, 0};
    if (!p.replay) return err ? err : MSC_ENOMEM;
    if (line && !(p.analysis = msc_analysis_new())) err = MSC_ENOMEM;
    if (!err && p.analysis && sample_bytes) msc_analysis_set_sampling(p.analysis, sample_bytes);
    if (!err) err = msc_replay_run(p.replay, pass_event, &p, &info);
    if (err == MSC_ETRUNCATED) err = 0; /* advice from what the capture holds */
    if (!err && p.analysis) err = msc_analysis_finish(p.analysis);
    if (!err && line) line->peak_without = msc_analysis_summary(p.analysis)->peak_bytes;
    msc_analysis_free(p.analysis);
    msc_free(p.at);
    msc_replay_free(p.replay);
    return err;
}

/*
 * The rules.
 */

static char *where(const candidate_t *c)
{
    return msc_strfmt("%s:%u in %s", c->file, c->line, c->function ? c->function : "?");
}

/* Lines whose text passes shape, from rows (most bytes first) past the
 * thresholds, at most CANDIDATES of them. */
static size_t pick(const msc_rows_t *rows, uint64_t min_bytes, uint64_t min_count,
                   int (*shape)(const char *), candidate_t *out)
{
    size_t n = 0;
    char text[SOURCE_MAX];
    for (size_t i = 0; i < rows->n && n < CANDIDATES && rows->rows[i].bytes >= min_bytes; i++) {
        const msc_row_t *r = &rows->rows[i];
        int seen = 0; /* a line shared by a function and its comprehension */
        for (size_t k = 0; k < n; k++)
            seen |= out[k].line == r->line && !strcmp(out[k].file, r->file);
        if (seen || r->count < min_count || !r->line ||
            source_line(r->file, r->line, text, sizeof(text)) || !shape(text))
            continue;
        out[n++] = (candidate_t){r->file, r->function, r->line, r->bytes, r->count, 0, 0, 0};
    }
    return n;
}

static int advise_generators(const char *path, const msc_summary_t *s, const msc_rows_t *peak,
                             const msc_rows_t *at_exit, msc_advice_list_t *l)
{
    candidate_t c[CANDIDATES];
    uint64_t floor = s->peak_bytes / GENERATOR_MIN_SHARE;
    size_t n =
        pick(peak, floor > GENERATOR_MIN_BYTES ? floor : GENERATOR_MIN_BYTES, 1, builds_list, c);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const msc_row_t *left = row_at(at_exit, c[i].file, c[i].line);
        if (left && left->bytes > c[i].bytes / 100) continue; /* kept, not dropped */
        rc = measure(path, s->sample_bytes, &c[i], NULL, 0);
        if (rc || c[i].peak_without >= s->peak_bytes) continue;
        uint64_t saved = s->peak_bytes - c[i].peak_without;
        msc_advice_t a = {
            "generator",
            "peak",
            msc_strfmt("Make the list built at %s:%u a generator", c[i].file, c[i].line),
            msc_strfmt("at the peak (%llu bytes) the list built on this line held, with what "
                       "it called, %llu bytes in %llu blocks, all freed before the end; "
                       "without them the peak would have been %llu bytes",
                       (unsigned long long)s->peak_bytes, (unsigned long long)c[i].bytes,
                       (unsigned long long)c[i].count, (unsigned long long)c[i].peak_without),
            msc_strfmt("if the list is only iterated, iterate its source directly (for row in "
                       "reader), write a generator expression, (x for ...) instead of "
                       "[x for ...], or yield the items from a function: each is then made "
                       "and dropped in turn"),
            saved,
            0,
            where(&c[i])};
        rc = msc_advice_add(l, &a);
    }
    return rc;
}

/* The sizes allocated on the join lines from the analysis's size ranges
 * (msc_analysis_track_sizes), each stack's innermost frame named by the
 * frame nodes: 1 when done, 0 when a range is not known (a pass measures
 * them then), or MSC_ENOMEM. */
static int sizes_of_lines(const msc_analysis_t *a, msc_symbols_t *sym, candidate_t *c, size_t n)
{
    const msc_frame_nodes_t *fn = msc_symbols_frame_nodes(sym);
    uint8_t *line_of = fn ? msc_calloc(fn->nframes, 1) : NULL; /* per frame: candidate + 1 */
    if (!line_of) return MSC_ENOMEM;
    for (uint32_t f = 1; f < fn->nframes; f++) {
        msc_frame_t fr;
        msc_symbols_frame(sym, fn->frame_trie[f], &fr);
        for (size_t i = 0; i < n && !line_of[f]; i++)
            if (fr.line == c[i].line && !strcmp(fr.file, c[i].file)) line_of[f] = (uint8_t)(1 + i);
    }
    size_t words;
    const uint64_t *used = msc_analysis_used_stacks(a, &words);
    int known = 1;
    for (uint32_t node = 0; known && msc__bits_next(used, words, &node); node++) {
        uint8_t i = node && node < fn->ntrie ? line_of[fn->frame[fn->of[node]]] : 0;
        uint64_t min, max;
        if (!i) continue;
        known = msc_analysis_size_range(a, node, &min, &max) >= 0;
        candidate_t *x = &c[i - 1];
        if (min && (!x->min_size || min < x->min_size)) x->min_size = min;
        if (max > x->max_size) x->max_size = max;
    }
    msc_free(line_of);
    return known;
}

static int advise_joins(const char *path, const msc_analysis_t *a, msc_symbols_t *sym,
                        const msc_rows_t *total, msc_advice_list_t *l)
{
    candidate_t c[CANDIDATES];
    const msc_summary_t *s = msc_analysis_summary(a);
    size_t n = pick(total, JOIN_MIN_BYTES, JOIN_MIN_ALLOCATIONS, concatenates, c);
    int rc = n ? sizes_of_lines(a, sym, c, n) : 1;
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) c[i].min_size = c[i].max_size = 0;
        rc = measure(path, s->sample_bytes, NULL, c, n);
    }
    if (rc == 1) rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint64_t pieces = LIST_OBJECT_BYTES + LIST_ITEM_BYTES * c[i].count;
        uint64_t after = c[i].max_size + pieces;
        if (c[i].max_size < JOIN_MIN_GROWTH * c[i].min_size || c[i].bytes < 2 * after) continue;
        msc_advice_t x = {
            "join",
            "allocated",
            msc_strfmt("Build the string at %s:%u with join", c[i].file, c[i].line),
            msc_strfmt("%llu allocations on this line took %llu bytes in all, each a longer "
                       "copy (from %llu to %llu bytes); joining the pieces once allocates "
                       "about %llu",
                       (unsigned long long)c[i].count, (unsigned long long)c[i].bytes,
                       (unsigned long long)c[i].min_size, (unsigned long long)c[i].max_size,
                       (unsigned long long)after),
            msc_strfmt("append the pieces to a list and join them once, ''.join(pieces) "
                       "(b''.join for bytes), or write them to an io.StringIO or a bytearray"),
            c[i].bytes - after,
            0,
            where(&c[i])};
        rc = msc_advice_add(l, &x);
    }
    return rc;
}

int msc_advise_capture(const char *path, const msc_analysis_t *a, msc_symbols_t *sym,
                       const msc_views_values_t *values, const msc_rows_t *by_line,
                       msc_advice_list_t *out)
{
    msc_rows_t rows[MSC_VIEW_COUNT] = {{0}};
    size_t before = out->len;
    /* Generators: what a line held counting everything it called; joins:
     * what the line itself allocated. */
    msc_rows_t held[MSC_VIEW_COUNT] = {{0}};
    unsigned peak_exit = 1u << MSC_VIEW_PEAK | 1u << MSC_VIEW_EXIT;
    int rc = values ? msc_aggregate_views_of(values, sym, peak_exit, MSC_BY_LINE, 1, NULL, held)
                    : msc_aggregate_views(a, sym, peak_exit, MSC_BY_LINE, 1, NULL, held);
    if (rc == 0 && !by_line)
        rc = msc_aggregate_views(a, sym, 1u << MSC_VIEW_TOTAL, MSC_BY_LINE, 0, NULL, rows);
    const msc_summary_t *s = msc_analysis_summary(a);
    if (rc == 0) rc = advise_generators(path, s, &held[MSC_VIEW_PEAK], &held[MSC_VIEW_EXIT], out);
    if (rc == 0) rc = advise_joins(path, a, sym, &(by_line ? by_line : rows)[MSC_VIEW_TOTAL], out);
    for (int v = 0; v < MSC_VIEW_COUNT; v++) {
        msc_rows_release(&held[v]);
        msc_rows_release(&rows[v]);
    }
    if (rc) {
        while (out->len > before) {
            msc_advice_t *x = &out->items[--out->len];
            msc_free(x->title);
            msc_free(x->evidence);
            msc_free(x->change);
            msc_free(x->where);
        }
        return rc;
    }
    msc_advice_list_sort(out);
    return 0;
}
