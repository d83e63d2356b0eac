/* SPDX-License-Identifier: MIT */
/*
 * cmd_delivery: the delivery command (probes/delivery.h). Reads the two
 * passwords (file or environment, never argv), runs the round trip within
 * the deadline, and applies -w/-c to the delay. Re-entrant: the runner may
 * call it from several threads at once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../probes/curl_loader.h"
#include "../probes/delivery.h"
#include "checks.h"
#include "common.h"
#include "params.h"
#include "reports.h"

void
mh_target_delivery(const struct mh_config *cfg, char *buf, size_t len)
{
    mh_textf(buf, len, "%s via %s", cfg->rcpt_to.n > 0 ? cfg->rcpt_to.v[0] : "",
             cfg->submit.scheme != MH_DELIVERY_SCHEME_INVALID
                 ? cfg->submit.where
                 : "?");
}

/* -w/-c apply to the delay, once the mail was found. A delay beyond the
 * ranges is reported as timeout: the mail took too long. */
static void
judge_delay(const struct mh_config *cfg, struct mh_result *r)
{
    for (size_t i = 0; i < r->nperf; i++) {
        if (strcmp(r->perf[i].label, "delay") == 0 && !r->perf[i].unknown) {
            char what[700];
            mh_textf(what, sizeof what, "%s: slow delivery, delay in s",
                     r->target);
            mh_apply_thresholds(cfg, r, "delay", r->perf[i].value,
                                MH_REASON_DELIVERY_SLOW, what);
            return;
        }
    }
}

struct mh_result *
mh_cmd_delivery(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    char target[600];
    mh_target_delivery(cfg, target, sizeof target);
    char err[256];
    if (!mh_curl_available(err, sizeof err)) {
        /* libcurl is loaded on first use (curl_loader.c): without it this
         * host cannot run the check at all. */
        return mh_result_unknown("delivery", target, MH_REASON_INTERNAL_ERROR,
                                 "delivery needs libcurl: %s", err);
    }
    char ehlo[256];
    struct mh_delivery_params p = {
        .submit = &cfg->submit,
        .imap = &cfg->imap,
        .auth_user = cfg->auth_user,
        .auth_mech = cfg->auth_mech,
        .imap_user = cfg->imap_user,
        .mail_from = cfg->mail_from,
        .rcpt_to = cfg->rcpt_to.n > 0 ? cfg->rcpt_to.v[0] : NULL,
        .ehlo_name = cfg->ehlo != NULL
                         ? cfg->ehlo
                         : mh_default_ehlo_name(ehlo, sizeof ehlo),
        .ca_file = cfg->ca_file,
        .ca_path = cfg->ca_path,
        .insecure_plaintext = cfg->insecure_plaintext,
        .poll_interval_s = cfg->poll_interval_s > 0 ? cfg->poll_interval_s : 1,
        .family = cfg->family,
        .resolver = cfg->resolver,
        .trace = cfg->verbose > 0 ? mh_trace_stderr : NULL,
        .trace_arg = (void *)(uintptr_t)cfg->trace_label,
        .curl_verbose = cfg->verbose > 1,
    };

    char *auth_pw = NULL, *imap_pw = NULL;
    const char *failed = NULL;
    if (cfg->auth_user != NULL) {
        auth_pw = mh_read_secret(cfg->auth_password_file,
                                 cfg->auth_password_env, err, sizeof err);
        failed = auth_pw == NULL ? "submission password" : NULL;
    }
    if (failed == NULL) {
        imap_pw = mh_read_secret(cfg->imap_password_file,
                                 cfg->imap_password_env, err, sizeof err);
        failed = imap_pw == NULL ? "IMAP password" : NULL;
    }
    struct mh_result *r;
    if (failed != NULL) {
        r = mh_result_unknown("delivery", target, MH_REASON_USAGE_ERROR,
                              "%s: %s", failed, err);
    } else {
        p.auth_password = auth_pw;
        p.imap_password = imap_pw;
        struct mh_delivery_report *rep = mh_delivery_run(&p, dl);
        r = rep != NULL ? mh_delivery_result(rep) : NULL;
        free(rep);
    }
    mh_secret_free(auth_pw);
    mh_secret_free(imap_pw);
    if (r != NULL) {
        judge_delay(cfg, r);
    }
    return r;
}
