/*
 * triage_sigs.c: the one table that says which connector.log line means
 * which field case (CASES K01..K30). docs/triage.md lists it in words.
 *
 * Each signature is a level set and a POSIX extended regular expression
 * over the message (after the two brackets), written against the lines
 * the connector's sources write, as scenarios/cases/ shows them.
 * Order matters: the first signature that matches a line wins, so the
 * narrow ones (an inspection CA as issuer, an HTML body, an entitlement
 * code) come before the wide ones of the same line shape.
 */
#include <stddef.h>

#include "triage.h"

#define E TRIAGE_ERROR
#define W TRIAGE_WARN
#define I TRIAGE_INFO

/* What says that a failure cleared: a registration or enrolment that
 * got through, a WebSocket end answering again, EventHandler back. */
#define REC_REG "^(registered with |status [A-Za-z]+ -> Enrolled)"
#define REC_EVENTING "^eventing (connected to |.*answering again)"
#define REC_MESSAGING "^messaging (connected to |.*answering again)"
#define REC_WS "^(eventing|messaging) (connected to |.*answering again)"
#define REC_ANY                                                                \
    "^(registered with |enrolled at |renewed the certificate |(eventing|"      \
    "messaging) (connected to |.*answering again))"

const struct triage_case triage_cases[] = {
    {"K01", "Cloud integration switched off or never activated",
     "The context was deleted (the manager switched the integration off): "
     "the connector is Disabled and sends nothing until a context is "
     "created and activated again.",
     "Switch the cloud integration on in the manager (create the context "
     "and activate it with a token); check the status goes "
     "WaitingForToken -> Registering -> Enrolled.",
     "k01-integration-toggle.yaml"},
    {"K02", "Cisco Cloud Configuration failure: api-sse unreachable",
     "The integration is wanted but api-sse cannot be reached: its name "
     "does not resolve, its SYN is not answered, or it answers 5xx/429. "
     "The connector retries with capped backoff.",
     "Check name resolution of the API host, a route and firewall rule to "
     "it on 443, and whether an HTTP proxy is required "
     "([Globals] HTTPProxy); 5xx/429 clear by themselves.",
     "k02-cloud-unreachable.yaml"},
    {"K03", "Events stop while the event host does not resolve",
     "eventing-ingest's name does not resolve (DNS failure of the event "
     "host only); the connector holds the events and resolves again at "
     "every reconnect.",
     "Fix DNS for the eventing host (eventing-ingest.<region>...); no "
     "restart is needed, held events are sent when it resolves "
     "(see also K25: a single failure at start).",
     "k03-event-host-dns.yaml"},
    {"K04", "Registered under another tenant than the token's",
     "Registration succeeded but the device record is filed under "
     "another tenant: its events would not be visible to the tenant.",
     "Generate the token in the right tenant's portal, or have the cloud "
     "side move the device; then reload (SIGHUP) or activate again.",
     "k04-tenant-mismatch.yaml"},
    {"K05", "Registered in the wrong region",
     "api-sse refused the registration with 401/403 and the token's "
     "region is unknown or differs from the API host's region.",
     "Use the token's own document (with its region) or point "
     "region_discovery_endpoint at the token's region; compare the "
     "region named in the line with the portal's.",
     "k05-wrong-region.yaml"},
    {"K06", "Direct integration refused: entitlement",
     "api-sse answered 403 naming entitlement, a licence or a minimum "
     "software version; the connector stopped for good (status Error).",
     "Upgrade the software to the region's minimum or fix the licence "
     "(no evaluation or on-prem licence server), then reload the "
     "configuration (SIGHUP) or activate with a new token.",
     "k06-not-entitled.yaml"},
    {"K07", "Serial number already claimed",
     "api-sse answered 409: the device identity is registered to another "
     "tenant or region (also after a reinstall, K10). No automatic retries.",
     "Deregister it in the owner's tenant, or replace the registration: "
     "POST /v1/action?type=replace on the local API; quote the "
     "correlation id to support.",
     "k07-serial-claimed.yaml"},
    {"K08", "Deregistered by the cloud",
     "The cloud no longer knows the device (404/410 on its record); "
     "streaming stopped, events are held.",
     "Activate the context with a new token to register again, or delete "
     "the context if the device should leave the cloud.",
     "k08-deregistered-by-cloud.yaml"},
    {"K09", "Clock skew turned into a 401",
     "api-sse refused the request while the clocks are five minutes or "
     "more apart: the token is not proven invalid and is kept.",
     "Fix the device's time (NTP); the connector retries with the same "
     "token and must not re-enrol.",
     "k09-clock-skew-401.yaml"},
    {"K10", "Lost credentials after a reinstall",
     "The device lost its identity and the cloud already knows its guid.",
     "POST /v1/action?type=replace registers the guid again for this tenant.",
     "k10-reinstall-lost-credentials.yaml"},
    {"K11", "Wrong region answered with a bare 403",
     "api-sse answered a plain 403 \"Forbidden\" with nothing more: most "
     "often a token of another region, not a bad token.",
     "Check the region first: the token's region against the API host's "
     "(the line names both), then the token.",
     "k11-bare-403.yaml"},
    {"K12", "Client certificate renewal failing",
     "Renewal at est fails (stalls, times out or is refused) while the "
     "client certificate runs out, or the cloud refused the client "
     "certificate.",
     "Make est.sco.cisco.com reachable on 443 (no inspection, no silent "
     "drop); the connector renews by itself before the certificate "
     "lapses, and enrols again once it has.",
     "k12-renewal-stall.yaml"},
    {"K13", "Root CA retired: the presented chain is not trusted",
     "The server's chain ends in a root the trust store does not hold "
     "(a new root, or a self-signed leaf), and the issuer is not an "
     "inspection CA.",
     "Add the new root to the extra-CA directory ([Globals] cert_store) "
     "or update the trust store; no upgrade or restart is needed.",
     NULL},
    {"K14", "SSL decryption re-signs the cloud's certificates",
     "The presented certificate is issued by an inspection CA: an "
     "upstream firewall or proxy decrypts the connection (see also K19).",
     "Exempt the SSE hosts from SSL decryption; or, if policy requires "
     "inspection, put the inspection CA into [Globals] cert_store. Never "
     "turn verification off.",
     "k14-ssl-decryption.yaml"},
    {"K15", "Expired or not yet valid server certificate",
     "A server certificate is outside its validity window by the "
     "device's clock: an expired leaf, or a wrong local clock.",
     "Compare notBefore/notAfter in the line with the device's time and "
     "the cloud's Date header; fix the clock, or report the expired "
     "certificate.",
     "k15-expired-server-cert.yaml"},
    {"K16", "Cloud clock more than an hour from the device's",
     "The cloud's Date header is an hour or more from the device's "
     "clock; tokens and certificates fail their windows.",
     "Fix the device's time (NTP, time zone); the line gives the "
     "measured offset.",
     "k16-cloud-clock-61min.yaml"},
    {"K17", "Long offline period",
     "The cloud's clock is days ahead of the device's: the device was "
     "offline (or its clock is far behind); certificate and grace "
     "periods may have lapsed.",
     "Fix the clock; the connector refreshes, re-enrols or registers "
     "again depending on what the cloud answers.",
     "k17-long-offline.yaml"},
    {"K18", "Enrolment fails because the enrolment host is inspected",
     "est.sco.cisco.com presents a certificate of an inspection CA: "
     "enrolment is decrypted while registration is not.",
     "Exempt est.sco.cisco.com from SSL decryption (or put the "
     "inspection CA into [Globals] cert_store).",
     "k18-est-inspected.yaml"},
    {"K19", "\"Unable to get local issuer\" behind an inspection proxy",
     "The issuer of the presented certificate names the interception.",
     "Put the inspection CA into [Globals] cert_store (an explicit, "
     "logged extra CA), never a global no-verify.",
     "k19-extra-ca.yaml"},
    {"K20", "Proxy authentication, not a certificate problem",
     "The proxy answered CONNECT with 407: credentials missing or "
     "wrong. No TLS was attempted.",
     "Set or fix the proxy user and password ([Globals] HTTPProxy url); "
     "this is not a certificate problem.",
     "k20-proxy-407.yaml"},
    {"K21", "The WebSocket path ignores the proxy",
     "Registered, but the WebSockets do not take the proxy.",
     "No connector line says this alone: compare the routes of the "
     "connections (sselab's connector logs one proxy decision for all).",
     "k21-websocket-proxy.yaml"},
    {"K22", "An HTML block page or broken JSON instead of an answer",
     "Something between the device and the cloud answered with an HTML "
     "page (a block page) or cut the JSON: an intermediary answered.",
     "Find the filtering proxy or firewall named by the page's title or "
     "the Via header and allow the SSE hosts through it.",
     "k22-html-block-page.yaml"},
    {"K23", "WebSocket upgrade not passed by an intermediary",
     "The WebSocket upgrade was answered with another status than 101: a "
     "proxy or load balancer does not pass WebSocket.",
     "Allow WebSocket (Upgrade) to mx01 and eventing-ingest on the "
     "intermediary named by the headers in the line.",
     "k23-upgrade-not-passed.yaml"},
    {"K24", "Registration token refused or expired",
     "api-sse refused the token itself (401 with the clocks agreeing, or "
     "410 naming the token): a new registration token is needed; or the "
     "cloud's clock shows days passed since the device last spoke to it, "
     "long enough for a token to expire.",
     "Generate a new token in the portal and activate with it; no "
     "restart is needed.",
     "k24-token-expires.yaml"},
    {"K25", "A DNS failure at start and the WebSocket not retried",
     "See K03: the event host did not resolve at start.",
     "Fix DNS for the event host; the connector retries within its "
     "backoff (triage reports these lines as K03).",
     "k25-dns-once-at-start.yaml"},
    {"K26", "The cloud closed the WebSocket (rolling restart)",
     "The peer closed the connection with a restart's close code (1000 "
     "normal, 1001 going away, 1012 service restart, 1013 try again "
     "later): a rolling restart or an overloaded service. The connector "
     "reconnects and resends.",
     "Nothing, when the line says it reconnected; persistent closes: "
     "quote the code and reason to support.",
     "k26-rolling-restart.yaml"},
    {"K27", "WebSocket broken without a close",
     "The connection dropped without a close (1006) or went silent "
     "(heartbeats unanswered): a load balancer or firewall dropped it.",
     "Check idle timeouts on load balancers and firewalls on the path; "
     "the connector's watchdog reconnects by itself.",
     "k27-pings-unanswered.yaml"},
    {"K28", "A connection phase timed out",
     "Connect, proxy CONNECT or TLS handshake got no answer within the "
     "deadline: something accepts TCP and then drops everything.",
     "Look at the phase in the line: connect (routing, firewall), proxy "
     "(the proxy does not answer CONNECT), tls (an intermediary eats "
     "the handshake).",
     "k28-handshake-deadline.yaml"},
    {"K29", "EventHandler's socket missing or not listening",
     "The connector cannot reach EventHandler's ipc socket: no such "
     "file (EventHandler not running, e.g. after an upgrade), refused "
     "(nobody listening), or permission denied.",
     "Check that EventHandler runs and its socket is LISTENING "
     "(netstat -xa | grep EventHandler_SSEConnector); the connector "
     "reconnects by itself.",
     "k29-eventhandler-socket.yaml"},
    {"K30", "Events not acknowledged by the cloud",
     "The ingest stopped acknowledging while the connection stayed up; "
     "the connector reconnected to send the events again.",
     "Nothing when it recovers (events are resent, none lost); if it "
     "persists, quote the time and the backlog to support.",
     "k30-acks-withheld.yaml"},
};
const size_t triage_ncases = sizeof(triage_cases) / sizeof(triage_cases[0]);

