/* libFuzzer harness for the heap snapshot reader: any bytes either read
 * back as a valid heap or fail with an error and an offset; a heap that
 * reads back then goes through every analysis (partitions, dominators,
 * paths, type retention, cycles, duplicates, empty containers, pictures,
 * DevTools export) and the reports, text and JSON, which must hold on it
 * too. Input starting with 'R' is framed as records inside valid header
 * and chunks of the newest version (allocation sites, digests, containers
 * and numpy arrays included), so the record parser sees mutations the checksums
 * would stop. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memscope/advise.h"
#include "memscope/heapfile.h"
#include "memscope/heapreport.h"
#include "memscope/report.h"

/* Duplicates, empty containers and a diff of the heap against itself. */
static void analyse_waste(const msc_heap_t *h, FILE *sink)
{
    msc_heap_dups_t dups;
    if (msc_heap_duplicates(h, &dups) == 0) {
        msc_heap_write_duplicates(sink, h, &dups, 5);
        msc_heap_write_duplicates_json(sink, h, &dups, 0);
        msc_heap_dups_release(&dups);
    }
    msc_heap_empty_t e;
    if (msc_heap_empty(h, &e) == 0) {
        msc_heap_write_empty(sink, &e, 5);
        msc_heap_write_empty_json(sink, h, &e, 0);
        msc_heap_empty_release(&e);
    }
    msc_heap_partition_t p;
    msc_heap_diff_t d;
    if (msc_heap_partition(h, MSC_HEAP_BY_KIND, &p) < 0) return;
    if (msc_heap_diff(&p, &p, 0, &d) == 0) {
        msc_heap_write_diff_json(sink, &d, 5);
        msc_heap_diff_release(&d);
    }
    msc_heap_partition_release(&p);
}

static void analyse(const msc_heap_t *h, FILE *sink)
{
    for (int by = MSC_HEAP_BY_KIND; by <= MSC_HEAP_BY_SIZE; by++) {
        msc_heap_partition_t p;
        if (msc_heap_partition(h, by, &p) == 0) {
            msc_heap_write_partition(sink, &p, 5);
            msc_heap_write_partition_json(sink, &p, 5);
            msc_heap_partition_release(&p);
        }
    }
    msc_heap_cycles_t c;
    if (msc_heap_cycles(h, &c) == 0) {
        msc_heap_write_cycles(sink, h, &c, 5);
        msc_heap_write_cycles_json(sink, h, &c, 5);
        msc_heap_cycles_release(&c);
    }
    analyse_waste(h, sink);
    msc_advice_list_t advice;
    if (msc_advise_heap(h, &advice) == 0) {
        msc_report_advice(sink, h, &advice, 5, 0);
        msc_report_advice(sink, h, &advice, 0, 1);
        msc_advice_list_release(&advice);
    }
    uint32_t last = h->node_count - 1;
    msc_heap_write_dot(sink, h, &last, 1, 3, 0);
    msc_heap_write_dot(sink, h, &last, 1, 3, 1);
    msc_heap_write_heapsnapshot(sink, h);
    msc_heap_dom_t d;
    msc_heap_paths_t paths;
    if (msc_heap_dominators(h, &d) < 0) return;
    if (msc_heap_paths(h, &paths) == 0) {
        msc_heap_write_retained(sink, h, &d, &paths, 5);
        msc_heap_write_retained_json(sink, h, &d, &paths, 5);
        msc_heap_path_groups_t merged = {NULL, 0};
        uint32_t *every = msc_malloc(h->node_count * sizeof(uint32_t));
        for (uint32_t v = 0; every && v < h->node_count; v++) every[v] = v;
        if (every) msc_heap_merge_paths(h, &paths, &d, every, h->node_count, &merged);
        msc_heap_write_path(sink, h, &paths, h->node_count - 1, &merged, 5);
        msc_heap_write_path_json(sink, h, &paths, h->node_count - 1, &merged, 5);
        msc_heap_path_groups_release(&merged);
        msc_free(every);
        msc_heap_paths_release(&paths);
    }
    msc_heap_dom_release(&d);
}

static int frame_records(int fd, const uint8_t *records, size_t n)
{
    static const uint8_t header[16] = {'M', 'E', 'M', 'H', 'E', 'A', 'P', 0, MSC_HEAP_VERSION,
                                       0,   0,   0,   0,   0,   0,   0};
    msc_chunk_writer_t w;
    if (write(fd, header, sizeof(header)) != (ssize_t)sizeof(header)) return -1;
    if (msc_chunk_writer_init(&w, fd, 1) < 0) return -1;
    int rc = n <= MSC_CHUNK_MAX_RAW ? msc_chunk_write(&w, 0, records, n) : -1;
    msc_chunk_writer_release(&w);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("heap", 0);
    if (fd < 0) return 0;
    int ok = size && data[0] == 'R' ? frame_records(fd, data + 1, size - 1) == 0
                                    : write(fd, data, size) == (ssize_t)size;
    if (ok) {
        int err;
        msc_error_info_t info;
        msc_heap_t *h = msc_heap_read(fd, &err, &info, NULL, NULL);
        msc_heap_partition_t whole = {0}, light;
        int read_whole = h != NULL;
        if (h) {
            FILE *sink = fopen("/dev/null", "w");
            if (sink) {
                analyse(h, sink);
                fclose(sink);
            }
            if (msc_heap_partition(h, MSC_HEAP_BY_KIND, &whole) < 0)
                memset(&whole, 0, sizeof(whole));
            msc_heap_free(h);
        } else if (!info.what || err >= 0) {
            __builtin_trap(); /* a failure must say what and where */
        }
        /* The light reader accepts what the whole one does, with the same
         * totals, and names every failure too. */
        info.what = NULL;
        int lrc = msc_heap_read_partition(fd, MSC_HEAP_BY_KIND, &light, &info, NULL, NULL);
        if (lrc < 0 && (!info.what || (read_whole && lrc != MSC_ENOMEM))) __builtin_trap();
        if (read_whole && whole.rows && lrc == 0 &&
            (light.total_count != whole.total_count || light.total_bytes != whole.total_bytes ||
             light.len != whole.len))
            __builtin_trap();
        if (lrc == 0) msc_heap_partition_release(&light);
        msc_heap_partition_release(&whole);
    }
    close(fd);
    return 0;
}
