/* memscope heap FILE ...: reports on a heap snapshot file (written by
 * memscope.dump_heap): heapy's partition table, what retains the most,
 * the reference chain to an object, what grew since an older snapshot,
 * cycles, duplicate strings and empty containers. Reading is all core
 * (heapfile.c); this file parses options, picks the report (text or JSON)
 * and turns errors into one line and exit code 2. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "memscope/heapfile.h"
#include "memscope/heapreport.h"

static int run(int argc, char **argv);

const cli_command_t cli_cmd_heap = {
    "heap", run, "heap snapshots: partitions, retained sizes, paths, growth, waste",
    "usage: memscope heap FILE [--by kind|type|module|size] [--limit N] [--json]\n"
    "       memscope heap FILE --retained [--limit N] [--json]\n"
    "       memscope heap FILE --path-to ID|TYPE [--limit N] [--json]\n"
    "       memscope heap FILE --diff OLD [--limit N] [--json]\n"
    "       memscope heap FILE --cycles [--limit N] [--json]\n"
    "       memscope heap FILE --duplicates [--limit N] [--json]\n"
    "       memscope heap FILE --empty [--limit N] [--json]\n"
    "       memscope heap FILE --graph ID|TYPE [--depth N] [--backrefs]\n"
    "                             -o OUT [--force]\n"
    "       memscope heap FILE --export heapsnapshot -o OUT [--force]\n\n"
    "Report on a heap snapshot written by memscope.dump_heap(path).\n\n"
    "options:\n"
    "  --by KEY        partition table (default: kind). kind names dicts after\n"
    "                  their owner: 'dict of Foo', 'dict (no owner)'\n"
    "  --retained      leak suspects and what retains the most (dominator tree)\n"
    "  --path-to X     shortest reference chain from a root to object X (an id\n"
    "                  as printed by id(), decimal or 0x hex) or to the object\n"
    "                  of type X nearest a root; for a type, then the paths of\n"
    "                  all its objects merged: how many each chain holds, and\n"
    "                  what they retain\n"
    "  --diff OLD      what grew since the snapshot OLD, by kind\n"
    "  --cycles        reference cycles the collector would free, grouped by\n"
    "                  the kinds in them, with the reference to make weak\n"
    "  --duplicates    str and bytes values held in more than one copy (equal\n"
    "                  contents, not the same object), by bytes wasted, with\n"
    "                  what sys.intern() would save\n"
    "  --empty         empty and mostly empty lists, dicts, sets and instance\n"
    "                  dicts by kind ('dict of Foo'), with what __slots__, lazy\n"
    "                  creation or right-sizing would save. Mostly empty: holds\n"
    "                  less than a quarter of what its allocation takes before\n"
    "                  growing, and a copy of it would be smaller\n"
    "  --graph X       picture of object X (an id, or the instance of type X\n"
    "                  closest to a root) and what it refers to, as objgraph's\n"
    "                  show_refs; with --backrefs what refers to it, up to the\n"
    "                  roots (show_backrefs). Drawn by Graphviz's dot\n"
    "  --depth N       references to follow from X (default 3)\n"
    "  --export heapsnapshot\n"
    "                  write the snapshot as Chrome DevTools' .heapsnapshot JSON\n"
    "                  to OUT (open it in the browser's Memory tab: Load)\n"
    "  -o OUT          the picture: OUT.svg, OUT.png or OUT.pdf, or OUT.dot for\n"
    "                  the Graphviz source; with --export, the JSON file\n"
    "  --force         replace OUT if it exists (a regular file only)\n"
    "  --limit N       rows to show (default 20; 0 for all)\n"
    "  --json          the report as one JSON object, the same rows and numbers\n"
    "                  (docs/reports.md); not with --graph or --export\n\n"
    "examples:\n"
    "  memscope heap app.heap --by kind\n"
    "  memscope heap app.heap --retained --limit 10\n"
    "  memscope heap app.heap --path-to Session\n"
    "  memscope heap after.heap --diff before.heap\n"
    "  memscope heap app.heap --cycles\n"
    "  memscope heap app.heap --duplicates --limit 10\n"
    "  memscope heap app.heap --empty\n"
    "  memscope heap app.heap --retained --json > retained.json\n"
    "  memscope heap app.heap --graph Session --backrefs -o session.svg\n"
    "  memscope heap app.heap --export heapsnapshot -o app.heapsnapshot\n"};

enum mode {
    MODE_PARTITION,
    MODE_RETAINED,
    MODE_PATH,
    MODE_DIFF,
    MODE_CYCLES,
    MODE_DUPLICATES,
    MODE_EMPTY,
    MODE_GRAPH,
    MODE_EXPORT
};

typedef struct options {
    enum mode mode;
    const char *view;          /* the option that chose mode, NULL for the partition */
    int by;
    uint64_t limit;
    const char *target;        /* --path-to, --graph */
    uint64_t depth;            /* --graph */
    int backrefs;
    cli_output_t output;       /* -o, --force; the snapshots read are its inputs */
    const char *older;         /* --diff */
    const char *file;
    int json;                  /* --json: the report as one JSON object */
} options_t;

