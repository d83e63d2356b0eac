/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the SMTP dialogue (probes/smtp.c) against scripted servers
 * behind the transport seam (tests/support/fake_transport.c). The field
 * cases of tests/field-cases.md are named where they apply; the
 * integration tests replay them against the real fault server too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_transport.h"
#include "reports.h"
#include "result.h"
#include "smtp.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct run {
    struct mh_result *r;
    char written[4096];
    int writes;
};

static void
run_dialogue(const struct fake_step *steps, size_t n, size_t chunk,
             enum mh_io at_end, const struct mh_smtp_params *p, struct run *out)
{
    struct mh_deadline dl;
    mh_deadline_start(&dl, 5);
    struct mh_transport *t = fake_transport_new(steps, n, chunk, at_end);
    assert_non_null(t);
    out->r = mh_result_new("smtp", "mx.example.com:25");
    assert_non_null(out->r);
    struct mh_smtp_report rep;
    mh_smtp_dialogue(t, p, &dl, "mx.example.com[192.0.2.10]:25", &rep);
    mh_smtp_dialogue_render(&rep, "mx.example.com[192.0.2.10]:25", out->r);
    mh_smtp_report_clear(&rep);
    mh_result_finish(out->r);
    snprintf(out->written, sizeof out->written, "%s",
             fake_transport_written(t));
    out->writes = fake_transport_writes(t);
    mh_transport_free(t);
}

static struct mh_smtp_params
base_params(void)
{
    struct mh_smtp_params p;
    memset(&p, 0, sizeof p);
    p.host = "mx.example.com";
    p.port = 25;
    p.ehlo_name = "probe.example.net";
    return p;
}

static bool
has_item_text(const struct mh_result *r, const char *needle)
{
    for (size_t i = 0; i < r->nitems; i++) {
        if (strstr(r->items[i].text, needle) != NULL) {
            return true;
        }
    }
    return false;
}

/* BR-01: the greeting arrives one byte at a time over three lines; the probe
 * sends nothing before the last line and joins the lines. */
static void
test_multiline_greeting_dripped(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220-mx.example.com ESMTP\r\n220-Unsolicited bulk mail is not "
         "accepted on this system,\r\n220 see https://postmaster.example.com/ "
         "for policy.\r\n",
         0},
        {"250-mx.example.com\r\n250 8BITMIME\r\n", 1},
        {"221 2.0.0 Bye\r\n", 2},
    };
    struct mh_smtp_params p = base_params();
    struct run run;
    run_dialogue(steps, N(steps), 1, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_OK);
    assert_string_equal(run.written, "EHLO probe.example.net\r\nQUIT\r\n");
    assert_true(has_item_text(run.r, "220 mx.example.com ESMTP; Unsolicited "
                                     "bulk mail"));
    mh_result_free(run.r);
}

/* BR-02: one command per write, never pipelined even with PIPELINING. */
static void
test_one_command_per_round_trip(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250-mx.example.com\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", 1},
        {"250 2.1.0 Ok\r\n", 2},
        {"250 2.1.5 Ok\r\n", 3},
        {"250 2.0.0 Ok\r\n", 4},
        {"221 2.0.0 Bye\r\n", 5},
    };
    struct mh_smtp_params p = base_params();
    p.mail_from = "probe@example.net";
    const char *rcpt[] = {"postmaster@example.com"};
    p.rcpt_to = rcpt;
    p.nrcpt = 1;
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_OK);
    assert_int_equal(run.writes, 5);
    assert_string_equal(run.written, "EHLO probe.example.net\r\n"
                                     "MAIL FROM:<probe@example.net>\r\n"
                                     "RCPT TO:<postmaster@example.com>\r\n"
                                     "RSET\r\nQUIT\r\n");
    mh_result_free(run.r);
}

/* BR-04 A: 554 multi-line greeting: CRITICAL/response, joined text, no
 * EHLO. */
static void
test_greeting_554(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"554-mx.example.com Service not available\r\n554-No SMTP "
         "service\r\n554 See https://postmaster.example.com/\r\n",
         0},
    };
    struct mh_smtp_params p = base_params();
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_TIMEOUT, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->category, MH_CAT_RESPONSE);
    assert_non_null(strstr(run.r->summary,
                           "greeting 554 mx.example.com Service not "
                           "available; No SMTP service; See"));
    assert_null(strstr(run.written, "EHLO"));
    mh_result_free(run.r);
}

