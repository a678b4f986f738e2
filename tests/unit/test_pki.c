/*
 * test_pki.c: the private PKI makes, keeps and checks what DESIGN §5
 * promises. Every test works in its own temporary directory and checks
 * certificates with OpenSSL's verifier, not with pki.c's own.
 */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "hosts.h"
#include "pki.h"

#define DAY_S 86400L

static char tmp[64];
static char certs[128];
static struct pki *pki;
static time_t now;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void
setup(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/sse-pki.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(certs, sizeof(certs), "%s/c", tmp);
    now = time(NULL);
    pki = NULL;
}

static void
teardown(void)
{
    pki_free(pki);
    pki = NULL;
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* certs/rel */
static const char *
at(const char *rel)
{
    static char buf[4][PATH_MAX];
    static int next;
    char *b = buf[next++ % 4];

    snprintf(b, PATH_MAX, "%s/%s", certs, rel);
    return b;
}

static const char *
host_pem(const char *host)
{
    static char buf[PATH_MAX];

    snprintf(buf, sizeof(buf), "%s/hosts/%s.pem", certs, host);
    return buf;
}

static void
ensure_type(enum pki_key_type type, time_t when)
{
    char err[512] = "";

    pki_free(pki);
    pki = NULL;
    ck_assert_msg(pki_ensure(&pki, certs, type, when, err, sizeof(err)) == 0,
                  "pki_ensure: %s", err);
}

static void
ensure(void)
{
    ensure_type(PKI_KEY_EC_P256, now);
}

static pki_cert_stack *
read_chain(const char *path)
{
    pki_cert_stack *sk = sk_X509_new_null();
    FILE *f = fopen(path, "r");
    X509 *x;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
        sk_X509_push(sk, x);
    fclose(f);
    ERR_clear_error();
    ck_assert_msg(sk_X509_num(sk) > 0, "no certificate in %s", path);
    return sk;
}

static X509 *
read_cert(const char *path)
{
    pki_cert_stack *sk = read_chain(path);
    X509 *x = sk_X509_shift(sk);

    sk_X509_pop_free(sk, X509_free);
    return x;
}

static EVP_PKEY *
read_key(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_msg(k != NULL, "no key in %s", path);
    return k;
}

/*
 * X509_V_OK, or the verifier's error, for leaf against connectorCA.pem at
 * time when, with untrusted as the intermediates offered.
 */
static int
verify_leaf(X509 *leaf, pki_cert_stack *untrusted, const char *host,
            int purpose, time_t when)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509 *root = read_cert(at("connectorCA.pem"));
    X509_VERIFY_PARAM *param;
    int rc;

    ck_assert_int_eq(X509_STORE_add_cert(store, root), 1);
    ck_assert_int_eq(X509_STORE_CTX_init(ctx, store, leaf, untrusted), 1);
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, when);
    X509_STORE_CTX_set_purpose(ctx, purpose);
    if (host != NULL)
        X509_VERIFY_PARAM_set1_host(param, host, 0);
    rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(root);
    ERR_clear_error();
    return rc;
}

/* The leaf in path checked as a TLS client of host would, server CA given. */
static int
verify_host_file(const char *path, const char *host, time_t when)
{
    pki_cert_stack *chain = read_chain(path);
    pki_cert_stack *inter = read_chain(at("ca/server-ca.pem"));
    int rc = verify_leaf(sk_X509_value(chain, 0), inter, host,
                         X509_PURPOSE_SSL_SERVER, when);

    sk_X509_pop_free(chain, X509_free);
    sk_X509_pop_free(inter, X509_free);
    return rc;
}

static void
fingerprint_of(const char *path, char *fp)
{
    X509 *x = read_cert(path);

    ck_assert_int_eq(pki_fingerprint_sha256(x, fp, PKI_FINGERPRINT_LEN), 0);
    X509_free(x);
}

static mode_t
mode_of(const char *path)
{
    struct stat st;

    ck_assert_msg(stat(path, &st) == 0, "cannot stat %s", path);
    return st.st_mode & 07777;
}

static void
write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 65536);

    ck_assert_ptr_nonnull(f);
    fread(buf, 1, 65535, f);
    fclose(f);
    return buf;
}

static EVP_PKEY *
ec_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    ck_assert_ptr_nonnull(k);
    return k;
}

/* A signed request for key with subject CN=cn, as DER. */
static unsigned char *
csr_der(EVP_PKEY *key, const char *cn, int *len)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = X509_REQ_get_subject_name(req);
    unsigned char *der = NULL;

    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               (const unsigned char *)cn, -1, -1, 0);
    ck_assert_int_eq(X509_REQ_set_pubkey(req, key), 1);
    ck_assert_int_gt(X509_REQ_sign(req, key, EVP_sha256()), 0);
    *len = i2d_X509_REQ(req, &der);
    ck_assert_int_gt(*len, 0);
    X509_REQ_free(req);
    return der;
}

