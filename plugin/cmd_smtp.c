/* SPDX-License-Identifier: MIT */
/*
 * cmd_smtp: the smtp subcommand (probes/smtp.h) and the SMTP parameters
 * shared with the tls and domain subcommands.
 */
#include "cmd_smtp.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../probes/smtp.h"

const char *
mh_default_ehlo_name(char *buf, size_t len)
{
    /* The machine's name as the system knows it; no DNS lookup (it could
     * block past the deadline). RFC 5321 4.1.1.1 asks for the FQDN; set
     * --ehlo where the host name is not one. */
    if (gethostname(buf, len) != 0 || buf[0] == '\0') {
        snprintf(buf, len, "localhost");
    }
    buf[len - 1] = '\0';
    return buf;
}

static int
tls_min_version(const char *v)
{
    if (v == NULL) {
        return 0;
    }
    if (strcmp(v, "1.0") == 0) {
        return TLS1_VERSION;
    }
    if (strcmp(v, "1.1") == 0) {
        return TLS1_1_VERSION;
    }
    if (strcmp(v, "1.3") == 0) {
        return TLS1_3_VERSION;
    }
    return TLS1_2_VERSION;
}

void
mh_smtp_params_from_config(const struct mh_config *cfg,
                           struct mh_smtp_params *p, char *ehlo_buf,
                           size_t ehlo_len)
{
    memset(p, 0, sizeof *p);
    p->host = cfg->host;
    p->port = cfg->port != NULL ? cfg->port : (cfg->tls ? "465" : "25");
    p->family = cfg->family;
    p->resolver = cfg->resolver;
    p->ehlo_name = cfg->ehlo != NULL ? cfg->ehlo
                                     : mh_default_ehlo_name(ehlo_buf, ehlo_len);
    /* Validated as three digits by the option parser. */
    const char *eg = cfg->expect_greeting;
    p->expect_greeting =
        eg != NULL ? (eg[0] - '0') * 100 + (eg[1] - '0') * 10 + (eg[2] - '0')
                   : 0;
    p->max_line = (size_t)cfg->max_line_length;
    p->tls_mode = cfg->tls        ? MH_TLS_IMPLICIT
                  : cfg->starttls ? MH_TLS_STARTTLS
                                  : MH_TLS_NONE;
    if (cfg->starttls_optional && p->tls_mode == MH_TLS_NONE) {
        p->tls_mode = MH_TLS_STARTTLS;
    }
    p->starttls_optional = cfg->starttls_optional;
    /* SNI defaults to the -H name (never an IP: transport.c skips IPs). */
    p->sni = cfg->no_sni ? NULL : (cfg->sni != NULL ? cfg->sni : cfg->host);
    p->verify_name = cfg->verify_name != NULL
                         ? cfg->verify_name
                         : (cfg->sni != NULL ? cfg->sni : cfg->host);
    p->ca_file = cfg->ca_file;
    p->ca_path = cfg->ca_path;
    p->tls_min_version = tls_min_version(cfg->tls_min);
    /* A trust store, a name to verify or --no-verify only make sense with
     * the certificate checks: they turn them on (default days 30,14)
     * instead of being silently ignored. */
    p->check_cert = cfg->has_cert_days || cfg->ca_file != NULL ||
                    cfg->ca_path != NULL || cfg->verify_name != NULL ||
                    cfg->no_verify;
    p->verify = !cfg->no_verify;
    p->cert_warn_days = cfg->cert_warn_days;
    p->cert_crit_days = cfg->cert_crit_days;
    p->auth_user = cfg->auth_user;
    p->auth_mech = cfg->auth_mech;
    p->allow_plaintext_auth = cfg->allow_plaintext_auth;
    p->mail_from = cfg->mail_from;
    p->rcpt_to = cfg->rcpt_to.v;
    p->nrcpt = cfg->rcpt_to.n;
    p->relay_test = cfg->relay_test;
    if (cfg->verbose > 0) {
        p->trace = mh_trace_stderr;
    }
}

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
            struct mh_result *r = mh_result_new("smtp", cfg->host);
            if (r != NULL) {
                mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
                                "%s", err);
            }
            return r;
        }
        p.auth_password = password;
    }
    struct mh_result *r = mh_smtp_probe(&p, dl);
    if (password != NULL) {
        OPENSSL_cleanse(password, strlen(password));
        free(password);
    }
    if (r != NULL) {
        const double zero = 0;
        /* "time" first: check_smtp's single perfdata label, so graphs made
         * for check_smtp keep working. */
        if (mh_result_add_perf(r, "time", r->duration_s, MH_UNIT_SECONDS, NULL,
                               NULL, &zero, NULL) == 0) {
            struct mh_perf last = r->perf[r->nperf - 1];
            memmove(&r->perf[1], &r->perf[0],
                    (r->nperf - 1) * sizeof r->perf[0]);
            r->perf[0] = last;
        }
        mh_apply_thresholds(cfg, r, "time", r->duration_s,
                            MH_REASON_SLOW_RESPONSE, "slow response");
    }
    return r;
}
