/* SPDX-License-Identifier: MIT */
/*
 * common: what the check commands share (see common.h).
 */
#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../probes/textutil.h"

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
mh_secret_free(char *secret)
{
    if (secret != NULL) {
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
    }
}

void
mh_apply_thresholds(const struct mh_config *cfg, struct mh_result *r,
                    const char *label, double value, enum mh_reason reason,
                    const char *what)
{
    const struct mh_threshold *w = &cfg->warning, *c = &cfg->critical;
    mh_result_set_perf_thresholds(r, label, w->set ? w->text : NULL,
                                  c->set ? c->text : NULL);
    enum mh_state st = mh_range_evaluate(w->set ? &w->range : NULL,
                                         c->set ? &c->range : NULL, value);
    if (st != MH_STATE_OK) {
        char v[32];
        mh_fmt_decimal(v, sizeof v, value, 3);
        mh_result_raise(r, st, reason, "%s: %s (%s range %s)", what, v,
                        st == MH_STATE_CRITICAL ? "critical" : "warning",
                        st == MH_STATE_CRITICAL ? c->text : w->text);
    }
}

void
mh_add_total_time(const struct mh_config *cfg, struct mh_result *r)
{
    const double zero = 0;
    mh_result_add_perf_first(r, "time", r->duration_s, MH_UNIT_SECONDS, NULL,
                             NULL, &zero, NULL);
    mh_apply_thresholds(cfg, r, "time", r->duration_s, MH_REASON_SLOW_RESPONSE,
                        "slow response");
}

struct mh_result *
mh_result_unknown(const char *check, const char *target, enum mh_reason reason,
                  const char *fmt, ...)
{
    struct mh_result *r = mh_result_new(check, target != NULL ? target : "");
    if (r == NULL) {
        return NULL;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0) {
        msg[0] = '\0';
    }
    mh_result_raise(r, MH_STATE_UNKNOWN, reason, "%s", msg);
    return r;
}

void
mh_target_host_port(const struct mh_config *cfg, char *buf, size_t len)
{
    mh_peer_label(buf, len, cfg->host, NULL, cfg->port);
}

void
mh_target_host(const struct mh_config *cfg, char *buf, size_t len)
{
    /* dnsbl: the first -H, as the check's own output names it; of a
     * hosts file alone: the file names the target */
    mh_textf(buf, len, "%s",
             cfg->hosts.n > 0          ? cfg->hosts.v[0]
             : cfg->host != NULL       ? cfg->host
             : cfg->hosts_file != NULL ? cfg->hosts_file
                                       : "");
}

void
mh_target_domain(const struct mh_config *cfg, char *buf, size_t len)
{
    mh_textf(buf, len, "%s", cfg->domain != NULL ? cfg->domain : "");
}

void
mh_trace_stderr(void *arg, const char *dir, const char *line)
{
    if (arg != NULL) {
        fprintf(stderr, "[%s] %s %s\n", (const char *)arg, dir, line);
    } else {
        fprintf(stderr, "%s %s\n", dir, line);
    }
}
