/* SPDX-License-Identifier: MIT */
/*
 * delivery: the delivery round trip (see delivery.h): IMAP login, the
 * submission, polling for the probe mail, the cleanup, into a report
 * (plugin/report_delivery.c turns it into the result).
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
#include <stdarg.h>
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
    struct mh_delivery_report *rep;
    struct mh_delivery_url su, iu;
    char token[MH_DELIVERY_TOKEN_HEX + 1];
    double t_submitted; /* monotonic: end of the submission */
    unsigned long uid;
};

/* Records a problem: the first of the worst ones is the failure (the rule
 * of mh_result_raise over a sequence of raises). */
static struct mh_delivery_failure *fail(struct run *run, enum mh_state st,
                                        enum mh_reason reason,
                                        const char *phase, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static struct mh_delivery_failure *
fail(struct run *run, enum mh_state st, enum mh_reason reason,
     const char *phase, const char *fmt, ...)
{
    struct mh_delivery_failure *f = &run->rep->failure;
    if (mh_state_rank(st) <= mh_state_rank(f->state)) {
        return NULL;
    }
    f->state = st;
    f->reason = reason;
    f->category = mh_reason_category(reason);
    f->phase = phase;
    f->reply_code = 0;
    f->enhanced[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    mh_vtextf(f->cause, sizeof f->cause, fmt, ap);
    va_end(ap);
    return f;
}

/* Appends a phase as it ended (the last one's slot is reused when full,
 * which the five phases never need). */
static struct mh_delivery_step *step(struct run *run, const char *phase,
                                     enum mh_state st, enum mh_reason reason,
                                     const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static struct mh_delivery_step *
step(struct run *run, const char *phase, enum mh_state st,
     enum mh_reason reason, const char *fmt, ...)
{
    struct mh_delivery_report *rep = run->rep;
    if (rep->nsteps < MH_DELIVERY_MAX_STEPS) {
        rep->nsteps++;
    }
    struct mh_delivery_step *s = &rep->steps[rep->nsteps - 1];
    memset(s, 0, sizeof *s);
    s->phase = phase;
    s->state = st;
    s->reason = reason;
    va_list ap;
    va_start(ap, fmt);
    mh_vtextf(s->text, sizeof s->text, fmt, ap);
    va_end(ap);
    return s;
}

/* A failed transfer of `what` on `half`: the phase and the failure. */
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
    struct mh_delivery_step *s = step(run, phase, st, reason, "%s", msg);
    s->curl_code = (double)rc;
    s->has |= MH_DELIVERY_HAS_CURL;
    if (code >= 200) {
        s->reply_code = (double)code;
        s->has |= MH_DELIVERY_HAS_REPLY;
    }
    if (what == NULL) {
        /* The IMAP session: login, or the SELECT after it. */
        what = cat == MH_CAT_AUTH       ? "IMAP login failed"
               : cat == MH_CAT_RESPONSE ? "cannot open the mailbox"
                                        : "IMAP session failed";
    }
    struct mh_delivery_failure *f;
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        f = fail(run, st, reason, phase, "%s: %s: no answer within %g s (%s)",
                 where, what, mh_deadline_length(run->dl), msg);
    } else {
        f = fail(run, st, reason, phase, "%s: %s: %s", where, what, msg);
    }
    if (f != NULL && code >= 200) {
        f->reply_code = code;
        mh_textf(f->enhanced, sizeof f->enhanced, "%s", enhanced);
    }
}

/* Step 1: IMAP session (login, SELECT, CAPABILITY). */
static bool
imap_login(struct run *run, struct mh_xfer *ix)
{
    double secs;
    CURLcode rc = mh_xfer_imap_command(ix, "CAPABILITY", run->dl, &secs);
    run->rep->time_imap = secs;
    run->rep->imap_ran = true;
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
    struct mh_delivery_step *s =
        step(run, "imap_login", MH_STATE_OK, MH_REASON_NONE,
             "logged in to %s as %s, mailbox %s selected (%s, %.3f s)",
             run->iu.where, run->p->imap_user, run->iu.mailbox,
             mh_xfer_tls_text(ix, starttls, tls, sizeof tls), secs);
    s->duration_s = secs;
    mh_textf(s->tls, sizeof s->tls, "%s", ix->tls);
    s->has |= MH_DELIVERY_HAS_DURATION | MH_DELIVERY_HAS_TLS;
    if (ix->tls[0] == '\0') {
        s->note = "IMAP session without TLS (--insecure-plaintext)";
    }
    return true;
}

/* The submission accepted: its phase, and AUTH skipped by libcurl when
 * the server offers none. */
static void
submitted(struct run *run, const struct mh_xfer *sx)
{
    const struct mh_delivery_params *p = run->p;
    struct mh_delivery_report *rep = run->rep;
    char reply[600] = "";
    if (sx->final_reply.complete) {
        mh_reply_format(&sx->final_reply, reply, sizeof reply);
    }
    char tls[160];
    bool starttls = run->su.scheme == MH_DELIVERY_SCHEME_SMTP;
    struct mh_delivery_step *s =
        step(run, "submit", MH_STATE_OK, MH_REASON_NONE,
             "accepted by %s (%s%s, %.3f s): %s", run->su.where,
             mh_xfer_tls_text(sx, starttls, tls, sizeof tls),
             p->auth_user == NULL ? ""
             : sx->auth_ok        ? ", AUTH ok"
                                  : ", no AUTH",
             rep->time_submit, reply[0] != '\0' ? reply : "accepted");
    s->duration_s = rep->time_submit;
    s->has |= MH_DELIVERY_HAS_DURATION | MH_DELIVERY_HAS_TLS;
    if (sx->final_reply.complete) {
        s->reply_code = (double)sx->final_reply.code;
        s->has |= MH_DELIVERY_HAS_REPLY;
    }
    mh_textf(s->tls, sizeof s->tls, "%s", sx->tls);
    if (sx->tls[0] == '\0') {
        s->note = "submission without TLS (--insecure-plaintext)";
    }
    if (p->auth_user != NULL && !sx->auth_ok) {
        step(run, "auth", MH_STATE_WARNING, MH_REASON_AUTH_NOT_OFFERED,
             "the server offered no AUTH: the mail was submitted without "
             "authentication");
        fail(run, MH_STATE_WARNING, MH_REASON_AUTH_NOT_OFFERED, "auth",
             "%s offered no AUTH; mail submitted without authentication",
             run->su.where);
    }
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
        goto setup_failed;
    }
    if (mh_xfer_pin(&sx, &run->su, run->dl, &st, &reason, err, sizeof err) !=
        0) {
        step(run, "submit", st, reason, "%s", err);
        fail(run, st, reason, "submit", "%s: %s", run->su.where, err);
        goto out;
    }
    if (mh_xfer_set_message(&sx, p->mail_from, p->rcpt_to, msg) != 0) {
        goto setup_failed;
    }
    double secs;
    CURLcode rc = mh_xfer_perform(&sx, run->dl, &secs);
    double t_end = mh_monotonic_s();
    run->rep->time_submit = secs;
    run->rep->submitted = true;
    if (rc != CURLE_OK) {
        fail_transfer(run, &sx, MH_DELIVERY_HALF_SUBMIT, rc, "submit",
                      "submission failed", run->su.where);
        goto out;
    }
    /* The end of the submission: the server's answer to the final ".". */
    run->t_submitted = sx.t_accepted > 0 ? sx.t_accepted : t_end;
    if (sx.t_accepted > 0) {
        run->rep->time_submit = sx.t_accepted - (t_end - secs);
    }
    submitted(run, &sx);
    ok = true;
    goto out;
setup_failed:
    fail(run, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR, "setup",
         "cannot set up libcurl for the submission");
out:
    mh_xfer_free(&sx, run->dl);
    return ok;
}

