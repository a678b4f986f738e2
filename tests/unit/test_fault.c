/*
 * test_fault.c: the fault engine parses rules strictly and fires them as
 * their triggers say.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"

/*
 * Every example rule of docs/faults.md, one per line there, character for
 * character (parse_every_action_example checks both ways).
 */
static const char *const examples[] = {
    "{\"action\":\"tcp.refused\",\"service\":\"eventing-ingest\","
    "\"region\":\"us\"}",
    "{\"action\":\"tcp.connect-timeout\","
    "\"host\":\"eventing-ingest.sse.itd.cisco.com\"}",
    "{\"action\":\"tcp.silence\",\"host\":\"api-sse.cisco.com\","
    "\"trigger\":{\"times\":1}}",
    "{\"action\":\"tcp.reset\",\"host\":\"mx01.sse.itd.cisco.com\","
    "\"bytes\":0}",
    "{\"action\":\"tcp.latency\",\"service\":\"api-sse\",\"delay_ms\":2500}",
    "{\"action\":\"tls.expired\",\"host\":\"mx01.sse.itd.cisco.com\"}",
    "{\"action\":\"tls.not-yet-valid\",\"host\":\"est.sco.cisco.com\"}",
    "{\"action\":\"tls.wrong-host\",\"host\":\"api-sse.cisco.com\"}",
    "{\"action\":\"tls.self-signed\",\"service\":\"eventing-ingest\"}",
    "{\"action\":\"tls.unknown-ca\",\"host\":\"*\"}",
    "{\"action\":\"tls.stall\",\"host\":\"api-sse.cisco.com\","
    "\"trigger\":{\"times\":2}}",
    "{\"action\":\"tls.client-cert-required\","
    "\"host\":\"est.sco.cisco.com\"}",
    "{\"action\":\"tls.client-cert-refused\","
    "\"host\":\"mx01.sse.itd.cisco.com\"}",
    "{\"action\":\"http.status\",\"host\":\"api-sse.cisco.com\","
    "\"path\":\"/providers/sse/services/registration\",\"status\":403,"
    "\"body\":\"Forbidden\",\"content_type\":\"text/plain\","
    "\"trigger\":{\"times\":3}}",
    "{\"action\":\"http.status\",\"service\":\"api-sse\",\"status\":429,"
    "\"headers\":{\"Retry-After\":\"5\"}}",
    "{\"action\":\"http.block-page\",\"host\":\"api-sse.cisco.com\"}",
    "{\"action\":\"http.malformed-json\",\"host\":\"api-sse.cisco.com\","
    "\"path\":\"/providers/sse/api/v1/regions\"}",
    "{\"action\":\"ws.upgrade-refused\",\"host\":\"mx01.sse.itd.cisco.com\","
    "\"status\":401}",
    "{\"action\":\"ws.close\","
    "\"host\":\"eventing-ingest.sse.itd.cisco.com\",\"code\":1011,"
    "\"after_frames\":10}",
    "{\"action\":\"ws.drop\",\"service\":\"mx\",\"region\":\"eu\","
    "\"after_frames\":1}",
    "{\"action\":\"ws.withhold-acks\","
    "\"host\":\"eventing-ingest.sse.itd.cisco.com\","
    "\"trigger\":{\"until_s\":60}}",
    "{\"action\":\"ws.ignore-pings\",\"host\":\"mx01.sse.itd.cisco.com\"}",
    "{\"action\":\"est.refuse\",\"host\":\"est.sco.cisco.com\","
    "\"path\":\"/.well-known/est/simpleenroll\",\"status\":403}",
    "{\"action\":\"est.short-lived\",\"host\":\"est.sco.cisco.com\","
    "\"seconds\":120}",
    "{\"action\":\"clock.offset\",\"seconds\":-86400}",
    "{\"action\":\"tcp.restart\",\"service\":\"eventing-ingest\","
    "\"trigger\":{\"until_s\":2}}",
    "{\"action\":\"tcp.partition\","
    "\"host\":\"eventing-ingest.sse.itd.cisco.com\","
    "\"trigger\":{\"until_s\":3}}",
    "{\"action\":\"tcp.reset\",\"service\":\"eventing-ingest\","
    "\"bytes\":1024,\"trigger\":{\"probability\":0.25}}",
    "{\"action\":\"http.status\",\"host\":\"api-sse.cisco.com\","
    "\"status\":503,\"trigger\":{\"from_s\":30,\"until_s\":90}}",
    "{\"action\":\"proxy.auth-required\",\"host\":\"*\"}",
    "{\"action\":\"proxy.auth-required\",\"host\":\"*\","
    "\"user\":\"device\",\"password\":\"s3cret\"}",
    "{\"action\":\"proxy.mitm\",\"host\":\"*\"}",
    "{\"action\":\"proxy.mitm\",\"host\":\"est.sco.cisco.com\"}",
    "{\"action\":\"proxy.strip-upgrade\",\"host\":\"*\",\"status\":426}",
    "{\"action\":\"proxy.block-page\",\"service\":\"api-sse\","
    "\"status\":200}",
    "{\"action\":\"proxy.silence\",\"host\":\"*\","
    "\"trigger\":{\"times\":1}}",
};

#define NEXAMPLES (sizeof(examples) / sizeof(examples[0]))

static struct fault_engine *eng;
static char err[512];
static char field[64];

static void
setup(void)
{
    eng = fault_engine_new(42, 1.0);
    ck_assert_ptr_nonnull(eng);
}

