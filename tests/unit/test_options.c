/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the typed configuration boundary: the option table
 * (plugin/options.c) and every parser's accepted and refused values, the
 * rules between options (plugin/config.c), the command line
 * (plugin/cli.c), the command registry (plugin/commands.c) and the shared
 * text helpers (probes/textutil.c).
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

#include <openssl/ssl.h>

#include "textutil.h"
#include "cli.h"
#include "commands.h"
#include "options.h"

/* ---- helpers ---------------------------------------------------------- */

static const struct mh_option *
opt(enum mh_command cmd, const char *name)
{
    const struct mh_option *o = mh_option_find(cmd, name);
    if (o == NULL) {
        fail_msg("no option --%s for %s", name, mh_command_name(cmd));
    }
    return o;
}

/* Sets --name to value on a fresh config of cmd; 0 or -1, message in err. */
static int
set1(enum mh_command cmd, struct mh_config *cfg, const char *name,
     const char *value, char *err, size_t errlen)
{
    mh_config_init(cfg, cmd);
    err[0] = '\0';
    return mh_option_set(cfg, opt(cmd, name), value, MH_SYNTAX_CLI, err,
                         errlen);
}

/* The value must be accepted. */
static struct mh_config
accepted(enum mh_command cmd, const char *name, const char *value)
{
    struct mh_config cfg;
    char err[512];
    if (set1(cmd, &cfg, name, value, err, sizeof err) != 0) {
        fail_msg("--%s '%s' refused: %s", name, value, err);
    }
    return cfg;
}

/* The value must be refused with a one-line message naming the option. */
static void
refuse(enum mh_command cmd, const char *name, const char *value)
{
    struct mh_config cfg;
    char err[512];
    if (set1(cmd, &cfg, name, value, err, sizeof err) == 0) {
        fail_msg("--%s '%s' accepted", name, value);
    }
    char want[96];
    snprintf(want, sizeof want, "invalid --%s '", name);
    if (strncmp(err, want, strlen(want)) != 0) {
        fail_msg("--%s '%s': message '%s' does not start with '%s'", name,
                 value, err, want);
    }
    assert_null(strchr(err, '\n'));
    mh_config_free(&cfg);
}

/* ---- the table -------------------------------------------------------- */

static void
test_table_rows(void **state)
{
    (void)state;
    size_t n;
    const struct mh_option *t = mh_options(&n);
    assert_true(n > 40 && n <= MH_OPT_MAX);
    for (size_t i = 0; i < n; i++) {
        const struct mh_option *o = &t[i];
        assert_non_null(o->name);
        assert_non_null(o->help);
        assert_true(o->help[0] != '\0');
        assert_true(o->commands != 0);
        /* Required only where it applies; a value has a name in --help. */
        assert_int_equal(o->required & ~o->commands, 0);
        assert_true(mh_option_is_flag(o) == (o->arg == NULL));
        assert_true(o->list == (o->kind == MH_OPT_LIST));
        if (o->kind == MH_OPT_ENUM) {
            assert_non_null(o->names);
        }
        if (o->kind == MH_OPT_SECONDS || o->kind == MH_OPT_UINT) {
            assert_true(o->max > o->min);
        }
        for (size_t j = 0; j < i; j++) {
            /* Long names and short letters are unique per command. */
            unsigned both = o->commands & t[j].commands;
            if (both != 0) {
                assert_true(strcmp(o->name, t[j].name) != 0);
                assert_true(o->short_name == 0 ||
                            o->short_name != t[j].short_name);
            }
        }
        /* Every default parses, for every command the row applies to. */
        for (int c = 1; c < (int)MH_CMD_LAST && o->def != NULL; c++) {
            if (mh_option_applies(o, (enum mh_command)c)) {
                (void)accepted((enum mh_command)c, o->name, o->def);
            }
        }
    }
}

static void
test_defaults(void **state)
{
    (void)state;
    struct mh_config c;
    mh_config_init(&c, MH_CMD_SMTP);
    assert_true(c.timeout_s == 10);
    assert_int_equal(c.output, MH_OUT_NAGIOS);
    assert_int_equal(c.expect_greeting, 220);
    assert_int_equal(c.tls_min_version, 0); /* the probes' TLS 1.2 */
    assert_true(c.cert_days.warn == 30 && c.cert_days.crit == 14);
    assert_false(c.cert_days.given); /* the default turns nothing on */
    assert_int_equal(c.port, 0);
    assert_int_equal(c.family, AF_UNSPEC);
    mh_config_init(&c, MH_CMD_DELIVERY);
    assert_true(c.poll_interval_s == 1);
    mh_config_init(&c, MH_CMD_RUN);
    assert_true(c.timeout_s == 10);
    assert_true(c.interval_s == 0);
}

