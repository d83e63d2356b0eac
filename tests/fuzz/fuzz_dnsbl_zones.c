/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dnsbl_zones: the DNSBL zones file parser (probes/dnsbl_zones.c
 * mh_dnsbl_zones_parse) and --zone arguments (mh_dnsbl_zones_add_arg).
 *
 * Input: the first line is a --zone argument "NAME[:TYPE]", the rest a
 * zones file (JSON). Invariants: on failure the set is unchanged and an
 * error is given; on success every zone has a valid normalised name, a
 * known type, printable meanings of at most 200 bytes, and names are
 * unique; every zone can be found by name and copied; the argument either
 * adds a zone (found afterwards) or fails with a message.
 */
#include <string.h>

#include "dnsbl.h"
#include "fuzz.h"

static void
check_zones(const struct mh_dnsbl_zones *zs)
{
    for (size_t i = 0; i < zs->n; i++) {
        const struct mh_dnsbl_zone *z = &zs->v[i];
        char norm[MH_DNSBL_NAME_MAX + 1];
        FUZZ_CHECK(z->name != NULL);
        FUZZ_CHECK(mh_dnsbl_normalize_name(z->name, norm, sizeof norm) == 0);
        FUZZ_CHECK(strcmp(norm, z->name) == 0);
        FUZZ_CHECK(z->type >= MH_DNSBL_ZONE_IP && z->type <= MH_DNSBL_ZONE_ANY);
        FUZZ_CHECK(z->kind >= MH_DNSBL_KIND_BLOCK &&
                   z->kind <= MH_DNSBL_KIND_INFO);
        FUZZ_CHECK(mh_dnsbl_zones_find(zs, z->name) == z);
        for (size_t k = 0; k < z->ncodes; k++) {
            const char *m = z->codes[k].meaning;
            FUZZ_CHECK(m != NULL && strlen(m) <= 200 * 4);
            FUZZ_CHECK(z->codes[k].kind >= MH_DNSBL_KIND_BLOCK &&
                       z->codes[k].kind <= MH_DNSBL_KIND_INFO);
            for (const char *p = m; *p != '\0'; p++) {
                FUZZ_CHECK(*p >= 0x20 && *p <= 0x7e);
            }
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
    const char *json = nl != NULL ? nl + 1 : "";
    size_t jl = nl != NULL ? size - al - 1 : 0;
    /* An exact-size copy, not NUL-terminated: the parser must respect
     * len. */
    char *jcopy = malloc(jl > 0 ? jl : 1);
    if (jcopy == NULL) {
        free(arg);
        return 0;
    }
    memcpy(jcopy, json, jl);

    struct mh_dnsbl_zones defs = {NULL, 0}, sel = {NULL, 0};
    char err[256];
    err[0] = '\0';
    if (mh_dnsbl_zones_parse(&defs, jcopy, jl, err, sizeof err) != 0) {
        FUZZ_CHECK(defs.n == 0 && err[0] != '\0');
    }
    check_zones(&defs);
    for (size_t i = 0; i < defs.n; i++) {
        FUZZ_CHECK(mh_dnsbl_zones_append(&sel, &defs.v[i]) == 0);
        FUZZ_CHECK(strcmp(sel.v[sel.n - 1].name, defs.v[i].name) == 0);
    }
    /* Parsing the same text again adds nothing new (first wins). */
    size_t before = defs.n;
    if (mh_dnsbl_zones_parse(&defs, jcopy, jl, err, sizeof err) == 0) {
        FUZZ_CHECK(defs.n == before);
    }
    err[0] = '\0';
    struct mh_dnsbl_zones one = {NULL, 0};
    if (mh_dnsbl_zones_add_arg(&one, arg, &defs, err, sizeof err) == 0) {
        FUZZ_CHECK(one.n == 1);
        check_zones(&one);
        FUZZ_CHECK(mh_dnsbl_zones_add_arg(&one, arg, &defs, err, sizeof err) ==
                       0 &&
                   one.n == 1);
    } else {
        FUZZ_CHECK(one.n == 0 && err[0] != '\0');
    }
    (void)mh_dnsbl_zone_type_name(MH_DNSBL_ZONE_DOMAIN);
    (void)mh_dnsbl_list_kind_name(MH_DNSBL_KIND_INFO);
    mh_dnsbl_zones_free(&one);
    mh_dnsbl_zones_free(&sel);
    mh_dnsbl_zones_free(&defs);
    free(jcopy);
    free(arg);
    return 0;
}
