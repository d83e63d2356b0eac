/* SPDX-License-Identifier: MIT */
/*
 * fs_session.c - plays one fault script on one accepted connection.
 *
 * The child process forked for a connection runs the script's directives in
 * order; a directive either lets the script go on or ends the session
 * (after which the connection is closed, see finish()). Everything seen and
 * sent is recorded in the transcript (fs_transcript.c).
 *
 * I/O rules:
 *  - the socket is non-blocking and every wait is a poll() bounded by the
 *    session deadline (the server's --max-seconds), so no directive can hang;
 *  - client lines are read into a bounded buffer (FS_MAX_CLIENT_LINE);
 *  - pauses (greet-pause, wait, drip) watch the socket with MSG_PEEK, so
 *    bytes that arrive early are noticed but stay queued for whoever reads
 *    next (the line reader, or the TLS handshake);
 *  - after a line is read, a short grace period (pipeline-grace, 15 ms by
 *    default) shows whether the client sent more without waiting for the
 *    reply: RFC 5321 section 4.3.1 / RFC 2920 (PIPELINING).
 */
#include "fs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#define IN_CAP 8192         /* client input buffer */
#define MAX_RULES 128       /* forbid, reject-if and on rules each */
#define MAX_SNI 16          /* tls-sni rules */
#define DRAIN_SECS 1.0      /* after our FIN: read what the client says */
#define HELLO_WAIT_SECS 5.0 /* raw TLS directives: wait for a ClientHello */
#define HELLO_REST_SECS 1.0 /* ... and for the rest of its record */
#define DEFAULT_GRACE 0.015 /* pipelining detection window */
#define PEEK_CAP 512        /* early-talk bytes shown in the transcript */
#define ESC_CAP 1024        /* escaped client text inside a record */
#define POLL_SLICE_MS 250   /* longest single poll(), to notice SIGTERM */

#define REPLY_BAD_SEQUENCE "503 5.5.1 Bad sequence of commands"
#define REPLY_SYNC_ERROR "554 5.5.1 SMTP synchronization error"
#define REPLY_BYE "221 2.0.0 Bye"
#define REPLY_AUTH_OK "235 2.7.0 Authentication successful"
#define REPLY_AUTH_BAD "535 5.7.8 Authentication credentials invalid"

enum flow { FLOW_NEXT, FLOW_STOP };
enum rd { RD_DATA, RD_EOF, RD_TIMEOUT, RD_STOP };
enum rl { RL_LINE, RL_EOF, RL_TIMEOUT, RL_STOP, RL_TOOLONG };
enum gl { GL_OK, GL_END, GL_TIMEOUT };
enum watch { W_QUIET, W_DATA, W_GONE, W_STOP, W_TIMEOUT };
enum rule_mode { MODE_ANY, MODE_PLAIN, MODE_TLS };
enum mech { MECH_PLAIN = 1, MECH_LOGIN = 2, MECH_CRAM = 4 };

/* A reply rule of the `on` family, used by `serve`. */
struct rule {
    const struct fs_step *st; /* word = command prefix, text = reply line */
    enum rule_mode mode;
};

struct session {
    const struct fs_script *sc;
    const struct fs_step *cur; /* directive being played */
    unsigned long id;
    int fd;
    SSL *ssl; /* non-NULL once TLS is up */
    double deadline;
    unsigned char in[IN_CAP]; /* client bytes not yet consumed */
    size_t in_len;
    size_t peek_logged; /* early-talk bytes already reported */
    bool peer_closed;   /* EOF/reset seen (and recorded) */
    bool timeout_logged;
    bool raw;     /* non-SMTP bytes on the wire: do not record as lines */
    bool greeted; /* EHLO/HELO seen since connect or since TLS started */
    bool tls_start_logged;
    const char *cert_label;
    double grace;
    const char *eol; /* line end of replies: CRLF, or LF after line-end lf */
    const char *pipelining_reply; /* set by forbid-pipelining */
    const struct fs_step *forbid[MAX_RULES];
    size_t nforbid;
    const struct fs_step *reject[MAX_RULES];
    size_t nreject;
    const struct fs_step *sni[MAX_SNI];
    size_t nsni;
    struct rule rules[MAX_RULES];
    size_t nrules;
    const struct fs_step *on_starttls;
    const struct fs_step *on_auth;
    const char *auth_result;     /* auth-result: forced final reply */
    const char *empty_challenge; /* auth-empty-challenge */
    unsigned violations;
};

/* ------------------------------------------------------------------ */
/* time and waiting                                                    */

double
fs_now(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cap_time(const struct session *s, double until)
{
    return until < s->deadline ? until : s->deadline;
}

static int
poll_ms(double until)
{
    double left = until - fs_now();

    if (left <= 0.0)
        return 0;
    if (left * 1000.0 >= (double)POLL_SLICE_MS)
        return POLL_SLICE_MS;
    return (int)(left * 1000.0) + 1;
}

/* Waits for events on fd until `until`. Returns 1 when ready, 0 when the
 * time is up, -1 when stopped (SIGTERM) or on a poll error. */
static int
wait_fd(int fd, short events, double until)
{
    for (;;) {
        struct pollfd p;
        int r;

        if (fs_stop)
            return -1;
        if (fs_now() >= until)
            return 0;
        p.fd = fd;
        p.events = events;
        p.revents = 0;
        r = poll(&p, 1, poll_ms(until));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r > 0)
            return 1;
    }
}

static void
sleep_until(double until)
{
    while (!fs_stop) {
        double left = until - fs_now();
        struct timespec ts;

        if (left <= 0.0)
            return;
        if (left > 0.25)
            left = 0.25;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)(left * 1e9);
        (void)nanosleep(&ts, NULL);
    }
}

/* ------------------------------------------------------------------ */
/* records                                                             */

static void violation(struct session *s, const char *fmt, ...) FS_PRINTF(2, 3);

static void
violation(struct session *s, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(buf, sizeof buf, fmt, ap) < 0)
        buf[0] = '\0';
    va_end(ap);
    fs_tr_violation(s->id, "%s", buf);
    s->violations++;
}

static void
timed_out(struct session *s)
{
    if (s->timeout_logged || fs_stop)
        return;
    s->timeout_logged = true;
    if (s->cur != NULL)
        fs_tr_event(s->id, "timeout in=%s script-line=%u",
                    fs_op_name(s->cur->op), s->cur->line);
    else
        fs_tr_event(s->id, "timeout");
}

/* Notes that the client has gone (EOF, reset, write error), once. */
static void
peer_gone(struct session *s, const char *detail)
{
    if (s->peer_closed)
        return;
    s->peer_closed = true;
    if (detail != NULL)
        fs_tr_event(s->id, "client-closed %s", detail);
    else
        fs_tr_event(s->id, "client-closed");
}

static bool
prefix_match(const char *line, const char *prefix)
{
    return strncasecmp(line, prefix, strlen(prefix)) == 0;
}

/* True when line is the command verb (followed by a space or nothing). */
static bool
is_verb(const char *line, const char *verb)
{
    size_t n = strlen(verb);

    return strncasecmp(line, verb, n) == 0 &&
           (line[n] == '\0' || line[n] == ' ');
}

/* ------------------------------------------------------------------ */
/* reading and writing                                                 */

