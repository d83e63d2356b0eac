/* SPDX-License-Identifier: MIT */
/*
 * dnsbl_render: turns the facts of a DNSBL run (struct mh_dnsbl_report,
 * dnsbl.h) into the result: one item per (subject, zone) pair, notes for
 * host names and zones, perfdata, Prometheus samples, the state and the
 * summary. The only place the DNSBL check writes its result.
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
static void
codes_text(const struct mh_dnsbl_answer *a, char *buf, size_t len)
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
    codes_text(a, codes, sizeof codes);
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

/* Subject description for the summary: "192.0.2.10", "192.0.2.0/24 (256
 * addresses)", "1,024 addresses", or
 * for a host name "mx.example.com (192.0.2.1, 2001:db8::1)". */
static void
subject_desc(const struct mh_dnsbl_report *rep, struct sbuf *b)
{
    size_t nnum = 0, k = 0;
    for (size_t i = 0; i < rep->nsubj; i++) {
        nnum += rep->subj[i]->host < 0 ? 1u : 0u;
    }
    if (nnum > 8) {
        char n[32];
        mh_dnsbl_fmt_count(nnum, n, sizeof n);
        if (rep->nblocks > 0 &&
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
            if (rep->subj[i]->host < 0) {
                sb_add(b, "%s%s", k++ > 0 ? ", " : "", rep->subj[i]->text);
            }
        }
    }
    for (size_t h = 0; h < rep->nhosts; h++) {
        sb_add(b, "%s%s", k++ > 0 ? ", " : "", rep->hosts[h].name);
        size_t na = 0;
        for (size_t i = 0; i < rep->nsubj; i++) {
            const struct mh_dnsbl_subject *s = rep->subj[i];
            if (s->host == (int)h && s->fam != MH_DNSBL_FORM_NAME) {
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

/* Fills the verdict of subject s on zone zi into c (tmp: room for the
 * combined test-entry answers). */
static void
pair_verdict(const struct mh_dnsbl_report *rep, size_t zi,
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

/* Per-zone facts of a rep (report). */
enum {
    Z_QUERIED = 1u << 0,   /* some subject got an applicable answer */
    Z_LISTED = 1u << 1,    /* block listing */
    Z_FAILED = 1u << 2,    /* no usable answer: UNKNOWN */
    Z_UNHEALTHY = 1u << 3, /* fails its test points, or refused on an
                              allow/info zone: WARNING */
    Z_POLICY = 1u << 4,    /* policy listing */
    Z_POLICY_WARN = 1u << 5,
    Z_ALLOW = 1u << 6, /* allow listing */
    Z_HOSTFAIL = 1u << 7,
    Z_REFUSED = 1u << 8, /* an error code ("blocked", over quota) */
    Z_SKIPPED = 1u << 9  /* not asked (budget, back-off): WARNING */
};

/* A zone that warns (unhealthy, or not asked) without failing. */
static bool
zone_warns(unsigned zf)
{
    return (zf & (Z_UNHEALTHY | Z_SKIPPED)) != 0 && (zf & Z_FAILED) == 0;
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
        *flag = Z_QUERIED;
        return;
    case MH_DNSBL_V_LISTED:
        *flag = Z_QUERIED;
        switch (c->ans->list_kind) {
        case MH_DNSBL_KIND_BLOCK:
            *flag |= Z_LISTED;
            *st = list_state;
            *reason = MH_REASON_DNSBL_LISTED;
            return;
        case MH_DNSBL_KIND_POLICY:
            *flag |= Z_POLICY | (c->ans->warn ? Z_POLICY_WARN : 0u);
            *st = c->ans->warn ? MH_STATE_WARNING : MH_STATE_OK;
            *reason = MH_REASON_DNSBL_POLICY_LISTED;
            return;
        case MH_DNSBL_KIND_ALLOW:
            *flag |= Z_ALLOW;
            return;
        case MH_DNSBL_KIND_INFO:
            return;
        }
        return;
    case MH_DNSBL_V_SKIPPED:
        /* our use of the zone, not the target's verdict */
        *flag = Z_QUERIED | Z_SKIPPED |
                (c->pr->skip == MH_DNSBL_TAKE_BACKOFF ? Z_REFUSED : 0u);
        *st = MH_STATE_WARNING;
        *reason = error_reason(c);
        return;
    case MH_DNSBL_V_NOT_WORKING:
    case MH_DNSBL_V_LISTS_EVERYTHING:
        /* zone health: its own signal, not the target's verdict */
        *flag = Z_QUERIED | Z_UNHEALTHY;
        *st = MH_STATE_WARNING;
        *reason = MH_REASON_ZONE_UNHEALTHY;
        return;
    case MH_DNSBL_V_ERROR_CODE:
        *reason = MH_REASON_ZONE_REFUSED;
        if (c->z->kind == MH_DNSBL_KIND_ALLOW ||
            c->z->kind == MH_DNSBL_KIND_INFO) {
            /* the verdict does not depend on this zone */
            *flag = Z_QUERIED | Z_UNHEALTHY | Z_REFUSED;
            *st = MH_STATE_WARNING;
        } else {
            *flag = Z_QUERIED | Z_FAILED | Z_REFUSED;
            *st = MH_STATE_UNKNOWN;
        }
        return;
    case MH_DNSBL_V_OUTSIDE:
    case MH_DNSBL_V_FAILED:
    case MH_DNSBL_V_TIMEOUT:
        *flag = Z_QUERIED | Z_FAILED;
        *st = MH_STATE_UNKNOWN;
        *reason = error_reason(c);
        return;
    }
}

/* The zone flag of subject s on zone zi (its verdict in c, tmp as for
 * pair_verdict), listings judged as OK. */
static unsigned
pair_flag(const struct mh_dnsbl_report *rep, size_t zi,
          const struct mh_dnsbl_subject *s, struct verdict_ctx *c,
          struct mh_dnsbl_answer tmp[4])
{
    pair_verdict(rep, zi, s, c, tmp);
    enum mh_state st;
    enum mh_reason reason;
    unsigned flag;
    pair_state(c, MH_STATE_OK, &st, &reason, &flag);
    return flag;
}

/* One part of the summary. */
struct part {
    enum mh_state st;
    enum mh_reason reason;
    struct sbuf lead, tail; /* text when it leads / when it follows */
};

/* Appends the names of the zones with flag set (except skip). */
static void
zone_names(const struct mh_dnsbl_report *rep, const unsigned *zf, unsigned flag,
           size_t skip, struct sbuf *b)
{
    for (size_t zi = 0, k = 0; zi < rep->nz; zi++) {
        if ((zf[zi] & flag) != 0 && zi != skip) {
            sb_add(b, "%s%s", k++ > 0 ? ", " : "", rep->zones[zi].z->name);
        }
    }
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
zone_health(const struct mh_dnsbl_report *rep, struct mh_result *r,
            const unsigned *zf)
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
        bool down = neg_listed || (zf[zi] & (Z_UNHEALTHY | Z_REFUSED)) != 0;
        if (!down && !pos_ok) {
            continue;
        }
        if (down && !neg_listed) {
            entry = NULL;
        }
        const char *why = neg_listed ? "lists its negative test entry"
                          : (zf[zi] & Z_REFUSED) != 0
                              ? "refused a query (error code)"
                              : "fails its test entries";
        struct mh_item *it;
        if (down) {
            it = mh_result_add_item(
                r, "health", zr->z->name, MH_STATE_WARNING,
                (zf[zi] & Z_REFUSED) != 0 && !neg_listed
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
    struct mh_dnsbl_answer tmp[4];
    struct verdict_ctx c;
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
            if ((pair_flag(rep, zi, s, &c, tmp) & Z_LISTED) != 0) {
                sb_add(b, "%s%s", m++ > 0 ? ", " : "", rep->zones[zi].z->name);
            }
        }
        sb_add(b, ")");
    }
}

/* Policy and allow listings named in the summary (the rest counted). */
#define SUMMARY_NOTES_MAX 3

/* One zone's pairs without a listing when many targets are checked: one
 * line each for the clean, the not applicable and the failed ones. */
struct agg {
    size_t total, clean, na, failed;
    enum mh_state st;      /* worst state of the failed ones */
    enum mh_reason reason; /* of the first failed one */
    char first_na[900], first_failed[900];
};

static void
agg_count(struct agg *a, const struct verdict_ctx *c, enum mh_state st,
          enum mh_reason reason, const char *text)
{
    a->total++;
    if (c->v == MH_DNSBL_V_NOT_LISTED) {
        a->clean++;
    } else if (c->v == MH_DNSBL_V_NOT_APPLICABLE) {
        if (a->na++ == 0) {
            mh_textf(a->first_na, sizeof a->first_na, "%s", text);
        }
    } else {
        if (a->failed++ == 0) {
            mh_textf(a->first_failed, sizeof a->first_failed, "%s", text);
            a->reason = reason;
            a->st = st;
        } else if (mh_state_rank(st) > mh_state_rank(a->st)) {
            a->st = st;
        }
    }
}

/* The lines of one zone's aggregate a, and its error count metric. */
static void
agg_items(struct mh_result *r, const struct mh_dnsbl_zone *z,
          const struct agg *a)
{
    char n1[32], n2[32];
    mh_dnsbl_fmt_count(a->total, n2, sizeof n2);
    if (a->clean > 0 || a->total == 0) {
        struct mh_item *it =
            mh_result_add_item(r, "zone", z->name, MH_STATE_OK, MH_REASON_NONE,
                               "not listed: %s of %s",
                               mh_dnsbl_fmt_count(a->clean, n1, sizeof n1), n2);
        mh_item_set_str(r, it, "zone", z->name);
        mh_item_set_str(r, it, "status", "not_listed");
        mh_item_set_num(r, it, "count", (double)a->clean);
    }
    if (a->na > 0) {
        struct mh_item *it = mh_result_add_item(
            r, "zone", z->name, MH_STATE_OK, MH_REASON_NONE,
            "not applicable: %s of %s, e.g. %s",
            mh_dnsbl_fmt_count(a->na, n1, sizeof n1), n2, a->first_na);
        mh_item_set_str(r, it, "zone", z->name);
        mh_item_set_str(r, it, "status", "not_applicable");
        mh_item_set_num(r, it, "count", (double)a->na);
    }
    if (a->failed > 0) {
        struct mh_item *it = mh_result_add_item(
            r, "zone", z->name, a->st, a->reason,
            "no usable answer: %s of %s, e.g. %s",
            mh_dnsbl_fmt_count(a->failed, n1, sizeof n1), n2, a->first_failed);
        mh_item_set_str(r, it, "zone", z->name);
        mh_item_set_str(r, it, "status", "error");
        mh_item_set_num(r, it, "count", (double)a->failed);
        mh_item_set_str(r, it, "error", a->first_failed);
    }
    mh_result_add_sample(r, MH_METRIC(DNSBL_ZONE_ERRORS), (double)a->failed,
                         "zone", z->name, NULL);
}

/* A host name target that gave no address to check. */
struct hfail {
    bool failed, noaddr;
    enum mh_reason reason;
    char why[300];
};

/* The summary's parts; ties between equal states go to the first. */
enum { P_LISTED, P_POLICY, P_UNHEALTHY, P_FAILED, P_ALLOW, P_COUNT };

/* What report() learns in its first pass and builds in its second. */
struct report {
    const struct mh_dnsbl_report *rep;
    struct mh_result *r;
    unsigned *zf;       /* per zone: Z_* flags */
    struct hfail *hf;   /* per host name */
    size_t *sl;         /* per subject: block zones listing it */
    enum mh_state *sst; /* per subject: the state of its listings */
    size_t *hl;         /* per host name: block zones listing any of its
                           subjects */
    size_t *hmark;      /* per host name: the zone last counted in hl, + 1 */
    struct part parts[P_COUNT];
    bool many;                   /* more than one subject */
    bool agg;                    /* many targets: items for listings only */
    size_t L, E, H, N;           /* zones listing, failed, warning, queried */
    enum mh_state list_state;    /* of the listings, by -w/-c */
    size_t nlisted_subj;         /* addresses and names listed (block) */
    size_t nlisting, npol, nalw; /* listings, policy and allow notes */
    size_t first_err_zone, first_unh_zone;
    int lead_host; /* host name of the first listed address */
};

/* One pair's verdict as report() words it. */
struct pair_out {
    struct verdict_ctx c;
    struct mh_dnsbl_answer tmp[4]; /* what c.ans may point into */
    enum mh_state st;
    enum mh_reason reason;
    unsigned flag;
    char text[900], ztext[900], codes[200];
};

static void
report_free(struct report *rp)
{
    if (rp == NULL) {
        return;
    }
    free(rp->zf);
    free(rp->hf);
    free(rp->sl);
    free(rp->sst);
    free(rp->hl);
    free(rp->hmark);
    free(rp);
}

/* A report of rep into r, or NULL (out of memory). */
static struct report *
report_new(const struct mh_dnsbl_report *rep, struct mh_result *r)
{
    struct report *rp = calloc(1, sizeof *rp);
    if (rp == NULL) {
        return NULL;
    }
    rp->rep = rep;
    rp->r = r;
    rp->zf = calloc(rep->nz + 1, sizeof *rp->zf);
    rp->hf = calloc(rep->nhosts + 1, sizeof *rp->hf);
    rp->sl = calloc(rep->nsubj + 1, sizeof *rp->sl);
    rp->sst = calloc(rep->nsubj + 1, sizeof *rp->sst);
    rp->hl = calloc(rep->nhosts + 1, sizeof *rp->hl);
    rp->hmark = calloc(rep->nhosts + 1, sizeof *rp->hmark);
    if (rp->zf == NULL || rp->hf == NULL || rp->sl == NULL || rp->sst == NULL ||
        rp->hl == NULL || rp->hmark == NULL) {
        report_free(rp);
        return NULL;
    }
    rp->many = rep->nsubj > 1;
    rp->agg = rep->nsubj > MH_DNSBL_DETAIL_MAX;
    rp->first_err_zone = rp->first_unh_zone = rep->nz;
    rp->lead_host = -1;
    return rp;
}

/* Pass 1: every pair's verdict gives the zone flags and the listings per
 * subject and per host name. */
static void
report_verdicts(struct report *rp)
{
    const struct mh_dnsbl_report *rep = rp->rep;
    struct mh_dnsbl_answer tmp[4];
    struct verdict_ctx c;
    for (size_t zi = 0; zi < rep->nz; zi++) {
        for (size_t si = 0; si < rep->nsubj; si++) {
            const struct mh_dnsbl_subject *s = rep->subj[si];
            if (!s->pairs[zi].applicable) {
                continue;
            }
            unsigned flag = pair_flag(rep, zi, s, &c, tmp);
            rp->zf[zi] |= flag;
            if ((flag & Z_LISTED) == 0) {
                continue;
            }
            rp->sl[si]++;
            if (s->host >= 0 && rp->hmark[s->host] != zi + 1) {
                rp->hmark[s->host] = zi + 1;
                rp->hl[s->host]++;
            }
        }
    }
}

/* Host names that gave no address: a failure, unless the name itself got
 * an answer as a domain (then it is a domain, not a host). */
static void
report_host_failures(struct report *rp)
{
    const struct mh_dnsbl_report *rep = rp->rep;
    struct mh_dnsbl_answer tmp[4];
    struct verdict_ctx c;
    for (size_t h = 0; h < rep->nhosts; h++) {
        const struct mh_dnsbl_host_report *hq = &rep->hosts[h];
        struct hfail *hf = &rp->hf[h];
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
                pair_verdict(rep, zi, s, &c, tmp);
                domain_answered = domain_answered || c.v == MH_DNSBL_V_LISTED ||
                                  c.v == MH_DNSBL_V_NOT_LISTED;
            }
        }
        if (has_addr || !rep->any_ip_zone) {
            continue;
        }
        host_failure_text(rep, hq, hf->why, sizeof hf->why, &hf->reason,
                          &hf->noaddr);
        hf->failed = !(hf->noaddr && domain_answered);
        for (size_t zi = 0; hf->failed && zi < rep->nz; zi++) {
            if (mh_dnsbl_zone_is_ip(rep->zones[zi].z)) {
                rp->zf[zi] |= Z_FAILED | Z_QUERIED | Z_HOSTFAIL;
            }
        }
    }
}

/* The zone counts, and the listings' state: -w/-c judge each target, an
 * address by the block zones listing it, a host name by the block zones
 * listing any of its addresses or the name; the listings' state is the
 * worst of the targets'. */
static void
report_judge(struct report *rp)
{
    const struct mh_dnsbl_report *rep = rp->rep;
    const struct mh_dnsbl_params *p = rep->p;
    for (size_t zi = 0; zi < rep->nz; zi++) {
        rp->L += (rp->zf[zi] & Z_LISTED) != 0 ? 1u : 0u;
        rp->E += (rp->zf[zi] & Z_FAILED) != 0 ? 1u : 0u;
        rp->H += zone_warns(rp->zf[zi]) ? 1u : 0u;
        rp->N += (rp->zf[zi] & Z_QUERIED) != 0 ? 1u : 0u;
    }
    mh_dnsbl_judge_fn judge = p->judge != NULL ? p->judge : default_judge;
    rp->list_state = MH_STATE_OK;
    bool judged = false;
    for (size_t si = 0; si < rep->nsubj; si++) {
        const struct mh_dnsbl_subject *s = rep->subj[si];
        rp->sst[si] =
            judge(p->judge_arg, s->host >= 0 ? rp->hl[s->host] : rp->sl[si]);
        rp->nlisted_subj += rp->sl[si] > 0 ? 1u : 0u;
        if (s->host < 0 || rp->sl[si] > 0) {
            judged = true;
            if (mh_state_rank(rp->sst[si]) > mh_state_rank(rp->list_state)) {
                rp->list_state = rp->sst[si];
            }
        }
    }
    if (!judged) {
        rp->list_state = judge(p->judge_arg, rp->L);
    }
}

/* Pass 2, zone zi: one item per host name that gave no address. */
static void
report_host_fail_items(struct report *rp, size_t zi)
{
    const struct mh_dnsbl_zone *z = rp->rep->zones[zi].z;
    struct part *err = &rp->parts[P_FAILED];
    for (size_t h = 0; h < rp->rep->nhosts; h++) {
        const struct hfail *hf = &rp->hf[h];
        if (!hf->failed || !mh_dnsbl_zone_is_ip(z)) {
            continue;
        }
        struct mh_item *it =
            mh_result_add_item(rp->r, "zone", z->name, MH_STATE_UNKNOWN,
                               hf->reason, "not queried: %s", hf->why);
        mh_item_set_str(rp->r, it, "zone", z->name);
        mh_item_set_str(rp->r, it, "address", rp->rep->hosts[h].name);
        mh_item_set_str(rp->r, it, "status", "error");
        mh_item_set_str(rp->r, it, "error", hf->why);
        if (err->reason == MH_REASON_NONE) {
            sb_add(&err->lead, "%s", hf->why);
            err->reason = hf->reason;
            rp->first_err_zone = zi;
        }
    }
}

/* Pass 2, zone zi: a zone that applies to no subject gets one "not
 * queried" item saying why. Returns true when that is all it gets. */
static bool
report_zone_skipped(struct report *rp, size_t zi)
{
    const struct mh_dnsbl_report *rep = rp->rep;
    const struct mh_dnsbl_zone *z = rep->zones[zi].z;
    bool any_pair = false;
    for (size_t si = 0; si < rep->nsubj; si++) {
        any_pair = any_pair || rep->subj[si]->pairs[zi].applicable;
    }
    if (any_pair || (rp->zf[zi] & Z_HOSTFAIL) != 0) {
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
        if (rp->hf[h].noaddr && mh_dnsbl_zone_is_ip(z)) {
            why = rp->hf[h].why;
        }
    }
    struct mh_item *it =
        mh_result_add_item(rp->r, "zone", z->name, MH_STATE_OK, MH_REASON_NONE,
                           "not queried: %s", why);
    mh_item_set_str(rp->r, it, "zone", z->name);
    mh_item_set_str(rp->r, it, "status", "skipped");
    return true;
}

/* Pass 2: what pair verdict o of subject s on zone zi adds to the
 * summary's parts. */
static void
report_note_pair(struct report *rp, size_t zi, const struct mh_dnsbl_subject *s,
                 const struct pair_out *o)
{
    const char *zone = rp->rep->zones[zi].z->name;
    struct part *lst = &rp->parts[P_LISTED], *pol = &rp->parts[P_POLICY],
                *unh = &rp->parts[P_UNHEALTHY], *err = &rp->parts[P_FAILED],
                *alw = &rp->parts[P_ALLOW];
    if ((o->flag & Z_LISTED) != 0) {
        if (rp->many) {
            sb_add(&lst->tail, "%s%s (%s: %s)", rp->nlisting > 0 ? ", " : "",
                   zone, s->text, o->codes);
        } else {
            sb_add(&lst->tail, "%s%s (%s)", rp->nlisting > 0 ? ", " : "", zone,
                   o->codes);
        }
        if (rp->nlisting++ == 0) {
            sb_add(&lst->lead, "%s", o->ztext);
            rp->lead_host = s->fam != MH_DNSBL_FORM_NAME ? s->host : -1;
        }
    } else if ((o->flag & Z_POLICY) != 0) {
        if (rp->npol++ < SUMMARY_NOTES_MAX) {
            sb_add(&pol->lead, "%s%s", rp->npol > 1 ? ", " : "", o->ztext);
        }
    } else if ((o->flag & Z_ALLOW) != 0) {
        if (rp->nalw++ < SUMMARY_NOTES_MAX) {
            sb_add(&alw->lead, "%s%s", rp->nalw > 1 ? ", " : "", o->ztext);
        }
    } else if ((o->flag & Z_FAILED) != 0 && err->reason == MH_REASON_NONE) {
        sb_add(&err->lead, "%s", o->ztext);
        err->reason = o->reason;
        rp->first_err_zone = zi;
    } else if ((o->flag & (Z_UNHEALTHY | Z_SKIPPED)) != 0 &&
               unh->reason == MH_REASON_NONE) {
        sb_add(&unh->lead, "%s", o->ztext);
        unh->reason = o->reason;
        rp->first_unh_zone = zi;
    }
}

/* Pass 2: the item of pair verdict o of subject s on zone zi and its
 * samples (with many targets the listed one only). */
static void
report_pair_item(struct report *rp, size_t zi, const struct mh_dnsbl_subject *s,
                 const struct pair_out *o)
{
    struct mh_result *r = rp->r;
    const struct mh_dnsbl_zone *z = rp->rep->zones[zi].z;
    const struct verdict_ctx *c = &o->c;
    bool is_error = mh_dnsbl_verdict_is_error(c->v);
    struct mh_item *it =
        mh_result_add_item(r, "zone", z->name, o->st, o->reason, "%s", o->text);
    mh_item_set_str(r, it, "zone", z->name);
    mh_item_set_str(r, it, "address", s->text);
    char qname[2 * MH_DNSBL_NAME_MAX];
    mh_dnsbl_shown_qname(z, s->prefix, qname, sizeof qname);
    mh_item_set_str(r, it, "query", qname);
    mh_item_set_str(r, it, "status", status_name(c->v));
    if (c->v == MH_DNSBL_V_LISTED) {
        mh_item_set_str(r, it, "kind",
                        mh_dnsbl_list_kind_name(c->ans->list_kind));
    }
    if (o->codes[0] != '\0') {
        mh_item_set_str(r, it, "codes", o->codes);
    }
    if (c->ans->meaning[0] != '\0') {
        mh_item_set_str(r, it, "meaning", c->ans->meaning);
    }
    if (c->txt[0] != '\0') {
        mh_item_set_str(r, it, "reason", c->txt);
    }
    if (is_error) {
        mh_item_set_str(r, it, "error", o->ztext);
    }
    if (c->v == MH_DNSBL_V_NOT_APPLICABLE) {
        return;
    }
    bool listed = (o->flag & Z_LISTED) != 0;
    if (rp->agg) {
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

/* Pass 2: subject si on zone zi: its verdict worded, noted in the
 * summary's parts, then an item (or, with many targets and no listing,
 * only a count in agz). */
static void
report_pair(struct report *rp, size_t zi, size_t si, struct agg *agz)
{
    const struct mh_dnsbl_subject *s = rp->rep->subj[si];
    struct pair_out o;
    o.text[0] = o.ztext[0] = '\0';
    pair_verdict(rp->rep, zi, s, &o.c, o.tmp);
    if (!rp->agg || o.c.v != MH_DNSBL_V_NOT_LISTED) {
        /* (the bulk of many targets is only counted) */
        describe(&o.c, FORM_ITEM, o.text, sizeof o.text);
        describe(&o.c, rp->many ? FORM_ZONE_SUBJECT : FORM_ZONE, o.ztext,
                 sizeof o.ztext);
    }
    pair_state(&o.c, rp->sst[si], &o.st, &o.reason, &o.flag);
    codes_text(o.c.ans, o.codes, sizeof o.codes);
    report_note_pair(rp, zi, s, &o);
    if (rp->agg && o.c.v != MH_DNSBL_V_LISTED) {
        agg_count(agz, &o.c, o.st, o.reason, o.text);
    } else {
        agz->total++;
        report_pair_item(rp, zi, s, &o);
    }
}

/* Pass 2, zone zi in the configured order: its items and samples, its
 * subjects sorted. */
static void
report_zone(struct report *rp, size_t zi)
{
    report_host_fail_items(rp, zi);
    if (report_zone_skipped(rp, zi)) {
        return;
    }
    struct agg agz;
    memset(&agz, 0, sizeof agz);
    for (size_t si = 0; si < rp->rep->nsubj; si++) {
        if (rp->rep->subj[si]->pairs[zi].applicable) {
            report_pair(rp, zi, si, &agz);
        }
    }
    if (rp->agg) {
        agg_items(rp->r, rp->rep->zones[zi].z, &agz);
    }
}

/* Zone health, notes on what was not checked, perfdata and the totals'
 * samples. */
static void
report_notes_perf(struct report *rp, double elapsed)
{
    const struct mh_dnsbl_report *rep = rp->rep;
    const struct mh_dnsbl_params *p = rep->p;
    struct mh_result *r = rp->r;
    zone_health(rep, r, rp->zf);
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
        if (rp->hf[h].noaddr && !rp->hf[h].failed) {
            mh_result_add_item(r, "note", rep->hosts[h].name, MH_STATE_OK,
                               MH_REASON_NONE, "%s: checked as a domain only",
                               rp->hf[h].why);
        }
    }
    const double max = (double)rp->N;
    add_perf(r, p, "listed", (double)rp->L, MH_UNIT_NONE, p->perf_warn,
             p->perf_crit, &max);
    add_perf(r, p, "errors", (double)(rp->E + rp->H), MH_UNIT_NONE, NULL, NULL,
             &max);
    if (rp->agg) {
        const double nmax = (double)rep->nsubj;
        add_perf(r, p, "listed_addresses", (double)rp->nlisted_subj,
                 MH_UNIT_NONE, NULL, NULL, &nmax);
    }
    add_perf(r, p, "time", elapsed, MH_UNIT_SECONDS, NULL, NULL, NULL);
    mh_result_add_sample(r, MH_METRIC(DNSBL_LISTED_ZONES), (double)rp->L, NULL);
    mh_result_add_sample(r, MH_METRIC(DNSBL_LISTED_ADDRESSES),
                         (double)rp->nlisted_subj, NULL);
}

/* The summary's listing part: the one listing as it reads on its line,
 * or the subjects (subj) and the zones listing them. */
static void
report_part_listed(struct report *rp, const struct sbuf *subj)
{
    struct part *lst = &rp->parts[P_LISTED];
    size_t L = rp->L;
    if (L == 0) {
        return;
    }
    lst->st = rp->list_state;
    lst->reason = MH_REASON_DNSBL_LISTED;
    if (rp->agg) {
        struct sbuf b = {.n = 0};
        listed_subjects(rp->rep, rp->sl, rp->nlisted_subj, L, &b);
        lst->lead = b;
    } else if (L == 1 && rp->nlisting == 1 && rp->list_state != MH_STATE_OK) {
        struct sbuf one = {.n = 0};
        if (rp->lead_host >= 0) {
            sb_add(&one, "%s: ", rp->rep->hosts[rp->lead_host].name);
        }
        sb_add(&one, "%s", lst->lead.s);
        lst->lead = one;
    } else {
        struct sbuf b = {.n = 0};
        sb_add(&b, "%s listed on %zu of %zu zones%s: %s", subj->s, L, rp->N,
               rp->list_state == MH_STATE_OK ? " (within thresholds)" : "",
               lst->tail.s);
        lst->lead = b;
    }
    struct sbuf t = {.n = 0};
    if (rp->agg) {
        sb_add(&t, "%s", lst->lead.s);
    } else {
        sb_add(&t, "%s listed on %zu zone%s within thresholds: %s", subj->s, L,
               L == 1 ? "" : "s", lst->tail.s);
    }
    lst->tail = t;
}

/* The summary's policy and allow parts (the first SUMMARY_NOTES_MAX
 * named, the rest counted). */
static void
report_part_notes(struct report *rp)
{
    struct part *pol = &rp->parts[P_POLICY], *alw = &rp->parts[P_ALLOW];
    if (rp->npol > 0) {
        pol->st = MH_STATE_OK;
        for (size_t zi = 0; zi < rp->rep->nz; zi++) {
            if ((rp->zf[zi] & Z_POLICY_WARN) != 0) {
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
            sb_add(&alw->lead, " (and %zu more allow listings)",
                   rp->nalw - SUMMARY_NOTES_MAX);
        }
        alw->tail = alw->lead;
    }
}

/* Appends to b the names of the zones that warn (except skip). */
static void
warn_zone_names(const struct report *rp, size_t skip, struct sbuf *b)
{
    for (size_t zi = 0, k = 0; zi < rp->rep->nz; zi++) {
        if (zone_warns(rp->zf[zi]) && zi != skip) {
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
    size_t E = rp->E, H = rp->H;
    if (E > 0) {
        err->st = MH_STATE_UNKNOWN;
        if (E > 1) {
            sb_add(&err->lead, " (and %zu more zone%s failed: ", E - 1,
                   E - 1 == 1 ? "" : "s");
            zone_names(rp->rep, rp->zf, Z_FAILED, rp->first_err_zone,
                       &err->lead);
            sb_add(&err->lead, ")");
        }
        sb_add(&err->tail, "%zu zone%s failed: ", E, E == 1 ? "" : "s");
        zone_names(rp->rep, rp->zf, Z_FAILED, rp->rep->nz, &err->tail);
    }
    if (H > 0) {
        const char *unh_word = "unhealthy";
        for (size_t zi = 0; zi < rp->rep->nz; zi++) {
            if ((rp->zf[zi] & Z_SKIPPED) != 0) {
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
    size_t N = rp->N, L = rp->L;
    bool present[P_COUNT] = {L > 0, rp->npol > 0, rp->H > 0, rp->E > 0,
                             rp->nalw > 0};
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
    if (N == 0) {
        sb_add(&sum, "no zone applies to %s", subj->s);
        mh_result_raise(rp->r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "%s",
                        sum.s);
        return;
    }
    /* zones that answered and list nothing */
    size_t noted = 0;
    for (size_t zi = 0; zi < rep->nz; zi++) {
        noted += (rp->zf[zi] & (Z_LISTED | Z_POLICY | Z_ALLOW | Z_FAILED |
                                Z_UNHEALTHY | Z_SKIPPED)) != 0
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
                if ((rp->zf[zi] & Z_QUERIED) != 0) {
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
    mh_result_raise(rp->r, state, reason, "%s", sum.s);
}

/* Turns the report into r: verdicts (pass 1), then items and samples zone
 * by zone (pass 2), notes and perfdata, then the state and summary. */
void
mh_dnsbl_render(const struct mh_dnsbl_report *rep, struct mh_result *r)
{
    struct report *rp = report_new(rep, r);
    if (rp == NULL) {
        mh_result_mark_oom(r);
        return;
    }
    report_verdicts(rp);
    report_host_failures(rp);
    report_judge(rp);
    for (size_t zi = 0; zi < rep->nz; zi++) {
        report_zone(rp, zi);
    }
    report_notes_perf(rp, rep->elapsed_s);
    struct sbuf subj = {.n = 0};
    subject_desc(rep, &subj);
    report_part_listed(rp, &subj);
    report_part_notes(rp);
    report_part_zones(rp);
    report_summary(rp, &subj);
    report_free(rp);
}
