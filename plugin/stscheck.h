/* SPDX-License-Identifier: MIT */
/*
 * stscheck: the MTA-STS and TLS-RPT part of a check (probes/mtasts.h),
 * shared by the mta-sts command and domain. The steps overlap with the
 * caller's own work:
 *
 *   mh_stscheck_start()        the two TXT lookups, on a thread, while
 *                              the caller looks up the MX records;
 *   mh_stscheck_fetch_start()  the policy fetch, on a thread, while the
 *                              caller resolves the MX hosts (libcurl is
 *                              initialised here, once, when the domain
 *                              publishes a policy);
 *   mh_stscheck_probes()       the STARTTLS probes with certificate
 *                              checks that the policy's mode needs
 *                              (enforce, testing), run beside the
 *                              caller's own probes (mh_stscheck_run);
 *   mh_stscheck_evaluate()     the verdict into the caller's result, with
 *                              the memory of the policies seen (the
 *                              runner's, or --sts-state's file, loaded
 *                              and saved here).
 */
#ifndef MH_STSCHECK_H
#define MH_STSCHECK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "../probes/mtasts.h"
#include "config.h"
#include "mxset.h"

struct mh_stscheck {
    const struct mh_config *cfg;
    const struct mh_deadline *dl;
    struct mh_sts_dns dns;
    bool published; /* a v=STSv1 record exists: fetch the policy */
    struct mh_sts_fetch fetch;
    bool fetched;
    struct mh_sts_policy policy; /* parsed from the fetch, for its mode */
    bool policy_ok;
    struct mh_mxset_probe *probes; /* our own probes, or NULL */
    size_t nprobes;
    char ehlo[256]; /* the probes' default EHLO name */
    pthread_t th;
    bool th_running;
};

/* Starts the TXT lookups of cfg->domain on a thread (or runs them here
 * when no thread can be started). */
void mh_stscheck_start(struct mh_stscheck *s, const struct mh_config *cfg,
                       const struct mh_deadline *dl);

/* Waits for the TXT lookups. */
void mh_stscheck_join(struct mh_stscheck *s);

/* When a policy is published: initialises libcurl (from the calling,
 * main thread) and starts the fetch on a thread. */
void mh_stscheck_fetch_start(struct mh_stscheck *s);

/* True when the policy's mode asks for the MX certificates (enforce,
 * testing). After mh_stscheck_join() of the fetch. */
bool mh_stscheck_wants_probes(const struct mh_stscheck *s);

/*
 * The parameters of the STARTTLS probes MTA-STS needs (RFC 8461 4.2):
 * EHLO, STARTTLS required, TLS 1.2 or the --tls-min given, the
 * certificate verified for the MX name with --ca-file/--ca-path and
 * checked against --cert-days, no AUTH, no envelope. ehlo_buf receives
 * the default EHLO name.
 */
void mh_stscheck_probe_params(const struct mh_config *cfg,
                              struct mh_smtp_params *p, char *ehlo_buf,
                              size_t ehlo_len);

/* Prepares our own probes of every address in hosts. Returns 0 or -1
 * (memory). */
int mh_stscheck_probes(struct mh_stscheck *s, const struct mh_mxset_host *hosts,
                       size_t nmx);

/* Starts our probes on a thread (mh_stscheck_join waits for them). */
void mh_stscheck_run_start(struct mh_stscheck *s);

/*
 * The verdict into r. hosts/nmx: the MX hosts and their addresses
 * (mx_known false when the MX lookup failed, hosts may then be NULL);
 * probes/nprobes: the probes whose outcome tells each MX host's certificate
 * (ours, or the caller's when they already verify every certificate as MTA-STS
 * does). required: the mta-sts command (no policy is CRITICAL). Loads and saves
 * --sts-state (a file that cannot be read or written is an UNKNOWN usage error)
 * unless cfg->sts_memory is the runner's.
 */
void mh_stscheck_evaluate(struct mh_stscheck *s,
                          const struct mh_mxset_host *hosts, size_t nmx,
                          bool mx_known, const struct mh_mxset_probe *probes,
                          size_t nprobes, bool required, struct mh_result *r);

void mh_stscheck_free(struct mh_stscheck *s);

#endif
