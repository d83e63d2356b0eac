/* SPDX-License-Identifier: MIT */
/*
 * metric_names: every Prometheus family mailhealth writes, defined once.
 *
 * One row per family: identifier, name, type and HELP text. The probes
 * name a family with MH_METRIC(ID) when they add a sample
 * (mh_result_add_sample), render_prom.c writes HELP and TYPE from the same
 * row and emits the families in row order, and the exporter writes its own
 * counters from it too. The README's "Prometheus metrics" table lists the
 * same families in the same order (unit.test_metric_names compares them
 * and fails on a "mailhealth_..." string literal anywhere else in
 * probes/ or plugin/).
 *
 * Adding a family: a row here (in the place it should appear in the
 * output), the samples where the probe builds its result, a row in the
 * README table. Names follow the Prometheus conventions: "mailhealth_"
 * prefix, base units (_seconds, _bytes), _total only for counters, _info
 * for value-1 series that carry labels.
 */
#ifndef MH_METRIC_NAMES_H
#define MH_METRIC_NAMES_H

/* The two metric types mailhealth uses (exposition format "# TYPE"). */
enum mh_metric_type { MH_METRIC_GAUGE = 0, MH_METRIC_COUNTER };

/* X(ID, name, type, help): the table; rows in output order. The five
 * mailhealth_probe_* rows (every result has them) come first, the writer's
 * three and the exporter's three last: render_prom.c relies on that. */
