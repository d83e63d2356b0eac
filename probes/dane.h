/* SPDX-License-Identifier: MIT */
/*
 * dane: DANE for SMTP (RFC 7672) as a DANE-validating sender applies it,
 * checked against the certificate chain the server presented.
 *
 * Two parts:
 *   - the lookup (mh_dane_lookup_run): the TLSA records of
 *     _PORT._tcp.HOST (RFC 6698 3) through c-ares with the AD bit asked
 *     for (RFC 6840 5.7) and EDNS0 DO (the RRSIGs come along). The AD bit
 *     of the answer is the proof that the resolver validated it. A CNAME
 *     at the TLSA name is followed by the resolver; the answer's AD covers
 *     the whole chain (RFC 7672 2.2.2). In the same round trip a second
 *     query asks for the SOA of a name known to be signed (the probe
 *     name, default the root zone): when the TLSA answer has no AD, it
 *     tells "the TLSA records are not signed" (the probe has AD: the
 *     resolver validates) from "the resolver does not validate" (it has
 *     none). A SERVFAIL is never "no TLSA": a validating resolver answers
 *     SERVFAIL for bogus data (bad or expired signatures), and senders
 *     then defer mail to that MX (RFC 7672 2.1.1); an Extended DNS Error
 *     (RFC 8914) the resolver adds is quoted.
 *   - the check (mh_dane_check), with OpenSSL's DANE API: the usable
 *     records (usages DANE-TA(2) and DANE-EE(3), RFC 7672 3.1) are given
 *     to SSL_dane_tlsa_add on an SSL object of the session's context, and
 *     the chain the server sent is verified with X509_verify_cert and
 *     X509_STORE_CTX_set0_dane, with no PKIX trust anchors: DANE-EE
 *     matches the leaf with no name and no expiry check
 *     (DANE_FLAG_NO_DANE_EE_NAMECHECKS, RFC 7672 3.1.1); DANE-TA makes the
 *     matched certificate the trust anchor and checks the chain to it
 *     with the names RFC 7672 3.2.2 gives (the TLSA base domain and the
 *     MX host name). SSL_get0_dane_authority says at which depth which
 *     record matched. Each record is also verified alone, for the
 *     per-record table. PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP
 *     (RFC 7672 3.1.3) and reported as such; so are unknown selectors and
 *     matching types and digests of the wrong length (RFC 7671 4).
 *
 * Results (items kind "dane"; state and reason, category tls):
 *   - lookup SERVFAIL (bogus, expired signatures, broken delegation):
 *     CRITICAL dnssec_invalid;
 *   - no AD and the probe name has no AD either: UNKNOWN
 *     dnssec_not_validating ("resolver does not validate DNSSEC"), never
 *     "no DANE";
 *   - TLSA records without DNSSEC: WARNING dane_not_in_effect (senders
 *     ignore them);
 *   - no TLSA records: with `required` (smtp/tls --dane) CRITICAL
 *     tlsa_missing, else a note (domain mode: DANE is checked on the MX
 *     hosts that publish TLSA);
 *   - TLSA published but TLS not set up (STARTTLS not offered): CRITICAL
 *     dane_required;
 *   - only unusable records: WARNING tlsa_unusable (senders fall back to
 *     unauthenticated TLS, RFC 7672 2.2);
 *   - no usable record matches: CRITICAL tlsa_mismatch;
 *   - only DANE-EE records, all matching the leaf, and the leaf expires
 *     within the certificate warning days: WARNING dane_rollover_risk
 *     (the renewal breaks DANE unless the new key is published first);
 *   - a next key given (--tlsa-next-key) that no DANE-EE record matches:
 *     WARNING dane_next_key_unpublished;
 *   - the RRSIGs over the TLSA records expire within the RRSIG days:
 *     WARNING/CRITICAL rrsig_expiring (perfdata dane_rrsig_days).
 * Prometheus: mailhealth_dane_verified (1: a usable record matched),
 * mailhealth_dane_tlsa_records (records published),
 * mailhealth_dane_rrsig_expiry_timestamp_seconds{rrset="TLSA"}.
 */
#ifndef MH_DANE_H
#define MH_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "deadline.h"
#include "dnsmsg.h"
#include "result.h"

/* What the TLSA lookup found out. */
enum mh_dane_dns {
    MH_DANE_DNS_NONE = 0,    /* not looked up (yet) */
    MH_DANE_DNS_SECURE,      /* AD answer: records, or none (denial) */
    MH_DANE_DNS_INSECURE,    /* no AD; the resolver validates the probe
                                name, so the TLSA name is unsigned */
    MH_DANE_DNS_UNVALIDATED, /* no AD on the TLSA nor on the probe name:
                                the resolver does not validate */
    MH_DANE_DNS_SERVFAIL,    /* SERVFAIL: bogus data or a broken zone */
    MH_DANE_DNS_TIMEOUT,     /* no answer before the deadline */
    MH_DANE_DNS_FAILED       /* REFUSED, malformed answer, no resolver */
};

/* Short name ("secure", "insecure", ...) of a lookup outcome. */
const char *mh_dane_dns_name(enum mh_dane_dns s);

/* One TLSA record (RFC 6698 2.1), data owned. */
struct mh_dane_tlsa {
    uint8_t usage, selector, mtype;
    unsigned char *data;
    size_t len;
};

