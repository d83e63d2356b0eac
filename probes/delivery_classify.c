/* SPDX-License-Identifier: MIT */
/*
 * delivery_classify: what a failed libcurl transfer of the delivery probe
 * means (state and reason), and the SMTP phase of each command libcurl
 * sent (see delivery.h).
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "delivery.h"
#include "reply.h"
#include "reply_rules.h"

static bool
is_tls_error(int c)
{
    switch (c) {
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CLIENTCERT:
        return true;
    default:
        return false;
    }
}

enum mh_phase
mh_delivery_command_phase(enum mh_phase current, const char *line, size_t len)
{
    static const struct {
        const char *word;
        enum mh_phase phase;
    } cmds[] = {{"EHLO", MH_PHASE_EHLO},         {"HELO", MH_PHASE_EHLO},
                {"STARTTLS", MH_PHASE_STARTTLS}, {"AUTH", MH_PHASE_AUTH},
                {"MAIL", MH_PHASE_MAIL},         {"RCPT", MH_PHASE_RCPT},
                {"DATA", MH_PHASE_DATA},         {"QUIT", MH_PHASE_QUIT}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        size_t wl = strlen(cmds[i].word);
        if (len >= wl && strncasecmp(line, cmds[i].word, wl) == 0 &&
            (len == wl || line[wl] == ' ' || line[wl] == ':')) {
            /* Inside AUTH a continuation line may spell anything. */
            if (current == MH_PHASE_AUTH && cmds[i].phase != MH_PHASE_AUTH &&
                len == wl) {
                return current;
            }
            return cmds[i].phase;
        }
    }
    return current;
}

void
mh_delivery_classify(enum mh_delivery_half half, int curl_code,
                     long response_code, const char *errbuf,
                     enum mh_phase phase, const char *enhanced,
                     const char *reply_text, enum mh_state *state,
                     enum mh_reason *reason)
{
    const char *eb = errbuf != NULL ? errbuf : "";
    *state = MH_STATE_CRITICAL;
    *reason = MH_REASON_CONNECTION_CLOSED;
    int code =
        response_code >= 200 && response_code <= 599 ? (int)response_code : 0;
    switch (curl_code) {
    case CURLE_OK:
        *state = MH_STATE_OK;
        *reason = MH_REASON_NONE;
        return;
    case CURLE_OPERATION_TIMEDOUT:
        *reason = MH_REASON_REPLY_TIMEOUT;
        return;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        *reason = MH_REASON_NAME_NOT_FOUND;
        return;
    case CURLE_COULDNT_CONNECT:
        *reason = MH_REASON_CONNECTION_REFUSED;
        return;
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        *reason = MH_REASON_CONNECTION_CLOSED;
        return;
    case CURLE_LOGIN_DENIED:
        if (half == MH_DELIVERY_HALF_IMAP &&
            strncasecmp(eb, "Select failed", 13) == 0) {
            /* libcurl reports a refused SELECT as LOGIN_DENIED. */
            *reason = MH_REASON_MAILBOX_UNAVAILABLE;
            return;
        }
        if (half == MH_DELIVERY_HALF_SUBMIT && code >= 400) {
            /* 454 4.7.0 during AUTH is transient (WARNING), 535 not. */
            mh_reply_classify(MH_PHASE_AUTH, code, enhanced, reply_text, state,
                              reason);
            if (*state == MH_STATE_OK) {
                *state = MH_STATE_CRITICAL;
            }
            if (mh_reason_category(*reason) != MH_CAT_AUTH) {
                *reason = MH_REASON_AUTH_FAILED;
            }
            return;
        }
        *reason = MH_REASON_AUTH_FAILED;
        return;
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_FAILED_INIT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_READ_ERROR:
        *state = MH_STATE_UNKNOWN;
        *reason = MH_REASON_INTERNAL_ERROR;
        return;
    case CURLE_QUOTE_ERROR:
        /* IMAP: NO or BAD to a command. */
        *reason = MH_REASON_COMMAND_REJECTED;
        return;
    default:
        break;
    }
    if (is_tls_error(curl_code)) {
        *reason = curl_code == CURLE_USE_SSL_FAILED
                      ? MH_REASON_TLS_REQUIRED
                      : MH_REASON_TLS_HANDSHAKE_FAILED;
        return;
    }
    if (half == MH_DELIVERY_HALF_SUBMIT && code >= 400) {
        enum mh_phase ph =
            (int)phase >= 0 && phase < MH_PHASE_LAST ? phase : MH_PHASE_DATA;
        mh_reply_classify(ph, code, enhanced, reply_text, state, reason);
        if (*state == MH_STATE_OK) {
            *state = MH_STATE_CRITICAL;
            *reason = MH_REASON_PROTOCOL_VIOLATION;
        }
        return;
    }
    switch (curl_code) {
    case CURLE_WEIRD_SERVER_REPLY:
        *reason = MH_REASON_PROTOCOL_VIOLATION;
        return;
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_UPLOAD_FAILED:
        *reason = MH_REASON_COMMAND_REJECTED;
        return;
    default:
        /* SEND/RECV errors without a reply, resets: the session was
         * lost. */
        *reason = MH_REASON_CONNECTION_CLOSED;
        return;
    }
}
