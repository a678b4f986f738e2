/*
 * generate.c: synthetic intrusion, connection and file events.
 *
 * This runs once per event sent, so it allocates nothing and formats no
 * field with printf. An event is first collected as a list of fields
 * pointing at table values; then, knowing every field's length, render()
 * keeps the required fields and, in order, the optional ones that fit the
 * target size, writes them with a tiny JSON writer, and lets the closing
 * URL take up the room that is left.
 */
#include "generate.h"

#include "envelope.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(g, a) ((a)[rnd_below((g), COUNT_OF(a))])

/* Buffer for events at their natural length (all fields, short URL). */
#define NATURAL_CAP 4096
#define INSTANCES 4

/* The invented sensor that every generated event comes from. */
static const char device_uuid[] = "8d3f6c1e-2a47-4b9e-9c05-71e2d4a6b8f0";

/* ---- event fields and the JSON writer --------------------------------- */

#define MAX_FIELDS 48

/* One member of the event, kept until the event is written. */
struct field {
    const char *key;
    const char *str; /* NULL for a number */
    uint64_t num;
    bool optional;
};

/*
 * An event before it is written: its members in order, then the URL field
 * that ends it (url_key NULL when it has none). Values point at tables or
 * at the text buffers here, which live as long as the event.
 */
struct event {
    struct field f[MAX_FIELDS];
    size_t n;
    const char *url_key;
    char url[256];
    char src[16], dst[16], sha[65];
};

static void
add_str(struct event *e, const char *key, const char *val, bool optional)
{
    if (val == NULL || e->n == MAX_FIELDS)
        return;
    e->f[e->n++] = (struct field){key, val, 0, optional};
}

static void
add_num(struct event *e, const char *key, uint64_t val, bool optional)
{
    if (e->n == MAX_FIELDS)
        return;
    e->f[e->n++] = (struct field){key, NULL, val, optional};
}

static size_t
digits(uint64_t v)
{
    size_t n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static size_t
escaped_len(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        n += c == '"' || c == '\\' ? 2 : c < 0x20 ? 6 : 1;
    }
    return n;
}

/* Bytes of `,"key":value` (or `{` for the first member). */
static size_t
field_len(const struct field *f)
{
    size_t n = 1 + 1 + strlen(f->key) + 2;

    return n + (f->str != NULL ? 2 + escaped_len(f->str) : digits(f->num));
}

/* Bytes of the closing `,"key":"url"}`, or of `}` without a URL. */
static size_t
tail_len(const struct event *e)
{
    if (e->url_key == NULL)
        return 1;
    return 1 + 1 + strlen(e->url_key) + 2 + 1 + strlen(e->url) + 2;
}

struct jb {
    char *p;
    size_t len;
};

static void
jb_raw(struct jb *b, const char *s, size_t n)
{
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void
jb_char(struct jb *b, char c)
{
    b->p[b->len++] = c;
}

static void
jb_key(struct jb *b, const char *key)
{
    jb_char(b, b->len == 0 ? '{' : ',');
    jb_char(b, '"');
    jb_raw(b, key, strlen(key));
    jb_raw(b, "\":", 2);
}

static void
jb_escaped(struct jb *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            jb_char(b, '\\');
            jb_char(b, (char)c);
        } else if (c < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

            jb_raw(b, u, sizeof(u));
        } else {
            jb_char(b, (char)c);
        }
    }
}

