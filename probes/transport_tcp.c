/* SPDX-License-Identifier: MIT */
/*
 * transport_tcp: the TCP + OpenSSL implementation of the transport
 * (transport.h): non-blocking reads and writes on the socket, the TLS
 * handshake stepped on readiness (SSL_ERROR_WANT_READ/WRITE), close with
 * close_notify, and the OpenSSL client context and trust store
 * (mh_tls_ctx_new). The connect loop that creates these transports is in
 * transport_connect.c. Field cases BR-NN are in tests/field-cases.md.
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

enum mh_io
mh_tcp_wait_fd(int fd, short events, const struct mh_deadline *dl)
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
        enum mh_io w = mh_tcp_wait_fd(t->fd, t->want, dl);
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
        enum mh_io w = mh_tcp_wait_fd(t->fd, t->want, dl);
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
    /* A record header that is no TLS version (RFC 8446 section 5.1): most
     * often a server that speaks plain SMTP ("220 ...") on the port, as
     * 25 and 587 do before STARTTLS. */
    tls_error(t,
              first == SSL_R_WRONG_VERSION_NUMBER
                  ? "TLS handshake failed: the server did not answer in TLS "
                    "(a plain-text SMTP port? --starttls is for those)"
                  : "TLS handshake failed",
              se);
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
        enum mh_io w = mh_tcp_wait_fd(t->fd, t->want, dl);
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

struct mh_transport *
mh_tcp_transport_wrap(int fd)
{
    struct tcp_impl *im = calloc(1, sizeof *im);
    if (im == NULL) {
        close(fd);
        return NULL;
    }
    im->fd = fd;
    /* On failure mh_transport_new closes im (tcp_close: the socket too). */
    struct mh_transport *t = mh_transport_new(&tcp_ops, im);
    if (t == NULL) {
        return NULL;
    }
    t->fd = fd;
    return t;
}
