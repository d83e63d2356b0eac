/* SPDX-License-Identifier: MIT */
/*
 * transport: the byte stream a probe talks through, and the test seam.
 *
 * Probes only see struct mh_transport: read some bytes, write bytes, upgrade
 * to TLS, destroy. The real implementation (mh_tcp_connect) is a
 * non-blocking TCP socket plus OpenSSL; unit tests install their own ops that
 * play a scripted server. Every operation takes the check's deadline and
 * never waits past it.
 *
 * On top of the ops this module provides bounded line reading with the
 * transport's own receive buffer (mh_transport_read_line), so replies are
 * reassembled across TCP segments and TLS records whatever the peer does.
 */
#ifndef MH_TRANSPORT_H
#define MH_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "deadline.h"
#include "resolve.h"
#include "verdict.h"

/* Outcome of a transport operation. */
enum mh_io {
    MH_IO_OK = 0,
    MH_IO_EOF,     /* the peer closed the connection */
    MH_IO_TIMEOUT, /* the deadline passed */
    MH_IO_ERROR,   /* socket error (reset, ...); detail in err */
    MH_IO_TLS,     /* TLS handshake or record failure; detail in err */
    MH_IO_TOOLONG, /* a line exceeded the caller's maximum */
    MH_IO_AGAIN    /* event-driven mode only: nothing more can be done
                      without waiting; wait until the socket
                      (mh_transport.fd) is ready for mh_transport.want
                      (POLLIN or POLLOUT) and call again */
};

/* Short name of an mh_io value ("ok", "eof", "timeout", ...). */
const char *mh_io_name(enum mh_io io);

/* What start_tls needs. Strings are borrowed for the duration of the call. */
struct mh_tls_params {
    const char *sni; /* server name sent in the ClientHello, NULL: none */
    const char *verify_name; /* name checked per RFC 6125 (OpenSSL host check);
                                an IP address literal is checked as an IP;
                                NULL: no name check */
    const char *ca_file;     /* PEM trust anchors; NULL with ca_path NULL:
                                the system default store */
    const char *ca_path;
    int min_version; /* e.g. TLS1_2_VERSION; 0: TLS 1.2 */
    SSL_CTX *ctx;    /* a context made by mh_tls_ctx_new() or
                        mh_tls_ctx_new_bare() (no trust anchors: the
                        caller verifies with its own store) from the
                        same parameters, or NULL: start_tls makes one
                        with mh_tls_ctx_new() (borrowed; start_tls
                        takes its own reference) */
    /* Called during the handshake as soon as the server's certificates
     * have arrived (SSL_get_peer_cert_chain is set), before the handshake
     * ends, so that their verification can start beside it; NULL: none.
     * The handshake itself never verifies (see mh_tls_ctx_new_bare). */
    void (*on_certificates)(SSL *ssl, void *arg);
    void *on_certificates_arg;
};

/*
 * Makes the TLS client context start_tls uses: mh_tls_ctx_new_bare() with
 * the trust store of mh_tls_store_new() attached. Thread-safe. Returns the
 * context (free with SSL_CTX_free) or NULL with OpenSSL's reason in errbuf.
 */
SSL_CTX *mh_tls_ctx_new(const struct mh_tls_params *p, char *errbuf,
                        size_t errlen);

/*
 * The context without trust anchors (its store is empty): minimum version
 * (TLS 1.2 by default; below 1.2 also OpenSSL security level 0, which
 * 1.0/1.1 servers need), and a handshake that does not verify the chain
 * (SSL_CTX_set_cert_verify_callback): it calls
 * mh_tls_params.on_certificates instead, and the certificate checks verify
 * afterwards (mh_tls_verify_prepare in tlscheck.h); until then
 * SSL_get_verify_result() says X509_V_ERR_UNSPECIFIED. Creating the
 * context costs more CPU than the rest of a local SMTP check (OpenSSL 3
 * fetches every algorithm), so the smtp probe builds it on a helper thread
 * while the dialogue waits for the server. Thread-safe. Returns the context
 * (SSL_CTX_free) or NULL with OpenSSL's reason in errbuf.
 */
