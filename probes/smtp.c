/* SPDX-License-Identifier: MIT */
/*
 * smtp: the SMTP probe (see smtp.h). Field cases BR-NN cited in comments
 * are in tests/field-cases.md.
 */
#include "smtp.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/x509.h>

#include "dane.h"
#include "reply.h"
#include "reply_rules.h"
#include "resolve.h"
#include "tls_shared.h"
#include "tlscheck.h"
#include "textutil.h"
#include "threads.h"

/* Longest wait for the reply to QUIT: a server that does not answer QUIT
 * must not hold a healthy check until its deadline (QUIT failures are only
 * notes). */
#define QUIT_WAIT_S 3.0

/*
 * The TLS worker: a helper thread that does the CPU-heavy part of TLS while
 * the dialogue's thread waits for the network, so that no timed phase
 * includes our own work. In order:
 *   1. the client context (OpenSSL 3 fetches every algorithm: more CPU
 *      than the rest of a local check), while the connection is set up
 *      and the server greets; STARTTLS takes it;
 *   2. the trust store (--ca-file parsed, or the system directory), while
 *      the handshake waits for the server;
 *   3. the chain's verification, handed over by the handshake as soon as
 *      the server's certificates arrive, while the handshake ends and EHLO
 *      and QUIT run.
 * OpenSSL work on two threads at once contends for its algorithm stores,
 * hence one thread doing the steps in turn rather than one per step.
 */
struct tls_worker {
    pthread_t thread;
    bool started;
    bool joined;
    struct mh_tls_params params; /* ca_file, ca_path, min_version */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Shared, under mu: */
    bool ctx_ready;                /* step 1 done: ctx set (or NULL) */
    struct mh_tls_verify_job *job; /* step 3's work, handed over */
    bool job_given;                /* job set, or none will come */
    bool job_done;                 /* step 3 done */
    /* After the handshake: what the report needs (cp NULL: no report) */
    bool facts_given;
    const struct mh_tls_check_params *cp;
    const char *version, *cipher; /* static strings of OpenSSL's */
    struct mh_tls_report *report; /* step 3's report, or NULL */
    bool reported;                /* report made (NULL: no memory) */
    SSL_CTX *ctx;
};

static void *
tls_worker_main(void *arg)
{
    struct tls_worker *w = arg;
    char err[256];
    SSL_CTX *ctx = mh_tls_ctx_new_bare(&w->params, err, sizeof err);
    pthread_mutex_lock(&w->mu);
    w->ctx = ctx; /* NULL: start_tls makes its own and says why */
    w->ctx_ready = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);

    /* Without a context here, start_tls made a complete one, and the job
     * verifies with its store (store NULL, no error). */
    char store_err[256] = "";
    X509_STORE *store = NULL;
    bool store_failed = false;
    if (ctx != NULL) {
        store = mh_tls_store_new(&w->params, store_err, sizeof store_err);
        store_failed = store == NULL;
    }

    pthread_mutex_lock(&w->mu);
    while (!w->job_given) {
        pthread_cond_wait(&w->cv, &w->mu);
    }
    struct mh_tls_verify_job *job = w->job;
    pthread_mutex_unlock(&w->mu);
    struct mh_tls_report *report = NULL;
    bool reported = false;
    if (job != NULL) {
        mh_tls_verify_run(job, store, store_failed ? store_err : NULL);
        /* The report's facts too (tlscheck.h: mh_tls_report_job), once
         * the handshake has ended: the dialogue only keeps them. */
        pthread_mutex_lock(&w->mu);
        while (!w->facts_given) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        const struct mh_tls_check_params *cp = w->cp;
        const char *version = w->version, *cipher = w->cipher;
        pthread_mutex_unlock(&w->mu);
        if (cp != NULL) {
            reported = true;
            report = mh_tls_report_job(job, version, cipher, cp);
        }
    }
    X509_STORE_free(store);
    pthread_mutex_lock(&w->mu);
    w->report = report;
    w->reported = reported;
    w->job_done = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Starts the worker; without a thread, start_tls works on its own. */
static void
tls_worker_start(struct tls_worker *w, const struct mh_smtp_params *p)
{
    memset(w, 0, sizeof *w);
    w->params.ca_file = p->ca_file;
    w->params.ca_path = p->ca_path;
    w->params.min_version = p->tls_min_version;
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        return;
    }
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        return;
    }
    w->started = mh_thread_start(&w->thread, tls_worker_main, w) == 0;
    if (!w->started) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
    }
}

/* Step 1's context, without trust anchors (still owned by w), or NULL:
 * start_tls then makes a complete one and reports any problem itself. */
static SSL_CTX *
tls_worker_ctx(struct tls_worker *w)
{
    if (w == NULL || !w->started) {
        return NULL;
    }
    pthread_mutex_lock(&w->mu);
    while (!w->ctx_ready) {
        pthread_cond_wait(&w->cv, &w->mu);
    }
    SSL_CTX *ctx = w->ctx;
    pthread_mutex_unlock(&w->mu);
    return ctx;
}

/* Hands step 3 its job (NULL: none will come). Returns false when there is
 * no worker: the caller verifies itself. */
