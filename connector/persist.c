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

#include "clog.h"

#define STATE_FILE "state.json"

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

int
conn_restore(struct connector *c, char *err, size_t errlen)
{
    char path[PATH_MAX];
    json_error_t jerr;
    json_t *doc, *ctx, *act, *id;
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
    }
    if (c->activation != NULL && ident.device_id[0] != '\0' &&
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
