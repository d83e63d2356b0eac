/* SPDX-License-Identifier: MIT */
/*
 * tlscheck: certificate checks of an established TLS session, as a sending
 * MTA or a mail client would see it. Field cases BR-NN are in
 * tests/field-cases.md.
 *
 * What is checked, all with OpenSSL's own API (no certificate is parsed by
 * hand):
 *   - the chain, against the trust store the session was made with (system
 *     default or --ca-file/--ca-path), RFC 5280 path validation by
 *     X509_verify_cert();
 *   - the host name per RFC 6125 (OpenSSL's host check; an IP address
 *     literal is checked against iPAddress entries), part of the same
 *     verification (X509_VERIFY_PARAM host/IP set in transport.c);
 *   - expiry of every element of the verified chain (leaf, intermediates,
 *     trust anchor) against warning/critical thresholds in days;
 *   - certificates the server sent that are not on the verified path: they
 *     are reported and warn at most ("remove it from the chain"), never set
 *     the earliest expiry and never make the check CRITICAL;
 *   - the session's TLS version and cipher.
 *
 * The chain is verified once, here rather than during the handshake (which
 * transport.c makes skip it), with the session's trust store and
 * parameters and a verify callback that records every error and lets
 * verification continue, so that every problem is listed (field case BR-22
 * B: self-signed AND expired AND name mismatch), not only the first one
 * OpenSSL would stop at. The smtp probe runs it on its TLS worker thread
 * beside the handshake's end and the dialogue (mh_tls_verify_prepare
 * below); mh_tls_check_peer verifies a peer description inline.
 *
 * The path is the chain OpenSSL verified, trust anchor included; when
 * verification failed, the chain OpenSSL built while recording the errors
 * (for a server that sends only its leaf, that is the leaf alone).
 *
 * The check fills a typed report first (struct mh_tls_report below:
 * session, chain, per-certificate facts, verification problems, one
 * failure record with phase, cause, category, reason and state), then
 * plugin/report_tls.c (mh_tls_report_render) turns it into the result.
 *
 * Results (struct mh_result, see result.h):
 *   - items: kind "cert", name "depth N" per path element (text: subject,
 *     role, issuer, notAfter ISO 8601 UTC, days left, key type and size,
 *     signature algorithm; JSON attributes with the same facts and the
 *     subjectAltName DNS/IP entries); kind "cert", name "extra N" per
 *     certificate sent but not on the path (N is its position in the sent
 *     list, on_path 0); kind "verify", name "depth N" (or "chain") per
 *     verification problem, with OpenSSL's reason; kind "note" for hints
 *     (no SNI sent); kind "tls", name "verify" with the session facts
 *     (version, cipher, verified, sni, chain length, earliest expiry);
 *   - perfdata: cert_days_depth<N> (days left, one per path element) and
 *     cert_days_earliest, both with the thresholds as Nagios ranges
 *     ("30:" warning, "14:" critical: alert below that many days);
 *   - Prometheus samples: mailhealth_tls_cert_expiry_timestamp_seconds
 *     {depth,subject,issuer} per path element (not for extra certificates,
 *     which must not trigger expiry alerts),
 *     mailhealth_tls_earliest_cert_expiry_timestamp_seconds (path only),
 *     mailhealth_tls_verified (1: chain and name verified),
 *     mailhealth_tls_version_info{version,cipher};
 *   - state and category: verification failures CRITICAL/tls (notes with
 *     --no-verify), path elements by days left (CRITICAL below the critical
 *     days, so always when expired; WARNING below the warning days), extra
 *     certificates WARNING at most. The summary lists every problem found.
 *
 * Server-provided text (subjects, issuers, names) is RFC 2253 with
 * non-ASCII escaped by OpenSSL, and made printable again by the result
 * model.
 */
#ifndef MH_TLSCHECK_H
#define MH_TLSCHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "result.h"

