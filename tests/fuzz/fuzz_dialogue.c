/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dialogue: arbitrary server bytes through the transport seam into the
 * whole SMTP dialogue (probes/smtp.c mh_smtp_dialogue, with the line reader
 * of probes/transport.c), then through the three renderers.
 *
 * Input layout:
 *   byte 0  bits 0-1 TLS mode (1 STARTTLS, 2 implicit, else none);
 *           bit 2 AUTH; bits 3-4 mechanism (auto, PLAIN, LOGIN, CRAM-MD5);
 *           bit 5 envelope (MAIL FROM + two RCPT TO); bit 6 relay test;
 *           bit 7 STARTTLS optional and plaintext AUTH allowed
 *   byte 1  bits 0-1 what a read gets after the script (EOF, timeout,
 *           socket error, TLS error); bits 2-4 read size (all, 1, 2, 3, 7,
 *           64, 512, 4096 bytes); bits 5-6 --max-line-length (default, 100,
 *           2000, 100000: above the hard maximum)
 *   byte 2  bit 0 expect greeting 554; bit 1 -v trace on; bits 2-3 how
 *           the TLS handshake fails (TLS error, EOF, timeout, socket error)
 *   rest    the server's bytes; the separator "\xff\xff" splits them into
 *           segments, segment k becoming readable after the client's k-th
 *           write (so replies can depend on the dialogue's progress).
 * The fake handshake always fails (a real one needs OpenSSL objects).
 *
 * Invariants: the state is 0..3 with a category exactly when it is not OK;
 * the Nagios output has no control characters but line ends and at most
 * one '|', on line 1, and a bounded status line; the JSON output parses;
 * the Prometheus output is well-formed with escaped label values; the -v
 * trace is printable; and the password and its base64 forms (AUTH PLAIN's
 * and LOGIN's) appear in no output and no trace unless the server itself
 * sent them.
 */
#include <stdbool.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "fuzz.h"
#include "render.h"
#include "reports.h"
#include "result.h"
#include "smtp.h"
#include "transport.h"

#define FUZZ_USER "fuzzuser@example.net"
/* The password and its base64 forms start with a character that the
 * output's \xNN escapes cannot produce (not '\\', 'x' or a lower-case hex
 * digit), have mixed case (mechanism lists are upper-cased) and no ';' or
 * newline (reply lines are joined with them): so they can only appear in
 * output if the probe leaked them or the server sent them verbatim.
 * (A first version used "fuzz-...": the fuzzer found that a server byte
 * 0xff followed by "uzz-..." prints as "\xffuzz-...", a false alarm.) */
#define FUZZ_PASS "Zq7-Sekret!Word"
#define TRACE_MAX (1u << 20)

/* ====== The scripted transport (arbitrary bytes, NULs included) ====== */

struct seg {
    const char *data;
    size_t len;
};

struct fz {
    struct seg segs[64];
    size_t nsegs;
    size_t seg, off;
    size_t chunk;
    enum mh_io at_end, tls_fail;
    int writes;
};

static enum mh_io
fz_read(struct mh_transport *t, char *buf, size_t cap, size_t *got,
        const struct mh_deadline *dl)
{
    (void)dl;
    struct fz *f = t->impl;
    while (f->seg < f->nsegs && f->off >= f->segs[f->seg].len) {
        f->seg++;
        f->off = 0;
    }
    if (f->seg >= f->nsegs || (int)f->seg > f->writes) {
        snprintf(t->err, sizeof t->err, "fuzz: %s", mh_io_name(f->at_end));
        return f->at_end;
    }
    size_t len = f->segs[f->seg].len - f->off;
    if (f->chunk > 0 && len > f->chunk) {
        len = f->chunk;
    }
    if (len > cap) {
        len = cap;
    }
    FUZZ_CHECK(cap > 0);
    memcpy(buf, f->segs[f->seg].data + f->off, len);
    f->off += len;
    *got = len;
    return MH_IO_OK;
}

static enum mh_io
fz_write(struct mh_transport *t, const char *buf, size_t len,
         const struct mh_deadline *dl)
{
    (void)dl;
    struct fz *f = t->impl;
    /* Every command is one CRLF-terminated line (no pipelining). */
    FUZZ_CHECK(len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n');
    FUZZ_CHECK(memchr(buf, '\n', len - 1) == NULL);
    f->writes++;
    return MH_IO_OK;
}

static enum mh_io
fz_start_tls(struct mh_transport *t, const struct mh_tls_params *p,
             const struct mh_deadline *dl)
{
    (void)p;
    (void)dl;
    struct fz *f = t->impl;
    snprintf(t->err, sizeof t->err, "fuzz: handshake %s",
             mh_io_name(f->tls_fail));
    return f->tls_fail;
}

static void
fz_close(struct mh_transport *t)
{
    free(t->impl);
    t->impl = NULL;
}

static const struct mh_transport_ops fz_ops = {
    .read = fz_read,
    .write = fz_write,
    .start_tls = fz_start_tls,
    .close = fz_close,
};

/* ====== Trace capture ====== */

struct trace {
    char *buf;
    size_t len;
};

static void
trace_fn(void *arg, const char *dir, const char *line)
{
    struct trace *tr = arg;
    FUZZ_CHECK(dir != NULL && line != NULL);
    for (const char *p = line; *p != '\0'; p++) {
        FUZZ_CHECK(*p >= 0x20 && *p <= 0x7e);
    }
    size_t n = strlen(dir) + strlen(line) + 2;
    if (tr->len + n + 1 > TRACE_MAX) {
        return;
    }
    char *nb = realloc(tr->buf, tr->len + n + 1);
    if (nb == NULL) {
        return;
    }
    tr->buf = nb;
    tr->len += (size_t)snprintf(tr->buf + tr->len, n + 1, "%s %s\n", dir, line);
}

/* ====== Output checks ====== */

static bool
has(const char *hay, size_t hlen, const char *needle)
{
    return hay != NULL && memmem(hay, hlen, needle, strlen(needle)) != NULL;
}

static void
check_nagios(const char *out, size_t len)
{
    FUZZ_CHECK(len > 0 && out[len - 1] == '\n');
    FUZZ_CHECK(strncmp(out, "MAILHEALTH ", 11) == 0);
    const char *nl = memchr(out, '\n', len);
    size_t line1 = (size_t)(nl - out);
    size_t pipes = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];
        FUZZ_CHECK(c == '\n' || (c >= 0x20 && c != 0x7f));
        if (c == '|') {
            FUZZ_CHECK(i < line1);
            pipes++;
        }
    }
    FUZZ_CHECK(pipes <= 1);
    const char *bar = memchr(out, '|', line1);
    size_t status = bar != NULL ? (size_t)(bar - out) : line1;
    FUZZ_CHECK(status <= 512);
}

/* A Prometheus label value: escapes \\ \" \n only, ends at an unescaped
 * quote. Returns the position after the closing quote or NULL. */
static const char *
prom_value(const char *p, const char *end)
{
    while (p < end) {
        if (*p == '"') {
            return p + 1;
        }
        if (*p == '\\') {
            FUZZ_CHECK(p + 1 < end &&
                       (p[1] == '\\' || p[1] == '"' || p[1] == 'n'));
            p += 2;
            continue;
        }
        FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
        p++;
    }
    return NULL;
}

static bool
name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == ':' || (!first && c >= '0' && c <= '9');
}

