/* SPDX-License-Identifier: MIT */
/*
 * range: Nagios threshold ranges (see range.h).
 */
#include "range.h"

#include <stddef.h>
#include <string.h>

/* Parses s[0..len) as a decimal; locale-independent (no strtod). */
static bool
parse_decimal_n(const char *s, size_t len, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        neg = s[i] == '-';
        i++;
    }
    double v = 0;
    size_t digits = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + (s[i] - '0');
        i++;
        digits++;
    }
    if (i < len && s[i] == '.') {
        i++;
        double scale = 0.1;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            v += (s[i] - '0') * scale;
            scale /= 10;
            i++;
            digits++;
        }
    }
    if (digits == 0 || i != len || digits > 30) {
        return false;
    }
    *out = neg ? -v : v;
    return true;
}

bool
mh_parse_decimal(const char *s, double *out)
{
    return s != NULL && parse_decimal_n(s, strlen(s), out);
}

enum mh_range_err
mh_range_parse(const char *text, struct mh_range *r)
{
    memset(r, 0, sizeof *r);
    if (text == NULL) {
        return MH_RANGE_EMPTY;
    }
    const char *p = text;
    if (*p == '@') {
        r->inside = true;
        p++;
    }
    if (*p == '\0') {
        return MH_RANGE_EMPTY;
    }
    const char *colon = strchr(p, ':');
    if (colon == NULL) {
        /* "end" alone: start is 0. */
        if (!parse_decimal_n(p, strlen(p), &r->end)) {
            return MH_RANGE_SYNTAX;
        }
        r->start = 0;
    } else {
        size_t slen = (size_t)(colon - p);
        if (slen == 1 && p[0] == '~') {
            r->start_inf = true;
        } else if (slen == 0 || !parse_decimal_n(p, slen, &r->start)) {
            /* ":10" is not in the grammar; start must be given or "~". */
            return MH_RANGE_SYNTAX;
        }
        const char *e = colon + 1;
        if (*e == '\0') {
            r->end_inf = true;
        } else if (!parse_decimal_n(e, strlen(e), &r->end)) {
            return MH_RANGE_SYNTAX;
        }
    }
    if (!r->start_inf && !r->end_inf && r->start > r->end) {
        return MH_RANGE_START_GT_END;
    }
    return MH_RANGE_OK;
}

const char *
mh_range_strerror(enum mh_range_err err)
{
    switch (err) {
    case MH_RANGE_OK:
        return "ok";
    case MH_RANGE_EMPTY:
        return "empty range";
    case MH_RANGE_SYNTAX:
        return "not a range ([@][start:][end], e.g. 10, 10:, ~:10, 10:20, "
               "@10:20)";
    case MH_RANGE_START_GT_END:
        return "range start is greater than its end";
    }
    return "invalid range";
}

bool
mh_range_alert(const struct mh_range *r, double x)
{
    bool in = (r->start_inf || x >= r->start) && (r->end_inf || x <= r->end);
    return r->inside ? in : !in;
}

enum mh_state
mh_range_evaluate(const struct mh_range *warn, const struct mh_range *crit,
                  double x)
{
    if (crit != NULL && mh_range_alert(crit, x)) {
        return MH_STATE_CRITICAL;
    }
    if (warn != NULL && mh_range_alert(warn, x)) {
        return MH_STATE_WARNING;
    }
    return MH_STATE_OK;
}
