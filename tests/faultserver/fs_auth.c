/* SPDX-License-Identifier: MIT */
/*
 * fs_auth.c - base64 and the server-side checks of the SASL mechanisms the
 * fault server plays (RFC 4954 SMTP AUTH):
 *   PLAIN     RFC 4616: base64("authzid NUL authcid NUL passwd")
 *   LOGIN     draft-murchison-sasl-login: user and password, each base64
 *   CRAM-MD5  RFC 2195: base64("user SP hex(HMAC-MD5(password, challenge))")
 * The dialogue itself (334 prompts, reading the answers) is in
 * fs_session.c.
 */
#include "fs.h"

#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static bool
is_b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Strict base64 (RFC 4648 section 4, padded, no whitespace) as RFC 4954
 * section 4 requires. Returns 0 on success, -1 when the input is not valid
 * base64 or does not fit. */
int
fs_b64_decode(const char *in, unsigned char *out, size_t cap, size_t *outlen)
{
    size_t n = strlen(in);
    size_t pad = 0;
    size_t i;
    int r;

    *outlen = 0;
    if (n % 4 != 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (in[i] == '=') {
            if (i < n - 2)
                return -1;
            pad++;
        } else if (pad > 0 || !is_b64_char(in[i])) {
            return -1;
        }
    }
    if (n == 0)
        return 0;
    if (n / 4 * 3 > cap || n > (size_t)0x7fffffff)
        return -1;
    r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (r < 0 || (size_t)r < pad)
        return -1;
    *outlen = (size_t)r - pad;
    return 0;
}

/* Writes NUL-terminated base64 of in. Returns 0, or -1 when out is small. */
int
fs_b64_encode(const unsigned char *in, size_t len, char *out, size_t cap)
{
    size_t need = 4 * ((len + 2) / 3) + 1;

    if (need > cap || len > (size_t)0x3fffffff)
        return -1;
    (void)EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return 0;
}

/* Copies at most cap-1 bytes of a binary field as a C string (a NUL inside
 * the field would end it: good enough for a record). */
static void
copy_field(char *dst, size_t cap, const unsigned char *src, size_t len)
{
    if (cap == 0)
        return;
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* RFC 4616 section 2: message = [authzid] NUL authcid NUL passwd. */
bool
fs_plain_check(const unsigned char *msg, size_t len, const char *user,
               const char *pass, char *authcid, size_t cap)
{
    const unsigned char *nul1 = memchr(msg, '\0', len);
    const unsigned char *nul2;
    const unsigned char *cid;
    const unsigned char *pw;
    size_t cid_len;
    size_t pw_len;

    if (cap > 0)
        authcid[0] = '\0';
    if (nul1 == NULL)
        return false;
    cid = nul1 + 1;
    nul2 = memchr(cid, '\0', len - (size_t)(cid - msg));
    if (nul2 == NULL)
        return false;
    cid_len = (size_t)(nul2 - cid);
    pw = nul2 + 1;
    pw_len = len - (size_t)(pw - msg);
    copy_field(authcid, cap, cid, cid_len);
    return cid_len == strlen(user) && memcmp(cid, user, cid_len) == 0 &&
           pw_len == strlen(pass) && memcmp(pw, pass, pw_len) == 0;
}

/* RFC 2195 section 2: the response is the user name, a space, and the
 * lowercase hex HMAC-MD5 of the challenge keyed with the password. */
bool
fs_cram_check(const char *challenge, const unsigned char *resp, size_t len,
              const char *user, const char *pass, char *got_user, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char want[2 * EVP_MAX_MD_SIZE + 1];
    const unsigned char *sp = NULL;
    size_t i;
    size_t user_len;
    size_t digest_len;
    size_t pass_len = strlen(pass);

    if (cap > 0)
        got_user[0] = '\0';
    for (i = len; i > 0; i--) {
        if (resp[i - 1] == ' ') {
            sp = resp + i - 1;
            break;
        }
    }
    if (sp == NULL)
        return false;
    user_len = (size_t)(sp - resp);
    digest_len = len - user_len - 1;
    copy_field(got_user, cap, resp, user_len);
    if (pass_len > 0x7fffffff)
        return false;
    if (HMAC(EVP_md5(), pass, (int)pass_len, (const unsigned char *)challenge,
             strlen(challenge), md, &md_len) == NULL)
        return false;
    for (i = 0; i < md_len; i++) {
        want[2 * i] = hex[md[i] >> 4];
        want[2 * i + 1] = hex[md[i] & 0x0f];
    }
    want[2 * md_len] = '\0';
    return user_len == strlen(user) && memcmp(resp, user, user_len) == 0 &&
           digest_len == 2 * (size_t)md_len &&
           strncasecmp((const char *)sp + 1, want, digest_len) == 0;
}
