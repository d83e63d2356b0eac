/* SPDX-License-Identifier: MIT */
/*
 * curl_loader: libcurl, loaded on first use.
 *
 * Only the delivery probe and the runner's notifications use libcurl, but
 * linking it into check_mailhealth makes the dynamic loader map and
 * initialise libcurl's 30 dependencies (GnuTLS, Kerberos, LDAP, libssh2,
 * p11-kit ...) on every run: about 5 ms, more than a whole local SMTP check
 * costs, on every one of the thousands of checks a monitoring host runs a
 * day (measured with tests/bench/bench_smtp.sh, where an smtp check costs
 * no more than check_smtp). So the binary does not link libcurl: this module
 * defines the libcurl functions mailhealth calls, and the first call dlopen()s
 * libcurl.so.4 and forwards to the real ones. The API, its types and its
 * documentation stay libcurl's (curl/curl.h).
 *
 * Without libcurl (not installed) the functions fail the way libcurl itself
 * reports a failure (NULL handles, CURLE_FAILED_INIT), and
 * mh_curl_available() says why.
 */
#define CURL_DISABLE_TYPECHECK 1 /* we define curl_easy_setopt below */

#include "curl_loader.h"
#include "dlload.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The libcurl ABI we load: SONAME of libcurl 7.16 and later. */
#define MH_LIBCURL_SONAME "libcurl.so.4"

/* The functions mailhealth calls, filled by mh_dl_load() (dlload.h). */
static struct {
    CURLcode (*global_init)(long);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    void (*free)(void *);
    CURLU *(*url)(void);
    void (*url_cleanup)(CURLU *);
    CURLUcode (*url_set)(CURLU *, CURLUPart, const char *, unsigned int);
    CURLUcode (*url_get)(CURLU *, CURLUPart, char **, unsigned int);
    const char *(*url_strerror)(CURLUcode);
} api;

static const struct mh_dl_symbol symbols[] = {
    {"curl_global_init", &api.global_init, false},
    {"curl_global_cleanup", &api.global_cleanup, false},
    {"curl_easy_init", &api.easy_init, false},
    {"curl_easy_setopt", &api.easy_setopt, false},
    {"curl_easy_perform", &api.easy_perform, false},
    {"curl_easy_cleanup", &api.easy_cleanup, false},
    {"curl_easy_reset", &api.easy_reset, false},
    {"curl_easy_getinfo", &api.easy_getinfo, false},
    {"curl_easy_strerror", &api.easy_strerror, false},
    {"curl_slist_append", &api.slist_append, false},
    {"curl_slist_free_all", &api.slist_free_all, false},
    {"curl_free", &api.free, false},
    {"curl_url", &api.url, false},
    {"curl_url_cleanup", &api.url_cleanup, false},
    {"curl_url_set", &api.url_set, false},
    {"curl_url_get", &api.url_get, false},
    {"curl_url_strerror", &api.url_strerror, false},
};

static struct mh_dl_library lib =
    MH_DL_LIBRARY(MH_LIBCURL_SONAME, "libcurl", symbols);

