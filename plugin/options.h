/* SPDX-License-Identifier: MIT */
/*
 * options: the option table, the one boundary between text and the typed
 * configuration (config.h).
 *
 * Each row of the table (options.c) says everything about one option: its
 * long name, its short letter, the kind of value and so its parser, the
 * field of struct mh_config it sets, the commands it applies to (and
 * requires), its default and its help text. From the table come:
 *   - getopt_long's option array and the short option string (cli.c);
 *   - --help, and from it the man page (packaging/man/mkman.sh) and the
 *     checks of the Icinga/Nagios definitions (tests/integration/
 *     test_contrib.sh);
 *   - the keys of a check in the runner's JSON config (runner_config.c):
 *     the long name with '-' written '_', with the same parsers;
 *   - the defaults (mh_config_init()) and the required options.
 * A value that does not parse is a usage error in every path, and the
 * message names the option.
 *
 * Adding an option (the whole recipe):
 *   1. add its field to struct mh_config (config.h), typed;
 *   2. add one row to the table in options.c: name, short letter or 0,
 *      kind, FIELD(member, type), commands, argument name, help text, and
 *      where the kind needs them its bounds (min/max), names (ENUM) or
 *      value (CHOICE, URL), a default and a required mask;
 *   3. use the field where the command builds its probe's parameters.
 * The command line, --help, the man page and the runner's config key
 * follow from the row; a rule between options goes into
 * mh_config_validate() (config.c). A new kind of value is a new
 * enum mh_opt_kind with its parser in options.c.
 */
#ifndef MH_OPTIONS_H
#define MH_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* What kind of value an option takes, which is also its parser. */
enum mh_opt_kind {
    MH_OPT_FLAG,      /* no value: the bool field becomes true */
    MH_OPT_COUNT,     /* no value: the int field counts (-v -v) */
    MH_OPT_CHOICE,    /* no value: the enum/int field becomes the row's
                         value; another row's value in it is a conflict
                         (--starttls/--tls, -4/-6) */
    MH_OPT_ACTION,    /* no value, no field: --help, --version */
    MH_OPT_STRING,    /* const char *, borrowed, any text */
    MH_OPT_PATH,      /* const char *, borrowed, not empty */
    MH_OPT_LIST,      /* struct mh_strlist, one element per use */
    MH_OPT_PORT,      /* uint16_t, 1..65535 (mh_parse_port) */
    MH_OPT_SECONDS,   /* double: decimal seconds, no sign, min..max */
    MH_OPT_UINT,      /* unsigned: whole number, min..max */
    MH_OPT_ENUM,      /* int-sized enum: one of the row's names */
    MH_OPT_CODE,      /* int: an SMTP reply code, 200..599 (RFC 5321
                         4.2: first digit 2..5) */
    MH_OPT_RANGE,     /* struct mh_threshold: Nagios range (range.h) */
    MH_OPT_CERT_DAYS, /* struct mh_cert_days: "W,C" or "W" days */
    MH_OPT_SERVER,    /* const char *: "IP", "IP:PORT", "[IPv6]:PORT" */
    MH_OPT_URL,       /* struct mh_delivery_url: value 0 submission URL,
                         1 IMAP URL (mh_delivery_parse_url) */
    MH_OPT_ENVVAR     /* const char *: an environment variable's name, the
                         portable set (POSIX.1-2017 XBD 8.1: letters,
                         digits, '_', not starting with a digit) */
};

/* One name of an MH_OPT_ENUM option and the value it stands for. */
struct mh_opt_name {
    const char *name;
    int value;
};

/* One row of the option table. */
struct mh_option {
    const char *name; /* long name; the config key is it with '_' */
    char short_name;  /* 0: long only */
    enum mh_opt_kind kind;
    size_t field;      /* offsetof(struct mh_config, ...) */
    unsigned commands; /* MH_OPT_CMD() mask of the commands */
    unsigned required; /* commands that need it (mask) */
    const char *arg;   /* the value's name in --help ("PORT") */
    const char *help;  /* one line for --help */
    const char *def;   /* default, as text through the parser; NULL:
                          zero */
    double min, max;   /* SECONDS, UINT */
    bool above_min;    /* SECONDS: the value must exceed min */
    int value;         /* CHOICE: the value set; URL: 1 for IMAP */
    const struct mh_opt_name *names; /* ENUM: {NULL, 0}-terminated */
    bool list; /* may be repeated (an array in the config) */
    bool wire; /* STRING, LIST: the value is sent to the server inside an
                  SMTP command line, so it may be neither empty nor hold
                  control characters (a CR LF would end the command and
                  start another one) */
};

/* Most rows the table may have (sizes getopt_long's arrays). */
#define MH_OPT_MAX 96

/* Bit of a command in a row's commands/required mask. */
#define MH_OPT_CMD(cmd) (1u << (unsigned)(cmd))

/* Which spelling messages use for option names: "--port" on the command
 * line; in the runner's config the caller names the key itself. */
enum mh_opt_syntax { MH_SYNTAX_CLI, MH_SYNTAX_CONFIG };

/* The table: *n rows. */
const struct mh_option *mh_options(size_t *n);

/* True when option o applies to command cmd. */
bool mh_option_applies(const struct mh_option *o, enum mh_command cmd);

/* The row named long_name that applies to cmd, or NULL. */
const struct mh_option *mh_option_find(enum mh_command cmd,
                                       const char *long_name);

/* The row of short letter c that applies to cmd, or NULL. */
const struct mh_option *mh_option_find_short(enum mh_command cmd, int c);

/* True when the option takes no value (FLAG, COUNT, CHOICE, ACTION). */
bool mh_option_is_flag(const struct mh_option *o);

/* True when option o may be given several times for command cmd (an
 * array in the runner's config): the list rows, and -H of dnsbl. */
bool mh_option_repeatable(const struct mh_option *o, enum mh_command cmd);

/* True when a and b are one option under two names (or the same row):
 * the same field, kind and value, as --host and --hostname, --starttls and
 * --require-starttls (not --tls, which sets the same field to another
 * value). */
bool mh_option_is_alias(const struct mh_option *a, const struct mh_option *b);

/*
 * Parses text (NULL for options without value) for option o and stores it
 * in cfg. On failure returns -1 and writes one line into errbuf:
 *   MH_SYNTAX_CLI:    "invalid --port '25.0' (a port number, 1..65535)"
 *   MH_SYNTAX_CONFIG: "invalid value '25.0' (a port number, 1..65535)"
 *   conflicts:        "--starttls and --tls exclude each other" (the
 *                     config spelling writes 'starttls' and 'tls')
 * The value is escaped and shortened in the message. cfg keeps its
 * previous value of the field on failure.
 */
int mh_option_set(struct mh_config *cfg, const struct mh_option *o,
                  const char *text, enum mh_opt_syntax syntax, char *errbuf,
                  size_t errlen);

/*
 * The first option (table order) that cfg->command requires and that is
 * not set (NULL string, empty string, unset URL), or NULL when none is
 * missing.
 */
const struct mh_option *mh_config_missing(const struct mh_config *cfg);

/* The name of an MH_OPT_ENUM value of option o ("" when unknown). */
const char *mh_option_enum_name(const struct mh_option *o, int value);

#endif
