/*
 * triage.c: connector.log lines taken apart and matched against the
 * signature table of lib/triage_sigs.c.
 */
#include "triage.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

/* lib/triage_sigs.c */
extern const struct triage_case triage_cases[];
extern const size_t triage_ncases;
extern const struct triage_sig triage_sigs[];
extern const size_t triage_nsigs;

struct triage_table {
    size_t n;
    regex_t *re;  /* one per signature */
    regex_t *rec; /* one per signature with a recovered pattern */
    bool *has_rec;
};

/*
 * logrus spells a level in full ("error"), cut to four upper-case letters
 * on a terminal ("ERRO[0000]"), and other tooling upper-cases it: all are
 * the same level.
 */
static unsigned
level_bit(const char *level)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        {"error", TRIAGE_ERROR},  {"erro", TRIAGE_ERROR},
        {"fatal", TRIAGE_ERROR},  {"fata", TRIAGE_ERROR},
        {"panic", TRIAGE_ERROR},  {"pani", TRIAGE_ERROR},
        {"warning", TRIAGE_WARN}, {"warn", TRIAGE_WARN},
        {"info", TRIAGE_INFO},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(level, names[i].name) == 0)
            return names[i].bit;
    return 0;
}

/*
 * Copy a logrus quoted value starting after its opening quote, undoing
 * the escapes; stops at the closing quote. false when there is none.
 */
static bool
unquote(const char *p, char *buf, size_t len)
{
    size_t n = 0;

    for (; *p != '\0' && *p != '"'; p++) {
        char c = *p;

        if (c == '\\' && p[1] != '\0') {
            p++;
            c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p;
        }
        if (n + 1 < len)
            buf[n++] = c;
    }
    buf[n] = '\0';
    return *p == '"';
}

/* The value of key="..." or key=word in a logrus text line. */
static bool
text_field(const char *line, const char *key, char *buf, size_t len)
{
    size_t klen = strlen(key);
    const char *p = line;

    buf[0] = '\0';
    while ((p = strstr(p, key)) != NULL) {
        if ((p == line || p[-1] == ' ') && p[klen] == '=')
            break;
        p += klen;
    }
    if (p == NULL)
        return false;
    p += klen + 1;
    if (*p == '"')
        return unquote(p + 1, buf, len);
    snprintf(buf, len, "%.*s", (int)strcspn(p, " "), p);
    return true;
}

/* "[host][file:line pkg:func] message" -> "message". */
static void
strip_brackets(char *msg)
{
    char *p = msg;

    for (int i = 0; i < 2 && *p == '['; i++) {
        char *end = strchr(p, ']');

        if (end == NULL)
            return;
        p = end + 1;
    }
    if (p == msg)
        return;
    if (*p == ' ')
        p++;
    memmove(msg, p, strlen(p) + 1);
}

int
triage_parse_line(const char *line, struct triage_line *out)
{
    memset(out, 0, sizeof(*out));
    if (line[0] == '{') {
        json_t *doc = json_loads(line, 0, NULL);
        const char *l = json_string_value(json_object_get(doc, "level"));
        const char *m = json_string_value(json_object_get(doc, "msg"));
        const char *t = json_string_value(json_object_get(doc, "time"));
        int rc = -1;

        if (l != NULL && m != NULL) {
            snprintf(out->level, sizeof(out->level), "%s", l);
            snprintf(out->msg, sizeof(out->msg), "%s", m);
            snprintf(out->time, sizeof(out->time), "%s", t ? t : "");
            rc = 0;
        }
        json_decref(doc);
        if (rc != 0)
            return -1;
    } else {
        if (!text_field(line, "level", out->level, sizeof(out->level)) ||
            !text_field(line, "msg", out->msg, sizeof(out->msg)))
            return -1;
        text_field(line, "time", out->time, sizeof(out->time));
    }
    out->level_bit = level_bit(out->level);
    strip_brackets(out->msg);
    return 0;
}

void
triage_table_free(struct triage_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        regfree(&t->re[i]);
        if (t->has_rec[i])
            regfree(&t->rec[i]);
    }
    free(t->re);
    free(t->rec);
    free(t->has_rec);
    free(t);
}

