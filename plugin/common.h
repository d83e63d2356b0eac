/* SPDX-License-Identifier: MIT */
/*
 * common: what the check commands (cmd_*.c) share: secrets from a file or
 * the environment, the -w/-c thresholds, the -v trace on stderr, the
 * "time" perfdata, results for problems found before the probe ran and
 * the target labels several commands use.
 * It depends on the configuration and the result model only, never on a
 * command or on the registry (commands.h), so no command calls back into
 * its caller.
 */
#ifndef MH_COMMON_H
#define MH_COMMON_H

#include <stddef.h>

#include "../probes/result.h"
#include "config.h"

/*
 * Reads a secret: the first line of the file `path` (trailing CR/LF
 * removed) or the value of environment variable `env`. Returns a new string
 * (the caller frees it with mh_secret_free()) or NULL with the reason in
 * errbuf (which never contains the secret).
 */
char *mh_read_secret(const char *path, const char *env, char *errbuf,
                     size_t errlen);

/* Cleanses and frees a secret of mh_read_secret(); NULL is fine. */
void mh_secret_free(char *secret);

/*
 * Applies cfg's -w/-c ranges to value (a number the check measured, e.g.
 * the total seconds): their texts go to the perfdata entry named label,
 * and r is raised with `reason` (slow_response, delivery_slow) and the message
 * "what" when a range alerts (CRITICAL checked first).
 */
void mh_apply_thresholds(const struct mh_config *cfg, struct mh_result *r,
                         const char *label, double value, enum mh_reason reason,
                         const char *what);

/*
 * Adds the perfdata "time" (the check's total seconds, r->duration_s) as
 * the first perfdata entry, check_smtp's single label, so graphs made for
 * check_smtp keep working, and applies -w/-c to it (reason slow_response,
 * "slow response").
 */
void mh_add_total_time(const struct mh_config *cfg, struct mh_result *r);

/*
 * Target labels (the registry's target functions, checks.h), written into
 * buf and cut to len:
 *   mh_target_host_port: "host:port" ("[v6]:port"; smtp, tls);
 *   mh_target_host:      the -H text (dnsbl);
 *   mh_target_domain:    the -D domain (domain, mta-sts).
 */
void mh_target_host_port(const struct mh_config *cfg, char *buf, size_t len);
void mh_target_host(const struct mh_config *cfg, char *buf, size_t len);
void mh_target_domain(const struct mh_config *cfg, char *buf, size_t len);

/* Prints -v trace lines to stderr ("<<< 220 ..."); arg, when not NULL,
 * is the check's label (a const char *: struct mh_config's trace_label),
 * printed first in brackets: the runner sets it, so the lines of the
 * checks it runs at once can be told apart ("[mx1] <<< 220 ..."). */
void mh_trace_stderr(void *arg, const char *dir, const char *line);

/*
 * A result for a problem found before the probe ran (a password file that
 * cannot be read: usage_error; libcurl missing: internal_error): UNKNOWN
 * without category, the message printf-style. Returns NULL when not even
 * that could be allocated.
 */
struct mh_result *mh_result_unknown(const char *check, const char *target,
                                    enum mh_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