static void
teardown(void)
{
    fault_engine_free(eng);
    eng = NULL;
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
nap_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};

    nanosleep(&ts, NULL);
}

/* Parse text as a rule: the return of fault_rule_parse, err and field. */
static int
parse(const char *text, struct fault_rule *r)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    int rc;

    ck_assert_msg(doc != NULL, "bad JSON in the test: %s", text);
    err[0] = '\0';
    rc = fault_rule_parse(doc, r, field, sizeof(field), err, sizeof(err));
    json_decref(doc);
    return rc;
}

/* Add text to eng; its id, or 0 after a failure (err says why). */
static uint64_t
add(const char *text)
{
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    uint64_t id = 0;

    ck_assert_msg(doc != NULL, "bad JSON in the test: %s", text);
    err[0] = '\0';
    if (fault_add_json(eng, doc, &id, err, sizeof(err)) != 0)
        id = 0;
    json_decref(doc);
    return id;
}

/* The refusal of text names want as its field, and err holds says. */
static void
refused(const char *text, const char *want, const char *says)
{
    struct fault_rule r;

    ck_assert_msg(parse(text, &r) == -1, "accepted: %s", text);
    ck_assert_msg(strcmp(field, want) == 0, "%s: field \"%s\", not \"%s\"",
                  text, field, want);
    ck_assert_msg(strstr(err, says) != NULL, "%s: \"%s\" lacks \"%s\"", text,
                  err, says);
    ck_assert_msg(strncmp(err, "fault: ", 7) == 0, "%s", err);
}

static const struct sse_host *
host(const char *name)
{
    const struct sse_host *h = sse_host_by_name(name);

    ck_assert_msg(h != NULL, "no host %s", name);
    return h;
}

static bool
fires(const char *hostname, enum fault_action a, const char *path)
{
    return fault_match(eng, host(hostname), FAULT_BIT(a), path, NULL);
}