/* Offsets in whole seconds, as the connector prints them. */
#define OFF_DAYS "[+-][0-9]{7,}"
#define OFF_HOUR_UP "[+-](3[6-9][0-9]{2}|[4-9][0-9]{3}|[0-9]{5,})"
#define OFF_DAY "[+-](9[0-9]{4}|8[7-9][0-9]{3}|86[4-9][0-9]{2}|[1-9][0-9]{5})"
#define OFF_HOUR                                                               \
    "[+-](3[6-9][0-9]{2}|[4-9][0-9]{3}|[1-7][0-9]{4}|8[0-5][0-9]{3}|"          \
    "86[0-3][0-9]{2})"
#define OFF_MIN "[+-]([3-9][0-9]{2}|[12][0-9]{3}|3[0-5][0-9]{2})"
#define INSPECTED "issuer [^,]*([Ii]nspection|[Pp]roxy)"

const struct triage_sig triage_sigs[] = {
    /* Lifecycle */
    {"K01", "context-deleted", I,
     "^status [A-Za-z]+ -> Disabled: context deleted",
     "^status [A-Za-z]+ -> WaitingForToken: context created"},

    /* An intermediary answered: before every status rule. */
    {"K22", "registration-html", E, "answered HTTP [0-9]{3} \\(text/html",
     REC_REG},
    {"K22", "answer-not-json", E, "answered HTTP [0-9]{3} .* that is not JSON",
     REC_REG},
    {"K22", "connect-page", E,
     "answered CONNECT [^ ]+ with HTTP/1\\.[01] "
     "[0-9]{3} [^(]*(but sent a page|\\(Content-Type: text/html)",
     REC_ANY},
    {"K20", "proxy-407", E,
     "proxy [^ ]+ answered CONNECT [^ ]+ with HTTP/1\\.[01] 407", REC_ANY},

    /* Registration answers (connector/regans.c) */
    {"K04", "tenant-mismatch", E,
     "tenant mismatch: device [^ ]+ is registered under tenant ", REC_REG},
    {"K06", "entitlement-answer", E,
     "answered HTTP 403 .*(entitle|licen|"
     "minimum_version|version_too_old|evaluation|not_supported)",
     REC_REG},
    {"K06", "entitlement-stop", W, "stopped: not entitled \\(HTTP 403",
     REC_REG},
    {"K07", "claimed-stop", W,
     "stopped: identity claimed by another tenant or region \\(HTTP 409",
     REC_REG},
    {"K07", "claimed-answer", E,
     "^registration with [^ ]+ \\(region [a-z]+, [^)]*\\) answered HTTP 409 ",
     REC_REG},
    {"K08", "deregistered", E,
     "^deregistered by cloud: [^ ]+ no longer knows device ", REC_REG},
    {"K08", "deregistered-stop", W,
     "stopped: deregistered by cloud \\(HTTP 4(04|10)", REC_REG},
    {"K24", "token-refused", W,
     "stopped: token refused \\(HTTP 4[0-9]{2}"
     "[^)]*\\); a new registration token is needed",
     REC_REG},
    {"K24", "401-token", E, "answered HTTP 401 .*; check the token", REC_REG},
    {"K24", "gone-token", E, "answered HTTP (404|410) .*token", REC_REG},
    {"K08", "registration-gone", E,
     "^registration with [^ ]+ \\(region "
     "[a-z]+, [^)]*\\) answered HTTP (404|410) ",
     REC_REG},
    {"K08", "refresh-gone", E,
     "^refresh of the device record with [^ ]+ "
     "\\(region [a-z]+, [^)]*\\) answered HTTP (404|410) ",
     REC_REG},
    {"K16", "401-clock-hour", E,
     "answered HTTP 40[13] \\([^)]*cloud clock " OFF_HOUR_UP
     " s from ours\\): .*the clocks are too far apart",
     REC_REG},
    {"K09", "401-clock-skew", E,
     "answered HTTP 40[13] \\([^)]*\\): .*the "
     "clocks are too far apart: the token is not proven invalid",
     REC_REG},
    {"K05", "403-token-region-unknown", E,
     "answered HTTP 40[13] .*check "
     "the region: the token is for an unknown region",
     REC_REG},
    {"K11", "403-bare", E,
     "answered HTTP 403 \\([^)]*\\): (Forbidden)?; "
     "correlation id [^;]*; check the region",
     REC_REG},
    {"K05", "403-check-region", E,
     "answered HTTP 40[13] .*check the region: ", REC_REG},
    {"K05", "token-region-differs", W,
     "^registration: the token (is for "
     "region [a-z]+, the configured region_discovery_endpoint|document "
     "says region [a-z]+ but its api_host)",
     NULL},
    {"K02", "registration-5xx", E,
     "^registration with [^ ]+ \\(region "
     "[a-z]+, [^)]*\\) answered HTTP (5[0-9]{2}|429|408) ",
     REC_REG},

    /* The cloud's clock against ours (connector/control.c) */
    {"K17", "clock-days", W,
     "^the cloud.s clock at [^ ]+ is " OFF_DAYS " s from ours",
     "^the cloud.s clock at [^ ]+ agrees with ours"},
    {"K17", "cert-expired-by-cloud", W,
     "^[^ ]+ \\(region [a-z]+\\) refused the certificate of device [^ ]+ "
     "as expired by its clock",
     "^(renewed the certificate|enrolled at) "},
    {"K24", "clock-day", W,
     "^the cloud.s clock at [^ ]+ is " OFF_DAY " s from ours",
     "^the cloud.s clock at [^ ]+ agrees with ours"},
    {"K16", "clock-hour", W,
     "^the cloud.s clock at [^ ]+ is " OFF_HOUR " s from ours",
     "^the cloud.s clock at [^ ]+ agrees with ours"},
    {"K09", "clock-minutes", W,
     "^the cloud.s clock at [^ ]+ is " OFF_MIN " s from ours",
     "^the cloud.s clock at [^ ]+ agrees with ours"},

    /* Trust: the narrow issuers first */
    {"K18", "est-inspected", E,
     "est\\.sco\\.cisco\\.com[^ ]* .*x509: unable to get local "
     "issuer certificate: .*" INSPECTED,
     "^enrolled at "},
    {"K14", "inspected", E,
     "x509: unable to get local issuer certificate: .*" INSPECTED, REC_ANY},
    {"K13", "untrusted-root", E,
     "x509: (unable to get local issuer "
     "certificate|self-signed certificate|certificate signed by unknown "
     "authority)",
     REC_ANY},
    {"K15", "server-cert-window", E,
     "x509: certificate (has expired|is not yet valid)", REC_ANY},
    {"K15", "server-cert-expired", E,
     "^certificate: the server certificate of [^ ]+ .* expired at ", REC_ANY},
    {"K15", "lws-cert-window", E,
     "^lws: SSL error: certificate (has expired|is not yet valid)", REC_ANY},

    /* Client certificate and renewal */
    {"K12", "renewal-failed", E,
     "^renewal at est[^ ]* \\(region [a-z]+[^)]*\\) failed: ",
     "^renewed the certificate of device "},
    {"K12", "renewal-late", W,
     "^the certificate of device [^ ]+ expires "
     "in -?[0-9]+ s and could not be renewed yet",
     "^renewed the certificate of device "},
    {"K12", "client-cert-expired", E,
     "^certificate: the client certificate of device .* expired at ",
     "^(renewed the certificate|enrolled at) "},
    {"K12", "renewal-refused", W,
     "^renewal: est refused the expired certificate of device ",
     "^enrolled at "},
    {"K12", "client-cert-refused", E,
     "the server sent alert \"[^\"]*\": "
     "it refused the client certificate we offered",
     REC_WS},

    /* Unreachable api-sse: registration's connect and name phases */
    {"K02", "registration-unreachable", E,
     "^registration with [^ ]+ "
     "\\(region [a-z]+\\) failed: phase (resolve|connect): ",
     REC_REG},

    /* WebSockets (connector/pipeline.c, connector/mx.c) */
    {"K03", "eventing-resolve", E,
     "^eventing connection to [^ ]+ "
     "\\(region [a-z]+, phase resolve\\) failed: ",
     REC_EVENTING},
    {"K23", "upgrade-refused", E,
     "failed: websocket upgrade refused: HTTP [0-9]{3}", REC_WS},
    {"K23", "lws-bad-upgrade", W,
     "^lws: lws_client_handshake: got bad HTTP response", REC_WS},
    {"K30", "acks-withheld", E,
     "failed: no acknowledgement for [0-9]+ ms "
     "with [0-9]+ events unacknowledged",
     REC_EVENTING},
    {"K27", "watchdog", E, "failed: no heartbeat or message for [0-9]+ ms",
     REC_MESSAGING},
    {"K27", "pong-missing", E, "failed: no pong for [0-9]+ ms after a ping",
     REC_EVENTING},
    {"K27", "dropped-1006", E,
     "failed: connection dropped without a close \\(1006\\)", REC_WS},
    /* Only the codes a restarting or overloaded service sends; a
     * protocol error (1002), a policy close (1008), an internal error
     * (1011) or an application's 4xxx is no rolling restart. */
    {"K26", "peer-close", E,
     "failed: closed by the peer with code 10(00|01|12|13)([^0-9]|$)", REC_WS},
    {"K28", "tls-deadline", E,
     "failed: (phase tls: )?tls handshake with "
     "[^ ]+( through proxy [^ ]+)?: timed out after [0-9]+ ms",
     REC_WS},
    {"K28", "connect-deadline", E,
     "phase (connect|proxy)\\) failed: .*"
     "(connect: connection timed out|no answer to CONNECT [^ ]+ within "
     "[0-9]+ ms)",
     REC_WS},
    {"K28", "registration-proxy-deadline", E,
     "phase proxy: proxy [^ ]+: no answer to CONNECT [^ ]+ within [0-9]+ ms",
     REC_REG},

    /* EventHandler (connector/pipeline.c) */
    {"K29", "eventhandler-dial", E, "^events: dial unix [^ ]+: connect: ",
     "^events: connected to EventHandler at "},
    {"K29", "eventhandler-gone", W, "^events: EventHandler at [^ ]+ went away",
     "^events: connected to EventHandler at "},
};
const size_t triage_nsigs = sizeof(triage_sigs) / sizeof(triage_sigs[0]);
