/* SPDX-License-Identifier: MIT */
/* Unit tests of the DNSBL probe (probes/dnsbl.c, probes/dnsbl_zones.c):
 * query names (RFC 5782 2.1, 2.4, 3), answer interpretation and verdicts
 * (tests/field-cases.md BR-29, BR-31, BR-33, BR-34, BR-35), TXT escaping, the
 * zones file, and the deadline against a resolver that never answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "dnsbl.h"
#include "reports.h"
#include "resolve.h"

#define IP(a, b, c, d)                                                         \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) |    \
     (uint32_t)(d))

/* ---- query names ------------------------------------------------------ */

static void
test_reverse_ipv4(void **state)
{
    (void)state;
    char out[80];
    int fam = 0;
    assert_int_equal(
        mh_dnsbl_reverse_address("192.0.2.10", &fam, out, sizeof out), 0);
    assert_int_equal(fam, AF_INET);
    assert_string_equal(out, "10.2.0.192");
    assert_int_equal(
        mh_dnsbl_reverse_address("127.0.0.2", &fam, out, sizeof out), 0);
    assert_string_equal(out, "2.0.0.127");
    /* Too small a buffer is an error, not a cut name. */
    assert_int_equal(mh_dnsbl_reverse_address("192.0.2.10", &fam, out, 8), -1);
}

/* BR-34: 32 lower-case nibbles, identical for every spelling, no
 * ip6.arpa, no compression. */
static void
test_reverse_ipv6(void **state)
{
    (void)state;
    const char *want = "2.4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.2.1.0.c.b.a.0.8.b.d."
                       "0.1.0.0.2";
    const char *spellings[] = {"2001:db8:abc:123::42",
                               "2001:DB8:ABC:123:0:0:0:42",
                               "2001:0db8:0abc:0123:0000:0000:0000:0042"};
    for (size_t i = 0; i < 3; i++) {
        char out[80];
        int fam = 0;
        assert_int_equal(
            mh_dnsbl_reverse_address(spellings[i], &fam, out, sizeof out), 0);
        assert_int_equal(fam, AF_INET6);
        assert_string_equal(out, want);
        assert_int_equal(strlen(out), 63);
        assert_null(strstr(out, "ip6"));
    }
    char out[80];
    int fam = 0;
    assert_int_equal(mh_dnsbl_reverse_address("::2", &fam, out, sizeof out), 0);
    assert_string_equal(out, "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                             "0.0.0.0.0.0.0.0");
    /* 63 characters + NUL need 64 bytes. */
    assert_int_equal(mh_dnsbl_reverse_address("::2", &fam, out, 63), -1);
}

/* ModSecurity queried "::1.xbl...": an IPv4-mapped address is the IPv4
 * address. */
static void
test_reverse_mapped(void **state)
{
    (void)state;
    char out[80];
    int fam = 0;
    assert_int_equal(
        mh_dnsbl_reverse_address("::ffff:192.0.2.10", &fam, out, sizeof out),
        0);
    assert_int_equal(fam, AF_INET);
    assert_string_equal(out, "10.2.0.192");
}

static void
test_reverse_invalid(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "192.0.2",
                         "192.0.2.256",
                         "1.2.3.4.5",
                         "mail.example",
                         "2001:db8::g",
                         " 192.0.2.1",
                         NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        char out[80];
        int fam = 0;
        assert_int_equal(
            mh_dnsbl_reverse_address(bad[i], &fam, out, sizeof out), -1);
    }
    char out[80];
    int fam = 0;
    assert_int_equal(mh_dnsbl_reverse_address(NULL, &fam, out, sizeof out), -1);
    unsigned char b[4] = {1, 2, 3, 4};
    assert_int_equal(mh_dnsbl_reverse_bytes(AF_UNIX, b, out, sizeof out), -1);
}

static void
test_normalize_name(void **state)
{
    (void)state;
    char out[300];
    assert_int_equal(
        mh_dnsbl_normalize_name("Listed-Domain.TEST.", out, sizeof out), 0);
    assert_string_equal(out, "listed-domain.test");
    assert_int_equal(
        mh_dnsbl_normalize_name("_dmarc.example.org", out, sizeof out), 0);
    const char *bad[] = {"",
                         ".",
                         "a..b",
                         ".a",
                         "a b.example",
                         "a/b",
                         "\xc3\xa9.example",
                         "a.b..",
                         "exa\tmple",
                         NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        assert_int_equal(mh_dnsbl_normalize_name(bad[i], out, sizeof out), -1);
    }
    /* Labels of 63 bytes are fine, 64 are not (RFC 1035 2.3.4). */
    char label[70];
    memset(label, 'a', 63);
    label[63] = '\0';
    assert_int_equal(mh_dnsbl_normalize_name(label, out, sizeof out), 0);
    memset(label, 'a', 64);
    label[64] = '\0';
    assert_int_equal(mh_dnsbl_normalize_name(label, out, sizeof out), -1);
    /* 253 bytes are fine, 254 are not. */
    char name[300];
    size_t n = 0;
    while (n + 50 < 253) {
        memset(name + n, 'b', 49);
        n += 49;
        name[n++] = '.';
    }
    memset(name + n, 'c', 253 - n);
    name[253] = '\0';
    assert_int_equal(mh_dnsbl_normalize_name(name, out, sizeof out), 0);
    name[253] = 'c';
    name[254] = '\0';
    assert_int_equal(mh_dnsbl_normalize_name(name, out, sizeof out), -1);
    /* The output buffer must hold the name. */
    assert_int_equal(mh_dnsbl_normalize_name("example.org", out, 5), -1);
}

static void
test_qname(void **state)
{
    (void)state;
    char out[300];
    assert_int_equal(
        mh_dnsbl_qname("10.2.0.192", "zen.spamhaus.org", out, sizeof out), 0);
    assert_string_equal(out, "10.2.0.192.zen.spamhaus.org");
    assert_int_equal(
        mh_dnsbl_qname("listed-domain.test", "dbl.lab.test", out, sizeof out),
        0);
    assert_string_equal(out, "listed-domain.test.dbl.lab.test");
    /* A 63-byte IPv6 prefix on a 190-byte zone: 254 bytes, too long. */
    char zone[200];
    memset(zone, 'z', 190);
    zone[60] = zone[120] = zone[180] = '.';
    zone[190] = '\0';
    char pfx[80];
    int fam;
    assert_int_equal(mh_dnsbl_reverse_address("::2", &fam, pfx, sizeof pfx), 0);
    assert_int_equal(mh_dnsbl_qname(pfx, zone, out, sizeof out), -1);
    zone[189] = '\0';
    assert_int_equal(mh_dnsbl_qname(pfx, zone, out, sizeof out), 0);
    assert_int_equal(strlen(out), 253);
    assert_int_equal(mh_dnsbl_qname("", "zone", out, sizeof out), -1);
    assert_int_equal(mh_dnsbl_qname("a", "zone", out, 4), -1);
}

