/*
 * registry.c: tokens and devices in two growable arrays behind one lock.
 * A lab holds tens of them; a linear search is the clearest structure.
 */
#include "registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "hosts.h"

struct token {
    char value[SIM_TOKEN_LEN + 1];
    char tenant[SIM_ID_LEN];
    char region[8];
    time_t expires;
    char claimed_by[64]; /* guid of the device that used it, "" if none */
};

struct sim_registry {
    pthread_mutex_t lock;
    struct token *tokens;
    size_t ntokens;
    struct sim_device *devices;
    size_t ndevices;
};

static const char alnum[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* len random alphanumerics, unbiased (rejection sampling). */
static int
random_alnum(char *out, size_t len)
{
    size_t n = 0;

    while (n < len) {
        unsigned char b[32];

        if (RAND_bytes(b, sizeof(b)) != 1)
            return -1;
        for (size_t i = 0; i < sizeof(b) && n < len; i++)
            if (b[i] < 248) /* 248 = 4 * 62 */
                out[n++] = alnum[b[i] % 62];
    }
    out[len] = '\0';
    return 0;
}

static int
random_uuid(char out[SIM_ID_LEN])
{
    unsigned char b[16];

    if (RAND_bytes(b, sizeof(b)) != 1)
        return -1;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(out, SIM_ID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

struct sim_registry *
sim_registry_new(void)
{
    struct sim_registry *r = calloc(1, sizeof(*r));

    if (r != NULL)
        pthread_mutex_init(&r->lock, NULL);
    return r;
}

void
sim_registry_free(struct sim_registry *r)
{
    if (r == NULL)
        return;
    OPENSSL_cleanse(r->tokens, r->ntokens * sizeof(*r->tokens));
    OPENSSL_cleanse(r->devices, r->ndevices * sizeof(*r->devices));
    free(r->tokens);
    free(r->devices);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int
sim_registry_mint(struct sim_registry *r, const char *tenant,
                  const char *region, time_t now, long ttl,
                  char token[SIM_TOKEN_LEN + 1], time_t *expires)
{
    struct token t, *grown;

    memset(&t, 0, sizeof(t));
    if (random_alnum(t.value, SIM_TOKEN_LEN) != 0)
        return -1;
    snprintf(t.tenant, sizeof(t.tenant), "%s", tenant);
    snprintf(t.region, sizeof(t.region), "%s", region);
    t.expires = now + ttl;
    pthread_mutex_lock(&r->lock);
    grown = realloc(r->tokens, (r->ntokens + 1) * sizeof(*grown));
    if (grown == NULL) {
        pthread_mutex_unlock(&r->lock);
        return -1;
    }
    r->tokens = grown;
    r->tokens[r->ntokens++] = t;
    pthread_mutex_unlock(&r->lock);
    memcpy(token, t.value, SIM_TOKEN_LEN + 1);
    *expires = t.expires;
    return 0;
}

static struct token *
find_token(struct sim_registry *r, const char *value)
{
    for (size_t i = 0; i < r->ntokens; i++)
        if (CRYPTO_memcmp(r->tokens[i].value, value, SIM_TOKEN_LEN) == 0 &&
            strlen(value) == SIM_TOKEN_LEN)
            return &r->tokens[i];
    return NULL;
}

static struct sim_device *
find_device_by_guid(struct sim_registry *r, const char *guid)
{
    for (size_t i = 0; i < r->ndevices; i++)
        if (strcmp(r->devices[i].guid, guid) == 0)
            return &r->devices[i];
    return NULL;
}

static int
fresh_credential(struct sim_device *d)
{
    char tail[13];

    if (random_alnum(tail, 12) != 0 || random_alnum(d->est_password, 24))
        return -1;
    snprintf(d->est_user, sizeof(d->est_user), "est-%s", tail);
    d->est_used = 0;
    return 0;
}

enum sim_reg_result
sim_registry_register(struct sim_registry *r, const char *token,
                      const char *region, const char *guid, const char *name,
                      time_t now, bool replace, struct sim_device *out,
                      struct sim_device *replaced)
{
    struct token *t;
    struct sim_device *d;
    enum sim_reg_result rc = SIM_REG_OK;

    if (replaced != NULL)
        memset(replaced, 0, sizeof(*replaced));
    pthread_mutex_lock(&r->lock);
    t = find_token(r, token);
    if (t == NULL) {
        rc = SIM_REG_BAD_TOKEN;
        goto out;
    }
    if (strcmp(t->region, region) != 0) {
        rc = SIM_REG_WRONG_REGION;
        goto out;
    }
    if (now >= t->expires ||
        (t->claimed_by[0] != '\0' && strcmp(t->claimed_by, guid) != 0)) {
        rc = SIM_REG_TOKEN_USED;
        goto out;
    }
    d = find_device_by_guid(r, guid);
    if (d != NULL && replace) {
        /* The old registration goes; the slot is reused for the new one,
         * with a device id of its own. */
        if (replaced != NULL)
            *replaced = *d;
        OPENSSL_cleanse(d, sizeof(*d));
        random_uuid(d->device_id);
        snprintf(d->tenant_id, sizeof(d->tenant_id), "%s", t->tenant);
        snprintf(d->guid, sizeof(d->guid), "%s", guid);
    } else if (d != NULL && strcmp(d->tenant_id, t->tenant) != 0) {
        *out = *d;
        OPENSSL_cleanse(out->est_password, sizeof(out->est_password));
        rc = SIM_REG_CLAIMED;
        goto out;
    }
    if (d == NULL) {
        struct sim_device *grown =
            realloc(r->devices, (r->ndevices + 1) * sizeof(*grown));

        if (grown == NULL) {
            rc = SIM_REG_BAD_TOKEN;
            goto out;
        }
        r->devices = grown;
        d = &r->devices[r->ndevices++];
        memset(d, 0, sizeof(*d));
        random_uuid(d->device_id);
        snprintf(d->tenant_id, sizeof(d->tenant_id), "%s", t->tenant);
        snprintf(d->guid, sizeof(d->guid), "%s", guid);
    }
    /* Registering again (same device, same token) hands out a new
     * one-time credential: the old one may have been lost with a crash. */
    snprintf(d->region, sizeof(d->region), "%s", region);
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->registered_at = now;
    if (fresh_credential(d) != 0) {
        rc = SIM_REG_BAD_TOKEN;
        goto out;
    }
    snprintf(t->claimed_by, sizeof(t->claimed_by), "%s", guid);
    *out = *d;
out:
    pthread_mutex_unlock(&r->lock);
    return rc;
}

int
sim_registry_use_est_credential(struct sim_registry *r, const char *user,
                                const char *password, time_t now,
                                struct sim_device *out)
{
    int rc = -1;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->ndevices; i++) {
        struct sim_device *d = &r->devices[i];
        size_t plen = strlen(d->est_password);

        if (d->est_used || strcmp(d->est_user, user) != 0)
            continue;
        if (strlen(password) == plen &&
            CRYPTO_memcmp(d->est_password, password, plen) == 0) {
            d->est_used = 1;
            d->enrolled_at = now;
            *out = *d;
            rc = 0;
        }
        break;
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

int
sim_registry_device(struct sim_registry *r, const char *device_id,
                    struct sim_device *out)
{
    int rc = -1;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->ndevices; i++)
        if (strcmp(r->devices[i].device_id, device_id) == 0) {
            *out = r->devices[i];
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

json_t *
sim_registry_dump(struct sim_registry *r)
{
    json_t *list = json_array();

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->ndevices; i++) {
        const struct sim_device *d = &r->devices[i];

        json_array_append_new(
            list, json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:I}", "device_id",
                            d->device_id, "tenant_id", d->tenant_id, "region",
                            d->region, "guid", d->guid, "name", d->name,
                            "est_credential_used", d->est_used, "registered_at",
                            (json_int_t)d->registered_at, "enrolled_at",
                            (json_int_t)d->enrolled_at));
    }
    pthread_mutex_unlock(&r->lock);
    return list;
}

/* ---- the token request ---- */

#define TENANT_CHARS                                                           \
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

/* JSON's name for the type of v, for "got ..." */
static const char *
type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static int
take_tenant(const json_t *v, struct sim_token_request *out, char *why,
            size_t len)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);

    if (s == NULL) {
        snprintf(why, len, "expected a string, got %s", type_name(v));
        return -1;
    }
    if (n == 0 || n >= sizeof(out->tenant)) {
        snprintf(why, len, "expected 1 to %zu characters, got %zu",
                 sizeof(out->tenant) - 1, n);
        return -1;
    }
    if (strspn(s, TENANT_CHARS) != n) {
        snprintf(why, len,
                 "expected letters, digits, '.', '_' or '-' only, got "
                 "byte 0x%02x at character %zu",
                 (unsigned char)s[strspn(s, TENANT_CHARS)],
                 strspn(s, TENANT_CHARS) + 1);
        return -1;
    }
    memcpy(out->tenant, s, n + 1);
    return 0;
}

static int
take_region(const json_t *v, struct sim_token_request *out, char *why,
            size_t len)
{
    const char *s = json_string_value(v);

    if (s == NULL) {
        snprintf(why, len, "expected a string (us, eu or apj), got %s",
                 type_name(v));
        return -1;
    }
    if (json_string_length(v) >= sizeof(out->region) || !sse_region_valid(s)) {
        snprintf(why, len, "expected us, eu or apj, got \"%.16s\"", s);
        return -1;
    }
    snprintf(out->region, sizeof(out->region), "%s", s);
    return 0;
}

static const struct {
    const char *name;
    int (*take)(const json_t *v, struct sim_token_request *out, char *why,
                size_t len);
} token_fields[] = {
    {"tenant", take_tenant},
    {"region", take_region},
};

#define NFIELDS (sizeof(token_fields) / sizeof(token_fields[0]))

int
sim_token_request_parse(const json_t *doc, const char *region,
                        struct sim_token_request *out, char *field, size_t flen,
                        char *why, size_t wlen)
{
    const char *key;
    json_t *v;

    memset(out, 0, sizeof(*out));
    snprintf(out->tenant, sizeof(out->tenant), "%s", SIM_DEFAULT_TENANT);
    snprintf(out->region, sizeof(out->region), "%s",
             region != NULL ? region : "");
    field[0] = '\0';
    if (!json_is_object(doc)) {
        snprintf(why, wlen, "expected a JSON object, got %s", type_name(doc));
        return -1;
    }
    json_object_foreach((json_t *)doc, key, v)
    {
        size_t i;

        for (i = 0; i < NFIELDS; i++)
            if (strcmp(key, token_fields[i].name) == 0)
                break;
        snprintf(field, flen, "%s", key);
        if (i == NFIELDS) {
            snprintf(why, wlen,
                     "unknown field \"%.64s\" (expected tenant, region)", key);
            return -1;
        }
        if (token_fields[i].take(v, out, why, wlen) != 0)
            return -1;
    }
    if (out->region[0] == '\0') {
        snprintf(field, flen, "region");
        snprintf(why, wlen, "required here (us, eu or apj)");
        return -1;
    }
    field[0] = '\0';
    return 0;
}