/* Describes the last TLS error for a record. */
static const char *
tls_reason(SSL *ssl, int ret, char *buf, size_t cap)
{
    int e = SSL_get_error(ssl, ret);
    int saved_errno = errno;
    unsigned long code = ERR_peek_error();

    if (code != 0) {
        const char *r = ERR_reason_error_string(code);

        ERR_clear_error();
        if (snprintf(buf, cap, "%s", r != NULL ? r : "unknown error") < 0)
            return "unknown error";
        return buf;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
        return "close_notify";
    if (e == SSL_ERROR_SYSCALL)
        return saved_errno == 0 || ret == 0 ? "eof" : strerror(saved_errno);
    if (snprintf(buf, cap, "ssl error %d", e) < 0)
        return "ssl error";
    return buf;
}

/* Reads more client bytes into s->in (over TLS when active). */
static enum rd
fill(struct session *s, double until)
{
    char why[256];

    if (s->peer_closed)
        return RD_EOF;
    if (s->in_len >= sizeof s->in)
        return RD_DATA;
    for (;;) {
        size_t room = sizeof s->in - s->in_len;
        short ev = POLLIN;
        int w;

        if (s->ssl != NULL) {
            int n;
            int e;

            ERR_clear_error();
            n = SSL_read(s->ssl, s->in + s->in_len, (int)room);
            if (n > 0) {
                s->in_len += (size_t)n;
                s->peek_logged = 0;
                return RD_DATA;
            }
            e = SSL_get_error(s->ssl, n);
            if (e == SSL_ERROR_WANT_WRITE) {
                ev = POLLOUT;
            } else if (e != SSL_ERROR_WANT_READ) {
                peer_gone(s, tls_reason(s->ssl, n, why, sizeof why));
                return RD_EOF;
            }
        } else {
            ssize_t n = recv(s->fd, s->in + s->in_len, room, MSG_DONTWAIT);

            if (n > 0) {
                s->in_len += (size_t)n;
                s->peek_logged = 0;
                return RD_DATA;
            }
            if (n == 0) {
                peer_gone(s, NULL);
                return RD_EOF;
            }
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                peer_gone(s, errno == ECONNRESET ? "reset" : strerror(errno));
                return RD_EOF;
            }
        }
        w = wait_fd(s->fd, ev, until);
        if (w == 0)
            return RD_TIMEOUT;
        if (w < 0)
            return RD_STOP;
    }
}

/* Writes all bytes (over TLS when active), waiting at most until the
 * session deadline. Returns 0, or -1 when the session must end. */
static int
out_bytes(struct session *s, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    char why[256];

    while (len > 0) {
        short ev = POLLOUT;
        int w;

        if (s->fd < 0)
            return -1;
        if (s->ssl != NULL) {
            int chunk = len > (size_t)INT_MAX ? INT_MAX : (int)len;
            int n;
            int e;

            ERR_clear_error();
            n = SSL_write(s->ssl, p, chunk);
            if (n > 0) {
                p += n;
                len -= (size_t)n;
                continue;
            }
            e = SSL_get_error(s->ssl, n);
            if (e == SSL_ERROR_WANT_READ) {
                ev = POLLIN;
            } else if (e != SSL_ERROR_WANT_WRITE) {
                peer_gone(s, tls_reason(s->ssl, n, why, sizeof why));
                return -1;
            }
        } else {
            ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

            if (n > 0) {
                p += n;
                len -= (size_t)n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                if (snprintf(why, sizeof why, "write-failed %s",
                             strerror(errno)) < 0)
                    why[0] = '\0';
                peer_gone(s, why);
                return -1;
            }
        }
        w = wait_fd(s->fd, ev, s->deadline);
        if (w == 0)
            timed_out(s);
        if (w <= 0)
            return -1;
    }
    return 0;
}

/* Sends text followed by eol and records it (without the line end). */
static int
send_text(struct session *s, const char *text, size_t len, const char *eol)
{
    char buf[FS_MAX_SCRIPT_LINE + 3];
    size_t eol_len = strlen(eol);

    if (len + eol_len <= sizeof buf) {
        memcpy(buf, text, len);
        memcpy(buf + len, eol, eol_len);
        if (out_bytes(s, buf, len + eol_len) != 0)
            return -1;
    } else if (out_bytes(s, text, len) != 0 ||
               out_bytes(s, eol, eol_len) != 0) {
        return -1;
    }
    fs_tr_data(s->id, "S", text, len);
    return 0;
}

static int
send_line(struct session *s, const char *text)
{
    return send_text(s, text, strlen(text), s->eol);
}

static void
consume(struct session *s, size_t n)
{
    memmove(s->in, s->in + n, s->in_len - n);
    s->in_len -= n;
}

/* Reads one CRLF- or LF-terminated line into line (FS_MAX_CLIENT_LINE + 1
 * bytes). On RL_TOOLONG line holds the first FS_MAX_CLIENT_LINE bytes. */
static enum rl
read_line(struct session *s, char *line, size_t *len, bool *bare_lf,
          double until)
{
    for (;;) {
        unsigned char *nl = memchr(s->in, '\n', s->in_len);

        if (nl != NULL) {
            size_t n = (size_t)(nl - s->in);
            size_t used = n + 1;

            *bare_lf = !(n > 0 && s->in[n - 1] == '\r');
            if (!*bare_lf)
                n--;
            if (n > FS_MAX_CLIENT_LINE) {
                memcpy(line, s->in, FS_MAX_CLIENT_LINE);
                line[FS_MAX_CLIENT_LINE] = '\0';
                *len = FS_MAX_CLIENT_LINE;
                consume(s, used);
                return RL_TOOLONG;
            }
            memcpy(line, s->in, n);
            line[n] = '\0';
            *len = n;
            consume(s, used);
            return RL_LINE;
        }
        if (s->in_len > FS_MAX_CLIENT_LINE + 1) {
            memcpy(line, s->in, FS_MAX_CLIENT_LINE);
            line[FS_MAX_CLIENT_LINE] = '\0';
            *len = FS_MAX_CLIENT_LINE;
            s->in_len = 0;
            return RL_TOOLONG;
        }
        switch (fill(s, until)) {
        case RD_DATA:
            break;
        case RD_EOF:
            return RL_EOF;
        case RD_TIMEOUT:
            return RL_TIMEOUT;
        case RD_STOP:
            return RL_STOP;
        }
    }
}

/* Records what is left in the input buffer: complete lines as C: records
 * (checked against forbid rules when check is set), and with `final` the
 * unterminated rest too. In raw mode the bytes are only counted. */
static void
log_buffered(struct session *s, bool final, bool check)
{
    char esc[ESC_CAP];

    if (s->raw) {
        if (s->in_len > 0)
            fs_tr_event(s->id, "discarded bytes=%zu", s->in_len);
        s->in_len = 0;
        return;
    }
    for (;;) {
        unsigned char *nl = memchr(s->in, '\n', s->in_len);
        size_t n;
        size_t i;

        if (nl == NULL)
            break;
        n = (size_t)(nl - s->in);
        fs_tr_data(s->id, "C", s->in,
                   n > 0 && s->in[n - 1] == '\r' ? n - 1 : n);
        for (i = 0; check && i < s->nforbid; i++) {
            size_t plen = strlen(s->forbid[i]->text);

            if (n >= plen && strncasecmp((const char *)s->in,
                                         s->forbid[i]->text, plen) == 0) {
                violation(s,
                          "forbidden command after close (forbid %s, "
                          "script line %u): %s",
                          s->forbid[i]->text, s->forbid[i]->line,
                          fs_esc(esc, sizeof esc, s->in, n));
                break;
            }
        }
        consume(s, n + 1);
    }
    if (s->in_len > 0 && (final || s->in_len > FS_MAX_CLIENT_LINE + 1)) {
        fs_tr_data(s->id, "C", s->in, s->in_len);
        fs_tr_event(s->id, "unterminated-line bytes=%zu", s->in_len);
        s->in_len = 0;
    }
}

/* Reads and records one client line. Ends the session on EOF, at the
 * deadline, and on an over-long line. */
