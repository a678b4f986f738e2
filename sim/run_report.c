/*
 * run_report.c: what the runner tells people and CI systems: console
 * lines (a progress line per scenario on a terminal, plain PASS/FAIL lines
 * otherwise), TAP version 13 on stdout, and JUnit XML.
 */
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static FILE *human;
static bool tty;

FILE *
report_out(void)
{
    return human != NULL ? human : stdout;
}

static const char *
verdict_word(enum run_verdict v)
{
    static const char *const words[] = {"PASS", "FAIL", "ERROR",
                                        "STOP", "SKIP", "SKIP"};

    return (unsigned)v < sizeof(words) / sizeof(words[0]) ? words[v] : "?";
}

static const char *
verdict_color(enum run_verdict v)
{
    return v == RUN_PASS                          ? "\033[32m"
           : v == RUN_NOT_RUN || v == RUN_SKIPPED ? "\033[33m"
                                                  : "\033[31m";
}

void
report_start(const struct run_opts *o, size_t total)
{
    human = o->tap ? stderr : stdout;
    tty = isatty(fileno(human)) != 0;
    if (o->tap) {
        printf("TAP version 13\n1..%zu\n", total);
        fflush(stdout);
    }
}

void
report_begin(const struct run_item *it)
{
    if (!tty)
        return;
    fprintf(human, "\033[2m  RUN  %s (%s)\033[0m\n", it->s->name, it->s->file);
    fflush(human);
}

void
report_end(const struct run_item *it, size_t done, size_t total)
{
    const struct run_result *r = &it->r;

    if (tty)
        fprintf(human, "%s%-5s\033[0m [%zu/%zu] ", verdict_color(r->verdict),
                verdict_word(r->verdict), done, total);
    else
        fprintf(human, "%s ", verdict_word(r->verdict));
    if (r->verdict == RUN_PASS)
        fprintf(human, "%s (%.1f s)\n", it->s->name, r->wall_s);
    else
        fprintf(human, "%s: %s (%.1f s)\n", it->s->name, r->message, r->wall_s);
    if (r->artifacts[0] != '\0')
        fprintf(human, "      artefacts: %s\n", r->artifacts);
    fflush(human);
}

void
report_summary(const struct run_item *items, size_t n, double wall_s)
{
    size_t count[RUN_SKIPPED + 1] = {0};

    for (size_t i = 0; i < n; i++)
        if ((unsigned)items[i].r.verdict <= RUN_SKIPPED)
            count[items[i].r.verdict]++;
    fprintf(human,
            "%zu scenario%s: %zu passed, %zu failed, %zu errors, %zu "
            "interrupted, %zu not run",
            n, n == 1 ? "" : "s", count[RUN_PASS], count[RUN_FAIL],
            count[RUN_ERROR], count[RUN_INTERRUPTED], count[RUN_NOT_RUN]);
    if (count[RUN_SKIPPED] > 0)
        fprintf(human, ", %zu skipped", count[RUN_SKIPPED]);
    fprintf(human, " (%.1f s)\n", wall_s);
    fflush(human);
}

/* ---- TAP ---- */

/* A YAML double-quoted string for TAP's diagnostic block. */
static void
tap_quoted(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if (*s == '\n')
            printf("\\n");
        else if ((unsigned char)*s < 0x20)
            printf("\\x%02x", (unsigned char)*s);
        else
            putchar(*s);
    }
    putchar('"');
}

void
report_tap_flush(const struct run_opts *o, struct run_item *items, size_t n,
                 size_t *next)
{
    if (!o->tap)
        return;
    while (*next < n && items[*next].done) {
        const struct run_item *it = &items[*next];
        const struct run_result *r = &it->r;

        (*next)++;
        if (r->verdict == RUN_PASS) {
            printf("ok %zu - %s # %.1f s\n", *next, it->s->name, r->wall_s);
            continue;
        }
        if (r->verdict == RUN_NOT_RUN || r->verdict == RUN_SKIPPED) {
            printf("ok %zu - %s # SKIP %s\n", *next, it->s->name, r->message);
            continue;
        }
        printf("not ok %zu - %s\n  ---\n  message: ", *next, it->s->name);
        tap_quoted(r->message);
        printf("\n  severity: %s\n  file: ",
               r->verdict == RUN_FAIL ? "fail" : "error");
        tap_quoted(it->s->file);
        if (r->where[0] != '\0') {
            printf("\n  at: ");
            tap_quoted(r->where);
        }
        printf("\n  wall_s: %.1f\n", r->wall_s);
        if (r->artifacts[0] != '\0') {
            printf("  artifacts: ");
            tap_quoted(r->artifacts);
            putchar('\n');
        }
        printf("  ...\n");
    }
    fflush(stdout);
}

