/* SPDX-License-Identifier: MIT */
/*
 * cmd_dnsbl: the dnsbl subcommand (probes/dnsbl.h): zones from --zone and
 * --zones-file, -w/-c on the number of zones listing the target.
 */
#include "cmd_dnsbl.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "checks.h"
#include "common.h"

/* Default critical range: alert when one zone or more lists the target
 * (check_rbl's default; conventions.md 1.2 example "~:0"). */
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
    }
}

struct mh_result *
mh_cmd_dnsbl(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    struct mh_dnsbl_zones zones = {0};
    char err[300];
    if (mh_dnsbl_zones_from_config(cfg, &zones, err, sizeof err) != 0) {
        struct mh_result *r =
            mh_result_new("dnsbl", cfg->host != NULL ? cfg->host : "");
        if (r != NULL) {
            mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "%s",
                            err);
        }
        return r;
    }
    struct mh_dnsbl_params p;
    mh_dnsbl_params_from_config(cfg, &zones, &p);
    struct mh_result *r = mh_dnsbl_probe(&p, dl);
    mh_dnsbl_zones_free(&zones);
    return r;
}
