/* SPDX-License-Identifier: MIT */
/*
 * exporter: /metrics, /probe and the landing page of `run --listen` (see
 * exporter.h for the contract).
 *
 * Threads: libmicrohttpd's polling threads parse requests and answer
 * /metrics from the snapshot the runner published last (no waiting on a
 * round); a /probe request is suspended and queued for one of the
 * probe_concurrency probe threads, which runs the check and resumes the
 * connection with the answer. A request never waits for the runner, and
 * the runner only takes the snapshot lock to swap a pointer.
 */
#include "exporter.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "../probes/deadline.h"
#include "common.h"
#include "mhd_loader.h"
#include "render.h"

atomic_int mh_checks_in_flight;

/* Limits of the HTTP side (exporter.h). */
#define MAX_HEAD_BYTES (32u * 1024u)
#define POOL_BYTES (48u * 1024u) /* libmicrohttpd's memory per connection */
#define IDLE_S 10u
#define HEAD_S 10.0 /* to send a whole request head */
#define MAX_CONNECTIONS 256u
#define MAX_PER_IP 16u
#define HTTP_THREADS 2u
#define STOP_DRAIN_S 2.0
#define TEXT_TYPE "text/plain; charset=utf-8"
#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define MAX_PEM_BYTES (1024u * 1024u)
/* TLS 1.2 and 1.3 only (GnuTLS priority string, RFC 8996). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
/* Verified logins remembered (a bcrypt verification costs tens of
 * milliseconds; Prometheus sends the same credentials every scrape). */
#define AUTH_CACHE 32
#define REALM "mailhealth"

/* ---- parsing (the hostile parts, fuzzed by fuzz_exporter) -------------- */

int
mh_exporter_parse_listen(const char *text, struct sockaddr_storage *ss,
                         socklen_t *sslen, char *errbuf, size_t errlen)
{
    char addr[64] = "127.0.0.1";
    const char *port = text;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':' ||
            (size_t)(close - text - 1) >= sizeof addr) {
            snprintf(errbuf, errlen,
                     "listen address: write [IPv6]:PORT, ADDR:PORT or PORT");
            return -1;
        }
        memcpy(addr, text + 1, (size_t)(close - text - 1));
        addr[close - text - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (colon != NULL) {
            if (strchr(text, ':') != colon ||
                (size_t)(colon - text) >= sizeof addr || colon == text) {
                snprintf(errbuf, errlen,
                         "listen address: write ADDR:PORT, [IPv6]:PORT or "
                         "PORT");
                return -1;
            }
            memcpy(addr, text, (size_t)(colon - text));
            addr[colon - text] = '\0';
            port = colon + 1;
        }
    }
    char *end;
    errno = 0;
    unsigned long p = strtoul(port, &end, 10);
    if (port[0] < '0' || port[0] > '9' || *end != '\0' || errno != 0 || p < 1 ||
        p > 65535) {
        snprintf(errbuf, errlen, "listen address: port must be 1..65535");
        return -1;
    }
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        *sslen = sizeof *v4;
    } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        *sslen = sizeof *v6;
    } else {
        snprintf(errbuf, errlen,
                 "listen address: not a numeric IPv4 or IPv6 address");
        return -1;
    }
    return 0;
}

static bool
name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static bool
v6_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

/* A host: a DNS name of name_char (RFC 1035 section 2.3.1 and the '_' of
 * service names) or an IPv6 literal (is_v6). */
static bool
host_ok(const char *h, size_t n, bool is_v6)
{
    if (n == 0 || n > 253) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (is_v6 ? !v6_char(h[i]) : !name_char(h[i])) {
            return false;
        }
    }
    if (is_v6) {
        char buf[64];
        struct in6_addr a;
        if (n >= sizeof buf) {
            return false;
        }
        memcpy(buf, h, n);
        buf[n] = '\0';
        return inet_pton(AF_INET6, buf, &a) == 1;
    }
    /* No empty labels, none starting with '-' (an option's look). */
    if (h[0] == '.' || h[0] == '-' || strstr(h, "..") != NULL) {
        return false;
    }
    return true;
}

int
mh_exporter_parse_target(enum mh_target_kind kind, const char *text, char *host,
                         size_t hostlen, unsigned *port, char *errbuf,
                         size_t errlen)
{
    *port = 0;
    host[0] = '\0';
    if (text == NULL || text[0] == '\0') {
        snprintf(errbuf, errlen, "the target parameter is missing");
        return -1;
    }
    size_t len = strlen(text);
    if (len >= MH_EXPORTER_MAX_TARGET || len >= hostlen) {
        snprintf(errbuf, errlen, "the target is too long");
        return -1;
    }
    const char *h = text, *ps = NULL;
    size_t hn = len;
    bool v6 = false;
    const char *colon = strchr(text, ':');
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            snprintf(errbuf, errlen, "malformed target: write [IPv6]:PORT");
            return -1;
        }
        h = text + 1;
        hn = (size_t)(close - h);
        v6 = true;
        ps = close[1] == ':' ? close + 2 : NULL;
    } else if (colon != NULL && strchr(colon + 1, ':') != NULL) {
        v6 = true; /* a bare IPv6 literal, no port */
    } else if (colon != NULL) {
        hn = (size_t)(colon - text);
        ps = colon + 1;
    }
    if (!host_ok(h, hn, v6)) {
        snprintf(errbuf, errlen,
                 "malformed target: not a host name or an IP address");
        return -1;
    }
    if (ps != NULL) {
        if (kind != MH_TARGET_HOST_PORT) {
            snprintf(errbuf, errlen,
                     "malformed target: this module takes no port");
            return -1;
        }
        unsigned long p = 0;
        size_t i = 0;
        for (; ps[i] >= '0' && ps[i] <= '9' && i < 6; i++) {
            p = p * 10 + (unsigned long)(ps[i] - '0');
        }
        if (i == 0 || ps[i] != '\0' || p < 1 || p > 65535) {
            snprintf(errbuf, errlen, "malformed target: port must be 1..65535");
            return -1;
        }
        *port = (unsigned)p;
    }
    if (kind == MH_TARGET_DOMAIN && v6) {
        snprintf(errbuf, errlen,
                 "malformed target: this module takes a domain");
        return -1;
    }
    memcpy(host, h, hn);
    host[hn] = '\0';
    return 0;
}

