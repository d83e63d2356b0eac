/* SPDX-License-Identifier: MIT */
/*
 * reply_rules: the classification of negative SMTP replies, as one
 * declarative rule table (reply_rules.c) and the matcher that walks it.
 *
 * A reply that is not a success (code >= 400) is compared with the rows of
 * the table in order; the FIRST row whose every condition holds decides the
 * state, the reason (and with it the category, verdict.h) and the rule id
 * that -v and the JSON "rule" field name. A row's conditions:
 *
 *   phases   the SMTP phases it applies to (MH_RULE_PHASE bits; 0: all);
 *   codes    reply codes: "4xx", "5xx", "421", "530,538" (NULL: any);
 *   enhanced an enhanced status code pattern (RFC 3463 section 2, the
 *            RFC 5248 registry): alternatives separated by ',', each
 *            "C.S.D" where C is the class digit or 'X' (4 or 5), S the
 *            subject number or '*', D the detail number, '*' or a range
 *            "lo-hi"; "-" stands for "no enhanced code" (NULL: any);
 *   words    phrases separated by '|', each phrase lower-case words
 *            separated by one space. A phrase matches when the reply text
 *            holds the same words in a row, case-insensitively, each a
 *            whole word: a word is a maximal run of ASCII letters and
 *            digits, anything else separates words. So "listed" never
 *            matches inside "Greylisted", "Unlisted" or "whitelisted",
 *            "rbl" never inside "garbled" or "herbal", "sorbs" never inside
 *            "absorbs", and "blocked using" never matches "blockedusing".
 *            The client's own words that the server echoes in angle
 *            brackets ("<rbl@example.com>", "<spam-host>") are skipped and
 *            end a phrase: an address never decides the category (a
 *            bracketed span with a space or "://" stays readable)
 *            (NULL: no condition on the text).
 *
 * The order of the table (first match wins), group by group:
 *   A. the phase: AUTH (RFC 4954 section 6) and STARTTLS (RFC 3207
 *      section 4) failures are auth and tls whatever the text says;
 *   B. enhanced codes that decide alone: X.7.8 and X.7.57 (auth), X.7.10
 *      and X.7.30 (TLS), 530 (RFC 4954 section 6), X.7.20-X.7.28 (DKIM,
 *      SPF, reverse DNS, DMARC, null MX sender, mail flood; RFC 7372,
 *      RFC 7505, RFC 5248 registry), Microsoft's X.7.500-X.7.750
 *      throttling and banned-IP codes; before them, the codes Gmail reuses
 *      with another meaning (X.7.23, X.7.27, X.7.29, X.7.30, X.7.32) when
 *      the text names the subject, and a missing PTR record named as the
 *      cause of a deferral;
 *   C. transient server states told by the text, before any code or text
 *      that could say "blocklist": greylisting, too many connections, rate
 *      limits, shutting down. Greylisting and rate limits are transient
 *      server responses, never blocklists;
 *   D. the subject of the enhanced code (RFC 3463 section 3): X.2.x
 *      (mailbox), X.1.x (address), X.3.x (mail system), X.4.x (network),
 *      X.5.x (protocol), X.6.x (content). A code that speaks of the address
 *      or the mailbox is never turned into a blocklist by its text: these
 *      rows come before every blocklist row and end the walk;
 *   E. text rules, only where the codes leave the question open (no
 *      enhanced code, X.0.x, or an X.7.x that group B did not decide):
 *      relay, TLS and authentication required, reverse DNS, SPF, DMARC,
 *      DKIM, rejected sender, unknown recipient, "not listed", named
 *      blocklists, providers' reputation and ban texts, local errors,
 *      local policy;
 *   F. the reply code alone (RFC 5321 4.2.2, 4.2.3, RFC 7504);
 *   G. the fallback: transient_failure (4xx) or permanent_failure (5xx).
 *
 * State: by the code's class (RFC 5321 4.2.1: 4yz transient -> WARNING,
 * 5yz permanent -> CRITICAL) unless the row adjusts it (MH_RULE_CRITICAL:
 * a refusal that a retry does not change, such as relaying denied).
 *
 * The README's rule table lists every row (unit.test_reply_rules checks it
 * against this table), and tests/unit/reply_catalogue.tsv holds real
 * replies with their expected state, reason and rule.
 *
 * Pure functions over constant data: no I/O, no allocation, thread-safe.
 */
#ifndef MH_REPLY_RULES_H
#define MH_REPLY_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "reply.h"
#include "verdict.h"

/* Bit of one phase in a rule's phase mask. */
#define MH_RULE_PHASE(p) (1u << (unsigned)(p))

/* How a rule sets the state. */
enum mh_rule_state {
    MH_RULE_BY_CODE = 0, /* 4xx WARNING, 5xx and above CRITICAL */
    MH_RULE_CRITICAL     /* CRITICAL whatever the class */
};

/* One row of the table. */
struct mh_reply_rule {
    const char *id;       /* stable snake_case rule id */
    unsigned phases;      /* MH_RULE_PHASE bits; 0 = every phase */
    const char *codes;    /* reply code list, NULL = any */
    const char *enhanced; /* enhanced status code pattern, NULL = any */
    const char *words;    /* whole-word phrases, NULL = no text condition */
    enum mh_reason reason;
    enum mh_rule_state state;
};

/* The table, in matching order; *count receives the number of rows. */
const struct mh_reply_rule *mh_reply_rules(size_t *count);

/*
 * The first rule of the table that matches a negative reply received in
 * `phase`: code (>= 400), enhanced status code (NULL or "" when there is
 * none; an invalid one counts as none) and text (NULL or the reply's text,
 * lines joined by '\n'). Never NULL for code >= 400: the last row matches
 * every such reply. NULL for code < 400.
 */
const struct mh_reply_rule *mh_reply_rule_match(enum mh_phase phase, int code,
                                                const char *enhanced,
                                                const char *text);

/*
 * Classifies a reply received in phase: *state and *reason (with its
 * category, verdict.h) from the first matching rule and its state column.
 * Codes below 400 give OK / MH_REASON_NONE. Returns the rule id, "" for
 * codes below 400 (a static string).
 */
const char *mh_reply_classify(enum mh_phase phase, int code,
                              const char *enhanced, const char *text,
                              enum mh_state *state, enum mh_reason *reason);

/*
 * True when text (NULL: never) holds one of the '|'-separated phrases of
 * `phrases` as whole words (the words column above).
 */
bool mh_words_match(const char *text, const char *phrases);

/*
 * True when the enhanced status code `enhanced` (NULL or "": none) matches
 * `pattern` (the enhanced column above; NULL matches everything).
 */
bool mh_enhanced_match(const char *enhanced, const char *pattern);

/* True when code matches the code list `codes` (NULL matches any code). */
bool mh_codes_match(int code, const char *codes);

#endif