/* The docs page next to this source tree, read whole. */
static char *
read_doc(void)
{
    static const char tail[] = "tests/unit/test_fault.c";
    char path[4096];
    size_t n = strlen(__FILE__);
    char *buf;
    FILE *f;
    long len;

    ck_assert_msg(n >= sizeof(tail) - 1 &&
                      strcmp(__FILE__ + n - (sizeof(tail) - 1), tail) == 0,
                  "cannot find the source tree from %s", __FILE__);
    snprintf(path, sizeof(path), "%.*sdocs/faults.md",
             (int)(n - (sizeof(tail) - 1)), __FILE__);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    buf = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

START_TEST(parse_every_action_example)
{
    bool covered[FAULT_ACTION_COUNT] = {false};
    char *doc = read_doc();
    size_t indoc = 0;

    for (size_t i = 0; i < NEXAMPLES; i++) {
        struct fault_rule r;
        char line[600];

        ck_assert_msg(parse(examples[i], &r) == 0, "%s: %s", examples[i], err);
        covered[r.action] = true;
        snprintf(line, sizeof(line), "\n%s\n", examples[i]);
        ck_assert_msg(strstr(doc, line) != NULL,
                      "docs/faults.md lacks the line %s", examples[i]);
    }
    for (int a = 0; a < FAULT_ACTION_COUNT; a++)
        ck_assert_msg(covered[a], "no example of %s",
                      fault_action_name((enum fault_action)a));
    /* And the other way: every rule line of the page is in the table. */
    for (const char *p = strstr(doc, "\n{\"action\":"); p != NULL;
         p = strstr(p + 1, "\n{\"action\":")) {
        size_t len = strcspn(p + 1, "\n");
        bool found = false;

        for (size_t i = 0; i < NEXAMPLES && !found; i++)
            found = strlen(examples[i]) == len &&
                    strncmp(examples[i], p + 1, len) == 0;
        ck_assert_msg(found, "docs/faults.md has a rule the test lacks: %.*s",
                      (int)len, p + 1);
        indoc++;
    }
    ck_assert_uint_eq(indoc, NEXAMPLES);
    free(doc);
}
END_TEST

START_TEST(unknown_field_named)
{
    refused("{\"action\":\"http.status\",\"host\":\"api-sse.cisco.com\","
            "\"status\":403,\"stauts\":403}",
            "stauts",
            "fault: unknown field \"stauts\" (expected one of: action, "
            "host, service, region, path, status, headers, body, "
            "content_type, trigger)");
    refused("{\"action\":\"tls.stall\",\"trigger\":{\"tims\":2}}",
            "trigger.tims", "unknown field \"trigger.tims\"");
    refused("{\"host\":\"api-sse.cisco.com\"}", "action",
            "missing field \"action\"");
    refused("{\"action\":\"http.stauts\"}", "action",
            "unknown action \"http.stauts\" (expected one of: tcp.refused");
    refused("[1,2]", "", "must be a JSON object");
}
END_TEST

START_TEST(wrong_param_for_action_refused)
{
    struct fault_rule r;

    refused("{\"action\":\"tcp.reset\",\"bytes\":1,\"status\":403}", "status",
            "\"status\" is no parameter of \"tcp.reset\" (expected one of:"
            " action, host, service, region, bytes, trigger)");
    refused("{\"action\":\"http.status\",\"status\":500,\"code\":1000}", "code",
            "no parameter of \"http.status\"");
    refused("{\"action\":\"tcp.reset\",\"path\":\"/\",\"bytes\":1}", "path",
            "no parameter of \"tcp.reset\"");
    refused("{\"action\":\"tcp.reset\"}", "bytes",
            "action \"tcp.reset\" needs \"bytes\"");
    refused("{\"action\":\"tcp.reset\",\"bytes\":-1}", "bytes", "from 0 to");
    refused("{\"action\":\"tcp.latency\",\"delay_ms\":0}", "delay_ms",
            "from 1 to 600000 (got 0)");
    refused("{\"action\":\"tcp.latency\",\"delay_ms\":600001}", "delay_ms",
            "(got 600001)");
    refused("{\"action\":\"http.status\",\"status\":\"403\"}", "status",
            "(got a string)");
    refused("{\"action\":\"http.status\",\"status\":600}", "status",
            "from 100 to 599");
    refused("{\"action\":\"http.status\",\"status\":403,\"headers\":"
            "{\"a\":\"1\",\"b\":\"1\",\"c\":\"1\",\"d\":\"1\",\"e\":\"1\","
            "\"f\":\"1\",\"g\":\"1\",\"h\":\"1\",\"i\":\"1\"}}",
            "headers", "more than 8");
    refused("{\"action\":\"http.status\",\"status\":403,\"headers\":"
            "{\"X-A\":\"1\\r\\nSet-Cookie: x\"}}",
            "headers.X-A", "no line breaks");
    refused("{\"action\":\"http.status\",\"status\":403,\"headers\":"
            "{\"Content-Length\":\"1\"}}",
            "headers.Content-Length", "set by the server");
    refused("{\"action\":\"http.status\",\"status\":403,\"headers\":"
            "{\"Retry-After\":5}}",
            "headers.Retry-After", "must be a string");
    refused("{\"action\":\"est.short-lived\",\"seconds\":0}", "seconds",
            "from 1 to");
    refused("{\"action\":\"tcp.refused\",\"trigger\":{\"times\":1}}",
            "trigger.times", "only be switched on and off");
    refused("{\"action\":\"tls.stall\",\"trigger\":{\"probability\":0}}",
            "trigger.probability", "above 0");
    refused("{\"action\":\"tls.stall\",\"trigger\":{\"from_s\":9,"
            "\"until_s\":3}}",
            "trigger.until_s", "after");

    /* Defaults of the optional parameters. */
    ck_assert_int_eq(parse("{\"action\":\"ws.upgrade-refused\"}", &r), 0);
    ck_assert_int_eq(r.status, 403);
    ck_assert_int_eq(parse("{\"action\":\"est.refuse\"}", &r), 0);
    ck_assert_int_eq(r.status, 403);
    ck_assert_int_eq(parse("{\"action\":\"http.block-page\"}", &r), 0);
    ck_assert_int_eq(r.status, 403);
    ck_assert_int_eq(parse("{\"action\":\"http.malformed-json\"}", &r), 0);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(parse("{\"action\":\"ws.drop\"}", &r), 0);
    ck_assert_uint_eq(r.after_frames, 0);
    ck_assert_int_eq(parse("{\"action\":\"http.status\",\"status\":502}", &r),
                     0);
    ck_assert_str_eq(r.content_type, "application/json");
    ck_assert_str_eq(r.body, "");
}
END_TEST

START_TEST(proxy_credentials_checked_and_never_listed)
{
    struct fault_rule r;
    json_t *doc;
    char *text;

    refused("{\"action\":\"proxy.auth-required\",\"user\":\"device\"}",
            "password", "\"user\" and \"password\" go together");
    refused("{\"action\":\"proxy.auth-required\",\"password\":\"x\"}", "user",
            "go together");
    refused("{\"action\":\"proxy.auth-required\",\"user\":\"a:b\","
            "\"password\":\"x\"}",
            "user", "without ':'");
    refused("{\"action\":\"proxy.mitm\",\"status\":403}", "status",
            "no parameter of \"proxy.mitm\"");
    refused("{\"action\":\"proxy.strip-upgrade\",\"status\":101}", "status",
            "from 200 to 599");
    ck_assert_int_eq(parse("{\"action\":\"proxy.strip-upgrade\"}", &r), 0);
    ck_assert_int_eq(r.status, 400);
    ck_assert_int_eq(fault_action_layer(r.action), FAULT_LAYER_PROXY);
    ck_assert_str_eq(fault_layer_name(FAULT_LAYER_PROXY), "proxy");
    ck_assert_int_eq(parse("{\"action\":\"proxy.block-page\"}", &r), 0);
    ck_assert_int_eq(r.status, 403);
    ck_assert_int_eq(parse("{\"action\":\"proxy.auth-required\","
                           "\"host\":\"*\",\"user\":\"device\","
                           "\"password\":\"s3cret\"}",
                           &r),
                     0);
    ck_assert_str_eq(r.user, "device");
    ck_assert_str_eq(r.password, "s3cret");
    doc = fault_rule_json(&r);
    text = json_dumps(doc, JSON_COMPACT);
    ck_assert_ptr_null(strstr(text, "s3cret"));
    ck_assert_ptr_nonnull(strstr(text, "\"password\":\"(set)\""));
    free(text);
    json_decref(doc);
}
END_TEST

/* A proxy rule's place is the host CONNECT names. */
START_TEST(proxy_rule_matches_the_connect_host)
{
    const struct sse_host *est = sse_host_by_name("est.sco.cisco.com");
    const struct sse_host *api = sse_host_by_name("api-sse.cisco.com");
    uint64_t id =
        add("{\"action\":\"proxy.mitm\",\"host\":\"est.sco.cisco.com\"}");
    struct fault_rule r;

    ck_assert_uint_ne(id, 0);
    ck_assert(!fault_match(eng, api, FAULT_BIT(FAULT_PROXY_MITM), NULL, &r));
    ck_assert(fault_match(eng, est, FAULT_BIT(FAULT_PROXY_MITM), NULL, &r));
    ck_assert_uint_eq(r.id, id);
    ck_assert(
        !fault_match(eng, est, FAULT_BIT(FAULT_PROXY_STRIP_UPGRADE), NULL, &r));
}
END_TEST

/* A rule text of http.status with a body of n bytes of 'x'. */
static char *
status_rule_with_body(size_t n)
{
    static const char head[] =
        "{\"action\":\"http.status\",\"status\":403,\"body\":\"";
    char *text = malloc(sizeof(head) + n + 3);

    ck_assert_ptr_nonnull(text);
    memcpy(text, head, sizeof(head) - 1);
    memset(text + sizeof(head) - 1, 'x', n);
    memcpy(text + sizeof(head) - 1 + n, "\"}", 3);
    return text;
}

START_TEST(http_status_text_limits_enforced_and_documented)
{
    struct fault_rule r;
    size_t body_max = sizeof(r.body) - 1, type_max = sizeof(r.content_type) - 1;
    char *ok = status_rule_with_body(body_max);
    char *over = status_rule_with_body(body_max + 1);
    char *doc = read_doc(), want[160], says[64];

    ck_assert_msg(parse(ok, &r) == 0, "a body of %zu bytes: %s", body_max, err);
    ck_assert_uint_eq(strlen(r.body), body_max);
    snprintf(says, sizeof(says), "longer than %zu bytes", body_max);
    refused(over, "body", says);
    /* The page says both limits where http.status is described. */
    snprintf(want, sizeof(want), "`body` of at most %zu bytes", body_max);
    ck_assert_msg(strstr(doc, want) != NULL, "docs/faults.md lacks \"%s\"",
                  want);
    snprintf(want, sizeof(want), "`content_type` of at most %zu", type_max);
    ck_assert_msg(strstr(doc, want) != NULL, "docs/faults.md lacks \"%s\"",
                  want);
    free(ok);
    free(over);
    free(doc);
}
END_TEST

START_TEST(close_code_1006_refused)
{
    static const int never[] = {1005, 1006, 1015};
    static const int ok[] = {1000, 1001, 1008, 1011, 3000, 4999};
    char text[128];
    struct fault_rule r;

    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        snprintf(text, sizeof(text), "{\"action\":\"ws.close\",\"code\":%d}",
                 never[i]);
        refused(text, "code", "never sent on the wire");
    }
    refused("{\"action\":\"ws.close\",\"code\":999}", "code",
            "from 1000 to 4999");
    refused("{\"action\":\"ws.close\",\"code\":5000}", "code",
            "from 1000 to 4999");
    refused("{\"action\":\"ws.close\"}", "code", "needs \"code\"");
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(text, sizeof(text),
                 "{\"action\":\"ws.close\",\"code\":%d,\"after_frames\":3}",
                 ok[i]);
        ck_assert_msg(parse(text, &r) == 0, "%s: %s", text, err);
        ck_assert_int_eq(r.code, ok[i]);
        ck_assert_uint_eq(r.after_frames, 3);
    }
}
END_TEST