struct mh_tls_check_params {
    bool verify;             /* verification failures are CRITICAL/tls; false
                                (--no-verify): they are notes */
    const char *verify_name; /* the name checked (RFC 6125) or NULL: used in
                                messages and hints only; the check itself
                                uses the session's X509_VERIFY_PARAM */
    bool sni_sent;           /* the caller asked for SNI (false: --no-sni);
                                the name actually sent is read from the
                                session: a name asked for but not sent was
                                an IP literal, which SNI cannot carry
                                (RFC 6066 section 3) */
    double warn_days;        /* days left below which an element warns */
    double crit_days;        /* days left below which an element is
                                critical (crit_days <= warn_days) */
    double now;              /* Unix time (seconds) used for days left and
                                for re-verification */
    const char *where;       /* "host[addr]:port" prefix of the summary, or
                                NULL */
};

/*
 * The certificate check of a session, in two parts so that the expensive
 * one can run on another thread while the handshake and the dialogue
 * (EHLO after STARTTLS, QUIT) go on: verifying a three-element ECDSA chain
 * costs about half a millisecond of CPU, as long as a local server's round
 * trips. The handshake itself does not verify (transport.c); the job
 * verifies the chain with OpenSSL's X509_verify_cert(), with the trust
 * store, X509_VERIFY_PARAM (name) and security level of the session, as
 * ssl_verify_cert_chain() would during the handshake, recording every
 * problem; mh_tls_report_job() then turns it into a report, which
 * plugin/report_tls.c renders as described above.
 *
 * mh_tls_verify_prepare() takes, on the session's thread, its own
 * references to the certificates sent, the session's trust store and a
 * copy of its verification parameters (name, purpose, security level), so
 * the session may change meanwhile (TLS 1.3 session tickets). It can be
 * called as soon as the server's certificates have arrived (during the
 * handshake: mh_tls_params.on_certificates). `now` is the Unix time
 * (seconds) verified at. Returns the job (free with mh_tls_verify_free) or
 * NULL when memory ran out.
 */
struct mh_tls_verify_job;
struct mh_tls_verify_job *mh_tls_verify_prepare(SSL *ssl, double now);

/*
 * Runs the verification, on any one thread. store: the trust anchors to
 * verify with (a reference is taken), or NULL: the session's; with store
 * NULL and store_err set, the trust store could not be loaded and the
 * check reports store_err ("cannot load the trust store ...", CRITICAL/tls)
 * instead. Runs once; later calls do nothing.
 */
void mh_tls_verify_run(struct mh_tls_verify_job *job, X509_STORE *store,
                       const char *store_err);

/*
 * After mh_tls_verify_run: X509_V_OK when chain and name verified, else the
 * first problem's X509_V_ERR_* code (X509_V_ERR_UNSPECIFIED when it did not
 * run, the store failed or the server sent no certificate,
 * X509_V_ERR_OUT_OF_MEM when memory ran out). The smtp probe asks before
 * it sends credentials: only over a verified session unless --no-verify.
 */
long mh_tls_verify_result(const struct mh_tls_verify_job *job);

/* After mh_tls_verify_run: why the trust store could not be loaded
 * ("cannot load the trust store ...", owned by the job), or NULL. */
const char *mh_tls_verify_store_error(const struct mh_tls_verify_job *job);

/* Frees the job. NULL is fine. */
void mh_tls_verify_free(struct mh_tls_verify_job *job);

/* Sentinel for mh_tls_peer.verify_result: no verification has run yet. */
#define MH_TLS_VERIFY_NOT_RUN (-1L)

/*
 * What the checks need from a session, without the session (the test
 * seam: unit tests build certificates and a store in memory). Everything
 * is borrowed for the duration of the call.
 */
struct mh_tls_peer {
    STACK_OF(X509) * sent;     /* certificates as sent by the server, leaf
                                  first (SSL_get_peer_cert_chain on a
                                  client); NULL or empty: none sent */
    STACK_OF(X509) * verified; /* chain OpenSSL verified in the handshake
                                  (SSL_get0_verified_chain), or NULL */
    long verify_result;        /* X509_V_OK, an X509_V_ERR_* code, or
                                  MH_TLS_VERIFY_NOT_RUN: verify here */
    X509_STORE *store;         /* trust anchors for (re-)verification */
    X509_VERIFY_PARAM *param;  /* host/IP and flags to verify with, or NULL */
    int auth_level;            /* security level for key sizes (SSL's), or -1 */
    const char *sni;           /* server name sent in the ClientHello, NULL:
                                  none */
    const char *version;       /* "TLSv1.3", or NULL: no session facts */
    const char *cipher;        /* "TLS_AES_256_GCM_SHA384", or NULL */
};

