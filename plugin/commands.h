/* SPDX-License-Identifier: MIT */
/*
 * commands: the registry of check_mailhealth's commands. One row per
 * command: its name, its one-line summary (--help and the man page), its
 * check function and its target label function (checks.h). main.c and the
 * runner find a command here and run it through its row; cli.c and the
 * runner's config take the names from here.
 *
 * `run` is the one command that is not a check: its row has no check
 * function, and main.c hands it to the runner (runner.h: mh_cmd_run),
 * which runs the checks of its config through this registry.
 *
 * Adding a command: a value of enum mh_command (config.h), a row here, its
 * cmd_<name>.c with the functions declared in checks.h, and its options
 * marked with it in the option table (options.c).
 */
#ifndef MH_COMMANDS_H
#define MH_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "../probes/deadline.h"
#include "../probes/result.h"
#include "config.h"

struct mh_command_def {
    enum mh_command id;
    const char *name;    /* "smtp", as typed on the command line */
    const char *summary; /* one line for --help */
    /* Runs one check (checks.h); NULL for run. */
    struct mh_result *(*check)(const struct mh_config *cfg,
                               const struct mh_deadline *dl);
    /* Writes the target label (checks.h); NULL for run. */
    void (*target)(const struct mh_config *cfg, char *buf, size_t len);
    bool uses_curl; /* libcurl must be initialised before threads start */
};

/* The registry row of cmd, or NULL for MH_CMD_NONE and out-of-range
 * values. */
const struct mh_command_def *mh_command_get(enum mh_command cmd);

/* Name of a command ("smtp", ...), "" for MH_CMD_NONE. */
const char *mh_command_name(enum mh_command cmd);

/* Command by name, MH_CMD_NONE if unknown. */
enum mh_command mh_command_from_name(const char *name);

/*
 * Runs the check of cfg->command within dl (the registry row's check
 * function). A command without one (run) gives an UNKNOWN result. Returns
 * the result (caller frees) or NULL when not even that could be
 * allocated.
 */
struct mh_result *mh_command_check(const struct mh_config *cfg,
                                   const struct mh_deadline *dl);

/* Writes the target label of cfg's command into buf (see checks.h);
 * "" for a command without one. Returns buf. */
char *mh_command_target(const struct mh_config *cfg, char *buf, size_t len);

/* What names the target of a command, read from its registry row's target
 * function: the exporter's /probe sets that option from the URL. */
enum mh_target_kind {
    MH_TARGET_NONE = 0,  /* no single target option (delivery, run) */
    MH_TARGET_HOST_PORT, /* host, and the port when given (smtp, tls) */
    MH_TARGET_HOST,      /* host only (dnsbl: an address or a name) */
    MH_TARGET_DOMAIN     /* domain (domain, mta-sts) */
};

/* The target kind of cmd; MH_TARGET_NONE for unknown commands. */
enum mh_target_kind mh_command_target_kind(enum mh_command cmd);

#endif