SSL_CTX *mh_tls_ctx_new_bare(const struct mh_tls_params *p, char *errbuf,
                             size_t errlen);

/*
 * The trust store for p: ca_file and/or ca_path when given, else the
 * system's hashed directory (OpenSSL then loads only the certificates a
 * chain needs), else the system bundle. Thread-safe. Returns the store
 * (X509_STORE_free) or NULL with the reason in errbuf: an unreadable file
 * or directory named with strerror, else OpenSSL's reason.
 */
X509_STORE *mh_tls_store_new(const struct mh_tls_params *p, char *errbuf,
                             size_t errlen);

struct mh_transport;

struct mh_transport_ops {
    /* Reads up to cap bytes (at least one) into buf; *got is set on
     * MH_IO_OK. */
    enum mh_io (*read)(struct mh_transport *t, char *buf, size_t cap,
                       size_t *got, const struct mh_deadline *dl);
    /* Writes all len bytes. */
    enum mh_io (*write)(struct mh_transport *t, const char *buf, size_t len,
                        const struct mh_deadline *dl);
    /* Runs a TLS client handshake on the stream. */
    enum mh_io (*start_tls)(struct mh_transport *t,
                            const struct mh_tls_params *p,
                            const struct mh_deadline *dl);
    /* Closes the stream and frees impl (not the struct mh_transport). */
    void (*close)(struct mh_transport *t);

    /* Event-driven mode (mh_transport_set_event_driven): the same
     * operations without waiting. Each returns MH_IO_AGAIN with t->want
     * set when it cannot go on before the socket is ready. NULL in
     * transports that never wait (the test transports): the operations
     * above serve then. */
    enum mh_io (*try_read)(struct mh_transport *t, char *buf, size_t cap,
                           size_t *got);
    /* Writes what it can of buf (*done bytes, maybe fewer than len). */
    enum mh_io (*try_write)(struct mh_transport *t, const char *buf, size_t len,
                            size_t *done);
    /* Starts the handshake with p on the first call, and goes on with it
     * on the calls after MH_IO_AGAIN (p must stay valid until it ends). */
    enum mh_io (*try_start_tls)(struct mh_transport *t,
                                const struct mh_tls_params *p);
};

/* Receive buffer size: several maximal SMTP lines (RFC 5321 4.5.3.1.5). */
#define MH_TRANSPORT_RBUF 8192
/* Send queue of the event-driven mode: one command line at a time (the
 * probes never pipeline), the longest being an AUTH line. */
#define MH_TRANSPORT_WBUF 2048

struct mh_transport {
    const struct mh_transport_ops *ops;
    void *impl;            /* owned by the ops */
    SSL *ssl;              /* the TLS session once start_tls succeeded, for
                              certificate inspection; NULL otherwise; owned
                              by the ops */
    char err[256];         /* detail of the last failure, printable */
    enum mh_reason reason; /* reason of the last failure (verdict.h):
                              tls_version, tls_injection,
                              tls_handshake_failed, tls_error,
                              connection_closed; NONE when unknown */
    size_t bytes_in;       /* bytes received so far (for timeout messages) */
    int fd;                /* the socket to wait on; -1: none (test
                              transports, which never wait) */
    bool event_driven;     /* operations return MH_IO_AGAIN, never wait */
    short want;            /* after MH_IO_AGAIN: POLLIN or POLLOUT */
    char wbuf[MH_TRANSPORT_WBUF]; /* event-driven: bytes not yet sent */
    size_t wlen;
    char rbuf[MH_TRANSPORT_RBUF];
    size_t rlen;  /* bytes buffered in rbuf */
    size_t rskip; /* bytes of the line last handed out, dropped at
                     the next read */
};

/*
 * Allocates a transport over ops/impl (takes ownership of impl, released by
 * ops->close). Returns NULL on allocation failure (impl is then closed by
 * calling ops->close on a temporary transport).
 */
