/* SPDX-License-Identifier: MIT */
/*
 * resolve: c-ares lookups bounded by the check's deadline (see resolve.h).
 */
#include "resolve.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <arpa/nameser.h>

/* Per-try timeout and tries of the c-ares channel; the check's deadline cuts
 * the whole exchange anyway. */
#define MH_ARES_TIMEOUT_MS 1500
#define MH_ARES_TRIES 3

int
mh_resolve_global_init(void)
{
    return ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS ? 0 : -1;
}

void
mh_resolve_global_cleanup(void)
{
    ares_library_cleanup();
}

/*
 * Turns "IP", "IP:PORT" or "[IPv6]:PORT" into the "IP:PORT" / "[IPv6]:PORT"
 * csv form of ares_set_servers_ports_csv(). A bare IPv6 address (two or more
 * colons, no brackets) is taken as an address without port.
 */
static int
resolver_csv(const char *resolver, char *out, size_t outlen)
{
    int n;
    const char *first = strchr(resolver, ':');
    if (resolver[0] != '[' && first != NULL && strchr(first + 1, ':') != NULL) {
        n = snprintf(out, outlen, "[%s]:53", resolver);
    } else {
        n = snprintf(out, outlen, "%s", resolver);
    }
    return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

void
mh_resolve_tries_for(long left_ms, int *timeout_ms, int *tries)
{
    long t = left_ms / 7;
    if (t < MH_RESOLVE_TRY_MIN_MS) {
        t = MH_RESOLVE_TRY_MIN_MS;
    }
    if (t > MH_RESOLVE_TRY_MAX_MS) {
        t = MH_RESOLVE_TRY_MAX_MS;
    }
    *timeout_ms = (int)t;
    *tries = 4;
}

int
mh_resolve_channel_new(const char *resolver, unsigned flags, void **channel,
                       char *errbuf, size_t errlen)
{
    return mh_resolve_channel_new_within(resolver, flags, NULL, channel, errbuf,
                                         errlen);
}

/* Sets up a channel (see mh_resolve_channel_new_within) whose tries fit
 * within_ms (< 0: the fixed 1.5 s x 3); watch, when not NULL, is c-ares'
 * socket state callback. */
static int
channel_new(const char *resolver, unsigned flags, long within_ms,
            mh_resolve_watch_fn *watch, void *watch_arg, void **channel,
            char *errbuf, size_t errlen)
{
    struct ares_options opts;
    memset(&opts, 0, sizeof opts);
    opts.timeout = MH_ARES_TIMEOUT_MS;
    opts.tries = MH_ARES_TRIES;
    if (within_ms >= 0) {
        mh_resolve_tries_for(within_ms, &opts.timeout, &opts.tries);
    }
    int optmask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    if (flags & MH_RESOLVE_SERVFAIL_ANSWERS) {
        opts.flags |= ARES_FLAG_NOCHECKRESP;
        optmask |= ARES_OPT_FLAGS;
    }
    if (flags & MH_RESOLVE_EDNS) {
        opts.flags |= ARES_FLAG_EDNS;
        opts.ednspsz = 1232;
        optmask |= ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ;
    }
    if (flags & MH_RESOLVE_BULK) {
        opts.socket_receive_buffer_size = MH_RESOLVE_BULK_SOCKBUF;
        opts.socket_send_buffer_size = MH_RESOLVE_BULK_SOCKBUF;
        optmask |= ARES_OPT_SOCK_RCVBUF | ARES_OPT_SOCK_SNDBUF;
    }
    if (watch != NULL) {
        opts.sock_state_cb = watch;
        opts.sock_state_cb_data = watch_arg;
        optmask |= ARES_OPT_SOCK_STATE_CB;
    }
    ares_channel ch;
    int rc = ares_init_options(&ch, &opts, optmask);
    if (rc != ARES_SUCCESS) {
        snprintf(errbuf, errlen, "cannot set up the DNS resolver: %s",
                 ares_strerror(rc));
        return -1;
    }
    if (resolver != NULL && resolver[0] != '\0') {
        char csv[128];
        if (resolver_csv(resolver, csv, sizeof csv) != 0) {
            snprintf(errbuf, errlen, "resolver address too long");
            ares_destroy(ch);
            return -1;
        }
        rc = ares_set_servers_ports_csv(ch, csv);
        if (rc != ARES_SUCCESS) {
            snprintf(errbuf, errlen, "invalid resolver '%s': %s", resolver,
                     ares_strerror(rc));
            ares_destroy(ch);
            return -1;
        }
    }
    *channel = ch;
    return 0;
}

int
mh_resolve_channel_new_within(const char *resolver, unsigned flags,
                              const struct mh_deadline *dl, void **channel,
                              char *errbuf, size_t errlen)
{
    return channel_new(resolver, flags,
                       dl != NULL ? mh_deadline_ms_left(dl) : -1, NULL, NULL,
                       channel, errbuf, errlen);
}

int
mh_resolve_channel_new_watched(const char *resolver, unsigned flags,
                               long within_ms, mh_resolve_watch_fn *watch,
                               void *watch_arg, void **channel, char *errbuf,
                               size_t errlen)
{
    return channel_new(resolver, flags, within_ms, watch, watch_arg, channel,
                       errbuf, errlen);
}

double
mh_resolve_next_s(void *channel)
{
    struct timeval tvbuf;
    struct timeval *tv = ares_timeout((ares_channel)channel, NULL, &tvbuf);
    if (tv == NULL) {
        return -1;
    }
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

void
mh_resolve_process_fds(void *channel, int rfd, int wfd)
{
    ares_process_fd((ares_channel)channel,
                    rfd >= 0 ? (ares_socket_t)rfd : ARES_SOCKET_BAD,
                    wfd >= 0 ? (ares_socket_t)wfd : ARES_SOCKET_BAD);
}

void
mh_resolve_channel_free(void *channel)
{
    if (channel != NULL) {
        ares_destroy((ares_channel)channel);
    }
}

void
mh_resolve_wait(void *channel, const struct mh_deadline *dl)
{
    ares_channel ch = channel;
    for (;;) {
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
        struct pollfd pfd[ARES_GETSOCK_MAXNUM];
        nfds_t n = 0;
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            short ev = 0;
            /* ARES_GETSOCK_READABLE/WRITABLE shift a signed 1 into the
             * sign bit for the last socket (undefined behaviour): test the
             * same bits unsigned. */
            unsigned ubits = (unsigned)bits;
            if ((ubits >> i) & 1u) {
                ev |= POLLIN;
            }
            if ((ubits >> (i + ARES_GETSOCK_MAXNUM)) & 1u) {
                ev |= POLLOUT;
            }
            if (ev != 0) {
                pfd[n].fd = socks[i];
                pfd[n].events = ev;
                pfd[n].revents = 0;
                n++;
            }
        }
        if (n == 0) {
            return; /* nothing in flight */
        }
        int left = mh_deadline_ms_left(dl);
        if (left <= 0) {
            ares_cancel(ch);
            return;
        }
        struct timeval maxtv = {left / 1000, (left % 1000) * 1000};
        struct timeval tvbuf;
        struct timeval *tv = ares_timeout(ch, &maxtv, &tvbuf);
        int wait_ms = (int)(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000);
        int pr = poll(pfd, n, wait_ms);
        if (pr <= 0) {
            /* Timeout (or EINTR): let c-ares handle its retry timers. */
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
            continue;
        }
        for (nfds_t i = 0; i < n; i++) {
            mh_resolve_process(ch, &pfd[i]);
        }
    }
}

void
mh_resolve_process(void *channel, const struct pollfd *pfd)
{
    ares_socket_t rfd = (pfd->revents & (POLLIN | POLLERR | POLLHUP))
                            ? pfd->fd
                            : ARES_SOCKET_BAD;
    ares_socket_t wfd = (pfd->revents & POLLOUT) ? pfd->fd : ARES_SOCKET_BAD;
    if (rfd != ARES_SOCKET_BAD || wfd != ARES_SOCKET_BAD) {
        ares_process_fd((ares_channel)channel, rfd, wfd);
    }
}

/* Collects the outcome of ares_getaddrinfo. */
struct gai_ctx {
    int status;
    bool done;
    struct mh_addr *addrs;
    size_t naddrs;
};

static void
fill_text(struct mh_addr *a)
{
    const void *src =
        a->family == AF_INET6
            ? (const void *)&((struct sockaddr_in6 *)&a->sa)->sin6_addr
            : (const void *)&((struct sockaddr_in *)&a->sa)->sin_addr;
    if (inet_ntop(a->family, src, a->text, sizeof a->text) == NULL) {
        snprintf(a->text, sizeof a->text, "?");
    }
}

static void
gai_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    struct gai_ctx *ctx = arg;
    ctx->status = status;
    ctx->done = true;
    if (status != ARES_SUCCESS || res == NULL) {
        if (res != NULL) {
            ares_freeaddrinfo(res);
        }
        return;
    }
    size_t n = 0;
    for (struct ares_addrinfo_node *nd = res->nodes; nd != NULL;
         nd = nd->ai_next) {
        n++;
    }
    ctx->addrs = n > 0 ? calloc(n, sizeof *ctx->addrs) : NULL;
    if (ctx->addrs == NULL) {
        ctx->status = n > 0 ? ARES_ENOMEM : ARES_ENODATA;
        ares_freeaddrinfo(res);
        return;
    }
    /* IPv6 addresses first, then IPv4, each in the resolver's order. */
    for (int pass = 0; pass < 2; pass++) {
        int fam = pass == 0 ? AF_INET6 : AF_INET;
        for (struct ares_addrinfo_node *nd = res->nodes; nd != NULL;
             nd = nd->ai_next) {
            if (nd->ai_family != fam ||
                nd->ai_addrlen >
                    (ares_socklen_t)sizeof(struct sockaddr_storage)) {
                continue;
            }
            struct mh_addr *a = &ctx->addrs[ctx->naddrs++];
            memcpy(&a->sa, nd->ai_addr, nd->ai_addrlen);
            a->salen = (socklen_t)nd->ai_addrlen;
            a->family = fam;
            fill_text(a);
        }
    }
    ares_freeaddrinfo(res);
}

