/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of MTA-STS and TLS-RPT (probes/mtasts.c): the TXT records
 * (RFC 8461 3.1, RFC 8460 3), the policy (RFC 8461 3.2), the MX matching
 * rules (4.1), the memory of policies seen and its state file, and the
 * verdict's states by mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../probes/mtasts.h"
#include "reports.h"

static enum mh_sts_txt
rec(const char *txt, char *id)
{
    char err[300];
    return mh_sts_parse_record(txt, strlen(txt), id, err, sizeof err);
}

static void
test_sts_record(void **state)
{
    (void)state;
    char id[MH_STS_ID_MAX + 1];
    assert_int_equal(rec("v=STSv1; id=20160831085700Z;", id), MH_STS_TXT_VALID);
    assert_string_equal(id, "20160831085700Z");
    assert_int_equal(rec("v=STSv1;id=a", id), MH_STS_TXT_VALID);
    assert_int_equal(rec("v=STSv1 ;\tid=abc ; ext-1.x=val", id),
                     MH_STS_TXT_VALID);
    assert_string_equal(id, "abc");
    /* 32 alphanumerics are the most. */
    assert_int_equal(rec("v=STSv1; id=0123456789abcdef0123456789ABCDEF", id),
                     MH_STS_TXT_VALID);
    assert_int_equal(rec("v=STSv1; id=0123456789abcdef0123456789ABCDEFx", id),
                     MH_STS_TXT_INVALID);
    assert_int_equal(rec("v=STSv1; id=2024-01-01", id), MH_STS_TXT_INVALID);
    assert_int_equal(rec("v=STSv1; id=", id), MH_STS_TXT_INVALID);
    assert_int_equal(rec("v=STSv1", id), MH_STS_TXT_INVALID);
    assert_int_equal(rec("v=STSv1; ext=1", id), MH_STS_TXT_INVALID);
    assert_int_equal(rec("v=STSv1; id=a; id=b", id), MH_STS_TXT_INVALID);
    assert_int_equal(rec("v=STSv1; id=a junk", id), MH_STS_TXT_INVALID);
    /* Not MTA-STS records at all: ignored by senders. */
    assert_int_equal(rec("v=spf1 -all", id), MH_STS_TXT_OTHER);
    assert_int_equal(rec("v=STSv10; id=a", id), MH_STS_TXT_OTHER);
    assert_int_equal(rec("V=STSv1; id=a", id), MH_STS_TXT_OTHER);
    assert_int_equal(rec("", id), MH_STS_TXT_OTHER);
}

static enum mh_sts_txt
rpt(const char *txt, size_t *n)
{
    char err[300];
    return mh_tlsrpt_parse_record(txt, strlen(txt), n, err, sizeof err);
}

static void
test_tlsrpt_record(void **state)
{
    (void)state;
    size_t n = 0;
    assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:tlsrpt@example.com", &n),
                     MH_STS_TXT_VALID);
    assert_int_equal(n, 1);
    assert_int_equal(rpt("v=TLSRPTv1;rua=mailto:a@example.com , "
                         "https://reports.example.com/v1/tlsrpt",
                         &n),
                     MH_STS_TXT_VALID);
    assert_int_equal(n, 2);
    assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:a%21b@example.com", &n),
                     MH_STS_TXT_VALID);
    assert_int_equal(rpt("v=TLSRPTv1; rua=ftp://x.example/", &n),
                     MH_STS_TXT_INVALID);
    assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:nobody", &n),
                     MH_STS_TXT_INVALID);
    assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:a!b@example.com", &n),
                     MH_STS_TXT_INVALID);
    assert_int_equal(rpt("v=TLSRPTv1; rua=https://", &n), MH_STS_TXT_INVALID);
    assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:a@b.example,", &n),
                     MH_STS_TXT_INVALID);
    assert_int_equal(rpt("v=TLSRPTv1", &n), MH_STS_TXT_INVALID);
    assert_int_equal(rpt("v=TLSRPTv1; ruf=mailto:a@b.example", &n),
                     MH_STS_TXT_INVALID);
    assert_int_equal(rpt("v=STSv1; id=1", &n), MH_STS_TXT_OTHER);
}

static int
pol(const char *body, struct mh_sts_policy *p, char *err)
{
    return mh_sts_parse_policy(body, strlen(body), p, err, 300);
}

