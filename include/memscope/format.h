/* Capture format v1: the constants shared by the recorder that writes a
 * capture and the readers that validate it. The full specification, with a
 * diagram of every record, is docs/format.md; this header is its C mirror and
 * the two change together.
 *
 * A capture is a file header followed by chunks. Each chunk carries the
 * records of one stream: the main stream (everything done while holding the
 * GIL, in program order) or the side stream (allocations made without the GIL,
 * RSS samples, thread names, the trailer), whose records are placed into the
 * main stream's order by their SYNC positions. */
#ifndef MEMSCOPE_FORMAT_H
#define MEMSCOPE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "memscope/common.h"

#define MSC_FILE_MAGIC "MEMSCOPE"          /* 8 bytes, no terminator */
#define MSC_FORMAT_VERSION 1
#define MSC_FILE_HEADER_FIXED 16           /* magic, version, flags, body length */
#define MSC_FILE_HEADER_MAX_BODY (1u << 20)

#define MSC_CHUNK_MAGIC 0x4B43534Du        /* "MSCK" little-endian */
#define MSC_CHUNK_HEADER_SIZE 24
#define MSC_CHUNK_MAX_RAW (4u << 20)       /* a decompressed chunk is at most 4 MiB */

/* Header body fields: (varint key, varint length, bytes). Unknown keys are
 * skipped, so later versions can add fields without breaking readers. */
enum msc_header_key {
    MSC_HK_PYTHON_VERSION = 1, /* string, e.g. "3.11.7" */
    MSC_HK_PYTHON_HEXVERSION = 2, /* varint, sys.hexversion */
    MSC_HK_PID = 3,            /* varint */
    MSC_HK_START_NS = 4,       /* varint, wall clock, ns since the Unix epoch */
    MSC_HK_ARGV = 5,           /* string, repeated once per argument */
    MSC_HK_MODE = 6,           /* varint, enum msc_mode */
    MSC_HK_SAMPLE_BYTES = 7,   /* varint, mean bytes between samples (sampled mode) */
    MSC_HK_MAX_DEPTH = 8,      /* varint, stack depth cap */
    MSC_HK_PARENT_PID = 9,     /* varint, set in a followed fork child's capture */
    MSC_HK_ARGV_OMITTED = 10,  /* varint, arguments after the last ARGV not recorded */
    MSC_HK_NATIVE = 11,        /* varint, 1: the malloc family and mmap were recorded */
    MSC_HK_PARENT_CAPTURE = 12, /* string, a recorded child's: its parent's capture path */
};

/* The most ARGV fields a header holds; readers refuse more. */
#define MSC_HEADER_MAX_ARGS 4096

enum msc_mode {
    MSC_MODE_EXACT = 0,        /* every allocation and free */
    MSC_MODE_SAMPLED = 1,      /* Poisson sampling by bytes; see docs/format.md */
};

enum msc_stream_id { MSC_STREAM_MAIN = 0, MSC_STREAM_SIDE = 1, MSC_STREAM_COUNT };

enum msc_codec {
    MSC_CODEC_NONE = 0,
    MSC_CODEC_ZSTD = 1,
};

/* Allocator domains. The first three are CPython's PyMemAllocatorDomain, in
 * its order, and fit in the tag's two domain bits; the others are written as
 * tag domain 3 followed by a varint (domain - 3): the malloc family and
 * mmap seen by native recording, and the domains extensions report through
 * PyTraceMalloc_Track (MSC_DOMAIN_FOREIGN + the tracemalloc domain). */
enum msc_domain {
    MSC_DOMAIN_RAW = 0,
    MSC_DOMAIN_MEM = 1,
    MSC_DOMAIN_OBJ = 2,
    MSC_DOMAIN_COUNT,              /* the Python allocator domains */
    MSC_DOMAIN_NATIVE = 3,         /* malloc, calloc, realloc, memalign ... and free */
    MSC_DOMAIN_MMAP = 4,           /* mmap, mremap, munmap: FREE carries a length */
    MSC_DOMAIN_FOREIGN = 5,        /* + d: PyTraceMalloc_Track(d, ...) */
};
#define MSC_TAG_DOMAIN_EXTENDED 3  /* tag domain bits: a varint (domain - 3) follows the tag */
#define MSC_DOMAIN_MAX (MSC_DOMAIN_FOREIGN + 0xFFFFFFFFull)
#define MSC_NUMPY_DOMAIN 389047u   /* numpy's tracemalloc domain for array data */

/* A record starts with a tag byte: the low four bits are the kind, the high
 * four are flags whose meaning depends on the kind. */
#define MSC_TAG_KIND(tag) ((tag) & 0x0F)
#define MSC_TAG_DOMAIN(tag) (((tag) >> 4) & 0x03)
#define MSC_FLAG_ALIGNED 0x40              /* address delta is in units of 16 bytes */
#define MSC_FLAG_SAME_STACK 0x80           /* stack is the previous allocation's */
#define MSC_FLAG_RSS_DETAIL 0x10           /* SAMPLE: anonymous and file-backed bytes follow */
#define MSC_FLAG_NATIVE 0x10               /* CPU: the thread was in native code */

