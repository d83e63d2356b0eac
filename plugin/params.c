/* SPDX-License-Identifier: MIT */
/*
 * params: probe parameters from the configuration (see params.h).
 */
#include "params.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

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

void
mh_smtp_params_from_config(const struct mh_config *cfg,
                           struct mh_smtp_params *p, char *ehlo_buf,
                           size_t ehlo_len)
{
    const char *name_default = cfg->sni != NULL ? cfg->sni : cfg->host;
    *p = (struct mh_smtp_params){
        .check = cfg->command == MH_CMD_TLS ? "tls" : "smtp",
        .host = cfg->host,
        .port = cfg->port,
        .family = cfg->family,
        .resolver = cfg->resolver,
        .ehlo_name = cfg->ehlo != NULL
                         ? cfg->ehlo
                         : mh_default_ehlo_name(ehlo_buf, ehlo_len),
        .expect_greeting = cfg->expect_greeting,
        .max_line = cfg->max_line_length,
        .tls_mode = cfg->tls_mode,
        .starttls_optional = cfg->starttls_optional,
        /* Never an IP address: transport.c sends no SNI for one. */
        .sni = cfg->no_sni ? NULL : name_default,
        .verify_name =
            cfg->verify_name != NULL ? cfg->verify_name : name_default,
        .ca_file = cfg->ca_file,
        .ca_path = cfg->ca_path,
        .tls_min_version = cfg->tls_min_version,
        /* A trust store, a name to verify or --no-verify only make sense
         * with the certificate checks: they turn them on (default days
         * 30,14) instead of being silently ignored. */
        .check_cert = cfg->cert_days.given || cfg->ca_file != NULL ||
                      cfg->ca_path != NULL || cfg->verify_name != NULL ||
                      cfg->no_verify,
        /* With --dane (smtp, tls) DANE authenticates the server (RFC 7672
         * 3.1: DANE-EE and DANE-TA need no Web PKI trust anchor), so a
         * chain that does not verify against the trust store is a note. */
        .verify =
            !cfg->no_verify && !(cfg->dane && cfg->command != MH_CMD_DOMAIN),
        .cert_warn_days = cfg->cert_days.warn,
        .cert_crit_days = cfg->cert_days.crit,
        .dane = cfg->dane,
        .dane_required = cfg->command != MH_CMD_DOMAIN,
        .dnssec_probe = cfg->dnssec_probe,
        .tlsa_next_key = cfg->tlsa_next_key,
        .rrsig_warn_days = cfg->rrsig_days.warn,
        .rrsig_crit_days = cfg->rrsig_days.crit,
        .auth_user = cfg->auth_user,
        .auth_mech = cfg->auth_mech,
        .allow_plaintext_auth = cfg->allow_plaintext_auth,
        .mail_from = cfg->mail_from,
        .rcpt_to = cfg->rcpt_to.v,
        .nrcpt = cfg->rcpt_to.n,
        .relay_test = cfg->relay_test,
        .trace = cfg->verbose > 0 ? mh_trace_stderr : NULL,
        .trace_arg = (void *)(uintptr_t)cfg->trace_label,
        .trace_states = cfg->verbose > 1,
    };
}

/* Default critical range: alert when one zone or more lists the target
 * (check_rbl's default; "~:0" in the Nagios threshold syntax). */
static const char default_crit[] = "~:0";

int
mh_dnsbl_zones_from_config(const struct mh_config *cfg,
                           struct mh_dnsbl_zones *out, char *err, size_t errlen)
{
    struct mh_dnsbl_zones defs = {0};
    if (cfg->zones_file != NULL &&
        mh_dnsbl_zones_load(&defs, cfg->zones_file, err, errlen) != 0) {
        return -1;
    }
    int rc = 0;
    if (cfg->zones.n > 0) {
        for (size_t i = 0; i < cfg->zones.n && rc == 0; i++) {
            rc = mh_dnsbl_zones_add_arg(out, cfg->zones.v[i], &defs, err,
                                        errlen);
        }
    } else {
        for (size_t i = 0; i < defs.n && rc == 0; i++) {
            if (!defs.v[i].enabled) {
                continue;
            }
            if (out->n >= MH_DNSBL_MAX_ZONES) {
                snprintf(err, errlen,
                         "too many enabled zones in %s (at most "
                         "%d)",
                         cfg->zones_file, MH_DNSBL_MAX_ZONES);
                rc = -1;
            } else if (mh_dnsbl_zones_append(out, &defs.v[i]) != 0) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
            }
        }
        if (rc == 0 && out->n == 0) {
            snprintf(err, errlen, "no enabled zone in %s",
                     cfg->zones_file != NULL ? cfg->zones_file : "(none)");
            rc = -1;
        }
    }
    mh_dnsbl_zones_free(&defs);
    /* zones that take a customer key read it now, only when queried */
    for (size_t i = 0; i < out->n && rc == 0; i++) {
        rc = mh_dnsbl_zone_load_key(&out->v[i], err, errlen);
    }
    if (rc != 0) {
        mh_dnsbl_zones_free(out);
    }
    return rc;
}

/* -w/-c on the number of listing zones; CRITICAL checked first. */
static enum mh_state
judge(void *arg, size_t listed)
{
    const struct mh_config *cfg = arg;
    struct mh_range dflt;
    const struct mh_range *crit =
        cfg->critical.set ? &cfg->critical.range : NULL;
    if (!cfg->warning.set && !cfg->critical.set &&
        mh_range_parse(default_crit, &dflt) == MH_RANGE_OK) {
        crit = &dflt;
    }
    return mh_range_evaluate(cfg->warning.set ? &cfg->warning.range : NULL,
                             crit, (double)listed);
}

void
mh_dnsbl_params_from_config(const struct mh_config *cfg,
                            const struct mh_dnsbl_zones *zones,
                            struct mh_dnsbl_params *p)
{
    memset(p, 0, sizeof *p);
    p->target = cfg->host;
    p->targets = cfg->hosts.v;
    p->ntargets = cfg->hosts.n;
    p->zones = zones;
    p->resolver = cfg->resolver;
    p->family = cfg->family;
    p->judge = judge;
    p->judge_arg = (void *)(uintptr_t)cfg;
    p->perf_warn = cfg->warning.set ? cfg->warning.text : NULL;
    p->perf_crit = cfg->critical.set  ? cfg->critical.text
                   : cfg->warning.set ? NULL
                                      : default_crit;
    if (cfg->verbose > 0) {
        p->trace = mh_trace_stderr;
        p->trace_arg = (void *)(uintptr_t)cfg->trace_label;
    }
    p->memory = cfg->dnsbl_memory;
    p->zone_budget = cfg->zone_query_budget;
    p->health_cache_s = cfg->zone_health_cache_s;
    p->max_in_flight = cfg->max_in_flight;
}
