/* SPDX-License-Identifier: MIT */
/*
 * commands: the registry (see commands.h).
 */
#include "commands.h"

#include <string.h>

#include "checks.h"
#include "common.h"

static const struct mh_command_def registry[] = {
    {MH_CMD_SMTP, "smtp",
     "SMTP dialogue: greeting, EHLO, STARTTLS/TLS, AUTH, MAIL FROM, RCPT TO",
     mh_cmd_smtp, mh_target_host_port, false},
    {MH_CMD_TLS, "tls",
     "TLS certificate: verified chain, host name, expiry of every element",
     mh_cmd_tls, mh_target_host_port, false},
    {MH_CMD_DNSBL, "dnsbl",
     "DNS blocklists: all zones in parallel, return codes understood",
     mh_cmd_dnsbl, mh_target_host, false},
    {MH_CMD_DOMAIN, "domain",
     "MX lookup, then smtp, tls and dnsbl checks on every MX host",
     mh_cmd_domain, mh_target_domain, false},
    {MH_CMD_DELIVERY, "delivery",
     "round trip: submit a token mail, find it over IMAP", mh_cmd_delivery,
     mh_target_delivery, true},
    {MH_CMD_MTASTS, "mta-sts",
     "MTA-STS policy and TLS-RPT record against the MX hosts and their "
     "certificates",
     mh_cmd_mtasts, mh_target_domain, true},
    {MH_CMD_RUN, "run",
     "many checks from a JSON config into a node_exporter textfile", NULL, NULL,
     true},
};
_Static_assert(sizeof registry / sizeof registry[0] == (size_t)MH_CMD_LAST - 1,
               "one registry row per enum mh_command");

const struct mh_command_def *
mh_command_get(enum mh_command cmd)
{
    if ((int)cmd <= 0 || cmd >= MH_CMD_LAST) {
        return NULL;
    }
    return &registry[(int)cmd - 1];
}

const char *
mh_command_name(enum mh_command cmd)
{
    const struct mh_command_def *d = mh_command_get(cmd);
    return d != NULL ? d->name : "";
}

enum mh_command
mh_command_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        if (strcmp(name, registry[i].name) == 0) {
            return registry[i].id;
        }
    }
    return MH_CMD_NONE;
}

char *
mh_command_target(const struct mh_config *cfg, char *buf, size_t len)
{
    const struct mh_command_def *d = mh_command_get(cfg->command);
    buf[0] = '\0';
    if (d != NULL && d->target != NULL) {
        d->target(cfg, buf, len);
    }
    return buf;
}

struct mh_result *
mh_command_check(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    const struct mh_command_def *d = mh_command_get(cfg->command);
    if (d == NULL || d->check == NULL) {
        const char *name = mh_command_name(cfg->command);
        return mh_result_unknown(name, "", MH_REASON_USAGE_ERROR,
                                 "%s is not a check", name);
    }
    return d->check(cfg, dl);
}

enum mh_target_kind
mh_command_target_kind(enum mh_command cmd)
{
    const struct mh_command_def *d = mh_command_get(cmd);
    if (d == NULL || d->target == NULL || d->check == NULL) {
        return MH_TARGET_NONE;
    }
    if (d->target == mh_target_host_port) {
        return MH_TARGET_HOST_PORT;
    }
    if (d->target == mh_target_host) {
        return MH_TARGET_HOST;
    }
    if (d->target == mh_target_domain) {
        return MH_TARGET_DOMAIN;
    }
    return MH_TARGET_NONE;
}
