/* SPDX-License-Identifier: MIT */
/*
 * runner: the configuration, logging and small helpers of
 * `check_mailhealth run` (cmd_run.c runs the rounds, notify.h sends the
 * notifications).
 *
 * Configuration (JSON, read with cJSON; contrib/runner-example.json):
 *
 *   { "interval_seconds": 60, "timeout_seconds": 10,
 *     "textfile": "/var/lib/prometheus/node-exporter/mailhealth.prom",
 *     "resolver": "127.0.0.1:53",
 *     "notify": { "alertmanager_url": "http://127.0.0.1:9093",
 *                 "webhook_url": "https://oncall.example.net/hook",
 *                 "token_file": "/etc/mailhealth/token",
 *                 "timeout_seconds": 5 },
 *     "checks": [ { "name": "mx1", "check": "smtp", "host": "mx1.example.net",
 *                   "port": 25, "starttls": true, "cert_days": "30,14" } ] }
 *
 * The rule: every key of a check is the long command-line option of its
 * subcommand with '-' written '_' (auth_password_file for
 * --auth-password-file). Options that take a value accept a string or a
 * number (converted to its decimal text); flags take true (false is the
 * same as leaving the key out, and cancels a top-level default);
 * repeatable options take an array or one value. Values go through the
 * option table's parsers (options.h), so a key takes exactly what its
 * option takes on the command line, with the same messages. The
 * keys "check" (the subcommand: smtp, tls, dnsbl, domain, delivery) and
 * "name" (the `target` label) belong to the runner; "comment" (a string,
 * ignored) may annotate a check or the whole file, as JSON has no
 * comments. A check may not set
 * help, version, output or textfile.
 *
 * Top level: interval_seconds (>= 1, default 60), timeout_seconds (the
 * default -t of every check, default 10), spread_s (seconds, 0..86400:
 * the span over which the checks' starts are spread in each round; each
 * check keeps a stable offset within it, bounded so that the check still
 * ends within 90 % of the interval; default: that bound, and 1 s with
 * --once; 0: every check at the round's start; see run_round.h),
 * concurrency (checks in flight,
 * 1..1024, or "auto", the default: chosen from the checks, timeouts,
 * interval, descriptors, memory and CPUs, see run_capacity.h), engine
 * ("loop", the default: smtp and tls checks without DANE and dnsbl checks run
 * on event loops, two per core, run_loop.h, the others on worker threads;
 * "threads": every check on a worker thread, as before 2026-12),
 * textfile,
 * notify, checks (at least one; left out or [] only in a probe-only
 * configuration, whose exporter has modules: cmd_run.c then runs no
 * rounds and refuses to start without an exporter address),
 * exporter (the HTTP side of `run --listen`: listen, tls_cert_file,
 * tls_key_file, basic_auth_users, probe_concurrency, timeout_offset
 * (seconds, 0..60, default 0.5), and modules: check
 * templates by name, each without its target option, with optional
 * allowed_targets; see exporter.h), and any check option, which becomes
 * the default of every check and module whose subcommand has that option
 * (their own key wins).
 *
 * Errors: unknown keys, wrong types, bad values, missing required keys
 * (host, domain, zone), duplicate keys and duplicate targets are reported
 * as one line naming the file, the check (checks[i] and its name) and the
 * key. Every target label must be unique across the checks, because two
 * results with the same target would give duplicate series (the families
 * of the SMTP and TLS checks carry only the target label), which
 * node_exporter rejects.
 */
#ifndef MH_RUNNER_H
#define MH_RUNNER_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "config.h"

/* Limits of the runner's own keys. */
#define MH_RUN_DEFAULT_INTERVAL_S 60.0
/* "concurrency" left out or "auto": planned by run_capacity.h. */
#define MH_RUN_CONCURRENCY_AUTO 0u
#define MH_RUN_MAX_CONCURRENCY 1024u
#define MH_RUN_MAX_INTERVAL_S 86400.0
/* The share of the interval in which every check of a round ends (the
 * rest is headroom for the worker pool's queue and the textfile). */
#define MH_RUN_SPREAD_SHARE 0.9
#define MH_RUN_DEFAULT_NOTIFY_TIMEOUT_S 5.0
/* Longest name (target label) accepted, in bytes. */
#define MH_RUN_MAX_NAME 200

/* How the runner runs its checks ("engine"). */
enum mh_run_engine {
    /* event loops for smtp, tls and dnsbl, worker threads for the rest */
    MH_RUN_ENGINE_LOOP = 0,
    MH_RUN_ENGINE_THREADS /* a worker thread per check in flight */
};

/* One configured check. */
struct mh_run_check {
    /* The subcommand's options; strings are borrowed from the config's
     * JSON tree (or its number texts) and live as long as the config. */
    struct mh_config cfg;
    const char *name; /* the "name" key, or NULL */
    char *target;     /* the target label (owned): name, host:port, the
                         host (dnsbl) or the domain */
    size_t index;     /* position in "checks", from 0 */
    /* Runs of this check in progress (the runner's workers; > 1 only
     * while an abandoned run is still stuck, see cmd_run.c). */
    atomic_int running;
};

/* The "notify" object. URLs and paths are borrowed from the JSON tree. */
struct mh_run_notify {
    const char *alertmanager_url; /* base URL; /api/v2/alerts is added */
    const char *webhook_url;
    const char *token_file;
    double timeout_s; /* per HTTP request, default 5 */
};

/* A probe module of the exporter: a check template whose target comes
 * from the /probe URL (exporter.h). */
struct mh_run_module {
    struct mh_run_check chk; /* chk.name: the module name; the target
                                option holds a placeholder */
    const char **allowed;    /* allowed_targets patterns (array owned,
                                strings borrowed), nallowed 0: any */
    size_t nallowed;
};

