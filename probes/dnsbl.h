/* SPDX-License-Identifier: MIT */
/*
 * dnsbl: DNS blocklist probe (RFC 5782 "DNS Blacklists and Whitelists").
 * Field cases BR-NN are in tests/field-cases.md.
 *
 * What it does
 *   For every (subject, zone) pair it asks the zone whether the subject is
 *   listed: an IPv4 address as reversed octets (RFC 5782 2.1), an IPv6
 *   address as 32 reversed nibbles (2.4), a domain name as is (section 3,
 *   "RHSBL"/DBL). A host name given as the target is resolved (A and AAAA)
 *   and every address is checked on the IP zones, while the name itself is
 *   checked on the domain zones (a zone of type "any" gets both). For each
 *   zone and family the RFC 5782 section 5 test entries are asked at most
 *   once per run and only when an answer needs them: 127.0.0.2 /
 *   ::FFFF:7F00:2 (or ::2) / TEST must be listed, 127.0.0.1 /
 *   ::FFFF:7F00:1 / INVALID must not (the negative one after a listing).
 *
 *   Every query of a run (subject A records, positive test entries, the
 *   A/AAAA lookup of a host name) goes out on the run's c-ares channels
 *   (one per 1,024 of the largest window, each its own UDP socket: c-ares
 *   1.18 puts every query of a channel on one socket), at most a window
 *   at once (dnsbl_flow.h): p->max_in_flight, or by default one that
 *   starts at 256 (a quarter of a stock Unbound's 1,024 queries per
 *   thread), grows while a resolver 20 ms or more away answers evenly and
 *   halves after a lost answer, up to 4,096. One poll() loop serves every
 *   channel and sends at most 128 queries between two looks at the
 *   sockets, so answers are read while a wide window fills;
 *   each answer lets the next query out, TXT and test entries first, then
 *   the zones' subject queries in turn, no zone holding more than its
 *   share of the slots, so a zone that never answers cannot stall the
 *   others. The address queries of a host name are queued from the
 *   lookup's callback as soon as the addresses are known, and TXT and the
 *   negative test entry from the callback of a listing (never for a clean
 *   answer). The run is bounded by the check's deadline (mh_dnsbl_flow_wait);
 *   c-ares' per-try timeout and tries come from the time left
 *   (mh_resolve_tries_for), so a lost UDP answer is asked again well before
 *   it; what is still unanswered (or not sent) at the deadline is reported
 *   as a timeout for that zone. No DNS packet is parsed here: answers go
 *   through ares_parse_a_reply / ares_parse_txt_reply_ext.
 *
 * How answers are read (mh_dnsbl_interpret, mh_dnsbl_decide)
 *   - NXDOMAIN or no A record: not listed.
 *   - A records, all in 127.0.0.0/8, none an error code: listed, with the
 *     meaning the zone definition gives each code (bit-mask zones: one
 *     meaning per bit of the last octet). Several records are all reported,
 *     sorted numerically, so output never depends on the order the server
 *     sent them in (field case BR-35).
 *   - Error codes are not listings; they make the zone UNKNOWN and say why:
 *     127.255.255.252 typo in the zone name, .254 query via a public/open
 *     resolver, .255 excessive number of queries (Spamhaus; any other
 *     127.255.255.x is taken as an error too), 127.0.1.255 an IP address
 *     asked on a domain list (Spamhaus DBL), 127.0.0.1 query refused (URIBL;
 *     RFC 5782 section 5 also forbids listing 127.0.0.1). A zone definition
 *     may add or override codes (field cases BR-29, BR-31).
 *   - A record outside 127.0.0.0/8: a broken zone or a resolver that
 *     rewrites NXDOMAIN; UNKNOWN for that zone with the raw answer.
 *   - SERVFAIL, REFUSED, an unreachable resolver: UNKNOWN for that zone,
 *     "lookup failed"; no answer before the deadline: UNKNOWN, category
 *     timeout. Never "not listed" (BR-33).
 *   - Test entry 127.0.0.1 listed: the zone "lists everything"; none of its
 *     answers counts as a listing (UNKNOWN). Test entry 127.0.0.2 not listed
 *     while the subject is not listed either: the zone "does not look like a
 *     DNSBL" (does not exist, or stopped working): UNKNOWN.
 *
 * State rule
 *   L = number of block-kind zones listing a target (any of its addresses);
 *   judge(L) applies -w/-c (default: CRITICAL when L >= 1). The state is
 *   the worst, in mh_state_rank() order, of judge(L); WARNING for a policy
 *   listing whose code or zone has severity "warning"; WARNING
 *   (zone_unhealthy) for a zone that fails its test entries or lists its
 *   negative one, and (zone_refused) for an error code on an allow/info
 *   zone; UNKNOWN for a zone that gave no usable answer (failure, timeout,
 *   an answer outside 127/8, an error code on a block/policy zone). Allow
 *   and info listings never alert; NOT_APPLICABLE pairs count as not
 *   queried. A zone that could not answer is never counted as "not
 *   listed" (BR-33): it is named in the summary and on its own line.
 *
 * Zone health (apart from the verdict): one item of kind "health" and one
 *   sample mailhealth_dnsbl_zone_up{zone} per zone whose test entries this
 *   run learnt (1 up, 0 down).
 *
 * Output (plugin/report_dnsbl.c renders a report into a struct mh_result)
 *   - one item of kind "zone" per (subject, zone) pair, name = the zone, in
 *     a deterministic order (subjects sorted: IPv4, IPv6, then the domain;
 *     zones in the configured order); JSON attributes: zone, address, query,
 *     status (listed, not_listed, error), codes, meaning, reason (the TXT
 *     text, bounded and made printable), error;
 *   - perfdata: listed (zones listing; warn/crit from the params; max = zones
 *     queried), errors (zones failed), time (seconds of DNS work);
 *   - Prometheus samples mailhealth_dnsbl_listed{address,zone},
 *     mailhealth_dnsbl_error{address,zone} (0/1 per pair) and
 *     mailhealth_dnsbl_listed_zones (L); the renderer adds the target label.
 *
 * Nothing here prints, exits or builds result items. All text from the
 * network (TXT records) is bounded (MH_DNSBL_TXT_MAX) and made printable
 * before it reaches a report.
 */
