/* SPDX-License-Identifier: MIT */
/*
 * delivery: the delivery round trip over libcurl (see delivery.h): the
 * transfers (libcurl handles and their callbacks) and the round trip
 * itself. The URLs, the message, IMAP responses, the classification of
 * failed transfers and the trace redaction are delivery_*.c.
 *
 * libcurl references (7.88): CURLOPT_USE_SSL (CURLUSESSL_ALL = STARTTLS
 * required), CURLOPT_TIMEOUT_MS, CURLOPT_MAIL_FROM / CURLOPT_MAIL_RCPT,
 * CURLOPT_READFUNCTION, CURLOPT_CUSTOMREQUEST (IMAP), CURLOPT_HEADERFUNCTION
 * (libcurl passes every SMTP/IMAP server reply line to it),
 * CURLINFO_RESPONSE_CODE (last SMTP reply code, QUIT excluded),
 * CURLINFO_TLS_SSL_PTR, CURLOPT_OPENSOCKETFUNCTION /
 * CURLOPT_CLOSESOCKETFUNCTION, CURLOPT_SERVER_RESPONSE_TIMEOUT.
 */
#include "delivery.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "curl_pin.h"
#include "delivery_internal.h"
#include "reply.h"
#include "textutil.h"

/* Body kept of one IMAP response (SEARCH results, CAPABILITY). */
#define BODY_MAX (64 * 1024)
/* Most UIDs deleted in one run (the probe mail plus leftovers); more
 * leftovers are left for the next run. */
#define MAX_UIDS 256
/* Sockets libcurl may have open at once for one handle (happy eyeballs
 * opens two). */
#define MAX_SOCKS 8
/* Time kept free before the deadline for one last search. */
#define POLL_RESERVE_S 0.2
/* First pause between searches; it doubles up to the poll interval. */
#define POLL_FIRST_PAUSE_S 0.1

/* ------------------------------------------------------------------ */
/* Transfers                                                           */
/* ------------------------------------------------------------------ */

struct xfer {
    CURL *h;
    const struct mh_delivery_params *p;
    bool imap;
    char errbuf[CURL_ERROR_SIZE];
    /* SMTP replies as they arrive (reply.h parser). */
    struct mh_reply cur;
    struct mh_reply err_reply;   /* last complete reply >= 400 */
    struct mh_reply final_reply; /* reply to the end of the message */
    bool after_354;              /* the message is being sent */
    bool auth_ok;                /* 235 (SMTP) seen */
    enum mh_phase phase;         /* SMTP phase of the last command sent */
    enum mh_phase err_phase;     /* phase err_reply answered */
    double t_accepted;           /* monotonic time of final_reply */
    /* IMAP */
    char fail_line[512]; /* last tagged NO/BAD line */
    char caps[1024];     /* capabilities (from the last list seen) */
    /* both */
    char tls[128]; /* "TLSv1.3 TLS_AES_256_GCM_SHA384" once TLS is up */
    char *body;    /* response body of the last perform (IMAP) */
    size_t blen;
    /* message to upload (SMTP) */
    const char *msg;
    size_t msglen, msgoff;
    /* sockets, for a deadline-bounded disconnect */
    curl_socket_t socks[MAX_SOCKS];
    size_t nsocks;
    struct mh_delivery_redactor rd;
    struct curl_slist *resolve;
    struct curl_slist *rcpt;
    char *url;
};

static void
trace(const struct xfer *x, const char *dir, const char *line)
{
    if (x->p->trace != NULL) {
        x->p->trace(x->p->trace_arg, dir, line);
    }
}

static void
note_tls(struct xfer *x)
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

static void
note_caps(struct xfer *x, const char *line, size_t len)
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
    struct xfer *x = ud;
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
        note_caps(x, buf, l);
    }
    return len;
}

/* CURLOPT_WRITEFUNCTION: IMAP responses to custom commands. */
static size_t
write_cb(char *buf, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
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
    struct xfer *x = ud;
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
    struct xfer *x = ud;
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
    struct xfer *x = ud;
    (void)purpose;
    int s = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (s >= 0 && x->nsocks < MAX_SOCKS) {
        x->socks[x->nsocks++] = s;
    }
    return s >= 0 ? s : CURL_SOCKET_BAD;
}

