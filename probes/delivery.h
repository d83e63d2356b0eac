/* SPDX-License-Identifier: MIT */
/*
 * delivery: the end-to-end delivery round trip. A probe mail with
 * a unique token is submitted over SMTP (RFC 6409 submission, AUTH per
 * RFC 4954) and looked for in a mailbox over IMAP (RFC 3501 SEARCH, STORE,
 * EXPUNGE); the delay from the end of the submission to the moment the mail
 * is found is the measurement. Both halves use libcurl (easy interface,
 * https://curl.se/libcurl/c/): certificate verification is always on, and
 * every transfer is bounded by the check's one deadline (CURLOPT_TIMEOUT_MS
 * from mh_deadline_ms_left()).
 *
 * Order of the round trip (mh_delivery_probe):
 *   1. IMAP session first: connect, STARTTLS or implicit TLS, login, SELECT
 *      the mailbox, CAPABILITY. A wrong IMAP password therefore fails before
 *      any mail is sent (no leftover), and the delay does not include the
 *      IMAP login.
 *   2. Submission: connect, TLS, EHLO, AUTH, MAIL, RCPT, DATA. The end of
 *      the submission is the moment the server accepted the message (the
 *      reply to the final "."; RFC 5321 4.1.1.4).
 *   3. Polling: every poll interval, NOOP (lets the server announce new
 *      mail, RFC 3501 6.1.2) and UID SEARCH HEADER Subject <token>, until the
 *      mail is found or the deadline passes.
 *   4. Cleanup: the probe mail, and probe mails of earlier runs older than
 *      MH_DELIVERY_LEFTOVER_AGE seconds, are flagged \Deleted and expunged
 *      (UID EXPUNGE when the server has UIDPLUS, RFC 4315).
 *
 * Leftovers: every probe mail carries the fixed Subject prefix
 * MH_DELIVERY_SUBJECT_PREFIX (and an X-Mailhealth-Probe header). A probe
 * mail is only deleted by another run when it is older than
 * MH_DELIVERY_LEFTOVER_AGE (one hour, the longest -t allowed), measured
 * with the RFC 5032 OLDER search key when the server has WITHIN, else with
 * BEFORE <yesterday>: so a run never deletes the mail of a concurrent run
 * (another monitoring host, or the runner's other checks) that is still
 * waiting for it.
 *
 * Thread safety: no global state; every call uses its own curl easy
 * handles. curl_global_init() must have been called once before threads
 * start (main.c does it). CURLOPT_NOSIGNAL is set, so no signals are used
 * for timeouts. The probe never prints: -v traces go through the trace
 * callback, and passwords never appear in them (mh_delivery_redact_line).
 */
#ifndef MH_DELIVERY_H
#define MH_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "deadline.h"
#include "result.h"
#include "smtp.h" /* mh_trace_fn */

/* Fixed Subject prefix of every probe mail ("mailhealth probe <token>"). */
#define MH_DELIVERY_SUBJECT_PREFIX "mailhealth probe "
/* Header naming the token in every probe mail. */
#define MH_DELIVERY_HEADER "X-Mailhealth-Probe"
/* Leftover probe mails older than this many seconds are deleted. */
#define MH_DELIVERY_LEFTOVER_AGE 3600
/* Hex digits of the token: 128 random bits. */
#define MH_DELIVERY_TOKEN_HEX 32
/* Longest URL accepted for --submit / --imap. */
#define MH_DELIVERY_URL_MAX 512

/* URL schemes of the two halves. */
enum mh_delivery_scheme {
    MH_DELIVERY_SCHEME_INVALID = 0,
    MH_DELIVERY_SCHEME_SMTP,  /* submission, STARTTLS required (RFC 3207) */
    MH_DELIVERY_SCHEME_SMTPS, /* submission over implicit TLS (RFC 8314) */
    MH_DELIVERY_SCHEME_IMAP,  /* IMAP, STARTTLS required (RFC 3501 6.2.1) */
    MH_DELIVERY_SCHEME_IMAPS  /* IMAP over implicit TLS (RFC 8314) */
};

/* A parsed --submit or --imap URL. */
struct mh_delivery_url {
    enum mh_delivery_scheme scheme;
    char host[256];    /* host name or address, IPv6 without brackets */
    uint16_t port;     /* the URL's port, or the scheme's default:
                          smtp 587 (RFC 6409), smtps 465, imap 143,
                          imaps 993 */
    char mailbox[256]; /* IMAP: the mailbox, percent-decoded (default
                          INBOX); submission: "" */
    char where[320];   /* "host:port" or "[v6]:port" (+ "/mailbox" for
                          IMAP), for messages */
};

