/* SPDX-License-Identifier: MIT */
/*
 * smtp: the SMTP probe. One dialogue with one server (RFC 5321): greeting,
 * EHLO (HELO fallback), STARTTLS (RFC 3207) or implicit TLS, AUTH
 * (RFC 4954), MAIL FROM, RCPT TO, relay test, RSET, QUIT. Every reply is
 * evaluated and every failure is reported with its phase, the server's reply
 * and one category (reply.h: mh_reply_classify).
 *
 * The probe never talks first (it waits for the whole greeting), sends one
 * command per round trip (never pipelines), never waits past the deadline,
 * and never prints: facts go into a struct mh_smtp_report (below), and the
 * whole check's into a struct mh_smtp_check_report (connection, dialogue,
 * certificates, DANE), which plugin/report_smtp.c turns into a result.
 */
#ifndef MH_SMTP_H
#define MH_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dane.h"
#include "deadline.h"
#include "reply.h"  /* MH_MECH_* */
#include "result.h" /* enum mh_state, enum mh_reason */
#include "tlscheck.h"
#include "transport.h"

enum mh_tls_mode {
    MH_TLS_NONE = 0, /* plain SMTP */
    MH_TLS_STARTTLS, /* STARTTLS required (RFC 3207) */
    MH_TLS_IMPLICIT  /* TLS from the first byte (RFC 8314, port 465) */
};

/* Trace callback for -v: dir is "<<<" (received) or ">>>" (sent); line is
 * already redacted (AUTH exchanges never appear). */
typedef void (*mh_trace_fn)(void *arg, const char *dir, const char *line);

struct mh_smtp_params {
    const char *check;     /* the result's check name; NULL: "smtp" */
    const char *host;      /* name or address to connect to */
    const char *peer_name; /* name shown in messages and in the target when
                              host is one address of it (domain mode: the MX
                              name); NULL: host */
    uint16_t port;         /* TCP port, 1..65535 */
    int family;            /* AF_UNSPEC, AF_INET, AF_INET6 */
    const char *resolver;  /* "IP[:PORT]" or NULL: system resolver */
    const char *ehlo_name; /* name sent with EHLO/HELO */
    int expect_greeting;   /* greeting code that counts as success; 0: 220 */
    size_t max_line;       /* longest reply line in octets without CRLF;
                              0: MH_REPLY_LINE_MAX (RFC 5321 4.5.3.1.5) */

    enum mh_tls_mode tls_mode;
    bool starttls_optional;  /* STARTTLS missing/refused: WARNING, go on */
    const char *sni;         /* server name for SNI; NULL: none */
    const char *verify_name; /* RFC 6125 name; NULL: none */
    const char *ca_file, *ca_path;
    int tls_min_version; /* 0: TLS 1.2 */
    bool check_cert;     /* run the certificate checks (tlscheck.h) */
    bool tls_only;       /* with MH_TLS_IMPLICIT: handshake and
                            certificate checks only, no SMTP dialogue
                            (tls subcommand on any implicit-TLS port,
                            e.g. IMAPS 993); ignored otherwise */
    bool verify;         /* verification failures are CRITICAL (else
                            notes) */
    double cert_warn_days, cert_crit_days;

    /* DANE (dane.h), with STARTTLS or implicit TLS: the TLSA records of
     * _PORT._tcp.NAME (NAME: peer_name, else host) are looked up while
     * the connection is set up and the server greets, and checked against
     * the chain the server sends. */
    bool dane;
    bool dane_required;        /* no TLSA records is CRITICAL tlsa_missing
                                  (smtp/tls --dane); false: a note (domain) */
    const char *dnssec_probe;  /* a name known to be DNSSEC-signed, asked
                                  to tell an unsigned TLSA name from a
                                  resolver that does not validate; NULL:
                                  the root zone */
    const char *tlsa_next_key; /* PEM key/certificate that a TLSA record
                                  must match (--tlsa-next-key), or NULL */
    double rrsig_warn_days, rrsig_crit_days;  /* --rrsig-days */
    const struct mh_dane_lookup *dane_lookup; /* the TLSA lookup done
                                 already (domain mode: once per MX host,
                                 borrowed), or NULL: the probe looks up */

