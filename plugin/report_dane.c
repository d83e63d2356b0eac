/* SPDX-License-Identifier: MIT */
/*
 * report_dane: a DANE check's report (probes/dane.h: struct
 * mh_dane_report, filled by dane.c) as result items, perfdata, samples,
 * state and summary: the one place where DANE facts become output
 * (dane.h lists them).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../probes/dane.h"
#include "../probes/textutil.h"
#include "../probes/tlscheck.h"
#include "reports.h"

/* Hex of the first octets of data for the table ("89dd889a..."). */
static void
hex_prefix(char *buf, size_t len, const unsigned char *d, size_t n)
{
    if (2 * n < len) {
        mh_hex_encode(buf, d, n);
        return;
    }
    size_t k = len >= 4 ? (len - 4) / 2 : 0;
    mh_hex_encode(buf, d, k);
    if (2 * k + 4 <= len) {
        memcpy(buf + 2 * k, "...", 4);
    }
}

/* The RRSIG item, perfdata and sample of a record set. */
static void
render_rrsig(const struct mh_dane_rrsig *st, double warn_days, double crit_days,
             struct mh_result *r)
{
    if (!st->present) {
        return;
    }
    bool mx = strcmp(st->rrset, "MX") == 0;
    struct mh_item *it = mh_result_add_item(
        r, "dane", mx ? "mx rrsig" : "rrsig", st->state, st->reason,
        "RRSIGs over the %s records expire in %.1f days (%s)", st->rrset,
        st->days, st->iso);
    mh_item_set_num(r, it, "expiration", st->expiration);
    mh_item_set_str(r, it, "expiration_iso", st->iso);
    char w[32], c[32];
    const double zero = 0;
    mh_result_add_perf(r, mx ? "dane_mx_rrsig_days" : "dane_rrsig_days",
                       st->days, MH_UNIT_NONE,
                       mh_tls_days_range(w, sizeof w, warn_days),
                       mh_tls_days_range(c, sizeof c, crit_days), &zero, NULL);
    mh_result_add_sample(r, MH_METRIC(DANE_RRSIG_EXPIRY_TIMESTAMP_SECONDS),
                         st->expiration, "rrset", st->rrset,
                         (const char *)NULL);
}

void
mh_dane_rrsig_report(const struct mh_dane_lookup *lk, double warn_days,
                     double crit_days, double now, const char *where,
                     struct mh_result *r)
{
    struct mh_dane_rrsig st;
    mh_dane_rrsig_facts(lk, warn_days, crit_days, now, &st);
    render_rrsig(&st, warn_days, crit_days, r);
    if (st.present && st.state != MH_STATE_OK) {
        mh_result_raise(r, st.state, st.reason,
                        "%s%sDNSSEC signatures over %s %s expire in %.1f "
                        "days (%s)",
                        where != NULL ? where : "", where != NULL ? ": " : "",
                        lk->owner, st.rrset, st.days, st.iso);
    }
}

/* The "tlsa" item when the lookup decided the check. */
static void
render_lookup(const struct mh_dane_report *rep, struct mh_result *r)
{
    const struct mh_dane_lookup *lk = rep->lookup;
    const struct mh_dane_failure *f = &rep->failure;
    switch (rep->outcome) {
    case MH_DANE_OUT_SERVFAIL:
        mh_result_add_item(r, "dane", "tlsa", MH_STATE_CRITICAL,
                           MH_REASON_DNSSEC_INVALID,
                           "TLSA lookup of %s: SERVFAIL%s: DNSSEC-validating "
                           "senders defer mail to this host",
                           lk->qname, rep->ede);
        break;
    case MH_DANE_OUT_UNVALIDATED:
    case MH_DANE_OUT_TIMEOUT:
    case MH_DANE_OUT_LOOKUP_FAILED:
        mh_result_add_item(r, "dane", "tlsa", f->state, f->reason, "%s",
                           lk->err[0] != '\0' ? lk->err : "no TLSA lookup");
        break;
    case MH_DANE_OUT_NO_RECORDS:
        mh_result_add_item(
            r, "dane", "tlsa", rep->required ? MH_STATE_CRITICAL : MH_STATE_OK,
            rep->required ? MH_REASON_TLSA_MISSING : MH_REASON_NONE,
            "no TLSA records at %s (%s): DANE not in use", lk->qname,
            lk->status == MH_DANE_DNS_SECURE ? "DNSSEC-signed denial"
                                             : "unsigned");
        break;
    case MH_DANE_OUT_UNSIGNED:
        mh_result_add_item(r, "dane", "tlsa", MH_STATE_WARNING,
                           MH_REASON_DANE_NOT_IN_EFFECT,
                           "%zu TLSA record(s) at %s without DNSSEC: senders "
                           "ignore them",
                           lk->nrecs, lk->qname);
        break;
    case MH_DANE_OUT_NO_TLS:
        mh_result_add_item(r, "dane", "tlsa", MH_STATE_CRITICAL,
                           MH_REASON_DANE_REQUIRED,
                           "%zu signed TLSA record(s) at %s but no TLS "
                           "session: DANE senders defer mail",
                           lk->nrecs, lk->qname);
        break;
    default:
        break;
    }
}

