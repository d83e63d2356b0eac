/* SPDX-License-Identifier: MIT */
/*
 * runner_config: loads the runner's JSON configuration into one
 * struct mh_config per check (see runner.h for the format and the rules).
 * Every option key goes through the option table (options.h), the parsers
 * of the command line.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "../probes/textutil.h"
#include "commands.h"
#include "exporter.h"
#include "options.h"
#include "runner.h"

#define MAX_CONFIG_BYTES (16u * 1024u * 1024u)
/* Longest key accepted (the longest option name is far shorter). */
#define MAX_KEY 64

/* A top-level key that is the default of a check option. */
struct deflt {
    const char *key;             /* as written in the config */
    const struct mh_option *opt; /* the option of the first command that
                                    has it (a row per name and command set) */
    const cJSON *val;
};

/* Parser state. */
struct parser {
    struct mh_run_config *c;
    char *err;
    size_t errlen;
    struct deflt *defs;
    size_t ndefs;
    const char *list; /* "checks", or "exporter.modules" while parsing
                         the probe modules (messages) */
};

/* A check's own words, which are no options. */
static bool
runner_word(const char *k)
{
    return strcmp(k, "name") == 0 || strcmp(k, "check") == 0 ||
           strcmp(k, "comment") == 0;
}

/* Options a check may not set: the runner writes every result to its
 * textfile and prints nothing per check, and keeps its own memory of the
 * MTA-STS policies seen (no --sts-state file). */
static bool
forbidden_in_check(const struct mh_option *o)
{
    return o->kind == MH_OPT_ACTION || strcmp(o->name, "output") == 0 ||
           strcmp(o->name, "textfile") == 0 ||
           strcmp(o->name, "sts-state") == 0;
}

/* "auth_password_file" -> "auth-password-file". Returns -1 when the key
 * is too long or is written with '-' (the rule asks for '_'). */
static int
key_to_option(const char *key, char *out, size_t len)
{
    size_t n = strlen(key);
    if (n == 0 || n >= len || strchr(key, '-') != NULL) {
        return -1;
    }
    for (size_t i = 0; i <= n; i++) {
        out[i] = key[i] == '_' ? '-' : key[i];
    }
    return 0;
}

/* The option of command cmd that key names, or NULL. */
static const struct mh_option *
key_option(enum mh_command cmd, const char *key)
{
    char lname[MAX_KEY];
    if (key_to_option(key, lname, sizeof lname) != 0) {
        return NULL;
    }
    return mh_option_find(cmd, lname);
}

/* Rewrites "--foo-bar" in a message of the option layer into 'foo_bar'
 * (the config's spelling), in place. */
static void
to_config_vocabulary(char *msg, size_t len)
{
    char out[1024];
    size_t o = 0;
    for (const char *p = msg; *p != '\0' && o + 2 < sizeof out;) {
        if (p[0] == '-' && p[1] == '-' && p[2] >= 'a' && p[2] <= 'z') {
            p += 2;
            out[o++] = '\'';
            while (((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                    *p == '-') &&
                   o + 2 < sizeof out) {
                out[o++] = *p == '-' ? '_' : *p;
                p++;
            }
            out[o++] = '\'';
        } else {
            out[o++] = *p++;
        }
    }
    if (len == 0) {
        return;
    }
    size_t m = o < len - 1 ? o : len - 1;
    memcpy(msg, out, m);
    msg[m] = '\0';
}

/* Keeps a number text for the lifetime of the config. */
static const char *
own_text(struct mh_run_config *c, const char *s)
{
    char **v = realloc(c->owned, (c->nowned + 1) * sizeof *v);
    if (v == NULL) {
        return NULL;
    }
    c->owned = v;
    char *d = strdup(s);
    if (d == NULL) {
        return NULL;
    }
    c->owned[c->nowned++] = d;
    return d;
}

/* The text of a scalar value of an option that takes a value; NULL with
 * the reason in why. */
static const char *
scalar_text(struct mh_run_config *c, const cJSON *v, char *why, size_t wlen)
{
    if (cJSON_IsString(v)) {
        return v->valuestring;
    }
    if (cJSON_IsNumber(v)) {
        char buf[64];
        double x = v->valuedouble;
        if (fabs(x) < 1e15) {
            mh_fmt_decimal(buf, sizeof buf, x, 9);
        } else {
            buf[0] = '\0';
        }
        /* A number the decimal form does not keep (1e-10 became "0"): its
         * shortest exact form, which the option's parser then judges and
         * its message shows as written. */
        for (int prec = 15; prec <= 17 && strtod(buf, NULL) != x; prec++) {
            snprintf(buf, sizeof buf, "%.*g", prec, x);
        }
        const char *t = own_text(c, buf);
        if (t == NULL) {
            snprintf(why, wlen, "out of memory");
        }
        return t;
    }
    if (cJSON_IsBool(v)) {
        snprintf(why, wlen,
                 "wrong type: takes a value (a string or a number); true and "
                 "false are only for flags");
    } else if (cJSON_IsNull(v)) {
        snprintf(why, wlen, "wrong type: null is not a value");
    } else if (cJSON_IsArray(v)) {
        snprintf(why, wlen,
                 "wrong type: takes one value, not an array (only repeatable "
                 "options take arrays)");
    } else {
        snprintf(why, wlen,
                 "wrong type: takes a string or a number, not an object");
    }
    return NULL;
}

/*
 * Sets option o of cfg from the JSON value v, through the option table's
 * parser. Returns 0, or -1 with the reason in why (config spelling).
 */
static int
set_option(struct mh_run_config *c, struct mh_config *cfg,
           const struct mh_option *o, const cJSON *v, char *why, size_t wlen)
{
    int rc;
    if (mh_option_is_flag(o)) {
        if (cJSON_IsFalse(v)) {
            return 0; /* false = omitted */
        }
        if (!cJSON_IsTrue(v)) {
            snprintf(why, wlen, "wrong type: a flag takes true or false");
            return -1;
        }
        rc = mh_option_set(cfg, o, NULL, MH_SYNTAX_CONFIG, why, wlen);
    } else if (mh_option_repeatable(o, cfg->command) && cJSON_IsArray(v)) {
        const cJSON *e;
        size_t i = 0;
        rc = 0;
        cJSON_ArrayForEach(e, v)
        {
            char sub[256];
            const char *t = scalar_text(c, e, sub, sizeof sub);
            if (t == NULL) {
                snprintf(why, wlen, "element %zu: %s", i, sub);
                return -1;
            }
            rc = mh_option_set(cfg, o, t, MH_SYNTAX_CONFIG, why, wlen);
            if (rc != 0) {
                break;
            }
            i++;
        }
    } else {
        const char *t = scalar_text(c, v, why, wlen);
        if (t == NULL) {
            return -1;
        }
        rc = mh_option_set(cfg, o, t, MH_SYNTAX_CONFIG, why, wlen);
    }
    if (rc != 0) {
        to_config_vocabulary(why, wlen);
    }
    return rc;
}

/* True if the object has the key twice; sets *dup to it. */
static bool
has_duplicate_key(const cJSON *obj, const char **dup)
{
    struct mh_strset seen = {0};
    const cJSON *e;
    bool found = false;
    cJSON_ArrayForEach(e, obj)
    {
        int rc = mh_strset_add(&seen, e->string);
        if (rc == 0) {
            *dup = e->string;
            found = true;
            break;
        }
    }
    mh_strset_free(&seen);
    return found;
}

static bool
name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MH_RUN_MAX_NAME) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch > 0x7e) {
            return false;
        }
    }
    return true;
}

