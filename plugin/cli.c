/* SPDX-License-Identifier: MIT */
/*
 * cli: option table, getopt_long parsing and --help (see cli.h).
 */
#include <stdio.h>

#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../probes/delivery.h"
#include "version.h"

/* Subcommand masks. */
#define C_SMTP (1u << MH_CMD_SMTP)
#define C_TLS (1u << MH_CMD_TLS)
#define C_DNSBL (1u << MH_CMD_DNSBL)
#define C_DOMAIN (1u << MH_CMD_DOMAIN)
#define C_DELIV (1u << MH_CMD_DELIVERY)
#define C_RUN (1u << MH_CMD_RUN)
#define C_PROBES (C_SMTP | C_TLS | C_DNSBL | C_DOMAIN | C_DELIV)
#define C_ALL (C_PROBES | C_RUN)
#define C_TLSLIKE (C_SMTP | C_TLS | C_DOMAIN)

enum opt_id {
    O_HOST = 1,
    O_DOMAIN,
    O_PORT,
    O_WARNING,
    O_CRITICAL,
    O_TIMEOUT,
    O_IPV4,
    O_IPV6,
    O_RESOLVER,
    O_OUTPUT,
    O_TEXTFILE,
    O_VERBOSE,
    O_HELP,
    O_VERSION,
    O_STARTTLS,
    O_TLS,
    O_STARTTLS_OPTIONAL,
    O_SNI,
    O_NO_SNI,
    O_EHLO,
    O_EXPECT_GREETING,
    O_MAX_LINE_LENGTH,
    O_AUTH_USER,
    O_AUTH_PASSWORD_FILE,
    O_AUTH_PASSWORD_ENV,
    O_AUTH_MECH,
    O_ALLOW_PLAINTEXT_AUTH,
    O_MAIL_FROM,
    O_RCPT_TO,
    O_RELAY_TEST,
    O_CERT_DAYS,
    O_CA_FILE,
    O_CA_PATH,
    O_VERIFY_NAME,
    O_NO_VERIFY,
    O_TLS_MIN,
    O_ZONE,
    O_ZONES_FILE,
    O_CONFIG,
    O_ONCE,
    O_INTERVAL,
    O_SUBMIT,
    O_IMAP,
    O_IMAP_USER,
    O_IMAP_PASSWORD_FILE,
    O_IMAP_PASSWORD_ENV,
    O_POLL_INTERVAL,
    O_INSECURE_PLAINTEXT
};

struct opt {
    const char *name;
    int short_name; /* 0: long only */
    bool has_arg;
    bool list; /* repeatable */
    unsigned commands;
    enum opt_id id;
    const char *arg; /* argument name in --help */
    const char *help;
};