#define MH_METRIC_FAMILIES(X)                                                  \
    /* Every result: the check itself. */                                      \
    X(PROBE_SUCCESS, "mailhealth_probe_success", GAUGE,                        \
      "1 if the check's state is OK, else 0.")                                 \
    X(PROBE_STATUS, "mailhealth_probe_status", GAUGE,                          \
      "Nagios state of the check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.")    \
    X(PROBE_ERROR, "mailhealth_probe_error", GAUGE,                            \
      "1 for the error category of the check's failure, 0 for the others.")    \
    X(PROBE_FAILURE_INFO, "mailhealth_probe_failure_info", GAUGE,              \
      "1 for a check that is not OK, labelled with its error category and "    \
      "reason (absent when OK).")                                              \
    X(PROBE_DURATION_SECONDS, "mailhealth_probe_duration_seconds", GAUGE,      \
      "Wall time of the check.")                                               \
    /* probes/smtp.c */                                                        \
    X(SMTP_PHASE_DURATION_SECONDS, "mailhealth_smtp_phase_duration_seconds",   \
      GAUGE, "Duration of each phase of the SMTP dialogue.")                   \
    X(SMTP_REPLY_CODE, "mailhealth_smtp_reply_code", GAUGE,                    \
      "Reply code of the server's last reply in each SMTP phase.")             \
    /* probes/tlscheck.c */                                                    \
    X(TLS_CERT_EXPIRY_TIMESTAMP_SECONDS,                                       \
      "mailhealth_tls_cert_expiry_timestamp_seconds", GAUGE,                   \
      "notAfter of each element of the verified chain (or of the chain as "    \
      "built when verification failed), Unix time.")                           \
    X(TLS_EARLIEST_CERT_EXPIRY_TIMESTAMP_SECONDS,                              \
      "mailhealth_tls_earliest_cert_expiry_timestamp_seconds", GAUGE,          \
      "Earliest notAfter on the verified chain, Unix time.")                   \
    X(TLS_VERIFIED, "mailhealth_tls_verified", GAUGE,                          \
      "1 if the chain and the host name verified, else 0.")                    \
    X(TLS_VERSION_INFO, "mailhealth_tls_version_info", GAUGE,                  \
      "TLS version and cipher of the session.")                                \
    /* probes/dane.c */                                                        \
    X(DANE_VERIFIED, "mailhealth_dane_verified", GAUGE,                        \
      "1 if a usable DNSSEC-signed TLSA record matched the server's chain "    \
      "(RFC 7672), else 0.")                                                   \
    X(DANE_TLSA_RECORDS, "mailhealth_dane_tlsa_records", GAUGE,                \
      "Number of TLSA records published for the server's port and name.")      \
    X(DANE_RRSIG_EXPIRY_TIMESTAMP_SECONDS,                                     \
      "mailhealth_dane_rrsig_expiry_timestamp_seconds", GAUGE,                 \
      "Expiration of the earliest RRSIG over the record set, Unix time.")      \
    /* probes/dnsbl.c */                                                       \
    X(DNSBL_LISTED, "mailhealth_dnsbl_listed", GAUGE,                          \
      "1 if the address is listed on the zone.")                               \
    X(DNSBL_ERROR, "mailhealth_dnsbl_error", GAUGE,                            \
      "1 if the zone could not give a usable answer for the address.")         \
    X(DNSBL_LISTED_ZONES, "mailhealth_dnsbl_listed_zones", GAUGE,              \
      "Number of zones listing the target.")                                   \
    X(DNSBL_LISTED_ADDRESSES, "mailhealth_dnsbl_listed_addresses", GAUGE,      \
      "Number of the check's addresses and names listed on a block zone.")     \
    X(DNSBL_ZONE_ERRORS, "mailhealth_dnsbl_zone_errors", GAUGE,                \
      "Addresses the zone gave no usable answer for (checks of many "          \
      "addresses, which have no per-address error series).")                   \
    X(DNSBL_ZONE_UP, "mailhealth_dnsbl_zone_up", GAUGE,                        \
      "1 if the DNSBL zone passed its RFC 5782 test entries, 0 if it failed "  \
      "them or refused queries (zone health, apart from the verdict).")        \
    /* probes/mtasts.c */                                                      \
    X(MTASTS_POLICY_INFO, "mailhealth_mtasts_policy_info", GAUGE,              \
      "1 for the domain's valid MTA-STS policy, labelled with its id and "     \
      "mode.")                                                                 \
    X(MTASTS_MAX_AGE_SECONDS, "mailhealth_mtasts_max_age_seconds", GAUGE,      \
      "max_age of the domain's MTA-STS policy.")                               \
    X(MTASTS_MX_COVERED, "mailhealth_mtasts_mx_covered", GAUGE,                \
      "1 if the MX host matches an mx pattern of the MTA-STS policy.")         \
    X(MTASTS_MX_VERIFIED, "mailhealth_mtasts_mx_verified", GAUGE,              \
      "1 if every address of the MX host presented a certificate that "        \
      "verified for its name over STARTTLS.")                                  \
    X(MTASTS_POLICY_CERT_EXPIRY_TIMESTAMP_SECONDS,                             \
      "mailhealth_mtasts_policy_cert_expiry_timestamp_seconds", GAUGE,         \
      "Earliest notAfter on the chain of the MTA-STS policy host, Unix "       \
      "time.")                                                                 \
    X(MTASTS_TLSRPT_VALID, "mailhealth_mtasts_tlsrpt_valid", GAUGE,            \
      "1 if the domain's TLS-RPT record is valid (absent without one).")       \
    /* probes/delivery.c */                                                    \
    X(DELIVERY_DURATION_SECONDS, "mailhealth_delivery_duration_seconds",       \
      GAUGE, "Delay from the end of the submission until the mail was found.") \
    /* The writer of the file (render_prom.c). */                              \
    X(LAST_RUN_TIMESTAMP_SECONDS, "mailhealth_last_run_timestamp_seconds",     \
      GAUGE, "When the results in this file were produced, Unix time.")        \
    X(RUNNER_ROUND_DURATION_SECONDS,                                           \
      "mailhealth_runner_round_duration_seconds", GAUGE,                       \
      "Wall time of the runner's last round of checks.")                       \
    X(BUILD_INFO, "mailhealth_build_info", GAUGE,                              \
      "Version of mailhealth that wrote this file.")                           \
    /* The exporter's own (plugin/exporter.c, its /metrics only). */           \
    X(EXPORTER_ROUNDS_TOTAL, "mailhealth_exporter_rounds_total", COUNTER,      \
      "Rounds of checks the runner completed since it started.")               \
    X(EXPORTER_CHECKS_IN_FLIGHT, "mailhealth_exporter_checks_in_flight",       \
      GAUGE, "Checks running now (the runner's and /probe's).")                \
    X(EXPORTER_HTTP_REQUESTS_TOTAL, "mailhealth_exporter_http_requests_total", \
      COUNTER, "HTTP requests answered, by status code.")

/* MH_METRIC_PROBE_SUCCESS, ...: the index of each row. */
enum mh_metric {
#define MH_METRIC_ID_(id, name, type, help) MH_METRIC_##id,
    MH_METRIC_FAMILIES(MH_METRIC_ID_)
#undef MH_METRIC_ID_
        MH_METRIC_LAST
};

/* One row of the table. */
struct mh_metric_family {
    const char *name; /* "mailhealth_tls_verified" */
    enum mh_metric_type type;
    const char *help; /* HELP text: one line, no backslash */
};

/* The table, indexed by enum mh_metric (static storage). */
extern const struct mh_metric_family mh_metric_families[MH_METRIC_LAST];

/* The name of family ID (without the MH_METRIC_ prefix), a static string:
 * mh_result_add_sample(r, MH_METRIC(TLS_VERIFIED), 1, (const char *)NULL).
 */
#define MH_METRIC(id) (mh_metric_families[MH_METRIC_##id].name)

/* "gauge" or "counter" (the exposition format's TYPE). */
const char *mh_metric_type_name(enum mh_metric_type t);

#endif