double
mh_exporter_probe_budget(double module_timeout_s, const char *scrape_timeout,
                         double offset_s)
{
    double t = module_timeout_s;
    if (scrape_timeout != NULL && scrape_timeout[0] >= '0' &&
        scrape_timeout[0] <= '9' && strlen(scrape_timeout) < 32) {
        /* Decimal seconds in the C locale (Prometheus writes "%g"). */
        double v = 0, scale = 0;
        const char *p = scrape_timeout;
        for (; *p != '\0'; p++) {
            if (*p >= '0' && *p <= '9') {
                if (scale == 0) {
                    v = v * 10 + (*p - '0');
                } else {
                    v += (*p - '0') * scale;
                    scale /= 10;
                }
            } else if (*p == '.' && scale == 0) {
                scale = 0.1;
            } else {
                break;
            }
        }
        if (*p == '\0' && v > 0 && v - offset_s < t) {
            t = v - offset_s;
        }
    }
    return t < 0.1 ? 0.1 : t;
}

bool
mh_exporter_accepts_gzip(const char *accept_encoding)
{
    if (accept_encoding == NULL) {
        return false;
    }
    const char *p = accept_encoding;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        const char *tok = p;
        while (*p != '\0' && *p != ',' && *p != ';' && *p != ' ' &&
               *p != '\t') {
            p++;
        }
        size_t tn = (size_t)(p - tok);
        bool match = (tn == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
                     (tn == 1 && tok[0] == '*');
        /* Parameters: q=0 (with optional zeros after the point) refuses
         * the coding. */
        bool q0 = false;
        while (*p != '\0' && *p != ',') {
            while (*p == ' ' || *p == '\t' || *p == ';') {
                p++;
            }
            if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
                const char *v = p + 2;
                q0 = v[0] == '0';
                for (v++;
                     q0 && *v != '\0' && *v != ',' && *v != ';' && *v != ' ';
                     v++) {
                    q0 = *v == '.' || *v == '0';
                }
            }
            while (*p != '\0' && *p != ',' && *p != ';') {
                p++;
            }
        }
        if (match && tn > 0) {
            return !q0;
        }
    }
    return false;
}

bool
mh_exporter_target_allowed(const struct mh_run_module *m, const char *host)
{
    if (m->nallowed == 0) {
        return true;
    }
    for (size_t i = 0; i < m->nallowed; i++) {
        if (fnmatch(m->allowed[i], host, FNM_CASEFOLD) == 0) {
            return true;
        }
    }
    return false;
}

int
mh_exporter_check_hash(const char *hash, char *errbuf, size_t errlen)
{
    if (hash[0] != '$' || strlen(hash) < 13 || strlen(hash) > 512) {
        snprintf(errbuf, errlen,
                 "not a password hash (write a bcrypt hash from htpasswd -nB "
                 "or a yescrypt hash from mkpasswd, never the password)");
        return -1;
    }
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (cd == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    /* A setting libcrypt cannot use gives "*0" or "*1" (crypt(3)). */
    const char *h = crypt_r("", hash, cd);
    bool ok = h != NULL && h[0] == '$';
    free(cd);
    if (!ok) {
        snprintf(errbuf, errlen,
                 "libcrypt cannot verify this hash (bcrypt $2y$, yescrypt "
                 "$y$, sha512crypt $6$ are supported)");
        return -1;
    }
    return 0;
}

/* ---- reference-counted bodies ------------------------------------------ */

struct blob {
    atomic_int refs;
    size_t len;
    char data[];
};

static struct blob *
blob_new(const void *data, size_t len)
{
    struct blob *b = malloc(sizeof *b + len + 1);
    if (b == NULL) {
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->len = len;
    if (data != NULL && len > 0) {
        memcpy(b->data, data, len);
    }
    b->data[len] = '\0';
    return b;
}

static void
blob_unref(struct blob *b)
{
    if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1) {
        free(b);
    }
}

static struct blob *
blob_ref(struct blob *b)
{
    if (b != NULL) {
        atomic_fetch_add(&b->refs, 1);
    }
    return b;
}

/* libmicrohttpd's free callback gets the data pointer. */
static void
blob_free_data(void *data)
{
    blob_unref((struct blob *)((char *)data - offsetof(struct blob, data)));
}

/* Two parts in one new blob. */
static struct blob *
blob_concat(const struct blob *a, const char *b, size_t blen)
{
    struct blob *r = blob_new(NULL, a->len + blen);
    if (r != NULL) {
        memcpy(r->data, a->data, a->len);
        memcpy(r->data + a->len, b, blen);
        r->data[r->len] = '\0';
    }
    return r;
}

/* gzip (RFC 1952) of data; NULL on failure. Members concatenate: a body
 * of two members is one valid gzip stream. */
static struct blob *
gzip_blob(const char *data, size_t len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        return NULL;
    }
    size_t cap = deflateBound(&z, (uLong)len);
    struct blob *b = blob_new(NULL, cap);
    if (b == NULL) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)b->data;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    b->len = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        blob_unref(b);
        return NULL;
    }
    return b;
}

/* ---- the exporter ------------------------------------------------------- */

/* HTTP status codes counted by mailhealth_exporter_http_requests_total. */
static const unsigned counted_codes[] = {200, 400, 401, 404, 405,
                                         413, 431, 500, 503};
#define NCODES (sizeof counted_codes / sizeof counted_codes[0])

struct probe_job;

/* A TCP connection (libmicrohttpd's socket context), for the deadline of
 * the request head: libmicrohttpd only bounds silence, so a client
 * dripping a byte every few seconds would hold a connection for ever. */
struct conn_slot {
    struct conn_slot *next, *prev;
    int fd;
    double head_deadline; /* monotonic; 0 while a request is handled */
};

