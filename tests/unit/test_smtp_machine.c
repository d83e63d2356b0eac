/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the SMTP dialogue's state machine (probes/smtp.c): the
 * states a dialogue walks, as the -vv trace shows them, with a scripted
 * server (tests/support/fake_transport.c) that answers in 1-byte pieces,
 * closes the connection or falls silent at every step; run by the
 * blocking driver (mh_smtp_dialogue) and event by event
 * (mh_smtp_machine_step), the test delivering each event. Field cases
 * BR-NN are in tests/field-cases.md.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <poll.h>

#include "fake_transport.h"
#include "reports.h"
#include "result.h"
#include "smtp.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The state changes of one dialogue, "a>b" joined by spaces. */
struct states {
    char seq[2048];
};

static void
collect(void *arg, const char *dir, const char *line)
{
    struct states *s = arg;
    const char *prefix = "state ";
    if (strcmp(dir, "*") != 0 || strncmp(line, prefix, strlen(prefix)) != 0) {
        return;
    }
    const char *from = line + strlen(prefix);
    const char *arrow = strstr(from, " -> ");
    if (arrow == NULL) {
        fail_msg("malformed state trace: %s", line);
    }
    size_t used = strlen(s->seq);
    snprintf(s->seq + used, sizeof s->seq - used, "%s%.*s>%s",
             used > 0 ? " " : "", (int)(arrow - from), from, arrow + 4);
}

struct run {
    struct mh_result *r;
    struct states states;
    char written[4096];
    int writes;
};

static void
run_dialogue(const struct fake_step *steps, size_t n, size_t chunk,
             enum mh_io at_end, struct mh_smtp_params *p, struct run *out)
{
    memset(out, 0, sizeof *out);
    p->trace = collect;
    p->trace_arg = &out->states;
    p->trace_states = true;
    struct mh_deadline dl;
    mh_deadline_start(&dl, 5);
    struct mh_transport *t = fake_transport_new(steps, n, chunk, at_end);
    assert_non_null(t);
    out->r = mh_result_new("smtp", "mx.example.com:25");
    assert_non_null(out->r);
    struct mh_smtp_report rep;
    mh_smtp_dialogue(t, p, &dl, "mx.example.com[192.0.2.10]:25", &rep);
    mh_smtp_dialogue_render(&rep, "mx.example.com[192.0.2.10]:25", out->r);
    mh_smtp_report_clear(&rep);
    mh_result_finish(out->r);
    snprintf(out->written, sizeof out->written, "%s",
             fake_transport_written(t));
    out->writes = fake_transport_writes(t);
    mh_transport_free(t);
}

static struct mh_smtp_params
base_params(void)
{
    struct mh_smtp_params p;
    memset(&p, 0, sizeof p);
    p.host = "mx.example.com";
    p.port = 25;
    p.ehlo_name = "probe.example.net";
    return p;
}

/* A complete dialogue: AUTH LOGIN, an envelope with two recipients, the
 * relay test, RSET and QUIT; step k answers the client's k-th command. */
static const struct fake_step full_steps[] = {
    {"220-mx.example.com ESMTP\r\n220 hello\r\n", 0},
    {"250-mx.example.com\r\n250-PIPELINING\r\n250 AUTH LOGIN\r\n", 1},
    {"334 VXNlcm5hbWU6\r\n", 2},
    {"334 UGFzc3dvcmQ6\r\n", 3},
    {"235 2.7.0 Authentication successful\r\n", 4},
    {"250 2.1.0 Ok\r\n", 5},
    {"250 2.1.5 Ok\r\n", 6},
    {"251 2.1.5 User not local; will forward\r\n", 7},
    {"554 5.7.1 Relay access denied\r\n", 8},
    {"250 2.0.0 Ok\r\n", 9},
    {"221 2.0.0 Bye\r\n", 10},
};

/* The state entered after each step of full_steps (the server's k-th
 * reply), and the one before the first. */
static const char *const full_states[] = {
    "greeting", "ehlo", "auth_login", "auth_login_user", "auth_login_password",
    "mail",     "rcpt", "rcpt",       "relay_test",      "rset",
    "quit",     "done",
};

static const char *const rcpts[] = {"postmaster@example.com",
                                    "abuse@example.com"};

