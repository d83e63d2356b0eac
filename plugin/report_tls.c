/* SPDX-License-Identifier: MIT */
/*
 * report_tls: a TLS check's report (probes/tlscheck.h: struct
 * mh_tls_report, filled by tlscheck.c) as result items, perfdata,
 * samples, state and summary: the one place where TLS facts become output
 * (tlscheck.h describes it).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../probes/textutil.h"
#include "../probes/tlscheck.h"
#include "reports.h"

/* Days for perfdata: three decimals (about 90 s) are plenty for graphs and
 * keep "89.999954" from showing up for a 90-day certificate. */
static double
perf_days(double days)
{
    return round(days * 1000.0) / 1000.0;
}

/* The session's version and cipher as mailhealth_tls_version_info. */
static void
version_sample(struct mh_result *r, const char *version, const char *cipher)
{
    mh_result_add_sample(r, MH_METRIC(TLS_VERSION_INFO), 1, "version", version,
                         "cipher", cipher, (const char *)NULL);
}

void
mh_tls_note_version(struct mh_result *r, const char *version,
                    const char *cipher)
{
    version_sample(r, version, cipher);
}

/* The long-output item and the attributes of one certificate; extra (may
 * be NULL) ends the text. */
static void
cert_item(struct mh_result *r, const char *name,
          const struct mh_tls_cert_facts *f, bool on_path, const char *extra)
{
    char left[64];
    mh_tls_days_phrase(left, sizeof left, f);
    struct mh_item *it =
        mh_result_add_item(r, "cert", name, f->state, f->reason,
                           "%s (%s), issuer %s, notAfter %s (%s), %s, %s%s",
                           f->subject, f->role, f->issuer, f->not_after_iso,
                           left, f->key, f->sig, extra != NULL ? extra : "");
    if (it == NULL) {
        return;
    }
    if (on_path) {
        mh_item_set_num(r, it, "depth", f->index);
    }
    mh_item_set_num(r, it, "on_path", on_path ? 1 : 0);
    mh_item_set_str(r, it, "subject", f->subject);
    mh_item_set_str(r, it, "issuer", f->issuer);
    mh_item_set_str(r, it, "role", f->role);
    mh_item_set_str(r, it, "not_before", f->not_before_iso);
    mh_item_set_str(r, it, "not_after", f->not_after_iso);
    if (f->has_not_after) {
        mh_item_set_num(r, it, "not_after_timestamp", f->not_after);
        mh_item_set_num(r, it, "days_left", f->days);
    }
    mh_item_set_str(r, it, "key", f->key);
    mh_item_set_str(r, it, "signature_algorithm", f->sig);
    if (f->names[0] != '\0') {
        mh_item_set_str(r, it, "names", f->names);
    }
}

/* Verification problems, one "verify" item each, then the SNI hint. */
static void
render_problems(const struct mh_tls_report *rep, struct mh_result *r)
{
    for (size_t i = 0; i < rep->nproblems; i++) {
        const struct mh_tls_problem *pr = &rep->problems[i];
        char dname[32];
        mh_textf(dname, sizeof dname, "depth %d", pr->depth);
        mh_result_add_item(
            r, "verify", pr->depth >= 0 ? dname : "chain",
            rep->enforced ? MH_STATE_CRITICAL : MH_STATE_OK,
            rep->enforced ? pr->reason : MH_REASON_NONE, "%s%s",
            rep->enforced ? "" : "not enforced (--no-verify): ", pr->text);
    }
    if (rep->hint[0] != '\0') {
        mh_result_add_item(r, "note", "", MH_STATE_OK, MH_REASON_NONE, "%s",
                           rep->hint);
    }
}

/* Every element of the path (item, days-left perfdata, expiry sample),
 * then the certificates off the path (items only: they must not trigger
 * expiry alerts). */
