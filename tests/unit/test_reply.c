/* SPDX-License-Identifier: MIT */
/* Unit tests of the SMTP reply parser, EHLO capability parser and reply
 * classifier (probes/reply.c). Field cases BR-NN: tests/field-cases.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reply.h"
#include "reply_rules.h"

static enum mh_reply_status
feed(struct mh_reply *r, const char *line)
{
    return mh_reply_feed(r, line, strlen(line));
}

static void
test_single_line(void **state)
{
    (void)state;
    struct mh_reply r;
    mh_reply_init(&r);
    assert_int_equal(feed(&r, "220 mx.example.com ESMTP"), MH_REPLY_DONE);
    assert_int_equal(r.code, 220);
    assert_string_equal(r.text, "mx.example.com ESMTP");
    assert_string_equal(r.enhanced, "");
    assert_true(r.complete);
}

/* BR-01: a multi-line greeting is one reply; the last line decides. */
static void
test_multiline(void **state)
{
    (void)state;
    struct mh_reply r;
    mh_reply_init(&r);
    assert_int_equal(feed(&r, "220-mx.example.com ESMTP"), MH_REPLY_MORE);
    assert_int_equal(feed(&r, "220-Unsolicited bulk mail is not accepted"),
                     MH_REPLY_MORE);
    assert_int_equal(feed(&r, "220 see https://postmaster.example.com/"),
                     MH_REPLY_DONE);
    assert_int_equal(r.nlines, 3);
    char buf[300];
    mh_reply_format(&r, buf, sizeof buf);
    assert_string_equal(buf, "220 mx.example.com ESMTP; Unsolicited bulk mail "
                             "is not accepted; see "
                             "https://postmaster.example.com/");
    assert_false(r.inconsistent);
}

/* Code-only lines are complete replies (RFC 5321 4.2). */
static void
test_code_only(void **state)
{
    (void)state;
    struct mh_reply r;
    mh_reply_init(&r);
    assert_int_equal(feed(&r, "250"), MH_REPLY_DONE);
    assert_int_equal(r.code, 250);
    mh_reply_init(&r);
    assert_int_equal(feed(&r, "334 "), MH_REPLY_DONE);
    assert_int_equal(r.code, 334);
    assert_string_equal(r.text, "");
}

static void
test_enhanced_code(void **state)
{
    (void)state;
    struct mh_reply r;
    mh_reply_init(&r);
    assert_int_equal(
        feed(&r, "554 5.7.1 <x@foreign.test>: Relay access denied"),
        MH_REPLY_DONE);
    assert_string_equal(r.enhanced, "5.7.1");
    assert_string_equal(r.text, "<x@foreign.test>: Relay access denied");
    char buf[200];
    assert_string_equal(mh_reply_format(&r, buf, sizeof buf),
                        "554 5.7.1 <x@foreign.test>: Relay access denied");
    /* A class that does not match the reply code is not an enhanced code. */
    mh_reply_init(&r);
    feed(&r, "250 5.0.0 odd");
    assert_string_equal(r.enhanced, "");
    /* Subject and detail of up to three digits (RFC 3463). */
    mh_reply_init(&r);
    feed(&r, "530 5.7.57 SMTP; Client was not authenticated");
    assert_string_equal(r.enhanced, "5.7.57");
    mh_reply_init(&r);
    feed(&r, "550 5.1.1234 too long");
    assert_string_equal(r.enhanced, "");
}

static void
test_inconsistent_codes(void **state)
{
    (void)state;
    struct mh_reply r;
    mh_reply_init(&r);
    feed(&r, "250-a");
    assert_int_equal(feed(&r, "251 b"), MH_REPLY_DONE);
    assert_int_equal(r.code, 251);
    assert_true(r.inconsistent);
}

