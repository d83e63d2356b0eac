/* SPDX-License-Identifier: MIT */
/*
 * mtasts: MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) as a sending MTA sees
 * them, checked against the live MX set.
 *
 * The parts, each usable alone:
 *   1. the DNS records: "_mta-sts.DOMAIN" TXT (RFC 8461 3.1) and
 *      "_smtp._tls.DOMAIN" TXT (RFC 8460 3), both asked at once
 *      (mh_sts_lookup_records, c-ares through resolve.h);
 *   2. their syntax (mh_sts_parse_record, mh_tlsrpt_parse_record);
 *   3. the policy fetch over HTTPS with libcurl (mh_sts_fetch_policy,
 *      mtasts_fetch.c): https://mta-sts.DOMAIN/.well-known/mta-sts.txt,
 *      certificate verified for that host, no redirect followed, media type
 *      text/plain, at most MH_STS_BODY_MAX bytes, within the deadline;
 *   4. the policy's syntax (mh_sts_parse_policy, RFC 8461 3.2) and the MX
 *      matching rules (mh_sts_mx_matches, RFC 8461 4.1);
 *   5. the memory of the policies seen (struct mh_sts_memory), which tells
 *      a policy edited without a new id;
 *   6. the verdict (mh_sts_report_check): every fact above and the outcome of
 *      the caller's STARTTLS probes of the MX hosts are judged into a
 *      typed report (mh_sts_report_check, mtasts_report.c: facts, one
 *      failure record), which the plugin (plugin/report_mtasts.c) turns
 *      into the items, samples and state of a result. Nothing here builds
 *      result items.
 *
 * The parsers are our own (no library parses these formats); each has a
 * fuzz target (tests/fuzz/fuzz_mtasts.c). Server and DNS text is hostile:
 * every parser is bounded, and text copied into messages is escaped.
 *
 * Thread safety: no global state; a struct mh_sts_memory may be shared by
 * checks on several threads (it has its own lock).
 */
#ifndef MH_MTASTS_H
#define MH_MTASTS_H

#include <stdbool.h>
#include <stddef.h>

#include "deadline.h"
#include "resolve.h"
#include "result.h"
#include "smtp.h"     /* mh_trace_fn */
#include "tlscheck.h" /* struct mh_tls_report */

/* Largest policy body accepted (RFC 8461 3.3 suggests 64 KiB). */
#define MH_STS_BODY_MAX 65536
/* Largest max_age allowed (RFC 8461 3.2: about one year). */
#define MH_STS_MAX_AGE_LIMIT 31557600UL
/* Longest id of the TXT record (RFC 8461 3.1: 1 to 32 alphanumerics). */
#define MH_STS_ID_MAX 32
/* mx patterns kept from one policy (more are counted, not kept). */
#define MH_STS_PATTERNS_MAX 32
/* Longest mx pattern: "*." and a 253-octet domain. */
#define MH_STS_PATTERN_LEN 256

enum mh_sts_mode {
    MH_STS_MODE_UNKNOWN = 0, /* no valid policy seen */
    MH_STS_MODE_ENFORCE,
    MH_STS_MODE_TESTING,
    MH_STS_MODE_NONE
};

/* "enforce", "testing", "none"; "unknown" for MH_STS_MODE_UNKNOWN. */
const char *mh_sts_mode_name(enum mh_sts_mode mode);

/* ---- 2. TXT records ---------------------------------------------------- */

/* What one TXT record is. */
enum mh_sts_txt {
    MH_STS_TXT_OTHER = 0, /* does not start with the version tag: another
                             record at that name, ignored (RFC 8461 3.1,
                             RFC 8460 3) */
    MH_STS_TXT_VALID,
    MH_STS_TXT_INVALID /* starts with the version tag, but its syntax is
                          wrong: err says where */
};

