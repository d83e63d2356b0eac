/* SPDX-License-Identifier: MIT */
/*
 * delivery_xfer: one libcurl session of the delivery probe (see
 * delivery_internal.h): the easy handle with everything both halves
 * share, its callbacks (server replies, IMAP bodies, the message upload,
 * the -v/-vv trace, the sockets it opens) and transfers bounded by the
 * check's deadline.
 *
 * libcurl references (7.88): CURLOPT_USE_SSL (CURLUSESSL_ALL = STARTTLS
 * required), CURLOPT_TIMEOUT_MS, CURLOPT_READFUNCTION,
 * CURLOPT_CUSTOMREQUEST (IMAP), CURLOPT_HEADERFUNCTION (libcurl passes
 * every SMTP/IMAP server reply line to it), CURLINFO_TLS_SSL_PTR,
 * CURLOPT_OPENSOCKETFUNCTION / CURLOPT_CLOSESOCKETFUNCTION,
 * CURLOPT_SERVER_RESPONSE_TIMEOUT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "curl_pin.h"
#include "delivery_internal.h"
#include "textutil.h"

/* Body kept of one IMAP response (SEARCH results, CAPABILITY). */
#define BODY_MAX (64 * 1024)

static void
trace(const struct mh_xfer *x, const char *dir, const char *line)
{
    if (x->p->trace != NULL) {
        x->p->trace(x->p->trace_arg, dir, line);
    }
}