/* A 554 greeting that names a blocklist is a blacklist finding. */
static void
test_greeting_554_blocklist(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked "
         "using zen.spamhaus.org\r\n",
         0},
    };
    struct mh_smtp_params p = base_params();
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->category, MH_CAT_BLACKLIST);
    mh_result_free(run.r);
}

/* BR-05: 421 greeting: WARNING/response with the server's text. */
static void
test_greeting_421(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"421 4.7.0 mx.example.com Error: too many connections from "
         "192.0.2.10\r\n",
         0},
    };
    struct mh_smtp_params p = base_params();
    p.tls_mode = MH_TLS_STARTTLS;
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_WARNING);
    assert_int_equal(run.r->category, MH_CAT_RESPONSE);
    assert_non_null(strstr(run.r->summary, "greeting 421 4.7.0"));
    assert_non_null(strstr(run.r->summary, "too many connections"));
    assert_null(strstr(run.written, "EHLO"));
    assert_null(strstr(run.written, "STARTTLS"));
    mh_result_free(run.r);
}

/* BR-06: an expected non-220 greeting is OK; otherwise CRITICAL. */
static void
test_expected_greeting(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"521 5.3.2 mx-old.example.com does not accept mail\r\n", 0},
    };
    struct mh_smtp_params p = base_params();
    p.expect_greeting = 521;
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_OK);
    assert_non_null(strstr(run.r->summary, "greeting 521 as expected"));
    assert_null(strstr(run.written, "EHLO"));
    mh_result_free(run.r);

    p.expect_greeting = 0;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->category, MH_CAT_RESPONSE);
    assert_null(strstr(run.r->summary, "recv"));
    mh_result_free(run.r);
}

/* BR-07: EHLO 502/500 -> HELO; with STARTTLS required -> CRITICAL/tls. */
static void
test_helo_fallback(void **state)
{
    (void)state;
    static const char *const rejects[] = {
        "502 5.5.2 Error: command not recognized\r\n",
        "500 Command unrecognized\r\n"};
    for (size_t i = 0; i < N(rejects); i++) {
        const struct fake_step steps[] = {
            {"220 legacy.example.com SMTP ready\r\n", 0},
            {rejects[i], 1},
            {"250 legacy.example.com\r\n", 2},
            {"221 Bye\r\n", 3},
        };
        struct mh_smtp_params p = base_params();
        struct run run;
        run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
        assert_int_equal(run.r->state, MH_STATE_OK);
        assert_string_equal(run.written, "EHLO probe.example.net\r\nHELO "
                                         "probe.example.net\r\nQUIT\r\n");
        assert_true(has_item_text(run.r, "HELO accepted (server does not "
                                         "support ESMTP"));
        mh_result_free(run.r);

        p.tls_mode = MH_TLS_STARTTLS;
        run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
        assert_int_equal(run.r->state, MH_STATE_CRITICAL);
        assert_int_equal(run.r->category, MH_CAT_TLS);
        assert_non_null(strstr(run.r->summary,
                               "STARTTLS unavailable: server rejected EHLO"));
        mh_result_free(run.r);
    }
}

/* Never HELO after a 4xx to EHLO. */
static void
test_no_helo_after_4xx(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"421 4.3.2 Service shutting down\r\n", 1},
    };
    struct mh_smtp_params p = base_params();
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_WARNING);
    assert_int_equal(run.r->category, MH_CAT_RESPONSE);
    assert_null(strstr(run.written, "HELO probe"));
    mh_result_free(run.r);
}

/* BR-21 / BR-10: STARTTLS missing is reported at once without sending it;
 * STARTTLS on the last line is found. */
static void
test_starttls_not_advertised(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250-mx.example.com\r\n250 8BITMIME\r\n", 1},
        {"221 Bye\r\n", 2},
    };
    struct mh_smtp_params p = base_params();
    p.tls_mode = MH_TLS_STARTTLS;
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_TIMEOUT, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->category, MH_CAT_TLS);
    assert_non_null(strstr(run.r->summary, "STARTTLS not advertised by "
                                           "mx.example.com"));
    assert_null(strstr(run.written, "STARTTLS"));
    mh_result_free(run.r);

    p.starttls_optional = true;
    run_dialogue(steps, N(steps), 0, MH_IO_TIMEOUT, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_WARNING);
    assert_int_equal(run.r->category, MH_CAT_TLS);
    mh_result_free(run.r);
}