/* ---- one test per parser ---------------------------------------------- */

static void
test_port(void **state)
{
    (void)state;
    assert_int_equal(accepted(MH_CMD_SMTP, "port", "1").port, 1);
    assert_int_equal(accepted(MH_CMD_SMTP, "port", "25").port, 25);
    assert_int_equal(accepted(MH_CMD_SMTP, "port", "0587").port, 587);
    assert_int_equal(accepted(MH_CMD_TLS, "port", "65535").port, 65535);
    const char *bad[] = {"25.0",
                         "0",
                         "65536",
                         "25x",
                         "-1",
                         "+25",
                         "",
                         " 25",
                         "25 ",
                         "0x19",
                         "2e1",
                         "1e3",
                         "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        refuse(MH_CMD_SMTP, "port", bad[i]);
    }
}

static void
test_seconds(void **state)
{
    (void)state;
    assert_true(accepted(MH_CMD_SMTP, "timeout", "10").timeout_s == 10);
    assert_true(accepted(MH_CMD_SMTP, "timeout", "0.5").timeout_s == 0.5);
    assert_true(accepted(MH_CMD_SMTP, "timeout", "3600").timeout_s == 3600);
    const char *bad[] = {"abc", "-1",  "+1",   "0",   "0.0", "1e3",
                         "",    "10s", "3601", "1,5", "inf", "nan"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        refuse(MH_CMD_SMTP, "timeout", bad[i]);
    }
    assert_true(
        accepted(MH_CMD_DELIVERY, "poll-interval", "0.1").poll_interval_s ==
        0.1);
    refuse(MH_CMD_DELIVERY, "poll-interval", "0.05");
    refuse(MH_CMD_DELIVERY, "poll-interval", "3600.5");
    assert_true(accepted(MH_CMD_RUN, "interval", "1").interval_s == 1);
    refuse(MH_CMD_RUN, "interval", "0.5");
    refuse(MH_CMD_RUN, "interval", "86401");
}

static void
test_uint(void **state)
{
    (void)state;
    assert_int_equal(
        accepted(MH_CMD_SMTP, "max-line-length", "64").max_line_length, 64);
    assert_int_equal(
        accepted(MH_CMD_SMTP, "max-line-length", "4000").max_line_length, 4000);
    const char *bad[] = {"63", "4001", "100.0", "-100", "", "1k"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        refuse(MH_CMD_SMTP, "max-line-length", bad[i]);
    }
}

static void
test_enums(void **state)
{
    (void)state;
    assert_int_equal(accepted(MH_CMD_SMTP, "output", "json").output,
                     MH_OUT_JSON);
    assert_int_equal(accepted(MH_CMD_SMTP, "output", "prometheus").output,
                     MH_OUT_PROMETHEUS);
    refuse(MH_CMD_SMTP, "output", "xml");
    refuse(MH_CMD_SMTP, "output", "");
    assert_int_equal(accepted(MH_CMD_SMTP, "tls-min", "1.0").tls_min_version,
                     TLS1_VERSION);
    assert_int_equal(accepted(MH_CMD_TLS, "tls-min", "1.3").tls_min_version,
                     TLS1_3_VERSION);
    refuse(MH_CMD_SMTP, "tls-min", "1.4");
    refuse(MH_CMD_SMTP, "tls-min", "1");
    refuse(MH_CMD_SMTP, "tls-min", "TLS1.2");
    assert_int_equal(accepted(MH_CMD_SMTP, "auth-mech", "plain").auth_mech,
                     MH_MECH_PLAIN);
    assert_int_equal(
        accepted(MH_CMD_DELIVERY, "auth-mech", "CRAM-MD5").auth_mech,
        MH_MECH_CRAM_MD5);
    refuse(MH_CMD_SMTP, "auth-mech", "FOO");
    refuse(MH_CMD_SMTP, "auth-mech", "XOAUTH2");
    const struct mh_option *o = opt(MH_CMD_SMTP, "auth-mech");
    assert_string_equal(mh_option_enum_name(o, MH_MECH_LOGIN), "LOGIN");
    assert_string_equal(mh_option_enum_name(o, 99), "");
    /* The message lists the names. */
    struct mh_config c;
    char err[256];
    assert_int_equal(set1(MH_CMD_SMTP, &c, "tls-min", "1.4", err, sizeof err),
                     -1);
    assert_string_equal(err, "invalid --tls-min '1.4' (one of 1.0, 1.1, 1.2, "
                             "1.3)");
}