static bool
tls_worker_give(struct tls_worker *w, struct mh_tls_verify_job *job)
{
    if (w == NULL || !w->started) {
        return false;
    }
    pthread_mutex_lock(&w->mu);
    if (!w->job_given) {
        w->job = job;
        w->job_given = true;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return true;
}

/* Tells step 3 how the handshake ended: cp (NULL: no report wanted, as
 * after a failed handshake) and the session's version and cipher. */
static void
tls_worker_facts(struct tls_worker *w, const struct mh_tls_check_params *cp,
                 const char *version, const char *cipher)
{
    if (w == NULL || !w->started) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    if (!w->facts_given) {
        w->cp = cp;
        w->version = version;
        w->cipher = cipher;
        w->facts_given = true;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
}

/* Waits until the job handed over has been run. */
static void
tls_worker_wait(struct tls_worker *w)
{
    if (w == NULL || !w->started) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    while (w->job_given && !w->job_done) {
        pthread_cond_wait(&w->cv, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

/* Ends the worker (no job: it is told none will come) and frees step 1's
 * context; the transport holds its own reference to it. */
static void
tls_worker_end(struct tls_worker *w)
{
    if (!w->started) {
        return;
    }
    tls_worker_give(w, NULL);
    tls_worker_facts(w, NULL, NULL, NULL);
    if (!w->joined) {
        pthread_join(w->thread, NULL);
        w->joined = true;
    }
    SSL_CTX_free(w->ctx);
    w->ctx = NULL;
    free(w->report);
    w->report = NULL;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

/*
 * The DANE lookup (dane.h) on a thread of its own, started before the
 * connection so that its round trip overlaps connect and greeting; the
 * check joins it after the dialogue.
 */
struct dane_job {
    pthread_t thread;
    bool started; /* the thread runs (else the lookup runs at the end) */
    bool done;    /* lk is filled */
    const struct mh_smtp_params *p;
    const struct mh_deadline *dl;
    const char *name; /* the TLSA base domain */
    double now;
    struct mh_dane_lookup lk;
};

static void *
dane_job_main(void *arg)
{
    struct dane_job *j = arg;
    mh_dane_lookup_run(&j->lk, j->name, j->p->port, j->p->resolver,
                       j->p->dnssec_probe, j->dl, j->now);
    return NULL;
}

static void
dane_job_start(struct dane_job *j, const struct mh_smtp_params *p,
               const struct mh_deadline *dl)
{
    memset(j, 0, sizeof *j);
    j->p = p;
    j->dl = dl;
    j->name = p->peer_name != NULL ? p->peer_name : p->host;
    j->now = (double)time(NULL);
    if (p->dane_lookup != NULL) {
        j->done = true; /* looked up by the caller */
        return;
    }
    j->started = pthread_create(&j->thread, NULL, dane_job_main, j) == 0;
}

/* The lookup's outcome: joins the thread (or runs the lookup here). */
static const struct mh_dane_lookup *
dane_job_lookup(struct dane_job *j)
{
    if (!j->done) {
        if (j->started) {
            pthread_join(j->thread, NULL);
            j->started = false;
        } else {
            dane_job_main(j);
        }
        j->done = true;
    }
    return j->p->dane_lookup != NULL ? j->p->dane_lookup : &j->lk;
}

static void
dane_job_end(struct dane_job *j)
{
    if (j->started) {
        pthread_join(j->thread, NULL);
        j->started = false;
    }
    mh_dane_lookup_free(&j->lk);
}

/* ====== The dialogue's states ====== */

/*
 * The SMTP dialogue is an explicit state machine, in the manner of curl's
 * smtp_state() and OpenSMTPD's smtp_enter_state(). A state is what the
 * machine waits for: the reply to the command it sent on entering the state,
 * or (SMTP_TLS_HANDSHAKE) the end of the TLS handshake. The event that ends
 * the wait (a complete reply, or the failure to get one) goes to the state's
 * handler, which records what the reply means and enters the next state.
 * smtp_state() is the only place that changes the state; with -vv it traces
 * every transition ("* state ehlo -> starttls").
 *
 * The order a complete check walks them (RFC 5321 3, RFC 3207, RFC 4954):
 * connected -> [tls_handshake] -> greeting -> ehlo [-> helo] -> [starttls
 * -> tls_handshake -> ehlo_tls] -> [auth_...] -> [mail -> rcpt ... ->
 * relay_test -> rset] -> quit -> done. Failures go to quit (the session is
 * still usable: QUIT is sent) or straight to done (the connection is gone).
 */
enum smtp_state {
    SMTP_CONNECTED,     /* connected; nothing read or sent yet */
    SMTP_TLS_HANDSHAKE, /* implicit TLS (RFC 8314) or after STARTTLS 220 */
    SMTP_GREETING,      /* the greeting, read whole (RFC 5321 4.3.1) */
    SMTP_EHLO,
    SMTP_HELO,                /* after EHLO got 500/502/504 (RFC 5321 4.1.4) */
    SMTP_STARTTLS,            /* RFC 3207 4 */
    SMTP_EHLO_TLS,            /* EHLO again over TLS (RFC 3207 4.2) */
    SMTP_AUTH_PLAIN,          /* AUTH PLAIN with initial response */
    SMTP_AUTH_PLAIN_RESPONSE, /* the response alone, after a 334 */
    SMTP_AUTH_LOGIN,
    SMTP_AUTH_LOGIN_USER,
    SMTP_AUTH_LOGIN_PASSWORD,
    SMTP_AUTH_CRAM_MD5, /* RFC 2195 */
    SMTP_AUTH_CRAM_MD5_RESPONSE,
    SMTP_MAIL,
    SMTP_RCPT,       /* one recipient of mail_from's envelope */
    SMTP_RELAY_TEST, /* RCPT TO a foreign address, must be refused */
    SMTP_RSET,       /* RFC 5321 4.1.1.5 */
    SMTP_QUIT,       /* waiting for the 221 (RFC 5321 4.1.1.10) */
    SMTP_DONE,
    SMTP_LAST
};

/* Each state's name (traces) and the phase its reply is timed and
 * reported in. */
static const struct {
    const char *name;
    enum mh_phase phase;
} smtp_states[] = {
    [SMTP_CONNECTED] = {"connected", MH_PHASE_CONNECT},
    [SMTP_TLS_HANDSHAKE] = {"tls_handshake", MH_PHASE_TLS_HANDSHAKE},
    [SMTP_GREETING] = {"greeting", MH_PHASE_BANNER},
    [SMTP_EHLO] = {"ehlo", MH_PHASE_EHLO},
    [SMTP_HELO] = {"helo", MH_PHASE_EHLO},
    [SMTP_STARTTLS] = {"starttls", MH_PHASE_STARTTLS},
    [SMTP_EHLO_TLS] = {"ehlo_tls", MH_PHASE_EHLO},
    [SMTP_AUTH_PLAIN] = {"auth_plain", MH_PHASE_AUTH},
    [SMTP_AUTH_PLAIN_RESPONSE] = {"auth_plain_response", MH_PHASE_AUTH},
    [SMTP_AUTH_LOGIN] = {"auth_login", MH_PHASE_AUTH},
    [SMTP_AUTH_LOGIN_USER] = {"auth_login_user", MH_PHASE_AUTH},
    [SMTP_AUTH_LOGIN_PASSWORD] = {"auth_login_password", MH_PHASE_AUTH},
    [SMTP_AUTH_CRAM_MD5] = {"auth_cram_md5", MH_PHASE_AUTH},
    [SMTP_AUTH_CRAM_MD5_RESPONSE] = {"auth_cram_md5_response", MH_PHASE_AUTH},
    [SMTP_MAIL] = {"mail", MH_PHASE_MAIL},
    [SMTP_RCPT] = {"rcpt", MH_PHASE_RCPT},
    [SMTP_RELAY_TEST] = {"relay_test", MH_PHASE_RCPT},
    [SMTP_RSET] = {"rset", MH_PHASE_QUIT},
    [SMTP_QUIT] = {"quit", MH_PHASE_QUIT},
    [SMTP_DONE] = {"done", MH_PHASE_LAST},
};
_Static_assert(sizeof smtp_states / sizeof smtp_states[0] == SMTP_LAST,
               "one entry per SMTP state");

/* State of one dialogue. */
struct dlg {
    struct mh_transport *t;
    const struct mh_smtp_params *p;
    const struct mh_deadline *dl;
    const char *where;
    struct mh_smtp_report *rep;         /* what the dialogue finds (smtp.h) */
    struct mh_smtp_check_report *check; /* the whole check's report (gets
                                     the DANE report), or NULL: none */
    struct tls_worker *worker; /* TLS work beside the dialogue, or NULL */
    struct dane_job *dane;     /* the DANE lookup, or NULL: no DANE */
    enum smtp_state state;     /* changed by smtp_state() only */
    const struct mh_deadline *wait_dl; /* bounds the current wait: dl, or
                                          quit_dl for the QUIT reply */
    struct mh_deadline quit_dl;
    double t0;        /* when the command being timed was sent */
    double auth_t0;   /* when AUTH began (one phase for all its steps) */
    size_t rx_before; /* bytes_in when the current reply was awaited */
    struct mh_reply reply;
    size_t rcpt_i;       /* recipients asked for so far */
    char auth_resp[820]; /* AUTH PLAIN's response, kept for a 334 (secret,
                            cleansed when AUTH ends) */
    size_t blank_lines;  /* empty or blank lines skipped in replies */
    const char *rule;    /* id of the rule that classified the last negative
                            reply (reply_rules.h), NULL after phase_item */
    /* Certificate verification running beside the dialogue (start_tls),
     * reported by tls_report() where the handshake's items end. */
    struct mh_tls_verify_job *vjob;
    struct mh_tls_check_params tls_cp;
    struct mh_tls_params tls_params; /* of the handshake under way */
    SSL_CTX *shared_ctx; /* its reference to the shared context, or NULL */
    size_t max_line;     /* longest reply line accepted */
    char last[MH_REPLY_TEXT_MAX + 32];       /* formatted last reply */
    char ehlo_reply[MH_REPLY_TEXT_MAX + 32]; /* EHLO's, before HELO */
};

/* The report's events (smtp.h): a failure, a note. */
#define report_fail(d, st, reason, ...)                                        \
    mh_smtp_report_add((d)->rep, MH_SMTP_EV_FAIL, NULL, st, reason, __VA_ARGS__)
#define report_note(d, name, st, reason, ...)                                  \
    mh_smtp_report_add((d)->rep, MH_SMTP_EV_NOTE, name, st, reason, __VA_ARGS__)

static void
trace(struct dlg *d, const char *dir, const char *line)
{
    if (d->p->trace != NULL) {
        d->p->trace(d->p->trace_arg, dir, line);
    }
}

/*
 * Enters state `next`. This is the ONLY place that changes the dialogue's
 * state; -vv traces each change.
 */
static void
smtp_state(struct dlg *d, enum smtp_state next)
{
    if (d->p->trace_states) {
        char line[80];
        snprintf(line, sizeof line, "state %s -> %s",
                 smtp_states[d->state].name, smtp_states[next].name);
        trace(d, "*", line);
    }
    d->state = next;
    if (next != SMTP_DONE) {
        d->rep->at.phase = mh_phase_name(smtp_states[next].phase);
    }
}

static void
phase_done(struct dlg *d, enum mh_phase ph, double t0, int code)
{
    /* Repeated phases (EHLO after STARTTLS, several RCPTs) add up. */
    struct mh_smtp_phase_facts *f = &d->rep->phase[ph];
    f->duration_s += mh_monotonic_s() - t0;
    f->seen = true;
    if (code != 0) {
        f->code = code;
        snprintf(f->enhanced, sizeof f->enhanced, "%s",
                 code == d->reply.code ? d->reply.enhanced : "");
    }
}

/* Sends one command line. `shown` is what the trace shows (redaction). */
static enum mh_io
send_cmd(struct dlg *d, const char *cmd, const char *shown)
{
    char buf[1100];
    int n = snprintf(buf, sizeof buf, "%s\r\n", cmd);
    if (n < 0 || (size_t)n >= sizeof buf) {
        return MH_IO_ERROR;
    }
    trace(d, ">>>", shown != NULL ? shown : cmd);
    return mh_transport_write(d->t, buf, (size_t)n, d->dl);
}

/* A reply is awaited from now on (after a command, or the greeting). */
static void
reply_expect(struct dlg *d)
{
    mh_reply_init(&d->reply);
    d->rx_before = d->t->bytes_in;
    d->rep->at.code = 0;
    d->rep->at.reply = NULL;
    d->rep->at.enhanced[0] = '\0';
    d->rep->at.rule = NULL;
}

/* Sends cmd (traced as `shown` when not NULL) and enters `next` to wait
 * for its reply. Returns false when the command could not be sent (the
 * state is unchanged; the caller reports it). */
static bool
smtp_send(struct dlg *d, enum smtp_state next, const char *cmd,
          const char *shown)
{
    if (send_cmd(d, cmd, shown) != MH_IO_OK) {
        return false;
    }
    reply_expect(d);
    smtp_state(d, next);
    return true;
}

/* Phase names as people read them in messages. */
static const char *
phase_text(enum mh_phase ph)
{
    switch (ph) {
    case MH_PHASE_CONNECT:
        return "connect";
    case MH_PHASE_BANNER:
        return "greeting";
    case MH_PHASE_EHLO:
        return "EHLO reply";
    case MH_PHASE_STARTTLS:
        return "STARTTLS reply";
    case MH_PHASE_TLS_HANDSHAKE:
        return "TLS handshake";
    case MH_PHASE_AUTH:
        return "AUTH reply";
    case MH_PHASE_MAIL:
        return "MAIL FROM reply";
    case MH_PHASE_RCPT:
        return "RCPT TO reply";
    case MH_PHASE_DATA:
        return "DATA reply";
    case MH_PHASE_QUIT:
        return "QUIT reply";
    case MH_PHASE_LAST:
        break;
    }
    return "reply";
}

/*
 * An empty or blank line where a reply line belongs (RFC 5321 4.2 has
 * none): skipped, so that every later reply is still read as the answer to
 * its own command, and reported once per dialogue as a WARNING
 * (protocol_violation). More than MH_REPLY_MAX_LINES of them in one
 * dialogue is a protocol error (CRITICAL), so that a stream of empty lines
 * cannot hold the probe until its deadline. Returns false then.
 */
static bool
blank_line(struct dlg *d, enum mh_phase ph)
{
    d->blank_lines++;
    if (d->blank_lines > MH_REPLY_MAX_LINES) {
        report_fail(d, MH_STATE_CRITICAL, MH_REASON_PROTOCOL_VIOLATION,
                    "%s: invalid %s: more than %d empty lines", d->where,
                    phase_text(ph), MH_REPLY_MAX_LINES);
        return false;
    }
    if (d->blank_lines > 1) {
        return true;
    }
    report_note(d, mh_phase_name(ph), MH_STATE_WARNING,
                MH_REASON_PROTOCOL_VIOLATION,
                "empty line in the %s, skipped (RFC 5321 4.2: not a "
                "reply line)",
                phase_text(ph));
    report_fail(d, MH_STATE_WARNING, MH_REASON_PROTOCOL_VIOLATION,
                "%s: empty line in the %s, skipped", d->where, phase_text(ph));
    return true;
}

/* Records why no reply could be read in phase ph; got: bytes of it. */
static void
read_failure(struct dlg *d, enum mh_phase ph, enum mh_io io, size_t got)
{
    switch (io) {
    case MH_IO_TIMEOUT:
        report_fail(d, MH_STATE_CRITICAL, MH_REASON_REPLY_TIMEOUT,
                    "%s: timeout after %g s waiting for %s, %zu "
                    "bytes received",
                    d->where, mh_deadline_length(d->dl), phase_text(ph), got);
        break;
    case MH_IO_EOF:
        report_fail(d, MH_STATE_CRITICAL, MH_REASON_CONNECTION_CLOSED,
                    "%s: server closed the connection while we "
                    "waited for the %s (%zu bytes received)",
                    d->where, phase_text(ph), got);
        break;
    case MH_IO_TOOLONG:
        report_fail(d, MH_STATE_CRITICAL, MH_REASON_PROTOCOL_VIOLATION,
                    "%s: invalid %s: line longer than %d octets "
                    "(RFC 5321 4.5.3.1.5)",
                    d->where, phase_text(ph), (int)d->max_line);
        break;
    case MH_IO_TLS:
        report_fail(d, MH_STATE_CRITICAL,
                    d->t->reason != MH_REASON_NONE ? d->t->reason
                                                   : MH_REASON_TLS_ERROR,
                    "%s: %s while waiting for the %s", d->where, d->t->err,
                    phase_text(ph));
        break;
    default:
        report_fail(d, MH_STATE_CRITICAL, MH_REASON_CONNECTION_CLOSED,
                    "%s: connection lost while waiting for the "
                    "%s: %s",
                    d->where, phase_text(ph), d->t->err);
        break;
    }
}

/* How reading a reply ended. */
enum rx {
    RX_REPLY,  /* a complete reply is in d->reply */
    RX_AGAIN,  /* need more: the reply so far stays in d->reply */
    RX_FAILED, /* no valid reply; the connection may still take a QUIT */
    RX_CLOSED  /* the connection is gone (closed by the server, error) */
};

/* No reply can come for the current state because of io: recorded in the
 * result, except while waiting for the reply to QUIT (only notes follow
 * there). */
static enum rx
rx_failed(struct dlg *d, enum mh_io io)
{
    if (d->state != SMTP_QUIT) {
        read_failure(d, smtp_states[d->state].phase, io,
                     d->t->bytes_in - d->rx_before);
    }
    return io == MH_IO_EOF || io == MH_IO_ERROR ? RX_CLOSED : RX_FAILED;
}

/*
 * Reads what has arrived of the reply the current state waits for into
 * d->reply, line by line (mh_reply_feed); in event-driven mode it returns
 * RX_AGAIN when the socket has no more for now, else the wait is bounded
 * by d->wait_dl. A failure is recorded (rx_failed).
 */
static enum rx
reply_read(struct dlg *d)
{
    enum mh_phase ph = smtp_states[d->state].phase;
    bool quiet = d->state == SMTP_QUIT;
    for (;;) {
        const char *line;
        size_t len;
        enum mh_io io =
            mh_transport_read_line(d->t, d->max_line, &line, &len, d->wait_dl);
        if (io == MH_IO_AGAIN) {
            return RX_AGAIN;
        }
        if (io != MH_IO_OK) {
            return rx_failed(d, io);
        }
        char shown[MH_REPLY_LINE_HARD_MAX + 1];
        char *sv = mh_text_printable(line, len);
        snprintf(shown, sizeof shown, "%s", sv != NULL ? sv : "");
        free(sv);
        trace(d, "<<<", shown);
        enum mh_reply_status st = mh_reply_feed(&d->reply, line, len);
        if (st == MH_REPLY_SKIPPED) {
            if (!blank_line(d, ph)) {
                return RX_FAILED;
            }
            continue;
        }
        if (st == MH_REPLY_DONE) {
            mh_reply_format(&d->reply, d->last, sizeof d->last);
            d->rep->at.code = d->reply.code;
            d->rep->at.reply = d->last;
            memcpy(d->rep->at.enhanced, d->reply.enhanced,
                   sizeof d->rep->at.enhanced);
            if (d->reply.inconsistent) {
                report_note(d, "", MH_STATE_OK, MH_REASON_NONE,
                            "%s: reply lines carry different codes "
                            "(first %d, last %d); the last decides "
                            "(RFC 5321 4.2.1)",
                            phase_text(ph), d->reply.first_code, d->reply.code);
            }
            return RX_REPLY;
        }
        if (st == MH_REPLY_BAD) {
            if (!quiet) {
                report_fail(d, MH_STATE_CRITICAL, MH_REASON_PROTOCOL_VIOLATION,
                            "%s: invalid %s: %s: \"%.80s\"", d->where,
                            phase_text(ph), d->reply.error, shown);
            }
            return RX_FAILED;
        }
    }
}

/*
 * Classifies the current reply received in phase ph (reply_rules.h); the
 * -v trace names the rule ("* rule greylisted: 450 4.2.0 -> WARNING
 * response/greylisted") and the next phase item carries it as "rule".
 */
static void
classify(struct dlg *d, enum mh_phase ph, enum mh_state *st,
         enum mh_reason *reason)
{
    d->rule = mh_reply_classify(ph, d->reply.code, d->reply.enhanced,
                                d->reply.text, st, reason);
    if (d->rule[0] == '\0') {
        d->rule = NULL;
        return;
    }
    char line[160];
    mh_textf(line, sizeof line, "rule %s: %d%s%s in %s -> %s %s/%s", d->rule,
             d->reply.code, d->reply.enhanced[0] ? " " : "", d->reply.enhanced,
             mh_phase_name(ph), mh_state_name(*st),
             mh_category_name(mh_reason_category(*reason)),
             mh_reason_name(*reason));
    trace(d, "*", line);
    d->rep->at.rule = d->rule;
}

/* The outcome of a phase, with its facts so far (duration, reply code,
 * the enhanced status code of the reply at hand, the rule). */
static struct mh_smtp_event *
phase_item(struct dlg *d, enum mh_phase ph, enum mh_state st,
           enum mh_reason reason, const char *text)
{
    const struct mh_smtp_phase_facts *f = &d->rep->phase[ph];
    struct mh_smtp_event *e = mh_smtp_report_event(
        d->rep, MH_SMTP_EV_PHASE, mh_phase_name(ph), st, reason, text);
    if (e != NULL) {
        e->timed = true;
        e->duration_s = f->duration_s;
        e->code = f->code;
        if (d->reply.enhanced[0] != '\0' && f->code == d->reply.code) {
            memcpy(e->enhanced, d->reply.enhanced, sizeof e->enhanced);
        }
        if (d->rule != NULL && st != MH_STATE_OK) {
            e->rule = d->rule;
        }
    }
    d->rule = NULL;
    return e;
}

/* Reports a negative reply in phase ph with `what` ("MAIL FROM rejected"). */
static void
reply_failure(struct dlg *d, enum mh_phase ph, const char *what)
{
    enum mh_state st;
    enum mh_reason reason;
    classify(d, ph, &st, &reason);
    if (st == MH_STATE_OK) {
        /* A 2xx/3xx where another code was required ("unexpected"). */
        st = MH_STATE_CRITICAL;
        reason = MH_REASON_PROTOCOL_VIOLATION;
    }
    phase_item(d, ph, st, reason, d->last);
    report_fail(d, st, reason, "%s %s: %s", d->where, what, d->last);
}

/* ====== QUIT and the ways out ====== */

/*
 * Sends QUIT: enters SMTP_QUIT to wait for its reply when wait_reply and
 * the deadline allows, else ends the dialogue at once.
 */
static void
smtp_quit(struct dlg *d, bool wait_reply)
{
    d->t0 = mh_monotonic_s();
    if (send_cmd(d, "QUIT", NULL) != MH_IO_OK) {
        report_note(d, "", MH_STATE_OK, MH_REASON_NONE,
                    "server closed the connection before QUIT");
        smtp_state(d, SMTP_DONE);
        return;
    }
    /* After a timeout the check's deadline is gone: QUIT is sent as a
     * courtesy and its reply not awaited (waiting 0 s and then saying the
     * server closed the connection would be wrong). */
    if (!wait_reply || mh_deadline_expired(d->dl)) {
        smtp_state(d, SMTP_DONE);
        return;
    }
    /* A short deadline of its own, inside the check's deadline. */
    d->quit_dl = *d->dl;
    double cap = mh_monotonic_s() + QUIT_WAIT_S;
    if (cap < d->quit_dl.end) {
        d->quit_dl.end = cap;
    }
    d->wait_dl = &d->quit_dl;
    reply_expect(d);
    smtp_state(d, SMTP_QUIT);
}

static void
quit_reply(struct dlg *d)
{
    d->wait_dl = d->dl;
    if (d->reply.code != 221) {
        report_note(d, "", MH_STATE_OK, MH_REASON_NONE,
                    "unexpected reply to QUIT: %s", d->last);
    }
    smtp_state(d, SMTP_DONE);
}

static void
quit_no_reply(struct dlg *d, enum rx rx)
{
    d->wait_dl = d->dl;
    /* RFC 5321 4.1.1.10 wants a 221, but a missing one says nothing about
     * mail delivery (field case BR-28): a note only. */
    if (rx == RX_CLOSED) {
        report_note(d, "", MH_STATE_OK, MH_REASON_NONE,
                    "server closed the connection before "
                    "answering QUIT");
    } else {
        report_note(d, "", MH_STATE_OK, MH_REASON_NONE,
                    "no valid reply to QUIT within %.1f s",
                    d->quit_dl.end - d->t0);
    }
    smtp_state(d, SMTP_DONE);
}

/*
 * The dialogue failed with the session still open: QUIT (RFC 5321 3.1).
 * After a 421 the server is closing (RFC 5321 3.8): QUIT is sent but its
 * reply not awaited.
 */
static void
smtp_fail(struct dlg *d)
{
    smtp_quit(d, d->reply.code != 421);
}

/* The connection is gone: nothing more can be sent. */
static void
smtp_lost(struct dlg *d)
{
    smtp_state(d, SMTP_DONE);
}

/* ====== TLS ====== */

/* mh_tls_params.on_certificates: the server's chain has arrived; verify it
 * on the TLS worker while the handshake and the dialogue go on. */
static void
start_verification(SSL *ssl, void *arg)
{
    struct dlg *d = arg;
    if (d->vjob != NULL) {
        return;
    }
    d->vjob = mh_tls_verify_prepare(ssl, d->tls_cp.now);
    if (d->vjob != NULL && !tls_worker_give(d->worker, d->vjob)) {
        mh_tls_verify_run(d->vjob, NULL, NULL); /* no worker: here */
    }
}

/* The verification's job, run: waits for the worker when needed. */
static void
verification_wait(struct dlg *d)
{
    if (d->vjob != NULL) {
        tls_worker_wait(d->worker);
    }
}

/* Prepares the handshake: its parameters stay in d while it runs. */
static void
tls_begin(struct dlg *d)
{
    const struct mh_smtp_params *p = d->p;
    d->tls_params = (struct mh_tls_params){
        .sni = p->sni,
        .verify_name = p->verify_name,
        .ca_file = p->ca_file,
        .ca_path = p->ca_path,
        .min_version = p->tls_min_version,
    };
    d->tls_cp = (struct mh_tls_check_params){
        .verify = p->verify,
        .verify_name = p->verify_name,
        .sni_sent = p->sni != NULL,
        .warn_days = p->cert_warn_days,
        .crit_days = p->cert_crit_days,
        .now = (double)time(NULL),
        .where = d->where,
    };
    /* The chain is verified beside the handshake and the dialogue when the
     * certificate is checked or credentials will depend on it. */
    if (p->check_cert || (p->auth_user != NULL && p->verify)) {
        d->tls_params.on_certificates = start_verification;
        d->tls_params.on_certificates_arg = d;
    }
    d->t0 = mh_monotonic_s();
    d->tls_params.ctx = tls_worker_ctx(d->worker);
    if (d->tls_params.ctx == NULL) {
        /* A runner's checks share one context (tls_shared.h); NULL: the
         * transport makes one for this check. */
        d->shared_ctx = mh_tls_shared_ctx(&d->tls_params);
        d->tls_params.ctx = d->shared_ctx;
    }
}

/* The handshake ended with io: reports it. Returns whether the session
 * is up. */
static bool
tls_end(struct dlg *d, enum mh_io io)
{
    const struct mh_smtp_params *p = d->p;
    phase_done(d, MH_PHASE_TLS_HANDSHAKE, d->t0, 0);
    SSL_CTX_free(d->shared_ctx); /* the session holds its own reference */
    d->shared_ctx = NULL;
    d->tls_params.ctx = NULL;
    if (io != MH_IO_OK) {
        /* No certificate check on a failed handshake. */
        tls_worker_facts(d->worker, NULL, NULL, NULL);
        verification_wait(d);
        mh_tls_verify_free(d->vjob);
        d->vjob = NULL;
        enum mh_reason reason = io == MH_IO_TIMEOUT ? MH_REASON_TLS_TIMEOUT
                                : d->t->reason != MH_REASON_NONE
                                    ? d->t->reason
                                    : MH_REASON_TLS_HANDSHAKE_FAILED;
        const char *after = p->tls_mode == MH_TLS_STARTTLS
                                ? "server accepted STARTTLS (220) but "
                                : "";
        char msg[MH_REPLY_TEXT_MAX + 400];
        if (io == MH_IO_EOF) {
            snprintf(msg, sizeof msg,
                     "%sclosed the connection during the TLS handshake", after);
        } else if (io == MH_IO_TIMEOUT) {
            snprintf(msg, sizeof msg,
                     "TLS handshake did not complete within %g s",
                     mh_deadline_length(d->dl));
        } else {
            snprintf(msg, sizeof msg, "%s", d->t->err);
        }
        phase_item(d, MH_PHASE_TLS_HANDSHAKE, MH_STATE_CRITICAL, reason, msg);
        report_fail(d, MH_STATE_CRITICAL, reason, "%s: %s", d->where, msg);
        return false;
    }
    d->rep->tls_active = true;
    const char *ver = SSL_get_version(d->t->ssl);
    const char *cipher = SSL_get_cipher_name(d->t->ssl);
    char msg[200];
    snprintf(msg, sizeof msg, "%s %s", ver != NULL ? ver : "?",
             cipher != NULL ? cipher : "?");
    phase_item(d, MH_PHASE_TLS_HANDSHAKE, MH_STATE_OK, MH_REASON_NONE, msg);
    snprintf(d->rep->tls_version, sizeof d->rep->tls_version, "%s",
             ver != NULL ? ver : "unknown");
    snprintf(d->rep->tls_cipher, sizeof d->rep->tls_cipher, "%s",
             cipher != NULL ? cipher : "unknown");
    /* The certificate report goes right after the handshake's item. */
    mh_smtp_report_event(d->rep, MH_SMTP_EV_CERTS, NULL, MH_STATE_OK,
                         MH_REASON_NONE, NULL);
    if (d->tls_params.on_certificates != NULL && d->vjob == NULL &&
        d->t->ssl != NULL) {
        /* No certificate arrived (anonymous suite) or memory ran out: the
         * check reports it. */
        start_verification(d->t->ssl, d);
        if (d->vjob == NULL) {
            d->rep->oom = true;
        }
    }
    tls_worker_facts(d->worker, p->check_cert ? &d->tls_cp : NULL,
                     SSL_get_version(d->t->ssl),
                     SSL_get_cipher_name(d->t->ssl));
    if (!p->check_cert) {
        mh_smtp_report_event(d->rep, MH_SMTP_EV_VERSION, NULL, MH_STATE_OK,
                             MH_REASON_NONE, NULL);
    }
    return true;
}

/*
 * The certificate check's part, once the verification has finished, into
 * the report (rep->certs): rendering puts its items right after the
 * handshake's, and its failures before those of the phases that followed
 * (the first failure at the worst state is the summary, mh_result_raise).
 */
static void
tls_report(struct dlg *d)
{
    if (d->vjob == NULL) {
        return;
    }
    verification_wait(d);
    if (d->p->check_cert) {
        struct tls_worker *w = d->worker;
        struct mh_tls_report *tr;
        if (w != NULL && w->started && w->reported) {
            tr = w->report; /* made beside the dialogue (NULL: no memory) */
            w->report = NULL;
        } else {
            tr = mh_tls_report_job(d->vjob, SSL_get_version(d->t->ssl),
                                   SSL_get_cipher_name(d->t->ssl), &d->tls_cp);
        }
        if (tr == NULL) {
            d->rep->oom = true;
        }
        free(d->rep->certs);
        d->rep->certs = tr;
        d->rep->certs_params = d->tls_cp;
    }
    mh_tls_verify_free(d->vjob);
    d->vjob = NULL;
}

/* ====== AUTH (RFC 4954) ====== */

/* Standard base64 (OpenSSL EVP_EncodeBlock). Returns 0 or -1. */
static int
b64_encode(const unsigned char *in, size_t inlen, char *out, size_t outlen)
{
    if (inlen > 600 || 4 * ((inlen + 2) / 3) + 1 > outlen) {
        return -1;
    }
    EVP_EncodeBlock((unsigned char *)out, in, (int)inlen);
    return 0;
}

/* Decodes base64 (EVP_DecodeBlock), handling its padding bytes. Returns
 * the length or -1. */
static int
b64_decode(const char *in, unsigned char *out, size_t outlen)
{
    size_t inlen = strlen(in);
    if (inlen == 0 || inlen % 4 != 0 || 3 * (inlen / 4) + 1 > outlen) {
        return -1;
    }
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)inlen);
    if (n < 0) {
        return -1;
    }
    /* EVP_DecodeBlock counts the '=' padding as zero bytes. */
    if (inlen >= 1 && in[inlen - 1] == '=') {
        n--;
    }
    if (inlen >= 2 && in[inlen - 2] == '=') {
        n--;
    }
    out[n] = '\0';
    return n;
}

/* ====== Greeting, EHLO / HELO, STARTTLS ====== */

static void smtp_after_hello(struct dlg *d);

/* Waits for the greeting: read whole before anything is sent (RFC 5321
 * 4.3.1; BR-01, BR-02). */
static void
greeting_begin(struct dlg *d)
{
    d->t0 = mh_monotonic_s();
    reply_expect(d);
    smtp_state(d, SMTP_GREETING);
}

static void
greeting_failure(struct dlg *d)
{
    enum mh_state st;
    enum mh_reason reason;
    classify(d, MH_PHASE_BANNER, &st, &reason);
    if (st == MH_STATE_OK) {
        st = MH_STATE_CRITICAL; /* a 2xx/3xx other than the expected one */
        reason = MH_REASON_UNEXPECTED_GREETING;
    }
    phase_item(d, MH_PHASE_BANNER, st, reason, d->last);
    report_fail(d, st, reason, "%s greeting %s", d->where, d->last);
}

/* Sends EHLO and enters `next` (SMTP_EHLO, or SMTP_EHLO_TLS over TLS). */
static void
smtp_ehlo(struct dlg *d, enum smtp_state next)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "EHLO %s", d->p->ehlo_name);
    d->t0 = mh_monotonic_s();
    if (!smtp_send(d, next, cmd, NULL)) {
        report_fail(d, MH_STATE_CRITICAL, MH_REASON_CONNECTION_CLOSED,
                    "%s: connection lost sending EHLO: %s", d->where,
                    d->t->err);
        smtp_lost(d);
    }
}

static void
greeting_reply(struct dlg *d)
{
    const struct mh_smtp_params *p = d->p;
    int expect = p->expect_greeting != 0 ? p->expect_greeting : 220;
    if (d->reply.code != expect) {
        greeting_failure(d);
        /* RFC 5321 3.1: after a 554 greeting the client should QUIT; we
         * send it but do not wait: a server that holds the socket open
         * (BR-04 B) must not delay the result. No EHLO is ever sent. */
        smtp_quit(d, false);
        return;
    }
    if (expect != 220) {
        char text[sizeof d->last + 32];
        snprintf(text, sizeof text, "greeting %s as expected", d->last);
        phase_item(d, MH_PHASE_BANNER, MH_STATE_OK, MH_REASON_NONE, text);
        mh_smtp_report_add(d->rep, MH_SMTP_EV_SUMMARY, NULL, MH_STATE_OK,
                           MH_REASON_NONE, "%s greeting %d as expected",
                           d->where, expect);
        smtp_quit(d, false);
        return;
    }
    phase_item(d, MH_PHASE_BANNER, MH_STATE_OK, MH_REASON_NONE, d->last);
    smtp_ehlo(d, SMTP_EHLO);
}

/* The EHLO reply's outcome: its first line, the extensions known and the
 * AUTH mechanisms offered (in JSON). */
static void
ehlo_item(struct dlg *d)
{
    char text[MH_REPLY_TEXT_MAX + 64];
    /* Only the first line in the long output; the list is in JSON. */
    snprintf(text, sizeof text, "250 %.*s", (int)strcspn(d->reply.text, "\n"),
             d->reply.text);
    struct mh_smtp_event *e =
        phase_item(d, MH_PHASE_EHLO, MH_STATE_OK, MH_REASON_NONE, text);
    if (e == NULL) {
        return;
    }
    char ext[300];
    snprintf(ext, sizeof ext, "%s%s%s%s%s%s%s%s",
             (d->rep->caps.ext & MH_EXT_STARTTLS) ? "STARTTLS " : "",
             (d->rep->caps.ext & MH_EXT_AUTH) ? "AUTH " : "",
             (d->rep->caps.ext & MH_EXT_SIZE) ? "SIZE " : "",
             (d->rep->caps.ext & MH_EXT_PIPELINING) ? "PIPELINING " : "",
             (d->rep->caps.ext & MH_EXT_8BITMIME) ? "8BITMIME " : "",
             (d->rep->caps.ext & MH_EXT_SMTPUTF8) ? "SMTPUTF8 " : "",
             (d->rep->caps.ext & MH_EXT_ENHANCEDSTATUSCODES)
                 ? "ENHANCEDSTATUSCODES "
                 : "",
             (d->rep->caps.ext & MH_EXT_CHUNKING) ? "CHUNKING " : "");
    size_t el = strlen(ext);
    if (el > 0) {
        ext[el - 1] = '\0';
    }
    e->extensions = strdup(ext);
    if (d->rep->caps.mech_list[0] != '\0') {
        e->mechanisms = strdup(d->rep->caps.mech_list);
    }
    if (e->extensions == NULL ||
        (d->rep->caps.mech_list[0] != '\0' && e->mechanisms == NULL)) {
        d->rep->oom = true;
    }
}

static void starttls_begin(struct dlg *d);
static void handshake_begin(struct dlg *d);

/* EHLO or HELO accepted: STARTTLS next when it is wanted and not done. */
static void
hello_done(struct dlg *d)
{
    if (d->p->tls_mode == MH_TLS_STARTTLS && !d->rep->tls_active) {
        starttls_begin(d);
    } else {
        smtp_after_hello(d);
    }
}

/* Reply to EHLO (SMTP_EHLO, SMTP_EHLO_TLS). */
static void
ehlo_reply(struct dlg *d)
{
    /* Capabilities from before TLS are forgotten (RFC 3207 4.2). */
    memset(&d->rep->caps, 0, sizeof d->rep->caps);
    int c = d->reply.code;
    if (c == 250) {
        mh_ehlo_parse(&d->reply, &d->rep->caps);
        d->rep->esmtp = true;
        ehlo_item(d);
        hello_done(d);
        return;
    }
    /* RFC 5321 3.2 / 4.1.4: fall back to HELO when EHLO is not known:
     * 500 and 502 (command unrecognised / not implemented), and 504
     * (parameter not implemented). Never after 4xx: the server is
     * refusing service (421), not EHLO. 501 (syntax error) is a real
     * answer about our argument and is reported. */
    if (c == 500 || c == 502 || c == 504) {
        d->rep->ehlo_rejected = c;
        snprintf(d->ehlo_reply, sizeof d->ehlo_reply, "%s", d->last);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "HELO %s", d->p->ehlo_name);
        d->t0 = mh_monotonic_s();
        if (!smtp_send(d, SMTP_HELO, cmd, NULL)) {
            report_fail(d, MH_STATE_CRITICAL, MH_REASON_CONNECTION_CLOSED,
                        "%s: connection lost sending HELO", d->where);
            smtp_lost(d);
        }
        return;
    }
    reply_failure(d, MH_PHASE_EHLO, "EHLO rejected");
    smtp_fail(d);
}

static void
helo_reply(struct dlg *d)
{
    if (d->reply.code != 250) {
        reply_failure(d, MH_PHASE_EHLO, "HELO rejected");
        smtp_fail(d);
        return;
    }
    char text[sizeof d->last + 128];
    snprintf(text, sizeof text,
             "HELO accepted (server does not support ESMTP; EHLO got %s)",
             d->ehlo_reply);
    phase_item(d, MH_PHASE_EHLO, MH_STATE_OK, MH_REASON_NONE, text);
    d->rep->esmtp = false;
    hello_done(d);
}

/* The failure recorded so far, as a phase's text. */
static const char *
failure_text(const struct dlg *d)
{
    return d->rep->failure.cause[0] != '\0' ? d->rep->failure.cause : "failed";
}

/* STARTTLS broke the session (no reply, or it could not be sent): a TLS
 * problem for whoever routes the alert. */
static void
starttls_broken(struct dlg *d)
{
    const struct mh_smtp_failure *f = &d->rep->failure;
    enum mh_category cat = mh_reason_category(f->reason);
    if (cat == MH_CAT_CONNECTION || cat == MH_CAT_RESPONSE) {
        mh_smtp_report_event(d->rep, MH_SMTP_EV_OVERRIDE, NULL, f->state,
                             MH_REASON_STARTTLS_REFUSED, NULL);
    }
    phase_item(d, MH_PHASE_STARTTLS, f->state, f->reason, failure_text(d));
}

/* STARTTLS when offered (RFC 3207 4); else the check says so at once. */
static void
starttls_begin(struct dlg *d)
{
    const struct mh_smtp_params *p = d->p;
    enum mh_state need =
        p->starttls_optional ? MH_STATE_WARNING : MH_STATE_CRITICAL;
    if (!d->rep->esmtp || (d->rep->caps.ext & MH_EXT_STARTTLS) == 0) {
        /* Not offered: say so at once, never send STARTTLS anyway
         * (BR-21; BR-07 when EHLO itself was rejected). */
        char msg[300];
        if (!d->rep->esmtp) {
            snprintf(msg, sizeof msg,
                     "STARTTLS unavailable: server rejected EHLO (%d)",
                     d->rep->ehlo_rejected);
        } else {
            snprintf(msg, sizeof msg, "STARTTLS not advertised by %s", p->host);
        }
        mh_smtp_report_event(d->rep, MH_SMTP_EV_PHASE, "starttls", need,
                             MH_REASON_TLS_REQUIRED, msg);
        report_fail(d, need, MH_REASON_TLS_REQUIRED, "%s: %s", d->where, msg);
        if (need == MH_STATE_CRITICAL) {
            smtp_fail(d);
        } else {
            smtp_after_hello(d);
        }
        return;
    }
    d->t0 = mh_monotonic_s();
    if (!smtp_send(d, SMTP_STARTTLS, "STARTTLS", NULL)) {
        report_fail(d, MH_STATE_CRITICAL, MH_REASON_CONNECTION_CLOSED,
                    "%s: connection lost sending STARTTLS: %s", d->where,
                    d->t->err);
        starttls_broken(d);
        smtp_lost(d);
    }
}

static void
starttls_reply(struct dlg *d)
{
    if (d->reply.code != 220) {
        /* 454 and friends: TLS category, reported at once (BR-26 D);
         * WARNING when TLS was optional. */
        enum mh_state need =
            d->p->starttls_optional ? MH_STATE_WARNING : MH_STATE_CRITICAL;
        char msg[sizeof d->last + 40];
        snprintf(msg, sizeof msg, "STARTTLS refused: %s", d->last);
        mh_smtp_report_event(d->rep, MH_SMTP_EV_PHASE, "starttls", need,
                             MH_REASON_STARTTLS_REFUSED, msg);
        report_fail(d, need, MH_REASON_STARTTLS_REFUSED, "%s %s", d->where,
                    msg);
        if (need == MH_STATE_CRITICAL) {
            smtp_fail(d);
        } else {
            smtp_after_hello(d);
        }
        return;
    }
    phase_item(d, MH_PHASE_STARTTLS, MH_STATE_OK, MH_REASON_NONE, d->last);
    handshake_begin(d);
}

/* Enters SMTP_TLS_HANDSHAKE (implicit TLS, or after STARTTLS 220). */
static void
handshake_begin(struct dlg *d)
{
    tls_begin(d);
    smtp_state(d, SMTP_TLS_HANDSHAKE);
}

/* The handshake ended with io: then the greeting (implicit TLS), nothing
 * more (tls_only) or EHLO again (RFC 3207 4.2: forget everything). A
 * failed handshake leaves an unusable stream: done. */
static void
handshake_done(struct dlg *d, enum mh_io io)
{
    const struct mh_smtp_params *p = d->p;
    if (!tls_end(d, io)) {
        smtp_lost(d);
    } else if (p->tls_mode != MH_TLS_IMPLICIT) {
        smtp_ehlo(d, SMTP_EHLO_TLS);
    } else if (p->tls_only) {
        smtp_state(d, SMTP_DONE); /* handshake-only probe: no greeting */
    } else {
        greeting_begin(d);
    }
}

/* AUTH could not run to a final reply: the failure (recorded already, or
 * "AUTH <mech> failed" now) becomes the AUTH item. lost: the connection is
 * gone. */
static void
auth_failed(struct dlg *d, bool lost)
{
    OPENSSL_cleanse(d->auth_resp, sizeof d->auth_resp);
    phase_done(d, MH_PHASE_AUTH, d->auth_t0, 0);
    if (d->rep->failure.state == MH_STATE_OK) {
        report_fail(d, MH_STATE_CRITICAL, MH_REASON_AUTH_FAILED,
                    "%s: AUTH %s failed", d->where,
                    mh_mech_name(d->rep->auth_mech));
    }
    phase_item(d, MH_PHASE_AUTH, d->rep->failure.state, d->rep->failure.reason,
               failure_text(d));
    if (lost) {
        smtp_lost(d);
    } else {
        smtp_fail(d);
    }
}

/* AUTH refused before any command (plaintext, unverified certificate,
 * mechanism not offered): CRITICAL with reason and msg. */
static void
auth_refuse(struct dlg *d, enum mh_reason reason, const char *msg)
{
    phase_done(d, MH_PHASE_AUTH, d->auth_t0, 0);
    phase_item(d, MH_PHASE_AUTH, MH_STATE_CRITICAL, reason, msg);
    report_fail(d, MH_STATE_CRITICAL, reason, "%s: %s", d->where, msg);
    smtp_fail(d);
}

/* Sends one AUTH line and enters `next`. A secret line (credentials) is
 * never traced; the AUTH command itself is. */
static void
auth_send(struct dlg *d, enum smtp_state next, const char *line, bool secret)
{
    if (smtp_send(d, next, line, secret ? "<credentials redacted>" : NULL)) {
        return;
    }
    if (secret) {
        report_fail(d, MH_STATE_CRITICAL, MH_REASON_CONNECTION_CLOSED,
                    "%s: connection lost during AUTH", d->where);
    }
    auth_failed(d, secret);
}

/* Sends base64(text) as a secret line and enters `next`. */
static void
auth_send_b64(struct dlg *d, enum smtp_state next, const char *text)
{
    char b64[820];
    if (b64_encode((const unsigned char *)text, strlen(text), b64,
                   sizeof b64) != 0) {
        auth_failed(d, false);
        return;
    }
    auth_send(d, next, b64, true);
    OPENSSL_cleanse(b64, sizeof b64);
}

/* Picks the mechanism: the one asked for, else the best offered. Returns
 * 0 with msg set when none can be used. */
static unsigned
auth_choose(struct dlg *d, char *msg, size_t len)
{
    const struct mh_smtp_params *p = d->p;
    unsigned mech;
    if (p->auth_mech != 0) {
        mech = p->auth_mech;
        if ((d->rep->caps.mechs & mech) == 0) {
            snprintf(msg, len, "mechanism %s not offered (offered: %s)",
                     mh_mech_name(mech), d->rep->caps.mech_list);
            return 0;
        }
        return mech;
    }
    if (d->rep->tls_active) {
        /* Under TLS the simplest is best; CRAM-MD5 needs the server to
         * store plaintext passwords and adds nothing. */
        mech = (d->rep->caps.mechs & MH_MECH_PLAIN)   ? MH_MECH_PLAIN
               : (d->rep->caps.mechs & MH_MECH_LOGIN) ? MH_MECH_LOGIN
                                                      : MH_MECH_CRAM_MD5;
    } else {
        mech = (d->rep->caps.mechs & MH_MECH_CRAM_MD5) ? MH_MECH_CRAM_MD5
               : (d->rep->caps.mechs & MH_MECH_PLAIN)  ? MH_MECH_PLAIN
                                                       : MH_MECH_LOGIN;
    }
    if ((d->rep->caps.mechs & mech) == 0) {
        snprintf(msg, len,
                 "no supported mechanism offered (offered: "
                 "%s; supported: PLAIN LOGIN CRAM-MD5)",
                 d->rep->caps.mech_list);
        return 0;
    }
    return mech;
}

/*
 * Credentials go only to a server whose certificate verified (chain and
 * name, the TLS worker's verdict): over an unverified session anyone in
 * the path could collect them. --no-verify accepts that risk explicitly.
 * Returns false with msg set when they must not be sent.
 */
static bool
auth_cert_ok(struct dlg *d, char *msg, size_t len)
{
    if (!d->rep->tls_active || !d->p->verify || d->t->ssl == NULL) {
        return true;
    }
    verification_wait(d);
    long vr = d->vjob != NULL ? mh_tls_verify_result(d->vjob)
                              : X509_V_ERR_UNSPECIFIED;
    if (vr == X509_V_OK) {
        return true;
    }
    const char *store_err =
        d->vjob != NULL ? mh_tls_verify_store_error(d->vjob) : NULL;
    if (store_err != NULL) {
        snprintf(msg, len,
                 "refusing to send credentials: the server's certificate "
                 "could not be verified (%s)",
                 store_err);
    } else {
        snprintf(msg, len,
                 "refusing to send credentials: the server's certificate "
                 "did not verify (%s); give --ca-file/--ca-path or "
                 "--verify-name, or --no-verify",
                 X509_verify_cert_error_string(vr));
    }
    return false;
}

/* AUTH (RFC 4954), one attempt with one mechanism: trying others after a
 * 535 hides the real answer and counts against the account (BR-18). */
static void
auth_begin(struct dlg *d)
{
    const struct mh_smtp_params *p = d->p;
    char msg[MH_REPLY_TEXT_MAX + 400];
    d->auth_t0 = mh_monotonic_s();
    d->rep->auth_mech = p->auth_mech;
    if (!d->rep->tls_active && !p->allow_plaintext_auth) {
        auth_refuse(d, MH_REASON_AUTH_PLAINTEXT,
                    "refusing to send credentials over a plaintext "
                    "connection (use --starttls or --tls, or "
                    "--allow-plaintext-auth)");
        return;
    }
    if (!auth_cert_ok(d, msg, sizeof msg)) {
        auth_refuse(d, MH_REASON_AUTH_CERT_UNVERIFIED, msg);
        return;
    }
    if (!d->rep->esmtp || (d->rep->caps.ext & MH_EXT_AUTH) == 0) {
        if (!d->rep->esmtp) {
            snprintf(msg, sizeof msg,
                     "AUTH unavailable: server rejected EHLO (%d)",
                     d->rep->ehlo_rejected);
        } else {
            snprintf(msg, sizeof msg, "AUTH not offered%s",
                     d->rep->tls_active && p->tls_mode == MH_TLS_STARTTLS
                         ? " after STARTTLS"
                         : "");
        }
        auth_refuse(d, MH_REASON_AUTH_NOT_OFFERED, msg);
        return;
    }
    d->rep->auth_mech = auth_choose(d, msg, sizeof msg);
    if (d->rep->auth_mech == 0) {
        auth_refuse(d, MH_REASON_AUTH_NOT_OFFERED, msg);
        return;
    }
    if (d->rep->auth_mech == MH_MECH_LOGIN) {
        /* No initial response with LOGIN: some servers ignore it (BR-17
         * B). */
        auth_send(d, SMTP_AUTH_LOGIN, "AUTH LOGIN", false);
        return;
    }
    if (d->rep->auth_mech == MH_MECH_CRAM_MD5) {
        auth_send(d, SMTP_AUTH_CRAM_MD5, "AUTH CRAM-MD5", false);
        return;
    }
    /* PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd, as the initial
     * response (RFC 4954 4): one round trip. */
    const char *u = p->auth_user, *pw = p->auth_password;
    unsigned char raw[600];
    size_t ul = strlen(u), pl = strlen(pw);
    if (ul + pl + 2 > sizeof raw) {
        auth_failed(d, false);
        return;
    }
    raw[0] = '\0';
    memcpy(raw + 1, u, ul);
    raw[1 + ul] = '\0';
    memcpy(raw + 2 + ul, pw, pl);
    int rc = b64_encode(raw, ul + pl + 2, d->auth_resp, sizeof d->auth_resp);
    OPENSSL_cleanse(raw, sizeof raw);
    if (rc != 0) {
        auth_failed(d, false);
        return;
    }
    char cmd[840];
    snprintf(cmd, sizeof cmd, "AUTH PLAIN %s", d->auth_resp);
    auth_send(d, SMTP_AUTH_PLAIN, cmd, true);
    OPENSSL_cleanse(cmd, sizeof cmd);
}

/* RFC 2195: the challenge is base64; the response is
 * base64(user " " hex(HMAC-MD5(password, challenge))). */
static void
auth_cram_md5_response(struct dlg *d)
{
    unsigned char chal[600];
    int cl = b64_decode(d->reply.text, chal, sizeof chal);
    if (cl < 0) {
        report_fail(d, MH_STATE_CRITICAL, MH_REASON_AUTH_PROTOCOL,
                    "%s: invalid CRAM-MD5 challenge (not base64)", d->where);
        auth_failed(d, false);
        return;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    const char *pw = d->p->auth_password;
    if (HMAC(EVP_md5(), pw, (int)strlen(pw), chal, (size_t)cl, mac, &maclen) ==
        NULL) {
        report_fail(d, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
                    "%s: HMAC-MD5 not available in this OpenSSL", d->where);
        auth_failed(d, false);
        return;
    }
    char resp[400];
    int n = snprintf(resp, sizeof resp, "%s ", d->p->auth_user);
    if (n > 0 && (size_t)n + 2 * (size_t)maclen < sizeof resp) {
        mh_hex_encode(resp + n, mac, maclen);
    } else {
        n = -1; /* a user name this long cannot be answered */
    }
    OPENSSL_cleanse(mac, sizeof mac);
    if (n <= 0) {
        auth_failed(d, false);
    } else {
        auth_send_b64(d, SMTP_AUTH_CRAM_MD5_RESPONSE, resp);
    }
    OPENSSL_cleanse(resp, sizeof resp);
}

static void envelope_begin(struct dlg *d);

/* The final reply of the AUTH exchange: 235 or the failure. */
static void
auth_result(struct dlg *d)
{
    OPENSSL_cleanse(d->auth_resp, sizeof d->auth_resp);
    phase_done(d, MH_PHASE_AUTH, d->auth_t0, d->reply.code);
    const char *mname = mh_mech_name(d->rep->auth_mech);
    char msg[MH_REPLY_TEXT_MAX + 400];
    if (d->reply.code == 235) {
        d->rep->auth_ok = true;
        snprintf(msg, sizeof msg, "AUTH %s ok: %s", mname, d->last);
        phase_item(d, MH_PHASE_AUTH, MH_STATE_OK, MH_REASON_NONE, msg);
        envelope_begin(d);
        return;
    }
    enum mh_state st;
    enum mh_reason reason;
    classify(d, MH_PHASE_AUTH, &st, &reason);
    if (st == MH_STATE_OK) {
        st = MH_STATE_CRITICAL; /* e.g. a 334 after the last step */
        reason = MH_REASON_AUTH_PROTOCOL;
    }
    const char *why = d->reply.code == 535   ? "credentials rejected"
                      : d->reply.code == 454 ? "temporary authentication "
                                               "failure on server side"
                      : d->reply.code == 534 ? "mechanism too weak"
                      : d->reply.code == 538 ? "encryption required"
                                             : "AUTH failed";
    snprintf(msg, sizeof msg, "AUTH %s: %s (%s)", mname, why, d->last);
    phase_item(d, MH_PHASE_AUTH, st, reason, msg);
    report_fail(d, st, reason, "%s %s", d->where, msg);
    smtp_fail(d);
}

/* A reply in one of the AUTH states: a 334 asks for the next step (the
 * challenges' text, "Username:" or anything, is not checked, only their
 * order: BR-17 A); anything else is the final reply. */
static void
auth_reply(struct dlg *d)
{
    if (d->reply.code != 334) {
        auth_result(d);
        return;
    }
    switch (d->state) {
    case SMTP_AUTH_PLAIN:
        /* A server that wants the response separately. */
        auth_send(d, SMTP_AUTH_PLAIN_RESPONSE, d->auth_resp, true);
        break;
    case SMTP_AUTH_LOGIN:
        auth_send_b64(d, SMTP_AUTH_LOGIN_USER, d->p->auth_user);
        break;
    case SMTP_AUTH_LOGIN_USER:
        auth_send_b64(d, SMTP_AUTH_LOGIN_PASSWORD, d->p->auth_password);
        break;
    case SMTP_AUTH_CRAM_MD5:
        auth_cram_md5_response(d);
        break;
    default:
        auth_result(d); /* a 334 after the last step */
        break;
    }
}

/* ====== Envelope ====== */

/* After the hellos (and STARTTLS): AUTH when asked, else the envelope. */
static void
smtp_after_hello(struct dlg *d)
{
    if (d->p->auth_user != NULL) {
        auth_begin(d);
    } else {
        envelope_begin(d);
    }
}

/* Sends an envelope command and enters `next`; the connection is lost when
 * it cannot be sent. */
static void
envelope_send(struct dlg *d, enum smtp_state next, const char *cmd)
{
    d->t0 = mh_monotonic_s();
    if (!smtp_send(d, next, cmd, NULL)) {
        report_fail(d, MH_STATE_CRITICAL, MH_REASON_CONNECTION_CLOSED,
                    "%s: connection lost sending %s: %s", d->where, cmd,
                    d->t->err);
        smtp_lost(d);
    }
}

/* MAIL FROM when an envelope is wanted, else QUIT. */
static void
envelope_begin(struct dlg *d)
{
    const struct mh_smtp_params *p = d->p;
    if (p->mail_from == NULL && p->nrcpt == 0 && p->relay_test == NULL) {
        smtp_quit(d, true);
        return;
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>",
             p->mail_from != NULL ? p->mail_from : "");
    envelope_send(d, SMTP_MAIL, cmd);
}

/* The next recipient, the relay test, or RSET: leave no transaction
 * behind (RFC 5321 4.1.1.5; timed as part of the closing "quit" phase). */
static void
envelope_next(struct dlg *d)
{
    const struct mh_smtp_params *p = d->p;
    char cmd[600];
    if (d->rcpt_i < p->nrcpt) {
        snprintf(cmd, sizeof cmd, "RCPT TO:<%s>", p->rcpt_to[d->rcpt_i++]);
        envelope_send(d, SMTP_RCPT, cmd);
    } else if (p->relay_test != NULL && d->state != SMTP_RELAY_TEST) {
        snprintf(cmd, sizeof cmd, "RCPT TO:<%s>", p->relay_test);
        envelope_send(d, SMTP_RELAY_TEST, cmd);
    } else {
        envelope_send(d, SMTP_RSET, "RSET");
    }
}

static void
mail_reply(struct dlg *d)
{
    if (d->reply.code != 250) {
        reply_failure(d, MH_PHASE_MAIL, "MAIL FROM rejected");
        smtp_fail(d);
        return;
    }
    phase_item(d, MH_PHASE_MAIL, MH_STATE_OK, MH_REASON_NONE, d->last);
    d->rep->envelope = true;
    envelope_next(d);
}

static void
rcpt_reply(struct dlg *d)
{
    const char *rcpt = d->p->rcpt_to[d->rcpt_i - 1];
    char what[MH_REPLY_TEXT_MAX + 800];
    /* RFC 5321 4.2.2: 250 and 251 accept the recipient. */
    if (d->reply.code == 250 || d->reply.code == 251) {
        snprintf(what, sizeof what, "<%s> accepted: %s", rcpt, d->last);
        phase_item(d, MH_PHASE_RCPT, MH_STATE_OK, MH_REASON_NONE, what);
    } else {
        snprintf(what, sizeof what, "RCPT TO:<%s> rejected", rcpt);
        reply_failure(d, MH_PHASE_RCPT, what);
        if (d->reply.code == 421) {
            smtp_fail(d); /* the server is closing */
            return;
        }
    }
    envelope_next(d);
}

static void
relay_test_reply(struct dlg *d)
{
    const char *relay = d->p->relay_test;
    if (d->reply.code >= 200 && d->reply.code < 400) {
        char what[MH_REPLY_TEXT_MAX + 800];
        snprintf(what, sizeof what,
                 "open relay: RCPT TO:<%s> accepted without "
                 "authentication (%s)",
                 relay, d->last);
        d->rep->relay = MH_SMTP_RELAY_OPEN;
        struct mh_smtp_event *e =
            mh_smtp_report_event(d->rep, MH_SMTP_EV_PHASE, "relay_test",
                                 MH_STATE_CRITICAL, MH_REASON_OPEN_RELAY, what);
        if (e != NULL) {
            e->code = d->reply.code;
        }
        report_fail(d, MH_STATE_CRITICAL, MH_REASON_OPEN_RELAY, "%s %s",
                    d->where, what);
    } else {
        d->rep->relay = MH_SMTP_RELAY_REFUSED;
        struct mh_smtp_event *e = mh_smtp_report_add(
            d->rep, MH_SMTP_EV_PHASE, "relay_test", MH_STATE_OK, MH_REASON_NONE,
            "relay to <%s> refused as it must be: %s", relay, d->last);
        if (e != NULL) {
            e->code = d->reply.code;
        }
    }
    envelope_next(d);
}

static void
rset_reply(struct dlg *d)
{
    if (d->reply.code != 250) {
        report_note(d, "", MH_STATE_OK, MH_REASON_NONE,
                    "unexpected reply to RSET: %s", d->last);
    }
    smtp_quit(d, true);
}

/* ====== Events ====== */

/* A complete reply arrived for the current state. */
static void
smtp_on_reply(struct dlg *d)
{
    if (smtp_states[d->state].phase == MH_PHASE_AUTH) {
        auth_reply(d); /* every step of the AUTH exchange */
        return;
    }
    switch (d->state) {
    case SMTP_GREETING:
        greeting_reply(d);
        break;
    case SMTP_EHLO:
    case SMTP_EHLO_TLS:
        ehlo_reply(d);
        break;
    case SMTP_HELO:
        helo_reply(d);
        break;
    case SMTP_STARTTLS:
        starttls_reply(d);
        break;
    case SMTP_MAIL:
        mail_reply(d);
        break;
    case SMTP_RCPT:
        rcpt_reply(d);
        break;
    case SMTP_RELAY_TEST:
        relay_test_reply(d);
        break;
    case SMTP_RSET:
        rset_reply(d);
        break;
    case SMTP_QUIT:
        quit_reply(d);
        break;
    default:
        smtp_lost(d); /* no reply is awaited in the other states */
        break;
    }
}

/* No valid reply came for the current state (recorded by reply_read). */
static void
smtp_on_no_reply(struct dlg *d, enum rx rx)
{
    const struct mh_smtp_failure *f = &d->rep->failure;
    if (smtp_states[d->state].phase == MH_PHASE_AUTH) {
        auth_failed(d, rx == RX_CLOSED);
        return;
    }
    switch (d->state) {
    case SMTP_GREETING:
        if (mh_reason_category(f->reason) == MH_CAT_CONNECTION &&
            d->t->bytes_in == 0) {
            /* EOF before any byte: the server dropped us at once. */
            char msg[600];
            snprintf(msg, sizeof msg,
                     "%s: server closed the connection before the greeting",
                     d->where);
            mh_smtp_report_event(d->rep, MH_SMTP_EV_OVERRIDE, NULL,
                                 MH_STATE_CRITICAL, MH_REASON_CONNECTION_CLOSED,
                                 msg);
        }
        phase_item(d, MH_PHASE_BANNER, f->state, f->reason, failure_text(d));
        smtp_lost(d); /* no QUIT to a server that never greeted */
        return;
    case SMTP_EHLO:
    case SMTP_EHLO_TLS:
        phase_item(d, MH_PHASE_EHLO, f->state, f->reason, failure_text(d));
        break;
    case SMTP_STARTTLS:
        starttls_broken(d);
        break;
    case SMTP_QUIT:
        quit_no_reply(d, rx);
        return;
    default:
        break;
    }
    if (rx == RX_CLOSED) {
        smtp_lost(d);
    } else {
        smtp_fail(d);
    }
}

/* The wait of the current state ended with rx: the reply (or the failure
 * to get one) goes to the state's handler. AUTH times its steps as one
 * phase (auth_result). */
static void
smtp_on_rx(struct dlg *d, enum rx rx)
{
    enum mh_phase ph = smtp_states[d->state].phase;
    if (ph != MH_PHASE_AUTH) {
        phase_done(d, ph, d->t0, rx == RX_REPLY ? d->reply.code : 0);
    }
    if (rx == RX_REPLY) {
        smtp_on_reply(d);
    } else {
        smtp_on_no_reply(d, rx);
    }
}

/* The current wait failed with io (the deadline passed, or the command
 * could not be sent). */
static void
smtp_on_failure(struct dlg *d, enum mh_io io)
{
    if (d->state == SMTP_TLS_HANDSHAKE) {
        handshake_done(d, io);
    } else if (d->state != SMTP_DONE) {
        smtp_on_rx(d, rx_failed(d, io));
    }
}

/*
 * Runs the machine until it must wait (returns false: for d->t->want on
 * the socket, until d->wait_dl) or is done (true). Each pass: send what is
 * queued, then go on with the handshake or read the reply awaited.
 */
static bool
smtp_step(struct dlg *d)
{
    while (d->state != SMTP_DONE) {
        if (d->t->wlen > 0) {
            enum mh_io io = mh_transport_flush(d->t);
            if (io == MH_IO_AGAIN) {
                return false;
            }
            if (io != MH_IO_OK) {
                smtp_on_failure(d, io);
                continue;
            }
        }
        if (d->state == SMTP_TLS_HANDSHAKE) {
            enum mh_io io = mh_transport_start_tls(d->t, &d->tls_params, d->dl);
            if (io == MH_IO_AGAIN) {
                return false;
            }
            handshake_done(d, io);
            continue;
        }
        enum rx rx = reply_read(d);
        if (rx == RX_AGAIN) {
            return false;
        }
        smtp_on_rx(d, rx);
    }
    return true;
}

/* ====== The whole dialogue ====== */

/* The DANE check once the dialogue is over (dane.h): against the
 * session's chain, or without a session (STARTTLS missing or failed),
 * into the check's report, which takes the lookup the probe made. */
static void
dane_report(struct dlg *d)
{
    struct mh_smtp_check_report *c = d->check;
    if (d->dane == NULL || c == NULL) {
        return;
    }
    const struct mh_dane_lookup *lk = dane_job_lookup(d->dane);
    if (lk == &d->dane->lk) {
        c->dane_lookup = d->dane->lk;
        memset(&d->dane->lk, 0, sizeof d->dane->lk);
        lk = &c->dane_lookup;
    }
    const struct mh_smtp_params *p = d->p;
    c->dane_params = (struct mh_dane_check_params){
        .base = d->dane->name,
        .mx_name = NULL,
        .required = p->dane_required,
        .cert_warn_days = p->cert_warn_days,
        .rrsig_warn_days = p->rrsig_warn_days,
        .rrsig_crit_days = p->rrsig_crit_days,
        .next_key = p->tlsa_next_key,
        .now = d->dane->now,
        .where = c->where,
    };
    SSL *ssl = d->rep->tls_active ? d->t->ssl : NULL;
    c->dane = mh_dane_report_check(
        lk, ssl != NULL ? SSL_get_SSL_CTX(ssl) : NULL,
        ssl != NULL ? SSL_get_peer_cert_chain(ssl) : NULL, &c->dane_params);
    if (c->dane == NULL) {
        c->oom = true;
    }
}

/* Sets up the machine in SMTP_CONNECTED and enters its first state. */
static void
smtp_begin(struct dlg *d, struct mh_transport *t,
           const struct mh_smtp_params *p, const struct mh_deadline *dl,
           const char *where, struct mh_smtp_report *rep,
           struct tls_worker *worker, struct dane_job *dane,
           struct mh_smtp_check_report *check)
{
    memset(d, 0, sizeof *d);
    memset(rep, 0, sizeof *rep);
    d->t = t;
    d->p = p;
    d->dl = dl;
    d->wait_dl = dl;
    d->where = where;
    d->rep = rep;
    d->check = check;
    d->rep->tls_mode = p->tls_mode;
    d->rep->auth_asked = p->auth_user != NULL;
    d->rep->at.phase = mh_phase_name(MH_PHASE_CONNECT);
    d->worker = worker;
    d->dane = dane;
    d->state = SMTP_CONNECTED;
    d->max_line = p->max_line == 0 ? MH_REPLY_LINE_MAX
                  : p->max_line > MH_REPLY_LINE_HARD_MAX
                      ? MH_REPLY_LINE_HARD_MAX
                      : p->max_line;
    mh_transport_set_event_driven(t);
    if (p->tls_mode == MH_TLS_IMPLICIT) {
        handshake_begin(d);
    } else {
        greeting_begin(d);
    }
}

/* After SMTP_DONE: the certificate report into the dialogue's report,
 * the DANE check into the check's, and the response time. */
static void
smtp_finish(struct dlg *d)
{
    OPENSSL_cleanse(d->auth_resp, sizeof d->auth_resp);
    tls_report(d);
    dane_report(d);
    d->rep->elapsed_s = mh_deadline_elapsed(d->dl);
}

/*
 * The one-shot driver: runs the machine to SMTP_DONE, waiting in poll(2)
 * for the socket between steps, each wait bounded by the machine's current
 * deadline (the check's, or the shorter one of the QUIT reply).
 */
static void
smtp_run(struct dlg *d)
{
    while (!smtp_step(d)) {
        int left = mh_deadline_ms_left(d->wait_dl);
        if (left > 0) {
            struct pollfd pfd = {.fd = d->t->fd, .events = d->t->want};
            int rc = poll(&pfd, 1, left);
            if (rc > 0 || (rc < 0 && errno == EINTR)) {
                continue;
            }
            if (rc < 0) {
                snprintf(d->t->err, sizeof d->t->err, "poll: %s",
                         strerror(errno));
                smtp_on_failure(d, MH_IO_ERROR);
                continue;
            }
            if (!mh_deadline_expired(d->wait_dl)) {
                continue; /* poll's milliseconds ended a little early */
            }
        }
        smtp_on_failure(d, MH_IO_TIMEOUT);
    }
    smtp_finish(d);
}

static void
dialogue(struct mh_transport *t, const struct mh_smtp_params *p,
         const struct mh_deadline *dl, const char *where,
         struct mh_smtp_report *rep, struct tls_worker *worker,
         struct dane_job *dane, struct mh_smtp_check_report *check)
{
    struct dlg d;
    smtp_begin(&d, t, p, dl, where, rep, worker, dane, check);
    smtp_run(&d);
}

void
mh_smtp_dialogue(struct mh_transport *t, const struct mh_smtp_params *p,
                 const struct mh_deadline *dl, const char *where,
                 struct mh_smtp_report *rep)
{
    dialogue(t, p, dl, where, rep, NULL, NULL, NULL);
}

struct mh_smtp_machine {
    struct dlg d;
    bool finished; /* smtp_finish has run */
};

struct mh_smtp_machine *
mh_smtp_machine_new(struct mh_transport *t, const struct mh_smtp_params *p,
                    const struct mh_deadline *dl, const char *where,
                    struct mh_smtp_report *rep)
{
    struct mh_smtp_machine *m = malloc(sizeof *m);
    if (m == NULL) {
        return NULL;
    }
    smtp_begin(&m->d, t, p, dl, where, rep, NULL, NULL, NULL);
    m->finished = false;
    return m;
}

bool
mh_smtp_machine_step(struct mh_smtp_machine *m)
{
    if (m->finished) {
        return true;
    }
    if (!smtp_step(&m->d)) {
        return false;
    }
    smtp_finish(&m->d);
    m->finished = true;
    return true;
}

const struct mh_deadline *
mh_smtp_machine_deadline(const struct mh_smtp_machine *m)
{
    return m->d.wait_dl;
}

void
mh_smtp_machine_expire(struct mh_smtp_machine *m)
{
    smtp_on_failure(&m->d, MH_IO_TIMEOUT);
}

const char *
mh_smtp_machine_state(const struct mh_smtp_machine *m)
{
    return smtp_states[m->d.state].name;
}

void
mh_smtp_machine_free(struct mh_smtp_machine *m)
{
    if (m == NULL) {
        return;
    }
    if (!m->finished) {
        /* Stopped early: the verification job is not reported. */
        mh_tls_verify_free(m->d.vjob);
    }
    SSL_CTX_free(m->d.shared_ctx);
    OPENSSL_cleanse(m->d.auth_resp, sizeof m->d.auth_resp);
    free(m);
}

/* A new report of a check on p, with its check name and target
 * ("host:port" as mh_peer_label() writes it); NULL when out of memory. */
static struct mh_smtp_check_report *
probe_report(const struct mh_smtp_params *p)
{
    struct mh_smtp_check_report *c = calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    snprintf(c->check, sizeof c->check, "%s",
             p->check != NULL ? p->check : "smtp");
    mh_peer_label(c->target, sizeof c->target, p->peer_name, p->host, p->port);
    return c;
}

/* The connection's facts (io, ci, err, connect_s seconds) into c, with
 * the peer's label for the messages (c->where). */
static void
connect_report(struct mh_smtp_check_report *c, const struct mh_smtp_params *p,
               const struct mh_deadline *dl, enum mh_io io,
               const struct mh_connect_info *ci, const char *err,
               double connect_s)
{
    const char *name = p->peer_name != NULL ? p->peer_name : p->host;
    mh_peer_label(c->where, sizeof c->where, name, ci->address, p->port);
    snprintf(c->address, sizeof c->address, "%s", ci->address);
    snprintf(c->connect_error, sizeof c->connect_error, "%s", err);
    c->connect_cause[0] = '\0';
    struct mh_smtp_connect_facts *cf = &c->connect;
    *cf = (struct mh_smtp_connect_facts){
        .ok = io == MH_IO_OK,
        .duration_s = connect_s,
        .address = c->address,
        .state = MH_STATE_OK,
        .reason = MH_REASON_NONE,
        .error = c->connect_error,
        .cause = c->connect_cause,
    };
    if (cf->ok) {
        return;
    }
    cf->reason = ci->reason;
    if (cf->reason == MH_REASON_NONE) {
        cf->reason = io == MH_IO_TIMEOUT ? MH_REASON_CONNECT_TIMEOUT
                                         : MH_REASON_NETWORK_UNREACHABLE;
    }
    cf->state = mh_reason_category(cf->reason) == MH_CAT_NONE
                    ? MH_STATE_UNKNOWN
                    : MH_STATE_CRITICAL;
    char *cause = c->connect_cause;
    size_t len = sizeof c->connect_cause;
    if (io == MH_IO_TIMEOUT && mh_deadline_expired(dl)) {
        mh_textf(cause, len, "%s: no connection within %g s: %s", c->where,
                 mh_deadline_length(dl), err);
    } else if (io == MH_IO_TIMEOUT) {
        mh_textf(cause, len, "%s: %s", c->where, err);
    } else {
        mh_textf(cause, len, "%s: connect failed: %s", c->where, err);
    }
}

struct mh_smtp_check_report *
mh_smtp_probe(const struct mh_smtp_params *p, const struct mh_deadline *dl)
{
    struct mh_smtp_check_report *c = probe_report(p);
    if (c == NULL) {
        return NULL;
    }
    struct tls_worker worker;
    memset(&worker, 0, sizeof worker);
    if (p->tls_mode != MH_TLS_NONE && !mh_tls_shared_enabled()) {
        /* A runner shares one context and store (tls_shared.h): nothing
         * left for the helper thread to prepare, and the chain is
         * verified on this thread, beside thousands of other checks. */
        tls_worker_start(&worker, p);
    }
    struct dane_job dane;
    bool with_dane = p->dane && p->tls_mode != MH_TLS_NONE;
    if (with_dane) {
        dane_job_start(&dane, p, dl);
    }
    struct mh_transport *t = NULL;
    struct mh_connect_info ci;
    char err[512];
    double t0 = mh_monotonic_s();
    enum mh_io io = mh_tcp_connect(p->host, p->port, p->family, p->resolver, dl,
                                   &t, &ci, err, sizeof err);
    connect_report(c, p, dl, io, &ci, err, mh_monotonic_s() - t0);
    if (io == MH_IO_OK) {
        c->dialogue_run = true;
        dialogue(t, p, dl, c->where, &c->dialogue, &worker,
                 with_dane ? &dane : NULL, c);
    }
    if (with_dane) {
        dane_job_end(&dane);
    }
    tls_worker_end(&worker);
    mh_transport_free(t);
    c->duration_s = mh_deadline_elapsed(dl);
    return c;
}

/* ====== The whole check for event loops ====== */

struct mh_smtp_task {
    const struct mh_smtp_params *p;
    const struct mh_deadline *dl;
    struct mh_smtp_check_report *c; /* the report, until taken */
    struct mh_connector conn;
    bool connecting; /* conn under way (else the dialogue or done) */
    bool done;
    struct mh_transport *t;
    struct mh_smtp_machine *m;
    struct mh_connect_info ci;
    double t0;
    char err[512];
};

bool
mh_smtp_task_supported(const struct mh_smtp_params *p)
{
    /* An address of the family asked for (-4/-6): mh_resolve_host then
     * parses it and never looks anything up. */
    int fam = mh_host_is_v6(p->host) ? AF_INET6 : AF_INET;
    return mh_smtp_task_supported_after_lookup(p) &&
           mh_is_ip_literal(p->host) &&
           (p->family == AF_UNSPEC || p->family == fam);
}

bool
mh_smtp_task_supported_after_lookup(const struct mh_smtp_params *p)
{
    return p->host != NULL && !(p->dane && p->tls_mode != MH_TLS_NONE);
}

void
mh_smtp_lookup_run(struct mh_smtp_lookup *lk, const struct mh_smtp_params *p,
                   const struct mh_deadline *dl)
{
    memset(lk, 0, sizeof *lk);
    lk->t0 = mh_monotonic_s();
    lk->io = mh_tcp_resolve(p->host, p->family, p->resolver, dl, &lk->addrs,
                            &lk->naddrs, &lk->ci, lk->err, sizeof lk->err);
}

void
mh_smtp_lookup_set(struct mh_smtp_lookup *lk, double t0,
                   enum mh_resolve_status rs, struct mh_addr *addrs,
                   size_t naddrs, const char *err)
{
    memset(lk, 0, sizeof *lk);
    lk->t0 = t0;
    lk->ci.resolve_s = mh_monotonic_s() - t0;
    lk->io = mh_tcp_resolve_io(rs, &lk->ci);
    lk->addrs = addrs;
    lk->naddrs = naddrs;
    snprintf(lk->err, sizeof lk->err, "%s", err);
}

void
mh_smtp_lookup_free(struct mh_smtp_lookup *lk)
{
    free(lk->addrs);
    lk->addrs = NULL;
    lk->naddrs = 0;
}

/* The connection ended with io: reports it and starts the dialogue. */
static void
task_connected(struct mh_smtp_task *k, enum mh_io io)
{
    k->connecting = false;
    mh_connector_free(&k->conn);
    connect_report(k->c, k->p, k->dl, io, &k->ci, k->err,
                   mh_monotonic_s() - k->t0);
    if (io == MH_IO_OK) {
        k->m = mh_smtp_machine_new(k->t, k->p, k->dl, k->c->where,
                                   &k->c->dialogue);
        if (k->m == NULL) {
            k->c->oom = true;
        }
    }
    k->done = k->m == NULL;
}

struct mh_smtp_task *
mh_smtp_task_new_after(const struct mh_smtp_params *p,
                       const struct mh_deadline *dl, struct mh_smtp_lookup *lk)
{
    struct mh_smtp_task *k = calloc(1, sizeof *k);
    if (k == NULL) {
        return NULL;
    }
    k->p = p;
    k->dl = dl;
    k->c = probe_report(p);
    if (k->c == NULL) {
        free(k);
        return NULL;
    }
    /* The connect phase is timed from the lookup's start, as in
     * mh_smtp_probe. */
    k->t0 = lk->t0;
    k->ci = lk->ci;
    snprintf(k->err, sizeof k->err, "%s", lk->err);
    if (lk->io != MH_IO_OK) {
        mh_smtp_lookup_free(lk);
        task_connected(k, lk->io);
        return k;
    }
    mh_connector_init(&k->conn, lk->addrs, lk->naddrs, p->port, dl, &k->ci,
                      k->err, sizeof k->err);
    lk->addrs = NULL; /* the connector's now */
    lk->naddrs = 0;
    k->connecting = true;
    return k;
}

struct mh_smtp_task *
mh_smtp_task_new(const struct mh_smtp_params *p, const struct mh_deadline *dl)
{
    struct mh_smtp_lookup lk;
    if (mh_smtp_task_supported(p)) {
        mh_smtp_lookup_run(&lk, p, dl); /* an address: no lookup */
    } else {
        memset(&lk, 0, sizeof lk);
        lk.t0 = mh_monotonic_s();
        lk.io = MH_IO_ERROR;
        lk.ci.reason = MH_REASON_INTERNAL_ERROR;
        snprintf(lk.err, sizeof lk.err,
                 "%s: not an address of the family asked for (internal "
                 "error: the event loop needs one)",
                 p->host != NULL ? p->host : "");
    }
    return mh_smtp_task_new_after(p, dl, &lk);
}

bool
mh_smtp_task_step(struct mh_smtp_task *k)
{
    if (k->connecting) {
        enum mh_io io = mh_connector_step(&k->conn, &k->t);
        if (io == MH_IO_AGAIN) {
            return false;
        }
        task_connected(k, io);
    }
    if (!k->done && mh_smtp_machine_step(k->m)) {
        k->done = true;
        if (k->c != NULL) {
            k->c->dialogue_run = true; /* its report is complete */
        }
    }
    return k->done;
}

int
mh_smtp_task_fd(const struct mh_smtp_task *k)
{
    if (k->done) {
        return -1;
    }
    return k->connecting ? k->conn.fd : k->t->fd;
}

short
mh_smtp_task_events(const struct mh_smtp_task *k)
{
    return k->connecting ? POLLOUT : k->t->want;
}

const struct mh_deadline *
mh_smtp_task_deadline(const struct mh_smtp_task *k)
{
    return k->connecting ? &k->conn.share : mh_smtp_machine_deadline(k->m);
}

void
mh_smtp_task_expire(struct mh_smtp_task *k)
{
    if (k->connecting) {
        mh_connector_expire(&k->conn);
    } else if (!k->done) {
        mh_smtp_machine_expire(k->m);
    }
}

struct mh_smtp_check_report *
mh_smtp_task_report(struct mh_smtp_task *k)
{
    struct mh_smtp_check_report *c = k->c;
    k->c = NULL;
    if (c != NULL) {
        c->duration_s = mh_deadline_elapsed(k->dl);
    }
    return c;
}

void
mh_smtp_task_free(struct mh_smtp_task *k)
{
    if (k == NULL) {
        return;
    }
    if (k->connecting) {
        mh_connector_free(&k->conn);
    }
    mh_smtp_machine_free(k->m);
    mh_transport_free(k->t);
    mh_smtp_check_report_free(k->c);
    free(k);
}