START_TEST(host_and_service_exclusive)
{
    struct fault_rule r;

    refused("{\"action\":\"tls.stall\",\"host\":\"api-sse.cisco.com\","
            "\"service\":\"api-sse\"}",
            "service", "exclude each other");
    refused("{\"action\":\"tls.stall\",\"host\":\"*\",\"service\":\"mx\"}",
            "service", "exclude each other");
    refused("{\"action\":\"tls.stall\",\"host\":\"api-sse.cisco.com\","
            "\"region\":\"eu\"}",
            "region", "goes with \"service\" or \"*\"");
    refused("{\"action\":\"ws.close\",\"host\":\"api-sse.cisco.com\","
            "\"code\":1000}",
            "host",
            "does not apply to host \"api-sse.cisco.com\" (it"
            " applies to: mx, eventing-ingest)");
    refused("{\"action\":\"est.refuse\",\"service\":\"dex\"}", "service",
            "does not apply to service \"dex\"");
    refused("{\"action\":\"clock.offset\",\"seconds\":5,"
            "\"host\":\"api-sse.cisco.com\"}",
            "host", "the cloud as a whole");
    refused("{\"action\":\"clock.offset\",\"seconds\":5,\"service\":\"est\"}",
            "service", "the cloud as a whole");

    ck_assert_int_eq(parse("{\"action\":\"tls.stall\"}", &r), 0);
    ck_assert_str_eq(r.host, "*");
    ck_assert_str_eq(r.service, "");
    ck_assert_int_eq(parse("{\"action\":\"tls.stall\",\"service\":\"mx\","
                           "\"region\":\"apj\"}",
                           &r),
                     0);
    ck_assert_str_eq(r.host, "");
    ck_assert_str_eq(r.service, "mx");
    ck_assert_str_eq(r.region, "apj");
    ck_assert_int_eq(
        parse("{\"action\":\"tls.stall\",\"host\":\"*\",\"region\":\"eu\"}",
              &r),
        0);
    ck_assert_int_eq(
        parse("{\"action\":\"clock.offset\",\"host\":\"*\",\"seconds\":-3}",
              &r),
        0);
    ck_assert_int_eq(r.seconds, -3);
}
END_TEST

