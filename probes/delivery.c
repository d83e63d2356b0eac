/* SPDX-License-Identifier: MIT */
/*
 * delivery: the delivery round trip (see delivery.h): IMAP login, the
 * submission, polling for the probe mail, the cleanup, and the result.
 * One libcurl session per half (delivery_xfer.c); the URLs, the message,
 * IMAP responses, the classification of failed transfers and the trace
 * redaction are the other delivery_*.c files (delivery_internal.h).
 *
 * libcurl references (7.88): CURLOPT_MAIL_FROM / CURLOPT_MAIL_RCPT,
 * CURLOPT_LOGIN_OPTIONS, CURLOPT_CUSTOMREQUEST (IMAP),
 * CURLINFO_RESPONSE_CODE (last SMTP reply code, QUIT excluded).
 */
#include "delivery.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "delivery_internal.h"
#include "reply.h"

/* Most UIDs deleted in one run (the probe mail plus leftovers); more
 * leftovers are left for the next run. */
#define MAX_UIDS 256
/* Time kept free before the deadline for one last search. */
#define POLL_RESERVE_S 0.2
/* First pause between searches; it doubles up to the poll interval. */
#define POLL_FIRST_PAUSE_S 0.1

static void
sleep_s(double s)
{
    if (s <= 0) {
        return;
    }
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void
uid_set(char *buf, size_t len, const unsigned long *uids, size_t n)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < len; i++) {
        int w =
            snprintf(buf + off, len - off, "%s%lu", i > 0 ? "," : "", uids[i]);
        if (w < 0) {
            break;
        }
        off += (size_t)w;
    }
}

/* ------------------------------------------------------------------ */
/* The round trip                                                      */
/* ------------------------------------------------------------------ */

struct run {
    const struct mh_delivery_params *p;
    const struct mh_deadline *dl;
    struct mh_result *r;
    struct mh_delivery_url su, iu;
    char token[MH_DELIVERY_TOKEN_HEX + 1];
    double t_submitted; /* monotonic: end of the submission */
    double delay;       /* seconds, when found */
    bool found;
    unsigned long uid;
    unsigned polls;
    double time_submit, time_imap, time_cleanup;
    bool have_submit, have_imap, have_cleanup;
};

/* Raises the result for a failed transfer of `what` on `half`. */
static void
fail_transfer(struct run *run, struct mh_xfer *x, enum mh_delivery_half half,
              CURLcode rc, const char *phase, const char *what,
              const char *where)
{
    long code = 0;
    const char *enhanced = "", *text = "";
    char server[700] = "";
    if (half == MH_DELIVERY_HALF_SUBMIT) {
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
        if (x->err_reply.complete && x->err_reply.code >= 400) {
            code = x->err_reply.code;
            enhanced = x->err_reply.enhanced;
            text = x->err_reply.text;
            mh_reply_format(&x->err_reply, server, sizeof server);
        }
    } else {
        snprintf(server, sizeof server, "%s", x->fail_line);
    }
    enum mh_state st;
    enum mh_reason reason;
    mh_delivery_classify(half, (int)rc, code, x->errbuf,
                         x->err_reply.complete ? x->err_phase : MH_PHASE_LAST,
                         enhanced, text, &st, &reason);
    enum mh_category cat = mh_reason_category(reason);
    char msg[1000];
    mh_xfer_describe(msg, sizeof msg, rc, x->errbuf, server);
    struct mh_item *it =
        mh_result_add_item(run->r, "phase", phase, st, reason, "%s", msg);
    if (it != NULL) {
        mh_item_set_num(run->r, it, "curl_code", (double)rc);
        if (code >= 200) {
            mh_item_set_num(run->r, it, "reply_code", (double)code);
        }
    }
    if (what == NULL) {
        /* The IMAP session: login, or the SELECT after it. */
        what = cat == MH_CAT_AUTH       ? "IMAP login failed"
               : cat == MH_CAT_RESPONSE ? "cannot open the mailbox"
                                        : "IMAP session failed";
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        mh_result_raise(run->r, st, reason,
                        "%s: %s: no answer within %g s (%s)", where, what,
                        mh_deadline_length(run->dl), msg);
    } else {
        mh_result_raise(run->r, st, reason, "%s: %s: %s", where, what, msg);
    }
}

