/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the result model and the three renderers: worst-state rule,
 * hostile text never breaking a format, '.' decimals in every locale.
 */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "render.h"
#include "result.h"

/* Renders into a string with open_memstream. Caller frees. */
static char *
render(int (*fn)(FILE *, const struct mh_result *), const struct mh_result *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(fn(f, r), 0);
    fclose(f);
    return buf;
}

static int
render_prom_one(FILE *f, const struct mh_result *r)
{
    const struct mh_result *one[] = {r};
    return mh_render_prometheus(f, one, 1, 1700000000, -1);
}

static struct mh_result *
hostile_result(void)
{
    struct mh_result *r = mh_result_new("smtp", "mx|1\"\\.example:25");
    assert_non_null(r);
    mh_result_raise(r, MH_STATE_CRITICAL, MH_REASON_SERVICE_UNAVAILABLE,
                    "greeting 554 a|b\nc\r\x01 \"q\" \\ \xff");
    struct mh_item *it =
        mh_result_add_item(r, "phase", "banner", MH_STATE_CRITICAL,
                           MH_REASON_SERVICE_UNAVAILABLE, "line|with\npipe");
    mh_item_set_str(r, it, "raw", "x\"y\\z\n");
    const double zero = 0;
    mh_result_add_perf(r, "time banner'=x", 1.5, MH_UNIT_SECONDS, "5",
                       "10:", &zero, NULL);
    mh_result_add_sample(r, "mailhealth_smtp_reply_code", 554, "phase",
                         "ba\"n\\ner\n", (const char *)NULL);
    r->duration_s = 0.25;
    mh_result_finish(r);
    return r;
}

static void
test_worst_state(void **state)
{
    (void)state;
    assert_int_equal(mh_state_worst(MH_STATE_OK, MH_STATE_UNKNOWN),
                     MH_STATE_UNKNOWN);
    assert_int_equal(mh_state_worst(MH_STATE_UNKNOWN, MH_STATE_WARNING),
                     MH_STATE_WARNING);
    assert_int_equal(mh_state_worst(MH_STATE_CRITICAL, MH_STATE_WARNING),
                     MH_STATE_CRITICAL);
    assert_int_equal(mh_state_worst(MH_STATE_UNKNOWN, MH_STATE_CRITICAL),
                     MH_STATE_CRITICAL);
    /* The first failure of the worst state keeps the summary. */
    struct mh_result *r = mh_result_new("smtp", "t");
    mh_result_raise(r, MH_STATE_WARNING, MH_REASON_CERT_EXPIRING,
                    "first warning");
    mh_result_raise(r, MH_STATE_WARNING, MH_REASON_AUTH_TEMPORARY,
                    "second warning");
    assert_string_equal(r->summary, "first warning");
    assert_int_equal(r->category, MH_CAT_TLS);
    assert_int_equal(r->reason, MH_REASON_CERT_EXPIRING);
    mh_result_raise(r, MH_STATE_CRITICAL, MH_REASON_RELAY_DENIED, "critical");
    assert_int_equal(r->category, MH_CAT_RELAY);
    assert_int_equal(r->reason, MH_REASON_RELAY_DENIED);
    mh_result_raise(r, MH_STATE_WARNING, MH_REASON_AUTH_TEMPORARY,
                    "later warning");
    assert_string_equal(r->summary, "critical");
    /* An override replaces state, reason and (when given) the summary. */
    mh_result_override(r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR, NULL);
    assert_int_equal(r->state, MH_STATE_UNKNOWN);
    assert_int_equal(r->category, MH_CAT_NONE);
    assert_string_equal(r->summary, "critical");
    mh_result_override(r, MH_STATE_WARNING, MH_REASON_GREYLISTED, "grey %d", 4);
    assert_int_equal(r->category, MH_CAT_RESPONSE);
    assert_string_equal(r->summary, "grey 4");
    mh_result_free(r);
}

