/* The JSON writer (include/memscope/json.h): nesting and separators, the
 * one escaping policy every output shares (controls, quotes, backslash,
 * invalid UTF-8 as U+FFFD, overlong forms, surrogates, the HTML flag), the
 * cut with an ellipsis, nesting deeper than the writer's inline levels, and
 * that escaped sizes agree with what is written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "memscope/json.h"

typedef struct buf {
    char *text;                /* owned, from open_memstream */
    size_t len;
    FILE *out;
} buf_t;

static msc_json_t *open_buf(buf_t *b, msc_json_t *j, unsigned flags)
{
    b->text = NULL;
    b->out = open_memstream(&b->text, &b->len);
    msc_json_init(j, b->out, flags);
    return j;
}

/* Closes the stream; the text stays in b->text (caller frees). */
static const char *close_buf(buf_t *b, msc_json_t *j)
{
    CHECK_EQ(msc_json_release(j), 0);
    fclose(b->out);
    return b->text;
}

/* s as one JSON string by the writer's policy, compared with want. */
static int escapes_to(const char *s, size_t n, unsigned flags, const char *want)
{
    buf_t b;
    msc_json_t j;
    msc_json_strn(open_buf(&b, &j, flags), NULL, s, n);
    int same = strcmp(close_buf(&b, &j), want) == 0;
    if (!same) fprintf(stderr, "escaped to %s, wanted %s\n", b.text, want);
    CHECK_EQ(msc_json_string_size(s, n, flags), strlen(b.text));
    free(b.text);
    return same;
}

