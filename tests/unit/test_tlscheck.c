/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the certificate checks (probes/tlscheck.c): the days and
 * threshold logic with fixed times, ASN.1 time conversion, and the whole
 * chain evaluation on certificates made here in memory with OpenSSL's API
 * (a root in the trust store, an intermediate, leaves for each field case),
 * verified at a fixed time. No network. Field cases BR-NN are in
 * tests/field-cases.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <locale.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "reports.h"
#include "result.h"
#include "tlscheck.h"

/* 2026-01-01T00:00:00Z: every certificate is dated relative to it. */
#define NOW 1767225600.0
#define DAY 86400L

/* ====== Pure logic ====== */

static void
test_days_left(void **state)
{
    (void)state;
    assert_true(mh_tls_days_left(NOW + 90 * DAY, NOW) == 90.0);
    assert_true(mh_tls_days_left(NOW - 10 * DAY, NOW) == -10.0);
    assert_true(mh_tls_days_left(NOW + DAY / 2, NOW) == 0.5);
    assert_true(mh_tls_days_left(NOW, NOW) == 0.0);
}

static void
test_days_state(void **state)
{
    (void)state;
    /* Defaults 30,14: alert strictly below (Nagios range "30:"). */
    assert_int_equal(mh_tls_days_state(90, 30, 14), MH_STATE_OK);
    assert_int_equal(mh_tls_days_state(30, 30, 14), MH_STATE_OK);
    assert_int_equal(mh_tls_days_state(29.99, 30, 14), MH_STATE_WARNING);
    assert_int_equal(mh_tls_days_state(14, 30, 14), MH_STATE_WARNING);
    assert_int_equal(mh_tls_days_state(13.99, 30, 14), MH_STATE_CRITICAL);
    assert_int_equal(mh_tls_days_state(0, 30, 14), MH_STATE_CRITICAL);
    assert_int_equal(mh_tls_days_state(-400, 30, 14), MH_STATE_CRITICAL);
    /* A certificate expiring in 10 days: WARNING at 30,7; CRITICAL at
     * 30,14. */
    assert_int_equal(mh_tls_days_state(10, 30, 7), MH_STATE_WARNING);
    assert_int_equal(mh_tls_days_state(10, 30, 14), MH_STATE_CRITICAL);
    /* Fractions. */
    assert_int_equal(mh_tls_days_state(0.4, 1.5, 0.5), MH_STATE_CRITICAL);
    assert_int_equal(mh_tls_days_state(0.6, 1.5, 0.5), MH_STATE_WARNING);
    assert_int_equal(mh_tls_days_state(1.5, 1.5, 0.5), MH_STATE_OK);
    /* 0,0: only an expired certificate alerts. */
    assert_int_equal(mh_tls_days_state(0.01, 0, 0), MH_STATE_OK);
    assert_int_equal(mh_tls_days_state(-0.01, 0, 0), MH_STATE_CRITICAL);
    /* Extra certificates warn at most. */
    assert_int_equal(mh_tls_extra_state(-30, 30, 14), MH_STATE_WARNING);
    assert_int_equal(mh_tls_extra_state(20, 30, 14), MH_STATE_WARNING);
    assert_int_equal(mh_tls_extra_state(40, 30, 14), MH_STATE_OK);
}

static void
test_days_range(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(mh_tls_days_range(buf, sizeof buf, 30), "30:");
    assert_string_equal(mh_tls_days_range(buf, sizeof buf, 14), "14:");
    assert_string_equal(mh_tls_days_range(buf, sizeof buf, 0.5), "0.5:");
    assert_string_equal(mh_tls_days_range(buf, sizeof buf, 0), "0:");
    /* '.' whatever the locale (skipped where no such locale exists). */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") != NULL ||
        setlocale(LC_NUMERIC, "fr_FR.UTF-8") != NULL) {
        assert_string_equal(mh_tls_days_range(buf, sizeof buf, 7.25), "7.25:");
        setlocale(LC_NUMERIC, "C");
    }
}

static void
test_asn1_time(void **state)
{
    (void)state;
    double t = 0;
    char iso[32];
    ASN1_TIME *a = ASN1_TIME_set(NULL, (time_t)NOW);
    assert_non_null(a);
    assert_int_equal(mh_tls_asn1_time(a, &t, iso, sizeof iso), 0);
    assert_true(t == NOW);
    assert_string_equal(iso, "2026-01-01T00:00:00Z");
    /* GeneralizedTime (after 2049, RFC 5280 4.1.2.5). */
    assert_int_equal(ASN1_TIME_set_string(a, "20600229123456Z"), 1);
    assert_int_equal(mh_tls_asn1_time(a, &t, iso, sizeof iso), 0);
    assert_string_equal(iso, "2060-02-29T12:34:56Z");
    assert_true(t == 2845283696.0);
    /* UTCTime before 2000. */
    assert_int_equal(ASN1_TIME_set_string(a, "991231235959Z"), 1);
    assert_int_equal(mh_tls_asn1_time(a, &t, iso, sizeof iso), 0);
    assert_string_equal(iso, "1999-12-31T23:59:59Z");
    assert_true(t == 946684799.0);
    ASN1_TIME_free(a);
    assert_int_equal(mh_tls_asn1_time(NULL, &t, iso, sizeof iso), -1);
}

