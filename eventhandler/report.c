/*
 * report.c: render the run report with jansson (once, at the end).
 */
#include "report.h"

#include <jansson.h>

static double
to_ms(double s)
{
    return (double)(uint64_t)(s * 1000.0 + 0.5) / 1000.0;
}

char *
eh_report_json(const struct eh_stats *st)
{
    json_t *doc = json_object();
    json_t *types = json_object();
    char *text = NULL;

    if (doc == NULL || types == NULL)
        goto out;
    for (unsigned t = 1; t <= SSE_EV_TYPE_MAX; t++)
        if (st->by_type[t] != 0)
            json_object_set_new(types, sse_event_type_name(t),
                                json_integer((json_int_t)st->by_type[t]));
    json_object_set_new(doc, "epoch", json_integer((json_int_t)st->epoch));
    json_object_set_new(doc, "first_seq", json_integer(1));
    json_object_set_new(doc, "last_seq",
                        json_integer((json_int_t)st->last_seq));
    json_object_set_new(doc, "sent", json_integer((json_int_t)st->sent));
    json_object_set_new(doc, "left_out",
                        json_integer((json_int_t)st->left_out));
    json_object_set_new(doc, "bytes", json_integer((json_int_t)st->bytes));
    json_object_set(doc, "by_type", types);
    /* Milliseconds are precision enough, and keep the numbers short. */
    json_object_set_new(doc, "elapsed_s", json_real(to_ms(st->elapsed_s)));
    json_object_set_new(doc, "waiting_s", json_real(to_ms(st->waiting_s)));
    json_object_set_new(doc, "socket", json_string(st->socket));
    json_object_set_new(doc, "interrupted", json_boolean(st->interrupted));
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER |
                               JSON_REAL_PRECISION(12));
out:
    json_decref(types);
    json_decref(doc);
    return text;
}