char *
mh_run_default_target(const struct mh_config *cfg, size_t index)
{
    char buf[600];
    mh_command_target(cfg, buf, sizeof buf);
    if (buf[0] == '\0') {
        snprintf(buf, sizeof buf, "%s-%zu", mh_command_name(cfg->command),
                 index);
    }
    return strdup(buf);
}

/* Reads the first line of the token file into c->token. */
static int
read_token(struct parser *p, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(p->err, p->errlen,
                 "%s: notify: key \"token_file\": cannot read %s: %s",
                 p->c->source, path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0004) != 0) {
        mh_runlog(MH_LOG_WARNING,
                  "token file %s is readable by every user; chmod 600 it",
                  path);
    }
    char buf[4096];
    char *line = fgets(buf, sizeof buf, f);
    fclose(f);
    if (line == NULL) {
        snprintf(p->err, p->errlen,
                 "%s: notify: key \"token_file\": %s is empty", p->c->source,
                 path);
        return -1;
    }
    size_t n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t')) {
        buf[--n] = '\0';
    }
    const char *s = buf;
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    bool bad = *s == '\0';
    for (const char *q = s; *q != '\0'; q++) {
        if ((unsigned char)*q < 0x21 || (unsigned char)*q > 0x7e) {
            bad = true;
        }
    }
    if (bad) {
        OPENSSL_cleanse(buf, sizeof buf);
        snprintf(p->err, p->errlen,
                 "%s: notify: key \"token_file\": the first line of %s must "
                 "be the token (printable, no spaces)",
                 p->c->source, path);
        return -1;
    }
    p->c->token = strdup(s);
    OPENSSL_cleanse(buf, sizeof buf);
    if (p->c->token == NULL) {
        snprintf(p->err, p->errlen, "out of memory");
        return -1;
    }
    return 0;
}

static bool
is_http_url(const char *u)
{
    return (strncmp(u, "http://", 7) == 0 && u[7] != '\0') ||
           (strncmp(u, "https://", 8) == 0 && u[8] != '\0');
}

static int
parse_notify(struct parser *p, const cJSON *n)
{
    const char *src = p->c->source;
    if (!cJSON_IsObject(n)) {
        snprintf(p->err, p->errlen,
                 "%s: key \"notify\": wrong type: must be an object", src);
        return -1;
    }
    const char *dup;
    if (has_duplicate_key(n, &dup)) {
        snprintf(p->err, p->errlen, "%s: notify: key \"%s\" is given twice",
                 src, dup);
        return -1;
    }
    struct mh_run_notify *out = &p->c->notify;
    const cJSON *e;
    cJSON_ArrayForEach(e, n)
    {
        const char *k = e->string;
        if (strcmp(k, "alertmanager_url") == 0 ||
            strcmp(k, "webhook_url") == 0 || strcmp(k, "token_file") == 0) {
            if (!cJSON_IsString(e) || e->valuestring[0] == '\0') {
                snprintf(p->err, p->errlen,
                         "%s: notify: key \"%s\": wrong type: must be a "
                         "non-empty string",
                         src, k);
                return -1;
            }
            if (k[0] != 't' && !is_http_url(e->valuestring)) {
                snprintf(p->err, p->errlen,
                         "%s: notify: key \"%s\": not an http:// or https:// "
                         "URL",
                         src, k);
                return -1;
            }
            if (k[0] == 'a') {
                out->alertmanager_url = e->valuestring;
            } else if (k[0] == 'w') {
                out->webhook_url = e->valuestring;
            } else {
                out->token_file = e->valuestring;
            }
        } else if (strcmp(k, "timeout_seconds") == 0) {
            if (!cJSON_IsNumber(e) || !(e->valuedouble > 0) ||
                e->valuedouble > 60) {
                snprintf(p->err, p->errlen,
                         "%s: notify: key \"timeout_seconds\": must be a "
                         "number of seconds, > 0, at most 60",
                         src);
                return -1;
            }
            out->timeout_s = e->valuedouble;
        } else {
            snprintf(p->err, p->errlen,
                     "%s: notify: unknown key \"%s\" (alertmanager_url, "
                     "webhook_url, token_file, timeout_seconds)",
                     src, k);
            return -1;
        }
    }
    if (out->token_file != NULL && read_token(p, out->token_file) != 0) {
        return -1;
    }
    return 0;
}

/* Validates a top-level option default against the first command that
 * has the option. */