/* ---- interpretation --------------------------------------------------- */

static void
test_interpret_not_listed(void **state)
{
    (void)state;
    struct mh_dnsbl_answer a;
    mh_dnsbl_interpret(NULL, MH_DNSBL_RC_NXDOMAIN, NULL, 0, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_NOT_LISTED);
    mh_dnsbl_interpret(NULL, MH_DNSBL_RC_NODATA, NULL, 0, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_NOT_LISTED);
    /* NOERROR without records is NODATA. */
    mh_dnsbl_interpret(NULL, MH_DNSBL_RC_ANSWER, NULL, 0, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_NOT_LISTED);
    assert_int_equal(a.rcode, MH_DNSBL_RC_NODATA);
}

/* BR-33: SERVFAIL, REFUSED, timeouts are never "not listed". */
static void
test_interpret_failures(void **state)
{
    (void)state;
    struct mh_dnsbl_answer a;
    const enum mh_dnsbl_rcode failed[] = {
        MH_DNSBL_RC_SERVFAIL, MH_DNSBL_RC_REFUSED, MH_DNSBL_RC_UNREACHABLE,
        MH_DNSBL_RC_OTHER};
    uint32_t listed = IP(127, 0, 0, 2);
    for (size_t i = 0; i < 4; i++) {
        mh_dnsbl_interpret(NULL, failed[i], &listed, 1, &a);
        assert_int_equal(a.kind, MH_DNSBL_K_FAILED);
        assert_int_equal(a.rcode, failed[i]);
        assert_int_equal(mh_dnsbl_decide(&a, NULL, NULL), MH_DNSBL_V_FAILED);
    }
    mh_dnsbl_interpret(NULL, MH_DNSBL_RC_TIMEOUT, NULL, 0, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_TIMEOUT);
    assert_int_equal(mh_dnsbl_decide(&a, NULL, NULL), MH_DNSBL_V_TIMEOUT);
    /* Not answered at all (kind NONE) is a timeout too. */
    memset(&a, 0, sizeof a);
    assert_int_equal(mh_dnsbl_decide(&a, NULL, NULL), MH_DNSBL_V_TIMEOUT);
}

/* BR-35: every record kept, sorted and unique, whatever the order. */
static void
test_interpret_multi_sorted(void **state)
{
    (void)state;
    uint32_t v1[] = {IP(127, 0, 0, 4), IP(127, 0, 0, 2)};
    uint32_t v2[] = {IP(127, 0, 0, 2), IP(127, 0, 0, 4), IP(127, 0, 0, 2)};
    struct mh_dnsbl_answer a, b;
    mh_dnsbl_interpret(NULL, MH_DNSBL_RC_ANSWER, v1, 2, &a);
    mh_dnsbl_interpret(NULL, MH_DNSBL_RC_ANSWER, v2, 3, &b);
    assert_int_equal(a.kind, MH_DNSBL_K_LISTED);
    assert_int_equal(a.ncodes, 2);
    assert_int_equal(a.codes[0], IP(127, 0, 0, 2));
    assert_int_equal(a.codes[1], IP(127, 0, 0, 4));
    assert_memory_equal(&a, &b, sizeof a);
    /* More records than kept: the lowest ones stay. */
    uint32_t many[40];
    for (size_t i = 0; i < 40; i++) {
        many[i] = IP(127, 0, 0, 200 - i);
    }
    mh_dnsbl_interpret(NULL, MH_DNSBL_RC_ANSWER, many, 40, &a);
    assert_int_equal(a.ncodes, MH_DNSBL_MAX_CODES);
    assert_int_equal(a.codes[0], IP(127, 0, 0, 161));
    for (size_t i = 1; i < a.ncodes; i++) {
        assert_true(a.codes[i - 1] < a.codes[i]);
    }
    char buf[20];
    assert_string_equal(
        mh_dnsbl_format_code(IP(127, 255, 255, 254), buf, sizeof buf),
        "127.255.255.254");
}

