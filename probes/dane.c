/* SPDX-License-Identifier: MIT */
/*
 * dane: DANE for SMTP, lookup and check (see dane.h).
 */
#include "dane.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "resolve.h"
#include "textutil.h"
#include "tlscheck.h"

/* Most CNAMEs followed from the TLSA name to its records. */
#define MAX_CNAMES 8
/* Most TLSA records looked at (a longer set is cut). */
#define MAX_TLSA MH_DANE_MAX_TLSA
#define SECONDS_PER_DAY 86400.0

int
mh_dane_tlsa_name(char *buf, size_t len, uint16_t port, const char *host)
{
    size_t hl = host != NULL ? strlen(host) : 0;
    if (hl > 0 && host[hl - 1] == '.') {
        hl--;
    }
    if (hl == 0) {
        return -1;
    }
    int n = snprintf(buf, len, "_%u._tcp.%.*s", (unsigned)port, (int)hl, host);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

void
mh_dane_lookup_free(struct mh_dane_lookup *lk)
{
    if (lk == NULL) {
        return;
    }
    for (size_t i = 0; i < lk->nrecs; i++) {
        free(lk->recs[i].data);
    }
    free(lk->recs);
    lk->recs = NULL;
    lk->nrecs = 0;
}

/* The end of the CNAME chain from qname in the answer records. */
static void
follow_cnames(const unsigned char *msg, size_t len, const struct mh_dns_msg *m,
              const char *qname, char *owner, size_t ownerlen)
{
    mh_textf(owner, ownerlen, "%s", qname);
    for (int hop = 0; hop < MAX_CNAMES; hop++) {
        bool moved = false;
        for (size_t i = 0; i < m->nan; i++) {
            const struct mh_dns_rr *rr = &m->an[i];
            char target[MH_DNS_NAME_MAX];
            if (rr->type == MH_DNS_T_CNAME &&
                strcasecmp(rr->owner, owner) == 0 &&
                mh_dns_rdata_name(msg, len, rr->rdata, target, sizeof target) ==
                    0) {
                mh_textf(owner, ownerlen, "%s", target);
                moved = true;
                break;
            }
        }
        if (!moved) {
            return;
        }
    }
}

/* The type a lookup asks for: TLSA, or MX for mh_dane_mx_lookup. */
static int
qtype(const struct mh_dane_lookup *lk)
{
    return lk->mx ? MH_DNS_T_MX : MH_DNS_T_TLSA;
}

static const char *
type_name(const struct mh_dane_lookup *lk)
{
    return lk->mx ? "MX" : "TLSA";
}

int
mh_dane_answer_read(struct mh_dane_lookup *lk, const unsigned char *msg,
                    size_t len, double now)
{
    struct mh_dns_msg *m = malloc(sizeof *m);
    if (m == NULL) {
        return -1;
    }
    mh_dane_lookup_free(lk);
    lk->rrsig_expiration = 0;
    lk->ede_code = -1;
    lk->ede_text[0] = '\0';
    /* c-ares 1.18 with ARES_FLAG_NOCHECKRESP does not compare the
     * question: an answer must be for the name and type asked. */
    if (mh_dns_parse(msg, len, m) != 0 || !m->qr ||
        strcasecmp(m->qname, lk->qname) != 0 || m->qtype != qtype(lk)) {
        lk->status = MH_DANE_DNS_FAILED;
        lk->rcode = -1;
        mh_textf(lk->err, sizeof lk->err,
                 "malformed DNS answer, or not for %s %s", lk->qname,
                 type_name(lk));
        free(m);
        return 0;
    }
    lk->rcode = m->rcode;
    lk->ad = m->ad;
    lk->ede_code = m->ede_code;
    snprintf(lk->ede_text, sizeof lk->ede_text, "%s", m->ede_text);
    if (m->rcode == MH_DNS_RCODE_SERVFAIL) {
        lk->status = MH_DANE_DNS_SERVFAIL;
        free(m);
        return 0;
    }
    if (m->rcode != MH_DNS_RCODE_NOERROR && m->rcode != MH_DNS_RCODE_NXDOMAIN) {
        lk->status = MH_DANE_DNS_FAILED;
        mh_textf(lk->err, sizeof lk->err, "the resolver answered RCODE %d%s",
                 m->rcode,
                 m->rcode == MH_DNS_RCODE_REFUSED ? " (REFUSED)" : "");
        free(m);
        return 0;
    }
    follow_cnames(msg, len, m, lk->qname, lk->owner, sizeof lk->owner);
    size_t n = 0;
    for (size_t i = 0; i < m->nan; i++) {
        n += m->an[i].type == MH_DNS_T_TLSA &&
             strcasecmp(m->an[i].owner, lk->owner) == 0;
    }
    if (n > MAX_TLSA) {
        n = MAX_TLSA;
    }
    if (n > 0 && (lk->recs = calloc(n, sizeof *lk->recs)) == NULL) {
        free(m);
        return -1;
    }
    for (size_t i = 0; i < m->nan; i++) {
        const struct mh_dns_rr *rr = &m->an[i];
        if (strcasecmp(rr->owner, lk->owner) != 0) {
            continue;
        }
        struct mh_dns_tlsa t;
        struct mh_dns_rrsig sig;
        if (rr->type == MH_DNS_T_TLSA && lk->nrecs < n &&
            mh_dns_tlsa_parse(rr->rdata, rr->rdlen, &t) == 0) {
            struct mh_dane_tlsa *d = &lk->recs[lk->nrecs];
            if ((d->data = malloc(t.len)) == NULL) {
                free(m);
                return -1;
            }
            memcpy(d->data, t.data, t.len);
            d->len = t.len;
            d->usage = t.usage;
            d->selector = t.selector;
            d->mtype = t.mtype;
            lk->nrecs++;
        } else if (rr->type == MH_DNS_T_RRSIG &&
                   mh_dns_rrsig_parse(rr->rdata, rr->rdlen, &sig) == 0 &&
                   sig.type_covered == qtype(lk)) {
            double exp = mh_dns_sig_time(sig.expiration, now);
            if (lk->rrsig_expiration == 0 || exp < lk->rrsig_expiration) {
                lk->rrsig_expiration = exp;
            }
        }
    }
    lk->status = m->ad ? MH_DANE_DNS_SECURE : MH_DANE_DNS_INSECURE;
    free(m);
    return 0;
}

/* ====== The lookup ====== */

struct answer {
    bool done;
    int status; /* ARES_* */
    unsigned char *msg;
    size_t len;
};

static void
answer_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct answer *a = arg;
    a->done = true;
    a->status = status;
    if (status == ARES_SUCCESS && abuf != NULL && alen > 0 &&
        (a->msg = malloc((size_t)alen)) != NULL) {
        memcpy(a->msg, abuf, (size_t)alen);
        a->len = (size_t)alen;
    }
}

