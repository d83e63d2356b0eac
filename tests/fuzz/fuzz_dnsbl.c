/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dnsbl: the DNSBL answer interpreter (probes/dnsbl.c
 * mh_dnsbl_interpret, mh_dnsbl_decide) and the pure helpers next to it
 * (mh_dnsbl_txt_append, mh_dnsbl_reverse_address, mh_dnsbl_normalize_name,
 * mh_dnsbl_qname).
 *
 * Input layout:
 *   byte 0   rcode of the subject's answer (any value mod 8)
 *   byte 1   zone: 0 none (generic), 1 documented codes, 2 bit-mask zone,
 *            3 a zone defined by the input: byte 2 = number of codes (mod
 *            17), then 5 bytes per code (address, big-endian; flags: bit 0
 *            error code, bit 1 bit-mask zone, bit 2 long meaning)
 *   next     bytes 0..1: how the test entries answered (rcode and a code)
 *   next     byte N (number of A records, may exceed MH_DNSBL_MAX_CODES),
 *            then N big-endian addresses
 *   rest     TXT data (txt_append, with a capacity from its first byte),
 *            and as a string: an address to reverse, a name to normalise.
 * Invariants: the kind follows the rcode; codes are sorted, unique, at most
 * MH_DNSBL_MAX_CODES and all from the answer; a listing has only 127/8
 * codes and no error code; culprits are among the codes; meanings are
 * bounded printable text; txt_append stays within cap and
 * MH_DNSBL_TXT_MAX and escapes everything non-printable.
 */
#include <arpa/inet.h>
#include <string.h>

#include "dnsbl.h"
#include "fuzz.h"

struct cursor {
    const uint8_t *p;
    size_t n;
};

static uint8_t
take8(struct cursor *c)
{
    if (c->n == 0) {
        return 0;
    }
    c->n--;
    return *c->p++;
}

static uint32_t
take32(struct cursor *c)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v = v << 8 | take8(c);
    }
    return v;
}

/* Meanings are char * in struct mh_dnsbl_code (owned by a zone set);
 * writable arrays keep the const-correctness warnings quiet. */
static char long_meaning[240];
static char m_spam[] = "spam source", m_exploit[] = "exploited host",
            m_zerr[] = "zone-specific error",
            m_one[] = "documents 127.0.0.1 as a listing", m_black[] = "black",
            m_grey[] = "grey", m_red[] = "red", m_bit7[] = "bit 7 is an error",
            m_own[] = "own code", m_zname[] = "fuzz.example";

static void
check_printable(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    FUZZ_CHECK(n < cap);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(s[i] >= 0x20 && s[i] <= 0x7e);
    }
}