static void
test_starttls_last_line_then_handshake(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250-mx.example.com Hello probe.example.net [192.0.2.10]\r\n250-SIZE "
         "69920427\r\n250-AUTH LOGIN PLAIN\r\n250 STARTTLS\r\n",
         1},
        {"220 OK\r\n", 2},
    };
    struct mh_smtp_params p = base_params();
    p.tls_mode = MH_TLS_STARTTLS;
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    /* The fake transport cannot do TLS: the handshake fails, which proves
     * STARTTLS was sent and answered 220; the failure is tls, not auth, and
     * does not blame the 220 (BR-26). */
    assert_string_equal(run.written, "EHLO probe.example.net\r\nSTARTTLS\r\n");
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->category, MH_CAT_TLS);
    assert_non_null(strstr(run.r->summary, "fake: TLS handshake failed"));
    mh_result_free(run.r);
}

/* BR-26 D: 454 to STARTTLS: CRITICAL/tls at once; WARNING when optional. */
static void
test_starttls_454(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250-mx.example.com\r\n250 STARTTLS\r\n", 1},
        {"454 4.7.0 TLS not available due to local problem\r\n", 2},
        {"221 Bye\r\n", 3},
    };
    struct mh_smtp_params p = base_params();
    p.tls_mode = MH_TLS_STARTTLS;
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_TIMEOUT, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->category, MH_CAT_TLS);
    assert_non_null(strstr(run.r->summary,
                           "STARTTLS refused: 454 4.7.0 TLS not available"));
    mh_result_free(run.r);
    p.starttls_optional = true;
    run_dialogue(steps, N(steps), 0, MH_IO_TIMEOUT, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_WARNING);
    assert_int_equal(run.r->category, MH_CAT_TLS);
    mh_result_free(run.r);
}

/* BR-14: MAIL FROM 530 5.7.57 -> CRITICAL/auth, message keeps the 530 even
 * when QUIT gets no answer. */
static void
test_mail_from_530(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com Microsoft ESMTP MAIL Service ready\r\n", 0},
        {"250-mx.example.com Hello [192.0.2.10]\r\n250-AUTH GSSAPI NTLM "
         "LOGIN\r\n250 8BITMIME\r\n",
         1},
        {"530 5.7.57 SMTP; Client was not authenticated to send anonymous "
         "mail during MAIL FROM\r\n",
         2},
    };
    struct mh_smtp_params p = base_params();
    p.mail_from = "probe@example.com";
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->category, MH_CAT_AUTH);
    assert_non_null(strstr(run.r->summary,
                           "MAIL FROM rejected: 530 5.7.57 SMTP; Client was "
                           "not authenticated"));
    mh_result_free(run.r);
}

/* RCPT: relay denial for a recipient that must be accepted -> relay; the
 * relay test refused -> OK; accepted -> CRITICAL/relay "open relay". */
static void
test_relay(void **state)
{
    (void)state;
    const struct fake_step denied[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250 mx.example.com\r\n", 1},
        {"250 2.1.0 Ok\r\n", 2},
        {"554 5.7.1 <a@foreign.test>: Relay access denied\r\n", 3},
        {"250 2.0.0 Ok\r\n", 4},
        {"221 Bye\r\n", 5},
    };
    struct mh_smtp_params p = base_params();
    p.mail_from = "";
    const char *rcpt[] = {"a@foreign.test"};
    p.rcpt_to = rcpt;
    p.nrcpt = 1;
    struct run run;
    run_dialogue(denied, N(denied), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->category, MH_CAT_RELAY);
    assert_non_null(strstr(run.r->summary,
                           "mx.example.com[192.0.2.10]:25 RCPT TO:<a@foreign."
                           "test> rejected: 554 5.7.1 <a@foreign.test>: Relay "
                           "access denied"));
    mh_result_free(run.r);

    /* The same reply to the relay test is the good outcome. */
    p.rcpt_to = NULL;
    p.nrcpt = 0;
    p.relay_test = "a@foreign.test";
    run_dialogue(denied, N(denied), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_OK);
    assert_true(has_item_text(run.r, "refused as it must be"));
    mh_result_free(run.r);

    const struct fake_step open[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250 mx.example.com\r\n", 1},
        {"250 2.1.0 Ok\r\n", 2},
        {"250 2.1.5 Ok\r\n", 3},
        {"250 2.0.0 Ok\r\n", 4},
        {"221 Bye\r\n", 5},
    };
    run_dialogue(open, N(open), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->category, MH_CAT_RELAY);
    assert_non_null(strstr(run.r->summary, "open relay"));
    mh_result_free(run.r);
}

