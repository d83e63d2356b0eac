/* SPDX-License-Identifier: MIT */
/*
 * mtasts_fetch: the MTA-STS policy over HTTPS with libcurl (RFC 8461 3.3;
 * see mtasts.h). The policy host's certificate is verified once, inside
 * the handshake, by tlscheck.h's job: libcurl's SSL_CTX gets our
 * certificate-verification callback (CURLOPT_SSL_CTX_FUNCTION,
 * SSL_CTX_set_cert_verify_callback), which prepares and runs the job with
 * the session's trust store and the host name set in the context's
 * X509_VERIFY_PARAM, and answers OpenSSL with its result: libcurl refuses
 * what the job refuses, and the report (every problem, every element's
 * days) exists whether the handshake went on or not.
 *
 * libcurl references (7.88): CURLOPT_SSL_CTX_FUNCTION, CURLOPT_MAXFILESIZE_
 * LARGE, CURLOPT_FOLLOWLOCATION (off by default, set anyway),
 * CURLINFO_RESPONSE_CODE, CURLINFO_CONTENT_TYPE, CURLINFO_REDIRECT_URL.
 */
#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "curl_pin.h"
#include "mtasts.h"
#include "textutil.h"
#include "tlscheck.h"

/* The well-known path of the policy (RFC 8461 3.3). */
#define STS_POLICY_PATH "/.well-known/mta-sts.txt"

struct fetch {
    const struct mh_sts_fetch_params *p;
    struct mh_sts_fetch *out;
    char host[300]; /* "mta-sts.DOMAIN" */
    double now;
    struct mh_tls_verify_job *job; /* of the last handshake */
    bool too_large;
    size_t cap;
};

static void
trace(const struct fetch *f, const char *dir, const char *line)
{
    if (f->p->trace != NULL) {
        f->p->trace(f->p->trace_arg, dir, line);
    }
}

/* SSL_CTX_set_cert_verify_callback(3): replaces X509_verify_cert() in the
 * handshake. */
static int
verify_cb(X509_STORE_CTX *sctx, void *arg)
{
    struct fetch *f = arg;
    SSL *ssl =
        X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    /* A second handshake (libcurl tried another address) replaces the
     * first one's report. */
    mh_tls_verify_free(f->job);
    f->job = ssl != NULL ? mh_tls_verify_prepare(ssl, f->now) : NULL;
    if (f->job == NULL) {
        X509_STORE_CTX_set_error(sctx, X509_V_ERR_OUT_OF_MEM);
        return 0;
    }
    mh_tls_verify_run(f->job, NULL, NULL);
    long v = mh_tls_verify_result(f->job);
    X509_STORE_CTX_set_error(sctx, (int)v);
    return v == X509_V_OK ? 1 : 0;
}

/* CURLOPT_SSL_CTX_FUNCTION: libcurl's context, before the handshake. */
static CURLcode
sslctx_cb(CURL *h, void *sslctx, void *arg)
{
    (void)h;
    struct fetch *f = arg;
    SSL_CTX *ctx = sslctx;
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_hostflags(param,
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(param, f->host, 0) != 1) {
        return CURLE_ABORTED_BY_CALLBACK;
    }
    SSL_CTX_set_cert_verify_callback(ctx, verify_cb, f);
    return CURLE_OK;
}

/* CURLOPT_WRITEFUNCTION: the body, aborted past the cap. */
static size_t
write_cb(char *buf, size_t size, size_t n, void *ud)
{
    struct fetch *f = ud;
    struct mh_sts_fetch *o = f->out;
    size_t len = size * n;
    if (o->len + len > f->cap) {
        f->too_large = true;
        return 0; /* libcurl: CURLE_WRITE_ERROR, transfer aborted */
    }
    char *b = realloc(o->body, o->len + len + 1);
    if (b == NULL) {
        return 0;
    }
    memcpy(b + o->len, buf, len);
    o->len += len;
    b[o->len] = '\0';
    o->body = b;
    return len;
}

