/* SPDX-License-Identifier: MIT */
/*
 * transport: the stream any probe talks through (see transport.h):
 * buffering, bounded line reading, writes and the STARTTLS switch over any
 * implementation of struct mh_transport_ops. The real one, TCP + OpenSSL,
 * is in transport_tcp.c; the connect loop in transport_connect.c. Field
 * cases BR-NN are in tests/field-cases.md.
 */
#include "transport.h"

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

const char *
mh_io_name(enum mh_io io)
{
    switch (io) {
    case MH_IO_OK:
        return "ok";
    case MH_IO_EOF:
        return "eof";
    case MH_IO_TIMEOUT:
        return "timeout";
    case MH_IO_ERROR:
        return "error";
    case MH_IO_TLS:
        return "tls";
    case MH_IO_TOOLONG:
        return "too long";
    case MH_IO_AGAIN:
        return "again";
    }
    return "error";
}

/* ====== Generic part: buffering and line reading ====== */

struct mh_transport *
mh_transport_new(const struct mh_transport_ops *ops, void *impl)
{
    struct mh_transport *t = calloc(1, sizeof *t);
    if (t == NULL) {
        struct mh_transport tmp = {.ops = ops, .impl = impl};
        ops->close(&tmp);
        return NULL;
    }
    t->ops = ops;
    t->impl = impl;
    t->fd = -1;
    return t;
}

bool
mh_transport_set_event_driven(struct mh_transport *t)
{
    t->event_driven = t->ops->try_read != NULL && t->ops->try_write != NULL &&
                      t->ops->try_start_tls != NULL;
    return t->event_driven;
}

void
mh_transport_free(struct mh_transport *t)
{
    if (t == NULL) {
        return;
    }
    t->ops->close(t);
    free(t);
}

size_t
mh_transport_pending(const struct mh_transport *t)
{
    return t->rlen - t->rskip;
}

/* Drops the first n buffered bytes. */
static void
consume(struct mh_transport *t, size_t n)
{
    memmove(t->rbuf, t->rbuf + n, t->rlen - n);
    t->rlen -= n;
}

enum mh_io
mh_transport_read_line(struct mh_transport *t, size_t max, const char **line,
                       size_t *len, const struct mh_deadline *dl)
{
    /* The line handed out last time stays in the buffer until now. */
    consume(t, t->rskip);
    t->rskip = 0;
    static const size_t hard_max = MH_TRANSPORT_RBUF - 2;
    if (max > hard_max) {
        max = hard_max;
    }
    size_t scanned = 0;
    for (;;) {
        char *lf = memchr(t->rbuf + scanned, '\n', t->rlen - scanned);
        if (lf != NULL) {
            size_t n = (size_t)(lf - t->rbuf);
            size_t content = (n > 0 && t->rbuf[n - 1] == '\r') ? n - 1 : n;
            if (content > max) {
                return MH_IO_TOOLONG;
            }
            /* The CR or LF slot becomes the terminating NUL. */
            t->rbuf[content] = '\0';
            *line = t->rbuf;
            *len = content;
            t->rskip = n + 1;
            return MH_IO_OK;
        }
        scanned = t->rlen;
        /* Room for max content octets plus CR LF. */
        if (t->rlen >= max + 2) {
            return MH_IO_TOOLONG;
        }
        size_t got = 0;
        size_t room = sizeof t->rbuf - t->rlen;
        enum mh_io io =
            t->event_driven
                ? t->ops->try_read(t, t->rbuf + t->rlen, room, &got)
                : t->ops->read(t, t->rbuf + t->rlen, room, &got, dl);
        if (io != MH_IO_OK) {
            return io;
        }
        t->rlen += got;
        t->bytes_in += got;
    }
}

enum mh_io
mh_transport_flush(struct mh_transport *t)
{
    while (t->wlen > 0) {
        size_t done = 0;
        enum mh_io io = t->ops->try_write(t, t->wbuf, t->wlen, &done);
        memmove(t->wbuf, t->wbuf + done, t->wlen - done);
        t->wlen -= done;
        if (io != MH_IO_OK) {
            return io;
        }
    }
    return MH_IO_OK;
}

enum mh_io
mh_transport_write(struct mh_transport *t, const char *buf, size_t len,
                   const struct mh_deadline *dl)
{
    if (!t->event_driven) {
        return t->ops->write(t, buf, len, dl);
    }
    if (len > sizeof t->wbuf - t->wlen) {
        snprintf(t->err, sizeof t->err, "send queue full");
        return MH_IO_ERROR;
    }
    memcpy(t->wbuf + t->wlen, buf, len);
    t->wlen += len;
    enum mh_io io = mh_transport_flush(t);
    return io == MH_IO_AGAIN ? MH_IO_OK : io;
}

enum mh_io
mh_transport_start_tls(struct mh_transport *t, const struct mh_tls_params *p,
                       const struct mh_deadline *dl)
{
    consume(t, t->rskip);
    t->rskip = 0;
    if (t->rlen > 0) {
        snprintf(t->err, sizeof t->err,
                 "server sent %zu bytes after its reply, before the TLS "
                 "handshake",
                 t->rlen);
        t->reason = MH_REASON_TLS_INJECTION;
        return MH_IO_TLS;
    }
    return t->event_driven ? t->ops->try_start_tls(t, p)
                           : t->ops->start_tls(t, p, dl);
}
