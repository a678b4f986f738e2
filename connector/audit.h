/*
 * audit.h: the ids of the events the connector accepted, for an oracle
 * outside it (docs/connector.md, accepted_audit_file).
 *
 * When Globals.Contexts.Events.accepted_audit_file names a file, every
 * event the connector accepts appends its id there: 16 bytes, the epoch
 * then the seq, each a 64-bit big-endian integer. "Accepted" is DESIGN
 * §9's word: written to the spool (or, without a spool, taken into
 * memory). The id is appended after the spool took the event, with one
 * write(2) on an O_APPEND descriptor and no sync, so that the file never
 * names an event that was not accepted, and a killed process loses nothing
 * it wrote (the page cache outlives it). Events replayed from the spool
 * were listed by the run that accepted them and are not listed again.
 *
 * A test aid, off by default: `ssesim run` sets it for scenarios whose
 * ingest expectation is `against: accepted` (docs/scenarios.md). The file
 * is opened on the first event, its directory made if missing; a failed
 * open or write is logged once and counted, never fatal.
 *
 * Lws thread only (the pipeline's).
 */
#ifndef CONN_AUDIT_H
#define CONN_AUDIT_H

#include <stdint.h>

#include "config.h"
#include "envelope.h"

#define CONN_AUDIT_RECORD 16

/* List env's id in cfg's audit file; nothing when none is set. */
void conn_audit_accepted(const struct conn_config *cfg,
                         const struct sse_envelope *env);
/* Ids that could not be written (the file is incomplete when above 0). */
uint64_t conn_audit_failures(void);

#endif
