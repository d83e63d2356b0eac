/* SPDX-License-Identifier: MIT */
/*
 * cmd_run: the runner, `check_mailhealth run --config FILE [--textfile PATH]
 * [--once | --interval SECONDS]` (configuration format in runner.h,
 * notification rules in notify.h).
 *
 * Threads:
 *   - the main thread schedules rounds, waits for signals (signalfd: SIGHUP,
 *     SIGTERM and SIGINT are blocked in every thread and read here, so no
 *     work is done in a signal handler), writes the textfile and computes
 *     the notifications;
 *   - each round (run_round.h) runs the smtp and tls checks (by name
 *     after a lookup on the loop's c-ares channel) and the dnsbl checks
 *     (their queries on the loop's shared DNSBL channel and window) on two
 *     event loop threads per core (run_loop.h: thousands of checks in
 *     flight, each a machine stepped on readiness and its own deadline;
 *     configuration key "engine": "loop", the default), and the other
 *     checks (domain, delivery, mta-sts, smtp/tls with DANE; every check
 *     with "engine": "threads") on a pool of
 *     min(concurrency, those checks) worker threads (run_pool.c);
 *     concurrency is the config's, or planned from the checks, the
 *     interval and the machine (run_capacity.h); each check runs with its
 *     own deadline (its timeout), so a hanging server never stops the
 *     round;
 *   - the notifier thread (notify_send.c) POSTs notifications with
 *     retries, so the checks never wait for the network of a webhook.
 *   - with --listen, the exporter (exporter.h) serves HTTP on its own
 *     threads; after each round the main thread hands it the round's
 *     results, and it holds a reference to the configuration it probes
 *     with.
 *
 * Spread: each check starts at its own stable offset within the round
 * (run_round.h: mh_round_offset), over the interval less the check's
 * timeout and a tenth of the interval, or over spread_s when set; with
 * --once over min(interval / 10, 1 s) unless spread_s is set. A SIGHUP
 * in the middle of a spread round is applied when the round ends; a
 * SIGTERM skips the checks that have not started yet.
 *
 * Rounds: fixed rate (a round starts every interval; one that took longer
 * than the interval is followed at once by the next, logged). After each
 * round the textfile is rewritten atomically (render.h) with every check's
 * families, mailhealth_last_run_timestamp_seconds, mailhealth_build_info
 * and mailhealth_runner_round_duration_seconds.
 *
 * Watchdog: a check, on the pool or on a loop, still running long after
 * its deadline is abandoned, and a loop stuck in one pass is left to
 * itself with its checks reported UNKNOWN (run_round.h:
 * mh_pool_watchdog); at exit, stuck threads are not waited for (_exit).
 *
 * Signals: SIGHUP reloads the configuration between rounds (an invalid new
 * configuration is logged and the old one kept; the notification memory is
 * kept for checks whose target and check are unchanged). SIGTERM/SIGINT
 * stop: no new check starts, running checks end within their deadlines,
 * the textfile is not touched (the last complete one stays; temporary
 * files only exist inside mh_write_textfile(), which the main thread never
 * leaves half way), queued notifications get up to 5 s, exit 0 (3 with
 * --once, whose round did not finish). A second SIGTERM/SIGINT exits at
 * once.
 *
 * Probe-only: a configuration with exporter modules and no checks runs no
 * rounds; the exporter serves /probe (and /metrics with its own families
 * only). It needs the exporter (--listen or exporter.listen, not --once);
 * a reload may add checks (the first round starts at once) or remove
 * them all (/metrics forgets the last round).
 *
 * Exit codes: --once: 0 after writing the textfile, 3 on an invalid
 * configuration or when the textfile cannot be written. Looping: 3 on an
 * invalid configuration at start, else 0 when stopped by a signal.
 * With --once, --output json or prometheus also prints the round's results
 * to stdout (json: {"results": [...]}); the default prints nothing, so a
 * cron job mails only problems of the runner itself (stderr).
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../probes/curl_loader.h"
#include "../probes/deadline.h"
#include "../probes/dnsbl_memory.h"
#include "../probes/tls_shared.h"
#include "checks.h"
#include "commands.h"
#include "common.h"
#include "exporter.h"
#include "notify.h"
#include "render.h"
#include "run_capacity.h"
#include "run_round.h"
#include "runner.h"

/* Longest start offset of a check within a --once round (spread_s not
 * set). */
#define ONCE_SPREAD_MAX_S 1.0
/* Queued notifications get this long at shutdown. */
#define NOTIFY_DRAIN_S 5.0

/* The exporter keeps the configuration it probes with through these. */
static void
exporter_hold(void *owner)
{
    mh_shared_cfg_ref(owner);
}

static void
exporter_drop(void *owner)
{
    mh_shared_cfg_unref(owner);
}

