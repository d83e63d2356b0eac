/* SPDX-License-Identifier: MIT */
/*
 * mtasts_report: the MTA-STS and TLS-RPT verdict as facts (struct
 * mh_sts_report, mtasts.h): the TXT records, the policy, the policy host's
 * certificate, the id against the memory, every MX host against the
 * patterns and its probes, and one failure record. No output here
 * (plugin/report_mtasts.c turns a report into a result).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mtasts.h"
#include "textutil.h"

void
mh_sts_mx_add(struct mh_sts_mx *mx, const struct mh_result *probe)
{
    mx->probed++;
    if (probe == NULL) {
        if (mh_state_rank(MH_STATE_UNKNOWN) > mh_state_rank(mx->state)) {
            mx->state = MH_STATE_UNKNOWN;
            mx->reason = MH_REASON_INTERNAL_ERROR;
            mh_textf(mx->detail, sizeof mx->detail, "out of memory");
        }
        return;
    }
    for (size_t i = 0; i < probe->nsamples; i++) {
        if (strcmp(probe->samples[i].family, MH_METRIC(TLS_VERIFIED)) == 0 &&
            probe->samples[i].value == 1) {
            mx->verified++;
            break;
        }
    }
    if (mh_state_rank(probe->state) > mh_state_rank(mx->state)) {
        mx->state = probe->state;
        mx->reason = probe->reason;
        mh_textf(mx->detail, sizeof mx->detail, "%s",
                 probe->summary != NULL ? probe->summary : "");
    }
}

/* The state a problem gets in a mode: enforce CRITICAL, testing WARNING;
 * mode none WARNING (mx_part: OK, nothing is enforced); an unknown mode
 * (no valid policy) CRITICAL. */
static enum mh_state
severity(enum mh_sts_mode mode, bool mx_part)
{
    switch (mode) {
    case MH_STS_MODE_ENFORCE:
        return MH_STATE_CRITICAL;
    case MH_STS_MODE_TESTING:
        return MH_STATE_WARNING;
    case MH_STS_MODE_NONE:
        return mx_part ? MH_STATE_OK : MH_STATE_WARNING;
    case MH_STS_MODE_UNKNOWN:
    default:
        return MH_STATE_CRITICAL;
    }
}

/* The milder of a and b (OK < WARNING < CRITICAL; UNKNOWN kept). */
static enum mh_state
milder(enum mh_state a, enum mh_state b)
{
    if (a == MH_STATE_UNKNOWN || b == MH_STATE_UNKNOWN) {
        return MH_STATE_UNKNOWN;
    }
    return mh_state_rank(a) < mh_state_rank(b) ? a : b;
}

/* Judges one fact whose sentence is in f->text: its state and reason
 * (none when OK); a problem becomes the failure when it is the first of
 * the worst (the rule of mh_result_raise over a sequence of findings). */
static void
judge_text(struct mh_sts_report *rep, struct mh_sts_finding *f,
           const char *phase, enum mh_state st, enum mh_reason reason)
{
    f->state = st;
    f->reason = st == MH_STATE_OK ? MH_REASON_NONE : reason;
    struct mh_sts_failure *fl = &rep->failure;
    if (st == MH_STATE_OK || mh_state_rank(st) <= mh_state_rank(fl->state)) {
        return;
    }
    fl->state = st;
    fl->reason = reason;
    fl->category = mh_reason_category(reason);
    fl->phase = phase;
    mh_textf(fl->cause, sizeof fl->cause, "%s", f->text);
}

