/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the runner's configuration loading (plugin/runner_config.c:
 * the '-'/'_' rule, types, defaults, every error case), of its helpers
 * (URL redaction) and of the notification rules (plugin/notify.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "exporter.h"
#include "notify.h"
#include "runner.h"

static struct mh_run_config *
parse_ok(const char *json)
{
    struct mh_run_config *c = NULL;
    char err[1024] = "";
    int rc = mh_run_config_parse(json, strlen(json), "t.json", NULL, &c, err,
                                 sizeof err);
    if (rc != 0) {
        fail_msg("unexpected error: %s\nconfig: %s", err, json);
    }
    assert_non_null(c);
    return c;
}

/* The config must fail with a message containing every string given
 * (NULL-terminated). */
static void
parse_err(const char *json, ...)
{
    struct mh_run_config *c = NULL;
    char err[1024] = "";
    int rc = mh_run_config_parse(json, strlen(json), "t.json", NULL, &c, err,
                                 sizeof err);
    if (rc == 0) {
        mh_run_config_free(c);
        fail_msg("accepted an invalid config: %s", json);
    }
    assert_null(c);
    assert_true(strncmp(err, "t.json: ", 8) == 0);
    va_list ap;
    va_start(ap, json);
    const char *want;
    while ((want = va_arg(ap, const char *)) != NULL) {
        if (strstr(err, want) == NULL) {
            fail_msg("error '%s' lacks '%s' (config %s)", err, want, json);
        }
    }
    va_end(ap);
}

#define CHECKS(...)                                                            \
    "{\"textfile\":\"/tmp/x.prom\",\"checks\":[" __VA_ARGS__ "]}"

static void
test_minimal_defaults(void **state)
{
    (void)state;
    struct mh_run_config *c =
        parse_ok(CHECKS("{\"check\":\"smtp\",\"host\":\"mx1.example.net\"}"));
    assert_int_equal(c->nchecks, 1);
    assert_true(c->interval_s == 60);
    assert_false(c->has_interval);
    assert_int_equal(c->concurrency, MH_RUN_CONCURRENCY_AUTO);
    assert_string_equal(c->textfile, "/tmp/x.prom");
    assert_true(c->notify.timeout_s == 5);
    const struct mh_run_check *k = &c->checks[0];
    assert_int_equal(k->cfg.command, MH_CMD_SMTP);
    assert_string_equal(k->cfg.host, "mx1.example.net");
    assert_int_equal(k->cfg.port, 25);
    assert_true(k->cfg.timeout_s == 10);
    assert_null(k->name);
    assert_string_equal(k->target, "mx1.example.net:25");
    assert_true(c->max_timeout_s == 10);
    mh_run_config_free(c);
    /* "auto" says the default aloud. */
    c = parse_ok("{\"concurrency\":\"auto\",\"textfile\":\"/tmp/x.prom\","
                 "\"checks\":[{\"check\":\"smtp\",\"host\":\"a\"}]}");
    assert_int_equal(c->concurrency, MH_RUN_CONCURRENCY_AUTO);
    mh_run_config_free(c);
}

/* A whole config as an operator writes one: defaults, notifications and
 * three kinds of check. */
static void
test_full_example(void **state)
{
    (void)state;
    char dir[] = "/tmp/mh-unit-tok.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char tok[256];
    snprintf(tok, sizeof tok, "%s/token", dir);
    FILE *f = fopen(tok, "w");
    assert_non_null(f);
    fputs("  s3cret-Token \n", f);
    fclose(f);
    chmod(tok, 0600);
    char json[2048];
    snprintf(json, sizeof json,
             "{ \"interval_seconds\": 60, \"timeout_seconds\": 10, "
             "\"concurrency\": 16,\n"
             "  \"textfile\": "
             "\"/var/lib/prometheus/node-exporter/mailhealth.prom\", "
             "\"resolver\": \"127.0.0.1:53\",\n"
             "  \"notify\": { \"alertmanager_url\": \"http://127.0.0.1:9093\", "
             "\"webhook_url\": \"https://oncall.example.net/hook\", "
             "\"token_file\": \"%s\" },\n"
             "  \"checks\": [\n"
             "    { \"name\": \"mx1\", \"check\": \"smtp\", \"host\": "
             "\"mx1.example.net\", \"port\": 25, \"starttls\": true, "
             "\"cert_days\": \"30,14\" },\n"
             "    { \"name\": \"mx1-rbl\", \"check\": \"dnsbl\", \"host\": "
             "\"192.0.2.25\", \"zone\": [\"zen.spamhaus.org\", "
             "\"bl.spamcop.net\"] },\n"
             "    { \"check\": \"domain\", \"domain\": \"example.net\" } ] }",
             tok);
    struct mh_run_config *c = parse_ok(json);
    assert_int_equal(c->nchecks, 3);
    assert_int_equal(c->concurrency, 16);
    assert_true(c->has_interval);
    assert_string_equal(c->notify.alertmanager_url, "http://127.0.0.1:9093");
    assert_string_equal(c->notify.webhook_url,
                        "https://oncall.example.net/hook");
    assert_string_equal(c->token, "s3cret-Token");
    const struct mh_run_check *k = c->checks;
    assert_string_equal(k[0].target, "mx1");
    assert_int_equal(k[0].cfg.port, 25);
    assert_int_equal(k[0].cfg.tls_mode, MH_TLS_STARTTLS);
    assert_true(k[0].cfg.cert_days.given);
    assert_true(k[0].cfg.cert_days.warn == 30 && k[0].cfg.cert_days.crit == 14);
    assert_string_equal(k[0].cfg.resolver, "127.0.0.1:53");
    assert_int_equal(k[1].cfg.command, MH_CMD_DNSBL);
    assert_int_equal(k[1].cfg.zones.n, 2);
    assert_string_equal(k[1].cfg.zones.v[1], "bl.spamcop.net");
    assert_string_equal(k[1].cfg.resolver, "127.0.0.1:53");
    assert_string_equal(k[2].target, "example.net");
    assert_string_equal(k[2].cfg.domain, "example.net");
    mh_run_config_free(c);
    unlink(tok);
    rmdir(dir);
}

/* Every key is the long option with '-' written '_'. */
static void
test_underscore_rule(void **state)
{
    (void)state;
    struct mh_run_config *c = parse_ok(CHECKS(
        "{\"check\":\"smtp\",\"host\":\"h\",\"auth_user\":\"u\","
        "\"auth_password_file\":\"/p\",\"mail_from\":\"a@b\","
        "\"rcpt_to\":[\"x@y\",\"z@y\"],\"max_line_length\":1000,"
        "\"use_ipv4\":true,\"starttls_optional\":true,\"no_sni\":true,"
        "\"expect_greeting\":220,\"tls_min\":\"1.3\",\"verify_name\":\"v\","
        "\"ca_file\":\"/dev/null\",\"allow_plaintext_auth\":false}"));
    const struct mh_config *k = &c->checks[0].cfg;
    assert_string_equal(k->auth_user, "u");
    assert_string_equal(k->auth_password_file, "/p");
    assert_string_equal(k->mail_from, "a@b");
    assert_int_equal(k->rcpt_to.n, 2);
    assert_true(k->max_line_length == 1000);
    assert_int_equal(k->family, AF_INET);
    assert_true(k->starttls_optional);
    assert_true(k->no_sni);
    assert_int_equal(k->expect_greeting, 220);
    assert_int_equal(k->tls_min_version, TLS1_3_VERSION);
    assert_false(k->allow_plaintext_auth);
    mh_run_config_free(c);

    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"h\",\"auth-user\":\"u\"}"),
              "checks[0] (smtp)", "\"auth-user\"", "write \"auth_user\"", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"h\",\"Host\":\"u\"}"),
              "unknown key \"Host\"", NULL);
}