static void fail(struct mh_sts_fetch *o, enum mh_sts_fetch_status st,
                 enum mh_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
fail(struct mh_sts_fetch *o, enum mh_sts_fetch_status st, enum mh_reason reason,
     const char *fmt, ...)
{
    char raw[sizeof o->err];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    o->status = st;
    o->reason = reason;
    o->err[0] = '\0';
    mh_text_escape_append(o->err, sizeof o->err, raw, strlen(raw), true);
}

/* The policy host's certificate report from the job of the handshake. */
static void
cert_report(struct fetch *f)
{
    struct mh_sts_fetch *o = f->out;
    if (f->job == NULL) {
        return;
    }
    char where[320];
    mh_textf(where, sizeof where, "%s:443", f->host);
    /* No "where" prefix: the fetch's message names the host. */
    struct mh_tls_check_params cp = {
        .verify = true,
        .verify_name = f->host,
        .sni_sent = true,
        .warn_days = f->p->cert_warn_days,
        .crit_days = f->p->cert_crit_days,
        .now = f->now,
    };
    o->cert = mh_result_new("mta-sts", where);
    if (o->cert == NULL) {
        return;
    }
    mh_tls_check_job(f->job, NULL, NULL, &cp, o->cert);
    for (size_t i = 0; i < o->cert->nsamples; i++) {
        if (strcmp(o->cert->samples[i].family,
                   MH_METRIC(TLS_EARLIEST_CERT_EXPIRY_TIMESTAMP_SECONDS)) ==
            0) {
            o->cert_expiry = o->cert->samples[i].value;
        }
    }
}

/* Sets up the handle. Returns 0 or -1. */
static int
setup(struct fetch *f, CURL *h)
{
    const struct mh_sts_fetch_params *p = f->p;
    long ipres = p->family == AF_INET    ? CURL_IPRESOLVE_V4
                 : p->family == AF_INET6 ? CURL_IPRESOLVE_V6
                                         : CURL_IPRESOLVE_WHATEVER;
    int bad = 0;
    bad |= curl_easy_setopt(h, CURLOPT_URL, f->out->url) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500 /* CURLOPT_PROTOCOLS_STR: 7.85.0 */
    bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK;
#else
    bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS) !=
           CURLE_OK;
#endif
    /* RFC 8461 3.3: redirects MUST NOT be followed. */
    bad |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_SSLVERSION,
                            (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, sslctx_cb) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, f) != CURLE_OK;
    if (p->ca_file != NULL) {
        bad |= curl_easy_setopt(h, CURLOPT_CAINFO, p->ca_file) != CURLE_OK;
    }
    if (p->ca_path != NULL) {
        bad |= curl_easy_setopt(h, CURLOPT_CAPATH, p->ca_path) != CURLE_OK;
    }
    bad |= curl_easy_setopt(h, CURLOPT_IPRESOLVE, ipres) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                            (curl_off_t)MH_STS_BODY_MAX) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, f) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_USERAGENT, "mailhealth (MTA-STS)") !=
           CURLE_OK;
    return bad ? -1 : 0;
}

/* Maps a failed perform to the fetch's status. */
static void
classify(struct fetch *f, CURLcode rc, const char *errbuf)
{
    struct mh_sts_fetch *o = f->out;
    const char *e = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    long vr = f->job != NULL ? mh_tls_verify_result(f->job) : X509_V_OK;
    if (f->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        fail(o, MH_STS_FETCH_TOO_LARGE, MH_REASON_STS_POLICY_FETCH_ERROR,
             "the body exceeds %d bytes (RFC 8461 3.3); transfer aborted",
             MH_STS_BODY_MAX);
        return;
    }
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        fail(o, MH_STS_FETCH_DNS, MH_REASON_STS_POLICY_FETCH_ERROR,
             "cannot resolve %s: %s", f->host, e);
        return;
    case CURLE_COULDNT_CONNECT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
        fail(o, MH_STS_FETCH_CONNECT, MH_REASON_STS_POLICY_FETCH_ERROR, "%s",
             e);
        return;
    case CURLE_OPERATION_TIMEDOUT:
        fail(o, MH_STS_FETCH_TIMEOUT, MH_REASON_STS_POLICY_FETCH_ERROR,
             "no complete answer within the deadline (%s)", e);
        return;
    default:
        break;
    }
    if (f->job != NULL && vr != X509_V_OK) {
        const char *why = o->cert != NULL && o->cert->summary != NULL
                              ? o->cert->summary
                              : X509_verify_cert_error_string(vr);
        fail(o, MH_STS_FETCH_CERT, MH_REASON_STS_WEBPKI_INVALID, "%s", why);
        return;
    }
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
        rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CIPHER ||
        rc == CURLE_SSL_CACERT_BADFILE) {
        fail(o,
             rc == CURLE_PEER_FAILED_VERIFICATION ? MH_STS_FETCH_CERT
                                                  : MH_STS_FETCH_TLS,
             rc == CURLE_PEER_FAILED_VERIFICATION
                 ? MH_REASON_STS_WEBPKI_INVALID
                 : MH_REASON_STS_POLICY_FETCH_ERROR,
             "TLS with %s failed: %s", f->host, e);
        return;
    }
    fail(o, MH_STS_FETCH_CONNECT, MH_REASON_STS_POLICY_FETCH_ERROR, "%s", e);
}