static void
test_categories(void **state)
{
    (void)state;
    static const char *const names[] = {"connection", "timeout", "auth",
                                        "response",   "relay",   "blacklist",
                                        "tls"};
    assert_int_equal(MH_CATEGORY_COUNT, 7);
    for (int i = 0; i < 7; i++) {
        assert_string_equal(mh_category_name((enum mh_category)(i + 1)),
                            names[i]);
        assert_int_equal(mh_category_from_name(names[i]), i + 1);
    }
    assert_int_equal(mh_category_from_name("bogus"), MH_CAT_NONE);
}

/* No '|' or control character reaches the status line, long output or
 * perfdata labels; exactly one '|' separates the perfdata. */
static void
test_nagios_sanitised(void **state)
{
    (void)state;
    struct mh_result *r = hostile_result();
    char *out = render(mh_render_nagios, r);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    *nl = '\0';
    const char *line1 = out;
    assert_non_null(strstr(line1, "MAILHEALTH CRITICAL - [response] "));
    const char *bar = strchr(line1, '|');
    assert_non_null(bar);
    assert_null(strchr(bar + 1, '|'));
    for (const char *p = line1; *p != '\0'; p++) {
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    }
    /* Perfdata label: no quote, no '=' before the value, no space. */
    assert_non_null(strstr(bar, " time_banner__x=1.5s;5;10:;0"));
    /* Long output: the pipe and newline inside the item are neutralised. */
    const char *rest = nl + 1;
    assert_null(strchr(rest, '|'));
    assert_non_null(strstr(rest, "phase banner: line/with\\x0apipe"));
    free(out);
    mh_result_free(r);
}

static void
test_json_valid(void **state)
{
    (void)state;
    struct mh_result *r = hostile_result();
    char *out = render(mh_render_json, r);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItem(j, "state")->valuestring,
                        "CRITICAL");
    assert_int_equal(cJSON_GetObjectItem(j, "exit_code")->valueint, 2);
    assert_string_equal(cJSON_GetObjectItem(j, "category")->valuestring,
                        "response");
    assert_string_equal(cJSON_GetObjectItem(j, "check")->valuestring, "smtp");
    assert_non_null(cJSON_GetObjectItem(j, "summary"));
    cJSON *phases = cJSON_GetObjectItem(j, "phases");
    assert_true(cJSON_IsArray(phases));
    cJSON *ph = cJSON_GetArrayItem(phases, 0);
    assert_string_equal(cJSON_GetObjectItem(ph, "raw")->valuestring,
                        "x\"y\\z\\x0a");
    cJSON_Delete(j);
    free(out);
    mh_result_free(r);

    /* An OK result has a null category. */
    r = mh_result_new("smtp", "t");
    mh_result_finish(r);
    out = render(mh_render_json, r);
    j = cJSON_Parse(out);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "category")));
    cJSON_Delete(j);
    free(out);
    mh_result_free(r);
}

static void
test_prometheus_escaping(void **state)
{
    (void)state;
    struct mh_result *r = hostile_result();
    char *out = render(render_prom_one, r);
    assert_non_null(strstr(out, "target=\"mx|1\\\"\\\\.example:25\""));
    assert_non_null(strstr(out, "phase=\"ba\\\"n\\\\ner\\\\x0a\""));
    /* All seven categories, exactly one set. */
    int ones = 0, series = 0;
    size_t len = strlen(out);
    for (size_t i = 0; i < len; i++) {
        if ((i == 0 || out[i - 1] == '\n') &&
            strncmp(out + i, "mailhealth_probe_error{", 23) == 0) {
            series++;
            size_t e = i;
            while (e < len && out[e] != '\n') {
                e++;
            }
            if (out[e - 1] == '1' && out[e - 2] == ' ') {
                ones++;
            }
        }
    }
    assert_int_equal(series, 7);
    assert_int_equal(ones, 1);
    assert_non_null(strstr(out, "category=\"response\"} 1\n"));
    /* One TYPE line per family; file ends with a newline. */
    assert_non_null(strstr(out, "# TYPE mailhealth_smtp_reply_code gauge\n"));
    assert_int_equal(out[strlen(out) - 1], '\n');
    free(out);
    mh_result_free(r);
}