static const struct mh_exporter_hooks exporter_hooks = {exporter_hold,
                                                        exporter_drop};

/* ---- the runner ---------------------------------------------------------- */

struct runner {
    const struct mh_config *cli;
    struct mh_shared_cfg *cfg;
    const char *textfile; /* effective: --textfile or the config's */
    double interval_s;    /* effective: --interval or the config's */
    double spread_s;      /* effective: spread_s or its default */
    unsigned concurrency; /* worker threads: the config's or planned */
    /* The event loops (run_loop.h): which checks they run (per check of
     * the current configuration, owned), how many loops, how many
     * checks in flight on them together. */
    unsigned char *on_loop; /* enum mh_loop_fit */
    size_t nloop_checks;
    unsigned nloops, loop_in_flight;
    unsigned long long seed;
    int sfd; /* signalfd */
    int efd; /* eventfd for "round done" */
    bool stop;
    bool reload_pending;
    bool once;
    struct mh_notify_tracker *tracker;
    struct mh_notifier *notifier;
    struct mh_strset warned; /* duplicate child targets already logged */
    size_t detached;         /* workers left in abandoned checks */
    unsigned long rounds;
    /* The MTA-STS policies seen, for the runner's lifetime (handed to
     * every check: a policy edited without a new id warns). */
    struct mh_sts_memory *sts_memory;
    /* The DNSBL zones' health, back-off and query budgets, shared by
     * every dnsbl and domain check (probes/dnsbl_memory.h); a new round
     * makes every zone's budget whole. */
    struct mh_dnsbl_memory *dnsbl_memory;
    /* The HTTP exporter (--listen or exporter.listen), or NULL. */
    struct mh_exporter *exporter;
    const char *listen;
    char plan_text[640]; /* the engines' plan, for the log */
};

/* Gives every check of c the runner's memory of MTA-STS policies. */
static void
share_sts_memory(struct runner *rn, struct mh_run_config *c)
{
    for (size_t i = 0; i < c->nchecks; i++) {
        c->checks[i].cfg.sts_memory = rn->sts_memory;
        c->checks[i].cfg.dnsbl_memory = rn->dnsbl_memory;
    }
}

static double
unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads pending signals: TERM/INT request a stop (a second one exits at
 * once), HUP a reload. */
static void
read_signals(struct runner *rn, struct round *r)
{
    struct signalfd_siginfo si;
    while (read(rn->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            mh_runlog(MH_LOG_INFO, "SIGHUP: reloading the configuration%s",
                      r != NULL ? " after this round" : "");
            rn->reload_pending = true;
            continue;
        }
        const char *name = si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
        if (rn->stop) {
            mh_runlog(MH_LOG_WARNING, "%s again: exiting at once", name);
            fflush(stderr);
            _exit(rn->once ? 3 : 0);
        }
        rn->stop = true;
        if (r != NULL) {
            mh_runlog(MH_LOG_INFO,
                      "%s: stopping; waiting for the running checks (at "
                      "most their timeout)",
                      name);
            mh_round_stop(r); /* checks not started yet are skipped */
        } else {
            mh_runlog(MH_LOG_INFO, "%s: stopping", name);
        }
    }
}

static bool
stop_requested(void *arg)
{
    struct runner *rn = arg;
    read_signals(rn, NULL);
    return rn->stop;
}

/*
 * Runs every check of the current configuration once (run_round.h).
 * Returns the results in configuration order (*out, n entries, some NULL
 * when stopped) and the round's wall time; -1 when the round could not
 * start at all.
 */
static int
run_round(struct runner *rn, struct mh_result ***out, double *seconds)
{
    /* Drain a stale "done" of an earlier round. */
    uint64_t junk;
    while (read(rn->efd, &junk, sizeof junk) == (ssize_t)sizeof junk) {
    }
    struct mh_round_opts o = {
        .cfg = rn->cfg,
        .on_loop = rn->on_loop,
        .concurrency = rn->concurrency,
        .nloops = rn->nloops,
        .loop_in_flight = rn->loop_in_flight,
        .interval_s = rn->interval_s,
        .spread_s = rn->spread_s,
        .seed = rn->seed,
        .efd = rn->efd,
        /* only --once --output json prints the items and perfdata */
        .keep_details = rn->once && rn->cli->output == MH_OUT_JSON,
    };
    struct round *r = mh_round_start(&o);
    if (r == NULL) {
        return -1;
    }
    double start = r->start;
    if (r->one_by_one) {
        mh_round_one_by_one(r, stop_requested, rn);
    }
    /* Wait for the round, reading signals; the watchdog runs every s. */
    while (!mh_round_done(r)) {
        struct pollfd pf[2] = {{.fd = rn->sfd, .events = POLLIN},
                               {.fd = rn->efd, .events = POLLIN}};
        int pr = poll(pf, 2, 1000);
        if (pr > 0 && (pf[0].revents & POLLIN) != 0) {
            read_signals(rn, r);
        }
        if (pr > 0 && (pf[1].revents & POLLIN) != 0) {
            while (read(rn->efd, &junk, sizeof junk) == (ssize_t)sizeof junk) {
            }
        }
        mh_pool_watchdog(r);
    }
    *seconds = mh_monotonic_s() - start;
    *out = mh_round_end(r, &rn->detached);
    return *out != NULL ? 0 : -1;
}