#ifndef MH_DNSBL_H
#define MH_DNSBL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deadline.h"
#include "dnsbl_flow.h"
#include "dnsbl_memory.h"
#include "dnsbl_targets.h"
#include "dnsbl_zones.h"
#include "result.h"

/* Most zones one run queries (more is a usage error). */
#define MH_DNSBL_MAX_ZONES 256
/* Most addresses of a host name that are checked (sorted, the rest
 * dropped with a note). */
#define MH_DNSBL_MAX_ADDRS 16
/* More addresses and names than this in one check: the long output and
 * the per-address metrics cover listings only (one line per zone says how
 * many addresses are clean or failed). */
#define MH_DNSBL_DETAIL_MAX 16
/* Most A records of one answer that are kept (sorted, deduplicated). */
#define MH_DNSBL_MAX_CODES 16
/* Longest TXT text kept per answer, in bytes before escaping. */
#define MH_DNSBL_TXT_MAX 300

/* ------------------------------------------------------------------------
 * Query names (pure functions)
 * ------------------------------------------------------------------------ */

/*
 * Builds the query prefix of an IP address: IPv4 "192.0.2.10" gives
 * "10.2.0.192" (RFC 5782 2.1); IPv6 gives its 32 nibbles, lowest first,
 * lower-case hex, dot-separated (RFC 5782 2.4), whatever the spelling of the
 * address ("2001:DB8:ABC:123:0:0:0:42" and "2001:db8:abc:123::42" give the
 * same name; never ip6.arpa, never compressed). An IPv4-mapped IPv6 address
 * (::ffff:192.0.2.10) is treated as the IPv4 address. *family receives
 * AF_INET or AF_INET6. Returns 0, or -1 if address is not a numeric IP
 * address or out is too small (72 bytes always suffice).
 */
int mh_dnsbl_reverse_address(const char *address, int *family, char *out,
                             size_t outlen);

/* Same from raw bytes: 4 (AF_INET) or 16 (AF_INET6) bytes in network
 * order. Returns 0 or -1. */
int mh_dnsbl_reverse_bytes(int family, const unsigned char *bytes, char *out,
                           size_t outlen);