/*
 * Parses a --submit (imap false: smtp:// or smtps://) or --imap (imap true:
 * imap:// or imaps://) URL with libcurl's URL parser (curl_url_set). The
 * URL must not carry a user name or password (secrets never come from
 * argv), a query or a fragment; a submission URL must have no path; an
 * IMAP URL's path is the mailbox (no ";UID=..." or other RFC 5092
 * parameters). Returns 0, or -1 with the reason in errbuf.
 */
int mh_delivery_parse_url(const char *url, bool imap,
                          struct mh_delivery_url *out, char *errbuf,
                          size_t errlen);

/* Parameters of one round trip. Strings are borrowed. */
struct mh_delivery_params {
    /* The two URLs, parsed by mh_delivery_parse_url() (the command line
     * does it once, when the option is given). */
    const struct mh_delivery_url *submit; /* smtp:// or smtps:// */
    const struct mh_delivery_url *imap;   /* imap:// or imaps:// */
    const char *auth_user;     /* submission AUTH user; NULL: no AUTH */
    const char *auth_password; /* borrowed, never copied into the result */
    unsigned auth_mech;        /* one MH_MECH_* (reply.h), passed to
                                  libcurl as CURLOPT_LOGIN_OPTIONS
                                  "AUTH=<name>"; 0: libcurl picks the best
                                  offered */
    const char *imap_user;     /* required */
    const char *imap_password; /* borrowed, never copied into the result */
    const char *mail_from;     /* envelope sender and From: */
    const char *rcpt_to;       /* envelope recipient and To: */
    const char *ehlo_name;     /* EHLO name; NULL: libcurl's default (the
                                  machine's host name) */
    const char *ca_file;       /* CURLOPT_CAINFO; NULL: system store */
    const char *ca_path;       /* CURLOPT_CAPATH */
    bool insecure_plaintext;   /* smtp:// and imap:// fall back to
                                  plaintext when STARTTLS is not offered */
    double poll_interval_s;    /* seconds between polls (> 0) */
    int family;                /* AF_UNSPEC, AF_INET (-4), AF_INET6 (-6) */
    const char *resolver;      /* "IP[:PORT]": host names are resolved with
                                  c-ares (resolve.h) within the deadline
                                  and pinned with CURLOPT_RESOLVE; NULL:
                                  libcurl's resolver */
    mh_trace_fn trace;         /* -v: server replies and progress; NULL:
                                  none */
    void *trace_arg;
    bool curl_verbose; /* -vv: libcurl's own trace (redacted)
                          through trace as well */
};

/*
 * What a round trip reports (mh_delivery_run below; the report's target is
 * "RCPT via SUBMITHOST:PORT"). Categories (verdict.h):
 * connection for resolution/connect failures and lost sessions on either
 * side; auth for login/AUTH failures on either side (CRITICAL); tls for
 * STARTTLS missing or refused and handshake/verification failures; response
 * for a rejected submission (relay/blacklist when mh_reply_classify says
 * so; 4xx WARNING, 5xx CRITICAL) and IMAP commands refused (e.g. the
 * mailbox does not exist); timeout when the deadline passed, in particular
 * when the mail had not arrived (the time waited is in the summary).
 * A probe mail found but not deleted is WARNING. UNKNOWN without category
 * for local problems (a URL missing, an invalid address, CA file unreadable, no
 * randomness).
 *
 * Rendered (plugin/reports.h, mh_delivery_report_render) the result has
 * items per phase (imap_login, submit, poll, cleanup), perfdata delay,
 * time_submit, time_imap and time_cleanup (seconds), and the sample
 * mailhealth_delivery_duration_seconds (only when the mail was found).
 * Thresholds are the caller's (mh_apply_thresholds on "delay").
 */

/* ====== The report: what the round trip found, before any output ======
 *
 * mh_delivery_run() makes the round trip into a struct mh_delivery_report
 * (every phase with its duration, codes and TLS, the delay, one failure
 * record); the plugin turns it into the items, perfdata, samples, state
 * and summary described above (plugin/report_delivery.c). Nothing here
 * builds result items.
 */

/* Facts a phase may carry, one bit each; rendered as item attributes in
 * this order. */
