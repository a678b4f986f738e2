/*
 * pki.h: sselab's private PKI, built with OpenSSL's API.
 *
 * Layout under a directory (DESIGN §5, certs/README.md):
 *   ca/root.pem ca/root.key             the private root
 *   ca/server-ca.pem ca/server-ca.key   issues the emulated hosts' leaves
 *   ca/device-ca.pem ca/device-ca.key   issues what est enrols
 *   ca/device-trust.pem                 device CA then root (for mTLS)
 *   ca/foreign-root.pem .key            a root nobody trusts (inspection)
 *   ca/inspection-ca.pem .key           the emulated proxy's own root
 *   hosts/<host>.pem hosts/<host>.key   leaf then server CA, every host
 *   connectorCA.pem                     the root only
 *   faults/<fault>/<host>.pem .key      faulty leaves, issued on demand
 *   clients/<name>.pem .key             device certificates issued directly
 * Keys are written mode 0600. Functions return 0 or -1 with a message in
 * err; none prints or exits. Every function that issues or checks takes the
 * cloud's clock as now.
 *
 * Ownership: a struct pki owns its CA certificates and keys; the X509
 * pointers it hands out are borrowed and live as long as it does. What comes
 * back through an out-parameter belongs to the caller: X509 with X509_free,
 * pki_cert_stack (STACK_OF(X509)) with sk_X509_pop_free(.., X509_free),
 * X509_REQ with X509_REQ_free, char and unsigned char buffers with free. A
 * struct pki is not thread-safe: one thread at a time uses it.
 */
#ifndef SSE_PKI_H
#define SSE_PKI_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum pki_key_type {
    PKI_KEY_EC_P256 = 0,
    PKI_KEY_RSA_2048,
    /* Not asked: the root's type where a root exists, else EC P-256. */
    PKI_KEY_AUTO,
};

/* The certification authorities of the layout. */
enum pki_ca {
    PKI_CA_ROOT = 0,
    PKI_CA_SERVER,
    PKI_CA_DEVICE,
    PKI_CA_FOREIGN,    /* self-signed, trusted by nothing */
    PKI_CA_INSPECTION, /* self-signed: the emulated proxy re-signs with it */
    PKI_CA_COUNT,
};

/* A host leaf as the layout keeps it, or one of the faulty kinds. */
enum pki_leaf_fault {
    PKI_LEAF_OK = 0,           /* "none": the good leaf of hosts/ */
    PKI_LEAF_EXPIRED,          /* "expired": ended a day ago */
    PKI_LEAF_NOT_YET_VALID,    /* "not-yet-valid": starts in 30 days */
    PKI_LEAF_WRONG_HOST,       /* "wrong-host": names another host */
    PKI_LEAF_SELF_SIGNED,      /* "self-signed": its own issuer */
    PKI_LEAF_UNKNOWN_CA,       /* "unknown-ca": by the foreign root */
    PKI_LEAF_INCOMPLETE_CHAIN, /* "incomplete-chain": no server CA sent */
    PKI_LEAF_INSPECTED,        /* "inspected": by the inspection CA */
    PKI_LEAF_FAULT_COUNT,
};

/* Lifetime of what est issues unless told otherwise: 365 days. */
#define PKI_DEVICE_VALIDITY_S (365L * 86400L)
/* "AB:CD:..." of a SHA-256 digest, with its terminating NUL. */
#define PKI_FINGERPRINT_LEN 96

struct pki;

/* OpenSSL's stack of certificates, under a name that formatters can read. */
typedef STACK_OF(X509) pki_cert_stack;

/*
 * Told about every file pki_ensure_noted looks after: action is "wrote",
 * "kept" or "reissued"; why says what made it act, "" when nothing did.
 */
typedef void (*pki_note_fn)(void *arg, const char *action, const char *path,
                            const char *why);

/*
 * Load the layout from dir, creating whatever is missing. Existing CAs are
 * kept (same fingerprint); missing or unusable leaves are issued again.
 */
int pki_ensure(struct pki **out, const char *dir, enum pki_key_type type,
               time_t now, char *err, size_t errlen);
/*
 * pki_ensure, telling note (when not NULL) what it did to each file. A CA
 * that exists but cannot be read, or whose certificate or key is missing,
 * is an error: it is never overwritten. A leaf is reissued when missing,
 * unreadable, not verifying against the current server CA, expiring
 * within 30 days, or when type was asked (not PKI_KEY_AUTO) and its key
 * is of another type. A CA whose key is of another type than asked is
 * kept all the same, and the note says so.
 */
int pki_ensure_noted(struct pki **out, const char *dir, enum pki_key_type type,
                     time_t now, pki_note_fn note, void *arg, char *err,
                     size_t errlen);
