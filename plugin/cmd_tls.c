/* SPDX-License-Identifier: MIT */
/*
 * cmd_tls: the tls subcommand (not implemented yet).
 */
#include "commands.h"

struct mh_result *
mh_cmd_tls(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    (void)dl;
    return mh_cmd_not_implemented(cfg);
}
