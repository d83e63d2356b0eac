/* SPDX-License-Identifier: MIT */
/*
 * run_round: one round of the runner (see run_round.h): the schedule of
 * start offsets, the checks handed to the event loops (run_loop.h) and to
 * the worker pool (run_pool.c), and the results.
 *
 * Spread: check i starts at round start + offset_i (mh_round_offset),
 * derived from a hash of its identity and the runner's seed: a thousand
 * checks do not start in the same millisecond, each check keeps its phase
 * from round to round (its own interval stays constant), and each one
 * still ends within the round.
 */
#include "run_round.h"

#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../probes/deadline.h"
#include "checks.h"
#include "commands.h"
#include "common.h"
#include "exporter.h"
#include "run_dns.h"
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

void (*mh_round_loop_start_hook)(const struct mh_run_check *chk,
                                 struct mh_deadline *dl);

void
mh_round_job_done_locked(struct round *r, struct job *jb, struct mh_result *res)
{
    if (jb->done) {
        mh_result_free(res); /* abandoned: reported already */
        return;
    }
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

/* An event loop's check while it runs: the smtp task, after the lookup
 * of its host on the loop's DNS service when the host is a name. */
struct loop_run {
    struct mh_deadline dl;
    struct mh_smtp_job sj;     /* the parameters (borrowed by the task) */
    struct mh_smtp_lookup lk;  /* the lookup's outcome */
    struct mh_host_lookup *hl; /* the name's lookup while it runs */
    struct mh_smtp_task *task; /* NULL while looking up */
    bool failed;               /* no task: out of memory */
    struct mh_loop *l;         /* for mh_loop_ready */
    uint64_t token;
};

/* The host's answer came (on the loop's thread). */
static void
lookup_answered(void *arg)
{
    struct loop_run *lr = arg;
    mh_loop_ready(lr->l, lr->token);
}

/* Makes the smtp task from the lookup's outcome (rs, addrs, err). */
static void
run_connect(struct loop_run *lr, enum mh_resolve_status rs,
            struct mh_addr *addrs, size_t naddrs, const char *err)
{
    mh_smtp_lookup_set(&lr->lk, lr->lk.t0, rs, addrs, naddrs, err);
    lr->task = mh_smtp_task_new_after(&lr->sj.p, &lr->dl, &lr->lk);
    lr->failed = lr->task == NULL;
}

/* Whether the watchdog has reported job jb already (a stuck loop's job
 * that starts after all); else marks it started. */
static bool
loop_job_gone(struct job *jb)
{
    pthread_mutex_lock(&jb->r->mu);
    bool gone = jb->done;
    if (!gone) {
        jb->started = mh_monotonic_s();
    }
    pthread_mutex_unlock(&jb->r->mu);
    return gone;
}

/* Takes the lookup's outcome (expired: the deadline has passed). */
static void
run_looked_up(struct loop_run *lr, bool expired)
{
    struct mh_addr *addrs = NULL;
    size_t naddrs = 0;
    char err[sizeof lr->lk.err];
    enum mh_resolve_status rs =
        mh_resolve_host_end(lr->hl, expired || mh_deadline_expired(&lr->dl),
                            &addrs, &naddrs, err, sizeof err);
    lr->hl = NULL;
    run_connect(lr, rs, addrs, naddrs, err);
}

static bool
run_step(void *t)
{
    struct loop_run *lr = t;
    if (lr->task == NULL && !lr->failed) {
        if (!mh_resolve_host_done(lr->hl)) {
            return false;
        }
        run_looked_up(lr, false);
    }
    return lr->failed || mh_smtp_task_step(lr->task);
}

static int
run_fd(const void *t)
{
    const struct loop_run *lr = t;
    return lr->task != NULL ? mh_smtp_task_fd(lr->task) : -1;
}

static short
run_events(const void *t)
{
    const struct loop_run *lr = t;
    return lr->task != NULL ? mh_smtp_task_events(lr->task) : POLLIN;
}

static const struct mh_deadline *
run_deadline(const void *t)
{
    const struct loop_run *lr = t;
    return lr->task != NULL ? mh_smtp_task_deadline(lr->task) : &lr->dl;
}

static void
run_expire(void *t)
{
    struct loop_run *lr = t;
    if (lr->task != NULL) {
        mh_smtp_task_expire(lr->task);
    } else if (!lr->failed) {
        run_looked_up(lr, true); /* no answer in time: dns_timeout */
    }
}

static const struct mh_loop_task_ops run_ops = {run_step, run_fd, run_events,
                                                run_deadline, run_expire};

/* Starts the check's connection: at once on an address, after its lookup
 * on the loop's DNS service for a name. */
static void
run_begin(struct loop_run *lr)
{
    const struct mh_smtp_params *p = &lr->sj.p;
    lr->lk.t0 = mh_monotonic_s();
    if (mh_smtp_task_supported(p)) {
        lr->task = mh_smtp_task_new(p, &lr->dl);
        lr->failed = lr->task == NULL;
        return;
    }
    char err[sizeof lr->lk.err];
    void *ch =
        mh_rdns_channel(mh_loop_dns(lr->l), p->resolver, err, sizeof err);
    if (ch == NULL) {
        run_connect(lr, MH_RESOLVE_FAILED, NULL, 0, err);
        return;
    }
    lr->hl = mh_resolve_host_start(ch, p->host, p->family, lookup_answered, lr);
    lr->failed = lr->hl == NULL;
}

/* An event loop's dnsbl check while it runs: its queries go out on the
 * loop's shared DNSBL channel (run_dns.h: mh_rdns_dnsbl). */
struct loop_dnsbl {
    struct mh_deadline dl;
    struct mh_dnsbl_job dj; /* the parameters (borrowed by the task) */
    struct mh_dnsbl_task *task;
    struct mh_loop *l; /* for mh_loop_ready */
    uint64_t token;
};

static void
dnsbl_wake(void *arg)
{
    struct loop_dnsbl *ld = arg;
    mh_loop_ready(ld->l, ld->token);
}

static bool
dnsbl_step(void *t)
{
    return mh_dnsbl_task_step(((struct loop_dnsbl *)t)->task);
}

static int
dnsbl_fd(const void *t)
{
    (void)t;
    return -1; /* it waits for its answers (mh_loop_ready) */
}

static short
dnsbl_events(const void *t)
{
    (void)t;
    return 0;
}

static const struct mh_deadline *
dnsbl_deadline(const void *t)
{
    return &((const struct loop_dnsbl *)t)->dl;
}

static void
dnsbl_expire(void *t)
{
    mh_dnsbl_task_expire(((struct loop_dnsbl *)t)->task);
}

static const struct mh_loop_task_ops dnsbl_ops = {
    dnsbl_step, dnsbl_fd, dnsbl_events, dnsbl_deadline, dnsbl_expire};

/* A job whose check ended before it started on the loop: reported with
 * res (NULL: out of memory); returns NULL for ops->start. */
static void *
start_failed(struct job *jb, struct mh_result *res)
{
    atomic_fetch_sub(&jb->chk->running, 1);
    job_done(jb, res);
    return NULL;
}

/* Starts the deadline dl of job chk's check (its timeout from now). */
static void
start_deadline(const struct mh_run_check *chk, struct mh_deadline *dl)
{
    mh_deadline_start(dl, chk->cfg.timeout_s);
    if (mh_round_loop_start_hook != NULL) {
        mh_round_loop_start_hook(chk, dl);
    }
}

/* Starts job jb's dnsbl check on loop l, or reports it at once (NULL). */
static void *
dnsbl_start(struct job *jb, struct mh_loop *l, uint64_t token,
            const struct mh_loop_task_ops **tops)
{
    struct mh_run_check *chk = jb->chk;
    struct loop_dnsbl *ld = calloc(1, sizeof *ld);
    if (ld == NULL) {
        return start_failed(jb, mh_round_unknown(chk, "out of memory"));
    }
    ld->l = l;
    ld->token = token;
    start_deadline(chk, &ld->dl);
    struct mh_result *early = NULL;
    char err[256];
    struct mh_dnsbl_shared *sh = NULL;
    if (mh_dnsbl_prepare(&chk->cfg, &ld->dj, &early) == 0) {
        sh = mh_rdns_dnsbl(mh_loop_dns(l), ld->dj.p.resolver,
                           chk->cfg.timeout_s, err, sizeof err);
        if (sh == NULL) {
            mh_dnsbl_job_free(&ld->dj);
            early = mh_result_unknown("dnsbl", chk->target,
                                      MH_REASON_USAGE_ERROR, "%s", err);
        }
    }
    if (sh != NULL) {
        ld->task = mh_dnsbl_task_new(&ld->dj.p, &ld->dl, sh, dnsbl_wake, ld);
        if (ld->task == NULL) {
            early = mh_dnsbl_finish_report(&ld->dj, NULL);
        }
    }
    if (ld->task == NULL) {
        free(ld);
        return start_failed(jb, mh_round_labelled(chk, early));
    }
    atomic_fetch_add(&mh_checks_in_flight, 1);
    *tops = &dnsbl_ops;
    return ld;
}

static void *
loop_start(void *arg, struct mh_loop *l, uint64_t token,
           const struct mh_loop_task_ops **tops)
{
    struct job *jb = arg;
    struct mh_run_check *chk = jb->chk;
    if (loop_job_gone(jb)) {
        return NULL;
    }
    if (atomic_fetch_add(&chk->running, 1) > 0) {
        return start_failed(jb, mh_round_unknown(chk, "the previous run of "
                                                      "this check has not "
                                                      "ended yet (abandoned)"));
    }
    if (chk->cfg.command == MH_CMD_DNSBL) {
        return dnsbl_start(jb, l, token, tops);
    }
    struct loop_run *lr = calloc(1, sizeof *lr);
    if (lr == NULL) {
        return start_failed(jb, mh_round_unknown(chk, "out of memory"));
    }
    lr->l = l;
    lr->token = token;
    start_deadline(chk, &lr->dl);
    struct mh_result *early = NULL;
    if (mh_smtp_prepare(&chk->cfg, &lr->sj, &early) != 0) {
        free(lr);
        return start_failed(jb, mh_round_labelled(chk, early));
    }
    run_begin(lr);
    jb->lr = lr;
    atomic_fetch_add(&mh_checks_in_flight, 1);
    *tops = &run_ops;
    return lr;
}

static void
loop_end(void *arg, void *task)
{
    struct job *jb = arg;
    struct mh_result *res;
    if (jb->chk->cfg.command == MH_CMD_DNSBL) {
        struct loop_dnsbl *ld = task;
        res = mh_dnsbl_finish_report(&ld->dj, mh_dnsbl_task_report(ld->task));
        free(ld);
    } else {
        struct loop_run *lr = task;
        if (lr->hl != NULL) { /* the watchdog ended it while it looked up */
            run_looked_up(lr, false);
        }
        res = mh_smtp_finish_report(
            &lr->sj, lr->task != NULL ? mh_smtp_task_report(lr->task) : NULL);
        mh_smtp_task_free(lr->task);
        mh_smtp_lookup_free(&lr->lk);
        free(lr);
        jb->lr = NULL;
    }
    atomic_fetch_sub(&mh_checks_in_flight, 1);
    atomic_fetch_sub(&jb->chk->running, 1);
    job_done(jb, mh_round_labelled(jb->chk, res));
}

static void
loop_skip(void *arg)
{
    job_done(arg, NULL);
}

static const struct mh_loop_ops loop_ops = {loop_start, loop_end, loop_skip};

enum mh_loop_fit
mh_round_fits_loop(const struct mh_config *cfg)
{
    return cfg->command == MH_CMD_DNSBL ? MH_LOOP_AFTER_LOOKUP
                                        : mh_smtp_fits_loop(cfg);
}

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
    free(r->loop_stuck);
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

double
mh_round_offset(const struct mh_run_check *chk, unsigned long long seed,
                double interval_s, double spread_s)
{
    double span = MH_RUN_SPREAD_SHARE * interval_s - chk->cfg.timeout_s;
    if (spread_s < span) {
        span = spread_s;
    }
    if (!(span > 0)) {
        return 0;
    }
    unsigned long long id =
        mh_run_hash(chk->target) ^ mix64((unsigned long long)chk->cfg.command);
    unsigned long long h = mix64(id ^ seed);
    /* The top 53 bits: a fraction in [0, 1). */
    return span * ((double)(h >> 11) / 9007199254740992.0);
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
        jb->offset_s =
            mh_round_offset(jb->chk, o->seed, o->interval_s, o->spread_s);
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
    r->loop_stuck = calloc(nl, sizeof *r->loop_stuck);
    for (size_t i = 0; r->loops != NULL && r->loop_stuck != NULL && i < nl;
         i++) {
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
            jb->on_loop = false;
        }
        if (jb->on_loop) {
            size_t id = k++ % r->nloops;
            jb->loop_id = id + 1;
            if (mh_loop_submit(r->loops[id], jb, r->start + jb->offset_s) !=
                0) {
                jb->on_loop = false;
                jb->loop_id = 0;
            }
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
    round_loops(r, o, r->order);
    /* The pool's queue: the other jobs, in offset order. */
    for (size_t i = 0; i < r->n; i++) {
        const struct job *jb = &r->jobs[r->order[i]];
        if (!jb->on_loop) {
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

/* A stuck loop left to itself has ended after all: its reference to the
 * round goes. */
static void
loop_gone(void *ctx)
{
    struct round *r = ctx;
    pthread_mutex_lock(&r->mu);
    mh_round_unref_locked(r);
}

struct mh_result **
mh_round_end(struct round *r, size_t *detached)
{
    for (size_t i = 0; i < r->nloops; i++) {
        /* Every job is done: a loop ends at once unless a step is stuck
         * (found by the watchdog, or now). */
        pthread_mutex_lock(&r->mu);
        bool stuck = r->loop_stuck[i];
        r->refs++; /* the loop's if it is left, dropped by loop_gone */
        pthread_mutex_unlock(&r->mu);
        if (mh_loop_end_within(r->loops[i],
                               stuck ? 0 : MH_WATCHDOG_LOOP_STUCK_S, loop_gone,
                               r) == 0) {
            pthread_mutex_lock(&r->mu);
            r->refs--;
            pthread_mutex_unlock(&r->mu);
            continue;
        }
        ++*detached;
        if (!stuck) {
            mh_runlog(MH_LOG_ERR,
                      "event loop %zu: still in one pass %.0f s after its "
                      "round (a check's step is stuck; a bug: please "
                      "report); left to itself",
                      i, MH_WATCHDOG_LOOP_STUCK_S);
        }
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
