/* SPDX-License-Identifier: MIT */
/* Unit tests of the Nagios threshold range parser (plugin/range.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "range.h"

static enum mh_state
eval(const char *range, double x)
{
    struct mh_range r;
    assert_int_equal(mh_range_parse(range, &r), MH_RANGE_OK);
    return mh_range_alert(&r, x) ? MH_STATE_CRITICAL : MH_STATE_OK;
}

/* The table of the guidelines, value by value. */
static void
test_guideline_table(void **state)
{
    (void)state;
    /* "10": alert if x < 0 or x > 10 */
    assert_int_equal(eval("10", -1), MH_STATE_CRITICAL);
    assert_int_equal(eval("10", 0), MH_STATE_OK);
    assert_int_equal(eval("10", 10), MH_STATE_OK);
    assert_int_equal(eval("10", 10.001), MH_STATE_CRITICAL);
    /* "10:": alert if x < 10 */
    assert_int_equal(eval("10:", 9.99), MH_STATE_CRITICAL);
    assert_int_equal(eval("10:", 10), MH_STATE_OK);
    assert_int_equal(eval("10:", 1e9), MH_STATE_OK);
    /* "~:10": alert if x > 10 */
    assert_int_equal(eval("~:10", -1e9), MH_STATE_OK);
    assert_int_equal(eval("~:10", 10), MH_STATE_OK);
    assert_int_equal(eval("~:10", 11), MH_STATE_CRITICAL);
    /* "10:20": alert if x < 10 or x > 20 */
    assert_int_equal(eval("10:20", 9), MH_STATE_CRITICAL);
    assert_int_equal(eval("10:20", 15), MH_STATE_OK);
    assert_int_equal(eval("10:20", 21), MH_STATE_CRITICAL);
    /* "@10:20": alert if 10 <= x <= 20 */
    assert_int_equal(eval("@10:20", 10), MH_STATE_CRITICAL);
    assert_int_equal(eval("@10:20", 20), MH_STATE_CRITICAL);
    assert_int_equal(eval("@10:20", 9.9), MH_STATE_OK);
    assert_int_equal(eval("@10:20", 20.1), MH_STATE_OK);
}

static void
test_decimals_and_signs(void **state)
{
    (void)state;
    struct mh_range r;
    assert_int_equal(mh_range_parse("0.5:1.25", &r), MH_RANGE_OK);
    assert_true(r.start == 0.5 && r.end == 1.25);
    assert_int_equal(mh_range_parse("-5:-1", &r), MH_RANGE_OK);
    assert_true(mh_range_alert(&r, 0));
    assert_false(mh_range_alert(&r, -3));
    assert_int_equal(eval("@~:0", -1), MH_STATE_CRITICAL);
}

static void
test_invalid(void **state)
{
    (void)state;
    struct mh_range r;
    assert_int_equal(mh_range_parse("", &r), MH_RANGE_EMPTY);
    assert_int_equal(mh_range_parse("@", &r), MH_RANGE_EMPTY);
    assert_int_equal(mh_range_parse(NULL, &r), MH_RANGE_EMPTY);
    assert_int_equal(mh_range_parse("abc", &r), MH_RANGE_SYNTAX);
    assert_int_equal(mh_range_parse("10x", &r), MH_RANGE_SYNTAX);
    assert_int_equal(mh_range_parse("1e3", &r), MH_RANGE_SYNTAX);
    assert_int_equal(mh_range_parse("0x10", &r), MH_RANGE_SYNTAX);
    assert_int_equal(mh_range_parse(":10", &r), MH_RANGE_SYNTAX);
    assert_int_equal(mh_range_parse("1,5", &r), MH_RANGE_SYNTAX);
    assert_int_equal(mh_range_parse("10:5", &r), MH_RANGE_START_GT_END);
    assert_int_equal(mh_range_parse("1:2:3", &r), MH_RANGE_SYNTAX);
    assert_int_equal(mh_range_parse(".", &r), MH_RANGE_SYNTAX);
}

/* CRITICAL is evaluated before WARNING. */
static void
test_evaluate_order(void **state)
{
    (void)state;
    struct mh_range w, c;
    assert_int_equal(mh_range_parse("5", &w), MH_RANGE_OK);
    assert_int_equal(mh_range_parse("10", &c), MH_RANGE_OK);
    assert_int_equal(mh_range_evaluate(&w, &c, 3), MH_STATE_OK);
    assert_int_equal(mh_range_evaluate(&w, &c, 7), MH_STATE_WARNING);
    assert_int_equal(mh_range_evaluate(&w, &c, 11), MH_STATE_CRITICAL);
    assert_int_equal(mh_range_evaluate(NULL, &c, 7), MH_STATE_OK);
    assert_int_equal(mh_range_evaluate(&w, NULL, 70), MH_STATE_WARNING);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guideline_table),
        cmocka_unit_test(test_decimals_and_signs),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_evaluate_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
