/* SPDX-License-Identifier: MIT */
/*
 * dlload: dlopen()/dlsym() for the libraries loaded at run time (see
 * dlload.h).
 */
#include "dlload.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* dlopen and every dlsym; on failure the reason in lib->error and
 * lib->handle NULL. */
static void
load(struct mh_dl_library *lib)
{
    void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *e = dlerror();
        snprintf(lib->error, sizeof lib->error, "cannot load %s: %s",
                 lib->soname, e != NULL ? e : "unknown error");
        return;
    }
    for (size_t i = 0; i < lib->nsymbols; i++) {
        const struct mh_dl_symbol *s = &lib->symbols[i];
        void *p = dlsym(h, s->name);
        if (p == NULL && !s->optional) {
            snprintf(lib->error, sizeof lib->error, "%s lacks %s", lib->what,
                     s->name);
            dlclose(h);
            return;
        }
        /* POSIX: an object pointer to a function pointer through memcpy. */
        memcpy(s->slot, &p, sizeof p);
    }
    lib->handle = h;
}

bool
mh_dl_load(struct mh_dl_library *lib)
{
    if (!atomic_load_explicit(&lib->tried, memory_order_acquire)) {
        pthread_mutex_lock(&lib->lock);
        if (!atomic_load_explicit(&lib->tried, memory_order_relaxed)) {
            load(lib);
            atomic_store_explicit(&lib->tried, true, memory_order_release);
        }
        pthread_mutex_unlock(&lib->lock);
    }
    return lib->handle != NULL;
}

bool
mh_dl_available(struct mh_dl_library *lib, char *errbuf, size_t errlen)
{
    if (mh_dl_load(lib)) {
        return true;
    }
    if (errbuf != NULL && errlen > 0) {
        snprintf(errbuf, errlen, "%s", lib->error);
    }
    return false;
}

bool
mh_dl_is_loaded(struct mh_dl_library *lib)
{
    return atomic_load_explicit(&lib->tried, memory_order_acquire) &&
           lib->handle != NULL;
}
