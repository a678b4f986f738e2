/*
 * control.c: registration and enrolment.
 *
 * The thread sleeps on the state's condition variable until a context has
 * a token and no identity, then runs: register (api-sse), fetch the CA
 * certificates, make a key and a CSR here, enrol (est), and publish the
 * identity. A context changed underneath (deleted, new token) abandons the
 * attempt at the next step: `generation` tells.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "backoff.h"
#include "clog.h"
#include "hosts.h"
#include "persist.h"
#include "pki.h"
#include "rest.h"

#define CLIENTS_PATH "/providers/sse/services/registration/api/v2/clients"
#define BACKOFF_START_MS 2000

/* The last answer's Retry-After, for the next wait (control thread). */
static unsigned retry_after_s;

enum step_rc {
    STEP_OK = 0,
    STEP_RETRY,    /* transient: try again after the backoff */
    STEP_TERMINAL, /* wait for a new token or configuration */
    STEP_STALE,    /* the context changed meanwhile */
};

struct attempt {
    uint64_t generation;
    json_t *activation; /* a copy of the token document */
    json_t *context;
    char api_host[128];
    char region[8];
    char device_id[64];
    char tenant_id[64];
    char est_url[256];
    char est_user[64];
    char est_password[64];
    char mx_url[256];
    char ingest_url[256];
};

static void
attempt_clear(struct attempt *a)
{
    json_decref(a->activation);
    json_decref(a->context);
    OPENSSL_cleanse(a, sizeof(*a));
}

int
control_api_host(const struct conn_config *cfg, json_t *activation, char *host,
                 size_t hlen, char *region, size_t rlen)
{
    const char *r = json_string_value(json_object_get(activation, "region"));
    const char *h = json_string_value(json_object_get(activation, "api_host"));
    const struct sse_host *def;
    char disc[256];

    if (h != NULL && h[0] != '\0' && (def = sse_host_by_name(h)) != NULL) {
        snprintf(host, hlen, "%s", h);
        snprintf(region, rlen, "%s", def->region);
        return 0;
    }
    if (r != NULL && sse_region_valid(r)) {
        def = sse_host_find(SSE_SVC_API, r);
        snprintf(host, hlen, "%s", def->name);
        snprintf(region, rlen, "%s", r);
        return 0;
    }
    /* A bare {"token": ...}: the region of the discovery endpoint. */
    if (sscanf(cfg->region_discovery_endpoint, "https://%255[^/:]", disc) != 1)
        return -1;
    def = sse_host_by_name(disc);
    snprintf(host, hlen, "%s", disc);
    snprintf(region, rlen, "%s", def != NULL ? def->region : "us");
    return 0;
}

static bool
still_current(struct connector *c, const struct attempt *a)
{
    bool ok;

    pthread_mutex_lock(&c->lock);
    ok = !c->stop && c->generation == a->generation;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

/* clientInfo from the context, with a guid that stays the device's. */
static json_t *
client_info(struct connector *c, const struct attempt *a)
{
    json_t *info = json_deep_copy(json_object_get(a->context, "clientInfo"));
    char host[64] = "ftd";

    if (!json_is_object(info)) {
        json_decref(info);
        info = json_object();
    }
    gethostname(host, sizeof(host) - 1);
    /* A device keeps one guid for good: a reinstall with the same data_dir
     * is the same device to the cloud (CASES K10). */
    if (!json_is_string(json_object_get(info, "guid"))) {
        char guid[40];

        if (conn_device_guid(&c->cfg, guid, sizeof(guid)) == 0)
            json_object_set_new(info, "guid", json_string(guid));
        else
            json_object_set_new(info, "guid", json_string(host));
    }
    if (!json_is_string(json_object_get(info, "name")))
        json_object_set_new(info, "name", json_string(host));
    if (!json_is_string(json_object_get(info, "type")))
        json_object_set_new(info, "type", json_string("FTD"));
    return info;
}

static void
copy_str(json_t *obj, const char *key, char *dst, size_t len)
{
    const char *v = json_string_value(json_object_get(obj, key));

    snprintf(dst, len, "%s", v != NULL ? v : "");
}

/* ", clock offset +600 s" against the server's Date header: a 401 or a
 * 403 is often a clock that drifted (CASES K09, K16). */
static void
clock_offset_text(const char *date, char *buf, size_t len)
{
    struct tm tm;
    const char *end;
    long off;

    memset(&tm, 0, sizeof(tm));
    end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL) {
        buf[0] = '\0';
        return;
    }
    off = (long)(timegm(&tm) - time(NULL));
    snprintf(buf, len, ", cloud clock %+ld s from ours", off);
}

