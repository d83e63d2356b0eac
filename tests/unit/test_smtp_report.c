/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the SMTP probe's report (probes/smtp.h: struct
 * mh_smtp_report) and its rendering (plugin/report_smtp.c): the failure
 * record follows mh_result_raise's rule, events render in dialogue order
 * with the facts they carry, the phase metrics and the summary of a check
 * that went well. Reports are built here by hand; no network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "reports.h"
#include "result.h"
#include "smtp.h"

static const char *
attr_str(const struct mh_item *it, const char *key)
{
    for (size_t i = 0; i < it->nattrs; i++) {
        if (strcmp(it->attrs[i].key, key) == 0) {
            return it->attrs[i].str;
        }
    }
    return NULL;
}

static const struct mh_attr *
attr(const struct mh_item *it, const char *key)
{
    for (size_t i = 0; i < it->nattrs; i++) {
        if (strcmp(it->attrs[i].key, key) == 0) {
            return &it->attrs[i];
        }
    }
    return NULL;
}

/* A number attribute's value (fails the test when missing). */
static double
attr_num(const struct mh_item *it, const char *key)
{
    const struct mh_attr *a = attr(it, key);
    assert_non_null(a);
    return a != NULL ? a->num : -1;
}

/* The failure record: the first of the worst, as mh_result_raise. */
static void
test_failure_record(void **state)
{
    (void)state;
    struct mh_smtp_report rep;
    memset(&rep, 0, sizeof rep);
    rep.at.phase = "banner";
    rep.at.code = 450;
    snprintf(rep.at.enhanced, sizeof rep.at.enhanced, "4.2.0");
    rep.at.rule = "greylisted";
    rep.at.reply = "450 4.2.0 try later";
    mh_smtp_report_add(&rep, MH_SMTP_EV_FAIL, NULL, MH_STATE_WARNING,
                       MH_REASON_PROTOCOL_VIOLATION, "first %s", "warning");
    mh_smtp_report_add(&rep, MH_SMTP_EV_FAIL, NULL, MH_STATE_WARNING,
                       MH_REASON_GREYLISTED, "second warning");
    assert_int_equal(rep.failure.state, MH_STATE_WARNING);
    assert_string_equal(rep.failure.cause, "first warning");
    assert_string_equal(rep.failure.phase, "banner");
    assert_int_equal(rep.failure.code, 450);
    assert_string_equal(rep.failure.enhanced, "4.2.0");
    assert_string_equal(rep.failure.rule, "greylisted");
    assert_string_equal(rep.failure.reply, "450 4.2.0 try later");

    rep.at.phase = "ehlo";
    rep.at.code = 554;
    rep.at.enhanced[0] = '\0';
    rep.at.rule = NULL;
    rep.at.reply = NULL;
    mh_smtp_report_add(&rep, MH_SMTP_EV_FAIL, NULL, MH_STATE_CRITICAL,
                       MH_REASON_CONNECTION_CLOSED, "lost");
    assert_int_equal(rep.failure.state, MH_STATE_CRITICAL);
    assert_string_equal(rep.failure.cause, "lost");
    assert_string_equal(rep.failure.phase, "ehlo");
    assert_int_equal(rep.failure.code, 554);
    assert_null(rep.failure.rule);
    assert_string_equal(rep.failure.reply, "");

    /* A later fact changes the reason, not the cause. */
    mh_smtp_report_event(&rep, MH_SMTP_EV_OVERRIDE, NULL, MH_STATE_CRITICAL,
                         MH_REASON_STARTTLS_REFUSED, NULL);
    assert_int_equal(rep.failure.reason, MH_REASON_STARTTLS_REFUSED);
    assert_string_equal(rep.failure.cause, "lost");
    assert_int_equal(rep.nev, 4);
    mh_smtp_report_clear(&rep);
    assert_int_equal(rep.nev, 0);
    assert_null(rep.ev);
}

