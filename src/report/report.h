/* Shared inside src/report: text formatting helpers (text.c). */
#ifndef MEMSCOPE_REPORT_INTERNAL_H
#define MEMSCOPE_REPORT_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "memscope/aggregate.h"

/* "1,234,567" into buf. */
const char *msc__count(uint64_t v, char *buf, size_t n);
/* "file:line in function" for a row. */
void msc__location(FILE *out, const msc_row_t *r);
/* "\"file\": ..., \"function\": ..., \"line\": ..." for a row. */
void msc__json_location(FILE *out, const msc_row_t *r);

#endif
