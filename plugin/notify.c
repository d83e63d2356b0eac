/* SPDX-License-Identifier: MIT */
/*
 * notify: state tracking and the JSON bodies of the runner's notifications
 * (rules in notify.h).
 */
#include "notify.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "runner.h"

/* What the tracker remembers of one check. */
struct entry {
    char *key; /* check "\x1f" target */
    char *target, *check, *category, *summary;
    enum mh_state state;
    double since; /* when the current non-OK state started firing */
    bool seen;    /* present in the current round */
};

struct mh_notify_tracker {
    struct entry *e;
    size_t n, cap;
    size_t *index; /* open addressing: entry index + 1, 0 = free */
    size_t icap;
};

struct mh_notify_tracker *
mh_notify_tracker_new(void)
{
    return calloc(1, sizeof(struct mh_notify_tracker));
}

static void
entry_free(struct entry *e)
{
    free(e->key);
    free(e->target);
    free(e->check);
    free(e->category);
    free(e->summary);
}

void
mh_notify_tracker_free(struct mh_notify_tracker *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        entry_free(&t->e[i]);
    }
    free(t->e);
    free(t->index);
    free(t);
}

static int
reindex(struct mh_notify_tracker *t)
{
    size_t cap = 64;
    while (cap < t->n * 2 + 2) {
        cap *= 2;
    }
    size_t *ix = calloc(cap, sizeof *ix);
    if (ix == NULL) {
        return -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        size_t j = (size_t)(mh_run_hash(t->e[i].key) & (cap - 1));
        while (ix[j] != 0) {
            j = (j + 1) & (cap - 1);
        }
        ix[j] = i + 1;
    }
    free(t->index);
    t->index = ix;
    t->icap = cap;
    return 0;
}

static struct entry *
lookup(struct mh_notify_tracker *t, const char *key)
{
    if (t->icap == 0) {
        return NULL;
    }
    size_t j = (size_t)(mh_run_hash(key) & (t->icap - 1));
    while (t->index[j] != 0) {
        struct entry *e = &t->e[t->index[j] - 1];
        if (strcmp(e->key, key) == 0) {
            return e;
        }
        j = (j + 1) & (t->icap - 1);
    }
    return NULL;
}

static char *
dupstr(const char *s)
{
    return strdup(s != NULL ? s : "");
}

const char *
mh_alert_severity(enum mh_state s)
{
    switch (s) {
    case MH_STATE_CRITICAL:
        return "critical";
    case MH_STATE_WARNING:
    case MH_STATE_UNKNOWN:
        return "warning";
    case MH_STATE_OK:
    default:
        return "";
    }
}

