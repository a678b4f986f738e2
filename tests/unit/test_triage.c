/*
 * test_triage.c: the triage matcher (lib/triage.c) and its signature
 * table (lib/triage_sigs.c) on lines the connector really wrote, taken
 * from the artefacts of scenarios/cases, scenarios/faults and
 * scenarios/resilience.
 */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage.h"

static struct triage_table *t;

static void
setup(void)
{
    char err[256];

    ck_assert_msg(triage_table_open(&t, err, sizeof(err)) == 0, "%s", err);
}

static void
teardown(void)
{
    triage_table_free(t);
    t = NULL;
}

/* The case a whole connector.log line is matched to, "" for none. */
static const char *
case_of(const char *line)
{
    static struct triage_line l;
    int i;

    ck_assert_msg(triage_parse_line(line, &l) == 0, "not a line: %s", line);
    i = triage_match(t, &l);
    return i < 0 ? "" : triage_sig_at(t, (size_t)i)->case_id;
}

/* Real lines and the case each shows; "" where no case is known. */
static const struct {
    const char *want;
    const char *line;
} real[] = {
    {"K04", "time=\"2026-12-04T08:51:27.705015523Z\" level=error msg=\"[vm][con"
            "trol.c:506 control:read_back] registration with api-sse.cisco.com "
            "(region us): tenant mismatch: device a0b5cc6f-a7c3-4ce5-bd1c-aa7cc"
            "b61e4eb is registered under tenant tenant-elsewhere, not t1; its e"
            "vents would not be visible to the tenant\""},
    {"K06", "time=\"2026-12-04T08:51:10.721013813Z\" level=warning msg=\"[vm][c"
            "ontrol.c:410 control:halt_on] registration with api-sse.cisco.com "
            "(region us) stopped: not entitled (HTTP 403 not_entitled); check t"
            "he licence and the software version against the region's minimum; "
            "registration is tried again on a configuration reload (SIGHUP) or "
            "a new token\""},
    {"K06", "time=\"2026-12-04T08:54:19.320966842Z\" level=error msg=\"[vm][con"
            "trol.c:392 control:log_answer] registration with api-sse.cisco.com"
            " (region us, 127.0.0.1:45235) answered HTTP 403 (application/json,"
            " Date: Fri, 04 Dec 2026 08:54:19 GMT, cloud clock +0 s from ours):"
            " {\\\"error\\\":{\\\"code\\\":\\\"minimum_version\\\",\\\"message"
            "\\\":\\\"software 6.4.0 is below the region; correlation id 3ecc23"
            "85-ab06-4102-b05f-d309551b44d7\""},
    {"K07", "time=\"2026-12-04T08:50:58.732955061Z\" level=error msg=\"[vm][con"
            "trol.c:392 control:log_answer] registration with api-sse.cisco.com"
            " (region us, 127.0.0.1:44389) answered HTTP 409 (text/plain, Date:"
            " Fri, 04 Dec 2026 08:50:58 GMT): Conflict; correlation id 5f7603f1"
            "-4cfb-4041-a952-f7dd44e09b26\""},
    {"K07", "time=\"2026-12-04T08:50:58.732965235Z\" level=warning msg=\"[vm][c"
            "ontrol.c:410 control:halt_on] registration with api-sse.cisco.com "
            "(region us) stopped: identity claimed by another tenant or region "
            "(HTTP 409); the identity (guid 4ecd6ea6-7ef2-4ca1-b72e-baacb60e0ee"
            "7) is registered to another tenant or region: POST /v1/action?type"
            "=replace to move it here, or deregister it there first\""},
    {"K08", "time=\"2026-12-04T08:50:59.804996187Z\" level=error msg=\"[vm][con"
            "trol.c:1143 control:do_refresh] deregistered by cloud: api-sse.cis"
            "co.com no longer knows device 3595b705-355f-41d5-babf-b2daa5f40572"
            "; streaming stops, 0 events are held; activate with a new token to"
            " register again\""},
    {"K08",
     "time=\"2026-12-04T08:50:59.804984868Z\" level=error msg=\"[vm][con"
     "trol.c:392 control:log_answer] refresh of the device record with a"
     "pi-sse.cisco.com (region us, 127.0.0.1:38395) answered HTTP 404 (a"
     "pplication/json, Date: Fri, 04 Dec 2026 08:50:59 GMT): {\\\"error"
     "\\\":{\\\"code\\\":\\\"not_found\\\",\\\"message\\\":\\\"no such d"
     "evice\\\"}}; correlation id b6430bfd-ce49-4a9a-b1ab-c38c8369ca97\""},
    {"K24", "time=\"2026-12-04T08:51:10.104971614Z\" level=error msg=\"[vm][con"
            "trol.c:392 control:log_answer] registration with api-sse.cisco.com"
            " (region us, 127.0.0.1:42313) answered HTTP 401 (application/json,"
            " Date: Fri, 04 Dec 2026 08:51:10 GMT, cloud clock +0 s from ours):"
            " {\\\"error\\\":{\\\"code\\\":\\\"invalid_token\\\",\\\"message\\"
            "\":\\\"token not recognised\\\"}}; correlation id a7a22ede-136b-4b"
            "c8-939f-8948b3e30043; check the token (and its region: us)\""},
    {"K24", "time=\"2026-12-04T08:51:10.104980211Z\" level=warning msg=\"[vm][c"
            "ontrol.c:410 control:halt_on] registration with api-sse.cisco.com "
            "(region us) stopped: token refused (HTTP 401 invalid_token); a new"
            " registration token is needed: activate the context again\""},
    {"K16", "time=\"2026-12-04T08:51:08.841008562Z\" level=error msg=\"[vm][con"
            "trol.c:392 control:log_answer] registration with api-sse.cisco.com"
            " (region us, 127.0.0.1:45921) answered HTTP 401 (application/json,"
            " Date: Fri, 04 Dec 2026 09:52:08 GMT, cloud clock +3660 s from our"
            "s): {\\\"error\\\":{\\\"code\\\":\\\"token_not_yet_valid\\\",\\\"m"
            "essage\\\":\\\"token outside its validity win; correlation id b17b"
            "c44c-ee24-4efb-bc7d-98e67f2b9d50; the clocks are too far apart: th"
            "e token is not proven invalid and is kept; fix the device's clock "
            "(NTP)\""},
    {"K09", "time=\"2026-12-04T08:54:23.424911301Z\" level=error msg=\"[vm][con"
            "trol.c:392 control:log_answer] registration with api-sse.cisco.com"
            " (region us, 127.0.0.1:36103) answered HTTP 401 (application/json,"
            " Date: Fri, 04 Dec 2026 09:04:23 GMT, cloud clock +600 s from ours"
            "): {\\\"error\\\":{\\\"code\\\":\\\"request_expired\\\",\\\"messag"
            "e\\\":\\\"request outside the allowed window; correlation id 35020"
            "877-18c6-4a0b-87b6-14dcb04ae98d; the clocks are too far apart: the"
            " token is not proven invalid and is kept; fix the device's clock ("
            "NTP)\""},
    {"K05", "time=\"2026-12-04T08:51:14.540905191Z\" level=error msg=\"[vm][con"
            "trol.c:392 control:log_answer] registration with api-sse.cisco.com"
            " (region us, 127.0.0.1:46151) answered HTTP 403 (text/plain, Date:"
            " Fri, 04 Dec 2026 08:51:14 GMT, cloud clock +0 s from ours): Forbi"
            "dden; correlation id 113f7c71-e5f1-4604-8857-33491096f121; check t"
            "he region: the token is for an unknown region (token alone), the A"
            "PI host api-sse.cisco.com is region us\""},
    {"K05", "time=\"2026-12-04T08:51:14.540905191Z\" level=error msg=\"[vm][con"
            "trol.c:392 control:log_answer] registration with api-sse.cisco.com"
            " (region us, 127.0.0.1:46151) answered HTTP 403 (text/plain, Date:"
            " Fri, 04 Dec 2026 08:51:14 GMT, cloud clock +0 s from ours): Forbi"
            "dden; correlation id 113f7c71-e5f1-4604-8857-33491096f121; check t"
            "he region: the token is for an unknown region (token alone), the A"
            "PI host api-sse.cisco.com is region us\""},
    {"K05", "time=\"2026-12-04T08:51:15.209144459Z\" level=warning msg=\"[vm][c"
            "ontrol.c:908 control:prepare] registration: the token is for regio"
            "n eu, the configured region_discovery_endpoint https://api-sse.cis"
            "co.com/providers/sse/api/v1/regions is region us: registering in t"
            "he token's region at api.eu.sse.itd.cisco.com; check the device's "
            "region\""},
    {"K02", "time=\"2026-12-04T08:49:53.261009188Z\" level=error msg=\"[vm][con"
            "trol.c:392 control:log_answer] registration with api-sse.cisco.com"
            " (region us, 127.0.0.1:42891) answered HTTP 503 (text/plain, Date:"
            " Fri, 04 Dec 2026 08:49:53 GMT): down for maintenance; correlation"
            " id c57f1b17-8c79-4d75-9ff2-ecf1b281e767\""},
    {"K16",
     "time=\"2026-12-04T08:49:34.860952364Z\" level=warning msg=\"[vm][c"
     "ontrol.c:222 control:note_clock] the cloud's clock at api-sse.cisc"
     "o.com is +3660 s from ours (Date: Fri, 04 Dec 2026 09:50:34 GMT)\""},
    {"K24", "time=\"2026-12-04T08:51:31.712920782Z\" level=warning msg=\"[vm][c"
            "ontrol.c:222 control:note_clock] the cloud's clock at api-sse.cisc"
            "o.com is +259200 s from ours (Date: Mon, 07 Dec 2026 08:51:31 GMT)"
            "\""},
    {"K17", "time=\"2026-12-04T08:54:40.185005888Z\" level=warning msg=\"[vm][c"
            "ontrol.c:222 control:note_clock] the cloud's clock at api-sse.cisc"
            "o.com is +3024000 s from ours (Date: Fri, 08 Jan 2027 08:54:40 GMT"
            ")\""},
    {"K17", "time=\"2026-12-04T10:00:17.910316738Z\" level=warning msg=\"[vm][s"
            "tate.c:104 state:conn_renew_now] eventing-ingest.sse.itd.cisco.com"
            " (region us) refused the certificate of device 809753d1-483a-47f9-"
            "994f-7de64ab41690 as expired by its clock: renewing it now\""},
    {"K18", "time=\"2026-12-04T08:51:07.875170221Z\" level=error msg=\"[vm][con"
            "trol.c:785 control:do_enrol] enrolment: cacerts from est.sco.cisco"
            ".com/.well-known/est failed: phase tls: x509: unable to get local "
            "issuer certificate: subject /CN=est.sco.cisco.com, issuer /O=ssela"
            "b proxy/CN=sselab Inspection CA, notBefore 2026-12-04T07:51:07Z, n"
            "otAfter 2029-03-08T08:51:07Z with est.sco.cisco.com:443 through pr"
            "oxy 127.0.0.1:33937 (trust: /tmp/ssr.qksYAW/root/ngfw/etc/sf/conne"
            "ctorCA.pem and /tmp/ssr.qksYAW/root/ngfw/etc/sf/sse-connector/cert"
            "s (missing)); the proxy answered CONNECT with HTTP/1.1 200 Connect"
            "ion established\""},
    {"K18", "time=\"2026-12-04T08:51:07.875170221Z\" level=error msg=\"[vm][con"
            "trol.c:785 control:do_enrol] enrolment: cacerts from est.sco.cisco"
            ".com/.well-known/est failed: phase tls: x509: unable to get local "
            "issuer certificate: subject /CN=est.sco.cisco.com, issuer /O=ssela"
            "b proxy/CN=sselab Inspection CA, notBefore 2026-12-04T07:51:07Z, n"
            "otAfter 2029-03-08T08:51:07Z with est.sco.cisco.com:443 through pr"
            "oxy 127.0.0.1:33937 (trust: /tmp/ssr.qksYAW/root/ngfw/etc/sf/conne"
            "ctorCA.pem and /tmp/ssr.qksYAW/root/ngfw/etc/sf/sse-connector/cert"
            "s (missing)); the proxy answered CONNECT with HTTP/1.1 200 Connect"
            "ion established\""},
    {"K14", "time=\"2026-12-04T08:50:27.582168671Z\" level=error msg=\"[vm][pip"
            "eline.c:241 pipeline:sink_lost] eventing connection to eventing-in"
            "gest.sse.itd.cisco.com (region us, phase tls) failed: x509: unable"
            " to get local issuer certificate: subject /CN=eventing-ingest.sse."
            "itd.cisco.com, issuer /O=sselab foreign/CN=Inspection Proxy Root C"
            "A, notBefore 2026-12-04T07:50:27Z, notAfter 2029-03-08T08:50:27Z ("
            "trust: /tmp/ssr.NIRMkP/root/ngfw/etc/sf/connectorCA.pem and /tmp/s"
            "sr.NIRMkP/root/ngfw/etc/sf/sse-connector/certs (missing)); 0 event"
            "s held, 0 of them to send again\""},
    {"K13", "time=\"2026-12-04T08:50:25.691750342Z\" level=error msg=\"[vm][pip"
            "eline.c:241 pipeline:sink_lost] eventing connection to eventing-in"
            "gest.sse.itd.cisco.com (region us, phase tls) failed: x509: self-s"
            "igned certificate: subject /CN=eventing-ingest.sse.itd.cisco.com, "
            "issuer /CN=eventing-ingest.sse.itd.cisco.com, notBefore 2026-12-04"
            "T07:50:25Z, notAfter 2029-03-08T08:50:25Z (trust: /tmp/ssr.BynuCW/"
            "root/ngfw/etc/sf/connectorCA.pem and /tmp/ssr.BynuCW/root/ngfw/etc"
            "/sf/sse-connector/certs (missing)); 0 events held, 0 of them to se"
            "nd again\""},
    {"K15", "time=\"2026-12-04T08:50:21.527947681Z\" level=error msg=\"[vm][con"
            "trol.c:561 control:do_register] registration with api-sse.cisco.co"
            "m (region us) failed: phase tls: x509: certificate has expired: su"
            "bject /CN=api-sse.cisco.com, issuer /O=sselab/CN=sselab Server CA,"
            " notBefore 2026-09-05T08:50:21Z, notAfter 2026-12-03T08:50:21Z wit"
            "h 127.0.0.1:43747 (trust: /tmp/ssr.cdCs0u/root/ngfw/etc/sf/connect"
            "orCA.pem and /tmp/ssr.cdCs0u/root/ngfw/etc/sf/sse-connector/certs "
            "(missing))\""},
    {"K15", "time=\"2026-12-04T08:50:25.662918475Z\" level=error msg=\"[vm][pip"
            "eline.c:241 pipeline:sink_lost] eventing connection to eventing-in"
            "gest.sse.itd.cisco.com (region us, phase tls) failed: x509: certif"
            "icate is not yet valid: subject /CN=eventing-ingest.sse.itd.cisco."
            "com, issuer /O=sselab/CN=sselab Server CA, notBefore 2027-01-03T08"
            ":50:25Z, notAfter 2028-01-05T08:50:25Z (trust: /tmp/ssr.cMnfJ9/roo"
            "t/ngfw/etc/sf/connectorCA.pem and /tmp/ssr.cMnfJ9/root/ngfw/etc/sf"
            "/sse-connector/certs (missing)); 0 events held, 0 of them to send "
            "again\""},
    {"K12", "time=\"2026-12-04T08:49:36.208917401Z\" level=error msg=\"[vm][con"
            "trol.c:1021 control:do_reenrol] renewal at est.sco.cisco.com (regi"
            "on us, 127.0.0.1:45341, phase answer) failed: HTTP 403: enrolment "
            "refused \""},
    {"K12", "time=\"2026-12-04T08:49:36.208936743Z\" level=warning msg=\"[vm][c"
            "ontrol.c:1248 control:renew] the certificate of device de17ffcc-e8"
            "e0-416d-b1f3-b26681a8ea56 expires in 31 s and could not be renewed"
            " yet; retrying\""},
    {"K02", "time=\"2026-12-04T08:54:13.041050461Z\" level=error msg=\"[vm][con"
            "trol.c:561 control:do_register] registration with api-sse.cisco.co"
            "m (region us) failed: phase resolve: dial tcp: lookup https://api-"
            "sse.cisco.com/providers/sse/services/registration/api/v2/clients: "
            "no such host\""},
    {"K02", "time=\"2026-12-04T10:08:01.215512140Z\" level=error msg=\"[vm][con"
            "trol.c:561 control:do_register] registration with api-sse.cisco.co"
            "m (region us) failed: phase resolve: dial tcp: lookup api-sse.cisc"
            "o.com: no such host\""},
    {"K02", "time=\"2026-12-04T08:54:16.157231033Z\" level=error msg=\"[vm][con"
            "trol.c:561 control:do_register] registration with api-sse.cisco.co"
            "m (region us) failed: phase connect: dial tcp https://api-sse.cisc"
            "o.com/providers/sse/services/registration/api/v2/clients: connect:"
            " connection timed out (no answer within 500 ms)\""},
    {"K03", "time=\"2026-12-04T08:54:17.112979285Z\" level=error msg=\"[vm][pip"
            "eline.c:191 pipeline:sink_connect] eventing connection to wss://ev"
            "enting-ingest.sse.itd.cisco.com/v1/events (region us, phase resolv"
            "e) failed: cannot start a connection to eventing-ingest.sse.itd.ci"
            "sco.com (unresolvable.sselab..invalid:443)\""},
    {"K23", "time=\"2026-12-04T08:50:06.148804405Z\" level=error msg=\"[vm][pip"
            "eline.c:241 pipeline:sink_lost] eventing connection to eventing-in"
            "gest.sse.itd.cisco.com (region us, phase upgrade) failed: websocke"
            "t upgrade refused: HTTP 400 from eventing-ingest.sse.itd.cisco.com"
            ":443 through proxy 127.0.0.1:35645 (HS: ws upgrade response not 10"
            "1; Content-Type: text/html; charset=utf-8; Server: sselab-proxy; V"
            "ia: 1.1 sselab-proxy; Connection: close); 0 events held, 0 of them"
            " to send again\""},
    {"K30", "time=\"2026-12-04T08:50:14.912959726Z\" level=error msg=\"[vm][pip"
            "eline.c:241 pipeline:sink_lost] eventing connection to eventing-in"
            "gest.sse.itd.cisco.com (region us, phase open) failed: no acknowle"
            "dgement for 500 ms with 129 events unacknowledged; reconnecting to"
            " send them again; 300 events held, 129 of them to send again\""},
    {"K27", "time=\"2026-12-04T08:50:44.097296861Z\" level=error msg=\"[vm][mx."
            "c:348 mx:lost] messaging connection to mx01.sse.itd.cisco.com (reg"
            "ion us, phase open) failed: no heartbeat or message for 4500 ms (3"
            " heartbeat intervals); reconnecting\""},
    {"K27", "time=\"2026-12-04T08:50:41.149690303Z\" level=error msg=\"[vm][pip"
            "eline.c:241 pipeline:sink_lost] eventing connection to eventing-in"
            "gest.sse.itd.cisco.com (region us, phase open) failed: no pong for"
            " 1500 ms after a ping on a quiet connection; reconnecting; 0 event"
            "s held, 0 of them to send again\""},
    {"K27", "time=\"2026-12-04T08:50:02.909176018Z\" level=error msg=\"[vm][pip"
            "eline.c:241 pipeline:sink_lost] eventing connection to eventing-in"
            "gest.sse.itd.cisco.com (region us, phase open) failed: connection "
            "dropped without a close (1006); 0 events held, 0 of them to send a"
            "gain\""},
    {"K26", "time=\"2026-12-04T08:50:30.652900528Z\" level=error msg=\"[vm][mx."
            "c:348 mx:lost] messaging connection to mx01.sse.itd.cisco.com (reg"
            "ion us, phase open) failed: closed by the peer with code 1000 (fau"
            "lt)\""},
    {"K26", "time=\"2026-12-04T08:51:31.525199146Z\" level=error msg=\"[vm][mx."
            "c:348 mx:lost] messaging connection to mx01.sse.itd.cisco.com (reg"
            "ion us, phase open) failed: closed by the peer with code 1001 (fau"
            "lt)\""},
    {"K28", "time=\"2026-12-04T08:50:15.420696703Z\" level=error msg=\"[vm][pip"
            "eline.c:241 pipeline:sink_lost] eventing connection to eventing-in"
            "gest.sse.itd.cisco.com (region us, phase tls) failed: tls handshak"
            "e with 127.0.0.1:45585: timed out after 500 ms; 300 events held, 0"
            " of them to send again\""},
    {"K28", "time=\"2026-12-04T08:50:09.430569789Z\" level=error msg=\"[vm][pip"
            "eline.c:241 pipeline:sink_lost] eventing connection to eventing-in"
            "gest.sse.itd.cisco.com (region us, phase proxy) failed: proxy 127."
            "0.0.1:44367: no answer to CONNECT eventing-ingest.sse.itd.cisco.co"
            "m:443 within 500 ms; 0 events held, 0 of them to send again\""},
    {"K28", "time=\"2026-12-04T08:50:09.145397916Z\" level=error msg=\"[vm][pip"
            "eline.c:241 pipeline:sink_lost] eventing connection to eventing-in"
            "gest.sse.itd.cisco.com (region us, phase connect) failed: dial tcp"
            " 127.0.0.1:34347: connect: connection timed out (eventing-ingest.s"
            "se.itd.cisco.com:443 in the host map; no answer within 500 ms); 10"
            "00 events held, 0 of them to send again\""},
    {"K29", "time=\"2026-12-04T08:49:47.654694489Z\" level=error msg=\"[vm][pip"
            "eline.c:1069 pipeline:on_probe] events: dial unix /tmp/ssr.va9ENB/"
            "root/ngfw/var/sf/run/EventHandler_SSEConnector.sock: connect: no s"
            "uch file or directory\""},
    {"K29", "time=\"2026-12-04T08:49:47.784786728Z\" level=error msg=\"[vm][pip"
            "eline.c:1069 pipeline:on_probe] events: dial unix /tmp/ssr.va9ENB/"
            "root/ngfw/var/sf/run/EventHandler_SSEConnector.sock: connect: conn"
            "ection refused\""},
    {"K29", "time=\"2026-12-04T08:49:47.784768906Z\" level=warning msg=\"[vm][p"
            "ipeline.c:1124 pipeline:monitor_drain] events: EventHandler at /tm"
            "p/ssr.va9ENB/root/ngfw/var/sf/run/EventHandler_SSEConnector.sock w"
            "ent away; reconnecting\""},
    {"K20", "time=\"2026-12-04T08:49:59.733319693Z\" level=error msg=\"[vm][con"
            "trol.c:561 control:do_register] registration with api-sse.cisco.co"
            "m (region us) failed: phase proxy: proxy 127.0.0.1:40345 answered "
            "CONNECT api-sse.cisco.com:443 with HTTP/1.1 407 Proxy Authenticati"
            "on Required (Proxy-Authenticate: Basic realm=\\\"sselab proxy\\\";"
            " Content-Type: text/html; charset=utf-8; Via: 1.1 sselab-proxy): p"
            "roxy authentication failed for user device\""},
    {"K22", "time=\"2026-12-04T08:49:40.589021804Z\" level=error msg=\"[vm][con"
            "trol.c:392 control:log_answer] registration with api-sse.cisco.com"
            " (region us, 127.0.0.1:33299) answered HTTP 403 (text/html; charse"
            "t=utf-8, Date: Fri, 04 Dec 2026 08:49:40 GMT, cloud clock +0 s fro"
            "m ours): <!DOCTYPE html> <html><head><meta charset=\\\"utf-8\\\"><"
            "title>Access Denied</title></; correlation id 35c63908-d485-42ba-9"
            "66c-95adade0ddac; check the region: the token is for region us, th"
            "e API host api-sse.cisco.com is region us\""},
    {"K22", "time=\"2026-12-04T08:49:45.141303496Z\" level=error msg=\"[vm][con"
            "trol.c:600 control:do_register] registration with api-sse.cisco.co"
            "m (region us, 127.0.0.1:33279, phase answer) answered HTTP 200 (ap"
            "plication/json, 188 bytes) that is not JSON (':' expected near end"
            " of file, at byte 188); it starts: {\\\"device_id\\\":\\\"a96125ea"
            "-90f2-49dd-a400-6c904f20bc15\\\",\\\"tenant_id\\\":\\\"tenant-lab"
            "\\\",\\\"region\\\":\\\"us\\\",\\\"est\\\":{\\\"url\\\":\\\"https:"
            "//est.sco\""},
    {"K22", "time=\"2026-12-04T08:50:02.101531722Z\" level=error msg=\"[vm][con"
            "trol.c:561 control:do_register] registration with api-sse.cisco.co"
            "m (region us) failed: phase proxy: proxy 127.0.0.1:36133 answered "
            "CONNECT api-sse.cisco.com:443 with HTTP/1.1 200 OK but sent a page"
            " (Content-Type: text/html; charset=utf-8; Via: 1.1 sselab-proxy), "
            "not a tunnel: an intermediary answered\""},
    {"K01", "time=\"2026-12-04T08:50:57.459765933Z\" level=info msg=\"[vm][stat"
            "e.c:109 state:set_status_locked] status Enrolled -> Disabled: cont"
            "ext deleted\""},
    {"K12", "time=\"2026-12-04T08:50:19.801486803Z\" level=error msg=\"[vm][pip"
            "eline.c:241 pipeline:sink_lost] eventing connection to eventing-in"
            "gest.sse.itd.cisco.com (region us, phase tls) failed: tls handshak"
            "e with 127.0.0.1:41191: the server sent alert \\\"unknown CA\\\": "
            "it refused the client certificate we offered (subject /O=tenant-la"
            "b/CN=6d3b734e-f1e0-41d6-880c-94f7474a2245, issuer /O=sselab/CN=sse"
            "lab Device CA, notAfter 2027-12-04T08:50:19Z); 0 events held, 0 of"
            " them to send again\""},
    {"K08",
     "time=\"2026-12-04T08:49:49.440916401Z\" level=error msg=\"[vm][con"
     "trol.c:392 control:log_answer] registration with api-sse.cisco.com"
     " (region us, 127.0.0.1:44005) answered HTTP 410 (application/json,"
     " Date: Fri, 04 Dec 2026 08:49:49 GMT): {\\\"error\\\":\\\"device d"
     "eleted\\\"}; correlation id 685b2ddf-e894-4630-93be-eb3c5607e9c0\""},
    {"", "time=\"2026-12-04T08:50:29.485021255Z\" level=error msg=\"[vm][pip"
         "eline.c:241 pipeline:sink_lost] eventing connection to eventing-in"
         "gest.sse.itd.cisco.com (region us, phase tls) failed: x509: hostna"
         "me mismatch: subject /CN=wrong-host.sselab.invalid, issuer /O=ssel"
         "ab/CN=sselab Server CA, notBefore 2026-12-04T07:50:29Z, notAfter 2"
         "029-03-08T08:50:29Z (trust: /tmp/ssr.TZmTCd/root/ngfw/etc/sf/conne"
         "ctorCA.pem and /tmp/ssr.TZmTCd/root/ngfw/etc/sf/sse-connector/cert"
         "s (missing)); 0 events held, 0 of them to send again\""},
    {"", "time=\"2026-12-04T08:51:04.120584361Z\" level=error msg=\"[vm][pip"
         "eline.c:241 pipeline:sink_lost] eventing connection to eventing-in"
         "gest.sse.itd.cisco.com (region us, phase connect) failed: dial tcp"
         " 127.0.0.1:37845: connect: connection refused (eventing-ingest.sse"
         ".itd.cisco.com:443 in the host map); 0 events held, 0 of them to s"
         "end again\""},
    {"", "time=\"2026-12-04T08:50:15.952451474Z\" level=error msg=\"[vm][pip"
         "eline.c:241 pipeline:sink_lost] eventing connection to eventing-in"
         "gest.sse.itd.cisco.com (region us, phase tls) failed: connect SSL "
         "err 1: error:00000001:lib(0)::reason(1) (127.0.0.1:45585); 300 eve"
         "nts held, 0 of them to send again\""},
    {"", "time=\"2026-12-04T08:50:20.490641719Z\" level=error msg=\"[vm][con"
         "trol.c:561 control:do_register] registration with api-sse.cisco.co"
         "m (region us) failed: phase tls: tls handshake with 127.0.0.1:4599"
         "7: the server sent alert \\\"certificate required\\\": it wants a "
         "client certificate and we offered none\""},
    {"K11", "time=\"2026-12-04T08:49:47.948912831Z\" level=error msg=\"[vm][con"
            "trol.c:392 control:log_answer] registration with api-sse.cisco.com"
            " (region us, 127.0.0.1:44809) answered HTTP 403 (application/json,"
            " Date: Fri, 04 Dec 2026 08:49:47 GMT, cloud clock +0 s from ours):"
            " ; correlation id a4e4e7da-81ca-45b6-a95d-f1d02ed4c6e3; check the "
            "region: the token is for region us, the API host api-sse.cisco.com"
            " is region us\""},
    {"K14", "time=\"2026-12-04T08:50:03.791312600Z\" level=error msg=\"[vm][con"
            "trol.c:561 control:do_register] registration with api-sse.cisco.co"
            "m (region us) failed: phase tls: x509: unable to get local issuer "
            "certificate: subject /CN=api-sse.cisco.com, issuer /O=sselab proxy"
            "/CN=sselab Inspection CA, notBefore 2026-12-04T07:50:03Z, notAfter"
            " 2029-03-08T08:50:03Z with api-sse.cisco.com:443 through proxy 127"
            ".0.0.1:45519 (trust: /tmp/ssr.nwTfls/root/ngfw/etc/sf/connectorCA."
            "pem and /tmp/ssr.nwTfls/root/ngfw/etc/sf/sse-connector/certs (miss"
            "ing)); the proxy answered CONNECT with HTTP/1.1 200 Connection est"
            "ablished\""},
};

