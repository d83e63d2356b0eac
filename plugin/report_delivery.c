/* SPDX-License-Identifier: MIT */
/*
 * report_delivery: a delivery round trip's report (struct
 * mh_delivery_report, filled by probes/delivery.c) as result items,
 * perfdata, samples, state and summary: the one place where delivery facts
 * become output (probes/delivery.h describes them).
 */
#include <stdlib.h>

#include "reports.h"

/* The item of one phase, its attributes in the MH_DELIVERY_HAS_* order,
 * and its note. */
static void
render_step(const struct mh_delivery_step *s, struct mh_result *r)
{
    struct mh_item *it = mh_result_add_item(r, "phase", s->phase, s->state,
                                            s->reason, "%s", s->text);
    if (it != NULL) {
        if (s->has & MH_DELIVERY_HAS_DELETED) {
            mh_item_set_num(r, it, "deleted", s->deleted);
        }
        if (s->has & MH_DELIVERY_HAS_CURL) {
            mh_item_set_num(r, it, "curl_code", s->curl_code);
        }
        if (s->has & MH_DELIVERY_HAS_DURATION) {
            mh_item_set_num(r, it, "duration_seconds", s->duration_s);
        }
        if (s->has & MH_DELIVERY_HAS_REPLY) {
            mh_item_set_num(r, it, "reply_code", s->reply_code);
        }
        if (s->has & MH_DELIVERY_HAS_TLS) {
            mh_item_set_str(r, it, "tls", s->tls);
        }
        if (s->has & MH_DELIVERY_HAS_DELAY) {
            mh_item_set_num(r, it, "delay_seconds", s->delay_s);
        }
        if (s->has & MH_DELIVERY_HAS_POLLS) {
            mh_item_set_num(r, it, "polls", s->polls);
        }
        if (s->has & MH_DELIVERY_HAS_UID) {
            mh_item_set_num(r, it, "uid", s->uid);
        }
    }
    if (s->note != NULL) {
        mh_result_add_item(r, "note", "", MH_STATE_OK, MH_REASON_NONE, "%s",
                           s->note);
    }
}

/* Perfdata (delay "U" when the mail was not found), the delay sample,
 * the check's duration. */
static void
render_times(const struct mh_delivery_report *rep, struct mh_result *r)
{
    const double zero = 0;
    if (rep->submitted) {
        if (rep->found) {
            mh_result_add_perf(r, "delay", rep->delay_s, MH_UNIT_SECONDS, NULL,
                               NULL, &zero, NULL);
        } else {
            mh_result_add_perf_unknown(r, "delay", MH_UNIT_SECONDS, &zero,
                                       NULL);
        }
        mh_result_add_perf(r, "time_submit", rep->time_submit, MH_UNIT_SECONDS,
                           NULL, NULL, &zero, NULL);
    }
    if (rep->imap_ran) {
        mh_result_add_perf(r, "time_imap", rep->time_imap, MH_UNIT_SECONDS,
                           NULL, NULL, &zero, NULL);
    }
    if (rep->cleaned) {
        mh_result_add_perf(r, "time_cleanup", rep->time_cleanup,
                           MH_UNIT_SECONDS, NULL, NULL, &zero, NULL);
    }
    if (rep->found) {
        mh_result_add_sample(r, MH_METRIC(DELIVERY_DURATION_SECONDS),
                             rep->delay_s, (const char *)NULL);
    }
    mh_result_set_duration(r, rep->elapsed_s);
    mh_result_add_perf(r, "time", rep->elapsed_s, MH_UNIT_SECONDS, NULL, NULL,
                       &zero, NULL);
}

void
mh_delivery_report_render(const struct mh_delivery_report *rep,
                          struct mh_result *r)
{
    for (size_t i = 0; i < rep->nsteps; i++) {
        render_step(&rep->steps[i], r);
    }
    const struct mh_delivery_failure *f = &rep->failure;
    if (f->state != MH_STATE_OK) {
        mh_result_raise(r, f->state, f->reason, "%s", f->cause);
    }
    render_times(rep, r);
    if (f->state == MH_STATE_OK) {
        unsigned polls = rep->polls;
        mh_result_raise(r, MH_STATE_OK, MH_REASON_NONE,
                        "%s: delivered via %s to %s in %.3f s (submission "
                        "%.3f s, %u poll%s)",
                        rep->rcpt_to, rep->submit_where, rep->imap_where,
                        rep->delay_s, rep->time_submit, polls,
                        polls == 1 ? "" : "s");
    }
}

struct mh_result *
mh_delivery_result(const struct mh_delivery_report *rep)
{
    struct mh_result *r = mh_result_new("delivery", rep->target);
    if (r != NULL) {
        mh_delivery_report_render(rep, r);
    }
    return r;
}