/* ====== A test PKI in memory ====== */

static EVP_PKEY *k_root, *k_inter, *k_leaf;
static X509 *c_root, *c_inter, *c_inter_soon, *c_inter_expired;
static long serial = 1000;

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
    assert_non_null(e);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

/*
 * A certificate for cn with key, valid from NOW+from_days to NOW+to_days,
 * signed by issuer/ikey (NULL: self-signed). ca makes a CA certificate;
 * san (leaf only) is a subjectAltName value or NULL.
 */
static X509 *
mkcert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, bool ca,
       long from_days, long to_days, const char *san)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    assert_non_null(
        ASN1_TIME_adj(X509_getm_notBefore(x), (time_t)NOW, (int)from_days, 0));
    assert_non_null(
        ASN1_TIME_adj(X509_getm_notAfter(x), (time_t)NOW, (int)to_days, 0));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    X509_NAME *n = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                                (const unsigned char *)cn, -1,
                                                -1, 0),
                     1);
    X509 *signer = issuer != NULL ? issuer : x;
    assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(signer)), 1);
    add_ext(x, signer, NID_subject_key_identifier, "hash");
    if (issuer != NULL) {
        add_ext(x, signer, NID_authority_key_identifier, "keyid:always");
    }
    if (ca) {
        add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, signer, NID_key_usage, "critical,digitalSignature");
        add_ext(x, signer, NID_ext_key_usage, "serverAuth");
        if (san != NULL) {
            add_ext(x, signer, NID_subject_alt_name, san);
        }
    }
    assert_true(X509_sign(x, issuer != NULL ? ikey : key, EVP_sha256()) > 0);
    return x;
}

static int
pki_setup(void **state)
{
    (void)state;
    k_root = EVP_EC_gen("P-256");
    k_inter = EVP_EC_gen("P-256");
    k_leaf = EVP_EC_gen("P-256");
    if (k_root == NULL || k_inter == NULL || k_leaf == NULL) {
        return -1;
    }
    c_root = mkcert("Test Root CA", k_root, NULL, NULL, true, -700, 3000, NULL);
    c_inter = mkcert("Test Intermediate CA", k_inter, c_root, k_root, true,
                     -700, 1800, NULL);
    c_inter_soon = mkcert("Test Intermediate CA (soon)", k_inter, c_root,
                          k_root, true, -300, 10, NULL);
    c_inter_expired = mkcert("Test Intermediate CA (expired)", k_inter, c_root,
                             k_root, true, -700, -1, NULL);
    return 0;
}

static int
pki_teardown(void **state)
{
    (void)state;
    X509_free(c_root);
    X509_free(c_inter);
    X509_free(c_inter_soon);
    X509_free(c_inter_expired);
    EVP_PKEY_free(k_root);
    EVP_PKEY_free(k_inter);
    EVP_PKEY_free(k_leaf);
    return 0;
}

#define MX_SAN "DNS:mx.example.com"

/* One evaluation: certificates as sent, the trust store, the name. */
struct run {
    STACK_OF(X509) * sent;
    X509_STORE *store;
    X509_VERIFY_PARAM *param;
    struct mh_tls_peer peer;
    struct mh_tls_check_params p;
    struct mh_result *r;
};

/* Prepares a run: sent certificates (NULL-terminated, references taken),
 * root in the store (when trust_root), name to verify (NULL: none; IP
 * literals as IP). SNI is the name unless it is an IP. */
static void
run_init(struct run *u, bool trust_root, const char *name, ...)
{
    memset(u, 0, sizeof *u);
    u->sent = sk_X509_new_null();
    va_list ap;
    va_start(ap, name);
    for (X509 *c; (c = va_arg(ap, X509 *)) != NULL;) {
        X509_up_ref(c);
        sk_X509_push(u->sent, c);
    }
    va_end(ap);
    u->store = X509_STORE_new();
    if (trust_root) {
        X509_STORE_add_cert(u->store, c_root);
    }
    u->param = X509_VERIFY_PARAM_new();
    bool ip = name != NULL && strchr(name, '.') != NULL &&
              strspn(name, "0123456789.") == strlen(name);
    if (name != NULL) {
        if (ip) {
            X509_VERIFY_PARAM_set1_ip_asc(u->param, name);
        } else {
            X509_VERIFY_PARAM_set1_host(u->param, name, 0);
        }
    }
    u->peer = (struct mh_tls_peer){
        .sent = u->sent,
        .verified = NULL,
        .verify_result = MH_TLS_VERIFY_NOT_RUN,
        .store = u->store,
        .param = u->param,
        .auth_level = 1,
        .sni = ip ? NULL : name,
        .version = "TLSv1.3",
        .cipher = "TLS_AES_256_GCM_SHA384",
    };
    u->p = (struct mh_tls_check_params){
        .verify = true,
        .verify_name = name,
        .sni_sent = name != NULL,
        .warn_days = 30,
        .crit_days = 14,
        .now = NOW,
        .where = "mx.example.com[192.0.2.25]:25",
    };
    u->r = mh_result_new("tls", "mx.example.com:25");
    assert_non_null(u->r);
}

