/*
 * regans.c: registration answers, classified.
 */
#include "regans.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

/* Codes and words that say a 403 is about what the device is entitled to
 * (licence, software version), not about where it asked (CASES K06). */
static const char *const entitlement_words[] = {
    "entitle",         "licen",      "minimum_version",
    "version_too_old", "evaluation", "not_supported",
};

static bool
contains_word(const char *text, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasestr(text, words[i]) != NULL)
            return true;
    return false;
}

static void
copy_member(json_t *obj, const char *key, char *dst, size_t len)
{
    const char *v = json_string_value(json_object_get(obj, key));

    if (v != NULL && dst[0] == '\0')
        snprintf(dst, len, "%s", v);
}

/* {"error":{"code":..,"message":..,"owner_region":..}} or
 * {"error":"text"}; anything else leaves the fields empty. */
static void
read_error_body(const char *body, size_t len, struct reg_answer *out)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    json_t *err = json_object_get(doc, "error");

    if (json_is_string(err)) {
        snprintf(out->message, sizeof(out->message), "%s",
                 json_string_value(err));
    } else if (json_is_object(err)) {
        copy_member(err, "code", out->code, sizeof(out->code));
        copy_member(err, "message", out->message, sizeof(out->message));
        copy_member(err, "owner_region", out->owner_region,
                    sizeof(out->owner_region));
        copy_member(err, "region", out->owner_region,
                    sizeof(out->owner_region));
    }
    copy_member(doc, "owner_region", out->owner_region,
                sizeof(out->owner_region));
    json_decref(doc);
}

static void
classify_4xx(enum reg_call call, struct reg_answer *out)
{
    char both[sizeof(out->code) + sizeof(out->message) + 2];

    snprintf(both, sizeof(both), "%s %s", out->code, out->message);
    switch (out->status) {
    case 401:
        if (out->clock_suspect) {
            out->verdict = REG_RETRY;
            out->why = "refused, with the clocks too far apart to blame "
                       "the token";
        } else {
            out->verdict = REG_WAIT_TOKEN;
            out->why = "token refused";
        }
        return;
    case 403:
        out->entitlement = contains_word(both, entitlement_words,
                                         sizeof(entitlement_words) /
                                             sizeof(entitlement_words[0]));
        if (out->entitlement) {
            out->verdict = REG_WAIT_CONFIG;
            out->why = "not entitled";
        } else {
            /* A bare 403 is what a token of another region gets. */
            out->verdict = REG_RETRY;
            out->why = out->clock_suspect ? "forbidden, with the clocks far "
                                            "apart"
                                          : "forbidden: wrong region?";
        }
        return;
    case 404:
    case 410:
        if (strcasestr(both, "token") != NULL) {
            out->verdict = REG_WAIT_TOKEN;
            out->why = "token used or expired";
        } else {
            out->verdict = REG_DEREGISTERED;
            out->why = "deregistered by cloud";
        }
        return;
    case 409:
        out->verdict = REG_CLAIMED;
        out->why = "identity claimed by another tenant or region";
        return;
    case 408:
    case 425:
    case 429:
        out->verdict = REG_RETRY;
        out->why = out->status == 429 ? "rate limited" : "try again";
        return;
    default:
        out->verdict = REG_WAIT_CONFIG;
        out->why = call == REG_CALL_RECORD ? "device record refused"
                                           : "request refused";
        return;
    }
}

void
reg_classify(enum reg_call call, long status, const char *content_type,
             const char *body, size_t len, int64_t clock_offset_s,
             struct reg_answer *out)
{
    memset(out, 0, sizeof(*out));
    out->status = status;
    out->html =
        content_type != NULL && strncasecmp(content_type, "text/html", 9) == 0;
    out->clock_suspect =
        (status == 401 || status == 403) &&
        llabs((long long)clock_offset_s) >= REG_CLOCK_SUSPECT_S;
    if (status >= 200 && status < 300 && !out->html) {
        out->verdict = REG_OK;
        out->why = "ok";
        return;
    }
    if (!out->html && body != NULL)
        read_error_body(body, len, out);
    /* An HTML page is a proxy or firewall speaking, not api-sse: its
     * verdict on the token or the device means nothing (CASES K22). */
    if (out->html || status < 400 || status >= 500) {
        out->verdict = REG_RETRY;
        out->why = out->html       ? "answered by an intermediary"
                   : status >= 500 ? "cloud error"
                                   : "unexpected answer";
        return;
    }
    classify_4xx(call, out);
}

const char *
reg_verdict_name(enum reg_verdict v)
{
    static const char *const names[] = {
        "ok",      "retry",        "wait-for-token", "wait-for-configuration",
        "claimed", "deregistered",
    };

    return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}