/* Step 1: IMAP session (login, SELECT, CAPABILITY). */
static bool
imap_login(struct run *run, struct mh_xfer *ix)
{
    double secs;
    CURLcode rc = mh_xfer_imap_command(ix, "CAPABILITY", run->dl, &secs);
    run->time_imap = secs;
    run->have_imap = true;
    if (rc != CURLE_OK) {
        fail_transfer(run, ix, MH_DELIVERY_HALF_IMAP, rc, "imap_login", NULL,
                      run->iu.where);
        return false;
    }
    if (ix->body != NULL) {
        /* The explicit CAPABILITY answer replaces what came with the
         * greeting or the login. */
        const char *c = strcasestr(ix->body, "* CAPABILITY ");
        if (c != NULL) {
            size_t l = strcspn(c, "\r\n");
            mh_xfer_note_caps(ix, c, l);
        }
    }
    char tls[160];
    bool starttls = run->iu.scheme == MH_DELIVERY_SCHEME_IMAP;
    struct mh_item *it = mh_result_add_item(
        run->r, "phase", "imap_login", MH_STATE_OK, MH_REASON_NONE,
        "logged in to %s as %s, mailbox %s selected (%s, %.3f s)",
        run->iu.where, run->p->imap_user, run->iu.mailbox,
        mh_xfer_tls_text(ix, starttls, tls, sizeof tls), secs);
    mh_item_set_num(run->r, it, "duration_seconds", secs);
    mh_item_set_str(run->r, it, "tls", ix->tls);
    if (ix->tls[0] == '\0') {
        mh_result_add_item(run->r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                           "IMAP session without TLS (--insecure-plaintext)");
    }
    return true;
}

/* Step 2: submission. */
static bool
submit(struct run *run, const char *msg)
{
    const struct mh_delivery_params *p = run->p;
    struct mh_xfer sx;
    bool ok = false;
    char err[800];
    enum mh_state st = MH_STATE_UNKNOWN;
    enum mh_reason reason = MH_REASON_INTERNAL_ERROR;
    char login_opts[64] = "";
    if (p->auth_mech != 0) {
        snprintf(login_opts, sizeof login_opts, "AUTH=%s",
                 mh_mech_name(p->auth_mech));
    }
    if (mh_xfer_init(&sx, p, false, &run->su, p->ehlo_name, p->auth_user,
                     p->auth_password) != 0 ||
        (login_opts[0] != '\0' && curl_easy_setopt(sx.h, CURLOPT_LOGIN_OPTIONS,
                                                   login_opts) != CURLE_OK)) {
        mh_result_raise(run->r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
                        "cannot set up libcurl for the submission");
        goto out;
    }
    if (mh_xfer_pin(&sx, &run->su, run->dl, &st, &reason, err, sizeof err) !=
        0) {
        mh_result_add_item(run->r, "phase", "submit", st, reason, "%s", err);
        mh_result_raise(run->r, st, reason, "%s: %s", run->su.where, err);
        goto out;
    }
    if (mh_xfer_set_message(&sx, p->mail_from, p->rcpt_to, msg) != 0) {
        mh_result_raise(run->r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
                        "cannot set up libcurl for the submission");
        goto out;
    }
    double secs;
    CURLcode rc = mh_xfer_perform(&sx, run->dl, &secs);
    double t_end = mh_monotonic_s();
    run->time_submit = secs;
    run->have_submit = true;
    if (rc != CURLE_OK) {
        fail_transfer(run, &sx, MH_DELIVERY_HALF_SUBMIT, rc, "submit",
                      "submission failed", run->su.where);
        goto out;
    }
    /* The end of the submission: the server's answer to the final ".". */
    run->t_submitted = sx.t_accepted > 0 ? sx.t_accepted : t_end;
    if (sx.t_accepted > 0) {
        run->time_submit = sx.t_accepted - (t_end - secs);
    }
    char reply[600] = "";
    if (sx.final_reply.complete) {
        mh_reply_format(&sx.final_reply, reply, sizeof reply);
    }
    char tls[160];
    bool starttls = run->su.scheme == MH_DELIVERY_SCHEME_SMTP;
    struct mh_item *it = mh_result_add_item(
        run->r, "phase", "submit", MH_STATE_OK, MH_REASON_NONE,
        "accepted by %s (%s%s, %.3f s): %s", run->su.where,
        mh_xfer_tls_text(&sx, starttls, tls, sizeof tls),
        p->auth_user == NULL ? ""
        : sx.auth_ok         ? ", AUTH ok"
                             : ", no AUTH",
        run->time_submit, reply[0] != '\0' ? reply : "accepted");
    mh_item_set_num(run->r, it, "duration_seconds", run->time_submit);
    if (sx.final_reply.complete) {
        mh_item_set_num(run->r, it, "reply_code", (double)sx.final_reply.code);
    }
    mh_item_set_str(run->r, it, "tls", sx.tls);
    if (sx.tls[0] == '\0') {
        mh_result_add_item(run->r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                           "submission without TLS (--insecure-plaintext)");
    }
    if (p->auth_user != NULL && !sx.auth_ok) {
        /* libcurl skips AUTH when the server offers none. */
        mh_result_add_item(run->r, "phase", "auth", MH_STATE_WARNING,
                           MH_REASON_AUTH_NOT_OFFERED,
                           "the server offered no AUTH: the mail was "
                           "submitted without authentication");
        mh_result_raise(run->r, MH_STATE_WARNING, MH_REASON_AUTH_NOT_OFFERED,
                        "%s offered no AUTH; mail submitted without "
                        "authentication",
                        run->su.where);
    }
    ok = true;
out:
    mh_xfer_free(&sx, run->dl);
    return ok;
}

