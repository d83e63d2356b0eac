/* SPDX-License-Identifier: MIT */
/*
 * run_round: one round of the runner (cmd_run.c): every check of the
 * configuration run once, each at its start offset, each within its own
 * deadline.
 *
 * Two engines run the checks side by side:
 *   - the event loops (run_loop.h), two per core, take the smtp and tls
 *     checks without DANE (mh_smtp_fits_loop) when the configuration's
 *     engine is "loop" (the default); a host given by name is looked up
 *     on the loop's own DNS service (run_dns.h) first;
 *   - the worker pool (run_pool.c) takes the others, a thread per check in
 *     flight, at most `concurrency` threads, with the watchdog.
 * Each check starts at its own offset from the round's start
 * (mh_round_offset): starts are spread over the interval, and a check
 * starts at the same moment of every round. The round ends when every
 * check has a result (or was skipped after a stop); the efd is written
 * then.
 *
 * Internal to the runner: cmd_run.c, run_round.c and run_pool.c.
 */
#ifndef MH_RUN_ROUND_H
#define MH_RUN_ROUND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "../probes/deadline.h"
#include "../probes/result.h"
#include "checks.h"
#include "runner.h"

/* A configuration shared by the runner, its rounds and the exporter. */
struct mh_shared_cfg {
    atomic_int refs;
    struct mh_run_config *c;
};

/* Takes c (NULL when out of memory: c is then the caller's still). */
struct mh_shared_cfg *mh_shared_cfg_new(struct mh_run_config *c);
void mh_shared_cfg_ref(struct mh_shared_cfg *s);
/* Drops a reference; the last frees the configuration. NULL is fine. */
void mh_shared_cfg_unref(struct mh_shared_cfg *s);

/* Whether the round's event loops can run check cfg (engine "loop"): an
 * smtp or tls check as mh_smtp_fits_loop says (checks.h), every dnsbl
 * check (its queries and lookups on the loop's shared DNSBL channel, as
 * if after a lookup), no other. */
enum mh_loop_fit mh_round_fits_loop(const struct mh_config *cfg);

/* How a round runs. */
struct mh_round_opts {
    struct mh_shared_cfg *cfg;    /* the round takes its own reference */
    const unsigned char *on_loop; /* per check: enum mh_loop_fit (checks.h),
                                     NULL: none on the event loops */
    unsigned concurrency;         /* worker threads at most (>= 1) */
    unsigned nloops;              /* event loop threads (>= 1 when on_loop) */
    unsigned loop_in_flight;      /* checks in flight on all loops together */
    double interval_s;            /* the round's interval */
    double spread_s;              /* the span of the start offsets (the
                                     bound of mh_round_offset) */
    unsigned long long seed;      /* of the offsets (hash of the target) */
    int efd;                      /* eventfd written when the round is done */
    bool keep_details;            /* keep the results' items and perfdata (JSON
                                     output); else they are dropped as each check
                                     ends (mh_result_drop_details) */
};

struct job {
    struct mh_run_check *chk; /* in the round's config (running counter) */
    struct round *r;
    double offset_s; /* start offset within the round */
    double started;  /* pool: monotonic start, 0 while waiting */
    struct mh_result *result;
    struct loop_run *lr; /* an event loop's check while it runs */
    size_t loop_id;      /* 1 + the index of the loop it was handed to, 0:
                            none (under mu) */
    bool on_loop;
    bool done;
    bool abandoned;
};

struct worker {
    pthread_t th;
    bool exited;
    long cur; /* job being run, -1 none */
};

struct round {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* start-offset waits; broadcast on stop */
    struct job *jobs;
    size_t n;
    size_t *order; /* the pool's job indices by offset */
    size_t npool;  /* entries of order */
    size_t next;   /* next entry of order to take */
    size_t done;
    bool stop;
    bool one_by_one; /* no worker thread could start */
    bool keep_details;
    double start; /* monotonic */
    int efd;      /* eventfd: written when done reaches n */
    int refs;     /* main + live workers, under mu */
    struct mh_shared_cfg *cfg;
    struct worker *w;
    size_t nw, wcap;
    struct mh_loop **loops;
    bool *loop_stuck; /* per loop: the watchdog found it stuck (under mu) */
    size_t nloops;
};

