/* SPDX-License-Identifier: MIT */
/*
 * dlload: dlopen()/dlsym() for the libraries loaded at run time (see
 * dlload.h).
 */
#include "dlload.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

void *
mh_dl_open(const char *soname, char *errbuf, size_t errlen)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *e = dlerror();
        snprintf(errbuf, errlen, "cannot load %s: %s", soname,
                 e != NULL ? e : "unknown error");
    }
    return h;
}

bool
mh_dl_sym(void *handle, const char *what, const char *name, void *slot,
          char *errbuf, size_t errlen)
{
    void *p = dlsym(handle, name);
    if (p == NULL) {
        snprintf(errbuf, errlen, "%s lacks %s", what, name);
        return false;
    }
    memcpy(slot, &p, sizeof p);
    return true;
}
