/* SPDX-License-Identifier: MIT */
/*
 * replay: a main() for the fuzz targets on compilers without libFuzzer
 * (gcc). Feeds every file named on the command line, and every regular file
 * of every directory named, to LLVMFuzzerTestOneInput, in name order, each
 * in a buffer of exactly its size (so ASan sees any over-read). CTest runs
 * it over tests/fuzz/corpus/<target>/ as fuzz.replay.<target>.
 *
 * Exit status: 0 when at least one input was replayed; 1 on an I/O error or
 * when no input was found (a missing corpus must not pass silently). A
 * crashing input crashes the runner, which names the file first.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Largest input replayed (libFuzzer's default -max_len is far below). */
#define REPLAY_MAX_BYTES (16u * 1024u * 1024u)

static int
replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0 ||
        (unsigned long long)st.st_size > REPLAY_MAX_BYTES) {
        fprintf(stderr, "replay: %s: cannot size the file\n", path);
        fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    /* malloc(0) may return NULL; libFuzzer passes a valid pointer. */
    uint8_t *buf = malloc(size > 0 ? size : 1);
    if (buf == NULL) {
        fclose(f);
        fprintf(stderr, "replay: %s: out of memory\n", path);
        return -1;
    }
    size_t got = size > 0 ? fread(buf, 1, size, f) : 0;
    fclose(f);
    if (got != size) {
        fprintf(stderr, "replay: %s: short read\n", path);
        free(buf);
        return -1;
    }
    /* Named before running, so a crash report can be tied to its input. */
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    (void)LLVMFuzzerTestOneInput(buf, size);
    free(buf);
    return 0;
}

static int
name_cmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Replays every regular file of dir; adds their number to *count. */
static int
replay_dir(const char *dir, size_t *count)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, name_cmp);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char path[4096];
        int len = snprintf(path, sizeof path, "%s/%s", dir, name);
        struct stat st;
        if (name[0] != '.' && len > 0 && (size_t)len < sizeof path &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(path) != 0) {
                rc = -1;
            } else {
                (*count)++;
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int
main(int argc, char **argv)
{
    size_t count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
        } else if (S_ISDIR(st.st_mode)) {
            if (replay_dir(argv[i], &count) != 0) {
                rc = 1;
            }
        } else if (replay_file(argv[i]) != 0) {
            rc = 1;
        } else {
            count++;
        }
    }
    printf("replay: %zu inputs replayed without a crash\n", count);
    if (count == 0) {
        fprintf(stderr, "replay: no input found\n");
        return 1;
    }
    return rc;
}
