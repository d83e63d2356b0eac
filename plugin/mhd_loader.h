/* SPDX-License-Identifier: MIT */
/*
 * mhd_loader: libmicrohttpd is loaded with dlopen() when the exporter
 * starts (`run --listen`) instead of being linked (see mhd_loader.c for
 * why). Code calls libmicrohttpd's API from microhttpd.h; this header adds
 * one function.
 */
#ifndef MH_MHD_LOADER_H
#define MH_MHD_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>

/*
 * Loads libmicrohttpd if that has not happened yet (thread-safe). Returns
 * true when it is usable; otherwise false with the reason (dlopen's error
 * or the missing symbol) in errbuf: the exporter cannot start on this host
 * (install libmicrohttpd12). Until this returned true, the MHD_* functions
 * fail the way libmicrohttpd reports failures (NULL, MHD_NO).
 */
bool mh_mhd_available(char *errbuf, size_t errlen);

/* MHD_create_response_from_iovec() exists since libmicrohttpd 0.9.73;
 * with an older library (0.9.71 and 0.9.72 are supported) it returns NULL
 * without taking ownership: callers then build one buffer. */

#endif
