/*
 * reload.h: SIGHUP reads connector.properties and connector.yaml again.
 *
 * A file that does not load (a bad value, broken YAML) changes nothing:
 * the error names file, line and key, and the configuration in effect
 * stays. Otherwise every key that changed is logged: the live ones
 * (conn_config_live) take effect at once, the others are named as
 * needing a restart and keep their old value. A registration that had
 * stopped for good is tried once more (CASES K06).
 */
#ifndef CONN_RELOAD_H
#define CONN_RELOAD_H

#include "state.h"

/* On the lws thread. 0 reloaded, -1 the files were refused. */
int conn_reload(struct connector *c);

#endif
