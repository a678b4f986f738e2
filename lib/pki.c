/*
 * pki.c: the private PKI of pki.h. Certificates are built here from a small
 * profile (struct cert_spec); files go through one writer that replaces
 * them whole, keys mode 0600.
 */
#include "pki.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "fileio.h"
#include "hosts.h"

#define DAY_S 86400L
#define CA_DAYS 3650L
#define LEAF_DAYS 825L
#define LEAF_RENEW_S (30 * DAY_S)
/* CAs and leaves start an hour early, device certificates a minute. */
#define BACKDATE_S 3600L
#define DEVICE_BACKDATE_S 60L
#define SERIAL_BYTES 16
#define WRONG_HOST "wrong-host.sselab.invalid"
#define MAX_PEM_FILE (1024 * 1024)
#define MAX_CLIENT_NAME 64

struct ca_def {
    const char *file; /* ca/<file>.pem and ca/<file>.key */
    const char *cn;
    const char *org;
    int issuer; /* index of the issuing CA, -1 when self-signed */
};

/* Order matters: an issuer comes before what it issues. */
static const struct ca_def ca_defs[PKI_CA_COUNT] = {
    [PKI_CA_ROOT] = {"root", "sselab Root CA", "sselab", -1},
    [PKI_CA_SERVER] = {"server-ca", "sselab Server CA", "sselab", PKI_CA_ROOT},
    [PKI_CA_DEVICE] = {"device-ca", "sselab Device CA", "sselab", PKI_CA_ROOT},
    [PKI_CA_FOREIGN] = {"foreign-root", "Inspection Proxy Root CA",
                        "sselab foreign", -1},
    [PKI_CA_INSPECTION] = {"inspection-ca", "sselab Inspection CA",
                           "sselab proxy", -1},
};

static const char *const fault_names[PKI_LEAF_FAULT_COUNT] = {
    [PKI_LEAF_OK] = "none",
    [PKI_LEAF_EXPIRED] = "expired",
    [PKI_LEAF_NOT_YET_VALID] = "not-yet-valid",
    [PKI_LEAF_WRONG_HOST] = "wrong-host",
    [PKI_LEAF_SELF_SIGNED] = "self-signed",
    [PKI_LEAF_UNKNOWN_CA] = "unknown-ca",
    [PKI_LEAF_INCOMPLETE_CHAIN] = "incomplete-chain",
    [PKI_LEAF_INSPECTED] = "inspected",
};

struct pki {
    char dir[PATH_MAX];
    char device_trust[PATH_MAX];
    char connector_ca[PATH_MAX];
    enum pki_key_type type; /* of what is issued from now on */
    bool type_asked;        /* by the caller; else the root's */
    X509 *cert[PKI_CA_COUNT];
    EVP_PKEY *key[PKI_CA_COUNT];
    long device_validity_s;
};

enum cert_kind {
    CERT_CA,
    CERT_SERVER,
    CERT_CLIENT,
};

/* What one certificate should say; make_cert turns it into X509. */
struct cert_spec {
    enum cert_kind kind;
    const char *cn;
    const char *org; /* NULL: no O */
    const char *dns; /* subjectAltName, NULL: none */
    int pathlen;     /* CAs: -1 for no limit */
    time_t not_before;
    time_t not_after; /* cut to the issuer's own end */
    EVP_PKEY *key;    /* the subject's key */
    X509 *issuer;     /* NULL: self-signed with key */
    EVP_PKEY *issuer_key;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* OpenSSL's last reason in words, and its error queue emptied. */
static const char *
ssl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    return r != NULL ? r : "no detail from OpenSSL";
}

static int
fail_ssl(char *err, size_t errlen, const char *what)
{
    return fail(err, errlen, "%s: %s", what, ssl_reason());
}

static void
append_err(char *err, size_t errlen, const char *more)
{
    size_t n;

    if (err == NULL || errlen == 0)
        return;
    n = strnlen(err, errlen);
    if (n < errlen)
        snprintf(err + n, errlen - n, "%s", more);
}