static void
jb_u64(struct jb *b, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[sizeof(tmp) - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    jb_raw(b, tmp + sizeof(tmp) - n, n);
}

static void
jb_field(struct jb *b, const struct field *f)
{
    jb_key(b, f->key);
    if (f->str == NULL) {
        jb_u64(b, f->num);
        return;
    }
    jb_char(b, '"');
    jb_escaped(b, f->str);
    jb_char(b, '"');
}

/* ---- generator state --------------------------------------------------- */

struct eh_gen {
    uint64_t rng;
    size_t size;
    uint64_t conn_id[INSTANCES + 1];
    time_t cached_sec; /* second that buf_time was made for */
    char buf_time[32];
    char *buf;
    size_t cap;
};

/* splitmix64: fast, and any seed (0 included) gives a good stream. */
static uint64_t
rnd(struct eh_gen *g)
{
    uint64_t z = (g->rng += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t
rnd_below(struct eh_gen *g, uint64_t n)
{
    return rnd(g) % n;
}

static uint64_t
rnd_range(struct eh_gen *g, uint64_t lo, uint64_t hi)
{
    return lo + rnd_below(g, hi - lo + 1);
}

struct eh_gen *
eh_gen_new(uint64_t seed, size_t size)
{
    struct eh_gen *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return NULL;
    g->rng = seed;
    g->size = size;
    g->cap = size != 0 ? size : NATURAL_CAP;
    g->buf = malloc(g->cap + 1);
    if (g->buf == NULL) {
        free(g);
        return NULL;
    }
    /* Each Snort instance numbers its own connections. */
    for (int i = 1; i <= INSTANCES; i++)
        g->conn_id[i] = rnd_range(g, 10000, 60000);
    g->cached_sec = (time_t)-1;
    return g;
}

void
eh_gen_free(struct eh_gen *g)
{
    if (g == NULL)
        return;
    free(g->buf);
    free(g);
}

/* ---- value tables (ftd-events.md sections 2 to 6) --------------------- */

enum dir {
    DIR_IN,   /* outside host opens a connection to an inside server */
    DIR_OUT,  /* inside client opens a connection to the internet */
    DIR_RESP, /* seen in the server's answer: outside server, inside client */
    DIR_DMZ,  /* inside client to a DMZ server */
};

struct rule {
    unsigned gid, sid, rev, priority;
    const char *message;
    const char *classification;
    unsigned port;
    const char *proto;
    const char *app;    /* ApplicationProtocol, NULL when none */
    const char *client; /* Client, NULL when none */
    enum dir dir;
    const char *path; /* HTTP path, NULL for non-HTTP rules */
};

/* The first four are public rules; the rest are invented local rules
 * (SIDs from 1000000) named with Talos category prefixes. */
static const struct rule rules[] = {
    {1, 17279, 12, 1,
     "SERVER-WEBAPP Ipswitch WhatsUp Small Business directory traversal "
     "attempt",
     "Attempted User Privilege Gain", 80, "tcp", "HTTP", "cURL", DIR_IN,
     "/scripts/..%2f..%2f..%2fwindows/win.ini"},
    {1, 13360, 6, 3, "APP-DETECT failed FTP login attempt", "Misc Activity", 21,
     "tcp", "FTP", "FTP client", DIR_RESP, NULL},
    {133, 29, 2, 2, "DCE2_EVENT__CO_BAD_PDU_TYPE", "Potentially Bad Traffic",
     135, "tcp", "DCE/RPC", NULL, DIR_DMZ, NULL},
    {134, 3, 1, 3, "PPM_EVENT_PACKET_ABORTED", "Not Suspicious Traffic", 443,
     "tcp", "HTTPS", "Chrome", DIR_OUT, NULL},
    {1, 1000101, 1, 1, "MALWARE-CNC Example.Trojan outbound beacon attempt",
     "A Network Trojan was Detected", 80, "tcp", "HTTP", NULL, DIR_OUT,
     "/gate.php?bot="},
    {1, 1000102, 2, 1,
     "POLICY-OTHER example remote administration tool download attempt",
     "Potential Corporate Privacy Violation", 80, "tcp", "HTTP", "Chrome",
     DIR_OUT, "/files/remote-admin-setup.exe"},
    {1, 1000103, 1, 2, "PROTOCOL-DNS excessive TXT record query length",
     "Potentially Bad Traffic", 53, "udp", "DNS", "DNS client", DIR_OUT, NULL},
    {1, 1000104, 3, 3, "INDICATOR-SCAN example TCP port sweep",
     "Detection of a Network Scan", 22, "tcp", NULL, NULL, DIR_IN, NULL},
    {1, 1000105, 1, 1,
     "FILE-PDF example embedded JavaScript launch action attempt",
     "Attempted User Privilege Gain", 80, "tcp", "HTTP", "Firefox", DIR_RESP,
     "/docs/statement_0514.pdf"},
    {1, 1000106, 2, 2, "OS-WINDOWS example SMB malformed negotiate request",
     "Attempted Denial of Service", 445, "tcp", "SMB", NULL, DIR_DMZ, NULL},
    {1, 1000107, 1, 1, "BROWSER-IE example use-after-free attempt",
     "Attempted User Privilege Gain", 80, "tcp", "HTTP", "Internet Explorer",
     DIR_RESP, "/landing/index.html"},
    {1, 1000108, 1, 1, "SERVER-WEBAPP example SQL injection attempt",
     "Web Application Attack", 80, "tcp", "HTTP", "cURL", DIR_IN,
     "/login.php?user=admin%27%20OR%201%3D1--"},
};

static const char *const intrusion_policies[] = {
    "Balanced Security and Connectivity",
    "Security Over Connectivity",
    "Corp-IPS-Policy",
};

/* Pre-7.2 wording; NULL leaves the field out (nothing was dropped). */
static const char *const inline_results[] = {
    "Dropped",
    "Would have dropped",
    NULL,
};

static const char *const users[] = {
    "No Authentication Required",
    "No Authentication Required",
    "Not Found",
    "EXAMPLE\\jdoe",
    "EXAMPLE\\asmith",
};

static const char *const web_hosts[] = {
    "www.example.com",   "downloads.example.net", "cdn.example.org",
    "files.example.com", "updates.example.net",   "portal.example.org",
};

static const char *const bad_hosts[] = {
    "bad.example.com",   "cnc.example.net", "login-verify.example.org",
    "track.example.com", "dl.example.net",  "mail-secure.example.org",
};

static const char *const bad_paths[] = {
    "/favicon.ico",     "/wp-content/plugins/x/load.php",
    "/account/verify",  "/dl/invoice.zip",
    "/stats/pixel.gif", "/api/v2/checkin",
};

static const char *const web_paths[] = {
    "/",
    "/index.html",
    "/news/today",
    "/search?q=weather",
    "/images/logo.png",
    "/static/app.js",
};

static const char *const user_agents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 "
    "Firefox/125.0",
    "curl/8.5.0",
};

static const char *const browsers[] = {"Chrome", "Firefox", "cURL"};

static const char *const ip_si_out[] = {
    "Malware", "CnC", "Bots", "Cryptomining", "Exploitkit", "High_risk",
};

static const char *const ip_si_in[] = {
    "Attackers", "Bogon", "Tor_exit_node", "Open_proxy", "Spam",
};

static const char *const url_si[] = {
    "Phishing", "Malware", "Exploitkit", "Suspicious", "Spyware",
};

static const char *const dns_si[] = {"Dga", "CnC", "Malware", "Phishing"};

static const char *const allow_rules[] = {
    "Allow-Web",
    "Allow-Outbound",
    "Inspect-Internet",
};

enum si_kind { SI_IP_MONITOR, SI_URL, SI_IP_BLOCK, SI_DNS };

struct file_case {
    const char *action;
    const char *disposition; /* SHA_Disposition, NULL when not looked up */
    const char *threat;      /* ThreatName, NULL when left out */
    int score;               /* ThreatScore, -1 when left out */
    const char *type;
    const char *name;
    unsigned size;
    const char *sha; /* NULL: an invented hash per event */
    const char *storage;
    const char *sandbox;
    const char *direction;
    const char *path;
};

static const struct file_case file_cases[] = {
    {"Malware Block", "Malware", "Win.Ransomware.Eicar::95.sbx.tg", 76, "ZIP",
     "eicar_com.zip", 184,
     "2546dcffc5ad854d4ddc64fbf056871cd5a00f2471cb7a5bfd4ac23b6e9eedad",
     "Not Stored (Disposition Was Pending)", "File Size Is Too Small",
     "Download", "/eicar_com.zip"},
    {"Malware Block", "Malware", "Pdf.Exploit.Pdfka::100.sbx.tg", 100, "PDF",
     "invoice_0514.pdf", 48213, NULL, "File Stored", "Analysis Complete",
     "Download", "/billing/invoice_0514.pdf"},
    {"Malware Cloud Lookup", "Clean", NULL, -1, "MSEXE", "setup_x64.exe",
     1843200, NULL, "File Stored", NULL, "Download", "/releases/setup_x64.exe"},
    {"Detect", NULL, "Unknown", -1, "PDF", "quarterly_report.pdf", 302114, NULL,
     NULL, NULL, "Upload", "/upload"},
    {"Block", NULL, NULL, -1, "MSCAB", "update_kb.cab", 912384, NULL, NULL,
     NULL, "Download", "/msdownload/update_kb.cab"},
    {"Malware Cloud Lookup", "Unknown", NULL, -1, "ZIP", "archive.zip", 75530,
     NULL, "File Stored", "Sent for Analysis", "Download",
     "/share/archive.zip"},
    {"Cloud Lookup Timeout", "Unavailable", NULL, -1, "ELF", "agent.bin",
     653312, NULL, "Unable to Store File", "Failure (Network Issue)",
     "Download", "/pkg/agent.bin"},
    {"Custom Detection Block", "Custom Detection", "Invalid ID", -1, "MSEXE",
     "tool.exe", 24576, NULL, "File Stored", NULL, "Download",
     "/tools/tool.exe"},
};

static const char spero_na[] = "Spero detection not performed on file";

/* ---- small value makers ------------------------------------------------ */

static void
fmt_ipv4(char out[16], const char *prefix, unsigned last)
{
    size_t n = strlen(prefix);
    char digits[4];
    size_t d = 0;

    memcpy(out, prefix, n);
    do {
        digits[d++] = (char)('0' + last % 10);
        last /= 10;
    } while (last != 0);
    while (d > 0)
        out[n++] = digits[--d];
    out[n] = '\0';
}

static void
inside_ip(struct eh_gen *g, char out[16])
{
    fmt_ipv4(out, "192.0.2.", (unsigned)rnd_range(g, 10, 250));
}

static void
outside_ip(struct eh_gen *g, char out[16])
{
    fmt_ipv4(out, rnd_below(g, 2) ? "198.51.100." : "203.0.113.",
             (unsigned)rnd_range(g, 1, 254));
}

static unsigned
ephemeral_port(struct eh_gen *g)
{
    return (unsigned)rnd_range(g, 49152, 65535);
}

/* FirstPacketSecond: a few seconds before now, ISO 8601 UTC. */
static const char *
first_packet_time(struct eh_gen *g, unsigned ago)
{
    time_t now = time(NULL) - (time_t)ago;
    struct tm tm;

    if (now != g->cached_sec) {
        gmtime_r(&now, &tm);
        strftime(g->buf_time, sizeof(g->buf_time), "%Y-%m-%dT%H:%M:%SZ", &tm);
        g->cached_sec = now;
    }
    return g->buf_time;
}

static void
random_sha256(struct eh_gen *g, char out[65])
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < 64; i += 16) {
        uint64_t r = rnd(g);

        for (int j = 0; j < 16; j++, r >>= 4)
            out[i + j] = hex[r & 15];
    }
    out[64] = '\0';
}

