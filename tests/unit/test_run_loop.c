/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the runner's event loop (plugin/run_loop.c): many whole
 * smtp checks (probes/smtp.h: mh_smtp_task, connect + dialogue) on one
 * loop thread against a small scripted SMTP server on loopback, run by a
 * thread of this test: replies in 1-byte pieces, a server that closes the
 * connection at every step, and one that never greets, whose checks'
 * deadlines must not hold up the others. No timing assertions beyond
 * "the silent checks ended by their deadline".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "deadline.h"
#include "reports.h"
#include "result.h"
#include "run_loop.h"
#include "smtp.h"

/* ---- the scripted server ---------------------------------------------- */

/* How a listener's sessions go: close_at = the number of commands after
 * which the server closes (0: before the greeting; -1 never); silent: no
 * greeting, ever. Replies go out one byte per write. */
struct mode {
    int close_at;
    bool silent;
};

#define MAX_CONNS 600
#define NMODES 6

struct conn {
    int fd;
    int mode;
    int cmds;
    char in[512];
    size_t inlen;
    char out[256];
    size_t outlen, outpos;
    bool quit;
};

struct server {
    int lfd[NMODES];
    uint16_t port[NMODES];
    struct mode modes[NMODES];
    struct conn conns[MAX_CONNS];
    atomic_bool stop;
    pthread_t th;
};

static void
conn_close(struct conn *c)
{
    close(c->fd);
    c->fd = -1;
}

static void
conn_queue(struct conn *c, const char *text)
{
    size_t n = strlen(text);
    assert_true(c->outlen + n <= sizeof c->out);
    memcpy(c->out + c->outlen, text, n);
    c->outlen += n;
}

/* One command line arrived: its reply, or the close of this step. */
static void
conn_command(struct server *s, struct conn *c, const char *line)
{
    c->cmds++;
    if (s->modes[c->mode].close_at == c->cmds) {
        conn_close(c);
        return;
    }
    if (strncmp(line, "EHLO", 4) == 0) {
        conn_queue(c, "250-test.example\r\n250 8BITMIME\r\n");
    } else if (strncmp(line, "QUIT", 4) == 0) {
        conn_queue(c, "221 2.0.0 bye\r\n");
        c->quit = true;
    } else {
        conn_queue(c, "250 2.0.0 ok\r\n");
    }
}

static void
conn_readable(struct server *s, struct conn *c)
{
    ssize_t n = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen - 1);
    if (n <= 0) {
        conn_close(c);
        return;
    }
    c->inlen += (size_t)n;
    char *nl;
    while (c->fd >= 0 && (nl = memchr(c->in, '\n', c->inlen)) != NULL) {
        *nl = '\0';
        conn_command(s, c, c->in);
        size_t used = (size_t)(nl + 1 - c->in);
        memmove(c->in, nl + 1, c->inlen - used);
        c->inlen -= used;
    }
}