static void
test_numbers_and_flags(void **state)
{
    (void)state;
    struct mh_run_config *c = parse_ok(
        CHECKS("{\"check\":\"tls\",\"host\":\"h\",\"tls\":true,\"timeout\":2.5,"
               "\"cert_days\":21}"));
    const struct mh_run_check *k = &c->checks[0];
    assert_true(k->cfg.timeout_s == 2.5);
    assert_int_equal(k->cfg.tls_mode, MH_TLS_IMPLICIT);
    assert_int_equal(k->cfg.port, 465);
    assert_string_equal(k->target, "h:465");
    assert_true(k->cfg.cert_days.warn == 21);
    assert_true(c->max_timeout_s == 2.5);
    mh_run_config_free(c);

    /* false = omitted, and it cancels a top-level default. */
    c = parse_ok("{\"textfile\":\"/x.prom\",\"starttls\":true,\"checks\":["
                 "{\"check\":\"smtp\",\"host\":\"a\"},"
                 "{\"check\":\"smtp\",\"host\":\"b\",\"starttls\":false,"
                 "\"tls\":true}]}");
    assert_int_equal(c->checks[0].cfg.tls_mode, MH_TLS_STARTTLS);
    assert_int_equal(c->checks[1].cfg.tls_mode, MH_TLS_IMPLICIT);
    mh_run_config_free(c);

    /* A repeatable option takes one value too. */
    c = parse_ok(CHECKS("{\"check\":\"dnsbl\",\"host\":\"192.0.2.1\","
                        "\"zone\":\"zen.spamhaus.org\"}"));
    assert_int_equal(c->checks[0].cfg.zones.n, 1);
    mh_run_config_free(c);

    /* dnsbl takes several targets, as -H does on the command line. */
    c = parse_ok(CHECKS("{\"check\":\"dnsbl\",\"host\":[\"192.0.2.1\","
                        "\"192.0.2.8/30\"],\"zone\":\"zen.spamhaus.org\"}"));
    assert_int_equal(c->checks[0].cfg.hosts.n, 2);
    assert_string_equal(c->checks[0].cfg.hosts.v[1], "192.0.2.8/30");
    assert_string_equal(c->checks[0].target, "192.0.2.1");
    mh_run_config_free(c);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":[\"a\",\"b\"]}"),
              "key \"host\"", "not an array", NULL);
}

static void
test_defaults_and_overrides(void **state)
{
    (void)state;
    struct mh_run_config *c = parse_ok(
        "{\"textfile\":\"/x.prom\",\"timeout_seconds\":4,\"resolver\":"
        "\"127.0.0.1:5353\",\"cert_days\":\"20,10\",\"ehlo\":\"probe.example\","
        "\"zone\":[\"a.example\"],\"checks\":["
        "{\"check\":\"smtp\",\"host\":\"a\"},"
        "{\"check\":\"smtp\",\"host\":\"b\",\"timeout\":9,\"resolver\":"
        "\"10.0.0.1\"},"
        "{\"check\":\"dnsbl\",\"host\":\"192.0.2.1\"},"
        "{\"check\":\"dnsbl\",\"host\":\"192.0.2.2\",\"zone\":[\"b.example\","
        "\"c.example\"]}]}");
    const struct mh_run_check *k = c->checks;
    assert_true(k[0].cfg.timeout_s == 4);
    assert_string_equal(k[0].cfg.resolver, "127.0.0.1:5353");
    assert_true(k[0].cfg.cert_days.warn == 20);
    assert_string_equal(k[0].cfg.ehlo, "probe.example");
    assert_true(k[1].cfg.timeout_s == 9);
    assert_string_equal(k[1].cfg.resolver, "10.0.0.1");
    /* cert_days and ehlo are no dnsbl options: not applied, no error. */
    assert_false(k[2].cfg.cert_days.given);
    assert_int_equal(k[2].cfg.zones.n, 1);
    assert_true(k[2].cfg.timeout_s == 4);
    /* A check's list replaces the default list. */
    assert_int_equal(k[3].cfg.zones.n, 2);
    assert_string_equal(k[3].cfg.zones.v[0], "b.example");
    assert_true(c->max_timeout_s == 9);
    mh_run_config_free(c);

    /* The command line's -t and --resolver are fallbacks. */
    struct mh_config base;
    mh_config_init(&base, MH_CMD_RUN);
    base.timeout_s = 7;
    base.resolver = "192.0.2.53";
    const char *j = CHECKS("{\"check\":\"smtp\",\"host\":\"a\"},"
                           "{\"check\":\"smtp\",\"host\":\"b\",\"timeout\":3}");
    char err[512];
    assert_int_equal(
        mh_run_config_parse(j, strlen(j), "t.json", &base, &c, err, sizeof err),
        0);
    assert_true(c->checks[0].cfg.timeout_s == 7);
    assert_string_equal(c->checks[0].cfg.resolver, "192.0.2.53");
    assert_true(c->checks[1].cfg.timeout_s == 3);
    mh_run_config_free(c);
    j = "{\"textfile\":\"/x.prom\",\"timeout_seconds\":2,\"checks\":["
        "{\"check\":\"smtp\",\"host\":\"a\"}]}";
    assert_int_equal(
        mh_run_config_parse(j, strlen(j), "t.json", &base, &c, err, sizeof err),
        0);
    assert_true(c->checks[0].cfg.timeout_s == 2);
    mh_run_config_free(c);
}

static void
test_targets(void **state)
{
    (void)state;
    struct mh_run_config *c = parse_ok(
        CHECKS("{\"check\":\"smtp\",\"host\":\"2001:db8::1\"},"
               "{\"check\":\"smtp\",\"host\":\"mx\",\"port\":587},"
               "{\"check\":\"tls\",\"host\":\"mx\",\"name\":\"mx-cert\"},"
               "{\"check\":\"dnsbl\",\"host\":\"192.0.2.1\",\"zone\":\"z\"},"
               "{\"check\":\"domain\",\"domain\":\"example.org\"}"));
    assert_string_equal(c->checks[0].target, "[2001:db8::1]:25");
    assert_string_equal(c->checks[1].target, "mx:587");
    assert_string_equal(c->checks[2].target, "mx-cert");
    assert_string_equal(c->checks[2].name, "mx-cert");
    assert_string_equal(c->checks[3].target, "192.0.2.1");
    assert_string_equal(c->checks[4].target, "example.org");
    assert_int_equal(c->checks[4].index, 4);
    mh_run_config_free(c);
}

static void
test_errors_json_and_top(void **state)
{
    (void)state;
    parse_err("{\"checks\": [ {\"check\": \"smtp\",, } ]}", "not valid JSON",
              "line 1", NULL);
    parse_err("{\n\"checks\": [\n  {\"check\" \"smtp\"}]}", "not valid JSON",
              "line 3", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\"}") " x",
              "text after the end", NULL);
    parse_err("[1,2]", "must be a JSON object", NULL);
    parse_err("", "not valid JSON", NULL);
    parse_err("{\"textfile\":\"/x.prom\"}", "missing required key \"checks\"",
              NULL);
    parse_err("{\"checks\":[]}", "\"checks\"", "at least one", NULL);
    parse_err("{\"checks\":{}}", "\"checks\"", "array", NULL);
}

