/* SPDX-License-Identifier: MIT */
/*
 * threads: small-stack thread creation (see threads.h).
 */
#include "threads.h"

int
mh_thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) {
        return pthread_create(th, NULL, fn, arg);
    }
    /* Refused only below PTHREAD_STACK_MIN: the default stays. */
    (void)pthread_attr_setstacksize(&attr, MH_THREAD_STACK);
    int rc = pthread_create(th, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return rc;
}
