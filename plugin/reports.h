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

#include "../probes/delivery.h"
#include "../probes/dnsbl.h"
#include "../probes/mtasts.h"
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
 * The DNSBL check of p (mh_dnsbl_run) as a new result (check "dnsbl",
 * target the first target; free with mh_result_free): the judged report
 * rendered, or the usage error that kept it from running, and the run's
 * duration. Returns NULL when not even the result could be allocated.
 */
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

#endif
