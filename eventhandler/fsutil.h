/*
 * fsutil.h: directory creation and crash-safe file replacement for the
 * eventhandler's state and report files.
 */
#ifndef EH_FSUTIL_H
#define EH_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Create dir and its missing parents; 0 or -errno. */
int eh_fs_mkdir_p(const char *dir, mode_t mode);
/* Create the parent directory of path (mkdir -p); 0 or -errno. */
int eh_fs_mkdir_parent(const char *path, mode_t mode);
/*
 * Replace path with data: write a temporary file beside it, fsync it,
 * rename it over path, fsync the directory. Readers see the old or the new
 * content, never a mix. 0 or -errno.
 */
int eh_fs_write_atomic(const char *path, const void *data, size_t len);
/* dir/rel without a doubled slash, into out; 0, or -ENAMETOOLONG. */
int eh_fs_join(char *out, size_t cap, const char *dir, const char *rel);

#endif