static void
check_prometheus(const char *out, size_t len)
{
    FUZZ_CHECK(len > 0 && out[len - 1] == '\n');
    const char *p = out, *end = out + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        FUZZ_CHECK(nl != NULL);
        if (*p != '#') {
            const char *q = p;
            FUZZ_CHECK(name_char(*q, true));
            while (q < nl && name_char(*q, false)) {
                q++;
            }
            if (q < nl && *q == '{') {
                q++;
                while (q < nl && *q != '}') {
                    FUZZ_CHECK(name_char(*q, true));
                    while (q < nl && name_char(*q, false)) {
                        q++;
                    }
                    FUZZ_CHECK(q + 1 < nl && q[0] == '=' && q[1] == '"');
                    q = prom_value(q + 2, nl);
                    FUZZ_CHECK(q != NULL);
                    if (q < nl && *q == ',') {
                        q++;
                    }
                }
                FUZZ_CHECK(q < nl && *q == '}');
                q++;
            }
            FUZZ_CHECK(q < nl && *q == ' ' && q + 1 < nl);
        }
        p = nl + 1;
    }
}

static void
check_json(const char *out, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(out, len);
    FUZZ_CHECK(j != NULL);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "exit_code");
    FUZZ_CHECK(cJSON_IsNumber(code) && code->valuedouble >= 0 &&
               code->valuedouble <= 3);
    cJSON_Delete(j);
}

