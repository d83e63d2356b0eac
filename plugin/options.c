/* SPDX-License-Identifier: MIT */
/*
 * options: the option table and one parser per kind of value (see
 * options.h, which also has the recipe for adding an option).
 */
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "../probes/reply.h"
#include "../probes/textutil.h"

/* ====== The table ====== */

#define C_SMTP MH_OPT_CMD(MH_CMD_SMTP)
#define C_TLS MH_OPT_CMD(MH_CMD_TLS)
#define C_DNSBL MH_OPT_CMD(MH_CMD_DNSBL)
#define C_DOMAIN MH_OPT_CMD(MH_CMD_DOMAIN)
#define C_DELIV MH_OPT_CMD(MH_CMD_DELIVERY)
#define C_STS MH_OPT_CMD(MH_CMD_MTASTS)
#define C_RUN MH_OPT_CMD(MH_CMD_RUN)
#define C_PROBES (C_SMTP | C_TLS | C_DNSBL | C_DOMAIN | C_DELIV | C_STS)
#define C_ALL (C_PROBES | C_RUN)
#define C_TLSLIKE (C_SMTP | C_TLS | C_DOMAIN)

/* The offset of a member of struct mh_config, checked at compile time to
 * have type T (a row's kind reads and writes its field as that type). */
#define FIELD(member, T)                                                       \
    (offsetof(struct mh_config, member) +                                      \
     0 * sizeof(char[_Generic(((struct mh_config *)0)->member, T : 1, default  \
                              : -1)]))

/* CHOICE and ENUM fields are written as int. */
_Static_assert(sizeof(enum mh_tls_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum mh_output) == sizeof(int), "enum size");

static const struct mh_opt_name output_names[] = {
    {"nagios", MH_OUT_NAGIOS},
    {"json", MH_OUT_JSON},
    {"prometheus", MH_OUT_PROMETHEUS},
    {NULL, 0}};

static const struct mh_opt_name tls_version_names[] = {{"1.0", TLS1_VERSION},
                                                       {"1.1", TLS1_1_VERSION},
                                                       {"1.2", TLS1_2_VERSION},
                                                       {"1.3", TLS1_3_VERSION},
                                                       {NULL, 0}};

/* SASL mechanisms the SMTP probe speaks (RFC 4616, LOGIN, RFC 2195). */
static const struct mh_opt_name mech_names[] = {{"PLAIN", MH_MECH_PLAIN},
                                                {"LOGIN", MH_MECH_LOGIN},
                                                {"CRAM-MD5", MH_MECH_CRAM_MD5},
                                                {NULL, 0}};

