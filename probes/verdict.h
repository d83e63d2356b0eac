/* SPDX-License-Identifier: MIT */
/*
 * verdict: the vocabulary every result is told in (the README's error
 * categories and reasons).
 *
 *   - state: the Nagios state, OK < UNKNOWN < WARNING < CRITICAL in
 *     severity;
 *   - category: one of exactly seven kinds of failure (connection, timeout,
 *     auth, response, relay, blacklist, tls) that route an alert to a team;
 *   - reason: a stable snake_case word that says what to do. Each reason
 *     belongs to exactly one category (or to none: usage and internal
 *     errors), so a result names its reason and the category follows; a
 *     new kind of failure is a new row in MH_REASON_TABLE, never a new
 *     category. Reason names are part of the output contract (JSON
 *     "reason", the Prometheus label reason): rename none, only add.
 *     RFC 8460 section 4.3's result-type names are used where one exists.
 *
 * Pure data and lookups: no allocation, thread-safe.
 */
#ifndef MH_VERDICT_H
#define MH_VERDICT_H

/* Nagios plugin states; the numeric value is the plugin's exit code. */
enum mh_state {
    MH_STATE_OK = 0,
    MH_STATE_WARNING = 1,
    MH_STATE_CRITICAL = 2,
    MH_STATE_UNKNOWN = 3
};

/*
 * Error categories. MH_CAT_NONE is used for OK results, usage errors and
 * internal failures.
 */
enum mh_category {
    MH_CAT_NONE = 0,
    MH_CAT_CONNECTION,
    MH_CAT_TIMEOUT,
    MH_CAT_AUTH,
    MH_CAT_RESPONSE,
    MH_CAT_RELAY,
    MH_CAT_BLACKLIST,
    MH_CAT_TLS,
    MH_CAT_LAST
};

/* Number of real categories (MH_CAT_NONE excluded). */
#define MH_CATEGORY_COUNT ((int)MH_CAT_LAST - 1)

/*
 * The reason vocabulary: X(ID, "name", category, "meaning"). Grouped by
 * category; the README's reason table lists every row (a unit test checks
 * that). Add rows at the end of their group.
 */