/* ---- JUnit XML ---- */

static void
xml_text(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        case '\n':
            fputs("&#10;", f);
            break;
        case '\t':
            fputs("&#9;", f);
            break;
        default:
            /* XML 1.0 has no other control characters. */
            fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
        }
    }
}

/* The file's directory, dotted: "scenarios/faults/x.yaml" gives
 * "scenarios.faults". */
static void
classname(const char *file, char *buf, size_t len)
{
    const char *slash = strrchr(file, '/');
    size_t n = slash != NULL ? (size_t)(slash - file) : 0;

    while (n >= 2 && strncmp(file, "./", 2) == 0) {
        file += 2;
        n -= 2;
    }
    if (n == 0 || (n == 1 && file[0] == '.')) {
        snprintf(buf, len, "scenarios");
        return;
    }
    snprintf(buf, len, "%.*s", (int)n, file);
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '/')
            *p = '.';
    if (buf[0] == '.')
        memmove(buf, buf + 1, strlen(buf));
}

int
report_junit(const char *path, const struct run_item *items, size_t n,
             double wall_s)
{
    size_t fails = 0, errors = 0, skipped = 0;
    char stamp[32], tmp[PATH_MAX];
    time_t now = time(NULL);
    struct tm tm;
    FILE *f;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -1;
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        enum run_verdict v = items[i].r.verdict;

        fails += v == RUN_FAIL;
        errors += v == RUN_ERROR || v == RUN_INTERRUPTED;
        skipped += v == RUN_NOT_RUN || v == RUN_SKIPPED;
    }
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites name=\"ssesim run\" tests=\"%zu\" failures=\"%zu\" "
            "errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
            n, fails, errors, skipped, wall_s);
    fprintf(f,
            "  <testsuite name=\"ssesim run\" tests=\"%zu\" failures=\"%zu\" "
            "errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\" "
            "timestamp=\"%s\">\n",
            n, fails, errors, skipped, wall_s, stamp);
    for (size_t i = 0; i < n; i++) {
        const struct run_item *it = &items[i];
        const struct run_result *r = &it->r;
        char cls[PATH_MAX];

        classname(it->s->file, cls, sizeof(cls));
        fprintf(f, "    <testcase classname=\"");
        xml_text(f, cls);
        fprintf(f, "\" name=\"");
        xml_text(f, it->s->name);
        fprintf(f, "\" file=\"");
        xml_text(f, it->s->file);
        fprintf(f, "\" time=\"%.3f\"", r->wall_s);
        if (r->verdict == RUN_PASS) {
            fprintf(f, "/>\n");
            continue;
        }
        fprintf(f, ">\n");
        if (r->verdict == RUN_NOT_RUN || r->verdict == RUN_SKIPPED) {
            fprintf(f, "      <skipped message=\"");
            xml_text(f, r->message);
            fprintf(f, "\"/>\n");
        } else {
            const char *tag = r->verdict == RUN_FAIL ? "failure" : "error";

            fprintf(f, "      <%s message=\"", tag);
            xml_text(f, r->message);
            fprintf(f, "\" type=\"%s\">",
                    r->verdict == RUN_FAIL    ? "expectation"
                    : r->verdict == RUN_ERROR ? "harness"
                                              : "interrupted");
            xml_text(f, r->message);
            if (r->artifacts[0] != '\0') {
                fprintf(f, "&#10;artefacts: ");
                xml_text(f, r->artifacts);
            }
            fprintf(f, "</%s>\n", tag);
        }
        fprintf(f, "    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}
