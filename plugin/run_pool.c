/* SPDX-License-Identifier: MIT */
/*
 * run_pool: the round's worker pool (run_round.h): the checks the event
 * loops do not take, each on a worker thread (small stacks,
 * probes/threads.h) that blocks in the check's own waits.
 *
 * Workers take the pool's checks from the round's queue (ordered by start
 * offset) and wait for each one's offset; each check runs with its own
 * deadline (its timeout), so a hanging server holds one worker for at
 * most that long and never stops the round.
 *
 * Watchdog (run_round.h: mh_pool_watchdog, which watches the event
 * loops' checks too): a check still running `grace` seconds (max(5 s,
 * timeout / 2)) after its deadline is abandoned: its result becomes
 * UNKNOWN ("did not end within its deadline"), a replacement worker takes
 * its place, and the stuck thread is left to finish on its own (it owns a
 * reference to the round and the configuration, so nothing is freed under
 * it). This only guards against a probe bug: probes honour their
 * deadlines. While the abandoned run is still stuck, later rounds report
 * the check UNKNOWN at once instead of starting it again, so at most one
 * thread per check is ever stuck.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../probes/deadline.h"
#include "../probes/threads.h"
#include "commands.h"
#include "common.h"
#include "exporter.h"
#include "run_loop.h"
#include "run_round.h"

struct worker_arg {
    struct round *r;
    size_t id;
};

struct mh_result *
mh_pool_run_check(const struct mh_run_check *chk)
{
    struct mh_deadline dl;
    mh_deadline_start(&dl, chk->cfg.timeout_s);
    atomic_fetch_add(&mh_checks_in_flight, 1);
    struct mh_result *r = mh_command_check(&chk->cfg, &dl);
    atomic_fetch_sub(&mh_checks_in_flight, 1);
    return mh_round_labelled(chk, r);
}

static void
cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, double mono_until)
{
    /* The condition variable uses CLOCK_MONOTONIC (mh_round_start). */
    struct timespec abs = mh_monotonic_timespec(mono_until);
    pthread_cond_timedwait(cv, mu, &abs);
}

/* Runs job jb's check unless an abandoned run of it is still stuck (one
 * stuck thread per check at most). */
static struct mh_result *
run_job(struct job *jb)
{
    struct mh_run_check *chk = jb->chk;
    struct mh_result *res;
    if (atomic_fetch_add(&chk->running, 1) > 0) {
        res = mh_round_unknown(chk, "the previous run of this check has "
                                    "not ended yet (abandoned)");
    } else {
        res = mh_pool_run_check(chk);
    }
    atomic_fetch_sub(&chk->running, 1);
    return res;
}

static void *
worker_main(void *arg)
{
    struct worker_arg *wa = arg;
    struct round *r = wa->r;
    size_t id = wa->id;
    free(wa);
    pthread_mutex_lock(&r->mu);
    while (!r->stop && r->next < r->npool) {
        size_t j = r->order[r->next++];
        struct job *jb = &r->jobs[j];
        double wake = r->start + jb->offset_s;
        while (!r->stop && mh_monotonic_s() < wake) {
            cond_wait_until(&r->cv, &r->mu, wake);
        }
        if (r->stop) {
            mh_round_job_done_locked(r, jb, NULL); /* skipped */
            break;
        }
        jb->started = mh_monotonic_s();
        r->w[id].cur = (long)j;
        pthread_mutex_unlock(&r->mu);
        struct mh_result *res = run_job(jb);
        pthread_mutex_lock(&r->mu);
        r->w[id].cur = -1;
        if (jb->abandoned) {
            /* The watchdog gave up on this check and started a
             * replacement worker: leave. */
            mh_result_free(res);
            break;
        }
        mh_round_job_done_locked(r, jb, res);
    }
    r->w[id].exited = true;
    mh_round_unref_locked(r);
    return NULL;
}

int
mh_pool_spawn_locked(struct round *r)
{
    void *v = r->w;
    if (mh_run_grow(&v, &r->wcap, r->nw, sizeof *r->w, 16) != 0) {
        return -1;
    }
    r->w = v;
    struct worker_arg *wa = malloc(sizeof *wa);
    if (wa == NULL) {
        return -1;
    }
    wa->r = r;
    wa->id = r->nw;
    struct worker *w = &r->w[r->nw];
    memset(w, 0, sizeof *w);
    w->cur = -1;
    r->refs++;
    int rc = mh_thread_start(&w->th, worker_main, wa);
    if (rc != 0) {
        r->refs--;
        free(wa);
        return -1;
    }
    r->nw++;
    return 0;
}

