/* SPDX-License-Identifier: MIT */
/*
 * fuzz_classify: the reply classifier (probes/reply_rules.c: the rule
 * table, mh_reply_classify, mh_words_match, mh_enhanced_match).
 *
 * Input: byte 0 selects the phase (any value, also out of range), bytes 1-2
 * the reply code (0..65535, so also codes no parser would produce), then
 * the enhanced status code up to the first NUL (at most 15 bytes, as in
 * struct mh_reply), then the text (NUL-terminated copy of the rest).
 * Invariants (the default state policy, reply_rules.h): codes below 400 are OK
 * without category and without rule; 4xx is WARNING (CRITICAL only where
 * the matching rule says so) and 5xx and above CRITICAL, always with one
 * of the seven categories and the rule's reason and id; AUTH-phase
 * failures are auth, STARTTLS and handshake failures tls; an X.1.x or
 * X.2.x code is never a blocklist whatever the text; mh_phase_name never
 * returns NULL.
 */
#include <string.h>

#include "fuzz.h"
#include "reply.h"
#include "reply_rules.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) {
        return 0;
    }
    enum mh_phase phase = (enum mh_phase)(data[0] % (MH_PHASE_LAST + 2));
    int code = (int)data[1] << 8 | (int)data[2];
    if (data[0] & 0x80) {
        code %= 1000; /* mostly plausible codes */
    }
    data += 3;
    size -= 3;

    char enhanced[16];
    size_t el = 0;
    while (el < size && el < sizeof enhanced - 1 && data[el] != '\0') {
        enhanced[el] = (char)data[el];
        el++;
    }
    enhanced[el] = '\0';
    if (el < size && data[el] == '\0') {
        el++;
    }
    size_t tl = size - el;
    char *text = malloc(tl + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data + el, tl);
    text[tl] = '\0';

    enum mh_state st = MH_STATE_UNKNOWN;
    enum mh_reason reason = MH_REASON_LAST;
    const char *id =
        mh_reply_classify(phase, code, enhanced, text, &st, &reason);
    const struct mh_reply_rule *rule =
        mh_reply_rule_match(phase, code, enhanced, text);
    enum mh_category cat = mh_reason_category(reason);
    FUZZ_CHECK(mh_phase_name(phase) != NULL);
    FUZZ_CHECK(reason < MH_REASON_LAST);
    FUZZ_CHECK(id != NULL);
    if (code < 400) {
        FUZZ_CHECK(st == MH_STATE_OK && reason == MH_REASON_NONE);
        FUZZ_CHECK(rule == NULL && id[0] == '\0');
    } else {
        FUZZ_CHECK(rule != NULL && strcmp(rule->id, id) == 0);
        FUZZ_CHECK(reason == rule->reason && reason != MH_REASON_NONE);
        FUZZ_CHECK(st == (code >= 500 || rule->state == MH_RULE_CRITICAL
                              ? MH_STATE_CRITICAL
                              : MH_STATE_WARNING));
        if (mh_enhanced_match(enhanced, "X.1.*,X.2.*")) {
            FUZZ_CHECK(cat != MH_CAT_BLACKLIST);
        }
        FUZZ_CHECK(cat > MH_CAT_NONE && cat < MH_CAT_LAST);
        if (phase == MH_PHASE_AUTH) {
            FUZZ_CHECK(cat == MH_CAT_AUTH);
        }
        if (phase == MH_PHASE_STARTTLS || phase == MH_PHASE_TLS_HANDSHAKE) {
            FUZZ_CHECK(cat == MH_CAT_TLS);
        }
    }
    /* The same text with an empty or NULL enhanced code, and NULL text. */
    mh_reply_classify(phase, code, "", text, &st, &reason);
    mh_reply_classify(phase, code, NULL, NULL, &st, &reason);
    cat = mh_reason_category(reason);
    FUZZ_CHECK(code < 400 || (cat > MH_CAT_NONE && cat < MH_CAT_LAST));
    /* The matcher on the raw text as a phrase list, and on NULL. */
    (void)mh_words_match(text, text);
    (void)mh_words_match(text, "rbl|listed|blocked using");
    (void)mh_words_match(NULL, "x");
    (void)mh_enhanced_match(enhanced, text);
    (void)mh_codes_match(code, text);
    free(text);
    return 0;
}