static int
add_default(struct parser *p, const char *key, const char *lname,
            const cJSON *v)
{
    static const enum mh_command probes[] = {MH_CMD_SMTP,     MH_CMD_TLS,
                                             MH_CMD_DNSBL,    MH_CMD_DOMAIN,
                                             MH_CMD_DELIVERY, MH_CMD_MTASTS};
    const struct mh_option *o = NULL;
    enum mh_command cmd = MH_CMD_NONE;
    for (size_t i = 0; i < sizeof probes / sizeof probes[0] && o == NULL; i++) {
        cmd = probes[i];
        o = mh_option_find(cmd, lname);
    }
    if (o == NULL || forbidden_in_check(o)) {
        snprintf(p->err, p->errlen, "%s: unknown top-level key \"%s\"%s",
                 p->c->source, key,
                 o == NULL ? " (not a runner key nor an option of any check)"
                           : "");
        return -1;
    }
    struct mh_config scratch;
    mh_config_init(&scratch, cmd);
    char why[512];
    int rc = set_option(p->c, &scratch, o, v, why, sizeof why);
    mh_config_free(&scratch);
    if (rc != 0) {
        snprintf(p->err, p->errlen, "%s: top-level key \"%s\": %s",
                 p->c->source, key, why);
        return -1;
    }
    struct deflt *d = realloc(p->defs, (p->ndefs + 1) * sizeof *d);
    if (d == NULL) {
        snprintf(p->err, p->errlen, "out of memory");
        return -1;
    }
    p->defs = d;
    p->defs[p->ndefs++] = (struct deflt){.key = key, .opt = o, .val = v};
    return 0;
}

/* "checks[3] \"mx1\"" or "checks[3] (smtp)" for messages. */
static void
check_label(const struct parser *p, char *buf, size_t len, size_t i,
            const char *name, const char *cmd)
{
    const char *list = p->list != NULL ? p->list : "checks";
    if (name != NULL) {
        snprintf(buf, len, "%s[%zu] \"%s\"", list, i, name);
    } else if (cmd != NULL) {
        snprintf(buf, len, "%s[%zu] (%s)", list, i, cmd);
    } else {
        snprintf(buf, len, "%s[%zu]", list, i);
    }
}

/* The message for a key that is not an option of cmd. */
static void
unknown_key(struct parser *p, const char *who, const char *k,
            enum mh_command cmd)
{
    const char *src = p->c->source;
    if (strchr(k, '-') != NULL) {
        char fix[MAX_KEY];
        snprintf(fix, sizeof fix, "%s", k);
        for (char *q = fix; *q != '\0'; q++) {
            *q = *q == '-' ? '_' : *q;
        }
        snprintf(p->err, p->errlen,
                 "%s: %s: unknown key \"%s\" (write \"%s\": option names "
                 "take '_' for '-')",
                 src, who, k, fix);
        return;
    }
    snprintf(p->err, p->errlen,
             "%s: %s: unknown key \"%s\" (not an option of check_mailhealth "
             "%s%s)",
             src, who, k, mh_command_name(cmd),
             strcmp(k, "timeout_seconds") == 0
                 ? "; a check's own timeout is \"timeout\""
                 : "");
}

/* 1. Every key of the check is a known option with the right spelling,
 * allowed in a check and given once under one of its names. */
static int
check_keys(struct parser *p, const cJSON *o, enum mh_command cmd,
           const char *who)
{
    const char *src = p->c->source;
    const cJSON *e;
    cJSON_ArrayForEach(e, o)
    {
        const char *k = e->string;
        if (runner_word(k)) {
            if (strcmp(k, "comment") == 0 && !cJSON_IsString(e)) {
                snprintf(p->err, p->errlen,
                         "%s: %s: key \"comment\": wrong type: must be a "
                         "string",
                         src, who);
                return -1;
            }
            continue;
        }
        const struct mh_option *opt = key_option(cmd, k);
        if (opt == NULL) {
            unknown_key(p, who, k, cmd);
            return -1;
        }
        if (forbidden_in_check(opt)) {
            snprintf(p->err, p->errlen,
                     "%s: %s: key \"%s\" is not allowed in a check (%s)", src,
                     who, k,
                     strcmp(opt->name, "sts-state") == 0
                         ? "the runner remembers the MTA-STS policies itself"
                         : "the runner writes every result to the textfile");
            return -1;
        }
        const cJSON *f;
        cJSON_ArrayForEach(f, o)
        {
            const struct mh_option *other = f == e || runner_word(f->string)
                                                ? NULL
                                                : key_option(cmd, f->string);
            if (other != NULL && other != opt &&
                mh_option_is_alias(opt, other)) {
                snprintf(p->err, p->errlen,
                         "%s: %s: keys \"%s\" and \"%s\" are the same "
                         "option; give one",
                         src, who, k, f->string);
                return -1;
            }
        }
    }
    return 0;
}

/* True when the check sets option opt under one of its names. */
static bool
check_sets(const cJSON *o, enum mh_command cmd, const struct mh_option *opt)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, o)
    {
        const struct mh_option *k =
            runner_word(e->string) ? NULL : key_option(cmd, e->string);
        if (k != NULL && mh_option_is_alias(k, opt)) {
            return true;
        }
    }
    return false;
}

/* 2. The top-level defaults the check does not set itself (the check's
 * own key wins), then the command line's -t and --resolver where neither
 * sets them. */
static int
apply_defaults(struct parser *p, const cJSON *o, struct mh_config *cfg,
               const struct mh_config *base, const char *who)
{
    bool has_timeout = false, has_resolver = false;
    for (size_t d = 0; d < p->ndefs; d++) {
        const struct mh_option *opt =
            mh_option_find(cfg->command, p->defs[d].opt->name);
        if (opt == NULL) {
            continue; /* not an option of this command */
        }
        has_timeout = has_timeout || strcmp(opt->name, "timeout") == 0;
        has_resolver = has_resolver || strcmp(opt->name, "resolver") == 0;
        if (check_sets(o, cfg->command, opt)) {
            continue;
        }
        char why[512];
        if (set_option(p->c, cfg, opt, p->defs[d].val, why, sizeof why) != 0) {
            snprintf(p->err, p->errlen, "%s: %s: top-level default \"%s\": %s",
                     p->c->source, who, p->defs[d].key, why);
            return -1;
        }
    }
    if (base != NULL) {
        if (!has_timeout &&
            cJSON_GetObjectItemCaseSensitive(o, "timeout") == NULL) {
            cfg->timeout_s = base->timeout_s;
        }
        if (!has_resolver && base->resolver != NULL &&
            cJSON_GetObjectItemCaseSensitive(o, "resolver") == NULL) {
            cfg->resolver = base->resolver;
        }
    }
    return 0;
}