static void
test_reply_code(void **state)
{
    (void)state;
    assert_int_equal(
        accepted(MH_CMD_SMTP, "expect-greeting", "220").expect_greeting, 220);
    assert_int_equal(
        accepted(MH_CMD_SMTP, "expect-greeting", "554").expect_greeting, 554);
    assert_int_equal(
        accepted(MH_CMD_SMTP, "expect-greeting", "200").expect_greeting, 200);
    const char *bad[] = {"99", "199", "600", "2200", "22a", "", "-220", "2 0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        refuse(MH_CMD_SMTP, "expect-greeting", bad[i]);
    }
}

static void
test_ranges(void **state)
{
    (void)state;
    struct mh_config c = accepted(MH_CMD_SMTP, "warning", "~:10");
    assert_true(c.warning.set);
    assert_string_equal(c.warning.text, "~:10");
    assert_false(c.critical.set);
    c = accepted(MH_CMD_DNSBL, "critical", "@1:2");
    assert_true(c.critical.set && c.critical.range.inside);
    refuse(MH_CMD_SMTP, "warning", "10:5");
    refuse(MH_CMD_SMTP, "critical", "x");
    refuse(MH_CMD_SMTP, "critical", "");
}

static void
test_cert_days(void **state)
{
    (void)state;
    struct mh_config c = accepted(MH_CMD_TLS, "cert-days", "30,14");
    assert_true(c.cert_days.given);
    assert_true(c.cert_days.warn == 30 && c.cert_days.crit == 14);
    c = accepted(MH_CMD_TLS, "cert-days", "21");
    assert_true(c.cert_days.warn == 21 && c.cert_days.crit == 14);
    c = accepted(MH_CMD_TLS, "cert-days", "10");
    assert_true(c.cert_days.warn == 10 && c.cert_days.crit == 10);
    c = accepted(MH_CMD_SMTP, "cert-days", "0.5,0");
    assert_true(c.cert_days.warn == 0.5 && c.cert_days.crit == 0);
    const char *bad[] = {"14,30", "x", "-1", ",", "30,", ",14", "30,14,7", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        refuse(MH_CMD_SMTP, "cert-days", bad[i]);
    }
}

static void
test_server_and_paths(void **state)
{
    (void)state;
    const char *good[] = {"127.0.0.1", "127.0.0.1:5353", "[::1]:53", "::1",
                          "2001:db8::53"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_string_equal(
            accepted(MH_CMD_DNSBL, "resolver", good[i]).resolver, good[i]);
    }
    const char *bad[] = {
        "not-an-ip",      "localhost", "127.0.0.1:0", "127.0.0.1:x",
        "127.0.0.1:25.0", "[::1]",     "[::1]:",      "",
        "127.0.0.256"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        refuse(MH_CMD_DNSBL, "resolver", bad[i]);
    }
    assert_string_equal(accepted(MH_CMD_SMTP, "ca-file", "/x").ca_file, "/x");
    refuse(MH_CMD_SMTP, "ca-file", "");
    refuse(MH_CMD_RUN, "config", "");
    /* Strings take anything, except the text of SMTP command lines;
     * lists grow. */
    struct mh_config c = accepted(MH_CMD_SMTP, "verify-name", "");
    assert_string_equal(c.verify_name, "");
    refuse(MH_CMD_SMTP, "ehlo", "");
    refuse(MH_CMD_SMTP, "ehlo", "mx\r\nRSET");
    c = accepted(MH_CMD_SMTP, "ehlo", "monitor.example.net");
    char err[128];
    assert_int_equal(mh_option_set(&c, opt(MH_CMD_SMTP, "rcpt-to"), "a@b",
                                   MH_SYNTAX_CLI, err, sizeof err),
                     0);
    assert_int_equal(mh_option_set(&c, opt(MH_CMD_SMTP, "rcpt-to"), "c@d",
                                   MH_SYNTAX_CLI, err, sizeof err),
                     0);
    assert_int_equal(c.rcpt_to.n, 2);
    assert_string_equal(c.rcpt_to.v[1], "c@d");
    mh_config_free(&c);
}

