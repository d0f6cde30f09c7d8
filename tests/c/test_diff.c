/* Site matching between two captures on hand-made rows: same sites, a
 * moved line, new and gone sites, and a program run from another checkout
 * (its files renamed, the standard library's left alone). */
#include <string.h>

#include "check.h"
#include "memscope/diff.h"

static const msc_diff_row_t *row_at(const msc_diff_t *d, const char *file, uint32_t line)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->rows[i].file, file) == 0 && d->rows[i].line == line) return &d->rows[i];
    return NULL;
}

static void test_same_and_moved(void)
{
    msc_row_t b[] = {{"/app/a.py", "f", 10, 1000, 1}, {"/app/a.py", "g", 20, 500, 1}};
    msc_row_t a[] = {{"/app/a.py", "f", 10, 3000, 2},
                     {"/app/a.py", "g", 23, 500, 1},
                     {"/app/b.py", "h", 5, 64, 1}};
    msc_rows_t before = {b, 2, 1500}, after = {a, 3, 3564};
    msc_diff_t d;
    CHECK_EQ(msc_diff(&before, &after, &d), 0);
    CHECK_EQ(d.n, 2); /* g moved with the same bytes: unchanged, not listed */
    CHECK(d.rows[0].status == MSC_DIFF_SAME_SITE && d.rows[0].delta_bytes == 2000);
    CHECK(d.rows[1].status == MSC_DIFF_NEW && strcmp(d.rows[1].file, "/app/b.py") == 0);
    msc_diff_release(&d);
}

static void test_other_checkout(void)
{
    msc_row_t b[] = {{"/ci/run-1/src/app/models.py", "load", 12, 1000, 1},
                     {"/ci/run-1/src/app/views.py", "render", 40, 200, 1},
                     {"/usr/lib/python3.11/json/decoder.py", "raw_decode", 353, 300, 3},
                     {"/ci/run-1/src/app/old.py", "gone", 3, 50, 1}};
    msc_row_t a[] = {{"/home/b/work/src/app/models.py", "load", 12, 5000, 1},
                     {"/home/b/work/src/app/views.py", "render", 40, 200, 1},
                     {"/usr/lib/python3.11/json/decoder.py", "raw_decode", 353, 600, 6},
                     {"/home/b/work/src/app/new.py", "fresh", 7, 80, 1}};
    msc_rows_t before = {b, 4, 1550}, after = {a, 4, 5880};
    msc_diff_t d;
    CHECK_EQ(msc_diff(&before, &after, &d), 0);
    const msc_diff_row_t *models = row_at(&d, "/home/b/work/src/app/models.py", 12);
    CHECK(models && models->status == MSC_DIFF_SAME_SITE && models->delta_bytes == 4000);
    CHECK(row_at(&d, "/home/b/work/src/app/views.py", 40) == NULL); /* matched, unchanged */
    const msc_diff_row_t *lib = row_at(&d, "/usr/lib/python3.11/json/decoder.py", 353);
    CHECK(lib && lib->status == MSC_DIFF_SAME_SITE && lib->delta_bytes == 300);
    const msc_diff_row_t *gone = row_at(&d, "/ci/run-1/src/app/old.py", 3);
    CHECK(gone && gone->status == MSC_DIFF_GONE);
    const msc_diff_row_t *fresh = row_at(&d, "/home/b/work/src/app/new.py", 7);
    CHECK(fresh && fresh->status == MSC_DIFF_NEW);
    CHECK_EQ(d.n, 4);
    msc_diff_release(&d);
}

int main(void)
{
    test_same_and_moved();
    test_other_checkout();
    return check_done("diff");
}
