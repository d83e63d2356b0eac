/* SPDX-License-Identifier: MIT */
/*
 * result: the check result model (see result.h).
 */
#include "result.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textutil.h"

/* Longest summary or item text kept; longer text is cut (Nagios keeps at
 * most 8 KiB of plugin output in all: Nagios plugin guidelines). */
#define MH_TEXT_MAX 1024

const char *
mh_unit_uom(enum mh_unit u)
{
    switch (u) {
    case MH_UNIT_SECONDS:
        return "s";
    case MH_UNIT_BYTES:
        return "B";
    case MH_UNIT_NONE:
        break;
    }
    return "";
}

char *
mh_text_printable(const char *text, size_t len)
{
    /* NUL is escaped too: reply lines may contain it (the -v trace lost
     * everything after a NUL before; found with the junk scenarios). */
    size_t n = mh_text_escaped_len(text, len);
    char *out = malloc(n + 1);
    if (out == NULL) {
        return NULL;
    }
    out[0] = '\0';
    mh_text_escape_append(out, n + 1, text, len, false);
    return out;
}

static char *
dup_printable(const char *s)
{
    if (s == NULL) {
        return NULL;
    }
    return mh_text_printable(s, strlen(s));
}

/* printf into a new printable string of at most MH_TEXT_MAX bytes. */
static char *
vformat(const char *fmt, va_list ap)
{
    char buf[MH_TEXT_MAX];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n < 0) {
        buf[0] = '\0';
    }
    return mh_text_printable(buf, strlen(buf));
}

struct mh_result *
mh_result_new(const char *check, const char *target)
{
    struct mh_result *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    r->check = dup_printable(check != NULL ? check : "");
    r->target = dup_printable(target != NULL ? target : "");
    if (r->check == NULL || r->target == NULL) {
        mh_result_free(r);
        return NULL;
    }
    r->state = MH_STATE_OK;
    r->reason = MH_REASON_NONE;
    r->category = MH_CAT_NONE;
    return r;
}

/* Frees the items and the perfdata. */
static void
free_details(struct mh_result *r)
{
    for (size_t i = 0; i < r->nitems; i++) {
        struct mh_item *it = &r->items[i];
        free(it->kind);
        free(it->name);
        free(it->text);
        for (size_t j = 0; j < it->nattrs; j++) {
            free(it->attrs[j].key);
            free(it->attrs[j].str);
        }
        free(it->attrs);
    }
    free(r->items);
    r->items = NULL;
    r->nitems = 0;
    for (size_t i = 0; i < r->nperf; i++) {
        free(r->perf[i].label);
        free(r->perf[i].warn);
        free(r->perf[i].crit);
    }
    free(r->perf);
    r->perf = NULL;
    r->nperf = 0;
}

void
mh_result_drop_details(struct mh_result *r)
{
    free_details(r);
    for (size_t i = 0; i < r->nchildren; i++) {
        mh_result_drop_details(r->children[i]);
    }
}

void
mh_result_free(struct mh_result *r)
{
    if (r == NULL) {
        return;
    }
    free_details(r);
    for (size_t i = 0; i < r->nsamples; i++) {
        free(r->samples[i].family);
        for (size_t j = 0; j < 2 * r->samples[i].nlabels; j++) {
            free(r->samples[i].labels[j]);
        }
        free(r->samples[i].labels);
    }
    free(r->samples);
    for (size_t i = 0; i < r->nchildren; i++) {
        mh_result_free(r->children[i]);
    }
    free(r->children);
    free(r->check);
    free(r->target);
    free(r->summary);
    free(r);
}

/* Grows an array by one element; returns the new element or NULL. */
static void *
grow(void **array, size_t *count, size_t elem)
{
    void *p = realloc(*array, (*count + 1) * elem);
    if (p == NULL) {
        return NULL;
    }
    *array = p;
    char *slot = (char *)p + *count * elem;
    memset(slot, 0, elem);
    (*count)++;
    return slot;
}

/* Sets state, reason (and its category) and, when fmt is not NULL, the
 * summary formatted from fmt (before the old summary is freed: the
 * arguments may point into it). */
