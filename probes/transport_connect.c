/* SPDX-License-Identifier: MIT */
/*
 * transport_connect: the TCP connect loop (transport.h, struct
 * mh_connector): non-blocking connect() to each address in turn within a
 * share of the check's deadline, the reasons per address, and the blocking
 * form mh_tcp_connect for callers without an event loop. A connected
 * socket becomes a transport through transport_tcp.c.
 */
#include "transport_tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "resolve.h"
#include "textutil.h"
/* Starts a non-blocking connect() to a. Returns the socket (connected, or
 * *pending: EINPROGRESS), or -1 with the reason in err (*refused:
 * ECONNREFUSED). */
static int
connect_start(const struct mh_addr *a, bool *pending, char *err, size_t errlen,
              bool *refused)
{
    *pending = false;
    int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)&a->sa, a->salen) == 0) {
        return fd;
    }
    if (errno == EINPROGRESS) {
        *pending = true;
        return fd;
    }
    *refused = errno == ECONNREFUSED;
    snprintf(err, errlen, "%s", strerror(errno));
    close(fd);
    return -1;
}

/* The outcome of a pending connect once its socket is writable: 0, or -1
 * with the reason (SO_ERROR) in err. */
static int
connect_outcome(int fd, char *err, size_t errlen, bool *refused)
{
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
        *refused = soerr == ECONNREFUSED;
        snprintf(err, errlen, "%s", strerror(soerr != 0 ? soerr : errno));
        return -1;
    }
    return 0;
}

void
mh_connector_init(struct mh_connector *c, struct mh_addr *addrs, size_t naddrs,
                  uint16_t port, const struct mh_deadline *dl,
                  struct mh_connect_info *info, char *errbuf, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->addrs = addrs;
    c->naddrs = naddrs;
    c->port = port;
    c->dl = dl;
    c->fd = -1;
    c->info = info;
    c->errbuf = errbuf;
    c->errlen = errlen;
    c->all_refused = true;
    c->t1 = mh_monotonic_s();
    errbuf[0] = '\0';
}

/* The attempt on addrs[next - 1] failed with err. */
static void
connector_failed(struct mh_connector *c, const char *err, bool timed_out,
                 bool refused)
{
    const struct mh_addr *a = &c->addrs[c->next - 1];
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->any_timeout = c->any_timeout || timed_out;
    c->all_refused = c->all_refused && refused;
    /* Name the address only when there are several. */
    size_t room = c->errlen - c->used;
    int n = c->naddrs > 1 ? snprintf(c->errbuf + c->used, room, "%s%s: %s",
                                     c->used > 0 ? "; " : "", a->text, err)
                          : snprintf(c->errbuf, c->errlen, "%s", err);
    if (n > 0 && (size_t)n < room) {
        c->used += (size_t)n;
    }
}

/* Wraps the connected socket fd into a transport. */
static enum mh_io
connector_done(struct mh_connector *c, struct mh_transport **out)
{
    int fd = c->fd;
    c->fd = -1;
    c->info->connect_s = mh_monotonic_s() - c->t1;
    *out = mh_tcp_transport_wrap(fd);
    if (*out == NULL) {
        snprintf(c->errbuf, c->errlen, "out of memory");
        c->info->reason = MH_REASON_INTERNAL_ERROR;
        return MH_IO_ERROR;
    }
    return MH_IO_OK;
}