/* 3. The check's own keys. */
static int
apply_keys(struct parser *p, const cJSON *o, struct mh_config *cfg,
           const char *who)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, o)
    {
        if (runner_word(e->string)) {
            continue;
        }
        char why[512];
        if (set_option(p->c, cfg, key_option(cfg->command, e->string), e, why,
                       sizeof why) != 0) {
            snprintf(p->err, p->errlen, "%s: %s: key \"%s\": %s", p->c->source,
                     who, e->string, why);
            return -1;
        }
    }
    return 0;
}

/* 4. Required keys, then the rules between options of the command line. */
static int
check_complete(struct parser *p, struct mh_config *cfg, const char *who)
{
    const char *src = p->c->source;
    const struct mh_option *m = mh_config_missing(cfg);
    if (m != NULL) {
        char key[MAX_KEY];
        snprintf(key, sizeof key, "%s", m->name);
        for (char *q = key; *q != '\0'; q++) {
            *q = *q == '-' ? '_' : *q;
        }
        snprintf(p->err, p->errlen, "%s: %s: missing required key \"%s\"", src,
                 who, key);
        return -1;
    }
    if (cfg->command == MH_CMD_DNSBL && cfg->host == NULL &&
        cfg->hosts_file == NULL) {
        snprintf(p->err, p->errlen,
                 "%s: %s: missing required key \"host\" (or \"hosts_file\")",
                 src, who);
        return -1;
    }
    if (cfg->command == MH_CMD_DNSBL && cfg->zones.n == 0 &&
        cfg->zones_file == NULL) {
        snprintf(p->err, p->errlen,
                 "%s: %s: missing required key \"zone\" (or \"zones_file\")",
                 src, who);
        return -1;
    }
    char why[512];
    if (mh_config_validate(cfg, why, sizeof why) != 0) {
        to_config_vocabulary(why, sizeof why);
        snprintf(p->err, p->errlen, "%s: %s: %s", src, who, why);
        return -1;
    }
    return 0;
}

/* The check's name and command, so every later message can name it. */
static int
check_identity(struct parser *p, const cJSON *o, size_t i,
               struct mh_run_check *chk, enum mh_command *cmd, char *who,
               size_t wlen)
{
    const char *src = p->c->source;
    if (!cJSON_IsObject(o)) {
        snprintf(p->err, p->errlen,
                 "%s: checks[%zu]: wrong type: each check must be an object",
                 src, i);
        return -1;
    }
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(o, "check");
    if (nm != NULL) {
        if (!cJSON_IsString(nm) || !name_ok(nm->valuestring)) {
            check_label(p, who, wlen, i, NULL, NULL);
            snprintf(p->err, p->errlen,
                     "%s: %s: key \"name\": must be a string of 1..%d "
                     "printable ASCII characters",
                     src, who, MH_RUN_MAX_NAME);
            return -1;
        }
        chk->name = nm->valuestring;
    }
    check_label(p, who, wlen, i, chk->name, NULL);
    const char *dup;
    if (has_duplicate_key(o, &dup)) {
        snprintf(p->err, p->errlen, "%s: %s: key \"%s\" is given twice", src,
                 who, dup);
        return -1;
    }
    if (ck == NULL) {
        snprintf(p->err, p->errlen,
                 "%s: %s: missing required key \"check\" (smtp, tls, dnsbl, "
                 "domain, delivery or mta-sts)",
                 src, who);
        return -1;
    }
    *cmd = cJSON_IsString(ck) ? mh_command_from_name(ck->valuestring)
                              : MH_CMD_NONE;
    const struct mh_command_def *def = mh_command_get(*cmd);
    if (def == NULL || def->check == NULL) {
        snprintf(p->err, p->errlen,
                 "%s: %s: key \"check\": must be one of smtp, tls, dnsbl, "
                 "domain, delivery, mta-sts",
                 src, who);
        return -1;
    }
    check_label(p, who, wlen, i, chk->name, def->name);
    return 0;
}

static int
parse_check(struct parser *p, const cJSON *o, size_t i,
            struct mh_run_check *chk, const struct mh_config *base)
{
    char who[300];
    enum mh_command cmd;
    chk->index = i;
    if (check_identity(p, o, i, chk, &cmd, who, sizeof who) != 0) {
        return -1;
    }
    mh_config_init(&chk->cfg, cmd);
    if (check_keys(p, o, cmd, who) != 0 ||
        apply_defaults(p, o, &chk->cfg, base, who) != 0 ||
        apply_keys(p, o, &chk->cfg, who) != 0 ||
        check_complete(p, &chk->cfg, who) != 0) {
        return -1;
    }
    chk->target = chk->name != NULL ? strdup(chk->name)
                                    : mh_run_default_target(&chk->cfg, i);
    if (chk->target == NULL) {
        snprintf(p->err, p->errlen, "out of memory");
        return -1;
    }
    chk->cfg.trace_label = chk->target;
    return 0;
}

