/* SPDX-License-Identifier: MIT */
/*
 * runstat: runs a command and prints, on one line,
 *   WALL_S USER_S SYS_S MAXRSS_KIB PEAK_THREADS PEAK_FDS SAMPLES EXIT
 * wall time (CLOCK_MONOTONIC), user and system CPU time (wait4 rusage,
 * microsecond resolution, the command and the children it waited for),
 * peak RSS (ru_maxrss), and the peaks of the process's thread count
 * (Threads: in /proc/PID/status) and open file descriptors (entries of
 * /proc/PID/fd) sampled every INTERVAL_MS while it runs. With --trace
 * FILE every sample is also written there ("SECONDS THREADS FDS RSS_KIB").
 * The command's stdout and stderr are kept (redirect them as needed); the
 * line goes to the file given with --out (default stdout).
 *
 * Usage: runstat [--interval-ms MS] [--trace FILE] [--out FILE] CMD [ARGS]
 * Not product code; built by tests/bench/bench_latency.sh. Reading a
 * directory of 10,000 descriptors takes about a millisecond, so the
 * default 100 ms interval costs the machine about 1 % of a core.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "benchutil.h"

static long
count_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* Threads and VmRSS (KiB) from /proc/PID/status; false when gone. */
static int
read_status(pid_t pid, long *threads, long *rss)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    *threads = *rss = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "Threads:", 8) == 0) {
            *threads = strtol(line + 8, NULL, 10);
        } else if (strncmp(line, "VmRSS:", 6) == 0) {
            *rss = strtol(line + 6, NULL, 10);
        }
    }
    fclose(f);
    return *threads >= 0;
}

int
main(int argc, char **argv)
{
    static const struct option lo[] = {{"interval-ms", 1, NULL, 'i'},
                                       {"trace", 1, NULL, 't'},
                                       {"out", 1, NULL, 'o'},
                                       {NULL, 0, NULL, 0}};
    double interval_ms = 100;
    const char *trace_path = NULL, *out_path = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
        switch (ch) {
        case 'i':
            interval_ms = atof(optarg);
            break;
        case 't':
            trace_path = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        default:
            goto usage;
        }
    }
    if (optind >= argc || interval_ms <= 0) {
    usage:
        fprintf(stderr, "usage: runstat [--interval-ms MS] [--trace FILE] "
                        "[--out FILE] CMD [ARGS...]\n");
        return 2;
    }
    FILE *trace = NULL;
    if (trace_path != NULL && (trace = fopen(trace_path, "w")) == NULL) {
        perror(trace_path);
        return 2;
    }
    int64_t t0 = bu_now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[optind], argv + optind);
        _exit(127);
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        perror("pidfd_open");
        return 2;
    }
    long peak_thr = 0, peak_fds = 0, samples = 0;
    int status = 0;
    struct rusage ru;
    for (;;) {
        pid_t w = wait4(pid, &status, WNOHANG, &ru);
        if (w == pid) {
            break;
        }
        if (w < 0 && errno != EINTR) {
            perror("wait4");
            return 2;
        }
        long thr, rss;
        if (read_status(pid, &thr, &rss)) {
            long fds = count_fds(pid);
            peak_thr = thr > peak_thr ? thr : peak_thr;
            peak_fds = fds > peak_fds ? fds : peak_fds;
            samples++;
            if (trace != NULL) {
                fprintf(trace, "%.3f %ld %ld %ld\n",
                        (double)(bu_now_ns() - t0) / 1e9, thr, fds, rss);
            }
        }
        /* The pidfd becomes readable when the command exits: the wall
         * time does not wait for the end of a sampling interval. */
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        poll(&p, 1, (int)interval_ms);
    }
    double wall = (double)(bu_now_ns() - t0) / 1e9;
    if (trace != NULL) {
        fclose(trace);
    }
    FILE *out = stdout;
    if (out_path != NULL && (out = fopen(out_path, "w")) == NULL) {
        perror(out_path);
        return 2;
    }
    fprintf(out, "%.6f %.6f %.6f %ld %ld %ld %ld %d\n", wall,
            (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
            ru.ru_maxrss, peak_thr, peak_fds, samples,
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return 0;
}
