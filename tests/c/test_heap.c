/* Heap graph tests: dominators and retained sizes against the brute-force
 * definition on random small graphs, a cache that retains its entries,
 * snapshot files that round-trip and reject every truncation and damaged
 * byte, partitions with owned dicts, shortest paths, duplicate strings,
 * and empty containers. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "heapint.h"
#include "memscope/heapfile.h"

static uint32_t str(msc_heap_t *h, const char *s)
{
    uint32_t id = 0;
    CHECK_EQ(msc_heap_intern(h, s, strlen(s), &id), 0);
    return id;
}

static uint32_t type(msc_heap_t *h, const char *name)
{
    uint32_t t = 0;
    CHECK_EQ(msc_heap_add_type(h, str(h, name), str(h, "builtins"), &t), 0);
    return t;
}

/* A heap of n objects (plus the root) of type t with the given sizes. */
static msc_heap_t *nodes(int n, uint32_t *t, const uint64_t *sizes)
{
    msc_heap_t *h = msc_heap_new();
    *t = type(h, "object");
    for (int i = 1; i <= n; i++) {
        uint32_t v;
        CHECK_EQ(msc_heap_add_node(h, 0x1000 + 16 * (uint64_t)i, *t, sizes[i], 1, 0, 0, &v), 0);
        CHECK_EQ(v, i);
    }
    return h;
}

/* Nodes reachable from the root when node skip is removed. */
static void reach(const msc_heap_t *h, uint32_t skip, uint8_t *seen)
{
    uint32_t stack[64], depth = 0;
    memset(seen, 0, h->node_count);
    seen[0] = 1;
    stack[depth++] = 0;
    while (depth) {
        uint32_t u = stack[--depth];
        for (uint64_t e = h->edge_start[u]; e < h->edge_start[u + 1]; e++) {
            uint32_t t = h->edge_to[e];
            if (t == skip || seen[t]) continue;
            seen[t] = 1;
            stack[depth++] = t;
        }
    }
}

static void test_retained_brute_force(void)
{
    srand(7);
    for (int round = 0; round < 500; round++) {
        int n = 1 + rand() % 11;
        uint64_t sizes[13];
        uint32_t t;
        for (int i = 0; i <= n; i++) sizes[i] = i ? 1 + (uint64_t)(rand() % 100) : 0;
        msc_heap_t *h = nodes(n, &t, sizes);
        for (int u = 0; u <= n; u++)
            for (int k = rand() % 4; k > 0; k--)
                CHECK_EQ(msc_heap_add_edge(h, (uint32_t)u, (uint32_t)(1 + rand() % n), 0), 0);
        CHECK_EQ(msc_heap_finish(h), 0);
        msc_heap_dom_t d;
        CHECK_EQ(msc_heap_dominators(h, &d), 0);
        uint8_t all[13], without[13];
        reach(h, UINT32_MAX, all);
        for (uint32_t v = 1; v <= (uint32_t)n; v++) {
            if (!all[v]) {
                CHECK_EQ(d.idom[v], UINT32_MAX);
                continue;
            }
            reach(h, v, without);
            uint64_t freed = 0;
            for (uint32_t x = 1; x <= (uint32_t)n; x++)
                freed += all[x] && !without[x] ? sizes[x] : 0;
            CHECK_EQ(d.retained[v], freed); /* v itself is among the freed */
        }
        msc_heap_dom_release(&d);
        msc_heap_free(h);
    }
}

/* root -> module dict -> cache list -> 1000 entries, each also holding a
 * shared str the module dict holds too: the list retains the entries only. */
static msc_heap_t *cache_heap(void)
{
    msc_heap_t *h = msc_heap_new();
    uint32_t tdict = type(h, "dict"), tlist = type(h, "list"), tfoo, tstr = type(h, "str");
    CHECK_EQ(msc_heap_add_type(h, str(h, "Entry"), str(h, "app"), &tfoo), 0);
    uint32_t mod, cache, shared, v;
    CHECK_EQ(msc_heap_add_node(h, 0x10, tdict, 1000, 1, MSC_HEAP_GC_TRACKED, 0, &mod), 0);
    CHECK_EQ(msc_heap_add_node(h, 0x20, tlist, 8056, 1, MSC_HEAP_GC_TRACKED, 0, &cache), 0);
    CHECK_EQ(msc_heap_add_node(h, 0x30, tstr, 60, 1001, 0, str(h, "shared"), &shared), 0);
    CHECK_EQ(msc_heap_add_edge(h, 0, mod, str(h, "sys.modules")), 0);
    CHECK_EQ(msc_heap_add_edge(h, mod, cache, str(h, "cache")), 0);
    CHECK_EQ(msc_heap_add_edge(h, mod, shared, str(h, "name")), 0);
    for (uint32_t i = 0; i < 1000; i++) {
        CHECK_EQ(msc_heap_add_node(h, 0x1000 + 64 * (uint64_t)i, tfoo, 48, 1, 1, 0, &v), 0);
        CHECK_EQ(msc_heap_add_edge(h, cache, v, MSC_HEAP_LABEL_INDEX | i), 0);
    }
    uint32_t label = str(h, "tag");
    for (uint32_t i = 0; i < 1000; i++) CHECK_EQ(msc_heap_add_edge(h, 4 + i, shared, label), 0);
    CHECK_EQ(msc_heap_finish(h), 0);
    return h;
}