/* ====== The report: what the check found, before any output ======
 *
 * The check runs in two steps: mh_tls_report_peer() / mh_tls_report_job()
 * verify and analyse the peer into a struct mh_tls_report (facts and the
 * states and reasons they imply, no output), and plugin/report_tls.c
 * (mh_tls_report_render) turns a report into the items, perfdata,
 * samples, state and summary described at the top of this file. All text in a
 * report is bounded and printable ASCII (server text escaped as \xNN), cut with
 * "..." when longer than its field.
 */

/* Longest subject/issuer kept (RFC 2253 form). */
#define MH_TLS_NAME_LEN 400
/* Most chain elements and most extra certificates reported: a real chain
 * has 2 to 4; a hostile server may send hundreds. */
#define MH_TLS_MAX_ELEMS 12
/* Most distinct verification problems recorded. */
#define MH_TLS_MAX_PROBLEMS 16
/* Room for one message (the result model caps a summary at 1 KiB). */
#define MH_TLS_TEXT_LEN 1024

/* Facts of one certificate (RFC 5280 4.1). */
struct mh_tls_cert_facts {
    char subject[MH_TLS_NAME_LEN]; /* RFC 2253, "(empty)" for none */
    char issuer[MH_TLS_NAME_LEN];
    char not_before_iso[32]; /* ISO 8601 UTC, or "unreadable" */
    char not_after_iso[32];
    double not_after;      /* Unix time, when has_not_after */
    bool has_not_after;    /* false: notAfter could not be read */
    double days;           /* days left at the check's `now` (negative:
                              expired), when has_not_after */
    char key[96];          /* "RSA 2048 bits", "EC 256 bits (prime256v1)" */
    char sig[80];          /* signature algorithm, "ecdsa-with-SHA256" */
    char names[256];       /* subjectAltName DNS and IP entries, ", "-joined */
    const char *role;      /* static: "leaf", "intermediate", "root", or for
                              a certificate off the path "not on the verified
                              path" (with "self-signed, " before it) */
    bool self_issued;      /* subject == issuer (EXFLAG_SI) */
    int index;             /* depth on the path, or position in the list the
                              server sent for a certificate off the path */
    enum mh_state state;   /* by days left (path: mh_tls_days_state; off
                              the path: mh_tls_extra_state) */
    enum mh_reason reason; /* cert_expired, cert_expiring or cert_invalid
                              when state is not OK, else none */
};

/* One verification problem (X509_verify_cert's error at a depth). */
struct mh_tls_problem {
    int err;                    /* X509_V_ERR_* */
    int depth;                  /* on the path, or -1: the chain as a whole */
    enum mh_reason reason;      /* cert_expired, cert_name_mismatch, ... */
    char text[MH_TLS_TEXT_LEN]; /* "CN=x: certificate has expired (...)" */
};

/* What the check concluded: the first problem the summary names decides
 * phase and reason; cause lists every problem, the critical ones first. */
struct mh_tls_failure {
    enum mh_state state;   /* OK: nothing to report */
    const char *phase;     /* static: "certificate" (none sent),
                              "trust_store", "verify", "expiry", "chain"
                              (a certificate off the path), or "" */
    enum mh_reason reason; /* its category: mh_reason_category() */
    enum mh_category category;
    char cause[2 * MH_TLS_TEXT_LEN]; /* the summary, without the target */
};

