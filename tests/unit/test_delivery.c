/* SPDX-License-Identifier: MIT */
/* Unit tests of the delivery probe's pure parts (probes/delivery.c): the
 * token, the RFC 5322 probe message, URL parsing, IMAP SEARCH parsing, the
 * libcurl error -> category mapping and the -vv trace redaction. The round
 * trip itself is tested against the lab (tests/integration/
 * test_delivery.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "delivery.h"
#include "reports.h"

/* ---- token ---------------------------------------------------------- */

static void
test_token_format_and_uniqueness(void **state)
{
    (void)state;
    char a[MH_DELIVERY_TOKEN_HEX + 1], b[MH_DELIVERY_TOKEN_HEX + 1];
    assert_int_equal(mh_delivery_make_token(a), 0);
    assert_int_equal(mh_delivery_make_token(b), 0);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_string_not_equal(a, b);
}

/* ---- message -------------------------------------------------------- */

static const char *TOKEN = "0123456789abcdef0123456789abcdef";

/* 2001-09-09 01:46:40 UTC, a Sunday. */
#define T0 ((time_t)1000000000)

static bool
has_line(const char *msg, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = msg; (p = strstr(p, line)) != NULL; p++) {
        bool at_start = p == msg || p[-1] == '\n';
        if (at_start && p[n] == '\r' && p[n + 1] == '\n') {
            return true;
        }
    }
    return false;
}

static void
test_message_headers(void **state)
{
    (void)state;
    char err[200];
    char *m = mh_delivery_build_message(TOKEN, "probe@example.org",
                                        "box@example.net", T0, err, sizeof err);
    assert_non_null(m);
    assert_true(has_line(m, "Date: Sun, 09 Sep 2001 01:46:40 +0000"));
    assert_true(has_line(m, "From: mailhealth <probe@example.org>"));
    assert_true(has_line(m, "To: <box@example.net>"));
    assert_true(has_line(m, "Subject: mailhealth probe "
                            "0123456789abcdef0123456789abcdef"));
    assert_true(has_line(m, "Message-ID: "
                            "<0123456789abcdef0123456789abcdef@example.org>"));
    assert_true(has_line(m, "MIME-Version: 1.0"));
    assert_true(has_line(m, "Auto-Submitted: auto-generated"));
    assert_true(has_line(m, "X-Mailhealth-Probe: "
                            "0123456789abcdef0123456789abcdef"));
    free(m);
}

/* RFC 5322 2.1, 2.2, 2.3: CRLF only, header/body separated by one empty
 * line, no line over 998 octets (and ours under 78), US-ASCII only. */
static void
test_message_syntax(void **state)
{
    (void)state;
    char err[200];
    char *m = mh_delivery_build_message(TOKEN, "probe@example.org",
                                        "box@example.net", T0, err, sizeof err);
    assert_non_null(m);
    size_t linelen = 0;
    for (const char *p = m; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        assert_true(c < 0x80);
        if (c == '\n') {
            assert_true(p > m && p[-1] == '\r');
            assert_true(linelen <= 79); /* incl. the CR */
            linelen = 0;
        } else {
            if (c == '\r') {
                assert_int_equal(p[1], '\n');
            }
            linelen++;
        }
    }
    assert_int_equal(linelen, 0); /* ends in CRLF */
    const char *sep = strstr(m, "\r\n\r\n");
    assert_non_null(sep);
    /* Every header line before the separator is "Name: value". */
    for (const char *p = m; p < sep;) {
        const char *e = strstr(p, "\r\n");
        const char *colon = memchr(p, ':', (size_t)(e - p));
        assert_non_null(colon);
        assert_true(colon > p);
        p = e + 2;
    }
    /* No body line starts with '.' (dot-stuffing is libcurl's job, but
     * the probe never needs it). */
    assert_null(strstr(sep, "\r\n."));
    free(m);
}

static void
test_message_date_locale_independent(void **state)
{
    (void)state;
    char err[200];
    /* 2024-02-29 23:59:59 UTC, a Thursday. */
    char *m = mh_delivery_build_message(TOKEN, "a@b.example", "c@d.example",
                                        (time_t)1709251199, err, sizeof err);
    assert_non_null(m);
    assert_true(has_line(m, "Date: Thu, 29 Feb 2024 23:59:59 +0000"));
    free(m);
}