static void
render_chain(const struct mh_tls_report *rep, const char *range_w,
             const char *range_c, struct mh_result *r)
{
    for (int i = 0; i < rep->npath; i++) {
        const struct mh_tls_cert_facts *f = &rep->path[i];
        char name[32], label[40], depth[16];
        mh_textf(name, sizeof name, "depth %d", i);
        cert_item(r, name, f, true, NULL);
        if (!f->has_not_after) {
            continue;
        }
        mh_textf(label, sizeof label, "cert_days_depth%d", i);
        mh_textf(depth, sizeof depth, "%d", i);
        mh_result_add_perf(r, label, perf_days(f->days), MH_UNIT_NONE, range_w,
                           range_c, NULL, NULL);
        mh_result_add_sample(r, MH_METRIC(TLS_CERT_EXPIRY_TIMESTAMP_SECONDS),
                             f->not_after, "depth", depth, "subject",
                             f->subject, "issuer", f->issuer,
                             (const char *)NULL);
    }
    if (rep->nchain > rep->npath) {
        const struct mh_tls_cert_facts *f = &rep->path[rep->npath];
        char name[32];
        mh_textf(name, sizeof name, "depth %d", f->index);
        cert_item(r, name, f, true, NULL);
        mh_result_add_item(r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                           "chain has %d elements; only the first %d and, "
                           "of the rest, the one that expires first (depth "
                           "%d) are reported",
                           rep->nchain, rep->npath, f->index);
    }
    for (int i = 0; i < rep->nextra_reported; i++) {
        const struct mh_tls_cert_facts *f = &rep->extra[i];
        char name[32];
        mh_textf(name, sizeof name, "extra %d", f->index);
        cert_item(r, name, f, false, "; remove it from the chain");
    }
    if (rep->nextra > rep->nextra_reported) {
        mh_result_add_item(r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                           "server sent %d certificates not on the verified "
                           "path; only %d are reported",
                           rep->nextra, rep->nextra_reported);
    }
}

/* The attributes of the "tls"/"verify" item (mh_tls_ok_summary reads
 * them back). */
static void
verify_attrs(const struct mh_tls_report *rep,
             const struct mh_tls_check_params *p, struct mh_result *r,
             struct mh_item *it)
{
    if (rep->version[0] != '\0') {
        mh_item_set_str(r, it, "version", rep->version);
    }
    if (rep->cipher[0] != '\0') {
        mh_item_set_str(r, it, "cipher", rep->cipher);
    }
    mh_item_set_num(r, it, "verified", rep->verified ? 1 : 0);
    mh_item_set_str(r, it, "sni", rep->sni);
    if (p->verify_name != NULL) {
        mh_item_set_str(r, it, "verify_name", p->verify_name);
    }
    mh_item_set_num(r, it, "chain_length", rep->nchain);
    mh_item_set_num(r, it, "sent", rep->nsent);
    mh_item_set_str(r, it, "leaf_subject", rep->path[0].subject);
    if (!rep->verified && !rep->enforced && rep->problem_list[0] != '\0') {
        mh_item_set_str(r, it, "problems", rep->problem_list);
    }
    if (rep->earliest >= 0) {
        const struct mh_tls_cert_facts *e = &rep->path[rep->earliest];
        mh_item_set_num(r, it, "earliest_days", e->days);
        mh_item_set_str(r, it, "earliest_not_after", e->not_after_iso);
        mh_item_set_str(r, it, "earliest_subject", e->subject);
    }
}

/* The session facts: verified flag, the "tls"/"verify" item. */
static void
render_session(const struct mh_tls_report *rep,
               const struct mh_tls_check_params *p, struct mh_result *r)
{
    mh_result_add_sample(r, MH_METRIC(TLS_VERIFIED), rep->verified ? 1 : 0,
                         (const char *)NULL);
    char vtext[MH_TLS_TEXT_LEN];
    if (rep->verified) {
        mh_textf(vtext, sizeof vtext, "chain of %d verified to %s%s%s",
                 rep->nchain, rep->anchor[0] != '\0' ? rep->anchor : "?",
                 p->verify_name != NULL ? ", name matches " : "",
                 p->verify_name != NULL ? p->verify_name : "");
    } else {
        size_t n = rep->nproblems + rep->dropped;
        mh_textf(vtext, sizeof vtext, "verification failed (%zu problem%s%s)",
                 n, n == 1 ? "" : "s",
                 rep->enforced ? "" : ", not enforced: --no-verify");
    }
    bool ok = rep->verified || !rep->enforced;
    struct mh_item *it = mh_result_add_item(
        r, "tls", "verify", ok ? MH_STATE_OK : MH_STATE_CRITICAL,
        ok ? MH_REASON_NONE : rep->verify_reason, "%s; %s %s, SNI %s", vtext,
        rep->version[0] != '\0' ? rep->version : "?",
        rep->cipher[0] != '\0' ? rep->cipher : "?",
        rep->has_sni ? rep->sni : "none");
    if (it != NULL) {
        verify_attrs(rep, p, r, it);
    }
}

/* The failure as the result's state, reason and summary. */
static void
render_failure(const struct mh_tls_report *rep,
               const struct mh_tls_check_params *p, struct mh_result *r)
{
    const struct mh_tls_failure *f = &rep->failure;
    if (f->state == MH_STATE_OK) {
        return;
    }
    if (p->where != NULL && p->where[0] != '\0') {
        mh_result_raise(r, f->state, f->reason, "%s: %s", p->where, f->cause);
    } else {
        mh_result_raise(r, f->state, f->reason, "%s", f->cause);
    }
}