static void
server_accept(struct server *s, int m)
{
    int fd = accept(s->lfd[m], NULL, NULL);
    if (fd < 0) {
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (size_t i = 0; i < MAX_CONNS; i++) {
        struct conn *c = &s->conns[i];
        if (c->fd < 0) {
            memset(c, 0, sizeof *c);
            c->fd = fd;
            c->mode = m;
            if (s->modes[m].close_at == 0) {
                conn_close(c);
            } else if (!s->modes[m].silent) {
                conn_queue(c, "220 test.example ESMTP\r\n");
            }
            return;
        }
    }
    close(fd);
}

static void *
server_main(void *arg)
{
    struct server *s = arg;
    struct pollfd pf[NMODES + MAX_CONNS];
    size_t idx[MAX_CONNS];
    while (!atomic_load(&s->stop)) {
        size_t n = 0;
        for (int m = 0; m < NMODES; m++) {
            pf[n++] = (struct pollfd){.fd = s->lfd[m], .events = POLLIN};
        }
        for (size_t i = 0; i < MAX_CONNS; i++) {
            struct conn *c = &s->conns[i];
            if (c->fd >= 0) {
                idx[n - NMODES] = i;
                short ev = POLLIN;
                if (c->outpos < c->outlen) {
                    ev |= POLLOUT;
                }
                pf[n++] = (struct pollfd){.fd = c->fd, .events = ev};
            }
        }
        if (poll(pf, n, 50) <= 0) {
            continue;
        }
        for (int m = 0; m < NMODES; m++) {
            if (pf[m].revents & POLLIN) {
                server_accept(s, m);
            }
        }
        for (size_t k = NMODES; k < n; k++) {
            struct conn *c = &s->conns[idx[k - NMODES]];
            if (c->fd != pf[k].fd) {
                continue;
            }
            if ((pf[k].revents & POLLOUT) && c->outpos < c->outlen) {
                /* One byte at a time: every reply arrives in pieces. */
                if (write(c->fd, c->out + c->outpos, 1) == 1) {
                    c->outpos++;
                }
                if (c->outpos == c->outlen) {
                    c->outpos = c->outlen = 0;
                    if (c->quit) {
                        conn_close(c);
                        continue;
                    }
                }
            }
            if (pf[k].revents & (POLLIN | POLLHUP | POLLERR)) {
                conn_readable(s, c);
            }
        }
    }
    for (size_t i = 0; i < MAX_CONNS; i++) {
        if (s->conns[i].fd >= 0) {
            close(s->conns[i].fd);
        }
    }
    for (int m = 0; m < NMODES; m++) {
        close(s->lfd[m]);
    }
    return NULL;
}

static void
server_start(struct server *s)
{
    for (size_t i = 0; i < MAX_CONNS; i++) {
        s->conns[i].fd = -1;
    }
    for (int m = 0; m < NMODES; m++) {
        s->lfd[m] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(s->lfd[m] >= 0);
        struct sockaddr_in a = {.sin_family = AF_INET};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(s->lfd[m], (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(listen(s->lfd[m], 1024), 0);
        socklen_t len = sizeof a;
        getsockname(s->lfd[m], (struct sockaddr *)&a, &len);
        s->port[m] = ntohs(a.sin_port);
    }
    atomic_init(&s->stop, false);
    assert_int_equal(pthread_create(&s->th, NULL, server_main, s), 0);
}

static void
server_stop(struct server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
}

/* ---- the checks --------------------------------------------------------- */

struct job {
    struct mh_smtp_params p;
    struct mh_smtp_lookup lk; /* looked_up: done before the start */
    bool looked_up;
    double timeout_s;
    struct mh_deadline dl;
    struct mh_result *r;
    double ended; /* monotonic */
    atomic_bool done;
};

static atomic_int ended_count, skipped_count;

/* The smtp task's calls as the loop drives a check (run_loop.h). */
static bool
smtp_step(void *t)
{
    return mh_smtp_task_step(t);
}

static int
smtp_fd(const void *t)
{
    return mh_smtp_task_fd(t);
}

static short
smtp_events(const void *t)
{
    return mh_smtp_task_events(t);
}

static const struct mh_deadline *
smtp_deadline(const void *t)
{
    return mh_smtp_task_deadline(t);
}

static void
smtp_expire(void *t)
{
    mh_smtp_task_expire(t);
}

static const struct mh_loop_task_ops smtp_ops = {
    smtp_step, smtp_fd, smtp_events, smtp_deadline, smtp_expire};

static void *
job_start(void *arg, struct mh_loop *l, uint64_t token,
          const struct mh_loop_task_ops **tops)
{
    (void)l;
    (void)token;
    struct job *j = arg;
    *tops = &smtp_ops;
    if (j->looked_up) {
        struct mh_smtp_task *t = mh_smtp_task_new_after(&j->p, &j->dl, &j->lk);
        assert_non_null(t);
        return t;
    }
    mh_deadline_start(&j->dl, j->timeout_s);
    struct mh_smtp_task *t = mh_smtp_task_new(&j->p, &j->dl);
    assert_non_null(t);
    return t;
}

static void
job_end(void *arg, void *t)
{
    struct job *j = arg;
    j->r = mh_smtp_result(mh_smtp_task_report(t));
    mh_smtp_task_free(t);
    j->ended = mh_monotonic_s();
    atomic_store(&j->done, true);
    atomic_fetch_add(&ended_count, 1);
}

static void
job_skip(void *arg)
{
    (void)arg;
    atomic_fetch_add(&skipped_count, 1);
}

static const struct mh_loop_ops ops = {job_start, job_end, job_skip};

static void
job_init(struct job *j, uint16_t port, double timeout_s)
{
    memset(j, 0, sizeof *j);
    j->p.host = "127.0.0.1";
    j->p.port = port;
    j->p.family = AF_UNSPEC;
    j->p.ehlo_name = "client.test";
    j->timeout_s = timeout_s;
    atomic_init(&j->done, false);
}

/* Runs the jobs on one loop (max in flight), all starting now. */
static void
run_jobs(struct job *jobs, size_t n, size_t max)
{
    atomic_store(&ended_count, 0);
    atomic_store(&skipped_count, 0);
    char err[256];
    struct mh_loop *l = mh_loop_new(&ops, max, err, sizeof err);
    assert_non_null(l);
    double now = mh_monotonic_s();
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(mh_loop_submit(l, &jobs[i], now), 0);
    }
    mh_loop_free(l); /* waits for every job */
    assert_int_equal(atomic_load(&ended_count), (int)n);
}

/* n jobs; job i on port port_of(i) with timeout timeout_of(i) (s). */
static struct job *
new_jobs(size_t n, uint16_t (*port_of)(const struct server *, size_t),
         double (*timeout_of)(size_t), const struct server *s)
{
    struct job *jobs = calloc(n, sizeof *jobs);
    assert_non_null(jobs);
    for (size_t i = 0; i < n; i++) {
        job_init(&jobs[i], port_of(s, i), timeout_of(i));
    }
    return jobs;
}

static double
long_timeout(size_t i)
{
    (void)i;
    return 20;
}

static void
free_jobs(struct job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mh_result_free(jobs[i].r);
    }
    free(jobs);
}

/* Ports of the server's modes (setup()): 0 healthy, 1..3 closing after
 * 0, 1, 2 commands, 4 silent; every tenth job of the deadline test is
 * silent, with a 1 s deadline. */
static uint16_t
healthy_port(const struct server *s, size_t i)
{
    (void)i;
    return s->port[0];
}

static uint16_t
closing_port(const struct server *s, size_t i)
{
    return s->port[1 + i % 3];
}

static uint16_t
silent_or_healthy_port(const struct server *s, size_t i)
{
    return s->port[i % 10 == 0 ? 4 : 0];
}

static double
silent_short_timeout(size_t i)
{
    return i % 10 == 0 ? 1 : 30;
}

/* 300 checks at once against replies in 1-byte pieces: every one OK. */
static void
test_many_one_byte(void **state)
{
    size_t n = 300;
    struct job *jobs = new_jobs(n, healthy_port, long_timeout, *state);
    run_jobs(jobs, n, 1000);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(jobs[i].r);
        if (jobs[i].r->state != MH_STATE_OK) {
            fail_msg("check %zu: %s", i, jobs[i].r->summary);
        }
    }
    free_jobs(jobs, n);
}