/* Numeric address: no lookup at all (getaddrinfo with AI_NUMERICHOST never
 * blocks). Returns 1 if host was numeric and handled, 0 otherwise. */
static int
numeric_host(const char *host, int family, struct mh_addr **addrs,
             size_t *naddrs)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_flags = AI_NUMERICHOST;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
        return 0;
    }
    struct mh_addr *a = calloc(1, sizeof *a);
    if (a == NULL) {
        freeaddrinfo(res);
        return -1;
    }
    memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
    a->salen = res->ai_addrlen;
    a->family = res->ai_family;
    fill_text(a);
    freeaddrinfo(res);
    *addrs = a;
    *naddrs = 1;
    return 1;
}

/* The outcome of a lookup (ctx: its callback's record; expired: the
 * check's deadline has passed): *addrs takes ctx's addresses on
 * MH_RESOLVE_OK, else they are freed and errbuf says why. */
static enum mh_resolve_status
gai_outcome(struct gai_ctx *ctx, const char *host, int family, bool expired,
            struct mh_addr **addrs, size_t *naddrs, char *errbuf, size_t errlen)
{
    if (ctx->done && ctx->status == ARES_SUCCESS && ctx->naddrs > 0) {
        *addrs = ctx->addrs;
        *naddrs = ctx->naddrs;
        ctx->addrs = NULL;
        return MH_RESOLVE_OK;
    }
    free(ctx->addrs);
    ctx->addrs = NULL;
    if (!ctx->done || ctx->status == ARES_ECANCELLED ||
        ctx->status == ARES_EDESTRUCTION || ctx->status == ARES_ETIMEOUT) {
        if (expired || ctx->status != ARES_ETIMEOUT) {
            snprintf(errbuf, errlen, "no DNS answer for %s within the deadline",
                     host);
        } else {
            /* c-ares gave up before the deadline: every try timed out. */
            snprintf(errbuf, errlen,
                     "no DNS answer for %s: the resolver did not answer %d "
                     "tries of %.1f s",
                     host, MH_ARES_TRIES, MH_ARES_TIMEOUT_MS / 1000.0);
        }
        return MH_RESOLVE_TIMEOUT;
    }
    if (ctx->status == ARES_ENOTFOUND || ctx->status == ARES_ENODATA ||
        ctx->status == ARES_SUCCESS) {
        snprintf(errbuf, errlen, "%s does not resolve%s", host,
                 family == AF_INET    ? " to an IPv4 address"
                 : family == AF_INET6 ? " to an IPv6 address"
                                      : "");
        return MH_RESOLVE_NOTFOUND;
    }
    snprintf(errbuf, errlen, "DNS lookup of %s failed: %s", host,
             ares_strerror(ctx->status));
    return MH_RESOLVE_FAILED;
}