/* Parses every check; target labels must be unique. */
static int
parse_checks(struct parser *p, const cJSON *checks,
             const struct mh_config *base)
{
    struct mh_run_config *c = p->c;
    /* No checks (the key left out or []) is a probe-only exporter: valid
     * when the exporter has modules (cmd_run.c then also needs it to
     * listen). */
    bool probe_only = c->exporter.nmodules > 0;
    if (checks == NULL && probe_only) {
        return 0;
    }
    if (checks == NULL) {
        snprintf(p->err, p->errlen,
                 "%s: missing required key \"checks\" (a probe-only "
                 "exporter has none but needs \"exporter\": {\"modules\": "
                 "...})",
                 c->source);
        return -1;
    }
    if (!cJSON_IsArray(checks) ||
        (cJSON_GetArraySize(checks) < 1 && !probe_only)) {
        snprintf(p->err, p->errlen,
                 "%s: key \"checks\": must be an array of at least one check"
                 "%s",
                 c->source,
                 cJSON_IsArray(checks) ? " (or empty, for a probe-only "
                                         "exporter with \"exporter\": "
                                         "{\"modules\": ...})"
                                       : "");
        return -1;
    }
    size_t n = (size_t)cJSON_GetArraySize(checks);
    if (n == 0) {
        return 0;
    }
    c->checks = calloc(n, sizeof *c->checks);
    if (c->checks == NULL) {
        snprintf(p->err, p->errlen, "out of memory");
        return -1;
    }
    size_t i = 0;
    struct mh_strset targets = {0};
    int rc = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, checks)
    {
        struct mh_run_check *chk = &c->checks[i];
        c->nchecks = i + 1; /* freed by mh_run_config_free from here on */
        if (parse_check(p, e, i, chk, base) != 0) {
            rc = -1;
            break;
        }
        int added = mh_strset_add(&targets, chk->target);
        if (added <= 0) {
            size_t first = 0;
            while (added == 0 && first < i &&
                   strcmp(c->checks[first].target, chk->target) != 0) {
                first++;
            }
            char who[300];
            check_label(p, who, sizeof who, i, chk->name,
                        mh_command_name(chk->cfg.command));
            if (added < 0) {
                snprintf(p->err, p->errlen, "out of memory");
            } else {
                snprintf(p->err, p->errlen,
                         "%s: %s: target \"%s\" is already used by "
                         "checks[%zu]; %s",
                         c->source, who, chk->target, first,
                         chk->name != NULL
                             ? "key \"name\" must be unique"
                             : "give the checks distinct \"name\" keys (the "
                               "target label must be unique)");
            }
            rc = -1;
            break;
        }
        if (chk->cfg.timeout_s > c->max_timeout_s) {
            c->max_timeout_s = chk->cfg.timeout_s;
        }
        i++;
    }
    mh_strset_free(&targets);
    return rc;
}

/* ---- the exporter's object ---- */

/* The placeholder a module's target option holds until a /probe URL
 * gives the target (RFC 2606 reserves .invalid). */
#define MODULE_PLACEHOLDER "probe-target.invalid"

/* One member of exporter.modules: a check template without its target. */
static int
parse_module(struct parser *p, const cJSON *o, size_t i,
             struct mh_run_module *m, const struct mh_config *base)
{
    const char *src = p->c->source;
    const char *name = o->string;
    char who[300];
    snprintf(who, sizeof who, "exporter.modules \"%s\"",
             name_ok(name) ? name : "?");
    if (!name_ok(name) || !cJSON_IsObject(o)) {
        snprintf(p->err, p->errlen,
                 "%s: %s: must be an object named by 1..%d printable ASCII "
                 "characters",
                 src, who, MH_RUN_MAX_NAME);
        return -1;
    }
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(o, "check");
    enum mh_command cmd = cJSON_IsString(ck)
                              ? mh_command_from_name(ck->valuestring)
                              : MH_CMD_NONE;
    enum mh_target_kind kind = mh_command_target_kind(cmd);
    if (kind == MH_TARGET_NONE) {
        snprintf(p->err, p->errlen,
                 "%s: %s: key \"check\": must be one of smtp, tls, dnsbl, "
                 "domain, mta-sts (a check whose target is one host or "
                 "domain)",
                 src, who);
        return -1;
    }
    const char *tkey = kind == MH_TARGET_DOMAIN ? "domain" : "host";
    if (cJSON_GetObjectItemCaseSensitive(o, tkey) != NULL ||
        cJSON_GetObjectItemCaseSensitive(o, "name") != NULL) {
        snprintf(p->err, p->errlen,
                 "%s: %s: key \"%s\" is not allowed in a module (the "
                 "target comes from the /probe URL, the name is the "
                 "module's)",
                 src, who,
                 cJSON_GetObjectItemCaseSensitive(o, "name") != NULL ? "name"
                                                                     : tkey);
        return -1;
    }
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(o, "allowed_targets");
    if (al != NULL) {
        size_t n = cJSON_IsArray(al) ? (size_t)cJSON_GetArraySize(al) : 0;
        m->allowed = calloc(n > 0 ? n : 1, sizeof *m->allowed);
        if (m->allowed == NULL) {
            snprintf(p->err, p->errlen, "out of memory");
            return -1;
        }
        const cJSON *e;
        cJSON_ArrayForEach(e, al)
        {
            if (!cJSON_IsString(e) || e->valuestring[0] == '\0') {
                break;
            }
            m->allowed[m->nallowed++] = e->valuestring;
        }
        if (n == 0 || m->nallowed != n) {
            snprintf(p->err, p->errlen,
                     "%s: %s: key \"allowed_targets\": must be an array of "
                     "non-empty patterns (\"*.example.net\")",
                     src, who);
            return -1;
        }
    }
    /* The template as a check: named after the module, its target option
     * a placeholder, so the check rules apply unchanged. */
    cJSON *t = cJSON_Duplicate(o, true);
    if (t == NULL || !cJSON_AddItemToArray(p->c->exporter.templates, t)) {
        cJSON_Delete(t);
        snprintf(p->err, p->errlen, "out of memory");
        return -1;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(t, "allowed_targets");
    if (cJSON_AddStringToObject(t, "name", name) == NULL ||
        cJSON_AddStringToObject(t, tkey, MODULE_PLACEHOLDER) == NULL) {
        snprintf(p->err, p->errlen, "out of memory");
        return -1;
    }
    return parse_check(p, t, i, &m->chk, base);
}

/* What a handler of an "exporter" key works on: the key k, the settings
 * out, mods (set by "modules") and why (the message when the value is
 * wrong). */
struct exporter_ctx {
    struct mh_run_exporter *out;
    const char *k;
    const cJSON *mods;
    char why[512];
};

/* Keys of "exporter": each handler checks e and stores it in c->out, or
 * writes c->why; it returns -1 when the key is not acceptable at all (a
 * "comment" that is not a string), which is reported as an unknown key. */
struct exporter_key {
    const char *key;
    int (*parse)(struct exporter_ctx *c, const cJSON *e);
};

static int
ex_listen(struct exporter_ctx *c, const cJSON *e)
{
    if (!cJSON_IsString(e) || e->valuestring[0] == '\0') {
        snprintf(c->why, sizeof c->why, "must be a non-empty string");
    } else if (strcmp(c->k, "listen") == 0) {
        struct sockaddr_storage ss;
        socklen_t sl;
        if (mh_exporter_parse_listen(e->valuestring, &ss, &sl, c->why,
                                     sizeof c->why) == 0) {
            c->out->listen = e->valuestring;
        }
    } else if (strcmp(c->k, "tls_cert_file") == 0) {
        c->out->tls_cert_file = e->valuestring;
    } else {
        c->out->tls_key_file = e->valuestring;
    }
    return 0;
}

static int
ex_users(struct exporter_ctx *c, const cJSON *e)
{
    const char *dup;
    const cJSON *u;
    if (!cJSON_IsObject(e) || cJSON_GetArraySize(e) < 1) {
        snprintf(c->why, sizeof c->why,
                 "must be an object of user names and password hashes");
    } else if (has_duplicate_key(e, &dup)) {
        snprintf(c->why, sizeof c->why, "user \"%s\" is given twice", dup);
    }
    cJSON_ArrayForEach(u, e)
    {
        if (c->why[0] != '\0') {
            break;
        }
        if (!name_ok(u->string) || strchr(u->string, ':') != NULL) {
            snprintf(c->why, sizeof c->why,
                     "a user name must be printable ASCII without ':'");
        } else if (!cJSON_IsString(u) ||
                   mh_exporter_check_hash(u->valuestring, c->why,
                                          sizeof c->why) != 0) {
            char w2[400];
            snprintf(w2, sizeof w2, "user \"%.64s\": %.300s", u->string,
                     c->why[0] != '\0' ? c->why : "must be a string");
            snprintf(c->why, sizeof c->why, "%s", w2);
        }
    }
    c->out->users = e;
    return 0;
}

static int
ex_probe_concurrency(struct exporter_ctx *c, const cJSON *e)
{
    if (!cJSON_IsNumber(e) || !(e->valuedouble >= 1) ||
        e->valuedouble > MH_EXPORTER_MAX_PROBES ||
        e->valuedouble != floor(e->valuedouble)) {
        snprintf(c->why, sizeof c->why, "must be a whole number, 1..%u",
                 MH_EXPORTER_MAX_PROBES);
    } else {
        c->out->probe_concurrency = (unsigned)e->valuedouble;
    }
    return 0;
}

static int
ex_timeout_offset(struct exporter_ctx *c, const cJSON *e)
{
    if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0) ||
        e->valuedouble > MH_EXPORTER_MAX_TIMEOUT_OFFSET_S) {
        snprintf(c->why, sizeof c->why, "must be a number of seconds, 0..%g",
                 MH_EXPORTER_MAX_TIMEOUT_OFFSET_S);
    } else {
        c->out->timeout_offset_s = e->valuedouble;
    }
    return 0;
}

