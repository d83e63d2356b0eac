/* SPDX-License-Identifier: MIT */
/*
 * delivery_internal: what the files of the delivery probe share and
 * nothing outside probes/delivery*.c uses:
 *   delivery.c          the round trip (mh_delivery_probe);
 *   delivery_xfer.c     one libcurl session: handle, callbacks, transfers
 *                       bounded by the deadline;
 *   delivery_url.c      --submit/--imap URLs and the URL given to libcurl;
 *   delivery_message.c  the token and the probe mail;
 *   delivery_imap.c     SEARCH results and capabilities in IMAP responses;
 *   delivery_classify.c state and reason of a failed transfer, the SMTP
 *                       phase of a command;
 *   delivery_redact.c   the -vv trace without credentials.
 */
#ifndef MH_DELIVERY_INTERNAL_H
#define MH_DELIVERY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "deadline.h"
#include "delivery.h"
#include "reply.h"

/*
 * The URL given to libcurl for du: scheme://host:port/PATH, the host of an
 * IPv6 address in brackets, PATH (percent-encoded) the EHLO name for
 * submission (libcurl's convention) or the mailbox; no path when path is
 * NULL. Returns a string to free with curl_free(), or NULL when libcurl's
 * URL API failed (out of memory).
 */
char *mh_delivery_curl_url(const struct mh_delivery_url *du, const char *path);

/* True when the capability list caps (space-separated as the server sent
 * it, possibly inside "[CAPABILITY ...]") has the word cap, compared
 * without regard to case (RFC 3501 7.2.1). */
bool mh_delivery_has_capability(const char *caps, const char *cap);

/* Word number idx (0-based, words separated by spaces) of the len bytes
 * at line, as pointer *w and length *wl. Returns false when the line has
 * fewer words. */
bool mh_delivery_word_at(const char *line, size_t len, int idx, const char **w,
                         size_t *wl);

/* Sockets libcurl may have open at once for one handle (happy eyeballs
 * opens two). */
#define MH_XFER_MAX_SOCKS 8

/* One libcurl session (a submission or an IMAP session) and what its
 * callbacks saw. Set up by mh_xfer_init(), released by mh_xfer_free(). */
struct mh_xfer {
    CURL *h;
    const struct mh_delivery_params *p;
    bool imap;
    char errbuf[CURL_ERROR_SIZE];
    /* SMTP replies as they arrive (reply.h parser). */
    struct mh_reply cur;
    struct mh_reply err_reply;   /* last complete reply >= 400 */
    struct mh_reply final_reply; /* reply to the end of the message */
    bool after_354;              /* the message is being sent */
    bool auth_ok;                /* 235 (SMTP) seen */
    enum mh_phase phase;         /* SMTP phase of the last command sent */
    enum mh_phase err_phase;     /* phase err_reply answered */
    double t_accepted;           /* monotonic time of final_reply */
    /* IMAP */
    char fail_line[512]; /* last tagged NO/BAD line */
    char caps[1024];     /* capabilities (from the last list seen) */
    /* both */
    char tls[128]; /* "TLSv1.3 TLS_AES_256_GCM_SHA384" once TLS is up */
    char *body;    /* response body of the last perform (IMAP) */
    size_t blen;
    /* message to upload (SMTP) */
    const char *msg;
    size_t msglen, msgoff;
    /* sockets, for a deadline-bounded disconnect */
    curl_socket_t socks[MH_XFER_MAX_SOCKS];
    size_t nsocks;
    struct mh_delivery_redactor rd;
    struct curl_slist *resolve;
    struct curl_slist *rcpt;
    char *url;
};

/*
 * Sets up x for one half: a new easy handle for the URL u (path as in
 * mh_delivery_curl_url()), STARTTLS required (or tried, with
 * insecure_plaintext) or implicit TLS, certificates verified, TLS 1.2 at
 * least, no signals and no proxy, user and password when user is not
 * NULL (password borrowed for the handle's life), and the callbacks. SMTP
 * sessions always get the debug callback: the commands libcurl sends give
 * the phase of each reply (mh_delivery_command_phase). Returns 0, or -1
 * when libcurl refused an option or memory ran out (x still needs
 * mh_xfer_free()).
 */
int mh_xfer_init(struct mh_xfer *x, const struct mh_delivery_params *p,
                 bool imap, const struct mh_delivery_url *u, const char *path,
                 const char *user, const char *password);

/*
 * With --resolver, resolves u's host with c-ares within dl and pins the
 * addresses on x's handle (curl_pin.h). Returns 0, or -1 with state,
 * reason and message set.
 */
int mh_xfer_pin(struct mh_xfer *x, const struct mh_delivery_url *u,
                const struct mh_deadline *dl, enum mh_state *st,
                enum mh_reason *reason, char *msg, size_t msglen);

/*
 * One transfer (curl_easy_perform), bounded by the time left in dl
 * (CURLOPT_TIMEOUT_MS and CURLOPT_CONNECTTIMEOUT_MS); *secs gets its
 * duration. With no time left it does not start and returns
 * CURLE_OPERATION_TIMEDOUT ("deadline reached" in x->errbuf).
 */
CURLcode mh_xfer_perform(struct mh_xfer *x, const struct mh_deadline *dl,
                         double *secs);

/* The IMAP command cmd on x's session (CURLOPT_CUSTOMREQUEST), traced with
 * -v, as mh_xfer_perform(); x->fail_line gets a tagged NO/BAD answer. */
CURLcode mh_xfer_imap_command(struct mh_xfer *x, const char *cmd,
                              const struct mh_deadline *dl, double *secs);

/*
 * Ends the session (QUIT / LOGOUT happen here, inside libcurl) without
 * passing the deadline: with less than a second left the sockets are shut
 * down first, so libcurl's goodbye fails at once; otherwise the server's
 * answer is awaited at most the whole seconds left
 * (CURLOPT_SERVER_RESPONSE_TIMEOUT; libcurl applies only that timeout
 * while disconnecting). Frees everything x holds; x may be reused.
 */
void mh_xfer_free(struct mh_xfer *x, const struct mh_deadline *dl);

/*
 * Makes x's SMTP session send msg (borrowed until the transfer ends) from
 * the envelope sender from to the one recipient to (both without angle
 * brackets; CURLOPT_MAIL_FROM, CURLOPT_MAIL_RCPT, an upload through the
 * read callback). Returns 0, or -1 when libcurl refused an option.
 */
int mh_xfer_set_message(struct mh_xfer *x, const char *from, const char *to,
                        const char *msg);

/* Keeps the capability list of an IMAP line ("* CAPABILITY ..." or a
 * "[CAPABILITY ...]" response code) in x->caps, escaped. */
void mh_xfer_note_caps(struct mh_xfer *x, const char *line, size_t len);

/* Failure text into buf: libcurl's message (errbuf, or the code's text),
 * and "; server: <server>" when the server's reply is known. */
void mh_xfer_describe(char *buf, size_t len, CURLcode rc, const char *errbuf,
                      const char *server);

/* "STARTTLS <version> <cipher>" or "implicit TLS ..." of x's session, or
 * "no TLS", into buf. Returns buf. */
const char *mh_xfer_tls_text(const struct mh_xfer *x, bool starttls, char *buf,
                             size_t len);

#endif