/* spread_s: left out is -1 (the runner's default), 0 and a number are
 * kept. */
static void
test_spread_key(void **state)
{
    (void)state;
    const char *chk = "\"checks\":[{\"check\":\"smtp\",\"host\":\"a\"}]";
    char j[512];
    snprintf(j, sizeof j, "{\"textfile\":\"/tmp/x.prom\",%s}", chk);
    struct mh_run_config *c = parse_ok(j);
    assert_true(c->spread_s < 0);
    mh_run_config_free(c);
    snprintf(j, sizeof j, "{\"textfile\":\"/tmp/x.prom\",\"spread_s\":0,%s}",
             chk);
    c = parse_ok(j);
    assert_true(c->spread_s == 0);
    mh_run_config_free(c);
    snprintf(j, sizeof j, "{\"textfile\":\"/tmp/x.prom\",\"spread_s\":12.5,%s}",
             chk);
    c = parse_ok(j);
    assert_true(c->spread_s == 12.5);
    mh_run_config_free(c);
}

static void
test_errors_top_keys(void **state)
{
    (void)state;
    const char *ck = "\"checks\":[{\"check\":\"smtp\",\"host\":\"a\"}]";
    char j[1024];
#define TOP(fmt) (snprintf(j, sizeof j, "{" fmt ",%s}", ck), j)
    parse_err(TOP("\"intervall\":5"), "unknown top-level key \"intervall\"",
              NULL);
    parse_err(TOP("\"interval-seconds\":5"),
              "unknown top-level key \"interval-seconds\"", "'_'", NULL);
    parse_err(TOP("\"interval_seconds\":0"), "\"interval_seconds\"", NULL);
    parse_err(TOP("\"interval_seconds\":\"60\""), "\"interval_seconds\"", NULL);
    parse_err(TOP("\"spread_s\":-1"), "\"spread_s\"", "0..86400", NULL);
    parse_err(TOP("\"spread_s\":90000"), "\"spread_s\"", NULL);
    parse_err(TOP("\"spread_s\":\"10\""), "\"spread_s\"", NULL);
    parse_err(TOP("\"concurrency\":0"), "\"concurrency\"", NULL);
    parse_err(TOP("\"concurrency\":1.5"), "\"concurrency\"", "whole", NULL);
    parse_err(TOP("\"concurrency\":5000"), "\"concurrency\"", NULL);
    parse_err(TOP("\"concurrency\":\"automatic\""), "\"concurrency\"",
              "\"auto\"", NULL);
    parse_err(TOP("\"concurrency\":\"16\""), "\"concurrency\"", NULL);
    parse_err(TOP("\"textfile\":5"), "\"textfile\"", "wrong type", NULL);
    parse_err(TOP("\"textfile\":\"\""), "\"textfile\"", NULL);
    parse_err(TOP("\"timeout_seconds\":\"10\""), "\"timeout_seconds\"",
              "wrong type", NULL);
    parse_err(TOP("\"timeout_seconds\":0"), "\"timeout_seconds\"",
              "invalid value '0' (seconds, more than 0, at most 3600)", NULL);
    parse_err(TOP("\"timeout_seconds\":5,\"timeout\":5"), "\"timeout\"",
              "give one", NULL);
    parse_err(TOP("\"port\":\"x\""), "top-level key \"port\"",
              "invalid value 'x' (a port number, 1..65535)", NULL);
    parse_err(TOP("\"starttls\":\"yes\""), "top-level key \"starttls\"",
              "true or false", NULL);
    parse_err(TOP("\"output\":\"json\""), "unknown top-level key \"output\"",
              NULL);
    parse_err(TOP("\"once\":true"), "unknown top-level key \"once\"", NULL);
    parse_err(TOP("\"concurrency\":2,\"concurrency\":3"),
              "top-level key \"concurrency\" is given twice", NULL);
    parse_err(TOP("\"notify\":[]"), "\"notify\"", "object", NULL);
    parse_err(TOP("\"notify\":{\"url\":\"http://x\"}"),
              "notify: unknown key \"url\"", NULL);
    parse_err(TOP("\"notify\":{\"webhook_url\":\"ftp://x\"}"),
              "notify: key \"webhook_url\"", "http", NULL);
    parse_err(TOP("\"notify\":{\"alertmanager_url\":5}"),
              "notify: key \"alertmanager_url\"", "wrong type", NULL);
    parse_err(TOP("\"notify\":{\"timeout_seconds\":0}"),
              "notify: key \"timeout_seconds\"", NULL);
    parse_err(TOP("\"notify\":{\"token_file\":\"/nonexistent/token\"}"),
              "notify: key \"token_file\"", "/nonexistent/token", NULL);
    /* A starttls/tls conflict between a default and a check. */
    parse_err("{\"tls\":true,\"checks\":[{\"check\":\"smtp\",\"host\":\"a\","
              "\"starttls\":true}]}",
              "checks[0] (smtp)", "'starttls' and 'tls' exclude each other",
              NULL);
#undef TOP
}

static void
test_errors_token_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/mh-unit-tok.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char tok[256], j[1024];
    snprintf(tok, sizeof tok, "%s/token", dir);
    FILE *f = fopen(tok, "w");
    assert_non_null(f);
    fclose(f);
    chmod(tok, 0600);
    snprintf(j, sizeof j,
             "{\"notify\":{\"token_file\":\"%s\"},\"checks\":[{\"check\":"
             "\"smtp\",\"host\":\"a\"}]}",
             tok);
    parse_err(j, "token_file", "is empty", NULL);
    f = fopen(tok, "w");
    assert_non_null(f);
    fputs("two words\n", f);
    fclose(f);
    parse_err(j, "token_file", "printable, no spaces", NULL);
    unlink(tok);
    rmdir(dir);
}

