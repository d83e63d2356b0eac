/* SPDX-License-Identifier: MIT */
/*
 * dnsbl: DNS blocklist probe (see dnsbl.h for the rules). Field cases
 * BR-NN are in tests/field-cases.md.
 *
 * Layout of this file:
 *   1. query names (pure)                      RFC 5782 2.1, 2.4, 3
 *   2. answer interpretation and verdict (pure) RFC 5782 2.1, 2.3, 5
 *   3. the run: one c-ares channel, every query in flight at once
 *   4. the report: the run's facts, judged by dnsbl_verdicts.c (the
 *      plugin renders them, plugin/report_dnsbl.c)
 */
#include "dnsbl.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <ares.h>

#include "dnsbl_flow.h"
#include "resolve.h"
#include "textutil.h"

/* ========================================================================
 * 1. Query names
 * ======================================================================== */

int
mh_dnsbl_reverse_bytes(int family, const unsigned char *bytes, char *out,
                       size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    if (family == AF_INET) {
        /* RFC 5782 2.1: the octets in reverse order, like in-addr.arpa. */
        int n = snprintf(out, outlen, "%u.%u.%u.%u", (unsigned)bytes[3],
                         (unsigned)bytes[2], (unsigned)bytes[1],
                         (unsigned)bytes[0]);
        return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
    }
    if (family == AF_INET6) {
        /* RFC 5782 2.4: 32 nibbles, least significant first, like
         * ip6.arpa but without the ip6.arpa suffix. */
        if (outlen < 64) {
            return -1;
        }
        size_t o = 0;
        for (int i = 15; i >= 0; i--) {
            out[o++] = hex[bytes[i] & 15];
            out[o++] = '.';
            out[o++] = hex[bytes[i] >> 4];
            out[o++] = i > 0 ? '.' : '\0';
        }
        return 0;
    }
    return -1;
}

int
mh_dnsbl_reverse_address(const char *address, int *family, char *out,
                         size_t outlen)
{
    unsigned char b[16];
    if (address == NULL) {
        return -1;
    }
    if (inet_pton(AF_INET, address, b) == 1) {
        *family = AF_INET;
        return mh_dnsbl_reverse_bytes(AF_INET, b, out, outlen);
    }
    if (inet_pton(AF_INET6, address, b) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                                 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(b, mapped, sizeof mapped) == 0) {
            /* ::ffff:a.b.c.d is the IPv4 address a.b.c.d (how dual-stack
             * sockets report IPv4 peers). */
            *family = AF_INET;
            return mh_dnsbl_reverse_bytes(AF_INET, b + 12, out, outlen);
        }
        *family = AF_INET6;
        return mh_dnsbl_reverse_bytes(AF_INET6, b, out, outlen);
    }
    return -1;
}

int
mh_dnsbl_normalize_name(const char *in, char *out, size_t outlen)
{
    if (in == NULL || outlen == 0) {
        return -1;
    }
    size_t len = strlen(in);
    if (len > 0 && in[len - 1] == '.') {
        len--; /* one final dot: the absolute form */
    }
    if (len == 0 || len > MH_DNSBL_NAME_MAX || len >= outlen) {
        return -1;
    }
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c == '.') {
            if (label == 0) {
                return -1; /* empty label */
            }
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_') {
            if (++label > 63) {
                return -1; /* RFC 1035 2.3.4 */
            }
        } else {
            return -1;
        }
        out[i] = c;
    }
    if (label == 0) {
        return -1;
    }
    out[len] = '\0';
    return 0;
}

int
mh_dnsbl_qname(const char *prefix, const char *zone, char *out, size_t outlen)
{
    size_t pl = strlen(prefix), zl = strlen(zone);
    if (pl == 0 || zl == 0 || pl + 1 + zl > MH_DNSBL_NAME_MAX ||
        pl + 1 + zl >= outlen) {
        return -1;
    }
    memcpy(out, prefix, pl);
    out[pl] = '.';
    memcpy(out + pl + 1, zone, zl + 1);
    return 0;
}

char *
mh_dnsbl_format_code(uint32_t code, char *buf, size_t len)
{
    snprintf(buf, len, "%u.%u.%u.%u", (unsigned)(code >> 24) & 255u,
             (unsigned)(code >> 16) & 255u, (unsigned)(code >> 8) & 255u,
             (unsigned)code & 255u);
    return buf;
}

size_t
mh_dnsbl_txt_append(char *buf, size_t cap, const unsigned char *data,
                    size_t len)
{
    size_t o = strlen(buf);
    size_t limit = cap - 1 < MH_DNSBL_TXT_MAX ? cap - 1 : MH_DNSBL_TXT_MAX;
    if (o >= limit) {
        return o;
    }
    return mh_text_escape_append(buf, limit + 1, data, len, true);
}

/* ========================================================================
 * 2. Interpretation
 * ======================================================================== */

/* Error answers every zone is assumed to use unless its definition says
 * otherwise (dnsbl.h, field cases BR-29 and BR-31). */
static const struct builtin_error {
    uint32_t addr, mask;
    const char *meaning;
    const char *hint;
} builtin_errors[] = {
    {0x7ffffffcu, 0xffffffffu, "typo in the DNSBL zone name",
     "check the zone name"},
    {0x7ffffffeu, 0xffffffffu, "query via public/open resolver",
     "use a private resolver"},
    {0x7fffffffu, 0xffffffffu, "excessive number of queries",
     "use a private resolver or a data feed"},
    {0x7f0001ffu, 0xffffffffu, "IP address queried on a domain blocklist",
     "give this zone type domain"},
    /* URIBL's and SURBL's "query refused"; RFC 5782 section 5 forbids
     * listing 127.0.0.1, so this answer is never a listing on any zone. */
    {0x7f000001u, 0xffffffffu, "query refused", "use a private resolver"},
    /* DNSWL: over the free-use limit or blocked. */
    {0x7f0000ffu, 0xffffffffu, "query refused (over quota or blocked)",
     "use a private resolver or register for a data feed"},
    {0x7fffff00u, 0xffffff00u, "error range 127.255.255.0/24", NULL},
};

static const struct builtin_error *
builtin_error(uint32_t code)
{
    for (size_t i = 0; i < sizeof builtin_errors / sizeof builtin_errors[0];
         i++) {
        if ((code & builtin_errors[i].mask) == builtin_errors[i].addr) {
            return &builtin_errors[i];
        }
    }
    return NULL;
}

static const struct mh_dnsbl_code *
zone_code(const struct mh_dnsbl_zone *z, uint32_t code)
{
    for (size_t i = 0; z != NULL && i < z->ncodes; i++) {
        if (z->codes[i].addr == code) {
            return &z->codes[i];
        }
    }
    return NULL;
}

/* Appends "; text" (or text when buf is empty) unless already present. */
static void
append_meaning(char *buf, size_t cap, const char *text)
{
    if (text == NULL || text[0] == '\0' || strstr(buf, text) != NULL) {
        return;
    }
    size_t o = strlen(buf);
    snprintf(buf + o, cap - o, "%s%s", o > 0 ? "; " : "", text);
}

/* A listing code of a bit-mask zone whose last octet is bit (the middle
 * octets are reserved: SURBL documents that they must be ignored). */
static const struct mh_dnsbl_code *
zone_bit(const struct mh_dnsbl_zone *z, unsigned bit)
{
    for (size_t i = 0; i < z->ncodes; i++) {
        if (!z->codes[i].error && (z->codes[i].addr & 255u) == bit) {
            return &z->codes[i];
        }
    }
    return NULL;
}

/* Strength of a listing kind: block > policy > info > allow. */
static int
kind_strength(enum mh_dnsbl_list_kind k)
{
    switch (k) {
    case MH_DNSBL_KIND_BLOCK:
        return 3;
    case MH_DNSBL_KIND_POLICY:
        return 2;
    case MH_DNSBL_KIND_INFO:
        return 1;
    case MH_DNSBL_KIND_ALLOW:
        break;
    }
    return 0;
}

/* Merges the kind of code c (NULL: undocumented, the zone's kind) into the
 * answer's kind. */
static void
merge_kind(const struct mh_dnsbl_zone *z, const struct mh_dnsbl_code *c,
           bool *first, struct mh_dnsbl_answer *out)
{
    enum mh_dnsbl_list_kind k = z != NULL ? z->kind : MH_DNSBL_KIND_BLOCK;
    bool warn = z != NULL && z->warn;
    if (c != NULL && c->has_kind) {
        k = c->kind;
    }
    if (c != NULL && c->warn) {
        warn = true;
    }
    if (*first || kind_strength(k) > kind_strength(out->list_kind)) {
        out->list_kind = k;
        out->warn = false;
    }
    if (k == out->list_kind && warn) {
        out->warn = true;
    }
    *first = false;
}

/* Meaning and kind of a listing code on zone z (meaning "" when the zone
 * documents none). */
static void
listing_meaning(const struct mh_dnsbl_zone *z, uint32_t code,
                struct mh_dnsbl_answer *out, bool *first)
{
    char *buf = out->meaning;
    size_t cap = sizeof out->meaning;
    const struct mh_dnsbl_code *c = zone_code(z, code);
    if (c != NULL) {
        append_meaning(buf, cap, c->meaning);
        merge_kind(z, c, first, out);
        return;
    }
    bool any = false;
    if (z != NULL && z->bitmask) {
        /* RFC 5782 2.3: sublists as bits of the last octet (URIBL, SURBL):
         * one meaning per bit set, each documented as 127.0.0.<bit>. */
        for (unsigned bit = 1; bit < 256; bit <<= 1) {
            if ((code & bit) == 0) {
                continue;
            }
            const struct mh_dnsbl_code *bc = zone_bit(z, bit);
            if (bc != NULL) {
                append_meaning(buf, cap, bc->meaning);
                merge_kind(z, bc, first, out);
                any = true;
            }
        }
    }
    if (!any) {
        merge_kind(z, NULL, first, out);
    }
    bool documented = false;
    for (size_t i = 0; z != NULL && i < z->ncodes; i++) {
        documented = documented || !z->codes[i].error;
    }
    if (!any && documented) {
        append_meaning(buf, cap, "return code not documented for this zone");
    }
}

/* Keeps the MH_DNSBL_MAX_CODES lowest distinct values of addrs, sorted. */
static size_t
sorted_codes(const uint32_t *addrs, size_t n, uint32_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t a = addrs[i];
        size_t pos = 0;
        while (pos < k && out[pos] < a) {
            pos++;
        }
        if (pos < k && out[pos] == a) {
            continue;
        }
        if (pos >= MH_DNSBL_MAX_CODES) {
            continue;
        }
        size_t last = k < MH_DNSBL_MAX_CODES ? k : MH_DNSBL_MAX_CODES - 1;
        memmove(&out[pos + 1], &out[pos], (last - pos) * sizeof *out);
        out[pos] = a;
        if (k < MH_DNSBL_MAX_CODES) {
            k++;
        }
    }
    return k;
}

