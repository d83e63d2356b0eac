/* SPDX-License-Identifier: MIT */
/*
 * params: the probes' parameter structs from the typed configuration, for
 * the commands that share a probe (smtp, tls and domain run the SMTP
 * probe; dnsbl and domain the DNSBL probe; delivery needs the same EHLO
 * name rule). Values are copied as
 * they are: the option table parsed them once.
 */
#ifndef MH_PARAMS_H
#define MH_PARAMS_H

#include <stddef.h>

#include "../probes/dnsbl.h"
#include "../probes/smtp.h"
#include "config.h"

/* The EHLO name used when --ehlo is not given: the machine's name
 * (gethostname(), no DNS lookup), "localhost" when it has none. Returns
 * buf. */
const char *mh_default_ehlo_name(char *buf, size_t len);

/*
 * Fills p from cfg for the SMTP probe, borrowing cfg's strings; ehlo_buf
 * receives the default EHLO name. The result's check name is the
 * command's (smtp, tls, domain's children: smtp). SNI and the name
 * verified default to -H (--sni, when given, for the name); the
 * certificate checks run with --cert-days, a trust store, --verify-name or
 * --no-verify. The password is not set: the caller reads it with
 * mh_read_secret() (common.h).
 */
void mh_smtp_params_from_config(const struct mh_config *cfg,
                                struct mh_smtp_params *p, char *ehlo_buf,
                                size_t ehlo_len);

/*
 * Builds the zones one run queries from cfg: with --zone, exactly those
 * zones (each with its definition from --zones-file when the file has it,
 * else a generic zone of the NAME[:TYPE] given); without --zone, every
 * enabled zone of --zones-file. out must be empty ({0}); free it with
 * mh_dnsbl_zones_free(). Returns 0, or -1 with the reason in err (usage
 * problem: UNKNOWN without category).
 */
int mh_dnsbl_zones_from_config(const struct mh_config *cfg,
                               struct mh_dnsbl_zones *out, char *err,
                               size_t errlen);

/*
 * Fills p from cfg and zones (borrowed): target -H, resolver, -4/-6, -v
 * trace, and the -w/-c ranges on the number of listing zones. Without -w
 * and -c the default is critical at one or more listings ("~:0"); with -w
 * only, listings are WARNING at most.
 */
void mh_dnsbl_params_from_config(const struct mh_config *cfg,
                                 const struct mh_dnsbl_zones *zones,
                                 struct mh_dnsbl_params *p);

#endif
