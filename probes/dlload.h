/* SPDX-License-Identifier: MIT */
/*
 * dlload: the two steps every library loaded at run time takes
 * (curl_loader.c for libcurl, plugin/mhd_loader.c for libmicrohttpd):
 * dlopen() by SONAME and dlsym() into a function pointer.
 */
#ifndef MH_DLLOAD_H
#define MH_DLLOAD_H

#include <stdbool.h>
#include <stddef.h>

/*
 * dlopen(soname, RTLD_NOW | RTLD_LOCAL). Returns the handle, or NULL with
 * "cannot load SONAME: <dlerror>" in errbuf.
 */
void *mh_dl_open(const char *soname, char *errbuf, size_t errlen);

/*
 * Stores the address of symbol name of handle into the function pointer
 * at slot (POSIX: object pointer to function pointer through memcpy).
 * Returns false, with "<what> lacks NAME" in errbuf, when it is missing.
 */
bool mh_dl_sym(void *handle, const char *what, const char *name, void *slot,
               char *errbuf, size_t errlen);

#endif
