/* SPDX-License-Identifier: MIT */
/*
 * fuzz_options: the typed configuration boundary (plugin/options.c,
 * plugin/config.c, plugin/cli.c): every value parser and the command line.
 *
 * Input: the first byte chooses the mode.
 *   even: a command line. The second byte chooses the command (smtp, tls,
 *         dnsbl, domain, delivery, run); the rest, split at NUL bytes,
 *         are the arguments after it (at most 32). Parsed with
 *         mh_cli_parse() (stdout, where --help goes, is /dev/null).
 *   odd:  one option value. The second byte chooses a row of the option
 *         table; the rest (up to its first NUL) is the value, set with
 *         mh_option_set() in both spellings on a fresh config of the first
 *         command the row applies to.
 * Every input also goes through the in-place escaper of messages
 * (mh_text_escape_line), which must write what the appending escaper
 * writes for the same text and capacity.
 * Invariants: a failure is one line of printable ASCII (values from a
 * config file are escaped), and leaves the field as it was; a success
 * stores a value within the option's documented bounds; a parsed command
 * line has every typed value in range and passes mh_config_validate()
 * again unchanged.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "cli.h"
#include "commands.h"
#include "fuzz.h"
#include "options.h"
#include "textutil.h"

#define MAX_ARGS 32

static void
check_message(const char *err)
{
    FUZZ_CHECK(err[0] != '\0');
    for (const char *p = err; *p != '\0'; p++) {
        FUZZ_CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p <= 0x7e);
    }
}

/* The typed fields of a valid configuration are within their bounds. */
static void
check_config(const struct mh_config *c)
{
    FUZZ_CHECK(mh_command_get(c->command) != NULL);
    FUZZ_CHECK(isfinite(c->timeout_s) && c->timeout_s > 0 &&
               c->timeout_s <= 3600);
    FUZZ_CHECK(c->output == MH_OUT_NAGIOS || c->output == MH_OUT_JSON ||
               c->output == MH_OUT_PROMETHEUS);
    if (c->command == MH_CMD_SMTP || c->command == MH_CMD_TLS ||
        c->command == MH_CMD_DOMAIN) {
        FUZZ_CHECK(c->port >= 1);
        FUZZ_CHECK(c->tls_min_version == 0 ||
                   (c->tls_min_version >= TLS1_VERSION &&
                    c->tls_min_version <= TLS1_3_VERSION));
        FUZZ_CHECK(c->cert_days.crit <= c->cert_days.warn &&
                   c->cert_days.crit >= 0);
        FUZZ_CHECK(c->max_line_length == 0 ||
                   (c->max_line_length >= 64 && c->max_line_length <= 4000));
    }
    if (c->command == MH_CMD_SMTP) {
        FUZZ_CHECK(c->expect_greeting >= 200 && c->expect_greeting <= 599);
    }
    FUZZ_CHECK(c->auth_mech == 0 || c->auth_mech == MH_MECH_PLAIN ||
               c->auth_mech == MH_MECH_LOGIN ||
               c->auth_mech == MH_MECH_CRAM_MD5);
    FUZZ_CHECK(!c->warning.set || c->warning.text != NULL);
    FUZZ_CHECK(!c->critical.set || c->critical.text != NULL);
    const struct mh_command_def *d = mh_command_get(c->command);
    if (d->target != NULL) {
        char label[600];
        mh_command_target(c, label, sizeof label);
    }
    /* Validation is idempotent. */
    struct mh_config again = *c;
    char err[512];
    FUZZ_CHECK(mh_config_validate(&again, err, sizeof err) == 0);
    FUZZ_CHECK(again.port == c->port && again.tls_mode == c->tls_mode);
}

