/* SPDX-License-Identifier: MIT */
/*
 * deadline: monotonic deadline arithmetic (see deadline.h).
 */
#include "deadline.h"

#include <math.h>
#include <time.h>

double
mh_monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
mh_deadline_start(struct mh_deadline *d, double seconds)
{
    d->start = mh_monotonic_s();
    d->end = d->start + (seconds > 0 ? seconds : 0);
}

double
mh_deadline_s_left(const struct mh_deadline *d)
{
    double left = d->end - mh_monotonic_s();
    return left > 0 ? left : 0;
}

int
mh_deadline_ms_left(const struct mh_deadline *d)
{
    double ms = ceil(mh_deadline_s_left(d) * 1000.0);
    if (ms > (double)INT32_MAX) {
        return INT32_MAX;
    }
    return (int)ms;
}

bool
mh_deadline_expired(const struct mh_deadline *d)
{
    return mh_monotonic_s() >= d->end;
}

double
mh_deadline_elapsed(const struct mh_deadline *d)
{
    return mh_monotonic_s() - d->start;
}

double
mh_deadline_length(const struct mh_deadline *d)
{
    return d->end - d->start;
}

struct timespec
mh_monotonic_timespec(double mono_s)
{
    struct timespec ts;
    ts.tv_sec = (time_t)mono_s;
    ts.tv_nsec = (long)((mono_s - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}
