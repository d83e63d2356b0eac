/* SPDX-License-Identifier: MIT */
/*
 * fuzz_range: the Nagios threshold range parser (plugin/range.c
 * mh_range_parse, mh_parse_decimal, mh_range_evaluate).
 *
 * Input: the bytes as a NUL-terminated string (cut at an embedded NUL, as
 * argv and JSON strings are). Invariants: an accepted range has finite
 * endpoints, start <= end unless one side is infinite, and every accepted
 * text re-parses to the same range; evaluating it gives one of the three
 * states whatever the value (also NaN and infinities); rejected texts get
 * an error message.
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "range.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';

    struct mh_range r, again;
    enum mh_range_err err = mh_range_parse(text, &r);
    const char *msg = mh_range_strerror(err);
    FUZZ_CHECK(msg != NULL && msg[0] != '\0');
    if (err == MH_RANGE_OK) {
        FUZZ_CHECK(r.start_inf || isfinite(r.start));
        FUZZ_CHECK(r.end_inf || isfinite(r.end));
        FUZZ_CHECK(r.start_inf || r.end_inf || r.start <= r.end);
        FUZZ_CHECK(mh_range_parse(text, &again) == MH_RANGE_OK);
        FUZZ_CHECK(memcmp(&r, &again, sizeof r) == 0);
        static const double xs[] = {0.0,    -1.0,     1.0,       1e300,
                                    -1e300, INFINITY, -INFINITY, NAN};
        for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
            enum mh_state st = mh_range_evaluate(&r, &r, xs[i]);
            FUZZ_CHECK(st == MH_STATE_OK || st == MH_STATE_CRITICAL);
            st = mh_range_evaluate(&r, NULL, xs[i]);
            FUZZ_CHECK(st == MH_STATE_OK || st == MH_STATE_WARNING);
            st = mh_range_evaluate(NULL, NULL, xs[i]);
            FUZZ_CHECK(st == MH_STATE_OK);
        }
        if (!r.start_inf) {
            /* Endpoints are inclusive (guidelines). */
            FUZZ_CHECK(mh_range_alert(&r, r.start) == r.inside);
        }
    }
    double d;
    if (mh_parse_decimal(text, &d)) {
        FUZZ_CHECK(isfinite(d));
        /* A plain number is a valid range unless negative ("10" means 0..10;
         * "-5" means 0..-5, start > end). */
        enum mh_range_err e2 = mh_range_parse(text, &again);
        FUZZ_CHECK(e2 == MH_RANGE_OK || (d < 0 && e2 == MH_RANGE_START_GT_END));
    }
    (void)mh_parse_decimal(NULL, &d);
    free(text);
    return 0;
}
