/* SPDX-License-Identifier: MIT */
/*
 * mxset: the MX hosts of a domain, their addresses and one SMTP probe per
 * address, all at once (threads, at most MH_MXSET_MAX_PARALLEL running).
 * Shared by the commands that check a domain's MX hosts (domain,
 * mta-sts); it depends on the probes, the configuration and common.h
 * only.
 */
#ifndef MH_MXSET_H
#define MH_MXSET_H

#include <stddef.h>
#include <stdint.h>

#include "../probes/dane.h"
#include "../probes/deadline.h"
#include "../probes/mx.h"
#include "../probes/resolve.h"
#include "../probes/smtp.h"
#include "config.h"

/* Most threads running at once. */
#define MH_MXSET_MAX_PARALLEL 32
/* Most addresses probed per MX host, and MX hosts per domain. */
#define MH_MXSET_MAX_ADDRS 8
#define MH_MXSET_MAX_MX 16

/* One MX host and its addresses. */
struct mh_mxset_host {
    const struct mh_mx *mx;
    struct mh_addr *addrs; /* owned */
    size_t naddrs;
    enum mh_resolve_status status;
    char err[256];
    bool dane;                  /* the TLSA records were looked up (--dane) */
    struct mh_dane_lookup tlsa; /* _PORT._tcp.HOST, shared by the probes of
                                   the host's addresses */
};

/* One SMTP probe of one address. */
struct mh_mxset_probe {
    struct mh_smtp_params params;
    const struct mh_deadline *dl;
    struct mh_result *result; /* owned until taken */
    size_t mx_index;
};

/* Runs fn over jobs[0..n) (each `size` bytes) with at most
 * MH_MXSET_MAX_PARALLEL threads; a job whose thread cannot be created runs
 * in this thread. */
void mh_run_parallel(void *(*fn)(void *), void *jobs, size_t size, size_t n);

/*
 * Resolves the nmx MX hosts at once (family and resolver from cfg) within
 * dl; with cfg->dane also looks up each host's TLSA records (port
 * cfg->port, dane.h) beside its addresses. Returns nmx hosts (free with
 * mh_mxset_hosts_free) or NULL when memory ran out.
 */
struct mh_mxset_host *mh_mxset_resolve(const struct mh_mx *mx, size_t nmx,
                                       const struct mh_config *cfg,
                                       const struct mh_deadline *dl);
void mh_mxset_hosts_free(struct mh_mxset_host *hosts, size_t nmx);

/*
 * One probe per address (at most MH_MXSET_MAX_ADDRS per host) with the
 * parameters base, connecting to the address, with the MX host's name as
 * peer name and, as a sending MTA uses them, as SNI and certificate name
 * (unless cfg gives --sni, --no-sni or --verify-name). Returns the probes
 * (*n of them; free with mh_mxset_probes_free) or NULL when memory ran out
 * (or there is no address: *n 0).
 */
struct mh_mxset_probe *mh_mxset_probes(const struct mh_mxset_host *hosts,
                                       size_t nmx,
                                       const struct mh_smtp_params *base,
                                       const struct mh_config *cfg,
                                       const struct mh_deadline *dl, size_t *n);

/* Runs the n probes at once. */
void mh_mxset_run(struct mh_mxset_probe *probes, size_t n);

void mh_mxset_probes_free(struct mh_mxset_probe *probes, size_t n);

/* A result for an MX host whose addresses could not be found (check
 * "smtp", target "host:port", CRITICAL with the DNS reason). NULL when
 * memory ran out. */
struct mh_result *mh_mxset_unresolved(const struct mh_mxset_host *h,
                                      uint16_t port);

#endif