/* A server closing at every step (before the greeting, after EHLO, after
 * QUIT), many checks of each on the loop at once: each ends, the first
 * two CRITICAL in category connection, the last OK (QUIT's reply is a
 * note); and the in-flight bound (10) only queues the others. */
static void
test_close_at_every_step(void **state)
{
    size_t n = 3 * 40;
    struct job *jobs = new_jobs(n, closing_port, long_timeout, *state);
    run_jobs(jobs, n, 10);
    for (size_t i = 0; i < n; i++) {
        struct mh_result *r = jobs[i].r;
        assert_non_null(r);
        if (i % 3 < 2) {
            assert_int_equal(r->state, MH_STATE_CRITICAL);
            assert_int_equal(r->category, MH_CAT_CONNECTION);
        } else {
            assert_int_not_equal(r->state, MH_STATE_CRITICAL);
        }
    }
    free_jobs(jobs, n);
}

/* Silent servers (no greeting) with a 1 s deadline among healthy checks
 * with a long one: the silent ones end in category timeout at their
 * deadline, the healthy ones OK, none held up by the others. */
static void
test_deadline_of_one_not_others(void **state)
{
    size_t n = 100;
    struct job *jobs =
        new_jobs(n, silent_or_healthy_port, silent_short_timeout, *state);
    run_jobs(jobs, n, 1000);
    for (size_t i = 0; i < n; i++) {
        struct mh_result *r = jobs[i].r;
        assert_non_null(r);
        if (i % 10 == 0) {
            assert_int_equal(r->category, MH_CAT_TIMEOUT);
            /* ended at its deadline, not at another check's */
            assert_true(jobs[i].ended >= jobs[i].dl.end);
            assert_true(jobs[i].ended < jobs[i].dl.end + 10);
        } else {
            assert_int_equal(r->state, MH_STATE_OK);
        }
    }
    free_jobs(jobs, n);
}

