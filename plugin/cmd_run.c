/* SPDX-License-Identifier: MIT */
/*
 * cmd_run: the runner (not implemented yet).
 */
#include <stdio.h>

#include "commands.h"

int
mh_cmd_run(const struct mh_config *cfg)
{
    (void)cfg;
    printf("MAILHEALTH UNKNOWN - run is not implemented yet\n");
    return 3;
}