/* judge_text with the sentence formatted (printf-style). */
static void judge(struct mh_sts_report *rep, struct mh_sts_finding *f,
                  const char *phase, enum mh_state st, enum mh_reason reason,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void
judge(struct mh_sts_report *rep, struct mh_sts_finding *f, const char *phase,
      enum mh_state st, enum mh_reason reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mh_vtextf(f->text, sizeof f->text, fmt, ap);
    va_end(ap);
    judge_text(rep, f, phase, st, reason);
}

/* The records of a TXT lookup with the version tag of its kind: how
 * many, how many valid, the last valid one's id (_mta-sts) or number of
 * report URIs (_smtp._tls), the first invalid one's problem. */
struct txt_count {
    size_t tagged, valid;
    char id[MH_STS_ID_MAX + 1];
    size_t nrua;
    char first_err[300];
};

/* Counts the records of l (tlsrpt: TLS-RPT records, else MTA-STS ones)
 * into c. Returns what they amount to (RFC 8461 3.1, RFC 8460 3: exactly
 * one valid record, or senders use none). */
static enum mh_sts_record_status
count_txt(const struct mh_txt_lookup *l, bool tlsrpt, struct txt_count *c)
{
    memset(c, 0, sizeof *c);
    if (l->status == MH_RESOLVE_TIMEOUT || l->status == MH_RESOLVE_FAILED) {
        return MH_STS_REC_LOOKUP_FAILED;
    }
    for (size_t i = 0; l->status == MH_RESOLVE_OK && i < l->nrecs; i++) {
        char id[MH_STS_ID_MAX + 1], err[300];
        size_t n = 0;
        const void *d = l->recs[i].data;
        enum mh_sts_txt t =
            tlsrpt
                ? mh_tlsrpt_parse_record(d, l->recs[i].len, &n, err, sizeof err)
                : mh_sts_parse_record(d, l->recs[i].len, id, err, sizeof err);
        if (t == MH_STS_TXT_OTHER) {
            continue;
        }
        c->tagged++;
        if (t == MH_STS_TXT_VALID) {
            c->valid++;
            if (tlsrpt) {
                c->nrua = n;
            } else {
                memcpy(c->id, id, sizeof id);
            }
        } else if (c->first_err[0] == '\0') {
            mh_textf(c->first_err, sizeof c->first_err, "%s", err);
        }
    }
    return c->tagged == 0                    ? MH_STS_REC_MISSING
           : c->tagged == 1 && c->valid == 1 ? MH_STS_REC_VALID
           : c->tagged > 1                   ? MH_STS_REC_MULTIPLE
                                             : MH_STS_REC_INVALID;
}

/* The _mta-sts TXT record's status (before the policy's mode is known:
 * an invalid record is judged after the policy). */
static void
check_record(struct mh_sts_report *rep)
{
    const struct mh_txt_lookup *l = &rep->in->dns->sts;
    struct txt_count c;
    rep->record = count_txt(l, false, &c);
    rep->nrecords = c.tagged;
    if (rep->record == MH_STS_REC_VALID) {
        memcpy(rep->id, c.id, sizeof rep->id);
    } else if (rep->record == MH_STS_REC_MULTIPLE) {
        mh_textf(rep->record_f.text, sizeof rep->record_f.text,
                 "%zu v=STSv1 TXT records at %s: senders see no policy "
                 "(RFC 8461 3.1)",
                 c.tagged, l->name);
    } else if (rep->record == MH_STS_REC_INVALID) {
        mh_textf(rep->record_f.text, sizeof rep->record_f.text,
                 "TXT record at %s invalid, senders see no policy: %s", l->name,
                 c.first_err);
    }
}

/* The record's finding when it ends the verdict (lookup failed, none). */
static void
judge_record_absent(struct mh_sts_report *rep)
{
    const struct mh_sts_inputs *in = rep->in;
    const struct mh_txt_lookup *l = &in->dns->sts;
    if (rep->record == MH_STS_REC_LOOKUP_FAILED) {
        judge(rep, &rep->record_f, "record",
              in->required ? MH_STATE_CRITICAL : MH_STATE_WARNING,
              l->status == MH_RESOLVE_TIMEOUT ? MH_REASON_DNS_TIMEOUT
                                              : MH_REASON_DNS_LOOKUP_FAILED,
              "%s", l->err);
    } else {
        judge(rep, &rep->record_f, "record",
              in->required ? MH_STATE_CRITICAL : MH_STATE_OK,
              MH_REASON_STS_RECORD_MISSING,
              "no MTA-STS policy published (no v=STSv1 TXT record at %s)",
              l->name);
    }
}

/* The fetch and the policy's syntax; without a valid policy, the mode
 * remembered. */
static void
check_policy(struct mh_sts_report *rep, enum mh_reason *reason)
{
    const struct mh_sts_inputs *in = rep->in;
    const struct mh_sts_fetch *f = in->fetch;
    char *text = rep->policy_f.text;
    size_t len = sizeof rep->policy_f.text;
    char err[400];
    if (f == NULL || f->status == MH_STS_FETCH_NOT_RUN) {
        rep->policy_status = MH_STS_POL_NOT_FETCHED;
        mh_textf(text, len, "policy not fetched: the deadline passed");
        *reason = MH_REASON_STS_POLICY_FETCH_ERROR;
    } else if (f->status != MH_STS_FETCH_OK) {
        rep->policy_status = MH_STS_POL_FETCH_FAILED;
        mh_textf(text, len, "policy fetch from %s failed: %s", f->url, f->err);
        *reason = f->reason;
    } else if (mh_sts_parse_policy(f->body, f->len, &rep->policy, err,
                                   sizeof err) != 0) {
        rep->policy_status = MH_STS_POL_INVALID;
        mh_textf(text, len, "policy at %s invalid: %s", f->url, err);
        *reason = MH_REASON_STS_POLICY_INVALID;
    } else {
        rep->policy_status = MH_STS_POL_VALID;
        rep->mode = rep->policy.mode;
        return;
    }
    if (in->memory != NULL) {
        struct mh_sts_memo memo = mh_sts_memory_get(in->memory, in->domain);
        if (memo.known && memo.mode != MH_STS_MODE_UNKNOWN) {
            rep->mode = memo.mode;
            rep->mode_remembered = true;
            size_t o = strlen(text);
            mh_textf(text + o, len - o, " (last valid policy seen: mode %s)",
                     mh_sts_mode_name(rep->mode));
        }
    }
}

/* The policy host's certificate days below --cert-days (a chain that
 * failed to verify is the fetch's sts_webpki_invalid). */
static void
check_cert(struct mh_sts_report *rep)
{
    const struct mh_sts_fetch *f = rep->in->fetch;
    if (f == NULL || f->cert == NULL || f->status == MH_STS_FETCH_CERT ||
        f->cert->failure.state == MH_STATE_OK) {
        return;
    }
    const struct mh_tls_failure *c = &f->cert->failure;
    rep->cert_problem = true;
    judge(rep, &rep->cert_f, "certificate", c->state, c->reason,
          "policy host certificate: %s", c->cause);
}

/* The id against the memory (RFC 8461 3.1: a new policy needs a new id);
 * notes the policy seen. */
static void
check_memory(struct mh_sts_report *rep)
{
    const struct mh_sts_inputs *in = rep->in;
    if (in->memory == NULL || rep->record != MH_STS_REC_VALID ||
        rep->policy_status != MH_STS_POL_VALID) {
        return;
    }
    unsigned char sha[32];
    unsigned int shalen = 0;
    const struct mh_sts_fetch *f = in->fetch;
    if (EVP_Digest(f->body, f->len, sha, &shalen, EVP_sha256(), NULL) != 1 ||
        shalen != 32) {
        return;
    }
    struct mh_sts_memo before = mh_sts_memory_note(
        in->memory, in->domain, rep->id, sha, rep->mode, in->now);
    if (before.known && strcmp(before.id, rep->id) == 0 &&
        memcmp(before.sha256, sha, 32) != 0) {
        char when[32];
        mh_utc_iso(when, sizeof when, before.first_seen);
        rep->id_unchanged = true;
        rep->first_seen = before.first_seen;
        judge(rep, &rep->id_f, "id", MH_STATE_WARNING,
              MH_REASON_STS_ID_UNCHANGED,
              "policy changed since %s but its id is still %s: senders that "
              "cached the old policy keep it for up to max_age (%lu s); "
              "publish a new id (RFC 8461 3.1)",
              when, rep->id, rep->policy.max_age);
    }
}

/* One MX host against the patterns and its probes. */
static void
check_one_mx(struct mh_sts_report *rep, struct mh_sts_mx_fact *x)
{
    const struct mh_sts_inputs *in = rep->in;
    const struct mh_sts_mx *mx = x->mx;
    const char *mode = mh_sts_mode_name(rep->mode);
    enum mh_state sev = severity(rep->mode, true);
    x->pattern = mh_sts_policy_match(&rep->policy, mx->host);
    x->verified = in->mx_probed && mx->probed > 0 && mx->verified == mx->probed;
    rep->covered += x->pattern >= 0;
    rep->verified += x->verified;
    const char *pat = x->pattern >= 0 ? rep->policy.mx[x->pattern] : "";
    if (x->pattern < 0) {
        judge(rep, &x->f, "mx", sev, MH_REASON_STS_MX_NOT_COVERED,
              "MX %s is not covered by the MTA-STS policy's mx patterns: %s "
              "senders %s",
              mx->host, mode,
              rep->mode == MH_STS_MODE_ENFORCE
                  ? "refuse to deliver to it"
                  : "report every delivery to it as a failure");
    } else if (in->mx_probed && mx->state != MH_STATE_OK) {
        judge(rep, &x->f, "mx", milder(mx->state, sev), mx->reason,
              "MTA-STS %s: MX %s (pattern %s) failed on %zu of %zu "
              "address%s: %s",
              mode, mx->host, pat, mx->probed - mx->verified, mx->probed,
              mx->probed == 1 ? "" : "es", mx->detail);
    } else if (in->mx_probed) {
        judge(rep, &x->f, "mx", MH_STATE_OK, MH_REASON_NONE,
              "MX %s covered by %s, STARTTLS certificate verified on %zu "
              "address%s",
              mx->host, pat, mx->probed, mx->probed == 1 ? "" : "es");
    } else {
        judge(rep, &x->f, "mx", MH_STATE_OK, MH_REASON_NONE,
              "MX %s covered by %s", mx->host, pat);
    }
}

/* The _smtp._tls TXT record (RFC 8460 3): independent of the policy. */
static void
check_tlsrpt(struct mh_sts_report *rep)
{
    const struct mh_txt_lookup *l = &rep->in->dns->tlsrpt;
    struct mh_sts_finding *f = &rep->tlsrpt_f;
    struct txt_count c;
    rep->tlsrpt = count_txt(l, true, &c);
    rep->ntlsrpt = c.tagged;
    rep->nrua = c.nrua;
    if (rep->tlsrpt == MH_STS_REC_LOOKUP_FAILED) {
        judge(rep, f, "tls-rpt", MH_STATE_WARNING,
              l->status == MH_RESOLVE_TIMEOUT ? MH_REASON_DNS_TIMEOUT
                                              : MH_REASON_DNS_LOOKUP_FAILED,
              "%s", l->err);
    } else if (rep->tlsrpt == MH_STS_REC_MULTIPLE) {
        judge(rep, f, "tls-rpt", MH_STATE_WARNING, MH_REASON_TLSRPT_INVALID,
              "%zu v=TLSRPTv1 records at %s: senders use none (RFC 8460 3)",
              c.tagged, l->name);
    } else if (rep->tlsrpt == MH_STS_REC_INVALID) {
        judge(rep, f, "tls-rpt", MH_STATE_WARNING, MH_REASON_TLSRPT_INVALID,
              "TLS-RPT record at %s invalid: %s", l->name, c.first_err);
    }
}

struct mh_sts_report *
mh_sts_report_check(const struct mh_sts_inputs *in)
{
    struct mh_sts_report *rep =
        calloc(1, sizeof *rep + in->nmx * sizeof rep->mx[0]);
    if (rep == NULL) {
        return NULL;
    }
    rep->in = in;
    rep->failure.phase = "";
    check_record(rep);
    if (rep->record == MH_STS_REC_LOOKUP_FAILED ||
        rep->record == MH_STS_REC_MISSING) {
        judge_record_absent(rep);
        check_tlsrpt(rep);
        return rep;
    }
    enum mh_reason preason = MH_REASON_NONE;
    check_policy(rep, &preason);
    enum mh_state sev = severity(rep->mode, false);
    if (rep->record != MH_STS_REC_VALID) {
        judge_text(rep, &rep->record_f, "record", sev,
                   MH_REASON_STS_RECORD_INVALID);
    }
    if (rep->policy_status != MH_STS_POL_VALID) {
        /* libcurl missing or memory exhausted: the check could not run. */
        judge_text(rep, &rep->policy_f, "policy",
                   preason == MH_REASON_INTERNAL_ERROR ? MH_STATE_UNKNOWN : sev,
                   preason);
    }
    check_cert(rep);
    check_memory(rep);
    rep->mx_checked = rep->policy_status == MH_STS_POL_VALID && in->mx_known;
    if (rep->mx_checked && rep->mode != MH_STS_MODE_NONE) {
        rep->nmx = in->nmx;
        for (size_t i = 0; i < in->nmx; i++) {
            rep->mx[i].mx = &in->mx[i];
            check_one_mx(rep, &rep->mx[i]);
        }
    }
    check_tlsrpt(rep);
    return rep;
}
