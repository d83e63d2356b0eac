/* SPDX-License-Identifier: MIT */
/*
 * cmd_domain: the domain subcommand. Looks up the MX hosts of the domain
 * (RFC 5321 5.1; null MX per RFC 7505), resolves every MX host, and probes
 * every address concurrently with the SMTP probe (and its certificate checks
 * with --cert-days). When the domain publishes an MTA-STS policy, it is
 * checked as the mta-sts command does (stscheck.h), its problems graded
 * by the policy's mode. Each address is a child result on its own long-output
 * line with its own category; the overall state is the worst child's and
 * the summary says how many MX hosts are healthy (a host is healthy when
 * every one of its addresses is OK).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "../probes/dane.h"
#include "../probes/mx.h"
#include "../probes/resolve.h"
#include "../probes/textutil.h"
#include "checks.h"
#include "common.h"
#include "mxset.h"
#include "params.h"
#include "reports.h"
#include "stscheck.h"

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

/* The state of one domain check: the MX hosts, their addresses, the SMTP
 * probe of each address and the MTA-STS part. */
struct domain_run {
    const struct mh_config *cfg;
    const struct mh_deadline *dl;
    struct mh_result *r;
    struct mh_mx *mx;
    size_t nmx;
    struct mh_mxset_host *hosts; /* one per MX host */
    struct mh_mxset_probe *pj;   /* one per address probed */
    size_t njobs;
    struct mh_smtp_params base;
    char ehlo[256];
    char *password;
    struct mh_stscheck sts;
    bool sts_own_probes; /* the MTA-STS part probes the MX hosts itself */
    struct mh_dane_lookup mxsec; /* --dane: the MX RRset's DNSSEC state */
};

/* --dane: the MX RRset's DNSSEC state (dane.h), beside the resolution of
 * the MX hosts. */
static void *
mx_dnssec_thread(void *arg)
{
    struct domain_run *d = arg;
    mh_dane_mx_lookup(&d->mxsec, d->cfg->domain, d->cfg->resolver,
                      d->cfg->dnssec_probe, d->dl, (double)time(NULL));
    return NULL;
}

/* 1. Resolves every MX host at once (and fetches the MTA-STS policy
 * meanwhile when the domain publishes one). */
static int
resolve_mx_hosts(struct domain_run *d)
{
    mh_stscheck_fetch_start(&d->sts);
    pthread_t th;
    bool started = false;
    if (d->cfg->dane) {
        started = pthread_create(&th, NULL, mx_dnssec_thread, d) == 0;
        if (!started) {
            mx_dnssec_thread(d);
        }
    }
    d->hosts = mh_mxset_resolve(d->mx, d->nmx, d->cfg, d->dl);
    if (started) {
        pthread_join(th, NULL);
    }
    mh_stscheck_join(&d->sts);
    if (d->hosts == NULL) {
        mh_result_mark_oom(d->r);
        return -1;
    }
    return 0;
}

/* True when the probes of the command line already check every MX
 * certificate as MTA-STS does: STARTTLS required, the chain and the MX
 * name verified (no --sni, --verify-name or --no-verify). */
static bool
probes_verify_as_sts(const struct domain_run *d)
{
    const struct mh_config *c = d->cfg;
    return d->base.tls_mode == MH_TLS_STARTTLS && !c->starttls_optional &&
           d->base.check_cert && d->base.verify && c->sni == NULL &&
           !c->no_sni && c->verify_name == NULL;
}

/* 2. One SMTP probe job per address of every MX host, sharing the
 * parameters of the command line; the MTA-STS probes when its policy's
 * mode needs the certificates and ours do not verify them. */
static int
prepare_probes(struct domain_run *d)
{
    const struct mh_config *cfg = d->cfg;
    struct mh_config c2 = *cfg;
    c2.host = cfg->domain;
    mh_smtp_params_from_config(&c2, &d->base, d->ehlo, sizeof d->ehlo);
    d->pj = mh_mxset_probes(d->hosts, d->nmx, &d->base, cfg, d->dl, &d->njobs);
    if (d->pj == NULL) {
        mh_result_mark_oom(d->r);
        return -1;
    }
    if (mh_stscheck_wants_probes(&d->sts) && !probes_verify_as_sts(d)) {
        if (mh_stscheck_probes(&d->sts, d->hosts, d->nmx) != 0) {
            mh_result_mark_oom(d->r);
            return -1;
        }
        d->sts_own_probes = true;
    }
    if (cfg->auth_user != NULL) {
        char err[512];
        d->password = mh_read_secret(cfg->auth_password_file,
                                     cfg->auth_password_env, err, sizeof err);
        if (d->password == NULL) {
            mh_result_raise(d->r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "%s",
                            err);
            return -1;
        }
        for (size_t k = 0; k < d->njobs; k++) {
            d->pj[k].params.auth_password = d->password;
        }
    }
    return 0;
}

