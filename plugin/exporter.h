/* SPDX-License-Identifier: MIT */
/*
 * exporter: the HTTP side of `check_mailhealth run --listen ADDR:PORT`, a
 * Prometheus exporter beside (or instead of) the textfile, following the
 * Prometheus guide "Writing exporters" and blackbox_exporter's multi-target
 * pattern. Served with libmicrohttpd (loaded at start, mhd_loader.h).
 *
 *   /metrics  the last complete round of the runner: the families of the
 *             textfile (render.h), then the exporter's own:
 *             mailhealth_exporter_rounds_total,
 *             mailhealth_exporter_checks_in_flight,
 *             mailhealth_exporter_probes_total{module},
 *             mailhealth_exporter_http_requests_total{code}. Before the
 *             first round ends only the exporter's own families. gzip when
 *             the request's Accept-Encoding allows it (compressed once per
 *             round).
 *   /probe?module=NAME&target=TARGET
 *             runs the module (a check template of the configuration's
 *             "exporter.modules") on TARGET at once and answers its
 *             families, mailhealth_probe_success among them: a failed
 *             check is still HTTP 200 with mailhealth_probe_success 0, as
 *             blackbox_exporter does. 400 for an unknown or missing module,
 *             a malformed target or one the module's allowed_targets do not
 *             match; 503 when probe_concurrency probes run and as many
 *             wait. The URL sets the target only: never an option, never a
 *             credential. Deadline: the module's timeout, or less when
 *             Prometheus' X-Prometheus-Scrape-Timeout-Seconds header minus
 *             timeout_offset (0.5 s) is smaller (so the answer arrives
 *             before the scrape gives up). With debug=true (as
 *             blackbox_exporter) the answer is text for people: the
 *             check as the Nagios plugin prints it (status line, long
 *             output, perfdata), then the families.
 *   /         a landing page listing the modules and links.
 *   /-/healthy
 *             200 "Healthy" while the exporter serves (a liveness check,
 *             as Prometheus' and blackbox_exporter's).
 *
 * Only GET and HEAD (405 otherwise), unknown paths 404. Requests are
 * hostile input: a request head larger than 32 KiB gets 431, a client has
 * 10 s to send its head and 10 s of silence at most, a client address may
 * hold 16 connections and all 256; a request body is not read (413 at
 * once for a head announcing one; the connection is closed). Answers keep the
 * connection alive. No request can stall the rounds: the runner only hands a
 * finished round over (a pointer swap under a lock), and probes run on their
 * own threads.
 *
 * Security, as Prometheus' exporter-toolkit web configuration: HTTPS with
 * tls_cert_file and tls_key_file (PEM), HTTP basic authentication against
 * basic_auth_users (user -> crypt(3) hash: bcrypt "$2y$..." as made by
 * htpasswd -B, or yescrypt "$y$..." as made by mkpasswd; never a plain
 * password). The default address is 127.0.0.1.
 */
#ifndef MH_EXPORTER_H
#define MH_EXPORTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "../probes/result.h"
#include "commands.h"
#include "runner.h"

/* Default probe_concurrency and its bounds. */
#define MH_EXPORTER_DEFAULT_PROBES 4u
#define MH_EXPORTER_MAX_PROBES 256u
/* Longest target text accepted in a /probe URL, in bytes. */
#define MH_EXPORTER_MAX_TARGET 260
/* Subtracted from X-Prometheus-Scrape-Timeout-Seconds by default
 * (blackbox_exporter's --timeout-offset default), and the largest
 * exporter.timeout_offset accepted, in seconds. */
#define MH_EXPORTER_TIMEOUT_OFFSET_S 0.5
#define MH_EXPORTER_MAX_TIMEOUT_OFFSET_S 60.0

/* Checks running now in this process: the runner's and /probe's. */
extern atomic_int mh_checks_in_flight;

/*
 * Parses a listen address: "ADDR:PORT", "[IPv6]:PORT" or "PORT" alone
 * (then 127.0.0.1). ADDR is a numeric IPv4 or IPv6 address; 0.0.0.0 or
 * [::] listen on every address. Stores the address in *ss and its length
 * in *sslen. Returns 0, or -1 with one line in errbuf.
 */
int mh_exporter_parse_listen(const char *text, struct sockaddr_storage *ss,
                             socklen_t *sslen, char *errbuf, size_t errlen);

