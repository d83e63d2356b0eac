/* SPDX-License-Identifier: MIT */
/*
 * render_json: JSON output with cJSON (--output json; see render.h).
 */
#include "render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Item kinds and the JSON array they are collected in. */
static const struct {
    const char *kind;
    const char *key;
} kind_keys[] = {
    {"phase", "phases"},       {"cert", "chain"},        {"zone", "zones"},
    {"mx", "hosts"},           {"address", "addresses"}, {"note", "notes"},
    {"mta-sts", "mta_sts"},    {"tls-rpt", "tls_rpt"},   {"dane", "dane"},
    {"health", "zone_health"},
};

static const char *
key_for_kind(const char *kind)
{
    for (size_t i = 0; i < sizeof kind_keys / sizeof kind_keys[0]; i++) {
        if (strcmp(kind, kind_keys[i].kind) == 0) {
            return kind_keys[i].key;
        }
    }
    return "details";
}

/* cJSON cannot represent NaN/Inf: such numbers become null. */
static cJSON *
add_number(cJSON *obj, const char *key, double v)
{
    if (!isfinite(v)) {
        return cJSON_AddNullToObject(obj, key);
    }
    return cJSON_AddNumberToObject(obj, key, v);
}

static cJSON *
item_json(const struct mh_item *it)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }
    bool ok =
        cJSON_AddStringToObject(o, "name", it->name) != NULL &&
        cJSON_AddStringToObject(o, "state", mh_state_name(it->state)) != NULL;
    if (ok) {
        ok = (it->category == MH_CAT_NONE
                  ? cJSON_AddNullToObject(o, "category")
                  : cJSON_AddStringToObject(
                        o, "category", mh_category_name(it->category))) != NULL;
    }
    if (ok) {
        ok = (it->reason == MH_REASON_NONE
                  ? cJSON_AddNullToObject(o, "reason")
                  : cJSON_AddStringToObject(
                        o, "reason", mh_reason_name(it->reason))) != NULL;
    }
    ok = ok && cJSON_AddStringToObject(o, "text", it->text) != NULL;
    for (size_t i = 0; ok && i < it->nattrs; i++) {
        const struct mh_attr *a = &it->attrs[i];
        ok = (a->str != NULL ? cJSON_AddStringToObject(o, a->key, a->str)
                             : add_number(o, a->key, a->num)) != NULL;
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *
perf_json(const struct mh_perf *p)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }
    bool ok = cJSON_AddStringToObject(o, "label", p->label) != NULL;
    ok = ok && (p->unknown ? cJSON_AddNullToObject(o, "value")
                           : add_number(o, "value", p->value)) != NULL;
    ok = ok && cJSON_AddStringToObject(o, "uom", mh_unit_uom(p->unit)) != NULL;
    if (ok && p->warn != NULL) {
        ok = cJSON_AddStringToObject(o, "warn", p->warn) != NULL;
    }
    if (ok && p->crit != NULL) {
        ok = cJSON_AddStringToObject(o, "crit", p->crit) != NULL;
    }
    if (ok && p->has_min) {
        ok = add_number(o, "min", p->min) != NULL;
    }
    if (ok && p->has_max) {
        ok = add_number(o, "max", p->max) != NULL;
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *
result_json(const struct mh_result *r)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }
    bool ok =
        cJSON_AddStringToObject(o, "check", r->check) != NULL &&
        cJSON_AddStringToObject(o, "target", r->target) != NULL &&
        cJSON_AddStringToObject(o, "state", mh_state_name(r->state)) != NULL &&
        cJSON_AddNumberToObject(o, "exit_code", (double)r->state) != NULL;
    if (ok) {
        ok = (r->state == MH_STATE_OK || r->category == MH_CAT_NONE
                  ? cJSON_AddNullToObject(o, "category")
                  : cJSON_AddStringToObject(
                        o, "category", mh_category_name(r->category))) != NULL;
    }
    if (ok) {
        ok = (r->state == MH_STATE_OK || r->reason == MH_REASON_NONE
                  ? cJSON_AddNullToObject(o, "reason")
                  : cJSON_AddStringToObject(o, "reason",
                                            mh_reason_name(r->reason))) != NULL;
    }
    ok = ok && cJSON_AddStringToObject(
                   o, "summary", r->summary != NULL ? r->summary : "") != NULL;
    ok = ok && add_number(o, "duration_seconds", r->duration_s) != NULL;

    for (size_t i = 0; ok && i < r->nitems; i++) {
        const char *key = key_for_kind(r->items[i].kind);
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, key);
        if (arr == NULL) {
            arr = cJSON_AddArrayToObject(o, key);
        }
        cJSON *it = arr != NULL ? item_json(&r->items[i]) : NULL;
        ok = it != NULL && cJSON_AddItemToArray(arr, it);
    }
    cJSON *perf = ok ? cJSON_AddArrayToObject(o, "perfdata") : NULL;
    ok = ok && perf != NULL;
    for (size_t i = 0; ok && i < r->nperf; i++) {
        cJSON *p = perf_json(&r->perf[i]);
        ok = p != NULL && cJSON_AddItemToArray(perf, p);
    }
    if (ok && r->nchildren > 0) {
        cJSON *res = cJSON_AddArrayToObject(o, "results");
        ok = res != NULL;
        for (size_t i = 0; ok && i < r->nchildren; i++) {
            cJSON *c = result_json(r->children[i]);
            ok = c != NULL && cJSON_AddItemToArray(res, c);
        }
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int
mh_render_json(FILE *out, const struct mh_result *r)
{
    cJSON *o = result_json(r);
    if (o == NULL) {
        return -1;
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (text == NULL) {
        return -1;
    }
    int rc =
        (fputs(text, out) == EOF || fputc('\n', out) == EOF || fflush(out) != 0)
            ? -1
            : 0;
    cJSON_free(text);
    return rc;
}
