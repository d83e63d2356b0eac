/* SPDX-License-Identifier: MIT */
/*
 * mtasts: the MTA-STS and TLS-RPT records, the policy parser, the MX
 * matching rules and the memory of policies seen (see mtasts.h; the HTTPS
 * fetch is mtasts_fetch.c, the verdict mtasts_report.c; the plugin renders
 * it, plugin/report_mtasts.c).
 */
#include "mtasts.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "atomicfile.h"
#include "textutil.h"

const char *
mh_sts_mode_name(enum mh_sts_mode mode)
{
    switch (mode) {
    case MH_STS_MODE_ENFORCE:
        return "enforce";
    case MH_STS_MODE_TESTING:
        return "testing";
    case MH_STS_MODE_NONE:
        return "none";
    case MH_STS_MODE_UNKNOWN:
    default:
        return "unknown";
    }
}

/* ====== Small lexical helpers ====== */

static bool
is_wsp(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static bool
is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* Writes "what 'escaped text'" into err: the offending text quoted,
 * escaped and cut to a readable length. */
static void
fail_at(char *err, size_t errlen, const char *what, const void *text,
        size_t len)
{
    char q[80] = "";
    mh_text_escape_append(q, sizeof q, text, len, true);
    mh_textf(err, errlen, "%s '%s'", what, q);
}

/* An extension name of RFC 8461 3.1 / 3.2 and RFC 8460 3: a letter or
 * digit, then up to 31 letters, digits, "_", "-", ".". */
static bool
ext_name_ok(const unsigned char *s, size_t len)
{
    if (len == 0 || len > 32 || !is_alnum(s[0])) {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.') {
            return false;
        }
    }
    return true;
}

/* A TXT extension value: 1*(%x21-3A / %x3C / %x3E-7E). */
static bool
ext_value_ok(const unsigned char *s, size_t len)
{
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ';' || s[i] == '=') {
            return false;
        }
    }
    return true;
}

/* ====== TXT records (RFC 8461 3.1, RFC 8460 3) ====== */

/*
 * Walks a record of the common shape of RFC 8461 3.1 and RFC 8460 3: the
 * version tag, then fields "name=value" separated by *WSP ";" *WSP, an
 * optional trailing delimiter. Exactly one field must be named key; its
 * value goes to value() (0, or -1 with err set); every other field must
 * have an extension's syntax. rfc names the section for messages. Returns
 * MH_STS_TXT_OTHER when the record does not start with tag, else VALID or
 * INVALID (err says why).
 */
static enum mh_sts_txt
walk_record(const void *txt, size_t len, const char *tag, const char *key,
            int (*value)(void *ctx, const unsigned char *v, size_t vlen,
                         char *err, size_t errlen),
            void *ctx, const char *rfc, char *err, size_t errlen)
{
    const unsigned char *s = txt;
    size_t tl = strlen(tag), kl = strlen(key);
    if (len < tl || memcmp(s, tag, tl) != 0 ||
        (len > tl && s[tl] != ';' && !is_wsp(s[tl]))) {
        return MH_STS_TXT_OTHER;
    }
    size_t i = tl;
    bool seen = false;
    for (;;) {
        /* field delimiter: *WSP ";" *WSP */
        while (i < len && is_wsp(s[i])) {
            i++;
        }
        if (i == len) {
            break;
        }
        if (s[i] != ';') {
            fail_at(err, errlen, "expected ';' before", s + i, len - i);
            return MH_STS_TXT_INVALID;
        }
        i++;
        while (i < len && is_wsp(s[i])) {
            i++;
        }
        if (i == len) {
            break; /* a trailing delimiter is allowed */
        }
        size_t start = i;
        while (i < len && s[i] != '=' && s[i] != ';' && !is_wsp(s[i])) {
            i++;
        }
        size_t nlen = i - start;
        if (i == len || s[i] != '=') {
            fail_at(err, errlen, "field without '=':", s + start, nlen);
            return MH_STS_TXT_INVALID;
        }
        i++;
        size_t vstart = i;
        while (i < len && s[i] != ';' && !is_wsp(s[i])) {
            i++;
        }
        if (nlen == kl && memcmp(s + start, key, kl) == 0) {
            if (seen) {
                mh_textf(err, errlen, "more than one %s field", key);
                return MH_STS_TXT_INVALID;
            }
            seen = true;
            if (value(ctx, s + vstart, i - vstart, err, errlen) != 0) {
                return MH_STS_TXT_INVALID;
            }
        } else if (!ext_name_ok(s + start, nlen) ||
                   !ext_value_ok(s + vstart, i - vstart)) {
            fail_at(err, errlen, "invalid field", s + start, i - start);
            return MH_STS_TXT_INVALID;
        }
    }
    if (!seen) {
        mh_textf(err, errlen, "no %s field (%s)", key, rfc);
        return MH_STS_TXT_INVALID;
    }
    return MH_STS_TXT_VALID;
}

