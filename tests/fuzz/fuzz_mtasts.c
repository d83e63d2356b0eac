/* SPDX-License-Identifier: MIT */
/*
 * fuzz_mtasts: the MTA-STS and TLS-RPT parsers (probes/mtasts.c): the
 * _mta-sts TXT record, the _smtp._tls TXT record, the policy body, the MX
 * matching rules, and the verdict over a fetched body.
 *
 * Input: the first byte chooses the mode, the rest is the text (any bytes,
 * NUL included).
 *   0: an _mta-sts record (mh_sts_parse_record);
 *   1: a TLS-RPT record (mh_tlsrpt_parse_record);
 *   2: a policy body (mh_sts_parse_policy), and each of its patterns
 *      matched against a few host names;
 *   3: a policy body through the whole verdict (mh_sts_evaluate) with a
 *      record, two MX hosts, a memory, and the Nagios-relevant invariants.
 * Invariants: every error message is one line of printable ASCII; a valid
 * record's id is 1..32 letters and digits; a valid policy has a mode, a
 * max_age within the limit, at least one mx unless mode none, every kept
 * pattern re-parses as a one-line policy and matches itself with its
 * wildcard replaced by a label; the verdict's state and reason agree
 * (OK without reason, non-OK with a reason of category tls or none) and
 * every item's text is printable.
 */
#include <string.h>

#include "../../probes/mtasts.h"
#include "../../plugin/reports.h"
#include "fuzz.h"

static void
check_text(const char *s)
{
    for (const char *p = s; *p != '\0'; p++) {
        FUZZ_CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p <= 0x7e);
    }
}

static void
check_policy(const struct mh_sts_policy *p)
{
    FUZZ_CHECK(p->mode != MH_STS_MODE_UNKNOWN);
    FUZZ_CHECK(p->max_age <= MH_STS_MAX_AGE_LIMIT);
    FUZZ_CHECK(p->nmx <= MH_STS_PATTERNS_MAX && p->nmx <= p->nmx_seen);
    FUZZ_CHECK(p->nmx_seen > 0 || p->mode == MH_STS_MODE_NONE);
    for (size_t i = 0; i < p->nmx; i++) {
        const char *pat = p->mx[i];
        check_text(pat);
        char line[MH_STS_PATTERN_LEN + 80], err[300];
        int n = snprintf(line, sizeof line,
                         "version: STSv1\nmode: testing\nmax_age: 1\nmx: %s\n",
                         pat);
        struct mh_sts_policy again;
        FUZZ_CHECK(n > 0 && mh_sts_parse_policy(line, (size_t)n, &again, err,
                                                sizeof err) == 0);
        char host[MH_STS_PATTERN_LEN + 8];
        if (pat[0] == '*') {
            snprintf(host, sizeof host, "a%s", pat + 1);
            FUZZ_CHECK(mh_sts_mx_matches(pat, host));
            FUZZ_CHECK(!mh_sts_mx_matches(pat, pat + 2));
        } else {
            FUZZ_CHECK(mh_sts_mx_matches(pat, pat));
            snprintf(host, sizeof host, "%s.", pat);
            FUZZ_CHECK(mh_sts_mx_matches(pat, host));
        }
    }
}

static void
verdict(const char *body, size_t len)
{
    static unsigned char rec[] = "v=STSv1; id=fuzz1";
    struct mh_txt_record sts = {rec, sizeof rec - 1};
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return;
    }
    memcpy(copy, body, len);
    copy[len] = '\0';
    struct mh_sts_dns dns = {
        .sts_name = "_mta-sts.fuzz.test",
        .tlsrpt_name = "_smtp._tls.fuzz.test",
        .sts = {.name = "_mta-sts.fuzz.test",
                .status = MH_RESOLVE_OK,
                .recs = &sts,
                .nrecs = 1},
        .tlsrpt = {.name = "_smtp._tls.fuzz.test",
                   .status = MH_RESOLVE_NOTFOUND},
    };
    struct mh_sts_fetch f = {.status = MH_STS_FETCH_OK,
                             .url = "https://mta-sts.fuzz.test/x",
                             .body = copy,
                             .len = len};
    struct mh_sts_mx mx[2] = {
        {.host = "mx1.fuzz.test", .probed = 1, .verified = 1},
        {.host = "mx2.other.test",
         .probed = 1,
         .state = MH_STATE_CRITICAL,
         .reason = MH_REASON_CERT_EXPIRED,
         .detail = "expired"}};
    struct mh_sts_memory *m = mh_sts_memory_new();
    for (int round = 0; round < 2; round++) {
        struct mh_result *r = mh_result_new("mta-sts", "fuzz.test");
        if (r == NULL) {
            break;
        }
        struct mh_sts_inputs in = {.domain = "fuzz.test",
                                   .dns = &dns,
                                   .fetch = &f,
                                   .mx_known = true,
                                   .mx = mx,
                                   .nmx = 2,
                                   .mx_probed = true,
                                   .memory = m,
                                   .now = 1e9,
                                   .required = round == 0};
        mh_sts_evaluate(&in, r);
        mh_result_finish(r);
        if (!r->oom) {
            FUZZ_CHECK((r->state == MH_STATE_OK) ==
                       (r->reason == MH_REASON_NONE));
            FUZZ_CHECK(r->state == MH_STATE_OK ||
                       mh_reason_category(r->reason) == MH_CAT_TLS);
            FUZZ_CHECK(r->summary != NULL);
            check_text(r->summary);
            for (size_t i = 0; i < r->nitems; i++) {
                check_text(r->items[i].text);
            }
        }
        mh_result_free(r);
    }
    mh_sts_memory_free(m);
    free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    char err[300];
    switch (data[0] % 4) {
    case 0: {
        char id[MH_STS_ID_MAX + 1];
        enum mh_sts_txt t = mh_sts_parse_record(text, len, id, err, sizeof err);
        if (t == MH_STS_TXT_VALID) {
            size_t n = strlen(id);
            FUZZ_CHECK(n >= 1 && n <= MH_STS_ID_MAX);
            check_text(id);
        } else if (t == MH_STS_TXT_INVALID) {
            FUZZ_CHECK(err[0] != '\0');
            check_text(err);
        }
        break;
    }
    case 1: {
        size_t nrua = 0;
        enum mh_sts_txt t =
            mh_tlsrpt_parse_record(text, len, &nrua, err, sizeof err);
        FUZZ_CHECK(t != MH_STS_TXT_VALID || nrua >= 1);
        if (t == MH_STS_TXT_INVALID) {
            FUZZ_CHECK(err[0] != '\0');
            check_text(err);
        }
        break;
    }
    case 2: {
        struct mh_sts_policy p;
        if (mh_sts_parse_policy(text, len, &p, err, sizeof err) == 0) {
            check_policy(&p);
        } else {
            FUZZ_CHECK(err[0] != '\0');
            check_text(err);
        }
        break;
    }
    default:
        verdict(text, len);
        break;
    }
    return 0;
}