    const char *auth_user;     /* NULL: no AUTH */
    const char *auth_password; /* borrowed; never copied into the result */
    unsigned auth_mech;        /* one MH_MECH_* (reply.h); 0: the best
                                  offered */
    bool allow_plaintext_auth;

    const char *mail_from;      /* NULL: no envelope (unless rcpt/relay) */
    const char *const *rcpt_to; /* recipients that must be accepted */
    size_t nrcpt;
    const char *relay_test; /* foreign address that must be refused */

    mh_trace_fn trace; /* NULL: no trace */
    void *trace_arg;
    bool trace_states; /* -vv: trace every change of the dialogue's state
                          ("* state ehlo -> starttls") */
};

/* ====== The report: what the dialogue found, before any output ======
 *
 * The dialogue fills a struct mh_smtp_report (no output in probes/), and
 * plugin/report_smtp.c turns it into the result's items, perfdata,
 * samples, state and summary, in the manner of the TLS check (tlscheck.h:
 * struct mh_tls_report).
 *
 * The report holds the facts per phase (duration, last reply code and
 * enhanced status code), the capabilities of the last EHLO, the TLS
 * session, the AUTH mechanism, the relay test's outcome and the failure
 * record (the first of the worst failures, the rule of mh_result_raise).
 * The long output tells the dialogue in the order it happened, so the
 * report also keeps its events in that order (struct mh_smtp_event: a
 * phase's outcome with its reply, a note, a failure raised, a later fact
 * that changes a failure's reason, where the certificate report goes);
 * rendering walks them once. All text is bounded and printable (server
 * text escaped by reply.c or textutil).
 */

/* What one event of the dialogue is. */
enum mh_smtp_event_kind {
    MH_SMTP_EV_PHASE,    /* a phase's outcome: item kind "phase" */
    MH_SMTP_EV_NOTE,     /* a fact worth a line: item kind "note" */
    MH_SMTP_EV_FAIL,     /* a failure (state, reason, text: the summary it
                            would be), applied with mh_result_raise's rule */
    MH_SMTP_EV_OVERRIDE, /* a later fact changes the failure's reason */
    MH_SMTP_EV_SUMMARY,  /* the summary as stated (greeting as expected) */
    MH_SMTP_EV_CERTS,    /* the certificate report goes here */
    MH_SMTP_EV_VERSION   /* the session's version and cipher, when no
                            certificate check runs */
};

struct mh_smtp_event {
    enum mh_smtp_event_kind kind;
    const char *name; /* item name: the phase's ("greeting", "ehlo",
                         "relay_test"), a note's ("" or a phase);
                         static or owned by the report */
    enum mh_state state;
    enum mh_reason reason;
    char *text; /* owned; NULL: none */
    bool timed; /* duration_s is the phase's so far */
    double duration_s;
    int code;          /* reply code, 0: none */
    char enhanced[16]; /* enhanced status code (RFC 3463), "": none */
    const char *rule;  /* reply_rules.h id that classified it, or NULL */
    char *extensions;  /* EHLO: the extensions known, owned, or NULL */
    char *mechanisms;  /* EHLO: AUTH mechanisms offered, owned, or NULL */
};

/* Facts of one phase (enum mh_phase); repeated phases (EHLO after
 * STARTTLS, several RCPTs) add their durations. */
struct mh_smtp_phase_facts {
    bool seen;
    double duration_s;
    int code;          /* last reply code, 0: none */
    char enhanced[16]; /* its enhanced status code, "": none */
};

/* The first of the worst failures (the summary's). */
struct mh_smtp_failure {
    enum mh_state state;   /* OK: none (cause may still be the OK summary) */
    enum mh_reason reason; /* its category: mh_reason_category(reason) */
    const char *phase;     /* mh_phase_name of the phase under way */
    int code;              /* the reply that caused it, 0: none */
    char enhanced[16];
    const char *rule; /* reply_rules.h id, or NULL */
    /* That reply as the long output shows it ("550 5.7.1 ..."), or "". */
    char reply[MH_REPLY_TEXT_MAX + 32];
    char cause[1024]; /* the summary text; "" until one is set */
};

/* The relay test's outcome (RFC 5321 3.6: a relay refuses foreign mail
 * without authentication). */
