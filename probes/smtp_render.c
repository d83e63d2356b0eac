/* SPDX-License-Identifier: MIT */
/*
 * smtp_render: the SMTP probe's report (smtp.h: struct mh_smtp_report)
 * made into the result: items, perfdata, samples, state and summary. No
 * dialogue here; smtp.c fills the report and writes no output.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metric_names.h"
#include "smtp.h"
#include "tlscheck.h"

void
mh_smtp_report_clear(struct mh_smtp_report *rep)
{
    for (size_t i = 0; i < rep->nev; i++) {
        free(rep->ev[i].text);
        free(rep->ev[i].extensions);
        free(rep->ev[i].mechanisms);
    }
    free(rep->ev);
    rep->ev = NULL;
    rep->nev = rep->cap = 0;
    free(rep->certs);
    rep->certs = NULL;
}

/* The failure record after event e, with mh_result_raise's rule: a worse
 * state replaces it, an equal one only sets a cause not set yet. */
static void
failure_update(struct mh_smtp_report *rep, const struct mh_smtp_event *e)
{
    struct mh_smtp_failure *f = &rep->failure;
    bool worse = mh_state_rank(e->state) > mh_state_rank(f->state);
    if (e->kind == MH_SMTP_EV_FAIL && !worse &&
        !(f->cause[0] == '\0' && e->state == f->state)) {
        return;
    }
    if (e->kind != MH_SMTP_EV_SUMMARY) {
        f->state = e->state;
        f->reason = e->reason;
    }
    if (e->kind == MH_SMTP_EV_FAIL) {
        f->phase = e->name;
        f->code = e->code;
        memcpy(f->enhanced, e->enhanced, sizeof f->enhanced);
        f->rule = e->rule;
        snprintf(f->reply, sizeof f->reply, "%s",
                 e->code != 0 && rep->at.reply != NULL ? rep->at.reply : "");
    }
    if (e->text != NULL) {
        snprintf(f->cause, sizeof f->cause, "%s", e->text);
    }
}

struct mh_smtp_event *
mh_smtp_report_event(struct mh_smtp_report *rep, enum mh_smtp_event_kind kind,
                     const char *name, enum mh_state st, enum mh_reason reason,
                     const char *text)
{
    if (rep->nev == rep->cap) {
        size_t cap = rep->cap == 0 ? 16 : 2 * rep->cap;
        struct mh_smtp_event *ev = realloc(rep->ev, cap * sizeof *ev);
        if (ev == NULL) {
            rep->oom = true;
            return NULL;
        }
        rep->ev = ev;
        rep->cap = cap;
    }
    struct mh_smtp_event *e = &rep->ev[rep->nev];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->name = name;
    e->state = st;
    e->reason = reason;
    if (text != NULL && (e->text = strdup(text)) == NULL) {
        rep->oom = true;
        return NULL;
    }
    if (kind == MH_SMTP_EV_FAIL) {
        /* The phase under way and its reply (smtp.h: rep->at). */
        e->name = rep->at.phase;
        e->code = rep->at.code;
        memcpy(e->enhanced, rep->at.enhanced, sizeof e->enhanced);
        e->rule = rep->at.rule;
    }
    rep->nev++;
    if (kind == MH_SMTP_EV_FAIL || kind == MH_SMTP_EV_OVERRIDE ||
        kind == MH_SMTP_EV_SUMMARY) {
        failure_update(rep, e);
    }
    return e;
}

struct mh_smtp_event *
mh_smtp_report_add(struct mh_smtp_report *rep, enum mh_smtp_event_kind kind,
                   const char *name, enum mh_state st, enum mh_reason reason,
                   const char *fmt, ...)
{
    char buf[MH_REPLY_TEXT_MAX + 1100];
    va_list ap;
    va_start(ap, fmt);
    mh_vtextf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return mh_smtp_report_event(rep, kind, name, st, reason, buf);
}

/* The item of a phase or note event, with the facts it has. */
static void
event_item(const struct mh_smtp_event *e, const char *kind, struct mh_result *r)
{
    struct mh_item *it = mh_result_add_item(r, kind, e->name, e->state,
                                            e->reason, "%s", e->text);
    if (it == NULL) {
        return;
    }
    if (e->timed) {
        mh_item_set_num(r, it, "duration_seconds", e->duration_s);
    }
    if (e->code != 0) {
        mh_item_set_num(r, it, "reply_code", e->code);
    }
    if (e->enhanced[0] != '\0') {
        mh_item_set_str(r, it, "enhanced_code", e->enhanced);
    }
    if (e->rule != NULL) {
        mh_item_set_str(r, it, "rule", e->rule);
    }
    if (e->extensions != NULL) {
        mh_item_set_str(r, it, "extensions", e->extensions);
    }
    if (e->mechanisms != NULL) {
        mh_item_set_str(r, it, "auth_mechanisms", e->mechanisms);
    }
}