static const struct opt opts[] = {
    {"host", 'H', true, false, C_SMTP | C_TLS | C_DNSBL, O_HOST, "HOST",
     "target host name or address (dnsbl: address, host name or domain)"},
    {"hostname", 0, true, false, C_SMTP | C_TLS | C_DNSBL, O_HOST, "HOST",
     "same as --host (check_smtp spelling)"},
    {"domain", 'D', true, false, C_DOMAIN, O_DOMAIN, "DOMAIN",
     "mail domain: its MX hosts are looked up and checked"},
    {"port", 'p', true, false, C_SMTP | C_TLS | C_DOMAIN, O_PORT, "PORT",
     "TCP port (default 25; 465 with --tls)"},
    {"warning", 'w', true, false, C_PROBES, O_WARNING, "RANGE",
     "warning range (smtp/tls: total seconds; dnsbl: listing zones; "
     "delivery: delay seconds)"},
    {"critical", 'c', true, false, C_PROBES, O_CRITICAL, "RANGE",
     "critical range (Nagios syntax: 10, 10:, ~:10, 10:20, @10:20)"},
    {"timeout", 't', true, false, C_ALL, O_TIMEOUT, "SECONDS",
     "one deadline for the whole check (default 10)"},
    {"use-ipv4", '4', false, false,
     C_SMTP | C_TLS | C_DNSBL | C_DOMAIN | C_DELIV, O_IPV4, NULL,
     "IPv4 only (dnsbl: check only the host's IPv4 addresses)"},
    {"use-ipv6", '6', false, false,
     C_SMTP | C_TLS | C_DNSBL | C_DOMAIN | C_DELIV, O_IPV6, NULL,
     "IPv6 only (dnsbl: check only the host's IPv6 addresses)"},
    {"resolver", 0, true, false, C_ALL, O_RESOLVER, "IP[:PORT]",
     "DNS resolver to use (default: the system resolver)"},
    {"output", 0, true, false, C_ALL, O_OUTPUT, "FORMAT",
     "nagios (default), json or prometheus"},
    {"textfile", 0, true, false, C_ALL, O_TEXTFILE, "PATH",
     "also write Prometheus metrics atomically to PATH"},
    {"verbose", 'v', false, false, C_ALL, O_VERBOSE, NULL,
     "diagnostics on stderr (repeat for more; never secrets)"},
    {"help", 'h', false, false, C_ALL, O_HELP, NULL, "this help, exit 3"},
    {"version", 'V', false, false, C_ALL, O_VERSION, NULL,
     "print the version, exit 3"},
    {"starttls", 'S', false, false, C_TLSLIKE, O_STARTTLS, NULL,
     "require STARTTLS (RFC 3207); missing or refused is CRITICAL/tls"},
    {"require-starttls", 0, false, false, C_TLSLIKE, O_STARTTLS, NULL,
     "same as --starttls"},
    {"tls", 's', false, false, C_SMTP | C_TLS, O_TLS, NULL,
     "implicit TLS from the first byte (port 465; tls: handshake only, any "
     "port)"},
    {"starttls-optional", 0, false, false, C_TLSLIKE, O_STARTTLS_OPTIONAL, NULL,
     "STARTTLS not offered is only WARNING"},
    {"sni", 0, true, false, C_TLSLIKE, O_SNI, "NAME",
     "server name sent in TLS (default: the -H name)"},
    {"no-sni", 0, false, false, C_TLSLIKE, O_NO_SNI, NULL, "send no SNI"},
    {"ehlo", 'F', true, false, C_TLSLIKE | C_DELIV, O_EHLO, "NAME",
     "name sent with EHLO/HELO (default: this machine's FQDN)"},
    {"expect-greeting", 'e', true, false, C_SMTP, O_EXPECT_GREETING, "CODE",
     "greeting reply code that counts as OK (default 220)"},
    {"max-line-length", 0, true, false, C_TLSLIKE, O_MAX_LINE_LENGTH, "OCTETS",
     "longest reply line accepted (default 510 + CRLF, RFC 5321)"},
    {"auth-user", 'U', true, false, C_SMTP | C_DELIV, O_AUTH_USER, "USER",
     "authenticate as USER (RFC 4954)"},
    {"auth-password-file", 0, true, false, C_SMTP | C_DELIV,
     O_AUTH_PASSWORD_FILE, "FILE", "read the AUTH password from FILE"},
    {"auth-password-env", 0, true, false, C_SMTP | C_DELIV, O_AUTH_PASSWORD_ENV,
     "VAR", "read the AUTH password from environment variable VAR"},
    {"auth-mech", 'A', true, false, C_SMTP | C_DELIV, O_AUTH_MECH, "MECH",
     "PLAIN, LOGIN or CRAM-MD5 (default: best offered)"},
    {"allow-plaintext-auth", 0, false, false, C_SMTP, O_ALLOW_PLAINTEXT_AUTH,
     NULL, "allow AUTH without TLS"},
    {"mail-from", 'f', true, false, C_SMTP | C_DELIV, O_MAIL_FROM, "ADDR",
     "send MAIL FROM:<ADDR> and check the reply"},
    {"rcpt-to", 'r', true, true, C_SMTP | C_DELIV, O_RCPT_TO, "ADDR",
     "send RCPT TO:<ADDR> (repeatable) and check each reply"},
    {"relay-test", 0, true, false, C_SMTP, O_RELAY_TEST, "ADDR",
     "foreign address that must be refused (open relay test)"},
    {"cert-days", 0, true, false, C_TLSLIKE, O_CERT_DAYS, "W,C",
     "check the certificates: days left warning,critical (30,14 when not "
     "given; smtp/domain check only with this or a trust/name option)"},
    {"ca-file", 0, true, false, C_TLSLIKE | C_DELIV, O_CA_FILE, "FILE",
     "trust anchors (PEM) instead of the system store"},
    {"ca-path", 0, true, false, C_TLSLIKE | C_DELIV, O_CA_PATH, "DIR",
     "directory of trust anchors (c_rehash layout)"},
    {"verify-name", 0, true, false, C_TLSLIKE, O_VERIFY_NAME, "NAME",
     "name the certificate must match (default: the -H name)"},
    {"no-verify", 0, false, false, C_TLSLIKE, O_NO_VERIFY, NULL,
     "chain/name verification failures become notes"},
    {"tls-min", 0, true, false, C_TLSLIKE, O_TLS_MIN, "VERSION",
     "lowest TLS version accepted: 1.0, 1.1, 1.2 (default), 1.3"},
    {"zone", 'z', true, true, C_DNSBL | C_DOMAIN, O_ZONE, "ZONE[:TYPE]",
     "DNSBL zone to query; TYPE ip (default), ip4, ip6 or domain"},
    {"zones-file", 0, true, false, C_DNSBL | C_DOMAIN, O_ZONES_FILE, "FILE",
     "JSON file of zones with their type and return codes"},
    {"submit", 0, true, false, C_DELIV, O_SUBMIT, "URL",
     "smtp://HOST[:587] (STARTTLS) or smtps://HOST[:465] (implicit TLS)"},
    {"imap", 0, true, false, C_DELIV, O_IMAP, "URL",
     "imap://HOST[:143][/MAILBOX] (STARTTLS) or imaps://HOST[:993][/MAILBOX]"},
    {"imap-user", 0, true, false, C_DELIV, O_IMAP_USER, "USER",
     "IMAP login user"},
    {"imap-password-file", 0, true, false, C_DELIV, O_IMAP_PASSWORD_FILE,
     "FILE", "read the IMAP password from FILE"},
    {"imap-password-env", 0, true, false, C_DELIV, O_IMAP_PASSWORD_ENV, "VAR",
     "read the IMAP password from environment variable VAR"},
    {"poll-interval", 0, true, false, C_DELIV, O_POLL_INTERVAL, "SECONDS",
     "longest pause between mailbox searches (default 1; the first "
     "pauses are 0.1, 0.2, 0.4 ... s)"},
    {"insecure-plaintext", 0, false, false, C_DELIV, O_INSECURE_PLAINTEXT, NULL,
     "smtp:// and imap:// go on in plaintext without STARTTLS"},
    {"config", 'C', true, false, C_RUN, O_CONFIG, "FILE",
     "runner configuration (JSON)"},
    {"once", 0, false, false, C_RUN, O_ONCE, NULL,
     "run one round, write the textfile, exit"},
    {"interval", 0, true, false, C_RUN, O_INTERVAL, "SECONDS",
     "seconds between rounds"},
};
#define NOPTS (sizeof opts / sizeof opts[0])