static void
test_urls(void **state)
{
    (void)state;
    struct mh_config c =
        accepted(MH_CMD_DELIVERY, "submit", "smtp://127.0.0.1:2587");
    assert_int_equal(c.submit.port, 2587);
    assert_int_equal(c.submit.scheme, MH_DELIVERY_SCHEME_SMTP);
    c = accepted(MH_CMD_DELIVERY, "imap", "imaps://[::1]/Probe");
    assert_int_equal(c.imap.port, 993);
    assert_string_equal(c.imap.where, "[::1]:993/Probe");
    char err[512];
    assert_int_equal(
        set1(MH_CMD_DELIVERY, &c, "submit", "smtp://h:99999", err, sizeof err),
        -1);
    assert_non_null(strstr(err, "--submit"));
    assert_int_equal(
        set1(MH_CMD_DELIVERY, &c, "imap", "smtp://h", err, sizeof err), -1);
    assert_non_null(strstr(err, "--imap"));
}

static void
test_choices(void **state)
{
    (void)state;
    struct mh_config c;
    char err[256];
    mh_config_init(&c, MH_CMD_SMTP);
    assert_int_equal(mh_option_set(&c, opt(MH_CMD_SMTP, "require-starttls"),
                                   NULL, MH_SYNTAX_CLI, err, sizeof err),
                     0);
    assert_int_equal(mh_option_set(&c, opt(MH_CMD_SMTP, "starttls"), NULL,
                                   MH_SYNTAX_CLI, err, sizeof err),
                     0);
    assert_int_equal(c.tls_mode, MH_TLS_STARTTLS);
    assert_int_equal(mh_option_set(&c, opt(MH_CMD_SMTP, "tls"), NULL,
                                   MH_SYNTAX_CLI, err, sizeof err),
                     -1);
    assert_string_equal(err, "--starttls and --tls exclude each other");
    assert_int_equal(c.tls_mode, MH_TLS_STARTTLS);
    /* The other order names them in the same order; the config spelling. */
    mh_config_init(&c, MH_CMD_SMTP);
    assert_int_equal(mh_option_set(&c, opt(MH_CMD_SMTP, "tls"), NULL,
                                   MH_SYNTAX_CONFIG, err, sizeof err),
                     0);
    assert_int_equal(mh_option_set(&c, opt(MH_CMD_SMTP, "starttls"), NULL,
                                   MH_SYNTAX_CONFIG, err, sizeof err),
                     -1);
    assert_string_equal(err, "'starttls' and 'tls' exclude each other");
    mh_config_init(&c, MH_CMD_DNSBL);
    assert_int_equal(mh_option_set(&c, opt(MH_CMD_DNSBL, "use-ipv6"), NULL,
                                   MH_SYNTAX_CLI, err, sizeof err),
                     0);
    assert_int_equal(c.family, AF_INET6);
    assert_int_equal(mh_option_set(&c, opt(MH_CMD_DNSBL, "use-ipv4"), NULL,
                                   MH_SYNTAX_CLI, err, sizeof err),
                     -1);
    assert_string_equal(err, "--use-ipv4 and --use-ipv6 exclude each other");
    /* Aliases. */
    assert_true(mh_option_is_alias(opt(MH_CMD_SMTP, "host"),
                                   opt(MH_CMD_SMTP, "hostname")));
    assert_true(mh_option_is_alias(opt(MH_CMD_SMTP, "starttls"),
                                   opt(MH_CMD_SMTP, "require-starttls")));
    assert_false(mh_option_is_alias(opt(MH_CMD_SMTP, "starttls"),
                                    opt(MH_CMD_SMTP, "tls")));
}

/* The message forms: the command line names the option, the config says
 * "value" (its caller names the key); values are escaped and cut. */
