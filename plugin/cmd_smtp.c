/* SPDX-License-Identifier: MIT */
/*
 * cmd_smtp: the smtp command (probes/smtp.h): the dialogue, the total
 * time first in the perfdata and -w/-c on it; and the two steps around
 * the probe that the tls command and the runner's event loop share
 * (checks.h: mh_smtp_prepare, mh_smtp_finish).
 */
#include <string.h>

#include "../probes/smtp.h"
#include "../probes/tlscheck.h"
#include "checks.h"
#include "common.h"
#include "params.h"
#include "reports.h"

/* The probe's parameters for cfg (command smtp or tls). */
static void
params_of(const struct mh_config *cfg, struct mh_smtp_params *p, char *ehlo,
          size_t len)
{
    mh_smtp_params_from_config(cfg, p, ehlo, len);
    if (cfg->command == MH_CMD_TLS) {
        /* The tls command (cmd_tls.c): STARTTLS unless --tls, the
         * certificate checks always (thresholds 30,14 unless
         * --cert-days), the handshake only with implicit TLS. */
        if (p->tls_mode == MH_TLS_NONE) {
            p->tls_mode = MH_TLS_STARTTLS;
        }
        p->tls_only = p->tls_mode == MH_TLS_IMPLICIT;
        p->check_cert = true;
    }
}

enum mh_loop_fit
mh_smtp_fits_loop(const struct mh_config *cfg)
{
    if (cfg->command != MH_CMD_SMTP && cfg->command != MH_CMD_TLS) {
        return MH_LOOP_NO;
    }
    struct mh_smtp_params p;
    char ehlo[256];
    params_of(cfg, &p, ehlo, sizeof ehlo);
    return mh_smtp_task_supported(&p)                ? MH_LOOP_ADDRESS
           : mh_smtp_task_supported_after_lookup(&p) ? MH_LOOP_AFTER_LOOKUP
                                                     : MH_LOOP_NO;
}

int
mh_smtp_prepare(const struct mh_config *cfg, struct mh_smtp_job *j,
                struct mh_result **early)
{
    memset(j, 0, sizeof *j);
    j->cfg = cfg;
    *early = NULL;
    struct mh_smtp_params *p = &j->p;
    params_of(cfg, p, j->ehlo, sizeof j->ehlo);
    if (cfg->auth_user != NULL) {
        char err[256];
        j->password = mh_read_secret(cfg->auth_password_file,
                                     cfg->auth_password_env, err, sizeof err);
        if (j->password == NULL) {
            char target[300];
            mh_target_host_port(cfg, target, sizeof target);
            *early = mh_result_unknown(p->check, target, MH_REASON_USAGE_ERROR,
                                       "%s", err);
            return -1;
        }
        p->auth_password = j->password;
    }
    return 0;
}

struct mh_result *
mh_smtp_finish(struct mh_smtp_job *j, struct mh_result *r)
{
    mh_secret_free(j->password);
    j->password = NULL;
    j->p.auth_password = NULL;
    if (r == NULL) {
        return NULL;
    }
    mh_add_total_time(j->cfg, r);
    if (j->cfg->command == MH_CMD_TLS && r->state == MH_STATE_OK) {
        char sum[1024];
        if (mh_tls_ok_summary(r, sum, sizeof sum) == 0) {
            mh_result_set_summary(r, "%s %s", r->target, sum);
        }
    }
    return r;
}

struct mh_result *
mh_smtp_finish_report(struct mh_smtp_job *j, struct mh_smtp_check_report *c)
{
    return mh_smtp_finish(j, mh_smtp_result(c));
}

struct mh_result *
mh_cmd_smtp(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    struct mh_smtp_job j;
    struct mh_result *early;
    if (mh_smtp_prepare(cfg, &j, &early) != 0) {
        return early;
    }
    return mh_smtp_finish_report(&j, mh_smtp_probe(&j.p, dl));
}