static void
test_errors_checks(void **state)
{
    (void)state;
    parse_err(CHECKS("5"), "checks[0]", "must be an object", NULL);
    parse_err(CHECKS("{\"host\":\"a\"}"), "checks[0]",
              "missing required key \"check\"", NULL);
    parse_err(CHECKS("{\"name\":\"x\",\"host\":\"a\"}"), "checks[0] \"x\"",
              "missing required key \"check\"", NULL);
    parse_err(CHECKS("{\"check\":\"run\",\"host\":\"a\"}"), "key \"check\"",
              "smtp, tls, dnsbl, domain, delivery", NULL);
    parse_err(CHECKS("{\"check\":\"imap\",\"host\":\"a\"}"), "key \"check\"",
              NULL);
    parse_err(CHECKS("{\"check\":5,\"host\":\"a\"}"), "key \"check\"", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\"},"
                     "{\"check\":\"smtp\",\"name\":\"m\",\"host\":\"a\","
                     "\"prot\":25}"),
              "checks[1] \"m\"", "unknown key \"prot\"", NULL);
    /* An option of another subcommand. */
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"zone\":[\"z\"]}"),
              "checks[0] (smtp)", "unknown key \"zone\"",
              "not an option of check_mailhealth smtp", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"timeout_seconds\":"
                     "5}"),
              "unknown key \"timeout_seconds\"", "\"timeout\"", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"output\":\"json\"}"),
              "key \"output\" is not allowed in a check", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"textfile\":\"/x\"}"),
              "key \"textfile\" is not allowed in a check", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"help\":true}"),
              "key \"help\" is not allowed", NULL);
    /* Wrong types. */
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"starttls\":1}"),
              "key \"starttls\"", "true or false", NULL);
    parse_err(
        CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"starttls\":\"true\"}"),
        "key \"starttls\"", "true or false", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":true}"), "key \"host\"",
              "only for flags", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":null}"), "key \"host\"",
              "null", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":{\"a\":1}}"), "key \"host\"",
              "object", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":[\"a\"]}"), "key \"host\"",
              "not an array", NULL);
    parse_err(CHECKS("{\"check\":\"dnsbl\",\"host\":\"a\",\"zone\":[\"z\",5.5,"
                     "true]}"),
              "key \"zone\"", "element 2", NULL);
    /* Bad values, in the config's vocabulary. */
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"port\":0}"),
              "key \"port\"", "invalid value '0' (a port number, 1..65535)",
              NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"port\":70000}"),
              "key \"port\"", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"port\":25.5}"),
              "key \"port\"", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"cert_days\":"
                     "\"14,30\"}"),
              "key \"cert_days\"", "exceed", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"timeout\":-1}"),
              "key \"timeout\"", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"warning\":\"x:y\"}"),
              "key \"warning\"", NULL);
    /* Required keys. */
    parse_err(CHECKS("{\"check\":\"smtp\",\"port\":25}"), "checks[0] (smtp)",
              "missing required key \"host\"", NULL);
    parse_err(CHECKS("{\"check\":\"tls\",\"host\":\"\"}"),
              "missing required key \"host\"", NULL);
    parse_err(CHECKS("{\"check\":\"domain\"}"), "checks[0] (domain)",
              "missing required key \"domain\"", NULL);
    parse_err(CHECKS("{\"check\":\"dnsbl\",\"host\":\"192.0.2.1\"}"),
              "missing required key \"zone\"", NULL);
    /* Cross-option rules, with option names as the config writes them. */
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"starttls\":true,"
                     "\"tls\":true}"),
              "'starttls' and 'tls' exclude each other", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"auth_user\":\"u\"}"),
              "'auth_user' needs 'auth_password_file'", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"hostname\":\"b\"}"),
              "\"host\" and \"hostname\"", NULL);
    /* Duplicates. */
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"host\":\"b\"}"),
              "key \"host\" is given twice", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"name\":\"mx\",\"host\":\"a\"},"
                     "{\"check\":\"dnsbl\",\"name\":\"mx\",\"host\":\"a\","
                     "\"zone\":\"z\"}"),
              "checks[1] \"mx\"", "already used by checks[0]", "unique", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\"},"
                     "{\"check\":\"tls\",\"host\":\"a\"}"),
              "checks[1] (tls)", "target \"a:25\"", "checks[0]", "\"name\"",
              NULL);
    /* Names. */
    parse_err(CHECKS("{\"check\":\"smtp\",\"name\":5,\"host\":\"a\"}"),
              "checks[0]", "key \"name\"", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"name\":\"\",\"host\":\"a\"}"),
              "key \"name\"", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"name\":\"a\\nb\",\"host\":\"a\"}"),
              "key \"name\"", "printable", NULL);
}

/* The values the command line refuses are refused here too, through the
 * same parsers: a config error naming the check and the key, with the
 * command line's reason. */
static void
test_errors_bad_values(void **state)
{
    (void)state;
    static const struct {
        const char *key, *json, *shown, *reason;
    } cases[] = {
        {"port", "\"25.0\"", "25.0", "a port number, 1..65535"},
        {"port", "0", "0", "a port number, 1..65535"},
        {"port", "65536", "65536", "a port number, 1..65535"},
        {"port", "\"25x\"", "25x", "a port number, 1..65535"},
        {"port", "25.5", "25.5", "a port number, 1..65535"},
        {"timeout", "\"abc\"", "abc", "seconds, more than 0, at most 3600"},
        {"timeout", "-1", "-1", "seconds, more than 0, at most 3600"},
        /* shown as written, not rounded to "0" */
        {"timeout", "1e-10", "1e-10", "seconds, more than 0, at most 3600"},
        {"port", "1e15", "1e+15", "a port number, 1..65535"},
        {"expect_greeting", "99", "99", "a reply code, 200..599"},
        {"expect_greeting", "\"2200\"", "2200", "a reply code, 200..599"},
        {"tls_min", "\"1.4\"", "1.4", "one of 1.0, 1.1, 1.2, 1.3"},
        {"auth_mech", "\"FOO\"", "FOO", "one of PLAIN, LOGIN, CRAM-MD5"},
        {"max_line_length", "10", "10", "a whole number, 64 to 4000"},
        {"resolver", "\"x\\n\"", "x\\x0a", "IP, IP:PORT or [IPv6]:PORT"},
        {"ehlo", "\"a\\r\\nRSET\"", "a\\x0d\\x0aRSET",
         "text sent in an SMTP command: not empty, no control characters"},
        {"ehlo", "\"\"", "",
         "text sent in an SMTP command: not empty, no control characters"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[512], key[64], why[256];
        snprintf(json, sizeof json,
                 CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"%s\":%s}"),
                 cases[i].key, cases[i].json);
        snprintf(key, sizeof key, "key \"%s\"", cases[i].key);
        snprintf(why, sizeof why, "invalid value '%s' (%s)", cases[i].shown,
                 cases[i].reason);
        parse_err(json, "checks[0] (smtp)", key, why, NULL);
        /* As a top-level default, checked when it is read. */
        snprintf(json, sizeof json,
                 "{\"%s\":%s,\"checks\":[{\"check\":\"smtp\",\"host\":"
                 "\"a\"}]}",
                 cases[i].key, cases[i].json);
        snprintf(key, sizeof key, "top-level key \"%s\"", cases[i].key);
        parse_err(json, key, why, NULL);
    }
    /* Critical narrower than warning: WARNING would never be given. */
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"warning\":5,"
                     "\"critical\":3}"),
              "checks[0] (smtp)", "'critical' 3 is narrower than 'warning' 5",
              NULL);
    /* A zone argument is checked when the config is read. */
    parse_err(CHECKS("{\"check\":\"dnsbl\",\"host\":\"192.0.2.1\","
                     "\"zone\":[\"bl.example\",\"bl.example:rhsbl\"]}"),
              "checks[0] (dnsbl)",
              "invalid 'zone' 'bl.example:rhsbl': type must be", NULL);
    parse_err(CHECKS("{\"check\":\"dnsbl\",\"host\":\"192.0.2.1\","
                     "\"zone\":\"\"}"),
              "checks[0] (dnsbl)", "invalid 'zone' '': not a DNS zone name",
              NULL);
    /* A NUL in a string would cut the value short: refused. */
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"127.0.0.1\\u0000evil\"}"),
              "a string holds \\u0000", "at line 1, column", NULL);
    struct mh_run_config *ok =
        parse_ok(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"comment\":"
                        "\"\\\\u0000 is how JSON writes a NUL\"}"));
    mh_run_config_free(ok);
    /* A dnsbl target is checked when the config is read. */
    parse_err(CHECKS("{\"check\":\"dnsbl\",\"host\":\"bad host\","
                     "\"zone\":\"bl.example\"}"),
              "checks[0] (dnsbl)", "invalid 'host' 'bad host'", NULL);
    /* The target's spelling is checked when the config is read. */
    parse_err(CHECKS("{\"check\":\"domain\",\"domain\":\"a..b\"}"),
              "checks[0] (domain)", "invalid 'domain' 'a..b': not a DNS name",
              NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"::1\",\"use_ipv4\":"
                     "true}"),
              "checks[0] (smtp)",
              "'host' ::1 is an IPv6 address: it excludes 'use_ipv4'", NULL);
    /* An authenticated session may relay: no relay test there. */
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"auth_user\":"
                     "\"u\",\"auth_password_env\":\"P\",\"relay_test\":"
                     "\"x@foreign.example\"}"),
              "checks[0] (smtp)",
              "'relay_test' and 'auth_user' exclude each other", NULL);
    /* Addresses go into MAIL FROM and RCPT TO lines: no CR LF. */
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"mail_from\":"
                     "\"a@b>\\r\\nDATA\"}"),
              "key \"mail_from\"", "text sent in an SMTP command", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"rcpt_to\":["
                     "\"a@b\",\"c@d>\\nRSET\"]}"),
              "key \"rcpt_to\"", "text sent in an SMTP command", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"relay_test\":"
                     "\"\"}"),
              "key \"relay_test\"", "text sent in an SMTP command", NULL);
    /* Conflicts and URLs speak the config's names. */
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"use_ipv4\":true,"
                     "\"use_ipv6\":true}"),
              "key \"use_ipv6\"",
              "'use_ipv4' and 'use_ipv6' exclude each other", NULL);
    parse_err(CHECKS("{\"check\":\"delivery\",\"submit\":\"smtp://h:0\"}"),
              "checks[0] (delivery)", "key \"submit\"",
              "'submit' URL has a bad port", NULL);
    parse_err(CHECKS("{\"check\":\"delivery\",\"imap\":\"imap://h\"}"),
              "checks[0] (delivery)", "missing required key \"submit\"", NULL);
}