/* Removes child results whose target is already used by another result
 * (two domain checks sharing an MX host): their series would be
 * duplicates, which node_exporter rejects. The first one stays. */
static void
dedupe_children(struct runner *rn, struct mh_result *r, struct mh_strset *seen)
{
    size_t w = 0;
    for (size_t i = 0; i < r->nchildren; i++) {
        struct mh_result *ch = r->children[i];
        int added = ch->target != NULL ? mh_strset_add(seen, ch->target) : 1;
        if (added == 0) {
            if (mh_strset_add(&rn->warned, ch->target) == 1) {
                mh_runlog(MH_LOG_INFO,
                          "%s: result for %s is also reported by another "
                          "check; its metrics are written once",
                          r->target, ch->target);
            }
            mh_result_free(ch);
            continue;
        }
        dedupe_children(rn, ch, seen);
        r->children[w++] = ch;
    }
    r->nchildren = w;
}

static void
log_change(const struct mh_alert *a)
{
    if (a->firing) {
        char prev[32] = "";
        if (a->prev_state >= 0) {
            snprintf(prev, sizeof prev, "%s -> ",
                     mh_state_name((enum mh_state)a->prev_state));
        }
        mh_runlog(MH_LOG_WARNING, "%s (%s): %s%s%s%s%s %s", a->target, a->check,
                  prev, mh_state_name(a->state),
                  a->category[0] != '\0' ? " [" : "", a->category,
                  a->category[0] != '\0' ? "]" : "", a->summary);
    } else if (!a->replaced) {
        const char *gone = "check removed from the configuration";
        bool removed = strcmp(a->summary, gone) == 0;
        mh_runlog(MH_LOG_INFO, "%s (%s): %s -> %s%s", a->target, a->check,
                  mh_state_name(a->state),
                  mh_state_name((enum mh_state)a->prev_state),
                  removed ? ": check removed from the configuration" : "");
    }
}

/* Alertmanager's API URL from the configured base URL. */
static void
am_api_url(const char *base, char *buf, size_t len)
{
    static const char api[] = "/api/v2/alerts";
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/') {
        n--;
    }
    if (n >= sizeof api - 1 &&
        strncmp(base + n - (sizeof api - 1), api, sizeof api - 1) == 0) {
        snprintf(buf, len, "%.*s", (int)n, base);
    } else {
        snprintf(buf, len, "%.*s%s", (int)n, base, api);
    }
}

static void
notify_round(struct runner *rn, struct mh_result **res, size_t n, double now)
{
    const struct mh_run_config *c = rn->cfg->c;
    struct mh_alert_batch b;
    if (mh_notify_update(rn->tracker, (const struct mh_result *const *)res, n,
                         now, &b) != 0) {
        mh_runlog(MH_LOG_ERR, "notify: out of memory; state changes of this "
                              "round may be lost");
    }
    for (size_t i = 0; i < b.nchanges; i++) {
        log_change(&b.changes[i]);
    }
    if (rn->notifier != NULL && c->notify.alertmanager_url != NULL) {
        double ttl = 4 * rn->interval_s > 120 ? 4 * rn->interval_s : 120;
        char *body = mh_notify_alertmanager_body(&b, now, ttl);
        if (body != NULL) {
            char url[2048];
            am_api_url(c->notify.alertmanager_url, url, sizeof url);
            size_t nres = 0;
            for (size_t i = 0; i < b.nchanges; i++) {
                nres += !b.changes[i].firing;
            }
            /* Without resolutions the body is a re-send of the active
             * alerts, which the next round's body repeats. */
            mh_notifier_post(rn->notifier, "alertmanager", url, body, NULL,
                             c->notify.timeout_s, b.nchanges, nres == 0);
        }
    }
    if (rn->notifier != NULL && c->notify.webhook_url != NULL) {
        char *body = mh_notify_webhook_body(&b);
        if (body != NULL) {
            mh_notifier_post(rn->notifier, "webhook", c->notify.webhook_url,
                             body, c->token, c->notify.timeout_s, b.nchanges,
                             false);
        }
    }
    mh_alert_batch_free(&b);
}

/* Prints the round on stdout for --once --output json|prometheus; takes
 * over the results. */