/*
 * The cloud's clock as its Date header shows it: one line when the offset
 * passes a minute or moves by half a minute, none per request (K09, K16).
 */
static void
note_clock(struct connector *c, const char *host, const char *date)
{
    struct tm tm;
    int64_t off, old;

    memset(&tm, 0, sizeof(tm));
    if (date == NULL ||
        strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm) == NULL)
        return;
    off = (int64_t)(timegm(&tm) - time(NULL));
    pthread_mutex_lock(&c->lock);
    old = c->clock_offset_s;
    c->clock_offset_s = off;
    pthread_mutex_unlock(&c->lock);
    if (llabs(off - old) < 30)
        return;
    if (llabs(off) >= 60)
        cwarn("the cloud's clock at %s is %+lld s from ours (Date: %s)", host,
              (long long)off, date);
    else
        cinfo("the cloud's clock at %s agrees with ours again (%+lld s)", host,
              (long long)off);
}

static enum step_rc
do_register(struct connector *c, struct attempt *a)
{
    const char *token =
        json_string_value(json_object_get(a->activation, "token"));
    json_t *body, *doc;
    char url[256], err[512], tok[64];
    char *text;
    struct rest_reply r;
    struct rest_req req = {.method = "POST",
                           .content_type = "application/json"};
    json_error_t jerr;
    int rc;

    snprintf(url, sizeof(url), "https://%s%s", a->api_host, CLIENTS_PATH);
    conn_ep_host(c, EP_API, a->api_host);
    body =
        json_pack("{s:s,s:o}", "token", token, "clientInfo", client_info(c, a));
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    req.url = url;
    req.body = text;
    req.body_len = strlen(text);
    cinfo("registering with %s (region %s) token %s", a->api_host, a->region,
          clog_redact(token, tok, sizeof(tok)));
    rc = rest_call(&c->cfg, &req, &r, err, sizeof(err));
    OPENSSL_cleanse(text, strlen(text));
    free(text);
    if (rc == 0)
        note_clock(c, a->api_host, r.date);
    if (rc != 0) {
        cerror("registration with %s (region %s) failed: %s", a->api_host,
               a->region, err);
        conn_ep_fail(c, EP_API, 0, "%s", err);
        return STEP_RETRY;
    }
    if (r.status != 201 && r.status != 200) {
        char start[81];

        retry_after_s = r.retry_after_s;
        enum step_rc step = STEP_RETRY;

        snprintf(start, sizeof(start), "%s", r.body);
        for (char *p = start; *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '"')
                *p = ' ';
        char skew[64] = "";

        if (r.status == 401 || r.status == 403)
            clock_offset_text(r.date, skew, sizeof(skew));
        cerror("registration with %s (region %s, %s) answered HTTP %ld "
               "(%s, Date: %s%s): %s%s",
               a->api_host, a->region, r.remote, r.status,
               r.content_type[0] ? r.content_type : "no content type",
               r.date[0] ? r.date : "none", skew, start,
               r.status == 403 ? "; check that the token's region matches"
                                 " the device's"
                               : "");
        conn_ep_fail(c, EP_API, 0, "HTTP %ld from %s", r.status, a->api_host);
        if (r.status == 401 || r.status == 409 || r.status == 410)
            step = STEP_TERMINAL;
        rest_reply_free(&r);
        return step;
    }
    doc = json_loadb(r.body, r.body_len, 0, &jerr);
    if (!json_is_object(doc)) {
        /* Half a document, or a proxy's page with a 200: nothing of it
         * is used, and the line shows what came (CASES K22). */
        char start[121], why[200];

        if (doc == NULL)
            snprintf(why, sizeof(why), "not JSON (%s, at byte %d)", jerr.text,
                     jerr.position);
        else
            snprintf(why, sizeof(why), "JSON but not an object");
        cerror("registration with %s (region %s, %s, phase answer) answered "
               "HTTP %ld (%s, %zu bytes) that is %s; it starts: %s",
               a->api_host, a->region, r.remote, r.status,
               r.content_type[0] ? r.content_type : "no content type",
               r.body_len, why,
               clog_body_start(r.body, r.body_len, 120, start, sizeof(start)));
        conn_ep_fail(c, EP_API, 0, "HTTP %ld from %s: the answer is %s",
                     r.status, a->api_host, why);
        rest_reply_free(&r);
        json_decref(doc);
        return STEP_RETRY;
    }
    rest_reply_free(&r);
    copy_str(doc, "device_id", a->device_id, sizeof(a->device_id));
    copy_str(doc, "tenant_id", a->tenant_id, sizeof(a->tenant_id));
    copy_str(json_object_get(doc, "est"), "url", a->est_url,
             sizeof(a->est_url));
    copy_str(json_object_get(doc, "est"), "username", a->est_user,
             sizeof(a->est_user));
    copy_str(json_object_get(doc, "est"), "password", a->est_password,
             sizeof(a->est_password));
    copy_str(json_object_get(doc, "messaging"), "url", a->mx_url,
             sizeof(a->mx_url));
    copy_str(json_object_get(doc, "eventing"), "url", a->ingest_url,
             sizeof(a->ingest_url));
    json_decref(doc);
    if (a->device_id[0] == '\0' || a->est_url[0] == '\0' ||
        a->ingest_url[0] == '\0') {
        cerror("registration with %s: answer lacks device_id, est or "
               "eventing",
               a->api_host);
        conn_ep_fail(c, EP_API, 0, "incomplete registration answer");
        return STEP_RETRY;
    }
    conn_ep_ok(c, EP_API);
    cinfo("registered with %s (region %s): device %s tenant %s", a->api_host,
          a->region, a->device_id, a->tenant_id);
    return STEP_OK;
}

