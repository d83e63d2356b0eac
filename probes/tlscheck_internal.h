/* SPDX-License-Identifier: MIT */
/*
 * tlscheck_internal: what the two files of the TLS certificate check
 * share: tlscheck.c verifies and fills a struct mh_tls_report,
 * tlscheck_render.c turns it into result items, perfdata and samples.
 */
#ifndef MH_TLSCHECK_INTERNAL_H
#define MH_TLSCHECK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "tlscheck.h"

/* printf("%.*f") of x into buf with '.' as decimal point whatever
 * LC_NUMERIC says; trailing zeros dropped when trim (mh_fmt_decimal).
 * Returns buf. */
char *mh_tls_fmt_num(char *buf, size_t len, double x, int decimals, bool trim);

/* "89.9 days left", "expired 10.0 days ago" or "notAfter unreadable". */
void mh_tls_days_phrase(char *buf, size_t len,
                        const struct mh_tls_cert_facts *f);

/* Appends "; text" (or text, to an empty buf) to a message buffer of len
 * bytes; cut when full. */
void mh_tls_msg_add(char *buf, size_t len, const char *text);

#endif