/* The debug checker passes the heaps built here and names each kind of
 * damage an analysis would trip over. */
static void test_checker(void)
{
    msc_heap_t *h = cache_heap();
    CHECK_EQ(msc__heap_check(h), 0);
    CHECK_EQ(msc_heap_add_container(h, 1, MSC_HEAP_DICT_STR, 2, 8), 0);
    CHECK_EQ(msc_heap_add_container(h, 2, MSC_HEAP_LIST, 1000, 1000), 0);
    CHECK_EQ(msc_heap_index(h), 0);
    CHECK_EQ(msc__heap_check(h), 0);
#define DAMAGED(field, bad)                                                                        \
    do {                                                                                           \
        __typeof__(field) keep = field;                                                            \
        field = bad;                                                                               \
        CHECK_EQ(msc__heap_check(h), MSC_ECORRUPT);                                                \
        field = keep;                                                                              \
    } while (0)
    DAMAGED(h->edge_to[5], h->node_count);                 /* a target past the nodes */
    DAMAGED(h->edge_label[1], h->string_count);            /* a name that is no string */
    DAMAGED(h->edge_start[2], h->edge_start[3] + 1);       /* rows out of order */
    DAMAGED(h->type[7], h->type_count);                    /* a type that does not exist */
    DAMAGED(h->preview[3], h->string_count);
    DAMAGED(h->flags[4], 0x80);                            /* an unknown flag */
    DAMAGED(h->flags[0], 0);                               /* a root that is an object */
    DAMAGED(h->blob[h->str_off[2] - 1], 'x');              /* a string left unterminated */
    DAMAGED(h->containers[1].node, 1);                     /* containers out of order */
    DAMAGED(h->containers[0].capacity, 6);                 /* a hash table of 6 slots */
    DAMAGED(h->addr[9], 0x99999);                          /* an address the table lost */
#undef DAMAGED
    CHECK_EQ(msc__heap_check(h), 0);
    msc_heap_free(h);
}

static void test_cache_retains_entries(void)
{
    msc_heap_t *h = cache_heap();
    msc_heap_dom_t d;
    CHECK_EQ(msc_heap_dominators(h, &d), 0);
    CHECK_EQ(d.retained[2], 8056 + 1000 * 48);
    CHECK_EQ(d.retained[1], 1000 + 60 + 8056 + 1000 * 48);
    CHECK_EQ(d.idom[3], 1);
    CHECK_EQ(d.idom[500], 2);
    msc_heap_paths_t p;
    CHECK_EQ(msc_heap_paths(h, &p), 0);
    char buf[256];
    CHECK(strcmp(msc_heap_path_text(h, &p, 4 + 7, buf, sizeof(buf)), "sys.modules['cache'][7]") ==
          0);
    uint32_t count = 0, *found = msc_heap_find_type(h, "Entry", &count);
    CHECK_EQ(count, 1000);
    CHECK_EQ(found[0], 4);
    msc_free(found);
    msc_heap_paths_release(&p);
    msc_heap_dom_release(&d);
    msc_heap_free(h);
}

