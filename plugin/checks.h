/* SPDX-License-Identifier: MIT */
/*
 * checks: the entry points of the check commands, one cmd_<name>.c each.
 * The registry (commands.h) lists them; they depend on common.h and
 * params.h, never on the registry.
 *
 * A check function builds its probe's parameters from cfg, runs the probe
 * within dl, applies the thresholds and returns the result (owned by the
 * caller, mh_result_free()), or NULL when not even a result could be
 * allocated. It may run on several threads at once (the runner).
 *
 * A target function writes the target label of the command's results for
 * cfg into buf (cut to len): the runner's label of a check without
 * "name", and the target of results made before the probe ran. The labels
 * several commands share are in common.h; delivery's is here.
 */
#ifndef MH_CHECKS_H
#define MH_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

#include "../probes/deadline.h"
#include "../probes/dnsbl.h"
#include "../probes/dnsbl_targets.h"
#include "../probes/dnsbl_zones.h"
#include "../probes/result.h"
#include "../probes/smtp.h"
#include "config.h"

/* SMTP dialogue (probes/smtp.h); target "host:port". */
struct mh_result *mh_cmd_smtp(const struct mh_config *cfg,
                              const struct mh_deadline *dl);

/*
 * The smtp and tls commands in two steps around the probe, shared by the
 * one-shot command (mh_smtp_probe in between) and the runner's event loop
 * (an mh_smtp_task in between, run_loop.h):
 *   mh_smtp_prepare: the probe's parameters from cfg (command smtp or
 *     tls) and the AUTH password (read from its file or variable, kept in
 *     the job and cleansed by mh_smtp_finish). Returns 0, or -1 with
 *     *early set to the check's result when it cannot run (an unreadable
 *     password: UNKNOWN usage_error; NULL when out of memory).
 *   mh_smtp_finish: the probe's result r made into the command's (total
 *     time and -w/-c; tls: the certificate summary), returned; frees what
 *     the job holds (not the job itself). r NULL is fine.
 *   mh_smtp_finish_report: the same for the probe's report c (taken and
 *     freed): rendered into its result (plugin/reports.h: mh_smtp_result),
 *     then mh_smtp_finish. c NULL is fine (out of memory).
 * cfg is borrowed by the job until mh_smtp_finish.
 */
struct mh_smtp_job {
    const struct mh_config *cfg;
    struct mh_smtp_params p;
    char *password;
    char ehlo[256];
};
int mh_smtp_prepare(const struct mh_config *cfg, struct mh_smtp_job *j,
                    struct mh_result **early);
struct mh_result *mh_smtp_finish(struct mh_smtp_job *j, struct mh_result *r);
struct mh_result *mh_smtp_finish_report(struct mh_smtp_job *j,
                                        struct mh_smtp_check_report *c);
/* Whether cfg is an smtp or tls check the event loop can run
 * (probes/smtp.h: mh_smtp_task): no DANE; a host given as an address
 * at once, a name after its lookup (on the loop's DNS service). */
enum mh_loop_fit { MH_LOOP_NO = 0, MH_LOOP_ADDRESS, MH_LOOP_AFTER_LOOKUP };
enum mh_loop_fit mh_smtp_fits_loop(const struct mh_config *cfg);

/*
 * The dnsbl command in two steps around the probe, as the smtp ones: the
 * one-shot command runs mh_dnsbl_run in between, the runner's event loop
 * an mh_dnsbl_task on the loop's shared DNSBL channel (probes/dnsbl.h).
 *   mh_dnsbl_prepare: the zones (--zone, --zones-file) and the targets (-H,
 *     the lines of --hosts-file, read now) and the probe's parameters
 *     from cfg. Returns 0, or -1 with *early set to the check's result
 *     when it cannot run (UNKNOWN usage_error; NULL when out of memory);
 *     the job then holds nothing.
 *   mh_dnsbl_finish_report: the probe's report rep (taken and freed; NULL:
 *     out of memory) rendered into the command's result (plugin/
 *     reports.h: mh_dnsbl_result; the target label of a check of a hosts
 *     file alone is the file); frees what the job holds.
 *   mh_dnsbl_job_free: frees what the job holds (not the job itself).
 * cfg is borrowed by the job until it is freed. Every dnsbl check fits
 * the event loop (no socket of its own: its queries go out on the loop's
 * channel).
 */
struct mh_dnsbl_job {
    const struct mh_config *cfg;
    struct mh_dnsbl_zones zones;
    struct mh_dnsbl_target_list file; /* --hosts-file's lines */
    const char **targets;             /* all of them (borrowed strings) */
    struct mh_dnsbl_params p;
};
int mh_dnsbl_prepare(const struct mh_config *cfg, struct mh_dnsbl_job *j,
                     struct mh_result **early);
struct mh_result *mh_dnsbl_finish_report(struct mh_dnsbl_job *j,
                                         struct mh_dnsbl_report *rep);
void mh_dnsbl_job_free(struct mh_dnsbl_job *j);

/* Certificate over STARTTLS or implicit TLS; target "host:port". */
struct mh_result *mh_cmd_tls(const struct mh_config *cfg,
                             const struct mh_deadline *dl);

/* DNS blocklists (probes/dnsbl.h); target the -H text. */
struct mh_result *mh_cmd_dnsbl(const struct mh_config *cfg,
                               const struct mh_deadline *dl);

/* MX hosts of a domain, each checked; target the domain. */
struct mh_result *mh_cmd_domain(const struct mh_config *cfg,
                                const struct mh_deadline *dl);

/* MTA-STS policy (RFC 8461) and TLS-RPT record (RFC 8460) of a domain,
 * checked against its MX hosts; target the domain. */
struct mh_result *mh_cmd_mtasts(const struct mh_config *cfg,
                                const struct mh_deadline *dl);

/* Submission and IMAP round trip; target "RCPT via HOST:PORT". */
struct mh_result *mh_cmd_delivery(const struct mh_config *cfg,
                                  const struct mh_deadline *dl);
void mh_target_delivery(const struct mh_config *cfg, char *buf, size_t len);

#endif