/* Renders r in every format; checks each and the secrets in it. */
static void
render_all(const struct mh_result *r, const uint8_t *in, size_t inlen,
           const char *const *secrets, size_t nsecrets)
{
    /* MH_FUZZ_PRINT=1: show every rendering (to read what an input does). */
    const char *pe = getenv("MH_FUZZ_PRINT");
    bool print = pe != NULL && pe[0] == '1';
    for (int fmt = 0; fmt < 3; fmt++) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        if (f == NULL) {
            return;
        }
        int rc;
        if (fmt == 0) {
            rc = mh_render_nagios(f, r);
        } else if (fmt == 1) {
            rc = mh_render_json(f, r);
        } else {
            const struct mh_result *one[] = {r};
            rc = mh_render_prometheus(f, one, 1, 1700000000.0, -1);
        }
        fclose(f);
        if (rc == 0) {
            if (print) {
                fprintf(stderr, "%.*s", (int)len, out);
            }
            if (fmt == 0) {
                check_nagios(out, len);
            } else if (fmt == 1) {
                check_json(out, len);
            } else {
                check_prometheus(out, len);
            }
            for (size_t i = 0; i < nsecrets; i++) {
                FUZZ_CHECK(has((const char *)in, inlen, secrets[i]) ||
                           !has(out, len, secrets[i]));
            }
        }
        free(out);
    }
}

