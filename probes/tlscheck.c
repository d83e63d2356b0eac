/* SPDX-License-Identifier: MIT */
/*
 * tlscheck: certificate checks of an established TLS session (see
 * tlscheck.h for what is checked and what is reported): verification and
 * the report (struct mh_tls_report); plugin/report_tls.c turns the
 * report into output. Field cases BR-NN
 * are in tests/field-cases.md.
 */
#include "tlscheck.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "textutil.h"

#define NAME_LEN MH_TLS_NAME_LEN
#define MAX_ELEMS MH_TLS_MAX_ELEMS
#define MAX_ERRORS MH_TLS_MAX_PROBLEMS
#define MSG_LEN MH_TLS_TEXT_LEN

/* ====== Pure helpers ====== */

double
mh_tls_days_left(double not_after, double now)
{
    return (not_after - now) / 86400.0;
}

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

enum mh_state
mh_tls_extra_state(double days_left, double warn_days, double crit_days)
{
    enum mh_state st = mh_tls_days_state(days_left, warn_days, crit_days);
    return st == MH_STATE_OK ? MH_STATE_OK : MH_STATE_WARNING;
}

char *
mh_tls_fmt_num(char *buf, size_t len, double x, int decimals, bool trim)
{
    if (trim) {
        return mh_fmt_decimal(buf, len, x, decimals);
    }
    mh_textf(buf, len, "%.*f", decimals, x);
    mh_c_decimal_point(buf);
    if (strcmp(buf, "-0.0") == 0) {
        memmove(buf, buf + 1, strlen(buf));
    }
    return buf;
}

char *
mh_tls_days_range(char *buf, size_t len, double days)
{
    char n[48];
    mh_tls_fmt_num(n, sizeof n, days, 4, true);
    mh_textf(buf, len, "%s:", n);
    return buf;
}

int
mh_tls_asn1_time(const ASN1_TIME *t, double *unix_time, char *iso,
                 size_t isolen)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
        return -1;
    }
    /* ASN1_TIME_to_tm gives UTC (RFC 5280 4.1.2.5: UTCTime and
     * GeneralizedTime are Zulu); timegm converts without the local zone. */
    time_t secs = timegm(&tm);
    if (secs == (time_t)-1 && !(tm.tm_year == 69 && tm.tm_yday == 364)) {
        return -1;
    }
    *unix_time = (double)secs;
    if (iso != NULL && isolen > 0 &&
        strftime(iso, isolen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        iso[0] = '\0';
    }
    return 0;
}

/* ====== Certificate facts ====== */

/* Escapes bytes that are not printable ASCII (NUL included) as \xNN into
 * buf; "..." marks truncation. */
static void
put_escaped(char *buf, size_t len, const unsigned char *s, size_t n)
{
    buf[0] = '\0';
    mh_text_escape_append(buf, len, s, n, true);
}

/* RFC 2253 text of a name (most specific RDN first, non-ASCII escaped by
 * OpenSSL); "(empty)" for an empty name. */
static void
name_text(const X509_NAME *name, char *buf, size_t len)
{
    buf[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL) {
        return;
    }
    if (name != NULL && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
        char *data = NULL;
        long n = BIO_get_mem_data(b, &data);
        if (n > 0 && data != NULL) {
            put_escaped(buf, len, (const unsigned char *)data, (size_t)n);
        }
    }
    BIO_free(b);
    if (buf[0] == '\0') {
        mh_textf(buf, len, "(empty)");
    }
}

/* Key type and size: "RSA 2048 bits", "EC 256 bits (prime256v1)". */
static void
key_text(X509 *c, char *buf, size_t len)
{
    EVP_PKEY *pk = X509_get0_pubkey(c);
    if (pk == NULL) {
        mh_textf(buf, len, "unknown key");
        return;
    }
    const char *type = EVP_PKEY_get0_type_name(pk);
    char group[64] = "";
    size_t glen = 0;
    if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                       sizeof group, &glen) != 1) {
        group[0] = '\0';
    }
    mh_textf(buf, len, "%s %d bits%s%s%s", type != NULL ? type : "unknown",
             EVP_PKEY_get_bits(pk), group[0] != '\0' ? " (" : "", group,
             group[0] != '\0' ? ")" : "");
}

/* Signature algorithm: "sha256WithRSAEncryption", "ecdsa-with-SHA256", or
 * the OID. */
static void
sig_text(const X509 *c, char *buf, size_t len)
{
    const X509_ALGOR *alg = NULL;
    const ASN1_OBJECT *obj = NULL;
    X509_get0_signature(NULL, &alg, c);
    if (alg != NULL) {
        X509_ALGOR_get0(&obj, NULL, NULL, alg);
    }
    if (obj == NULL || OBJ_obj2txt(buf, (int)len, obj, 0) <= 0) {
        mh_textf(buf, len, "unknown");
    }
}