/* One item per TLSA record: usable or not, and whether it matches the
 * chain alone. */
static void
render_records(const struct mh_dane_report *rep, struct mh_result *r)
{
    for (size_t i = 0; i < rep->nrecords; i++) {
        const struct mh_dane_record *rec = &rep->records[i];
        const struct mh_dane_tlsa *t = rec->tlsa;
        char hex[24], name[24];
        hex_prefix(hex, sizeof hex, t->data, t->len);
        mh_textf(name, sizeof name, "record %zu", i);
        struct mh_item *it;
        if (rec->status == MH_DANE_REC_UNUSABLE) {
            it =
                mh_result_add_item(r, "dane", name, MH_STATE_OK, MH_REASON_NONE,
                                   "TLSA %u %u %u %s: %s", t->usage,
                                   t->selector, t->mtype, hex, rec->detail);
            mh_item_set_str(r, it, "status", "unusable");
        } else if (rec->status == MH_DANE_REC_MATCH) {
            it =
                mh_result_add_item(r, "dane", name, MH_STATE_OK, MH_REASON_NONE,
                                   "TLSA %u %u %u %s (%s): matches at depth %d",
                                   t->usage, t->selector, t->mtype, hex,
                                   mh_dane_usage_name(t->usage), rec->depth);
            mh_item_set_str(r, it, "status", "match");
            mh_item_set_num(r, it, "depth", rec->depth);
        } else {
            it = mh_result_add_item(
                r, "dane", name, MH_STATE_OK, MH_REASON_NONE,
                "TLSA %u %u %u %s (%s): no match (%s)", t->usage, t->selector,
                t->mtype, hex, mh_dane_usage_name(t->usage), rec->detail);
            mh_item_set_str(r, it, "status", "no_match");
        }
        mh_item_set_num(r, it, "usage", t->usage);
        mh_item_set_num(r, it, "selector", t->selector);
        mh_item_set_num(r, it, "matching_type", t->mtype);
        char *full = malloc(2 * t->len + 1);
        if (full == NULL) {
            mh_result_mark_oom(r);
        } else {
            mh_item_set_str(r, it, "data",
                            mh_hex_encode(full, t->data, t->len));
            free(full);
        }
    }
}

