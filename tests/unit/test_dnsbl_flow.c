/* SPDX-License-Identifier: MIT */
/* Unit tests of the DNSBL check's window and channel choice
 * (probes/dnsbl_flow.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dnsbl_flow.h"

/* Starts at 256, one more per clean answer (doubling per round trip),
 * stops at the ceiling; a power of two is reported once. */
static void
test_slow_start(void **state)
{
    (void)state;
    struct mh_dnsbl_window w;
    mh_dnsbl_window_init(&w, 0);
    assert_true(w.adaptive);
    assert_int_equal(w.cur, MH_DNSBL_WINDOW_START);
    size_t pow2 = 0;
    for (size_t i = 0; i < MH_DNSBL_WINDOW_START; i++) {
        mh_dnsbl_window_sent(&w);
        pow2 += mh_dnsbl_window_clean(&w) ? 1 : 0;
    }
    assert_int_equal(w.cur, 2 * MH_DNSBL_WINDOW_START);
    assert_int_equal(pow2, 1);
    for (size_t i = 0; i < 100000; i++) {
        mh_dnsbl_window_clean(&w);
    }
    assert_int_equal(w.cur, MH_DNSBL_WINDOW_CEIL);
    assert_int_equal(w.peak, MH_DNSBL_WINDOW_CEIL);
}

/* A loss halves the window once per round: losses of queries sent before
 * the cut do not cut again; after it, growth is one per window. Losses
 * never take it below where it started (256, the fixed window before it
 * adapted): a resolver farther away than c-ares' per-try timeout makes
 * every query "lost" (asked again), and a window cut down to 16 then left
 * most addresses without an answer at the deadline, where 256 answered
 * them all (h-attack: rbldnsd 600 ms away, -t 4, a /24 on 4 zones). */
static void
test_loss_halves_once_per_round(void **state)
{
    (void)state;
    struct mh_dnsbl_window w;
    mh_dnsbl_window_init(&w, 0);
    for (size_t i = 0; i < 3 * MH_DNSBL_WINDOW_START; i++) {
        mh_dnsbl_window_clean(&w);
    }
    assert_int_equal(w.cur, 4 * MH_DNSBL_WINDOW_START);
    uint64_t first = 0;
    for (size_t i = 0; i < 300; i++) {
        uint64_t s = mh_dnsbl_window_sent(&w);
        first = i == 10 ? s : first;
    }
    assert_true(mh_dnsbl_window_lost(&w, first));
    assert_int_equal(w.cur, 2 * MH_DNSBL_WINDOW_START);
    assert_false(mh_dnsbl_window_lost(&w, first + 1)); /* same round */
    assert_int_equal(w.cur, 2 * MH_DNSBL_WINDOW_START);
    uint64_t later = mh_dnsbl_window_sent(&w);
    for (size_t i = 0; i < w.cur - 1; i++) {
        mh_dnsbl_window_clean(&w);
    }
    assert_int_equal(w.cur, 2 * MH_DNSBL_WINDOW_START); /* one per window */
    mh_dnsbl_window_clean(&w);
    assert_int_equal(w.cur, 2 * MH_DNSBL_WINDOW_START + 1);
    assert_true(mh_dnsbl_window_lost(&w, later)); /* a new round */
    assert_int_equal(w.cur, (2 * MH_DNSBL_WINDOW_START + 1) / 2);
    assert_int_equal(w.cuts, 2);
    for (int i = 0; i < 20; i++) {
        mh_dnsbl_window_lost(&w, mh_dnsbl_window_sent(&w));
    }
    assert_int_equal(w.cur, MH_DNSBL_WINDOW_FLOOR);
    assert_int_equal(MH_DNSBL_WINDOW_FLOOR, MH_DNSBL_WINDOW_START);
}

/* --max-in-flight N: the window stays N. */
static void
test_fixed(void **state)
{
    (void)state;
    struct mh_dnsbl_window w;
    mh_dnsbl_window_init(&w, 51200);
    assert_false(w.adaptive);
    assert_false(mh_dnsbl_window_clean(&w));
    assert_false(mh_dnsbl_window_lost(&w, mh_dnsbl_window_sent(&w)));
    assert_int_equal(w.cur, 51200);
    assert_int_equal(w.ceil, 51200);
}

/* The first channel with room, else the least busy. */
static void
test_channel_pick(void **state)
{
    (void)state;
    struct mh_dnsbl_channels c = {.n = 3};
    assert_int_equal(mh_dnsbl_channels_pick(&c), 0);
    c.inflight[0] = MH_DNSBL_CHANNEL_QUERIES;
    assert_int_equal(mh_dnsbl_channels_pick(&c), 1);
    c.inflight[0] = MH_DNSBL_CHANNEL_QUERIES + 9;
    c.inflight[1] = MH_DNSBL_CHANNEL_QUERIES + 5;
    c.inflight[2] = MH_DNSBL_CHANNEL_QUERIES + 2;
    assert_int_equal(mh_dnsbl_channels_pick(&c), 2);
    c.inflight[0] = 3;
    assert_int_equal(mh_dnsbl_channels_pick(&c), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_start),
        cmocka_unit_test(test_loss_halves_once_per_round),
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_channel_pick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
