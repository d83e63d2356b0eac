/* SPDX-License-Identifier: MIT */
/*
 * curl_pin: a libcurl transfer that uses our own resolver. With
 * --resolver, the host of a URL is resolved with c-ares (resolve.h)
 * within the check's deadline and its addresses are pinned to the handle
 * with CURLOPT_RESOLVE, so libcurl does no lookup of its own: the check
 * asks the resolver the operator named, and DNS time counts against the
 * one deadline.
 */
#ifndef MH_CURL_PIN_H
#define MH_CURL_PIN_H

#include <stdint.h>

#include "curl_loader.h"
#include "deadline.h"
#include "result.h"

/*
 * Resolves host (a name; a numeric address or a NULL resolver needs no
 * pinning: returns 0 at once) for port through resolver within dl, as
 * family allows, and sets CURLOPT_RESOLVE "host:port:addr,addr" on h.
 * *list receives the curl_slist the handle uses (free it with
 * curl_slist_free_all after the handle). Returns 0, or -1 with *state,
 * *reason and msg set: CRITICAL dns_timeout / name_not_found /
 * dns_lookup_failed ("cannot resolve HOST: why"), or UNKNOWN
 * internal_error when libcurl refused the list.
 */
int mh_curl_pin_host(CURL *h, const char *host, uint16_t port, int family,
                     const char *resolver, const struct mh_deadline *dl,
                     struct curl_slist **list, enum mh_state *state,
                     enum mh_reason *reason, char *msg, size_t msglen);

#endif
