/* SPDX-License-Identifier: MIT */
/*
 * fuzz_runner_config: the runner configuration loader (plugin/runner_config.c
 * mh_run_config_parse), JSON through cJSON into per-check option sets.
 *
 * Input: the configuration text (an exact-size buffer, not NUL-terminated).
 * It is parsed twice: without command-line fallbacks and with a base
 * configuration (-t 7, --resolver). Invariants: failure gives NULL and a
 * one-line message; success gives at least one check, every check a
 * non-empty target label unique in the config, and limits within their
 * documented ranges (interval, concurrency, timeouts).
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "runner.h"

static void
one(const char *text, size_t len, const struct mh_config *base)
{
    static struct mh_run_config dummy;
    struct mh_run_config *c = &dummy; /* must become NULL on failure */
    char err[512];
    err[0] = '\0';
    int rc =
        mh_run_config_parse(text, len, "fuzz.json", base, &c, err, sizeof err);
    if (rc != 0) {
        FUZZ_CHECK(rc == -1 && c == NULL);
        FUZZ_CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
        return;
    }
    FUZZ_CHECK(c != NULL && c->nchecks >= 1 && c->checks != NULL);
    FUZZ_CHECK(c->concurrency <= MH_RUN_MAX_CONCURRENCY); /* 0: auto */
    FUZZ_CHECK(isfinite(c->interval_s) && c->interval_s >= 1 &&
               c->interval_s <= MH_RUN_MAX_INTERVAL_S);
    FUZZ_CHECK(isfinite(c->max_timeout_s) && c->max_timeout_s > 0);
    for (size_t i = 0; i < c->nchecks; i++) {
        const struct mh_run_check *k = &c->checks[i];
        FUZZ_CHECK(k->target != NULL && k->target[0] != '\0');
        FUZZ_CHECK(k->index == i);
        FUZZ_CHECK(isfinite(k->cfg.timeout_s) && k->cfg.timeout_s > 0 &&
                   k->cfg.timeout_s <= c->max_timeout_s);
        for (size_t j = 0; j < i; j++) {
            FUZZ_CHECK(strcmp(c->checks[j].target, k->target) != 0);
        }
        char *t = mh_run_default_target(&k->cfg, i);
        free(t);
    }
    mh_run_config_free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size > 0 ? size : 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    one(text, size, NULL);
    struct mh_config base;
    memset(&base, 0, sizeof base);
    base.timeout_s = 7;
    base.resolver = "127.0.0.1:53";
    one(text, size, &base);
    free(text);
    return 0;
}
