/* SPDX-License-Identifier: MIT */
/*
 * main: check_mailhealth. Parses the command line, runs one subcommand
 * within one deadline, prints the result in the chosen format, and exits
 * with the Nagios state: 0..3 and nothing else, whatever happens.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "../probes/curl_loader.h"
#include "../probes/resolve.h"
#include "cli.h"
#include "commands.h"
#include "common.h"
#include "render.h"
#include "runner.h"

#if defined(__SANITIZE_ADDRESS__)
#define MH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MH_SANITIZED 1
#endif
#endif

/* A crash must still end as UNKNOWN (exit 3), never as 128+signal, which
 * Nagios shows as "out of bounds" CRITICAL or worse. Only
 * async-signal-safe calls here. Not installed under the sanitizers, whose
 * own handlers report the crash. */
#ifndef MH_SANITIZED
static void
fatal_signal(int sig)
{
    static const char msg[] =
        "MAILHEALTH UNKNOWN - internal error (fatal signal), please report\n";
    (void)sig;
    ssize_t w = write(STDOUT_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(3);
}
#endif

static void
termination_signal(int sig)
{
    static const char msg[] = "MAILHEALTH UNKNOWN - terminated by a signal\n";
    (void)sig;
    ssize_t w = write(STDOUT_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(3);
}

static void
install_signals(bool handle_term)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    /* SIGPIPE: writes to a closed peer fail with EPIPE instead. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
#ifndef MH_SANITIZED
    sa.sa_handler = fatal_signal;
    sa.sa_flags = (int)SA_RESETHAND;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGABRT, &sa, NULL);
#endif
    if (handle_term) {
        sa.sa_handler = termination_signal;
        sa.sa_flags = 0;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
    }
}

/* Renders r in cfg's format to stdout. Returns 0 or -1. */
static int
render(const struct mh_config *cfg, const struct mh_result *r)
{
    const struct mh_result *one[] = {r};
    switch (cfg->output) {
    case MH_OUT_JSON:
        return mh_render_json(stdout, r);
    case MH_OUT_PROMETHEUS:
        return mh_render_prometheus(stdout, one, 1, (double)time(NULL), -1);
    case MH_OUT_NAGIOS:
    default:
        return mh_render_nagios(stdout, r);
    }
}

/* Runs the check of command def within one deadline, writes the textfile
 * and the output. Returns the exit code. */
static int
run_one_check(const struct mh_command_def *def, const struct mh_config *cfg)
{
    struct mh_deadline dl;
    mh_deadline_start(&dl, cfg->timeout_s);
    struct mh_result *r = def->check(cfg, &dl);
    if (r == NULL) {
        printf("MAILHEALTH UNKNOWN - out of memory\n");
        return 3;
    }
    mh_result_finish(r);

    /* The textfile first: if it cannot be written, the status line must
     * already say UNKNOWN, as the exit code will. */
    if (cfg->textfile != NULL) {
        const struct mh_result *one[] = {r};
        char err[512];
        if (mh_write_textfile(cfg->textfile, one, 1, (double)time(NULL), -1,
                              err, sizeof err) != 0) {
            fprintf(stderr, "check_mailhealth: %s\n", err);
            mh_result_override(r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
                               "%s (the check itself: %s)", err,
                               r->summary != NULL ? r->summary : "");
            mh_result_finish(r);
        }
    }
    int code = render(cfg, r) == 0 ? (int)r->state : 3;
    mh_result_free(r);
    return code;
}

/* The format the command line asks for, read from argv alone (a usage
 * error may stop the parser before --output): the last "--output F" or
 * "--output=F". */
static enum mh_output
output_asked(int argc, char **argv)
{
    enum mh_output out = MH_OUT_NAGIOS;
    for (int i = 2; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) {
            v = argv[++i];
        } else if (strncmp(argv[i], "--output=", 9) == 0) {
            v = argv[i] + 9;
        }
        if (v != NULL) {
            out = strcasecmp(v, "json") == 0         ? MH_OUT_JSON
                  : strcasecmp(v, "prometheus") == 0 ? MH_OUT_PROMETHEUS
                                                     : MH_OUT_NAGIOS;
        }
    }
    return out;
}

/* A usage error in the format asked for: with --output json or prometheus
 * a program reads the output, and it must parse. Returns 3. */
static int
usage_error(struct mh_config *cfg, int argc, char **argv, const char *err)
{
    enum mh_output out =
        cfg->command != MH_CMD_NONE ? output_asked(argc, argv) : MH_OUT_NAGIOS;
    struct mh_result *r = NULL;
    if (out != MH_OUT_NAGIOS) {
        char target[300];
        if (cfg->port == 0) {
            cfg->port = mh_default_port(cfg->command, cfg->tls_mode);
        }
        mh_command_target(cfg, target, sizeof target);
        r = mh_result_unknown(mh_command_name(cfg->command), target,
                              MH_REASON_USAGE_ERROR, "usage: %s", err);
    }
    if (r != NULL) {
        mh_result_finish(r);
        cfg->output = out;
        (void)render(cfg, r);
        mh_result_free(r);
    } else {
        printf("MAILHEALTH UNKNOWN - usage: %s\n"
               "Try 'check_mailhealth%s%s --help'.\n",
               err, cfg->command != MH_CMD_NONE ? " " : "",
               mh_command_name(cfg->command));
    }
    mh_config_free(cfg);
    return 3;
}

int
main(int argc, char **argv)
{
    struct mh_config cfg;
    char err[512];
    install_signals(!(argc > 1 && strcmp(argv[1], "run") == 0));

    if (argc < 2) {
        mh_cli_usage(stdout);
        return 3;
    }
    int rc = mh_cli_parse(argc, argv, &cfg, err, sizeof err);
    if (rc == 1) {
        mh_config_free(&cfg);
        return 3; /* --help / --version (guidelines: exit 3) */
    }
    if (rc != 0) {
        return usage_error(&cfg, argc, argv, err);
    }
    if (mh_resolve_global_init() != 0) {
        printf("MAILHEALTH UNKNOWN - cannot initialise c-ares\n");
        mh_config_free(&cfg);
        return 3;
    }
    const struct mh_command_def *def = mh_command_get(cfg.command);
    /* libcurl is loaded (curl_loader.c) and initialised only by the
     * commands that use it, once, before the runner starts threads. */
    if (def->uses_curl) {
        mh_curl_global_init_once(NULL, 0);
    }
    /* A command without a check function is the runner: many checks
     * through the registry, its own output. */
    int code = def->check != NULL ? run_one_check(def, &cfg) : mh_cmd_run(&cfg);
    mh_config_free(&cfg);
    mh_resolve_global_cleanup();
    return code >= 0 && code <= 3 ? code : 3;
}