struct mh_exporter {
    struct MHD_Daemon *d;
    struct mh_exporter_hooks hooks;

    pthread_mutex_t mu; /* cfg, owner, queue, jobs, stopping */
    pthread_cond_t cv;
    const struct mh_run_config *cfg;
    void *owner;
    struct probe_job *head, *tail; /* queued probes */
    struct probe_job *running;     /* list of jobs taken by threads */
    size_t queued, nthreads, threads_alive;
    bool stopping;

    pthread_mutex_t snap_mu;
    struct blob *snap;    /* rendered last round, NULL before */
    struct blob *snap_gz; /* its gzip (NULL: compression failed) */

    atomic_ulong rounds;
    atomic_ulong requests[NCODES];
    atomic_int active; /* requests between start and completion */

    pthread_mutex_t auth_mu; /* auth_cache */
    unsigned char auth_cache[AUTH_CACHE][32];
    size_t auth_next;
    char *tls_cert, *tls_key; /* PEM text, kept while the daemon runs */

    pthread_mutex_t conn_mu; /* conns, reaper_stop */
    pthread_cond_t conn_cv;
    struct conn_slot *conns;
    bool reaper_stop, reaper_started;
    pthread_t reaper;
};

struct probe_job {
    struct probe_job *next, *prev; /* queue, then the running list */
    struct mh_exporter *e;
    struct MHD_Connection *conn;
    const struct mh_run_module *mod;
    void *owner;
    char host[MH_EXPORTER_MAX_TARGET];
    char label[MH_EXPORTER_MAX_TARGET];
    unsigned port;
    double budget_s, queued_at;
    struct blob *body; /* the answer, set when done */
    int status;
    bool done, abandoned;
    bool debug; /* debug=true: a text answer for people (render_blob) */
    int refs;   /* the request and the probe thread, under e->mu */
};

/* Per-request state (libmicrohttpd's con_cls). */
struct req {
    struct probe_job *job;
    bool answered; /* a response is queued or the probe is started */
};

static void
count_code(struct mh_exporter *e, unsigned code)
{
    for (size_t i = 0; i < NCODES; i++) {
        if (counted_codes[i] == code) {
            atomic_fetch_add(&e->requests[i], 1);
        }
    }
}

static void
job_unref_locked(struct probe_job *j)
{
    if (--j->refs == 0) {
        blob_unref(j->body);
        j->e->hooks.drop(j->owner);
        free(j);
    }
}

static double
unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the HELP of a round's check families adds on /metrics. */
#define ROUND_NOTE "(from the runner's last complete round)"

/* What render_blob writes. */
enum form {
    FORM_ROUND, /* /metrics: with the writer's families and ROUND_NOTE */
    FORM_PROBE, /* /probe: the check's families only */
    FORM_DEBUG  /* /probe with debug=true: the Nagios form, then those */
};

/* Renders results into a new blob. */
static struct blob *
render_blob(const struct mh_result *const *res, size_t n, double now,
            double secs, enum form form)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        return NULL;
    }
    /* Only this thread writes f: no lock per character (a round of
     * 10,000 checks is 9.4 million of them). */
    __fsetlocking(f, FSETLOCKING_BYCALLER);
    int rc = 0;
    if (form == FORM_DEBUG) {
        /* As blackbox_exporter's debug=true: why the probe failed. */
        rc = fputs("The check, as the Nagios plugin prints it:\n\n", f) < 0;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            rc = mh_render_nagios(f, res[i]);
        }
        if (rc == 0 &&
            fputs("\nThe metrics /probe answers without debug=true:\n\n", f) <
                0) {
            rc = -1;
        }
    }
    if (rc == 0) {
        rc = mh_render_prometheus_with(f, res, n, now, secs, form == FORM_ROUND,
                                       form == FORM_ROUND ? ROUND_NOTE : NULL);
    }
    if (fclose(f) != 0) {
        rc = -1;
    }
    struct blob *b = rc == 0 ? blob_new(buf, len) : NULL;
    free(buf);
    return b;
}

/* Runs one probe job (on a probe thread). */
static void
run_job(struct probe_job *j)
{
    const struct mh_run_module *m = j->mod;
    struct mh_config cfg = m->chk.cfg; /* shallow: lists stay borrowed */
    if (mh_command_target_kind(cfg.command) == MH_TARGET_DOMAIN) {
        cfg.domain = j->host;
    } else {
        cfg.host = j->host;
    }
    if (j->port != 0) {
        cfg.port = (uint16_t)j->port;
    }
    double left = j->budget_s - (mh_monotonic_s() - j->queued_at);
    struct mh_result *r;
    if (left <= 0) {
        r = mh_result_unknown(mh_command_name(cfg.command), j->label,
                              MH_REASON_INTERNAL_ERROR,
                              "waited for a free probe slot past the "
                              "deadline (raise probe_concurrency)");
    } else {
        struct mh_deadline dl;
        mh_deadline_start(&dl, left);
        atomic_fetch_add(&mh_checks_in_flight, 1);
        r = mh_command_check(&cfg, &dl);
        atomic_fetch_sub(&mh_checks_in_flight, 1);
    }
    if (r != NULL) {
        mh_result_finish(r);
        if (mh_result_set_target(r, j->label) != 0) {
            mh_result_free(r);
            r = NULL;
        }
    }
    if (r != NULL) {
        const struct mh_result *one[] = {r};
        j->body = render_blob(one, 1, unix_now(), -1,
                              j->debug ? FORM_DEBUG : FORM_PROBE);
        mh_result_free(r);
    }
    j->status = j->body != NULL ? 200 : 500;
}

