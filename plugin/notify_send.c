/* SPDX-License-Identifier: MIT */
/*
 * notify_send: the notifier thread (notify.h). One thread, one bounded
 * FIFO of POST jobs, one reused libcurl easy handle. Each job is tried up
 * to NOTIFY_ATTEMPTS times with exponential backoff (1 s, 2 s, 4 s);
 * HTTP 2xx is success, other 4xx answers (except 408 and 429) are final.
 * The backoff waits on the queue's condition variable. At shutdown the
 * queued jobs (and their retries) get the drain window, nothing more.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "../probes/deadline.h"
#include "notify.h"
#include "runner.h"
#include "version.h"

#define NOTIFY_QUEUE_MAX 64
#define NOTIFY_ATTEMPTS 4
#define NOTIFY_RESPONSE_MAX 300

struct job {
    char *what;
    char *url;
    char *body;
    char *token; /* NULL: no Authorization header */
    double timeout_s;
    size_t nchanges;
    bool supersedable; /* a newer job for the same URL makes it useless */
};

struct mh_notifier {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* queue changed or stop requested */
    struct job q[NOTIFY_QUEUE_MAX];
    size_t head, len;
    bool stop;
    double drain_until; /* monotonic, set by stop */
    CURL *curl;
};

static void
job_free(struct job *j)
{
    free(j->what);
    free(j->url);
    free(j->body);
    if (j->token != NULL) {
        OPENSSL_cleanse(j->token, strlen(j->token));
        free(j->token);
    }
    memset(j, 0, sizeof *j);
}

struct response {
    char text[NOTIFY_RESPONSE_MAX + 1];
    size_t len;
};

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct response *r = arg;
    size_t n = size * nmemb;
    size_t room = NOTIFY_RESPONSE_MAX - r->len;
    size_t take = n < room ? n : room;
    memcpy(r->text + r->len, data, take);
    r->len += take;
    r->text[r->len] = '\0';
    return n;
}

enum outcome { SENT, RETRY, FINAL };

