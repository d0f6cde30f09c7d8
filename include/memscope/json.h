/* The JSON writer every --json output and export goes through (modelled on
 * git's json-writer.h): it keeps the nesting, puts the ", " between
 * elements, writes keys, and escapes every string by one policy, so program
 * data (names, paths, previews) always comes out as valid JSON:
 *
 *   - '"' and '\\' are backslash-escaped; \b \f \n \r \t by their short
 *     forms; other C0 controls and DEL as \u00XX;
 *   - UTF-8 text is kept as it is; every byte that does not start a valid
 *     UTF-8 sequence (stray continuation bytes, overlong forms, surrogates,
 *     code points past U+10FFFF, cut sequences) becomes \ufffd;
 *   - with MSC_JSON_HTML, '<', '>', '&', U+2028 and U+2029 also become \u
 *     escapes, so the text is safe inside an HTML <script> element (no
 *     program string can close it) and inside a JavaScript string literal.
 *
 * The layout is one line, "key": value pairs separated by ", " (or by ","
 * and ":" with MSC_JSON_COMPACT), unless a writer asks for a line break
 * (msc_json_newline) before an element:
 *
 *   msc_json_t j;
 *   msc_json_init(&j, out, 0);
 *   msc_json_object_begin(&j, NULL);
 *   msc_json_str(&j, "view", "peak");
 *   msc_json_array_begin(&j, "rows");
 *   msc_json_u64(&j, NULL, 42);
 *   msc_json_end(&j);
 *   msc_json_end(&j);          // {"view": "peak", "rows": [42]}
 *   rc = msc_json_release(&j);
 *
 * key is the member's name inside an object and NULL inside an array (and
 * for the outermost value). Keys are the writer's own ASCII names and are
 * written as they are. */
#ifndef MEMSCOPE_JSON_H
#define MEMSCOPE_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Strings also safe inside an HTML <script> element. */
#define MSC_JSON_HTML 1u
/* No space after ',' and ':' (files read by programs only, where the
 * spaces would be a tenth of the bytes: the .heapsnapshot export). */
#define MSC_JSON_COMPACT 2u

/* Levels whose kind (object or array) is kept in the writer itself; deeper
 * ones (call trees thousands of frames deep) go to a grown bit array. */
#define MSC_JSON_INLINE_DEPTH 256

typedef struct msc_json {
    FILE *out;                 /* borrowed: the stream written to */
    unsigned flags;            /* MSC_JSON_HTML, MSC_JSON_COMPACT */
    size_t depth;              /* containers open */
    int first;                 /* the innermost container has no element yet */
    int newline;               /* the next element starts a new line: -1 no, else its indent */
    int error;                 /* 0, or MSC_ENOMEM when a level could not be kept */
    uint64_t kinds[MSC_JSON_INLINE_DEPTH / 64]; /* bit set: that level is an array */
    uint64_t *more;            /* owned: kinds past the inline levels */
    size_t more_words;         /* 64-level words in more */
} msc_json_t;

void msc_json_init(msc_json_t *j, FILE *out, unsigned flags);
/* Frees what deep nesting took; returns 0, or MSC_ENOMEM when a level could
 * not be recorded (the output is then not valid JSON). */
int msc_json_release(msc_json_t *j);
/* Ends a document: its closing newline, then msc_json_release; returns the
 * writer's error, else MSC_EIO when the stream has failed, else 0. */
int msc_json_finish(msc_json_t *j);

void msc_json_object_begin(msc_json_t *j, const char *key);
void msc_json_array_begin(msc_json_t *j, const char *key);
/* Closes the innermost object or array. */
void msc_json_end(msc_json_t *j);
/* The next element of the innermost container starts on a new line,
 * after indent spaces (at most 14): the layout of the outputs that put one
 * frame, node or row a line. */
void msc_json_newline(msc_json_t *j, int indent);
/* Turns MSC_JSON_COMPACT on or off from the next element on: the HTML
 * report's data keeps its long arrays of numbers without spaces. */
void msc_json_compact(msc_json_t *j, int on);

/* The separator and key of a member whose value the caller writes itself
 * to j->out (a value another writer produces). */
void msc_json_key(msc_json_t *j, const char *key);
/* The separator and key of a member whose value is the next element the
 * writer writes (so that value may start on a line of its own). */
void msc_json_member(msc_json_t *j, const char *key);

/* s, a NUL-terminated string; NULL writes null. */
void msc_json_str(msc_json_t *j, const char *key, const char *s);
/* n bytes of s (which may hold NULs). */
void msc_json_strn(msc_json_t *j, const char *key, const char *s, size_t n);
/* At most max bytes of s, cut on a character boundary and then ending in
 * an ellipsis (U+2026). */
void msc_json_str_cut(msc_json_t *j, const char *key, const char *s, size_t max);
void msc_json_u64(msc_json_t *j, const char *key, uint64_t v);
void msc_json_i64(msc_json_t *j, const char *key, int64_t v);
/* v with precision digits after the point ("%.*f"). */
void msc_json_f64(msc_json_t *j, const char *key, double v, int precision);
void msc_json_bool(msc_json_t *j, const char *key, int v);
void msc_json_null(msc_json_t *j, const char *key);

/* A JSON string literal of n bytes of s, quotes included, written to out
 * by the writer's policy (for writers that lay out their own JSON). */
void msc_json_put_string(FILE *out, const char *s, size_t n, unsigned flags);
/* The bytes msc_json_put_string writes for s (quotes included). */
size_t msc_json_string_size(const char *s, size_t n, unsigned flags);

#endif
