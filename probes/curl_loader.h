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

#endif
