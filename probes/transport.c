/* SPDX-License-Identifier: MIT */
/*
 * transport: bounded line reading over any transport, and the real TCP +
 * OpenSSL implementation (see transport.h). Field cases BR-NN are in
 * tests/field-cases.md.
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

/* ====== TCP + OpenSSL implementation ====== */

static bool
would_block(int e)
{
#if EWOULDBLOCK != EAGAIN
    if (e == EWOULDBLOCK) {
        return true;
    }
#endif
    return e == EAGAIN;
}

struct tcp_impl {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    /* mh_tls_params.on_certificates during the handshake (verify_later) */
    void (*on_certificates)(SSL *ssl, void *arg);
    void *on_certificates_arg;
};

/*
 * Before every wait for the server to send: Linux delays the ACK of what
 * arrives while we wait (up to 40 ms, tcp(7)) once a connection looks
 * interactive. A server that has Nagle's algorithm on and unacknowledged
 * data in flight (TLS 1.3 session tickets sent after the handshake) then
 * holds its reply until that ACK: a 40 ms stall in every fifth STARTTLS
 * check, and in the phase time we report. Quick-ACK mode is not permanent,
 * so it is re-entered before every wait for the server. Fails harmlessly
 * on other sockets.
 */
static void
quick_ack(int fd)
{
#ifdef TCP_QUICKACK
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#else
    (void)fd;
#endif
}

/* Waits until fd is readable/writable or the deadline passes. */
static enum mh_io
wait_fd(int fd, short events, const struct mh_deadline *dl)
{
    for (;;) {
        int left = mh_deadline_ms_left(dl);
        if (left <= 0) {
            return MH_IO_TIMEOUT;
        }
        struct pollfd pfd = {.fd = fd, .events = events};
        int rc = poll(&pfd, 1, left);
        if (rc > 0) {
            return MH_IO_OK;
        }
        if (rc == 0) {
            return MH_IO_TIMEOUT;
        }
        if (errno != EINTR) {
            return MH_IO_ERROR;
        }
    }
}

/* MH_IO_AGAIN: the operation waits for `events` on t's socket. */
static enum mh_io
again(struct mh_transport *t, short events)
{
    t->want = events;
    if (events == POLLIN) {
        quick_ack(t->fd);
    }
    return MH_IO_AGAIN;
}

/* Formats "what: <OpenSSL's reason>" from this thread's error queue (or
 * errno) into buf and clears the queue. */
static void
ssl_error_text(const char *what, int ssl_err, char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    char reason[200] = "";
    if (e != 0) {
        ERR_error_string_n(e, reason, sizeof reason);
        /* Keep only OpenSSL's reason text: "error:0A000410:SSL
         * routines::sslv3 alert handshake failure" -> the part after "::". */
        const char *r = strstr(reason, "::");
        snprintf(buf, len, "%s: %s", what, r != NULL ? r + 2 : reason);
    } else if (ssl_err == SSL_ERROR_SYSCALL && errno != 0) {
        snprintf(buf, len, "%s: %s", what, strerror(errno));
    } else {
        snprintf(buf, len, "%s", what);
    }
    ERR_clear_error();
}

/* Records the OpenSSL error queue (or errno) in t->err; the reason is
 * tls_error until the caller names a more precise one. */
static void
tls_error(struct mh_transport *t, const char *what, int ssl_err)
{
    ssl_error_text(what, ssl_err, t->err, sizeof t->err);
    t->reason = MH_REASON_TLS_ERROR;
}

static enum mh_io
tcp_try_read(struct mh_transport *t, char *buf, size_t cap, size_t *got)
{
    struct tcp_impl *im = t->impl;
    if (im->ssl != NULL) {
        ERR_clear_error();
        int cap_i = cap > (size_t)INT32_MAX ? INT32_MAX : (int)cap;
        int n = SSL_read(im->ssl, buf, cap_i);
        if (n > 0) {
            *got = (size_t)n;
            return MH_IO_OK;
        }
        int se = SSL_get_error(im->ssl, n);
        if (se == SSL_ERROR_WANT_READ) {
            return again(t, POLLIN);
        }
        if (se == SSL_ERROR_WANT_WRITE) {
            return again(t, POLLOUT);
        }
        if (se == SSL_ERROR_ZERO_RETURN) {
            return MH_IO_EOF;
        }
        if (se == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            if (errno == 0 || n == 0) {
                return MH_IO_EOF;
            }
            snprintf(t->err, sizeof t->err, "%s", strerror(errno));
            return MH_IO_ERROR;
        }
        /* OpenSSL 3 reports a close without close_notify as an SSL error
         * "unexpected eof while reading": that is an EOF. */
        unsigned long e = ERR_peek_error();
        if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            ERR_clear_error();
            return MH_IO_EOF;
        }
        tls_error(t, "TLS read failed", se);
        return MH_IO_TLS;
    }
    for (;;) {
        ssize_t n = recv(im->fd, buf, cap, 0);
        if (n > 0) {
            *got = (size_t)n;
            return MH_IO_OK;
        }
        if (n == 0) {
            return MH_IO_EOF;
        }
        if (errno == EINTR) {
            continue;
        }
        if (would_block(errno)) {
            return again(t, POLLIN);
        }
        snprintf(t->err, sizeof t->err, "%s", strerror(errno));
        return MH_IO_ERROR;
    }
}

