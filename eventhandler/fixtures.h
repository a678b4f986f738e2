/*
 * fixtures.h: events read from JSON Lines files, validated once at load.
 *
 * Each non-blank line is one event: a JSON object whose keys are FTD's
 * syslog field names plus "EventType". The bytes of the line are kept as
 * they are and sent as they are; nothing parses them again after load.
 * The set owns every line; it lives until eh_fixtures_free.
 */
#ifndef EH_FIXTURES_H
#define EH_FIXTURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct eh_event {
    uint8_t type; /* enum sse_event_type */
    uint32_t len; /* bytes of data, newline excluded */
    char *data;   /* owned by the set */
};

struct eh_fixture_file {
    char *path;
    struct eh_event *events;
    size_t n;
    size_t cap;
};

struct eh_fixtures {
    struct eh_fixture_file *files;
    size_t n_files;
    size_t total;    /* events kept, over all files */
    size_t skipped;  /* garbled lines dropped under skip_bad */
    size_t filtered; /* good lines of types not asked for */
    size_t max_rows; /* events in the longest file */
    size_t cur_file; /* round-robin cursor */
    size_t cur_row;
};

/*
 * The type of a line is its "EventType" ("IntrusionEvent", "ConnectionEvent",
 * "FileEvent" or an FDM name), else what the file name says (intrusion*,
 * si-*, connection*, file*, malware*). A ConnectionEvent is CONNECTION_HIGH
 * when its EventPriority is High or it carries a Security Intelligence
 * field, else CONNECTION_ALL.
 */
struct eh_fixture_opts {
    bool skip_bad;  /* report garbled lines and go on */
    unsigned types; /* bit (1 << type) for each type kept; 0 = all */
};

/*
 * Load one file, or every *.jsonl of a directory in name order. 0, or -1
 * with "file:line: reason" in err; a garbled line fails the load unless
 * skip_bad is set (then it is logged as a warning and dropped).
 */
int eh_fixtures_add_file(struct eh_fixtures *fx, const char *path,
                         const struct eh_fixture_opts *o, char *err,
                         size_t errlen);
int eh_fixtures_add_dir(struct eh_fixtures *fx, const char *dir,
                        const struct eh_fixture_opts *o, char *err,
                        size_t errlen);
/*
 * The next event, round robin over the files: the first line of each file,
 * then the second of each, and so on; files that ran out are passed over,
 * and after the last row it starts again. Needs total > 0.
 */
const struct eh_event *eh_fixtures_next(struct eh_fixtures *fx);
void eh_fixtures_free(struct eh_fixtures *fx);

#endif
