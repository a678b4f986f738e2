/*
 * persist.c: state.json in data_dir.
 */
#include "persist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "certwatch.h"
#include "clog.h"

#define STATE_FILE "state.json"

static void copy_str(json_t *obj, const char *key, char *dst, size_t len);

static int
write_atomic(const char *path, const char *text, mode_t mode)
{
    char tmp[PATH_MAX + 8];
    size_t len = strlen(text), off = 0;
    int fd;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* What registration learnt, kept with the token: where it registers (the
 * token's region), what it last heard, and what to do about it. */
static json_t *
reg_json(const struct conn_reg *r)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:I}",
                     "api_host", r->api_host, "region", r->region,
                     "token_region", r->token_region, "tenant_expected",
                     r->tenant_expected, "last_status",
                     (json_int_t)r->last_status, "last_code", r->last_code,
                     "verdict", r->verdict, "correlation_id", r->correlation_id,
                     "owner_region", r->owner_region, "action", r->action,
                     "refresh_s", (json_int_t)r->refresh_s);
}

static void
reg_restore(json_t *o, struct conn_reg *r)
{
    if (!json_is_object(o))
        return;
    copy_str(o, "api_host", r->api_host, sizeof(r->api_host));
    copy_str(o, "region", r->region, sizeof(r->region));
    copy_str(o, "token_region", r->token_region, sizeof(r->token_region));
    copy_str(o, "tenant_expected", r->tenant_expected,
             sizeof(r->tenant_expected));
    copy_str(o, "last_code", r->last_code, sizeof(r->last_code));
    copy_str(o, "verdict", r->verdict, sizeof(r->verdict));
    copy_str(o, "correlation_id", r->correlation_id, sizeof(r->correlation_id));
    copy_str(o, "owner_region", r->owner_region, sizeof(r->owner_region));
    copy_str(o, "action", r->action, sizeof(r->action));
    r->last_status =
        (long)json_integer_value(json_object_get(o, "last_status"));
    r->refresh_s =
        (unsigned)json_integer_value(json_object_get(o, "refresh_s"));
}

