/* SPDX-License-Identifier: MIT */
/*
 * dnsbl_verdicts: decides what the facts of a DNSBL run (struct
 * mh_dnsbl_report, dnsbl.h) mean: each pair's verdict, state and reason,
 * each zone's flags and aggregate, host names without an address, the
 * listings' state by the judge, and the failure record with the summary.
 * Also words a pair's verdict for the renderer. Writes no result.
 */
#include "dnsbl.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ares.h>

#include "textutil.h"

/* "127.0.0.2, 127.0.0.4" */
void
mh_dnsbl_codes_text(const struct mh_dnsbl_answer *a, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < a->ncodes; i++) {
        char c[20];
        size_t o = strlen(buf);
        snprintf(buf + o, len - o, "%s%s", i > 0 ? ", " : "",
                 mh_dnsbl_format_code(a->codes[i], c, sizeof c));
    }
}

/* Seconds without locale dependence ("3", "2.5"). */
static void
seconds_text(double s, char *buf, size_t len)
{
    long ms = (long)(s * 1000.0 + 0.5);
    if (ms % 1000 == 0) {
        mh_textf(buf, len, "%ld", ms / 1000);
    } else if (ms % 100 == 0) {
        mh_textf(buf, len, "%ld.%01ld", ms / 1000, (ms % 1000) / 100);
    } else {
        mh_textf(buf, len, "%ld.%03ld", ms / 1000, ms % 1000);
    }
}

/* Combined positive / negative test-entry answer of a health record. */
static const struct mh_dnsbl_answer *
combined(const struct mh_dnsbl_answer *v, size_t n, struct mh_dnsbl_answer *tmp)
{
    if (n == 0) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].kind == MH_DNSBL_K_LISTED) {
            return &v[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].kind != MH_DNSBL_K_NOT_LISTED) {
            return &v[i]; /* something unknown: not conclusive */
        }
    }
    *tmp = v[0];
    return tmp;
}

/* Everything needed to describe one pair. */
struct verdict_ctx {
    const struct mh_dnsbl_subject *s;
    const struct mh_dnsbl_zone *z;
    const struct mh_dnsbl_pair *pr;
    const struct mh_dnsbl_zone_report *zr;
    unsigned budget;                   /* the zone budget (SKIPPED) */
    const struct mh_dnsbl_answer *ans; /* the pair's answer */
    const char *txt;                   /* its TXT text, "" if none */
    const struct mh_dnsbl_answer *pos, *neg;
    enum mh_dnsbl_verdict v;
    double deadline_s;
};

/* Why a failed lookup failed, for "lookup failed: ...". */
static void
failure_text(const struct verdict_ctx *c, char *buf, size_t len)
{
    const char *zn = c->z->name;
    if (c->pr->name_too_long) {
        mh_textf(buf, len, "query name for %s on %s longer than 253 bytes",
                 c->s->text, zn);
        return;
    }
    switch (c->ans->rcode) {
    case MH_DNSBL_RC_SERVFAIL:
        mh_textf(buf, len, "SERVFAIL from resolver for %s", zn);
        return;
    case MH_DNSBL_RC_REFUSED:
        mh_textf(buf, len, "REFUSED from resolver for %s", zn);
        return;
    case MH_DNSBL_RC_UNREACHABLE:
        mh_textf(buf, len, "resolver unreachable for %s", zn);
        return;
    case MH_DNSBL_RC_TIMEOUT:
    case MH_DNSBL_RC_ANSWER:
    case MH_DNSBL_RC_NXDOMAIN:
    case MH_DNSBL_RC_NODATA:
    case MH_DNSBL_RC_OTHER:
        break;
    }
    if (c->v == MH_DNSBL_V_TIMEOUT) {
        char t[32];
        seconds_text(c->deadline_s, t, sizeof t);
        mh_textf(buf, len, "no DNS answer for %s within %s s", zn, t);
        return;
    }
    mh_textf(buf, len, "%s for %s", ares_strerror(c->pr->ares_status), zn);
}

/* How describe() words a pair. */
enum form {
    FORM_ITEM,        /* item line: the renderer prints "zone NAME: " */
    FORM_ZONE,        /* summary: names the zone */
    FORM_ZONE_SUBJECT /* summary of several subjects: zone and subject */
};