/* DNS names and IP addresses of the subjectAltName, comma-separated. */
static void
san_text(X509 *c, char *buf, size_t len)
{
    buf[0] = '\0';
    GENERAL_NAMES *gens = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
    size_t o = 0;
    for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        char one[300] = "";
        if (g->type == GEN_DNS) {
            put_escaped(one, sizeof one, ASN1_STRING_get0_data(g->d.dNSName),
                        (size_t)ASN1_STRING_length(g->d.dNSName));
        } else if (g->type == GEN_IPADD) {
            const unsigned char *ip = ASN1_STRING_get0_data(g->d.iPAddress);
            int n = ASN1_STRING_length(g->d.iPAddress);
            if (n != 4 && n != 16) {
                continue;
            }
            char addr[INET6_ADDRSTRLEN];
            if (inet_ntop(n == 4 ? AF_INET : AF_INET6, ip, addr, sizeof addr) ==
                NULL) {
                continue;
            }
            mh_textf(one, sizeof one, "%s", addr);
        } else {
            continue;
        }
        int w = snprintf(buf + o, len - o, "%s%s", o > 0 ? ", " : "", one);
        if (w < 0 || (size_t)w >= len - o) {
            if (len > 4) {
                mh_textf(buf + len - 4, 4, "...");
            }
            break;
        }
        o += (size_t)w;
    }
    GENERAL_NAMES_free(gens);
}

/* Facts of one certificate; role "leaf" (the caller sets the others). */
static void
get_facts(X509 *c, double now, struct mh_tls_cert_facts *f)
{
    memset(f, 0, sizeof *f);
    name_text(X509_get_subject_name(c), f->subject, sizeof f->subject);
    name_text(X509_get_issuer_name(c), f->issuer, sizeof f->issuer);
    double nb;
    if (mh_tls_asn1_time(X509_get0_notBefore(c), &nb, f->not_before_iso,
                         sizeof f->not_before_iso) != 0) {
        mh_textf(f->not_before_iso, sizeof f->not_before_iso, "unreadable");
    }
    f->has_not_after =
        mh_tls_asn1_time(X509_get0_notAfter(c), &f->not_after, f->not_after_iso,
                         sizeof f->not_after_iso) == 0;
    if (f->has_not_after) {
        f->days = mh_tls_days_left(f->not_after, now);
    } else {
        mh_textf(f->not_after_iso, sizeof f->not_after_iso, "unreadable");
    }
    key_text(c, f->key, sizeof f->key);
    sig_text(c, f->sig, sizeof f->sig);
    san_text(c, f->names, sizeof f->names);
    f->self_issued = (X509_get_extension_flags(c) & EXFLAG_SI) != 0;
    f->role = "leaf";
}

/* True for a self-signed certificate (subject == issuer, signature verifies
 * with its own key: OpenSSL's EXFLAG_SS). */
static bool
self_signed(X509 *c)
{
    return (X509_get_extension_flags(c) & EXFLAG_SS) != 0;
}

void
mh_tls_days_phrase(char *buf, size_t len, const struct mh_tls_cert_facts *f)
{
    char n[48];
    if (!f->has_not_after) {
        mh_textf(buf, len, "notAfter unreadable");
    } else if (f->days < 0) {
        mh_textf(buf, len, "expired %s days ago",
                 mh_tls_fmt_num(n, sizeof n, -f->days, 1, false));
    } else {
        mh_textf(buf, len, "%s days left",
                 mh_tls_fmt_num(n, sizeof n, f->days, 1, false));
    }
}

/* Reason of a certificate whose dates alert: expired, or expiring within
 * --cert-days; an unreadable notAfter is an invalid certificate. */
static enum mh_reason
expiry_reason(const struct mh_tls_cert_facts *f)
{
    if (!f->has_not_after) {
        return MH_REASON_CERT_INVALID;
    }
    return f->days < 0 ? MH_REASON_CERT_EXPIRED : MH_REASON_CERT_EXPIRING;
}

/* ====== Verification with every error recorded ====== */

struct verr {
    int err;
    int depth;  /* -1: not tied to a certificate */
    X509 *cert; /* reference held, or NULL */
};

struct vrec {
    struct verr e[MAX_ERRORS];
    size_t n;
    size_t dropped;
};

