/* SPDX-License-Identifier: MIT */
/*
 * report_dnsbl: turns a judged DNSBL report (struct mh_dnsbl_report,
 * probes/dnsbl.h; the verdicts from probes/dnsbl_verdicts.c) into the
 * result: one item per (subject, zone) pair, notes for host names and
 * zones, perfdata, Prometheus samples, and the failure record as state and
 * summary. The only place the DNSBL check writes its result; it decides
 * nothing.
 */
#include "reports.h"

#include <stdio.h>
#include <string.h>

static const char *
status_name(enum mh_dnsbl_verdict v)
{
    switch (v) {
    case MH_DNSBL_V_NOT_LISTED:
        return "not_listed";
    case MH_DNSBL_V_LISTED:
        return "listed";
    case MH_DNSBL_V_NOT_APPLICABLE:
        return "not_applicable";
    case MH_DNSBL_V_SKIPPED:
        return "not_asked";
    case MH_DNSBL_V_ERROR_CODE:
    case MH_DNSBL_V_OUTSIDE:
    case MH_DNSBL_V_LISTS_EVERYTHING:
    case MH_DNSBL_V_NOT_WORKING:
    case MH_DNSBL_V_FAILED:
    case MH_DNSBL_V_TIMEOUT:
        break;
    }
    return "error";
}

static void
add_perf(struct mh_result *r, const struct mh_dnsbl_params *p,
         const char *label, double value, enum mh_unit unit, const char *warn,
         const char *crit, const double *max)
{
    char l[128];
    snprintf(l, sizeof l, "%s%s", p->perf_prefix != NULL ? p->perf_prefix : "",
             label);
    const double zero = 0;
    mh_result_add_perf(r, l, value, unit, warn, crit, &zero, max);
}

/*
 * Zone health, apart from the verdicts: one item of kind "health" (JSON
 * array "zone_health") and one sample mailhealth_dnsbl_zone_up{zone} per
 * zone whose health this rep learnt: 0 when the zone lists its negative
 * test entry, fails its positive one (zone_unhealthy) or refused a query
 * with an error code; 1 when a positive test entry was listed. Zones
 * whose test entries were not asked or not answered get neither.
 */
static void
zone_health(const struct mh_dnsbl_report *rep, struct mh_result *r)
{
    for (size_t zi = 0; zi < rep->nz; zi++) {
        const struct mh_dnsbl_zone_report *zr = &rep->zones[zi];
        bool pos_ok = false, neg_listed = false;
        const char *entry = NULL;
        for (int f = 0; f < MH_DNSBL_FORM_COUNT; f++) {
            for (size_t i = 0; i < zr->h[f].npos; i++) {
                if (zr->h[f].pos[i].kind == MH_DNSBL_K_LISTED && !pos_ok) {
                    pos_ok = true;
                    entry = mh_dnsbl_test_entry(zr->z, f, true);
                }
            }
            for (size_t i = 0; i < zr->h[f].nneg; i++) {
                if (zr->h[f].neg[i].kind == MH_DNSBL_K_LISTED) {
                    neg_listed = true;
                    entry = mh_dnsbl_test_entry(zr->z, f, false);
                }
            }
        }
        bool down =
            neg_listed || (rep->zones[zi].flags &
                           (MH_DNSBL_ZF_UNHEALTHY | MH_DNSBL_ZF_REFUSED)) != 0;
        if (!down && !pos_ok) {
            continue;
        }
        if (down && !neg_listed) {
            entry = NULL;
        }
        const char *why = neg_listed ? "lists its negative test entry"
                          : (rep->zones[zi].flags & MH_DNSBL_ZF_REFUSED) != 0
                              ? "refused a query (error code)"
                              : "fails its test entries";
        struct mh_item *it;
        if (down) {
            it = mh_result_add_item(
                r, "health", zr->z->name, MH_STATE_WARNING,
                (rep->zones[zi].flags & MH_DNSBL_ZF_REFUSED) != 0 && !neg_listed
                    ? MH_REASON_ZONE_REFUSED
                    : MH_REASON_ZONE_UNHEALTHY,
                "zone down: %s%s%s%s", why, entry != NULL ? " (" : "",
                entry != NULL ? entry : "", entry != NULL ? ")" : "");
        } else {
            it = mh_result_add_item(r, "health", zr->z->name, MH_STATE_OK,
                                    MH_REASON_NONE,
                                    "zone up: test entry %s listed", entry);
        }
        mh_item_set_str(r, it, "zone", zr->z->name);
        mh_item_set_str(r, it, "status", down ? "down" : "up");
        mh_result_add_sample(r, MH_METRIC(DNSBL_ZONE_UP), down ? 0 : 1, "zone",
                             zr->z->name, NULL);
    }
}

