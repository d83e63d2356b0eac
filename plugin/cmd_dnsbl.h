/* SPDX-License-Identifier: MIT */
/*
 * cmd_dnsbl: DNSBL parameters from the configuration, shared by the dnsbl
 * and domain subcommands.
 */
#ifndef MH_CMD_DNSBL_H
#define MH_CMD_DNSBL_H

#include <stddef.h>

#include "../probes/dnsbl.h"
#include "config.h"

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
