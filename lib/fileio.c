/*
 * fileio.c: a small file read whole (fileio.h).
 */
#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

enum sse_read_rc
sse_read_file(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;
    int err;

    *out = NULL;
    *len = 0;
    if (f == NULL)
        return SSE_READ_OPEN;
    buf = malloc(max + 1);
    if (buf == NULL) {
        fclose(f);
        errno = ENOMEM;
        return SSE_READ_FAILED;
    }
    /* One byte past max tells a file of exactly max from a larger one. */
    n = fread(buf, 1, max + 1, f);
    err = ferror(f) ? errno : 0;
    fclose(f);
    if (err != 0 || n > max) {
        free(buf);
        errno = err;
        return err != 0 ? SSE_READ_FAILED : SSE_READ_TOO_BIG;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return SSE_READ_OK;
}
