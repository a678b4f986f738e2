/*
 * persist.h: what the connector keeps across a restart, in data_dir:
 * the context, the token document it was activated with, the identity
 * registration and enrolment produced (device.pem and device.key beside
 * it), and the device's stable guid. One JSON file, state.json, mode
 * 0600 (it holds a token), written whole and atomically.
 */
#ifndef CONN_PERSIST_H
#define CONN_PERSIST_H

#include "state.h"

/* Snapshot the state and write it (any thread; takes the lock briefly). */
int conn_persist(struct connector *c);
/*
 * Before any thread starts: restore what state.json holds. An identity
 * whose certificate is missing or expired is dropped (the context and
 * token stay, so registration runs again). 0 restored or nothing there,
 * -1 with err when the file exists but cannot be used (it is then left
 * alone and the connector starts empty).
 */
int conn_restore(struct connector *c, char *err, size_t errlen);
/* The device's guid: data_dir/device.guid, made once. */
int conn_device_guid(const struct conn_config *cfg, char *guid, size_t len);

#endif
