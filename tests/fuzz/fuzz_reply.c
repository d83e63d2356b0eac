/* SPDX-License-Identifier: MIT */
/*
 * fuzz_reply: the SMTP reply parser (probes/reply.c mh_reply_feed,
 * mh_reply_format) and mh_text_printable.
 *
 * Input: any bytes, split at LF into lines (a CR before the LF is dropped,
 * as the transport does); every line is fed to one mh_reply, a new reply
 * starting after DONE or BAD. Invariants: the reply text is NUL-terminated
 * printable ASCII (plus '\n' between lines) within its buffer; a DONE reply
 * has a code 200..559 and at most MH_REPLY_MAX_LINES lines; the formatted
 * reply fits every buffer size, including 0 and 1.
 */
#include <string.h>

#include "fuzz.h"
#include "reply.h"
#include "result.h"

static void
check_text(const struct mh_reply *r)
{
    size_t n = strnlen(r->text, sizeof r->text);
    FUZZ_CHECK(n < sizeof r->text);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)r->text[i];
        FUZZ_CHECK(c == '\n' || (c >= 0x20 && c <= 0x7e));
    }
    FUZZ_CHECK(strnlen(r->enhanced, sizeof r->enhanced) < sizeof r->enhanced);
    FUZZ_CHECK(strnlen(r->error, sizeof r->error) < sizeof r->error);
}

static void
check_format(const struct mh_reply *r)
{
    static const size_t sizes[] = {1, 2, 4, 5, 8, 17, 80, 4096};
    char buf[4096 + 1];
    /* len 0 must not write at all. */
    buf[0] = 'x';
    mh_reply_format(r, buf, 0);
    FUZZ_CHECK(buf[0] == 'x');
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        memset(buf, 'Z', sizeof buf);
        mh_reply_format(r, buf, sizes[i]);
        size_t n = strnlen(buf, sizes[i]);
        FUZZ_CHECK(n < sizes[i]);
        FUZZ_CHECK(buf[sizes[i]] == 'Z');
        for (size_t k = 0; k < n; k++) {
            unsigned char c = (unsigned char)buf[k];
            FUZZ_CHECK(c >= 0x20 && c <= 0x7e);
        }
    }
}

static void
finish_reply(const struct mh_reply *r, enum mh_reply_status st)
{
    check_text(r);
    if (st == MH_REPLY_DONE) {
        FUZZ_CHECK(r->complete);
        FUZZ_CHECK(r->code >= 200 && r->code <= 559);
        FUZZ_CHECK(r->nlines >= 1 && r->nlines <= MH_REPLY_MAX_LINES);
        FUZZ_CHECK(r->inconsistent || r->code == r->first_code);
    } else if (st == MH_REPLY_BAD) {
        FUZZ_CHECK(r->error[0] != '\0');
    }
    check_format(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *end = p + size;
    struct mh_reply r;
    mh_reply_init(&r);
    enum mh_reply_status st = MH_REPLY_MORE;
    while (p < end) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        const char *le = lf != NULL ? lf : end;
        size_t len = (size_t)(le - p);
        if (len > 0 && p[len - 1] == '\r') {
            len--;
        }
        /* An exact-size copy: the parser must not read past len. */
        char *line = malloc(len > 0 ? len : 1);
        if (line == NULL) {
            return 0;
        }
        memcpy(line, p, len);
        size_t before = r.nlines;
        enum mh_reply_status fed = mh_reply_feed(&r, line, len);
        if (fed == MH_REPLY_SKIPPED) {
            /* Blank lines change nothing (RFC 5321 4.2 tolerance). */
            FUZZ_CHECK(r.nlines == before && r.error[0] == '\0');
            for (size_t i = 0; i < len; i++) {
                FUZZ_CHECK(line[i] == ' ' || line[i] == '\t');
            }
            free(line);
            p = lf != NULL ? lf + 1 : end;
            continue;
        }
        st = fed;
        char *printable = mh_text_printable(line, len);
        if (printable != NULL) {
            for (const char *q = printable; *q != '\0'; q++) {
                FUZZ_CHECK(*q >= 0x20 && *q <= 0x7e);
            }
            free(printable);
        }
        free(line);
        if (st != MH_REPLY_MORE) {
            finish_reply(&r, st);
            /* Feeding after the end is always an error. */
            FUZZ_CHECK(mh_reply_feed(&r, "250 ok", 6) == MH_REPLY_BAD);
            mh_reply_init(&r);
        }
        p = lf != NULL ? lf + 1 : end;
    }
    if (st == MH_REPLY_MORE) {
        finish_reply(&r, st);
    }
    return 0;
}
