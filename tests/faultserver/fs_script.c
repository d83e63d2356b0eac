/* SPDX-License-Identifier: MIT */
/*
 * fs_script.c - loads a fault script (*.fs).
 *
 * One directive per line; blank lines and lines whose first non-blank
 * character is '#' are ignored. The keyword is followed by one space or tab;
 * for text directives everything after it is taken literally to the end of
 * the line (trailing spaces included: "send 334 " sends "334 "). A trailing
 * CR is dropped so that files edited with CRLF endings still work.
 *
 * ${NAME} is replaced by the environment variable NAME and ${NAME:-text} by
 * NAME or, when it is unset or empty, by text. An unset variable without a
 * default is a load error, so that a test that forgot CERT_DIR or FS_USER
 * fails at once and says why. send-raw additionally understands the escapes
 * \r \n \t \\ \xNN.
 *
 * Certificates named by starttls, implicit-tls, tls-sni and on-starttls are
 * loaded here, so the server refuses to start with a broken certificate.
 */
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* How the text after the keyword is parsed. */
enum argk {
    A_NONE,        /* nothing */
    A_TEXT,        /* literal text, may be empty */
    A_TEXT_REQ,    /* literal text, not empty */
    A_RAW,         /* text with escapes */
    A_SECS,        /* SECS */
    A_SECS_TEXT,   /* SECS [TEXT] */
    A_MS,          /* MS */
    A_MS_TEXT,     /* MS TEXT */
    A_PREFIX_TEXT, /* PREFIX TEXT, PREFIX may be "quoted" */
    A_USERPASS,    /* USER PASS */
    A_CERT,        /* CERT KEY [CHAIN] */
    A_SNI,         /* NAME CERT KEY [CHAIN] */
    A_N_CODE,      /* N CODE */
    A_CODE,        /* CODE */
    A_SEED_BYTES,  /* SEED BYTES */
    A_EOL          /* crlf | lf */
};

struct opdef {
    const char *name;
    enum fs_op op;
    enum argk kind;
};

static const struct opdef k_ops[] = {
    {"greet-pause", OP_GREET_PAUSE, A_SECS_TEXT},
    {"send", OP_SEND, A_TEXT},
    {"send-lf", OP_SEND_LF, A_TEXT},
    {"send-raw", OP_SEND_RAW, A_RAW},
    {"drip", OP_DRIP, A_MS_TEXT},
    {"wait", OP_WAIT, A_SECS},
    {"expect", OP_EXPECT, A_TEXT_REQ},
    {"expect-any", OP_EXPECT_ANY, A_NONE},
    {"reject-if", OP_REJECT_IF, A_PREFIX_TEXT},
    {"forbid", OP_FORBID, A_TEXT_REQ},
    {"forbid-pipelining", OP_FORBID_PIPELINING, A_TEXT},
    {"pipeline-grace", OP_PIPELINE_GRACE, A_MS},
    {"auth-plain-expect", OP_AUTH_PLAIN, A_USERPASS},
    {"auth-login-expect", OP_AUTH_LOGIN, A_USERPASS},
    {"auth-login-lower", OP_AUTH_LOGIN_LOWER, A_USERPASS},
    {"auth-cram-expect", OP_AUTH_CRAM, A_USERPASS},
    {"auth-any-expect", OP_AUTH_ANY, A_USERPASS},
    {"auth-result", OP_AUTH_RESULT, A_TEXT_REQ},
    {"auth-empty-challenge", OP_AUTH_EMPTY_CHALLENGE, A_TEXT_REQ},
    {"starttls", OP_STARTTLS, A_CERT},
    {"tls-sni", OP_TLS_SNI, A_SNI},
    {"implicit-tls", OP_IMPLICIT_TLS, A_CERT},
    {"tls-close-before-hello", OP_TLS_CLOSE_BEFORE_HELLO, A_NONE},
    {"tls-stall", OP_TLS_STALL, A_NONE},
    {"tls-alert", OP_TLS_ALERT, A_NONE},
    {"close", OP_CLOSE, A_NONE},
    {"rst", OP_RST, A_NONE},
    {"hold", OP_HOLD, A_NONE},
    {"readall", OP_READALL, A_NONE},
    {"junk", OP_JUNK, A_SEED_BYTES},
    {"long-line", OP_LONG_LINE, A_N_CODE},
    {"endless-continuation", OP_ENDLESS_CONTINUATION, A_CODE},
    {"quit", OP_QUIT, A_NONE},
    {"on", OP_ON, A_PREFIX_TEXT},
    {"on-plain", OP_ON_PLAIN, A_PREFIX_TEXT},
    {"on-tls", OP_ON_TLS, A_PREFIX_TEXT},
    {"on-starttls", OP_ON_STARTTLS, A_CERT},
    {"on-auth", OP_ON_AUTH, A_USERPASS},
    {"serve", OP_SERVE, A_NONE},
    {"line-end", OP_LINE_END, A_EOL},
};

