/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the metric family table (probes/metric_names.h): names
 * and types follow the Prometheus conventions, every family a check can
 * emit gets its HELP and TYPE in the exposition, the README's "Prometheus
 * metrics" table lists the families in the table's order, and no
 * "mailhealth_..." name is spelled anywhere else in probes/ or plugin/
 * (MH_SOURCE_DIR names the source tree).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metric_names.h"
#include "render.h"
#include "result.h"

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void
test_table(void **state)
{
    (void)state;
    for (int i = 0; i < (int)MH_METRIC_LAST; i++) {
        const struct mh_metric_family *m = &mh_metric_families[i];
        assert_non_null(m->name);
        assert_int_equal(strncmp(m->name, "mailhealth_", 11), 0);
        for (const char *c = m->name; *c != '\0'; c++) {
            assert_true((*c >= 'a' && *c <= 'z') || *c == '_');
        }
        /* _total only for counters (Prometheus naming conventions). */
        assert_int_equal(ends_with(m->name, "_total"),
                         m->type == MH_METRIC_COUNTER);
        /* HELP is one line without escapes (exposition format). */
        assert_true(strlen(m->help) > 10);
        assert_null(strchr(m->help, '\n'));
        assert_null(strchr(m->help, '\\'));
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(m->name, mh_metric_families[j].name);
        }
    }
    assert_string_equal(MH_METRIC(TLS_VERIFIED), "mailhealth_tls_verified");
    assert_string_equal(mh_metric_type_name(MH_METRIC_GAUGE), "gauge");
    assert_string_equal(mh_metric_type_name(MH_METRIC_COUNTER), "counter");
}

/* A result with one sample of every family a probe can add: each gets its
 * HELP and TYPE line, once, in table order. */
static void
test_help_and_type(void **state)
{
    (void)state;
    struct mh_result *r = mh_result_new("smtp", "mx.example:25");
    assert_non_null(r);
    mh_result_raise(r, MH_STATE_CRITICAL, MH_REASON_SERVICE_UNAVAILABLE, "x");
    for (int i = MH_METRIC_PROBE_DURATION_SECONDS + 1;
         i < (int)MH_METRIC_LAST_RUN_TIMESTAMP_SECONDS; i++) {
        assert_int_equal(mh_result_add_sample(r, mh_metric_families[i].name, 1,
                                              (const char *)NULL),
                         0);
    }
    mh_result_finish(r);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    const struct mh_result *one[] = {r};
    assert_int_equal(mh_render_prometheus(f, one, 1, 1700000000, 1.5), 0);
    fclose(f);
    const char *at = buf;
    for (int i = 0; i < (int)MH_METRIC_EXPORTER_ROUNDS_TOTAL; i++) {
        const struct mh_metric_family *m = &mh_metric_families[i];
        char help[512], type[256];
        snprintf(help, sizeof help, "# HELP %s %s\n", m->name, m->help);
        snprintf(type, sizeof type, "# TYPE %s %s\n", m->name,
                 mh_metric_type_name(m->type));
        const char *h = strstr(at, help);
        if (h == NULL) {
            fail_msg("no (or misplaced) HELP for %s in\n%s", m->name, buf);
        }
        assert_ptr_equal(strstr(h, type), h + strlen(help));
        assert_null(strstr(h + 1, help));
        at = h + strlen(help);
    }
    free(buf);
    mh_result_free(r);
}

/* The exporter's own families through the same header writer. */
static void
test_put_header(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(
        mh_prom_put_header(f, MH_METRIC_EXPORTER_ROUNDS_TOTAL, "(note)"), 0);
    fclose(f);
    assert_string_equal(buf, "# HELP mailhealth_exporter_rounds_total Rounds "
                             "of checks the runner completed since it "
                             "started. (note)\n"
                             "# TYPE mailhealth_exporter_rounds_total "
                             "counter\n");
    free(buf);
}

static FILE *
open_source(const char *rel)
{
    const char *dir = getenv("MH_SOURCE_DIR");
    if (dir == NULL) {
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fail_msg("cannot open %s", path);
    }
    return f;
}

/* The README's "Prometheus metrics" table: one row per family the checks
 * and the writer emit, in output order; the exporter's families are named
 * in its section. */
static void
test_readme(void **state)
{
    (void)state;
    FILE *f = open_source("README.md");
    if (f == NULL) {
        skip();
    }
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *sec = strstr(text, "\n## Prometheus metrics\n");
    assert_non_null(sec);
    const char *end = strstr(sec + 1, "\n## ");
    int want = 0;
    for (const char *p = sec; p != NULL && (end == NULL || p < end);
         p = strchr(p + 1, '\n')) {
        if (strncmp(p, "\n| `mailhealth_", 15) != 0) {
            continue;
        }
        char name[128];
        size_t k = 0;
        for (const char *c = p + 4; *c != '`' && k < sizeof name - 1; c++) {
            name[k++] = *c;
        }
        name[k] = '\0';
        if (want >= (int)MH_METRIC_EXPORTER_ROUNDS_TOTAL) {
            fail_msg("README row %s is not in metric_names.h", name);
        }
        if (strcmp(name, mh_metric_families[want].name) != 0) {
            fail_msg("README row %d is %s, metric_names.h has %s", want + 1,
                     name, mh_metric_families[want].name);
        }
        want++;
    }
    assert_int_equal(want, (int)MH_METRIC_EXPORTER_ROUNDS_TOTAL);
    for (int i = 0; i < (int)MH_METRIC_LAST; i++) {
        char quoted[160];
        snprintf(quoted, sizeof quoted, "`%s", mh_metric_families[i].name);
        if (strstr(text, quoted) == NULL) {
            fail_msg("README does not name %s", mh_metric_families[i].name);
        }
    }
}

/* Returns the first line of the file at path holding "\"mailhealth_" (a
 * family name spelled as a literal), or 0. */
static int
literal_line(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    int no = 0, found = 0;
    while (found == 0 && fgets(line, sizeof line, f) != NULL) {
        no++;
        if (strstr(line, "\"mailhealth_") != NULL) {
            found = no;
        }
    }
    fclose(f);
    return found;
}

/* Family names are spelled in metric_names.h only: everything else names
 * them with MH_METRIC(ID), so a sample of an unknown family cannot be
 * added without the compiler noticing. */
static void
test_spelled_once(void **state)
{
    (void)state;
    const char *src = getenv("MH_SOURCE_DIR");
    if (src == NULL) {
        skip();
    }
    const char *dirs[] = {"probes", "plugin"};
    int files = 0;
    for (size_t d = 0; d < 2; d++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", src, dirs[d]);
        DIR *dh = opendir(dir);
        assert_non_null(dh);
        struct dirent *e;
        while ((e = readdir(dh)) != NULL) {
            if (!ends_with(e->d_name, ".c") && !ends_with(e->d_name, ".h")) {
                continue;
            }
            if (strncmp(e->d_name, "metric_names.", 13) == 0) {
                continue;
            }
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            int line = literal_line(path);
            if (line != 0) {
                closedir(dh);
                fail_msg("%s:%d spells a metric name; use MH_METRIC() of "
                         "probes/metric_names.h",
                         path, line);
            }
            files++;
        }
        closedir(dh);
    }
    assert_true(files > 20);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_help_and_type),
        cmocka_unit_test(test_put_header),
        cmocka_unit_test(test_readme),
        cmocka_unit_test(test_spelled_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