bool
mh_curl_available(char *errbuf, size_t errlen)
{
    return mh_dl_available(&lib, errbuf, errlen);
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_rc = CURLE_FAILED_INIT;

static void
global_init(void)
{
    init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

bool
mh_curl_global_init_once(char *errbuf, size_t errlen)
{
    if (!mh_curl_available(errbuf, errlen)) {
        return false;
    }
    pthread_once(&init_once, global_init);
    if (init_rc != CURLE_OK) {
        if (errbuf != NULL && errlen > 0) {
            snprintf(errbuf, errlen, "curl_global_init failed: %s",
                     curl_easy_strerror(init_rc));
        }
        return false;
    }
    return true;
}

CURLcode
curl_global_init(long flags)
{
    return mh_dl_load(&lib) ? api.global_init(flags) : CURLE_FAILED_INIT;
}

void
curl_global_cleanup(void)
{
    /* Never load libcurl just to clean it up. */
    if (mh_dl_is_loaded(&lib)) {
        api.global_cleanup();
    }
}

CURL *
curl_easy_init(void)
{
    return mh_dl_load(&lib) ? api.easy_init() : NULL;
}

/*
 * curl_easy_setopt takes one argument whose type the option number tells
 * (curl/curl.h: CURLOPTTYPE_LONG, _OBJECTPOINT, _FUNCTIONPOINT, _OFF_T,
 * _BLOB ranges); it is read with that type and passed on.
 */
CURLcode(curl_easy_setopt)(CURL *h, CURLoption opt, ...)
{
    if (!mh_dl_load(&lib) || h == NULL) {
        return CURLE_FAILED_INIT;
    }
    va_list ap;
    va_start(ap, opt);
    CURLcode rc;
    int o = (int)opt;
    if (o < CURLOPTTYPE_OBJECTPOINT) {
        long v = va_arg(ap, long);
        rc = api.easy_setopt(h, opt, v);
    } else if (o < CURLOPTTYPE_FUNCTIONPOINT) {
        void *v = va_arg(ap, void *);
        rc = api.easy_setopt(h, opt, v);
    } else if (o < CURLOPTTYPE_OFF_T) {
        void (*v)(void) = va_arg(ap, void (*)(void));
        rc = api.easy_setopt(h, opt, v);
    } else if (o < CURLOPTTYPE_BLOB) {
        curl_off_t v = va_arg(ap, curl_off_t);
        rc = api.easy_setopt(h, opt, v);
    } else {
        void *v = va_arg(ap, void *);
        rc = api.easy_setopt(h, opt, v);
    }
    va_end(ap);
    return rc;
}

CURLcode
curl_easy_perform(CURL *h)
{
    return mh_dl_load(&lib) && h != NULL ? api.easy_perform(h)
                                         : CURLE_FAILED_INIT;
}

void
curl_easy_cleanup(CURL *h)
{
    if (mh_dl_is_loaded(&lib) && h != NULL) {
        api.easy_cleanup(h);
    }
}

void
curl_easy_reset(CURL *h)
{
    if (mh_dl_is_loaded(&lib) && h != NULL) {
        api.easy_reset(h);
    }
}

/* Every CURLINFO takes one pointer (curl/curl.h). */
CURLcode(curl_easy_getinfo)(CURL *h, CURLINFO info, ...)
{
    if (!mh_dl_load(&lib) || h == NULL) {
        return CURLE_FAILED_INIT;
    }
    va_list ap;
    va_start(ap, info);
    void *p = va_arg(ap, void *);
    va_end(ap);
    return api.easy_getinfo(h, info, p);
}

const char *
curl_easy_strerror(CURLcode code)
{
    return mh_dl_load(&lib) ? api.easy_strerror(code) : lib.error;
}

struct curl_slist *
curl_slist_append(struct curl_slist *list, const char *s)
{
    return mh_dl_load(&lib) ? api.slist_append(list, s) : NULL;
}

void
curl_slist_free_all(struct curl_slist *list)
{
    if (mh_dl_is_loaded(&lib) && list != NULL) {
        api.slist_free_all(list);
    }
}

void
curl_free(void *p)
{
    if (mh_dl_is_loaded(&lib) && p != NULL) {
        api.free(p);
    }
}

CURLU *
curl_url(void)
{
    return mh_dl_load(&lib) ? api.url() : NULL;
}

void
curl_url_cleanup(CURLU *u)
{
    if (mh_dl_is_loaded(&lib) && u != NULL) {
        api.url_cleanup(u);
    }
}

CURLUcode
curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
    return mh_dl_load(&lib) && u != NULL ? api.url_set(u, what, part, flags)
                                         : CURLUE_BAD_HANDLE;
}

CURLUcode
curl_url_get(CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
    return mh_dl_load(&lib) && u != NULL ? api.url_get(u, what, part, flags)
                                         : CURLUE_BAD_HANDLE;
}

const char *
curl_url_strerror(CURLUcode code)
{
    return mh_dl_load(&lib) ? api.url_strerror(code) : lib.error;
}
