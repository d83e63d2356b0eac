/* SPDX-License-Identifier: MIT */
/*
 * mxset: MX hosts resolved and probed in parallel (see mxset.h).
 */
#include "mxset.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "../probes/textutil.h"
#include "../probes/threads.h"
#include "reports.h"

void
mh_run_parallel(void *(*fn)(void *), void *jobs, size_t size, size_t n)
{
    for (size_t base = 0; base < n; base += MH_MXSET_MAX_PARALLEL) {
        pthread_t th[MH_MXSET_MAX_PARALLEL];
        bool started[MH_MXSET_MAX_PARALLEL] = {false};
        size_t batch =
            n - base < MH_MXSET_MAX_PARALLEL ? n - base : MH_MXSET_MAX_PARALLEL;
        for (size_t i = 0; i < batch; i++) {
            void *job = (char *)jobs + (base + i) * size;
            started[i] = mh_thread_start(&th[i], fn, job) == 0;
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

struct resolve_job {
    struct mh_mxset_host *h;
    const struct mh_config *cfg;
    const struct mh_deadline *dl;
    bool tlsa; /* this job looks up the host's TLSA records */
};

static void *
resolve_thread(void *arg)
{
    struct resolve_job *j = arg;
    if (j->tlsa) {
        mh_dane_lookup_run(&j->h->tlsa, j->h->mx->host, j->cfg->port,
                           j->cfg->resolver, j->cfg->dnssec_probe, j->dl,
                           (double)time(NULL));
        return NULL;
    }
    j->h->status = mh_resolve_host(j->h->mx->host, j->cfg->family,
                                   j->cfg->resolver, j->dl, &j->h->addrs,
                                   &j->h->naddrs, j->h->err, sizeof j->h->err);
    return NULL;
}

struct mh_mxset_host *
mh_mxset_resolve(const struct mh_mx *mx, size_t nmx,
                 const struct mh_config *cfg, const struct mh_deadline *dl)
{
    struct mh_mxset_host *hosts = calloc(nmx > 0 ? nmx : 1, sizeof *hosts);
    struct resolve_job *jobs = calloc(nmx > 0 ? 2 * nmx : 1, sizeof *jobs);
    if (hosts == NULL || jobs == NULL) {
        free(hosts);
        free(jobs);
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < nmx; i++) {
        hosts[i].mx = &mx[i];
        jobs[n++] = (struct resolve_job){&hosts[i], cfg, dl, false};
        if (cfg->dane) {
            hosts[i].dane = true;
            jobs[n++] = (struct resolve_job){&hosts[i], cfg, dl, true};
        }
    }
    mh_run_parallel(resolve_thread, jobs, sizeof *jobs, n);
    free(jobs);
    return hosts;
}

void
mh_mxset_hosts_free(struct mh_mxset_host *hosts, size_t nmx)
{
    if (hosts == NULL) {
        return;
    }
    for (size_t i = 0; i < nmx; i++) {
        free(hosts[i].addrs);
        mh_dane_lookup_free(&hosts[i].tlsa);
    }
    free(hosts);
}

struct mh_mxset_probe *
mh_mxset_probes(const struct mh_mxset_host *hosts, size_t nmx,
                const struct mh_smtp_params *base, const struct mh_config *cfg,
                const struct mh_deadline *dl, size_t *n)
{
    *n = 0;
    struct mh_mxset_probe *pj =
        calloc(nmx * MH_MXSET_MAX_ADDRS + 1, sizeof *pj);
    if (pj == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < nmx; i++) {
        const char *name = hosts[i].mx->host;
        for (size_t a = 0; a < hosts[i].naddrs && a < MH_MXSET_MAX_ADDRS; a++) {
            struct mh_mxset_probe *j = &pj[(*n)++];
            j->params = *base;
            j->params.host = hosts[i].addrs[a].text;
            j->params.peer_name = name;
            /* SNI and the certificate name are the MX host's name, as a
             * sending MTA would use them. */
            j->params.sni = cfg->no_sni        ? NULL
                            : cfg->sni != NULL ? cfg->sni
                                               : name;
            j->params.verify_name =
                cfg->verify_name != NULL ? cfg->verify_name : name;
            j->params.dane_lookup = hosts[i].dane ? &hosts[i].tlsa : NULL;
            j->dl = dl;
            j->mx_index = i;
        }
    }
    return pj;
}

static void *
probe_thread(void *arg)
{
    struct mh_mxset_probe *j = arg;
    j->result = mh_smtp_result(mh_smtp_probe(&j->params, j->dl));
    return NULL;
}

void
mh_mxset_run(struct mh_mxset_probe *probes, size_t n)
{
    mh_run_parallel(probe_thread, probes, sizeof *probes, n);
}

void
mh_mxset_probes_free(struct mh_mxset_probe *probes, size_t n)
{
    if (probes == NULL) {
        return;
    }
    for (size_t k = 0; k < n; k++) {
        mh_result_free(probes[k].result);
    }
    free(probes);
}

struct mh_result *
mh_mxset_unresolved(const struct mh_mxset_host *h, uint16_t port)
{
    char target[300];
    mh_peer_label(target, sizeof target, h->mx->host, NULL, port);
    struct mh_result *c = mh_result_new("smtp", target);
    if (c == NULL) {
        return NULL;
    }
    enum mh_reason reason =
        h->status == MH_RESOLVE_TIMEOUT    ? MH_REASON_DNS_TIMEOUT
        : h->status == MH_RESOLVE_NOTFOUND ? MH_REASON_NAME_NOT_FOUND
                                           : MH_REASON_DNS_LOOKUP_FAILED;
    mh_result_raise(c, MH_STATE_CRITICAL, reason, "%s", h->err);
    mh_result_finish(c);
    return c;
}