static void *
probe_thread(void *arg)
{
    struct mh_exporter *e = arg;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->stopping && e->head == NULL) {
            pthread_cond_wait(&e->cv, &e->mu);
        }
        if (e->stopping) {
            break;
        }
        struct probe_job *j = e->head;
        e->head = j->next;
        if (e->head == NULL) {
            e->tail = NULL;
        }
        e->queued--;
        j->prev = NULL;
        j->next = e->running;
        if (e->running != NULL) {
            e->running->prev = j;
        }
        e->running = j;
        pthread_mutex_unlock(&e->mu);

        run_job(j);

        pthread_mutex_lock(&e->mu);
        if (j->prev != NULL) {
            j->prev->next = j->next;
        } else if (e->running == j) {
            e->running = j->next;
        }
        if (j->next != NULL) {
            j->next->prev = j->prev;
        }
        j->done = true;
        if (!j->abandoned) {
            MHD_resume_connection(j->conn);
        }
        job_unref_locked(j);
    }
    e->threads_alive--;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* ---- answers ------------------------------------------------------------ */

/* Adds the headers of every answer to r and queues it (r is released). */
static enum MHD_Result
queue_response(struct MHD_Connection *conn, unsigned code,
               struct MHD_Response *r, const char *type, const char *encoding)
{
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (encoding != NULL) {
        MHD_add_response_header(r, "Content-Encoding", encoding);
    }
    MHD_add_response_header(r, "Vary", "Accept-Encoding");
    if (code == 405) {
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    }
    enum MHD_Result rc = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return rc;
}

/* Queues an answer with body b (taken over), not counted. */
static enum MHD_Result
queue_blob(struct MHD_Connection *conn, unsigned code, struct blob *b,
           const char *type, const char *encoding)
{
    if (b == NULL) {
        return MHD_NO; /* out of memory: libmicrohttpd closes */
    }
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(
        b->len, b->data, blob_free_data);
    if (r == NULL) {
        blob_unref(b);
        return MHD_NO;
    }
    return queue_response(conn, code, r, type, encoding);
}

/* The two parts of a body sent without copying them. */
struct two_blobs {
    struct blob *a, *b;
};

static void
two_blobs_free(void *cls)
{
    struct two_blobs *t = cls;
    blob_unref(t->a);
    blob_unref(t->b);
    free(t);
}

/* Queues an answer whose body is a (may be NULL) then b, both taken
 * over, not counted. The parts are sent from where they are (an iovec
 * response; the round's exposition is megabytes), or copied into one
 * buffer when libmicrohttpd is older than 0.9.73. */
static enum MHD_Result
queue_parts(struct MHD_Connection *conn, unsigned code, struct blob *a,
            struct blob *b, const char *type, const char *encoding)
{
    if (a == NULL) {
        return queue_blob(conn, code, b, type, encoding);
    }
    struct two_blobs *t = malloc(sizeof *t);
    if (t == NULL || b == NULL) {
        free(t);
        blob_unref(a);
        blob_unref(b);
        return MHD_NO;
    }
    t->a = a;
    t->b = b;
    const struct MHD_IoVec iov[2] = {{a->data, a->len}, {b->data, b->len}};
    struct MHD_Response *r =
        MHD_create_response_from_iovec(iov, 2, two_blobs_free, t);
    if (r == NULL) {
        struct blob *one = blob_concat(a, b->data, b->len);
        two_blobs_free(t);
        return queue_blob(conn, code, one, type, encoding);
    }
    return queue_response(conn, code, r, type, encoding);
}

/* Counts and queues an answer with body b (taken over). */
static enum MHD_Result
answer_blob(struct mh_exporter *e, struct MHD_Connection *conn, unsigned code,
            struct blob *b, const char *type, const char *encoding)
{
    count_code(e, code);
    return queue_blob(conn, code, b, type, encoding);
}

