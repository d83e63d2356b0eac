/* SPDX-License-Identifier: MIT */
/*
 * cli: getopt_long and --help from the option table (see cli.h).
 */
#include "cli.h"

#include <getopt.h>
#include <stdbool.h>
#include <string.h>

#include "../probes/textutil.h"
#include "commands.h"
#include "options.h"
#include "version.h"

/* getopt_long's value of a long option: its row index + this. */
#define LONG_BASE 1000

void
mh_cli_usage(FILE *out)
{
    fprintf(out,
            "Usage: check_mailhealth COMMAND [OPTIONS]\n"
            "  smtp     -H HOST [-p PORT] [--starttls|--tls] [...]\n"
            "  tls      -H HOST [-p PORT] [--starttls|--tls] [--cert-days "
            "W,C]\n"
            "  dnsbl    -H ADDRESS|HOST|DOMAIN --zone ZONE... [-w R] [-c R]\n"
            "  domain   -D DOMAIN [--zone ZONE]... [--cert-days W,C]\n"
            "  delivery --submit URL --imap URL ...\n"
            "  run      --config FILE [--once | --interval SECONDS]\n"
            "Try 'check_mailhealth COMMAND --help' for the options.\n");
}

/* One option line: "  -p, --port PORT                  TCP port ...". */
static void
print_option(FILE *out, const struct mh_option *o)
{
    bool arg = !mh_option_is_flag(o);
    char left[64];
    if (o->short_name != 0) {
        snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name,
                 arg ? " " : "", arg ? o->arg : "");
    } else {
        snprintf(left, sizeof left, "    --%s%s%s", o->name, arg ? " " : "",
                 arg ? o->arg : "");
    }
    fprintf(out, "  %-32s %s%s%s%s%s\n", left, o->help,
            o->def != NULL ? " (default " : "", o->def != NULL ? o->def : "",
            o->def != NULL ? ")" : "", o->list ? " [repeatable]" : "");
}

static void
print_help(FILE *out, enum mh_command cmd)
{
    fprintf(out, "check_mailhealth %s - mail delivery health checks\n\n",
            MH_VERSION);
    if (cmd == MH_CMD_NONE) {
        mh_cli_usage(out);
        fprintf(out, "\nCommands:\n");
        for (int i = 1; i < (int)MH_CMD_LAST; i++) {
            const struct mh_command_def *d = mh_command_get(i);
            fprintf(out, "  %-9s %s\n", d->name, d->summary);
        }
    } else {
        const struct mh_command_def *d = mh_command_get(cmd);
        fprintf(out, "check_mailhealth %s: %s\n\nOptions:\n", d->name,
                d->summary);
        size_t n;
        const struct mh_option *opts = mh_options(&n);
        for (size_t i = 0; i < n; i++) {
            if (mh_option_applies(&opts[i], cmd)) {
                print_option(out, &opts[i]);
            }
        }
    }
    fprintf(out,
            "\nStates: OK 0, WARNING 1 (4xx replies, thresholds), CRITICAL 2 "
            "(5xx,\nrefused, timeouts, TLS and auth failures), UNKNOWN 3 "
            "(usage errors,\nanswers that cannot be interpreted). Failures "
            "name one category:\nconnection timeout auth response relay "
            "blacklist tls.\n");
}

/* getopt_long's tables for the options of cmd. lo has room for every row
 * plus the terminator, shorts for two bytes per row plus three. */
static void
build_getopt(enum mh_command cmd, struct option *lo, char *shorts)
{
    size_t n, nlo = 0, ns = 0;
    const struct mh_option *opts = mh_options(&n);
    shorts[ns++] = ':'; /* report a missing argument as ':' */
    for (size_t i = 0; i < n; i++) {
        const struct mh_option *o = &opts[i];
        if (!mh_option_applies(o, cmd)) {
            continue;
        }
        bool arg = !mh_option_is_flag(o);
        lo[nlo++] =
            (struct option){o->name, arg ? required_argument : no_argument,
                            NULL, LONG_BASE + (int)i};
        if (o->short_name != 0 && memchr(shorts, o->short_name, ns) == NULL) {
            shorts[ns++] = o->short_name;
            if (arg) {
                shorts[ns++] = ':';
            }
        }
    }
    lo[nlo] = (struct option){0};
    shorts[ns] = '\0';
}

