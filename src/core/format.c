/* The capture file header: its encoder (used by the sink) and its validating
 * decoder (used by the reader). Layout, from docs/format.md:
 *
 *   | "MEMSCOPE" | u16 version | u16 flags (0) | u32 body length |
 *   | body: fields (varint key, varint length, bytes) ...        |
 *   | u32 XXH32 of everything before it                           |
 *
 * Numbers inside a field are varints; strings are raw UTF-8. */
#include <string.h>
#include <xxhash.h>

#include "internal.h"
#include "memscope/encode.h"
#include "memscope/format.h"

static uint8_t *put_field(uint8_t *p, unsigned key, const void *bytes, size_t n)
{
    p = msc_put_varint(p, key);
    return msc_put_bytes(p, bytes, n);
}

static uint8_t *put_number(uint8_t *p, unsigned key, uint64_t v)
{
    uint8_t tmp[10];
    return put_field(p, key, tmp, (size_t)(msc_put_varint(tmp, v) - tmp));
}

int msc_header_encode(const msc_header_t *h, uint8_t *out, size_t cap, size_t *len)
{
    size_t need = MSC_FILE_HEADER_FIXED + 4 + 10 * 32 + strlen(h->python_version);
    for (int i = 0; i < h->argc; i++) need += 20 + strlen(h->argv[i]);
    if (need > cap || h->argc > MSC_HEADER_MAX_ARGS) {
        /* Very long command lines keep their first arguments and say how
         * many more there were. */
        msc_header_t cut = *h;
        while (cut.argc > 0 && (need > cap || cut.argc > MSC_HEADER_MAX_ARGS))
            need -= 20 + strlen(cut.argv[--cut.argc]);
        if (need > cap) return MSC_EUSAGE;
        cut.argv_omitted = h->argv_omitted + (uint64_t)(h->argc - cut.argc);
        return msc_header_encode(&cut, out, cap, len);
    }
    uint8_t *p = out + MSC_FILE_HEADER_FIXED;
    p = put_field(p, MSC_HK_PYTHON_VERSION, h->python_version, strlen(h->python_version));
    p = put_number(p, MSC_HK_PYTHON_HEXVERSION, h->python_hexversion);
    p = put_number(p, MSC_HK_PID, h->pid);
    if (h->parent_pid) p = put_number(p, MSC_HK_PARENT_PID, h->parent_pid);
    p = put_number(p, MSC_HK_START_NS, h->start_ns);
    p = put_number(p, MSC_HK_MODE, (uint64_t)h->mode);
    p = put_number(p, MSC_HK_SAMPLE_BYTES, h->sample_bytes);
    p = put_number(p, MSC_HK_MAX_DEPTH, h->max_depth);
    if (h->native) p = put_number(p, MSC_HK_NATIVE, 1);
    for (int i = 0; i < h->argc; i++) p = put_field(p, MSC_HK_ARGV, h->argv[i], strlen(h->argv[i]));
    if (h->argv_omitted) p = put_number(p, MSC_HK_ARGV_OMITTED, h->argv_omitted);

    size_t body = (size_t)(p - out) - MSC_FILE_HEADER_FIXED;
    memcpy(out, MSC_FILE_MAGIC, 8);
    msc__put_u16(out + 8, MSC_FORMAT_VERSION);
    msc__put_u16(out + 10, 0);
    msc__put_u32(out + 12, (uint32_t)body);
    msc__put_u32(p, XXH32(out, (size_t)(p - out), 0));
    *len = (size_t)(p - out) + 4;
    return 0;
}

void msc_header_release(msc_header_t *h)
{
    for (int i = 0; i < h->argc; i++) msc_free(h->argv[i]);
    msc_free(h->argv);
    h->argv = NULL;
    h->argc = 0;
}

