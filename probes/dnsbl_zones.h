/* SPDX-License-Identifier: MIT */
/*
 * dnsbl_zones: DNSBL zone definitions (type, kind, return codes, test
 * entries), the zones file (JSON, read with cJSON; contrib/dnsbl-zones.json)
 * and the --zone NAME[:TYPE][,KIND] arguments. The probe (dnsbl.h) queries
 * a set of these.
 */
#ifndef MH_DNSBL_ZONES_H
#define MH_DNSBL_ZONES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest DNS name in presentation form without the final dot (RFC 1035
 * 3.1: 255 octets on the wire). */
#define MH_DNSBL_NAME_MAX 253

/* ------------------------------------------------------------------------
 * Zone definitions
 * ------------------------------------------------------------------------ */

/* What a zone lists (RFC 5782 section 2: IP addresses; section 3: domain
 * names). MH_DNSBL_ZONE_IP lists both families. */
enum mh_dnsbl_zone_type {
    MH_DNSBL_ZONE_IP = 0,
    MH_DNSBL_ZONE_IP4,
    MH_DNSBL_ZONE_IP6,
    MH_DNSBL_ZONE_DOMAIN,
    /* "any": type not given. A name target is asked as a name AND its
     * addresses are asked; the RFC 5782 section 5 test points of each
     * family tell which questions the zone answers (a family whose test
     * point fails while another family's passes is "not applicable"). */
    MH_DNSBL_ZONE_ANY
};

/* What a listing on a zone means (per zone, overridable per code). */
enum mh_dnsbl_list_kind {
    MH_DNSBL_KIND_BLOCK = 0, /* block list: judged by -w/-c (default
                                CRITICAL for one listing) */
    MH_DNSBL_KIND_POLICY,    /* policy list (Spamhaus PBL, URIBL grey): a
                                note, or the code's/zone's severity */
    MH_DNSBL_KIND_ALLOW,     /* allow list (DNSWL, Spamhaus SWL): good news */
    MH_DNSBL_KIND_INFO       /* informational: shown, never alerts */
};

/* One documented return code of a zone. */
struct mh_dnsbl_code {
    uint32_t addr; /* the A record, host byte order (127.0.0.2 = 0x7f000002) */
    bool error;    /* an error answer, not a listing */
    char *meaning; /* printable ASCII, owned */
    bool has_kind; /* kind given for this code (else the zone's) */
    enum mh_dnsbl_list_kind kind;
    bool warn; /* policy listing with severity "warning" */
};

/* One zone. All strings owned by the zone set it belongs to. */
struct mh_dnsbl_zone {
    char *name; /* lower case, no final dot, valid DNS name */
    enum mh_dnsbl_zone_type type;
    bool enabled; /* queried when no --zone selects zones (default true) */
    bool bitmask; /* the last octet of a code is a bit mask (URIBL, SURBL):
                     the middle octets are ignored, as SURBL documents */
    enum mh_dnsbl_list_kind kind; /* default block */
    bool warn; /* policy zone: listings are WARNING ("severity") */
    struct mh_dnsbl_code *codes;
    size_t ncodes;
    /* Test entries (RFC 5782 5) of the zone's main family (IPv4 address for
     * IP zones, name for domain zones): NULL = the RFC's 127.0.0.2 / TEST
     * and 127.0.0.1 / INVALID; no_test_* = not asked. IPv6 always uses
     * the RFC's ::FFFF:7F00:2 (or ::2, which some lists use instead) and
     * ::FFFF:7F00:1. */
    char *test_listed, *test_unlisted;
    bool no_test_listed, no_test_unlisted;
    /* Lists that take a customer key as the first label of the zone
     * (Spamhaus DQS KEY.zen.dq.spamhaus.net, Abusix
     * KEY.combined.mail.abusix.zone): the file holding the key, and the
     * key once read (mh_dnsbl_zone_load_key). Queries go to
     * PREFIX.KEY.NAME; output, metrics and traces say NAME (the key is a
     * credential and never shown). */
    char *key_file;
    char *key;
};

/* A set of zones (a zones file, or the zones one run queries). */
struct mh_dnsbl_zones {
    struct mh_dnsbl_zone *v;
    size_t n;
};