/* One attempt. why gets a loggable reason on failure. */
static enum outcome
post_once(struct mh_notifier *n, const struct job *j, char *why, size_t wlen)
{
    CURL *c = n->curl;
    curl_easy_reset(c);
    struct response resp = {.len = 0};
    resp.text[0] = '\0';
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = NULL;
    struct curl_slist *t;
    t = curl_slist_append(h, "Content-Type: application/json");
    h = t != NULL ? t : h;
    t = curl_slist_append(h, "Expect:");
    h = t != NULL ? t : h;
    if (j->token != NULL) {
        size_t len = strlen(j->token) + 32;
        char *auth = malloc(len);
        if (auth != NULL) {
            snprintf(auth, len, "Authorization: Bearer %s", j->token);
            t = curl_slist_append(h, auth);
            h = t != NULL ? t : h;
            OPENSSL_cleanse(auth, strlen(auth));
            free(auth);
        }
    }
    long ms = (long)(j->timeout_s * 1000.0);
    long cms = ms < 3000 ? ms : 3000;
    curl_easy_setopt(c, CURLOPT_URL, j->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(j->body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cms);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "check_mailhealth/" MH_VERSION);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    /* The header list holds the token: wipe it before freeing. */
    for (struct curl_slist *p = h; p != NULL; p = p->next) {
        OPENSSL_cleanse(p->data, strlen(p->data));
    }
    curl_slist_free_all(h);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    if (rc != CURLE_OK) {
        snprintf(why, wlen, "%s",
                 errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        return RETRY;
    }
    if (code >= 200 && code < 300) {
        return SENT;
    }
    /* Alertmanager explains a 400 in its body; a webhook's body is not
     * logged (it is not ours and might echo what we sent). */
    bool show = strcmp(j->what, "alertmanager") == 0 && resp.len > 0;
    snprintf(why, wlen, "HTTP %ld%s%s", code, show ? ": " : "",
             show ? resp.text : "");
    if (code >= 400 && code < 500 && code != 408 && code != 429) {
        return FINAL;
    }
    return RETRY;
}

/* Waits up to seconds on the condition variable; once stopping, never
 * past the end of the drain window. */
static void
backoff_wait(struct mh_notifier *n, double seconds)
{
    double until = mh_monotonic_s() + seconds;
    pthread_mutex_lock(&n->mu);
    for (;;) {
        double end = n->stop && n->drain_until < until ? n->drain_until : until;
        if (mh_monotonic_s() >= end) {
            break;
        }
        struct timespec abs = mh_monotonic_timespec(end);
        pthread_cond_timedwait(&n->cv, &n->mu, &abs);
    }
    pthread_mutex_unlock(&n->mu);
}

static void
deliver(struct mh_notifier *n, struct job *j)
{
    char url[512];
    mh_url_redact(j->url, url, sizeof url);
    char why[512] = "";
    for (int attempt = 1; attempt <= NOTIFY_ATTEMPTS; attempt++) {
        pthread_mutex_lock(&n->mu);
        bool late = n->stop && mh_monotonic_s() > n->drain_until;
        pthread_mutex_unlock(&n->mu);
        if (late) {
            mh_runlog(MH_LOG_WARNING,
                      "notify: %s %s: not sent, shutting down (%zu state "
                      "changes lost)",
                      j->what, url, j->nchanges);
            return;
        }
        enum outcome o = post_once(n, j, why, sizeof why);
        if (o == SENT) {
            if (j->nchanges > 0 || attempt > 1) {
                mh_runlog(MH_LOG_INFO,
                          "notify: %s %s: delivered %zu state change%s%s",
                          j->what, url, j->nchanges,
                          j->nchanges == 1 ? "" : "s",
                          attempt > 1 ? " after retrying" : "");
            } else {
                mh_runlog(MH_LOG_DEBUG, "notify: %s %s: delivered", j->what,
                          url);
            }
            return;
        }
        if (o == FINAL) {
            mh_runlog(MH_LOG_ERR,
                      "notify: %s %s: rejected (%s); not retried, %zu state "
                      "changes lost",
                      j->what, url, why, j->nchanges);
            return;
        }
        double delay = (double)(1 << (attempt - 1));
        if (attempt == NOTIFY_ATTEMPTS) {
            break;
        }
        pthread_mutex_lock(&n->mu);
        /* Shutting down: retry only within the drain window. */
        bool no_time = n->stop && mh_monotonic_s() + delay > n->drain_until;
        pthread_mutex_unlock(&n->mu);
        if (no_time) {
            break;
        }
        mh_runlog(MH_LOG_WARNING,
                  "notify: %s %s: attempt %d failed (%s); retrying in %.0f s",
                  j->what, url, attempt, why, delay);
        backoff_wait(n, delay);
    }
    mh_runlog(MH_LOG_ERR,
              "notify: %s %s: giving up (%s); %zu state changes lost", j->what,
              url, why, j->nchanges);
}

static void *
notifier_main(void *arg)
{
    struct mh_notifier *n = arg;
    for (;;) {
        pthread_mutex_lock(&n->mu);
        while (n->len == 0 && !n->stop) {
            pthread_cond_wait(&n->cv, &n->mu);
        }
        if (n->len == 0) {
            pthread_mutex_unlock(&n->mu);
            break;
        }
        struct job j = n->q[n->head];
        memset(&n->q[n->head], 0, sizeof n->q[n->head]);
        n->head = (n->head + 1) % NOTIFY_QUEUE_MAX;
        n->len--;
        pthread_mutex_unlock(&n->mu);
        deliver(n, &j);
        job_free(&j);
    }
    return NULL;
}

struct mh_notifier *
mh_notifier_start(char *errbuf, size_t errlen)
{
    struct mh_notifier *n = calloc(1, sizeof *n);
    if (n == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    n->curl = curl_easy_init();
    if (n->curl == NULL) {
        free(n);
        snprintf(errbuf, errlen, "cannot initialise libcurl");
        return NULL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&n->thread, NULL, notifier_main, n);
    if (rc != 0) {
        snprintf(errbuf, errlen, "cannot start the notifier thread: %s",
                 strerror(rc));
        curl_easy_cleanup(n->curl);
        pthread_mutex_destroy(&n->mu);
        pthread_cond_destroy(&n->cv);
        free(n);
        return NULL;
    }
    return n;
}

void
mh_notifier_post(struct mh_notifier *n, const char *what, const char *url,
                 char *body, const char *token, double timeout_s,
                 size_t nchanges, bool supersedable)
{
    if (n == NULL || body == NULL) {
        free(body);
        return;
    }
    struct job j = {.what = strdup(what),
                    .url = strdup(url),
                    .body = body,
                    .token = token != NULL ? strdup(token) : NULL,
                    .timeout_s = timeout_s,
                    .nchanges = nchanges,
                    .supersedable = supersedable};
    if (j.what == NULL || j.url == NULL || (token != NULL && j.token == NULL)) {
        mh_runlog(MH_LOG_ERR, "notify: %s: out of memory, not sent", what);
        job_free(&j);
        return;
    }
    struct job dropped = {0};
    size_t superseded = 0;
    pthread_mutex_lock(&n->mu);
    if (supersedable) {
        /* Queued (not yet started) jobs of the same kind that the new one
         * repeats are removed: while an endpoint is down, the queue holds
         * one re-send, not one per round. */
        size_t w = 0;
        for (size_t i = 0; i < n->len; i++) {
            struct job *q = &n->q[(n->head + i) % NOTIFY_QUEUE_MAX];
            if (q->supersedable && strcmp(q->url, j.url) == 0) {
                job_free(q);
                superseded++;
                continue;
            }
            n->q[(n->head + w) % NOTIFY_QUEUE_MAX] = *q;
            w++;
        }
        n->len = w;
    }
    if (n->len == NOTIFY_QUEUE_MAX) {
        dropped = n->q[n->head];
        memset(&n->q[n->head], 0, sizeof n->q[n->head]);
        n->head = (n->head + 1) % NOTIFY_QUEUE_MAX;
        n->len--;
    }
    n->q[(n->head + n->len) % NOTIFY_QUEUE_MAX] = j;
    n->len++;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    if (superseded > 0) {
        char u[512];
        mh_runlog(MH_LOG_DEBUG,
                  "notify: %s %s: %zu queued re-send%s replaced by a newer one",
                  what, mh_url_redact(url, u, sizeof u), superseded,
                  superseded == 1 ? "" : "s");
    }
    if (dropped.body != NULL) {
        char u[512];
        mh_runlog(MH_LOG_ERR,
                  "notify: queue full, dropped the oldest %s notification "
                  "to %s (%zu state changes lost)",
                  dropped.what, mh_url_redact(dropped.url, u, sizeof u),
                  dropped.nchanges);
        job_free(&dropped);
    }
}

void
mh_notifier_stop(struct mh_notifier *n, double drain_s)
{
    if (n == NULL) {
        return;
    }
    pthread_mutex_lock(&n->mu);
    n->stop = true;
    n->drain_until = mh_monotonic_s() + drain_s;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
    for (size_t i = 0; i < n->len; i++) {
        job_free(&n->q[(n->head + i) % NOTIFY_QUEUE_MAX]);
    }
    curl_easy_cleanup(n->curl);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    free(n);
}
