/* SPDX-License-Identifier: MIT */
/*
 * runner_util: the runner's logging, URL redaction and string set (see
 * runner.h).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../probes/textutil.h"
#include "runner.h"

static atomic_int log_verbose;

void
mh_runlog_set_verbose(int verbose)
{
    atomic_store(&log_verbose, verbose);
}

void
mh_runlog(enum mh_log_level level, const char *fmt, ...)
{
    if (level == MH_LOG_DEBUG && atomic_load(&log_verbose) <= 0) {
        return;
    }
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One event, one line: no control characters get through. */
    mh_text_escape_line(msg, sizeof msg);
    const char *word = level == MH_LOG_ERR       ? "error: "
                       : level == MH_LOG_WARNING ? "warning: "
                                                 : "";
    char line[2300];
    static atomic_int journal = -1;
    int j = atomic_load(&journal);
    if (j < 0) {
        j = getenv("JOURNAL_STREAM") != NULL;
        atomic_store(&journal, j);
    }
    if (j != 0) {
        /* sd-daemon(3) priority prefix; journald adds time and pid. */
        snprintf(line, sizeof line, "<%d>%s%s\n", (int)level, word, msg);
    } else {
        char ts[64];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S%z", &tm);
        snprintf(line, sizeof line, "%s check_mailhealth[%ld]: %s%s\n", ts,
                 (long)getpid(), word, msg);
    }
    /* One write: lines of concurrent threads never interleave. */
    fputs(line, stderr);
    fflush(stderr);
}

char *
mh_url_redact(const char *url, char *buf, size_t len)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end != NULL ? scheme_end + 3 : url;
    size_t slen = (size_t)(host - url);
    /* The authority ends at the first '/', '?' or '#'. */
    size_t alen = strcspn(host, "/?#");
    const char *at = memchr(host, '@', alen);
    const char *h = at != NULL ? at + 1 : host;
    size_t hlen = alen - (size_t)(h - host);
    const char *path = host + alen;
    size_t plen = strcspn(path, "?#");
    snprintf(buf, len, "%.*s%s%.*s%.*s%s", (int)slen, url,
             at != NULL ? "***@" : "", (int)hlen, h, (int)plen, path,
             path[plen] != '\0' ? "?..." : "");
    return buf;
}

unsigned long long
mh_run_hash(const char *s)
{
    unsigned long long h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

static int
strset_grow(struct mh_strset *set)
{
    size_t cap = set->cap == 0 ? 64 : set->cap * 2;
    char **slot = calloc(cap, sizeof *slot);
    if (slot == NULL) {
        return -1;
    }
    for (size_t i = 0; i < set->cap; i++) {
        if (set->slot[i] == NULL) {
            continue;
        }
        size_t j = (size_t)(mh_run_hash(set->slot[i]) & (cap - 1));
        while (slot[j] != NULL) {
            j = (j + 1) & (cap - 1);
        }
        slot[j] = set->slot[i];
    }
    free(set->slot);
    set->slot = slot;
    set->cap = cap;
    return 0;
}

bool
mh_strset_has(const struct mh_strset *set, const char *s)
{
    if (set->cap == 0) {
        return false;
    }
    size_t j = (size_t)(mh_run_hash(s) & (set->cap - 1));
    while (set->slot[j] != NULL) {
        if (strcmp(set->slot[j], s) == 0) {
            return true;
        }
        j = (j + 1) & (set->cap - 1);
    }
    return false;
}

int
mh_strset_add(struct mh_strset *set, const char *s)
{
    if (mh_strset_has(set, s)) {
        return 0;
    }
    if ((set->n + 1) * 2 > set->cap && strset_grow(set) != 0) {
        return -1;
    }
    char *d = strdup(s);
    if (d == NULL) {
        return -1;
    }
    size_t j = (size_t)(mh_run_hash(s) & (set->cap - 1));
    while (set->slot[j] != NULL) {
        j = (j + 1) & (set->cap - 1);
    }
    set->slot[j] = d;
    set->n++;
    return 1;
}

void
mh_strset_free(struct mh_strset *set)
{
    for (size_t i = 0; i < set->cap; i++) {
        free(set->slot[i]);
    }
    free(set->slot);
    set->slot = NULL;
    set->cap = set->n = 0;
}

int
mh_run_grow(void **v, size_t *cap, size_t n, size_t elem, size_t first)
{
    if (n < *cap) {
        return 0;
    }
    size_t ncap = *cap == 0 ? first : *cap * 2;
    void *nv = realloc(*v, ncap * elem);
    if (nv == NULL) {
        return -1;
    }
    *v = nv;
    *cap = ncap;
    return 0;
}