/* A host given by name: looked up first (here, as a runner's worker
 * does: localhost from /etc/hosts), then run on the loop: OK, and its
 * target keeps the name. */
static void
test_after_lookup(void **state)
{
    struct server *s = *state;
    size_t n = 20;
    struct job *jobs = new_jobs(n, healthy_port, long_timeout, s);
    for (size_t i = 0; i < n; i++) {
        jobs[i].p.host = "localhost";
        jobs[i].p.family = AF_INET;
        assert_false(mh_smtp_task_supported(&jobs[i].p));
        assert_true(mh_smtp_task_supported_after_lookup(&jobs[i].p));
        mh_deadline_start(&jobs[i].dl, jobs[i].timeout_s);
        mh_smtp_lookup_run(&jobs[i].lk, &jobs[i].p, &jobs[i].dl);
        jobs[i].looked_up = true;
    }
    run_jobs(jobs, n, 1000);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(jobs[i].r);
        if (jobs[i].r->state != MH_STATE_OK) {
            fail_msg("check %zu: %s", i, jobs[i].r->summary);
        }
        assert_non_null(strstr(jobs[i].r->target, "localhost"));
    }
    free_jobs(jobs, n);
}

/* A refused connection (a port nobody listens on) ends at once in
 * category connection; cancelling before the start skips the jobs. */
static void
test_refused_and_cancel(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    uint16_t port = ntohs(a.sin_port);
    struct job j;
    job_init(&j, port, 5);
    run_jobs(&j, 1, 4);
    close(fd);
    assert_int_equal(j.r->category, MH_CAT_CONNECTION);
    mh_result_free(j.r);

    atomic_store(&skipped_count, 0);
    char err[256];
    struct mh_loop *l = mh_loop_new(&ops, 4, err, sizeof err);
    assert_non_null(l);
    struct job later[3];
    for (size_t i = 0; i < 3; i++) {
        job_init(&later[i], port, 5);
        mh_loop_submit(l, &later[i], mh_monotonic_s() + 3600);
    }
    mh_loop_cancel(l);
    mh_loop_free(l);
    assert_int_equal(atomic_load(&skipped_count), 3);
}

static int
setup(void **state)
{
    struct server *s = calloc(1, sizeof *s);
    s->modes[0] = (struct mode){.close_at = -1};
    s->modes[1] = (struct mode){.close_at = 0};
    s->modes[2] = (struct mode){.close_at = 1};
    s->modes[3] = (struct mode){.close_at = 2};
    s->modes[4] = (struct mode){.close_at = -1, .silent = true};
    s->modes[5] = (struct mode){.close_at = -1};
    server_start(s);
    *state = s;
    return 0;
}

static int
teardown(void **state)
{
    server_stop(*state);
    free(*state);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_one_byte),
        cmocka_unit_test(test_close_at_every_step),
        cmocka_unit_test(test_deadline_of_one_not_others),
        cmocka_unit_test(test_after_lookup),
        cmocka_unit_test(test_refused_and_cancel),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