static int
render_prom_probe(FILE *f, const struct mh_result *r)
{
    const struct mh_result *one[] = {r};
    return mh_render_prometheus_with(f, one, 1, 1700000000, 2.5, false, NULL);
}

static int
render_prom_round(FILE *f, const struct mh_result *r)
{
    const struct mh_result *one[] = {r};
    return mh_render_prometheus_with(f, one, 1, 1700000000, 2.5, true,
                                     "(last round)");
}

/* The exporter's two forms: a /probe answer has the check's families
 * only; a /metrics round notes the round in the checks' HELP texts and
 * keeps the writer's families as they are. */
static void
test_prometheus_with(void **state)
{
    (void)state;
    struct mh_result *r = hostile_result();
    char *probe = render(render_prom_probe, r);
    assert_non_null(strstr(probe, "\nmailhealth_probe_success{"));
    assert_non_null(strstr(probe, "# HELP mailhealth_probe_success 1 if the "
                                  "check's state is OK, else 0.\n"));
    assert_null(strstr(probe, "mailhealth_build_info"));
    assert_null(strstr(probe, "mailhealth_last_run_timestamp_seconds"));
    assert_null(strstr(probe, "mailhealth_runner_round_duration_seconds"));
    char *round = render(render_prom_round, r);
    assert_non_null(strstr(round, "# HELP mailhealth_probe_success 1 if the "
                                  "check's state is OK, else 0. (last "
                                  "round)\n"));
    assert_non_null(strstr(round, "# HELP mailhealth_smtp_reply_code Reply "
                                  "code of the server's last reply in each "
                                  "SMTP phase. (last round)\n"));
    assert_non_null(strstr(round, "\nmailhealth_build_info{version="));
    assert_non_null(strstr(round, "\nmailhealth_runner_round_duration_"
                                  "seconds 2.5\n"));
    assert_null(strstr(round, "file. (last round)"));
    /* The classic form is the round's without the note. */
    char *classic = render(render_prom_one, r);
    assert_null(strstr(classic, "(last round)"));
    assert_non_null(strstr(classic, "\nmailhealth_build_info{version="));
    free(probe);
    free(round);
    free(classic);
    mh_result_free(r);
}

/* '.' as the decimal point whatever LC_NUMERIC says. */
static void
test_comma_locale(void **state)
{
    (void)state;
    char buf[64];
    const char *loc = setlocale(LC_NUMERIC, "de_DE.UTF-8");
    if (loc == NULL) {
        loc = setlocale(LC_NUMERIC, "de_DE.utf8");
    }
    if (loc == NULL) {
        skip(); /* the integration test generates the locale and checks the
                   binary's output under it */
    }
    assert_string_equal(mh_fmt_decimal(buf, sizeof buf, 1.25, 6), "1.25");
    struct mh_result *r = hostile_result();
    char *out = render(mh_render_nagios, r);
    assert_non_null(strstr(out, "=1.5s;"));
    free(out);
    out = render(render_prom_one, r);
    assert_non_null(strstr(out, "mailhealth_probe_duration_seconds{target="));
    assert_non_null(strstr(out, "} 0.25\n"));
    free(out);
    mh_result_free(r);
    setlocale(LC_NUMERIC, "C");
}

static void
test_fmt_decimal(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(mh_fmt_decimal(buf, sizeof buf, 0, 6), "0");
    assert_string_equal(mh_fmt_decimal(buf, sizeof buf, 2.5, 6), "2.5");
    assert_string_equal(mh_fmt_decimal(buf, sizeof buf, 10, 3), "10");
    assert_string_equal(mh_fmt_decimal(buf, sizeof buf, 0.0001234, 6),
                        "0.000123");
    assert_string_equal(mh_fmt_decimal(buf, sizeof buf, -0.0000001, 3), "0");
}

