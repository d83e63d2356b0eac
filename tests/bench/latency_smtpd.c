/* SPDX-License-Identifier: MIT */
/*
 * latency_smtpd: the SMTP servers of the latency benchmark
 * (tests/bench/bench_latency.sh). One epoll loop per process serves
 * thousands of sessions; every byte it sends, SMTP replies and TLS records
 * alike, leaves RTT after the client's bytes that caused it arrived, as if
 * the server were RTT away:
 *
 *   - output produced while handling one read (a reply, a TLS flight, the
 *     session tickets with the next reply) is one batch, due at the read's
 *     arrival time + RTT; batches leave in order, each in one write
 *     (TCP_NODELAY: the delay is modelled here, not by Nagle);
 *   - the first batch of a connection (the greeting, or the TLS server
 *     flight on the implicit-TLS port) also carries CONNECT_RTTS x RTT:
 *     the TCP handshake's round trip, which the kernel completes at once
 *     on loopback and a user-space server cannot delay (connect() returns
 *     immediately, the greeting arrives 2 RTT after it: the same total as
 *     a real server RTT away);
 *   - on the slow port the greeting also waits GREET_DELAY (Postfix
 *     postscreen's greet pause, 6 s by default).
 *
 * Ports (all bound to --bind, default 0.0.0.0, so every 127.x.y.z address
 * of the network namespace's lo reaches them: a target is an address:port
 * pair, the listening sockets are shared):
 *   --smtp-port   SMTP, EHLO offers STARTTLS
 *   --slow-port   the same, greeting after --greet-delay-ms
 *   --tls-port    implicit TLS (handshake only, like 465 without SMTP)
 * Commands: EHLO, HELO, STARTTLS (RFC 3207: input pipelined after it is
 * discarded), NOOP, RSET, MAIL, RCPT (250), QUIT (221, close_notify under
 * TLS, then the server half-closes and waits up to 5 s for the client's
 * EOF, so the client reads every byte instead of a reset); anything else
 * 502. Lines over 1,000 octets get 500.
 *
 * --procs K forks K workers sharing the listening sockets, which the parent
 * binds first without SO_REUSEPORT, so a port another process holds (a
 * server left over from an earlier run, with another CA) is an error and
 * never a silent share of the connections; each worker waits on them with
 * EPOLLEXCLUSIVE (one woken per connection), so a round's TLS work can use
 * more than one core. The parent only forwards signals.
 * SIGUSR1: every worker writes its cumulative counters (sessions per
 * port, batches, batches written over 10 ms after their time and the
 * latest one since the previous dump: a server too busy to keep time shows
 * there) and its own CPU time (getrusage) to STATS.N (N = worker number,
 * written to a temporary name then renamed); SIGTERM/SIGINT: exit.
 *
 * Usage: latency_smtpd --cert CHAIN.pem --key KEY.pem --rtt-ms MS
 *          [--connect-rtts N] [--greet-delay-ms MS] [--smtp-port P]
 *          [--slow-port P] [--tls-port P] [--bind ADDR] [--procs K]
 *          [--tickets N] [--stats PREFIX] [--pidfile FILE]
 * Not product code; built by bench_latency.sh with OpenSSL.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "benchutil.h"

enum kind { K_SMTP, K_SLOW, K_TLS, K_N };
static const char *const kind_name[K_N] = {"smtp", "slow", "tls"};

#define HOSTNAME "mx.bench.test"
#define MAX_LINE 1000
#define DRAIN_NS (5 * (int64_t)1000000000)

struct chunk {
    struct chunk *next;
    int64_t due_ns;
    size_t len, off;
    char data[];
};

struct conn {
    int fd;
    uint32_t gen;
    enum kind kind;
    bool tls;        /* TLS is on (after STARTTLS, or from the start) */
    bool handshaken; /* the TLS handshake completed */
    bool sent_any;   /* a batch was queued (the first carries the connect
                        round trip) */
    bool closing;    /* half-close once the queue is empty */
    bool draining;   /* half-closed, waiting for the client's EOF */
    bool want_out;   /* EPOLLOUT registered */
    bool ended;      /* counted as a complete session */
    SSL *ssl;
    BIO *rbio, *wbio;
    int64_t drain_until_ns;
    char line[MAX_LINE + 2];
    size_t linelen;
    bool overflow;
    struct chunk *head, *tail;
};