int
conn_persist(struct connector *c)
{
    char path[PATH_MAX];
    json_t *doc, *id = json_null();
    char *text;
    int rc;
    struct stat st;

    /* No data_dir, nothing kept (unit tests run without one). */
    if (stat(c->cfg.data_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    pthread_mutex_lock(&c->lock);
    if (c->enrolled)
        id = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "device_id",
                       c->id.device_id, "tenant_id", c->id.tenant_id, "region",
                       c->id.region, "cert_path", c->id.cert_path, "key_path",
                       c->id.key_path, "mx_url", c->id.mx_url, "ingest_url",
                       c->id.ingest_url, "not_before",
                       (json_int_t)c->id.cert_not_before, "not_after",
                       (json_int_t)c->id.cert_not_after);
    doc = json_pack("{s:i,s:O,s:O,s:o}", "version", 1, "context",
                    c->context != NULL ? c->context : json_null(), "activation",
                    c->activation != NULL ? c->activation : json_null(),
                    "identity", id);
    json_object_set_new(doc, "registration", reg_json(&c->reg));
    json_object_set_new(doc, "token_ever_received",
                        json_boolean(c->token_ever));
    /* A registration stopped for good stays stopped across a restart:
     * no loop through restarts either (CASES K08). */
    json_object_set_new(doc, "halt",
                        c->halted && c->halted_gen == c->generation
                            ? json_pack("{s:s,s:s}", "status",
                                        conn_status_name(c->status), "cause",
                                        c->status_cause)
                            : json_null());
    pthread_mutex_unlock(&c->lock);
    text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    if (text == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/" STATE_FILE, c->cfg.data_dir);
    rc = write_atomic(path, text, 0600);
    if (rc != 0)
        cerror("cannot keep the state in %s: %s", path, strerror(errno));
    memset(text, 0, strlen(text));
    free(text);
    return rc;
}

static void
copy_str(json_t *obj, const char *key, char *dst, size_t len)
{
    const char *v = json_string_value(json_object_get(obj, key));

    snprintf(dst, len, "%s", v != NULL ? v : "");
}

/* The restored certificate, for the expiry watch. */
static void
note_client_cert(struct connector *c)
{
    FILE *f = fopen(c->id.cert_path, "r");
    X509 *cert = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

    if (f != NULL)
        fclose(f);
    certwatch_note(c, "client", c->id.device_id, cert);
    X509_free(cert);
}

int
conn_restore(struct connector *c, char *err, size_t errlen)
{
    char path[PATH_MAX];
    json_error_t jerr;
    json_t *doc, *ctx, *act, *id, *halt;
    struct conn_identity ident;

    snprintf(path, sizeof(path), "%s/" STATE_FILE, c->cfg.data_dir);
    if (access(path, F_OK) != 0)
        return 0;
    doc = json_load_file(path, 0, &jerr);
    if (!json_is_object(doc) ||
        json_integer_value(json_object_get(doc, "version")) != 1) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column,
                 doc == NULL ? jerr.text : "not a state file of version 1");
        json_decref(doc);
        return -1;
    }
    ctx = json_object_get(doc, "context");
    act = json_object_get(doc, "activation");
    id = json_object_get(doc, "identity");
    halt = json_object_get(doc, "halt");
    memset(&ident, 0, sizeof(ident));
    if (json_is_object(id)) {
        copy_str(id, "device_id", ident.device_id, sizeof(ident.device_id));
        copy_str(id, "tenant_id", ident.tenant_id, sizeof(ident.tenant_id));
        copy_str(id, "region", ident.region, sizeof(ident.region));
        copy_str(id, "cert_path", ident.cert_path, sizeof(ident.cert_path));
        copy_str(id, "key_path", ident.key_path, sizeof(ident.key_path));
        copy_str(id, "mx_url", ident.mx_url, sizeof(ident.mx_url));
        copy_str(id, "ingest_url", ident.ingest_url, sizeof(ident.ingest_url));
        ident.cert_not_before =
            (time_t)json_integer_value(json_object_get(id, "not_before"));
        ident.cert_not_after =
            (time_t)json_integer_value(json_object_get(id, "not_after"));
    }
    pthread_mutex_lock(&c->lock);
    if (json_is_object(ctx)) {
        c->context = json_incref(ctx);
        c->generation++;
        c->status = CS_WAITING_FOR_TOKEN;
    }
    if (c->context != NULL && json_is_object(act)) {
        c->activation = json_incref(act);
        c->status = CS_REGISTERING;
        c->token_ever = true;
        reg_restore(json_object_get(doc, "registration"), &c->reg);
    }
    if (c->activation != NULL && json_is_object(halt)) {
        const char *st = json_string_value(json_object_get(halt, "status"));
        const char *cause = json_string_value(json_object_get(halt, "cause"));

        c->halted = true;
        c->halted_gen = c->generation;
        c->halted_cfg = c->config_gen;
        c->status = st != NULL && strcmp(st, "Deregistered") == 0
                        ? CS_DEREGISTERED
                        : CS_ERROR;
        snprintf(c->status_cause, sizeof(c->status_cause),
                 "%s (kept from "
                 "the last run)",
                 cause != NULL ? cause
                               : "registration "
                                 "stopped");
    }
    if (c->activation != NULL && !c->halted && ident.device_id[0] != '\0' &&
        access(ident.cert_path, R_OK) == 0 &&
        access(ident.key_path, R_OK) == 0 &&
        ident.cert_not_after > time(NULL)) {
        c->id = ident;
        c->enrolled = true;
        c->identity_gen++;
        c->device_gen++;
        c->status = CS_ENROLLED;
    }
    pthread_mutex_unlock(&c->lock);
    json_decref(doc);
    if (c->enrolled)
        note_client_cert(c);
    return 0;
}

int
conn_device_guid(const struct conn_config *cfg, char *guid, size_t len)
{
    char path[PATH_MAX], buf[64];
    unsigned char b[16];
    FILE *f;

    snprintf(path, sizeof(path), "%s/device.guid", cfg->data_dir);
    f = fopen(path, "r");
    if (f != NULL) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);

        fclose(f);
        buf[n] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        if (strlen(buf) == 36) {
            snprintf(guid, len, "%s", buf);
            return 0;
        }
    }
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(buf, sizeof(buf),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x\n",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
    if (write_atomic(path, buf, 0644) != 0)
        return -1;
    buf[36] = '\0';
    snprintf(guid, len, "%s", buf);
    return 0;
}
