/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of DANE (probes/dane.c, probes/dnsmsg.c): the TLSA name, RRSIG
 * time arithmetic, TLSA answers built here byte by byte (AD, SERVFAIL with
 * an Extended DNS Error, CNAME chains, answers for another name,
 * truncation), and the check's verdicts on certificates made here in
 * memory, matched by OpenSSL's DANE API. No network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dane.h"
#include "dnsmsg.h"
#include "reports.h"
#include "result.h"

#define DAY 86400.0

/* ====== Names and times ====== */

static void
test_tlsa_name(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(mh_dane_tlsa_name(buf, sizeof buf, 25, "mx.example.com"),
                     0);
    assert_string_equal(buf, "_25._tcp.mx.example.com");
    assert_int_equal(mh_dane_tlsa_name(buf, sizeof buf, 465, "mx.example."), 0);
    assert_string_equal(buf, "_465._tcp.mx.example");
    assert_int_equal(mh_dane_tlsa_name(buf, sizeof buf, 25, ""), -1);
    assert_int_equal(mh_dane_tlsa_name(buf, sizeof buf, 25, "."), -1);
    assert_int_equal(mh_dane_tlsa_name(buf, 10, 25, "mx.example.com"), -1);
}

static void
test_sig_time(void **state)
{
    (void)state;
    double now = 1767225600.0; /* 2026-01-01 */
    assert_true(mh_dns_sig_time((uint32_t)(1767225600u + 86400u), now) ==
                now + DAY);
    assert_true(mh_dns_sig_time((uint32_t)(1767225600u - 86400u), now) ==
                now - DAY);
    /* After 2106 the 32-bit value wraps (RFC 4034 3.1.5). */
    double later = 4294967296.0 + 1000.0;
    assert_true(mh_dns_sig_time(2000u, later) == later + 1000.0);
    assert_true(mh_dns_sig_time(0xffffff00u, later) == 4294967296.0 - 256.0);
}

/* ====== DNS messages built here ====== */

struct msg {
    unsigned char b[2048];
    size_t n;
};

static void
put(struct msg *m, const void *p, size_t n)
{
    assert_true(m->n + n <= sizeof m->b);
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void
put16(struct msg *m, unsigned v)
{
    unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
    put(m, b, 2);
}

static void
put32(struct msg *m, uint32_t v)
{
    put16(m, v >> 16);
    put16(m, v & 0xffff);
}

static void
put_name(struct msg *m, const char *name)
{
    const char *p = name;
    while (*p != '\0') {
        const char *dot = strchr(p, '.');
        size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);
        unsigned char lb = (unsigned char)l;
        put(m, &lb, 1);
        put(m, p, l);
        p += l;
        if (*p == '.') {
            p++;
        }
    }
    put(m, "", 1);
}

/* Header: flags2 holds AD (0x20) and the RCODE. */
static void
header(struct msg *m, unsigned char flags2, unsigned an, unsigned ar,
       const char *qname)
{
    m->n = 0;
    put16(m, 0x1234);
    unsigned char f[2] = {0x81, flags2};
    put(m, f, 2);
    put16(m, 1);
    put16(m, an);
    put16(m, 0);
    put16(m, ar);
    put_name(m, qname);
    put16(m, MH_DNS_T_TLSA);
    put16(m, 1);
}

static void
rr(struct msg *m, const char *owner, unsigned type, const void *rdata,
   size_t rdlen)
{
    put_name(m, owner);
    put16(m, type);
    put16(m, 1);
    put32(m, 60);
    put16(m, (unsigned)rdlen);
    put(m, rdata, rdlen);
}

static const char QN[] = "_25._tcp.mx.example.test";

static void
tlsa_rr(struct msg *m, const char *owner, unsigned char fill)
{
    unsigned char rd[3 + 32];
    rd[0] = 3;
    rd[1] = 1;
    rd[2] = 1;
    memset(rd + 3, fill, 32);
    rr(m, owner, MH_DNS_T_TLSA, rd, sizeof rd);
}