static struct mh_smtp_params
full_params(void)
{
    struct mh_smtp_params p = base_params();
    p.auth_user = "probe";
    p.auth_password = "secret";
    p.allow_plaintext_auth = true;
    p.mail_from = "probe@example.net";
    p.rcpt_to = rcpts;
    p.nrcpt = N(rcpts);
    p.relay_test = "someone@example.org";
    return p;
}

static void
assert_same_run(const struct run *a, const struct run *b)
{
    assert_int_equal(a->r->state, b->r->state);
    assert_string_equal(a->states.seq, b->states.seq);
    assert_string_equal(a->written, b->written);
    assert_int_equal(a->writes, b->writes);
    assert_int_equal(a->r->nitems, b->r->nitems);
    for (size_t i = 0; i < a->r->nitems; i++) {
        assert_string_equal(a->r->items[i].text, b->r->items[i].text);
    }
}

/* The walk ended in done straight from the state awaiting reply k+1
 * (full_states[k]). */
static void
assert_walk_ends(const struct run *run, size_t k)
{
    char tail[80];
    snprintf(tail, sizeof tail, "%s>done", full_states[k]);
    size_t sl = strlen(run->states.seq), tl = strlen(tail);
    if (sl < tl || strcmp(run->states.seq + sl - tl, tail) != 0) {
        fail_msg("after %zu replies: states \"%s\" do not end in \"%s\"", k,
                 run->states.seq, tail);
    }
}

/* The whole walk, one transition per reply, ending in done. */
static void
test_full_walk(void **state)
{
    (void)state;
    struct mh_smtp_params p = full_params();
    struct run run;
    run_dialogue(full_steps, N(full_steps), 0, MH_IO_EOF, &p, &run);
    assert_int_equal(run.r->state, MH_STATE_OK);
    assert_string_equal(run.states.seq,
                        "connected>greeting greeting>ehlo ehlo>auth_login "
                        "auth_login>auth_login_user "
                        "auth_login_user>auth_login_password "
                        "auth_login_password>mail mail>rcpt rcpt>rcpt "
                        "rcpt>relay_test relay_test>rset rset>quit "
                        "quit>done");
    assert_int_equal(run.writes, 10);
    assert_string_equal(run.written,
                        "EHLO probe.example.net\r\nAUTH LOGIN\r\n"
                        "cHJvYmU=\r\nc2VjcmV0\r\n"
                        "MAIL FROM:<probe@example.net>\r\n"
                        "RCPT TO:<postmaster@example.com>\r\n"
                        "RCPT TO:<abuse@example.com>\r\n"
                        "RCPT TO:<someone@example.org>\r\nRSET\r\nQUIT\r\n");
    mh_result_free(run.r);
}

/* The server answers in 1-byte pieces: the same commands, states and
 * result as when every reply arrives at once. */
static void
test_one_byte_pieces(void **state)
{
    (void)state;
    struct mh_smtp_params p = full_params();
    struct run whole, drip;
    run_dialogue(full_steps, N(full_steps), 0, MH_IO_EOF, &p, &whole);
    run_dialogue(full_steps, N(full_steps), 1, MH_IO_EOF, &p, &drip);
    assert_int_equal(drip.r->state, MH_STATE_OK);
    assert_same_run(&drip, &whole);
    mh_result_free(whole.r);
    mh_result_free(drip.r);
}

/*
 * The server closes the connection after k replies, for every k: the
 * machine goes from the state waiting for reply k+1 straight to done,
 * sends nothing more (no QUIT on a closed connection), and the check is
 * CRITICAL/connection; only a close instead of the reply to QUIT is a
 * note (BR-28).
 */
static void
test_close_at_every_step(void **state)
{
    (void)state;
    for (size_t k = 0; k < N(full_steps); k++) {
        struct mh_smtp_params p = full_params();
        struct run run;
        run_dialogue(full_steps, k, 0, MH_IO_EOF, &p, &run);
        assert_walk_ends(&run, k);
        assert_non_null(strstr(run.states.seq, "connected>greeting"));
        /* The command whose reply never came was the last one sent. */
        assert_int_equal(run.writes, (int)k);
        if (k + 1 == N(full_steps)) {
            assert_int_equal(run.r->state, MH_STATE_OK);
        } else {
            assert_int_equal(run.r->state, MH_STATE_CRITICAL);
            assert_int_equal(run.r->category, MH_CAT_CONNECTION);
        }
        mh_result_free(run.r);
    }
}

