#include "probe/sysfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

void sysfile_path(const char *root, const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s%s", root && *root ? root : "", path);
}

char *sysfile_read_abs(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    char *buf = malloc(max + 1);
    size_t got = 0;
    while (buf && got < max) {
        ssize_t n = read(fd, buf + got, max - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf)
        return NULL;
    buf[got] = '\0';
    if (len)
        *len = got;
    return buf;
}

char *sysfile_read(const char *root, const char *path, size_t max, size_t *len)
{
    char full[4096 + 256];
    sysfile_path(root, path, full, sizeof full);
    return sysfile_read_abs(full, max, len);
}