static int
ex_modules(struct exporter_ctx *c, const cJSON *e)
{
    const char *dup;
    c->mods = e;
    if (!cJSON_IsObject(e)) {
        snprintf(c->why, sizeof c->why,
                 "must be an object of module names and check templates");
    } else if (has_duplicate_key(e, &dup)) {
        snprintf(c->why, sizeof c->why, "module \"%s\" is given twice", dup);
    }
    return 0;
}

static int
ex_comment(struct exporter_ctx *c, const cJSON *e)
{
    (void)c;
    return cJSON_IsString(e) ? 0 : -1;
}

static const struct exporter_key exporter_keys[] = {
    {"listen", ex_listen},
    {"tls_cert_file", ex_listen},
    {"tls_key_file", ex_listen},
    {"basic_auth_users", ex_users},
    {"probe_concurrency", ex_probe_concurrency},
    {"timeout_offset", ex_timeout_offset},
    {"modules", ex_modules},
    {"comment", ex_comment},
};

/* "unknown key" naming the keys of exporter_keys. */
static void
exporter_unknown_key(struct parser *p, const char *k)
{
    char names[256] = "";
    size_t nk = sizeof exporter_keys / sizeof exporter_keys[0];
    for (size_t i = 0; i < nk; i++) {
        size_t l = strlen(names);
        snprintf(names + l, sizeof names - l, "%s%s", i > 0 ? ", " : "",
                 exporter_keys[i].key);
    }
    snprintf(p->err, p->errlen, "%s: exporter: unknown key \"%s\" (%s)",
             p->c->source, k, names);
}

/* The module templates of "exporter" (parse_module each). Returns 0 or
 * -1. */
static int
parse_modules(struct parser *p, const cJSON *mods, const struct mh_config *base)
{
    struct mh_run_exporter *out = &p->c->exporter;
    size_t n = mods != NULL ? (size_t)cJSON_GetArraySize(mods) : 0;
    out->templates = cJSON_CreateArray();
    out->modules = calloc(n > 0 ? n : 1, sizeof *out->modules);
    if (out->templates == NULL || out->modules == NULL) {
        snprintf(p->err, p->errlen, "out of memory");
        return -1;
    }
    p->list = "exporter.modules";
    size_t i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, mods)
    {
        out->nmodules = i + 1; /* freed by mh_run_config_free from here */
        if (parse_module(p, m, i, &out->modules[i], base) != 0) {
            p->list = NULL;
            return -1;
        }
        i++;
    }
    p->list = NULL;
    return 0;
}

/* exporter: { listen, tls_cert_file, tls_key_file, basic_auth_users,
 * probe_concurrency, timeout_offset, modules } (runner.h, exporter.h). */
static int
parse_exporter(struct parser *p, const cJSON *x, const struct mh_config *base)
{
    const char *src = p->c->source;
    struct mh_run_exporter *out = &p->c->exporter;
    const char *dup;
    if (!cJSON_IsObject(x)) {
        snprintf(p->err, p->errlen,
                 "%s: key \"exporter\": wrong type: must be an object", src);
        return -1;
    }
    if (has_duplicate_key(x, &dup)) {
        snprintf(p->err, p->errlen, "%s: exporter: key \"%s\" is given twice",
                 src, dup);
        return -1;
    }
    struct exporter_ctx c = {.out = out};
    const cJSON *e;
    cJSON_ArrayForEach(e, x)
    {
        const char *k = e->string;
        const struct exporter_key *ek = NULL;
        for (size_t i = 0; i < sizeof exporter_keys / sizeof exporter_keys[0];
             i++) {
            if (strcmp(k, exporter_keys[i].key) == 0) {
                ek = &exporter_keys[i];
            }
        }
        c.k = k;
        c.why[0] = '\0';
        if (ek == NULL || ek->parse(&c, e) != 0) {
            exporter_unknown_key(p, k);
            return -1;
        }
        if (c.why[0] != '\0') {
            snprintf(p->err, p->errlen, "%s: exporter: key \"%s\": %s", src, k,
                     c.why);
            return -1;
        }
    }
    if ((out->tls_cert_file == NULL) != (out->tls_key_file == NULL)) {
        snprintf(p->err, p->errlen,
                 "%s: exporter: keys \"tls_cert_file\" and \"tls_key_file\" "
                 "go together",
                 src);
        return -1;
    }
    return parse_modules(p, c.mods, base);
}

