/* SPDX-License-Identifier: MIT */
/*
 * tls_shared: one TLS client context, with its trust store, shared by every
 * check of a long-running process (the runner), instead of one context and
 * one store per check.
 *
 * A one-shot check builds its own context on a helper thread beside the
 * dialogue (smtp.c), which hides its cost from the timed phases. A runner
 * doing thousands of TLS checks a round would build thousands: OpenSSL 3
 * fetches every algorithm for each SSL_CTX_new (more CPU than the rest of a
 * local SMTP check), and each context holds its own parsed trust anchors.
 * With the shared context enabled, the smtp probe takes the context from
 * here (built on first use, then only referenced), verifies the chain with
 * its store on the check's own thread, and starts no helper thread.
 *
 * Contexts are kept per (ca_file, ca_path, min_version): a runner's checks
 * use one or a few. An SSL_CTX and its X509_STORE may be used by many
 * threads at once once set up (OpenSSL's threads(7)); this module only
 * serialises building and replacing them.
 */
#ifndef MH_TLS_SHARED_H
#define MH_TLS_SHARED_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "transport.h"

/* Most distinct (ca_file, ca_path, min_version) kept; checks beyond that
 * build their own context, as a one-shot check does. */
#define MH_TLS_SHARED_MAX 8

/* Turns sharing on for the rest of the process (the runner calls it once
 * at start). Thread-safe. */
void mh_tls_shared_enable(void);

/* Whether mh_tls_shared_enable() was called. */
bool mh_tls_shared_enabled(void);

/*
 * A new reference to the shared context for p's ca_file, ca_path and
 * min_version (mh_tls_ctx_new() of transport.h: the bare context with the
 * trust store attached), built on first use. Release it with
 * SSL_CTX_free(). Returns NULL when sharing is off, when all
 * MH_TLS_SHARED_MAX slots hold other parameters, or when the context
 * cannot be built: the caller then builds its own, which reports the
 * reason (a trust store that does not load is not cached, so it is
 * retried by the next check).
 */
SSL_CTX *mh_tls_shared_ctx(const struct mh_tls_params *p);

/*
 * Forgets the shared contexts: the next checks build new ones, reading the
 * trust stores again (the runner calls it on SIGHUP, so a renewed CA file
 * takes effect). Checks still holding a reference keep theirs until they
 * release it. Thread-safe.
 */
void mh_tls_shared_reload(void);

#endif