static int write_tmp(const msc_heap_t *h, char *path)
{
    strcpy(path, "/tmp/memscope-test-heap-XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_EQ(msc_heap_write(h, fd), 0);
    return fd;
}

static void test_file_round_trip(void)
{
    msc_heap_t *h = cache_heap();
    h->pid = 4242;
    /* Contents as the walker records them: the str's digest, the list's length. */
    h->contents = 1;
    /* Two equal values are written; a value nothing else shares is not. */
    CHECK_EQ(msc_heap_set_digest(h, 3, 0x0123456789abcdefULL), 0);
    CHECK_EQ(msc_heap_set_digest(h, 5, 0x0123456789abcdefULL), 0);
    CHECK_EQ(msc_heap_set_digest(h, 7, 0x77), 0);
    CHECK_EQ(msc_heap_add_container(h, 1, MSC_HEAP_DICT_STR, 2, 8), 0);
    CHECK_EQ(msc_heap_add_container(h, 2, MSC_HEAP_LIST, 1000, 1000), 0);
    /* Allocation sites on a few nodes, as msc_heap_join_sites leaves them. */
    uint32_t site_a, site_b;
    /* Previews are not interned: equal ones are separate strings. */
    CHECK_EQ(msc_heap_add_string(h, "same", 4, &h->preview[3]), 0);
    CHECK_EQ(msc_heap_add_string(h, "same", 4, &h->preview[4]), 0);
    h->site = msc_calloc(h->node_count, sizeof(uint32_t));
    CHECK_EQ(msc_heap_intern(h, "app.py:12 in build", 18, &site_a), 0);
    CHECK_EQ(msc_heap_intern(h, "app.py:14 in build", 18, &site_b), 0);
    h->site[1] = site_a;
    for (uint32_t v = 3; v < h->node_count; v += 2) h->site[v] = site_b;
    char path[64];
    int fd = write_tmp(h, path);
    int err;
    msc_error_info_t info;
    msc_heap_t *r = msc_heap_read(fd, &err, &info, NULL, NULL);
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ(msc__heap_check(r), 0);
        CHECK_EQ(r->pid, 4242);
        CHECK_EQ(r->node_count, h->node_count);
        CHECK_EQ(r->edge_count, h->edge_count);
        CHECK(memcmp(r->size, h->size, h->node_count * sizeof(uint64_t)) == 0);
        CHECK(memcmp(r->addr, h->addr, h->node_count * sizeof(uint64_t)) == 0);
        CHECK(memcmp(r->edge_to, h->edge_to, h->edge_count * sizeof(uint32_t)) == 0);
        CHECK(memcmp(r->edge_label, h->edge_label, h->edge_count * sizeof(uint32_t)) == 0);
        CHECK(memcmp(r->edge_start, h->edge_start, (h->node_count + 1) * sizeof(uint64_t)) == 0);
        CHECK_EQ(msc_heap_find(r, 0x1000 + 64 * 5), 9);
        CHECK_EQ(r->string_count, h->string_count);
        CHECK(memcmp(r->preview, h->preview, h->node_count * sizeof(uint32_t)) == 0);
        CHECK(r->site && memcmp(r->site, h->site, h->node_count * sizeof(uint32_t)) == 0);
        CHECK_EQ(r->contents, 1);
        CHECK_EQ(msc_heap_digest(r, 3), 0x0123456789abcdefULL);
        CHECK_EQ(msc_heap_digest(r, 5), 0x0123456789abcdefULL);
        CHECK_EQ(msc_heap_digest(r, 4), 0);
        CHECK_EQ(msc_heap_digest(r, 7), 0);
        CHECK_EQ(r->container_count, 2);
        for (uint32_t i = 0; i < r->container_count && i < 2; i++) {
            const msc_heap_container_t *x = &r->containers[i], *y = &h->containers[i];
            CHECK(x->node == y->node && x->layout == y->layout && x->length == y->length &&
                  x->capacity == y->capacity);
        }
    }
    msc_heap_free(r);
    /* Every truncation is an error, never a crash; so is every damaged byte. */
    off_t size = lseek(fd, 0, SEEK_END);
    uint8_t *bytes = malloc((size_t)size);
    CHECK_EQ(pread(fd, bytes, (size_t)size, 0), size);
    for (off_t cut = 0; cut < size; cut += 1 + cut / 16) {
        CHECK_EQ(ftruncate(fd, cut), 0);
        CHECK(msc_heap_read(fd, &err, &info, NULL, NULL) == NULL && err < 0 && info.what != NULL);
    }
    for (off_t at = 0; at < size; at += 3) {
        CHECK_EQ(ftruncate(fd, 0), 0);
        bytes[at] ^= 0x5A;
        CHECK_EQ(pwrite(fd, bytes, (size_t)size, 0), size);
        bytes[at] ^= 0x5A;
        msc_heap_t *bad = msc_heap_read(fd, &err, &info, NULL, NULL);
        /* The header's own fields (pid, time) may change harmlessly. */
        CHECK(bad == NULL || at < 16 + (off_t)bytes[12]);
        msc_heap_free(bad);
    }
    free(bytes);
    close(fd);
    unlink(path);
    msc_heap_free(h);
}

/* Reads back a heap written with one defect the writer does not check;
 * the reader must refuse it and say what is wrong. */
static void check_rejected(const msc_heap_t *h, const char *what)
{
    char path[64];
    int fd = write_tmp(h, path), err;
    msc_error_info_t info = {0, NULL};
    msc_heap_t *r = msc_heap_read(fd, &err, &info, NULL, NULL);
    CHECK(r == NULL && err == MSC_ECORRUPT && info.what && strcmp(info.what, what) == 0);
    msc_heap_free(r);
    msc_heap_partition_t p;
    info.what = NULL;
    CHECK_EQ(msc_heap_read_partition(fd, MSC_HEAP_BY_KIND, &p, &info, NULL, NULL), MSC_ECORRUPT);
    CHECK(info.what && strcmp(info.what, what) == 0);
    close(fd);
    unlink(path);
}