void
mh_dnsbl_interpret(const struct mh_dnsbl_zone *z, enum mh_dnsbl_rcode rc,
                   const uint32_t *addrs, size_t n, struct mh_dnsbl_answer *out)
{
    memset(out, 0, sizeof *out);
    out->rcode = rc;
    switch (rc) {
    case MH_DNSBL_RC_NXDOMAIN:
    case MH_DNSBL_RC_NODATA:
        out->kind = MH_DNSBL_K_NOT_LISTED;
        return;
    case MH_DNSBL_RC_TIMEOUT:
        out->kind = MH_DNSBL_K_TIMEOUT;
        return;
    case MH_DNSBL_RC_SERVFAIL:
    case MH_DNSBL_RC_REFUSED:
    case MH_DNSBL_RC_UNREACHABLE:
    case MH_DNSBL_RC_OTHER:
        out->kind = MH_DNSBL_K_FAILED;
        return;
    case MH_DNSBL_RC_ANSWER:
        break;
    }
    out->ncodes = addrs != NULL ? sorted_codes(addrs, n, out->codes) : 0;
    if (out->ncodes == 0) {
        out->kind = MH_DNSBL_K_NOT_LISTED;
        out->rcode = MH_DNSBL_RC_NODATA;
        return;
    }
    /* RFC 5782 2.1: listings are A records in 127.0.0.0/8; anything else
     * is a broken zone or a resolver that rewrites NXDOMAIN. */
    for (size_t i = 0; i < out->ncodes; i++) {
        if ((out->codes[i] >> 24) != 127u) {
            out->kind = MH_DNSBL_K_OUTSIDE;
            out->culprit = out->codes[i];
            return;
        }
    }
    for (size_t i = 0; i < out->ncodes; i++) {
        const struct mh_dnsbl_code *c = zone_code(z, out->codes[i]);
        const struct builtin_error *b = builtin_error(out->codes[i]);
        if ((c != NULL && c->error) || (c == NULL && b != NULL)) {
            out->kind = MH_DNSBL_K_ERROR_CODE;
            out->culprit = out->codes[i];
            snprintf(out->meaning, sizeof out->meaning, "%s",
                     c != NULL ? c->meaning : b->meaning);
            out->hint = b != NULL && b->mask == 0xffffffffu ? b->hint : NULL;
            return;
        }
    }
    out->kind = MH_DNSBL_K_LISTED;
    bool first = true;
    for (size_t i = 0; i < out->ncodes; i++) {
        listing_meaning(z, out->codes[i], out, &first);
    }
}

enum mh_dnsbl_verdict
mh_dnsbl_decide(const struct mh_dnsbl_answer *subject,
                const struct mh_dnsbl_answer *pos,
                const struct mh_dnsbl_answer *neg)
{
    switch (subject->kind) {
    case MH_DNSBL_K_NONE:
    case MH_DNSBL_K_TIMEOUT:
        return MH_DNSBL_V_TIMEOUT;
    case MH_DNSBL_K_FAILED:
        return MH_DNSBL_V_FAILED;
    case MH_DNSBL_K_ERROR_CODE:
        return MH_DNSBL_V_ERROR_CODE;
    case MH_DNSBL_K_OUTSIDE:
        return MH_DNSBL_V_OUTSIDE;
    case MH_DNSBL_K_LISTED:
    case MH_DNSBL_K_NOT_LISTED:
        break;
    }
    /* RFC 5782 5: 127.0.0.1 (::1, INVALID) MUST NOT be listed. A zone that
     * lists it answers "listed" for everything: no answer counts. */
    if (neg != NULL && neg->kind == MH_DNSBL_K_LISTED) {
        return MH_DNSBL_V_LISTS_EVERYTHING;
    }
    if (subject->kind == MH_DNSBL_K_LISTED) {
        return MH_DNSBL_V_LISTED;
    }
    /* RFC 5782 5: 127.0.0.2 (::2, TEST) MUST be listed. NXDOMAIN for it
     * means the zone does not exist or stopped working, so NXDOMAIN for the
     * subject says nothing (BR-33 A). */
    if (pos != NULL && pos->kind == MH_DNSBL_K_NOT_LISTED) {
        return MH_DNSBL_V_NOT_WORKING;
    }
    return MH_DNSBL_V_NOT_LISTED;
}

enum mh_dnsbl_verdict
mh_dnsbl_refine(enum mh_dnsbl_verdict v,
                const struct mh_dnsbl_answer *other_pos)
{
    if (v == MH_DNSBL_V_NOT_WORKING && other_pos != NULL &&
        other_pos->kind == MH_DNSBL_K_LISTED) {
        return MH_DNSBL_V_NOT_APPLICABLE;
    }
    return v;
}

bool
mh_dnsbl_verdict_is_error(enum mh_dnsbl_verdict v)
{
    return v != MH_DNSBL_V_NOT_LISTED && v != MH_DNSBL_V_LISTED &&
           v != MH_DNSBL_V_NOT_APPLICABLE;
}

/* ========================================================================
 * 3. The run
 * ======================================================================== */

/* Test-entry families: IPv4, IPv6, domain. */

/* RFC 5782 section 5 test points as shown in messages. IPv6: the RFC names
 * ::FFFF:7F00:2 / ::FFFF:7F00:1; several lists use ::2 instead, which is
 * accepted as well. */
static const char *const pos_entry[MH_DNSBL_FORM_COUNT] = {
    "127.0.0.2", "::ffff:7f00:2 or ::2", "TEST"};
static const char *const neg_entry[MH_DNSBL_FORM_COUNT] = {
    "127.0.0.1", "::ffff:7f00:1", "INVALID"};

/* True when text is a dotted-quad IPv4 address. */
static bool
is_ipv4_text(const char *text)
{
    struct in_addr ia;
    return text != NULL && inet_pton(AF_INET, text, &ia) == 1;
}

/* The zone's own test entry for family fam (pos: must be listed), or NULL
 * for the RFC's. An "any" zone may give an address (for IPv4) or a name
 * (for names). */
static const char *
own_test_entry(const struct mh_dnsbl_zone *z, int fam, bool pos)
{
    const char *t = pos ? z->test_listed : z->test_unlisted;
    if (t == NULL || fam == MH_DNSBL_FORM_V6) {
        return NULL;
    }
    return (fam == MH_DNSBL_FORM_V4) == is_ipv4_text(t) ? t : NULL;
}

/* The test entry of zone z for family fam that must (pos) or must not be
 * listed, as shown in messages. */
const char *
mh_dnsbl_test_entry(const struct mh_dnsbl_zone *z, int fam, bool pos)
{
    const char *t = own_test_entry(z, fam, pos);
    if (t != NULL) {
        return t;
    }
    return pos ? pos_entry[fam] : neg_entry[fam];
}

/* Most TXT records of one answer that are kept (sorted). */
#define TXT_RECORDS_MAX 8

/* The zone's test entries for one family (RFC 5782 5), asked at most once
 * per run and only when an answer needs them: pos[] must be listed (the
 * IPv6 family has two alternatives), neg[] must not. */

struct zrun {
    const struct mh_dnsbl_zone *z;
    struct mh_dnsbl_health h[MH_DNSBL_FORM_COUNT];
    size_t cur;          /* next subject whose query on this zone goes out */
    size_t inflight;     /* this zone's queries in flight */
    double rtt_min;      /* the shortest one of a subject query (s; 0:
                            none yet) */
    bool refused;        /* answered an error code in this run */
    double backoff_s;    /* MH_DNSBL_TAKE_BACKOFF: seconds left */
    uint32_t refused_by; /* MH_DNSBL_TAKE_BACKOFF: the error code */
};

/* One (subject, zone) pair, kept small: a /22 on 50 zones has 51,200 of
 * them. The query name is made again when needed (subject prefix and zone
 * name). */

/* An address or a domain name being checked. */

/* What a query asks. */
enum qtype {
    Q_SUBJECT, /* A record of a subject on a zone */
    Q_TXT,     /* TXT record of a subject after a listing */
    Q_TEST     /* A record of a zone's test entry */
};

/* Context of one query, from the moment it is queued until its callback
 * (c-ares calls every callback exactly once, with ARES_ECANCELLED or
 * ARES_EDESTRUCTION at the latest), which frees it. Kept small: a wide
 * window has tens of thousands in flight; the query name is made when the
 * query goes out. */
struct query {
    struct query *next; /* waiting queue */
    struct run *run;
    union {
        struct mh_dnsbl_pair *pair;  /* Q_SUBJECT, Q_TXT */
        struct mh_dnsbl_answer *ans; /* Q_TEST: the interpretation */
    };
    const char *prefix; /* the subject's (lives as long as the run), or
                           own[] */
    uint64_t seq;       /* mh_dnsbl_window_sent() */
    double sent_at;     /* mh_monotonic_s() when it went out */
    uint32_t zi;        /* the zone's index in the run */
    unsigned char type; /* enum qtype */
    unsigned char fam;  /* the family of the subject or test */
    unsigned char ch;   /* the channel it went out on */
    bool pos_test;      /* Q_TEST: a positive test entry */
    char own[];         /* Q_TEST: the test entry's prefix */
};

/* The A/AAAA lookup of one host name target. */
struct hostq {
    struct run *run;
    int index;
    const char *name; /* normalised */
    bool done;
    int status;
    size_t naddrs, dropped;
};

/*
 * The states of a run, one-shot or on a loop; run_set_state() is the one
 * place they change, and -vv traces each change ("dns= state query ->
 * wait_room"):
 *   start      set up, nothing sent yet
 *   query      queries and host lookups go out while the window has room
 *              and their answers come back
 *   wait_room  on a loop: queued for the shared window (wait_for_room),
 *              until given a turn (wake_waiters) -> query
 *   done       every answer in, nothing left to send (run_idle)
 *   stopped    ended with answers still due: deadline passed, or its end
 *              was asked (run_stop); later answers are only counted off
 * done and stopped are final: no query goes out any more.
 */
enum run_state { RS_START, RS_QUERY, RS_WAIT_ROOM, RS_DONE, RS_STOPPED };
static const char *const run_state_names[] = {"start", "query", "wait_room",
                                              "done", "stopped"};

