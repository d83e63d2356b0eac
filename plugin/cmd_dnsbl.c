/* SPDX-License-Identifier: MIT */
/*
 * cmd_dnsbl: the dnsbl subcommand (probes/dnsbl.h): targets from -H and
 * --hosts-file, zones from --zone and --zones-file, -w/-c on the number of
 * block zones listing each target.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "params.h"
#include "reports.h"

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

int
mh_dnsbl_prepare(const struct mh_config *cfg, struct mh_dnsbl_job *j,
                 struct mh_result **early)
{
    memset(j, 0, sizeof *j);
    j->cfg = cfg;
    *early = NULL;
    char err[300];
    size_t ntargets = 0;
    if (mh_dnsbl_zones_from_config(cfg, &j->zones, err, sizeof err) != 0 ||
        collect_targets(cfg, &j->file, &j->targets, &ntargets, err,
                        sizeof err) != 0) {
        mh_dnsbl_job_free(j);
        *early = usage_result(cfg, err);
        return -1;
    }
    struct mh_dnsbl_params *p = &j->p;
    mh_dnsbl_params_from_config(cfg, &j->zones, p);
    p->targets = j->targets;
    p->ntargets = ntargets;
    p->hosts_file = cfg->hosts_file;
    p->nfile_targets = j->file.n;
    if (p->target == NULL) {
        p->target = j->targets[0];
    }
    return 0;
}

void
mh_dnsbl_job_free(struct mh_dnsbl_job *j)
{
    free(j->targets);
    j->targets = NULL;
    mh_dnsbl_target_list_free(&j->file);
    mh_dnsbl_zones_free(&j->zones);
}

struct mh_result *
mh_dnsbl_finish_report(struct mh_dnsbl_job *j, struct mh_dnsbl_report *rep)
{
    struct mh_result *r = mh_dnsbl_result(&j->p, rep);
    if (r != NULL && j->cfg->hosts.n == 0 && j->cfg->hosts_file != NULL) {
        /* the target label of a check of a hosts file is the file */
        mh_result_set_target(r, j->cfg->hosts_file);
    }
    mh_dnsbl_job_free(j);
    return r;
}

struct mh_result *
mh_cmd_dnsbl(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    struct mh_dnsbl_job j;
    struct mh_result *early;
    if (mh_dnsbl_prepare(cfg, &j, &early) != 0) {
        return early;
    }
    return mh_dnsbl_finish_report(&j, mh_dnsbl_run(&j.p, dl));
}
