/* SPDX-License-Identifier: MIT */
/*
 * faultserver.c - mh_faultserver: a scripted fault SMTP server for the
 * mailhealth tests.
 *
 *   mh_faultserver --script FILE [--listen 127.0.0.1] [--port N (0 = pick)]
 *                  [--port-file F] [--transcript F] [--sessions N]
 *                  [--max-seconds S] [--check] [-v]
 *
 * The listener binds (SO_REUSEADDR), writes the chosen port to --port-file
 * (a temporary file renamed into place, so a reader never sees a partial
 * file) once it is listening, and forks one child per connection; the child
 * plays the script once (fs_session.c). The parent ends after --sessions
 * connections have been handled and their children have exited, at
 * --max-seconds (a safety net so that a forgotten server dies; children
 * share the same deadline), or on SIGTERM/SIGINT.
 *
 * Exit status: 0 all fine; 1 a session recorded a VIOLATION; 2 usage,
 * script or setup error; 3 the --max-seconds deadline was reached (waiting
 * for connections, or with sessions still running) and no VIOLATION was
 * recorded.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 1024
#define DEFAULT_MAX_SECONDS 120.0
#define CHILD_GRACE_SECS 2.0 /* after the deadline, before SIGTERM */

volatile sig_atomic_t fs_stop;

struct options {
    const char *script;
    const char *listen;
    const char *port;
    const char *port_file;
    const char *transcript;
    unsigned long sessions; /* 0 = unlimited */
    double max_seconds;
    bool check;
    bool verbose;
};

struct children {
    pid_t pid[MAX_CHILDREN];
    size_t n;
    unsigned long with_violations;
};

static void
on_term(int sig)
{
    (void)sig;
    fs_stop = 1;
}

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: mh_faultserver --script FILE [--listen ADDR] [--port N]\n"
            "                      [--port-file F] [--transcript F|-]\n"
            "                      [--sessions N] [--max-seconds S] [--check] "
            "[-v]\n"
            "  --script F       fault script to play on every connection\n"
            "  --listen ADDR    numeric address to bind (default 127.0.0.1)\n"
            "  --port N         port (default 0: the kernel picks one)\n"
            "  --port-file F    write the port there once listening "
            "(atomic rename)\n"
            "  --transcript F   append the transcript to F ('-' = stderr)\n"
            "  --sessions N     exit after N connections (default: "
            "unlimited)\n"
            "  --max-seconds S  hard lifetime, children included (default "
            "120)\n"
            "  --check          load the script (and certificates), then "
            "exit\n"
            "  -v, --verbose    also copy the transcript to stderr\n"
            "exit: 0 ok, 1 violation recorded, 2 usage/setup error, 3 "
            "--max-seconds reached\n");
}

static int
parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"script", required_argument, NULL, 's'},
        {"listen", required_argument, NULL, 'l'},
        {"port", required_argument, NULL, 'p'},
        {"port-file", required_argument, NULL, 'P'},
        {"transcript", required_argument, NULL, 't'},
        {"sessions", required_argument, NULL, 'n'},
        {"max-seconds", required_argument, NULL, 'm'},
        {"check", no_argument, NULL, 'c'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    o->listen = "127.0.0.1";
    o->port = "0";
    o->max_seconds = DEFAULT_MAX_SECONDS;
    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        char *end = NULL;

        switch (c) {
        case 's':
            o->script = optarg;
            break;
        case 'l':
            o->listen = optarg;
            break;
        case 'p':
            errno = 0;
            if (strtoul(optarg, &end, 10) > 65535 || errno != 0 ||
                *end != '\0' || optarg[0] < '0' || optarg[0] > '9') {
                fprintf(stderr, "mh_faultserver: bad --port %s\n", optarg);
                return -1;
            }
            o->port = optarg;
            break;
        case 'P':
            o->port_file = optarg;
            break;
        case 't':
            o->transcript = optarg;
            break;
        case 'n':
            errno = 0;
            o->sessions = strtoul(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || optarg[0] < '0' ||
                optarg[0] > '9') {
                fprintf(stderr, "mh_faultserver: bad --sessions %s\n", optarg);
                return -1;
            }
            break;
        case 'm':
            errno = 0;
            o->max_seconds = strtod(optarg, &end);
            if (errno != 0 || *end != '\0' || end == optarg ||
                !(o->max_seconds > 0.0) || o->max_seconds > 86400.0) {
                fprintf(stderr, "mh_faultserver: bad --max-seconds %s\n",
                        optarg);
                return -1;
            }
            break;
        case 'c':
            o->check = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc || o->script == NULL) {
        usage(stderr);
        return -1;
    }
    return 0;
}