/* The least grace of the watchdog (seconds). */
#define WATCHDOG_MIN_GRACE_S 5.0

/* Reports a check that overran its deadline by more than its grace. */
static void
abandon_overdue_locked(struct round *r, struct job *jb, double now)
{
    double t = jb->chk->cfg.timeout_s;
    jb->abandoned = true;
    mh_round_job_done_locked(
        r, jb,
        mh_round_unknown(jb->chk, "check did not end within its deadline "
                                  "(internal error, please report): "
                                  "abandoned"));
    mh_runlog(MH_LOG_ERR,
              "%s (%s): still running %.0f s after its %.0f s deadline; "
              "abandoned (a bug: please report)",
              jb->chk->target, mh_command_name(jb->chk->cfg.command),
              now - jb->started - t, t);
    if (jb->loop_id > 0) {
        /* Its loop turns: it ends the check there. */
        if (mh_loop_abandon(r->loops[jb->loop_id - 1], jb) != 0) {
            mh_runlog(MH_LOG_ERR, "%s: out of memory", jb->chk->target);
        }
    } else if (!r->stop && r->next < r->npool && mh_pool_spawn_locked(r) != 0) {
        mh_runlog(MH_LOG_ERR, "cannot start a replacement worker");
    }
}

/* Finds the loops whose pass has lasted too long; returns how many are
 * stuck. */
static size_t
find_stuck_loops_locked(struct round *r, double now)
{
    size_t stuck = 0;
    for (size_t k = 0; k < r->nloops; k++) {
        double busy = mh_loop_busy_s(r->loops[k], now);
        if (!r->loop_stuck[k] && busy > MH_WATCHDOG_LOOP_STUCK_S) {
            r->loop_stuck[k] = true;
            mh_runlog(MH_LOG_ERR,
                      "event loop %zu: one pass has lasted %.0f s (a check's "
                      "step is stuck; a bug: please report); its checks are "
                      "reported UNKNOWN and the loop is left to itself",
                      k, busy);
        }
        stuck += r->loop_stuck[k];
    }
    return stuck;
}

void
mh_pool_watchdog(struct round *r)
{
    double now = mh_monotonic_s();
    pthread_mutex_lock(&r->mu);
    size_t stuck = find_stuck_loops_locked(r, now);
    for (size_t i = 0; i < r->n; i++) {
        struct job *jb = &r->jobs[i];
        if (jb->done) {
            continue;
        }
        if (stuck > 0 && jb->loop_id > 0 && r->loop_stuck[jb->loop_id - 1]) {
            jb->abandoned = true;
            mh_round_job_done_locked(
                r, jb,
                mh_round_unknown(
                    jb->chk, jb->started != 0
                                 ? "check did not end within its deadline "
                                   "(internal error, please report): its "
                                   "event loop is stuck"
                                 : "check did not start: its event loop is "
                                   "stuck (internal error, please report)"));
            continue;
        }
        double t = jb->chk->cfg.timeout_s;
        double grace =
            t / 2 > WATCHDOG_MIN_GRACE_S ? t / 2 : WATCHDOG_MIN_GRACE_S;
        if (jb->started != 0 && now - jb->started > t + grace) {
            abandon_overdue_locked(r, jb, now);
        }
    }
    pthread_mutex_unlock(&r->mu);
}

size_t
mh_pool_join(struct round *r)
{
    size_t detached = 0;
    pthread_mutex_lock(&r->mu);
    size_t nw = r->nw;
    for (size_t i = 0; i < nw; i++) {
        struct worker *w = &r->w[i];
        bool stuck = !w->exited && w->cur >= 0 && r->jobs[w->cur].abandoned;
        pthread_t th = w->th;
        pthread_mutex_unlock(&r->mu);
        if (stuck) {
            pthread_detach(th);
            detached++;
        } else {
            pthread_join(th, NULL);
        }
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return detached;
}