static void
test_policy(void **state)
{
    (void)state;
    struct mh_sts_policy p;
    char err[300];
    assert_int_equal(pol("version: STSv1\nmode: enforce\nmx: mail.example.com\n"
                         "mx: *.Example.NET\nmax_age: 604800\n",
                         &p, err),
                     0);
    assert_int_equal(p.mode, MH_STS_MODE_ENFORCE);
    assert_int_equal(p.max_age, 604800);
    assert_int_equal(p.nmx, 2);
    assert_string_equal(p.mx[1], "*.example.net");
    /* CRLF, spaces after the colon and at the end, no final newline,
     * extensions and empty lines. */
    assert_int_equal(pol("version:STSv1\r\nmode:\ttesting  \r\n\r\n"
                         "mx: a.example\r\nmax_age: 31557600\r\n"
                         "x_ext.1: any thing",
                         &p, err),
                     0);
    assert_int_equal(p.mode, MH_STS_MODE_TESTING);
    assert_int_equal(
        pol("version: STSv1\nmode: none\nmax_age: 86400\n", &p, err), 0);
    assert_int_equal(p.nmx, 0);

    assert_int_equal(
        pol("version: STSv1\nmode: enforce\nmax_age: 1\n", &p, err), -1);
    assert_non_null(strstr(err, "no mx field"));
    assert_int_equal(pol("version: STSv1\nmode: enforce\nmx: a.example\n"
                         "max_age: 31557601\n",
                         &p, err),
                     -1);
    assert_non_null(strstr(err, "line 4: max_age"));
    assert_int_equal(pol("version: STSv1\nmode: enforcing\nmx: a.example\n"
                         "max_age: 1\n",
                         &p, err),
                     -1);
    assert_int_equal(pol("version: STSv2\nmode: enforce\nmx: a.example\n"
                         "max_age: 1\n",
                         &p, err),
                     -1);
    assert_int_equal(pol("mode: enforce\nmx: a.example\nmax_age: 1\n", &p, err),
                     -1);
    assert_non_null(strstr(err, "no version"));
    assert_int_equal(pol("version: STSv1\nmode: enforce\nmode: testing\n"
                         "mx: a.example\nmax_age: 1\n",
                         &p, err),
                     -1);
    assert_non_null(strstr(err, "twice"));
    /* Wildcards only as the whole leftmost label (RFC 8461 4.1). */
    assert_int_equal(pol("version: STSv1\nmode: enforce\n"
                         "mx: mail.*.example.com\nmax_age: 1\n",
                         &p, err),
                     -1);
    assert_int_equal(pol("version: STSv1\nmode: enforce\nmx: *mail.example\n"
                         "max_age: 1\n",
                         &p, err),
                     -1);
    assert_int_equal(pol("version: STSv1\nmode: enforce\nmx: -bad.example\n"
                         "max_age: 1\n",
                         &p, err),
                     -1);
    assert_int_equal(pol("version: STSv1\nmode: enforce\nmx: a.example\n"
                         "max_age: 1\n<html>\n",
                         &p, err),
                     -1);
    assert_non_null(strstr(err, "line 5"));
    assert_int_equal(mh_sts_parse_policy("version: STSv1\0", 15, &p, err, 300),
                     -1);
}

static void
test_mx_matching(void **state)
{
    (void)state;
    assert_true(mh_sts_mx_matches("mail.example.com", "mail.example.com"));
    assert_true(mh_sts_mx_matches("mail.example.com", "MAIL.Example.com."));
    assert_false(mh_sts_mx_matches("mail.example.com", "mail.example.co"));
    assert_true(mh_sts_mx_matches("*.example.com", "mx1.example.com"));
    assert_false(mh_sts_mx_matches("*.example.com", "example.com"));
    assert_false(mh_sts_mx_matches("*.example.com", "a.b.example.com"));
    assert_false(mh_sts_mx_matches("*.example.com", ".example.com"));
    assert_false(mh_sts_mx_matches("*.example.com", "mx1.example.com.evil"));
    assert_false(mh_sts_mx_matches("*.example.com", "mx1xexample.com"));
}