#define MH_REASON_TABLE(X)                                                     \
    X(NONE, "", NONE, "no failure")                                            \
    /* no category: the check could not be evaluated */                        \
    X(USAGE_ERROR, "usage_error", NONE,                                        \
      "the command line or the configuration is invalid")                      \
    X(INTERNAL_ERROR, "internal_error", NONE,                                  \
      "the check itself failed: out of memory, a library missing")             \
    /* connection */                                                           \
    X(NAME_NOT_FOUND, "name_not_found", CONNECTION,                            \
      "the target's DNS name does not exist or has no address")                \
    X(DNS_LOOKUP_FAILED, "dns_lookup_failed", CONNECTION,                      \
      "a DNS lookup needed to reach the target failed (SERVFAIL, REFUSED)")    \
    X(CONNECTION_REFUSED, "connection_refused", CONNECTION,                    \
      "the TCP connection was refused")                                        \
    X(NETWORK_UNREACHABLE, "network_unreachable", CONNECTION,                  \
      "no route to the host or network, or another socket error")              \
    X(CONNECTION_CLOSED, "connection_closed", CONNECTION,                      \
      "the server closed or reset the connection during the dialogue")         \
    X(NULL_MX, "null_mx", CONNECTION,                                          \
      "the domain publishes a null MX (RFC 7505): it accepts no mail")         \
    /* timeout */                                                              \
    X(CONNECT_TIMEOUT, "connect_timeout", TIMEOUT,                             \
      "the TCP connection was not established before the deadline")            \
    X(REPLY_TIMEOUT, "reply_timeout", TIMEOUT,                                 \
      "the greeting or a reply did not arrive before the deadline")            \
    X(TLS_TIMEOUT, "tls_timeout", TIMEOUT,                                     \
      "the TLS handshake did not finish before the deadline")                  \
    X(DNS_TIMEOUT, "dns_timeout", TIMEOUT,                                     \
      "a DNS lookup was not answered before the deadline")                     \
    X(DELIVERY_TIMEOUT, "delivery_timeout", TIMEOUT,                           \
      "the probe mail did not arrive in the mailbox before the deadline")      \
    X(DELIVERY_SLOW, "delivery_slow", TIMEOUT,                                 \
      "the probe mail arrived, slower than the -w/-c range allows")            \
    /* auth */                                                                 \
    X(AUTH_FAILED, "auth_failed", AUTH,                                        \
      "the credentials were rejected (535 5.7.8)")                             \
    X(AUTH_TEMPORARY, "auth_temporary", AUTH,                                  \
      "authentication failed temporarily (454 4.7.0)")                         \
    X(AUTH_REQUIRED, "auth_required", AUTH,                                    \
      "the server requires authentication first (530 5.7.0)")                  \
    X(AUTH_NOT_OFFERED, "auth_not_offered", AUTH,                              \
      "the server does not offer AUTH, or not the mechanism asked for")        \
    X(AUTH_MECHANISM, "auth_mechanism", AUTH,                                  \
      "the mechanism is too weak or needs encryption (5.7.9, 5.7.11)")         \
    X(AUTH_PROTOCOL, "auth_protocol", AUTH,                                    \
      "the server broke the SASL exchange (bad challenge)")                    \
    X(AUTH_PLAINTEXT, "auth_plaintext", AUTH,                                  \
      "credentials withheld: the session is not encrypted")                    \
    /* response */                                                             \
    X(GREYLISTED, "greylisted", RESPONSE,                                      \
      "greylisting: the server defers a new sender/recipient/client triple")   \
    X(RATE_LIMITED, "rate_limited", RESPONSE,                                  \
      "the server limits the rate of messages, recipients or commands")        \
    X(TOO_MANY_CONNECTIONS, "too_many_connections", RESPONSE,                  \
      "the server refuses more connections from this client")                  \
    X(SERVICE_UNAVAILABLE, "service_unavailable", RESPONSE,                    \
      "the server says it offers no service now (421, 554 greeting)")          \
    X(SERVER_SHUTTING_DOWN, "server_shutting_down", RESPONSE,                  \
      "the server is shutting down (421 4.3.2)")                               \
    X(SERVER_ERROR, "server_error", RESPONSE,                                  \
      "the mail system reports a local error (4.3.x, 451)")                    \
    X(UNEXPECTED_GREETING, "unexpected_greeting", RESPONSE,                    \
      "the greeting's code is not the one expected")                           \
    X(PROTOCOL_VIOLATION, "protocol_violation", RESPONSE,                      \
      "the server's bytes are not valid SMTP (empty or over-long lines...)")   \
    X(COMMAND_REJECTED, "command_rejected", RESPONSE,                          \
      "a command was not recognised or not accepted (500-504)")                \
    X(USER_UNKNOWN, "user_unknown", RESPONSE,                                  \
      "the recipient does not exist (5.1.1)")                                  \
    X(ADDRESS_REJECTED, "address_rejected", RESPONSE,                          \
      "an address was refused for its syntax or its domain (X.1.x)")           \
    X(SENDER_REJECTED, "sender_rejected", RESPONSE,                            \
      "the sender address was refused (X.1.7, X.1.8, X.7.27)")                 \
    X(MAILBOX_FULL, "mailbox_full", RESPONSE,                                  \
      "the recipient's mailbox is full (X.2.2)")                               \
    X(MAILBOX_UNAVAILABLE, "mailbox_unavailable", RESPONSE,                    \
      "the recipient's mailbox is disabled or unavailable (X.2.x)")            \
    X(MESSAGE_TOO_LARGE, "message_too_large", RESPONSE,                        \
      "the message exceeds the server's size limit (X.3.4, 552)")              \
    X(SPF_FAIL, "spf_fail", RESPONSE,                                          \
      "the sender's SPF check failed (X.7.23, X.7.24)")                        \
    X(DKIM_FAIL, "dkim_fail", RESPONSE,                                        \
      "no valid DKIM signature (X.7.20-X.7.22)")                               \
    X(DMARC_FAIL, "dmarc_fail", RESPONSE,                                      \
      "DMARC or several authentication checks failed (X.7.26)")                \
    X(PTR_MISSING, "ptr_missing", RESPONSE,                                    \
      "the client's reverse DNS is missing or does not match (X.7.25)")        \
    X(POLICY_REJECTED, "policy_rejected", RESPONSE,                            \
      "the server's local policy refused the transaction (X.7.1, content)")    \
    X(TRANSIENT_FAILURE, "transient_failure", RESPONSE,                        \
      "a 4xx reply no rule explains: try again later")                         \
    X(PERMANENT_FAILURE, "permanent_failure", RESPONSE,                        \
      "a 5xx reply no rule explains")                                          \
    X(SLOW_RESPONSE, "slow_response", RESPONSE,                                \
      "the check took longer than the -w/-c range allows")                     \
    /* relay */                                                                \
    X(RELAY_DENIED, "relay_denied", RELAY,                                     \
      "a recipient that must be accepted was refused as relaying")             \
    X(OPEN_RELAY, "open_relay", RELAY,                                         \
      "the relay test's foreign recipient was accepted: open relay")           \
    /* blacklist */                                                            \
    X(DNSBL_LISTED, "dnsbl_listed", BLACKLIST,                                 \
      "the target is listed on a DNS block list")                              \
    X(DNSBL_POLICY_LISTED, "dnsbl_policy_listed", BLACKLIST,                   \
      "the target is listed on a policy list (Spamhaus PBL, URIBL grey)")      \
    X(PROVIDER_BLOCK, "provider_block", BLACKLIST,                             \
      "the server blocks the sending address or domain (a named block list, "  \
      "a provider's ban)")                                                     \
    X(DNSBL_LOOKUP_FAILED, "dnsbl_lookup_failed", BLACKLIST,                   \
      "a DNSBL zone gave no usable answer for the target")                     \
    X(ZONE_UNHEALTHY, "zone_unhealthy", BLACKLIST,                             \
      "a DNSBL zone fails its RFC 5782 test points or does not answer")        \
    X(ZONE_REFUSED, "zone_refused", BLACKLIST,                                 \
      "a DNSBL zone refused the query (open resolver, over quota, blocked)")   \
    X(ZONE_BUDGET, "zone_budget", BLACKLIST,                                   \
      "the query budget of a DNSBL zone is spent for this round: not asked")   \
    /* tls */                                                                  \
    X(TLS_REQUIRED, "tls_required", TLS,                                       \
      "STARTTLS is required but the server does not offer it")                 \
    X(STARTTLS_REFUSED, "starttls_refused", TLS,                               \
      "the server refused the STARTTLS command")                               \
    X(TLS_HANDSHAKE_FAILED, "tls_handshake_failed", TLS,                       \
      "the TLS handshake failed")                                              \
    X(TLS_VERSION, "tls_version", TLS,                                         \
      "no TLS version the probe accepts is offered")                           \
    X(TLS_ERROR, "tls_error", TLS,                                             \
      "a TLS record or alert broke the session after the handshake")           \
    X(TLS_INJECTION, "tls_injection", TLS,                                     \
      "the server sent data before the TLS handshake (RFC 3207 section 5)")    \
    X(CERT_MISSING, "cert_missing", TLS, "the server sent no certificate")     \
    X(CERT_EXPIRED, "cert_expired", TLS,                                       \
      "a certificate of the chain has expired")                                \
    X(CERT_EXPIRING, "cert_expiring", TLS,                                     \
      "a certificate expires within --cert-days")                              \
    X(CERT_NOT_YET_VALID, "cert_not_yet_valid", TLS,                           \
      "a certificate is not valid yet")                                        \
    X(CERT_UNTRUSTED, "cert_untrusted", TLS,                                   \
      "the chain does not lead to a trusted root (self-signed, unknown CA)")   \
    X(CERT_CHAIN_INCOMPLETE, "cert_chain_incomplete", TLS,                     \
      "the server does not send an intermediate certificate")                  \
    X(CERT_NAME_MISMATCH, "cert_name_mismatch", TLS,                           \
      "the certificate is not valid for the server's name")                    \
    X(CERT_INVALID, "cert_invalid", TLS,                                       \
      "the certificate fails verification for another reason")                 \
    X(TRUST_STORE_ERROR, "trust_store_error", TLS,                             \
      "the trust anchors (--ca-file, --ca-path) could not be loaded")          \
    X(AUTH_CERT_UNVERIFIED, "auth_cert_unverified", TLS,                       \
      "credentials withheld: the server's certificate did not verify")         \
    X(TLSA_MISMATCH, "tlsa_mismatch", TLS,                                     \
      "no TLSA record matches the server's certificate chain")                 \
    X(DNSSEC_INVALID, "dnssec_invalid", TLS,                                   \
      "a TLSA or MX lookup failed DNSSEC validation or returned SERVFAIL")     \
    X(DANE_REQUIRED, "dane_required", TLS,                                     \
      "TLSA records are published but STARTTLS is not offered")                \
    X(DANE_NOT_IN_EFFECT, "dane_not_in_effect", TLS,                           \
      "TLSA records are published without DNSSEC: senders ignore them")        \
    X(DANE_ROLLOVER_RISK, "dane_rollover_risk", TLS,                           \
      "only the expiring leaf's key is published: its renewal breaks DANE")    \
    X(DANE_NEXT_KEY_UNPUBLISHED, "dane_next_key_unpublished", TLS,             \
      "no TLSA record matches the next key (--tlsa-next-key)")                 \
    X(DNSSEC_NOT_VALIDATING, "dnssec_not_validating", TLS,                     \
      "the resolver does not validate DNSSEC, so DANE cannot be judged")       \
    X(RRSIG_EXPIRING, "rrsig_expiring", TLS,                                   \
      "DNSSEC signatures over the TLSA or MX records expire soon")             \
    X(TLSA_MISSING, "tlsa_missing", TLS,                                       \
      "DANE was asked for (--dane) but the host publishes no TLSA records")    \
    X(TLSA_UNUSABLE, "tlsa_unusable", TLS,                                     \
      "no TLSA record is usable for SMTP (usages 0/1, RFC 7672 3.1.3)")        \
    X(STS_POLICY_FETCH_ERROR, "sts_policy_fetch_error", TLS,                   \
      "the MTA-STS policy could not be fetched (RFC 8460 4.3.2)")              \
    X(STS_POLICY_INVALID, "sts_policy_invalid", TLS,                           \
      "the MTA-STS policy or its TXT record is invalid (RFC 8460 4.3.2)")      \
    X(STS_WEBPKI_INVALID, "sts_webpki_invalid", TLS,                           \
      "the policy host's certificate is invalid (RFC 8460 4.3.2)")             \
    X(STS_MX_NOT_COVERED, "sts_mx_not_covered", TLS,                           \
      "an MX host is not matched by the policy's mx patterns")                 \
    X(STS_ID_UNCHANGED, "sts_id_unchanged", TLS,                               \
      "the policy changed but its id did not")                                 \
    X(TLSRPT_INVALID, "tlsrpt_invalid", TLS,                                   \
      "the TLS-RPT record is invalid (RFC 8460 section 3)")                    \
    X(STS_RECORD_MISSING, "sts_record_missing", TLS,                           \
      "the domain publishes no MTA-STS policy (no _mta-sts TXT record)")       \
    X(STS_RECORD_INVALID, "sts_record_invalid", TLS,                           \
      "the _mta-sts TXT record is invalid or not the only one (RFC 8461 3.1)")