/* The connection key that opens every event body. */
static void
add_connection_key(struct eh_gen *g, struct event *e, unsigned ago)
{
    unsigned inst = (unsigned)rnd_range(g, 1, INSTANCES);

    g->conn_id[inst] += rnd_range(g, 1, 37);
    add_str(e, "DeviceUUID", device_uuid, false);
    add_num(e, "InstanceID", inst, false);
    add_str(e, "FirstPacketSecond", first_packet_time(g, ago), false);
    add_num(e, "ConnectionID", g->conn_id[inst] % 1000000, false);
}

static void
add_tuple(struct event *e, unsigned sport, unsigned dport, const char *proto)
{
    add_str(e, "SrcIP", e->src, false);
    add_str(e, "DstIP", e->dst, false);
    add_num(e, "SrcPort", sport, false);
    add_num(e, "DstPort", dport, false);
    add_str(e, "Protocol", proto, false);
}

static void
add_interfaces(struct event *e, bool inbound)
{
    add_str(e, "IngressInterface", inbound ? "outside" : "inside", true);
    add_str(e, "EgressInterface", inbound ? "inside" : "outside", true);
    add_str(e, "IngressZone", inbound ? "OUTSIDE-ZONE" : "INSIDE-ZONE", true);
    add_str(e, "EgressZone", inbound ? "INSIDE-ZONE" : "OUTSIDE-ZONE", true);
}