enum {
    MH_DELIVERY_HAS_DELETED = 1 << 0,  /* deleted: mails expunged */
    MH_DELIVERY_HAS_CURL = 1 << 1,     /* curl_code: libcurl's CURLcode */
    MH_DELIVERY_HAS_DURATION = 1 << 2, /* duration_seconds */
    MH_DELIVERY_HAS_REPLY = 1 << 3,    /* reply_code: the server's */
    MH_DELIVERY_HAS_TLS = 1 << 4,      /* tls: "TLSv1.3 <cipher>" or "" */
    MH_DELIVERY_HAS_DELAY = 1 << 5,    /* delay_seconds */
    MH_DELIVERY_HAS_POLLS = 1 << 6,    /* polls */
    MH_DELIVERY_HAS_UID = 1 << 7       /* uid: the probe mail's */
};

/* One phase of the round trip as it ended. */
struct mh_delivery_step {
    const char *phase;     /* static: "imap_login", "submit", "auth",
                              "poll", "cleanup" */
    enum mh_state state;   /* OK, or the phase's problem */
    enum mh_reason reason; /* NONE when OK */
    char text[1000];       /* what happened, printable */
    unsigned has;          /* MH_DELIVERY_HAS_* of the fields below */
    double deleted, curl_code, duration_s, reply_code;
    char tls[128];
    double delay_s, polls, uid;
    const char *note; /* static: a note that follows the phase (a session
                         without TLS), or NULL */
};

/* What the round trip concluded: the first of the worst problems. */
struct mh_delivery_failure {
    enum mh_state state;   /* OK: delivered, nothing to report */
    const char *phase;     /* static: a step's phase, "setup" (options,
                              token, libcurl), or "" */
    enum mh_reason reason; /* its category: mh_reason_category() */
    enum mh_category category;
    long reply_code;   /* the server's reply to the failed command, or
                          0 */
    char enhanced[16]; /* its enhanced status code (RFC 3463), or "" */
    char cause[1400];  /* the summary */
};

/* Most phases a round trip reports. */
#define MH_DELIVERY_MAX_STEPS 6

/* The outcome of one round trip. */
struct mh_delivery_report {
    char target[600];    /* "RCPT via SUBMITHOST:PORT" */
    const char *rcpt_to; /* borrowed from the params */
    char submit_where[320], imap_where[320];
    bool submitted; /* the submission ran (time_submit is known) */
    bool imap_ran;  /* the IMAP login ran (time_imap is known) */
    bool cleaned;   /* the cleanup ran (time_cleanup is known) */
    bool found;     /* the mail arrived (delay_s is known) */
    double delay_s, time_submit, time_imap, time_cleanup;
    unsigned polls;
    size_t nsteps;
    struct mh_delivery_step steps[MH_DELIVERY_MAX_STEPS];
    struct mh_delivery_failure failure;
    double elapsed_s; /* of the whole check */
};

/*
 * Makes the round trip within dl (steps 1 to 4 above) into a new report.
 * Returns the report (free with free()) or NULL when memory ran out.
 */
struct mh_delivery_report *mh_delivery_run(const struct mh_delivery_params *p,
                                           const struct mh_deadline *dl);

/*
 * Fills hex (MH_DELIVERY_TOKEN_HEX + 1 bytes) with a new token: 128 bits
 * from OpenSSL's CSPRNG (RAND_bytes, thread-safe), lower-case hex.
 * Returns 0, or -1 when the CSPRNG failed.
 */
int mh_delivery_make_token(char *hex);

/*
 * Builds the probe message (RFC 5322): Date, From, To, Subject
 * "mailhealth probe <token>", Message-ID <token@domain> (the sender's
 * domain when it is a plain dot-atom, else mailhealth.invalid),
 * MIME-Version 1.0, a text/plain us-ascii body, X-Mailhealth-Probe and
 * Auto-Submitted: auto-generated (RFC 3834, so no vacation responder
 * answers it); CRLF line ends, no line over 78 characters. `now` gives the
 * Date (formatted in UTC with fixed English names, whatever the locale).
 * Returns a new string (caller frees), or NULL when an address is unusable
 * in a header (empty, over 254 octets, control characters, spaces, '<',
 * '>', or no '@'; errbuf says which) or on allocation failure.
 */
char *mh_delivery_build_message(const char *token, const char *from,
                                const char *to, time_t now, char *errbuf,
                                size_t errlen);

/*
 * Parses the untagged "* SEARCH n n ..." lines in an IMAP response body
 * (RFC 3501 7.2.5; other lines ignored, "(MODSEQ n)" of RFC 7162 ignored).
 * Stores up to max UIDs in uids and returns how many were found (which
 * may exceed max: only the first max are stored).
 */
