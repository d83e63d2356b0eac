/* SPDX-License-Identifier: MIT */
/*
 * resolve: host name to addresses with c-ares, bounded by the check's
 * deadline (deadline.h): every wait uses the time remaining.
 */
#ifndef MH_RESOLVE_H
#define MH_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "deadline.h"

/* One resolved address. */
struct mh_addr {
    struct sockaddr_storage sa;
    socklen_t salen;
    int family;    /* AF_INET or AF_INET6 */
    char text[64]; /* numeric form, e.g. "192.0.2.1" or "2001:db8::1" */
};

/* Result of a lookup. */
enum mh_resolve_status {
    MH_RESOLVE_OK = 0,
    MH_RESOLVE_NOTFOUND, /* NXDOMAIN or no address of the family asked */
    MH_RESOLVE_TIMEOUT,  /* the deadline passed */
    MH_RESOLVE_FAILED    /* SERVFAIL, REFUSED, bad resolver, ... */
};

/*
 * Initialises c-ares once per process (ares_library_init). Returns 0 or -1.
 * Call from main() before any thread starts.
 */
int mh_resolve_global_init(void);
void mh_resolve_global_cleanup(void);

/*
 * Channel flag: report a SERVFAIL or REFUSED answer as ARES_ESERVFAIL /
 * ARES_EREFUSED. Without it c-ares 1.18 takes such an answer from the only
 * server as a dead server and reports ARES_ECONNREFUSED ("Could not contact
 * DNS servers"), so "the resolver answered SERVFAIL" could not be told from
 * "the resolver is unreachable". It sets ARES_FLAG_NOCHECKRESP, which in
 * c-ares 1.18 also skips the comparison of the answer's question section
 * (1.20 and later always compare); answers are still matched by the random
 * query ID on a connected UDP socket with a random source port. A recursive
 * resolver's SERVFAIL is final anyway: it has retried the zone's servers.
 */
#define MH_RESOLVE_SERVFAIL_ANSWERS 1u

/*
 * Channel flag: EDNS0 (RFC 6891) with a UDP payload size of 1232 octets,
 * for answers that carry RRSIGs (DNSSEC-signed TLSA sets); a truncated
 * answer is still asked again over TCP.
 */
#define MH_RESOLVE_EDNS 2u

/*
 * Channel flag: asks for MH_RESOLVE_BULK_SOCKBUF-byte socket receive and
 * send buffers (ARES_OPT_SOCK_RCVBUF / ARES_OPT_SOCK_SNDBUF; the kernel caps
 * them at net.core.rmem_max / wmem_max, 208 KiB unless raised), for a
 * channel with thousands of UDP queries in flight: c-ares 1.18 sends every
 * query to one server over ONE UDP socket (ARES_OPT_UDP_MAX_QUERIES, which
 * spreads them over several, came in 1.20), so a burst of answers that
 * overflows that socket's receive buffer is lost and asked again after the
 * per-try timeout. The buffer is a limit, not an allocation: memory is
 * taken only while answers wait to be read.
 */
#define MH_RESOLVE_BULK 4u
#define MH_RESOLVE_BULK_SOCKBUF (16 << 20)

/*
 * Sets up a c-ares channel for the given resolver ("IP", "IP:PORT",
 * "[IPv6]:PORT") or the system resolver when resolver is NULL; flags is 0 or
 * MH_RESOLVE_SERVFAIL_ANSWERS. Returns 0 or -1 with a reason in errbuf. The
 * channel is returned through *channel as an opaque pointer (ares_channel);
 * destroy it with mh_resolve_channel_free().
 */
int mh_resolve_channel_new(const char *resolver, unsigned flags, void **channel,
                           char *errbuf, size_t errlen);

/*
 * The per-try timeout (ms) and the tries of a channel that has left_ms
 * milliseconds until its deadline. c-ares 1.18 doubles the timeout at every
 * try on one server (t, 2t, 4t, ...: ares__send_query), so t = a seventh of
 * the time left, within MH_RESOLVE_TRY_MIN_MS .. MH_RESOLVE_TRY_MAX_MS, and
 * 4 tries retry a lost UDP answer twice before the deadline: -t 10 gives
 * 1.43 s (retries after 1.43 s and 4.3 s), -t 1 gives 250 ms (retries after
 * 0.25 s and 0.75 s). The lower bound stays above the time a recursive
 * resolver takes to ask a list's servers, so a slow answer is not asked
 * again at once; the upper one keeps the first retry early on long
 * deadlines.
 */
#define MH_RESOLVE_TRY_MIN_MS 250
#define MH_RESOLVE_TRY_MAX_MS 2000
void mh_resolve_tries_for(long left_ms, int *timeout_ms, int *tries);

/*
 * mh_resolve_channel_new with the timeout and tries of
 * mh_resolve_tries_for() for the time left of dl (NULL: the fixed 1.5 s x
 * 3 of mh_resolve_channel_new). Same returns.
 */
int mh_resolve_channel_new_within(const char *resolver, unsigned flags,
                                  const struct mh_deadline *dl, void **channel,
                                  char *errbuf, size_t errlen);
void mh_resolve_channel_free(void *channel);

/*
 * For a channel driven by an event loop: c-ares calls watch(arg, fd,
 * readable, writable) when a socket of the channel opens or its interest
 * changes, and with readable = writable = 0 just before it closes the
 * socket (c-ares' ARES_OPT_SOCK_STATE_CB). Otherwise as
 * mh_resolve_channel_new: per-try timeout and tries of
 * mh_resolve_tries_for(within_ms), or (within_ms < 0) 1.5 s, 3 tries. Same
 * returns.
 */