static void
run_check(struct run *u)
{
    mh_tls_check_peer(&u->peer, &u->p, u->r);
    mh_result_finish(u->r);
    if (getenv("TLSCHECK_DEBUG") != NULL) {
        fprintf(stderr, "%s: %s\n", mh_state_name(u->r->state), u->r->summary);
    }
}

static void
run_free(struct run *u)
{
    sk_X509_pop_free(u->sent, X509_free);
    X509_STORE_free(u->store);
    X509_VERIFY_PARAM_free(u->param);
    mh_result_free(u->r);
}

static const struct mh_perf *
perf(const struct mh_result *r, const char *label)
{
    for (size_t i = 0; i < r->nperf; i++) {
        if (strcmp(r->perf[i].label, label) == 0) {
            return &r->perf[i];
        }
    }
    return NULL;
}

static size_t
samples(const struct mh_result *r, const char *family)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nsamples; i++) {
        n += strcmp(r->samples[i].family, family) == 0;
    }
    return n;
}

static double
sample_value(const struct mh_result *r, const char *family)
{
    for (size_t i = 0; i < r->nsamples; i++) {
        if (strcmp(r->samples[i].family, family) == 0) {
            return r->samples[i].value;
        }
    }
    fail_msg("no sample %s", family);
    return -1;
}

static const struct mh_item *
item(const struct mh_result *r, const char *kind, const char *name)
{
    for (size_t i = 0; i < r->nitems; i++) {
        if (strcmp(r->items[i].kind, kind) == 0 &&
            strcmp(r->items[i].name, name) == 0) {
            return &r->items[i];
        }
    }
    return NULL;
}

/* Like perf()/item() but never NULL: a missing entry fails the test. */
static const struct mh_perf *
get_perf(const struct mh_result *r, const char *label)
{
    static const struct mh_perf none;
    const struct mh_perf *pf = perf(r, label);
    if (pf == NULL) {
        fail_msg("no perfdata %s", label);
        return &none;
    }
    return pf;
}

static const struct mh_item *
get_item(const struct mh_result *r, const char *kind, const char *name)
{
    static const struct mh_item none;
    const struct mh_item *it = item(r, kind, name);
    if (it == NULL) {
        fail_msg("no item %s %s", kind, name);
        return &none;
    }
    return it;
}

static void
assert_summary_has(const struct mh_result *r, const char *text)
{
    if (r->summary == NULL || strstr(r->summary, text) == NULL) {
        fail_msg("summary \"%s\" lacks \"%s\"",
                 r->summary != NULL ? r->summary : "(null)", text);
    }
}

static void
assert_summary_lacks(const struct mh_result *r, const char *text)
{
    if (r->summary != NULL && strstr(r->summary, text) != NULL) {
        fail_msg("summary \"%s\" has \"%s\"", r->summary, text);
    }
}

/* ====== Chain evaluation ====== */

/* Full chain (leaf + intermediate), root trusted: OK, every element
 * reported, thresholds in the perfdata, samples for each path element. */
static void
test_valid_chain(void **state)
{
    (void)state;
    X509 *leaf = mkcert("mx.example.com", k_leaf, c_inter, k_inter, false, -1,
                        90, MX_SAN);
    struct run u;
    run_init(&u, true, "mx.example.com", leaf, c_inter, (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_OK);
    assert_null(u.r->summary == NULL ? NULL : strstr(u.r->summary, "verify"));
    assert_true(sample_value(u.r, "mailhealth_tls_verified") == 1);
    /* Path: leaf, intermediate, root (trust anchor). */
    assert_non_null(item(u.r, "cert", "depth 0"));
    assert_non_null(item(u.r, "cert", "depth 1"));
    assert_non_null(item(u.r, "cert", "depth 2"));
    assert_null(item(u.r, "cert", "depth 3"));
    assert_int_equal(
        samples(u.r, "mailhealth_tls_cert_expiry_timestamp_seconds"), 3);
    assert_true(
        sample_value(u.r,
                     "mailhealth_tls_earliest_cert_expiry_timestamp_seconds") ==
        NOW + 90 * DAY);
    const struct mh_perf *d0 = get_perf(u.r, "cert_days_depth0");
    assert_true(d0->value == 90.0);
    assert_string_equal(d0->warn, "30:");
    assert_string_equal(d0->crit, "14:");
    assert_non_null(perf(u.r, "cert_days_depth1"));
    const struct mh_perf *e = get_perf(u.r, "cert_days_earliest");
    assert_true(e->value == 90.0);
    /* The element line has every fact: subject, role, issuer, notAfter,
     * days left, key and signature. */
    const struct mh_item *it = get_item(u.r, "cert", "depth 0");
    assert_non_null(strstr(it->text, "CN=mx.example.com"));
    assert_non_null(strstr(it->text, "issuer CN=Test Intermediate CA"));
    assert_non_null(strstr(it->text, "notAfter 2026-04-01T00:00:00Z"));
    assert_non_null(strstr(it->text, "90.0 days left"));
    assert_non_null(strstr(it->text, "EC 256 bits (prime256v1)"));
    assert_non_null(strstr(it->text, "ecdsa-with-SHA256"));
    assert_non_null(strstr(get_item(u.r, "cert", "depth 2")->text, "(root)"));
    char sum[1024];
    assert_int_equal(mh_tls_ok_summary(u.r, sum, sizeof sum), 0);
    assert_non_null(strstr(sum, "certificate OK: CN=mx.example.com, chain of "
                                "3 verified, TLSv1.3 TLS_AES_256_GCM_SHA384"));
    assert_non_null(strstr(sum, "earliest expiry in 90.0 days "
                                "(2026-04-01T00:00:00Z, CN=mx.example.com)"));
    run_free(&u);
    X509_free(leaf);
}

/* The handshake's verified chain is used as is (no second verification):
 * the result must be the same as above. */
static void
test_verified_in_handshake(void **state)
{
    (void)state;
    X509 *leaf = mkcert("mx.example.com", k_leaf, c_inter, k_inter, false, -1,
                        90, MX_SAN);
    struct run u;
    run_init(&u, false, "mx.example.com", leaf, c_inter, (X509 *)NULL);
    STACK_OF(X509) *v = sk_X509_new_null();
    sk_X509_push(v, leaf);
    sk_X509_push(v, c_inter);
    sk_X509_push(v, c_root);
    u.peer.verified = v;
    u.peer.verify_result = X509_V_OK;
    /* The store is empty: a re-verification would fail. */
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_OK);
    assert_true(sample_value(u.r, "mailhealth_tls_verified") == 1);
    assert_non_null(item(u.r, "cert", "depth 2"));
    sk_X509_free(v);
    run_free(&u);
    X509_free(leaf);
}

