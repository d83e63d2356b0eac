/* SPDX-License-Identifier: MIT */
/*
 * render_prom: Prometheus text exposition format 0.0.4 and the atomic
 * textfile for node_exporter's textfile collector (Prometheus "Exposition
 * formats", node_exporter README "Textfile Collector").
 */
#include "render.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../probes/atomicfile.h"
#include "version.h"

/* Every family mailhealth exposes, in output order (README "Prometheus
 * metrics" lists them). */
static const struct family {
    const char *name;
    const char *help;
} families[] = {
    {"mailhealth_probe_success", "1 if the check's state is OK, else 0."},
    {"mailhealth_probe_status",
     "Nagios state of the check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."},
    {"mailhealth_probe_error",
     "1 for the error category of the check's failure, 0 for the others."},
    {"mailhealth_probe_failure_info",
     "1 for a check that is not OK, labelled with its error category and "
     "reason (absent when OK)."},
    {"mailhealth_probe_duration_seconds", "Wall time of the check."},
    {"mailhealth_smtp_phase_duration_seconds",
     "Duration of each phase of the SMTP dialogue."},
    {"mailhealth_smtp_reply_code",
     "Reply code of the server's last reply in each SMTP phase."},
    {"mailhealth_tls_cert_expiry_timestamp_seconds",
     "notAfter of each element of the verified chain (or of the chain as "
     "built when verification failed), Unix time."},
    {"mailhealth_tls_earliest_cert_expiry_timestamp_seconds",
     "Earliest notAfter on the verified chain, Unix time."},
    {"mailhealth_tls_verified",
     "1 if the chain and the host name verified, else 0."},
    {"mailhealth_tls_version_info", "TLS version and cipher of the session."},
    {"mailhealth_dane_verified",
     "1 if a usable DNSSEC-signed TLSA record matched the server's chain "
     "(RFC 7672), else 0."},
    {"mailhealth_dane_tlsa_records",
     "Number of TLSA records published for the server's port and name."},
    {"mailhealth_dane_rrsig_expiry_timestamp_seconds",
     "Expiration of the earliest RRSIG over the record set, Unix time."},
    {"mailhealth_dnsbl_listed", "1 if the address is listed on the zone."},
    {"mailhealth_dnsbl_error",
     "1 if the zone could not give a usable answer for the address."},
    {"mailhealth_dnsbl_listed_zones", "Number of zones listing the target."},
    {"mailhealth_dnsbl_listed_addresses",
     "Number of the check's addresses and names listed on a block zone."},
    {"mailhealth_dnsbl_zone_errors",
     "Addresses the zone gave no usable answer for (checks of many "
     "addresses, which have no per-address error series)."},
    {"mailhealth_dnsbl_zone_up",
     "1 if the DNSBL zone passed its RFC 5782 test entries, 0 if it failed "
     "them or refused queries (zone health, apart from the verdict)."},
    {"mailhealth_mtasts_policy_info",
     "1 for the domain's valid MTA-STS policy, labelled with its id and "
     "mode."},
    {"mailhealth_mtasts_max_age_seconds",
     "max_age of the domain's MTA-STS policy."},
    {"mailhealth_mtasts_mx_covered",
     "1 if the MX host matches an mx pattern of the MTA-STS policy."},
    {"mailhealth_mtasts_mx_verified",
     "1 if every address of the MX host presented a certificate that "
     "verified for its name over STARTTLS."},
    {"mailhealth_mtasts_policy_cert_expiry_timestamp_seconds",
     "Earliest notAfter on the chain of the MTA-STS policy host, Unix "
     "time."},
    {"mailhealth_mtasts_tlsrpt_valid",
     "1 if the domain's TLS-RPT record is valid (absent without one)."},
    {"mailhealth_delivery_duration_seconds",
     "Delay from the end of the submission until the mail was found."},
    {"mailhealth_last_run_timestamp_seconds",
     "When the results in this file were produced, Unix time."},
    {"mailhealth_runner_round_duration_seconds",
     "Wall time of the runner's last round of checks."},
    {"mailhealth_build_info", "Version of mailhealth that wrote this file."},
};

