/* SPDX-License-Identifier: MIT */
/*
 * delay_dnsrelay: a UDP DNS relay that delays every answer, for the latency
 * benchmark (tests/bench/bench_latency.sh) in front of rbldnsd. A query is
 * forwarded to the upstream server (with a relay-chosen ID) as soon as
 * fewer than WINDOW forwarded queries are unanswered; the upstream's answer
 * goes back to the client, with the client's ID, RTT after the query
 * arrived, however many are in flight: one event loop, a timer heap, no
 * per-query sleep. A query the upstream does not answer within 1 s is
 * given up ("lost") and never answered (the client's own timeout applies).
 *
 * IDs: SOCKETS upstream sockets (default 16) of 65,536 IDs each, used in
 * turn, so 1,048,576 queries can be in flight before a slot is reused.
 *
 * SIGUSR1 writes the counters (queries, answers sent, answers that came
 * too late for their slot, queries lost upstream, answers sent over 10 ms after
 * their time and the latest one since the previous dump, the relay's own CPU
 * time) to STATS; SIGTERM exits.
 *
 * Usage: delay_dnsrelay --listen ADDR:PORT --upstream ADDR:PORT --rtt-ms MS
 *          [--sockets N] [--stats FILE] [--pidfile FILE]
 * Not product code; built by bench_latency.sh.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "benchutil.h"

#define BATCH 64
#define MAX_DNS 4096
#define IDS 65536u
/* Queries forwarded and not yet answered, at most: rbldnsd's socket keeps
 * the kernel's default receive buffer (208 KiB, charged about 1 KiB per
 * small datagram on lo), so a burst of thousands overflows it and looks
 * like packet loss to the client. A burst of 5,000 queries lost 44 % of
 * them without a window, 8 with 128, none with 64. */
#define WINDOW 64u

struct slot {
    struct sockaddr_in client;
    uint16_t client_id;
    uint32_t gen; /* 0: free (answered, or given up) */
    int64_t arrived_ns;
    int64_t sent_ns;  /* forwarded upstream at; 0: still queued */
    unsigned char *q; /* the query (relay's ID) until it is forwarded */
    uint16_t qlen;
};

/* A ring of slot numbers (with the slot's generation when queued). */
struct ring {
    uint32_t *slot, *gen;
    size_t head, n, cap;
};

/* An answer waiting for its time. */
struct held {
    struct sockaddr_in client;
    uint16_t len;
    unsigned char data[];
};

static struct slot *slots;
static struct held **held; /* by heap slot number */
static uint32_t nheld_cap, held_free_top, *held_free;
static struct bu_heap timers;
static int lfd, *ufd, nsock = 16;
static uint32_t next_slot, next_gen = 1;
static int64_t rtt_ns;
static struct sockaddr_in upstream;
static unsigned long n_queries, n_answers, n_late, n_bad, n_held_max;
static unsigned long n_lost; /* forwarded, never answered within 1 s */
static struct ring queued, inflight;
static unsigned outstanding;   /* forwarded and not yet answered */
static unsigned long n_behind; /* answers sent over 10 ms after their time */
static int64_t behind_max_ns;  /* the latest one */
static const char *stats_path;
static unsigned long dumps;

static void
die(const char *what)
{
    perror(what);
    exit(2);
}

static struct sockaddr_in
parse_addr(const char *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    char host[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof host) {
        fprintf(stderr, "bad address %s (ADDR:PORT)\n", s);
        exit(2);
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "bad address %s\n", s);
        exit(2);
    }
    a.sin_port = htons((uint16_t)atoi(colon + 1));
    return a;
}

static int
udp_socket(const struct sockaddr_in *bind_to)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        die("socket");
    }
    /* A resolver with room for a check's whole burst: 64 MiB where the
     * relay may exceed net.core.rmem_max (SO_RCVBUFFORCE, root in the
     * bench's namespace; about 60,000 small datagrams on lo), else what
     * the cap allows. */
    int big = 64 << 20, sz = 8 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    if (bind_to != NULL &&
        bind(fd, (const struct sockaddr *)bind_to, sizeof *bind_to) != 0) {
        die("bind");
    }
    return fd;
}

static void
ring_push(struct ring *r, uint32_t slot, uint32_t gen)
{
    if (r->n == r->cap) { /* full: the oldest entry is forgotten */
        r->head = (r->head + 1) % r->cap;
        r->n--;
    }
    size_t i = (r->head + r->n++) % r->cap;
    r->slot[i] = slot;
    r->gen[i] = gen;
}

static void
ring_pop(struct ring *r)
{
    r->head = (r->head + 1) % r->cap;
    r->n--;
}