/* BR-29, BR-31 and the other known error answers are not listings. */
static void
test_interpret_error_codes(void **state)
{
    (void)state;
    const struct {
        uint32_t code;
        const char *meaning;
        bool hint;
    } cases[] = {
        {IP(127, 255, 255, 254), "query via public/open resolver", true},
        {IP(127, 255, 255, 255), "excessive number of queries", true},
        {IP(127, 255, 255, 252), "typo in the DNSBL zone name", true},
        {IP(127, 0, 1, 255), "IP address queried on a domain blocklist", true},
        {IP(127, 0, 0, 1), "query refused", true},
        {IP(127, 255, 255, 250), "error range 127.255.255.0/24", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mh_dnsbl_answer a;
        mh_dnsbl_interpret(NULL, MH_DNSBL_RC_ANSWER, &cases[i].code, 1, &a);
        assert_int_equal(a.kind, MH_DNSBL_K_ERROR_CODE);
        assert_int_equal(a.culprit, cases[i].code);
        assert_string_equal(a.meaning, cases[i].meaning);
        assert_int_equal(a.hint != NULL, cases[i].hint);
        assert_int_equal(mh_dnsbl_decide(&a, NULL, NULL),
                         MH_DNSBL_V_ERROR_CODE);
        assert_true(mh_dnsbl_verdict_is_error(MH_DNSBL_V_ERROR_CODE));
    }
    /* An error code next to a listing code still makes it an error. */
    uint32_t mixed[] = {IP(127, 0, 0, 2), IP(127, 255, 255, 254)};
    struct mh_dnsbl_answer a;
    mh_dnsbl_interpret(NULL, MH_DNSBL_RC_ANSWER, mixed, 2, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_ERROR_CODE);
    assert_int_equal(a.culprit, IP(127, 255, 255, 254));
}

/* An answer outside 127.0.0.0/8: broken zone or NXDOMAIN rewriting; it
 * outranks everything else in the answer. */
static void
test_interpret_outside(void **state)
{
    (void)state;
    uint32_t v[] = {IP(127, 0, 0, 2), IP(192, 0, 2, 99),
                    IP(127, 255, 255, 254)};
    struct mh_dnsbl_answer a;
    mh_dnsbl_interpret(NULL, MH_DNSBL_RC_ANSWER, v, 3, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_OUTSIDE);
    assert_int_equal(a.culprit, IP(192, 0, 2, 99));
    assert_int_equal(a.ncodes, 3); /* the raw answer is kept for display */
    assert_int_equal(mh_dnsbl_decide(&a, NULL, NULL), MH_DNSBL_V_OUTSIDE);
}

static const char zones_json[] =
    "{\"zones\": ["
    " {\"zone\": \"ZEN.example.\", \"type\": \"ip4\","
    "  \"codes\": {\"127.0.0.2\": \"SBL\", \"127.0.0.4\": \"XBL\"},"
    "  \"errors\": {\"127.0.0.9\": \"zone-specific error\"}},"
    " {\"zone\": \"multi.uribl.example\", \"type\": \"domain\","
    "  \"bitmask\": true, \"enabled\": false, \"test_listed\": "
    "\"test.uribl.example\","
    "  \"codes\": {\"127.0.0.2\": \"black\", \"127.0.0.4\": \"grey\","
    "             \"127.0.0.8\": \"red\"},"
    "  \"errors\": {\"127.0.0.1\": \"query refused\"}},"
    " {\"zone\": \"odd.example\", \"codes\": {\"127.0.0.1\": \"listed "
    "anyway\"}, \"test_listed\": false, \"future_key\": [1, 2]},"
    " {\"zone\": \"zen.example\", \"type\": \"domain\"}"
    "]}";

static void
test_interpret_zone_codes(void **state)
{
    (void)state;
    struct mh_dnsbl_zones zs = {0};
    char err[200];
    assert_int_equal(mh_dnsbl_zones_parse(&zs, zones_json, strlen(zones_json),
                                          err, sizeof err),
                     0);
    const struct mh_dnsbl_zone *zen = mh_dnsbl_zones_find(&zs, "zen.example");
    const struct mh_dnsbl_zone *uri =
        mh_dnsbl_zones_find(&zs, "multi.uribl.example");
    const struct mh_dnsbl_zone *odd = mh_dnsbl_zones_find(&zs, "odd.example");
    assert_non_null(zen);
    assert_non_null(uri);
    assert_non_null(odd);
    struct mh_dnsbl_answer a;
    uint32_t v[] = {IP(127, 0, 0, 4), IP(127, 0, 0, 2)};
    mh_dnsbl_interpret(zen, MH_DNSBL_RC_ANSWER, v, 2, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_LISTED);
    assert_string_equal(a.meaning, "SBL; XBL");
    /* A code the zone does not document is still a listing. */
    uint32_t u = IP(127, 0, 0, 7);
    mh_dnsbl_interpret(zen, MH_DNSBL_RC_ANSWER, &u, 1, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_LISTED);
    assert_string_equal(a.meaning, "return code not documented for this zone");
    /* The zone's own error code; its hint is none. */
    u = IP(127, 0, 0, 9);
    mh_dnsbl_interpret(zen, MH_DNSBL_RC_ANSWER, &u, 1, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_ERROR_CODE);
    assert_string_equal(a.meaning, "zone-specific error");
    assert_null(a.hint);
    /* Built-in errors apply to zones with codes too. */
    u = IP(127, 255, 255, 254);
    mh_dnsbl_interpret(zen, MH_DNSBL_RC_ANSWER, &u, 1, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_ERROR_CODE);
    /* Bit mask: 127.0.0.14 = black + grey + red. */
    u = IP(127, 0, 0, 14);
    mh_dnsbl_interpret(uri, MH_DNSBL_RC_ANSWER, &u, 1, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_LISTED);
    assert_string_equal(a.meaning, "black; grey; red");
    u = IP(127, 0, 0, 1);
    mh_dnsbl_interpret(uri, MH_DNSBL_RC_ANSWER, &u, 1, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_ERROR_CODE);
    assert_string_equal(a.meaning, "query refused");
    assert_non_null(a.hint); /* same address as the built-in entry */
    /* A zone may document a built-in error address as a listing. */
    mh_dnsbl_interpret(odd, MH_DNSBL_RC_ANSWER, &u, 1, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_LISTED);
    assert_string_equal(a.meaning, "listed anyway");
    mh_dnsbl_zones_free(&zs);
}

/* RFC 5782 section 5 and the order of the verdicts. */
static void
test_decide(void **state)
{
    (void)state;
    struct mh_dnsbl_answer listed, clean, failed, err;
    uint32_t two = IP(127, 0, 0, 2), e = IP(127, 255, 255, 254);
    mh_dnsbl_interpret(NULL, MH_DNSBL_RC_ANSWER, &two, 1, &listed);
    mh_dnsbl_interpret(NULL, MH_DNSBL_RC_NXDOMAIN, NULL, 0, &clean);
    mh_dnsbl_interpret(NULL, MH_DNSBL_RC_SERVFAIL, NULL, 0, &failed);
    mh_dnsbl_interpret(NULL, MH_DNSBL_RC_ANSWER, &e, 1, &err);

    /* Healthy zone. */
    assert_int_equal(mh_dnsbl_decide(&listed, &listed, &clean),
                     MH_DNSBL_V_LISTED);
    assert_int_equal(mh_dnsbl_decide(&clean, &listed, &clean),
                     MH_DNSBL_V_NOT_LISTED);
    /* Lists everything: 127.0.0.1 listed; never counted as a listing. */
    assert_int_equal(mh_dnsbl_decide(&listed, &listed, &listed),
                     MH_DNSBL_V_LISTS_EVERYTHING);
    assert_int_equal(mh_dnsbl_decide(&clean, &listed, &listed),
                     MH_DNSBL_V_LISTS_EVERYTHING);
    /* Not working: 127.0.0.2 not listed (BR-33 A). */
    assert_int_equal(mh_dnsbl_decide(&clean, &clean, &clean),
                     MH_DNSBL_V_NOT_WORKING);
    /* ... but a real listing from it still counts. */
    assert_int_equal(mh_dnsbl_decide(&listed, &clean, &clean),
                     MH_DNSBL_V_LISTED);
    /* Test entries unknown (failed, not asked): the subject's answer. */
    assert_int_equal(mh_dnsbl_decide(&clean, &failed, &failed),
                     MH_DNSBL_V_NOT_LISTED);
    assert_int_equal(mh_dnsbl_decide(&clean, NULL, NULL),
                     MH_DNSBL_V_NOT_LISTED);
    /* The subject's own failure / error answer comes first. */
    assert_int_equal(mh_dnsbl_decide(&failed, &listed, &listed),
                     MH_DNSBL_V_FAILED);
    assert_int_equal(mh_dnsbl_decide(&err, &err, &err), MH_DNSBL_V_ERROR_CODE);
    /* A negative test entry answered with an error code is not "lists
     * everything" (URIBL answers 127.0.0.1 to every refused query). */
    struct mh_dnsbl_answer refused;
    uint32_t one = IP(127, 0, 0, 1);
    mh_dnsbl_interpret(NULL, MH_DNSBL_RC_ANSWER, &one, 1, &refused);
    assert_int_equal(mh_dnsbl_decide(&refused, &refused, &refused),
                     MH_DNSBL_V_ERROR_CODE);
    assert_false(mh_dnsbl_verdict_is_error(MH_DNSBL_V_LISTED));
    assert_false(mh_dnsbl_verdict_is_error(MH_DNSBL_V_NOT_LISTED));
    assert_true(mh_dnsbl_verdict_is_error(MH_DNSBL_V_NOT_WORKING));
    assert_true(mh_dnsbl_verdict_is_error(MH_DNSBL_V_LISTS_EVERYTHING));
}

/* ---- TXT text --------------------------------------------------------- */

static void
test_txt_append(void **state)
{
    (void)state;
    char buf[MH_DNSBL_TXT_MAX + 8] = "";
    const unsigned char hostile[] = {'A', 0, '\n', 0x1b, '|', 0xff, 'Z'};
    size_t n = mh_dnsbl_txt_append(buf, sizeof buf, hostile, sizeof hostile);
    assert_string_equal(buf, "A\\x00\\x0a\\x1b|\\xffZ");
    assert_int_equal(n, strlen(buf));
    /* Appends. */
    mh_dnsbl_txt_append(buf, sizeof buf, (const unsigned char *)"!", 1);
    assert_string_equal(buf, "A\\x00\\x0a\\x1b|\\xffZ!");
    /* Bounded: a 64 KiB TXT gives at most MH_DNSBL_TXT_MAX bytes ending
     * in "...". */
    unsigned char *big = malloc(65536);
    assert_non_null(big);
    memset(big, 'x', 65536);
    big[1000] = 0;
    buf[0] = '\0';
    n = mh_dnsbl_txt_append(buf, sizeof buf, big, 65536);
    assert_true(n <= MH_DNSBL_TXT_MAX);
    assert_int_equal(strlen(buf), n);
    assert_string_equal(buf + n - 3, "...");
    /* Full: further appends change nothing. */
    assert_int_equal(mh_dnsbl_txt_append(buf, sizeof buf, big, 10), n);
    /* A small buffer. */
    char small[8] = "";
    n = mh_dnsbl_txt_append(small, sizeof small, big, 100);
    assert_string_equal(small, "xxxx...");
    /* Exactly fitting text is not cut. */
    char exact[11] = "";
    mh_dnsbl_txt_append(exact, sizeof exact, big, 10);
    assert_string_equal(exact, "xxxxxxxxxx");
    free(big);
}

/* ---- zones file ------------------------------------------------------- */

static void
test_zones_parse(void **state)
{
    (void)state;
    struct mh_dnsbl_zones zs = {0};
    char err[200];
    assert_int_equal(mh_dnsbl_zones_parse(&zs, zones_json, strlen(zones_json),
                                          err, sizeof err),
                     0);
    /* zen.example twice: the first definition wins. */
    assert_int_equal(zs.n, 3);
    assert_string_equal(zs.v[0].name, "zen.example");
    assert_int_equal(zs.v[0].type, MH_DNSBL_ZONE_IP4);
    assert_true(zs.v[0].enabled);
    assert_int_equal(zs.v[0].ncodes, 3);
    assert_int_equal(zs.v[1].type, MH_DNSBL_ZONE_DOMAIN);
    assert_false(zs.v[1].enabled);
    assert_true(zs.v[1].bitmask);
    assert_string_equal(zs.v[1].test_listed, "test.uribl.example");
    assert_null(zs.v[1].test_unlisted);
    assert_int_equal(zs.v[2].type, MH_DNSBL_ZONE_ANY); /* type not given */
    assert_true(zs.v[2].no_test_listed);
    assert_string_equal(mh_dnsbl_zone_type_name(zs.v[1].type), "domain");
    assert_null(mh_dnsbl_zones_find(&zs, "nothere.example"));
    assert_non_null(mh_dnsbl_zones_find(&zs, "ZEN.EXAMPLE."));
    mh_dnsbl_zones_free(&zs);
    assert_int_equal(zs.n, 0);
}

static void
test_zones_parse_errors(void **state)
{
    (void)state;
    const struct {
        const char *json;
        const char *msg;
    } cases[] = {
        {"{", "not valid JSON"},
        {"[]", "\"zones\" array"},
        {"{\"zones\": {}}", "\"zones\" array"},
        {"{\"zones\": [42]}", "must be an object"},
        {"{\"zones\": [{\"type\": \"ip\"}]}", "\"zone\" must be"},
        {"{\"zones\": [{\"zone\": \"a b\"}]}", "\"zone\" must be"},
        {"{\"zones\": [{\"zone\": \"z.example\", \"type\": \"rhsbl\"}]}",
         "\"type\" must be"},
        {"{\"zones\": [{\"zone\": \"z.example\", \"codes\": {\"127.0.0\": "
         "\"x\"}}]}",
         "not an IPv4 address"},
        {"{\"zones\": [{\"zone\": \"z.example\", \"codes\": {\"127.0.0.2\": "
         "2}}]}",
         "must be a string"},
        {"{\"zones\": [{\"zone\": \"z.example\", \"codes\": {\"127.0.0.2\": "
         "\"x\"}, \"errors\": {\"127.0.0.2\": \"y\"}}]}",
         "defined twice"},
        {"{\"zones\": [{\"zone\": \"z.example\", \"enabled\": \"yes\"}]}",
         "true or false"},
        {"{\"zones\": [{\"zone\": \"z.example\", \"test_listed\": \"x y\"}]}",
         "IPv4 address"},
        {"{\"zones\": [{\"zone\": \"z.example\", \"type\": \"domain\", "
         "\"test_listed\": \"1.2.3.4 \"}]}",
         "domain name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mh_dnsbl_zones zs = {0};
        char err[200] = "";
        /* A good zone first: on error the set is left as it was. */
        assert_int_equal(
            mh_dnsbl_zones_add_arg(&zs, "keep.example", NULL, err, sizeof err),
            0);
        assert_int_equal(mh_dnsbl_zones_parse(&zs, cases[i].json,
                                              strlen(cases[i].json), err,
                                              sizeof err),
                         -1);
        if (strstr(err, cases[i].msg) == NULL) {
            fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].msg);
        }
        assert_int_equal(zs.n, 1);
        mh_dnsbl_zones_free(&zs);
    }
}