static void
command_line(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"smtp",   "tls",      "dnsbl",
                                        "domain", "delivery", "run"};
    static char store[MAX_ARGS + 2][512];
    char *argv[MAX_ARGS + 3];
    int argc = 0;
    snprintf(store[0], sizeof store[0], "check_mailhealth");
    argv[argc] = store[argc];
    argc++;
    snprintf(store[1], sizeof store[1], "%s",
             names[size > 0 ? data[0] % 6 : 0]);
    argv[argc] = store[argc];
    argc++;
    size_t i = size > 0 ? 1 : 0;
    while (i < size && argc < MAX_ARGS + 2) {
        size_t start = i;
        while (i < size && data[i] != '\0') {
            i++;
        }
        size_t len =
            i - start < sizeof store[0] - 1 ? i - start : sizeof store[0] - 1;
        memcpy(store[argc], data + start, len);
        store[argc][len] = '\0';
        argv[argc] = store[argc];
        argc++;
        i++; /* the NUL */
    }
    argv[argc] = NULL;
    struct mh_config cfg;
    char err[512];
    err[0] = '\0';
    int rc = mh_cli_parse(argc, argv, &cfg, err, sizeof err);
    FUZZ_CHECK(rc == -1 || rc == 0 || rc == 1);
    if (rc == -1) {
        check_message(err);
    } else if (rc == 0) {
        check_config(&cfg);
    }
    mh_config_free(&cfg);
}

static void
one_value(const uint8_t *data, size_t size)
{
    size_t n;
    const struct mh_option *t = mh_options(&n);
    const struct mh_option *o = &t[size > 0 ? data[0] % n : 0];
    enum mh_command cmd = MH_CMD_NONE;
    for (int c = 1; c < (int)MH_CMD_LAST && cmd == MH_CMD_NONE; c++) {
        if (mh_option_applies(o, (enum mh_command)c)) {
            cmd = (enum mh_command)c;
        }
    }
    char value[1024];
    size_t len = size > 1 ? size - 1 : 0;
    len = len < sizeof value - 1 ? len : sizeof value - 1;
    memcpy(value, data + (size > 0 ? 1 : 0), len);
    value[len] = '\0';
    for (int syntax = 0; syntax < 2; syntax++) {
        struct mh_config cfg, before;
        mh_config_init(&cfg, cmd);
        before = cfg;
        char err[512];
        err[0] = '\0';
        int rc = mh_option_set(&cfg, o, mh_option_is_flag(o) ? NULL : value,
                               syntax == 0 ? MH_SYNTAX_CLI : MH_SYNTAX_CONFIG,
                               err, sizeof err);
        const void *f = (const char *)&cfg + o->field;
        const void *fb = (const char *)&before + o->field;
        if (rc != 0) {
            check_message(err);
            /* The field keeps its value (its first bytes, at least). */
            FUZZ_CHECK(o->kind == MH_OPT_ACTION ||
                       memcmp(f, fb, sizeof(uint16_t)) == 0);
        } else if (o->kind == MH_OPT_PORT) {
            FUZZ_CHECK(*(const uint16_t *)f >= 1);
        } else if (o->kind == MH_OPT_SECONDS) {
            double v = *(const double *)f;
            FUZZ_CHECK(isfinite(v) && v >= o->min && v <= o->max);
        } else if (o->kind == MH_OPT_UINT) {
            unsigned v = *(const unsigned *)f;
            FUZZ_CHECK(v >= o->min && v <= o->max);
        } else if (o->kind == MH_OPT_CODE) {
            int v = *(const int *)f;
            FUZZ_CHECK(v >= 200 && v <= 599);
        } else if (o->kind == MH_OPT_ENUM) {
            FUZZ_CHECK(mh_option_enum_name(o, *(const int *)f)[0] != '\0');
        }
        mh_config_free(&cfg);
    }
}

/* The in-place escaper against the appending one: the text (the input up
 * to its first NUL, cut to the capacity the first byte chooses) escaped
 * both ways gives the same line. */
static void
escape_line(const uint8_t *data, size_t size)
{
    char src[256], a[256], b[256];
    size_t cap = 1 + data[0] % sizeof src;
    size_t n = 0;
    while (n + 1 < size && n + 1 < cap && data[n + 1] != 0) {
        src[n] = (char)data[n + 1];
        n++;
    }
    src[n] = '\0';
    a[0] = '\0';
    size_t la = mh_text_escape_append(a, cap, src, n, true);
    memcpy(b, src, n + 1);
    size_t lb = mh_text_escape_line(b, cap);
    FUZZ_CHECK(la == lb && strcmp(a, b) == 0 && lb < cap);
    check_message(lb > 0 ? b : "x");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        /* --help and --version print to stdout. */
        quiet = freopen("/dev/null", "w", stdout) != NULL;
    }
    if (size == 0) {
        return 0;
    }
    escape_line(data, size);
    if (data[0] % 2 == 0) {
        command_line(data + 1, size - 1);
    } else {
        one_value(data + 1, size - 1);
    }
    return 0;
}
