/* SPDX-License-Identifier: MIT */
/*
 * run_capacity: the runner's automatic concurrency and thread attributes
 * (see run_capacity.h).
 */
#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "run_capacity.h"
#include "runner.h"

/* Used when the hard descriptor limit is unlimited (Linux's default
 * fs.nr_open). */
#define FD_LIMIT_UNLIMITED (1ull << 20)
/* A cgroup limit at or above this is "no limit" (v1 writes 2^63 - page). */
#define CGROUP_NO_LIMIT (1ull << 62)

static unsigned long long
min_ull(unsigned long long a, unsigned long long b)
{
    return a < b ? a : b;
}

void
mh_cap_plan(unsigned configured, const struct mh_cap_facts *f,
            struct mh_cap_plan *out)
{
    memset(out, 0, sizeof *out);
    const unsigned long long none = ~0ull;
    out->cpus = f->cpus > 0 ? f->cpus : 1;

    double need = f->interval_s > 0 ? ceil(f->timeout_sum_s / f->interval_s)
                                    : (double)MH_RUN_MAX_CONCURRENCY;
    out->time_need = need > (double)MH_CAP_MIN_TIME_NEED
                         ? (need < 1e12 ? (unsigned long long)need : none)
                         : MH_CAP_MIN_TIME_NEED;
    out->checks = f->nchecks;
    out->fds = f->fd_limit == 0 ? none
               : f->fd_limit > MH_CAP_FD_RESERVE
                   ? (f->fd_limit - MH_CAP_FD_RESERVE) / MH_CAP_FDS_PER_CHECK
                   : 0;
    out->memory = f->mem_available == 0
                      ? none
                      : f->mem_available / 4 / MH_CAP_BYTES_PER_CHECK;
    out->cpu = min_ull((unsigned long long)out->cpus * MH_CAP_PER_CPU,
                       MH_RUN_MAX_CONCURRENCY);

    if (configured != MH_RUN_CONCURRENCY_AUTO) {
        out->concurrency = configured;
        out->bound = MH_CAP_CONFIGURED;
        return;
    }
    /* The least bound; on a tie the first in this order names it. */
    const struct {
        enum mh_cap_bound b;
        unsigned long long v;
    } bounds[] = {{MH_CAP_TIME, out->time_need},
                  {MH_CAP_CHECKS, out->checks},
                  {MH_CAP_FDS, out->fds},
                  {MH_CAP_MEMORY, out->memory},
                  {MH_CAP_CPUS, out->cpu}};
    unsigned long long best = none;
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
        if (bounds[i].v < best) {
            best = bounds[i].v;
            out->bound = bounds[i].b;
        }
    }
    out->concurrency = best < 1 ? 1 : (unsigned)best;
}

/* Reads the first unsigned number of a file; "max" is CGROUP_NO_LIMIT.
 * Returns 0 or -1. */
static int
read_number(const char *path, unsigned long long *v, unsigned long long *v2)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return -1;
    }
    char line[128];
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!ok) {
        return -1;
    }
    char *end;
    if (strncmp(line, "max", 3) == 0) {
        *v = CGROUP_NO_LIMIT;
        end = line + 3;
    } else {
        long long n = strtoll(line, &end, 10);
        if (end == line) {
            return -1;
        }
        *v = n < 0 ? CGROUP_NO_LIMIT : (unsigned long long)n;
    }
    if (v2 != NULL) {
        char *end2;
        unsigned long long n2 = strtoull(end, &end2, 10);
        if (end2 == end) {
            return -1;
        }
        *v2 = n2;
    }
    return 0;
}

/* The directory of this process's cgroup for a v1 controller ("memory",
 * "cpu") or v2 (controller NULL): the mount's own path first, its root
 * when the path is not visible there (a container's namespace). Returns 0
 * with dir filled when a candidate holding `file` exists. */