START_TEST(real_lines_match_their_case)
{
    const char *got = case_of(real[_i].line);

    ck_assert_msg(strcmp(got, real[_i].want) == 0,
                  "line %d: got \"%s\", want \"%s\": %s", _i, got,
                  real[_i].want, real[_i].line);
}
END_TEST

START_TEST(text_line_is_taken_apart_and_unescaped)
{
    struct triage_line l;
    const char *line =
        "time=\"2026-12-04T08:49:40.589021804Z\" level=error "
        "msg=\"[ftd01][control.c:392 control:log_answer] answered "
        "\\\"x\\\" \\\\ done\"";

    ck_assert_int_eq(triage_parse_line(line, &l), 0);
    ck_assert_str_eq(l.time, "2026-12-04T08:49:40.589021804Z");
    ck_assert_str_eq(l.level, "error");
    ck_assert_uint_eq(l.level_bit, TRIAGE_ERROR);
    ck_assert_str_eq(l.msg, "answered \"x\" \\ done");
}
END_TEST

START_TEST(json_line_is_taken_apart)
{
    struct triage_line l;
    const char *line =
        "{\"level\":\"warning\",\"msg\":\"[ftd01][pipeline.c:1124 "
        "pipeline:monitor_drain] events: EventHandler at /ngfw/var/sf/run/"
        "EventHandler_SSEConnector.sock went away; reconnecting\","
        "\"time\":\"2026-12-04T08:49:47.784768906Z\"}";

    ck_assert_int_eq(triage_parse_line(line, &l), 0);
    ck_assert_str_eq(l.level, "warning");
    ck_assert_uint_eq(l.level_bit, TRIAGE_WARN);
    ck_assert_str_eq(l.time, "2026-12-04T08:49:47.784768906Z");
    ck_assert_str_eq(l.msg, "events: EventHandler at /ngfw/var/sf/run/"
                            "EventHandler_SSEConnector.sock went away; "
                            "reconnecting");
    ck_assert_str_eq(case_of(line), "K29");
}
END_TEST