struct run {
    const struct mh_dnsbl_params *p;
    enum run_state state;
    const struct mh_deadline *dl;
    struct mh_dnsbl_channels chs;
    struct zrun *zr;
    size_t nz;
    struct mh_dnsbl_subject **subj;
    size_t nsubj, subj_cap;
    size_t *hslot; /* hash set of subjects: index + 1, 0 empty */
    size_t hcap;
    /* Pacing (at most window queries in flight): follow-ups
     * and test entries wait in the queue and go first; subject queries are
     * taken from each zone's cursor, the zones in turn, none holding more
     * than its share of the slots (see pump()). */
    struct query *wait_head, *wait_tail;
    size_t inflight;
    struct mh_dnsbl_window win; /* most in flight (dnsbl_flow.h) */
    size_t rr;                  /* the zone whose turn is next */
    bool pumping;
    /* A task on an event loop (mh_dnsbl_task_new): the loop's shared
     * channel and window instead of chs and win (win then only caps a
     * fixed --max-in-flight), the waiting queue's links, how to have the
     * loop step the task again, and orphan: the report is freed while
     * queries are still in flight, the last one's end frees the run. */
    struct mh_dnsbl_shared *sh;
    struct run *wprev, *wnext;
    bool orphan;
    bool turn; /* woken from the queue: may send one query past it */
    void (*wake)(void *arg);
    void *wake_arg;
    size_t hosts_pending;        /* host name lookups not ended */
    double t0;                   /* mh_monotonic_s() at the start */
    size_t nqueries;             /* sent, every type */
    struct mh_dnsbl_memory *mem; /* the runner's, or own_mem */
    struct mh_dnsbl_memory *own_mem;
    double cache_s; /* how long healthy test answers are kept */
    bool oom;
    struct hostq *hosts; /* host name targets */
    size_t nhosts;
    size_t addrs_dropped;  /* numeric addresses over the limit */
    const char *blocks[4]; /* numeric targets as given, for the summary */
    size_t nblocks;        /* how many numeric targets (blocks[] holds the
                              first four) */
};
static void trace(struct run *run, const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
trace(struct run *run, const char *dir, const char *fmt, ...)
{
    if (run->orphan || run->p->trace == NULL) { /* p is gone with an orphan */
        return;
    }
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char *clean = mh_text_printable(line, strlen(line));
    if (clean != NULL) {
        run->p->trace(run->p->trace_arg, dir, clean);
        free(clean);
    }
}

static void
run_set_state(struct run *run, enum run_state st)
{
    if (run->state != st) {
        trace(run, "dns=", "state %s -> %s", run_state_names[run->state],
              run_state_names[st]);
        run->state = st;
    }
}

/* Whether the run has ended (done or stopped): nothing goes out. */
static bool
ended(const struct run *run)
{
    return run->state >= RS_DONE;
}

static enum mh_dnsbl_rcode
rcode_of(int status)
{
    switch (status) {
    case ARES_SUCCESS:
        return MH_DNSBL_RC_ANSWER;
    case ARES_ENOTFOUND:
        return MH_DNSBL_RC_NXDOMAIN;
    case ARES_ENODATA:
        return MH_DNSBL_RC_NODATA;
    case ARES_ESERVFAIL:
        return MH_DNSBL_RC_SERVFAIL;
    case ARES_EREFUSED:
        return MH_DNSBL_RC_REFUSED;
    case ARES_ECONNREFUSED:
        return MH_DNSBL_RC_UNREACHABLE;
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
        return MH_DNSBL_RC_TIMEOUT;
    default:
        return MH_DNSBL_RC_OTHER;
    }
}

/* The name to query for prefix on zone z: PREFIX.ZONE, or PREFIX.KEY.ZONE
 * for a zone that takes a customer key. Returns 0, or -1 when it would be
 * longer than a DNS name. */
static int
zone_qname(const struct mh_dnsbl_zone *z, const char *prefix, char *out,
           size_t len)
{
    if (z->key == NULL) {
        return mh_dnsbl_qname(prefix, z->name, out, len);
    }
    char suffix[2 * MH_DNSBL_NAME_MAX];
    snprintf(suffix, sizeof suffix, "%s.%s", z->key, z->name);
    return mh_dnsbl_qname(prefix, suffix, out, len);
}

void
mh_dnsbl_shown_qname(const struct mh_dnsbl_zone *z, const char *prefix,
                     char *out, size_t len)
{
    mh_textf(out, len, "%s.%s%s", prefix, z->key != NULL ? "<key>." : "",
             z->name);
}

/* The query name of q as traces show it. */
static const char *
q_shown(const struct query *q, char *buf, size_t len)
{
    mh_dnsbl_shown_qname(q->run->zr[q->zi].z, q->prefix, buf, len);
    return buf;
}

/* The answer of a pair: its full interpretation, or one made in tmp from
 * the kind and rcode kept. */
const struct mh_dnsbl_answer *
mh_dnsbl_pair_answer(const struct mh_dnsbl_pair *pr,
                     struct mh_dnsbl_answer *tmp)
{
    if (pr->full != NULL) {
        return pr->full;
    }
    memset(tmp, 0, sizeof *tmp);
    tmp->kind = (enum mh_dnsbl_kind)pr->kind;
    tmp->rcode = (enum mh_dnsbl_rcode)pr->rcode;
    return tmp;
}

/* Keeps answer a in pair pr (a copy only when it carries codes). */
static void
store_answer(struct run *run, struct mh_dnsbl_pair *pr,
             const struct mh_dnsbl_answer *a)
{
    pr->kind = (unsigned char)a->kind;
    pr->rcode = (unsigned char)a->rcode;
    if (a->kind == MH_DNSBL_K_LISTED || a->kind == MH_DNSBL_K_ERROR_CODE ||
        a->kind == MH_DNSBL_K_OUTSIDE) {
        free(pr->full);
        pr->full = malloc(sizeof *pr->full);
        if (pr->full == NULL) {
            run->oom = true;
            return;
        }
        *pr->full = *a;
    }
}

static void followup(const struct query *q, enum mh_dnsbl_kind k);
static bool pump(struct run *run);
static void after_answer(struct run *run);

/* The run's turn in the shared window's queue (wake_waiters), if it has
 * one, is used up or given back: returns whether it had one. */
static bool
take_turn(struct run *run)
{
    if (!run->turn) {
        return false;
    }
    run->turn = false;
    run->sh->turns--;
    return true;
}
static void run_stop(struct run *run);
static void ended_late(struct run *run, struct query *q, int status,
                       int timeouts);

/* The window the run's queries are paced by: the loop's shared one, or
 * its own. */
static struct mh_dnsbl_window *
run_win(struct run *run)
{
    return run->sh != NULL ? &run->sh->win : &run->win;
}

/* True for the statuses of a query that ended because the run did. */
static bool
ended_by_run(int status)
{
    return status == ARES_ECANCELLED || status == ARES_EDESTRUCTION;
}

/* Answers faster than this do not let the window grow: 256 in flight
 * are then already 12,800 queries a second or more (a /22 on 50 zones in
 * 4 s), and such a resolver is most likely the local one the MTA uses. */
#define GROW_MIN_RTT_S 0.02
/* Slack added to twice a zone's shortest round trip: an answer slower
 * than that does not let the window grow. */
#define GROW_SLACK_S 0.005

/*
 * Takes query q (ended with status after timeouts tries that got no
 * answer) off the counts in flight and tells the window how it went
 * (dnsbl_flow.h). A retried or unanswered query halves it. A subject's
 * answer on the first try lets it grow when it took at least
 * GROW_MIN_RTT_S and at most twice the zone's shortest round trip (plus
 * GROW_SLACK_S): a resolver whose answers slow down under the load
 * (queueing) stops the growth, and so does one that answers some names
 * from its cache and others not.
 */
static void
answered(struct run *run, const struct query *q, int status, int timeouts)
{
    struct zrun *zr = &run->zr[q->zi];
    struct mh_dnsbl_window *w = run_win(run);
    run->inflight--;
    zr->inflight--;
    if (run->sh == NULL) {
        run->chs.inflight[q->ch]--;
    } else if (ended(run)) {
        return; /* taken off the shared window when the run stopped */
    } else {
        run->sh->inflight--;
    }
    if (ended_by_run(status)) {
        return;
    }
    if (timeouts > 0 || status == ARES_ETIMEOUT) {
        if (mh_dnsbl_window_lost(w, q->seq)) {
            trace(run, "dns=", "window %zu (an answer was lost)", w->cur);
        }
        return;
    }
    if (q->type != Q_SUBJECT) {
        return;
    }
    double rtt = mh_monotonic_s() - q->sent_at;
    if (zr->rtt_min == 0 || rtt < zr->rtt_min) {
        zr->rtt_min = rtt;
    }
    if (rtt >= GROW_MIN_RTT_S && rtt <= 2 * zr->rtt_min + GROW_SLACK_S &&
        mh_dnsbl_window_clean(w)) {
        trace(run, "dns=", "window %zu", w->cur);
    }
}

static void
a_callback(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct query *q = arg;
    struct run *run = q->run;
    if (ended(run)) {
        ended_late(run, q, status, timeouts);
        return;
    }
    uint32_t addrs[64];
    size_t n = 0;
    enum mh_dnsbl_rcode rc = rcode_of(status);
    answered(run, q, status, timeouts);
    if (status == ARES_SUCCESS) {
        struct ares_addrttl at[64];
        int nat = (int)(sizeof at / sizeof at[0]);
        int prc = ares_parse_a_reply(abuf, alen, NULL, at, &nat);
        if (prc == ARES_SUCCESS) {
            for (int i = 0; i < nat && n < sizeof addrs / sizeof addrs[0];
                 i++) {
                addrs[n++] = ntohl(at[i].ipaddr.s_addr);
            }
        } else {
            rc = prc == ARES_ENODATA ? MH_DNSBL_RC_NODATA : MH_DNSBL_RC_OTHER;
            status = prc;
        }
    }
    struct mh_dnsbl_answer a;
    const struct mh_dnsbl_zone *z = run->zr[q->zi].z;
    mh_dnsbl_interpret(z, rc, addrs, n, &a);
    if (a.kind == MH_DNSBL_K_ERROR_CODE && a.culprit != 0x7f0001ffu) {
        /* the list refuses us: back off (127.0.1.255 only says that
         * the zone lists names) */
        mh_dnsbl_memory_refused(run->mem, z->name, a.culprit, run->cache_s);
        run->zr[q->zi].refused = true;
    } else if (a.kind == MH_DNSBL_K_LISTED || a.kind == MH_DNSBL_K_NOT_LISTED) {
        mh_dnsbl_memory_answered(run->mem, z->name);
    }
    if (q->type == Q_SUBJECT) {
        store_answer(run, q->pair, &a);
        q->pair->ares_status = status;
    } else {
        *q->ans = a;
    }
    bool cancelled = ended_by_run(status);
    if (!cancelled) {
        followup(q, a.kind);
    }
    if (run->p->trace != NULL) {
        char codes[200] = "";
        for (size_t i = 0; i < a.ncodes; i++) {
            char c[20];
            size_t o = strlen(codes);
            snprintf(codes + o, sizeof codes - o, "%s%s", i > 0 ? " " : "",
                     mh_dnsbl_format_code(a.codes[i], c, sizeof c));
        }
        char shown[2 * MH_DNSBL_NAME_MAX];
        trace(run, "dns<", "A %s: %s", q_shown(q, shown, sizeof shown),
              status == ARES_SUCCESS ? codes : ares_strerror(status));
    }
    free(q);
    if (!cancelled) {
        after_answer(run);
    }
}

/* Comparison for qsort of TXT records. */
static int
cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Keeps the TXT records of an answer in pair pr, sorted so the text does
 * not depend on their order, bounded and made printable. */
static void
store_txt(struct run *run, struct mh_dnsbl_pair *pr, const unsigned char *abuf,
          int alen)
{
    struct mh_txt_record *recs = NULL;
    size_t nrecs = 0;
    if (mh_txt_records_parse(abuf, alen, &recs, &nrecs) != 0) {
        return;
    }
    char rec[TXT_RECORDS_MAX][MH_DNSBL_TXT_MAX + 8];
    size_t nrec = 0;
    for (size_t i = 0; i < nrecs && nrec < TXT_RECORDS_MAX; i++) {
        rec[nrec][0] = '\0';
        mh_dnsbl_txt_append(rec[nrec++], sizeof rec[0], recs[i].data,
                            recs[i].len);
    }
    mh_txt_records_free(recs, nrecs);
    qsort(rec, nrec, sizeof rec[0], cmp_str);
    char out[MH_DNSBL_TXT_MAX + 8] = "";
    for (size_t i = 0; i < nrec; i++) {
        if (i > 0) {
            mh_dnsbl_txt_append(out, sizeof out, (const unsigned char *)" / ",
                                3);
        }
        mh_dnsbl_txt_append(out, sizeof out, (const unsigned char *)rec[i],
                            strlen(rec[i]));
    }
    free(pr->txt);
    pr->txt = strdup(out);
    if (pr->txt == NULL) {
        run->oom = true;
    }
}

static void
txt_callback(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct query *q = arg;
    struct run *run = q->run;
    if (ended(run)) {
        ended_late(run, q, status, timeouts);
        return;
    }
    answered(run, q, status, timeouts);
    if (status == ARES_SUCCESS) {
        store_txt(run, q->pair, abuf, alen);
        char shown[2 * MH_DNSBL_NAME_MAX];
        trace(run, "dns<", "TXT %s: %s", q_shown(q, shown, sizeof shown),
              q->pair->txt != NULL ? q->pair->txt : "");
    }
    free(q);
    if (!ended_by_run(status)) {
        after_answer(run);
    }
}

/* Sends query q (A, or TXT). On failure to even start it, the answer stays
 * "not answered" (a timeout verdict), never "not listed". */
static void
send_query(struct run *run, struct query *q)
{
    char shown[2 * MH_DNSBL_NAME_MAX];
    struct zrun *zr = &run->zr[q->zi];
    enum mh_dnsbl_take t =
        mh_dnsbl_memory_take(run->mem, zr->z->name, run->p->zone_budget,
                             &zr->backoff_s, &zr->refused_by);
    if (t != MH_DNSBL_TAKE_OK) {
        trace(run, "dns-", "%s %s: not asked (%s)",
              q->type == Q_TXT ? "TXT" : "A", q_shown(q, shown, sizeof shown),
              t == MH_DNSBL_TAKE_BUDGET ? "query budget spent"
                                        : "zone backs off");
        if (q->type == Q_SUBJECT) {
            q->pair->skip = (unsigned char)t;
        }
        free(q);
        return;
    }
    char qname[MH_DNSBL_NAME_MAX + 1];
    zone_qname(zr->z, q->prefix, qname, sizeof qname); /* new_query: fits */
    void *ch;
    if (run->sh != NULL) {
        ch = run->sh->ch;
        run->sh->inflight++;
        take_turn(run);
    } else {
        size_t open = run->chs.n;
        size_t ci = mh_dnsbl_channels_pick(&run->chs);
        if (run->chs.n > open) {
            trace(run, "dns=", "channel %zu opened (%zu queries in flight)",
                  run->chs.n, run->inflight);
        }
        q->ch = (unsigned char)ci;
        run->chs.inflight[ci]++;
        ch = run->chs.ch[ci];
    }
    q->seq = mh_dnsbl_window_sent(run_win(run));
    q->sent_at = mh_monotonic_s();
    run->inflight++;
    zr->inflight++;
    run->nqueries++;
    trace(run, "dns>", "%s %s", q->type == Q_TXT ? "TXT" : "A",
          q_shown(q, shown, sizeof shown));
    /* ares_query: no search list, the name is absolute. */
    ares_query((ares_channel)ch, qname, ns_c_in,
               q->type == Q_TXT ? ns_t_txt : ns_t_a,
               q->type == Q_TXT ? txt_callback : a_callback, q);
}

/* A new query context for prefix on zone zi, or NULL (out of memory: noted
 * in the run; or a name too long). A subject's prefix is borrowed (it
 * lives as long as the run), a test entry's copied. */
static struct query *
new_query(struct run *run, enum qtype type, size_t zi, int fam,
          const char *prefix)
{
    char qname[MH_DNSBL_NAME_MAX + 1];
    if (zone_qname(run->zr[zi].z, prefix, qname, sizeof qname) != 0) {
        return NULL;
    }
    size_t own = type == Q_TEST ? strlen(prefix) + 1 : 0;
    struct query *q = calloc(1, sizeof *q + own);
    if (q == NULL) {
        run->oom = true;
        return NULL;
    }
    q->run = run;
    q->type = (unsigned char)type;
    q->zi = (uint32_t)zi;
    q->fam = (unsigned char)fam;
    if (own > 0) {
        memcpy(q->own, prefix, own);
        q->prefix = q->own;
    } else {
        q->prefix = prefix;
    }
    return q;
}

/* Queues query q: queued queries go out before further subject queries. */
static void
enqueue(struct run *run, struct query *q)
{
    if (q == NULL) {
        return;
    }
    q->next = NULL;
    if (run->wait_tail != NULL) {
        run->wait_tail->next = q;
    } else {
        run->wait_head = q;
    }
    run->wait_tail = q;
}

/* Queues the test-entry query for prefix on zone zi into ans. */
static void
submit_test(struct run *run, size_t zi, int fam, bool pos, const char *prefix,
            struct mh_dnsbl_answer *ans)
{
    struct query *q = new_query(run, Q_TEST, zi, fam, prefix);
    if (q != NULL) {
        q->ans = ans;
        q->pos_test = pos;
        enqueue(run, q);
    }
}

/* Query prefix of test entry text for family fam (an IPv4 address, or a
 * name). Returns 0 or -1. */
static int
test_prefix(int fam, const char *text, char *out, size_t len)
{
    int f;
    if (fam == MH_DNSBL_FORM_NAME) {
        return mh_dnsbl_normalize_name(text, out, len);
    }
    return mh_dnsbl_reverse_address(text, &f, out, len);
}

/* Queues the test-entry queries of zone zi for family fam, once per run
 * each (RFC 5782 5): the positive ones (listed = true, must be listed) and
 * the negative one (must not be listed, asked only after a listing). The
 * runner's memory answers them while its copy is fresh. */
static void
ensure_test(struct run *run, size_t zi, int fam, bool listed)
{
    struct zrun *zr = &run->zr[zi];
    struct mh_dnsbl_health *h = &zr->h[fam];
    bool *started = listed ? &h->pos_started : &h->neg_started;
    bool *kept = listed ? &h->pos_kept : &h->neg_kept;
    struct mh_dnsbl_answer *ans = listed ? h->pos : h->neg;
    size_t *n = listed ? &h->npos : &h->nneg;
    size_t cap = listed ? sizeof h->pos / sizeof h->pos[0]
                        : sizeof h->neg / sizeof h->neg[0];
    if (*started) {
        return;
    }
    *started = true;
    const struct mh_dnsbl_zone *z = zr->z;
    if (listed ? z->no_test_listed : z->no_test_unlisted) {
        return;
    }
    *n = mh_dnsbl_memory_health_get(run->mem, z->name, fam, listed,
                                    run->cache_s, ans, cap);
    if (*n > 0) {
        *kept = true;
        return;
    }
    char pfx[MH_DNSBL_NAME_MAX + 1];
    if (fam == MH_DNSBL_FORM_V6) {
        /* RFC 5782 5: ::FFFF:7F00:2 listed, ::FFFF:7F00:1 not; ::2 too
         * for the listed one, as lists such as DNSWL use it. */
        unsigned char b[16] = {0};
        b[10] = b[11] = 0xff;
        b[12] = 0x7f;
        b[15] = listed ? 2 : 1;
        mh_dnsbl_reverse_bytes(AF_INET6, b, pfx, sizeof pfx);
        submit_test(run, zi, fam, listed, pfx, &ans[(*n)++]);
        if (listed) {
            memset(b, 0, sizeof b);
            b[15] = 2;
            mh_dnsbl_reverse_bytes(AF_INET6, b, pfx, sizeof pfx);
            submit_test(run, zi, fam, listed, pfx, &ans[(*n)++]);
        }
        return;
    }
    const char *own = own_test_entry(z, fam, listed);
    const char *std = fam == MH_DNSBL_FORM_V4
                          ? (listed ? "127.0.0.2" : "127.0.0.1")
                          : (listed ? "test" : "invalid");
    if (test_prefix(fam, own != NULL ? own : std, pfx, sizeof pfx) == 0) {
        submit_test(run, zi, fam, listed, pfx, &ans[(*n)++]);
    }
}

/* Sends the next subject query on zone zi (with the zone's positive test
 * entry queued the first time the zone sees the family). Returns false
 * when every subject of the zone has gone out. */
static bool
zone_next(struct run *run, size_t zi)
{
    struct zrun *zr = &run->zr[zi];
    while (zr->cur < run->nsubj) {
        struct mh_dnsbl_subject *s = run->subj[zr->cur++];
        struct mh_dnsbl_pair *pr = &s->pairs[zi];
        if (!pr->applicable || pr->name_too_long || pr->sent) {
            continue;
        }
        struct query *q = new_query(run, Q_SUBJECT, zi, s->fam, s->prefix);
        if (q == NULL) {
            continue;
        }
        pr->sent = true;
        q->pair = pr;
        /* the positive test entry the answer will need if it is "not
         * listed"; TXT and the negative one only after a listing */
        ensure_test(run, zi, s->fam, true);
        send_query(run, q);
        return true;
    }
    return false;
}

/* Most queries one call of pump() sends: the one-shot event loop
 * (mh_dnsbl_flow_wait) reads the answers that came back meanwhile before
 * it sends more, so filling a wide window does not leave them to overflow
 * the sockets' receive buffers. A runner's loop steps the task again in
 * the same pass (run_loop.c: step_ready); there the shared window, at
 * most MH_DNSBL_SHARED_CEIL queries, bounds what goes out in a row. */
#define PUMP_BURST 128

/* The most queries the run may have in flight now: its window's, and on
 * a loop also a fixed --max-in-flight (its own win). */
static size_t
window_now(struct run *run)
{
    size_t cur = run_win(run)->cur;
    return !run->win.adaptive && run->win.cur < cur ? run->win.cur : cur;
}

/*
 * Whether one more query may go out. A run of its own: while its window
 * has room. On a loop (sh), the checks share the window in turns: while
 * nobody waits, any check sends while the window has room (less the
 * slots promised to the checks woken for their turn); once some wait, a
 * check sends one query per turn, taken in the order they queued
 * (wait_for_room, wake_waiters), so a check of thousands of queries does
 * not keep the others out (a zone with nothing in flight is not held to
 * this: pump_floor()). A fixed --max-in-flight caps the check in every
 * case.
 */
static bool
room(struct run *run)
{
    if (run->inflight >= window_now(run)) {
        return false;
    }
    const struct mh_dnsbl_shared *sh = run->sh;
    if (sh == NULL) {
        return true;
    }
    if (run->turn) {
        return sh->inflight < sh->win.cur;
    }
    return sh->wait_head == NULL && sh->inflight + sh->turns < sh->win.cur;
}

/* Whether the run has queries left to send (queued, or subjects some zone
 * has not asked about). */
static bool
more_to_send(const struct run *run)
{
    if (run->wait_head != NULL) {
        return true;
    }
    for (size_t zi = 0; zi < run->nz; zi++) {
        if (run->zr[zi].cur < run->nsubj) {
            return true;
        }
    }
    return false;
}

/* Puts the run at the end of the loop's queue of checks waiting for room
 * in the shared window (once). */
static void
wait_for_room(struct run *run)
{
    struct mh_dnsbl_shared *sh = run->sh;
    if (run->state != RS_QUERY) {
        return;
    }
    run_set_state(run, RS_WAIT_ROOM);
    run->wnext = NULL;
    run->wprev = sh->wait_tail;
    if (sh->wait_tail != NULL) {
        ((struct run *)sh->wait_tail)->wnext = run;
    } else {
        sh->wait_head = run;
    }
    sh->wait_tail = run;
}

/* Takes the run out of that queue. */
static void
stop_waiting(struct run *run)
{
    struct mh_dnsbl_shared *sh = run->sh;
    if (run->state != RS_WAIT_ROOM) {
        return;
    }
    run_set_state(run, RS_QUERY);
    if (run->wprev != NULL) {
        run->wprev->wnext = run->wnext;
    } else {
        sh->wait_head = run->wnext;
    }
    if (run->wnext != NULL) {
        run->wnext->wprev = run->wprev;
    } else {
        sh->wait_tail = run->wprev;
    }
    run->wprev = run->wnext = NULL;
}

/* Has the loop step the checks at the head of the waiting queue, one per
 * query the shared window has room for: each is given a turn, one query
 * it may send past the queue when it is stepped, then queues again if
 * it has more. */
static void
wake_waiters(struct mh_dnsbl_shared *sh)
{
    size_t held = sh->inflight + sh->turns;
    size_t free_slots = sh->win.cur > held ? sh->win.cur - held : 0;
    while (free_slots-- > 0 && sh->wait_head != NULL) {
        struct run *r = sh->wait_head;
        stop_waiting(r);
        r->turn = true;
        sh->turns++;
        r->wake(r->wake_arg);
    }
}

/* A turn the run was given and did not use goes back, to the next in
 * the queue. */
static void
end_turn(struct run *run)
{
    if (take_turn(run)) {
        wake_waiters(run->sh);
    }
}

/* Whether a task has nothing in flight and nothing left to send. */
static bool
run_idle(const struct run *run)
{
    return run->inflight == 0 && run->hosts_pending == 0 && !more_to_send(run);
}

/* Takes the first queued query for zone zi off the queue, or NULL. */
static struct query *
take_queued(struct run *run, size_t zi)
{
    struct query *prev = NULL;
    for (struct query *q = run->wait_head; q != NULL; prev = q, q = q->next) {
        if (q->zi != zi) {
            continue;
        }
        if (prev != NULL) {
            prev->next = q->next;
        } else {
            run->wait_head = q->next;
        }
        if (run->wait_tail == q) {
            run->wait_tail = prev;
        }
        return q;
    }
    return NULL;
}

/*
 * On a loop: each zone of the run with no query in flight sends one (its
 * first queued, else its next subject) whatever the shared window holds,
 * within the run's own cap. So queries to a zone that never answers, one
 * per check, cannot fill the shared window and keep every check's other
 * zones waiting until their deadlines: each zone of each check always
 * moves, one query at a time, as a check of its own would.
 */
static void
pump_floor(struct run *run)
{
    for (size_t zi = 0; zi < run->nz; zi++) {
        struct zrun *zr = &run->zr[zi];
        if (zr->inflight > 0 || run->inflight >= window_now(run)) {
            continue;
        }
        struct query *q = take_queued(run, zi);
        if (q != NULL) {
            send_query(run, q);
        } else if (zr->cur < run->nsubj) {
            zone_next(run, zi);
        }
    }
}

/*
 * Sends queued queries, then subject queries, while fewer than the window
 * (window_now()) are in flight and the deadline has not passed, at most
 * PUMP_BURST of them; returns true when it stopped at that limit.
 * Subject queries come from the zones in turn, and a zone with subjects
 * left holds at most its share of the slots (the window divided
 * by the zones with subjects left), so a zone that never answers does not
 * stall the others: its queries wait in its share until the deadline.
 * Called after every answer; not re-entered from a callback that
 * ares_query runs at once.
 */
static bool
pump(struct run *run)
{
    if (run->pumping || ended(run) || (run->sh == NULL && run->chs.n == 0)) {
        return false;
    }
    if (run->state == RS_START) {
        run_set_state(run, RS_QUERY);
    }
    run->pumping = true;
    if (run->sh != NULL && !mh_deadline_expired(run->dl)) {
        pump_floor(run);
    }
    size_t burst = 0;
    while (room(run) && !mh_deadline_expired(run->dl)) {
        if (burst++ == PUMP_BURST) {
            run->pumping = false;
            return true;
        }
        struct query *q = run->wait_head;
        if (q != NULL) {
            run->wait_head = q->next;
            if (run->wait_head == NULL) {
                run->wait_tail = NULL;
            }
            send_query(run, q);
            continue;
        }
        size_t active = 0;
        for (size_t zi = 0; zi < run->nz; zi++) {
            active += run->zr[zi].cur < run->nsubj ? 1u : 0u;
        }
        if (active == 0) {
            break;
        }
        size_t share = (window_now(run) + active - 1) / active;
        bool sent = false;
        for (size_t k = 0; k < run->nz && !sent; k++) {
            size_t zi = (run->rr + k) % run->nz;
            struct zrun *zr = &run->zr[zi];
            if (zr->cur < run->nsubj && zr->inflight < share &&
                zone_next(run, zi)) {
                sent = true;
                run->rr = zi + 1;
            }
        }
        if (!sent) {
            break;
        }
    }
    if (run->sh != NULL) {
        end_turn(run);
        /* Only the shared window is waited for: a check at its own fixed
         * --max-in-flight goes on from its own answers (after_answer), and
         * in the queue it could not use the turns it is given; two such
         * checks would pass them to each other for ever, never back to
         * the loop. */
        if (!room(run) && run->inflight < window_now(run) &&
            more_to_send(run) && !mh_deadline_expired(run->dl)) {
            wait_for_room(run);
        }
    }
    run->pumping = false;
    return false;
}

/* After an answer of the run's (in its callback): sends what may go out
 * now; on a loop also wakes the checks waiting for the room it made, and
 * the task itself when it has ended or has more to send at once. */
static void
after_answer(struct run *run)
{
    bool more = pump(run);
    if (run->sh == NULL) {
        return;
    }
    wake_waiters(run->sh);
    if (more || run_idle(run)) {
        run->wake(run->wake_arg);
    }
}

/* pump() as the event loop calls it (mh_dnsbl_flow_wait). */
static bool
pump_more(void *arg)
{
    return pump(arg);
}

static bool
zone_applies(const struct mh_dnsbl_zone *z, int fam)
{
    switch (z->type) {
    case MH_DNSBL_ZONE_IP:
        return fam == MH_DNSBL_FORM_V4 || fam == MH_DNSBL_FORM_V6;
    case MH_DNSBL_ZONE_IP4:
        return fam == MH_DNSBL_FORM_V4;
    case MH_DNSBL_ZONE_IP6:
        return fam == MH_DNSBL_FORM_V6;
    case MH_DNSBL_ZONE_DOMAIN:
        return fam == MH_DNSBL_FORM_NAME;
    case MH_DNSBL_ZONE_ANY:
        return true;
    }
    return false;
}

/* Zones that may answer address questions. */
bool
mh_dnsbl_zone_is_ip(const struct mh_dnsbl_zone *z)
{
    return z->type != MH_DNSBL_ZONE_DOMAIN;
}

/* Zones that may answer name questions. */
static bool
zone_is_domain(const struct mh_dnsbl_zone *z)
{
    return z->type == MH_DNSBL_ZONE_DOMAIN || z->type == MH_DNSBL_ZONE_ANY;
}

/* The families whose positive test point tells that zone z works although
 * family fam's fails (the zone's type leaves fam open). Returns how many
 * were written to out (at most 2). */
size_t
mh_dnsbl_other_forms(const struct mh_dnsbl_zone *z, int fam, int out[2])
{
    size_t n = 0;
    if (z->type == MH_DNSBL_ZONE_ANY) {
        for (int f = 0; f < MH_DNSBL_FORM_COUNT; f++) {
            if (f != fam) {
                out[n++] = f;
            }
        }
    } else if (z->type == MH_DNSBL_ZONE_IP && fam == MH_DNSBL_FORM_V6) {
        out[n++] = MH_DNSBL_FORM_V4;
    }
    return n;
}

/* FNV-1a over the family and the subject text. */
static size_t
subject_hash(int fam, const char *text)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(unsigned)fam;
    for (const char *c = text; *c != '\0'; c++) {
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    }
    return (size_t)h;
}