/* Reads a snapshot or prints the one-line reason: NULL then. */
msc_heap_t *cli_heap_load(const char *path)
{
    int fd = cli_open_input(path);
    if (fd < 0) return NULL;
    int err;
    msc_error_info_t info = {0, NULL};
    cli_bar_t bar = {"reading", path, time(NULL), 0};
    msc_heap_t *h = msc_heap_read(fd, &err, &info, isatty(2) ? cli_bar_draw : NULL, &bar);
    cli_bar_clear(&bar);
    close(fd);
    if (!h)
        cli_error("cannot read '%s': %s at byte %llu", path,
                  info.what ? info.what : msc_strerror(err), (unsigned long long)info.offset);
    return h;
}

/* Sets the one view the command shows; -1 after saying so when another
 * option already chose a different one. */
static int choose(options_t *o, enum mode mode, const char *option)
{
    if (o->view && o->mode != mode) {
        cli_error("%s and %s are separate views: choose one", o->view, option);
        return -1;
    }
    o->mode = mode;
    o->view = option;
    return 0;
}

static int parse(int argc, char **argv, options_t *o)
{
    static const struct option longopts[] = {
        {"by", required_argument, NULL, 'b'},
        {"limit", required_argument, NULL, 'n'},
        {"retained", no_argument, NULL, 'r'},
        {"path-to", required_argument, NULL, 'p'},
        {"diff", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {"cycles", no_argument, NULL, 'c'},
        {"graph", required_argument, NULL, 'g'},
        {"depth", required_argument, NULL, 'D'},
        {"backrefs", no_argument, NULL, 'B'},
        {"output", required_argument, NULL, 'o'},
        {"export", required_argument, NULL, 'x'},
        {"duplicates", no_argument, NULL, 'u'},
        {"empty", no_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {"force", no_argument, NULL, 'F'},
        {NULL, 0, NULL, 0},
    };
    int c;
    *o = (options_t){
        MODE_PARTITION, NULL, MSC_HEAP_BY_KIND, 20, NULL, 3, 0, {NULL, 0, {NULL, NULL}}, NULL,
        NULL,           0};
    int by_given = 0, depth_given = 0;
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if ((o->by = msc_heap_by_parse(optarg)) < 0) {
                cli_error("--by wants kind, type, module or size, not '%s'", optarg);
                return EXIT_USAGE;
            }
            by_given = 1;
            break;
        case 'n':
            if (cli_option_uint("--limit", optarg, &o->limit) < 0) return EXIT_USAGE;
            break;
        case 'r':
            if (choose(o, MODE_RETAINED, "--retained") < 0) return EXIT_USAGE;
            break;
        case 'p':
            if (choose(o, MODE_PATH, "--path-to") < 0) return EXIT_USAGE;
            o->target = optarg;
            break;
        case 'd':
            if (choose(o, MODE_DIFF, "--diff") < 0) return EXIT_USAGE;
            o->older = optarg;
            break;
        case 'c':
            if (choose(o, MODE_CYCLES, "--cycles") < 0) return EXIT_USAGE;
            break;
        case 'u':
            if (choose(o, MODE_DUPLICATES, "--duplicates") < 0) return EXIT_USAGE;
            break;
        case 'e':
            if (choose(o, MODE_EMPTY, "--empty") < 0) return EXIT_USAGE;
            break;
        case 'g':
            if (choose(o, MODE_GRAPH, "--graph") < 0) return EXIT_USAGE;
            o->target = optarg;
            break;
        case 'B': o->backrefs = 1; break;
        case 'j': o->json = 1; break;
        case 'o': o->output.path = optarg; break;
        case 'F': o->output.force = 1; break;
        case 'x':
            if (strcmp(optarg, "heapsnapshot") != 0) {
                cli_error("--export wants heapsnapshot, not '%s'", optarg);
                return EXIT_USAGE;
            }
            if (choose(o, MODE_EXPORT, "--export") < 0) return EXIT_USAGE;
            break;
        case 'D':
            if (cli_parse_uint(optarg, &o->depth) < 0 || o->depth > 100) {
                cli_error("--depth wants a number up to 100, not '%s'", optarg);
                return EXIT_USAGE;
            }
            depth_given = 1;
            break;
        case 'h': return cli_usage(&cli_cmd_heap, stdout, EXIT_OK) - 1;
        default: return cli_usage(&cli_cmd_heap, stderr, EXIT_USAGE);
        }
    }
    if (optind != argc - 1) return cli_usage(&cli_cmd_heap, stderr, EXIT_USAGE);
    if (by_given && o->view) {
        cli_error("--by is for the partition table, not for %s", o->view);
        return EXIT_USAGE;
    }
    if ((depth_given || o->backrefs) && o->mode != MODE_GRAPH) {
        cli_error("%s is for --graph", depth_given ? "--depth" : "--backrefs");
        return EXIT_USAGE;
    }
    o->file = o->output.inputs[0] = argv[optind];
    o->output.inputs[1] = o->older;
    if (o->mode == MODE_GRAPH && !o->output.path) {
        cli_error("--graph needs -o OUT (.svg, .png, .pdf or .dot)");
        return EXIT_USAGE;
    }
    if (o->mode == MODE_EXPORT && !o->output.path) {
        cli_error("--export needs -o OUT");
        return EXIT_USAGE;
    }
    if (o->json && (o->mode == MODE_GRAPH || o->mode == MODE_EXPORT)) {
        cli_error("--json is for the reports, not for --%s",
                  o->mode == MODE_GRAPH ? "graph" : "export");
        return EXIT_USAGE;
    }
    return 0;
}