int
triage_table_open(struct triage_table **out, char *err, size_t len)
{
    struct triage_table *t = calloc(1, sizeof(*t));
    int rc = -1;

    *out = NULL;
    if (t == NULL) {
        snprintf(err, len, "out of memory");
        return -1;
    }
    t->re = calloc(triage_nsigs, sizeof(*t->re));
    t->rec = calloc(triage_nsigs, sizeof(*t->rec));
    t->has_rec = calloc(triage_nsigs, sizeof(*t->has_rec));
    if (t->re == NULL || t->rec == NULL || t->has_rec == NULL) {
        snprintf(err, len, "out of memory");
        goto out;
    }
    for (; t->n < triage_nsigs; t->n++) {
        const struct triage_sig *s = &triage_sigs[t->n];
        int e;

        if (triage_case_find(s->case_id) == NULL) {
            snprintf(err, len, "signature %s: no case %s", s->name, s->case_id);
            goto out;
        }
        e = regcomp(&t->re[t->n], s->pattern, REG_EXTENDED | REG_NOSUB);
        if (e != 0) {
            char why[128];

            regerror(e, &t->re[t->n], why, sizeof(why));
            snprintf(err, len, "signature %s: pattern: %s", s->name, why);
            goto out;
        }
        if (s->recovered == NULL)
            continue;
        e = regcomp(&t->rec[t->n], s->recovered, REG_EXTENDED | REG_NOSUB);
        if (e != 0) {
            char why[128];

            regerror(e, &t->rec[t->n], why, sizeof(why));
            snprintf(err, len, "signature %s: recovered: %s", s->name, why);
            regfree(&t->re[t->n]);
            goto out;
        }
        t->has_rec[t->n] = true;
    }
    *out = t;
    t = NULL;
    rc = 0;
out:
    triage_table_free(t);
    return rc;
}

size_t
triage_sig_count(const struct triage_table *t)
{
    return t->n;
}

const struct triage_sig *
triage_sig_at(const struct triage_table *t, size_t i)
{
    return i < t->n ? &triage_sigs[i] : NULL;
}

size_t
triage_case_count(void)
{
    return triage_ncases;
}

const struct triage_case *
triage_case_at(size_t i)
{
    return i < triage_ncases ? &triage_cases[i] : NULL;
}

const struct triage_case *
triage_case_find(const char *id)
{
    for (size_t i = 0; i < triage_ncases; i++)
        if (strcmp(triage_cases[i].id, id) == 0)
            return &triage_cases[i];
    return NULL;
}

/*
 * The repeated line inside "<end> still failing: N attempts over D s,
 * the same cause; next attempt in N ms: <line>" (connector/state.c), or
 * NULL.
 */
static const char *
still_failing_inner(const char *msg)
{
    static const char mark[] = "; next attempt in ";
    const char *p;

    if (strstr(msg, " still failing: ") == NULL)
        return NULL;
    p = strstr(msg, mark);
    if (p == NULL)
        return NULL;
    p += sizeof(mark) - 1;
    p += strspn(p, "0123456789");
    if (strncmp(p, " ms: ", 5) != 0)
        return NULL;
    return p + 5;
}

int
triage_match(const struct triage_table *t, const struct triage_line *l)
{
    const char *msg = l->msg;
    unsigned bit = l->level_bit;
    const char *inner;

    if (bit == 0)
        return -1;
    inner = bit == TRIAGE_WARN ? still_failing_inner(msg) : NULL;
    if (inner != NULL) {
        msg = inner;
        bit = TRIAGE_ERROR;
    }
    for (size_t i = 0; i < t->n; i++) {
        if ((triage_sigs[i].levels & bit) == 0)
            continue;
        if (regexec(&t->re[i], msg, 0, NULL, 0) == 0)
            return (int)i;
    }
    return -1;
}

bool
triage_recovers(const struct triage_table *t, size_t i,
                const struct triage_line *l)
{
    if (i >= t->n || !t->has_rec[i] || l->level_bit == 0)
        return false;
    return regexec(&t->rec[i], l->msg, 0, NULL, 0) == 0;
}
