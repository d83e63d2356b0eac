/* SPDX-License-Identifier: MIT */
/*
 * run_loop: the runner's event loop (see run_loop.h).
 *
 * Each running check has a slot: its task, the descriptor and events
 * registered with epoll, and its current timer. epoll's data names the
 * slot and the slot's use count, so an event left over from a check that
 * has ended (or from the socket it had before) is recognised and
 * dropped. Timers are a binary min-heap of (deadline, slot, generation);
 * a check whose deadline changes (the next address of a connection, the
 * short wait for QUIT's reply) pushes a new entry and the old one is
 * dropped when it comes up (lazy deletion), so every heap operation is
 * O(log n). Level-triggered epoll: a check that did not use up what was
 * ready is simply woken again.
 */
#include "run_loop.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../probes/deadline.h"
#include "../probes/threads.h"
#include "run_dns.h"
#include "runner.h"

/* Events handled per epoll_wait. */
#define LOOP_EVENTS 256
/*
 * Admission: a loop whose passes (handling what epoll_wait returned) took
 * longer than LOOP_LAG_MAX at some point of the last LOOP_WINDOW_S is
 * behind: what its checks' sockets had ready waited that long (the CPU
 * work of the checks in flight: handshakes, chain verifications; or cores
 * shared with other processes). It starts no new check until it catches
 * up, so the checks already running keep their pace and meet their
 * deadlines, and the waiting ones have not started their clocks. A loop
 * that is merely busy (all its CPU, short passes) keeps starting checks.
 * At most LOOP_START_BURST checks start per pass (their handshakes come a
 * few round trips later, all at once otherwise), and LOOP_MIN_RUNNING
 * always may run.
 */
#define LOOP_WINDOW_S 0.1
#define LOOP_LAG_MAX 0.025
#define LOOP_START_BURST 32
#define LOOP_MIN_RUNNING 8
/* epoll data of the loop's own eventfd (slots are below 2^32). */
#define WAKE_TAG UINT64_MAX

struct slot {
    void *task; /* NULL: free */
    const struct mh_loop_task_ops *tops;
    void *arg;
    int fd;          /* registered with epoll, -1: none */
    uint32_t events; /* registered events */
    uint32_t use;    /* bumped at every start: stale events are dropped */
    uint32_t tgen;   /* bumped at every new timer: stale timers dropped */
    double when;     /* the current timer (monotonic s), -1: none */
};

struct timer {
    double when;
    uint32_t slot, gen;
};

struct qjob {
    void *arg;
    double start_at;
};

struct jobq {
    struct qjob *v;
    size_t head, len, cap;
};

struct mh_loop {
    const struct mh_loop_ops *ops;
    size_t max; /* checks in flight at most (= slots) */
    pthread_t th;
    int ep, efd;
    /* Shared, under mu: */
    pthread_mutex_t mu;
    struct jobq in; /* submitted, not yet taken by the thread */
    bool cancel, closing;
    void **abandon; /* jobs whose running check is to end now */
    size_t nabandon, abandoncap;
    pthread_cond_t ended_cv; /* ended set */
    void (*gone)(void *ctx); /* detached (mh_loop_end_within): called at the
                                end */
    void *gone_ctx;
    bool detached, ended;
    /* Heartbeat: when the current pass began, 0 while waiting. */
    _Atomic double busy_since;
    /* The thread's own: */
    struct jobq q; /* taken, waiting for their start */
    struct slot *slots;
    uint32_t *free_slots;
    size_t nfree, running;
    struct timer *heap;
    size_t nheap, heapcap;
    /* Admission: the longest pass of the current window, and of the
     * last one. */
    double win_start, win_lag, lag;
    struct mh_rdns *dns; /* the checks' lookups */
    uint64_t *ready;     /* tokens of checks to step (mh_loop_ready) */
    size_t nready, readycap;
};

/* ---- the queue of jobs ---------------------------------------------- */

static int
jobq_push(struct jobq *q, void *arg, double start_at)
{
    if (q->head + q->len == q->cap) {
        if (q->head > 0) {
            memmove(q->v, q->v + q->head, q->len * sizeof *q->v);
            q->head = 0;
        }
        void *v = q->v;
        if (mh_run_grow(&v, &q->cap, q->len, sizeof *q->v, 256) != 0) {
            return -1;
        }
        q->v = v;
    }
    q->v[q->head + q->len++] = (struct qjob){arg, start_at};
    return 0;
}