/*
 * Normalises a domain or zone name: lower case, one final dot removed.
 * Accepts labels of 1..63 bytes of letters, digits, '-' and '_', total at
 * most MH_DNSBL_NAME_MAX; rejects empty labels, spaces, non-ASCII (use the
 * A-label "xn--" form) and anything else. Returns 0, or -1.
 */
int mh_dnsbl_normalize_name(const char *in, char *out, size_t outlen);

/*
 * Joins prefix and zone into the query name "prefix.zone". Returns 0, or -1
 * when the result would exceed MH_DNSBL_NAME_MAX (RFC 1035) or outlen.
 */
int mh_dnsbl_qname(const char *prefix, const char *zone, char *out,
                   size_t outlen);

/* ------------------------------------------------------------------------
 * Answer interpretation (pure functions)
 * ------------------------------------------------------------------------ */

/* How a DNS query ended, independent of c-ares. */
enum mh_dnsbl_rcode {
    MH_DNSBL_RC_ANSWER = 0, /* NOERROR with A records */
    MH_DNSBL_RC_NXDOMAIN,
    MH_DNSBL_RC_NODATA, /* NOERROR, no A record */
    MH_DNSBL_RC_SERVFAIL,
    MH_DNSBL_RC_REFUSED,
    MH_DNSBL_RC_UNREACHABLE, /* resolver refused the connection */
    MH_DNSBL_RC_TIMEOUT,     /* no answer before the deadline */
    MH_DNSBL_RC_OTHER        /* bad response, format error, ... */
};

/* What one answer means. */
enum mh_dnsbl_kind {
    MH_DNSBL_K_NONE = 0,   /* not asked / not answered yet */
    MH_DNSBL_K_NOT_LISTED, /* NXDOMAIN or NODATA */
    MH_DNSBL_K_LISTED,     /* listing codes only */
    MH_DNSBL_K_ERROR_CODE, /* a known error code (not a listing) */
    MH_DNSBL_K_OUTSIDE,    /* an A record outside 127.0.0.0/8 */
    MH_DNSBL_K_FAILED,     /* SERVFAIL, REFUSED, unreachable, bad reply */
    MH_DNSBL_K_TIMEOUT     /* no answer before the deadline */
};

/* The interpretation of one answer. */
struct mh_dnsbl_answer {
    enum mh_dnsbl_kind kind;
    enum mh_dnsbl_rcode rcode;
    uint32_t codes[MH_DNSBL_MAX_CODES]; /* sorted, unique, host order */
    size_t ncodes;
    uint32_t culprit;  /* ERROR_CODE/OUTSIDE: the record that decided it */
    char meaning[256]; /* meanings of the codes ("; "), or of the error */
    const char *hint;  /* static advice for an error code, or NULL */
    /* LISTED: the strongest kind among the codes (block > policy > info >
     * allow) and, for policy, whether a code asks for WARNING. */
    enum mh_dnsbl_list_kind list_kind;
    bool warn;
};

/*
 * Interprets the outcome of an A query on zone z (NULL: a generic zone).
 * addrs are the A records (host order, any order, n may exceed
 * MH_DNSBL_MAX_CODES: the lowest ones are kept). Precedence: a record
 * outside 127/8 > an error code > listing. Error codes: the zone's own
 * "errors" first, then the built-in table (see the file comment); a code the
 * zone documents as a listing is a listing even if the table has it.
 * Always fills *out.
 */
void mh_dnsbl_interpret(const struct mh_dnsbl_zone *z, enum mh_dnsbl_rcode rc,
                        const uint32_t *addrs, size_t n,
                        struct mh_dnsbl_answer *out);

/* The verdict on one (subject, zone) pair. */
enum mh_dnsbl_verdict {
    MH_DNSBL_V_NOT_LISTED = 0,
    MH_DNSBL_V_LISTED,
    MH_DNSBL_V_ERROR_CODE,       /* error answer (BR-29, BR-31) */
    MH_DNSBL_V_OUTSIDE,          /* answer outside 127.0.0.0/8 */
    MH_DNSBL_V_LISTS_EVERYTHING, /* negative test entry listed */
    MH_DNSBL_V_NOT_WORKING,      /* positive test entry not listed */
    MH_DNSBL_V_FAILED,           /* lookup failed */
    MH_DNSBL_V_TIMEOUT,          /* no answer before the deadline */
    MH_DNSBL_V_NOT_APPLICABLE,   /* the zone does not list this kind of
                                    subject (its test point fails while
                                    another family's passes) */
    MH_DNSBL_V_SKIPPED           /* not asked: the zone's query budget is
                                    spent, or it backs off after refusing
                                    (dnsbl_memory.h) */
};

