/* SPDX-License-Identifier: MIT */
/*
 * runner_config: loads the runner's JSON configuration into one
 * struct mh_config per check (see runner.h for the format and the rules).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "render.h"
#include "runner.h"

#define MAX_CONFIG_BYTES (16u * 1024u * 1024u)

/* Probe subcommands a check may name, in the order defaults are tried. */
static const enum mh_command probe_commands[] = {
    MH_CMD_SMTP, MH_CMD_TLS, MH_CMD_DNSBL, MH_CMD_DOMAIN, MH_CMD_DELIVERY};
#define NPROBES (sizeof probe_commands / sizeof probe_commands[0])

/* Options that exist for the subcommands but make no sense in a check. */
static const char *const forbidden[] = {"help", "version", "output",
                                        "textfile"};

/* A top-level key that is the default of a check option. */
struct deflt {
    const char *key; /* as written in the config */
    char lname[64];  /* the long option */
    const cJSON *val;
};

/* Parser state. */
struct parser {
    struct mh_run_config *c;
    char *err;
    size_t errlen;
    struct deflt *defs;
    size_t ndefs;
};

static bool
is_forbidden(const char *lname)
{
    for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
        if (strcmp(lname, forbidden[i]) == 0) {
            return true;
        }
    }
    return false;
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

/* Rewrites "--foo-bar" in a message of cli.c into 'foo_bar' (the config's
 * spelling), in place. */
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
            snprintf(buf, sizeof buf, "%.17g", x);
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
 * Sets the option lname of cfg from the JSON value v. Returns 0, or -1 with
 * the reason in why.
 */