/* Appends an alert to a growable array. */
static struct mh_alert *
push(struct mh_alert **v, size_t *n)
{
    struct mh_alert *p = realloc(*v, (*n + 1) * sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    *v = p;
    memset(&p[*n], 0, sizeof p[*n]);
    return &p[(*n)++];
}

/* An alert made from an entry's remembered state. */
static int
alert_from_entry(struct mh_alert *a, const struct entry *e, bool firing)
{
    a->firing = firing;
    a->target = dupstr(e->target);
    a->check = dupstr(e->check);
    a->category = dupstr(e->category);
    a->summary = dupstr(e->summary);
    a->severity = mh_alert_severity(e->state);
    a->state = e->state;
    a->starts_at = e->since;
    return a->target != NULL && a->check != NULL && a->category != NULL &&
                   a->summary != NULL
               ? 0
               : -1;
}

static int
set_str(char **dst, const char *s)
{
    char *d = dupstr(s);
    if (d == NULL) {
        return -1;
    }
    free(*dst);
    *dst = d;
    return 0;
}

/* Records r's state in e and that it holds since now. */
static int
remember(struct entry *e, const struct mh_result *r, double now)
{
    if (set_str(&e->category, mh_category_name(r->category)) != 0 ||
        set_str(&e->summary, r->summary) != 0) {
        return -1;
    }
    e->state = r->state;
    e->since = now;
    return 0;
}

static int
resolve_entry(struct mh_alert_batch *out, const struct entry *e, double now,
              int new_state, bool replaced, const char *summary)
{
    struct mh_alert *a = push(&out->changes, &out->nchanges);
    if (a == NULL || alert_from_entry(a, e, false) != 0) {
        return -1;
    }
    a->ends_at = now;
    a->prev_state = new_state;
    a->replaced = replaced;
    if (summary != NULL && set_str(&a->summary, summary) != 0) {
        return -1;
    }
    return 0;
}

/* A new entry for key and result r in t (grown and indexed), or NULL on
 * allocation failure (t unchanged). */
static struct entry *
add_entry(struct mh_notify_tracker *t, const char *key,
          const struct mh_result *r, double now)
{
    if (t->n == t->cap) {
        size_t cap = t->cap == 0 ? 64 : t->cap * 2;
        struct entry *ne = realloc(t->e, cap * sizeof *ne);
        if (ne == NULL) {
            return NULL;
        }
        t->e = ne;
        t->cap = cap;
    }
    struct entry *e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    e->key = strdup(key);
    e->target = dupstr(r->target);
    e->check = dupstr(r->check);
    if (e->key == NULL || e->target == NULL || e->check == NULL ||
        remember(e, r, now) != 0) {
        entry_free(e);
        return NULL;
    }
    t->n++;
    if (t->n * 2 + 2 > t->icap) {
        if (reindex(t) != 0) {
            t->n--;
            entry_free(e);
            return NULL;
        }
    } else {
        size_t j = (size_t)(mh_run_hash(key) & (t->icap - 1));
        while (t->index[j] != 0) {
            j = (j + 1) & (t->icap - 1);
        }
        t->index[j] = t->n;
    }
    return e;
}

/* Adds e, which just became non-OK, to the changes (prev_state -1: the
 * check is new). Returns 0 or -1. */
static int
add_change(struct mh_alert_batch *out, const struct entry *e, int prev_state)
{
    struct mh_alert *a = push(&out->changes, &out->nchanges);
    if (a == NULL || alert_from_entry(a, e, true) != 0) {
        return -1;
    }
    a->prev_state = prev_state;
    return 0;
}

/* One result for a known check: a new state or category resolves the old
 * alert and, when not OK, fires a new one; the same state only refreshes
 * the summary. Returns 0 or -1. */
static int
update_entry(struct mh_alert_batch *out, struct entry *e,
             const struct mh_result *r, double now)
{
    const char *cat = mh_category_name(r->category);
    bool same = e->state == r->state &&
                (r->state == MH_STATE_OK || strcmp(e->category, cat) == 0);
    if (same) {
        return set_str(&e->summary, r->summary);
    }
    enum mh_state prev = e->state;
    if (prev != MH_STATE_OK &&
        resolve_entry(out, e, now, (int)r->state, r->state != MH_STATE_OK,
                      NULL) != 0) {
        return -1;
    }
    if (remember(e, r, now) != 0) {
        return -1;
    }
    return r->state != MH_STATE_OK ? add_change(out, e, (int)prev) : 0;
}

/* Checks not seen this round are gone (a reload removed them): their
 * alerts are resolved and their entries dropped. Returns 0 or -1. */
static int
drop_unseen(struct mh_notify_tracker *t, struct mh_alert_batch *out, double now)
{
    size_t w = 0;
    bool removed = false;
    for (size_t i = 0; i < t->n; i++) {
        struct entry *e = &t->e[i];
        if (!e->seen) {
            if (e->state != MH_STATE_OK &&
                resolve_entry(out, e, now, (int)MH_STATE_OK, false,
                              "check removed from the configuration") != 0) {
                return -1;
            }
            entry_free(e);
            removed = true;
            continue;
        }
        t->e[w++] = *e;
    }
    t->n = w;
    return removed ? reindex(t) : 0;
}

int
mh_notify_update(struct mh_notify_tracker *t,
                 const struct mh_result *const *results, size_t n, double now,
                 struct mh_alert_batch *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < t->n; i++) {
        t->e[i].seen = false;
    }
    for (size_t i = 0; i < n; i++) {
        const struct mh_result *r = results[i];
        if (r == NULL) {
            continue;
        }
        char key[1024];
        snprintf(key, sizeof key, "%s\x1f%s", r->check != NULL ? r->check : "",
                 r->target != NULL ? r->target : "");
        struct entry *e = lookup(t, key);
        if (e == NULL) {
            e = add_entry(t, key, r, now);
            if (e == NULL ||
                (r->state != MH_STATE_OK && add_change(out, e, -1) != 0)) {
                return -1;
            }
        } else if (update_entry(out, e, r, now) != 0) {
            return -1;
        }
        e->seen = true;
    }
    if (drop_unseen(t, out, now) != 0) {
        return -1;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (t->e[i].state == MH_STATE_OK) {
            continue;
        }
        struct mh_alert *a = push(&out->active, &out->nactive);
        if (a == NULL || alert_from_entry(a, &t->e[i], true) != 0) {
            return -1;
        }
    }
    return 0;
}

