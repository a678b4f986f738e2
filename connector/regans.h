/*
 * regans.h: what an answer of api-sse means for registration (CASES K04
 * to K11, K16): retry, wait for a new token, wait for a configuration
 * change, the identity claimed elsewhere, or the device deregistered by
 * the cloud. Pure functions of the answer and the measured clock offset,
 * so that every row of docs/connector.md's table is a unit test.
 */
#ifndef CONN_REGANS_H
#define CONN_REGANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Beyond this the clocks are too far apart for a token's validity window
 * (CASES K09, K16): a 401 or 403 then proves nothing about the token. */
#define REG_CLOCK_SUSPECT_S 300

enum reg_call {
    REG_CALL_REGISTER = 0, /* POST .../registration/api/v2/clients */
    REG_CALL_RECORD,       /* GET the device record (inventory) */
};

enum reg_verdict {
    REG_OK = 0,
    REG_RETRY,        /* transient: back off and try again */
    REG_WAIT_TOKEN,   /* the token is refused for good: a new one is needed */
    REG_WAIT_CONFIG,  /* refused for this device as it is configured */
    REG_CLAIMED,      /* the guid is registered elsewhere (409) */
    REG_DEREGISTERED, /* the cloud removed the device (404, 410) */
};

struct reg_answer {
    enum reg_verdict verdict;
    long status;
    char code[48];         /* error.code of a JSON error body; "" none */
    char message[160];     /* error.message, or a bare error string */
    char owner_region[16]; /* 409: where the guid is registered; "" */
    bool clock_suspect;    /* a 401 or 403 with the clocks far apart */
    bool entitlement;      /* a 403 about licence or version (K06) */
    bool html;             /* an HTML page: an intermediary answered */
    const char *why;       /* one phrase for the log and the status */
};

/*
 * Classify an answer. body need not be NUL-terminated; clock_offset_s is
 * the cloud's Date minus the device's clock.
 */
void reg_classify(enum reg_call call, long status, const char *content_type,
                  const char *body, size_t len, int64_t clock_offset_s,
                  struct reg_answer *out);
const char *reg_verdict_name(enum reg_verdict v);

#endif
