/* SPDX-License-Identifier: MIT */
/*
 * notify: the runner's notifications on state change.
 *
 * Rules (mh_notify_update, run by the runner's main thread after every
 * round, pure and unit-tested):
 *   - The "state" of a check is its Nagios state and its category. The
 *     tracker remembers it per check (keyed by check and target, so it
 *     survives a SIGHUP reload of an unchanged check).
 *   - First result of a check (start, or a check added by a reload): a
 *     non-OK state fires; an OK state is only remembered (nothing was
 *     firing, so there is nothing to resolve).
 *   - OK -> non-OK: firing. non-OK -> OK: resolved. non-OK -> another
 *     non-OK state (WARNING -> CRITICAL, or a new category): the old alert
 *     is resolved and a new one fires, because severity and category are
 *     labels and so part of the alert's identity in Alertmanager.
 *   - A check removed from the configuration while firing is resolved
 *     (summary "check removed from the configuration").
 *   - severity: CRITICAL -> "critical"; WARNING and UNKNOWN -> "warning"
 *     (UNKNOWN means the check could not decide, e.g. a DNSBL zone that
 *     answered with an error code: worth a look, not worth a page).
 *
 * Delivery (mh_notifier, notify_send.c): a dedicated thread with a bounded
 * queue POSTs the bodies with libcurl (short timeout, retries with
 * exponential backoff), so the checks never wait for a notification.
 *   - Alertmanager (POST <alertmanager_url>/api/v2/alerts): every round
 *     re-sends every firing alert (Alertmanager expects clients to re-send;
 *     endsAt = now + ttl, ttl = 4 intervals, at least 2 minutes, so the
 *     alerts expire on their own if the runner stops) plus the alerts
 *     resolved in this round (endsAt = now).
 *   - Generic webhook: one POST per round with state changes only, in the
 *     payload format of Alertmanager's webhook receiver (version "4"), which
 *     on-call tools (Grafana OnCall, Alerta, ...) accept; with
 *     `Authorization: Bearer <token>` when notify.token_file is set.
 * Labels: alertname="MailHealthCheckFailed", target, check, category (left
 * out when the result has none, e.g. UNKNOWN), severity. Annotations:
 * summary (the check's summary), state, previous_state (webhook).
 */
#ifndef MH_NOTIFY_H
#define MH_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "../probes/result.h"

/* The alertname label of every alert. */
#define MH_ALERT_NAME "MailHealthCheckFailed"

/* One alert: a check in a non-OK state (firing) or one that left it. */
struct mh_alert {
    bool firing;
    char *target;         /* owned */
    char *check;          /* owned */
    char *category;       /* owned; "" when the result had none */
    char *summary;        /* owned */
    const char *severity; /* static: "warning" or "critical" */
    enum mh_state state;  /* the state that fires / fired */
    int prev_state;       /* firing: the previous state, -1 on the first
                             result of the check; resolved: the state that
                             replaced it */
    bool replaced;        /* resolved because another non-OK state fires */
    double starts_at;     /* Unix seconds: when it started firing */
    double ends_at;       /* Unix seconds: when it was resolved; 0 firing */
};

/* The outcome of one round. */
struct mh_alert_batch {
    struct mh_alert *changes; /* this round's transitions, in check order */
    size_t nchanges;
    struct mh_alert *active; /* every alert firing after this round */
    size_t nactive;
};

struct mh_notify_tracker;

/* A tracker with no memory (every check is new). NULL on out of memory. */
struct mh_notify_tracker *mh_notify_tracker_new(void);

/* Frees the tracker (NULL is fine). */
void mh_notify_tracker_free(struct mh_notify_tracker *t);

/*
 * Feeds one round: results[0..n) are the checks' results (top level only;
 * their target and check identify the check). now is the Unix time. Fills
 * *out (free with mh_alert_batch_free). Returns 0, or -1 on out of memory
 * (the tracker is then unchanged for the checks not yet processed).
 */
int mh_notify_update(struct mh_notify_tracker *t,
                     const struct mh_result *const *results, size_t n,
                     double now, struct mh_alert_batch *out);

/* Frees the batch's alerts; the batch is empty afterwards. */
void mh_alert_batch_free(struct mh_alert_batch *b);

/* "critical" for CRITICAL, "warning" for WARNING and UNKNOWN, "" for OK. */
const char *mh_alert_severity(enum mh_state s);

/*
 * The JSON body for Alertmanager's POST /api/v2/alerts: every active alert
 * (endsAt = now + ttl_s) and every resolved change (endsAt = its end).
 * Returns a new string (free()) or NULL when there is nothing to send or
 * on out of memory.
 */
char *mh_notify_alertmanager_body(const struct mh_alert_batch *b, double now,
                                  double ttl_s);

/*
 * The JSON body for the generic webhook (Alertmanager webhook format,
 * version "4") with the batch's changes. NULL when there are no changes
 * or on out of memory. free() the result.
 */
char *mh_notify_webhook_body(const struct mh_alert_batch *b);

/* Formats Unix time t as RFC 3339 UTC with milliseconds. Returns buf. */
char *mh_rfc3339(char *buf, size_t len, double t);

/* ---- delivery --------------------------------------------------------- */

struct mh_notifier;

/*
 * Starts the notifier thread. Returns NULL (reason in errbuf) when the
 * thread cannot be started. curl_global_init() must have been called.
 */
struct mh_notifier *mh_notifier_start(char *errbuf, size_t errlen);

/*
 * Queues one POST of body (taken over: freed by the notifier) to url. what
 * names the endpoint in logs ("alertmanager", "webhook"); the URL is logged
 * only in redacted form. token (copied, may be NULL) is sent as
 * `Authorization: Bearer <token>` and never logged. nchanges is the number
 * of state changes in the body (for the log). supersedable: the body only
 * repeats what a newer POST to the same URL will say (an Alertmanager
 * re-send without resolutions), so queued supersedable jobs for that URL
 * are removed when a new supersedable one arrives. Never blocks on the
 * network: when the queue (64 jobs) is full, the oldest job is dropped and
 * logged.
 */
void mh_notifier_post(struct mh_notifier *n, const char *what, const char *url,
                      char *body, const char *token, double timeout_s,
                      size_t nchanges, bool supersedable);

/*
 * Stops the thread: jobs still queued get one attempt each (no retries)
 * until drain_s seconds have passed, the rest are dropped (logged). Frees
 * n. NULL is fine.
 */
void mh_notifier_stop(struct mh_notifier *n, double drain_s);

#endif