static int
print_once(struct runner *rn, struct mh_result **res, size_t n, double now,
           double secs)
{
    int rc = 0;
    if (rn->cli->output == MH_OUT_PROMETHEUS) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (res[i] != NULL) {
                res[k++] = res[i];
            }
        }
        rc = mh_render_prometheus(stdout, (const struct mh_result *const *)res,
                                  k, now, secs);
        for (size_t i = 0; i < k; i++) {
            mh_result_free(res[i]);
        }
        return rc;
    }
    struct mh_result *p = mh_result_new("run", rn->cli->config_path);
    size_t count[4] = {0};
    enum mh_state worst = MH_STATE_OK;
    const struct mh_result *wr = NULL;
    for (size_t i = 0; i < n; i++) {
        if (res[i] == NULL) {
            continue;
        }
        count[res[i]->state]++;
        if (mh_state_rank(res[i]->state) > mh_state_rank(worst)) {
            worst = res[i]->state;
            wr = res[i];
        }
    }
    if (p == NULL) {
        for (size_t i = 0; i < n; i++) {
            mh_result_free(res[i]);
        }
        return -1;
    }
    if (wr != NULL) {
        mh_result_raise(p, worst, wr->reason, "%s: %s", wr->target,
                        wr->summary != NULL ? wr->summary : "");
    }
    mh_result_set_summary(p,
                          "%zu checks: %zu OK, %zu WARNING, %zu CRITICAL, "
                          "%zu UNKNOWN",
                          count[0] + count[1] + count[2] + count[3], count[0],
                          count[1], count[2], count[3]);
    p->duration_s = secs;
    for (size_t i = 0; i < n; i++) {
        if (res[i] != NULL) {
            mh_result_add_child(p, res[i]);
        }
    }
    mh_result_finish(p);
    if (rn->cli->output == MH_OUT_JSON) {
        rc = mh_render_json(stdout, p);
    }
    mh_result_free(p);
    return rc;
}

/* Which checks the event loops take (engine "loop": the smtp and tls
 * checks without DANE, by name after a lookup on the loop; every dnsbl
 * check, its queries on the loop's shared channel), and the
 * concurrency of both engines: the worker
 * threads planned for the other checks, the loops' checks in flight
 * (run_capacity.h). */
static void
plan_engines(struct runner *rn, const struct mh_run_config *c)
{
    free(rn->on_loop);
    rn->on_loop = calloc(c->nchecks > 0 ? c->nchecks : 1, sizeof *rn->on_loop);
    rn->nloop_checks = 0;
    for (size_t i = 0; rn->on_loop != NULL && i < c->nchecks; i++) {
        rn->on_loop[i] =
            c->engine == MH_RUN_ENGINE_LOOP
                ? (unsigned char)mh_round_fits_loop(&c->checks[i].cfg)
                : MH_LOOP_NO;
        rn->nloop_checks += rn->on_loop[i] != MH_LOOP_NO;
    }
    /* The worker threads run the other checks. */
    bool *pool = calloc(c->nchecks > 0 ? c->nchecks : 1, sizeof *pool);
    for (size_t i = 0; pool != NULL && i < c->nchecks; i++) {
        pool[i] = rn->on_loop == NULL || rn->on_loop[i] == MH_LOOP_NO;
    }
    size_t npool = 0;
    for (size_t i = 0; i < c->nchecks; i++) {
        npool += pool == NULL || pool[i];
    }
    struct mh_cap_plan plan;
    mh_cap_plan_config(c, rn->interval_s, pool, &plan);
    free(pool);
    rn->concurrency = plan.concurrency;
    /* Two loops per CPU: a loop busy with a burst of handshakes does not
     * hold up half the checks, and on cores shared with other work the
     * loops keep their share (bench_latency.sh, 10,000 checks on 2
     * shared cores: 19.8 s with 4 loops, 25.3 s with 2). */
    rn->nloops = 2 * plan.cpus;
    rn->loop_in_flight = mh_cap_loop_in_flight(&plan, rn->nloop_checks);
    char why[512];
    mh_cap_describe(&plan, why, sizeof why);
    if (plan.bound == MH_CAP_CONFIGURED && plan.concurrency > plan.fds) {
        mh_runlog(MH_LOG_WARNING,
                  "concurrency %u is above the %llu checks in flight the "
                  "descriptor limit allows: checks may fail to connect",
                  plan.concurrency, plan.fds);
    }

    /* The last check of the first wave ends at its offset + timeout. */
    double last_end = 0;
    for (size_t i = 0; i < c->nchecks; i++) {
        const struct mh_run_check *chk = &c->checks[i];
        double end =
            mh_round_offset(chk, rn->seed, rn->interval_s, rn->spread_s) +
            chk->cfg.timeout_s;
        last_end = end > last_end ? end : last_end;
    }
    double waves = ceil((double)npool / (double)rn->concurrency);
    double worst = (waves - 1) * c->max_timeout_s + last_end;
    if (!rn->once && worst > rn->interval_s) {
        mh_runlog(MH_LOG_WARNING,
                  "%zu checks on threads with concurrency %u and timeouts up "
                  "to %g s: a round in which every check times out takes up "
                  "to %.1f s, longer than the %g s interval (%s)",
                  npool, rn->concurrency, c->max_timeout_s, worst,
                  rn->interval_s,
                  waves <= 1 ? "lower the timeouts or raise the interval"
                  : plan.bound == MH_CAP_CONFIGURED
                      ? "raise concurrency"
                      : "concurrency is bounded by the machine: lower the "
                        "timeouts, raise the interval or split the checks");
    }
    snprintf(rn->plan_text, sizeof rn->plan_text,
             "%s; event loops: %zu check%s on %u loop%s, up to %u in flight",
             npool > 0 ? why : "- (no check on worker threads)",
             rn->nloop_checks, rn->nloop_checks == 1 ? "" : "s", rn->nloops,
             rn->nloops == 1 ? "" : "s", rn->loop_in_flight);
}