/* The slot of subject (fam, text) in the hash set: its index + 1, or 0 and
 * where it would go. */
static size_t *
subject_slot(struct run *run, int fam, const char *text)
{
    size_t i = subject_hash(fam, text) & (run->hcap - 1);
    for (;;) {
        size_t v = run->hslot[i];
        if (v == 0 || (run->subj[v - 1]->fam == fam &&
                       strcmp(run->subj[v - 1]->text, text) == 0)) {
            return &run->hslot[i];
        }
        i = (i + 1) & (run->hcap - 1);
    }
}

/* Makes room for one more subject (array and hash set). Returns 0 or -1. */
static int
subject_room(struct run *run)
{
    if (run->nsubj + 1 > run->subj_cap) {
        size_t cap = run->subj_cap > 0 ? run->subj_cap * 2 : 16;
        struct mh_dnsbl_subject **v = realloc(run->subj, cap * sizeof *v);
        if (v == NULL) {
            return -1;
        }
        run->subj = v;
        run->subj_cap = cap;
    }
    if ((run->nsubj + 1) * 2 > run->hcap) {
        size_t cap = run->hcap > 0 ? run->hcap * 2 : 64;
        size_t *slots = calloc(cap, sizeof *slots);
        if (slots == NULL) {
            return -1;
        }
        free(run->hslot);
        run->hslot = slots;
        run->hcap = cap;
        for (size_t i = 0; i < run->nsubj; i++) {
            *subject_slot(run, run->subj[i]->fam, run->subj[i]->text) = i + 1;
        }
    }
    return 0;
}