/* The "verify", "rollover" and "next key" items. */
static void
render_verdict(const struct mh_dane_report *rep, struct mh_result *r)
{
    const char *qname = rep->lookup->qname;
    if (rep->outcome == MH_DANE_OUT_NO_USABLE) {
        mh_result_add_item(r, "dane", "verify", MH_STATE_WARNING,
                           MH_REASON_TLSA_UNUSABLE,
                           "no usable TLSA record at %s: DANE senders use "
                           "TLS without authentication (RFC 7672 2.2)",
                           qname);
        return;
    }
    if (rep->outcome == MH_DANE_OUT_MISMATCH) {
        mh_result_add_item(
            r, "dane", "verify", MH_STATE_CRITICAL, MH_REASON_TLSA_MISMATCH,
            "no usable TLSA record matches the chain: %s", rep->verify_error);
        return;
    }
    struct mh_item *vi = mh_result_add_item(
        r, "dane", "verify", MH_STATE_OK, MH_REASON_NONE,
        "DANE verified: TLSA %u %u %u (%s) matched at depth %d", rep->usage,
        rep->selector, rep->mtype, mh_dane_usage_name(rep->usage), rep->depth);
    mh_item_set_num(r, vi, "depth", rep->depth);
    if (rep->rollover_risk) {
        mh_result_add_item(r, "dane", "rollover", MH_STATE_WARNING,
                           MH_REASON_DANE_ROLLOVER_RISK,
                           "the leaf expires in %.1f days and only its own "
                           "key is published: publish the next key's TLSA "
                           "record before the renewal",
                           rep->leaf_days);
    }
    switch (rep->next_key) {
    case MH_DANE_NEXT_UNREADABLE:
        mh_result_add_item(r, "dane", "next key", MH_STATE_UNKNOWN,
                           MH_REASON_USAGE_ERROR, "%s", rep->next_key_error);
        break;
    case MH_DANE_NEXT_PUBLISHED:
        mh_result_add_item(r, "dane", "next key", MH_STATE_OK, MH_REASON_NONE,
                           "a TLSA record matches the next key (%s)",
                           rep->next_key_path);
        break;
    case MH_DANE_NEXT_UNPUBLISHED:
        mh_result_add_item(r, "dane", "next key", MH_STATE_WARNING,
                           MH_REASON_DANE_NEXT_KEY_UNPUBLISHED,
                           "no TLSA record matches the next key (%s)",
                           rep->next_key_path);
        break;
    case MH_DANE_NEXT_NOT_CHECKED:
        break;
    }
}

/* The failure as the result's state, reason and summary. */
static void
render_failure(const struct mh_dane_report *rep, const char *where,
               struct mh_result *r)
{
    const struct mh_dane_failure *f = &rep->failure;
    if (f->state == MH_STATE_OK) {
        return;
    }
    if (f->reason == MH_REASON_DANE_REQUIRED && r->state == MH_STATE_CRITICAL &&
        r->reason == MH_REASON_TLS_REQUIRED) {
        mh_result_override(r, f->state, f->reason, "%s%s%s",
                           where != NULL ? where : "",
                           where != NULL ? ": " : "", f->cause_no_starttls);
    } else if (f->targetless || where == NULL) {
        mh_result_raise(r, f->state, f->reason, "%s", f->cause);
    } else {
        mh_result_raise(r, f->state, f->reason, "%s: %s", where, f->cause);
    }
}

void
mh_dane_report_render(const struct mh_dane_report *rep,
                      const struct mh_dane_check_params *p, struct mh_result *r)
{
    const struct mh_dane_lookup *lk = rep->lookup;
    if (lk->status == MH_DANE_DNS_SECURE ||
        lk->status == MH_DANE_DNS_INSECURE) {
        mh_result_add_sample(r, MH_METRIC(DANE_TLSA_RECORDS), (double)lk->nrecs,
                             (const char *)NULL);
    }
    if (rep->outcome <= MH_DANE_OUT_NO_TLS) {
        render_lookup(rep, r);
        render_rrsig(&rep->rrsig, p->rrsig_warn_days, p->rrsig_crit_days, r);
    } else {
        bool cname = strcasecmp(lk->owner, lk->qname) != 0;
        mh_result_add_item(r, "dane", "tlsa", MH_STATE_OK, MH_REASON_NONE,
                           "%zu DNSSEC-signed TLSA record(s) at %s%s%s",
                           lk->nrecs, lk->qname, cname ? " via CNAME " : "",
                           cname ? lk->owner : "");
        render_rrsig(&rep->rrsig, p->rrsig_warn_days, p->rrsig_crit_days, r);
        render_records(rep, r);
        render_verdict(rep, r);
    }
    render_failure(rep, p->where, r);
    mh_result_add_sample(r, MH_METRIC(DANE_VERIFIED), rep->verified ? 1.0 : 0.0,
                         (const char *)NULL);
}

void
mh_dane_check(const struct mh_dane_lookup *lk, SSL_CTX *ctx,
              STACK_OF(X509) * sent, const struct mh_dane_check_params *p,
              struct mh_result *r)
{
    struct mh_dane_report *rep = mh_dane_report_check(lk, ctx, sent, p);
    if (rep == NULL) {
        mh_result_mark_oom(r);
        return;
    }
    mh_dane_report_render(rep, p, r);
    free(rep);
}