static void
rrsig_rr(struct msg *m, const char *owner, uint32_t expiration)
{
    struct msg r = {.n = 0};
    put16(&r, MH_DNS_T_TLSA);
    unsigned char al[2] = {13, 5};
    put(&r, al, 2);
    put32(&r, 60);
    put32(&r, expiration);
    put32(&r, expiration - 30 * 86400u);
    put16(&r, 4711);
    put_name(&r, "example.test");
    put(&r, "sig", 3);
    rr(m, owner, MH_DNS_T_RRSIG, r.b, r.n);
}

static void
lookup_init(struct mh_dane_lookup *lk)
{
    memset(lk, 0, sizeof *lk);
    snprintf(lk->qname, sizeof lk->qname, "%s", QN);
}

static void
test_answer_secure(void **state)
{
    (void)state;
    double now = (double)time(NULL);
    uint32_t exp = (uint32_t)(now + 10 * DAY);
    struct msg m;
    header(&m, 0x20, 3, 0, QN);
    tlsa_rr(&m, QN, 0xaa);
    tlsa_rr(&m, QN, 0xbb);
    rrsig_rr(&m, QN, exp);
    struct mh_dane_lookup lk;
    lookup_init(&lk);
    assert_int_equal(mh_dane_answer_read(&lk, m.b, m.n, now), 0);
    assert_int_equal(lk.status, MH_DANE_DNS_SECURE);
    assert_true(lk.ad);
    assert_int_equal(lk.nrecs, 2);
    assert_int_equal(lk.recs[0].usage, 3);
    assert_int_equal(lk.recs[1].data[0], 0xbb);
    assert_true(lk.rrsig_expiration == (double)exp);
    mh_dane_lookup_free(&lk);

    /* The same without AD: not signed (or not validated). */
    m.b[3] = 0x00;
    assert_int_equal(mh_dane_answer_read(&lk, m.b, m.n, now), 0);
    assert_int_equal(lk.status, MH_DANE_DNS_INSECURE);
    assert_int_equal(lk.nrecs, 2);
    mh_dane_lookup_free(&lk);

    /* Cut short: malformed, never "no TLSA". */
    assert_int_equal(mh_dane_answer_read(&lk, m.b, m.n - 5, now), 0);
    assert_int_equal(lk.status, MH_DANE_DNS_FAILED);
    assert_int_equal(lk.nrecs, 0);

    /* An answer for another name (c-ares 1.18 does not compare it). */
    header(&m, 0x20, 1, 0, "_25._tcp.other.example.test");
    tlsa_rr(&m, "_25._tcp.other.example.test", 0xaa);
    assert_int_equal(mh_dane_answer_read(&lk, m.b, m.n, now), 0);
    assert_int_equal(lk.status, MH_DANE_DNS_FAILED);
    mh_dane_lookup_free(&lk);
}

static void
test_answer_cname(void **state)
{
    (void)state;
    const char *target = "_25._tcp.mx.elsewhere.test";
    struct msg m, rd = {.n = 0};
    put_name(&rd, target);
    header(&m, 0x20, 3, 0, QN);
    rr(&m, QN, MH_DNS_T_CNAME, rd.b, rd.n);
    tlsa_rr(&m, target, 0xcc);
    tlsa_rr(&m, QN, 0xdd); /* not at the end of the chain: ignored */
    struct mh_dane_lookup lk;
    lookup_init(&lk);
    assert_int_equal(mh_dane_answer_read(&lk, m.b, m.n, 0), 0);
    assert_int_equal(lk.status, MH_DANE_DNS_SECURE);
    assert_string_equal(lk.owner, target);
    assert_int_equal(lk.nrecs, 1);
    assert_int_equal(lk.recs[0].data[0], 0xcc);
    mh_dane_lookup_free(&lk);
}

