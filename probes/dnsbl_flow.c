/* SPDX-License-Identifier: MIT */
/*
 * dnsbl_flow: the DNSBL check's window and channels (see dnsbl_flow.h).
 */
#include "dnsbl_flow.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <ares.h>

#include "resolve.h"

void
mh_dnsbl_window_init(struct mh_dnsbl_window *w, unsigned fixed)
{
    memset(w, 0, sizeof *w);
    w->adaptive = fixed == 0;
    w->cur = fixed > 0 ? fixed : MH_DNSBL_WINDOW_START;
    w->ceil = fixed > 0 ? fixed : MH_DNSBL_WINDOW_CEIL;
    w->ssthresh = w->ceil;
    w->peak = w->cur;
}

uint64_t
mh_dnsbl_window_sent(struct mh_dnsbl_window *w)
{
    return w->sent++;
}

bool
mh_dnsbl_window_clean(struct mh_dnsbl_window *w)
{
    if (!w->adaptive || w->cur >= w->ceil) {
        return false;
    }
    if (w->cur >= w->ssthresh) {
        /* congestion avoidance: one more per window of answers */
        if (++w->acc < w->cur) {
            return false;
        }
        w->acc = 0;
    }
    w->cur++;
    if (w->cur > w->peak) {
        w->peak = w->cur;
    }
    return (w->cur & (w->cur - 1)) == 0;
}

bool
mh_dnsbl_window_lost(struct mh_dnsbl_window *w, uint64_t seq)
{
    if (!w->adaptive || seq < w->cut_from) {
        return false;
    }
    size_t half = w->cur / 2;
    w->cur = half > MH_DNSBL_WINDOW_FLOOR ? half : MH_DNSBL_WINDOW_FLOOR;
    w->ssthresh = w->cur;
    w->acc = 0;
    w->cut_from = w->sent; /* what is in flight was sent into the old one */
    w->cuts++;
    return true;
}

void
mh_dnsbl_shared_init(struct mh_dnsbl_shared *s, void *ch)
{
    memset(s, 0, sizeof *s);
    s->ch = ch;
    mh_dnsbl_window_init(&s->win, 0);
    s->win.ceil = MH_DNSBL_SHARED_CEIL;
    s->win.ssthresh = s->win.ceil;
}

int
mh_dnsbl_channels_open(struct mh_dnsbl_channels *c, size_t max_window,
                       const char *resolver, unsigned flags,
                       const struct mh_deadline *dl, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    size_t n =
        (max_window + MH_DNSBL_CHANNEL_QUERIES - 1) / MH_DNSBL_CHANNEL_QUERIES;
    c->max = n < 1 ? 1 : n > MH_DNSBL_CHANNELS_MAX ? MH_DNSBL_CHANNELS_MAX : n;
    c->resolver = resolver;
    c->flags = flags;
    c->dl = dl;
    if (mh_resolve_channel_new_within(resolver, flags, dl, &c->ch[0], err,
                                      errlen) != 0) {
        return -1;
    }
    c->n = 1;
    return 0;
}

size_t
mh_dnsbl_channels_pick(struct mh_dnsbl_channels *c)
{
    size_t best = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->inflight[i] < MH_DNSBL_CHANNEL_QUERIES) {
            return i;
        }
        if (c->inflight[i] < c->inflight[best]) {
            best = i;
        }
    }
    char err[160];
    if (c->n < c->max &&
        mh_resolve_channel_new_within(c->resolver, c->flags, c->dl,
                                      &c->ch[c->n], err, sizeof err) == 0) {
        return c->n++;
    }
    return best;
}

void
mh_dnsbl_channels_close(struct mh_dnsbl_channels *c)
{
    for (size_t i = 0; i < c->n; i++) {
        mh_resolve_channel_free(c->ch[i]);
        c->ch[i] = NULL;
        c->inflight[i] = 0;
    }
    c->n = 0;
}