static int
set_verdict(struct mh_result *r, enum mh_state state, enum mh_reason reason,
            const char *fmt, va_list ap)
{
    if (fmt != NULL) {
        char *s = vformat(fmt, ap);
        if (s == NULL) {
            r->oom = true;
            return -1;
        }
        free(r->summary);
        r->summary = s;
    }
    r->state = state;
    r->reason = reason;
    r->category = mh_reason_category(reason);
    return 0;
}

int
mh_result_raise(struct mh_result *r, enum mh_state state, enum mh_reason reason,
                const char *fmt, ...)
{
    bool worse = mh_state_rank(state) > mh_state_rank(r->state);
    if (!worse && !(r->summary == NULL && state == r->state)) {
        return 0;
    }
    va_list ap;
    va_start(ap, fmt);
    int rc = set_verdict(r, state, reason, fmt, ap);
    va_end(ap);
    return rc;
}

int
mh_result_override(struct mh_result *r, enum mh_state state,
                   enum mh_reason reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = set_verdict(r, state, reason, fmt, ap);
    va_end(ap);
    return rc;
}

int
mh_result_set_summary(struct mh_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vformat(fmt, ap);
    va_end(ap);
    if (s == NULL) {
        r->oom = true;
        return -1;
    }
    free(r->summary);
    r->summary = s;
    return 0;
}

struct mh_item *
mh_result_add_item(struct mh_result *r, const char *kind, const char *name,
                   enum mh_state state, enum mh_reason reason, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = vformat(fmt, ap);
    va_end(ap);
    char *k = dup_printable(kind);
    char *n = dup_printable(name != NULL ? name : "");
    struct mh_item *it = NULL;
    if (text != NULL && k != NULL && n != NULL) {
        it = grow((void **)&r->items, &r->nitems, sizeof *r->items);
    }
    if (it == NULL) {
        free(text);
        free(k);
        free(n);
        r->oom = true;
        return NULL;
    }
    it->kind = k;
    it->name = n;
    it->state = state;
    it->reason = reason;
    it->category = mh_reason_category(reason);
    it->text = text;
    return it;
}

static struct mh_attr *
add_attr(struct mh_result *r, struct mh_item *it, const char *key)
{
    char *k = dup_printable(key);
    struct mh_attr *a = NULL;
    if (k != NULL) {
        a = grow((void **)&it->attrs, &it->nattrs, sizeof *it->attrs);
    }
    if (a == NULL) {
        free(k);
        r->oom = true;
        return NULL;
    }
    a->key = k;
    return a;
}

int
mh_item_set_str(struct mh_result *r, struct mh_item *it, const char *key,
                const char *value)
{
    if (it == NULL) {
        return -1;
    }
    char *v = dup_printable(value != NULL ? value : "");
    if (v == NULL) {
        r->oom = true;
        return -1;
    }
    struct mh_attr *a = add_attr(r, it, key);
    if (a == NULL) {
        free(v);
        return -1;
    }
    a->str = v;
    return 0;
}

int
mh_item_set_num(struct mh_result *r, struct mh_item *it, const char *key,
                double value)
{
    if (it == NULL) {
        return -1;
    }
    struct mh_attr *a = add_attr(r, it, key);
    if (a == NULL) {
        return -1;
    }
    a->num = value;
    return 0;
}

int
mh_result_add_perf(struct mh_result *r, const char *label, double value,
                   enum mh_unit unit, const char *warn, const char *crit,
                   const double *min, const double *max)
{
    char *l = dup_printable(label);
    char *w = warn != NULL ? dup_printable(warn) : NULL;
    char *c = crit != NULL ? dup_printable(crit) : NULL;
    struct mh_perf *p = NULL;
    if (l != NULL && (warn == NULL || w != NULL) &&
        (crit == NULL || c != NULL)) {
        p = grow((void **)&r->perf, &r->nperf, sizeof *r->perf);
    }
    if (p == NULL) {
        free(l);
        free(w);
        free(c);
        r->oom = true;
        return -1;
    }
    p->label = l;
    p->value = value;
    p->unit = unit;
    p->warn = w;
    p->crit = c;
    if (min != NULL) {
        p->has_min = true;
        p->min = *min;
    }
    if (max != NULL) {
        p->has_max = true;
        p->max = *max;
    }
    return 0;
}