/* The node --path-to names: an address, or the type's instance that is
 * closest to a root. UINT32_MAX (with a message) when there is none. */
static uint32_t find_target(const msc_heap_t *h, const msc_heap_paths_t *p, const char *target)
{
    char *end;
    unsigned long long addr = strtoull(target, &end, 0);
    if (*target >= '0' && *target <= '9' && *end == 0) {
        uint32_t v = msc_heap_find(h, addr);
        if (v == UINT32_MAX) cli_error("no object with id %s in the snapshot", target);
        return v;
    }
    uint32_t count, best = UINT32_MAX, best_depth = UINT32_MAX;
    uint32_t *found = msc_heap_find_type(h, target, &count);
    for (uint32_t i = 0; found && i < count; i++) {
        uint32_t depth = 0, v = found[i];
        if (p->parent[v] == UINT32_MAX) continue;
        for (uint32_t x = v; x && depth < best_depth; x = p->parent[x]) depth++;
        if (depth < best_depth) best = found[i], best_depth = depth;
    }
    if (best == UINT32_MAX && count) best = found[0];
    if (best == UINT32_MAX) cli_error("no object of type '%s' in the snapshot", target);
    msc_free(found);
    return best;
}

/* The paths of all instances of the type named by target, merged; 0 with
 * g empty when target is an id, or MSC_ENOMEM. */
static int merge_type_paths(const msc_heap_t *h, const msc_heap_paths_t *p, const char *target,
                            msc_heap_path_groups_t *g)
{
    g->groups = NULL;
    g->n = 0;
    if (*target >= '0' && *target <= '9') return 0;
    uint32_t count;
    uint32_t *found = msc_heap_find_type(h, target, &count);
    msc_heap_dom_t d;
    if (!found || msc_heap_dominators(h, &d) < 0) {
        msc_free(found);
        return MSC_ENOMEM;
    }
    int rc = msc_heap_merge_paths(h, p, &d, found, count, g);
    msc_heap_dom_release(&d);
    msc_free(found);
    return rc;
}

