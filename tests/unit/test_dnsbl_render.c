/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the DNSBL report and its rendering (plugin/report_dnsbl.c):
 * reports made here in memory (a zone, subjects and their answers, as the
 * probe would fill them) turned into items, perfdata, samples, state and
 * summary. No network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dnsbl.h"
#include "reports.h"
#include "result.h"

/* A report on one IPv4 zone "bl.example" for one subject. */
struct fixture {
    char zone_name[16];
    struct mh_dnsbl_zone zone;
    struct mh_dnsbl_zone_report zr;
    struct mh_dnsbl_params p;
    struct mh_dnsbl_pair pair;
    struct mh_dnsbl_subject *s;
    struct mh_dnsbl_answer full;
    struct mh_dnsbl_report rep;
    struct mh_result *r;
};

/* Sets f up for subject text (IPv4, reversed prefix made here) whose A
 * query answered rc with addrs (n of them); the zone's positive test entry
 * answered listed. */
static void
setup(struct fixture *f, const char *text, enum mh_dnsbl_rcode rc,
      const uint32_t *addrs, size_t n)
{
    memset(f, 0, sizeof *f);
    snprintf(f->zone_name, sizeof f->zone_name, "bl.example");
    f->zone.name = f->zone_name;
    f->zone.type = MH_DNSBL_ZONE_IP4;
    f->zone.enabled = true;
    f->zr.z = &f->zone;
    const uint32_t test_code = 0x7f000002u;
    struct mh_dnsbl_health *h = &f->zr.h[MH_DNSBL_FORM_V4];
    mh_dnsbl_interpret(&f->zone, MH_DNSBL_RC_ANSWER, &test_code, 1, &h->pos[0]);
    h->npos = 1;
    h->pos_started = true;
    mh_dnsbl_interpret(&f->zone, rc, addrs, n, &f->full);
    f->pair.applicable = true;
    f->pair.sent = true;
    f->pair.kind = (unsigned char)f->full.kind;
    f->pair.rcode = (unsigned char)rc;
    f->pair.full = n > 0 ? &f->full : NULL;
    size_t len = strlen(text);
    f->s = calloc(1, sizeof *f->s + 2 * len + 2);
    assert_non_null(f->s);
    f->s->fam = MH_DNSBL_FORM_V4;
    f->s->host = -1;
    memcpy(f->s->mem, text, len + 1);
    f->s->text = f->s->mem;
    f->s->prefix = f->s->mem + len + 1;
    int fam = 0;
    assert_int_equal(
        mh_dnsbl_reverse_address(text, &fam, f->s->mem + len + 1, len + 1), 0);
    f->s->pairs = &f->pair;
    f->rep.p = &f->p;
    f->rep.deadline_s = 2;
    f->rep.elapsed_s = 0.25;
    f->rep.zones = &f->zr;
    f->rep.nz = 1;
    f->rep.subj = &f->s;
    f->rep.nsubj = 1;
    f->rep.any_ip_zone = true;
    f->r = mh_result_new("dnsbl", text);
    assert_non_null(f->r);
}

static void
teardown(struct fixture *f)
{
    mh_result_free(f->r);
    free(f->s);
}

/* Judges the report of f and renders it into f->r. */
static void
judge_render(struct fixture *f)
{
    assert_int_equal(mh_dnsbl_report_judge(&f->rep), 0);
    mh_dnsbl_render(&f->rep, f->r);
    mh_dnsbl_report_release(&f->rep);
}

/* The item of the one pair. */
static const struct mh_item *
zone_item(const struct mh_result *r)
{
    for (size_t i = 0; i < r->nitems; i++) {
        if (strcmp(r->items[i].name, "bl.example") == 0) {
            return &r->items[i];
        }
    }
    fail_msg("no item for bl.example");
    return NULL;
}

static void
test_render_listed(void **state)
{
    (void)state;
    struct fixture f;
    const uint32_t code = 0x7f000002u;
    setup(&f, "192.0.2.10", MH_DNSBL_RC_ANSWER, &code, 1);
    judge_render(&f);
    assert_int_equal(f.r->state, MH_STATE_CRITICAL);
    assert_int_equal(f.r->reason, MH_REASON_DNSBL_LISTED);
    assert_string_equal(f.r->summary,
                        "192.0.2.10 listed on bl.example (127.0.0.2)");
    const struct mh_item *it = zone_item(f.r);
    assert_int_equal(it->state, MH_STATE_CRITICAL);
    assert_string_equal(it->text, "192.0.2.10 listed (127.0.0.2)");
    /* listed=1, errors=0, time */
    assert_true(f.r->nperf >= 3);
    assert_string_equal(f.r->perf[0].label, "listed");
    assert_true(f.r->perf[0].value == 1.0);
    assert_true(f.r->nsamples > 0);
    teardown(&f);
}

static void
test_render_not_listed(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, "192.0.2.20", MH_DNSBL_RC_NXDOMAIN, NULL, 0);
    judge_render(&f);
    assert_int_equal(f.r->state, MH_STATE_OK);
    assert_string_equal(f.r->summary, "192.0.2.20 not listed on bl.example");
    assert_string_equal(zone_item(f.r)->text, "192.0.2.20 not listed");
    assert_true(f.r->perf[0].value == 0.0);
    teardown(&f);
}

/* No answer before the deadline: UNKNOWN, never "not listed". */
static void
test_render_timeout(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, "192.0.2.30", MH_DNSBL_RC_TIMEOUT, NULL, 0);
    judge_render(&f);
    assert_int_equal(f.r->state, MH_STATE_UNKNOWN);
    assert_int_equal(f.r->reason, MH_REASON_DNS_TIMEOUT);
    assert_string_equal(f.r->summary, "lookup failed: no DNS answer for "
                                      "bl.example within 2 s");
    const struct mh_item *it = zone_item(f.r);
    assert_int_equal(it->state, MH_STATE_UNKNOWN);
    assert_non_null(strstr(it->text, "no DNS answer for bl.example"));
    teardown(&f);
}

/* A zone not asked (its budget spent) warns and says why. */
static void
test_render_skipped(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f, "192.0.2.40", MH_DNSBL_RC_NXDOMAIN, NULL, 0);
    f.pair.skip = MH_DNSBL_TAKE_BUDGET;
    f.pair.sent = false;
    f.pair.kind = MH_DNSBL_K_NONE;
    f.p.zone_budget = 100;
    judge_render(&f);
    assert_int_equal(f.r->state, MH_STATE_WARNING);
    assert_int_equal(f.r->reason, MH_REASON_ZONE_BUDGET);
    assert_non_null(
        strstr(zone_item(f.r)->text, "query budget (100 per round) is spent"));
    teardown(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_listed),
        cmocka_unit_test(test_render_not_listed),
        cmocka_unit_test(test_render_timeout),
        cmocka_unit_test(test_render_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
