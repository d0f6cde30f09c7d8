/* Where resident memory is, from /proc/self/smaps_rollup: how much of it is
 * anonymous (heaps, stacks, anonymous mappings, private or shared) and how
 * much maps files (the interpreter, shared libraries, mapped data). The sink's writer reads
 * it beside its RSS samples; it allocates nothing, so it is safe on the
 * writer thread, which the recorder's hooks must not see allocate. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The value in kB of the line "name:   123 kB" in text, as bytes; -1 when
 * absent. */
static int64_t field_kb(const char *text, const char *name)
{
    size_t n = strlen(name);
    const char *p = text;
    while (p) {
        if (strncmp(p, name, n) == 0 && p[n] == ':') {
            char *end;
            unsigned long long kb = strtoull(p + n + 1, &end, 10);
            return end == p + n + 1 ? -1 : (int64_t)(kb * 1024);
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return -1;
}

int msc__smaps_rollup(int fd, uint64_t *rss, uint64_t *anon)
{
    char text[4096];
    ssize_t n = pread(fd, text, sizeof(text) - 1, 0); /* the kernel regenerates it at 0 */
    if (n <= 0) return -1;
    text[n] = 0;
    /* Shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS, as Python's
     * mmap module maps by default) is shmem, not Anonymous; its share is
     * Pss_Shmem, which older kernels do not report. */
    int64_t r = field_kb(text, "Rss"), a = field_kb(text, "Anonymous");
    int64_t shmem = field_kb(text, "Pss_Shmem");
    if (r < 0 || a < 0) return -1;
    *rss = (uint64_t)r;
    *anon = (uint64_t)a + (shmem > 0 ? (uint64_t)shmem : 0);
    return 0;
}