/* The "exporter" object: the HTTP side of `run --listen` (exporter.h).
 * Strings are borrowed from the JSON tree. */
struct mh_run_exporter {
    const char *listen;        /* "ADDR:PORT"; NULL: not given */
    const char *tls_cert_file; /* PEM; with tls_key_file: HTTPS */
    const char *tls_key_file;
    const cJSON *users;         /* basic_auth_users: object user -> crypt(3)
                                   hash; NULL: no authentication */
    unsigned probe_concurrency; /* probes run at once (default 4) */
    double timeout_offset_s;    /* subtracted from Prometheus' scrape
                                   timeout (default 0.5) */
    struct mh_run_module *modules;
    size_t nmodules;
    cJSON *templates; /* the module objects as parsed (owned) */
};

/* A loaded runner configuration. Free with mh_run_config_free(). */
struct mh_run_config {
    cJSON *json;  /* owns every borrowed string */
    char **owned; /* number texts made for options (owned) */
    size_t nowned;
    char *source; /* file name used in messages (owned) */

    double interval_s;         /* interval_seconds (default 60) */
    bool has_interval;         /* interval_seconds was given */
    double spread_s;           /* spread_s; < 0 when not given */
    unsigned concurrency;      /* MH_RUN_CONCURRENCY_AUTO unless configured */
    enum mh_run_engine engine; /* "engine" (default loop) */
    const char *textfile;      /* NULL when not given */
    struct mh_run_notify notify;
    char *token; /* first line of notify.token_file (owned, cleansed on
                    free, never logged), or NULL */

    struct mh_run_check *checks;
    size_t nchecks;
    double max_timeout_s; /* the longest timeout of any check */
    struct mh_run_exporter exporter;
};

/*
 * Parses the configuration text (JSON). `source` names it in error
 * messages (the file name). `base` gives the fallbacks of the command line
 * (its -t and --resolver are used when the config has no timeout_seconds /
 * resolver); it may be NULL. On success stores a new config in *out and
 * returns 0; otherwise returns -1 with one line in errbuf naming the check
 * and the key. The token file, when configured, is read here too (an
 * unreadable or empty token file is an error).
 */
int mh_run_config_parse(const char *text, size_t len, const char *source,
                        const struct mh_config *base,
                        struct mh_run_config **out, char *errbuf,
                        size_t errlen);

/* Reads the file at path (at most 16 MiB) and parses it. Same returns. */
int mh_run_config_load(const char *path, const struct mh_config *base,
                       struct mh_run_config **out, char *errbuf, size_t errlen);

/* Frees a config (NULL is fine); the token is cleansed first. */
void mh_run_config_free(struct mh_run_config *c);

/*
 * The default target label of a check whose config has no name: its
 * command's target label (commands.h): "host:port" (IPv6 literals in
 * brackets) for smtp and tls, the host for dnsbl, the domain for domain,
 * "RCPT via HOST:PORT" for delivery; "COMMAND-INDEX" when that is empty.
 * Returns a new string or NULL (out of memory).
 */
char *mh_run_default_target(const struct mh_config *cfg, size_t index);

/*
 * The run command: loads cfg->config_path and runs rounds, each check
 * through the command registry (commands.h); returns the exit code (0
 * after --once, 3 for an invalid config).
 */
int mh_cmd_run(const struct mh_config *cfg);

/* ---- logging ---------------------------------------------------------- */

enum mh_log_level {
    MH_LOG_ERR = 3,
    MH_LOG_WARNING = 4,
    MH_LOG_INFO = 6,
    MH_LOG_DEBUG = 7
};

/*
 * Logs one line to stderr (journald collects it under systemd). Under
 * systemd (JOURNAL_STREAM set) the line starts with the sd-daemon priority
 * prefix "<N>"; otherwise with an ISO 8601 timestamp and the pid. Bytes
 * outside printable ASCII become "\xNN" (mh_text_escape_line()), so an
 * event is always one line.
 * DEBUG lines are written only when mh_runlog_set_verbose() was given a
 * level > 0. Thread-safe. Callers never pass secrets (tokens, passwords,
 * URL credentials: see mh_url_redact()).
 */
void mh_runlog(enum mh_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets the verbosity (0: no DEBUG lines). */
void mh_runlog_set_verbose(int verbose);

/*
 * Writes a loggable form of url into buf: scheme://host[:port]/path, with
 * any user:password@ and the query string and fragment removed (they may
 * hold credentials). Returns buf.
 */
char *mh_url_redact(const char *url, char *buf, size_t len);

/* ---- a set of strings ------------------------------------------------- */

/* Open-addressing hash set of strings (copies), for duplicate checks. */
struct mh_strset {
    char **slot;
    size_t cap, n;
};

/*
 * Adds s. Returns 1 when it was added, 0 when it was already there, -1 on
 * allocation failure.
 */
int mh_strset_add(struct mh_strset *set, const char *s);

/* True if s is in the set. */
bool mh_strset_has(const struct mh_strset *set, const char *s);

/* Frees the strings and the table; the set is empty afterwards. */
void mh_strset_free(struct mh_strset *set);

/* FNV-1a 64-bit hash of s (stable start offsets, fingerprints). */
unsigned long long mh_run_hash(const char *s);

/* Makes room for one more element in the array *v of *cap elements of
 * elem bytes when n == *cap: doubles it (first: the first capacity).
 * Returns 0, or -1 when out of memory (the array is unchanged). */
int mh_run_grow(void **v, size_t *cap, size_t n, size_t elem, size_t first);

#endif
