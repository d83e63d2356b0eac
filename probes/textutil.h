/* SPDX-License-Identifier: MIT */
/*
 * textutil: the small text helpers every layer shares, written once:
 *   - escaping untrusted bytes into printable ASCII ("\xNN"), in a buffer
 *     or in place for a message line; bytes as lower-case hex;
 *   - strict numbers: whole decimal numbers with a maximum, TCP ports;
 *   - address literals, "host:port" labels ("[v6]:port",
 *     "name[address]:port") and the "IP[:PORT]" form of a server address
 *     (--resolver).
 *
 * Pure functions: no allocation, no locale, no errno. Probes and plugin/
 * both use them, so a port is parsed by exactly one parser and a target
 * label is spelled by exactly one function.
 */
#ifndef MH_TEXTUTIL_H
#define MH_TEXTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Appends the len bytes at s (NUL bytes included) to the C string in buf
 * (capacity cap bytes, cap > 0, holding strlen(buf) bytes already):
 * printable ASCII 0x20..0x7e as is, every other byte as "\xNN" (lower-case
 * hex). An escape is never split. When the text does not fit: with
 * ellipsis, as much as fits followed by "..."; without, as much as fits.
 * buf stays NUL-terminated. Returns the new strlen(buf).
 */
size_t mh_text_escape_append(char *buf, size_t cap, const void *s, size_t len,
                             bool ellipsis);

/*
 * Writes the escaped form of the len bytes at s into buf (capacity cap):
 * mh_text_escape_append() into an empty buf, cut without ellipsis. Does
 * nothing when cap is 0. Returns buf.
 */
char *mh_text_escape(char *buf, size_t cap, const void *s, size_t len);

/* Length of the escaped form of the len bytes at s (without NUL). */
size_t mh_text_escaped_len(const void *s, size_t len);

/*
 * Escapes the C string in buf (capacity cap bytes) in place, as
 * mh_text_escape_append() with ellipsis: a message that quotes untrusted
 * text (a command-line argument, a config key, a log event) stays one
 * printable line. Returns the new strlen(buf).
 */
size_t mh_text_escape_line(char *buf, size_t cap);

/*
 * Writes the n bytes at in as 2 * n lower-case hex digits and a NUL into
 * out (room for 2 * n + 1 bytes). Returns out.
 */
char *mh_hex_encode(char *out, const void *in, size_t n);

/*
 * Parses a whole decimal number: one or more ASCII digits and nothing else
 * (no sign, no space, no fraction, no exponent), at most max. Returns true
 * and *out on success; false (and *out untouched) otherwise.
 */
bool mh_parse_uint(const char *s, unsigned long long max,
                   unsigned long long *out);

/* A TCP port: mh_parse_uint with 1..65535. Returns true and *port. */
bool mh_parse_port(const char *s, uint16_t *port);

/*
 * "IP", "IP:PORT", "[IPv6]:PORT" or a bare IPv6 address (no port), the
 * forms c-ares takes for a server (ares_set_servers_ports_csv). Writes the
 * address without brackets into ip (ip_len >= 46 holds any) and the port
 * into *port (0 when none is given). Returns false when s is none of
 * these.
 */
bool mh_parse_ip_port(const char *s, char *ip, size_t ip_len, uint16_t *port);

/* True when s is an IPv4 or IPv6 address literal (inet_pton), not a
 * name: no SNI for it (RFC 6066 3), iPAddress rather than dNSName checks,
 * nothing to resolve. */
bool mh_is_ip_literal(const char *s);

/* True when host is an IPv6 address literal as written in -H (it contains
 * ':'), which takes brackets in a "host:port" label. */
bool mh_host_is_v6(const char *host);

/*
 * The label of a peer for targets and messages, written into buf:
 *   name NULL or "":           "address:port" ("[address]:port" for IPv6)
 *   address NULL, "" or name:  "name:port"    ("[name]:port" for IPv6)
 *   otherwise:                 "name[address]:port"
 * Truncated to fit len. Returns buf.
 */
char *mh_peer_label(char *buf, size_t len, const char *name,
                    const char *address, uint16_t port);

/*
 * Writes Unix time t (seconds) as ISO 8601 UTC ("2026-03-01T12:00:00Z",
 * gmtime_r and strftime) into buf, or "?" when it cannot be represented.
 * Returns buf.
 */
char *mh_utc_iso(char *buf, size_t len, double t);

#endif