static int
close_cb(void *ud, curl_socket_t s)
{
    struct xfer *x = ud;
    for (size_t i = 0; i < x->nsocks; i++) {
        if (x->socks[i] == s) {
            x->socks[i] = x->socks[--x->nsocks];
            break;
        }
    }
    return close(s);
}

/*
 * With --resolver, resolves the URL's host with c-ares within the deadline
 * and pins the addresses (curl_pin.h). Returns 0, or -1 with
 * state/category/message set.
 */
static int
pin_addresses(struct xfer *x, const struct mh_delivery_url *u,
              const struct mh_deadline *dl, enum mh_state *st,
              enum mh_reason *reason, char *msg, size_t msglen)
{
    return mh_curl_pin_host(x->h, u->host, u->port, x->p->family,
                            x->p->resolver, dl, &x->resolve, st, reason, msg,
                            msglen);
}

/* Sets up a handle with everything both halves share. Returns 0 or -1. */
static int
xfer_init(struct xfer *x, const struct mh_delivery_params *p, bool imap,
          const struct mh_delivery_url *u, const char *path, const char *user,
          const char *password)
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

/* One transfer, bounded by the time left. */
static CURLcode
xfer_perform(struct xfer *x, const struct mh_deadline *dl, double *secs)
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

/* IMAP command on the session. */
static CURLcode
imap_command(struct xfer *x, const char *cmd, const struct mh_deadline *dl,
             double *secs)
{
    if (curl_easy_setopt(x->h, CURLOPT_CUSTOMREQUEST, cmd) != CURLE_OK) {
        return CURLE_FAILED_INIT;
    }
    if (x->p->trace != NULL && !x->p->curl_verbose) {
        trace(x, ">>>", cmd);
    }
    x->fail_line[0] = '\0';
    return xfer_perform(x, dl, secs);
}

/* Ends the session (QUIT / LOGOUT happen here, inside libcurl) without
 * passing the deadline: with less than a second left the sockets are shut
 * down first, so libcurl's goodbye fails at once; otherwise the server's
 * answer is awaited at most the whole seconds left
 * (CURLOPT_SERVER_RESPONSE_TIMEOUT; libcurl applies only that timeout
 * while disconnecting). */
static void
xfer_free(struct xfer *x, const struct mh_deadline *dl)
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

/* Failure text: libcurl's message, and the server's reply when there is
 * one. */
static void
describe(char *buf, size_t len, CURLcode rc, const char *errbuf,
         const char *server)
{
    const char *e = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    if (server != NULL && server[0] != '\0') {
        snprintf(buf, len, "%s; server: %s", e, server);
    } else {
        snprintf(buf, len, "%s", e);
    }
}

static const char *
tls_text(const struct xfer *x, bool starttls, char *buf, size_t len)
{
    if (x->tls[0] == '\0') {
        snprintf(buf, len, "no TLS");
    } else {
        snprintf(buf, len, "%s %s", starttls ? "STARTTLS" : "implicit TLS",
                 x->tls);
    }
    return buf;
}

static void
sleep_s(double s)
{
    if (s <= 0) {
        return;
    }
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void
uid_set(char *buf, size_t len, const unsigned long *uids, size_t n)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < len; i++) {
        int w =
            snprintf(buf + off, len - off, "%s%lu", i > 0 ? "," : "", uids[i]);
        if (w < 0) {
            break;
        }
        off += (size_t)w;
    }
}

/* ------------------------------------------------------------------ */
/* The round trip                                                      */
/* ------------------------------------------------------------------ */

struct run {
    const struct mh_delivery_params *p;
    const struct mh_deadline *dl;
    struct mh_result *r;
    struct mh_delivery_url su, iu;
    char token[MH_DELIVERY_TOKEN_HEX + 1];
    double t_submitted; /* monotonic: end of the submission */
    double delay;       /* seconds, when found */
    bool found;
    unsigned long uid;
    unsigned polls;
    double time_submit, time_imap, time_cleanup;
    bool have_submit, have_imap, have_cleanup;
};

