/* Helpers every subcommand shares: messages in one voice, size and number
 * parsing, colour detection. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "memscope/report.h"

/* One message line: what it quotes (a path, a name from the program) is
 * data, so a control byte in it is written escaped, never sent to the
 * terminal. */
static void say(const char *prefix, const char *fmt, va_list ap)
{
    char *text = NULL;
    fputs(prefix, stderr);
    if (vasprintf(&text, fmt, ap) >= 0) msc_put_text(stderr, text);
    else fputs(fmt, stderr);
    fputc('\n', stderr);
    free(text);
}

const char *cli_shown(const char *s, cli_shown_t *buf)
{
    return msc_text_shown(s, buf->text, sizeof(buf->text));
}

const char *cli_shell_arg(const char *s, cli_shown_t *buf)
{
    char shown[sizeof(buf->text) / 4 - 1]; /* each byte at most 4 once quoted */
    msc_text_shown(s, shown, sizeof(shown));
    if (*shown && strspn(shown, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                "_./-+:,=@%") == strlen(shown)) {
        strcpy(buf->text, shown);
        return buf->text;
    }
    /* 'it'\''s': each quote closes, is escaped, and reopens; room for all. */
    char *o = buf->text;
    *o++ = '\'';
    for (const char *c = shown; *c; c++) {
        if (*c == '\'') memcpy(o, "'\\''", 4), o += 4;
        else *o++ = *c;
    }
    *o++ = '\'';
    *o = 0;
    return buf->text;
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("memscope: ", fmt, ap);
    va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say("memscope: warning: ", fmt, ap);
    va_end(ap);
}

int cli_usage(const cli_command_t *cmd, FILE *out, int code)
{
    fputs(cmd->usage, out);
    return code;
}

int cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cli_parse_uint(const char *text, uint64_t *out)
{
    char *end;
    if (!isdigit((unsigned char)*text)) return -1;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end || errno == ERANGE) return -1; /* past 2^64 - 1 */
    *out = v;
    return 0;
}

int cli_option_uint(const char *option, const char *text, uint64_t *out)
{
    if (cli_parse_uint(text, out) == 0) return 0;
    cli_error("%s wants a number, not '%s'", option, text);
    return -1;
}

int cli_parse_size(const char *text, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t scale;
    } units[] = {
        {"", 1},           {"b", 1},           {"k", 1000},         {"kb", 1000},
        {"kib", 1024},     {"m", 1000000},     {"mb", 1000000},     {"mib", 1048576},
        {"g", 1000000000}, {"gb", 1000000000}, {"gib", 1073741824},
    };
    char *end;
    if (!isdigit((unsigned char)*text) && *text != '.') return -1;
    double v = strtod(text, &end);
    if (!(v >= 0 && v < 1.8e19)) return -1; /* NaN, infinities, overflow */
    while (*end == ' ') end++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            double bytes = v * (double)units[i].scale;
            if (bytes < 0 || bytes > 1.8e19) return -1;
            *out = (uint64_t)bytes;
            return 0;
        }
    }
    return -1;
}

int cli_color(FILE *f)
{
    const char *no = getenv("NO_COLOR");
    return isatty(fileno(f)) && !(no && *no);
}

int cli_parse_view(const char *text, msc_view_t *out)
{
    static const char *names[] = {"peak", "exit", "total"};
    for (int i = 0; i < MSC_VIEW_COUNT; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = (msc_view_t)i;
            return 0;
        }
    cli_error("--at wants peak, exit or total, not '%s'", text);
    return -1;
}

int cli_parse_metric(const char *text, msc_view_t *out)
{
    if (strcmp(text, "cpu") == 0 || strcmp(text, "wall") == 0) {
        *out = text[0] == 'c' ? MSC_VIEW_CPU : MSC_VIEW_WALL;
        return 0;
    }
    cli_error("--metric wants cpu or wall, not '%s'", text);
    return -1;
}

int cli_at_or_metric(int at, int metric)
{
    if (!at || !metric) return 0;
    cli_error("--at picks a memory view and --metric a time: give one of them");
    return -1;
}

int cli_require_samples(const cli_capture_t *cap, const char *path)
{
    if (msc_analysis_summary(cap->analysis)->cpu_samples) return 0;
    cli_error("'%s' has no CPU samples: record it with memscope run --cpu", path);
    return -1;
}

int cli_parse_group(const char *text, msc_group_t *out)
{
    static const char *names[] = {"line", "function", "file"};
    for (int i = 0; i < 3; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = (msc_group_t)i;
            return 0;
        }
    cli_error("--by wants line, function or file, not '%s'", text);
    return -1;
}