START_TEST(other_lines_are_not_connector_lines)
{
    struct triage_line l;

    ck_assert_int_eq(triage_parse_line("", &l), -1);
    ck_assert_int_eq(triage_parse_line("panic: runtime error", &l), -1);
    ck_assert_int_eq(triage_parse_line("{\"level\":\"error\"}", &l), -1);
    ck_assert_int_eq(triage_parse_line("{not json", &l), -1);
    ck_assert_int_eq(triage_parse_line("time=\"x\" msg=\"no level\"", &l), -1);
}
END_TEST

/* The same message at a level its signature does not name is no match:
 * a signature is message and level, never a word alone. */
START_TEST(level_is_part_of_the_signature)
{
#define DIAL_LINE                                                              \
    "time=\"2026-12-04T08:50:02.909176018Z\" level=%s msg=\"[vm][x.c:1 "       \
    "x:y] events: dial unix /ngfw/var/sf/run/EventHandler_SSEConnector"        \
    ".sock: connect: no such file or directory\""
    char line[512];

    snprintf(line, sizeof(line), DIAL_LINE, "error");
    ck_assert_str_eq(case_of(line), "K29");
    snprintf(line, sizeof(line), DIAL_LINE, "info");
    ck_assert_str_eq(case_of(line), "");
    snprintf(line, sizeof(line), DIAL_LINE, "debug");
    ck_assert_str_eq(case_of(line), "");
}
END_TEST