/*
 * Parses one "_mta-sts" TXT record (len bytes at txt, any bytes) as
 * RFC 8461 3.1's sts-text-record: "v=STSv1" first, fields separated by
 * ";" with optional spaces or tabs around it, exactly one "id=" of 1..32
 * ASCII letters and digits, extensions name=value (name: a letter or
 * digit, then up to 31 of letters, digits, "_", "-", "."; value: printable
 * ASCII except ";", "=" and space). On MH_STS_TXT_VALID id (MH_STS_ID_MAX
 * + 1 bytes) holds the id; on MH_STS_TXT_INVALID err holds the first
 * problem, printable. Pure.
 */
enum mh_sts_txt mh_sts_parse_record(const void *txt, size_t len, char *id,
                                    char *err, size_t errlen);

/*
 * Parses one "_smtp._tls" TXT record as RFC 8460 3's tlsrpt-record:
 * "v=TLSRPTv1" first, then fields as above; exactly one "rua=" with one or
 * more URIs separated by "," (optional spaces around), each "mailto:" with
 * an address (local-part "@" domain, RFC 6068) or "https://" with a host
 * (RFC 3986 characters only; "," and "!" must be percent-encoded). On
 * MH_STS_TXT_VALID *nrua is the number of URIs. Pure.
 */
enum mh_sts_txt mh_tlsrpt_parse_record(const void *txt, size_t len,
                                       size_t *nrua, char *err, size_t errlen);

/* ---- 4. The policy ----------------------------------------------------- */

struct mh_sts_policy {
    enum mh_sts_mode mode;
    unsigned long max_age; /* seconds */
    char mx[MH_STS_PATTERNS_MAX][MH_STS_PATTERN_LEN];
    size_t nmx;      /* patterns kept */
    size_t nmx_seen; /* mx lines in the policy (may exceed nmx) */
};

/*
 * Parses a policy body (RFC 8461 3.2): lines ending in LF or CRLF, each
 * "key:" then optional spaces and tabs, the value, optional trailing
 * spaces and tabs. Required: "version: STSv1", "mode:" enforce, testing or
 * none, "max_age:" 1 to 10 digits with a value of at most
 * MH_STS_MAX_AGE_LIMIT, and at least one "mx:" unless the mode is none.
 * Each mx value is a domain (RFC 5321 letters, digits and hyphens per
 * label) optionally preceded by "*." (a wildcard only as the whole leftmost
 * label, RFC 8461 4.1). Unknown keys are ignored when their syntax is an
 * extension's (RFC 8461 3.2). Empty lines are tolerated (senders accept
 * them); a key given twice other than mx, a NUL byte, or a line that is
 * no "key: value" is invalid. Returns 0 with *out filled, or -1 with the
 * first problem ("line 3: mode 'enforcing' is not enforce, testing or
 * none") in err, printable. Pure.
 */
int mh_sts_parse_policy(const void *body, size_t len, struct mh_sts_policy *out,
                        char *err, size_t errlen);

/*
 * RFC 8461 4.1: true when MX host name `host` (a trailing dot ignored)
 * matches `pattern`: equal names, case-insensitive; or a pattern "*.rest"
 * and a host of exactly one more label in front of "rest" ("*.example.com"
 * matches "mx1.example.com", neither "example.com" nor "a.b.example.com").
 * Pure.
 */
bool mh_sts_mx_matches(const char *pattern, const char *host);

/* The index of the first pattern of policy p that host matches, or -1. */
int mh_sts_policy_match(const struct mh_sts_policy *p, const char *host);

/* ---- 5. Memory of the policies seen ------------------------------------ */