static void
test_zones_add_arg(void **state)
{
    (void)state;
    struct mh_dnsbl_zones defs = {0}, zs = {0};
    char err[200];
    assert_int_equal(mh_dnsbl_zones_parse(&defs, zones_json, strlen(zones_json),
                                          err, sizeof err),
                     0);
    assert_int_equal(
        mh_dnsbl_zones_add_arg(&zs, "bl.lab.test", &defs, err, sizeof err), 0);
    assert_int_equal(mh_dnsbl_zones_add_arg(&zs, "dbl.lab.test:domain", &defs,
                                            err, sizeof err),
                     0);
    assert_int_equal(
        mh_dnsbl_zones_add_arg(&zs, "BL.lab.test.", &defs, err, sizeof err),
        0); /* duplicate: ignored */
    /* From the definitions: codes copied, disabled zone enabled by name. */
    assert_int_equal(mh_dnsbl_zones_add_arg(&zs, "multi.uribl.example", &defs,
                                            err, sizeof err),
                     0);
    /* Type given on the command line overrides the file's. */
    assert_int_equal(
        mh_dnsbl_zones_add_arg(&zs, "zen.example:ip", &defs, err, sizeof err),
        0);
    assert_int_equal(zs.n, 4);
    assert_int_equal(zs.v[0].type, MH_DNSBL_ZONE_ANY); /* detected */
    assert_int_equal(zs.v[0].ncodes, 0);
    assert_int_equal(zs.v[1].type, MH_DNSBL_ZONE_DOMAIN);
    assert_true(zs.v[2].enabled);
    assert_true(zs.v[2].bitmask);
    assert_int_equal(zs.v[2].ncodes, 4);
    assert_string_equal(zs.v[2].test_listed, "test.uribl.example");
    assert_int_equal(zs.v[3].type, MH_DNSBL_ZONE_IP);
    assert_int_equal(zs.v[3].ncodes, 3);
    const char *bad[] = {"",         ":ip",  "bl.lab.test:rhsbl",
                         "bad zone", "a..b", NULL};
    for (size_t i = 0; bad[i] != NULL; i++) {
        assert_int_equal(
            mh_dnsbl_zones_add_arg(&zs, bad[i], &defs, err, sizeof err), -1);
        assert_non_null(strstr(err, "--zone"));
    }
    mh_dnsbl_zones_free(&zs);
    /* At most MH_DNSBL_MAX_ZONES. */
    for (int i = 0; i < MH_DNSBL_MAX_ZONES; i++) {
        char name[40];
        snprintf(name, sizeof name, "z%d.example", i);
        assert_int_equal(
            mh_dnsbl_zones_add_arg(&zs, name, NULL, err, sizeof err), 0);
    }
    assert_int_equal(
        mh_dnsbl_zones_add_arg(&zs, "one-more.example", NULL, err, sizeof err),
        -1);
    assert_non_null(strstr(err, "too many zones"));
    mh_dnsbl_zones_free(&zs);
    mh_dnsbl_zones_free(&defs);
}