/* After a complete transfer: status, media type. */
static void
check_response(struct fetch *f, CURL *h)
{
    struct mh_sts_fetch *o = f->out;
    char *ct = NULL, *loc = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &o->http_code);
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
        ct != NULL) {
        mh_text_escape_append(o->content_type, sizeof o->content_type, ct,
                              strlen(ct), true);
    }
    if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK &&
        loc != NULL) {
        mh_text_escape_append(o->location, sizeof o->location, loc, strlen(loc),
                              true);
    }
    char line[300];
    mh_textf(line, sizeof line, "HTTP %ld, Content-Type %s, %zu bytes",
             o->http_code, o->content_type[0] != '\0' ? o->content_type : "-",
             o->len);
    trace(f, "https<", line);
    if (o->http_code >= 300 && o->http_code < 400) {
        fail(o, MH_STS_FETCH_REDIRECT, MH_REASON_STS_POLICY_FETCH_ERROR,
             "HTTP %ld redirect to %s, which senders must not follow (RFC "
             "8461 3.3)",
             o->http_code, o->location[0] != '\0' ? o->location : "(none)");
        return;
    }
    if (o->http_code != 200) {
        fail(o, MH_STS_FETCH_HTTP, MH_REASON_STS_POLICY_FETCH_ERROR,
             "HTTP status %ld (senders need 200)", o->http_code);
        return;
    }
    /* Media type: "text/plain", parameters (charset) allowed. */
    size_t tl = strcspn(o->content_type, "; \t");
    if (tl != 10 || strncasecmp(o->content_type, "text/plain", 10) != 0) {
        fail(o, MH_STS_FETCH_MEDIA, MH_REASON_STS_POLICY_FETCH_ERROR,
             "media type %s, not text/plain (RFC 8461 3.3)",
             o->content_type[0] != '\0' ? o->content_type : "(none)");
        return;
    }
    o->status = MH_STS_FETCH_OK;
    o->reason = MH_REASON_NONE;
}

void
mh_sts_fetch_policy(const struct mh_sts_fetch_params *p,
                    const struct mh_deadline *dl, struct mh_sts_fetch *out)
{
    memset(out, 0, sizeof *out);
    out->status = MH_STS_FETCH_NOT_RUN;
    struct fetch f = {
        .p = p, .out = out, .now = (double)time(NULL), .cap = MH_STS_BODY_MAX};
    mh_textf(f.host, sizeof f.host, "mta-sts.%s", p->domain);
    mh_textf(out->url, sizeof out->url, "https://%s%s", f.host,
             STS_POLICY_PATH);
    double t0 = mh_monotonic_s();
    char err[300];
    if (!mh_curl_available(err, sizeof err)) {
        fail(out, MH_STS_FETCH_INTERNAL, MH_REASON_INTERNAL_ERROR, "%s", err);
        return;
    }
    CURL *h = curl_easy_init();
    struct curl_slist *resolve = NULL;
    enum mh_state st;
    enum mh_reason reason;
    char errbuf[CURL_ERROR_SIZE] = "";
    if (h == NULL) {
        fail(out, MH_STS_FETCH_INTERNAL, MH_REASON_INTERNAL_ERROR,
             "cannot create a libcurl handle");
        return;
    }
    if (mh_curl_pin_host(h, f.host, 443, p->family, p->resolver, dl, &resolve,
                         &st, &reason, err, sizeof err) != 0) {
        fail(out,
             st == MH_STATE_UNKNOWN ? MH_STS_FETCH_INTERNAL : MH_STS_FETCH_DNS,
             st == MH_STATE_UNKNOWN ? MH_REASON_INTERNAL_ERROR
                                    : MH_REASON_STS_POLICY_FETCH_ERROR,
             "%s", err);
        curl_easy_cleanup(h);
        return;
    }
    int ms = mh_deadline_ms_left(dl);
    if (ms <= 0) {
        /* CURLOPT_TIMEOUT_MS 0 would mean "no timeout": never start. */
        fail(out, MH_STS_FETCH_TIMEOUT, MH_REASON_STS_POLICY_FETCH_ERROR,
             "the deadline passed before the fetch");
    } else if (setup(&f, h) != 0 ||
               curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
               curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)ms) != CURLE_OK) {
        fail(out, MH_STS_FETCH_INTERNAL, MH_REASON_INTERNAL_ERROR,
             "cannot set up the libcurl handle");
    } else {
        trace(&f, "https>", out->url);
        CURLcode rc = curl_easy_perform(h);
        cert_report(&f);
        if (rc == CURLE_OK) {
            check_response(&f, h);
        } else {
            classify(&f, rc, errbuf);
        }
    }
    out->secs = mh_monotonic_s() - t0;
    if (out->status != MH_STS_FETCH_OK) {
        free(out->body);
        out->body = NULL;
        out->len = 0;
        trace(&f, "https!", out->err);
    }
    mh_tls_verify_free(f.job);
    curl_easy_cleanup(h);
    curl_slist_free_all(resolve);
}

void
mh_sts_fetch_free(struct mh_sts_fetch *f)
{
    free(f->body);
    mh_result_free(f->cert);
    f->body = NULL;
    f->cert = NULL;
}