static void
note_tls(struct mh_xfer *x)
{
    if (x->tls[0] != '\0') {
        return;
    }
    struct curl_tlssessioninfo *ti = NULL;
    if (curl_easy_getinfo(x->h, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK ||
        ti == NULL || ti->backend != CURLSSLBACKEND_OPENSSL ||
        ti->internals == NULL) {
        return;
    }
    SSL *ssl = ti->internals;
    if (SSL_is_init_finished(ssl)) {
        const char *c = SSL_get_cipher_name(ssl);
        snprintf(x->tls, sizeof x->tls, "%s %s", SSL_get_version(ssl),
                 c != NULL ? c : "");
    }
}

void
mh_xfer_note_caps(struct mh_xfer *x, const char *line, size_t len)
{
    char buf[1024];
    mh_text_escape(buf, sizeof buf, line, len);
    const char *c = strcasestr(buf, "CAPABILITY ");
    if (c != NULL && (strncmp(buf, "* ", 2) == 0 || strchr(buf, '[') != NULL)) {
        snprintf(x->caps, sizeof x->caps, "%s", c + 11);
    }
}

/* CURLOPT_HEADERFUNCTION: libcurl hands every server reply line of SMTP
 * and IMAP sessions to it. */
static size_t
header_cb(char *buf, size_t size, size_t n, void *ud)
{
    struct mh_xfer *x = ud;
    size_t len = size * n;
    size_t l = len;
    while (l > 0 && (buf[l - 1] == '\n' || buf[l - 1] == '\r')) {
        l--;
    }
    note_tls(x);
    if (x->p->trace != NULL && !x->p->curl_verbose) {
        char line[600];
        mh_text_escape(line, sizeof line, buf, l);
        trace(x, "<<<", line);
    }
    if (!x->imap) {
        if (x->cur.complete || x->cur.nlines == 0 || x->cur.error[0] != '\0') {
            mh_reply_init(&x->cur);
        }
        if (mh_reply_feed(&x->cur, buf, l) == MH_REPLY_DONE) {
            if (x->cur.code >= 400) {
                x->err_reply = x->cur;
                x->err_phase = x->phase;
            }
            if (x->cur.code == 235) {
                x->auth_ok = true;
            }
            if (x->after_354) {
                x->final_reply = x->cur;
                x->t_accepted = mh_monotonic_s();
                x->after_354 = false;
            } else if (x->cur.code == 354) {
                x->after_354 = true;
            }
        }
    } else {
        const char *w;
        size_t wl;
        if (l > 0 && buf[0] != '*' && buf[0] != '+' &&
            mh_delivery_word_at(buf, l, 1, &w, &wl) &&
            ((wl == 2 && strncasecmp(w, "NO", 2) == 0) ||
             (wl == 3 && strncasecmp(w, "BAD", 3) == 0))) {
            mh_text_escape(x->fail_line, sizeof x->fail_line, buf, l);
        }
        mh_xfer_note_caps(x, buf, l);
    }
    return len;
}

/* CURLOPT_WRITEFUNCTION: IMAP responses to custom commands. */
static size_t
write_cb(char *buf, size_t size, size_t n, void *ud)
{
    struct mh_xfer *x = ud;
    size_t len = size * n;
    note_tls(x);
    if (x->blen + len <= BODY_MAX) {
        char *b = realloc(x->body, x->blen + len + 1);
        if (b == NULL) {
            return 0; /* libcurl: CURLE_WRITE_ERROR */
        }
        memcpy(b + x->blen, buf, len);
        x->blen += len;
        b[x->blen] = '\0';
        x->body = b;
    }
    return len;
}

/* CURLOPT_READFUNCTION: the message. */
static size_t
read_cb(char *buf, size_t size, size_t n, void *ud)
{
    struct mh_xfer *x = ud;
    size_t room = size * n;
    size_t left = x->msglen - x->msgoff;
    size_t k = left < room ? left : room;
    memcpy(buf, x->msg + x->msgoff, k);
    x->msgoff += k;
    return k;
}

/* CURLOPT_DEBUGFUNCTION: the commands libcurl sends give the SMTP phase
 * (mh_delivery_command_phase); with -vv libcurl's trace, redacted. */
static int
debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
    struct mh_xfer *x = ud;
    (void)h;
    if (type == CURLINFO_HEADER_OUT && !x->imap) {
        size_t l = size;
        while (l > 0 && (data[l - 1] == '\n' || data[l - 1] == '\r')) {
            l--;
        }
        x->phase = mh_delivery_command_phase(x->phase, data, l);
    }
    if (!x->p->curl_verbose || x->p->trace == NULL) {
        return 0;
    }
    char line[600];
    const char *dir;
    switch (type) {
    case CURLINFO_TEXT:
        mh_text_escape(line, sizeof line, data,
                       size > 0 && data[size - 1] == '\n' ? size - 1 : size);
        trace(x, "*", line);
        return 0;
    case CURLINFO_HEADER_IN:
        dir = "<<<";
        break;
    case CURLINFO_HEADER_OUT:
        dir = ">>>";
        break;
    case CURLINFO_DATA_OUT:
        snprintf(line, sizeof line, "[%zu octets of message]", size);
        trace(x, ">>>", line);
        return 0;
    case CURLINFO_DATA_IN:
        dir = "<<<";
        break;
    case CURLINFO_SSL_DATA_IN:
    case CURLINFO_SSL_DATA_OUT:
    case CURLINFO_END:
    default:
        return 0;
    }
    /* One callback may carry several lines. */
    size_t i = 0;
    while (i < size) {
        size_t e = i;
        while (e < size && data[e] != '\n') {
            e++;
        }
        if (type == CURLINFO_DATA_IN) {
            size_t l = e - i;
            while (l > 0 && data[i + l - 1] == '\r') {
                l--;
            }
            mh_text_escape(line, sizeof line, data + i, l);
        } else {
            mh_delivery_redact_line(&x->rd, type == CURLINFO_HEADER_OUT,
                                    data + i, e - i, line, sizeof line);
        }
        if (e > i) {
            trace(x, dir, line);
        }
        i = e + 1;
    }
    return 0;
}

static curl_socket_t
open_cb(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct mh_xfer *x = ud;
    (void)purpose;
    int s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (s >= 0 && x->nsocks < MH_XFER_MAX_SOCKS) {
        x->socks[x->nsocks++] = s;
    }
    return s >= 0 ? s : CURL_SOCKET_BAD;
}