/* Tags an item of zone z's aggregate: the zone, the pairs' status and
 * how many they are. */
static void
tag_count(struct mh_result *r, struct mh_item *it,
          const struct mh_dnsbl_zone *z, const char *status, size_t count)
{
    mh_item_set_str(r, it, "zone", z->name);
    mh_item_set_str(r, it, "status", status);
    mh_item_set_num(r, it, "count", (double)count);
}

/* The lines of zone zi's aggregate, and its error count metric. */
static void
agg_items(const struct mh_dnsbl_report *rep, size_t zi, struct mh_result *r)
{
    const struct mh_dnsbl_zone *z = rep->zones[zi].z;
    const struct mh_dnsbl_zone_agg *a = &rep->zones[zi].agg;
    char n1[32], n2[32], text[900];
    mh_dnsbl_fmt_count(a->total, n2, sizeof n2);
    if (a->clean > 0 || a->total == 0) {
        struct mh_item *it =
            mh_result_add_item(r, "zone", z->name, MH_STATE_OK, MH_REASON_NONE,
                               "not listed: %s of %s",
                               mh_dnsbl_fmt_count(a->clean, n1, sizeof n1), n2);
        tag_count(r, it, z, "not_listed", a->clean);
    }
    if (a->na > 0) {
        mh_dnsbl_pair_text(rep, zi, a->first_na, MH_DNSBL_WORD_ITEM, text,
                           sizeof text);
        struct mh_item *it = mh_result_add_item(
            r, "zone", z->name, MH_STATE_OK, MH_REASON_NONE,
            "not applicable: %s of %s, e.g. %s",
            mh_dnsbl_fmt_count(a->na, n1, sizeof n1), n2, text);
        tag_count(r, it, z, "not_applicable", a->na);
    }
    if (a->failed > 0) {
        mh_dnsbl_pair_text(rep, zi, a->first_failed, MH_DNSBL_WORD_ITEM, text,
                           sizeof text);
        struct mh_item *it = mh_result_add_item(
            r, "zone", z->name, a->state, a->reason,
            "no usable answer: %s of %s, e.g. %s",
            mh_dnsbl_fmt_count(a->failed, n1, sizeof n1), n2, text);
        tag_count(r, it, z, "error", a->failed);
        mh_item_set_str(r, it, "error", text);
    }
    mh_result_add_sample(r, MH_METRIC(DNSBL_ZONE_ERRORS), (double)a->failed,
                         "zone", z->name, NULL);
}

/* Zone zi: one item per host name that gave no address. */
static void
host_fail_items(const struct mh_dnsbl_report *rep, size_t zi,
                struct mh_result *r)
{
    const struct mh_dnsbl_zone *z = rep->zones[zi].z;
    for (size_t h = 0; h < rep->nhosts; h++) {
        const struct mh_dnsbl_host_report *hq = &rep->hosts[h];
        if (!hq->failed || !mh_dnsbl_zone_is_ip(z)) {
            continue;
        }
        struct mh_item *it =
            mh_result_add_item(r, "zone", z->name, MH_STATE_UNKNOWN, hq->reason,
                               "not queried: %s", hq->why);
        mh_item_set_str(r, it, "zone", z->name);
        mh_item_set_str(r, it, "address", hq->name);
        mh_item_set_str(r, it, "status", "error");
        mh_item_set_str(r, it, "error", hq->why);
    }
}

/* Zone zi: a zone that applies to no subject gets one "not queried" item
 * saying why. Returns true when that is all it gets. */
static bool
zone_skipped(const struct mh_dnsbl_report *rep, size_t zi, struct mh_result *r)
{
    const struct mh_dnsbl_zone *z = rep->zones[zi].z;
    bool any_pair = false;
    for (size_t si = 0; si < rep->nsubj; si++) {
        any_pair = any_pair || rep->subj[si]->pairs[zi].applicable;
    }
    if (any_pair || (rep->zones[zi].flags & MH_DNSBL_ZF_HOSTFAIL) != 0) {
        return false;
    }
    const char *why;
    if (z->type == MH_DNSBL_ZONE_DOMAIN) {
        why = "domain list, and the target is an address";
    } else if (z->type == MH_DNSBL_ZONE_IP4) {
        why = "lists IPv4 addresses only";
    } else if (z->type == MH_DNSBL_ZONE_IP6) {
        why = "lists IPv6 addresses only";
    } else {
        why = "lists IP addresses, not domains";
    }
    for (size_t h = 0; h < rep->nhosts; h++) {
        if (rep->hosts[h].noaddr && mh_dnsbl_zone_is_ip(z)) {
            why = rep->hosts[h].why;
        }
    }
    struct mh_item *it =
        mh_result_add_item(r, "zone", z->name, MH_STATE_OK, MH_REASON_NONE,
                           "not queried: %s", why);
    mh_item_set_str(r, it, "zone", z->name);
    mh_item_set_str(r, it, "status", "skipped");
    return true;
}

