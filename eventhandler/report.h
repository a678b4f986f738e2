/*
 * report.h: what one run sent, as the JSON document that ends the run.
 *
 * {"epoch":E,"first_seq":1,"last_seq":N,"sent":N,"left_out":0,"bytes":B,
 *  "by_type":{"INTRUSION":n,...},"elapsed_s":S,"waiting_s":W,
 *  "socket":"...","interrupted":false}
 * bytes counts event JSON (frame 2) only; by_type lists the types sent;
 * waiting_s is the part of elapsed_s that sending waited for a peer;
 * left_out counts the seqs up to last_seq that --gap-every never sent.
 * A harness compares sent with what the ingest's ledger received for the
 * epoch.
 */
#ifndef EH_REPORT_H
#define EH_REPORT_H

#include "envelope.h"

#include <stdbool.h>
#include <stdint.h>

struct eh_stats {
    uint64_t epoch;
    uint64_t sent;
    uint64_t last_seq;
    uint64_t left_out; /* seqs left out by --gap-every */
    uint64_t bytes;
    uint64_t by_type[SSE_EV_TYPE_MAX + 1];
    double elapsed_s; /* the sending, from its start to its end */
    double waiting_s; /* of elapsed_s, blocked with no peer connected */
    bool interrupted;
    const char *socket;
};

/* The report as one line of JSON (malloc'd, caller frees); NULL on ENOMEM. */
char *eh_report_json(const struct eh_stats *st);

#endif
