/* Memory held for nothing, as text: equal str and bytes values held as
 * separate copies (with the interning advice that folds them), and
 * containers that are empty or mostly empty, by kind (with what to change:
 * __slots__, creating the container when first needed, or copying it once
 * it has shrunk). Each table ends with what the advice would save. Both
 * also as JSON. */
#include <stdio.h>
#include <string.h>

#include "memscope/heapreport.h"
#include "memscope/report.h"
#include "report.h"

#define ADVISED_ROWS 3 /* rows of the empty report that get a line of advice */

/* A copy's value as Python would write it ('text' or b'bytes'), from its
 * preview: at most the first MSC_HEAP_MAX_PREVIEW bytes. */
static const char *value_text(const msc_heap_t *h, uint32_t v, char *buf, size_t n)
{
    char type[64], escaped[4 * MSC_HEAP_MAX_PREVIEW + 8];
    size_t len;
    const char *raw = msc_heap_string(h, h->preview[v], &len);
    msc__heap_escape(raw, len, escaped, sizeof(escaped));
    msc_heap_type_name(h, h->type[v], type, sizeof(type));
    snprintf(buf, n, "%s'%s'", strcmp(type, "bytes") == 0 ? "b" : "", escaped);
    return buf;
}

/* Whether some duplicated value is a str, which sys.intern() accepts. */
static int any_str(const msc_heap_t *h, const msc_heap_dups_t *d)
{
    for (size_t i = 0; i < d->len; i++)
        if (strcmp(msc_heap_string(h, h->types[d->groups[i].type].name, NULL), "str") == 0)
            return 1;
    return 0;
}

int msc_heap_write_duplicates(FILE *out, const msc_heap_t *h, const msc_heap_dups_t *d,
                              size_t limit)
{
    size_t shown = limit && limit < d->len ? limit : d->len;
    char a[32], b[32], c[32];
    if (!d->len) {
        fprintf(out, "No str or bytes value is held in more than one copy.\n");
        return ferror(out) ? MSC_EIO : 0;
    }
    fprintf(out,
            "Duplicate str and bytes: %s value%s held %s times; the copies beyond one each "
            "hold %s.\n\n",
            msc__count(d->len, a, sizeof(a)), d->len == 1 ? "" : "s",
            msc__count(d->copies, b, sizeof(b)), msc_format_bytes(d->wasted, c, sizeof(c)));
    fprintf(out, "%10s %12s %12s  %-6s %s\n", "Copies", "Each", "Wasted", "Type",
            "Value (its first bytes)");
    for (size_t i = 0; i < shown; i++) {
        const msc_heap_dup_t *g = &d->groups[i];
        char type[64], name[256], value[4 * MSC_HEAP_MAX_PREVIEW + 16];
        msc_heap_type_name(h, g->type, type, sizeof(type));
        fprintf(out, "%10s %12s %12s  %-6s %s\n", msc__count(g->copies, a, sizeof(a)),
                msc_format_bytes(g->size, b, sizeof(b)), msc_format_bytes(g->wasted, c, sizeof(c)),
                msc__text_in(type, name, sizeof(name)),
                value_text(h, g->example, value, sizeof(value)));
    }
    if (shown < d->len) fprintf(out, "<%zu more values>\n", d->len - shown);
    fprintf(out, "\n%s a dict of canonical values would save %s.\n",
            any_str(h, d) ? "sys.intern() or" : "Keeping one object per value in",
            msc_format_bytes(d->wasted, a, sizeof(a)));
    return ferror(out) ? MSC_EIO : 0;
}

static void write_advice(FILE *out, const msc_heap_empty_row_t *r)
{
    char n[32], bytes[32], kind[MSC_TEXT_BUF];
    msc__text_in(r->kind, kind, sizeof(kind));
    if (r->empty && strncmp(kind, "dict of ", 8) == 0)
        fprintf(out, "%s empty %s: add __slots__ to %s or create the dict lazily\n",
                msc__count(r->empty, n, sizeof(n)), kind, kind + 8);
    else if (r->empty)
        fprintf(out, "%s empty %s: create them when first needed (None until then)\n",
                msc__count(r->empty, n, sizeof(n)), kind);
    if (r->mostly_empty)
        fprintf(out,
                "%s mostly empty %s: replace each with a copy once it has shrunk "
                "(clear() when it holds nothing); right-sizing saves %s\n",
                msc__count(r->mostly_empty, n, sizeof(n)), kind,
                msc_format_bytes(r->saving - r->empty_bytes, bytes, sizeof(bytes)));
}

