/* SPDX-License-Identifier: MIT */
/*
 * dnsbl_flow: how many DNSBL queries one check keeps in flight (the
 * window), and the c-ares channels they go out on.
 *
 * The window
 *   Every query of a DNSBL check misses the resolver's cache, and a stock
 *   Unbound serves 1,024 such queries per thread at once
 *   (num-queries-per-thread; the lab's dropped 18 of a burst of 1,700,
 *   and answered some of them not even when asked again), dropping new
 *   ones beyond that (or the oldest after jostle-timeout, 200 ms): a burst
 *   wider than the resolver takes costs the MTA that shares it its own
 *   lookups and the check answers it needs. Yet a /22 on 50 zones (51,200
 *   queries) paced at 256 in flight through a resolver 250 ms away takes
 *   200 round trips, 50 s. So by default the window adapts, as TCP's
 *   congestion window does (RFC 5681 3.1): it starts at
 *   MH_DNSBL_WINDOW_START, grows by one query for every answer the caller
 *   counts as clean (doubling every round trip, "slow start") up to
 *   MH_DNSBL_WINDOW_CEIL, and is halved (never below MH_DNSBL_WINDOW_FLOOR)
 *   when an answer was lost (c-ares had to ask again, or no answer came).
 *   After a cut it grows by one query per window of answers (congestion
 *   avoidance), and one round of losses cuts once: losses of queries sent
 *   before the last cut do not cut again. The DNSBL probe counts an answer
 *   as clean only when it came on the first try, at least 20 ms after the
 *   query (a faster resolver gets 12,800 queries a second or more from the
 *   start window: nothing to gain, and it is most likely the MTA's own)
 *   and within twice the zone's fastest answer (a resolver that starts
 *   queueing stops the growth). The ceiling is 4 x a stock Unbound's
 *   per-thread list: a resolver that far away and that even is seldom the
 *   MTA's local one, and a loss halves the window at once. A fixed window
 *   (--max-in-flight N) does not adapt: for an operator who knows the
 *   resolver (its own Unbound with num-queries-per-thread raised, or a
 *   large remote one).
 *
 * The channels
 *   c-ares 1.18 sends every query of a channel to one server over ONE UDP
 *   socket (ARES_OPT_UDP_MAX_QUERIES, which spreads them, came in 1.20), and
 *   answers that overflow its receive buffer (net.core.rmem_default,
 *   208 KiB: a few hundred answers) are lost. A check may open one channel
 *   per MH_DNSBL_CHANNEL_QUERIES of its largest window (at most
 *   MH_DNSBL_CHANNELS_MAX), each with its own socket, source port and
 *   buffer; a query goes out on the first channel with fewer than
 *   MH_DNSBL_CHANNEL_QUERIES in flight, and the next channel is opened
 *   only when every open one has that many: a check of a few queries uses
 *   one socket. mh_dnsbl_flow_wait() runs one poll() loop over the sockets of
 *   every channel and lets the caller send more between two polls, a
 *   bounded burst at a time, so answers are read while a wide window is
 *   being filled.
 */
#ifndef MH_DNSBL_FLOW_H
#define MH_DNSBL_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deadline.h"

/* The adaptive window: first size, ceiling and floor (queries). */
#define MH_DNSBL_WINDOW_START 256
#define MH_DNSBL_WINDOW_CEIL 4096 /* 4 x Unbound's per-thread list */
/* Never below the start: losses are most often a resolver farther away
 * than c-ares' per-try timeout (every query asked again), not one that
 * drops; 256 is what the check always sent before it adapted. */
#define MH_DNSBL_WINDOW_FLOOR MH_DNSBL_WINDOW_START

struct mh_dnsbl_window {
    bool adaptive;     /* false: cur stays what was asked */
    size_t cur;        /* queries allowed in flight now */
    size_t ceil;       /* the most cur grows to */
    size_t ssthresh;   /* below: slow start; from it: +1 per window */
    size_t acc;        /* clean answers towards the next +1 above it */
    uint64_t sent;     /* queries sent so far (the next one's number) */
    uint64_t cut_from; /* losses of queries numbered below do not cut */
    size_t cuts;       /* how often the window was halved */
    size_t peak;       /* the largest cur so far */
};

/* Sets up w: fixed > 0 gives a fixed window of fixed queries; 0 the
 * adaptive one (MH_DNSBL_WINDOW_START, growing to MH_DNSBL_WINDOW_CEIL). */
void mh_dnsbl_window_init(struct mh_dnsbl_window *w, unsigned fixed);

/* A query goes out: returns its number, for mh_dnsbl_window_lost(). */
uint64_t mh_dnsbl_window_sent(struct mh_dnsbl_window *w);

/* An answer came back on its first try: the window grows (adaptive,
 * below its ceiling). Returns true when cur reached a new power of two (a
 * trace line's worth). */
bool mh_dnsbl_window_clean(struct mh_dnsbl_window *w);