static int report_path(const msc_heap_t *h, const options_t *o)
{
    msc_heap_paths_t p;
    msc_heap_path_groups_t merged;
    if (msc_heap_paths(h, &p) < 0) return MSC_ENOMEM;
    uint32_t v = find_target(h, &p, o->target);
    int rc = v == UINT32_MAX ? 1 : merge_type_paths(h, &p, o->target, &merged);
    if (rc == 0) {
        const msc_heap_path_groups_t *m = merged.n ? &merged : NULL;
        rc = o->json ? msc_heap_write_path_json(stdout, h, &p, v, m, (size_t)o->limit)
                     : msc_heap_write_path(stdout, h, &p, v, m, (size_t)o->limit);
        msc_heap_path_groups_release(&merged);
    }
    msc_heap_paths_release(&p);
    return rc;
}

static int report_retained(const msc_heap_t *h, const options_t *o)
{
    msc_heap_dom_t d;
    msc_heap_paths_t p;
    if (msc_heap_dominators(h, &d) < 0) return MSC_ENOMEM;
    int rc = msc_heap_paths(h, &p);
    if (rc == 0)
        rc = (o->json ? msc_heap_write_retained_json : msc_heap_write_retained)(stdout, h, &d, &p,
                                                                                (size_t)o->limit);
    if (rc == 0) msc_heap_paths_release(&p);
    msc_heap_dom_release(&d);
    return rc;
}

/* A snapshot's partition by kind, read without building its graph. */
static int load_partition(const char *path, msc_heap_partition_t *p)
{
    int fd = cli_open_input(path);
    if (fd < 0) return -1;
    msc_error_info_t info = {0, NULL};
    cli_bar_t bar = {"reading", path, time(NULL), 0};
    int err = msc_heap_read_partition(fd, MSC_HEAP_BY_KIND, p, &info,
                                      isatty(2) ? cli_bar_draw : NULL, &bar);
    cli_bar_clear(&bar);
    close(fd);
    if (err < 0)
        cli_error("cannot read '%s': %s at byte %llu", path,
                  info.what ? info.what : msc_strerror(err), (unsigned long long)info.offset);
    return err < 0 ? -1 : 0;
}

/* Only the two partitions are ever in memory, one file at a time. */
static int report_diff(const options_t *o)
{
    msc_heap_partition_t a, b;
    msc_heap_diff_t d;
    if (load_partition(o->older, &a) < 0) return 1;
    if (load_partition(o->file, &b) < 0) {
        msc_heap_partition_release(&a);
        return 1;
    }
    int rc = msc_heap_diff(&a, &b, 0, &d);
    if (rc == 0) {
        rc = (o->json ? msc_heap_write_diff_json : msc_heap_write_diff)(stdout, &d,
                                                                        (size_t)o->limit);
        msc_heap_diff_release(&d);
    }
    msc_heap_partition_release(&b);
    msc_heap_partition_release(&a);
    return rc;
}

static int report_cycles(const msc_heap_t *h, const options_t *o)
{
    msc_heap_cycles_t c;
    int rc = msc_heap_cycles(h, &c);
    if (rc < 0) return rc;
    rc = (o->json ? msc_heap_write_cycles_json : msc_heap_write_cycles)(stdout, h, &c,
                                                                        (size_t)o->limit);
    msc_heap_cycles_release(&c);
    return rc;
}

/* The picture: a .dot file written here, or Graphviz's dot reading the
 * graph from a pipe and writing to the file created here. */
static int write_graph(const msc_heap_t *h, const options_t *o, uint32_t v)
{
    const char *path = o->output.path, *ext = strrchr(path, '.');
    if (!ext || (strcmp(ext, ".dot") && strcmp(ext, ".svg") && strcmp(ext, ".png") &&
                 strcmp(ext, ".pdf"))) {
        cli_error("-o wants a name ending in .svg, .png, .pdf or .dot, not '%s'", path);
        return 1;
    }
    int fd = cli_create_output(&o->output);
    if (fd < 0) return 1;
    pid_t pid = 0;
    char type[32];
    snprintf(type, sizeof(type), "-T%s", ext + 1);
    char *args[] = {"dot", type, NULL};
    FILE *out =
        strcmp(ext, ".dot") == 0 ? fdopen(fd, "w") : cli_filter_start(args, fd, &pid, "Graphviz");
    if (pid || !out) close(fd);
    if (!out) {
        if (!pid) cli_error("cannot write '%s': %s", path, strerror(errno));
        unlink(path);
        return 1;
    }
    int rc = msc_heap_write_dot(out, h, &v, 1, (unsigned)o->depth, o->backrefs);
    if (fclose(out) != 0 && rc == 0) rc = MSC_EIO;
    if (pid && cli_filter_finish(pid, "dot", path) < 0) {
        unlink(path);
        return 1;
    }
    if (rc) unlink(path);
    return rc;
}

