/* SPDX-License-Identifier: MIT */
/*
 * delivery_imap: what the delivery probe reads from IMAP responses (see
 * delivery.h): SEARCH results (RFC 3501 7.2.5) and capabilities
 * (RFC 3501 7.2.1).
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "delivery.h"
#include "delivery_internal.h"

size_t
mh_delivery_parse_search(const char *body, size_t len, unsigned long *uids,
                         size_t max)
{
    size_t found = 0;
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && body[e] != '\n') {
            e++;
        }
        size_t ll = e - i;
        const char *line = body + i;
        if (ll >= 8 && strncasecmp(line, "* SEARCH", 8) == 0 &&
            (ll == 8 || line[8] == ' ' || line[8] == '\r')) {
            int depth = 0;
            size_t k = 8;
            while (k < ll) {
                char c = line[k];
                if (c == '(') {
                    depth++;
                    k++;
                } else if (c == ')') {
                    depth = depth > 0 ? depth - 1 : 0;
                    k++;
                } else if (c >= '0' && c <= '9') {
                    unsigned long v = 0;
                    bool ok = true;
                    while (k < ll && line[k] >= '0' && line[k] <= '9') {
                        unsigned long d = (unsigned long)(line[k] - '0');
                        if (v > (4294967295UL - d) / 10) {
                            ok = false; /* not a 32-bit UID */
                        } else {
                            v = v * 10 + d;
                        }
                        k++;
                    }
                    if (depth == 0 && ok && v > 0) {
                        if (found < max) {
                            uids[found] = v;
                        }
                        found++;
                    }
                } else {
                    k++;
                }
            }
        }
        i = e + 1;
    }
    return found;
}

bool
mh_delivery_has_capability(const char *caps, const char *cap)
{
    size_t n = strlen(cap);
    for (const char *p = caps; (p = strcasestr(p, cap)) != NULL; p += n) {
        bool start = p == caps || p[-1] == ' ' || p[-1] == '[';
        char after = p[n];
        if (start &&
            (after == '\0' || after == ' ' || after == ']' || after == '\r')) {
            return true;
        }
    }
    return false;
}