/*
 * Combines the subject's answer with the zone's test entries (RFC 5782
 * section 5) into a verdict. pos / neg are the answers for the entry that
 * must / must not be listed (NULL or kind NONE: not known). Precedence: the
 * subject's own failure, timeout, error code or outside answer; then a
 * listed negative entry (lists everything); then a listing; then a positive
 * entry that is not listed (not working); else not listed.
 */
enum mh_dnsbl_verdict mh_dnsbl_decide(const struct mh_dnsbl_answer *subject,
                                      const struct mh_dnsbl_answer *pos,
                                      const struct mh_dnsbl_answer *neg);

/*
 * Refines a NOT_WORKING verdict for a zone whose type leaves the subject's
 * family open (MH_DNSBL_ZONE_ANY, or MH_DNSBL_ZONE_IP for IPv6): when
 * another family's positive test point of the zone is listed (other_pos),
 * the zone works but does not list this family: NOT_APPLICABLE. Any other
 * verdict is returned unchanged.
 */
enum mh_dnsbl_verdict mh_dnsbl_refine(enum mh_dnsbl_verdict v,
                                      const struct mh_dnsbl_answer *other_pos);

/* True for the verdicts that count as a zone error (no usable answer:
 * NOT_APPLICABLE, NOT_LISTED and LISTED are not errors). */
bool mh_dnsbl_verdict_is_error(enum mh_dnsbl_verdict v);

/* Formats a host-order IPv4 address as a dotted quad. Returns buf. */
char *mh_dnsbl_format_code(uint32_t code, char *buf, size_t len);

/*
 * Appends up to len bytes of TXT data to the text in buf (capacity cap,
 * NUL-terminated, initially ""), escaping every byte outside 0x20..0x7e
 * (NUL included) as \xNN, and stopping with "..." once the text would
 * exceed cap - 1 or MH_DNSBL_TXT_MAX. Returns the new length of buf.
 */
size_t mh_dnsbl_txt_append(char *buf, size_t cap, const unsigned char *data,
                           size_t len);

/* ------------------------------------------------------------------------
 * The probe
 * ------------------------------------------------------------------------ */

/* Optional trace of every query and answer ("dns>" / "dns<"). */
typedef void (*mh_dnsbl_trace_fn)(void *arg, const char *dir, const char *line);

/* State of the run from the number of zones listing the subject. */
typedef enum mh_state (*mh_dnsbl_judge_fn)(void *arg, size_t listed);

struct mh_dnsbl_params {
    const char *target;         /* -H: IP address, host or domain (when ntargets
                                   is 0) */
    const char *const *targets; /* every -H, then the hosts file's
                                   targets, in order (or NULL): addresses,
                                   CIDR blocks, names (dnsbl_targets.h) */
    size_t ntargets;
    const char *hosts_file; /* where the last nfile_targets came from (for
                               messages), or NULL */
    size_t nfile_targets;
    const struct mh_dnsbl_zones *zones; /* zones to query, in output order */
    const char *resolver;    /* "IP[:PORT]" / "[IPv6]:PORT", NULL = system */
    int family;              /* AF_UNSPEC, or only AF_INET / AF_INET6
                                addresses of a host name are checked */
    mh_dnsbl_judge_fn judge; /* NULL: CRITICAL when listed >= 1 */
    void *judge_arg;
    const char *perf_warn, *perf_crit; /* ranges shown on "listed", or NULL */
    const char *perf_prefix; /* prepended to perfdata labels, or NULL */
    mh_dnsbl_trace_fn trace; /* NULL: no trace */
    void *trace_arg;
    /* Query economy (dnsbl_memory.h): the runner's memory of the zones
     * (NULL: this run's own), the queries one zone may take per round (per
     * run without a memory; 0: no limit) and how long healthy test answers
     * are kept (0: MH_DNSBL_HEALTH_CACHE_S). */
    struct mh_dnsbl_memory *memory;
    unsigned zone_budget;
    double health_cache_s;
    /* Most queries in flight at once: a fixed window (0: the adaptive one,
     * MH_DNSBL_WINDOW_START growing to MH_DNSBL_WINDOW_CEIL, dnsbl_flow.h).
     * A window that may exceed MH_DNSBL_WINDOW_START asks for large socket
     * buffers (MH_RESOLVE_BULK). */
    unsigned max_in_flight;
};

