/* SPDX-License-Identifier: MIT */
/*
 * render_nagios: Nagios/Icinga plugin output (Monitoring Plugins developer
 * guidelines: status line, long output, perfdata).
 */
#include "render.h"

#include <math.h>
#include <string.h>

/* Longest summary on the status line: pagers and SMS forward line 1 only,
 * and Nagios keeps 8 KiB of output in all (Nagios plugin guidelines,
 * output length). */
#define STATUS_SUMMARY_MAX 400
/* Longest long-output line. */
#define LONG_LINE_MAX 600

/* Writes text with '|' and control characters replaced, at most max bytes
 * (then "..."). */
static int
put_clean(FILE *out, const char *text, size_t max)
{
    if (text == NULL) {
        text = "";
    }
    size_t n = strlen(text);
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '|') {
            c = '/';
        } else if (c < 0x20 || c == 0x7f) {
            c = ' ';
        }
        if (fputc(c, out) == EOF) {
            return -1;
        }
    }
    if (n > max && fputs("...", out) == EOF) {
        return -1;
    }
    return 0;
}

/* Perfdata labels: [A-Za-z0-9_.-] kept, everything else '_'. Never quotes
 * or '=' (guidelines: a label may contain anything but = and '). */
static int
put_label(FILE *out, const char *label)
{
    for (const char *p = label; *p != '\0'; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (fputc(ok ? c : '_', out) == EOF) {
            return -1;
        }
    }
    return 0;
}

/* A threshold is printed only if it consists of range characters. */
static const char *
range_or_empty(const char *range)
{
    if (range == NULL) {
        return "";
    }
    return strspn(range, "0123456789.:~@-") == strlen(range) ? range : "";
}

static int
put_perf(FILE *out, const struct mh_perf *p)
{
    char v[64], mn[64] = "", mx[64] = "";
    if (p->unknown) {
        snprintf(v, sizeof v, "U");
    } else {
        mh_fmt_decimal(v, sizeof v, p->value, 6);
    }
    if (p->has_min) {
        mh_fmt_decimal(mn, sizeof mn, p->min, 6);
    }
    if (p->has_max) {
        mh_fmt_decimal(mx, sizeof mx, p->max, 6);
    }
    if (put_label(out, p->label) != 0) {
        return -1;
    }
    /* 'label'=value[UOM];[warn];[crit];[min];[max], trailing empty
     * fields dropped (the guidelines allow it). */
    char buf[512];
    snprintf(buf, sizeof buf, "=%s%s;%s;%s;%s;%s", v,
             p->unknown ? "" : mh_unit_uom(p->unit), range_or_empty(p->warn),
             range_or_empty(p->crit), mn, mx);
    size_t n = strlen(buf);
    while (n > 0 && buf[n - 1] == ';') {
        buf[--n] = '\0';
    }
    return fputs(buf, out) == EOF ? -1 : 0;
}

static int
put_perf_all(FILE *out, const struct mh_result *r, bool *first)
{
    for (size_t i = 0; i < r->nperf; i++) {
        if (fputs(*first ? " | " : " ", out) == EOF ||
            put_perf(out, &r->perf[i]) != 0) {
            return -1;
        }
        *first = false;
    }
    return 0;
}

static int
put_item(FILE *out, const struct mh_item *it)
{
    if (fprintf(out, "[%s] ", mh_state_name(it->state)) < 0) {
        return -1;
    }
    if (it->category != MH_CAT_NONE && it->state != MH_STATE_OK &&
        fprintf(out, "[%s] ", mh_category_name(it->category)) < 0) {
        return -1;
    }
    if (it->name[0] != '\0') {
        if (put_clean(out, it->kind, 40) != 0 || fputc(' ', out) == EOF ||
            put_clean(out, it->name, 200) != 0 || fputs(": ", out) == EOF) {
            return -1;
        }
    }
    if (put_clean(out, it->text, LONG_LINE_MAX) != 0 ||
        fputc('\n', out) == EOF) {
        return -1;
    }
    return 0;
}

static int
put_long_output(FILE *out, const struct mh_result *r, int depth)
{
    for (size_t i = 0; i < r->nitems; i++) {
        if (depth > 0 && fputs("    ", out) == EOF) {
            return -1;
        }
        if (put_item(out, &r->items[i]) != 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < r->nchildren; i++) {
        const struct mh_result *c = r->children[i];
        if (fprintf(out, "[%s] ", mh_state_name(c->state)) < 0) {
            return -1;
        }
        if (c->state != MH_STATE_OK && c->category != MH_CAT_NONE &&
            fprintf(out, "[%s] ", mh_category_name(c->category)) < 0) {
            return -1;
        }
        /* Summaries usually start with the target already; don't say it
         * twice. */
        const char *sum = c->summary != NULL ? c->summary : "";
        size_t tl = strlen(c->target);
        bool named = strncmp(sum, c->target, tl) == 0;
        if ((!named && (put_clean(out, c->target, 200) != 0 ||
                        fputs(": ", out) == EOF)) ||
            put_clean(out, sum, LONG_LINE_MAX) != 0 ||
            fputc('\n', out) == EOF) {
            return -1;
        }
        if (put_long_output(out, c, depth + 1) != 0) {
            return -1;
        }
    }
    return 0;
}

int
mh_render_nagios(FILE *out, const struct mh_result *r)
{
    if (fprintf(out, "MAILHEALTH %s - ", mh_state_name(r->state)) < 0) {
        return -1;
    }
    if (r->state != MH_STATE_OK && r->category != MH_CAT_NONE &&
        fprintf(out, "[%s] ", mh_category_name(r->category)) < 0) {
        return -1;
    }
    if (put_clean(out, r->summary != NULL ? r->summary : "no summary",
                  STATUS_SUMMARY_MAX) != 0) {
        return -1;
    }
    /* All perfdata on the status line: the simplest form every consumer
     * parses (guidelines allow it after the first '|'). Children's perfdata
     * is prefixed by nothing; their labels are made unique by the probe. */
    bool first = true;
    if (put_perf_all(out, r, &first) != 0) {
        return -1;
    }
    for (size_t i = 0; i < r->nchildren; i++) {
        if (put_perf_all(out, r->children[i], &first) != 0) {
            return -1;
        }
    }
    if (fputc('\n', out) == EOF) {
        return -1;
    }
    if (put_long_output(out, r, 0) != 0) {
        return -1;
    }
    return fflush(out) == 0 ? 0 : -1;
}