static void
vrec_add(struct vrec *rec, int err, int depth, X509 *cert)
{
    for (size_t i = 0; i < rec->n; i++) {
        if (rec->e[i].err == err && rec->e[i].depth == depth) {
            return;
        }
    }
    if (rec->n == MAX_ERRORS) {
        rec->dropped++;
        return;
    }
    if (cert != NULL && X509_up_ref(cert) != 1) {
        cert = NULL;
    }
    rec->e[rec->n++] = (struct verr){.err = err, .depth = depth, .cert = cert};
}

static void
vrec_free(struct vrec *rec)
{
    for (size_t i = 0; i < rec->n; i++) {
        X509_free(rec->e[i].cert);
    }
    rec->n = 0;
}

/* Verify callback: records the error and lets verification go on, so that
 * one run finds every problem of the chain (X509_STORE_CTX_set_verify_cb,
 * the documented way to override errors). */
static int
record_cb(int ok, X509_STORE_CTX *ctx)
{
    if (ok) {
        return 1;
    }
    struct vrec *rec = X509_STORE_CTX_get_app_data(ctx);
    if (rec != NULL) {
        vrec_add(rec, X509_STORE_CTX_get_error(ctx),
                 X509_STORE_CTX_get_error_depth(ctx),
                 X509_STORE_CTX_get_current_cert(ctx));
    }
    return 1;
}

/*
 * Verifies the sent chain with the peer's store and parameters, as
 * ssl_verify_cert_chain() does for a TLS client (purpose "ssl_server",
 * security level, the session's X509_VERIFY_PARAM), at time `now`.
 * Returns the chain OpenSSL built (owned; may be partial when an issuer is
 * missing), or NULL on allocation failure.
 */
static STACK_OF(X509) *
    reverify(const struct mh_tls_peer *peer, double now, struct vrec *rec)
{
    X509 *leaf = sk_X509_value(peer->sent, 0);
    X509_STORE *tmp_store = NULL;
    X509_STORE *store = peer->store;
    if (store == NULL) {
        store = tmp_store = X509_STORE_new();
        if (store == NULL) {
            return NULL;
        }
    }
    STACK_OF(X509) *chain = NULL;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (ctx == NULL || X509_STORE_CTX_init(ctx, store, leaf, peer->sent) != 1) {
        goto out;
    }
    X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
    if (peer->auth_level >= 0) {
        X509_VERIFY_PARAM_set_auth_level(vp, peer->auth_level);
    }
    X509_STORE_CTX_set_default(ctx, "ssl_server");
    if (peer->param != NULL) {
        X509_VERIFY_PARAM_set1(vp, peer->param);
    }
    X509_VERIFY_PARAM_set_time(vp, (time_t)now);
    X509_STORE_CTX_set_verify_cb(ctx, record_cb);
    X509_STORE_CTX_set_app_data(ctx, rec);
    int rc = X509_verify_cert(ctx);
    if (rc <= 0 && rec->n == 0) {
        /* Failed without going through the callback (internal error). */
        int e = X509_STORE_CTX_get_error(ctx);
        vrec_add(rec, e != X509_V_OK ? e : X509_V_ERR_UNSPECIFIED, -1, NULL);
    }
    chain = X509_STORE_CTX_get1_chain(ctx);
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(tmp_store);
    return chain;
}