/* ---- the runner's own top-level keys ---- */

static int
key_interval(struct parser *p, const char *k, const cJSON *e)
{
    struct mh_config scratch;
    mh_config_init(&scratch, MH_CMD_RUN);
    char why[256];
    if (!cJSON_IsNumber(e) ||
        set_option(p->c, &scratch, mh_option_find(MH_CMD_RUN, "interval"), e,
                   why, sizeof why) != 0) {
        snprintf(p->err, p->errlen,
                 "%s: key \"%s\": must be a number of seconds, 1..%.0f",
                 p->c->source, k, MH_RUN_MAX_INTERVAL_S);
        return -1;
    }
    p->c->interval_s = scratch.interval_s;
    p->c->has_interval = true;
    return 0;
}

/* spread_s: the span of the checks' start offsets (runner.h). */
static int
key_spread(struct parser *p, const char *k, const cJSON *e)
{
    if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0) ||
        e->valuedouble > MH_RUN_MAX_INTERVAL_S) {
        snprintf(p->err, p->errlen,
                 "%s: key \"%s\": must be a number of seconds, 0..%.0f",
                 p->c->source, k, MH_RUN_MAX_INTERVAL_S);
        return -1;
    }
    p->c->spread_s = e->valuedouble;
    return 0;
}

static int
key_concurrency(struct parser *p, const char *k, const cJSON *e)
{
    if (cJSON_IsString(e) && strcmp(e->valuestring, "auto") == 0) {
        p->c->concurrency = MH_RUN_CONCURRENCY_AUTO;
        return 0;
    }
    if (!cJSON_IsNumber(e) || !(e->valuedouble >= 1) ||
        e->valuedouble > MH_RUN_MAX_CONCURRENCY ||
        e->valuedouble != floor(e->valuedouble)) {
        snprintf(p->err, p->errlen,
                 "%s: key \"%s\": must be a whole number, 1..%u, or \"auto\"",
                 p->c->source, k, MH_RUN_MAX_CONCURRENCY);
        return -1;
    }
    p->c->concurrency = (unsigned)e->valuedouble;
    return 0;
}

/* engine: "loop" (the default) or "threads" (runner.h). */
static int
key_engine(struct parser *p, const char *k, const cJSON *e)
{
    if (cJSON_IsString(e) && strcmp(e->valuestring, "loop") == 0) {
        p->c->engine = MH_RUN_ENGINE_LOOP;
        return 0;
    }
    if (cJSON_IsString(e) && strcmp(e->valuestring, "threads") == 0) {
        p->c->engine = MH_RUN_ENGINE_THREADS;
        return 0;
    }
    snprintf(p->err, p->errlen,
             "%s: key \"%s\": must be \"loop\" or \"threads\"", p->c->source,
             k);
    return -1;
}

static int
key_textfile(struct parser *p, const char *k, const cJSON *e)
{
    if (!cJSON_IsString(e) || e->valuestring[0] == '\0') {
        snprintf(p->err, p->errlen,
                 "%s: key \"%s\": wrong type: must be a non-empty string (a "
                 "path ending in .prom)",
                 p->c->source, k);
        return -1;
    }
    p->c->textfile = e->valuestring;
    return 0;
}

static int
key_comment(struct parser *p, const char *k, const cJSON *e)
{
    if (!cJSON_IsString(e)) {
        snprintf(p->err, p->errlen,
                 "%s: key \"%s\": wrong type: must be a "
                 "string",
                 p->c->source, k);
        return -1;
    }
    return 0;
}

static int
key_notify(struct parser *p, const char *k, const cJSON *e)
{
    (void)k;
    return parse_notify(p, e);
}

/* timeout_seconds: the default -t of every check (a number). */
static int
key_timeout(struct parser *p, const char *k, const cJSON *e)
{
    if (!cJSON_IsNumber(e)) {
        snprintf(p->err, p->errlen,
                 "%s: key \"%s\": wrong type: must be a number of seconds",
                 p->c->source, k);
        return -1;
    }
    return add_default(p, k, "timeout", e);
}

static const struct runner_key {
    const char *key;
    int (*parse)(struct parser *p, const char *k, const cJSON *e);
} runner_keys[] = {
    {"interval_seconds", key_interval},
    {"spread_s", key_spread},
    {"concurrency", key_concurrency},
    {"engine", key_engine},
    {"textfile", key_textfile},
    {"comment", key_comment},
    {"notify", key_notify},
    {"timeout_seconds", key_timeout},
};

/* One top-level key: a runner key, else the default of a check option. */
static int
top_key(struct parser *p, const char *k, const cJSON *e)
{
    for (size_t i = 0; i < sizeof runner_keys / sizeof runner_keys[0]; i++) {
        if (strcmp(k, runner_keys[i].key) == 0) {
            return runner_keys[i].parse(p, k, e);
        }
    }
    char lname[MAX_KEY];
    if (key_to_option(k, lname, sizeof lname) != 0) {
        snprintf(p->err, p->errlen, "%s: unknown top-level key \"%s\"%s",
                 p->c->source, k,
                 strchr(k, '-') != NULL ? " (option names take '_' for '-')"
                                        : "");
        return -1;
    }
    return add_default(p, k, lname, e);
}