/*
 * Runs the DNSBL check of p->target (or p->targets) on p->zones within dl
 * into a new judged report (mh_dnsbl_report_judge; free with
 * mh_dnsbl_report_free). The report borrows p, its zones and targets: use
 * it while they live. Usage-type problems (target neither an address nor
 * a valid name, no zone, too many zones, a bad resolver address) give a
 * report that is not judged, with a failure UNKNOWN usage_error (phase
 * "usage") saying why. Returns NULL when memory ran out for the report
 * itself. The probe never prints and builds no result.
 */
struct mh_dnsbl_report *mh_dnsbl_run(const struct mh_dnsbl_params *p,
                                     const struct mh_deadline *dl);

/*
 * For domain mode: checks already-known numeric addresses (each "192.0.2.1"
 * or an IPv6 address; invalid ones are listed in bad_addresses and not
 * checked) and, if domain is not NULL, that domain name on the domain
 * zones (an invalid one is bad_domain), into a new judged report (free
 * with mh_dnsbl_report_free; it borrows p, addresses and domain).
 * p->target is ignored; the report's target is NULL. A run that could
 * not start at all gives a report that is not judged, with the usage
 * failure. Returns NULL when memory ran out for the report itself.
 */
struct mh_dnsbl_report *mh_dnsbl_run_addresses(const struct mh_dnsbl_params *p,
                                               const char *const *addresses,
                                               size_t naddresses,
                                               const char *domain,
                                               const struct mh_deadline *dl);

/*
 * The DNSBL check as a task of an event loop (the runner's, plugin/
 * run_loop.h): the same run as mh_dnsbl_run, but its queries and host
 * name lookups go out on sh, the loop's channel to p->resolver with the
 * window the loop's checks share (dnsbl_flow.h: struct mh_dnsbl_shared),
 * and it never waits: the loop hands the channel's socket events and
 * retry timers to c-ares, whose callbacks run the check on, and the task
 * calls wake(wake_arg) when the loop should step it again (it has ended,
 * it has more to send at once, or room opened in the shared window it
 * waited for). Everything on the loop's thread.
 *
 * mh_dnsbl_task_new starts it (the first queries go out at the first
 * step): NULL when memory ran out; a usage problem (see mh_dnsbl_run)
 * gives a task that is done at its first step. p, its zones and
 * targets, dl and sh must live until the report is freed.
 * mh_dnsbl_task_step sends what may go out; returns true when the check
 * is done (every answer in, or the deadline passed). mh_dnsbl_task_expire:
 * the deadline passed, nothing more is sent and answers that still come
 * are not taken (a query in flight counts as "no DNS answer within the
 * deadline", as a cancelled one does in mh_dnsbl_run).
 * mh_dnsbl_task_report ends the task into its report, the same as
 * mh_dnsbl_run's (free it with mh_dnsbl_report_free: that frees the task;
 * queries still in sh's channel keep the run's memory until they end,
 * without touching p, dl or the report).
 */
struct mh_dnsbl_shared;
struct mh_dnsbl_task;
struct mh_dnsbl_task *mh_dnsbl_task_new(const struct mh_dnsbl_params *p,
                                        const struct mh_deadline *dl,
                                        struct mh_dnsbl_shared *sh,
                                        void (*wake)(void *arg),
                                        void *wake_arg);
bool mh_dnsbl_task_step(struct mh_dnsbl_task *t);
void mh_dnsbl_task_expire(struct mh_dnsbl_task *t);
struct mh_dnsbl_report *mh_dnsbl_task_report(struct mh_dnsbl_task *t);