int msc_heap_write_empty(FILE *out, const msc_heap_empty_t *e, size_t limit)
{
    size_t shown = limit && limit < e->len ? limit : e->len;
    char a[32], b[32], c[32], d[32], s[32];
    fprintf(out, "Containers: %s looked at; %s empty (%s), %s mostly empty (%s).\n",
            msc__count(e->containers, a, sizeof(a)), msc__count(e->empty, b, sizeof(b)),
            msc_format_bytes(e->empty_bytes, c, sizeof(c)),
            msc__count(e->mostly_empty, d, sizeof(d)),
            msc_format_bytes(e->mostly_empty_bytes, s, sizeof(s)));
    if (!e->len) return ferror(out) ? MSC_EIO : 0;
    fprintf(out, "\n%10s %12s %13s %12s %12s  %s\n", "Empty", "Bytes", "Mostly empty", "Bytes",
            "Saving", "Kind");
    for (size_t i = 0; i < shown; i++) {
        const msc_heap_empty_row_t *r = &e->rows[i];
        char kind[MSC_TEXT_BUF];
        fprintf(out, "%10s %12s %13s %12s %12s  %s\n", msc__count(r->empty, a, sizeof(a)),
                msc_format_bytes(r->empty_bytes, b, sizeof(b)),
                msc__count(r->mostly_empty, c, sizeof(c)),
                msc_format_bytes(r->mostly_empty_bytes, d, sizeof(d)),
                msc_format_bytes(r->saving, s, sizeof(s)),
                msc__text_in(r->kind, kind, sizeof(kind)));
    }
    if (shown < e->len) fprintf(out, "<%zu more kinds>\n", e->len - shown);
    fputc('\n', out);
    for (size_t i = 0; i < shown && i < ADVISED_ROWS; i++) write_advice(out, &e->rows[i]);
    fprintf(out, "Not creating the empty ones and right-sizing the others would save %s.\n",
            msc_format_bytes(e->saving, a, sizeof(a)));
    return ferror(out) ? MSC_EIO : 0;
}

/* Members named keys[i] holding values[i]. */
static void json_uints(msc_json_t *j, const char *const *keys, const uint64_t *values, size_t n)
{
    for (size_t i = 0; i < n; i++) msc_json_u64(j, keys[i], values[i]);
}

static void json_dup(msc_json_t *j, const msc_heap_t *h, const msc_heap_dup_t *g)
{
    static const char *const fields[] = {"copies", "bytes_each", "wasted_bytes"};
    char type[64];
    size_t n;
    const char *preview = msc_heap_string(h, h->preview[g->example], &n);
    msc_json_newline(j, 2);
    msc_json_object_begin(j, NULL);
    msc_json_str(j, "type", msc_heap_type_name(h, g->type, type, sizeof(type)));
    msc_json_strn(j, "preview", preview, n);
    json_uints(j, fields, (uint64_t[]){g->copies, g->size, g->wasted}, 3);
    msc__heap_json_object(j, "example", h, g->example);
    msc_json_end(j);
}

int msc_heap_write_duplicates_json(FILE *out, const msc_heap_t *h, const msc_heap_dups_t *d,
                                   size_t limit)
{
    static const char *const totals[] = {"copies", "wasted_bytes"};
    size_t shown = limit && limit < d->len ? limit : d->len;
    msc_json_t j;
    msc_json_init(&j, out, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_u64(&j, "values", d->len);
    json_uints(&j, totals, (uint64_t[]){d->copies, d->wasted}, 2);
    msc_json_array_begin(&j, "rows");
    for (size_t i = 0; i < shown; i++) json_dup(&j, h, &d->groups[i]);
    msc_json_end(&j);
    msc_json_end(&j);
    return msc_json_finish(&j);
}

int msc_heap_write_empty_json(FILE *out, const msc_heap_t *h, const msc_heap_empty_t *e,
                              size_t limit)
{
    static const char *const fields[] = {"empty", "empty_bytes", "mostly_empty",
                                         "mostly_empty_bytes", "saving_bytes"};
    size_t shown = limit && limit < e->len ? limit : e->len;
    msc_json_t j;
    msc_json_init(&j, out, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_u64(&j, "containers", e->containers);
    json_uints(
        &j, fields,
        (uint64_t[]){e->empty, e->empty_bytes, e->mostly_empty, e->mostly_empty_bytes, e->saving},
        5);
    msc_json_u64(&j, "total_rows", e->len);
    msc_json_array_begin(&j, "rows");
    for (size_t i = 0; i < shown; i++) {
        const msc_heap_empty_row_t *r = &e->rows[i];
        msc_json_newline(&j, 2);
        msc_json_object_begin(&j, NULL);
        msc_json_str(&j, "kind", r->kind);
        json_uints(&j, fields,
                   (uint64_t[]){r->empty, r->empty_bytes, r->mostly_empty, r->mostly_empty_bytes,
                                r->saving},
                   5);
        msc__heap_json_object(&j, "example", h, r->example);
        msc_json_end(&j);
    }
    msc_json_end(&j);
    msc_json_end(&j);
    return msc_json_finish(&j);
}
