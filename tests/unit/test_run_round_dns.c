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
 *
 * A round of dnsbl checks runs on the loop too: every query of every
 * check goes out on the loop's one DNSBL channel (one source port for
 * all of them), and each check ends as the one-shot check of the same
 * configuration ends (state, reason, summary), a listing, clean targets, a
 * name looked up on that channel, and a zone that answers after the
 * check's deadline (its late answers reach a check that has ended) or
 * never (its queries are still in the channel when the round ends), and
 * a name whose lookup c-ares ends before the task is made (.onion).
 * More checks than the shared window holds, each with a zone that never
 * answers, still get their other zone's answers: the dead zone's
 * queries, one per check, do not fill the window for the live one.
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
#include <time.h>
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
    uint16_t bl_ports[64]; /* source ports of the bl.test queries */
    size_t nbl_ports;
    int late_answered;     /* late.test answers sent */
    char dropped[16][256]; /* drop.test names whose first query was lost */
    size_t ndropped;
    struct delayed {
        double due;
        unsigned char msg[600];
        size_t len;
        struct sockaddr_storage to;
        socklen_t tolen;
    } held[64];
    size_t nheld;
};

#define LATE_S 2.0 /* late.test is answered this long after the query */

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool
ends_with(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);
    return n >= k && strcmp(name + n - k, suffix) == 0;
}

/* Makes the answer to the query whose question ends at qend in out (the
 * query copied there): rcode, and when a is not 0 one A record 127.0.0.a
 * (TTL 60). Returns its length. */
static size_t
make_answer(unsigned char *out, size_t qend, int rcode, int a)
{
    out[2] = 0x81;                          /* QR, RD */
    out[3] = (unsigned char)(0x80 | rcode); /* RA */
    out[6] = 0;
    out[7] = a != 0 ? 1 : 0;
    out[8] = out[9] = out[10] = out[11] = 0;
    size_t len = qend;
    if (a != 0) {
        const unsigned char rr[] = {
            0xc0, 12, 0, 1, 0,   1, 0, 0,
            0,    60, 0, 4, 127, 0, 0, (unsigned char)a};
        memcpy(out + len, rr, sizeof rr);
        len += sizeof rr;
    }
    return len;
}

/* Notes the source port of a bl.test query. */
static void
note_port(struct servers *s, const struct sockaddr_storage *from)
{
    uint16_t port =
        ntohs(((const struct sockaddr_in *)(const void *)from)->sin_port);
    for (size_t i = 0; i < s->nbl_ports; i++) {
        if (s->bl_ports[i] == port) {
            return;
        }
    }
    if (s->nbl_ports < sizeof s->bl_ports / sizeof s->bl_ports[0]) {
        s->bl_ports[s->nbl_ports++] = port;
    }
}

/* Whether drop.test name is asked for the first time (then noted). */
static bool
first_ask(struct servers *s, const char *name)
{
    for (size_t i = 0; i < s->ndropped; i++) {
        if (strcmp(s->dropped[i], name) == 0) {
            return false;
        }
    }
    if (s->ndropped < sizeof s->dropped / sizeof s->dropped[0]) {
        snprintf(s->dropped[s->ndropped++], sizeof s->dropped[0], "%s", name);
    }
    return true;
}

/* The DNSBL zones: bl.test lists 192.0.2.10 and its test entry
 * 127.0.0.2 (A 127.0.0.2), nothing else (NXDOMAIN); drop.test the same,
 * but the first query of every name is lost; late.test answers NXDOMAIN
 * after LATE_S; hang.test never. Returns true when the query was one of
 * theirs (answered, held or dropped). */
static bool
dnsbl_answer(struct servers *s, unsigned char *out, size_t qend,
             const char *name, int qtype, const struct sockaddr_storage *from,
             socklen_t flen)
{
    bool late = ends_with(name, ".late.test");
    bool drop = ends_with(name, ".drop.test");
    if (ends_with(name, ".hang.test") || (drop && first_ask(s, name))) {
        return true;
    }
    if (!late && !drop && !ends_with(name, ".bl.test")) {
        return false;
    }
    bool listed = !late && qtype == 1 &&
                  (strncmp(name, "2.0.0.127.", 10) == 0 ||
                   strncmp(name, "10.2.0.192.", 11) == 0);
    size_t len = make_answer(out, qend, listed ? 0 : 3, listed ? 2 : 0);
    if (!late) {
        if (!drop) {
            note_port(s, from);
        }
        sendto(s->dns_fd, out, len, 0, (const struct sockaddr *)from, flen);
    } else if (s->nheld < sizeof s->held / sizeof s->held[0]) {
        struct delayed *d = &s->held[s->nheld++];
        d->due = now_s() + LATE_S;
        memcpy(d->msg, out, len);
        d->len = len;
        memcpy(&d->to, from, flen);
        d->tolen = flen;
    }
    return true;
}