int
mh_result_add_perf_unknown(struct mh_result *r, const char *label,
                           enum mh_unit unit, const double *min,
                           const double *max)
{
    if (mh_result_add_perf(r, label, 0, unit, NULL, NULL, min, max) != 0) {
        return -1;
    }
    r->perf[r->nperf - 1].unknown = true;
    return 0;
}

int
mh_result_add_sample(struct mh_result *r, const char *family, double value, ...)
{
    size_t n = 0;
    va_list ap;
    va_start(ap, value);
    while (va_arg(ap, const char *) != NULL) {
        n++;
    }
    va_end(ap);
    if (n % 2 != 0) {
        return -1; /* programming error: unpaired label */
    }
    char **labels = calloc(n + 1, sizeof *labels);
    char *fam = dup_printable(family);
    bool ok = labels != NULL && fam != NULL;
    va_start(ap, value);
    for (size_t i = 0; ok && i < n; i++) {
        labels[i] = dup_printable(va_arg(ap, const char *));
        ok = labels[i] != NULL;
    }
    va_end(ap);
    struct mh_sample *s = NULL;
    if (ok) {
        s = grow((void **)&r->samples, &r->nsamples, sizeof *r->samples);
    }
    if (s == NULL) {
        for (size_t i = 0; labels != NULL && i < n; i++) {
            free(labels[i]);
        }
        free(labels);
        free(fam);
        r->oom = true;
        return -1;
    }
    s->family = fam;
    s->labels = labels;
    s->nlabels = n / 2;
    s->value = value;
    return 0;
}

/* Appends n elements of size elem from src to *array (count *count). */
static int
append_all(void **array, size_t *count, const void *src, size_t n, size_t elem)
{
    if (n == 0) {
        return 0;
    }
    void *p = realloc(*array, (*count + n) * elem);
    if (p == NULL) {
        return -1;
    }
    memcpy((char *)p + *count * elem, src, n * elem);
    *array = p;
    *count += n;
    return 0;
}

int
mh_result_merge_at(struct mh_result *r, struct mh_result *from, size_t pos,
                   enum mh_state before)
{
    int rc = 0;
    if (pos > r->nitems) {
        pos = r->nitems;
    }
    size_t tail = r->nitems - pos;
    size_t n = from->nitems;
    if (append_all((void **)&r->items, &r->nitems, from->items, n,
                   sizeof *r->items) == 0) {
        /* [0,pos) [pos,pos+tail) [from's n] -> [0,pos) [from's n] [tail] */
        struct mh_item *it = r->items;
        struct mh_item *tmp = malloc((tail > 0 ? tail : 1) * sizeof *tmp);
        if (tmp != NULL) {
            memcpy(tmp, it + pos, tail * sizeof *tmp);
            memmove(it + pos, it + pos + tail, n * sizeof *tmp);
            memcpy(it + pos + n, tmp, tail * sizeof *tmp);
            free(tmp);
        } /* else: from's items stay last, still owned by r */
        from->nitems = 0;
    } else {
        rc = -1;
    }
    if (append_all((void **)&r->perf, &r->nperf, from->perf, from->nperf,
                   sizeof *r->perf) == 0) {
        from->nperf = 0;
    } else {
        rc = -1;
    }
    if (append_all((void **)&r->samples, &r->nsamples, from->samples,
                   from->nsamples, sizeof *r->samples) == 0) {
        from->nsamples = 0;
    } else {
        rc = -1;
    }
    int now = mh_state_rank(r->state);
    int theirs = mh_state_rank(from->state);
    if (from->summary != NULL &&
        (theirs > now || (theirs == now && (now > mh_state_rank(before) ||
                                            r->summary == NULL)))) {
        free(r->summary);
        r->summary = from->summary;
        from->summary = NULL;
        r->state = from->state;
        r->reason = from->reason;
        r->category = from->category;
    }
    if (from->oom || rc != 0) {
        r->oom = true;
    }
    mh_result_free(from);
    return rc;
}

int
mh_result_add_child(struct mh_result *r, struct mh_result *child)
{
    struct mh_result **slot =
        grow((void **)&r->children, &r->nchildren, sizeof *r->children);
    if (slot == NULL) {
        mh_result_free(child);
        r->oom = true;
        return -1;
    }
    *slot = child;
    return 0;
}