struct stats {
    unsigned long accepted[K_N];    /* connections */
    unsigned long completed[K_N];   /* QUIT answered / handshake done */
    unsigned long early_close[K_N]; /* client left before that */
    unsigned long tls_failed[K_N];  /* handshake or record errors */
    unsigned long batches[K_N];     /* delayed batches = round trips */
    unsigned long late;             /* batches written over 10 ms late */
    int64_t late_max_ns;            /* the latest one */
    unsigned long open, max_open;   /* max_open: since the last dump */
    unsigned long accept_errors;
};

static struct {
    const char *cert, *key, *bind, *stats, *pidfile;
    double rtt_ms, greet_delay_ms;
    int connect_rtts, procs, tickets;
    int port[K_N];
} opt = {.bind = "0.0.0.0",
         .greet_delay_ms = 6000,
         .connect_rtts = 1,
         .procs = 1,
         .tickets = 2,
         .port = {2525, 2526, 4465}};

static int epfd;
static SSL_CTX *ctx;
static struct conn **conns; /* by fd */
static size_t nconns;
static uint32_t next_gen = 1;
static struct bu_heap timers;
static struct stats st;
static int64_t rtt_ns, greet_ns;
static int worker_no;
static int listen_fd[K_N];
static unsigned long dumps;

/* Output produced while one event is handled, queued as one batch. */
static char *pend;
static size_t pend_len, pend_cap;

static void
die(const char *what)
{
    perror(what);
    exit(2);
}

static void
pend_add(const void *p, size_t n)
{
    if (pend_len + n > pend_cap) {
        pend_cap = (pend_len + n) * 2;
        pend = realloc(pend, pend_cap);
        if (pend == NULL) {
            die("realloc");
        }
    }
    memcpy(pend + pend_len, p, n);
    pend_len += n;
}

static void
drain_wbio(struct conn *c)
{
    char buf[16384];
    int n;
    while (c->wbio != NULL && (n = BIO_read(c->wbio, buf, sizeof buf)) > 0) {
        pend_add(buf, (size_t)n);
    }
}

static void
reply(struct conn *c, const char *text)
{
    if (c->tls) {
        if (SSL_write(c->ssl, text, (int)strlen(text)) <= 0) {
            c->closing = true;
        }
        drain_wbio(c);
    } else {
        pend_add(text, strlen(text));
    }
}

static void
set_events(struct conn *c, bool out)
{
    if (c->want_out == out) {
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0u),
                             .data.fd = c->fd};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

static void
conn_free(struct conn *c)
{
    if (!c->ended) {
        st.early_close[c->kind]++;
    }
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    conns[c->fd] = NULL;
    if (c->ssl != NULL) {
        SSL_free(c->ssl); /* frees both BIOs */
    }
    for (struct chunk *k = c->head, *n; k != NULL; k = n) {
        n = k->next;
        free(k);
    }
    st.open--;
    pend_len = 0; /* what this event produced for it goes nowhere */
    free(c);
}

/* Queues what was produced for this event as one batch: due RTT after
 * BASE_NS (the read's arrival, or the accept), plus the connect round trip
 * on the first batch and EXTRA_NS (the slow greeting). */
static void
queue_batch(struct conn *c, int64_t base_ns, int64_t extra_ns)
{
    if (pend_len == 0) {
        return;
    }
    struct chunk *k = malloc(sizeof *k + pend_len);
    if (k == NULL) {
        die("malloc");
    }
    k->next = NULL;
    k->len = pend_len;
    k->off = 0;
    memcpy(k->data, pend, pend_len);
    k->due_ns = base_ns + rtt_ns + extra_ns;
    if (!c->sent_any) {
        k->due_ns += opt.connect_rtts * rtt_ns;
        c->sent_any = true;
    }
    if (c->tail != NULL) {
        c->tail->next = k;
    } else {
        c->head = k;
    }
    c->tail = k;
    pend_len = 0;
    st.batches[c->kind]++;
    bu_heap_push(&timers, k->due_ns, (uint32_t)c->fd, c->gen);
}

