/* SPDX-License-Identifier: MIT */
/*
 * reply: SMTP reply parsing, EHLO capabilities and reply classification.
 * Pure functions over bytes: no I/O, no allocation, safe for fuzzing.
 *
 * Reply format (RFC 5321 section 4.2): each line is a three-digit code,
 * then '-' (more lines follow) or ' ' (last line) and text; a line of just
 * the code is a last line too (4.2: "the text is optional"). The final
 * line's code is the reply's code; lines with another code are noted as an
 * inconsistency (4.2.1 says the codes must be the same).
 *
 * Choices documented here:
 *  - Lines end in CRLF; a bare LF is accepted by the transport (a server
 *    that sends it is still readable; the reply is not rejected for it).
 *  - An empty line, or a line of only spaces and tabs, is not a reply
 *    line (RFC 5321 4.2 has none): it is skipped (MH_REPLY_SKIPPED) and
 *    the reply goes on, so later replies stay aligned with their commands
 *    (a server that sends an empty line after its greeting would otherwise
 *    be read one command late); the caller reports it as a protocol
 *    violation of its own (a WARNING, RFC 5321 4.5.3.1.5 robustness).
 *  - A line longer than the limit is a protocol error (the transport
 *    reports MH_IO_TOOLONG). The default limit is RFC 5321 4.5.3.1.5's:
 *    512 octets including CRLF, i.e. 510 octets of line; the smtp probe's
 *    max_line parameter (--max-line-length) raises it up to
 *    MH_REPLY_LINE_HARD_MAX for servers that are known to exceed it.
 *  - More than MH_REPLY_MAX_LINES lines is a protocol error, so an endless
 *    continuation cannot hold the probe until its deadline.
 */
#ifndef MH_REPLY_H
#define MH_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "result.h"

/* Default longest reply line, without CRLF (RFC 5321 4.5.3.1.5: 512 octets
 * with CRLF). */
#define MH_REPLY_LINE_MAX 510
/* Highest limit a user may configure; bounded by the transport's buffer. */
#define MH_REPLY_LINE_HARD_MAX 4000
/* Most lines in one reply (an EHLO reply has one per extension). */
#define MH_REPLY_MAX_LINES 100
/* Text kept of one reply (lines joined with '\n', printable ASCII). */
#define MH_REPLY_TEXT_MAX 2048

struct mh_reply {
    int code;                     /* reply code of the last line read */
    int first_code;               /* code of the first line */
    char enhanced[16];            /* enhanced status code of the first line
                                     (RFC 3463, e.g. "5.7.1"), "" if none */
    char text[MH_REPLY_TEXT_MAX]; /* each line's text (after the code,
                             separator and enhanced code), joined by '\n';
                             non-printable bytes as \xNN; cut at the end */
    size_t nlines;
    bool inconsistent; /* a line had a code different from the first */
    bool complete;     /* the last line has been seen */
    char error[96];    /* why the reply is invalid (MH_REPLY_BAD) */
};

enum mh_reply_status {
    MH_REPLY_MORE = 0, /* line accepted, more lines follow */
    MH_REPLY_DONE,     /* line accepted, it was the last line */
    MH_REPLY_BAD,      /* not a valid reply line; see error */
    MH_REPLY_SKIPPED   /* empty or blank line: ignored, r unchanged */
};

/* Resets r for a new reply. */
void mh_reply_init(struct mh_reply *r);

/*
 * Feeds one line (without its line ending; may contain any byte) into r.
 * Returns MH_REPLY_MORE, MH_REPLY_DONE, MH_REPLY_SKIPPED (an empty line or
 * one of only spaces and tabs, r unchanged), or MH_REPLY_BAD with r->error
 * set (code not three digits 2xx..5xx, bad separator, too many lines).
 * Feeding after DONE or BAD returns MH_REPLY_BAD.
 */
enum mh_reply_status mh_reply_feed(struct mh_reply *r, const char *line,
                                   size_t len);

/*
 * Formats the reply for messages: "554 5.7.1 text; more text" (lines joined
 * with "; "), at most len-1 bytes. Returns buf.
 */
char *mh_reply_format(const struct mh_reply *r, char *buf, size_t len);

/* EHLO extension flags (RFC 5321 4.1.1.1 and the extension RFCs). */
enum mh_ext {
    MH_EXT_STARTTLS = 1u << 0,            /* RFC 3207 */
    MH_EXT_AUTH = 1u << 1,                /* RFC 4954 */
    MH_EXT_SIZE = 1u << 2,                /* RFC 1870 */
    MH_EXT_PIPELINING = 1u << 3,          /* RFC 2920 */
    MH_EXT_8BITMIME = 1u << 4,            /* RFC 6152 */
    MH_EXT_SMTPUTF8 = 1u << 5,            /* RFC 6531 */
    MH_EXT_ENHANCEDSTATUSCODES = 1u << 6, /* RFC 2034 */
    MH_EXT_CHUNKING = 1u << 7             /* RFC 3030 */
};

/* SASL mechanisms we can use (RFC 4616 PLAIN, LOGIN, RFC 2195 CRAM-MD5). */
enum mh_mech {
    MH_MECH_PLAIN = 1u << 0,
    MH_MECH_LOGIN = 1u << 1,
    MH_MECH_CRAM_MD5 = 1u << 2
};

/* The SASL name of one MH_MECH_* value ("PLAIN", "LOGIN", "CRAM-MD5"); ""
 * for anything else. */
const char *mh_mech_name(unsigned mech);

struct mh_ehlo_caps {
    unsigned ext;        /* MH_EXT_* */
    unsigned mechs;      /* MH_MECH_* offered */
    char mech_list[256]; /* every mechanism offered, space-separated */
    unsigned long size;  /* SIZE parameter, 0 if none or no limit */
};

/*
 * Parses the capabilities of a complete 250 EHLO reply: every line after the
 * first (the first is the server's domain and greeting), whether the line
 * was a '-' continuation or the final ' ' line; keywords case-insensitive
 * and possibly followed by parameters ("AUTH PLAIN LOGIN", also the old
 * "AUTH=PLAIN LOGIN" form). Unknown extensions are ignored.
 */
void mh_ehlo_parse(const struct mh_reply *r, struct mh_ehlo_caps *caps);

/* SMTP dialogue phases (the values of the "phase" label of the metrics). */
enum mh_phase {
    MH_PHASE_CONNECT = 0,
    MH_PHASE_BANNER,
    MH_PHASE_EHLO,
    MH_PHASE_STARTTLS,
    MH_PHASE_TLS_HANDSHAKE,
    MH_PHASE_AUTH,
    MH_PHASE_MAIL,
    MH_PHASE_RCPT,
    MH_PHASE_DATA,
    MH_PHASE_QUIT,
    MH_PHASE_LAST
};

/* Label of a phase ("connect", "banner", ...). */
const char *mh_phase_name(enum mh_phase p);

/* The classification of negative replies is in reply_rules.h. */

#endif
