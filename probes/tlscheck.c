/* SPDX-License-Identifier: MIT */
/*
 * tlscheck: certificate checks of an established TLS session (see
 * tlscheck.h for what is checked and what is reported). Field cases BR-NN
 * are in tests/field-cases.md.
 */
#include "tlscheck.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "textutil.h"

/* Longest subject/issuer text kept (RFC 2253 form); longer ones end in
 * "...". */
#define NAME_LEN 400
/* Most chain elements and extra certificates reported: a real chain has 2
 * to 4; a hostile server may send hundreds. */
#define MAX_ELEMS 12
/* Most distinct verification problems recorded. */
#define MAX_ERRORS 16
/* Room for the summary and problem lists (the result model caps a summary
 * at 1 KiB). */
#define MSG_LEN 1024

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

/* printf("%.*f") with '.' as decimal point whatever LC_NUMERIC says;
 * trailing zeros dropped when trim (mh_fmt_decimal). */
static char *
fmt_num(char *buf, size_t len, double x, int decimals, bool trim)
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
    fmt_num(n, sizeof n, days, 4, true);
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

/* What the report says about one certificate. */
struct facts {
    X509 *cert;
    char subject[NAME_LEN];
    char issuer[NAME_LEN];
    char not_after_iso[32];
    char not_before_iso[32];
    double not_after;
    bool has_not_after;
    double days;
    char key[96];
    char sig[80];
    char names[256];
    const char *role; /* "leaf", "intermediate", "root" */
};

static void
get_facts(X509 *c, double now, struct facts *f)
{
    memset(f, 0, sizeof *f);
    f->cert = c;
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
    f->role = "leaf";
}

/* True for a self-signed certificate (subject == issuer, signature verifies
 * with its own key: OpenSSL's EXFLAG_SS). */
static bool
self_signed(X509 *c)
{
    return (X509_get_extension_flags(c) & EXFLAG_SS) != 0;
}

/* Days for perfdata: three decimals (about 90 s) are plenty for graphs and
 * keep "89.999954" from showing up for a 90-day certificate. */
static double
perf_days(double days)
{
    return round(days * 1000.0) / 1000.0;
}

/* "in 9.9 days" / "10.0 days ago" */
static void
days_phrase(char *buf, size_t len, const struct facts *f)
{
    char n[48];
    if (!f->has_not_after) {
        mh_textf(buf, len, "notAfter unreadable");
    } else if (f->days < 0) {
        mh_textf(buf, len, "expired %s days ago",
                 fmt_num(n, sizeof n, -f->days, 1, false));
    } else {
        mh_textf(buf, len, "%s days left",
                 fmt_num(n, sizeof n, f->days, 1, false));
    }
}

/* Reason of a certificate whose dates alert: expired, or expiring within
 * --cert-days; an unreadable notAfter is an invalid certificate. */
static enum mh_reason
expiry_reason(const struct facts *f)
{
    if (!f->has_not_after) {
        return MH_REASON_CERT_INVALID;
    }
    return f->days < 0 ? MH_REASON_CERT_EXPIRED : MH_REASON_CERT_EXPIRING;
}

/* Adds the long-output item and the attributes of one certificate; depth
 * is its place on the path, -1 for a certificate not on it. */