static void
test_invalid_lines(void **state)
{
    (void)state;
    static const char *const bad[] = {
        " 220 x",  "22",      "abc def",
        "620 six", "199 low", "2a0 x",
        "220x",    "2201",    "260 bad second digit"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mh_reply r;
        mh_reply_init(&r);
        assert_int_equal(feed(&r, bad[i]), MH_REPLY_BAD);
        assert_true(r.error[0] != '\0');
    }
    /* An empty or blank line is skipped and changes nothing. */
    static const char *const blank[] = {"", " ", "\t", "  \t "};
    for (size_t i = 0; i < sizeof blank / sizeof blank[0]; i++) {
        struct mh_reply r;
        mh_reply_init(&r);
        assert_int_equal(feed(&r, "220-mx.example.com"), MH_REPLY_MORE);
        assert_int_equal(feed(&r, blank[i]), MH_REPLY_SKIPPED);
        assert_int_equal(r.nlines, 1);
        assert_string_equal(r.error, "");
        assert_int_equal(feed(&r, "220 ESMTP"), MH_REPLY_DONE);
        assert_string_equal(r.text, "mx.example.com\nESMTP");
    }
    /* After the last line nothing more is accepted. */
    struct mh_reply r;
    mh_reply_init(&r);
    feed(&r, "250 ok");
    assert_int_equal(feed(&r, "250 again"), MH_REPLY_BAD);
}

/* Endless continuation lines end as a protocol error, not a hang. */
static void
test_too_many_lines(void **state)
{
    (void)state;
    struct mh_reply r;
    mh_reply_init(&r);
    enum mh_reply_status st = MH_REPLY_MORE;
    int i;
    for (i = 0; i < 1000 && st == MH_REPLY_MORE; i++) {
        st = feed(&r, "250-x");
    }
    assert_int_equal(st, MH_REPLY_BAD);
    assert_int_equal(i, MH_REPLY_MAX_LINES + 1);
}

/* Non-printable bytes are escaped; NUL inside a line is kept escaped. */
static void
test_hostile_text(void **state)
{
    (void)state;
    struct mh_reply r;
    mh_reply_init(&r);
    const char line[] = "220 a\x01|b\xff";
    assert_int_equal(mh_reply_feed(&r, line, sizeof line - 1), MH_REPLY_DONE);
    assert_string_equal(r.text, "a\\x01|b\\xff");
    mh_reply_init(&r);
    const char withnul[] = "220 a\0b";
    assert_int_equal(mh_reply_feed(&r, withnul, sizeof withnul - 1),
                     MH_REPLY_DONE);
    assert_string_equal(r.text, "a\\x00b");
}

static void
parse_caps(const char *const *lines, size_t n, struct mh_ehlo_caps *caps)
{
    struct mh_reply r;
    mh_reply_init(&r);
    for (size_t i = 0; i < n; i++) {
        feed(&r, lines[i]);
    }
    assert_true(r.complete);
    mh_ehlo_parse(&r, caps);
}

/* BR-10: STARTTLS on the last line; keywords case-insensitive. */
static void
test_ehlo_caps(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "250-mx.example.com Hello probe.example.net [192.0.2.10]",
        "250-SIZE 69920427",
        "250-auth LOGIN plain",
        "250-PIPELINING",
        "250-8bitmime",
        "250-SMTPUTF8",
        "250-ENHANCEDSTATUSCODES",
        "250-CHUNKING",
        "250 STARTTLS"};
    struct mh_ehlo_caps caps;
    parse_caps(lines, sizeof lines / sizeof lines[0], &caps);
    assert_true(caps.ext & MH_EXT_STARTTLS);
    assert_true(caps.ext & MH_EXT_AUTH);
    assert_true(caps.ext & MH_EXT_SIZE);
    assert_true(caps.ext & MH_EXT_PIPELINING);
    assert_true(caps.ext & MH_EXT_8BITMIME);
    assert_true(caps.ext & MH_EXT_SMTPUTF8);
    assert_true(caps.ext & MH_EXT_ENHANCEDSTATUSCODES);
    assert_true(caps.ext & MH_EXT_CHUNKING);
    assert_int_equal(caps.size, 69920427);
    assert_int_equal(caps.mechs, MH_MECH_LOGIN | MH_MECH_PLAIN);
    assert_string_equal(caps.mech_list, "LOGIN PLAIN");
}

static void
test_ehlo_caps_edge(void **state)
{
    (void)state;
    /* The domain line is never a capability; old AUTH= form; a word that
     * only starts like a keyword is not that keyword. */
    static const char *const lines[] = {
        "250-STARTTLS.example.com", "250-AUTH=CRAM-MD5 LOGIN", "250 STARTTLSX"};
    struct mh_ehlo_caps caps;
    parse_caps(lines, 3, &caps);
    assert_false(caps.ext & MH_EXT_STARTTLS);
    assert_int_equal(caps.mechs, MH_MECH_CRAM_MD5 | MH_MECH_LOGIN);
    /* A single-line EHLO reply has no capabilities. */
    static const char *const one[] = {"250 mx.example.com"};
    parse_caps(one, 1, &caps);
    assert_int_equal(caps.ext, 0);
}