static void
b64(const char *in, size_t len, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t chunks[] = {0, 1, 2, 3, 7, 64, 512, 4096};
    static const size_t max_lines[] = {0, 100, 2000, 100000};
    static const enum mh_io ends[] = {MH_IO_EOF, MH_IO_TIMEOUT, MH_IO_ERROR,
                                      MH_IO_TLS};
    static const char *const rcpts[] = {"a@example.net", "b@example.net"};
    if (size < 3) {
        return 0;
    }
    const uint8_t o0 = data[0], o1 = data[1], o2 = data[2];

    struct fz *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return 0;
    }
    f->at_end = ends[o1 & 3];
    f->chunk = chunks[(o1 >> 2) & 7];
    f->tls_fail = ends[(o2 >> 2) & 3];
    const char *p = (const char *)data + 3, *end = (const char *)data + size;
    while (f->nsegs < sizeof f->segs / sizeof f->segs[0]) {
        const char *sep = memmem(p, (size_t)(end - p), "\xff\xff", 2);
        if (sep == NULL || f->nsegs + 1 == sizeof f->segs / sizeof f->segs[0]) {
            f->segs[f->nsegs++] = (struct seg){p, (size_t)(end - p)};
            break;
        }
        f->segs[f->nsegs++] = (struct seg){p, (size_t)(sep - p)};
        p = sep + 2;
    }
    struct mh_transport *t = mh_transport_new(&fz_ops, f);
    if (t == NULL) {
        return 0;
    }

    struct trace tr = {NULL, 0};
    struct mh_smtp_params sp;
    memset(&sp, 0, sizeof sp);
    sp.host = "mx.example.com";
    sp.port = 25;
    sp.ehlo_name = "probe.example.net";
    sp.tls_mode = (o0 & 3) == 1   ? MH_TLS_STARTTLS
                  : (o0 & 3) == 2 ? MH_TLS_IMPLICIT
                                  : MH_TLS_NONE;
    if (o0 & 4) {
        static const unsigned mechs[] = {0, MH_MECH_PLAIN, MH_MECH_LOGIN,
                                         MH_MECH_CRAM_MD5};
        sp.auth_user = FUZZ_USER;
        sp.auth_password = FUZZ_PASS;
        sp.auth_mech = mechs[(o0 >> 3) & 3];
    }
    if (o0 & 0x20) {
        sp.mail_from = "probe@example.net";
        sp.rcpt_to = rcpts;
        sp.nrcpt = 2;
    }
    if (o0 & 0x40) {
        sp.relay_test = "x@foreign.example";
    }
    sp.starttls_optional = sp.allow_plaintext_auth = (o0 & 0x80) != 0;
    sp.max_line = max_lines[(o1 >> 5) & 3];
    sp.expect_greeting = (o2 & 1) ? 554 : 0;
    if (o2 & 2) {
        sp.trace = trace_fn;
        sp.trace_arg = &tr;
    }

    struct mh_deadline dl;
    mh_deadline_start(&dl, 10);
    struct mh_result *r = mh_result_new("smtp", "mx.example.com:25");
    if (r == NULL) {
        mh_transport_free(t);
        return 0;
    }
    struct mh_smtp_report rep;
    mh_smtp_dialogue(t, &sp, &dl, "mx.example.com[192.0.2.10]:25", &rep);
    mh_smtp_dialogue_render(&rep, "mx.example.com[192.0.2.10]:25", r);
    mh_smtp_report_clear(&rep);
    mh_result_finish(r);
    FUZZ_CHECK(r->state >= MH_STATE_OK && r->state <= MH_STATE_UNKNOWN);
    FUZZ_CHECK((r->state == MH_STATE_OK) == (r->category == MH_CAT_NONE) ||
               r->state == MH_STATE_UNKNOWN);
    FUZZ_CHECK(r->summary != NULL);

    /* The secret and what it looks like on the wire. */
    char plain_raw[128], b64_plain[200], b64_pass[64];
    size_t ul = strlen(FUZZ_USER), pl = strlen(FUZZ_PASS);
    plain_raw[0] = '\0';
    memcpy(plain_raw + 1, FUZZ_USER, ul);
    plain_raw[1 + ul] = '\0';
    memcpy(plain_raw + 2 + ul, FUZZ_PASS, pl);
    b64(plain_raw, ul + pl + 2, b64_plain);
    b64(FUZZ_PASS, pl, b64_pass);
    const char *secrets[] = {FUZZ_PASS, b64_plain, b64_pass};
    size_t nsecrets = sizeof secrets / sizeof secrets[0];
    /* What the server sent, without the segment separators (a secret split
     * by a separator is still the server's; found by the fuzzer). */
    uint8_t *sent = malloc(size);
    size_t slen = 0;
    if (sent == NULL) {
        free(tr.buf);
        mh_result_free(r);
        mh_transport_free(t);
        return 0;
    }
    for (size_t i = 0; i < f->nsegs; i++) {
        memcpy(sent + slen, f->segs[i].data, f->segs[i].len);
        slen += f->segs[i].len;
    }
    for (size_t i = 0; i < nsecrets; i++) {
        FUZZ_CHECK(has((const char *)sent, slen, secrets[i]) ||
                   !has(tr.buf, tr.len, secrets[i]));
    }
    render_all(r, sent, slen, secrets, nsecrets);
    free(sent);
    if (tr.buf != NULL && getenv("MH_FUZZ_PRINT") != NULL) {
        fprintf(stderr, "%s", tr.buf);
    }

    free(tr.buf);
    mh_result_free(r);
    mh_transport_free(t);
    return 0;
}