static void
test_answer_servfail(void **state)
{
    (void)state;
    struct msg m;
    header(&m, 0x02, 0, 1, QN); /* SERVFAIL */
    /* OPT with EDE 6 "DNSSEC Bogus" and a text with a control byte. */
    struct msg opt = {.n = 0};
    put16(&opt, 15);
    put16(&opt, 2 + 6);
    put16(&opt, 6);
    put(&opt, "bad\x01si", 6);
    put(&m, "", 1);
    put16(&m, MH_DNS_T_OPT);
    put16(&m, 1232);
    put32(&m, 0x8000);
    put16(&m, (unsigned)opt.n);
    put(&m, opt.b, opt.n);
    struct mh_dane_lookup lk;
    lookup_init(&lk);
    assert_int_equal(mh_dane_answer_read(&lk, m.b, m.n, 0), 0);
    assert_int_equal(lk.status, MH_DANE_DNS_SERVFAIL);
    assert_int_equal(lk.ede_code, 6);
    assert_string_equal(lk.ede_text, "bad\\x01si");
    assert_int_equal(lk.nrecs, 0);
    /* REFUSED is a failed lookup, not a verdict on DNSSEC. */
    header(&m, 0x05, 0, 0, QN);
    assert_int_equal(mh_dane_answer_read(&lk, m.b, m.n, 0), 0);
    assert_int_equal(lk.status, MH_DANE_DNS_FAILED);
}

static void
test_query(void **state)
{
    (void)state;
    unsigned char *q;
    int len;
    assert_int_equal(mh_dns_query_new(QN, MH_DNS_T_TLSA, &q, &len), 0);
    assert_true(len > 12 + 11);
    assert_true((q[2] & 0x01) != 0);       /* RD */
    assert_true((q[3] & 0x20) != 0);       /* AD */
    assert_int_equal(q[11], 1);            /* ARCOUNT: the OPT record */
    assert_true((q[len - 4] & 0x80) != 0); /* DO */
    mh_dns_query_free(q);
}

/* ====== The check, on certificates made here ====== */

static EVP_PKEY *k_leaf, *k_next;
static SSL_CTX *ctx;

static X509 *
self_signed(EVP_PKEY *key, double not_after)
{
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                               (const unsigned char *)"mx.example.test", -1, -1,
                               0);
    X509_set_issuer_name(x, n);
    ASN1_TIME_set(X509_getm_notBefore(x), time(NULL) - 86400);
    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after);
    X509_set_pubkey(x, key);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    return x;
}

static int
setup(void **state)
{
    (void)state;
    k_leaf = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k_next = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ctx = SSL_CTX_new(TLS_client_method());
    return k_leaf != NULL && k_next != NULL && ctx != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(k_leaf);
    EVP_PKEY_free(k_next);
    SSL_CTX_free(ctx);
    return 0;
}

/* A record usage/selector/SHA-256 of key (selector 1) or cert (0). */
static void
record(struct mh_dane_tlsa *t, uint8_t usage, uint8_t selector, EVP_PKEY *key,
       X509 *cert)
{
    unsigned char *der = NULL;
    int n = selector == 1 ? i2d_PUBKEY(key, &der) : i2d_X509(cert, &der);
    assert_true(n > 0);
    t->usage = usage;
    t->selector = selector;
    t->mtype = 1;
    t->data = malloc(32);
    t->len = 32;
    unsigned int mdlen;
    assert_int_equal(
        EVP_Digest(der, (size_t)n, t->data, &mdlen, EVP_sha256(), NULL), 1);
    OPENSSL_free(der);
}

struct fixture {
    X509 *leaf;
    STACK_OF(X509) * sent;
    struct mh_dane_lookup lk;
    struct mh_dane_check_params p;
    struct mh_result *r;
};