static const char *const command_names[] = {
    "", "smtp", "tls", "dnsbl", "domain", "delivery", "run"};
_Static_assert(sizeof command_names / sizeof command_names[0] ==
                   (size_t)MH_CMD_LAST,
               "command_names out of sync with enum mh_command");

static const char *const command_help[] = {
    "",
    "SMTP dialogue: greeting, EHLO, STARTTLS/TLS, AUTH, MAIL FROM, RCPT TO",
    "TLS certificate: verified chain, host name, expiry of every element",
    "DNS blocklists: all zones in parallel, return codes understood",
    "MX lookup, then smtp, tls and dnsbl checks on every MX host",
    "round trip: submit a token mail, find it over IMAP",
    "many checks from a JSON config into a node_exporter textfile",
};

const char *
mh_command_name(enum mh_command cmd)
{
    if ((int)cmd < 0 || cmd >= MH_CMD_LAST) {
        return "";
    }
    return command_names[cmd];
}

enum mh_command
mh_command_from_name(const char *name)
{
    for (int i = 1; i < (int)MH_CMD_LAST; i++) {
        if (strcmp(name, command_names[i]) == 0) {
            return (enum mh_command)i;
        }
    }
    return MH_CMD_NONE;
}

void
mh_config_init(struct mh_config *cfg, enum mh_command cmd)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->command = cmd;
    cfg->timeout_s = 10;
    cfg->family = AF_UNSPEC;
    cfg->output = MH_OUT_NAGIOS;
    cfg->cert_warn_days = 30;
    cfg->cert_crit_days = 14;
    cfg->poll_interval_s = 1;
}

void
mh_config_free(struct mh_config *cfg)
{
    free(cfg->rcpt_to.v);
    free(cfg->zones.v);
    cfg->rcpt_to.v = NULL;
    cfg->zones.v = NULL;
    cfg->rcpt_to.n = cfg->zones.n = 0;
}

