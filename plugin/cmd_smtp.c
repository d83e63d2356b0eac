/* SPDX-License-Identifier: MIT */
/*
 * cmd_smtp: the smtp command (probes/smtp.h): the dialogue, the total
 * time first in the perfdata and -w/-c on it.
 */
#include <string.h>

#include "../probes/smtp.h"
#include "checks.h"
#include "common.h"
#include "params.h"

struct mh_result *
mh_cmd_smtp(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    struct mh_smtp_params p;
    char ehlo[256];
    mh_smtp_params_from_config(cfg, &p, ehlo, sizeof ehlo);
    char *password = NULL;
    if (cfg->auth_user != NULL) {
        char err[256];
        password = mh_read_secret(cfg->auth_password_file,
                                  cfg->auth_password_env, err, sizeof err);
        if (password == NULL) {
            char target[300];
            mh_target_host_port(cfg, target, sizeof target);
            return mh_result_unknown(p.check, target, MH_REASON_USAGE_ERROR,
                                     "%s", err);
        }
        p.auth_password = password;
    }
    struct mh_result *r = mh_smtp_probe(&p, dl);
    mh_secret_free(password);
    if (r != NULL) {
        mh_add_total_time(cfg, r);
    }
    return r;
}