/* 3. Runs the SMTP probes, and beside them the DNSBL check of every MX
 * address (--zone/--zones-file), which writes into the domain result. */
static int
run_probes(struct domain_run *d)
{
    const struct mh_config *cfg = d->cfg;
    mh_stscheck_run_start(&d->sts);
    if (cfg->zones.n == 0 && cfg->zones_file == NULL) {
        mh_mxset_run(d->pj, d->njobs);
        mh_stscheck_join(&d->sts);
        return 0;
    }
    struct mh_dnsbl_zones zones = {0};
    char err[512];
    if (mh_dnsbl_zones_from_config(cfg, &zones, err, sizeof err) != 0) {
        mh_result_raise(d->r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "%s",
                        err);
        return -1;
    }
    const char **addr_list =
        calloc(d->njobs > 0 ? d->njobs : 1, sizeof *addr_list);
    if (addr_list == NULL) {
        mh_result_mark_oom(d->r);
        mh_dnsbl_zones_free(&zones);
        return -1;
    }
    for (size_t k = 0; k < d->njobs; k++) {
        addr_list[k] = d->pj[k].params.host;
    }
    struct dnsbl_job dj;
    memset(&dj, 0, sizeof dj);
    mh_dnsbl_params_from_config(cfg, &zones, &dj.params);
    dj.params.perf_prefix = "dnsbl_";
    dj.addrs = addr_list;
    dj.naddrs = d->njobs;
    dj.domain = cfg->domain;
    dj.dl = d->dl;
    dj.r = d->r;
    pthread_t dth;
    bool started = pthread_create(&dth, NULL, dnsbl_thread, &dj) == 0;
    if (!started) {
        dnsbl_thread(&dj);
    }
    mh_mxset_run(d->pj, d->njobs);
    if (started) {
        pthread_join(dth, NULL);
    }
    mh_stscheck_join(&d->sts);
    mh_dnsbl_zones_free(&zones);
    free(addr_list);
    return 0;
}

/* Adds child c to the domain result and keeps the worst child. */
static void
add_child(struct domain_run *d, struct mh_result *c,
          const struct mh_result **worst_child)
{
    enum mh_state st = c->state;
    if (mh_result_add_child(d->r, c) == 0 &&
        (*worst_child == NULL ||
         mh_state_rank(st) > mh_state_rank((*worst_child)->state)) &&
        st != MH_STATE_OK) {
        *worst_child = c;
    }
}

/* 4. The children in MX order; returns the number of healthy MX hosts
 * (every address OK) and the worst child (NULL when all are OK). */
static size_t
collect_children(struct domain_run *d, const struct mh_result **worst_child)
{
    size_t healthy = 0, child = 0;
    *worst_child = NULL;
    for (size_t i = 0; i < d->nmx; i++) {
        if (d->hosts[i].status != MH_RESOLVE_OK) {
            struct mh_result *c =
                mh_mxset_unresolved(&d->hosts[i], d->base.port);
            if (c == NULL) {
                mh_result_mark_oom(d->r);
            } else {
                add_child(d, c, worst_child);
            }
            continue;
        }
        bool host_ok = true;
        for (size_t k = 0; k < d->njobs; k++) {
            if (d->pj[k].mx_index != i) {
                continue;
            }
            struct mh_result *c = d->pj[k].result;
            d->pj[k].result = NULL;
            if (c == NULL) {
                mh_result_mark_oom(d->r);
                host_ok = false;
                continue;
            }
            mh_result_finish(c);
            char prefix[32];
            mh_textf(prefix, sizeof prefix, "mx%zu_", child++);
            mh_result_prefix_perf(c, prefix);
            host_ok = host_ok && c->state == MH_STATE_OK;
            add_child(d, c, worst_child);
        }
        if (host_ok) {
            healthy++;
        }
    }
    return healthy;
}

