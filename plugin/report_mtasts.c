/* SPDX-License-Identifier: MIT */
/*
 * report_mtasts: an MTA-STS verdict's report (struct mh_sts_report, filled
 * by probes/mtasts_report.c) as result items, perfdata, samples, state and
 * summary: the one place where MTA-STS and TLS-RPT facts become output
 * (probes/mtasts.h lists them).
 */
#include <stdlib.h>
#include <string.h>

#include "reports.h"

/* An item of a finding. */
static struct mh_item *
finding_item(struct mh_result *r, const char *kind, const char *name,
             const struct mh_sts_finding *f)
{
    return mh_result_add_item(r, kind, name, f->state, f->reason, "%s",
                              f->text);
}

/* The policy's item, samples and perfdata, or its problem. */
static void
render_policy(const struct mh_sts_report *rep, struct mh_result *r)
{
    if (rep->policy_status != MH_STS_POL_VALID) {
        finding_item(r, "mta-sts", "policy", &rep->policy_f);
        return;
    }
    const struct mh_sts_policy *p = &rep->policy;
    const struct mh_sts_fetch *f = rep->in->fetch;
    char pats[600] = "";
    for (size_t i = 0; i < p->nmx; i++) {
        size_t o = strlen(pats);
        mh_textf(pats + o, sizeof pats - o, "%s%s", i > 0 ? ", " : "",
                 p->mx[i]);
    }
    if (p->nmx_seen > p->nmx) {
        size_t o = strlen(pats);
        mh_textf(pats + o, sizeof pats - o, " and %zu more",
                 p->nmx_seen - p->nmx);
    }
    const char *mode = mh_sts_mode_name(p->mode);
    struct mh_item *it = mh_result_add_item(
        r, "mta-sts", "policy", MH_STATE_OK, MH_REASON_NONE,
        "policy %s (%.3f s): mode %s, max_age %lu s (%.1f days), mx %s", f->url,
        f->secs, mode, p->max_age, (double)p->max_age / 86400.0,
        pats[0] != '\0' ? pats : "(none)");
    if (it != NULL) {
        mh_item_set_str(r, it, "mode", mode);
        mh_item_set_num(r, it, "max_age", (double)p->max_age);
        mh_item_set_str(r, it, "id", rep->id);
        mh_item_set_str(r, it, "url", f->url);
    }
    mh_result_add_sample(r, MH_METRIC(MTASTS_POLICY_INFO), 1, "id", rep->id,
                         "mode", mode, (const char *)NULL);
    mh_result_add_sample(r, MH_METRIC(MTASTS_MAX_AGE_SECONDS),
                         (double)p->max_age, (const char *)NULL);
    const double zero = 0;
    mh_result_add_perf(r, "sts_max_age", (double)p->max_age, MH_UNIT_SECONDS,
                       NULL, NULL, &zero, NULL);
}

/* The policy host's certificate report rendered by tlscheck on its own
 * (mh_tls_report_render), or NULL when memory ran out. */
static struct mh_result *
cert_result(const struct mh_sts_fetch *f)
{
    struct mh_tls_check_params cp = {
        .verify = true,
        .verify_name = f->cert_name,
        .sni_sent = true,
        .warn_days = f->cert_warn_days,
        .crit_days = f->cert_crit_days,
    };
    struct mh_result *c = mh_result_new("mta-sts", f->cert_name);
    if (c != NULL) {
        mh_tls_report_render(f->cert, &cp, c);
    }
    return c;
}

/* The policy host's certificate: the items of its tlscheck rendering
 * (renamed "policy depth N"), its earliest days as sts_cert_days, the
 * expiry sample, and the days-left problem. */