void
mh_smtp_report_render(const struct mh_smtp_report *rep, struct mh_result *r)
{
    for (size_t i = 0; i < rep->nev; i++) {
        const struct mh_smtp_event *e = &rep->ev[i];
        switch (e->kind) {
        case MH_SMTP_EV_PHASE:
            event_item(e, "phase", r);
            break;
        case MH_SMTP_EV_NOTE:
            event_item(e, "note", r);
            break;
        case MH_SMTP_EV_FAIL:
            mh_result_raise(r, e->state, e->reason, "%s", e->text);
            break;
        case MH_SMTP_EV_OVERRIDE:
            if (e->text != NULL) {
                mh_result_override(r, e->state, e->reason, "%s", e->text);
            } else {
                mh_result_override(r, e->state, e->reason, NULL);
            }
            break;
        case MH_SMTP_EV_SUMMARY:
            mh_result_set_summary(r, "%s", e->text);
            break;
        case MH_SMTP_EV_CERTS:
            /* Its items here, its failure raised now: before those of
             * the phases that followed. */
            if (rep->certs != NULL) {
                mh_tls_report_render(rep->certs, &rep->certs_params, r);
            }
            break;
        case MH_SMTP_EV_VERSION:
            mh_tls_note_version(r, rep->tls_version, rep->tls_cipher);
            break;
        }
    }
    if (rep->oom) {
        mh_result_mark_oom(r);
    }
}

void
mh_smtp_report_render_end(const struct mh_smtp_report *rep, const char *where,
                          double elapsed_s, struct mh_result *r)
{
    /* Phase metrics: every phase that ran, in dialogue order. */
    for (int ph = 0; ph < (int)MH_PHASE_LAST; ph++) {
        const struct mh_smtp_phase_facts *f = &rep->phase[ph];
        if (!f->seen) {
            continue;
        }
        const char *name = mh_phase_name((enum mh_phase)ph);
        char label[48];
        snprintf(label, sizeof label, "time_%s", name);
        const double zero = 0;
        mh_result_add_perf(r, label, f->duration_s, MH_UNIT_SECONDS, NULL, NULL,
                           &zero, NULL);
        mh_result_add_sample(r, MH_METRIC(SMTP_PHASE_DURATION_SECONDS),
                             f->duration_s, "phase", name, (const char *)NULL);
        if (f->code != 0) {
            mh_result_add_sample(r, MH_METRIC(SMTP_REPLY_CODE), (double)f->code,
                                 "phase", name, (const char *)NULL);
        }
    }
    if (r->state == MH_STATE_OK && r->summary == NULL) {
        char tls[120] = "";
        if (rep->tls_active) {
            snprintf(tls, sizeof tls, ", %s %s",
                     rep->tls_mode == MH_TLS_STARTTLS ? "STARTTLS"
                                                      : "implicit TLS",
                     rep->tls_version);
        }
        mh_result_raise(r, MH_STATE_OK, MH_REASON_NONE,
                        "%s %s%s%s%s, %.3f s response time", where,
                        rep->esmtp ? "ESMTP ok" : "SMTP ok (HELO)", tls,
                        rep->auth_asked ? ", AUTH ok" : "",
                        rep->envelope ? ", envelope ok" : "", elapsed_s);
    }
}

void
mh_smtp_render_connect(const struct mh_smtp_connect_facts *cf,
                       const char *where, struct mh_result *r)
{
    const double zero = 0;
    mh_result_add_perf(r, "time_connect", cf->duration_s, MH_UNIT_SECONDS, NULL,
                       NULL, &zero, NULL);
    mh_result_add_sample(r, MH_METRIC(SMTP_PHASE_DURATION_SECONDS),
                         cf->duration_s, "phase", "connect",
                         (const char *)NULL);
    if (cf->ok) {
        struct mh_item *it = mh_result_add_item(
            r, "phase", "connect", MH_STATE_OK, MH_REASON_NONE,
            "connected to %s (%.3f s)", where, cf->duration_s);
        mh_item_set_num(r, it, "duration_seconds", cf->duration_s);
        mh_item_set_str(r, it, "address", cf->address);
        return;
    }
    mh_result_add_item(r, "phase", "connect", cf->state, cf->reason, "%s",
                       cf->error);
    mh_result_raise(r, cf->state, cf->reason, "%s", cf->cause);
}