enum mh_reason {
#define MH_REASON_ENUM(id, name, cat, doc) MH_REASON_##id,
    MH_REASON_TABLE(MH_REASON_ENUM)
#undef MH_REASON_ENUM
        MH_REASON_LAST
};

/* Upper-case state name ("OK", "WARNING", "CRITICAL", "UNKNOWN"). */
const char *mh_state_name(enum mh_state state);

/*
 * Severity order used to combine states: OK < UNKNOWN < WARNING < CRITICAL,
 * as the Monitoring Plugins output library does (max_state_alt): a real
 * problem found on one item outranks an item that could not be evaluated.
 * Returns the more severe of a and b.
 */
enum mh_state mh_state_worst(enum mh_state a, enum mh_state b);

/* Rank of a state in that order (0 for OK .. 3 for CRITICAL). */
int mh_state_rank(enum mh_state state);

/* Category name as spelled in output and metrics, "" for MH_CAT_NONE. */
const char *mh_category_name(enum mh_category cat);

/*
 * Parses a category name (exact spelling). Returns the category, or
 * MH_CAT_NONE when the name is not one of the seven.
 */
enum mh_category mh_category_from_name(const char *name);

/* Snake_case name of a reason ("greylisted"), "" for MH_REASON_NONE and
 * for values outside the table. */
const char *mh_reason_name(enum mh_reason reason);

/* The category a reason belongs to (MH_CAT_NONE for NONE, usage_error,
 * internal_error and values outside the table). */
enum mh_category mh_reason_category(enum mh_reason reason);

/* One-line meaning of a reason (documentation, --help), "" outside the
 * table. */
const char *mh_reason_doc(enum mh_reason reason);

/* Reason by name (exact spelling); MH_REASON_NONE when unknown. */
enum mh_reason mh_reason_from_name(const char *name);

#endif