/* Describes a pair in the given form. */
static void
describe(const struct verdict_ctx *c, enum form form, char *buf, size_t len)
{
    bool zone_form = form != FORM_ITEM;
    bool name_subject = form != FORM_ZONE;
    const struct mh_dnsbl_answer *a = c->ans;
    const char *zn = c->z->name;
    const char *subj = c->s->text;
    int fam = c->s->fam;
    char codes[200], culprit[20], why[300];
    mh_dnsbl_codes_text(a, codes, sizeof codes);
    mh_dnsbl_format_code(a->culprit, culprit, sizeof culprit);
    const char *txt = c->txt;
    const char *sep = txt[0] != '\0' ? ": " : "";
    switch (c->v) {
    case MH_DNSBL_V_NOT_LISTED:
        if (c->pos != NULL && c->pos->kind != MH_DNSBL_K_LISTED) {
            mh_textf(buf, len,
                     "%s not listed%s%s (test entry %s could not be checked)",
                     subj, zone_form ? " on " : "", zone_form ? zn : "",
                     mh_dnsbl_test_entry(c->z, fam, true));
        } else {
            mh_textf(buf, len, "%s not listed%s%s", subj,
                     zone_form ? " on " : "", zone_form ? zn : "");
        }
        return;
    case MH_DNSBL_V_LISTED:
        mh_textf(buf, len, "%s %s%s%s (%s%s%s)%s%s%s", subj,
                 a->list_kind == MH_DNSBL_KIND_ALLOW    ? "allowlisted"
                 : a->list_kind == MH_DNSBL_KIND_POLICY ? "policy-listed"
                 : a->list_kind == MH_DNSBL_KIND_INFO   ? "listed (info)"
                                                        : "listed",
                 zone_form ? " on " : "", zone_form ? zn : "", codes,
                 a->meaning[0] != '\0' ? ": " : "", a->meaning, sep, txt,
                 c->pos != NULL && c->pos->kind == MH_DNSBL_K_NOT_LISTED
                     ? " [zone test entry not listed]"
                     : "");
        return;
    case MH_DNSBL_V_ERROR_CODE:
        mh_textf(buf, len, "%s%srefused the query%s%s (%s: %s)%s%s%s%s",
                 zone_form ? zn : "", zone_form ? " " : "",
                 name_subject ? " for " : "", name_subject ? subj : "", culprit,
                 a->meaning, a->hint != NULL ? " - " : "",
                 a->hint != NULL ? a->hint : "", sep, txt);
        return;
    case MH_DNSBL_V_OUTSIDE:
        mh_textf(buf, len,
                 "%s%sanswered %s for %s, outside 127.0.0.0/8: broken zone "
                 "or a resolver rewriting NXDOMAIN%s%s",
                 zone_form ? zn : "", zone_form ? " " : "", codes, subj, sep,
                 txt);
        return;
    case MH_DNSBL_V_LISTS_EVERYTHING:
        mh_textf(buf, len,
                 "%s%slists everything (test entry %s is listed): its answer "
                 "for %s is not counted",
                 zone_form ? zn : "", zone_form ? " " : "",
                 mh_dnsbl_test_entry(c->z, fam, false), subj);
        return;
    case MH_DNSBL_V_NOT_WORKING:
        mh_textf(
            buf, len,
            "%s%sdoes not look like a%s DNSBL (zone does not exist%s / test "
            "entry %s not listed): no verdict for %s",
            zone_form ? zn : "", zone_form ? " " : "",
            fam == MH_DNSBL_FORM_V6 ? "n IPv6" : "",
            fam == MH_DNSBL_FORM_V6 ? " or lists no IPv6" : "",
            mh_dnsbl_test_entry(c->z, fam, true), subj);
        return;
    case MH_DNSBL_V_NOT_APPLICABLE:
        mh_textf(buf, len,
                 "%s not applicable%s%s: the zone lists %s (test entry %s "
                 "not listed%s)",
                 subj, zone_form ? " on " : "", zone_form ? zn : "",
                 fam == MH_DNSBL_FORM_NAME          ? "addresses, not names"
                 : fam == MH_DNSBL_FORM_V6          ? "no IPv6 addresses"
                 : a->kind == MH_DNSBL_K_ERROR_CODE ? "names, not addresses"
                                                    : "no IPv4 addresses",
                 mh_dnsbl_test_entry(c->z, fam, true),
                 a->kind == MH_DNSBL_K_ERROR_CODE ? ", answered 127.0.1.255"
                                                  : "");
        return;
    case MH_DNSBL_V_SKIPPED:
        if (c->pr->skip == MH_DNSBL_TAKE_BUDGET) {
            mh_textf(buf, len,
                     "%s%snot asked for %s: the zone's query budget (%u per "
                     "round) is spent",
                     zone_form ? zn : "", zone_form ? " " : "", subj,
                     c->budget);
        } else {
            char t[32], code[20];
            seconds_text(c->zr->backoff_s, t, sizeof t);
            mh_textf(
                buf, len,
                "%s%snot asked for %s: backs off for %s s after "
                "refusing a query (%s)",
                zone_form ? zn : "", zone_form ? " " : "", subj, t,
                mh_dnsbl_format_code(c->zr->refused_by, code, sizeof code));
        }
        return;
    case MH_DNSBL_V_FAILED:
    case MH_DNSBL_V_TIMEOUT:
        failure_text(c, why, sizeof why);
        if (name_subject) {
            mh_textf(buf, len, "lookup failed for %s: %s", subj, why);
        } else {
            mh_textf(buf, len, "lookup failed: %s", why);
        }
        return;
    }
    mh_textf(buf, len, "?");
}

/* Reason of a zone that gave no usable answer (verdict.h). */
static enum mh_reason
error_reason(const struct verdict_ctx *c)
{
    switch (c->v) {
    case MH_DNSBL_V_TIMEOUT:
        return MH_REASON_DNS_TIMEOUT;
    case MH_DNSBL_V_FAILED:
        return c->ans->rcode == MH_DNSBL_RC_UNREACHABLE
                   ? MH_REASON_DNS_LOOKUP_FAILED
                   : MH_REASON_DNSBL_LOOKUP_FAILED;
    case MH_DNSBL_V_ERROR_CODE:
        return MH_REASON_ZONE_REFUSED;
    case MH_DNSBL_V_SKIPPED:
        return c->pr->skip == MH_DNSBL_TAKE_BUDGET ? MH_REASON_ZONE_BUDGET
                                                   : MH_REASON_ZONE_REFUSED;
    case MH_DNSBL_V_OUTSIDE:
    case MH_DNSBL_V_LISTS_EVERYTHING:
    case MH_DNSBL_V_NOT_WORKING:
        return MH_REASON_ZONE_UNHEALTHY;
    case MH_DNSBL_V_NOT_LISTED:
    case MH_DNSBL_V_LISTED:
    case MH_DNSBL_V_NOT_APPLICABLE:
        break;
    }
    return MH_REASON_DNSBL_LOOKUP_FAILED;
}

static enum mh_state
default_judge(void *arg, size_t listed)
{
    (void)arg;
    return listed >= 1 ? MH_STATE_CRITICAL : MH_STATE_OK;
}