static void test_reader_rejects_bad_contents(void)
{
    /* A length above the capacity, bypassing the builder's own check. */
    msc_heap_t *h = cache_heap();
    CHECK_EQ(msc_heap_add_container(h, 2, MSC_HEAP_LIST, 10, 10), 0);
    h->containers[0].length = 11;
    check_rejected(h, "container with an impossible layout, length or capacity");
    /* A hash table whose slots are not a power of two. */
    h->containers[0] = (msc_heap_container_t){2, MSC_HEAP_DICT, 1, 12};
    check_rejected(h, "container with an impossible layout, length or capacity");
    h->containers[0] = (msc_heap_container_t){2, MSC_HEAP_LAYOUTS, 0, 0};
    check_rejected(h, "container with an impossible layout, length or capacity");
    msc_heap_free(h);
    /* A digest of a synthetic node (the walker digests only str and bytes). */
    h = cache_heap();
    h->flags[3] |= MSC_HEAP_SYNTHETIC;
    CHECK_EQ(msc_heap_set_digest(h, 3, 42), 0);
    CHECK_EQ(msc_heap_set_digest(h, 5, 42), 0);
    check_rejected(h, "malformed digest");
    msc_heap_free(h);
    /* The builder refuses what the reader would. */
    h = cache_heap();
    CHECK_EQ(msc_heap_add_container(h, 5, MSC_HEAP_SET, 0, 6), MSC_EUSAGE);
    CHECK_EQ(msc_heap_add_container(h, 5, MSC_HEAP_LIST, 2, 1), MSC_EUSAGE);
    CHECK_EQ(msc_heap_add_container(h, 5, MSC_HEAP_LIST, 0, 1ULL << 48), MSC_EUSAGE);
    CHECK_EQ(msc_heap_add_container(h, h->node_count, MSC_HEAP_LIST, 0, 0), MSC_EUSAGE);
    CHECK_EQ(msc_heap_add_container(h, 5, MSC_HEAP_LIST, 0, 0), 0);
    CHECK_EQ(msc_heap_add_container(h, 5, MSC_HEAP_LIST, 0, 0), MSC_EUSAGE);
    CHECK_EQ(msc_heap_set_digest(h, h->node_count, 1), MSC_EUSAGE);
    CHECK_EQ(msc_heap_set_digest(h, 7, 0), 0);
    CHECK_EQ(msc_heap_digest(h, 7), 1); /* 0 means none: a zero digest is kept as 1 */
    msc_heap_free(h);
}

/* A version 2 file carrying DIGESTS: the header's version is outside the
 * checksummed chunks, so it can be lowered in place. */
static void test_reader_rejects_digests_before_version_3(void)
{
    msc_heap_t *h = cache_heap();
    CHECK_EQ(msc_heap_set_digest(h, 3, 7), 0);
    CHECK_EQ(msc_heap_set_digest(h, 5, 7), 0);
    char path[64];
    int fd = write_tmp(h, path), err;
    uint8_t two = 2;
    CHECK_EQ(pwrite(fd, &two, 1, 8), 1);
    msc_error_info_t info = {0, NULL};
    msc_heap_t *r = msc_heap_read(fd, &err, &info, NULL, NULL);
    CHECK(r == NULL && info.what &&
          strcmp(info.what, "record kind newer than the snapshot's "
                            "version") == 0);
    msc_heap_free(r);
    close(fd);
    unlink(path);
    msc_heap_free(h);
}

/* numpy arrays' records: written and read back as they were; refused when
 * impossible (by the builder and by the reader) and in a version 3 file,
 * which still reads when it has none. */