static const struct mh_option table[] = {
    {.name = "host",
     .short_name = 'H',
     .kind = MH_OPT_STRING,
     .field = FIELD(host, const char *),
     .commands = C_SMTP | C_TLS | C_DNSBL,
     .required = C_SMTP | C_TLS,
     .arg = "HOST",
     .help = "target host name or address (dnsbl: address, address block "
             "such as 192.0.2.0/24, host name or domain; repeat -H to check "
             "several)"},
    {.name = "hostname",
     .kind = MH_OPT_STRING,
     .field = FIELD(host, const char *),
     .commands = C_SMTP | C_TLS | C_DNSBL,
     .arg = "HOST",
     .help = "same as --host (check_smtp spelling)"},
    {.name = "domain",
     .short_name = 'D',
     .kind = MH_OPT_STRING,
     .field = FIELD(domain, const char *),
     .commands = C_DOMAIN | C_STS,
     .required = C_DOMAIN | C_STS,
     .arg = "DOMAIN",
     .help = "mail domain: its MX hosts are looked up and checked"},
    {.name = "port",
     .short_name = 'p',
     .kind = MH_OPT_PORT,
     .field = FIELD(port, uint16_t),
     .commands = C_SMTP | C_TLS | C_DOMAIN | C_STS,
     .arg = "PORT",
     .help = "TCP port (default 25; 465 with --tls)"},
    {.name = "warning",
     .short_name = 'w',
     .kind = MH_OPT_RANGE,
     .field = FIELD(warning, struct mh_threshold),
     .commands = C_PROBES,
     .arg = "RANGE",
     .help = "warning range (smtp/tls: total seconds; dnsbl: listing zones; "
             "delivery: delay seconds)"},
    {.name = "critical",
     .short_name = 'c',
     .kind = MH_OPT_RANGE,
     .field = FIELD(critical, struct mh_threshold),
     .commands = C_PROBES,
     .arg = "RANGE",
     .help = "critical range (Nagios syntax: 10, 10:, ~:10, 10:20, @10:20)"},
    {.name = "timeout",
     .short_name = 't',
     .kind = MH_OPT_SECONDS,
     .field = FIELD(timeout_s, double),
     .commands = C_ALL,
     .arg = "SECONDS",
     .help = "one deadline for the whole check",
     .def = "10",
     .min = 0,
     .above_min = true,
     .max = 3600},
    {.name = "use-ipv4",
     .short_name = '4',
     .kind = MH_OPT_CHOICE,
     .field = FIELD(family, int),
     .value = AF_INET,
     .commands = C_PROBES,
     .help = "IPv4 only (dnsbl: check only the host's IPv4 addresses)"},
    {.name = "use-ipv6",
     .short_name = '6',
     .kind = MH_OPT_CHOICE,
     .field = FIELD(family, int),
     .value = AF_INET6,
     .commands = C_PROBES,
     .help = "IPv6 only (dnsbl: check only the host's IPv6 addresses)"},
    {.name = "resolver",
     .kind = MH_OPT_SERVER,
     .field = FIELD(resolver, const char *),
     .commands = C_ALL,
     .arg = "IP[:PORT]",
     .help = "DNS resolver to use (default: the system resolver)"},
    {.name = "output",
     .kind = MH_OPT_ENUM,
     .field = FIELD(output, enum mh_output),
     .names = output_names,
     .commands = C_ALL,
     .arg = "FORMAT",
     .help = "nagios, json or prometheus",
     .def = "nagios"},
    {.name = "textfile",
     .kind = MH_OPT_PATH,
     .field = FIELD(textfile, const char *),
     .commands = C_ALL,
     .arg = "PATH",
     .help = "also write Prometheus metrics atomically to PATH"},
    {.name = "verbose",
     .short_name = 'v',
     .kind = MH_OPT_COUNT,
     .field = FIELD(verbose, int),
     .commands = C_ALL,
     .help = "diagnostics on stderr (repeat for more; never secrets)"},
    {.name = "help",
     .short_name = 'h',
     .kind = MH_OPT_ACTION,
     .commands = C_ALL,
     .help = "this help, exit 3"},
    {.name = "version",
     .short_name = 'V',
     .kind = MH_OPT_ACTION,
     .commands = C_ALL,
     .help = "print the version, exit 3"},
    {.name = "starttls",
     .short_name = 'S',
     .kind = MH_OPT_CHOICE,
     .field = FIELD(tls_mode, enum mh_tls_mode),
     .value = MH_TLS_STARTTLS,
     .commands = C_TLSLIKE,
     .help = "require STARTTLS (RFC 3207); missing or refused is "
             "CRITICAL/tls"},
    {.name = "require-starttls",
     .kind = MH_OPT_CHOICE,
     .field = FIELD(tls_mode, enum mh_tls_mode),
     .value = MH_TLS_STARTTLS,
     .commands = C_TLSLIKE,
     .help = "same as --starttls"},
    {.name = "tls",
     .short_name = 's',
     .kind = MH_OPT_CHOICE,
     .field = FIELD(tls_mode, enum mh_tls_mode),
     .value = MH_TLS_IMPLICIT,
     .commands = C_SMTP | C_TLS,
     .help = "implicit TLS from the first byte (port 465; tls: handshake "
             "only, any port)"},
    {.name = "starttls-optional",
     .kind = MH_OPT_FLAG,
     .field = FIELD(starttls_optional, bool),
     .commands = C_TLSLIKE,
     .help = "STARTTLS not offered is only WARNING"},
    {.name = "sni",
     .kind = MH_OPT_STRING,
     .field = FIELD(sni, const char *),
     .commands = C_TLSLIKE,
     .arg = "NAME",
     .help = "server name sent in TLS (default: the -H name)"},
    {.name = "no-sni",
     .kind = MH_OPT_FLAG,
     .field = FIELD(no_sni, bool),
     .commands = C_TLSLIKE,
     .help = "send no SNI"},
    {.name = "ehlo",
     .short_name = 'F',
     .kind = MH_OPT_STRING,
     .field = FIELD(ehlo, const char *),
     .commands = C_TLSLIKE | C_DELIV | C_STS,
     .arg = "NAME",
     .wire = true,
     .help = "name sent with EHLO/HELO (default: this machine's FQDN)"},
    {.name = "expect-greeting",
     .short_name = 'e',
     .kind = MH_OPT_CODE,
     .field = FIELD(expect_greeting, int),
     .commands = C_SMTP,
     .arg = "CODE",
     .help = "greeting reply code that counts as OK",
     .def = "220"},
    {.name = "max-line-length",
     .kind = MH_OPT_UINT,
     .field = FIELD(max_line_length, unsigned),
     .commands = C_TLSLIKE,
     .arg = "OCTETS",
     .help = "longest reply line accepted (default 510 + CRLF, RFC 5321)",
     .min = 64,
     .max = 4000},
    {.name = "auth-user",
     .short_name = 'U',
     .kind = MH_OPT_STRING,
     .field = FIELD(auth_user, const char *),
     .commands = C_SMTP | C_DELIV,
     .arg = "USER",
     .help = "authenticate as USER (RFC 4954)"},
    {.name = "auth-password-file",
     .kind = MH_OPT_PATH,
     .field = FIELD(auth_password_file, const char *),
     .commands = C_SMTP | C_DELIV,
     .arg = "FILE",
     .help = "read the AUTH password from FILE"},
    {.name = "auth-password-env",
     .kind = MH_OPT_ENVVAR,
     .field = FIELD(auth_password_env, const char *),
     .commands = C_SMTP | C_DELIV,
     .arg = "VAR",
     .help = "read the AUTH password from environment variable VAR"},
    {.name = "auth-mech",
     .short_name = 'A',
     .kind = MH_OPT_ENUM,
     .field = FIELD(auth_mech, unsigned),
     .names = mech_names,
     .commands = C_SMTP | C_DELIV,
     .arg = "MECH",
     .help = "PLAIN, LOGIN or CRAM-MD5 (default: best offered)"},
    {.name = "allow-plaintext-auth",
     .kind = MH_OPT_FLAG,
     .field = FIELD(allow_plaintext_auth, bool),
     .commands = C_SMTP,
     .help = "allow AUTH without TLS"},
    {.name = "mail-from",
     .short_name = 'f',
     .kind = MH_OPT_STRING,
     .field = FIELD(mail_from, const char *),
     .commands = C_SMTP | C_DELIV,
     .arg = "ADDR",
     .wire = true,
     .help = "send MAIL FROM:<ADDR> and check the reply"},
    {.name = "rcpt-to",
     .short_name = 'r',
     .kind = MH_OPT_LIST,
     .list = true,
     .field = FIELD(rcpt_to, struct mh_strlist),
     .commands = C_SMTP | C_DELIV,
     .arg = "ADDR",
     .wire = true,
     .help = "send RCPT TO:<ADDR> and check each reply"},
    {.name = "relay-test",
     .kind = MH_OPT_STRING,
     .field = FIELD(relay_test, const char *),
     .commands = C_SMTP,
     .arg = "ADDR",
     .wire = true,
     .help = "foreign address that must be refused (open relay test)"},
    {.name = "cert-days",
     .kind = MH_OPT_CERT_DAYS,
     .field = FIELD(cert_days, struct mh_cert_days),
     .commands = C_TLSLIKE | C_STS,
     .arg = "W,C",
     .help = "certificate days left: warning,critical (smtp/domain check "
             "certificates only with this or a trust/name option)",
     .def = "30,14"},
    {.name = "ca-file",
     .kind = MH_OPT_PATH,
     .field = FIELD(ca_file, const char *),
     .commands = C_TLSLIKE | C_DELIV | C_STS,
     .arg = "FILE",
     .help = "trust anchors (PEM) instead of the system store"},
    {.name = "ca-path",
     .kind = MH_OPT_PATH,
     .field = FIELD(ca_path, const char *),
     .commands = C_TLSLIKE | C_DELIV | C_STS,
     .arg = "DIR",
     .help = "directory of trust anchors (c_rehash layout)"},
    {.name = "verify-name",
     .kind = MH_OPT_STRING,
     .field = FIELD(verify_name, const char *),
     .commands = C_TLSLIKE,
     .arg = "NAME",
     .help = "name the certificate must match (default: the -H name)"},
    {.name = "no-verify",
     .kind = MH_OPT_FLAG,
     .field = FIELD(no_verify, bool),
     .commands = C_TLSLIKE,
     .help = "chain/name verification failures become notes"},
    {.name = "tls-min",
     .kind = MH_OPT_ENUM,
     .field = FIELD(tls_min_version, int),
     .names = tls_version_names,
     .commands = C_TLSLIKE | C_STS,
     .arg = "VERSION",
     /* No default value: 0 is the probe's default, TLS 1.2, which its
      * messages then say --tls-min can lower. */
     .help = "lowest TLS version accepted: 1.0, 1.1, 1.2 (default), 1.3"},
    {.name = "dane",
     .kind = MH_OPT_FLAG,
     .field = FIELD(dane, bool),
     .commands = C_TLSLIKE,
     .help = "check DANE (RFC 7672): the TLSA records of _PORT._tcp.HOST, "
             "DNSSEC-validated, against the server's chain (implies "
             "STARTTLS)"},
    {.name = "dnssec-probe",
     .kind = MH_OPT_STRING,
     .field = FIELD(dnssec_probe, const char *),
     .commands = C_TLSLIKE,
     .arg = "NAME",
     .help = "a DNSSEC-signed name whose AD bit shows the resolver "
             "validates (default: the root zone)"},
    {.name = "tlsa-next-key",
     .kind = MH_OPT_PATH,
     .field = FIELD(tlsa_next_key, const char *),
     .commands = C_TLSLIKE,
     .arg = "FILE",
     .help = "PEM public key or certificate of the next key: warn when no "
             "TLSA record matches it"},
    {.name = "rrsig-days",
     .kind = MH_OPT_CERT_DAYS,
     .field = FIELD(rrsig_days, struct mh_cert_days),
     .commands = C_TLSLIKE,
     .arg = "W,C",
     .help = "days left of the RRSIGs over the TLSA records: "
             "warning,critical",
     .def = "3,1"},
    {.name = "zone",
     .short_name = 'z',
     .kind = MH_OPT_LIST,
     .list = true,
     .field = FIELD(zones, struct mh_strlist),
     .commands = C_DNSBL | C_DOMAIN,
     .arg = "ZONE[:TYPE][,KIND]",
     .help = "DNSBL zone to query; TYPE any (default: detected), ip, ip4, "
             "ip6 or domain; KIND block (default), policy, allow or info"},
    {.name = "hosts-file",
     .kind = MH_OPT_PATH,
     .field = FIELD(hosts_file, const char *),
     .commands = C_DNSBL,
     .arg = "FILE",
     .help = "more dnsbl targets, one per line as -H takes them (# starts a "
             "comment); at most 4096 addresses per check in all"},
    {.name = "zone-query-budget",
     .kind = MH_OPT_UINT,
     .field = FIELD(zone_query_budget, unsigned),
     .commands = C_DNSBL | C_DOMAIN,
     .arg = "N",
     .help = "at most N queries per zone per check (runner: per round, "
             "over all checks); 0 (default): no limit",
     .def = "0",
     .min = 0,
     .max = 100000000},
    {.name = "max-in-flight",
     .kind = MH_OPT_UINT,
     .field = FIELD(max_in_flight, unsigned),
     .commands = C_DNSBL | C_DOMAIN,
     .arg = "N",
     .help = "at most N DNSBL queries in flight at once (each answer lets "
             "the next one out); 0 (default): adapts, 256 growing to 4096",
     .def = "0",
     .min = 0,
     .max = 1000000},
    {.name = "zone-health-cache-seconds",
     .kind = MH_OPT_SECONDS,
     .field = FIELD(zone_health_cache_s, double),
     .commands = C_DNSBL | C_DOMAIN,
     .arg = "SECONDS",
     .help = "runner: keep a zone's healthy RFC 5782 test answers this long "
             "(asked again at once after an error code)",
     .def = "3600",
     .min = 0,
     .max = 604800},
    {.name = "zones-file",
     .kind = MH_OPT_PATH,
     .field = FIELD(zones_file, const char *),
     .commands = C_DNSBL | C_DOMAIN,
     .arg = "FILE",
     .help = "JSON file of zones with their type and return codes"},
    {.name = "sts-state",
     .kind = MH_OPT_PATH,
     .field = FIELD(sts_state, const char *),
     .commands = C_DOMAIN | C_STS,
     .arg = "FILE",
     .help = "remember the MTA-STS policies seen in FILE (JSON, replaced "
             "atomically): a policy edited without a new id warns"},
    {.name = "submit",
     .kind = MH_OPT_URL,
     .field = FIELD(submit, struct mh_delivery_url),
     .value = 0,
     .commands = C_DELIV,
     .required = C_DELIV,
     .arg = "URL",
     .help = "smtp://HOST[:587] (STARTTLS) or smtps://HOST[:465] (implicit "
             "TLS)"},
    {.name = "imap",
     .kind = MH_OPT_URL,
     .field = FIELD(imap, struct mh_delivery_url),
     .value = 1,
     .commands = C_DELIV,
     .required = C_DELIV,
     .arg = "URL",
     .help = "imap://HOST[:143][/MAILBOX] (STARTTLS) or "
             "imaps://HOST[:993][/MAILBOX]"},
    {.name = "imap-user",
     .kind = MH_OPT_STRING,
     .field = FIELD(imap_user, const char *),
     .commands = C_DELIV,
     .arg = "USER",
     .help = "IMAP login user"},
    {.name = "imap-password-file",
     .kind = MH_OPT_PATH,
     .field = FIELD(imap_password_file, const char *),
     .commands = C_DELIV,
     .arg = "FILE",
     .help = "read the IMAP password from FILE"},
    {.name = "imap-password-env",
     .kind = MH_OPT_ENVVAR,
     .field = FIELD(imap_password_env, const char *),
     .commands = C_DELIV,
     .arg = "VAR",
     .help = "read the IMAP password from environment variable VAR"},
    {.name = "poll-interval",
     .kind = MH_OPT_SECONDS,
     .field = FIELD(poll_interval_s, double),
     .commands = C_DELIV,
     .arg = "SECONDS",
     .help = "longest pause between mailbox searches (the first pauses are "
             "0.1, 0.2, 0.4 ... s)",
     .def = "1",
     .min = 0.1,
     .max = 3600},
    {.name = "insecure-plaintext",
     .kind = MH_OPT_FLAG,
     .field = FIELD(insecure_plaintext, bool),
     .commands = C_DELIV,
     .help = "smtp:// and imap:// go on in plaintext without STARTTLS"},
    {.name = "config",
     .short_name = 'C',
     .kind = MH_OPT_PATH,
     .field = FIELD(config_path, const char *),
     .commands = C_RUN,
     .required = C_RUN,
     .arg = "FILE",
     .help = "runner configuration (JSON)"},
    {.name = "once",
     .kind = MH_OPT_FLAG,
     .field = FIELD(once, bool),
     .commands = C_RUN,
     .help = "run one round, write the textfile, exit"},
    {.name = "interval",
     .kind = MH_OPT_SECONDS,
     .field = FIELD(interval_s, double),
     .commands = C_RUN,
     .arg = "SECONDS",
     .help = "seconds between rounds",
     .min = 1,
     .max = 86400},
    {.name = "listen",
     .kind = MH_OPT_STRING,
     .field = FIELD(listen, const char *),
     .commands = C_RUN,
     .arg = "ADDR:PORT",
     .help = "serve /metrics and /probe over HTTP (Prometheus exporter)"},
};
#define NOPTS (sizeof table / sizeof table[0])
_Static_assert(NOPTS <= MH_OPT_MAX, "raise MH_OPT_MAX");