static void
install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    (void)sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_term;
    (void)sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: poll() must return EINTR */
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGINT, &sa, NULL);
}

/* Binds and listens; returns the socket and the port, or -1. */
static int
open_listener(const struct options *o, unsigned *port)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int one = 1;
    int fd;
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    rc = getaddrinfo(o->listen, o->port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "mh_faultserver: --listen %s: %s\n", o->listen,
                gai_strerror(rc));
        return -1;
    }
    fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
                res->ai_protocol);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        fprintf(stderr, "mh_faultserver: cannot listen on %s port %s: %s\n",
                o->listen, o->port, strerror(errno));
        if (fd >= 0)
            (void)close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    if (ss.ss_family == AF_INET)
        *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else
        *port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

/* Writes "PORT\n" to a temporary file beside path and renames it into
 * place: readers see no file or the complete file, never a partial one. */
static int
write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    char text[16];
    int fd;
    int len = snprintf(text, sizeof text, "%u\n", port);
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());

    if (len < 0 || (size_t)len >= sizeof text || n < 0 ||
        (size_t)n >= sizeof tmp) {
        fprintf(stderr, "mh_faultserver: --port-file path too long\n");
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, (size_t)len) != len || fsync(fd) != 0 ||
        close(fd) != 0) {
        fprintf(stderr, "mh_faultserver: cannot write %s: %s\n", tmp,
                strerror(errno));
        if (fd >= 0)
            (void)close(fd);
        (void)unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "mh_faultserver: cannot rename %s to %s: %s\n", tmp,
                path, strerror(errno));
        (void)unlink(tmp);
        return -1;
    }
    return 0;
}

/* Collects exited children without blocking. */
static void
reap(struct children *ch)
{
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        size_t i;

        if (pid <= 0)
            return;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
            ch->with_violations++;
        for (i = 0; i < ch->n; i++) {
            if (ch->pid[i] == pid) {
                ch->pid[i] = ch->pid[--ch->n];
                break;
            }
        }
    }
}

static void
nap(double secs)
{
    struct timespec ts;

    ts.tv_sec = (time_t)secs;
    ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
    (void)nanosleep(&ts, NULL);
}

/* Waits for the children until `until` (or, when interruptible, until a
 * SIGTERM); returns true when none is left. */
static bool
wait_children(struct children *ch, double until, bool interruptible)
{
    for (;;) {
        reap(ch);
        if (ch->n == 0)
            return true;
        if (fs_now() >= until || (interruptible && fs_stop))
            return false;
        nap(0.02);
    }
}

static void
signal_children(const struct children *ch, int sig)
{
    size_t i;

    for (i = 0; i < ch->n; i++)
        (void)kill(ch->pid[i], sig);
}

/* Ends the remaining children: SIGTERM, then SIGKILL. */
static void
end_children(struct children *ch)
{
    if (wait_children(ch, fs_now(), false))
        return;
    signal_children(ch, SIGTERM);
    if (wait_children(ch, fs_now() + 1.0, false))
        return;
    signal_children(ch, SIGKILL);
    (void)wait_children(ch, fs_now() + 1.0, false);
}