struct mh_transport *mh_transport_new(const struct mh_transport_ops *ops,
                                      void *impl);

/* Closes and frees the transport. NULL is fine. */
void mh_transport_free(struct mh_transport *t);

/*
 * Puts t into event-driven mode when its ops can work without waiting
 * (try_read, try_write and try_start_tls; the TCP transport's can): from
 * then on mh_transport_read_line, mh_transport_write, mh_transport_flush
 * and mh_transport_start_tls never wait but return MH_IO_AGAIN, and their
 * deadline only bounds the test transports. Returns whether t is in that
 * mode (false: its operations never wait anyway).
 */
bool mh_transport_set_event_driven(struct mh_transport *t);

/*
 * Reads one line of at most `max` octets (not counting CRLF). Lines end with
 * CRLF; a bare LF is accepted as a line end too (a documented tolerance: some
 * servers send it, RFC 5321 2.3.8 forbids it but a monitor must still read
 * the reply). The returned line has no line ending, may be empty, may contain
 * any byte but NUL is kept as is (len tells the length). *line points into
 * the transport's buffer and is valid until the next read on t.
 *
 * Returns MH_IO_OK, MH_IO_EOF (closed before a complete line; bytes received
 * so far stay counted in bytes_in), MH_IO_TIMEOUT, MH_IO_ERROR, MH_IO_TLS, or
 * MH_IO_TOOLONG when `max` octets arrived without a line end (the line is
 * not consumed further; the session should be abandoned). In event-driven
 * mode MH_IO_AGAIN says the line is not complete yet ("need more": the
 * bytes so far stay buffered; call again when the socket is readable),
 * and never MH_IO_TIMEOUT.
 */
enum mh_io mh_transport_read_line(struct mh_transport *t, size_t max,
                                  const char **line, size_t *len,
                                  const struct mh_deadline *dl);

/*
 * Writes all of buf. Returns MH_IO_OK or the failure. In event-driven mode
 * what cannot be sent at once is queued (at most MH_TRANSPORT_WBUF bytes
 * in all; more is MH_IO_ERROR): MH_IO_OK then means sent or queued, and
 * mh_transport_flush sends the rest once the socket is writable.
 */
enum mh_io mh_transport_write(struct mh_transport *t, const char *buf,
                              size_t len, const struct mh_deadline *dl);

/* Event-driven mode: sends what is queued. Returns MH_IO_OK when nothing
 * is left, MH_IO_AGAIN (wait for t->want), or the failure. */
enum mh_io mh_transport_flush(struct mh_transport *t);

/*
 * Starts TLS. Fails with MH_IO_TLS ("server sent data before the TLS
 * handshake") when unread bytes are buffered: after a STARTTLS reply nothing
 * may precede the handshake (RFC 3207 section 5; such bytes would be
 * injected plaintext). In event-driven mode it returns MH_IO_AGAIN until
 * the handshake has ended: call it again, with the same p, each time the
 * socket is ready for t->want.
 */
enum mh_io mh_transport_start_tls(struct mh_transport *t,
                                  const struct mh_tls_params *p,
                                  const struct mh_deadline *dl);

/* Number of received bytes not yet consumed by read_line. */
size_t mh_transport_pending(const struct mh_transport *t);

/* Facts about a TCP connection attempt. */
struct mh_connect_info {
    char address[64]; /* numeric address connected to (or last tried) */
    double resolve_s; /* seconds spent resolving the name */
    double connect_s; /* seconds from the first connect() to success */
    int addresses_tried;
    enum mh_reason reason; /* on failure: name_not_found,
                              dns_lookup_failed, dns_timeout,
                              connect_timeout, connection_refused or
                              network_unreachable */
};

/*
 * Resolves host (c-ares, or numeric) and connects to each of its addresses
 * in turn, on TCP port `port` (1..65535; the command line's value, parsed
 * once by mh_parse_port() in textutil.h), until one accepts: IPv6 and IPv4
 * unless family is AF_INET or AF_INET6 (-4/-6). Each attempt gets the time left
 * divided by the number of addresses left, so one black-holed address cannot
 * use up the whole deadline. resolver is "IP[:PORT]" or NULL for the system
 * resolver.
 *
 * Returns MH_IO_OK with *out set (free with mh_transport_free), or
 * MH_IO_ERROR (name does not resolve, refused, unreachable; detail in errbuf,
 * per address), or MH_IO_TIMEOUT. Category: connection / timeout.
 */