/* Forwards queued queries while fewer than WINDOW are unanswered. */
static void
pump(int64_t now_ns)
{
    while (outstanding < WINDOW && queued.n > 0) {
        uint32_t s = queued.slot[queued.head], g = queued.gen[queued.head];
        ring_pop(&queued);
        struct slot *sl = &slots[s];
        if (sl->gen != g || sl->q == NULL) {
            continue;
        }
        sendto(ufd[s / IDS], sl->q, sl->qlen, 0,
               (const struct sockaddr *)&upstream, sizeof upstream);
        free(sl->q);
        sl->q = NULL;
        sl->sent_ns = now_ns;
        outstanding++;
        ring_push(&inflight, s, g);
    }
}

/* Frees the window of queries the upstream did not answer within 1 s. */
static void
expire(int64_t now_ns)
{
    while (inflight.n > 0) {
        uint32_t s = inflight.slot[inflight.head];
        struct slot *sl = &slots[s];
        if (sl->gen == inflight.gen[inflight.head]) {
            if (now_ns - sl->sent_ns < 1000000000) {
                break;
            }
            sl->gen = 0;
            n_lost++;
            outstanding--;
        }
        ring_pop(&inflight);
    }
}

static void
on_queries(void)
{
    struct mmsghdr m[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_in from[BATCH];
    static unsigned char buf[BATCH][MAX_DNS];
    /* A few batches per wake-up: answers and timers get their turn between
     * them (epoll is level-triggered). */
    for (int batch = 0; batch < 4; batch++) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){buf[i], MAX_DNS};
            m[i].msg_hdr = (struct msghdr){.msg_name = &from[i],
                                           .msg_namelen = sizeof from[i],
                                           .msg_iov = &iov[i],
                                           .msg_iovlen = 1};
        }
        int n = recvmmsg(lfd, m, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            return;
        }
        int64_t now_ns = bu_now_ns();
        for (int i = 0; i < n; i++) {
            if (m[i].msg_len < 12) {
                n_bad++;
                continue;
            }
            uint32_t s = next_slot++ % (IDS * (uint32_t)nsock);
            struct slot *sl = &slots[s];
            if (sl->gen != 0 && sl->sent_ns != 0) {
                outstanding--; /* reused before its answer: given up */
            }
            free(sl->q);
            sl->client = from[i];
            sl->client_id = (uint16_t)(buf[i][0] << 8 | buf[i][1]);
            sl->gen = next_gen++;
            sl->arrived_ns = now_ns;
            sl->sent_ns = 0;
            uint16_t id = (uint16_t)(s % IDS);
            buf[i][0] = (unsigned char)(id >> 8);
            buf[i][1] = (unsigned char)id;
            sl->q = malloc(m[i].msg_len);
            if (sl->q == NULL) {
                die("malloc");
            }
            memcpy(sl->q, buf[i], m[i].msg_len);
            sl->qlen = (uint16_t)m[i].msg_len;
            ring_push(&queued, s, sl->gen);
            n_queries++;
        }
        pump(now_ns);
    }
}

static uint32_t
held_put(struct held *h)
{
    if (held_free_top == 0) {
        uint32_t old = nheld_cap;
        nheld_cap = nheld_cap ? 2 * nheld_cap : 4096;
        held = realloc(held, nheld_cap * sizeof *held);
        held_free = realloc(held_free, nheld_cap * sizeof *held_free);
        if (held == NULL || held_free == NULL) {
            die("realloc");
        }
        for (uint32_t i = nheld_cap; i > old; i--) {
            held_free[held_free_top++] = i - 1;
        }
    }
    uint32_t k = held_free[--held_free_top];
    held[k] = h;
    if (nheld_cap - held_free_top > n_held_max) {
        n_held_max = nheld_cap - held_free_top;
    }
    return k;
}

static void
on_answers(int sockno)
{
    unsigned char buf[MAX_DNS];
    for (int k = 0; k < 4 * BATCH; k++) {
        ssize_t n = recv(ufd[sockno], buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0) {
            return;
        }
        if (n < 12) {
            n_bad++;
            continue;
        }
        uint32_t s = (uint32_t)sockno * IDS + (uint32_t)(buf[0] << 8 | buf[1]);
        struct slot *sl = &slots[s];
        if (sl->gen == 0 || sl->sent_ns == 0) {
            n_late++;
            continue;
        }
        outstanding--;
        struct held *h = malloc(sizeof *h + (size_t)n);
        if (h == NULL) {
            die("malloc");
        }
        h->client = sl->client;
        h->len = (uint16_t)n;
        memcpy(h->data, buf, (size_t)n);
        h->data[0] = (unsigned char)(sl->client_id >> 8);
        h->data[1] = (unsigned char)sl->client_id;
        bu_heap_push(&timers, sl->arrived_ns + rtt_ns, held_put(h), 0);
        sl->gen = 0;
    }
    pump(bu_now_ns());
}

