/* SPDX-License-Identifier: MIT */
/*
 * fs_tls.c - TLS server contexts and the raw ClientHello parser.
 *
 * A context is built once per distinct certificate when the script is
 * loaded, so a broken certificate path is reported before the server
 * listens; the forked children only use it. Contexts accept TLS 1.2 and 1.3
 * (RFC 3207 leaves the version to TLS; older versions are not worth
 * offering in a test server), never issue session tickets, and run at
 * OpenSSL security level 0 so that the lab can serve deliberately weak or
 * odd certificates and let the probe, not the server, judge them.
 */
#include "fs.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static void
set_err(char *err, size_t errlen, const char *what, const char *file)
{
    char ossl[256] = "";
    unsigned long e = ERR_peek_last_error();

    if (e != 0)
        ERR_error_string_n(e, ossl, sizeof ossl);
    ERR_clear_error();
    if (snprintf(err, errlen, "%s %s%s%s", what, file, ossl[0] ? ": " : "",
                 ossl) < 0 &&
        errlen > 0)
        err[0] = '\0';
}

/* Adds every certificate of a PEM file after the leaf, skipping the leaf
 * itself (the lab's N.chain.pem holds leaf + intermediate). */
static int
add_chain(SSL_CTX *ctx, const char *chain, char *err, size_t errlen)
{
    X509 *leaf = SSL_CTX_get0_certificate(ctx);
    BIO *bio = BIO_new_file(chain, "r");
    X509 *x;
    int added = 0;

    if (bio == NULL) {
        set_err(err, errlen, "cannot read chain file", chain);
        return -1;
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (leaf == NULL || X509_cmp(x, leaf) != 0) {
            if (SSL_CTX_add1_chain_cert(ctx, x) != 1) {
                X509_free(x);
                BIO_free(bio);
                set_err(err, errlen, "cannot add chain certificate from",
                        chain);
                return -1;
            }
            added++;
        }
        X509_free(x);
    }
    /* The loop ends with a "no start line" error at end of file. */
    ERR_clear_error();
    BIO_free(bio);
    if (added == 0 && leaf == NULL) {
        set_err(err, errlen, "no certificate in chain file", chain);
        return -1;
    }
    return 0;
}

SSL_CTX *
fs_tls_ctx_new(const char *cert, const char *key, const char *chain, char *err,
               size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        set_err(err, errlen, "cannot create TLS context for", cert);
        return NULL;
    }
    SSL_CTX_set_security_level(ctx, 0);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
        goto fail_ctx;
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    (void)SSL_CTX_set_num_tickets(ctx, 0);
    (void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) != 1) {
        set_err(err, errlen, "cannot load certificate", cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        set_err(err, errlen, "cannot load private key", key);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        set_err(err, errlen, "private key does not match", cert);
        goto fail;
    }
    if (chain != NULL && add_chain(ctx, chain, err, errlen) != 0)
        goto fail;
    SSL_CTX_set_tlsext_servername_callback(ctx, fs_session_servername_cb);
    return ctx;

fail_ctx:
    set_err(err, errlen, "cannot configure TLS context for", cert);
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* A bounds-checked reader over a byte buffer. */
struct cursor {
    const unsigned char *p;
    size_t left;
};

static bool
take(struct cursor *c, size_t n, const unsigned char **out)
{
    if (c->left < n)
        return false;
    if (out != NULL)
        *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

static bool
take_u8(struct cursor *c, size_t *v)
{
    const unsigned char *b;

    if (!take(c, 1, &b))
        return false;
    *v = b[0];
    return true;
}

static bool
take_u16(struct cursor *c, size_t *v)
{
    const unsigned char *b;

    if (!take(c, 2, &b))
        return false;
    *v = ((size_t)b[0] << 8) | b[1];
    return true;
}

/* RFC 8446 section 4.1.2 / RFC 5246 section 7.4.1.2 ClientHello layout,
 * RFC 6066 section 3 server_name extension. Only the first record is
 * looked at, which is where every client puts the ClientHello start. */
bool
fs_tls_find_sni(const unsigned char *buf, size_t len, char *name, size_t cap)
{
    struct cursor c = {buf, len};
    const unsigned char *b;
    size_t rec_len;
    size_t v;
    size_t ext_total;

    if (cap == 0)
        return false;
    name[0] = '\0';
    /* record header: type 22 (handshake), version, length */
    if (!take(&c, 3, &b) || b[0] != 0x16 || !take_u16(&c, &rec_len))
        return false;
    if (rec_len < c.left)
        c.left = rec_len;
    /* handshake header: type 1 (client_hello), 24-bit length */
    if (!take(&c, 4, &b) || b[0] != 0x01)
        return false;
    /* legacy_version, random */
    if (!take(&c, 2 + 32, NULL))
        return false;
    /* legacy_session_id, cipher_suites, legacy_compression_methods */
    if (!take_u8(&c, &v) || !take(&c, v, NULL))
        return false;
    if (!take_u16(&c, &v) || !take(&c, v, NULL))
        return false;
    if (!take_u8(&c, &v) || !take(&c, v, NULL))
        return false;
    if (!take_u16(&c, &ext_total))
        return false;
    if (ext_total < c.left)
        c.left = ext_total;
    while (c.left >= 4) {
        size_t type;
        size_t ext_len;
        struct cursor e;

        if (!take_u16(&c, &type) || !take_u16(&c, &ext_len) ||
            !take(&c, ext_len, &b))
            return false;
        if (type != 0)
            continue;
        e.p = b;
        e.left = ext_len;
        /* server_name_list length, then entries of type/length/name */
        if (!take_u16(&e, &v))
            return false;
        while (e.left >= 3) {
            size_t ntype;
            size_t nlen;
            const unsigned char *nb;

            if (!take_u8(&e, &ntype) || !take_u16(&e, &nlen) ||
                !take(&e, nlen, &nb))
                return false;
            if (ntype == 0) {
                (void)fs_esc(name, cap, nb, nlen);
                return true;
            }
        }
        return false;
    }
    return false;
}