static int
parse_top(struct parser *p, const cJSON *root, const struct mh_config *base)
{
    const char *src = p->c->source;
    if (!cJSON_IsObject(root)) {
        snprintf(p->err, p->errlen,
                 "%s: the configuration must be a JSON object", src);
        return -1;
    }
    const char *dup;
    if (has_duplicate_key(root, &dup)) {
        snprintf(p->err, p->errlen, "%s: top-level key \"%s\" is given twice",
                 src, dup);
        return -1;
    }
    if (cJSON_GetObjectItemCaseSensitive(root, "timeout") != NULL &&
        cJSON_GetObjectItemCaseSensitive(root, "timeout_seconds") != NULL) {
        snprintf(p->err, p->errlen,
                 "%s: top-level keys \"timeout\" and \"timeout_seconds\" mean "
                 "the same; give one",
                 src);
        return -1;
    }
    const cJSON *checks = NULL, *exporter = NULL;
    const cJSON *e;
    cJSON_ArrayForEach(e, root)
    {
        if (strcmp(e->string, "checks") == 0) {
            checks = e;
        } else if (strcmp(e->string, "exporter") == 0) {
            exporter = e; /* after the top-level defaults */
        } else if (top_key(p, e->string, e) != 0) {
            return -1;
        }
    }
    if (exporter != NULL && parse_exporter(p, exporter, base) != 0) {
        return -1;
    }
    return parse_checks(p, checks, base);
}

/* Line and column (from 1) of the byte at off in text. */
static void
line_col(const char *text, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && text[i] != '\0'; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* Offset of the first \u0000 escape in the JSON text, or len. cJSON keeps
 * strings NUL-terminated, so "127.0.0.1\u0000evil" would silently become
 * "127.0.0.1". An escape is one after an odd run of backslashes. */
static size_t
nul_escape_at(const char *text, size_t len)
{
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\\') {
            run++;
            continue;
        }
        if (run % 2 == 1 && len - i >= 5 && text[i] == 'u' &&
            memcmp(text + i + 1, "0000", 4) == 0) {
            return i - 1;
        }
        run = 0;
    }
    return len;
}

static int
parse_config(const char *text, size_t len, const char *source,
             const struct mh_config *base, struct mh_run_config **out,
             char *errbuf, size_t errlen)
{
    *out = NULL;
    struct mh_run_config *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    c->source = strdup(source != NULL ? source : "config");
    c->interval_s = MH_RUN_DEFAULT_INTERVAL_S;
    c->spread_s = -1;
    c->concurrency = MH_RUN_CONCURRENCY_AUTO;
    c->notify.timeout_s = MH_RUN_DEFAULT_NOTIFY_TIMEOUT_S;
    c->exporter.probe_concurrency = MH_EXPORTER_DEFAULT_PROBES;
    c->exporter.timeout_offset_s = MH_EXPORTER_TIMEOUT_OFFSET_S;
    if (c->source == NULL) {
        free(c);
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    const char *end = NULL;
    c->json = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (c->json == NULL) {
        size_t line, col;
        size_t off = end != NULL && end >= text ? (size_t)(end - text) : 0;
        line_col(text, off < len ? off : len, &line, &col);
        snprintf(errbuf, errlen,
                 "%s: not valid JSON (error near line %zu, column %zu)",
                 c->source, line, col);
        mh_run_config_free(c);
        return -1;
    }
    /* Trailing garbage after the object, then a \u0000 escape. */
    size_t bad = len;
    const char *what = "", *tail = "";
    if (end != NULL) {
        const char *q = end;
        while (q < text + len &&
               (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) {
            q++;
        }
        if (q < text + len && *q != '\0') {
            bad = (size_t)(q - text);
            what = "not valid JSON (text after the end of the object";
            tail = ")";
        }
    }
    if (bad == len) {
        bad = nul_escape_at(text, len);
        what = "a string holds \\u0000 (a NUL byte would cut the value "
               "short),";
    }
    if (bad < len) {
        size_t line, col;
        line_col(text, bad, &line, &col);
        snprintf(errbuf, errlen, "%s: %s at line %zu, column %zu%s", c->source,
                 what, line, col, tail);
        mh_run_config_free(c);
        return -1;
    }
    struct parser p = {.c = c, .err = errbuf, .errlen = errlen};
    int rc = parse_top(&p, c->json, base);
    free(p.defs);
    if (rc != 0) {
        mh_run_config_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int
mh_run_config_parse(const char *text, size_t len, const char *source,
                    const struct mh_config *base, struct mh_run_config **out,
                    char *errbuf, size_t errlen)
{
    int rc = parse_config(text, len, source, base, out, errbuf, errlen);
    /* Messages quote keys and values from the file: keep them one line
     * (a key with a newline broke the status line; found by
     * fuzz_runner_config), escaped as on the command line (cli.c). */
    if (rc != 0) {
        mh_text_escape_line(errbuf, errlen);
    }
    return rc;
}

int
mh_run_config_load(const char *path, const struct mh_config *base,
                   struct mh_run_config **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(errbuf, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) {
            break;
        }
        if (cap >= MAX_CONFIG_BYTES) {
            free(buf);
            fclose(f);
            snprintf(errbuf, errlen, "%s: larger than %u bytes", path,
                     MAX_CONFIG_BYTES);
            return -1;
        }
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (nb == NULL) {
            free(buf);
        }
        buf = nb;
    }
    if (buf == NULL) {
        fclose(f);
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    bool err = ferror(f) != 0;
    fclose(f);
    if (err) {
        free(buf);
        snprintf(errbuf, errlen, "cannot read %s", path);
        return -1;
    }
    buf[n] = '\0';
    int rc = mh_run_config_parse(buf, n, path, base, out, errbuf, errlen);
    free(buf);
    return rc;
}

void
mh_run_config_free(struct mh_run_config *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->nchecks; i++) {
        mh_config_free(&c->checks[i].cfg);
        free(c->checks[i].target);
    }
    free(c->checks);
    for (size_t i = 0; i < c->exporter.nmodules; i++) {
        mh_config_free(&c->exporter.modules[i].chk.cfg);
        free(c->exporter.modules[i].chk.target);
        free(c->exporter.modules[i].allowed);
    }
    free(c->exporter.modules);
    cJSON_Delete(c->exporter.templates);
    for (size_t i = 0; i < c->nowned; i++) {
        free(c->owned[i]);
    }
    free(c->owned);
    if (c->token != NULL) {
        OPENSSL_cleanse(c->token, strlen(c->token));
        free(c->token);
    }
    cJSON_Delete(c->json);
    free(c->source);
    free(c);
}