static enum MHD_Result answer_text(struct mh_exporter *e,
                                   struct MHD_Connection *conn, unsigned code,
                                   const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum MHD_Result
answer_text(struct mh_exporter *e, struct MHD_Connection *conn, unsigned code,
            const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    size_t len = n < 0                        ? 0
                 : (size_t)n < sizeof buf - 1 ? (size_t)n
                                              : sizeof buf - 2;
    buf[len++] = '\n';
    return answer_blob(e, conn, code, blob_new(buf, len), TEXT_TYPE, NULL);
}

/* The exporter's own families. */
static int
own_metrics(struct mh_exporter *e, FILE *f)
{
    int rc = 0;
    rc |= mh_prom_put_header(f, MH_METRIC_EXPORTER_ROUNDS_TOTAL, NULL);
    rc |= fprintf(f, "%s %lu\n", MH_METRIC(EXPORTER_ROUNDS_TOTAL),
                  atomic_load(&e->rounds)) < 0;
    rc |= mh_prom_put_header(f, MH_METRIC_EXPORTER_CHECKS_IN_FLIGHT, NULL);
    rc |= fprintf(f, "%s %d\n", MH_METRIC(EXPORTER_CHECKS_IN_FLIGHT),
                  atomic_load(&mh_checks_in_flight)) < 0;
    rc |= mh_prom_put_header(f, MH_METRIC_EXPORTER_HTTP_REQUESTS_TOTAL, NULL);
    for (size_t i = 0; i < NCODES; i++) {
        rc |= fprintf(f, "%s{code=\"%u\"} %lu\n",
                      MH_METRIC(EXPORTER_HTTP_REQUESTS_TOTAL), counted_codes[i],
                      atomic_load(&e->requests[i])) < 0;
    }
    return rc ? -1 : 0;
}

/* The exporter's own families as a new blob (gzip'ed when gz). */
static struct blob *
own_blob(struct mh_exporter *e, bool gz)
{
    char *own = NULL;
    size_t ownlen = 0;
    FILE *f = open_memstream(&own, &ownlen);
    int rc = f != NULL ? own_metrics(e, f) : -1;
    if (f != NULL && fclose(f) != 0) {
        rc = -1;
    }
    struct blob *b = rc != 0 ? NULL
                     : gz    ? gzip_blob(own, ownlen)
                             : blob_new(own, ownlen);
    free(own);
    return b;
}

/* /metrics: the round's exposition as published (plain or gzip, made
 * once per round by mh_exporter_publish) followed by the exporter's own
 * families rendered now; the round's bytes are not copied. */
static enum MHD_Result
serve_metrics(struct mh_exporter *e, struct MHD_Connection *conn)
{
    bool gz = mh_exporter_accepts_gzip(
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding"));
    pthread_mutex_lock(&e->snap_mu);
    if (gz && e->snap != NULL && e->snap_gz == NULL) {
        gz = false; /* its compression failed: plain is always accepted */
    }
    struct blob *round = blob_ref(gz ? e->snap_gz : e->snap);
    pthread_mutex_unlock(&e->snap_mu);
    /* This request is counted before the counters are written. */
    count_code(e, 200);
    struct blob *own = own_blob(e, gz);
    if (own == NULL) {
        blob_unref(round);
        return answer_text(e, conn, 500, "out of memory");
    }
    return queue_parts(conn, 200, round, own, PROM_TYPE, gz ? "gzip" : NULL);
}

/* Appends s to f as HTML text. */
static void
html_escape(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* Appends s to f percent-encoded for a query value, then HTML-escaped. */
static void
url_escape(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.') {
            fputc(c, f);
        } else {
            fprintf(f, "%%%02X", c);
        }
    }
}

static enum MHD_Result
serve_landing(struct mh_exporter *e, struct MHD_Connection *conn,
              const struct mh_run_config *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        return answer_text(e, conn, 500, "out of memory");
    }
    fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
          "<title>mailhealth exporter</title></head><body>\n"
          "<h1>mailhealth exporter</h1>\n"
          "<p><a href=\"/metrics\">/metrics</a>: the runner's last complete "
          "round</p>\n<p><a href=\"/-/healthy\">/-/healthy</a>: 200 while "
          "the exporter serves</p>\n<h2>Probe modules</h2>\n<ul>\n",
          f);
    for (size_t i = 0; c != NULL && i < c->exporter.nmodules; i++) {
        const struct mh_run_module *m = &c->exporter.modules[i];
        fputs("<li><a href=\"/probe?module=", f);
        url_escape(f, m->chk.name);
        fputs("&amp;target=\">", f);
        html_escape(f, m->chk.name);
        fprintf(f, "</a> (%s, timeout %g s%s)</li>\n",
                mh_command_name(m->chk.cfg.command), m->chk.cfg.timeout_s,
                m->nallowed > 0 ? ", restricted targets" : "");
    }
    fputs("</ul>\n<p>/probe?module=NAME&amp;target=HOST[:PORT]</p>\n"
          "</body></html>\n",
          f);
    int rc = fclose(f);
    struct blob *b = rc == 0 ? blob_new(buf, len) : NULL;
    free(buf);
    return answer_blob(e, conn, 200, b, "text/html; charset=utf-8", NULL);
}

static enum MHD_Result
serve_probe(struct mh_exporter *e, struct MHD_Connection *conn, struct req *rq,
            const struct mh_run_config *c, void *owner)
{
    const char *module =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "module");
    const char *target =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "target");
    const struct mh_run_module *m = NULL;
    for (size_t i = 0; module != NULL && i < c->exporter.nmodules; i++) {
        if (strcmp(c->exporter.modules[i].chk.name, module) == 0) {
            m = &c->exporter.modules[i];
        }
    }
    if (m == NULL) {
        return answer_text(e, conn, 400,
                           module == NULL ? "the module parameter is missing"
                                          : "unknown module (the landing "
                                            "page / lists them)");
    }
    char host[MH_EXPORTER_MAX_TARGET], why[160];
    unsigned port;
    if (mh_exporter_parse_target(mh_command_target_kind(m->chk.cfg.command),
                                 target, host, sizeof host, &port, why,
                                 sizeof why) != 0) {
        return answer_text(e, conn, 400, "%s", why);
    }
    if (!mh_exporter_target_allowed(m, host)) {
        return answer_text(e, conn, 400,
                           "target not allowed by the module's "
                           "allowed_targets");
    }
    struct probe_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        return answer_text(e, conn, 500, "out of memory");
    }
    j->e = e;
    j->conn = conn;
    j->mod = m;
    j->owner = owner;
    snprintf(j->host, sizeof j->host, "%s", host);
    snprintf(j->label, sizeof j->label, "%s", target);
    j->port = port;
    j->budget_s = mh_exporter_probe_budget(
        m->chk.cfg.timeout_s,
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                    "X-Prometheus-Scrape-Timeout-Seconds"),
        c->exporter.timeout_offset_s);
    j->queued_at = mh_monotonic_s();
    const char *debug =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "debug");
    j->debug = debug != NULL && strcmp(debug, "true") == 0;
    j->refs = 2;
    pthread_mutex_lock(&e->mu);
    if (e->stopping || e->queued >= e->nthreads) {
        pthread_mutex_unlock(&e->mu);
        free(j);
        return answer_text(e, conn, 503,
                           "too many probes at once (probe_concurrency)");
    }
    e->hooks.hold(owner);
    /* Suspended before it is queued, so a probe thread can only resume a
     * suspended connection. */
    MHD_suspend_connection(conn);
    j->next = NULL;
    if (e->tail != NULL) {
        e->tail->next = j;
    } else {
        e->head = j;
    }
    e->tail = j;
    e->queued++;
    rq->job = j;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return MHD_YES;
}

/* The answer of a resumed probe. */
static enum MHD_Result
finish_probe(struct mh_exporter *e, struct MHD_Connection *conn, struct req *rq)
{
    pthread_mutex_lock(&e->mu);
    struct probe_job *j = rq->job;
    rq->job = NULL;
    bool ok = j->done && j->body != NULL && !j->abandoned;
    struct blob *b = ok ? blob_ref(j->body) : NULL;
    bool debug = j->debug;
    unsigned status = j->abandoned ? 503 : (unsigned)j->status;
    job_unref_locked(j);
    pthread_mutex_unlock(&e->mu);
    if (b == NULL) {
        return answer_text(e, conn, status == 200 ? 500 : status,
                           status == 503 ? "the exporter is stopping"
                                         : "the probe failed (out of memory)");
    }
    return answer_blob(e, conn, 200, b, debug ? TEXT_TYPE : PROM_TYPE, NULL);
}

