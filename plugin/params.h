/* SPDX-License-Identifier: MIT */
/*
 * params: the probes' parameter structs from the typed configuration, for
 * the commands that share a probe (smtp, tls and domain run the SMTP
 * probe; delivery needs the same EHLO name rule). Values are copied as
 * they are: the option table parsed them once.
 */
#ifndef MH_PARAMS_H
#define MH_PARAMS_H

#include <stddef.h>

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

#endif