/* Events render in order with their facts; failures as raised. */
static void
test_render_events(void **state)
{
    (void)state;
    struct mh_smtp_report rep;
    memset(&rep, 0, sizeof rep);
    rep.tls_mode = MH_TLS_STARTTLS;
    rep.at.phase = "mail";
    struct mh_smtp_event *e =
        mh_smtp_report_event(&rep, MH_SMTP_EV_PHASE, "ehlo", MH_STATE_OK,
                             MH_REASON_NONE, "250 mx.example.test");
    assert_non_null(e);
    e->timed = true;
    e->duration_s = 0.25;
    e->code = 250;
    e->extensions = strdup("STARTTLS PIPELINING");
    mh_smtp_report_add(&rep, MH_SMTP_EV_NOTE, "", MH_STATE_OK, MH_REASON_NONE,
                       "unexpected reply to RSET: %d", 500);
    e = mh_smtp_report_event(&rep, MH_SMTP_EV_PHASE, "mail", MH_STATE_CRITICAL,
                             MH_REASON_SENDER_REJECTED, "550 5.1.0 no");
    e->code = 550;
    snprintf(e->enhanced, sizeof e->enhanced, "5.1.0");
    e->rule = "sender";
    mh_smtp_report_add(&rep, MH_SMTP_EV_FAIL, NULL, MH_STATE_CRITICAL,
                       MH_REASON_SENDER_REJECTED, "x MAIL FROM rejected");

    struct mh_result *r = mh_result_new("smtp", "x:25");
    assert_non_null(r);
    mh_smtp_report_render(&rep, r);
    assert_int_equal(r->nitems, 3);
    assert_string_equal(r->items[0].kind, "phase");
    assert_string_equal(r->items[0].name, "ehlo");
    assert_string_equal(attr_str(&r->items[0], "extensions"),
                        "STARTTLS PIPELINING");
    assert_true(attr_num(&r->items[0], "duration_seconds") == 0.25);
    assert_true(attr_num(&r->items[0], "reply_code") == 250);
    assert_null(attr(&r->items[0], "enhanced_code"));
    assert_string_equal(r->items[1].kind, "note");
    assert_string_equal(r->items[1].text, "unexpected reply to RSET: 500");
    assert_null(attr(&r->items[2], "duration_seconds"));
    assert_string_equal(attr_str(&r->items[2], "enhanced_code"), "5.1.0");
    assert_string_equal(attr_str(&r->items[2], "rule"), "sender");
    assert_int_equal(r->state, MH_STATE_CRITICAL);
    assert_int_equal(r->reason, MH_REASON_SENDER_REJECTED);
    assert_string_equal(r->summary, "x MAIL FROM rejected");

    /* A failed check: no OK summary, the phase metrics still. */
    rep.phase[MH_PHASE_MAIL].seen = true;
    rep.phase[MH_PHASE_MAIL].duration_s = 0.5;
    rep.phase[MH_PHASE_MAIL].code = 550;
    mh_smtp_report_render_end(&rep, "x[1]:25", 1.0, r);
    assert_int_equal(r->nperf, 1);
    assert_string_equal(r->perf[0].label, "time_mail");
    assert_int_equal(r->nsamples, 2);
    assert_string_equal(r->summary, "x MAIL FROM rejected");
    mh_result_free(r);
    mh_smtp_report_clear(&rep);
}

/* A check that went well: the summary says what was done. */
static void
test_render_ok_summary(void **state)
{
    (void)state;
    struct mh_smtp_report rep;
    memset(&rep, 0, sizeof rep);
    rep.tls_mode = MH_TLS_STARTTLS;
    rep.tls_active = true;
    snprintf(rep.tls_version, sizeof rep.tls_version, "TLSv1.3");
    rep.esmtp = true;
    rep.envelope = true;
    struct mh_result *r = mh_result_new("smtp", "x:25");
    assert_non_null(r);
    mh_smtp_report_render(&rep, r);
    mh_smtp_report_render_end(&rep, "x[192.0.2.1]:25", 0.1234, r);
    assert_int_equal(r->state, MH_STATE_OK);
    assert_string_equal(r->summary, "x[192.0.2.1]:25 ESMTP ok, STARTTLS "
                                    "TLSv1.3, envelope ok, 0.123 s response "
                                    "time");
    mh_result_free(r);

    /* A greeting stated as expected keeps its own summary. */
    r = mh_result_new("smtp", "x:25");
    mh_smtp_report_add(&rep, MH_SMTP_EV_SUMMARY, NULL, MH_STATE_OK,
                       MH_REASON_NONE, "x greeting %d as expected", 554);
    assert_string_equal(rep.failure.cause, "x greeting 554 as expected");
    assert_int_equal(rep.failure.state, MH_STATE_OK);
    mh_smtp_report_render(&rep, r);
    mh_smtp_report_render_end(&rep, "x", 0.1, r);
    assert_string_equal(r->summary, "x greeting 554 as expected");
    mh_result_free(r);
    mh_smtp_report_clear(&rep);
}

/* The connect phase: perfdata first, the failure with its cause. */
static void
test_render_connect(void **state)
{
    (void)state;
    struct mh_result *r = mh_result_new("smtp", "x:25");
    struct mh_smtp_connect_facts cf = {
        .ok = false,
        .duration_s = 0.01,
        .address = "192.0.2.1",
        .state = MH_STATE_CRITICAL,
        .reason = MH_REASON_CONNECTION_REFUSED,
        .error = "Connection refused",
        .cause = "x[192.0.2.1]:25: connect failed: Connection refused",
    };
    mh_smtp_render_connect(&cf, "x[192.0.2.1]:25", r);
    assert_int_equal(r->nperf, 1);
    assert_string_equal(r->perf[0].label, "time_connect");
    assert_int_equal(r->nitems, 1);
    assert_string_equal(r->items[0].text, "Connection refused");
    assert_int_equal(r->state, MH_STATE_CRITICAL);
    assert_string_equal(r->summary,
                        "x[192.0.2.1]:25: connect failed: Connection refused");
    mh_result_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failure_record),
        cmocka_unit_test(test_render_events),
        cmocka_unit_test(test_render_ok_summary),
        cmocka_unit_test(test_render_connect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