/* The item of subject si on zone zi and its samples (with many targets
 * the listed one only). */
static void
pair_item(const struct mh_dnsbl_report *rep, size_t zi, size_t si,
          struct mh_result *r)
{
    const struct mh_dnsbl_zone *z = rep->zones[zi].z;
    const struct mh_dnsbl_subject *s = rep->subj[si];
    const struct mh_dnsbl_pair *pr = &s->pairs[zi];
    const struct mh_dnsbl_pair_verdict *pv = mh_dnsbl_verdict_of(rep, zi, si);
    enum mh_dnsbl_verdict v = (enum mh_dnsbl_verdict)pv->v;
    struct mh_dnsbl_answer tmp;
    const struct mh_dnsbl_answer *ans = mh_dnsbl_pair_answer(pr, &tmp);
    bool is_error = mh_dnsbl_verdict_is_error(v);
    char text[900], codes[200];
    mh_dnsbl_pair_text(rep, zi, si, MH_DNSBL_WORD_ITEM, text, sizeof text);
    mh_dnsbl_codes_text(ans, codes, sizeof codes);
    struct mh_item *it =
        mh_result_add_item(r, "zone", z->name, (enum mh_state)pv->state,
                           (enum mh_reason)pv->reason, "%s", text);
    mh_item_set_str(r, it, "zone", z->name);
    mh_item_set_str(r, it, "address", s->text);
    char qname[2 * MH_DNSBL_NAME_MAX];
    mh_dnsbl_shown_qname(z, s->prefix, qname, sizeof qname);
    mh_item_set_str(r, it, "query", qname);
    mh_item_set_str(r, it, "status", status_name(v));
    if (v == MH_DNSBL_V_LISTED) {
        mh_item_set_str(r, it, "kind", mh_dnsbl_list_kind_name(ans->list_kind));
    }
    if (codes[0] != '\0') {
        mh_item_set_str(r, it, "codes", codes);
    }
    if (ans->meaning[0] != '\0') {
        mh_item_set_str(r, it, "meaning", ans->meaning);
    }
    if (pr->txt != NULL && pr->txt[0] != '\0') {
        mh_item_set_str(r, it, "reason", pr->txt);
    }
    if (is_error) {
        mh_dnsbl_pair_text(rep, zi, si,
                           rep->many ? MH_DNSBL_WORD_ZONE_SUBJECT
                                     : MH_DNSBL_WORD_ZONE,
                           text, sizeof text);
        mh_item_set_str(r, it, "error", text);
    }
    if (v == MH_DNSBL_V_NOT_APPLICABLE) {
        return;
    }
    bool listed = (pv->flag & MH_DNSBL_ZF_LISTED) != 0;
    if (rep->agg) {
        if (listed) {
            mh_result_add_sample(r, MH_METRIC(DNSBL_LISTED), 1, "address",
                                 s->text, "zone", z->name, NULL);
        }
        return;
    }
    mh_result_add_sample(r, MH_METRIC(DNSBL_LISTED), listed ? 1 : 0, "address",
                         s->text, "zone", z->name, NULL);
    mh_result_add_sample(r, MH_METRIC(DNSBL_ERROR), is_error ? 1 : 0, "address",
                         s->text, "zone", z->name, NULL);
}

/* Zone zi in the configured order: its items and samples, its subjects
 * sorted (with many targets, the listings and the aggregate's lines). */
static void
zone_items(const struct mh_dnsbl_report *rep, size_t zi, struct mh_result *r)
{
    host_fail_items(rep, zi, r);
    if (zone_skipped(rep, zi, r)) {
        return;
    }
    for (size_t si = 0; si < rep->nsubj; si++) {
        if (!rep->subj[si]->pairs[zi].applicable) {
            continue;
        }
        if (!rep->agg ||
            mh_dnsbl_verdict_of(rep, zi, si)->v == MH_DNSBL_V_LISTED) {
            pair_item(rep, zi, si, r);
        }
    }
    if (rep->agg) {
        agg_items(rep, zi, r);
    }
}

/* Zone health, notes on what was not checked, perfdata and the totals'
 * samples. */