/* The same, in 1-byte pieces and with each reply cut short: the close
 * comes in the middle of a reply. */
static void
test_close_mid_reply(void **state)
{
    (void)state;
    for (size_t k = 0; k + 1 < N(full_steps); k++) {
        struct fake_step cut[N(full_steps)];
        memcpy(cut, full_steps, sizeof cut);
        char half[200];
        snprintf(half, sizeof half, "%.*s", (int)strlen(full_steps[k].data) / 2,
                 full_steps[k].data);
        cut[k].data = half;
        struct mh_smtp_params p = full_params();
        struct run run;
        run_dialogue(cut, k + 1, 1, MH_IO_EOF, &p, &run);
        assert_walk_ends(&run, k);
        assert_int_equal(run.writes, (int)k);
        assert_int_equal(run.r->state, MH_STATE_CRITICAL);
        assert_int_equal(run.r->category, MH_CAT_CONNECTION);
        mh_result_free(run.r);
    }
}

/* STARTTLS: ehlo -> starttls -> tls_handshake; the fake handshake fails,
 * which ends the dialogue without QUIT. */
static void
test_starttls_states(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250-mx.example.com\r\n250 STARTTLS\r\n", 1},
        {"220 2.0.0 Ready to start TLS\r\n", 2},
    };
    struct mh_smtp_params p = base_params();
    p.tls_mode = MH_TLS_STARTTLS;
    struct run run;
    run_dialogue(steps, N(steps), 0, MH_IO_EOF, &p, &run);
    assert_string_equal(run.states.seq,
                        "connected>greeting greeting>ehlo ehlo>starttls "
                        "starttls>tls_handshake tls_handshake>done");
    assert_int_equal(run.r->category, MH_CAT_TLS);
    assert_string_equal(run.written, "EHLO probe.example.net\r\nSTARTTLS\r\n");
    mh_result_free(run.r);
}

/* A failure with the session still open ends in QUIT; after a 421 QUIT is
 * sent but not waited for. */
static void
test_failure_paths(void **state)
{
    (void)state;
    const struct fake_step rejected[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250 mx.example.com\r\n", 1},
        {"550 5.7.1 Sender rejected\r\n", 2},
        {"221 Bye\r\n", 3},
    };
    struct mh_smtp_params p = base_params();
    p.mail_from = "probe@example.net";
    struct run run;
    run_dialogue(rejected, N(rejected), 0, MH_IO_EOF, &p, &run);
    assert_string_equal(run.states.seq, "connected>greeting greeting>ehlo "
                                        "ehlo>mail mail>quit quit>done");
    assert_int_equal(run.r->state, MH_STATE_CRITICAL);
    mh_result_free(run.r);

    const struct fake_step closing[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"421 4.3.2 Service shutting down\r\n", 1},
    };
    p = base_params();
    run_dialogue(closing, N(closing), 0, MH_IO_TIMEOUT, &p, &run);
    assert_string_equal(run.states.seq,
                        "connected>greeting greeting>ehlo ehlo>done");
    assert_string_equal(run.written, "EHLO probe.example.net\r\nQUIT\r\n");
    assert_int_equal(run.r->state, MH_STATE_WARNING);
    mh_result_free(run.r);
}

/* Without -vv no state is traced. */
static void
test_no_state_trace_by_default(void **state)
{
    (void)state;
    struct mh_smtp_params p = full_params();
    struct states s;
    memset(&s, 0, sizeof s);
    p.trace = collect;
    p.trace_arg = &s;
    struct mh_deadline dl;
    mh_deadline_start(&dl, 5);
    struct mh_transport *t =
        fake_transport_new(full_steps, N(full_steps), 0, MH_IO_EOF);
    struct mh_smtp_report rep;
    mh_smtp_dialogue(t, &p, &dl, "mx", &rep);
    assert_string_equal(s.seq, "");
    mh_transport_free(t);
    mh_smtp_report_clear(&rep);
}