/* A close is K26 only with a code a restart sends (1000, 1001, 1012,
 * 1013); a protocol error, a policy close, an internal error or an
 * application's code is no rolling restart. */
START_TEST(only_restart_close_codes_are_k26)
{
#define CLOSE_LINE                                                             \
    "time=\"2026-12-04T08:50:30.652900528Z\" level=error msg=\"[vm][mx.c:348 " \
    "mx:lost] messaging connection to mx01.sse.itd.cisco.com (region us, "     \
    "phase open) failed: closed by the peer with code %s\""
    const char *restart[] = {"1000", "1001", "1012", "1013 (fault)"};
    const char *other[] = {"1002 (fault)", "1003", "1007", "1008",
                           "1011",         "4000", "10000"};
    char line[512];

    for (size_t i = 0; i < sizeof(restart) / sizeof(restart[0]); i++) {
        snprintf(line, sizeof(line), CLOSE_LINE, restart[i]);
        ck_assert_msg(strcmp(case_of(line), "K26") == 0, "code %s", restart[i]);
    }
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        snprintf(line, sizeof(line), CLOSE_LINE, other[i]);
        ck_assert_msg(strcmp(case_of(line), "K26") != 0, "code %s: %s",
                      other[i], case_of(line));
    }
}
END_TEST