static int
close_cb(void *ud, curl_socket_t s)
{
    struct mh_xfer *x = ud;
    for (size_t i = 0; i < x->nsocks; i++) {
        if (x->socks[i] == s) {
            x->socks[i] = x->socks[--x->nsocks];
            break;
        }
    }
    return close(s);
}

int
mh_xfer_pin(struct mh_xfer *x, const struct mh_delivery_url *u,
            const struct mh_deadline *dl, enum mh_state *st,
            enum mh_reason *reason, char *msg, size_t msglen)
{
    return mh_curl_pin_host(x->h, u->host, u->port, x->p->family,
                            x->p->resolver, dl, &x->resolve, st, reason, msg,
                            msglen);
}

int
mh_xfer_init(struct mh_xfer *x, const struct mh_delivery_params *p, bool imap,
             const struct mh_delivery_url *u, const char *path,
             const char *user, const char *password)
{
    memset(x, 0, sizeof *x);
    x->p = p;
    x->imap = imap;
    x->rd.imap = imap;
    x->phase = x->err_phase = MH_PHASE_BANNER; /* before any command */
    mh_reply_init(&x->cur);
    mh_reply_init(&x->err_reply);
    mh_reply_init(&x->final_reply);
    x->h = curl_easy_init();
    x->url = mh_delivery_curl_url(u, path);
    if (x->h == NULL || x->url == NULL) {
        return -1;
    }
    CURL *h = x->h;
    bool starttls = u->scheme == MH_DELIVERY_SCHEME_SMTP ||
                    u->scheme == MH_DELIVERY_SCHEME_IMAP;
    long use_ssl = starttls && p->insecure_plaintext ? (long)CURLUSESSL_TRY
                                                     : (long)CURLUSESSL_ALL;
    long ipres = p->family == AF_INET    ? CURL_IPRESOLVE_V4
                 : p->family == AF_INET6 ? CURL_IPRESOLVE_V6
                                         : CURL_IPRESOLVE_WHATEVER;
    int bad = 0;
    bad |= curl_easy_setopt(h, CURLOPT_URL, x->url) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500 /* CURLOPT_PROTOCOLS_STR: 7.85.0 */
    bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
                            imap ? "imap,imaps" : "smtp,smtps") != CURLE_OK;
#else
    bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS,
                            imap ? (long)(CURLPROTO_IMAP | CURLPROTO_IMAPS)
                                 : (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS)) !=
           CURLE_OK;
#endif
    /* No signals (thread safety; CURLOPT_NOSIGNAL(3)); no proxy from the
     * environment (ALL_PROXY would apply to SMTP and IMAP too). */
    bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_USE_SSL, use_ssl) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_SSLVERSION,
                            (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
    if (p->ca_file != NULL) {
        bad |= curl_easy_setopt(h, CURLOPT_CAINFO, p->ca_file) != CURLE_OK;
    }
    if (p->ca_path != NULL) {
        bad |= curl_easy_setopt(h, CURLOPT_CAPATH, p->ca_path) != CURLE_OK;
    }
    if (user != NULL) {
        bad |= curl_easy_setopt(h, CURLOPT_USERNAME, user) != CURLE_OK;
        bad |= curl_easy_setopt(h, CURLOPT_PASSWORD,
                                password != NULL ? password : "") != CURLE_OK;
    }
    bad |= curl_easy_setopt(h, CURLOPT_IPRESOLVE, ipres) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_HEADERDATA, x) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, x) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_cb) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, x) != CURLE_OK;
    bad |=
        curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, close_cb) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, x) != CURLE_OK;
    /* SMTP: always, for the phase of each reply (debug_cb); IMAP: -vv. */
    if (!x->imap || (p->curl_verbose && p->trace != NULL)) {
        bad |= curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb) != CURLE_OK;
        bad |= curl_easy_setopt(h, CURLOPT_DEBUGDATA, x) != CURLE_OK;
        bad |= curl_easy_setopt(h, CURLOPT_VERBOSE, 1L) != CURLE_OK;
    }
    return bad ? -1 : 0;
}

