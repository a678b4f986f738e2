/*
 * svc_est.c: est.sco.cisco.com, RFC 7030 enrolment under /.well-known/est/.
 *
 * cacerts and csrattrs are open to anyone; simpleenroll takes the one-time
 * HTTP Basic credential that registration handed out; simplereenroll takes
 * the client certificate that an earlier enrolment issued. The cloud, not
 * the request, sets the subject of what it issues: O=<tenant> CN=<device>.
 * Every issue and refusal is noted (journal and log) with its reason and
 * subject; passwords never are. The profile is in docs/protocol.md.
 *
 * Faults: est.refuse answers simpleenroll and simplereenroll with its
 * status before anything is read (the one-time credential stays unused);
 * est.short-lived sets the lifetime of what is issued while it is live.
 */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "fault.h"
#include "pki.h"
#include "registry.h"

#define EST_PREFIX "/.well-known/est/"
#define EST_REALM "estrealm"
#define CT_PKCS7 "application/pkcs7-mime"
#define CT_CERTS_ONLY "application/pkcs7-mime; smime-type=certs-only"
#define CT_PKCS10 "application/pkcs10"
#define CT_CSRATTRS "application/csrattrs"
#define MAX_AUTH 512

struct est_op {
    const char *name;
    const char *method;
    void (*handle)(const struct sim_req *req, struct sim_resp *resp);
    bool enrols; /* est.refuse applies */
};

static void
reply_text(struct sim_resp *resp, int status, const char *msg)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "%s\n", msg);

    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    sim_resp_body(resp, status, "text/plain", buf, (size_t)n);
}

static void refuse(const struct sim_req *req, struct sim_resp *resp, int status,
                   const char *op, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Answer status with a plain-text reason, and note the refusal. */
static void
refuse(const struct sim_req *req, struct sim_resp *resp, int status,
       const char *op, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sim_note(req->host, req->conn, "http", "refused", status, "%s: %s", op,
             msg);
    reply_text(resp, status, msg);
}

/* A 401 that asks for the one-time credential again. */
static void
ask_credentials(const struct sim_req *req, struct sim_resp *resp,
                const char *why)
{
    refuse(req, resp, 401, "simpleenroll", "%s", why);
    sim_resp_header(resp, "WWW-Authenticate", "Basic realm=\"%s\"", EST_REALM);
}

/* Subject in the order of its fields, control characters escaped. */
static void
name_text(X509_NAME *name, char *buf, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    int n = 0;

    if (b != NULL && X509_NAME_print_ex(b, name, 0, XN_FLAG_ONELINE) >= 0)
        n = BIO_read(b, buf, (int)len - 1);
    buf[n > 0 ? n : 0] = '\0';
    BIO_free(b);
}

static void
serial_text(X509 *x, char *buf, size_t len)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

    snprintf(buf, len, "%s", hex != NULL ? hex : "unknown");
    OPENSSL_free(hex);
    BN_free(bn);
}