static void test_array_records(void)
{
    msc_heap_t *h = cache_heap();
    CHECK_EQ(msc_heap_add_array(h, 2, 'i', 8, 2, 1000000), 0);
    CHECK_EQ(msc_heap_add_array(h, 4, 'O', 8, 8, 3), 0);
    CHECK_EQ(msc_heap_add_array(h, 6, 'f', 8, 4, 5), 0);
    char path[64];
    int fd = write_tmp(h, path), err;
    msc_error_info_t info = {0, NULL};
    msc_heap_t *r = msc_heap_read(fd, &err, &info, NULL, NULL);
    CHECK(r && r->array_count == 3);
    for (uint32_t i = 0; r && i < r->array_count && i < 3; i++) {
        const msc_heap_array_t *x = &r->arrays[i], *y = &h->arrays[i];
        CHECK(x->node == y->node && x->kind == y->kind && x->itemsize == y->itemsize &&
              x->fits == y->fits && x->length == y->length);
    }
    CHECK(r && msc_heap_array_of(r, 4) && msc_heap_array_of(r, 4)->kind == 'O');
    CHECK(r && msc_heap_array_of(r, 3) == NULL);
    msc_heap_free(r);
    uint8_t three = 3;
    CHECK_EQ(pwrite(fd, &three, 1, 8), 1);
    r = msc_heap_read(fd, &err, &info, NULL, NULL);
    CHECK(r == NULL && info.what &&
          strcmp(info.what, "record kind newer than the snapshot's version") == 0);
    close(fd);
    unlink(path);
    h->array_count = 0;
    fd = write_tmp(h, path);
    CHECK_EQ(pwrite(fd, &three, 1, 8), 1);
    r = msc_heap_read(fd, &err, &info, NULL, NULL);
    CHECK(r && r->array_count == 0 && r->node_count == h->node_count);
    msc_heap_free(r);
    close(fd);
    unlink(path);
    /* The builder refuses what the reader would. */
    CHECK_EQ(msc_heap_add_array(h, 2, 'i', 8, 16, 1), MSC_EUSAGE);
    CHECK_EQ(msc_heap_add_array(h, 2, 'i', 2, 4, 1), MSC_EUSAGE);
    CHECK_EQ(msc_heap_add_array(h, 2, 'i', 3, 3, 1), MSC_EUSAGE);
    CHECK_EQ(msc_heap_add_array(h, 2, 'O', 8, 1, 1), MSC_EUSAGE);
    CHECK_EQ(msc_heap_add_array(h, 2, 'S', 8, 8, 1), MSC_EUSAGE);
    CHECK_EQ(msc_heap_add_array(h, 2, 'f', 1, 1, 1), MSC_EUSAGE);
    CHECK_EQ(msc_heap_add_array(h, 2, 'i', 8, 8, 1ULL << 53), MSC_EUSAGE);
    CHECK_EQ(msc_heap_add_array(h, 0, 'i', 8, 8, 1), MSC_EUSAGE);
    CHECK_EQ(msc_heap_add_array(h, h->node_count, 'i', 8, 8, 1), MSC_EUSAGE);
    CHECK_EQ(msc_heap_add_array(h, 2, 'u', 8, 1, 1), 0);
    CHECK_EQ(msc_heap_add_array(h, 2, 'u', 8, 1, 1), MSC_EUSAGE); /* not after the last */
    h->arrays[0].fits = 9;
    check_rejected(h, "array with an impossible kind, element size or length");
    h->arrays[0] = (msc_heap_array_t){2, 'i', 4, 8, 1};
    check_rejected(h, "array with an impossible kind, element size or length");
    h->arrays[0] = (msc_heap_array_t){2, 'i', 8, 8, 1};
    h->flags[2] |= MSC_HEAP_SYNTHETIC;
    check_rejected(h, "array record for a synthetic node");
    msc_heap_free(h);
}

static uint32_t add(msc_heap_t *h, uint32_t type, uint64_t size, uint8_t flags)
{
    uint32_t v;
    CHECK_EQ(
        msc_heap_add_node(h, 0x1000 + 64 * (uint64_t)h->node_count, type, size, 1, flags, 0, &v),
        0);
    return v;
}

/* Three copies of one str, two of one bytes (a bytes with the str's digest
 * and size is not a copy of it), a str of the same digest but another size
 * (a different object, kept apart), and values held once. */
static void test_duplicates(void)
{
    msc_heap_t *h = msc_heap_new();
    uint32_t tstr = type(h, "str"), tbytes = type(h, "bytes"), v;
    uint32_t a[3], b[2];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(msc_heap_set_digest(h, a[i] = add(h, tstr, 149, 0), 111), 0);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(msc_heap_set_digest(h, b[i] = add(h, tbytes, 1033, 0), 222), 0);
    CHECK_EQ(msc_heap_set_digest(h, add(h, tbytes, 149, 0), 111), 0);
    CHECK_EQ(msc_heap_set_digest(h, add(h, tstr, 150, 0), 111), 0);
    CHECK_EQ(msc_heap_set_digest(h, add(h, tstr, 60, 0), 333), 0);
    v = add(h, tstr, 60, 0); /* no digest: never a copy */
    (void)v;
    CHECK_EQ(msc_heap_finish(h), 0);
    msc_heap_dups_t d;
    CHECK_EQ(msc_heap_duplicates(h, &d), 0);
    CHECK_EQ(d.len, 2);
    if (d.len == 2) {
        CHECK(d.groups[0].type == tbytes && d.groups[0].copies == 2 && d.groups[0].size == 1033);
        CHECK_EQ(d.groups[0].wasted, 1033);
        CHECK_EQ(d.groups[0].example, b[0]);
        CHECK(d.groups[1].type == tstr && d.groups[1].copies == 3 && d.groups[1].wasted == 298);
        CHECK_EQ(d.groups[1].example, a[0]);
    }
    CHECK_EQ(d.copies, 5);
    CHECK_EQ(d.wasted, 1033 + 298);
    msc_heap_dups_release(&d);
    msc_heap_free(h);
}