/* The shipped default zones file loads and every zone is sane. */
static void
test_contrib_zones_file(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *slash = strstr(path, "/tests/unit/");
    assert_non_null(slash);
    snprintf(slash, sizeof path - (size_t)(slash - path),
             "/contrib/dnsbl-zones.json");
    struct mh_dnsbl_zones zs = {0};
    char err[300];
    if (mh_dnsbl_zones_load(&zs, path, err, sizeof err) != 0) {
        fail_msg("%s", err);
    }
    assert_true(zs.n >= 10);
    const char *must[] = {"zen.spamhaus.org",
                          "dbl.spamhaus.org",
                          "bl.spamcop.net",
                          "b.barracudacentral.org",
                          "psbl.surriel.com",
                          "bl.mailspike.net",
                          "multi.uribl.com",
                          "multi.surbl.org",
                          "dnsbl-1.uceprotect.net",
                          "zen.dq.spamhaus.net",
                          "zrd.dq.spamhaus.net",
                          "combined.mail.abusix.zone",
                          "list.dnswl.org",
                          "swl.spamhaus.org",
                          "dwl.spamhaus.org",
                          "ix.dnsbl.manitu.net",
                          NULL};
    for (size_t i = 0; must[i] != NULL; i++) {
        if (mh_dnsbl_zones_find(&zs, must[i]) == NULL) {
            fail_msg("%s missing from %s", must[i], path);
        }
    }
    const struct mh_dnsbl_zone *zen =
        mh_dnsbl_zones_find(&zs, "zen.spamhaus.org");
    uint32_t e = IP(127, 255, 255, 254);
    struct mh_dnsbl_answer a;
    mh_dnsbl_interpret(zen, MH_DNSBL_RC_ANSWER, &e, 1, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_ERROR_CODE);
    uint32_t pbl = IP(127, 0, 0, 10);
    mh_dnsbl_interpret(zen, MH_DNSBL_RC_ANSWER, &pbl, 1, &a);
    assert_int_equal(a.kind, MH_DNSBL_K_LISTED);
    assert_non_null(strstr(a.meaning, "PBL"));
    const struct mh_dnsbl_zone *dbl =
        mh_dnsbl_zones_find(&zs, "dbl.spamhaus.org");
    assert_int_equal(dbl->type, MH_DNSBL_ZONE_DOMAIN);
    /* SORBS closed in 2024: not in the file */
    for (size_t i = 0; i < zs.n; i++) {
        assert_null(strstr(zs.v[i].name, "sorbs"));
    }
    assert_int_equal(zen->type, MH_DNSBL_ZONE_IP);
    assert_int_equal(a.list_kind, MH_DNSBL_KIND_POLICY); /* PBL */
    /* Mailspike bl: .2 and .10-.12 only */
    const struct mh_dnsbl_zone *ms =
        mh_dnsbl_zones_find(&zs, "bl.mailspike.net");
    assert_int_equal(ms->ncodes, 4);
    uint32_t grey = IP(127, 0, 0, 4);
    mh_dnsbl_interpret(mh_dnsbl_zones_find(&zs, "multi.uribl.com"),
                       MH_DNSBL_RC_ANSWER, &grey, 1, &a);
    assert_int_equal(a.list_kind, MH_DNSBL_KIND_POLICY);
    assert_int_equal(mh_dnsbl_zones_find(&zs, "list.dnswl.org")->kind,
                     MH_DNSBL_KIND_ALLOW);
    assert_int_equal(mh_dnsbl_zones_find(&zs, "dwl.spamhaus.org")->kind,
                     MH_DNSBL_KIND_ALLOW);
    /* DQS keeps the ZEN definitions, with a key file */
    const struct mh_dnsbl_zone *dqs =
        mh_dnsbl_zones_find(&zs, "zen.dq.spamhaus.net");
    assert_non_null(dqs->key_file);
    assert_false(dqs->enabled);
    assert_int_equal(dqs->ncodes, zen->ncodes);
    mh_dnsbl_zones_free(&zs);
    assert_int_equal(
        mh_dnsbl_zones_load(&zs, "/nonexistent/zones.json", err, sizeof err),
        -1);
    assert_non_null(strstr(err, "/nonexistent/zones.json"));
}

