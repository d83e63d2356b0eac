/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the runner's rounds (plugin/run_round.c, run_pool.c) with
 * real checks on real event loops against a silent SMTP listener on
 * loopback (connections are accepted by the kernel, no greeting ever):
 *   - start offsets (mh_round_offset): stable, inside [0, spread), bounded
 *     so that every check ends within 90 % of the interval, spread out;
 *   - two spread rounds: each check starts at its offset (never before),
 *     at the same offset in both rounds, and the round ends within its
 *     interval, after its last check;
 *   - the watchdog on the loops: a check whose deadline no longer holds
 *     (the test hook moves it an hour away) is abandoned at timeout +
 *     grace with the watchdog's UNKNOWN, and a loop stuck in a callback
 *     (the hook blocks) is found, its check reported UNKNOWN, and the
 *     round ends without it; the stuck loop frees itself once it turns.
 * Timing assertions are bounds a busy machine cannot break (never early;
 * within the interval, whose slack is 10 % of it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "checks.h"
#include "deadline.h"
#include "result.h"
#include "run_round.h"
#include "runner.h"

/* A listener that never accepts: connects succeed, no greeting comes. */
static int
silent_listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 128), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* n smtp checks "c0".."c<n-1>" on 127.0.0.1:port; check 1 has timeout1_s
 * when that is > 0. */
static struct mh_run_config *
config_with(uint16_t port, size_t n, double timeout_s, double interval_s,
            double timeout1_s)
{
    size_t cap = 256 + n * 96;
    char *j = malloc(cap);
    assert_non_null(j);
    size_t len = (size_t)snprintf(j, cap,
                                  "{\"textfile\":\"/tmp/x.prom\","
                                  "\"interval_seconds\":%g,"
                                  "\"timeout_seconds\":%g,\"checks\":[",
                                  interval_s, timeout_s);
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(j + len, cap - len,
                                "%s{\"name\":\"c%zu\",\"check\":\"smtp\","
                                "\"host\":\"127.0.0.1\",\"port\":%u",
                                i > 0 ? "," : "", i, port);
        if (i == 1 && timeout1_s > 0) {
            len += (size_t)snprintf(j + len, cap - len, ",\"timeout\":%g",
                                    timeout1_s);
        }
        len += (size_t)snprintf(j + len, cap - len, "}");
    }
    snprintf(j + len, cap - len, "]}");
    struct mh_run_config *c = NULL;
    char err[512] = "";
    if (mh_run_config_parse(j, strlen(j), "t.json", NULL, &c, err,
                            sizeof err) != 0) {
        fail_msg("config refused: %s", err);
    }
    free(j);
    return c;
}

static struct mh_run_config *
config(uint16_t port, size_t n, double timeout_s, double interval_s)
{
    return config_with(port, n, timeout_s, interval_s, 0);
}

static void
test_offsets(void **state)
{
    (void)state;
    struct mh_run_config *c = config(25, 200, 10, 60);
    struct mh_run_config *again = config(25, 200, 10, 60);
    double lo = 60, hi = 0;
    size_t same_other_seed = 0;
    for (size_t i = 0; i < c->nchecks; i++) {
        const struct mh_run_check *chk = &c->checks[i];
        double o = mh_round_offset(chk, 42, 60, 60);
        /* 90 % of 60 s less the 10 s timeout */
        assert_true(o >= 0 && o < 44);
        /* the same for every round and after a reload */
        assert_true(o == mh_round_offset(chk, 42, 60, 60));
        assert_true(o == mh_round_offset(&again->checks[i], 42, 60, 60));
        same_other_seed += o == mh_round_offset(chk, 43, 60, 60);
        /* a narrower spread keeps it inside */
        double narrow = mh_round_offset(chk, 42, 60, 5);
        assert_true(narrow >= 0 && narrow < 5);
        assert_true(mh_round_offset(chk, 42, 60, 0) == 0);
        /* a timeout as long as the interval: at the round's start */
        assert_true(mh_round_offset(chk, 42, 10, 60) == 0);
        lo = o < lo ? o : lo;
        hi = o > hi ? o : hi;
    }
    /* spread over the whole span, not bunched at its start */
    assert_true(lo < 44 * 0.05);
    assert_true(hi > 44 * 0.95);
    assert_true(same_other_seed < 5);
    mh_run_config_free(c);
    mh_run_config_free(again);
}