static void
notes_perf(const struct mh_dnsbl_report *rep, struct mh_result *r)
{
    const struct mh_dnsbl_params *p = rep->p;
    zone_health(rep, r);
    size_t dropped = rep->addrs_dropped;
    for (size_t h = 0; h < rep->nhosts; h++) {
        dropped += rep->hosts[h].dropped;
    }
    if (dropped > 0) {
        mh_result_add_item(r, "note", "addresses", MH_STATE_OK, MH_REASON_NONE,
                           "%zu more addresses not checked (at most %d per "
                           "host name)",
                           dropped, MH_DNSBL_MAX_ADDRS);
    }
    for (size_t h = 0; h < rep->nhosts; h++) {
        if (rep->hosts[h].noaddr && !rep->hosts[h].failed) {
            mh_result_add_item(r, "note", rep->hosts[h].name, MH_STATE_OK,
                               MH_REASON_NONE, "%s: checked as a domain only",
                               rep->hosts[h].why);
        }
    }
    const double max = (double)rep->zones_queried;
    add_perf(r, p, "listed", (double)rep->zones_listing, MH_UNIT_NONE,
             p->perf_warn, p->perf_crit, &max);
    add_perf(r, p, "errors", (double)(rep->zones_failed + rep->zones_warning),
             MH_UNIT_NONE, NULL, NULL, &max);
    if (rep->agg) {
        const double nmax = (double)rep->nsubj;
        add_perf(r, p, "listed_addresses", (double)rep->nlisted_subj,
                 MH_UNIT_NONE, NULL, NULL, &nmax);
    }
    add_perf(r, p, "time", rep->elapsed_s, MH_UNIT_SECONDS, NULL, NULL, NULL);
    mh_result_add_sample(r, MH_METRIC(DNSBL_LISTED_ZONES),
                         (double)rep->zones_listing, NULL);
    mh_result_add_sample(r, MH_METRIC(DNSBL_LISTED_ADDRESSES),
                         (double)rep->nlisted_subj, NULL);
}

void
mh_dnsbl_render(const struct mh_dnsbl_report *rep, struct mh_result *r)
{
    for (size_t zi = 0; zi < rep->nz; zi++) {
        zone_items(rep, zi, r);
    }
    notes_perf(rep, r);
    mh_result_raise(r, rep->failure.state, rep->failure.reason, "%s",
                    rep->failure.cause);
}

/* A DNSBL run's report into r: the invalid addresses and domain it was
 * given, then the judged report, or the failure that kept it from
 * running. */
static void
run_into(const struct mh_dnsbl_report *rep, struct mh_result *r)
{
    for (size_t i = 0; i < rep->nbad_addresses; i++) {
        mh_result_add_item(r, "note", rep->bad_addresses[i], MH_STATE_UNKNOWN,
                           MH_REASON_USAGE_ERROR,
                           "not an IP address: not checked");
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
                        "invalid address '%.80s'", rep->bad_addresses[i]);
    }
    if (rep->bad_domain != NULL) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
                        "invalid domain '%.80s'", rep->bad_domain);
    }
    if (rep->oom) {
        mh_result_mark_oom(r);
    }
    if (rep->judged) {
        mh_dnsbl_render(rep, r);
    } else if (rep->failure.state != MH_STATE_OK) {
        mh_result_raise(r, rep->failure.state, rep->failure.reason, "%s",
                        rep->failure.cause);
    }
}

struct mh_result *
mh_dnsbl_result(const struct mh_dnsbl_params *p, struct mh_dnsbl_report *rep)
{
    const char *first = p->targets != NULL && p->ntargets > 0 ? p->targets[0]
                        : p->target != NULL                   ? p->target
                                                              : "";
    struct mh_result *r = mh_result_new("dnsbl", first);
    if (r == NULL || rep == NULL) {
        mh_dnsbl_report_free(rep);
        if (r != NULL) {
            mh_result_mark_oom(r);
        }
        return r;
    }
    run_into(rep, r);
    if (rep->duration_s >= 0) {
        mh_result_set_duration(r, rep->duration_s);
    }
    mh_dnsbl_report_free(rep);
    return r;
}

struct mh_result *
mh_dnsbl_probe(const struct mh_dnsbl_params *p, const struct mh_deadline *dl)
{
    return mh_dnsbl_result(p, mh_dnsbl_run(p, dl));
}

int
mh_dnsbl_check_addresses(const struct mh_dnsbl_params *p,
                         const char *const *addresses, size_t naddresses,
                         const char *domain, const struct mh_deadline *dl,
                         struct mh_result *r)
{
    struct mh_dnsbl_report *rep =
        mh_dnsbl_run_addresses(p, addresses, naddresses, domain, dl);
    if (rep == NULL) {
        mh_result_mark_oom(r);
        return -1;
    }
    run_into(rep, r);
    int rc = !rep->judged && !rep->oom ? -1 : 0;
    mh_dnsbl_report_free(rep);
    return rc;
}