/* Frees a report of mh_dnsbl_run, mh_dnsbl_run_addresses or
 * mh_dnsbl_task_report (NULL: no-op). */
void mh_dnsbl_report_free(struct mh_dnsbl_report *rep);

/* ------------------------------------------------------------------------
 * The report: the facts of one run, the verdicts the probe decides from
 * them (dnsbl_verdicts.c: per pair, per zone, the state and the failure
 * record), which the plugin alone (plugin/report_dnsbl.c) turns into
 * items, perfdata, samples, state and summary.
 * ------------------------------------------------------------------------ */

/* The form of a target (subject): an IPv4 or IPv6 address (RFC 5782 2.1,
 * 2.4) or a domain name (RFC 5782 3). Indexes the per-form arrays. */
enum mh_dnsbl_form {
    MH_DNSBL_FORM_V4 = 0,
    MH_DNSBL_FORM_V6 = 1,
    MH_DNSBL_FORM_NAME = 2,
    MH_DNSBL_FORM_COUNT = 3
};

/* A zone's test points for one form (RFC 5782 5), asked at most once per
 * run and only when an answer needs them: pos[] must be listed (the IPv6
 * form has two alternatives), neg[] must not. */
struct mh_dnsbl_health {
    bool pos_started, neg_started;
    bool pos_kept, neg_kept; /* from the runner's memory, not asked */
    struct mh_dnsbl_answer pos[2], neg[1];
    size_t npos, nneg;
};

/* The answer of one (subject, zone) pair, kept small: a /22 on 50 zones
 * has 51,200 of them. */
struct mh_dnsbl_pair {
    bool applicable;    /* the zone lists this form */
    bool name_too_long; /* the query name would exceed 253 bytes */
    bool sent;
    bool txt_asked;
    unsigned char skip;  /* enum mh_dnsbl_take: why it was not asked */
    unsigned char kind;  /* enum mh_dnsbl_kind of the A answer (NONE: not
                            answered) */
    unsigned char rcode; /* enum mh_dnsbl_rcode */
    int ares_status;     /* c-ares status of the A query */
    struct mh_dnsbl_answer *full; /* owned: the whole interpretation of an
                                     answer with codes (listed, error code,
                                     outside 127/8: return codes and
                                     meanings), else NULL */
    char *txt;                    /* owned: the TXT text (sorted records,
                                     escaped), or NULL */
};

/* An address or a domain name being checked (a target, or an address of a
 * host name target). */
struct mh_dnsbl_subject {
    int fam;  /* enum mh_dnsbl_form */
    int host; /* index of the host name it came from, or -1 */
    unsigned char bytes[16];
    const char *text;            /* address text or the name (in mem) */
    const char *prefix;          /* query prefix (in mem) */
    struct mh_dnsbl_pair *pairs; /* one per zone (owned) */
    char mem[];
};

/* What the pairs of a zone tell about it (mh_dnsbl_zone_report.flags, the
 * flag of each pair verdict). */
enum {
    MH_DNSBL_ZF_QUERIED = 1u << 0,   /* some subject got an applicable answer */
    MH_DNSBL_ZF_LISTED = 1u << 1,    /* block listing */
    MH_DNSBL_ZF_FAILED = 1u << 2,    /* no usable answer: UNKNOWN */
    MH_DNSBL_ZF_UNHEALTHY = 1u << 3, /* fails its test points, or refused on an
                                        allow/info zone: WARNING */
    MH_DNSBL_ZF_POLICY = 1u << 4,    /* policy listing */
    MH_DNSBL_ZF_POLICY_WARN = 1u << 5,
    MH_DNSBL_ZF_ALLOW = 1u << 6, /* allow listing */
    MH_DNSBL_ZF_HOSTFAIL = 1u << 7,
    MH_DNSBL_ZF_REFUSED = 1u << 8, /* an error code ("blocked", over quota) */
    MH_DNSBL_ZF_SKIPPED = 1u << 9, /* not asked (budget, back-off): WARNING */
    MH_DNSBL_ZF_INFO = 1u << 10    /* info listing: a note, never a state */
};