typedef void mh_resolve_watch_fn(void *arg, int fd, int readable, int writable);
int mh_resolve_channel_new_watched(const char *resolver, unsigned flags,
                                   long within_ms, mh_resolve_watch_fn *watch,
                                   void *watch_arg, void **channel,
                                   char *errbuf, size_t errlen);
/* Seconds until the channel's next retry timer, -1 when nothing is in
 * flight. */
double mh_resolve_next_s(void *channel);
/* Hands a readable (rfd) and/or writable (wfd) socket of the channel to
 * c-ares (-1: none) and runs its due retry timers: with both -1, only the
 * timers. Callbacks of the queries that end run on this thread. */
void mh_resolve_process_fds(void *channel, int rfd, int wfd);

/*
 * Runs c-ares' event loop on channel until every query is done or the
 * deadline passes (then cancels the rest: their callbacks see
 * ARES_ECANCELLED). Used by every module that issues c-ares queries.
 */
void mh_resolve_wait(void *channel, const struct mh_deadline *dl);

/* Hands what poll() reported on pfd, one of channel's sockets, to c-ares
 * (ares_process_fd: readable, an error or hang-up, writable); nothing when
 * revents is 0. For event loops over several channels. */
struct pollfd;
void mh_resolve_process(void *channel, const struct pollfd *pfd);

/*
 * Resolves host to its addresses: a numeric address is returned as is
 * without any lookup; otherwise A and AAAA are looked up (as family allows:
 * AF_UNSPEC, AF_INET, AF_INET6) with ares_getaddrinfo, which also consults
 * /etc/hosts. Addresses come in the order the resolver gave them, IPv6
 * first when both exist. On MH_RESOLVE_OK, *addrs (caller frees with free())
 * holds *naddrs >= 1 entries. errbuf receives a reason otherwise.
 */
enum mh_resolve_status mh_resolve_host(const char *host, int family,
                                       const char *resolver,
                                       const struct mh_deadline *dl,
                                       struct mh_addr **addrs, size_t *naddrs,
                                       char *errbuf, size_t errlen);

/*
 * A host lookup on the caller's channel (an event loop's; the channel is
 * not waited on here). mh_resolve_host_start() asks A and AAAA of host (as
 * family allows; a numeric address is taken as is, done at once) with
 * ares_getaddrinfo; notify(arg) is called once when the answer came, on
 * the thread that processes the channel (possibly within start itself),
 * unless mh_resolve_host_end() was called first. Returns NULL when out of
 * memory. mh_resolve_host_done() says whether the answer came.
 * mh_resolve_host_end() takes the outcome, as mh_resolve_host() reports
 * it (expired: the check's deadline has passed, for the message of a
 * missing answer: MH_RESOLVE_TIMEOUT), and frees the lookup; called before
 * the answer came, it gives up on it (the callback that c-ares still
 * calls later, at the latest when the channel is freed, does nothing).
 */
struct mh_host_lookup;
struct mh_host_lookup *mh_resolve_host_start(void *channel, const char *host,
                                             int family,
                                             void (*notify)(void *arg),
                                             void *arg);
bool mh_resolve_host_done(const struct mh_host_lookup *h);
enum mh_resolve_status mh_resolve_host_end(struct mh_host_lookup *h,
                                           bool expired, struct mh_addr **addrs,
                                           size_t *naddrs, char *errbuf,
                                           size_t errlen);

/* One TXT record: the concatenation of its character-strings (RFC 1035
 * 3.3.14, RFC 7208 3.3), raw bytes (NUL bytes possible), NUL-terminated
 * for convenience. */
struct mh_txt_record {
    unsigned char *data;
    size_t len;
};

/*
 * Splits a TXT answer (abuf/alen as c-ares hands it to a query callback)
 * into its records, in the answer's order. On success returns 0 with
 * *recs (free with mh_txt_records_free) holding *n >= 0 records; -1 when
 * the answer cannot be parsed or memory ran out.
 */
int mh_txt_records_parse(const unsigned char *abuf, int alen,
                         struct mh_txt_record **recs, size_t *n);

/* Frees n records of mh_txt_records_parse(); NULL is fine. */
void mh_txt_records_free(struct mh_txt_record *recs, size_t n);

/* The outcome of one TXT lookup of mh_resolve_txt(). */
struct mh_txt_lookup {
    const char *name;              /* the name asked (borrowed) */
    enum mh_resolve_status status; /* OK (even with no record), NOTFOUND
                                      (NXDOMAIN or NODATA), TIMEOUT, FAILED
                                      (SERVFAIL, REFUSED, bad answer) */
    struct mh_txt_record *recs;    /* status OK: the records */
    size_t nrecs;                  /* 0 for NOTFOUND */
    char err[160];                 /* why, when not OK */
};

/*
 * Looks up the TXT records of every lookups[i].name at once on one c-ares
 * channel of resolver ("IP[:PORT]" or NULL: the system resolver) within
 * dl; a SERVFAIL or REFUSED answer is reported as FAILED, never as a
 * timeout (MH_RESOLVE_SERVFAIL_ANSWERS). Names are absolute (no search
 * list). Fills status, recs, nrecs and err of each entry; free the records
 * with mh_txt_lookups_free(). Returns 0, or -1 when the channel could not
 * be set up (every entry FAILED, err says why).
 */
int mh_resolve_txt(struct mh_txt_lookup *lookups, size_t n,
                   const char *resolver, const struct mh_deadline *dl);

/* Frees the records of n lookups (the entries themselves are the
 * caller's). */
void mh_txt_lookups_free(struct mh_txt_lookup *lookups, size_t n);

#endif