enum mh_smtp_relay {
    MH_SMTP_RELAY_NOT_RUN = 0,
    MH_SMTP_RELAY_REFUSED, /* as it must be */
    MH_SMTP_RELAY_OPEN     /* accepted: CRITICAL open_relay */
};

struct mh_smtp_report {
    struct mh_smtp_event *ev; /* in dialogue order, owned */
    size_t nev, cap;
    struct mh_smtp_phase_facts phase[MH_PHASE_LAST];
    struct mh_ehlo_caps caps; /* of the last EHLO (over TLS when any) */
    bool esmtp;               /* EHLO accepted (false: HELO) */
    int ehlo_rejected;        /* EHLO's code before the HELO fallback */
    enum mh_tls_mode tls_mode;
    bool tls_active;             /* the handshake succeeded */
    char tls_version[32];        /* "TLSv1.3", "" before the handshake */
    char tls_cipher[64];         /* OpenSSL's name of the cipher */
    struct mh_tls_report *certs; /* the certificate check (tlscheck.h),
                                    owned, or NULL: none, or no memory */
    struct mh_tls_check_params certs_params; /* its parameters (where,
                                    thresholds; borrowed strings) */
    unsigned auth_mech;                      /* MH_MECH_* tried, 0: no AUTH */
    bool auth_asked, auth_ok; /* AUTH wanted; it ended with 235 */
    bool envelope;            /* MAIL FROM accepted */
    enum mh_smtp_relay relay;
    /* Where the dialogue is: the phase under way (mh_phase_name), its
     * last reply's code, enhanced status code and text as formatted
     * (borrowed from the dialogue, valid while it runs), and the rule that
     * classified it (or NULL). */
    struct {
        const char *phase;
        int code;
        char enhanced[16];
        const char *reply;
        const char *rule;
    } at;
    struct mh_smtp_failure failure;
    double elapsed_s; /* the check's time when the dialogue ended, in
                         seconds (the OK summary's response time) */
    bool oom;         /* an allocation failed */
};

/* Frees what the report owns (not rep itself). */
void mh_smtp_report_clear(struct mh_smtp_report *rep);

/* Appends one event with text (copied; NULL: none) and returns it, or
 * NULL when out of memory (rep->oom set). A MH_SMTP_EV_FAIL event also
 * updates rep->failure with mh_result_raise's rule (phase, reply and rule
 * from rep->at), MH_SMTP_EV_OVERRIDE replaces its state and reason (and
 * its cause when text is not NULL), MH_SMTP_EV_SUMMARY its cause. */
struct mh_smtp_event *mh_smtp_report_event(struct mh_smtp_report *rep,
                                           enum mh_smtp_event_kind kind,
                                           const char *name, enum mh_state st,
                                           enum mh_reason reason,
                                           const char *text);

