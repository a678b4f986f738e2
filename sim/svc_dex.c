/*
 * svc_dex.c: dex, the data exchange host of each region (file upload). A
 * thin model: the bare 403 and an upload endpoint that counts bytes.
 */
#include <stdio.h>
#include <string.h>

#include "http.h"

void
svc_dex_handle(const struct sim_req *req, struct sim_resp *resp)
{
    if (strcmp(req->path, "/") == 0) {
        sim_resp_forbidden(resp);
    } else if (strcmp(req->path, "/v1/upload") == 0 &&
               strcmp(req->method, "POST") == 0) {
        sim_resp_json(resp, 202,
                      json_pack("{s:s,s:I}", "status", "accepted", "bytes",
                                (json_int_t)req->body_len));
    } else {
        sim_resp_error(resp, 404, "not_found", "no such resource");
    }
}

/* Plain HTTP on mx01 and eventing-ingest: the WebSocket paths want an
 * upgrade, everything else is the same bare 403 as api-sse. */
void
svc_ws_host_handle(const struct sim_req *req, struct sim_resp *resp)
{
    if (strcmp(req->path, "/v1/messaging") == 0 ||
        strcmp(req->path, "/v1/events") == 0) {
        sim_resp_error(resp, 426, "upgrade_required",
                       "this path speaks WebSocket only");
        sim_resp_header(resp, "Upgrade", "websocket");
    } else if (strcmp(req->path, "/") == 0) {
        sim_resp_forbidden(resp);
    } else {
        sim_resp_error(resp, 404, "not_found", "no such resource");
    }
}