/* The latest start offset of the configuration's checks (seconds). */
static double
max_offset(const struct runner *rn, const struct mh_run_config *c)
{
    double m = 0;
    for (size_t i = 0; i < c->nchecks; i++) {
        double o = mh_round_offset(&c->checks[i], rn->seed, rn->interval_s,
                                   rn->spread_s);
        m = o > m ? o : m;
    }
    return m;
}

/* Applies the effective settings of a (new) configuration. */
static void
apply_settings(struct runner *rn)
{
    const struct mh_run_config *c = rn->cfg->c;
    rn->textfile = rn->cli->textfile != NULL ? rn->cli->textfile : c->textfile;
    rn->interval_s =
        rn->cli->interval_s > 0 ? rn->cli->interval_s : c->interval_s;
    rn->spread_s = c->spread_s >= 0 ? c->spread_s
                   : !rn->once      ? rn->interval_s
                   : rn->interval_s / 10 < ONCE_SPREAD_MAX_S
                       ? rn->interval_s / 10
                       : ONCE_SPREAD_MAX_S;
    if (rn->textfile != NULL) {
        size_t l = strlen(rn->textfile);
        if (l < 5 || strcmp(rn->textfile + l - 5, ".prom") != 0) {
            mh_runlog(MH_LOG_WARNING,
                      "textfile %s does not end in .prom: node_exporter's "
                      "textfile collector will not read it",
                      rn->textfile);
        }
    }
    plan_engines(rn, c);
    if (rn->notifier == NULL &&
        (c->notify.alertmanager_url != NULL || c->notify.webhook_url != NULL)) {
        char err[256];
        rn->notifier = mh_notifier_start(err, sizeof err);
        if (rn->notifier == NULL) {
            mh_runlog(MH_LOG_ERR, "notifications disabled: %s", err);
        }
    }
    char am[512] = "-", wh[512] = "-";
    if (c->notify.alertmanager_url != NULL) {
        mh_url_redact(c->notify.alertmanager_url, am, sizeof am);
    }
    if (c->notify.webhook_url != NULL) {
        mh_url_redact(c->notify.webhook_url, wh, sizeof wh);
    }
    if (c->nchecks == 0) {
        mh_runlog(MH_LOG_INFO,
                  "configuration %s: probe-only (no checks, no rounds): "
                  "/probe with %zu module%s; notify alertmanager %s, "
                  "webhook %s",
                  c->source, c->exporter.nmodules,
                  c->exporter.nmodules == 1 ? "" : "s", am, wh);
        if (rn->textfile != NULL) {
            mh_runlog(MH_LOG_WARNING,
                      "textfile %s is not written: a configuration without "
                      "checks runs no rounds",
                      rn->textfile);
        }
        return;
    }
    mh_runlog(MH_LOG_INFO,
              "configuration %s: %zu check%s, %s%g s, concurrency %s, "
              "starts spread over %.2f s, textfile %s; notify alertmanager %s, "
              "webhook %s%s",
              c->source, c->nchecks, c->nchecks == 1 ? "" : "s",
              rn->once ? "once, interval " : "every ", rn->interval_s,
              rn->plan_text, max_offset(rn, c),
              rn->textfile != NULL ? rn->textfile : "(none)", am, wh,
              c->token != NULL ? " (with token)" : "");
    for (size_t i = 0; i < c->nchecks; i++) {
        const struct mh_run_check *chk = &c->checks[i];
        mh_runlog(MH_LOG_DEBUG, "%s (%s): starts %.3f s into each round",
                  chk->target, mh_command_name(chk->cfg.command),
                  mh_round_offset(chk, rn->seed, rn->interval_s, rn->spread_s));
    }
}

