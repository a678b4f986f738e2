/*
 * net.c: URL mapping and identity vhosts for the WebSocket clients.
 */
#include "net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "clog.h"
#include "hostmap.h"
#include "mx.h"
#include "pipeline.h"

#define NET_MAX_VHOSTS 8

/* Identity vhosts, newest last; lws thread only. */
static struct {
    uint64_t gen;
    struct lws_vhost *vh;
} vhosts[NET_MAX_VHOSTS];
static size_t nvhosts;

int
net_resolve_url(const struct conn_config *cfg, const char *url,
                struct net_target *t, char *err, size_t errlen)
{
    const char *p, *slash, *colon;
    size_t hlen;
    struct hostmap_entry e;
    int rc;

    memset(t, 0, sizeof(*t));
    if (strncmp(url, "wss://", 6) == 0)
        p = url + 6;
    else if (strncmp(url, "https://", 8) == 0)
        p = url + 8;
    else {
        snprintf(err, errlen, "%s: expected a wss:// or https:// URL", url);
        return -1;
    }
    slash = strchr(p, '/');
    colon = strchr(p, ':');
    if (colon != NULL && (slash == NULL || colon < slash)) {
        hlen = (size_t)(colon - p);
        t->port = (int)strtol(colon + 1, NULL, 10);
    } else {
        hlen = slash != NULL ? (size_t)(slash - p) : strlen(p);
        t->port = 443;
    }
    if (hlen == 0 || hlen >= sizeof(t->host) || t->port <= 0 ||
        t->port > 65535) {
        snprintf(err, errlen, "%s: bad host or port", url);
        return -1;
    }
    memcpy(t->host, p, hlen);
    t->host[hlen] = '\0';
    snprintf(t->path, sizeof(t->path), "%s", slash != NULL ? slash : "/");
    rc = hostmap_lookup(cfg->host_map, t->host, t->port, &e, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        snprintf(t->address, sizeof(t->address), "%s", e.address);
        t->connect_port = e.to_port;
    } else {
        snprintf(t->address, sizeof(t->address), "%s", t->host);
        t->connect_port = t->port;
    }
    return 0;
}

/* The protocols of every connector vhost (see main.c for protocol 0). */
int conn_base_callback(struct lws *wsi, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);

static struct lws_protocols protocols[5];

const struct lws_protocols *
net_protocols(void)
{
    if (protocols[0].name == NULL) {
        protocols[0].name = "sse-connector";
        protocols[0].callback = conn_base_callback;
        protocols[1].name = MX_PROTOCOL;
        protocols[1].callback = mx_callback;
        protocols[1].per_session_data_size = mx_session_size();
        protocols[1].rx_buffer_size = 65536;
        protocols[2].name = PIPELINE_SINK_PROTOCOL;
        protocols[2].callback = pipeline_callback;
        protocols[2].per_session_data_size = pipeline_session_size();
        protocols[2].rx_buffer_size = 65536;
        protocols[3].name = PIPELINE_SOURCE_PROTOCOL;
        protocols[3].callback = pipeline_callback;
        protocols[3].per_session_data_size = pipeline_session_size();
    }
    return protocols;
}

static struct lws_vhost *
identity_vhost(struct connector *c, char *err, size_t errlen)
{
    struct lws_context_creation_info info;
    struct conn_identity id;
    uint64_t gen;
    bool enrolled;
    char name[32];
    struct lws_vhost *vh;

    pthread_mutex_lock(&c->lock);
    enrolled = c->enrolled;
    gen = c->identity_gen;
    id = c->id;
    pthread_mutex_unlock(&c->lock);
    if (!enrolled) {
        snprintf(err, errlen, "not enrolled");
        return NULL;
    }
    if (nvhosts > 0 && vhosts[nvhosts - 1].gen == gen)
        return vhosts[nvhosts - 1].vh;
    if (nvhosts == NET_MAX_VHOSTS) {
        snprintf(err, errlen, "too many identities in use");
        return NULL;
    }
    snprintf(name, sizeof(name), "identity-%llu", (unsigned long long)gen);
    memset(&info, 0, sizeof(info));
    info.vhost_name = name;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = net_protocols();
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.client_ssl_cert_filepath = id.cert_path;
    info.client_ssl_private_key_filepath = id.key_path;
    info.client_ssl_ca_filepath = c->cfg.ca_file;
    vh = lws_create_vhost(c->lws, &info);
    if (vh == NULL) {
        snprintf(err, errlen, "cannot load the client certificate %s",
                 id.cert_path);
        return NULL;
    }
    vhosts[nvhosts].gen = gen;
    vhosts[nvhosts].vh = vh;
    nvhosts++;
    return vh;
}

struct lws *
net_ws_connect(struct connector *c, const char *url, const char *protocol,
               char *err, size_t errlen)
{
    struct lws_client_connect_info i;
    struct net_target t;
    struct lws_vhost *vh;
    struct lws *wsi;

    if (net_resolve_url(&c->cfg, url, &t, err, errlen) != 0)
        return NULL;
    vh = identity_vhost(c, err, errlen);
    if (vh == NULL)
        return NULL;
    memset(&i, 0, sizeof(i));
    i.context = c->lws;
    i.vhost = vh;
    i.address = t.address;
    i.port = t.connect_port;
    i.host = t.host; /* SNI, Host header and verification */
    i.origin = t.host;
    i.path = t.path;
    i.protocol = protocol;
    i.local_protocol_name = protocol;
    i.ssl_connection = LCCSCF_USE_SSL;
    if (!c->cfg.sink_validate_ssl)
        i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
                            LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                            LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
    wsi = lws_client_connect_via_info(&i);
    if (wsi == NULL)
        snprintf(err, errlen, "cannot start a connection to %s (%s:%d)", t.host,
                 t.address, t.connect_port);
    return wsi;
}

void
net_gc(struct connector *c)
{
    /* Keep the newest; older vhosts go once the identity moved on. lws
     * closes what still uses them. */
    while (nvhosts > 1) {
        lws_vhost_destroy(vhosts[0].vh);
        memmove(&vhosts[0], &vhosts[1], (nvhosts - 1) * sizeof(vhosts[0]));
        nvhosts--;
    }
}
