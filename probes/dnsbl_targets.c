/* SPDX-License-Identifier: MIT */
/*
 * dnsbl_targets: -H values and the --hosts-file (see dnsbl_targets.h).
 */
#include "dnsbl_targets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsbl.h"

/* Reads a decimal prefix length of at most max: digits only, no leading
 * zero except "0" itself. Returns 0 or -1. */
static int
parse_prefix(const char *s, unsigned max, unsigned *out)
{
    unsigned v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 3 || (n > 1 && s[0] == '0')) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10u + (unsigned)(s[i] - '0');
    }
    if (v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Clears the bits of b (nbytes) below prefix. */
static void
clear_host_bits(unsigned char *b, size_t nbytes, unsigned prefix)
{
    for (size_t i = 0; i < nbytes; i++) {
        unsigned first = (unsigned)i * 8u;
        if (prefix <= first) {
            b[i] = 0;
        } else if (prefix < first + 8u) {
            b[i] &= (unsigned char)(0xffu << (8u - (prefix - first)));
        }
    }
}

int
mh_dnsbl_target_parse(const char *text, struct mh_dnsbl_target *out)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    char addr[INET6_ADDRSTRLEN + 8];
    if (text == NULL) {
        return -1;
    }
    memset(out, 0, sizeof *out);
    const char *slash = strchr(text, '/');
    size_t alen = slash != NULL ? (size_t)(slash - text) : strlen(text);
    if (alen < sizeof addr) {
        memcpy(addr, text, alen);
        addr[alen] = '\0';
        int fam = 0;
        unsigned bits = 0;
        if (inet_pton(AF_INET, addr, out->bytes) == 1) {
            fam = AF_INET;
            bits = 32;
        } else if (inet_pton(AF_INET6, addr, out->bytes) == 1) {
            fam = AF_INET6;
            bits = 128;
        }
        if (fam != 0) {
            unsigned prefix = bits;
            if (slash != NULL && parse_prefix(slash + 1, bits, &prefix) != 0) {
                return -1;
            }
            if (fam == AF_INET6 && prefix >= 96 &&
                memcmp(out->bytes, mapped, sizeof mapped) == 0) {
                /* ::ffff:a.b.c.d/120 is a.b.c.d/24 */
                memmove(out->bytes, out->bytes + 12, 4);
                memset(out->bytes + 4, 0, 12);
                fam = AF_INET;
                bits = 32;
                prefix -= 96;
            }
            clear_host_bits(out->bytes, bits / 8u, prefix);
            out->family = fam;
            out->prefix = prefix;
            unsigned host = bits - prefix;
            out->count = host >= 64 ? UINT64_MAX : (uint64_t)1 << host;
            return 0;
        }
    }
    if (slash != NULL ||
        mh_dnsbl_normalize_name(text, out->name, sizeof out->name) != 0) {
        return -1;
    }
    out->prefix = 0;
    out->count = 1;
    return 0;
}

void
mh_dnsbl_target_address(const struct mh_dnsbl_target *t, uint64_t index,
                        unsigned char out[16])
{
    size_t n = t->family == AF_INET ? 4 : 16;
    memcpy(out, t->bytes, n);
    /* add index to the big-endian number, from the last byte up */
    unsigned carry = 0;
    for (size_t i = n; i-- > 0;) {
        unsigned v = out[i] + (unsigned)(index & 255u) + carry;
        out[i] = (unsigned char)(v & 255u);
        carry = v >> 8;
        index >>= 8;
    }
}

char *
mh_dnsbl_fmt_count(uint64_t n, char *buf, size_t len)
{
    char digits[32];
    int k = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
    size_t o = 0;
    for (int i = 0; i < k && o + 1 < len; i++) {
        if (i > 0 && (k - i) % 3 == 0 && o + 2 < len) {
            buf[o++] = ',';
        }
        buf[o++] = digits[i];
    }
    if (len > 0) {
        buf[o < len ? o : len - 1] = '\0';
    }
    return buf;
}

void
mh_dnsbl_target_list_free(struct mh_dnsbl_target_list *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->v[i]);
    }
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

int
mh_dnsbl_targets_parse(struct mh_dnsbl_target_list *list, const char *text,
                       size_t len, char *err, size_t errlen)
{
    size_t n0 = list->n;
    size_t pos = 0, lineno = 0;
    while (pos < len) {
        lineno++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl != NULL ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl != NULL ? 1 : 0);
        if (memchr(line, '\0', ll) != NULL) {
            snprintf(err, errlen, "line %zu: NUL byte", lineno);
            goto fail;
        }
        if (ll > MH_DNSBL_TARGET_LINE_MAX) {
            snprintf(err, errlen, "line %zu: longer than %d bytes", lineno,
                     MH_DNSBL_TARGET_LINE_MAX);
            goto fail;
        }
        const char *hash = memchr(line, '#', ll);
        size_t end = hash != NULL ? (size_t)(hash - line) : ll;
        size_t start = 0;
        while (start < end && is_blank(line[start])) {
            start++;
        }
        while (end > start && is_blank(line[end - 1])) {
            end--;
        }
        if (end == start) {
            continue;
        }
        char item[MH_DNSBL_TARGET_LINE_MAX + 1];
        memcpy(item, line + start, end - start);
        item[end - start] = '\0';
        struct mh_dnsbl_target t;
        if (mh_dnsbl_target_parse(item, &t) != 0) {
            char *clean = mh_text_printable(item, strlen(item));
            snprintf(err, errlen,
                     "line %zu: '%.80s' is not an IP address, an address "
                     "block (CIDR) or a DNS name",
                     lineno, clean != NULL ? clean : "?");
            free(clean);
            goto fail;
        }
        char **v = realloc(list->v, (list->n + 1) * sizeof *v);
        char *copy = strdup(item);
        if (v != NULL) {
            list->v = v;
        }
        if (v == NULL || copy == NULL) {
            free(copy);
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        list->v[list->n++] = copy;
    }
    return 0;
fail:
    while (list->n > n0) {
        free(list->v[--list->n]);
    }
    return -1;
}

int
mh_dnsbl_read_file(const char *path, size_t max, const char *what, char **out,
                   size_t *outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s %s: %s", what, path,
                 strerror(errno));
        return -1;
    }
    char *buf = malloc(max + 1);
    if (buf == NULL) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = fread(buf, 1, max + 1, f);
    bool ioerr = ferror(f) != 0;
    fclose(f);
    if (ioerr) {
        free(buf);
        snprintf(err, errlen, "cannot read %s %s", what, path);
        return -1;
    }
    if (n > max) {
        free(buf);
        snprintf(err, errlen, "%s %s is larger than %zu bytes", what, path,
                 max);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
}

int
mh_dnsbl_targets_load(struct mh_dnsbl_target_list *list, const char *path,
                      char *err, size_t errlen)
{
    char *buf;
    size_t n;
    if (mh_dnsbl_read_file(path, MH_DNSBL_HOSTS_FILE_MAX, "--hosts-file", &buf,
                           &n, err, errlen) != 0) {
        return -1;
    }
    char perr[200];
    int rc = mh_dnsbl_targets_parse(list, buf, n, perr, sizeof perr);
    free(buf);
    if (rc != 0) {
        snprintf(err, errlen, "--hosts-file %s: %s", path, perr);
    }
    return rc;
}