/* Formats a sample value in Go float syntax with '.' in every locale. */
static void
fmt_value(char *buf, size_t len, double v)
{
    if (isnan(v)) {
        snprintf(buf, len, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    snprintf(buf, len, "%.15g", v);
    mh_c_decimal_point(buf);
}

/* Label value escaping: backslash, double quote and newline (4.2). */
static int
put_label_value(FILE *out, const char *v)
{
    for (const char *p = v; *p != '\0'; p++) {
        int rc;
        if (*p == '\\') {
            rc = fputs("\\\\", out);
        } else if (*p == '"') {
            rc = fputs("\\\"", out);
        } else if (*p == '\n') {
            rc = fputs("\\n", out);
        } else {
            rc = fputc(*p, out);
        }
        if (rc == EOF) {
            return -1;
        }
    }
    return 0;
}

/* Label names must match [a-zA-Z_][a-zA-Z0-9_]*; ours are fixed strings,
 * anything else is mapped to '_' defensively. */
static int
put_label_name(FILE *out, const char *n)
{
    for (const char *p = n; *p != '\0'; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '_' || (p != n && c >= '0' && c <= '9');
        if (fputc(ok ? c : '_', out) == EOF) {
            return -1;
        }
    }
    return 0;
}

/* name{k="v",...} value\n ; pairs is key,value,... (npairs pairs). */
static int
put_sample(FILE *out, const char *name, const char *const *pairs, size_t npairs,
           double value)
{
    if (fputs(name, out) == EOF) {
        return -1;
    }
    if (npairs > 0) {
        if (fputc('{', out) == EOF) {
            return -1;
        }
        for (size_t i = 0; i < npairs; i++) {
            if ((i > 0 && fputc(',', out) == EOF) ||
                put_label_name(out, pairs[2 * i]) != 0 ||
                fputs("=\"", out) == EOF ||
                put_label_value(out, pairs[2 * i + 1]) != 0 ||
                fputc('"', out) == EOF) {
                return -1;
            }
        }
        if (fputc('}', out) == EOF) {
            return -1;
        }
    }
    char v[64];
    fmt_value(v, sizeof v, value);
    return fprintf(out, " %s\n", v) < 0 ? -1 : 0;
}

/* Results in depth-first order (parent before its children). */
struct flat {
    const struct mh_result **r;
    size_t n, cap;
};

static int
flatten(struct flat *f, const struct mh_result *r)
{
    if (f->n == f->cap) {
        size_t cap = f->cap == 0 ? 16 : f->cap * 2;
        const struct mh_result **p = realloc(f->r, cap * sizeof *p);
        if (p == NULL) {
            return -1;
        }
        f->r = p;
        f->cap = cap;
    }
    f->r[f->n++] = r;
    for (size_t i = 0; i < r->nchildren; i++) {
        if (flatten(f, r->children[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Emits the samples of family fam (index) for result r. */
static int
put_family_of(FILE *out, size_t fam, const struct mh_result *r)
{
    const char *name = families[fam].name;
    const char *base[] = {"target", r->target, "check", r->check};
    if (strcmp(name, "mailhealth_probe_success") == 0) {
        return put_sample(out, name, base, 2, r->state == MH_STATE_OK);
    }
    if (strcmp(name, "mailhealth_probe_status") == 0) {
        return put_sample(out, name, base, 2, (double)r->state);
    }
    if (strcmp(name, "mailhealth_probe_error") == 0) {
        /* One series per category, always present (0/1), so alerts and
         * dashboards never deal with missing series. */
        for (int c = 1; c < (int)MH_CAT_LAST; c++) {
            const char *pairs[] = {
                "target", r->target,  "check",
                r->check, "category", mh_category_name((enum mh_category)c)};
            bool on = r->state != MH_STATE_OK && (int)r->category == c;
            if (put_sample(out, name, pairs, 3, on ? 1 : 0) != 0) {
                return -1;
            }
        }
        return 0;
    }
    if (strcmp(name, "mailhealth_probe_failure_info") == 0) {
        if (r->state == MH_STATE_OK) {
            return 0;
        }
        const char *pairs[] = {"target",   r->target,
                               "check",    r->check,
                               "category", mh_category_name(r->category),
                               "reason",   mh_reason_name(r->reason)};
        return put_sample(out, name, pairs, 4, 1);
    }
    if (strcmp(name, "mailhealth_probe_duration_seconds") == 0) {
        return put_sample(out, name, base, 2, r->duration_s);
    }
    for (size_t i = 0; i < r->nsamples; i++) {
        const struct mh_sample *s = &r->samples[i];
        if (strcmp(s->family, name) != 0) {
            continue;
        }
        /* target first, then the sample's own labels. */
        const char *pairs[2 * 8];
        size_t np = 0;
        pairs[np * 2] = "target";
        pairs[np * 2 + 1] = r->target;
        np++;
        for (size_t j = 0; j < s->nlabels && np < 8; j++, np++) {
            pairs[np * 2] = s->labels[2 * j];
            pairs[np * 2 + 1] = s->labels[2 * j + 1];
        }
        if (put_sample(out, name, pairs, np, s->value) != 0) {
            return -1;
        }
    }
    return 0;
}

static bool
family_used(size_t fam, const struct flat *f)
{
    const char *name = families[fam].name;
    if (strcmp(name, "mailhealth_probe_failure_info") == 0) {
        for (size_t k = 0; k < f->n; k++) {
            if (f->r[k]->state != MH_STATE_OK) {
                return true;
            }
        }
        return false;
    }
    if (strncmp(name, "mailhealth_probe_", 17) == 0) {
        return f->n > 0;
    }
    for (size_t k = 0; k < f->n; k++) {
        for (size_t i = 0; i < f->r[k]->nsamples; i++) {
            if (strcmp(f->r[k]->samples[i].family, name) == 0) {
                return true;
            }
        }
    }
    return false;
}

/* HELP and TYPE of a family; note (may be NULL) follows the HELP text. */
static int
put_header(FILE *out, size_t fam, const char *note)
{
    return fprintf(out, "# HELP %s %s%s%s\n# TYPE %s gauge\n",
                   families[fam].name, families[fam].help,
                   note != NULL ? " " : "", note != NULL ? note : "",
                   families[fam].name) < 0
               ? -1
               : 0;
}

int
mh_render_prometheus(FILE *out, const struct mh_result *const *results,
                     size_t n, double now_unix, double round_seconds)
{
    return mh_render_prometheus_with(out, results, n, now_unix, round_seconds,
                                     true, NULL);
}

int
mh_render_prometheus_with(FILE *out, const struct mh_result *const *results,
                          size_t n, double now_unix, double round_seconds,
                          bool writer_families, const char *help_note)
{
    struct flat f = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = flatten(&f, results[i]);
    }
    for (size_t fam = 0; rc == 0 && fam < sizeof families / sizeof families[0];
         fam++) {
        const char *name = families[fam].name;
        bool writer =
            strcmp(name, "mailhealth_last_run_timestamp_seconds") == 0 ||
            strcmp(name, "mailhealth_runner_round_duration_seconds") == 0 ||
            strcmp(name, "mailhealth_build_info") == 0;
        if (writer && !writer_families) {
            continue;
        }
        if (strcmp(name, "mailhealth_last_run_timestamp_seconds") == 0) {
            rc = put_header(out, fam, NULL);
            rc = rc == 0 ? put_sample(out, name, NULL, 0, now_unix) : rc;
            continue;
        }
        if (strcmp(name, "mailhealth_runner_round_duration_seconds") == 0) {
            if (round_seconds >= 0) {
                rc = put_header(out, fam, NULL);
                rc = rc == 0 ? put_sample(out, name, NULL, 0, round_seconds)
                             : rc;
            }
            continue;
        }
        if (strcmp(name, "mailhealth_build_info") == 0) {
            const char *pairs[] = {"version", MH_VERSION};
            rc = put_header(out, fam, NULL);
            rc = rc == 0 ? put_sample(out, name, pairs, 1, 1) : rc;
            continue;
        }
        if (!family_used(fam, &f)) {
            continue;
        }
        rc = put_header(out, fam, help_note);
        for (size_t k = 0; rc == 0 && k < f.n; k++) {
            rc = put_family_of(out, fam, f.r[k]);
        }
    }
    free(f.r);
    if (rc == 0 && fflush(out) != 0) {
        rc = -1;
    }
    return rc;
}

int
mh_write_textfile(const char *path, const struct mh_result *const *results,
                  size_t n, double now_unix, double round_seconds, char *errbuf,
                  size_t errlen)
{
    struct mh_atomic_file af;
    if (mh_atomic_open(&af, path, errbuf, errlen) != 0) {
        return -1;
    }
    int rc = mh_render_prometheus(af.f, results, n, now_unix, round_seconds);
    return mh_atomic_commit(&af, rc, errbuf, errlen);
}
