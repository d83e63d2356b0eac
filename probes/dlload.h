/* SPDX-License-Identifier: MIT */
/*
 * dlload: libraries loaded at run time instead of being linked
 * (curl_loader.c for libcurl, plugin/mhd_loader.c for libmicrohttpd). A
 * loader is its table: the SONAME, the name used in messages and one row
 * per symbol (name and the function pointer it fills); mh_dl_load() does
 * the rest once per process, thread-safe: dlopen() by SONAME, dlsym()
 * into every slot, and on a missing required symbol dlclose() and the
 * reason kept for mh_dl_available().
 */
#ifndef MH_DLLOAD_H
#define MH_DLLOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* One symbol of a library: its name and the function pointer to fill. */
struct mh_dl_symbol {
    const char *name; /* "curl_easy_init" */
    void *slot;       /* address of a function pointer of the right type */
    bool optional;    /* a missing optional symbol leaves the slot NULL */
};

/* A library loaded at run time; define it with MH_DL_LIBRARY. */
struct mh_dl_library {
    const char *soname; /* "libcurl.so.4": the ABI loaded */
    const char *what;   /* "libcurl": the name in messages */
    const struct mh_dl_symbol *symbols;
    size_t nsymbols;
    /* Filled by mh_dl_load(): */
    pthread_mutex_t lock;
    atomic_bool tried;
    void *handle;    /* NULL: not loaded (yet, or not loadable) */
    char error[200]; /* why not loadable */
};

/* Static initializer of a struct mh_dl_library; symbols is an array. */
#define MH_DL_LIBRARY(soname_, what_, symbols_)                                \
    {                                                                          \
        .soname = (soname_), .what = (what_), .symbols = (symbols_),           \
        .nsymbols = sizeof(symbols_) / sizeof(symbols_)[0],                    \
        .lock = PTHREAD_MUTEX_INITIALIZER                                      \
    }

/*
 * Loads lib on the first call (later calls return at once, from any
 * thread): dlopen(soname, RTLD_NOW | RTLD_LOCAL), then every symbol into
 * its slot. Returns true when the library and its required symbols are
 * there; false when not ("cannot load SONAME: <dlerror>" or "WHAT lacks
 * NAME" kept in lib->error; the library is closed again).
 */
bool mh_dl_load(struct mh_dl_library *lib);

/* mh_dl_load(), with the reason copied to errbuf (may be NULL) on
 * failure. */
bool mh_dl_available(struct mh_dl_library *lib, char *errbuf, size_t errlen);

/* True when lib has been loaded; never loads it (for cleanup functions,
 * which must not load a library just to clean it up). */
bool mh_dl_is_loaded(struct mh_dl_library *lib);

#endif
