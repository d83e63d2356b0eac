/* SPDX-License-Identifier: MIT */
/*
 * delivery_url: the --submit and --imap URLs (see delivery.h), parsed with
 * libcurl's URL API, and the URL each transfer hands to libcurl.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "delivery.h"
#include "delivery_internal.h"
#include "textutil.h"

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

/* The URL as text: present, not too long, printable ASCII without spaces
 * (libcurl would accept some of what RFC 3986 does not). */
static int
check_text(const char *url, const char *opt, char *errbuf, size_t errlen)
{
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
    return 0;
}

/* The scheme row of url, checked before libcurl sees the URL so the
 * message names what is accepted; NULL with the message in errbuf. */
static const struct scheme_info *
find_scheme(const char *url, bool imap, const char *opt, char *errbuf,
            size_t errlen)
{
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
        return NULL;
    }
    return si;
}

/* Hands url to libcurl's parser and refuses the parts the probe never
 * takes from a URL: credentials (secrets never come from argv), login
 * options, a query, a fragment. Returns 0 or -1 with the message. */
static int
parse_parts(CURLU *u, const char *url, bool imap, const char *opt, char *errbuf,
            size_t errlen)
{
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
#if LIBCURL_VERSION_NUM >= 0x075000 /* curl_url_strerror: 7.80.0 */
        snprintf(errbuf, errlen, "%s: invalid URL '%s': %s", opt, url,
                 curl_url_strerror(uc));
#else
        snprintf(errbuf, errlen, "%s: invalid URL '%s' (libcurl URL error %d)",
                 opt, url, (int)uc);
#endif
        return -1;
    }
    static const CURLUPart secret[] = {CURLUPART_USER, CURLUPART_PASSWORD,
                                       CURLUPART_OPTIONS};
    static const CURLUPart extra[] = {CURLUPART_QUERY, CURLUPART_FRAGMENT};
    for (size_t i = 0; i < sizeof secret / sizeof *secret; i++) {
        char *part = NULL;
        if (curl_url_get(u, secret[i], &part, 0) == CURLUE_OK) {
            curl_free(part);
            snprintf(errbuf, errlen,
                     "%s URL must not contain a user or password (use %s and "
                     "a password file or environment variable)",
                     opt, imap ? "--imap-user" : "--auth-user");
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
        char *part = NULL;
        if (curl_url_get(u, extra[i], &part, 0) == CURLUE_OK) {
            curl_free(part);
            snprintf(errbuf, errlen, "%s URL must not have a query or fragment",
                     opt);
            return -1;
        }
    }
    return 0;
}

/* Host (an IPv6 address without its brackets) and port (the scheme's
 * default when the URL has none) into out. Returns 0 or -1. */
static int
take_host_port(CURLU *u, const char *url, const struct scheme_info *si,
               const char *opt, struct mh_delivery_url *out, char *errbuf,
               size_t errlen)
{
    char *host = NULL, *port = NULL;
    int rc = -1;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        host[0] == '\0') {
        snprintf(errbuf, errlen, "%s URL has no host: '%s'", opt, url);
        goto out;
    }
    size_t hl = strlen(host);
    if (host[0] == '[') {
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
    rc = 0;
out:
    curl_free(host);
    curl_free(port);
    return rc;
}

/* The path: none for submission; for IMAP the mailbox (RFC 5092 without
 * ';' parameters), percent-decoded, INBOX when empty. Returns 0 or -1. */
static int
take_path(CURLU *u, const char *url, bool imap, struct mh_delivery_url *out,
          char *errbuf, size_t errlen)
{
    char *path = NULL;
    int rc = -1;
    if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        path = NULL;
    }
    const char *pth = path != NULL ? path : "";
    if (pth[0] == '/') {
        pth++;
    }
    size_t pl = strlen(pth);
    if (!imap) {
        if (pl > 0) {
            snprintf(errbuf, errlen,
                     "--submit URL must have no path (the EHLO name is "
                     "--ehlo): '%s'",
                     url);
            goto out;
        }
        rc = 0;
        goto out;
    }
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
    } else if (pct_decode(pth, pl, out->mailbox, sizeof out->mailbox) != 0) {
        snprintf(errbuf, errlen, "--imap URL has a bad mailbox: '%s'", url);
        goto out;
    }
    rc = 0;
out:
    curl_free(path);
    return rc;
}

int
mh_delivery_parse_url(const char *url, bool imap, struct mh_delivery_url *out,
                      char *errbuf, size_t errlen)
{
    const char *opt = imap ? "--imap" : "--submit";
    memset(out, 0, sizeof *out);
    if (check_text(url, opt, errbuf, errlen) != 0) {
        return -1;
    }
    const struct scheme_info *si = find_scheme(url, imap, opt, errbuf, errlen);
    if (si == NULL) {
        return -1;
    }
    out->scheme = si->scheme;
    CURLU *u = curl_url();
    if (u == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    int rc = -1;
    if (parse_parts(u, url, imap, opt, errbuf, errlen) == 0 &&
        take_host_port(u, url, si, opt, out, errbuf, errlen) == 0 &&
        take_path(u, url, imap, out, errbuf, errlen) == 0) {
        mh_peer_label(out->where, sizeof out->where, out->host, NULL,
                      out->port);
        if (imap) {
            size_t wl = strlen(out->where);
            mh_textf(out->where + wl, sizeof out->where - wl, "/%s",
                     out->mailbox);
        }
        rc = 0;
    }
    curl_url_cleanup(u);
    return rc;
}

char *
mh_delivery_curl_url(const struct mh_delivery_url *du, const char *path)
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
    snprintf(host, sizeof host, mh_host_is_v6(du->host) ? "[%s]" : "%s",
             du->host);
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
