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
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "../probes/resolve.h"
#include "cli.h"
#include "commands.h"
#include "render.h"

#if defined(__SANITIZE_ADDRESS__)
#define MH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MH_SANITIZED 1
#endif
#endif

/* A crash must still end as UNKNOWN (exit 3), never as 128+signal, which
 * Nagios shows as "out of bounds" CRITICAL or worse (BR-28). Only
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

int
main(int argc, char **argv)
{
    struct mh_config cfg;
    memset(&cfg, 0, sizeof cfg);
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
        printf("MAILHEALTH UNKNOWN - usage: %s\n"
               "Try 'check_mailhealth%s%s --help'.\n",
               err, cfg.command != MH_CMD_NONE ? " " : "",
               mh_command_name(cfg.command));
        mh_config_free(&cfg);
        return 3;
    }
    if (mh_resolve_global_init() != 0) {
        printf("MAILHEALTH UNKNOWN - cannot initialise c-ares\n");
        mh_config_free(&cfg);
        return 3;
    }
    /* libcurl is loaded (curl_loader.c) and initialised only by the
     * commands that use it, once, before the runner starts threads. */
    if (cfg.command == MH_CMD_DELIVERY || cfg.command == MH_CMD_RUN) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
    }

    if (cfg.command == MH_CMD_RUN) {
        int code = mh_cmd_run(&cfg);
        mh_config_free(&cfg);
        mh_resolve_global_cleanup();
        return code >= 0 && code <= 3 ? code : 3;
    }

    struct mh_deadline dl;
    mh_deadline_start(&dl, cfg.timeout_s);
    struct mh_result *r = mh_cmd_dispatch(&cfg, &dl);
    if (r == NULL) {
        printf("MAILHEALTH UNKNOWN - out of memory\n");
        mh_config_free(&cfg);
        return 3;
    }
    mh_result_finish(r);

    /* The textfile first: if it cannot be written, the status line must
     * already say UNKNOWN, as the exit code will. */
    if (cfg.textfile != NULL) {
        const struct mh_result *one[] = {r};
        if (mh_write_textfile(cfg.textfile, one, 1, (double)time(NULL), -1, err,
                              sizeof err) != 0) {
            fprintf(stderr, "check_mailhealth: %s\n", err);
            mh_result_override(r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
                               "%s (the check itself: %s)", err,
                               r->summary != NULL ? r->summary : "");
        }
    }
    int out_rc;
    switch (cfg.output) {
    case MH_OUT_JSON:
        out_rc = mh_render_json(stdout, r);
        break;
    case MH_OUT_PROMETHEUS: {
        const struct mh_result *one[] = {r};
        out_rc = mh_render_prometheus(stdout, one, 1, (double)time(NULL), -1);
        break;
    }
    case MH_OUT_NAGIOS:
    default:
        out_rc = mh_render_nagios(stdout, r);
        break;
    }
    int code = (int)r->state;
    if (out_rc != 0) {
        code = 3;
    }
    mh_result_free(r);
    mh_config_free(&cfg);
    mh_resolve_global_cleanup();
    return code >= 0 && code <= 3 ? code : 3;
}