/* Sends name/type with AD and DO on ch. Returns 0 or -1. */
static int
send_query(void *ch, const char *name, int type, struct answer *a)
{
    unsigned char *q;
    int qlen;
    if (mh_dns_query_new(name, type, &q, &qlen) != 0) {
        return -1;
    }
    ares_send((ares_channel)ch, q, qlen, answer_cb, a);
    mh_dns_query_free(q);
    return 0;
}

/* The lookup of lk->qname (type qtype(lk)) and of the probe name. */
static void
rrset_lookup(struct mh_dane_lookup *lk, const char *resolver,
             const char *probe_name, const struct mh_deadline *dl, double now)
{
    double t0 = mh_monotonic_s();
    mh_textf(lk->owner, sizeof lk->owner, "%s", lk->qname);
    void *ch;
    char err[256];
    if (mh_resolve_channel_new(resolver,
                               MH_RESOLVE_SERVFAIL_ANSWERS | MH_RESOLVE_EDNS,
                               &ch, err, sizeof err) != 0) {
        lk->status = MH_DANE_DNS_FAILED;
        mh_textf(lk->err, sizeof lk->err, "%s", err);
        return;
    }
    struct answer tlsa = {.status = ARES_ETIMEOUT};
    struct answer probe = {.status = ARES_ETIMEOUT};
    const char *pname = probe_name != NULL ? probe_name : ".";
    int rc = send_query(ch, lk->qname, qtype(lk), &tlsa);
    bool probed = rc == 0 && send_query(ch, pname, 6 /* SOA */, &probe) == 0;
    mh_resolve_wait(ch, dl);
    mh_resolve_channel_free(ch); /* cancels what is left */
    lk->duration_s = mh_monotonic_s() - t0;
    if (rc != 0) {
        lk->status = MH_DANE_DNS_FAILED;
        mh_textf(lk->err, sizeof lk->err, "cannot build the query for %s",
                 lk->qname);
    } else if (tlsa.msg != NULL) {
        if (mh_dane_answer_read(lk, tlsa.msg, tlsa.len, now) != 0) {
            lk->status = MH_DANE_DNS_FAILED;
            mh_textf(lk->err, sizeof lk->err, "out of memory");
        }
    } else if (!tlsa.done || tlsa.status == ARES_ETIMEOUT ||
               tlsa.status == ARES_ECANCELLED ||
               tlsa.status == ARES_EDESTRUCTION) {
        lk->status = MH_DANE_DNS_TIMEOUT;
        mh_textf(lk->err, sizeof lk->err, "no answer for %s %s in %.1f s",
                 lk->qname, type_name(lk), lk->duration_s);
    } else {
        lk->status = MH_DANE_DNS_FAILED;
        mh_textf(lk->err, sizeof lk->err, "%s lookup of %s failed: %s",
                 type_name(lk), lk->qname, ares_strerror(tlsa.status));
    }
    if (probed && probe.msg != NULL) {
        struct mh_dns_msg *m = malloc(sizeof *m);
        lk->probe_ad = m != NULL &&
                       mh_dns_parse(probe.msg, probe.len, m) == 0 && m->ad &&
                       m->rcode == MH_DNS_RCODE_NOERROR;
        free(m);
    }
    if (lk->status == MH_DANE_DNS_INSECURE && !lk->probe_ad) {
        lk->status = MH_DANE_DNS_UNVALIDATED;
        mh_textf(lk->err, sizeof lk->err,
                 "the resolver does not validate DNSSEC (no AD bit for "
                 "%s nor for the signed name '%s')",
                 lk->qname, pname);
    }
    free(tlsa.msg);
    free(probe.msg);
}

