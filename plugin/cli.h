/* SPDX-License-Identifier: MIT */
/*
 * cli: the command line of check_mailhealth (DESIGN.md "Command line").
 *
 * Options are declared once in a table (name, short letter, argument,
 * which subcommands accept it, help text). getopt_long's option array, the
 * --help text, and the runner's config keys (issue: every key of a check is
 * the long option with '-' written '_') all come from that table, so the
 * three can never drift apart.
 */
#ifndef MH_CLI_H
#define MH_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "range.h"

enum mh_command {
    MH_CMD_NONE = 0,
    MH_CMD_SMTP,
    MH_CMD_TLS,
    MH_CMD_DNSBL,
    MH_CMD_DOMAIN,
    MH_CMD_DELIVERY,
    MH_CMD_RUN,
    MH_CMD_LAST
};

enum mh_output { MH_OUT_NAGIOS = 0, MH_OUT_JSON, MH_OUT_PROMETHEUS };

/* A growable list of borrowed strings (repeatable options). */
struct mh_strlist {
    const char **v;
    size_t n;
};

/*
 * The whole run configuration. Strings are borrowed from argv (or from the
 * runner's parsed config) and must outlive the config; lists are owned
 * (free with mh_config_free()).
 */
struct mh_config {
    enum mh_command command;
    /* common */
    const char *host;
    const char *port; /* NULL: the subcommand's default */
    double timeout_s;
    int family; /* AF_UNSPEC, AF_INET (-4), AF_INET6 (-6) */
    const char *resolver;
    enum mh_output output;
    const char *textfile;
    int verbose;
    const char *warning, *critical; /* range texts */
    struct mh_range warn, crit;
    bool has_warn, has_crit;
    /* smtp / tls */
    bool starttls, tls, starttls_optional;
    const char *sni;
    bool no_sni;
    const char *ehlo;
    const char *expect_greeting; /* reply code the operator expects */
    double max_line_length;      /* 0: RFC 5321's 512 octets */
    const char *auth_user, *auth_password_file, *auth_password_env;
    const char *auth_mech;
    bool allow_plaintext_auth;
    const char *mail_from;
    struct mh_strlist rcpt_to;
    const char *relay_test;
    bool has_cert_days;
    double cert_warn_days, cert_crit_days;
    const char *ca_file, *ca_path, *verify_name;
    bool no_verify;
    const char *tls_min;
    /* dnsbl / domain */
    struct mh_strlist zones;
    const char *zones_file;
    const char *domain;
    /* delivery */
    const char *submit_url, *imap_url; /* --submit, --imap */
    const char *imap_user, *imap_password_file, *imap_password_env;
    double poll_interval_s;  /* --poll-interval, default 1 */
    bool insecure_plaintext; /* smtp:// and imap:// may fall back to
                                plaintext when STARTTLS is not offered */
    /* run */
    const char *config_path;
    bool once;
    double interval_s;
};

/* Name of a subcommand ("smtp", ...), "" for MH_CMD_NONE. */
const char *mh_command_name(enum mh_command cmd);

/* Subcommand by name, MH_CMD_NONE if unknown. */
enum mh_command mh_command_from_name(const char *name);

/*
 * Parses argv (argv[1] is the subcommand) into cfg. On a usage error returns
 * -1 with one line saying what is wrong in errbuf. Returns 1 when -h or -V
 * was handled (text already printed to stdout: the caller exits 3, as the
 * guidelines require), 0 when cfg is ready.
 */
int mh_cli_parse(int argc, char **argv, struct mh_config *cfg, char *errbuf,
                 size_t errlen);

/*
 * Sets one option by its long name (as the runner does from its JSON
 * config: the key with '_' turned back into '-'). value is NULL for flags.
 * Returns 0, or -1 with the reason in errbuf (unknown option for this
 * subcommand, bad value).
 */
int mh_config_set(struct mh_config *cfg, const char *long_name,
                  const char *value, char *errbuf, size_t errlen);

/* True if the long option takes no argument (a flag). *known is false when
 * the option does not exist for cfg->command. */
bool mh_option_is_flag(enum mh_command cmd, const char *long_name, bool *known);

/* True if the long option may be repeated (takes an array in the config). */
bool mh_option_is_list(const char *long_name);

/*
 * Checks the cross-option rules after all options are set (required -H,
 * --starttls with --tls, ...). Returns 0 or -1 with errbuf.
 */
int mh_config_validate(struct mh_config *cfg, char *errbuf, size_t errlen);

/* Resets cfg to the defaults (timeout 10 s, nagios output, ...). */
void mh_config_init(struct mh_config *cfg, enum mh_command cmd);

/* Frees the lists of cfg (not the borrowed strings). */
void mh_config_free(struct mh_config *cfg);

/* Prints the short usage (at most 80 columns) to out. */
void mh_cli_usage(FILE *out);

#endif