/* The id of an _mta-sts record: 1 to 32 letters and digits. */
static int
sts_id(void *ctx, const unsigned char *v, size_t vlen, char *err, size_t errlen)
{
    bool ok = vlen >= 1 && vlen <= MH_STS_ID_MAX;
    for (size_t i = 0; ok && i < vlen; i++) {
        ok = is_alnum(v[i]);
    }
    if (!ok) {
        fail_at(err, errlen,
                "id must be 1 to 32 letters and digits (RFC 8461 3.1):", v,
                vlen);
        return -1;
    }
    memcpy(ctx, v, vlen);
    ((char *)ctx)[vlen] = '\0';
    return 0;
}

enum mh_sts_txt
mh_sts_parse_record(const void *txt, size_t len, char *id, char *err,
                    size_t errlen)
{
    char idbuf[MH_STS_ID_MAX + 1] = "";
    err[0] = '\0';
    enum mh_sts_txt rc = walk_record(txt, len, "v=STSv1", "id", sts_id, idbuf,
                                     "RFC 8461 3.1", err, errlen);
    if (rc == MH_STS_TXT_VALID) {
        memcpy(id, idbuf, sizeof idbuf);
    }
    return rc;
}

/* RFC 3986 characters a TLS-RPT URI may hold: unreserved, reserved except
 * "," and "!" (RFC 8460 3 requires them percent-encoded) and ";" (the
 * field delimiter), and "%" of an escape. */
static bool
uri_char_ok(unsigned char c)
{
    return is_alnum(c) || strchr("-._~:/?#[]@$&'()*+=%", c) != NULL;
}

/* An RFC 1035/5321 domain: labels of letters, digits and hyphens, no
 * hyphen at either end, 1..63 octets each, 253 in all. */
static bool
domain_ok(const unsigned char *s, size_t len)
{
    if (len == 0 || len > 253) {
        return false;
    }
    size_t lab = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (lab == 0 || lab > 63 || s[i - 1] == '-' || s[i - lab] == '-') {
                return false;
            }
            lab = 0;
            continue;
        }
        if (!is_alnum(s[i]) && s[i] != '-') {
            return false;
        }
        lab++;
    }
    return true;
}

/* One rua URI: "mailto:local@domain[?...]" or "https://host[:port][/...]".
 * Returns 0 or -1 with err set. */
static int
rua_uri_ok(const unsigned char *u, size_t len, char *err, size_t errlen)
{
    for (size_t i = 0; i < len; i++) {
        if (!uri_char_ok(u[i]) ||
            (u[i] == '%' &&
             (i + 2 >= len || !isxdigit(u[i + 1]) || !isxdigit(u[i + 2])))) {
            fail_at(err, errlen,
                    "rua URI with a character that must be percent-encoded "
                    "(RFC 8460 3):",
                    u, len);
            return -1;
        }
    }
    if (len > 7 && strncasecmp((const char *)u, "mailto:", 7) == 0) {
        const unsigned char *a = u + 7;
        size_t al = len - 7;
        const unsigned char *q = memchr(a, '?', al);
        if (q != NULL) {
            al = (size_t)(q - a);
        }
        const unsigned char *at = memchr(a, '@', al);
        if (at == NULL || at == a ||
            !domain_ok(at + 1, al - (size_t)(at + 1 - a))) {
            fail_at(err, errlen, "rua mailto: URI without a valid address:", u,
                    len);
            return -1;
        }
        return 0;
    }
    if (len > 8 && strncasecmp((const char *)u, "https://", 8) == 0) {
        const unsigned char *h = u + 8;
        size_t hl = 0;
        while (8 + hl < len && h[hl] != '/' && h[hl] != ':' && h[hl] != '?' &&
               h[hl] != '#') {
            hl++;
        }
        bool ip6 = hl > 2 && h[0] == '[' && h[hl - 1] == ']';
        if (!ip6 && !domain_ok(h, hl)) {
            fail_at(err, errlen, "rua https: URI without a valid host:", u,
                    len);
            return -1;
        }
        return 0;
    }
    fail_at(err, errlen,
            "rua URI is neither mailto: nor https: (RFC 8460 3):", u, len);
    return -1;
}

