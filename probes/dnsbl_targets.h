/* SPDX-License-Identifier: MIT */
/*
 * dnsbl_targets: the targets of a DNSBL check: one -H value (an IPv4 or
 * IPv6 address, an address block in CIDR notation, a host or domain
 * name) and the --hosts-file list of them.
 *
 * Size limit: one check takes at most MH_DNSBL_MAX_TARGET_ADDRS
 * addresses from its numeric targets (a /20 of IPv4, a /116 of IPv6);
 * a larger block is a usage error naming the option, so that a typo such
 * as /12 for /22 never sends millions of queries to public lists. Each
 * host name counts as one target; its addresses (at most
 * MH_DNSBL_MAX_ADDRS) are found at run time.
 */
#ifndef MH_DNSBL_TARGETS_H
#define MH_DNSBL_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* Most addresses one check takes from -H and --hosts-file together. */
#define MH_DNSBL_MAX_TARGET_ADDRS 4096
/* Longest line of a hosts file, in bytes without the newline. */
#define MH_DNSBL_TARGET_LINE_MAX 300
/* Largest hosts file read, in bytes. */
#define MH_DNSBL_HOSTS_FILE_MAX (1024 * 1024)

/* One parsed target. */
struct mh_dnsbl_target {
    int family;              /* AF_INET, AF_INET6, or 0 for a name */
    unsigned char bytes[16]; /* first address, network order, host bits
                                cleared (family AF_INET: 4 bytes used) */
    unsigned prefix;         /* prefix length; 32 / 128 for one address */
    uint64_t count;          /* addresses in the block, saturating at
                                UINT64_MAX; 1 for a name */
    char name[254];          /* family 0: the name, lower case, no final
                                dot (mh_dnsbl_normalize_name) */
};

/*
 * Parses one target: "192.0.2.10", "2001:db8::1", "192.0.2.0/24",
 * "2001:db8::/120", or a DNS name. The prefix length is decimal, 0..32
 * (IPv4) or 0..128 (IPv6), no sign or leading zero; host bits set below
 * the prefix ("192.0.2.10/24") are cleared, as routers read it. An
 * IPv4-mapped IPv6 address or block (::ffff:192.0.2.0/120) is taken as
 * IPv4. Returns 0, or -1 when text is none of these (out unspecified).
 */
int mh_dnsbl_target_parse(const char *text, struct mh_dnsbl_target *out);

/*
 * Writes address number index (0 .. count-1) of block t into out (4 or 16
 * bytes, network order). index must be below t->count.
 */
void mh_dnsbl_target_address(const struct mh_dnsbl_target *t, uint64_t index,
                             unsigned char out[16]);

/* A list of target strings (owned). */
struct mh_dnsbl_target_list {
    char **v;
    size_t n;
};

/*
 * Parses the text of a hosts file (len bytes, need not be NUL-terminated):
 * one target per line (any form mh_dnsbl_target_parse takes), blank lines
 * and lines starting with '#' (after blanks) ignored, a '#' after a
 * target starts a comment, blanks around a target ignored, CRLF accepted.
 * Appends every target to list. Returns 0, or -1 with "line N: why" in err
 * (a line longer than MH_DNSBL_TARGET_LINE_MAX, a NUL byte, an invalid
 * target, out of memory); list is then left as it was.
 */
int mh_dnsbl_targets_parse(struct mh_dnsbl_target_list *list, const char *text,
                           size_t len, char *err, size_t errlen);

/*
 * Reads the file at path (at most MH_DNSBL_HOSTS_FILE_MAX bytes) and
 * parses it as above. Returns 0, or -1 with the reason in err, naming the
 * option: "--hosts-file PATH: line 3: ...", "cannot read --hosts-file
 * PATH: ...".
 */
int mh_dnsbl_targets_load(struct mh_dnsbl_target_list *list, const char *path,
                          char *err, size_t errlen);

/*
 * Reads the whole file at path, at most max bytes, into *out (NUL added;
 * free with free()), its length into *outlen. what names the file in
 * messages ("hosts file"). Returns 0, or -1 with "cannot read WHAT PATH:
 * why" or "WHAT PATH is larger than MAX bytes" in err.
 */
int mh_dnsbl_read_file(const char *path, size_t max, const char *what,
                       char **out, size_t *outlen, char *err, size_t errlen);

/* Frees the strings of list and empties it. */
void mh_dnsbl_target_list_free(struct mh_dnsbl_target_list *list);

/* Formats n with a comma between groups of three digits ("51,200"). Returns
 * buf. */
char *mh_dnsbl_fmt_count(uint64_t n, char *buf, size_t len);

#endif