static void
alerts_free(struct mh_alert *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].target);
        free(v[i].check);
        free(v[i].category);
        free(v[i].summary);
    }
    free(v);
}

void
mh_alert_batch_free(struct mh_alert_batch *b)
{
    alerts_free(b->changes, b->nchanges);
    alerts_free(b->active, b->nactive);
    memset(b, 0, sizeof *b);
}

char *
mh_rfc3339(char *buf, size_t len, double t)
{
    time_t s = (time_t)floor(t);
    int ms = (int)((t - (double)s) * 1000.0);
    if (ms < 0) {
        ms = 0;
    } else if (ms > 999) {
        ms = 999;
    }
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[40];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", base, ms);
    return buf;
}

static cJSON *
labels_json(const struct mh_alert *a)
{
    cJSON *l = cJSON_CreateObject();
    if (l == NULL) {
        return NULL;
    }
    bool ok = cJSON_AddStringToObject(l, "alertname", MH_ALERT_NAME) != NULL &&
              cJSON_AddStringToObject(l, "target", a->target) != NULL &&
              cJSON_AddStringToObject(l, "check", a->check) != NULL &&
              (a->category[0] == '\0' ||
               cJSON_AddStringToObject(l, "category", a->category) != NULL) &&
              cJSON_AddStringToObject(l, "severity", a->severity) != NULL;
    if (!ok) {
        cJSON_Delete(l);
        return NULL;
    }
    return l;
}

