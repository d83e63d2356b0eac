/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dnsbl_targets: the DNSBL targets (probes/dnsbl_targets.c):
 * mh_dnsbl_target_parse (one -H value: address, CIDR block, name) on the
 * first line, mh_dnsbl_targets_parse (a --hosts-file) on the whole input.
 *
 * Invariants: a parsed target is a name (count 1, normalised) or an
 * address block whose prefix fits its family, whose count is 2^(bits -
 * prefix) (saturated) and whose first address has no host bit set; the
 * last address of a small block keeps the network part; a hosts file
 * either yields targets that each parse again, or fails with "line N: ..."
 * leaving the list as it was.
 */
#include <string.h>
#include <sys/socket.h>

#include "dnsbl.h"
#include "fuzz.h"

static void
check_target(const struct mh_dnsbl_target *t)
{
    if (t->family == 0) {
        char norm[MH_DNSBL_NAME_MAX + 1];
        FUZZ_CHECK(t->count == 1);
        FUZZ_CHECK(mh_dnsbl_normalize_name(t->name, norm, sizeof norm) == 0);
        FUZZ_CHECK(strcmp(norm, t->name) == 0);
        return;
    }
    FUZZ_CHECK(t->family == AF_INET || t->family == AF_INET6);
    unsigned bits = t->family == AF_INET ? 32u : 128u;
    FUZZ_CHECK(t->prefix <= bits);
    unsigned host = bits - t->prefix;
    FUZZ_CHECK(t->count == (host >= 64 ? UINT64_MAX : (uint64_t)1 << host));
    for (unsigned i = t->prefix; i < bits; i++) {
        FUZZ_CHECK((t->bytes[i / 8] & (0x80u >> (i % 8))) == 0);
    }
    if (t->count <= 4096) {
        unsigned char last[16];
        mh_dnsbl_target_address(t, t->count - 1, last);
        for (unsigned i = 0; i < t->prefix; i++) {
            unsigned m = 0x80u >> (i % 8);
            FUZZ_CHECK((last[i / 8] & m) == (t->bytes[i / 8] & m));
        }
        for (unsigned i = t->prefix; i < bits; i++) {
            FUZZ_CHECK((last[i / 8] & (0x80u >> (i % 8))) != 0);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t al = nl != NULL ? (size_t)(nl - (const char *)data) : size;
    char *arg = malloc(al + 1);
    if (arg == NULL) {
        return 0;
    }
    memcpy(arg, data, al);
    arg[al] = '\0';
    struct mh_dnsbl_target t;
    if (mh_dnsbl_target_parse(arg, &t) == 0) {
        check_target(&t);
    }
    free(arg);

    /* an exact-size copy, not NUL-terminated: the parser must respect len */
    char *copy = malloc(size > 0 ? size : 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    struct mh_dnsbl_target_list l = {NULL, 0};
    char err[200] = "";
    if (mh_dnsbl_targets_parse(&l, copy, size, err, sizeof err) != 0) {
        FUZZ_CHECK(l.n == 0 && strncmp(err, "line ", 5) == 0);
    }
    for (size_t i = 0; i < l.n; i++) {
        FUZZ_CHECK(strlen(l.v[i]) <= MH_DNSBL_TARGET_LINE_MAX);
        FUZZ_CHECK(mh_dnsbl_target_parse(l.v[i], &t) == 0);
        check_target(&t);
    }
    mh_dnsbl_target_list_free(&l);
    free(copy);
    return 0;
}