static void
set_url(struct event *e, const char *key, const char *host, const char *path)
{
    size_t hl = strlen(host), pl = strlen(path);

    if (7 + hl + pl + 1 > sizeof(e->url))
        return;
    memcpy(e->url, "http://", 7);
    memcpy(e->url + 7, host, hl);
    memcpy(e->url + 7 + hl, path, pl + 1);
    e->url_key = key;
}

/*
 * Write the event into g's buffer. With a target size, the optional
 * fields that fit go in, in order, and the URL takes what is left: a
 * query parameter of hex digits, the shape of a tracking token, so the
 * URL still reads as one.
 */
static int
render(struct eh_gen *g, const struct event *e, size_t *out_len)
{
    static const char hex[] = "0123456789abcdef";
    bool keep[MAX_FIELDS];
    size_t total = tail_len(e), fill = 0;
    struct jb b = {.p = g->buf, .len = 0};
    uint64_t r = 0;

    for (size_t i = 0; i < e->n; i++) {
        keep[i] = !e->f[i].optional;
        if (keep[i])
            total += field_len(&e->f[i]);
    }
    for (size_t i = 0; i < e->n; i++) {
        size_t len = field_len(&e->f[i]);

        if (keep[i] || (g->size != 0 && total + len > g->size))
            continue;
        keep[i] = true;
        total += len;
    }
    if (total > g->cap || (g->size != 0 && total > g->size))
        return -1;
    if (g->size != 0) {
        if (e->url_key == NULL && total != g->size)
            return -1;
        fill = g->size - total;
    }
    for (size_t i = 0; i < e->n; i++)
        if (keep[i])
            jb_field(&b, &e->f[i]);
    if (e->url_key == NULL) {
        jb_char(&b, '}');
        *out_len = b.len;
        return 0;
    }
    jb_key(&b, e->url_key);
    jb_char(&b, '"');
    jb_raw(&b, e->url, strlen(e->url));
    if (fill >= 3) {
        jb_char(&b, strchr(e->url, '?') != NULL ? '&' : '?');
        jb_raw(&b, "t=", 2);
        fill -= 3;
    }
    for (size_t i = 0; i < fill; i++) {
        if (i % 16 == 0)
            r = rnd(g);
        jb_char(&b, hex[r & 15]);
        r >>= 4;
    }
    jb_raw(&b, "\"}", 2);
    *out_len = b.len;
    return 0;
}

