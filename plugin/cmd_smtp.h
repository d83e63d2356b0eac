/* SPDX-License-Identifier: MIT */
/*
 * cmd_smtp: SMTP parameters from the configuration, shared by the smtp,
 * tls and domain subcommands.
 */
#ifndef MH_CMD_SMTP_H
#define MH_CMD_SMTP_H

#include <stddef.h>

#include "../probes/smtp.h"
#include "commands.h"

/* The EHLO name used when --ehlo is not given: gethostname(). Returns
 * buf. */
const char *mh_default_ehlo_name(char *buf, size_t len);

/*
 * Fills p from cfg (borrowing cfg's strings; ehlo_buf receives the default
 * EHLO name). The password is not set: the caller reads it with
 * mh_read_secret().
 */
void mh_smtp_params_from_config(const struct mh_config *cfg,
                                struct mh_smtp_params *p, char *ehlo_buf,
                                size_t ehlo_len);

#endif