static void test_nesting(void)
{
    buf_t b;
    msc_json_t j;
    open_buf(&b, &j, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_str(&j, "view", "peak");
    msc_json_u64(&j, "total_bytes", 18446744073709551615ull);
    msc_json_i64(&j, "delta", -5);
    msc_json_f64(&j, "time_s", 1.5, 6);
    msc_json_bool(&j, "complete", 1);
    msc_json_bool(&j, "native", 0);
    msc_json_null(&j, "line");
    msc_json_str(&j, "function", NULL);
    msc_json_array_begin(&j, "rows");
    msc_json_object_begin(&j, NULL);
    msc_json_u64(&j, "bytes", 1);
    msc_json_end(&j);
    msc_json_array_begin(&j, NULL);
    msc_json_end(&j);
    msc_json_u64(&j, NULL, 2);
    msc_json_end(&j);
    msc_json_object_begin(&j, "empty");
    msc_json_end(&j);
    msc_json_key(&j, "raw");
    fputs("[7]", j.out);
    msc_json_end(&j);
    CHECK(strcmp(close_buf(&b, &j),
                 "{\"view\": \"peak\", \"total_bytes\": 18446744073709551615, \"delta\": -5, "
                 "\"time_s\": 1.500000, \"complete\": true, \"native\": false, \"line\": null, "
                 "\"function\": null, \"rows\": [{\"bytes\": 1}, [], 2], \"empty\": {}, "
                 "\"raw\": [7]}") == 0);
    free(b.text);
}

static void test_newlines(void)
{
    buf_t b;
    msc_json_t j;
    open_buf(&b, &j, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_array_begin(&j, "frames");
    for (int i = 0; i < 2; i++) {
        msc_json_newline(&j, i);
        msc_json_object_begin(&j, NULL);
        msc_json_i64(&j, "i", i);
        msc_json_end(&j);
    }
    msc_json_end(&j);
    msc_json_newline(&j, 0);
    msc_json_str(&j, "name", "x");
    msc_json_member(&j, "tree");
    msc_json_newline(&j, 0);
    msc_json_object_begin(&j, NULL);
    msc_json_end(&j);
    msc_json_u64(&j, "n", 1);
    msc_json_end(&j);
    CHECK(strcmp(close_buf(&b, &j), "{\"frames\": [\n{\"i\": 0},\n {\"i\": 1}],\n\"name\": \"x\", "
                                    "\"tree\": \n{}, \"n\": 1}") == 0);
    free(b.text);
}

/* Call trees nest thousands deep: past the inline levels the kinds are
 * kept in the grown array, and every bracket closes the right way. */
static void test_deep(void)
{
    buf_t b;
    msc_json_t j;
    enum { DEPTH = 5000 };
    open_buf(&b, &j, 0);
    for (int i = 0; i < DEPTH; i++) {
        if (i % 3 == 0) msc_json_array_begin(&j, NULL);
        else if (i % 3 == 1) msc_json_object_begin(&j, NULL);
        else msc_json_array_begin(&j, "k");
    }
    while (j.depth) msc_json_end(&j);
    const char *t = close_buf(&b, &j);
    /* Brackets match as a stack would close them. */
    char *stack = malloc(strlen(t) + 1);
    size_t top = 0;
    int ok = 1;
    for (const char *p = t; *p; p++) {
        if (*p == '[' || *p == '{') stack[top++] = *p;
        else if (*p == ']') ok &= top > 0 && stack[--top] == '[';
        else if (*p == '}') ok &= top > 0 && stack[--top] == '{';
    }
    CHECK(ok);
    CHECK_EQ(top, 0);
    CHECK(strncmp(t, "[{\"k\": [[{\"k\": [", 16) == 0);
    free(stack);
    free(b.text);
}

static void test_escapes(void)
{
    CHECK(escapes_to("a\"b\\c", 5, 0, "\"a\\\"b\\\\c\""));
    CHECK(escapes_to("\n\r\t\b\f", 5, 0, "\"\\n\\r\\t\\b\\f\""));
    CHECK(escapes_to("\x01\x1f\x7f", 3, 0, "\"\\u0001\\u001f\\u007f\""));
    CHECK(escapes_to("a\0b", 3, 0, "\"a\\u0000b\""));
    CHECK(escapes_to("</script>&", 10, 0, "\"</script>&\""));
    CHECK(escapes_to("</script>&", 10, MSC_JSON_HTML, "\"\\u003c/script\\u003e\\u0026\""));
    /* Valid UTF-8 is kept: 2, 3 and 4 bytes, the last code point. */
    CHECK(escapes_to("caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", 19, 0,
                     "\"caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\""));
    /* U+2028/2029 end a line to JavaScript: escaped for HTML only. */
    CHECK(escapes_to("\xe2\x80\xa8\xe2\x80\xa9", 6, 0, "\"\xe2\x80\xa8\xe2\x80\xa9\""));
    CHECK(escapes_to("\xe2\x80\xa8\xe2\x80\xa9", 6, MSC_JSON_HTML, "\"\\u2028\\u2029\""));
}

/* Every byte that does not start a valid sequence becomes one U+FFFD. */
static void test_invalid_utf8(void)
{
    CHECK(escapes_to("\xff\xfe", 2, 0, "\"\\ufffd\\ufffd\""));
    CHECK(escapes_to("a\x80z", 3, 0, "\"a\\ufffdz\""));              /* stray continuation */
    CHECK(escapes_to("\xc0\xaf", 2, 0, "\"\\ufffd\\ufffd\""));       /* overlong '/' */
    CHECK(escapes_to("\xc1\xbf", 2, 0, "\"\\ufffd\\ufffd\""));       /* overlong 2-byte */
    CHECK(escapes_to("\xe0\x80\xaf", 3, 0, "\"\\ufffd\\ufffd\\ufffd\"")); /* overlong 3-byte */
    CHECK(escapes_to("\xf0\x80\x80\xaf", 4, 0, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""));
    CHECK(escapes_to("\xed\xa0\x80", 3, 0, "\"\\ufffd\\ufffd\\ufffd\""));  /* surrogate D800 */
    CHECK(escapes_to("\xed\xbf\xbf", 3, 0, "\"\\ufffd\\ufffd\\ufffd\""));  /* surrogate DFFF */
    CHECK(
        escapes_to("\xf4\x90\x80\x80", 4, 0, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"")); /* > U+10FFFF */
    CHECK(escapes_to("\xf5\x80", 2, 0, "\"\\ufffd\\ufffd\""));
    CHECK(escapes_to("x\xe2\x98", 3, 0, "\"x\\ufffd\\ufffd\"")); /* cut at the end */
    CHECK(escapes_to("\xe2\x98z", 3, 0, "\"\\ufffd\\ufffdz\"")); /* cut before ASCII */
    /* The last code point before the surrogates is text. */
    CHECK(escapes_to("\xed\x9f\xbf", 3, 0, "\"\xed\x9f\xbf\""));
}

static void test_cut(void)
{
    buf_t b;
    msc_json_t j;
    open_buf(&b, &j, MSC_JSON_HTML);
    msc_json_array_begin(&j, NULL);
    msc_json_str_cut(&j, NULL, "abcdef", 6);
    msc_json_str_cut(&j, NULL, "abcdef", 3);
    msc_json_str_cut(&j, NULL, "ab\xe2\x98\x83z", 4); /* never splits the snowman */
    msc_json_str_cut(&j, NULL, "<<<<", 2);
    msc_json_end(&j);
    CHECK(strcmp(close_buf(&b, &j), "[\"abcdef\", \"abc\xe2\x80\xa6\", \"ab\xe2\x80\xa6\", "
                                    "\"\\u003c\\u003c\xe2\x80\xa6\"]") == 0);
    free(b.text);
}

/* Random bytes always give a string of printable ASCII or valid UTF-8 with
 * no raw control, quote or backslash, and the size agrees. */
static void test_random(void)
{
    unsigned seed = 12345;
    char s[64];
    int ok = 1;
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(round % 64);
        for (size_t i = 0; i < n; i++) s[i] = (char)((seed = seed * 1103515245u + 12345u) >> 16);
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        unsigned flags = round & 1 ? MSC_JSON_HTML : 0;
        msc_json_put_string(out, s, n, flags);
        fclose(out);
        ok &= len == msc_json_string_size(s, n, flags) && text[0] == '"' && text[len - 1] == '"';
        for (size_t i = 1; i + 1 < len;) {
            const unsigned char *p = (const unsigned char *)text + i;
            if (*p == '\\') {
                ok &= strchr("\"\\bfnrtu", p[1]) != NULL;
                i += p[1] == 'u' ? 6 : 2;
                continue;
            }
            ok &= *p >= 0x20 && *p != 0x7F && *p != '"';
            if (flags) ok &= *p != '<' && *p != '>' && *p != '&';
            i++;
        }
        free(text);
    }
    CHECK(ok);
}

int main(void)
{
    test_nesting();
    test_newlines();
    test_deep();
    test_escapes();
    test_invalid_utf8();
    test_cut();
    test_random();
    return check_done("json");
}