/* Raises the result for a failed transfer of `what` on `half`. */
static void
fail_transfer(struct run *run, struct xfer *x, enum mh_delivery_half half,
              CURLcode rc, const char *phase, const char *what,
              const char *where)
{
    long code = 0;
    const char *enhanced = "", *text = "";
    char server[700] = "";
    if (half == MH_DELIVERY_HALF_SUBMIT) {
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
        if (x->err_reply.complete && x->err_reply.code >= 400) {
            code = x->err_reply.code;
            enhanced = x->err_reply.enhanced;
            text = x->err_reply.text;
            mh_reply_format(&x->err_reply, server, sizeof server);
        }
    } else {
        snprintf(server, sizeof server, "%s", x->fail_line);
    }
    enum mh_state st;
    enum mh_reason reason;
    mh_delivery_classify(half, (int)rc, code, x->errbuf,
                         x->err_reply.complete ? x->err_phase : MH_PHASE_LAST,
                         enhanced, text, &st, &reason);
    enum mh_category cat = mh_reason_category(reason);
    char msg[1000];
    describe(msg, sizeof msg, rc, x->errbuf, server);
    struct mh_item *it =
        mh_result_add_item(run->r, "phase", phase, st, reason, "%s", msg);
    if (it != NULL) {
        mh_item_set_num(run->r, it, "curl_code", (double)rc);
        if (code >= 200) {
            mh_item_set_num(run->r, it, "reply_code", (double)code);
        }
    }
    if (what == NULL) {
        /* The IMAP session: login, or the SELECT after it. */
        what = cat == MH_CAT_AUTH       ? "IMAP login failed"
               : cat == MH_CAT_RESPONSE ? "cannot open the mailbox"
                                        : "IMAP session failed";
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        mh_result_raise(run->r, st, reason,
                        "%s: %s: no answer within %g s (%s)", where, what,
                        mh_deadline_length(run->dl), msg);
    } else {
        mh_result_raise(run->r, st, reason, "%s: %s: %s", where, what, msg);
    }
}

/* Step 1: IMAP session (login, SELECT, CAPABILITY). */
static bool
imap_login(struct run *run, struct xfer *ix)
{
    double secs;
    CURLcode rc = imap_command(ix, "CAPABILITY", run->dl, &secs);
    run->time_imap = secs;
    run->have_imap = true;
    if (rc != CURLE_OK) {
        fail_transfer(run, ix, MH_DELIVERY_HALF_IMAP, rc, "imap_login", NULL,
                      run->iu.where);
        return false;
    }
    if (ix->body != NULL) {
        /* The explicit CAPABILITY answer replaces what came with the
         * greeting or the login. */
        const char *c = strcasestr(ix->body, "* CAPABILITY ");
        if (c != NULL) {
            size_t l = strcspn(c, "\r\n");
            note_caps(ix, c, l);
        }
    }
    char tls[160];
    bool starttls = run->iu.scheme == MH_DELIVERY_SCHEME_IMAP;
    struct mh_item *it = mh_result_add_item(
        run->r, "phase", "imap_login", MH_STATE_OK, MH_REASON_NONE,
        "logged in to %s as %s, mailbox %s selected (%s, %.3f s)",
        run->iu.where, run->p->imap_user, run->iu.mailbox,
        tls_text(ix, starttls, tls, sizeof tls), secs);
    mh_item_set_num(run->r, it, "duration_seconds", secs);
    mh_item_set_str(run->r, it, "tls", ix->tls);
    if (ix->tls[0] == '\0') {
        mh_result_add_item(run->r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                           "IMAP session without TLS (--insecure-plaintext)");
    }
    return true;
}