void
mh_result_finish(struct mh_result *r)
{
    if (r->oom) {
        r->state = MH_STATE_UNKNOWN;
        r->reason = MH_REASON_INTERNAL_ERROR;
        r->category = MH_CAT_NONE;
        /* May stay NULL if even this fails; renderers accept a NULL
         * summary. */
        free(r->summary);
        r->summary = dup_printable("out of memory while building the result");
        return;
    }
    if (r->state == MH_STATE_OK) {
        r->reason = MH_REASON_NONE;
        r->category = MH_CAT_NONE;
    }
    if (r->summary == NULL) {
        r->summary =
            dup_printable(r->state == MH_STATE_OK ? "ok" : "check failed");
        if (r->summary == NULL) {
            r->oom = true;
        }
    }
}

void
mh_vtextf(char *buf, size_t len, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, len, fmt, ap);
    if (n < 0 && len > 0) {
        buf[0] = '\0';
    }
}

void
mh_textf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mh_vtextf(buf, len, fmt, ap);
    va_end(ap);
}

void
mh_c_decimal_point(char *buf)
{
    const char *dp = localeconv()->decimal_point;
    if (dp == NULL || dp[0] == '\0' || strcmp(dp, ".") == 0) {
        return;
    }
    size_t dl = strlen(dp);
    char *p = strstr(buf, dp);
    if (p != NULL) {
        *p = '.';
        memmove(p + 1, p + dl, strlen(p + dl) + 1);
    }
}

char *
mh_fmt_decimal(char *buf, size_t len, double x, int decimals)
{
    if (!isfinite(x)) {
        snprintf(buf, len, "U");
        return buf;
    }
    snprintf(buf, len, "%.*f", decimals, x);
    mh_c_decimal_point(buf);
    char *dot = strchr(buf, '.');
    if (dot != NULL) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0') {
            *end-- = '\0';
        }
        if (end == dot) {
            *end = '\0';
        }
    }
    if (strcmp(buf, "-0") == 0) {
        snprintf(buf, len, "0");
    }
    return buf;
}

/* ---- Operations for code that completes or relabels a result -------- */

int
mh_result_add_perf_first(struct mh_result *r, const char *label, double value,
                         enum mh_unit unit, const char *warn, const char *crit,
                         const double *min, const double *max)
{
    if (mh_result_add_perf(r, label, value, unit, warn, crit, min, max) != 0) {
        return -1;
    }
    struct mh_perf last = r->perf[r->nperf - 1];
    memmove(&r->perf[1], &r->perf[0], (r->nperf - 1) * sizeof r->perf[0]);
    r->perf[0] = last;
    return 0;
}

int
mh_result_set_perf_thresholds(struct mh_result *r, const char *label,
                              const char *warn, const char *crit)
{
    int rc = 0;
    for (size_t i = 0; i < r->nperf; i++) {
        struct mh_perf *p = &r->perf[i];
        if (strcmp(p->label, label) != 0) {
            continue;
        }
        if (warn != NULL && p->warn == NULL &&
            (p->warn = dup_printable(warn)) == NULL) {
            rc = -1;
        }
        if (crit != NULL && p->crit == NULL &&
            (p->crit = dup_printable(crit)) == NULL) {
            rc = -1;
        }
    }
    if (rc != 0) {
        r->oom = true;
    }
    return rc;
}

int
mh_result_prefix_perf(struct mh_result *r, const char *prefix)
{
    int rc = 0;
    for (size_t i = 0; i < r->nperf; i++) {
        char buf[MH_TEXT_MAX];
        mh_textf(buf, sizeof buf, "%s%s", prefix, r->perf[i].label);
        char *s = dup_printable(buf);
        if (s == NULL) {
            rc = -1;
            continue;
        }
        free(r->perf[i].label);
        r->perf[i].label = s;
    }
    if (rc != 0) {
        r->oom = true;
    }
    return rc;
}

int
mh_result_set_target(struct mh_result *r, const char *target)
{
    char *t = dup_printable(target);
    if (t == NULL) {
        r->oom = true;
        return -1;
    }
    free(r->target);
    r->target = t;
    return 0;
}

void
mh_result_set_duration(struct mh_result *r, double seconds)
{
    r->duration_s = seconds;
}

void
mh_result_mark_oom(struct mh_result *r)
{
    r->oom = true;
}
