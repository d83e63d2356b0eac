/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dnsmsg: the DNS message parser of DANE (probes/dnsmsg.c
 * mh_dns_parse, mh_dns_tlsa_parse, mh_dns_rrsig_parse, mh_dns_rdata_name)
 * and the TLSA answer reader (probes/dane.c mh_dane_answer_read).
 *
 * Input: one DNS message. Invariants: at most MH_DNS_MAX_RR answers, each
 * record's rdata inside the input; names and the EDE text NUL-terminated
 * (the EDE text printable ASCII); the reader keeps at most as many records
 * as the answer has, each with data, and its status is one of those a
 * TLSA answer can give (SECURE, INSECURE, SERVFAIL, FAILED).
 */
#include <string.h>

#include "dane.h"
#include "dnsmsg.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mh_dns_msg m;
    if (mh_dns_parse(data, size, &m) == 0) {
        FUZZ_CHECK(m.nan <= MH_DNS_MAX_RR);
        FUZZ_CHECK(strnlen(m.qname, sizeof m.qname) < sizeof m.qname);
        for (size_t i = 0; i < m.nan; i++) {
            const struct mh_dns_rr *rr = &m.an[i];
            FUZZ_CHECK(rr->rdata >= data &&
                       rr->rdata + rr->rdlen <= data + size);
            FUZZ_CHECK(strnlen(rr->owner, sizeof rr->owner) < sizeof rr->owner);
            struct mh_dns_tlsa t;
            if (mh_dns_tlsa_parse(rr->rdata, rr->rdlen, &t) == 0) {
                FUZZ_CHECK(t.len >= 1 && t.data + t.len <= data + size);
            }
            struct mh_dns_rrsig sig;
            (void)mh_dns_rrsig_parse(rr->rdata, rr->rdlen, &sig);
            char name[MH_DNS_NAME_MAX];
            if (rr->rdlen > 0 && mh_dns_rdata_name(data, size, rr->rdata, name,
                                                   sizeof name) == 0) {
                FUZZ_CHECK(strnlen(name, sizeof name) < sizeof name);
            }
        }
    }
    size_t n = strnlen(m.ede_text, sizeof m.ede_text);
    FUZZ_CHECK(n < sizeof m.ede_text);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(m.ede_text[i] >= 0x20 && m.ede_text[i] <= 0x7e);
    }

    /* The reader, asked for the name the message's question names. */
    static struct mh_dane_lookup lk;
    memset(&lk, 0, sizeof lk);
    memcpy(lk.qname, m.qname, sizeof m.qname);
    if (mh_dane_answer_read(&lk, data, size, 1.8e9) == 0) {
        FUZZ_CHECK(lk.status == MH_DANE_DNS_SECURE ||
                   lk.status == MH_DANE_DNS_INSECURE ||
                   lk.status == MH_DANE_DNS_SERVFAIL ||
                   lk.status == MH_DANE_DNS_FAILED);
        FUZZ_CHECK(lk.nrecs <= m.nan);
        for (size_t i = 0; i < lk.nrecs; i++) {
            FUZZ_CHECK(lk.recs[i].data != NULL && lk.recs[i].len >= 1);
        }
    }
    mh_dane_lookup_free(&lk);
    return 0;
}
