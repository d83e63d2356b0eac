/* SPDX-License-Identifier: MIT */
/*
 * atomicfile: write to a temporary file, rename over the target (see
 * atomicfile.h).
 */
#include "atomicfile.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
mh_atomic_open(struct mh_atomic_file *a, const char *path, char *err,
               size_t errlen)
{
    char dirbuf[4096], basebuf[4096];
    a->f = NULL;
    if (snprintf(a->path, sizeof a->path, "%s", path) >= (int)sizeof a->path ||
        snprintf(dirbuf, sizeof dirbuf, "%s", path) >= (int)sizeof dirbuf ||
        snprintf(basebuf, sizeof basebuf, "%s", path) >= (int)sizeof basebuf) {
        snprintf(err, errlen, "path too long: %.200s", path);
        return -1;
    }
    const char *dir = dirname(dirbuf);
    const char *base = basename(basebuf);
    snprintf(a->tmp, sizeof a->tmp, "%s/.%s.tmp.XXXXXX", dir, base);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file in %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    a->f = fdopen(fd, "w");
    if (a->f == NULL) {
        snprintf(err, errlen, "fdopen: %s", strerror(errno));
        close(fd);
        unlink(a->tmp);
        return -1;
    }
    return 0;
}

int
mh_atomic_commit(struct mh_atomic_file *a, int rc, char *err, size_t errlen)
{
    int fd = fileno(a->f);
    if (rc == 0 &&
        (fflush(a->f) != 0 || fsync(fd) != 0 || fchmod(fd, 0644) != 0)) {
        rc = -1;
    }
    if (fclose(a->f) != 0) {
        rc = -1;
    }
    a->f = NULL;
    if (rc != 0) {
        snprintf(err, errlen, "cannot write %s: %s", a->tmp, strerror(errno));
        unlink(a->tmp);
        return -1;
    }
    if (rename(a->tmp, a->path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", a->tmp, a->path,
                 strerror(errno));
        unlink(a->tmp);
        return -1;
    }
    return 0;
}
