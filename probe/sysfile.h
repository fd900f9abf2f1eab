/* Reading the VM's files: every system path is taken under --root (so a collected bundle can be
 * analysed), every read is bounded, and nothing is ever written. */
#ifndef AZB_SYSFILE_H
#define AZB_SYSFILE_H

#include <stddef.h>

/* root + path into out ("" root means /). */
void sysfile_path(const char *root, const char *path, char *out, size_t size);

/* Read at most max bytes of root+path, NUL-terminated; NULL with errno set when unreadable.
 * A longer file is cut at max (the caller's parser sees a truncated but valid buffer). */
char *sysfile_read(const char *root, const char *path, size_t max, size_t *len);
char *sysfile_read_abs(const char *path, size_t max, size_t *len);

#endif
