/* SPDX-License-Identifier: MIT */
/*
 * benchutil.h: small pieces shared by the latency benchmark's servers
 * (latency_smtpd.c, delay_dnsrelay.c) and its sampler (runstat.c). Not
 * product code: these programs are built by tests/bench/bench_latency.sh.
 *
 *   bu_now_ns()        CLOCK_MONOTONIC in nanoseconds
 *   bu_raise_nofile()  RLIMIT_NOFILE soft limit up to the hard limit
 *   bu_write_pidfile() PATH gets "PID\n"
 *   bu_signals()       SIGTERM/SIGINT set bu_stop, SIGUSR1 sets bu_dump
 *                      (no SA_RESTART: a blocking wait returns EINTR)
 *   struct bu_heap     a binary min-heap of timers (due time in ns, a
 *                      slot number and the slot's generation, so a timer
 *                      of a closed connection is recognised as stale)
 */
#ifndef MH_BENCHUTIL_H
#define MH_BENCHUTIL_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t bu_stop;
static volatile sig_atomic_t bu_dump;

static inline int64_t
bu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Returns the new soft limit. */
static inline rlim_t
bu_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return 0;
    }
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur;
}

static inline void
bu_write_pidfile(const char *path)
{
    if (path == NULL) {
        return;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(2);
    }
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
}

static inline void
bu_on_signal(int sig)
{
    if (sig == SIGUSR1) {
        bu_dump = 1;
    } else {
        bu_stop = 1;
    }
}

static inline void
bu_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = bu_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

struct bu_timer {
    int64_t due_ns;
    uint32_t slot;
    uint32_t gen;
};

struct bu_heap {
    struct bu_timer *t;
    size_t n, cap;
};

static inline void
bu_heap_push(struct bu_heap *h, int64_t due_ns, uint32_t slot, uint32_t gen)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 4096;
        h->t = realloc(h->t, h->cap * sizeof *h->t);
        if (h->t == NULL) {
            perror("realloc");
            exit(2);
        }
    }
    size_t i = h->n++;
    struct bu_timer x = {due_ns, slot, gen};
    while (i > 0 && h->t[(i - 1) / 2].due_ns > due_ns) {
        h->t[i] = h->t[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->t[i] = x;
}

/* Removes the earliest timer into *out; false when the heap is empty. */
static inline int
bu_heap_pop(struct bu_heap *h, struct bu_timer *out)
{
    if (h->n == 0) {
        return 0;
    }
    *out = h->t[0];
    struct bu_timer x = h->t[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) {
            break;
        }
        if (c + 1 < h->n && h->t[c + 1].due_ns < h->t[c].due_ns) {
            c++;
        }
        if (h->t[c].due_ns >= x.due_ns) {
            break;
        }
        h->t[i] = h->t[c];
        i = c;
    }
    if (h->n > 0) {
        h->t[i] = x;
    }
    return 1;
}

/* The time until the earliest timer into *ts (for epoll_pwait2, which
 * waits with nanosecond resolution: epoll_wait's milliseconds would add up
 * to 1 ms to every delayed reply); NULL (wait without limit) when none. */
static inline struct timespec *
bu_heap_wait(const struct bu_heap *h, int64_t now_ns, struct timespec *ts)
{
    if (h->n == 0) {
        return NULL;
    }
    int64_t d = h->t[0].due_ns - now_ns;
    if (d < 0) {
        d = 0;
    }
    ts->tv_sec = (time_t)(d / 1000000000);
    ts->tv_nsec = (long)(d % 1000000000);
    return ts;
}

#endif
