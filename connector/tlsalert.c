/*
 * tlsalert.c: TLS alerts from the server, in words (tlsalert.h).
 */
#include "tlsalert.h"

#include <stdio.h>
#include <time.h>

#include <openssl/x509.h>

/* TLS 1.3's certificate_required (RFC 8446 6.2), which OpenSSL 3.0's
 * alert names do not know. */
#define ALERT_CERTIFICATE_REQUIRED 116

bool
tlsalert_is_fatal_read(int where, int ret)
{
    return (where & SSL_CB_ALERT) && (where & SSL_CB_READ) &&
           (ret >> 8) == SSL3_AL_FATAL;
}

/* Alerts a server sends about the client's certificate. */
static bool
about_client_cert(int desc)
{
    switch (desc) {
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
    case SSL_AD_ACCESS_DENIED:
    case ALERT_CERTIFICATE_REQUIRED:
        return true;
    default:
        return false;
    }
}

bool
tlsalert_says_ours_expired(const SSL *ssl, int ret)
{
    return (ret & 0xff) == SSL_AD_CERTIFICATE_EXPIRED && ssl != NULL &&
           SSL_get_certificate(ssl) != NULL;
}

const char *
tlsalert_describe(const SSL *ssl, int ret, char *buf, size_t len)
{
    int desc = ret & 0xff;
    const char *name = desc == ALERT_CERTIFICATE_REQUIRED
                           ? "certificate required"
                           : SSL_alert_desc_string_long(ret);
    X509 *mine = ssl != NULL ? SSL_get_certificate(ssl) : NULL;
    char subject[200] = "?", issuer[200] = "?", na[32] = "?";
    struct tm tm;

    if (!about_client_cert(desc)) {
        snprintf(buf, len, "the server sent alert \"%s\"", name);
        return buf;
    }
    if (mine == NULL) {
        snprintf(buf, len,
                 "the server sent alert \"%s\": it wants a client "
                 "certificate and we offered none",
                 name);
        return buf;
    }
    X509_NAME_oneline(X509_get_subject_name(mine), subject, sizeof(subject));
    X509_NAME_oneline(X509_get_issuer_name(mine), issuer, sizeof(issuer));
    if (ASN1_TIME_to_tm(X509_get0_notAfter(mine), &tm) == 1)
        strftime(na, sizeof(na), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(buf, len,
             "the server sent alert \"%s\": it refused the client "
             "certificate we offered (subject %s, issuer %s, notAfter %s)",
             name, subject, issuer, na);
    return buf;
}