START_TEST(unknown_host_refused)
{
    refused("{\"action\":\"tls.stall\",\"host\":\"api.sse.cisco.com\"}", "host",
            "unknown host \"api.sse.cisco.com\"");
    refused("{\"action\":\"tls.stall\",\"host\":\"\"}", "host", "unknown host");
    refused("{\"action\":\"tls.stall\",\"host\":7}", "host",
            "must be a string");
    refused("{\"action\":\"tls.stall\",\"service\":\"ingest\"}", "service",
            "must be one of: api-sse, est, mx, dex, eventing-ingest");
    refused("{\"action\":\"tls.stall\",\"service\":\"mx\","
            "\"region\":\"global\"}",
            "region", "must be one of: us, eu, apj");
    ck_assert_uint_eq(add("{\"action\":\"tls.stall\",\"host\":\"nowhere\"}"),
                      0);
    ck_assert_ptr_nonnull(strstr(err, "unknown host \"nowhere\""));
}
END_TEST

START_TEST(always_trigger_fires_every_time)
{
    struct fault_rule r;

    ck_assert_uint_ne(add("{\"action\":\"tls.expired\","
                          "\"host\":\"mx01.sse.itd.cisco.com\"}"),
                      0);
    for (int i = 0; i < 100; i++)
        ck_assert(fires("mx01.sse.itd.cisco.com", FAULT_TLS_EXPIRED, NULL));
    ck_assert(fault_match(eng, host("mx01.sse.itd.cisco.com"),
                          FAULT_BIT(FAULT_TLS_EXPIRED), NULL, &r));
    ck_assert_uint_eq(r.hits, 101);
    ck_assert_uint_eq(r.passes, 0);
    ck_assert_int_eq(r.action, FAULT_TLS_EXPIRED);
    /* Another action or another host: no. */
    ck_assert(!fires("mx01.sse.itd.cisco.com", FAULT_TLS_STALL, NULL));
    ck_assert(!fires("mx01.eu.sse.itd.cisco.com", FAULT_TLS_EXPIRED, NULL));
}
END_TEST

START_TEST(times_trigger_fires_n_times_then_spent)
{
    struct fault_rule r;
    uint64_t id = add("{\"action\":\"http.status\",\"status\":403,"
                      "\"host\":\"api-sse.cisco.com\","
                      "\"trigger\":{\"times\":3}}");

    ck_assert_uint_ne(id, 0);
    for (int i = 0; i < 3; i++)
        ck_assert(fires("api-sse.cisco.com", FAULT_HTTP_STATUS, "/"));
    for (int i = 0; i < 5; i++)
        ck_assert(!fires("api-sse.cisco.com", FAULT_HTTP_STATUS, "/"));
    ck_assert_int_eq(fault_get(eng, id, &r), 0);
    ck_assert_uint_eq(r.hits, 3);
    ck_assert_uint_eq(r.passes, 5);
    ck_assert_uint_eq(r.times, 3);

    /* A spent rule stays listed, and the next one in line answers. */
    ck_assert_uint_ne(add("{\"action\":\"http.status\",\"status\":500,"
                          "\"service\":\"api-sse\"}"),
                      0);
    ck_assert(fault_match(eng, host("api-sse.cisco.com"),
                          FAULT_BIT(FAULT_HTTP_STATUS), "/", &r));
    ck_assert_int_eq(r.status, 500);
    ck_assert_int_eq(fault_get(eng, id, &r), 0);
}
END_TEST

/* n answers of a fresh engine of seed to p = 0.3, as bits. */
static void
answers(uint64_t seed, bool *out, size_t n)
{
    struct fault_engine *e = fault_engine_new(seed, 1.0);
    json_t *doc = json_loads("{\"action\":\"tls.stall\",\"trigger\":"
                             "{\"probability\":0.3}}",
                             0, NULL);
    uint64_t id;

    ck_assert_int_eq(fault_add_json(e, doc, &id, err, sizeof(err)), 0);
    for (size_t i = 0; i < n; i++)
        out[i] = fault_match(e, host("api-sse.cisco.com"),
                             FAULT_BIT(FAULT_TLS_STALL), NULL, NULL);
    json_decref(doc);
    fault_engine_free(e);
}

START_TEST(probability_is_reproducible_with_a_seed)
{
    enum { N = 10000 };
    static bool a[N], b[N], c[N];
    size_t fired = 0;
    struct fault_rule r;
    uint64_t id;

    answers(42, a, N);
    answers(42, b, N);
    answers(43, c, N);
    ck_assert(memcmp(a, b, sizeof(a)) == 0);
    ck_assert(memcmp(a, c, sizeof(a)) != 0);
    for (size_t i = 0; i < N; i++)
        fired += a[i];
    ck_assert_msg(fired >= 2700 && fired <= 3300, "fired %zu of %d", fired, N);

    /* The counters add up: each question is a hit or a pass. */
    id = add("{\"action\":\"tls.stall\",\"trigger\":{\"probability\":0.3}}");
    for (size_t i = 0; i < 1000; i++)
        b[i] = fires("api-sse.cisco.com", FAULT_TLS_STALL, NULL);
    ck_assert(memcmp(a, b, 1000) == 0);
    ck_assert_int_eq(fault_get(eng, id, &r), 0);
    ck_assert_uint_eq(r.hits + r.passes, 1000);

    /* A cleared engine draws from the seed again. */
    fault_clear(eng);
    add("{\"action\":\"tls.stall\",\"trigger\":{\"probability\":0.3}}");
    for (size_t i = 0; i < 1000; i++)
        b[i] = fires("api-sse.cisco.com", FAULT_TLS_STALL, NULL);
    ck_assert(memcmp(a, b, 1000) == 0);
}
END_TEST

