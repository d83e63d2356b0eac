/* SPDX-License-Identifier: MIT */
/*
 * stscheck: the MTA-STS part of mta-sts and domain (see stscheck.h).
 */
#include "stscheck.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../probes/curl_loader.h"
#include "common.h"
#include "params.h"
#include "reports.h"

/* Runs fn(s) on s's thread, or here when no thread can be started. */
static void
start(struct mh_stscheck *s, void *(*fn)(void *))
{
    s->th_running = pthread_create(&s->th, NULL, fn, s) == 0;
    if (!s->th_running) {
        fn(s);
    }
}

void
mh_stscheck_join(struct mh_stscheck *s)
{
    if (s->th_running) {
        pthread_join(s->th, NULL);
        s->th_running = false;
    }
}

static void *
records_thread(void *arg)
{
    struct mh_stscheck *s = arg;
    mh_sts_lookup_records(s->cfg->domain, s->cfg->resolver, s->dl, &s->dns);
    s->published = mh_sts_dns_published(&s->dns);
    return NULL;
}

void
mh_stscheck_start(struct mh_stscheck *s, const struct mh_config *cfg,
                  const struct mh_deadline *dl)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->dl = dl;
    s->fetch.status = MH_STS_FETCH_NOT_RUN;
    start(s, records_thread);
}

static void *
fetch_thread(void *arg)
{
    struct mh_stscheck *s = arg;
    const struct mh_config *cfg = s->cfg;
    struct mh_sts_fetch_params fp = {
        .domain = cfg->domain,
        .resolver = cfg->resolver,
        .family = cfg->family,
        .ca_file = cfg->ca_file,
        .ca_path = cfg->ca_path,
        .cert_warn_days = cfg->cert_days.warn,
        .cert_crit_days = cfg->cert_days.crit,
        .trace = cfg->verbose > 0 ? mh_trace_stderr : NULL,
        .trace_arg = (void *)(uintptr_t)cfg->trace_label,
        .curl_verbose = cfg->verbose > 1,
    };
    mh_sts_fetch_policy(&fp, s->dl, &s->fetch);
    s->fetched = true;
    char err[300];
    s->policy_ok = s->fetch.status == MH_STS_FETCH_OK &&
                   mh_sts_parse_policy(s->fetch.body, s->fetch.len, &s->policy,
                                       err, sizeof err) == 0;
    return NULL;
}

void
mh_stscheck_fetch_start(struct mh_stscheck *s)
{
    if (!s->published) {
        return;
    }
    char err[300];
    if (!mh_curl_global_init_once(err, sizeof err)) {
        s->fetched = true;
        s->fetch.status = MH_STS_FETCH_INTERNAL;
        s->fetch.reason = MH_REASON_INTERNAL_ERROR;
        mh_textf(s->fetch.err, sizeof s->fetch.err, "%s", err);
        return;
    }
    start(s, fetch_thread);
}

bool
mh_stscheck_wants_probes(const struct mh_stscheck *s)
{
    return s->policy_ok && (s->policy.mode == MH_STS_MODE_ENFORCE ||
                            s->policy.mode == MH_STS_MODE_TESTING);
}

void
mh_stscheck_probe_params(const struct mh_config *cfg, struct mh_smtp_params *p,
                         char *ehlo_buf, size_t ehlo_len)
{
    struct mh_config c = *cfg;
    c.host = cfg->domain;
    c.tls_mode = MH_TLS_STARTTLS;
    c.starttls_optional = false;
    c.sni = NULL;
    c.no_sni = false;
    c.verify_name = NULL;
    c.no_verify = false;
    c.auth_user = NULL;
    c.mail_from = NULL;
    c.rcpt_to = (struct mh_strlist){0};
    c.relay_test = NULL;
    mh_smtp_params_from_config(&c, p, ehlo_buf, ehlo_len);
    p->check = "smtp";
    p->check_cert = true;
    p->verify = true;
}