/* Adds a subject (deduplicated) whose queries the pump sends on every zone
 * that applies. text is the address text or the domain; prefix its query
 * prefix; host the index of the host name it came from (-1: none). */
static void
add_subject(struct run *run, int fam, const unsigned char *bytes,
            const char *text, const char *prefix, int host)
{
    if (subject_room(run) != 0) {
        run->oom = true;
        return;
    }
    size_t *slot = subject_slot(run, fam, text);
    if (*slot != 0) {
        return;
    }
    size_t tl = strlen(text) + 1, pl = strlen(prefix) + 1;
    struct mh_dnsbl_subject *s = calloc(1, sizeof *s + tl + pl);
    struct mh_dnsbl_pair *pairs =
        run->nz > 0 ? calloc(run->nz, sizeof *pairs) : NULL;
    if (s == NULL || (run->nz > 0 && pairs == NULL)) {
        free(s);
        free(pairs);
        run->oom = true;
        return;
    }
    s->fam = fam;
    s->host = host;
    if (bytes != NULL) {
        memcpy(s->bytes, bytes, fam == MH_DNSBL_FORM_V4 ? 4 : 16);
    }
    memcpy(s->mem, text, tl);
    memcpy(s->mem + tl, prefix, pl);
    s->text = s->mem;
    s->prefix = s->mem + tl;
    s->pairs = pairs;
    run->subj[run->nsubj++] = s;
    *slot = run->nsubj;
    for (size_t zi = 0; zi < run->nz; zi++) {
        const struct mh_dnsbl_zone *z = run->zr[zi].z;
        struct mh_dnsbl_pair *pr = &pairs[zi];
        if (!zone_applies(z, fam)) {
            continue;
        }
        pr->applicable = true;
        char qname[MH_DNSBL_NAME_MAX + 1];
        if (zone_qname(z, prefix, qname, sizeof qname) != 0) {
            struct mh_dnsbl_answer a;
            pr->name_too_long = true;
            mh_dnsbl_interpret(z, MH_DNSBL_RC_OTHER, NULL, 0, &a);
            store_answer(run, pr, &a);
        }
    }
}