/* The rua value of a TLS-RPT record: URIs separated by ","
 * (squeeze_rua_spaces removed the spaces around them). *ctx counts them. */
static int
rpt_rua(void *ctx, const unsigned char *v, size_t vlen, char *err,
        size_t errlen)
{
    size_t *nrua = ctx;
    size_t i = 0;
    while (i <= vlen) {
        size_t start = i;
        while (i < vlen && v[i] != ',') {
            i++;
        }
        if (i == start) {
            mh_textf(err, errlen, "empty URI in rua");
            return -1;
        }
        if (rua_uri_ok(v + start, i - start, err, errlen) != 0) {
            return -1;
        }
        (*nrua)++;
        i++;
    }
    return 0;
}

/* RFC 8460 3 allows spaces around the commas of rua; walk_record ends a
 * value at a space, so those spaces are removed first (into buf). */
static size_t
squeeze_rua_spaces(const unsigned char *s, size_t len, unsigned char *buf)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_wsp(s[i])) {
            size_t j = i;
            while (j < len && is_wsp(s[j])) {
                j++;
            }
            bool before_comma = j < len && s[j] == ',';
            bool after_comma = o > 0 && buf[o - 1] == ',';
            if (before_comma || after_comma) {
                i = j - 1;
                continue;
            }
        }
        buf[o++] = s[i];
    }
    return o;
}

enum mh_sts_txt
mh_tlsrpt_parse_record(const void *txt, size_t len, size_t *nrua, char *err,
                       size_t errlen)
{
    size_t n = 0;
    err[0] = '\0';
    *nrua = 0;
    unsigned char *buf = malloc(len > 0 ? len : 1);
    if (buf == NULL) {
        mh_textf(err, errlen, "out of memory");
        return MH_STS_TXT_INVALID;
    }
    size_t blen = squeeze_rua_spaces(txt, len, buf);
    enum mh_sts_txt rc = walk_record(buf, blen, "v=TLSRPTv1", "rua", rpt_rua,
                                     &n, "RFC 8460 3", err, errlen);
    free(buf);
    if (rc == MH_STS_TXT_VALID) {
        *nrua = n;
    }
    return rc;
}

/* ====== The policy (RFC 8461 3.2) ====== */

/* An mx value: ["*."] Domain. */
static bool
pattern_ok(const unsigned char *v, size_t len)
{
    if (len >= 2 && v[0] == '*' && v[1] == '.') {
        v += 2;
        len -= 2;
    }
    return domain_ok(v, len);
}

static bool
key_is(const unsigned char *k, size_t kl, const char *name)
{
    return kl == strlen(name) && memcmp(k, name, kl) == 0;
}

/* Splits one "key: value" line (without its line end) into the key and
 * the value without surrounding white space, checked as RFC 8461 3.2
 * writes them (sts-policy-ext-name, sts-policy-vchar, not empty). Returns
 * 0 or -1 with the message (prefixed with where). */
static int
split_line(const unsigned char *s, size_t len, const char *where, size_t *kl,
           const unsigned char **v, size_t *vl, char *err, size_t errlen)
{
    char what[64];
    const unsigned char *colon = memchr(s, ':', len);
    if (colon == NULL) {
        mh_textf(what, sizeof what, "%s not a 'key: value' line", where);
        fail_at(err, errlen, what, s, len);
        return -1;
    }
    *kl = (size_t)(colon - s);
    if (!ext_name_ok(s, *kl)) {
        mh_textf(what, sizeof what, "%s invalid key", where);
        fail_at(err, errlen, what, s, *kl);
        return -1;
    }
    *v = colon + 1;
    *vl = len - *kl - 1;
    while (*vl > 0 && is_wsp((*v)[0])) {
        (*v)++;
        (*vl)--;
    }
    while (*vl > 0 && is_wsp((*v)[*vl - 1])) {
        (*vl)--;
    }
    for (size_t i = 0; i < *vl; i++) {
        /* sts-policy-vchar: VCHAR, UTF-8 beyond ASCII, inner spaces. */
        unsigned char c = (*v)[i];
        if (c < 0x20 ? c != '\t' : c == 0x7f) {
            mh_textf(what, sizeof what, "%s control character in", where);
            fail_at(err, errlen, what, s, len);
            return -1;
        }
    }
    if (*vl == 0) {
        mh_textf(what, sizeof what, "%s empty value of", where);
        fail_at(err, errlen, what, s, *kl);
        return -1;
    }
    return 0;
}