/* The answer of query number seq was lost (retried, or none came): the
 * window is halved, once per round of losses. Returns true when it was
 * cut. */
bool mh_dnsbl_window_lost(struct mh_dnsbl_window *w, uint64_t seq);

/* Queries in flight one channel (its one UDP socket) is given before the
 * next one is used, and the most channels of a check. */
#define MH_DNSBL_CHANNEL_QUERIES 1024
#define MH_DNSBL_CHANNELS_MAX 16

struct mh_dnsbl_channels {
    void *ch[MH_DNSBL_CHANNELS_MAX]; /* ares_channel */
    size_t inflight[MH_DNSBL_CHANNELS_MAX];
    size_t n;             /* open */
    size_t max;           /* the most that may be opened */
    const char *resolver; /* borrowed, for the ones opened later */
    unsigned flags;
    const struct mh_deadline *dl;
};

/*
 * Sets up the channels of a check whose window never exceeds max_window:
 * at most one per MH_DNSBL_CHANNEL_QUERIES (at least one, at most
 * MH_DNSBL_CHANNELS_MAX), each set up by mh_resolve_channel_new_within()
 * with resolver, flags and dl (tries and per-try timeout from the time
 * left when it is opened). The first is opened here, the others when
 * mh_dnsbl_channels_pick() needs them (resolver and dl must live as long
 * as c). Returns 0, or -1 with a reason in err (nothing left open).
 */
int mh_dnsbl_channels_open(struct mh_dnsbl_channels *c, size_t max_window,
                           const char *resolver, unsigned flags,
                           const struct mh_deadline *dl, char *err,
                           size_t errlen);

/* The channel the next query goes out on (its index): the first one with
 * fewer than MH_DNSBL_CHANNEL_QUERIES in flight, else a new one while
 * fewer than c->max are open (if it can be opened), else the least busy.
 * The caller counts the query in c->inflight[i] and takes it off in its
 * callback. */
size_t mh_dnsbl_channels_pick(struct mh_dnsbl_channels *c);

/* Destroys every channel (queries still pending get ARES_EDESTRUCTION).
 * Safe on a closed set. */
void mh_dnsbl_channels_close(struct mh_dnsbl_channels *c);

/*
 * The DNSBL queries of many checks on one event loop (the runner's, see
 * plugin/run_dns.h) to one resolver with one per-try timeout (the checks'
 * timeouts give it, as in a one-shot check): ONE c-ares channel, whose
 * socket and retry timers the loop watches, and ONE adaptive window the
 * checks share
 * (as a check's own: MH_DNSBL_WINDOW_START growing, here up to
 * MH_DNSBL_SHARED_CEIL, the queries one UDP socket takes), so a thousand
 * checks on one loop keep at most that many queries in flight and pace
 * them as one burst. A check that finds the window full waits in the
 * queue (wait_head, wait_tail: the probe's, opaque here) and is woken by
 * the answers that make room, one query per turn in the order they
 * queued (dnsbl.c: room()). c-ares 1.18 cannot cancel one query of a
 * channel: the queries of a check that ends before its answers leave the
 * window at once, as cancelled ones would, and end in the channel later
 * (answer, the channel's last try, or the channel's end).
 * Owned by whoever made the channel; everything on the loop's thread.
 */
#define MH_DNSBL_SHARED_CEIL MH_DNSBL_CHANNEL_QUERIES
struct mh_dnsbl_shared {
    void *ch;                    /* ares_channel (borrowed) */
    struct mh_dnsbl_window win;  /* adaptive, ceiling MH_DNSBL_SHARED_CEIL */
    size_t inflight;             /* queries of the checks still running */
    size_t turns;                /* checks woken for their turn (dnsbl.c) */
    void *wait_head, *wait_tail; /* checks waiting for room (dnsbl.c) */
};

/* Sets up s on channel ch: the adaptive window, ceiling
 * MH_DNSBL_SHARED_CEIL, nothing in flight. */
void mh_dnsbl_shared_init(struct mh_dnsbl_shared *s, void *ch);

/* Sends what may go out now, at most a burst; returns true when it stopped
 * with more to send at once (the loop then only looks for answers before
 * calling it again). */
typedef bool (*mh_dnsbl_send_fn)(void *arg);

/*
 * The event loop of a check: calls send(arg), polls the sockets of every
 * channel (without waiting when send has more), hands what is readable or
 * writable to its channel (ares_process_fd), and lets each channel handle
 * its retry timers at least every MH_DNSBL_FLOW_TICK_MS. Returns when no
 * channel has a query left and send has nothing more, or when dl passes
 * (then every pending query is cancelled: ARES_ECANCELLED).
 */
#define MH_DNSBL_FLOW_TICK_MS 20
void mh_dnsbl_flow_wait(struct mh_dnsbl_channels *c,
                        const struct mh_deadline *dl, mh_dnsbl_send_fn send,
                        void *arg);

#endif
