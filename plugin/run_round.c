/* SPDX-License-Identifier: MIT */
/*
 * run_round: one round of the runner (see run_round.h): the schedule of
 * start offsets, the checks handed to the event loops (run_loop.h) and to
 * the worker pool (run_pool.c), and the results.
 *
 * Jitter: check i starts at round start + offset_i, offset_i in
 * [0, jitter_s), derived from a hash of its target and a per-process
 * random seed: a thousand checks do not start in the same millisecond,
 * and each check keeps its phase from round to round (its own interval
 * stays constant).
 */
#include "run_round.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../probes/deadline.h"
#include "checks.h"
#include "commands.h"
#include "common.h"
#include "exporter.h"
#include "run_loop.h"

/* ---- the shared configuration ---------------------------------------- */

struct mh_shared_cfg *
mh_shared_cfg_new(struct mh_run_config *c)
{
    struct mh_shared_cfg *s = malloc(sizeof *s);
    if (s == NULL) {
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->c = c;
    return s;
}

void
mh_shared_cfg_ref(struct mh_shared_cfg *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void
mh_shared_cfg_unref(struct mh_shared_cfg *s)
{
    if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1) {
        mh_run_config_free(s->c);
        free(s);
    }
}

/* ---- results ---------------------------------------------------------- */

struct mh_result *
mh_round_unknown(const struct mh_run_check *chk, const char *why)
{
    struct mh_result *r =
        mh_result_unknown(mh_command_name(chk->cfg.command), chk->target,
                          MH_REASON_INTERNAL_ERROR, "%s", why);
    if (r != NULL) {
        mh_result_finish(r);
    }
    return r;
}

struct mh_result *
mh_round_labelled(const struct mh_run_check *chk, struct mh_result *r)
{
    if (r == NULL) {
        return mh_round_unknown(chk, "out of memory");
    }
    mh_result_finish(r);
    if (mh_result_set_target(r, chk->target) != 0) {
        mh_result_free(r);
        return mh_round_unknown(chk, "out of memory");
    }
    return r;
}

void
mh_round_job_done_locked(struct round *r, struct job *jb, struct mh_result *res)
{
    if (res != NULL && !r->keep_details) {
        mh_result_drop_details(res);
    }
    jb->result = res;
    jb->done = true;
    if (++r->done == r->n) {
        uint64_t one = 1;
        ssize_t w = write(r->efd, &one, sizeof one);
        (void)w;
    }
}

static void
job_done(struct job *jb, struct mh_result *res)
{
    struct round *r = jb->r;
    pthread_mutex_lock(&r->mu);
    mh_round_job_done_locked(r, jb, res);
    pthread_mutex_unlock(&r->mu);
}

/* ---- the event loops' jobs (run_loop.h) -------------------------------- */

/* An event loop's check while it runs. */
struct loop_run {
    struct mh_deadline dl;
    struct mh_smtp_job sj;    /* the parameters (borrowed by the task) */
    struct mh_smtp_lookup lk; /* a host name's lookup, done on a worker */
    bool looked_up;
};

/* Ends a check that will not run on a loop: its result (or NULL when
 * skipped) and what it held. */
static void
loop_run_drop(struct job *jb, struct mh_result *early)
{
    struct loop_run *lr = jb->lr;
    jb->lr = NULL;
    if (lr != NULL) {
        mh_smtp_lookup_free(&lr->lk);
        early = mh_smtp_finish(&lr->sj, early);
        free(lr);
        atomic_fetch_sub(&jb->chk->running, 1);
    }
    job_done(jb, early != NULL ? mh_round_labelled(jb->chk, early) : NULL);
}

/* A looked-up check's start on its loop. */
static struct mh_smtp_task *
loop_start_after_lookup(struct job *jb)
{
    struct loop_run *lr = jb->lr;
    struct mh_smtp_task *task =
        mh_smtp_task_new_after(&lr->sj.p, &lr->dl, &lr->lk);
    if (task == NULL) {
        loop_run_drop(jb, NULL);
        return NULL;
    }
    atomic_fetch_add(&mh_checks_in_flight, 1);
    return task;
}

void
mh_round_lookup_job(struct round *r, struct job *jb)
{
    struct mh_run_check *chk = jb->chk;
    if (atomic_fetch_add(&chk->running, 1) > 0) {
        atomic_fetch_sub(&chk->running, 1);
        job_done(jb, mh_round_unknown(chk, "the previous run of this check "
                                           "has not ended yet (abandoned)"));
        return;
    }
    struct loop_run *lr = calloc(1, sizeof *lr);
    if (lr == NULL) {
        atomic_fetch_sub(&chk->running, 1);
        job_done(jb, mh_round_unknown(chk, "out of memory"));
        return;
    }
    jb->lr = lr;
    mh_deadline_start(&lr->dl, chk->cfg.timeout_s);
    struct mh_result *early = NULL;
    if (mh_smtp_prepare(&chk->cfg, &lr->sj, &early) != 0) {
        loop_run_drop(jb, early);
        return;
    }
    mh_smtp_lookup_run(&lr->lk, &lr->sj.p, &lr->dl);
    lr->looked_up = true;
    size_t k = atomic_fetch_add(&r->next_loop, 1) % r->nloops;
    if (mh_loop_submit(r->loops[k], jb, mh_monotonic_s()) != 0) {
        loop_run_drop(jb, mh_round_unknown(chk, "out of memory"));
    }
}

static struct mh_smtp_task *
loop_start(void *arg)
{
    struct job *jb = arg;
    struct mh_run_check *chk = jb->chk;
    if (jb->lr != NULL && jb->lr->looked_up) {
        return loop_start_after_lookup(jb);
    }
    if (atomic_fetch_add(&chk->running, 1) > 0) {
        atomic_fetch_sub(&chk->running, 1);
        job_done(jb, mh_round_unknown(chk, "the previous run of this check "
                                           "has not ended yet (abandoned)"));
        return NULL;
    }
    struct loop_run *lr = calloc(1, sizeof *lr);
    if (lr == NULL) {
        atomic_fetch_sub(&chk->running, 1);
        job_done(jb, mh_round_unknown(chk, "out of memory"));
        return NULL;
    }
    mh_deadline_start(&lr->dl, chk->cfg.timeout_s);
    struct mh_result *early = NULL;
    struct mh_smtp_task *task = NULL;
    if (mh_smtp_prepare(&chk->cfg, &lr->sj, &early) == 0) {
        task = mh_smtp_task_new(&lr->sj.p, &lr->dl);
        early = task == NULL ? mh_smtp_finish(&lr->sj, NULL) : NULL;
    }
    if (task == NULL) {
        free(lr);
        atomic_fetch_sub(&chk->running, 1);
        job_done(jb, mh_round_labelled(chk, early));
        return NULL;
    }
    jb->lr = lr;
    atomic_fetch_add(&mh_checks_in_flight, 1);
    return task;
}

static void
loop_end(void *arg, struct mh_smtp_task *task)
{
    struct job *jb = arg;
    struct loop_run *lr = jb->lr;
    struct mh_result *res =
        mh_smtp_finish_report(&lr->sj, mh_smtp_task_report(task));
    mh_smtp_task_free(task);
    free(lr);
    jb->lr = NULL;
    atomic_fetch_sub(&mh_checks_in_flight, 1);
    atomic_fetch_sub(&jb->chk->running, 1);
    job_done(jb, mh_round_labelled(jb->chk, res));
}

static void
loop_skip(void *arg)
{
    loop_run_drop(arg, NULL);
}

static const struct mh_loop_ops loop_ops = {loop_start, loop_end, loop_skip};

/* ---- the round ---------------------------------------------------------- */

static void
round_free(struct round *r)
{
    for (size_t i = 0; i < r->n; i++) {
        mh_result_free(r->jobs[i].result);
    }
    free(r->jobs);
    free(r->order);
    free(r->w);
    free(r->loops);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    mh_shared_cfg_unref(r->cfg);
    free(r);
}

void
mh_round_unref_locked(struct round *r)
{
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (last) {
        round_free(r);
    }
}

/* splitmix64: spreads the hash over the whole range. */
static unsigned long long
mix64(unsigned long long x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

struct order_item {
    double off;
    size_t idx;
};

static int
cmp_order(const void *a, const void *b)
{
    const struct order_item *x = a, *y = b;
    if (x->off < y->off) {
        return -1;
    }
    if (x->off > y->off) {
        return 1;
    }
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The jobs, their offsets, and every job's index in offset order (into
 * sorted, n entries). Returns 0 or -1 (out of memory). */
static int
round_jobs(struct round *r, const struct mh_round_opts *o, size_t *sorted)
{
    struct mh_run_config *c = o->cfg->c;
    struct order_item *oi = calloc(r->n > 0 ? r->n : 1, sizeof *oi);
    if (oi == NULL) {
        return -1;
    }
    for (size_t i = 0; i < r->n; i++) {
        struct job *jb = &r->jobs[i];
        jb->chk = &c->checks[i];
        jb->r = r;
        jb->on_loop = o->on_loop != NULL && o->on_loop[i] != MH_LOOP_NO;
        jb->lookup = jb->on_loop && o->on_loop[i] == MH_LOOP_AFTER_LOOKUP;
        unsigned long long h =
            mix64(mh_run_hash(c->checks[i].target) ^ o->seed);
        jb->offset_s = o->jitter_s * ((double)(h >> 11) / 9007199254740992.0);
        oi[i].off = jb->offset_s;
        oi[i].idx = i;
    }
    qsort(oi, r->n, sizeof *oi, cmp_order);
    for (size_t i = 0; i < r->n; i++) {
        sorted[i] = oi[i].idx;
    }
    free(oi);
    return 0;
}

/* Starts the loops and hands them their jobs in offset order, round-robin
 * (a job a loop cannot queue goes to the pool). Returns the loops
 * started. */
static size_t
round_loops(struct round *r, const struct mh_round_opts *o,
            const size_t *sorted)
{
    size_t nloop_jobs = 0;
    for (size_t i = 0; i < r->n; i++) {
        nloop_jobs += r->jobs[i].on_loop;
    }
    if (nloop_jobs == 0) {
        return 0;
    }
    size_t nl = o->nloops > 0 ? o->nloops : 1;
    size_t per = (o->loop_in_flight + nl - 1) / nl;
    r->loops = calloc(nl, sizeof *r->loops);
    for (size_t i = 0; r->loops != NULL && i < nl; i++) {
        char err[256];
        r->loops[i] = mh_loop_new(&loop_ops, per, err, sizeof err);
        if (r->loops[i] == NULL) {
            mh_runlog(MH_LOG_ERR, "event loop %zu: %s", i, err);
            break;
        }
        r->nloops++;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        struct job *jb = &r->jobs[sorted[i]];
        if (jb->on_loop && r->nloops == 0) {
            jb->on_loop = jb->lookup = false;
        }
        /* Checks by name go to the pool first, for their lookup. */
        if (jb->on_loop && !jb->lookup &&
            mh_loop_submit(r->loops[k++ % r->nloops], jb,
                           r->start + jb->offset_s) != 0) {
            jb->on_loop = false;
        }
    }
    return r->nloops;
}

struct round *
mh_round_start(const struct mh_round_opts *o)
{
    struct round *r = calloc(1, sizeof *r);
    if (r == NULL) {
        return NULL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    r->n = o->cfg->c->nchecks;
    r->efd = o->efd;
    r->keep_details = o->keep_details;
    r->refs = 1;
    r->cfg = o->cfg;
    mh_shared_cfg_ref(o->cfg);
    r->jobs = calloc(r->n > 0 ? r->n : 1, sizeof *r->jobs);
    r->order = calloc(r->n > 0 ? r->n : 1, sizeof *r->order);
    if (r->jobs == NULL || r->order == NULL ||
        round_jobs(r, o, r->order) != 0) {
        pthread_mutex_lock(&r->mu);
        mh_round_unref_locked(r);
        return NULL;
    }
    r->start = mh_monotonic_s();
    atomic_init(&r->next_loop, 0);
    round_loops(r, o, r->order);
    /* The pool's queue: the other jobs and the lookups, in offset
     * order. */
    for (size_t i = 0; i < r->n; i++) {
        const struct job *jb = &r->jobs[r->order[i]];
        if (!jb->on_loop || jb->lookup) {
            r->order[r->npool++] = r->order[i];
        }
    }
    size_t nworkers = o->concurrency < r->npool ? o->concurrency : r->npool;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < nworkers; i++) {
        if (mh_pool_spawn_locked(r) != 0) {
            break;
        }
    }
    r->one_by_one = nworkers > 0 && r->nw == 0;
    if (r->nw > 0 && r->nw < nworkers) {
        mh_runlog(MH_LOG_WARNING, "only %zu of %zu worker threads started",
                  r->nw, nworkers);
    }
    pthread_mutex_unlock(&r->mu);
    return r;
}

void
mh_round_one_by_one(struct round *r, bool (*stop)(void *), void *arg)
{
    mh_runlog(MH_LOG_ERR, "cannot start worker threads; running the checks "
                          "one by one");
    for (size_t i = 0; i < r->npool; i++) {
        struct job *jb = &r->jobs[r->order[i]];
        job_done(jb, stop(arg) ? NULL : mh_pool_run_check(jb->chk));
    }
}

bool
mh_round_done(struct round *r)
{
    pthread_mutex_lock(&r->mu);
    bool all = r->done == r->n;
    pthread_mutex_unlock(&r->mu);
    return all;
}

void
mh_round_stop(struct round *r)
{
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    /* The pool's checks not yet taken by a worker are skipped. */
    while (!r->one_by_one && r->next < r->npool) {
        mh_round_job_done_locked(r, &r->jobs[r->order[r->next++]], NULL);
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < r->nloops; i++) {
        mh_loop_cancel(r->loops[i]);
    }
}

struct mh_result **
mh_round_end(struct round *r, size_t *detached)
{
    for (size_t i = 0; i < r->nloops; i++) {
        mh_loop_free(r->loops[i]);
    }
    r->nloops = 0;
    *detached += mh_pool_join(r);
    struct mh_result **out = calloc(r->n > 0 ? r->n : 1, sizeof *out);
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; out != NULL && i < r->n; i++) {
        out[i] = r->jobs[i].result;
        r->jobs[i].result = NULL;
    }
    mh_round_unref_locked(r);
    return out;
}