static void
test_memory(void **state)
{
    (void)state;
    struct mh_sts_memory *m = mh_sts_memory_new();
    assert_non_null(m);
    unsigned char a[32] = {1}, b[32] = {2};
    struct mh_sts_memo before =
        mh_sts_memory_note(m, "Example.com", "id1", a, MH_STS_MODE_ENFORCE, 10);
    assert_false(before.known);
    /* Same id, another body: the first body stays remembered. */
    before =
        mh_sts_memory_note(m, "example.com", "id1", b, MH_STS_MODE_ENFORCE, 20);
    assert_true(before.known);
    assert_memory_equal(before.sha256, a, 32);
    before =
        mh_sts_memory_note(m, "example.com", "id1", b, MH_STS_MODE_ENFORCE, 30);
    assert_memory_equal(before.sha256, a, 32);
    assert_true(before.first_seen == 10);
    /* A new id replaces the entry. */
    mh_sts_memory_note(m, "example.com", "id2", b, MH_STS_MODE_TESTING, 40);
    struct mh_sts_memo now = mh_sts_memory_get(m, "EXAMPLE.COM");
    assert_string_equal(now.id, "id2");
    assert_int_equal(now.mode, MH_STS_MODE_TESTING);

    char path[] = "/tmp/mh-test-sts-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[600];
    assert_int_equal(mh_sts_memory_save(m, path, err, sizeof err), 0);
    struct mh_sts_memory *m2 = mh_sts_memory_new();
    assert_int_equal(mh_sts_memory_load(m2, path, err, sizeof err), 0);
    struct mh_sts_memo again = mh_sts_memory_get(m2, "example.com");
    assert_true(again.known);
    assert_string_equal(again.id, "id2");
    assert_memory_equal(again.sha256, b, 32);
    assert_true(again.first_seen == 40);
    /* Not a state file: refused with a message. */
    FILE *f = fopen(path, "w");
    fputs("{\"version\": 2}", f);
    fclose(f);
    assert_int_equal(mh_sts_memory_load(m2, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "version 1"));
    unlink(path);
    /* A missing file is the first run. */
    assert_int_equal(mh_sts_memory_load(m2, path, err, sizeof err), 0);
    mh_sts_memory_free(m2);
    mh_sts_memory_free(m);
}

/* A verdict over a record text, a policy body and two MX hosts. */
struct scene {
    struct mh_txt_record recs[2];
    struct mh_sts_dns dns;
    struct mh_sts_fetch fetch;
    struct mh_sts_mx mx[2];
    struct mh_sts_inputs in;
};

static void
scene_init(struct scene *s, const char *record, const char *body)
{
    memset(s, 0, sizeof *s);
    s->recs[0].data = (unsigned char *)strdup(record);
    s->recs[0].len = strlen(record);
    snprintf(s->dns.sts_name, sizeof s->dns.sts_name, "_mta-sts.example.com");
    snprintf(s->dns.tlsrpt_name, sizeof s->dns.tlsrpt_name,
             "_smtp._tls.example.com");
    s->dns.sts = (struct mh_txt_lookup){.name = s->dns.sts_name,
                                        .status = MH_RESOLVE_OK,
                                        .recs = s->recs,
                                        .nrecs = 1};
    s->dns.tlsrpt = (struct mh_txt_lookup){.name = s->dns.tlsrpt_name,
                                           .status = MH_RESOLVE_NOTFOUND};
    s->fetch.status = MH_STS_FETCH_OK;
    snprintf(s->fetch.url, sizeof s->fetch.url,
             "https://mta-sts.example.com/.well-known/mta-sts.txt");
    s->fetch.body = strdup(body);
    s->fetch.len = strlen(body);
    s->mx[0] = (struct mh_sts_mx){
        .host = "mx1.example.com", .probed = 2, .verified = 2};
    s->mx[1] = (struct mh_sts_mx){
        .host = "mx2.example.com", .probed = 1, .verified = 1};
    s->in = (struct mh_sts_inputs){.domain = "example.com",
                                   .dns = &s->dns,
                                   .fetch = &s->fetch,
                                   .mx_known = true,
                                   .mx = s->mx,
                                   .nmx = 2,
                                   .mx_probed = true,
                                   .now = 1e9,
                                   .required = true};
}