static int
list_add(struct mh_strlist *l, const char *s)
{
    const char **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (v == NULL) {
        return -1;
    }
    v[l->n++] = s;
    l->v = v;
    return 0;
}

static const struct opt *
find_long(enum mh_command cmd, const char *name)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (strcmp(opts[i].name, name) == 0 &&
            (opts[i].commands & (1u << cmd)) != 0) {
            return &opts[i];
        }
    }
    return NULL;
}

bool
mh_option_is_flag(enum mh_command cmd, const char *long_name, bool *known)
{
    const struct opt *o = find_long(cmd, long_name);
    *known = o != NULL;
    return o != NULL && !o->has_arg;
}

bool
mh_option_is_list(const char *long_name)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (strcmp(opts[i].name, long_name) == 0) {
            return opts[i].list;
        }
    }
    return false;
}

/* "W,C" or "W" days, fractions allowed, both >= 0, C <= W. */
static int
parse_cert_days(struct mh_config *cfg, const char *v, char *errbuf,
                size_t errlen)
{
    char w[64], c[64] = "";
    const char *comma = strchr(v, ',');
    size_t wl = comma != NULL ? (size_t)(comma - v) : strlen(v);
    if (wl == 0 || wl >= sizeof w ||
        (comma != NULL && strlen(comma + 1) >= sizeof c)) {
        snprintf(errbuf, errlen, "--cert-days wants WARN,CRIT days, got '%s'",
                 v);
        return -1;
    }
    memcpy(w, v, wl);
    w[wl] = '\0';
    if (comma != NULL) {
        snprintf(c, sizeof c, "%s", comma + 1);
    }
    double wd, cd;
    if (!mh_parse_decimal(w, &wd) || wd < 0 ||
        (comma != NULL && (!mh_parse_decimal(c, &cd) || cd < 0))) {
        snprintf(errbuf, errlen, "--cert-days wants WARN,CRIT days, got '%s'",
                 v);
        return -1;
    }
    if (comma == NULL) {
        cd = wd < 14 ? wd : 14;
    }
    if (cd > wd) {
        snprintf(errbuf, errlen,
                 "--cert-days: critical days (%s) exceed warning days (%s)", c,
                 w);
        return -1;
    }
    cfg->cert_warn_days = wd;
    cfg->cert_crit_days = cd;
    cfg->has_cert_days = true;
    return 0;
}

/* "IP", "IP:PORT" or "[IPv6]:PORT", the forms c-ares takes
 * (ares_set_servers_ports_csv); a bare IPv6 address has no port. */
static bool
resolver_valid(const char *v)
{
    unsigned char buf[16];
    char host[64];
    const char *port = NULL;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (close == NULL || (size_t)(close - v - 1) >= sizeof host ||
            close[1] != ':') {
            return false;
        }
        memcpy(host, v + 1, (size_t)(close - v - 1));
        host[close - v - 1] = '\0';
        port = close + 2;
        if (inet_pton(AF_INET6, host, buf) != 1) {
            return false;
        }
    } else if (inet_pton(AF_INET6, v, buf) == 1) {
        return true;
    } else {
        const char *colon = strchr(v, ':');
        size_t hl = colon != NULL ? (size_t)(colon - v) : strlen(v);
        if (hl >= sizeof host) {
            return false;
        }
        memcpy(host, v, hl);
        host[hl] = '\0';
        if (inet_pton(AF_INET, host, buf) != 1) {
            return false;
        }
        port = colon != NULL ? colon + 1 : NULL;
    }
    if (port != NULL) {
        double n;
        if (!mh_parse_decimal(port, &n) || n < 1 || n > 65535 ||
            n != (double)(long)n) {
            return false;
        }
    }
    return true;
}

