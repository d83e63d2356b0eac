/* SPDX-License-Identifier: MIT */
/*
 * smtp_report: the SMTP probe's reports (smtp.h): the dialogue's events
 * and failure record as smtp.c adds them, and the whole check's report
 * freed. No dialogue and no output here; plugin/report_smtp.c renders.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

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

void
mh_smtp_check_report_free(struct mh_smtp_check_report *c)
{
    if (c == NULL) {
        return;
    }
    mh_smtp_report_clear(&c->dialogue);
    free(c->dane);
    mh_dane_lookup_free(&c->dane_lookup);
    free(c);
}