static int path_fmt(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
path_fmt(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void
notify(pki_note_fn note, void *arg, const char *action, const char *path,
       const char *why)
{
    if (note != NULL)
        note(arg, action, path, why);
}

/* 1 when path exists, 0 when it does not, -1 (with errno) otherwise. */
static int
file_exists(const char *path)
{
    struct stat st;

    if (stat(path, &st) == 0)
        return 1;
    return errno == ENOENT ? 0 : -1;
}

static int
make_dir(const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (mkdir(path, 0755) == 0)
        return 0;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return fail(err, errlen, "%s: cannot create directory: %s", path,
                strerror(errno));
}

static int
write_all(int fd, const unsigned char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * Replace path whole with data: write a sibling file, then rename it over
 * path, so that a reader never sees half a key or a chain.
 */
static int
write_file(const char *path, const unsigned char *data, size_t len, mode_t mode,
           char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    int fd, saved;

    if (path_fmt(tmp, sizeof(tmp), "%s.tmp", path) < 0)
        return fail(err, errlen, "%s: path too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return fail(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
    /* open's mode applies to new files only; a left-over one keeps its. */
    if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        saved = errno;
        close(fd);
        unlink(tmp);
        return fail(err, errlen, "%s: cannot write: %s", tmp, strerror(saved));
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        saved = errno;
        unlink(tmp);
        return fail(err, errlen, "%s: cannot write: %s", path, strerror(saved));
    }
    return 0;
}

/* Write the contents of a memory BIO to path, then clear the BIO. */
static int
write_bio(const char *path, BIO *b, mode_t mode, char *err, size_t errlen)
{
    BUF_MEM *bm = NULL;
    int rc;

    BIO_get_mem_ptr(b, &bm);
    if (bm == NULL)
        return fail(err, errlen, "%s: nothing to write", path);
    rc = write_file(path, (const unsigned char *)bm->data, bm->length, mode,
                    err, errlen);
    OPENSSL_cleanse(bm->data, bm->length);
    return rc;
}

static int
write_key(const char *path, EVP_PKEY *key, char *err, size_t errlen)
{
    BIO *b = BIO_new(BIO_s_mem());
    int rc;

    if (b == NULL ||
        PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1) {
        BIO_free(b);
        return fail_ssl(err, errlen, path);
    }
    rc = write_bio(path, b, 0600, err, errlen);
    BIO_free(b);
    return rc;
}

static BIO *
pem_certs(X509 *const *certs, size_t n)
{
    BIO *b = BIO_new(BIO_s_mem());

    if (b == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (PEM_write_bio_X509(b, certs[i]) != 1) {
            BIO_free(b);
            return NULL;
        }
    }
    return b;
}

static int
write_certs(const char *path, X509 *const *certs, size_t n, char *err,
            size_t errlen)
{
    BIO *b = pem_certs(certs, n);
    int rc;

    if (b == NULL)
        return fail_ssl(err, errlen, path);
    rc = write_bio(path, b, 0644, err, errlen);
    BIO_free(b);
    return rc;
}

/* Every certificate of a PEM file, at least one. */
static int
load_certs(const char *path, pki_cert_stack **out, char *err, size_t errlen)
{
    pki_cert_stack *sk = sk_X509_new_null();
    BIO *b = BIO_new_file(path, "r");
    X509 *x;

    *out = NULL;
    if (sk == NULL || b == NULL) {
        sk_X509_free(sk);
        BIO_free(b);
        return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    }
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_push(sk, x) <= 0) {
            X509_free(x);
            break;
        }
    }
    BIO_free(b);
    /* The loop ends on "no start line" after the last certificate. */
    if (sk_X509_num(sk) == 0) {
        sk_X509_free(sk);
        return fail(err, errlen, "%s: no readable certificate (%s)", path,
                    ssl_reason());
    }
    ERR_clear_error();
    *out = sk;
    return 0;
}

static int
load_cert(const char *path, X509 **out, char *err, size_t errlen)
{
    pki_cert_stack *sk;

    if (load_certs(path, &sk, err, errlen) < 0)
        return -1;
    *out = sk_X509_shift(sk);
    sk_X509_pop_free(sk, X509_free);
    return 0;
}

static int
load_key(const char *path, EVP_PKEY **out, char *err, size_t errlen)
{
    BIO *b = BIO_new_file(path, "r");

    *out = NULL;
    if (b == NULL)
        return fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    *out = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (*out == NULL)
        return fail(err, errlen, "%s: no readable private key (%s)", path,
                    ssl_reason());
    return 0;
}

/* A key file that others can read is made the owner's alone. */
static int
tighten_key_mode(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0 || (st.st_mode & 077) == 0)
        return 0;
    return chmod(path, 0600) == 0 ? 1 : -1;
}

/* The type of a key; -1 for one sselab does not make. */
static int
key_type_of(EVP_PKEY *k)
{
    char group[64] = "";

    if (EVP_PKEY_is_a(k, "RSA"))
        return PKI_KEY_RSA_2048;
    if (EVP_PKEY_is_a(k, "EC") &&
        EVP_PKEY_get_group_name(k, group, sizeof(group), NULL) == 1 &&
        strcmp(group, "prime256v1") == 0)
        return PKI_KEY_EC_P256;
    return -1;
}

static const char *
key_type_name(int type)
{
    return type == PKI_KEY_RSA_2048  ? "RSA"
           : type == PKI_KEY_EC_P256 ? "EC P-256"
                                     : "of another kind";
}

static EVP_PKEY *
gen_key(enum pki_key_type type)
{
    if (type == PKI_KEY_RSA_2048)
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int
set_random_serial(X509 *x)
{
    unsigned char raw[SERIAL_BYTES];
    BIGNUM *bn;
    int ok;

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    /* Positive, and no leading zero byte for DER to drop. */
    raw[0] = (unsigned char)((raw[0] & 0x7f) | 0x40);
    bn = BN_bin2bn(raw, sizeof(raw), NULL);
    ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    return ok ? 0 : -1;
}

static X509_NAME *
make_name(const char *cn, const char *org)
{
    X509_NAME *n = X509_NAME_new();

    if (n == NULL)
        return NULL;
    if ((org != NULL &&
         !X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
                                     (const unsigned char *)org, -1, -1, 0)) ||
        !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                    (const unsigned char *)cn, -1, -1, 0)) {
        X509_NAME_free(n);
        return NULL;
    }
    return n;
}

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
    int ok;

    if (e == NULL)
        return -1;
    ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