static struct qjob *
jobq_front(struct jobq *q)
{
    return q->len > 0 ? &q->v[q->head] : NULL;
}

static void
jobq_pop(struct jobq *q)
{
    q->head++;
    if (--q->len == 0) {
        q->head = 0;
    }
}

/* ---- timers (min-heap on when) --------------------------------------- */

static void
heap_swap(struct timer *h, size_t a, size_t b)
{
    struct timer t = h[a];
    h[a] = h[b];
    h[b] = t;
}

static int
heap_push(struct mh_loop *l, struct timer t)
{
    void *h = l->heap;
    if (mh_run_grow(&h, &l->heapcap, l->nheap, sizeof *l->heap, 256) != 0) {
        return -1;
    }
    l->heap = h;
    size_t i = l->nheap++;
    l->heap[i] = t;
    while (i > 0 && l->heap[(i - 1) / 2].when > l->heap[i].when) {
        heap_swap(l->heap, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return 0;
}

static void
heap_pop(struct mh_loop *l)
{
    l->heap[0] = l->heap[--l->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->nheap) {
            break;
        }
        if (c + 1 < l->nheap && l->heap[c + 1].when < l->heap[c].when) {
            c++;
        }
        if (l->heap[i].when <= l->heap[c].when) {
            break;
        }
        heap_swap(l->heap, i, c);
        i = c;
    }
}

/* Whether the heap's top entry is the current timer of a running check. */
static bool
timer_live(const struct mh_loop *l, const struct timer *t)
{
    const struct slot *s = &l->slots[t->slot];
    return s->task != NULL && s->tgen == t->gen;
}

/* Drops stale entries from the top; returns the top or NULL. */
static const struct timer *
heap_top(struct mh_loop *l)
{
    while (l->nheap > 0 && !timer_live(l, &l->heap[0])) {
        heap_pop(l);
    }
    return l->nheap > 0 ? &l->heap[0] : NULL;
}

/* ---- running checks -------------------------------------------------- */

static void
check_end(struct mh_loop *l, uint32_t i)
{
    struct slot *s = &l->slots[i];
    /* end frees the task, which closes its socket: out of epoll. */
    l->ops->end(s->arg, s->task);
    s->task = NULL;
    s->arg = NULL;
    s->fd = -1;
    s->tgen++;
    l->free_slots[l->nfree++] = i;
    l->running--;
}

/* Watches what the check waits for: its socket's events and its
 * deadline. Returns -1 when it cannot be watched (it is then expired at
 * once by its caller). */
static int
check_arm(struct mh_loop *l, uint32_t i)
{
    struct slot *s = &l->slots[i];
    int fd = s->tops->fd(s->task);
    short want = s->tops->events(s->task);
    uint32_t ev = (want & POLLOUT) != 0 ? EPOLLOUT : EPOLLIN;
    /* No socket: it waits for mh_loop_ready or its deadline. */
    if (fd >= 0 && (fd != s->fd || ev != s->events)) {
        struct epoll_event e = {.events = ev,
                                .data.u64 = ((uint64_t)s->use << 32) | i};
        /* A new socket (the next address) may have the number of the one
         * closed before it: MOD then fails with ENOENT, and ADD does. */
        int rc = fd == s->fd ? epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &e) : -1;
        if (rc != 0 && epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &e) != 0 &&
            (errno != EEXIST || epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &e) != 0)) {
            return -1;
        }
        s->fd = fd;
        s->events = ev;
    }
    const struct mh_deadline *dl = s->tops->deadline(s->task);
    if (dl->end != s->when) {
        s->when = dl->end;
        s->tgen++;
        if (heap_push(l, (struct timer){s->when, i, s->tgen}) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Runs check i as far as it goes, then watches it or ends it. */
static void
check_step(struct mh_loop *l, uint32_t i)
{
    struct slot *s = &l->slots[i];
    for (;;) {
        if (s->tops->step(s->task)) {
            check_end(l, i);
            return;
        }
        if (check_arm(l, i) == 0) {
            return;
        }
        /* Cannot wait for it (out of memory, epoll refused the socket):
         * its wait ends now, as a timeout would end it. */
        s->tops->expire(s->task);
    }
}

static void
check_start(struct mh_loop *l, void *arg)
{
    uint32_t i = l->free_slots[l->nfree - 1];
    struct slot *s = &l->slots[i];
    /* The high halves of the loop's own epoll tags are never a use. */
    if (++s->use >= MH_RDNS_TAG_HI) {
        s->use = 1;
    }
    void *task;
    const struct mh_loop_task_ops *tops = NULL;
    task = l->ops->start(arg, l, ((uint64_t)s->use << 32) | i, &tops);
    if (task == NULL) {
        return;
    }
    l->nfree--;
    s->task = task;
    s->tops = tops;
    s->arg = arg;
    s->fd = -1;
    s->events = 0;
    s->when = -1;
    l->running++;
    check_step(l, i);
}

/* Steps the checks made ready (mh_loop_ready) until none is left. */
static void
step_ready(struct mh_loop *l)
{
    while (l->nready > 0) {
        uint64_t d = l->ready[--l->nready];
        uint32_t i = (uint32_t)d;
        struct slot *s = &l->slots[i];
        if (s->task != NULL && s->use == (uint32_t)(d >> 32)) {
            check_step(l, i);
        }
    }
}

/* ---- the thread ------------------------------------------------------ */

/* Ends the running check of job arg, if it is running. */
static void
abandon_job(struct mh_loop *l, void *arg)
{
    for (uint32_t i = 0; i < l->max; i++) {
        if (l->slots[i].task != NULL && l->slots[i].arg == arg) {
            check_end(l, i);
            return;
        }
    }
}

/* Takes the submitted jobs into the thread's queue, and ends the running
 * checks given up on (mh_loop_abandon). */
static void
take_jobs(struct mh_loop *l, bool *cancel, bool *closing)
{
    pthread_mutex_lock(&l->mu);
    for (struct qjob *j; (j = jobq_front(&l->in)) != NULL; jobq_pop(&l->in)) {
        if (jobq_push(&l->q, j->arg, j->start_at) != 0) {
            break; /* out of memory: they stay in l->in for now */
        }
    }
    *cancel = l->cancel;
    *closing = l->closing;
    while (l->nabandon > 0) {
        void *arg = l->abandon[--l->nabandon];
        pthread_mutex_unlock(&l->mu);
        abandon_job(l, arg); /* ops->end takes the owner's locks */
        pthread_mutex_lock(&l->mu);
    }
    bool detached = l->detached;
    pthread_mutex_unlock(&l->mu);
    /* A loop left to itself turns again: its checks were reported
     * already, nobody waits for them. */
    for (uint32_t i = 0; detached && i < l->max; i++) {
        if (l->slots[i].task != NULL) {
            check_end(l, i);
        }
    }
}

/* Starts the jobs whose time has come while there is room and the loop
 * keeps up (admission, above); returns when to look again: the start
 * time of the next job waiting for its time, soon when admission held
 * one back, or -1 (an end makes room and wakes the loop). */
static double
start_due(struct mh_loop *l, bool cancel, double now)
{
    struct qjob *j;
    size_t started = 0;
    while ((j = jobq_front(&l->q)) != NULL) {
        if (cancel) {
            void *arg = j->arg;
            jobq_pop(&l->q);
            l->ops->skip(arg);
            continue;
        }
        if (l->running >= l->max) {
            return -1;
        }
        if (j->start_at > now) {
            return j->start_at;
        }
        if (l->running >= LOOP_MIN_RUNNING &&
            (started == LOOP_START_BURST || l->lag > LOOP_LAG_MAX)) {
            return now + (started == LOOP_START_BURST ? 0 : 0.005);
        }
        void *arg = j->arg;
        jobq_pop(&l->q);
        check_start(l, arg);
        started++;
    }
    return -1;
}

/* Records the pass that began when epoll_wait returned (woke) in the
 * admission window. */
static void
account_pass(struct mh_loop *l, double woke, double now)
{
    if (now - woke > l->win_lag) {
        l->win_lag = now - woke;
    }
    if (now - l->win_start >= LOOP_WINDOW_S) {
        l->lag = l->win_lag;
        l->win_start = now;
        l->win_lag = 0;
    }
}

/* Expires the checks whose deadline has passed. */
static void
expire_due(struct mh_loop *l, double now)
{
    const struct timer *t;
    while ((t = heap_top(l)) != NULL && t->when <= now) {
        uint32_t i = t->slot;
        heap_pop(l);
        l->slots[i].when = -1; /* a step re-arms it */
        l->slots[i].tops->expire(l->slots[i].task);
        check_step(l, i);
    }
}

/* Milliseconds until `until` (rounded up: never wakes early), -1 none. */
static int
ms_until(double until, double now)
{
    if (until < 0) {
        return -1;
    }
    double ms = ceil((until - now) * 1000);
    return ms <= 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

static void loop_release(struct mh_loop *l);

static void *
loop_main(void *arg)
{
    struct mh_loop *l = arg;
    struct epoll_event ev[LOOP_EVENTS];
    double woke = mh_monotonic_s();
    l->win_start = woke;
    for (;;) {
        bool cancel, closing;
        take_jobs(l, &cancel, &closing);
        double now = mh_monotonic_s();
        double next = start_due(l, cancel, now);
        if (closing && l->running == 0 && l->q.len == 0 && l->in.len == 0) {
            break;
        }
        const struct timer *t = heap_top(l);
        if (t != NULL && (next < 0 || t->when < next)) {
            next = t->when;
        }
        double dns_next = mh_rdns_next(l->dns);
        if (dns_next >= 0 && (next < 0 || dns_next < next)) {
            next = dns_next;
        }
        now = mh_monotonic_s();
        account_pass(l, woke, now);
        atomic_store(&l->busy_since, 0.0);
        int n = epoll_wait(l->ep, ev, LOOP_EVENTS, ms_until(next, now));
        woke = mh_monotonic_s();
        atomic_store(&l->busy_since, woke);
        for (int k = 0; k < n; k++) {
            uint64_t d = ev[k].data.u64;
            if (d == WAKE_TAG) {
                uint64_t junk;
                ssize_t r = read(l->efd, &junk, sizeof junk);
                (void)r;
                continue;
            }
            if ((uint32_t)(d >> 32) == MH_RDNS_TAG_HI) {
                mh_rdns_event(l->dns, (int)(uint32_t)d, ev[k].events);
                continue;
            }
            uint32_t i = (uint32_t)d;
            struct slot *s = &l->slots[i];
            if (s->task != NULL && s->use == (uint32_t)(d >> 32)) {
                check_step(l, i);
            }
        }
        double dns_due = mh_rdns_next(l->dns);
        if (dns_due >= 0 && dns_due <= mh_monotonic_s()) {
            mh_rdns_timers(l->dns);
        }
        step_ready(l);
        expire_due(l, mh_monotonic_s());
    }
    pthread_mutex_lock(&l->mu);
    bool detached = l->detached;
    l->ended = true;
    pthread_cond_broadcast(&l->ended_cv);
    pthread_mutex_unlock(&l->mu);
    if (detached) {
        /* Nobody joins this thread: it ends the loop itself. */
        void (*gone)(void *) = l->gone;
        void *ctx = l->gone_ctx;
        loop_release(l);
        if (gone != NULL) {
            gone(ctx);
        }
    }
    return NULL;
}

/* ---- the interface --------------------------------------------------- */

static void
wake(struct mh_loop *l)
{
    uint64_t one = 1;
    ssize_t w = write(l->efd, &one, sizeof one);
    (void)w;
}

static void
loop_release(struct mh_loop *l)
{
    mh_rdns_free(l->dns);
    free(l->ready);
    if (l->ep >= 0) {
        close(l->ep);
    }
    if (l->efd >= 0) {
        close(l->efd);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->ended_cv);
    free(l->in.v);
    free(l->q.v);
    free(l->slots);
    free(l->free_slots);
    free(l->heap);
    free(l->abandon);
    free(l);
}

struct mh_loop *
mh_loop_new(const struct mh_loop_ops *ops, size_t max_in_flight, char *err,
            size_t errlen)
{
    struct mh_loop *l = calloc(1, sizeof *l);
    if (l == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->ops = ops;
    l->max = max_in_flight > 0 ? max_in_flight : 1;
    atomic_init(&l->busy_since, mh_monotonic_s());
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->ended_cv, &ca);
    pthread_condattr_destroy(&ca);
    l->slots = calloc(l->max, sizeof *l->slots);
    l->free_slots = calloc(l->max, sizeof *l->free_slots);
    l->dns = mh_rdns_new(l->ep);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
    if (l->ep < 0 || l->efd < 0 ||
        epoll_ctl(l->ep, EPOLL_CTL_ADD, l->efd, &e) != 0) {
        snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
        loop_release(l);
        return NULL;
    }
    if (l->slots == NULL || l->free_slots == NULL || l->dns == NULL) {
        snprintf(err, errlen, "out of memory");
        loop_release(l);
        return NULL;
    }
    for (size_t i = 0; i < l->max; i++) {
        l->slots[i].fd = -1;
        l->free_slots[l->nfree++] = (uint32_t)(l->max - 1 - i);
    }
    int rc = mh_thread_start(&l->th, loop_main, l);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the loop thread: %s", strerror(rc));
        loop_release(l);
        return NULL;
    }
    return l;
}

int
mh_loop_submit(struct mh_loop *l, void *arg, double start_at)
{
    pthread_mutex_lock(&l->mu);
    int rc = jobq_push(&l->in, arg, start_at);
    pthread_mutex_unlock(&l->mu);
    if (rc == 0) {
        wake(l);
    }
    return rc;
}

void
mh_loop_cancel(struct mh_loop *l)
{
    pthread_mutex_lock(&l->mu);
    l->cancel = true;
    pthread_mutex_unlock(&l->mu);
    wake(l);
}

void
mh_loop_free(struct mh_loop *l)
{
    if (l == NULL) {
        return;
    }
    pthread_mutex_lock(&l->mu);
    l->closing = true;
    pthread_mutex_unlock(&l->mu);
    wake(l);
    pthread_join(l->th, NULL);
    loop_release(l);
}

struct mh_rdns *
mh_loop_dns(struct mh_loop *l)
{
    return l->dns;
}

void
mh_loop_ready(struct mh_loop *l, uint64_t token)
{
    void *v = l->ready;
    if (mh_run_grow(&v, &l->readycap, l->nready, sizeof *l->ready, 64) != 0) {
        return; /* out of memory: the check waits for its deadline */
    }
    l->ready = v;
    l->ready[l->nready++] = token;
}

double
mh_loop_busy_s(struct mh_loop *l, double now)
{
    double since = atomic_load(&l->busy_since);
    return since > 0 && now > since ? now - since : 0;
}

int
mh_loop_abandon(struct mh_loop *l, void *arg)
{
    pthread_mutex_lock(&l->mu);
    void *v = l->abandon;
    int rc =
        mh_run_grow(&v, &l->abandoncap, l->nabandon, sizeof *l->abandon, 8);
    if (rc == 0) {
        l->abandon = v;
        l->abandon[l->nabandon++] = arg;
    }
    pthread_mutex_unlock(&l->mu);
    if (rc == 0) {
        wake(l);
    }
    return rc;
}

int
mh_loop_end_within(struct mh_loop *l, double wait_s, void (*gone)(void *ctx),
                   void *ctx)
{
    if (l == NULL) {
        return 0;
    }
    double until = mh_monotonic_s() + wait_s;
    pthread_mutex_lock(&l->mu);
    l->closing = true;
    wake(l);
    while (!l->ended && mh_monotonic_s() < until) {
        struct timespec abs = mh_monotonic_timespec(until);
        pthread_cond_timedwait(&l->ended_cv, &l->mu, &abs);
    }
    bool ended = l->ended;
    if (!ended) {
        /* The thread has not ended, and it reads detached under mu as it
         * ends: it frees the loop itself; l is not touched after the
         * unlock. */
        pthread_detach(l->th);
        l->cancel = true;
        l->detached = true;
        l->gone = gone;
        l->gone_ctx = ctx;
    }
    pthread_mutex_unlock(&l->mu);
    if (ended) {
        pthread_join(l->th, NULL);
        loop_release(l);
        return 0;
    }
    return 1;
}