static enum gl
get_line(struct session *s, char *line, size_t *len, double until)
{
    double lim = cap_time(s, until);
    bool bare = false;

    switch (read_line(s, line, len, &bare, lim)) {
    case RL_LINE:
        fs_tr_data(s->id, "C", line, *len);
        if (bare)
            fs_tr_event(s->id, "bare-lf");
        return GL_OK;
    case RL_TOOLONG:
        fs_tr_data(s->id, "C", line, *len);
        fs_tr_event(s->id, "overlong-line limit=%d", FS_MAX_CLIENT_LINE);
        violation(s,
                  "client line longer than %d octets (RFC 5321 section "
                  "4.5.3.1.4 allows 512 for a command line)",
                  FS_MAX_CLIENT_LINE);
        (void)send_line(s, "500 5.5.2 Line too long");
        return GL_END;
    case RL_EOF:
        log_buffered(s, true, false);
        return GL_END;
    case RL_TIMEOUT:
        if (lim < until || until >= s->deadline) {
            timed_out(s);
            return GL_END;
        }
        return GL_TIMEOUT;
    case RL_STOP:
        return GL_END;
    }
    return GL_END;
}

/* ------------------------------------------------------------------ */
/* commands                                                            */

/* Applies the forbid rules to a client line. */
static enum flow
apply_forbid(struct session *s, const char *line, size_t len)
{
    char esc[ESC_CAP];
    size_t i;

    for (i = 0; i < s->nforbid; i++) {
        if (prefix_match(line, s->forbid[i]->text)) {
            violation(s, "forbidden command (forbid %s, script line %u): %s",
                      s->forbid[i]->text, s->forbid[i]->line,
                      fs_esc(esc, sizeof esc, line, len));
            (void)send_line(s, REPLY_BAD_SEQUENCE);
            return FLOW_STOP;
        }
    }
    if (is_verb(line, "EHLO") || is_verb(line, "HELO"))
        s->greeted = true;
    return FLOW_NEXT;
}

/* Reads one client command: records it, notes pipelining, and applies the
 * pending reject-if rules (consumed here) and the forbid rules. */
static enum flow
take_command(struct session *s, char *line, size_t *len)
{
    const struct fs_step *rej = NULL;
    char esc[ESC_CAP];
    size_t i;

    if (get_line(s, line, len, s->deadline) != GL_OK)
        return FLOW_STOP;
    /* RFC 2920 section 3: without PIPELINING (and always for EHLO, QUIT,
     * STARTTLS...) a client waits for each reply before the next command.
     * Bytes already queued, or arriving within the grace period before we
     * answer, were sent without waiting. */
    if (s->in_len == 0 && s->grace > 0.0 && !s->peer_closed)
        (void)fill(s, cap_time(s, fs_now() + s->grace));
    if (s->in_len > 0) {
        fs_tr_event(s->id, "pipelined bytes=%zu", s->in_len);
        if (s->pipelining_reply != NULL) {
            violation(s,
                      "client sent more after %s without waiting for "
                      "the reply (RFC 5321 section 4.3.1, RFC 2920)",
                      fs_esc(esc, sizeof esc, line, *len));
            log_buffered(s, true, false);
            (void)send_line(s, s->pipelining_reply);
            return FLOW_STOP;
        }
    }
    for (i = 0; i < s->nreject; i++) {
        if (prefix_match(line, s->reject[i]->word)) {
            rej = s->reject[i];
            break;
        }
    }
    s->nreject = 0;
    if (rej != NULL) {
        violation(s, "reject-if %s (script line %u) matched: %s", rej->word,
                  rej->line, fs_esc(esc, sizeof esc, line, *len));
        (void)send_text(s, rej->text, rej->text_len, s->eol);
        return FLOW_STOP;
    }
    return apply_forbid(s, line, *len);
}

/* Watches the socket until `until` without consuming anything. Early bytes
 * are reported once as EVENT early-talk. */
static enum watch
watch(struct session *s, double until, bool stop_on_data)
{
    unsigned char peek[PEEK_CAP];
    char esc[PEEK_CAP * 4 + 1];
    double lim = cap_time(s, until);
    bool seen = false;

    for (;;) {
        double now;
        ssize_t n;
        int w;

        if (fs_stop)
            return W_STOP;
        now = fs_now();
        if (now >= lim)
            return lim < until ? W_TIMEOUT : (seen ? W_DATA : W_QUIET);
        if (seen || s->peer_closed) {
            sleep_until(lim);
            continue;
        }
        w = wait_fd(s->fd, POLLIN, lim);
        if (w < 0)
            return W_STOP;
        if (w == 0)
            continue;
        n = recv(s->fd, peek, sizeof peek, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0) {
            seen = true;
            if ((size_t)n > s->peek_logged) {
                s->peek_logged = (size_t)n;
                if (s->ssl != NULL)
                    fs_tr_event(s->id, "early-talk bytes=%zd tls", n);
                else
                    fs_tr_event(s->id, "early-talk bytes=%zd data=%s", n,
                                fs_esc(esc, sizeof esc, peek, (size_t)n));
            }
            if (stop_on_data)
                return W_DATA;
        } else if (n == 0) {
            peer_gone(s, NULL);
            return W_GONE;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            peer_gone(s, errno == ECONNRESET ? "reset" : strerror(errno));
            return W_GONE;
        }
    }
}

/* ------------------------------------------------------------------ */
/* closing                                                             */

/* Reads for a short while after our FIN and records what the client still
 * says (a QUIT after an unanswered close shows up here). */
static void
drain(struct session *s, double until)
{
    double lim = cap_time(s, until);

    for (;;) {
        enum rd r = fill(s, lim);

        log_buffered(s, false, true);
        if (r != RD_DATA)
            break;
    }
    log_buffered(s, true, true);
}

/* Ends the session with a FIN (RFC 5321 section 3.8 allows a server to
 * close; a TLS session gets its close_notify first, RFC 8446 6.1). */
