/* SPDX-License-Identifier: MIT */
/*
 * reply: SMTP reply parser, EHLO capability parser and classifier (see
 * reply.h).
 */
#include "reply.h"

#include <stdio.h>
#include <string.h>

#include "textutil.h"

static const char *const phase_names[] = {
    "connect", "banner", "ehlo", "starttls", "tls_handshake",
    "auth",    "mail",   "rcpt", "data",     "quit"};
_Static_assert(sizeof phase_names / sizeof phase_names[0] ==
                   (size_t)MH_PHASE_LAST,
               "phase_names out of sync with enum mh_phase");

const char *
mh_phase_name(enum mh_phase p)
{
    if ((int)p < 0 || p >= MH_PHASE_LAST) {
        return "unknown";
    }
    return phase_names[p];
}

/* Locale-independent character classes (no <ctype.h>). */
static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char
to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

void
mh_reply_init(struct mh_reply *r)
{
    memset(r, 0, sizeof *r);
}

/* Appends len bytes of line text to r->text, escaping non-printables. */
static void
append_text(struct mh_reply *r, const char *s, size_t len)
{
    size_t o = strlen(r->text);
    const size_t cap = sizeof r->text - 1;
    if (r->nlines > 1 && o < cap) {
        r->text[o++] = '\n';
        r->text[o] = '\0';
    }
    mh_text_escape_append(r->text, sizeof r->text, s, len, false);
}

/*
 * Length of an enhanced status code at s (RFC 3463 section 2:
 * class "." subject "." detail, class 2/4/5, subject and detail 1-3
 * digits), followed by a space or the end; 0 if there is none.
 */
static size_t
enhanced_len(const char *s, size_t len)
{
    size_t i = 0;
    if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') {
        return 0;
    }
    i = 2;
    for (int part = 0; part < 2; part++) {
        size_t d = 0;
        while (i < len && is_digit(s[i]) && d < 4) {
            i++;
            d++;
        }
        if (d == 0 || d > 3) {
            return 0;
        }
        if (part == 0) {
            if (i >= len || s[i] != '.') {
                return 0;
            }
            i++;
        }
    }
    if (i < len && s[i] != ' ') {
        return 0;
    }
    return i;
}

enum mh_reply_status
mh_reply_feed(struct mh_reply *r, const char *line, size_t len)
{
    if (r->complete || r->error[0] != '\0') {
        snprintf(r->error, sizeof r->error, "line after the end of the reply");
        return MH_REPLY_BAD;
    }
    size_t blank = 0;
    while (blank < len && (line[blank] == ' ' || line[blank] == '\t')) {
        blank++;
    }
    if (blank == len) {
        return MH_REPLY_SKIPPED;
    }
    /* RFC 5321 4.2: first digit 2..5, second 0..5, third 0..9. */
    if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
        line[1] > '5' || !is_digit(line[2])) {
        snprintf(r->error, sizeof r->error, "not an SMTP reply line");
        return MH_REPLY_BAD;
    }
    if (len > 3 && line[3] != ' ' && line[3] != '-') {
        snprintf(r->error, sizeof r->error,
                 "reply code not followed by a space or '-'");
        return MH_REPLY_BAD;
    }
    if (r->nlines >= MH_REPLY_MAX_LINES) {
        snprintf(r->error, sizeof r->error, "more than %d lines in one reply",
                 MH_REPLY_MAX_LINES);
        return MH_REPLY_BAD;
    }
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    r->nlines++;
    if (r->nlines == 1) {
        r->first_code = code;
    } else if (code != r->first_code) {
        r->inconsistent = true;
    }
    r->code = code;

    const char *text = len > 4 ? line + 4 : "";
    size_t tlen = len > 4 ? len - 4 : 0;
    size_t el = enhanced_len(text, tlen);
    /* The enhanced code must match the reply's class (RFC 2034 section 4). */
    if (el > 0 && text[0] == line[0]) {
        if (r->nlines == 1 && el < sizeof r->enhanced) {
            memcpy(r->enhanced, text, el);
            r->enhanced[el] = '\0';
        }
        text += el;
        tlen -= el;
        if (tlen > 0 && text[0] == ' ') {
            text++;
            tlen--;
        }
    }
    append_text(r, text, tlen);

    if (len == 3 || line[3] == ' ') {
        r->complete = true;
        return MH_REPLY_DONE;
    }
    return MH_REPLY_MORE;
}

