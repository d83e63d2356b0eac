/* SPDX-License-Identifier: MIT */
/*
 * config: the one typed configuration of a check (struct mh_config).
 *
 * Every value is parsed once, at the boundary, by the option table
 * (options.h): the command line (cli.c) and the runner's JSON config
 * (runner_config.c) both set options through it, so both accept the same
 * keys with the same validation and the same messages. Past the boundary
 * nothing parses again: the port is a uint16_t, the TLS mode, minimum
 * version, SASL mechanism and output format are enums, the greeting code
 * an int, the delivery URLs parsed structs, thresholds parsed ranges.
 *
 * Strings are borrowed from argv (or from the runner's JSON tree) and must
 * outlive the config; the lists are owned (mh_config_free()).
 */
#ifndef MH_CONFIG_H
#define MH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../probes/delivery.h"
#include "../probes/mtasts.h"
#include "../probes/smtp.h"
#include "range.h"

/* The commands of check_mailhealth (their registry is commands.h). */
enum mh_command {
    MH_CMD_NONE = 0,
    MH_CMD_SMTP,
    MH_CMD_TLS,
    MH_CMD_DNSBL,
    MH_CMD_DOMAIN,
    MH_CMD_DELIVERY,
    MH_CMD_MTASTS,
    MH_CMD_RUN,
    MH_CMD_LAST
};

enum mh_output { MH_OUT_NAGIOS = 0, MH_OUT_JSON, MH_OUT_PROMETHEUS };

/* A growable list of borrowed strings (repeatable options). */
struct mh_strlist {
    const char **v;
    size_t n;
};

/* A -w/-c threshold: the parsed range and the text as given (perfdata
 * carries the text). */
struct mh_threshold {
    bool set;
    struct mh_range range;
    const char *text;
};

/* --cert-days W,C: days left that warn and that are critical. */
struct mh_cert_days {
    double warn, crit;
    bool given; /* on the command line or in the config (not the default):
                   turns the certificate checks of smtp and domain on */
};

/* The whole configuration of one check (or of the runner). */
struct mh_config {
    enum mh_command command;
    /* common */
    const char *host;
    uint16_t port; /* 0 until mh_config_validate() applies the command's
                      default (mh_default_port()) */
    double timeout_s;
    int family;           /* AF_UNSPEC, AF_INET (-4), AF_INET6 (-6) */
    const char *resolver; /* "IP", "IP:PORT" or "[IPv6]:PORT", checked */
    enum mh_output output;
    const char *textfile;
    int verbose;
    const char *trace_label; /* the runner's label of the check: its -v
                                lines start with it (mh_trace_stderr);
                                NULL: none (one-shot) */
    struct mh_threshold warning, critical;
    /* smtp / tls / domain */
    enum mh_tls_mode tls_mode;
    bool starttls_optional;
    const char *sni;
    bool no_sni;
    const char *ehlo;
    int expect_greeting;      /* reply code 200..599 (default 220) */
    unsigned max_line_length; /* octets; 0: RFC 5321's 512 */
    const char *auth_user, *auth_password_file, *auth_password_env;
    unsigned auth_mech; /* one MH_MECH_* (reply.h); 0: the best offered */
    bool allow_plaintext_auth;
    const char *mail_from;
    struct mh_strlist rcpt_to;
    const char *relay_test;
    struct mh_cert_days cert_days;
    const char *ca_file, *ca_path, *verify_name;
    bool no_verify;
    int tls_min_version; /* OpenSSL's TLS1_2_VERSION, ...; 0: not given
                            (the probes' default, TLS 1.2) */
    /* DANE (smtp, tls, domain; probes/dane.h) */
    bool dane;
    const char *dnssec_probe;
    const char *tlsa_next_key;
    struct mh_cert_days rrsig_days;
    /* dnsbl / domain */
    struct mh_strlist zones;
    /* every -H/--host/--hostname given, in order (host is the last one):
     * dnsbl checks them all */
    struct mh_strlist hosts;
    const char *hosts_file;     /* --hosts-file: more dnsbl targets */
    unsigned zone_query_budget; /* queries per zone per round, 0: none */
    double zone_health_cache_s; /* runner: zone health kept this long */
    unsigned max_in_flight;     /* dnsbl queries in flight at once */
    struct mh_dnsbl_memory *dnsbl_memory; /* not an option: the runner's
                                             memory of the zones, handed to
                                             every check (NULL: none) */
    const char *zones_file;
    const char *domain;
    /* mta-sts / domain */
    const char *sts_state; /* --sts-state FILE: the memory of the policies
                              seen, kept between one-shot runs */
    struct mh_sts_memory *sts_memory; /* not an option: the runner's memory
                                         of the policies seen, handed to
                                         every check (NULL: none) */
    /* delivery */
    struct mh_delivery_url submit, imap; /* scheme INVALID: not given */
    const char *imap_user, *imap_password_file, *imap_password_env;
    double poll_interval_s;
    bool insecure_plaintext; /* smtp:// and imap:// may fall back to
                                plaintext when STARTTLS is not offered */
    /* run */
    const char *config_path;
    bool once;
    double interval_s;  /* 0: the config's interval_seconds */
    const char *listen; /* --listen ADDR:PORT: the exporter (exporter.h) */
};

/*
 * Resets cfg to the defaults of command cmd: every option's default from
 * the option table (timeout 10 s, nagios output, greeting 220, ...), the
 * rest zero. Needs no mh_config_free() until an option was set.
 */
void mh_config_init(struct mh_config *cfg, enum mh_command cmd);

/* Frees the lists of cfg (not the borrowed strings). */
void mh_config_free(struct mh_config *cfg);

/*
 * The port a command uses when -p is not given: 465 for implicit TLS
 * (RFC 8314), else 25 (smtp, tls, domain). The one place of this rule.
 */
uint16_t mh_default_port(enum mh_command cmd, enum mh_tls_mode mode);

/*
 * Checks the rules that span options, after all of them are set, and
 * completes cfg: the default port, STARTTLS for --starttls-optional.
 * Required options (the table's `required`) are checked first: see
 * mh_config_missing(). Returns 0, or -1 with one line in errbuf, written
 * with the command line's option names ("--sni and --no-sni exclude each
 * other"); the runner rewrites them into its key names.
 */
int mh_config_validate(struct mh_config *cfg, char *errbuf, size_t errlen);

#endif