static void
test_comments(void **state)
{
    (void)state;
    struct mh_run_config *c =
        parse_ok("{\"comment\":\"top\",\"textfile\":\"/x.prom\",\"checks\":[{"
                 "\"check\":\"smtp\",\"host\":\"a\",\"comment\":\"why\"}]}");
    assert_int_equal(c->nchecks, 1);
    mh_run_config_free(c);
    parse_err("{\"comment\":5,\"checks\":[{\"check\":\"smtp\",\"host\":"
              "\"a\"}]}",
              "key \"comment\"", "string", NULL);
    parse_err(CHECKS("{\"check\":\"smtp\",\"host\":\"a\",\"comment\":[]}"),
              "checks[0] (smtp)", "key \"comment\"", NULL);
}

/* The path of a file of the sources (rel: from the repository's top). */
static void
source_path(char *path, size_t len, const char *rel)
{
    snprintf(path, len, "%s", __FILE__);
    char *slash = strrchr(path, '/');
    assert_non_null(slash);
    snprintf(slash, len - (size_t)(slash - path), "/../../%s", rel);
}

/* contrib/runner-example.json is a valid configuration (its token file is
 * replaced by a temporary one). */
static void
test_contrib_example(void **state)
{
    (void)state;
    char path[4096];
    source_path(path, sizeof path, "contrib/runner-example.json");
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        skip(); /* sources not where the build says */
    }
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char dir[] = "/tmp/mh-unit-ex.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char tok[256];
    snprintf(tok, sizeof tok, "%s/token", dir);
    FILE *t = fopen(tok, "w");
    assert_non_null(t);
    fputs("example-token\n", t);
    fclose(t);
    chmod(tok, 0600);
    const char *from = "/etc/mailhealth/token";
    char *at = strstr(text, from);
    assert_non_null(at);
    static char fixed[65536 + 256];
    snprintf(fixed, sizeof fixed, "%.*s%s%s", (int)(at - text), text, tok,
             at + strlen(from));
    struct mh_run_config *c = parse_ok(fixed);
    assert_true(c->nchecks >= 5);
    assert_string_equal(c->token, "example-token");
    mh_run_config_free(c);
    unlink(tok);
    rmdir(dir);
}

static void
test_load_file(void **state)
{
    (void)state;
    struct mh_run_config *c = NULL;
    char err[512];
    assert_int_equal(
        mh_run_config_load("/nonexistent/run.json", NULL, &c, err, sizeof err),
        -1);
    assert_non_null(strstr(err, "cannot read /nonexistent/run.json"));
    char path[] = "/tmp/mh-unit-run.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *j = CHECKS("{\"check\":\"smtp\",\"host\":\"a\"}");
    assert_int_equal(write(fd, j, strlen(j)), (ssize_t)strlen(j));
    close(fd);
    assert_int_equal(mh_run_config_load(path, NULL, &c, err, sizeof err), 0);
    assert_string_equal(c->source, path);
    mh_run_config_free(c);
    unlink(path);
}

static void
test_url_redact(void **state)
{
    (void)state;
    char b[256];
    assert_string_equal(mh_url_redact("http://127.0.0.1:9093", b, sizeof b),
                        "http://127.0.0.1:9093");
    assert_string_equal(
        mh_url_redact("https://user:pw@hook.example/x/y?token=abc#f", b,
                      sizeof b),
        "https://***@hook.example/x/y?...");
    assert_null(strstr(b, "pw"));
    assert_null(strstr(b, "abc"));
    assert_string_equal(mh_url_redact("https://h/p#frag", b, sizeof b),
                        "https://h/p?...");
}

static void
test_strset(void **state)
{
    (void)state;
    struct mh_strset s = {0};
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "t%d", i);
        assert_int_equal(mh_strset_add(&s, k), 1);
    }
    assert_int_equal(mh_strset_add(&s, "t7"), 0);
    assert_true(mh_strset_has(&s, "t999"));
    assert_false(mh_strset_has(&s, "t1000"));
    mh_strset_free(&s);
    assert_false(mh_strset_has(&s, "t1"));
}

/* ---- notification rules ---------------------------------------------- */

static struct mh_result *
res(const char *target, const char *check, enum mh_state st,
    enum mh_reason reason, const char *summary)
{
    struct mh_result *r = mh_result_new(check, target);
    assert_non_null(r);
    if (st != MH_STATE_OK) {
        mh_result_raise(r, st, reason, "%s", summary);
    } else {
        mh_result_set_summary(r, "%s", summary);
    }
    mh_result_finish(r);
    return r;
}

static void
round_of(struct mh_notify_tracker *t, struct mh_result **r, size_t n,
         double now, struct mh_alert_batch *b)
{
    assert_int_equal(
        mh_notify_update(t, (const struct mh_result *const *)r, n, now, b), 0);
    for (size_t i = 0; i < n; i++) {
        mh_result_free(r[i]);
    }
}

