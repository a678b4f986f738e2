/*
 * epoch.h: the producer epoch, the half of every event id that makes ids
 * unique across eventhandler restarts.
 *
 * The last epoch lives in a small state file holding one decimal number.
 * Every start takes the number after it and writes it back before the
 * first event leaves. A missing file starts from the current Unix time in
 * seconds, so that a lost file still yields an epoch that no earlier run
 * used (unless runs restarted more than once a second on average).
 */
#ifndef EH_EPOCH_H
#define EH_EPOCH_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read path, compute the next epoch, store it atomically. 0 and *epoch, or
 * -1 with a message in err (a garbled file is refused, not overwritten).
 */
int eh_epoch_next(const char *path, uint64_t *epoch, char *err, size_t errlen);

#endif