void
mh_dane_lookup_run(struct mh_dane_lookup *lk, const char *host, uint16_t port,
                   const char *resolver, const char *probe_name,
                   const struct mh_deadline *dl, double now)
{
    memset(lk, 0, sizeof *lk);
    lk->rcode = -1;
    lk->ede_code = -1;
    if (mh_dane_tlsa_name(lk->qname, sizeof lk->qname, port, host) != 0) {
        lk->status = MH_DANE_DNS_FAILED;
        mh_textf(lk->err, sizeof lk->err, "no TLSA name for host '%.200s'",
                 host != NULL ? host : "");
        return;
    }
    rrset_lookup(lk, resolver, probe_name, dl, now);
}

void
mh_dane_mx_lookup(struct mh_dane_lookup *lk, const char *domain,
                  const char *resolver, const char *probe_name,
                  const struct mh_deadline *dl, double now)
{
    memset(lk, 0, sizeof *lk);
    lk->rcode = -1;
    lk->ede_code = -1;
    lk->mx = true;
    size_t n = domain != NULL ? strlen(domain) : 0;
    if (n > 0 && domain[n - 1] == '.') {
        n--;
    }
    if (n == 0 || n >= sizeof lk->qname) {
        lk->status = MH_DANE_DNS_FAILED;
        mh_textf(lk->err, sizeof lk->err, "no MX name for '%.200s'",
                 domain != NULL ? domain : "");
        return;
    }
    memcpy(lk->qname, domain, n);
    lk->qname[n] = '\0';
    rrset_lookup(lk, resolver, probe_name, dl, now);
}

