/* SPDX-License-Identifier: MIT */
/*
 * delivery_internal: what the files of the delivery probe share and
 * nothing outside probes/delivery*.c uses:
 *   delivery.c          transfers (libcurl handles, callbacks) and the
 *                       round trip (mh_delivery_probe);
 *   delivery_url.c      --submit/--imap URLs and the URL given to libcurl;
 *   delivery_message.c  the token and the probe mail;
 *   delivery_imap.c     SEARCH results and capabilities in IMAP responses;
 *   delivery_classify.c state and reason of a failed transfer, the SMTP
 *                       phase of a command;
 *   delivery_redact.c   the -vv trace without credentials.
 */
#ifndef MH_DELIVERY_INTERNAL_H
#define MH_DELIVERY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "delivery.h"

/*
 * The URL given to libcurl for du: scheme://host:port/PATH, the host of an
 * IPv6 address in brackets, PATH (percent-encoded) the EHLO name for
 * submission (libcurl's convention) or the mailbox; no path when path is
 * NULL. Returns a string to free with curl_free(), or NULL when libcurl's
 * URL API failed (out of memory).
 */
char *mh_delivery_curl_url(const struct mh_delivery_url *du, const char *path);

/* True when the capability list caps (space-separated as the server sent
 * it, possibly inside "[CAPABILITY ...]") has the word cap, compared
 * without regard to case (RFC 3501 7.2.1). */
bool mh_delivery_has_capability(const char *caps, const char *cap);

/* Word number idx (0-based, words separated by spaces) of the len bytes
 * at line, as pointer *w and length *wl. Returns false when the line has
 * fewer words. */
bool mh_delivery_word_at(const char *line, size_t len, int idx, const char **w,
                         size_t *wl);

#endif
