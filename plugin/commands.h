/* SPDX-License-Identifier: MIT */
/*
 * commands: one function per subcommand. Each builds the probe's parameters
 * from the configuration, runs the probe within the deadline, applies the
 * thresholds and returns the result (owned by the caller, free with
 * mh_result_free), or NULL when not even a result could be allocated.
 * The runner (cmd_run.c) calls the same functions for every configured
 * check.
 */
#ifndef MH_COMMANDS_H
#define MH_COMMANDS_H

#include "../probes/deadline.h"
#include "../probes/result.h"
#include "cli.h"

struct mh_result *mh_cmd_smtp(const struct mh_config *cfg,
                              const struct mh_deadline *dl);
struct mh_result *mh_cmd_tls(const struct mh_config *cfg,
                             const struct mh_deadline *dl);
struct mh_result *mh_cmd_dnsbl(const struct mh_config *cfg,
                               const struct mh_deadline *dl);
struct mh_result *mh_cmd_domain(const struct mh_config *cfg,
                                const struct mh_deadline *dl);
struct mh_result *mh_cmd_delivery(const struct mh_config *cfg,
                                  const struct mh_deadline *dl);

/* The runner: loads cfg->config_path and runs rounds; returns the exit
 * code (0 after --once, 3 for an invalid config). */
int mh_cmd_run(const struct mh_config *cfg);

/* Runs the probe subcommand of cfg (smtp, tls, ...). */
struct mh_result *mh_cmd_dispatch(const struct mh_config *cfg,
                                  const struct mh_deadline *dl);

/*
 * A result that says the subcommand is not implemented yet (UNKNOWN, no
 * category). Used by subcommands whose issue has not landed.
 */
struct mh_result *mh_cmd_not_implemented(const struct mh_config *cfg);

/*
 * Reads a secret: the first line of the file `path` (trailing CR/LF
 * removed) or the value of environment variable `env`. Returns a new string
 * (caller frees it after OPENSSL_cleanse-ing or memset) or NULL with the
 * reason in errbuf (which never contains the secret).
 */
char *mh_read_secret(const char *path, const char *env, char *errbuf,
                     size_t errlen);

/*
 * Applies cfg's -w/-c ranges to value (a number the check measured, e.g.
 * the total seconds), adding warn/crit to the perfdata entry named label
 * and raising r with `reason` (slow_response, delivery_slow) and the
 * message "what" when a range alerts.
 */
void mh_apply_thresholds(const struct mh_config *cfg, struct mh_result *r,
                         const char *label, double value, enum mh_reason reason,
                         const char *what);

/* Prints -v trace lines to stderr ("<<< 220 ..."). arg is unused. */
void mh_trace_stderr(void *arg, const char *dir, const char *line);

#endif