static void
test_message_id_domain_fallback(void **state)
{
    (void)state;
    char err[200];
    /* Address literal: not a dot-atom, so the RFC 2606 .invalid name. */
    char *m = mh_delivery_build_message(TOKEN, "probe@[192.0.2.1]",
                                        "x@example.net", T0, err, sizeof err);
    assert_non_null(m);
    assert_true(has_line(m, "Message-ID: <0123456789abcdef0123456789abcdef@"
                            "mailhealth.invalid>"));
    free(m);
}

static void
test_message_rejects_bad_addresses(void **state)
{
    (void)state;
    char err[200];
    static const char *const bad[] = {
        "",
        "no-at-sign",
        "@example.org",
        "user@",
        "a b@example.org",
        "user@example.org\r\nBcc: victim@example.net",
        "<user@example.org>",
        "user@example.org>",
        "\"quoted\"@example.org",
        "user@exa\x01mple.org",
        "us\xc3\xa9r@example.org",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_null(mh_delivery_build_message(TOKEN, bad[i], "x@example.net",
                                              T0, err, sizeof err));
        assert_non_null(strstr(err, "--mail-from"));
        assert_null(mh_delivery_build_message(TOKEN, "x@example.net", bad[i],
                                              T0, err, sizeof err));
        assert_non_null(strstr(err, "--rcpt-to"));
    }
    assert_null(mh_delivery_build_message("short", "a@b.example", "c@d.example",
                                          T0, err, sizeof err));
}

/* ---- URLs ----------------------------------------------------------- */

static void
test_url_defaults(void **state)
{
    (void)state;
    struct mh_delivery_url u;
    char err[300];
    assert_int_equal(mh_delivery_parse_url("smtp://mail.example.org", false, &u,
                                           err, sizeof err),
                     0);
    assert_int_equal(u.scheme, MH_DELIVERY_SCHEME_SMTP);
    assert_string_equal(u.host, "mail.example.org");
    assert_int_equal(u.port, 587);
    assert_string_equal(u.where, "mail.example.org:587");
    assert_int_equal(mh_delivery_parse_url("smtps://mail.example.org/", false,
                                           &u, err, sizeof err),
                     0);
    assert_int_equal(u.port, 465);
    assert_int_equal(mh_delivery_parse_url("imap://mail.example.org", true, &u,
                                           err, sizeof err),
                     0);
    assert_int_equal(u.port, 143);
    assert_string_equal(u.mailbox, "INBOX");
    assert_string_equal(u.where, "mail.example.org:143/INBOX");
    assert_int_equal(mh_delivery_parse_url("IMAPS://mail.example.org:1993/"
                                           "Probes%20Box",
                                           true, &u, err, sizeof err),
                     0);
    assert_int_equal(u.scheme, MH_DELIVERY_SCHEME_IMAPS);
    assert_int_equal(u.port, 1993);
    assert_string_equal(u.mailbox, "Probes Box");
}

static void
test_url_ipv6(void **state)
{
    (void)state;
    struct mh_delivery_url u;
    char err[300];
    assert_int_equal(
        mh_delivery_parse_url("smtp://[::1]:2587", false, &u, err, sizeof err),
        0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 2587);
    assert_string_equal(u.where, "[::1]:2587");
}

static void
test_url_rejected(void **state)
{
    (void)state;
    struct mh_delivery_url u;
    char err[300];
    struct {
        const char *url;
        bool imap;
        const char *why;
    } bad[] = {
        {"imap://host", false, "smtp://"}, /* wrong half */
        {"smtp://host", true, "imap://"},  /* wrong half */
        {"http://host", false, "smtp://"}, /* other scheme */
        {"host:587", false, "smtp://"},    /* no scheme */
        {"smtp://user:pw@host", false, "password"},
        {"imaps://user@host/INBOX", true, "password"},
        {"smtp://host/ehlo.example", false, "--ehlo"},
        {"imap://host/INBOX;UID=5", true, "';'"},
        {"imap://host/INBOX?x", true, "query"},
        {"smtp://host:99999", false, "invalid URL"},
        {"smtp://ho st", false, "space"},
        {"", false, "needs a URL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(
            mh_delivery_parse_url(bad[i].url, bad[i].imap, &u, err, sizeof err),
            -1);
        if (strstr(err, bad[i].why) == NULL) {
            fail_msg("'%s': error '%s' lacks '%s'", bad[i].url, err,
                     bad[i].why);
        }
    }
}