/* The value of "mode": enforce, testing or none. Returns 0 or -1. */
static int
take_mode(const unsigned char *v, size_t vl, const char *where,
          struct mh_sts_policy *p, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        enum mh_sts_mode mode;
    } modes[] = {{"enforce", MH_STS_MODE_ENFORCE},
                 {"testing", MH_STS_MODE_TESTING},
                 {"none", MH_STS_MODE_NONE}};
    p->mode = MH_STS_MODE_UNKNOWN;
    for (size_t m = 0; m < 3; m++) {
        if (vl == strlen(modes[m].name) && memcmp(v, modes[m].name, vl) == 0) {
            p->mode = modes[m].mode;
        }
    }
    if (p->mode == MH_STS_MODE_UNKNOWN) {
        char what[80];
        mh_textf(what, sizeof what,
                 "%s mode is not enforce, testing or none:", where);
        fail_at(err, errlen, what, v, vl);
        return -1;
    }
    return 0;
}

/* The value of "max_age": whole seconds up to MH_STS_MAX_AGE_LIMIT.
 * Returns 0 or -1. */
static int
take_max_age(const unsigned char *v, size_t vl, const char *where,
             struct mh_sts_policy *p, char *err, size_t errlen)
{
    char num[16];
    unsigned long long age = 0;
    bool ok = vl <= 10;
    if (ok) {
        memcpy(num, v, vl);
        num[vl] = '\0';
        ok = mh_parse_uint(num, MH_STS_MAX_AGE_LIMIT, &age);
    }
    if (!ok) {
        char what[96];
        mh_textf(what, sizeof what,
                 "%s max_age is not a number of seconds up to %lu:", where,
                 MH_STS_MAX_AGE_LIMIT);
        fail_at(err, errlen, what, v, vl);
        return -1;
    }
    p->max_age = (unsigned long)age;
    return 0;
}

/* One "mx" pattern, kept in lower case (the first MH_STS_PATTERNS_MAX;
 * all are counted). Returns 0 or -1. */
static int
take_mx(const unsigned char *v, size_t vl, const char *where,
        struct mh_sts_policy *p, char *err, size_t errlen)
{
    if (!pattern_ok(v, vl)) {
        char what[120];
        mh_textf(what, sizeof what,
                 "%s mx is not a host name or '*.' and a domain (a "
                 "wildcard only as the whole leftmost label, RFC 8461 "
                 "4.1):",
                 where);
        fail_at(err, errlen, what, v, vl);
        return -1;
    }
    if (p->nmx < MH_STS_PATTERNS_MAX) {
        char *dst = p->mx[p->nmx++];
        for (size_t i = 0; i < vl; i++) {
            dst[i] = (char)tolower(v[i]);
        }
        dst[vl] = '\0';
    }
    p->nmx_seen++;
    return 0;
}

/* One "key: value" line (without its line end). Returns 0 or -1. */
static int
policy_line(const unsigned char *s, size_t len, size_t lineno,
            struct mh_sts_policy *p, unsigned *seen, char *err, size_t errlen)
{
    char where[32];
    mh_textf(where, sizeof where, "line %zu:", lineno);
    size_t kl, vl;
    const unsigned char *v;
    if (split_line(s, len, where, &kl, &v, &vl, err, errlen) != 0) {
        return -1;
    }
    static const char *const single[] = {"version", "mode", "max_age"};
    for (unsigned k = 0; k < 3; k++) {
        if (key_is(s, kl, single[k])) {
            if (*seen & (1u << k)) {
                mh_textf(err, errlen,
                         "%s %s given twice (senders may read either)", where,
                         single[k]);
                return -1;
            }
            *seen |= 1u << k;
        }
    }
    if (key_is(s, kl, "version")) {
        if (!(vl == 5 && memcmp(v, "STSv1", 5) == 0)) {
            char what[64];
            mh_textf(what, sizeof what, "%s version is not STSv1:", where);
            fail_at(err, errlen, what, v, vl);
            return -1;
        }
        return 0;
    }
    if (key_is(s, kl, "mode")) {
        return take_mode(v, vl, where, p, err, errlen);
    }
    if (key_is(s, kl, "max_age")) {
        return take_max_age(v, vl, where, p, err, errlen);
    }
    if (key_is(s, kl, "mx")) {
        return take_mx(v, vl, where, p, err, errlen);
    }
    /* Anything else is an extension: ignored (RFC 8461 3.2). */
    return 0;
}