static cJSON *
annotations_json(const struct mh_alert *a, bool with_prev)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }
    bool ok =
        cJSON_AddStringToObject(o, "summary", a->summary) != NULL &&
        cJSON_AddStringToObject(o, "state", mh_state_name(a->state)) != NULL;
    if (ok && with_prev) {
        const char *prev = "";
        if (a->firing && a->prev_state >= 0) {
            prev = mh_state_name((enum mh_state)a->prev_state);
        }
        if (!a->firing) {
            /* For a resolution, "state" is the state that ended and
             * "new_state" what replaced it. */
            ok = cJSON_AddStringToObject(
                     o, "new_state",
                     mh_state_name((enum mh_state)a->prev_state)) != NULL;
        } else {
            ok = cJSON_AddStringToObject(o, "previous_state", prev) != NULL;
        }
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* One alert in Alertmanager's API form. */
static cJSON *
am_alert(const struct mh_alert *a, double ends)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *l = labels_json(a);
    cJSON *an = annotations_json(a, false);
    char sa[64], ea[64];
    mh_rfc3339(sa, sizeof sa, a->starts_at);
    mh_rfc3339(ea, sizeof ea, ends);
    if (o == NULL || l == NULL || an == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(l);
        cJSON_Delete(an);
        return NULL;
    }
    cJSON_AddItemToObject(o, "labels", l);
    cJSON_AddItemToObject(o, "annotations", an);
    if (cJSON_AddStringToObject(o, "startsAt", sa) == NULL ||
        cJSON_AddStringToObject(o, "endsAt", ea) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static char *
print_and_free(cJSON *root)
{
    if (root == NULL) {
        return NULL;
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (s == NULL) {
        return NULL;
    }
    /* cJSON_free and free are the same allocator unless hooks are set; copy
     * so the caller can always use free(). */
    char *d = strdup(s);
    cJSON_free(s);
    return d;
}

char *
mh_notify_alertmanager_body(const struct mh_alert_batch *b, double now,
                            double ttl_s)
{
    size_t nres = 0;
    for (size_t i = 0; i < b->nchanges; i++) {
        nres += !b->changes[i].firing;
    }
    if (b->nactive == 0 && nres == 0) {
        return NULL;
    }
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < b->nchanges; i++) {
        const struct mh_alert *a = &b->changes[i];
        if (a->firing) {
            continue;
        }
        cJSON *o = am_alert(a, a->ends_at);
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    for (size_t i = 0; i < b->nactive; i++) {
        cJSON *o = am_alert(&b->active[i], now + ttl_s);
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return print_and_free(arr);
}

/* Fingerprint of an alert's label set (16 hex digits). */
static void
fingerprint(const struct mh_alert *a, char *buf, size_t len)
{
    char all[2048];
    snprintf(all, sizeof all,
             "alertname\x1f%s\x1f"
             "category\x1f%s\x1f"
             "check\x1f%s\x1fseverity\x1f%s\x1ftarget\x1f%s",
             MH_ALERT_NAME, a->category, a->check, a->severity, a->target);
    snprintf(buf, len, "%016llx", mh_run_hash(all));
}

char *
mh_notify_webhook_body(const struct mh_alert_batch *b)
{
    if (b->nchanges == 0) {
        return NULL;
    }
    bool any_firing = false;
    for (size_t i = 0; i < b->nchanges; i++) {
        any_firing = any_firing || b->changes[i].firing;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON *alerts = cJSON_CreateArray();
    if (root == NULL || alerts == NULL) {
        cJSON_Delete(root);
        cJSON_Delete(alerts);
        return NULL;
    }
    cJSON_AddItemToObject(root, "alerts", alerts);
    /* commonLabels: the label pairs every alert of the batch shares. */
    const struct mh_alert *a0 = &b->changes[0];
    bool same_target = true, same_check = true, same_cat = true,
         same_sev = true;
    for (size_t i = 1; i < b->nchanges; i++) {
        const struct mh_alert *a = &b->changes[i];
        same_target = same_target && strcmp(a->target, a0->target) == 0;
        same_check = same_check && strcmp(a->check, a0->check) == 0;
        same_cat = same_cat && strcmp(a->category, a0->category) == 0;
        same_sev = same_sev && strcmp(a->severity, a0->severity) == 0;
    }
    cJSON *common = cJSON_CreateObject();
    cJSON *group = cJSON_CreateObject();
    cJSON *cann = cJSON_CreateObject();
    if (common != NULL) {
        cJSON_AddStringToObject(common, "alertname", MH_ALERT_NAME);
        if (same_target) {
            cJSON_AddStringToObject(common, "target", a0->target);
        }
        if (same_check) {
            cJSON_AddStringToObject(common, "check", a0->check);
        }
        if (same_cat && a0->category[0] != '\0') {
            cJSON_AddStringToObject(common, "category", a0->category);
        }
        if (same_sev) {
            cJSON_AddStringToObject(common, "severity", a0->severity);
        }
    }
    if (group != NULL) {
        cJSON_AddStringToObject(group, "alertname", MH_ALERT_NAME);
    }
    bool ok = common != NULL && group != NULL && cann != NULL;
    if (!ok) {
        cJSON_Delete(common);
        cJSON_Delete(group);
        cJSON_Delete(cann);
        cJSON_Delete(root);
        return NULL;
    }
    cJSON_AddStringToObject(root, "version", "4");
    cJSON_AddStringToObject(root, "groupKey",
                            "{}:{alertname=\"" MH_ALERT_NAME "\"}");
    cJSON_AddNumberToObject(root, "truncatedAlerts", 0);
    cJSON_AddStringToObject(root, "status", any_firing ? "firing" : "resolved");
    cJSON_AddStringToObject(root, "receiver", "mailhealth");
    cJSON_AddItemToObject(root, "groupLabels", group);
    cJSON_AddItemToObject(root, "commonLabels", common);
    cJSON_AddItemToObject(root, "commonAnnotations", cann);
    cJSON_AddStringToObject(root, "externalURL", "");
    for (size_t i = 0; ok && i < b->nchanges; i++) {
        const struct mh_alert *a = &b->changes[i];
        cJSON *o = cJSON_CreateObject();
        cJSON *l = labels_json(a);
        cJSON *an = annotations_json(a, true);
        char sa[64], ea[64], fp[32];
        mh_rfc3339(sa, sizeof sa, a->starts_at);
        if (a->firing) {
            snprintf(ea, sizeof ea, "0001-01-01T00:00:00Z");
        } else {
            mh_rfc3339(ea, sizeof ea, a->ends_at);
        }
        fingerprint(a, fp, sizeof fp);
        if (o == NULL || l == NULL || an == NULL) {
            cJSON_Delete(o);
            cJSON_Delete(l);
            cJSON_Delete(an);
            ok = false;
            break;
        }
        cJSON_AddStringToObject(o, "status", a->firing ? "firing" : "resolved");
        cJSON_AddItemToObject(o, "labels", l);
        cJSON_AddItemToObject(o, "annotations", an);
        cJSON_AddStringToObject(o, "startsAt", sa);
        cJSON_AddStringToObject(o, "endsAt", ea);
        cJSON_AddStringToObject(o, "generatorURL", "");
        cJSON_AddStringToObject(o, "fingerprint", fp);
        ok = cJSON_AddItemToArray(alerts, o);
        if (!ok) {
            cJSON_Delete(o);
        }
    }
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return print_and_free(root);
}