static void
reload(struct runner *rn)
{
    rn->reload_pending = false;
    /* The checks' shared TLS contexts read their trust stores again, so a
     * renewed CA file takes effect with the reload. */
    mh_tls_shared_reload();
    struct mh_run_config *nc = NULL;
    char err[1024];
    if (mh_run_config_load(rn->cli->config_path, rn->cli, &nc, err,
                           sizeof err) != 0) {
        mh_runlog(MH_LOG_ERR,
                  "reload failed, keeping the current configuration: %s", err);
        return;
    }
    if (rn->cli->textfile == NULL && nc->textfile == NULL &&
        rn->exporter == NULL) {
        mh_runlog(MH_LOG_ERR,
                  "reload failed, keeping the current configuration: %s: "
                  "missing required key \"textfile\"",
                  rn->cli->config_path);
        mh_run_config_free(nc);
        return;
    }
    if (nc->nchecks == 0 && rn->exporter == NULL) {
        mh_runlog(MH_LOG_ERR,
                  "reload failed, keeping the current configuration: %s: "
                  "key \"checks\": no checks, and no exporter runs to "
                  "serve /probe (a probe-only configuration needs --listen "
                  "or exporter.listen at start)",
                  rn->cli->config_path);
        mh_run_config_free(nc);
        return;
    }
    share_sts_memory(rn, nc);
    struct mh_shared_cfg *s = mh_shared_cfg_new(nc);
    if (s == NULL) {
        mh_runlog(MH_LOG_ERR, "reload failed: out of memory");
        mh_run_config_free(nc);
        return;
    }
    mh_shared_cfg_unref(rn->cfg);
    rn->cfg = s;
    if (rn->exporter != NULL) {
        mh_exporter_set_config(rn->exporter, nc, s);
        if (nc->nchecks == 0) {
            /* Probe-only now: no round to show any more. */
            mh_exporter_forget_round(rn->exporter);
        }
    }
    mh_runlog(MH_LOG_INFO, "configuration reloaded");
    apply_settings(rn);
}

/* Waits until the monotonic time `until`, handling signals (a reload is
 * done at once while idle). Returns when it is time or on stop. */
static void
idle_until(struct runner *rn, double until)
{
    while (!rn->stop) {
        if (rn->reload_pending) {
            size_t before = rn->cfg->c->nchecks;
            reload(rn);
            if (before == 0 && rn->cfg->c->nchecks > 0) {
                return; /* probe-only until now: the first round at once */
            }
        }
        double left = until - mh_monotonic_s();
        if (left <= 0) {
            return;
        }
        struct pollfd pf = {.fd = rn->sfd, .events = POLLIN};
        int ms = left > 1000 ? 1000000 : (int)ceil(left * 1000);
        if (poll(&pf, 1, ms) > 0) {
            read_signals(rn, NULL);
        }
    }
}

/* Undoes a start that failed after the configuration was loaded;
 * returns the exit code 3. */
static int
start_failed(struct runner *rn)
{
    mh_notifier_stop(rn->notifier, 0);
    mh_shared_cfg_unref(rn->cfg);
    mh_notify_tracker_free(rn->tracker);
    mh_sts_memory_free(rn->sts_memory);
    mh_dnsbl_memory_free(rn->dnsbl_memory);
    free(rn->on_loop);
    close(rn->sfd);
    close(rn->efd);
    return 3;
}

/* Step 1: the signals the main loop reads, blocked before any thread
 * exists (every thread inherits the mask and signalfd sees them all), the
 * signalfd and the eventfd. Returns 0 or -1 (logged). */