int
mh_sts_parse_policy(const void *body, size_t len, struct mh_sts_policy *out,
                    char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    err[0] = '\0';
    const unsigned char *s = body;
    if (memchr(s, '\0', len) != NULL) {
        mh_textf(err, errlen, "the policy contains a NUL byte");
        return -1;
    }
    unsigned seen = 0;
    size_t lineno = 0;
    size_t i = 0;
    while (i < len) {
        lineno++;
        const unsigned char *nl = memchr(s + i, '\n', len - i);
        size_t end = nl != NULL ? (size_t)(nl - s) : len;
        size_t l = end - i;
        if (l > 0 && s[i + l - 1] == '\r') {
            l--; /* CRLF */
        }
        if (memchr(s + i, '\r', l) != NULL) {
            mh_textf(err, errlen, "line %zu: a CR that does not end the line",
                     lineno);
            return -1;
        }
        if (l > 0 &&
            policy_line(s + i, l, lineno, out, &seen, err, errlen) != 0) {
            return -1;
        }
        i = end + 1;
    }
    static const char *const single[] = {"version", "mode", "max_age"};
    for (unsigned k = 0; k < 3; k++) {
        if (!(seen & (1u << k))) {
            mh_textf(err, errlen, "no %s field (RFC 8461 3.2)", single[k]);
            return -1;
        }
    }
    if (out->nmx_seen == 0 && out->mode != MH_STS_MODE_NONE) {
        mh_textf(err, errlen, "no mx field in %s mode (RFC 8461 3.2)",
                 mh_sts_mode_name(out->mode));
        return -1;
    }
    return 0;
}

bool
mh_sts_mx_matches(const char *pattern, const char *host)
{
    size_t hl = strlen(host);
    if (hl > 0 && host[hl - 1] == '.') {
        hl--;
    }
    if (pattern[0] == '*' && pattern[1] == '.') {
        /* "*.rest": exactly one label in front of ".rest". */
        const char *rest = pattern + 1; /* ".rest" */
        size_t rl = strlen(rest);
        if (hl <= rl) {
            return false;
        }
        size_t first = hl - rl; /* length of the host's first label */
        return strncasecmp(host + first, rest, rl) == 0 &&
               memchr(host, '.', first) == NULL;
    }
    return strlen(pattern) == hl && strncasecmp(pattern, host, hl) == 0;
}

int
mh_sts_policy_match(const struct mh_sts_policy *p, const char *host)
{
    for (size_t i = 0; i < p->nmx; i++) {
        if (mh_sts_mx_matches(p->mx[i], host)) {
            return (int)i;
        }
    }
    return -1;
}

/* ====== Memory of policies seen ====== */

struct memo_entry {
    char domain[256];
    struct mh_sts_memo memo;
};

struct mh_sts_memory {
    pthread_mutex_t lock;
    struct memo_entry *e;
    size_t n, cap;
};

struct mh_sts_memory *
mh_sts_memory_new(void)
{
    struct mh_sts_memory *m = calloc(1, sizeof *m);
    if (m != NULL && pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        m = NULL;
    }
    return m;
}

void
mh_sts_memory_free(struct mh_sts_memory *m)
{
    if (m == NULL) {
        return;
    }
    pthread_mutex_destroy(&m->lock);
    free(m->e);
    free(m);
}

/* The entry of domain, or NULL; the lock is held. */
static struct memo_entry *
memo_find(struct mh_sts_memory *m, const char *domain)
{
    for (size_t i = 0; i < m->n; i++) {
        if (strcasecmp(m->e[i].domain, domain) == 0) {
            return &m->e[i];
        }
    }
    return NULL;
}

