/* SPDX-License-Identifier: MIT */
/*
 * run_dns: an event loop's DNS service (run_loop.h): the c-ares channels
 * its checks' lookups go out on, driven by the loop's epoll instance
 * instead of a poll() of their own, so a check waiting for an answer holds
 * no thread.
 *
 * One channel per resolver (the checks' "resolver" key, or the system's;
 * for DNSBL queries also per per-try timeout, mh_rdns_dnsbl), made on
 * first use and kept for the loop's life: its UDP socket, source
 * port and retry timers serve every lookup of the loop's checks. Each
 * loop has its own channels, not one set per runner: c-ares 1.18
 * (Debian 12) is not thread-safe, so a channel shared by the loops would
 * need a lock around every c-ares call and a hand-off of each answer to
 * the loop of its check; a channel per loop costs one more UDP socket per
 * loop (two loops per core) and keeps every callback on the thread of its
 * check.
 *
 * The channels' sockets are registered with the loop's epoll instance
 * under tags made by MH_RDNS_TAG (c-ares tells when a socket opens, changes
 * interest and closes: mh_resolve_channel_new_watched); the loop hands
 * their events to mh_rdns_event() and wakes for the channels' retry timers
 * (mh_rdns_next, mh_rdns_timers). Everything here runs on the loop's
 * thread.
 */
#ifndef MH_RUN_DNS_H
#define MH_RUN_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* epoll data of a channel socket fd: the high half is MH_RDNS_TAG_HI
 * (never a check's: run_loop.c skips it), the low half the descriptor. */
#define MH_RDNS_TAG_HI 0xfffffffeu
#define MH_RDNS_TAG(fd) (((uint64_t)MH_RDNS_TAG_HI << 32) | (uint32_t)(fd))

struct mh_rdns;

/* A service registering its sockets with epoll instance ep (borrowed).
 * NULL when out of memory. */
struct mh_rdns *mh_rdns_new(int ep);
/* Frees the channels (lookups not ended get their callbacks, cancelled)
 * and the service. NULL is fine. */
void mh_rdns_free(struct mh_rdns *d);

/* The channel (an ares_channel, for resolve.h) of resolver ("IP[:PORT]",
 * NULL or "": the system's), made on first use: per-try timeout 1.5 s,
 * 3 tries, as the lookups of a one-shot check. NULL with the reason in
 * err when it cannot be set up (a bad resolver address, out of memory). */
void *mh_rdns_channel(struct mh_rdns *d, const char *resolver, char *err,
                      size_t errlen);

/* The loop's DNSBL queries to resolver (as mh_rdns_channel) of checks
 * with timeout_s: a channel of their own, whose SERVFAIL and REFUSED
 * answers are answers (MH_RESOLVE_SERVFAIL_ANSWERS), whose socket has
 * large buffers (MH_RESOLVE_BULK) and whose per-try timeout and tries are
 * a one-shot check's (mh_resolve_tries_for(timeout_s): a seventh of it,
 * 250 ms .. 2 s, 4 tries; c-ares 1.18 sets them per channel, so checks
 * whose timeouts give other tries get another channel: a lost answer of a
 * 1 s check is asked again after 250 ms, not after 1.5 s, past its
 * deadline), and the window the loop's DNSBL checks on that channel share
 * (probes/dnsbl_flow.h), made on first use and kept for the loop's life.
 * NULL with the reason in err. */
struct mh_dnsbl_shared;
struct mh_dnsbl_shared *mh_rdns_dnsbl(struct mh_rdns *d, const char *resolver,
                                      double timeout_s, char *err,
                                      size_t errlen);

/* The epoll events (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP) of the socket
 * fd of one of the channels: c-ares reads the answers (their callbacks run
 * here). An fd no channel has any more is ignored. */
void mh_rdns_event(struct mh_rdns *d, int fd, uint32_t events);
/* Monotonic time (s) of the next retry timer of any channel, -1: none. */
double mh_rdns_next(struct mh_rdns *d);
/* Runs the channels' due retry timers (and gives up on queries whose
 * tries are used up: their callbacks run here). */
void mh_rdns_timers(struct mh_rdns *d);

#endif