static void
test_messages(void **state)
{
    (void)state;
    struct mh_config c;
    char err[512];
    mh_config_init(&c, MH_CMD_SMTP);
    const struct mh_option *p = opt(MH_CMD_SMTP, "port");
    assert_int_equal(
        mh_option_set(&c, p, "25.0", MH_SYNTAX_CLI, err, sizeof err), -1);
    assert_string_equal(err, "invalid --port '25.0' (a port number, 1..65535)");
    assert_int_equal(
        mh_option_set(&c, p, "25.0", MH_SYNTAX_CONFIG, err, sizeof err), -1);
    assert_string_equal(err, "invalid value '25.0' (a port number, 1..65535)");
    assert_int_equal(
        mh_option_set(&c, p, "2\n5|x", MH_SYNTAX_CLI, err, sizeof err), -1);
    assert_string_equal(err,
                        "invalid --port '2\\x0a5|x' (a port number, 1..65535)");
    char longv[300];
    memset(longv, '9', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    assert_int_equal(
        mh_option_set(&c, p, longv, MH_SYNTAX_CLI, err, sizeof err), -1);
    assert_true(strlen(err) < 120);
    assert_non_null(strstr(err, "...'"));
    assert_int_equal(mh_option_set(&c, p, NULL, MH_SYNTAX_CLI, err, sizeof err),
                     -1);
    assert_string_equal(err, "--port needs a value");
    assert_int_equal(c.port, 0); /* untouched by the failures */
}

/* ---- rules between options, the command line -------------------------- */

/* getopt_long wants char *argv[]: copies of the arguments. */
static char argstore[40][256];

static int
parse_argv(struct mh_config *cfg, char *err, size_t errlen,
           const char *const *args, size_t nargs)
{
    char *argv[41];
    int argc = 0;
    snprintf(argstore[0], sizeof argstore[0], "check_mailhealth");
    argv[argc++] = argstore[0];
    for (size_t i = 0; i < nargs && argc < 40; i++) {
        snprintf(argstore[argc], sizeof argstore[argc], "%s", args[i]);
        argv[argc] = argstore[argc];
        argc++;
    }
    argv[argc] = NULL;
    err[0] = '\0';
    return mh_cli_parse(argc, argv, cfg, err, errlen);
}

static int
parse(struct mh_config *cfg, char *err, size_t errlen, ...)
{
    const char *args[40];
    size_t n = 0;
    va_list ap;
    va_start(ap, errlen);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 39) {
        args[n++] = a;
    }
    va_end(ap);
    return parse_argv(cfg, err, errlen, args, n);
}

static void
test_cli_typed(void **state)
{
    (void)state;
    struct mh_config c;
    char err[512];
    assert_int_equal(parse(&c, err, sizeof err, "smtp", "-H", "mx.example",
                           "-p", "587", "-S", "-A", "LOGIN", "-e", "221",
                           "--tls-min", "1.3", "-t", "2.5", "-w", "1",
                           "--rcpt-to", "a@b", "-r", "c@d", "-vv", NULL),
                     0);
    assert_int_equal(c.command, MH_CMD_SMTP);
    assert_string_equal(c.host, "mx.example");
    assert_int_equal(c.port, 587);
    assert_int_equal(c.tls_mode, MH_TLS_STARTTLS);
    assert_int_equal(c.auth_mech, MH_MECH_LOGIN);
    assert_int_equal(c.expect_greeting, 221);
    assert_int_equal(c.tls_min_version, TLS1_3_VERSION);
    assert_true(c.timeout_s == 2.5);
    assert_true(c.warning.set);
    assert_int_equal(c.rcpt_to.n, 2);
    assert_int_equal(c.verbose, 2);
    mh_config_free(&c);
    /* The default port, written once. */
    assert_int_equal(parse(&c, err, sizeof err, "smtp", "-H", "h", NULL), 0);
    assert_int_equal(c.port, 25);
    assert_int_equal(
        parse(&c, err, sizeof err, "tls", "-H", "h", "--tls", NULL), 0);
    assert_int_equal(c.port, 465);
    assert_int_equal(parse(&c, err, sizeof err, "domain", "-D", "example.org",
                           "--starttls-optional", NULL),
                     0);
    assert_int_equal(c.port, 25);
    assert_int_equal(c.tls_mode, MH_TLS_STARTTLS);
    assert_int_equal(mh_default_port(MH_CMD_DELIVERY, MH_TLS_IMPLICIT), 0);
    /* --hostname is --host. */
    assert_int_equal(parse(&c, err, sizeof err, "dnsbl", "--hostname",
                           "192.0.2.1", "-z", "z.example", NULL),
                     0);
    assert_string_equal(c.host, "192.0.2.1");
    mh_config_free(&c);
}