/* Sends the held answers that are due. */
static void
send_held(struct servers *s)
{
    double now = now_s();
    for (size_t i = 0; i < s->nheld;) {
        struct delayed *d = &s->held[i];
        if (d->due > now) {
            i++;
            continue;
        }
        sendto(s->dns_fd, d->msg, d->len, 0, (struct sockaddr *)&d->to,
               d->tolen);
        s->late_answered++;
        *d = s->held[--s->nheld];
    }
}

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
    memcpy(out, msg, qend);
    if (dnsbl_answer(s, out, qend, name, qtype, &from, flen)) {
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
    size_t len = make_answer(out, qend, rcode, answer ? 1 : 0);
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
        send_held(s);
        if (poll(pf, 2, 20) <= 0) {
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

/* Runs one round of the checks of json on one event loop, at most
 * in_flight at once; every check must fit the loop and no worker thread
 * may start. Returns the results, one per check (free them and the
 * array), and the configuration (*sc: mh_shared_cfg_unref it). */
static struct mh_result **
round_on_loop(const char *json, unsigned in_flight, struct mh_shared_cfg **sc)
{
    struct mh_run_config *c = NULL;
    char err[256];
    assert_int_equal(mh_run_config_parse(json, strlen(json), "t.json", NULL, &c,
                                         err, sizeof err),
                     0);
    unsigned char *on_loop = calloc(c->nchecks, 1);
    assert_non_null(on_loop);
    for (size_t i = 0; i < c->nchecks; i++) {
        on_loop[i] = (unsigned char)mh_round_fits_loop(&c->checks[i].cfg);
        assert_int_not_equal(on_loop[i], MH_LOOP_NO);
    }
    *sc = mh_shared_cfg_new(c);
    int efd = eventfd(0, EFD_CLOEXEC);
    struct mh_round_opts o = {.cfg = *sc,
                              .on_loop = on_loop,
                              .concurrency = 4,
                              .nloops = 1,
                              .loop_in_flight = in_flight,
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
    for (size_t i = 0; i < c->nchecks; i++) {
        assert_non_null(res[i]);
    }
    close(efd);
    free(on_loop);
    return res;
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
    struct mh_shared_cfg *sc;
    struct mh_result **res = round_on_loop(json, 16, &sc);
    size_t n = sc->c->nchecks;
    for (size_t i = 0; i < NNAMES; i++) {
        if (res[i]->state != MH_STATE_OK) {
            fail_msg("%s: %s", res[i]->target, res[i]->summary);
        }
        /* The lost answer was asked again (c-ares' retry), within the
         * deadline. */
        assert_true(sv.a_queries[i] >= 2);
    }
    assert_int_equal(res[NNAMES]->state, MH_STATE_CRITICAL);
    assert_int_equal(res[NNAMES]->reason, MH_REASON_NAME_NOT_FOUND);
    assert_int_equal(res[NNAMES + 1]->reason, MH_REASON_DNS_TIMEOUT);
    assert_true(res[NNAMES + 1]->duration_s < 8);
    for (size_t i = 0; i < n; i++) {
        mh_result_free(res[i]);
    }
    free(res);
    mh_shared_cfg_unref(sc);
    servers_stop(&sv);
}

/* Fails unless result r of check chk ends as its one-shot run (own
 * channel) does (state, reason, summary), in less than max_s. */
static void
as_one_shot(const struct mh_result *r, const struct mh_run_check *chk,
            double max_s)
{
    struct mh_deadline dl;
    mh_deadline_start(&dl, chk->cfg.timeout_s);
    struct mh_result *one = mh_cmd_dnsbl(&chk->cfg, &dl);
    assert_non_null(one);
    if (r->state != one->state || r->reason != one->reason ||
        strcmp(r->summary, one->summary) != 0 || !(r->duration_s < max_s)) {
        fail_msg("%s: loop %d %d '%s' in %.3f s, one-shot %d %d '%s'",
                 r->target, r->state, r->reason, r->summary, r->duration_s,
                 one->state, one->reason, one->summary);
    }
    mh_result_free(one);
}

static void
test_dnsbl_on_the_loop(void **state)
{
    (void)state;
    struct servers sv;
    servers_start(&sv);
    char json[4096];
    int off = snprintf(json, sizeof json,
                       "{\"timeout_seconds\": 8, \"resolver\": "
                       "\"127.0.0.1:%u\", \"checks\": ["
                       "{\"name\": \"listed\", \"check\": \"dnsbl\", "
                       "\"host\": \"192.0.2.10\", \"zone\": \"bl.test\"},"
                       "{\"name\": \"byname\", \"check\": \"dnsbl\", "
                       "\"host\": \"mx0.test\", \"zone\": \"bl.test\"},"
                       "{\"name\": \"late\", \"check\": \"dnsbl\", "
                       "\"host\": \"192.0.2.20\", \"zone\": \"late.test\", "
                       "\"timeout\": 1},"
                       "{\"name\": \"hang\", \"check\": \"dnsbl\", "
                       "\"host\": \"192.0.2.21\", \"zone\": \"hang.test\", "
                       "\"timeout\": 4}",
                       sv.dns_port);
    for (int i = 0; i < 6; i++) {
        off += snprintf(json + off, sizeof json - (size_t)off,
                        ",{\"name\": \"clean%d\", \"check\": \"dnsbl\", "
                        "\"host\": \"192.0.2.%d\", \"zone\": \"bl.test\"}",
                        i, 11 + i);
    }
    /* c-ares ends the lookup of a .onion name at once (RFC 7686), from
     * ares_getaddrinfo itself, while the task is being made: with no
     * zone for the name itself the check has then nothing left to do. */
    snprintf(json + off, sizeof json - (size_t)off,
             ",{\"name\": \"onion\", \"check\": \"dnsbl\", "
             "\"host\": \"mx.onion\", \"zone\": \"bl.test:ip\"}]}");
    struct mh_shared_cfg *sc;
    struct mh_result **res = round_on_loop(json, 16, &sc);
    const struct mh_run_config *c = sc->c;
    size_t n = c->nchecks;
    /* One channel on the one loop: every bl.test query from one port. */
    assert_int_equal(sv.nbl_ports, 1);
    /* late.test's answers came after its check had ended (1 s), while
     * hang's kept the round going (4 s). */
    assert_true(sv.late_answered > 0);
    /* Each check ends as its one-shot run (own channel) does. */
    for (size_t i = 0; i < n; i++) {
        as_one_shot(res[i], &c->checks[i], c->checks[i].cfg.timeout_s + 0.5);
    }
    assert_int_equal(res[0]->state, MH_STATE_CRITICAL);
    assert_int_equal(res[0]->reason, MH_REASON_DNSBL_LISTED);
    assert_int_equal(res[1]->state, MH_STATE_OK);
    assert_int_not_equal(res[2]->state, MH_STATE_OK);
    assert_int_not_equal(res[3]->state, MH_STATE_OK);
    for (size_t i = 4; i < n - 1; i++) {
        assert_int_equal(res[i]->state, MH_STATE_OK);
    }
    assert_int_equal(res[n - 1]->reason, MH_REASON_NAME_NOT_FOUND);
    for (size_t i = 0; i < n; i++) {
        mh_result_free(res[i]);
    }
    free(res);
    mh_shared_cfg_unref(sc);
    servers_stop(&sv);
}

#define NDEAD 300 /* checks, more than the shared window's 256 queries */

static void
test_dnsbl_dead_zone_shared(void **state)
{
    (void)state;
    struct servers sv;
    servers_start(&sv);
    size_t cap = 64 + NDEAD * 128;
    char *json = malloc(cap);
    assert_non_null(json);
    size_t off = (size_t)snprintf(json, cap,
                                  "{\"timeout_seconds\": 2, \"resolver\": "
                                  "\"127.0.0.1:%u\", \"checks\": [",
                                  sv.dns_port);
    for (int i = 0; i < NDEAD; i++) {
        off += (size_t)snprintf(
            json + off, cap - off,
            "%s{\"name\": \"d%d\", \"check\": \"dnsbl\", \"host\": "
            "\"192.0.2.10\", \"zone\": [\"hang.test\", \"bl.test\"]}",
            i > 0 ? "," : "", i);
    }
    snprintf(json + off, cap - off, "]}");
    struct mh_shared_cfg *sc;
    struct mh_result **res = round_on_loop(json, NDEAD, &sc);
    free(json);
    for (size_t i = 0; i < NDEAD; i++) {
        if (res[i]->reason != MH_REASON_DNSBL_LISTED) {
            fail_msg("%s: %d %d '%s'", res[i]->target, res[i]->state,
                     res[i]->reason, res[i]->summary);
        }
        mh_result_free(res[i]);
    }
    free(res);
    mh_shared_cfg_unref(sc);
    servers_stop(&sv);
}

/* Frees the results of a round of round_on_loop and its configuration. */
static void
free_round(struct mh_result **res, struct mh_shared_cfg *sc)
{
    for (size_t i = 0; i < sc->c->nchecks; i++) {
        mh_result_free(res[i]);
    }
    free(res);
    mh_shared_cfg_unref(sc);
}

/* Two checks capped by a fixed max_in_flight of 1, each with 16
 * addresses, on one loop: a check at its own cap does not wait in the
 * shared window's queue (it could not use a turn), so the two do not
 * pass their turns to each other for ever while the loop starves (the
 * loop spun until their deadline, and a third check's deadline passed
 * unseen). Each ends as its one-shot run does, long before its
 * deadline. */
static void
test_dnsbl_capped_checks(void **state)
{
    (void)state;
    struct servers sv;
    servers_start(&sv);
    char json[1024];
    snprintf(json, sizeof json,
             "{\"timeout_seconds\": 4, \"resolver\": \"127.0.0.1:%u\", "
             "\"checks\": [{\"name\": \"cap1\", \"check\": \"dnsbl\", "
             "\"host\": \"192.0.2.0/28\", \"zone\": \"bl.test\", "
             "\"max_in_flight\": 1},"
             "{\"name\": \"cap2\", \"check\": \"dnsbl\", "
             "\"host\": \"198.51.100.0/28\", \"zone\": \"bl.test\", "
             "\"max_in_flight\": 1},"
             "{\"name\": \"short\", \"check\": \"dnsbl\", "
             "\"host\": \"192.0.2.21\", \"zone\": \"hang.test\", "
             "\"timeout\": 0.5}]}",
             sv.dns_port);
    struct mh_shared_cfg *sc;
    struct mh_result **res = round_on_loop(json, 4, &sc);
    as_one_shot(res[0], &sc->c->checks[0], 1);
    as_one_shot(res[1], &sc->c->checks[1], 1);
    assert_int_equal(res[2]->reason, MH_REASON_DNS_TIMEOUT);
    assert_true(res[2]->duration_s < 1);
    free_round(res, sc);
    servers_stop(&sv);
}

/* A lost answer is asked again within the check's timeout, as in its
 * one-shot run: the loop's DNSBL channel takes the per-try timeout of the
 * check's timeout (1 s: 250 ms), not c-ares' fixed 1.5 s, which came
 * after the deadline (the check then ended "no DNS answer within 1 s"
 * where its one-shot run found the listing); a check of 8 s beside it
 * has a channel of its own. */
static void
test_dnsbl_lost_answer_retried(void **state)
{
    (void)state;
    struct servers sv;
    servers_start(&sv);
    char json[1024];
    snprintf(json, sizeof json,
             "{\"timeout_seconds\": 1, \"resolver\": \"127.0.0.1:%u\", "
             "\"checks\": [{\"name\": \"short\", \"check\": \"dnsbl\", "
             "\"host\": \"192.0.2.10\", \"zone\": \"drop.test\"},"
             "{\"name\": \"long\", \"check\": \"dnsbl\", "
             "\"host\": \"192.0.2.10\", \"zone\": \"bl.test\", "
             "\"timeout\": 8}]}",
             sv.dns_port);
    struct mh_shared_cfg *sc;
    struct mh_result **res = round_on_loop(json, 4, &sc);
    assert_int_equal(res[0]->reason, MH_REASON_DNSBL_LISTED);
    assert_int_equal(res[1]->reason, MH_REASON_DNSBL_LISTED);
    /* the one-shot run sees drop.test's names for the second time */
    sv.ndropped = 0;
    as_one_shot(res[0], &sc->c->checks[0], 1);
    free_round(res, sc);
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
        cmocka_unit_test(test_dnsbl_on_the_loop),
        cmocka_unit_test(test_dnsbl_dead_zone_shared),
        cmocka_unit_test(test_dnsbl_capped_checks),
        cmocka_unit_test(test_dnsbl_lost_answer_retried),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mh_resolve_global_cleanup();
    return rc;
}
