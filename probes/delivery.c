/* SPDX-License-Identifier: MIT */
/*
 * delivery: the delivery round trip over libcurl (see delivery.h).
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
#include <math.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "curl_pin.h"
#include "reply.h"
#include "reply_rules.h"
#include "resolve.h"
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
/* URLs                                                                */
/* ------------------------------------------------------------------ */

static const struct scheme_info {
    const char *name;
    enum mh_delivery_scheme scheme;
    uint16_t port;
    bool imap;
} schemes[] = {
    {"smtp", MH_DELIVERY_SCHEME_SMTP, 587, false},
    {"smtps", MH_DELIVERY_SCHEME_SMTPS, 465, false},
    {"imap", MH_DELIVERY_SCHEME_IMAP, 143, true},
    {"imaps", MH_DELIVERY_SCHEME_IMAPS, 993, true},
};

/* Value of a hex digit, -1 if c is not one. */
static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Percent-decodes src (len bytes) into dst; returns -1 on a bad escape, a
 * NUL or control byte, or when dst is too small. */
static int
pct_decode(const char *src, size_t len, char *dst, size_t dstlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '%') {
            if (i + 2 >= len) {
                return -1;
            }
            int hi = hexval(src[i + 1]);
            int lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || o + 1 >= dstlen) {
            return -1;
        }
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return 0;
}

int
mh_delivery_parse_url(const char *url, bool imap, struct mh_delivery_url *out,
                      char *errbuf, size_t errlen)
{
    const char *opt = imap ? "--imap" : "--submit";
    memset(out, 0, sizeof *out);
    if (url == NULL || url[0] == '\0') {
        snprintf(errbuf, errlen, "%s needs a URL", opt);
        return -1;
    }
    if (strlen(url) > MH_DELIVERY_URL_MAX) {
        snprintf(errbuf, errlen, "%s URL is longer than %d characters", opt,
                 MH_DELIVERY_URL_MAX);
        return -1;
    }
    for (const char *c = url; *c != '\0'; c++) {
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
            snprintf(errbuf, errlen,
                     "%s URL contains a space or a non-ASCII character "
                     "(percent-encode it)",
                     opt);
            return -1;
        }
    }
    /* The scheme is checked before libcurl sees the URL, so the message
     * names what is accepted. */
    const struct scheme_info *si = NULL;
    const char *colon = strstr(url, "://");
    for (size_t i = 0; colon != NULL && i < sizeof schemes / sizeof *schemes;
         i++) {
        size_t n = strlen(schemes[i].name);
        if ((size_t)(colon - url) == n &&
            strncasecmp(url, schemes[i].name, n) == 0) {
            si = &schemes[i];
        }
    }
    if (si == NULL || si->imap != imap) {
        snprintf(errbuf, errlen, "%s URL must start with %s, got '%s'", opt,
                 imap ? "imap:// (STARTTLS) or imaps:// (implicit TLS)"
                      : "smtp:// (STARTTLS) or smtps:// (implicit TLS)",
                 url);
        return -1;
    }
    out->scheme = si->scheme;

    CURLU *u = curl_url();
    if (u == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    int rc = -1;
    char *host = NULL, *port = NULL, *path = NULL, *part = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
#if LIBCURL_VERSION_NUM >= 0x075000 /* curl_url_strerror: 7.80.0 */
        snprintf(errbuf, errlen, "%s: invalid URL '%s': %s", opt, url,
                 curl_url_strerror(uc));
#else
        snprintf(errbuf, errlen, "%s: invalid URL '%s' (libcurl URL error %d)",
                 opt, url, (int)uc);
#endif
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_OPTIONS, &part, 0) == CURLUE_OK) {
        snprintf(errbuf, errlen,
                 "%s URL must not contain a user or password (use %s and "
                 "a password file or environment variable)",
                 opt, imap ? "--imap-user" : "--auth-user");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
        snprintf(errbuf, errlen, "%s URL must not have a query or fragment",
                 opt);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        host[0] == '\0') {
        snprintf(errbuf, errlen, "%s URL has no host: '%s'", opt, url);
        goto out;
    }
    size_t hl = strlen(host);
    bool v6 = host[0] == '[';
    if (v6) {
        if (hl < 3 || host[hl - 1] != ']' || hl - 2 >= sizeof out->host) {
            snprintf(errbuf, errlen, "%s URL has a bad host: '%s'", opt, url);
            goto out;
        }
        memcpy(out->host, host + 1, hl - 2);
        out->host[hl - 2] = '\0';
    } else {
        if (hl >= sizeof out->host) {
            snprintf(errbuf, errlen, "%s URL host is too long", opt);
            goto out;
        }
        memcpy(out->host, host, hl + 1);
    }
    out->port = si->port;
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
        !mh_parse_port(port, &out->port)) {
        snprintf(errbuf, errlen, "%s URL has a bad port: '%s'", opt, url);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        path = NULL;
    }
    const char *pth = path != NULL ? path : "";
    if (pth[0] == '/') {
        pth++;
    }
    if (!imap) {
        if (pth[0] != '\0') {
            snprintf(errbuf, errlen,
                     "--submit URL must have no path (the EHLO name is "
                     "--ehlo): '%s'",
                     url);
            goto out;
        }
    } else {
        size_t pl = strlen(pth);
        if (pl > 0 && pth[pl - 1] == '/') {
            pl--;
        }
        if (memchr(pth, ';', pl) != NULL) {
            snprintf(errbuf, errlen,
                     "--imap URL: only a mailbox may follow the host, no "
                     "';' parameters: '%s'",
                     url);
            goto out;
        }
        if (pl == 0) {
            snprintf(out->mailbox, sizeof out->mailbox, "INBOX");
        } else if (pct_decode(pth, pl, out->mailbox, sizeof out->mailbox) !=
                   0) {
            snprintf(errbuf, errlen, "--imap URL has a bad mailbox: '%s'", url);
            goto out;
        }
    }
    mh_peer_label(out->where, sizeof out->where, out->host, NULL, out->port);
    if (imap) {
        size_t wl = strlen(out->where);
        mh_textf(out->where + wl, sizeof out->where - wl, "/%s", out->mailbox);
    }
    rc = 0;