static bool
tls_start(struct conn *c)
{
    c->ssl = SSL_new(ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
        return false;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_accept_state(c->ssl);
    c->tls = true;
    return true;
}

/* One command line (CRLF stripped). Returns false when the rest of the
 * input must be discarded (after STARTTLS, RFC 3207 section 4.2). */
static bool
command(struct conn *c, const char *l)
{
    if (strncasecmp(l, "EHLO", 4) == 0) {
        reply(c, "250-" HOSTNAME "\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n");
        if (!c->tls) {
            reply(c, "250-STARTTLS\r\n");
        }
        reply(c, "250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n");
    } else if (strncasecmp(l, "HELO", 4) == 0) {
        reply(c, "250 " HOSTNAME "\r\n");
    } else if (strncasecmp(l, "STARTTLS", 8) == 0 && !c->tls) {
        reply(c, "220 2.0.0 Ready to start TLS\r\n");
        if (!tls_start(c)) {
            st.tls_failed[c->kind]++;
            c->closing = true;
        }
        return false;
    } else if (strncasecmp(l, "QUIT", 4) == 0) {
        reply(c, "221 2.0.0 Bye\r\n");
        if (c->tls) {
            SSL_shutdown(c->ssl);
            drain_wbio(c);
        }
        st.completed[c->kind]++;
        c->ended = true;
        c->closing = true;
        return false;
    } else if (strncasecmp(l, "NOOP", 4) == 0 ||
               strncasecmp(l, "RSET", 4) == 0 ||
               strncasecmp(l, "MAIL", 4) == 0 ||
               strncasecmp(l, "RCPT", 4) == 0) {
        reply(c, "250 2.0.0 Ok\r\n");
    } else {
        reply(c, "502 5.5.2 Error: command not recognized\r\n");
    }
    return true;
}

static void
smtp_input(struct conn *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n && !c->closing; i++) {
        if (p[i] != '\n') {
            if (c->linelen < MAX_LINE) {
                c->line[c->linelen++] = p[i];
            } else {
                c->overflow = true;
            }
            continue;
        }
        if (c->linelen > 0 && c->line[c->linelen - 1] == '\r') {
            c->linelen--;
        }
        c->line[c->linelen] = '\0';
        bool overflow = c->overflow;
        c->linelen = 0;
        c->overflow = false;
        if (overflow) {
            reply(c, "500 5.5.0 Error: line too long\r\n");
        } else if (!command(c, c->line)) {
            return;
        }
    }
}

static void
tls_input(struct conn *c, const char *p, size_t n)
{
    BIO_write(c->rbio, p, (int)n);
    if (!c->handshaken) {
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                st.tls_failed[c->kind]++;
                c->closing = true;
                ERR_clear_error();
            }
            drain_wbio(c);
            return;
        }
        c->handshaken = true;
        if (c->kind == K_TLS) {
            st.completed[K_TLS]++;
            c->ended = true;
        }
    }
    char buf[4096];
    while (!c->closing) {
        int r = SSL_read(c->ssl, buf, sizeof buf);
        if (r > 0) {
            if (c->kind != K_TLS) {
                smtp_input(c, buf, (size_t)r);
            }
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN) { /* the client's close_notify */
            SSL_shutdown(c->ssl);
            c->closing = true;
        } else if (e != SSL_ERROR_WANT_READ) {
            st.tls_failed[c->kind]++;
            c->closing = true;
            ERR_clear_error();
        }
        break;
    }
    drain_wbio(c);
}

/* Writes the batches that are due; half-closes when the queue is empty
 * and the session is over. Returns false when the connection was freed. */
static bool
flush(struct conn *c, int64_t now_ns)
{
    while (c->head != NULL && c->head->due_ns <= now_ns) {
        struct chunk *k = c->head;
        if (k->off == 0) {
            int64_t late = now_ns - k->due_ns;
            st.late += late > 10000000;
            st.late_max_ns = late > st.late_max_ns ? late : st.late_max_ns;
        }
        ssize_t w =
            send(c->fd, k->data + k->off, k->len - k->off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_events(c, true);
                return true;
            }
            conn_free(c);
            return false;
        }
        k->off += (size_t)w;
        if (k->off < k->len) {
            set_events(c, true);
            return true;
        }
        c->head = k->next;
        if (c->head == NULL) {
            c->tail = NULL;
        }
        free(k);
    }
    set_events(c, false);
    if (c->head == NULL && c->closing && !c->draining) {
        shutdown(c->fd, SHUT_WR);
        c->draining = true;
        c->drain_until_ns = now_ns + DRAIN_NS;
        bu_heap_push(&timers, c->drain_until_ns, (uint32_t)c->fd, c->gen);
    }
    return true;
}