/* Adds a numeric address subject from raw bytes. */
static void
add_address(struct run *run, int family, const unsigned char *bytes, int host)
{
    char text[INET6_ADDRSTRLEN], prefix[80];
    if (inet_ntop(family, bytes, text, sizeof text) == NULL ||
        mh_dnsbl_reverse_bytes(family, bytes, prefix, sizeof prefix) != 0) {
        return;
    }
    add_subject(run, family == AF_INET ? MH_DNSBL_FORM_V4 : MH_DNSBL_FORM_V6,
                bytes, text, prefix, host);
}

/* Parses a numeric address (IPv4-mapped IPv6 becomes IPv4). Returns the
 * family or 0. */
static int
parse_address(const char *text, unsigned char *bytes)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    if (inet_pton(AF_INET, text, bytes) == 1) {
        return AF_INET;
    }
    if (inet_pton(AF_INET6, text, bytes) == 1) {
        if (memcmp(bytes, mapped, sizeof mapped) == 0) {
            memmove(bytes, bytes + 12, 4);
            return AF_INET;
        }
        return AF_INET6;
    }
    return 0;
}

static bool
family_wanted(const struct run *run, int family)
{
    return run->p->family != AF_INET && run->p->family != AF_INET6
               ? true
               : run->p->family == family;
}

static void
gai_callback(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    struct hostq *hq = arg;
    struct run *run = hq->run;
    run->hosts_pending--;
    if (ended(run)) {
        if (res != NULL) {
            ares_freeaddrinfo(res);
        }
        ended_late(run, NULL, status, 0);
        return;
    }
    hq->done = true;
    hq->status = status;
    if (status != ARES_SUCCESS || res == NULL) {
        trace(run, "dns<", "A/AAAA %s: %s", hq->name, ares_strerror(status));
        if (res != NULL) {
            ares_freeaddrinfo(res);
        }
        if (!ended_by_run(status)) {
            after_answer(run);
        }
        return;
    }
    for (struct ares_addrinfo_node *nd = res->nodes; nd != NULL;
         nd = nd->ai_next) {
        const unsigned char *b = NULL;
        if (nd->ai_family == AF_INET &&
            nd->ai_addrlen >= (ares_socklen_t)sizeof(struct sockaddr_in)) {
            b = (const unsigned char *)&(
                    (const struct sockaddr_in *)(void *)nd->ai_addr)
                    ->sin_addr;
        } else if (nd->ai_family == AF_INET6 &&
                   nd->ai_addrlen >=
                       (ares_socklen_t)sizeof(struct sockaddr_in6)) {
            b = (const unsigned char *)&(
                    (const struct sockaddr_in6 *)(void *)nd->ai_addr)
                    ->sin6_addr;
        }
        if (b == NULL || !family_wanted(run, nd->ai_family)) {
            continue;
        }
        char text[INET6_ADDRSTRLEN] = "?";
        inet_ntop(nd->ai_family, b, text, sizeof text);
        trace(run, "dns<", "A/AAAA %s: %s", hq->name, text);
        if (hq->naddrs >= MH_DNSBL_MAX_ADDRS) {
            hq->dropped++;
            continue;
        }
        add_address(run, nd->ai_family, b, hq->index);
        hq->naddrs++;
    }
    ares_freeaddrinfo(res);
    if (!ended_by_run(status)) {
        after_answer(run);
    }
}

/* What an answer asks for next, queued at once from its callback (so a
 * slow zone never delays another zone's follow-up): the TXT record and the
 * negative test entry after a listing (TXT also after an error code: its
 * text explains it); the other families' positive test entries when a
 * zone of open type fails this family's. */
static void
followup(const struct query *q, enum mh_dnsbl_kind k)
{
    struct run *run = q->run;
    if (q->type == Q_SUBJECT) {
        if ((k == MH_DNSBL_K_LISTED || k == MH_DNSBL_K_ERROR_CODE) &&
            !q->pair->txt_asked) {
            q->pair->txt_asked = true;
            struct query *t = new_query(run, Q_TXT, q->zi, q->fam, q->prefix);
            if (t != NULL) {
                t->pair = q->pair;
                enqueue(run, t);
            }
        }
        if (k == MH_DNSBL_K_LISTED) {
            ensure_test(run, q->zi, q->fam, false);
        }
        return;
    }
    if (q->type == Q_TEST && q->pos_test && k == MH_DNSBL_K_NOT_LISTED) {
        int of[2];
        size_t nof = mh_dnsbl_other_forms(run->zr[q->zi].z, q->fam, of);
        for (size_t i = 0; i < nof; i++) {
            ensure_test(run, q->zi, of[i], true);
        }
    }
}

static bool
any_zone_is_ip(const struct run *run)
{
    for (size_t i = 0; i < run->nz; i++) {
        if (mh_dnsbl_zone_is_ip(run->zr[i].z)) {
            return true;
        }
    }
    return false;
}

static bool
any_zone_is_domain(const struct run *run)
{
    for (size_t i = 0; i < run->nz; i++) {
        if (zone_is_domain(run->zr[i].z)) {
            return true;
        }
    }
    return false;
}
/* Order of subjects in the output: IPv4, IPv6 (each by value), domain. */
static int
cmp_subject(const void *a, const void *b)
{
    const struct mh_dnsbl_subject *x =
        *(const struct mh_dnsbl_subject *const *)a;
    const struct mh_dnsbl_subject *y =
        *(const struct mh_dnsbl_subject *const *)b;
    if (x->fam != y->fam) {
        return x->fam < y->fam ? -1 : 1;
    }
    if (x->fam == MH_DNSBL_FORM_NAME) {
        return strcmp(x->text, y->text);
    }
    return memcmp(x->bytes, y->bytes, x->fam == MH_DNSBL_FORM_V4 ? 4 : 16);
}

static void
run_free(struct run *run)
{
    while (run->wait_head != NULL) {
        struct query *q = run->wait_head;
        run->wait_head = q->next;
        free(q);
    }
    run->wait_tail = NULL;
    for (size_t i = 0; i < run->nsubj; i++) {
        for (size_t zi = 0; zi < run->nz && run->subj[i]->pairs != NULL; zi++) {
            free(run->subj[i]->pairs[zi].full);
            free(run->subj[i]->pairs[zi].txt);
        }
        free(run->subj[i]->pairs);
        free(run->subj[i]);
    }
    free(run->subj);
    free(run->hslot);
    free(run->zr);
    mh_dnsbl_memory_free(run->own_mem);
    run->own_mem = NULL;
    for (size_t h = 0; h < run->nhosts; h++) {
        free((char *)(uintptr_t)run->hosts[h].name);
    }
    free(run->hosts);
}

/* Sorts the subjects into output order (IPv4, IPv6, names) and puts the
 * facts of run into rep, then judges them (dnsbl_verdicts.c). Out of
 * memory: rep->oom, and rep is not judged. */