static struct mh_item *
add_cert_item(struct mh_result *r, const char *name, const struct facts *f,
              int depth, enum mh_state st, const char *extra)
{
    char left[64];
    days_phrase(left, sizeof left, f);
    struct mh_item *it = mh_result_add_item(
        r, "cert", name, st,
        st == MH_STATE_OK ? MH_REASON_NONE : expiry_reason(f),
        "%s (%s), issuer %s, notAfter %s (%s), %s, %s%s", f->subject, f->role,
        f->issuer, f->not_after_iso, left, f->key, f->sig,
        extra != NULL ? extra : "");
    if (it == NULL) {
        return NULL;
    }
    if (depth >= 0) {
        mh_item_set_num(r, it, "depth", depth);
    }
    mh_item_set_num(r, it, "on_path", depth >= 0 ? 1 : 0);
    mh_item_set_str(r, it, "subject", f->subject);
    mh_item_set_str(r, it, "issuer", f->issuer);
    mh_item_set_str(r, it, "role", f->role);
    mh_item_set_str(r, it, "not_before", f->not_before_iso);
    mh_item_set_str(r, it, "not_after", f->not_after_iso);
    if (f->has_not_after) {
        mh_item_set_num(r, it, "not_after_timestamp", f->not_after);
        mh_item_set_num(r, it, "days_left", f->days);
    }
    mh_item_set_str(r, it, "key", f->key);
    mh_item_set_str(r, it, "signature_algorithm", f->sig);
    if (f->names[0] != '\0') {
        mh_item_set_str(r, it, "names", f->names);
    }
    return it;
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

/* Appends "; text" (or text) to a message buffer. */
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
problem_text(const struct verr *e, const struct facts *path, int npath,
             const struct mh_tls_check_params *p, char *subject, size_t slen,
             char *buf, size_t len, enum mh_reason *why)
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
    struct facts f;
    subject[0] = '\0';
    if (e->depth >= 0 && e->depth < npath && path[e->depth].cert != NULL) {
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
        days_phrase(left, sizeof left, &f);
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
    if (issuer_missing_err(e->err) && e->depth == npath - 1 &&
        (X509_get_extension_flags(f.cert) & EXFLAG_SI) == 0) {
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

/* ====== The check ====== */

void
mh_tls_note_session(SSL *ssl, struct mh_result *r)
{
    const char *ver = SSL_get_version(ssl);
    const char *cipher = SSL_get_cipher_name(ssl);
    mh_result_add_sample(r, MH_METRIC(TLS_VERSION_INFO), 1, "version",
                         ver != NULL ? ver : "unknown", "cipher",
                         cipher != NULL ? cipher : "unknown",
                         (const char *)NULL);
}

static void
raise_summary(struct mh_result *r, const struct mh_tls_check_params *p,
              enum mh_state st, enum mh_reason reason, const char *msg)
{
    if (p->where != NULL && p->where[0] != '\0') {
        mh_result_raise(r, st, reason, "%s: %s", p->where, msg);
    } else {
        mh_result_raise(r, st, reason, "%s", msg);
    }
}

/* The check on a peer; pre_rec/pre_chain: a verification already run by a
 * job (pre_chain owned by the job), or NULL: run here as needed. */
static void
check_peer(const struct mh_tls_peer *peer, const struct mh_tls_check_params *p,
           struct mh_result *r, const struct vrec *pre_rec,
           STACK_OF(X509) * pre_chain)
{
    if (peer->version != NULL) {
        mh_result_add_sample(r, MH_METRIC(TLS_VERSION_INFO), 1, "version",
                             peer->version, "cipher",
                             peer->cipher != NULL ? peer->cipher : "unknown",
                             (const char *)NULL);
    }
    int nsent = peer->sent != NULL ? sk_X509_num(peer->sent) : 0;
    if (nsent <= 0) {
        mh_result_add_sample(r, MH_METRIC(TLS_VERIFIED), 0, (const char *)NULL);
        mh_result_add_item(r, "tls", "verify", MH_STATE_CRITICAL,
                           MH_REASON_CERT_MISSING,
                           "server sent no certificate");
        raise_summary(r, p, MH_STATE_CRITICAL, MH_REASON_CERT_MISSING,
                      "server sent no certificate");
        return;
    }

    /* The path: the handshake's verified chain when it verified; else the
     * chain built by a verification that records every problem. */
    struct vrec rec;
    memset(&rec, 0, sizeof rec);
    STACK_OF(X509) *owned = NULL;
    STACK_OF(X509) * chain;
    if (pre_rec != NULL) {
        /* A copy with its own certificate references (freed below). */
        rec = *pre_rec;
        for (size_t i = 0; i < rec.n; i++) {
            X509 *c = pre_rec->e[i].cert;
            rec.e[i].cert = c != NULL && X509_up_ref(c) == 1 ? c : NULL;
        }
        chain = pre_chain != NULL && sk_X509_num(pre_chain) > 0 ? pre_chain
                                                                : peer->sent;
    } else if (peer->verify_result == X509_V_OK && peer->verified != NULL &&
               sk_X509_num(peer->verified) > 0) {
        chain = peer->verified;
    } else {
        owned = reverify(peer, p->now, &rec);
        if (owned == NULL) {
            r->oom = true;
        }
        if (rec.n == 0 && peer->verify_result != X509_V_OK &&
            peer->verify_result != MH_TLS_VERIFY_NOT_RUN) {
            /* The handshake failed where this run did not (the clock
             * moved across a boundary, say): report the handshake's. */
            vrec_add(&rec, (int)peer->verify_result, -1, NULL);
        }
        chain = owned != NULL && sk_X509_num(owned) > 0 ? owned : peer->sent;
    }
    bool verified = rec.n == 0;

    int nchain = sk_X509_num(chain);
    int npath = nchain < MAX_ELEMS ? nchain : MAX_ELEMS;
    struct facts path[MAX_ELEMS];
    for (int i = 0; i < npath; i++) {
        get_facts(sk_X509_value(chain, i), p->now, &path[i]);
        if (i > 0) {
            path[i].role = i == nchain - 1 && self_signed(path[i].cert)
                               ? "root"
                               : "intermediate";
        }
    }

    char crit_msg[MSG_LEN] = ""; /* CRITICAL problems, in order */
    char warn_msg[MSG_LEN] = ""; /* WARNING problems */
    char notes[MSG_LEN] = "";    /* verification problems not enforced */
    enum mh_state worst = MH_STATE_OK;
    /* Reasons of the first CRITICAL and the first WARNING problem: the
     * summary's reason is the first problem it names. */
    enum mh_reason crit_reason = MH_REASON_NONE, warn_reason = MH_REASON_NONE;
    enum mh_reason verify_reason = MH_REASON_NONE;

    /* 1. Verification problems, leaf first. */
    size_t nproblems = 0;
    if (!verified) {
        char vmsg[MSG_LEN] = "";
        bool issuer_done[MAX_ELEMS + 1] = {false};
        /* One clause per certificate: "CN=x: reason, reason". */
        for (int d = -1; d <= npath; d++) {
            char group[MSG_LEN] = "", gsubj[NAME_LEN] = "";
            for (size_t i = 0; i < rec.n; i++) {
                const struct verr *e = &rec.e[i];
                bool here = d == npath ? (e->depth >= npath) : e->depth == d;
                if (!here) {
                    continue;
                }
                /* Unknown issuer is one problem, however many codes
                 * OpenSSL gave for it (20 and 21 for a lone leaf). */
                if (issuer_missing_err(e->err) && d >= 0 && d < npath) {
                    if (issuer_done[d]) {
                        continue;
                    }
                    issuer_done[d] = true;
                }
                char text[600], subj[NAME_LEN], line[MSG_LEN];
                enum mh_reason why;
                bool whole = problem_text(e, path, npath, p, subj, sizeof subj,
                                          text, sizeof text, &why);
                if (verify_reason == MH_REASON_NONE) {
                    verify_reason = why;
                }
                if (whole || subj[0] == '\0') {
                    msg_add(vmsg, sizeof vmsg, text);
                    mh_textf(line, sizeof line, "%s", text);
                } else {
                    size_t o = strlen(group);
                    mh_textf(group + o, sizeof group - o, "%s%s",
                             o > 0 ? ", " : "", text);
                    mh_textf(gsubj, sizeof gsubj, "%s", subj);
                    mh_textf(line, sizeof line, "%s: %s", subj, text);
                }
                nproblems++;
                char dname[32];
                mh_textf(dname, sizeof dname, "depth %d", e->depth);
                mh_result_add_item(
                    r, "verify", e->depth >= 0 ? dname : "chain",
                    p->verify ? MH_STATE_CRITICAL : MH_STATE_OK,
                    p->verify ? why : MH_REASON_NONE, "%s%s",
                    p->verify ? "" : "not enforced (--no-verify): ", line);
            }
            if (group[0] != '\0') {
                char clause[MSG_LEN];
                mh_textf(clause, sizeof clause, "%s: %s", gsubj, group);
                msg_add(vmsg, sizeof vmsg, clause);
            }
        }
        if (rec.dropped > 0) {
            char more[64];
            mh_textf(more, sizeof more, "and %zu more problems", rec.dropped);
            msg_add(vmsg, sizeof vmsg, more);
        }
        if (peer->sni == NULL) {
            /* BR-22 B: without SNI a multi-domain server presents its
             * default certificate. */
            const char *hint =
                p->sni_sent
                    ? "no SNI sent (target is an IP; give --sni)"
                    : "no SNI sent (--no-sni); the server may have presented "
                      "its default certificate";
            msg_add(vmsg, sizeof vmsg, hint);
            mh_result_add_item(r, "note", "", MH_STATE_OK, MH_REASON_NONE, "%s",
                               hint);
        }
        char full[MSG_LEN];
        mh_textf(full, sizeof full, "certificate verify failed: %s", vmsg);
        if (p->verify) {
            msg_add(crit_msg, sizeof crit_msg, full);
            worst = MH_STATE_CRITICAL;
            crit_reason = verify_reason;
        } else {
            msg_add(notes, sizeof notes, vmsg);
        }
    }

    /* 2. Expiry of every element of the path. */
    char range_w[48], range_c[48];
    mh_tls_days_range(range_w, sizeof range_w, p->warn_days);
    mh_tls_days_range(range_c, sizeof range_c, p->crit_days);
    int earliest = -1;
    for (int i = 0; i < npath; i++) {
        const struct facts *f = &path[i];
        char name[32];
        mh_textf(name, sizeof name, "depth %d", i);
        enum mh_state st =
            f->has_not_after
                ? mh_tls_days_state(f->days, p->warn_days, p->crit_days)
                : MH_STATE_CRITICAL;
        add_cert_item(r, name, f, i, st, NULL);
        char label[40], depth[16];
        mh_textf(label, sizeof label, "cert_days_depth%d", i);
        mh_textf(depth, sizeof depth, "%d", i);
        if (f->has_not_after) {
            mh_result_add_perf(r, label, perf_days(f->days), MH_UNIT_NONE,
                               range_w, range_c, NULL, NULL);
            mh_result_add_sample(
                r, MH_METRIC(TLS_CERT_EXPIRY_TIMESTAMP_SECONDS), f->not_after,
                "depth", depth, "subject", f->subject, "issuer", f->issuer,
                (const char *)NULL);
            if (earliest < 0 || f->not_after < path[earliest].not_after) {
                earliest = i;
            }
        }
        if (st == MH_STATE_OK) {
            continue;
        }
        /* An expired element that verification already reported (with its
         * date) is not listed twice. */
        bool told = false;
        for (size_t k = 0; p->verify && k < rec.n; k++) {
            told = told || (rec.e[k].depth == i &&
                            rec.e[k].err == X509_V_ERR_CERT_HAS_EXPIRED);
        }
        worst = mh_state_worst(worst, st);
        if (told) {
            continue;
        }
        char text[600], left[64];
        days_phrase(left, sizeof left, f);
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
                     fmt_num(n, sizeof n, f->days, 1, false), f->not_after_iso);
        }
        msg_add(st == MH_STATE_CRITICAL ? crit_msg : warn_msg, MSG_LEN, text);
        enum mh_reason *first =
            st == MH_STATE_CRITICAL ? &crit_reason : &warn_reason;
        if (*first == MH_REASON_NONE) {
            *first = expiry_reason(f);
        }
    }
    if (nchain > npath) {
        mh_result_add_item(r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                           "chain has %d elements; only the first %d are "
                           "reported",
                           nchain, npath);
    }

    /* 3. Certificates sent but not on the path: reported, WARNING at
     * most, never the earliest expiry. */
    int nextra = 0;
    for (int i = 0; i < nsent; i++) {
        X509 *c = sk_X509_value(peer->sent, i);
        bool on_path = false;
        for (int k = 0; k < nchain && !on_path; k++) {
            on_path = X509_cmp(c, sk_X509_value(chain, k)) == 0;
        }
        if (on_path) {
            continue;
        }
        if (++nextra > MAX_ELEMS) {
            continue;
        }
        struct facts f;
        get_facts(c, p->now, &f);
        f.role = self_signed(c) ? "self-signed, not on the verified path"
                                : "not on the verified path";
        enum mh_state st =
            f.has_not_after
                ? mh_tls_extra_state(f.days, p->warn_days, p->crit_days)
                : MH_STATE_WARNING;
        char name[32];
        mh_textf(name, sizeof name, "extra %d", i);
        add_cert_item(r, name, &f, -1, st, "; remove it from the chain");
        if (st != MH_STATE_OK) {
            char text[600], left[64];
            days_phrase(left, sizeof left, &f);
            mh_textf(text, sizeof text,
                     "certificate %s sent but not on the verified path (%s, "
                     "notAfter %s); remove it from the chain",
                     f.subject, left, f.not_after_iso);
            msg_add(warn_msg, sizeof warn_msg, text);
            worst = mh_state_worst(worst, st);
            if (warn_reason == MH_REASON_NONE) {
                warn_reason = expiry_reason(&f);
            }
        }
    }
    if (nextra > MAX_ELEMS) {
        mh_result_add_item(r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                           "server sent %d certificates not on the verified "
                           "path; only %d are reported",
                           nextra, MAX_ELEMS);
    }

    /* 4. Session facts, earliest expiry, verified flag. */
    mh_result_add_sample(r, MH_METRIC(TLS_VERIFIED), verified ? 1 : 0,
                         (const char *)NULL);
    char vtext[MSG_LEN];
    if (verified) {
        mh_textf(vtext, sizeof vtext, "chain of %d verified to %s%s%s", nchain,
                 npath > 0 ? path[npath - 1].subject : "?",
                 p->verify_name != NULL ? ", name matches " : "",
                 p->verify_name != NULL ? p->verify_name : "");
    } else {
        mh_textf(vtext, sizeof vtext, "verification failed (%zu problem%s%s)",
                 nproblems + rec.dropped,
                 nproblems + rec.dropped == 1 ? "" : "s",
                 p->verify ? "" : ", not enforced: --no-verify");
    }
    struct mh_item *it = mh_result_add_item(
        r, "tls", "verify",
        verified || !p->verify ? MH_STATE_OK : MH_STATE_CRITICAL,
        verified || !p->verify ? MH_REASON_NONE : verify_reason,
        "%s; %s %s, SNI %s", vtext, peer->version != NULL ? peer->version : "?",
        peer->cipher != NULL ? peer->cipher : "?",
        peer->sni != NULL ? peer->sni : "none");
    if (it != NULL) {
        if (peer->version != NULL) {
            mh_item_set_str(r, it, "version", peer->version);
        }
        if (peer->cipher != NULL) {
            mh_item_set_str(r, it, "cipher", peer->cipher);
        }
        mh_item_set_num(r, it, "verified", verified ? 1 : 0);
        mh_item_set_str(r, it, "sni", peer->sni != NULL ? peer->sni : "");
        if (p->verify_name != NULL) {
            mh_item_set_str(r, it, "verify_name", p->verify_name);
        }
        mh_item_set_num(r, it, "chain_length", nchain);
        mh_item_set_num(r, it, "sent", nsent);
        mh_item_set_str(r, it, "leaf_subject", path[0].subject);
        if (notes[0] != '\0') {
            mh_item_set_str(r, it, "problems", notes);
        }
        if (earliest >= 0) {
            mh_item_set_num(r, it, "earliest_days", path[earliest].days);
            mh_item_set_str(r, it, "earliest_not_after",
                            path[earliest].not_after_iso);
            mh_item_set_str(r, it, "earliest_subject", path[earliest].subject);
        }
    }
    if (earliest >= 0) {
        mh_result_add_perf(r, "cert_days_earliest",
                           perf_days(path[earliest].days), MH_UNIT_NONE,
                           range_w, range_c, NULL, NULL);
        mh_result_add_sample(
            r, MH_METRIC(TLS_EARLIEST_CERT_EXPIRY_TIMESTAMP_SECONDS),
            path[earliest].not_after, (const char *)NULL);
    }

    /* 5. State and summary: every problem, the critical ones first. */
    if (worst != MH_STATE_OK) {
        char all[MSG_LEN * 2] = "";
        if (crit_msg[0] != '\0') {
            msg_add(all, sizeof all, crit_msg);
        }
        if (warn_msg[0] != '\0') {
            msg_add(all, sizeof all, warn_msg);
        }
        enum mh_reason reason =
            crit_reason != MH_REASON_NONE ? crit_reason : warn_reason;
        raise_summary(
            r, p, worst,
            reason != MH_REASON_NONE ? reason : MH_REASON_CERT_INVALID, all);
    }
    vrec_free(&rec);
    if (owned != NULL) {
        sk_X509_pop_free(owned, X509_free);
    }
}

void
mh_tls_check_peer(const struct mh_tls_peer *peer,
                  const struct mh_tls_check_params *p, struct mh_result *r)
{
    check_peer(peer, p, r, NULL, NULL);
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

void
mh_tls_check_job(const struct mh_tls_verify_job *j, const char *version,
                 const char *cipher, const struct mh_tls_check_params *p,
                 struct mh_result *r)
{
    if (j->oom) {
        r->oom = true;
    }
    if (j->store_err[0] != '\0') {
        mh_result_add_sample(r, MH_METRIC(TLS_VERIFIED), 0, (const char *)NULL);
        mh_result_add_item(r, "tls", "verify", MH_STATE_CRITICAL,
                           MH_REASON_TRUST_STORE_ERROR, "%s", j->store_err);
        raise_summary(r, p, MH_STATE_CRITICAL, MH_REASON_TRUST_STORE_ERROR,
                      j->store_err);
        return;
    }
    if (!j->ran) {
        r->oom = true; /* never run: the caller's failure */
        return;
    }
    /* The session's facts as they are now: when the certificates arrived,
     * a TLS 1.2 session did not have its cipher yet. */
    struct mh_tls_peer peer = j->peer;
    if (version != NULL) {
        peer.version = version;
    }
    if (cipher != NULL) {
        peer.cipher = cipher;
    }
    check_peer(&peer, p, r, &j->rec, j->chain);
}

/* Finds the "tls"/"verify" item's attribute key. */
static const struct mh_attr *
verify_attr(const struct mh_result *r, const char *key)
{
    for (size_t i = r->nitems; i-- > 0;) {
        const struct mh_item *it = &r->items[i];
        if (strcmp(it->kind, "tls") != 0 || strcmp(it->name, "verify") != 0) {
            continue;
        }
        for (size_t k = 0; k < it->nattrs; k++) {
            if (strcmp(it->attrs[k].key, key) == 0) {
                return &it->attrs[k];
            }
        }
        return NULL;
    }
    return NULL;
}

int
mh_tls_ok_summary(const struct mh_result *r, char *buf, size_t len)
{
    buf[0] = '\0';
    const struct mh_attr *leaf = verify_attr(r, "leaf_subject");
    const struct mh_attr *ver = verify_attr(r, "verified");
    if (leaf == NULL || leaf->str == NULL || ver == NULL) {
        return -1;
    }
    const struct mh_attr *n = verify_attr(r, "chain_length");
    const struct mh_attr *version = verify_attr(r, "version");
    const struct mh_attr *cipher = verify_attr(r, "cipher");
    const struct mh_attr *problems = verify_attr(r, "problems");
    const struct mh_attr *days = verify_attr(r, "earliest_days");
    const struct mh_attr *na = verify_attr(r, "earliest_not_after");
    const struct mh_attr *es = verify_attr(r, "earliest_subject");
    char chain[MSG_LEN];
    if (ver->num != 0) {
        mh_textf(chain, sizeof chain, "chain of %.0f verified",
                 n != NULL ? n->num : 0);
    } else {
        mh_textf(chain, sizeof chain, "NOT verified (--no-verify: %s)",
                 problems != NULL && problems->str != NULL ? problems->str
                                                           : "?");
    }
    char exp[MSG_LEN] = "";
    if (days != NULL && na != NULL && na->str != NULL && es != NULL &&
        es->str != NULL) {
        char d[48];
        mh_textf(exp, sizeof exp, ", earliest expiry in %s days (%s, %s)",
                 fmt_num(d, sizeof d, days->num, 1, false), na->str, es->str);
    }
    mh_textf(buf, len, "certificate OK: %s, %s, %s%s%s%s", leaf->str, chain,
             version != NULL && version->str != NULL ? version->str : "?",
             cipher != NULL && cipher->str != NULL ? " " : "",
             cipher != NULL && cipher->str != NULL ? cipher->str : "", exp);
    return 0;
}