static int
runner_signals(struct runner *rn)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        mh_runlog(MH_LOG_ERR, "cannot block signals");
        return -1;
    }
    rn->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    rn->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rn->sfd < 0 || rn->efd < 0) {
        mh_runlog(MH_LOG_ERR, "signalfd/eventfd: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Step 2: the configuration, checked for what the runner needs (checks or
 * an exporter; a textfile, stdout or an exporter). Returns it or NULL
 * (logged). */
static struct mh_run_config *
runner_config(struct runner *rn, bool to_stdout)
{
    const struct mh_config *cli = rn->cli;
    struct mh_run_config *c = NULL;
    char err[1024];
    if (mh_run_config_load(cli->config_path, cli, &c, err, sizeof err) != 0) {
        mh_runlog(MH_LOG_ERR, "invalid configuration: %s", err);
        return NULL;
    }
    rn->listen = cli->once             ? NULL
                 : cli->listen != NULL ? cli->listen
                                       : c->exporter.listen;
    if (c->nchecks == 0 && rn->listen == NULL) {
        mh_runlog(MH_LOG_ERR,
                  "invalid configuration: %s: key \"checks\": no checks to "
                  "run; a probe-only configuration (exporter modules, no "
                  "checks) needs the exporter: --listen ADDR:PORT or "
                  "\"exporter\": {\"listen\": ...}, without --once",
                  cli->config_path);
        mh_run_config_free(c);
        return NULL;
    }
    if (cli->textfile == NULL && c->textfile == NULL && !to_stdout &&
        rn->listen == NULL) {
        mh_runlog(MH_LOG_ERR,
                  "invalid configuration: %s: missing required key "
                  "\"textfile\" (or --textfile PATH, or --listen ADDR:PORT)",
                  cli->config_path);
        mh_run_config_free(c);
        return NULL;
    }
    return c;
}

/* Step 3: the runner's memories, the shared configuration (takes c), the
 * settings and the exporter. Returns 0, or the exit code 3 (logged,
 * undone). */
static int
runner_start(struct runner *rn, struct mh_run_config *c)
{
    const struct mh_config *cli = rn->cli;
    rn->sts_memory = mh_sts_memory_new();
    /* a round's length: --interval, else the config's */
    rn->dnsbl_memory =
        mh_dnsbl_memory_new(cli->interval_s > 0 ? cli->interval_s
                            : c->interval_s > 0 ? c->interval_s
                                                : MH_RUN_DEFAULT_INTERVAL_S);
    share_sts_memory(rn, c);
    rn->cfg = mh_shared_cfg_new(c);
    rn->tracker = mh_notify_tracker_new();
    if (rn->cfg == NULL || rn->tracker == NULL || rn->sts_memory == NULL ||
        rn->dnsbl_memory == NULL) {
        mh_runlog(MH_LOG_ERR, "out of memory");
        if (rn->cfg == NULL) {
            mh_run_config_free(c);
        }
        return start_failed(rn);
    }
    /* The offsets' seed: the host's name, so a check keeps its phase
     * across restarts while runners on other hosts with the same checks
     * start them at other moments. */
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) {
        host[0] = '\0';
    }
    rn->seed = mh_run_hash(host);
    mh_curl_global_init_once(NULL, 0);
    apply_settings(rn);
    if (rn->listen != NULL) {
        char err[1024];
        rn->exporter = mh_exporter_start(rn->listen, c, rn->cfg,
                                         &exporter_hooks, err, sizeof err);
        if (rn->exporter == NULL) {
            mh_runlog(MH_LOG_ERR, "exporter: %s", err);
            return start_failed(rn);
        }
    }
    return 0;
}

/* Counts the round's states, drops duplicate children and logs each
 * result (-v). */
