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
#include "../probes/metric_names.h"
#include "version.h"

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

/* Emits the samples of family fam for result r. */
static int
put_family_of(FILE *out, enum mh_metric fam, const struct mh_result *r)
{
    const char *name = mh_metric_families[fam].name;
    const char *base[] = {"target", r->target, "check", r->check};
    switch (fam) {
    case MH_METRIC_PROBE_SUCCESS:
        return put_sample(out, name, base, 2, r->state == MH_STATE_OK);
    case MH_METRIC_PROBE_STATUS:
        return put_sample(out, name, base, 2, (double)r->state);
    case MH_METRIC_PROBE_ERROR:
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
    case MH_METRIC_PROBE_FAILURE_INFO: {
        if (r->state == MH_STATE_OK) {
            return 0;
        }
        const char *pairs[] = {"target",   r->target,
                               "check",    r->check,
                               "category", mh_category_name(r->category),
                               "reason",   mh_reason_name(r->reason)};
        return put_sample(out, name, pairs, 4, 1);
    }
    case MH_METRIC_PROBE_DURATION_SECONDS:
        return put_sample(out, name, base, 2, r->duration_s);
    default:
        break;
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

/* True for the families every result has (mailhealth_probe_*). */
static bool
core_family(enum mh_metric fam)
{
    return fam <= MH_METRIC_PROBE_DURATION_SECONDS;
}

static bool
family_used(enum mh_metric fam, const struct flat *f)
{
    if (fam == MH_METRIC_PROBE_FAILURE_INFO) {
        for (size_t k = 0; k < f->n; k++) {
            if (f->r[k]->state != MH_STATE_OK) {
                return true;
            }
        }
        return false;
    }
    if (core_family(fam)) {
        return f->n > 0;
    }
    const char *name = mh_metric_families[fam].name;
    for (size_t k = 0; k < f->n; k++) {
        for (size_t i = 0; i < f->r[k]->nsamples; i++) {
            if (strcmp(f->r[k]->samples[i].family, name) == 0) {
                return true;
            }
        }
    }
    return false;
}

int
mh_prom_put_header(FILE *out, enum mh_metric fam, const char *note)
{
    const struct mh_metric_family *m = &mh_metric_families[fam];
    return fprintf(out, "# HELP %s %s%s%s\n# TYPE %s %s\n", m->name, m->help,
                   note != NULL ? " " : "", note != NULL ? note : "", m->name,
                   mh_metric_type_name(m->type)) < 0
               ? -1
               : 0;
}

/* The families that describe the writer of the file rather than a check:
 * HELP, TYPE and their one sample (round_seconds < 0: no round family). */
static int
put_writer_family(FILE *out, enum mh_metric fam, double now_unix,
                  double round_seconds)
{
    const char *name = mh_metric_families[fam].name;
    if (fam == MH_METRIC_LAST_RUN_TIMESTAMP_SECONDS) {
        return mh_prom_put_header(out, fam, NULL) != 0
                   ? -1
                   : put_sample(out, name, NULL, 0, now_unix);
    }
    if (fam == MH_METRIC_RUNNER_ROUND_DURATION_SECONDS) {
        if (round_seconds < 0) {
            return 0;
        }
        return mh_prom_put_header(out, fam, NULL) != 0
                   ? -1
                   : put_sample(out, name, NULL, 0, round_seconds);
    }
    const char *pairs[] = {"version", MH_VERSION};
    return mh_prom_put_header(out, fam, NULL) != 0
               ? -1
               : put_sample(out, name, pairs, 1, 1);
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
    for (int i = 0; rc == 0 && i < (int)MH_METRIC_LAST; i++) {
        enum mh_metric fam = (enum mh_metric)i;
        if (fam >= MH_METRIC_EXPORTER_ROUNDS_TOTAL) {
            break; /* the exporter's own, written by exporter.c */
        }
        if (fam >= MH_METRIC_LAST_RUN_TIMESTAMP_SECONDS) {
            rc = writer_families
                     ? put_writer_family(out, fam, now_unix, round_seconds)
                     : 0;
            continue;
        }
        if (!family_used(fam, &f)) {
            continue;
        }
        rc = mh_prom_put_header(out, fam, help_note);
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