static enum mh_io
tcp_read(struct mh_transport *t, char *buf, size_t cap, size_t *got,
         const struct mh_deadline *dl)
{
    for (;;) {
        enum mh_io io = tcp_try_read(t, buf, cap, got);
        if (io != MH_IO_AGAIN) {
            return io;
        }
        enum mh_io w = wait_fd(t->fd, t->want, dl);
        if (w != MH_IO_OK) {
            return w;
        }
    }
}

static enum mh_io
tcp_try_write(struct mh_transport *t, const char *buf, size_t len, size_t *done)
{
    struct tcp_impl *im = t->impl;
    *done = 0;
    while (*done < len) {
        if (im->ssl != NULL) {
            ERR_clear_error();
            /* After WANT_READ/WRITE, SSL_write(3) wants the same bytes
             * again: the caller keeps them in place (*done stays). */
            size_t chunk = len - *done > 16384 ? 16384 : len - *done;
            int n = SSL_write(im->ssl, buf + *done, (int)chunk);
            if (n > 0) {
                *done += (size_t)n;
                continue;
            }
            int se = SSL_get_error(im->ssl, n);
            if (se == SSL_ERROR_WANT_READ) {
                return again(t, POLLIN);
            }
            if (se == SSL_ERROR_WANT_WRITE) {
                return again(t, POLLOUT);
            }
            if (se == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
                snprintf(t->err, sizeof t->err, "%s",
                         errno != 0 ? strerror(errno) : "connection closed");
                return MH_IO_ERROR;
            }
            tls_error(t, "TLS write failed", se);
            return MH_IO_TLS;
        }
        /* MSG_NOSIGNAL: a peer that closed early must not kill us with
         * SIGPIPE (field case BR-28). */
        ssize_t n = send(im->fd, buf + *done, len - *done, MSG_NOSIGNAL);
        if (n >= 0) {
            *done += (size_t)n;
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (would_block(errno)) {
            return again(t, POLLOUT);
        }
        snprintf(t->err, sizeof t->err, "%s", strerror(errno));
        return MH_IO_ERROR;
    }
    return MH_IO_OK;
}

static enum mh_io
tcp_write(struct mh_transport *t, const char *buf, size_t len,
          const struct mh_deadline *dl)
{
    size_t off = 0;
    for (;;) {
        size_t done = 0;
        enum mh_io io = tcp_try_write(t, buf + off, len - off, &done);
        off += done;
        if (io != MH_IO_AGAIN) {
            return io;
        }
        enum mh_io w = wait_fd(t->fd, t->want, dl);
        if (w != MH_IO_OK) {
            return w;
        }
    }
}

/*
 * OpenSSL initialises itself on first use (OPENSSL_init_ssl(3)); this asks
 * for it explicitly, on whichever thread gets there first, with two of the
 * documented options of OPENSSL_init_crypto(3):
 *  - OPENSSL_INIT_NO_ATEXIT: OpenSSL would otherwise free its algorithm
 *    stores and error tables at exit, a third of a millisecond per one-shot
 *    check that the kernel does for free (valgrind and LeakSanitizer see
 *    those tables as reachable, not leaked);
 *  - OPENSSL_INIT_NO_ADD_ALL_CIPHERS: no table of the legacy cipher names
 *    for EVP_get_cipherbyname(), which nothing here uses (libssl fetches
 *    its ciphers from the providers, and offers the same cipher suites
 *    either way: test_hardening.sh negotiates CBC, CCM and ChaCha20 suites
 *    with old servers); filling it, and the name map OpenSSL copies from
 *    it, cost 0.7 ms per check. Digest names stay: X.509 signature checks
 *    look digests up by name.
 * Commands that never use TLS never pay for the initialisation (openssl.cnf,
 * providers, error strings). Where libcurl initialised OpenSSL first
 * (delivery, the runner), these options have no effect.
 */
static void
tls_init(void)
{
    OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_NO_ADD_ALL_CIPHERS,
                     NULL);
}

