/* SPDX-License-Identifier: MIT */
/*
 * dnsbl_memory: what the DNSBL checks of a long-running process (the
 * runner) remember about each zone between runs, so that a steady round
 * costs about one query per address and zone, as public lists' free-use
 * terms expect (Spamhaus: 300,000 queries a day; Mailspike and DNSWL:
 * 100,000):
 *
 *   - Zone health (RFC 5782 section 5 test entries): the answers that
 *     showed a zone healthy (positive entry listed, negative entry not
 *     listed) are kept per zone and family for max_age seconds (runner key
 *     zone_health_cache_seconds, default 3600) and used instead of asking
 *     again. Answers that showed a problem are not kept: a zone in trouble
 *     is asked again at its next use. An error code from the zone
 *     (mh_dnsbl_memory_refused) drops its health at once. Checks that run
 *     at the same moment before anything is kept (the first round) may
 *     each ask the test entries once.
 *   - Back-off: after an error code ("blocked", "over quota", "query via
 *     public resolver": the list refuses us) the zone is not asked for one
 *     round, then two, four, ... rounds after each further refusal, at
 *     most max_age seconds; the first usable answer ends the back-off.
 *   - Query budget: at most `budget` queries per zone per round (0: no
 *     limit), counted over every check of the process (runner key
 *     zone_query_budget); mh_dnsbl_memory_round() starts a new round.
 *
 * Every function is thread-safe (one mutex): the runner's checks run on
 * several worker threads at once. Zones are named as in their definition
 * (lower case, no final dot).
 */
#ifndef MH_DNSBL_MEMORY_H
#define MH_DNSBL_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mh_dnsbl_answer;

/* Default of zone_health_cache_seconds. */
#define MH_DNSBL_HEALTH_CACHE_S 3600.0

struct mh_dnsbl_memory;

/* A new, empty memory, or NULL (out of memory). round_s: the length of a
 * round in seconds (the runner's interval), the unit of the back-off. */
struct mh_dnsbl_memory *mh_dnsbl_memory_new(double round_s);

/* Frees m (NULL is fine). */
void mh_dnsbl_memory_free(struct mh_dnsbl_memory *m);

/* Starts a new round: every zone's budget is whole again. */
void mh_dnsbl_memory_round(struct mh_dnsbl_memory *m);

/*
 * The kept test-entry answers of zone for family fam (0 IPv4, 1 IPv6, 2
 * names) and entry pos (true: the entry that must be listed): copies at
 * most max answers into out and returns how many (0: nothing kept, or
 * older than max_age_s seconds).
 */
size_t mh_dnsbl_memory_health_get(struct mh_dnsbl_memory *m, const char *zone,
                                  int fam, bool pos, double max_age_s,
                                  struct mh_dnsbl_answer *out, size_t max);

/* Keeps n (at most 2) answers for (zone, fam, pos), learnt now. */
void mh_dnsbl_memory_health_put(struct mh_dnsbl_memory *m, const char *zone,
                                int fam, bool pos,
                                const struct mh_dnsbl_answer *answers,
                                size_t n);

/*
 * Zone refused a query with error code `code` (host order): its health is
 * dropped and it backs off (see above; max_age_s bounds the back-off).
 */
void mh_dnsbl_memory_refused(struct mh_dnsbl_memory *m, const char *zone,
                             uint32_t code, double max_age_s);

/* Zone gave a usable answer: its back-off ends. */
void mh_dnsbl_memory_answered(struct mh_dnsbl_memory *m, const char *zone);

/* Why a query may not go out. */
enum mh_dnsbl_take {
    MH_DNSBL_TAKE_OK = 0, /* counted; send it */
    MH_DNSBL_TAKE_BUDGET, /* the zone's budget of this round is spent */
    MH_DNSBL_TAKE_BACKOFF /* the zone backs off after a refusal */
};

/*
 * Takes one query of zone's budget (budget 0: no limit, still counted).
 * When the zone backs off, *until_s (if not NULL) receives the seconds of
 * back-off left and *code the error code that started it.
 */
enum mh_dnsbl_take mh_dnsbl_memory_take(struct mh_dnsbl_memory *m,
                                        const char *zone, unsigned budget,
                                        double *left_s, uint32_t *code);

/* Queries taken on zone in the current round (for tests and benchmarks). */
unsigned long mh_dnsbl_memory_taken(struct mh_dnsbl_memory *m,
                                    const char *zone);

#endif
