/* SPDX-License-Identifier: MIT */
/*
 * commands: shared helpers of the subcommands and the dispatcher (see
 * commands.h).
 */
#include "commands.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "render.h"

struct mh_result *
mh_cmd_dispatch(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    switch (cfg->command) {
    case MH_CMD_SMTP:
        return mh_cmd_smtp(cfg, dl);
    case MH_CMD_TLS:
        return mh_cmd_tls(cfg, dl);
    case MH_CMD_DNSBL:
        return mh_cmd_dnsbl(cfg, dl);
    case MH_CMD_DOMAIN:
        return mh_cmd_domain(cfg, dl);
    case MH_CMD_DELIVERY:
        return mh_cmd_delivery(cfg, dl);
    case MH_CMD_RUN:
    case MH_CMD_NONE:
    case MH_CMD_LAST:
        break;
    }
    return mh_cmd_not_implemented(cfg);
}

struct mh_result *
mh_cmd_not_implemented(const struct mh_config *cfg)
{
    const char *name = mh_command_name(cfg->command);
    struct mh_result *r =
        mh_result_new(name, cfg->host != NULL ? cfg->host : "");
    if (r != NULL) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
                        "%s is not implemented yet", name);
    }
    return r;
}

char *
mh_read_secret(const char *path, const char *env, char *errbuf, size_t errlen)
{
    if (path != NULL) {
        /* O_NONBLOCK and a regular-file check: a FIFO or device given as
         * the password file must not block the check past its deadline. */
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        if (fd < 0) {
            snprintf(errbuf, errlen, "cannot read password file %s: %s", path,
                     strerror(errno));
            return NULL;
        }
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            snprintf(errbuf, errlen, "password file %s is not a regular file",
                     path);
            return NULL;
        }
        FILE *f = fdopen(fd, "r");
        if (f == NULL) {
            close(fd);
            snprintf(errbuf, errlen, "cannot read password file %s: %s", path,
                     strerror(errno));
            return NULL;
        }
        char buf[1024];
        char *line = fgets(buf, sizeof buf, f);
        fclose(f);
        if (line == NULL) {
            snprintf(errbuf, errlen, "password file %s is empty", path);
            return NULL;
        }
        buf[strcspn(buf, "\r\n")] = '\0';
        char *s = strdup(buf);
        memset(buf, 0, sizeof buf);
        if (s == NULL) {
            snprintf(errbuf, errlen, "out of memory");
        }
        return s;
    }
    if (env != NULL) {
        const char *v = getenv(env);
        if (v == NULL || v[0] == '\0') {
            snprintf(errbuf, errlen, "environment variable %s is not set", env);
            return NULL;
        }
        char *s = strdup(v);
        if (s == NULL) {
            snprintf(errbuf, errlen, "out of memory");
        }
        return s;
    }
    snprintf(errbuf, errlen, "no password source given");
    return NULL;
}

void
mh_apply_thresholds(const struct mh_config *cfg, struct mh_result *r,
                    const char *label, double value, enum mh_reason reason,
                    const char *what)
{
    for (size_t i = 0; i < r->nperf; i++) {
        struct mh_perf *p = &r->perf[i];
        if (strcmp(p->label, label) != 0) {
            continue;
        }
        if (cfg->warning != NULL && p->warn == NULL) {
            p->warn = strdup(cfg->warning);
        }
        if (cfg->critical != NULL && p->crit == NULL) {
            p->crit = strdup(cfg->critical);
        }
    }
    enum mh_state st =
        mh_range_evaluate(cfg->has_warn ? &cfg->warn : NULL,
                          cfg->has_crit ? &cfg->crit : NULL, value);
    if (st != MH_STATE_OK) {
        char v[32];
        mh_fmt_decimal(v, sizeof v, value, 3);
        mh_result_raise(r, st, reason, "%s: %s (%s range %s)", what, v,
                        st == MH_STATE_CRITICAL ? "critical" : "warning",
                        st == MH_STATE_CRITICAL ? cfg->critical : cfg->warning);
    }
}

void
mh_trace_stderr(void *arg, const char *dir, const char *line)
{
    (void)arg;
    fprintf(stderr, "%s %s\n", dir, line);
}