enum msc_record_kind {
    MSC_REC_ALLOC = 1,         /* addr delta, size, [stack delta] */
    MSC_REC_FREE = 2,          /* addr delta */
    MSC_REC_REALLOC = 3,       /* old addr delta, new addr delta, size, [stack delta] */
    MSC_REC_NODE = 4,          /* parent distance, code id, instruction offset */
    MSC_REC_CODE = 5,          /* code id, file id, name id, first line, line table */
    MSC_REC_STRING = 6,        /* string id, length, bytes */
    MSC_REC_THREAD = 7,        /* thread index: following records belong to it */
    MSC_REC_THREAD_INFO = 8,   /* thread index, native id, name */
    MSC_REC_SAMPLE = 9,        /* time delta (ns), RSS bytes [, anonymous, file-backed] */
    MSC_REC_GC = 10,           /* time delta, generation, duration ns, collected, uncollectable */
    MSC_REC_MARK = 11,         /* time delta, label */
    MSC_REC_SYNC = 12,         /* side stream only: main-stream position delta */
    MSC_REC_LOST = 13,         /* events the recorder could not record, and why */
    MSC_REC_TRAILER = 14,      /* clean end: duration ns, main events, side events */
};

/* Kind 0 is the extension record, for the kinds past the tag's four bits:
 *   | 0000 0000 | sub-kind: varint | body length: varint | body |
 * A reader skips a sub-kind it does not know (readers that predate kind 0
 * refuse it as an unknown kind), and reads past fields a newer writer
 * appends to a body it does know. A decoded event of an extension record
 * has the kind MSC_REC_EXT_BASE + sub-kind, so every event kind stays
 * distinct. */
#define MSC_REC_EXT 0
enum msc_ext_kind {
    MSC_EXT_MODULE = 1,        /* side stream: start, end, load bias, build id, path */
    MSC_EXT_NATIVE_NODE = 2,   /* parent distance, return address delta */
    MSC_EXT_NATIVE_STACK = 3,  /* native leaf delta: the stream's following allocations' */
    MSC_EXT_CHILD = 4,         /* main only: time delta, pid, capture path, command */
    MSC_EXT_CPU = 5,           /* flags (S, N), time delta, age, thread, [stack delta],
                                  cpu ns, wall ns */
};
#define MSC_EXT_MAX_BODY (1u << 17)        /* longer extension bodies are corrupt */
#define MSC_EXT_LENGTH_ROOM 3              /* bytes an encoder keeps for the body length */
#define MSC_REC_EXT_BASE 16
#define MSC_REC_CHILD (MSC_REC_EXT_BASE + MSC_EXT_CHILD)
#define MSC_REC_CPU (MSC_REC_EXT_BASE + MSC_EXT_CPU)

enum msc_lost_reason {
    MSC_LOST_NO_MEMORY = 1,
    MSC_LOST_WRITE_FAILED = 2,
};

#define MSC_MAX_STRING (1u << 16)          /* strings longer than this are refused */
#define MSC_MAX_PATH 4096                  /* a capture path in a header or CHILD record */
#define MSC_MAX_LINETABLE (1u << 20)   /* longer line tables are left out */
#define MSC_MAX_IDS (1u << 28)             /* ids above this are refused as corrupt */

/* What a capture says about itself: one field per header key above. */
typedef struct msc_header {
    char python_version[32];   /* "3.11.7" */
    uint32_t python_hexversion;
    uint64_t pid;
    uint64_t parent_pid;       /* nonzero in a recorded child's capture */
    char *parent_capture;      /* a recorded child's: its parent's capture path, or NULL;
                                  borrowed when writing, owned when read */
    uint64_t start_ns;         /* wall clock at start, ns since the epoch */
    int mode;                  /* enum msc_mode */
    uint64_t sample_bytes;
    uint32_t max_depth;
    int native;                /* 1: the malloc family and mmap were recorded too */
    int argc;
    char **argv;               /* borrowed when writing; owned (msc_header_release) when read */
    uint64_t argv_omitted;     /* read: arguments the header had no room for (0: argv is all) */
} msc_header_t;

/* The header codec (format.c). msc_header_encode writes the file header
 * (magic, version, keyed fields, checksum) into out[0..cap) and its length
 * into *len: 0, or MSC_EUSAGE when it does not fit (arguments that do not
 * fit are left out and counted in argv_omitted first). msc__header_decode reads one from len bytes of untrusted
 * input, sets *used to its length, and fills *h (release with
 * msc_header_release): 0 or an MSC_E code with *info set; internal, exposed
 * for the fuzzers. */
int msc_header_encode(const msc_header_t *h, uint8_t *out, size_t cap, size_t *len);
int msc__header_decode(const uint8_t *buf, size_t len, msc_header_t *h, size_t *used,
                       msc_error_info_t *info);
void msc_header_release(msc_header_t *h);

#endif
