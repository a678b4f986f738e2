/*
 * test_conn_api.c: the connector's local REST API (connector/api.c),
 * driven over loopback with libcurl, as the FMC and the Splunk relay drive
 * the real one. Each test gets its own connector (no lws context: conn_wake
 * copes), API on port 0 and log file, and checks the state behind the
 * answer, not only the HTTP status.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "api.h"
#include "certwatch.h"
#include "log.h"
#include "state.h"

#define BODY_MAX (1024 * 1024)

static const char token[] = "Zq7RkT2mWx9LpB4nVc6HsJ8dFg3YtA5e";
static const char context_text[] =
    "{\"clientInfo\":{\"version\":\"7.4.1-172\","
    "\"description\":\"Cisco Secure Firewall Management Center\","
    "\"name\":\"fmc-lab\",\"guid\":\"6f1c2a8e-3b1d-4a59-9e0c-1d2f3a4b5c6d\","
    "\"type\":\"FMC\",\"ip\":\"192.0.2.10\"},"
    "\"settings\":{\"client\":{\"administration\":{\"enabled\":true},"
    "\"statusCallback\":{\"uri\":\"http://127.0.0.1:8080/status\"}},"
    "\"exchange\":{\"fqdn\":\"api-sse.cisco.com\","
    "\"registration\":{\"refreshInterval\":3600}},"
    "\"events\":{\"uri\":\"ipc:///ngfw/var/sf/run/"
    "EventHandler_SSEConnector.sock\",\"type\":\"ZMQ_PUSH\"},"
    "\"fileUpload\":{\"enabled\":false}}}";

static struct connector conn;
static struct capi *api;
static int api_port;
static char dir[64];
static char log_path[128];

struct reply {
    long status;
    char *body;
    size_t len;
    char allow[128];
    json_t *doc; /* the body parsed, or NULL */
};

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sse-capi.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(log_path, sizeof(log_path), "%s/connector.log", dir);
    ck_assert_int_eq(sse_log_open(log_path, SSE_LOG_DEBUG, SSE_LOG_TEXT), 0);
    memset(&conn, 0, sizeof(conn));
    conn_config_defaults(&conn.cfg, dir);
    ck_assert_int_eq(conn_init(&conn), 0);
    ck_assert_int_eq(capi_start(&conn, 0, &api, &api_port), 0);
    ck_assert_int_gt(api_port, 0);
}

static void
teardown(void)
{
    capi_stop(api);
    conn_destroy(&conn);
    unlink(log_path);
    rmdir(dir);
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    char *p = realloc(r->body, r->len + size * n + 1);

    if (p == NULL)
        return 0;
    memcpy(p + r->len, data, size * n);
    r->body = p;
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t len = size * n;

    if (len > 6 && strncasecmp(data, "Allow:", 6) == 0) {
        size_t v = len - 6;

        while (v > 0 && (data[6 + v - 1] == '\r' || data[6 + v - 1] == '\n'))
            v--;
        snprintf(r->allow, sizeof(r->allow), "%.*s", (int)v, data + 6);
    }
    return len;
}

/* Upload callback of a chunked body: `left` bytes of 'x'. */
static size_t
on_read(char *buf, size_t size, size_t n, void *arg)
{
    size_t *left = arg;
    size_t len = size * n < *left ? size * n : *left;

    memset(buf, 'x', len);
    *left -= len;
    return len;
}

/*
 * One request to the API. body NULL: none. chunked > 0: a body of that
 * many bytes sent chunked, with no Content-Length.
 */
