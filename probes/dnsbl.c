/* SPDX-License-Identifier: MIT */
/*
 * dnsbl: DNS blocklist probe (see dnsbl.h for the rules). Field cases
 * BR-NN are in tests/field-cases.md.
 *
 * Layout of this file:
 *   1. query names (pure)                      RFC 5782 2.1, 2.4, 3
 *   2. answer interpretation and verdict (pure) RFC 5782 2.1, 2.3, 5
 *   3. the run: one c-ares channel, every query in flight at once
 *   4. turning verdicts into the result (items, perfdata, samples, state)
 */
#include "dnsbl.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <stdarg.h>
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
enum { FAM_V4 = 0, FAM_V6 = 1, FAM_DOMAIN = 2, FAM_COUNT = 3 };

/* RFC 5782 section 5 test points as shown in messages. IPv6: the RFC names
 * ::FFFF:7F00:2 / ::FFFF:7F00:1; several lists use ::2 instead, which is
 * accepted as well. */
static const char *const pos_entry[FAM_COUNT] = {
    "127.0.0.2", "::ffff:7f00:2 or ::2", "TEST"};
static const char *const neg_entry[FAM_COUNT] = {"127.0.0.1", "::ffff:7f00:1",
                                                 "INVALID"};

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
    if (t == NULL || fam == FAM_V6) {
        return NULL;
    }
    return (fam == FAM_V4) == is_ipv4_text(t) ? t : NULL;
}

/* The test entry of zone z for family fam that must (pos) or must not be
 * listed, as shown in messages. */
static const char *
test_entry(const struct mh_dnsbl_zone *z, int fam, bool pos)
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
struct health {
    bool pos_started, neg_started;
    bool pos_kept, neg_kept; /* from the runner's memory, not asked */
    struct mh_dnsbl_answer pos[2], neg[1];
    size_t npos, nneg;
};