enum mh_resolve_status
mh_resolve_host(const char *host, int family, const char *resolver,
                const struct mh_deadline *dl, struct mh_addr **addrs,
                size_t *naddrs, char *errbuf, size_t errlen)
{
    *addrs = NULL;
    *naddrs = 0;
    int num = numeric_host(host, family, addrs, naddrs);
    if (num == 1) {
        return MH_RESOLVE_OK;
    }
    if (num < 0) {
        snprintf(errbuf, errlen, "out of memory");
        return MH_RESOLVE_FAILED;
    }
    void *channel = NULL;
    if (mh_resolve_channel_new(resolver, 0, &channel, errbuf, errlen) != 0) {
        return MH_RESOLVE_FAILED;
    }
    struct gai_ctx ctx = {.status = ARES_ETIMEOUT};
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo(channel, host, NULL, &hints, gai_cb, &ctx);
    mh_resolve_wait(channel, dl);
    mh_resolve_channel_free(channel); /* runs pending callbacks (cancelled) */

    return gai_outcome(&ctx, host, family, mh_deadline_expired(dl), addrs,
                       naddrs, errbuf, errlen);
}

/* ====== lookups on a caller's channel ====== */

struct mh_host_lookup {
    struct gai_ctx ctx;
    bool detached; /* given up: the callback frees it */
    void (*notify)(void *arg);
    void *arg;
    int family;
    char host[];
};