/* Step 2: submission. */
static bool
submit(struct run *run, const char *msg)
{
    const struct mh_delivery_params *p = run->p;
    struct xfer sx;
    bool ok = false;
    char err[800];
    enum mh_state st = MH_STATE_UNKNOWN;
    enum mh_reason reason = MH_REASON_INTERNAL_ERROR;
    char login_opts[64] = "";
    if (p->auth_mech != 0) {
        snprintf(login_opts, sizeof login_opts, "AUTH=%s",
                 mh_mech_name(p->auth_mech));
    }
    if (xfer_init(&sx, p, false, &run->su, p->ehlo_name, p->auth_user,
                  p->auth_password) != 0 ||
        (login_opts[0] != '\0' && curl_easy_setopt(sx.h, CURLOPT_LOGIN_OPTIONS,
                                                   login_opts) != CURLE_OK)) {
        mh_result_raise(run->r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
                        "cannot set up libcurl for the submission");
        goto out;
    }
    if (pin_addresses(&sx, &run->su, run->dl, &st, &reason, err, sizeof err) !=
        0) {
        mh_result_add_item(run->r, "phase", "submit", st, reason, "%s", err);
        mh_result_raise(run->r, st, reason, "%s: %s", run->su.where, err);
        goto out;
    }
    char from[300], to[300];
    snprintf(from, sizeof from, "<%s>", p->mail_from);
    snprintf(to, sizeof to, "<%s>", p->rcpt_to);
    sx.rcpt = curl_slist_append(NULL, to);
    sx.msg = msg;
    sx.msglen = strlen(msg);
    if (sx.rcpt == NULL ||
        curl_easy_setopt(sx.h, CURLOPT_MAIL_FROM, from) != CURLE_OK ||
        curl_easy_setopt(sx.h, CURLOPT_MAIL_RCPT, sx.rcpt) != CURLE_OK ||
        curl_easy_setopt(sx.h, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
        curl_easy_setopt(sx.h, CURLOPT_READFUNCTION, read_cb) != CURLE_OK ||
        curl_easy_setopt(sx.h, CURLOPT_READDATA, &sx) != CURLE_OK ||
        curl_easy_setopt(sx.h, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)sx.msglen) != CURLE_OK) {
        mh_result_raise(run->r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
                        "cannot set up libcurl for the submission");
        goto out;
    }
    double secs;
    CURLcode rc = xfer_perform(&sx, run->dl, &secs);
    double t_end = mh_monotonic_s();
    run->time_submit = secs;
    run->have_submit = true;
    if (rc != CURLE_OK) {
        fail_transfer(run, &sx, MH_DELIVERY_HALF_SUBMIT, rc, "submit",
                      "submission failed", run->su.where);
        goto out;
    }
    /* The end of the submission: the server's answer to the final ".". */
    run->t_submitted = sx.t_accepted > 0 ? sx.t_accepted : t_end;
    if (sx.t_accepted > 0) {
        run->time_submit = sx.t_accepted - (t_end - secs);
    }
    char reply[600] = "";
    if (sx.final_reply.complete) {
        mh_reply_format(&sx.final_reply, reply, sizeof reply);
    }
    char tls[160];
    bool starttls = run->su.scheme == MH_DELIVERY_SCHEME_SMTP;
    struct mh_item *it = mh_result_add_item(
        run->r, "phase", "submit", MH_STATE_OK, MH_REASON_NONE,
        "accepted by %s (%s%s, %.3f s): %s", run->su.where,
        tls_text(&sx, starttls, tls, sizeof tls),
        p->auth_user == NULL ? ""
        : sx.auth_ok         ? ", AUTH ok"
                             : ", no AUTH",
        run->time_submit, reply[0] != '\0' ? reply : "accepted");
    mh_item_set_num(run->r, it, "duration_seconds", run->time_submit);
    if (sx.final_reply.complete) {
        mh_item_set_num(run->r, it, "reply_code", (double)sx.final_reply.code);
    }
    mh_item_set_str(run->r, it, "tls", sx.tls);
    if (sx.tls[0] == '\0') {
        mh_result_add_item(run->r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                           "submission without TLS (--insecure-plaintext)");
    }
    if (p->auth_user != NULL && !sx.auth_ok) {
        /* libcurl skips AUTH when the server offers none. */
        mh_result_add_item(run->r, "phase", "auth", MH_STATE_WARNING,
                           MH_REASON_AUTH_NOT_OFFERED,
                           "the server offered no AUTH: the mail was "
                           "submitted without authentication");
        mh_result_raise(run->r, MH_STATE_WARNING, MH_REASON_AUTH_NOT_OFFERED,
                        "%s offered no AUTH; mail submitted without "
                        "authentication",
                        run->su.where);
    }
    ok = true;
out:
    xfer_free(&sx, run->dl);
    return ok;
}

