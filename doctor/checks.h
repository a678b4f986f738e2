/*
 * checks.h: the seed document's troubleshooting checklist, one function
 * per check, each adding its finding to the report in checklist order:
 * configuration, the local API and the connector's status, the
 * EventHandler socket, the cloud hosts of the device's region, the clock,
 * the certificates in use, and the log.
 */
#ifndef DOC_CHECKS_H
#define DOC_CHECKS_H

#include <stdbool.h>

#include "report.h"

struct doc_opts {
    const char *root;       /* "/" by default */
    const char *properties; /* NULL: under root */
    const char *settings;   /* NULL: under root */
    const char *ports_file; /* the connector's --ports-file, or NULL */
    int api_port;           /* -1: from the ports file or the config */
    const char *region;     /* NULL: as the connector has it */
    unsigned timeout_ms;    /* per step of each probe */
    const char *proc_unix;  /* /proc/net/unix */
    bool skip_network;      /* --offline: no cloud probes */
};

/* Run every check into rep. 0, or -1 when the configuration cannot be
 * read (rep holds that finding, and config_error is set). */
int doc_run(const struct doc_opts *o, struct dr_report *rep);

#endif
