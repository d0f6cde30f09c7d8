/* Small helpers every report writer shares: text escaping for terminals
 * (every string from the traced program is escaped, whatever bytes it
 * holds), byte sizes for people, view names, and a row's location as JSON
 * members. */
#include <stdio.h>
#include <string.h>

#include "memscope/json.h"
#include "memscope/report.h"
#include "report.h"
#include "utf8.h"

/* The bytes of s at i that show as they are on a terminal (0: escape s[i]):
 * printable ASCII and UTF-8 text, but no C0 or C1 control, DEL, or byte
 * that is not UTF-8. */
static size_t plain_len(const unsigned char *s, size_t len, int quote)
{
    size_t k = msc__utf8_len(s, len);
    if (k == 1) return s[0] >= 0x20 && s[0] != 0x7F && s[0] != quote;
    return k == 2 && s[0] == 0xC2 && s[1] < 0xA0 ? 0 : k;
}

size_t msc__text_escape(const char *text, size_t len, char *out, size_t n, int quote)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t k = plain_len(s + i, len - i, quote);
        if (o + (k ? k : 4) >= n) break;
        if (k) memcpy(out + o, s + i, k), o += k, i += k;
        else o += (size_t)snprintf(out + o, n - o, "\\x%02x", s[i++]);
    }
    if (n) out[o] = 0;
    return o;
}

const char *msc__text_in(const char *s, char *buf, size_t n)
{
    msc__text_escape(s, strlen(s), buf, n, 0);
    return buf;
}

/* len bytes of text to out, escaped; a tab kept as it is when tabs says. */
static void put_escaped(FILE *out, const char *text, size_t len, int tabs)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        size_t k = tabs && s[i] == '\t' ? 1 : plain_len(s + i, len - i, 0);
        if (k) fwrite(s + i, 1, k, out), i += k;
        else fprintf(out, "\\x%02x", s[i++]);
    }
}

void msc__text(FILE *out, const char *text)
{
    put_escaped(out, text, strlen(text), 0);
}

void msc__text_source(FILE *out, const char *text, size_t len)
{
    put_escaped(out, text, len, 1);
}

void msc_put_text(FILE *out, const char *s)
{
    msc__text(out, s);
}

const char *msc_text_shown(const char *s, char *buf, size_t n)
{
    return msc__text_in(s, buf, n);
}

const char *msc_view_name(msc_view_t v)
{
    switch (v) {
    case MSC_VIEW_PEAK: return "peak";
    case MSC_VIEW_EXIT: return "exit";
    case MSC_VIEW_CPU: return "cpu";
    case MSC_VIEW_WALL: return "wall";
    case MSC_VIEW_NATIVE_CPU: return "native_cpu";
    default: return "total";
    }
}

const char *msc_format_seconds(uint64_t ns, char *buf, size_t n)
{
    double s = (double)ns / 1e9;
    if (ns == 0) snprintf(buf, n, "0 s");
    else if (s < 0.01) snprintf(buf, n, "%.1f ms", s * 1e3);
    else snprintf(buf, n, "%.2f s", s);
    return buf;
}

const char *msc_format_bytes(uint64_t bytes, char *buf, size_t n)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0) snprintf(buf, n, "%llu B", (unsigned long long)bytes);
    else snprintf(buf, n, "%.1f %s", v, units[u]);
    return buf;
}

const char *msc__count(uint64_t v, char *buf, size_t n)
{
    char digits[32];
    int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
    return buf;
}

void msc__location(FILE *out, const msc_row_t *r)
{
    msc__text(out, r->file);
    if (r->line) fprintf(out, ":%u", r->line);
    if (r->function) {
        fputs(" in ", out);
        msc__text(out, r->function);
    }
}

void msc__json_location(msc_json_t *j, const msc_row_t *r)
{
    msc_json_str(j, "file", r->file);
    msc_json_str(j, "function", r->function);
    if (r->line) msc_json_u64(j, "line", r->line);
    else msc_json_null(j, "line");
}