/* The mail was found now (monotonic). */
static void
found(struct run *run, unsigned long uid, double now)
{
    struct mh_delivery_report *rep = run->rep;
    rep->found = true;
    run->uid = uid;
    rep->delay_s = now - run->t_submitted;
    if (rep->delay_s < 0) {
        rep->delay_s = 0;
    }
    struct mh_delivery_step *s =
        step(run, "poll", MH_STATE_OK, MH_REASON_NONE,
             "found in %s after %.3f s (UID %lu, %u polls)", run->iu.where,
             rep->delay_s, uid, rep->polls);
    s->delay_s = rep->delay_s;
    s->polls = (double)rep->polls;
    s->uid = (double)uid;
    s->has |=
        MH_DELIVERY_HAS_DELAY | MH_DELIVERY_HAS_POLLS | MH_DELIVERY_HAS_UID;
}

/* Step 3: poll until the token is found or the deadline passes. */
static bool
poll_mailbox(struct run *run, struct mh_xfer *ix)
{
    struct mh_delivery_report *rep = run->rep;
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
        rep->polls++;
        unsigned long uids[4];
        size_t n = mh_delivery_parse_search(ix->body != NULL ? ix->body : "",
                                            ix->blen, uids, 4);
        if (n > 0) {
            found(run, uids[0], now);
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
    step(run, "poll", MH_STATE_CRITICAL, MH_REASON_DELIVERY_TIMEOUT,
         "not found in %s after %.3f s (%u polls)", run->iu.where, waited,
         rep->polls);
    fail(run, MH_STATE_CRITICAL, MH_REASON_DELIVERY_TIMEOUT, "poll",
         "mail to %s not found in %s within the %g s deadline (waited %.3f s "
         "after submission, %u polls)",
         run->p->rcpt_to, run->iu.where, mh_deadline_length(run->dl), waited,
         rep->polls);
    return false;
}

/* The leftover search (delivery.h): probe mails old enough that no run
 * can still be waiting for them, added to uids (n so far). */
static size_t
find_leftovers(struct run *run, struct mh_xfer *ix, unsigned long *uids,
               size_t n)
{
    char cmd[200];
    double secs;
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
    /* A failed leftover search is not fatal: the probe mail itself is
     * still deleted. */
    if (mh_xfer_imap_command(ix, cmd, run->dl, &secs) == CURLE_OK) {
        unsigned long found_uids[MAX_UIDS];
        size_t k = mh_delivery_parse_search(ix->body != NULL ? ix->body : "",
                                            ix->blen, found_uids, MAX_UIDS);
        for (size_t i = 0; i < k && i < MAX_UIDS; i++) {
            if (found_uids[i] != run->uid && n < MAX_UIDS + 1) {
                uids[n++] = found_uids[i];
            }
        }
    }
    return n;
}

/* Step 4: delete the probe mail and old leftovers. */
static void
cleanup_mailbox(struct run *run, struct mh_xfer *ix)
{
    struct mh_delivery_report *rep = run->rep;
    double t0 = mh_monotonic_s(), secs;
    unsigned long uids[MAX_UIDS + 1];
    uids[0] = run->uid;
    size_t n = find_leftovers(run, ix, uids, 1);
    size_t leftovers = n - 1;
    const char *what = "deleting the probe mail failed";
    char set[MAX_UIDS * 12], cmd[4200];
    uid_set(set, sizeof set, uids, n);
    snprintf(cmd, sizeof cmd, "UID STORE %s +FLAGS.SILENT (\\Deleted)", set);
    CURLcode rc = mh_xfer_imap_command(ix, cmd, run->dl, &secs);
    if (rc == CURLE_OK) {
        if (mh_delivery_has_capability(ix->caps, "UIDPLUS")) {
            snprintf(cmd, sizeof cmd, "UID EXPUNGE %s", set);
        } else {
            snprintf(cmd, sizeof cmd, "EXPUNGE");
        }
        rc = mh_xfer_imap_command(ix, cmd, run->dl, &secs);
    }
    rep->time_cleanup = mh_monotonic_s() - t0;
    rep->cleaned = true;
    if (rc != CURLE_OK) {
        /* Found, but the mailbox will grow: WARNING whatever the cause. */
        enum mh_state st;
        enum mh_reason reason;
        char msg[800];
        mh_delivery_classify(MH_DELIVERY_HALF_IMAP, (int)rc, 0, ix->errbuf,
                             MH_PHASE_LAST, "", "", &st, &reason);
        mh_xfer_describe(msg, sizeof msg, rc, ix->errbuf, ix->fail_line);
        step(run, "cleanup", MH_STATE_WARNING, reason, "%s: %s", what, msg);
        fail(run, MH_STATE_WARNING, reason, "cleanup",
             "%s: delivered in %.3f s, but %s: %s", run->iu.where, rep->delay_s,
             what, msg);
        return;
    }
    struct mh_delivery_step *s =
        step(run, "cleanup", MH_STATE_OK, MH_REASON_NONE,
             "deleted the probe mail (UID %lu) and %zu leftover probe mail%s "
             "of earlier runs (%.3f s)",
             run->uid, leftovers, leftovers == 1 ? "" : "s", rep->time_cleanup);
    s->deleted = (double)n;
    s->duration_s = rep->time_cleanup;
    s->has |= MH_DELIVERY_HAS_DELETED | MH_DELIVERY_HAS_DURATION;
}

/* What the round trip needs before it starts: the options, the token,
 * the message (*msg, to free). Returns false (failure noted) when one is
 * missing. */
static bool
prepare(struct run *run, char **msg)
{
    const struct mh_delivery_params *p = run->p;
    char err[800];
    if (p->submit == NULL || p->imap == NULL) {
        fail(run, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "setup",
             "delivery needs --submit URL and --imap URL");
        return false;
    }
    if (p->imap_user == NULL || p->mail_from == NULL || p->rcpt_to == NULL) {
        fail(run, MH_STATE_UNKNOWN, MH_REASON_USAGE_ERROR, "setup",
             "delivery needs --imap-user, --mail-from and --rcpt-to");
        return false;
    }
    if (mh_delivery_make_token(run->token) != 0) {
        fail(run, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR, "setup",
             "no random bytes for the token (RAND_bytes)");
        return false;
    }
    *msg = mh_delivery_build_message(run->token, p->mail_from, p->rcpt_to,
                                     time(NULL), err, sizeof err);
    if (*msg == NULL) {
        fail(run, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR, "setup", "%s",
             err);
        return false;
    }
    if (p->trace != NULL) {
        char line[200];
        snprintf(line, sizeof line, "probe token %s", run->token);
        p->trace(p->trace_arg, "*", line);
    }
    return true;
}

/* Steps 1 to 4 on the IMAP session ix. */
static void
round_trip(struct run *run, struct mh_xfer *ix, const char *msg)
{
    const struct mh_delivery_params *p = run->p;
    if (mh_xfer_init(ix, p, true, &run->iu, run->iu.mailbox, p->imap_user,
                     p->imap_password) != 0) {
        fail(run, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR, "setup",
             "cannot set up libcurl for IMAP");
        return;
    }
    enum mh_state st;
    enum mh_reason reason;
    char err[800];
    if (mh_xfer_pin(ix, &run->iu, run->dl, &st, &reason, err, sizeof err) !=
        0) {
        step(run, "imap_login", st, reason, "%s", err);
        fail(run, st, reason, "imap_login", "%s: %s", run->iu.where, err);
        return;
    }
    if (imap_login(run, ix) && submit(run, msg) && poll_mailbox(run, ix)) {
        cleanup_mailbox(run, ix);
    }
}

struct mh_delivery_report *
mh_delivery_run(const struct mh_delivery_params *p,
                const struct mh_deadline *dl)
{
    struct mh_delivery_report *rep = calloc(1, sizeof *rep);
    if (rep == NULL) {
        return NULL;
    }
    struct run run;
    memset(&run, 0, sizeof run);
    run.p = p;
    run.dl = dl;
    run.rep = rep;
    rep->failure.phase = "";
    rep->rcpt_to = p->rcpt_to;
    if (p->submit != NULL) {
        run.su = *p->submit;
    }
    if (p->imap != NULL) {
        run.iu = *p->imap;
    }
    mh_textf(rep->submit_where, sizeof rep->submit_where, "%s", run.su.where);
    mh_textf(rep->imap_where, sizeof rep->imap_where, "%s", run.iu.where);
    mh_textf(rep->target, sizeof rep->target, "%s via %s",
             p->rcpt_to != NULL ? p->rcpt_to : "",
             p->submit != NULL ? run.su.where : "?");
    char *msg = NULL;
    struct mh_xfer ix;
    memset(&ix, 0, sizeof ix);
    if (prepare(&run, &msg)) {
        round_trip(&run, &ix, msg);
    }
    mh_xfer_free(&ix, dl);
    free(msg);
    rep->elapsed_s = mh_deadline_elapsed(dl);
    return rep;
}