static void
run_report(struct run *run, struct mh_dnsbl_report *rep, double elapsed)
{
    if (run->nsubj > 1) {
        qsort(run->subj, run->nsubj, sizeof *run->subj, cmp_subject);
    }
    rep->p = run->p;
    rep->deadline_s = mh_deadline_length(run->dl);
    rep->elapsed_s = elapsed;
    rep->zones = calloc(run->nz + 1, sizeof *rep->zones);
    rep->nz = run->nz;
    rep->subj = run->subj;
    rep->nsubj = run->nsubj;
    rep->hosts = calloc(run->nhosts + 1, sizeof *rep->hosts);
    rep->nhosts = run->nhosts;
    rep->addrs_dropped = run->addrs_dropped;
    rep->nblocks = run->nblocks;
    rep->any_ip_zone = any_zone_is_ip(run);
    memcpy(rep->blocks, run->blocks, sizeof rep->blocks);
    if (rep->zones == NULL || rep->hosts == NULL) {
        rep->oom = true;
        return;
    }
    for (size_t i = 0; i < run->nz; i++) {
        struct mh_dnsbl_zone_report *zo = &rep->zones[i];
        zo->z = run->zr[i].z;
        memcpy(zo->h, run->zr[i].h, sizeof zo->h);
        zo->backoff_s = run->zr[i].backoff_s;
        zo->refused_by = run->zr[i].refused_by;
    }
    for (size_t i = 0; i < run->nhosts; i++) {
        const struct hostq *hq = &run->hosts[i];
        rep->hosts[i] = (struct mh_dnsbl_host_report){
            .name = hq->name,
            .done = hq->done,
            .status = hq->status,
            .naddrs = hq->naddrs,
            .dropped = hq->dropped,
        };
    }
    if (mh_dnsbl_report_judge(rep) == 0) {
        rep->judged = true;
    } else {
        rep->oom = true;
    }
}

/* A report and the run whose facts it holds. */
struct owned_report {
    struct mh_dnsbl_report rep; /* first: mh_dnsbl_report_free casts */
    struct run run;
    bool have_run; /* run_init succeeded: run_free at the end */
};

/* A new empty report on target (borrowed), or NULL. */
static struct owned_report *
owned_new(const char *target)
{
    struct owned_report *o = calloc(1, sizeof *o);
    if (o != NULL) {
        o->rep.target = target;
        o->rep.failure.phase = "";
        o->rep.duration_s = -1;
    }
    return o;
}

/* The run could not start: a usage error (UNKNOWN) saying why. */
static void
usage_failure(struct mh_dnsbl_report *rep, const char *why)
{
    rep->failure.state = MH_STATE_UNKNOWN;
    rep->failure.reason = MH_REASON_USAGE_ERROR;
    rep->failure.category = mh_reason_category(MH_REASON_USAGE_ERROR);
    rep->failure.phase = "usage";
    if (why != rep->failure.cause) {
        mh_textf(rep->failure.cause, sizeof rep->failure.cause, "%s", why);
    }
}

void
mh_dnsbl_report_free(struct mh_dnsbl_report *rep)
{
    if (rep == NULL) {
        return;
    }
    struct owned_report *o = (struct owned_report *)rep;
    mh_dnsbl_report_release(rep);
    free(rep->zones);
    free(rep->hosts);
    free(rep->bad_addresses);
    rep->zones = NULL;
    rep->hosts = NULL;
    rep->bad_addresses = NULL;
    if (o->have_run && (o->run.inflight > 0 || o->run.hosts_pending > 0)) {
        /* a task's queries in the loop's channel: the last one to end
         * frees the rest (ended_late) */
        run_stop(&o->run);
        o->run.orphan = true;
        return;
    }
    if (o->have_run) {
        run_free(&o->run);
    }
    free(o);
}

/* A query (q, or NULL for a host name lookup) of a run that has ended:
 * only counted off the run (it left the shared window when the run
 * stopped, so its loss does not halve the window either: the run no
 * longer waits for it), and the room it leaves goes to the checks that
 * wait; the last one of an orphan frees it. */
static void
ended_late(struct run *run, struct query *q, int status, int timeouts)
{
    if (q != NULL) {
        answered(run, q, status, timeouts);
        free(q);
    }
    if (run->sh != NULL) {
        wake_waiters(run->sh);
    }
    if (run->orphan && run->inflight == 0 && run->hosts_pending == 0) {
        struct owned_report *o =
            (struct owned_report *)(void *)((char *)run -
                                            offsetof(struct owned_report, run));
        run_free(run);
        free(o);
    }
}

/* Sets up a run on a fresh channel, or on a loop's shared one (sh not
 * NULL). Returns 0, or -1 with err. */
