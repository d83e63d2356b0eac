/* SPDX-License-Identifier: MIT */
/*
 * report_smtp: the SMTP check's report (probes/smtp.h: struct
 * mh_smtp_check_report) made into the result: the connect phase, the
 * dialogue's events with the certificate report where the handshake
 * ended (report_tls.c), the DANE check's part (report_dane.c), the phase
 * metrics and the summary of a check that went well.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../probes/metric_names.h"
#include "../probes/smtp.h"
#include "../probes/tlscheck.h"
#include "reports.h"

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

void
mh_smtp_dialogue_render(const struct mh_smtp_report *rep, const char *where,
                        struct mh_result *r)
{
    mh_smtp_report_render(rep, r);
    mh_smtp_report_render_end(rep, where, rep->elapsed_s, r);
}

void
mh_smtp_check_render(const struct mh_smtp_check_report *c, struct mh_result *r)
{
    mh_smtp_render_connect(&c->connect, c->where, r);
    if (c->dialogue_run) {
        mh_smtp_report_render(&c->dialogue, r);
        if (c->dane != NULL) {
            mh_dane_report_render(c->dane, &c->dane_params, r);
        }
    }
    if (c->oom) {
        mh_result_mark_oom(r);
    }
    if (c->dialogue_run) {
        mh_smtp_report_render_end(&c->dialogue, c->where, c->dialogue.elapsed_s,
                                  r);
    }
}

struct mh_result *
mh_smtp_result(struct mh_smtp_check_report *c)
{
    if (c == NULL) {
        return NULL;
    }
    struct mh_result *r = mh_result_new(c->check, c->target);
    if (r != NULL) {
        mh_smtp_check_render(c, r);
        mh_result_set_duration(r, c->duration_s);
    }
    mh_smtp_check_report_free(c);
    return r;
}