START_TEST(window_opens_and_closes)
{
    /* Time scale 20: cloud seconds 2 to 6 are wall ms 100 to 300. */
    struct fault_engine *fast = fault_engine_new(1, 20.0);
    json_t *doc = json_loads("{\"action\":\"tls.stall\",\"trigger\":"
                             "{\"from_s\":2,\"until_s\":6}}",
                             0, NULL);
    const struct sse_host *h = host("api-sse.cisco.com");
    uint32_t bit = FAULT_BIT(FAULT_TLS_STALL);
    int64_t t0 = mono_ms();
    struct fault_rule r;
    uint64_t id;
    bool early;

    ck_assert_int_eq(fault_add_json(fast, doc, &id, err, sizeof(err)), 0);
    early = fault_match(fast, h, bit, NULL, NULL);
    if (mono_ms() - t0 < 100)
        ck_assert_msg(!early, "fired before the window opened");
    ck_assert_int_eq(fault_get(fast, id, &r), 0);
    ck_assert_int_eq(r.from_ms, 100);
    ck_assert_int_eq(r.until_ms, 300);

    while (!fault_match(fast, h, bit, NULL, NULL)) {
        ck_assert_msg(mono_ms() - t0 < 10000, "the window never opened");
        nap_ms(2);
    }
    ck_assert_int_ge(mono_ms() - t0, 100);
    while (fault_match(fast, h, bit, NULL, NULL)) {
        ck_assert_msg(mono_ms() - t0 < 10000, "the window never closed");
        nap_ms(2);
    }
    ck_assert_int_ge(mono_ms() - t0, 300);
    ck_assert(!fault_match(fast, h, bit, NULL, NULL));
    ck_assert(!fault_peek(fast, h, bit, NULL));
    json_decref(doc);
    fault_engine_free(fast);
}
END_TEST

START_TEST(match_respects_host_service_region)
{
    uint32_t stall = FAULT_BIT(FAULT_TLS_STALL);
    struct fault_rule r;

    add("{\"action\":\"tls.stall\",\"service\":\"mx\",\"region\":\"eu\"}");
    ck_assert(fires("mx01.eu.sse.itd.cisco.com", FAULT_TLS_STALL, NULL));
    ck_assert(!fires("mx01.sse.itd.cisco.com", FAULT_TLS_STALL, NULL));
    ck_assert(!fires("api.eu.sse.itd.cisco.com", FAULT_TLS_STALL, NULL));
    fault_clear(eng);

    add("{\"action\":\"tls.stall\",\"service\":\"eventing-ingest\"}");
    ck_assert(
        fires("eventing-ingest.sse.itd.cisco.com", FAULT_TLS_STALL, NULL));
    ck_assert(
        fires("eventing-ingest.apj.sse.itd.cisco.com", FAULT_TLS_STALL, NULL));
    ck_assert(!fires("dex.apj.sse.itd.cisco.com", FAULT_TLS_STALL, NULL));
    fault_clear(eng);

    /* Every host of a region; est serves them all. */
    add("{\"action\":\"tls.stall\",\"region\":\"apj\"}");
    ck_assert(fires("dex.apj.sse.itd.cisco.com", FAULT_TLS_STALL, NULL));
    ck_assert(fires("est.sco.cisco.com", FAULT_TLS_STALL, NULL));
    ck_assert(!fires("dex.sse.itd.cisco.com", FAULT_TLS_STALL, NULL));
    fault_clear(eng);

    /* "*" reaches only the hosts the action applies to. */
    add("{\"action\":\"ws.drop\"}");
    ck_assert(fires("mx01.apj.sse.itd.cisco.com", FAULT_WS_DROP, NULL));
    ck_assert(!fires("api-sse.cisco.com", FAULT_WS_DROP, NULL));
    fault_clear(eng);

    /* The first of several matching rules, in insertion order. */
    add("{\"action\":\"tcp.reset\",\"host\":\"api-sse.cisco.com\","
        "\"bytes\":1}");
    add("{\"action\":\"tcp.reset\",\"bytes\":2}");
    ck_assert(fault_match(eng, host("api-sse.cisco.com"),
                          FAULT_BIT(FAULT_TCP_RESET), NULL, &r));
    ck_assert_uint_eq(r.bytes, 1);
    ck_assert(fault_match(eng, host("dex.sse.itd.cisco.com"),
                          FAULT_BIT(FAULT_TCP_RESET), NULL, &r));
    ck_assert_uint_eq(r.bytes, 2);

    /* The cloud as a whole: a NULL host meets only rules for every host. */
    ck_assert(!fault_match(eng, NULL, stall, NULL, NULL));
    add("{\"action\":\"clock.offset\",\"seconds\":3600}");
    ck_assert(fault_match(eng, NULL, FAULT_BIT(FAULT_CLOCK_OFFSET), NULL, &r));
    ck_assert_int_eq(r.seconds, 3600);
    ck_assert(
        !fault_match(NULL, NULL, FAULT_BIT(FAULT_CLOCK_OFFSET), NULL, &r));
}
END_TEST