/* ====== The check ====== */

/* Usable for SMTP (RFC 7672 3.1): DANE-TA/DANE-EE, a known selector and
 * matching type, a digest of the right length (RFC 7671 4). why gets the
 * reason when not. */
static bool
usable(const struct mh_dane_tlsa *t, char *why, size_t whylen)
{
    if (t->usage == 0 || t->usage == 1) {
        snprintf(why, whylen,
                 "usage %s(%u) is unsuitable for SMTP (RFC 7672 3.1.3)",
                 t->usage == 0 ? "PKIX-TA" : "PKIX-EE", t->usage);
        return false;
    }
    if (t->usage > 3) {
        snprintf(why, whylen, "unknown usage %u", t->usage);
        return false;
    }
    if (t->selector > 1) {
        snprintf(why, whylen, "unknown selector %u", t->selector);
        return false;
    }
    if (t->mtype > 2) {
        snprintf(why, whylen, "unknown matching type %u", t->mtype);
        return false;
    }
    size_t want = t->mtype == 1 ? 32 : t->mtype == 2 ? 64 : 0;
    if (want != 0 && t->len != want) {
        snprintf(why, whylen, "a SHA2-%s digest of %zu octets (RFC 7671 4)",
                 t->mtype == 1 ? "256" : "512", t->len);
        return false;
    }
    return true;
}

/* The first verification error, recorded by the verify callback. */
struct verify_rec {
    int err;
    int depth;
};

static int
verify_cb(int ok, X509_STORE_CTX *ctx)
{
    struct verify_rec *v = X509_STORE_CTX_get_app_data(ctx);
    if (!ok && v != NULL && v->err == X509_V_OK) {
        v->err = X509_STORE_CTX_get_error(ctx);
        v->depth = X509_STORE_CTX_get_error_depth(ctx);
    }
    return ok;
}

/* Outcome of one DANE verification. */
struct dane_outcome {
    bool ran;      /* the verification could be set up */
    bool verified; /* a record matched and the chain verified */
    int depth;     /* SSL_get0_dane_authority: depth of the match, -1 */
    int err;       /* X509_V_ERR_* of the failure */
    int err_depth;
    uint8_t usage, selector, mtype; /* the record that matched */
};

/*
 * Verifies the chain the server sent against the n records recs (all
 * usable) with OpenSSL's DANE: an SSL object of the session's context for
 * the DANE state, X509_verify_cert on our own store context with no PKIX
 * trust anchors.
 */
static void
dane_verify(SSL_CTX *ctx, STACK_OF(X509) * sent,
            const struct mh_dane_tlsa *recs, size_t n,
            const struct mh_dane_check_params *p, struct dane_outcome *o)
{
    memset(o, 0, sizeof *o);
    o->depth = -1;
    if (ctx == NULL || sent == NULL || sk_X509_num(sent) < 1) {
        return;
    }
    X509 *leaf = sk_X509_value(sent, 0);
    /* Enabling is idempotent; the context is the probe's own. */
    if (SSL_CTX_dane_enable(ctx) <= 0) {
        return;
    }
    SSL *s = SSL_new(ctx);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *vc = X509_STORE_CTX_new();
    if (s == NULL || store == NULL || vc == NULL ||
        SSL_dane_enable(s, p->base) <= 0) {
        goto out;
    }
    SSL_dane_set_flags(s, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    if (p->mx_name != NULL && strcasecmp(p->mx_name, p->base) != 0 &&
        SSL_add1_host(s, p->mx_name) != 1) {
        goto out;
    }
    size_t added = 0;
    for (size_t i = 0; i < n; i++) {
        added +=
            SSL_dane_tlsa_add(s, recs[i].usage, recs[i].selector, recs[i].mtype,
                              recs[i].data, recs[i].len) > 0;
    }
    if (added == 0 || X509_STORE_CTX_init(vc, store, leaf, sent) != 1) {
        goto out;
    }
    X509_STORE_CTX_set_default(vc, "ssl_server");
    X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(vc), SSL_get0_param(s));
    X509_STORE_CTX_set0_dane(vc, SSL_get0_dane(s));
    struct verify_rec rec = {X509_V_OK, -1};
    X509_STORE_CTX_set_app_data(vc, &rec);
    X509_STORE_CTX_set_verify_cb(vc, verify_cb);
    o->ran = true;
    int ok = X509_verify_cert(vc);
    long vr = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(vc);
    SSL_set_verify_result(s, vr);
    o->verified = ok == 1;
    o->err = rec.err != X509_V_OK ? rec.err : (int)vr;
    o->err_depth = rec.depth;
    if (o->verified) {
        o->depth = SSL_get0_dane_authority(s, NULL, NULL);
        uint8_t u, sel, mt;
        if (SSL_get0_dane_tlsa(s, &u, &sel, &mt, NULL, NULL) >= 0) {
            o->usage = u;
            o->selector = sel;
            o->mtype = mt;
        }
    }
out:
    X509_STORE_CTX_free(vc);
    X509_STORE_free(store);
    SSL_free(s);
}

