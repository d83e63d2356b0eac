/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the runner's concurrency planner (plugin/run_capacity.c):
 * each bound in turn, ties, unknown facts, an explicit value, the log
 * words, the probe of this machine, and the stack size of the threads
 * started by mh_thread_start() (probes/threads.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "run_capacity.h"
#include "runner.h"
#include "threads.h"

#define GIB (1024ull * 1024ull * 1024ull)

/* A 2-CPU machine with 20,000 descriptors and 24 GiB free running n
 * checks of timeout 10 s every 60 s (the latency benchmark's host). */
static struct mh_cap_facts
machine(size_t n)
{
    struct mh_cap_facts f = {.nchecks = n,
                             .timeout_sum_s = 10.0 * (double)n,
                             .interval_s = 60,
                             .fd_limit = 20000,
                             .mem_available = 24 * GIB,
                             .cpus = 2};
    return f;
}

static struct mh_cap_plan
plan(unsigned configured, const struct mh_cap_facts *f)
{
    struct mh_cap_plan p;
    mh_cap_plan(configured, f, &p);
    return p;
}

static void
test_time_need_floor(void **state)
{
    (void)state;
    /* 1,000 x 10 s / 60 s = 167 seconds-per-second: the floor of 256. */
    struct mh_cap_facts f = machine(1000);
    struct mh_cap_plan p = plan(MH_RUN_CONCURRENCY_AUTO, &f);
    assert_int_equal(p.time_need, 256);
    assert_int_equal(p.checks, 1000);
    assert_int_equal(p.fds, (20000 - 64) / 4);
    assert_int_equal(p.memory, 24 * GIB / 4 / (256 * 1024));
    assert_int_equal(p.cpu, 512);
    assert_int_equal(p.concurrency, 256);
    assert_int_equal(p.bound, MH_CAP_TIME);
}

static void
test_time_need_above_floor(void **state)
{
    (void)state;
    /* 2,000 x 10 s over 30 s: 667 wanted, but 2 CPUs give 512. */
    struct mh_cap_facts f = machine(2000);
    f.interval_s = 30;
    struct mh_cap_plan p = plan(MH_RUN_CONCURRENCY_AUTO, &f);
    assert_int_equal(p.time_need, 667);
    assert_int_equal(p.concurrency, 512);
    assert_int_equal(p.bound, MH_CAP_CPUS);
    /* On 4 CPUs the time need decides. */
    f.cpus = 4;
    p = plan(MH_RUN_CONCURRENCY_AUTO, &f);
    assert_int_equal(p.concurrency, 667);
    assert_int_equal(p.bound, MH_CAP_TIME);
}

static void
test_cpus(void **state)
{
    (void)state;
    struct mh_cap_facts f = machine(10000); /* need 1667 */
    struct mh_cap_plan p = plan(MH_RUN_CONCURRENCY_AUTO, &f);
    assert_int_equal(p.time_need, 1667);
    assert_int_equal(p.concurrency, 512);
    assert_int_equal(p.bound, MH_CAP_CPUS);
    /* 256 per CPU, never above the configurable maximum. */
    f.cpus = 64;
    p = plan(MH_RUN_CONCURRENCY_AUTO, &f);
    assert_int_equal(p.cpu, MH_RUN_MAX_CONCURRENCY);
    assert_int_equal(p.concurrency, MH_RUN_MAX_CONCURRENCY);
    /* An unknown CPU count counts as one. */
    f.cpus = 0;
    p = plan(MH_RUN_CONCURRENCY_AUTO, &f);
    assert_int_equal(p.cpus, 1);
    assert_int_equal(p.concurrency, 256);
    assert_int_equal(p.bound, MH_CAP_CPUS);
}

static void
test_few_checks(void **state)
{
    (void)state;
    struct mh_cap_facts f = machine(10);
    struct mh_cap_plan p = plan(MH_RUN_CONCURRENCY_AUTO, &f);
    assert_int_equal(p.concurrency, 10);
    assert_int_equal(p.bound, MH_CAP_CHECKS);
}

static void
test_descriptors(void **state)
{
    (void)state;
    struct mh_cap_facts f = machine(10000);
    f.fd_limit = 1024; /* a distribution's default soft limit */
    struct mh_cap_plan p = plan(MH_RUN_CONCURRENCY_AUTO, &f);
    assert_int_equal(p.concurrency, (1024 - 64) / 4);
    assert_int_equal(p.bound, MH_CAP_FDS);
    /* Fewer descriptors than the reserve: still one check at a time. */
    f.fd_limit = 50;
    p = plan(MH_RUN_CONCURRENCY_AUTO, &f);
    assert_int_equal(p.fds, 0);
    assert_int_equal(p.concurrency, 1);
    assert_int_equal(p.bound, MH_CAP_FDS);
}

static void
test_memory(void **state)
{
    (void)state;
    struct mh_cap_facts f = machine(10000);
    f.mem_available = 64ull * 1024 * 1024; /* a small container */
    struct mh_cap_plan p = plan(MH_RUN_CONCURRENCY_AUTO, &f);
    assert_int_equal(p.concurrency, 64);
    assert_int_equal(p.bound, MH_CAP_MEMORY);
}

static void
test_unknown_facts(void **state)
{
    (void)state;
    struct mh_cap_facts f = machine(1000);
    f.fd_limit = 0;
    f.mem_available = 0;
    struct mh_cap_plan p = plan(MH_RUN_CONCURRENCY_AUTO, &f);
    assert_true(p.fds == ~0ull && p.memory == ~0ull);
    assert_int_equal(p.concurrency, 256);
    /* A tie (time need 256, one CPU's 256) names the first bound of the
     * documented order. */
    f.cpus = 1;
    p = plan(MH_RUN_CONCURRENCY_AUTO, &f);
    assert_int_equal(p.concurrency, 256);
    assert_int_equal(p.bound, MH_CAP_TIME);
}

static void
test_configured_wins(void **state)
{
    (void)state;
    struct mh_cap_facts f = machine(10000);
    f.fd_limit = 1024;
    struct mh_cap_plan p = plan(16, &f);
    assert_int_equal(p.concurrency, 16);
    assert_int_equal(p.bound, MH_CAP_CONFIGURED);
    /* Even above every bound: the operator decides (cmd_run.c warns). */
    p = plan(1000, &f);
    assert_int_equal(p.concurrency, 1000);
    assert_true(p.concurrency > p.fds);
}

static void
test_describe(void **state)
{
    (void)state;
    struct mh_cap_facts f = machine(10000);
    f.mem_available = 0;
    struct mh_cap_plan p = plan(MH_RUN_CONCURRENCY_AUTO, &f);
    char buf[512];
    assert_string_equal(mh_cap_describe(&p, buf, sizeof buf),
                        "512 (automatic: the least of time need 1667, checks "
                        "10000, descriptors 4984, memory -, CPUs 512 for 2 "
                        "CPUs; bound by the CPUs)");
    p = plan(16, &f);
    assert_string_equal(mh_cap_describe(&p, buf, sizeof buf),
                        "16 (configured; automatic would weigh time need "
                        "1667, descriptors 4984, memory -, CPUs 512 for 2 "
                        "CPUs)");
    /* Truncation keeps a terminated string. */
    char small[8];
    mh_cap_describe(&p, small, sizeof small);
    assert_string_equal(small, "16 (con");
}

static void
test_probe_this_machine(void **state)
{
    (void)state;
    struct mh_cap_facts f;
    memset(&f, 0, sizeof f);
    mh_cap_probe(&f);
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    /* The soft limit was raised to the hard one (or to 2^20). */
    if (rl.rlim_max != RLIM_INFINITY) {
        assert_true(rl.rlim_cur == rl.rlim_max);
    }
    assert_true(f.fd_limit > 0 &&
                f.fd_limit == (unsigned long long)rl.rlim_cur);
    assert_true(f.mem_available > 0);
    assert_true(f.cpus >= 1);
}

/* Stores the running thread's stack size in *arg. */
static void *
stack_size_of_self(void *arg)
{
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstacksize(&a, arg);
        pthread_attr_destroy(&a);
    }
    return NULL;
}

static void
test_thread_stack(void **state)
{
    (void)state;
    pthread_t th;
    size_t sz = 0;
    assert_int_equal(mh_thread_start(&th, stack_size_of_self, &sz), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(sz, MH_THREAD_STACK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_need_floor),
        cmocka_unit_test(test_time_need_above_floor),
        cmocka_unit_test(test_cpus),
        cmocka_unit_test(test_few_checks),
        cmocka_unit_test(test_descriptors),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_unknown_facts),
        cmocka_unit_test(test_configured_wins),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_probe_this_machine),
        cmocka_unit_test(test_thread_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