static void
fixture_init(struct fixture *f, double leaf_days)
{
    memset(f, 0, sizeof *f);
    double now = (double)time(NULL);
    f->leaf = self_signed(k_leaf, now + leaf_days * DAY);
    f->sent = sk_X509_new_null();
    sk_X509_push(f->sent, f->leaf);
    lookup_init(&f->lk);
    f->lk.status = MH_DANE_DNS_SECURE;
    f->lk.recs = calloc(4, sizeof *f->lk.recs);
    f->p = (struct mh_dane_check_params){
        .base = "mx.example.test",
        .required = true,
        .cert_warn_days = 30,
        .rrsig_warn_days = 3,
        .rrsig_crit_days = 1,
        .now = now,
        .where = "mx.example.test[192.0.2.1]:25",
    };
    f->r = mh_result_new("smtp", "mx.example.test:25");
}

static void
fixture_run(struct fixture *f, bool tls)
{
    mh_dane_check(&f->lk, tls ? ctx : NULL, tls ? f->sent : NULL, &f->p, f->r);
    mh_result_finish(f->r);
}

static void
fixture_free(struct fixture *f)
{
    mh_dane_lookup_free(&f->lk);
    sk_X509_free(f->sent);
    X509_free(f->leaf);
    mh_result_free(f->r);
}

static double
sample(const struct mh_result *r, const char *family)
{
    for (size_t i = 0; i < r->nsamples; i++) {
        if (strcmp(r->samples[i].family, family) == 0) {
            return r->samples[i].value;
        }
    }
    return -1;
}

static void
test_check_ee_match(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 90);
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_leaf, NULL);
    fixture_run(&f, true);
    assert_int_equal(f.r->state, MH_STATE_OK);
    assert_true(sample(f.r, "mailhealth_dane_verified") == 1.0);
    assert_true(sample(f.r, "mailhealth_dane_tlsa_records") == 1.0);
    fixture_free(&f);

    /* DANE-EE ignores the leaf's expiry and name (RFC 7672 3.1.1). */
    fixture_init(&f, -5);
    f.p.base = "other.example.test";
    record(&f.lk.recs[f.lk.nrecs++], 3, 0, NULL, f.leaf);
    fixture_run(&f, true);
    assert_int_not_equal(f.r->reason, MH_REASON_TLSA_MISMATCH);
    assert_true(sample(f.r, "mailhealth_dane_verified") == 1.0);
    fixture_free(&f);
}

static void
test_check_mismatch(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 90);
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_next, NULL);
    fixture_run(&f, true);
    assert_int_equal(f.r->state, MH_STATE_CRITICAL);
    assert_int_equal(f.r->reason, MH_REASON_TLSA_MISMATCH);
    assert_int_equal(f.r->category, MH_CAT_TLS);
    assert_true(sample(f.r, "mailhealth_dane_verified") == 0.0);
    fixture_free(&f);
}

static void
test_check_unusable(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 90);
    record(&f.lk.recs[f.lk.nrecs++], 1, 1, k_leaf, NULL);
    record(&f.lk.recs[f.lk.nrecs++], 0, 1, k_leaf, NULL);
    fixture_run(&f, true);
    assert_int_equal(f.r->state, MH_STATE_WARNING);
    assert_int_equal(f.r->reason, MH_REASON_TLSA_UNUSABLE);
    fixture_free(&f);
    /* A SHA2-256 digest of the wrong length is unusable too. */
    fixture_init(&f, 90);
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_leaf, NULL);
    f.lk.recs[0].len = 31;
    fixture_run(&f, true);
    assert_int_equal(f.r->reason, MH_REASON_TLSA_UNUSABLE);
    fixture_free(&f);
}