static void
async_cb(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    struct mh_host_lookup *h = arg;
    gai_cb(&h->ctx, status, timeouts, res);
    if (h->detached) {
        free(h->ctx.addrs);
        free(h);
        return;
    }
    h->notify(h->arg);
}

struct mh_host_lookup *
mh_resolve_host_start(void *channel, const char *host, int family,
                      void (*notify)(void *arg), void *arg)
{
    size_t len = strlen(host);
    struct mh_host_lookup *h = calloc(1, sizeof *h + len + 1);
    if (h == NULL) {
        return NULL;
    }
    memcpy(h->host, host, len + 1);
    h->family = family;
    h->notify = notify;
    h->arg = arg;
    h->ctx.status = ARES_ETIMEOUT;
    int num = numeric_host(host, family, &h->ctx.addrs, &h->ctx.naddrs);
    if (num != 0) {
        h->ctx.done = true;
        h->ctx.status = num == 1 ? ARES_SUCCESS : ARES_ENOMEM;
        return h;
    }
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo((ares_channel)channel, host, NULL, &hints, async_cb, h);
    return h;
}

bool
mh_resolve_host_done(const struct mh_host_lookup *h)
{
    return h->ctx.done;
}

enum mh_resolve_status
mh_resolve_host_end(struct mh_host_lookup *h, bool expired,
                    struct mh_addr **addrs, size_t *naddrs, char *errbuf,
                    size_t errlen)
{
    *addrs = NULL;
    *naddrs = 0;
    enum mh_resolve_status rs;
    if (h->ctx.done && h->ctx.status == ARES_ENOMEM) {
        snprintf(errbuf, errlen, "out of memory");
        free(h->ctx.addrs);
        rs = MH_RESOLVE_FAILED;
    } else {
        rs = gai_outcome(&h->ctx, h->host, h->family, expired, addrs, naddrs,
                         errbuf, errlen);
    }
    if (h->ctx.done) {
        free(h);
    } else {
        h->detached = true; /* c-ares still holds it */
    }
    return rs;
}

/* ====== TXT records ====== */

int
mh_txt_records_parse(const unsigned char *abuf, int alen,
                     struct mh_txt_record **recs, size_t *n)
{
    *recs = NULL;
    *n = 0;
    struct ares_txt_ext *txt = NULL;
    int rc = ares_parse_txt_reply_ext(abuf, alen, &txt);
    if (rc == ARES_ENODATA) {
        return 0;
    }
    if (rc != ARES_SUCCESS) {
        return -1;
    }
    size_t count = 0;
    for (struct ares_txt_ext *t = txt; t != NULL; t = t->next) {
        if (t->record_start || t == txt) {
            count++;
        }
    }
    struct mh_txt_record *out = calloc(count > 0 ? count : 1, sizeof *out);
    if (out == NULL) {
        ares_free_data(txt);
        return -1;
    }
    size_t k = 0;
    int ret = 0;
    for (struct ares_txt_ext *t = txt; t != NULL && ret == 0; t = t->next) {
        if (t->record_start || t == txt) {
            k++;
        }
        /* A record is the concatenation of its strings (RFC 1035 3.3.14,
         * RFC 8461 3.1, RFC 8460 3). */
        struct mh_txt_record *r = &out[k - 1];
        unsigned char *d = realloc(r->data, r->len + t->length + 1);
        if (d == NULL) {
            ret = -1;
            break;
        }
        memcpy(d + r->len, t->txt, t->length);
        r->len += t->length;
        d[r->len] = '\0';
        r->data = d;
    }
    ares_free_data(txt);
    if (ret != 0) {
        mh_txt_records_free(out, count);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (out[i].data == NULL) { /* a record of one empty string */
            out[i].data = calloc(1, 1);
            if (out[i].data == NULL) {
                mh_txt_records_free(out, count);
                return -1;
            }
        }
    }
    *recs = out;
    *n = count;
    return 0;
}