/* The string attribute key of the first item named name, or NULL. */
static const char *
item_attr(const struct mh_result *r, const char *name, const char *key)
{
    for (size_t i = 0; i < r->nitems; i++) {
        if (strcmp(r->items[i].name, name) != 0) {
            continue;
        }
        for (size_t a = 0; a < r->items[i].nattrs; a++) {
            if (strcmp(r->items[i].attrs[a].key, key) == 0) {
                return r->items[i].attrs[a].str;
            }
        }
    }
    return NULL;
}

/* An empty line after the greeting (and a blank one later) is skipped: a
 * WARNING protocol_violation, and every later reply is still read as the
 * answer to its own command (RFC 5321 4.2). */
static void
test_empty_line_after_greeting(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\r\n\r\n", 0},
        {"250-mx.example.com\r\n250 8BITMIME\r\n", 1},
        {"250 2.1.0 Ok\r\n", 2},
        {" \t\r\n550 5.1.1 <nobody@example.com>: User unknown\r\n", 3},
        {"250 2.0.0 Ok\r\n", 4},
        {"221 2.0.0 Bye\r\n", 5},
    };
    struct mh_smtp_params p = base_params();
    p.mail_from = "probe@example.net";
    const char *rcpt[] = {"nobody@example.com"};
    p.rcpt_to = rcpt;
    p.nrcpt = 1;
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->reason, MH_REASON_USER_UNKNOWN);
    assert_non_null(strstr(run.r->summary, "550 5.1.1"));
    assert_true(has_item_text(run.r, "empty line in the EHLO reply"));
    assert_string_equal(item_attr(run.r, "rcpt", "rule"), "user_unknown_code");
    assert_string_equal(run.written, "EHLO probe.example.net\r\n"
                                     "MAIL FROM:<probe@example.net>\r\n"
                                     "RCPT TO:<nobody@example.com>\r\n"
                                     "RSET\r\nQUIT\r\n");
    mh_result_free(run.r);

    /* Alone it is a WARNING, the dialogue otherwise fine. */
    const struct fake_step ok[] = {
        {"220 mx.example.com ESMTP\r\n\r\n", 0},
        {"250 mx.example.com\r\n", 1},
        {"221 2.0.0 Bye\r\n", 2},
    };
    struct mh_smtp_params q = base_params();
    run_dialogue(ok, N(ok), 0, MH_IO_EOF, &q, &run);
    assert_int_equal(run.r->state, MH_STATE_WARNING);
    assert_int_equal(run.r->reason, MH_REASON_PROTOCOL_VIOLATION);
    assert_int_equal(run.r->category, MH_CAT_RESPONSE);
    assert_string_equal(run.written, "EHLO probe.example.net\r\nQUIT\r\n");
    mh_result_free(run.r);
}

/* Code-only reply lines are replies (RFC 5321 4.2: the text is optional). */
static void
test_code_only_lines(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220\r\n", 0}, {"250-mx\r\n250\r\n", 1}, {"250\r\n", 2},
        {"451\r\n", 3}, {"250\r\n", 4},           {"221\r\n", 5},
    };
    struct mh_smtp_params p = base_params();
    p.mail_from = "probe@example.net";
    const char *rcpt[] = {"a@example.com"};
    p.rcpt_to = rcpt;
    p.nrcpt = 1;
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_WARNING);
    assert_int_equal(run.r->reason, MH_REASON_SERVER_ERROR);
    assert_string_equal(item_attr(run.r, "rcpt", "rule"), "local_error_451");
    mh_result_free(run.r);
}

/* A greylisting RCPT reply: WARNING/response greylisted, never blacklist
 * ("listed" inside "Greylisted"), the rule named on the item. */
static void
test_rcpt_greylisted(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250 mx.example.com\r\n", 1},
        {"250 2.1.0 Ok\r\n", 2},
        {"450 4.7.1 <user@example.test>: Recipient address rejected: "
         "Greylisted, try again\r\n",
         3},
        {"250 2.0.0 Ok\r\n", 4},
        {"221 2.0.0 Bye\r\n", 5},
    };
    struct mh_smtp_params p = base_params();
    p.mail_from = "probe@example.net";
    const char *rcpt[] = {"user@example.test"};
    p.rcpt_to = rcpt;
    p.nrcpt = 1;
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_WARNING);
    assert_int_equal(run.r->category, MH_CAT_RESPONSE);
    assert_int_equal(run.r->reason, MH_REASON_GREYLISTED);
    assert_string_equal(item_attr(run.r, "rcpt", "rule"), "greylisted");
    mh_result_free(run.r);
}

