/* SPDX-License-Identifier: MIT */
/*
 * tlscheck: certificate checks of an established TLS session (see
 * tlscheck.h).
 */
#include "tlscheck.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

enum mh_state
mh_tls_days_state(double days_left, double warn_days, double crit_days)
{
    if (days_left < crit_days) {
        return MH_STATE_CRITICAL;
    }
    if (days_left < warn_days) {
        return MH_STATE_WARNING;
    }
    return MH_STATE_OK;
}

void
mh_tls_note_session(SSL *ssl, struct mh_result *r)
{
    const char *ver = SSL_get_version(ssl);
    const char *cipher = SSL_get_cipher_name(ssl);
    mh_result_add_sample(r, "mailhealth_tls_version_info", 1, "version",
                         ver != NULL ? ver : "unknown", "cipher",
                         cipher != NULL ? cipher : "unknown",
                         (const char *)NULL);
}

/* notAfter as Unix time; false if it cannot be read. */
static bool
not_after_unix(const X509 *cert, double *out)
{
    const ASN1_TIME *na = X509_get0_notAfter(cert);
    struct tm tm;
    if (na == NULL || ASN1_TIME_to_tm(na, &tm) != 1) {
        return false;
    }
    *out = (double)timegm(&tm);
    return true;
}

static void
name_text(const X509_NAME *name, char *buf, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    buf[0] = '\0';
    if (b == NULL) {
        return;
    }
    /* RFC 2253 order with the usual short names, one line. */
    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    int n = BIO_read(b, buf, (int)len - 1);
    buf[n > 0 ? n : 0] = '\0';
    BIO_free(b);
}

void
mh_tls_check_session(SSL *ssl, const struct mh_tls_check_params *p,
                     struct mh_result *r)
{
    mh_tls_note_session(ssl, r);
    long vr = SSL_get_verify_result(ssl);
    bool verified = vr == X509_V_OK;
    mh_result_add_sample(r, "mailhealth_tls_verified", verified ? 1 : 0,
                         (const char *)NULL);
    if (!verified) {
        enum mh_state st = p->verify ? MH_STATE_CRITICAL : MH_STATE_OK;
        mh_result_add_item(r, "cert", "verify", st,
                           p->verify ? MH_CAT_TLS : MH_CAT_NONE,
                           "certificate verify failed: %s",
                           X509_verify_cert_error_string(vr));
        mh_result_raise(r, st, MH_CAT_TLS, "certificate verify failed: %s",
                        X509_verify_cert_error_string(vr));
    }
    STACK_OF(X509) *chain = SSL_get0_verified_chain(ssl);
    if (chain == NULL) {
        chain = SSL_get_peer_cert_chain(ssl);
    }
    double earliest = 0;
    for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);
        double na;
        if (!not_after_unix(c, &na)) {
            continue;
        }
        if (earliest == 0 || na < earliest) {
            earliest = na;
        }
        char subj[256], iss[256], depth[16];
        name_text(X509_get_subject_name(c), subj, sizeof subj);
        name_text(X509_get_issuer_name(c), iss, sizeof iss);
        snprintf(depth, sizeof depth, "%d", i);
        double days = (na - p->now) / 86400.0;
        enum mh_state st = mh_tls_days_state(days, p->warn_days, p->crit_days);
        mh_result_add_item(r, "cert", depth, st,
                           st == MH_STATE_OK ? MH_CAT_NONE : MH_CAT_TLS,
                           "%s, %.1f days left", subj, days);
        mh_result_add_sample(r, "mailhealth_tls_cert_expiry_timestamp_seconds",
                             na, "depth", depth, "subject", subj, "issuer",
                             iss, (const char *)NULL);
        if (st != MH_STATE_OK) {
            mh_result_raise(r, st, MH_CAT_TLS,
                            "certificate %s expires in %.1f days", subj, days);
        }
    }
    if (earliest != 0) {
        mh_result_add_sample(
            r, "mailhealth_tls_earliest_cert_expiry_timestamp_seconds",
            earliest, (const char *)NULL);
    }
}
