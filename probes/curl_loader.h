/* SPDX-License-Identifier: MIT */
/*
 * curl_loader: libcurl is loaded with dlopen() on first use instead of being
 * linked (see curl_loader.c for why). Code keeps calling libcurl's API from
 * curl/curl.h; this header adds one function.
 */
#ifndef MH_CURL_LOADER_H
#define MH_CURL_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

/*
 * Loads libcurl if that has not happened yet (thread-safe). Returns true
 * when it is usable; otherwise false with the reason (dlopen's error, or
 * the missing symbol) in errbuf. Callers report that as UNKNOWN: the check
 * cannot run on this host.
 */
bool mh_curl_available(char *errbuf, size_t errlen);

/*
 * curl_global_init(CURL_GLOBAL_DEFAULT) once per process, whoever asks
 * first (thread-safe through pthread_once; libcurl's own function must not
 * run while other threads use libcurl). main() calls it before threads
 * start for the commands that always need libcurl; a check that finds it
 * needs libcurl later (domain, when the domain publishes an MTA-STS
 * policy) calls it from its main thread before it starts its own.
 * Returns true when libcurl is loaded and initialised, else false with the
 * reason in errbuf.
 */
bool mh_curl_global_init_once(char *errbuf, size_t errlen);

#endif
