/*
 * logscan.h: the tail of connector.log, read back: the seed document's
 * `tail connector.log`, reduced to what went wrong and when. Reads the
 * logrus text shape and the JSON one (docs/connector.md, "The log line").
 */
#ifndef DOC_LOGSCAN_H
#define DOC_LOGSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define LOGSCAN_KEEP 5

struct logscan_line {
    char time[48];
    time_t when; /* 0 when the time does not parse */
    char level[12];
    char msg[640]; /* unescaped, the [host][source] prefix taken off */
};

struct logscan_summary {
    unsigned lines;    /* log lines in the tail */
    unsigned errors;   /* of them at level error */
    unsigned warnings; /* at warning */
    unsigned foreign;  /* lines of another shape */
    /* The newest errors, oldest first; recovered: a later line of the
     * same end says it is back ("... after N failed attempts"). */
    struct logscan_line last_errors[LOGSCAN_KEEP];
    bool recovered[LOGSCAN_KEEP];
    unsigned nlast;
    struct logscan_line newest; /* the last line of any level */
};

/* One line: 1 parsed, 0 not a log line of either shape. */
int logscan_parse(const char *line, struct logscan_line *out);
/* RFC 3339 with optional fraction and zone (Z, +hh:mm); 0 when not one. */
time_t logscan_time(const char *text);
/* The last tail_bytes of path. 0, or -1 with err (naming the file). */
int logscan_file(const char *path, size_t tail_bytes,
                 struct logscan_summary *out, char *err, size_t errlen);

#endif
