/* SPDX-License-Identifier: MIT */
/*
 * smtp: the SMTP probe (see smtp.h). Field cases BR-NN cited in comments
 * are in tests/field-cases.md.
 */
#include "smtp.h"

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
    struct mh_result *report;     /* step 3's report, or NULL */
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
    struct mh_result *report = NULL;
    bool reported = false;
    if (job != NULL) {
        mh_tls_verify_run(job, store, store_failed ? store_err : NULL);
        /* The report too, once the handshake has ended: the dialogue
         * only merges it. */
        pthread_mutex_lock(&w->mu);
        while (!w->facts_given) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        const struct mh_tls_check_params *cp = w->cp;
        const char *version = w->version, *cipher = w->cipher;
        pthread_mutex_unlock(&w->mu);
        if (cp != NULL) {
            reported = true;
            if ((report = mh_result_new("smtp", "")) != NULL) {
                mh_tls_check_job(job, version, cipher, cp, report);
            }
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
    mh_result_free(w->report);
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

/* State of one dialogue. */
struct dlg {
    struct mh_transport *t;
    const struct mh_smtp_params *p;
    const struct mh_deadline *dl;
    const char *where;
    struct mh_result *r;
    struct tls_worker *worker; /* TLS work beside the dialogue, or NULL */
    struct dane_job *dane;     /* the DANE lookup, or NULL: no DANE */
    double dur[MH_PHASE_LAST];
    int code[MH_PHASE_LAST];
    bool seen[MH_PHASE_LAST];
    struct mh_reply reply;
    struct mh_ehlo_caps caps;
    bool tls_active;
    bool esmtp;
    bool failed;        /* a failure ended the dialogue early */
    bool closed;        /* the server closed the connection */
    bool envelope;      /* MAIL FROM was accepted: RSET before QUIT */
    int ehlo_rejected;  /* code EHLO got before the HELO fallback */
    size_t blank_lines; /* empty or blank lines skipped in replies */
    const char *rule;   /* id of the rule that classified the last negative
                           reply (reply_rules.h), NULL after phase_item */
    /* Certificate verification running beside the dialogue (start_tls),
     * reported by tls_report() where the handshake's items end. */
    struct mh_tls_verify_job *vjob;
    size_t tls_items_at;      /* r->nitems after the handshake item */
    enum mh_state tls_before; /* r->state then */
    struct mh_tls_check_params tls_cp;
    size_t max_line;                   /* longest reply line accepted */
    char last[MH_REPLY_TEXT_MAX + 32]; /* formatted last reply */
};

static void
trace(struct dlg *d, const char *dir, const char *line)
{
    if (d->p->trace != NULL) {
        d->p->trace(d->p->trace_arg, dir, line);
    }
}

static void
phase_done(struct dlg *d, enum mh_phase ph, double t0, int code)
{
    /* Repeated phases (EHLO after STARTTLS, several RCPTs) add up. */
    d->dur[ph] += mh_monotonic_s() - t0;
    d->seen[ph] = true;
    if (code != 0) {
        d->code[ph] = code;
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
        d->failed = true;
        mh_result_raise(d->r, MH_STATE_CRITICAL, MH_REASON_PROTOCOL_VIOLATION,
                        "%s: invalid %s: more than %d empty lines", d->where,
                        phase_text(ph), MH_REPLY_MAX_LINES);
        return false;
    }
    if (d->blank_lines > 1) {
        return true;
    }
    mh_result_add_item(d->r, "note", mh_phase_name(ph), MH_STATE_WARNING,
                       MH_REASON_PROTOCOL_VIOLATION,
                       "empty line in the %s, skipped (RFC 5321 4.2: not a "
                       "reply line)",
                       phase_text(ph));
    mh_result_raise(d->r, MH_STATE_WARNING, MH_REASON_PROTOCOL_VIOLATION,
                    "%s: empty line in the %s, skipped", d->where,
                    phase_text(ph));
    return true;
}

/*
 * Reads one complete reply into d->reply. On failure records the failure
 * (category by what went wrong) unless quiet, and returns false.
 */
static bool
read_reply(struct dlg *d, enum mh_phase ph, bool quiet)
{
    mh_reply_init(&d->reply);
    size_t before = d->t->bytes_in;
    for (;;) {
        const char *line;
        size_t len;
        enum mh_io io =
            mh_transport_read_line(d->t, d->max_line, &line, &len, d->dl);
        size_t got = d->t->bytes_in - before;
        if (io != MH_IO_OK) {
            if (io == MH_IO_EOF || io == MH_IO_ERROR) {
                d->closed = true;
            }
            if (quiet) {
                return false;
            }
            d->failed = true;
            switch (io) {
            case MH_IO_TIMEOUT:
                mh_result_raise(
                    d->r, MH_STATE_CRITICAL, MH_REASON_REPLY_TIMEOUT,
                    "%s: timeout after %g s waiting for %s, %zu "
                    "bytes received",
                    d->where, mh_deadline_length(d->dl), phase_text(ph), got);
                break;
            case MH_IO_EOF:
                mh_result_raise(d->r, MH_STATE_CRITICAL,
                                MH_REASON_CONNECTION_CLOSED,
                                "%s: server closed the connection while we "
                                "waited for the %s (%zu bytes received)",
                                d->where, phase_text(ph), got);
                break;
            case MH_IO_TOOLONG:
                mh_result_raise(d->r, MH_STATE_CRITICAL,
                                MH_REASON_PROTOCOL_VIOLATION,
                                "%s: invalid %s: line longer than %d octets "
                                "(RFC 5321 4.5.3.1.5)",
                                d->where, phase_text(ph), (int)d->max_line);
                break;
            case MH_IO_TLS:
                mh_result_raise(d->r, MH_STATE_CRITICAL,
                                d->t->reason != MH_REASON_NONE
                                    ? d->t->reason
                                    : MH_REASON_TLS_ERROR,
                                "%s: %s while waiting for the %s", d->where,
                                d->t->err, phase_text(ph));
                break;
            default:
                mh_result_raise(d->r, MH_STATE_CRITICAL,
                                MH_REASON_CONNECTION_CLOSED,
                                "%s: connection lost while waiting for the "
                                "%s: %s",
                                d->where, phase_text(ph), d->t->err);
                break;
            }
            return false;
        }
        char shown[MH_REPLY_LINE_HARD_MAX + 1];
        char *sv = mh_text_printable(line, len);
        snprintf(shown, sizeof shown, "%s", sv != NULL ? sv : "");
        free(sv);
        trace(d, "<<<", shown);
        enum mh_reply_status st = mh_reply_feed(&d->reply, line, len);
        if (st == MH_REPLY_SKIPPED) {
            if (!blank_line(d, ph)) {
                return false;
            }
            continue;
        }
        if (st == MH_REPLY_DONE) {
            mh_reply_format(&d->reply, d->last, sizeof d->last);
            if (d->reply.inconsistent) {
                mh_result_add_item(
                    d->r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                    "%s: reply lines carry different codes "
                    "(first %d, last %d); the last decides "
                    "(RFC 5321 4.2.1)",
                    phase_text(ph), d->reply.first_code, d->reply.code);
            }
            return true;
        }
        if (st == MH_REPLY_BAD) {
            if (!quiet) {
                d->failed = true;
                mh_result_raise(d->r, MH_STATE_CRITICAL,
                                MH_REASON_PROTOCOL_VIOLATION,
                                "%s: invalid %s: %s: \"%.80s\"", d->where,
                                phase_text(ph), d->reply.error, shown);
            }
            return false;
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
}

/* Adds the long-output item of a phase. */
static struct mh_item *
phase_item(struct dlg *d, enum mh_phase ph, enum mh_state st,
           enum mh_reason reason, const char *text)
{
    struct mh_item *it = mh_result_add_item(d->r, "phase", mh_phase_name(ph),
                                            st, reason, "%s", text);
    if (it != NULL) {
        mh_item_set_num(d->r, it, "duration_seconds", d->dur[ph]);
        if (d->code[ph] != 0) {
            mh_item_set_num(d->r, it, "reply_code", d->code[ph]);
        }
        if (d->reply.enhanced[0] != '\0' && d->code[ph] == d->reply.code) {
            mh_item_set_str(d->r, it, "enhanced_code", d->reply.enhanced);
        }
        if (d->rule != NULL && st != MH_STATE_OK) {
            mh_item_set_str(d->r, it, "rule", d->rule);
        }
    }
    d->rule = NULL;
    return it;
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
    mh_result_raise(d->r, st, reason, "%s %s: %s", d->where, what, d->last);
}

/* ====== QUIT ====== */

static void
quit(struct dlg *d, bool wait_reply)
{
    if (d->closed) {
        return;
    }
    double t0 = mh_monotonic_s();
    if (send_cmd(d, "QUIT", NULL) != MH_IO_OK) {
        mh_result_add_item(d->r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                           "server closed the connection before QUIT");
        return;
    }
    /* After a timeout the check's deadline is gone: QUIT is sent as a
     * courtesy and its reply not awaited (waiting 0 s and then saying the
     * server closed the connection would be wrong). */
    if (!wait_reply || mh_deadline_expired(d->dl)) {
        return;
    }
    /* A short deadline of its own, inside the check's deadline. */
    struct mh_deadline qdl = *d->dl;
    double cap = mh_monotonic_s() + QUIT_WAIT_S;
    if (cap < qdl.end) {
        qdl.end = cap;
    }
    const struct mh_deadline *saved = d->dl;
    d->dl = &qdl;
    bool ok = read_reply(d, MH_PHASE_QUIT, true);
    d->dl = saved;
    phase_done(d, MH_PHASE_QUIT, t0, ok ? d->reply.code : 0);
    if (!ok) {
        /* RFC 5321 4.1.1.10 wants a 221, but a missing one says nothing
         * about mail delivery (field case BR-28): a note only. */
        if (d->closed) {
            mh_result_add_item(d->r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                               "server closed the connection before "
                               "answering QUIT");
        } else {
            mh_result_add_item(d->r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                               "no valid reply to QUIT within %.1f s",
                               qdl.end - t0);
        }
    } else if (d->reply.code != 221) {
        mh_result_add_item(d->r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                           "unexpected reply to QUIT: %s", d->last);
    }
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

static bool
start_tls(struct dlg *d)
{
    const struct mh_smtp_params *p = d->p;
    struct mh_tls_params tp = {
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
        tp.on_certificates = start_verification;
        tp.on_certificates_arg = d;
    }
    double t0 = mh_monotonic_s();
    tp.ctx = tls_worker_ctx(d->worker);
    enum mh_io io = mh_transport_start_tls(d->t, &tp, d->dl);
    phase_done(d, MH_PHASE_TLS_HANDSHAKE, t0, 0);
    if (io != MH_IO_OK) {
        /* No certificate check on a failed handshake. */
        tls_worker_facts(d->worker, NULL, NULL, NULL);
        verification_wait(d);
        mh_tls_verify_free(d->vjob);
        d->vjob = NULL;
        d->failed = true;
        d->closed = true; /* the stream is unusable now */
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
        mh_result_raise(d->r, MH_STATE_CRITICAL, reason, "%s: %s", d->where,
                        msg);
        return false;
    }
    d->tls_active = true;
    const char *ver = SSL_get_version(d->t->ssl);
    const char *cipher = SSL_get_cipher_name(d->t->ssl);
    char msg[200];
    snprintf(msg, sizeof msg, "%s %s", ver != NULL ? ver : "?",
             cipher != NULL ? cipher : "?");
    phase_item(d, MH_PHASE_TLS_HANDSHAKE, MH_STATE_OK, MH_REASON_NONE, msg);
    d->tls_items_at = d->r->nitems;
    d->tls_before = d->r->state;
    if (tp.on_certificates != NULL && d->vjob == NULL && d->t->ssl != NULL) {
        /* No certificate arrived (anonymous suite) or memory ran out: the
         * check reports it. */
        start_verification(d->t->ssl, d);
        if (d->vjob == NULL) {
            d->r->oom = true;
        }
    }
    tls_worker_facts(d->worker, p->check_cert ? &d->tls_cp : NULL,
                     SSL_get_version(d->t->ssl),
                     SSL_get_cipher_name(d->t->ssl));
    if (!p->check_cert) {
        mh_tls_note_session(d->t->ssl, d->r);
    }
    return true;
}

/*
 * The certificate check's report, once the verification has finished: its
 * items go right after the handshake's, and the summary is the one the
 * check would have given had it reported there, before the phases that
 * followed (the first failure at the worst state is the summary,
 * mh_result_raise).
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
        struct mh_result *tr = NULL;
        if (w != NULL && w->started && w->reported) {
            tr = w->report; /* made beside the dialogue (NULL: no memory) */
            w->report = NULL;
        } else if ((tr = mh_result_new("smtp", "")) != NULL) {
            mh_tls_check_job(d->vjob, SSL_get_version(d->t->ssl),
                             SSL_get_cipher_name(d->t->ssl), &d->tls_cp, tr);
        }
        if (tr == NULL) {
            d->r->oom = true;
        } else {
            mh_result_merge_at(d->r, tr, d->tls_items_at, d->tls_before);
        }
    }
    mh_tls_verify_free(d->vjob);
    d->vjob = NULL;
}

/* ====== EHLO / HELO ====== */

/* Sends EHLO (or HELO after 500/502/504) and parses the capabilities.
 * Returns false when the dialogue must end. */
static bool
ehlo(struct dlg *d)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "EHLO %s", d->p->ehlo_name);
    double t0 = mh_monotonic_s();
    if (send_cmd(d, cmd, NULL) != MH_IO_OK) {
        d->failed = d->closed = true;
        mh_result_raise(d->r, MH_STATE_CRITICAL, MH_REASON_CONNECTION_CLOSED,
                        "%s: connection lost sending EHLO: %s", d->where,
                        d->t->err);
        return false;
    }
    bool ok = read_reply(d, MH_PHASE_EHLO, false);
    phase_done(d, MH_PHASE_EHLO, t0, ok ? d->reply.code : 0);
    if (!ok) {
        phase_item(d, MH_PHASE_EHLO, d->r->state, d->r->reason,
                   d->r->summary != NULL ? d->r->summary : "failed");
        return false;
    }
    /* Capabilities from before TLS are forgotten (RFC 3207 4.2). */
    memset(&d->caps, 0, sizeof d->caps);
    if (d->reply.code == 250) {
        mh_ehlo_parse(&d->reply, &d->caps);
        d->esmtp = true;
        char text[MH_REPLY_TEXT_MAX + 64];
        /* Only the first line in the long output; the list is in JSON. */
        snprintf(text, sizeof text, "250 %.*s",
                 (int)strcspn(d->reply.text, "\n"), d->reply.text);
        struct mh_item *it =
            phase_item(d, MH_PHASE_EHLO, MH_STATE_OK, MH_REASON_NONE, text);
        if (it != NULL) {
            char ext[300];
            snprintf(ext, sizeof ext, "%s%s%s%s%s%s%s%s",
                     (d->caps.ext & MH_EXT_STARTTLS) ? "STARTTLS " : "",
                     (d->caps.ext & MH_EXT_AUTH) ? "AUTH " : "",
                     (d->caps.ext & MH_EXT_SIZE) ? "SIZE " : "",
                     (d->caps.ext & MH_EXT_PIPELINING) ? "PIPELINING " : "",
                     (d->caps.ext & MH_EXT_8BITMIME) ? "8BITMIME " : "",
                     (d->caps.ext & MH_EXT_SMTPUTF8) ? "SMTPUTF8 " : "",
                     (d->caps.ext & MH_EXT_ENHANCEDSTATUSCODES)
                         ? "ENHANCEDSTATUSCODES "
                         : "",
                     (d->caps.ext & MH_EXT_CHUNKING) ? "CHUNKING " : "");
            size_t el = strlen(ext);
            if (el > 0) {
                ext[el - 1] = '\0';
            }
            mh_item_set_str(d->r, it, "extensions", ext);
            if (d->caps.mech_list[0] != '\0') {
                mh_item_set_str(d->r, it, "auth_mechanisms", d->caps.mech_list);
            }
        }
        return true;
    }
    int c = d->reply.code;
    /* RFC 5321 3.2 / 4.1.4: fall back to HELO when EHLO is not known:
     * 500 and 502 (command unrecognised / not implemented), and 504
     * (parameter not implemented). Never after 4xx: the server is
     * refusing service (421), not EHLO. 501 (syntax error) is a real
     * answer about our argument and is reported. */
    if (c == 500 || c == 502 || c == 504) {
        d->ehlo_rejected = c;
        char ehlo_reply[sizeof d->last];
        snprintf(ehlo_reply, sizeof ehlo_reply, "%s", d->last);
        snprintf(cmd, sizeof cmd, "HELO %s", d->p->ehlo_name);
        t0 = mh_monotonic_s();
        if (send_cmd(d, cmd, NULL) != MH_IO_OK) {
            d->failed = d->closed = true;
            mh_result_raise(d->r, MH_STATE_CRITICAL,
                            MH_REASON_CONNECTION_CLOSED,
                            "%s: connection lost sending HELO", d->where);
            return false;
        }
        ok = read_reply(d, MH_PHASE_EHLO, false);
        phase_done(d, MH_PHASE_EHLO, t0, ok ? d->reply.code : 0);
        if (!ok) {
            return false;
        }
        if (d->reply.code != 250) {
            d->failed = true;
            reply_failure(d, MH_PHASE_EHLO, "HELO rejected");
            return false;
        }
        char text[sizeof d->last + 128];
        snprintf(text, sizeof text,
                 "HELO accepted (server does not support ESMTP; EHLO got %s)",
                 ehlo_reply);
        phase_item(d, MH_PHASE_EHLO, MH_STATE_OK, MH_REASON_NONE, text);
        d->esmtp = false;
        return true;
    }
    d->failed = true;
    reply_failure(d, MH_PHASE_EHLO, "EHLO rejected");
    return false;
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

/* Sends one secret line (never traced) and reads the reply. */
static bool
auth_step(struct dlg *d, const char *line)
{
    if (send_cmd(d, line, "<credentials redacted>") != MH_IO_OK) {
        d->failed = d->closed = true;
        mh_result_raise(d->r, MH_STATE_CRITICAL, MH_REASON_CONNECTION_CLOSED,
                        "%s: connection lost during AUTH", d->where);
        return false;
    }
    return read_reply(d, MH_PHASE_AUTH, false);
}

static bool
auth_plain(struct dlg *d)
{
    const char *u = d->p->auth_user, *pw = d->p->auth_password;
    unsigned char raw[600];
    size_t ul = strlen(u), pl = strlen(pw);
    if (ul + pl + 2 > sizeof raw) {
        return false;
    }
    /* RFC 4616: [authzid] NUL authcid NUL passwd. */
    raw[0] = '\0';
    memcpy(raw + 1, u, ul);
    raw[1 + ul] = '\0';
    memcpy(raw + 2 + ul, pw, pl);
    char b64[820], cmd[840];
    int rc = b64_encode(raw, ul + pl + 2, b64, sizeof b64);
    OPENSSL_cleanse(raw, sizeof raw);
    if (rc != 0) {
        return false;
    }
    /* Initial response (RFC 4954 4): one round trip. */
    snprintf(cmd, sizeof cmd, "AUTH PLAIN %s", b64);
    bool ok = auth_step(d, cmd);
    if (ok && d->reply.code == 334) {
        /* A server that wants the response separately. */
        ok = auth_step(d, b64);
    }
    OPENSSL_cleanse(b64, sizeof b64);
    OPENSSL_cleanse(cmd, sizeof cmd);
    return ok;
}

static bool
auth_login(struct dlg *d)
{
    /* No initial response with LOGIN: some servers ignore it (BR-17 B).
     * The challenges' text ("Username:", "username:", anything) is not
     * checked, only their order (BR-17 A). */
    if (send_cmd(d, "AUTH LOGIN", NULL) != MH_IO_OK ||
        !read_reply(d, MH_PHASE_AUTH, false)) {
        return false;
    }
    const char *parts[2] = {d->p->auth_user, d->p->auth_password};
    for (int i = 0; i < 2; i++) {
        if (d->reply.code != 334) {
            return true; /* evaluated by the caller */
        }
        char b64[820];
        if (b64_encode((const unsigned char *)parts[i], strlen(parts[i]), b64,
                       sizeof b64) != 0) {
            return false;
        }
        bool ok = auth_step(d, b64);
        OPENSSL_cleanse(b64, sizeof b64);
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool
auth_cram_md5(struct dlg *d)
{
    if (send_cmd(d, "AUTH CRAM-MD5", NULL) != MH_IO_OK ||
        !read_reply(d, MH_PHASE_AUTH, false)) {
        return false;
    }
    if (d->reply.code != 334) {
        return true;
    }
    /* RFC 2195: the challenge is base64; the response is
     * base64(user " " hex(HMAC-MD5(password, challenge))). */
    unsigned char chal[600];
    int cl = b64_decode(d->reply.text, chal, sizeof chal);
    if (cl < 0) {
        d->failed = true;
        mh_result_raise(d->r, MH_STATE_CRITICAL, MH_REASON_AUTH_PROTOCOL,
                        "%s: invalid CRAM-MD5 challenge (not base64)",
                        d->where);
        return false;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    const char *pw = d->p->auth_password;
    if (HMAC(EVP_md5(), pw, (int)strlen(pw), chal, (size_t)cl, mac, &maclen) ==
        NULL) {
        d->failed = true;
        mh_result_raise(d->r, MH_STATE_UNKNOWN, MH_REASON_INTERNAL_ERROR,
                        "%s: HMAC-MD5 not available in this OpenSSL", d->where);
        return false;
    }
    char resp[400];
    int n = snprintf(resp, sizeof resp, "%s ", d->p->auth_user);
    for (unsigned i = 0; i < maclen && n > 0 && (size_t)n + 3 < sizeof resp;
         i++) {
        n += snprintf(resp + n, sizeof resp - (size_t)n, "%02x", mac[i]);
    }
    char b64[820];
    bool ok = n > 0 &&
              b64_encode((const unsigned char *)resp, (size_t)n, b64,
                         sizeof b64) == 0 &&
              auth_step(d, b64);
    OPENSSL_cleanse(resp, sizeof resp);
    OPENSSL_cleanse(mac, sizeof mac);
    return ok;
}

static bool
authenticate(struct dlg *d)
{
    const struct mh_smtp_params *p = d->p;
    double t0 = mh_monotonic_s();
    bool ok = false;
    char msg[MH_REPLY_TEXT_MAX + 400];
    enum mh_reason fail_reason = MH_REASON_AUTH_NOT_OFFERED;
    if (!d->tls_active && !p->allow_plaintext_auth) {
        fail_reason = MH_REASON_AUTH_PLAINTEXT;
        snprintf(msg, sizeof msg,
                 "refusing to send credentials over a plaintext connection "
                 "(use --starttls or --tls, or --allow-plaintext-auth)");
        goto fail;
    }
    /* Credentials go only to a server whose certificate verified (chain
     * and name, the TLS worker's verdict): over an unverified session
     * anyone in the path could collect them. --no-verify accepts that risk
     * explicitly. */
    if (d->tls_active && p->verify && d->t->ssl != NULL) {
        verification_wait(d);
        long vr = d->vjob != NULL ? mh_tls_verify_result(d->vjob)
                                  : X509_V_ERR_UNSPECIFIED;
        const char *store_err =
            d->vjob != NULL ? mh_tls_verify_store_error(d->vjob) : NULL;
        if (vr != X509_V_OK && store_err != NULL) {
            snprintf(msg, sizeof msg,
                     "refusing to send credentials: the server's certificate "
                     "could not be verified (%s)",
                     store_err);
        } else if (vr != X509_V_OK) {
            snprintf(msg, sizeof msg,
                     "refusing to send credentials: the server's certificate "
                     "did not verify (%s); give --ca-file/--ca-path or "
                     "--verify-name, or --no-verify",
                     X509_verify_cert_error_string(vr));
        }
        if (vr != X509_V_OK) {
            phase_done(d, MH_PHASE_AUTH, t0, 0);
            d->failed = true;
            phase_item(d, MH_PHASE_AUTH, MH_STATE_CRITICAL,
                       MH_REASON_AUTH_CERT_UNVERIFIED, msg);
            mh_result_raise(d->r, MH_STATE_CRITICAL,
                            MH_REASON_AUTH_CERT_UNVERIFIED, "%s: %s", d->where,
                            msg);
            return false;
        }
    }
    if (!d->esmtp || (d->caps.ext & MH_EXT_AUTH) == 0) {
        if (!d->esmtp) {
            snprintf(msg, sizeof msg,
                     "AUTH unavailable: server rejected EHLO (%d)",
                     d->ehlo_rejected);
        } else {
            snprintf(msg, sizeof msg, "AUTH not offered%s",
                     d->tls_active && p->tls_mode == MH_TLS_STARTTLS
                         ? " after STARTTLS"
                         : "");
        }
        goto fail;
    }
    unsigned mech;
    if (p->auth_mech != 0) {
        mech = p->auth_mech;
        if ((d->caps.mechs & mech) == 0) {
            snprintf(msg, sizeof msg, "mechanism %s not offered (offered: %s)",
                     mh_mech_name(mech), d->caps.mech_list);
            goto fail;
        }
    } else if (d->tls_active) {
        /* Under TLS the simplest is best; CRAM-MD5 needs the server to
         * store plaintext passwords and adds nothing. */
        mech = (d->caps.mechs & MH_MECH_PLAIN)   ? MH_MECH_PLAIN
               : (d->caps.mechs & MH_MECH_LOGIN) ? MH_MECH_LOGIN
                                                 : MH_MECH_CRAM_MD5;
    } else {
        mech = (d->caps.mechs & MH_MECH_CRAM_MD5) ? MH_MECH_CRAM_MD5
               : (d->caps.mechs & MH_MECH_PLAIN)  ? MH_MECH_PLAIN
                                                  : MH_MECH_LOGIN;
    }
    if ((d->caps.mechs & mech) == 0) {
        snprintf(msg, sizeof msg,
                 "no supported mechanism offered (offered: "
                 "%s; supported: PLAIN LOGIN CRAM-MD5)",
                 d->caps.mech_list);
        goto fail;
    }
    const char *mname = mh_mech_name(mech);
    /* One attempt only: trying other mechanisms after a 535 hides the real
     * answer and counts against the account (BR-18). */
    ok = mech == MH_MECH_PLAIN   ? auth_plain(d)
         : mech == MH_MECH_LOGIN ? auth_login(d)
                                 : auth_cram_md5(d);
    phase_done(d, MH_PHASE_AUTH, t0, ok ? d->reply.code : 0);
    if (!ok) {
        d->failed = true;
        if (d->r->state == MH_STATE_OK) {
            mh_result_raise(d->r, MH_STATE_CRITICAL, MH_REASON_AUTH_FAILED,
                            "%s: AUTH %s failed", d->where, mname);
        }
        phase_item(d, MH_PHASE_AUTH, d->r->state, d->r->reason,
                   d->r->summary != NULL ? d->r->summary : "failed");
        return false;
    }
    if (d->reply.code == 235) {
        snprintf(msg, sizeof msg, "AUTH %s ok: %s", mname, d->last);
        phase_item(d, MH_PHASE_AUTH, MH_STATE_OK, MH_REASON_NONE, msg);
        return true;
    }
    d->failed = true;
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
    mh_result_raise(d->r, st, reason, "%s %s", d->where, msg);
    return false;

fail:
    phase_done(d, MH_PHASE_AUTH, t0, 0);
    d->failed = true;
    phase_item(d, MH_PHASE_AUTH, MH_STATE_CRITICAL, fail_reason, msg);
    mh_result_raise(d->r, MH_STATE_CRITICAL, fail_reason, "%s: %s", d->where,
                    msg);
    return false;
}

/* ====== Envelope ====== */

/* Sends cmd in phase ph and reads the reply; false on I/O failure. */
static bool
command(struct dlg *d, enum mh_phase ph, const char *cmd)
{
    double t0 = mh_monotonic_s();
    if (send_cmd(d, cmd, NULL) != MH_IO_OK) {
        d->failed = d->closed = true;
        mh_result_raise(d->r, MH_STATE_CRITICAL, MH_REASON_CONNECTION_CLOSED,
                        "%s: connection lost sending %s: %s", d->where, cmd,
                        d->t->err);
        return false;
    }
    bool ok = read_reply(d, ph, false);
    phase_done(d, ph, t0, ok ? d->reply.code : 0);
    return ok;
}

static bool
envelope(struct dlg *d)
{
    const struct mh_smtp_params *p = d->p;
    char cmd[600], what[MH_REPLY_TEXT_MAX + 800];
    snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>",
             p->mail_from != NULL ? p->mail_from : "");
    if (!command(d, MH_PHASE_MAIL, cmd)) {
        return false;
    }
    if (d->reply.code != 250) {
        d->failed = true;
        reply_failure(d, MH_PHASE_MAIL, "MAIL FROM rejected");
        return false;
    }
    phase_item(d, MH_PHASE_MAIL, MH_STATE_OK, MH_REASON_NONE, d->last);
    d->envelope = true;

    for (size_t i = 0; i < p->nrcpt; i++) {
        snprintf(cmd, sizeof cmd, "RCPT TO:<%s>", p->rcpt_to[i]);
        if (!command(d, MH_PHASE_RCPT, cmd)) {
            return false;
        }
        /* RFC 5321 4.2.2: 250 and 251 accept the recipient. */
        if (d->reply.code == 250 || d->reply.code == 251) {
            snprintf(what, sizeof what, "<%s> accepted: %s", p->rcpt_to[i],
                     d->last);
            phase_item(d, MH_PHASE_RCPT, MH_STATE_OK, MH_REASON_NONE, what);
        } else {
            snprintf(what, sizeof what, "RCPT TO:<%s> rejected", p->rcpt_to[i]);
            reply_failure(d, MH_PHASE_RCPT, what);
            if (d->reply.code == 421) {
                d->failed = true; /* the server is closing */
                return false;
            }
        }
    }
    if (p->relay_test != NULL) {
        snprintf(cmd, sizeof cmd, "RCPT TO:<%s>", p->relay_test);
        if (!command(d, MH_PHASE_RCPT, cmd)) {
            return false;
        }
        if (d->reply.code >= 200 && d->reply.code < 400) {
            snprintf(what, sizeof what,
                     "open relay: RCPT TO:<%s> accepted without "
                     "authentication (%s)",
                     p->relay_test, d->last);
            struct mh_item *it = mh_result_add_item(
                d->r, "phase", "relay_test", MH_STATE_CRITICAL,
                MH_REASON_OPEN_RELAY, "%s", what);
            mh_item_set_num(d->r, it, "reply_code", d->reply.code);
            mh_result_raise(d->r, MH_STATE_CRITICAL, MH_REASON_OPEN_RELAY,
                            "%s %s", d->where, what);
        } else {
            struct mh_item *it = mh_result_add_item(
                d->r, "phase", "relay_test", MH_STATE_OK, MH_REASON_NONE,
                "relay to <%s> refused as it must be: %s", p->relay_test,
                d->last);
            mh_item_set_num(d->r, it, "reply_code", d->reply.code);
        }
    }
    return true;
}

/* ====== The dialogue ====== */

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
    mh_result_raise(d->r, st, reason, "%s greeting %s", d->where, d->last);
}

/* The DANE check once the dialogue is over (dane.h): against the
 * session's chain, or without a session (STARTTLS missing or failed). */
static void
dane_report(struct dlg *d)
{
    if (d->dane == NULL) {
        return;
    }
    const struct mh_dane_lookup *lk = dane_job_lookup(d->dane);
    const struct mh_smtp_params *p = d->p;
    struct mh_dane_check_params dp = {
        .base = d->dane->name,
        .mx_name = NULL,
        .required = p->dane_required,
        .cert_warn_days = p->cert_warn_days,
        .rrsig_warn_days = p->rrsig_warn_days,
        .rrsig_crit_days = p->rrsig_crit_days,
        .next_key = p->tlsa_next_key,
        .now = d->dane->now,
        .where = d->where,
    };
    SSL *ssl = d->tls_active ? d->t->ssl : NULL;
    mh_dane_check(lk, ssl != NULL ? SSL_get_SSL_CTX(ssl) : NULL,
                  ssl != NULL ? SSL_get_peer_cert_chain(ssl) : NULL, &dp, d->r);
}

static void
dialogue(struct mh_transport *t, const struct mh_smtp_params *p,
         const struct mh_deadline *dl, const char *where, struct mh_result *r,
         struct tls_worker *worker, struct dane_job *dane)
{
    struct dlg d;
    memset(&d, 0, sizeof d);
    d.t = t;
    d.p = p;
    d.dl = dl;
    d.where = where;
    d.r = r;
    d.worker = worker;
    d.dane = dane;
    d.max_line = p->max_line == 0                       ? MH_REPLY_LINE_MAX
                 : p->max_line > MH_REPLY_LINE_HARD_MAX ? MH_REPLY_LINE_HARD_MAX
                                                        : p->max_line;

    if (p->tls_mode == MH_TLS_IMPLICIT && !start_tls(&d)) {
        goto out;
    }
    if (p->tls_mode == MH_TLS_IMPLICIT && p->tls_only) {
        goto out; /* handshake-only probe: no SMTP greeting is read */
    }

    /* Greeting: read the complete reply before sending anything (RFC 5321
     * 4.3.1; BR-01, BR-02). */
    double t0 = mh_monotonic_s();
    bool ok = read_reply(&d, MH_PHASE_BANNER, false);
    phase_done(&d, MH_PHASE_BANNER, t0, ok ? d.reply.code : 0);
    if (!ok) {
        if (r->category == MH_CAT_CONNECTION && t->bytes_in == 0) {
            /* EOF before any byte: the server dropped us at once. */
            mh_result_override(r, MH_STATE_CRITICAL,
                               MH_REASON_CONNECTION_CLOSED,
                               "%s: server closed the connection before the "
                               "greeting",
                               where);
        }
        phase_item(&d, MH_PHASE_BANNER, r->state, r->reason,
                   r->summary != NULL ? r->summary : "failed");
        goto out;
    }
    int expect = p->expect_greeting != 0 ? p->expect_greeting : 220;
    if (d.reply.code != expect) {
        d.failed = true;
        greeting_failure(&d);
        /* RFC 5321 3.1: after a 554 greeting the client should QUIT; we
         * send it but do not wait: a server that holds the socket open
         * (BR-04 B) must not delay the result. No EHLO is ever sent. */
        quit(&d, false);
        goto out;
    }
    if (expect != 220) {
        char text[sizeof d.last + 32];
        snprintf(text, sizeof text, "greeting %s as expected", d.last);
        phase_item(&d, MH_PHASE_BANNER, MH_STATE_OK, MH_REASON_NONE, text);
        mh_result_set_summary(r, "%s greeting %d as expected", where, expect);
        quit(&d, false);
        goto out;
    }
    phase_item(&d, MH_PHASE_BANNER, MH_STATE_OK, MH_REASON_NONE, d.last);

    if (!ehlo(&d)) {
        goto end;
    }

    if (p->tls_mode == MH_TLS_STARTTLS) {
        enum mh_state need =
            p->starttls_optional ? MH_STATE_WARNING : MH_STATE_CRITICAL;
        if (!d.esmtp || (d.caps.ext & MH_EXT_STARTTLS) == 0) {
            /* Not offered: say so at once, never send STARTTLS anyway
             * (BR-21; BR-07 when EHLO itself was rejected). */
            char msg[300];
            if (!d.esmtp) {
                snprintf(msg, sizeof msg,
                         "STARTTLS unavailable: server rejected EHLO (%d)",
                         d.ehlo_rejected);
            } else {
                snprintf(msg, sizeof msg, "STARTTLS not advertised by %s",
                         p->host);
            }
            mh_result_add_item(r, "phase", "starttls", need,
                               MH_REASON_TLS_REQUIRED, "%s", msg);
            mh_result_raise(r, need, MH_REASON_TLS_REQUIRED, "%s: %s", where,
                            msg);
            if (need == MH_STATE_CRITICAL) {
                d.failed = true;
                goto end;
            }
        } else {
            ok = command(&d, MH_PHASE_STARTTLS, "STARTTLS");
            if (!ok) {
                if (r->category == MH_CAT_CONNECTION ||
                    r->category == MH_CAT_RESPONSE) {
                    /* The session broke at STARTTLS: a TLS problem for
                     * whoever routes the alert. */
                    mh_result_override(r, r->state, MH_REASON_STARTTLS_REFUSED,
                                       NULL);
                }
                phase_item(&d, MH_PHASE_STARTTLS, r->state, r->reason,
                           r->summary != NULL ? r->summary : "failed");
                goto end;
            }
            if (d.reply.code != 220) {
                /* 454 and friends: TLS category, reported at once
                 * (BR-26 D); WARNING when TLS was optional. */
                char msg[sizeof d.last + 40];
                snprintf(msg, sizeof msg, "STARTTLS refused: %s", d.last);
                mh_result_add_item(r, "phase", "starttls", need,
                                   MH_REASON_STARTTLS_REFUSED, "%s", msg);
                mh_result_raise(r, need, MH_REASON_STARTTLS_REFUSED, "%s %s",
                                where, msg);
                if (need == MH_STATE_CRITICAL) {
                    d.failed = true;
                    goto end;
                }
            } else {
                phase_item(&d, MH_PHASE_STARTTLS, MH_STATE_OK, MH_REASON_NONE,
                           d.last);
                if (!start_tls(&d)) {
                    goto out;
                }
                /* RFC 3207 4.2: forget everything, EHLO again. */
                if (!ehlo(&d)) {
                    goto end;
                }
            }
        }
    }

    if (p->auth_user != NULL && !authenticate(&d)) {
        goto end;
    }
    if ((p->mail_from != NULL || p->nrcpt > 0 || p->relay_test != NULL) &&
        !envelope(&d)) {
        goto end;
    }
    if (d.envelope) {
        /* RSET: leave no transaction behind (RFC 5321 4.1.1.5). Timed as
         * part of the closing "quit" phase. */
        if (command(&d, MH_PHASE_QUIT, "RSET") && d.reply.code != 250) {
            mh_result_add_item(r, "note", "", MH_STATE_OK, MH_REASON_NONE,
                               "unexpected reply to RSET: %s", d.last);
        }
    }

end:
    quit(&d, !d.failed || d.reply.code != 421);
out:
    tls_report(&d);
    dane_report(&d);
    /* Phase metrics: every phase that ran, in dialogue order. */
    for (int ph = 0; ph < (int)MH_PHASE_LAST; ph++) {
        if (!d.seen[ph]) {
            continue;
        }
        const char *name = mh_phase_name((enum mh_phase)ph);
        char label[48];
        snprintf(label, sizeof label, "time_%s", name);
        const double zero = 0;
        mh_result_add_perf(r, label, d.dur[ph], MH_UNIT_SECONDS, NULL, NULL,
                           &zero, NULL);
        mh_result_add_sample(r, "mailhealth_smtp_phase_duration_seconds",
                             d.dur[ph], "phase", name, (const char *)NULL);
        if (d.code[ph] != 0) {
            mh_result_add_sample(r, "mailhealth_smtp_reply_code",
                                 (double)d.code[ph], "phase", name,
                                 (const char *)NULL);
        }
    }
    if (r->state == MH_STATE_OK && r->summary == NULL) {
        char tls[120] = "";
        if (d.tls_active) {
            snprintf(tls, sizeof tls, ", %s %s",
                     p->tls_mode == MH_TLS_STARTTLS ? "STARTTLS"
                                                    : "implicit TLS",
                     SSL_get_version(t->ssl));
        }
        mh_result_raise(
            r, MH_STATE_OK, MH_REASON_NONE, "%s %s%s%s%s, %.3f s response time",
            where, d.esmtp ? "ESMTP ok" : "SMTP ok (HELO)", tls,
            p->auth_user != NULL ? ", AUTH ok" : "",
            d.envelope ? ", envelope ok" : "", mh_deadline_elapsed(dl));
    }
}

void
mh_smtp_dialogue(struct mh_transport *t, const struct mh_smtp_params *p,
                 const struct mh_deadline *dl, const char *where,
                 struct mh_result *r)
{
    dialogue(t, p, dl, where, r, NULL, NULL);
}

struct mh_result *
mh_smtp_probe(const struct mh_smtp_params *p, const struct mh_deadline *dl)
{
    char target[300];
    const char *name = p->peer_name != NULL ? p->peer_name : p->host;
    mh_peer_label(target, sizeof target, p->peer_name, p->host, p->port);
    struct mh_result *r =
        mh_result_new(p->check != NULL ? p->check : "smtp", target);
    if (r == NULL) {
        return NULL;
    }
    struct tls_worker worker;
    memset(&worker, 0, sizeof worker);
    if (p->tls_mode != MH_TLS_NONE) {
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
    double connect_s = mh_monotonic_s() - t0;
    /* Connect first among the phase perfdata, in dialogue order. */
    const double zero = 0;
    mh_result_add_perf(r, "time_connect", connect_s, MH_UNIT_SECONDS, NULL,
                       NULL, &zero, NULL);
    mh_result_add_sample(r, "mailhealth_smtp_phase_duration_seconds", connect_s,
                         "phase", "connect", (const char *)NULL);
    char where[400];
    mh_peer_label(where, sizeof where, name, ci.address, p->port);
    if (io != MH_IO_OK) {
        enum mh_reason reason = ci.reason;
        if (reason == MH_REASON_NONE) {
            reason = io == MH_IO_TIMEOUT ? MH_REASON_CONNECT_TIMEOUT
                                         : MH_REASON_NETWORK_UNREACHABLE;
        }
        enum mh_state st = mh_reason_category(reason) == MH_CAT_NONE
                               ? MH_STATE_UNKNOWN
                               : MH_STATE_CRITICAL;
        mh_result_add_item(r, "phase", "connect", st, reason, "%s", err);
        if (io == MH_IO_TIMEOUT && mh_deadline_expired(dl)) {
            mh_result_raise(r, st, reason, "%s: no connection within %g s: %s",
                            where, mh_deadline_length(dl), err);
        } else if (io == MH_IO_TIMEOUT) {
            mh_result_raise(r, st, reason, "%s: %s", where, err);
        } else {
            mh_result_raise(r, st, reason, "%s: connect failed: %s", where,
                            err);
        }
    } else {
        struct mh_item *it = mh_result_add_item(
            r, "phase", "connect", MH_STATE_OK, MH_REASON_NONE,
            "connected to %s (%.3f s)", where, connect_s);
        mh_item_set_num(r, it, "duration_seconds", connect_s);
        mh_item_set_str(r, it, "address", ci.address);
        dialogue(t, p, dl, where, r, &worker, with_dane ? &dane : NULL);
    }
    if (with_dane) {
        dane_job_end(&dane);
    }
    tls_worker_end(&worker);
    mh_transport_free(t);
    r->duration_s = mh_deadline_elapsed(dl);
    return r;
}