/* Does record t match key (selector 1) or cert (selector 0)? */
static bool
matches_key(const struct mh_dane_tlsa *t, EVP_PKEY *key, X509 *cert)
{
    unsigned char *der = NULL;
    int dlen = -1;
    if (t->selector == 1 && key != NULL) {
        dlen = i2d_PUBKEY(key, &der);
    } else if (t->selector == 0 && cert != NULL) {
        dlen = i2d_X509(cert, &der);
    }
    if (dlen <= 0) {
        return false;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const unsigned char *cmp = der;
    size_t cmplen = (size_t)dlen;
    if (t->mtype == 1 || t->mtype == 2) {
        if (EVP_Digest(der, (size_t)dlen, md, &mdlen,
                       t->mtype == 1 ? EVP_sha256() : EVP_sha512(),
                       NULL) != 1) {
            OPENSSL_free(der);
            return false;
        }
        cmp = md;
        cmplen = mdlen;
    }
    bool eq = cmplen == t->len && memcmp(cmp, t->data, cmplen) == 0;
    OPENSSL_free(der);
    return eq;
}

/* Loads --tlsa-next-key: a PEM certificate or public key. */
static int
load_next_key(const char *path, EVP_PKEY **key, X509 **cert, char *err,
              size_t errlen)
{
    *key = NULL;
    *cert = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read --tlsa-next-key %s", path);
        return -1;
    }
    *cert = PEM_read_X509(f, NULL, NULL, NULL);
    if (*cert != NULL) {
        *key = X509_get_pubkey(*cert);
    } else {
        rewind(f);
        *key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    }
    fclose(f);
    if (*key == NULL) {
        X509_free(*cert);
        *cert = NULL;
        snprintf(err, errlen,
                 "--tlsa-next-key %s holds no PEM certificate or public key",
                 path);
        return -1;
    }
    return 0;
}

const char *
mh_dane_usage_name(uint8_t usage)
{
    static const char *const names[] = {"PKIX-TA", "PKIX-EE", "DANE-TA",
                                        "DANE-EE"};
    return usage < 4 ? names[usage] : "unknown";
}

/* Records a problem: the first of the worst ones found is the failure
 * (the rule mh_result_raise applies to a sequence of raises). */
