/* SPDX-License-Identifier: MIT */
/*
 * cli: the command line of check_mailhealth (README "Command line"):
 * getopt_long over the option table (options.h) and --help from it.
 */
#ifndef MH_CLI_H
#define MH_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"

/*
 * Parses argv (argv[1] is the command) into cfg. On a usage error returns
 * -1 with one line saying what is wrong in errbuf, naming the option
 * ("invalid --port '25.0' (a port number, 1..65535)"); cfg->command is set
 * once the command is known. Returns 1 when -h or -V was handled (text
 * already printed to stdout: the caller exits 3, as the guidelines
 * require), 0 when cfg is ready (mh_config_validate() passed). Free cfg
 * with mh_config_free() in every case.
 */
int mh_cli_parse(int argc, char **argv, struct mh_config *cfg, char *errbuf,
                 size_t errlen);

/* Prints the short usage (at most 80 columns) to out. */
void mh_cli_usage(FILE *out);

#endif
