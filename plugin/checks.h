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

#include <stddef.h>

#include "../probes/deadline.h"
#include "../probes/result.h"
#include "config.h"

/* SMTP dialogue (probes/smtp.h); target "host:port". */
struct mh_result *mh_cmd_smtp(const struct mh_config *cfg,
                              const struct mh_deadline *dl);

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
