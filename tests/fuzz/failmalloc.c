/* SPDX-License-Identifier: MIT */
/*
 * failmalloc: an LD_PRELOAD allocator shim for fault injection
 * (allocation failures must be handled; c-ares SetAllocFail style). Built as
 * libmh_failmalloc.so on non-sanitizer builds and used by
 * tests/integration/test_hardening.sh.
 *
 * Environment:
 *   MH_FAILMALLOC_N=K      the K-th call of malloc/calloc/realloc (from 1,
 *                          counted over all threads) returns NULL (ENOMEM)
 *   MH_FAILMALLOC_ALL=1    ... and every call after it too
 *   MH_FAILMALLOC_COUNT=1  at exit, print "failmalloc: calls=N" on stderr
 * Without MH_FAILMALLOC_N nothing fails (counting only).
 *
 * The real functions come from dlsym(RTLD_NEXT); allocations made while
 * dlsym itself runs are served from a small static arena.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *malloc(size_t n);
void *calloc(size_t m, size_t n);
void *realloc(void *p, size_t n);
void free(void *p);

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);

static _Alignas(max_align_t) char arena[16384];
static size_t arena_used;
static int resolving;
static unsigned long calls;
static long fail_at = -2; /* -2: not read yet, -1: never */
static bool fail_all;

static bool
in_arena(const void *p)
{
    return (const char *)p >= arena && (const char *)p < arena + sizeof arena;
}

static void *
arena_alloc(size_t n)
{
    size_t a = (n + 15) & ~(size_t)15;
    if (a > sizeof arena - arena_used) {
        return NULL;
    }
    void *p = arena + arena_used;
    arena_used += a;
    return p;
}

/* dlsym returns an object pointer; copying it (POSIX's advice) avoids the
 * object-to-function pointer cast ISO C does not define. */
static void
sym(const char *name, void *fnptr, size_t size)
{
    void *p = dlsym(RTLD_NEXT, name);
    memcpy(fnptr, &p, size);
}

static void
resolve(void)
{
    resolving = 1;
    sym("malloc", &real_malloc, sizeof real_malloc);
    sym("calloc", &real_calloc, sizeof real_calloc);
    sym("realloc", &real_realloc, sizeof real_realloc);
    sym("free", &real_free, sizeof real_free);
    resolving = 0;
}

/* True when this call must fail. */
static bool
fail_now(void)
{
    if (fail_at == -2) {
        const char *n = getenv("MH_FAILMALLOC_N");
        const char *all = getenv("MH_FAILMALLOC_ALL");
        fail_at = n != NULL ? strtol(n, NULL, 10) : -1;
        fail_all = all != NULL && all[0] == '1';
    }
    unsigned long k = __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
    if (fail_at <= 0) {
        return false;
    }
    return k == (unsigned long)fail_at ||
           (fail_all && k > (unsigned long)fail_at);
}

void *
malloc(size_t n)
{
    if (real_malloc == NULL) {
        if (resolving) {
            return arena_alloc(n);
        }
        resolve();
    }
    if (fail_now()) {
        errno = ENOMEM;
        return NULL;
    }
    return real_malloc(n);
}

void *
calloc(size_t m, size_t n)
{
    if (real_calloc == NULL) {
        if (resolving) {
            return n != 0 && m > (size_t)-1 / n ? NULL : arena_alloc(m * n);
        }
        resolve();
    }
    if (fail_now()) {
        errno = ENOMEM;
        return NULL;
    }
    return real_calloc(m, n);
}

void *
realloc(void *p, size_t n)
{
    if (real_realloc == NULL) {
        resolve();
    }
    if (in_arena(p)) {
        void *q = malloc(n);
        if (q != NULL) {
            size_t left = (size_t)(arena + sizeof arena - (char *)p);
            memcpy(q, p, n < left ? n : left);
        }
        return q;
    }
    if (fail_now()) {
        errno = ENOMEM;
        return NULL;
    }
    return real_realloc(p, n);
}

void
free(void *p)
{
    if (p == NULL || in_arena(p)) {
        return;
    }
    if (real_free == NULL) {
        resolve();
    }
    real_free(p);
}

__attribute__((destructor)) static void
report(void)
{
    const char *c = getenv("MH_FAILMALLOC_COUNT");
    if (c != NULL && c[0] == '1') {
        char buf[64];
        int n = snprintf(buf, sizeof buf, "failmalloc: calls=%lu\n", calls);
        if (n > 0) {
            ssize_t w = write(2, buf, (size_t)n);
            (void)w;
        }
    }
}