static bool
issuer_missing_err(int err)
{
    return err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
           err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
           err == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

/* Appends "; text" (or text, to an empty buf) to a message buffer of len
 * bytes; cut when full. */
static void
msg_add(char *buf, size_t len, const char *text)
{
    size_t o = strlen(buf);
    if (o + 1 < len) {
        mh_textf(buf + o, len - o, "%s%s", o > 0 ? "; " : "", text);
    }
}

/*
 * Text of one verification problem: OpenSSL's reason, made specific where
 * OpenSSL's words alone mislead (missing intermediates, BR-25) or leave the
 * operator guessing (which name, which date). Returns true when buf is a
 * whole sentence naming its certificates; false when buf is the reason
 * alone and *subject (may be "") names the certificate it is about.
 */
static bool
problem_text(const struct verr *e, const struct mh_tls_cert_facts *path,
             int npath, const struct mh_tls_check_params *p, char *subject,
             size_t slen, char *buf, size_t len, enum mh_reason *why)
{
    const char *reason = X509_verify_cert_error_string(e->err);
    switch (e->err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        *why = MH_REASON_CERT_EXPIRED;
        break;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        *why = MH_REASON_CERT_NOT_YET_VALID;
        break;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
    case X509_V_ERR_EMAIL_MISMATCH:
        *why = MH_REASON_CERT_NAME_MISMATCH;
        break;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
        *why = MH_REASON_CERT_UNTRUSTED;
        break;
    default:
        *why = issuer_missing_err(e->err) ? MH_REASON_CERT_UNTRUSTED
                                          : MH_REASON_CERT_INVALID;
        break;
    }
    struct mh_tls_cert_facts f;
    subject[0] = '\0';
    if (e->depth >= 0 && e->depth < npath) {
        f = path[e->depth];
    } else if (e->cert != NULL) {
        get_facts(e->cert, p->now, &f);
    } else {
        mh_textf(buf, len, "%s", reason);
        return false;
    }
    mh_textf(subject, slen, "%s", f.subject);
    char left[64];
    switch (e->err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        mh_tls_days_phrase(left, sizeof left, &f);
        mh_textf(buf, len, "%s (notAfter %s, %s)", reason, f.not_after_iso,
                 left);
        return false;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        mh_textf(buf, len, "%s (notBefore %s)", reason, f.not_before_iso);
        return false;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
    case X509_V_ERR_EMAIL_MISMATCH:
        mh_textf(buf, len, "%s: not valid for %s (certificate names: %s)",
                 reason, p->verify_name != NULL ? p->verify_name : "the name",
                 f.names[0] != '\0' ? f.names : "none");
        return false;
    default:
        break;
    }
    if (issuer_missing_err(e->err) && e->depth == npath - 1 && !f.self_issued) {
        if (e->depth == 0) {
            /* The leaf alone, its issuer neither sent nor trusted: almost
             * always the intermediate missing from the server's
             * configuration (browsers repair it via AIA, mail clients
             * do not). */
            *why = MH_REASON_CERT_CHAIN_INCOMPLETE;
            mh_textf(buf, len,
                     "incomplete chain: server did not send the issuer of %s "
                     "(%s); mail clients do not fetch missing intermediates "
                     "(%s)",
                     f.subject, f.issuer, reason);
        } else {
            mh_textf(buf, len,
                     "unknown issuer: %s, issuer of %s, is neither in the "
                     "trust store nor sent by the server (%s)",
                     f.issuer, f.subject, reason);
        }
        return true;
    }
    mh_textf(buf, len, "%s", reason);
    return false;
}

/* ====== The report: verification and analysis ====== */

/* The path a check reports and the verification record behind it. */
struct checked_path {
    struct vrec rec;        /* every problem found (own references) */
    STACK_OF(X509) * chain; /* the path: borrowed, or `owned` */
    STACK_OF(X509) * owned; /* a chain built here, or NULL */
};

/* The path: a job's verification (pre_rec, pre_chain owned by the job),
 * else the handshake's verified chain when it verified, else the chain
 * built by a verification here that records every problem. */
static void
choose_path(const struct mh_tls_peer *peer, double now,
            const struct vrec *pre_rec, STACK_OF(X509) * pre_chain,
            struct checked_path *cp, bool *oom)
{
    memset(cp, 0, sizeof *cp);
    if (pre_rec != NULL) {
        /* A copy with its own certificate references. */
        cp->rec = *pre_rec;
        for (size_t i = 0; i < cp->rec.n; i++) {
            X509 *c = pre_rec->e[i].cert;
            cp->rec.e[i].cert = c != NULL && X509_up_ref(c) == 1 ? c : NULL;
        }
        cp->chain = pre_chain != NULL && sk_X509_num(pre_chain) > 0
                        ? pre_chain
                        : peer->sent;
        return;
    }
    if (peer->verify_result == X509_V_OK && peer->verified != NULL &&
        sk_X509_num(peer->verified) > 0) {
        cp->chain = peer->verified;
        return;
    }
    cp->owned = reverify(peer, now, &cp->rec);
    if (cp->owned == NULL) {
        *oom = true;
    }
    if (cp->rec.n == 0 && peer->verify_result != X509_V_OK &&
        peer->verify_result != MH_TLS_VERIFY_NOT_RUN) {
        /* The handshake failed where this run did not (the clock moved
         * across a boundary, say): report the handshake's. */
        vrec_add(&cp->rec, (int)peer->verify_result, -1, NULL);
    }
    cp->chain = cp->owned != NULL && sk_X509_num(cp->owned) > 0 ? cp->owned
                                                                : peer->sent;
}

static void
checked_path_free(struct checked_path *cp)
{
    vrec_free(&cp->rec);
    if (cp->owned != NULL) {
        sk_X509_pop_free(cp->owned, X509_free);
    }
}

/* What the summary will say: every problem, the critical ones first; the
 * first problem of the worst state gives phase and reason. */
struct findings {
    char crit[MSG_LEN];
    char warn[MSG_LEN];
    enum mh_reason crit_reason, warn_reason;
    const char *crit_phase, *warn_phase;
    enum mh_state worst;
};

/* Records a problem of state st (WARNING or CRITICAL). */
static void
finding(struct findings *fd, enum mh_state st, enum mh_reason why,
        const char *phase, const char *text)
{
    bool crit = st == MH_STATE_CRITICAL;
    msg_add(crit ? fd->crit : fd->warn, MSG_LEN, text);
    enum mh_reason *first = crit ? &fd->crit_reason : &fd->warn_reason;
    if (*first == MH_REASON_NONE) {
        *first = why;
        *(crit ? &fd->crit_phase : &fd->warn_phase) = phase;
    }
    fd->worst = mh_state_worst(fd->worst, st);
}

/* Sets rep->session facts from the peer. */
static void
session_facts(struct mh_tls_report *rep, const struct mh_tls_peer *peer)
{
    mh_textf(rep->version, sizeof rep->version, "%s",
             peer->version != NULL ? peer->version : "");
    mh_textf(rep->cipher, sizeof rep->cipher, "%s",
             peer->cipher != NULL ? peer->cipher : "");
    rep->has_sni = peer->sni != NULL;
    mh_textf(rep->sni, sizeof rep->sni, "%s", rep->has_sni ? peer->sni : "");
}

/* Whether a expires before b (an unreadable notAfter first). */
static bool
expires_first(const struct mh_tls_cert_facts *a,
              const struct mh_tls_cert_facts *b)
{
    if (!a->has_not_after || !b->has_not_after) {
        return !a->has_not_after && b->has_not_after;
    }
    return a->not_after < b->not_after;
}

/* Facts of every element of the path, leaf first: the first MAX_ELEMS in
 * path[], then the one of the rest that expires first in path[npath]. */
static void
path_facts(struct mh_tls_report *rep, STACK_OF(X509) * chain, double now)
{
    rep->nchain = sk_X509_num(chain);
    rep->npath = rep->nchain < MAX_ELEMS ? rep->nchain : MAX_ELEMS;
    struct mh_tls_cert_facts f;
    for (int i = 0; i < rep->nchain; i++) {
        X509 *c = sk_X509_value(chain, i);
        get_facts(c, now, &f);
        f.index = i;
        if (i > 0) {
            f.role = i == rep->nchain - 1 && self_signed(c) ? "root"
                                                            : "intermediate";
        }
        if (i == rep->nchain - 1) {
            mh_textf(rep->anchor, sizeof rep->anchor, "%s", f.subject);
        }
        if (i < rep->npath || i == rep->npath ||
            expires_first(&f, &rep->path[rep->npath])) {
            rep->path[i < rep->npath ? i : rep->npath] = f;
        }
    }
}

/* Records one verification problem; buf collects the certificate's clause
 * ("CN=x: reason, reason") in group/gsubj or whole sentences in vmsg. */
static void
add_problem(struct mh_tls_report *rep, const struct verr *e,
            const struct mh_tls_check_params *p, char *vmsg, char *group,
            char *gsubj)
{
    char text[600], subj[NAME_LEN];
    enum mh_reason why;
    bool whole = problem_text(e, rep->path, rep->npath, p, subj, sizeof subj,
                              text, sizeof text, &why);
    if (rep->verify_reason == MH_REASON_NONE) {
        rep->verify_reason = why;
    }
    struct mh_tls_problem *pr = &rep->problems[rep->nproblems++];
    pr->err = e->err;
    pr->depth = e->depth;
    pr->reason = why;
    if (whole || subj[0] == '\0') {
        msg_add(vmsg, MSG_LEN, text);
        mh_textf(pr->text, sizeof pr->text, "%s", text);
    } else {
        size_t o = strlen(group);
        mh_textf(group + o, MSG_LEN - o, "%s%s", o > 0 ? ", " : "", text);
        mh_textf(gsubj, NAME_LEN, "%s", subj);
        mh_textf(pr->text, sizeof pr->text, "%s: %s", subj, text);
    }
}

/* 1. Verification problems, leaf first, one clause per certificate. */
static void
verify_problems(struct mh_tls_report *rep, const struct vrec *rec,
                const struct mh_tls_check_params *p, struct findings *fd)
{
    char vmsg[MSG_LEN] = "";
    bool issuer_done[MAX_ELEMS + 1] = {false};
    int npath = rep->npath;
    for (int d = -1; d <= npath; d++) {
        char group[MSG_LEN] = "", gsubj[NAME_LEN] = "";
        for (size_t i = 0; i < rec->n; i++) {
            const struct verr *e = &rec->e[i];
            bool here = d == npath ? (e->depth >= npath) : e->depth == d;
            if (!here) {
                continue;
            }
            /* Unknown issuer is one problem, however many codes OpenSSL
             * gave for it (20 and 21 for a lone leaf). */
            if (issuer_missing_err(e->err) && d >= 0 && d < npath) {
                if (issuer_done[d]) {
                    continue;
                }
                issuer_done[d] = true;
            }
            add_problem(rep, e, p, vmsg, group, gsubj);
        }
        if (group[0] != '\0') {
            char clause[MSG_LEN];
            mh_textf(clause, sizeof clause, "%s: %s", gsubj, group);
            msg_add(vmsg, sizeof vmsg, clause);
        }
    }
    rep->dropped = rec->dropped;
    if (rec->dropped > 0) {
        char more[64];
        mh_textf(more, sizeof more, "and %zu more problems", rec->dropped);
        msg_add(vmsg, sizeof vmsg, more);
    }
    if (!rep->has_sni) {
        /* BR-22 B: without SNI a multi-domain server presents its default
         * certificate. */
        mh_textf(rep->hint, sizeof rep->hint, "%s",
                 p->sni_sent ? "no SNI sent (target is an IP; give --sni)"
                             : "no SNI sent (--no-sni); the server may have "
                               "presented its default certificate");
        msg_add(vmsg, sizeof vmsg, rep->hint);
    }
    mh_textf(rep->problem_list, sizeof rep->problem_list, "%s", vmsg);
    if (p->verify) {
        char full[MSG_LEN];
        mh_textf(full, sizeof full, "certificate verify failed: %s", vmsg);
        finding(fd, MH_STATE_CRITICAL, rep->verify_reason, "verify", full);
    }
}

/* 2. Expiry of every element of the path. */
static void
path_expiry(struct mh_tls_report *rep, const struct vrec *rec,
            const struct mh_tls_check_params *p, struct findings *fd)
{
    rep->earliest = -1;
    int judged = rep->npath + (rep->nchain > rep->npath ? 1 : 0);
    for (int i = 0; i < judged; i++) {
        struct mh_tls_cert_facts *f = &rep->path[i];
        f->state = f->has_not_after
                       ? mh_tls_days_state(f->days, p->warn_days, p->crit_days)
                       : MH_STATE_CRITICAL;
        f->reason = f->state == MH_STATE_OK ? MH_REASON_NONE : expiry_reason(f);
        if (f->has_not_after &&
            (rep->earliest < 0 ||
             f->not_after < rep->path[rep->earliest].not_after)) {
            rep->earliest = i;
        }
        if (f->state == MH_STATE_OK) {
            continue;
        }
        /* An expired element that verification already reported (with
         * its date) is not listed twice. */
        bool told = false;
        for (size_t k = 0; p->verify && k < rec->n; k++) {
            told = told || (rec->e[k].depth == f->index &&
                            rec->e[k].err == X509_V_ERR_CERT_HAS_EXPIRED);
        }
        if (told) {
            fd->worst = mh_state_worst(fd->worst, f->state);
            continue;
        }
        char text[600], left[64];
        mh_tls_days_phrase(left, sizeof left, f);
        const char *who = i == 0 ? "certificate" : f->role;
        if (!f->has_not_after) {
            mh_textf(text, sizeof text, "%s %s: notAfter unreadable", who,
                     f->subject);
        } else if (f->days < 0) {
            mh_textf(text, sizeof text, "%s %s %s (notAfter %s)", who,
                     f->subject, left, f->not_after_iso);
        } else {
            char n[48];
            mh_textf(text, sizeof text,
                     "%s %s expires in %s days (notAfter %s)", who, f->subject,
                     mh_tls_fmt_num(n, sizeof n, f->days, 1, false),
                     f->not_after_iso);
        }
        finding(fd, f->state, f->reason, "expiry", text);
    }
}

/* 3. Certificates sent but not on the path: reported, WARNING at most,
 * never the earliest expiry. */
static void
extra_certs(struct mh_tls_report *rep, const struct mh_tls_peer *peer,
            STACK_OF(X509) * chain, const struct mh_tls_check_params *p,
            struct findings *fd)
{
    for (int i = 0; i < rep->nsent; i++) {
        X509 *c = sk_X509_value(peer->sent, i);
        bool on_path = false;
        for (int k = 0; k < rep->nchain && !on_path; k++) {
            on_path = X509_cmp(c, sk_X509_value(chain, k)) == 0;
        }
        if (on_path || ++rep->nextra > MAX_ELEMS) {
            continue;
        }
        struct mh_tls_cert_facts *f = &rep->extra[rep->nextra_reported++];
        get_facts(c, p->now, f);
        f->index = i;
        f->role = self_signed(c) ? "self-signed, not on the verified path"
                                 : "not on the verified path";
        f->state = f->has_not_after
                       ? mh_tls_extra_state(f->days, p->warn_days, p->crit_days)
                       : MH_STATE_WARNING;
        f->reason = f->state == MH_STATE_OK ? MH_REASON_NONE : expiry_reason(f);
        if (f->state != MH_STATE_OK) {
            char text[600], left[64];
            mh_tls_days_phrase(left, sizeof left, f);
            mh_textf(text, sizeof text,
                     "certificate %s sent but not on the verified path (%s, "
                     "notAfter %s); remove it from the chain",
                     f->subject, left, f->not_after_iso);
            finding(fd, f->state, f->reason, "chain", text);
        }
    }
}

/* The failure record from the findings: the critical problems first. */
static void
set_failure(struct mh_tls_report *rep, const struct findings *fd)
{
    struct mh_tls_failure *fl = &rep->failure;
    fl->state = fd->worst;
    fl->phase = "";
    if (fd->worst == MH_STATE_OK) {
        return;
    }
    if (fd->crit[0] != '\0') {
        msg_add(fl->cause, sizeof fl->cause, fd->crit);
    }
    if (fd->warn[0] != '\0') {
        msg_add(fl->cause, sizeof fl->cause, fd->warn);
    }
    bool crit = fd->crit_reason != MH_REASON_NONE;
    fl->reason = crit ? fd->crit_reason : fd->warn_reason;
    fl->phase = crit ? fd->crit_phase : fd->warn_phase;
    if (fl->reason == MH_REASON_NONE) {
        fl->reason = MH_REASON_CERT_INVALID;
    }
    if (fl->phase == NULL) {
        fl->phase = "verify";
    }
    fl->category = mh_reason_category(fl->reason);
}

/* A report that says no certificate check could run: phase, reason and
 * cause (the session facts stay as set). */
static void
not_checked(struct mh_tls_report *rep, const char *phase, enum mh_reason reason,
            const char *cause)
{
    rep->failure = (struct mh_tls_failure){
        .state = MH_STATE_CRITICAL,
        .phase = phase,
        .reason = reason,
        .category = mh_reason_category(reason),
    };
    mh_textf(rep->failure.cause, sizeof rep->failure.cause, "%s", cause);
}

/* The report of a peer; pre_rec/pre_chain: a verification already run by
 * a job (pre_chain owned by the job), or NULL: run here as needed. */
static struct mh_tls_report *
report_peer(const struct mh_tls_peer *peer, const struct mh_tls_check_params *p,
            const struct vrec *pre_rec, STACK_OF(X509) * pre_chain)
{
    struct mh_tls_report *rep = calloc(1, sizeof *rep);
    if (rep == NULL) {
        return NULL;
    }
    session_facts(rep, peer);
    rep->enforced = p->verify;
    rep->earliest = -1;
    rep->nsent = peer->sent != NULL ? sk_X509_num(peer->sent) : 0;
    if (rep->nsent <= 0) {
        rep->nsent = 0;
        not_checked(rep, "certificate", MH_REASON_CERT_MISSING,
                    "server sent no certificate");
        return rep;
    }
    rep->checked = true;
    struct checked_path cp;
    choose_path(peer, p->now, pre_rec, pre_chain, &cp, &rep->oom);
    rep->verified = cp.rec.n == 0;
    path_facts(rep, cp.chain, p->now);
    struct findings fd = {.worst = MH_STATE_OK};
    if (!rep->verified) {
        verify_problems(rep, &cp.rec, p, &fd);
    }
    path_expiry(rep, &cp.rec, p, &fd);
    extra_certs(rep, peer, cp.chain, p, &fd);
    set_failure(rep, &fd);
    checked_path_free(&cp);
    return rep;
}

struct mh_tls_report *
mh_tls_report_peer(const struct mh_tls_peer *peer,
                   const struct mh_tls_check_params *p)
{
    return report_peer(peer, p, NULL, NULL);
}

/* The peer description of a session; nothing is copied. The handshake did
 * not verify (transport.c), so the check verifies. */
static struct mh_tls_peer
session_peer(SSL *ssl)
{
    struct mh_tls_peer peer = {
        .sent = SSL_get_peer_cert_chain(ssl),
        .verified = NULL,
        .verify_result = MH_TLS_VERIFY_NOT_RUN,
        .store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)),
        .param = SSL_get0_param(ssl),
        .auth_level = SSL_get_security_level(ssl),
        .sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name),
        .version = SSL_get_version(ssl),
        .cipher = SSL_get_cipher_name(ssl),
    };
    return peer;
}