static void
round_tally(struct runner *rn, struct mh_result **res, size_t n,
            size_t count[4])
{
    struct mh_strset seen = {0};
    for (size_t i = 0; i < n; i++) {
        if (res[i] != NULL && res[i]->target != NULL) {
            mh_strset_add(&seen, res[i]->target);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (res[i] == NULL) {
            continue;
        }
        dedupe_children(rn, res[i], &seen);
        count[res[i]->state]++;
        mh_runlog(MH_LOG_DEBUG, "%s (%s): %s in %.3f s: %s", res[i]->target,
                  res[i]->check, mh_state_name(res[i]->state),
                  res[i]->duration_s,
                  res[i]->summary != NULL ? res[i]->summary : "");
    }
    mh_strset_free(&seen);
}

/* Writes the textfile and hands the exporter the results that exist (NULL
 * only on out of memory). Returns "" or the log's note that the textfile
 * was not written (*code 3 with --once). */
static const char *
round_publish(struct runner *rn, struct mh_result **res, size_t n, double now,
              double secs, int *code)
{
    struct mh_result **live = calloc(n > 0 ? n : 1, sizeof *live);
    size_t k = 0;
    const char *wrote = "";
    char werr[1024] = "";
    for (size_t i = 0; live != NULL && i < n; i++) {
        if (res[i] != NULL) {
            live[k++] = res[i];
        }
    }
    if (rn->textfile != NULL &&
        (live == NULL ||
         mh_write_textfile(rn->textfile, (const struct mh_result *const *)live,
                           k, now, secs, werr, sizeof werr) != 0)) {
        mh_runlog(MH_LOG_ERR, "round %lu: textfile not written: %s", rn->rounds,
                  live == NULL ? "out of memory" : werr);
        wrote = "; textfile NOT written";
        if (rn->once) {
            *code = 3;
        }
    }
    if (rn->exporter != NULL &&
        (live == NULL ||
         mh_exporter_publish(rn->exporter,
                             (const struct mh_result *const *)live, k, now,
                             secs) != 0)) {
        mh_runlog(MH_LOG_ERR,
                  "round %lu: out of memory; /metrics keeps the round before",
                  rn->rounds);
    }
    free(live);
    return wrote;
}

/* Step 4, each round: runs it and reports it (textfile, exporter, log,
 * notifications, stdout). Returns false when the runner must end (*code
 * set). */
static bool
round_once(struct runner *rn, bool to_stdout, int *code)
{
    struct mh_result **res = NULL;
    double secs = 0;
    size_t n = rn->cfg->c->nchecks;
    rn->rounds++;
    mh_dnsbl_memory_round(rn->dnsbl_memory);
    if (run_round(rn, &res, &secs) != 0) {
        mh_runlog(MH_LOG_ERR, "round %lu: out of memory", rn->rounds);
        *code = rn->once ? 3 : 0;
        return !rn->once;
    }
    if (rn->stop) {
        mh_runlog(MH_LOG_INFO,
                  "round %lu interrupted; the textfile keeps the last "
                  "complete round",
                  rn->rounds);
        for (size_t i = 0; i < n; i++) {
            mh_result_free(res[i]);
        }
        free(res);
        *code = rn->once ? 3 : 0;
        return false;
    }
    double now = unix_now();
    size_t count[4] = {0};
    round_tally(rn, res, n, count);
    const char *wrote = round_publish(rn, res, n, now, secs, code);
    mh_runlog(MH_LOG_INFO,
              "round %lu: %zu check%s in %.2f s: %zu OK, %zu WARNING, "
              "%zu CRITICAL, %zu UNKNOWN%s",
              rn->rounds, n, n == 1 ? "" : "s", secs, count[0], count[1],
              count[2], count[3], wrote);
    notify_round(rn, res, n, now);
    if (to_stdout) {
        if (print_once(rn, res, n, now, secs) != 0) {
            *code = 3;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            mh_result_free(res[i]);
        }
    }
    free(res);
    return !rn->once;
}

/* Step 5: stops the exporter and the notifier, frees the runner. */
static int
runner_exit(struct runner *rn, int code)
{
    rn->detached += mh_exporter_stop(rn->exporter);
    mh_notifier_stop(rn->notifier, NOTIFY_DRAIN_S);
    mh_runlog(MH_LOG_INFO, "stopped after %lu round%s", rn->rounds,
              rn->rounds == 1 ? "" : "s");
    if (rn->detached > 0) {
        /* Threads stuck in abandoned checks may still use OpenSSL or the
         * configuration: no cleanup under their feet. */
        fflush(stdout);
        fflush(stderr);
        _exit(code);
    }
    mh_notify_tracker_free(rn->tracker);
    mh_strset_free(&rn->warned);
    mh_shared_cfg_unref(rn->cfg);
    free(rn->on_loop);
    mh_sts_memory_free(rn->sts_memory);
    mh_dnsbl_memory_free(rn->dnsbl_memory);
    curl_global_cleanup();
    close(rn->sfd);
    close(rn->efd);
    return code;
}

int
mh_cmd_run(const struct mh_config *cli)
{
    mh_runlog_set_verbose(cli->verbose);
    /* One TLS client context and trust store for all checks, instead of
     * one per TLS check (tls_shared.h). */
    mh_tls_shared_enable();
    struct runner rn;
    memset(&rn, 0, sizeof rn);
    rn.cli = cli;
    rn.once = cli->once;
    rn.sfd = rn.efd = -1;
    if (runner_signals(&rn) != 0) {
        return 3;
    }
    bool to_stdout = cli->once && cli->output != MH_OUT_NAGIOS;
    struct mh_run_config *c = runner_config(&rn, to_stdout);
    if (c == NULL) {
        close(rn.sfd);
        close(rn.efd);
        return 3;
    }
    if (runner_start(&rn, c) != 0) {
        return 3;
    }
    int code = 0;
    double next = mh_monotonic_s();
    for (;;) {
        idle_until(&rn, next);
        if (rn.stop) {
            code = rn.once ? 3 : 0;
            break;
        }
        if (rn.cfg->c->nchecks == 0) {
            /* Probe-only: no rounds; the exporter's threads serve /probe.
             * Signals (a reload that brings checks) end the wait. */
            next = mh_monotonic_s() + rn.interval_s;
            continue;
        }
        double round_start = mh_monotonic_s();
        if (!round_once(&rn, to_stdout, &code)) {
            break;
        }
        if (rn.reload_pending) {
            reload(&rn);
        }
        next = round_start + rn.interval_s;
        double now = mh_monotonic_s();
        if (next < now) {
            mh_runlog(MH_LOG_WARNING,
                      "round %lu took %.1f s, longer than the %.0f s "
                      "interval; starting the next one now",
                      rn.rounds, now - round_start, rn.interval_s);
            next = now;
        }
    }
    return runner_exit(&rn, code);
}