const struct mh_option *
mh_options(size_t *n)
{
    *n = NOPTS;
    return table;
}

bool
mh_option_applies(const struct mh_option *o, enum mh_command cmd)
{
    return (int)cmd > 0 && cmd < MH_CMD_LAST &&
           (o->commands & MH_OPT_CMD(cmd)) != 0;
}

const struct mh_option *
mh_option_find(enum mh_command cmd, const char *long_name)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (strcmp(table[i].name, long_name) == 0 &&
            mh_option_applies(&table[i], cmd)) {
            return &table[i];
        }
    }
    return NULL;
}

const struct mh_option *
mh_option_find_short(enum mh_command cmd, int c)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (c != 0 && table[i].short_name == c &&
            mh_option_applies(&table[i], cmd)) {
            return &table[i];
        }
    }
    return NULL;
}

bool
mh_option_is_flag(const struct mh_option *o)
{
    return o->kind == MH_OPT_FLAG || o->kind == MH_OPT_COUNT ||
           o->kind == MH_OPT_CHOICE || o->kind == MH_OPT_ACTION;
}

bool
mh_option_repeatable(const struct mh_option *o, enum mh_command cmd)
{
    return o->list || (o->field == offsetof(struct mh_config, host) &&
                       cmd == MH_CMD_DNSBL);
}

