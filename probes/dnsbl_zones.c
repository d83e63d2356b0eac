/* SPDX-License-Identifier: MIT */
/*
 * dnsbl_zones: DNSBL zone definitions, the zones file (JSON, cJSON) and the
 * --zone NAME[:TYPE][,KIND] arguments (see dnsbl_zones.h for the schema).
 */
#include "dnsbl_zones.h"

#include "dnsbl.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

/* Largest zones file read. */
#define ZONES_FILE_MAX (1024 * 1024)
/* Most zones in one file, most codes of one zone. */
#define FILE_ZONES_MAX 1024
#define ZONE_CODES_MAX 256
/* Longest meaning kept (bytes of the file text). */
#define MEANING_MAX 200

static const char *const type_names[] = {"ip", "ip4", "ip6", "domain", "any"};
static const char *const kind_names[] = {"block", "policy", "allow", "info"};

const char *
mh_dnsbl_list_kind_name(enum mh_dnsbl_list_kind k)
{
    if ((int)k < 0 || (size_t)k >= sizeof kind_names / sizeof kind_names[0]) {
        return "block";
    }
    return kind_names[k];
}

static int
kind_from_name(const char *s, enum mh_dnsbl_list_kind *k)
{
    for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++) {
        if (strcmp(s, kind_names[i]) == 0) {
            *k = (enum mh_dnsbl_list_kind)i;
            return 0;
        }
    }
    return -1;
}

const char *
mh_dnsbl_zone_type_name(enum mh_dnsbl_zone_type t)
{
    if ((int)t < 0 || (size_t)t >= sizeof type_names / sizeof type_names[0]) {
        return "ip";
    }
    return type_names[t];
}

static int
type_from_name(const char *s, enum mh_dnsbl_zone_type *t)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
        if (strcmp(s, type_names[i]) == 0) {
            *t = (enum mh_dnsbl_zone_type)i;
            return 0;
        }
    }
    return -1;
}

static void
zone_free(struct mh_dnsbl_zone *z)
{
    free(z->name);
    free(z->test_listed);
    free(z->test_unlisted);
    free(z->key_file);
    if (z->key != NULL) {
        memset(z->key, 0, strlen(z->key));
        free(z->key);
    }
    for (size_t i = 0; i < z->ncodes; i++) {
        free(z->codes[i].meaning);
    }
    free(z->codes);
    memset(z, 0, sizeof *z);
}

void
mh_dnsbl_zones_free(struct mh_dnsbl_zones *zs)
{
    if (zs == NULL) {
        return;
    }
    for (size_t i = 0; i < zs->n; i++) {
        zone_free(&zs->v[i]);
    }
    free(zs->v);
    zs->v = NULL;
    zs->n = 0;
}

const struct mh_dnsbl_zone *
mh_dnsbl_zones_find(const struct mh_dnsbl_zones *zs, const char *name)
{
    if (zs == NULL || name == NULL) {
        return NULL;
    }
    char norm[MH_DNSBL_NAME_MAX + 2];
    if (mh_dnsbl_normalize_name(name, norm, sizeof norm) != 0) {
        return NULL;
    }
    for (size_t i = 0; i < zs->n; i++) {
        if (strcmp(zs->v[i].name, norm) == 0) {
            return &zs->v[i];
        }
    }
    return NULL;
}

/* Deep copy of src into *dst (zeroed on failure). */
static int
zone_copy(struct mh_dnsbl_zone *dst, const struct mh_dnsbl_zone *src)
{
    memset(dst, 0, sizeof *dst);
    dst->name = strdup(src->name);
    if (dst->name == NULL) {
        return -1;
    }
    dst->type = src->type;
    dst->enabled = src->enabled;
    dst->bitmask = src->bitmask;
    dst->kind = src->kind;
    dst->warn = src->warn;
    dst->no_test_listed = src->no_test_listed;
    dst->no_test_unlisted = src->no_test_unlisted;
    if ((src->test_listed != NULL &&
         (dst->test_listed = strdup(src->test_listed)) == NULL) ||
        (src->test_unlisted != NULL &&
         (dst->test_unlisted = strdup(src->test_unlisted)) == NULL) ||
        (src->key_file != NULL &&
         (dst->key_file = strdup(src->key_file)) == NULL) ||
        (src->key != NULL && (dst->key = strdup(src->key)) == NULL)) {
        zone_free(dst);
        return -1;
    }
    if (src->ncodes > 0) {
        dst->codes = calloc(src->ncodes, sizeof *dst->codes);
        if (dst->codes == NULL) {
            zone_free(dst);
            return -1;
        }
        for (size_t i = 0; i < src->ncodes; i++) {
            dst->codes[i].addr = src->codes[i].addr;
            dst->codes[i].error = src->codes[i].error;
            dst->codes[i].has_kind = src->codes[i].has_kind;
            dst->codes[i].kind = src->codes[i].kind;
            dst->codes[i].warn = src->codes[i].warn;
            dst->codes[i].meaning = strdup(src->codes[i].meaning);
            dst->ncodes = i + 1;
            if (dst->codes[i].meaning == NULL) {
                zone_free(dst);
                return -1;
            }
        }
    }
    return 0;
}