static void
test_check_rollover(void **state)
{
    (void)state;
    struct fixture f;
    /* Only the leaf's own record and the leaf expires in 10 days. */
    fixture_init(&f, 10);
    record(&f.lk.recs[f.lk.nrecs++], 3, 0, NULL, f.leaf);
    fixture_run(&f, true);
    assert_int_equal(f.r->state, MH_STATE_WARNING);
    assert_int_equal(f.r->reason, MH_REASON_DANE_ROLLOVER_RISK);
    fixture_free(&f);
    /* The next key published beside it: no risk. */
    fixture_init(&f, 10);
    record(&f.lk.recs[f.lk.nrecs++], 3, 0, NULL, f.leaf);
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_next, NULL);
    fixture_run(&f, true);
    assert_int_equal(f.r->state, MH_STATE_OK);
    fixture_free(&f);
    /* Far from expiry: no risk. */
    fixture_init(&f, 90);
    record(&f.lk.recs[f.lk.nrecs++], 3, 0, NULL, f.leaf);
    fixture_run(&f, true);
    assert_int_equal(f.r->state, MH_STATE_OK);
    fixture_free(&f);
}

static void
test_check_next_key(void **state)
{
    (void)state;
    char path[] = "/tmp/mh-test-dane-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_PUBKEY(fp, k_next), 1);
    fclose(fp);
    struct fixture f;
    fixture_init(&f, 90);
    f.p.next_key = path;
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_leaf, NULL);
    fixture_run(&f, true);
    assert_int_equal(f.r->state, MH_STATE_WARNING);
    assert_int_equal(f.r->reason, MH_REASON_DANE_NEXT_KEY_UNPUBLISHED);
    fixture_free(&f);
    fixture_init(&f, 90);
    f.p.next_key = path;
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_leaf, NULL);
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_next, NULL);
    fixture_run(&f, true);
    assert_int_equal(f.r->state, MH_STATE_OK);
    fixture_free(&f);
    unlink(path);
}

static void
test_check_lookup_states(void **state)
{
    (void)state;
    struct fixture f;
    /* Unsigned TLSA: senders ignore it. */
    fixture_init(&f, 90);
    f.lk.status = MH_DANE_DNS_INSECURE;
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_leaf, NULL);
    fixture_run(&f, true);
    assert_int_equal(f.r->state, MH_STATE_WARNING);
    assert_int_equal(f.r->reason, MH_REASON_DANE_NOT_IN_EFFECT);
    fixture_free(&f);
    /* A resolver that does not validate: UNKNOWN, never "no DANE". */
    fixture_init(&f, 90);
    f.lk.status = MH_DANE_DNS_UNVALIDATED;
    fixture_run(&f, true);
    assert_int_equal(f.r->state, MH_STATE_UNKNOWN);
    assert_int_equal(f.r->reason, MH_REASON_DNSSEC_NOT_VALIDATING);
    fixture_free(&f);
    /* SERVFAIL (bogus): CRITICAL dnssec_invalid. */
    fixture_init(&f, 90);
    f.lk.status = MH_DANE_DNS_SERVFAIL;
    fixture_run(&f, true);
    assert_int_equal(f.r->state, MH_STATE_CRITICAL);
    assert_int_equal(f.r->reason, MH_REASON_DNSSEC_INVALID);
    fixture_free(&f);
    /* Signed TLSA but no TLS session: dane_required. */
    fixture_init(&f, 90);
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_leaf, NULL);
    fixture_run(&f, false);
    assert_int_equal(f.r->state, MH_STATE_CRITICAL);
    assert_int_equal(f.r->reason, MH_REASON_DANE_REQUIRED);
    fixture_free(&f);
    /* No TLSA: CRITICAL when DANE is required, a note otherwise. */
    fixture_init(&f, 90);
    fixture_run(&f, true);
    assert_int_equal(f.r->reason, MH_REASON_TLSA_MISSING);
    fixture_free(&f);
    fixture_init(&f, 90);
    f.p.required = false;
    fixture_run(&f, true);
    assert_int_equal(f.r->state, MH_STATE_OK);
    fixture_free(&f);
}