static int
cgroup_file(const char *controller, const char *file, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (f == NULL) {
        return -1;
    }
    char line[512];
    int rc = -1;
    while (rc != 0 && fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL) {
            continue;
        }
        *c2 = '\0';
        const char *ctl = c1 + 1, *path = c2 + 1;
        char mount[64];
        if (controller == NULL) {
            if (*ctl != '\0') {
                continue;
            }
            snprintf(mount, sizeof mount, "/sys/fs/cgroup");
        } else {
            /* "cpu,cpuacct": whole-word match in the list. */
            bool has = false;
            for (const char *w = ctl; *w != '\0';) {
                size_t n = strcspn(w, ",");
                if (n == strlen(controller) && strncmp(w, controller, n) == 0) {
                    has = true;
                }
                w += n + (w[n] == ',');
            }
            if (!has) {
                continue;
            }
            snprintf(mount, sizeof mount, "/sys/fs/cgroup/%s", controller);
        }
        const char *cand[2] = {path, "/"};
        for (size_t i = 0; i < 2 && rc != 0; i++) {
            int n = snprintf(out, len, "%s%s%s%s", mount, cand[i],
                             strcmp(cand[i], "/") == 0 ? "" : "/", file);
            FILE *t = n > 0 && (size_t)n < len ? fopen(out, "re") : NULL;
            if (t != NULL) {
                fclose(t);
                rc = 0;
            }
        }
    }
    fclose(f);
    return rc;
}

/* Bytes left under the cgroup's memory limit; 0 = no limit or unknown. */
static unsigned long long
cgroup_memory_room(void)
{
    char p[600];
    unsigned long long max = 0, cur = 0;
    if (cgroup_file(NULL, "memory.max", p, sizeof p) == 0 &&
        read_number(p, &max, NULL) == 0) {
        if (cgroup_file(NULL, "memory.current", p, sizeof p) != 0 ||
            read_number(p, &cur, NULL) != 0) {
            cur = 0;
        }
    } else if (cgroup_file("memory", "memory.limit_in_bytes", p, sizeof p) ==
                   0 &&
               read_number(p, &max, NULL) == 0) {
        if (cgroup_file("memory", "memory.usage_in_bytes", p, sizeof p) != 0 ||
            read_number(p, &cur, NULL) != 0) {
            cur = 0;
        }
    } else {
        return 0;
    }
    if (max >= CGROUP_NO_LIMIT) {
        return 0;
    }
    return max > cur ? max - cur : 1;
}

/* CPUs granted by the cgroup's quota (rounded up); 0 = none or unknown. */
static unsigned
cgroup_cpus(void)
{
    char p[600];
    unsigned long long quota = 0, period = 0;
    if (cgroup_file(NULL, "cpu.max", p, sizeof p) == 0) {
        if (read_number(p, &quota, &period) != 0) {
            return 0;
        }
    } else if (cgroup_file("cpu", "cpu.cfs_quota_us", p, sizeof p) == 0 &&
               read_number(p, &quota, NULL) == 0) {
        if (cgroup_file("cpu", "cpu.cfs_period_us", p, sizeof p) != 0 ||
            read_number(p, &period, NULL) != 0) {
            return 0;
        }
    } else {
        return 0;
    }
    if (quota >= CGROUP_NO_LIMIT || period == 0) {
        return 0;
    }
    unsigned long long n = (quota + period - 1) / period;
    return n == 0 ? 1 : (unsigned)min_ull(n, 1u << 16);
}

static unsigned long long
mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    if (f == NULL) {
        return 0;
    }
    char line[128];
    unsigned long long kib = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
            break;
        }
    }
    fclose(f);
    return kib * 1024;
}