static void
finish(struct session *s)
{
    if (s->fd < 0)
        return;
    if (fs_stop)
        fs_tr_event(s->id, "stopped");
    if (s->ssl != NULL) {
        ERR_clear_error();
        (void)SSL_shutdown(s->ssl);
        ERR_clear_error();
    }
    (void)shutdown(s->fd, SHUT_WR);
    fs_tr_event(s->id, "close");
    if (!s->peer_closed && !fs_stop)
        drain(s, fs_now() + DRAIN_SECS);
    else
        log_buffered(s, true, false);
    if (s->ssl != NULL) {
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    (void)close(s->fd);
    s->fd = -1;
}

/* Aborts the connection with a TCP reset: SO_LINGER with a zero timeout
 * makes close() send RST instead of FIN. */
static void
do_rst(struct session *s)
{
    struct linger lg;

    lg.l_onoff = 1;
    lg.l_linger = 0;
    log_buffered(s, true, false);
    (void)setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    if (s->ssl != NULL) {
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    (void)close(s->fd);
    s->fd = -1;
    fs_tr_event(s->id, "rst");
}

/* ------------------------------------------------------------------ */
/* TLS                                                                 */

int
fs_session_servername_cb(SSL *ssl, int *alert, void *arg)
{
    struct session *s = SSL_get_app_data(ssl);
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    char esc[ESC_CAP];
    size_t i;

    (void)alert;
    (void)arg;
    if (s == NULL)
        return SSL_TLSEXT_ERR_OK;
    if (!s->tls_start_logged) {
        s->tls_start_logged = true;
        fs_tr_event(s->id, "tls-start sni=%s",
                    name != NULL ? fs_esc(esc, sizeof esc, name, strlen(name))
                                 : "-");
    }
    for (i = 0; name != NULL && i < s->nsni; i++) {
        if (strcasecmp(name, s->sni[i]->word) == 0) {
            if (SSL_set_SSL_CTX(ssl, s->sc->certs[s->sni[i]->cert].ctx) == NULL)
                return SSL_TLSEXT_ERR_ALERT_FATAL;
            s->cert_label = s->sni[i]->word;
            break;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

/* Server side of the TLS handshake (RFC 3207 section 4 for STARTTLS; the
 * same for implicit TLS, RFC 8314). */
static enum flow
tls_handshake(struct session *s, int cert)
{
    char why[256];
    char esc[ESC_CAP];
    SSL *ssl;

    if (s->ssl != NULL) {
        violation(s, "script error: TLS is already active (script line %u)",
                  s->cur != NULL ? s->cur->line : 0);
        return FLOW_STOP;
    }
    if (s->in_len > 0) {
        /* RFC 3207 section 4 / RFC 2920 section 3.1: STARTTLS ends a
         * pipeline group; plaintext after it could be injected (and must be
         * thrown away, CVE-2011-0411). */
        violation(s,
                  "client sent %zu bytes after STARTTLS before the TLS "
                  "handshake: %s",
                  s->in_len, fs_esc(esc, sizeof esc, s->in, s->in_len));
        log_buffered(s, true, false);
        s->in_len = 0;
    }
    ssl = SSL_new(s->sc->certs[cert].ctx);
    if (ssl == NULL || SSL_set_fd(ssl, s->fd) != 1) {
        fs_tr_event(s->id, "tls-fail cannot create TLS session");
        SSL_free(ssl);
        return FLOW_STOP;
    }
    (void)SSL_set_app_data(ssl, s);
    s->tls_start_logged = false;
    s->cert_label = "default";
    for (;;) {
        int r;
        int e;
        int w;
        short ev;

        ERR_clear_error();
        r = SSL_accept(ssl);
        if (r == 1)
            break;
        e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
            ev = POLLIN;
        } else if (e == SSL_ERROR_WANT_WRITE) {
            ev = POLLOUT;
        } else {
            fs_tr_event(s->id, "tls-fail %s",
                        tls_reason(ssl, r, why, sizeof why));
            SSL_free(ssl);
            s->raw = true;
            return FLOW_STOP;
        }
        w = wait_fd(s->fd, ev, s->deadline);
        if (w <= 0) {
            if (w == 0)
                fs_tr_event(s->id, "tls-fail timeout");
            timed_out(s);
            SSL_free(ssl);
            s->raw = true;
            return FLOW_STOP;
        }
    }
    if (!s->tls_start_logged) {
        const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

        s->tls_start_logged = true;
        fs_tr_event(s->id, "tls-start sni=%s",
                    name != NULL ? fs_esc(esc, sizeof esc, name, strlen(name))
                                 : "-");
    }
    fs_tr_event(s->id, "tls-done version=%s cipher=%s cert=%s",
                SSL_get_version(ssl), SSL_get_cipher_name(ssl), s->cert_label);
    s->ssl = ssl;
    /* RFC 3207 section 4.2: all knowledge from before TLS is discarded;
     * the client must send EHLO again. */
    s->greeted = false;
    return FLOW_NEXT;
}

/* Reads a raw TLS ClientHello (for the directives that misbehave inside the
 * handshake). Returns 0 when one was seen and recorded. */
static int
read_client_hello(struct session *s, bool quiet_timeout)
{
    unsigned char buf[IN_CAP * 2];
    char esc[ESC_CAP];
    char sni[256];
    double until = cap_time(s, fs_now() + HELLO_WAIT_SECS);
    size_t len = 0;

    s->raw = true;
    if (s->in_len > 0) {
        memcpy(buf, s->in, s->in_len);
        len = s->in_len;
        s->in_len = 0;
    }
    for (;;) {
        ssize_t n;
        int w;

        if (len > 0 && buf[0] != 0x16)
            break;
        if (len >= 5 && 5 + (((size_t)buf[3] << 8) | buf[4]) <= len)
            break;
        if (len >= sizeof buf)
            break;
        w = wait_fd(s->fd, POLLIN, until);
        if (w < 0)
            return -1;
        if (w == 0) {
            if (len > 0)
                break;
            if (!quiet_timeout) {
                fs_tr_event(s->id,
                            "timeout waiting for a ClientHello "
                            "(%.0f s)",
                            HELLO_WAIT_SECS);
            }
            return -1;
        }
        n = recv(s->fd, buf + len, sizeof buf - len, MSG_DONTWAIT);
        if (n == 0) {
            peer_gone(s, NULL);
            if (len == 0)
                return -1;
            break;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            peer_gone(s, errno == ECONNRESET ? "reset" : strerror(errno));
            if (len == 0)
                return -1;
            break;
        }
        if (len == 0)
            until = cap_time(s, fs_now() + HELLO_REST_SECS);
        len += (size_t)n;
    }
    if (buf[0] != 0x16) {
        violation(s, "expected a TLS ClientHello, got: %s",
                  fs_esc(esc, sizeof esc, buf, len));
        return -1;
    }
    fs_tr_event(s->id, "tls-clienthello bytes=%zu sni=%s", len,
                fs_tls_find_sni(buf, len, sni, sizeof sni) ? sni : "-");
    return 0;
}

/* Keeps the connection open and silent, counting raw bytes, until the
 * client closes or the deadline. */
static enum flow
hold_raw(struct session *s)
{
    unsigned char tmp[4096];
    size_t total = 0;

    s->raw = true;
    for (;;) {
        ssize_t n;
        int w = wait_fd(s->fd, POLLIN, s->deadline);

        if (w < 0)
            break;
        if (w == 0) {
            timed_out(s);
            break;
        }
        n = recv(s->fd, tmp, sizeof tmp, MSG_DONTWAIT);
        if (n > 0) {
            total += (size_t)n;
            continue;
        }
        if (n == 0) {
            peer_gone(s, NULL);
            break;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            peer_gone(s, errno == ECONNRESET ? "reset" : strerror(errno));
            break;
        }
    }
    fs_tr_event(s->id, "hold-end bytes=%zu", total);
    return FLOW_STOP;
}

/* ------------------------------------------------------------------ */
/* AUTH (RFC 4954)                                                     */

static const char *
mech_names(unsigned mechs)
{
    switch (mechs) {
    case MECH_PLAIN:
        return "PLAIN";
    case MECH_LOGIN:
        return "LOGIN";
    case MECH_CRAM:
        return "CRAM-MD5";
    default:
        return "PLAIN|LOGIN|CRAM-MD5";
    }
}

/* Reads one AUTH continuation line. Returns 1 for an answer, 0 when the
 * client cancelled with "*" (already answered), -1 when the session ends. */
static int
auth_answer(struct session *s, const char *mech, char *line, size_t *len)
{
    if (get_line(s, line, len, s->deadline) != GL_OK)
        return -1;
    if (strcmp(line, "*") == 0) {
        /* RFC 4954 section 4: a "*" cancels; the server answers 501. */
        fs_tr_event(s->id, "auth mech=%s result=cancelled", mech);
        return send_line(s, "501 5.7.0 Authentication cancelled") == 0 ? 0 : -1;
    }
    return 1;
}

/* Decodes a base64 answer; on failure answers 501 (RFC 4954 section 4). */
static int
auth_decode(struct session *s, const char *mech, const char *in,
            unsigned char *out, size_t cap, size_t *outlen)
{
    char esc[ESC_CAP];

    if (fs_b64_decode(in, out, cap, outlen) == 0)
        return 0;
    violation(s,
              "AUTH %s: client response is not valid base64 (RFC 4954 "
              "section 4): %s",
              mech, fs_esc(esc, sizeof esc, in, strlen(in)));
    fs_tr_event(s->id, "auth mech=%s result=bad-base64", mech);
    (void)send_line(s, "501 5.5.2 Cannot decode response");
    return -1;
}

static bool
same(const unsigned char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && memcmp(a, b, alen) == 0;
}

/* Plays the server side of one AUTH command (already read into cmd). */
/* What one mechanism's exchange ended with: the credentials' check (the
 * session goes on to the reply), or a flow to return at once (the client
 * went away or sent something that is not an answer). */
struct auth_outcome {
    bool done; /* false: return flow */
    enum flow flow;
    bool ok;
    char got_user[256];
};

/* Reads one client answer and decodes it; returns 0, or -1 with o->flow
 * set (the answer was missing or not base64). */
static int
auth_read(struct session *s, const char *mech, unsigned char *dec, size_t cap,
          size_t *dlen, struct auth_outcome *o)
{
    char line[FS_MAX_CLIENT_LINE + 1];
    size_t len = 0;
    int a = auth_answer(s, mech, line, &len);

    if (a <= 0) {
        o->flow = a < 0 ? FLOW_STOP : FLOW_NEXT;
        return -1;
    }
    if (auth_decode(s, mech, line, dec, cap, dlen) != 0) {
        o->flow = s->peer_closed ? FLOW_STOP : FLOW_NEXT;
        return -1;
    }
    return 0;
}

/* PLAIN (RFC 4616); without an initial response the server sends an empty
 * challenge, "334 " (RFC 4954 section 4). */
static void
auth_plain(struct session *s, const char *ir, const char *user,
           const char *pass, struct auth_outcome *o)
{
    unsigned char dec[FS_MAX_CLIENT_LINE];
    char line[FS_MAX_CLIENT_LINE + 1];
    const char *resp = ir;
    size_t len = 0;
    size_t dlen = 0;

    if (ir[0] == '\0') {
        int a;

        if (send_line(s, s->empty_challenge != NULL ? s->empty_challenge
                                                    : "334 ") != 0) {
            o->flow = FLOW_STOP;
            return;
        }
        a = auth_answer(s, "PLAIN", line, &len);
        if (a <= 0) {
            o->flow = a < 0 ? FLOW_STOP : FLOW_NEXT;
            return;
        }
        resp = line;
    }
    if (strcmp(resp, "=") == 0) {
        dlen = 0; /* "=" is a zero-length initial response */
    } else if (auth_decode(s, "PLAIN", resp, dec, sizeof dec, &dlen) != 0) {
        o->flow = s->peer_closed ? FLOW_STOP : FLOW_NEXT;
        return;
    }
    o->ok =
        fs_plain_check(dec, dlen, user, pass, o->got_user, sizeof o->got_user);
    o->done = true;
}

/* LOGIN (draft-murchison-sasl-login): user name and password prompted in
 * turn; lower selects the lower-case prompts some servers send. */
static void
auth_login(struct session *s, const char *ir, bool lower, const char *user,
           const char *pass, struct auth_outcome *o)
{
    unsigned char dec[FS_MAX_CLIENT_LINE];
    size_t dlen = 0;
    bool user_ok;

    if (ir[0] != '\0')
        violation(s, "AUTH LOGIN sent with an initial response; this "
                     "server does not accept one and ignores it");
    o->flow = FLOW_STOP;
    if (send_line(s, lower ? "334 dXNlcm5hbWU6" : "334 VXNlcm5hbWU6") != 0 ||
        auth_read(s, "LOGIN", dec, sizeof dec, &dlen, o) != 0)
        return;
    user_ok = same(dec, dlen, user);
    (void)fs_esc(o->got_user, sizeof o->got_user, dec, dlen);
    o->flow = FLOW_STOP;
    if (send_line(s, lower ? "334 cGFzc3dvcmQ6" : "334 UGFzc3dvcmQ6") != 0 ||
        auth_read(s, "LOGIN", dec, sizeof dec, &dlen, o) != 0)
        return;
    o->ok = user_ok && same(dec, dlen, pass);
    o->done = true;
}

/* CRAM-MD5 (RFC 2195): the challenge is a msg-id style string. */
static void
auth_cram(struct session *s, const char *ir, const char *user, const char *pass,
          struct auth_outcome *o)
{
    unsigned char dec[FS_MAX_CLIENT_LINE];
    char challenge[128];
    char b64[512];
    char prompt[sizeof b64 + 8];
    size_t dlen = 0;

    if (ir[0] != '\0')
        violation(s, "AUTH CRAM-MD5 sent with an initial response "
                     "(RFC 2195 has none); ignored");
    o->flow = FLOW_STOP;
    if (snprintf(challenge, sizeof challenge, "<%ld.%lld@fault>",
                 (long)getpid(), (long long)time(NULL)) < 0 ||
        fs_b64_encode((const unsigned char *)challenge, strlen(challenge), b64,
                      sizeof b64) != 0 ||
        snprintf(prompt, sizeof prompt, "334 %s", b64) < 0 ||
        send_line(s, prompt) != 0)
        return;
    if (auth_read(s, "CRAM-MD5", dec, sizeof dec, &dlen, o) != 0)
        return;
    o->ok = fs_cram_check(challenge, dec, dlen, user, pass, o->got_user,
                          sizeof o->got_user);
    o->done = true;
}

/* "AUTH" SP mechanism [SP initial-response] (RFC 4954 section 4): the
 * mechanism and the initial response split off cmd; returns the mechanism's
 * MECH_ bit (0: unknown) or -1 when there is no valid mechanism. */
static int
auth_parse(const char *cmd, char *ir, size_t ircap, char *mech, size_t mechcap)
{
    const char *p = cmd + 4;
    size_t n;

    while (*p == ' ')
        p++;
    n = strcspn(p, " ");
    if (n == 0 || n >= mechcap)
        return -1;
    memcpy(mech, p, n);
    mech[n] = '\0';
    p += n;
    while (*p == ' ')
        p++;
    n = strcspn(p, " ");
    if (n >= ircap)
        n = ircap - 1;
    memcpy(ir, p, n);
    ir[n] = '\0';
    if (strcasecmp(mech, "PLAIN") == 0)
        return MECH_PLAIN;
    if (strcasecmp(mech, "LOGIN") == 0)
        return MECH_LOGIN;
    if (strcasecmp(mech, "CRAM-MD5") == 0)
        return MECH_CRAM;
    return 0;
}

static enum flow
auth_exchange(struct session *s, const char *cmd, unsigned mechs, bool lower,
              const char *user, const char *pass)
{
    char ir[FS_MAX_CLIENT_LINE + 1] = "";
    char mech[64] = "";
    char esc[ESC_CAP];
    struct auth_outcome o = {.done = false};
    const char *reply;
    const char *result;
    int which = auth_parse(cmd, ir, sizeof ir, mech, sizeof mech);

    if (which < 0) {
        violation(s, "AUTH without a valid mechanism: %s",
                  fs_esc(esc, sizeof esc, cmd, strlen(cmd)));
        (void)send_line(s, "501 5.5.4 Syntax: AUTH mechanism");
        return FLOW_STOP;
    }
    if (((unsigned)which & mechs) == 0) {
        violation(s, "expected AUTH %s got %s", mech_names(mechs),
                  fs_esc(esc, sizeof esc, cmd, strlen(cmd)));
        fs_tr_event(s->id, "auth mech=%s result=unsupported",
                    fs_esc(esc, sizeof esc, mech, strlen(mech)));
        (void)send_line(s, "504 5.5.4 Unrecognized authentication type");
        return FLOW_STOP;
    }
    if (which == MECH_PLAIN)
        auth_plain(s, ir, user, pass, &o);
    else if (which == MECH_LOGIN)
        auth_login(s, ir, lower, user, pass, &o);
    else
        auth_cram(s, ir, user, pass, &o);
    if (!o.done)
        return o.flow;

    if (s->auth_result != NULL) {
        reply = s->auth_result;
        result = o.ok ? "forced(credentials-ok)" : "forced(credentials-bad)";
        s->auth_result = NULL;
    } else {
        reply = o.ok ? REPLY_AUTH_OK : REPLY_AUTH_BAD;
        result = o.ok ? "ok" : "bad-credentials";
    }
    fs_tr_event(
        s->id, "auth mech=%s user=%s result=%s", mech_names((unsigned)which),
        fs_esc(esc, sizeof esc, o.got_user, strlen(o.got_user)), result);
    return send_line(s, reply) == 0 ? FLOW_NEXT : FLOW_STOP;
}

static enum flow
op_auth(struct session *s, const struct fs_step *st, unsigned mechs, bool lower)
{
    char line[FS_MAX_CLIENT_LINE + 1];
    char esc[ESC_CAP];
    size_t len = 0;

    if (take_command(s, line, &len) != FLOW_NEXT)
        return FLOW_STOP;
    if (!is_verb(line, "AUTH")) {
        violation(s, "expected AUTH %s got %s", mech_names(mechs),
                  fs_esc(esc, sizeof esc, line, len));
        (void)send_line(s, REPLY_BAD_SEQUENCE);
        return FLOW_STOP;
    }
    return auth_exchange(s, line, mechs, lower, st->word, st->word2);
}

/* ------------------------------------------------------------------ */
/* directives                                                          */

static enum flow
op_greet_pause(struct session *s, const struct fs_step *st)
{
    switch (watch(s, fs_now() + st->secs, true)) {
    case W_QUIET:
        return FLOW_NEXT;
    case W_DATA:
        /* Take what the early talker sent, so it shows in the record. */
        (void)fill(s, cap_time(s, fs_now() + 0.05));
        log_buffered(s, true, false);
        violation(s, "client talked during the greet pause, before the "
                     "greeting was complete (RFC 5321 section 4.3.1: wait "
                     "for each reply, the greeting first)");
        (void)send_line(s, st->text != NULL ? st->text : REPLY_SYNC_ERROR);
        return FLOW_STOP;
    case W_TIMEOUT:
        timed_out(s);
        return FLOW_STOP;
    case W_GONE:
    case W_STOP:
        break;
    }
    return FLOW_STOP;
}

static enum flow
op_wait(struct session *s, const struct fs_step *st)
{
    switch (watch(s, fs_now() + st->secs, false)) {
    case W_QUIET:
    case W_DATA:
        return FLOW_NEXT;
    case W_TIMEOUT:
        timed_out(s);
        return FLOW_STOP;
    case W_GONE:
    case W_STOP:
        break;
    }
    return FLOW_STOP;
}

static enum flow
op_drip(struct session *s, const struct fs_step *st)
{
    size_t eol_len = strlen(s->eol);
    size_t total = st->text_len + eol_len;
    unsigned char *buf = malloc(total);
    size_t i;

    if (buf == NULL)
        return FLOW_STOP;
    memcpy(buf, st->text, st->text_len);
    memcpy(buf + st->text_len, s->eol, eol_len);
    for (i = 0; i < total; i++) {
        enum watch w;

        if (out_bytes(s, buf + i, 1) != 0)
            break;
        if (i + 1 == total)
            continue;
        w = watch(s, fs_now() + st->secs, false);
        if (w == W_TIMEOUT)
            timed_out(s);
        if (w != W_QUIET && w != W_DATA) {
            i++;
            break;
        }
    }
    free(buf);
    if (i < total) {
        fs_tr_event(s->id, "drip-aborted sent=%zu of=%zu", i, total);
        return FLOW_STOP;
    }
    fs_tr_data(s->id, "S", st->text, st->text_len);
    return FLOW_NEXT;
}

static enum flow
op_expect(struct session *s, const struct fs_step *st)
{
    char line[FS_MAX_CLIENT_LINE + 1];
    char esc[ESC_CAP];
    size_t len = 0;

    if (take_command(s, line, &len) != FLOW_NEXT)
        return FLOW_STOP;
    if (st->text != NULL && !prefix_match(line, st->text)) {
        violation(s, "expected %s got %s", st->text,
                  fs_esc(esc, sizeof esc, line, len));
        (void)send_line(s, REPLY_BAD_SEQUENCE);
        return FLOW_STOP;
    }
    return FLOW_NEXT;
}

/* RFC 5321 section 4.1.1.10: QUIT is answered with 221 and the server
 * closes. A client that closes without QUIT is tolerated here. */
static enum flow
op_quit(struct session *s)
{
    char line[FS_MAX_CLIENT_LINE + 1];
    char esc[ESC_CAP];
    size_t len = 0;

    if (take_command(s, line, &len) != FLOW_NEXT)
        return FLOW_STOP;
    if (!is_verb(line, "QUIT")) {
        violation(s, "expected QUIT got %s",
                  fs_esc(esc, sizeof esc, line, len));
        (void)send_line(s, REPLY_BAD_SEQUENCE);
        return FLOW_STOP;
    }
    if (s->peer_closed)
        fs_tr_event(s->id, "closed-before-reply");
    (void)send_line(s, REPLY_BYE);
    return FLOW_STOP;
}

/* hold / readall: record every client line until the client closes or the
 * deadline; forbid rules still apply. */
static enum flow
op_hold(struct session *s)
{
    char line[FS_MAX_CLIENT_LINE + 1];
    size_t len = 0;

    for (;;) {
        if (get_line(s, line, &len, s->deadline) != GL_OK)
            return FLOW_STOP;
        if (apply_forbid(s, line, len) != FLOW_NEXT)
            return FLOW_STOP;
    }
}

static uint64_t
xorshift(uint64_t *st)
{
    uint64_t x = *st;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Fills buf with junk made of segments of random binary, NUL runs, lone
 * CRs, long printable runs without a line end and invalid UTF-8. A byte
 * that starts a line is never a digit, so no SMTP reply can appear. */
static void
junk_fill(uint64_t *st, unsigned char *buf, size_t len, bool *line_start)
{
    static const unsigned char bad_utf8[][5] = {
        {0xc0, 0xaf, 0, 0, 0}, {0xff, 0, 0, 0, 0},
        {0xfe, 0, 0, 0, 0},    {0xed, 0xa0, 0x80, 0, 0},
        {0x80, 0, 0, 0, 0},    {0xf8, 0x88, 0x80, 0x80, 0x80},
        {0xc3, 0, 0, 0, 0}};
    size_t i = 0;

    while (i < len) {
        uint64_t r = xorshift(st);
        size_t seg;
        size_t k;

        switch (r % 6) {
        case 0: /* random binary */
            seg = 1 + (size_t)((r >> 8) % 64);
            for (k = 0; k < seg && i < len; k++)
                buf[i++] = (unsigned char)(xorshift(st) & 0xff);
            break;
        case 1: /* NUL run */
            seg = 1 + (size_t)((r >> 8) % 16);
            for (k = 0; k < seg && i < len; k++)
                buf[i++] = 0;
            break;
        case 2: /* CR without LF between letters */
            seg = 1 + (size_t)((r >> 8) % 8);
            for (k = 0; k < seg && i < len; k++)
                buf[i++] = (k % 2 == 0) ? '\r' : (unsigned char)('a' + k);
            break;
        case 3: /* long printable run, no line end */
            seg = 100 + (size_t)((r >> 8) % 2900);
            for (k = 0; k < seg && i < len; k++)
                buf[i++] = (unsigned char)(0x21 + (xorshift(st) % 94));
            break;
        case 4: { /* invalid UTF-8 */
            const unsigned char *b =
                bad_utf8[(r >> 8) % (sizeof bad_utf8 / sizeof bad_utf8[0])];

            buf[i++] = b[0];
            for (k = 1; k < 5 && b[k] != 0 && i < len; k++)
                buf[i++] = b[k];
            break;
        }
        default: /* a bare LF now and then */
            buf[i++] = '\n';
            break;
        }
    }
    for (i = 0; i < len; i++) {
        if (*line_start && buf[i] >= '0' && buf[i] <= '9')
            buf[i] = 0xff;
        *line_start = buf[i] == '\n';
    }
}

static enum flow
op_junk(struct session *s, const struct fs_step *st)
{
    unsigned char buf[4096];
    uint64_t state = (uint64_t)st->n2 ^ 0x9E3779B97F4A7C15ULL;
    unsigned long left = st->n;
    bool line_start = true;

    if (state == 0)
        state = 1;
    fs_tr_event(s->id, "junk seed=%lu bytes=%lu", st->n2, st->n);
    while (left > 0) {
        size_t chunk = left < sizeof buf ? (size_t)left : sizeof buf;

        junk_fill(&state, buf, chunk, &line_start);
        if (out_bytes(s, buf, chunk) != 0)
            return FLOW_STOP;
        left -= chunk;
    }
    return op_hold(s);
}

static enum flow
op_long_line(struct session *s, const struct fs_step *st)
{
    size_t eol_len = strlen(s->eol);
    size_t total = 4 + (size_t)st->n + eol_len;
    char *buf = malloc(total);
    int rc;

    if (buf == NULL)
        return FLOW_STOP;
    memcpy(buf, st->text, 3);
    buf[3] = ' ';
    memset(buf + 4, 'x', (size_t)st->n);
    memcpy(buf + 4 + st->n, s->eol, eol_len);
    rc = out_bytes(s, buf, total);
    if (rc == 0) {
        fs_tr_data(s->id, "S", buf, total - eol_len);
        fs_tr_event(s->id, "long-line octets=%zu", total);
    }
    free(buf);
    return rc == 0 ? FLOW_NEXT : FLOW_STOP;
}

/* Continuation lines forever (RFC 5321 section 4.2.1: "CODE-" lines never
 * end the reply), until the client leaves or the deadline. */
static enum flow
op_endless(struct session *s, const struct fs_step *st)
{
    char line[8];
    unsigned long count = 0;
    int len = snprintf(line, sizeof line, "%s-x%s", st->text, s->eol);

    if (len < 6 || len > 7)
        return FLOW_STOP;
    fs_tr_data(s->id, "S", line, 5);
    for (;;) {
        enum watch w;

        if (out_bytes(s, line, (size_t)len) != 0)
            break;
        count++;
        w = watch(s, fs_now() + 0.001, false);
        if (w == W_TIMEOUT)
            timed_out(s);
        if (w != W_QUIET && w != W_DATA)
            break;
    }
    fs_tr_event(s->id, "endless-continuation lines=%lu", count);
    return FLOW_STOP;
}

/* ------------------------------------------------------------------ */
/* serve: a tiny rule-driven SMTP server                               */

static bool
rule_applies(const struct session *s, const struct rule *r)
{
    return r->mode == MODE_ANY || (r->mode == MODE_PLAIN && s->ssl == NULL) ||
           (r->mode == MODE_TLS && s->ssl != NULL);
}

/* Sends every line of the first matching rule group: the rules whose
 * prefix equals (ignoring case) that of the first rule matching the line.
 * Returns the number of lines sent, or -1 when the session must end;
 * *first gets the first line sent. */
static int
send_rules(struct session *s, const char *line, const char **first)
{
    const char *group = NULL;
    int sent = 0;
    size_t i;

    *first = NULL;
    for (i = 0; i < s->nrules; i++) {
        const struct rule *r = &s->rules[i];

        if (!rule_applies(s, r) || !prefix_match(line, r->st->word))
            continue;
        if (group == NULL)
            group = r->st->word;
        else if (strcasecmp(group, r->st->word) != 0)
            continue;
        if (send_text(s, r->st->text, r->st->text_len, s->eol) != 0)
            return -1;
        if (*first == NULL)
            *first = r->st->text;
        sent++;
    }
    return sent;
}

/* Reads a DATA body up to the lone "." (RFC 5321 section 4.1.1.4). */
static enum flow
read_body(struct session *s)
{
    char line[FS_MAX_CLIENT_LINE + 1];
    size_t lines = 0;
    size_t bytes = 0;

    for (;;) {
        size_t len = 0;
        bool bare = false;
        enum rl r = read_line(s, line, &len, &bare, s->deadline);

        if (r == RL_LINE && len == 1 && line[0] == '.')
            break;
        if (r == RL_LINE || r == RL_TOOLONG) {
            lines++;
            bytes += len + 2;
            continue;
        }
        fs_tr_event(s->id, "data-body-incomplete lines=%zu bytes=%zu", lines,
                    bytes);
        if (r == RL_TIMEOUT)
            timed_out(s);
        return FLOW_STOP;
    }
    fs_tr_event(s->id, "data-body lines=%zu bytes=%zu", lines, bytes);
    return send_line(s, "250 2.0.0 Ok: queued as FAULT0001") == 0 ? FLOW_NEXT
                                                                  : FLOW_STOP;
}

static enum flow
op_serve(struct session *s)
{
    char line[FS_MAX_CLIENT_LINE + 1];
    char esc[ESC_CAP];

    for (;;) {
        const char *first = NULL;
        size_t len = 0;
        int sent;

        if (take_command(s, line, &len) != FLOW_NEXT)
            return FLOW_STOP;
        if (is_verb(line, "QUIT")) {
            (void)send_line(s, REPLY_BYE);
            return FLOW_STOP;
        }
        if (!s->greeted && (is_verb(line, "MAIL") || is_verb(line, "RCPT") ||
                            is_verb(line, "DATA") || is_verb(line, "AUTH"))) {
            /* RFC 5321 section 4.1.4; after STARTTLS, RFC 3207 section
             * 4.2 requires a new EHLO. */
            violation(
                s, "%s before EHLO/HELO%s", fs_esc(esc, sizeof esc, line, len),
                s->ssl != NULL ? " after STARTTLS (RFC 3207 section 4.2)" : "");
            (void)send_line(s, "503 5.5.1 Error: send HELO/EHLO first");
            return FLOW_STOP;
        }
        sent = send_rules(s, line, &first);
        if (sent < 0)
            return FLOW_STOP;
        if (sent > 0) {
            if (is_verb(line, "DATA") && strncmp(first, "354", 3) == 0 &&
                read_body(s) != FLOW_NEXT)
                return FLOW_STOP;
            continue;
        }
        if (is_verb(line, "STARTTLS") && s->on_starttls != NULL) {
            if (s->ssl != NULL) {
                violation(s, "STARTTLS while TLS is already active (RFC "
                             "3207 section 4)");
                (void)send_line(s, "503 5.5.1 TLS already active");
                return FLOW_STOP;
            }
            if (send_line(s, "220 2.0.0 Ready to start TLS") != 0 ||
                tls_handshake(s, s->on_starttls->cert) != FLOW_NEXT)
                return FLOW_STOP;
            continue;
        }
        if (is_verb(line, "AUTH") && s->on_auth != NULL) {
            if (auth_exchange(s, line, MECH_PLAIN | MECH_LOGIN | MECH_CRAM,
                              false, s->on_auth->word,
                              s->on_auth->word2) != FLOW_NEXT)
                return FLOW_STOP;
            continue;
        }
        if (is_verb(line, "EHLO") || is_verb(line, "HELO")) {
            if (send_line(s, "250 fault.example") != 0)
                return FLOW_STOP;
            continue;
        }
        if (is_verb(line, "NOOP") || is_verb(line, "RSET")) {
            if (send_line(s, "250 2.0.0 Ok") != 0)
                return FLOW_STOP;
            continue;
        }
        fs_tr_event(s->id, "unhandled-command %s",
                    fs_esc(esc, sizeof esc, line, len));
        if (send_line(s, "502 5.5.2 Error: command not recognized") != 0)
            return FLOW_STOP;
    }
}

/* ------------------------------------------------------------------ */
/* dispatcher                                                          */

static enum flow
add_rule(struct session *s, const struct fs_step *st, enum rule_mode mode)
{
    if (s->nrules >= MAX_RULES) {
        violation(s, "script error: too many on rules (line %u)", st->line);
        return FLOW_STOP;
    }
    s->rules[s->nrules].st = st;
    s->rules[s->nrules].mode = mode;
    s->nrules++;
    return FLOW_NEXT;
}

static enum flow
add_step(struct session *s, const struct fs_step **list, size_t *n, size_t max,
         const struct fs_step *st)
{
    if (*n >= max) {
        violation(s, "script error: too many %s rules (line %u)",
                  fs_op_name(st->op), st->line);
        return FLOW_STOP;
    }
    list[(*n)++] = st;
    return FLOW_NEXT;
}

static enum flow
run_step(struct session *s, const struct fs_step *st)
{
    s->cur = st;
    switch (st->op) {
    case OP_GREET_PAUSE:
        return op_greet_pause(s, st);
    case OP_SEND:
        return send_text(s, st->text, st->text_len, s->eol) == 0 ? FLOW_NEXT
                                                                 : FLOW_STOP;
    case OP_SEND_LF:
        return send_text(s, st->text, st->text_len, "\n") == 0 ? FLOW_NEXT
                                                               : FLOW_STOP;
    case OP_SEND_RAW:
        return send_text(s, st->text, st->text_len, "") == 0 ? FLOW_NEXT
                                                             : FLOW_STOP;
    case OP_DRIP:
        return op_drip(s, st);
    case OP_WAIT:
        return op_wait(s, st);
    case OP_EXPECT:
        return op_expect(s, st);
    case OP_EXPECT_ANY: {
        char line[FS_MAX_CLIENT_LINE + 1];
        size_t len = 0;

        return take_command(s, line, &len);
    }
    case OP_REJECT_IF:
        return add_step(s, s->reject, &s->nreject, MAX_RULES, st);
    case OP_FORBID:
        return add_step(s, s->forbid, &s->nforbid, MAX_RULES, st);
    case OP_FORBID_PIPELINING:
        s->pipelining_reply = st->text != NULL && st->text[0] != '\0'
                                  ? st->text
                                  : REPLY_SYNC_ERROR;
        return FLOW_NEXT;
    case OP_PIPELINE_GRACE:
        s->grace = st->secs;
        return FLOW_NEXT;
    case OP_AUTH_PLAIN:
        return op_auth(s, st, MECH_PLAIN, false);
    case OP_AUTH_LOGIN:
        return op_auth(s, st, MECH_LOGIN, false);
    case OP_AUTH_LOGIN_LOWER:
        return op_auth(s, st, MECH_LOGIN, true);
    case OP_AUTH_CRAM:
        return op_auth(s, st, MECH_CRAM, false);
    case OP_AUTH_ANY:
        return op_auth(s, st, MECH_PLAIN | MECH_LOGIN | MECH_CRAM, false);
    case OP_AUTH_RESULT:
        s->auth_result = st->text;
        return FLOW_NEXT;
    case OP_AUTH_EMPTY_CHALLENGE:
        s->empty_challenge = st->text;
        return FLOW_NEXT;
    case OP_STARTTLS:
    case OP_IMPLICIT_TLS:
        return tls_handshake(s, st->cert);
    case OP_TLS_SNI:
        return add_step(s, s->sni, &s->nsni, MAX_SNI, st);
    case OP_TLS_CLOSE_BEFORE_HELLO:
        (void)read_client_hello(s, false);
        return FLOW_STOP;
    case OP_TLS_STALL:
        if (read_client_hello(s, true) != 0 && (s->peer_closed || fs_stop))
            return FLOW_STOP;
        return hold_raw(s);
    case OP_TLS_ALERT: {
        /* TLS alert record: type 21, version 3.3, length 2, level fatal,
         * description 40 handshake_failure (RFC 8446 section 6). */
        static const unsigned char alert[] = {0x15, 0x03, 0x03, 0x00,
                                              0x02, 0x02, 0x28};

        if (read_client_hello(s, false) == 0 &&
            out_bytes(s, alert, sizeof alert) == 0)
            fs_tr_event(s->id, "tls-alert sent=handshake_failure");
        return FLOW_STOP;
    }
    case OP_CLOSE:
        return FLOW_STOP;
    case OP_RST:
        do_rst(s);
        return FLOW_STOP;
    case OP_HOLD:
    case OP_READALL:
        return op_hold(s);
    case OP_JUNK:
        return op_junk(s, st);
    case OP_LONG_LINE:
        return op_long_line(s, st);
    case OP_ENDLESS_CONTINUATION:
        return op_endless(s, st);
    case OP_QUIT:
        return op_quit(s);
    case OP_ON:
        return add_rule(s, st, MODE_ANY);
    case OP_ON_PLAIN:
        return add_rule(s, st, MODE_PLAIN);
    case OP_ON_TLS:
        return add_rule(s, st, MODE_TLS);
    case OP_ON_STARTTLS:
        s->on_starttls = st;
        return FLOW_NEXT;
    case OP_ON_AUTH:
        s->on_auth = st;
        return FLOW_NEXT;
    case OP_SERVE:
        return op_serve(s);
    case OP_LINE_END:
        s->eol = st->n == 1 ? "\n" : "\r\n";
        return FLOW_NEXT;
    }
    return FLOW_STOP;
}

static void
log_connect(struct session *s)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    bool v6 = false;

    if (getpeername(s->fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

            (void)inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

            (void)inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            port = ntohs(a->sin6_port);
            v6 = true;
        }
    }
    fs_tr_event(s->id, "connect peer=%s%s%s:%u", v6 ? "[" : "", host,
                v6 ? "]" : "", port);
}

unsigned
fs_session_run(const struct fs_script *sc, int fd, unsigned long sid,
               double deadline)
{
    struct session *s = calloc(1, sizeof *s);
    unsigned violations;
    int one = 1;
    int flags;
    size_t i;

    if (s == NULL) {
        (void)close(fd);
        return 0;
    }
    s->sc = sc;
    s->id = sid;
    s->fd = fd;
    s->deadline = deadline;
    s->grace = DEFAULT_GRACE;
    s->eol = "\r\n";
    flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        (void)fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    /* Every send leaves at once: drip and split replies stay split. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    log_connect(s);
    for (i = 0; i < sc->nsteps && !fs_stop; i++) {
        if (run_step(s, &sc->steps[i]) != FLOW_NEXT)
            break;
    }
    s->cur = NULL;
    finish(s);
    violations = s->violations;
    /* Last record of the session: the transcript of session N is complete
     * once "N EVENT end" is there. */
    fs_tr_event(sid, "end violations=%u", violations);
    free(s);
    return violations;
}