/* The verdict on one (subject, zone) pair and how it counts. */
struct mh_dnsbl_pair_verdict {
    unsigned char v;       /* enum mh_dnsbl_verdict */
    unsigned char state;   /* enum mh_state of its line (a block listing:
                              -w/-c on its subject's listings) */
    unsigned short reason; /* enum mh_reason of its line */
    unsigned short flag;   /* MH_DNSBL_ZF_* it gives its zone */
};

/* One zone's pairs without a listing when many targets are checked
 * (more than MH_DNSBL_DETAIL_MAX subjects): one line each for the clean,
 * the not applicable and the failed ones. */
struct mh_dnsbl_zone_agg {
    size_t total, clean, na, failed;
    enum mh_state state;   /* worst state of the failed ones */
    enum mh_reason reason; /* of the first failed one */
    size_t first_na;       /* subject index of the first not applicable */
    size_t first_failed;   /* subject index of the first failed */
};

/* One zone's facts: its test points per form and why it was not asked;
 * flags and agg come from mh_dnsbl_report_judge(). */
struct mh_dnsbl_zone_report {
    const struct mh_dnsbl_zone *z;
    struct mh_dnsbl_health h[MH_DNSBL_FORM_COUNT];
    double backoff_s;    /* MH_DNSBL_TAKE_BACKOFF: seconds left */
    uint32_t refused_by; /* MH_DNSBL_TAKE_BACKOFF: the error code */
    unsigned flags;      /* MH_DNSBL_ZF_* of its pairs */
    struct mh_dnsbl_zone_agg agg;
};

/* One host name target: its A/AAAA lookup; failed .. listed_on come from
 * mh_dnsbl_report_judge(). */
struct mh_dnsbl_host_report {
    const char *name;      /* normalised */
    bool done;             /* the lookup ended (else: the deadline came) */
    int status;            /* its c-ares status */
    size_t naddrs;         /* addresses found */
    size_t dropped;        /* addresses over the limit, not checked */
    bool noaddr;           /* the lookup found no address (why says so) */
    bool failed;           /* no address, and the name got no answer as a
                              domain either: its IP zones fail */
    enum mh_reason reason; /* of failed */
    char why[300];         /* "mx.example has no IPv4 address", ... */
    size_t listed_on;      /* block zones listing any of its subjects */
};

/* What a DNSBL run concluded: the part of the summary that decides the
 * state (the first of the worst: listing, policy, unhealthy zone, failed
 * zone, allow list), with the other parts after it. */
struct mh_dnsbl_failure {
    enum mh_state state;   /* OK: no alert (cause still the summary) */
    const char *phase;     /* static: "listing", "zone_health", "lookup",
                              "zones" (no zone applies), or "" */
    enum mh_reason reason; /* its category: mh_reason_category() */
    enum mh_category category;
    char cause[1024]; /* the summary */
};

/* The facts of a run. Subjects are in output order (IPv4, IPv6 by value,
 * then names); the arrays are owned by whoever filled the report (the
 * probe: its run). */
struct mh_dnsbl_report {
    const struct mh_dnsbl_params *p; /* judge, thresholds, perf prefix */
    double deadline_s;               /* the check's deadline length (s) */
    double elapsed_s;                /* the run's wall time (s) */
    struct mh_dnsbl_zone_report *zones;
    size_t nz;
    struct mh_dnsbl_subject *const *subj;
    size_t nsubj;
    struct mh_dnsbl_host_report *hosts;
    size_t nhosts;
    size_t addrs_dropped;  /* numeric addresses over the limit */
    const char *blocks[4]; /* numeric targets as given, for the summary */
    size_t nblocks;        /* how many numeric targets (blocks[] holds the
                              first four) */
    bool any_ip_zone;      /* some zone may answer address questions */
    /* How the run went (mh_dnsbl_run, mh_dnsbl_run_addresses). */
    const char *target;         /* the first target (borrowed), or NULL */
    bool oom;                   /* memory ran out: facts may be missing */
    bool judged;                /* the verdicts below are set; else nothing was
                                   checked and failure (or oom) says why */
    double duration_s;          /* mh_dnsbl_run's wall time (s); < 0: none */
    const char **bad_addresses; /* mh_dnsbl_run_addresses: the addresses
                                   that are not numeric, in order
                                   (owned array of borrowed text) */
    size_t nbad_addresses;
    const char *bad_domain; /* mh_dnsbl_run_addresses: the domain, when not
                               a valid name (borrowed), or NULL */
    /* The verdicts (mh_dnsbl_report_judge; owned, mh_dnsbl_report_release
     * frees them). */
    struct mh_dnsbl_pair_verdict *verdicts; /* [si * nz + zi]; only the
                                               applicable pairs are set */
    size_t *subj_listed;      /* per subject: block zones listing it */
    bool many;                /* more than one subject */
    bool agg;                 /* more than MH_DNSBL_DETAIL_MAX subjects:
                                 items for listings only */
    size_t zones_listing;     /* zones with a block listing */
    size_t zones_failed;      /* zones without a usable answer */
    size_t zones_warning;     /* unhealthy or not asked, not failed */
    size_t zones_queried;     /* zones some subject applies to */
    size_t nlisted_subj;      /* subjects on a block zone */
    enum mh_state list_state; /* of the listings, by the judge */
    struct mh_dnsbl_failure failure;
};

