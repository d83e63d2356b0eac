/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the run-time loader (probes/dlload.h) on the C library
 * itself: every symbol of the table lands in its slot, a missing optional
 * symbol leaves its slot NULL, a missing required one or a missing library
 * makes the library unavailable with the reason, and a library is loaded
 * once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dlload.h"

static struct {
    size_t (*strlen)(const char *);
    int (*abs)(int);
    void (*absent)(void);
} fn;

static const struct mh_dl_symbol libc_symbols[] = {
    {"strlen", &fn.strlen, false},
    {"abs", &fn.abs, false},
    {"mh_no_such_function", &fn.absent, true},
};

static void
test_loads_table(void **state)
{
    (void)state;
    static struct mh_dl_library lib =
        MH_DL_LIBRARY("libc.so.6", "libc", libc_symbols);
    assert_false(mh_dl_is_loaded(&lib));
    fn.absent = (void (*)(void))abort; /* must become NULL */
    char err[200] = "untouched";
    assert_true(mh_dl_available(&lib, err, sizeof err));
    assert_string_equal(err, "untouched");
    assert_true(mh_dl_is_loaded(&lib));
    assert_non_null(fn.strlen);
    assert_int_equal(fn.strlen("four"), 4);
    assert_int_equal(fn.abs(-3), 3);
    assert_null(fn.absent);
    /* Once: a second call neither reloads nor changes the slots. */
    fn.strlen = NULL;
    assert_true(mh_dl_load(&lib));
    assert_null(fn.strlen);
}

static void
test_missing_required_symbol(void **state)
{
    (void)state;
    static void (*slot)(void);
    static const struct mh_dl_symbol symbols[] = {
        {"mh_no_such_function", &slot, false},
    };
    static struct mh_dl_library lib =
        MH_DL_LIBRARY("libc.so.6", "libc", symbols);
    char err[200];
    assert_false(mh_dl_available(&lib, err, sizeof err));
    assert_string_equal(err, "libc lacks mh_no_such_function");
    assert_false(mh_dl_is_loaded(&lib));
    assert_false(mh_dl_load(&lib));
    assert_false(mh_dl_available(&lib, NULL, 0));
}

static void
test_missing_library(void **state)
{
    (void)state;
    static void (*slot)(void);
    static const struct mh_dl_symbol symbols[] = {{"f", &slot, false}};
    static struct mh_dl_library lib =
        MH_DL_LIBRARY("libmh-no-such-library.so.1", "nothing", symbols);
    char err[200];
    assert_false(mh_dl_available(&lib, err, sizeof err));
    assert_int_equal(
        strncmp(err, "cannot load libmh-no-such-library.so.1: ", 40), 0);
    assert_false(mh_dl_is_loaded(&lib));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_table),
        cmocka_unit_test(test_missing_required_symbol),
        cmocka_unit_test(test_missing_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