static int
write_private_key(const char *path, EVP_PKEY *key)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f;
    int ok;

    if (fd < 0)
        return -1;
    fchmod(fd, 0600);
    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return -1;
    }
    ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* A key and a CSR for CN=device_id; the CSR as base64 DER. */
static int
make_csr(const struct attempt *a, EVP_PKEY **key, char **b64, char *err,
         size_t errlen)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    unsigned char *der = NULL;
    size_t b64len;
    int len, rc = -1;

    *key = EVP_EC_gen("P-256");
    if (req == NULL || name == NULL || *key == NULL) {
        snprintf(err, errlen, "cannot make a key");
        goto out;
    }
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               (const unsigned char *)a->device_id, -1, -1, 0);
    X509_REQ_set_subject_name(req, name);
    X509_REQ_set_pubkey(req, *key);
    if (X509_REQ_sign(req, *key, EVP_sha256()) <= 0) {
        snprintf(err, errlen, "cannot sign the CSR");
        goto out;
    }
    len = i2d_X509_REQ(req, &der);
    if (len <= 0 || pki_b64_encode(der, (size_t)len, b64, &b64len) != 0) {
        snprintf(err, errlen, "cannot encode the CSR");
        goto out;
    }
    rc = 0;
out:
    OPENSSL_free(der);
    X509_NAME_free(name);
    X509_REQ_free(req);
    return rc;
}