/* The outcome of one certificate check. */
struct mh_tls_report {
    /* Session (empty strings: not known). */
    char version[32]; /* "TLSv1.3" */
    char cipher[64];  /* "TLS_AES_256_GCM_SHA384" */
    bool has_sni;     /* a server name was sent in the ClientHello */
    char sni[256];
    bool checked; /* false: no certificate check could run (none sent,
                     no trust store): only failure says why */
    /* The chain. */
    int nsent;  /* certificates the server sent (0: none, see failure) */
    int nchain; /* elements of the path (verified, or as built) */
    int npath;  /* of them reported in path[] (at most MH_TLS_MAX_ELEMS) */
    /* Leaf first. A longer path (nchain > npath) keeps in path[npath] the
     * element beyond the reported ones that expires first (an unreadable
     * notAfter first; index = its depth): its expiry is judged like the
     * reported elements' and it gets its own "depth N" line, so a long
     * chain never hides an expiring certificate. */
    struct mh_tls_cert_facts path[MH_TLS_MAX_ELEMS + 1];
    int earliest; /* index in path[] (0..npath) of the earliest notAfter,
                     or -1 */
    char anchor[MH_TLS_NAME_LEN]; /* subject of the path's last element
                                     (the trust anchor when verified) */
    int nextra;                   /* certificates sent but not on the path */
    int nextra_reported;          /* of them in extra[] */
    struct mh_tls_cert_facts extra[MH_TLS_MAX_ELEMS];
    /* Verification (chain and name together, RFC 5280 and RFC 6125). */
    bool verified;
    bool enforced;                /* mh_tls_check_params.verify */
    enum mh_reason verify_reason; /* the first problem's, or none */
    size_t nproblems;             /* in problems[] */
    size_t dropped;               /* more problems not recorded */
    struct mh_tls_problem problems[MH_TLS_MAX_PROBLEMS];
    char problem_list[MH_TLS_TEXT_LEN]; /* every problem in one line */
    char hint[160]; /* why the name may not match (no SNI), or "" */
    struct mh_tls_failure failure;
    bool oom; /* memory ran out while verifying */
};

/*
 * Verifies and analyses a peer into a new report. Returns the report (free with
 * free()) or NULL when memory ran out.
 */
struct mh_tls_report *mh_tls_report_peer(const struct mh_tls_peer *peer,
                                         const struct mh_tls_check_params *p);

/*
 * The same with the job's verification (after mh_tls_verify_run, on any
 * one thread). version and cipher: the session's, read once the handshake
 * is complete (SSL_get_version and SSL_get_cipher_name, static strings), or
 * NULL: those known when the job was prepared (a TLS 1.2 session has no
 * cipher yet then). p->now should be the job's `now`. A job whose trust store
 * could not be loaded gives a report with failure phase "trust_store",
 * reason trust_store_error. Returns NULL when memory ran out or the job
 * never ran.
 */
struct mh_tls_report *mh_tls_report_job(const struct mh_tls_verify_job *job,
                                        const char *version, const char *cipher,
                                        const struct mh_tls_check_params *p);

/*
 * Days from `now` until `not_after` (both Unix time, seconds); negative
 * when the certificate has expired. Pure.
 */
double mh_tls_days_left(double not_after, double now);

/*
 * Days-left state for one element of the verified chain: CRITICAL when
 * days_left < crit_days (an expired certificate has negative days and is
 * always CRITICAL for crit_days >= 0), WARNING when days_left < warn_days,
 * else OK. The same rule as the perfdata ranges "W:" and "C:". Pure.
 */
enum mh_state mh_tls_days_state(double days_left, double warn_days,
                                double crit_days);

/*
 * State for a certificate sent by the server but not on the verified path:
 * the days-left state capped at WARNING (it cannot break a client, it is
 * only clutter to remove). Pure.
 */
enum mh_state mh_tls_extra_state(double days_left, double warn_days,
                                 double crit_days);

/*
 * Formats a threshold in days as a Nagios lower-bound range ("30:",
 * "0.5:") with '.' as decimal point in every locale. Returns buf.
 */
char *mh_tls_days_range(char *buf, size_t len, double days);

/* printf("%.*f") of x into buf with '.' as decimal point whatever
 * LC_NUMERIC says; trailing zeros dropped when trim (mh_fmt_decimal).
 * Returns buf. */
char *mh_tls_fmt_num(char *buf, size_t len, double x, int decimals, bool trim);

/* "89.9 days left", "expired 10.0 days ago" or "notAfter unreadable" for
 * the certificate f, into buf of len bytes. */
void mh_tls_days_phrase(char *buf, size_t len,
                        const struct mh_tls_cert_facts *f);

/*
 * Converts an ASN.1 time (notBefore/notAfter, RFC 5280 4.1.2.5) with
 * ASN1_TIME_to_tm: *unix_time gets Unix seconds, iso (if not NULL) the
 * time as ISO 8601 UTC ("2026-03-01T12:00:00Z", strftime). Returns 0, or
 * -1 when the time cannot be read.
 */
int mh_tls_asn1_time(const ASN1_TIME *t, double *unix_time, char *iso,
                     size_t isolen);

#endif