static void
classify(enum mh_phase ph, int code, const char *enh, const char *text,
         enum mh_state want_state, enum mh_reason want_reason)
{
    enum mh_state st;
    enum mh_reason reason;
    mh_reply_classify(ph, code, enh, text, &st, &reason);
    assert_int_equal(st, want_state);
    if (reason != want_reason) {
        fail_msg("%d %s %s: got %s, wanted %s", code, enh, text,
                 mh_reason_name(reason), mh_reason_name(want_reason));
    }
}

static void
test_classify(void **state)
{
    (void)state;
    const enum mh_state W = MH_STATE_WARNING, C = MH_STATE_CRITICAL;
    classify(MH_PHASE_RCPT, 250, "", "ok", MH_STATE_OK, MH_REASON_NONE);
    classify(MH_PHASE_BANNER, 421, "4.7.0", "too many connections", W,
             MH_REASON_TOO_MANY_CONNECTIONS);
    classify(MH_PHASE_BANNER, 554, "", "No SMTP service", C,
             MH_REASON_SERVICE_UNAVAILABLE);
    classify(MH_PHASE_BANNER, 554, "5.7.1",
             "Service unavailable; Client host [192.0.2.1] blocked using "
             "zen.spamhaus.org",
             C, MH_REASON_PROVIDER_BLOCK);
    /* The phase decides first. */
    classify(MH_PHASE_AUTH, 535, "5.7.8", "authentication failed", C,
             MH_REASON_AUTH_FAILED);
    classify(MH_PHASE_AUTH, 454, "4.7.0", "Temporary authentication failure", W,
             MH_REASON_AUTH_TEMPORARY);
    classify(MH_PHASE_STARTTLS, 454, "4.7.0", "TLS not available", W,
             MH_REASON_STARTTLS_REFUSED);
    /* Then the enhanced code. */
    classify(MH_PHASE_MAIL, 530, "5.7.57",
             "SMTP; Client was not authenticated to send anonymous mail", C,
             MH_REASON_AUTH_REQUIRED);
    classify(MH_PHASE_MAIL, 530, "", "Authentication required", C,
             MH_REASON_AUTH_REQUIRED);
    classify(MH_PHASE_MAIL, 530, "5.7.0", "Must issue a STARTTLS command first",
             C, MH_REASON_TLS_REQUIRED);
    /* Then the text. */
    classify(MH_PHASE_RCPT, 554, "5.7.1",
             "<x@foreign.test>: Relay access denied", C,
             MH_REASON_RELAY_DENIED);
    classify(MH_PHASE_RCPT, 454, "4.7.1", "Relay access denied", C,
             MH_REASON_RELAY_DENIED);
    classify(MH_PHASE_RCPT, 550, "", "relaying denied", C,
             MH_REASON_RELAY_DENIED);
    classify(MH_PHASE_RCPT, 550, "5.1.1", "User unknown; not listed", C,
             MH_REASON_USER_UNKNOWN);
    classify(MH_PHASE_RCPT, 452, "4.2.2", "Mailbox full", W,
             MH_REASON_MAILBOX_FULL);
    classify(MH_PHASE_EHLO, 501, "5.5.2", "Syntax error", C,
             MH_REASON_COMMAND_REJECTED);
    /* The table's fallback rows. */
    classify(MH_PHASE_RCPT, 450, "", "no", W, MH_REASON_TRANSIENT_FAILURE);
    classify(MH_PHASE_RCPT, 550, "", "no", C, MH_REASON_PERMANENT_FAILURE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_line),
        cmocka_unit_test(test_multiline),
        cmocka_unit_test(test_code_only),
        cmocka_unit_test(test_enhanced_code),
        cmocka_unit_test(test_inconsistent_codes),
        cmocka_unit_test(test_invalid_lines),
        cmocka_unit_test(test_too_many_lines),
        cmocka_unit_test(test_hostile_text),
        cmocka_unit_test(test_ehlo_caps),
        cmocka_unit_test(test_ehlo_caps_edge),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
