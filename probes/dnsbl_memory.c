/* SPDX-License-Identifier: MIT */
/*
 * dnsbl_memory: the runner's memory of DNSBL zones (see dnsbl_memory.h).
 */
#include "dnsbl_memory.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "dnsbl.h"

/* Test entries kept per zone: 3 families x (positive, negative). */
#define FAMS 3

struct kept {
    bool set;
    double at; /* mh_monotonic_s() when learnt */
    size_t n;
    struct mh_dnsbl_answer a[2];
};

struct zone_mem {
    char *name;
    struct kept health[FAMS][2]; /* [fam][pos] */
    unsigned long taken;         /* queries this round */
    unsigned refusals;           /* in a row */
    double backoff_until;        /* mh_monotonic_s(), 0: none */
    uint32_t code;               /* the error code of the last refusal */
};

struct mh_dnsbl_memory {
    pthread_mutex_t mu;
    double round_s;
    struct zone_mem *v;
    size_t n, cap;
};

struct mh_dnsbl_memory *
mh_dnsbl_memory_new(double round_s)
{
    struct mh_dnsbl_memory *m = calloc(1, sizeof *m);
    if (m == NULL) {
        return NULL;
    }
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    m->round_s = round_s > 0 ? round_s : 60.0;
    return m;
}

void
mh_dnsbl_memory_free(struct mh_dnsbl_memory *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].name);
    }
    free(m->v);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* The entry of zone (created when missing), or NULL; under the lock. */
static struct zone_mem *
zone_locked(struct mh_dnsbl_memory *m, const char *zone, bool create)
{
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->v[i].name, zone) == 0) {
            return &m->v[i];
        }
    }
    if (!create) {
        return NULL;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap > 0 ? m->cap * 2 : 16;
        struct zone_mem *v = realloc(m->v, cap * sizeof *v);
        if (v == NULL) {
            return NULL;
        }
        m->v = v;
        m->cap = cap;
    }
    struct zone_mem *z = &m->v[m->n];
    memset(z, 0, sizeof *z);
    z->name = strdup(zone);
    if (z->name == NULL) {
        return NULL;
    }
    m->n++;
    return z;
}

void
mh_dnsbl_memory_round(struct mh_dnsbl_memory *m)
{
    if (m == NULL) {
        return;
    }
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n; i++) {
        m->v[i].taken = 0;
    }
    pthread_mutex_unlock(&m->mu);
}

size_t
mh_dnsbl_memory_health_get(struct mh_dnsbl_memory *m, const char *zone, int fam,
                           bool pos, double max_age_s,
                           struct mh_dnsbl_answer *out, size_t max)
{
    if (m == NULL || fam < 0 || fam >= FAMS) {
        return 0;
    }
    size_t n = 0;
    pthread_mutex_lock(&m->mu);
    struct zone_mem *z = zone_locked(m, zone, false);
    if (z != NULL) {
        const struct kept *k = &z->health[fam][pos ? 1 : 0];
        if (k->set && mh_monotonic_s() - k->at <= max_age_s) {
            for (; n < k->n && n < max; n++) {
                out[n] = k->a[n];
            }
        }
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}

void
mh_dnsbl_memory_health_put(struct mh_dnsbl_memory *m, const char *zone, int fam,
                           bool pos, const struct mh_dnsbl_answer *answers,
                           size_t n)
{
    if (m == NULL || fam < 0 || fam >= FAMS || n == 0 || n > 2) {
        return;
    }
    pthread_mutex_lock(&m->mu);
    struct zone_mem *z = zone_locked(m, zone, true);
    if (z != NULL) {
        struct kept *k = &z->health[fam][pos ? 1 : 0];
        k->set = true;
        k->at = mh_monotonic_s();
        k->n = n;
        memcpy(k->a, answers, n * sizeof *answers);
    }
    pthread_mutex_unlock(&m->mu);
}

void
mh_dnsbl_memory_refused(struct mh_dnsbl_memory *m, const char *zone,
                        uint32_t code, double max_age_s)
{
    if (m == NULL) {
        return;
    }
    pthread_mutex_lock(&m->mu);
    struct zone_mem *z = zone_locked(m, zone, true);
    if (z != NULL) {
        memset(z->health, 0, sizeof z->health);
        double now = mh_monotonic_s();
        if (z->backoff_until <= now) {
            /* one refusal per back-off period counts: the queries of
             * the same round all see it */
            unsigned k = z->refusals < 16 ? z->refusals : 16;
            /* 2^k rounds skipped: until the middle of the interval
             * before the next round that asks (rounds start one interval
             * apart, each check at the same offset) */
            double len = m->round_s * ((double)(1u << k) + 0.5);
            if (len > max_age_s) {
                len = max_age_s;
            }
            z->refusals++;
            z->backoff_until = now + len;
        }
        z->code = code;
    }
    pthread_mutex_unlock(&m->mu);
}

void
mh_dnsbl_memory_answered(struct mh_dnsbl_memory *m, const char *zone)
{
    if (m == NULL) {
        return;
    }
    pthread_mutex_lock(&m->mu);
    struct zone_mem *z = zone_locked(m, zone, false);
    if (z != NULL && z->backoff_until <= mh_monotonic_s()) {
        z->refusals = 0;
        z->backoff_until = 0;
    }
    pthread_mutex_unlock(&m->mu);
}

enum mh_dnsbl_take
mh_dnsbl_memory_take(struct mh_dnsbl_memory *m, const char *zone,
                     unsigned budget, double *left_s, uint32_t *code)
{
    if (m == NULL) {
        return MH_DNSBL_TAKE_OK;
    }
    enum mh_dnsbl_take t = MH_DNSBL_TAKE_OK;
    pthread_mutex_lock(&m->mu);
    struct zone_mem *z = zone_locked(m, zone, true);
    if (z != NULL) {
        double now = mh_monotonic_s();
        if (z->backoff_until > now) {
            t = MH_DNSBL_TAKE_BACKOFF;
            if (left_s != NULL) {
                *left_s = z->backoff_until - now;
            }
            if (code != NULL) {
                *code = z->code;
            }
        } else if (budget > 0 && z->taken >= budget) {
            t = MH_DNSBL_TAKE_BUDGET;
        } else {
            z->taken++;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return t;
}

unsigned long
mh_dnsbl_memory_taken(struct mh_dnsbl_memory *m, const char *zone)
{
    unsigned long n = 0;
    if (m == NULL) {
        return 0;
    }
    pthread_mutex_lock(&m->mu);
    struct zone_mem *z = zone_locked(m, zone, false);
    if (z != NULL) {
        n = z->taken;
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}