START_TEST(path_prefix_matches_http_only)
{
    const char *api = "api-sse.cisco.com";

    add("{\"action\":\"http.status\",\"status\":403,"
        "\"path\":\"/providers/sse/services/registration\"}");
    ck_assert(fires(api, FAULT_HTTP_STATUS,
                    "/providers/sse/services/registration/api/v2/clients"));
    ck_assert(!fires(api, FAULT_HTTP_STATUS, "/providers/sse/api/v1/regions"));
    ck_assert(!fires(api, FAULT_HTTP_STATUS, "/"));
    ck_assert(!fires(api, FAULT_HTTP_STATUS, NULL));

    /* A rule without a path meets every request, and no request at all. */
    add("{\"action\":\"http.block-page\"}");
    ck_assert(fires(api, FAULT_HTTP_BLOCK_PAGE, "/anything"));
    ck_assert(fires(api, FAULT_HTTP_BLOCK_PAGE, NULL));

    /* TCP and TLS rules carry no path and ignore the one asked with. */
    add("{\"action\":\"tcp.silence\"}");
    ck_assert(fires(api, FAULT_TCP_SILENCE, "/x"));
    ck_assert(fires(api, FAULT_TCP_SILENCE, NULL));
    refused("{\"action\":\"tls.expired\",\"path\":\"/x\"}", "path",
            "no parameter of \"tls.expired\"");
    refused("{\"action\":\"http.status\",\"status\":400,\"path\":\"x\"}",
            "path", "must start with \"/\"");
    refused("{\"action\":\"http.status\",\"status\":400,\"path\":\"/a b\"}",
            "path", "no spaces");
}
END_TEST

START_TEST(peek_does_not_consume)
{
    const struct sse_host *h = host("eventing-ingest.sse.itd.cisco.com");
    uint32_t to = FAULT_BIT(FAULT_TCP_CONNECT_TIMEOUT);
    uint32_t stall = FAULT_BIT(FAULT_TLS_STALL);
    bool want[200], got[200];
    struct fault_rule r;
    uint64_t id;

    add("{\"action\":\"tcp.connect-timeout\","
        "\"host\":\"eventing-ingest.sse.itd.cisco.com\"}");
    for (int i = 0; i < 5; i++)
        ck_assert(fault_peek(eng, h, to, &r));
    ck_assert_uint_eq(r.hits, 0);

    id = add("{\"action\":\"tls.stall\",\"trigger\":{\"times\":1}}");
    for (int i = 0; i < 5; i++)
        ck_assert(fault_peek(eng, h, stall, NULL));
    ck_assert(fault_match(eng, h, stall, NULL, NULL));
    ck_assert(!fault_peek(eng, h, stall, NULL));
    ck_assert_int_eq(fault_get(eng, id, &r), 0);
    ck_assert_uint_eq(r.hits, 1);
    ck_assert_uint_eq(r.passes, 0);
    fault_clear(eng);

    /* A peek at a probability rule draws nothing from the generator. */
    answers(42, want, 200);
    add("{\"action\":\"tls.stall\",\"trigger\":{\"probability\":0.3}}");
    for (int i = 0; i < 200; i++) {
        ck_assert(fault_peek(eng, h, stall, NULL));
        got[i] = fault_match(eng, h, stall, NULL, NULL);
    }
    ck_assert(memcmp(want, got, sizeof(want)) == 0);
}
END_TEST

START_TEST(ignore_mode_never_fires)
{
    const struct sse_host *h = host("api-sse.cisco.com");
    uint32_t bit = FAULT_BIT(FAULT_TLS_STALL);
    json_t *list;

    fault_engine_set_ignore(eng, true);
    ck_assert_uint_ne(add("{\"action\":\"tls.stall\"}"), 0);
    ck_assert(!fault_match(eng, h, bit, NULL, NULL));
    ck_assert(!fault_peek(eng, h, bit, NULL));
    list = fault_list_json(eng);
    ck_assert_uint_eq(json_array_size(json_object_get(list, "rules")), 1);
    ck_assert(json_is_true(json_object_get(list, "ignore")));
    json_decref(list);
    fault_engine_set_ignore(eng, false);
    ck_assert(fault_match(eng, h, bit, NULL, NULL));
}
END_TEST

START_TEST(remove_and_clear)
{
    const struct sse_host *h = host("api-sse.cisco.com");
    uint64_t a = add("{\"action\":\"tls.stall\"}");
    uint64_t b = add("{\"action\":\"tls.expired\"}");
    struct fault_rule r;
    json_t *list;

    ck_assert_uint_eq(a, 1);
    ck_assert_uint_eq(b, 2);
    ck_assert_int_eq(fault_remove(eng, a), 0);
    ck_assert_int_eq(fault_remove(eng, a), -1);
    ck_assert_int_eq(fault_get(eng, a, &r), -1);
    ck_assert(!fault_match(eng, h, FAULT_BIT(FAULT_TLS_STALL), NULL, NULL));
    ck_assert(fault_match(eng, h, FAULT_BIT(FAULT_TLS_EXPIRED), NULL, NULL));
    fault_clear(eng);
    ck_assert(!fault_match(eng, h, FAULT_BIT(FAULT_TLS_EXPIRED), NULL, NULL));
    list = fault_list_json(eng);
    ck_assert_uint_eq(json_array_size(json_object_get(list, "rules")), 0);
    json_decref(list);
    /* Ids are never reused. */
    ck_assert_uint_eq(add("{\"action\":\"tls.stall\"}"), 3);
}
END_TEST