/* Step 3: poll until the token is found or the deadline passes. */
static bool
poll_mailbox(struct run *run, struct xfer *ix)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "UID SEARCH HEADER Subject %s", run->token);
    double secs;
    double backoff = POLL_FIRST_PAUSE_S;
    for (;;) {
        /* NOOP first: servers update the mailbox view at command
         * boundaries (RFC 3501 5.2, 6.1.2), so the SEARCH sees new mail. */
        CURLcode rc = imap_command(ix, "NOOP", run->dl, &secs);
        if (rc == CURLE_OK) {
            rc = imap_command(ix, cmd, run->dl, &secs);
        }
        double now = mh_monotonic_s();
        if (rc != CURLE_OK) {
            if (rc == CURLE_OPERATION_TIMEDOUT) {
                break; /* reported as "not arrived" below */
            }
            fail_transfer(run, ix, MH_DELIVERY_HALF_IMAP, rc, "poll",
                          "IMAP search failed", run->iu.where);
            return false;
        }
        run->polls++;
        unsigned long uids[4];
        size_t n = mh_delivery_parse_search(ix->body != NULL ? ix->body : "",
                                            ix->blen, uids, 4);
        if (n > 0) {
            run->found = true;
            run->uid = uids[0];
            run->delay = now - run->t_submitted;
            if (run->delay < 0) {
                run->delay = 0;
            }
            struct mh_item *it = mh_result_add_item(
                run->r, "phase", "poll", MH_STATE_OK, MH_REASON_NONE,
                "found in %s after %.3f s (UID %lu, %u polls)", run->iu.where,
                run->delay, run->uid, run->polls);
            mh_item_set_num(run->r, it, "delay_seconds", run->delay);
            mh_item_set_num(run->r, it, "polls", (double)run->polls);
            mh_item_set_num(run->r, it, "uid", (double)run->uid);
            return true;
        }
        double left = mh_deadline_s_left(run->dl);
        if (left <= POLL_RESERVE_S) {
            break;
        }
        /* Short pauses first (0.1, 0.2, 0.4 ... s), then the interval:
         * the delay is measured finely when delivery is fast, and a slow
         * mailbox is not searched more often than --poll-interval. */
        double wait = backoff;
        backoff *= 2;
        if (wait > run->p->poll_interval_s) {
            wait = run->p->poll_interval_s;
        }
        if (wait > left - POLL_RESERVE_S) {
            wait = left - POLL_RESERVE_S;
        }
        sleep_s(wait);
    }
    double waited = mh_monotonic_s() - run->t_submitted;
    mh_result_add_item(run->r, "phase", "poll", MH_STATE_CRITICAL,
                       MH_REASON_DELIVERY_TIMEOUT,
                       "not found in %s after %.3f s (%u polls)", run->iu.where,
                       waited, run->polls);
    mh_result_raise(run->r, MH_STATE_CRITICAL, MH_REASON_DELIVERY_TIMEOUT,
                    "mail to %s not found in %s within the %g s deadline "
                    "(waited %.3f s after submission, %u polls)",
                    run->p->rcpt_to, run->iu.where, mh_deadline_length(run->dl),
                    waited, run->polls);
    return false;
}