/* ---- rounds on the loops ---------------------------------------------- */

#define NSPREAD 12

struct starts {
    atomic_int n;
    double at[NSPREAD]; /* dl->start per check index */
};

static struct starts starts;

static size_t
check_index(const struct mh_run_check *chk)
{
    return chk->index;
}

static void
record_start(const struct mh_run_check *chk, struct mh_deadline *dl)
{
    size_t i = check_index(chk);
    if (i < NSPREAD) {
        starts.at[i] = dl->start;
        atomic_fetch_add(&starts.n, 1);
    }
}

/* Runs one round of cfg to its end with the watchdog every 0.1 s; returns
 * the results (n entries) and the round's duration, the checks' offsets
 * in offsets (when not NULL) and the round's start. */
static struct mh_result **
run_one(struct mh_shared_cfg *cfg, double interval_s, double spread_s,
        unsigned nloops, double *offsets, double *start, double *secs,
        size_t *detached)
{
    size_t n = cfg->c->nchecks;
    unsigned char *on_loop = calloc(n, 1);
    assert_non_null(on_loop);
    for (size_t i = 0; i < n; i++) {
        on_loop[i] = (unsigned char)mh_smtp_fits_loop(&cfg->c->checks[i].cfg);
        assert_int_equal(on_loop[i], MH_LOOP_ADDRESS);
    }
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(efd >= 0);
    struct mh_round_opts o = {.cfg = cfg,
                              .on_loop = on_loop,
                              .concurrency = 2,
                              .nloops = nloops,
                              .loop_in_flight = 64,
                              .interval_s = interval_s,
                              .spread_s = spread_s,
                              .seed = 7,
                              .efd = efd};
    struct round *r = mh_round_start(&o);
    assert_non_null(r);
    *start = r->start;
    for (size_t i = 0; offsets != NULL && i < n; i++) {
        offsets[i] = r->jobs[i].offset_s;
    }
    while (!mh_round_done(r)) {
        struct pollfd pf = {.fd = efd, .events = POLLIN};
        if (poll(&pf, 1, 100) > 0) {
            uint64_t junk;
            ssize_t rd = read(efd, &junk, sizeof junk);
            (void)rd;
        }
        mh_pool_watchdog(r);
    }
    *secs = mh_monotonic_s() - *start;
    struct mh_result **res = mh_round_end(r, detached);
    assert_non_null(res);
    close(efd);
    free(on_loop);
    return res;
}

static void
free_results(struct mh_result **res, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mh_result_free(res[i]);
    }
    free(res);
}

