/* SPDX-License-Identifier: MIT */
/*
 * reply_rules: the reply classification table and its matcher (see
 * reply_rules.h for the columns, the matching and the order).
 */
#include "reply_rules.h"

#include <string.h>

#define PH(p) MH_RULE_PHASE(MH_PHASE_##p)
#define R(x) MH_REASON_##x
#define BY_CODE MH_RULE_BY_CODE
#define CRIT MH_RULE_CRITICAL

/* Enhanced codes under which a transient server state (group C) is read
 * from the text: none, X.0.x, X.2.0 (postgrey's "4.2.0 Greylisted"), X.3.x,
 * X.4.x, and the X.7.x group B left open. */
#define ENH_STATE "-,X.0.*,X.2.0,X.3.*,X.4.*,X.7.*"
/* Enhanced codes that leave the cause open (group E): none, X.0.x, and the
 * X.7.x (security or policy status) group B left open. */
#define ENH_OPEN "-,X.0.*,X.7.*"

/* clang-format off */
static const struct mh_reply_rule rules[] = {
    /* A. The phase decides (RFC 4954 section 6, RFC 3207 section 4). */
    {"auth_temporary", PH(AUTH), "4xx", NULL, NULL, R(AUTH_TEMPORARY), BY_CODE},
    {"auth_mechanism", PH(AUTH), NULL, "X.7.9,X.7.11,X.7.12", NULL,
     R(AUTH_MECHANISM), BY_CODE},
    {"auth_mechanism_code", PH(AUTH), "534,538", NULL, NULL, R(AUTH_MECHANISM),
     BY_CODE},
    {"auth_failed", PH(AUTH), NULL, NULL, NULL, R(AUTH_FAILED), BY_CODE},
    {"starttls_refused", PH(STARTTLS) | PH(TLS_HANDSHAKE), NULL, NULL, NULL,
     R(STARTTLS_REFUSED), BY_CODE},

    /* B. Enhanced codes (and 530) that decide alone. */
    {"auth_credentials", 0, NULL, "X.7.8", NULL, R(AUTH_FAILED), BY_CODE},
    {"auth_not_authenticated", 0, NULL, "X.7.57", NULL, R(AUTH_REQUIRED),
     BY_CODE},
    /* Gmail's sender-requirement codes reuse registered numbers with other
     * meanings (X.7.23 for reverse DNS, not SPF; X.7.27 for SPF, not a null
     * MX sender; X.7.29 for TLS; X.7.30 for DKIM, not REQUIRETLS; X.7.32
     * for DMARC alignment): where the text names its subject, it decides. */
    {"ptr_code_text", 0, NULL, "X.7.23", "ptr|reverse dns", R(PTR_MISSING),
     BY_CODE},
    {"spf_code_text", 0, NULL, "X.7.27", "spf", R(SPF_FAIL), BY_CODE},
    {"tls_code_text", 0, NULL, "X.7.29", "tls", R(TLS_REQUIRED), BY_CODE},
    {"dkim_code_text", 0, NULL, "X.7.30", "dkim", R(DKIM_FAIL), BY_CODE},
    {"dmarc_alignment_code", 0, NULL, "X.7.32", "aligned|alignment|dmarc",
     R(DMARC_FAIL), BY_CODE},
    {"tls_required_code", 0, NULL, "X.7.10,X.7.30", NULL, R(TLS_REQUIRED),
     BY_CODE},
    {"starttls_first", 0, "530", NULL,
     "starttls|tls required|tls is required|must use tls", R(TLS_REQUIRED),
     BY_CODE},
    {"auth_required_530", 0, "530", NULL, NULL, R(AUTH_REQUIRED), BY_CODE},
    {"dkim_code", 0, NULL, "X.7.20-22", NULL, R(DKIM_FAIL), BY_CODE},
    {"spf_code", 0, NULL, "X.7.23-24", NULL, R(SPF_FAIL), BY_CODE},
    {"ptr_code", 0, NULL, "X.7.25", NULL, R(PTR_MISSING), BY_CODE},
    {"dmarc_code", 0, NULL, "X.7.26", NULL, R(DMARC_FAIL), BY_CODE},
    {"sender_null_mx", 0, NULL, "X.7.27", NULL, R(SENDER_REJECTED), BY_CODE},
    {"mail_flood_code", 0, "4xx", "X.7.28", NULL, R(RATE_LIMITED), BY_CODE},
    {"mail_flood_block", 0, "5xx", "X.7.28", NULL, R(PROVIDER_BLOCK),
     BY_CODE},
    {"relay_code", 0, NULL, "X.7.54", NULL, R(RELAY_DENIED), CRIT},
    {"provider_throttle_code", 0, "4xx", "X.7.500-699", NULL,
     R(RATE_LIMITED), BY_CODE},
    {"provider_banned_ip_code", 0, "5xx", "X.7.606-649", NULL,
     R(PROVIDER_BLOCK), BY_CODE},
    {"provider_banned_code", 0, "5xx",
     "X.7.501-503,X.7.511,X.7.705,X.7.708,X.7.750", NULL, R(PROVIDER_BLOCK),
     BY_CODE},
    /* A missing PTR record named as the cause of a deferral or "rate
     * limit" (Gmail, Comcast): the cause is what the operator fixes. */
    {"ptr_cause", 0, NULL, ENH_STATE,
     "ptr record|ptr records|ptr resource record|reverse dns failure",
     R(PTR_MISSING), BY_CODE},

    /* C. Transient server states told by the text. */
    {"greylisted", 0, "4xx", ENH_STATE,
     "greylisted|greylisting|greylist|grey listed|grey listing|grey list|"
     "graylisted|graylisting|graylist|gray listed|gray listing|gray list",
     R(GREYLISTED), BY_CODE},
    {"greylisted_spamd", 0, "451", "-",
     "temporary failure please try again later", R(GREYLISTED), BY_CODE},
    {"greylisted_rspamd", 0, "451", "X.7.1", "try again later",
     R(GREYLISTED), BY_CODE},
    {"greylisted_mimecast", 0, "451", "-",
     "internal resource temporarily unavailable|"
     "internal resource is temporarily unavailable",
     R(GREYLISTED), BY_CODE},
    {"too_many_connections", 0, NULL, ENH_STATE,
     "too many connections|too many concurrent|too many simultaneous|"
     "too many open connections|too many sessions|connection limit|"
     "connection rate limit|connection rate|server ports are busy|"
     "too many smtp sessions|maximum number of connections|concurrency limit",
     R(TOO_MANY_CONNECTIONS), BY_CODE},
    {"rate_limited", 0, NULL, ENH_STATE,
     "rate limit|rate limited|rate limiting|ratelimit|ratelimited|"
     "rate exceeded|rate overlimit|over rate|too much mail|too many messages|"
     "too many recipients|too many emails|too many new tls sessions|"
     "too many auth commands|throttled|throttling|sending rate|sending limit|"
     "relay limit|"
     "temporarily deferred|tss04|ts01|ts02|ts03",
     R(RATE_LIMITED), BY_CODE},
    {"shutting_down", 0, "4xx", ENH_STATE,
     "shutting down|shut down|shutdown|going down", R(SERVER_SHUTTING_DOWN),
     BY_CODE},
    {"shutting_down_code", 0, "421", "X.3.2", NULL, R(SERVER_SHUTTING_DOWN),
     BY_CODE},

    /* D. The subject of the enhanced code (RFC 3463 section 3). */
    {"mailbox_rate", 0, NULL, "X.2.*",
     "rate|too many messages|too quickly|relay limit",
     R(RATE_LIMITED), BY_CODE},
    {"mailbox_full", 0, NULL, "X.2.2", NULL, R(MAILBOX_FULL), BY_CODE},
    {"mailbox_too_large", 0, NULL, "X.2.3", NULL, R(MESSAGE_TOO_LARGE),
     BY_CODE},
    {"mailbox_unavailable", 0, NULL, "X.2.*", NULL, R(MAILBOX_UNAVAILABLE),
     BY_CODE},
    {"user_unknown_code", 0, NULL, "X.1.1", NULL, R(USER_UNKNOWN), BY_CODE},
    /* X.1.10 is "recipient address has null MX" (RFC 7505); Microsoft
     * sends it for a recipient its directory does not know. */
    {"recipient_not_found_code", PH(RCPT), NULL, "X.1.10",
     "recipient not found|recipientnotfound", R(USER_UNKNOWN), BY_CODE},
    {"sender_code", 0, NULL, "X.1.7,X.1.8", NULL, R(SENDER_REJECTED),
     BY_CODE},
    /* Postfix's reject_unlisted_sender: "5.1.0 <a@b>: Sender address
     * rejected: User unknown ..." (5.1.1 is kept for the recipient). */
    {"sender_address_code", 0, NULL, "X.1.*", "sender address rejected",
     R(SENDER_REJECTED), BY_CODE},
    {"address_code", 0, NULL, "X.1.*", NULL, R(ADDRESS_REJECTED), BY_CODE},
    {"too_large_code", 0, NULL, "X.3.4", NULL, R(MESSAGE_TOO_LARGE),
     BY_CODE},
    {"not_accepting_code", 0, NULL, "X.3.2", NULL, R(SERVICE_UNAVAILABLE),
     BY_CODE},
    {"system_code", 0, NULL, "X.3.*", NULL, R(SERVER_ERROR), BY_CODE},
    /* Microsoft's directory-based edge blocking: the recipient is not in
     * the tenant's directory. */
    {"recipient_directory_code", PH(RCPT), NULL, "5.4.1",
     "recipient address rejected", R(USER_UNKNOWN), BY_CODE},
    {"network_code", 0, NULL, "X.4.*", NULL, R(SERVER_ERROR), BY_CODE},
    {"too_many_recipients_code", 0, NULL, "X.5.3", NULL, R(RATE_LIMITED),
     BY_CODE},
    {"protocol_code", 0, NULL, "X.5.*", NULL, R(COMMAND_REJECTED), BY_CODE},
    {"content_code", 0, NULL, "X.6.*", NULL, R(POLICY_REJECTED), BY_CODE},

    /* E. Text, where the codes leave the cause open. */
    {"relay_denied", 0, NULL, ENH_OPEN,
     "relay access denied|relaying denied|relay denied|unable to relay|"
     "relay not permitted|not permitted to relay|relaying not allowed|"
     "relay not allowed|not allowed to relay|we do not relay|no relaying|"
     "relaying prohibited|relay prohibited|relaying not permitted|"
     "relay not authorized|relaying to|i cannot deliver mail for|"
     "invalid credentials for relay",
     R(RELAY_DENIED), CRIT},
    {"tls_required_text", 0, NULL, ENH_OPEN,
     "must issue a starttls command first|starttls required|starttls is required|"
     "tls required|tls is required|must use tls|encryption required",
     R(TLS_REQUIRED), BY_CODE},
    {"auth_required_text", 0, NULL, ENH_OPEN,
     "authentication required|authentication is required|must authenticate|"
     "not authenticated|authenticate first|auth required",
     R(AUTH_REQUIRED), BY_CODE},
    {"ptr_text", 0, NULL, ENH_OPEN,
     "cannot find your hostname|cannot find your reverse hostname|"
     "reverse dns|reverse hostname|reverse lookup|ptr record|no ptr|rdns|"
     "ptr resource record|"
     "fcrdns",
     R(PTR_MISSING), BY_CODE},
    /* Unauthenticated mail (neither SPF nor DKIM passes), as X.7.26 says
     * with a code (Yahoo's 5.7.9, Gmail's 4.7.0, Microsoft's 5.7.515). */
    {"unauthenticated_text", 0, NULL, ENH_OPEN,
     "spf or dkim|dkim or spf|required authentication level",
     R(DMARC_FAIL), BY_CODE},
    {"spf_text", 0, NULL, ENH_OPEN, "spf|openspf|sender policy framework",
     R(SPF_FAIL), BY_CODE},
    {"dmarc_text", 0, NULL, ENH_OPEN, "dmarc", R(DMARC_FAIL), BY_CODE},
    {"dkim_text", 0, NULL, ENH_OPEN, "dkim|domainkeys", R(DKIM_FAIL), BY_CODE},
    {"sender_text", 0, NULL, ENH_OPEN,
     "sender address rejected|sender rejected|sender verify|"
     "sender verification failed|unverified sender",
     R(SENDER_REJECTED), BY_CODE},
    {"user_unknown_text", PH(RCPT), NULL, ENH_OPEN,
     "user unknown|unknown user|no such user|user not found|"
     "recipient not found|unknown recipient|recipient unknown|"
     "no such recipient|invalid recipient|mailbox not found|no mailbox|"
     "does not exist|doesn t exist|addressee unknown|unrouteable address|"
     "not listed",
     R(USER_UNKNOWN), BY_CODE},
    {"sender_domain_text", PH(MAIL), NULL, ENH_OPEN,
     "domain not found|unknown sender|sender unknown|sender domain",
     R(SENDER_REJECTED), BY_CODE},
    {"not_listed", 0, NULL, ENH_OPEN,
     "not listed|not on the list|not in whitelist|not in allowlist|"
     "not whitelisted|not allowlisted",
     R(POLICY_REJECTED), BY_CODE},
    {"dnsbl_named", 0, NULL, ENH_OPEN,
     "blocked using|dnsbl|dnsbls|dnsrbl|rbl|rbls|blacklist|blacklisted|"
     "blocklist|blocklisted|block list|black list|blocked list|listed on|"
     "listed in|listed at|listed by|is listed|are listed|block listed|"
     "black listed|clarify bl|spamhaus|spamcop|"
     "sorbs|barracuda|barracudacentral|uceprotect|psbl|mailspike|abuseat|"
     "cbl|invaluement|backscatterer|senderscore|ipcheck",
     R(PROVIDER_BLOCK), BY_CODE},
    {"provider_reputation", 0, NULL, ENH_OPEN,
     "reputation|poor reputation|bad reputation|low reputation",
     R(PROVIDER_BLOCK), BY_CODE},
    {"provider_ban", 0, NULL, ENH_OPEN,
     "banned sending ip|banned sender|banned ip|ip banned|"
     "ip address has been blocked|ip has been blocked|ip address is blocked|"
     "ip is blocked|ip blocked|blocked ip|"
     "not authorized to send email directly|spam source|known spammer|"
     "spam abuse|tss09|permanently deferred|sender address blocked",
     R(PROVIDER_BLOCK), BY_CODE},
    {"provider_dynamic_ip", 0, NULL, ENH_OPEN,
     "dynamic ip|dynamic ips|dynamic address|dynamically assigned|dialup|"
     "dial up|residential ip|"
     "end user ip",
     R(PROVIDER_BLOCK), BY_CODE},
    {"server_error_text", 0, NULL, ENH_OPEN,
     "internal error|local error|local problem|temporary local problem|"
     "system error|server error|internal server error|configuration error|"
     "temporary lookup failure",
     R(SERVER_ERROR), BY_CODE},
    {"policy_text", 0, NULL, ENH_OPEN,
     "policy|policies|administrative prohibition|access denied|spoofing|"
     "spam|unsolicited|virus|malware|phishing|content rejected|"
     "envelope blocked",
     R(POLICY_REJECTED), BY_CODE},

    /* F. The code alone (RFC 5321 4.2.2, 4.2.3, 3.1; RFC 7504). */
    {"service_421", 0, "421", NULL, NULL, R(SERVICE_UNAVAILABLE), BY_CODE},
    {"policy_code", 0, NULL, "X.7.*", NULL, R(POLICY_REJECTED), BY_CODE},
    {"no_service_greeting", PH(BANNER), "554", NULL, NULL,
     R(SERVICE_UNAVAILABLE), BY_CODE},
    {"no_mail_accepted", 0, "521,556", NULL, NULL, R(SERVICE_UNAVAILABLE),
     BY_CODE},
    {"command_rejected", 0, "500,501,502,503,504,555", NULL, NULL,
     R(COMMAND_REJECTED), BY_CODE},
    {"storage_552_rcpt", PH(RCPT), "552", NULL, NULL, R(MAILBOX_FULL),
     BY_CODE},
    {"too_large_552", 0, "552", NULL, NULL, R(MESSAGE_TOO_LARGE), BY_CODE},
    {"mailbox_name_553", 0, "553", NULL, NULL, R(ADDRESS_REJECTED), BY_CODE},
    {"local_error_451", 0, "451,452", NULL, NULL, R(SERVER_ERROR), BY_CODE},

    /* G. Fallback. */
    {"transient", 0, "4xx", NULL, NULL, R(TRANSIENT_FAILURE), BY_CODE},
    {"permanent", 0, NULL, NULL, NULL, R(PERMANENT_FAILURE), BY_CODE},
};
/* clang-format on */