static int
apply(struct mh_config *cfg, const struct opt *o, const char *v, char *errbuf,
      size_t errlen)
{
    switch (o->id) {
    case O_HOST:
        cfg->host = v;
        break;
    case O_DOMAIN:
        cfg->domain = v;
        break;
    case O_PORT: {
        double p;
        if (!mh_parse_decimal(v, &p) || p < 1 || p > 65535 ||
            p != (double)(long)p) {
            snprintf(errbuf, errlen, "invalid port '%s' (1..65535)", v);
            return -1;
        }
        cfg->port = v;
        break;
    }
    case O_WARNING:
    case O_CRITICAL: {
        struct mh_range r;
        enum mh_range_err e = mh_range_parse(v, &r);
        if (e != MH_RANGE_OK) {
            snprintf(errbuf, errlen, "invalid %s range '%s': %s",
                     o->id == O_WARNING ? "warning" : "critical", v,
                     mh_range_strerror(e));
            return -1;
        }
        if (o->id == O_WARNING) {
            cfg->warn = r;
            cfg->has_warn = true;
            cfg->warning = v;
        } else {
            cfg->crit = r;
            cfg->has_crit = true;
            cfg->critical = v;
        }
        break;
    }
    case O_TIMEOUT:
        if (!mh_parse_decimal(v, &cfg->timeout_s) || cfg->timeout_s <= 0 ||
            cfg->timeout_s > 3600) {
            snprintf(errbuf, errlen,
                     "invalid timeout '%s' (seconds, > 0, at most 3600)", v);
            return -1;
        }
        break;
    case O_IPV4:
    case O_IPV6: {
        int fam = o->id == O_IPV4 ? AF_INET : AF_INET6;
        if (cfg->family != AF_UNSPEC && cfg->family != fam) {
            snprintf(errbuf, errlen, "-4 and -6 exclude each other");
            return -1;
        }
        cfg->family = fam;
        break;
    }
    case O_RESOLVER:
        if (!resolver_valid(v)) {
            snprintf(errbuf, errlen,
                     "invalid --resolver '%s' (IP, IP:PORT or [IPv6]:PORT)", v);
            return -1;
        }
        cfg->resolver = v;
        break;
    case O_OUTPUT:
        if (strcmp(v, "nagios") == 0) {
            cfg->output = MH_OUT_NAGIOS;
        } else if (strcmp(v, "json") == 0) {
            cfg->output = MH_OUT_JSON;
        } else if (strcmp(v, "prometheus") == 0) {
            cfg->output = MH_OUT_PROMETHEUS;
        } else {
            snprintf(errbuf, errlen,
                     "invalid --output '%s' (nagios, json or prometheus)", v);
            return -1;
        }
        break;
    case O_TEXTFILE:
        cfg->textfile = v;
        break;
    case O_VERBOSE:
        cfg->verbose++;
        break;
    case O_HELP:
    case O_VERSION:
        break; /* handled by the parser */
    case O_STARTTLS:
        cfg->starttls = true;
        break;
    case O_TLS:
        cfg->tls = true;
        break;
    case O_STARTTLS_OPTIONAL:
        cfg->starttls_optional = true;
        break;
    case O_SNI:
        cfg->sni = v;
        break;
    case O_NO_SNI:
        cfg->no_sni = true;
        break;
    case O_EHLO:
        cfg->ehlo = v;
        break;
    case O_EXPECT_GREETING:
        if (strlen(v) != 3 || v[0] < '2' || v[0] > '5' || v[1] < '0' ||
            v[1] > '9' || v[2] < '0' || v[2] > '9') {
            snprintf(errbuf, errlen,
                     "invalid --expect-greeting '%s' (a reply code, 200..599)",
                     v);
            return -1;
        }
        cfg->expect_greeting = v;
        break;
    case O_MAX_LINE_LENGTH:
        if (!mh_parse_decimal(v, &cfg->max_line_length) ||
            cfg->max_line_length < 64 || cfg->max_line_length > 4000) {
            snprintf(errbuf, errlen,
                     "invalid --max-line-length '%s' (64..4000 octets)", v);
            return -1;
        }
        break;
    case O_AUTH_USER:
        cfg->auth_user = v;
        break;
    case O_AUTH_PASSWORD_FILE:
        cfg->auth_password_file = v;
        break;
    case O_AUTH_PASSWORD_ENV:
        cfg->auth_password_env = v;
        break;
    case O_AUTH_MECH:
        if (strcasecmp(v, "PLAIN") != 0 && strcasecmp(v, "LOGIN") != 0 &&
            strcasecmp(v, "CRAM-MD5") != 0) {
            snprintf(errbuf, errlen,
                     "unsupported --auth-mech '%s' (PLAIN, LOGIN, CRAM-MD5)",
                     v);
            return -1;
        }
        cfg->auth_mech = v;
        break;
    case O_ALLOW_PLAINTEXT_AUTH:
        cfg->allow_plaintext_auth = true;
        break;
    case O_MAIL_FROM:
        cfg->mail_from = v;
        break;
    case O_RCPT_TO:
        if (list_add(&cfg->rcpt_to, v) != 0) {
            snprintf(errbuf, errlen, "out of memory");
            return -1;
        }
        break;
    case O_RELAY_TEST:
        cfg->relay_test = v;
        break;
    case O_CERT_DAYS:
        return parse_cert_days(cfg, v, errbuf, errlen);
    case O_CA_FILE:
        cfg->ca_file = v;
        break;
    case O_CA_PATH:
        cfg->ca_path = v;
        break;
    case O_VERIFY_NAME:
        cfg->verify_name = v;
        break;
    case O_NO_VERIFY:
        cfg->no_verify = true;
        break;
    case O_TLS_MIN:
        if (strcmp(v, "1.0") != 0 && strcmp(v, "1.1") != 0 &&
            strcmp(v, "1.2") != 0 && strcmp(v, "1.3") != 0) {
            snprintf(errbuf, errlen,
                     "invalid --tls-min '%s' (1.0, 1.1, 1.2 or 1.3)", v);
            return -1;
        }
        cfg->tls_min = v;
        break;
    case O_ZONE:
        if (list_add(&cfg->zones, v) != 0) {
            snprintf(errbuf, errlen, "out of memory");
            return -1;
        }
        break;
    case O_ZONES_FILE:
        cfg->zones_file = v;
        break;
    case O_CONFIG:
        cfg->config_path = v;
        break;
    case O_ONCE:
        cfg->once = true;
        break;
    case O_INTERVAL:
        if (!mh_parse_decimal(v, &cfg->interval_s) || cfg->interval_s < 1) {
            snprintf(errbuf, errlen, "invalid --interval '%s' (seconds >= 1)",
                     v);
            return -1;
        }
        break;
    case O_SUBMIT:
        cfg->submit_url = v;
        break;
    case O_IMAP:
        cfg->imap_url = v;
        break;
    case O_IMAP_USER:
        cfg->imap_user = v;
        break;
    case O_IMAP_PASSWORD_FILE:
        cfg->imap_password_file = v;
        break;
    case O_IMAP_PASSWORD_ENV:
        cfg->imap_password_env = v;
        break;
    case O_POLL_INTERVAL:
        if (!mh_parse_decimal(v, &cfg->poll_interval_s) ||
            cfg->poll_interval_s < 0.1 || cfg->poll_interval_s > 3600) {
            snprintf(errbuf, errlen,
                     "invalid --poll-interval '%s' (seconds, 0.1 to 3600)", v);
            return -1;
        }
        break;
    case O_INSECURE_PLAINTEXT:
        cfg->insecure_plaintext = true;
        break;
    }
    return 0;
}

