/*
 * unixsock.h: the seed document's `netstat -x | grep EventHandler` check,
 * read from /proc/net/unix without netstat. Pure text handling.
 *
 * A line of /proc/net/unix is
 *   Num: RefCount Protocol Flags Type St Inode [Path]
 * in hex but the inode. A socket that listens has __SO_ACCEPTCON (0x10000)
 * in Flags; St 03 is connected. The server side of an accepted connection
 * carries the listener's path, so the connections EventHandler accepted
 * are the CONNECTED entries under its path (netstat's CONNECTED lines).
 */
#ifndef DOC_UNIXSOCK_H
#define DOC_UNIXSOCK_H

#include <stdbool.h>
#include <stddef.h>

#define UNIXSOCK_PATH 256

struct unixsock_entry {
    unsigned long flags;
    unsigned type;  /* 1 stream, 2 datagram, 5 seqpacket */
    unsigned state; /* 1 unconnected, 2 connecting, 3 connected, 4 ... */
    unsigned long inode;
    bool listening;
    char path[UNIXSOCK_PATH]; /* "" unnamed; "@..." abstract */
};

/* What the table holds for one path. */
struct unixsock_census {
    unsigned listening;
    unsigned connected;
    unsigned other; /* named so, neither listening nor connected */
};

/*
 * One line: 1 parsed into out, 0 the header or a blank line, -1 a line
 * that is not of the table's shape.
 */
int unixsock_parse_line(const char *line, struct unixsock_entry *out);
/*
 * Count the entries of text (the whole table) named path. 0, or -1 with
 * err naming the line that did not parse.
 */
int unixsock_census(const char *text, const char *path,
                    struct unixsock_census *out, char *err, size_t errlen);
/* The same for a file (normally /proc/net/unix). */
int unixsock_census_file(const char *file, const char *path,
                         struct unixsock_census *out, char *err, size_t errlen);

#endif
