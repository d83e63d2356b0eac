/* SPDX-License-Identifier: MIT */
/*
 * tls_shared: the TLS client contexts a runner's checks share (see
 * tls_shared.h).
 */
#include "tls_shared.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    char *ca_file, *ca_path; /* copies; NULL: none */
    int min_version;
    SSL_CTX *ctx; /* one reference held here; NULL: free slot */
};

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[MH_TLS_SHARED_MAX];
static atomic_bool shared_on;

void
mh_tls_shared_enable(void)
{
    atomic_store(&shared_on, true);
}

bool
mh_tls_shared_enabled(void)
{
    return atomic_load(&shared_on);
}

static bool
same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) ||
           (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
slot_clear(struct slot *s)
{
    SSL_CTX_free(s->ctx);
    free(s->ca_file);
    free(s->ca_path);
    memset(s, 0, sizeof *s);
}

SSL_CTX *
mh_tls_shared_ctx(const struct mh_tls_params *p)
{
    if (!mh_tls_shared_enabled()) {
        return NULL;
    }
    SSL_CTX *ctx = NULL;
    pthread_mutex_lock(&shared_mu);
    struct slot *free_slot = NULL;
    for (size_t i = 0; i < MH_TLS_SHARED_MAX && ctx == NULL; i++) {
        struct slot *s = &slots[i];
        if (s->ctx == NULL) {
            if (free_slot == NULL) {
                free_slot = s;
            }
        } else if (s->min_version == p->min_version &&
                   same_str(s->ca_file, p->ca_file) &&
                   same_str(s->ca_path, p->ca_path)) {
            ctx = SSL_CTX_up_ref(s->ctx) == 1 ? s->ctx : NULL;
            free_slot = NULL;
            break;
        }
    }
    if (ctx == NULL && free_slot != NULL) {
        /* Built under the lock: the checks that want it meanwhile wait
         * for this one rather than each building their own. */
        char err[256];
        struct slot s = {.min_version = p->min_version};
        s.ca_file = p->ca_file != NULL ? strdup(p->ca_file) : NULL;
        s.ca_path = p->ca_path != NULL ? strdup(p->ca_path) : NULL;
        if ((p->ca_file == NULL || s.ca_file != NULL) &&
            (p->ca_path == NULL || s.ca_path != NULL)) {
            s.ctx = mh_tls_ctx_new(p, err, sizeof err);
        }
        if (s.ctx != NULL && SSL_CTX_up_ref(s.ctx) == 1) {
            *free_slot = s;
            ctx = s.ctx;
        } else {
            slot_clear(&s);
        }
    }
    pthread_mutex_unlock(&shared_mu);
    return ctx;
}

void
mh_tls_shared_reload(void)
{
    pthread_mutex_lock(&shared_mu);
    for (size_t i = 0; i < MH_TLS_SHARED_MAX; i++) {
        slot_clear(&slots[i]);
    }
    pthread_mutex_unlock(&shared_mu);
}