/* The subject's common name as UTF-8; -1 when there is none. */
static int
cert_cn(X509 *x, char *buf, size_t len)
{
    X509_NAME *name = X509_get_subject_name(x);
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    unsigned char *utf8 = NULL;
    int n;

    if (i < 0)
        return -1;
    n = ASN1_STRING_to_UTF8(
        &utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (n < 0 || (size_t)n >= len || memchr(utf8, '\0', (size_t)n) != NULL) {
        OPENSSL_free(utf8);
        return -1;
    }
    memcpy(buf, utf8, (size_t)n);
    buf[n] = '\0';
    OPENSSL_free(utf8);
    return 0;
}

/* user and password of "Basic <base64>"; -1 when absent or malformed. */
static int
basic_credentials(const char *auth, char *user, size_t ulen, char *pass,
                  size_t plen)
{
    unsigned char *dec = NULL;
    const unsigned char *colon;
    size_t n = 0, u, pw;
    int rc = -1;

    if (strncasecmp(auth, "Basic ", 6) != 0)
        return -1;
    auth += 6;
    while (*auth == ' ')
        auth++;
    if (pki_b64_decode(auth, strnlen(auth, MAX_AUTH), &dec, &n) < 0)
        return -1;
    colon = memchr(dec, ':', n);
    if (colon != NULL && memchr(dec, '\0', n) == NULL) {
        u = (size_t)(colon - dec);
        pw = n - u - 1;
        if (u < ulen && pw < plen) {
            memcpy(user, dec, u);
            user[u] = '\0';
            memcpy(pass, colon + 1, pw);
            pass[pw] = '\0';
            rc = 0;
        }
    }
    OPENSSL_cleanse(dec, n);
    free(dec);
    return rc;
}

/* 1 when the Content-Type is want, parameters allowed. */
static int
content_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);

    return strncasecmp(ct, want, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* A 200 with certs as base64 PKCS#7 certs-only; -1 with err otherwise. */
static int
reply_certs(struct sim_resp *resp, const char *content_type, X509 *const *certs,
            size_t n, char *err, size_t errlen)
{
    char *b64 = NULL;
    size_t len = 0;

    if (pki_pkcs7_certs_b64(certs, n, &b64, &len, err, errlen) < 0)
        return -1;
    sim_resp_body(resp, 200, content_type, b64, len);
    sim_resp_header(resp, "Content-Transfer-Encoding", "base64");
    free(b64);
    return 0;
}

/* Issue the device's certificate for csr and answer with it. */
static void
issue(const struct sim_req *req, struct sim_resp *resp, X509_REQ *csr,
      const struct sim_device *dev, const char *event, const char *op)
{
    struct pki *p = req->sim->pki;
    long validity = pki_device_validity(p);
    X509 *cert = NULL;
    char err[256], subject[256], serial[64];
    struct fault_rule r;

    if (fault_match(req->sim->faults, req->host->def,
                    FAULT_BIT(FAULT_EST_SHORT_LIVED), req->path, &r)) {
        validity = (long)r.seconds;
        sim_fault_note(req->host, req->conn, &r, 0,
                       "%s: the certificate for device %s lives %lld s", op,
                       dev->device_id, (long long)r.seconds);
    }
    if (pki_issue_device_cert(p, csr, dev->device_id, dev->tenant_id, validity,
                              sim_now(req->sim), &cert, err, sizeof(err)) < 0 ||
        reply_certs(resp, CT_CERTS_ONLY, &cert, 1, err, sizeof(err)) < 0) {
        refuse(req, resp, 500, op, "cannot issue for device %s: %s",
               dev->device_id, err);
        X509_free(cert);
        return;
    }
    name_text(X509_get_subject_name(cert), subject, sizeof(subject));
    serial_text(cert, serial, sizeof(serial));
    sim_note(req->host, req->conn, "http", event, 200,
             "%s: issued subject=\"%s\" serial=%s validity=%lds", op, subject,
             serial, validity);
    X509_free(cert);
}

static void
est_cacerts(const struct sim_req *req, struct sim_resp *resp)
{
    struct pki *p = req->sim->pki;
    X509 *certs[2] = {pki_ca_cert(p, PKI_CA_DEVICE),
                      pki_ca_cert(p, PKI_CA_ROOT)};
    char err[256];

    if (reply_certs(resp, CT_PKCS7, certs, 2, err, sizeof(err)) < 0)
        refuse(req, resp, 500, "cacerts", "%s", err);
}

static void
est_csrattrs(const struct sim_req *req, struct sim_resp *resp)
{
    char *b64 = NULL, err[256];
    size_t len = 0;

    if (pki_csrattrs_b64(req->sim->pki, &b64, &len, err, sizeof(err)) < 0) {
        refuse(req, resp, 500, "csrattrs", "%s", err);
        return;
    }
    sim_resp_body(resp, 200, CT_CSRATTRS, b64, len);
    sim_resp_header(resp, "Content-Transfer-Encoding", "base64");
    free(b64);
}

/*
 * The credential is consumed last, once the request is known to be good:
 * a device that sends a broken CSR keeps its one chance.
 */
static void
est_simpleenroll(const struct sim_req *req, struct sim_resp *resp)
{
    struct sim *s = req->sim;
    struct sim_device dev;
    X509_REQ *csr = NULL;
    char user[SIM_ID_LEN * 2], pass[SIM_ID_LEN * 2], err[256];

    if (req->authorization[0] == '\0') {
        ask_credentials(req, resp, "no credential");
        return;
    }
    if (basic_credentials(req->authorization, user, sizeof(user), pass,
                          sizeof(pass)) < 0) {
        ask_credentials(req, resp, "credential is not HTTP Basic");
        return;
    }
    if (!content_type_is(req->content_type, CT_PKCS10))
        refuse(req, resp, 415, "simpleenroll",
               "Content-Type \"%.60s\", expected " CT_PKCS10,
               req->content_type);
    else if (pki_csr_decode(req->body, req->body_len, &csr, err, sizeof(err)) <
             0)
        refuse(req, resp, 400, "simpleenroll", "bad CSR: %s", err);
    else if (sim_registry_use_est_credential(s->registry, user, pass,
                                             sim_now(s), &dev) < 0)
        ask_credentials(req, resp, "unknown or already used credential");
    else
        issue(req, resp, csr, &dev, "enrol", "simpleenroll");
    OPENSSL_cleanse(pass, sizeof(pass));
    X509_REQ_free(csr);
}

/* RFC 7030 §4.2.2: the same subject as the certificate being renewed. */
static void
reenroll_with(const struct sim_req *req, struct sim_resp *resp,
              const struct sim_device *dev)
{
    X509_REQ *csr = NULL;
    X509_NAME *want = X509_get_subject_name(req->peer_cert);
    char err[256], got[256], have[256];

    if (!content_type_is(req->content_type, CT_PKCS10)) {
        refuse(req, resp, 415, "simplereenroll",
               "Content-Type \"%.60s\", expected " CT_PKCS10,
               req->content_type);
        return;
    }
    if (pki_csr_decode(req->body, req->body_len, &csr, err, sizeof(err)) < 0) {
        refuse(req, resp, 400, "simplereenroll", "bad CSR: %s", err);
        return;
    }
    if (X509_NAME_cmp(X509_REQ_get_subject_name(csr), want) != 0) {
        name_text(X509_REQ_get_subject_name(csr), got, sizeof(got));
        name_text(want, have, sizeof(have));
        refuse(req, resp, 400, "simplereenroll",
               "CSR subject \"%s\" differs from the certificate's \"%s\" "
               "(RFC 7030 4.2.2)",
               got, have);
    } else {
        issue(req, resp, csr, dev, "reenrol", "simplereenroll");
    }
    X509_REQ_free(csr);
}

static void
est_simplereenroll(const struct sim_req *req, struct sim_resp *resp)
{
    struct sim *s = req->sim;
    struct sim_device dev;
    char err[256], cn[SIM_ID_LEN * 2], subject[256];

    if (req->peer_cert == NULL) {
        refuse(req, resp, 403, "simplereenroll",
               "a client certificate from the device CA is required");
        return;
    }
    name_text(X509_get_subject_name(req->peer_cert), subject, sizeof(subject));
    if (pki_verify_device_cert(s->pki, req->peer_cert, sim_now(s), err,
                               sizeof(err)) < 0)
        refuse(req, resp, 403, "simplereenroll", "certificate \"%s\": %s",
               subject, err);
    else if (cert_cn(req->peer_cert, cn, sizeof(cn)) < 0 ||
             sim_registry_device(s->registry, cn, &dev) < 0)
        refuse(req, resp, 403, "simplereenroll",
               "certificate \"%s\" names no registered device", subject);
    else
        reenroll_with(req, resp, &dev);
}

static const struct est_op est_ops[] = {
    {"cacerts", "GET", est_cacerts, false},
    {"simpleenroll", "POST", est_simpleenroll, true},
    {"simplereenroll", "POST", est_simplereenroll, true},
    {"csrattrs", "GET", est_csrattrs, false},
};

/* est.refuse: an enrolment answered the rule's status, nothing read. */
static bool
refused_by_rule(const struct sim_req *req, struct sim_resp *resp,
                const char *op)
{
    struct fault_rule r;

    if (!fault_match(req->sim->faults, req->host->def,
                     FAULT_BIT(FAULT_EST_REFUSE), req->path, &r))
        return false;
    sim_fault_note(req->host, req->conn, &r, r.status, "%s answered %d", op,
                   r.status);
    refuse(req, resp, r.status, op, "enrolment refused");
    return true;
}

void
svc_est_handle(const struct sim_req *req, struct sim_resp *resp)
{
    size_t plen = strlen(EST_PREFIX);
    const char *op;

    if (strncmp(req->path, EST_PREFIX, plen) != 0) {
        reply_text(resp, 404, "not an EST path");
        return;
    }
    op = req->path + plen;
    for (size_t i = 0; i < sizeof(est_ops) / sizeof(est_ops[0]); i++) {
        if (strcmp(op, est_ops[i].name) != 0)
            continue;
        if (strcmp(req->method, est_ops[i].method) != 0) {
            reply_text(resp, 405, "method not allowed");
            sim_resp_header(resp, "Allow", "%s", est_ops[i].method);
        } else if (req->sim->pki == NULL) {
            refuse(req, resp, 503, est_ops[i].name, "no PKI loaded");
        } else if (!est_ops[i].enrols ||
                   !refused_by_rule(req, resp, est_ops[i].name)) {
            est_ops[i].handle(req, resp);
        }
        return;
    }
    reply_text(resp, 404, "unknown EST operation");
}