/* Step 3: poll until the token is found or the deadline passes. */
static bool
poll_mailbox(struct run *run, struct mh_xfer *ix)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "UID SEARCH HEADER Subject %s", run->token);
    double secs;
    double backoff = POLL_FIRST_PAUSE_S;
    for (;;) {
        /* NOOP first: servers update the mailbox view at command
         * boundaries (RFC 3501 5.2, 6.1.2), so the SEARCH sees new mail. */
        CURLcode rc = mh_xfer_imap_command(ix, "NOOP", run->dl, &secs);
        if (rc == CURLE_OK) {
            rc = mh_xfer_imap_command(ix, cmd, run->dl, &secs);
        }
        double now = mh_monotonic_s();
        if (rc != CURLE_OK) {
            if (rc == CURLE_OPERATION_TIMEDOUT) {
                break; /* reported as "not arrived" below */
            }
            fail_transfer(run, ix, MH_DELIVERY_HALF_IMAP, rc, "poll",
                          "IMAP search failed", run->iu.where);
            return false;
        }
        run->polls++;
        unsigned long uids[4];
        size_t n = mh_delivery_parse_search(ix->body != NULL ? ix->body : "",
                                            ix->blen, uids, 4);
        if (n > 0) {
            run->found = true;
            run->uid = uids[0];
            run->delay = now - run->t_submitted;
            if (run->delay < 0) {
                run->delay = 0;
            }
            struct mh_item *it = mh_result_add_item(
                run->r, "phase", "poll", MH_STATE_OK, MH_REASON_NONE,
                "found in %s after %.3f s (UID %lu, %u polls)", run->iu.where,
                run->delay, run->uid, run->polls);
            mh_item_set_num(run->r, it, "delay_seconds", run->delay);
            mh_item_set_num(run->r, it, "polls", (double)run->polls);
            mh_item_set_num(run->r, it, "uid", (double)run->uid);
            return true;
        }
        double left = mh_deadline_s_left(run->dl);
        if (left <= POLL_RESERVE_S) {
            break;
        }
        /* Short pauses first (0.1, 0.2, 0.4 ... s), then the interval:
         * the delay is measured finely when delivery is fast, and a slow
         * mailbox is not searched more often than --poll-interval. */
        double wait = backoff;
        backoff *= 2;
        if (wait > run->p->poll_interval_s) {
            wait = run->p->poll_interval_s;
        }
        if (wait > left - POLL_RESERVE_S) {
            wait = left - POLL_RESERVE_S;
        }
        sleep_s(wait);
    }
    double waited = mh_monotonic_s() - run->t_submitted;
    mh_result_add_item(run->r, "phase", "poll", MH_STATE_CRITICAL,
                       MH_REASON_DELIVERY_TIMEOUT,
                       "not found in %s after %.3f s (%u polls)", run->iu.where,
                       waited, run->polls);
    mh_result_raise(run->r, MH_STATE_CRITICAL, MH_REASON_DELIVERY_TIMEOUT,
                    "mail to %s not found in %s within the %g s deadline "
                    "(waited %.3f s after submission, %u polls)",
                    run->p->rcpt_to, run->iu.where, mh_deadline_length(run->dl),
                    waited, run->polls);
    return false;
}

