/* Shared inside src/report: UTF-8 validation for writers that put program
 * data (str previews, dict keys, names) into text formats, which must stay
 * valid UTF-8 whatever bytes the program held. */
#ifndef MEMSCOPE_REPORT_UTF8_H
#define MEMSCOPE_REPORT_UTF8_H

#include <stddef.h>

/* The length of the valid UTF-8 sequence starting at s (at most n bytes
 * available), or 0 when the bytes there are not one. */
static inline size_t msc__utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80   ? 1
                 : s[0] < 0xC2 ? 0
                 : s[0] < 0xE0 ? 2
                 : s[0] < 0xF0 ? 3
                 : s[0] < 0xF5 ? 4
                               : 0;
    if (len == 0 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    /* No overlong forms, no surrogates, nothing past U+10FFFF. */
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0) ||
        (s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
        return 0;
    return len;
}

#endif