/* ---- the event kinds --------------------------------------------------- */

static void
gen_intrusion(struct eh_gen *g, struct event *e)
{
    const struct rule *r;
    unsigned sport, dport;
    bool inbound;

    /* With a target size every event needs a URI to pad: HTTP rules only. */
    do
        r = &rules[rnd_below(g, COUNT_OF(rules))];
    while (g->size != 0 && r->path == NULL);
    switch (r->dir) {
    case DIR_IN:
    case DIR_RESP:
        outside_ip(g, e->src);
        inside_ip(g, e->dst);
        sport = r->dir == DIR_IN ? ephemeral_port(g) : r->port;
        dport = r->dir == DIR_IN ? r->port : ephemeral_port(g);
        inbound = true;
        break;
    case DIR_DMZ:
    case DIR_OUT:
    default:
        inside_ip(g, e->src);
        if (r->dir == DIR_DMZ)
            inside_ip(g, e->dst);
        else
            outside_ip(g, e->dst);
        sport = ephemeral_port(g);
        dport = r->port;
        inbound = false;
        break;
    }
    if (r->path != NULL)
        set_url(e, "URI", r->dir == DIR_IN ? e->dst : PICK(g, bad_hosts),
                r->path);

    add_str(e, "EventType", "IntrusionEvent", false);
    add_connection_key(g, e, (unsigned)rnd_below(g, 3));
    add_tuple(e, sport, dport, r->proto);
    add_interfaces(e, inbound);
    add_num(e, "Priority", r->priority, false);
    add_num(e, "GID", r->gid, false);
    add_num(e, "SID", r->sid, false);
    add_num(e, "Revision", r->rev, false);
    add_str(e, "Message", r->message, false);
    add_str(e, "Classification", r->classification, false);
    add_str(e, "User", PICK(g, users), true);
    add_str(e, "Client", r->client, true);
    add_str(e, "ApplicationProtocol", r->app, true);
    add_str(e, "IntrusionPolicy", PICK(g, intrusion_policies), true);
    add_str(e, "ACPolicy", "Corp-Access-Policy", true);
    add_str(e, "AccessControlRuleName", PICK(g, allow_rules), true);
    add_str(e, "NAPPolicy", "Balanced Security and Connectivity", true);
    add_str(e, "InlineResult", PICK(g, inline_results), true);
}