/* ====== The machine driven event by event ====== */

/* The test is the network: each time the machine waits, the test delivers
 * the event it waits for (a piece of the server's output, room to write),
 * or tells it that its deadline passed when the server has nothing more. */
struct events {
    int reads, writes, expired;
    char state_after_first_wait[40];
};

static void
run_events(const struct fake_step *steps, size_t n, size_t chunk, size_t wchunk,
           enum mh_io at_end, bool expired_deadline, struct mh_smtp_params *p,
           struct run *out, struct events *ev)
{
    memset(out, 0, sizeof *out);
    memset(ev, 0, sizeof *ev);
    p->trace = collect;
    p->trace_arg = &out->states;
    p->trace_states = true;
    struct mh_deadline dl;
    mh_deadline_start(&dl, 5);
    if (expired_deadline) {
        dl.end = dl.start; /* a courtesy QUIT is not waited for */
    }
    struct mh_transport *t =
        fake_transport_new_events(steps, n, chunk, wchunk, at_end);
    assert_non_null(t);
    out->r = mh_result_new("smtp", "mx.example.com:25");
    assert_non_null(out->r);
    struct mh_smtp_report rep;
    struct mh_smtp_machine *m =
        mh_smtp_machine_new(t, p, &dl, "mx.example.com[192.0.2.10]:25", &rep);
    assert_non_null(m);
    assert_string_equal(mh_smtp_machine_state(m), "greeting");
    int guard = 0;
    while (!mh_smtp_machine_step(m)) {
        assert_true(++guard < 100000);
        assert_string_not_equal(mh_smtp_machine_state(m), "done");
        assert_non_null(mh_smtp_machine_deadline(m));
        if (ev->reads + ev->writes + ev->expired == 0) {
            snprintf(ev->state_after_first_wait,
                     sizeof ev->state_after_first_wait, "%s",
                     mh_smtp_machine_state(m));
        }
        if (t->want == POLLOUT) {
            ev->writes++;
            fake_transport_writable(t);
        } else {
            assert_int_equal(t->want, POLLIN);
            if (fake_transport_arrive(t)) {
                ev->reads++;
            } else {
                ev->expired++;
                mh_smtp_machine_expire(m);
            }
        }
    }
    assert_string_equal(mh_smtp_machine_state(m), "done");
    assert_true(mh_smtp_machine_step(m)); /* stays done */
    mh_smtp_machine_free(m);
    mh_smtp_dialogue_render(&rep, "mx.example.com[192.0.2.10]:25", out->r);
    mh_smtp_report_clear(&rep);
    mh_result_finish(out->r);
    snprintf(out->written, sizeof out->written, "%s",
             fake_transport_written(t));
    out->writes = fake_transport_writes(t);
    mh_transport_free(t);
}

static size_t
script_bytes(const struct fake_step *steps, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += strlen(steps[i].data);
    }
    return total;
}

/* Whole replies, one event each: the same walk as the blocking driver's,
 * and the machine waits for the greeting before anything is sent. */
static void
test_events_walk(void **state)
{
    (void)state;
    struct mh_smtp_params p = full_params();
    struct run blocking, run;
    struct events ev;
    run_dialogue(full_steps, N(full_steps), 0, MH_IO_EOF, &p, &blocking);
    run_events(full_steps, N(full_steps), 0, 0, MH_IO_EOF, false, &p, &run,
               &ev);
    assert_string_equal(ev.state_after_first_wait, "greeting");
    assert_int_equal(run.r->state, MH_STATE_OK);
    assert_same_run(&run, &blocking);
    assert_int_equal(ev.reads, (int)N(full_steps));
    assert_int_equal(ev.writes, 0);
    assert_int_equal(ev.expired, 0);
    mh_result_free(blocking.r);
    mh_result_free(run.r);
}

/* The server answers in 1-byte pieces and the socket takes one byte per
 * writable event: one event per byte each way, the same result. */
