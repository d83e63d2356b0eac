/* SPDX-License-Identifier: MIT */
/*
 * Unit test of a runner round (plugin/run_round.h) whose smtp checks name
 * their hosts: the names are looked up on the event loop's own c-ares
 * channel (plugin/run_dns.h), so the round starts no worker thread, and a
 * DNS answer that is lost is asked again by c-ares and the check still
 * ends OK within its deadline. A small UDP DNS server of this test drops
 * the first A query of every name; a small SMTP server greets and answers
 * EHLO and QUIT. A name the server does not know ends as name_not_found,
 * the same reason as a lookup on a worker thread; one it never answers
 * ends as dns_timeout at the check's own deadline (2 s), not at c-ares'
 * last try (1.5 + 3 + 6 s).
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
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checks.h"
#include "resolve.h"
#include "result.h"
#include "run_round.h"
#include "runner.h"

#define NNAMES 4 /* mx0.test .. mx3.test, answered after a lost query */

struct servers {
    int dns_fd, smtp_fd;
    uint16_t dns_port, smtp_port;
    atomic_bool stop;
    pthread_t th;
    int a_queries[NNAMES]; /* A queries seen per name */
    int nx_queries;
};

/* The question's name (dotted, lower case) at msg + 12; returns the
 * offset after QTYPE/QCLASS, or 0 when malformed. */
static size_t
question(const unsigned char *msg, size_t len, char *name, size_t cap,
         int *qtype)
{
    size_t off = 12, n = 0;
    while (off < len && msg[off] != 0) {
        size_t l = msg[off++];
        if (off + l > len || n + l + 2 > cap) {
            return 0;
        }
        if (n > 0) {
            name[n++] = '.';
        }
        memcpy(name + n, msg + off, l);
        n += l;
        off += l;
    }
    name[n] = '\0';
    if (off + 5 > len) {
        return 0;
    }
    *qtype = msg[off + 1] << 8 | msg[off + 2];
    return off + 5;
}

static void
dns_answer(struct servers *s)
{
    unsigned char msg[512], out[600];
    struct sockaddr_storage from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(s->dns_fd, msg, sizeof msg, 0,
                         (struct sockaddr *)&from, &flen);
    char name[256];
    int qtype = 0;
    size_t qend =
        n > 12 ? question(msg, (size_t)n, name, sizeof name, &qtype) : 0;
    if (qend == 0) {
        return;
    }
    int idx = -1;
    if (strncmp(name, "mx", 2) == 0 && name[2] >= '0' &&
        name[2] < '0' + NNAMES && strcmp(name + 3, ".test") == 0) {
        idx = name[2] - '0';
    }
    if (strcmp(name, "silent.test") == 0) {
        return; /* never answered */
    }
    int rcode = idx < 0 ? 3 : 0; /* NXDOMAIN for any other name */
    bool answer = idx >= 0 && qtype == 1;
    if (idx < 0) {
        s->nx_queries++;
    }
    if (answer && s->a_queries[idx]++ == 0) {
        return; /* the first A query of each name is lost */
    }
    memcpy(out, msg, qend);
    out[2] = 0x81;                          /* QR, RD */
    out[3] = (unsigned char)(0x80 | rcode); /* RA */
    out[6] = 0;
    out[7] = answer ? 1 : 0;
    out[8] = out[9] = out[10] = out[11] = 0;
    size_t len = qend;
    if (answer) {
        static const unsigned char rr[] = {0xc0, 12, 0, 1, 0,   1, 0, 0,
                                           0,    60, 0, 4, 127, 0, 0, 1};
        memcpy(out + len, rr, sizeof rr);
        len += sizeof rr;
    }
    sendto(s->dns_fd, out, len, 0, (struct sockaddr *)&from, flen);
}

/* One SMTP session, served at once: the greeting, then a reply per
 * command until QUIT. */
static void
smtp_session(int fd)
{
    const char *greet = "220 test.example ESMTP\r\n";
    if (write(fd, greet, strlen(greet)) < 0) {
        close(fd);
        return;
    }
    char buf[512];
    size_t have = 0;
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 5000) <= 0) {
            break;
        }
        ssize_t n = read(fd, buf + have, sizeof buf - have - 1);
        if (n <= 0) {
            break;
        }
        have += (size_t)n;
        char *nl;
        bool quit = false;
        while ((nl = memchr(buf, '\n', have)) != NULL) {
            const char *reply = strncmp(buf, "EHLO", 4) == 0
                                    ? "250-test.example\r\n250 8BITMIME\r\n"
                                : strncmp(buf, "QUIT", 4) == 0
                                    ? "221 2.0.0 bye\r\n"
                                    : "250 2.0.0 ok\r\n";
            quit = strncmp(buf, "QUIT", 4) == 0;
            if (write(fd, reply, strlen(reply)) < 0) {
                quit = true;
            }
            size_t used = (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, have - used);
            have -= used;
        }
        if (quit) {
            break;
        }
    }
    close(fd);
}

