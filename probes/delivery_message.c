/* SPDX-License-Identifier: MIT */
/*
 * delivery_message: the probe mail of the delivery round trip (see
 * delivery.h): its random token and its RFC 5322 text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "delivery.h"
#include "textutil.h"

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