static void
test_events_one_byte(void **state)
{
    (void)state;
    struct mh_smtp_params p = full_params();
    struct run whole, drip;
    struct events ev;
    run_events(full_steps, N(full_steps), 0, 0, MH_IO_EOF, false, &p, &whole,
               &ev);
    run_events(full_steps, N(full_steps), 1, 1, MH_IO_EOF, false, &p, &drip,
               &ev);
    assert_int_equal(drip.r->state, MH_STATE_OK);
    assert_same_run(&drip, &whole);
    assert_int_equal(ev.reads, (int)script_bytes(full_steps, N(full_steps)));
    /* Every byte but the very first waits for room. */
    assert_int_equal(ev.writes, (int)strlen(whole.written) - 1);
    assert_int_equal(ev.expired, 0);
    mh_result_free(whole.r);
    mh_result_free(drip.r);
}

/* The server closes after k replies, byte by byte: straight to done from
 * the state waiting for reply k+1, nothing sent after the close. */
static void
test_events_close_at_every_step(void **state)
{
    (void)state;
    for (size_t k = 0; k < N(full_steps); k++) {
        struct mh_smtp_params p = full_params();
        struct run run;
        struct events ev;
        run_events(full_steps, k, 1, 0, MH_IO_EOF, false, &p, &run, &ev);
        assert_walk_ends(&run, k);
        assert_int_equal(run.writes, (int)k);
        assert_int_equal(ev.reads, (int)script_bytes(full_steps, k) + 1);
        assert_int_equal(ev.expired, 0);
        if (k + 1 == N(full_steps)) {
            assert_int_equal(run.r->state, MH_STATE_OK);
        } else {
            assert_int_equal(run.r->state, MH_STATE_CRITICAL);
            assert_int_equal(run.r->category, MH_CAT_CONNECTION);
        }
        mh_result_free(run.r);
    }
}

/* The server falls silent after k replies and the deadline passes: a
 * timeout naming the phase; QUIT is sent as a courtesy, not waited for. */
static void
test_events_silent_at_every_step(void **state)
{
    (void)state;
    for (size_t k = 0; k + 1 < N(full_steps); k++) {
        struct mh_smtp_params p = full_params();
        struct run run;
        struct events ev;
        run_events(full_steps, k, 0, 0, MH_IO_TIMEOUT, true, &p, &run, &ev);
        assert_int_equal(ev.expired, 1);
        assert_int_equal(run.r->state, MH_STATE_CRITICAL);
        assert_int_equal(run.r->category, MH_CAT_TIMEOUT);
        assert_non_null(strstr(run.r->summary, "timeout after"));
        /* No QUIT to a server that never greeted; else QUIT last. */
        if (k == 0) {
            assert_int_equal(run.writes, 0);
        } else {
            size_t wl = strlen(run.written);
            assert_true(wl >= 6 &&
                        strcmp(run.written + wl - 6, "QUIT\r\n") == 0);
        }
        mh_result_free(run.r);
    }
}

/* STARTTLS: the handshake state is entered and ends the dialogue when the
 * (fake) handshake fails. */
static void
test_events_starttls(void **state)
{
    (void)state;
    const struct fake_step steps[] = {
        {"220 mx.example.com ESMTP\r\n", 0},
        {"250-mx.example.com\r\n250 STARTTLS\r\n", 1},
        {"220 2.0.0 Ready to start TLS\r\n", 2},
    };
    struct mh_smtp_params p = base_params();
    p.tls_mode = MH_TLS_STARTTLS;
    struct run run;
    struct events ev;
    run_events(steps, N(steps), 1, 0, MH_IO_EOF, false, &p, &run, &ev);
    assert_string_equal(run.states.seq,
                        "connected>greeting greeting>ehlo ehlo>starttls "
                        "starttls>tls_handshake tls_handshake>done");
    assert_int_equal(run.r->category, MH_CAT_TLS);
    mh_result_free(run.r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_walk),
        cmocka_unit_test(test_one_byte_pieces),
        cmocka_unit_test(test_close_at_every_step),
        cmocka_unit_test(test_close_mid_reply),
        cmocka_unit_test(test_starttls_states),
        cmocka_unit_test(test_failure_paths),
        cmocka_unit_test(test_no_state_trace_by_default),
        cmocka_unit_test(test_events_walk),
        cmocka_unit_test(test_events_one_byte),
        cmocka_unit_test(test_events_close_at_every_step),
        cmocka_unit_test(test_events_silent_at_every_step),
        cmocka_unit_test(test_events_starttls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