static struct mh_result *
scene_run(struct scene *s)
{
    struct mh_result *r = mh_result_new("mta-sts", "example.com");
    assert_non_null(r);
    mh_sts_evaluate(&s->in, r);
    mh_result_finish(r);
    return r;
}

static void
scene_free(struct scene *s)
{
    free(s->recs[0].data);
    free(s->recs[1].data);
    free(s->fetch.body);
}

#define ENFORCE                                                                \
    "version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 86400\n"
#define TESTING                                                                \
    "version: STSv1\nmode: testing\nmx: mx1.example.com\nmax_age: 86400\n"

static void
test_verdict_states(void **state)
{
    (void)state;
    struct scene s;
    scene_init(&s, "v=STSv1; id=1", ENFORCE);
    struct mh_result *r = scene_run(&s);
    assert_int_equal(r->state, MH_STATE_OK);
    assert_non_null(strstr(r->summary, "enforce policy (id 1"));
    mh_result_free(r);

    /* enforce: a certificate problem is CRITICAL with the probe's reason. */
    s.mx[1].state = MH_STATE_CRITICAL;
    s.mx[1].reason = MH_REASON_CERT_NAME_MISMATCH;
    s.mx[1].verified = 0;
    snprintf(s.mx[1].detail, sizeof s.mx[1].detail, "hostname mismatch");
    r = scene_run(&s);
    assert_int_equal(r->state, MH_STATE_CRITICAL);
    assert_int_equal(r->reason, MH_REASON_CERT_NAME_MISMATCH);
    mh_result_free(r);
    scene_free(&s);

    /* testing: the same problems are WARNING; mx2 is not covered. */
    scene_init(&s, "v=STSv1; id=1", TESTING);
    r = scene_run(&s);
    assert_int_equal(r->state, MH_STATE_WARNING);
    assert_int_equal(r->reason, MH_REASON_STS_MX_NOT_COVERED);
    mh_result_free(r);
    scene_free(&s);

    /* Two records: senders see no policy. */
    scene_init(&s, "v=STSv1; id=1", ENFORCE);
    s.recs[1].data = (unsigned char *)strdup("v=STSv1; id=2");
    s.recs[1].len = 13;
    s.dns.sts.nrecs = 2;
    r = scene_run(&s);
    assert_int_equal(r->state, MH_STATE_CRITICAL);
    assert_int_equal(r->reason, MH_REASON_STS_RECORD_INVALID);
    mh_result_free(r);
    scene_free(&s);

    /* An invalid policy: CRITICAL, unless the last valid one seen was in
     * testing mode. */
    scene_init(&s, "v=STSv1; id=1", "version: STSv1\nmode: bogus\n");
    r = scene_run(&s);
    assert_int_equal(r->state, MH_STATE_CRITICAL);
    assert_int_equal(r->reason, MH_REASON_STS_POLICY_INVALID);
    mh_result_free(r);
    struct mh_sts_memory *m = mh_sts_memory_new();
    unsigned char h[32] = {0};
    mh_sts_memory_note(m, "example.com", "0", h, MH_STS_MODE_TESTING, 1);
    s.in.memory = m;
    r = scene_run(&s);
    assert_int_equal(r->state, MH_STATE_WARNING);
    assert_non_null(strstr(r->summary, "last valid policy seen: mode testing"));
    mh_result_free(r);
    mh_sts_memory_free(m);
    scene_free(&s);

    /* A fetch failure keeps its reason. */
    scene_init(&s, "v=STSv1; id=1", ENFORCE);
    s.fetch.status = MH_STS_FETCH_REDIRECT;
    s.fetch.reason = MH_REASON_STS_POLICY_FETCH_ERROR;
    snprintf(s.fetch.err, sizeof s.fetch.err, "HTTP 301 redirect");
    r = scene_run(&s);
    assert_int_equal(r->state, MH_STATE_CRITICAL);
    assert_int_equal(r->reason, MH_REASON_STS_POLICY_FETCH_ERROR);
    mh_result_free(r);
    scene_free(&s);
}