int
mh_config_set(struct mh_config *cfg, const char *long_name, const char *value,
              char *errbuf, size_t errlen)
{
    const struct opt *o = find_long(cfg->command, long_name);
    if (o == NULL) {
        snprintf(errbuf, errlen, "unknown option '%s' for %s", long_name,
                 mh_command_name(cfg->command));
        return -1;
    }
    if (o->has_arg && value == NULL) {
        snprintf(errbuf, errlen, "option '%s' needs a value", long_name);
        return -1;
    }
    return apply(cfg, o, value, errbuf, errlen);
}

int
mh_config_validate(struct mh_config *cfg, char *errbuf, size_t errlen)
{
    enum mh_command c = cfg->command;
    if ((c == MH_CMD_SMTP || c == MH_CMD_TLS || c == MH_CMD_DNSBL) &&
        (cfg->host == NULL || cfg->host[0] == '\0')) {
        snprintf(errbuf, errlen, "%s needs -H HOST", mh_command_name(c));
        return -1;
    }
    if (c == MH_CMD_DOMAIN && (cfg->domain == NULL || cfg->domain[0] == '\0')) {
        snprintf(errbuf, errlen, "domain needs -D DOMAIN");
        return -1;
    }
    if (c == MH_CMD_RUN && cfg->config_path == NULL) {
        snprintf(errbuf, errlen, "run needs --config FILE");
        return -1;
    }
    if (cfg->starttls && cfg->tls) {
        snprintf(errbuf, errlen,
                 "--starttls and --tls exclude each other (STARTTLS upgrades "
                 "a plain session, --tls is TLS from the first byte)");
        return -1;
    }
    /* A trust store the monitoring host cannot read is a configuration
     * problem (UNKNOWN), not a TLS failure of the server. */
    const char *stores[] = {cfg->ca_file, cfg->ca_path};
    for (size_t i = 0; i < 2; i++) {
        if (stores[i] != NULL && access(stores[i], R_OK) != 0) {
            snprintf(errbuf, errlen, "cannot read --%s %s: %s",
                     i == 0 ? "ca-file" : "ca-path", stores[i],
                     strerror(errno));
            return -1;
        }
    }
    if (cfg->sni != NULL && cfg->no_sni) {
        snprintf(errbuf, errlen, "--sni and --no-sni exclude each other");
        return -1;
    }
    if (cfg->auth_user == NULL &&
        (cfg->auth_password_file != NULL || cfg->auth_password_env != NULL)) {
        snprintf(errbuf, errlen,
                 "--auth-password-file/--auth-password-env need --auth-user");
        return -1;
    }
    if (cfg->auth_user != NULL && cfg->auth_password_file == NULL &&
        cfg->auth_password_env == NULL) {
        snprintf(errbuf, errlen,
                 "--auth-user needs --auth-password-file or "
                 "--auth-password-env (passwords never come from argv)");
        return -1;
    }
    if (c == MH_CMD_DNSBL && cfg->zones.n == 0 && cfg->zones_file == NULL) {
        snprintf(errbuf, errlen, "dnsbl needs --zone ZONE or --zones-file");
        return -1;
    }
    if (c == MH_CMD_DELIVERY) {
        struct mh_delivery_url u;
        if (cfg->submit_url == NULL || cfg->imap_url == NULL) {
            snprintf(errbuf, errlen,
                     "delivery needs --submit URL and --imap "
                     "URL");
            return -1;
        }
        if (mh_delivery_parse_url(cfg->submit_url, false, &u, errbuf, errlen) !=
                0 ||
            mh_delivery_parse_url(cfg->imap_url, true, &u, errbuf, errlen) !=
                0) {
            return -1;
        }
        if (cfg->imap_user == NULL || (cfg->imap_password_file == NULL &&
                                       cfg->imap_password_env == NULL)) {
            snprintf(errbuf, errlen,
                     "delivery needs --imap-user and --imap-password-file or "
                     "--imap-password-env (passwords never come from argv)");
            return -1;
        }
        if (cfg->mail_from == NULL || cfg->rcpt_to.n != 1) {
            snprintf(errbuf, errlen,
                     "delivery needs --mail-from ADDR and "
                     "exactly one --rcpt-to ADDR");
            return -1;
        }
    }
    if (cfg->port == NULL) {
        cfg->port = cfg->tls ? "465" : "25";
    }
    return 0;
}

