/* SPDX-License-Identifier: MIT */
/*
 * cmd_domain: the domain subcommand (not implemented yet).
 */
#include "commands.h"

struct mh_result *
mh_cmd_domain(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    (void)dl;
    return mh_cmd_not_implemented(cfg);
}