void
mh_cap_probe(struct mh_cap_facts *f)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want =
            rl.rlim_max == RLIM_INFINITY ? FD_LIMIT_UNLIMITED : rl.rlim_max;
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
            struct rlimit up = {.rlim_cur = want, .rlim_max = rl.rlim_max};
            if (setrlimit(RLIMIT_NOFILE, &up) == 0) {
                rl.rlim_cur = want;
            }
        }
        f->fd_limit =
            rl.rlim_cur == RLIM_INFINITY ? FD_LIMIT_UNLIMITED : rl.rlim_cur;
    }

    f->mem_available = mem_available();
    unsigned long long room = cgroup_memory_room();
    if (room != 0 && (f->mem_available == 0 || room < f->mem_available)) {
        f->mem_available = room;
    }

    cpu_set_t set;
    CPU_ZERO(&set);
    f->cpus = sched_getaffinity(0, sizeof set, &set) == 0
                  ? (unsigned)CPU_COUNT(&set)
                  : 0;
    unsigned quota = cgroup_cpus();
    if (quota != 0 && (f->cpus == 0 || quota < f->cpus)) {
        f->cpus = quota;
    }
}

void
mh_cap_plan_config(const struct mh_run_config *c, double interval_s,
                   const bool *subset, struct mh_cap_plan *out)
{
    struct mh_cap_facts f;
    memset(&f, 0, sizeof f);
    mh_cap_probe(&f);
    for (size_t i = 0; i < c->nchecks; i++) {
        if (subset == NULL || subset[i]) {
            f.nchecks++;
            f.timeout_sum_s += c->checks[i].cfg.timeout_s;
        }
    }
    f.interval_s = interval_s;
    mh_cap_plan(c->concurrency, &f, out);
}

unsigned
mh_cap_loop_in_flight(const struct mh_cap_plan *p, size_t nchecks)
{
    if (p->bound == MH_CAP_CONFIGURED) {
        return p->concurrency;
    }
    unsigned long long v = (unsigned long long)p->cpus * MH_CAP_LOOP_PER_CPU;
    /* A loop's check has no stack of its own: a quarter of a thread's
     * estimate (MH_CAP_BYTES_PER_CHECK). */
    unsigned long long mem = p->memory == ~0ull ? ~0ull : p->memory * 4;
    v = min_ull(min_ull(v, p->fds), min_ull(mem, nchecks));
    return v < 1 ? 1 : v > 1000000 ? 1000000 : (unsigned)v;
}

static const char *
bound_words(enum mh_cap_bound b)
{
    switch (b) {
    case MH_CAP_CONFIGURED:
        return "configured";
    case MH_CAP_TIME:
        return "the time need";
    case MH_CAP_CHECKS:
        return "the number of checks";
    case MH_CAP_FDS:
        return "the descriptor limit";
    case MH_CAP_MEMORY:
        return "the available memory";
    case MH_CAP_CPUS:
        return "the CPUs";
    }
    return "?";
}

/* A bound for the log: its number, or "-" when unknown. */
static const char *
bound_text(unsigned long long v, char *buf, size_t len)
{
    if (v == ~0ull) {
        snprintf(buf, len, "-");
    } else {
        snprintf(buf, len, "%llu", v);
    }
    return buf;
}

char *
mh_cap_describe(const struct mh_cap_plan *p, char *buf, size_t len)
{
    char t[24], c[24], d[24], m[24], u[24];
    bound_text(p->time_need, t, sizeof t);
    bound_text(p->checks, c, sizeof c);
    bound_text(p->fds, d, sizeof d);
    bound_text(p->memory, m, sizeof m);
    bound_text(p->cpu, u, sizeof u);
    if (p->bound == MH_CAP_CONFIGURED) {
        snprintf(buf, len,
                 "%u (configured; automatic would weigh time need %s, "
                 "descriptors %s, memory %s, CPUs %s for %u CPU%s)",
                 p->concurrency, t, d, m, u, p->cpus, p->cpus == 1 ? "" : "s");
    } else {
        snprintf(buf, len,
                 "%u (automatic: the least of time need %s, checks %s, "
                 "descriptors %s, memory %s, CPUs %s for %u CPU%s; bound by "
                 "%s)",
                 p->concurrency, t, c, d, m, u, p->cpus,
                 p->cpus == 1 ? "" : "s", bound_words(p->bound));
    }
    return buf;
}
