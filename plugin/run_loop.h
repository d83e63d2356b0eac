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
 */
#ifndef MH_RUN_LOOP_H
#define MH_RUN_LOOP_H

#include <stddef.h>

struct mh_smtp_task;

/* What the loop does with a job (arg is the job's, given to submit). */
struct mh_loop_ops {
    /* The job's start time has come: returns the check to run, or NULL
     * when the job ended at once (start has reported it itself). */
    struct mh_smtp_task *(*start)(void *arg);
    /* The check ended: take its report (mh_smtp_task_report) and free
     * the task (mh_smtp_task_free). */
    void (*end)(void *arg, struct mh_smtp_task *task);
    /* The job was cancelled (mh_loop_cancel) before it started. */
    void (*skip)(void *arg);
};

struct mh_loop;

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

#endif
