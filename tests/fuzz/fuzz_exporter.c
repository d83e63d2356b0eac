/* SPDX-License-Identifier: MIT */
/*
 * fuzz_exporter: the exporter's parsers of request input (plugin/exporter.c):
 * the /probe target (mh_exporter_parse_target, every target kind), the
 * Accept-Encoding value (mh_exporter_accepts_gzip), the
 * X-Prometheus-Scrape-Timeout-Seconds value (mh_exporter_probe_budget),
 * and the listen address (mh_exporter_parse_listen). libmicrohttpd parses
 * the HTTP request itself; these are the hand-written parts.
 *
 * Input: the bytes as a NUL-terminated string (cut at an embedded NUL, as
 * libmicrohttpd hands over header and query values). Invariants: an
 * accepted target gives a non-empty host of at most 253 bytes made of the
 * characters of a name or an IPv6 literal, a port only where the kind takes
 * one, and the host alone parses again to itself; a rejected one gets a
 * message; the budget stays within [0.1 s, the module's timeout]; an
 * accepted listen address is IPv4 or IPv6 with a port.
 */
#include <math.h>
#include <string.h>

#include "exporter.h"
#include "fuzz.h"

static void
check_target(enum mh_target_kind kind, const char *text)
{
    char host[MH_EXPORTER_MAX_TARGET], why[160] = "";
    unsigned port = 99999;
    if (mh_exporter_parse_target(kind, text, host, sizeof host, &port, why,
                                 sizeof why) != 0) {
        FUZZ_CHECK(why[0] != '\0');
        return;
    }
    size_t n = strlen(host);
    FUZZ_CHECK(n > 0 && n <= 253);
    FUZZ_CHECK(port <= 65535);
    FUZZ_CHECK(kind == MH_TARGET_HOST_PORT || port == 0);
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                   c == ':');
    }
    char again[MH_EXPORTER_MAX_TARGET + 2], host2[MH_EXPORTER_MAX_TARGET];
    unsigned port2;
    snprintf(again, sizeof again, strchr(host, ':') != NULL ? "[%s]" : "%s",
             host);
    FUZZ_CHECK(mh_exporter_parse_target(kind, again, host2, sizeof host2,
                                        &port2, why, sizeof why) == 0);
    FUZZ_CHECK(strcmp(host, host2) == 0 && port2 == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';

    check_target(MH_TARGET_HOST_PORT, text);
    check_target(MH_TARGET_HOST, text);
    check_target(MH_TARGET_DOMAIN, text);

    bool gz = mh_exporter_accepts_gzip(text);
    FUZZ_CHECK(gz == mh_exporter_accepts_gzip(text));

    static const double timeouts[] = {0.0, 0.05, 1.0, 10.0, 86400.0};
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        double b = mh_exporter_probe_budget(timeouts[i], text,
                                            MH_EXPORTER_TIMEOUT_OFFSET_S);
        FUZZ_CHECK(isfinite(b) && b >= 0.1);
        FUZZ_CHECK(b <= (timeouts[i] > 0.1 ? timeouts[i] : 0.1));
        double b0 = mh_exporter_probe_budget(timeouts[i], text, 0);
        FUZZ_CHECK(isfinite(b0) && b0 >= b);
    }

    struct sockaddr_storage ss;
    socklen_t sl = 0;
    char why[160] = "";
    if (mh_exporter_parse_listen(text, &ss, &sl, why, sizeof why) == 0) {
        FUZZ_CHECK(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
        FUZZ_CHECK(sl > 0 && sl <= sizeof ss);
    } else {
        FUZZ_CHECK(why[0] != '\0');
    }
    free(text);
    return 0;
}