static int
set_option(struct mh_run_config *c, struct mh_config *cfg, const char *lname,
           const cJSON *v, char *why, size_t wlen)
{
    bool known;
    bool flag = mh_option_is_flag(cfg->command, lname, &known);
    if (!known) {
        snprintf(why, wlen, "not an option of %s",
                 mh_command_name(cfg->command));
        return -1;
    }
    if (flag) {
        if (cJSON_IsTrue(v)) {
            if (mh_config_set(cfg, lname, NULL, why, wlen) != 0) {
                return -1;
            }
            return 0;
        }
        if (cJSON_IsFalse(v)) {
            return 0; /* false = omitted */
        }
        snprintf(why, wlen, "wrong type: a flag takes true or false");
        return -1;
    }
    if (mh_option_is_list(lname) && cJSON_IsArray(v)) {
        const cJSON *e;
        size_t i = 0;
        cJSON_ArrayForEach(e, v)
        {
            char sub[256];
            const char *t = scalar_text(c, e, sub, sizeof sub);
            if (t == NULL) {
                snprintf(why, wlen, "element %zu: %s", i, sub);
                return -1;
            }
            if (mh_config_set(cfg, lname, t, why, wlen) != 0) {
                return -1;
            }
            i++;
        }
        return 0;
    }
    const char *t = scalar_text(c, v, why, wlen);
    if (t == NULL) {
        return -1;
    }
    return mh_config_set(cfg, lname, t, why, wlen);
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
    switch (cfg->command) {
    case MH_CMD_SMTP:
    case MH_CMD_TLS: {
        const char *port =
            cfg->port != NULL ? cfg->port : (cfg->tls ? "465" : "25");
        const char *h = cfg->host != NULL ? cfg->host : "";
        snprintf(buf, sizeof buf, strchr(h, ':') != NULL ? "[%s]:%s" : "%s:%s",
                 h, port);
        break;
    }
    case MH_CMD_DNSBL:
        snprintf(buf, sizeof buf, "%s", cfg->host != NULL ? cfg->host : "");
        break;
    case MH_CMD_DOMAIN:
        snprintf(buf, sizeof buf, "%s", cfg->domain != NULL ? cfg->domain : "");
        break;
    case MH_CMD_DELIVERY:
    case MH_CMD_NONE:
    case MH_CMD_RUN:
    case MH_CMD_LAST:
    default:
        if (cfg->host != NULL) {
            snprintf(buf, sizeof buf, "%s", cfg->host);
        } else {
            snprintf(buf, sizeof buf, "%s-%zu", mh_command_name(cfg->command),
                     index);
        }
        break;
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

/* Validates a top-level option default against the first subcommand that
 * has the option. */
static int
check_default(struct parser *p, const struct deflt *d)
{
    for (size_t i = 0; i < NPROBES; i++) {
        bool known;
        mh_option_is_flag(probe_commands[i], d->lname, &known);
        if (!known) {
            continue;
        }
        struct mh_config scratch;
        mh_config_init(&scratch, probe_commands[i]);
        char why[512];
        int rc = set_option(p->c, &scratch, d->lname, d->val, why, sizeof why);
        mh_config_free(&scratch);
        if (rc != 0) {
            to_config_vocabulary(why, sizeof why);
            snprintf(p->err, p->errlen, "%s: top-level key \"%s\": %s",
                     p->c->source, d->key, why);
            return -1;
        }
        return 0;
    }
    snprintf(p->err, p->errlen,
             "%s: unknown top-level key \"%s\" (not a runner key nor an "
             "option of any check)",
             p->c->source, d->key);
    return -1;
}

static int
add_default(struct parser *p, const char *key, const char *lname,
            const cJSON *v)
{
    struct deflt *d = realloc(p->defs, (p->ndefs + 1) * sizeof *d);
    if (d == NULL) {
        snprintf(p->err, p->errlen, "out of memory");
        return -1;
    }
    p->defs = d;
    d = &p->defs[p->ndefs++];
    d->key = key;
    snprintf(d->lname, sizeof d->lname, "%s", lname);
    d->val = v;
    return check_default(p, d);
}

/* "checks[3] \"mx1\"" or "checks[3] (smtp)" for messages. */
static void
check_label(char *buf, size_t len, size_t i, const char *name, const char *cmd)
{
    if (name != NULL) {
        snprintf(buf, len, "checks[%zu] \"%s\"", i, name);
    } else if (cmd != NULL) {
        snprintf(buf, len, "checks[%zu] (%s)", i, cmd);
    } else {
        snprintf(buf, len, "checks[%zu]", i);
    }
}

static int
parse_check(struct parser *p, const cJSON *o, size_t i,
            struct mh_run_check *chk)
{
    const char *src = p->c->source;
    char who[300];
    chk->index = i;
    if (!cJSON_IsObject(o)) {
        snprintf(p->err, p->errlen,
                 "%s: checks[%zu]: wrong type: each check must be an object",
                 src, i);
        return -1;
    }
    /* name and check first, so every later message can name the check. */
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(o, "check");
    if (nm != NULL) {
        if (!cJSON_IsString(nm) || !name_ok(nm->valuestring)) {
            check_label(who, sizeof who, i, NULL, NULL);
            snprintf(p->err, p->errlen,
                     "%s: %s: key \"name\": must be a string of 1..%d "
                     "printable ASCII characters",
                     src, who, MH_RUN_MAX_NAME);
            return -1;
        }
        chk->name = nm->valuestring;
    }
    check_label(who, sizeof who, i, chk->name, NULL);
    const char *dup;
    if (has_duplicate_key(o, &dup)) {
        snprintf(p->err, p->errlen, "%s: %s: key \"%s\" is given twice", src,
                 who, dup);
        return -1;
    }
    if (ck == NULL) {
        snprintf(p->err, p->errlen,
                 "%s: %s: missing required key \"check\" (smtp, tls, dnsbl, "
                 "domain or delivery)",
                 src, who);
        return -1;
    }
    enum mh_command cmd = cJSON_IsString(ck)
                              ? mh_command_from_name(ck->valuestring)
                              : MH_CMD_NONE;
    if (cmd == MH_CMD_NONE || cmd == MH_CMD_RUN) {
        snprintf(p->err, p->errlen,
                 "%s: %s: key \"check\": must be one of smtp, tls, dnsbl, "
                 "domain, delivery",
                 src, who);
        return -1;
    }
    check_label(who, sizeof who, i, chk->name, mh_command_name(cmd));
    struct mh_config *cfg = &chk->cfg;
    mh_config_init(cfg, cmd);

    /* 1. The check's keys are known options with the right spelling. */
    const cJSON *e;
    cJSON_ArrayForEach(e, o)
    {
        const char *k = e->string;
        if (strcmp(k, "name") == 0 || strcmp(k, "check") == 0) {
            continue;
        }
        if (strcmp(k, "comment") == 0) {
            if (!cJSON_IsString(e)) {
                snprintf(p->err, p->errlen,
                         "%s: %s: key \"comment\": wrong type: must be a "
                         "string",
                         src, who);
                return -1;
            }
            continue;
        }
        char lname[64];
        if (key_to_option(k, lname, sizeof lname) != 0) {
            if (strchr(k, '-') != NULL) {
                char fix[64];
                snprintf(fix, sizeof fix, "%s", k);
                for (char *q = fix; *q != '\0'; q++) {
                    *q = *q == '-' ? '_' : *q;
                }
                snprintf(p->err, p->errlen,
                         "%s: %s: unknown key \"%s\" (write \"%s\": option "
                         "names take '_' for '-')",
                         src, who, k, fix);
            } else {
                snprintf(p->err, p->errlen, "%s: %s: unknown key \"%s\"", src,
                         who, k);
            }
            return -1;
        }
        bool known;
        mh_option_is_flag(cmd, lname, &known);
        if (!known) {
            snprintf(p->err, p->errlen,
                     "%s: %s: unknown key \"%s\" (not an option of "
                     "check_mailhealth %s%s)",
                     src, who, k, mh_command_name(cmd),
                     strcmp(k, "timeout_seconds") == 0
                         ? "; a check's own timeout is \"timeout\""
                         : "");
            return -1;
        }
        if (is_forbidden(lname)) {
            snprintf(p->err, p->errlen,
                     "%s: %s: key \"%s\" is not allowed in a check (the "
                     "runner writes every result to the textfile)",
                     src, who, k);
            return -1;
        }
    }
    if (cJSON_GetObjectItemCaseSensitive(o, "host") != NULL &&
        cJSON_GetObjectItemCaseSensitive(o, "hostname") != NULL) {
        snprintf(p->err, p->errlen,
                 "%s: %s: keys \"host\" and \"hostname\" are the same option; "
                 "give one",
                 src, who);
        return -1;
    }

    /* 2. Top-level defaults the check does not override. */
    for (size_t d = 0; d < p->ndefs; d++) {
        const struct deflt *df = &p->defs[d];
        bool known;
        mh_option_is_flag(cmd, df->lname, &known);
        if (!known) {
            continue;
        }
        /* The check's own key wins (timeout_seconds is "timeout"). */
        char ckey[64];
        snprintf(ckey, sizeof ckey, "%s", df->lname);
        for (char *q = ckey; *q != '\0'; q++) {
            *q = *q == '-' ? '_' : *q;
        }
        if (cJSON_GetObjectItemCaseSensitive(o, ckey) != NULL ||
            (strcmp(ckey, "host") == 0 &&
             cJSON_GetObjectItemCaseSensitive(o, "hostname") != NULL) ||
            (strcmp(ckey, "hostname") == 0 &&
             cJSON_GetObjectItemCaseSensitive(o, "host") != NULL)) {
            continue;
        }
        char why[512];
        if (set_option(p->c, cfg, df->lname, df->val, why, sizeof why) != 0) {
            to_config_vocabulary(why, sizeof why);
            snprintf(p->err, p->errlen, "%s: %s: top-level default \"%s\": %s",
                     src, who, df->key, why);
            return -1;
        }
    }

    /* 3. The check's own keys. */
    cJSON_ArrayForEach(e, o)
    {
        const char *k = e->string;
        if (strcmp(k, "name") == 0 || strcmp(k, "check") == 0 ||
            strcmp(k, "comment") == 0) {
            continue;
        }
        char lname[64];
        key_to_option(k, lname, sizeof lname); /* checked above */
        char why[512];
        if (set_option(p->c, cfg, lname, e, why, sizeof why) != 0) {
            to_config_vocabulary(why, sizeof why);
            snprintf(p->err, p->errlen, "%s: %s: key \"%s\": %s", src, who, k,
                     why);
            return -1;
        }
    }

    /* 4. Required keys, then the cross-option rules of the command line. */
    if ((cmd == MH_CMD_SMTP || cmd == MH_CMD_TLS || cmd == MH_CMD_DNSBL) &&
        (cfg->host == NULL || cfg->host[0] == '\0')) {
        snprintf(p->err, p->errlen, "%s: %s: missing required key \"host\"",
                 src, who);
        return -1;
    }
    if (cmd == MH_CMD_DOMAIN && (cfg->domain == NULL || cfg->domain[0] == 0)) {
        snprintf(p->err, p->errlen, "%s: %s: missing required key \"domain\"",
                 src, who);
        return -1;
    }
    if (cmd == MH_CMD_DNSBL && cfg->zones.n == 0 && cfg->zones_file == NULL) {
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
    chk->target =
        chk->name != NULL ? strdup(chk->name) : mh_run_default_target(cfg, i);
    if (chk->target == NULL) {
        snprintf(p->err, p->errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int
parse_top(struct parser *p, const cJSON *root, const struct mh_config *base)
{
    struct mh_run_config *c = p->c;
    const char *src = c->source;
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
    const cJSON *checks = NULL;
    const cJSON *e;
    cJSON_ArrayForEach(e, root)
    {
        const char *k = e->string;
        if (strcmp(k, "checks") == 0) {
            checks = e;
        } else if (strcmp(k, "interval_seconds") == 0) {
            if (!cJSON_IsNumber(e) || !(e->valuedouble >= 1) ||
                e->valuedouble > MH_RUN_MAX_INTERVAL_S) {
                snprintf(p->err, p->errlen,
                         "%s: key \"interval_seconds\": must be a number of "
                         "seconds, 1..%.0f",
                         src, MH_RUN_MAX_INTERVAL_S);
                return -1;
            }
            c->interval_s = e->valuedouble;
            c->has_interval = true;
        } else if (strcmp(k, "concurrency") == 0) {
            if (!cJSON_IsNumber(e) || !(e->valuedouble >= 1) ||
                e->valuedouble > MH_RUN_MAX_CONCURRENCY ||
                e->valuedouble != floor(e->valuedouble)) {
                snprintf(p->err, p->errlen,
                         "%s: key \"concurrency\": must be a whole number, "
                         "1..%u",
                         src, MH_RUN_MAX_CONCURRENCY);
                return -1;
            }
            c->concurrency = (unsigned)e->valuedouble;
        } else if (strcmp(k, "textfile") == 0) {
            if (!cJSON_IsString(e) || e->valuestring[0] == '\0') {
                snprintf(p->err, p->errlen,
                         "%s: key \"textfile\": wrong type: must be a "
                         "non-empty string (a path ending in .prom)",
                         src);
                return -1;
            }
            c->textfile = e->valuestring;
        } else if (strcmp(k, "comment") == 0) {
            if (!cJSON_IsString(e)) {
                snprintf(p->err, p->errlen,
                         "%s: key \"comment\": wrong type: must be a string",
                         src);
                return -1;
            }
        } else if (strcmp(k, "notify") == 0) {
            if (parse_notify(p, e) != 0) {
                return -1;
            }
        } else if (strcmp(k, "timeout_seconds") == 0) {
            if (!cJSON_IsNumber(e)) {
                snprintf(p->err, p->errlen,
                         "%s: key \"timeout_seconds\": wrong type: must be a "
                         "number of seconds",
                         src);
                return -1;
            }
            if (add_default(p, k, "timeout", e) != 0) {
                return -1;
            }
        } else {
            char lname[64];
            if (key_to_option(k, lname, sizeof lname) != 0 ||
                is_forbidden(lname) || strcmp(lname, "config") == 0 ||
                strcmp(lname, "once") == 0 || strcmp(lname, "interval") == 0) {
                snprintf(p->err, p->errlen,
                         "%s: unknown top-level key \"%s\"%s", src, k,
                         strchr(k, '-') != NULL
                             ? " (option names take '_' for '-')"
                             : "");
                return -1;
            }
            if (add_default(p, k, lname, e) != 0) {
                return -1;
            }
        }
    }
    if (checks == NULL) {
        snprintf(p->err, p->errlen, "%s: missing required key \"checks\"", src);
        return -1;
    }
    if (!cJSON_IsArray(checks) || cJSON_GetArraySize(checks) < 1) {
        snprintf(p->err, p->errlen,
                 "%s: key \"checks\": must be an array of at least one check",
                 src);
        return -1;
    }
    size_t n = (size_t)cJSON_GetArraySize(checks);
    c->checks = calloc(n, sizeof *c->checks);
    if (c->checks == NULL) {
        snprintf(p->err, p->errlen, "out of memory");
        return -1;
    }
    size_t i = 0;
    struct mh_strset targets = {0};
    int rc = 0;
    cJSON_ArrayForEach(e, checks)
    {
        struct mh_run_check *chk = &c->checks[i];
        c->nchecks = i + 1; /* freed by mh_run_config_free from here on */
        if (parse_check(p, e, i, chk) != 0) {
            rc = -1;
            break;
        }
        /* The command line's -t and --resolver are the fallbacks when
         * neither the check nor the top level sets them. */
        if (base != NULL) {
            bool has_t = false, has_r = false;
            for (size_t d = 0; d < p->ndefs; d++) {
                has_t = has_t || strcmp(p->defs[d].lname, "timeout") == 0;
                has_r = has_r || strcmp(p->defs[d].lname, "resolver") == 0;
            }
            if (!has_t &&
                cJSON_GetObjectItemCaseSensitive(e, "timeout") == NULL) {
                chk->cfg.timeout_s = base->timeout_s;
            }
            if (!has_r && base->resolver != NULL &&
                cJSON_GetObjectItemCaseSensitive(e, "resolver") == NULL) {
                chk->cfg.resolver = base->resolver;
            }
        }
        int added = mh_strset_add(&targets, chk->target);
        if (added < 0) {
            snprintf(p->err, p->errlen, "out of memory");
            rc = -1;
            break;
        }
        if (added == 0) {
            size_t first = 0;
            while (first < i &&
                   strcmp(c->checks[first].target, chk->target) != 0) {
                first++;
            }
            char who[300];
            check_label(who, sizeof who, i, chk->name,
                        mh_command_name(chk->cfg.command));
            snprintf(p->err, p->errlen,
                     "%s: %s: target \"%s\" is already used by checks[%zu]; "
                     "%s",
                     src, who, chk->target, first,
                     chk->name != NULL
                         ? "key \"name\" must be unique"
                         : "give the checks distinct \"name\" keys (the "
                           "target label must be unique)");
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
    c->concurrency = MH_RUN_DEFAULT_CONCURRENCY;
    c->notify.timeout_s = MH_RUN_DEFAULT_NOTIFY_TIMEOUT_S;
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
    /* Trailing garbage after the object. */
    if (end != NULL) {
        const char *q = end;
        while (q < text + len &&
               (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')) {
            q++;
        }
        if (q < text + len && *q != '\0') {
            size_t line, col;
            line_col(text, (size_t)(q - text), &line, &col);
            snprintf(errbuf, errlen,
                     "%s: not valid JSON (text after the end of the object "
                     "at line %zu, column %zu)",
                     c->source, line, col);
            mh_run_config_free(c);
            return -1;
        }
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
     * fuzz_runner_config). */
    for (char *q = errbuf; rc != 0 && errlen > 0 && *q != '\0'; q++) {
        if ((unsigned char)*q < 0x20 || *q == 0x7f) {
            *q = '?';
        }
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
