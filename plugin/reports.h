/* SPDX-License-Identifier: MIT */
/*
 * reports: where the probes' reports become output. A probe returns the
 * facts of its check as a typed report (the probe headers: phases, codes,
 * certificate and DNS facts, one failure record); the functions here, one
 * file per probe (report_*.c), turn a report into the items, perfdata,
 * Prometheus samples, state and summary of a struct mh_result. Nothing in
 * probes/ builds result items. Each function borrows its report; the
 * result is the caller's.
 */
#ifndef MH_REPORTS_H
#define MH_REPORTS_H

#include "../probes/dane.h"
#include "../probes/delivery.h"
#include "../probes/dnsbl.h"
#include "../probes/mtasts.h"
#include "../probes/smtp.h"
#include "../probes/tlscheck.h"
#include "../probes/result.h"

/*
 * Adds a delivery report to r (check "delivery", target rep->target): an
 * item per step (and its note), the failure through mh_result_raise,
 * perfdata delay ("U" when the mail was not found), time_submit,
 * time_imap, time_cleanup, the sample mailhealth_delivery_duration_seconds
 * (found only), the check's duration and "time" perfdata, and when nothing
 * failed the OK summary (report_delivery.c).
 */
void mh_delivery_report_render(const struct mh_delivery_report *rep,
                               struct mh_result *r);

/*
 * The result of a delivery report: a new result (check "delivery", target
 * rep->target; free with mh_result_free) with rep rendered into it, or
 * NULL when memory ran out. Thresholds are the caller's
 * (mh_apply_thresholds on "delay").
 */
struct mh_result *mh_delivery_result(const struct mh_delivery_report *rep);

/*
 * Adds a report to r: the items, perfdata and samples listed at
 * mh_sts_evaluate, the failure through mh_result_raise (the summary
 * prefixed with the domain when in->required), and for a valid policy
 * with nothing wrong in r the OK summary (report_mtasts.c).
 */
void mh_sts_report_render(const struct mh_sts_report *rep, struct mh_result *r);

/*
 * The MTA-STS and TLS-RPT verdict of in added to r: mh_sts_report_check
 * (the memory, if any, is updated with a valid policy), then the report
 * rendered (mh_sts_report_render: the items, samples, perfdata and state
 * listed in probes/mtasts.h). Allocation failures are recorded in r.
 */
void mh_sts_evaluate(const struct mh_sts_inputs *in, struct mh_result *r);

/*
 * Renders a judged DNSBL report rep (mh_dnsbl_report_judge) into r
 * (report_dnsbl.c): an item per (subject, zone) pair (listings only when
 * many targets), notes for host names and zones, perfdata (labels prefixed
 * with rep->p->perf_prefix), samples, and the failure record as state,
 * reason and summary (mh_result_raise). Decides nothing.
 */
void mh_dnsbl_render(const struct mh_dnsbl_report *rep, struct mh_result *r);

/*
 * The report rep of the DNSBL check of p (mh_dnsbl_run or
 * mh_dnsbl_task_report; taken and freed, NULL: out of memory) as a new
 * result (check "dnsbl", target the first target; free with
 * mh_result_free): the judged report rendered, or the usage error that
 * kept it from running, and the run's duration. Returns NULL when not
 * even the result could be allocated.
 */
struct mh_result *mh_dnsbl_result(const struct mh_dnsbl_params *p,
                                  struct mh_dnsbl_report *rep);
/* mh_dnsbl_result of the check of p run now (mh_dnsbl_run within dl). */
struct mh_result *mh_dnsbl_probe(const struct mh_dnsbl_params *p,
                                 const struct mh_deadline *dl);

/*
 * For domain mode (mh_dnsbl_run_addresses): adds to r an UNKNOWN note per
 * invalid address, then the items, perfdata (labels prefixed with
 * p->perf_prefix), samples and state of the check (probes/dnsbl.h). The
 * summary of r is set only when this check raises its state
 * (mh_result_raise semantics). Returns 0, or -1 when the check could not
 * run at all (r is then UNKNOWN with the reason).
 */
int mh_dnsbl_check_addresses(const struct mh_dnsbl_params *p,
                             const char *const *addresses, size_t naddresses,
                             const char *domain, const struct mh_deadline *dl,
                             struct mh_result *r);