/* Each shape of container, with sizes as sys.getsizeof reports them on
 * CPython 3.11 and the saving that dict(d), set(s) or leaving it out gives. */
static void test_empty_containers(void)
{
    msc_heap_t *h = msc_heap_new();
    uint32_t tlist = type(h, "list"), tdict = type(h, "dict"), tset = type(h, "set"), tfoo;
    CHECK_EQ(msc_heap_add_type(h, str(h, "Foo"), str(h, "app"), &tfoo), 0);
    uint32_t foo = add(h, tfoo, 56, 1), foo_dict = add(h, tdict, 296, 1);
    uint32_t lists[4], popped = add(h, tdict, 36952, 1), sparse = add(h, tdict, 26032, 1);
    uint32_t fresh = add(h, tdict, 64, 1), one = add(h, tdict, 184, 1);
    uint32_t grown_set = add(h, tset, 728, 1), small_set = add(h, tset, 216, 1);
    for (int i = 0; i < 4; i++) lists[i] = add(h, tlist, 56 + 8 * (i == 3 ? 4 : 0), 1);
    CHECK_EQ(msc_heap_add_edge(h, foo, foo_dict, str(h, "__dict__")), 0);
    CHECK_EQ(msc_heap_finish(h), 0);
    /* An empty instance dict; a dict of 1000 ints emptied by pops; one of
     * 1000 str keys with 990 popped; {}; {'a': 1}, already minimal; a set
     * of 1 in 32 slots; set(); three [] and a list of 1 in 4 slots. */
    CHECK_EQ(msc_heap_add_container(h, foo_dict, MSC_HEAP_DICT_SPLIT, 0, 29), 0);
    CHECK_EQ(msc_heap_add_container(h, popped, MSC_HEAP_DICT, 0, 2048), 0);
    CHECK_EQ(msc_heap_add_container(h, sparse, MSC_HEAP_DICT_STR, 10, 2048), 0);
    CHECK_EQ(msc_heap_add_container(h, fresh, MSC_HEAP_DICT_STR, 0, 1), 0);
    CHECK_EQ(msc_heap_add_container(h, one, MSC_HEAP_DICT_STR, 1, 8), 0);
    CHECK_EQ(msc_heap_add_container(h, grown_set, MSC_HEAP_SET, 1, 32), 0);
    CHECK_EQ(msc_heap_add_container(h, small_set, MSC_HEAP_SET, 0, 8), 0);
    for (uint64_t i = 0; i < 4; i++)
        CHECK_EQ(msc_heap_add_container(h, lists[i], MSC_HEAP_LIST, i / 3, i / 3 * 4), 0);
    msc_heap_empty_t e;
    CHECK_EQ(msc_heap_empty(h, &e), 0);
    CHECK_EQ(e.containers, 11);
    CHECK_EQ(e.len, 4);
    if (e.len == 4) {
        /* 36952 - 64 and 26032 - 272 (dict(d) of 10 str keys), then {} whole. */
        CHECK(strcmp(e.rows[0].kind, "dict (no owner)") == 0);
        CHECK(e.rows[0].mostly_empty == 2 && e.rows[0].mostly_empty_bytes == 36952 + 26032);
        CHECK(e.rows[0].empty == 1 && e.rows[0].empty_bytes == 64);
        CHECK_EQ(e.rows[0].saving, (36952 - 64) + (26032 - 272) + 64);
        CHECK_EQ(e.rows[0].example, popped);
        /* A set of 1 in 32 slots: set(s) keeps it inline, 512 bytes less. */
        CHECK(strcmp(e.rows[1].kind, "set") == 0 && e.rows[1].mostly_empty == 1);
        CHECK(e.rows[1].empty == 1 && e.rows[1].saving == 512 + 216);
        CHECK(strcmp(e.rows[2].kind, "dict of app.Foo") == 0 && e.rows[2].empty == 1);
        CHECK_EQ(e.rows[2].saving, 296);
        CHECK(strcmp(e.rows[3].kind, "list") == 0 && e.rows[3].empty == 3);
        CHECK(e.rows[3].mostly_empty == 0 && e.rows[3].saving == 3 * 56);
    }
    CHECK_EQ(e.saving, e.rows[0].saving + e.rows[1].saving + e.rows[2].saving + e.rows[3].saving);
    msc_heap_empty_release(&e);
    msc_heap_free(h);
}