struct zrun {
    const struct mh_dnsbl_zone *z;
    struct health h[FAM_COUNT];
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
struct pair {
    bool applicable;
    bool name_too_long;
    bool sent;
    bool txt_asked;
    unsigned char skip;  /* enum mh_dnsbl_take: why it was not asked */
    unsigned char kind;  /* enum mh_dnsbl_kind of the A answer (NONE: not
                            answered) */
    unsigned char rcode; /* enum mh_dnsbl_rcode */
    int ares_status;     /* of the A query, for "lookup failed" details */
    struct mh_dnsbl_answer *full; /* owned: the whole interpretation of an
                                     answer with codes (listed, error code,
                                     outside 127/8), else NULL */
    char *txt;                    /* owned: the TXT text, or NULL */
};

/* An address or a domain name being checked. */
struct subject {
    int fam;  /* FAM_V4, FAM_V6, FAM_DOMAIN */
    int host; /* index of the host name it came from, or -1 */
    unsigned char bytes[16];
    const char *text;   /* address text or the name (in mem) */
    const char *prefix; /* query prefix (in mem) */
    struct pair *pairs; /* one per zone (owned) */
    char mem[];
};

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
        struct pair *pair;           /* Q_SUBJECT, Q_TXT */
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

struct run {
    const struct mh_dnsbl_params *p;
    const struct mh_deadline *dl;
    struct mh_dnsbl_channels chs;
    struct zrun *zr;
    size_t nz;
    struct subject **subj;
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
    bool pumping, closing;
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
    if (run->p->trace == NULL) {
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

/* The query name as shown (traces, the JSON "query"): the key of a keyed
 * zone is a credential, so PREFIX.<key>.ZONE. */
static void
shown_qname(const struct mh_dnsbl_zone *z, const char *prefix, char *out,
            size_t len)
{
    mh_textf(out, len, "%s.%s%s", prefix, z->key != NULL ? "<key>." : "",
             z->name);
}

/* The query name of q as traces show it. */
static const char *
q_shown(const struct query *q, char *buf, size_t len)
{
    shown_qname(q->run->zr[q->zi].z, q->prefix, buf, len);
    return buf;
}

/* The answer of a pair: its full interpretation, or one made in tmp from
 * the kind and rcode kept. */
static const struct mh_dnsbl_answer *
pair_answer(const struct pair *pr, struct mh_dnsbl_answer *tmp)
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
store_answer(struct run *run, struct pair *pr, const struct mh_dnsbl_answer *a)
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
    run->inflight--;
    zr->inflight--;
    run->chs.inflight[q->ch]--;
    if (ended_by_run(status)) {
        return;
    }
    if (timeouts > 0 || status == ARES_ETIMEOUT) {
        if (mh_dnsbl_window_lost(&run->win, q->seq)) {
            trace(run, "dns=", "window %zu (an answer was lost)", run->win.cur);
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
        mh_dnsbl_window_clean(&run->win)) {
        trace(run, "dns=", "window %zu", run->win.cur);
    }
}

static void
a_callback(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    struct query *q = arg;
    struct run *run = q->run;
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
    bool ended = ended_by_run(status);
    if (!ended) {
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
    if (!ended) {
        pump(run);
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
store_txt(struct run *run, struct pair *pr, const unsigned char *abuf, int alen)
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
    answered(run, q, status, timeouts);
    if (status == ARES_SUCCESS) {
        store_txt(run, q->pair, abuf, alen);
        char shown[2 * MH_DNSBL_NAME_MAX];
        trace(run, "dns<", "TXT %s: %s", q_shown(q, shown, sizeof shown),
              q->pair->txt != NULL ? q->pair->txt : "");
    }
    free(q);
    if (!ended_by_run(status)) {
        pump(run);
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
    size_t open = run->chs.n;
    size_t ci = mh_dnsbl_channels_pick(&run->chs);
    if (run->chs.n > open) {
        trace(run, "dns=", "channel %zu opened (%zu queries in flight)",
              run->chs.n, run->inflight);
    }
    q->ch = (unsigned char)ci;
    q->seq = mh_dnsbl_window_sent(&run->win);
    q->sent_at = mh_monotonic_s();
    run->inflight++;
    zr->inflight++;
    run->chs.inflight[ci]++;
    run->nqueries++;
    trace(run, "dns>", "%s %s", q->type == Q_TXT ? "TXT" : "A",
          q_shown(q, shown, sizeof shown));
    /* ares_query: no search list, the name is absolute. */
    ares_query((ares_channel)run->chs.ch[ci], qname, ns_c_in,
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
    if (fam == FAM_DOMAIN) {
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
    struct health *h = &zr->h[fam];
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
    if (fam == FAM_V6) {
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
    const char *std = fam == FAM_V4 ? (listed ? "127.0.0.2" : "127.0.0.1")
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
        struct subject *s = run->subj[zr->cur++];
        struct pair *pr = &s->pairs[zi];
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

/* Most queries one call of pump() sends: the event loop reads the answers
 * that came back meanwhile before it sends more, so filling a wide window
 * does not leave them to overflow the sockets' receive buffers. */
#define PUMP_BURST 128

/*
 * Sends queued queries, then subject queries, while fewer than the window
 * (run->win.cur) are in flight and the deadline has not passed, at most
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
    if (run->pumping || run->closing || run->chs.n == 0) {
        return false;
    }
    run->pumping = true;
    size_t burst = 0;
    while (run->inflight < run->win.cur && !mh_deadline_expired(run->dl)) {
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
        size_t share = (run->win.cur + active - 1) / active;
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
    run->pumping = false;
    return false;
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
        return fam == FAM_V4 || fam == FAM_V6;
    case MH_DNSBL_ZONE_IP4:
        return fam == FAM_V4;
    case MH_DNSBL_ZONE_IP6:
        return fam == FAM_V6;
    case MH_DNSBL_ZONE_DOMAIN:
        return fam == FAM_DOMAIN;
    case MH_DNSBL_ZONE_ANY:
        return true;
    }
    return false;
}

/* Zones that may answer address questions. */
static bool
zone_is_ip(const struct mh_dnsbl_zone *z)
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
static size_t
other_families(const struct mh_dnsbl_zone *z, int fam, int out[2])
{
    size_t n = 0;
    if (z->type == MH_DNSBL_ZONE_ANY) {
        for (int f = 0; f < FAM_COUNT; f++) {
            if (f != fam) {
                out[n++] = f;
            }
        }
    } else if (z->type == MH_DNSBL_ZONE_IP && fam == FAM_V6) {
        out[n++] = FAM_V4;
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
        struct subject **v = realloc(run->subj, cap * sizeof *v);
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
    struct subject *s = calloc(1, sizeof *s + tl + pl);
    struct pair *pairs = run->nz > 0 ? calloc(run->nz, sizeof *pairs) : NULL;
    if (s == NULL || (run->nz > 0 && pairs == NULL)) {
        free(s);
        free(pairs);
        run->oom = true;
        return;
    }
    s->fam = fam;
    s->host = host;
    if (bytes != NULL) {
        memcpy(s->bytes, bytes, fam == FAM_V4 ? 4 : 16);
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
        struct pair *pr = &pairs[zi];
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
    add_subject(run, family == AF_INET ? FAM_V4 : FAM_V6, bytes, text, prefix,
                host);
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
    hq->done = true;
    hq->status = status;
    if (status != ARES_SUCCESS || res == NULL) {
        trace(run, "dns<", "A/AAAA %s: %s", hq->name, ares_strerror(status));
        if (res != NULL) {
            ares_freeaddrinfo(res);
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
        pump(run);
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
        size_t nof = other_families(run->zr[q->zi].z, q->fam, of);
        for (size_t i = 0; i < nof; i++) {
            ensure_test(run, q->zi, of[i], true);
        }
    }
}

static bool
any_zone_is_ip(const struct run *run)
{
    for (size_t i = 0; i < run->nz; i++) {
        if (zone_is_ip(run->zr[i].z)) {
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
    const struct subject *x = *(const struct subject *const *)a;
    const struct subject *y = *(const struct subject *const *)b;
    if (x->fam != y->fam) {
        return x->fam < y->fam ? -1 : 1;
    }
    if (x->fam == FAM_DOMAIN) {
        return strcmp(x->text, y->text);
    }
    return memcmp(x->bytes, y->bytes, x->fam == FAM_V4 ? 4 : 16);
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

/* ========================================================================
 * 4. The result
 * ======================================================================== */

/* "127.0.0.2, 127.0.0.4" */
static void
codes_text(const struct mh_dnsbl_answer *a, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < a->ncodes; i++) {
        char c[20];
        size_t o = strlen(buf);
        snprintf(buf + o, len - o, "%s%s", i > 0 ? ", " : "",
                 mh_dnsbl_format_code(a->codes[i], c, sizeof c));
    }
}

/* Seconds without locale dependence ("3", "2.5"). */
static void
seconds_text(double s, char *buf, size_t len)
{
    long ms = (long)(s * 1000.0 + 0.5);
    if (ms % 1000 == 0) {
        mh_textf(buf, len, "%ld", ms / 1000);
    } else if (ms % 100 == 0) {
        mh_textf(buf, len, "%ld.%01ld", ms / 1000, (ms % 1000) / 100);
    } else {
        mh_textf(buf, len, "%ld.%03ld", ms / 1000, ms % 1000);
    }
}

/* Combined positive / negative test-entry answer of a health record. */
static const struct mh_dnsbl_answer *
combined(const struct mh_dnsbl_answer *v, size_t n, struct mh_dnsbl_answer *tmp)
{
    if (n == 0) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].kind == MH_DNSBL_K_LISTED) {
            return &v[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].kind != MH_DNSBL_K_NOT_LISTED) {
            return &v[i]; /* something unknown: not conclusive */
        }
    }
    *tmp = v[0];
    return tmp;
}

/* Everything needed to describe one pair. */
struct verdict_ctx {
    const struct subject *s;
    const struct mh_dnsbl_zone *z;
    const struct pair *pr;
    const struct zrun *zr;
    unsigned budget;                   /* the zone budget (SKIPPED) */
    const struct mh_dnsbl_answer *ans; /* the pair's answer */
    const char *txt;                   /* its TXT text, "" if none */
    const struct mh_dnsbl_answer *pos, *neg;
    enum mh_dnsbl_verdict v;
    double deadline_s;
};

/* Why a failed lookup failed, for "lookup failed: ...". */
static void
failure_text(const struct verdict_ctx *c, char *buf, size_t len)
{
    const char *zn = c->z->name;
    if (c->pr->name_too_long) {
        mh_textf(buf, len, "query name for %s on %s longer than 253 bytes",
                 c->s->text, zn);
        return;
    }
    switch (c->ans->rcode) {
    case MH_DNSBL_RC_SERVFAIL:
        mh_textf(buf, len, "SERVFAIL from resolver for %s", zn);
        return;
    case MH_DNSBL_RC_REFUSED:
        mh_textf(buf, len, "REFUSED from resolver for %s", zn);
        return;
    case MH_DNSBL_RC_UNREACHABLE:
        mh_textf(buf, len, "resolver unreachable for %s", zn);
        return;
    case MH_DNSBL_RC_TIMEOUT:
    case MH_DNSBL_RC_ANSWER:
    case MH_DNSBL_RC_NXDOMAIN:
    case MH_DNSBL_RC_NODATA:
    case MH_DNSBL_RC_OTHER:
        break;
    }
    if (c->v == MH_DNSBL_V_TIMEOUT) {
        char t[32];
        seconds_text(c->deadline_s, t, sizeof t);
        mh_textf(buf, len, "no DNS answer for %s within %s s", zn, t);
        return;
    }
    mh_textf(buf, len, "%s for %s", ares_strerror(c->pr->ares_status), zn);
}

/* How describe() words a pair. */
enum form {
    FORM_ITEM,        /* item line: the renderer prints "zone NAME: " */
    FORM_ZONE,        /* summary: names the zone */
    FORM_ZONE_SUBJECT /* summary of several subjects: zone and subject */
};

/* Describes a pair in the given form. */
static void
describe(const struct verdict_ctx *c, enum form form, char *buf, size_t len)
{
    bool zone_form = form != FORM_ITEM;
    bool name_subject = form != FORM_ZONE;
    const struct mh_dnsbl_answer *a = c->ans;
    const char *zn = c->z->name;
    const char *subj = c->s->text;
    int fam = c->s->fam;
    char codes[200], culprit[20], why[300];
    codes_text(a, codes, sizeof codes);
    mh_dnsbl_format_code(a->culprit, culprit, sizeof culprit);
    const char *txt = c->txt;
    const char *sep = txt[0] != '\0' ? ": " : "";
    switch (c->v) {
    case MH_DNSBL_V_NOT_LISTED:
        if (c->pos != NULL && c->pos->kind != MH_DNSBL_K_LISTED) {
            mh_textf(buf, len,
                     "%s not listed%s%s (test entry %s could not be checked)",
                     subj, zone_form ? " on " : "", zone_form ? zn : "",
                     test_entry(c->z, fam, true));
        } else {
            mh_textf(buf, len, "%s not listed%s%s", subj,
                     zone_form ? " on " : "", zone_form ? zn : "");
        }
        return;
    case MH_DNSBL_V_LISTED:
        mh_textf(buf, len, "%s %s%s%s (%s%s%s)%s%s%s", subj,
                 a->list_kind == MH_DNSBL_KIND_ALLOW    ? "allowlisted"
                 : a->list_kind == MH_DNSBL_KIND_POLICY ? "policy-listed"
                 : a->list_kind == MH_DNSBL_KIND_INFO   ? "listed (info)"
                                                        : "listed",
                 zone_form ? " on " : "", zone_form ? zn : "", codes,
                 a->meaning[0] != '\0' ? ": " : "", a->meaning, sep, txt,
                 c->pos != NULL && c->pos->kind == MH_DNSBL_K_NOT_LISTED
                     ? " [zone test entry not listed]"
                     : "");
        return;
    case MH_DNSBL_V_ERROR_CODE:
        mh_textf(buf, len, "%s%srefused the query%s%s (%s: %s)%s%s%s%s",
                 zone_form ? zn : "", zone_form ? " " : "",
                 name_subject ? " for " : "", name_subject ? subj : "", culprit,
                 a->meaning, a->hint != NULL ? " - " : "",
                 a->hint != NULL ? a->hint : "", sep, txt);
        return;
    case MH_DNSBL_V_OUTSIDE:
        mh_textf(buf, len,
                 "%s%sanswered %s for %s, outside 127.0.0.0/8: broken zone "
                 "or a resolver rewriting NXDOMAIN%s%s",
                 zone_form ? zn : "", zone_form ? " " : "", codes, subj, sep,
                 txt);
        return;
    case MH_DNSBL_V_LISTS_EVERYTHING:
        mh_textf(buf, len,
                 "%s%slists everything (test entry %s is listed): its answer "
                 "for %s is not counted",
                 zone_form ? zn : "", zone_form ? " " : "",
                 test_entry(c->z, fam, false), subj);
        return;
    case MH_DNSBL_V_NOT_WORKING:
        mh_textf(
            buf, len,
            "%s%sdoes not look like a%s DNSBL (zone does not exist%s / test "
            "entry %s not listed): no verdict for %s",
            zone_form ? zn : "", zone_form ? " " : "",
            fam == FAM_V6 ? "n IPv6" : "",
            fam == FAM_V6 ? " or lists no IPv6" : "",
            test_entry(c->z, fam, true), subj);
        return;
    case MH_DNSBL_V_NOT_APPLICABLE:
        mh_textf(buf, len,
                 "%s not applicable%s%s: the zone lists %s (test entry %s "
                 "not listed%s)",
                 subj, zone_form ? " on " : "", zone_form ? zn : "",
                 fam == FAM_DOMAIN                  ? "addresses, not names"
                 : fam == FAM_V6                    ? "no IPv6 addresses"
                 : a->kind == MH_DNSBL_K_ERROR_CODE ? "names, not addresses"
                                                    : "no IPv4 addresses",
                 test_entry(c->z, fam, true),
                 a->kind == MH_DNSBL_K_ERROR_CODE ? ", answered 127.0.1.255"
                                                  : "");
        return;
    case MH_DNSBL_V_SKIPPED:
        if (c->pr->skip == MH_DNSBL_TAKE_BUDGET) {
            mh_textf(buf, len,
                     "%s%snot asked for %s: the zone's query budget (%u per "
                     "round) is spent",
                     zone_form ? zn : "", zone_form ? " " : "", subj,
                     c->budget);
        } else {
            char t[32], code[20];
            seconds_text(c->zr->backoff_s, t, sizeof t);
            mh_textf(
                buf, len,
                "%s%snot asked for %s: backs off for %s s after "
                "refusing a query (%s)",
                zone_form ? zn : "", zone_form ? " " : "", subj, t,
                mh_dnsbl_format_code(c->zr->refused_by, code, sizeof code));
        }
        return;
    case MH_DNSBL_V_FAILED:
    case MH_DNSBL_V_TIMEOUT:
        failure_text(c, why, sizeof why);
        if (name_subject) {
            mh_textf(buf, len, "lookup failed for %s: %s", subj, why);
        } else {
            mh_textf(buf, len, "lookup failed: %s", why);
        }
        return;
    }
    mh_textf(buf, len, "?");
}

static const char *
status_name(enum mh_dnsbl_verdict v)
{
    switch (v) {
    case MH_DNSBL_V_NOT_LISTED:
        return "not_listed";
    case MH_DNSBL_V_LISTED:
        return "listed";
    case MH_DNSBL_V_NOT_APPLICABLE:
        return "not_applicable";
    case MH_DNSBL_V_SKIPPED:
        return "not_asked";
    case MH_DNSBL_V_ERROR_CODE:
    case MH_DNSBL_V_OUTSIDE:
    case MH_DNSBL_V_LISTS_EVERYTHING:
    case MH_DNSBL_V_NOT_WORKING:
    case MH_DNSBL_V_FAILED:
    case MH_DNSBL_V_TIMEOUT:
        break;
    }
    return "error";
}

/* Reason of a zone that gave no usable answer (verdict.h). */
static enum mh_reason
error_reason(const struct verdict_ctx *c)
{
    switch (c->v) {
    case MH_DNSBL_V_TIMEOUT:
        return MH_REASON_DNS_TIMEOUT;
    case MH_DNSBL_V_FAILED:
        return c->ans->rcode == MH_DNSBL_RC_UNREACHABLE
                   ? MH_REASON_DNS_LOOKUP_FAILED
                   : MH_REASON_DNSBL_LOOKUP_FAILED;
    case MH_DNSBL_V_ERROR_CODE:
        return MH_REASON_ZONE_REFUSED;
    case MH_DNSBL_V_SKIPPED:
        return c->pr->skip == MH_DNSBL_TAKE_BUDGET ? MH_REASON_ZONE_BUDGET
                                                   : MH_REASON_ZONE_REFUSED;
    case MH_DNSBL_V_OUTSIDE:
    case MH_DNSBL_V_LISTS_EVERYTHING:
    case MH_DNSBL_V_NOT_WORKING:
        return MH_REASON_ZONE_UNHEALTHY;
    case MH_DNSBL_V_NOT_LISTED:
    case MH_DNSBL_V_LISTED:
    case MH_DNSBL_V_NOT_APPLICABLE:
        break;
    }
    return MH_REASON_DNSBL_LOOKUP_FAILED;
}

static enum mh_state
default_judge(void *arg, size_t listed)
{
    (void)arg;
    return listed >= 1 ? MH_STATE_CRITICAL : MH_STATE_OK;
}

/* Bounded string builder for summaries. */
struct sbuf {
    char s[1024];
    size_t n;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_add(struct sbuf *b, const char *fmt, ...)
{
    if (b->n >= sizeof b->s - 1) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
    va_end(ap);
    if (k > 0) {
        b->n += (size_t)k;
        if (b->n >= sizeof b->s) {
            b->n = sizeof b->s - 1;
        }
    }
}

static void
add_perf(struct mh_result *r, const struct mh_dnsbl_params *p,
         const char *label, double value, enum mh_unit unit, const char *warn,
         const char *crit, const double *max)
{
    char l[128];
    snprintf(l, sizeof l, "%s%s", p->perf_prefix != NULL ? p->perf_prefix : "",
             label);
    const double zero = 0;
    mh_result_add_perf(r, l, value, unit, warn, crit, &zero, max);
}

/* Subject description for the summary: "192.0.2.10", "192.0.2.0/24 (256
 * addresses)", "1,024 addresses", or
 * for a host name "mx.example.com (192.0.2.1, 2001:db8::1)". */
static void
subject_desc(const struct run *run, struct sbuf *b)
{
    size_t nnum = 0, k = 0;
    for (size_t i = 0; i < run->nsubj; i++) {
        nnum += run->subj[i]->host < 0 ? 1u : 0u;
    }
    if (nnum > 8) {
        char n[32];
        mh_dnsbl_fmt_count(nnum, n, sizeof n);
        if (run->nblocks > 0 &&
            run->nblocks <= sizeof run->blocks / sizeof run->blocks[0]) {
            for (size_t i = 0; i < run->nblocks; i++) {
                sb_add(b, "%s%s", i > 0 ? ", " : "", run->blocks[i]);
            }
            sb_add(b, " (%s addresses)", n);
        } else {
            sb_add(b, "%s addresses", n);
        }
        k++;
    } else {
        for (size_t i = 0; i < run->nsubj; i++) {
            if (run->subj[i]->host < 0) {
                sb_add(b, "%s%s", k++ > 0 ? ", " : "", run->subj[i]->text);
            }
        }
    }
    for (size_t h = 0; h < run->nhosts; h++) {
        sb_add(b, "%s%s", k++ > 0 ? ", " : "", run->hosts[h].name);
        size_t na = 0;
        for (size_t i = 0; i < run->nsubj; i++) {
            const struct subject *s = run->subj[i];
            if (s->host == (int)h && s->fam != FAM_DOMAIN) {
                sb_add(b, "%s%s", na++ > 0 ? ", " : " (", s->text);
            }
        }
        if (na > 0) {
            sb_add(b, ")");
        }
    }
}

/* Why the lookup of host name hq failed (or found nothing). */
static void
host_failure_text(const struct run *run, const struct hostq *hq, char *buf,
                  size_t len, enum mh_reason *reason, bool *no_address)
{
    int st = hq->status;
    *no_address = false;
    *reason = MH_REASON_DNS_LOOKUP_FAILED;
    if (!hq->done || st == ARES_ETIMEOUT || st == ARES_ECANCELLED ||
        st == ARES_EDESTRUCTION) {
        char t[32];
        seconds_text(mh_deadline_length(run->dl), t, sizeof t);
        mh_textf(buf, len, "no DNS answer for %s within %s s", hq->name, t);
        *reason = MH_REASON_DNS_TIMEOUT;
        return;
    }
    if (st == ARES_ENOTFOUND || st == ARES_ENODATA || st == ARES_SUCCESS) {
        *no_address = true;
        *reason = MH_REASON_NAME_NOT_FOUND;
        mh_textf(buf, len, "%s has no %s address", hq->name,
                 run->p->family == AF_INET    ? "IPv4"
                 : run->p->family == AF_INET6 ? "IPv6"
                                              : "IPv4 or IPv6");
        return;
    }
    mh_textf(buf, len, "lookup of %s failed: %s", hq->name, ares_strerror(st));
}

/* Fills the verdict of subject s on zone zi into c (tmp: room for the
 * combined test-entry answers). */
static void
pair_verdict(const struct run *run, size_t zi, const struct subject *s,
             struct verdict_ctx *c, struct mh_dnsbl_answer tmp[4])
{
    const struct zrun *zr = &run->zr[zi];
    const struct health *h = &zr->h[s->fam];
    memset(c, 0, sizeof *c);
    c->s = s;
    c->z = zr->z;
    c->pr = &s->pairs[zi];
    c->ans = pair_answer(c->pr, &tmp[3]);
    c->txt = c->pr->txt != NULL ? c->pr->txt : "";
    c->pos = combined(h->pos, h->npos, &tmp[0]);
    c->neg = combined(h->neg, h->nneg, &tmp[1]);
    c->deadline_s = mh_deadline_length(run->dl);
    c->zr = zr;
    c->budget = run->p->zone_budget;
    if (c->pr->skip != MH_DNSBL_TAKE_OK) {
        c->v = MH_DNSBL_V_SKIPPED;
        return;
    }
    c->v = mh_dnsbl_decide(c->ans, c->pos, c->neg);
    if (c->z->type == MH_DNSBL_ZONE_ANY && s->fam != FAM_DOMAIN &&
        c->v == MH_DNSBL_V_ERROR_CODE && c->ans->culprit == 0x7f0001ffu) {
        /* Spamhaus DBL's "IP address queried on a domain list" on a zone
         * whose type was not given: the zone lists names. */
        c->v = MH_DNSBL_V_NOT_APPLICABLE;
        return;
    }
    int of[2];
    size_t nof = other_families(c->z, s->fam, of);
    for (size_t k = 0; k < nof && c->v == MH_DNSBL_V_NOT_WORKING; k++) {
        const struct health *oh = &zr->h[of[k]];
        c->v = mh_dnsbl_refine(c->v, combined(oh->pos, oh->npos, &tmp[2]));
    }
}

/* Per-zone facts of a run (report). */
enum {
    Z_QUERIED = 1u << 0,   /* some subject got an applicable answer */
    Z_LISTED = 1u << 1,    /* block listing */
    Z_FAILED = 1u << 2,    /* no usable answer: UNKNOWN */
    Z_UNHEALTHY = 1u << 3, /* fails its test points, or refused on an
                              allow/info zone: WARNING */
    Z_POLICY = 1u << 4,    /* policy listing */
    Z_POLICY_WARN = 1u << 5,
    Z_ALLOW = 1u << 6, /* allow listing */
    Z_HOSTFAIL = 1u << 7,
    Z_REFUSED = 1u << 8, /* an error code ("blocked", over quota) */
    Z_SKIPPED = 1u << 9  /* not asked (budget, back-off): WARNING */
};

/* A zone that warns (unhealthy, or not asked) without failing. */
static bool
zone_warns(unsigned zf)
{
    return (zf & (Z_UNHEALTHY | Z_SKIPPED)) != 0 && (zf & Z_FAILED) == 0;
}

/* How one pair counts: its item state and reason, and the zone flag. */
static void
pair_state(const struct verdict_ctx *c, enum mh_state list_state,
           enum mh_state *st, enum mh_reason *reason, unsigned *flag)
{
    *st = MH_STATE_OK;
    *reason = MH_REASON_NONE;
    *flag = 0;
    switch (c->v) {
    case MH_DNSBL_V_NOT_APPLICABLE:
        return;
    case MH_DNSBL_V_NOT_LISTED:
        *flag = Z_QUERIED;
        return;
    case MH_DNSBL_V_LISTED:
        *flag = Z_QUERIED;
        switch (c->ans->list_kind) {
        case MH_DNSBL_KIND_BLOCK:
            *flag |= Z_LISTED;
            *st = list_state;
            *reason = MH_REASON_DNSBL_LISTED;
            return;
        case MH_DNSBL_KIND_POLICY:
            *flag |= Z_POLICY | (c->ans->warn ? Z_POLICY_WARN : 0u);
            *st = c->ans->warn ? MH_STATE_WARNING : MH_STATE_OK;
            *reason = MH_REASON_DNSBL_POLICY_LISTED;
            return;
        case MH_DNSBL_KIND_ALLOW:
            *flag |= Z_ALLOW;
            return;
        case MH_DNSBL_KIND_INFO:
            return;
        }
        return;
    case MH_DNSBL_V_SKIPPED:
        /* our use of the zone, not the target's verdict */
        *flag = Z_QUERIED | Z_SKIPPED |
                (c->pr->skip == MH_DNSBL_TAKE_BACKOFF ? Z_REFUSED : 0u);
        *st = MH_STATE_WARNING;
        *reason = error_reason(c);
        return;
    case MH_DNSBL_V_NOT_WORKING:
    case MH_DNSBL_V_LISTS_EVERYTHING:
        /* zone health: its own signal, not the target's verdict */
        *flag = Z_QUERIED | Z_UNHEALTHY;
        *st = MH_STATE_WARNING;
        *reason = MH_REASON_ZONE_UNHEALTHY;
        return;
    case MH_DNSBL_V_ERROR_CODE:
        *reason = MH_REASON_ZONE_REFUSED;
        if (c->z->kind == MH_DNSBL_KIND_ALLOW ||
            c->z->kind == MH_DNSBL_KIND_INFO) {
            /* the verdict does not depend on this zone */
            *flag = Z_QUERIED | Z_UNHEALTHY | Z_REFUSED;
            *st = MH_STATE_WARNING;
        } else {
            *flag = Z_QUERIED | Z_FAILED | Z_REFUSED;
            *st = MH_STATE_UNKNOWN;
        }
        return;
    case MH_DNSBL_V_OUTSIDE:
    case MH_DNSBL_V_FAILED:
    case MH_DNSBL_V_TIMEOUT:
        *flag = Z_QUERIED | Z_FAILED;
        *st = MH_STATE_UNKNOWN;
        *reason = error_reason(c);
        return;
    }
}

/* One part of the summary. */
struct part {
    enum mh_state st;
    enum mh_reason reason;
    struct sbuf lead, tail; /* text when it leads / when it follows */
};

/* Appends the names of the zones with flag set (except skip). */
static void
zone_names(const struct run *run, const unsigned *zf, unsigned flag,
           size_t skip, struct sbuf *b)
{
    for (size_t zi = 0, k = 0; zi < run->nz; zi++) {
        if ((zf[zi] & flag) != 0 && zi != skip) {
            sb_add(b, "%s%s", k++ > 0 ? ", " : "", run->zr[zi].z->name);
        }
    }
}

/*
 * Zone health, apart from the verdicts: one item of kind "health" (JSON
 * array "zone_health") and one sample mailhealth_dnsbl_zone_up{zone} per
 * zone whose health this run learnt: 0 when the zone lists its negative
 * test entry, fails its positive one (zone_unhealthy) or refused a query
 * with an error code; 1 when a positive test entry was listed. Zones
 * whose test entries were not asked or not answered get neither.
 */
static void
zone_health(const struct run *run, struct mh_result *r, const unsigned *zf)
{
    for (size_t zi = 0; zi < run->nz; zi++) {
        const struct zrun *zr = &run->zr[zi];
        bool pos_ok = false, neg_listed = false;
        const char *entry = NULL;
        for (int f = 0; f < FAM_COUNT; f++) {
            for (size_t i = 0; i < zr->h[f].npos; i++) {
                if (zr->h[f].pos[i].kind == MH_DNSBL_K_LISTED && !pos_ok) {
                    pos_ok = true;
                    entry = test_entry(zr->z, f, true);
                }
            }
            for (size_t i = 0; i < zr->h[f].nneg; i++) {
                if (zr->h[f].neg[i].kind == MH_DNSBL_K_LISTED) {
                    neg_listed = true;
                    entry = test_entry(zr->z, f, false);
                }
            }
        }
        bool down = neg_listed || (zf[zi] & (Z_UNHEALTHY | Z_REFUSED)) != 0;
        if (!down && !pos_ok) {
            continue;
        }
        if (down && !neg_listed) {
            entry = NULL;
        }
        const char *why = neg_listed ? "lists its negative test entry"
                          : (zf[zi] & Z_REFUSED) != 0
                              ? "refused a query (error code)"
                              : "fails its test entries";
        struct mh_item *it;
        if (down) {
            it = mh_result_add_item(
                r, "health", zr->z->name, MH_STATE_WARNING,
                (zf[zi] & Z_REFUSED) != 0 && !neg_listed
                    ? MH_REASON_ZONE_REFUSED
                    : MH_REASON_ZONE_UNHEALTHY,
                "zone down: %s%s%s%s", why, entry != NULL ? " (" : "",
                entry != NULL ? entry : "", entry != NULL ? ")" : "");
        } else {
            it = mh_result_add_item(r, "health", zr->z->name, MH_STATE_OK,
                                    MH_REASON_NONE,
                                    "zone up: test entry %s listed", entry);
        }
        mh_item_set_str(r, it, "zone", zr->z->name);
        mh_item_set_str(r, it, "status", down ? "down" : "up");
        mh_result_add_sample(r, MH_METRIC(DNSBL_ZONE_UP), down ? 0 : 1, "zone",
                             zr->z->name, NULL);
    }
}

/* "3 of 1,024 addresses listed on 2 zones: 192.0.2.10 (bl.example,
 * zen.example), ...": the summary of listings when many targets are
 * checked (sl: block zones listing each subject). */
static void
listed_subjects(const struct run *run, const size_t *sl, size_t nlisted,
                size_t nzones, struct sbuf *b)
{
    char n1[32], n2[32];
    bool names = false;
    for (size_t si = 0; si < run->nsubj; si++) {
        names = names || run->subj[si]->fam == FAM_DOMAIN;
    }
    sb_add(b, "%s of %s %s listed on %zu zone%s: ",
           mh_dnsbl_fmt_count(nlisted, n1, sizeof n1),
           mh_dnsbl_fmt_count(run->nsubj, n2, sizeof n2),
           names ? "addresses and names" : "addresses", nzones,
           nzones == 1 ? "" : "s");
    struct mh_dnsbl_answer tmp[4];
    struct verdict_ctx c;
    for (size_t si = 0, k = 0; si < run->nsubj; si++) {
        const struct subject *s = run->subj[si];
        if (sl[si] == 0) {
            continue;
        }
        sb_add(b, "%s%s (", k++ > 0 ? ", " : "", s->text);
        for (size_t zi = 0, m = 0; zi < run->nz; zi++) {
            if (!s->pairs[zi].applicable) {
                continue;
            }
            pair_verdict(run, zi, s, &c, tmp);
            enum mh_state st;
            enum mh_reason reason;
            unsigned flag;
            pair_state(&c, MH_STATE_OK, &st, &reason, &flag);
            if ((flag & Z_LISTED) != 0) {
                sb_add(b, "%s%s", m++ > 0 ? ", " : "", run->zr[zi].z->name);
            }
        }
        sb_add(b, ")");
    }
}

/* Policy and allow listings named in the summary (the rest counted). */
#define SUMMARY_NOTES_MAX 3

/* One zone's pairs without a listing when many targets are checked: one
 * line each for the clean, the not applicable and the failed ones. */
struct agg {
    size_t total, clean, na, failed;
    enum mh_state st;      /* worst state of the failed ones */
    enum mh_reason reason; /* of the first failed one */
    char first_na[900], first_failed[900];
};

static void
agg_count(struct agg *a, const struct verdict_ctx *c, enum mh_state st,
          enum mh_reason reason, const char *text)
{
    a->total++;
    if (c->v == MH_DNSBL_V_NOT_LISTED) {
        a->clean++;
    } else if (c->v == MH_DNSBL_V_NOT_APPLICABLE) {
        if (a->na++ == 0) {
            mh_textf(a->first_na, sizeof a->first_na, "%s", text);
        }
    } else {
        if (a->failed++ == 0) {
            mh_textf(a->first_failed, sizeof a->first_failed, "%s", text);
            a->reason = reason;
            a->st = st;
        } else if (mh_state_rank(st) > mh_state_rank(a->st)) {
            a->st = st;
        }
    }
}

/* The lines of one zone's aggregate a, and its error count metric. */
static void
agg_items(struct mh_result *r, const struct mh_dnsbl_zone *z,
          const struct agg *a)
{
    char n1[32], n2[32];
    mh_dnsbl_fmt_count(a->total, n2, sizeof n2);
    if (a->clean > 0 || a->total == 0) {
        struct mh_item *it =
            mh_result_add_item(r, "zone", z->name, MH_STATE_OK, MH_REASON_NONE,
                               "not listed: %s of %s",
                               mh_dnsbl_fmt_count(a->clean, n1, sizeof n1), n2);
        mh_item_set_str(r, it, "zone", z->name);
        mh_item_set_str(r, it, "status", "not_listed");
        mh_item_set_num(r, it, "count", (double)a->clean);
    }
    if (a->na > 0) {
        struct mh_item *it = mh_result_add_item(
            r, "zone", z->name, MH_STATE_OK, MH_REASON_NONE,
            "not applicable: %s of %s, e.g. %s",
            mh_dnsbl_fmt_count(a->na, n1, sizeof n1), n2, a->first_na);
        mh_item_set_str(r, it, "zone", z->name);
        mh_item_set_str(r, it, "status", "not_applicable");
        mh_item_set_num(r, it, "count", (double)a->na);
    }
    if (a->failed > 0) {
        struct mh_item *it = mh_result_add_item(
            r, "zone", z->name, a->st, a->reason,
            "no usable answer: %s of %s, e.g. %s",
            mh_dnsbl_fmt_count(a->failed, n1, sizeof n1), n2, a->first_failed);
        mh_item_set_str(r, it, "zone", z->name);
        mh_item_set_str(r, it, "status", "error");
        mh_item_set_num(r, it, "count", (double)a->failed);
        mh_item_set_str(r, it, "error", a->first_failed);
    }
    mh_result_add_sample(r, MH_METRIC(DNSBL_ZONE_ERRORS), (double)a->failed,
                         "zone", z->name, NULL);
}

/* A host name target that gave no address to check. */
struct hfail {
    bool failed, noaddr;
    enum mh_reason reason;
    char why[300];
};

/* The summary's parts; ties between equal states go to the first. */
enum { P_LISTED, P_POLICY, P_UNHEALTHY, P_FAILED, P_ALLOW, P_COUNT };

/* What report() learns in its first pass and builds in its second. */
struct report {
    struct run *run;
    struct mh_result *r;
    unsigned *zf;       /* per zone: Z_* flags */
    struct hfail *hf;   /* per host name */
    size_t *sl;         /* per subject: block zones listing it */
    enum mh_state *sst; /* per subject: the state of its listings */
    size_t *hl;         /* per host name: block zones listing any of its
                           subjects */
    size_t *hmark;      /* per host name: the zone last counted in hl, + 1 */
    struct part parts[P_COUNT];
    bool many;                   /* more than one subject */
    bool agg;                    /* many targets: items for listings only */
    size_t L, E, H, N;           /* zones listing, failed, warning, queried */
    enum mh_state list_state;    /* of the listings, by -w/-c */
    size_t nlisted_subj;         /* addresses and names listed (block) */
    size_t nlisting, npol, nalw; /* listings, policy and allow notes */
    size_t first_err_zone, first_unh_zone;
    int lead_host; /* host name of the first listed address */
};

/* One pair's verdict as report() words it. */
struct pair_out {
    struct verdict_ctx c;
    struct mh_dnsbl_answer tmp[4]; /* what c.ans may point into */
    enum mh_state st;
    enum mh_reason reason;
    unsigned flag;
    char text[900], ztext[900], codes[200];
};

static void
report_free(struct report *rp)
{
    if (rp == NULL) {
        return;
    }
    free(rp->zf);
    free(rp->hf);
    free(rp->sl);
    free(rp->sst);
    free(rp->hl);
    free(rp->hmark);
    free(rp);
}

/* A report of run into r, or NULL (out of memory). */
static struct report *
report_new(struct run *run, struct mh_result *r)
{
    struct report *rp = calloc(1, sizeof *rp);
    if (rp == NULL) {
        return NULL;
    }
    rp->run = run;
    rp->r = r;
    rp->zf = calloc(run->nz + 1, sizeof *rp->zf);
    rp->hf = calloc(run->nhosts + 1, sizeof *rp->hf);
    rp->sl = calloc(run->nsubj + 1, sizeof *rp->sl);
    rp->sst = calloc(run->nsubj + 1, sizeof *rp->sst);
    rp->hl = calloc(run->nhosts + 1, sizeof *rp->hl);
    rp->hmark = calloc(run->nhosts + 1, sizeof *rp->hmark);
    if (rp->zf == NULL || rp->hf == NULL || rp->sl == NULL || rp->sst == NULL ||
        rp->hl == NULL || rp->hmark == NULL) {
        report_free(rp);
        return NULL;
    }
    rp->many = run->nsubj > 1;
    rp->agg = run->nsubj > MH_DNSBL_DETAIL_MAX;
    rp->first_err_zone = rp->first_unh_zone = run->nz;
    rp->lead_host = -1;
    return rp;
}

/* Pass 1: every pair's verdict gives the zone flags and the listings per
 * subject and per host name. */
static void
report_verdicts(struct report *rp)
{
    const struct run *run = rp->run;
    struct mh_dnsbl_answer tmp[4];
    struct verdict_ctx c;
    for (size_t zi = 0; zi < run->nz; zi++) {
        for (size_t si = 0; si < run->nsubj; si++) {
            const struct subject *s = run->subj[si];
            if (!s->pairs[zi].applicable) {
                continue;
            }
            pair_verdict(run, zi, s, &c, tmp);
            enum mh_state st;
            enum mh_reason reason;
            unsigned flag;
            pair_state(&c, MH_STATE_OK, &st, &reason, &flag);
            rp->zf[zi] |= flag;
            if ((flag & Z_LISTED) == 0) {
                continue;
            }
            rp->sl[si]++;
            if (s->host >= 0 && rp->hmark[s->host] != zi + 1) {
                rp->hmark[s->host] = zi + 1;
                rp->hl[s->host]++;
            }
        }
    }
}

/* Host names that gave no address: a failure, unless the name itself got
 * an answer as a domain (then it is a domain, not a host). */
static void
report_host_failures(struct report *rp)
{
    const struct run *run = rp->run;
    struct mh_dnsbl_answer tmp[4];
    struct verdict_ctx c;
    for (size_t h = 0; h < run->nhosts; h++) {
        const struct hostq *hq = &run->hosts[h];
        struct hfail *hf = &rp->hf[h];
        bool has_addr = false, domain_answered = false;
        for (size_t si = 0; si < run->nsubj; si++) {
            const struct subject *s = run->subj[si];
            if (s->host != (int)h) {
                continue;
            }
            has_addr = has_addr || s->fam != FAM_DOMAIN;
            for (size_t zi = 0; s->fam == FAM_DOMAIN && zi < run->nz; zi++) {
                if (!s->pairs[zi].applicable) {
                    continue;
                }
                pair_verdict(run, zi, s, &c, tmp);
                domain_answered = domain_answered || c.v == MH_DNSBL_V_LISTED ||
                                  c.v == MH_DNSBL_V_NOT_LISTED;
            }
        }
        if (has_addr || !any_zone_is_ip(run)) {
            continue;
        }
        host_failure_text(run, hq, hf->why, sizeof hf->why, &hf->reason,
                          &hf->noaddr);
        hf->failed = !(hf->noaddr && domain_answered);
        for (size_t zi = 0; hf->failed && zi < run->nz; zi++) {
            if (zone_is_ip(run->zr[zi].z)) {
                rp->zf[zi] |= Z_FAILED | Z_QUERIED | Z_HOSTFAIL;
            }
        }
    }
}

/* The zone counts, and the listings' state: -w/-c judge each target, an
 * address by the block zones listing it, a host name by the block zones
 * listing any of its addresses or the name; the listings' state is the
 * worst of the targets'. */
static void
report_judge(struct report *rp)
{
    const struct run *run = rp->run;
    const struct mh_dnsbl_params *p = run->p;
    for (size_t zi = 0; zi < run->nz; zi++) {
        rp->L += (rp->zf[zi] & Z_LISTED) != 0 ? 1u : 0u;
        rp->E += (rp->zf[zi] & Z_FAILED) != 0 ? 1u : 0u;
        rp->H += zone_warns(rp->zf[zi]) ? 1u : 0u;
        rp->N += (rp->zf[zi] & Z_QUERIED) != 0 ? 1u : 0u;
    }
    mh_dnsbl_judge_fn judge = p->judge != NULL ? p->judge : default_judge;
    rp->list_state = MH_STATE_OK;
    bool judged = false;
    for (size_t si = 0; si < run->nsubj; si++) {
        const struct subject *s = run->subj[si];
        rp->sst[si] =
            judge(p->judge_arg, s->host >= 0 ? rp->hl[s->host] : rp->sl[si]);
        rp->nlisted_subj += rp->sl[si] > 0 ? 1u : 0u;
        if (s->host < 0 || rp->sl[si] > 0) {
            judged = true;
            if (mh_state_rank(rp->sst[si]) > mh_state_rank(rp->list_state)) {
                rp->list_state = rp->sst[si];
            }
        }
    }
    if (!judged) {
        rp->list_state = judge(p->judge_arg, rp->L);
    }
}

/* Pass 2, zone zi: one item per host name that gave no address. */
static void
report_host_fail_items(struct report *rp, size_t zi)
{
    const struct mh_dnsbl_zone *z = rp->run->zr[zi].z;
    struct part *err = &rp->parts[P_FAILED];
    for (size_t h = 0; h < rp->run->nhosts; h++) {
        const struct hfail *hf = &rp->hf[h];
        if (!hf->failed || !zone_is_ip(z)) {
            continue;
        }
        struct mh_item *it =
            mh_result_add_item(rp->r, "zone", z->name, MH_STATE_UNKNOWN,
                               hf->reason, "not queried: %s", hf->why);
        mh_item_set_str(rp->r, it, "zone", z->name);
        mh_item_set_str(rp->r, it, "address", rp->run->hosts[h].name);
        mh_item_set_str(rp->r, it, "status", "error");
        mh_item_set_str(rp->r, it, "error", hf->why);
        if (err->reason == MH_REASON_NONE) {
            sb_add(&err->lead, "%s", hf->why);
            err->reason = hf->reason;
            rp->first_err_zone = zi;
        }
    }
}

/* Pass 2, zone zi: a zone that applies to no subject gets one "not
 * queried" item saying why. Returns true when that is all it gets. */
static bool
report_zone_skipped(struct report *rp, size_t zi)
{
    const struct run *run = rp->run;
    const struct mh_dnsbl_zone *z = run->zr[zi].z;
    bool any_pair = false;
    for (size_t si = 0; si < run->nsubj; si++) {
        any_pair = any_pair || run->subj[si]->pairs[zi].applicable;
    }
    if (any_pair || (rp->zf[zi] & Z_HOSTFAIL) != 0) {
        return false;
    }
    const char *why;
    if (z->type == MH_DNSBL_ZONE_DOMAIN) {
        why = "domain list, and the target is an address";
    } else if (z->type == MH_DNSBL_ZONE_IP4) {
        why = "lists IPv4 addresses only";
    } else if (z->type == MH_DNSBL_ZONE_IP6) {
        why = "lists IPv6 addresses only";
    } else {
        why = "lists IP addresses, not domains";
    }
    for (size_t h = 0; h < run->nhosts; h++) {
        if (rp->hf[h].noaddr && zone_is_ip(z)) {
            why = rp->hf[h].why;
        }
    }
    struct mh_item *it =
        mh_result_add_item(rp->r, "zone", z->name, MH_STATE_OK, MH_REASON_NONE,
                           "not queried: %s", why);
    mh_item_set_str(rp->r, it, "zone", z->name);
    mh_item_set_str(rp->r, it, "status", "skipped");
    return true;
}

/* Pass 2: what pair verdict o of subject s on zone zi adds to the
 * summary's parts. */
static void
report_note_pair(struct report *rp, size_t zi, const struct subject *s,
                 const struct pair_out *o)
{
    const char *zone = rp->run->zr[zi].z->name;
    struct part *lst = &rp->parts[P_LISTED], *pol = &rp->parts[P_POLICY],
                *unh = &rp->parts[P_UNHEALTHY], *err = &rp->parts[P_FAILED],
                *alw = &rp->parts[P_ALLOW];
    if ((o->flag & Z_LISTED) != 0) {
        if (rp->many) {
            sb_add(&lst->tail, "%s%s (%s: %s)", rp->nlisting > 0 ? ", " : "",
                   zone, s->text, o->codes);
        } else {
            sb_add(&lst->tail, "%s%s (%s)", rp->nlisting > 0 ? ", " : "", zone,
                   o->codes);
        }
        if (rp->nlisting++ == 0) {
            sb_add(&lst->lead, "%s", o->ztext);
            rp->lead_host = s->fam != FAM_DOMAIN ? s->host : -1;
        }
    } else if ((o->flag & Z_POLICY) != 0) {
        if (rp->npol++ < SUMMARY_NOTES_MAX) {
            sb_add(&pol->lead, "%s%s", rp->npol > 1 ? ", " : "", o->ztext);
        }
    } else if ((o->flag & Z_ALLOW) != 0) {
        if (rp->nalw++ < SUMMARY_NOTES_MAX) {
            sb_add(&alw->lead, "%s%s", rp->nalw > 1 ? ", " : "", o->ztext);
        }
    } else if ((o->flag & Z_FAILED) != 0 && err->reason == MH_REASON_NONE) {
        sb_add(&err->lead, "%s", o->ztext);
        err->reason = o->reason;
        rp->first_err_zone = zi;
    } else if ((o->flag & (Z_UNHEALTHY | Z_SKIPPED)) != 0 &&
               unh->reason == MH_REASON_NONE) {
        sb_add(&unh->lead, "%s", o->ztext);
        unh->reason = o->reason;
        rp->first_unh_zone = zi;
    }
}

/* Pass 2: the item of pair verdict o of subject s on zone zi and its
 * samples (with many targets the listed one only). */
static void
report_pair_item(struct report *rp, size_t zi, const struct subject *s,
                 const struct pair_out *o)
{
    struct mh_result *r = rp->r;
    const struct mh_dnsbl_zone *z = rp->run->zr[zi].z;
    const struct verdict_ctx *c = &o->c;
    bool is_error = mh_dnsbl_verdict_is_error(c->v);
    struct mh_item *it =
        mh_result_add_item(r, "zone", z->name, o->st, o->reason, "%s", o->text);
    mh_item_set_str(r, it, "zone", z->name);
    mh_item_set_str(r, it, "address", s->text);
    char qname[2 * MH_DNSBL_NAME_MAX];
    shown_qname(z, s->prefix, qname, sizeof qname);
    mh_item_set_str(r, it, "query", qname);
    mh_item_set_str(r, it, "status", status_name(c->v));
    if (c->v == MH_DNSBL_V_LISTED) {
        mh_item_set_str(r, it, "kind",
                        mh_dnsbl_list_kind_name(c->ans->list_kind));
    }
    if (o->codes[0] != '\0') {
        mh_item_set_str(r, it, "codes", o->codes);
    }
    if (c->ans->meaning[0] != '\0') {
        mh_item_set_str(r, it, "meaning", c->ans->meaning);
    }
    if (c->txt[0] != '\0') {
        mh_item_set_str(r, it, "reason", c->txt);
    }
    if (is_error) {
        mh_item_set_str(r, it, "error", o->ztext);
    }
    if (c->v == MH_DNSBL_V_NOT_APPLICABLE) {
        return;
    }
    bool listed = (o->flag & Z_LISTED) != 0;
    if (rp->agg) {
        if (listed) {
            mh_result_add_sample(r, MH_METRIC(DNSBL_LISTED), 1, "address",
                                 s->text, "zone", z->name, NULL);
        }
        return;
    }
    mh_result_add_sample(r, MH_METRIC(DNSBL_LISTED), listed ? 1 : 0, "address",
                         s->text, "zone", z->name, NULL);
    mh_result_add_sample(r, MH_METRIC(DNSBL_ERROR), is_error ? 1 : 0, "address",
                         s->text, "zone", z->name, NULL);
}

/* Pass 2: subject si on zone zi: its verdict worded, noted in the
 * summary's parts, then an item (or, with many targets and no listing,
 * only a count in agz). */
static void
report_pair(struct report *rp, size_t zi, size_t si, struct agg *agz)
{
    const struct subject *s = rp->run->subj[si];
    struct pair_out o;
    o.text[0] = o.ztext[0] = '\0';
    pair_verdict(rp->run, zi, s, &o.c, o.tmp);
    if (!rp->agg || o.c.v != MH_DNSBL_V_NOT_LISTED) {
        /* (the bulk of many targets is only counted) */
        describe(&o.c, FORM_ITEM, o.text, sizeof o.text);
        describe(&o.c, rp->many ? FORM_ZONE_SUBJECT : FORM_ZONE, o.ztext,
                 sizeof o.ztext);
    }
    pair_state(&o.c, rp->sst[si], &o.st, &o.reason, &o.flag);
    codes_text(o.c.ans, o.codes, sizeof o.codes);
    report_note_pair(rp, zi, s, &o);
    if (rp->agg && o.c.v != MH_DNSBL_V_LISTED) {
        agg_count(agz, &o.c, o.st, o.reason, o.text);
    } else {
        agz->total++;
        report_pair_item(rp, zi, s, &o);
    }
}

/* Pass 2, zone zi in the configured order: its items and samples, its
 * subjects sorted. */
static void
report_zone(struct report *rp, size_t zi)
{
    report_host_fail_items(rp, zi);
    if (report_zone_skipped(rp, zi)) {
        return;
    }
    struct agg agz;
    memset(&agz, 0, sizeof agz);
    for (size_t si = 0; si < rp->run->nsubj; si++) {
        if (rp->run->subj[si]->pairs[zi].applicable) {
            report_pair(rp, zi, si, &agz);
        }
    }
    if (rp->agg) {
        agg_items(rp->r, rp->run->zr[zi].z, &agz);
    }
}

/* Zone health, notes on what was not checked, perfdata and the totals'
 * samples. */
static void
report_notes_perf(struct report *rp, double elapsed)
{
    const struct run *run = rp->run;
    const struct mh_dnsbl_params *p = run->p;
    struct mh_result *r = rp->r;
    zone_health(run, r, rp->zf);
    size_t dropped = run->addrs_dropped;
    for (size_t h = 0; h < run->nhosts; h++) {
        dropped += run->hosts[h].dropped;
    }
    if (dropped > 0) {
        mh_result_add_item(r, "note", "addresses", MH_STATE_OK, MH_REASON_NONE,
                           "%zu more addresses not checked (at most %d per "
                           "host name)",
                           dropped, MH_DNSBL_MAX_ADDRS);
    }
    for (size_t h = 0; h < run->nhosts; h++) {
        if (rp->hf[h].noaddr && !rp->hf[h].failed) {
            mh_result_add_item(r, "note", run->hosts[h].name, MH_STATE_OK,
                               MH_REASON_NONE, "%s: checked as a domain only",
                               rp->hf[h].why);
        }
    }
    const double max = (double)rp->N;
    add_perf(r, p, "listed", (double)rp->L, MH_UNIT_NONE, p->perf_warn,
             p->perf_crit, &max);
    add_perf(r, p, "errors", (double)(rp->E + rp->H), MH_UNIT_NONE, NULL, NULL,
             &max);
    if (rp->agg) {
        const double nmax = (double)run->nsubj;
        add_perf(r, p, "listed_addresses", (double)rp->nlisted_subj,
                 MH_UNIT_NONE, NULL, NULL, &nmax);
    }
    add_perf(r, p, "time", elapsed, MH_UNIT_SECONDS, NULL, NULL, NULL);
    mh_result_add_sample(r, MH_METRIC(DNSBL_LISTED_ZONES), (double)rp->L, NULL);
    mh_result_add_sample(r, MH_METRIC(DNSBL_LISTED_ADDRESSES),
                         (double)rp->nlisted_subj, NULL);
}

/* The summary's listing part: the one listing as it reads on its line,
 * or the subjects (subj) and the zones listing them. */
static void
report_part_listed(struct report *rp, const struct sbuf *subj)
{
    struct part *lst = &rp->parts[P_LISTED];
    size_t L = rp->L;
    if (L == 0) {
        return;
    }
    lst->st = rp->list_state;
    lst->reason = MH_REASON_DNSBL_LISTED;
    if (rp->agg) {
        struct sbuf b = {.n = 0};
        listed_subjects(rp->run, rp->sl, rp->nlisted_subj, L, &b);
        lst->lead = b;
    } else if (L == 1 && rp->nlisting == 1 && rp->list_state != MH_STATE_OK) {
        struct sbuf one = {.n = 0};
        if (rp->lead_host >= 0) {
            sb_add(&one, "%s: ", rp->run->hosts[rp->lead_host].name);
        }
        sb_add(&one, "%s", lst->lead.s);
        lst->lead = one;
    } else {
        struct sbuf b = {.n = 0};
        sb_add(&b, "%s listed on %zu of %zu zones%s: %s", subj->s, L, rp->N,
               rp->list_state == MH_STATE_OK ? " (within thresholds)" : "",
               lst->tail.s);
        lst->lead = b;
    }
    struct sbuf t = {.n = 0};
    if (rp->agg) {
        sb_add(&t, "%s", lst->lead.s);
    } else {
        sb_add(&t, "%s listed on %zu zone%s within thresholds: %s", subj->s, L,
               L == 1 ? "" : "s", lst->tail.s);
    }
    lst->tail = t;
}

/* The summary's policy and allow parts (the first SUMMARY_NOTES_MAX
 * named, the rest counted). */
static void
report_part_notes(struct report *rp)
{
    struct part *pol = &rp->parts[P_POLICY], *alw = &rp->parts[P_ALLOW];
    if (rp->npol > 0) {
        pol->st = MH_STATE_OK;
        for (size_t zi = 0; zi < rp->run->nz; zi++) {
            if ((rp->zf[zi] & Z_POLICY_WARN) != 0) {
                pol->st = MH_STATE_WARNING;
            }
        }
        pol->reason = MH_REASON_DNSBL_POLICY_LISTED;
        if (rp->npol > SUMMARY_NOTES_MAX) {
            sb_add(&pol->lead, " (and %zu more policy listings)",
                   rp->npol - SUMMARY_NOTES_MAX);
        }
        pol->tail = pol->lead;
    }
    if (rp->nalw > 0) {
        if (rp->nalw > SUMMARY_NOTES_MAX) {
            sb_add(&alw->lead, " (and %zu more allow listings)",
                   rp->nalw - SUMMARY_NOTES_MAX);
        }
        alw->tail = alw->lead;
    }
}

/* Appends to b the names of the zones that warn (except skip). */
static void
warn_zone_names(const struct report *rp, size_t skip, struct sbuf *b)
{
    for (size_t zi = 0, k = 0; zi < rp->run->nz; zi++) {
        if (zone_warns(rp->zf[zi]) && zi != skip) {
            sb_add(b, "%s%s", k++ > 0 ? ", " : "", rp->run->zr[zi].z->name);
        }
    }
}

/* The summary's parts for failed zones (UNKNOWN) and unhealthy or not
 * asked ones (WARNING). */
static void
report_part_zones(struct report *rp)
{
    struct part *err = &rp->parts[P_FAILED], *unh = &rp->parts[P_UNHEALTHY];
    size_t E = rp->E, H = rp->H;
    if (E > 0) {
        err->st = MH_STATE_UNKNOWN;
        if (E > 1) {
            sb_add(&err->lead, " (and %zu more zone%s failed: ", E - 1,
                   E - 1 == 1 ? "" : "s");
            zone_names(rp->run, rp->zf, Z_FAILED, rp->first_err_zone,
                       &err->lead);
            sb_add(&err->lead, ")");
        }
        sb_add(&err->tail, "%zu zone%s failed: ", E, E == 1 ? "" : "s");
        zone_names(rp->run, rp->zf, Z_FAILED, rp->run->nz, &err->tail);
    }
    if (H > 0) {
        const char *unh_word = "unhealthy";
        for (size_t zi = 0; zi < rp->run->nz; zi++) {
            if ((rp->zf[zi] & Z_SKIPPED) != 0) {
                unh_word = "unhealthy or not asked";
            }
        }
        unh->st = MH_STATE_WARNING;
        if (H > 1) {
            sb_add(&unh->lead, " (and %zu more zone%s %s: ", H - 1,
                   H - 1 == 1 ? "" : "s", unh_word);
            warn_zone_names(rp, rp->first_unh_zone, &unh->lead);
            sb_add(&unh->lead, ")");
        }
        sb_add(&unh->tail, "%zu zone%s %s: ", H, H == 1 ? "" : "s", unh_word);
        warn_zone_names(rp, rp->run->nz, &unh->tail);
    }
}

/* The state and summary: worst(judge(L), policy severity, unhealthy zones
 * WARNING, failed zones UNKNOWN) in the order of mh_state_rank(); the
 * summary leads with the part that decided it (ties: listing, policy,
 * unhealthy zone, failed zone, allow list), the others follow. */
static void
report_summary(struct report *rp, const struct sbuf *subj)
{
    const struct run *run = rp->run;
    const struct part *parts = rp->parts;
    size_t N = rp->N, L = rp->L;
    bool present[P_COUNT] = {L > 0, rp->npol > 0, rp->H > 0, rp->E > 0,
                             rp->nalw > 0};
    int lead = -1;
    for (int i = 0; i < P_COUNT; i++) {
        if (present[i] && (lead < 0 || mh_state_rank(parts[i].st) >
                                           mh_state_rank(parts[lead].st))) {
            lead = i;
        }
    }
    struct sbuf sum = {.n = 0};
    enum mh_state state = MH_STATE_OK;
    enum mh_reason reason = MH_REASON_NONE;
    if (N == 0) {
        sb_add(&sum, "no zone applies to %s", subj->s);
        mh_result_raise(rp->r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "%s",
                        sum.s);
        return;
    }
    /* zones that answered and list nothing */
    size_t noted = 0;
    for (size_t zi = 0; zi < run->nz; zi++) {
        noted += (rp->zf[zi] & (Z_LISTED | Z_POLICY | Z_ALLOW | Z_FAILED |
                                Z_UNHEALTHY | Z_SKIPPED)) != 0
                     ? 1u
                     : 0u;
    }
    size_t clean = N - noted;
    if (lead < 0 || (parts[lead].st == MH_STATE_OK && L == 0)) {
        /* nothing alerts: the notes, then what was clean */
        size_t k = 0;
        for (int i = 0; i < P_COUNT; i++) {
            if (present[i]) {
                sb_add(&sum, "%s%s", k++ > 0 ? "; " : "", parts[i].tail.s);
            }
        }
        if (k == 0 && N == 1) {
            for (size_t zi = 0; zi < run->nz; zi++) {
                if ((rp->zf[zi] & Z_QUERIED) != 0) {
                    sb_add(&sum, "%s not listed on %s", subj->s,
                           run->zr[zi].z->name);
                }
            }
        } else if (k == 0) {
            sb_add(&sum, "%s not listed on %zu zones", subj->s, N);
        } else if (clean > 0) {
            sb_add(&sum, "; %s not listed on the other %zu zone%s", subj->s,
                   clean, clean == 1 ? "" : "s");
        }
    } else {
        sb_add(&sum, "%s", parts[lead].lead.s);
        state = parts[lead].st;
        reason = parts[lead].reason;
        for (int i = 0; i < P_COUNT; i++) {
            if (present[i] && i != lead) {
                sb_add(&sum, "; %s", parts[i].tail.s);
            }
        }
        if (lead != P_LISTED && L == 0 && clean > 0) {
            sb_add(&sum, "; %s not listed on the other %zu zone%s", subj->s,
                   clean, clean == 1 ? "" : "s");
        }
    }
    mh_result_raise(rp->r, state, reason, "%s", sum.s);
}

/* Turns the run's answers into r: verdicts (pass 1), then items and
 * samples zone by zone (pass 2), notes and perfdata, then the state and
 * summary. */
static void
report(struct run *run, struct mh_result *r, double elapsed)
{
    struct report *rp = report_new(run, r);
    if (rp == NULL) {
        mh_result_mark_oom(r);
        return;
    }
    if (run->nsubj > 1) {
        qsort(run->subj, run->nsubj, sizeof *run->subj, cmp_subject);
    }
    report_verdicts(rp);
    report_host_failures(rp);
    report_judge(rp);
    for (size_t zi = 0; zi < run->nz; zi++) {
        report_zone(rp, zi);
    }
    report_notes_perf(rp, elapsed);
    struct sbuf subj = {.n = 0};
    subject_desc(run, &subj);
    report_part_listed(rp, &subj);
    report_part_notes(rp);
    report_part_zones(rp);
    report_summary(rp, &subj);
    report_free(rp);
}

/* Sets up a run on a fresh channel. Returns 0, or -1 with err. */
static int
run_init(struct run *run, const struct mh_dnsbl_params *p,
         const struct mh_deadline *dl, char *err, size_t errlen)
{
    memset(run, 0, sizeof *run);
    run->p = p;
    run->dl = dl;
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
        for (int f = 0; f < FAM_COUNT && !zr->refused; f++) {
            const struct health *h = &zr->h[f];
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
    run->closing = true;
    mh_dnsbl_channels_close(&run->chs);
    keep_health(run);
}

/* Adds the domain subject (if any zone answers names) for name
 * (normalised). */
static void
add_domain(struct run *run, const char *name, int host)
{
    if (any_zone_is_domain(run)) {
        add_subject(run, FAM_DOMAIN, NULL, name, name, host);
    }
}

int
mh_dnsbl_check_addresses(const struct mh_dnsbl_params *p,
                         const char *const *addresses, size_t naddresses,
                         const char *domain, const struct mh_deadline *dl,
                         struct mh_result *r)
{
    char err[256];
    struct run run;
    double t0 = mh_monotonic_s();
    if (run_init(&run, p, dl, err, sizeof err) != 0) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "%s", err);
        return -1;
    }
    size_t added = 0;
    for (size_t i = 0; i < naddresses; i++) {
        unsigned char b[16];
        int fam = addresses[i] != NULL ? parse_address(addresses[i], b) : 0;
        if (fam == 0) {
            mh_result_add_item(r, "note",
                               addresses[i] != NULL ? addresses[i] : "",
                               MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
                               "not an IP address: not checked");
            mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
                            "invalid address '%.80s'",
                            addresses[i] != NULL ? addresses[i] : "");
            continue;
        }
        if (!family_wanted(&run, fam)) {
            continue;
        }
        if (added >= MH_DNSBL_MAX_ADDRS) {
            run.addrs_dropped++;
            continue;
        }
        size_t before = run.nsubj;
        add_address(&run, fam, b, -1);
        if (run.nsubj > before) {
            added++;
        }
    }
    if (domain != NULL) {
        char norm[MH_DNSBL_NAME_MAX + 2];
        if (mh_dnsbl_normalize_name(domain, norm, sizeof norm) == 0) {
            add_domain(&run, norm, -1);
        } else {
            mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
                            "invalid domain '%.80s'", domain);
        }
    }
    run_wait(&run);
    if (run.oom) {
        mh_result_mark_oom(r);
    }
    report(&run, r, mh_monotonic_s() - t0);
    run_free(&run);
    return 0;
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
        ares_getaddrinfo((ares_channel)run->chs.ch[0], name, NULL, &hints,
                         gai_callback, hq);
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
 * Returns 0, or -1 with the usage error (naming the option) raised on r. */
static int
parse_targets(const struct mh_dnsbl_params *p, const char *const *targets,
              size_t ntargets, struct mh_dnsbl_target *parsed,
              struct mh_result *r)
{
    uint64_t total = 0;
    char origin[300], n1[32], n2[32];
    for (size_t i = 0; i < ntargets; i++) {
        const char *t = targets[i] != NULL ? targets[i] : "";
        target_origin(p, i, ntargets, origin, sizeof origin);
        if (mh_dnsbl_target_parse(t, &parsed[i]) != 0) {
            mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
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
            mh_result_raise(
                r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
                "%s %.80s has %s addresses, more than the %s one "
                "check takes",
                origin, t, n1,
                mh_dnsbl_fmt_count(MH_DNSBL_MAX_TARGET_ADDRS, n2, sizeof n2));
            return -1;
        }
        total += c;
        if (total > MH_DNSBL_MAX_TARGET_ADDRS) {
            mh_result_raise(
                r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
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

struct mh_result *
mh_dnsbl_probe(const struct mh_dnsbl_params *p, const struct mh_deadline *dl)
{
    double t0 = mh_monotonic_s();
    const char *const *targets = p->targets;
    size_t ntargets = p->ntargets;
    const char *one = p->target != NULL ? p->target : "";
    if (targets == NULL || ntargets == 0) {
        targets = &one;
        ntargets = 1;
    }
    struct mh_result *r = mh_result_new("dnsbl", targets[0]);
    if (r == NULL) {
        return NULL;
    }
    struct mh_dnsbl_target *parsed = calloc(ntargets, sizeof *parsed);
    if (parsed == NULL) {
        mh_result_mark_oom(r);
        return r;
    }
    if (parse_targets(p, targets, ntargets, parsed, r) != 0) {
        free(parsed);
        return r;
    }
    char err[256];
    struct run run;
    if (run_init(&run, p, dl, err, sizeof err) != 0) {
        free(parsed);
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "%s", err);
        return r;
    }
    run.hosts = calloc(ntargets, sizeof *run.hosts);
    if (run.hosts == NULL) {
        free(parsed);
        mh_result_mark_oom(r);
        run.closing = true;
        mh_dnsbl_channels_close(&run.chs);
        run_free(&run);
        return r;
    }
    for (size_t i = 0; i < ntargets; i++) {
        if (add_target(&run, targets[i] != NULL ? targets[i] : "", &parsed[i],
                       err, sizeof err) != 0) {
            free(parsed);
            mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "%s",
                            err);
            run.closing = true;
            mh_dnsbl_channels_close(&run.chs);
            run_free(&run);
            return r;
        }
    }
    free(parsed);
    run_wait(&run);
    if (run.oom) {
        mh_result_mark_oom(r);
    }
    double elapsed = mh_monotonic_s() - t0;
    report(&run, r, elapsed);
    run_free(&run);
    r->duration_s = mh_monotonic_s() - t0;
    return r;
}
