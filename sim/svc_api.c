/*
 * svc_api.c: api-sse of each region: the bare 403, region discovery, token
 * minting (the manager's token service) and device registration. The JSON
 * shapes are modelled (docs/protocol.md "api-sse").
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "registry.h"

#define TOKEN_PATH                                                             \
    "/providers/sse/services/token/api/v2/auth_tokens/registration"
#define CLIENTS_PATH "/providers/sse/services/registration/api/v2/clients"
#define REGIONS_PATH "/providers/sse/api/v1/regions"
#define DEVICES_PATH "/providers/sse/services/inventory/api/v1/devices"
#define TOKEN_TTL_S (24 * 3600)
#define REFRESH_INTERVAL_S 3600

static void
rfc3339(time_t t, char *buf, size_t len)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *
region_urls(const char *region)
{
    const struct sse_host *api = sse_host_find(SSE_SVC_API, region);
    const struct sse_host *est = sse_host_find(SSE_SVC_EST, region);
    const struct sse_host *mx = sse_host_find(SSE_SVC_MX, region);
    const struct sse_host *ev = sse_host_find(SSE_SVC_INGEST, region);
    const struct sse_host *dex = sse_host_find(SSE_SVC_DEX, region);
    char a[128], e[128], m[128], i[128], d[128];

    snprintf(a, sizeof(a), "https://%s", api->name);
    snprintf(e, sizeof(e), "https://%s/.well-known/est", est->name);
    snprintf(m, sizeof(m), "wss://%s/v1/messaging", mx->name);
    snprintf(i, sizeof(i), "wss://%s/v1/events", ev->name);
    snprintf(d, sizeof(d), "https://%s", dex->name);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "name", region, "api", a,
                     "est", e, "messaging", m, "eventing", i, "dex", d);
}

static void
get_regions(const struct sim_req *req, struct sim_resp *resp)
{
    static const char *const regions[] = {"us", "eu", "apj"};
    json_t *list = json_array();

    for (size_t i = 0; i < 3; i++)
        json_array_append_new(list, region_urls(regions[i]));
    sim_resp_json(resp, 200, json_pack("{s:o}", "regions", list));
}

/* The body as a JSON object, or an error response and NULL. */
static json_t *
json_body(const struct sim_req *req, struct sim_resp *resp)
{
    json_error_t err;
    json_t *doc;
    char msg[200];

    if (strncmp(req->content_type, "application/json", 16) != 0) {
        sim_resp_error(resp, 415, "unsupported_media_type",
                       "expected Content-Type: application/json");
        return NULL;
    }
    doc = json_loadb((const char *)req->body, req->body_len, 0, &err);
    if (doc == NULL || !json_is_object(doc)) {
        snprintf(msg, sizeof(msg), "body is not a JSON object: %s",
                 doc == NULL ? err.text : "wrong type");
        json_decref(doc);
        sim_resp_error(resp, 400, "bad_request", msg);
        return NULL;
    }
    return doc;
}

static void
post_token(const struct sim_req *req, struct sim_resp *resp)
{
    json_t *doc = json_body(req, resp);
    struct sim_token_request tr;
    char token[SIM_TOKEN_LEN + 1], exp[32], field[80], why[160], msg[256];
    time_t expires;

    if (doc == NULL)
        return;
    if (sim_token_request_parse(doc, req->host->def->region, &tr, field,
                                sizeof(field), why, sizeof(why)) != 0) {
        json_decref(doc);
        snprintf(msg, sizeof(msg), "%s: %s", field, why);
        sim_resp_json(resp, 400,
                      json_pack("{s:{s:s,s:s,s:s}}", "error", "code",
                                "bad_request", "message", msg, "field", field));
        return;
    }
    json_decref(doc);
    if (sim_registry_mint(req->sim->registry, tr.tenant, tr.region,
                          sim_now(req->sim), TOKEN_TTL_S, token,
                          &expires) != 0) {
        sim_resp_error(resp, 500, "internal", "cannot mint a token");
        return;
    }
    rfc3339(expires, exp, sizeof(exp));
    sim_resp_json(resp, 201,
                  json_pack("{s:s,s:s,s:s,s:s,s:s}", "token", token, "region",
                            tr.region, "tenant_id", tr.tenant, "expires_at",
                            exp, "api_host",
                            sse_host_find(SSE_SVC_API, tr.region)->name));
    sim_note(req->host, req->conn, "http", "token", 201,
             "minted for tenant %s region %s", tr.tenant, tr.region);
}