static void
http_full(const char *method, const char *path, const char *body,
          size_t body_len, size_t chunked, struct reply *r)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char url[512];
    CURLcode rc;

    memset(r, 0, sizeof(*r));
    ck_assert_ptr_nonnull(h);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", api_port, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    if (chunked > 0) {
        hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &chunked);
    } else if (body != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (strcmp(method, "POST") == 0 && body == NULL && chunked == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    rc = curl_easy_perform(h);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path,
                  curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (r->len > 0)
        r->doc = json_loadb(r->body, r->len, 0, NULL);
}

static void
http(const char *method, const char *path, const char *body, struct reply *r)
{
    http_full(method, path, body, body != NULL ? strlen(body) : 0, 0, r);
}

static void
reply_free(struct reply *r)
{
    free(r->body);
    json_decref(r->doc);
    memset(r, 0, sizeof(*r));
}

/* Send one request and check its status; the reply is dropped. */
static void
expect(const char *method, const char *path, const char *body, long status)
{
    struct reply r;

    http(method, path, body, &r);
    ck_assert_msg(r.status == status, "%s %s: %ld, not %ld: %s", method, path,
                  r.status, status, r.body != NULL ? r.body : "");
    reply_free(&r);
}

static void
create_context(void)
{
    expect("POST", "/v1/contexts/", context_text, 201);
}

/* The error code of an error answer, "" when it has none. */
static const char *
error_code(const struct reply *r)
{
    const char *code = json_string_value(
        json_object_get(json_object_get(r->doc, "error"), "code"));

    return code != NULL ? code : "";
}

static json_t *
activation_copy(void)
{
    json_t *doc;

    pthread_mutex_lock(&conn.lock);
    doc = json_deep_copy(conn.activation);
    pthread_mutex_unlock(&conn.lock);
    return doc;
}

static bool
context_stored(void)
{
    json_t *ctx = conn_context_get(&conn);

    json_decref(ctx);
    return ctx != NULL;
}

/* The whole log file, NUL-terminated (malloc'd). */
static char *
log_text(void)
{
    FILE *f = fopen(log_path, "r");
    char *text = calloc(1, 1 << 20);
    size_t n;

    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(text);
    n = fread(text, 1, (1 << 20) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void
assert_token_not_logged(void)
{
    char *text = log_text();

    ck_assert_msg(strstr(text, token) == NULL, "the token is in the log");
    ck_assert_msg(strstr(text, "Zq7R...(32 chars)") != NULL,
                  "no redacted token in the log: %s", text);
    free(text);
}

START_TEST(create_then_get_returns_context)
{
    json_t *sent = json_loads(context_text, 0, NULL);
    json_t *stored;
    struct reply r;

    http("POST", "/v1/contexts/", context_text, &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_msg(json_equal(r.doc, sent), "201 body: %s", r.body);
    reply_free(&r);
    http("GET", "/v1/contexts/default", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(json_equal(r.doc, sent), "GET body: %s", r.body);
    reply_free(&r);
    stored = conn_context_get(&conn);
    ck_assert_msg(json_equal(stored, sent), "the context is stored as given");
    json_decref(stored);
    json_decref(sent);
}
END_TEST

START_TEST(create_without_trailing_slash_accepted)
{
    expect("POST", "/v1/contexts", context_text, 201);
    ck_assert(context_stored());
}
END_TEST

START_TEST(second_create_answers_409)
{
    json_t *first = json_loads(context_text, 0, NULL);
    json_t *stored;
    struct reply r;

    create_context();
    http("POST", "/v1/contexts/", "{\"clientInfo\":{\"name\":\"other\"}}", &r);
    ck_assert_int_eq(r.status, 409);
    ck_assert_str_eq(error_code(&r), "context_exists");
    reply_free(&r);
    stored = conn_context_get(&conn);
    ck_assert_msg(json_equal(stored, first), "the first context stays");
    json_decref(stored);
    json_decref(first);
    ck_assert_int_eq(conn_get_status(&conn), CS_WAITING_FOR_TOKEN);
}
END_TEST

START_TEST(get_without_context_404)
{
    struct reply r;

    http("GET", "/v1/contexts/default", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(error_code(&r), "no_context");
    reply_free(&r);
    ck_assert_int_eq(conn_get_status(&conn), CS_DISABLED);
}
END_TEST

START_TEST(status_reports_waiting_for_token_after_create)
{
    struct reply r;

    http("GET", "/v1/contexts/default/status", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.doc, "status")),
                     "Disabled");
    reply_free(&r);
    create_context();
    http("GET", "/v1/contexts/default/status", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.doc, "status")),
                     "WaitingForToken");
    ck_assert_ptr_nonnull(json_object_get(r.doc, "endpoints"));
    reply_free(&r);
    ck_assert_int_eq(conn_get_status(&conn), CS_WAITING_FOR_TOKEN);
}
END_TEST

START_TEST(activation_with_whole_token_document_accepted)
{
    char body[512];
    json_t *sent, *stored;
    struct reply r;

    snprintf(body, sizeof(body),
             "{\"token\":\"%s\",\"region\":\"eu\",\"tenant_id\":\"t1\","
             "\"expires_at\":\"2026-12-04T18:00:00Z\","
             "\"api_host\":\"api.eu.sse.itd.cisco.com\"}",
             token);
    sent = json_loads(body, 0, NULL);
    create_context();
    http("POST", "/v1/contexts/default/activations", body, &r);
    ck_assert_int_eq(r.status, 202);
    ck_assert_str_eq(json_string_value(json_object_get(r.doc, "result")),
                     "accepted");
    reply_free(&r);
    stored = activation_copy();
    ck_assert_msg(json_equal(stored, sent), "the whole document is kept");
    json_decref(stored);
    json_decref(sent);
    ck_assert_int_eq(conn_get_status(&conn), CS_REGISTERING);
    assert_token_not_logged();
}
END_TEST

START_TEST(activation_with_token_only_accepted)
{
    char body[128];
    json_t *stored;

    snprintf(body, sizeof(body), "{\"token\": \"%s\"}", token);
    create_context();
    expect("POST", "/v1/contexts/default/activations", body, 202);
    stored = activation_copy();
    ck_assert_str_eq(json_string_value(json_object_get(stored, "token")),
                     token);
    ck_assert_uint_eq(json_object_size(stored), 1);
    json_decref(stored);
    ck_assert_int_eq(conn_get_status(&conn), CS_REGISTERING);
    assert_token_not_logged();
}
END_TEST

START_TEST(activation_without_token_400)
{
    static const char *const bodies[] = {
        "{\"region\":\"us\",\"tenant_id\":\"t1\"}",
        "{\"token\":\"\"}",
        "{\"token\":42}",
        "[\"token\"]",
    };
    struct reply r;

    create_context();
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        http("POST", "/v1/contexts/default/activations", bodies[i], &r);
        ck_assert_msg(r.status == 400, "%s: %ld", bodies[i], r.status);
        ck_assert_msg(json_object_get(r.doc, "error") != NULL, "%s: %s",
                      bodies[i], r.body);
        reply_free(&r);
    }
    http("POST", "/v1/contexts/default/activations", NULL, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(error_code(&r), "empty_body");
    reply_free(&r);
    ck_assert_ptr_null(activation_copy());
    ck_assert_int_eq(conn_get_status(&conn), CS_WAITING_FOR_TOKEN);
}
END_TEST

START_TEST(activation_without_context_404)
{
    char body[128];
    struct reply r;

    snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token);
    http("POST", "/v1/contexts/default/activations", body, &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(error_code(&r), "no_context");
    reply_free(&r);
    ck_assert_ptr_null(activation_copy());
    ck_assert_int_eq(conn_get_status(&conn), CS_DISABLED);
}
END_TEST

START_TEST(delete_returns_to_disabled)
{
    char body[128];
    struct reply r;

    snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token);
    create_context();
    expect("POST", "/v1/contexts/default/activations", body, 202);
    http("DELETE", "/v1/contexts/default", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.doc, "status")),
                     "Disabled");
    reply_free(&r);
    ck_assert_int_eq(conn_get_status(&conn), CS_DISABLED);
    ck_assert(!context_stored());
    ck_assert_ptr_null(activation_copy());
    expect("GET", "/v1/contexts/default", NULL, 404);
    expect("DELETE", "/v1/contexts/default", NULL, 404);
}
END_TEST