/* ---- SEARCH responses ----------------------------------------------- */

static void
test_parse_search(void **state)
{
    (void)state;
    unsigned long uids[4];
    const char *b1 = "* SEARCH\r\n";
    assert_int_equal(mh_delivery_parse_search(b1, strlen(b1), uids, 4), 0);
    const char *b2 = "* 3 EXISTS\r\n* SEARCH 17\r\n";
    assert_int_equal(mh_delivery_parse_search(b2, strlen(b2), uids, 4), 1);
    assert_int_equal(uids[0], 17);
    /* RFC 7162 MODSEQ is not a UID; several lines add up; capped at max. */
    const char *b3 = "* SEARCH 1 2 (MODSEQ 917162500)\r\n"
                     "* search 3 4 5\r\n";
    assert_int_equal(mh_delivery_parse_search(b3, strlen(b3), uids, 4), 5);
    assert_int_equal(uids[0], 1);
    assert_int_equal(uids[1], 2);
    assert_int_equal(uids[2], 3);
    assert_int_equal(uids[3], 4);
    /* Not SEARCH responses. */
    const char *b4 = "* SEARCHRES 9\r\n* 1 FETCH (UID 9)\r\n* OK 99\r\n";
    assert_int_equal(mh_delivery_parse_search(b4, strlen(b4), uids, 4), 0);
    /* Over 32 bits is not a UID. */
    const char *b5 = "* SEARCH 4294967296 4294967295\r\n";
    assert_int_equal(mh_delivery_parse_search(b5, strlen(b5), uids, 4), 1);
    assert_int_equal(uids[0], 4294967295UL);
}

/* ---- error mapping -------------------------------------------------- */

struct map_case {
    enum mh_delivery_half half;
    int curl_code;
    long code;
    const char *errbuf;
    enum mh_phase phase; /* what the commands sent say; LAST: unknown */
    const char *enhanced;
    const char *text;
    enum mh_state state;
    enum mh_category cat;
};