static void
dump_stats(void)
{
    if (stats_path == NULL) {
        return;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", stats_path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        return;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(f, "dumps %lu\n", ++dumps);
    fprintf(f, "cpu_us %lld\n",
            (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
                ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    fprintf(f,
            "queries %lu answers %lu late %lu bad %lu held_max %lu lost %lu\n",
            n_queries, n_answers, n_late, n_bad, n_held_max, n_lost);
    fprintf(f, "behind %lu behind_max_us %lld\n", n_behind,
            (long long)(behind_max_ns / 1000));
    behind_max_ns = 0; /* the next dump gives the maximum since this one */
    fclose(f);
    rename(tmp, stats_path);
}

int
main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"listen", 1, NULL, 'l'}, {"upstream", 1, NULL, 'u'},
        {"rtt-ms", 1, NULL, 'r'}, {"sockets", 1, NULL, 'n'},
        {"stats", 1, NULL, 's'},  {"pidfile", 1, NULL, 'p'},
        {NULL, 0, NULL, 0}};
    const char *listen_s = NULL, *up_s = NULL, *pidfile = NULL;
    double rtt_ms = -1;
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'l':
            listen_s = optarg;
            break;
        case 'u':
            up_s = optarg;
            break;
        case 'r':
            rtt_ms = atof(optarg);
            break;
        case 'n':
            nsock = atoi(optarg);
            break;
        case 's':
            stats_path = optarg;
            break;
        case 'p':
            pidfile = optarg;
            break;
        default:
            goto usage;
        }
    }
    if (listen_s == NULL || up_s == NULL || rtt_ms < 0 || nsock < 1 ||
        nsock > 64 || optind != argc) {
    usage:
        fprintf(stderr, "usage: delay_dnsrelay --listen ADDR:PORT --upstream "
                        "ADDR:PORT --rtt-ms MS [--sockets N] [--stats FILE] "
                        "[--pidfile FILE]\n");
        return 2;
    }
    rtt_ns = (int64_t)(rtt_ms * 1e6);
    struct sockaddr_in la = parse_addr(listen_s);
    upstream = parse_addr(up_s);
    slots = calloc((size_t)IDS * (size_t)nsock, sizeof *slots);
    queued.cap = inflight.cap = (size_t)IDS * (size_t)nsock;
    queued.slot = calloc(queued.cap, sizeof *queued.slot);
    queued.gen = calloc(queued.cap, sizeof *queued.gen);
    inflight.slot = calloc(inflight.cap, sizeof *inflight.slot);
    inflight.gen = calloc(inflight.cap, sizeof *inflight.gen);
    if (queued.slot == NULL || queued.gen == NULL || inflight.slot == NULL ||
        inflight.gen == NULL) {
        die("calloc");
    }
    ufd = calloc((size_t)nsock, sizeof *ufd);
    if (slots == NULL || ufd == NULL) {
        die("calloc");
    }
    bu_signals();
    lfd = udp_socket(&la);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = -1};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (int i = 0; i < nsock; i++) {
        ufd[i] = udp_socket(NULL);
        ev.data.fd = i;
        epoll_ctl(ep, EPOLL_CTL_ADD, ufd[i], &ev);
    }
    bu_write_pidfile(pidfile);
    struct epoll_event evs[64];
    while (!bu_stop) {
        if (bu_dump) {
            bu_dump = 0;
            dump_stats();
        }
        struct timespec ts, *wait = bu_heap_wait(&timers, bu_now_ns(), &ts);
        if (outstanding > 0 &&
            (wait == NULL || ts.tv_sec > 0 || ts.tv_nsec > 100000000)) {
            /* wake up to give up on unanswered queries */
            ts = (struct timespec){0, 100000000};
            wait = &ts;
        }
        int n = epoll_pwait2(ep, evs, 64, wait, NULL);
        if (n < 0 && errno != EINTR) {
            die("epoll_pwait2");
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.fd < 0) {
                on_queries();
            } else {
                on_answers(evs[i].data.fd);
            }
        }
        int64_t now_ns = bu_now_ns();
        expire(now_ns);
        pump(now_ns);
        struct bu_timer t;
        while (timers.n > 0 && timers.t[0].due_ns <= now_ns) {
            bu_heap_pop(&timers, &t);
            struct held *h = held[t.slot];
            int64_t behind = now_ns - t.due_ns;
            n_behind += behind > 10000000;
            behind_max_ns = behind > behind_max_ns ? behind : behind_max_ns;
            sendto(lfd, h->data, h->len, 0, (const struct sockaddr *)&h->client,
                   sizeof h->client);
            n_answers++;
            free(h);
            held_free[held_free_top++] = t.slot;
        }
    }
    dump_stats();
    return 0;
}