static void note_failure(struct mh_dane_report *rep, enum mh_state state,
                         enum mh_reason reason, const char *phase,
                         const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
note_failure(struct mh_dane_report *rep, enum mh_state state,
             enum mh_reason reason, const char *phase, const char *fmt, ...)
{
    struct mh_dane_failure *f = &rep->failure;
    if (mh_state_rank(state) <= mh_state_rank(f->state)) {
        return;
    }
    f->state = state;
    f->reason = reason;
    f->category = mh_reason_category(reason);
    f->phase = phase;
    va_list ap;
    va_start(ap, fmt);
    mh_vtextf(f->cause, sizeof f->cause, fmt, ap);
    va_end(ap);
}

void
mh_dane_rrsig_facts(const struct mh_dane_lookup *lk, double warn_days,
                    double crit_days, double now, struct mh_dane_rrsig *st)
{
    memset(st, 0, sizeof *st);
    st->rrset = lk->mx ? "MX" : "TLSA";
    if (lk->rrsig_expiration <= 0) {
        return;
    }
    st->present = true;
    st->expiration = lk->rrsig_expiration;
    st->days = (lk->rrsig_expiration - now) / SECONDS_PER_DAY;
    st->state = mh_tls_days_state(st->days, warn_days, crit_days);
    st->reason =
        st->state == MH_STATE_OK ? MH_REASON_NONE : MH_REASON_RRSIG_EXPIRING;
    mh_utc_iso(st->iso, sizeof st->iso, lk->rrsig_expiration);
}

/* The RRSIG facts of the check, and their problem. */
static void
rrsig_check(struct mh_dane_report *rep, const struct mh_dane_check_params *p)
{
    const struct mh_dane_lookup *lk = rep->lookup;
    struct mh_dane_rrsig *st = &rep->rrsig;
    mh_dane_rrsig_facts(lk, p->rrsig_warn_days, p->rrsig_crit_days, p->now, st);
    if (st->present && st->state != MH_STATE_OK) {
        note_failure(rep, st->state, st->reason, "rrsig",
                     "DNSSEC signatures over %s %s expire in %.1f days (%s)",
                     lk->owner, st->rrset, st->days, st->iso);
    }
}

/* The lookup's outcome when it ends the check before any matching (the
 * failure, if any, noted). Returns true when the check is over. */
static bool
lookup_outcome(struct mh_dane_report *rep, bool tls)
{
    const struct mh_dane_lookup *lk = rep->lookup;
    const char *err = lk->err[0] != '\0' ? lk->err : "no TLSA lookup";
    switch (lk->status) {
    case MH_DANE_DNS_SERVFAIL:
        rep->outcome = MH_DANE_OUT_SERVFAIL;
        note_failure(rep, MH_STATE_CRITICAL, MH_REASON_DNSSEC_INVALID, "lookup",
                     "TLSA lookup of %s failed (SERVFAIL%s): DANE senders "
                     "defer mail",
                     lk->qname, rep->ede);
        return true;
    case MH_DANE_DNS_UNVALIDATED:
        rep->outcome = MH_DANE_OUT_UNVALIDATED;
        note_failure(rep, MH_STATE_UNKNOWN, MH_REASON_DNSSEC_NOT_VALIDATING,
                     "lookup", "DANE not judged: %s", lk->err);
        return true;
    case MH_DANE_DNS_TIMEOUT:
        rep->outcome = MH_DANE_OUT_TIMEOUT;
        note_failure(rep, MH_STATE_CRITICAL, MH_REASON_DNS_TIMEOUT, "lookup",
                     "%s", lk->err);
        return true;
    case MH_DANE_DNS_FAILED:
    case MH_DANE_DNS_NONE:
        rep->outcome = MH_DANE_OUT_LOOKUP_FAILED;
        note_failure(rep, MH_STATE_UNKNOWN, MH_REASON_DNS_LOOKUP_FAILED,
                     "lookup", "DANE not judged: %s", err);
        return true;
    case MH_DANE_DNS_INSECURE:
    case MH_DANE_DNS_SECURE:
        break;
    }
    if (lk->nrecs == 0) {
        rep->outcome = MH_DANE_OUT_NO_RECORDS;
        if (rep->required) {
            note_failure(rep, MH_STATE_CRITICAL, MH_REASON_TLSA_MISSING,
                         "lookup", "no TLSA records at %s", lk->qname);
        }
        return true;
    }
    if (lk->status != MH_DANE_DNS_SECURE) {
        rep->outcome = MH_DANE_OUT_UNSIGNED;
        note_failure(rep, MH_STATE_WARNING, MH_REASON_DANE_NOT_IN_EFFECT,
                     "lookup",
                     "TLSA records at %s are not DNSSEC-signed: DANE not in "
                     "effect",
                     lk->qname);
        return true;
    }
    if (!tls) {
        rep->outcome = MH_DANE_OUT_NO_TLS;
        note_failure(rep, MH_STATE_CRITICAL, MH_REASON_DANE_REQUIRED, "tls",
                     "TLSA records are published at %s but no TLS session "
                     "was set up",
                     lk->qname);
        mh_textf(rep->failure.cause_no_starttls,
                 sizeof rep->failure.cause_no_starttls,
                 "STARTTLS not offered but TLSA records are published at %s: "
                 "DANE senders defer mail",
                 lk->qname);
        return true;
    }
    return false;
}

/* The verdict of every TLSA record alone; the usable ones are copied into
 * use (room for MAX_TLSA). */
static void
record_verdicts(struct mh_dane_report *rep, SSL_CTX *ctx, STACK_OF(X509) * sent,
                const struct mh_dane_check_params *p, struct mh_dane_tlsa *use)
{
    const struct mh_dane_lookup *lk = rep->lookup;
    for (size_t i = 0; i < lk->nrecs && i < MAX_TLSA; i++) {
        struct mh_dane_record *rec = &rep->records[rep->nrecords++];
        const struct mh_dane_tlsa *t = &lk->recs[i];
        rec->tlsa = t;
        rec->depth = -1;
        if (!usable(t, rec->detail, sizeof rec->detail)) {
            rec->status = MH_DANE_REC_UNUSABLE;
            continue;
        }
        use[rep->nusable++] = *t;
        struct dane_outcome one;
        dane_verify(ctx, sent, t, 1, p, &one);
        rec->status = one.verified ? MH_DANE_REC_MATCH : MH_DANE_REC_NO_MATCH;
        rec->depth = one.verified ? one.depth : -1;
        if (!one.verified) {
            mh_textf(rec->detail, sizeof rec->detail, "%s",
                     one.ran ? X509_verify_cert_error_string(one.err)
                             : "could not be verified");
        }
    }
}

/* The renewal that will break DANE (RFC 7671 8.1): every usable record
 * is DANE-EE and matches today's leaf, and the leaf expires within
 * cert_warn_days. */
static void
rollover_check(struct mh_dane_report *rep, STACK_OF(X509) * sent,
               const struct mh_dane_check_params *p)
{
    size_t ee_leaf = 0;
    for (size_t i = 0; i < rep->nrecords; i++) {
        const struct mh_dane_record *rec = &rep->records[i];
        if (rec->status == MH_DANE_REC_UNUSABLE) {
            continue;
        }
        if (rec->tlsa->usage != 3 || rec->status != MH_DANE_REC_MATCH ||
            rec->depth != 0) {
            return;
        }
        ee_leaf++;
    }
    X509 *leaf =
        sent != NULL && sk_X509_num(sent) > 0 ? sk_X509_value(sent, 0) : NULL;
    double not_after = 0;
    if (leaf == NULL || ee_leaf != rep->nusable ||
        mh_tls_asn1_time(X509_get0_notAfter(leaf), &not_after, NULL, 0) != 0) {
        return;
    }
    double days = mh_tls_days_left(not_after, p->now);
    if (days < p->cert_warn_days) {
        rep->rollover_risk = true;
        rep->leaf_days = days;
        note_failure(rep, MH_STATE_WARNING, MH_REASON_DANE_ROLLOVER_RISK,
                     "rollover",
                     "the renewal will break DANE unless the new key is "
                     "published (leaf expires in %.1f days, TLSA at %s names "
                     "only the current one)",
                     days, rep->lookup->qname);
    }
}

/* --tlsa-next-key: a usable DANE-EE record must match the next key; a
 * key file that cannot be read is a usage error. */
static void
next_key_check(struct mh_dane_report *rep, const struct mh_dane_check_params *p,
               const struct mh_dane_tlsa *use)
{
    EVP_PKEY *key;
    X509 *cert;
    rep->next_key_path = p->next_key;
    if (load_next_key(p->next_key, &key, &cert, rep->next_key_error,
                      sizeof rep->next_key_error) != 0) {
        rep->next_key = MH_DANE_NEXT_UNREADABLE;
        note_failure(rep, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "next_key",
                     "%s", rep->next_key_error);
        rep->failure.targetless = rep->failure.reason == MH_REASON_USAGE_ERROR;
        return;
    }
    bool found = false;
    for (size_t i = 0; i < rep->nusable && !found; i++) {
        found = use[i].usage == 3 && matches_key(&use[i], key, cert);
    }
    rep->next_key = found ? MH_DANE_NEXT_PUBLISHED : MH_DANE_NEXT_UNPUBLISHED;
    if (!found) {
        note_failure(rep, MH_STATE_WARNING, MH_REASON_DANE_NEXT_KEY_UNPUBLISHED,
                     "next_key",
                     "no TLSA record at %s matches the next key %s: publish "
                     "it before the rollover",
                     rep->lookup->qname, p->next_key);
    }
    EVP_PKEY_free(key);
    X509_free(cert);
}

/* The usable records together against the chain (OpenSSL's DANE). */
static void
match_chain(struct mh_dane_report *rep, SSL_CTX *ctx, STACK_OF(X509) * sent,
            const struct mh_dane_check_params *p,
            const struct mh_dane_tlsa *use)
{
    const struct mh_dane_lookup *lk = rep->lookup;
    if (rep->nusable == 0) {
        rep->outcome = MH_DANE_OUT_NO_USABLE;
        note_failure(rep, MH_STATE_WARNING, MH_REASON_TLSA_UNUSABLE, "records",
                     "none of the %zu TLSA records at %s is usable for SMTP "
                     "(usages 0/1 are unsuitable, RFC 7672 3.1.3)",
                     lk->nrecs, lk->qname);
        return;
    }
    struct dane_outcome all;
    dane_verify(ctx, sent, use, rep->nusable, p, &all);
    rep->verified = all.verified;
    if (!all.verified) {
        rep->outcome = MH_DANE_OUT_MISMATCH;
        mh_textf(rep->verify_error, sizeof rep->verify_error, "%s",
                 all.ran ? X509_verify_cert_error_string(all.err)
                         : "no certificate to verify");
        note_failure(rep, MH_STATE_CRITICAL, MH_REASON_TLSA_MISMATCH, "verify",
                     "no TLSA record at %s matches the certificate chain "
                     "(%s): DANE senders defer mail",
                     lk->qname, rep->verify_error);
        return;
    }
    rep->outcome = MH_DANE_OUT_VERIFIED;
    rep->depth = all.depth;
    rep->usage = all.usage;
    rep->selector = all.selector;
    rep->mtype = all.mtype;
    rollover_check(rep, sent, p);
    if (p->next_key != NULL) {
        next_key_check(rep, p, use);
    }
}

struct mh_dane_report *
mh_dane_report_check(const struct mh_dane_lookup *lk, SSL_CTX *ctx,
                     STACK_OF(X509) * sent,
                     const struct mh_dane_check_params *p)
{
    struct mh_dane_report *rep = calloc(1, sizeof *rep);
    if (rep == NULL) {
        return NULL;
    }
    rep->lookup = lk;
    rep->required = p->required;
    rep->depth = -1;
    rep->failure.phase = "";
    if (lk->ede_code >= 0) {
        mh_textf(rep->ede, sizeof rep->ede, " (EDE %d%s%s)", lk->ede_code,
                 lk->ede_text[0] != '\0' ? ": " : "", lk->ede_text);
    }
    if (lookup_outcome(rep, ctx != NULL)) {
        if (lk->status == MH_DANE_DNS_SECURE) {
            rrsig_check(rep, p);
        }
        return rep;
    }
    rrsig_check(rep, p);
    struct mh_dane_tlsa use[MAX_TLSA];
    record_verdicts(rep, ctx, sent, p, use);
    match_chain(rep, ctx, sent, p, use);
    return rep;
}