/* The values of the command line that must be usage errors naming the
 * option (the same list as tests/integration/test_foundation.sh). */
static void
test_cli_bad_values(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        {"-p", "25.0", "--port"},
        {"-p", "0", "--port"},
        {"-p", "65536", "--port"},
        {"-p", "25x", "--port"},
        {"-t", "abc", "--timeout"},
        {"-t", "-1", "--timeout"},
        {"--expect-greeting", "99", "--expect-greeting"},
        {"--tls-min", "1.4", "--tls-min"},
        {"--auth-mech", "FOO", "--auth-mech"},
        {"-w", "10:5", "--warning"},
        {"--resolver", "x", "--resolver"},
        {"--ehlo", "a\r\nRSET", "--ehlo"},
        {"--ehlo", "", "--ehlo"},
        {"-f", "a@b>\r\nDATA", "--mail-from"},
        {"-f", "", "--mail-from"},
        {"-r", "a@b>\nRSET", "--rcpt-to"},
        {"--relay-test", "x\ty", "--relay-test"},
        {"--auth-password-env", "", "--auth-password-env"},
        {"--auth-password-env", "1PASS", "--auth-password-env"},
        {"--auth-password-env", "MH PASS", "--auth-password-env"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mh_config c;
        char err[512];
        int rc = parse(&c, err, sizeof err, "smtp", "-H", "127.0.0.1",
                       cases[i][0], cases[i][1], NULL);
        mh_config_free(&c);
        if (rc != -1 || strstr(err, cases[i][2]) == NULL ||
            strncmp(err, "invalid ", 8) != 0) {
            fail_msg("%s %s: rc %d, '%s'", cases[i][0], cases[i][1], rc, err);
        }
    }
}