/* True when password is user's password: hash is the user's crypt(3)
 * hash from basic_auth_users. Successful checks are remembered by the
 * SHA-256 of user, password and hash (a changed hash forgets them). */
static bool
password_ok(struct mh_exporter *e, const char *user, const char *password,
            const char *hash)
{
    unsigned char key[32];
    unsigned int klen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool have_key = md != NULL &&
                    EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
                    EVP_DigestUpdate(md, user, strlen(user) + 1) == 1 &&
                    EVP_DigestUpdate(md, password, strlen(password) + 1) == 1 &&
                    EVP_DigestUpdate(md, hash, strlen(hash)) == 1 &&
                    EVP_DigestFinal_ex(md, key, &klen) == 1 && klen == 32;
    EVP_MD_CTX_free(md);
    if (have_key) {
        pthread_mutex_lock(&e->auth_mu);
        for (size_t i = 0; i < AUTH_CACHE; i++) {
            if (CRYPTO_memcmp(e->auth_cache[i], key, 32) == 0) {
                pthread_mutex_unlock(&e->auth_mu);
                return true;
            }
        }
        pthread_mutex_unlock(&e->auth_mu);
    }
    struct crypt_data *cd = calloc(1, sizeof *cd);
    if (cd == NULL) {
        return false;
    }
    const char *h = crypt_r(password, hash, cd);
    bool ok = h != NULL && h[0] == '$' && strlen(h) == strlen(hash) &&
              CRYPTO_memcmp(h, hash, strlen(hash)) == 0;
    OPENSSL_cleanse(cd, sizeof *cd);
    free(cd);
    if (ok && have_key) {
        pthread_mutex_lock(&e->auth_mu);
        memcpy(e->auth_cache[e->auth_next], key, 32);
        e->auth_next = (e->auth_next + 1) % AUTH_CACHE;
        pthread_mutex_unlock(&e->auth_mu);
    }
    return ok;
}

/* True when the request carries the credentials of a configured user
 * (HTTP basic authentication, RFC 7617). */
static bool
authorized(struct mh_exporter *e, struct MHD_Connection *conn,
           const cJSON *users)
{
    char *password = NULL;
    char *user = MHD_basic_auth_get_username_password(conn, &password);
    bool ok = false;
    if (user != NULL && password != NULL) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(users, user);
        ok =
            cJSON_IsString(h) && password_ok(e, user, password, h->valuestring);
    }
    if (password != NULL) {
        OPENSSL_cleanse(password, strlen(password));
        MHD_free(password);
    }
    MHD_free(user);
    return ok;
}

static enum MHD_Result
ask_credentials(struct mh_exporter *e, struct MHD_Connection *conn)
{
    static const char text[] = "authentication required\n";
    count_code(e, 401);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        sizeof text - 1, (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", TEXT_TYPE);
    enum MHD_Result rc = MHD_queue_basic_auth_fail_response(conn, REALM, r);
    MHD_destroy_response(r);
    return rc;
}

/* Sets the head deadline of conn's TCP connection (0: none). */
static void
set_head_deadline(struct mh_exporter *e, struct MHD_Connection *conn,
                  double deadline)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci == NULL || ci->socket_context == NULL) {
        return;
    }
    pthread_mutex_lock(&e->conn_mu);
    ((struct conn_slot *)ci->socket_context)->head_deadline = deadline;
    pthread_mutex_unlock(&e->conn_mu);
}

/* Connections opened and closed: the slots the reaper watches. */
static void
notify_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                  enum MHD_ConnectionNotificationCode toe)
{
    struct mh_exporter *e = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct conn_slot *s = calloc(1, sizeof *s);
        if (s == NULL || ci == NULL) {
            free(s);
            return; /* not watched: libmicrohttpd's idle timeout stays */
        }
        s->fd = ci->connect_fd;
        s->head_deadline = mh_monotonic_s() + HEAD_S;
        pthread_mutex_lock(&e->conn_mu);
        s->next = e->conns;
        if (e->conns != NULL) {
            e->conns->prev = s;
        }
        e->conns = s;
        pthread_mutex_unlock(&e->conn_mu);
        *socket_ctx = s;
        return;
    }
    struct conn_slot *s = *socket_ctx;
    if (s == NULL) {
        return;
    }
    /* Closed: libmicrohttpd closes the socket after this returns, so the
     * reaper (under conn_mu) never touches a reused descriptor. */
    pthread_mutex_lock(&e->conn_mu);
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        e->conns = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    pthread_mutex_unlock(&e->conn_mu);
    free(s);
    *socket_ctx = NULL;
}

/* Shuts down connections whose request head is late; libmicrohttpd then
 * sees the end of the stream and closes them. */
static void *
reaper_main(void *arg)
{
    struct mh_exporter *e = arg;
    pthread_mutex_lock(&e->conn_mu);
    while (!e->reaper_stop) {
        double now = mh_monotonic_s();
        for (struct conn_slot *s = e->conns; s != NULL; s = s->next) {
            if (s->head_deadline > 0 && now > s->head_deadline) {
                shutdown(s->fd, SHUT_RDWR);
                s->head_deadline = 0;
            }
        }
        struct timespec abs = mh_monotonic_timespec(now + 0.5);
        pthread_cond_timedwait(&e->conn_cv, &e->conn_mu, &abs);
    }
    pthread_mutex_unlock(&e->conn_mu);
    return NULL;
}

/* Sums the request head's header sizes (the request line is bounded by
 * libmicrohttpd's buffer). */