/* Step 4: delete the probe mail and old leftovers. */
static void
cleanup_mailbox(struct run *run, struct xfer *ix)
{
    double t0 = mh_monotonic_s(), secs;
    unsigned long uids[MAX_UIDS + 1];
    size_t n = 0;
    uids[n++] = run->uid;
    size_t leftovers = 0;
    /* Leftovers: probe mails old enough that no run can still be waiting
     * for them (delivery.h). */
    char cmd[4200];
    if (mh_delivery_has_capability(ix->caps, "WITHIN")) {
        snprintf(cmd, sizeof cmd, "UID SEARCH OLDER %d HEADER Subject \"%s\"",
                 MH_DELIVERY_LEFTOVER_AGE, MH_DELIVERY_SUBJECT_PREFIX);
    } else {
        static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr",
                                          "May", "Jun", "Jul", "Aug",
                                          "Sep", "Oct", "Nov", "Dec"};
        time_t then = time(NULL) - 2 * 86400;
        struct tm tm;
        gmtime_r(&then, &tm);
        snprintf(cmd, sizeof cmd,
                 "UID SEARCH BEFORE %d-%s-%04d HEADER Subject \"%s\"",
                 tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900,
                 MH_DELIVERY_SUBJECT_PREFIX);
    }
    CURLcode rc = imap_command(ix, cmd, run->dl, &secs);
    if (rc == CURLE_OK) {
        unsigned long found[MAX_UIDS];
        size_t k = mh_delivery_parse_search(ix->body != NULL ? ix->body : "",
                                            ix->blen, found, MAX_UIDS);
        for (size_t i = 0; i < k && i < MAX_UIDS; i++) {
            if (found[i] != run->uid && n < MAX_UIDS + 1) {
                uids[n++] = found[i];
                leftovers++;
            }
        }
    }
    /* A failed leftover search is not fatal: the probe mail itself is
     * still deleted. */
    const char *what = "deleting the probe mail failed";
    char set[MAX_UIDS * 12];
    uid_set(set, sizeof set, uids, n);
    snprintf(cmd, sizeof cmd, "UID STORE %s +FLAGS.SILENT (\\Deleted)", set);
    rc = imap_command(ix, cmd, run->dl, &secs);
    if (rc == CURLE_OK) {
        if (mh_delivery_has_capability(ix->caps, "UIDPLUS")) {
            snprintf(cmd, sizeof cmd, "UID EXPUNGE %s", set);
        } else {
            snprintf(cmd, sizeof cmd, "EXPUNGE");
        }
        rc = imap_command(ix, cmd, run->dl, &secs);
    }
    run->time_cleanup = mh_monotonic_s() - t0;
    run->have_cleanup = true;
    if (rc != CURLE_OK) {
        /* Found, but the mailbox will grow: WARNING whatever the cause. */
        enum mh_state st;
        enum mh_reason reason;
        char msg[800];
        mh_delivery_classify(MH_DELIVERY_HALF_IMAP, (int)rc, 0, ix->errbuf,
                             MH_PHASE_LAST, "", "", &st, &reason);
        describe(msg, sizeof msg, rc, ix->errbuf, ix->fail_line);
        mh_result_add_item(run->r, "phase", "cleanup", MH_STATE_WARNING, reason,
                           "%s: %s", what, msg);
        mh_result_raise(run->r, MH_STATE_WARNING, reason,
                        "%s: delivered in %.3f s, but %s: %s", run->iu.where,
                        run->delay, what, msg);
        return;
    }
    struct mh_item *it = mh_result_add_item(
        run->r, "phase", "cleanup", MH_STATE_OK, MH_REASON_NONE,
        "deleted the probe mail (UID %lu) and %zu leftover probe mail%s "
        "of earlier runs (%.3f s)",
        run->uid, leftovers, leftovers == 1 ? "" : "s", run->time_cleanup);
    mh_item_set_num(run->r, it, "deleted", (double)n);
    mh_item_set_num(run->r, it, "duration_seconds", run->time_cleanup);
}

