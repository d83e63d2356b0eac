/* SPDX-License-Identifier: MIT */
/*
 * threads: how the probes and the runner start their threads (the
 * runner's workers, the SMTP check's TLS helper, the parallel MX probes).
 */
#ifndef MH_THREADS_H
#define MH_THREADS_H

#include <pthread.h>

/*
 * Stack size of the threads started with mh_thread_start(). The probes
 * keep their buffers small (a few KiB per frame; OpenSSL's chain
 * verification and c-ares need less than 64 KiB), while glibc gives every
 * thread 8 MiB (RLIMIT_STACK): a runner with hundreds of checks in flight
 * then maps gigabytes, and glibc's cache of freed stacks (40 MiB) keeps
 * only a handful for reuse, so every round maps and unmaps its stacks
 * again. Sanitizer builds get more, as their frames are several times
 * larger.
 */
#if defined(__SANITIZE_ADDRESS__)
#define MH_THREAD_STACK (4u * 1024u * 1024u)
#else
#define MH_THREAD_STACK (512u * 1024u)
#endif

/*
 * pthread_create() with a stack of MH_THREAD_STACK bytes (joinable). When
 * the attribute cannot be set up the default stack is used. Returns 0 or
 * pthread_create's error number (EAGAIN: the thread or memory limit).
 */
int mh_thread_start(pthread_t *th, void *(*fn)(void *), void *arg);

#endif