char *
mh_reply_format(const struct mh_reply *r, char *buf, size_t len)
{
    if (len == 0) {
        return buf;
    }
    int n = snprintf(buf, len, "%d%s%s", r->code, r->enhanced[0] ? " " : "",
                     r->enhanced);
    size_t o = (n > 0 && (size_t)n < len) ? (size_t)n : len - 1;
    if (r->text[0] != '\0' && o + 1 < len) {
        buf[o++] = ' ';
    }
    for (const char *p = r->text; *p != '\0' && o + 1 < len; p++) {
        if (*p == '\n') {
            if (o + 2 >= len) {
                break;
            }
            buf[o++] = ';';
            buf[o++] = ' ';
        } else {
            buf[o++] = *p;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* Case-insensitive: does word w (length wl) equal keyword kw? */
static bool
word_is(const char *w, size_t wl, const char *kw)
{
    size_t kl = strlen(kw);
    if (wl != kl) {
        return false;
    }
    for (size_t i = 0; i < kl; i++) {
        if (to_lower(w[i]) != to_lower(kw[i])) {
            return false;
        }
    }
    return true;
}

static void
add_mechs(struct mh_ehlo_caps *caps, const char *p, const char *end)
{
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '=')) {
            p++;
        }
        const char *w = p;
        while (p < end && *p != ' ') {
            p++;
        }
        size_t wl = (size_t)(p - w);
        if (wl == 0) {
            continue;
        }
        if (word_is(w, wl, "PLAIN")) {
            caps->mechs |= MH_MECH_PLAIN;
        } else if (word_is(w, wl, "LOGIN")) {
            caps->mechs |= MH_MECH_LOGIN;
        } else if (word_is(w, wl, "CRAM-MD5")) {
            caps->mechs |= MH_MECH_CRAM_MD5;
        }
        size_t o = strlen(caps->mech_list);
        if (o + wl + 2 < sizeof caps->mech_list) {
            /* Mechanism names are upper case (RFC 4422 section 3.1). */
            if (o > 0) {
                caps->mech_list[o++] = ' ';
            }
            for (size_t i = 0; i < wl; i++) {
                char c = w[i];
                caps->mech_list[o++] =
                    (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
            }
            caps->mech_list[o] = '\0';
        }
    }
}

void
mh_ehlo_parse(const struct mh_reply *r, struct mh_ehlo_caps *caps)
{
    memset(caps, 0, sizeof *caps);
    const char *p = strchr(r->text, '\n'); /* skip the domain line */
    while (p != NULL) {
        const char *line = p + 1;
        const char *end = strchr(line, '\n');
        if (end == NULL) {
            end = line + strlen(line);
        }
        p = *end == '\n' ? end : NULL;
        /* keyword: up to a space or '=' (old "AUTH=LOGIN" form). */
        const char *k = line;
        while (k < end && *k == ' ') {
            k++;
        }
        const char *ke = k;
        while (ke < end && *ke != ' ' && *ke != '=') {
            ke++;
        }
        size_t kl = (size_t)(ke - k);
        if (word_is(k, kl, "STARTTLS")) {
            caps->ext |= MH_EXT_STARTTLS;
        } else if (word_is(k, kl, "AUTH")) {
            caps->ext |= MH_EXT_AUTH;
            add_mechs(caps, ke, end);
        } else if (word_is(k, kl, "SIZE")) {
            caps->ext |= MH_EXT_SIZE;
            unsigned long v = 0;
            const char *d = ke;
            while (d < end && *d == ' ') {
                d++;
            }
            for (int i = 0; d < end && is_digit(*d) && i < 18; d++, i++) {
                v = v * 10 + (unsigned long)(*d - '0');
            }
            caps->size = v;
        } else if (word_is(k, kl, "PIPELINING")) {
            caps->ext |= MH_EXT_PIPELINING;
        } else if (word_is(k, kl, "8BITMIME")) {
            caps->ext |= MH_EXT_8BITMIME;
        } else if (word_is(k, kl, "SMTPUTF8")) {
            caps->ext |= MH_EXT_SMTPUTF8;
        } else if (word_is(k, kl, "ENHANCEDSTATUSCODES")) {
            caps->ext |= MH_EXT_ENHANCEDSTATUSCODES;
        } else if (word_is(k, kl, "CHUNKING")) {
            caps->ext |= MH_EXT_CHUNKING;
        }
    }
}

const char *
mh_mech_name(unsigned mech)
{
    switch (mech) {
    case MH_MECH_PLAIN:
        return "PLAIN";
    case MH_MECH_LOGIN:
        return "LOGIN";
    case MH_MECH_CRAM_MD5:
        return "CRAM-MD5";
    default:
        return "";
    }
}
