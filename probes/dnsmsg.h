/* SPDX-License-Identifier: MIT */
/*
 * dnsmsg: the parts of a DNS message (RFC 1035 4.1) that DANE needs and
 * c-ares 1.18 does not parse: the header flags (AD, RFC 4035 3.2.3;
 * RCODE), the answer section's records with their raw rdata, TLSA rdata
 * (RFC 6698 2.1), RRSIG rdata (RFC 4034 3.1) and the Extended DNS Error
 * option of the OPT record (RFC 8914). Names are expanded with c-ares'
 * ares_expand_name (compression pointers, RFC 1035 4.1.4). Also builds a
 * query with the AD bit (RFC 6840 5.7) and EDNS0's DO bit (RFC 3225) set.
 *
 * The message is hostile input: every length is checked against the
 * buffer, nothing is read past it, and a message that does not parse is
 * an error, never a partial answer taken for a whole one. Fuzzed by
 * tests/fuzz/fuzz_dnsmsg.c.
 */
#ifndef MH_DNSMSG_H
#define MH_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RR types used here (IANA DNS parameters). */
#define MH_DNS_T_CNAME 5
#define MH_DNS_T_MX 15
#define MH_DNS_T_OPT 41
#define MH_DNS_T_RRSIG 46
#define MH_DNS_T_TLSA 52
/* RCODEs (RFC 1035 4.1.1). */
#define MH_DNS_RCODE_NOERROR 0
#define MH_DNS_RCODE_SERVFAIL 2
#define MH_DNS_RCODE_NXDOMAIN 3
#define MH_DNS_RCODE_REFUSED 5

/* Longest presentation form of a name (RFC 1035 2.3.4: 255 octets). */
#define MH_DNS_NAME_MAX 256
/* Most answer records kept; the rest of a longer answer is an error. */
#define MH_DNS_MAX_RR 64

/* One record of the answer section. rdata points into the message. */
struct mh_dns_rr {
    char owner[MH_DNS_NAME_MAX]; /* presentation form, no final dot */
    uint16_t type;
    uint16_t rclass;
    uint32_t ttl;
    const unsigned char *rdata;
    uint16_t rdlen;
};

/* A parsed message: header facts, the answer records, the EDE option. */
struct mh_dns_msg {
    uint16_t id;
    int rcode; /* 0..15 (the header's; extended RCODEs ignored) */
    bool qr;   /* a response */
    bool tc;   /* truncated */
    bool ad;   /* Authentic Data: the resolver validated the answer */
    char qname[MH_DNS_NAME_MAX]; /* the first question's name ("" none) */
    uint16_t qtype;              /* ... and type */
    int ede_code;                /* RFC 8914 INFO-CODE, or -1: no EDE option */
    char ede_text[128]; /* EXTRA-TEXT, printable ASCII (\xNN escapes) */
    size_t nan;         /* records in an[] */
    struct mh_dns_rr an[MH_DNS_MAX_RR];
};

/*
 * Parses msg (len octets, as c-ares hands it to an ares_send callback):
 * the header, the question section (the first question's name and type
 * kept), the answer section into
 * m->an (owner names expanded), the authority section (skipped) and the
 * additional section, where only an OPT record's EDE option is read. The
 * rdata pointers point into msg. Returns 0, or -1 when the message is
 * malformed (short, a bad name, an rdata past the end, more than
 * MH_DNS_MAX_RR answers). m is written in every case.
 */
int mh_dns_parse(const unsigned char *msg, size_t len, struct mh_dns_msg *m);

/*
 * Expands the domain name in rdata that starts at `at` inside msg (CNAME
 * targets; compression allowed, RFC 3597 4) into out (presentation form,
 * no final dot). Returns 0, or -1 when it cannot be read or is too long.
 */
int mh_dns_rdata_name(const unsigned char *msg, size_t len,
                      const unsigned char *at, char *out, size_t outlen);

/* TLSA rdata (RFC 6698 2.1). data points into the message. */
struct mh_dns_tlsa {
    uint8_t usage;    /* 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE */
    uint8_t selector; /* 0 Cert, 1 SPKI */
    uint8_t mtype;    /* 0 Full, 1 SHA2-256, 2 SHA2-512 */
    const unsigned char *data;
    size_t len;
};

/* Parses TLSA rdata: at least 4 octets (3 fields and one octet of data;
 * RFC 6698 2.1 allows no empty association data). Returns 0 or -1. */
int mh_dns_tlsa_parse(const unsigned char *rdata, size_t rdlen,
                      struct mh_dns_tlsa *t);

/* RRSIG rdata (RFC 4034 3.1); the signer's name and signature are not
 * kept. */
struct mh_dns_rrsig {
    uint16_t type_covered;
    uint8_t algorithm;
    uint8_t labels;
    uint32_t original_ttl;
    uint32_t expiration; /* seconds since 1970, modulo 2^32 (3.1.5) */
    uint32_t inception;
    uint16_t key_tag;
};

/* Parses RRSIG rdata: the 18 fixed octets and at least a root signer name
 * and one octet of signature. Returns 0 or -1. */
int mh_dns_rrsig_parse(const unsigned char *rdata, size_t rdlen,
                       struct mh_dns_rrsig *s);

/*
 * The Unix time of an RRSIG timestamp (RFC 4034 3.1.5: serial number
 * arithmetic, RFC 1982): the time within 68 years of `now` that ts
 * stands for. Pure.
 */
double mh_dns_sig_time(uint32_t ts, double now);

/*
 * Builds a query for name/type (class IN) with RD, AD (RFC 6840 5.7: "the
 * answer is to be validated") and an EDNS0 OPT record with the DO bit
 * (RFC 3225: send the RRSIGs) and a UDP payload size of 1232 octets, via
 * ares_create_query. *buf is freed with mh_dns_query_free. Returns 0 or
 * -1 (bad name, no memory).
 */
int mh_dns_query_new(const char *name, int type, unsigned char **buf, int *len);
void mh_dns_query_free(unsigned char *buf);

#endif