static void
test_classify(void **state)
{
    (void)state;
    const enum mh_delivery_half S = MH_DELIVERY_HALF_SUBMIT;
    const enum mh_delivery_half I = MH_DELIVERY_HALF_IMAP;
    const struct map_case cases[] = {
        {S, CURLE_OK, 250, "", MH_PHASE_LAST, "", "", MH_STATE_OK, MH_CAT_NONE},
        {S, CURLE_COULDNT_CONNECT, 0, "Failed to connect", MH_PHASE_LAST, "",
         "", MH_STATE_CRITICAL, MH_CAT_CONNECTION},
        {I, CURLE_COULDNT_RESOLVE_HOST, 0, "", MH_PHASE_LAST, "", "",
         MH_STATE_CRITICAL, MH_CAT_CONNECTION},
        {S, CURLE_OPERATION_TIMEDOUT, 0, "", MH_PHASE_LAST, "", "",
         MH_STATE_CRITICAL, MH_CAT_TIMEOUT},
        {I, CURLE_OPERATION_TIMEDOUT, 0, "", MH_PHASE_LAST, "", "",
         MH_STATE_CRITICAL, MH_CAT_TIMEOUT},
        /* Authentication on either side. */
        {S, CURLE_LOGIN_DENIED, 535, "Authentication failed: 535",
         MH_PHASE_LAST, "5.7.8", "Error: authentication failed",
         MH_STATE_CRITICAL, MH_CAT_AUTH},
        {S, CURLE_LOGIN_DENIED, 454, "Authentication failed: 454",
         MH_PHASE_LAST, "4.7.0", "Temporary authentication failure",
         MH_STATE_WARNING, MH_CAT_AUTH},
        {S, CURLE_LOGIN_DENIED, 0,
         "No known authentication mechanisms supported!", MH_PHASE_LAST, "", "",
         MH_STATE_CRITICAL, MH_CAT_AUTH},
        {I, CURLE_LOGIN_DENIED, 0, "Authentication failed: 78", MH_PHASE_LAST,
         "", "", MH_STATE_CRITICAL, MH_CAT_AUTH},
        /* libcurl reports a refused SELECT as LOGIN_DENIED. */
        {I, CURLE_LOGIN_DENIED, 0, "Select failed", MH_PHASE_LAST, "", "",
         MH_STATE_CRITICAL, MH_CAT_RESPONSE},
        /* TLS. */
        {S, CURLE_USE_SSL_FAILED, 0, "STARTTLS not supported.", MH_PHASE_LAST,
         "", "", MH_STATE_CRITICAL, MH_CAT_TLS},
        {I, CURLE_USE_SSL_FAILED, 0, "STARTTLS denied", MH_PHASE_LAST, "", "",
         MH_STATE_CRITICAL, MH_CAT_TLS},
        {S, CURLE_PEER_FAILED_VERIFICATION, 0, "", MH_PHASE_LAST, "", "",
         MH_STATE_CRITICAL, MH_CAT_TLS},
        {I, CURLE_SSL_CONNECT_ERROR, 0, "", MH_PHASE_LAST, "", "",
         MH_STATE_CRITICAL, MH_CAT_TLS},
        /* Rejected submissions: the SMTP classifier decides. */
        {S, CURLE_SEND_ERROR, 554, "RCPT failed: 554", MH_PHASE_RCPT, "5.7.1",
         "<x@foreign.example>: Relay access denied", MH_STATE_CRITICAL,
         MH_CAT_RELAY},
        {S, CURLE_SEND_ERROR, 554, "MAIL failed: 554", MH_PHASE_MAIL, "5.7.1",
         "Service unavailable; Client host [192.0.2.1] blocked using "
         "zen.spamhaus.org",
         MH_STATE_CRITICAL, MH_CAT_BLACKLIST},
        {S, CURLE_SEND_ERROR, 550, "RCPT failed: 550", MH_PHASE_RCPT, "5.1.1",
         "User unknown", MH_STATE_CRITICAL, MH_CAT_RESPONSE},
        {S, CURLE_SEND_ERROR, 452, "RCPT failed: 452", MH_PHASE_RCPT, "4.2.2",
         "Mailbox full", MH_STATE_WARNING, MH_CAT_RESPONSE},
        {S, CURLE_WEIRD_SERVER_REPLY, 554, "", MH_PHASE_DATA, "5.6.0",
         "Message rejected", MH_STATE_CRITICAL, MH_CAT_RESPONSE},
        {S, CURLE_WEIRD_SERVER_REPLY, 421,
         "Got unexpected smtp-server response: 421", MH_PHASE_BANNER, "4.3.2",
         "Service not available", MH_STATE_WARNING, MH_CAT_RESPONSE},
        /* Session lost without a reply. */
        {S, CURLE_RECV_ERROR, 0, "Connection reset", MH_PHASE_LAST, "", "",
         MH_STATE_CRITICAL, MH_CAT_CONNECTION},
        {S, CURLE_GOT_NOTHING, 0, "", MH_PHASE_LAST, "", "", MH_STATE_CRITICAL,
         MH_CAT_CONNECTION},
        /* IMAP NO/BAD to a command. */
        {I, CURLE_QUOTE_ERROR, 0, "", MH_PHASE_LAST, "", "", MH_STATE_CRITICAL,
         MH_CAT_RESPONSE},
        /* Local problems. */
        {S, CURLE_SSL_CACERT_BADFILE, 0, "", MH_PHASE_LAST, "", "",
         MH_STATE_UNKNOWN, MH_CAT_NONE},
        {I, CURLE_OUT_OF_MEMORY, 0, "", MH_PHASE_LAST, "", "", MH_STATE_UNKNOWN,
         MH_CAT_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct map_case *c = &cases[i];
        enum mh_state st;
        enum mh_reason reason;
        mh_delivery_classify(c->half, c->curl_code, c->code, c->errbuf,
                             c->phase, c->enhanced, c->text, &st, &reason);
        enum mh_category cat = mh_reason_category(reason);
        /* Every failure has a reason; OK has none. */
        assert_true((st == MH_STATE_OK) == (reason == MH_REASON_NONE));
        if (st != c->state || cat != c->cat) {
            fail_msg("case %zu (curl %d, code %ld, '%s'): got %s/%s, "
                     "wanted %s/%s",
                     i, c->curl_code, c->code, c->errbuf, mh_state_name(st),
                     mh_category_name(cat), mh_state_name(c->state),
                     mh_category_name(c->cat));
        }
    }
}

/* The SMTP phase comes from the commands libcurl sent, never from its
 * error text: the same reply and error text classify by the phase. */
static void
test_classify_phase(void **state)
{
    (void)state;
    enum mh_state st;
    enum mh_reason reason;
    mh_delivery_classify(MH_DELIVERY_HALF_SUBMIT, CURLE_SEND_ERROR, 550,
                         "MAIL failed: 550", MH_PHASE_RCPT, "", "Unknown user",
                         &st, &reason);
    assert_int_equal(reason, MH_REASON_USER_UNKNOWN);
    mh_delivery_classify(MH_DELIVERY_HALF_SUBMIT, CURLE_SEND_ERROR, 550,
                         "RCPT failed: 550", MH_PHASE_MAIL, "", "Unknown user",
                         &st, &reason);
    assert_int_equal(reason, MH_REASON_PERMANENT_FAILURE);
    mh_delivery_classify(MH_DELIVERY_HALF_SUBMIT, CURLE_WEIRD_SERVER_REPLY, 554,
                         "", MH_PHASE_BANNER, "", "No SMTP service here", &st,
                         &reason);
    assert_int_equal(reason, MH_REASON_SERVICE_UNAVAILABLE);
    mh_delivery_classify(MH_DELIVERY_HALF_SUBMIT, CURLE_SEND_ERROR, 450,
                         "RCPT failed: 450", MH_PHASE_RCPT, "4.2.0",
                         "<probe@lab.test>: Recipient address rejected: "
                         "Greylisted, see http://postgrey.schweikert.ch/help/",
                         &st, &reason);
    assert_int_equal(st, MH_STATE_WARNING);
    assert_int_equal(reason, MH_REASON_GREYLISTED);

    /* The commands as libcurl sends them. */
    static const struct {
        enum mh_phase before;
        const char *line;
        enum mh_phase after;
    } cmds[] = {
        {MH_PHASE_BANNER, "EHLO probe.example.net", MH_PHASE_EHLO},
        {MH_PHASE_BANNER, "helo x", MH_PHASE_EHLO},
        {MH_PHASE_EHLO, "STARTTLS", MH_PHASE_STARTTLS},
        {MH_PHASE_EHLO, "AUTH PLAIN AGFAYgBj", MH_PHASE_AUTH},
        {MH_PHASE_AUTH, "DATA", MH_PHASE_AUTH}, /* a SASL continuation */
        {MH_PHASE_AUTH, "dXNlcg==", MH_PHASE_AUTH},
        {MH_PHASE_AUTH, "MAIL FROM:<a@example.net>", MH_PHASE_MAIL},
        {MH_PHASE_MAIL, "RCPT TO:<b@example.net>", MH_PHASE_RCPT},
        {MH_PHASE_RCPT, "DATA", MH_PHASE_DATA},
        {MH_PHASE_DATA, "QUIT", MH_PHASE_QUIT},
        {MH_PHASE_RCPT, "RSET", MH_PHASE_RCPT},
        {MH_PHASE_MAIL, "MAILX", MH_PHASE_MAIL},
        {MH_PHASE_EHLO, "", MH_PHASE_EHLO},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        assert_int_equal(mh_delivery_command_phase(cmds[i].before, cmds[i].line,
                                                   strlen(cmds[i].line)),
                         cmds[i].after);
    }
}

/* ---- redaction ------------------------------------------------------ */

static const char *
red(struct mh_delivery_redactor *rd, bool out, const char *line)
{
    static char buf[300];
    mh_delivery_redact_line(rd, out, line, strlen(line), buf, sizeof buf);
    return buf;
}

static void
test_redact_smtp(void **state)
{
    (void)state;
    struct mh_delivery_redactor rd = {.imap = false, .in_auth = false};
    assert_string_equal(red(&rd, true, "EHLO client.example\r\n"),
                        "EHLO client.example");
    assert_string_equal(red(&rd, true, "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n"),
                        "AUTH PLAIN [redacted]");
    assert_string_equal(red(&rd, false, "235 2.7.0 Authentication successful"),
                        "235 2.7.0 Authentication successful");
    assert_string_equal(red(&rd, true, "MAIL FROM:<a@b.example>"),
                        "MAIL FROM:<a@b.example>");
    /* AUTH LOGIN: user and password are continuation lines; even one that
     * looks like a command stays hidden until the final reply. */
    assert_string_equal(red(&rd, true, "AUTH LOGIN"), "AUTH LOGIN [redacted]");
    assert_string_equal(red(&rd, false, "334 VXNlcm5hbWU6"),
                        "334 VXNlcm5hbWU6");
    assert_string_equal(red(&rd, true, "dXNlcg=="), "[redacted]");
    assert_string_equal(red(&rd, false, "334 UGFzc3dvcmQ6"),
                        "334 UGFzc3dvcmQ6");
    assert_string_equal(red(&rd, true, "DATA"), "[redacted]");
    assert_string_equal(red(&rd, false, "535 5.7.8 Error"), "535 5.7.8 Error");
    assert_string_equal(red(&rd, true, "QUIT"), "QUIT");
    /* Anything unknown from the client is hidden. */
    assert_string_equal(red(&rd, true, "c2VjcmV0"), "[redacted]");
}

static void
test_redact_imap(void **state)
{
    (void)state;
    struct mh_delivery_redactor rd = {.imap = true, .in_auth = false};
    assert_string_equal(red(&rd, true, "A001 CAPABILITY"), "A001 CAPABILITY");
    assert_string_equal(red(&rd, true, "A002 LOGIN probe secret"),
                        "A002 LOGIN [redacted]");
    assert_string_equal(red(&rd, false, "A002 NO [AUTHENTICATIONFAILED] x"),
                        "A002 NO [AUTHENTICATIONFAILED] x");
    assert_string_equal(red(&rd, true, "A003 AUTHENTICATE PLAIN AHUAcA=="),
                        "A003 AUTHENTICATE PLAIN [redacted]");
    assert_string_equal(red(&rd, false, "+ "), "+ ");
    assert_string_equal(red(&rd, true, "A004 NOOP"), "[redacted]");
    assert_string_equal(red(&rd, false, "A003 OK Logged in"),
                        "A003 OK Logged in");
    assert_string_equal(red(&rd, true, "A004 SELECT INBOX"),
                        "A004 SELECT INBOX");
    assert_string_equal(red(&rd, true, "A005 UID SEARCH HEADER Subject x"),
                        "A005 UID SEARCH HEADER Subject x");
    assert_string_equal(red(&rd, true, "AHVzZXIAc2VjcmV0"), "[redacted]");
}

/* ====== The report (mh_delivery_run, mh_delivery_report_render) ====== */

/* Without the URLs no network is touched: a usage error in phase setup. */
static void
test_report_setup(void **state)
{
    (void)state;
    struct mh_delivery_params p = {.rcpt_to = "probe@example.com",
                                   .poll_interval_s = 1};
    struct mh_deadline dl;
    mh_deadline_start(&dl, 5);
    struct mh_delivery_report *rep = mh_delivery_run(&p, &dl);
    assert_non_null(rep);
    assert_int_equal(rep->failure.state, MH_STATE_UNKNOWN);
    assert_int_equal(rep->failure.reason, MH_REASON_USAGE_ERROR);
    assert_string_equal(rep->failure.phase, "setup");
    assert_int_equal(rep->nsteps, 0);
    assert_false(rep->submitted);
    assert_string_equal(rep->target, "probe@example.com via ?");
    free(rep);
    rep = mh_delivery_run(&p, &dl);
    assert_non_null(rep);
    struct mh_result *r = mh_delivery_result(rep);
    free(rep);
    assert_non_null(r);
    assert_int_equal(r->state, MH_STATE_UNKNOWN);
    assert_string_equal(r->summary,
                        "delivery needs --submit URL and --imap URL");
    mh_result_free(r);
}

/* A report made here: phases become items with their facts, a mail not
 * found leaves the delay unknown, a found one gives the OK summary. */
static void
test_report_render(void **state)
{
    (void)state;
    struct mh_delivery_report rep = {
        .rcpt_to = "probe@example.com",
        .submit_where = "mx.example.com:587",
        .imap_where = "mx.example.com:993/INBOX",
        .submitted = true,
        .imap_ran = true,
        .time_submit = 0.25,
        .time_imap = 0.5,
        .nsteps = 2,
        .elapsed_s = 6,
    };
    rep.steps[0] = (struct mh_delivery_step){.phase = "submit",
                                             .text = "accepted",
                                             .has = MH_DELIVERY_HAS_DURATION |
                                                    MH_DELIVERY_HAS_REPLY |
                                                    MH_DELIVERY_HAS_TLS,
                                             .duration_s = 0.25,
                                             .reply_code = 250,
                                             .tls = "TLSv1.3"};
    rep.steps[1] =
        (struct mh_delivery_step){.phase = "poll",
                                  .state = MH_STATE_CRITICAL,
                                  .reason = MH_REASON_DELIVERY_TIMEOUT,
                                  .text = "not found"};
    rep.failure = (struct mh_delivery_failure){
        .state = MH_STATE_CRITICAL,
        .phase = "poll",
        .reason = MH_REASON_DELIVERY_TIMEOUT,
        .cause = "mail to probe@example.com not found"};
    struct mh_result *r = mh_result_new("delivery", "t");
    mh_delivery_report_render(&rep, r);
    assert_int_equal(r->state, MH_STATE_CRITICAL);
    assert_string_equal(r->summary, "mail to probe@example.com not found");
    assert_int_equal(r->nitems, 2);
    assert_int_equal(r->items[0].nattrs, 3);
    assert_string_equal(r->items[0].attrs[0].key, "duration_seconds");
    assert_string_equal(r->items[0].attrs[1].key, "reply_code");
    assert_string_equal(r->items[0].attrs[2].key, "tls");
    assert_string_equal(r->perf[0].label, "delay");
    assert_true(r->perf[0].unknown);
    assert_int_equal(r->nsamples, 0);
    assert_true(r->duration_s == 6);
    mh_result_free(r);
    /* Found: the sample, and the OK summary. */
    rep.found = true;
    rep.delay_s = 1.5;
    rep.polls = 3;
    rep.nsteps = 1;
    rep.failure = (struct mh_delivery_failure){.phase = ""};
    r = mh_result_new("delivery", "t");
    mh_delivery_report_render(&rep, r);
    assert_int_equal(r->state, MH_STATE_OK);
    assert_false(r->perf[0].unknown);
    assert_int_equal(r->nsamples, 1);
    assert_string_equal(r->summary,
                        "probe@example.com: delivered via mx.example.com:587 "
                        "to mx.example.com:993/INBOX in 1.500 s (submission "
                        "0.250 s, 3 polls)");
    mh_result_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_format_and_uniqueness),
        cmocka_unit_test(test_message_headers),
        cmocka_unit_test(test_message_syntax),
        cmocka_unit_test(test_message_date_locale_independent),
        cmocka_unit_test(test_message_id_domain_fallback),
        cmocka_unit_test(test_message_rejects_bad_addresses),
        cmocka_unit_test(test_url_defaults),
        cmocka_unit_test(test_url_ipv6),
        cmocka_unit_test(test_url_rejected),
        cmocka_unit_test(test_parse_search),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_classify_phase),
        cmocka_unit_test(test_redact_smtp),
        cmocka_unit_test(test_redact_imap),
        cmocka_unit_test(test_report_setup),
        cmocka_unit_test(test_report_render),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