/* ====== Verification as a job ====== */

struct mh_tls_verify_job {
    double now;
    /* What the verification reads, all owned: taken from the session when
     * the certificates arrive, so that nothing the session changes later
     * (a TLS 1.3 NewSessionTicket replaces the session object) is shared
     * with the thread that verifies. */
    struct mh_tls_peer peer;
    char *sni;
    bool ran;
    char store_err[256]; /* the trust store could not be loaded */
    struct vrec rec;
    STACK_OF(X509) * chain; /* the chain OpenSSL built, or NULL */
    bool oom;
};

void
mh_tls_verify_free(struct mh_tls_verify_job *j)
{
    if (j == NULL) {
        return;
    }
    vrec_free(&j->rec);
    if (j->chain != NULL) {
        sk_X509_pop_free(j->chain, X509_free);
    }
    if (j->peer.sent != NULL) {
        sk_X509_pop_free(j->peer.sent, X509_free);
    }
    X509_STORE_free(j->peer.store);
    X509_VERIFY_PARAM_free(j->peer.param);
    free(j->sni);
    free(j);
}

struct mh_tls_verify_job *
mh_tls_verify_prepare(SSL *ssl, double now)
{
    struct mh_tls_verify_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        return NULL;
    }
    struct mh_tls_peer from = session_peer(ssl);
    j->now = now;
    j->peer = from;
    j->peer.sent = NULL;
    j->peer.store = NULL;
    j->peer.param = NULL;
    j->peer.sni = NULL;
    if (from.sent != NULL) {
        j->peer.sent = X509_chain_up_ref(from.sent);
    }
    if (from.store != NULL && X509_STORE_up_ref(from.store) == 1) {
        j->peer.store = from.store;
    }
    j->peer.param = X509_VERIFY_PARAM_new();
    if (from.sni != NULL) {
        j->sni = strdup(from.sni);
        j->peer.sni = j->sni;
    }
    if ((from.sent != NULL && j->peer.sent == NULL) ||
        (from.store != NULL && j->peer.store == NULL) ||
        j->peer.param == NULL ||
        (from.param != NULL &&
         X509_VERIFY_PARAM_set1(j->peer.param, from.param) != 1) ||
        (from.sni != NULL && j->sni == NULL)) {
        mh_tls_verify_free(j);
        return NULL;
    }
    return j;
}