/* logrus' level spellings, any case: ERROR, ERRO (a terminal's), WARN. */
START_TEST(level_is_read_in_any_case)
{
    char line[512];
    struct triage_line l;
    const char *err[] = {"ERROR", "ERRO", "Error", "FATAL"};
    const char *json =
        "{\"level\":\"ERROR\",\"msg\":\"[vm][x.c:1 x:y] events: dial unix "
        "/ngfw/var/sf/run/EventHandler_SSEConnector.sock: connect: no such "
        "file or directory\",\"time\":\"2026-12-04T08:50:02Z\"}";

    for (size_t i = 0; i < sizeof(err) / sizeof(err[0]); i++) {
        snprintf(line, sizeof(line), DIAL_LINE, err[i]);
        ck_assert_msg(strcmp(case_of(line), "K29") == 0, "level %s", err[i]);
    }
    ck_assert_str_eq(case_of(json), "K29");
    ck_assert_int_eq(triage_parse_line("time=\"t\" level=WARN msg=\"x\"", &l),
                     0);
    ck_assert_uint_eq(l.level_bit, TRIAGE_WARN);
    ck_assert_int_eq(triage_parse_line("time=\"t\" level=INFO msg=\"x\"", &l),
                     0);
    ck_assert_uint_eq(l.level_bit, TRIAGE_INFO);
    snprintf(line, sizeof(line), DIAL_LINE, "DEBU");
    ck_assert_str_eq(case_of(line), "");
}
END_TEST

