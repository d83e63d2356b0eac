/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ehlo: the EHLO capability parser (probes/reply.c mh_ehlo_parse).
 *
 * Input: any bytes. Two ways in:
 *  1. as a server would send it: every input line (split at LF) becomes
 *     "250-LINE", the last one "250 LINE", fed through mh_reply_feed, so
 *     the parser sees exactly what the dialogue gives it;
 *  2. the input copied straight into mh_reply.text (NUL-terminated, cut to
 *     its size), bypassing the reply parser's escaping, so the capability
 *     parser is also exercised on bytes the reply parser would never pass.
 * Invariants: mech_list is NUL-terminated inside its buffer and holds only
 * upper-case printable words separated by single spaces; the mechanism bits
 * agree with the list; no unknown bits are set.
 */
#include <string.h>

#include "fuzz.h"
#include "reply.h"

static void
check_caps(const struct mh_ehlo_caps *c)
{
    const unsigned all_ext = MH_EXT_STARTTLS | MH_EXT_AUTH | MH_EXT_SIZE |
                             MH_EXT_PIPELINING | MH_EXT_8BITMIME |
                             MH_EXT_SMTPUTF8 | MH_EXT_ENHANCEDSTATUSCODES |
                             MH_EXT_CHUNKING;
    const unsigned all_mech = MH_MECH_PLAIN | MH_MECH_LOGIN | MH_MECH_CRAM_MD5;
    FUZZ_CHECK((c->ext & ~all_ext) == 0);
    FUZZ_CHECK((c->mechs & ~all_mech) == 0);
    /* Mechanisms are only parsed from an AUTH line. */
    FUZZ_CHECK(c->mechs == 0 || (c->ext & MH_EXT_AUTH) != 0);
    size_t n = strnlen(c->mech_list, sizeof c->mech_list);
    FUZZ_CHECK(n < sizeof c->mech_list);
    if (n > 0) {
        FUZZ_CHECK(c->mech_list[0] != ' ' && c->mech_list[n - 1] != ' ');
    }
    for (size_t i = 0; i < n; i++) {
        char ch = c->mech_list[i];
        FUZZ_CHECK(!(ch >= 'a' && ch <= 'z'));
        FUZZ_CHECK(ch != '\n' && ch != '\0');
        FUZZ_CHECK(!(ch == ' ' && i > 0 && c->mech_list[i - 1] == ' '));
    }
}

/* Feeds the input as the lines of a 250 reply. */
static void
as_reply(const uint8_t *data, size_t size)
{
    struct mh_reply r;
    mh_reply_init(&r);
    const char *p = (const char *)data, *end = p + size;
    enum mh_reply_status st = MH_REPLY_MORE;
    while (st == MH_REPLY_MORE) {
        const char *lf = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        const char *le = lf != NULL ? lf : end;
        size_t len = (size_t)(le - p);
        if (len > MH_REPLY_LINE_HARD_MAX) {
            len = MH_REPLY_LINE_HARD_MAX;
        }
        char line[MH_REPLY_LINE_HARD_MAX + 8];
        memcpy(line, lf == NULL ? "250 " : "250-", 4);
        memcpy(line + 4, p, len);
        st = mh_reply_feed(&r, line, len + 4);
        if (lf == NULL) {
            break;
        }
        p = lf + 1;
    }
    struct mh_ehlo_caps caps;
    mh_ehlo_parse(&r, &caps);
    check_caps(&caps);
}

/* Copies the input straight into the reply text. */
static void
as_text(const uint8_t *data, size_t size)
{
    struct mh_reply r;
    mh_reply_init(&r);
    size_t n = size < sizeof r.text - 1 ? size : sizeof r.text - 1;
    memcpy(r.text, data, n);
    r.text[n] = '\0';
    r.code = 250;
    r.complete = true;
    struct mh_ehlo_caps caps;
    memset(&caps, 0xa5, sizeof caps); /* parse must reset everything */
    mh_ehlo_parse(&r, &caps);
    check_caps(&caps);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_reply(data, size);
    as_text(data, size);
    return 0;
}
