/* SPDX-License-Identifier: MIT */
/*
 * cmd_domain: the domain subcommand. Looks up the MX hosts of the domain
 * (RFC 5321 5.1; null MX per RFC 7505), resolves every MX host, and probes
 * every address concurrently with the SMTP probe (and its certificate checks
 * with --cert-days). Each address is a child result on its own long-output
 * line with its own category; the overall state is the worst child's and
 * the summary says how many MX hosts are healthy (a host is healthy when
 * every one of its addresses is OK).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../probes/mx.h"
#include "../probes/resolve.h"
#include "cmd_dnsbl.h"
#include "cmd_smtp.h"
#include "commands.h"

/* Most addresses probed at once. */
#define DOMAIN_MAX_PARALLEL 32
/* Most addresses per MX host and MX hosts per domain that are probed. */
#define DOMAIN_MAX_ADDRS 8
#define DOMAIN_MAX_MX 16

struct mx_job {
    const struct mh_mx *mx;
    const struct mh_config *cfg;
    const struct mh_deadline *dl;
    struct mh_addr *addrs;
    size_t naddrs;
    enum mh_resolve_status status;
    char err[256];
};

/* The DNSBL check of every MX address, run beside the SMTP probes. */
struct dnsbl_job {
    struct mh_dnsbl_params params;
    const char **addrs;
    size_t naddrs;
    const char *domain;
    const struct mh_deadline *dl;
    struct mh_result *r; /* the domain result; only this thread writes it
                            while the job runs */
};

static void *
dnsbl_thread(void *arg)
{
    struct dnsbl_job *j = arg;
    mh_dnsbl_check_addresses(&j->params, j->addrs, j->naddrs, j->domain, j->dl,
                             j->r);
    return NULL;
}

struct probe_job {
    struct mh_smtp_params params;
    const struct mh_deadline *dl;
    struct mh_result *result;
    size_t mx_index;
};

static void *
resolve_thread(void *arg)
{
    struct mx_job *j = arg;
    j->status =
        mh_resolve_host(j->mx->host, j->cfg->family, j->cfg->resolver, j->dl,
                        &j->addrs, &j->naddrs, j->err, sizeof j->err);
    return NULL;
}

static void *
probe_thread(void *arg)
{
    struct probe_job *j = arg;
    j->result = mh_smtp_probe(&j->params, j->dl);
    return NULL;
}

/* Runs fn over jobs[0..n) with at most DOMAIN_MAX_PARALLEL threads; a job
 * whose thread cannot be created runs in this thread. */
static void
run_parallel(void *(*fn)(void *), void *jobs, size_t size, size_t n)
{
    for (size_t base = 0; base < n; base += DOMAIN_MAX_PARALLEL) {
        pthread_t th[DOMAIN_MAX_PARALLEL];
        bool started[DOMAIN_MAX_PARALLEL] = {false};
        size_t batch =
            n - base < DOMAIN_MAX_PARALLEL ? n - base : DOMAIN_MAX_PARALLEL;
        for (size_t i = 0; i < batch; i++) {
            void *job = (char *)jobs + (base + i) * size;
            started[i] = pthread_create(&th[i], NULL, fn, job) == 0;
            if (!started[i]) {
                fn(job);
            }
        }
        for (size_t i = 0; i < batch; i++) {
            if (started[i]) {
                pthread_join(th[i], NULL);
            }
        }
    }
}

/* Prefixes the perfdata labels of a child so they stay unique on the
 * status line ("mx0_time_ehlo"). */
static void
prefix_perf(struct mh_result *r, size_t index)
{
    for (size_t i = 0; i < r->nperf; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "mx%zu_%s", index, r->perf[i].label);
        char *s = strdup(buf);
        if (s == NULL) {
            r->oom = true;
            continue;
        }
        free(r->perf[i].label);
        r->perf[i].label = s;
    }
}

/* A child result for an MX host whose addresses could not be found. */
static struct mh_result *
unresolved_child(const struct mx_job *j, const char *port)
{
    char target[300];
    snprintf(target, sizeof target, "%s:%s", j->mx->host, port);
    struct mh_result *c = mh_result_new("smtp", target);
    if (c == NULL) {
        return NULL;
    }
    enum mh_reason reason =
        j->status == MH_RESOLVE_TIMEOUT    ? MH_REASON_DNS_TIMEOUT
        : j->status == MH_RESOLVE_NOTFOUND ? MH_REASON_NAME_NOT_FOUND
                                           : MH_REASON_DNS_LOOKUP_FAILED;
    mh_result_raise(c, MH_STATE_CRITICAL, reason, "%s", j->err);
    mh_result_finish(c);
    return c;
}