static void
on_readable(struct conn *c)
{
    char buf[16384];
    int64_t now_ns = bu_now_ns();
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != EINTR)) {
            conn_free(c);
            return;
        }
        if (n < 0) {
            break;
        }
        if (c->draining || c->closing) {
            continue; /* after QUIT: read and drop until EOF */
        }
        if (c->tls) {
            tls_input(c, buf, (size_t)n);
        } else {
            smtp_input(c, buf, (size_t)n);
        }
    }
    queue_batch(c, now_ns, 0);
    if (c->closing && c->head == NULL) {
        flush(c, now_ns);
    }
}

static void
on_accept(enum kind k)
{
    for (int i = 0; i < 256; i++) {
        int fd =
            accept4(listen_fd[k], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                st.accept_errors++;
            }
            return;
        }
        if ((size_t)fd >= nconns) {
            size_t n = (size_t)fd * 2;
            conns = realloc(conns, n * sizeof *conns);
            if (conns == NULL) {
                die("realloc");
            }
            memset(conns + nconns, 0, (n - nconns) * sizeof *conns);
            nconns = n;
        }
        struct conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            die("calloc");
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        c->gen = next_gen++;
        c->kind = k;
        conns[fd] = c;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
        st.accepted[k]++;
        if (++st.open > st.max_open) {
            st.max_open = st.open;
        }
        int64_t now_ns = bu_now_ns();
        if (k == K_TLS) {
            if (!tls_start(c)) {
                st.tls_failed[k]++;
                conn_free(c);
            }
            continue;
        }
        pend_add("220 " HOSTNAME " ESMTP latency_smtpd\r\n",
                 strlen("220 " HOSTNAME " ESMTP latency_smtpd\r\n"));
        queue_batch(c, now_ns, k == K_SLOW ? greet_ns : 0);
    }
}

static void
on_timer(const struct bu_timer *t, int64_t now_ns)
{
    struct conn *c = t->slot < nconns ? conns[t->slot] : NULL;
    if (c == NULL || c->gen != t->gen) {
        return; /* the connection is gone */
    }
    if (c->draining) {
        if (now_ns >= c->drain_until_ns) {
            conn_free(c);
        }
        return;
    }
    flush(c, now_ns);
}

static void
dump_stats(void)
{
    if (opt.stats == NULL) {
        return;
    }
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s.%d", opt.stats, worker_no);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
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
    fprintf(f, "max_rss_kib %ld\n", ru.ru_maxrss);
    for (int k = 0; k < K_N; k++) {
        fprintf(f,
                "%s accepted %lu completed %lu early_close %lu tls_failed %lu "
                "batches %lu\n",
                kind_name[k], st.accepted[k], st.completed[k],
                st.early_close[k], st.tls_failed[k], st.batches[k]);
    }
    fprintf(f, "open %lu max_open %lu accept_errors %lu\n", st.open,
            st.max_open, st.accept_errors);
    fprintf(f, "late %lu late_max_us %lld\n", st.late,
            (long long)(st.late_max_ns / 1000));
    /* the next dump gives the maxima since this one */
    st.late_max_ns = 0;
    st.max_open = st.open;
    fclose(f);
    rename(tmp, path);
}

static int
listener(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        die("socket");
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, opt.bind, &a.sin_addr) != 1) {
        fprintf(stderr, "bad --bind %s\n", opt.bind);
        exit(2);
    }
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "latency_smtpd: bind %s:%d: %s\n", opt.bind, port,
                strerror(errno));
        exit(2);
    }
    if (listen(fd, 65535) != 0) {
        die("listen");
    }
    return fd;
}