/* Expired leaf: CRITICAL/tls with OpenSSL's reason and the date. */
static void
test_expired_leaf(void **state)
{
    (void)state;
    X509 *leaf = mkcert("mx.example.com", k_leaf, c_inter, k_inter, false, -100,
                        -10, MX_SAN);
    struct run u;
    run_init(&u, true, "mx.example.com", leaf, c_inter, (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_CRITICAL);
    assert_int_equal(u.r->category, MH_CAT_TLS);
    assert_summary_has(u.r, "mx.example.com[192.0.2.25]:25: certificate "
                            "verify failed: CN=mx.example.com: certificate "
                            "has expired (notAfter 2025-12-22T00:00:00Z, "
                            "expired 10.0 days ago)");
    assert_true(sample_value(u.r, "mailhealth_tls_verified") == 0);
    assert_true(get_perf(u.r, "cert_days_depth0")->value == -10.0);
    /* Reported once, not again as an expiry problem. */
    assert_summary_lacks(u.r, "certificate CN=mx.example.com expired");
    run_free(&u);
    X509_free(leaf);
}

/* Expiring in 10 days: WARNING at 30,7, CRITICAL at 30,14. */
static void
test_soon_leaf(void **state)
{
    (void)state;
    X509 *leaf = mkcert("mx.example.com", k_leaf, c_inter, k_inter, false, -80,
                        10, MX_SAN);
    struct run u;
    run_init(&u, true, "mx.example.com", leaf, c_inter, (X509 *)NULL);
    u.p.crit_days = 7;
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_WARNING);
    assert_int_equal(u.r->category, MH_CAT_TLS);
    assert_summary_has(u.r, "certificate CN=mx.example.com expires in 10.0 "
                            "days (notAfter 2026-01-11T00:00:00Z)");
    assert_string_equal(get_perf(u.r, "cert_days_depth0")->crit, "7:");
    assert_true(sample_value(u.r, "mailhealth_tls_verified") == 1);
    run_free(&u);

    run_init(&u, true, "mx.example.com", leaf, c_inter, (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_CRITICAL);
    assert_summary_has(u.r, "expires in 10.0 days");
    run_free(&u);
    X509_free(leaf);
}

/* Self-signed leaf (BR-26 B). */
static void
test_self_signed(void **state)
{
    (void)state;
    X509 *leaf =
        mkcert("mx.example.com", k_leaf, NULL, NULL, false, -1, 90, MX_SAN);
    struct run u;
    run_init(&u, true, "mx.example.com", leaf, (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_CRITICAL);
    assert_int_equal(u.r->category, MH_CAT_TLS);
    assert_summary_has(u.r, "certificate verify failed: CN=mx.example.com: "
                            "self-signed certificate");
    assert_non_null(item(u.r, "cert", "depth 0"));
    assert_non_null(item(u.r, "verify", "depth 0"));
    /* Still an expiry for the element we have. */
    assert_true(get_perf(u.r, "cert_days_earliest")->value == 90.0);
    run_free(&u);

    /* --no-verify: a note only; expiry still checked. */
    run_init(&u, true, "mx.example.com", leaf, (X509 *)NULL);
    u.p.verify = false;
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_OK);
    assert_true(sample_value(u.r, "mailhealth_tls_verified") == 0);
    assert_int_equal(get_item(u.r, "verify", "depth 0")->state, MH_STATE_OK);
    char sum[1024];
    assert_int_equal(mh_tls_ok_summary(u.r, sum, sizeof sum), 0);
    assert_non_null(strstr(sum, "NOT verified (--no-verify: CN=mx.example.com: "
                                "self-signed certificate)"));
    run_free(&u);
    X509_free(leaf);
}

/* Wrong name: OpenSSL's "hostname mismatch" plus the names the
 * certificate has. */
static void
test_wrong_name(void **state)
{
    (void)state;
    X509 *leaf = mkcert("wrong.example.com", k_leaf, c_inter, k_inter, false,
                        -1, 90, "DNS:wrong.example.com,DNS:www.example.com");
    struct run u;
    run_init(&u, true, "mx.example.com", leaf, c_inter, (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_CRITICAL);
    assert_summary_has(u.r, "CN=wrong.example.com: hostname mismatch: not "
                            "valid for mx.example.com (certificate names: "
                            "wrong.example.com, www.example.com)");
    assert_summary_lacks(u.r, "no SNI");
    run_free(&u);
    X509_free(leaf);
}

/* BR-25: only the leaf sent, the intermediate missing. */
static void
test_intermediate_not_sent(void **state)
{
    (void)state;
    X509 *leaf = mkcert("mx.example.com", k_leaf, c_inter, k_inter, false, -1,
                        90, MX_SAN);
    struct run u;
    run_init(&u, true, "mx.example.com", leaf, (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_CRITICAL);
    assert_int_equal(u.r->category, MH_CAT_TLS);
    assert_summary_has(u.r, "incomplete chain: server did not send the issuer "
                            "of CN=mx.example.com (CN=Test Intermediate CA); "
                            "mail clients do not fetch missing "
                            "intermediates");
    /* OpenSSL's own reason is kept, once. */
    assert_summary_has(u.r, "unable to get local issuer certificate");
    const char *first = strstr(u.r->summary, "incomplete chain");
    assert_null(strstr(first + 1, "incomplete chain"));
    run_free(&u);

    /* With the intermediate sent: OK. */
    run_init(&u, true, "mx.example.com", leaf, c_inter, (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_OK);
    run_free(&u);
    X509_free(leaf);
}

/* Full chain sent but its root is not trusted (a private CA, or the wrong
 * --ca-file): not called an incomplete chain. */
static void
test_unknown_root(void **state)
{
    (void)state;
    X509 *leaf = mkcert("mx.example.com", k_leaf, c_inter, k_inter, false, -1,
                        90, MX_SAN);
    struct run u;
    run_init(&u, false, "mx.example.com", leaf, c_inter, (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_CRITICAL);
    assert_summary_has(u.r, "unknown issuer: CN=Test Root CA, issuer of "
                            "CN=Test Intermediate CA, is neither in the trust "
                            "store nor sent by the server");
    assert_summary_lacks(u.r, "incomplete chain");
    run_free(&u);

    /* The server sends the root too: OpenSSL's "self-signed certificate in
     * certificate chain". */
    run_init(&u, false, "mx.example.com", leaf, c_inter, c_root, (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_CRITICAL);
    assert_summary_has(u.r, "CN=Test Root CA: self-signed certificate in "
                            "certificate chain");
    run_free(&u);
    X509_free(leaf);
}

/* An intermediate that expires soon warns like a leaf. */
static void
test_intermediate_soon(void **state)
{
    (void)state;
    X509 *leaf = mkcert("mx.example.com", k_leaf, c_inter_soon, k_inter, false,
                        -1, 90, MX_SAN);
    struct run u;
    run_init(&u, true, "mx.example.com", leaf, c_inter_soon, (X509 *)NULL);
    u.p.crit_days = 7;
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_WARNING);
    assert_summary_has(u.r, "intermediate CN=Test Intermediate CA (soon) "
                            "expires in 10.0 days");
    assert_int_equal(get_item(u.r, "cert", "depth 1")->state, MH_STATE_WARNING);
    assert_int_equal(get_item(u.r, "cert", "depth 0")->state, MH_STATE_OK);
    /* The earliest expiry is the intermediate's. */
    assert_true(get_perf(u.r, "cert_days_earliest")->value == 10.0);
    assert_true(
        sample_value(u.r,
                     "mailhealth_tls_earliest_cert_expiry_timestamp_seconds") ==
        NOW + 10 * DAY);
    run_free(&u);
    X509_free(leaf);
}

/* A path longer than the report's MH_TLS_MAX_ELEMS (leaf, 13
 * intermediates, root): the unreported intermediate that expires first is
 * judged and shown all the same, and "verified to" names the real trust
 * anchor, not the last reported element. */
static void
test_long_chain(void **state)
{
    (void)state;
    enum { NINTER = 13 };
    EVP_PKEY *k[NINTER];
    X509 *inter[NINTER];
    for (int i = 0; i < NINTER; i++) {
        char cn[32];
        snprintf(cn, sizeof cn, "Long %d", i);
        k[i] = EVP_EC_gen("P-256");
        assert_non_null(k[i]);
        inter[i] = mkcert(cn, k[i], i == 0 ? c_root : inter[i - 1],
                          i == 0 ? k_root : k[i - 1], true, -300,
                          i == 0 ? 10 : 1000, NULL);
    }
    X509 *leaf = mkcert("mx.example.com", k_leaf, inter[NINTER - 1],
                        k[NINTER - 1], false, -1, 90, MX_SAN);
    struct run u;
    run_init(&u, true, "mx.example.com", leaf, (X509 *)NULL);
    for (int i = NINTER - 1; i >= 0; i--) {
        X509_up_ref(inter[i]);
        sk_X509_push(u.sent, inter[i]);
    }
    u.p.crit_days = 7;
    run_check(&u);
    /* Long 0 is at depth 13 (leaf 0, Long 12 at 1, ..., root at 14). */
    assert_int_equal(u.r->state, MH_STATE_WARNING);
    assert_summary_has(u.r, "intermediate CN=Long 0 expires in 10.0 days");
    assert_int_equal(get_item(u.r, "cert", "depth 13")->state,
                     MH_STATE_WARNING);
    assert_null(item(u.r, "cert", "depth 12"));
    assert_non_null(item(u.r, "cert", "depth 11"));
    assert_true(get_perf(u.r, "cert_days_earliest")->value == 10.0);
    assert_non_null(strstr(get_item(u.r, "tls", "verify")->text,
                           "chain of 15 verified to CN=Test Root CA"));
    run_free(&u);
    X509_free(leaf);
    for (int i = 0; i < NINTER; i++) {
        X509_free(inter[i]);
        EVP_PKEY_free(k[i]);
    }
}

/* An expired intermediate: CRITICAL, named. */
static void
test_intermediate_expired(void **state)
{
    (void)state;
    X509 *leaf = mkcert("mx.example.com", k_leaf, c_inter_expired, k_inter,
                        false, -30, 90, MX_SAN);
    struct run u;
    run_init(&u, true, "mx.example.com", leaf, c_inter_expired, (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_CRITICAL);
    assert_summary_has(u.r, "CN=Test Intermediate CA (expired): certificate "
                            "has expired");
    assert_int_equal(get_item(u.r, "cert", "depth 1")->state,
                     MH_STATE_CRITICAL);
    assert_int_equal(get_item(u.r, "cert", "depth 0")->state, MH_STATE_OK);
    run_free(&u);

    /* --no-verify: still CRITICAL, by the expiry thresholds. */
    run_init(&u, true, "mx.example.com", leaf, c_inter_expired, (X509 *)NULL);
    u.p.verify = false;
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_CRITICAL);
    assert_summary_has(u.r, "intermediate CN=Test Intermediate CA (expired) "
                            "expired 1.0 days ago");
    run_free(&u);
    X509_free(leaf);
}

/* An extra, expired certificate not on the verified path: WARNING only,
 * not the earliest expiry, no expiry sample. */
static void
test_extra_expired(void **state)
{
    (void)state;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *old =
        mkcert("Old Cross-signed Root", k, NULL, NULL, true, -4000, -30, NULL);
    X509 *leaf = mkcert("mx.example.com", k_leaf, c_inter, k_inter, false, -1,
                        90, MX_SAN);
    struct run u;
    run_init(&u, true, "mx.example.com", leaf, c_inter, old, (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_WARNING);
    assert_int_equal(u.r->category, MH_CAT_TLS);
    assert_summary_has(u.r, "certificate CN=Old Cross-signed Root sent but "
                            "not on the verified path (expired 30.0 days "
                            "ago");
    assert_summary_has(u.r, "remove it from the chain");
    assert_true(sample_value(u.r, "mailhealth_tls_verified") == 1);
    const struct mh_item *x = get_item(u.r, "cert", "extra 2");
    assert_int_equal(x->state, MH_STATE_WARNING);
    assert_true(get_perf(u.r, "cert_days_earliest")->value == 90.0);
    assert_int_equal(
        samples(u.r, "mailhealth_tls_cert_expiry_timestamp_seconds"), 3);
    assert_null(perf(u.r, "cert_days_depth3"));
    run_free(&u);

    /* The root sent along is on the path: not an extra. */
    run_init(&u, true, "mx.example.com", leaf, c_inter, c_root, (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_OK);
    assert_null(item(u.r, "cert", "extra 2"));
    run_free(&u);
    X509_free(leaf);
    X509_free(old);
    EVP_PKEY_free(k);
}

/* BR-22 B: the default certificate of a server asked without SNI, target
 * an IP: every problem listed, plus the SNI hint. */
static void
test_every_problem_listed(void **state)
{
    (void)state;
    X509 *dflt = mkcert("localhost", k_leaf, NULL, NULL, false, -800, -400,
                        "DNS:localhost");
    struct run u;
    run_init(&u, true, "192.0.2.25", dflt, (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_CRITICAL);
    assert_int_equal(u.r->category, MH_CAT_TLS);
    assert_summary_has(u.r, "CN=localhost: self-signed certificate");
    assert_summary_has(u.r, "certificate has expired (notAfter ");
    assert_summary_has(u.r, "expired 400.0 days ago");
    assert_summary_has(u.r, "IP address mismatch: not valid for 192.0.2.25 "
                            "(certificate names: localhost)");
    assert_summary_has(u.r, "no SNI sent (target is an IP; give --sni)");
    run_free(&u);
    X509_free(dflt);
}

/* No certificate at all. */
static void
test_no_certificate(void **state)
{
    (void)state;
    struct run u;
    run_init(&u, true, "mx.example.com", (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_CRITICAL);
    assert_int_equal(u.r->category, MH_CAT_TLS);
    assert_summary_has(u.r, "server sent no certificate");
    assert_true(sample_value(u.r, "mailhealth_tls_verified") == 0);
    run_free(&u);
}

/* Hostile subject text stays printable; the verification error list is
 * bounded. */
static void
test_hostile_subject(void **state)
{
    (void)state;
    X509 *leaf = mkcert("evil\r\n\x1b[31m\xc3\xa9|\"x", k_leaf, NULL, NULL,
                        false, -1, 90, "DNS:evil.example.com");
    struct run u;
    run_init(&u, true, "mx.example.com", leaf, (X509 *)NULL);
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_CRITICAL);
    for (const char *s = u.r->summary; *s != '\0'; s++) {
        assert_true(*s >= 0x20 && *s <= 0x7e);
    }
    for (size_t i = 0; i < u.r->nsamples; i++) {
        for (size_t k = 0; k < 2 * u.r->samples[i].nlabels; k++) {
            for (const char *s = u.r->samples[i].labels[k]; *s != '\0'; s++) {
                assert_true(*s >= 0x20 && *s <= 0x7e);
            }
        }
    }
    run_free(&u);
    X509_free(leaf);
}

/* --no-sni with a name: the hint names the option; no facts, no summary. */
static void
test_no_sni_hint(void **state)
{
    (void)state;
    X509 *leaf = mkcert("default.example.com", k_leaf, c_inter, k_inter, false,
                        -1, 90, "DNS:default.example.com");
    struct run u;
    run_init(&u, true, "mx.example.com", leaf, c_inter, (X509 *)NULL);
    u.peer.sni = NULL;
    u.p.sni_sent = false;
    run_check(&u);
    assert_int_equal(u.r->state, MH_STATE_CRITICAL);
    assert_summary_has(u.r, "hostname mismatch");
    assert_summary_has(u.r, "no SNI sent (--no-sni)");
    run_free(&u);
    X509_free(leaf);

    struct mh_result *r = mh_result_new("tls", "x:25");
    assert_non_null(r);
    char sum[64];
    assert_int_equal(mh_tls_ok_summary(r, sum, sizeof sum), -1);
    assert_string_equal(sum, "");
    mh_result_free(r);
}

/* ====== The report (mh_tls_report_peer) ====== */

/* The report of a run, and its rendering equal to mh_tls_check_peer's. */
static struct mh_tls_report *
run_report(struct run *u)
{
    struct mh_tls_report *rep = mh_tls_report_peer(&u->peer, &u->p);
    assert_non_null(rep);
    run_check(u);
    struct mh_result *again = mh_result_new("tls", "mx.example.com:25");
    assert_non_null(again);
    mh_tls_report_render(rep, &u->p, again);
    mh_result_finish(again);
    assert_int_equal(again->state, u->r->state);
    assert_int_equal(again->reason, u->r->reason);
    assert_int_equal(again->nitems, u->r->nitems);
    assert_int_equal(again->nperf, u->r->nperf);
    assert_int_equal(again->nsamples, u->r->nsamples);
    if (u->r->summary != NULL) {
        assert_string_equal(again->summary, u->r->summary);
    }
    mh_result_free(again);
    return rep;
}

/* Facts of a verified chain; no failure. */
static void
test_report_valid(void **state)
{
    (void)state;
    X509 *leaf = mkcert("mx.example.com", k_leaf, c_inter, k_inter, false, -1,
                        90, MX_SAN);
    struct run u;
    run_init(&u, true, "mx.example.com", leaf, c_inter, (X509 *)NULL);
    struct mh_tls_report *rep = run_report(&u);
    assert_true(rep->checked);
    assert_true(rep->verified);
    assert_string_equal(rep->version, "TLSv1.3");
    assert_string_equal(rep->cipher, "TLS_AES_256_GCM_SHA384");
    assert_true(rep->has_sni);
    assert_string_equal(rep->sni, "mx.example.com");
    assert_int_equal(rep->nsent, 2);
    assert_int_equal(rep->nchain, 3);
    assert_int_equal(rep->npath, 3);
    assert_string_equal(rep->path[0].subject, "CN=mx.example.com");
    assert_string_equal(rep->path[0].issuer, "CN=Test Intermediate CA");
    assert_string_equal(rep->path[0].role, "leaf");
    assert_string_equal(rep->path[1].role, "intermediate");
    assert_string_equal(rep->path[2].role, "root");
    assert_true(rep->path[2].self_issued);
    assert_string_equal(rep->path[0].not_after_iso, "2026-04-01T00:00:00Z");
    assert_true(rep->path[0].days == 90.0);
    assert_string_equal(rep->path[0].names, "mx.example.com");
    assert_int_equal(rep->path[0].state, MH_STATE_OK);
    assert_int_equal(rep->earliest, 0);
    assert_int_equal(rep->nproblems, 0);
    assert_int_equal(rep->failure.state, MH_STATE_OK);
    assert_string_equal(rep->failure.phase, "");
    free(rep);
    run_free(&u);
    X509_free(leaf);
}

/* One failure record: the first problem the summary names. */
static void
test_report_failures(void **state)
{
    (void)state;
    X509 *expired = mkcert("mx.example.com", k_leaf, c_inter, k_inter, false,
                           -100, -10, MX_SAN);
    X509 *soon = mkcert("mx.example.com", k_leaf, c_inter, k_inter, false, -80,
                        10, MX_SAN);
    X509 *fresh = mkcert("mx.example.com", k_leaf, c_inter, k_inter, false, -1,
                         90, MX_SAN);
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *old =
        mkcert("Old Cross-signed Root", k, NULL, NULL, true, -4000, -30, NULL);
    struct run u;

    run_init(&u, true, "mx.example.com", expired, c_inter, (X509 *)NULL);
    struct mh_tls_report *rep = run_report(&u);
    assert_false(rep->verified);
    assert_int_equal(rep->nproblems, 1);
    assert_int_equal(rep->problems[0].err, X509_V_ERR_CERT_HAS_EXPIRED);
    assert_int_equal(rep->problems[0].depth, 0);
    assert_int_equal(rep->problems[0].reason, MH_REASON_CERT_EXPIRED);
    assert_int_equal(rep->path[0].state, MH_STATE_CRITICAL);
    assert_int_equal(rep->path[0].reason, MH_REASON_CERT_EXPIRED);
    assert_int_equal(rep->failure.state, MH_STATE_CRITICAL);
    assert_string_equal(rep->failure.phase, "verify");
    assert_int_equal(rep->failure.reason, MH_REASON_CERT_EXPIRED);
    assert_int_equal(rep->failure.category, MH_CAT_TLS);
    assert_non_null(strstr(rep->failure.cause, "certificate verify failed: "
                                               "CN=mx.example.com: "
                                               "certificate has expired"));
    free(rep);
    run_free(&u);

    run_init(&u, true, "mx.example.com", soon, c_inter, (X509 *)NULL);
    u.p.crit_days = 7;
    rep = run_report(&u);
    assert_true(rep->verified);
    assert_int_equal(rep->failure.state, MH_STATE_WARNING);
    assert_string_equal(rep->failure.phase, "expiry");
    assert_int_equal(rep->failure.reason, MH_REASON_CERT_EXPIRING);
    free(rep);
    run_free(&u);

    run_init(&u, true, "mx.example.com", fresh, c_inter, old, (X509 *)NULL);
    rep = run_report(&u);
    assert_int_equal(rep->nextra, 1);
    assert_int_equal(rep->nextra_reported, 1);
    assert_int_equal(rep->extra[0].index, 2);
    assert_string_equal(rep->extra[0].role,
                        "self-signed, not on the verified path");
    assert_int_equal(rep->extra[0].state, MH_STATE_WARNING);
    assert_int_equal(rep->failure.state, MH_STATE_WARNING);
    assert_string_equal(rep->failure.phase, "chain");
    assert_int_equal(rep->failure.reason, MH_REASON_CERT_EXPIRED);
    free(rep);
    run_free(&u);

    run_init(&u, true, "mx.example.com", (X509 *)NULL);
    rep = run_report(&u);
    assert_false(rep->checked);
    assert_int_equal(rep->nsent, 0);
    assert_string_equal(rep->failure.phase, "certificate");
    assert_int_equal(rep->failure.reason, MH_REASON_CERT_MISSING);
    assert_string_equal(rep->failure.cause, "server sent no certificate");
    free(rep);
    run_free(&u);

    X509_free(expired);
    X509_free(soon);
    X509_free(fresh);
    X509_free(old);
    EVP_PKEY_free(k);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days_left),
        cmocka_unit_test(test_days_state),
        cmocka_unit_test(test_days_range),
        cmocka_unit_test(test_asn1_time),
        cmocka_unit_test(test_valid_chain),
        cmocka_unit_test(test_verified_in_handshake),
        cmocka_unit_test(test_expired_leaf),
        cmocka_unit_test(test_soon_leaf),
        cmocka_unit_test(test_self_signed),
        cmocka_unit_test(test_wrong_name),
        cmocka_unit_test(test_intermediate_not_sent),
        cmocka_unit_test(test_unknown_root),
        cmocka_unit_test(test_intermediate_soon),
        cmocka_unit_test(test_intermediate_expired),
        cmocka_unit_test(test_long_chain),
        cmocka_unit_test(test_extra_expired),
        cmocka_unit_test(test_every_problem_listed),
        cmocka_unit_test(test_no_certificate),
        cmocka_unit_test(test_hostile_subject),
        cmocka_unit_test(test_no_sni_hint),
        cmocka_unit_test(test_report_valid),
        cmocka_unit_test(test_report_failures),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
