/* SPDX-License-Identifier: MIT */
/*
 * fs.h - shared declarations of mh_faultserver, the scripted fault SMTP
 * server used by the mailhealth tests.
 *
 * The server is split into:
 *   faultserver.c   command line, listening socket, one forked child per
 *                   connection, lifetime limits (--sessions, --max-seconds)
 *   fs_script.c     script loader: directives, ${VAR} expansion, escapes,
 *                   certificate loading (so errors show before listening)
 *   fs_session.c    the interpreter that plays one script on one connection
 *   fs_auth.c       base64 and the SASL checks (PLAIN, LOGIN, CRAM-MD5)
 *   fs_tls.c        TLS contexts and the raw ClientHello parser
 *   fs_transcript.c the shared, append-only transcript
 *
 * See README.md beside this file for the script language and the
 * transcript format.
 */
#ifndef MH_FAULTSERVER_FS_H
#define MH_FAULTSERVER_FS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* Longest client line accepted, without its line end. Longer lines are
 * recorded and the connection is closed. RFC 5321 section 4.5.3.1.4 allows
 * 512 octets for a command line; the cap is generous on purpose so that AUTH
 * responses (RFC 4954 section 4 allows 12288) and sloppy clients fit. */
#define FS_MAX_CLIENT_LINE 4096

/* Longest script line (after ${VAR} expansion). */
#define FS_MAX_SCRIPT_LINE 8192

/* Limits of one script. */
#define FS_MAX_STEPS 2048
#define FS_MAX_CERTS 32

#if defined(__GNUC__)
#define FS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FS_PRINTF(a, b)
#endif

enum fs_op {
    OP_GREET_PAUSE,
    OP_SEND,
    OP_SEND_LF,
    OP_SEND_RAW,
    OP_DRIP,
    OP_WAIT,
    OP_EXPECT,
    OP_EXPECT_ANY,
    OP_REJECT_IF,
    OP_FORBID,
    OP_FORBID_PIPELINING,
    OP_PIPELINE_GRACE,
    OP_AUTH_PLAIN,
    OP_AUTH_LOGIN,
    OP_AUTH_LOGIN_LOWER,
    OP_AUTH_CRAM,
    OP_AUTH_ANY,
    OP_AUTH_RESULT,
    OP_AUTH_EMPTY_CHALLENGE,
    OP_STARTTLS,
    OP_TLS_SNI,
    OP_IMPLICIT_TLS,
    OP_TLS_CLOSE_BEFORE_HELLO,
    OP_TLS_STALL,
    OP_TLS_ALERT,
    OP_CLOSE,
    OP_RST,
    OP_HOLD,
    OP_READALL,
    OP_JUNK,
    OP_LONG_LINE,
    OP_ENDLESS_CONTINUATION,
    OP_QUIT,
    OP_ON,
    OP_ON_PLAIN,
    OP_ON_TLS,
    OP_ON_STARTTLS,
    OP_ON_AUTH,
    OP_SERVE,
    OP_LINE_END
};

/* A certificate (leaf + key + optional extra chain) and its server context. */
struct fs_cert {
    char *cert_file;
    char *key_file;
    char *chain_file; /* NULL when none */
    SSL_CTX *ctx;
};

/* One directive of a script, with its arguments already parsed. */
struct fs_step {
    enum fs_op op;
    unsigned line;    /* line number in the script file */
    char *text;       /* text argument (send text, reply, prefix...), or NULL */
    size_t text_len;  /* length of text (send-raw text may hold NUL bytes) */
    char *word;       /* first word: reject-if/on prefix, SNI name, user */
    char *word2;      /* second word: password */
    double secs;      /* seconds (greet-pause, wait, drip, pipeline-grace) */
    unsigned long n;  /* count: junk bytes, long-line length */
    unsigned long n2; /* second number: junk seed */
    int cert;         /* index into fs_script.certs, -1 when none */
};

struct fs_script {
    char *path;
    struct fs_step *steps;
    size_t nsteps;
    struct fs_cert certs[FS_MAX_CERTS];
    size_t ncerts;
};

/* Set by SIGTERM/SIGINT; every wait loop checks it. */
extern volatile sig_atomic_t fs_stop;

/* fs_script.c */
int fs_script_load(const char *path, struct fs_script *out, char *err,
                   size_t errlen);
void fs_script_free(struct fs_script *sc);
const char *fs_op_name(enum fs_op op);

/* fs_session.c */
double fs_now(void);
/* Plays the script on fd (which it closes). Returns the number of
 * VIOLATION lines recorded. */
unsigned fs_session_run(const struct fs_script *sc, int fd, unsigned long sid,
                        double deadline);
/* SNI callback installed on every server context (see fs_tls.c). */
int fs_session_servername_cb(SSL *ssl, int *alert, void *arg);

/* fs_tls.c */
SSL_CTX *fs_tls_ctx_new(const char *cert, const char *key, const char *chain,
                        char *err, size_t errlen);
/* Finds the SNI host name in a raw TLS ClientHello record. Returns true and
 * writes a NUL-terminated name when present. */
bool fs_tls_find_sni(const unsigned char *buf, size_t len, char *name,
                     size_t cap);

/* fs_auth.c */
int fs_b64_decode(const char *in, unsigned char *out, size_t cap,
                  size_t *outlen);
int fs_b64_encode(const unsigned char *in, size_t len, char *out, size_t cap);
bool fs_plain_check(const unsigned char *msg, size_t len, const char *user,
                    const char *pass, char *authcid, size_t cap);
bool fs_cram_check(const char *challenge, const unsigned char *resp, size_t len,
                   const char *user, const char *pass, char *got_user,
                   size_t cap);

/* fs_transcript.c */
int fs_tr_open(const char *path, bool mirror_stderr);
void fs_tr_close(void);
size_t fs_escape(char *dst, size_t cap, const void *src, size_t len,
                 size_t *used);
const char *fs_esc(char *dst, size_t cap, const void *src, size_t len);
void fs_tr_data(unsigned long sid, const char *tag, const void *data,
                size_t len);
void fs_tr_event(unsigned long sid, const char *fmt, ...) FS_PRINTF(2, 3);
void fs_tr_violation(unsigned long sid, const char *fmt, ...) FS_PRINTF(2, 3);

#endif /* MH_FAULTSERVER_FS_H */