/* 5. The verdict: the worst MX child or the DNSBL finding, whichever is
 * worse, with the count of healthy MX hosts; else the healthy summary. */
static void
verdict(struct domain_run *d, enum mh_state dnsbl_state,
        enum mh_reason dnsbl_reason, const char *dnsbl_summary)
{
    const char *domain = d->cfg->domain;
    const struct mh_result *worst_child;
    size_t healthy = collect_children(d, &worst_child);
    if (worst_child != NULL &&
        mh_state_rank(worst_child->state) >= mh_state_rank(dnsbl_state)) {
        mh_result_override(
            d->r, worst_child->state, worst_child->reason,
            "%s: %zu/%zu MX hosts healthy; %s", domain, healthy, d->nmx,
            worst_child->summary != NULL ? worst_child->summary : "");
    } else if (dnsbl_state != MH_STATE_OK) {
        mh_result_override(d->r, dnsbl_state, dnsbl_reason,
                           "%s: %zu/%zu MX hosts healthy; %s", domain, healthy,
                           d->nmx, dnsbl_summary);
    } else {
        char names[600] = "";
        for (size_t i = 0; i < d->nmx; i++) {
            size_t o = strlen(names);
            mh_textf(names + o, sizeof names - o, "%s%s", i > 0 ? ", " : "",
                     d->mx[i].host);
        }
        mh_result_set_summary(d->r, "%s: %zu/%zu MX hosts healthy (%s)", domain,
                              healthy, d->nmx, names);
    }
    const double zero = 0;
    const double total = (double)d->nmx;
    mh_result_add_perf(d->r, "mx_hosts", (double)d->nmx, MH_UNIT_NONE, NULL,
                       NULL, &zero, NULL);
    mh_result_add_perf(d->r, "mx_healthy", (double)healthy, MH_UNIT_NONE, NULL,
                       NULL, &zero, &total);
}

/*
 * --dane: senders apply DANE only to MX hosts named by a DNSSEC-signed MX
 * RRset (RFC 7672 2.2.1). A signed RRset reports the expiry of its RRSIGs
 * (--rrsig-days); an unsigned one warns when some MX host publishes
 * signed TLSA records (they are then of no use); a SERVFAIL is CRITICAL
 * dnssec_invalid. A resolver that does not validate is reported by the
 * TLSA checks of the hosts.
 */
static void
dane_mx_report(struct domain_run *d)
{
    const struct mh_config *cfg = d->cfg;
    const struct mh_dane_lookup *lk = &d->mxsec;
    if (!cfg->dane || d->hosts == NULL) {
        return;
    }
    size_t with_tlsa = 0;
    for (size_t i = 0; i < d->nmx; i++) {
        with_tlsa += d->hosts[i].tlsa.status == MH_DANE_DNS_SECURE &&
                     d->hosts[i].tlsa.nrecs > 0;
    }
    const char *dom = cfg->domain;
    if (lk->status == MH_DANE_DNS_SERVFAIL) {
        mh_result_add_item(d->r, "dane", "mx", MH_STATE_CRITICAL,
                           MH_REASON_DNSSEC_INVALID,
                           "MX lookup of %s with DNSSEC: SERVFAIL", dom);
        mh_result_raise(d->r, MH_STATE_CRITICAL, MH_REASON_DNSSEC_INVALID,
                        "the MX RRset of %s fails DNSSEC validation "
                        "(SERVFAIL)",
                        dom);
    } else if (lk->status == MH_DANE_DNS_INSECURE) {
        enum mh_state st = with_tlsa > 0 ? MH_STATE_WARNING : MH_STATE_OK;
        enum mh_reason why =
            with_tlsa > 0 ? MH_REASON_DANE_NOT_IN_EFFECT : MH_REASON_NONE;
        mh_result_add_item(d->r, "dane", "mx", st, why,
                           "the MX RRset of %s is not DNSSEC-signed: senders "
                           "do not apply DANE to its MX hosts (RFC 7672 "
                           "2.2.1)",
                           dom);
        if (with_tlsa > 0) {
            mh_result_raise(d->r, st, why,
                            "%zu MX host(s) publish TLSA records but the MX "
                            "RRset of %s is not DNSSEC-signed: DANE not in "
                            "effect",
                            with_tlsa, dom);
        }
    } else if (lk->status == MH_DANE_DNS_SECURE) {
        mh_result_add_item(d->r, "dane", "mx", MH_STATE_OK, MH_REASON_NONE,
                           "the MX RRset of %s is DNSSEC-signed; %zu of %zu "
                           "MX hosts publish signed TLSA records",
                           dom, with_tlsa, d->nmx);
        mh_dane_rrsig_report(lk, cfg->rrsig_days.warn, cfg->rrsig_days.crit,
                             (double)time(NULL), dom, d->r);
    } else {
        mh_result_add_item(d->r, "dane", "mx", MH_STATE_OK, MH_REASON_NONE,
                           "DNSSEC state of the MX RRset of %s unknown: %s",
                           dom, lk->err);
    }
}