/* The usage error of getopt_long's '?' or ':' at av[optind - 1]. */
static void
getopt_error(int ch, char **av, enum mh_command cmd, char *errbuf,
             size_t errlen)
{
    const char *bad = av[optind - 1];
    const char *name = mh_command_name(cmd);
    if (ch == ':') {
        snprintf(errbuf, errlen, "option '%s' needs an argument", bad);
    } else if (optopt > 0 && optopt < 128 && strncmp(bad, "--", 2) != 0) {
        /* (For "--flag=value" getopt_long sets optopt to the option's
         * code, not a character.) */
        snprintf(errbuf, errlen, "unknown option '-%c' for %s", optopt, name);
    } else {
        /* The name only: "--auth-password=SECRET" must not put the
         * secret into the output. */
        size_t nl = strcspn(bad, "=");
        snprintf(errbuf, errlen, "unknown option '%.*s' for %s%s", (int)nl, bad,
                 name, bad[nl] == '=' ? " (or it takes no value)" : "");
    }
}

static int
parse(int argc, char **argv, struct mh_config *cfg, char *errbuf, size_t errlen)
{
    if (argc < 2) {
        snprintf(errbuf, errlen, "no command given");
        return -1;
    }
    const char *first = argv[1];
    if (strcmp(first, "-h") == 0 || strcmp(first, "--help") == 0) {
        print_help(stdout, MH_CMD_NONE);
        return 1;
    }
    if (strcmp(first, "-V") == 0 || strcmp(first, "--version") == 0) {
        printf("check_mailhealth %s\n", MH_VERSION);
        return 1;
    }
    enum mh_command cmd = mh_command_from_name(first);
    if (cmd == MH_CMD_NONE) {
        snprintf(errbuf, errlen, "unknown command '%s'", first);
        return -1;
    }
    mh_config_init(cfg, cmd);

    size_t n;
    const struct mh_option *opts = mh_options(&n);
    struct option lo[MH_OPT_MAX + 1];
    char shorts[2 * MH_OPT_MAX + 3];
    build_getopt(cmd, lo, shorts);
    /* getopt_long over argv[1..] (the command is its argv[0]); optind 0
     * makes glibc start afresh, so parsing may happen more than once in a
     * process (tests, fuzzing). */
    char **av = argv + 1;
    int ac = argc - 1;
    optind = 0;
    opterr = 0;
    for (;;) {
        int ch = getopt_long(ac, av, shorts, lo, NULL);
        if (ch == -1) {
            break;
        }
        if (ch == '?' || ch == ':') {
            getopt_error(ch, av, cmd, errbuf, errlen);
            return -1;
        }
        const struct mh_option *o = ch >= LONG_BASE
                                        ? &opts[ch - LONG_BASE]
                                        : mh_option_find_short(cmd, ch);
        if (o == NULL) {
            snprintf(errbuf, errlen, "unknown option for %s", first);
            return -1;
        }
        if (strcmp(o->name, "help") == 0) {
            print_help(stdout, cmd);
            return 1;
        }
        if (strcmp(o->name, "version") == 0) {
            printf("check_mailhealth %s\n", MH_VERSION);
            return 1;
        }
        if (mh_option_set(cfg, o, optarg, MH_SYNTAX_CLI, errbuf, errlen) != 0) {
            return -1;
        }
    }
    if (optind < ac) {
        snprintf(errbuf, errlen, "unexpected argument '%s'", av[optind]);
        return -1;
    }
    return mh_config_validate(cfg, errbuf, errlen);
}

int
mh_cli_parse(int argc, char **argv, struct mh_config *cfg, char *errbuf,
             size_t errlen)
{
    mh_config_init(cfg, MH_CMD_NONE);
    int rc = parse(argc, argv, cfg, errbuf, errlen);
    if (rc < 0 && errlen > 0) {
        /* Messages quote arguments (an unknown option, a path): their
         * bytes are escaped so the status line stays one printable line. */
        mh_text_escape_line(errbuf, errlen);
    }
    return rc;
}