int
mh_stscheck_probes(struct mh_stscheck *s, const struct mh_mxset_host *hosts,
                   size_t nmx)
{
    struct mh_smtp_params base;
    mh_stscheck_probe_params(s->cfg, &base, s->ehlo, sizeof s->ehlo);
    struct mh_config c = *s->cfg;
    c.sni = NULL;
    c.no_sni = false;
    c.verify_name = NULL;
    s->probes = mh_mxset_probes(hosts, nmx, &base, &c, s->dl, &s->nprobes);
    return s->probes != NULL ? 0 : -1;
}

static void *
probes_thread(void *arg)
{
    struct mh_stscheck *s = arg;
    mh_mxset_run(s->probes, s->nprobes);
    return NULL;
}

void
mh_stscheck_run_start(struct mh_stscheck *s)
{
    if (s->probes != NULL && s->nprobes > 0) {
        start(s, probes_thread);
    }
}

/* The memory of the policies seen: the runner's, or --sts-state's file
 * (*own set: load it here, save it after). */
static struct mh_sts_memory *
memory_for(const struct mh_config *cfg, bool *own, struct mh_result *r)
{
    *own = false;
    if (cfg->sts_memory != NULL) {
        return cfg->sts_memory;
    }
    if (cfg->sts_state == NULL) {
        return NULL;
    }
    struct mh_sts_memory *m = mh_sts_memory_new();
    char err[600];
    if (m == NULL) {
        mh_result_mark_oom(r);
        return NULL;
    }
    if (mh_sts_memory_load(m, cfg->sts_state, err, sizeof err) != 0) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
                        "--sts-state: %s", err);
        mh_sts_memory_free(m);
        return NULL;
    }
    *own = true;
    return m;
}

void
mh_stscheck_evaluate(struct mh_stscheck *s, const struct mh_mxset_host *hosts,
                     size_t nmx, bool mx_known,
                     const struct mh_mxset_probe *probes, size_t nprobes,
                     bool required, struct mh_result *r)
{
    struct mh_sts_mx *mx = calloc(nmx > 0 ? nmx : 1, sizeof *mx);
    if (mx == NULL) {
        mh_result_mark_oom(r);
        return;
    }
    bool probed = probes != NULL && mh_stscheck_wants_probes(s);
    for (size_t i = 0; hosts != NULL && i < nmx; i++) {
        mx[i].host = hosts[i].mx->host;
        if (probed && hosts[i].status != MH_RESOLVE_OK) {
            mx[i].state = MH_STATE_CRITICAL;
            mx[i].reason = hosts[i].status == MH_RESOLVE_TIMEOUT
                               ? MH_REASON_DNS_TIMEOUT
                           : hosts[i].status == MH_RESOLVE_NOTFOUND
                               ? MH_REASON_NAME_NOT_FOUND
                               : MH_REASON_DNS_LOOKUP_FAILED;
            mh_textf(mx[i].detail, sizeof mx[i].detail, "%s", hosts[i].err);
        }
    }
    for (size_t k = 0; probed && k < nprobes; k++) {
        if (probes[k].mx_index < nmx) {
            mh_sts_mx_add(&mx[probes[k].mx_index], probes[k].result);
        }
    }
    bool own = false;
    struct mh_sts_memory *memory = memory_for(s->cfg, &own, r);
    struct mh_sts_inputs in = {
        .domain = s->cfg->domain,
        .dns = &s->dns,
        .fetch = s->published ? &s->fetch : NULL,
        .mx_known = mx_known && hosts != NULL,
        .mx = mx,
        .nmx = hosts != NULL ? nmx : 0,
        .mx_probed = probed,
        .memory = memory,
        .now = (double)time(NULL),
        .required = required,
    };
    mh_sts_evaluate(&in, r);
    if (own) {
        char err[600];
        if (mh_sts_memory_save(memory, s->cfg->sts_state, err, sizeof err) !=
            0) {
            mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
                            "--sts-state: %s", err);
        }
        mh_sts_memory_free(memory);
    }
    free(mx);
}

void
mh_stscheck_free(struct mh_stscheck *s)
{
    mh_stscheck_join(s);
    mh_sts_dns_free(&s->dns);
    mh_sts_fetch_free(&s->fetch);
    mh_mxset_probes_free(s->probes, s->nprobes);
    s->probes = NULL;
    s->nprobes = 0;
}