/* AUTH is never sent over plaintext unless allowed. */
static void
test_auth_plaintext_refused(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250-mx.example.com\r\n250 AUTH PLAIN LOGIN\r\n", 1},
        {"221 Bye\r\n", 2},
    };
    struct mh_smtp_params p = base_params();
    p.auth_user = "probe";
    p.auth_password = "secret";
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->category, MH_CAT_AUTH);
    assert_null(strstr(run.written, "AUTH"));
    assert_non_null(strstr(run.r->summary, "plaintext"));
    mh_result_free(run.r);
}

/* PLAIN with initial response (RFC 4616: \0user\0pass). */
static void
test_auth_plain(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250-mx.example.com\r\n250 AUTH CRAM-MD5 PLAIN LOGIN\r\n", 1},
        {"235 2.7.0 Authentication successful\r\n", 2},
        {"221 Bye\r\n", 3},
    };
    struct mh_smtp_params p = base_params();
    p.auth_user = "probe";
    p.auth_password = "secret";
    p.auth_mech = MH_MECH_PLAIN;
    p.allow_plaintext_auth = true;
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_OK);
    /* base64("\0probe\0secret") */
    assert_non_null(strstr(run.written, "AUTH PLAIN AHByb2JlAHNlY3JldA==\r\n"));
    mh_result_free(run.r);
}

/* BR-17: LOGIN challenges in any case, no initial response. */
static void
test_auth_login_lowercase(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 smtp.example.com ESMTP\r\n", 0},
        {"250-smtp.example.com\r\n250 AUTH LOGIN\r\n", 1},
        {"334 dXNlcm5hbWU6\r\n", 2},
        {"334 cGFzc3dvcmQ6\r\n", 3},
        {"235 2.7.0 Authentication successful\r\n", 4},
        {"221 Bye\r\n", 5},
    };
    struct mh_smtp_params p = base_params();
    p.auth_user = "probe";
    p.auth_password = "secret";
    p.allow_plaintext_auth = true;
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_OK);
    assert_string_equal(run.written, "EHLO probe.example.net\r\nAUTH LOGIN\r\n"
                                     "cHJvYmU=\r\nc2VjcmV0\r\nQUIT\r\n");
    mh_result_free(run.r);
}

/* CRAM-MD5 with the example of RFC 2195 section 2. */
static void
test_auth_cram_md5_rfc2195(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250-mx.example.com\r\n250 AUTH CRAM-MD5\r\n", 1},
        {"334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n", 2},
        {"235 2.7.0 Authentication successful\r\n", 3},
        {"221 Bye\r\n", 4},
    };
    struct mh_smtp_params p = base_params();
    p.auth_user = "tim";
    p.auth_password = "tanstaaftanstaaf";
    p.allow_plaintext_auth = true;
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_OK);
    /* RFC 2195: "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw" */
    assert_non_null(strstr(run.written,
                           "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"));
    mh_result_free(run.r);
}

/* BR-18: 535 -> CRITICAL/auth, 454 -> WARNING/auth, one attempt only. */
static void
test_auth_failures(void **state)
{
    (void)state;
    static const struct {
        const char *reply;
        enum mh_state st;
        const char *text;
    } cases[] = {
        {"535 5.7.8 Error: authentication failed: authentication failure\r\n",
         MH_STATE_CRITICAL, "credentials rejected (535 5.7.8"},
        {"454 4.7.0 Temporary authentication failure: Connection lost to "
         "authentication server\r\n",
         MH_STATE_WARNING,
         "temporary authentication failure on server side "
         "(454 4.7.0"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        const struct fake_step steps[] = {
            {"220 smtp.example.com ESMTP\r\n", 0},
            {"250-smtp.example.com\r\n250 AUTH CRAM-MD5 PLAIN LOGIN\r\n", 1},
            {cases[i].reply, 2},
            {"221 Bye\r\n", 3},
        };
        struct mh_smtp_params p = base_params();
        p.auth_user = "probe";
        p.auth_password = "secret";
        p.auth_mech = MH_MECH_PLAIN;
        p.allow_plaintext_auth = true;
        struct run run;
        run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
        assert_int_equal(run.r->state, cases[i].st);
        assert_int_equal(run.r->category, MH_CAT_AUTH);
        assert_non_null(strstr(run.r->summary, cases[i].text));
        /* Exactly one AUTH command. */
        const char *first = strstr(run.written, "AUTH");
        assert_non_null(first);
        assert_null(strstr(first + 4, "AUTH"));
        mh_result_free(run.r);
    }
}

/* BR-28: the server drops the connection after EHLO: still OK, with a note. */
static void
test_close_before_quit(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250 mx.example.com\r\n", 1},
    };
    struct mh_smtp_params p = base_params();
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_OK);
    assert_true(has_item_text(run.r, "closed the connection before answering "
                                     "QUIT"));
    mh_result_free(run.r);
}

