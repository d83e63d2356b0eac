/* SPDX-License-Identifier: MIT */
/*
 * mx: the mail exchangers of a domain (RFC 5321 section 5.1), looked up with
 * c-ares within the check's deadline.
 */
#ifndef MH_MX_H
#define MH_MX_H

#include <stddef.h>

#include "deadline.h"

struct mh_mx {
    char host[256];      /* exchange name, without the trailing dot */
    unsigned preference; /* lower is tried first */
};

enum mh_mx_status {
    MH_MX_OK = 0,   /* mx[0..n) are the MX hosts, sorted by preference,
                       then name (a stable order for output) */
    MH_MX_IMPLICIT, /* no MX records: the domain itself is the implicit MX
                       (RFC 5321 5.1); mx[0] is the domain, preference 0 */
    MH_MX_NULL,     /* the domain publishes a null MX "0 ." (RFC 7505): it
                       accepts no mail */
    MH_MX_NXDOMAIN, /* the domain does not exist */
    MH_MX_TIMEOUT,  /* no answer before the deadline */
    MH_MX_FAILED    /* SERVFAIL, REFUSED, malformed answer ... */
};

/*
 * Looks up the MX records of domain through resolver ("IP[:PORT]" or NULL
 * for the system resolver). On MH_MX_OK and MH_MX_IMPLICIT, *mx (free with
 * free()) holds *n >= 1 entries; otherwise *mx is NULL and errbuf says why.
 * A domain without MX records but also without A/AAAA records is reported
 * as MH_MX_IMPLICIT too: the address lookup of the probe then fails with
 * its own message.
 */
enum mh_mx_status mh_mx_lookup(const char *domain, const char *resolver,
                               const struct mh_deadline *dl, struct mh_mx **mx,
                               size_t *n, char *errbuf, size_t errlen);

#endif