/* msc_heap_read_partition gives msc_heap_partition's rows for h, every
 * way, and refuses every truncation of the file. */
static void check_partitions_from_file(const msc_heap_t *h)
{
    char path[64];
    int fd = write_tmp(h, path);
    msc_error_info_t info;
    msc_heap_partition_t want, got;
    for (int by = MSC_HEAP_BY_KIND; by <= MSC_HEAP_BY_SIZE; by++) {
        CHECK_EQ(msc_heap_partition(h, by, &want), 0);
        CHECK_EQ(msc_heap_read_partition(fd, by, &got, &info, NULL, NULL), 0);
        CHECK(got.len == want.len && got.total_count == want.total_count &&
              got.total_bytes == want.total_bytes && got.by == by);
        for (size_t i = 0; i < got.len && i < want.len; i++)
            CHECK(strcmp(got.rows[i].name, want.rows[i].name) == 0 &&
                  got.rows[i].count == want.rows[i].count &&
                  got.rows[i].bytes == want.rows[i].bytes);
        msc_heap_partition_release(&got);
        msc_heap_partition_release(&want);
    }
    off_t size = lseek(fd, 0, SEEK_END);
    for (off_t cut = 0; cut < size; cut += 1 + cut / 16) {
        CHECK_EQ(ftruncate(fd, cut), 0);
        info.what = NULL;
        CHECK(msc_heap_read_partition(fd, MSC_HEAP_BY_KIND, &got, &info, NULL, NULL) < 0 &&
              info.what != NULL && got.len == 0 && got.rows == NULL);
    }
    close(fd);
    unlink(path);
}

static void test_partition_kinds(void)
{
    msc_heap_t *h = msc_heap_new();
    uint32_t tdict = type(h, "dict"), tfoo, v, owner, preview;
    CHECK_EQ(msc_heap_add_type(h, str(h, "Foo"), str(h, "app"), &tfoo), 0);
    /* A str object "__dict__" met first: its preview is not the label. */
    CHECK_EQ(msc_heap_add_string(h, "__dict__", 8, &preview), 0);
    uint32_t dict_label = str(h, "__dict__");
    CHECK(dict_label != preview);
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(msc_heap_add_node(h, 0x100 + 32 * (uint64_t)i, tfoo, 56, 1, 1, 0, &owner), 0);
        CHECK_EQ(msc_heap_add_node(h, 0x2000 + 32 * (uint64_t)i, tdict, 104, 1, 1, 0, &v), 0);
        CHECK_EQ(msc_heap_add_edge(h, owner, v, dict_label), 0);
    }
    CHECK_EQ(msc_heap_add_node(h, 0x9000, tdict, 232, 1, 1, 0, &v), 0);
    /* A root's "__dict__" edge names no owner. */
    CHECK_EQ(msc_heap_add_root_edge(h, v, dict_label), 0);
    CHECK_EQ(msc_heap_finish(h), 0);
    msc_heap_partition_t p;
    CHECK_EQ(msc_heap_partition(h, MSC_HEAP_BY_KIND, &p), 0);
    CHECK_EQ(p.len, 3);
    CHECK_EQ(p.total_count, 21);
    CHECK_EQ(p.total_bytes, 10 * 56 + 10 * 104 + 232);
    CHECK(strcmp(p.rows[0].name, "dict of app.Foo") == 0 && p.rows[0].count == 10);
    CHECK(strcmp(p.rows[1].name, "app.Foo") == 0);
    CHECK(strcmp(p.rows[2].name, "dict (no owner)") == 0 && p.rows[2].bytes == 232);
    msc_heap_partition_t q;
    CHECK_EQ(msc_heap_partition(h, MSC_HEAP_BY_TYPE, &q), 0);
    msc_heap_diff_t d;
    CHECK_EQ(msc_heap_diff(&q, &p, 0, &d), 0);
    CHECK_EQ(d.count_delta, 0);
    CHECK(d.len == 3 && strcmp(d.rows[0].name, "dict of app.Foo") == 0);
    msc_heap_diff_release(&d);
    msc_heap_partition_release(&q);
    msc_heap_partition_release(&p);
    check_partitions_from_file(h);
    msc_heap_free(h);
}