bool
mh_option_is_alias(const struct mh_option *a, const struct mh_option *b)
{
    return a == b || (a->kind != MH_OPT_ACTION && a->kind == b->kind &&
                      a->field == b->field && a->value == b->value);
}

const char *
mh_option_enum_name(const struct mh_option *o, int value)
{
    for (const struct mh_opt_name *n = o->names; n != NULL && n->name != NULL;
         n++) {
        if (n->value == value) {
            return n->name;
        }
    }
    return "";
}

/* ====== Parsers, one per kind ====== */

/* Outcome of a parser. */
enum set_rc {
    SET_OK = 0,
    SET_BAD_VALUE, /* why: what the option takes ("a port number, ...") */
    SET_FAILED     /* why: the whole message */
};

struct opt_ctx {
    struct mh_config *cfg;
    const struct mh_option *o;
    void *field;
    const char *text;
    bool is_default;
    enum mh_opt_syntax syntax;
    char *why;
    size_t whylen;
};

/* "--port" on the command line, 'port' in the runner's config. */
static void
option_label(const struct mh_option *o, enum mh_opt_syntax syntax, char *buf,
             size_t len)
{
    if (syntax == MH_SYNTAX_CLI) {
        mh_textf(buf, len, "--%s", o->name);
        return;
    }
    mh_textf(buf, len, "'%s", o->name);
    for (char *p = buf; *p != '\0'; p++) {
        *p = *p == '-' ? '_' : *p;
    }
    size_t n = strlen(buf);
    mh_textf(buf + n, len - n, "'");
}