/* Takes ownership of *z (moved into zs; z zeroed). */
static int
zones_push(struct mh_dnsbl_zones *zs, struct mh_dnsbl_zone *z)
{
    struct mh_dnsbl_zone *v = realloc(zs->v, (zs->n + 1) * sizeof *v);
    if (v == NULL) {
        return -1;
    }
    zs->v = v;
    zs->v[zs->n++] = *z;
    memset(z, 0, sizeof *z);
    return 0;
}

int
mh_dnsbl_zones_append(struct mh_dnsbl_zones *zs, const struct mh_dnsbl_zone *z)
{
    struct mh_dnsbl_zone copy;
    if (zone_copy(&copy, z) != 0) {
        return -1;
    }
    if (zones_push(zs, &copy) != 0) {
        zone_free(&copy);
        return -1;
    }
    return 0;
}

int
mh_dnsbl_zones_add_arg(struct mh_dnsbl_zones *zs, const char *arg,
                       const struct mh_dnsbl_zones *defs, char *err,
                       size_t errlen)
{
    char name[MH_DNSBL_NAME_MAX + 2];
    const char *colon = strchr(arg, ':');
    size_t nl = colon != NULL ? (size_t)(colon - arg) : strlen(arg);
    char raw[MH_DNSBL_NAME_MAX + 2];
    if (nl == 0 || nl >= sizeof raw) {
        snprintf(err, errlen, "invalid --zone '%.80s': not a DNS zone name",
                 arg);
        return -1;
    }
    memcpy(raw, arg, nl);
    raw[nl] = '\0';
    if (mh_dnsbl_normalize_name(raw, name, sizeof name) != 0) {
        snprintf(err, errlen, "invalid --zone '%.80s': not a DNS zone name",
                 arg);
        return -1;
    }
    /* ":TYPE", ":TYPE,KIND" or ":KIND". */
    enum mh_dnsbl_zone_type type = MH_DNSBL_ZONE_ANY;
    enum mh_dnsbl_list_kind kind = MH_DNSBL_KIND_BLOCK;
    bool type_given = false, kind_given = false;
    if (colon != NULL) {
        char spec[32];
        const char *comma = strchr(colon + 1, ',');
        size_t tl =
            comma != NULL ? (size_t)(comma - colon - 1) : strlen(colon + 1);
        bool ok = tl < sizeof spec;
        if (ok) {
            memcpy(spec, colon + 1, tl);
            spec[tl] = '\0';
            if (type_from_name(spec, &type) == 0) {
                type_given = true;
            } else if (comma == NULL && kind_from_name(spec, &kind) == 0) {
                kind_given = true;
            } else {
                ok = false;
            }
        }
        if (ok && comma != NULL) {
            ok = kind_from_name(comma + 1, &kind) == 0;
            kind_given = ok;
        }
        if (!ok) {
            snprintf(err, errlen,
                     "invalid --zone '%.80s': type must be ip, ip4, ip6, "
                     "domain or any, kind block, policy, allow or info "
                     "(NAME:TYPE,KIND)",
                     arg);
            return -1;
        }
    }
    if (mh_dnsbl_zones_find(zs, name) != NULL) {
        return 0; /* named twice: query once */
    }
    if (zs->n >= MH_DNSBL_MAX_ZONES) {
        snprintf(err, errlen, "too many zones (at most %d)",
                 MH_DNSBL_MAX_ZONES);
        return -1;
    }
    struct mh_dnsbl_zone z;
    const struct mh_dnsbl_zone *def = mh_dnsbl_zones_find(defs, name);
    if (def != NULL) {
        if (zone_copy(&z, def) != 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (type_given) {
            z.type = type;
        }
        if (kind_given) {
            z.kind = kind;
        }
        z.enabled = true;
    } else {
        memset(&z, 0, sizeof z);
        z.name = strdup(name);
        z.type = type;
        z.kind = kind;
        z.enabled = true;
        if (z.name == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (zones_push(zs, &z) != 0) {
        zone_free(&z);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* "severity": "note" (false) or "warning" (true). Returns 0 or -1. */
static int
severity_from(const cJSON *v, bool *warn)
{
    if (v == NULL) {
        return 0;
    }
    if (!cJSON_IsString(v) || v->valuestring == NULL) {
        return -1;
    }
    if (strcmp(v->valuestring, "note") == 0) {
        *warn = false;
    } else if (strcmp(v->valuestring, "warning") == 0) {
        *warn = true;
    } else {
        return -1;
    }
    return 0;
}

/* A code of format version 2: {"meaning": "...", "kind": "policy",
 * "severity": "warning"}; every key optional. Returns 0 or -1. */
static int
code_object(const cJSON *c, const char **meaning, bool *has_kind,
            enum mh_dnsbl_list_kind *kind, bool *warn)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "meaning");
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(c, "kind");
    *meaning = "";
    if (m != NULL) {
        if (!cJSON_IsString(m) || m->valuestring == NULL) {
            return -1;
        }
        *meaning = m->valuestring;
    }
    if (k != NULL) {
        if (!cJSON_IsString(k) || k->valuestring == NULL ||
            kind_from_name(k->valuestring, kind) != 0) {
            return -1;
        }
        *has_kind = true;
    }
    return severity_from(cJSON_GetObjectItemCaseSensitive(c, "severity"), warn);
}

/* Parses the codes object obj ("127.0.0.2": "meaning" or a code object)
 * into z. */
static int
parse_codes(struct mh_dnsbl_zone *z, const cJSON *obj, bool error,
            const char *zname, char *err, size_t errlen)
{
    const char *what = error ? "errors" : "codes";
    if (obj == NULL) {
        return 0;
    }
    if (!cJSON_IsObject(obj)) {
        snprintf(err, errlen, "zone %s: \"%s\" must be an object", zname, what);
        return -1;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, obj)
    {
        struct in_addr ia;
        if (c->string == NULL || inet_pton(AF_INET, c->string, &ia) != 1) {
            snprintf(err, errlen,
                     "zone %s: %s key '%.40s' is not an IPv4 address", zname,
                     what, c->string != NULL ? c->string : "");
            return -1;
        }
        const char *meaning = NULL;
        bool has_kind = false, warn = false;
        enum mh_dnsbl_list_kind kind = MH_DNSBL_KIND_BLOCK;
        if (cJSON_IsString(c) && c->valuestring != NULL) {
            meaning = c->valuestring;
        } else if (cJSON_IsObject(c) &&
                   code_object(c, &meaning, &has_kind, &kind, &warn) == 0) {
            /* format version 2 */
        } else {
            snprintf(err, errlen,
                     "zone %s: %s %s: meaning must be a string or "
                     "{\"meaning\": string, \"kind\": block|policy|allow|"
                     "info, \"severity\": note|warning}",
                     zname, what, c->string);
            return -1;
        }
        if (z->ncodes >= ZONE_CODES_MAX) {
            snprintf(err, errlen, "zone %s: more than %d codes", zname,
                     ZONE_CODES_MAX);
            return -1;
        }
        uint32_t addr = ntohl(ia.s_addr);
        bool dup = false;
        for (size_t i = 0; i < z->ncodes; i++) {
            dup = dup || z->codes[i].addr == addr;
        }
        if (dup) {
            snprintf(err, errlen, "zone %s: code %s defined twice", zname,
                     c->string);
            return -1;
        }
        struct mh_dnsbl_code *v =
            realloc(z->codes, (z->ncodes + 1) * sizeof *v);
        if (v == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        z->codes = v;
        size_t ml = strlen(meaning);
        char *m =
            mh_text_printable(meaning, ml < MEANING_MAX ? ml : MEANING_MAX);
        if (m == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        z->codes[z->ncodes].addr = addr;
        z->codes[z->ncodes].error = error;
        z->codes[z->ncodes].meaning = m;
        z->codes[z->ncodes].has_kind = has_kind;
        z->codes[z->ncodes].kind = kind;
        z->codes[z->ncodes].warn = warn;
        z->ncodes++;
    }
    return 0;
}

static int
get_bool(const cJSON *o, const char *key, bool dflt, bool *out,
         const char *zname, char *err, size_t errlen)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, key);
    if (b == NULL) {
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsBool(b)) {
        snprintf(err, errlen, "zone %s: \"%s\" must be true or false", zname,
                 key);
        return -1;
    }
    *out = cJSON_IsTrue(b);
    return 0;
}

/* "test_listed" / "test_unlisted": a string (IPv4 address for IP zones, a
 * name for domain zones) or false. */
static int
parse_test(const cJSON *o, const char *key, struct mh_dnsbl_zone *z, char **out,
           bool *disabled, char *err, size_t errlen)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, key);
    if (t == NULL) {
        return 0;
    }
    if (cJSON_IsFalse(t)) {
        *disabled = true;
        return 0;
    }
    char norm[MH_DNSBL_NAME_MAX + 2];
    struct in_addr ia;
    bool ok = cJSON_IsString(t) && t->valuestring != NULL;
    if (ok && z->type == MH_DNSBL_ZONE_ANY &&
        inet_pton(AF_INET, t->valuestring, &ia) != 1) {
        /* a zone of unknown type: an address or a name */
        ok = mh_dnsbl_normalize_name(t->valuestring, norm, sizeof norm) == 0;
    } else if (ok && z->type == MH_DNSBL_ZONE_DOMAIN) {
        ok = mh_dnsbl_normalize_name(t->valuestring, norm, sizeof norm) == 0;
    } else if (ok) {
        ok = inet_pton(AF_INET, t->valuestring, &ia) == 1;
        if (ok) {
            snprintf(norm, sizeof norm, "%s", t->valuestring);
        }
    }
    if (!ok) {
        snprintf(err, errlen, "zone %s: \"%s\" must be %s or false", z->name,
                 key,
                 z->type == MH_DNSBL_ZONE_DOMAIN ? "a domain name"
                                                 : "an IPv4 address");
        return -1;
    }
    *out = strdup(norm);
    if (*out == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int
parse_zone(const cJSON *o, size_t index, struct mh_dnsbl_zone *z, char *err,
           size_t errlen)
{
    memset(z, 0, sizeof *z);
    char label[64];
    snprintf(label, sizeof label, "#%zu", index + 1);
    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "zone %s: must be an object", label);
        return -1;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "zone");
    char norm[MH_DNSBL_NAME_MAX + 2];
    if (!cJSON_IsString(name) || name->valuestring == NULL ||
        mh_dnsbl_normalize_name(name->valuestring, norm, sizeof norm) != 0) {
        snprintf(err, errlen, "zone %s: \"zone\" must be a DNS zone name",
                 label);
        return -1;
    }
    z->name = strdup(norm);
    if (z->name == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    z->type = MH_DNSBL_ZONE_ANY;
    if (type != NULL && (!cJSON_IsString(type) || type->valuestring == NULL ||
                         type_from_name(type->valuestring, &z->type) != 0)) {
        snprintf(err, errlen,
                 "zone %s: \"type\" must be \"ip\", \"ip4\", \"ip6\", "
                 "\"domain\" or \"any\"",
                 norm);
        zone_free(z);
        return -1;
    }
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    if (kind != NULL && (!cJSON_IsString(kind) || kind->valuestring == NULL ||
                         kind_from_name(kind->valuestring, &z->kind) != 0)) {
        snprintf(err, errlen,
                 "zone %s: \"kind\" must be \"block\", \"policy\", "
                 "\"allow\" or \"info\"",
                 norm);
        zone_free(z);
        return -1;
    }
    if (severity_from(cJSON_GetObjectItemCaseSensitive(o, "severity"),
                      &z->warn) != 0) {
        snprintf(err, errlen,
                 "zone %s: \"severity\" must be \"note\" or \"warning\"", norm);
        zone_free(z);
        return -1;
    }
    if (get_bool(o, "enabled", true, &z->enabled, norm, err, errlen) != 0 ||
        get_bool(o, "bitmask", false, &z->bitmask, norm, err, errlen) != 0 ||
        parse_codes(z, cJSON_GetObjectItemCaseSensitive(o, "codes"), false,
                    norm, err, errlen) != 0 ||
        parse_codes(z, cJSON_GetObjectItemCaseSensitive(o, "errors"), true,
                    norm, err, errlen) != 0 ||
        parse_test(o, "test_listed", z, &z->test_listed, &z->no_test_listed,
                   err, errlen) != 0 ||
        parse_test(o, "test_unlisted", z, &z->test_unlisted,
                   &z->no_test_unlisted, err, errlen) != 0) {
        zone_free(z);
        return -1;
    }
    const cJSON *kf = cJSON_GetObjectItemCaseSensitive(o, "key_file");
    if (kf != NULL) {
        if (!cJSON_IsString(kf) || kf->valuestring == NULL ||
            kf->valuestring[0] == '\0' || strlen(kf->valuestring) > 4096) {
            snprintf(err, errlen,
                     "zone %s: \"key_file\" must be a path (a string)", norm);
            zone_free(z);
            return -1;
        }
        z->key_file = strdup(kf->valuestring);
        if (z->key_file == NULL) {
            snprintf(err, errlen, "out of memory");
            zone_free(z);
            return -1;
        }
    }
    return 0;
}

int
mh_dnsbl_zone_load_key(struct mh_dnsbl_zone *z, char *err, size_t errlen)
{
    if (z->key_file == NULL || z->key != NULL) {
        return 0;
    }
    char what[300];
    snprintf(what, sizeof what, "key file of zone %s,", z->name);
    char *buf;
    size_t n;
    if (mh_dnsbl_read_file(z->key_file, 1024, what, &buf, &n, err, errlen) !=
        0) {
        return -1;
    }
    size_t start = 0, end = 0;
    while (start < n && (buf[start] == ' ' || buf[start] == '\t')) {
        start++;
    }
    end = start;
    while (end < n && buf[end] != '\n' && buf[end] != '\r' && buf[end] != ' ' &&
           buf[end] != '\t') {
        end++;
    }
    bool ok = end > start && end - start <= 63;
    for (size_t i = start; ok && i < end; i++) {
        char c = buf[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9') || c == '-';
        buf[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    if (ok) {
        buf[end] = '\0';
        z->key = strdup(buf + start);
    }
    memset(buf, 0, n);
    free(buf);
    if (!ok) {
        snprintf(err, errlen,
                 "key file %s of zone %s: the first line must be the key, one "
                 "DNS label of letters and digits",
                 z->key_file, z->name);
        return -1;
    }
    if (z->key == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int
mh_dnsbl_zones_parse(struct mh_dnsbl_zones *zs, const char *json, size_t len,
                     char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (root == NULL) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = (at != NULL && at >= json && at <= json + len)
                         ? (size_t)(at - json)
                         : 0;
        snprintf(err, errlen, "not valid JSON (near byte %zu)", off);
        return -1;
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (ver != NULL && (!cJSON_IsNumber(ver) ||
                        (ver->valuedouble != 1 && ver->valuedouble != 2))) {
        snprintf(err, errlen, "\"version\" must be 1 or 2");
        cJSON_Delete(root);
        return -1;
    }
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "zones");
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen,
                 "top level must be an object with a \"zones\" "
                 "array");
        cJSON_Delete(root);
        return -1;
    }
    int count = cJSON_GetArraySize(arr);
    if (count > FILE_ZONES_MAX) {
        snprintf(err, errlen, "more than %d zones", FILE_ZONES_MAX);
        cJSON_Delete(root);
        return -1;
    }
    size_t old_n = zs->n;
    size_t index = 0;
    const cJSON *o;
    int rc = 0;
    cJSON_ArrayForEach(o, arr)
    {
        struct mh_dnsbl_zone z;
        if (parse_zone(o, index++, &z, err, errlen) != 0) {
            rc = -1;
            break;
        }
        if (mh_dnsbl_zones_find(zs, z.name) != NULL) {
            zone_free(&z); /* first definition wins */
            continue;
        }
        if (zones_push(zs, &z) != 0) {
            zone_free(&z);
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
    }
    cJSON_Delete(root);
    if (rc != 0) {
        /* Leave zs as it was. */
        for (size_t i = old_n; i < zs->n; i++) {
            zone_free(&zs->v[i]);
        }
        zs->n = old_n;
    }
    return rc;
}

int
mh_dnsbl_zones_load(struct mh_dnsbl_zones *zs, const char *path, char *err,
                    size_t errlen)
{
    char *buf;
    size_t n;
    if (mh_dnsbl_read_file(path, ZONES_FILE_MAX, "zones file", &buf, &n, err,
                           errlen) != 0) {
        return -1;
    }
    char perr[200];
    int rc = mh_dnsbl_zones_parse(zs, buf, n, perr, sizeof perr);
    free(buf);
    if (rc != 0) {
        snprintf(err, errlen, "zones file %s: %s", path, perr);
    }
    return rc;
}