void
mh_tls_report_render(const struct mh_tls_report *rep,
                     const struct mh_tls_check_params *p, struct mh_result *r)
{
    if (rep->oom) {
        mh_result_mark_oom(r);
    }
    if (rep->version[0] != '\0') {
        version_sample(r, rep->version,
                       rep->cipher[0] != '\0' ? rep->cipher : "unknown");
    }
    if (!rep->checked) {
        mh_result_add_sample(r, MH_METRIC(TLS_VERIFIED), 0, (const char *)NULL);
        mh_result_add_item(r, "tls", "verify", rep->failure.state,
                           rep->failure.reason, "%s", rep->failure.cause);
        render_failure(rep, p, r);
        return;
    }
    char range_w[48], range_c[48];
    mh_tls_days_range(range_w, sizeof range_w, p->warn_days);
    mh_tls_days_range(range_c, sizeof range_c, p->crit_days);
    render_problems(rep, r);
    render_chain(rep, range_w, range_c, r);
    render_session(rep, p, r);
    if (rep->earliest >= 0) {
        const struct mh_tls_cert_facts *e = &rep->path[rep->earliest];
        mh_result_add_perf(r, "cert_days_earliest", perf_days(e->days),
                           MH_UNIT_NONE, range_w, range_c, NULL, NULL);
        mh_result_add_sample(
            r, MH_METRIC(TLS_EARLIEST_CERT_EXPIRY_TIMESTAMP_SECONDS),
            e->not_after, (const char *)NULL);
    }
    render_failure(rep, p, r);
}

/* Finds the "tls"/"verify" item's attribute key. */
static const struct mh_attr *
verify_attr(const struct mh_result *r, const char *key)
{
    for (size_t i = r->nitems; i-- > 0;) {
        const struct mh_item *it = &r->items[i];
        if (strcmp(it->kind, "tls") != 0 || strcmp(it->name, "verify") != 0) {
            continue;
        }
        for (size_t k = 0; k < it->nattrs; k++) {
            if (strcmp(it->attrs[k].key, key) == 0) {
                return &it->attrs[k];
            }
        }
        return NULL;
    }
    return NULL;
}

int
mh_tls_ok_summary(const struct mh_result *r, char *buf, size_t len)
{
    buf[0] = '\0';
    const struct mh_attr *leaf = verify_attr(r, "leaf_subject");
    const struct mh_attr *ver = verify_attr(r, "verified");
    if (leaf == NULL || leaf->str == NULL || ver == NULL) {
        return -1;
    }
    const struct mh_attr *n = verify_attr(r, "chain_length");
    const struct mh_attr *version = verify_attr(r, "version");
    const struct mh_attr *cipher = verify_attr(r, "cipher");
    const struct mh_attr *problems = verify_attr(r, "problems");
    const struct mh_attr *days = verify_attr(r, "earliest_days");
    const struct mh_attr *na = verify_attr(r, "earliest_not_after");
    const struct mh_attr *es = verify_attr(r, "earliest_subject");
    char chain[MH_TLS_TEXT_LEN];
    if (ver->num != 0) {
        mh_textf(chain, sizeof chain, "chain of %.0f verified",
                 n != NULL ? n->num : 0);
    } else {
        mh_textf(chain, sizeof chain, "NOT verified (--no-verify: %s)",
                 problems != NULL && problems->str != NULL ? problems->str
                                                           : "?");
    }
    char exp[MH_TLS_TEXT_LEN] = "";
    if (days != NULL && na != NULL && na->str != NULL && es != NULL &&
        es->str != NULL) {
        char d[48];
        mh_textf(exp, sizeof exp, ", earliest expiry in %s days (%s, %s)",
                 mh_tls_fmt_num(d, sizeof d, days->num, 1, false), na->str,
                 es->str);
    }
    mh_textf(buf, len, "certificate OK: %s, %s, %s%s%s%s", leaf->str, chain,
             version != NULL && version->str != NULL ? version->str : "?",
             cipher != NULL && cipher->str != NULL ? " " : "",
             cipher != NULL && cipher->str != NULL ? cipher->str : "", exp);
    return 0;
}

void
mh_tls_check_peer(const struct mh_tls_peer *peer,
                  const struct mh_tls_check_params *p, struct mh_result *r)
{
    struct mh_tls_report *rep = mh_tls_report_peer(peer, p);
    if (rep == NULL) {
        mh_result_mark_oom(r);
        return;
    }
    mh_tls_report_render(rep, p, r);
    free(rep);
}