static void
test_check_rrsig(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 90);
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_leaf, NULL);
    f.lk.rrsig_expiration = f.p.now + 2 * DAY;
    fixture_run(&f, true);
    assert_int_equal(f.r->state, MH_STATE_WARNING);
    assert_int_equal(f.r->reason, MH_REASON_RRSIG_EXPIRING);
    assert_true(sample(f.r, "mailhealth_dane_rrsig_expiry_timestamp_seconds") ==
                f.p.now + 2 * DAY);
    fixture_free(&f);
    fixture_init(&f, 90);
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_leaf, NULL);
    f.lk.rrsig_expiration = f.p.now + 0.5 * DAY;
    fixture_run(&f, true);
    assert_int_equal(f.r->state, MH_STATE_CRITICAL);
    assert_int_equal(f.r->reason, MH_REASON_RRSIG_EXPIRING);
    fixture_free(&f);
}

/* ====== The report (mh_dane_report_check) ====== */

/* The report of a fixture, and its rendering equal to mh_dane_check's. */
static struct mh_dane_report *
fixture_report(struct fixture *f, bool tls)
{
    struct mh_dane_report *rep = mh_dane_report_check(
        &f->lk, tls ? ctx : NULL, tls ? f->sent : NULL, &f->p);
    assert_non_null(rep);
    fixture_run(f, tls);
    struct mh_result *again = mh_result_new("smtp", "mx.example.test:25");
    assert_non_null(again);
    mh_dane_report_render(rep, &f->p, again);
    mh_result_finish(again);
    assert_int_equal(again->state, f->r->state);
    assert_int_equal(again->reason, f->r->reason);
    assert_int_equal(again->nitems, f->r->nitems);
    assert_int_equal(again->nperf, f->r->nperf);
    assert_int_equal(again->nsamples, f->r->nsamples);
    for (size_t i = 0; i < again->nitems; i++) {
        assert_string_equal(again->items[i].text, f->r->items[i].text);
    }
    if (f->r->summary != NULL) {
        assert_string_equal(again->summary, f->r->summary);
    }
    mh_result_free(again);
    return rep;
}

/* Facts of a match: every record's verdict, the depth, no failure. */
static void
test_report_verified(void **state)
{
    (void)state;
    struct fixture f;
    fixture_init(&f, 90);
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_next, NULL);
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_leaf, NULL);
    record(&f.lk.recs[f.lk.nrecs++], 1, 1, k_leaf, NULL);
    struct mh_dane_report *rep = fixture_report(&f, true);
    assert_int_equal(rep->outcome, MH_DANE_OUT_VERIFIED);
    assert_true(rep->verified);
    assert_int_equal(rep->depth, 0);
    assert_int_equal(rep->usage, 3);
    assert_int_equal(rep->nrecords, 3);
    assert_int_equal(rep->nusable, 2);
    assert_int_equal(rep->records[0].status, MH_DANE_REC_NO_MATCH);
    assert_int_equal(rep->records[1].status, MH_DANE_REC_MATCH);
    assert_int_equal(rep->records[1].depth, 0);
    assert_int_equal(rep->records[2].status, MH_DANE_REC_UNUSABLE);
    assert_non_null(strstr(rep->records[2].detail, "RFC 7672 3.1.3"));
    assert_false(rep->rollover_risk);
    assert_int_equal(rep->next_key, MH_DANE_NEXT_NOT_CHECKED);
    assert_false(rep->rrsig.present);
    assert_int_equal(rep->failure.state, MH_STATE_OK);
    assert_string_equal(rep->failure.phase, "");
    free(rep);
    fixture_free(&f);
}