/* A result with items named a..(a+n-1) and the given state/summary. */
static struct mh_result *
merge_base(const char *names, enum mh_state st, const char *summary)
{
    struct mh_result *r = mh_result_new("smtp", "t");
    assert_non_null(r);
    for (const char *c = names; *c != '\0'; c++) {
        char name[2] = {*c, '\0'};
        assert_non_null(mh_result_add_item(r, "phase", name, MH_STATE_OK,
                                           MH_REASON_NONE, "%s", name));
    }
    if (summary != NULL) {
        mh_result_raise(r, st, MH_REASON_PERMANENT_FAILURE, "%s", summary);
    }
    return r;
}

static void
test_merge_at(void **state)
{
    (void)state;
    /* Items land at the position, the rest moves behind them. */
    struct mh_result *r = merge_base("abcd", MH_STATE_OK, NULL);
    struct mh_result *t = merge_base("xy", MH_STATE_OK, NULL);
    mh_result_add_sample(t, "mailhealth_tls_verified", 1, (const char *)NULL);
    assert_int_equal(mh_result_merge_at(r, t, 2, MH_STATE_OK), 0);
    assert_int_equal(r->nitems, 6);
    const char *want = "abxycd";
    for (size_t i = 0; i < 6; i++) {
        char name[2] = {want[i], '\0'};
        assert_string_equal(r->items[i].name, name);
    }
    assert_int_equal(r->nsamples, 1);
    assert_int_equal(r->state, MH_STATE_OK);
    mh_result_free(r);

    /* Worse than everything since: the merged summary wins. */
    r = merge_base("a", MH_STATE_WARNING, "later warning");
    t = merge_base("", MH_STATE_CRITICAL, "certificate expired");
    t->category = MH_CAT_TLS;
    mh_result_merge_at(r, t, 1, MH_STATE_OK);
    assert_int_equal(r->state, MH_STATE_CRITICAL);
    assert_int_equal(r->category, MH_CAT_TLS);
    assert_string_equal(r->summary, "certificate expired");
    mh_result_free(r);

    /* A tie at a state reached only after the position: the merged one
     * came first, so its summary wins. */
    r = merge_base("a", MH_STATE_CRITICAL, "RCPT rejected");
    t = merge_base("", MH_STATE_CRITICAL, "certificate expired");
    mh_result_merge_at(r, t, 1, MH_STATE_OK);
    assert_string_equal(r->summary, "certificate expired");
    mh_result_free(r);

    /* A tie at the state r had already: r's earlier summary stays. */
    r = merge_base("a", MH_STATE_CRITICAL, "greeting 554");
    t = merge_base("", MH_STATE_CRITICAL, "certificate expired");
    mh_result_merge_at(r, t, 1, MH_STATE_CRITICAL);
    assert_string_equal(r->summary, "greeting 554");
    mh_result_free(r);

    /* Better than r: nothing changes but the items. */
    r = merge_base("a", MH_STATE_CRITICAL, "RCPT rejected");
    t = merge_base("z", MH_STATE_WARNING, "expires soon");
    mh_result_merge_at(r, t, 0, MH_STATE_OK);
    assert_string_equal(r->summary, "RCPT rejected");
    assert_string_equal(r->items[0].name, "z");
    mh_result_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worst_state),
        cmocka_unit_test(test_categories),
        cmocka_unit_test(test_nagios_sanitised),
        cmocka_unit_test(test_json_valid),
        cmocka_unit_test(test_prometheus_escaping),
        cmocka_unit_test(test_prometheus_with),
        cmocka_unit_test(test_comma_locale),
        cmocka_unit_test(test_fmt_decimal),
        cmocka_unit_test(test_merge_at),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