/*
 * Parses the target of a /probe URL for a command of target kind `kind`
 * (commands.h): "HOST", "HOST:PORT" (MH_TARGET_HOST_PORT only),
 * "[IPv6]", "[IPv6]:PORT" or a bare IPv6 literal. HOST is a DNS name
 * (letters, digits, '-', '_', '.'; at most 253 bytes) or an address.
 * Writes the host into host (hostlen >= MH_EXPORTER_MAX_TARGET) and the
 * port (0: none given) into *port. Returns 0, or -1 with the reason in
 * errbuf (the answer's 400 text, no part of the input quoted).
 */
int mh_exporter_parse_target(enum mh_target_kind kind, const char *text,
                             char *host, size_t hostlen, unsigned *port,
                             char *errbuf, size_t errlen);

/*
 * The deadline of a probe, in seconds: the module's timeout, or the
 * scrape timeout from the X-Prometheus-Scrape-Timeout-Seconds header value
 * (may be NULL) minus offset_s (exporter.timeout_offset, default
 * MH_EXPORTER_TIMEOUT_OFFSET_S: time for the answer to travel) when that
 * is smaller, never below 0.1 s. A header that is not a positive decimal
 * number is ignored (Prometheus always sends one; blackbox_exporter
 * answers 500 instead, which would only hide the probe).
 */
double mh_exporter_probe_budget(double module_timeout_s,
                                const char *scrape_timeout, double offset_s);

/* True when an Accept-Encoding header value (may be NULL) accepts gzip:
 * a "gzip" (or "*") coding whose q is not 0 (RFC 9110 section 12.5.3). */
bool mh_exporter_accepts_gzip(const char *accept_encoding);

/* True when module m allows host (no patterns: every host): a pattern
 * matches the whole host as fnmatch(3) does, case-insensitively. */
bool mh_exporter_target_allowed(const struct mh_run_module *m,
                                const char *host);

/*
 * Checks that hash is a crypt(3) hash libcrypt can verify (bcrypt $2a$,
 * $2b$, $2y$; yescrypt $y$; sha512crypt $6$ ...), not a plain password.
 * Returns 0, or -1 with the reason in errbuf.
 */
int mh_exporter_check_hash(const char *hash, char *errbuf, size_t errlen);

/* The exporter. */
struct mh_exporter;

/* How the exporter keeps the configuration it probes with alive: hold()
 * when it starts using `owner`, drop() when done (cmd_run.c's reference
 * count of the shared configuration). */
struct mh_exporter_hooks {
    void (*hold)(void *owner);
    void (*drop)(void *owner);
};

/*
 * Starts serving on listen (mh_exporter_parse_listen syntax) with the
 * modules, users and TLS files of c->exporter, c kept alive through
 * hooks and owner. Loads libmicrohttpd. Returns the exporter, or NULL
 * with one line in errbuf (library missing, address in use, unreadable
 * certificate ...).
 */
struct mh_exporter *mh_exporter_start(const char *listen,
                                      const struct mh_run_config *c,
                                      void *owner,
                                      const struct mh_exporter_hooks *hooks,
                                      char *errbuf, size_t errlen);

/* Switches to the modules and users of a reloaded configuration (the
 * address and TLS files stay those of the start). */
void mh_exporter_set_config(struct mh_exporter *e,
                            const struct mh_run_config *c, void *owner);

/*
 * Hands over a complete round: renders results[0..n) as the textfile
 * would (now_unix, round_seconds: render.h) into the /metrics snapshot.
 * The results are not kept. Returns 0, or -1 on allocation failure (the
 * previous snapshot stays).
 */
int mh_exporter_publish(struct mh_exporter *e,
                        const struct mh_result *const *results, size_t n,
                        double now_unix, double round_seconds);

/* Drops the published round: /metrics answers the exporter's own
 * families only, as before the first round (a reload to a configuration
 * without checks). */
void mh_exporter_forget_round(struct mh_exporter *e);

/*
 * Stops: no new connection is accepted, answers in flight get up to 2 s,
 * probes still running after that are answered 503 and left to end on
 * their threads. Returns the number of those threads (the caller must
 * then leave with _exit(), as for abandoned checks); frees e otherwise.
 */
size_t mh_exporter_stop(struct mh_exporter *e);

#endif