static int
has_critical(X509 *x, int nid)
{
    int i = X509_get_ext_by_NID(x, nid, -1);

    return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* ---- layout ---- */

START_TEST(root_fingerprint_kept_on_second_run)
{
    char before[PKI_FINGERPRINT_LEN], after[PKI_FINGERPRINT_LEN];
    char leaf1[PKI_FINGERPRINT_LEN], leaf2[PKI_FINGERPRINT_LEN];

    ensure();
    fingerprint_of(at("ca/root.pem"), before);
    fingerprint_of(host_pem("api-sse.cisco.com"), leaf1);
    ensure_type(PKI_KEY_EC_P256, now + DAY_S);
    fingerprint_of(at("ca/root.pem"), after);
    fingerprint_of(host_pem("api-sse.cisco.com"), leaf2);
    ck_assert_str_eq(before, after);
    ck_assert_str_eq(leaf1, leaf2);
}
END_TEST

START_TEST(keys_are_mode_0600)
{
    static const char *const cas[] = {"root", "server-ca", "device-ca",
                                      "foreign-root", "inspection-ca"};
    size_t n;
    const struct sse_host *h = sse_hosts(&n);
    char path[PATH_MAX];

    ensure();
    for (size_t i = 0; i < sizeof(cas) / sizeof(cas[0]); i++) {
        snprintf(path, sizeof(path), "%s/ca/%s.key", certs, cas[i]);
        ck_assert_msg(mode_of(path) == 0600, "%s mode %o", path, mode_of(path));
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/hosts/%s.key", certs, h[i].name);
        ck_assert_msg(mode_of(path) == 0600, "%s mode %o", path, mode_of(path));
    }
    ck_assert_int_eq(mode_of(at("ca/root.pem")), 0644);
}
END_TEST

START_TEST(loose_key_mode_tightened_on_rerun)
{
    const char *key = at("hosts/est.sco.cisco.com.key");

    ensure();
    ck_assert_int_eq(chmod(key, 0644), 0);
    ck_assert_int_eq(chmod(at("ca/root.key"), 0640), 0);
    ensure();
    ck_assert_int_eq(mode_of(key), 0600);
    ck_assert_int_eq(mode_of(at("ca/root.key")), 0600);
}
END_TEST

START_TEST(every_host_leaf_verifies_against_root_with_server_ca_untrusted)
{
    size_t n;
    const struct sse_host *h = sse_hosts(&n);
    int dex = 0, est = 0;

    ensure();
    for (size_t i = 0; i < n; i++) {
        int rc = verify_host_file(host_pem(h[i].name), h[i].name, now);

        ck_assert_msg(rc == X509_V_OK, "%s: %s", h[i].name,
                      X509_verify_cert_error_string(rc));
        dex += h[i].service == SSE_SVC_DEX;
        est += h[i].service == SSE_SVC_EST;
    }
    ck_assert_int_eq(dex, 3);
    ck_assert_int_eq(est, 1);
}
END_TEST

START_TEST(leaf_without_server_ca_does_not_verify_against_root)
{
    X509 *leaf;

    ensure();
    leaf = read_cert(host_pem("mx01.eu.sse.itd.cisco.com"));
    ck_assert_int_eq(verify_leaf(leaf, NULL, "mx01.eu.sse.itd.cisco.com",
                                 X509_PURPOSE_SSL_SERVER, now),
                     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    X509_free(leaf);
}
END_TEST

START_TEST(leaf_file_holds_leaf_then_server_ca)
{
    pki_cert_stack *chain;
    X509 *server;
    char cn[256];

    ensure();
    chain = read_chain(host_pem("eventing-ingest.apj.sse.itd.cisco.com"));
    server = read_cert(at("ca/server-ca.pem"));
    ck_assert_int_eq(sk_X509_num(chain), 2);
    ck_assert_int_eq(X509_cmp(sk_X509_value(chain, 1), server), 0);
    X509_NAME_get_text_by_NID(X509_get_subject_name(sk_X509_value(chain, 0)),
                              NID_commonName, cn, sizeof(cn));
    ck_assert_str_eq(cn, "eventing-ingest.apj.sse.itd.cisco.com");
    X509_free(server);
    sk_X509_pop_free(chain, X509_free);
}
END_TEST

START_TEST(connector_ca_holds_root_only_and_device_trust_two)
{
    pki_cert_stack *cca, *trust;
    X509 *root, *device;

    ensure();
    cca = read_chain(at("connectorCA.pem"));
    trust = read_chain(at("ca/device-trust.pem"));
    root = read_cert(at("ca/root.pem"));
    device = read_cert(at("ca/device-ca.pem"));
    ck_assert_int_eq(sk_X509_num(cca), 1);
    ck_assert_int_eq(X509_cmp(sk_X509_value(cca, 0), root), 0);
    ck_assert_int_eq(sk_X509_num(trust), 2);
    ck_assert_int_eq(X509_cmp(sk_X509_value(trust, 0), device), 0);
    ck_assert_int_eq(X509_cmp(sk_X509_value(trust, 1), root), 0);
    ck_assert_str_eq(pki_device_trust_path(pki), at("ca/device-trust.pem"));
    ck_assert_str_eq(pki_connector_ca_path(pki), at("connectorCA.pem"));
    X509_free(root);
    X509_free(device);
    sk_X509_pop_free(cca, X509_free);
    sk_X509_pop_free(trust, X509_free);
}
END_TEST

START_TEST(cas_are_critical_with_pathlen_zero_intermediates)
{
    X509 *root, *server, *device;

    ensure();
    root = read_cert(at("ca/root.pem"));
    server = read_cert(at("ca/server-ca.pem"));
    device = read_cert(at("ca/device-ca.pem"));
    ck_assert_int_eq(X509_check_ca(root), 1);
    ck_assert_int_eq(X509_get_pathlen(root), -1);
    ck_assert_int_eq(X509_get_pathlen(server), 0);
    ck_assert_int_eq(X509_get_pathlen(device), 0);
    ck_assert(has_critical(server, NID_basic_constraints));
    ck_assert(has_critical(server, NID_key_usage));
    ck_assert(X509_get_key_usage(device) & KU_KEY_CERT_SIGN);
    ck_assert_int_eq(X509_check_issued(root, server), X509_V_OK);
    ck_assert_int_eq(X509_check_issued(root, device), X509_V_OK);
    /* Ten years for the root. */
    ck_assert_int_gt(
        X509_cmp_time(X509_get0_notAfter(root), &(time_t){now + 3649 * DAY_S}),
        0);
    X509_free(root);
    X509_free(server);
    X509_free(device);
}
END_TEST

START_TEST(leaf_profile_server_auth_san_serial_and_825_days)
{
    X509 *leaf;
    const ASN1_INTEGER *serial;

    ensure();
    leaf = read_cert(host_pem("dex.sse.itd.cisco.com"));
    ck_assert_int_eq(X509_check_host(leaf, "dex.sse.itd.cisco.com", 0, 0, NULL),
                     1);
    ck_assert(X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER);
    ck_assert(!(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT));
    ck_assert(has_critical(leaf, NID_basic_constraints));
    ck_assert_int_eq(X509_check_ca(leaf), 0);
    ck_assert_ptr_nonnull(X509_get0_subject_key_id(leaf));
    ck_assert_ptr_nonnull(X509_get0_authority_key_id(leaf));
    serial = X509_get0_serialNumber(leaf);
    ck_assert_int_eq(serial->length, 16);
    ck_assert_int_lt(
        X509_cmp_time(X509_get0_notAfter(leaf), &(time_t){now + 826 * DAY_S}),
        0);
    X509_free(leaf);
}
END_TEST

START_TEST(ec_p256_by_default)
{
    EVP_PKEY *k;
    char group[64] = "";

    ensure();
    k = read_key(at("hosts/api-sse.cisco.com.key"));
    ck_assert(EVP_PKEY_is_a(k, "EC"));
    EVP_PKEY_get_group_name(k, group, sizeof(group), NULL);
    ck_assert_str_eq(group, "prime256v1");
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(rsa_on_request)
{
    EVP_PKEY *k;
    X509 *root;
    int rc;

    ensure_type(PKI_KEY_RSA_2048, now);
    k = read_key(at("hosts/api.eu.sse.itd.cisco.com.key"));
    ck_assert(EVP_PKEY_is_a(k, "RSA"));
    ck_assert_int_eq(EVP_PKEY_get_bits(k), 2048);
    root = read_cert(at("ca/root.pem"));
    ck_assert(EVP_PKEY_is_a(X509_get0_pubkey(root), "RSA"));
    rc = verify_host_file(host_pem("api.eu.sse.itd.cisco.com"),
                          "api.eu.sse.itd.cisco.com", now);
    ck_assert_int_eq(rc, X509_V_OK);
    EVP_PKEY_free(k);
    X509_free(root);
}
END_TEST

/* ---- keeping and reissuing ---- */

struct notes {
    int reissued;
    int wrote;
    char last_why[256];
    char root_why[512]; /* what was said of ca/root.pem */
};

static void
count_note(void *arg, const char *action, const char *path, const char *why)
{
    struct notes *n = arg;
    size_t len = strlen(path);

    if (len >= 11 && strcmp(path + len - 11, "ca/root.pem") == 0)
        snprintf(n->root_why, sizeof(n->root_why), "%s %s", action, why);
    if (strcmp(action, "reissued") == 0) {
        n->reissued++;
        snprintf(n->last_why, sizeof(n->last_why), "%s", why);
    } else if (strcmp(action, "wrote") == 0) {
        n->wrote++;
    }
}

static void
ensure_noted_type(enum pki_key_type type, time_t when, struct notes *n)
{
    char err[512] = "";

    pki_free(pki);
    pki = NULL;
    memset(n, 0, sizeof(*n));
    ck_assert_msg(pki_ensure_noted(&pki, certs, type, when, count_note, n, err,
                                   sizeof(err)) == 0,
                  "pki_ensure_noted: %s", err);
}

static void
ensure_noted(time_t when, struct notes *n)
{
    ensure_noted_type(PKI_KEY_EC_P256, when, n);
}

START_TEST(leaf_expiring_within_30_days_is_reissued)
{
    char root1[PKI_FINGERPRINT_LEN], root2[PKI_FINGERPRINT_LEN];
    char leaf1[PKI_FINGERPRINT_LEN], leaf2[PKI_FINGERPRINT_LEN];
    time_t later = now + 800 * DAY_S;
    struct notes n;

    ensure();
    fingerprint_of(at("ca/root.pem"), root1);
    fingerprint_of(host_pem("mx01.sse.itd.cisco.com"), leaf1);
    ensure_noted(later, &n);
    fingerprint_of(at("ca/root.pem"), root2);
    fingerprint_of(host_pem("mx01.sse.itd.cisco.com"), leaf2);
    ck_assert_str_eq(root1, root2);
    ck_assert_str_ne(leaf1, leaf2);
    ck_assert_str_eq(n.last_why, "expires within 30 days");
    ck_assert_int_eq(verify_host_file(host_pem("mx01.sse.itd.cisco.com"),
                                      "mx01.sse.itd.cisco.com",
                                      later + 60 * DAY_S),
                     X509_V_OK);
}
END_TEST

START_TEST(leaf_not_from_current_server_ca_is_reissued)
{
    char cert[PATH_MAX], key[PATH_MAX], err[256];
    struct notes n;
    const char *host = "api.apj.sse.itd.cisco.com";

    ensure();
    ck_assert_int_eq(
        pki_leaf_paths(pki, host, PKI_LEAF_OK, cert, key, sizeof(cert)), 0);
    ck_assert_int_eq(pki_issue_leaf(pki, host, PKI_LEAF_UNKNOWN_CA, now, cert,
                                    key, err, sizeof(err)),
                     0);
    ck_assert_int_ne(verify_host_file(cert, host, now), X509_V_OK);
    ensure_noted(now, &n);
    ck_assert_int_eq(n.reissued, 2); /* its key and its certificate */
    ck_assert_msg(strstr(n.last_why, "does not verify") != NULL, "%s",
                  n.last_why);
    ck_assert_int_eq(verify_host_file(cert, host, now), X509_V_OK);
}
END_TEST

START_TEST(leaf_of_another_key_type_is_reissued_ca_kept_and_said_so)
{
    char root1[PKI_FINGERPRINT_LEN], root2[PKI_FINGERPRINT_LEN];
    const char *host = "eventing-ingest.sse.itd.cisco.com";
    size_t nhosts;
    struct notes n;
    EVP_PKEY *k;

    sse_hosts(&nhosts);
    ensure();
    fingerprint_of(at("ca/root.pem"), root1);
    ensure_noted_type(PKI_KEY_RSA_2048, now, &n);
    fingerprint_of(at("ca/root.pem"), root2);
    ck_assert_str_eq(root1, root2);
    ck_assert_int_eq(n.reissued, (int)(2 * nhosts)); /* keys, certificates */
    ck_assert_str_eq(n.last_why, "its key is EC P-256, not the RSA asked");
    ck_assert_msg(strstr(n.root_why, "kept its key is EC P-256, not the RSA "
                                     "asked: a CA is never replaced") != NULL,
                  "root: %s", n.root_why);
    k = read_key(at("hosts/eventing-ingest.sse.itd.cisco.com.key"));
    ck_assert(EVP_PKEY_is_a(k, "RSA"));
    EVP_PKEY_free(k);
    ck_assert_int_eq(verify_host_file(host_pem(host), host, now), X509_V_OK);
    /* Asked again, or not asked: the RSA leaves stay. */
    ensure_noted_type(PKI_KEY_RSA_2048, now, &n);
    ck_assert_int_eq(n.reissued, 0);
    ensure_noted_type(PKI_KEY_AUTO, now, &n);
    ck_assert_int_eq(n.reissued, 0);
    ck_assert_str_eq(n.root_why, "kept ");
}
END_TEST

START_TEST(key_type_not_asked_follows_the_root)
{
    struct notes n;
    X509 *leaf;

    ensure_type(PKI_KEY_RSA_2048, now);
    ck_assert_int_eq(unlink(host_pem("dex.sse.itd.cisco.com")), 0);
    ensure_noted_type(PKI_KEY_AUTO, now, &n);
    ck_assert_int_eq(pki_key_type(pki), PKI_KEY_RSA_2048);
    ck_assert_int_eq(n.reissued, 2);
    leaf = read_cert(host_pem("dex.sse.itd.cisco.com"));
    ck_assert(EVP_PKEY_is_a(X509_get0_pubkey(leaf), "RSA"));
    X509_free(leaf);
}
END_TEST

START_TEST(missing_leaf_is_issued_again)
{
    struct notes n;

    ensure();
    ck_assert_int_eq(unlink(host_pem("dex.eu.sse.itd.cisco.com")), 0);
    ensure_noted(now, &n);
    ck_assert_int_eq(n.reissued, 2);
    ck_assert_str_eq(n.last_why, "certificate missing");
    ck_assert_int_eq(verify_host_file(host_pem("dex.eu.sse.itd.cisco.com"),
                                      "dex.eu.sse.itd.cisco.com", now),
                     X509_V_OK);
}
END_TEST

START_TEST(corrupt_root_reported_not_overwritten)
{
    char err[512] = "";
    char *after;

    ensure();
    pki_free(pki);
    pki = NULL;
    write_text(at("ca/root.pem"), "-----BEGIN CERTIFICATE-----\nnot one\n");
    ck_assert_int_eq(
        pki_ensure(&pki, certs, PKI_KEY_EC_P256, now, err, sizeof(err)), -1);
    ck_assert_ptr_null(pki);
    ck_assert_msg(strstr(err, "ca/root.pem") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "no readable certificate") != NULL, "%s", err);
    after = slurp(at("ca/root.pem"));
    ck_assert_str_eq(after, "-----BEGIN CERTIFICATE-----\nnot one\n");
    free(after);
}
END_TEST

START_TEST(missing_ca_key_reported_not_replaced)
{
    char err[512] = "";
    char before[PKI_FINGERPRINT_LEN], after[PKI_FINGERPRINT_LEN];

    ensure();
    fingerprint_of(at("ca/device-ca.pem"), before);
    pki_free(pki);
    pki = NULL;
    ck_assert_int_eq(unlink(at("ca/device-ca.key")), 0);
    ck_assert_int_eq(
        pki_ensure(&pki, certs, PKI_KEY_EC_P256, now, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "device-ca.key") != NULL, "%s", err);
    ck_assert_int_eq(access(at("ca/device-ca.key"), F_OK), -1);
    fingerprint_of(at("ca/device-ca.pem"), after);
    ck_assert_str_eq(before, after);
}
END_TEST

START_TEST(intermediate_from_another_root_reported)
{
    char err[512] = "";
    char other[PATH_MAX];
    char *cmd;

    ensure();
    pki_free(pki);
    pki = NULL;
    /* Start a second layout and move its server CA into the first. */
    snprintf(other, sizeof(other), "%s/other", tmp);
    ck_assert_int_eq(
        pki_ensure(&pki, other, PKI_KEY_EC_P256, now, err, sizeof(err)), 0);
    pki_free(pki);
    pki = NULL;
    cmd = malloc(2 * PATH_MAX + 64);
    snprintf(cmd, 2 * PATH_MAX + 64, "%s/ca/server-ca.pem", other);
    ck_assert_int_eq(rename(cmd, at("ca/server-ca.pem")), 0);
    snprintf(cmd, 2 * PATH_MAX + 64, "%s/ca/server-ca.key", other);
    ck_assert_int_eq(rename(cmd, at("ca/server-ca.key")), 0);
    free(cmd);
    ck_assert_int_eq(
        pki_ensure(&pki, certs, PKI_KEY_EC_P256, now, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "not signed by root") != NULL, "%s", err);
}
END_TEST

/* ---- faulty leaves ---- */

static int
verify_fault(enum pki_leaf_fault fault, const char *host, int use_file_chain)
{
    char cert[PATH_MAX], key[PATH_MAX], err[256];
    pki_cert_stack *chain, *inter;
    X509 *leaf;
    int rc;

    ck_assert_msg(
        pki_issue_fault_leaf(pki, host, fault, now, err, sizeof(err)) == 0,
        "%s", err);
    ck_assert_int_eq(pki_leaf_paths(pki, host, fault, cert, key, sizeof(cert)),
                     0);
    ck_assert_int_eq(mode_of(key), 0600);
    chain = read_chain(cert);
    leaf = sk_X509_shift(chain);
    inter = use_file_chain ? chain : read_chain(at("ca/server-ca.pem"));
    rc = verify_leaf(leaf, inter, host, X509_PURPOSE_SSL_SERVER, now);
    if (inter != chain)
        sk_X509_pop_free(inter, X509_free);
    sk_X509_pop_free(chain, X509_free);
    X509_free(leaf);
    return rc;
}

START_TEST(expired_leaf_fails_verification)
{
    ensure();
    ck_assert_int_eq(verify_fault(PKI_LEAF_EXPIRED, "api-sse.cisco.com", 0),
                     X509_V_ERR_CERT_HAS_EXPIRED);
    ck_assert_int_eq(access(at("faults/expired/api-sse.cisco.com.pem"), R_OK),
                     0);
}
END_TEST

START_TEST(not_yet_valid_leaf_fails_verification)
{
    ensure();
    ck_assert_int_eq(
        verify_fault(PKI_LEAF_NOT_YET_VALID, "est.sco.cisco.com", 0),
        X509_V_ERR_CERT_NOT_YET_VALID);
}
END_TEST

START_TEST(wrong_host_leaf_fails_hostname_check)
{
    ensure();
    ck_assert_int_eq(
        verify_fault(PKI_LEAF_WRONG_HOST, "mx01.sse.itd.cisco.com", 0),
        X509_V_ERR_HOSTNAME_MISMATCH);
}
END_TEST

START_TEST(self_signed_leaf_fails_verification)
{
    ensure();
    ck_assert_int_eq(verify_fault(PKI_LEAF_SELF_SIGNED, "api-sse.cisco.com", 1),
                     X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
}
END_TEST

START_TEST(unknown_ca_leaf_fails_verification_and_names_foreign_issuer)
{
    X509 *leaf, *foreign;

    ensure();
    ck_assert_int_eq(verify_fault(PKI_LEAF_UNKNOWN_CA,
                                  "eventing-ingest.sse.itd.cisco.com", 1),
                     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    leaf = read_cert(
        at("faults/unknown-ca/eventing-ingest.sse.itd.cisco.com.pem"));
    foreign = read_cert(at("ca/foreign-root.pem"));
    ck_assert_int_eq(X509_check_issued(foreign, leaf), X509_V_OK);
    X509_free(leaf);
    X509_free(foreign);
}
END_TEST

/* The proxy's re-signed leaf: its own CA, not the foreign root, so that a
 * log line's issuer tells the proxy from another interception. */
START_TEST(inspected_leaf_is_issued_by_the_inspection_ca)
{
    X509 *leaf, *ca, *foreign;
    char issuer[256];

    ensure();
    ck_assert_int_eq(verify_fault(PKI_LEAF_INSPECTED, "est.sco.cisco.com", 1),
                     X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    leaf = read_cert(at("faults/inspected/est.sco.cisco.com.pem"));
    ca = read_cert(at("ca/inspection-ca.pem"));
    foreign = read_cert(at("ca/foreign-root.pem"));
    ck_assert_int_eq(X509_check_issued(ca, leaf), X509_V_OK);
    ck_assert_int_ne(X509_check_issued(foreign, leaf), X509_V_OK);
    X509_NAME_oneline(X509_get_issuer_name(leaf), issuer, sizeof(issuer));
    ck_assert_str_eq(issuer, "/O=sselab proxy/CN=sselab Inspection CA");
    ck_assert_int_eq(X509_check_host(leaf, "est.sco.cisco.com", 0, 0, NULL), 1);
    X509_free(leaf);
    X509_free(ca);
    X509_free(foreign);
}
END_TEST

START_TEST(incomplete_chain_leaf_fails_with_its_own_chain)
{
    ensure();
    ck_assert_int_eq(
        verify_fault(PKI_LEAF_INCOMPLETE_CHAIN, "dex.apj.sse.itd.cisco.com", 1),
        X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    ck_assert_int_eq(
        verify_fault(PKI_LEAF_INCOMPLETE_CHAIN, "dex.apj.sse.itd.cisco.com", 0),
        X509_V_OK);
}
END_TEST

START_TEST(fault_names_round_trip)
{
    for (int i = 0; i < PKI_LEAF_FAULT_COUNT; i++)
        ck_assert_int_eq(
            pki_leaf_fault_parse(pki_leaf_fault_name((enum pki_leaf_fault)i)),
            i);
    ck_assert_int_eq(pki_leaf_fault_parse("bogus"), -1);
    ck_assert(!pki_host_name_ok("../etc"));
    ck_assert(!pki_host_name_ok("a/b"));
    ck_assert(pki_host_name_ok("api-sse.cisco.com"));
}
END_TEST

/* ---- enrolment material ---- */

START_TEST(pkcs7_roundtrip_holds_certificates)
{
    X509 *in[2];
    pki_cert_stack *out = NULL;
    char *b64 = NULL, err[256], *line;
    size_t len = 0;

    ensure();
    in[0] = pki_ca_cert(pki, PKI_CA_DEVICE);
    in[1] = pki_ca_cert(pki, PKI_CA_ROOT);
    ck_assert_int_eq(pki_pkcs7_certs_b64(in, 2, &b64, &len, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(strlen(b64), len);
    for (line = b64; *line != '\0';) {
        char *nl = strchr(line, '\n');

        ck_assert_ptr_nonnull(nl);
        ck_assert_int_le(nl - line, 64);
        line = nl + 1;
    }
    ck_assert_msg(pki_pkcs7_certs_parse(b64, len, &out, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(sk_X509_num(out), 2);
    ck_assert_int_eq(X509_cmp(sk_X509_value(out, 0), in[0]), 0);
    ck_assert_int_eq(X509_cmp(sk_X509_value(out, 1), in[1]), 0);
    sk_X509_pop_free(out, X509_free);
    free(b64);
}
END_TEST

START_TEST(csr_in_base64_pem_or_der_accepted)
{
    EVP_PKEY *k = ec_key();
    int len;
    unsigned char *der = csr_der(k, "whatever", &len);
    char *b64, pem[4096], err[256];
    size_t blen;
    X509_REQ *req = NULL;

    ck_assert_int_eq(pki_b64_encode(der, (size_t)len, &b64, &blen), 0);
    ck_assert_msg(
        pki_csr_decode((unsigned char *)b64, blen, &req, err, sizeof(err)) == 0,
        "%s", err);
    X509_REQ_free(req);
    snprintf(pem, sizeof(pem),
             "-----BEGIN CERTIFICATE REQUEST-----\n%s"
             "-----END CERTIFICATE REQUEST-----\n",
             b64);
    ck_assert_int_eq(pki_csr_decode((unsigned char *)pem, strlen(pem), &req,
                                    err, sizeof(err)),
                     0);
    X509_REQ_free(req);
    ck_assert_int_eq(pki_csr_decode(der, (size_t)len, &req, err, sizeof(err)),
                     0);
    X509_REQ_free(req);
    free(b64);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(csr_with_bad_signature_refused)
{
    EVP_PKEY *k = ec_key();
    int len;
    unsigned char *der = csr_der(k, "whatever", &len);
    char *b64, err[256] = "";
    size_t blen;
    X509_REQ *req = NULL;

    der[len - 1] ^= 0x01; /* the last byte of the signature */
    ck_assert_int_eq(pki_b64_encode(der, (size_t)len, &b64, &blen), 0);
    ck_assert_int_eq(
        pki_csr_decode((unsigned char *)b64, blen, &req, err, sizeof(err)), -1);
    ck_assert_ptr_null(req);
    ck_assert_msg(strstr(err, "signature") != NULL, "%s", err);
    free(b64);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(csr_with_weak_rsa_key_refused)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    int len;
    unsigned char *der = csr_der(k, "weak", &len);
    char err[256] = "";
    X509_REQ *req = NULL;

    ck_assert_int_eq(pki_csr_decode(der, (size_t)len, &req, err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "1024") != NULL, "%s", err);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(garbage_is_neither_csr_nor_base64)
{
    char err[256] = "";
    X509_REQ *req = NULL;
    unsigned char *out = NULL;
    size_t n;

    ck_assert_int_eq(pki_csr_decode((const unsigned char *)"!!!!", 4, &req, err,
                                    sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "base64") != NULL, "%s", err);
    ck_assert_int_eq(pki_csr_decode((const unsigned char *)"aGVsbG8=", 8, &req,
                                    err, sizeof(err)),
                     -1);
    ck_assert_msg(strstr(err, "PKCS#10") != NULL, "%s", err);
    ck_assert_int_eq(pki_b64_decode("@@@@", 4, &out, &n), -1);
}
END_TEST

START_TEST(device_cert_has_client_auth_and_server_set_subject)
{
    EVP_PKEY *k = ec_key();
    int len;
    unsigned char *der = csr_der(k, "whatever", &len);
    X509_REQ *req = NULL;
    X509 *cert = NULL;
    char err[256] = "", cn[64], org[64];
    pki_cert_stack *inter = sk_X509_new_null();
    time_t nb = now - 60, na = now + 3600;

    ensure();
    ck_assert_int_eq(pki_csr_decode(der, (size_t)len, &req, err, sizeof(err)),
                     0);
    ck_assert_msg(pki_issue_device_cert(pki, req, "dev-1", "tenant-1", 3600,
                                        now, &cert, err, sizeof(err)) == 0,
                  "%s", err);
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
                              sizeof(cn));
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_organizationName,
                              org, sizeof(org));
    ck_assert_str_eq(cn, "dev-1");
    ck_assert_str_eq(org, "tenant-1");
    ck_assert(X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT);
    ck_assert_int_eq(ASN1_TIME_cmp_time_t(X509_get0_notBefore(cert), nb), 0);
    ck_assert_int_eq(ASN1_TIME_cmp_time_t(X509_get0_notAfter(cert), na), 0);
    ck_assert_int_eq(X509_check_private_key(cert, k), 1);
    sk_X509_push(inter, pki_ca_cert(pki, PKI_CA_DEVICE));
    ck_assert_int_eq(
        verify_leaf(cert, inter, NULL, X509_PURPOSE_SSL_CLIENT, now),
        X509_V_OK);
    ck_assert_int_eq(pki_verify_device_cert(pki, cert, now, err, sizeof(err)),
                     0);
    ck_assert_int_eq(
        pki_verify_device_cert(pki, cert, now + 7200, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "expired") != NULL, "%s", err);
    ck_assert_int_eq(pki_device_validity(pki), 365L * DAY_S);
    sk_X509_free(inter);
    X509_free(cert);
    X509_REQ_free(req);
    OPENSSL_free(der);
    EVP_PKEY_free(k);
}
END_TEST

START_TEST(host_leaf_is_no_device_certificate)
{
    X509 *leaf;
    char err[256] = "";

    ensure();
    leaf = read_cert(host_pem("api-sse.cisco.com"));
    ck_assert_int_eq(pki_verify_device_cert(pki, leaf, now, err, sizeof(err)),
                     -1);
    X509_free(leaf);
}
END_TEST

START_TEST(client_cert_chains_to_root_through_device_ca)
{
    char cert[PATH_MAX], key[PATH_MAX], err[256] = "", cn[64];
    pki_cert_stack *chain;
    X509 *leaf, *device;
    EVP_PKEY *k;

    ensure();
    ck_assert_msg(pki_issue_client(pki, "lab-1", now, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert_int_eq(pki_client_paths(pki, "lab-1", cert, key, sizeof(cert)),
                     0);
    ck_assert_str_eq(cert, at("clients/lab-1.pem"));
    ck_assert_int_eq(mode_of(key), 0600);
    chain = read_chain(cert);
    ck_assert_int_eq(sk_X509_num(chain), 2);
    leaf = sk_X509_shift(chain);
    device = read_cert(at("ca/device-ca.pem"));
    ck_assert_int_eq(X509_cmp(sk_X509_value(chain, 0), device), 0);
    X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn,
                              sizeof(cn));
    ck_assert_str_eq(cn, "lab-1");
    ck_assert_int_eq(
        verify_leaf(leaf, chain, NULL, X509_PURPOSE_SSL_CLIENT, now),
        X509_V_OK);
    k = read_key(key);
    ck_assert_int_eq(X509_check_private_key(leaf, k), 1);
    ck_assert_int_eq(pki_issue_client(pki, "../escape", now, err, sizeof(err)),
                     -1);
    EVP_PKEY_free(k);
    X509_free(device);
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
}
END_TEST

START_TEST(csrattrs_is_a_der_sequence_naming_ecdsa_with_sha256)
{
    char *b64 = NULL, err[256] = "";
    size_t len = 0, derlen = 0;
    unsigned char *der = NULL;
    const unsigned char *q;
    ASN1_SEQUENCE_ANY *seq;
    ASN1_TYPE *first;

    ensure();
    ck_assert_int_eq(pki_csrattrs_b64(pki, &b64, &len, err, sizeof(err)), 0);
    ck_assert_int_eq(pki_b64_decode(b64, len, &der, &derlen), 0);
    q = der;
    seq = d2i_ASN1_SEQUENCE_ANY(NULL, &q, (long)derlen);
    ck_assert_ptr_nonnull(seq);
    ck_assert_ptr_eq(q, der + derlen);
    ck_assert_int_eq(sk_ASN1_TYPE_num(seq), 2);
    first = sk_ASN1_TYPE_value(seq, 0);
    ck_assert_int_eq(ASN1_TYPE_get(first), V_ASN1_OBJECT);
    ck_assert_int_eq(OBJ_obj2nid(first->value.object), NID_ecdsa_with_SHA256);
    ck_assert_int_eq(ASN1_TYPE_get(sk_ASN1_TYPE_value(seq, 1)),
                     V_ASN1_SEQUENCE);
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    free(der);
    free(b64);
}
END_TEST

START_TEST(fingerprint_is_sha256_of_der)
{
    X509 *root;
    unsigned char *der = NULL, md[32];
    int len;
    char fp[PKI_FINGERPRINT_LEN], want[PKI_FINGERPRINT_LEN];

    ensure();
    root = pki_ca_cert(pki, PKI_CA_ROOT);
    len = i2d_X509(root, &der);
    ck_assert_int_eq(EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL),
                     1);
    for (int i = 0; i < 32; i++)
        snprintf(want + 3 * i, sizeof(want) - 3 * (size_t)i, "%02X%s", md[i],
                 i < 31 ? ":" : "");
    ck_assert_int_eq(pki_fingerprint_sha256(root, fp, sizeof(fp)), 0);
    ck_assert_str_eq(fp, want);
    ck_assert_int_eq(pki_fingerprint_sha256(root, fp, 10), -1);
    OPENSSL_free(der);
}
END_TEST

static Suite *
pki_suite(void)
{
    Suite *s = suite_create("pki");
    TCase *layout = tcase_create("layout");
    TCase *renew = tcase_create("keep_and_reissue");
    TCase *faults = tcase_create("faulty_leaves");
    TCase *enrol = tcase_create("enrolment");
    TCase *all[] = {layout, renew, faults, enrol};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        tcase_add_checked_fixture(all[i], setup, teardown);
        tcase_set_timeout(all[i], 60);
        suite_add_tcase(s, all[i]);
    }
    tcase_add_test(layout, root_fingerprint_kept_on_second_run);
    tcase_add_test(layout, keys_are_mode_0600);
    tcase_add_test(layout, loose_key_mode_tightened_on_rerun);
    tcase_add_test(
        layout, every_host_leaf_verifies_against_root_with_server_ca_untrusted);
    tcase_add_test(layout, leaf_without_server_ca_does_not_verify_against_root);
    tcase_add_test(layout, leaf_file_holds_leaf_then_server_ca);
    tcase_add_test(layout, connector_ca_holds_root_only_and_device_trust_two);
    tcase_add_test(layout, cas_are_critical_with_pathlen_zero_intermediates);
    tcase_add_test(layout, leaf_profile_server_auth_san_serial_and_825_days);
    tcase_add_test(layout, ec_p256_by_default);
    tcase_add_test(layout, rsa_on_request);
    tcase_add_test(renew, leaf_expiring_within_30_days_is_reissued);
    tcase_add_test(renew, leaf_not_from_current_server_ca_is_reissued);
    tcase_add_test(renew,
                   leaf_of_another_key_type_is_reissued_ca_kept_and_said_so);
    tcase_add_test(renew, key_type_not_asked_follows_the_root);
    tcase_add_test(renew, missing_leaf_is_issued_again);
    tcase_add_test(renew, corrupt_root_reported_not_overwritten);
    tcase_add_test(renew, missing_ca_key_reported_not_replaced);
    tcase_add_test(renew, intermediate_from_another_root_reported);
    tcase_add_test(faults, expired_leaf_fails_verification);
    tcase_add_test(faults, not_yet_valid_leaf_fails_verification);
    tcase_add_test(faults, wrong_host_leaf_fails_hostname_check);
    tcase_add_test(faults, self_signed_leaf_fails_verification);
    tcase_add_test(faults,
                   unknown_ca_leaf_fails_verification_and_names_foreign_issuer);
    tcase_add_test(faults, inspected_leaf_is_issued_by_the_inspection_ca);
    tcase_add_test(faults, incomplete_chain_leaf_fails_with_its_own_chain);
    tcase_add_test(faults, fault_names_round_trip);
    tcase_add_test(enrol, pkcs7_roundtrip_holds_certificates);
    tcase_add_test(enrol, csr_in_base64_pem_or_der_accepted);
    tcase_add_test(enrol, csr_with_bad_signature_refused);
    tcase_add_test(enrol, csr_with_weak_rsa_key_refused);
    tcase_add_test(enrol, garbage_is_neither_csr_nor_base64);
    tcase_add_test(enrol, device_cert_has_client_auth_and_server_set_subject);
    tcase_add_test(enrol, host_leaf_is_no_device_certificate);
    tcase_add_test(enrol, client_cert_chains_to_root_through_device_ca);
    tcase_add_test(enrol, csrattrs_is_a_der_sequence_naming_ecdsa_with_sha256);
    tcase_add_test(enrol, fingerprint_is_sha256_of_der);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(pki_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