/* Whether the snapshot recorded what --duplicates and --empty read; says
 * why not when it did not. */
static int has_contents(const msc_heap_t *h, const options_t *o)
{
    if (!h->contents)
        cli_error("'%s' records no string digests or container lengths: it was written by an "
                  "older memscope; take the snapshot again",
                  o->file);
    return h->contents;
}

static int report_duplicates(const msc_heap_t *h, const options_t *o)
{
    msc_heap_dups_t d;
    if (!has_contents(h, o)) return 1;
    int rc = msc_heap_duplicates(h, &d);
    if (rc < 0) return rc;
    rc = (o->json ? msc_heap_write_duplicates_json : msc_heap_write_duplicates)(stdout, h, &d,
                                                                                (size_t)o->limit);
    msc_heap_dups_release(&d);
    return rc;
}

static int report_empty(const msc_heap_t *h, const options_t *o)
{
    msc_heap_empty_t e;
    if (!has_contents(h, o)) return 1;
    int rc = msc_heap_empty(h, &e);
    if (rc < 0) return rc;
    rc = o->json ? msc_heap_write_empty_json(stdout, h, &e, (size_t)o->limit)
                 : msc_heap_write_empty(stdout, &e, (size_t)o->limit);
    msc_heap_empty_release(&e);
    return rc;
}

static int report_graph(const msc_heap_t *h, const options_t *o)
{
    msc_heap_paths_t p;
    if (msc_heap_paths(h, &p) < 0) return MSC_ENOMEM;
    uint32_t v = find_target(h, &p, o->target);
    msc_heap_paths_release(&p);
    return v == UINT32_MAX ? 1 : write_graph(h, o, v);
}

static int write_heapsnapshot(FILE *out, void *h)
{
    return msc_heap_write_heapsnapshot(out, h);
}

static int report_export(const msc_heap_t *h, const options_t *o)
{
    return cli_write_output(&o->output, write_heapsnapshot, (void *)h) ? 1 : 0;
}

static int report_partition(const msc_heap_t *h, const options_t *o)
{
    msc_heap_partition_t p;
    int rc = msc_heap_partition(h, o->by, &p);
    if (rc < 0) return rc;
    rc = (o->json ? msc_heap_write_partition_json : msc_heap_write_partition)(stdout, &p,
                                                                              (size_t)o->limit);
    msc_heap_partition_release(&p);
    return rc;
}

static int run(int argc, char **argv)
{
    options_t o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? EXIT_OK : rc;
    if (o.mode == MODE_DIFF) {
        rc = report_diff(&o);
        if (rc < 0) cli_error("cannot write the report: %s", msc_strerror(rc));
        return rc ? EXIT_USAGE : EXIT_OK;
    }
    msc_heap_t *h = cli_heap_load(o.file);
    if (!h) return EXIT_USAGE;
    switch (o.mode) {
    case MODE_RETAINED: rc = report_retained(h, &o); break;
    case MODE_PATH: rc = report_path(h, &o); break;
    case MODE_CYCLES: rc = report_cycles(h, &o); break;
    case MODE_DUPLICATES: rc = report_duplicates(h, &o); break;
    case MODE_EMPTY: rc = report_empty(h, &o); break;
    case MODE_GRAPH: rc = report_graph(h, &o); break;
    case MODE_EXPORT: rc = report_export(h, &o); break;
    default: rc = report_partition(h, &o); break;
    }
    msc_heap_free(h);
    if (rc < 0)
        cli_error("cannot write '%s': %s", o.output.path ? o.output.path : "standard output",
                  msc_strerror(rc));
    return rc ? EXIT_USAGE : EXIT_OK;
}