START_TEST(a_word_alone_is_no_match)
{
    ck_assert_str_eq(case_of("time=\"t\" level=error msg=\"[h][a.c:1 a:b] "
                             "403\""),
                     "");
    ck_assert_str_eq(case_of("time=\"t\" level=error msg=\"[h][a.c:1 a:b] "
                             "proxy certificate expired timeout\""),
                     "");
}
END_TEST

/* connector/state.c repeats a failure as a warning every 5 minutes: it
 * counts for the case of the line it repeats. */
START_TEST(still_failing_warning_counts_as_its_line)
{
    const char *line =
        "time=\"2026-12-04T09:00:00.000000000Z\" level=warning "
        "msg=\"[vm][state.c:200 state:ep_fail] eventing still failing: 42 "
        "attempts over 301.5 s, the same cause; next attempt in 60000 ms: "
        "eventing connection to eventing-ingest.sse.itd.cisco.com (region "
        "us, phase upgrade) failed: websocket upgrade refused: HTTP 426 "
        "from 127.0.0.1:4443 (HS: ws upgrade response not 101)\"";

    ck_assert_str_eq(case_of(line), "K23");
}
END_TEST

/* The cloud's clock: minutes (K09), an hour (K16), days (K24), weeks
 * (K17); a small offset is none of them. */
