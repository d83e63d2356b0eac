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
#include "../probes/smtp.h"
#include "../probes/tlscheck.h"
#include "checks.h"
#include "common.h"
#include "params.h"

struct mh_result *
mh_cmd_tls(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    struct mh_smtp_params p;
    char ehlo[256];
    mh_smtp_params_from_config(cfg, &p, ehlo, sizeof ehlo);
    if (p.tls_mode == MH_TLS_NONE) {
        p.tls_mode = MH_TLS_STARTTLS;
    }
    p.tls_only = p.tls_mode == MH_TLS_IMPLICIT;
    /* The thresholds are always set: 30,14 unless --cert-days. */
    p.check_cert = true;

    struct mh_result *r = mh_smtp_probe(&p, dl);
    if (r == NULL) {
        return NULL;
    }
    mh_add_total_time(cfg, r);
    if (r->state == MH_STATE_OK) {
        char sum[1024];
        if (mh_tls_ok_summary(r, sum, sizeof sum) == 0) {
            mh_result_set_summary(r, "%s %s", r->target, sum);
        }
    }
    return r;
}
