/* SPDX-License-Identifier: MIT */
/*
 * range: Nagios threshold ranges (Monitoring Plugins developer guidelines,
 * "Threshold and ranges"): [@][start:][end], endpoints inclusive.
 *
 *   10      alert if x < 0 or x > 10
 *   10:     alert if x < 10
 *   ~:10    alert if x > 10
 *   10:20   alert if x < 10 or x > 20
 *   @10:20  alert if 10 <= x <= 20
 *
 * Pure functions, no allocation.
 */
#ifndef MH_RANGE_H
#define MH_RANGE_H

#include <stdbool.h>

#include "../probes/result.h"

struct mh_range {
    double start, end;
    bool start_inf; /* start is -infinity ("~") */
    bool end_inf;   /* end is +infinity ("10:") */
    bool inside;    /* "@": alert when inside [start, end] */
};

enum mh_range_err {
    MH_RANGE_OK = 0,
    MH_RANGE_EMPTY,       /* "" or "@" */
    MH_RANGE_SYNTAX,      /* anything else that is not a range */
    MH_RANGE_START_GT_END /* start > end */
};

/*
 * Parses text into *r. Numbers are decimal with an optional sign and
 * fraction, "." as decimal point whatever the locale; no exponents, no hex,
 * no trailing garbage. Returns MH_RANGE_OK or the error.
 */
enum mh_range_err mh_range_parse(const char *text, struct mh_range *r);

/* One-line English text for an error (for usage messages). */
const char *mh_range_strerror(enum mh_range_err err);

/* True when value x raises an alert under range r. */
bool mh_range_alert(const struct mh_range *r, double x);

/*
 * Applies optional warning and critical ranges (either may be NULL) to x:
 * CRITICAL is checked first, then WARNING (guidelines). Returns the state.
 */
enum mh_state mh_range_evaluate(const struct mh_range *warn,
                                const struct mh_range *crit, double x);

/*
 * Locale-independent number parser used by ranges and options: [+-]digits
 * [.digits], whole string. Returns true and *out on success.
 */
bool mh_parse_decimal(const char *s, double *out);

#endif
