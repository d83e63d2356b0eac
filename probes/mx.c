/* SPDX-License-Identifier: MIT */
/*
 * mx: MX lookup with c-ares (see mx.h).
 */
#include "mx.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <arpa/nameser.h>

#include "resolve.h"

struct mx_ctx {
    bool done;
    int status;
    struct mh_mx *mx;
    size_t n;
    bool null_mx;
};

static int
mx_cmp(const void *a, const void *b)
{
    const struct mh_mx *x = a, *y = b;
    if (x->preference != y->preference) {
        return x->preference < y->preference ? -1 : 1;
    }
    return strcmp(x->host, y->host);
}

static void
mx_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    (void)timeouts;
    struct mx_ctx *ctx = arg;
    ctx->done = true;
    ctx->status = status;
    if (status != ARES_SUCCESS) {
        return;
    }
    struct ares_mx_reply *reply = NULL;
    int rc = ares_parse_mx_reply(abuf, alen, &reply);
    if (rc != ARES_SUCCESS) {
        ctx->status = rc;
        return;
    }
    size_t n = 0;
    for (struct ares_mx_reply *m = reply; m != NULL; m = m->next) {
        n++;
    }
    ctx->mx = calloc(n > 0 ? n : 1, sizeof *ctx->mx);
    if (ctx->mx == NULL) {
        ctx->status = ARES_ENOMEM;
        ares_free_data(reply);
        return;
    }
    for (struct ares_mx_reply *m = reply; m != NULL; m = m->next) {
        const char *h = m->host != NULL ? m->host : "";
        /* RFC 7505 section 3: a single MX of preference 0 and exchange
         * "." (the root, which c-ares returns as "" or ".") is a null MX. */
        if (h[0] == '\0' || strcmp(h, ".") == 0) {
            if (n == 1) {
                ctx->null_mx = true;
            }
            continue;
        }
        struct mh_mx *e = &ctx->mx[ctx->n++];
        snprintf(e->host, sizeof e->host, "%s", h);
        size_t hl = strlen(e->host);
        if (hl > 0 && e->host[hl - 1] == '.') {
            e->host[hl - 1] = '\0';
        }
        e->preference = m->priority;
    }
    ares_free_data(reply);
    qsort(ctx->mx, ctx->n, sizeof *ctx->mx, mx_cmp);
}

enum mh_mx_status
mh_mx_lookup(const char *domain, const char *resolver,
             const struct mh_deadline *dl, struct mh_mx **mx, size_t *n,
             char *errbuf, size_t errlen)
{
    *mx = NULL;
    *n = 0;
    void *channel = NULL;
    /* SERVFAIL from the resolver is reported as such. */
    if (mh_resolve_channel_new(resolver, MH_RESOLVE_SERVFAIL_ANSWERS, &channel,
                               errbuf, errlen) != 0) {
        return MH_MX_FAILED;
    }
    struct mx_ctx ctx = {.status = ARES_ETIMEOUT};
    ares_query(channel, domain, ns_c_in, ns_t_mx, mx_cb, &ctx);
    mh_resolve_wait(channel, dl);
    mh_resolve_channel_free(channel);

    if (!ctx.done || ctx.status == ARES_ETIMEOUT ||
        ctx.status == ARES_ECANCELLED || ctx.status == ARES_EDESTRUCTION) {
        free(ctx.mx);
        snprintf(errbuf, errlen,
                 "no DNS answer for the MX of %s within the "
                 "deadline",
                 domain);
        return MH_MX_TIMEOUT;
    }
    if (ctx.status == ARES_ENOTFOUND) {
        free(ctx.mx);
        snprintf(errbuf, errlen, "domain %s does not exist (NXDOMAIN)", domain);
        return MH_MX_NXDOMAIN;
    }
    if (ctx.null_mx) {
        free(ctx.mx);
        snprintf(errbuf, errlen,
                 "%s publishes a null MX (RFC 7505): it accepts no mail",
                 domain);
        return MH_MX_NULL;
    }
    if (ctx.status == ARES_ENODATA ||
        (ctx.status == ARES_SUCCESS && ctx.n == 0)) {
        /* RFC 5321 5.1: no MX records, the domain is its own exchange. */
        free(ctx.mx);
        struct mh_mx *one = calloc(1, sizeof *one);
        if (one == NULL) {
            snprintf(errbuf, errlen, "out of memory");
            return MH_MX_FAILED;
        }
        snprintf(one->host, sizeof one->host, "%s", domain);
        *mx = one;
        *n = 1;
        return MH_MX_IMPLICIT;
    }
    if (ctx.status != ARES_SUCCESS) {
        free(ctx.mx);
        snprintf(errbuf, errlen, "MX lookup of %s failed: %s", domain,
                 ares_strerror(ctx.status));
        return MH_MX_FAILED;
    }
    *mx = ctx.mx;
    *n = ctx.n;
    return MH_MX_OK;
}