START_TEST(clock_offsets_go_to_their_case)
{
    static const struct {
        const char *off;
        const char *want;
    } c[] = {
        {"+120", ""},        {"+600", "K09"},      {"-3599", "K09"},
        {"+3660", "K16"},    {"-3660", "K16"},     {"+86399", "K16"},
        {"+86400", "K24"},   {"+259200", "K24"},   {"+999999", "K24"},
        {"+3024000", "K17"}, {"+31968000", "K17"},
    };

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        char line[256];

        snprintf(line, sizeof(line),
                 "time=\"t\" level=warning msg=\"[vm][control.c:222 "
                 "control:note_clock] the cloud's clock at "
                 "api-sse.cisco.com is %s s from ours (Date: x)\"",
                 c[i].off);
        ck_assert_msg(strcmp(case_of(line), c[i].want) == 0,
                      "%s: got %s, want %s", c[i].off, case_of(line),
                      c[i].want);
    }
}
END_TEST

START_TEST(recovery_lines_clear_their_signature)
{
    struct triage_line dial, back, other;
    int i;

    ck_assert_int_eq(
        triage_parse_line(
            "time=\"t\" level=error msg=\"[vm][p.c:1 p:q] events: dial unix "
            "/x/EventHandler_SSEConnector.sock: connect: no such file or "
            "directory\"",
            &dial),
        0);
    ck_assert_int_eq(
        triage_parse_line(
            "time=\"t\" level=info msg=\"[vm][p.c:1 p:q] events: connected "
            "to EventHandler at /x/EventHandler_SSEConnector.sock after 3 "
            "failed attempts over 0.1 s\"",
            &back),
        0);
    ck_assert_int_eq(
        triage_parse_line("time=\"t\" level=info msg=\"[vm][p.c:1 p:q] "
                          "eventing connected to wss://e/v1/events\"",
                          &other),
        0);
    i = triage_match(t, &dial);
    ck_assert_int_ge(i, 0);
    ck_assert(triage_recovers(t, (size_t)i, &back));
    ck_assert(!triage_recovers(t, (size_t)i, &other));
}
END_TEST