/* ---- the round (run_round.c) ---- */

/*
 * The start offset of check chk within each round, in seconds from the
 * round's start: in [0, s) where s = min(spread_s, MH_RUN_SPREAD_SHARE *
 * interval_s - the check's timeout), 0 when s <= 0, so the check ends
 * within that share of the interval. The offset is a hash of the check's
 * identity (its target label and command) and the seed, scaled to s: the
 * same for every round while the configuration keeps the check, the
 * interval and the spread, and spread evenly over [0, s) across checks.
 */
double mh_round_offset(const struct mh_run_check *chk, unsigned long long seed,
                       double interval_s, double spread_s);

/* Starts a round: the pool's workers and the loops, every check queued.
 * Returns NULL when out of memory. r->one_by_one: not even one worker
 * could start; the caller then runs the pool's checks with
 * mh_round_one_by_one. */
struct round *mh_round_start(const struct mh_round_opts *o);
/* Runs the pool's checks on this thread; stop() is asked between them. */
void mh_round_one_by_one(struct round *r, bool (*stop)(void *), void *arg);
/* Whether every check has ended (or was skipped). */
bool mh_round_done(struct round *r);
/* SIGTERM: no check starts any more; running ones go on to their end. */
void mh_round_stop(struct round *r);
/* Ends a round that is done: waits for the loops and workers (detaches
 * the workers stuck in abandoned checks, counted in *detached), returns
 * the results in configuration order (n entries, NULL for skipped ones;
 * the caller frees them and the array) and frees the round's own part.
 * NULL when out of memory (the results are freed). */
struct mh_result **mh_round_end(struct round *r, size_t *detached);

/* A finished job: its result (taken), counted; r->mu held. A job already
 * done (abandoned by the watchdog) stays as it is: res is freed. */
void mh_round_job_done_locked(struct round *r, struct job *jb,
                              struct mh_result *res);
/* An UNKNOWN result for a check that produced none. */
struct mh_result *mh_round_unknown(const struct mh_run_check *chk,
                                   const char *why);
/* A check's result made final: finished, its target the configured label;
 * NULL (out of memory) becomes UNKNOWN. */
struct mh_result *mh_round_labelled(const struct mh_run_check *chk,
                                    struct mh_result *r);
/* Drops one reference; called with r->mu held, releases it. */
void mh_round_unref_locked(struct round *r);

/* For tests only (NULL in the program): called on the loop's thread as
 * each loop check starts, with its deadline just started (the hook may
 * move its end, or block: a check or a loop that is stuck). */
extern void (*mh_round_loop_start_hook)(const struct mh_run_check *chk,
                                        struct mh_deadline *dl);

/* ---- the worker pool (run_pool.c) ---- */

/* Starts one more worker; r->mu held. Returns 0 or -1. */
int mh_pool_spawn_locked(struct round *r);
/*
 * The round's watchdog, run every second by the runner's main thread:
 *   - a check still running `grace` (max(5 s, timeout / 2)) after its
 *     deadline is abandoned: UNKNOWN "check did not end within its
 *     deadline (internal error, please report): abandoned", logged; a pool
 *     check's worker is replaced by a new one (the stuck one is left to
 *     itself), a loop check is ended by its loop (mh_loop_abandon);
 *   - a loop whose pass has lasted over 10 s (mh_loop_busy_s: a step
 *     stuck in a callback) is stuck: logged once, its checks, running or
 *     waiting, reported UNKNOWN, and mh_round_end leaves it to itself
 *     (as it does a loop that has not ended 10 s after the round).
 */
void mh_pool_watchdog(struct round *r);
/* How long one pass of an event loop may last before the loop is taken
 * for stuck (seconds). A pass steps at most 256 ready checks and starts
 * at most 32: well under a second even with every step a TLS handshake
 * on a loaded machine, so 10 s is a step that never returns, not load. */
#define MH_WATCHDOG_LOOP_STUCK_S 10.0
/* Joins the workers once every job is done, except those stuck in an
 * abandoned check, which are detached; returns how many were. */
size_t mh_pool_join(struct round *r);
/* Runs one check on this thread within its own deadline. */
struct mh_result *mh_pool_run_check(const struct mh_run_check *chk);

#endif