/* SSL_CTX_set_cert_verify_callback(3): replaces X509_verify_cert() in the
 * handshake, where the server's chain has just arrived; tells the caller
 * (mh_tls_params.on_certificates, kept in the tcp_impl that is the SSL's
 * app data). 1 lets the
 * handshake go on (SSL_VERIFY_NONE anyway). */
static int
verify_later(X509_STORE_CTX *ctx, void *arg)
{
    (void)arg;
    X509_STORE_CTX_set_error(ctx, X509_V_ERR_UNSPECIFIED);
    SSL *ssl =
        X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    const struct tcp_impl *im = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
    if (im != NULL && im->on_certificates != NULL) {
        im->on_certificates(ssl, im->on_certificates_arg);
    }
    return 1;
}

SSL_CTX *
mh_tls_ctx_new_bare(const struct mh_tls_params *p, char *errbuf, size_t errlen)
{
    tls_init();
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        ssl_error_text("cannot create the TLS context", 0, errbuf, errlen);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, p->min_version != 0 ? p->min_version
                                                           : TLS1_2_VERSION);
    if (p->min_version != 0 && p->min_version < TLS1_2_VERSION) {
        /* OpenSSL 3 refuses TLS 1.0/1.1 (SHA-1/MD5 signatures) at every
         * security level above 0: without this, --tls-min 1.0 could never
         * reach such a server. */
        SSL_CTX_set_security_level(ctx, 0);
    }
    /* The handshake does not verify the chain: the certificate checks do,
     * after it and off the dialogue's thread (mh_tls_verify_start in
     * tlscheck.h), with OpenSSL's X509_verify_cert() and every problem
     * recorded. Until then the session says "unspecified" rather than OK,
     * to anyone who asks SSL_get_verify_result(). */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, verify_later, NULL);
    /* SSL_CTX_set_mode(3): a session waiting for a reply holds no 16 KiB
     * read and write buffers; a runner keeps hundreds of them idle. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

X509_STORE *
mh_tls_store_new(const struct mh_tls_params *p, char *errbuf, size_t errlen)
{
    /* OpenSSL only says "system lib" for a file it cannot open. */
    const char *unreadable =
        p->ca_file != NULL && access(p->ca_file, R_OK) != 0   ? p->ca_file
        : p->ca_path != NULL && access(p->ca_path, R_OK) != 0 ? p->ca_path
                                                              : NULL;
    if (unreadable != NULL) {
        snprintf(errbuf, errlen, "cannot load the trust store %s: %s",
                 unreadable, strerror(errno));
        return NULL;
    }
    tls_init();
    ERR_clear_error();
    X509_STORE *store = X509_STORE_new();
    if (store == NULL) {
        ssl_error_text("cannot load the trust store", 0, errbuf, errlen);
        return NULL;
    }
    int ok;
    if (p->ca_file != NULL || p->ca_path != NULL) {
        ok = (p->ca_file == NULL || X509_STORE_load_file(store, p->ca_file)) &&
             (p->ca_path == NULL || X509_STORE_load_path(store, p->ca_path));
    } else {
        /* The system store as a hashed directory: OpenSSL then loads only
         * the certificates a chain needs. X509_STORE_set_default_paths
         * would also parse the whole bundle file, about 40 ms of CPU per
         * check. Systems without the hashed directory get the bundle. */
        struct stat st;
        X509_LOOKUP *lu;
        if (stat(X509_get_default_cert_dir(), &st) == 0 &&
            S_ISDIR(st.st_mode)) {
            /* X509_FILETYPE_DEFAULT: $SSL_CERT_DIR, else the default. */
            lu = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
            if (lu != NULL) {
                X509_LOOKUP_add_dir(lu, NULL, X509_FILETYPE_DEFAULT);
            }
        } else {
            /* $SSL_CERT_FILE, else the default bundle. */
            lu = X509_STORE_add_lookup(store, X509_LOOKUP_file());
            if (lu != NULL) {
                X509_LOOKUP_load_file(lu, NULL, X509_FILETYPE_DEFAULT);
            }
        }
        /* As SSL_CTX_set_default_verify_paths: a missing system store is
         * not an error here; verification then names the missing issuer. */
        ok = lu != NULL;
        ERR_clear_error();
    }
    if (ok != 1) {
        ssl_error_text("cannot load the trust store", 0, errbuf, errlen);
        X509_STORE_free(store);
        return NULL;
    }
    return store;
}