void
mh_tls_verify_run(struct mh_tls_verify_job *j, X509_STORE *store,
                  const char *store_err)
{
    if (j->ran) {
        return;
    }
    j->ran = true;
    if (store == NULL && store_err != NULL) {
        snprintf(j->store_err, sizeof j->store_err, "%s",
                 store_err[0] != '\0' ? store_err
                                      : "cannot load the trust store");
        return;
    }
    if (store != NULL && X509_STORE_up_ref(store) == 1) {
        X509_STORE_free(j->peer.store);
        j->peer.store = store;
    }
    if (j->peer.sent != NULL && sk_X509_num(j->peer.sent) > 0) {
        j->chain = reverify(&j->peer, j->now, &j->rec);
        j->oom = j->chain == NULL;
    }
}

long
mh_tls_verify_result(const struct mh_tls_verify_job *j)
{
    if (!j->ran || j->store_err[0] != '\0' || j->peer.sent == NULL ||
        sk_X509_num(j->peer.sent) == 0) {
        return X509_V_ERR_UNSPECIFIED; /* not verified */
    }
    if (j->oom) {
        return X509_V_ERR_OUT_OF_MEM;
    }
    return j->rec.n == 0 ? X509_V_OK : j->rec.e[0].err;
}

const char *
mh_tls_verify_store_error(const struct mh_tls_verify_job *j)
{
    return j->store_err[0] != '\0' ? j->store_err : NULL;
}

struct mh_tls_report *
mh_tls_report_job(const struct mh_tls_verify_job *j, const char *version,
                  const char *cipher, const struct mh_tls_check_params *p)
{
    if (j->store_err[0] == '\0' && !j->ran) {
        return NULL; /* never run: the caller's failure */
    }
    struct mh_tls_report *rep;
    if (j->store_err[0] != '\0') {
        rep = calloc(1, sizeof *rep);
        if (rep != NULL) {
            rep->enforced = p->verify;
            rep->earliest = -1;
            not_checked(rep, "trust_store", MH_REASON_TRUST_STORE_ERROR,
                        j->store_err);
        }
    } else {
        /* The session's facts as they are now: when the certificates
         * arrived, a TLS 1.2 session did not have its cipher yet. */
        struct mh_tls_peer peer = j->peer;
        if (version != NULL) {
            peer.version = version;
        }
        if (cipher != NULL) {
            peer.cipher = cipher;
        }
        rep = report_peer(&peer, p, &j->rec, j->chain);
    }
    if (rep != NULL && j->oom) {
        rep->oom = true;
    }
    return rep;
}
