/* SPDX-License-Identifier: MIT */
/*
 * dnsmsg: DNS message parts DANE needs (see dnsmsg.h).
 */
#include "dnsmsg.h"

#include <stdio.h>
#include <string.h>

#include <ares.h>
#include <openssl/rand.h>

#include "textutil.h"

/* Fixed sizes (RFC 1035 4.1.1, 4.1.3). */
#define HEADER_LEN 12
#define RR_FIXED_LEN 10 /* TYPE, CLASS, TTL, RDLENGTH */
/* RFC 8914 2: the EDE option code. */
#define EDNS_OPT_EDE 15
/* RFC 4034 3.1: the fixed part of RRSIG rdata. */
#define RRSIG_FIXED_LEN 18

static uint16_t
get16(const unsigned char *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t
get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* Expands the name at `at` into out (when not NULL) and sets *enclen to its
 * length in the message. Returns 0 or -1. */
static int
name_at(const unsigned char *msg, size_t len, const unsigned char *at,
        char *out, size_t outlen, long *enclen)
{
    if (at < msg || at >= msg + len || len > (size_t)INT32_MAX) {
        return -1;
    }
    char *s = NULL;
    if (ares_expand_name(at, msg, (int)len, &s, enclen) != ARES_SUCCESS) {
        return -1;
    }
    int rc = 0;
    if (out != NULL) {
        size_t n = strlen(s);
        if (n >= outlen) {
            rc = -1;
        } else {
            memcpy(out, s, n + 1);
        }
    }
    ares_free_string(s);
    return *enclen > 0 ? rc : -1;
}

/* Reads the EDE option out of OPT rdata (RFC 6891 6.1.2: code, length,
 * data, repeated). */
static void
read_ede(const unsigned char *rd, size_t rdlen, struct mh_dns_msg *m)
{
    size_t off = 0;
    while (rdlen - off >= 4) {
        uint16_t code = get16(rd + off), olen = get16(rd + off + 2);
        off += 4;
        if (olen > rdlen - off) {
            return;
        }
        if (code == EDNS_OPT_EDE && olen >= 2 && m->ede_code < 0) {
            m->ede_code = get16(rd + off);
            mh_text_escape_append(m->ede_text, sizeof m->ede_text, rd + off + 2,
                                  olen - 2U, true);
        }
        off += olen;
    }
}

int
mh_dns_parse(const unsigned char *msg, size_t len, struct mh_dns_msg *m)
{
    memset(m, 0, sizeof *m);
    m->ede_code = -1;
    if (msg == NULL || len < HEADER_LEN) {
        return -1;
    }
    m->id = get16(msg);
    m->qr = (msg[2] & 0x80) != 0;
    m->tc = (msg[2] & 0x02) != 0;
    m->ad = (msg[3] & 0x20) != 0;
    m->rcode = msg[3] & 0x0f;
    size_t qd = get16(msg + 4), an = get16(msg + 6), ns = get16(msg + 8),
           ar = get16(msg + 10);
    if (an > MH_DNS_MAX_RR) {
        return -1;
    }
    const unsigned char *p = msg + HEADER_LEN, *end = msg + len;
    long enc;
    for (size_t i = 0; i < qd; i++) {
        if (name_at(msg, len, p, i == 0 ? m->qname : NULL,
                    i == 0 ? sizeof m->qname : 0, &enc) != 0 ||
            end - p < enc + 4) {
            return -1;
        }
        if (i == 0) {
            m->qtype = get16(p + enc);
        }
        p += enc + 4; /* QTYPE, QCLASS */
    }
    for (size_t i = 0; i < an + ns + ar; i++) {
        char owner[MH_DNS_NAME_MAX];
        if (name_at(msg, len, p, owner, sizeof owner, &enc) != 0 ||
            end - p < enc + RR_FIXED_LEN) {
            return -1;
        }
        p += enc;
        uint16_t type = get16(p), rclass = get16(p + 2);
        uint32_t ttl = get32(p + 4);
        uint16_t rdlen = get16(p + 8);
        p += RR_FIXED_LEN;
        if (end - p < rdlen) {
            return -1;
        }
        if (i < an) {
            struct mh_dns_rr *rr = &m->an[m->nan++];
            memcpy(rr->owner, owner, sizeof rr->owner);
            rr->type = type;
            rr->rclass = rclass;
            rr->ttl = ttl;
            rr->rdata = p;
            rr->rdlen = rdlen;
        } else if (i >= an + ns && type == MH_DNS_T_OPT) {
            read_ede(p, rdlen, m);
        }
        p += rdlen;
    }
    return 0;
}

int
mh_dns_rdata_name(const unsigned char *msg, size_t len, const unsigned char *at,
                  char *out, size_t outlen)
{
    long enc;
    return name_at(msg, len, at, out, outlen, &enc);
}

int
mh_dns_tlsa_parse(const unsigned char *rdata, size_t rdlen,
                  struct mh_dns_tlsa *t)
{
    memset(t, 0, sizeof *t);
    if (rdata == NULL || rdlen < 4) {
        return -1;
    }
    t->usage = rdata[0];
    t->selector = rdata[1];
    t->mtype = rdata[2];
    t->data = rdata + 3;
    t->len = rdlen - 3;
    return 0;
}

int
mh_dns_rrsig_parse(const unsigned char *rdata, size_t rdlen,
                   struct mh_dns_rrsig *s)
{
    memset(s, 0, sizeof *s);
    /* The fixed part, a signer name (at least the root's 0 octet) and
     * one octet of signature. */
    if (rdata == NULL || rdlen < RRSIG_FIXED_LEN + 2) {
        return -1;
    }
    s->type_covered = get16(rdata);
    s->algorithm = rdata[2];
    s->labels = rdata[3];
    s->original_ttl = get32(rdata + 4);
    s->expiration = get32(rdata + 8);
    s->inception = get32(rdata + 12);
    s->key_tag = get16(rdata + 16);
    return 0;
}

double
mh_dns_sig_time(uint32_t ts, double now)
{
    /* RFC 1982 serial arithmetic: the difference to now's 32-bit value,
     * read as signed, puts ts within 2^31 seconds of now. */
    double base = now < 0 ? 0 : now;
    uint32_t now32 = (uint32_t)((uint64_t)base & 0xffffffffu);
    int64_t diff = (int64_t)(int32_t)(ts - now32);
    return (double)((int64_t)base + diff);
}

int
mh_dns_query_new(const char *name, int type, unsigned char **buf, int *len)
{
    unsigned char idb[2];
    if (RAND_bytes(idb, sizeof idb) != 1) {
        return -1;
    }
    unsigned short id = (unsigned short)(idb[0] << 8 | idb[1]);
    *buf = NULL;
    if (ares_create_query(name, 1 /* IN */, type, id, 1, buf, len, 1232) !=
            ARES_SUCCESS ||
        *buf == NULL || *len < HEADER_LEN + 11) {
        if (*buf != NULL) {
            ares_free_string(*buf);
            *buf = NULL;
        }
        return -1;
    }
    /* Header: AD in the second flags octet (RFC 6840 5.7). */
    (*buf)[3] |= 0x20;
    /* The OPT record ends the query: root name (1), TYPE (2), CLASS (2),
     * then TTL = extended RCODE, VERSION, flags; DO is the flags' top bit
     * (RFC 6891 6.1.3, RFC 3225 3). */
    unsigned char *opt = *buf + *len - 11;
    if (opt[0] != 0 || get16(opt + 1) != MH_DNS_T_OPT) {
        ares_free_string(*buf);
        *buf = NULL;
        return -1;
    }
    opt[7] |= 0x80;
    return 0;
}

void
mh_dns_query_free(unsigned char *buf)
{
    if (buf != NULL) {
        ares_free_string(buf);
    }
}
