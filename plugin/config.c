/* SPDX-License-Identifier: MIT */
/*
 * config: the rules between options and the defaults that depend on other
 * options (see config.h; single options are options.c's).
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../probes/dnsbl.h"
#include "../probes/dnsbl_targets.h"
#include "../probes/dnsbl_zones.h"
#include "../probes/textutil.h"
#include "commands.h"
#include "options.h"

void
mh_config_free(struct mh_config *cfg)
{
    free(cfg->rcpt_to.v);
    free(cfg->zones.v);
    free(cfg->hosts.v);
    cfg->rcpt_to = (struct mh_strlist){0};
    cfg->zones = (struct mh_strlist){0};
    cfg->hosts = (struct mh_strlist){0};
}

uint16_t
mh_default_port(enum mh_command cmd, enum mh_tls_mode mode)
{
    switch (cmd) {
    case MH_CMD_SMTP:
    case MH_CMD_TLS:
    case MH_CMD_DOMAIN:
    case MH_CMD_MTASTS:
        /* RFC 8314 3.3: submissions over implicit TLS; else SMTP's port. */
        return mode == MH_TLS_IMPLICIT ? 465 : 25;
    default:
        return 0; /* the command has no -p (delivery: ports are in URLs) */
    }
}

/* A trust store the monitoring host cannot read is a configuration
 * problem (UNKNOWN), not a TLS failure of the server. */