#define N_OPS (sizeof k_ops / sizeof k_ops[0])

/* Upper bounds of numeric arguments. */
#define MAX_SECS 3600.0
#define MAX_MS 60000.0
#define MAX_GRACE_MS 5000.0
#define MAX_JUNK_BYTES (64ul * 1024 * 1024)
#define MAX_LONG_LINE (16ul * 1024 * 1024)

const char *
fs_op_name(enum fs_op op)
{
    size_t i;

    for (i = 0; i < N_OPS; i++) {
        if (k_ops[i].op == op)
            return k_ops[i].name;
    }
    return "?";
}

/* Error reporting: "FILE:LINE: message". */
struct loadctx {
    const char *path;
    unsigned line;
    char *err;
    size_t errlen;
    struct fs_script *sc;
};

static int
fail(struct loadctx *lc, const char *msg, const char *detail)
{
    if (snprintf(lc->err, lc->errlen, "%s:%u: %s%s%s", lc->path, lc->line, msg,
                 detail ? " " : "", detail ? detail : "") < 0 &&
        lc->errlen > 0)
        lc->err[0] = '\0';
    return -1;
}

static bool
is_name_char(char c, bool first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* Appends len bytes to out (cap bytes) at *pos; -1 when it does not fit. */
static int
append(char *out, size_t cap, size_t *pos, const char *s, size_t len)
{
    if (len >= cap - *pos)
        return -1;
    memcpy(out + *pos, s, len);
    *pos += len;
    out[*pos] = '\0';
    return 0;
}

/* ${NAME} and ${NAME:-default} expansion into out. */
static int
expand_vars(struct loadctx *lc, const char *in, char *out, size_t cap)
{
    size_t pos = 0;

    out[0] = '\0';
    while (*in != '\0') {
        const char *close;
        const char *def = NULL;
        size_t name_len;
        size_t def_len = 0;
        char name[128];
        const char *val;
        size_t i;

        if (in[0] != '$' || in[1] != '{') {
            if (append(out, cap, &pos, in, 1) != 0)
                return fail(lc, "line too long after expansion", NULL);
            in++;
            continue;
        }
        close = strchr(in + 2, '}');
        if (close == NULL)
            return fail(lc, "unterminated ${ in", in);
        name_len = (size_t)(close - (in + 2));
        for (i = 0; i < name_len; i++) {
            if (in[2 + i] == ':' && i + 1 < name_len && in[3 + i] == '-') {
                def = in + 4 + i;
                def_len = name_len - i - 2;
                name_len = i;
                break;
            }
        }
        if (name_len == 0 || name_len >= sizeof name)
            return fail(lc, "bad variable name in", in);
        for (i = 0; i < name_len; i++) {
            if (!is_name_char(in[2 + i], i == 0))
                return fail(lc, "bad variable name in", in);
        }
        memcpy(name, in + 2, name_len);
        name[name_len] = '\0';
        val = getenv(name);
        if (val == NULL || (def != NULL && val[0] == '\0')) {
            if (def == NULL)
                return fail(lc, "environment variable not set:", name);
            if (append(out, cap, &pos, def, def_len) != 0)
                return fail(lc, "line too long after expansion", NULL);
        } else if (append(out, cap, &pos, val, strlen(val)) != 0) {
            return fail(lc, "line too long after expansion", NULL);
        }
        in = close + 1;
    }
    return 0;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the send-raw escapes in place. */
static int
unescape(struct loadctx *lc, char *s, size_t *len)
{
    size_t r = 0;
    size_t w = 0;

    while (s[r] != '\0') {
        if (s[r] != '\\') {
            s[w++] = s[r++];
            continue;
        }
        switch (s[r + 1]) {
        case 'r':
            s[w++] = '\r';
            r += 2;
            break;
        case 'n':
            s[w++] = '\n';
            r += 2;
            break;
        case 't':
            s[w++] = '\t';
            r += 2;
            break;
        case '\\':
            s[w++] = '\\';
            r += 2;
            break;
        case 'x': {
            int hi = hexval(s[r + 2]);
            int lo = hi < 0 ? -1 : hexval(s[r + 3]);

            if (hi < 0 || lo < 0)
                return fail(lc, "bad \\x escape (want \\xNN)", NULL);
            s[w++] = (char)(unsigned char)(hi * 16 + lo);
            r += 4;
            break;
        }
        default:
            return fail(lc,
                        "unknown escape in send-raw (use \\r \\n \\t \\\\ "
                        "\\xNN)",
                        NULL);
        }
    }
    s[w] = '\0';
    *len = w;
    return 0;
}

static const char *
skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Reads one whitespace-delimited word (or a "quoted" one when quotes is
 * set) into out. Returns 1 when a word was read, 0 at end, -1 on error. */
static int
next_word(struct loadctx *lc, const char **pp, char *out, size_t cap,
          bool quotes)
{
    const char *p = skip_ws(*pp);
    const char *start;
    size_t len;

    if (*p == '\0')
        return 0;
    if (quotes && *p == '"') {
        start = ++p;
        while (*p != '\0' && *p != '"')
            p++;
        if (*p != '"')
            return fail(lc, "unterminated quote", NULL);
        len = (size_t)(p - start);
        p++;
    } else {
        start = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
        len = (size_t)(p - start);
    }
    if (len >= cap)
        return fail(lc, "word too long", NULL);
    memcpy(out, start, len);
    out[len] = '\0';
    *pp = p;
    return 1;
}

static int
parse_number(struct loadctx *lc, const char *word, double min, double max,
             double *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(word, &end);
    if (errno != 0 || end == word || *end != '\0' || !(v >= min) || !(v <= max))
        return fail(lc, "bad or out-of-range number:", word);
    *out = v;
    return 0;
}

static int
parse_count(struct loadctx *lc, const char *word, unsigned long max,
            unsigned long *out)
{
    char *end = NULL;
    unsigned long v;

    if (word[0] < '0' || word[0] > '9')
        return fail(lc, "bad number:", word);
    errno = 0;
    v = strtoul(word, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return fail(lc, "bad or out-of-range number:", word);
    *out = v;
    return 0;
}

static int
parse_code(struct loadctx *lc, const char *word)
{
    if (strlen(word) != 3 || word[0] < '1' || word[0] > '5' || word[1] < '0' ||
        word[1] > '9' || word[2] < '0' || word[2] > '9')
        return fail(lc, "reply code must be three digits 1xx-5xx:", word);
    return 0;
}

static char *
dup_str(struct loadctx *lc, const char *s, size_t len)
{
    char *d = malloc(len + 1);

    if (d == NULL) {
        (void)fail(lc, "out of memory", NULL);
        return NULL;
    }
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

/* Loads (or reuses) the TLS context of a CERT KEY [CHAIN] triple. */
static int
add_cert(struct loadctx *lc, const char *cert, const char *key,
         const char *chain)
{
    struct fs_script *sc = lc->sc;
    char tlserr[512];
    struct fs_cert *c;
    size_t i;

    for (i = 0; i < sc->ncerts; i++) {
        c = &sc->certs[i];
        if (strcmp(c->cert_file, cert) == 0 && strcmp(c->key_file, key) == 0 &&
            ((chain == NULL && c->chain_file == NULL) ||
             (chain != NULL && c->chain_file != NULL &&
              strcmp(chain, c->chain_file) == 0)))
            return (int)i;
    }
    if (sc->ncerts >= FS_MAX_CERTS)
        return fail(lc, "too many certificates", NULL);
    c = &sc->certs[sc->ncerts];
    c->ctx = fs_tls_ctx_new(cert, key, chain, tlserr, sizeof tlserr);
    if (c->ctx == NULL)
        return fail(lc, tlserr, NULL);
    c->cert_file = dup_str(lc, cert, strlen(cert));
    c->key_file = dup_str(lc, key, strlen(key));
    c->chain_file = chain ? dup_str(lc, chain, strlen(chain)) : NULL;
    sc->ncerts++;
    if (c->cert_file == NULL || c->key_file == NULL ||
        (chain != NULL && c->chain_file == NULL))
        return -1;
    return (int)(sc->ncerts - 1);
}

/* The text kinds: none, text, raw (escapes undone). */
static int
parse_args_text(struct loadctx *lc, const struct opdef *def, const char *rest,
                struct fs_step *st)
{
    switch (def->kind) {
    case A_NONE:
        if (*skip_ws(rest) != '\0')
            return fail(lc, "unexpected argument to", def->name);
        return 0;
    case A_TEXT_REQ:
        if (*rest == '\0')
            return fail(lc, "missing text for", def->name);
        /* fall through */
    case A_TEXT:
        st->text_len = strlen(rest);
        st->text = dup_str(lc, rest, st->text_len);
        return st->text ? 0 : -1;
    case A_RAW:
        st->text = dup_str(lc, rest, strlen(rest));
        if (st->text == NULL)
            return -1;
        return unescape(lc, st->text, &st->text_len);
    default:
        break;
    }
    return fail(lc, "internal error: unhandled argument kind", NULL);
}

/* The kinds that start with a time: SECS or MS, with or without text. */
static int
parse_args_time(struct loadctx *lc, const struct opdef *def, const char *rest,
                struct fs_step *st)
{
    char w1[FS_MAX_SCRIPT_LINE];
    const char *p = rest;
    double num = 0;

    switch (def->kind) {
    case A_SECS:
    case A_SECS_TEXT:
        if (next_word(lc, &p, w1, sizeof w1, false) != 1)
            return fail(lc, "missing SECS for", def->name);
        if (parse_number(lc, w1, 0.0, MAX_SECS, &st->secs) != 0)
            return -1;
        p = skip_ws(p);
        if (def->kind == A_SECS && *p != '\0')
            return fail(lc, "unexpected text after SECS for", def->name);
        if (*p != '\0') {
            st->text_len = strlen(p);
            st->text = dup_str(lc, p, st->text_len);
            if (st->text == NULL)
                return -1;
        }
        return 0;
    case A_MS:
    case A_MS_TEXT:
        if (next_word(lc, &p, w1, sizeof w1, false) != 1)
            return fail(lc, "missing MS for", def->name);
        if (parse_number(lc, w1, 0.0, def->kind == A_MS ? MAX_GRACE_MS : MAX_MS,
                         &num) != 0)
            return -1;
        st->secs = num / 1000.0;
        if (def->kind == A_MS) {
            if (*skip_ws(p) != '\0')
                return fail(lc, "unexpected text after MS for", def->name);
            return 0;
        }
        if (*p == ' ' || *p == '\t')
            p++; /* one separator; the rest is literal */
        if (*p == '\0')
            return fail(lc, "missing text for", def->name);
        st->text_len = strlen(p);
        st->text = dup_str(lc, p, st->text_len);
        return st->text ? 0 : -1;
    default:
        break;
    }
    return fail(lc, "internal error: unhandled argument kind", NULL);
}

/* The kinds made of words: PREFIX TEXT, USER PASS, [NAME] CERT KEY [CHAIN]. */
static int
parse_args_words(struct loadctx *lc, const struct opdef *def, const char *rest,
                 struct fs_step *st)
{
    char w1[FS_MAX_SCRIPT_LINE];
    char w2[FS_MAX_SCRIPT_LINE];
    char w3[FS_MAX_SCRIPT_LINE];
    char w4[FS_MAX_SCRIPT_LINE];
    const char *p = rest;
    int r;

    switch (def->kind) {
    case A_PREFIX_TEXT:
        r = next_word(lc, &p, w1, sizeof w1, true);
        if (r < 0)
            return -1;
        if (r == 0 || w1[0] == '\0')
            return fail(lc, "missing PREFIX for", def->name);
        if (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return fail(lc, "missing reply text for", def->name);
        st->word = dup_str(lc, w1, strlen(w1));
        st->text_len = strlen(p);
        st->text = dup_str(lc, p, st->text_len);
        return st->word && st->text ? 0 : -1;
    case A_USERPASS:
        if (next_word(lc, &p, w1, sizeof w1, false) != 1 ||
            next_word(lc, &p, w2, sizeof w2, false) != 1)
            return fail(lc, "want USER PASS for", def->name);
        if (*skip_ws(p) != '\0')
            return fail(lc, "too many words (USER PASS) for", def->name);
        st->word = dup_str(lc, w1, strlen(w1));
        st->word2 = dup_str(lc, w2, strlen(w2));
        return st->word && st->word2 ? 0 : -1;
    case A_SNI:
        if (next_word(lc, &p, w4, sizeof w4, false) != 1)
            return fail(lc, "want NAME CERT KEY [CHAIN] for", def->name);
        st->word = dup_str(lc, w4, strlen(w4));
        if (st->word == NULL)
            return -1;
        /* fall through */
    case A_CERT:
        if (next_word(lc, &p, w1, sizeof w1, false) != 1 ||
            next_word(lc, &p, w2, sizeof w2, false) != 1)
            return fail(lc, "want CERT KEY [CHAIN] for", def->name);
        r = next_word(lc, &p, w3, sizeof w3, false);
        if (r < 0)
            return -1;
        if (*skip_ws(p) != '\0')
            return fail(lc, "too many words (CERT KEY [CHAIN]) for", def->name);
        st->cert = add_cert(lc, w1, w2, r == 1 ? w3 : NULL);
        return st->cert < 0 ? -1 : 0;
    default:
        break;
    }
    return fail(lc, "internal error: unhandled argument kind", NULL);
}

/* The kinds made of numbers and codes: N CODE, CODE, crlf|lf, SEED BYTES. */
static int
parse_args_codes(struct loadctx *lc, const struct opdef *def, const char *rest,
                 struct fs_step *st)
{
    char w1[FS_MAX_SCRIPT_LINE];
    char w2[FS_MAX_SCRIPT_LINE];
    const char *p = rest;

    switch (def->kind) {
    case A_N_CODE:
        if (next_word(lc, &p, w1, sizeof w1, false) != 1 ||
            next_word(lc, &p, w2, sizeof w2, false) != 1 || *skip_ws(p) != '\0')
            return fail(lc, "want N CODE for", def->name);
        if (parse_count(lc, w1, MAX_LONG_LINE, &st->n) != 0 ||
            parse_code(lc, w2) != 0)
            return -1;
        st->text_len = 3;
        st->text = dup_str(lc, w2, 3);
        return st->text ? 0 : -1;
    case A_CODE:
        if (next_word(lc, &p, w1, sizeof w1, false) != 1 || *skip_ws(p) != '\0')
            return fail(lc, "want CODE for", def->name);
        if (parse_code(lc, w1) != 0)
            return -1;
        st->text_len = 3;
        st->text = dup_str(lc, w1, 3);
        return st->text ? 0 : -1;
    case A_EOL:
        if (next_word(lc, &p, w1, sizeof w1, false) != 1 || *skip_ws(p) != '\0')
            return fail(lc, "want crlf or lf for", def->name);
        if (strcasecmp(w1, "crlf") == 0)
            st->n = 0;
        else if (strcasecmp(w1, "lf") == 0)
            st->n = 1;
        else
            return fail(lc, "want crlf or lf, got", w1);
        return 0;
    case A_SEED_BYTES:
        if (next_word(lc, &p, w1, sizeof w1, false) != 1 ||
            next_word(lc, &p, w2, sizeof w2, false) != 1 || *skip_ws(p) != '\0')
            return fail(lc, "want SEED BYTES for", def->name);
        if (parse_count(lc, w1, (unsigned long)-1, &st->n2) != 0 ||
            parse_count(lc, w2, MAX_JUNK_BYTES, &st->n) != 0)
            return -1;
        return 0;
    default:
        break;
    }
    return fail(lc, "internal error: unhandled argument kind", NULL);
}

/* Parses the arguments of one directive into st, by its kind. */
static int
parse_args(struct loadctx *lc, const struct opdef *def, const char *rest,
           struct fs_step *st)
{
    switch (def->kind) {
    case A_NONE:
    case A_TEXT_REQ:
    case A_TEXT:
    case A_RAW:
        return parse_args_text(lc, def, rest, st);
    case A_SECS:
    case A_SECS_TEXT:
    case A_MS:
    case A_MS_TEXT:
        return parse_args_time(lc, def, rest, st);
    case A_PREFIX_TEXT:
    case A_USERPASS:
    case A_SNI:
    case A_CERT:
        return parse_args_words(lc, def, rest, st);
    case A_N_CODE:
    case A_CODE:
    case A_EOL:
    case A_SEED_BYTES:
        return parse_args_codes(lc, def, rest, st);
    }
    return fail(lc, "internal error: unhandled argument kind", NULL);
}

static int
parse_line(struct loadctx *lc, char *line)
{
    char expanded[FS_MAX_SCRIPT_LINE];
    struct fs_script *sc = lc->sc;
    const struct opdef *def = NULL;
    struct fs_step *st;
    char *p;
    char *kw;
    size_t kwlen;
    size_t len = strlen(line);
    size_t i;

    if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';
    p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    kw = p;
    while (*p != '\0' && *p != ' ' && *p != '\t')
        p++;
    kwlen = (size_t)(p - kw);
    if (*p != '\0')
        *p++ = '\0'; /* exactly one separator; the rest is literal */
    for (i = 0; i < N_OPS; i++) {
        if (strlen(k_ops[i].name) == kwlen &&
            strncmp(k_ops[i].name, kw, kwlen) == 0) {
            def = &k_ops[i];
            break;
        }
    }
    if (def == NULL)
        return fail(lc, "unknown directive", kw);
    if (expand_vars(lc, p, expanded, sizeof expanded) != 0)
        return -1;
    if (sc->nsteps >= FS_MAX_STEPS)
        return fail(lc, "too many directives", NULL);
    st = &sc->steps[sc->nsteps];
    memset(st, 0, sizeof *st);
    st->op = def->op;
    st->line = lc->line;
    st->cert = -1;
    sc->nsteps++; /* counted first so that fs_script_free releases it */
    return parse_args(lc, def, expanded, st);
}

int
fs_script_load(const char *path, struct fs_script *out, char *err,
               size_t errlen)
{
    struct loadctx lc = {path, 0, err, errlen, out};
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t got;
    FILE *f;
    int rc = 0;

    memset(out, 0, sizeof *out);
    out->path = dup_str(&lc, path, strlen(path));
    out->steps = calloc(FS_MAX_STEPS, sizeof *out->steps);
    if (out->path == NULL || out->steps == NULL) {
        fs_script_free(out);
        return fail(&lc, "out of memory", NULL);
    }
    f = fopen(path, "r");
    if (f == NULL) {
        (void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
        fs_script_free(out);
        return -1;
    }
    while ((got = getline(&line, &line_cap, f)) >= 0) {
        size_t len = (size_t)got;

        lc.line++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len > FS_MAX_SCRIPT_LINE) {
            rc = fail(&lc, "line too long", NULL);
            break;
        }
        if (strlen(line) != len) {
            rc = fail(&lc, "NUL byte in script (use send-raw \\x00)", NULL);
            break;
        }
        if (parse_line(&lc, line) != 0) {
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f))
        rc = fail(&lc, "read error", NULL);
    free(line);
    (void)fclose(f);
    if (rc == 0 && out->nsteps == 0) {
        (void)snprintf(err, errlen, "%s: script has no directives", path);
        rc = -1;
    }
    if (rc != 0)
        fs_script_free(out);
    return rc;
}

void
fs_script_free(struct fs_script *sc)
{
    size_t i;

    if (sc->steps != NULL) {
        for (i = 0; i < sc->nsteps; i++) {
            free(sc->steps[i].text);
            free(sc->steps[i].word);
            free(sc->steps[i].word2);
        }
    }
    free(sc->steps);
    for (i = 0; i < sc->ncerts; i++) {
        SSL_CTX_free(sc->certs[i].ctx);
        free(sc->certs[i].cert_file);
        free(sc->certs[i].key_file);
        free(sc->certs[i].chain_file);
    }
    free(sc->path);
    memset(sc, 0, sizeof *sc);
}