static void
render_cert(const struct mh_sts_report *rep, struct mh_result *r)
{
    const struct mh_sts_fetch *f = rep->in->fetch;
    if (f == NULL || f->cert == NULL) {
        return;
    }
    struct mh_result *c = cert_result(f);
    if (c == NULL) {
        mh_result_mark_oom(r);
        return;
    }
    for (size_t i = 0; i < c->nitems; i++) {
        const struct mh_item *src = &c->items[i];
        if (strcmp(src->kind, "cert") != 0 &&
            strcmp(src->kind, "verify") != 0) {
            continue;
        }
        char name[64];
        mh_textf(name, sizeof name, "policy %s", src->name);
        struct mh_item *it = mh_result_add_item(r, src->kind, name, src->state,
                                                src->reason, "%s", src->text);
        for (size_t a = 0; it != NULL && a < src->nattrs; a++) {
            if (src->attrs[a].str != NULL) {
                mh_item_set_str(r, it, src->attrs[a].key, src->attrs[a].str);
            } else {
                mh_item_set_num(r, it, src->attrs[a].key, src->attrs[a].num);
            }
        }
    }
    for (size_t i = 0; i < c->nperf; i++) {
        const struct mh_perf *p = &c->perf[i];
        if (strcmp(p->label, "cert_days_earliest") == 0) {
            mh_result_add_perf(r, "sts_cert_days", p->value, p->unit, p->warn,
                               p->crit, p->has_min ? &p->min : NULL,
                               p->has_max ? &p->max : NULL);
        }
    }
    mh_result_free(c);
    if (f->cert_expiry > 0) {
        mh_result_add_sample(
            r, MH_METRIC(MTASTS_POLICY_CERT_EXPIRY_TIMESTAMP_SECONDS),
            f->cert_expiry, (const char *)NULL);
    }
    if (rep->cert_problem) {
        finding_item(r, "mta-sts", "certificate", &rep->cert_f);
    }
}

/* Every MX host: covered and verified samples, its item; the counts as
 * perfdata. */
static void
render_mx(const struct mh_sts_report *rep, struct mh_result *r)
{
    const struct mh_sts_inputs *in = rep->in;
    if (!rep->mx_checked) {
        return;
    }
    if (rep->mode == MH_STS_MODE_NONE) {
        mh_result_add_item(r, "mta-sts", "mx", MH_STATE_OK, MH_REASON_NONE,
                           "mode none: senders apply no MTA-STS policy; the MX "
                           "hosts are not checked against it");
        return;
    }
    for (size_t i = 0; i < rep->nmx; i++) {
        const struct mh_sts_mx_fact *x = &rep->mx[i];
        const char *host = x->mx->host;
        mh_result_add_sample(r, MH_METRIC(MTASTS_MX_COVERED), x->pattern >= 0,
                             "mx", host, (const char *)NULL);
        if (in->mx_probed) {
            mh_result_add_sample(r, MH_METRIC(MTASTS_MX_VERIFIED), x->verified,
                                 "mx", host, (const char *)NULL);
        }
        struct mh_item *it = finding_item(r, "mx", host, &x->f);
        if (it == NULL) {
            continue;
        }
        mh_item_set_num(r, it, "covered", x->pattern >= 0);
        if (x->pattern >= 0) {
            mh_item_set_str(r, it, "pattern", rep->policy.mx[x->pattern]);
        }
        if (in->mx_probed) {
            mh_item_set_num(r, it, "verified", x->verified);
            mh_item_set_num(r, it, "addresses", (double)x->mx->probed);
        }
    }
    const double zero = 0, total = (double)in->nmx;
    mh_result_add_perf(r, "sts_mx_covered", (double)rep->covered, MH_UNIT_NONE,
                       NULL, NULL, &zero, &total);
    if (in->mx_probed) {
        mh_result_add_perf(r, "sts_mx_verified", (double)rep->verified,
                           MH_UNIT_NONE, NULL, NULL, &zero, &total);
    }
}