const struct mh_reply_rule *
mh_reply_rules(size_t *count)
{
    *count = sizeof rules / sizeof rules[0];
    return rules;
}

/* Locale-independent character classes (no <ctype.h>). */
static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_word(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char
to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/*
 * Length of the echoed argument that starts at t, or 0. Servers echo the
 * client's path or domain in angle brackets (RFC 5321 4.1.2 Path, as in
 * Postfix's "<a@example.com>: Recipient address rejected" or Exim's
 * "<rbl>: recipient address must contain a domain"): those are the
 * client's words, not the server's, so no phrase is read inside them. A
 * span counts when '<' is closed by '>' on the same line with no space and
 * no "://" in between; a URL or prose in brackets stays readable.
 */
static size_t
echoed_span(const char *t)
{
    if (*t != '<') {
        return 0;
    }
    size_t i = 1;
    while (t[i] != '>') {
        if (t[i] == '\0' || t[i] == '\n' || t[i] == ' ' || t[i] == '<' ||
            (t[i] == ':' && t[i + 1] == '/' && t[i + 2] == '/')) {
            return 0;
        }
        i++;
    }
    return i + 1;
}

/*
 * Does the phrase p[0..pl) (lower-case words separated by single spaces)
 * match the text at t, a word start? Each word must equal a whole text
 * word; any run of non-word bytes separates text words, except an echoed
 * argument (echoed_span), which ends the phrase.
 */
static bool
phrase_at(const char *t, const char *p, size_t pl)
{
    size_t i = 0;
    while (i < pl) {
        size_t wl = 0;
        while (i + wl < pl && p[i + wl] != ' ') {
            wl++;
        }
        for (size_t k = 0; k < wl; k++) {
            if (to_lower(t[k]) != p[i + k]) {
                return false;
            }
        }
        t += wl;
        if (is_word(*t)) {
            return false; /* the text word goes on: not a whole word */
        }
        i += wl;
        if (i < pl) {
            i++; /* the space between phrase words */
            if (*t == '\0') {
                return false;
            }
            while (*t != '\0' && !is_word(*t)) {
                if (echoed_span(t) > 0) {
                    return false;
                }
                t++;
            }
            if (*t == '\0') {
                return false;
            }
        }
    }
    return true;
}

bool
mh_words_match(const char *text, const char *phrases)
{
    if (text == NULL || phrases == NULL) {
        return false;
    }
    const char *p = phrases;
    while (*p != '\0') {
        const char *end = strchr(p, '|');
        size_t pl = end != NULL ? (size_t)(end - p) : strlen(p);
        if (pl > 0) {
            for (const char *t = text; *t != '\0'; t++) {
                size_t skip = echoed_span(t);
                if (skip > 0) {
                    t += skip - 1;
                } else if (is_word(*t) && (t == text || !is_word(t[-1])) &&
                           phrase_at(t, p, pl)) {
                    return true;
                }
            }
        }
        if (end == NULL) {
            break;
        }
        p = end + 1;
    }
    return false;
}

/* Reads 1-3 digits at *s into *v; false if there are none or more. */
static bool
read_num(const char **s, int *v)
{
    int n = 0, x = 0;
    while (is_digit(**s) && n < 4) {
        x = x * 10 + (**s - '0');
        (*s)++;
        n++;
    }
    *v = x;
    return n >= 1 && n <= 3;
}

/* Parses an enhanced code "c.s.d" (RFC 3463 section 2: class 2, 4 or 5,
 * subject and detail 1-3 digits). False when e is none or invalid. */
static bool
parse_enhanced(const char *e, int *cls, int *subject, int *detail)
{
    if (e == NULL || (e[0] != '2' && e[0] != '4' && e[0] != '5') ||
        e[1] != '.') {
        return false;
    }
    *cls = e[0] - '0';
    const char *p = e + 2;
    if (!read_num(&p, subject) || *p++ != '.' || !read_num(&p, detail)) {
        return false;
    }
    return *p == '\0';
}

/* Reads the digits at *p (before end) of a pattern number; a value above
 * 999, which no enhanced code has (1-3 digits), reads as 1000 so that a
 * long digit run cannot overflow. */
static int
pattern_num(const char **p, const char *end)
{
    int v = 0;
    while (*p < end && is_digit(**p)) {
        v = v > 999 ? 1000 : v * 10 + (**p - '0');
        (*p)++;
    }
    return v > 999 ? 1000 : v;
}

/* One alternative of a pattern, a[0..al), against a parsed code. */
static bool
alternative_matches(const char *a, size_t al, bool have, int cls, int subject,
                    int detail)
{
    if (al == 1 && a[0] == '-') {
        return !have;
    }
    if (!have || al < 5 || a[1] != '.') {
        return false;
    }
    if (a[0] != 'X' && a[0] - '0' != cls) {
        return false;
    }
    const char *p = a + 2, *end = a + al;
    if (*p == '*') {
        p++;
    } else {
        if (pattern_num(&p, end) != subject) {
            return false;
        }
    }
    if (p >= end || *p++ != '.') {
        return false;
    }
    if (p < end && *p == '*') {
        return true;
    }
    int lo = pattern_num(&p, end), hi = lo;
    if (p < end && *p == '-') {
        p++;
        hi = pattern_num(&p, end);
    }
    return detail >= lo && detail <= hi;
}

bool
mh_enhanced_match(const char *enhanced, const char *pattern)
{
    if (pattern == NULL) {
        return true;
    }
    int cls = 0, subject = 0, detail = 0;
    bool have = parse_enhanced(enhanced, &cls, &subject, &detail);
    const char *a = pattern;
    for (;;) {
        const char *end = strchr(a, ',');
        size_t al = end != NULL ? (size_t)(end - a) : strlen(a);
        if (alternative_matches(a, al, have, cls, subject, detail)) {
            return true;
        }
        if (end == NULL) {
            return false;
        }
        a = end + 1;
    }
}

bool
mh_codes_match(int code, const char *codes)
{
    if (codes == NULL) {
        return true;
    }
    if (code < 100 || code > 999) {
        return false;
    }
    const char digits[3] = {(char)('0' + code / 100),
                            (char)('0' + code / 10 % 10),
                            (char)('0' + code % 10)};
    for (const char *c = codes; c[0] != '\0';) {
        bool ok = true;
        for (int i = 0; i < 3; i++) {
            if (c[i] == '\0' || (c[i] != 'x' && c[i] != digits[i])) {
                ok = false;
            }
            if (c[i] == '\0') {
                return false;
            }
        }
        if (ok) {
            return true;
        }
        c += 3;
        if (*c == ',') {
            c++;
        }
    }
    return false;
}

const struct mh_reply_rule *
mh_reply_rule_match(enum mh_phase phase, int code, const char *enhanced,
                    const char *text)
{
    if (code < 400) {
        return NULL;
    }
    unsigned bit =
        (int)phase >= 0 && phase < MH_PHASE_LAST ? MH_RULE_PHASE(phase) : 0;
    size_t n = sizeof rules / sizeof rules[0];
    for (size_t i = 0; i < n; i++) {
        const struct mh_reply_rule *r = &rules[i];
        if ((r->phases != 0 && (r->phases & bit) == 0) ||
            !mh_codes_match(code, r->codes) ||
            !mh_enhanced_match(enhanced, r->enhanced) ||
            (r->words != NULL && !mh_words_match(text, r->words))) {
            continue;
        }
        return r;
    }
    return &rules[n - 1];
}

const char *
mh_reply_classify(enum mh_phase phase, int code, const char *enhanced,
                  const char *text, enum mh_state *state,
                  enum mh_reason *reason)
{
    const struct mh_reply_rule *r =
        mh_reply_rule_match(phase, code, enhanced, text);
    if (r == NULL) {
        *state = MH_STATE_OK;
        *reason = MH_REASON_NONE;
        return "";
    }
    /* RFC 5321 4.2.1: 4yz transient negative, 5yz permanent negative. */
    *state = r->state == MH_RULE_CRITICAL || code >= 500 ? MH_STATE_CRITICAL
                                                         : MH_STATE_WARNING;
    *reason = r->reason;
    return r->id;
}