static void
test_verdict_no_policy(void **state)
{
    (void)state;
    struct scene s;
    scene_init(&s, "v=spf1 -all", ENFORCE);
    struct mh_result *r = scene_run(&s);
    assert_int_equal(r->state, MH_STATE_CRITICAL);
    assert_int_equal(r->reason, MH_REASON_STS_RECORD_MISSING);
    mh_result_free(r);
    /* domain: no policy is only a note. */
    s.in.required = false;
    r = scene_run(&s);
    assert_int_equal(r->state, MH_STATE_OK);
    mh_result_free(r);
    /* A DNS timeout: CRITICAL (mta-sts) or WARNING (domain). */
    s.dns.sts.status = MH_RESOLVE_TIMEOUT;
    r = scene_run(&s);
    assert_int_equal(r->state, MH_STATE_WARNING);
    assert_int_equal(r->reason, MH_REASON_DNS_TIMEOUT);
    mh_result_free(r);
    s.in.required = true;
    r = scene_run(&s);
    assert_int_equal(r->state, MH_STATE_CRITICAL);
    mh_result_free(r);
    scene_free(&s);

    /* mode none: the MX hosts are not held against the policy. */
    scene_init(&s, "v=STSv1; id=1",
               "version: STSv1\nmode: none\nmax_age: 86400\n");
    s.mx[1].state = MH_STATE_CRITICAL;
    s.mx[1].reason = MH_REASON_CERT_EXPIRED;
    r = scene_run(&s);
    assert_int_equal(r->state, MH_STATE_OK);
    assert_non_null(strstr(r->summary, "mode none"));
    mh_result_free(r);
    scene_free(&s);
}

static void
test_verdict_id_unchanged(void **state)
{
    (void)state;
    struct mh_sts_memory *m = mh_sts_memory_new();
    struct scene s;
    scene_init(&s, "v=STSv1; id=1", ENFORCE);
    s.in.memory = m;
    struct mh_result *r = scene_run(&s);
    assert_int_equal(r->state, MH_STATE_OK);
    mh_result_free(r);
    scene_free(&s);
    /* The body changes, the id does not: WARNING, and it stays. */
    const char *edited = "version: STSv1\nmode: enforce\nmx: *.example.com\n"
                         "max_age: 604800\n";
    for (int round = 0; round < 2; round++) {
        scene_init(&s, "v=STSv1; id=1", edited);
        s.in.memory = m;
        r = scene_run(&s);
        assert_int_equal(r->state, MH_STATE_WARNING);
        assert_int_equal(r->reason, MH_REASON_STS_ID_UNCHANGED);
        mh_result_free(r);
        scene_free(&s);
    }
    /* A new id clears it. */
    scene_init(&s, "v=STSv1; id=2", edited);
    s.in.memory = m;
    r = scene_run(&s);
    assert_int_equal(r->state, MH_STATE_OK);
    mh_result_free(r);
    scene_free(&s);
    mh_sts_memory_free(m);
}

/* The report of a scene, and its rendering equal to mh_sts_evaluate's
 * (no memory in the scene: the report does not change it). */
static struct mh_sts_report *
scene_report(struct scene *s)
{
    struct mh_sts_report *rep = mh_sts_report_check(&s->in);
    assert_non_null(rep);
    struct mh_result *r = scene_run(s);
    struct mh_result *again = mh_result_new("mta-sts", "example.com");
    assert_non_null(again);
    mh_sts_report_render(rep, again);
    mh_result_finish(again);
    assert_int_equal(again->state, r->state);
    assert_int_equal(again->reason, r->reason);
    assert_int_equal(again->nitems, r->nitems);
    assert_int_equal(again->nperf, r->nperf);
    assert_int_equal(again->nsamples, r->nsamples);
    for (size_t i = 0; i < r->nitems; i++) {
        assert_string_equal(again->items[i].text, r->items[i].text);
    }
    assert_string_equal(again->summary, r->summary);
    mh_result_free(again);
    mh_result_free(r);
    return rep;
}