/* ---- the probe against a resolver that never answers ------------------ */

/* A UDP socket on loopback that reads nothing: every query times out. */
static int
silent_resolver(char *addr, size_t len)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(addr, len, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    return fd;
}

static const struct mh_perf *
perf(const struct mh_result *r, const char *label)
{
    for (size_t i = 0; i < r->nperf; i++) {
        if (strcmp(r->perf[i].label, label) == 0) {
            return &r->perf[i];
        }
    }
    return NULL;
}

/* Value of perfdata `label` (the test fails when it is missing). */
static double
perf_value(const struct mh_result *r, const char *label)
{
    const struct mh_perf *pf = perf(r, label);
    if (pf == NULL) {
        fail_msg("no perfdata '%s'", label);
        return -1;
    }
    return pf->value;
}

static void
test_probe_deadline(void **state)
{
    (void)state;
    char resolver[64];
    int fd = silent_resolver(resolver, sizeof resolver);
    struct mh_dnsbl_zones zs = {0};
    char err[200];
    assert_int_equal(
        mh_dnsbl_zones_add_arg(&zs, "bl.example", NULL, err, sizeof err), 0);
    assert_int_equal(mh_dnsbl_zones_add_arg(&zs, "dbl.example:domain", NULL,
                                            err, sizeof err),
                     0);
    struct mh_dnsbl_params p = {
        .target = "192.0.2.10", .zones = &zs, .resolver = resolver};
    struct mh_deadline dl;
    mh_deadline_start(&dl, 0.4);
    double t0 = mh_monotonic_s();
    struct mh_result *r = mh_dnsbl_probe(&p, &dl);
    double took = mh_monotonic_s() - t0;
    assert_non_null(r);
    assert_true(took >= 0.35 && took < 1.5);
    assert_int_equal(r->state, MH_STATE_UNKNOWN);
    assert_int_equal(r->category, MH_CAT_TIMEOUT);
    assert_string_equal(r->check, "dnsbl");
    assert_string_equal(r->target, "192.0.2.10");
    assert_non_null(strstr(r->summary, "no DNS answer for bl.example"));
    /* One item per zone: the IP zone timed out, the domain zone does not
     * apply to an address. */
    assert_int_equal(r->nitems, 2);
    assert_int_equal(r->items[0].state, MH_STATE_UNKNOWN);
    assert_int_equal(r->items[0].category, MH_CAT_TIMEOUT);
    assert_string_equal(r->items[0].name, "bl.example");
    assert_int_equal(r->items[1].state, MH_STATE_OK);
    assert_non_null(strstr(r->items[1].text, "not queried"));
    assert_true(perf_value(r, "listed") == 0);
    assert_true(perf_value(r, "errors") == 1);
    assert_non_null(perf(r, "time"));
    mh_result_free(r);
    mh_dnsbl_zones_free(&zs);
    close(fd);
}

/* Domain mode: known addresses added to an existing result. */
static void
test_check_addresses(void **state)
{
    (void)state;
    char resolver[64];
    int fd = silent_resolver(resolver, sizeof resolver);
    struct mh_dnsbl_zones zs = {0};
    char err[200];
    assert_int_equal(
        mh_dnsbl_zones_add_arg(&zs, "bl4.example:ip4", NULL, err, sizeof err),
        0);
    assert_int_equal(mh_dnsbl_zones_add_arg(&zs, "dbl.example:domain", NULL,
                                            err, sizeof err),
                     0);
    struct mh_dnsbl_params p = {
        .zones = &zs, .resolver = resolver, .perf_prefix = "mx1_"};
    struct mh_deadline dl;
    mh_deadline_start(&dl, 0.3);
    struct mh_result *r = mh_result_new("domain", "example.org");
    assert_non_null(r);
    const char *addrs[] = {"2001:db8::1", "192.0.2.2", "192.0.2.1", "192.0.2.1",
                           "bogus"};
    assert_int_equal(
        mh_dnsbl_check_addresses(&p, addrs, 5, "Example.ORG", &dl, r), 0);
    assert_int_equal(r->state, MH_STATE_UNKNOWN);
    /* bogus: a note; bl4: 192.0.2.1 and .2 (sorted, deduplicated; IPv6
     * not queried on an ip4 zone); dbl: example.org. */
    size_t zone_items = 0;
    const char *order[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < r->nitems; i++) {
        if (strcmp(r->items[i].kind, "zone") == 0 && zone_items < 3) {
            order[zone_items++] = r->items[i].text;
        }
    }
    assert_int_equal(zone_items, 3);
    assert_non_null(strstr(order[0], "192.0.2.1:"));
    assert_non_null(strstr(order[1], "192.0.2.2:"));
    assert_non_null(strstr(order[2], "example.org:"));
    assert_non_null(perf(r, "mx1_listed"));
    assert_non_null(perf(r, "mx1_errors"));
    assert_non_null(perf(r, "mx1_time"));
    assert_true(perf_value(r, "mx1_errors") == 2);
    size_t series = 0;
    for (size_t i = 0; i < r->nsamples; i++) {
        if (strcmp(r->samples[i].family, "mailhealth_dnsbl_error") == 0) {
            series++;
            assert_true(r->samples[i].value == 1);
        }
    }
    assert_int_equal(series, 3);
    mh_result_free(r);
    mh_dnsbl_zones_free(&zs);
    close(fd);
}

