/*
 * registry.h: the cloud's records of tokens and devices, shared by api-sse
 * (which mints tokens and registers devices) and est (which enrols them).
 * Thread-safe: every call takes the registry's lock.
 */
#ifndef SIM_REGISTRY_H
#define SIM_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#define SIM_TOKEN_LEN 32
#define SIM_ID_LEN 40

struct sim_registry;

struct sim_device {
    char device_id[SIM_ID_LEN]; /* UUID the cloud gives the device */
    char tenant_id[SIM_ID_LEN];
    char region[8];
    char guid[64]; /* clientInfo.guid the device sent */
    char name[64];
    char est_user[SIM_ID_LEN]; /* one-time EST credential */
    char est_password[SIM_ID_LEN];
    int est_used;
    time_t registered_at;
    time_t enrolled_at;
};

enum sim_reg_result {
    SIM_REG_OK = 0,
    SIM_REG_BAD_TOKEN = 401,
    SIM_REG_WRONG_REGION = 403,
    SIM_REG_CLAIMED = 409,
    SIM_REG_TOKEN_USED = 410,
};

struct sim_registry *sim_registry_new(void);
void sim_registry_free(struct sim_registry *r);

/* Mint a token for tenant in region, valid ttl seconds from now. */
int sim_registry_mint(struct sim_registry *r, const char *tenant,
                      const char *region, time_t now, long ttl,
                      char token[SIM_TOKEN_LEN + 1], time_t *expires);

/* The tenant of a token request that names none. */
#define SIM_DEFAULT_TENANT "tenant-lab"

/* A token request of the manager's token service (docs/protocol.md). */
struct sim_token_request {
    char tenant[SIM_ID_LEN];
    char region[8];
};

/*
 * Check a token request body field by field: tenant (a string of 1 to
 * SIM_ID_LEN - 1 letters, digits, '.', '_', '-'; SIM_DEFAULT_TENANT when
 * absent), region (us, eu or apj; region when absent, required when region
 * is NULL); no other member.
 * 0 with out filled, or -1 with field naming the member at fault ("" when
 * the body is no object) and why saying what was expected and got.
 */
int sim_token_request_parse(const json_t *doc, const char *region,
                            struct sim_token_request *out, char *field,
                            size_t flen, char *why, size_t wlen);

/*
 * Register the device guid with token at the api of region. On success the
 * device record (with a fresh one-time EST credential) is copied to out.
 * SIM_REG_CLAIMED copies the record that holds the guid to out (its
 * tenant and region). With replace, a guid registered already (to any
 * tenant, in any region) loses that registration: the old record is
 * copied to *replaced (when not NULL; device_id "" when there was none)
 * and a new one, with a new device id, is made for the token's tenant.
 */
enum sim_reg_result sim_registry_register(struct sim_registry *r,
                                          const char *token, const char *region,
                                          const char *guid, const char *name,
                                          time_t now, bool replace,
                                          struct sim_device *out,
                                          struct sim_device *replaced);

/*
 * Check and consume a one-time EST credential. 0 and the device when it
 * matches an unused one; -1 otherwise.
 */
int sim_registry_use_est_credential(struct sim_registry *r, const char *user,
                                    const char *password, time_t now,
                                    struct sim_device *out);
/* 0 and the device when device_id is registered; -1 otherwise. */
int sim_registry_device(struct sim_registry *r, const char *device_id,
                        struct sim_device *out);
/* A JSON array of the devices, secrets left out. */
json_t *sim_registry_dump(struct sim_registry *r);

#endif