/* The TLS-RPT record: its sample (when one exists) and item. */
static void
render_tlsrpt(const struct mh_sts_report *rep, struct mh_result *r)
{
    const char *name = rep->in->dns->tlsrpt.name;
    switch (rep->tlsrpt) {
    case MH_STS_REC_LOOKUP_FAILED:
        finding_item(r, "tls-rpt", "record", &rep->tlsrpt_f);
        return;
    case MH_STS_REC_MISSING:
        mh_result_add_item(r, "tls-rpt", "record", MH_STATE_OK, MH_REASON_NONE,
                           "no TLS-RPT record at %s: senders send no TLS "
                           "failure reports (RFC 8460)",
                           name);
        return;
    case MH_STS_REC_VALID:
        mh_result_add_sample(r, MH_METRIC(MTASTS_TLSRPT_VALID), 1,
                             (const char *)NULL);
        mh_result_add_item(r, "tls-rpt", "record", MH_STATE_OK, MH_REASON_NONE,
                           "TLS-RPT record at %s valid: %zu report URI%s", name,
                           rep->nrua, rep->nrua == 1 ? "" : "s");
        return;
    case MH_STS_REC_MULTIPLE:
    case MH_STS_REC_INVALID:
        mh_result_add_sample(r, MH_METRIC(MTASTS_TLSRPT_VALID), 0,
                             (const char *)NULL);
        finding_item(r, "tls-rpt", "record", &rep->tlsrpt_f);
        return;
    }
}

/* The failure, then for the mta-sts command the OK summary of a valid
 * policy when nothing is wrong. */
static void
render_verdict(const struct mh_sts_report *rep, struct mh_result *r)
{
    const struct mh_sts_inputs *in = rep->in;
    const struct mh_sts_failure *f = &rep->failure;
    if (f->state != MH_STATE_OK) {
        /* The summary's prefix: the domain for the mta-sts command; none
         * in domain, whose own summary names the domain. */
        mh_result_raise(r, f->state, f->reason, "%s%s%s",
                        in->required ? in->domain : "",
                        in->required ? ": " : "", f->cause);
    }
    if (!in->required || r->state != MH_STATE_OK ||
        rep->policy_status != MH_STS_POL_VALID) {
        return;
    }
    if (rep->mode == MH_STS_MODE_NONE) {
        mh_result_set_summary(r,
                              "%s: MTA-STS mode none (id %s): the domain "
                              "withdraws its policy, senders enforce nothing",
                              in->domain, rep->id);
    } else {
        mh_result_set_summary(
            r,
            "%s: MTA-STS %s policy (id %s, max_age %lu s) valid, %zu/%zu MX "
            "covered, %zu/%zu with a verified certificate",
            in->domain, mh_sts_mode_name(rep->mode), rep->id,
            rep->policy.max_age, rep->covered, in->nmx, rep->verified, in->nmx);
    }
}

void
mh_sts_report_render(const struct mh_sts_report *rep, struct mh_result *r)
{
    if (rep->record == MH_STS_REC_VALID) {
        mh_result_add_item(r, "mta-sts", "record", MH_STATE_OK, MH_REASON_NONE,
                           "MTA-STS record at %s: id %s",
                           rep->in->dns->sts_name, rep->id);
    } else {
        finding_item(r, "mta-sts", "record", &rep->record_f);
    }
    if (rep->policy_status != MH_STS_POL_NOT_CHECKED) {
        render_policy(rep, r);
        render_cert(rep, r);
        if (rep->id_unchanged) {
            finding_item(r, "mta-sts", "id", &rep->id_f);
        }
        render_mx(rep, r);
    }
    render_tlsrpt(rep, r);
    render_verdict(rep, r);
}

void
mh_sts_evaluate(const struct mh_sts_inputs *in, struct mh_result *r)
{
    struct mh_sts_report *rep = mh_sts_report_check(in);
    if (rep == NULL) {
        mh_result_mark_oom(r);
        return;
    }
    mh_sts_report_render(rep, r);
    free(rep);
}
