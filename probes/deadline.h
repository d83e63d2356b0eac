/* SPDX-License-Identifier: MIT */
/*
 * deadline: one monotonic deadline per check (CLOCK_MONOTONIC; no
 * alarm(), no signal handler).
 *
 * The deadline is computed once from -t and passed to every wait: connect,
 * reads, the TLS handshake and DNS all use mh_deadline_ms_left(). Nothing in
 * mailhealth uses alarm()/SIGALRM.
 */
#ifndef MH_DEADLINE_H
#define MH_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct mh_deadline {
    double start; /* monotonic seconds when the check started */
    double end;   /* monotonic seconds when the check must have ended */
};

/* Monotonic clock (CLOCK_MONOTONIC) in seconds. */
double mh_monotonic_s(void);

/* Starts a deadline `seconds` (> 0, fractions allowed) from now. */
void mh_deadline_start(struct mh_deadline *d, double seconds);

/* Milliseconds left, rounded up, never negative; 0 when expired. Clamped to
 * INT32_MAX so it fits poll()'s int timeout. */
int mh_deadline_ms_left(const struct mh_deadline *d);

/* Seconds left (fractional, never negative). */
double mh_deadline_s_left(const struct mh_deadline *d);

/* True once the deadline has passed. */
bool mh_deadline_expired(const struct mh_deadline *d);

/* Seconds since mh_deadline_start(). */
double mh_deadline_elapsed(const struct mh_deadline *d);

/* A CLOCK_MONOTONIC time in seconds as a timespec, for waits on condition
 * variables created with pthread_condattr_setclock(CLOCK_MONOTONIC). */
struct timespec mh_monotonic_timespec(double mono_s);

/* The configured length of the deadline in seconds. */
double mh_deadline_length(const struct mh_deadline *d);

#endif
