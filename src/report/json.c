/* The JSON writer (include/memscope/json.h): nesting, separators and keys
 * for every --json output and export, and the one string escaper they all
 * share. Program strings are validated as UTF-8 here (utf8.h), so a name
 * with any bytes at all still makes valid JSON, with U+FFFD where a byte
 * was not text. The writes are stdio's unlocked forms: one writer owns its
 * stream, and a call tree is millions of small writes. */
#include <string.h>

#include "memscope/common.h"
#include "memscope/json.h"
#include "utf8.h"

void msc_json_init(msc_json_t *j, FILE *out, unsigned flags)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
    j->flags = flags;
    j->first = 1;
    j->newline = -1;
}

int msc_json_release(msc_json_t *j)
{
    msc_free(j->more);
    j->more = NULL;
    j->more_words = 0;
    return j->error;
}

int msc_json_finish(msc_json_t *j)
{
    fputc('\n', j->out);
    int err = msc_json_release(j);
    return err ? err : ferror(j->out) ? MSC_EIO : 0;
}

/* The word holding level d's kind bit, growing the deep levels' array when
 * d passes it; NULL when that fails. */
static uint64_t *kind_word(msc_json_t *j, size_t d)
{
    if (d < MSC_JSON_INLINE_DEPTH) return &j->kinds[d / 64];
    size_t w = (d - MSC_JSON_INLINE_DEPTH) / 64;
    if (w >= j->more_words) {
        size_t n = j->more_words ? j->more_words * 2 : 16;
        uint64_t *more = msc_realloc(j->more, n * sizeof(uint64_t));
        if (!more) return NULL;
        memset(more + j->more_words, 0, (n - j->more_words) * sizeof(uint64_t));
        j->more = more;
        j->more_words = n;
    }
    return &j->more[w];
}

/* A few bytes: putc_unlocked stores into stdio's buffer inline, where an
 * fwrite is a library call with its own checks, several times the cost of
 * the separator or number it writes. */
static inline void put_few(FILE *out, const char *s, size_t n)
{
    if (n > 24) {
        fwrite_unlocked(s, 1, n, out);
        return;
    }
    for (size_t i = 0; i < n; i++) putc_unlocked(s[i], out);
}

/* What goes before an element: its separator, line break and key, put
 * together and written at once (a key too long for the buffer is written
 * in parts). */
static void element(msc_json_t *j, const char *key)
{
    char buf[96];
    size_t n = 0, k = key ? strlen(key) : 0;
    if (!j->first) buf[n++] = ',';
    if (j->newline >= 0) {
        buf[n++] = '\n';
        for (int s = 0; s < j->newline && n < 16; s++) buf[n++] = ' ';
    } else if (!j->first && !(j->flags & MSC_JSON_COMPACT)) {
        buf[n++] = ' ';
    }
    size_t colon = j->flags & MSC_JSON_COMPACT ? 2 : 3; /* '":' and a space unless compact */
    j->first = 0;
    j->newline = -1;
    if (key && k + 4 <= sizeof(buf) - n) {
        buf[n++] = '"';
        memcpy(buf + n, key, k);
        memcpy(buf + n + k, "\": ", 3);
        n += k + colon;
    } else if (key) {
        fwrite_unlocked(buf, 1, n, j->out);
        n = 0;
        fputc_unlocked('"', j->out);
        fputs_unlocked(key, j->out);
        fwrite_unlocked("\": ", 1, colon, j->out);
    }
    put_few(j->out, buf, n);
}

static void begin(msc_json_t *j, const char *key, int array)
{
    element(j, key);
    fputc_unlocked(array ? '[' : '{', j->out);
    uint64_t *w = kind_word(j, j->depth);
    uint64_t bit = 1ull << (j->depth % 64);
    if (!w) j->error = MSC_ENOMEM;
    else if (array) *w |= bit;
    else *w &= ~bit;
    j->depth++;
    j->first = 1;
}

void msc_json_object_begin(msc_json_t *j, const char *key)
{
    begin(j, key, 0);
}

void msc_json_array_begin(msc_json_t *j, const char *key)
{
    begin(j, key, 1);
}

void msc_json_end(msc_json_t *j)
{
    if (j->depth == 0) return;
    j->depth--;
    uint64_t *w = kind_word(j, j->depth);
    int array = w && (*w >> (j->depth % 64)) & 1;
    fputc_unlocked(array ? ']' : '}', j->out);
    /* The container just closed is an element of the one around it. */
    j->first = 0;
    j->newline = -1;
}

void msc_json_newline(msc_json_t *j, int indent)
{
    j->newline = indent;
}

void msc_json_compact(msc_json_t *j, int on)
{
    if (on) j->flags |= MSC_JSON_COMPACT;
    else j->flags &= ~MSC_JSON_COMPACT;
}

void msc_json_key(msc_json_t *j, const char *key)
{
    element(j, key);
}