/*
 * For every domain, the policy first seen with its current id: the id,
 * the SHA-256 of the body, the mode and when it was first seen. A body
 * that differs while the id stays the same means senders that cached the
 * old policy will not fetch the new one (RFC 8461 3.1: the id must change
 * whenever the policy changes): the verdict warns (sts_id_unchanged).
 * The first body of an id is kept until the id changes, so the warning
 * lasts as long as the problem does (reverting the body clears it).
 *
 * The runner owns one memory for its lifetime and hands it to every
 * check; a one-shot check keeps it in the file of --sts-state: JSON
 * written atomically (temporary file in the same directory, fsync,
 * rename), e.g.
 *   {"version": 1, "domains": {"example.com": {"id": "20240101",
 *    "sha256": "<64 hex digits>", "mode": "enforce",
 *    "first_seen": 1767225600}}}
 * Thread-safe: every call takes the memory's lock.
 */
struct mh_sts_memory;

/* A new empty memory, or NULL when memory ran out. */
struct mh_sts_memory *mh_sts_memory_new(void);

/* Frees a memory; NULL is fine. */
void mh_sts_memory_free(struct mh_sts_memory *m);

/*
 * Adds the entries of the state file at path (at most 16 MiB, the format
 * above; entries with a bad domain, id or hash are skipped). A file that
 * does not exist is an empty memory. Returns 0, or -1 with the reason in
 * err (unreadable, not JSON, wrong version).
 */
int mh_sts_memory_load(struct mh_sts_memory *m, const char *path, char *err,
                       size_t errlen);

/* Writes the memory to path atomically (format above, mode 0644).
 * Returns 0 or -1 with the reason in err. */
int mh_sts_memory_save(struct mh_sts_memory *m, const char *path, char *err,
                       size_t errlen);

/* What the memory knew of a domain's policy. */
struct mh_sts_memo {
    bool known;
    char id[MH_STS_ID_MAX + 1];
    unsigned char sha256[32];
    enum mh_sts_mode mode;
    double first_seen; /* Unix time */
};

/* Looks up domain (case-insensitive). Returns the memo (known false when
 * the domain was never seen). */
struct mh_sts_memo mh_sts_memory_get(struct mh_sts_memory *m,
                                     const char *domain);

/*
 * Records the policy seen now for domain: a new domain or a new id
 * replaces the entry; the same id keeps the first body's entry. Returns
 * what the memory knew before (known false: nothing). Memory exhaustion
 * only loses the entry.
 */
struct mh_sts_memo mh_sts_memory_note(struct mh_sts_memory *m,
                                      const char *domain, const char *id,
                                      const unsigned char sha256[32],
                                      enum mh_sts_mode mode, double now);

/* ---- 1. and 3. DNS records and policy fetch ---------------------------- */

/* The two TXT lookups of a domain. */
struct mh_sts_dns {
    char sts_name[300];    /* "_mta-sts.DOMAIN" */
    char tlsrpt_name[300]; /* "_smtp._tls.DOMAIN" */
    struct mh_txt_lookup sts, tlsrpt;
};

/*
 * Looks up both TXT records of domain at once through resolver (NULL: the
 * system resolver) within dl. Free with mh_sts_dns_free(). Always fills
 * out (a failed lookup has its status and err).
 */
void mh_sts_lookup_records(const char *domain, const char *resolver,
                           const struct mh_deadline *dl,
                           struct mh_sts_dns *out);
void mh_sts_dns_free(struct mh_sts_dns *d);

/* True when the _mta-sts lookup found at least one v=STSv1 record: the
 * domain means to publish a policy, so it is fetched. */
bool mh_sts_dns_published(const struct mh_sts_dns *d);

/* Parameters of the policy fetch. Strings are borrowed. */
struct mh_sts_fetch_params {
    const char *domain;   /* the policy domain (no trailing dot) */
    const char *resolver; /* "IP[:PORT]": mta-sts.DOMAIN is resolved with
                             c-ares and pinned (CURLOPT_RESOLVE); NULL:
                             libcurl resolves */
    int family;           /* AF_UNSPEC, AF_INET, AF_INET6 */
    const char *ca_file;  /* trust anchors instead of the system store */
    const char *ca_path;
    double cert_warn_days, cert_crit_days; /* the host's certificate */
    mh_trace_fn trace;                     /* -v; NULL: none */
    void *trace_arg;
    bool curl_verbose; /* -vv: libcurl's own trace through trace too */
};