static int
add_extensions(X509 *x, X509 *issuer, const struct cert_spec *s)
{
    X509V3_CTX ctx;
    char bc[40], san[300];
    int rsa = EVP_PKEY_is_a(s->key, "RSA");
    const char *ku = rsa ? "critical,digitalSignature,keyEncipherment"
                         : "critical,digitalSignature";

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    if (s->kind == CERT_CA) {
        if (s->pathlen >= 0)
            snprintf(bc, sizeof(bc), "critical,CA:TRUE,pathlen:%d", s->pathlen);
        else
            snprintf(bc, sizeof(bc), "critical,CA:TRUE");
        ku = "critical,keyCertSign,cRLSign";
    } else {
        snprintf(bc, sizeof(bc), "critical,CA:FALSE");
    }
    /* The subject key id first: the authority key id may point at it. */
    if (add_ext(x, &ctx, NID_basic_constraints, bc) < 0 ||
        add_ext(x, &ctx, NID_key_usage, ku) < 0 ||
        add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
        add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") < 0)
        return -1;
    if (s->kind == CERT_SERVER &&
        add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") < 0)
        return -1;
    if (s->kind == CERT_CLIENT &&
        add_ext(x, &ctx, NID_ext_key_usage, "clientAuth") < 0)
        return -1;
    if (s->dns != NULL) {
        if (path_fmt(san, sizeof(san), "DNS:%s", s->dns) < 0 ||
            add_ext(x, &ctx, NID_subject_alt_name, san) < 0)
            return -1;
    }
    return 0;
}

static int
set_validity(X509 *x, X509 *issuer, const struct cert_spec *s)
{
    time_t end = s->not_after;

    if (ASN1_TIME_set(X509_getm_notBefore(x), s->not_before) == NULL ||
        ASN1_TIME_set(X509_getm_notAfter(x), end) == NULL)
        return -1;
    /* Nothing outlives its issuer. */
    if (issuer != NULL && X509_cmp_time(X509_get0_notAfter(issuer), &end) < 0)
        return X509_set1_notAfter(x, X509_get0_notAfter(issuer)) ? 0 : -1;
    return 0;
}

static int
make_cert(const struct cert_spec *s, X509 **out, char *err, size_t errlen)
{
    X509 *x = X509_new();
    X509_NAME *name = make_name(s->cn, s->org);
    X509 *issuer = s->issuer != NULL ? s->issuer : x;
    EVP_PKEY *signer = s->issuer != NULL ? s->issuer_key : s->key;
    int ok;

    *out = NULL;
    ok = x != NULL && name != NULL && X509_set_version(x, X509_VERSION_3) &&
         set_random_serial(x) == 0 && X509_set_subject_name(x, name) &&
         X509_set_issuer_name(x, X509_get_subject_name(issuer)) &&
         set_validity(x, s->issuer, s) == 0 && X509_set_pubkey(x, s->key) &&
         add_extensions(x, issuer, s) == 0 &&
         X509_sign(x, signer, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        return fail(err, errlen, "cannot issue a certificate for %s: %s", s->cn,
                    ssl_reason());
    }
    *out = x;
    return 0;
}

/*
 * Verify cert at now against trusted, with untrusted as the intermediates
 * offered, for purpose and (when not NULL) host. why gets the reason.
 */
static int
verify_cert(X509 *cert, X509 *trusted, X509 *untrusted, int purpose,
            const char *host, time_t now, char *why, size_t whylen)
{
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    pki_cert_stack *chain = sk_X509_new_null();
    X509_VERIFY_PARAM *param;
    int rc = -1;

    if (store == NULL || ctx == NULL || chain == NULL ||
        !X509_STORE_add_cert(store, trusted) ||
        (untrusted != NULL && !sk_X509_push(chain, untrusted)) ||
        !X509_STORE_CTX_init(ctx, store, cert, chain)) {
        fail_ssl(why, whylen, "cannot set up verification");
        goto out;
    }
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, now);
    X509_STORE_CTX_set_purpose(ctx, purpose);
    if (host != NULL && !X509_VERIFY_PARAM_set1_host(param, host, 0)) {
        fail_ssl(why, whylen, "cannot set the host to verify");
        goto out;
    }
    if (X509_verify_cert(ctx) == 1)
        rc = 0;
    else
        fail(why, whylen, "%s",
             X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
    ERR_clear_error();
    sk_X509_free(chain);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

/* 1 when name is a DNS name made of letters, digits, dots and hyphens. */
int
pki_host_name_ok(const char *name)
{
    size_t n = strnlen(name, 254);

    if (n == 0 || n > 253 || name[0] == '.' || name[0] == '-' ||
        name[n - 1] == '.' || strstr(name, "..") != NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static int
client_name_ok(const char *name)
{
    size_t n = strnlen(name, MAX_CLIENT_NAME + 1);

    if (n == 0 || n > MAX_CLIENT_NAME || name[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* ---- the CAs ---- */

static int
ca_paths(const struct pki *p, enum pki_ca which, char *cert, char *key)
{
    const char *f = ca_defs[which].file;

    if (path_fmt(cert, PATH_MAX, "%s/ca/%s.pem", p->dir, f) < 0 ||
        path_fmt(key, PATH_MAX, "%s/ca/%s.key", p->dir, f) < 0)
        return -1;
    return 0;
}

static int
create_ca(struct pki *p, enum pki_ca which, time_t now, const char *cert,
          const char *key, char *err, size_t errlen)
{
    const struct ca_def *d = &ca_defs[which];
    struct cert_spec s = {
        .kind = CERT_CA,
        .cn = d->cn,
        .org = d->org,
        .pathlen = d->issuer < 0 ? -1 : 0,
        .not_before = now - BACKDATE_S,
        .not_after = now + CA_DAYS * DAY_S,
    };

    s.key = p->key[which] = gen_key(p->type);
    if (s.key == NULL)
        return fail_ssl(err, errlen, "cannot generate a key");
    if (d->issuer >= 0) {
        s.issuer = p->cert[d->issuer];
        s.issuer_key = p->key[d->issuer];
    }
    if (make_cert(&s, &p->cert[which], err, errlen) < 0)
        return -1;
    /* The key first: a certificate without its key would block reruns. */
    if (write_key(key, p->key[which], err, errlen) < 0 ||
        write_certs(cert, &p->cert[which], 1, err, errlen) < 0)
        return -1;
    return 0;
}

/* Load a CA that exists and check that it can still do its job. */
static int
load_ca(struct pki *p, enum pki_ca which, const char *cert, const char *key,
        char *err, size_t errlen)
{
    const struct ca_def *d = &ca_defs[which];
    EVP_PKEY *ipub;

    if (load_cert(cert, &p->cert[which], err, errlen) < 0 ||
        load_key(key, &p->key[which], err, errlen) < 0)
        return -1;
    if (X509_check_private_key(p->cert[which], p->key[which]) != 1)
        return fail(err, errlen, "%s: does not match the key in %s", cert, key);
    if (X509_check_ca(p->cert[which]) == 0)
        return fail(err, errlen, "%s: not a CA certificate", cert);
    ipub =
        X509_get0_pubkey(d->issuer >= 0 ? p->cert[d->issuer] : p->cert[which]);
    if (ipub == NULL || X509_verify(p->cert[which], ipub) != 1) {
        ERR_clear_error();
        return fail(err, errlen,
                    "%s: not signed by %s; remove it (and what it issued) "
                    "to issue a new one",
                    cert, d->issuer >= 0 ? ca_defs[d->issuer].file : "itself");
    }
    return 0;
}

static int
ensure_ca(struct pki *p, enum pki_ca which, time_t now, pki_note_fn note,
          void *arg, char *err, size_t errlen)
{
    char cert[PATH_MAX], key[PATH_MAX], why[PATH_MAX + 128] = "";
    int has_cert, has_key;

    if (ca_paths(p, which, cert, key) < 0)
        return fail(err, errlen, "%s: path too long", p->dir);
    has_cert = file_exists(cert);
    has_key = file_exists(key);
    if (has_cert < 0 || has_key < 0)
        return fail(err, errlen, "%s: cannot look at: %s",
                    has_cert < 0 ? cert : key, strerror(errno));
    if (!has_cert && !has_key) {
        if (create_ca(p, which, now, cert, key, err, errlen) < 0)
            return -1;
        notify(note, arg, "wrote", key, "");
        notify(note, arg, "wrote", cert, "");
        return 0;
    }
    /* Half a CA is never completed: that would replace what others trust. */
    if (!has_cert)
        return fail(err, errlen,
                    "%s: missing while its key %s exists; refusing to "
                    "replace a CA",
                    cert, key);
    if (!has_key)
        return fail(err, errlen,
                    "%s: missing while its certificate %s exists; refusing "
                    "to replace a CA",
                    key, cert);
    if (load_ca(p, which, cert, key, err, errlen) < 0) {
        append_err(err, errlen, " (a CA is never overwritten)");
        return -1;
    }
    if (p->type_asked && key_type_of(p->key[which]) != (int)p->type)
        snprintf(why, sizeof(why),
                 "its key is %s, not the %s asked: a CA is never replaced; "
                 "remove %s/ca/ to start a new PKI",
                 key_type_name(key_type_of(p->key[which])),
                 key_type_name(p->type), p->dir);
    notify(note, arg, "kept", key,
           tighten_key_mode(key) > 0 ? "mode set to 0600" : "");
    notify(note, arg, "kept", cert, why);
    return 0;
}

/* Read a small file whole; -1 when it is missing or larger than max. */
static int
read_small(const char *path, unsigned char **out, size_t *len, size_t max)
{
    char *buf;

    if (sse_read_file(path, max, &buf, len) != SSE_READ_OK) {
        *out = NULL;
        return -1;
    }
    *out = (unsigned char *)buf;
    return 0;
}

/* A bundle of CA certificates, rewritten only when its contents change. */
static int
ensure_bundle(const char *path, X509 *const *certs, size_t n, pki_note_fn note,
              void *arg, char *err, size_t errlen)
{
    BIO *b = pem_certs(certs, n);
    BUF_MEM *bm = NULL;
    unsigned char *old = NULL;
    size_t oldlen = 0;
    int rc = 0;

    if (b == NULL)
        return fail_ssl(err, errlen, path);
    BIO_get_mem_ptr(b, &bm);
    if (read_small(path, &old, &oldlen, MAX_PEM_FILE) == 0 &&
        oldlen == bm->length && memcmp(old, bm->data, oldlen) == 0) {
        notify(note, arg, "kept", path, "");
    } else {
        rc = write_file(path, (const unsigned char *)bm->data, bm->length, 0644,
                        err, errlen);
        if (rc == 0)
            notify(note, arg, old != NULL ? "reissued" : "wrote", path,
                   old != NULL ? "its CAs changed" : "");
    }
    free(old);
    BIO_free(b);
    return rc;
}

/* ---- host leaves ---- */

int
pki_leaf_paths(const struct pki *p, const char *host, enum pki_leaf_fault fault,
               char *cert_path, char *key_path, size_t len)
{
    const char *sub = "hosts";
    char faultdir[64];

    if ((unsigned)fault >= PKI_LEAF_FAULT_COUNT || !pki_host_name_ok(host))
        return -1;
    if (fault != PKI_LEAF_OK) {
        snprintf(faultdir, sizeof(faultdir), "faults/%s", fault_names[fault]);
        sub = faultdir;
    }
    if (path_fmt(cert_path, len, "%s/%s/%s.pem", p->dir, sub, host) < 0 ||
        path_fmt(key_path, len, "%s/%s/%s.key", p->dir, sub, host) < 0)
        return -1;
    return 0;
}

/* The profile of a host leaf with fault, on top of the good one. */
static void
leaf_spec(struct pki *p, const char *host, enum pki_leaf_fault fault,
          time_t now, struct cert_spec *s)
{
    s->kind = CERT_SERVER;
    s->cn = host;
    s->dns = host;
    s->not_before = now - BACKDATE_S;
    s->not_after = now + LEAF_DAYS * DAY_S;
    s->issuer = p->cert[PKI_CA_SERVER];
    s->issuer_key = p->key[PKI_CA_SERVER];
    switch (fault) {
    case PKI_LEAF_EXPIRED:
        s->not_before = now - 90 * DAY_S;
        s->not_after = now - DAY_S;
        break;
    case PKI_LEAF_NOT_YET_VALID:
        s->not_before = now + 30 * DAY_S;
        s->not_after = now + 397 * DAY_S;
        break;
    case PKI_LEAF_WRONG_HOST:
        s->cn = WRONG_HOST;
        s->dns = WRONG_HOST;
        break;
    case PKI_LEAF_SELF_SIGNED:
        s->issuer = NULL;
        s->issuer_key = NULL;
        break;
    case PKI_LEAF_UNKNOWN_CA:
        s->issuer = p->cert[PKI_CA_FOREIGN];
        s->issuer_key = p->key[PKI_CA_FOREIGN];
        break;
    case PKI_LEAF_INSPECTED:
        s->issuer = p->cert[PKI_CA_INSPECTION];
        s->issuer_key = p->key[PKI_CA_INSPECTION];
        break;
    default:
        break;
    }
}

int
pki_issue_leaf(struct pki *p, const char *host, enum pki_leaf_fault fault,
               time_t now, const char *cert_path, const char *key_path,
               char *err, size_t errlen)
{
    struct cert_spec s = {0};
    X509 *chain[2] = {NULL, NULL};
    size_t n = 1;
    int rc = -1;

    if ((unsigned)fault >= PKI_LEAF_FAULT_COUNT)
        return fail(err, errlen, "unknown leaf fault %d", (int)fault);
    if (!pki_host_name_ok(host))
        return fail(err, errlen, "\"%.80s\" is not a host name", host);
    leaf_spec(p, host, fault, now, &s);
    s.key = gen_key(p->type);
    if (s.key == NULL)
        return fail_ssl(err, errlen, "cannot generate a key");
    if (make_cert(&s, &chain[0], err, errlen) < 0)
        goto out;
    if (s.issuer == p->cert[PKI_CA_SERVER] &&
        fault != PKI_LEAF_INCOMPLETE_CHAIN)
        chain[n++] = p->cert[PKI_CA_SERVER];
    if (write_key(key_path, s.key, err, errlen) < 0 ||
        write_certs(cert_path, chain, n, err, errlen) < 0)
        goto out;
    rc = 0;
out:
    X509_free(chain[0]);
    EVP_PKEY_free(s.key);
    return rc;
}

int
pki_issue_fault_leaf(struct pki *p, const char *host, enum pki_leaf_fault fault,
                     time_t now, char *err, size_t errlen)
{
    char cert[PATH_MAX], key[PATH_MAX], dir[PATH_MAX];

    if (pki_leaf_paths(p, host, fault, cert, key, sizeof(cert)) < 0)
        return fail(err, errlen, "no leaf path for \"%.80s\" (fault %d)", host,
                    (int)fault);
    if (fault != PKI_LEAF_OK) {
        if (path_fmt(dir, sizeof(dir), "%s/faults", p->dir) < 0 ||
            make_dir(dir, err, errlen) < 0 ||
            path_fmt(dir, sizeof(dir), "%s/faults/%s", p->dir,
                     fault_names[fault]) < 0 ||
            make_dir(dir, err, errlen) < 0)
            return -1;
    }
    return pki_issue_leaf(p, host, fault, now, cert, key, err, errlen);
}

/*
 * 1 when the leaf of host can stay; 0 with why set (or "" when it simply
 * is not there) when it must be issued again.
 */
static int
leaf_still_good(struct pki *p, const char *host, const char *cert,
                const char *key, time_t now, char *why, size_t whylen)
{
    pki_cert_stack *chain = NULL;
    EVP_PKEY *k = NULL;
    X509 *leaf;
    time_t renew = now + LEAF_RENEW_S;
    char reason[160];
    int has_cert = file_exists(cert), has_key = file_exists(key);
    int good = 0;

    why[0] = '\0';
    if (has_cert != 1 || has_key != 1) {
        if (has_cert == 1 || has_key == 1)
            snprintf(why, whylen, "%s missing",
                     has_cert == 1 ? "key" : "certificate");
        return 0;
    }
    if (load_certs(cert, &chain, reason, sizeof(reason)) < 0 ||
        load_key(key, &k, reason, sizeof(reason)) < 0) {
        snprintf(why, whylen, "unreadable: %s", reason);
        goto out;
    }
    leaf = sk_X509_value(chain, 0);
    if (X509_check_private_key(leaf, k) != 1)
        snprintf(why, whylen, "certificate and key do not match");
    else if (p->type_asked && key_type_of(k) != (int)p->type)
        snprintf(why, whylen, "its key is %s, not the %s asked",
                 key_type_name(key_type_of(k)), key_type_name(p->type));
    else if (verify_cert(leaf, p->cert[PKI_CA_ROOT], p->cert[PKI_CA_SERVER],
                         X509_PURPOSE_SSL_SERVER, host, now, reason,
                         sizeof(reason)) < 0)
        snprintf(why, whylen, "does not verify against the server CA: %s",
                 reason);
    else if (X509_cmp_time(X509_get0_notAfter(leaf), &renew) <= 0)
        snprintf(why, whylen, "expires within 30 days");
    else
        good = 1;
out:
    ERR_clear_error();
    EVP_PKEY_free(k);
    sk_X509_pop_free(chain, X509_free);
    return good;
}

static int
ensure_leaf(struct pki *p, const char *host, time_t now, pki_note_fn note,
            void *arg, char *err, size_t errlen)
{
    char cert[PATH_MAX], key[PATH_MAX], why[256];

    if (pki_leaf_paths(p, host, PKI_LEAF_OK, cert, key, sizeof(cert)) < 0)
        return fail(err, errlen, "%s: no path for host %s", p->dir, host);
    if (leaf_still_good(p, host, cert, key, now, why, sizeof(why))) {
        notify(note, arg, "kept", key,
               tighten_key_mode(key) > 0 ? "mode set to 0600" : "");
        notify(note, arg, "kept", cert, "");
        return 0;
    }
    if (pki_issue_leaf(p, host, PKI_LEAF_OK, now, cert, key, err, errlen) < 0)
        return -1;
    notify(note, arg, why[0] != '\0' ? "reissued" : "wrote", key, why);
    notify(note, arg, why[0] != '\0' ? "reissued" : "wrote", cert, why);
    return 0;
}

/* ---- the layout ---- */

static struct pki *
pki_new(const char *dir, enum pki_key_type type, char *err, size_t errlen)
{
    struct pki *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    if (path_fmt(p->dir, sizeof(p->dir), "%s", dir) < 0 ||
        path_fmt(p->device_trust, sizeof(p->device_trust),
                 "%s/ca/device-trust.pem", dir) < 0 ||
        path_fmt(p->connector_ca, sizeof(p->connector_ca), "%s/connectorCA.pem",
                 dir) < 0) {
        fail(err, errlen, "%s: path too long", dir);
        free(p);
        return NULL;
    }
    p->type_asked = type == PKI_KEY_RSA_2048 || type == PKI_KEY_EC_P256;
    p->type = type == PKI_KEY_RSA_2048 ? PKI_KEY_RSA_2048 : PKI_KEY_EC_P256;
    p->device_validity_s = PKI_DEVICE_VALIDITY_S;
    return p;
}

/* mkdir -p: the directory and any parent that is missing. */
static int
make_dir_parents(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];

    if (path_fmt(path, sizeof(path), "%s", dir) < 0)
        return fail(err, errlen, "%s: path too long", dir);
    for (char *s = strchr(path + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (make_dir(path, err, errlen) < 0)
            return -1;
        *s = '/';
    }
    return make_dir(path, err, errlen);
}

static int
make_layout_dirs(const struct pki *p, char *err, size_t errlen)
{
    static const char *const subs[] = {"ca", "hosts"};
    char path[PATH_MAX];

    if (make_dir_parents(p->dir, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
        if (path_fmt(path, sizeof(path), "%s/%s", p->dir, subs[i]) < 0)
            return fail(err, errlen, "%s: path too long", p->dir);
        if (make_dir(path, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int
pki_ensure_noted(struct pki **out, const char *dir, enum pki_key_type type,
                 time_t now, pki_note_fn note, void *arg, char *err,
                 size_t errlen)
{
    struct pki *p;
    X509 *trust[2];
    size_t nhosts;
    const struct sse_host *hosts = sse_hosts(&nhosts);

    *out = NULL;
    p = pki_new(dir, type, err, errlen);
    if (p == NULL)
        return -1;
    if (make_layout_dirs(p, err, errlen) < 0)
        goto fail;
    for (int i = 0; i < PKI_CA_COUNT; i++) {
        if (ensure_ca(p, (enum pki_ca)i, now, note, arg, err, errlen) < 0)
            goto fail;
        /* Not asked: what is issued follows the root that exists. */
        if (i == PKI_CA_ROOT && !p->type_asked &&
            key_type_of(p->key[PKI_CA_ROOT]) >= 0)
            p->type = (enum pki_key_type)key_type_of(p->key[PKI_CA_ROOT]);
    }
    trust[0] = p->cert[PKI_CA_DEVICE];
    trust[1] = p->cert[PKI_CA_ROOT];
    if (ensure_bundle(p->device_trust, trust, 2, note, arg, err, errlen) < 0 ||
        ensure_bundle(p->connector_ca, &p->cert[PKI_CA_ROOT], 1, note, arg, err,
                      errlen) < 0)
        goto fail;
    for (size_t i = 0; i < nhosts; i++)
        if (ensure_leaf(p, hosts[i].name, now, note, arg, err, errlen) < 0)
            goto fail;
    *out = p;
    return 0;
fail:
    pki_free(p);
    return -1;
}

int
pki_ensure(struct pki **out, const char *dir, enum pki_key_type type,
           time_t now, char *err, size_t errlen)
{
    return pki_ensure_noted(out, dir, type, now, NULL, NULL, err, errlen);
}

void
pki_free(struct pki *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < PKI_CA_COUNT; i++) {
        X509_free(p->cert[i]);
        EVP_PKEY_free(p->key[i]);
    }
    free(p);
}

const char *
pki_dir(const struct pki *p)
{
    return p->dir;
}

enum pki_key_type
pki_key_type(const struct pki *p)
{
    return p->type;
}

int
pki_key_type_parse(const char *name)
{
    if (strcmp(name, "ec") == 0)
        return PKI_KEY_EC_P256;
    if (strcmp(name, "rsa") == 0)
        return PKI_KEY_RSA_2048;
    return -1;
}

X509 *
pki_ca_cert(const struct pki *p, enum pki_ca which)
{
    if ((unsigned)which >= PKI_CA_COUNT)
        return NULL;
    return p->cert[which];
}

const char *
pki_device_trust_path(const struct pki *p)
{
    return p->device_trust;
}

const char *
pki_connector_ca_path(const struct pki *p)
{
    return p->connector_ca;
}

const char *
pki_leaf_fault_name(enum pki_leaf_fault fault)
{
    if ((unsigned)fault >= PKI_LEAF_FAULT_COUNT)
        return "unknown";
    return fault_names[fault];
}

int
pki_leaf_fault_parse(const char *name)
{
    for (int i = 0; i < PKI_LEAF_FAULT_COUNT; i++)
        if (strcmp(name, fault_names[i]) == 0)
            return i;
    return -1;
}

/* ---- device certificates ---- */

long
pki_device_validity(const struct pki *p)
{
    return p->device_validity_s;
}

void
pki_set_device_validity(struct pki *p, long seconds)
{
    p->device_validity_s = seconds > 0 ? seconds : PKI_DEVICE_VALIDITY_S;
}

static int
issue_device(struct pki *p, EVP_PKEY *pub, const char *cn, const char *org,
             long validity_s, time_t now, X509 **out, char *err, size_t errlen)
{
    struct cert_spec s = {
        .kind = CERT_CLIENT,
        .cn = cn,
        .org = org,
        .not_before = now - DEVICE_BACKDATE_S,
        .not_after = now + validity_s,
        .key = pub,
        .issuer = p->cert[PKI_CA_DEVICE],
        .issuer_key = p->key[PKI_CA_DEVICE],
    };

    *out = NULL;
    if (validity_s <= 0)
        return fail(err, errlen, "validity of %ld seconds", validity_s);
    if (cn == NULL || cn[0] == '\0')
        return fail(err, errlen, "a device certificate needs a common name");
    return make_cert(&s, out, err, errlen);
}

int
pki_issue_device_cert(struct pki *p, X509_REQ *csr, const char *cn,
                      const char *org, long validity_s, time_t now, X509 **out,
                      char *err, size_t errlen)
{
    EVP_PKEY *pub = X509_REQ_get0_pubkey(csr);

    *out = NULL;
    if (pub == NULL)
        return fail(err, errlen, "the request carries no public key");
    return issue_device(p, pub, cn, org, validity_s, now, out, err, errlen);
}

int
pki_verify_device_cert(const struct pki *p, X509 *cert, time_t now, char *err,
                       size_t errlen)
{
    char why[160];

    if (verify_cert(cert, p->cert[PKI_CA_ROOT], p->cert[PKI_CA_DEVICE],
                    X509_PURPOSE_SSL_CLIENT, NULL, now, why, sizeof(why)) < 0)
        return fail(err, errlen, "not a valid device certificate: %s", why);
    /* The root alone would also accept what the server CA issued. */
    if (X509_check_issued(p->cert[PKI_CA_DEVICE], cert) != X509_V_OK)
        return fail(err, errlen, "not issued by the device CA");
    return 0;
}

int
pki_client_paths(const struct pki *p, const char *name, char *cert_path,
                 char *key_path, size_t len)
{
    if (!client_name_ok(name) ||
        path_fmt(cert_path, len, "%s/clients/%s.pem", p->dir, name) < 0 ||
        path_fmt(key_path, len, "%s/clients/%s.key", p->dir, name) < 0)
        return -1;
    return 0;
}

int
pki_issue_client(struct pki *p, const char *name, time_t now, char *err,
                 size_t errlen)
{
    char cert[PATH_MAX], key[PATH_MAX], dir[PATH_MAX];
    EVP_PKEY *k = NULL;
    X509 *chain[2] = {NULL, p->cert[PKI_CA_DEVICE]};
    int rc = -1;

    if (pki_client_paths(p, name, cert, key, sizeof(cert)) < 0)
        return fail(err, errlen,
                    "\"%.80s\": a client name is 1 to %d letters, digits, "
                    "dots, hyphens or underscores",
                    name, MAX_CLIENT_NAME);
    if (path_fmt(dir, sizeof(dir), "%s/clients", p->dir) < 0 ||
        make_dir(dir, err, errlen) < 0)
        return -1;
    k = gen_key(p->type);
    if (k == NULL)
        return fail_ssl(err, errlen, "cannot generate a key");
    if (issue_device(p, k, name, NULL, p->device_validity_s, now, &chain[0],
                     err, errlen) < 0)
        goto out;
    if (write_key(key, k, err, errlen) < 0 ||
        write_certs(cert, chain, 2, err, errlen) < 0)
        goto out;
    rc = 0;
out:
    X509_free(chain[0]);
    EVP_PKEY_free(k);
    return rc;
}

/* ---- encodings ---- */

int
pki_b64_encode(const unsigned char *in, size_t len, char **out, size_t *outlen)
{
    EVP_ENCODE_CTX *ctx;
    char *buf;
    int n = 0, fin = 0;

    *out = NULL;
    if (len > INT_MAX / 2)
        return -1;
    buf = malloc((size_t)EVP_ENCODE_LENGTH(len) + 1);
    ctx = EVP_ENCODE_CTX_new();
    if (buf == NULL || ctx == NULL) {
        free(buf);
        EVP_ENCODE_CTX_free(ctx);
        return -1;
    }
    EVP_EncodeInit(ctx);
    if (EVP_EncodeUpdate(ctx, (unsigned char *)buf, &n, in, (int)len) != 1 &&
        len > 0) {
        EVP_ENCODE_CTX_free(ctx);
        free(buf);
        return -1;
    }
    EVP_EncodeFinal(ctx, (unsigned char *)buf + n, &fin);
    EVP_ENCODE_CTX_free(ctx);
    buf[n + fin] = '\0';
    *out = buf;
    if (outlen != NULL)
        *outlen = (size_t)(n + fin);
    return 0;
}

int
pki_b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
    EVP_ENCODE_CTX *ctx;
    unsigned char *buf;
    int n = 0, fin = 0;

    *out = NULL;
    if (len > INT_MAX)
        return -1;
    buf = malloc((len + 3) / 4 * 3 + 1);
    ctx = EVP_ENCODE_CTX_new();
    if (buf == NULL || ctx == NULL) {
        free(buf);
        EVP_ENCODE_CTX_free(ctx);
        return -1;
    }
    EVP_DecodeInit(ctx);
    if (EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *)in, (int)len) <
            0 ||
        EVP_DecodeFinal(ctx, buf + n, &fin) < 0) {
        EVP_ENCODE_CTX_free(ctx);
        OPENSSL_cleanse(buf, (len + 3) / 4 * 3 + 1);
        free(buf);
        return -1;
    }
    EVP_ENCODE_CTX_free(ctx);
    *out = buf;
    *outlen = (size_t)(n + fin);
    return 0;
}

int
pki_pkcs7_certs_b64(X509 *const *certs, size_t n, char **out, size_t *outlen,
                    char *err, size_t errlen)
{
    PKCS7 *p7 = PKCS7_new();
    unsigned char *der = NULL;
    int len = -1, ok;

    *out = NULL;
    ok = p7 != NULL && PKCS7_set_type(p7, NID_pkcs7_signed) &&
         PKCS7_content_new(p7, NID_pkcs7_data);
    for (size_t i = 0; ok && i < n; i++)
        ok = PKCS7_add_certificate(p7, certs[i]);
    /* certs-only carries no content at all (RFC 5652 degenerate form). */
    if (ok)
        PKCS7_set_detached(p7, 1);
    if (ok)
        len = i2d_PKCS7(p7, &der);
    PKCS7_free(p7);
    if (len <= 0)
        return fail_ssl(err, errlen, "cannot encode PKCS#7");
    ok = pki_b64_encode(der, (size_t)len, out, outlen) == 0;
    OPENSSL_free(der);
    return ok ? 0 : fail(err, errlen, "cannot encode base64");
}

int
pki_pkcs7_certs_parse(const char *b64, size_t len, pki_cert_stack **out,
                      char *err, size_t errlen)
{
    unsigned char *der = NULL;
    const unsigned char *q;
    size_t derlen = 0;
    PKCS7 *p7 = NULL;
    pki_cert_stack *certs = NULL, *sk = NULL;
    int rc = -1;

    *out = NULL;
    if (pki_b64_decode(b64, len, &der, &derlen) < 0 || derlen == 0 ||
        derlen > LONG_MAX)
        return fail(err, errlen, "PKCS#7: not base64");
    q = der;
    p7 = d2i_PKCS7(NULL, &q, (long)derlen);
    if (p7 == NULL) {
        fail_ssl(err, errlen, "PKCS#7: not DER");
        goto out;
    }
    if (!PKCS7_type_is_signed(p7) || p7->d.sign == NULL) {
        fail(err, errlen, "PKCS#7: not SignedData");
        goto out;
    }
    certs = p7->d.sign->cert;
    sk = sk_X509_new_null();
    for (int i = 0; sk != NULL && i < sk_X509_num(certs); i++) {
        X509 *x = sk_X509_value(certs, i);

        if (!X509_up_ref(x) || sk_X509_push(sk, x) <= 0) {
            X509_free(x);
            break;
        }
    }
    if (sk == NULL || sk_X509_num(sk) == 0 ||
        sk_X509_num(sk) != sk_X509_num(certs)) {
        fail(err, errlen, "PKCS#7: no certificates");
        sk_X509_pop_free(sk, X509_free);
        goto out;
    }
    *out = sk;
    rc = 0;
out:
    PKCS7_free(p7);
    free(der);
    return rc;
}

/* Where needle starts in hay, or NULL. */
static const unsigned char *
find_bytes(const unsigned char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return hay + i;
    return NULL;
}

/* The base64 between PEM armour lines, or all of data without them. */
static void
strip_armour(const unsigned char *data, size_t len, const char **b64,
             size_t *b64len)
{
    const unsigned char *begin = find_bytes(data, len, "-----BEGIN");
    const unsigned char *end, *nl;

    *b64 = (const char *)data;
    *b64len = len;
    if (begin == NULL)
        return;
    nl = memchr(begin, '\n', len - (size_t)(begin - data));
    if (nl == NULL)
        return;
    nl++;
    end = find_bytes(nl, len - (size_t)(nl - data), "-----END");
    *b64 = (const char *)nl;
    *b64len = (end != NULL ? end : data + len) - nl;
}

static int
csr_key_ok(EVP_PKEY *k, char *err, size_t errlen)
{
    char group[64] = "";

    if (EVP_PKEY_is_a(k, "RSA")) {
        if (EVP_PKEY_get_bits(k) < 2048)
            return fail(err, errlen, "RSA key of %d bits, 2048 at least",
                        EVP_PKEY_get_bits(k));
        return 0;
    }
    if (EVP_PKEY_is_a(k, "EC")) {
        EVP_PKEY_get_group_name(k, group, sizeof(group), NULL);
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "secp384r1") == 0)
            return 0;
        return fail(err, errlen, "EC key on curve %s, P-256 or P-384 only",
                    group[0] != '\0' ? group : "unknown");
    }
    return fail(err, errlen, "%s key, EC or RSA only",
                EVP_PKEY_get0_type_name(k) != NULL ? EVP_PKEY_get0_type_name(k)
                                                   : "unknown");
}

static X509_REQ *
csr_from_der(const unsigned char *der, size_t len)
{
    const unsigned char *q = der;
    X509_REQ *req;

    if (len == 0 || len > LONG_MAX)
        return NULL;
    req = d2i_X509_REQ(NULL, &q, (long)len);
    if (req != NULL && q != der + len) {
        X509_REQ_free(req);
        return NULL;
    }
    return req;
}

int
pki_csr_decode(const unsigned char *data, size_t len, X509_REQ **out, char *err,
               size_t errlen)
{
    unsigned char *der = NULL;
    size_t derlen = 0;
    const char *b64;
    size_t b64len;
    X509_REQ *req = NULL;
    EVP_PKEY *k;

    *out = NULL;
    if (len == 0)
        return fail(err, errlen, "empty request");
    /* Base64 of DER starts with 'M'; a 0x30 byte can only be raw DER. */
    if (data[0] == 0x30)
        req = csr_from_der(data, len);
    if (req == NULL) {
        strip_armour(data, len, &b64, &b64len);
        if (pki_b64_decode(b64, b64len, &der, &derlen) < 0 || derlen == 0)
            return fail(err, errlen, "request is not base64");
        req = csr_from_der(der, derlen);
        free(der);
    }
    if (req == NULL)
        return fail(err, errlen, "not a DER PKCS#10 request (%s)",
                    ssl_reason());
    k = X509_REQ_get0_pubkey(req);
    if (k == NULL) {
        X509_REQ_free(req);
        return fail(err, errlen, "request carries no usable public key (%s)",
                    ssl_reason());
    }
    if (csr_key_ok(k, err, errlen) < 0) {
        X509_REQ_free(req);
        return -1;
    }
    if (X509_REQ_verify(req, k) != 1) {
        X509_REQ_free(req);
        ERR_clear_error();
        return fail(err, errlen, "request signature does not verify");
    }
    *out = req;
    return 0;
}

/* An ASN1_TYPE holding the DER of an X509_ATTRIBUTE type/value pair. */
static ASN1_TYPE *
attr_type(int type_nid, int value_nid)
{
    X509_ATTRIBUTE *a =
        X509_ATTRIBUTE_create(type_nid, V_ASN1_OBJECT, OBJ_nid2obj(value_nid));
    ASN1_TYPE *t = ASN1_TYPE_new();
    ASN1_STRING *s = ASN1_STRING_new();
    unsigned char *der = NULL;
    int len = a != NULL ? i2d_X509_ATTRIBUTE(a, &der) : -1;

    X509_ATTRIBUTE_free(a);
    if (t == NULL || s == NULL || len <= 0 || !ASN1_STRING_set(s, der, len)) {
        ASN1_TYPE_free(t);
        ASN1_STRING_free(s);
        OPENSSL_free(der);
        return NULL;
    }
    OPENSSL_free(der);
    /* A SEQUENCE in an ASN1_TYPE is kept as its whole encoding. */
    ASN1_TYPE_set(t, V_ASN1_SEQUENCE, s);
    return t;
}

static ASN1_TYPE *
oid_type(int nid)
{
    ASN1_TYPE *t = ASN1_TYPE_new();

    if (t != NULL)
        ASN1_TYPE_set(t, V_ASN1_OBJECT, OBJ_nid2obj(nid));
    return t;
}

int
pki_csrattrs_b64(const struct pki *p, char **out, size_t *outlen, char *err,
                 size_t errlen)
{
    ASN1_SEQUENCE_ANY *seq = sk_ASN1_TYPE_new_null();
    ASN1_TYPE *t[2];
    unsigned char *der = NULL;
    int len = -1, ok = seq != NULL;

    *out = NULL;
    if (p->type == PKI_KEY_RSA_2048) {
        t[0] = oid_type(NID_sha256WithRSAEncryption);
        t[1] = oid_type(NID_rsaEncryption);
    } else {
        t[0] = oid_type(NID_ecdsa_with_SHA256);
        t[1] = attr_type(NID_X9_62_id_ecPublicKey, NID_X9_62_prime256v1);
    }
    for (int i = 0; i < 2; i++) {
        if (ok && t[i] != NULL && sk_ASN1_TYPE_push(seq, t[i]) > 0)
            continue;
        ok = 0;
        ASN1_TYPE_free(t[i]);
    }
    if (ok)
        len = i2d_ASN1_SEQUENCE_ANY(seq, &der);
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    if (len <= 0)
        return fail_ssl(err, errlen, "cannot encode CSR attributes");
    ok = pki_b64_encode(der, (size_t)len, out, outlen) == 0;
    OPENSSL_free(der);
    return ok ? 0 : fail(err, errlen, "cannot encode base64");
}

int
pki_fingerprint_sha256(X509 *cert, char *buf, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (len < PKI_FINGERPRINT_LEN || !X509_digest(cert, EVP_sha256(), md, &n))
        return -1;
    for (unsigned int i = 0; i < n; i++)
        snprintf(buf + 3 * i, len - 3 * i, i + 1 < n ? "%02X:" : "%02X", md[i]);
    return 0;
}
