/* SPDX-License-Identifier: MIT */
/*
 * cmd_mtasts: the mta-sts subcommand. The domain's MTA-STS policy
 * (RFC 8461) and TLS-RPT record (RFC 8460) as a sending MTA sees them:
 * the _mta-sts TXT record (looked up beside the MX records), the policy
 * over HTTPS (fetched while the MX hosts are resolved), every MX host
 * against the policy's mx patterns and, in enforce and testing mode, the
 * STARTTLS certificate of every MX address verified for the MX name.
 * One result for the domain (no children: each MX host is one line);
 * stscheck.h does the work, shared with domain.
 */
#include <stdlib.h>
#include <string.h>

#include "../probes/mx.h"
#include "checks.h"
#include "common.h"
#include "mxset.h"
#include "stscheck.h"

struct mh_result *
mh_cmd_mtasts(const struct mh_config *cfg, const struct mh_deadline *dl)
{
    struct mh_result *r = mh_result_new("mta-sts", cfg->domain);
    if (r == NULL) {
        return NULL;
    }
    struct mh_stscheck s;
    mh_stscheck_start(&s, cfg, dl);
    struct mh_mx *mx = NULL;
    size_t nmx = 0;
    char err[512];
    enum mh_mx_status ms = mh_mx_lookup(cfg->domain, cfg->resolver, dl, &mx,
                                        &nmx, err, sizeof err);
    mh_stscheck_join(&s);
    bool mx_known = ms == MH_MX_OK || ms == MH_MX_IMPLICIT;
    struct mh_mxset_host *hosts = NULL;
    if (s.published) {
        mh_stscheck_fetch_start(&s);
        if (mx_known) {
            if (nmx > MH_MXSET_MAX_MX) {
                mh_result_add_item(r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                                   "%zu MX hosts, only the first %d are "
                                   "checked",
                                   nmx, MH_MXSET_MAX_MX);
                nmx = MH_MXSET_MAX_MX;
            }
            hosts = mh_mxset_resolve(mx, nmx, cfg, dl);
            if (hosts == NULL) {
                mh_result_mark_oom(r);
            }
        }
        mh_stscheck_join(&s);
        if (hosts != NULL && mh_stscheck_wants_probes(&s)) {
            if (mh_stscheck_probes(&s, hosts, nmx) == 0) {
                mh_stscheck_run_start(&s);
                mh_stscheck_join(&s);
            } else {
                mh_result_mark_oom(r);
            }
        }
        if (!mx_known) {
            /* Without the MX set the policy cannot be checked against it:
             * CRITICAL as the domain check says. */
            mh_result_raise(r, MH_STATE_CRITICAL,
                            ms == MH_MX_TIMEOUT ? MH_REASON_DNS_TIMEOUT
                            : ms == MH_MX_NULL  ? MH_REASON_NULL_MX
                            : ms == MH_MX_NXDOMAIN
                                ? MH_REASON_NAME_NOT_FOUND
                                : MH_REASON_DNS_LOOKUP_FAILED,
                            "%s", err);
            mh_result_add_item(r, "mx", "", MH_STATE_CRITICAL, r->reason, "%s",
                               err);
        }
    }
    mh_stscheck_evaluate(&s, hosts, nmx, mx_known, s.probes, s.nprobes, true,
                         r);
    mh_stscheck_free(&s);
    mh_mxset_hosts_free(hosts, nmx);
    free(mx);
    mh_result_set_duration(r, mh_deadline_elapsed(dl));
    mh_add_total_time(cfg, r);
    return r;
}