void
mh_cli_usage(FILE *out)
{
    fprintf(out,
            "Usage: check_mailhealth COMMAND [OPTIONS]\n"
            "  smtp     -H HOST [-p PORT] [--starttls|--tls] [...]\n"
            "  tls      -H HOST [-p PORT] [--starttls|--tls] [--cert-days "
            "W,C]\n"
            "  dnsbl    -H ADDRESS|HOST|DOMAIN --zone ZONE... [-w R] [-c R]\n"
            "  domain   -D DOMAIN [--zone ZONE]... [--cert-days W,C]\n"
            "  delivery --submit URL --imap URL ...\n"
            "  run      --config FILE [--once | --interval SECONDS]\n"
            "Try 'check_mailhealth COMMAND --help' for the options.\n");
}

static void
print_help(FILE *out, enum mh_command cmd)
{
    fprintf(out, "check_mailhealth %s - mail delivery health checks\n\n",
            MH_VERSION);
    if (cmd == MH_CMD_NONE) {
        mh_cli_usage(out);
        fprintf(out, "\nCommands:\n");
        for (int i = 1; i < (int)MH_CMD_LAST; i++) {
            fprintf(out, "  %-9s %s\n", command_names[i], command_help[i]);
        }
    } else {
        fprintf(out, "check_mailhealth %s: %s\n\nOptions:\n",
                command_names[cmd], command_help[cmd]);
        for (size_t i = 0; i < NOPTS; i++) {
            const struct opt *o = &opts[i];
            if ((o->commands & (1u << cmd)) == 0) {
                continue;
            }
            char left[64];
            if (o->short_name != 0) {
                snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name,
                         o->name, o->has_arg ? " " : "",
                         o->has_arg ? o->arg : "");
            } else {
                snprintf(left, sizeof left, "    --%s%s%s", o->name,
                         o->has_arg ? " " : "", o->has_arg ? o->arg : "");
            }
            fprintf(out, "  %-32s %s%s\n", left, o->help,
                    o->list ? " [repeatable]" : "");
        }
    }
    fprintf(out,
            "\nStates: OK 0, WARNING 1 (4xx replies, thresholds), CRITICAL 2 "
            "(5xx,\nrefused, timeouts, TLS and auth failures), UNKNOWN 3 "
            "(usage errors,\nanswers that cannot be interpreted). Failures "
            "name one category:\nconnection timeout auth response relay "
            "blacklist tls.\n");
}