static int
est_get_certs(struct connector *c, const char *url, const char *userpwd,
              const char *csr, STACK_OF(X509) * *out, char *err, size_t errlen)
{
    struct rest_req req = {.method = csr != NULL ? "POST" : "GET",
                           .url = url,
                           .content_type =
                               csr != NULL ? "application/pkcs10" : NULL,
                           .body = csr,
                           .body_len = csr != NULL ? strlen(csr) : 0,
                           .userpwd = userpwd};
    struct rest_reply r;
    char perr[256];

    if (rest_call(&c->cfg, &req, &r, err, errlen) != 0)
        return -1;
    note_clock(c, "est.sco.cisco.com", r.date);
    if (r.status != 200) {
        snprintf(err, errlen, "HTTP %ld from %s (%s): %.80s", r.status, url,
                 r.remote, r.body);
        rest_reply_free(&r);
        return -1;
    }
    if (pki_pkcs7_certs_parse(r.body, r.body_len, out, perr, sizeof(perr)) !=
        0) {
        snprintf(err, errlen, "answer of %s is no PKCS#7: %s", url, perr);
        rest_reply_free(&r);
        return -1;
    }
    rest_reply_free(&r);
    return 0;
}

static int
write_chain(const char *path, STACK_OF(X509) * leaf, STACK_OF(X509) * cas)
{
    char tmp[PATH_MAX + 8];
    FILE *f;
    int ok = 1;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    ok &= PEM_write_X509(f, sk_X509_value(leaf, 0));
    /* The device CA goes with the leaf; the root stays out of the chain. */
    for (int i = 0; i < sk_X509_num(cas); i++) {
        X509 *ca = sk_X509_value(cas, i);

        if (X509_check_issued(ca, ca) != X509_V_OK)
            ok &= PEM_write_X509(f, ca);
    }
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0)
        return -1;
    return 0;
}

static enum step_rc
do_enrol(struct connector *c, struct attempt *a)
{
    char url[320], err[512], userpwd[160], cert[PATH_MAX], key[PATH_MAX];
    char *csr = NULL;
    EVP_PKEY *pkey = NULL;
    STACK_OF(X509) *cas = NULL, *issued = NULL;
    const char *host = a->est_url + strlen("https://");
    enum step_rc rc = STEP_RETRY;
    const ASN1_TIME *na;
    struct tm tm, tm_nb;

    conn_ep_host(c, EP_EST, "est.sco.cisco.com");
    snprintf(url, sizeof(url), "%s/cacerts", a->est_url);
    if (est_get_certs(c, url, NULL, NULL, &cas, err, sizeof(err)) != 0) {
        cerror("enrolment: cacerts from %.64s failed: %s", host, err);
        conn_ep_fail(c, EP_EST, 0, "%s", err);
        goto out;
    }
    if (make_csr(a, &pkey, &csr, err, sizeof(err)) != 0) {
        cerror("enrolment: %s", err);
        rc = STEP_TERMINAL;
        goto out;
    }
    snprintf(url, sizeof(url), "%s/simpleenroll", a->est_url);
    snprintf(userpwd, sizeof(userpwd), "%s:%s", a->est_user, a->est_password);
    if (est_get_certs(c, url, userpwd, csr, &issued, err, sizeof(err)) != 0 ||
        sk_X509_num(issued) < 1) {
        cerror("enrolment: simpleenroll at %.64s failed: %s", host, err);
        conn_ep_fail(c, EP_EST, 0, "%s", err);
        /* The one-time credential may be spent: register again. */
        rc = STEP_RETRY;
        goto out;
    }
    snprintf(cert, sizeof(cert), "%s/device.pem", c->cfg.data_dir);
    snprintf(key, sizeof(key), "%s/device.key", c->cfg.data_dir);
    if (write_private_key(key, pkey) != 0 ||
        write_chain(cert, issued, cas) != 0) {
        cerror("enrolment: cannot write %s or %s: %s", cert, key,
               strerror(errno));
        rc = STEP_TERMINAL;
        goto out;
    }
    na = X509_get0_notAfter(sk_X509_value(issued, 0));
    memset(&tm, 0, sizeof(tm));
    ASN1_TIME_to_tm(na, &tm);
    memset(&tm_nb, 0, sizeof(tm_nb));
    ASN1_TIME_to_tm(X509_get0_notBefore(sk_X509_value(issued, 0)), &tm_nb);
    pthread_mutex_lock(&c->lock);
    if (c->generation == a->generation && !c->stop) {
        struct conn_identity *id = &c->id;

        snprintf(id->device_id, sizeof(id->device_id), "%s", a->device_id);
        snprintf(id->tenant_id, sizeof(id->tenant_id), "%s", a->tenant_id);
        snprintf(id->region, sizeof(id->region), "%s", a->region);
        snprintf(id->cert_path, sizeof(id->cert_path), "%s", cert);
        snprintf(id->key_path, sizeof(id->key_path), "%s", key);
        snprintf(id->mx_url, sizeof(id->mx_url), "%s", a->mx_url);
        snprintf(id->ingest_url, sizeof(id->ingest_url), "%s", a->ingest_url);
        id->cert_not_after = timegm(&tm);
        id->cert_not_before = timegm(&tm_nb);
        c->enrolled = true;
        c->identity_gen++;
        c->device_gen++;
        rc = STEP_OK;
    } else {
        rc = STEP_STALE;
    }
    pthread_mutex_unlock(&c->lock);
    if (rc == STEP_OK) {
        char until[32];

        strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
        conn_ep_ok(c, EP_EST);
        cinfo("enrolled at %.64s: certificate for %s valid until %s", host,
              a->device_id, until);
        conn_persist(c);
        /* The lws thread connects mx01 and eventing-ingest now. */
        conn_wake(c);
    }
out:
    OPENSSL_cleanse(userpwd, sizeof(userpwd));
    free(csr);
    EVP_PKEY_free(pkey);
    sk_X509_pop_free(cas, X509_free);
    sk_X509_pop_free(issued, X509_free);
    return rc;
}