/* Stores memo for domain (lock held). */
static void
memo_put(struct mh_sts_memory *m, const char *domain,
         const struct mh_sts_memo *memo)
{
    struct memo_entry *e = memo_find(m, domain);
    if (e == NULL) {
        if (m->n == m->cap) {
            size_t cap = m->cap == 0 ? 8 : m->cap * 2;
            struct memo_entry *ne = realloc(m->e, cap * sizeof *ne);
            if (ne == NULL) {
                return;
            }
            m->e = ne;
            m->cap = cap;
        }
        e = &m->e[m->n++];
        mh_textf(e->domain, sizeof e->domain, "%s", domain);
        for (char *c = e->domain; *c != '\0'; c++) {
            *c = (char)tolower((unsigned char)*c);
        }
    }
    e->memo = *memo;
    e->memo.known = true;
}

struct mh_sts_memo
mh_sts_memory_get(struct mh_sts_memory *m, const char *domain)
{
    struct mh_sts_memo memo = {0};
    pthread_mutex_lock(&m->lock);
    struct memo_entry *e = memo_find(m, domain);
    if (e != NULL) {
        memo = e->memo;
    }
    pthread_mutex_unlock(&m->lock);
    return memo;
}

struct mh_sts_memo
mh_sts_memory_note(struct mh_sts_memory *m, const char *domain, const char *id,
                   const unsigned char sha256[32], enum mh_sts_mode mode,
                   double now)
{
    struct mh_sts_memo before = {0};
    pthread_mutex_lock(&m->lock);
    struct memo_entry *e = memo_find(m, domain);
    if (e != NULL) {
        before = e->memo;
    }
    if (e == NULL || strcmp(e->memo.id, id) != 0) {
        struct mh_sts_memo memo = {
            .known = true, .mode = mode, .first_seen = now};
        mh_textf(memo.id, sizeof memo.id, "%s", id);
        memcpy(memo.sha256, sha256, 32);
        memo_put(m, domain, &memo);
    }
    pthread_mutex_unlock(&m->lock);
    return before;
}

static bool
hex_decode(const char *hex, unsigned char *out, size_t n)
{
    if (strlen(hex) != 2 * n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + (size_t)k];
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                                : 16u;
            if (d == 16u) {
                return false;
            }
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return true;
}

static enum mh_sts_mode
mode_from_name(const char *s)
{
    static const enum mh_sts_mode all[] = {
        MH_STS_MODE_ENFORCE, MH_STS_MODE_TESTING, MH_STS_MODE_NONE};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(s, mh_sts_mode_name(all[i])) == 0) {
            return all[i];
        }
    }
    return MH_STS_MODE_UNKNOWN;
}

/* Most bytes of a state file read. */
#define STATE_FILE_MAX (16u << 20)

int
mh_sts_memory_load(struct mh_sts_memory *m, const char *path, char *err,
                   size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT) {
            return 0; /* the first run */
        }
        mh_textf(err, errlen, "cannot read the MTA-STS state file %s: %s", path,
                 strerror(errno));
        return -1;
    }
    char *text = malloc(STATE_FILE_MAX + 1);
    size_t len = text != NULL ? fread(text, 1, STATE_FILE_MAX + 1, f) : 0;
    bool rerr = ferror(f) != 0;
    fclose(f);
    if (text == NULL || rerr || len > STATE_FILE_MAX) {
        free(text);
        mh_textf(err, errlen, "cannot read the MTA-STS state file %s: %s", path,
                 text == NULL ? "out of memory"
                 : rerr       ? "read error"
                              : "larger than 16 MiB");
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *doms = cJSON_GetObjectItemCaseSensitive(root, "domains");
    if (root == NULL || !cJSON_IsNumber(ver) || ver->valuedouble != 1 ||
        !cJSON_IsObject(doms)) {
        cJSON_Delete(root);
        mh_textf(err, errlen,
                 "the MTA-STS state file %s is not a version 1 state "
                 "(JSON with \"version\": 1 and \"domains\")",
                 path);
        return -1;
    }
    pthread_mutex_lock(&m->lock);
    const cJSON *d;
    cJSON_ArrayForEach(d, doms)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "id");
        const cJSON *sha = cJSON_GetObjectItemCaseSensitive(d, "sha256");
        const cJSON *mode = cJSON_GetObjectItemCaseSensitive(d, "mode");
        const cJSON *first = cJSON_GetObjectItemCaseSensitive(d, "first_seen");
        struct mh_sts_memo memo = {.known = true};
        if (d->string == NULL ||
            !domain_ok((const unsigned char *)d->string, strlen(d->string)) ||
            !cJSON_IsString(id) || strlen(id->valuestring) < 1 ||
            strlen(id->valuestring) > MH_STS_ID_MAX || !cJSON_IsString(sha) ||
            !hex_decode(sha->valuestring, memo.sha256, 32)) {
            continue; /* not ours to guess: the entry is rebuilt */
        }
        mh_textf(memo.id, sizeof memo.id, "%s", id->valuestring);
        memo.mode = cJSON_IsString(mode) ? mode_from_name(mode->valuestring)
                                         : MH_STS_MODE_UNKNOWN;
        memo.first_seen = cJSON_IsNumber(first) && isfinite(first->valuedouble)
                              ? first->valuedouble
                              : 0;
        memo_put(m, d->string, &memo);
    }
    pthread_mutex_unlock(&m->lock);
    cJSON_Delete(root);
    return 0;
}