static int
run_init(struct run *run, const struct mh_dnsbl_params *p,
         const struct mh_deadline *dl, struct mh_dnsbl_shared *sh, char *err,
         size_t errlen)
{
    memset(run, 0, sizeof *run);
    run->p = p;
    run->dl = dl;
    run->sh = sh;
    run->t0 = mh_monotonic_s();
    if (p->zones == NULL || p->zones->n == 0) {
        snprintf(err, errlen, "no DNSBL zone given (--zone or --zones-file)");
        return -1;
    }
    if (p->zones->n > MH_DNSBL_MAX_ZONES) {
        snprintf(err, errlen, "too many zones (%zu, at most %d)", p->zones->n,
                 MH_DNSBL_MAX_ZONES);
        return -1;
    }
    run->nz = p->zones->n;
    mh_dnsbl_window_init(&run->win, p->max_in_flight);
    run->cache_s =
        p->health_cache_s > 0 ? p->health_cache_s : MH_DNSBL_HEALTH_CACHE_S;
    run->mem = p->memory;
    if (run->mem == NULL && p->zone_budget > 0) {
        /* a budget without the runner: counted over this run */
        run->own_mem = mh_dnsbl_memory_new(1.0);
        if (run->own_mem == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        run->mem = run->own_mem;
    }
    run->zr = calloc(run->nz, sizeof *run->zr);
    if (run->zr == NULL) {
        mh_dnsbl_memory_free(run->own_mem);
        run->own_mem = NULL;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < run->nz; i++) {
        run->zr[i].z = &p->zones->v[i];
    }
    /* MH_RESOLVE_SERVFAIL_ANSWERS: a resolver's SERVFAIL or REFUSED is
     * reported as such (BR-33 B), see resolve.h; tries and timeout from
     * the time left, so a lost UDP answer is retried before the
     * deadline. */
    unsigned rflags = MH_RESOLVE_SERVFAIL_ANSWERS;
    if (sh != NULL) {
        return 0; /* the loop's channel has these flags */
    }
    if (run->win.ceil > MH_DNSBL_WINDOW_START) {
        rflags |= MH_RESOLVE_BULK; /* room for a wide window's answers */
    }
    if (mh_dnsbl_channels_open(&run->chs, run->win.ceil, p->resolver, rflags,
                               dl, err, errlen) != 0) {
        free(run->zr);
        run->zr = NULL;
        mh_dnsbl_memory_free(run->own_mem);
        run->own_mem = NULL;
        return -1;
    }
    return 0;
}

/* Keeps the test answers this run learnt that show its zones healthy (a
 * positive entry listed, a negative one not listed) in the memory; a zone
 * in trouble is asked again next time (dnsbl_memory.h). */
static void
keep_health(struct run *run)
{
    if (run->p->memory == NULL) {
        return; /* this run's own memory ends with it */
    }
    for (size_t zi = 0; zi < run->nz; zi++) {
        const struct zrun *zr = &run->zr[zi];
        for (int f = 0; f < MH_DNSBL_FORM_COUNT && !zr->refused; f++) {
            const struct mh_dnsbl_health *h = &zr->h[f];
            bool listed = false, clean = h->nneg > 0;
            for (size_t i = 0; i < h->npos; i++) {
                listed = listed || h->pos[i].kind == MH_DNSBL_K_LISTED;
            }
            for (size_t i = 0; i < h->nneg; i++) {
                clean = clean && h->neg[i].kind == MH_DNSBL_K_NOT_LISTED;
            }
            if (listed && !h->pos_kept) {
                mh_dnsbl_memory_health_put(run->mem, zr->z->name, f, true,
                                           h->pos, h->npos);
            }
            if (clean && !h->neg_kept) {
                mh_dnsbl_memory_health_put(run->mem, zr->z->name, f, false,
                                           h->neg, h->nneg);
            }
        }
    }
}

/* Waits for every query, follow-ups included (followup()), bounded by
 * the deadline; then destroys the channel: queries still pending are
 * cancelled and stay "not answered". */
static void
run_wait(struct run *run)
{
    trace(run, "dns=", "window %zu%s, %s%zu channel%s", run->win.cur,
          run->win.adaptive ? " (adapts)" : "",
          run->chs.max > 1 ? "up to " : "", run->chs.max,
          run->chs.max == 1 ? "" : "s");
    mh_dnsbl_flow_wait(&run->chs, run->dl, pump_more, run);
    run_stop(run);
    keep_health(run);
}

/* Ends the run's sending. A run of its own closes its channels (pending
 * queries end with ARES_EDESTRUCTION); a task leaves the queue, gives back
 * its turn, and its queries in flight leave the shared window as
 * cancelled ones would (c-ares 1.18 cannot cancel them one by one: they
 * end in the channel later, counted off by ended_late()). */
static void
run_stop(struct run *run)
{
    if (ended(run)) {
        return;
    }
    enum run_state end =
        run_idle(run) && !mh_deadline_expired(run->dl) ? RS_DONE : RS_STOPPED;
    if (run->sh == NULL) {
        run_set_state(run, end);
        mh_dnsbl_channels_close(&run->chs);
        return;
    }
    stop_waiting(run);
    end_turn(run);
    run_set_state(run, end);
    run->sh->inflight -= run->inflight;
    wake_waiters(run->sh);
}

/* Adds the domain subject (if any zone answers names) for name
 * (normalised). */
static void
add_domain(struct run *run, const char *name, int host)
{
    if (any_zone_is_domain(run)) {
        add_subject(run, MH_DNSBL_FORM_NAME, NULL, name, name, host);
    }
}

struct mh_dnsbl_report *
mh_dnsbl_run_addresses(const struct mh_dnsbl_params *p,
                       const char *const *addresses, size_t naddresses,
                       const char *domain, const struct mh_deadline *dl)
{
    struct owned_report *o = owned_new(NULL);
    if (o == NULL) {
        return NULL;
    }
    struct mh_dnsbl_report *rep = &o->rep;
    char err[256];
    struct run *run = &o->run;
    double t0 = mh_monotonic_s();
    rep->bad_addresses = calloc(naddresses + 1, sizeof *rep->bad_addresses);
    if (rep->bad_addresses == NULL) {
        rep->oom = true;
        return rep;
    }
    if (run_init(run, p, dl, NULL, err, sizeof err) != 0) {
        usage_failure(rep, err);
        return rep;
    }
    o->have_run = true;
    size_t added = 0;
    for (size_t i = 0; i < naddresses; i++) {
        unsigned char b[16];
        int fam = addresses[i] != NULL ? parse_address(addresses[i], b) : 0;
        if (fam == 0) {
            rep->bad_addresses[rep->nbad_addresses++] =
                addresses[i] != NULL ? addresses[i] : "";
            continue;
        }
        if (!family_wanted(run, fam)) {
            continue;
        }
        if (added >= MH_DNSBL_MAX_ADDRS) {
            run->addrs_dropped++;
            continue;
        }
        size_t before = run->nsubj;
        add_address(run, fam, b, -1);
        if (run->nsubj > before) {
            added++;
        }
    }
    if (domain != NULL) {
        char norm[MH_DNSBL_NAME_MAX + 2];
        if (mh_dnsbl_normalize_name(domain, norm, sizeof norm) == 0) {
            add_domain(run, norm, -1);
        } else {
            rep->bad_domain = domain;
        }
    }
    run_wait(run);
    rep->oom = run->oom;
    run_report(run, rep, mh_monotonic_s() - t0);
    return rep;
}

/* Starts the checks of one target: an address or address block, or a name
 * (checked as a domain on the zones that answer names, and its addresses on
 * the zones that answer addresses). t is the parsed text. Returns 0, or -1
 * with a usage error in err. */
static int
add_target(struct run *run, const char *text, const struct mh_dnsbl_target *t,
           char *err, size_t errlen)
{
    if (t->family != 0) {
        if (!family_wanted(run, t->family)) {
            snprintf(err, errlen, "%.80s is not an %s address", text,
                     run->p->family == AF_INET ? "IPv4" : "IPv6");
            return -1;
        }
        if (run->nblocks < sizeof run->blocks / sizeof run->blocks[0]) {
            run->blocks[run->nblocks] = text;
        }
        run->nblocks++;
        for (uint64_t i = 0; i < t->count && !run->oom; i++) {
            unsigned char b[16];
            mh_dnsbl_target_address(t, i, b);
            add_address(run, t->family, b, -1);
        }
        return 0;
    }
    const char *name = t->name;
    for (size_t h = 0; h < run->nhosts; h++) {
        if (strcmp(run->hosts[h].name, name) == 0) {
            return 0; /* named twice */
        }
    }
    struct hostq *hq = &run->hosts[run->nhosts];
    memset(hq, 0, sizeof *hq);
    hq->run = run;
    hq->index = (int)run->nhosts;
    hq->name = strdup(name);
    if (hq->name == NULL) {
        run->oom = true;
        return 0;
    }
    run->nhosts++;
    add_domain(run, name, hq->index);
    if (any_zone_is_ip(run)) {
        /* The addresses' queries are sent from the callback the moment
         * the addresses are known; the domain and test-entry queries are
         * already in flight. */
        struct ares_addrinfo_hints hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_family =
            run->p->family == AF_INET || run->p->family == AF_INET6
                ? run->p->family
                : AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        trace(run, "dns>", "A/AAAA %s", name);
        run->hosts_pending++;
        ares_getaddrinfo(
            (ares_channel)(run->sh != NULL ? run->sh->ch : run->chs.ch[0]),
            name, NULL, &hints, gai_callback, hq);
    } else {
        hq->done = true;
    }
    return 0;
}

/* The option a target came from, for messages: "-H" or "--hosts-file F". */
static void
target_origin(const struct mh_dnsbl_params *p, size_t i, size_t ntargets,
              char *buf, size_t len)
{
    if (p->hosts_file != NULL && i + p->nfile_targets >= ntargets) {
        mh_textf(buf, len, "--hosts-file %s:", p->hosts_file);
    } else {
        mh_textf(buf, len, "-H");
    }
}

/* Parses every target and checks the size limit (dnsbl_targets.h).
 * Returns 0, or -1 with the usage error (naming the option) in err. */
static int
parse_targets(const struct mh_dnsbl_params *p, const char *const *targets,
              size_t ntargets, struct mh_dnsbl_target *parsed, char *err,
              size_t errlen)
{
    uint64_t total = 0;
    char origin[300], n1[32], n2[32];
    for (size_t i = 0; i < ntargets; i++) {
        const char *t = targets[i] != NULL ? targets[i] : "";
        target_origin(p, i, ntargets, origin, sizeof origin);
        if (mh_dnsbl_target_parse(t, &parsed[i]) != 0) {
            mh_textf(err, errlen,
                     "invalid %s '%.80s': not an IP address, an address "
                     "block (CIDR) or a DNS name",
                     origin, t);
            return -1;
        }
        uint64_t c = parsed[i].count;
        if (c > MH_DNSBL_MAX_TARGET_ADDRS) {
            unsigned host =
                (parsed[i].family == AF_INET ? 32u : 128u) - parsed[i].prefix;
            if (host > 32) {
                mh_textf(n1, sizeof n1, "2^%u", host);
            } else {
                mh_dnsbl_fmt_count(c, n1, sizeof n1);
            }
            mh_textf(
                err, errlen,
                "%s %.80s has %s addresses, more than the %s one "
                "check takes",
                origin, t, n1,
                mh_dnsbl_fmt_count(MH_DNSBL_MAX_TARGET_ADDRS, n2, sizeof n2));
            return -1;
        }
        total += c;
        if (total > MH_DNSBL_MAX_TARGET_ADDRS) {
            mh_textf(
                err, errlen,
                "the targets of %s come to more than %s "
                "addresses, the most one check takes (split them "
                "over several checks)",
                p->hosts_file != NULL ? "-H and --hosts-file" : "-H",
                mh_dnsbl_fmt_count(MH_DNSBL_MAX_TARGET_ADDRS, n2, sizeof n2));
            return -1;
        }
    }
    return 0;
}

/*
 * Starts the run of p's targets (on sh, a loop's shared channel, or on
 * channels of its own: sh NULL) into a new owned report. The report is
 * final at once (usage failure, out of memory) when o->have_run is false
 * or o->rep.failure.phase is set; else the run goes on (run_wait, or the
 * task's steps) and run_end() makes the report. NULL: out of memory.
 * wake(wake_arg) (a task's, else NULL) is set before the first lookup
 * goes out: c-ares may end one at once (a .onion name, RFC 7686), and its
 * callback wakes the task.
 */
static struct owned_report *
run_start(const struct mh_dnsbl_params *p, const struct mh_deadline *dl,
          struct mh_dnsbl_shared *sh, void (*wake)(void *arg), void *wake_arg)
{
    const char *const *targets = p->targets;
    size_t ntargets = p->ntargets;
    const char *one = p->target != NULL ? p->target : "";
    if (targets == NULL || ntargets == 0) {
        targets = &one;
        ntargets = 1;
    }
    struct owned_report *o = owned_new(targets[0]);
    if (o == NULL) {
        return NULL;
    }
    struct mh_dnsbl_report *rep = &o->rep;
    struct mh_dnsbl_target *parsed = calloc(ntargets, sizeof *parsed);
    if (parsed == NULL) {
        rep->oom = true;
        return o;
    }
    if (parse_targets(p, targets, ntargets, parsed, rep->failure.cause,
                      sizeof rep->failure.cause) != 0) {
        free(parsed);
        usage_failure(rep, rep->failure.cause);
        return o;
    }
    char err[256];
    struct run *run = &o->run;
    if (run_init(run, p, dl, sh, err, sizeof err) != 0) {
        free(parsed);
        usage_failure(rep, err);
        return o;
    }
    o->have_run = true;
    run->wake = wake;
    run->wake_arg = wake_arg;
    run->hosts = calloc(ntargets, sizeof *run->hosts);
    if (run->hosts == NULL) {
        free(parsed);
        rep->oom = true;
        run_stop(run);
        return o;
    }
    for (size_t i = 0; i < ntargets; i++) {
        if (add_target(run, targets[i] != NULL ? targets[i] : "", &parsed[i],
                       err, sizeof err) != 0) {
            usage_failure(rep, err);
            run_stop(run);
            break;
        }
    }
    free(parsed);
    return o;
}

/* Whether run_start() left a run going. */
static bool
run_going(const struct owned_report *o)
{
    return o->have_run && !o->rep.oom && o->rep.failure.phase[0] == '\0';
}

/* Ends a run that was going: no more queries, the zones' healthy test
 * answers kept, the facts judged into the report. */
static void
run_end(struct owned_report *o)
{
    struct run *run = &o->run;
    run_stop(run);
    keep_health(run);
    o->rep.oom = run->oom;
    double elapsed = mh_monotonic_s() - run->t0;
    run_report(run, &o->rep, elapsed);
    o->rep.duration_s = elapsed;
}

struct mh_dnsbl_report *
mh_dnsbl_run(const struct mh_dnsbl_params *p, const struct mh_deadline *dl)
{
    struct owned_report *o = run_start(p, dl, NULL, NULL, NULL);
    if (o == NULL) {
        return NULL;
    }
    if (run_going(o)) {
        run_wait(&o->run);
        run_end(o);
    }
    return &o->rep;
}

/* ---- on an event loop ------------------------------------------------- */

struct mh_dnsbl_task *
mh_dnsbl_task_new(const struct mh_dnsbl_params *p, const struct mh_deadline *dl,
                  struct mh_dnsbl_shared *sh, void (*wake)(void *arg),
                  void *wake_arg)
{
    return (struct mh_dnsbl_task *)run_start(p, dl, sh, wake, wake_arg);
}

bool
mh_dnsbl_task_step(struct mh_dnsbl_task *t)
{
    struct owned_report *o = (struct owned_report *)t;
    struct run *run = &o->run;
    if (!run_going(o) || ended(run) || mh_deadline_expired(run->dl)) {
        return true;
    }
    if (pump(run)) {
        run->wake(run->wake_arg); /* a burst went out: step again */
    }
    return run_idle(run);
}

void
mh_dnsbl_task_expire(struct mh_dnsbl_task *t)
{
    struct owned_report *o = (struct owned_report *)t;
    if (o->have_run) {
        run_stop(&o->run);
    }
}

struct mh_dnsbl_report *
mh_dnsbl_task_report(struct mh_dnsbl_task *t)
{
    struct owned_report *o = (struct owned_report *)t;
    if (run_going(o)) {
        run_end(o);
    }
    return &o->rep;
}