static enum set_rc
set_flag(struct opt_ctx *c)
{
    *(bool *)c->field = true;
    return SET_OK;
}

static enum set_rc
set_count(struct opt_ctx *c)
{
    (*(int *)c->field)++;
    return SET_OK;
}

static enum set_rc
set_choice(struct opt_ctx *c)
{
    int *f = c->field;
    if (*f != 0 && *f != c->o->value) {
        /* Name both options in table order, whichever came first. */
        const struct mh_option *other = NULL;
        for (size_t i = 0; i < NOPTS && other == NULL; i++) {
            if (table[i].kind == MH_OPT_CHOICE &&
                table[i].field == c->o->field && table[i].value == *f) {
                other = &table[i];
            }
        }
        const struct mh_option *first = c->o, *second = other;
        if (other != NULL && other < c->o) {
            first = other;
            second = c->o;
        }
        char a[64], b[64] = "another option";
        option_label(first, c->syntax, a, sizeof a);
        if (second != NULL) {
            option_label(second, c->syntax, b, sizeof b);
        }
        mh_textf(c->why, c->whylen, "%s and %s exclude each other", a, b);
        return SET_FAILED;
    }
    *f = c->o->value;
    return SET_OK;
}

static enum set_rc
set_action(struct opt_ctx *c)
{
    (void)c;
    return SET_OK;
}