int
mh_sts_memory_save(struct mh_sts_memory *m, const char *path, char *err,
                   size_t errlen)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *doms = cJSON_CreateObject();
    bool ok = root != NULL && doms != NULL &&
              cJSON_AddNumberToObject(root, "version", 1) != NULL &&
              cJSON_AddItemToObject(root, "domains", doms);
    if (!ok) {
        cJSON_Delete(doms);
    }
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; ok && i < m->n; i++) {
        const struct mh_sts_memo *memo = &m->e[i].memo;
        char hex[65];
        mh_hex_encode(hex, memo->sha256, 32);
        cJSON *e = cJSON_CreateObject();
        ok = e != NULL && cJSON_AddItemToObject(doms, m->e[i].domain, e) &&
             cJSON_AddStringToObject(e, "id", memo->id) != NULL &&
             cJSON_AddStringToObject(e, "sha256", hex) != NULL &&
             cJSON_AddStringToObject(e, "mode", mh_sts_mode_name(memo->mode)) !=
                 NULL &&
             cJSON_AddNumberToObject(e, "first_seen", memo->first_seen) != NULL;
    }
    pthread_mutex_unlock(&m->lock);
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (text == NULL) {
        mh_textf(err, errlen, "cannot write the MTA-STS state: out of memory");
        return -1;
    }
    struct mh_atomic_file af;
    int rc = mh_atomic_open(&af, path, err, errlen);
    if (rc == 0) {
        rc = fputs(text, af.f) == EOF || fputc('\n', af.f) == EOF ? -1 : 0;
        rc = mh_atomic_commit(&af, rc, err, errlen);
    }
    free(text);
    return rc;
}

/* ====== DNS records ====== */

void
mh_sts_lookup_records(const char *domain, const char *resolver,
                      const struct mh_deadline *dl, struct mh_sts_dns *out)
{
    memset(out, 0, sizeof *out);
    mh_textf(out->sts_name, sizeof out->sts_name, "_mta-sts.%s", domain);
    mh_textf(out->tlsrpt_name, sizeof out->tlsrpt_name, "_smtp._tls.%s",
             domain);
    struct mh_txt_lookup l[2] = {{.name = out->sts_name},
                                 {.name = out->tlsrpt_name}};
    mh_resolve_txt(l, 2, resolver, dl);
    out->sts = l[0];
    out->tlsrpt = l[1];
    out->sts.name = out->sts_name;
    out->tlsrpt.name = out->tlsrpt_name;
}

void
mh_sts_dns_free(struct mh_sts_dns *d)
{
    mh_txt_lookups_free(&d->sts, 1);
    mh_txt_lookups_free(&d->tlsrpt, 1);
}

bool
mh_sts_dns_published(const struct mh_sts_dns *d)
{
    if (d->sts.status != MH_RESOLVE_OK) {
        return false;
    }
    for (size_t i = 0; i < d->sts.nrecs; i++) {
        char id[MH_STS_ID_MAX + 1], err[200];
        if (mh_sts_parse_record(d->sts.recs[i].data, d->sts.recs[i].len, id,
                                err, sizeof err) != MH_STS_TXT_OTHER) {
            return true;
        }
    }
    return false;
}
