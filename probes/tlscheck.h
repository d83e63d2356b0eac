/* SPDX-License-Identifier: MIT */
/*
 * tlscheck: certificate checks of an established TLS session: verified
 * chain (OpenSSL), host name (RFC 6125, OpenSSL's host check), expiry of
 * every element of the verified chain, certificates sent but not on the
 * verified path, TLS version and cipher.
 */
#ifndef MH_TLSCHECK_H
#define MH_TLSCHECK_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "result.h"

struct mh_tls_check_params {
    bool verify;         /* verification failures are CRITICAL/tls; false:
                            they are reported as notes (--no-verify) */
    const char *verify_name; /* the name that was checked, for messages */
    bool sni_sent;       /* whether SNI was sent (for the hints) */
    double warn_days;    /* days left below which an element warns */
    double crit_days;    /* days left below which an element is critical */
    double now;          /* Unix time used for "days left" (seconds) */
};

/*
 * Inspects ssl after a successful handshake (the verification result was
 * computed by OpenSSL during the handshake with the trust store and the
 * name set in transport.c) and adds to r: one "cert" item per element
 * (depth, subject, issuer, notAfter ISO 8601 UTC, days left, key type and
 * size, signature algorithm), perfdata, the Prometheus tls families, and
 * raises r's state (category tls) for verification failures and expiry.
 */
void mh_tls_check_session(SSL *ssl, const struct mh_tls_check_params *p,
                          struct mh_result *r);

/* Adds only the session facts (version, cipher) as an item and the
 * mailhealth_tls_version_info sample; used when no certificate check runs. */
void mh_tls_note_session(SSL *ssl, struct mh_result *r);

/*
 * Days-left state for one element: CRITICAL when days_left < crit_days
 * (an expired certificate has negative days), WARNING when < warn_days,
 * else OK. Pure; unit-tested with fixed times.
 */
enum mh_state mh_tls_days_state(double days_left, double warn_days,
                                double crit_days);

#endif
