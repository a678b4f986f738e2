/*
 * certwatch.c: expiry warnings for the certificates in use.
 */
#include "certwatch.h"

#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>

#include "clog.h"

static const struct {
    int64_t left_s; /* crossed once at most this much is left */
    const char *name;
} thresholds[CERTWATCH_THRESHOLDS] = {
    {30 * 86400, "30d"}, {7 * 86400, "7d"}, {86400, "1d"},
    {3600, "1h"},        {0, "expired"},
};

int
certwatch_threshold(int64_t remaining_s)
{
    int hit = -1;

    for (int i = 0; i < CERTWATCH_THRESHOLDS; i++)
        if (remaining_s <= thresholds[i].left_s)
            hit = i;
    return hit;
}

const char *
certwatch_threshold_name(int i)
{
    return i >= 0 && i < CERTWATCH_THRESHOLDS ? thresholds[i].name : "";
}

void
certwatch_format_left(int64_t s, char *buf, size_t len)
{
    if (s < 0)
        s = 0;
    if (s >= 86400)
        snprintf(buf, len, "%lldd%lldh", (long long)(s / 86400),
                 (long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(buf, len, "%lldh%lldm", (long long)(s / 3600),
                 (long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(buf, len, "%lldm%llds", (long long)(s / 60),
                 (long long)(s % 60));
    else
        snprintf(buf, len, "%llds", (long long)s);
}

static void
rfc3339(time_t t, char *buf, size_t len)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static time_t
asn1_time(const ASN1_TIME *t)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

/* The record for role and host; a free one when there is none. Caller
 * holds the lock. NULL when every slot is taken. */
static struct conn_cert *
slot(struct connector *c, const char *role, const char *host)
{
    for (size_t i = 0; i < c->ncerts; i++)
        if (strcmp(c->certs[i].role, role) == 0 &&
            strcmp(c->certs[i].host, host) == 0)
            return &c->certs[i];
    if (c->ncerts == CONN_CERTS)
        return NULL;
    return &c->certs[c->ncerts++];
}

void
certwatch_note(struct connector *c, const char *role, const char *host,
               X509 *cert)
{
    char subject[160] = "?", issuer[160] = "?";
    time_t nb, na;
    struct conn_cert *r;

    if (cert == NULL)
        return;
    X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
    X509_NAME_oneline(X509_get_issuer_name(cert), issuer, sizeof(issuer));
    nb = asn1_time(X509_get0_notBefore(cert));
    na = asn1_time(X509_get0_notAfter(cert));
    pthread_mutex_lock(&c->lock);
    r = slot(c, role, host);
    if (r != NULL && (r->not_after != na || strcmp(r->subject, subject) != 0 ||
                      strcmp(r->role, role) != 0)) {
        memset(r, 0, sizeof(*r));
        snprintf(r->role, sizeof(r->role), "%s", role);
        snprintf(r->host, sizeof(r->host), "%s", host);
        snprintf(r->subject, sizeof(r->subject), "%s", subject);
        snprintf(r->issuer, sizeof(r->issuer), "%s", issuer);
        r->not_before = nb;
        r->not_after = na;
        r->warned = -1;
    }
    pthread_mutex_unlock(&c->lock);
    certwatch_check(c, time(NULL));
}

/* One line for r, which crossed threshold t. Caller holds the lock. */
static void
warn(const struct connector *c, const struct conn_cert *r, int t, time_t now)
{
    char left[32], at[32];
    int64_t life = (int64_t)(r->not_after - r->not_before);

    certwatch_format_left((int64_t)(r->not_after - now), left, sizeof(left));
    rfc3339(r->not_after, at, sizeof(at));
    if (strcmp(r->role, "client") == 0 && r->not_after <= now)
        cerror("certificate: the client certificate of device %s (subject "
               "%s, issuer %s) expired at %s; it must be enrolled again "
               "(cloud clock %+lld s from ours)",
               r->host, r->subject, r->issuer, at,
               (long long)c->clock_offset_s);
    else if (strcmp(r->role, "client") == 0)
        cwarn("certificate: the client certificate of device %s (subject "
              "%s, issuer %s) expires in %s, at %s (under %s); renewal is "
              "due at two thirds of its life, %s",
              r->host, r->subject, r->issuer, left, at,
              certwatch_threshold_name(t),
              life > 0 && r->not_before + life * 2 / 3 <= now
                  ? "which has passed: renewal has not succeeded yet"
                  : "still ahead");
    else if (r->not_after <= now)
        cerror("certificate: the server certificate of %s (subject %s, "
               "issuer %s) expired at %s by our clock (cloud clock %+lld "
               "s from ours)",
               r->host, r->subject, r->issuer, at,
               (long long)c->clock_offset_s);
    else
        cwarn("certificate: the server certificate of %s (subject %s, "
              "issuer %s) expires in %s, at %s (under %s), by our clock "
              "(cloud clock %+lld s from ours)",
              r->host, r->subject, r->issuer, left, at,
              certwatch_threshold_name(t), (long long)c->clock_offset_s);
}

void
certwatch_check(struct connector *c, time_t now)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->ncerts; i++) {
        struct conn_cert *r = &c->certs[i];
        int t = certwatch_threshold((int64_t)(r->not_after - now));

        if (r->not_after == 0 || t <= r->warned)
            continue;
        r->warned = t;
        warn(c, r, t, now);
    }
    pthread_mutex_unlock(&c->lock);
}

json_t *
certwatch_json(const struct connector *c, time_t now)
{
    json_t *list = json_array();

    for (size_t i = 0; i < c->ncerts; i++) {
        const struct conn_cert *r = &c->certs[i];
        int t = certwatch_threshold((int64_t)(r->not_after - now));

        json_array_append_new(
            list,
            json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "role", r->role,
                      "host", r->host, "subject", r->subject, "issuer",
                      r->issuer, "not_before", (json_int_t)r->not_before,
                      "not_after", (json_int_t)r->not_after, "expires_in_s",
                      (json_int_t)(r->not_after - now), "warning",
                      certwatch_threshold_name(t)));
    }
    return list;
}
