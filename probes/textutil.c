/* SPDX-License-Identifier: MIT */
/*
 * textutil: escaping, strict numbers, ports and peer labels (see
 * textutil.h).
 */
#include "textutil.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const char hex_digits[] = "0123456789abcdef";

static bool
printable(unsigned char c)
{
    return c >= 0x20 && c <= 0x7e;
}

/* Bytes the escaped form of c takes: 1, or 4 for "\xNN". */
static size_t
escaped_size(unsigned char c)
{
    return printable(c) ? 1 : 4;
}

/* Writes the escaped form of c at dst. Returns its size. */
static size_t
put_escaped(char *dst, unsigned char c)
{
    if (printable(c)) {
        dst[0] = (char)c;
        return 1;
    }
    dst[0] = '\\';
    dst[1] = 'x';
    dst[2] = hex_digits[c >> 4];
    dst[3] = hex_digits[c & 15];
    return 4;
}

/* Ends the escaped text of o bytes in buf: "..." when it was cut and
 * there is room, then the NUL. Returns the length. */
static size_t
finish(char *buf, size_t o, size_t limit, bool cut)
{
    if (cut && o + 3 <= limit) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return o;
}

/* How many of the len bytes at p fit escaped into room bytes; *size gets
 * their escaped size. An escape is never split. */
static size_t
fitting(const unsigned char *p, size_t len, size_t room, size_t *size)
{
    size_t k = 0, used = 0;
    while (k < len && used + escaped_size(p[k]) <= room) {
        used += escaped_size(p[k]);
        k++;
    }
    *size = used;
    return k;
}

size_t
mh_text_escaped_len(const void *s, size_t len)
{
    const unsigned char *p = s;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        n += escaped_size(p[i]);
    }
    return n;
}

size_t
mh_text_escape_append(char *buf, size_t cap, const void *s, size_t len,
                      bool ellipsis)
{
    const unsigned char *p = s;
    size_t o = strnlen(buf, cap - 1);
    size_t limit = cap - 1;
    if (o >= limit) {
        buf[o] = '\0';
        return o;
    }
    /* Room for "..." only when the whole text does not fit. */
    bool cut = ellipsis && o + mh_text_escaped_len(s, len) > limit;
    size_t room = cut ? (limit - o >= 3 ? limit - o - 3 : 0) : limit - o;
    size_t size;
    size_t k = fitting(p, len, room, &size);
    for (size_t i = 0; i < k; i++) {
        o += put_escaped(buf + o, p[i]);
    }
    return finish(buf, o, limit, cut);
}

char *
mh_text_escape(char *buf, size_t cap, const void *s, size_t len)
{
    if (cap > 0) {
        buf[0] = '\0';
        mh_text_escape_append(buf, cap, s, len, false);
    }
    return buf;
}

size_t
mh_text_escape_line(char *buf, size_t cap)
{
    if (cap == 0) {
        return 0;
    }
    unsigned char *p = (unsigned char *)buf;
    size_t n = strnlen(buf, cap - 1);
    size_t limit = cap - 1;
    bool cut = mh_text_escaped_len(buf, n) > limit;
    size_t room = cut ? (limit >= 3 ? limit - 3 : 0) : limit;
    size_t size;
    size_t k = fitting(p, n, room, &size);
    /* Expanded from the end: byte i's escape starts at or after i, so no
     * byte is overwritten before it is read. */
    size_t o = size;
    for (size_t i = k; i-- > 0;) {
        unsigned char c = p[i];
        o -= escaped_size(c);
        put_escaped(buf + o, c);
    }
    return finish(buf, size, limit, cut);
}

char *
mh_hex_encode(char *out, const void *in, size_t n)
{
    const unsigned char *p = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_digits[p[i] >> 4];
        out[2 * i + 1] = hex_digits[p[i] & 15];
    }
    out[2 * n] = '\0';
    return out;
}

bool
mh_parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    if (s == NULL || s[0] == '\0') {
        return false;
    }
    unsigned long long v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10) {
            return false; /* v * 10 + d > max, overflow included */
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool
mh_parse_port(const char *s, uint16_t *port)
{
    unsigned long long v;
    if (!mh_parse_uint(s, 65535, &v) || v == 0) {
        return false;
    }
    *port = (uint16_t)v;
    return true;
}

bool
mh_parse_ip_port(const char *s, char *ip, size_t ip_len, uint16_t *port)
{
    unsigned char bin[16];
    char host[INET6_ADDRSTRLEN];
    const char *port_text = NULL;
    int family;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || (size_t)(close - s - 1) >= sizeof host ||
            close[1] != ':') {
            return false;
        }
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port_text = close + 2;
        family = AF_INET6;
    } else if (strchr(s, ':') != NULL &&
               strchr(strchr(s, ':') + 1, ':') != NULL) {
        /* Two colons or more: a bare IPv6 address, no port. */
        if (strlen(s) >= sizeof host) {
            return false;
        }
        memcpy(host, s, strlen(s) + 1);
        family = AF_INET6;
    } else {
        const char *colon = strchr(s, ':');
        size_t hl = colon != NULL ? (size_t)(colon - s) : strlen(s);
        if (hl >= sizeof host) {
            return false;
        }
        memcpy(host, s, hl);
        host[hl] = '\0';
        port_text = colon != NULL ? colon + 1 : NULL;
        family = AF_INET;
    }
    if (inet_pton(family, host, bin) != 1 || strlen(host) >= ip_len) {
        return false;
    }
    uint16_t p = 0;
    if (port_text != NULL && !mh_parse_port(port_text, &p)) {
        return false;
    }
    memcpy(ip, host, strlen(host) + 1);
    *port = p;
    return true;
}

bool
mh_is_ip_literal(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return s != NULL && (inet_pton(AF_INET, s, buf) == 1 ||
                         inet_pton(AF_INET6, s, buf) == 1);
}

bool
mh_host_is_v6(const char *host)
{
    return host != NULL && strchr(host, ':') != NULL;
}

char *
mh_peer_label(char *buf, size_t len, const char *name, const char *address,
              uint16_t port)
{
    bool no_name = name == NULL || name[0] == '\0';
    bool no_addr = address == NULL || address[0] == '\0';
    const char *one = no_name ? (no_addr ? "" : address) : name;
    int n;
    if (no_name || no_addr || strcmp(name, address) == 0) {
        n = snprintf(buf, len, mh_host_is_v6(one) ? "[%s]:%u" : "%s:%u", one,
                     (unsigned)port);
    } else {
        n = snprintf(buf, len, "%s[%s]:%u", name, address, (unsigned)port);
    }
    (void)n; /* cut on purpose when too long */
    return buf;
}

char *
mh_utc_iso(char *buf, size_t len, double t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (len == 0) {
        return buf;
    }
    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(buf, len, "?");
    }
    return buf;
}