static void
test_cli_rules(void **state)
{
    (void)state;
    struct mh_config c;
    char err[512];
    static const struct {
        const char *args[12];
        const char *want;
    } cases[] = {
        {{"smtp", NULL}, "smtp needs -H HOST"},
        {{"dnsbl", "-z", "z", NULL}, "dnsbl needs -H HOST"},
        {{"dnsbl", "-H", "192.0.2.1", NULL},
         "dnsbl needs --zone ZONE or --zones-file"},
        {{"domain", NULL}, "domain needs -D DOMAIN"},
        {{"run", NULL}, "run needs -C FILE"},
        {{"delivery", "--submit", "smtp://h", NULL},
         "delivery needs --imap URL"},
        {{"smtp", "-H", "h", "--sni", "a", "--no-sni", NULL},
         "--sni and --no-sni exclude each other"},
        {{"smtp", "-H", "h", "-U", "u", NULL},
         "passwords never come from argv"},
        {{"smtp", "-H", "h", "--auth-password-env", "X", NULL},
         "need --auth-user"},
        {{"smtp", "-H", "h", "--ca-file", "/nonexistent/ca.pem", NULL},
         "cannot read --ca-file /nonexistent/ca.pem"},
        {{"run", "-C", "/x", "--once", "--interval", "5", NULL},
         "--once and --interval exclude each other"},
        {{"smtp", "-H", "h", "--zone", "z", NULL},
         "unknown option '--zone' for smtp"},
        {{"frobnicate", NULL}, "unknown command 'frobnicate'"},
        {{"dnsbl", "-H", "h", "-z", "bl.example:rhsbl", NULL},
         "invalid --zone 'bl.example:rhsbl': type must be"},
        {{"dnsbl", "-H", "h", "-z", "bl.example:allow", "-z", "BL.example.",
          NULL},
         "--zone bl.example is given twice with another type or kind (any,"
         "allow and any,block)"},
        {{"dnsbl", "-H", "192.0.2.1", "-H", "", "-z", "z", NULL},
         "invalid --host '': not an IP address"},
        {{"dnsbl", "-H", "bad host", "-H", "192.0.2.1", "-z", "z", NULL},
         "invalid --host 'bad host': not an IP address"},
        {{"smtp", "-H", "mx\nexample", NULL},
         "invalid --host 'mx\\x0aexample': not an IP address or a DNS name"},
        {{"tls", "-H", "mx..example", NULL}, "invalid --host 'mx..example'"},
        {{"smtp", "-H", "::1", "-4", NULL},
         "--host ::1 is an IPv6 address: it excludes --use-ipv4"},
        {{"smtp", "-H", "192.0.2.1", "-6", NULL},
         "--host 192.0.2.1 is an IPv4 address: it excludes --use-ipv6"},
        {{"domain", "-D", "a..b", NULL},
         "invalid --domain 'a..b': not a DNS name"},
        {{"mta-sts", "-D", "a b", NULL}, "invalid --domain 'a b'"},
        {{"domain", "-D", "d", "-z", "", NULL},
         "invalid --zone '': not a DNS zone name"},
        {{"smtp", "-H", "h", "-U", "u", "--auth-password-env", "P",
          "--relay-test", "x@foreign.example", NULL},
         "--relay-test and --auth-user exclude each other"},
        {{"smtp", "-H", "h", "-w", "5", "-c", "3", NULL},
         "--critical 3 is narrower than --warning 5"},
        {{"dnsbl", "-H", "h", "-z", "z", "-w", "~:2", "-c", "~:1", NULL},
         "--critical ~:1 is narrower than --warning ~:2"},
        {{"tls", "-H", "h", "-w", "10:", "-c", "20:", NULL},
         "--critical 20: is narrower than --warning 10:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = 0;
        while (cases[i].args[n] != NULL) {
            n++;
        }
        int rc = parse_argv(&c, err, sizeof err, cases[i].args, n);
        mh_config_free(&c);
        if (rc != -1 || strstr(err, cases[i].want) == NULL) {
            fail_msg("case %zu: rc %d, '%s' lacks '%s'", i, rc, err,
                     cases[i].want);
        }
    }
}

/* ---- the registry ------------------------------------------------------ */

static void
test_registry(void **state)
{
    (void)state;
    for (int i = 1; i < (int)MH_CMD_LAST; i++) {
        const struct mh_command_def *d = mh_command_get((enum mh_command)i);
        assert_non_null(d);
        assert_int_equal(d->id, i);
        assert_int_equal(mh_command_from_name(d->name), i);
        assert_true(d->summary[0] != '\0');
        assert_true((d->check == NULL) == (i == MH_CMD_RUN));
        assert_true((d->target == NULL) == (i == MH_CMD_RUN));
    }
    assert_null(mh_command_get(MH_CMD_NONE));
    assert_null(mh_command_get(MH_CMD_LAST));
    assert_string_equal(mh_command_name(MH_CMD_NONE), "");
    assert_int_equal(mh_command_from_name("imap"), MH_CMD_NONE);

    struct mh_config c;
    char err[256], buf[300];
    assert_int_equal(
        parse(&c, err, sizeof err, "smtp", "-H", "2001:db8::1", NULL), 0);
    assert_string_equal(mh_command_target(&c, buf, sizeof buf),
                        "[2001:db8::1]:25");
    assert_int_equal(
        parse(&c, err, sizeof err, "tls", "-H", "mx", "-p", "587", NULL), 0);
    assert_string_equal(mh_command_target(&c, buf, sizeof buf), "mx:587");
    assert_int_equal(
        parse(&c, err, sizeof err, "domain", "-D", "example.org", NULL), 0);
    assert_string_equal(mh_command_target(&c, buf, sizeof buf), "example.org");
    mh_config_init(&c, MH_CMD_RUN);
    assert_string_equal(mh_command_target(&c, buf, sizeof buf), "");
    struct mh_deadline dl;
    mh_deadline_start(&dl, 1);
    struct mh_result *r = mh_command_check(&c, &dl);
    assert_non_null(r);
    assert_int_equal(r->state, MH_STATE_UNKNOWN);
    mh_result_free(r);
}

/* ---- textutil ----------------------------------------------------------- */

static void
test_textutil_numbers(void **state)
{
    (void)state;
    unsigned long long v;
    assert_true(mh_parse_uint("0", 10, &v) && v == 0);
    assert_true(mh_parse_uint("18446744073709551615", UINT64_MAX, &v) &&
                v == UINT64_MAX);
    assert_false(mh_parse_uint("18446744073709551616", UINT64_MAX, &v));
    assert_false(mh_parse_uint("11", 10, &v));
    assert_false(mh_parse_uint("", 10, &v));
    assert_false(mh_parse_uint(NULL, 10, &v));
    assert_false(mh_parse_uint("+1", 10, &v));
    uint16_t p = 7;
    assert_false(mh_parse_port("0", &p));
    assert_int_equal(p, 7);
    assert_true(mh_parse_port("65535", &p) && p == 65535);
    char ip[64];
    assert_true(mh_parse_ip_port("[2001:db8::1]:5353", ip, sizeof ip, &p));
    assert_string_equal(ip, "2001:db8::1");
    assert_int_equal(p, 5353);
    assert_true(mh_parse_ip_port("192.0.2.1", ip, sizeof ip, &p));
    assert_int_equal(p, 0);
    assert_false(mh_parse_ip_port("192.0.2.1:", ip, sizeof ip, &p));
    assert_false(mh_parse_ip_port("[192.0.2.1]:53", ip, sizeof ip, &p));
}

static void
test_textutil_labels_and_escapes(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(mh_peer_label(b, sizeof b, "mx", NULL, 25), "mx:25");
    assert_string_equal(mh_peer_label(b, sizeof b, "::1", NULL, 25),
                        "[::1]:25");
    assert_string_equal(mh_peer_label(b, sizeof b, NULL, "::1", 25),
                        "[::1]:25");
    assert_string_equal(mh_peer_label(b, sizeof b, "::1", "::1", 25),
                        "[::1]:25");
    assert_string_equal(mh_peer_label(b, sizeof b, "mx", "2001:db8::1", 465),
                        "mx[2001:db8::1]:465");
    assert_string_equal(mh_peer_label(b, 8, "mx.example.org", NULL, 25),
                        "mx.exam");

    char e[16] = "";
    assert_int_equal(mh_text_escape_append(e, sizeof e, "a\0b\n", 4, false),
                     10);
    assert_string_equal(e, "a\\x00b\\x0a");
    /* An escape is never split; "..." when asked for. */
    e[0] = '\0';
    mh_text_escape_append(e, 8, "abcd\x01", 5, false);
    assert_string_equal(e, "abcd");
    e[0] = '\0';
    mh_text_escape_append(e, 8, "abcdefghij", 10, true);
    assert_string_equal(e, "abcd...");
    e[0] = '\0';
    mh_text_escape_append(e, 8, "abcdefg", 7, true);
    assert_string_equal(e, "abcdefg");
    assert_int_equal(mh_text_escaped_len("\x7f\x20", 2), 5);
    char *p = mh_text_printable("x\xffy", 3);
    assert_string_equal(p, "x\\xffy");
    free(p);

    /* In place: escapes grow the line from the end; cut with "...". */
    char l[16] = "a\nb\x01";
    assert_int_equal(mh_text_escape_line(l, sizeof l), 10);
    assert_string_equal(l, "a\\x0ab\\x01");
    strcpy(l, "abc\ndefgh");
    assert_int_equal(mh_text_escape_line(l, 12), 11);
    assert_string_equal(l, "abc\\x0ad...");
    strcpy(l, "\t\t\t\t");
    mh_text_escape_line(l, 8);
    assert_string_equal(l, "\\x09...");
    strcpy(l, "\t\t\t\t");
    mh_text_escape_line(l, 7);
    assert_string_equal(l, "...");
    strcpy(l, "plain");
    assert_int_equal(mh_text_escape_line(l, sizeof l), 5);
    assert_string_equal(l, "plain");

    assert_true(mh_is_ip_literal("192.0.2.1"));
    assert_true(mh_is_ip_literal("2001:db8::1"));
    assert_true(mh_is_ip_literal("::1"));
    assert_false(mh_is_ip_literal("mx.example.org"));
    assert_false(mh_is_ip_literal("192.0.2.1:25"));
    assert_false(mh_is_ip_literal("[::1]"));
    assert_false(mh_is_ip_literal(""));
    assert_false(mh_is_ip_literal(NULL));

    char h[9];
    const unsigned char bytes[] = {0x00, 0x9f, 0xa0, 0xff};
    assert_string_equal(mh_hex_encode(h, bytes, sizeof bytes), "009fa0ff");
    assert_string_equal(mh_hex_encode(h, bytes, 0), "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_rows),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_port),
        cmocka_unit_test(test_seconds),
        cmocka_unit_test(test_uint),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_reply_code),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_cert_days),
        cmocka_unit_test(test_server_and_paths),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_choices),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_cli_typed),
        cmocka_unit_test(test_cli_bad_values),
        cmocka_unit_test(test_cli_rules),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_textutil_numbers),
        cmocka_unit_test(test_textutil_labels_and_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