enum mh_io
mh_connector_step(struct mh_connector *c, struct mh_transport **out)
{
    *out = NULL;
    char err[128];
    bool refused = false;
    if (c->fd >= 0) {
        /* The attempt under way: writable, or out of time. */
        if (c->expired) {
            c->expired = false;
            connector_failed(c, "connect timed out", true, false);
        } else if (connect_outcome(c->fd, err, sizeof err, &refused) != 0) {
            connector_failed(c, err, false, refused);
        } else {
            return connector_done(c, out);
        }
    }
    while (c->next < c->naddrs) {
        struct mh_addr *a = &c->addrs[c->next++];
        if (a->family == AF_INET6) {
            ((struct sockaddr_in6 *)&a->sa)->sin6_port = htons(c->port);
        } else {
            ((struct sockaddr_in *)&a->sa)->sin_port = htons(c->port);
        }
        snprintf(c->info->address, sizeof c->info->address, "%s", a->text);
        c->info->addresses_tried++;
        /* This address's share of the time left. */
        c->share = *c->dl;
        double left = mh_deadline_s_left(c->dl);
        c->share.end =
            mh_monotonic_s() + left / (double)(c->naddrs - c->next + 1);
        bool pending = false;
        refused = false;
        c->fd = connect_start(a, &pending, err, sizeof err, &refused);
        if (c->fd >= 0 && !pending) {
            return connector_done(c, out);
        }
        if (c->fd >= 0) {
            return MH_IO_AGAIN;
        }
        connector_failed(c, err, false, refused);
    }
    c->info->connect_s = mh_monotonic_s() - c->t1;
    bool timeout = c->any_timeout && mh_deadline_expired(c->dl);
    c->info->reason = timeout          ? MH_REASON_CONNECT_TIMEOUT
                      : c->all_refused ? MH_REASON_CONNECTION_REFUSED
                                       : MH_REASON_NETWORK_UNREACHABLE;
    return timeout ? MH_IO_TIMEOUT : MH_IO_ERROR;
}

void
mh_connector_expire(struct mh_connector *c)
{
    c->expired = true;
}

void
mh_connector_free(struct mh_connector *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    free(c->addrs);
    c->addrs = NULL;
}

enum mh_io
mh_tcp_resolve(const char *host, int family, const char *resolver,
               const struct mh_deadline *dl, struct mh_addr **addrs,
               size_t *naddrs, struct mh_connect_info *info, char *errbuf,
               size_t errlen)
{
    memset(info, 0, sizeof *info);
    double t0 = mh_monotonic_s();
    enum mh_resolve_status rs = mh_resolve_host(host, family, resolver, dl,
                                                addrs, naddrs, errbuf, errlen);
    info->resolve_s = mh_monotonic_s() - t0;
    return mh_tcp_resolve_io(rs, info);
}

enum mh_io
mh_tcp_resolve_io(enum mh_resolve_status rs, struct mh_connect_info *info)
{
    if (rs != MH_RESOLVE_OK) {
        info->reason = rs == MH_RESOLVE_TIMEOUT ? MH_REASON_DNS_TIMEOUT
                       : rs == MH_RESOLVE_NOTFOUND
                           ? MH_REASON_NAME_NOT_FOUND
                           : MH_REASON_DNS_LOOKUP_FAILED;
        return rs == MH_RESOLVE_TIMEOUT ? MH_IO_TIMEOUT : MH_IO_ERROR;
    }
    return MH_IO_OK;
}

enum mh_io
mh_tcp_connect(const char *host, uint16_t port, int family,
               const char *resolver, const struct mh_deadline *dl,
               struct mh_transport **out, struct mh_connect_info *info,
               char *errbuf, size_t errlen)
{
    *out = NULL;
    struct mh_addr *addrs = NULL;
    size_t naddrs = 0;
    enum mh_io rio = mh_tcp_resolve(host, family, resolver, dl, &addrs, &naddrs,
                                    info, errbuf, errlen);
    if (rio != MH_IO_OK) {
        return rio;
    }

    struct mh_connector c;
    mh_connector_init(&c, addrs, naddrs, port, dl, info, errbuf, errlen);
    enum mh_io io;
    while ((io = mh_connector_step(&c, out)) == MH_IO_AGAIN) {
        enum mh_io w = mh_tcp_wait_fd(c.fd, POLLOUT, &c.share);
        if (w != MH_IO_OK) {
            mh_connector_expire(&c);
        }
    }
    mh_connector_free(&c);
    return io;
}