/* Counters of a finished connection: a blocked one carries little. */
static void
add_counters(struct eh_gen *g, struct event *e, bool blocked)
{
    uint64_t ipk = blocked ? 1 : rnd_range(g, 3, 40);
    uint64_t rpk = blocked ? 0 : rnd_range(g, 2, 60);

    add_num(e, "ConnectionDuration", blocked ? 0 : rnd_range(g, 1, 60), true);
    add_num(e, "InitiatorPackets", ipk, true);
    add_num(e, "ResponderPackets", rpk, true);
    add_num(e, "InitiatorBytes", blocked ? 66 : ipk * rnd_range(g, 60, 400),
            true);
    add_num(e, "ResponderBytes", rpk * rnd_range(g, 60, 1400), true);
}

static void
add_si_fields(struct eh_gen *g, struct event *e, enum si_kind kind,
              bool blocked)
{
    switch (kind) {
    case SI_IP_MONITOR:
        add_str(e, "SecIntMatchingIP", "Destination", false);
        add_str(e, "IPReputationSICategory", PICK(g, ip_si_out), false);
        break;
    case SI_IP_BLOCK:
        add_str(e, "SecIntMatchingIP", "Source", false);
        add_str(e, "IPReputationSICategory", PICK(g, ip_si_in), false);
        break;
    case SI_URL:
        add_str(e, "URLSICategory", PICK(g, url_si), false);
        break;
    case SI_DNS:
        add_str(e, "DNSQuery", PICK(g, bad_hosts), false);
        add_str(e, "DNSSICategory", PICK(g, dns_si), false);
        add_str(e, "DNSRecordType", "a host address", true);
        if (blocked)
            add_str(e, "DNSResponseType", "Non-Existent Domain", true);
        else
            add_num(e, "DNS_TTL", rnd_range(g, 60, 86400), true);
        break;
    }
}

/*
 * A Security Intelligence hit (CONNECTION_HIGH) or, with si false, a plain
 * allowed connection of low priority (CONNECTION_ALL).
 */