out:
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(part);
    curl_url_cleanup(u);
    return rc;
}

/* Builds the URL given to libcurl: scheme://host:port/PATH where PATH is
 * the EHLO name (submission, libcurl's convention) or the mailbox, both
 * percent-encoded. Returns a curl_free()-able string or NULL. */
static char *
curl_url_for(const struct mh_delivery_url *du, const char *path)
{
    const char *scheme = "smtp";
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
        if (schemes[i].scheme == du->scheme) {
            scheme = schemes[i].name;
        }
    }
    CURLU *u = curl_url();
    if (u == NULL) {
        return NULL;
    }
    char host[300], port[8];
    bool v6 = strchr(du->host, ':') != NULL;
    snprintf(host, sizeof host, v6 ? "[%s]" : "%s", du->host);
    snprintf(port, sizeof port, "%u", du->port);
    char *res = NULL;
    char slashpath[300];
    snprintf(slashpath, sizeof slashpath, "/%s", path != NULL ? path : "");
    if (curl_url_set(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_PORT, port, 0) == CURLUE_OK &&
        (path == NULL || curl_url_set(u, CURLUPART_PATH, slashpath,
                                      CURLU_URLENCODE) == CURLUE_OK) &&
        curl_url_get(u, CURLUPART_URL, &res, 0) != CURLUE_OK) {
        res = NULL;
    }
    curl_url_cleanup(u);
    return res;
}

/* ------------------------------------------------------------------ */
/* Token and message                                                   */
/* ------------------------------------------------------------------ */

int
mh_delivery_make_token(char *hex)
{
    unsigned char b[MH_DELIVERY_TOKEN_HEX / 2];
    if (RAND_bytes(b, (int)sizeof b) != 1) {
        hex[0] = '\0';
        return -1;
    }
    mh_hex_encode(hex, b, sizeof b);
    return 0;
}

/* An address usable as addr-spec in From/To and in MAIL FROM/RCPT TO:
 * printable, no space, none of the characters that would end or change
 * the header's structure, one '@' with text on both sides. */