START_TEST(list_json_shows_hits_and_spent)
{
    const struct sse_host *h = host("api-sse.cisco.com");
    json_t *list, *rules, *one;
    char *text;

    add("{\"action\":\"http.status\",\"host\":\"api-sse.cisco.com\","
        "\"status\":429,\"headers\":{\"Retry-After\":\"5\"},"
        "\"trigger\":{\"times\":2}}");
    add("{\"action\":\"tcp.reset\",\"service\":\"dex\",\"bytes\":7,"
        "\"trigger\":{\"from_s\":1.5,\"until_s\":30}}");
    for (int i = 0; i < 3; i++)
        fault_match(eng, h, FAULT_BIT(FAULT_HTTP_STATUS), "/", NULL);

    list = fault_list_json(eng);
    ck_assert_int_eq(json_integer_value(json_object_get(list, "seed")), 42);
    rules = json_object_get(list, "rules");
    ck_assert_uint_eq(json_array_size(rules), 2);
    one = json_array_get(rules, 0);
    text = json_dumps(one, JSON_COMPACT);
    ck_assert_str_eq(
        text, "{\"id\":1,\"action\":\"http.status\",\"layer\":\"http\","
              "\"host\":\"api-sse.cisco.com\",\"status\":429,\"headers\":"
              "{\"Retry-After\":\"5\"},\"body\":\"\",\"content_type\":"
              "\"application/json\",\"trigger\":{\"times\":2},\"hits\":2,"
              "\"passes\":1,\"spent\":true}");
    free(text);
    text = json_dumps(json_array_get(rules, 1), JSON_COMPACT);
    ck_assert_str_eq(text, "{\"id\":2,\"action\":\"tcp.reset\",\"layer\":"
                           "\"tcp\",\"service\":\"dex\",\"bytes\":7,"
                           "\"trigger\":{\"from_s\":1.5,\"until_s\":30},"
                           "\"hits\":0,\"passes\":0,\"spent\":false}");
    free(text);
    json_decref(list);
}
END_TEST

START_TEST(generation_bumps_on_change)
{
    uint64_t g0 = fault_generation(eng), g1, g2, g3, g4;
    uint64_t id = add("{\"action\":\"tls.stall\"}");

    g1 = fault_generation(eng);
    ck_assert_uint_gt(g1, g0);
    /* Matching changes counters, not the rules. */
    fires("api-sse.cisco.com", FAULT_TLS_STALL, NULL);
    ck_assert_uint_eq(fault_generation(eng), g1);
    ck_assert_int_eq(fault_remove(eng, id), 0);
    g2 = fault_generation(eng);
    ck_assert_uint_gt(g2, g1);
    ck_assert_int_eq(fault_remove(eng, id), -1);
    ck_assert_uint_eq(fault_generation(eng), g2);
    fault_clear(eng);
    g3 = fault_generation(eng);
    ck_assert_uint_gt(g3, g2);
    fault_engine_set_ignore(eng, true);
    g4 = fault_generation(eng);
    ck_assert_uint_gt(g4, g3);
    /* A refused rule changes nothing. */
    ck_assert_uint_eq(add("{\"action\":\"tls.stal\"}"), 0);
    ck_assert_uint_eq(fault_generation(eng), g4);
    ck_assert_uint_eq(fault_generation(NULL), 0);
}
END_TEST

START_TEST(rule_count_is_bounded)
{
    for (int i = 0; i < FAULT_MAX_RULES; i++)
        ck_assert_uint_ne(add("{\"action\":\"tls.stall\"}"), 0);
    ck_assert_uint_eq(add("{\"action\":\"tls.stall\"}"), 0);
    ck_assert_ptr_nonnull(strstr(err, "256 rules"));
}
END_TEST

static Suite *
fault_suite(void)
{
    Suite *s = suite_create("fault");
    TCase *parsing = tcase_create("parsing");
    TCase *engine = tcase_create("engine");

    tcase_add_checked_fixture(parsing, setup, teardown);
    tcase_add_test(parsing, parse_every_action_example);
    tcase_add_test(parsing, unknown_field_named);
    tcase_add_test(parsing, wrong_param_for_action_refused);
    tcase_add_test(parsing, http_status_text_limits_enforced_and_documented);
    tcase_add_test(parsing, close_code_1006_refused);
    tcase_add_test(parsing, proxy_credentials_checked_and_never_listed);
    tcase_add_test(parsing, host_and_service_exclusive);
    tcase_add_test(parsing, unknown_host_refused);
    suite_add_tcase(s, parsing);

    tcase_add_checked_fixture(engine, setup, teardown);
    tcase_add_test(engine, always_trigger_fires_every_time);
    tcase_add_test(engine, times_trigger_fires_n_times_then_spent);
    tcase_add_test(engine, probability_is_reproducible_with_a_seed);
    tcase_add_test(engine, window_opens_and_closes);
    tcase_add_test(engine, match_respects_host_service_region);
    tcase_add_test(engine, path_prefix_matches_http_only);
    tcase_add_test(engine, peek_does_not_consume);
    tcase_add_test(engine, proxy_rule_matches_the_connect_host);
    tcase_add_test(engine, ignore_mode_never_fires);
    tcase_add_test(engine, remove_and_clear);
    tcase_add_test(engine, list_json_shows_hits_and_spent);
    tcase_add_test(engine, generation_bumps_on_change);
    tcase_add_test(engine, rule_count_is_bounded);
    suite_add_tcase(s, engine);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(fault_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