/*
 * Decides the verdicts of report rep (dnsbl_verdicts.c): every applicable
 * pair's verdict, state and reason, each zone's flags and aggregate, the
 * host names that gave no address, the zone counts, the listings' state
 * (rep->p->judge on the block zones listing each target, default CRITICAL
 * at one) and the failure record with the summary. Returns 0, or -1 when
 * memory ran out (rep then holds no verdicts). Free with
 * mh_dnsbl_report_release().
 */
int mh_dnsbl_report_judge(struct mh_dnsbl_report *rep);

/* Frees what mh_dnsbl_report_judge() allocated in rep (not rep). */
void mh_dnsbl_report_release(struct mh_dnsbl_report *rep);

/* The verdict of subject si on zone zi (after mh_dnsbl_report_judge). */
const struct mh_dnsbl_pair_verdict *
mh_dnsbl_verdict_of(const struct mh_dnsbl_report *rep, size_t zi, size_t si);

/* How mh_dnsbl_pair_text() words a pair. */
enum mh_dnsbl_wording {
    MH_DNSBL_WORD_ITEM,        /* a zone's line: the zone is named before */
    MH_DNSBL_WORD_ZONE,        /* summary: names the zone */
    MH_DNSBL_WORD_ZONE_SUBJECT /* summary of several subjects: zone and
                                  subject */
};

/* The verdict of subject si on zone zi in words ("192.0.2.10 listed
 * (127.0.0.2: spam source)", "lookup failed: ..."); always terminates
 * buf. */
void mh_dnsbl_pair_text(const struct mh_dnsbl_report *rep, size_t zi, size_t si,
                        enum mh_dnsbl_wording w, char *buf, size_t len);

/* The return codes of answer a: "127.0.0.2, 127.0.0.4" ("" if none). */
void mh_dnsbl_codes_text(const struct mh_dnsbl_answer *a, char *buf,
                         size_t len);

/* Helpers of the report, shared by the probe and the plugin's renderer. */

/* The test entry of zone z for form fam: the positive (pos) or negative
 * one (the zone's own, else RFC 5782 5's). Static or z's storage. */
const char *mh_dnsbl_test_entry(const struct mh_dnsbl_zone *z, int fam,
                                bool pos);

/* The answer of pair pr: its full interpretation, or one made in *tmp from
 * the kind and rcode kept. */
const struct mh_dnsbl_answer *
mh_dnsbl_pair_answer(const struct mh_dnsbl_pair *pr,
                     struct mh_dnsbl_answer *tmp);

/* The forms whose positive test point tells that zone z works although
 * form fam's fails (the zone's type leaves fam open). Returns how many
 * were written to out (at most 2). */
size_t mh_dnsbl_other_forms(const struct mh_dnsbl_zone *z, int fam, int out[2]);

/* The query name of prefix on zone z as shown (traces, the JSON "query"):
 * the key of a keyed zone is a credential, so PREFIX.<key>.ZONE. Always
 * terminates out (truncating). */
void mh_dnsbl_shown_qname(const struct mh_dnsbl_zone *z, const char *prefix,
                          char *out, size_t len);

/* Whether zone z may answer address questions. */
bool mh_dnsbl_zone_is_ip(const struct mh_dnsbl_zone *z);

#endif