static void
test_notify_rules(void **state)
{
    (void)state;
    struct mh_notify_tracker *t = mh_notify_tracker_new();
    struct mh_alert_batch b;
    /* Round 1: only non-OK states fire. */
    struct mh_result *r1[] = {
        res("a", "smtp", MH_STATE_OK, MH_REASON_NONE, "fine"),
        res("b", "smtp", MH_STATE_CRITICAL, MH_REASON_REPLY_TIMEOUT,
            "no greeting"),
        res("c", "dnsbl", MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
            "zone error")};
    round_of(t, r1, 3, 1000, &b);
    assert_int_equal(b.nchanges, 2);
    assert_true(b.changes[0].firing);
    assert_string_equal(b.changes[0].target, "b");
    assert_string_equal(b.changes[0].category, "timeout");
    assert_string_equal(b.changes[0].severity, "critical");
    assert_int_equal(b.changes[0].prev_state, -1);
    assert_string_equal(b.changes[1].severity, "warning");
    assert_string_equal(b.changes[1].category, "");
    assert_int_equal(b.nactive, 2);
    char *am = mh_notify_alertmanager_body(&b, 1000, 240);
    assert_non_null(am);
    assert_non_null(strstr(am, "\"alertname\":\"" MH_ALERT_NAME "\""));
    assert_non_null(strstr(am, "\"target\":\"b\""));
    assert_non_null(strstr(am, "\"startsAt\":\"1970-01-01T00:16:40.000Z\""));
    assert_non_null(strstr(am, "\"endsAt\":\"1970-01-01T00:20:40.000Z\""));
    assert_null(strstr(am, "\"category\":\"\"")); /* no empty label */
    free(am);
    char *wh = mh_notify_webhook_body(&b);
    assert_non_null(wh);
    assert_non_null(strstr(wh, "\"version\":\"4\""));
    assert_non_null(strstr(wh, "\"status\":\"firing\""));
    assert_non_null(strstr(wh, "\"endsAt\":\"0001-01-01T00:00:00Z\""));
    free(wh);
    mh_alert_batch_free(&b);

    /* Round 2: nothing changes; the active alerts keep their start. */
    struct mh_result *r2[] = {
        res("a", "smtp", MH_STATE_OK, MH_REASON_NONE, "fine"),
        res("b", "smtp", MH_STATE_CRITICAL, MH_REASON_REPLY_TIMEOUT,
            "still nothing"),
        res("c", "dnsbl", MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
            "zone error")};
    round_of(t, r2, 3, 1060, &b);
    assert_int_equal(b.nchanges, 0);
    assert_int_equal(b.nactive, 2);
    assert_true(b.active[0].starts_at == 1000);
    assert_string_equal(b.active[0].summary, "still nothing");
    assert_null(mh_notify_webhook_body(&b));
    am = mh_notify_alertmanager_body(&b, 1060, 240);
    assert_non_null(am); /* re-sent every round */
    free(am);
    mh_alert_batch_free(&b);

    /* Round 3: a fails, b changes category, c recovers. */
    struct mh_result *r3[] = {
        res("a", "smtp", MH_STATE_WARNING, MH_REASON_SERVICE_UNAVAILABLE,
            "421"),
        res("b", "smtp", MH_STATE_CRITICAL, MH_REASON_CONNECTION_REFUSED,
            "refused"),
        res("c", "dnsbl", MH_STATE_OK, MH_REASON_NONE, "not listed")};
    round_of(t, r3, 3, 1120, &b);
    assert_int_equal(b.nchanges, 4);
    assert_true(b.changes[0].firing); /* a */
    assert_int_equal(b.changes[0].prev_state, MH_STATE_OK);
    assert_string_equal(b.changes[0].severity, "warning");
    assert_false(b.changes[1].firing); /* b's timeout alert ends */
    assert_true(b.changes[1].replaced);
    assert_string_equal(b.changes[1].category, "timeout");
    assert_true(b.changes[1].ends_at == 1120);
    assert_true(b.changes[2].firing); /* b's connection alert */
    assert_string_equal(b.changes[2].category, "connection");
    assert_true(b.changes[2].starts_at == 1120);
    assert_false(b.changes[3].firing); /* c resolved */
    assert_false(b.changes[3].replaced);
    assert_int_equal(b.changes[3].prev_state, MH_STATE_OK);
    assert_true(b.changes[3].starts_at == 1000);
    assert_int_equal(b.nactive, 2);
    am = mh_notify_alertmanager_body(&b, 1120, 240);
    assert_non_null(strstr(am, "\"endsAt\":\"1970-01-01T00:18:40.000Z\""));
    free(am);
    wh = mh_notify_webhook_body(&b);
    assert_non_null(strstr(wh, "\"status\":\"resolved\""));
    assert_non_null(strstr(wh, "\"previous_state\":\"OK\""));
    free(wh);
    mh_alert_batch_free(&b);

    /* Round 4 (after a reload): b is gone while firing, d is new and OK. */
    struct mh_result *r4[] = {
        res("a", "smtp", MH_STATE_WARNING, MH_REASON_SERVICE_UNAVAILABLE,
            "421"),
        res("c", "dnsbl", MH_STATE_OK, MH_REASON_NONE, "not listed"),
        res("d", "smtp", MH_STATE_OK, MH_REASON_NONE, "fine")};
    round_of(t, r4, 3, 1180, &b);
    assert_int_equal(b.nchanges, 1);
    assert_false(b.changes[0].firing);
    assert_string_equal(b.changes[0].target, "b");
    assert_string_equal(b.changes[0].summary,
                        "check removed from the configuration");
    assert_int_equal(b.nactive, 1);
    mh_alert_batch_free(&b);

    /* Only resolutions and nothing active: AM still gets the resolution. */
    struct mh_result *r5[] = {
        res("a", "smtp", MH_STATE_OK, MH_REASON_NONE, "fine")};
    round_of(t, r5, 1, 1240, &b);
    assert_int_equal(b.nactive, 0);
    assert_int_equal(b.nchanges, 1);
    am = mh_notify_alertmanager_body(&b, 1240, 240);
    assert_non_null(am);
    assert_non_null(strstr(am, "\"endsAt\":\"1970-01-01T00:20:40.000Z\""));
    free(am);
    mh_alert_batch_free(&b);

    /* Nothing at all: no bodies. */
    struct mh_result *r6[] = {
        res("a", "smtp", MH_STATE_OK, MH_REASON_NONE, "fine")};
    round_of(t, r6, 1, 1300, &b);
    assert_null(mh_notify_alertmanager_body(&b, 1300, 240));
    assert_null(mh_notify_webhook_body(&b));
    mh_alert_batch_free(&b);
    mh_notify_tracker_free(t);
}

/* Many checks: the tracker's index grows and stays consistent. */
static void
test_notify_many(void **state)
{
    (void)state;
    struct mh_notify_tracker *t = mh_notify_tracker_new();
    enum { N = 1500 };
    struct mh_result **r = calloc(N, sizeof *r);
    assert_non_null(r);
    char name[32];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            snprintf(name, sizeof name, "mx%d", i);
            bool bad = (i % 3 == 0) ^ (round == 2);
            r[i] = res(name, "smtp", bad ? MH_STATE_CRITICAL : MH_STATE_OK,
                       MH_REASON_REPLY_TIMEOUT, "x");
        }
        struct mh_alert_batch b;
        round_of(t, r, N, 1000 + round * 60, &b);
        if (round == 0) {
            assert_int_equal(b.nchanges, N / 3);
        } else if (round == 1) {
            assert_int_equal(b.nchanges, 0);
        } else {
            assert_int_equal(b.nchanges, N); /* every state flipped */
        }
        assert_int_equal(b.nactive, round == 2 ? N - N / 3 : N / 3);
        mh_alert_batch_free(&b);
    }
    free(r);
    mh_notify_tracker_free(t);
}