/* Usage-type problems: UNKNOWN without category, no DNS traffic. */
static void
test_probe_usage(void **state)
{
    (void)state;
    struct mh_dnsbl_zones zs = {0};
    char err[200];
    struct mh_deadline dl;
    mh_deadline_start(&dl, 2);
    struct mh_dnsbl_params p = {.target = "not a name", .zones = &zs};
    struct mh_result *r = mh_dnsbl_probe(&p, &dl);
    assert_int_equal(r->state, MH_STATE_UNKNOWN);
    assert_int_equal(r->category, MH_CAT_NONE);
    assert_non_null(strstr(r->summary, "invalid -H"));
    mh_result_free(r);
    p.target = "192.0.2.10";
    r = mh_dnsbl_probe(&p, &dl);
    assert_int_equal(r->state, MH_STATE_UNKNOWN);
    assert_non_null(strstr(r->summary, "no DNSBL zone"));
    mh_result_free(r);
    assert_int_equal(mh_dnsbl_zones_add_arg(&zs, "dbl.example:domain", NULL,
                                            err, sizeof err),
                     0);
    r = mh_dnsbl_probe(&p, &dl);
    assert_int_equal(r->state, MH_STATE_UNKNOWN);
    assert_non_null(strstr(r->summary, "no zone applies to 192.0.2.10"));
    mh_result_free(r);
    p.resolver = "not-an-address";
    r = mh_dnsbl_probe(&p, &dl);
    assert_int_equal(r->state, MH_STATE_UNKNOWN);
    assert_non_null(strstr(r->summary, "resolver"));
    mh_result_free(r);
    mh_dnsbl_zones_free(&zs);
}

/* -H values: addresses, CIDR blocks (host bits cleared, mapped IPv4 taken
 * as IPv4), names; everything else refused. */
static void
test_target_parse(void **state)
{
    (void)state;
    struct mh_dnsbl_target t;
    char text[INET6_ADDRSTRLEN];
    unsigned char b[16];
    assert_int_equal(mh_dnsbl_target_parse("192.0.2.10", &t), 0);
    assert_int_equal(t.family, AF_INET);
    assert_int_equal(t.prefix, 32);
    assert_true(t.count == 1);
    assert_int_equal(mh_dnsbl_target_parse("192.0.2.77/24", &t), 0);
    assert_int_equal(t.prefix, 24);
    assert_true(t.count == 256);
    mh_dnsbl_target_address(&t, 255, b);
    assert_string_equal(inet_ntop(AF_INET, b, text, sizeof text),
                        "192.0.2.255");
    mh_dnsbl_target_address(&t, 0, b);
    assert_string_equal(inet_ntop(AF_INET, b, text, sizeof text), "192.0.2.0");
    assert_int_equal(mh_dnsbl_target_parse("10.0.0.0/22", &t), 0);
    mh_dnsbl_target_address(&t, 1023, b);
    assert_string_equal(inet_ntop(AF_INET, b, text, sizeof text), "10.0.3.255");
    assert_int_equal(mh_dnsbl_target_parse("2001:db8::ff:1/120", &t), 0);
    assert_int_equal(t.family, AF_INET6);
    assert_true(t.count == 256);
    mh_dnsbl_target_address(&t, 0x42, b);
    assert_string_equal(inet_ntop(AF_INET6, b, text, sizeof text),
                        "2001:db8::ff:42");
    assert_int_equal(mh_dnsbl_target_parse("2001:db8::/0", &t), 0);
    assert_true(t.count == UINT64_MAX);
    assert_int_equal(mh_dnsbl_target_parse("::ffff:192.0.2.0/120", &t), 0);
    assert_int_equal(t.family, AF_INET);
    assert_int_equal(t.prefix, 24);
    assert_int_equal(mh_dnsbl_target_parse("0.0.0.0/0", &t), 0);
    assert_true(t.count == 4294967296ull);
    assert_int_equal(mh_dnsbl_target_parse("Mail.Example.COM.", &t), 0);
    assert_int_equal(t.family, 0);
    assert_string_equal(t.name, "mail.example.com");
    static const char *const bad[] = {
        "192.0.2.0/33", "192.0.2.0/",     "192.0.2.0/024",
        "192.0.2.0/+4", "2001:db8::/129", "example.com/24",
        "bad host",     "192.0.2.0/2 4",  "",
        "/24",          "192.0.2.0/24/1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mh_dnsbl_target_parse(bad[i], &t), -1);
    }
}

static void
test_fmt_count(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(mh_dnsbl_fmt_count(0, b, sizeof b), "0");
    assert_string_equal(mh_dnsbl_fmt_count(999, b, sizeof b), "999");
    assert_string_equal(mh_dnsbl_fmt_count(1024, b, sizeof b), "1,024");
    assert_string_equal(mh_dnsbl_fmt_count(51200, b, sizeof b), "51,200");
    assert_string_equal(mh_dnsbl_fmt_count(1234567, b, sizeof b), "1,234,567");
}

/* The hosts file: comments, blanks, CRLF; the first bad line names its
 * number and leaves the list as it was. */