/* The address table is built on demand and refuses a repeated address. */
static void test_address_index(void)
{
    uint32_t t;
    uint64_t sizes[4] = {0, 16, 16, 16};
    msc_heap_t *h = nodes(3, &t, sizes);
    CHECK_EQ(msc_heap_find(h, 0x1020), UINT32_MAX);
    CHECK_EQ(msc_heap_index(h), 0);
    CHECK_EQ(msc_heap_find(h, 0x1020), 2);
    CHECK_EQ(msc_heap_find(h, 0x1028), UINT32_MAX);
    uint32_t v;
    CHECK_EQ(msc_heap_add_node(h, 0x1020, t, 16, 1, 0, 0, &v), 0);
    CHECK_EQ(msc_heap_index(h), MSC_ECORRUPT);
    msc_heap_free(h);
}

/* A million objects in one chain: no recursion anywhere. */
static void test_deep_chain(void)
{
    msc_heap_t *h = msc_heap_new();
    uint32_t t = type(h, "node"), v;
    const uint32_t n = 1000000;
    for (uint32_t i = 1; i <= n; i++) {
        CHECK(msc_heap_add_node(h, 16 * (uint64_t)i, t, 1, 1, 0, 0, &v) == 0);
        if (msc_heap_add_edge(h, i - 1, i, 0) != 0) CHECK(0);
    }
    CHECK_EQ(msc_heap_finish(h), 0);
    msc_heap_dom_t d;
    CHECK_EQ(msc_heap_dominators(h, &d), 0);
    CHECK_EQ(d.retained[1], n);
    CHECK_EQ(d.idom[n], n - 1);
    msc_heap_dom_release(&d);
    msc_heap_free(h);
}

/* The seeds' parent/child cycle, unreached and held by nothing else, is
 * garbage with Node.parent as the reference to weaken; the same shape
 * with one reference from outside the snapshot (C code) is not. */
static void test_cycles(void)
{
    msc_heap_t *h = msc_heap_new();
    uint32_t node_t, dict_t = type(h, "dict"), list_t = type(h, "list"), v;
    CHECK_EQ(msc_heap_add_type(h, str(h, "Node"), str(h, "app"), &node_t), 0);
    uint32_t types[] = {node_t, dict_t, list_t, node_t, dict_t, node_t, dict_t};
    uint32_t refcnt[] = {1, 1, 1, 1, 1, 2, 1};
    for (uint32_t i = 0; i < 7; i++)
        CHECK_EQ(msc_heap_add_node(h, 0x1000 + 64 * (uint64_t)i, types[i], 100, refcnt[i],
                                   MSC_HEAP_GC_TRACKED, 0, &v),
                 0);
    uint32_t gc = str(h, "gc (no root reaches it)"), dict = str(h, "__dict__");
    CHECK_EQ(msc_heap_add_root_edge(h, 1, gc), 0);
    CHECK_EQ(msc_heap_add_root_edge(h, 6, gc), 0);
    CHECK_EQ(msc_heap_add_edge(h, 1, 2, dict), 0);                   /* root.__dict__ */
    CHECK_EQ(msc_heap_add_edge(h, 2, 3, str(h, "children")), 0);
    CHECK_EQ(msc_heap_add_edge(h, 3, 4, MSC_HEAP_LABEL_INDEX | 0), 0);
    CHECK_EQ(msc_heap_add_edge(h, 4, 5, dict), 0);                   /* child.__dict__ */
    CHECK_EQ(msc_heap_add_edge(h, 5, 1, str(h, "parent")), 0);
    CHECK_EQ(msc_heap_add_edge(h, 6, 7, dict), 0);                   /* held from C */
    CHECK_EQ(msc_heap_add_edge(h, 7, 6, str(h, "me")), 0);
    CHECK_EQ(msc_heap_finish(h), 0);
    msc_heap_cycles_t c;
    CHECK_EQ(msc_heap_cycles(h, &c), 0);
    CHECK_EQ(c.garbage_objects, 5);
    CHECK_EQ(c.cycle_count, 1);
    CHECK_EQ(c.len, 1);
    if (c.len == 1) {
        CHECK(strcmp(c.groups[0].kinds, "list, app.Node, dict of app.Node") == 0);
        CHECK(c.groups[0].weaken && strcmp(c.groups[0].weaken, "app.Node.parent") == 0);
        CHECK_EQ(c.groups[0].weaken_refs, 1);
        CHECK_EQ(c.groups[0].weakrefable, 1);
        CHECK_EQ(c.groups[0].bytes, 500);
    }
    msc_heap_cycles_release(&c);
    msc_heap_free(h);
}

int main(void)
{
    test_retained_brute_force();
    test_checker();
    test_cache_retains_entries();
    test_file_round_trip();
    test_reader_rejects_bad_contents();
    test_reader_rejects_digests_before_version_3();
    test_array_records();
    test_duplicates();
    test_empty_containers();
    test_partition_kinds();
    test_address_index();
    test_deep_chain();
    test_cycles();
    return check_done("heap");
}