/* Silence: timeout category naming the phase and the bytes received. */
static void
test_timeout_after_ehlo(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250-mx.exa", 1},
    };
    struct mh_smtp_params p = base_params();
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_TIMEOUT, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->category, MH_CAT_TIMEOUT);
    assert_non_null(strstr(run.r->summary, "timeout after 5 s waiting for "
                                           "EHLO reply, 10 bytes received"));
    mh_result_free(run.r);
}

/* EOF before any byte -> connection. */
static void
test_closed_before_greeting(void **state)
{
    (void)state;
    struct mh_smtp_params p = base_params();
    struct run run;
    run_dialogue(NULL, 0, 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->category, MH_CAT_CONNECTION);
    assert_non_null(strstr(run.r->summary, "closed the connection before the "
                                           "greeting"));
    assert_int_equal(run.writes, 0);
    mh_result_free(run.r);
}

/* Over-long reply line (> RFC 5321 limit): protocol error, no crash. */
static void
test_overlong_line(void **state)
{
    (void)state;
    static char big[3000];
    memcpy(big, "220 ", 4);
    memset(big + 4, 'x', 2000);
    memcpy(big + 2004, "\r\n", 3);
    const struct fake_step steps[] = {{big, 0}};
    struct mh_smtp_params p = base_params();
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->category, MH_CAT_RESPONSE);
    assert_non_null(strstr(run.r->summary, "longer than"));
    assert_int_equal(run.writes, 0);
    mh_result_free(run.r);
}

/* Bare LF line ends and code-only lines are read. */
static void
test_bare_lf_and_code_only(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\n", 0},
        {"250-mx.example.com\n250\n", 1},
        {"221\n", 2},
    };
    struct mh_smtp_params p = base_params();
    struct run run;
    run_dialogue(steps, N(steps), 3, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_OK);
    mh_result_free(run.r);
}

/* Garbage instead of a greeting: CRITICAL/response, nothing sent. */
static void
test_garbage_greeting(void **state)
{
    (void)state;
    const struct fake_step steps[] = {{"\x16\x03\x01\x02\xffgarbage\r\n", 0}};
    struct mh_smtp_params p = base_params();
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    assert_int_equal(run.r->category, MH_CAT_RESPONSE);
    assert_non_null(strstr(run.r->summary, "\\x16\\x03"));
    assert_int_equal(run.writes, 0);
    mh_result_free(run.r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multiline_greeting_dripped),
        cmocka_unit_test(test_one_command_per_round_trip),
        cmocka_unit_test(test_greeting_554),
        cmocka_unit_test(test_greeting_554_blocklist),
        cmocka_unit_test(test_greeting_421),
        cmocka_unit_test(test_expected_greeting),
        cmocka_unit_test(test_helo_fallback),
        cmocka_unit_test(test_no_helo_after_4xx),
        cmocka_unit_test(test_starttls_not_advertised),
        cmocka_unit_test(test_starttls_last_line_then_handshake),
        cmocka_unit_test(test_starttls_454),
        cmocka_unit_test(test_mail_from_530),
        cmocka_unit_test(test_relay),
        cmocka_unit_test(test_empty_line_after_greeting),
        cmocka_unit_test(test_code_only_lines),
        cmocka_unit_test(test_rcpt_greylisted),
        cmocka_unit_test(test_auth_plaintext_refused),
        cmocka_unit_test(test_auth_plain),
        cmocka_unit_test(test_auth_login_lowercase),
        cmocka_unit_test(test_auth_cram_md5_rfc2195),
        cmocka_unit_test(test_auth_failures),
        cmocka_unit_test(test_close_before_quit),
        cmocka_unit_test(test_timeout_after_ehlo),
        cmocka_unit_test(test_closed_before_greeting),
        cmocka_unit_test(test_overlong_line),
        cmocka_unit_test(test_bare_lf_and_code_only),
        cmocka_unit_test(test_garbage_greeting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