static void
test_severity_and_time(void **state)
{
    (void)state;
    assert_string_equal(mh_alert_severity(MH_STATE_CRITICAL), "critical");
    assert_string_equal(mh_alert_severity(MH_STATE_WARNING), "warning");
    assert_string_equal(mh_alert_severity(MH_STATE_UNKNOWN), "warning");
    assert_string_equal(mh_alert_severity(MH_STATE_OK), "");
    char b[64];
    assert_string_equal(mh_rfc3339(b, sizeof b, 1700000000.25),
                        "2023-11-14T22:13:20.250Z");
}

#define EXPORTER(...)                                                          \
    "{\"timeout_seconds\":7,\"checks\":[{\"check\":\"smtp\",\"host\":\"h\"}]," \
    "\"exporter\":{" __VA_ARGS__ "}}"

/* The exporter object: modules are check templates whose target comes
 * from the /probe URL; top-level defaults apply to them. */
static void
test_exporter(void **state)
{
    (void)state;
    struct mh_run_config *c = parse_ok(
        EXPORTER("\"listen\":\"[::1]:9169\",\"probe_concurrency\":2,"
                 "\"modules\":{\"smtp\":{\"check\":\"smtp\",\"starttls\":true,"
                 "\"allowed_targets\":[\"*.example.net\"]},"
                 "\"dom\":{\"check\":\"domain\"}}"));
    assert_string_equal(c->exporter.listen, "[::1]:9169");
    assert_int_equal(c->exporter.probe_concurrency, 2);
    assert_true(c->exporter.timeout_offset_s == 0.5);
    assert_int_equal(c->exporter.nmodules, 2);
    const struct mh_run_module *m = &c->exporter.modules[0];
    assert_string_equal(m->chk.name, "smtp");
    assert_int_equal(m->chk.cfg.command, MH_CMD_SMTP);
    assert_true(m->chk.cfg.timeout_s == 7);
    assert_int_equal(m->nallowed, 1);
    assert_true(mh_exporter_target_allowed(m, "MX1.example.net"));
    assert_false(mh_exporter_target_allowed(m, "example.org"));
    assert_true(mh_exporter_target_allowed(&c->exporter.modules[1], "x"));
    mh_run_config_free(c);

    parse_err(EXPORTER("\"listen\":\"localhost:80\""), "exporter", "\"listen\"",
              "numeric", NULL);
    parse_err(EXPORTER("\"listen\":\"1.2.3.4:0\""), "1..65535", NULL);
    parse_err(EXPORTER("\"tls_cert_file\":\"/c.pem\""), "go together", NULL);
    parse_err(EXPORTER("\"basic_auth_users\":{\"u\":\"plain\"}"),
              "not a password hash", NULL);
    parse_err(EXPORTER("\"probe_concurrency\":0"), "1..256", NULL);
    parse_err(EXPORTER("\"timeout_offset\":-1"), "\"timeout_offset\"", "0..60",
              NULL);
    parse_err(EXPORTER("\"timeout_offset\":\"1\""), "0..60", NULL);
    c = parse_ok(EXPORTER("\"timeout_offset\":1.5"));
    assert_true(c->exporter.timeout_offset_s == 1.5);
    mh_run_config_free(c);
    /* The deadline of a probe: the module's timeout, or the scrape
     * timeout minus the offset, at least 0.1 s; junk headers ignored. */
    assert_true(mh_exporter_probe_budget(10, NULL, 0.5) == 10);
    assert_true(mh_exporter_probe_budget(10, "4", 0.5) == 3.5);
    assert_true(mh_exporter_probe_budget(10, "4.5", 1.5) == 3);
    assert_true(mh_exporter_probe_budget(3, "15", 0.5) == 3);
    assert_true(mh_exporter_probe_budget(10, "0.3", 0.5) == 0.1);
    assert_true(mh_exporter_probe_budget(10, "4s", 0.5) == 10);
    assert_true(mh_exporter_probe_budget(10, "-4", 0.5) == 10);
    assert_true(mh_exporter_probe_budget(10, "", 0.5) == 10);
    parse_err(EXPORTER("\"port\":1"), "unknown key \"port\"", NULL);
    parse_err(EXPORTER("\"modules\":{\"m\":{\"check\":\"delivery\"}}"),
              "exporter.modules \"m\"", "\"check\"", NULL);
    parse_err(EXPORTER("\"modules\":{\"m\":{\"check\":\"smtp\",\"host\":"
                       "\"h\"}}"),
              "\"host\" is not allowed in a module", NULL);
    parse_err(EXPORTER("\"modules\":{\"m\":{\"check\":\"mta-sts\","
                       "\"domain\":\"d\"}}"),
              "\"domain\" is not allowed", NULL);
    parse_err(EXPORTER("\"modules\":{\"m\":{\"check\":\"smtp\","
                       "\"allowed_targets\":[]}}"),
              "allowed_targets", NULL);
    parse_err(EXPORTER("\"modules\":{\"m\":{\"check\":\"smtp\",\"port\":"
                       "\"x\"}}"),
              "exporter.modules[0] \"m\"", "\"port\"", NULL);
}

/* The exporter's hand-written readers of request input (fuzzed by
 * fuzz_exporter for invariants; here the answers themselves). */