/* The lookup of one TLSA name. Free with mh_dane_lookup_free. */
struct mh_dane_lookup {
    char qname[MH_DNS_NAME_MAX + 16]; /* "_25._tcp.mx.example.com" */
    char owner[MH_DNS_NAME_MAX];      /* where the records are: qname or
                                         the end of its CNAME chain */
    enum mh_dane_dns status;
    int rcode;     /* of the TLSA answer, -1: none */
    bool ad;       /* the TLSA answer had AD */
    bool probe_ad; /* the probe name's answer had AD */
    int ede_code;  /* RFC 8914 INFO-CODE of the TLSA answer, -1: none */
    char ede_text[128];
    struct mh_dane_tlsa *recs;
    size_t nrecs;
    double rrsig_expiration; /* earliest expiration of the RRSIGs over the
                                TLSA records (Unix time), 0: none seen */
    bool mx;                 /* an MX lookup (mh_dane_mx_lookup): no
                                records kept, only status and RRSIGs */
    double duration_s;       /* wall time of the lookup */
    char err[256];           /* why, when not SECURE/INSECURE */
};

/*
 * Writes the TLSA name of host and port ("_25._tcp.host", RFC 6698 3; a
 * final dot of host dropped) into buf. Returns 0, or -1 when it does not
 * fit or host is empty.
 */
int mh_dane_tlsa_name(char *buf, size_t len, uint16_t port, const char *host);

/*
 * Looks up the TLSA records of host:port and the SOA of probe_name (NULL:
 * "." the root zone) at once through resolver ("IP[:PORT]" or NULL: the
 * system resolver) within dl, and fills lk (zeroed first). now: Unix time
 * for the RRSIG expiration. Never fails as a call: every problem is a
 * status with err.
 */
void mh_dane_lookup_run(struct mh_dane_lookup *lk, const char *host,
                        uint16_t port, const char *resolver,
                        const char *probe_name, const struct mh_deadline *dl,
                        double now);

/*
 * The DNSSEC state of the MX RRset of domain (RFC 7672 2.2.1: senders use
 * DANE only for MX hosts named by a secure MX RRset), looked up like the
 * TLSA records: status, AD, EDE and the earliest RRSIG expiration over
 * the MX records (lk->recs stays empty, lk->mx is set).
 */
void mh_dane_mx_lookup(struct mh_dane_lookup *lk, const char *domain,
                       const char *resolver, const char *probe_name,
                       const struct mh_deadline *dl, double now);

/*
 * Reads a TLSA answer (an MX answer when lk->mx; the whole DNS message)
 * into lk: rcode, AD, EDE,
 * the records at the end of the CNAME chain from lk->qname and the
 * earliest RRSIG expiration over them; status SECURE with AD, SERVFAIL,
 * FAILED for other errors or a malformed message, else INSECURE (the
 * caller decides between INSECURE and UNVALIDATED with the probe). The
 * test seam of the lookup. Returns 0, or -1 when memory ran out.
 */
int mh_dane_answer_read(struct mh_dane_lookup *lk, const unsigned char *msg,
                        size_t len, double now);

/* Frees the records of lk (not lk itself). */
void mh_dane_lookup_free(struct mh_dane_lookup *lk);

/* What the check needs besides the lookup. Strings are borrowed. */
struct mh_dane_check_params {
    const char *base;       /* the TLSA base domain (the host name) */
    const char *mx_name;    /* another reference identifier for DANE-TA (the
                               MX host name when it differs), or NULL */
    bool required;          /* no TLSA records is CRITICAL tlsa_missing
                               (else a note) */
    double cert_warn_days;  /* the leaf's days left that make a lone
                               DANE-EE set a rollover risk */
    double rrsig_warn_days; /* RRSIG days left that warn */
    double rrsig_crit_days; /* ... and that are critical */
    const char *next_key;   /* PEM file of the next public key or
                               certificate (--tlsa-next-key), or NULL */
    double now;             /* Unix time */
    const char *where;      /* "host[addr]:port" for the summary */
};

/*
 * The DANE check of a session against a lookup. ctx: the session's
 * context (SSL_get_SSL_CTX; DANE is enabled on it, SSL_CTX_dane_enable,
 * so it must be the probe's own), or NULL when no TLS session was set up
 * (STARTTLS missing or failed: TLSA records then make it CRITICAL
 * dane_required). sent: the chain the server sent, leaf first
 * (SSL_get_peer_cert_chain), borrowed. Adds items, perfdata and samples
 * to r and raises its state as listed above. Allocation failures are
 * recorded in r.
 */
void mh_dane_check(const struct mh_dane_lookup *lk, SSL_CTX *ctx,
                   STACK_OF(X509) * sent, const struct mh_dane_check_params *p,
                   struct mh_result *r);

/*
 * The freshness of the RRSIGs over lk's record set (TLSA, or MX when
 * lk->mx): an item "rrsig" ("mx rrsig"), perfdata dane_rrsig_days
 * (dane_mx_rrsig_days) with the thresholds as "W:" and "C:" ranges, the
 * sample mailhealth_dane_rrsig_expiry_timestamp_seconds{rrset}, and
 * WARNING/CRITICAL rrsig_expiring below warn_days/crit_days days left
 * (from now, Unix time). where prefixes the summary, or NULL. Nothing
 * when no RRSIG was seen.
 */
void mh_dane_rrsig_report(const struct mh_dane_lookup *lk, double warn_days,
                          double crit_days, double now, const char *where,
                          struct mh_result *r);

#endif
