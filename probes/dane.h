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
 *   - the check (mh_dane_report_check), with OpenSSL's DANE API: the usable
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
 * The check fills a typed report first (struct mh_dane_report below: the
 * lookup, each record's verdict, the match, RRSIG freshness, rollover and
 * next-key facts, one failure record with phase, cause, category, reason
 * and state), then plugin/report_dane.c (mh_dane_report_render) turns it
 * into the result.
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

/* Short name ("DANE-EE", ...) of a TLSA usage (RFC 7218 2.1). */
const char *mh_dane_usage_name(uint8_t usage);

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

/* ====== The report: what the check found, before any output ======
 *
 * The check runs in two steps: mh_dane_report_check() matches the chain
 * against the lookup into a struct mh_dane_report (facts and the states
 * and reasons they imply, no output), and plugin/report_dane.c
 * (mh_dane_report_render) turns a report into the items, perfdata,
 * samples, state and summary listed at the top of this file.
 */

/* How far the check got: the outcome that decides its verdict. */
enum mh_dane_outcome {
    MH_DANE_OUT_SERVFAIL,      /* lookup SERVFAIL: dnssec_invalid */
    MH_DANE_OUT_UNVALIDATED,   /* the resolver does not validate */
    MH_DANE_OUT_TIMEOUT,       /* no answer in time */
    MH_DANE_OUT_LOOKUP_FAILED, /* REFUSED, malformed, no lookup */
    MH_DANE_OUT_NO_RECORDS,    /* no TLSA records (signed denial or not) */
    MH_DANE_OUT_UNSIGNED,      /* TLSA records without DNSSEC */
    MH_DANE_OUT_NO_TLS,        /* signed TLSA records, no TLS session */
    MH_DANE_OUT_NO_USABLE,     /* only unusable records */
    MH_DANE_OUT_MISMATCH,      /* no usable record matches the chain */
    MH_DANE_OUT_VERIFIED       /* a usable record matched */
};

/* What one TLSA record is worth against the chain. */
enum mh_dane_rec_status {
    MH_DANE_REC_UNUSABLE, /* not for SMTP (RFC 7672 3.1.3, RFC 7671 4) */
    MH_DANE_REC_MATCH,    /* alone, it verifies the chain */
    MH_DANE_REC_NO_MATCH  /* alone, it does not */
};

/* One TLSA record of the lookup and its verdict. */
struct mh_dane_record {
    const struct mh_dane_tlsa *tlsa; /* borrowed from the lookup */
    enum mh_dane_rec_status status;
    int depth;        /* MATCH: depth of the matched certificate */
    char detail[160]; /* UNUSABLE: why; NO_MATCH: OpenSSL's verify error
                         ("could not be verified" when it could not run) */
};

/* The freshness of the RRSIGs over one record set (RFC 4034 3.1.5). */
struct mh_dane_rrsig {
    bool present;          /* RRSIGs seen and reported */
    const char *rrset;     /* static: "TLSA" or "MX" */
    double expiration;     /* earliest expiration, Unix time */
    double days;           /* days left at the check's `now` */
    char iso[40];          /* expiration, ISO 8601 UTC */
    enum mh_state state;   /* by days left against the RRSIG thresholds */
    enum mh_reason reason; /* rrsig_expiring when not OK */
};

/* The --tlsa-next-key check. */
enum mh_dane_next_key {
    MH_DANE_NEXT_NOT_CHECKED = 0, /* no next key given, or not verified */
    MH_DANE_NEXT_UNREADABLE,      /* the file holds no key: usage error */
    MH_DANE_NEXT_PUBLISHED,       /* a DANE-EE record matches it */
    MH_DANE_NEXT_UNPUBLISHED      /* none does */
};

/* What the check concluded: the first of the worst problems found, as
 * the result's state, reason and summary. */
struct mh_dane_failure {
    enum mh_state state;   /* OK: nothing to report */
    const char *phase;     /* static: "lookup", "tls", "rrsig", "records",
                              "verify", "rollover", "next_key", or "" */
    enum mh_reason reason; /* its category: mh_reason_category() */
    enum mh_category category;
    bool targetless;  /* cause is not about the target (a usage error):
                         the summary is cause alone */
    char cause[2048]; /* the summary, without the target */
    /* For dane_required: the summary when the result is already CRITICAL
     * tls_required (STARTTLS not offered); it replaces that verdict. */
    char cause_no_starttls[2048];
};

/* Most TLSA records looked at (a longer set is cut). */
#define MH_DANE_MAX_TLSA 32

/* The outcome of one DANE check. Text is bounded; names and resolver
 * text are as found (the result model makes them printable). */
struct mh_dane_report {
    const struct mh_dane_lookup *lookup; /* borrowed: qname, owner,
                                            DNSSEC status, records */
    enum mh_dane_outcome outcome;
    bool required; /* mh_dane_check_params.required */
    char ede[200]; /* " (EDE 15: Blocked)" from the TLSA answer, or "" */
    struct mh_dane_rrsig rrsig;
    size_t nrecords; /* in records[] (the lookup's, at most
                        MH_DANE_MAX_TLSA) */
    struct mh_dane_record records[MH_DANE_MAX_TLSA];
    size_t nusable;
    /* The usable records together (OUT_VERIFIED and OUT_MISMATCH). */
    bool verified;
    int depth;                      /* of the match */
    uint8_t usage, selector, mtype; /* the record that matched */
    char verify_error[160];         /* OUT_MISMATCH: why */
    /* The renewal risk (RFC 7671 8.1): only DANE-EE records, all matching
     * the leaf, which expires within cert_warn_days. */
    bool rollover_risk;
    double leaf_days; /* the leaf's days left, when rollover_risk */
    enum mh_dane_next_key next_key;
    const char *next_key_path; /* borrowed (mh_dane_check_params) */
    char next_key_error[300];  /* NEXT_UNREADABLE: why */
    struct mh_dane_failure failure;
};

/*
 * The DANE check of a session against a lookup, as a new report. ctx: the
 * session's context (SSL_get_SSL_CTX; DANE is enabled on it,
 * SSL_CTX_dane_enable, so it must be the probe's own), or NULL when no TLS
 * session was set up (STARTTLS missing or failed: TLSA records then make
 * it CRITICAL dane_required). sent: the chain the server sent, leaf first
 * (SSL_get_peer_cert_chain), borrowed. The report borrows lk and
 * p->next_key: use it while they live. Returns the report (free with
 * free()) or NULL when memory ran out.
 */
struct mh_dane_report *
mh_dane_report_check(const struct mh_dane_lookup *lk, SSL_CTX *ctx,
                     STACK_OF(X509) * sent,
                     const struct mh_dane_check_params *p);

/*
 * The RRSIG facts of lk's record set at `now` against the thresholds in
 * days (st->present false when no RRSIG was seen). Pure.
 */
void mh_dane_rrsig_facts(const struct mh_dane_lookup *lk, double warn_days,
                         double crit_days, double now,
                         struct mh_dane_rrsig *st);

#endif