/* Most sockets one poll() watches: each channel's UDP socket and the TCP
 * connections c-ares opens for truncated answers. */
#define FLOW_POLL_MAX (MH_DNSBL_CHANNELS_MAX * ARES_GETSOCK_MAXNUM)

/* Adds the sockets channel ci wants watched to pfd / owner. */
static nfds_t
add_sockets(struct mh_dnsbl_channels *c, size_t ci, struct pollfd *pfd,
            size_t *owner, nfds_t n)
{
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    /* ARES_GETSOCK_READABLE/WRITABLE shift a signed 1 into the sign bit
     * for the last socket (undefined behaviour): test the bits unsigned */
    unsigned bits = (unsigned)ares_getsock((ares_channel)c->ch[ci], socks,
                                           ARES_GETSOCK_MAXNUM);
    for (int i = 0; i < ARES_GETSOCK_MAXNUM && n < FLOW_POLL_MAX; i++) {
        int want = ((bits >> i) & 1u) ? POLLIN : 0;
        want |= ((bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u) ? POLLOUT : 0;
        short ev = (short)want;
        if (ev != 0) {
            pfd[n] = (struct pollfd){.fd = socks[i], .events = ev};
            owner[n++] = ci;
        }
    }
    return n;
}

/* How long poll() may wait: not at all when more is to be sent; else until
 * the nearest retry timer of a channel (ares_timeout walks every query of
 * the channel in c-ares 1.18, so with many in flight the tick stands in
 * for it), the tick, and the deadline. */
static int
wait_ms(struct mh_dnsbl_channels *c, const struct mh_deadline *dl, bool more)
{
    if (more) {
        return 0;
    }
    int left = mh_deadline_ms_left(dl);
    int ms = left < MH_DNSBL_FLOW_TICK_MS ? left : MH_DNSBL_FLOW_TICK_MS;
    size_t busy = 0;
    for (size_t i = 0; i < c->n; i++) {
        busy += c->inflight[i];
    }
    if (busy > MH_DNSBL_CHANNEL_QUERIES) {
        return ms;
    }
    ms = left;
    for (size_t i = 0; i < c->n; i++) {
        struct timeval maxtv = {ms / 1000, (ms % 1000) * 1000};
        struct timeval tvbuf;
        struct timeval *tv =
            ares_timeout((ares_channel)c->ch[i], &maxtv, &tvbuf);
        int t = (int)(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000);
        ms = t < ms ? t : ms;
    }
    return ms;
}

void
mh_dnsbl_flow_wait(struct mh_dnsbl_channels *c, const struct mh_deadline *dl,
                   mh_dnsbl_send_fn send, void *arg)
{
    double last_tick = mh_monotonic_s();
    for (;;) {
        bool more = send(arg);
        struct pollfd pfd[FLOW_POLL_MAX];
        size_t owner[FLOW_POLL_MAX];
        nfds_t n = 0;
        for (size_t ci = 0; ci < c->n; ci++) {
            n = add_sockets(c, ci, pfd, owner, n);
        }
        if (n == 0 && !more) {
            return; /* nothing in flight, nothing to send */
        }
        if (mh_deadline_expired(dl)) {
            for (size_t ci = 0; ci < c->n; ci++) {
                ares_cancel((ares_channel)c->ch[ci]);
            }
            return;
        }
        int pr = poll(pfd, n, wait_ms(c, dl, more));
        for (nfds_t i = 0; pr > 0 && i < n; i++) {
            mh_resolve_process(c->ch[owner[i]], &pfd[i]);
        }
        double now = mh_monotonic_s();
        if (pr <= 0 || now - last_tick >= MH_DNSBL_FLOW_TICK_MS / 1000.0) {
            /* retry timers of every channel, busy or silent */
            last_tick = now;
            for (size_t ci = 0; ci < c->n; ci++) {
                ares_process_fd((ares_channel)c->ch[ci], ARES_SOCKET_BAD,
                                ARES_SOCKET_BAD);
            }
        }
    }
}