/* How the fetch ended. */
enum mh_sts_fetch_status {
    MH_STS_FETCH_OK = 0,    /* 200, text/plain, body complete */
    MH_STS_FETCH_NOT_RUN,   /* not attempted */
    MH_STS_FETCH_DNS,       /* mta-sts.DOMAIN did not resolve */
    MH_STS_FETCH_CONNECT,   /* TCP refused, unreachable, reset */
    MH_STS_FETCH_TIMEOUT,   /* the deadline passed */
    MH_STS_FETCH_TLS,       /* handshake failed (not the certificate) */
    MH_STS_FETCH_CERT,      /* the certificate did not verify for the host */
    MH_STS_FETCH_HTTP,      /* a status other than 200 and 3xx */
    MH_STS_FETCH_REDIRECT,  /* a 3xx: not followed (RFC 8461 3.3) */
    MH_STS_FETCH_MEDIA,     /* Content-Type is not text/plain */
    MH_STS_FETCH_TOO_LARGE, /* the body exceeds MH_STS_BODY_MAX */
    MH_STS_FETCH_INTERNAL   /* libcurl missing, out of memory */
};

/* What the fetch found. Free with mh_sts_fetch_free(). */
struct mh_sts_fetch {
    enum mh_sts_fetch_status status;
    enum mh_reason reason; /* of a failure: sts_policy_fetch_error,
                              sts_webpki_invalid, dns_timeout ... */
    char url[320];
    long http_code;         /* 0 when no response */
    char content_type[128]; /* as sent, printable */
    char location[512];     /* Location of a 3xx, printable */
    char *body;             /* status OK: the body (NUL-terminated) */
    size_t len;
    char err[600]; /* one line, printable */
    double secs;   /* wall time of the fetch */
    /* The policy host's certificate check as tlscheck.h reports it (facts
     * and failure, with the host name verified; owned, freed by
     * mh_sts_fetch_free), or NULL when no certificate arrived. */
    struct mh_tls_report *cert;
    /* The check's parameters, kept to render it (mh_tls_report_render):
     * the name verified and the days thresholds. */
    char cert_name[300]; /* "mta-sts.DOMAIN" */
    double cert_warn_days, cert_crit_days;
    double cert_expiry; /* earliest notAfter on its chain, Unix time;
                           0 when unknown */
};

/*
 * Fetches https://mta-sts.DOMAIN/.well-known/mta-sts.txt within dl
 * (RFC 8461 3.3) with libcurl: HTTPS only, TLS 1.2 or later, the
 * certificate verified against the trust store for mta-sts.DOMAIN (SNI
 * sent), no proxy, no redirect followed, the body cut off past
 * MH_STS_BODY_MAX (the transfer is aborted), no HTTP cache (a fresh
 * request every time). The certificate chain is checked by tlscheck.h
 * inside the handshake (an SSL_CTX certificate-verification callback set
 * through CURLOPT_SSL_CTX_FUNCTION): one verification serves both
 * libcurl's decision and the report, which exists even when the
 * certificate fails (libcurl's CURLINFO_CERTINFO would give the
 * certificates only after a successful handshake). libcurl must have been
 * initialised (curl_global_init) before threads started. Never fails to
 * fill out.
 */
void mh_sts_fetch_policy(const struct mh_sts_fetch_params *p,
                         const struct mh_deadline *dl,
                         struct mh_sts_fetch *out);
void mh_sts_fetch_free(struct mh_sts_fetch *f);

/* ---- 6. The verdict ---------------------------------------------------- */

/* One MX host as the caller's STARTTLS probes found it (mh_sts_mx_add). */
struct mh_sts_mx {
    const char *host;      /* the MX name (borrowed) */
    size_t probed;         /* addresses probed */
    size_t verified;       /* of them, with a certificate that verified */
    enum mh_state state;   /* the worst probe state */
    enum mh_reason reason; /* and its reason */
    char detail[400];      /* and its summary */
};