void msc_json_member(msc_json_t *j, const char *key)
{
    element(j, key);
    j->first = 1; /* the value takes no separator of its own */
}

/* The escape of one byte that is not written as it is, or NULL. */
static const char *short_escape(unsigned char c)
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\b': return "\\b";
    case '\f': return "\\f";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: return NULL;
    }
}

static int html_special(unsigned char c)
{
    return c == '<' || c == '>' || c == '&';
}

/* U+2028 and U+2029 (E2 80 A8/A9): line terminators to JavaScript. */
static int js_line_break(const unsigned char *s, size_t k)
{
    return k == 3 && s[0] == 0xE2 && s[1] == 0x80 && (s[2] == 0xA8 || s[2] == 0xA9);
}

/* Writes (out != NULL) or counts the escaped form of the character at s;
 * *used is set to the bytes of s it stands for. */
static size_t put_char(FILE *out, const unsigned char *s, size_t n, unsigned flags, size_t *used)
{
    size_t k = msc__utf8_len(s, n);
    const char *e = k == 1 ? short_escape(s[0]) : NULL;
    char buf[8];
    *used = k ? k : 1;
    if (k == 0) e = "\\ufffd";
    else if (k == 1 &&
             (s[0] < 0x20 || s[0] == 0x7F || ((flags & MSC_JSON_HTML) && html_special(s[0]))) && !e)
        e = buf, snprintf(buf, sizeof(buf), "\\u%04x", s[0]);
    else if ((flags & MSC_JSON_HTML) && js_line_break(s, k))
        e = s[2] == 0xA8 ? "\\u2028" : "\\u2029";
    if (!e) {
        if (out) fwrite_unlocked(s, 1, k, out);
        return k;
    }
    if (out) fputs_unlocked(e, out);
    return strlen(e);
}

/* Whether byte c is ASCII written as it is under flags. */
static int plain_ascii(unsigned char c, unsigned flags)
{
    return c >= 0x20 && c < 0x7F && c != '"' && c != '\\' &&
           !((flags & MSC_JSON_HTML) && html_special(c));
}

static void put_chars(FILE *out, const char *s, size_t n, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0, used; i < n; i += used) {
        /* Runs of plain ASCII (most names) go out in one write. */
        size_t run = 0;
        while (i + run < n && plain_ascii(p[i + run], flags)) run++;
        if (run) {
            fwrite_unlocked(p + i, 1, run, out);
            used = run;
        } else {
            put_char(out, p + i, n - i, flags, &used);
        }
    }
}

void msc_json_put_string(FILE *out, const char *s, size_t n, unsigned flags)
{
    fputc_unlocked('"', out);
    put_chars(out, s, n, flags);
    fputc_unlocked('"', out);
}

size_t msc_json_string_size(const char *s, size_t n, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t size = 2;
    for (size_t i = 0, used; i < n; i += used) size += put_char(NULL, p + i, n - i, flags, &used);
    return size;
}

void msc_json_strn(msc_json_t *j, const char *key, const char *s, size_t n)
{
    element(j, key);
    msc_json_put_string(j->out, s, n, j->flags);
}

void msc_json_str(msc_json_t *j, const char *key, const char *s)
{
    if (!s) msc_json_null(j, key);
    else msc_json_strn(j, key, s, strlen(s));
}

void msc_json_str_cut(msc_json_t *j, const char *key, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max) {
        msc_json_strn(j, key, s, n);
        return;
    }
    /* Back to the start of the character at max, so none is split. */
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) max--;
    element(j, key);
    fputc_unlocked('"', j->out);
    put_chars(j->out, s, max, j->flags);
    fputs_unlocked("\u2026\"", j->out);
}

/* Digits by hand: numbers are most of a call tree's output, and a few
 * putc_unlocked cost far less than a fprintf. */
static void put_u64(FILE *out, uint64_t v)
{
    char buf[24];
    size_t i = sizeof(buf);
    do buf[--i] = (char)('0' + v % 10);
    while (v /= 10);
    put_few(out, buf + i, sizeof(buf) - i);
}

void msc_json_u64(msc_json_t *j, const char *key, uint64_t v)
{
    element(j, key);
    put_u64(j->out, v);
}

void msc_json_i64(msc_json_t *j, const char *key, int64_t v)
{
    element(j, key);
    if (v < 0) fputc_unlocked('-', j->out);
    put_u64(j->out, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

void msc_json_f64(msc_json_t *j, const char *key, double v, int precision)
{
    element(j, key);
    fprintf(j->out, "%.*f", precision, v);
}

void msc_json_bool(msc_json_t *j, const char *key, int v)
{
    element(j, key);
    fputs_unlocked(v ? "true" : "false", j->out);
}

void msc_json_null(msc_json_t *j, const char *key)
{
    element(j, key);
    fputs_unlocked("null", j->out);
}
