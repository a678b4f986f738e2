/*
 * generate.h: synthetic FTD events built from the syslog field vocabulary
 * (shared/facts/ftd-events.md), one JSON object per event.
 *
 * Values come from small tables of what devices are seen to send; the
 * addresses (documentation ranges only), ports, connection ids and times
 * vary per event from a seeded generator, so a seed replays the same
 * stream (times aside: FirstPacketSecond follows the clock). With a
 * target size the event is padded to exactly that many bytes by growing
 * its URL (connection events) or URI (intrusion and file events);
 * optional fields are left out, as a device leaves out empty ones, when
 * they would not leave room for the URL.
 */
#ifndef EH_GENERATE_H
#define EH_GENERATE_H

#include <stddef.h>
#include <stdint.h>

/* Smallest --size that every event kind is guaranteed to fit. */
#define EH_GEN_MIN_SIZE 640

struct eh_gen;

/* size 0: each event at its natural length. NULL when out of memory. */
struct eh_gen *eh_gen_new(uint64_t seed, size_t size);
void eh_gen_free(struct eh_gen *g);
/*
 * Build one event of type (enum sse_event_type) in the generator's buffer;
 * *out stays valid until the next call. 0, or -1 when the type is unknown
 * or the event cannot fit the size.
 */
int eh_gen_event(struct eh_gen *g, int type, const char **out, size_t *len);

#endif
