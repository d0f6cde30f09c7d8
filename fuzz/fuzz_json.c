/* libFuzzer harness for the JSON writer's string escaper (json.h): any
 * bytes, as a program's name might hold, must come out as one JSON string
 * of valid UTF-8 with no raw control character, quote or backslash (and
 * no '<', '>' or '&' for HTML), that decodes back to the input with each
 * byte that was not UTF-8 replaced by U+FFFD; msc_json_string_size must
 * agree with what is written. The first byte picks the flags. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memscope/json.h"
#include "../src/report/utf8.h"

/* Appends code point c as UTF-8. */
static size_t put_utf8(unsigned char *out, uint32_t c)
{
    if (c < 0x80) return out[0] = (unsigned char)c, 1;
    if (c < 0x800) return out[0] = 0xC0 | c >> 6, out[1] = 0x80 | (c & 63), 2;
    out[0] = 0xE0 | c >> 12, out[1] = 0x80 | ((c >> 6) & 63), out[2] = 0x80 | (c & 63);
    return 3;
}

/* The input with every byte that is not UTF-8 as U+FFFD. */
static size_t expected(const unsigned char *s, size_t n, unsigned char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = msc__utf8_len(s + i, n - i);
        if (k) memcpy(out + o, s + i, k), o += k, i += k;
        else o += put_utf8(out + o, 0xFFFD), i++;
    }
    return o;
}

/* Decodes the JSON string text[0..len) (quotes included); aborts on
 * anything the escaper must not write. */
static size_t decode(const unsigned char *text, size_t len, unsigned flags, unsigned char *out)
{
    size_t o = 0;
    if (len < 2 || text[0] != '"' || text[len - 1] != '"') abort();
    for (size_t i = 1; i + 1 < len;) {
        unsigned char c = text[i];
        if (c < 0x20 || c == 0x7F || c == '"') abort();
        if ((flags & MSC_JSON_HTML) && (c == '<' || c == '>' || c == '&')) abort();
        if (c != '\\') {
            size_t k = msc__utf8_len(text + i, len - 1 - i);
            if (!k) abort();
            memcpy(out + o, text + i, k), o += k, i += k;
            continue;
        }
        const char *simple = strchr("\"\\bfnrt", text[i + 1]);
        if (simple && text[i + 1]) {
            out[o++] = (unsigned char)"\"\\\b\f\n\r\t"[simple - "\"\\bfnrt"];
            i += 2;
            continue;
        }
        if (text[i + 1] != 'u' || i + 6 > len - 1) abort();
        char hex[5] = {0};
        memcpy(hex, text + i + 2, 4);
        o += put_utf8(out + o, (uint32_t)strtoul(hex, NULL, 16));
        i += 6;
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    unsigned flags = data[0] & MSC_JSON_HTML;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) return 0;
    msc_json_put_string(out, s, n, flags);
    fclose(out);
    if (len != msc_json_string_size(s, n, flags)) abort();
    unsigned char *want = malloc(3 * n + 1), *got = malloc(len + 1);
    size_t nw = expected((const unsigned char *)s, n, want);
    size_t ng = decode((const unsigned char *)text, len, flags, got);
    if (nw != ng || memcmp(want, got, nw) != 0) abort();
    free(want);
    free(got);
    free(text);
    return 0;
}