static int add_arg(msc_header_t *h, const uint8_t *s, size_t n)
{
    if (h->argc >= MSC_HEADER_MAX_ARGS) return MSC_ECORRUPT;
    char **argv = msc_realloc(h->argv, sizeof(char *) * (size_t)(h->argc + 1));
    if (!argv) return MSC_ENOMEM;
    h->argv = argv;
    char *a = msc_malloc(n + 1);
    if (!a) return MSC_ENOMEM;
    memcpy(a, s, n);
    a[n] = 0;
    h->argv[h->argc++] = a;
    return 0;
}

static int decode_field(msc_header_t *h, uint64_t key, const uint8_t *v, uint64_t n)
{
    msc_cursor_t num = {v, v + n, 0};
    switch (key) {
    case MSC_HK_PYTHON_VERSION:
        if (n >= sizeof(h->python_version)) return MSC_ECORRUPT;
        memcpy(h->python_version, v, n);
        h->python_version[n] = 0;
        return 0;
    case MSC_HK_ARGV: return add_arg(h, v, n);
    case MSC_HK_PYTHON_HEXVERSION: h->python_hexversion = (uint32_t)msc__get_varint(&num); break;
    case MSC_HK_PID: h->pid = msc__get_varint(&num); break;
    case MSC_HK_PARENT_PID: h->parent_pid = msc__get_varint(&num); break;
    case MSC_HK_ARGV_OMITTED: h->argv_omitted = msc__get_varint(&num); break;
    case MSC_HK_START_NS: h->start_ns = msc__get_varint(&num); break;
    case MSC_HK_MODE: h->mode = (int)msc__get_varint(&num); break;
    case MSC_HK_SAMPLE_BYTES: h->sample_bytes = msc__get_varint(&num); break;
    case MSC_HK_MAX_DEPTH: h->max_depth = (uint32_t)msc__get_varint(&num); break;
    case MSC_HK_NATIVE: h->native = msc__get_varint(&num) == 1; break;
    default: return 0; /* a field from a later version */
    }
    return num.err ? MSC_ECORRUPT : 0;
}

int msc__header_decode(const uint8_t *buf, size_t len, msc_header_t *h, size_t *used,
                       msc_error_info_t *info)
{
    memset(h, 0, sizeof(*h));
    info->offset = 0;
    if (len < 8 || memcmp(buf, MSC_FILE_MAGIC, 8) != 0) {
        info->what = "not a memscope capture (bad magic)";
        return MSC_EFORMAT;
    }
    if (len < MSC_FILE_HEADER_FIXED) {
        info->what = "truncated file header";
        return MSC_ETRUNCATED;
    }
    if (msc__get_u16(buf + 8) != MSC_FORMAT_VERSION) {
        info->offset = 8;
        info->what = "unsupported capture format version";
        return MSC_EFORMAT;
    }
    uint32_t body = msc__get_u32(buf + 12);
    if (body > MSC_FILE_HEADER_MAX_BODY) {
        info->offset = 12;
        info->what = "absurd header length";
        return MSC_ECORRUPT;
    }
    if (len < MSC_FILE_HEADER_FIXED + (size_t)body + 4) {
        info->what = "truncated file header";
        return MSC_ETRUNCATED;
    }
    size_t end = MSC_FILE_HEADER_FIXED + body;
    if (XXH32(buf, end, 0) != msc__get_u32(buf + end)) {
        info->offset = end;
        info->what = "file header checksum mismatch";
        return MSC_ECORRUPT;
    }
    msc_cursor_t c = {buf + MSC_FILE_HEADER_FIXED, buf + end, 0};
    while (c.p < c.end && !c.err) {
        uint64_t key = msc__get_varint(&c), n = msc__get_varint(&c);
        const uint8_t *v = msc__get_bytes(&c, n);
        int err = c.err ? MSC_ECORRUPT : decode_field(h, key, v, n);
        if (err) {
            info->offset = (uint64_t)(c.p - buf);
            info->what = err == MSC_ENOMEM ? "out of memory" : "malformed header field";
            msc_header_release(h);
            return err;
        }
    }
    *used = end + 4;
    return 0;
}