enum mh_io mh_tcp_connect(const char *host, uint16_t port, int family,
                          const char *resolver, const struct mh_deadline *dl,
                          struct mh_transport **out,
                          struct mh_connect_info *info, char *errbuf,
                          size_t errlen);

/*
 * The lookup step of mh_tcp_connect alone: host's addresses (a numeric
 * host without any lookup), info->resolve_s and, on failure, info->reason
 * (name_not_found, dns_lookup_failed, dns_timeout) and errbuf. Returns
 * MH_IO_OK with *addrs (free()) and *naddrs >= 1, MH_IO_ERROR or
 * MH_IO_TIMEOUT. Waits (c-ares) for a name; an event loop looks names up
 * on its own channel instead (resolve.h: mh_resolve_host_start).
 */
struct mh_addr;
enum mh_io mh_tcp_resolve(const char *host, int family, const char *resolver,
                          const struct mh_deadline *dl, struct mh_addr **addrs,
                          size_t *naddrs, struct mh_connect_info *info,
                          char *errbuf, size_t errlen);
/* A lookup's outcome (resolve.h) as mh_tcp_resolve reports it: sets
 * info->reason on failure; returns MH_IO_OK, MH_IO_ERROR or
 * MH_IO_TIMEOUT. */
enum mh_io mh_tcp_resolve_io(enum mh_resolve_status rs,
                             struct mh_connect_info *info);

/*
 * The connection attempts of mh_tcp_connect as a machine that never waits,
 * for event loops: each of the addresses in turn, each attempt bounded by
 * the time left divided by the addresses left (so one black-holed address
 * cannot use up the whole deadline). Non-blocking connect(2): EINPROGRESS,
 * then the socket's SO_ERROR once it is writable.
 *
 * Use: mh_connector_init, then mh_connector_step until it returns other
 * than MH_IO_AGAIN; after MH_IO_AGAIN wait until c->fd is writable
 * (POLLOUT), or until c->share passes, then call mh_connector_expire
 * before the next step. Ends with MH_IO_OK (*out: the connected transport,
 * free with mh_transport_free), MH_IO_ERROR or MH_IO_TIMEOUT (with info
 * and errbuf as mh_tcp_connect fills them). mh_connector_free closes an
 * attempt left under way and frees the addresses.
 */
struct mh_connector {
    struct mh_addr *addrs; /* owned (malloc'd); port set by the connector */
    size_t naddrs, next;   /* next: addresses started so far */
    uint16_t port;
    const struct mh_deadline *dl; /* the check's, borrowed */
    struct mh_deadline share;     /* the attempt under way's */
    int fd;                       /* the attempt under way, or -1 */
    struct mh_connect_info *info; /* borrowed; address, connect_s, reason */
    char *errbuf;                 /* borrowed; the failures, per address */
    size_t errlen, used;
    bool any_timeout, all_refused, expired;
    double t1; /* monotonic start of the first attempt */
};

/* Starts the attempts on addrs (takes them; naddrs >= 1) to port. info and
 * errbuf must stay valid until the end. */
void mh_connector_init(struct mh_connector *c, struct mh_addr *addrs,
                       size_t naddrs, uint16_t port,
                       const struct mh_deadline *dl,
                       struct mh_connect_info *info, char *errbuf,
                       size_t errlen);

/* Goes on as far as it can without waiting (see above). */
enum mh_io mh_connector_step(struct mh_connector *c, struct mh_transport **out);

/* The attempt under way has used up its share of the time. */
void mh_connector_expire(struct mh_connector *c);

/* Frees what is left (an attempt under way, the addresses). */
void mh_connector_free(struct mh_connector *c);

#endif