CURLcode
mh_xfer_perform(struct mh_xfer *x, const struct mh_deadline *dl, double *secs)
{
    *secs = 0;
    x->errbuf[0] = '\0';
    x->blen = 0;
    if (x->body != NULL) {
        x->body[0] = '\0';
    }
    int ms = mh_deadline_ms_left(dl);
    if (ms <= 0) {
        /* CURLOPT_TIMEOUT_MS 0 would mean "no timeout": never start. */
        snprintf(x->errbuf, sizeof x->errbuf, "deadline reached");
        return CURLE_OPERATION_TIMEDOUT;
    }
    if (curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS, (long)ms) != CURLE_OK ||
        curl_easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT_MS, (long)ms) !=
            CURLE_OK) {
        return CURLE_FAILED_INIT;
    }
    double t0 = mh_monotonic_s();
    CURLcode rc = curl_easy_perform(x->h);
    *secs = mh_monotonic_s() - t0;
    return rc;
}

CURLcode
mh_xfer_imap_command(struct mh_xfer *x, const char *cmd,
                     const struct mh_deadline *dl, double *secs)
{
    if (curl_easy_setopt(x->h, CURLOPT_CUSTOMREQUEST, cmd) != CURLE_OK) {
        return CURLE_FAILED_INIT;
    }
    if (x->p->trace != NULL && !x->p->curl_verbose) {
        trace(x, ">>>", cmd);
    }
    x->fail_line[0] = '\0';
    return mh_xfer_perform(x, dl, secs);
}

void
mh_xfer_free(struct mh_xfer *x, const struct mh_deadline *dl)
{
    if (x->h != NULL) {
        double left = mh_deadline_s_left(dl);
        if (left < 1.0) {
            for (size_t i = 0; i < x->nsocks; i++) {
                shutdown(x->socks[i], SHUT_RDWR);
            }
        } else {
            curl_easy_setopt(x->h, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)left);
        }
        curl_easy_cleanup(x->h);
        x->h = NULL;
    }
    curl_slist_free_all(x->resolve);
    curl_slist_free_all(x->rcpt);
    curl_free(x->url);
    free(x->body);
    x->resolve = x->rcpt = NULL;
    x->url = NULL;
    x->body = NULL;
}

void
mh_xfer_describe(char *buf, size_t len, CURLcode rc, const char *errbuf,
                 const char *server)
{
    const char *e = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    if (server != NULL && server[0] != '\0') {
        snprintf(buf, len, "%s; server: %s", e, server);
    } else {
        snprintf(buf, len, "%s", e);
    }
}

const char *
mh_xfer_tls_text(const struct mh_xfer *x, bool starttls, char *buf, size_t len)
{
    if (x->tls[0] == '\0') {
        snprintf(buf, len, "no TLS");
    } else {
        snprintf(buf, len, "%s %s", starttls ? "STARTTLS" : "implicit TLS",
                 x->tls);
    }
    return buf;
}

int
mh_xfer_set_message(struct mh_xfer *x, const char *from, const char *to,
                    const char *msg)
{
    char f[300], t[300];
    snprintf(f, sizeof f, "<%s>", from);
    snprintf(t, sizeof t, "<%s>", to);
    x->rcpt = curl_slist_append(NULL, t);
    x->msg = msg;
    x->msglen = strlen(msg);
    x->msgoff = 0;
    if (x->rcpt == NULL ||
        curl_easy_setopt(x->h, CURLOPT_MAIL_FROM, f) != CURLE_OK ||
        curl_easy_setopt(x->h, CURLOPT_MAIL_RCPT, x->rcpt) != CURLE_OK ||
        curl_easy_setopt(x->h, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
        curl_easy_setopt(x->h, CURLOPT_READFUNCTION, read_cb) != CURLE_OK ||
        curl_easy_setopt(x->h, CURLOPT_READDATA, x) != CURLE_OK ||
        curl_easy_setopt(x->h, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)x->msglen) != CURLE_OK) {
        return -1;
    }
    return 0;
}
