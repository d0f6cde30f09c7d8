/* `memscope advise`: the advice list as text (numbered, most bytes saved
 * first, each with its evidence, the change and where the objects were
 * allocated) or as one JSON object (docs/reports.md, "memscope advise"). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "memscope/advise.h"
#include "memscope/report.h"
#include "report.h"

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

static void write_text(FILE *out, const msc_heap_t *h, const msc_advice_list_t *l, size_t shown)
{
    uint64_t total = 0;
    char a[32];
    for (size_t i = 0; i < l->len; i++) total += l->items[i].bytes_saved;
    if (!l->len) {
        fputs("No advice: no rule found memory to save in this snapshot.\n", out);
        return;
    }
    fprintf(out, "%zu piece%s of advice, saving %s in all:\n", l->len, l->len == 1 ? "" : "s",
            msc_format_bytes(total, a, sizeof(a)));
    for (size_t i = 0; i < shown; i++) {
        const msc_advice_t *x = &l->items[i];
        fprintf(out, "\n%2zu. ", i + 1);
        msc__text(out, x->title); /* they hold the program's names */
        fprintf(out, "  (saves %s, %llu bytes) [%s]\n    why:    ",
                msc_format_bytes(x->bytes_saved, a, sizeof(a)),
                (unsigned long long)x->bytes_saved, x->rule);
        msc__text(out, x->evidence);
        fputs("\n    change: ", out);
        msc__text(out, x->change);
        fputc('\n', out);
        if (x->site) {
            fputs("    where:  ", out);
            msc__text(out, msc_heap_string(h, x->site, NULL));
            fputc('\n', out);
        }
    }
    if (shown < l->len) fprintf(out, "\n... %zu more (use --limit)\n", l->len - shown);
}

static void write_json(FILE *out, const msc_heap_t *h, const msc_advice_list_t *l, size_t shown)
{
    uint64_t total = 0;
    for (size_t i = 0; i < l->len; i++) total += l->items[i].bytes_saved;
    fprintf(out, "{\"bytes_saved\": %llu, \"total_advice\": %zu, \"advice\": [",
            (unsigned long long)total, l->len);
    for (size_t i = 0; i < shown; i++) {
        const msc_advice_t *x = &l->items[i];
        fprintf(out, "%s{\"rule\": \"%s\", \"title\": ", i ? ",\n  " : "\n  ", x->rule);
        msc__json_text(out, x->title);
        fprintf(out, ", \"bytes_saved\": %llu, \"where\": [", (unsigned long long)x->bytes_saved);
        char buf[2048];
        msc_row_t where;
        if (x->site && split_site(msc_heap_string(h, x->site, NULL), buf, sizeof(buf), &where) == 0) {
            fputc('{', out);
            msc__json_location(out, &where);
            fputc('}', out);
        }
        fputs("], \"evidence\": ", out);
        msc__json_text(out, x->evidence);
        fputs(", \"change\": ", out);
        msc__json_text(out, x->change);
        fputc('}', out);
    }
    fputs("]}\n", out);
}

int msc_report_advice(FILE *out, const struct msc_heap *h, const struct msc_advice_list *l,
                      size_t limit, int json)
{
    size_t shown = limit && limit < l->len ? limit : l->len;
    if (json) write_json(out, h, l, shown);
    else write_text(out, h, l, shown);
    return ferror(out) ? MSC_EIO : 0;
}