static void
check_answer(const struct mh_dnsbl_answer *a, enum mh_dnsbl_rcode rc,
             const uint32_t *addrs, size_t n)
{
    switch (rc) {
    case MH_DNSBL_RC_NXDOMAIN:
    case MH_DNSBL_RC_NODATA:
        FUZZ_CHECK(a->kind == MH_DNSBL_K_NOT_LISTED);
        break;
    case MH_DNSBL_RC_TIMEOUT:
        FUZZ_CHECK(a->kind == MH_DNSBL_K_TIMEOUT);
        break;
    case MH_DNSBL_RC_ANSWER:
        FUZZ_CHECK(a->kind != MH_DNSBL_K_NONE && a->kind != MH_DNSBL_K_FAILED &&
                   a->kind != MH_DNSBL_K_TIMEOUT);
        break;
    default:
        FUZZ_CHECK(a->kind == MH_DNSBL_K_FAILED);
        break;
    }
    FUZZ_CHECK(a->ncodes <= MH_DNSBL_MAX_CODES);
    for (size_t i = 0; i < a->ncodes; i++) {
        FUZZ_CHECK(i == 0 || a->codes[i - 1] < a->codes[i]);
        bool found = false;
        for (size_t k = 0; k < n && !found; k++) {
            found = addrs[k] == a->codes[i];
        }
        FUZZ_CHECK(found);
    }
    if (rc == MH_DNSBL_RC_ANSWER && n > 0) {
        FUZZ_CHECK(a->ncodes > 0);
    }
    if (a->kind == MH_DNSBL_K_LISTED) {
        for (size_t i = 0; i < a->ncodes; i++) {
            FUZZ_CHECK(a->codes[i] >> 24 == 127u);
        }
    }
    if (a->kind == MH_DNSBL_K_OUTSIDE || a->kind == MH_DNSBL_K_ERROR_CODE) {
        bool found = false;
        for (size_t i = 0; i < a->ncodes && !found; i++) {
            found = a->codes[i] == a->culprit;
        }
        FUZZ_CHECK(found);
    }
    if (a->kind == MH_DNSBL_K_OUTSIDE) {
        FUZZ_CHECK(a->culprit >> 24 != 127u);
    }
    check_printable(a->meaning, sizeof a->meaning);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cursor c = {data, size};
    if (long_meaning[0] == '\0') {
        memset(long_meaning, 'm', sizeof long_meaning - 1);
    }
    /* Fixed zones like the shipped contrib/dnsbl-zones.json ones. */
    struct mh_dnsbl_code documented[] = {
        {.addr = 0x7f000002u, .error = false, .meaning = m_spam},
        {.addr = 0x7f000004u, .error = false, .meaning = m_exploit},
        {.addr = 0x7f00000au, .error = false, .meaning = long_meaning},
        {.addr = 0x7f0000fau, .error = true, .meaning = m_zerr},
        {.addr = 0x7f000001u, .error = false, .meaning = m_one},
    };
    struct mh_dnsbl_code bits[] = {
        {.addr = 0x7f000002u, .error = false, .meaning = m_black},
        {.addr = 0x7f000004u, .error = false, .meaning = m_grey},
        {.addr = 0x7f000008u, .error = false, .meaning = m_red},
        {.addr = 0x7f000080u, .error = true, .meaning = m_bit7},
    };
    struct mh_dnsbl_code own[16];
    struct mh_dnsbl_zone zone;
    memset(&zone, 0, sizeof zone);
    zone.name = m_zname;
    const struct mh_dnsbl_zone *z = NULL;

    enum mh_dnsbl_rcode rc = (enum mh_dnsbl_rcode)(take8(&c) % 8);
    uint8_t zk = take8(&c);
    zone.kind = (enum mh_dnsbl_list_kind)(zk & 3);
    zone.warn = (zk & 4) != 0;
    switch (take8(&c) % 4) {
    case 1:
        zone.codes = documented;
        zone.ncodes = sizeof documented / sizeof documented[0];
        z = &zone;
        break;
    case 2:
        zone.codes = bits;
        zone.ncodes = sizeof bits / sizeof bits[0];
        zone.bitmask = true;
        z = &zone;
        break;
    case 3: {
        size_t n = take8(&c) % 17;
        n = n > 16 ? 16 : n;
        for (size_t i = 0; i < n; i++) {
            own[i].addr = take32(&c);
            uint8_t fl = take8(&c);
            own[i].error = (fl & 1) != 0;
            zone.bitmask = zone.bitmask || (fl & 2) != 0;
            own[i].meaning = (fl & 4) ? long_meaning : m_own;
            own[i].has_kind = (fl & 8) != 0;
            own[i].kind = (enum mh_dnsbl_list_kind)((fl >> 4) & 3);
            own[i].warn = (fl & 64) != 0;
        }
        zone.codes = own;
        zone.ncodes = n;
        z = &zone;
        break;
    }
    default:
        break;
    }

    /* Test entries. */
    uint8_t t0 = take8(&c), t1 = take8(&c);
    uint32_t tcode = 0x7f000000u | t1;
    struct mh_dnsbl_answer pos, neg;
    mh_dnsbl_interpret(z, (enum mh_dnsbl_rcode)(t0 % 8), &tcode, 1, &pos);
    mh_dnsbl_interpret(z, (enum mh_dnsbl_rcode)((t0 >> 3) % 8), &tcode, 1,
                       &neg);

    size_t n = take8(&c);
    uint32_t addrs[256];
    for (size_t i = 0; i < n; i++) {
        addrs[i] = take32(&c);
    }
    struct mh_dnsbl_answer a;
    mh_dnsbl_interpret(z, rc, addrs, n, &a);
    check_answer(&a, rc, addrs, n);
    /* NULL addresses with an ANSWER rcode: no data. */
    struct mh_dnsbl_answer empty;
    mh_dnsbl_interpret(z, MH_DNSBL_RC_ANSWER, NULL, 3, &empty);
    FUZZ_CHECK(empty.kind == MH_DNSBL_K_NOT_LISTED);

    const struct mh_dnsbl_answer *pp = (t0 & 0x40) ? &pos : NULL;
    const struct mh_dnsbl_answer *np = (t0 & 0x80) ? &neg : NULL;
    enum mh_dnsbl_verdict v = mh_dnsbl_decide(&a, pp, np);
    FUZZ_CHECK(v >= MH_DNSBL_V_NOT_LISTED && v <= MH_DNSBL_V_TIMEOUT);
    FUZZ_CHECK(mh_dnsbl_verdict_is_error(v) ==
               (v != MH_DNSBL_V_NOT_LISTED && v != MH_DNSBL_V_LISTED));
    if (v == MH_DNSBL_V_LISTED) {
        FUZZ_CHECK(a.kind == MH_DNSBL_K_LISTED);
        FUZZ_CHECK(a.list_kind >= MH_DNSBL_KIND_BLOCK &&
                   a.list_kind <= MH_DNSBL_KIND_INFO);
        FUZZ_CHECK(!a.warn || a.list_kind == MH_DNSBL_KIND_POLICY || z != NULL);
    }
    /* Another family's test point only turns NOT_WORKING into
     * NOT_APPLICABLE, never anything else. */
    enum mh_dnsbl_verdict rv = mh_dnsbl_refine(v, pp);
    FUZZ_CHECK(rv == v || (v == MH_DNSBL_V_NOT_WORKING &&
                           rv == MH_DNSBL_V_NOT_APPLICABLE));
    FUZZ_CHECK(!mh_dnsbl_verdict_is_error(MH_DNSBL_V_NOT_APPLICABLE));
    char code[20];
    mh_dnsbl_format_code(a.culprit, code, sizeof code);
    check_printable(code, sizeof code);

    /* TXT text, in a buffer of 1..256 bytes, appended twice. */
    size_t cap = (size_t)take8(&c) + 1;
    char *txt = malloc(cap);
    if (txt == NULL) {
        return 0;
    }
    txt[0] = '\0';
    size_t half = c.n / 2;
    size_t l1 = mh_dnsbl_txt_append(txt, cap, c.p, half);
    size_t l2 = mh_dnsbl_txt_append(txt, cap, c.p + half, c.n - half);
    FUZZ_CHECK(l1 <= l2 && l2 == strlen(txt));
    FUZZ_CHECK(l2 < cap && l2 <= MH_DNSBL_TXT_MAX);
    check_printable(txt, cap);
    free(txt);

    /* The rest as a string: an address, a name, a query name. */
    char *s = malloc(c.n + 1);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, c.p, c.n);
    s[c.n] = '\0';
    char rev[72], name[MH_DNSBL_NAME_MAX + 1], q[MH_DNSBL_NAME_MAX + 1];
    int fam = 0;
    if (mh_dnsbl_reverse_address(s, &fam, rev, sizeof rev) == 0) {
        FUZZ_CHECK(fam == AF_INET || fam == AF_INET6);
        check_printable(rev, sizeof rev);
        if (mh_dnsbl_normalize_name("zen.example.org", name, sizeof name) ==
            0) {
            (void)mh_dnsbl_qname(rev, name, q, sizeof q);
        }
    }
    if (mh_dnsbl_normalize_name(s, name, sizeof name) == 0) {
        size_t nl = strlen(name);
        FUZZ_CHECK(nl > 0 && nl <= MH_DNSBL_NAME_MAX);
        for (size_t i = 0; i < nl; i++) {
            FUZZ_CHECK(!(name[i] >= 'A' && name[i] <= 'Z'));
        }
        if (mh_dnsbl_qname(name, name, q, sizeof q) == 0) {
            FUZZ_CHECK(strlen(q) <= MH_DNSBL_NAME_MAX);
        }
    }
    (void)mh_dnsbl_reverse_address(NULL, &fam, rev, sizeof rev);
    free(s);
    return 0;
}