/* The failure record: the first of the worst problems, with its phase. */
static void
test_report_failures(void **state)
{
    (void)state;
    struct fixture f;
    /* Expiring RRSIGs (WARNING) and a mismatch (CRITICAL): the mismatch. */
    fixture_init(&f, 90);
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_next, NULL);
    f.lk.rrsig_expiration = f.p.now + 2 * DAY;
    struct mh_dane_report *rep = fixture_report(&f, true);
    assert_int_equal(rep->outcome, MH_DANE_OUT_MISMATCH);
    assert_true(rep->rrsig.present);
    assert_int_equal(rep->rrsig.state, MH_STATE_WARNING);
    assert_string_equal(rep->rrsig.rrset, "TLSA");
    assert_int_equal(rep->failure.state, MH_STATE_CRITICAL);
    assert_string_equal(rep->failure.phase, "verify");
    assert_int_equal(rep->failure.reason, MH_REASON_TLSA_MISMATCH);
    assert_int_equal(rep->failure.category, MH_CAT_TLS);
    assert_non_null(strstr(rep->failure.cause, QN));
    assert_true(rep->verify_error[0] != '\0');
    free(rep);
    fixture_free(&f);
    /* Signed records and no TLS session: phase tls, with the summary that
     * replaces "STARTTLS not offered". */
    fixture_init(&f, 90);
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_leaf, NULL);
    rep = fixture_report(&f, false);
    assert_int_equal(rep->outcome, MH_DANE_OUT_NO_TLS);
    assert_string_equal(rep->failure.phase, "tls");
    assert_int_equal(rep->failure.reason, MH_REASON_DANE_REQUIRED);
    assert_non_null(strstr(rep->failure.cause_no_starttls, "STARTTLS"));
    free(rep);
    fixture_free(&f);
    /* An unreadable next key: a usage error, not about the target. */
    fixture_init(&f, 90);
    f.p.next_key = "/nonexistent/next.pem";
    record(&f.lk.recs[f.lk.nrecs++], 3, 1, k_leaf, NULL);
    rep = fixture_report(&f, true);
    assert_int_equal(rep->next_key, MH_DANE_NEXT_UNREADABLE);
    assert_string_equal(rep->failure.phase, "next_key");
    assert_true(rep->failure.targetless);
    assert_int_equal(f.r->state, MH_STATE_UNKNOWN);
    assert_non_null(strstr(f.r->summary, "cannot read --tlsa-next-key"));
    free(rep);
    fixture_free(&f);
    /* The leaf's own key alone, expiring: the rollover risk. */
    fixture_init(&f, 10);
    record(&f.lk.recs[f.lk.nrecs++], 3, 0, NULL, f.leaf);
    rep = fixture_report(&f, true);
    assert_true(rep->rollover_risk);
    assert_true(rep->leaf_days > 9 && rep->leaf_days < 10.1);
    assert_string_equal(rep->failure.phase, "rollover");
    free(rep);
    fixture_free(&f);
    /* A lookup that failed: phase lookup, no record looked at. */
    fixture_init(&f, 90);
    f.lk.status = MH_DANE_DNS_SERVFAIL;
    f.lk.ede_code = 6;
    rep = fixture_report(&f, true);
    assert_int_equal(rep->outcome, MH_DANE_OUT_SERVFAIL);
    assert_string_equal(rep->failure.phase, "lookup");
    assert_string_equal(rep->ede, " (EDE 6)");
    assert_int_equal(rep->nrecords, 0);
    free(rep);
    fixture_free(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tlsa_name),
        cmocka_unit_test(test_sig_time),
        cmocka_unit_test(test_answer_secure),
        cmocka_unit_test(test_answer_cname),
        cmocka_unit_test(test_answer_servfail),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_check_ee_match),
        cmocka_unit_test(test_check_mismatch),
        cmocka_unit_test(test_check_unusable),
        cmocka_unit_test(test_check_rollover),
        cmocka_unit_test(test_check_next_key),
        cmocka_unit_test(test_check_lookup_states),
        cmocka_unit_test(test_check_rrsig),
        cmocka_unit_test(test_report_verified),
        cmocka_unit_test(test_report_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