static void *
servers_main(void *arg)
{
    struct servers *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd pf[2] = {{.fd = s->dns_fd, .events = POLLIN},
                               {.fd = s->smtp_fd, .events = POLLIN}};
        if (poll(pf, 2, 50) <= 0) {
            continue;
        }
        if (pf[0].revents & POLLIN) {
            dns_answer(s);
        }
        if (pf[1].revents & POLLIN) {
            int fd = accept(s->smtp_fd, NULL, NULL);
            if (fd >= 0) {
                smtp_session(fd);
            }
        }
    }
    return NULL;
}

static uint16_t
bound(int fd)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

static void
servers_start(struct servers *s)
{
    memset(s, 0, sizeof *s);
    s->dns_fd = socket(AF_INET, SOCK_DGRAM, 0);
    s->smtp_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->dns_fd >= 0 && s->smtp_fd >= 0);
    s->dns_port = bound(s->dns_fd);
    s->smtp_port = bound(s->smtp_fd);
    assert_int_equal(listen(s->smtp_fd, 64), 0);
    atomic_init(&s->stop, false);
    assert_int_equal(pthread_create(&s->th, NULL, servers_main, s), 0);
}

static void
servers_stop(struct servers *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->th, NULL);
    close(s->dns_fd);
    close(s->smtp_fd);
}

static void
test_names_on_the_loop(void **state)
{
    (void)state;
    struct servers sv;
    servers_start(&sv);
    char json[2048];
    int off = snprintf(json, sizeof json,
                       "{\"timeout_seconds\": 8, \"resolver\": "
                       "\"127.0.0.1:%u\", \"checks\": [",
                       sv.dns_port);
    for (int i = 0; i < NNAMES; i++) {
        off += snprintf(json + off, sizeof json - (size_t)off,
                        "{\"name\": \"c%d\", \"check\": \"smtp\", \"host\": "
                        "\"mx%d.test\", \"port\": %u, \"use_ipv4\": true},",
                        i, i, sv.smtp_port);
    }
    snprintf(json + off, sizeof json - (size_t)off,
             "{\"name\": \"nx\", \"check\": \"smtp\", \"host\": "
             "\"nowhere.test\", \"port\": %u, \"use_ipv4\": true},"
             "{\"name\": \"silent\", \"check\": \"smtp\", \"host\": "
             "\"silent.test\", \"port\": %u, \"timeout\": 2}]}",
             sv.smtp_port, sv.smtp_port);
    struct mh_run_config *c = NULL;
    char err[256];
    assert_int_equal(mh_run_config_parse(json, strlen(json), "t.json", NULL, &c,
                                         err, sizeof err),
                     0);
    size_t n = c->nchecks;
    unsigned char on_loop[NNAMES + 2];
    for (size_t i = 0; i < n; i++) {
        on_loop[i] = (unsigned char)mh_smtp_fits_loop(&c->checks[i].cfg);
        assert_int_equal(on_loop[i], MH_LOOP_AFTER_LOOKUP);
    }
    struct mh_shared_cfg *sc = mh_shared_cfg_new(c);
    int efd = eventfd(0, EFD_CLOEXEC);
    struct mh_round_opts o = {.cfg = sc,
                              .on_loop = on_loop,
                              .concurrency = 4,
                              .nloops = 1,
                              .loop_in_flight = 16,
                              .efd = efd};
    struct round *r = mh_round_start(&o);
    assert_non_null(r);
    /* Every check is the loop's, lookups included: no worker thread. */
    assert_int_equal(r->nw, 0);
    assert_false(r->one_by_one);
    uint64_t v;
    assert_int_equal(read(efd, &v, sizeof v), (ssize_t)sizeof v);
    size_t detached = 0;
    struct mh_result **res = mh_round_end(r, &detached);
    assert_non_null(res);
    for (size_t i = 0; i < NNAMES; i++) {
        assert_non_null(res[i]);
        if (res[i]->state != MH_STATE_OK) {
            fail_msg("%s: %s", res[i]->target, res[i]->summary);
        }
        /* The lost answer was asked again (c-ares' retry), within the
         * deadline. */
        assert_true(sv.a_queries[i] >= 2);
    }
    assert_non_null(res[NNAMES]);
    assert_int_equal(res[NNAMES]->state, MH_STATE_CRITICAL);
    assert_int_equal(res[NNAMES]->reason, MH_REASON_NAME_NOT_FOUND);
    assert_non_null(res[NNAMES + 1]);
    assert_int_equal(res[NNAMES + 1]->reason, MH_REASON_DNS_TIMEOUT);
    assert_true(res[NNAMES + 1]->duration_s < 8);
    for (size_t i = 0; i < n; i++) {
        mh_result_free(res[i]);
    }
    free(res);
    close(efd);
    mh_shared_cfg_unref(sc);
    servers_stop(&sv);
}

int
main(void)
{
    if (mh_resolve_global_init() != 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_on_the_loop),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mh_resolve_global_cleanup();
    return rc;
}