static enum step_rc
run_flow(struct connector *c, struct attempt *a)
{
    enum step_rc rc;

    if (control_api_host(&c->cfg, a->activation, a->api_host,
                         sizeof(a->api_host), a->region,
                         sizeof(a->region)) != 0) {
        cerror("cannot tell the api host from the token or from "
               "region_discovery_endpoint %s",
               c->cfg.region_discovery_endpoint);
        return STEP_TERMINAL;
    }
    conn_set_status(c, CS_REGISTERING, "registering with %s", a->api_host);
    rc = do_register(c, a);
    if (rc != STEP_OK)
        return rc;
    if (!still_current(c, a))
        return STEP_STALE;
    conn_set_status(c, CS_ENROLLING, "enrolling at est.sco.cisco.com");
    rc = do_enrol(c, a);
    if (rc == STEP_OK)
        conn_set_status(c, CS_ENROLLED, "device %s in region %s", a->device_id,
                        a->region);
    return rc;
}

/*
 * Renewal (RFC 7030 simplereenroll) at two thirds of the certificate's
 * lifetime: a new key, a CSR with the current certificate's subject,
 * authenticated by the current certificate. The new one serves new
 * connections; open ones keep theirs (CASES K12). 0 renewed, -1 not.
 */
static int
do_reenrol(struct connector *c)
{
    struct conn_identity id;
    char url[320], err[512], tmpkey[PATH_MAX + 8], tmpcert[PATH_MAX + 8];
    char until[32], *b64 = NULL;
    X509 *cur = NULL;
    X509_REQ *req = X509_REQ_new();
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    STACK_OF(X509) *issued = NULL;
    unsigned char *der = NULL;
    size_t b64len;
    FILE *f;
    int len, rc = -1;
    struct tm na, nb;
    struct rest_req rq = {.method = "POST",
                          .content_type = "application/pkcs10"};
    struct rest_reply r;

    pthread_mutex_lock(&c->lock);
    id = c->id;
    pthread_mutex_unlock(&c->lock);
    f = fopen(id.cert_path, "r");
    if (f != NULL) {
        cur = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
    }
    if (cur == NULL || req == NULL || pkey == NULL) {
        cerror("renewal: cannot read %s or make a key", id.cert_path);
        goto out;
    }
    X509_REQ_set_subject_name(req, X509_get_subject_name(cur));
    X509_REQ_set_pubkey(req, pkey);
    len = X509_REQ_sign(req, pkey, EVP_sha256()) > 0 ? i2d_X509_REQ(req, &der)
                                                     : -1;
    if (len <= 0 || pki_b64_encode(der, (size_t)len, &b64, &b64len) != 0) {
        cerror("renewal: cannot make the CSR");
        goto out;
    }
    snprintf(url, sizeof(url),
             "https://est.sco.cisco.com/.well-known/est/"
             "simplereenroll");
    rq.url = url;
    rq.body = b64;
    rq.body_len = b64len;
    rq.cert_path = id.cert_path;
    rq.key_path = id.key_path;
    if (rest_call(&c->cfg, &rq, &r, err, sizeof(err)) != 0) {
        cerror("renewal at est.sco.cisco.com (region %s) failed: %s", id.region,
               err);
        conn_ep_fail(c, EP_EST, 0, "renewal: %s", err);
        goto out;
    }
    if (r.status != 200 ||
        pki_pkcs7_certs_parse(r.body, r.body_len, &issued, err, sizeof(err)) !=
            0 ||
        sk_X509_num(issued) < 1) {
        cerror("renewal at est.sco.cisco.com (region %s, %s, phase answer) "
               "failed: HTTP %ld: %.120s",
               id.region, r.remote, r.status, r.body);
        conn_ep_fail(c, EP_EST, 0, "renewal: HTTP %ld", r.status);
        rest_reply_free(&r);
        goto out;
    }
    rest_reply_free(&r);
    /* New files, then rename: a reader sees the old pair or the new. */
    snprintf(tmpkey, sizeof(tmpkey), "%s.new", id.key_path);
    snprintf(tmpcert, sizeof(tmpcert), "%s.new", id.cert_path);
    f = fopen(tmpcert, "w");
    if (f == NULL) {
        cerror("renewal: cannot write %s: %s", tmpcert, strerror(errno));
        goto out;
    }
    len = PEM_write_X509(f, sk_X509_value(issued, 0));
    if (fclose(f) != 0 || len != 1 || write_private_key(tmpkey, pkey) != 0) {
        cerror("renewal: cannot write %s or %s: %s", tmpcert, tmpkey,
               strerror(errno));
        goto out;
    }
    if (rename(tmpkey, id.key_path) != 0 ||
        rename(tmpcert, id.cert_path) != 0) {
        cerror("renewal: cannot replace %s: %s", id.cert_path, strerror(errno));
        goto out;
    }
    ASN1_TIME_to_tm(X509_get0_notAfter(sk_X509_value(issued, 0)), &na);
    ASN1_TIME_to_tm(X509_get0_notBefore(sk_X509_value(issued, 0)), &nb);
    pthread_mutex_lock(&c->lock);
    c->id.cert_not_after = timegm(&na);
    c->id.cert_not_before = timegm(&nb);
    c->identity_gen++;
    pthread_mutex_unlock(&c->lock);
    strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &na);
    conn_ep_ok(c, EP_EST);
    cinfo("renewed the certificate of device %s at est.sco.cisco.com "
          "(region %s): valid until %s",
          id.device_id, id.region, until);
    conn_persist(c);
    conn_wake(c);
    rc = 0;
