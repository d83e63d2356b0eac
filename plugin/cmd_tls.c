/* SPDX-License-Identifier: MIT */
/*
 * cmd_tls: the tls command. Checks the certificate a sending MTA or a
 * mail client would see (probes/tlscheck.h), over:
 *   - STARTTLS (default, or --starttls): the SMTP probe's dialogue up to
 *     the handshake (greeting, EHLO, STARTTLS), the checks, then EHLO and
 *     QUIT as RFC 3207 wants; STARTTLS not offered is CRITICAL/tls
 *     (WARNING with --starttls-optional), a 454 to STARTTLS CRITICAL/tls
 *     at once;
 *   - implicit TLS (--tls): the handshake and the checks only, no
 *     application protocol, so it works on any implicit-TLS port (465
 *     submissions, 993 IMAPS, 995 POP3S). Use `smtp --tls --cert-days W,C`
 *     to check the SMTP dialogue over implicit TLS as well.
 * Certificate thresholds are --cert-days W,C (default 30,14); -w/-c apply
 * to the total time, as for smtp. The result's check name is "tls".
 */
#include "checks.h"

/* The smtp command's steps (cmd_smtp.c: mh_smtp_prepare, the probe,
 * mh_smtp_finish) with cfg->command MH_CMD_TLS: its parameters (STARTTLS
 * unless --tls, the certificate checks always, the handshake only with
 * implicit TLS) and its summary (the certificate's) are written there
 * once, for this command and the runner's event loop alike. */
struct mh_result *
mh_cmd_tls(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    return mh_cmd_smtp(cfg, dl);
}