static enum set_rc set_list(struct opt_ctx *c);

static enum set_rc
set_string(struct opt_ctx *c)
{
    *(const char **)c->field = c->text;
    if (!c->is_default && !c->o->list &&
        mh_option_repeatable(c->o, c->cfg->command)) {
        /* -H may be repeated: dnsbl checks every target (freed by
         * mh_config_free); the other commands use the last one. */
        struct opt_ctx lc = *c;
        lc.field = &c->cfg->hosts;
        return set_list(&lc);
    }
    return SET_OK;
}

static enum set_rc
set_path(struct opt_ctx *c)
{
    if (c->text[0] == '\0') {
        mh_textf(c->why, c->whylen, "a path, not empty");
        return SET_BAD_VALUE;
    }
    *(const char **)c->field = c->text;
    return SET_OK;
}

static enum set_rc
set_envvar(struct opt_ctx *c)
{
    const char *v = c->text;
    bool ok = v[0] != '\0' && !(v[0] >= '0' && v[0] <= '9');
    for (const char *q = v; ok && *q != '\0'; q++) {
        ok = (*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
             (*q >= '0' && *q <= '9') || *q == '_';
    }
    if (!ok) {
        mh_textf(c->why, c->whylen,
                 "an environment variable name: letters, digits and '_', "
                 "not starting with a digit");
        return SET_BAD_VALUE;
    }
    *(const char **)c->field = v;
    return SET_OK;
}

static enum set_rc
set_list(struct opt_ctx *c)
{
    struct mh_strlist *l = c->field;
    const char **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (v == NULL) {
        mh_textf(c->why, c->whylen, "out of memory");
        return SET_FAILED;
    }
    v[l->n++] = c->text;
    l->v = v;
    return SET_OK;
}

static enum set_rc
set_port(struct opt_ctx *c)
{
    if (!mh_parse_port(c->text, c->field)) {
        mh_textf(c->why, c->whylen, "a port number, 1..65535");
        return SET_BAD_VALUE;
    }
    return SET_OK;
}

/* Decimal seconds: digits with an optional fraction, no sign, no
 * exponent, '.' whatever the locale. */
static enum set_rc
set_seconds(struct opt_ctx *c)
{
    const struct mh_option *o = c->o;
    double v;
    bool ok = c->text[0] != '+' && c->text[0] != '-' &&
              mh_parse_decimal(c->text, &v) &&
              (o->above_min ? v > o->min : v >= o->min) && v <= o->max;
    if (!ok) {
        char lo[32], hi[32];
        mh_fmt_decimal(lo, sizeof lo, o->min, 3);
        mh_fmt_decimal(hi, sizeof hi, o->max, 3);
        if (o->above_min) {
            mh_textf(c->why, c->whylen, "seconds, more than %s, at most %s", lo,
                     hi);
        } else {
            mh_textf(c->why, c->whylen, "seconds, %s to %s", lo, hi);
        }
        return SET_BAD_VALUE;
    }
    *(double *)c->field = v;
    return SET_OK;
}

static enum set_rc
set_uint(struct opt_ctx *c)
{
    unsigned long long v;
    if (!mh_parse_uint(c->text, (unsigned long long)c->o->max, &v) ||
        (double)v < c->o->min) {
        mh_textf(c->why, c->whylen, "a whole number, %.0f to %.0f", c->o->min,
                 c->o->max);
        return SET_BAD_VALUE;
    }
    *(unsigned *)c->field = (unsigned)v;
    return SET_OK;
}

static enum set_rc
set_enum(struct opt_ctx *c)
{
    for (const struct mh_opt_name *n = c->o->names; n->name != NULL; n++) {
        if (strcasecmp(n->name, c->text) == 0) {
            *(int *)c->field = n->value;
            return SET_OK;
        }
    }
    mh_textf(c->why, c->whylen, "one of");
    for (const struct mh_opt_name *n = c->o->names; n->name != NULL; n++) {
        size_t o = strlen(c->why);
        mh_textf(c->why + o, c->whylen - o, "%s %s",
                 n == c->o->names ? "" : ",", n->name);
    }
    return SET_BAD_VALUE;
}

/* RFC 5321 4.2: three digits, the first 2..5. */
static enum set_rc
set_code(struct opt_ctx *c)
{
    const char *v = c->text;
    if (strlen(v) != 3 || v[0] < '2' || v[0] > '5' || v[1] < '0' ||
        v[1] > '9' || v[2] < '0' || v[2] > '9') {
        mh_textf(c->why, c->whylen, "a reply code, 200..599");
        return SET_BAD_VALUE;
    }
    *(int *)c->field = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
    return SET_OK;
}

static enum set_rc
set_range(struct opt_ctx *c)
{
    struct mh_threshold *t = c->field;
    struct mh_range r;
    enum mh_range_err e = mh_range_parse(c->text, &r);
    if (e != MH_RANGE_OK) {
        mh_textf(c->why, c->whylen, "a Nagios range: %s", mh_range_strerror(e));
        return SET_BAD_VALUE;
    }
    t->set = true;
    t->range = r;
    t->text = c->text;
    return SET_OK;
}

/* "W,C" or "W" days, fractions allowed, both >= 0, C <= W; "W" alone
 * means C = min(W, 14). */
static enum set_rc
set_cert_days(struct opt_ctx *c)
{
    const char *v = c->text;
    const char *comma = strchr(v, ',');
    char w[64], cr[64] = "";
    size_t wl = comma != NULL ? (size_t)(comma - v) : strlen(v);
    double wd = -1, cd = -1;
    if (wl > 0 && wl < sizeof w &&
        (comma == NULL || strlen(comma + 1) < sizeof cr)) {
        memcpy(w, v, wl);
        w[wl] = '\0';
        if (comma != NULL) {
            memcpy(cr, comma + 1, strlen(comma + 1) + 1);
        }
        if (!mh_parse_decimal(w, &wd) ||
            (comma != NULL && !mh_parse_decimal(cr, &cd))) {
            wd = -1;
        }
    }
    if (wd < 0 || (comma != NULL && cd < 0)) {
        mh_textf(c->why, c->whylen, "WARN,CRIT days, numbers >= 0");
        return SET_BAD_VALUE;
    }
    if (comma == NULL) {
        cd = wd < 14 ? wd : 14;
    }
    if (cd > wd) {
        mh_textf(c->why, c->whylen,
                 "WARN,CRIT days: critical days (%s) exceed warning days (%s)",
                 cr, w);
        return SET_BAD_VALUE;
    }
    struct mh_cert_days *d = c->field;
    d->warn = wd;
    d->crit = cd;
    d->given = !c->is_default;
    return SET_OK;
}

static enum set_rc
set_server(struct opt_ctx *c)
{
    char ip[64];
    uint16_t port;
    if (!mh_parse_ip_port(c->text, ip, sizeof ip, &port)) {
        mh_textf(c->why, c->whylen, "IP, IP:PORT or [IPv6]:PORT");
        return SET_BAD_VALUE;
    }
    *(const char **)c->field = c->text;
    return SET_OK;
}

static enum set_rc
set_url(struct opt_ctx *c)
{
    struct mh_delivery_url u;
    if (mh_delivery_parse_url(c->text, c->o->value == 1, &u, c->why,
                              c->whylen) != 0) {
        return SET_FAILED;
    }
    *(struct mh_delivery_url *)c->field = u;
    return SET_OK;
}

static enum set_rc (*const parsers[])(struct opt_ctx *) = {
    [MH_OPT_FLAG] = set_flag,       [MH_OPT_COUNT] = set_count,
    [MH_OPT_CHOICE] = set_choice,   [MH_OPT_ACTION] = set_action,
    [MH_OPT_STRING] = set_string,   [MH_OPT_PATH] = set_path,
    [MH_OPT_LIST] = set_list,       [MH_OPT_PORT] = set_port,
    [MH_OPT_SECONDS] = set_seconds, [MH_OPT_UINT] = set_uint,
    [MH_OPT_ENUM] = set_enum,       [MH_OPT_CODE] = set_code,
    [MH_OPT_RANGE] = set_range,     [MH_OPT_CERT_DAYS] = set_cert_days,
    [MH_OPT_SERVER] = set_server,   [MH_OPT_URL] = set_url,
    [MH_OPT_ENVVAR] = set_envvar,
};
_Static_assert(sizeof parsers / sizeof parsers[0] == (size_t)MH_OPT_ENVVAR + 1,
               "one parser per enum mh_opt_kind");

/* The value of a wire option: not empty, no byte below 0x20 nor DEL. */
static bool
wire_text_ok(const char *text)
{
    if (text[0] == '\0') {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0';
         p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

static int
apply(struct mh_config *cfg, const struct mh_option *o, const char *text,
      bool is_default, enum mh_opt_syntax syntax, char *errbuf, size_t errlen)
{
    char why[400] = "";
    struct opt_ctx c = {.cfg = cfg,
                        .o = o,
                        .field = (char *)cfg + o->field,
                        .text = text,
                        .is_default = is_default,
                        .syntax = syntax,
                        .why = why,
                        .whylen = sizeof why};
    if (!mh_option_is_flag(o) && text == NULL) {
        char label[64];
        option_label(o, syntax, label, sizeof label);
        mh_textf(errbuf, errlen, "%s needs a value", label);
        return -1;
    }
    enum set_rc rc;
    if (o->wire && !wire_text_ok(text)) {
        mh_textf(why, sizeof why,
                 "text sent in an SMTP command: not empty, no control "
                 "characters");
        rc = SET_BAD_VALUE;
    } else {
        rc = parsers[o->kind](&c);
    }
    if (rc == SET_OK) {
        return 0;
    }
    if (rc == SET_FAILED) {
        mh_textf(errbuf, errlen, "%s", why);
        return -1;
    }
    /* The value as given, escaped and shortened: it may come from a
     * config file and must not break the one-line message. */
    char shown[64] = "";
    mh_text_escape_append(shown, sizeof shown, text, strlen(text), true);
    if (syntax == MH_SYNTAX_CLI) {
        mh_textf(errbuf, errlen, "invalid --%s '%s' (%s)", o->name, shown, why);
    } else {
        mh_textf(errbuf, errlen, "invalid value '%s' (%s)", shown, why);
    }
    return -1;
}

int
mh_option_set(struct mh_config *cfg, const struct mh_option *o,
              const char *text, enum mh_opt_syntax syntax, char *errbuf,
              size_t errlen)
{
    return apply(cfg, o, text, false, syntax, errbuf, errlen);
}

void
mh_config_init(struct mh_config *cfg, enum mh_command cmd)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->command = cmd;
    cfg->family = AF_UNSPEC;
    for (size_t i = 0; i < NOPTS; i++) {
        if (table[i].def != NULL && mh_option_applies(&table[i], cmd)) {
            /* The defaults are constants of the table, checked by the
             * unit tests: they always parse. */
            char err[8];
            (void)apply(cfg, &table[i], table[i].def, true, MH_SYNTAX_CLI, err,
                        sizeof err);
        }
    }
}

const struct mh_option *
mh_config_missing(const struct mh_config *cfg)
{
    for (size_t i = 0; i < NOPTS; i++) {
        const struct mh_option *o = &table[i];
        if ((o->required & MH_OPT_CMD(cfg->command)) == 0 ||
            (int)cfg->command <= 0 || cfg->command >= MH_CMD_LAST) {
            continue;
        }
        const void *f = (const char *)cfg + o->field;
        bool missing;
        switch (o->kind) {
        case MH_OPT_URL:
            missing = ((const struct mh_delivery_url *)f)->scheme ==
                      MH_DELIVERY_SCHEME_INVALID;
            break;
        case MH_OPT_LIST:
            missing = ((const struct mh_strlist *)f)->n == 0;
            break;
        case MH_OPT_STRING:
        case MH_OPT_PATH:
        case MH_OPT_ENVVAR:
        case MH_OPT_SERVER: {
            const char *s = *(const char *const *)f;
            missing = s == NULL || s[0] == '\0';
            break;
        }
        default:
            missing = false; /* numbers and flags have a value always */
            break;
        }
        if (missing) {
            return o;
        }
    }
    return NULL;
}