/* mh_smtp_report_event with the text formatted (mh_textf). */
struct mh_smtp_event *
mh_smtp_report_add(struct mh_smtp_report *rep, enum mh_smtp_event_kind kind,
                   const char *name, enum mh_state st, enum mh_reason reason,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The connection's facts (before the dialogue). */
struct mh_smtp_connect_facts {
    bool ok;               /* connected */
    double duration_s;     /* the connect phase (lookup included) */
    const char *address;   /* the address connected to (or last tried) */
    enum mh_state state;   /* OK, else CRITICAL (UNKNOWN: a usage error) */
    enum mh_reason reason; /* why not, when !ok */
    const char *error;     /* the transport's message, when !ok */
    const char *cause;     /* the summary, when !ok */
};

/*
 * The whole check's report (mh_smtp_probe, mh_smtp_task): the connection,
 * the dialogue's report with its certificate report, and the DANE check's
 * report. plugin/report_smtp.c renders it: connect, the dialogue's events,
 * the DANE part, the phase metrics and the OK summary, in that order.
 * Made by the probe, owned by the caller (mh_smtp_check_report_free); it
 * is not copied (the connect facts point into its own buffers).
 */
struct mh_smtp_check_report {
    char check[32];   /* the result's check name: p->check, else "smtp" */
    char target[300]; /* "host:port" as mh_peer_label() writes it */
    char where[400];  /* the peer in messages ("name[address]:port") */
    struct mh_smtp_connect_facts connect; /* its strings: the buffers below */
    char address[64], connect_error[512], connect_cause[1024];
    bool dialogue_run;                       /* connected: the dialogue ran */
    struct mh_smtp_report dialogue;          /* its report (certs included) */
    struct mh_dane_report *dane;             /* owned, or NULL: no DANE check */
    struct mh_dane_check_params dane_params; /* how it was checked (where:
                                        this report's; strings borrowed
                                        from the parameters) */
    struct mh_dane_lookup dane_lookup;       /* the lookup the probe made
                                              (owned; dane borrows it, or
                                              p->dane_lookup when given) */
    double duration_s;                       /* the whole check, in seconds */
    bool oom; /* an allocation failed (DANE report, machine) */
};

/* Frees c and what it owns. NULL is fine. */
void mh_smtp_check_report_free(struct mh_smtp_check_report *c);

/*
 * Runs the whole check: resolve and connect (transport.h), then the
 * dialogue, then the DANE check. Returns its new report (check p->check
 * or "smtp", target "host:port" as mh_peer_label() writes it; free with
 * mh_smtp_check_report_free) or NULL when out of memory. It borrows
 * p->dane_lookup and p->tlsa_next_key (render it while they live).
 * Rendered (plugin/report_smtp.c), the state and category (verdict.h):
 * refused/unreachable/closed -> connection; deadline -> timeout; 4xx ->
 * WARNING, 5xx -> CRITICAL with the category of mh_reply_classify; TLS problems
 * -> tls; AUTH -> auth. The result carries items per phase, perfdata time and
 * time_<phase> in seconds, and samples mailhealth_smtp_phase_duration_seconds
 * and mailhealth_smtp_reply_code per phase.
 */
struct mh_smtp_check_report *mh_smtp_probe(const struct mh_smtp_params *p,
                                           const struct mh_deadline *dl);

/*
 * Runs the dialogue on an already connected transport t (the test seam:
 * unit tests pass a scripted transport). `where` names the peer in
 * messages ("mx.example.test[192.0.2.10]:25"). Fills rep (any earlier
 * content is overwritten, not freed; free with mh_smtp_report_clear).
 * t is not freed.
 */
void mh_smtp_dialogue(struct mh_transport *t, const struct mh_smtp_params *p,
                      const struct mh_deadline *dl, const char *where,
                      struct mh_smtp_report *rep);

/*
 * The dialogue as a state machine that never waits, for event loops (the
 * one-shot check of mh_smtp_probe is one: a poll(2) loop). The states run
 * as in mh_smtp_dialogue, which is this machine driven to its end; only
 * waiting is left to the caller.
 *
 * mh_smtp_machine_new() sets t event-driven (transport.h) and enters the
 * first state: the greeting, or the handshake with MH_TLS_IMPLICIT. p, dl,
 * where, rep and t are borrowed until mh_smtp_machine_free; rep is filled
 * as by mh_smtp_dialogue (complete once the machine is done). Returns NULL
 * when out of memory. As with mh_smtp_dialogue there is no DANE check
 * and no TLS helper thread (mh_smtp_probe has both): the TLS client
 * context is made at the handshake and the chain verified when it
 * arrives.
 */
struct mh_smtp_machine;
struct mh_smtp_machine *mh_smtp_machine_new(struct mh_transport *t,
                                            const struct mh_smtp_params *p,
                                            const struct mh_deadline *dl,
                                            const char *where,
                                            struct mh_smtp_report *rep);

/*
 * Runs the machine as far as it gets without waiting. Returns true when
 * the dialogue is over (rep is then complete, as after mh_smtp_dialogue;
 * further calls do nothing), false when it waits: until t->fd is ready
 * for t->want (POLLIN or POLLOUT), or until mh_smtp_machine_deadline()
 * passes, when the caller calls mh_smtp_machine_expire().
 */
bool mh_smtp_machine_step(struct mh_smtp_machine *m);

/* The deadline of the current wait: the check's, or a shorter one for
 * the reply to QUIT. */
const struct mh_deadline *
mh_smtp_machine_deadline(const struct mh_smtp_machine *m);

/* The current wait's deadline has passed: the machine records the timeout
 * and moves on (call mh_smtp_machine_step next). */
void mh_smtp_machine_expire(struct mh_smtp_machine *m);

/* The current state's name, as -vv traces it ("greeting", "ehlo", ...,
 * "done"). */
const char *mh_smtp_machine_state(const struct mh_smtp_machine *m);

/* Frees the machine (not t, p or rep). NULL is fine. */
void mh_smtp_machine_free(struct mh_smtp_machine *m);

/*
 * The whole check of mh_smtp_probe (connection, dialogue, report) as a
 * machine that never waits, for the runner's event loops (one thread
 * drives thousands). It does what mh_smtp_probe does except two things
 * that would wait: the host must be an address literal (no lookup:
 * mh_smtp_task_supported says whether p fits), and DANE is not checked
 * (a DANE check runs with mh_smtp_probe). With a shared TLS context
 * (tls_shared.h) the handshake takes it; the chain is verified on the
 * calling thread when it arrives (CPU only, no wait).
 *
 * mh_smtp_task_new() starts the non-blocking connect(2) (p and dl are
 * borrowed until mh_smtp_task_free; dl starts the check's time). Returns
 * NULL when out of memory. Then call mh_smtp_task_step() until it returns
 * true; after false, wait until mh_smtp_task_fd() is ready for
 * mh_smtp_task_events() (POLLIN or POLLOUT; the descriptor may differ from
 * one wait to the next: one socket per address tried), or until
 * mh_smtp_task_deadline() passes, then call mh_smtp_task_expire() before
 * the next step. When done, mh_smtp_task_report() hands over the report
 * (as mh_smtp_probe's; the caller frees it).
 */
struct mh_smtp_task;
bool mh_smtp_task_supported(const struct mh_smtp_params *p);
struct mh_smtp_task *mh_smtp_task_new(const struct mh_smtp_params *p,
                                      const struct mh_deadline *dl);

/*
 * A host given by name: its lookup runs first, on a thread that may wait
 * (mh_smtp_lookup_run: c-ares, bounded by dl; the connect phase is timed
 * from its start), or on an event loop's c-ares channel
 * (resolve.h: mh_resolve_host_start; mh_smtp_lookup_set records its
 * outcome, rs and the addresses taken, err the reason, t0 the monotonic
 * time it started), then mh_smtp_task_new_after() makes the task from its
 * outcome (it takes lk's addresses; a failed lookup gives a task that is
 * done at once, reported as mh_smtp_probe reports it). Supported when
 * mh_smtp_task_supported_after_lookup(p): no DANE. mh_smtp_lookup_free
 * frees addresses not taken.
 */
struct mh_smtp_lookup {
    struct mh_addr *addrs; /* owned */
    size_t naddrs;
    enum mh_io io; /* MH_IO_OK, MH_IO_ERROR or MH_IO_TIMEOUT */
    struct mh_connect_info ci;
    double t0; /* monotonic start of the lookup */
    char err[512];
};
bool mh_smtp_task_supported_after_lookup(const struct mh_smtp_params *p);
void mh_smtp_lookup_run(struct mh_smtp_lookup *lk,
                        const struct mh_smtp_params *p,
                        const struct mh_deadline *dl);
void mh_smtp_lookup_set(struct mh_smtp_lookup *lk, double t0,
                        enum mh_resolve_status rs, struct mh_addr *addrs,
                        size_t naddrs, const char *err);
void mh_smtp_lookup_free(struct mh_smtp_lookup *lk);
struct mh_smtp_task *mh_smtp_task_new_after(const struct mh_smtp_params *p,
                                            const struct mh_deadline *dl,
                                            struct mh_smtp_lookup *lk);
bool mh_smtp_task_step(struct mh_smtp_task *k);
/* -1 once done. */
int mh_smtp_task_fd(const struct mh_smtp_task *k);
short mh_smtp_task_events(const struct mh_smtp_task *k);
const struct mh_deadline *mh_smtp_task_deadline(const struct mh_smtp_task *k);
void mh_smtp_task_expire(struct mh_smtp_task *k);
/* The check's report (once; NULL after, or when out of memory), with its
 * duration set; the caller frees it (mh_smtp_check_report_free). */
struct mh_smtp_check_report *mh_smtp_task_report(struct mh_smtp_task *k);
/* Frees the task, its connection and any report not taken. NULL is
 * fine. */
void mh_smtp_task_free(struct mh_smtp_task *k);

#endif
