/* SPDX-License-Identifier: MIT */
/*
 * run_loop: the runner's event loop. One thread drives many smtp and tls
 * checks at once (probes/smtp.h: struct mh_smtp_task, machines that never
 * wait), on one epoll(7) instance: each check's socket is watched for what
 * its state wants (its descriptor is re-armed after each step), and each
 * check's own deadline is a timer in a min-heap (the earliest bounds
 * epoll_wait). The runner starts two loops per core (cmd_run.c) and hands
 * the checks that fit (mh_smtp_task_supported) to them; the others run on
 * its worker pool.
 *
 * Jobs wait in the loop's queue, in the order given (by start time), until
 * their start time has come and fewer than max_in_flight checks are
 * running; then ops->start makes the check (its deadline starts then),
 * the loop steps it on every event and timer until it ends, and ops->end
 * takes the result. A loop whose passes over the ready sockets took over
 * 25 ms in the last 100 ms starts no new check until it catches up
 * (run_loop.c: admission), so the checks it runs keep their pace on a
 * loaded machine. All
 * callbacks run on the loop's thread, one at a time.
 * A check's CPU work (TLS handshake, chain verification) runs on the loop
 * thread too: a loop is one core's worth of checks.
 *
 * A check is any task with the shape of struct mh_smtp_task, driven
 * through the struct mh_loop_task_ops that ops->start gives with it. A
 * check may wait for no socket of its own but for DNS answers: each loop has a
 * DNS service (run_dns.h, mh_loop_dns) whose c-ares sockets and retry timers
 * the loop watches with the checks' sockets; an answer's callback calls
 * mh_loop_ready with the check's token and the loop steps the check
 * again. Such a check's wait is still bounded by its deadline. The dnsbl
 * checks are such checks (run_round.c: probes/dnsbl.h mh_dnsbl_task):
 * every query of a loop's dnsbl checks goes out on one channel per
 * resolver (and per-try timeout), paced by one window they share
 * (mh_rdns_dnsbl).
 */
#ifndef MH_RUN_LOOP_H
#define MH_RUN_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mh_deadline;
struct mh_loop;
struct mh_rdns;

/* A check of any kind as the loop drives it (task: the check's own
 * pointer), the same calls as mh_smtp_task_* (probes/smtp.h): step until
 * it returns true (done); between steps wait for fd to be ready for
 * events (POLLIN or POLLOUT), fd -1: for mh_loop_ready alone, or for the
 * deadline to pass, then call expire before the next step. */
struct mh_loop_task_ops {
    bool (*step)(void *task);
    int (*fd)(const void *task);
    short (*events)(const void *task);
    const struct mh_deadline *(*deadline)(const void *task);
    void (*expire)(void *task);
};

/* What the loop does with a job (arg is the job's, given to submit). */
struct mh_loop_ops {
    /* The job's start time has come on loop l: returns the check to run
     * and its ops (*tops), or NULL when the job ended at once (start has
     * reported it itself). token names the check for mh_loop_ready until
     * it ends. */
    void *(*start)(void *arg, struct mh_loop *l, uint64_t token,
                   const struct mh_loop_task_ops **tops);
    /* The check ended: take its result and free it. */
    void (*end)(void *arg, void *task);
    /* The job was cancelled (mh_loop_cancel) before it started. */
    void (*skip)(void *arg);
};

/*
 * Starts a loop thread running at most max_in_flight (>= 1) checks at
 * once. Returns NULL (with the reason in err) when the thread, the epoll
 * instance or memory cannot be had.
 */
struct mh_loop *mh_loop_new(const struct mh_loop_ops *ops, size_t max_in_flight,
                            char *err, size_t errlen);

/* Queues a job to start at monotonic time start_at (jobs must be given in
 * the order of their start times). Thread-safe. Returns 0, or -1 when out
 * of memory (the job is not queued). */
int mh_loop_submit(struct mh_loop *l, void *arg, double start_at);

/* The jobs not started yet are skipped (ops->skip), now or as they come;
 * running checks go on to their end. Thread-safe. */
void mh_loop_cancel(struct mh_loop *l);

/* Waits until every job queued has ended or been skipped, ends the thread
 * and frees the loop. NULL is fine. */
void mh_loop_free(struct mh_loop *l);

/* The loop's DNS service (run_dns.h), for its checks' lookups. On the
 * loop's thread only (in the ops' callbacks and the checks' steps). */
struct mh_rdns *mh_loop_dns(struct mh_loop *l);
/* Steps the check named token (given to ops->start) again once the current
 * callback returns; a check that has ended since is left alone. On the
 * loop's thread only. Out of memory: nothing (the check waits for its
 * deadline). */
void mh_loop_ready(struct mh_loop *l, uint64_t token);

/*
 * Heartbeat: how long the loop's current pass has lasted at monotonic
 * time now (seconds; 0 while it waits for events or timers). A pass
 * steps the checks that are ready, so a pass that lasts seconds means a
 * check's step (an ops callback or a machine step) is stuck. Thread-safe.
 */
double mh_loop_busy_s(struct mh_loop *l, double now);

/* The running check of job arg is ended at the loop's next turn:
 * ops->end takes it as it stands (a check that overran its deadline). No
 * effect when the job is not running. Thread-safe. Returns 0, or -1 when
 * out of memory (nothing is done). */
int mh_loop_abandon(struct mh_loop *l, void *arg);

/*
 * Ends the loop as mh_loop_free does, but waits at most wait_s seconds
 * (0: not at all) for its thread. A loop that has not ended by then is
 * stuck in a step (mh_loop_busy_s) and is left to itself: it takes no new
 * job, and if it ever turns again it ends its jobs, calls gone(ctx) on
 * its thread and frees itself; the jobs' owner must stay until then.
 * Returns 0 when the loop ended (gone is not called), 1 when it was left.
 */
int mh_loop_end_within(struct mh_loop *l, double wait_s,
                       void (*gone)(void *ctx), void *ctx);

#endif