/* Forks the child for one accepted connection. */
static void
start_session(struct children *ch, int lfd, int cfd, struct fs_script *sc,
              unsigned long sid, double deadline)
{
    pid_t pid;

    if (ch->n >= MAX_CHILDREN) {
        fs_tr_event(sid, "refused too-many-sessions=%d", MAX_CHILDREN);
        (void)close(cfd);
        return;
    }
    (void)fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fs_tr_event(sid, "refused fork-failed %s", strerror(errno));
        (void)close(cfd);
        return;
    }
    if (pid == 0) {
        unsigned v;

        (void)close(lfd);
        v = fs_session_run(sc, cfd, sid, deadline);
        fs_script_free(sc);
        fs_tr_close();
        exit(v > 0 ? 1 : 0);
    }
    ch->pid[ch->n++] = pid;
    (void)close(cfd);
}

int
main(int argc, char **argv)
{
    struct options o;
    struct fs_script sc;
    struct children ch;
    char err[1024];
    unsigned long accepted = 0;
    unsigned port = 0;
    double deadline;
    bool timed_out = false;
    int lfd;
    int rc;

    memset(&o, 0, sizeof o);
    memset(&ch, 0, sizeof ch);
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    deadline = fs_now() + o.max_seconds;
    install_signals();
    if (fs_script_load(o.script, &sc, err, sizeof err) != 0) {
        fprintf(stderr, "mh_faultserver: %s\n", err);
        return 2;
    }
    if (o.check) {
        printf("%s: ok, %zu directives, %zu certificates\n", o.script,
               sc.nsteps, sc.ncerts);
        fs_script_free(&sc);
        return 0;
    }
    if (fs_tr_open(o.transcript, o.verbose) != 0) {
        fprintf(stderr, "mh_faultserver: cannot open transcript %s: %s\n",
                o.transcript, strerror(errno));
        fs_script_free(&sc);
        return 2;
    }
    lfd = open_listener(&o, &port);
    if (lfd < 0 ||
        (o.port_file != NULL && write_port_file(o.port_file, port) != 0)) {
        if (lfd >= 0)
            (void)close(lfd);
        fs_script_free(&sc);
        fs_tr_close();
        return 2;
    }
    fs_tr_event(0, "listen addr=%s port=%u script=%s pid=%ld", o.listen, port,
                o.script, (long)getpid());

    while (!fs_stop && (o.sessions == 0 || accepted < o.sessions)) {
        struct pollfd p;
        int r;

        reap(&ch);
        if (fs_now() >= deadline) {
            timed_out = true;
            break;
        }
        p.fd = lfd;
        p.events = POLLIN;
        p.revents = 0;
        r = poll(&p, 1, 200);
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0) {
            int cfd = accept(lfd, NULL, NULL);

            if (cfd < 0)
                continue;
            (void)fcntl(cfd, F_SETFD, FD_CLOEXEC);
            accepted++;
            start_session(&ch, lfd, cfd, &sc, accepted, deadline);
        }
    }
    (void)close(lfd);

    /* Served what was asked, stopped, or out of time: let the sessions
     * finish (they stop at the same deadline), then make sure. */
    if (!fs_stop && !timed_out)
        (void)wait_children(&ch, deadline, true);
    if (fs_stop)
        signal_children(&ch, SIGTERM);
    if (!wait_children(&ch, fs_now() + CHILD_GRACE_SECS, false))
        end_children(&ch);
    if (fs_now() >= deadline)
        timed_out = true;

    if (ch.with_violations > 0)
        rc = 1;
    else if (timed_out)
        rc = 3;
    else
        rc = 0;
    fs_tr_event(0, "exit sessions=%lu violations=%lu reason=%s rc=%d", accepted,
                ch.with_violations,
                fs_stop ? "signal" : (timed_out ? "max-seconds" : "sessions"),
                rc);
    fs_script_free(&sc);
    fs_tr_close();
    return rc;
}