/*
 * Parses a zones file (JSON, cJSON) of at most len bytes and appends its
 * zones to zs. Schema:
 *   {"zones": [{"zone": "zen.spamhaus.org",          (required)
 *               "type": "ip" | "ip4" | "ip6" | "domain" | "any",
 *                                                     (default "any")
 *               "kind": "block" | "policy" | "allow" | "info",
 *                                                     (default "block")
 *               "severity": "note" | "warning",       (policy; "note")
 *               "enabled": true,                      (default true)
 *               "bitmask": false,                     (default false)
 *               "codes":  {"127.0.0.2": "meaning", ...},  listing codes
 *                  or (format version 2) {"127.0.0.10": {"meaning": "...",
 *                  "kind": "policy", "severity": "warning"}, ...}
 *               "errors": {"127.255.255.254": "meaning", ...},
 *               "test_listed": "dbltest.com" | false,  (default: RFC 5782)
 *               "test_unlisted": "invalid" | false,    (default: RFC 5782)
 *               "key_file": "/etc/mailhealth/dqs.key", (the zone takes a
 *                  customer key as its first label: see key_file below)
 *               "description": "...", "url": "..."}]} (ignored)
 * A top-level "version" (1 or 2) is accepted; version 1 files (meanings
 * as strings, no kinds) read as before, except that a zone without
 * "type" is now "any" (detected) instead of "ip".
 * test_listed / test_unlisted replace the RFC 5782 section 5 test entries
 * (an IPv4 address for IP zones, a name for domain zones; false: do not
 * test), for lists that document their own test point.
 * Codes must be dotted-quad IPv4 addresses; meanings are made printable and
 * cut at 200 bytes. Unknown keys are ignored (forward compatible). A zone
 * named twice keeps the first definition. Returns 0, or -1 with the reason
 * (naming the zone index / key) in err; zs is then left as it was.
 */
int mh_dnsbl_zones_parse(struct mh_dnsbl_zones *zs, const char *json,
                         size_t len, char *err, size_t errlen);

/*
 * Reads the file at path (at most 1 MiB) and parses it as above.
 * Returns 0, or -1 with the reason (I/O error or parse error) in err.
 */
int mh_dnsbl_zones_load(struct mh_dnsbl_zones *zs, const char *path, char *err,
                        size_t errlen);

/*
 * Appends the zone of a --zone argument "NAME[:TYPE][,KIND]" or
 * "NAME[:KIND]" (TYPE ip, ip4, ip6, domain or any; KIND block, policy,
 * allow or info) to zs. When defs (may be NULL) defines NAME, that
 * definition is copied (codes, bitmask; TYPE and KIND, if given, override
 * it); otherwise a generic zone of TYPE (default any: detected) and KIND
 * (default block) with no documented codes is added, for
 * which the built-in error codes still apply. A zone already in zs is not
 * added twice. Returns 0, or -1 with the reason in err (invalid name or
 * type, too many zones, out of memory).
 */
int mh_dnsbl_zones_add_arg(struct mh_dnsbl_zones *zs, const char *arg,
                           const struct mh_dnsbl_zones *defs, char *err,
                           size_t errlen);

/*
 * Reads the key of zone z from z->key_file (its first line, blanks
 * trimmed; at most 1 KiB read) into z->key: one DNS label of letters and
 * digits (and '-'), 1..63 bytes, kept in lower case. Does nothing for a
 * zone without key_file. Returns 0, or -1 with the reason in err (the
 * file, never the key).
 */
int mh_dnsbl_zone_load_key(struct mh_dnsbl_zone *z, char *err, size_t errlen);

/* Appends a deep copy of zone z to zs. Returns 0 or -1 (out of memory). */
int mh_dnsbl_zones_append(struct mh_dnsbl_zones *zs,
                          const struct mh_dnsbl_zone *z);

/* The zone named name (compared case-insensitively, final dot ignored) or
 * NULL. */
const struct mh_dnsbl_zone *mh_dnsbl_zones_find(const struct mh_dnsbl_zones *zs,
                                                const char *name);

/* Frees every zone of zs and empties it. */
void mh_dnsbl_zones_free(struct mh_dnsbl_zones *zs);

/* "ip", "ip4", "ip6", "domain" or "any". */
const char *mh_dnsbl_zone_type_name(enum mh_dnsbl_zone_type t);

/* "block", "policy", "allow" or "info". */
const char *mh_dnsbl_list_kind_name(enum mh_dnsbl_list_kind k);

#endif
