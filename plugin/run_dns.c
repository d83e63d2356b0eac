/* SPDX-License-Identifier: MIT */
/*
 * run_dns: an event loop's DNS service (see run_dns.h).
 *
 * The sockets c-ares has open are kept in a small table (descriptor,
 * channel): a loop has a socket or two per resolver. The time of the
 * next retry timer is asked of c-ares (ares_timeout walks the queries in
 * flight) only after something may have changed it: a channel handed out
 * for new queries, an answer read, timers run.
 */
#include "run_dns.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "../probes/deadline.h"
#include "../probes/dnsbl_flow.h"
#include "../probes/resolve.h"
#include "runner.h"

struct rdns_chan {
    struct mh_rdns *d;
    char *resolver; /* NULL: the system's */
    unsigned flags; /* MH_RESOLVE_* */
    long within_ms; /* its tries fit in this (-1: 1.5 s x 3) */
    void *ch;
    struct mh_dnsbl_shared *dnsbl; /* the DNSBL checks' window, or NULL */
};

struct rdns_sock {
    int fd;
    struct rdns_chan *c;
};

struct mh_rdns {
    int ep;
    struct rdns_chan **chans;
    size_t nchans, chcap;
    struct rdns_sock *socks;
    size_t nsocks, sockcap;
    bool dirty;  /* next may have changed */
    double next; /* cached mh_rdns_next */
};

struct mh_rdns *
mh_rdns_new(int ep)
{
    struct mh_rdns *d = calloc(1, sizeof *d);
    if (d != NULL) {
        d->ep = ep;
        d->next = -1;
    }
    return d;
}

void
mh_rdns_free(struct mh_rdns *d)
{
    if (d == NULL) {
        return;
    }
    for (size_t i = 0; i < d->nchans; i++) {
        /* queries still in flight end here (their callbacks count them
         * off the shared window): the window goes after */
        mh_resolve_channel_free(d->chans[i]->ch);
        free(d->chans[i]->dnsbl);
        free(d->chans[i]->resolver);
        free(d->chans[i]);
    }
    free(d->chans);
    free(d->socks);
    free(d);
}

static struct rdns_sock *
sock_find(struct mh_rdns *d, int fd)
{
    for (size_t i = 0; i < d->nsocks; i++) {
        if (d->socks[i].fd == fd) {
            return &d->socks[i];
        }
    }
    return NULL;
}

/* c-ares' socket state callback: the socket's epoll registration. */
static void
watch(void *arg, int fd, int readable, int writable)
{
    struct rdns_chan *c = arg;
    struct mh_rdns *d = c->d;
    struct rdns_sock *s = sock_find(d, fd);
    if (!readable && !writable) {
        /* c-ares closes it next. */
        if (s != NULL) {
            epoll_ctl(d->ep, EPOLL_CTL_DEL, fd, NULL);
            *s = d->socks[--d->nsocks];
        }
        return;
    }
    struct epoll_event e = {.events = (readable ? EPOLLIN : 0u) |
                                      (writable ? EPOLLOUT : 0u),
                            .data.u64 = MH_RDNS_TAG(fd)};
    if (s != NULL) {
        if (epoll_ctl(d->ep, EPOLL_CTL_MOD, fd, &e) != 0) {
            mh_runlog(MH_LOG_ERR, "DNS socket %d: epoll: %s", fd,
                      strerror(errno));
        }
        return;
    }
    void *v = d->socks;
    if (mh_run_grow(&v, &d->sockcap, d->nsocks, sizeof *d->socks, 8) != 0) {
        /* Not watched: its queries end by c-ares' retry timers. */
        mh_runlog(MH_LOG_ERR, "DNS socket %d: out of memory", fd);
        return;
    }
    d->socks = v;
    if (epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
        mh_runlog(MH_LOG_ERR, "DNS socket %d: epoll: %s", fd, strerror(errno));
        return;
    }
    d->socks[d->nsocks++] = (struct rdns_sock){fd, c};
}