/* Step 4: delete the probe mail and old leftovers. */
static void
cleanup_mailbox(struct run *run, struct mh_xfer *ix)
{
    double t0 = mh_monotonic_s(), secs;
    unsigned long uids[MAX_UIDS + 1];
    size_t n = 0;
    uids[n++] = run->uid;
    size_t leftovers = 0;
    /* Leftovers: probe mails old enough that no run can still be waiting
     * for them (delivery.h). */
    char cmd[4200];
    if (mh_delivery_has_capability(ix->caps, "WITHIN")) {
        snprintf(cmd, sizeof cmd, "UID SEARCH OLDER %d HEADER Subject \"%s\"",
                 MH_DELIVERY_LEFTOVER_AGE, MH_DELIVERY_SUBJECT_PREFIX);
    } else {
        static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr",
                                          "May", "Jun", "Jul", "Aug",
                                          "Sep", "Oct", "Nov", "Dec"};
        time_t then = time(NULL) - 2 * 86400;
        struct tm tm;
        gmtime_r(&then, &tm);
        snprintf(cmd, sizeof cmd,
                 "UID SEARCH BEFORE %d-%s-%04d HEADER Subject \"%s\"",
                 tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900,
                 MH_DELIVERY_SUBJECT_PREFIX);
    }
    CURLcode rc = mh_xfer_imap_command(ix, cmd, run->dl, &secs);
    if (rc == CURLE_OK) {
        unsigned long found[MAX_UIDS];
        size_t k = mh_delivery_parse_search(ix->body != NULL ? ix->body : "",
                                            ix->blen, found, MAX_UIDS);
        for (size_t i = 0; i < k && i < MAX_UIDS; i++) {
            if (found[i] != run->uid && n < MAX_UIDS + 1) {
                uids[n++] = found[i];
                leftovers++;
            }
        }
    }
    /* A failed leftover search is not fatal: the probe mail itself is
     * still deleted. */
    const char *what = "deleting the probe mail failed";
    char set[MAX_UIDS * 12];
    uid_set(set, sizeof set, uids, n);
    snprintf(cmd, sizeof cmd, "UID STORE %s +FLAGS.SILENT (\\Deleted)", set);
    rc = mh_xfer_imap_command(ix, cmd, run->dl, &secs);
    if (rc == CURLE_OK) {
        if (mh_delivery_has_capability(ix->caps, "UIDPLUS")) {
            snprintf(cmd, sizeof cmd, "UID EXPUNGE %s", set);
        } else {
            snprintf(cmd, sizeof cmd, "EXPUNGE");
        }
        rc = mh_xfer_imap_command(ix, cmd, run->dl, &secs);
    }
    run->time_cleanup = mh_monotonic_s() - t0;
    run->have_cleanup = true;
    if (rc != CURLE_OK) {
        /* Found, but the mailbox will grow: WARNING whatever the cause. */
        enum mh_state st;
        enum mh_reason reason;
        char msg[800];
        mh_delivery_classify(MH_DELIVERY_HALF_IMAP, (int)rc, 0, ix->errbuf,
                             MH_PHASE_LAST, "", "", &st, &reason);
        mh_xfer_describe(msg, sizeof msg, rc, ix->errbuf, ix->fail_line);
        mh_result_add_item(run->r, "phase", "cleanup", MH_STATE_WARNING, reason,
                           "%s: %s", what, msg);
        mh_result_raise(run->r, MH_STATE_WARNING, reason,
                        "%s: delivered in %.3f s, but %s: %s", run->iu.where,
                        run->delay, what, msg);
        return;
    }
    struct mh_item *it = mh_result_add_item(
        run->r, "phase", "cleanup", MH_STATE_OK, MH_REASON_NONE,
        "deleted the probe mail (UID %lu) and %zu leftover probe mail%s "
        "of earlier runs (%.3f s)",
        run->uid, leftovers, leftovers == 1 ? "" : "s", run->time_cleanup);
    mh_item_set_num(run->r, it, "deleted", (double)n);
    mh_item_set_num(run->r, it, "duration_seconds", run->time_cleanup);
}

