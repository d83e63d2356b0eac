/* SPDX-License-Identifier: MIT */
/*
 * cmd_dnsbl: the dnsbl subcommand (probes/dnsbl.h): targets from -H and
 * --hosts-file, zones from --zone and --zones-file, -w/-c on the number of
 * block zones listing each target.
 */
#include "cmd_dnsbl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "common.h"

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
    }
    p->memory = cfg->dnsbl_memory;
    p->zone_budget = cfg->zone_query_budget;
    p->health_cache_s = cfg->zone_health_cache_s;
}

/* A usage error result for the dnsbl check. */
static struct mh_result *
usage_result(const struct mh_config *cfg, const char *err)
{
    struct mh_result *r =
        mh_result_new("dnsbl", cfg->host != NULL ? cfg->host : "");
    if (r != NULL) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "%s", err);
    }
    return r;
}

/*
 * The targets: every -H, then the lines of --hosts-file (read at every
 * run, so the runner picks up edits at its next round). *all is a new
 * array of borrowed strings (free() it), file keeps the file's strings.
 * Returns 0, or -1 with the reason in err.
 */
static int
collect_targets(const struct mh_config *cfg, struct mh_dnsbl_target_list *file,
                const char ***all, size_t *nall, char *err, size_t errlen)
{
    if (cfg->hosts_file != NULL &&
        mh_dnsbl_targets_load(file, cfg->hosts_file, err, errlen) != 0) {
        return -1;
    }
    size_t n = cfg->hosts.n + file->n;
    if (n == 0 && cfg->host != NULL) {
        n = 1;
    }
    if (n == 0) {
        snprintf(err, errlen, "no target: -H, or a line in --hosts-file %s",
                 cfg->hosts_file != NULL ? cfg->hosts_file : "");
        return -1;
    }
    const char **v = calloc(n, sizeof *v);
    if (v == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t k = 0;
    for (size_t i = 0; i < cfg->hosts.n; i++) {
        v[k++] = cfg->hosts.v[i];
    }
    if (cfg->hosts.n == 0 && file->n == 0) {
        v[k++] = cfg->host;
    }
    for (size_t i = 0; i < file->n; i++) {
        v[k++] = file->v[i];
    }
    *all = v;
    *nall = k;
    return 0;
}

struct mh_result *
mh_cmd_dnsbl(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    struct mh_dnsbl_zones zones = {0};
    struct mh_dnsbl_target_list file = {0};
    const char **targets = NULL;
    size_t ntargets = 0;
    char err[300];
    if (mh_dnsbl_zones_from_config(cfg, &zones, err, sizeof err) != 0) {
        return usage_result(cfg, err);
    }
    if (collect_targets(cfg, &file, &targets, &ntargets, err, sizeof err) !=
        0) {
        mh_dnsbl_zones_free(&zones);
        mh_dnsbl_target_list_free(&file);
        return usage_result(cfg, err);
    }
    struct mh_dnsbl_params p;
    mh_dnsbl_params_from_config(cfg, &zones, &p);
    p.targets = targets;
    p.ntargets = ntargets;
    p.hosts_file = cfg->hosts_file;
    p.nfile_targets = file.n;
    if (p.target == NULL) {
        p.target = targets[0];
    }
    struct mh_result *r = mh_dnsbl_probe(&p, dl);
    if (r != NULL && cfg->hosts.n == 0 && cfg->hosts_file != NULL) {
        /* the target label of a check of a hosts file is the file */
        mh_result_set_target(r, cfg->hosts_file);
    }
    free(targets);
    mh_dnsbl_target_list_free(&file);
    mh_dnsbl_zones_free(&zones);
    return r;
}
