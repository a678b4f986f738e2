/*
 * test_conn_tlsalert.c: a TLS alert from the server in words, with the
 * client certificate the connector offered or the fact that it offered
 * none.
 */
#include <check.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tlsalert.h"

#define FATAL(desc) ((SSL3_AL_FATAL << 8) | (desc))

/* A client SSL, holding a certificate for CN=device-1 issued by
 * CN=Test Device CA (signed by its own key: only the names matter). */
static SSL *
client_ssl(SSL_CTX **ctx, bool with_cert)
{
    *ctx = SSL_CTX_new(TLS_client_method());
    ck_assert_ptr_nonnull(*ctx);
    if (with_cert) {
        EVP_PKEY *key = EVP_EC_gen("P-256");
        X509 *cert = X509_new();
        X509_NAME *subject = X509_get_subject_name(cert);
        X509_NAME *issuer = X509_NAME_new();

        ck_assert_ptr_nonnull(key);
        X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                   (const unsigned char *)"device-1", -1, -1,
                                   0);
        X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_ASC,
                                   (const unsigned char *)"Test Device CA", -1,
                                   -1, 0);
        X509_set_issuer_name(cert, issuer);
        ASN1_TIME_set_string(X509_getm_notBefore(cert), "20260101000000Z");
        ASN1_TIME_set_string(X509_getm_notAfter(cert), "20271204053844Z");
        X509_set_pubkey(cert, key);
        ck_assert_int_gt(X509_sign(cert, key, EVP_sha256()), 0);
        ck_assert_int_eq(SSL_CTX_use_certificate(*ctx, cert), 1);
        ck_assert_int_eq(SSL_CTX_use_PrivateKey(*ctx, key), 1);
        X509_NAME_free(issuer);
        X509_free(cert);
        EVP_PKEY_free(key);
    }
    return SSL_new(*ctx);
}

START_TEST(fatal_alerts_read_from_the_peer_only)
{
    ck_assert(
        tlsalert_is_fatal_read(SSL_CB_READ_ALERT, FATAL(SSL_AD_UNKNOWN_CA)));
    ck_assert(
        !tlsalert_is_fatal_read(SSL_CB_WRITE_ALERT, FATAL(SSL_AD_UNKNOWN_CA)));
    ck_assert(!tlsalert_is_fatal_read(
        SSL_CB_READ_ALERT, (SSL3_AL_WARNING << 8) | SSL_AD_CLOSE_NOTIFY));
    ck_assert(!tlsalert_is_fatal_read(SSL_CB_HANDSHAKE_DONE, 0));
}
END_TEST

START_TEST(refused_certificate_is_named_with_its_expiry)
{
    SSL_CTX *ctx;
    SSL *ssl = client_ssl(&ctx, true);
    char buf[400];

    ck_assert_str_eq(
        tlsalert_describe(ssl, FATAL(SSL_AD_UNKNOWN_CA), buf, sizeof(buf)),
        "the server sent alert \"unknown CA\": it refused the client "
        "certificate we offered (subject /CN=device-1, issuer /CN=Test "
        "Device CA, notAfter 2027-12-04T05:38:44Z)");
    SSL_free(ssl);
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(certificate_required_without_one_says_none_was_offered)
{
    SSL_CTX *ctx;
    SSL *ssl = client_ssl(&ctx, false);
    char buf[400];

    /* TLS 1.3's certificate_required (116), unnamed in OpenSSL 3.0. */
    ck_assert_str_eq(tlsalert_describe(ssl, FATAL(116), buf, sizeof(buf)),
                     "the server sent alert \"certificate required\": it "
                     "wants a client certificate and we offered none");
    SSL_free(ssl);
    SSL_CTX_free(ctx);
}
END_TEST

START_TEST(other_alerts_are_named_alone)
{
    SSL_CTX *ctx;
    SSL *ssl = client_ssl(&ctx, true);
    char buf[400];

    ck_assert_str_eq(
        tlsalert_describe(ssl, FATAL(SSL_AD_DECODE_ERROR), buf, sizeof(buf)),
        "the server sent alert \"decode error\"");
    /* Cut to the buffer, never past it. */
    ck_assert_str_eq(
        tlsalert_describe(ssl, FATAL(SSL_AD_DECODE_ERROR), buf, 11),
        "the server");
    SSL_free(ssl);
    SSL_CTX_free(ctx);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("tlsalert");
    TCase *tc = tcase_create("describe");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, fatal_alerts_read_from_the_peer_only);
    tcase_add_test(tc, refused_certificate_is_named_with_its_expiry);
    tcase_add_test(tc, certificate_required_without_one_says_none_was_offered);
    tcase_add_test(tc, other_alerts_are_named_alone);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
