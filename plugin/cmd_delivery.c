/* SPDX-License-Identifier: MIT */
/*
 * cmd_delivery: the delivery subcommand (probes/delivery.h). Reads the two
 * passwords (file or environment, never argv), runs the round trip within
 * the deadline, and applies -w/-c to the delay. Re-entrant: the runner may
 * call it from several threads at once.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../probes/delivery.h"
#include "cmd_smtp.h"
#include "../probes/curl_loader.h"
#include "commands.h"

static void
forget(char *secret)
{
    if (secret != NULL) {
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
    }
}

struct mh_result *
mh_cmd_delivery(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    char loaderr[256];
    if (!mh_curl_available(loaderr, sizeof loaderr)) {
        /* libcurl is loaded on first use (curl_loader.c): without it this
         * host cannot run the check at all. */
        struct mh_result *r = mh_result_new(
            "delivery", cfg->rcpt_to.n > 0 ? cfg->rcpt_to.v[0] : "");
        if (r != NULL) {
            mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
                            "delivery needs libcurl: %s", loaderr);
        }
        return r;
    }
    struct mh_delivery_params p;
    memset(&p, 0, sizeof p);
    char ehlo[256];
    p.submit_url = cfg->submit_url;
    p.imap_url = cfg->imap_url;
    p.auth_user = cfg->auth_user;
    p.auth_mech = cfg->auth_mech;
    p.imap_user = cfg->imap_user;
    p.mail_from = cfg->mail_from;
    p.rcpt_to = cfg->rcpt_to.n > 0 ? cfg->rcpt_to.v[0] : NULL;
    p.ehlo_name =
        cfg->ehlo != NULL ? cfg->ehlo : mh_default_ehlo_name(ehlo, sizeof ehlo);
    p.ca_file = cfg->ca_file;
    p.ca_path = cfg->ca_path;
    p.insecure_plaintext = cfg->insecure_plaintext;
    p.poll_interval_s = cfg->poll_interval_s > 0 ? cfg->poll_interval_s : 1;
    p.family = cfg->family;
    p.resolver = cfg->resolver;
    if (cfg->verbose > 0) {
        p.trace = mh_trace_stderr;
        p.curl_verbose = cfg->verbose > 1;
    }

    char err[256];
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
        r = mh_result_new("delivery", p.rcpt_to != NULL ? p.rcpt_to : "");
        if (r != NULL) {
            mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
                            "%s: %s", failed, err);
        }
    } else {
        p.auth_password = auth_pw;
        p.imap_password = imap_pw;
        r = mh_delivery_probe(&p, dl);
    }
    forget(auth_pw);
    forget(imap_pw);
    if (r == NULL) {
        return NULL;
    }
    /* -w/-c apply to the delay, once the mail was found. A delay beyond
     * the ranges is reported as timeout: the mail took too long. */
    for (size_t i = 0; i < r->nperf; i++) {
        if (strcmp(r->perf[i].label, "delay") == 0 && !r->perf[i].unknown) {
            char what[700];
            snprintf(what, sizeof what, "%s: slow delivery, delay in s",
                     r->target);
            mh_apply_thresholds(cfg, r, "delay", r->perf[i].value,
                                MH_REASON_DELIVERY_SLOW, what);
            break;
        }
    }
    return r;
}