void
mh_txt_records_free(struct mh_txt_record *recs, size_t n)
{
    if (recs == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(recs[i].data);
    }
    free(recs);
}

struct txt_query {
    struct mh_txt_lookup *l;
    bool done;
    int status;
};

static void
txt_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct txt_query *q = arg;
    q->done = true;
    q->status = status;
    if (status == ARES_SUCCESS &&
        mh_txt_records_parse(abuf, alen, &q->l->recs, &q->l->nrecs) != 0) {
        q->status = ARES_EBADRESP;
    }
}

int
mh_resolve_txt(struct mh_txt_lookup *lookups, size_t n, const char *resolver,
               const struct mh_deadline *dl)
{
    char err[160] = "";
    for (size_t i = 0; i < n; i++) {
        lookups[i].status = MH_RESOLVE_FAILED;
        lookups[i].recs = NULL;
        lookups[i].nrecs = 0;
        lookups[i].err[0] = '\0';
    }
    void *channel = NULL;
    struct txt_query *q = calloc(n > 0 ? n : 1, sizeof *q);
    if (q == NULL ||
        mh_resolve_channel_new(resolver, MH_RESOLVE_SERVFAIL_ANSWERS, &channel,
                               err, sizeof err) != 0) {
        free(q);
        for (size_t i = 0; i < n; i++) {
            snprintf(lookups[i].err, sizeof lookups[i].err, "%s",
                     err[0] != '\0' ? err : "out of memory");
        }
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        q[i].l = &lookups[i];
        q[i].status = ARES_ETIMEOUT;
        /* ares_query: no search list, the name is absolute. */
        ares_query(channel, lookups[i].name, ns_c_in, ns_t_txt, txt_cb, &q[i]);
    }
    mh_resolve_wait(channel, dl);
    mh_resolve_channel_free(channel); /* runs pending callbacks */
    for (size_t i = 0; i < n; i++) {
        struct mh_txt_lookup *l = &lookups[i];
        int st = q[i].done ? q[i].status : ARES_ETIMEOUT;
        switch (st) {
        case ARES_SUCCESS:
            l->status = MH_RESOLVE_OK;
            break;
        case ARES_ENOTFOUND:
        case ARES_ENODATA:
            l->status = MH_RESOLVE_NOTFOUND;
            snprintf(l->err, sizeof l->err, "no TXT record at %s (%s)", l->name,
                     st == ARES_ENOTFOUND ? "NXDOMAIN" : "NODATA");
            break;
        case ARES_ETIMEOUT:
        case ARES_ECANCELLED:
        case ARES_EDESTRUCTION:
            l->status = MH_RESOLVE_TIMEOUT;
            snprintf(l->err, sizeof l->err,
                     "no DNS answer for the TXT record of %s%s", l->name,
                     mh_deadline_expired(dl) ? " within the deadline"
                                             : ": the resolver did not answer");
            break;
        default:
            l->status = MH_RESOLVE_FAILED;
            snprintf(l->err, sizeof l->err, "TXT lookup of %s failed: %s",
                     l->name, ares_strerror(st));
            break;
        }
        if (l->status != MH_RESOLVE_OK) {
            mh_txt_records_free(l->recs, l->nrecs);
            l->recs = NULL;
            l->nrecs = 0;
        }
    }
    free(q);
    return 0;
}

void
mh_txt_lookups_free(struct mh_txt_lookup *lookups, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mh_txt_records_free(lookups[i].recs, lookups[i].nrecs);
        lookups[i].recs = NULL;
        lookups[i].nrecs = 0;
    }
}