SSL_CTX *
mh_tls_ctx_new(const struct mh_tls_params *p, char *errbuf, size_t errlen)
{
    SSL_CTX *ctx = mh_tls_ctx_new_bare(p, errbuf, errlen);
    if (ctx == NULL) {
        return NULL;
    }
    X509_STORE *store = mh_tls_store_new(p, errbuf, errlen);
    if (store == NULL) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_cert_store(ctx, store); /* takes our reference */
    return ctx;
}

/* The session for a handshake with p on t's socket. */
static enum mh_io
tcp_handshake_setup(struct mh_transport *t, const struct mh_tls_params *p)
{
    struct tcp_impl *im = t->impl;
    if (p->ctx != NULL) {
        /* Built ahead of time (mh_tls_ctx_new, in parallel with the
         * dialogue): share it. */
        if (SSL_CTX_up_ref(p->ctx) != 1) {
            snprintf(t->err, sizeof t->err, "cannot use the TLS context");
            t->reason = MH_REASON_INTERNAL_ERROR;
            return MH_IO_TLS;
        }
        im->ctx = p->ctx;
    } else {
        im->ctx = mh_tls_ctx_new(p, t->err, sizeof t->err);
        if (im->ctx == NULL) {
            t->reason = MH_REASON_TRUST_STORE_ERROR;
            return MH_IO_TLS;
        }
    }
    im->ssl = SSL_new(im->ctx);
    if (im->ssl == NULL || SSL_set_fd(im->ssl, im->fd) != 1) {
        tls_error(t, "cannot create the TLS session", 0);
        return MH_IO_TLS;
    }
    /* For verify_later(). */
    im->on_certificates = p->on_certificates;
    im->on_certificates_arg = p->on_certificates_arg;
    SSL_set_app_data(im->ssl, im);
    if (p->sni != NULL && p->sni[0] != '\0' && !mh_is_ip_literal(p->sni)) {
        /* RFC 6066 section 3: SNI carries host names only, never IPs. */
        SSL_set_tlsext_host_name(im->ssl, p->sni);
    }
    if (p->verify_name != NULL && p->verify_name[0] != '\0') {
        X509_VERIFY_PARAM *vp = SSL_get0_param(im->ssl);
        if (mh_is_ip_literal(p->verify_name)) {
            X509_VERIFY_PARAM_set1_ip_asc(vp, p->verify_name);
        } else {
            X509_VERIFY_PARAM_set_hostflags(
                vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            X509_VERIFY_PARAM_set1_host(vp, p->verify_name, 0);
        }
    }
    return MH_IO_OK;
}

/* One SSL_connect(3) step: MH_IO_OK when the handshake is done,
 * MH_IO_AGAIN on SSL_ERROR_WANT_READ/WRITE, else the failure. */
static enum mh_io
tcp_handshake_step(struct mh_transport *t, const struct mh_tls_params *p)
{
    struct tcp_impl *im = t->impl;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_connect(im->ssl);
    if (rc == 1) {
        t->ssl = im->ssl;
        return MH_IO_OK;
    }
    int se = SSL_get_error(im->ssl, rc);
    if (se == SSL_ERROR_WANT_READ) {
        return again(t, POLLIN);
    }
    if (se == SSL_ERROR_WANT_WRITE) {
        return again(t, POLLOUT);
    }
    unsigned long e = ERR_peek_error();
    if ((se == SSL_ERROR_SYSCALL && e == 0) ||
        ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        snprintf(t->err, sizeof t->err,
                 "server closed the connection during the TLS "
                 "handshake");
        t->reason = MH_REASON_TLS_HANDSHAKE_FAILED;
        return MH_IO_EOF;
    }
    /* A server that offers only older versions than our minimum: say so,
     * not just "alert protocol version". */
    int first = ERR_GET_REASON(e);
    int last = ERR_GET_REASON(ERR_peek_last_error());
    bool version = false;
    for (int k = 0; k < 2; k++) {
        int why = k == 0 ? first : last;
        version = version || why == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION ||
                  why == SSL_R_UNSUPPORTED_PROTOCOL ||
                  why == SSL_R_VERSION_TOO_LOW ||
                  why == SSL_R_WRONG_SSL_VERSION;
    }
    if (version) {
        int min = p->min_version != 0 ? p->min_version : TLS1_2_VERSION;
        char what[160];
        snprintf(what, sizeof what,
                 "TLS handshake failed: server offers no TLS version "
                 "the probe accepts (minimum %s%s)",
                 min == TLS1_VERSION     ? "TLS 1.0"
                 : min == TLS1_1_VERSION ? "TLS 1.1"
                 : min == TLS1_3_VERSION ? "TLS 1.3"
                                         : "TLS 1.2",
                 p->min_version == 0 ? ", --tls-min lowers it" : "");
        tls_error(t, what, se);
        t->reason = MH_REASON_TLS_VERSION;
        return MH_IO_TLS;
    }
    tls_error(t, "TLS handshake failed", se);
    t->reason = MH_REASON_TLS_HANDSHAKE_FAILED;
    return MH_IO_TLS;
}

/* The handshake ended (either way). */
static void
tcp_handshake_end(struct mh_transport *t)
{
    struct tcp_impl *im = t->impl;
    if (im->ssl != NULL) {
        /* The hook's argument is the caller's: a later renegotiation
         * must not reach it. */
        SSL_set_app_data(im->ssl, NULL);
        im->on_certificates = NULL;
    }
}

static enum mh_io
tcp_try_start_tls(struct mh_transport *t, const struct mh_tls_params *p)
{
    struct tcp_impl *im = t->impl;
    enum mh_io io = MH_IO_OK;
    if (im->ssl == NULL) {
        io = tcp_handshake_setup(t, p);
    }
    if (io == MH_IO_OK) {
        io = tcp_handshake_step(t, p);
    }
    if (io != MH_IO_AGAIN) {
        tcp_handshake_end(t);
    }
    return io;
}

static enum mh_io
tcp_start_tls(struct mh_transport *t, const struct mh_tls_params *p,
              const struct mh_deadline *dl)
{
    for (;;) {
        enum mh_io io = tcp_try_start_tls(t, p);
        if (io != MH_IO_AGAIN) {
            return io;
        }
        enum mh_io w = wait_fd(t->fd, t->want, dl);
        if (w != MH_IO_OK) {
            if (w == MH_IO_TIMEOUT) {
                snprintf(t->err, sizeof t->err,
                         "TLS handshake did not complete within the "
                         "deadline");
            }
            tcp_handshake_end(t);
            return w;
        }
    }
}

static void
tcp_close(struct mh_transport *t)
{
    struct tcp_impl *im = t->impl;
    if (im == NULL) {
        return;
    }
    if (im->ssl != NULL) {
        /* Best effort close_notify (RFC 8446 6.1) so servers do not log a
         * reset; the socket is non-blocking, so this never waits. */
        if (SSL_is_init_finished(im->ssl)) {
            ERR_clear_error();
            (void)SSL_shutdown(im->ssl);
            ERR_clear_error();
        }
        SSL_free(im->ssl);
    }
    if (im->ctx != NULL) {
        SSL_CTX_free(im->ctx);
    }
    if (im->fd >= 0) {
        close(im->fd);
    }
    free(im);
    t->impl = NULL;
    t->ssl = NULL;
}

static const struct mh_transport_ops tcp_ops = {
    .read = tcp_read,
    .write = tcp_write,
    .start_tls = tcp_start_tls,
    .close = tcp_close,
    .try_read = tcp_try_read,
    .try_write = tcp_try_write,
    .try_start_tls = tcp_try_start_tls,
};

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
    struct tcp_impl *im = calloc(1, sizeof *im);
    if (im == NULL) {
        close(fd);
        snprintf(c->errbuf, c->errlen, "out of memory");
        c->info->reason = MH_REASON_INTERNAL_ERROR;
        return MH_IO_ERROR;
    }
    im->fd = fd;
    *out = mh_transport_new(&tcp_ops, im);
    if (*out == NULL) {
        snprintf(c->errbuf, c->errlen, "out of memory");
        c->info->reason = MH_REASON_INTERNAL_ERROR;
        return MH_IO_ERROR;
    }
    (*out)->fd = fd;
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
        enum mh_io w = wait_fd(c.fd, POLLOUT, &c.share);
        if (w != MH_IO_OK) {
            mh_connector_expire(&c);
        }
    }
    mh_connector_free(&c);
    return io;
}