static bool
same_resolver(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* The channel of resolver with flags whose tries fit within_ms (as
 * mh_resolve_channel_new_watched), made on first use; NULL with err. */
static struct rdns_chan *
channel_get(struct mh_rdns *d, const char *resolver, unsigned flags,
            long within_ms, char *err, size_t errlen)
{
    if (resolver != NULL && resolver[0] == '\0') {
        resolver = NULL;
    }
    d->dirty = true; /* the caller is about to send queries */
    for (size_t i = 0; i < d->nchans; i++) {
        if (d->chans[i]->flags == flags &&
            d->chans[i]->within_ms == within_ms &&
            same_resolver(d->chans[i]->resolver, resolver)) {
            return d->chans[i];
        }
    }
    void *v = d->chans;
    if (mh_run_grow(&v, &d->chcap, d->nchans, sizeof *d->chans, 4) != 0) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->chans = v;
    struct rdns_chan *c = calloc(1, sizeof *c);
    if (c == NULL ||
        (resolver != NULL && (c->resolver = strdup(resolver)) == NULL)) {
        free(c);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->d = d;
    c->flags = flags;
    c->within_ms = within_ms;
    if (mh_resolve_channel_new_watched(resolver, flags, within_ms, watch, c,
                                       &c->ch, err, errlen) != 0) {
        free(c->resolver);
        free(c);
        return NULL;
    }
    d->chans[d->nchans++] = c;
    return c;
}

void *
mh_rdns_channel(struct mh_rdns *d, const char *resolver, char *err,
                size_t errlen)
{
    struct rdns_chan *c = channel_get(d, resolver, 0, -1, err, errlen);
    return c != NULL ? c->ch : NULL;
}

struct mh_dnsbl_shared *
mh_rdns_dnsbl(struct mh_rdns *d, const char *resolver, double timeout_s,
              char *err, size_t errlen)
{
    /* Keyed by the per-try timeout, not the timeout itself: checks whose
     * timeouts give the same tries share a channel. */
    int try_ms, tries;
    mh_resolve_tries_for((long)(timeout_s * 1000), &try_ms, &tries);
    struct rdns_chan *c =
        channel_get(d, resolver, MH_RESOLVE_SERVFAIL_ANSWERS | MH_RESOLVE_BULK,
                    (long)try_ms * 7, err, errlen);
    if (c != NULL && c->dnsbl == NULL) {
        c->dnsbl = malloc(sizeof *c->dnsbl);
        if (c->dnsbl == NULL) {
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        mh_dnsbl_shared_init(c->dnsbl, c->ch);
    }
    return c != NULL ? c->dnsbl : NULL;
}

void
mh_rdns_event(struct mh_rdns *d, int fd, uint32_t events)
{
    struct rdns_sock *s = sock_find(d, fd);
    if (s == NULL) {
        return; /* closed since epoll_wait reported it */
    }
    bool r = (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0;
    bool w = (events & EPOLLOUT) != 0;
    d->dirty = true;
    mh_resolve_process_fds(s->c->ch, r ? fd : -1, w ? fd : -1);
}

double
mh_rdns_next(struct mh_rdns *d)
{
    if (!d->dirty) {
        return d->next;
    }
    double now = mh_monotonic_s();
    d->next = -1;
    for (size_t i = 0; i < d->nchans; i++) {
        double s = mh_resolve_next_s(d->chans[i]->ch);
        if (s >= 0 && (d->next < 0 || now + s < d->next)) {
            d->next = now + s;
        }
    }
    d->dirty = false;
    return d->next;
}

void
mh_rdns_timers(struct mh_rdns *d)
{
    d->dirty = true;
    for (size_t i = 0; i < d->nchans; i++) {
        mh_resolve_process_fds(d->chans[i]->ch, -1, -1);
    }
}