static enum MHD_Result
add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                const char *value)
{
    (void)kind;
    size_t *sum = cls;
    *sum += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
    return MHD_YES;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
       const char *method, const char *version, const char *upload_data,
       size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    struct mh_exporter *e = cls;
    struct req *rq = *con_cls;
    if (rq == NULL) {
        /* The head is in: checks that need no more than the head. */
        rq = calloc(1, sizeof *rq);
        if (rq == NULL) {
            return MHD_NO;
        }
        *con_cls = rq;
        atomic_fetch_add(&e->active, 1);
        set_head_deadline(e, conn, 0);
        size_t head = strlen(url);
        MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header_size,
                                  &head);
        if (head > MAX_HEAD_BYTES) {
            rq->answered = true;
            return answer_text(e, conn, 431,
                               "request head larger than %u bytes",
                               MAX_HEAD_BYTES);
        }
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
            rq->answered = true;
            return answer_text(e, conn, 405, "only GET and HEAD");
        }
        /* A GET or HEAD with a body (RFC 9110 section 9.3.1: no meaning)
         * is answered now: waiting for a body that may never come (a
         * chunked one, an absurd Content-Length) would hold the
         * connection until the idle timeout. */
        const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     "Transfer-Encoding");
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     "Content-Length");
        if (te != NULL || (cl != NULL && strcmp(cl, "0") != 0)) {
            rq->answered = true;
            return answer_text(e, conn, 413, "a request body is not accepted");
        }
        /* Answered once the whole request is in, so that
         * libmicrohttpd can keep the connection alive. */
        return MHD_YES;
    }
    if (rq->job != NULL) {
        return finish_probe(e, conn, rq);
    }
    if (*upload_data_size != 0) {
        /* A body is never read: libmicrohttpd cannot answer in the middle
         * of one, so the connection is closed without an answer. */
        return MHD_NO;
    }
    if (rq->answered) {
        return MHD_YES;
    }
    rq->answered = true;
    pthread_mutex_lock(&e->mu);
    const struct mh_run_config *c = e->cfg;
    void *owner = e->owner;
    e->hooks.hold(owner);
    pthread_mutex_unlock(&e->mu);
    enum MHD_Result rc;
    if (c->exporter.users != NULL && !authorized(e, conn, c->exporter.users)) {
        rc = ask_credentials(e, conn);
    } else if (strcmp(url, "/metrics") == 0) {
        rc = serve_metrics(e, conn);
    } else if (strcmp(url, "/probe") == 0) {
        rc = serve_probe(e, conn, rq, c, owner);
    } else if (strcmp(url, "/") == 0) {
        rc = serve_landing(e, conn, c);
    } else if (strcmp(url, "/-/healthy") == 0) {
        rc = answer_text(e, conn, 200, "Healthy");
    } else {
        rc = answer_text(e, conn, 404, "not found: try /metrics or /probe");
    }
    e->hooks.drop(owner);
    return rc;
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    struct mh_exporter *e = cls;
    struct req *rq = *con_cls;
    if (rq == NULL) {
        return;
    }
    if (rq->job != NULL) {
        /* Closed while the probe ran (stop): the thread drops its part. */
        pthread_mutex_lock(&e->mu);
        rq->job->abandoned = true;
        job_unref_locked(rq->job);
        pthread_mutex_unlock(&e->mu);
    }
    free(rq);
    *con_cls = NULL;
    atomic_fetch_sub(&e->active, 1);
    /* The next request on this connection has HEAD_S for its head. */
    set_head_deadline(e, conn, mh_monotonic_s() + HEAD_S);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        buf[--n] = '\0';
    }
    mh_runlog(MH_LOG_DEBUG, "exporter: libmicrohttpd: %s", buf);
}

/* ---- start, publish, stop ------------------------------------------------ */