static void
worker(void)
{
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, opt.cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, opt.key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        ERR_print_errors_fp(stderr);
        exit(2);
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_num_tickets(ctx, (size_t)opt.tickets);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        die("epoll_create1");
    }
    for (int k = 0; k < K_N; k++) {
        /* data.fd = -1 - kind marks a listening socket */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE,
                                 .data.fd = -1 - k};
        epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd[k], &ev);
    }
    struct epoll_event evs[256];
    while (!bu_stop) {
        if (bu_dump) {
            bu_dump = 0;
            dump_stats();
        }
        struct timespec ts;
        int n = epoll_pwait2(epfd, evs, 256,
                             bu_heap_wait(&timers, bu_now_ns(), &ts), NULL);
        if (n < 0 && errno != EINTR) {
            die("epoll_pwait2");
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd < 0) {
                on_accept((enum kind)(-1 - fd));
                continue;
            }
            struct conn *c = conns[fd];
            if (c == NULL) {
                continue;
            }
            if ((evs[i].events & EPOLLOUT) != 0 && !flush(c, bu_now_ns())) {
                continue;
            }
            if ((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
                on_readable(c);
            }
        }
        int64_t now_ns = bu_now_ns();
        struct bu_timer t;
        while (timers.n > 0 && timers.t[0].due_ns <= now_ns) {
            bu_heap_pop(&timers, &t);
            on_timer(&t, now_ns);
        }
    }
    dump_stats();
    exit(0);
}

static void
usage(void)
{
    fprintf(stderr, "usage: latency_smtpd --cert CHAIN.pem --key KEY.pem "
                    "--rtt-ms MS [--connect-rtts N] [--greet-delay-ms MS]\n"
                    "  [--smtp-port P] [--slow-port P] [--tls-port P] "
                    "[--bind ADDR] [--procs K] [--tickets N]\n"
                    "  [--stats PREFIX] [--pidfile FILE]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"cert", 1, NULL, 'c'},           {"key", 1, NULL, 'k'},
        {"rtt-ms", 1, NULL, 'r'},         {"connect-rtts", 1, NULL, 'C'},
        {"greet-delay-ms", 1, NULL, 'g'}, {"smtp-port", 1, NULL, 's'},
        {"slow-port", 1, NULL, 'S'},      {"tls-port", 1, NULL, 't'},
        {"bind", 1, NULL, 'b'},           {"procs", 1, NULL, 'P'},
        {"tickets", 1, NULL, 'T'},        {"stats", 1, NULL, 'o'},
        {"pidfile", 1, NULL, 'p'},        {NULL, 0, NULL, 0}};
    opt.rtt_ms = -1;
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'c':
            opt.cert = optarg;
            break;
        case 'k':
            opt.key = optarg;
            break;
        case 'r':
            opt.rtt_ms = atof(optarg);
            break;
        case 'C':
            opt.connect_rtts = atoi(optarg);
            break;
        case 'g':
            opt.greet_delay_ms = atof(optarg);
            break;
        case 's':
            opt.port[K_SMTP] = atoi(optarg);
            break;
        case 'S':
            opt.port[K_SLOW] = atoi(optarg);
            break;
        case 't':
            opt.port[K_TLS] = atoi(optarg);
            break;
        case 'b':
            opt.bind = optarg;
            break;
        case 'P':
            opt.procs = atoi(optarg);
            break;
        case 'T':
            opt.tickets = atoi(optarg);
            break;
        case 'o':
            opt.stats = optarg;
            break;
        case 'p':
            opt.pidfile = optarg;
            break;
        default:
            usage();
        }
    }
    if (opt.cert == NULL || opt.key == NULL || opt.rtt_ms < 0 ||
        opt.procs < 1 || opt.connect_rtts < 0 || optind != argc) {
        usage();
    }
    rtt_ns = (int64_t)(opt.rtt_ms * 1e6);
    greet_ns = (int64_t)(opt.greet_delay_ms * 1e6);
    bu_raise_nofile();
    bu_signals();
    for (int k = 0; k < K_N; k++) {
        listen_fd[k] = listener(opt.port[k]);
    }
    pid_t kids[256];
    int nk = opt.procs < 256 ? opt.procs : 256;
    for (int i = 0; i < nk; i++) {
        kids[i] = fork();
        if (kids[i] < 0) {
            die("fork");
        }
        if (kids[i] == 0) {
            worker_no = i;
            worker();
        }
    }
    bu_write_pidfile(opt.pidfile);
    int alive = nk;
    while (alive > 0) {
        int status;
        pid_t p = waitpid(-1, &status, 0);
        if (p > 0) {
            alive--;
            if (!bu_stop) {
                fprintf(stderr, "latency_smtpd: worker %ld ended (status %d)\n",
                        (long)p, status);
                bu_stop = 1;
            }
        }
        if (bu_stop || bu_dump) {
            int sig = bu_stop ? SIGTERM : SIGUSR1;
            bu_dump = 0;
            for (int i = 0; i < nk; i++) {
                kill(kids[i], sig);
            }
        }
    }
    return 0;
}