static void
test_targets_parse(void **state)
{
    (void)state;
    struct mh_dnsbl_target_list l = {NULL, 0};
    char err[200];
    static const char good[] = "# relays\n192.0.2.0/29  # range\r\n\n"
                               "   \t\nmx.example.com\n2001:db8::1";
    assert_int_equal(
        mh_dnsbl_targets_parse(&l, good, sizeof good - 1, err, sizeof err), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0], "192.0.2.0/29");
    assert_string_equal(l.v[1], "mx.example.com");
    assert_string_equal(l.v[2], "2001:db8::1");
    static const char bad[] = "192.0.2.1\n\nnot a host\n";
    assert_int_equal(
        mh_dnsbl_targets_parse(&l, bad, sizeof bad - 1, err, sizeof err), -1);
    assert_int_equal(l.n, 3);
    assert_non_null(strstr(err, "line 3: 'not a host'"));
    static const char nul[] = "192.0.2.1\0\n";
    assert_int_equal(
        mh_dnsbl_targets_parse(&l, nul, sizeof nul - 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 1: NUL byte"));
    mh_dnsbl_target_list_free(&l);
    assert_int_equal(l.n, 0);
    assert_int_equal(
        mh_dnsbl_targets_load(&l, "/nonexistent/hosts", err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read --hosts-file /nonexistent/hosts"));
}

/* c-ares tries and timeout from the time left: a lost answer is retried
 * twice before the deadline (timeouts t, 2t, 4t, 8t). */
static void
test_resolve_tries(void **state)
{
    (void)state;
    int t, tries;
    mh_resolve_tries_for(10000, &t, &tries);
    assert_int_equal(t, 1428);
    assert_int_equal(tries, 4);
    assert_true(t + 2 * t < 10000 / 2);
    mh_resolve_tries_for(1000, &t, &tries);
    assert_int_equal(t, MH_RESOLVE_TRY_MIN_MS);
    assert_true(t + 2 * t < 1000);
    mh_resolve_tries_for(60000, &t, &tries);
    assert_int_equal(t, MH_RESOLVE_TRY_MAX_MS);
    mh_resolve_tries_for(-5, &t, &tries);
    assert_int_equal(t, MH_RESOLVE_TRY_MIN_MS);
}

/* The runner's memory of zones: healthy test answers kept and dropped on a
 * refusal, a budget per round, back-off for a round after a refusal. */
static void
test_memory(void **state)
{
    (void)state;
    struct mh_dnsbl_memory *m = mh_dnsbl_memory_new(100.0);
    assert_non_null(m);
    struct mh_dnsbl_answer a[2], got[2];
    memset(a, 0, sizeof a);
    a[0].kind = MH_DNSBL_K_LISTED;
    assert_int_equal(
        mh_dnsbl_memory_health_get(m, "bl.example", 0, true, 3600, got, 2), 0);
    mh_dnsbl_memory_health_put(m, "bl.example", 0, true, a, 1);
    assert_int_equal(
        mh_dnsbl_memory_health_get(m, "bl.example", 0, true, 3600, got, 2), 1);
    assert_int_equal(got[0].kind, MH_DNSBL_K_LISTED);
    assert_int_equal(
        mh_dnsbl_memory_health_get(m, "bl.example", 1, true, 3600, got, 2), 0);
    assert_int_equal(
        mh_dnsbl_memory_health_get(m, "bl.example", 0, true, -1, got, 2),
        0); /* too old */
    /* budget: 3 per round, counted, whole again in a new round */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mh_dnsbl_memory_take(m, "bl.example", 3, NULL, NULL),
                         MH_DNSBL_TAKE_OK);
    }
    assert_int_equal(mh_dnsbl_memory_take(m, "bl.example", 3, NULL, NULL),
                     MH_DNSBL_TAKE_BUDGET);
    assert_int_equal(mh_dnsbl_memory_taken(m, "bl.example"), 3);
    mh_dnsbl_memory_round(m);
    assert_int_equal(mh_dnsbl_memory_take(m, "bl.example", 3, NULL, NULL),
                     MH_DNSBL_TAKE_OK);
    /* a refusal drops the health and backs off 1.5 rounds */
    mh_dnsbl_memory_refused(m, "bl.example", 0x7fffffffu, 3600);
    assert_int_equal(
        mh_dnsbl_memory_health_get(m, "bl.example", 0, true, 3600, got, 2), 0);
    double left = 0;
    uint32_t code = 0;
    assert_int_equal(mh_dnsbl_memory_take(m, "bl.example", 0, &left, &code),
                     MH_DNSBL_TAKE_BACKOFF);
    assert_true(left > 140 && left <= 150);
    assert_int_equal(code, 0x7fffffffu);
    /* bounded by the cache time */
    mh_dnsbl_memory_refused(m, "other.example", 0x7f0000ffu, 30);
    assert_int_equal(mh_dnsbl_memory_take(m, "other.example", 0, &left, NULL),
                     MH_DNSBL_TAKE_BACKOFF);
    assert_true(left <= 30);
    /* no memory: everything goes */
    assert_int_equal(mh_dnsbl_memory_take(NULL, "bl.example", 1, NULL, NULL),
                     MH_DNSBL_TAKE_OK);
    mh_dnsbl_memory_free(m);
}

/* A zone that takes a customer key: read from its key file, validated. */
static void
test_zone_key(void **state)
{
    (void)state;
    char dir[] = "/tmp/mh-test-key.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char kf[128], json[512], err[300];
    snprintf(kf, sizeof kf, "%s/key", dir);
    FILE *f = fopen(kf, "w");
    assert_non_null(f);
    fputs("  AbC123def456ghi789jkl012mn \n", f);
    fclose(f);
    snprintf(json, sizeof json,
             "{\"zones\": [{\"zone\": \"zen.dq.spamhaus.net\", \"key_file\": "
             "\"%s\"}]}",
             kf);
    struct mh_dnsbl_zones zs = {0};
    assert_int_equal(
        mh_dnsbl_zones_parse(&zs, json, strlen(json), err, sizeof err), 0);
    assert_null(zs.v[0].key);
    assert_int_equal(mh_dnsbl_zone_load_key(&zs.v[0], err, sizeof err), 0);
    assert_string_equal(zs.v[0].key, "abc123def456ghi789jkl012mn");
    mh_dnsbl_zones_free(&zs);
    f = fopen(kf, "w");
    assert_non_null(f);
    fputs("not.a.label\n", f);
    fclose(f);
    assert_int_equal(
        mh_dnsbl_zones_parse(&zs, json, strlen(json), err, sizeof err), 0);
    assert_int_equal(mh_dnsbl_zone_load_key(&zs.v[0], err, sizeof err), -1);
    assert_non_null(strstr(err, "one DNS label"));
    assert_null(strstr(err, "not.a.label"));
    mh_dnsbl_zones_free(&zs);
    unlink(kf);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reverse_ipv4),
        cmocka_unit_test(test_reverse_ipv6),
        cmocka_unit_test(test_reverse_mapped),
        cmocka_unit_test(test_reverse_invalid),
        cmocka_unit_test(test_normalize_name),
        cmocka_unit_test(test_qname),
        cmocka_unit_test(test_interpret_not_listed),
        cmocka_unit_test(test_interpret_failures),
        cmocka_unit_test(test_interpret_multi_sorted),
        cmocka_unit_test(test_interpret_error_codes),
        cmocka_unit_test(test_interpret_outside),
        cmocka_unit_test(test_interpret_zone_codes),
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_txt_append),
        cmocka_unit_test(test_zones_parse),
        cmocka_unit_test(test_zones_parse_errors),
        cmocka_unit_test(test_zones_add_arg),
        cmocka_unit_test(test_contrib_zones_file),
        cmocka_unit_test(test_probe_deadline),
        cmocka_unit_test(test_check_addresses),
        cmocka_unit_test(test_probe_usage),
        cmocka_unit_test(test_target_parse),
        cmocka_unit_test(test_fmt_count),
        cmocka_unit_test(test_targets_parse),
        cmocka_unit_test(test_resolve_tries),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_zone_key),
    };
    if (mh_resolve_global_init() != 0) {
        return 1;
    }
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mh_resolve_global_cleanup();
    return rc;
}