/* Every case K01..K30 is in the table once; every signature names a case,
 * has a unique name and an anchor beyond one word. */
START_TEST(table_covers_every_case_once)
{
    size_t n = triage_sig_count(t);

    ck_assert_uint_eq(triage_case_count(), 30);
    for (int k = 1; k <= 30; k++) {
        char id[8];

        snprintf(id, sizeof(id), "K%02d", k);
        ck_assert_msg(triage_case_find(id) != NULL, "no %s", id);
        ck_assert_str_eq(triage_case_at((size_t)k - 1)->id, id);
        ck_assert(triage_case_find(id)->fix != NULL);
    }
    for (size_t i = 0; i < n; i++) {
        const struct triage_sig *s = triage_sig_at(t, i);

        ck_assert(triage_case_find(s->case_id) != NULL);
        ck_assert_msg(s->levels != 0, "%s: no level", s->name);
        ck_assert_msg(strlen(s->pattern) >= 20, "%s: pattern too short",
                      s->name);
        for (size_t j = 0; j < i; j++)
            ck_assert_msg(strcmp(s->name, triage_sig_at(t, j)->name) != 0,
                          "%s twice", s->name);
    }
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("triage");
    TCase *c = tcase_create("matcher");

    tcase_add_checked_fixture(c, setup, teardown);
    tcase_add_loop_test(c, real_lines_match_their_case, 0,
                        (int)(sizeof(real) / sizeof(real[0])));
    tcase_add_test(c, text_line_is_taken_apart_and_unescaped);
    tcase_add_test(c, json_line_is_taken_apart);
    tcase_add_test(c, other_lines_are_not_connector_lines);
    tcase_add_test(c, level_is_part_of_the_signature);
    tcase_add_test(c, only_restart_close_codes_are_k26);
    tcase_add_test(c, level_is_read_in_any_case);
    tcase_add_test(c, a_word_alone_is_no_match);
    tcase_add_test(c, still_failing_warning_counts_as_its_line);
    tcase_add_test(c, clock_offsets_go_to_their_case);
    tcase_add_test(c, recovery_lines_clear_their_signature);
    tcase_add_test(c, table_covers_every_case_once);
    suite_add_tcase(s, c);
    return s;
}

int
main(void)
{
    SRunner *r = srunner_create(suite());
    int failed;

    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