void pki_free(struct pki *p);
const char *pki_dir(const struct pki *p);
/* Type of the keys the struct issues from now on (never PKI_KEY_AUTO). */
enum pki_key_type pki_key_type(const struct pki *p);
/* "ec" or "rsa"; -1 when unknown. */
int pki_key_type_parse(const char *name);

/* A CA certificate, borrowed. */
X509 *pki_ca_cert(const struct pki *p, enum pki_ca which);
/* ca/device-trust.pem and connectorCA.pem. */
const char *pki_device_trust_path(const struct pki *p);
const char *pki_connector_ca_path(const struct pki *p);

const char *pki_leaf_fault_name(enum pki_leaf_fault fault);
/* The fault of a name as pki_leaf_fault_name gives it; -1 when unknown. */
int pki_leaf_fault_parse(const char *name);
/* 1 when name can be a host in a certificate and a file name. */
int pki_host_name_ok(const char *name);

/*
 * Where the layout keeps the leaf of host: hosts/ for PKI_LEAF_OK,
 * faults/<fault>/ otherwise. Both buffers hold len bytes.
 */
int pki_leaf_paths(const struct pki *p, const char *host,
                   enum pki_leaf_fault fault, char *cert_path, char *key_path,
                   size_t len);
/*
 * Issue a fresh key and leaf for host, as fault says, and write them: the
 * certificate file holds the leaf then the server CA, except for the
 * self-signed, unknown-ca and incomplete-chain faults (the leaf alone).
 * Directories are not created.
 */
int pki_issue_leaf(struct pki *p, const char *host, enum pki_leaf_fault fault,
                   time_t now, const char *cert_path, const char *key_path,
                   char *err, size_t errlen);
/* pki_issue_leaf into the layout's paths, creating faults/<fault>/. */
int pki_issue_fault_leaf(struct pki *p, const char *host,
                         enum pki_leaf_fault fault, time_t now, char *err,
                         size_t errlen);

/* Lifetime of what est issues, seconds; PKI_DEVICE_VALIDITY_S at first. */
long pki_device_validity(const struct pki *p);
void pki_set_device_validity(struct pki *p, long seconds);
/*
 * A device certificate for the key of csr (which pki_csr_decode checked):
 * issued by the device CA, clientAuth, subject O=org (when not NULL) and
 * CN=cn whatever the request asked, valid from a minute before now for
 * validity_s seconds.
 */
int pki_issue_device_cert(struct pki *p, X509_REQ *csr, const char *cn,
                          const char *org, long validity_s, time_t now,
                          X509 **out, char *err, size_t errlen);
/* 0 when cert was issued by the device CA and is valid at now. */
int pki_verify_device_cert(const struct pki *p, X509 *cert, time_t now,
                           char *err, size_t errlen);
/*
 * A device certificate with CN=name and a fresh key, straight from the
 * device CA, written to clients/<name>.pem (leaf then device CA) and .key.
 */
int pki_issue_client(struct pki *p, const char *name, time_t now, char *err,
                     size_t errlen);
int pki_client_paths(const struct pki *p, const char *name, char *cert_path,
                     char *key_path, size_t len);

/* Base64 in lines of 64 characters, each ending in '\n'; NUL-terminated. */
int pki_b64_encode(const unsigned char *in, size_t len, char **out,
                   size_t *outlen);
/* Base64 with any line breaks and spaces; -1 when it is not base64. */
int pki_b64_decode(const char *in, size_t len, unsigned char **out,
                   size_t *outlen);
/*
 * PKCS#7 certs-only (degenerate SignedData, no signers) holding certs, as
 * base64 with line breaks.
 */
int pki_pkcs7_certs_b64(X509 *const *certs, size_t n, char **out,
                        size_t *outlen, char *err, size_t errlen);
/* The certificates of a base64 PKCS#7 certs-only document. */
int pki_pkcs7_certs_parse(const char *b64, size_t len, pki_cert_stack **out,
                          char *err, size_t errlen);
/*
 * A PKCS#10 request from base64 DER (PEM armour and raw DER tolerated),
 * with its key (EC P-256 or P-384, RSA of 2048 bits or more) and its
 * signature checked. err says what is wrong with it.
 */
int pki_csr_decode(const unsigned char *data, size_t len, X509_REQ **out,
                   char *err, size_t errlen);
/*
 * RFC 7030 CSR attributes for the keys this PKI issues, DER then base64:
 * the signature algorithm and the key's algorithm (with its curve for EC).
 */
int pki_csrattrs_b64(const struct pki *p, char **out, size_t *outlen, char *err,
                     size_t errlen);
/* SHA-256 of cert's DER as "AB:CD:...", into PKI_FINGERPRINT_LEN bytes. */
int pki_fingerprint_sha256(X509 *cert, char *buf, size_t len);

#endif