struct mh_result *
mh_cmd_domain(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    struct mh_result *r = mh_result_new("domain", cfg->domain);
    if (r == NULL) {
        return NULL;
    }
    struct mh_mx *mx = NULL;
    size_t nmx = 0;
    char err[512];
    enum mh_mx_status ms = mh_mx_lookup(cfg->domain, cfg->resolver, dl, &mx,
                                        &nmx, err, sizeof err);
    if (ms != MH_MX_OK && ms != MH_MX_IMPLICIT) {
        mh_result_raise(r, MH_STATE_CRITICAL,
                        ms == MH_MX_TIMEOUT    ? MH_REASON_DNS_TIMEOUT
                        : ms == MH_MX_NULL     ? MH_REASON_NULL_MX
                        : ms == MH_MX_NXDOMAIN ? MH_REASON_NAME_NOT_FOUND
                                               : MH_REASON_DNS_LOOKUP_FAILED,
                        "%s", err);
        r->duration_s = mh_deadline_elapsed(dl);
        return r;
    }
    if (nmx > DOMAIN_MAX_MX) {
        mh_result_add_item(r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                           "%zu MX hosts, only the first %d are checked", nmx,
                           DOMAIN_MAX_MX);
        nmx = DOMAIN_MAX_MX;
    }
    if (ms == MH_MX_IMPLICIT) {
        mh_result_add_item(r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                           "%s has no MX records: its own address is the "
                           "mail exchanger (RFC 5321 5.1)",
                           cfg->domain);
    }

    /* 1. Resolve every MX host at once. */
    struct mx_job *mj = calloc(nmx, sizeof *mj);
    struct probe_job *pj = calloc(nmx * DOMAIN_MAX_ADDRS, sizeof *pj);
    char *password = NULL;
    if (mj == NULL || pj == NULL) {
        r->oom = true;
        goto out;
    }
    for (size_t i = 0; i < nmx; i++) {
        mj[i].mx = &mx[i];
        mj[i].cfg = cfg;
        mj[i].dl = dl;
    }
    run_parallel(resolve_thread, mj, sizeof *mj, nmx);

    /* 2. Probe every address of every MX host at once. */
    char ehlo[256];
    struct mh_smtp_params base;
    struct mh_config c2 = *cfg;
    c2.host = cfg->domain;
    mh_smtp_params_from_config(&c2, &base, ehlo, sizeof ehlo);
    size_t njobs = 0;
    for (size_t i = 0; i < nmx; i++) {
        for (size_t a = 0; a < mj[i].naddrs && a < DOMAIN_MAX_ADDRS; a++) {
            struct probe_job *j = &pj[njobs++];
            j->params = base;
            j->params.host = mj[i].addrs[a].text;
            j->params.peer_name = mx[i].host;
            /* SNI and the certificate name are the MX host's name, as a
             * sending MTA would use them. */
            j->params.sni = cfg->no_sni        ? NULL
                            : cfg->sni != NULL ? cfg->sni
                                               : mx[i].host;
            j->params.verify_name =
                cfg->verify_name != NULL ? cfg->verify_name : mx[i].host;
            j->dl = dl;
            j->mx_index = i;
        }
    }
    if (cfg->auth_user != NULL) {
        password = mh_read_secret(cfg->auth_password_file,
                                  cfg->auth_password_env, err, sizeof err);
        if (password == NULL) {
            mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "%s",
                            err);
            goto out;
        }
        for (size_t k = 0; k < njobs; k++) {
            pj[k].params.auth_password = password;
        }
    }
    /* DNSBL listings of every MX address (--zone/--zones-file), at the
     * same time as the SMTP probes. */
    struct mh_dnsbl_zones zones = {0};
    struct dnsbl_job dj;
    memset(&dj, 0, sizeof dj);
    pthread_t dth;
    bool dnsbl = false, dnsbl_thread_started = false;
    const char **addr_list = NULL;
    if (cfg->zones.n > 0 || cfg->zones_file != NULL) {
        if (mh_dnsbl_zones_from_config(cfg, &zones, err, sizeof err) != 0) {
            mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "%s",
                            err);
            goto out;
        }
        addr_list = calloc(njobs > 0 ? njobs : 1, sizeof *addr_list);
        if (addr_list == NULL) {
            r->oom = true;
            mh_dnsbl_zones_free(&zones);
            goto out;
        }
        for (size_t k = 0; k < njobs; k++) {
            addr_list[k] = pj[k].params.host;
        }
        mh_dnsbl_params_from_config(cfg, &zones, &dj.params);
        dj.params.perf_prefix = "dnsbl_";
        dj.addrs = addr_list;
        dj.naddrs = njobs;
        dj.domain = cfg->domain;
        dj.dl = dl;
        dj.r = r;
        dnsbl = true;
        dnsbl_thread_started =
            pthread_create(&dth, NULL, dnsbl_thread, &dj) == 0;
        if (!dnsbl_thread_started) {
            dnsbl_thread(&dj);
        }
    }
    run_parallel(probe_thread, pj, sizeof *pj, njobs);
    if (dnsbl_thread_started) {
        pthread_join(dth, NULL);
    }
    if (dnsbl) {
        mh_dnsbl_zones_free(&zones);
        free(addr_list);
    }
    /* What the DNSBL check found, before the MX verdict is merged in. */
    enum mh_state dnsbl_state = r->state;
    enum mh_reason dnsbl_reason = r->reason;
    char dnsbl_summary[700] = "";
    if (r->summary != NULL) {
        snprintf(dnsbl_summary, sizeof dnsbl_summary, "%s", r->summary);
    }

    /* 3. Children in MX order, then the verdict. */
    size_t healthy = 0;
    size_t child = 0;
    enum mh_state worst = MH_STATE_OK;
    const struct mh_result *worst_child = NULL;
    for (size_t i = 0; i < nmx; i++) {
        bool host_ok = mj[i].status == MH_RESOLVE_OK;
        if (!host_ok) {
            struct mh_result *c = unresolved_child(&mj[i], base.port);
            if (c == NULL) {
                r->oom = true;
                continue;
            }
            if (mh_state_rank(c->state) > mh_state_rank(worst)) {
                worst = c->state;
                worst_child = c;
            }
            mh_result_add_child(r, c);
            continue;
        }
        for (size_t k = 0; k < njobs; k++) {
            if (pj[k].mx_index != i) {
                continue;
            }
            struct mh_result *c = pj[k].result;
            pj[k].result = NULL;
            if (c == NULL) {
                r->oom = true;
                host_ok = false;
                continue;
            }
            mh_result_finish(c);
            prefix_perf(c, child++);
            if (c->state != MH_STATE_OK) {
                host_ok = false;
            }
            if (mh_state_rank(c->state) > mh_state_rank(worst)) {
                worst = c->state;
                worst_child = c;
            }
            mh_result_add_child(r, c);
        }
        if (host_ok) {
            healthy++;
        }
    }
    if (worst_child != NULL &&
        mh_state_rank(worst) >= mh_state_rank(dnsbl_state)) {
        mh_result_override(
            r, worst, worst_child->reason, "%s: %zu/%zu MX hosts healthy; %s",
            cfg->domain, healthy, nmx,
            worst_child->summary != NULL ? worst_child->summary : "");
    } else if (dnsbl_state != MH_STATE_OK) {
        mh_result_override(r, dnsbl_state, dnsbl_reason,
                           "%s: %zu/%zu MX hosts healthy; %s", cfg->domain,
                           healthy, nmx, dnsbl_summary);
    } else {
        char names[600] = "";
        for (size_t i = 0; i < nmx; i++) {
            size_t o = strlen(names);
            snprintf(names + o, sizeof names - o, "%s%s", i > 0 ? ", " : "",
                     mx[i].host);
        }
        mh_result_set_summary(r, "%s: %zu/%zu MX hosts healthy (%s)",
                              cfg->domain, healthy, nmx, names);
    }
    const double zero = 0;
    const double total = (double)nmx;
    mh_result_add_perf(r, "mx_hosts", (double)nmx, MH_UNIT_NONE, NULL, NULL,
                       &zero, NULL);
    mh_result_add_perf(r, "mx_healthy", (double)healthy, MH_UNIT_NONE, NULL,
                       NULL, &zero, &total);

out:
    if (password != NULL) {
        OPENSSL_cleanse(password, strlen(password));
        free(password);
    }
    if (pj != NULL) {
        for (size_t k = 0; k < nmx * DOMAIN_MAX_ADDRS; k++) {
            mh_result_free(pj[k].result);
        }
    }
    if (mj != NULL) {
        for (size_t i = 0; i < nmx; i++) {
            free(mj[i].addrs);
        }
    }
    free(pj);
    free(mj);
    free(mx);
    r->duration_s = mh_deadline_elapsed(dl);
    const double zero2 = 0;
    mh_result_add_perf(r, "time", r->duration_s, MH_UNIT_SECONDS, NULL, NULL,
                       &zero2, NULL);
    mh_apply_thresholds(cfg, r, "time", r->duration_s, MH_REASON_SLOW_RESPONSE,
                        "slow response");
    return r;
}
