/* SPDX-License-Identifier: MIT */
/*
 * run_capacity: how many checks the runner (`check_mailhealth run`, see
 * cmd_run.c) keeps in flight when the configuration does not say (its
 * threads' stacks: probes/threads.h).
 *
 * Automatic concurrency (the "concurrency" key left out, or "auto"): the
 * least of
 *   - the time need: the seconds of checking a round needs when every
 *     check runs to its timeout (the sum of the timeouts), divided by the
 *     interval, rounded up, and at least MH_CAP_MIN_TIME_NEED: a round in
 *     which every server hangs still fits its interval, and a config of
 *     fast checks is not starved for a cheap thread;
 *   - the number of checks (more workers would idle);
 *   - the descriptors: (RLIMIT_NOFILE soft limit - MH_CAP_FD_RESERVE) /
 *     MH_CAP_FDS_PER_CHECK (a check holds its connection, a c-ares socket
 *     pair and a spare while it runs; the reserve is the runner's own:
 *     signalfd, eventfd, logs, the textfile, the notifier's connection);
 *   - the memory: a quarter of the available memory (MemAvailable, or the
 *     room left under the cgroup's limit when that is less: v2 memory.max,
 *     v1 memory.limit_in_bytes) /
 *     MH_CAP_BYTES_PER_CHECK (a worker's touched stack, a TLS session with
 *     its buffers, the verified chain and the result);
 *   - the CPUs: MH_CAP_PER_CPU per CPU this process may run on (affinity
 *     mask, and the cgroup's quota when set: v2 cpu.max, v1
 *     cpu.cfs_quota_us), at most
 *     MH_RUN_MAX_CONCURRENCY. Measured with tests/bench/bench_latency.sh
 *     (10,000 mixed checks, RTT 100 ms, 2 cores): 1,024 in flight starved
 *     their own TLS handshakes into spurious timeouts; 512 took 29.9 s and
 *     308 MiB with none (one under a machine load of 25), 256 took 35.8 s
 *     and 252 MiB;
 * and at least 1. An explicit "concurrency" always wins (it is only
 * compared with the descriptor bound, which is logged when exceeded).
 */
#ifndef MH_RUN_CAPACITY_H
#define MH_RUN_CAPACITY_H

#include <stdbool.h>
#include <stddef.h>

#define MH_CAP_MIN_TIME_NEED 256u
#define MH_CAP_FD_RESERVE 64u
#define MH_CAP_FDS_PER_CHECK 4u
#define MH_CAP_BYTES_PER_CHECK (256u * 1024u)
#define MH_CAP_PER_CPU 256u

/* What bounded the chosen concurrency. */
enum mh_cap_bound {
    MH_CAP_CONFIGURED, /* the config's explicit value */
    MH_CAP_TIME,
    MH_CAP_CHECKS,
    MH_CAP_FDS,
    MH_CAP_MEMORY,
    MH_CAP_CPUS
};

/* The machine and the configuration, as the planner sees them. */
struct mh_cap_facts {
    size_t nchecks;
    double timeout_sum_s;             /* sum of the checks' timeouts, seconds */
    double interval_s;                /* the round interval, seconds (> 0) */
    unsigned long long fd_limit;      /* RLIMIT_NOFILE soft; 0 = unknown */
    unsigned long long mem_available; /* bytes; 0 = unknown */
    unsigned cpus;                    /* usable CPUs; 0 = unknown (1) */
};

/* The planner's answer: the concurrency and every bound it weighed. */
struct mh_cap_plan {
    unsigned concurrency; /* 1..MH_RUN_MAX_CONCURRENCY */
    enum mh_cap_bound bound;
    unsigned long long time_need, checks, fds, memory, cpu;
    unsigned cpus; /* the CPU count used (unknown counts as 1) */
};

/*
 * Plans the concurrency. `configured` is the config's value
 * (MH_RUN_CONCURRENCY_AUTO = 0 for automatic). Unknown facts (0) impose no
 * bound, except cpus, which counts as 1. Pure: no system calls, so the
 * unit test drives it with any machine.
 */
void mh_cap_plan(unsigned configured, const struct mh_cap_facts *f,
                 struct mh_cap_plan *out);

/*
 * Reads the machine's facts into f (nchecks, timeout_sum_s and interval_s
 * are left to the caller): first raises the RLIMIT_NOFILE soft limit to
 * the hard limit (2^20 when the hard limit is unlimited; nothing in the
 * runner uses select(), so high descriptors are fine), then reads the
 * soft limit, MemAvailable from /proc/meminfo, this process's cgroup
 * memory limit and usage and CPU quota (v2, else v1), and the affinity
 * mask. A fact that cannot be read stays 0 (unknown). Never
 * fails.
 */
void mh_cap_probe(struct mh_cap_facts *f);

struct mh_run_config;

/*
 * The runner's plan for configuration c run every interval_s seconds:
 * mh_cap_probe() (which raises the descriptor limit), the checks and the
 * sum of their timeouts from c (only those with subset[i] true; subset
 * NULL: all), then mh_cap_plan() with c->concurrency.
 */
void mh_cap_plan_config(const struct mh_run_config *c, double interval_s,
                        const bool *subset, struct mh_cap_plan *out);

/*
 * Checks in flight on the event loops (run_loop.h) together, for nchecks
 * checks given to them: the configured concurrency when there is one,
 * else the least of MH_CAP_LOOP_PER_CPU per CPU, the descriptor bound,
 * four times the memory bound (a loop's check has no thread stack: its
 * socket, buffers and TLS session only) and nchecks; at least 1. A
 * check in flight on a loop costs about 58 KiB (its transport buffers,
 * dialogue, TLS session with the peer's chain, and its result so far).
 * Measured with tests/bench/bench_latency.sh (10,000 mixed checks, RTT
 * 100 ms, 5 % greeting after 6 s, 2 shared cores, one round each): 512
 * per CPU 24.1 s and 207 MiB; 768 20.9 s and 253 MiB (too close to the
 * 256 MiB target); 1,024 18.3 s and 265 MiB, with 47 spurious timeouts
 * on a loaded machine before the loops' admission control (run_loop.h).
 */
#define MH_CAP_LOOP_PER_CPU 640u
unsigned mh_cap_loop_in_flight(const struct mh_cap_plan *p, size_t nchecks);

/*
 * Writes the plan as the log line's words, e.g. "512 (automatic: the
 * least of time need 1667, checks 10000, descriptors 4984, memory 8192,
 * CPUs 512 for 2 CPUs; bound by the CPUs)" or "16 (configured)". Returns
 * buf.
 */
char *mh_cap_describe(const struct mh_cap_plan *p, char *buf, size_t len);

#endif