static void
post_client(const struct sim_req *req, struct sim_resp *resp)
{
    json_t *doc = json_body(req, resp);
    json_t *info, *reply, *answer;
    const char *token, *guid, *name;
    const char *region = req->host->def->region;
    struct sim_device d, old;
    enum sim_reg_result rc;
    bool replace;

    if (doc == NULL)
        return;
    token = json_string_value(json_object_get(doc, "token"));
    info = json_object_get(doc, "clientInfo");
    guid = json_string_value(json_object_get(info, "guid"));
    name = json_string_value(json_object_get(info, "name"));
    if (token == NULL || guid == NULL || guid[0] == '\0' ||
        strlen(guid) >= sizeof(d.guid)) {
        json_decref(doc);
        sim_resp_error(resp, 400, "bad_request",
                       "expected token and clientInfo.guid");
        return;
    }
    replace = json_is_true(json_object_get(doc, "replace"));
    rc = sim_registry_register(req->sim->registry, token, region, guid,
                               name != NULL ? name : "", sim_now(req->sim),
                               replace, &d, &old);
    json_decref(doc);
    switch (rc) {
    case SIM_REG_OK:
        break;
    case SIM_REG_BAD_TOKEN:
        sim_resp_error(resp, 401, "invalid_token", "token not recognised");
        return;
    case SIM_REG_WRONG_REGION:
        /* The field answers a wrong region with a bare 403 (CASES K05). */
        sim_resp_body(resp, 403, "text/plain", "Forbidden", 9);
        return;
    case SIM_REG_CLAIMED:
        /* The owner's region, not its tenant: that one is not ours to
         * tell (CASES K07). */
        sim_resp_json(
            resp, 409,
            json_pack("{s:{s:s,s:s,s:s}}", "error", "code", "already_claimed",
                      "message",
                      "device already registered to another tenant; "
                      "register with \"replace\": true to take it over",
                      "owner_region", d.region));
        sim_note(req->host, req->conn, "http", "claimed", 409,
                 "guid %s is device %s of another tenant in region %s", guid,
                 d.device_id, d.region);
        return;
    case SIM_REG_TOKEN_USED:
        sim_resp_error(resp, 410, "token_used_or_expired",
                       "token already used or expired");
        return;
    }
    reply = region_urls(region);
    answer = json_pack(
        "{s:s,s:s,s:s,s:{s:O,s:s,s:s},s:{s:O},s:{s:O},s:i}", "device_id",
        d.device_id, "tenant_id", d.tenant_id, "region", d.region, "est", "url",
        json_object_get(reply, "est"), "username", d.est_user, "password",
        d.est_password, "messaging", "url", json_object_get(reply, "messaging"),
        "eventing", "url", json_object_get(reply, "eventing"),
        "refresh_interval", REFRESH_INTERVAL_S);
    json_decref(reply);
    if (old.device_id[0] != '\0')
        json_object_set_new(answer, "replaced",
                            json_pack("{s:s,s:s,s:s}", "device_id",
                                      old.device_id, "tenant_id", old.tenant_id,
                                      "region", old.region));
    sim_resp_json(resp, 201, answer);
    if (old.device_id[0] != '\0') {
        sim_note(req->host, req->conn, "http", "replace", 201,
                 "guid %s: device %s of tenant %s (region %s) replaced by "
                 "device %s of tenant %s",
                 d.guid, old.device_id, old.tenant_id, old.region, d.device_id,
                 d.tenant_id);
    }
    sim_note(req->host, req->conn, "http", "register", 201,
             "device %s guid %s tenant %s", d.device_id, d.guid, d.tenant_id);
}

static void
get_client(const struct sim_req *req, struct sim_resp *resp, const char *id)
{
    struct sim_device d;

    if (sim_registry_device(req->sim->registry, id, &d) != 0) {
        sim_resp_error(resp, 404, "not_found", "no such device");
        return;
    }
    sim_resp_json(resp, 200,
                  json_pack("{s:s,s:s,s:s,s:s,s:s}", "device_id", d.device_id,
                            "tenant_id", d.tenant_id, "region", d.region,
                            "guid", d.guid, "name", d.name));
}

void
svc_api_handle(const struct sim_req *req, struct sim_resp *resp)
{
    const char *p = req->path;
    size_t clen = strlen(CLIENTS_PATH);
    size_t dlen = strlen(DEVICES_PATH);

    if (strcmp(p, "/") == 0) {
        sim_resp_forbidden(resp);
    } else if (strcmp(p, REGIONS_PATH) == 0) {
        if (strcmp(req->method, "GET") == 0)
            get_regions(req, resp);
        else
            sim_resp_error(resp, 405, "method_not_allowed", "use GET");
    } else if (strcmp(p, TOKEN_PATH) == 0) {
        if (strcmp(req->method, "POST") == 0)
            post_token(req, resp);
        else
            sim_resp_error(resp, 405, "method_not_allowed", "use POST");
    } else if (strcmp(p, CLIENTS_PATH) == 0) {
        if (strcmp(req->method, "POST") == 0)
            post_client(req, resp);
        else
            sim_resp_error(resp, 405, "method_not_allowed", "use POST");
    } else if (strncmp(p, CLIENTS_PATH "/", clen + 1) == 0 &&
               strcmp(req->method, "GET") == 0) {
        get_client(req, resp, p + clen + 1);
    } else if (strncmp(p, DEVICES_PATH "/", dlen + 1) == 0 &&
               strcmp(req->method, "GET") == 0) {
        /* The tenant's inventory: what the tenant sees of the device. */
        get_client(req, resp, p + dlen + 1);
    } else {
        sim_resp_error(resp, 404, "not_found", "no such resource");
    }
}
