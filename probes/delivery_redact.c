/* SPDX-License-Identifier: MIT */
/*
 * delivery_redact: the redaction of libcurl's -vv trace of the delivery
 * probe, so credentials never reach the output (see delivery.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "delivery.h"
#include "delivery_internal.h"
#include "textutil.h"

bool
mh_delivery_word_at(const char *line, size_t len, int idx, const char **w,
                    size_t *wl)
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
        mh_text_escape(out, outlen, line, len);
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
        if (mh_delivery_word_at(line, len, 0, &w, &wl) && wl == 4 &&
            strncasecmp(w, "AUTH", 4) == 0) {
            const char *m = "";
            size_t ml = 0;
            (void)mh_delivery_word_at(line, len, 1, &m, &ml);
            char mech[40];
            mh_text_escape(mech, sizeof mech, m, ml < 30 ? ml : 30);
            snprintf(out, outlen, "AUTH %s [redacted]", mech);
            rd->in_auth = true;
            return;
        }
        if (mh_delivery_word_at(line, len, 0, &w, &wl) &&
            word_is(w, wl, smtp_ok)) {
            mh_text_escape(out, outlen, line, len);
            return;
        }
        snprintf(out, outlen, "[redacted]");
        return;
    }
    /* IMAP: "tag COMMAND args". */
    const char *tag;
    size_t tl;
    if (!mh_delivery_word_at(line, len, 0, &tag, &tl) ||
        !mh_delivery_word_at(line, len, 1, &w, &wl)) {
        snprintf(out, outlen, "[redacted]");
        return;
    }
    char ptag[40];
    mh_text_escape(ptag, sizeof ptag, tag, tl < 30 ? tl : 30);
    if (wl == 12 && strncasecmp(w, "AUTHENTICATE", 12) == 0) {
        const char *m = "";
        size_t ml = 0;
        (void)mh_delivery_word_at(line, len, 2, &m, &ml);
        char mech[40];
        mh_text_escape(mech, sizeof mech, m, ml < 30 ? ml : 30);
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
        mh_text_escape(out, outlen, line, len);
        return;
    }
    snprintf(out, outlen, "[redacted]");
}