static void
test_exporter_parsers(void **state)
{
    (void)state;
    /* Accept-Encoding (RFC 9110 section 12.5.3). */
    static const struct {
        const char *v;
        bool gz;
    } enc[] = {
        {"gzip", true},
        {"GZIP", true},
        {"br, gzip", true},
        {"gzip;q=0.5", true},
        {"gzip; q=0.001", true},
        {"*", true},
        {"gzip;q=0", false},
        {"gzip;q=0.000", false},
        {"*;q=0", false},
        {"identity", false},
        {"", false},
        {"gzipx", false},
        {"x-gzip", false},
        {",,,", false},
    };
    for (size_t i = 0; i < sizeof enc / sizeof enc[0]; i++) {
        if (mh_exporter_accepts_gzip(enc[i].v) != enc[i].gz) {
            fail_msg("Accept-Encoding '%s': wanted %d", enc[i].v, enc[i].gz);
        }
    }
    assert_false(mh_exporter_accepts_gzip(NULL));

    /* /probe targets, by the kind of target the module's command takes. */
    static const struct {
        enum mh_target_kind kind;
        const char *text, *host;
        unsigned port;
    } ok[] = {
        {MH_TARGET_HOST_PORT, "mx1.example.net", "mx1.example.net", 0},
        {MH_TARGET_HOST_PORT, "mx1.example.net:587", "mx1.example.net", 587},
        {MH_TARGET_HOST_PORT, "192.0.2.1:25", "192.0.2.1", 25},
        {MH_TARGET_HOST_PORT, "[2001:db8::1]:25", "2001:db8::1", 25},
        {MH_TARGET_HOST_PORT, "2001:db8::1", "2001:db8::1", 0},
        {MH_TARGET_HOST, "192.0.2.25", "192.0.2.25", 0},
        {MH_TARGET_DOMAIN, "example.org", "example.org", 0},
        {MH_TARGET_DOMAIN, "_dmarc.example.org", "_dmarc.example.org", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char host[MH_EXPORTER_MAX_TARGET], why[160];
        unsigned port;
        if (mh_exporter_parse_target(ok[i].kind, ok[i].text, host, sizeof host,
                                     &port, why, sizeof why) != 0) {
            fail_msg("target '%s' refused: %s", ok[i].text, why);
        }
        assert_string_equal(host, ok[i].host);
        assert_int_equal(port, ok[i].port);
    }
    static const struct {
        enum mh_target_kind kind;
        const char *text, *why;
    } bad[] = {
        {MH_TARGET_HOST_PORT, "", "missing"},
        {MH_TARGET_HOST_PORT, "-h", "not a host name"},
        {MH_TARGET_HOST_PORT, "mx..example.net", "not a host name"},
        {MH_TARGET_HOST_PORT, ".example.net", "not a host name"},
        {MH_TARGET_HOST_PORT, "mx/1", "not a host name"},
        {MH_TARGET_HOST_PORT, "mx 1", "not a host name"},
        {MH_TARGET_HOST_PORT, "smtp://mx:25", "not a host name"},
        {MH_TARGET_HOST_PORT, "mx:0", "1..65535"},
        {MH_TARGET_HOST_PORT, "mx:65536", "1..65535"},
        {MH_TARGET_HOST_PORT, "mx:25x", "1..65535"},
        {MH_TARGET_HOST_PORT, "mx:", "1..65535"},
        {MH_TARGET_HOST_PORT, "[2001:db8::1", "[IPv6]:PORT"},
        {MH_TARGET_HOST_PORT, "[2001:db8::1]x", "[IPv6]:PORT"},
        {MH_TARGET_HOST_PORT, "[mx.example.net]:25", "not a host name"},
        {MH_TARGET_HOST, "192.0.2.25:25", "takes no port"},
        {MH_TARGET_DOMAIN, "example.org:25", "takes no port"},
        {MH_TARGET_DOMAIN, "2001:db8::1", "takes a domain"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char host[MH_EXPORTER_MAX_TARGET], why[160] = "";
        unsigned port;
        if (mh_exporter_parse_target(bad[i].kind, bad[i].text, host,
                                     sizeof host, &port, why,
                                     sizeof why) == 0) {
            fail_msg("target '%s' accepted", bad[i].text);
        }
        if (strstr(why, bad[i].why) == NULL) {
            fail_msg("target '%s': '%s' lacks '%s'", bad[i].text, why,
                     bad[i].why);
        }
    }
    char longname[MH_EXPORTER_MAX_TARGET + 10];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    char host[MH_EXPORTER_MAX_TARGET], why[160];
    unsigned port;
    assert_int_equal(mh_exporter_parse_target(MH_TARGET_HOST, longname, host,
                                              sizeof host, &port, why,
                                              sizeof why),
                     -1);
    assert_non_null(strstr(why, "too long"));

    /* Listen addresses: ADDR:PORT, [IPv6]:PORT, PORT alone (127.0.0.1). */
    struct sockaddr_storage ss;
    socklen_t sl;
    assert_int_equal(
        mh_exporter_parse_listen("9169", &ss, &sl, why, sizeof why), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(
        mh_exporter_parse_listen("[::]:9169", &ss, &sl, why, sizeof why), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(
        mh_exporter_parse_listen("0.0.0.0:9169", &ss, &sl, why, sizeof why), 0);
    static const char *const badl[] = {"",         "0",          "65536",
                                       "x:9169",   "::1:9169",   "[::1]9169",
                                       "1.2.3.4:", "1.2.3.4:-1", "[::1]:0"};
    for (size_t i = 0; i < sizeof badl / sizeof badl[0]; i++) {
        why[0] = '\0';
        if (mh_exporter_parse_listen(badl[i], &ss, &sl, why, sizeof why) == 0) {
            fail_msg("listen '%s' accepted", badl[i]);
        }
        assert_non_null(strstr(why, "listen address"));
    }

    /* Password hashes, never passwords. */
    assert_int_equal(mh_exporter_check_hash("plain password", why, sizeof why),
                     -1);
    assert_non_null(strstr(why, "not a password hash"));
    assert_int_equal(
        mh_exporter_check_hash("$9$unknownscheme$xxxxxxxx", why, sizeof why),
        -1);
    assert_non_null(strstr(why, "libcrypt cannot verify"));
    assert_int_equal(
        mh_exporter_check_hash("$6$saltsalt$qFmFH.bQmmtXzyBY0s9v"
                               "7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp"
                               "8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/",
                               why, sizeof why),
        0);
}

/* A probe-only configuration: exporter modules and no checks (the key
 * left out or an empty list); without modules "checks" stays required. */
static void
test_probe_only(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "{\"exporter\":{\"modules\":{\"m\":{\"check\":\"smtp\"}}}}",
        "{\"checks\":[],\"timeout_seconds\":4,\"exporter\":{\"listen\":"
        "\"9169\",\"modules\":{\"m\":{\"check\":\"dnsbl\",\"zone\":"
        "\"z.example\"}}}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct mh_run_config *c = parse_ok(ok[i]);
        assert_int_equal(c->nchecks, 0);
        assert_null(c->checks);
        assert_int_equal(c->exporter.nmodules, 1);
        assert_true(c->max_timeout_s == 0);
        mh_run_config_free(c);
    }
    parse_err("{\"exporter\":{\"listen\":\"9169\"}}",
              "missing required key \"checks\"", "probe-only", NULL);
    parse_err("{\"exporter\":{\"modules\":{}}}",
              "missing required key \"checks\"", NULL);
    parse_err("{\"checks\":[],\"exporter\":{\"modules\":{}}}", "key \"checks\"",
              "at least one", "probe-only", NULL);
    parse_err("{\"checks\":{},\"exporter\":{\"modules\":{\"m\":{"
              "\"check\":\"smtp\"}}}}",
              "key \"checks\"", "array", NULL);
    /* contrib/prometheus/probe-only.json is such a configuration. */
    char path[4096];
    source_path(path, sizeof path, "contrib/prometheus/probe-only.json");
    struct mh_run_config *c = NULL;
    char err[1024] = "";
    if (access(path, R_OK) == 0) {
        if (mh_run_config_load(path, NULL, &c, err, sizeof err) != 0) {
            fail_msg("%s: %s", path, err);
        }
        assert_int_equal(c->nchecks, 0);
        assert_int_equal(c->exporter.nmodules, 4);
        assert_string_equal(c->exporter.listen, "127.0.0.1:9169");
        for (size_t i = 0; i < c->exporter.nmodules; i++) {
            assert_true(c->exporter.modules[i].nallowed > 0);
        }
        mh_run_config_free(c);
    }
    /* A module's own errors still name the module. */
    parse_err("{\"exporter\":{\"modules\":{\"m\":{\"check\":\"smtp\","
              "\"port\":\"x\"}}}}",
              "exporter.modules[0] \"m\"", "\"port\"", NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_spread_key),
        cmocka_unit_test(test_full_example),
        cmocka_unit_test(test_underscore_rule),
        cmocka_unit_test(test_numbers_and_flags),
        cmocka_unit_test(test_defaults_and_overrides),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_errors_json_and_top),
        cmocka_unit_test(test_errors_top_keys),
        cmocka_unit_test(test_errors_token_file),
        cmocka_unit_test(test_errors_checks),
        cmocka_unit_test(test_errors_bad_values),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_contrib_example),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_url_redact),
        cmocka_unit_test(test_strset),
        cmocka_unit_test(test_notify_rules),
        cmocka_unit_test(test_notify_many),
        cmocka_unit_test(test_severity_and_time),
        cmocka_unit_test(test_exporter),
        cmocka_unit_test(test_probe_only),
        cmocka_unit_test(test_exporter_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