/*
 * Adds a TLS check's report to r (report_tls.c): the items, perfdata and
 * samples described in probes/tlscheck.h, in that order, and the failure
 * (state, reason and summary, prefixed with p->where) through
 * mh_result_raise. p gives the thresholds (as perfdata ranges),
 * verify_name and where. The one place where TLS facts become output.
 */
void mh_tls_report_render(const struct mh_tls_report *rep,
                          const struct mh_tls_check_params *p,
                          struct mh_result *r);

/*
 * The whole certificate check on a peer description (verification
 * included, mh_tls_report_peer) rendered into r; memory running out is
 * marked in r.
 */
void mh_tls_check_peer(const struct mh_tls_peer *peer,
                       const struct mh_tls_check_params *p,
                       struct mh_result *r);

/* Adds only the session facts (version and cipher, as OpenSSL names
 * them) as the mailhealth_tls_version_info sample; used when no
 * certificate check runs. */
void mh_tls_note_version(struct mh_result *r, const char *version,
                         const char *cipher);

/*
 * Builds the OK summary of a tls check from the facts mh_tls_report_render
 * added to r ("certificate OK: CN=mx.example.com, chain of 3 verified,
 * TLSv1.3 TLS_AES_256_GCM_SHA384, earliest expiry in 89.9 days
 * (2026-03-01T12:00:00Z, CN=mx.example.com)"). Returns 0, or -1 when r
 * holds no certificate facts (buf is then "").
 */
int mh_tls_ok_summary(const struct mh_result *r, char *buf, size_t len);

/*
 * Adds a DANE report to r (report_dane.c): the items, perfdata and samples
 * listed in probes/dane.h and the failure (prefixed with "p->where: "
 * unless targetless) through mh_result_raise, or mh_result_override for
 * dane_required over tls_required. p gives the RRSIG thresholds (as
 * perfdata ranges) and where. The one place where DANE facts become
 * output.
 */
void mh_dane_report_render(const struct mh_dane_report *rep,
                           const struct mh_dane_check_params *p,
                           struct mh_result *r);

/*
 * The DANE check of a session against a lookup (mh_dane_report_check:
 * lk, ctx, sent and p as there) rendered into r; memory running out is
 * marked in r.
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

/*
 * Renders a dialogue's report rep into r (report_smtp.c), in dialogue
 * order: one item per phase and note event (kind "phase" with
 * duration_seconds, reply_code, enhanced_code, rule, extensions and
 * auth_mechanisms as known), the certificate report (mh_tls_report_render)
 * where the handshake ended, the failures with mh_result_raise's rule.
 * Then mh_smtp_report_render_end() adds the phase perfdata time_<phase>
 * (seconds, every phase seen but connect, in phase order) and the samples
 * mailhealth_smtp_phase_duration_seconds and mailhealth_smtp_reply_code
 * per phase, and the summary of a check that went well ("WHERE ESMTP ok,
 * STARTTLS TLSv1.3, AUTH ok, envelope ok, N s response time", elapsed_s
 * seconds). The DANE check's part goes between the two.
 */
void mh_smtp_report_render(const struct mh_smtp_report *rep,
                           struct mh_result *r);
void mh_smtp_report_render_end(const struct mh_smtp_report *rep,
                               const char *where, double elapsed_s,
                               struct mh_result *r);

/* Both steps for a dialogue alone (mh_smtp_dialogue, the machine):
 * rep->elapsed_s is the response time; where names the peer. */
void mh_smtp_dialogue_render(const struct mh_smtp_report *rep,
                             const char *where, struct mh_result *r);

/* Renders the connect phase into r: perfdata time_connect and its
 * sample first, the "connect" item, the failure when !cf->ok. */
void mh_smtp_render_connect(const struct mh_smtp_connect_facts *cf,
                            const char *where, struct mh_result *r);

/*
 * Renders the whole SMTP check c into r: the connect phase, then (when
 * connected) the dialogue's events, the DANE report and the phase metrics
 * and OK summary; an allocation failure of the probe is marked in r.
 */
void mh_smtp_check_render(const struct mh_smtp_check_report *c,
                          struct mh_result *r);

/*
 * The result of the SMTP check c: a new result (check c->check, target
 * c->target, duration c->duration_s; free with mh_result_free) with c
 * rendered into it. Takes c and frees it (mh_smtp_check_report_free).
 * NULL when c is NULL or memory ran out.
 */
struct mh_result *mh_smtp_result(struct mh_smtp_check_report *c);

#endif