/* Bounded string builder for summaries. */
struct sbuf {
    char s[1024];
    size_t n;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_add(struct sbuf *b, const char *fmt, ...)
{
    if (b->n >= sizeof b->s - 1) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
    va_end(ap);
    if (k > 0) {
        b->n += (size_t)k;
        if (b->n >= sizeof b->s) {
            b->n = sizeof b->s - 1;
        }
    }
}

/* The check's targets for the summary: the addresses (more than 8 as
 * their blocks, or counted), then each host name with its addresses. With
 * listed (per subject: block zones listing it), only the listed ones: more
 * than 8 counted as "N of M addresses", a host name only with its listed
 * addresses, a clean target never named. */
static void
subject_desc(const struct mh_dnsbl_report *rep, const size_t *listed,
             struct sbuf *b)
{
    size_t nnum = 0, nshown = 0, k = 0;
    for (size_t i = 0; i < rep->nsubj; i++) {
        if (rep->subj[i]->host < 0) {
            nnum++;
            nshown += listed == NULL || listed[i] > 0 ? 1u : 0u;
        }
    }
    if (nshown > 8) {
        char n[32], m[32];
        mh_dnsbl_fmt_count(nshown, n, sizeof n);
        if (listed != NULL) {
            sb_add(b, "%s of %s addresses", n,
                   mh_dnsbl_fmt_count(nnum, m, sizeof m));
        } else if (rep->nblocks > 0 &&
                   rep->nblocks <= sizeof rep->blocks / sizeof rep->blocks[0]) {
            for (size_t i = 0; i < rep->nblocks; i++) {
                sb_add(b, "%s%s", i > 0 ? ", " : "", rep->blocks[i]);
            }
            sb_add(b, " (%s addresses)", n);
        } else {
            sb_add(b, "%s addresses", n);
        }
        k++;
    } else {
        for (size_t i = 0; i < rep->nsubj; i++) {
            if (rep->subj[i]->host < 0 && (listed == NULL || listed[i] > 0)) {
                sb_add(b, "%s%s", k++ > 0 ? ", " : "", rep->subj[i]->text);
            }
        }
    }
    for (size_t h = 0; h < rep->nhosts; h++) {
        size_t na = 0;
        bool named = listed == NULL;
        if (named) {
            sb_add(b, "%s%s", k++ > 0 ? ", " : "", rep->hosts[h].name);
        }
        for (size_t i = 0; i < rep->nsubj; i++) {
            const struct mh_dnsbl_subject *s = rep->subj[i];
            if (s->host != (int)h || (listed != NULL && listed[i] == 0)) {
                continue;
            }
            if (!named) {
                sb_add(b, "%s%s", k++ > 0 ? ", " : "", rep->hosts[h].name);
                named = true;
            }
            if (s->fam != MH_DNSBL_FORM_NAME) {
                sb_add(b, "%s%s", na++ > 0 ? ", " : " (", s->text);
            }
        }
        if (na > 0) {
            sb_add(b, ")");
        }
    }
}

/* Why the lookup of host name hq failed (or found nothing). */
static void
host_failure_text(const struct mh_dnsbl_report *rep,
                  const struct mh_dnsbl_host_report *hq, char *buf, size_t len,
                  enum mh_reason *reason, bool *no_address)
{
    int st = hq->status;
    *no_address = false;
    *reason = MH_REASON_DNS_LOOKUP_FAILED;
    if (!hq->done || st == ARES_ETIMEOUT || st == ARES_ECANCELLED ||
        st == ARES_EDESTRUCTION) {
        char t[32];
        seconds_text(rep->deadline_s, t, sizeof t);
        mh_textf(buf, len, "no DNS answer for %s within %s s", hq->name, t);
        *reason = MH_REASON_DNS_TIMEOUT;
        return;
    }
    if (st == ARES_ENOTFOUND || st == ARES_ENODATA || st == ARES_SUCCESS) {
        *no_address = true;
        *reason = MH_REASON_NAME_NOT_FOUND;
        mh_textf(buf, len, "%s has no %s address", hq->name,
                 rep->p->family == AF_INET    ? "IPv4"
                 : rep->p->family == AF_INET6 ? "IPv6"
                                              : "IPv4 or IPv6");
        return;
    }
    mh_textf(buf, len, "lookup of %s failed: %s", hq->name, ares_strerror(st));
}

/* Fills c with what describes subject s on zone zi, all but the verdict
 * (tmp: room for the combined test-entry answers). */
static void
pair_ctx(const struct mh_dnsbl_report *rep, size_t zi,
         const struct mh_dnsbl_subject *s, struct verdict_ctx *c,
         struct mh_dnsbl_answer tmp[4])
{
    const struct mh_dnsbl_zone_report *zr = &rep->zones[zi];
    const struct mh_dnsbl_health *h = &zr->h[s->fam];
    memset(c, 0, sizeof *c);
    c->s = s;
    c->z = zr->z;
    c->pr = &s->pairs[zi];
    c->ans = mh_dnsbl_pair_answer(c->pr, &tmp[3]);
    c->txt = c->pr->txt != NULL ? c->pr->txt : "";
    c->pos = combined(h->pos, h->npos, &tmp[0]);
    c->neg = combined(h->neg, h->nneg, &tmp[1]);
    c->deadline_s = rep->deadline_s;
    c->zr = zr;
    c->budget = rep->p->zone_budget;
}

/* Fills the verdict of subject s on zone zi into c (tmp as for
 * pair_ctx). */
static void
pair_verdict(const struct mh_dnsbl_report *rep, size_t zi,
             const struct mh_dnsbl_subject *s, struct verdict_ctx *c,
             struct mh_dnsbl_answer tmp[4])
{
    const struct mh_dnsbl_zone_report *zr = &rep->zones[zi];
    pair_ctx(rep, zi, s, c, tmp);
    if (c->pr->skip != MH_DNSBL_TAKE_OK) {
        c->v = MH_DNSBL_V_SKIPPED;
        return;
    }
    c->v = mh_dnsbl_decide(c->ans, c->pos, c->neg);
    if (c->z->type == MH_DNSBL_ZONE_ANY && s->fam != MH_DNSBL_FORM_NAME &&
        c->v == MH_DNSBL_V_ERROR_CODE && c->ans->culprit == 0x7f0001ffu) {
        /* Spamhaus DBL's "IP address queried on a domain list" on a zone
         * whose type was not given: the zone lists names. */
        c->v = MH_DNSBL_V_NOT_APPLICABLE;
        return;
    }
    int of[2];
    size_t nof = mh_dnsbl_other_forms(c->z, s->fam, of);
    for (size_t k = 0; k < nof && c->v == MH_DNSBL_V_NOT_WORKING; k++) {
        const struct mh_dnsbl_health *oh = &zr->h[of[k]];
        c->v = mh_dnsbl_refine(c->v, combined(oh->pos, oh->npos, &tmp[2]));
    }
}
/* A zone that warns (unhealthy, or not asked) without failing. */
static bool
zone_warns(unsigned zf)
{
    return (zf & (MH_DNSBL_ZF_UNHEALTHY | MH_DNSBL_ZF_SKIPPED)) != 0 &&
           (zf & MH_DNSBL_ZF_FAILED) == 0;
}

/* How one pair counts: its item state and reason, and the zone flag. */
static void
pair_state(const struct verdict_ctx *c, enum mh_state list_state,
           enum mh_state *st, enum mh_reason *reason, unsigned *flag)
{
    *st = MH_STATE_OK;
    *reason = MH_REASON_NONE;
    *flag = 0;
    switch (c->v) {
    case MH_DNSBL_V_NOT_APPLICABLE:
        return;
    case MH_DNSBL_V_NOT_LISTED:
        *flag = MH_DNSBL_ZF_QUERIED;
        return;
    case MH_DNSBL_V_LISTED:
        *flag = MH_DNSBL_ZF_QUERIED;
        switch (c->ans->list_kind) {
        case MH_DNSBL_KIND_BLOCK:
            *flag |= MH_DNSBL_ZF_LISTED;
            *st = list_state;
            *reason = MH_REASON_DNSBL_LISTED;
            return;
        case MH_DNSBL_KIND_POLICY:
            *flag |= MH_DNSBL_ZF_POLICY |
                     (c->ans->warn ? MH_DNSBL_ZF_POLICY_WARN : 0u);
            *st = c->ans->warn ? MH_STATE_WARNING : MH_STATE_OK;
            *reason = MH_REASON_DNSBL_POLICY_LISTED;
            return;
        case MH_DNSBL_KIND_ALLOW:
            *flag |= MH_DNSBL_ZF_ALLOW;
            return;
        case MH_DNSBL_KIND_INFO:
            *flag |= MH_DNSBL_ZF_INFO;
            return;
        }
        return;
    case MH_DNSBL_V_SKIPPED:
        /* our use of the zone, not the target's verdict */
        *flag =
            MH_DNSBL_ZF_QUERIED | MH_DNSBL_ZF_SKIPPED |
            (c->pr->skip == MH_DNSBL_TAKE_BACKOFF ? MH_DNSBL_ZF_REFUSED : 0u);
        *st = MH_STATE_WARNING;
        *reason = error_reason(c);
        return;
    case MH_DNSBL_V_NOT_WORKING:
    case MH_DNSBL_V_LISTS_EVERYTHING:
        /* zone health: its own signal, not the target's verdict */
        *flag = MH_DNSBL_ZF_QUERIED | MH_DNSBL_ZF_UNHEALTHY;
        *st = MH_STATE_WARNING;
        *reason = MH_REASON_ZONE_UNHEALTHY;
        return;
    case MH_DNSBL_V_ERROR_CODE:
        *reason = MH_REASON_ZONE_REFUSED;
        if (c->z->kind == MH_DNSBL_KIND_ALLOW ||
            c->z->kind == MH_DNSBL_KIND_INFO) {
            /* the verdict does not depend on this zone */
            *flag = MH_DNSBL_ZF_QUERIED | MH_DNSBL_ZF_UNHEALTHY |
                    MH_DNSBL_ZF_REFUSED;
            *st = MH_STATE_WARNING;
        } else {
            *flag =
                MH_DNSBL_ZF_QUERIED | MH_DNSBL_ZF_FAILED | MH_DNSBL_ZF_REFUSED;
            *st = MH_STATE_UNKNOWN;
        }
        return;
    case MH_DNSBL_V_OUTSIDE:
    case MH_DNSBL_V_FAILED:
    case MH_DNSBL_V_TIMEOUT:
        *flag = MH_DNSBL_ZF_QUERIED | MH_DNSBL_ZF_FAILED;
        *st = MH_STATE_UNKNOWN;
        *reason = error_reason(c);
        return;
    }
}

/* One part of the summary. */
struct part {
    enum mh_state st;
    enum mh_reason reason;
    struct sbuf lead, tail; /* text when it leads / when it follows */
};

/* Appends the names of the zones with flag set (except skip). */
static void
zone_names(const struct mh_dnsbl_report *rep, unsigned flag, size_t skip,
           struct sbuf *b)
{
    for (size_t zi = 0, k = 0; zi < rep->nz; zi++) {
        if ((rep->zones[zi].flags & flag) != 0 && zi != skip) {
            sb_add(b, "%s%s", k++ > 0 ? ", " : "", rep->zones[zi].z->name);
        }
    }
}

/* "3 of 1,024 addresses listed on 2 zones: 192.0.2.10 (bl.example,
 * zen.example), ...": the summary of listings when many targets are
 * checked (sl: block zones listing each subject). */
static void
listed_subjects(const struct mh_dnsbl_report *rep, const size_t *sl,
                size_t nlisted, size_t nzones, struct sbuf *b)
{
    char n1[32], n2[32];
    bool names = false;
    for (size_t si = 0; si < rep->nsubj; si++) {
        names = names || rep->subj[si]->fam == MH_DNSBL_FORM_NAME;
    }
    sb_add(b, "%s of %s %s listed on %zu zone%s: ",
           mh_dnsbl_fmt_count(nlisted, n1, sizeof n1),
           mh_dnsbl_fmt_count(rep->nsubj, n2, sizeof n2),
           names ? "addresses and names" : "addresses", nzones,
           nzones == 1 ? "" : "s");
    for (size_t si = 0, k = 0; si < rep->nsubj; si++) {
        const struct mh_dnsbl_subject *s = rep->subj[si];
        if (sl[si] == 0) {
            continue;
        }
        sb_add(b, "%s%s (", k++ > 0 ? ", " : "", s->text);
        for (size_t zi = 0, m = 0; zi < rep->nz; zi++) {
            if (!s->pairs[zi].applicable) {
                continue;
            }
            if ((mh_dnsbl_verdict_of(rep, zi, si)->flag & MH_DNSBL_ZF_LISTED) !=
                0) {
                sb_add(b, "%s%s", m++ > 0 ? ", " : "", rep->zones[zi].z->name);
            }
        }
        sb_add(b, ")");
    }
}

/* Policy and allow listings named in the summary (the rest counted). */
#define SUMMARY_NOTES_MAX 3

/* Counts subject si's verdict v (its line's state st and reason) in the
 * aggregate of a zone. */
static void
agg_count(struct mh_dnsbl_zone_agg *a, size_t si, enum mh_dnsbl_verdict v,
          enum mh_state st, enum mh_reason reason)
{
    a->total++;
    if (v == MH_DNSBL_V_NOT_LISTED) {
        a->clean++;
    } else if (v == MH_DNSBL_V_NOT_APPLICABLE) {
        if (a->na++ == 0) {
            a->first_na = si;
        }
    } else {
        if (a->failed++ == 0) {
            a->first_failed = si;
            a->reason = reason;
            a->state = st;
        } else if (mh_state_rank(st) > mh_state_rank(a->state)) {
            a->state = st;
        }
    }
}

/* The summary's parts; ties between equal states go to the first. */
enum { P_LISTED, P_POLICY, P_UNHEALTHY, P_FAILED, P_ALLOW, P_COUNT };

/* The phase of the failure when a part leads the summary. */
static const char *const part_phase[P_COUNT] = {
    "listing", "listing", "zone_health", "lookup", "listing"};

/* A report being judged: what the summary is built from. */
struct report {
    struct mh_dnsbl_report *rep;
    enum mh_state *sst; /* per subject: the state of its listings */
    size_t *hmark;      /* per host name: the zone last counted, + 1 */
    struct part parts[P_COUNT];
    size_t nlisting, npol, nalw; /* listings, policy and allow notes */
    size_t ninfo;                /* the info listings among nalw's */
    size_t first_err_zone, first_unh_zone;
    int lead_host; /* host name of the first listed address */
};

/* Sets the failure record of rep. */
static void
set_failure(struct mh_dnsbl_report *rep, enum mh_state state,
            enum mh_reason reason, const char *phase, const char *cause)
{
    rep->failure.state = state;
    rep->failure.reason = reason;
    rep->failure.category = mh_reason_category(reason);
    rep->failure.phase = phase;
    mh_textf(rep->failure.cause, sizeof rep->failure.cause, "%s", cause);
}

const struct mh_dnsbl_pair_verdict *
mh_dnsbl_verdict_of(const struct mh_dnsbl_report *rep, size_t zi, size_t si)
{
    return &rep->verdicts[si * rep->nz + zi];
}

static struct mh_dnsbl_pair_verdict *
verdict_at(struct mh_dnsbl_report *rep, size_t zi, size_t si)
{
    return &rep->verdicts[si * rep->nz + zi];
}

/* Pass 1: every pair's verdict gives the zone flags and the listings per
 * subject and per host name. */
static void
judge_pairs(struct report *rp)
{
    struct mh_dnsbl_report *rep = rp->rep;
    struct mh_dnsbl_answer tmp[4];
    struct verdict_ctx c;
    for (size_t zi = 0; zi < rep->nz; zi++) {
        rep->zones[zi].flags = 0;
        memset(&rep->zones[zi].agg, 0, sizeof rep->zones[zi].agg);
    }
    for (size_t h = 0; h < rep->nhosts; h++) {
        rep->hosts[h].listed_on = 0;
        rep->hosts[h].failed = rep->hosts[h].noaddr = false;
        rep->hosts[h].reason = MH_REASON_NONE;
        rep->hosts[h].why[0] = '\0';
    }
    for (size_t zi = 0; zi < rep->nz; zi++) {
        for (size_t si = 0; si < rep->nsubj; si++) {
            const struct mh_dnsbl_subject *s = rep->subj[si];
            if (!s->pairs[zi].applicable) {
                continue;
            }
            pair_verdict(rep, zi, s, &c, tmp);
            enum mh_state st;
            enum mh_reason reason;
            unsigned flag;
            pair_state(&c, MH_STATE_OK, &st, &reason, &flag);
            struct mh_dnsbl_pair_verdict *pv = verdict_at(rep, zi, si);
            pv->v = (unsigned char)c.v;
            pv->flag = (unsigned short)flag;
            rep->zones[zi].flags |= flag;
            if ((flag & MH_DNSBL_ZF_LISTED) == 0) {
                continue;
            }
            rep->subj_listed[si]++;
            if (s->host >= 0 && rp->hmark[s->host] != zi + 1) {
                rp->hmark[s->host] = zi + 1;
                rep->hosts[s->host].listed_on++;
            }
        }
    }
}

/* Host names that gave no address: a failure, unless the name itself got
 * an answer as a domain (then it is a domain, not a host). */
static void
judge_hosts(struct report *rp)
{
    struct mh_dnsbl_report *rep = rp->rep;
    for (size_t h = 0; h < rep->nhosts; h++) {
        struct mh_dnsbl_host_report *hq = &rep->hosts[h];
        bool has_addr = false, domain_answered = false;
        for (size_t si = 0; si < rep->nsubj; si++) {
            const struct mh_dnsbl_subject *s = rep->subj[si];
            if (s->host != (int)h) {
                continue;
            }
            has_addr = has_addr || s->fam != MH_DNSBL_FORM_NAME;
            for (size_t zi = 0; s->fam == MH_DNSBL_FORM_NAME && zi < rep->nz;
                 zi++) {
                if (!s->pairs[zi].applicable) {
                    continue;
                }
                unsigned v = mh_dnsbl_verdict_of(rep, zi, si)->v;
                domain_answered = domain_answered || v == MH_DNSBL_V_LISTED ||
                                  v == MH_DNSBL_V_NOT_LISTED;
            }
        }
        if (has_addr || !rep->any_ip_zone) {
            continue;
        }
        host_failure_text(rep, hq, hq->why, sizeof hq->why, &hq->reason,
                          &hq->noaddr);
        hq->failed = !(hq->noaddr && domain_answered);
        for (size_t zi = 0; hq->failed && zi < rep->nz; zi++) {
            if (mh_dnsbl_zone_is_ip(rep->zones[zi].z)) {
                rep->zones[zi].flags |= MH_DNSBL_ZF_FAILED |
                                        MH_DNSBL_ZF_QUERIED |
                                        MH_DNSBL_ZF_HOSTFAIL;
            }
        }
    }
}

/* The zone counts, and the listings' state: -w/-c judge each target, an
 * address by the block zones listing it, a host name by the block zones
 * listing any of its addresses or the name; the listings' state is the
 * worst of the targets'. */
static void
judge_listings(struct report *rp)
{
    struct mh_dnsbl_report *rep = rp->rep;
    const struct mh_dnsbl_params *p = rep->p;
    for (size_t zi = 0; zi < rep->nz; zi++) {
        unsigned zf = rep->zones[zi].flags;
        rep->zones_listing += (zf & MH_DNSBL_ZF_LISTED) != 0 ? 1u : 0u;
        rep->zones_failed += (zf & MH_DNSBL_ZF_FAILED) != 0 ? 1u : 0u;
        rep->zones_warning += zone_warns(zf) ? 1u : 0u;
        rep->zones_queried += (zf & MH_DNSBL_ZF_QUERIED) != 0 ? 1u : 0u;
    }
    mh_dnsbl_judge_fn judge = p->judge != NULL ? p->judge : default_judge;
    rep->list_state = MH_STATE_OK;
    bool judged = false;
    for (size_t si = 0; si < rep->nsubj; si++) {
        const struct mh_dnsbl_subject *s = rep->subj[si];
        rp->sst[si] =
            judge(p->judge_arg, s->host >= 0 ? rep->hosts[s->host].listed_on
                                             : rep->subj_listed[si]);
        rep->nlisted_subj += rep->subj_listed[si] > 0 ? 1u : 0u;
        if (s->host < 0 || rep->subj_listed[si] > 0) {
            judged = true;
            if (mh_state_rank(rp->sst[si]) > mh_state_rank(rep->list_state)) {
                rep->list_state = rp->sst[si];
            }
        }
    }
    if (!judged) {
        rep->list_state = judge(p->judge_arg, rep->zones_listing);
    }
}

/* Pass 2: what the verdict of subject si on zone zi (flag, reason,
 * codes, worded as ztext) adds to the summary's parts. */
static void
note_pair(struct report *rp, size_t zi, size_t si, unsigned flag,
          enum mh_reason reason, const char *codes, const char *ztext)
{
    const struct mh_dnsbl_subject *s = rp->rep->subj[si];
    const char *zone = rp->rep->zones[zi].z->name;
    struct part *lst = &rp->parts[P_LISTED], *pol = &rp->parts[P_POLICY],
                *unh = &rp->parts[P_UNHEALTHY], *err = &rp->parts[P_FAILED],
                *alw = &rp->parts[P_ALLOW];
    if ((flag & MH_DNSBL_ZF_LISTED) != 0) {
        if (rp->rep->many) {
            sb_add(&lst->tail, "%s%s (%s: %s)", rp->nlisting > 0 ? ", " : "",
                   zone, s->text, codes);
        } else {
            sb_add(&lst->tail, "%s%s (%s)", rp->nlisting > 0 ? ", " : "", zone,
                   codes);
        }
        if (rp->nlisting++ == 0) {
            sb_add(&lst->lead, "%s", ztext);
            rp->lead_host = s->fam != MH_DNSBL_FORM_NAME ? s->host : -1;
        }
    } else if ((flag & MH_DNSBL_ZF_POLICY) != 0) {
        if (rp->npol++ < SUMMARY_NOTES_MAX) {
            sb_add(&pol->lead, "%s%s", rp->npol > 1 ? ", " : "", ztext);
        }
    } else if ((flag & (MH_DNSBL_ZF_ALLOW | MH_DNSBL_ZF_INFO)) != 0) {
        /* allow and info listings are the summary's notes */
        rp->ninfo += (flag & MH_DNSBL_ZF_INFO) != 0 ? 1u : 0u;
        if (rp->nalw++ < SUMMARY_NOTES_MAX) {
            sb_add(&alw->lead, "%s%s", rp->nalw > 1 ? ", " : "", ztext);
        }
    } else if ((flag & MH_DNSBL_ZF_FAILED) != 0 &&
               err->reason == MH_REASON_NONE) {
        sb_add(&err->lead, "%s", ztext);
        err->reason = reason;
        rp->first_err_zone = zi;
    } else if ((flag & (MH_DNSBL_ZF_UNHEALTHY | MH_DNSBL_ZF_SKIPPED)) != 0 &&
               unh->reason == MH_REASON_NONE) {
        sb_add(&unh->lead, "%s", ztext);
        unh->reason = reason;
        rp->first_unh_zone = zi;
    }
}

/* Pass 2, zone zi in the configured order: the host names that gave no
 * address, then each pair's state and reason (a listing judged with its
 * subject's listings), its note in the summary and, with many targets, its
 * count in the zone's aggregate. */
static void
judge_zone(struct report *rp, size_t zi)
{
    struct mh_dnsbl_report *rep = rp->rep;
    struct part *err = &rp->parts[P_FAILED];
    for (size_t h = 0; h < rep->nhosts; h++) {
        const struct mh_dnsbl_host_report *hq = &rep->hosts[h];
        if (hq->failed && mh_dnsbl_zone_is_ip(rep->zones[zi].z) &&
            err->reason == MH_REASON_NONE) {
            sb_add(&err->lead, "%s", hq->why);
            err->reason = hq->reason;
            rp->first_err_zone = zi;
        }
    }
    struct mh_dnsbl_zone_agg *agz = &rep->zones[zi].agg;
    struct mh_dnsbl_answer tmp[4];
    struct verdict_ctx c;
    char ztext[900], codes[200];
    for (size_t si = 0; si < rep->nsubj; si++) {
        const struct mh_dnsbl_subject *s = rep->subj[si];
        if (!s->pairs[zi].applicable) {
            continue;
        }
        struct mh_dnsbl_pair_verdict *pv = verdict_at(rep, zi, si);
        pair_ctx(rep, zi, s, &c, tmp);
        c.v = (enum mh_dnsbl_verdict)pv->v;
        ztext[0] = '\0';
        if (!rep->agg || c.v != MH_DNSBL_V_NOT_LISTED) {
            /* (the bulk of many targets is only counted) */
            describe(&c, rep->many ? FORM_ZONE_SUBJECT : FORM_ZONE, ztext,
                     sizeof ztext);
        }
        enum mh_state st;
        enum mh_reason reason;
        unsigned flag;
        pair_state(&c, rp->sst[si], &st, &reason, &flag);
        pv->state = (unsigned char)st;
        pv->reason = (unsigned short)reason;
        mh_dnsbl_codes_text(c.ans, codes, sizeof codes);
        note_pair(rp, zi, si, flag, reason, codes, ztext);
        if (rep->agg && c.v != MH_DNSBL_V_LISTED) {
            agg_count(agz, si, c.v, st, reason);
        } else {
            agz->total++;
        }
    }
}

/* The summary's listing part: the one listing as it reads on its line,
 * or the subjects (subj) and the zones listing them. */
static void
report_part_listed(struct report *rp, const struct sbuf *subj)
{
    struct part *lst = &rp->parts[P_LISTED];
    size_t L = rp->rep->zones_listing;
    if (L == 0) {
        return;
    }
    lst->st = rp->rep->list_state;
    lst->reason = MH_REASON_DNSBL_LISTED;
    struct sbuf who = {.n = 0};
    if (rp->rep->many && !rp->rep->agg) {
        subject_desc(rp->rep, rp->rep->subj_listed, &who);
        if (who.n > 0) {
            subj = &who; /* name only the subjects that are listed */
        }
    }
    if (rp->rep->agg) {
        struct sbuf b = {.n = 0};
        listed_subjects(rp->rep, rp->rep->subj_listed, rp->rep->nlisted_subj, L,
                        &b);
        lst->lead = b;
    } else if (L == 1 && rp->nlisting == 1 &&
               rp->rep->list_state != MH_STATE_OK) {
        struct sbuf one = {.n = 0};
        if (rp->lead_host >= 0) {
            sb_add(&one, "%s: ", rp->rep->hosts[rp->lead_host].name);
        }
        sb_add(&one, "%s", lst->lead.s);
        lst->lead = one;
    } else {
        struct sbuf b = {.n = 0};
        sb_add(&b, "%s listed on %zu of %zu zones%s: %s", subj->s, L,
               rp->rep->zones_queried,
               rp->rep->list_state == MH_STATE_OK ? " (within thresholds)" : "",
               lst->tail.s);
        lst->lead = b;
    }
    struct sbuf t = {.n = 0};
    if (rp->rep->agg) {
        sb_add(&t, "%s", lst->lead.s);
    } else {
        sb_add(&t, "%s listed on %zu zone%s within thresholds: %s", subj->s, L,
               L == 1 ? "" : "s", lst->tail.s);
    }
    lst->tail = t;
}

/* The summary's policy part and its notes, allow and info listings (the first
 * SUMMARY_NOTES_MAX named, the rest counted). */
static void
report_part_notes(struct report *rp)
{
    struct part *pol = &rp->parts[P_POLICY], *alw = &rp->parts[P_ALLOW];
    if (rp->npol > 0) {
        pol->st = MH_STATE_OK;
        for (size_t zi = 0; zi < rp->rep->nz; zi++) {
            if ((rp->rep->zones[zi].flags & MH_DNSBL_ZF_POLICY_WARN) != 0) {
                pol->st = MH_STATE_WARNING;
            }
        }
        pol->reason = MH_REASON_DNSBL_POLICY_LISTED;
        if (rp->npol > SUMMARY_NOTES_MAX) {
            sb_add(&pol->lead, " (and %zu more policy listings)",
                   rp->npol - SUMMARY_NOTES_MAX);
        }
        pol->tail = pol->lead;
    }
    if (rp->nalw > 0) {
        if (rp->nalw > SUMMARY_NOTES_MAX) {
            sb_add(&alw->lead, " (and %zu more %s listings)",
                   rp->nalw - SUMMARY_NOTES_MAX,
                   rp->ninfo > 0 ? "allow or info" : "allow");
        }
        alw->tail = alw->lead;
    }
}

/* Appends to b the names of the zones that warn (except skip). */
static void
warn_zone_names(const struct report *rp, size_t skip, struct sbuf *b)
{
    for (size_t zi = 0, k = 0; zi < rp->rep->nz; zi++) {
        if (zone_warns(rp->rep->zones[zi].flags) && zi != skip) {
            sb_add(b, "%s%s", k++ > 0 ? ", " : "", rp->rep->zones[zi].z->name);
        }
    }
}

/* The summary's parts for failed zones (UNKNOWN) and unhealthy or not
 * asked ones (WARNING). */
static void
report_part_zones(struct report *rp)
{
    struct part *err = &rp->parts[P_FAILED], *unh = &rp->parts[P_UNHEALTHY];
    size_t E = rp->rep->zones_failed, H = rp->rep->zones_warning;
    if (E > 0) {
        err->st = MH_STATE_UNKNOWN;
        if (E > 1) {
            sb_add(&err->lead, " (and %zu more zone%s failed: ", E - 1,
                   E - 1 == 1 ? "" : "s");
            zone_names(rp->rep, MH_DNSBL_ZF_FAILED, rp->first_err_zone,
                       &err->lead);
            sb_add(&err->lead, ")");
        }
        sb_add(&err->tail, "%zu zone%s failed: ", E, E == 1 ? "" : "s");
        zone_names(rp->rep, MH_DNSBL_ZF_FAILED, rp->rep->nz, &err->tail);
    }
    if (H > 0) {
        const char *unh_word = "unhealthy";
        for (size_t zi = 0; zi < rp->rep->nz; zi++) {
            if ((rp->rep->zones[zi].flags & MH_DNSBL_ZF_SKIPPED) != 0) {
                unh_word = "unhealthy or not asked";
            }
        }
        unh->st = MH_STATE_WARNING;
        if (H > 1) {
            sb_add(&unh->lead, " (and %zu more zone%s %s: ", H - 1,
                   H - 1 == 1 ? "" : "s", unh_word);
            warn_zone_names(rp, rp->first_unh_zone, &unh->lead);
            sb_add(&unh->lead, ")");
        }
        sb_add(&unh->tail, "%zu zone%s %s: ", H, H == 1 ? "" : "s", unh_word);
        warn_zone_names(rp, rp->rep->nz, &unh->tail);
    }
}

/* The state and summary: worst(judge(L), policy severity, unhealthy zones
 * WARNING, failed zones UNKNOWN) in the order of mh_state_rank(); the
 * summary leads with the part that decided it (ties: listing, policy,
 * unhealthy zone, failed zone, allow list), the others follow. */
static void
report_summary(struct report *rp, const struct sbuf *subj)
{
    const struct mh_dnsbl_report *rep = rp->rep;
    const struct part *parts = rp->parts;
    size_t N = rp->rep->zones_queried, L = rp->rep->zones_listing;
    bool present[P_COUNT] = {L > 0, rp->npol > 0, rp->rep->zones_warning > 0,
                             rp->rep->zones_failed > 0, rp->nalw > 0};
    int lead = -1;
    for (int i = 0; i < P_COUNT; i++) {
        if (present[i] && (lead < 0 || mh_state_rank(parts[i].st) >
                                           mh_state_rank(parts[lead].st))) {
            lead = i;
        }
    }
    struct sbuf sum = {.n = 0};
    enum mh_state state = MH_STATE_OK;
    enum mh_reason reason = MH_REASON_NONE;
    const char *phase = "";
    if (N == 0) {
        sb_add(&sum, "no zone applies to %s", subj->s);
        set_failure(rp->rep, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "zones",
                    sum.s);
        return;
    }
    /* zones that answered and list nothing */
    size_t noted = 0;
    for (size_t zi = 0; zi < rep->nz; zi++) {
        noted += (rp->rep->zones[zi].flags &
                  (MH_DNSBL_ZF_LISTED | MH_DNSBL_ZF_POLICY | MH_DNSBL_ZF_ALLOW |
                   MH_DNSBL_ZF_FAILED | MH_DNSBL_ZF_UNHEALTHY |
                   MH_DNSBL_ZF_SKIPPED | MH_DNSBL_ZF_INFO)) != 0
                     ? 1u
                     : 0u;
    }
    size_t clean = N - noted;
    if (lead < 0 || (parts[lead].st == MH_STATE_OK && L == 0)) {
        /* nothing alerts: the notes, then what was clean */
        size_t k = 0;
        for (int i = 0; i < P_COUNT; i++) {
            if (present[i]) {
                sb_add(&sum, "%s%s", k++ > 0 ? "; " : "", parts[i].tail.s);
            }
        }
        if (k == 0 && N == 1) {
            for (size_t zi = 0; zi < rep->nz; zi++) {
                if ((rp->rep->zones[zi].flags & MH_DNSBL_ZF_QUERIED) != 0) {
                    sb_add(&sum, "%s not listed on %s", subj->s,
                           rep->zones[zi].z->name);
                }
            }
        } else if (k == 0) {
            sb_add(&sum, "%s not listed on %zu zones", subj->s, N);
        } else if (clean > 0) {
            sb_add(&sum, "; %s not listed on the other %zu zone%s", subj->s,
                   clean, clean == 1 ? "" : "s");
        }
    } else {
        sb_add(&sum, "%s", parts[lead].lead.s);
        state = parts[lead].st;
        reason = parts[lead].reason;
        phase = part_phase[lead];
        for (int i = 0; i < P_COUNT; i++) {
            if (present[i] && i != lead) {
                sb_add(&sum, "; %s", parts[i].tail.s);
            }
        }
        if (lead != P_LISTED && L == 0 && clean > 0) {
            sb_add(&sum, "; %s not listed on the other %zu zone%s", subj->s,
                   clean, clean == 1 ? "" : "s");
        }
    }
    set_failure(rp->rep, state, reason, phase, sum.s);
}

static void
report_free(struct report *rp)
{
    free(rp->sst);
    free(rp->hmark);
    free(rp);
}

int
mh_dnsbl_report_judge(struct mh_dnsbl_report *rep)
{
    struct report *rp = calloc(1, sizeof *rp);
    if (rp == NULL) {
        return -1;
    }
    rp->rep = rep;
    rp->sst = calloc(rep->nsubj + 1, sizeof *rp->sst);
    rp->hmark = calloc(rep->nhosts + 1, sizeof *rp->hmark);
    rep->verdicts = calloc(rep->nsubj * rep->nz + 1, sizeof *rep->verdicts);
    rep->subj_listed = calloc(rep->nsubj + 1, sizeof *rep->subj_listed);
    if (rp->sst == NULL || rp->hmark == NULL || rep->verdicts == NULL ||
        rep->subj_listed == NULL) {
        report_free(rp);
        mh_dnsbl_report_release(rep);
        return -1;
    }
    rep->many = rep->nsubj > 1;
    rep->agg = rep->nsubj > MH_DNSBL_DETAIL_MAX;
    rep->zones_listing = rep->zones_failed = 0;
    rep->zones_warning = rep->zones_queried = rep->nlisted_subj = 0;
    rp->first_err_zone = rp->first_unh_zone = rep->nz;
    rp->lead_host = -1;
    judge_pairs(rp);
    judge_hosts(rp);
    judge_listings(rp);
    for (size_t zi = 0; zi < rep->nz; zi++) {
        judge_zone(rp, zi);
    }
    struct sbuf subj = {.n = 0};
    subject_desc(rep, NULL, &subj);
    report_part_listed(rp, &subj);
    report_part_notes(rp);
    report_part_zones(rp);
    report_summary(rp, &subj);
    report_free(rp);
    return 0;
}

void
mh_dnsbl_report_release(struct mh_dnsbl_report *rep)
{
    free(rep->verdicts);
    rep->verdicts = NULL;
    free(rep->subj_listed);
    rep->subj_listed = NULL;
}

void
mh_dnsbl_pair_text(const struct mh_dnsbl_report *rep, size_t zi, size_t si,
                   enum mh_dnsbl_wording w, char *buf, size_t len)
{
    struct mh_dnsbl_answer tmp[4];
    struct verdict_ctx c;
    pair_ctx(rep, zi, rep->subj[si], &c, tmp);
    c.v = (enum mh_dnsbl_verdict)mh_dnsbl_verdict_of(rep, zi, si)->v;
    describe(&c,
             w == MH_DNSBL_WORD_ITEM   ? FORM_ITEM
             : w == MH_DNSBL_WORD_ZONE ? FORM_ZONE
                                       : FORM_ZONE_SUBJECT,
             buf, len);
}
