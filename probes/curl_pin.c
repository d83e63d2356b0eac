/* SPDX-License-Identifier: MIT */
/*
 * curl_pin: host names pinned to the addresses our resolver found (see
 * curl_pin.h).
 */
#include "curl_pin.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "resolve.h"
#include "textutil.h"

int
mh_curl_pin_host(CURL *h, const char *host, uint16_t port, int family,
                 const char *resolver, const struct mh_deadline *dl,
                 struct curl_slist **list, enum mh_state *state,
                 enum mh_reason *reason, char *msg, size_t msglen)
{
    *list = NULL;
    if (resolver == NULL || mh_is_ip_literal(host)) {
        return 0;
    }
    struct mh_addr *addrs = NULL;
    size_t naddrs = 0;
    char err[256];
    enum mh_resolve_status rs = mh_resolve_host(
        host, family, resolver, dl, &addrs, &naddrs, err, sizeof err);
    if (rs != MH_RESOLVE_OK) {
        *state = MH_STATE_CRITICAL;
        *reason = rs == MH_RESOLVE_TIMEOUT    ? MH_REASON_DNS_TIMEOUT
                  : rs == MH_RESOLVE_NOTFOUND ? MH_REASON_NAME_NOT_FOUND
                                              : MH_REASON_DNS_LOOKUP_FAILED;
        snprintf(msg, msglen, "cannot resolve %s: %s", host, err);
        free(addrs);
        return -1;
    }
    char entry[1200];
    int off = snprintf(entry, sizeof entry, "%s:%u:", host, port);
    for (size_t i = 0; i < naddrs && off > 0 && (size_t)off < sizeof entry;
         i++) {
        bool v6 = addrs[i].family == AF_INET6;
        off +=
            snprintf(entry + off, sizeof entry - (size_t)off,
                     v6 ? "%s[%s]" : "%s%s", i > 0 ? "," : "", addrs[i].text);
    }
    free(addrs);
    struct curl_slist *l = curl_slist_append(NULL, entry);
    if (l == NULL || curl_easy_setopt(h, CURLOPT_RESOLVE, l) != CURLE_OK) {
        curl_slist_free_all(l);
        *state = MH_STATE_UNKNOWN;
        *reason = MH_REASON_INTERNAL_ERROR;
        snprintf(msg, msglen, "cannot pin the addresses of %s", host);
        return -1;
    }
    *list = l;
    return 0;
}