/* Facts of a valid policy: record, policy fields, each MX's pattern. */
static void
test_report_facts(void **state)
{
    (void)state;
    struct scene s;
    scene_init(&s, "v=STSv1; id=20261206", TESTING);
    s.dns.tlsrpt.status = MH_RESOLVE_OK;
    static unsigned char rua[] = "v=TLSRPTv1; rua=mailto:tls@example.com";
    struct mh_txt_record rpt = {.data = rua, .len = sizeof rua - 1};
    s.dns.tlsrpt.recs = &rpt;
    s.dns.tlsrpt.nrecs = 1;
    struct mh_sts_report *rep = scene_report(&s);
    assert_int_equal(rep->record, MH_STS_REC_VALID);
    assert_string_equal(rep->id, "20261206");
    assert_int_equal(rep->policy_status, MH_STS_POL_VALID);
    assert_int_equal(rep->mode, MH_STS_MODE_TESTING);
    assert_int_equal(rep->policy.max_age, 86400);
    assert_true(rep->mx_checked);
    assert_int_equal(rep->nmx, 2);
    assert_int_equal(rep->mx[0].pattern, 0);
    assert_true(rep->mx[0].verified);
    assert_int_equal(rep->mx[1].pattern, -1);
    assert_int_equal(rep->mx[1].f.reason, MH_REASON_STS_MX_NOT_COVERED);
    assert_int_equal(rep->covered, 1);
    assert_int_equal(rep->verified, 2);
    assert_int_equal(rep->tlsrpt, MH_STS_REC_VALID);
    assert_int_equal(rep->nrua, 1);
    /* The failure: mx2 not covered, WARNING in testing mode. */
    assert_int_equal(rep->failure.state, MH_STATE_WARNING);
    assert_string_equal(rep->failure.phase, "mx");
    assert_int_equal(rep->failure.category,
                     mh_reason_category(MH_REASON_STS_MX_NOT_COVERED));
    assert_non_null(strstr(rep->failure.cause, "MX mx2.example.com"));
    free(rep);
    scene_free(&s);
}

/* The failure record is the first of the worst findings. */
static void
test_report_failure(void **state)
{
    (void)state;
    struct scene s;
    /* An invalid record (CRITICAL in enforce mode) before an uncovered
     * MX (CRITICAL too): the record is the failure. */
    scene_init(&s, "v=STSv1; id=",
               "version: STSv1\nmode: enforce\n"
               "mx: mx1.example.com\nmax_age: 60\n");
    struct mh_sts_report *rep = scene_report(&s);
    assert_int_equal(rep->record, MH_STS_REC_INVALID);
    assert_int_equal(rep->policy_status, MH_STS_POL_VALID);
    assert_int_equal(rep->mx[1].f.state, MH_STATE_CRITICAL);
    assert_string_equal(rep->failure.phase, "record");
    assert_int_equal(rep->failure.reason, MH_REASON_STS_RECORD_INVALID);
    free(rep);
    scene_free(&s);
    /* No record: nothing fetched, nothing matched. */
    scene_init(&s, "v=spf1 -all", ENFORCE);
    rep = scene_report(&s);
    assert_int_equal(rep->record, MH_STS_REC_MISSING);
    assert_int_equal(rep->policy_status, MH_STS_POL_NOT_CHECKED);
    assert_false(rep->mx_checked);
    assert_int_equal(rep->tlsrpt, MH_STS_REC_MISSING);
    assert_string_equal(rep->failure.phase, "record");
    assert_int_equal(rep->failure.reason, MH_REASON_STS_RECORD_MISSING);
    free(rep);
    scene_free(&s);
    /* A failed fetch: its reason, no MX judged. */
    scene_init(&s, "v=STSv1; id=1", ENFORCE);
    s.fetch.status = MH_STS_FETCH_HTTP;
    s.fetch.reason = MH_REASON_STS_POLICY_FETCH_ERROR;
    snprintf(s.fetch.err, sizeof s.fetch.err, "HTTP 404");
    rep = scene_report(&s);
    assert_int_equal(rep->policy_status, MH_STS_POL_FETCH_FAILED);
    assert_int_equal(rep->mode, MH_STS_MODE_UNKNOWN);
    assert_false(rep->mx_checked);
    assert_string_equal(rep->failure.phase, "policy");
    assert_int_equal(rep->failure.state, MH_STATE_CRITICAL);
    assert_non_null(strstr(rep->failure.cause, "HTTP 404"));
    free(rep);
    scene_free(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sts_record),
        cmocka_unit_test(test_tlsrpt_record),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_mx_matching),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_verdict_states),
        cmocka_unit_test(test_verdict_no_policy),
        cmocka_unit_test(test_verdict_id_unchanged),
        cmocka_unit_test(test_report_facts),
        cmocka_unit_test(test_report_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
