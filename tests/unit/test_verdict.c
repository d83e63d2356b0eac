/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the verdict vocabulary (probes/verdict.h): every reason has
 * a unique snake_case name and one category, names round-trip, and the
 * README's reason table lists exactly the reasons of the table, with the
 * same category and meaning (MH_SOURCE_DIR names the source tree).
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

#include "verdict.h"

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(mh_reason_name(MH_REASON_NONE), "");
    assert_int_equal(mh_reason_category(MH_REASON_NONE), MH_CAT_NONE);
    for (int i = 1; i < (int)MH_REASON_LAST; i++) {
        enum mh_reason r = (enum mh_reason)i;
        const char *n = mh_reason_name(r);
        assert_true(n[0] >= 'a' && n[0] <= 'z');
        for (const char *c = n; *c != '\0'; c++) {
            assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                        *c == '_');
        }
        assert_int_equal(mh_reason_from_name(n), r);
        assert_true(mh_reason_doc(r)[0] != '\0');
        for (int j = 1; j < i; j++) {
            assert_string_not_equal(n, mh_reason_name((enum mh_reason)j));
        }
    }
    assert_int_equal(mh_reason_from_name("no_such_reason"), MH_REASON_NONE);
    assert_int_equal(mh_reason_from_name(NULL), MH_REASON_NONE);
    assert_string_equal(mh_reason_name(MH_REASON_LAST), "");
}

static void
test_categories(void **state)
{
    (void)state;
    /* Only usage and internal errors are outside the seven categories. */
    for (int i = 1; i < (int)MH_REASON_LAST; i++) {
        enum mh_reason r = (enum mh_reason)i;
        enum mh_category c = mh_reason_category(r);
        if (r == MH_REASON_USAGE_ERROR || r == MH_REASON_INTERNAL_ERROR) {
            assert_int_equal(c, MH_CAT_NONE);
        } else {
            assert_true(c > MH_CAT_NONE && c < MH_CAT_LAST);
        }
    }
    assert_int_equal(mh_reason_category(MH_REASON_GREYLISTED), MH_CAT_RESPONSE);
    assert_int_equal(mh_reason_category(MH_REASON_DNSBL_LISTED),
                     MH_CAT_BLACKLIST);
    assert_int_equal(mh_reason_category(MH_REASON_TLSA_MISMATCH), MH_CAT_TLS);
    /* Every category has at least one reason. */
    for (int c = 1; c < (int)MH_CAT_LAST; c++) {
        int n = 0;
        for (int i = 1; i < (int)MH_REASON_LAST; i++) {
            n += mh_reason_category((enum mh_reason)i) == (enum mh_category)c;
        }
        assert_true(n > 0);
    }
}

/* The README table between the reasons:begin/end markers, row by row. */
static void
test_readme(void **state)
{
    (void)state;
    const char *dir = getenv("MH_SOURCE_DIR");
    if (dir == NULL) {
        skip();
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/README.md", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    bool in = false;
    int next = 1, rows = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, "<!-- reasons:begin -->") != NULL) {
            in = true;
            continue;
        }
        if (strstr(line, "<!-- reasons:end -->") != NULL) {
            break;
        }
        if (!in || strncmp(line, "| `", 3) != 0) {
            continue;
        }
        assert_true(next < (int)MH_REASON_LAST);
        enum mh_reason r = (enum mh_reason)next++;
        const char *cat = mh_category_name(mh_reason_category(r));
        char want[1024];
        snprintf(want, sizeof want, "| `%s` | %s | %s |\n", mh_reason_name(r),
                 cat[0] != '\0' ? cat : "(none)", mh_reason_doc(r));
        if (strcmp(line, want) != 0) {
            fclose(f);
            fail_msg("README reason row %d is\n%swanted\n%s", next - 1, line,
                     want);
        }
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, (int)MH_REASON_LAST - 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_categories),
        cmocka_unit_test(test_readme),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
