/* SPDX-License-Identifier: MIT */
/*
 * sched_time: runs one command and reports its wall time beside the time
 * it spent waiting for a CPU, so that a test's deadline bound can discount
 * the machine's load and still catch a real overrun (tests/integration/
 * lib.sh `timed`, `run`, `expect_elapsed_below`).
 *
 *   sched_time RESULT-FILE COMMAND [ARG...]
 *
 * The command inherits stdin, stdout and stderr; sched_time exits with its
 * exit status (128+N when signal N ended it, 127 when it could not start).
 * RESULT-FILE gets one line "WALL RUNQ CPU MAXRSS":
 *   WALL   seconds from the fork to the command's exit
 *   RUNQ   seconds its threads were runnable but waited for a CPU: field 2
 *          of /proc/PID/task/TID/schedstat (the scheduler's run_delay),
 *          read for every thread every POLL_MS and for the main thread once
 *          more while the ended process is a zombie, before it is reaped;
 *          0 where the kernel keeps no schedstat
 *   CPU    user + system seconds of the command (getrusage of the child)
 *   MAXRSS its peak resident set size in KiB (ru_maxrss)
 * WALL - RUNQ is the time the command would have taken with a CPU always
 * free for it: its own work, its sleeps, its waits for the network. A
 * probe that keeps its deadline stays within it by that measure however
 * busy the machine; one that overruns by a second overruns by a second.
 * A thread that ended between two polls loses at most POLL_MS of its delay
 * (the probe's TLS helper thread lives as long as the check); two threads
 * queued at the same moment count twice (rare: the main thread waits while
 * the helper works). Delays of child processes and of servers are not
 * discounted. A compiled program, not a script: it runs for every probe
 * invocation of the suite and must cost little itself.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { POLL_MS = 50, MAX_THREADS = 64 };

struct seen {
    long tid;
    unsigned long long run_delay_ns;
};

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Field 2 of a schedstat file; 0 when it cannot be read. */
static int
read_run_delay(const char *path, unsigned long long *ns)
{
    FILE *f = fopen(path, "r");
    unsigned long long cpu = 0;
    int ok;
    if (f == NULL)
        return 0;
    ok = fscanf(f, "%llu %llu", &cpu, ns) == 2;
    fclose(f);
    return ok;
}

static void
record(struct seen *seen, size_t *n, long tid, unsigned long long ns)
{
    size_t i;
    for (i = 0; i < *n; i++) {
        if (seen[i].tid == tid) {
            seen[i].run_delay_ns = ns;
            return;
        }
    }
    if (*n < MAX_THREADS) {
        seen[*n].tid = tid;
        seen[*n].run_delay_ns = ns;
        (*n)++;
    }
}

static void
poll_threads(pid_t pid, struct seen *seen, size_t *n)
{
    char path[64];
    DIR *d;
    struct dirent *e;
    unsigned long long ns;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    d = opendir(path);
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        long tid = strtol(e->d_name, NULL, 10);
        if (tid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%ld/schedstat", (int)pid,
                 tid);
        if (read_run_delay(path, &ns))
            record(seen, n, tid, ns);
    }
    closedir(d);
}

int
main(int argc, char **argv)
{
    struct seen seen[MAX_THREADS];
    size_t nseen = 0, i;
    struct rusage ru;
    siginfo_t si;
    unsigned long long ns, total = 0;
    double t0, wall;
    int status = 0, pidfd;
    char path[64];
    pid_t pid;
    FILE *out;

    if (argc < 3) {
        fprintf(stderr, "usage: sched_time RESULT-FILE COMMAND [ARG...]\n");
        return 2;
    }
    t0 = now();
    pid = fork();
    if (pid < 0) {
        perror("sched_time: fork");
        return 127;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "sched_time: %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    /* A pidfd turns readable at the exit, so the wall time is not rounded
     * up to a polling step; without one (old kernel) poll every step. */
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    for (;;) {
        memset(&si, 0, sizeof si);
        if (pidfd >= 0) {
            struct pollfd p = {.fd = pidfd, .events = POLLIN};
            if (poll(&p, 1, POLL_MS) > 0)
                break;
        } else {
            if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT | WNOHANG) ==
                    0 &&
                si.si_pid == pid)
                break;
            usleep(POLL_MS * 1000);
        }
        poll_threads(pid, seen, &nseen);
    }
    wall = now() - t0;
    if (pidfd >= 0)
        close(pidfd);
    /* Not reaped yet: the zombie's main thread still has its schedstat. */
    while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 &&
           errno == EINTR)
        ;
    snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
    if (read_run_delay(path, &ns))
        record(seen, &nseen, (long)pid, ns);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    for (i = 0; i < nseen; i++)
        total += seen[i].run_delay_ns;
    out = fopen(argv[1], "w");
    if (out != NULL) {
        fprintf(out, "%.3f %.3f %.3f %ld\n", wall, (double)total / 1e9,
                (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                    (double)ru.ru_stime.tv_sec +
                    (double)ru.ru_stime.tv_usec / 1e6,
                ru.ru_maxrss);
        fclose(out);
    }
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