struct mh_result *
mh_delivery_probe(const struct mh_delivery_params *p,
                  const struct mh_deadline *dl)
{
    struct run run;
    memset(&run, 0, sizeof run);
    run.p = p;
    run.dl = dl;
    char err[800];
    if (p->submit != NULL) {
        run.su = *p->submit;
    }
    if (p->imap != NULL) {
        run.iu = *p->imap;
    }
    char target[600];
    snprintf(target, sizeof target, "%s via %s",
             p->rcpt_to != NULL ? p->rcpt_to : "",
             p->submit != NULL ? run.su.where : "?");
    struct mh_result *r = mh_result_new("delivery", target);
    if (r == NULL) {
        return NULL;
    }
    run.r = r;
    char *msg = NULL;
    struct mh_xfer ix;
    memset(&ix, 0, sizeof ix);
    if (p->submit == NULL || p->imap == NULL) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
                        "delivery needs --submit URL and --imap URL");
        goto done;
    }
    if (p->imap_user == NULL || p->mail_from == NULL || p->rcpt_to == NULL) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR,
                        "delivery needs --imap-user, --mail-from and "
                        "--rcpt-to");
        goto done;
    }
    if (mh_delivery_make_token(run.token) != 0) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
                        "no random bytes for the token (RAND_bytes)");
        goto done;
    }
    msg = mh_delivery_build_message(run.token, p->mail_from, p->rcpt_to,
                                    time(NULL), err, sizeof err);
    if (msg == NULL) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR, "%s",
                        err);
        goto done;
    }
    if (p->trace != NULL) {
        char line[200];
        snprintf(line, sizeof line, "probe token %s", run.token);
        p->trace(p->trace_arg, "*", line);
    }
    /* 1. IMAP session. */
    if (mh_xfer_init(&ix, p, true, &run.iu, run.iu.mailbox, p->imap_user,
                     p->imap_password) != 0) {
        mh_result_raise(r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
                        "cannot set up libcurl for IMAP");
        goto done;
    }
    {
        enum mh_state st;
        enum mh_reason reason;
        if (mh_xfer_pin(&ix, &run.iu, dl, &st, &reason, err, sizeof err) != 0) {
            mh_result_add_item(r, "phase", "imap_login", st, reason, "%s", err);
            mh_result_raise(r, st, reason, "%s: %s", run.iu.where, err);
            goto done;
        }
    }
    if (!imap_login(&run, &ix)) {
        goto done;
    }
    /* 2. Submission. */
    if (!submit(&run, msg)) {
        goto done;
    }
    /* 3. Polling, 4. cleanup. */
    if (poll_mailbox(&run, &ix)) {
        cleanup_mailbox(&run, &ix);
    }
done:
    mh_xfer_free(&ix, dl);
    free(msg);
    const double zero = 0;
    if (run.have_submit) {
        mh_result_add_perf(r, "delay", run.found ? run.delay : 0,
                           MH_UNIT_SECONDS, NULL, NULL, &zero, NULL);
        if (!run.found && r->nperf > 0) {
            r->perf[r->nperf - 1].unknown = true;
        }
        mh_result_add_perf(r, "time_submit", run.time_submit, MH_UNIT_SECONDS,
                           NULL, NULL, &zero, NULL);
    }
    if (run.have_imap) {
        mh_result_add_perf(r, "time_imap", run.time_imap, MH_UNIT_SECONDS, NULL,
                           NULL, &zero, NULL);
    }
    if (run.have_cleanup) {
        mh_result_add_perf(r, "time_cleanup", run.time_cleanup, MH_UNIT_SECONDS,
                           NULL, NULL, &zero, NULL);
    }
    if (run.found) {
        mh_result_add_sample(r, MH_METRIC(DELIVERY_DURATION_SECONDS), run.delay,
                             (const char *)NULL);
    }
    mh_result_set_duration(r, mh_deadline_elapsed(dl));
    mh_result_add_perf(r, "time", r->duration_s, MH_UNIT_SECONDS, NULL, NULL,
                       &zero, NULL);
    if (r->state == MH_STATE_OK && r->summary == NULL) {
        mh_result_raise(r, MH_STATE_OK, MH_REASON_NONE,
                        "%s: delivered via %s to %s in %.3f s (submission "
                        "%.3f s, %u poll%s)",
                        p->rcpt_to, run.su.where, run.iu.where, run.delay,
                        run.time_submit, run.polls, run.polls == 1 ? "" : "s");
    }
    return r;
}
