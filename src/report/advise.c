/* `memscope advise`: the advice list as text (numbered, most bytes saved
 * first, each with its evidence, the change and where the objects were
 * allocated) or as one JSON object (docs/reports.md, "memscope advise"). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "memscope/advise.h"
#include "memscope/report.h"
#include "report.h"

/* Where a piece of advice points: its own string (a capture's advice) or
 * the heap snapshot's site string; NULL when neither says. */
static const char *where_of(const msc_heap_t *h, const msc_advice_t *x)
{
    if (x->where) return x->where;
    return h && x->site ? msc_heap_string(h, x->site, NULL) : NULL;
}

/* What bytes_saved is less of, as the text says it. */
static const char *measure_words(const char *measure)
{
    if (!strcmp(measure, "peak")) return "off the peak";
    if (!strcmp(measure, "allocated")) return "of allocation";
    return "held";
}

/* Splits a site string "file:line in function" into a row (pointers into
 * buf, a copy). 0, or -1 when it has no such shape. */
static int split_site(const char *site, char *buf, size_t n, msc_row_t *r)
{
    snprintf(buf, n, "%s", site);
    for (size_t i = strlen(buf); i-- > 0;) {
        if (buf[i] != ':' || !isdigit((unsigned char)buf[i + 1])) continue;
        char *end;
        unsigned long line = strtoul(buf + i + 1, &end, 10);
        if (strncmp(end, " in ", 4) != 0) continue;
        buf[i] = 0;
        *r = (msc_row_t){buf, end + 4, (uint32_t)line, 0, 0};
        return 0;
    }
    return -1;
}

static const char *const measures[] = {"held", "peak", "allocated"};

/* The savings of one measure, summed. */
static uint64_t saved(const msc_advice_list_t *l, const char *measure)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < l->len; i++)
        if (!strcmp(l->items[i].measure, measure)) sum += l->items[i].bytes_saved;
    return sum;
}

/* "N pieces of advice, saving 3.2 MiB held and 1.0 MiB off the peak in
 * all:" — savings of different measures are never added up. */
static void write_heading(FILE *out, const msc_advice_list_t *l)
{
    fprintf(out, "%zu piece%s of advice, saving ", l->len, l->len == 1 ? "" : "s");
    const char *sep = "";
    char a[32];
    size_t shown = 0, parts = 0;
    for (size_t m = 0; m < 3; m++) parts += saved(l, measures[m]) > 0;
    for (size_t m = 0; m < 3; m++) {
        uint64_t sum = saved(l, measures[m]);
        if (!sum) continue;
        shown++;
        fprintf(out, "%s%s %s", sep, msc_format_bytes(sum, a, sizeof(a)),
                measure_words(measures[m]));
        sep = shown + 1 == parts ? " and " : ", ";
    }
    fputs(" in all:\n", out);
}

static void write_text(FILE *out, const msc_heap_t *h, const msc_advice_list_t *l, size_t shown)
{
    char a[32];
    if (!l->len) {
        fputs("No advice: no rule found memory to save.\n", out);
        return;
    }
    write_heading(out, l);
    for (size_t i = 0; i < shown; i++) {
        const msc_advice_t *x = &l->items[i];
        fprintf(out, "\n%2zu. ", i + 1);
        msc__text(out, x->title); /* they hold the program's names */
        fprintf(out, "  (saves %s %s, %llu bytes) [%s]\n    why:    ",
                msc_format_bytes(x->bytes_saved, a, sizeof(a)), measure_words(x->measure),
                (unsigned long long)x->bytes_saved, x->rule);
        msc__text(out, x->evidence);
        fputs("\n    change: ", out);
        msc__text(out, x->change);
        fputc('\n', out);
        if (where_of(h, x)) {
            fputs("    where:  ", out);
            msc__text(out, where_of(h, x));
            fputc('\n', out);
        }
    }
    if (shown < l->len) fprintf(out, "\n... %zu more (use --limit)\n", l->len - shown);
}

static void json_advice(msc_json_t *j, const msc_heap_t *h, const msc_advice_t *x)
{
    msc_json_newline(j, 2);
    msc_json_object_begin(j, NULL);
    msc_json_str(j, "rule", x->rule);
    msc_json_str(j, "title", x->title);
    msc_json_u64(j, "bytes_saved", x->bytes_saved);
    msc_json_str(j, "measure", x->measure);
    msc_json_array_begin(j, "where");
    char buf[2048];
    msc_row_t where;
    if (where_of(h, x) && split_site(where_of(h, x), buf, sizeof(buf), &where) == 0) {
        msc_json_object_begin(j, NULL);
        msc__json_location(j, &where);
        msc_json_end(j);
    }
    msc_json_end(j);
    msc_json_str(j, "evidence", x->evidence);
    msc_json_str(j, "change", x->change);
    msc_json_end(j);
}

static void write_json(FILE *out, const msc_heap_t *h, const msc_advice_list_t *l, size_t shown)
{
    msc_json_t j;
    msc_json_init(&j, out, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_object_begin(&j, "bytes_saved");
    for (size_t m = 0; m < 3; m++) msc_json_u64(&j, measures[m], saved(l, measures[m]));
    msc_json_end(&j);
    msc_json_u64(&j, "total_advice", l->len);
    msc_json_array_begin(&j, "advice");
    for (size_t i = 0; i < shown; i++) json_advice(&j, h, &l->items[i]);
    msc_json_end(&j);
    msc_json_end(&j);
    (void)msc_json_finish(&j); /* the caller checks the stream */
}

int msc_report_advice(FILE *out, const struct msc_heap *h, const struct msc_advice_list *l,
                      size_t limit, int json)
{
    size_t shown = limit && limit < l->len ? limit : l->len;
    if (json) write_json(out, h, l, shown);
    else write_text(out, h, l, shown);
    return ferror(out) ? MSC_EIO : 0;
}