static int
check_trust_stores(const struct mh_config *cfg, char *errbuf, size_t errlen)
{
    const char *stores[] = {cfg->ca_file, cfg->ca_path};
    const char *names[] = {"--ca-file", "--ca-path"};
    for (size_t i = 0; i < 2; i++) {
        if (stores[i] != NULL && access(stores[i], R_OK) != 0) {
            mh_textf(errbuf, errlen, "cannot read %s %s: %s", names[i],
                     stores[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Passwords never come from argv: a user needs a password source and a
 * password source needs a user. */
static int
check_secrets(const struct mh_config *cfg, char *errbuf, size_t errlen)
{
    bool source =
        cfg->auth_password_file != NULL || cfg->auth_password_env != NULL;
    if (cfg->auth_user == NULL && source) {
        mh_textf(errbuf, errlen,
                 "--auth-password-file/--auth-password-env need --auth-user");
        return -1;
    }
    if (cfg->auth_user != NULL && !source) {
        mh_textf(errbuf, errlen,
                 "--auth-user needs --auth-password-file or "
                 "--auth-password-env (passwords never come from argv)");
        return -1;
    }
    if (cfg->command == MH_CMD_DELIVERY &&
        (cfg->imap_user == NULL ||
         (cfg->imap_password_file == NULL && cfg->imap_password_env == NULL))) {
        mh_textf(errbuf, errlen,
                 "delivery needs --imap-user and --imap-password-file or "
                 "--imap-password-env (passwords never come from argv)");
        return -1;
    }
    return 0;
}

/* The lowest and highest value a range does not alert on (infinite when
 * the range is open on that side). */
static void
range_bounds(const struct mh_range *r, double *lo, double *hi)
{
    *lo = r->start_inf ? -HUGE_VAL : r->start;
    *hi = r->end_inf ? HUGE_VAL : r->end;
}

/* Critical is checked first: when every value outside the warning range
 * is also outside a narrower critical range (-w 5 -c 3), WARNING can
 * never be given, which is a mistake in the order of the two. Ranges
 * with '@' are not compared. */
static int
check_thresholds(const struct mh_config *cfg, char *errbuf, size_t errlen)
{
    const struct mh_threshold *w = &cfg->warning, *c = &cfg->critical;
    if (!w->set || !c->set || w->range.inside || c->range.inside) {
        return 0;
    }
    double wlo, whi, clo, chi;
    range_bounds(&w->range, &wlo, &whi);
    range_bounds(&c->range, &clo, &chi);
    if (clo >= wlo && chi <= whi && (clo > wlo || chi < whi)) {
        mh_textf(errbuf, errlen,
                 "--critical %s is narrower than --warning %s: critical is "
                 "checked first, so WARNING could never be given",
                 c->text, w->text);
        return -1;
    }
    return 0;
}

/* Every --zone argument's syntax (name, type, kind), so a bad one is a
 * usage error in the runner's config as on the command line, not a check
 * that fails at each run; and a zone named twice with another type or
 * kind, of which the check would silently keep the first. The zones file
 * is read by the check. */
static int
check_zone_args(const struct mh_config *cfg, char *errbuf, size_t errlen)
{
    struct mh_dnsbl_zones seen = {0};
    int rc = 0;
    for (size_t i = 0; i < cfg->zones.n && rc == 0; i++) {
        struct mh_dnsbl_zones one = {0};
        rc =
            mh_dnsbl_zones_add_arg(&one, cfg->zones.v[i], NULL, errbuf, errlen);
        const struct mh_dnsbl_zone *z = rc == 0 ? &one.v[0] : NULL;
        const struct mh_dnsbl_zone *prev =
            z != NULL ? mh_dnsbl_zones_find(&seen, z->name) : NULL;
        if (prev != NULL && (prev->type != z->type || prev->kind != z->kind)) {
            mh_textf(errbuf, errlen,
                     "--zone %s is given twice with another type or kind "
                     "(%s,%s and %s,%s): name it once",
                     z->name, mh_dnsbl_zone_type_name(prev->type),
                     mh_dnsbl_list_kind_name(prev->kind),
                     mh_dnsbl_zone_type_name(z->type),
                     mh_dnsbl_list_kind_name(z->kind));
            rc = -1;
        } else if (z != NULL && prev == NULL &&
                   mh_dnsbl_zones_append(&seen, z) != 0) {
            mh_textf(errbuf, errlen, "out of memory");
            rc = -1;
        }
        mh_dnsbl_zones_free(&one);
    }
    mh_dnsbl_zones_free(&seen);
    return rc;
}

/* The target's spelling: -H of smtp and tls an IP address or a DNS name,
 * -D a DNS name, and an IP address of the family -4/-6 ask for. A typo
 * is a usage error, not a failed DNS lookup reported as CRITICAL. */
static int
check_target_names(const struct mh_config *cfg, char *errbuf, size_t errlen)
{
    char name[MH_DNSBL_NAME_MAX + 2], shown[100] = "";
    bool smtp_like = cfg->command == MH_CMD_SMTP || cfg->command == MH_CMD_TLS;
    bool domain_like =
        cfg->command == MH_CMD_DOMAIN || cfg->command == MH_CMD_MTASTS;
    if (smtp_like && cfg->host != NULL) {
        mh_text_escape_append(shown, sizeof shown, cfg->host, strlen(cfg->host),
                              true);
        bool literal = mh_is_ip_literal(cfg->host);
        /* (':' without being an address: a scoped IPv6 address such as
         * fe80::1%eth0, which the resolver takes) */
        if (!literal && strchr(cfg->host, ':') == NULL &&
            mh_dnsbl_normalize_name(cfg->host, name, sizeof name) != 0) {
            mh_textf(errbuf, errlen,
                     "invalid --host '%s': not an IP address or a DNS name",
                     shown);
            return -1;
        }
        bool v6 = mh_host_is_v6(cfg->host);
        if (literal && cfg->family == (v6 ? AF_INET : AF_INET6)) {
            mh_textf(errbuf, errlen,
                     "--host %s is an IPv%c address: it excludes --use-ipv%c",
                     shown, v6 ? '6' : '4', v6 ? '4' : '6');
            return -1;
        }
    }
    if (domain_like && cfg->domain != NULL &&
        mh_dnsbl_normalize_name(cfg->domain, name, sizeof name) != 0) {
        mh_text_escape_append(shown, sizeof shown, cfg->domain,
                              strlen(cfg->domain), true);
        mh_textf(errbuf, errlen, "invalid --domain '%s': not a DNS name",
                 shown);
        return -1;
    }
    return 0;
}

/* The rules of one command beyond its required options. */
static int
check_command(const struct mh_config *cfg, char *errbuf, size_t errlen)
{
    switch (cfg->command) {
    case MH_CMD_DNSBL:
        /* Every -H, so that an empty or malformed one is a usage error
         * when the options are read (the runner's config included), not
         * at each run, and not hidden by a later -H. */
        for (size_t i = 0; i < cfg->hosts.n; i++) {
            struct mh_dnsbl_target t;
            if (mh_dnsbl_target_parse(cfg->hosts.v[i], &t) != 0) {
                mh_textf(
                    errbuf, errlen,
                    "invalid --host '%.80s': not an IP address, an address "
                    "block (CIDR) or a DNS name",
                    cfg->hosts.v[i]);
                return -1;
            }
        }
        if ((cfg->host == NULL || cfg->host[0] == '\0') &&
            cfg->hosts_file == NULL) {
            mh_textf(errbuf, errlen,
                     "dnsbl needs -H HOST or --hosts-file FILE");
            return -1;
        }
        if (cfg->zones.n == 0 && cfg->zones_file == NULL) {
            mh_textf(errbuf, errlen, "dnsbl needs --zone ZONE or --zones-file");
            return -1;
        }
        return 0;
    case MH_CMD_DELIVERY:
        if (cfg->mail_from == NULL || cfg->rcpt_to.n != 1) {
            mh_textf(errbuf, errlen,
                     "delivery needs --mail-from ADDR and exactly one "
                     "--rcpt-to ADDR");
            return -1;
        }
        return 0;
    case MH_CMD_SMTP:
        /* An authenticated client may relay by design: the relay test
         * means something only in a session without AUTH. */
        if (cfg->relay_test != NULL && cfg->auth_user != NULL) {
            mh_textf(errbuf, errlen,
                     "--relay-test and --auth-user exclude each other: an "
                     "authenticated session may relay, so the relay test "
                     "needs a check of its own without AUTH");
            return -1;
        }
        return 0;
    case MH_CMD_RUN:
        if (cfg->once && cfg->interval_s > 0) {
            mh_textf(errbuf, errlen,
                     "--once and --interval exclude each other");
            return -1;
        }
        return 0;
    default:
        return 0;
    }
}

int
mh_config_validate(struct mh_config *cfg, char *errbuf, size_t errlen)
{
    const struct mh_option *m = mh_config_missing(cfg);
    if (m != NULL) {
        if (m->short_name != 0) {
            mh_textf(errbuf, errlen, "%s needs -%c %s",
                     mh_command_name(cfg->command), m->short_name, m->arg);
        } else {
            mh_textf(errbuf, errlen, "%s needs --%s %s",
                     mh_command_name(cfg->command), m->name, m->arg);
        }
        return -1;
    }
    if (check_command(cfg, errbuf, errlen) != 0 ||
        check_target_names(cfg, errbuf, errlen) != 0 ||
        check_thresholds(cfg, errbuf, errlen) != 0 ||
        check_zone_args(cfg, errbuf, errlen) != 0 ||
        check_trust_stores(cfg, errbuf, errlen) != 0 ||
        check_secrets(cfg, errbuf, errlen) != 0) {
        return -1;
    }
    if (cfg->sni != NULL && cfg->no_sni) {
        mh_textf(errbuf, errlen, "--sni and --no-sni exclude each other");
        return -1;
    }
    if (cfg->dane && cfg->host != NULL &&
        (cfg->command == MH_CMD_SMTP || cfg->command == MH_CMD_TLS) &&
        mh_is_ip_literal(cfg->host)) {
        mh_textf(errbuf, errlen,
                 "--dane needs -H NAME: the TLSA records are found by the "
                 "host's name (RFC 7672 2.2.3)");
        return -1;
    }
    /* DANE needs TLS: STARTTLS unless --tls; in domain mode an MX host
     * without STARTTLS only warns unless it publishes TLSA records. */
    if (cfg->dane && cfg->tls_mode == MH_TLS_NONE) {
        cfg->tls_mode = MH_TLS_STARTTLS;
        if (cfg->command == MH_CMD_DOMAIN) {
            cfg->starttls_optional = true;
        }
    }
    /* STARTTLS that may be missing is still tried. */
    if (cfg->starttls_optional && cfg->tls_mode == MH_TLS_NONE) {
        cfg->tls_mode = MH_TLS_STARTTLS;
    }
    if (cfg->port == 0) {
        cfg->port = mh_default_port(cfg->command, cfg->tls_mode);
    }
    return 0;
}