static bool
address_ok(const char *a, const char *what, char *errbuf, size_t errlen)
{
    size_t n = a != NULL ? strlen(a) : 0;
    if (n == 0 || n > 254) {
        snprintf(errbuf, errlen,
                 "%s address is empty or longer than 254 "
                 "octets",
                 what);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= 0x20 || c >= 0x7f || strchr("<>()\",;\\", c) != NULL) {
            snprintf(errbuf, errlen,
                     "%s address contains a character not allowed here "
                     "(space, control, non-ASCII or one of <>()\",;\\)",
                     what);
            return false;
        }
    }
    const char *at = strrchr(a, '@');
    if (at == NULL || at == a || at[1] == '\0') {
        snprintf(errbuf, errlen, "%s address must be local@domain", what);
        return false;
    }
    return true;
}

/* The sender's domain when it is a plain dot-atom host name, else the
 * RFC 2606 name mailhealth.invalid. */
static const char *
msgid_domain(const char *from)
{
    const char *d = strrchr(from, '@');
    if (d == NULL) {
        return "mailhealth.invalid";
    }
    d++;
    size_t n = strlen(d);
    if (n == 0 || n > 200 || d[0] == '.' || d[n - 1] == '.' ||
        strstr(d, "..") != NULL ||
        strspn(d, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789.-") != n) {
        return "mailhealth.invalid";
    }
    return d;
}

char *
mh_delivery_build_message(const char *token, const char *from, const char *to,
                          time_t now, char *errbuf, size_t errlen)
{
    if (token == NULL || strlen(token) != MH_DELIVERY_TOKEN_HEX ||
        strspn(token, "0123456789abcdef") != MH_DELIVERY_TOKEN_HEX) {
        snprintf(errbuf, errlen, "bad token");
        return NULL;
    }
    if (!address_ok(from, "--mail-from", errbuf, errlen) ||
        !address_ok(to, "--rcpt-to", errbuf, errlen)) {
        return NULL;
    }
    /* RFC 5322 3.3 date-time with fixed English names: strftime's %a/%b
     * would follow LC_TIME. */
    static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed",
                                       "Thu", "Fri", "Sat"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (gmtime_r(&now, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
        tm.tm_mon < 0 || tm.tm_mon > 11) {
        snprintf(errbuf, errlen, "cannot format the date");
        return NULL;
    }
    char date[64];
    snprintf(date, sizeof date, "%s, %02d %s %04d %02d:%02d:%02d +0000",
             wday[tm.tm_wday], tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
#define PROBE_MESSAGE_FORMAT                                                   \
    "Date: %s\r\n"                                                             \
    "From: mailhealth <%s>\r\n"                                                \
    "To: <%s>\r\n"                                                             \
    "Subject: " MH_DELIVERY_SUBJECT_PREFIX "%s\r\n"                            \
    "Message-ID: <%s@%s>\r\n"                                                  \
    "MIME-Version: 1.0\r\n"                                                    \
    "Content-Type: text/plain; charset=us-ascii\r\n"                           \
    "Content-Transfer-Encoding: 7bit\r\n"                                      \
    "Auto-Submitted: auto-generated\r\n"                                       \
    "Precedence: bulk\r\n" MH_DELIVERY_HEADER ": %s\r\n"                       \
    "\r\n"                                                                     \
    "This is a delivery probe of check_mailhealth. It measures the\r\n"        \
    "delay from submission until the message is found in this\r\n"             \
    "mailbox, and the check deletes it as soon as it has found it.\r\n"        \
    "No action is needed.\r\n"                                                 \
    "\r\n"                                                                     \
    "Token: %s\r\n"
    const char *dom = msgid_domain(from);
    int n = snprintf(NULL, 0, PROBE_MESSAGE_FORMAT, date, from, to, token,
                     token, dom, token, token);
    if (n < 0) {
        snprintf(errbuf, errlen, "cannot format the message");
        return NULL;
    }
    char *msg = malloc((size_t)n + 1);
    if (msg == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    snprintf(msg, (size_t)n + 1, PROBE_MESSAGE_FORMAT, date, from, to, token,
             token, dom, token, token);
#undef PROBE_MESSAGE_FORMAT
    return msg;
}

/* ------------------------------------------------------------------ */
/* IMAP responses                                                      */
/* ------------------------------------------------------------------ */

size_t
mh_delivery_parse_search(const char *body, size_t len, unsigned long *uids,
                         size_t max)
{
    size_t found = 0;
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && body[e] != '\n') {
            e++;
        }
        size_t ll = e - i;
        const char *line = body + i;
        if (ll >= 8 && strncasecmp(line, "* SEARCH", 8) == 0 &&
            (ll == 8 || line[8] == ' ' || line[8] == '\r')) {
            int depth = 0;
            size_t k = 8;
            while (k < ll) {
                char c = line[k];
                if (c == '(') {
                    depth++;
                    k++;
                } else if (c == ')') {
                    depth = depth > 0 ? depth - 1 : 0;
                    k++;
                } else if (c >= '0' && c <= '9') {
                    unsigned long v = 0;
                    bool ok = true;
                    while (k < ll && line[k] >= '0' && line[k] <= '9') {
                        unsigned long d = (unsigned long)(line[k] - '0');
                        if (v > (4294967295UL - d) / 10) {
                            ok = false; /* not a 32-bit UID */
                        } else {
                            v = v * 10 + d;
                        }
                        k++;
                    }
                    if (depth == 0 && ok && v > 0) {
                        if (found < max) {
                            uids[found] = v;
                        }
                        found++;
                    }
                } else {
                    k++;
                }
            }
        }
        i = e + 1;
    }
    return found;
}

/* True when the capability list (space-separated, as the server sent it)
 * has the word cap. */
static bool
has_capability(const char *caps, const char *cap)
{
    size_t n = strlen(cap);
    for (const char *p = caps; (p = strcasestr(p, cap)) != NULL; p += n) {
        bool start = p == caps || p[-1] == ' ' || p[-1] == '[';
        char after = p[n];
        if (start &&
            (after == '\0' || after == ' ' || after == ']' || after == '\r')) {
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* Classification                                                      */
/* ------------------------------------------------------------------ */

static bool
is_tls_error(int c)
{
    switch (c) {
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CLIENTCERT:
        return true;
    default:
        return false;
    }
}

enum mh_phase
mh_delivery_command_phase(enum mh_phase current, const char *line, size_t len)
{
    static const struct {
        const char *word;
        enum mh_phase phase;
    } cmds[] = {{"EHLO", MH_PHASE_EHLO},         {"HELO", MH_PHASE_EHLO},
                {"STARTTLS", MH_PHASE_STARTTLS}, {"AUTH", MH_PHASE_AUTH},
                {"MAIL", MH_PHASE_MAIL},         {"RCPT", MH_PHASE_RCPT},
                {"DATA", MH_PHASE_DATA},         {"QUIT", MH_PHASE_QUIT}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        size_t wl = strlen(cmds[i].word);
        if (len >= wl && strncasecmp(line, cmds[i].word, wl) == 0 &&
            (len == wl || line[wl] == ' ' || line[wl] == ':')) {
            /* Inside AUTH a continuation line may spell anything. */
            if (current == MH_PHASE_AUTH && cmds[i].phase != MH_PHASE_AUTH &&
                len == wl) {
                return current;
            }
            return cmds[i].phase;
        }
    }
    return current;
}

void
mh_delivery_classify(enum mh_delivery_half half, int curl_code,
                     long response_code, const char *errbuf,
                     enum mh_phase phase, const char *enhanced,
                     const char *reply_text, enum mh_state *state,
                     enum mh_reason *reason)
{
    const char *eb = errbuf != NULL ? errbuf : "";
    *state = MH_STATE_CRITICAL;
    *reason = MH_REASON_CONNECTION_CLOSED;
    int code =
        response_code >= 200 && response_code <= 599 ? (int)response_code : 0;
    switch (curl_code) {
    case CURLE_OK:
        *state = MH_STATE_OK;
        *reason = MH_REASON_NONE;
        return;
    case CURLE_OPERATION_TIMEDOUT:
        *reason = MH_REASON_REPLY_TIMEOUT;
        return;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        *reason = MH_REASON_NAME_NOT_FOUND;
        return;
    case CURLE_COULDNT_CONNECT:
        *reason = MH_REASON_CONNECTION_REFUSED;
        return;
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        *reason = MH_REASON_CONNECTION_CLOSED;
        return;
    case CURLE_LOGIN_DENIED:
        if (half == MH_DELIVERY_HALF_IMAP &&
            strncasecmp(eb, "Select failed", 13) == 0) {
            /* libcurl reports a refused SELECT as LOGIN_DENIED. */
            *reason = MH_REASON_MAILBOX_UNAVAILABLE;
            return;
        }
        if (half == MH_DELIVERY_HALF_SUBMIT && code >= 400) {
            /* 454 4.7.0 during AUTH is transient (WARNING), 535 not. */
            mh_reply_classify(MH_PHASE_AUTH, code, enhanced, reply_text, state,
                              reason);
            if (*state == MH_STATE_OK) {
                *state = MH_STATE_CRITICAL;
            }
            if (mh_reason_category(*reason) != MH_CAT_AUTH) {
                *reason = MH_REASON_AUTH_FAILED;
            }
            return;
        }
        *reason = MH_REASON_AUTH_FAILED;
        return;
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_FAILED_INIT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_READ_ERROR:
        *state = MH_STATE_UNKNOWN;
        *reason = MH_REASON_INTERNAL_ERROR;
        return;
    case CURLE_QUOTE_ERROR:
        /* IMAP: NO or BAD to a command. */
        *reason = MH_REASON_COMMAND_REJECTED;
        return;
    default:
        break;
    }
    if (is_tls_error(curl_code)) {
        *reason = curl_code == CURLE_USE_SSL_FAILED
                      ? MH_REASON_TLS_REQUIRED
                      : MH_REASON_TLS_HANDSHAKE_FAILED;
        return;
    }
    if (half == MH_DELIVERY_HALF_SUBMIT && code >= 400) {
        enum mh_phase ph =
            (int)phase >= 0 && phase < MH_PHASE_LAST ? phase : MH_PHASE_DATA;
        mh_reply_classify(ph, code, enhanced, reply_text, state, reason);
        if (*state == MH_STATE_OK) {
            *state = MH_STATE_CRITICAL;
            *reason = MH_REASON_PROTOCOL_VIOLATION;
        }
        return;
    }
    switch (curl_code) {
    case CURLE_WEIRD_SERVER_REPLY:
        *reason = MH_REASON_PROTOCOL_VIOLATION;
        return;
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_UPLOAD_FAILED:
        *reason = MH_REASON_COMMAND_REJECTED;
        return;
    default:
        /* SEND/RECV errors without a reply, resets: the session was
         * lost. */
        *reason = MH_REASON_CONNECTION_CLOSED;
        return;
    }
}

/* ------------------------------------------------------------------ */
/* Trace redaction                                                     */
/* ------------------------------------------------------------------ */

/* Copies len bytes as printable ASCII (others as \xNN) into out. */
static void
printable(const char *s, size_t len, char *out, size_t outlen)
{
    if (outlen == 0) {
        return;
    }
    out[0] = '\0';
    mh_text_escape_append(out, outlen, s, len, false);
}

/* Word number `idx` (0-based) of line, as pointer and length. */
static bool
word_at(const char *line, size_t len, int idx, const char **w, size_t *wl)
{
    size_t i = 0;
    for (int n = 0;; n++) {
        while (i < len && line[i] == ' ') {
            i++;
        }
        if (i >= len) {
            return false;
        }
        size_t s = i;
        while (i < len && line[i] != ' ') {
            i++;
        }
        if (n == idx) {
            *w = line + s;
            *wl = i - s;
            return true;
        }
    }
}

static bool
word_is(const char *w, size_t wl, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++) {
        if (strlen(list[i]) == wl && strncasecmp(w, list[i], wl) == 0) {
            return true;
        }
    }
    return false;
}

void
mh_delivery_redact_line(struct mh_delivery_redactor *rd, bool out_dir,
                        const char *line, size_t len, char *out, size_t outlen)
{
    static const char *const smtp_ok[] = {"EHLO", "HELO", "STARTTLS", "MAIL",
                                          "RCPT", "DATA", "QUIT",     "RSET",
                                          "NOOP", NULL};
    static const char *const imap_ok[] = {
        "CAPABILITY", "STARTTLS", "SELECT",  "EXAMINE", "NOOP",  "UID",
        "SEARCH",     "STORE",    "EXPUNGE", "LOGOUT",  "FETCH", NULL};
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        len--;
    }
    if (!out_dir) {
        /* Server line: is the authentication exchange over? SMTP: any
         * reply but a 334 challenge; IMAP: a tagged reply (not "+" and
         * not untagged "*"). */
        if (rd->in_auth) {
            if (rd->imap) {
                if (len > 0 && line[0] != '+' && line[0] != '*') {
                    rd->in_auth = false;
                }
            } else if (len >= 3 && strncmp(line, "334", 3) != 0 &&
                       (len == 3 || line[3] == ' ')) {
                rd->in_auth = false;
            }
        }
        printable(line, len, out, outlen);
        return;
    }
    const char *w;
    size_t wl;
    if (rd->in_auth) {
        /* A SASL continuation (or an abort "*"): never shown. */
        snprintf(out, outlen, "[redacted]");
        return;
    }
    if (!rd->imap) {
        if (word_at(line, len, 0, &w, &wl) && wl == 4 &&
            strncasecmp(w, "AUTH", 4) == 0) {
            const char *m = "";
            size_t ml = 0;
            (void)word_at(line, len, 1, &m, &ml);
            char mech[40];
            printable(m, ml < 30 ? ml : 30, mech, sizeof mech);
            snprintf(out, outlen, "AUTH %s [redacted]", mech);
            rd->in_auth = true;
            return;
        }
        if (word_at(line, len, 0, &w, &wl) && word_is(w, wl, smtp_ok)) {
            printable(line, len, out, outlen);
            return;
        }
        snprintf(out, outlen, "[redacted]");
        return;
    }
    /* IMAP: "tag COMMAND args". */
    const char *tag;
    size_t tl;
    if (!word_at(line, len, 0, &tag, &tl) || !word_at(line, len, 1, &w, &wl)) {
        snprintf(out, outlen, "[redacted]");
        return;
    }
    char ptag[40];
    printable(tag, tl < 30 ? tl : 30, ptag, sizeof ptag);
    if (wl == 12 && strncasecmp(w, "AUTHENTICATE", 12) == 0) {
        const char *m = "";
        size_t ml = 0;
        (void)word_at(line, len, 2, &m, &ml);
        char mech[40];
        printable(m, ml < 30 ? ml : 30, mech, sizeof mech);
        snprintf(out, outlen, "%s AUTHENTICATE %s [redacted]", ptag, mech);
        rd->in_auth = true;
        return;
    }
    if (wl == 5 && strncasecmp(w, "LOGIN", 5) == 0) {
        snprintf(out, outlen, "%s LOGIN [redacted]", ptag);
        /* LOGIN with literals ({n}) continues after "+": stay redacted
         * until the tagged answer. */
        rd->in_auth = true;
        return;
    }
    if (word_is(w, wl, imap_ok)) {
        printable(line, len, out, outlen);
        return;
    }
    snprintf(out, outlen, "[redacted]");
}

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
    printable(line, len, buf, sizeof buf);
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
        printable(buf, l, line, sizeof line);
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
            word_at(buf, l, 1, &w, &wl) &&
            ((wl == 2 && strncasecmp(w, "NO", 2) == 0) ||
             (wl == 3 && strncasecmp(w, "BAD", 3) == 0))) {
            printable(buf, l, x->fail_line, sizeof x->fail_line);
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
        printable(data, size > 0 && data[size - 1] == '\n' ? size - 1 : size,
                  line, sizeof line);
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
            printable(data + i, l, line, sizeof line);
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
    x->url = curl_url_for(u, path);
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
    if (has_capability(ix->caps, "WITHIN")) {
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
        if (has_capability(ix->caps, "UIDPLUS")) {
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