/* Reads a PEM file (at most MAX_PEM_BYTES) into a new string. */
static char *
read_pem(const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(errbuf, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_PEM_BYTES + 1);
    size_t n = buf != NULL ? fread(buf, 1, MAX_PEM_BYTES + 1, f) : 0;
    bool bad = buf == NULL || ferror(f) != 0 || n > MAX_PEM_BYTES || n == 0;
    fclose(f);
    if (bad) {
        snprintf(errbuf, errlen, "cannot read %s: %s", path,
                 buf == NULL ? "out of memory"
                 : n == 0    ? "empty"
                             : "larger than 1 MiB or unreadable");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

struct mh_exporter *
mh_exporter_start(const char *listen, const struct mh_run_config *c,
                  void *owner, const struct mh_exporter_hooks *hooks,
                  char *errbuf, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (mh_exporter_parse_listen(listen, &ss, &sl, errbuf, errlen) != 0) {
        return NULL;
    }
    if (!mh_mhd_available(errbuf, errlen)) {
        return NULL;
    }
    struct mh_exporter *e = calloc(1, sizeof *e);
    if (e == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    e->hooks = *hooks;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    pthread_mutex_init(&e->snap_mu, NULL);
    pthread_mutex_init(&e->conn_mu, NULL);
    pthread_mutex_init(&e->auth_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->conn_cv, &ca);
    pthread_condattr_destroy(&ca);
    e->cfg = c;
    e->owner = owner;
    hooks->hold(owner);
    e->reaper_started = pthread_create(&e->reaper, NULL, reaper_main, e) == 0;
    e->nthreads = c->exporter.probe_concurrency;
    for (size_t i = 0; i < e->nthreads; i++) {
        pthread_t th;
        if (pthread_create(&th, NULL, probe_thread, e) != 0) {
            snprintf(errbuf, errlen, "cannot start probe threads");
            mh_exporter_stop(e);
            return NULL;
        }
        pthread_detach(th);
        e->threads_alive++;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem tls[4] = {{MHD_OPTION_END, 0, NULL}};
    if (c->exporter.tls_cert_file != NULL) {
        e->tls_cert = read_pem(c->exporter.tls_cert_file, errbuf, errlen);
        e->tls_key = e->tls_cert != NULL
                         ? read_pem(c->exporter.tls_key_file, errbuf, errlen)
                         : NULL;
        if (e->tls_key == NULL) {
            mh_exporter_stop(e);
            return NULL;
        }
        flags |= MHD_USE_TLS;
        tls[0] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, e->tls_cert};
        tls[1] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, e->tls_key};
        tls[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
                                         (void *)(uintptr_t)TLS_PRIORITIES};
        tls[3] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    }
    if (ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    uint16_t port = ss.ss_family == AF_INET6
                        ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    e->d = MHD_start_daemon(
        flags, port, NULL, NULL, handle, e, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        e, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MAX_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)POOL_BYTES,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_THREADS,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_NOTIFY_COMPLETED, completed, e, MHD_OPTION_NOTIFY_CONNECTION,
        notify_connection, e, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (e->d == NULL) {
        snprintf(errbuf, errlen, "cannot listen on %s: %s%s", listen,
                 errno != 0 ? strerror(errno) : "libmicrohttpd failed",
                 e->tls_cert != NULL ? " (or the TLS certificate and key do "
                                       "not load or match)"
                                     : "");
        mh_exporter_stop(e);
        return NULL;
    }
    mh_runlog(MH_LOG_INFO,
              "exporter: listening on %s (%s%s), %zu probe module%s, "
              "probe_concurrency %zu",
              listen, e->tls_cert != NULL ? "https" : "http",
              c->exporter.users != NULL ? ", basic authentication" : "",
              c->exporter.nmodules, c->exporter.nmodules == 1 ? "" : "s",
              e->nthreads);
    return e;
}

void
mh_exporter_set_config(struct mh_exporter *e, const struct mh_run_config *c,
                       void *owner)
{
    e->hooks.hold(owner);
    pthread_mutex_lock(&e->mu);
    void *old = e->owner;
    e->cfg = c;
    e->owner = owner;
    pthread_mutex_unlock(&e->mu);
    e->hooks.drop(old);
}

/* Makes b and gz (taken over, may be NULL) the round /metrics serves. */
static void
swap_round(struct mh_exporter *e, struct blob *b, struct blob *gz)
{
    pthread_mutex_lock(&e->snap_mu);
    struct blob *old = e->snap, *oldgz = e->snap_gz;
    e->snap = b;
    e->snap_gz = gz;
    pthread_mutex_unlock(&e->snap_mu);
    blob_unref(old);
    blob_unref(oldgz);
}

int
mh_exporter_publish(struct mh_exporter *e,
                    const struct mh_result *const *results, size_t n,
                    double now_unix, double round_seconds)
{
    double t0 = mh_monotonic_s();
    struct blob *b =
        render_blob(results, n, now_unix, round_seconds, FORM_ROUND);
    if (b == NULL) {
        return -1;
    }
    /* Compressed here, on the runner's thread and once: when Prometheus
     * scrapes as often as rounds end, every scrape is the first of its
     * round. NULL (out of memory) serves the plain form. */
    double t1 = mh_monotonic_s();
    struct blob *gz = gzip_blob(b->data, b->len);
    mh_runlog(MH_LOG_DEBUG,
              "exporter: round rendered for /metrics: %zu bytes in %.1f ms, "
              "gzip %zu bytes in %.1f ms",
              b->len, (t1 - t0) * 1e3, gz != NULL ? gz->len : 0,
              (mh_monotonic_s() - t1) * 1e3);
    swap_round(e, b, gz);
    atomic_fetch_add(&e->rounds, 1);
    return 0;
}

void
mh_exporter_forget_round(struct mh_exporter *e)
{
    swap_round(e, NULL, NULL);
}

size_t
mh_exporter_stop(struct mh_exporter *e)
{
    if (e == NULL) {
        return 0;
    }
    double until = mh_monotonic_s() + STOP_DRAIN_S;
    if (e->d != NULL) {
        MHD_socket s = MHD_quiesce_daemon(e->d);
        if (s != MHD_INVALID_SOCKET) {
            close(s);
        }
        while (atomic_load(&e->active) > 0 && mh_monotonic_s() < until) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    /* Probes still queued or running are answered 503 now. */
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    pthread_cond_broadcast(&e->cv);
    for (struct probe_job *j = e->head; j != NULL;) {
        struct probe_job *next = j->next;
        j->abandoned = true;
        MHD_resume_connection(j->conn);
        job_unref_locked(j); /* the probe thread's part */
        j = next;
    }
    e->head = e->tail = NULL;
    e->queued = 0;
    for (struct probe_job *j = e->running; j != NULL; j = j->next) {
        if (!j->abandoned) {
            j->abandoned = true;
            MHD_resume_connection(j->conn);
        }
    }
    pthread_mutex_unlock(&e->mu);
    if (e->d != NULL) {
        /* Lets the polling threads send the 503s just queued. */
        double end = mh_monotonic_s() + 0.2;
        while (atomic_load(&e->active) > 0 && mh_monotonic_s() < end) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(e->d);
        e->d = NULL;
    }
    if (e->reaper_started) {
        pthread_mutex_lock(&e->conn_mu);
        e->reaper_stop = true;
        pthread_cond_broadcast(&e->conn_cv);
        pthread_mutex_unlock(&e->conn_mu);
        pthread_join(e->reaper, NULL);
        e->reaper_started = false;
    }
    pthread_mutex_lock(&e->mu);
    while (e->threads_alive > 0 && mh_monotonic_s() < until) {
        struct timespec abs;
        clock_gettime(CLOCK_REALTIME, &abs);
        abs.tv_nsec += 50 * 1000 * 1000;
        if (abs.tv_nsec >= 1000000000L) {
            abs.tv_sec++;
            abs.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&e->cv, &e->mu, &abs);
    }
    size_t left = e->threads_alive;
    pthread_mutex_unlock(&e->mu);
    if (left > 0) {
        return left; /* the threads still use e: it stays */
    }
    e->hooks.drop(e->owner);
    blob_unref(e->snap);
    blob_unref(e->snap_gz);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->snap_mu);
    pthread_mutex_destroy(&e->conn_mu);
    pthread_mutex_destroy(&e->auth_mu);
    OPENSSL_cleanse(e->auth_cache, sizeof e->auth_cache);
    if (e->tls_key != NULL) {
        OPENSSL_cleanse(e->tls_key, strlen(e->tls_key));
    }
    free(e->tls_key);
    free(e->tls_cert);
    pthread_cond_destroy(&e->conn_cv);
    free(e);
    return 0;
}