int
mh_cli_parse(int argc, char **argv, struct mh_config *cfg, char *errbuf,
             size_t errlen)
{
    if (argc < 2) {
        snprintf(errbuf, errlen, "no command given");
        return -1;
    }
    const char *first = argv[1];
    if (strcmp(first, "-h") == 0 || strcmp(first, "--help") == 0) {
        print_help(stdout, MH_CMD_NONE);
        return 1;
    }
    if (strcmp(first, "-V") == 0 || strcmp(first, "--version") == 0) {
        printf("check_mailhealth %s\n", MH_VERSION);
        return 1;
    }
    enum mh_command cmd = mh_command_from_name(first);
    if (cmd == MH_CMD_NONE) {
        snprintf(errbuf, errlen, "unknown command '%s'", first);
        return -1;
    }
    mh_config_init(cfg, cmd);

    /* Build getopt_long's tables for this subcommand. */
    struct option lo[NOPTS + 1];
    char shorts[2 * NOPTS + 2];
    size_t nlo = 0, ns = 0;
    shorts[ns++] = ':'; /* report a missing argument as ':' */
    for (size_t i = 0; i < NOPTS; i++) {
        if ((opts[i].commands & (1u << cmd)) == 0) {
            continue;
        }
        lo[nlo].name = opts[i].name;
        lo[nlo].has_arg = opts[i].has_arg ? required_argument : no_argument;
        lo[nlo].flag = NULL;
        lo[nlo].val = 1000 + (int)i;
        nlo++;
        if (opts[i].short_name != 0 &&
            memchr(shorts, opts[i].short_name, ns) == NULL) {
            shorts[ns++] = (char)opts[i].short_name;
            if (opts[i].has_arg) {
                shorts[ns++] = ':';
            }
        }
    }
    memset(&lo[nlo], 0, sizeof lo[nlo]);
    shorts[ns] = '\0';

    optind = 2;
    opterr = 0;
    for (;;) {
        int idx = -1;
        int ch = getopt_long(argc, argv, shorts, lo, &idx);
        if (ch == -1) {
            break;
        }
        const struct opt *o = NULL;
        if (ch >= 1000) {
            o = &opts[ch - 1000];
        } else if (ch == '?' || ch == ':') {
            const char *bad = argv[optind - 1];
            if (ch == ':') {
                snprintf(errbuf, errlen, "option '%s' needs an argument", bad);
            } else if (optopt > 0 && optopt < 128 &&
                       strncmp(bad, "--", 2) != 0) {
                /* (For "--flag=value" getopt_long sets optopt to the
                 * option's code, not a character.) */
                snprintf(errbuf, errlen, "unknown option '-%c' for %s", optopt,
                         command_names[cmd]);
            } else {
                /* Name only: "--auth-password=SECRET" must not put the
                 * secret into the output (issue 9). */
                size_t nl = strcspn(bad, "=");
                snprintf(errbuf, errlen, "unknown option '%.*s' for %s%s",
                         (int)nl, bad, command_names[cmd],
                         bad[nl] == '=' ? " (or it takes no value)" : "");
            }
            return -1;
        } else {
            for (size_t i = 0; i < NOPTS; i++) {
                if (opts[i].short_name == ch &&
                    (opts[i].commands & (1u << cmd)) != 0) {
                    o = &opts[i];
                    break;
                }
            }
        }
        if (o == NULL) {
            snprintf(errbuf, errlen, "unknown option for %s",
                     command_names[cmd]);
            return -1;
        }
        if (o->id == O_HELP) {
            print_help(stdout, cmd);
            return 1;
        }
        if (o->id == O_VERSION) {
            printf("check_mailhealth %s\n", MH_VERSION);
            return 1;
        }
        if (apply(cfg, o, optarg, errbuf, errlen) != 0) {
            return -1;
        }
    }
    if (optind < argc) {
        snprintf(errbuf, errlen, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    return mh_config_validate(cfg, errbuf, errlen);
}
