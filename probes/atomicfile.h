/* SPDX-License-Identifier: MIT */
/*
 * atomicfile: a file replaced atomically, so that a reader (node_exporter's
 * textfile collector, the next check reading its state) never sees half a
 * file: the new content is written to a temporary file in the same
 * directory (a name starting with "." and not ending in ".prom", so
 * node_exporter ignores it), flushed to disk (fsync), given mode 0644 and
 * renamed over the target.
 */
#ifndef MH_ATOMICFILE_H
#define MH_ATOMICFILE_H

#include <stddef.h>
#include <stdio.h>

struct mh_atomic_file {
    FILE *f; /* write the content here */
    char path[4096];
    char tmp[4096 + 64];
};

/*
 * Creates the temporary file for path (".NAME.tmp.XXXXXX" beside it).
 * Returns 0 with a->f open for writing, or -1 with the reason in err.
 */
int mh_atomic_open(struct mh_atomic_file *a, const char *path, char *err,
                   size_t errlen);

/*
 * Ends the write: rc is the writer's own outcome (0, or -1 when writing
 * failed). With rc 0 flushes, fsyncs, sets mode 0644, closes and renames
 * the temporary file over the path; otherwise (or when any step fails)
 * removes it. Returns 0, or -1 with the reason in err (the path is then
 * untouched).
 */
int mh_atomic_commit(struct mh_atomic_file *a, int rc, char *err,
                     size_t errlen);

#endif