static void
test_spread_rounds(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = silent_listener(&port);
    const double interval = 4, timeout = 0.5;
    struct mh_shared_cfg *cfg =
        mh_shared_cfg_new(config(port, NSPREAD, timeout, interval));
    assert_non_null(cfg);
    mh_round_loop_start_hook = record_start;
    double first[NSPREAD];
    for (int round = 0; round < 2; round++) {
        double off[NSPREAD], start, secs;
        size_t detached = 0;
        atomic_store(&starts.n, 0);
        struct mh_result **res =
            run_one(cfg, interval, interval, 2, off, &start, &secs, &detached);
        assert_int_equal(atomic_load(&starts.n), NSPREAD);
        assert_int_equal(detached, 0);
        double last = 0;
        for (size_t i = 0; i < NSPREAD; i++) {
            assert_non_null(res[i]);
            /* inside the span: 90 % of 4 s less the 0.5 s timeout */
            assert_true(off[i] >= 0 && off[i] < 0.9 * interval - timeout);
            if (round == 0) {
                first[i] = off[i];
            } else {
                assert_true(off[i] == first[i]); /* stable across rounds */
            }
            /* started at its offset, never before it (1 ms: the clock's
             * rounding in the loop's wait) */
            if (starts.at[i] < start + off[i] - 0.001) {
                fail_msg("c%zu started at +%.3f s, before its offset %.3f s", i,
                         starts.at[i] - start, off[i]);
            }
            last = off[i] > last ? off[i] : last;
        }
        /* the round ends after its last check, within its interval */
        assert_true(secs >= last + timeout - 0.01);
        if (secs >= interval) {
            fail_msg("round took %.3f s, not within the %.0f s interval", secs,
                     interval);
        }
        free_results(res, NSPREAD);
    }
    mh_round_loop_start_hook = NULL;
    mh_shared_cfg_unref(cfg);
    close(lfd);
}

/* ---- the watchdog on the loops ------------------------------------------ */

static atomic_bool release_stall;

/* c0: its deadline no longer holds; c1: its loop is stuck in this
 * callback until released (c3 waits behind it on that loop); c2 runs as
 * it is. */
static void
break_checks(const struct mh_run_check *chk, struct mh_deadline *dl)
{
    if (check_index(chk) == 0) {
        dl->end += 3600;
    } else if (check_index(chk) == 1) {
        while (!atomic_load(&release_stall)) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

static void
test_watchdog_loops(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = silent_listener(&port);
    /* c1's 20 s timeout: its loop is found stuck (after 10 s) before c1
     * itself is overdue (20 s + 10 s of grace). */
    struct mh_shared_cfg *cfg =
        mh_shared_cfg_new(config_with(port, 4, 1, 60, 20));
    assert_non_null(cfg);
    atomic_store(&release_stall, false);
    mh_round_loop_start_hook = break_checks;
    double start, secs;
    size_t detached = 0;
    /* Spread 0, two loops: c0 and c2 on loop 0, c1 and c3 on loop 1. */
    struct mh_result **res =
        run_one(cfg, 60, 0, 2, NULL, &start, &secs, &detached);
    for (size_t i = 0; i < 4; i++) {
        assert_non_null(res[i]);
    }
    assert_int_equal(res[0]->state, MH_STATE_UNKNOWN);
    assert_non_null(strstr(res[0]->summary,
                           "check did not end within its deadline (internal "
                           "error, please report): abandoned"));
    assert_int_equal(res[1]->state, MH_STATE_UNKNOWN);
    assert_non_null(strstr(res[1]->summary,
                           "check did not end within its deadline (internal "
                           "error, please report): its event loop is stuck"));
    assert_int_equal(res[3]->state, MH_STATE_UNKNOWN);
    assert_non_null(strstr(res[3]->summary, "check did not start: its event "
                                            "loop is stuck"));
    /* c2 shares c0's loop, which kept turning: its own timeout */
    assert_null(strstr(res[2]->summary, "internal error"));
    /* c0 abandoned at 1 s + 5 s of grace, c1's loop found stuck after a
     * 10 s pass: not before */
    assert_true(secs >= 10 - 0.01);
    assert_int_equal(detached, 1);
    free_results(res, 4);
    /* The stuck loop turns again: it ends its check and frees itself,
     * with its reference to the round (and so to the configuration). */
    atomic_store(&release_stall, true);
    double until = mh_monotonic_s() + 20;
    while (atomic_load(&cfg->refs) > 1 && mh_monotonic_s() < until) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&cfg->refs), 1);
    mh_round_loop_start_hook = NULL;
    mh_shared_cfg_unref(cfg);
    close(lfd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_spread_rounds),
        cmocka_unit_test(test_watchdog_loops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