START_TEST(reset_action_forgets_context)
{
    char body[128];

    snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token);
    create_context();
    expect("POST", "/v1/contexts/default/activations", body, 202);
    expect("POST", "/v1/action?type=reset", NULL, 200);
    ck_assert_int_eq(conn_get_status(&conn), CS_DISABLED);
    ck_assert(!context_stored());
    ck_assert_ptr_null(activation_copy());
    ck_assert(!conn_stopping(&conn));
    expect("GET", "/v1/contexts/default", NULL, 404);
    create_context();
}
END_TEST

START_TEST(shutdown_action_requests_stop)
{
    struct reply r;
    int waited_ms = 0;

    http("POST", "/v1/action?type=shutdown", NULL, &r);
    ck_assert_int_eq(r.status, 202);
    ck_assert_str_eq(json_string_value(json_object_get(r.doc, "result")),
                     "stopping");
    reply_free(&r);
    /* The stop is requested once the answer is written: soon after. */
    while (!conn_stopping(&conn) && waited_ms < 5000) {
        usleep(10 * 1000);
        waited_ms += 10;
    }
    ck_assert(conn_stopping(&conn));
}
END_TEST

START_TEST(unknown_action_400)
{
    struct reply r;

    http("POST", "/v1/action?type=reboot", NULL, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(error_code(&r), "unknown_action");
    reply_free(&r);
    expect("POST", "/v1/action", NULL, 400);
    ck_assert(!conn_stopping(&conn));
    ck_assert_int_eq(conn_get_status(&conn), CS_DISABLED);
}
END_TEST

START_TEST(unknown_path_404)
{
    struct reply r;

    http("GET", "/v1/nothing", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(error_code(&r), "not_found");
    reply_free(&r);
    expect("GET", "/v1/contexts/other", NULL, 404);
    expect("POST", "/v1/contexts/other/activations", "{}", 404);
    expect("GET", "/", NULL, 404);
}
END_TEST

START_TEST(wrong_method_405)
{
    struct reply r;

    http("PUT", "/v1/contexts/default", context_text, &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(error_code(&r), "method_not_allowed");
    ck_assert_msg(strstr(r.allow, "GET") != NULL &&
                      strstr(r.allow, "DELETE") != NULL,
                  "Allow: %s", r.allow);
    reply_free(&r);
    http("DELETE", "/v1/contexts/default/status", NULL, &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_msg(strstr(r.allow, "GET") != NULL, "Allow: %s", r.allow);
    reply_free(&r);
    http("GET", "/v1/action", NULL, &r);
    ck_assert_int_eq(r.status, 405);
    ck_assert_msg(strstr(r.allow, "POST") != NULL, "Allow: %s", r.allow);
    reply_free(&r);
    ck_assert(!context_stored());
}
END_TEST

START_TEST(non_json_body_400_names_position)
{
    struct reply r;
    json_t *err;

    http("POST", "/v1/contexts/", "{\"clientInfo\":\n  {\"name\": }}", &r);
    ck_assert_int_eq(r.status, 400);
    err = json_object_get(r.doc, "error");
    ck_assert_str_eq(error_code(&r), "bad_json");
    ck_assert_int_eq(json_integer_value(json_object_get(err, "line")), 2);
    ck_assert_int_gt(json_integer_value(json_object_get(err, "column")), 0);
    ck_assert_msg(strstr(json_string_value(json_object_get(err, "message")),
                         "line 2, column") != NULL,
                  "%s", r.body);
    reply_free(&r);
    http("POST", "/v1/contexts/", "[1, 2]", &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(error_code(&r), "not_an_object");
    reply_free(&r);
    /* A JSON string or number is JSON too, just not an object. */
    http("POST", "/v1/contexts/", "\"str\"", &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(error_code(&r), "not_an_object");
    ck_assert_msg(strstr(r.body, "a JSON string") != NULL, "%s", r.body);
    reply_free(&r);
    http("POST", "/v1/contexts/default/activations", "42", &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert_str_eq(error_code(&r), "not_an_object");
    reply_free(&r);
    ck_assert(!context_stored());
    ck_assert_int_eq(conn_get_status(&conn), CS_DISABLED);
}
END_TEST

/* {"pad":"xxx..."} of exactly len bytes (malloc'd). */
static char *
padded_object(size_t len)
{
    char *body = malloc(len + 1);

    ck_assert_ptr_nonnull(body);
    memset(body, 'x', len);
    memcpy(body, "{\"pad\":\"", 8);
    memcpy(body + len - 2, "\"}", 2);
    body[len] = '\0';
    return body;
}

START_TEST(body_of_one_mib_accepted)
{
    char *body = padded_object(BODY_MAX);
    struct reply r;

    http_full("POST", "/v1/contexts/", body, BODY_MAX, 0, &r);
    ck_assert_int_eq(r.status, 201);
    reply_free(&r);
    free(body);
    ck_assert(context_stored());
}
END_TEST

START_TEST(oversized_body_413)
{
    char *body = padded_object(BODY_MAX + 1);
    struct reply r;

    /* Announced by Content-Length: refused before it is sent. */
    http_full("POST", "/v1/contexts/", body, BODY_MAX + 1, 0, &r);
    ck_assert_int_eq(r.status, 413);
    ck_assert_str_eq(error_code(&r), "body_too_large");
    reply_free(&r);
    free(body);
    /* Chunked, with no length: refused once it has all arrived. */
    http_full("POST", "/v1/contexts/", NULL, 0, 3 * BODY_MAX, &r);
    ck_assert_int_eq(r.status, 413);
    reply_free(&r);
    ck_assert(!context_stored());
    /* The API still serves. */
    expect("GET", "/v1/contexts", NULL, 200);
}
END_TEST

START_TEST(list_contexts_empty_then_one)
{
    json_t *sent = json_loads(context_text, 0, NULL);
    struct reply r;

    http("GET", "/v1/contexts", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert(json_is_array(r.doc));
    ck_assert_uint_eq(json_array_size(r.doc), 0);
    reply_free(&r);
    create_context();
    http("GET", "/v1/contexts/", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(json_array_size(r.doc), 1);
    ck_assert(json_equal(json_array_get(r.doc, 0), sent));
    reply_free(&r);
    json_decref(sent);
}
END_TEST

START_TEST(state_changes_logged_at_info)
{
    char *text;

    create_context();
    expect("GET", "/v1/contexts/default", NULL, 200);
    text = log_text();
    ck_assert_msg(strstr(text, "level=info") != NULL &&
                      strstr(text, "local API POST /v1/contexts/: 201") != NULL,
                  "%s", text);
    ck_assert_msg(strstr(text, "level=debug") != NULL &&
                      strstr(text, "local API GET /v1/contexts/default "
                                   "from 127.0.0.1:") != NULL,
                  "%s", text);
    free(text);
}
END_TEST

START_TEST(busy_port_refused_at_start)
{
    struct capi *second = NULL;
    int port = -1;

    ck_assert_int_eq(capi_start(&conn, api_port, &second, &port), -1);
    ck_assert_ptr_null(second);
    expect("GET", "/v1/contexts", NULL, 200);
}
END_TEST

START_TEST(interface_all_listens_on_every_address)
{
    struct capi *all = NULL;
    int first = api_port;
    char *text;

    snprintf(conn.cfg.interface, sizeof(conn.cfg.interface), "all");
    ck_assert_int_eq(capi_start(&conn, 0, &all, &api_port), 0);
    expect("GET", "/v1/contexts", NULL, 200);
    text = log_text();
    ck_assert_msg(strstr(text, "listening on 0.0.0.0:") != NULL, "%s", text);
    free(text);
    capi_stop(all);
    api_port = first;
}
END_TEST

/* A self-signed certificate valid from 10 days ago for days_left more. */
static X509 *
make_cert(const char *cn, long days_left)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();

    ck_assert_ptr_nonnull(key);
    ck_assert_ptr_nonnull(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, name);
    X509_gmtime_adj(X509_getm_notBefore(x), -10L * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), days_left * 86400);
    X509_set_pubkey(x, key);
    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
    X509_NAME_free(name);
    EVP_PKEY_free(key);
    return x;
}

static json_t *
status_now(void)
{
    struct reply r;
    json_t *doc;

    http("GET", "/v1/contexts/default/status", NULL, &r);
    ck_assert_int_eq(r.status, 200);
    doc = json_incref(r.doc);
    reply_free(&r);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

static json_int_t
int_at(json_t *doc, const char *a, const char *b)
{
    json_t *v = json_object_get(doc, a);

    if (b != NULL)
        v = json_object_get(v, b);
    ck_assert_msg(json_is_integer(v), "%s.%s is no integer", a, b ? b : "");
    return json_integer_value(v);
}

START_TEST(status_shows_backlog_spool_gaps_clock_and_errors)
{
    json_t *doc, *api_ep;
    char body[128];

    create_context();
    snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token);
    expect("POST", "/v1/contexts/default/activations", body, 202);
    atomic_store(&conn.count.held, 1234);
    atomic_store(&conn.count.gaps, 7);
    atomic_store(&conn.count.spool_bytes, 65536);
    atomic_store(&conn.count.spool_records, 64);
    atomic_store(&conn.count.spool_full, 1);
    conn_ep_host(&conn, EP_API, "api-sse.cisco.com");
    conn_ep_fail(&conn, EP_API, 2000, "HTTP 503 from api-sse.cisco.com");
    pthread_mutex_lock(&conn.lock);
    conn.clock_offset_s = 3660;
    pthread_mutex_unlock(&conn.lock);
    doc = status_now();
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")),
                     "Registering");
    ck_assert_int_eq(int_at(doc, "events", "held"), 1234);
    ck_assert_int_eq(int_at(doc, "events", "sequence_gaps"), 7);
    ck_assert_int_eq(int_at(doc, "spool", "bytes"), 65536);
    ck_assert_int_eq(int_at(doc, "spool", "records"), 64);
    ck_assert(
        json_is_true(json_object_get(json_object_get(doc, "spool"), "full")));
    ck_assert_int_eq(int_at(doc, "clock_offset_s", NULL), 3660);
    api_ep = json_object_get(json_object_get(doc, "endpoints"), "api");
    ck_assert_str_eq(json_string_value(json_object_get(api_ep, "last_error")),
                     "HTTP 503 from api-sse.cisco.com");
    ck_assert_int_eq(int_at(api_ep, "attempts", NULL), 1);
    ck_assert_int_gt(int_at(api_ep, "last_error_ms", NULL), 0);
    ck_assert_int_gt(int_at(api_ep, "next_retry_ms", NULL),
                     int_at(api_ep, "last_error_ms", NULL));
    /* Not read back from a socket yet: null, not a made-up value. */
    ck_assert(json_is_null(json_object_get(api_ep, "tcp_keepalive")));
    json_decref(doc);
}
END_TEST

START_TEST(status_shows_keepalive_as_read_back)
{
    struct sse_tcpka ka = {true, 30, 10, 3};
    json_t *doc, *k;

    conn_ep_keepalive(&conn, EP_INGEST, &ka);
    doc = status_now();
    k = json_object_get(
        json_object_get(json_object_get(doc, "endpoints"), "eventing"),
        "tcp_keepalive");
    ck_assert(json_is_true(json_object_get(k, "on")));
    ck_assert_int_eq(int_at(k, "idle_s", NULL), 30);
    ck_assert_int_eq(int_at(k, "interval_s", NULL), 10);
    ck_assert_int_eq(int_at(k, "count", NULL), 3);
    json_decref(doc);
}
END_TEST

START_TEST(status_shows_every_certificate_and_its_warning)
{
    X509 *client = make_cert("device-1", 2), *server = make_cert("api", 400);
    json_t *doc, *list;
    char *text;
    size_t i;
    json_t *c;
    bool seen_client = false, seen_server = false;

    certwatch_note(&conn, "client", "device-1", client);
    certwatch_note(&conn, "server", "api-sse.cisco.com", server);
    doc = status_now();
    list = json_object_get(doc, "certificates");
    ck_assert_int_eq(json_array_size(list), 2);
    json_array_foreach(list, i, c)
    {
        const char *role = json_string_value(json_object_get(c, "role"));
        const char *warn = json_string_value(json_object_get(c, "warning"));

        if (strcmp(role, "client") == 0) {
            seen_client = true;
            ck_assert_str_eq(warn, "7d");
            ck_assert_int_gt(int_at(c, "expires_in_s", NULL), 86400);
        } else {
            seen_server = true;
            ck_assert_str_eq(json_string_value(json_object_get(c, "host")),
                             "api-sse.cisco.com");
            ck_assert_str_eq(warn, "");
        }
    }
    ck_assert(seen_client && seen_server);
    ck_assert_str_eq(
        json_string_value(json_object_get(doc, "certificate_warning")), "7d");
    json_decref(doc);
    /* One line for the client's threshold, none for the server's. */
    certwatch_check(&conn, time(NULL));
    text = log_text();
    ck_assert_msg(strstr(text, "certificate: the client certificate of "
                               "device device-1") != NULL,
                  "%s", text);
    ck_assert_ptr_null(strstr(strstr(text, "certificate: the client") + 1,
                              "certificate: the client"));
    ck_assert_ptr_null(strstr(text, "certificate: the server certificate"));
    free(text);
    X509_free(client);
    X509_free(server);
}
END_TEST

START_TEST(status_records_the_last_transition)
{
    json_t *doc;
    int64_t before = conn_now_ms();

    create_context();
    doc = status_now();
    ck_assert_str_eq(json_string_value(json_object_get(doc, "previous")),
                     "Disabled");
    ck_assert_int_ge(int_at(doc, "since_ms", NULL), before);
    ck_assert(json_is_false(json_object_get(
        json_object_get(doc, "registration"), "token_ever_received")));
    json_decref(doc);
}
END_TEST

START_TEST(replace_action_needs_a_context_and_a_token)
{
    struct reply r;
    char body[128];

    http("POST", "/v1/action?type=replace", NULL, &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(error_code(&r), "no_context");
    reply_free(&r);
    create_context();
    http("POST", "/v1/action?type=replace", NULL, &r);
    ck_assert_int_eq(r.status, 409);
    ck_assert_str_eq(error_code(&r), "no_activation");
    reply_free(&r);
    snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token);
    expect("POST", "/v1/contexts/default/activations", body, 202);
    http("POST", "/v1/action?type=replace", NULL, &r);
    ck_assert_int_eq(r.status, 202);
    ck_assert_str_eq(json_string_value(json_object_get(r.doc, "result")),
                     "replacing");
    ck_assert_str_eq(json_string_value(json_object_get(r.doc, "status")),
                     "Registering");
    reply_free(&r);
    pthread_mutex_lock(&conn.lock);
    ck_assert(conn.replace_next);
    pthread_mutex_unlock(&conn.lock);
}
END_TEST

START_TEST(replace_in_an_activation_is_a_request_not_kept)
{
    char body[160];
    json_t *act;

    create_context();
    snprintf(body, sizeof(body), "{\"token\":\"%s\",\"replace\":true}", token);
    expect("POST", "/v1/contexts/default/activations", body, 202);
    act = activation_copy();
    ck_assert_ptr_null(json_object_get(act, "replace"));
    ck_assert_str_eq(json_string_value(json_object_get(act, "token")), token);
    json_decref(act);
    pthread_mutex_lock(&conn.lock);
    ck_assert(conn.replace_next);
    ck_assert(conn.token_ever);
    pthread_mutex_unlock(&conn.lock);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("conn_api");
    TCase *tc = tcase_create("local_api");
    SRunner *sr;
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, create_then_get_returns_context);
    tcase_add_test(tc, create_without_trailing_slash_accepted);
    tcase_add_test(tc, second_create_answers_409);
    tcase_add_test(tc, get_without_context_404);
    tcase_add_test(tc, status_reports_waiting_for_token_after_create);
    tcase_add_test(tc, activation_with_whole_token_document_accepted);
    tcase_add_test(tc, activation_with_token_only_accepted);
    tcase_add_test(tc, activation_without_token_400);
    tcase_add_test(tc, activation_without_context_404);
    tcase_add_test(tc, delete_returns_to_disabled);
    tcase_add_test(tc, reset_action_forgets_context);
    tcase_add_test(tc, shutdown_action_requests_stop);
    tcase_add_test(tc, unknown_action_400);
    tcase_add_test(tc, unknown_path_404);
    tcase_add_test(tc, wrong_method_405);
    tcase_add_test(tc, non_json_body_400_names_position);
    tcase_add_test(tc, body_of_one_mib_accepted);
    tcase_add_test(tc, oversized_body_413);
    tcase_add_test(tc, list_contexts_empty_then_one);
    tcase_add_test(tc, state_changes_logged_at_info);
    tcase_add_test(tc, busy_port_refused_at_start);
    tcase_add_test(tc, interface_all_listens_on_every_address);
    tcase_add_test(tc, status_shows_backlog_spool_gaps_clock_and_errors);
    tcase_add_test(tc, status_shows_keepalive_as_read_back);
    tcase_add_test(tc, status_shows_every_certificate_and_its_warning);
    tcase_add_test(tc, status_records_the_last_transition);
    tcase_add_test(tc, replace_action_needs_a_context_and_a_token);
    tcase_add_test(tc, replace_in_an_activation_is_a_request_not_kept);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed == 0 ? 0 : 1;
}
