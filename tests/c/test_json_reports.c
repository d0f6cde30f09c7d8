/* Program names with bytes that are not UTF-8 in every JSON output: a
 * capture written through the real sink holds a file name, a function name
 * and an argument with such bytes; stats, table, export json and export
 * speedscope, and the HTML report's data, must each be valid JSON (checked
 * by a strict parser here) with U+FFFD where the bytes were, and the valid
 * text around them kept; the report's data also holds no '<', so a name
 * cannot close its <script> element. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture_util.h"
#include "check.h"
#include "memscope/export.h"
#include "memscope/html.h"
#include "memscope/report.h"
#include "../../src/report/utf8.h"

/* A strict JSON parser that only says whether text is one valid value. */
typedef struct parser {
    const unsigned char *p;
    int depth;
} parser_t;

static int value(parser_t *s);

static void space(parser_t *s)
{
    while (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t') s->p++;
}

static int string(parser_t *s)
{
    if (*s->p++ != '"') return 0;
    while (*s->p != '"') {
        if (*s->p < 0x20) return 0;
        if (*s->p == '\\') {
            s->p++;
            if (*s->p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", s->p[i]) || !s->p[i]) return 0;
                s->p += 5;
            } else if (*s->p && strchr("\"\\/bfnrt", *s->p)) s->p++;
            else return 0;
            continue;
        }
        size_t k = msc__utf8_len(s->p, strlen((const char *)s->p));
        if (!k) return 0;
        s->p += k;
    }
    s->p++;
    return 1;
}

static int number(parser_t *s)
{
    const unsigned char *start = s->p;
    if (*s->p == '-') s->p++;
    while (*s->p >= '0' && *s->p <= '9') s->p++;
    if (*s->p == '.') {
        s->p++;
        while (*s->p >= '0' && *s->p <= '9') s->p++;
    }
    return s->p > start && s->p[-1] != '-' && s->p[-1] != '.';
}

static int members(parser_t *s, char close, int keyed)
{
    s->p++;
    space(s);
    if (*s->p == close) return s->p++, 1;
    for (;;) {
        space(s);
        if (keyed) {
            if (!string(s)) return 0;
            space(s);
            if (*s->p++ != ':') return 0;
        }
        if (!value(s)) return 0;
        space(s);
        if (*s->p == close) return s->p++, 1;
        if (*s->p++ != ',') return 0;
    }
}

static int value(parser_t *s)
{
    space(s);
    if (++s->depth > 1000) return 0;
    int ok;
    if (*s->p == '{') ok = members(s, '}', 1);
    else if (*s->p == '[') ok = members(s, ']', 0);
    else if (*s->p == '"') ok = string(s);
    else if (!strncmp((const char *)s->p, "true", 4)) ok = 1, s->p += 4;
    else if (!strncmp((const char *)s->p, "false", 5)) ok = 1, s->p += 5;
    else if (!strncmp((const char *)s->p, "null", 4)) ok = 1, s->p += 4;
    else ok = number(s);
    s->depth--;
    return ok;
}

static int valid_json(const char *text)
{
    parser_t s = {(const unsigned char *)text, 0};
    if (!value(&s)) return 0;
    space(&s);
    return *s.p == 0;
}

static const uint8_t table0[] = {0x80, 0x00, 0xE8, 0x02};

/* argv[1] holds a stray byte, the file an overlong '/', the function a
 * surrogate and a cut sequence. */
static char *argv_bad[] = {"prog.py", "--name=caf\xc3\xa9\xff"};
#define BAD_FILE "dir\xc0\xafmod\xc3\xa9.py"
#define BAD_FUNCTION "load\xed\xa0\x80_\xe2\x98"

static const char *write_capture(void)
{
    const char *path = tc_path("bad-utf8.msc");
    msc_header_t h;
    tc_capture_t c;
    tc_default_header(&h);
    h.argv = argv_bad;
    if (tc_open(&c, path, &h) != 0) return NULL;
    tc_string(&c, 1, BAD_FILE);
    tc_string(&c, 2, BAD_FUNCTION);
    tc_code(&c, 0, 1, 2, 10, table0, sizeof(table0));
    uint32_t node = tc_node(&c, 0, 0, 2);
    tc_alloc(&c, MSC_DOMAIN_OBJ, 0x10000, 4096, node);
    return msc_sink_close(c.sink, 1000) == 0 ? path : NULL;
}

/* One output, checked: valid JSON, U+FFFD for each bad byte of the names
 * it shows, no raw bad byte, the valid text kept. */
static void check_output(const char *what, const char *text, int shows_argv)
{
    int ok = valid_json(text);
    if (!ok) fprintf(stderr, "%s: not valid JSON: %.300s\n", what, text);
    CHECK(ok);
    CHECK(strstr(text, "\"dir\\ufffd\\ufffdmod\xc3\xa9.py\"") != NULL);
    CHECK(strstr(text, "load\\ufffd\\ufffd\\ufffd_\\ufffd\\ufffd\"") != NULL);
    if (shows_argv) CHECK(strstr(text, "\"--name=caf\xc3\xa9\\ufffd\"") != NULL);
    CHECK(strstr(text, "\xff") == NULL && strstr(text, "\xc0") == NULL);
}

typedef int (*report_fn)(const msc_report_ctx_t *ctx, FILE *out, int arg);

static int stats(const msc_report_ctx_t *ctx, FILE *out, int arg)
{
    return msc_report_stats(ctx, out, 1, (size_t)arg);
}

static int table(const msc_report_ctx_t *ctx, FILE *out, int arg)
{
    msc_table_options_t opt = {MSC_VIEW_PEAK, (msc_group_t)arg, 0};
    return msc_report_table(ctx, out, 1, &opt);
}

static int export(const msc_report_ctx_t *ctx, FILE *out, int arg)
{
    return msc_export(ctx, out, (msc_export_format_t)arg, MSC_VIEW_PEAK);
}

/* The HTML report: the JSON inside its data element. */
static void check_html(const msc_report_ctx_t *ctx)
{
    static const char open[] = "<script type=\"application/json\" id=\"memscope-data\">";
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    CHECK_EQ(msc_report_html(ctx, out, NULL), 0);
    fclose(out);
    char *data = strstr(text, open), *end = data ? strstr(data, "</script>") : NULL;
    CHECK(data && end);
    if (data && end) {
        data += sizeof(open) - 1;
        *end = 0;
        CHECK(strchr(data, '<') == NULL);
        /* The page names frames by index into one table: the names are
         * in it, function then file. */
        CHECK(strstr(data, "[\"load\\ufffd\\ufffd\\ufffd_\\ufffd\\ufffd\",\"dir") != NULL);
        check_output("report data", data, 1);
    }
    free(text);
}

static void run(const msc_report_ctx_t *ctx, const char *what, report_fn fn, int arg, int argv)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    CHECK_EQ(fn(ctx, out, arg), 0);
    fclose(out);
    check_output(what, text, argv);
    free(text);
}

int main(void)
{
    const char *path = write_capture();
    CHECK(path != NULL);
    msc_analysis_t *a = msc_analysis_new();
    msc_replay_t *r = NULL;
    msc_error_info_t info = {0, NULL};
    CHECK_EQ(path ? msc_analyse_file(path, a, &r, &info, NULL, NULL) : -1, 0);
    if (r) {
        msc_report_ctx_t ctx = {a, r, path, 0};
        run(&ctx, "stats --json", stats, 10, 1);
        run(&ctx, "table --json", table, MSC_BY_LINE, 0);
        run(&ctx, "export json", export, MSC_EXPORT_JSON, 0);
        run(&ctx, "export speedscope", export, MSC_EXPORT_SPEEDSCOPE, 0);
        check_html(&ctx);
    }
    msc_replay_free(r);
    msc_analysis_free(a);
    tc_cleanup();
    return check_done("json reports");
}