out:
    OPENSSL_free(der);
    free(b64);
    X509_free(cur);
    X509_REQ_free(req);
    EVP_PKEY_free(pkey);
    sk_X509_pop_free(issued, X509_free);
    return rc;
}

/* When the current certificate is due for renewal; 0 when not enrolled. */
static time_t
renew_at(const struct connector *c)
{
    time_t life = c->id.cert_not_after - c->id.cert_not_before;

    if (!c->enrolled || life <= 0)
        return 0;
    return c->id.cert_not_before + life * 2 / 3;
}

/* Wait until woken or until ms pass; caller holds the lock. */
static void
wait_locked(struct connector *c, long ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->changed, &c->lock, &ts);
}

static void *
control_main(void *arg)
{
    struct connector *c = arg;
    uint64_t failed_gen = 0; /* generation whose attempt ended for good */
    struct sse_backoff backoff;
    uint64_t seed = 0;
    int64_t retry_at = 0, renew_retry_at = 0;
    unsigned renew_backoff = BACKOFF_START_MS;
    bool warned_expiry = false;

    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
        seed = (uint64_t)conn_now_ms();
    sse_backoff_init(&backoff, BACKOFF_START_MS,
                     c->cfg.registration_interval * 1000u, seed);
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        struct attempt a;
        enum step_rc rc;
        uint64_t gen;
        unsigned cap;

        if (c->enrolled && renew_at(c) != 0 && time(NULL) >= renew_at(c) &&
            conn_now_ms() >= renew_retry_at) {
            time_t left = c->id.cert_not_after - time(NULL);
            int ok;

            pthread_mutex_unlock(&c->lock);
            ok = do_reenrol(c);
            pthread_mutex_lock(&c->lock);
            if (ok == 0) {
                renew_backoff = BACKOFF_START_MS;
                renew_retry_at = 0;
                warned_expiry = false;
                continue;
            }
            renew_retry_at =
                conn_now_ms() + conn_scaled_ms(&c->cfg, renew_backoff);
            if (renew_backoff < c->cfg.registration_interval * 1000u)
                renew_backoff *= 2;
            if (!warned_expiry) {
                cwarn("the certificate of device %s expires in %lld s "
                      "and could not be renewed yet; retrying",
                      c->id.device_id, (long long)left);
                warned_expiry = true;
            }
            continue;
        }
        if (c->context == NULL || c->activation == NULL || c->enrolled ||
            c->generation == failed_gen || conn_now_ms() < retry_at) {
            long wait = retry_at > 0 ? (long)(retry_at - conn_now_ms()) : 1000;

            wait_locked(c, wait > 0 && wait < 1000 ? wait : 1000);
            continue;
        }
        memset(&a, 0, sizeof(a));
        a.generation = c->generation;
        a.activation = json_deep_copy(c->activation);
        a.context = json_deep_copy(c->context);
        pthread_mutex_unlock(&c->lock);

        rc = run_flow(c, &a);
        gen = a.generation;
        attempt_clear(&a);

        pthread_mutex_lock(&c->lock);
        cap = conn_scaled_ms(&c->cfg, c->cfg.registration_interval * 1000);
        if (rc == STEP_OK || rc == STEP_STALE) {
            sse_backoff_reset(&backoff);
            retry_at = 0;
        } else if (rc == STEP_TERMINAL) {
            failed_gen = gen;
            retry_at = 0;
            pthread_mutex_unlock(&c->lock);
            conn_set_status(c, CS_ERROR,
                            "registration refused; waiting "
                            "for a new token");
            pthread_mutex_lock(&c->lock);
        } else {
            /* Full jitter under registration_interval; a Retry-After from
             * the cloud is a floor. */
            unsigned delay = conn_scaled_ms(
                &c->cfg, sse_backoff_next(&backoff, retry_after_s * 1000u));

            if (delay > cap && retry_after_s == 0)
                delay = cap;
            retry_at = conn_now_ms() + delay;
            c->ep[EP_API].next_retry_ms = retry_at;
            cinfo("next registration attempt in %u ms%s", delay,
                  retry_after_s > 0 ? " (the cloud's Retry-After)" : "");
            retry_after_s = 0;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int
control_start(struct connector *c, pthread_t *tid)
{
    return pthread_create(tid, NULL, control_main, c) == 0 ? 0 : -1;
}