struct mh_result *
mh_delivery_probe(const struct mh_delivery_params *p,
                  const struct mh_deadline *dl)
{
    struct run run;
    memset(&run, 0, sizeof run);
    run.p = p;
    run.dl = dl;
    char err[800];
    if (p->submit != NULL) {
        run.su = *p->submit;
    }
    if (p->imap != NULL) {
        run.iu = *p->imap;
    }
    char target[600];
    snprintf(target, sizeof target, "%s via %s",
             p->rcpt_to != NULL ? p->rcpt_to : "",
             p->submit != NULL ? run.su.where : "?");
    struct mh_result *r = mh_result_new("delivery", target);
    if (r == NULL) {
        return NULL;
    }
    run.r = r;
    char *msg = NULL;
    struct xfer ix;
    memset(&ix, 0, sizeof ix);
    if (p->submit == NULL || p->imap == NULL) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
                        "delivery needs --submit URL and --imap URL");
        goto done;
    }
    if (p->imap_user == NULL || p->mail_from == NULL || p->rcpt_to == NULL) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
                        "delivery needs --imap-user, --mail-from and "
                        "--rcpt-to");
        goto done;
    }
    if (mh_delivery_make_token(run.token) != 0) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
                        "no random bytes for the token (RAND_bytes)");
        goto done;
    }
    msg = mh_delivery_build_message(run.token, p->mail_from, p->rcpt_to,
                                    time(NULL), err, sizeof err);
    if (msg == NULL) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR, "%s",
                        err);
        goto done;
    }
    if (p->trace != NULL) {
        char line[200];
        snprintf(line, sizeof line, "probe token %s", run.token);
        p->trace(p->trace_arg, "*", line);
    }
    /* 1. IMAP session. */
    if (xfer_init(&ix, p, true, &run.iu, run.iu.mailbox, p->imap_user,
                  p->imap_password) != 0) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
                        "cannot set up libcurl for IMAP");
        goto done;
    }
    {
        enum mh_state st;
        enum mh_reason reason;
        if (pin_addresses(&ix, &run.iu, dl, &st, &reason, err, sizeof err) !=
            0) {
            mh_result_add_item(r, "phase", "imap_login", st, reason, "%s", err);
            mh_result_raise(r, st, reason, "%s: %s", run.iu.where, err);
            goto done;
        }
    }
    if (!imap_login(&run, &ix)) {
        goto done;
    }
    /* 2. Submission. */
    if (!submit(&run, msg)) {
        goto done;
    }
    /* 3. Polling, 4. cleanup. */
    if (poll_mailbox(&run, &ix)) {
        cleanup_mailbox(&run, &ix);
    }
done:
    xfer_free(&ix, dl);
    free(msg);
    const double zero = 0;
    if (run.have_submit) {
        mh_result_add_perf(r, "delay", run.found ? run.delay : 0,
                           MH_UNIT_SECONDS, NULL, NULL, &zero, NULL);
        if (!run.found && r->nperf > 0) {
            r->perf[r->nperf - 1].unknown = true;
        }
        mh_result_add_perf(r, "time_submit", run.time_submit, MH_UNIT_SECONDS,
                           NULL, NULL, &zero, NULL);
    }
    if (run.have_imap) {
        mh_result_add_perf(r, "time_imap", run.time_imap, MH_UNIT_SECONDS, NULL,
                           NULL, &zero, NULL);
    }
    if (run.have_cleanup) {
        mh_result_add_perf(r, "time_cleanup", run.time_cleanup, MH_UNIT_SECONDS,
                           NULL, NULL, &zero, NULL);
    }
    if (run.found) {
        mh_result_add_sample(r, "mailhealth_delivery_duration_seconds",
                             run.delay, (const char *)NULL);
    }
    r->duration_s = mh_deadline_elapsed(dl);
    mh_result_add_perf(r, "time", r->duration_s, MH_UNIT_SECONDS, NULL, NULL,
                       &zero, NULL);
    if (r->state == MH_STATE_OK && r->summary == NULL) {
        mh_result_raise(r, MH_STATE_OK, MH_REASON_NONE,
                        "%s: delivered via %s to %s in %.3f s (submission "
                        "%.3f s, %u poll%s)",
                        p->rcpt_to, run.su.where, run.iu.where, run.delay,
                        run.time_submit, run.polls, run.polls == 1 ? "" : "s");
    }
    return r;
}
