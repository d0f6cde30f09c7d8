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
#include "memscope/table.h"

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

/* Whether file:line is candidate c's line (whatever the function: a line
 * shared by a function and its comprehension is one line). */
static int is_line(const char *file, uint32_t line, const candidate_t *c)
{
    return line == c->line && !strcmp(file, c->file);
}

/* The row of rows on c's line, or NULL. */
static const msc_row_t *row_at(const msc_rows_t *rows, const candidate_t *c)
{
    for (size_t i = 0; i < rows->n; i++)
        if (is_line(rows->rows[i].file, rows->rows[i].line, c)) return &rows->rows[i];
    return NULL;
}

/*
 * The pass. One replay measures every candidate: each generator line has an
 * analysis of its own, fed every event but those of the line's blocks, and
 * the join lines' sizes are gathered from their allocations.
 */

#define ON_UNKNOWN UINT16_MAX
#define ON_JOIN_SHIFT                                                                              \
    8           /* bits 0..CANDIDATES-1: the generator lines on the stack;
                                     from here: 1 + the join line of its innermost frame */

typedef struct pass {
    msc_replay_t *replay;      /* borrowed: whose symbols name the stacks */
    candidate_t *lines;        /* the generator lines, each dropped from its analysis */
    size_t nlines;
    candidate_t *joins;        /* the join lines measured */
    size_t njoins;
    msc_analysis_t *analysis[CANDIDATES]; /* per line: the replay without its blocks */
    uint16_t *at;              /* owned: per stack node, what it is on (ON_UNKNOWN: not yet) */
    uint32_t nat;
    uint32_t *chain;           /* owned: callers not answered yet, while answering */
    size_t cap_chain;
} pass_t;

/* Node's own frame: a bit for each generator line it is, and 1 + the
 * join line it is, shifted. */
static uint16_t frame_on(pass_t *p, uint32_t node)
{
    msc_frame_t f;
    msc_symbols_frame((msc_symbols_t *)msc_replay_symbols(p->replay), node, &f);
    uint16_t on = 0;
    for (size_t i = 0; i < p->nlines; i++)
        if (is_line(f.file, f.line, &p->lines[i])) on |= 1u << i;
    for (size_t i = 0; i < p->njoins; i++)
        if (is_line(f.file, f.line, &p->joins[i])) return (uint16_t)(on | (1 + i) << ON_JOIN_SHIFT);
    return on;
}

/* What the stack ending at node is on, cached per node: the generator
 * lines of any of its frames (everything a line called is the line's),
 * the join line of its innermost. Its callers not answered yet are
 * answered on the way, from the first one that is; ON_UNKNOWN when memory
 * runs out. */
static uint16_t on_candidate(pass_t *p, uint32_t node)
{
    const msc_symbols_t *sym = msc_replay_symbols(p->replay);
    if (!node) return 0;
    if (node >= p->nat) {
        uint32_t n = node + node / 2 + 1024;
        uint16_t *grown = msc_realloc(p->at, (size_t)n * sizeof(*grown));
        if (!grown) return ON_UNKNOWN;
        for (uint32_t i = p->nat; i < n; i++) grown[i] = ON_UNKNOWN;
        p->at = grown;
        p->nat = n;
    }
    size_t n = 0;
    uint32_t x = node;
    for (; x && (x >= p->nat || p->at[x] == ON_UNKNOWN); x = msc_symbols_parent(sym, x)) {
        if (msc_array_grow((void **)&p->chain, &p->cap_chain, n + 1, 4) < 0) return ON_UNKNOWN;
        p->chain[n++] = x;
    }
    uint16_t above = x ? p->at[x] & ((1u << ON_JOIN_SHIFT) - 1) : 0; /* the lines above */
    while (n--) {
        x = p->chain[n];
        uint16_t own = frame_on(p, x);
        above |= own & ((1u << ON_JOIN_SHIFT) - 1);
        uint16_t on = (uint16_t)(above | (own & ~((1u << ON_JOIN_SHIFT) - 1)));
        if (x < p->nat) p->at[x] = on;
        if (x == node) return on;
    }
    return p->at[node];
}

static int pass_event(void *arg, const msc_event_t *ev)
{
    pass_t *p = arg;
    uint16_t on = 0;
    if (ev->kind == MSC_REC_ALLOC || ev->kind == MSC_REC_REALLOC)
        on = ev->stack < p->nat && p->at[ev->stack] != ON_UNKNOWN ? p->at[ev->stack]
                                                                  : on_candidate(p, ev->stack);
    if (on == ON_UNKNOWN) return MSC_ENOMEM;
    if (on >> ON_JOIN_SHIFT) {
        candidate_t *c = &p->joins[(on >> ON_JOIN_SHIFT) - 1];
        if (!c->min_size || ev->size < c->min_size) c->min_size = ev->size;
        if (ev->size > c->max_size) c->max_size = ev->size;
    }
    int err = 0;
    for (size_t i = 0; i < p->nlines && !err; i++) {
        if (!(on >> i & 1)) {
            err = msc_analysis_event(p->analysis[i], ev);
        } else if (ev->kind == MSC_REC_REALLOC) {
            msc_event_t freed = *ev; /* the block realloc'd on the line becomes the line's */
            freed.kind = MSC_REC_FREE;
            freed.addr = ev->old_addr;
            freed.size = 0;
            err = msc_analysis_event(p->analysis[i], &freed);
        }
    }
    return err;
}

/* Replays path once: for each of lines, the peak without its blocks, and
 * the sizes allocated on the join lines. */
static int measure(const char *path, uint64_t sample_bytes, candidate_t *lines, size_t nlines,
                   candidate_t *joins, size_t njoins)
{
    msc_error_info_t info = {0, NULL};
    int err = 0;
    pass_t p = {msc_replay_open(path, 0, &err, &info),
                lines,
                nlines,
                joins,
                njoins,
                {NULL},
                NULL,
                0,
                NULL,
                0};
    if (!p.replay) return err ? err : MSC_ENOMEM;
    for (size_t i = 0; i < nlines && !err; i++) {
        if (!(p.analysis[i] = msc_analysis_new())) err = MSC_ENOMEM;
        else if (sample_bytes) msc_analysis_set_sampling(p.analysis[i], sample_bytes);
    }
    if (!err) err = msc_replay_run(p.replay, pass_event, &p, &info);
    if (err == MSC_ETRUNCATED) err = 0; /* advice from what the capture holds */
    for (size_t i = 0; i < nlines; i++) {
        if (!err) err = msc_analysis_finish(p.analysis[i]);
        if (!err) lines[i].peak_without = msc_analysis_summary(p.analysis[i])->peak_bytes;
        msc_analysis_free(p.analysis[i]);
    }
    msc_free(p.at);
    msc_free(p.chain);
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
        for (size_t k = 0; k < n; k++) seen |= is_line(r->file, r->line, &out[k]);
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
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const msc_row_t *left = row_at(at_exit, &c[i]);
        if (!left || left->bytes <= c[i].bytes / 100) c[k++] = c[i]; /* dropped, not kept */
    }
    int rc = k ? measure(path, s->sample_bytes, c, k, NULL, 0) : 0;
    for (size_t i = 0; rc == 0 && i < k; i++) {
        if (c[i].peak_without >= s->peak_bytes) continue;
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
            if (is_line(fr.file, fr.line, &c[i])) line_of[f] = (uint8_t)(1 + i);
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
        rc = measure(path, s->sample_bytes, NULL, 0, c, n);
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