/*
 * Adds one probe result (an SMTP probe of one address of the MX host with
 * STARTTLS and certificate checks, smtp.h) to mx: counts it, counts it as
 * verified when its mailhealth_tls_verified sample is 1, and keeps the
 * worst state with its reason and summary. NULL (no result) counts as a
 * failed probe.
 */
void mh_sts_mx_add(struct mh_sts_mx *mx, const struct mh_result *probe);

/* Everything the verdict needs. Borrowed. */
struct mh_sts_inputs {
    const char *domain;
    const struct mh_sts_dns *dns;
    const struct mh_sts_fetch *fetch; /* NULL: not fetched */
    bool mx_known;                    /* the MX lookup succeeded */
    const struct mh_sts_mx *mx;       /* the MX hosts */
    size_t nmx;
    bool mx_probed;               /* mx[] carry probe outcomes (enforce and
                                     testing mode only) */
    struct mh_sts_memory *memory; /* NULL: no memory of earlier policies */
    double now;                   /* Unix time */
    bool required; /* mta-sts: no _mta-sts record is CRITICAL and a DNS
                      failure CRITICAL; domain: a note, and WARNING */
};

/*
 * What a verdict reports (mh_sts_report_check below), rendered by the
 * plugin (plugin/reports.h, mh_sts_evaluate):
 *   - items: kind "mta-sts" (name "record", "policy", "certificate", "id")
 *     and kind "mx" (one per MX host: covered by which pattern, verified on
 *     how many addresses), kind "tls-rpt" (name "record"); the policy
 *     host's certificate items (kind "cert", names "policy depth N");
 *   - samples: mailhealth_mtasts_policy_info{id,mode} 1,
 *     mailhealth_mtasts_max_age_seconds,
 *     mailhealth_mtasts_mx_covered{mx} and mailhealth_mtasts_mx_verified{mx}
 *     (0/1), mailhealth_mtasts_policy_cert_expiry_timestamp_seconds,
 *     mailhealth_mtasts_tlsrpt_valid (0/1, when a record exists);
 *   - perfdata: sts_max_age (seconds), sts_mx_covered, sts_mx_verified,
 *     sts_cert_days (days left of the policy host's certificate, with the
 *     --cert-days ranges);
 *   - state, raised with mh_result_raise (the first problem at the worst
 *     state is the summary). Severity: problems that make senders apply
 *     no policy or a wrong one (record, fetch, policy, the host's
 *     certificate, an MX not covered or not verifying) are CRITICAL in
 *     enforce mode and WARNING in testing mode; with mode none the MX
 *     checks are skipped (a note) and the rest WARNING; when no valid
 *     policy could be read its mode is the one remembered (memory), else
 *     CRITICAL. The policy host's certificate days follow --cert-days
 *     (cert_expiring). A body changed under the same id is WARNING
 *     (sts_id_unchanged); a broken TLS-RPT record WARNING
 *     (tlsrpt_invalid); no TLS-RPT record a note. No _mta-sts record:
 *     CRITICAL sts_record_missing when required, else a note. DNS
 *     failures: CRITICAL (required) or WARNING, dns_timeout /
 *     dns_lookup_failed.
 * The memory (if any) is updated with a valid policy (by
 * mh_sts_report_check).
 */

/* ---- 7. The report: what the verdict found, before any output ---------
 *
 * mh_sts_report_check() (mtasts_report.c) judges the inputs into a struct
 * mh_sts_report (facts, the state, reason and sentence each implies, one
 * failure record; the memory is updated there); the plugin
 * (plugin/report_mtasts.c) turns a report into the items, perfdata,
 * samples, state and summary listed above.
 */

/* One judged fact: the state and reason it implies and its sentence (the
 * item's text, and the summary when it is the failure). */
struct mh_sts_finding {
    enum mh_state state;
    enum mh_reason reason; /* NONE when state is OK */
    char text[900];
};

