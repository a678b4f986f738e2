/*
 * fileio.h: reading a small file whole, bounded, for the loaders of
 * scenarios, connector profiles and certificates. Logs nothing.
 */
#ifndef SSE_FILEIO_H
#define SSE_FILEIO_H

#include <stddef.h>

enum sse_read_rc {
    SSE_READ_OK = 0,
    SSE_READ_OPEN = -1,    /* cannot open: errno says why */
    SSE_READ_TOO_BIG = -2, /* more than max bytes */
    SSE_READ_FAILED = -3,  /* a read error (errno) or out of memory */
};

/*
 * The whole file at path, at most max bytes, into a new buffer *out
 * (NUL-terminated after *len bytes; the caller frees it). *out is NULL
 * on any failure.
 */
enum sse_read_rc sse_read_file(const char *path, size_t max, char **out,
                               size_t *len);

#endif