static void
gen_connection(struct eh_gen *g, struct event *e, bool si)
{
    enum si_kind kind = SI_IP_MONITOR;
    const char *action = "Allow", *reason = NULL;
    unsigned dport = 80;
    bool blocked = false, inbound = false;

    /* With a target size only the kinds that carry a URL to pad. */
    if (si)
        kind = (enum si_kind)rnd_below(g, g->size != 0 ? 2 : 4);
    switch (kind) {
    case SI_URL:
        blocked = rnd_below(g, 2);
        action = blocked ? "Block" : "Allow";
        reason = blocked ? "URL Block" : "URL Monitor";
        set_url(e, "URL", PICK(g, bad_hosts), PICK(g, bad_paths));
        break;
    case SI_IP_BLOCK:
        action = rnd_below(g, 2) ? "Block" : "Block with reset";
        reason = "IP Block";
        blocked = inbound = true;
        dport = rnd_below(g, 2) ? 22 : 3389;
        break;
    case SI_DNS:
        blocked = rnd_below(g, 2);
        action = blocked ? "Block" : "Allow";
        reason = blocked ? "DNS Block" : "DNS Monitor";
        dport = 53;
        break;
    case SI_IP_MONITOR:
    default:
        if (si) {
            reason = "IP Monitor";
            set_url(e, "URL", PICK(g, bad_hosts), PICK(g, bad_paths));
        } else if (g->size == 0 && rnd_below(g, 3) == 0) {
            dport = rnd_below(g, 2) ? 443 : 53;
        } else {
            set_url(e, "URL", PICK(g, web_hosts), PICK(g, web_paths));
        }
        break;
    }
    if (inbound) {
        outside_ip(g, e->src);
        inside_ip(g, e->dst);
    } else {
        inside_ip(g, e->src);
        outside_ip(g, e->dst);
    }

    add_str(e, "EventType", "ConnectionEvent", false);
    add_str(e, "EventPriority", si ? "High" : "Low", false);
    add_connection_key(g, e, (unsigned)rnd_range(g, 1, 30));
    add_str(e, "AccessControlRuleAction", action, false);
    add_str(e, "AccessControlRuleReason", reason, false);
    add_tuple(e, ephemeral_port(g), dport, dport == 53 ? "udp" : "tcp");
    add_interfaces(e, inbound);
    add_str(e, "ACPolicy", "Corp-Access-Policy", true);
    if (!blocked)
        add_str(e, "AccessControlRuleName",
                dport == 53 ? "Allow-DNS" : PICK(g, allow_rules), true);
    add_str(e, "Prefilter Policy", "Default Prefilter Policy", true);
    add_str(e, "User", inbound ? "No Authentication Required" : PICK(g, users),
            true);
    if (e->url_key != NULL) {
        add_str(e, "UserAgent", PICK(g, user_agents), true);
        add_str(e, "Client", PICK(g, browsers), true);
        add_str(e, "ApplicationProtocol", "HTTP", true);
    } else if (dport == 53) {
        add_str(e, "Client", "DNS client", true);
        add_str(e, "ApplicationProtocol", "DNS", true);
    } else if (dport == 443) {
        add_str(e, "Client", PICK(g, browsers), true);
        add_str(e, "ApplicationProtocol", "HTTPS", true);
    }
    add_counters(g, e, blocked);
    add_str(e, "NAPPolicy", "Balanced Security and Connectivity", true);
    if (si)
        add_si_fields(g, e, kind, blocked);
}

static void
gen_file(struct eh_gen *g, struct event *e)
{
    const struct file_case *c = &file_cases[rnd_below(g, COUNT_OF(file_cases))];

    inside_ip(g, e->src);
    outside_ip(g, e->dst);
    set_url(e, "URI", PICK(g, web_hosts), c->path);
    if (c->sha == NULL)
        random_sha256(g, e->sha);

    add_str(e, "EventType", "FileEvent", false);
    add_connection_key(g, e, (unsigned)rnd_range(g, 1, 5));
    add_tuple(e, ephemeral_port(g), 80, "tcp");
    add_str(e, "FileDirection", c->direction, false);
    add_str(e, "FileAction", c->action, false);
    add_str(e, "FileSHA256", c->sha != NULL ? c->sha : e->sha, false);
    add_str(e, "SHA_Disposition", c->disposition, false);
    add_str(e, "SperoDisposition", spero_na, true);
    add_str(e, "ThreatName", c->threat, false);
    if (c->score >= 0)
        add_num(e, "ThreatScore", (uint64_t)c->score, false);
    add_str(e, "FileName", c->name, false);
    add_str(e, "FileType", c->type, false);
    add_num(e, "FileSize", c->size, false);
    add_str(e, "ApplicationProtocol", "HTTP", true);
    add_str(e, "Client", PICK(g, browsers), true);
    add_str(e, "User", PICK(g, users), true);
    add_str(e, "FilePolicy", "Malware-and-File-Policy", true);
    add_str(e, "FileStorageStatus", c->storage, true);
    add_str(e, "FileSandboxStatus", c->sandbox, true);
}

int
eh_gen_event(struct eh_gen *g, int type, const char **out, size_t *len)
{
    struct event e;

    e.n = 0;
    e.url_key = NULL;
    switch (type) {
    case SSE_EV_INTRUSION:
        gen_intrusion(g, &e);
        break;
    case SSE_EV_CONNECTION_HIGH:
        gen_connection(g, &e, true);
        break;
    case SSE_EV_CONNECTION_ALL:
        gen_connection(g, &e, false);
        break;
    case SSE_EV_FILE_MALWARE:
        gen_file(g, &e);
        break;
    default:
        return -1;
    }
    if (render(g, &e, len) < 0)
        return -1;
    g->buf[*len] = '\0';
    *out = g->buf;
    return 0;
}