static void
domain_run_free(struct domain_run *d)
{
    mh_secret_free(d->password);
    mh_mxset_probes_free(d->pj, d->njobs);
    mh_mxset_hosts_free(d->hosts, d->nmx);
    mh_stscheck_free(&d->sts);
    mh_dane_lookup_free(&d->mxsec);
    free(d->mx);
}

struct mh_result *
mh_cmd_domain(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    struct domain_run d = {.cfg = cfg, .dl = dl};
    d.r = mh_result_new("domain", cfg->domain);
    if (d.r == NULL) {
        return NULL;
    }
    char err[512];
    /* The MTA-STS and TLS-RPT records are looked up beside the MX. */
    mh_stscheck_start(&d.sts, cfg, dl);
    enum mh_mx_status ms = mh_mx_lookup(cfg->domain, cfg->resolver, dl, &d.mx,
                                        &d.nmx, err, sizeof err);
    mh_stscheck_join(&d.sts);
    if (ms != MH_MX_OK && ms != MH_MX_IMPLICIT) {
        mh_stscheck_free(&d.sts);
        mh_result_raise(d.r, MH_STATE_CRITICAL,
                        ms == MH_MX_TIMEOUT    ? MH_REASON_DNS_TIMEOUT
                        : ms == MH_MX_NULL     ? MH_REASON_NULL_MX
                        : ms == MH_MX_NXDOMAIN ? MH_REASON_NAME_NOT_FOUND
                                               : MH_REASON_DNS_LOOKUP_FAILED,
                        "%s", err);
        mh_result_set_duration(d.r, mh_deadline_elapsed(dl));
        return d.r;
    }
    if (d.nmx > MH_MXSET_MAX_MX) {
        mh_result_add_item(d.r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                           "%zu MX hosts, only the first %d are checked", d.nmx,
                           MH_MXSET_MAX_MX);
        d.nmx = MH_MXSET_MAX_MX;
    }
    if (ms == MH_MX_IMPLICIT) {
        mh_result_add_item(d.r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                           "%s has no MX records: its own address is the "
                           "mail exchanger (RFC 5321 5.1)",
                           cfg->domain);
    }
    if (resolve_mx_hosts(&d) == 0 && prepare_probes(&d) == 0 &&
        run_probes(&d) == 0) {
        /* MTA-STS: the policy against the MX hosts, graded by its mode;
         * no policy is only a note. */
        mh_stscheck_evaluate(&d.sts, d.hosts, d.nmx, true,
                             d.sts_own_probes ? d.sts.probes : d.pj,
                             d.sts_own_probes ? d.sts.nprobes : d.njobs, false,
                             d.r);
        dane_mx_report(&d);
        /* What the DNSBL and MTA-STS checks found, before the MX verdict
         * is merged. */
        char dnsbl_summary[700] = "";
        if (d.r->summary != NULL) {
            mh_textf(dnsbl_summary, sizeof dnsbl_summary, "%s", d.r->summary);
        }
        verdict(&d, d.r->state, d.r->reason, dnsbl_summary);
    }
    domain_run_free(&d);
    mh_result_set_duration(d.r, mh_deadline_elapsed(dl));
    const double zero = 0;
    mh_result_add_perf(d.r, "time", d.r->duration_s, MH_UNIT_SECONDS, NULL,
                       NULL, &zero, NULL);
    mh_apply_thresholds(cfg, d.r, "time", d.r->duration_s,
                        MH_REASON_SLOW_RESPONSE, "slow response");
    return d.r;
}