/* What a TXT lookup (_mta-sts or _smtp._tls) found. */
enum mh_sts_record_status {
    MH_STS_REC_LOOKUP_FAILED = 0, /* timeout or failure (finding says) */
    MH_STS_REC_MISSING,           /* no record with the version tag */
    MH_STS_REC_VALID,             /* exactly one, valid */
    MH_STS_REC_MULTIPLE,          /* more than one: senders use none */
    MH_STS_REC_INVALID            /* one, invalid */
};

/* What the policy fetch and parse gave. */
enum mh_sts_policy_status {
    MH_STS_POL_NOT_CHECKED = 0, /* no record: not looked for */
    MH_STS_POL_NOT_FETCHED,     /* the deadline passed before the fetch */
    MH_STS_POL_FETCH_FAILED,    /* see the fetch's status */
    MH_STS_POL_INVALID,         /* fetched, RFC 8461 3.2 syntax broken */
    MH_STS_POL_VALID
};

/* One MX host against the policy. */
struct mh_sts_mx_fact {
    const struct mh_sts_mx *mx; /* borrowed from the inputs */
    int pattern;                /* first mx pattern it matches, or -1 */
    bool verified;              /* every probed address verified */
    struct mh_sts_finding f;
};

/* What the verdict concluded: the first of the worst findings. */
struct mh_sts_failure {
    enum mh_state state;   /* OK: nothing to report */
    const char *phase;     /* static: "record", "policy", "certificate",
                              "id", "mx", "tls-rpt", or "" */
    enum mh_reason reason; /* its category: mh_reason_category() */
    enum mh_category category;
    char cause[900]; /* the summary, without the domain */
};

/* The outcome of one MTA-STS and TLS-RPT verdict. Free with free(). */
struct mh_sts_report {
    const struct mh_sts_inputs *in; /* borrowed: domain, DNS, fetch, MX */
    /* _mta-sts TXT record (RFC 8461 3.1). */
    enum mh_sts_record_status record;
    size_t nrecords; /* v=STSv1 records */
    char id[MH_STS_ID_MAX + 1];
    struct mh_sts_finding record_f;
    /* The policy (RFC 8461 3.2, 3.3). */
    enum mh_sts_policy_status policy_status;
    struct mh_sts_policy policy; /* POL_VALID */
    enum mh_sts_mode mode; /* the policy's, else remembered, else UNKNOWN */
    bool mode_remembered;
    struct mh_sts_finding policy_f; /* when not valid */
    /* The policy host's certificate (the fetch's tlscheck result). */
    bool cert_problem; /* days left below --cert-days */
    struct mh_sts_finding cert_f;
    /* The id against the memory of earlier policies. */
    bool id_unchanged; /* the body changed, the id did not */
    double first_seen; /* of the remembered body, Unix time */
    struct mh_sts_finding id_f;
    /* The MX hosts (RFC 8461 4.1). */
    bool mx_checked; /* a valid policy and a known MX set */
    size_t covered;  /* MX hosts matching a pattern */
    size_t verified; /* MX hosts verified on every address */
    /* TLS-RPT (RFC 8460 3). */
    enum mh_sts_record_status tlsrpt;
    size_t ntlsrpt; /* v=TLSRPTv1 records */
    size_t nrua;    /* report URIs of the valid record */
    struct mh_sts_finding tlsrpt_f;
    struct mh_sts_failure failure;
    size_t nmx;                 /* in mx[] when mx_checked */
    struct mh_sts_mx_fact mx[]; /* in the inputs' order */
};

/*
 * Judges in into a new report (the first step of mh_sts_evaluate in
 * plugin/reports.h) and
 * notes a valid policy in in->memory. The report borrows in: use it while
 * in lives. Returns the report (free with free()) or NULL when memory ran
 * out.
 */
struct mh_sts_report *mh_sts_report_check(const struct mh_sts_inputs *in);

#endif