size_t mh_delivery_parse_search(const char *body, size_t len,
                                unsigned long *uids, size_t max);

/* Which half a libcurl error came from. */
enum mh_delivery_half { MH_DELIVERY_HALF_SUBMIT = 0, MH_DELIVERY_HALF_IMAP };

/*
 * Maps a failed transfer to a state and category. curl_code is the
 * CURLcode of curl_easy_perform; response_code is CURLINFO_RESPONSE_CODE
 * (the SMTP reply code; 0 when none); errbuf is CURLOPT_ERRORBUFFER's
 * text; enhanced/reply_text are the enhanced status code and text of the
 * server's last reply (RFC 3463; "" when unknown). The rules (the
 * reason gives the category, verdict.h):
 *   - CURLE_OK: OK, no reason;
 *   - cannot resolve (name_not_found) / connect (connection_refused),
 *     connection lost without a reply code, nothing received
 *     (connection_closed): CRITICAL;
 *   - CURLE_OPERATION_TIMEDOUT: reply_timeout (CRITICAL);
 *   - CURLE_LOGIN_DENIED: an auth reason (CRITICAL; 4xx WARNING), except
 *     IMAP "Select failed" (the mailbox cannot be selected):
 *     mailbox_unavailable;
 *   - CURLE_USE_SSL_FAILED: tls_required; every other TLS/certificate
 *     error: tls_handshake_failed;
 *   - a reply code >= 400 with SEND/RECV_ERROR or WEIRD_SERVER_REPLY:
 *     mh_reply_classify() (reply_rules.h) in `phase`, the SMTP phase the
 *     reply answered as the commands libcurl sent tell it
 *     (mh_delivery_command_phase; MH_PHASE_LAST when unknown: data), so
 *     4xx is WARNING, 5xx CRITICAL, and greylisting, rate limits, relay and
 *     blocklist replies get their reasons. libcurl's error text is never
 *     read for the phase;
 *   - IMAP NO/BAD to a command (CURLE_QUOTE_ERROR): command_rejected;
 *   - unreadable CA file, out of memory, bad URL: UNKNOWN,
 *     internal_error.
 */
void mh_delivery_classify(enum mh_delivery_half half, int curl_code,
                          long response_code, const char *errbuf,
                          enum mh_phase phase, const char *enhanced,
                          const char *reply_text, enum mh_state *state,
                          enum mh_reason *reason);

/*
 * The SMTP phase a command line libcurl sent (CURLINFO_HEADER_OUT, without
 * its line end) starts, given the phase before it: EHLO/HELO -> ehlo,
 * STARTTLS -> starttls, AUTH -> auth, MAIL -> mail, RCPT -> rcpt, DATA ->
 * data, QUIT -> quit (RFC 5321 4.1.1, RFC 3207, RFC 4954), the command
 * word case-insensitive and followed by a space, ':' or the end. Every
 * other line (RSET, NOOP, a SASL continuation inside AUTH: RFC 4954 4)
 * leaves the phase as it was.
 */
enum mh_phase mh_delivery_command_phase(enum mh_phase current, const char *line,
                                        size_t len);

/*
 * Redaction of libcurl's -vv trace. One redactor per transfer session;
 * feed it every protocol line in order: client lines (out true, what
 * libcurl sent, CURLINFO_HEADER_OUT) and server lines (out false,
 * CURLINFO_HEADER_IN). Client lines are passed through only when they are
 * commands known to carry no secret (SMTP EHLO/HELO/STARTTLS/MAIL/RCPT/
 * DATA/QUIT/RSET/NOOP; IMAP CAPABILITY/STARTTLS/SELECT/EXAMINE/NOOP/UID/
 * SEARCH/STORE/EXPUNGE/LOGOUT/FETCH, after the tag); "AUTH MECH ..." and
 * "tag AUTHENTICATE MECH ..." keep the mechanism and hide the rest, "tag
 * LOGIN ..." hides user and password, and every client line between such a
 * command and the server's final answer to it (SASL continuations,
 * RFC 4954 4 / RFC 3501 6.2.2) is replaced by "[redacted]", whatever it
 * looks like. Writes the printable line to out (at most outlen - 1 bytes).
 */
struct mh_delivery_redactor {
    bool imap;    /* IMAP rules (else SMTP) */
    bool in_auth; /* inside an authentication exchange */
};
void mh_delivery_redact_line(struct mh_delivery_redactor *rd, bool out_dir,
                             const char *line, size_t len, char *out,
                             size_t outlen);

#endif
