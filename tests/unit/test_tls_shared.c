/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the shared TLS client contexts (probes/tls_shared.c): off
 * until enabled, one context per set of trust parameters, references that
 * outlive a reload, new contexts after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "tls_shared.h"

static void
test_shared_contexts(void **state)
{
    (void)state;
    struct mh_tls_params sys = {.min_version = 0};
    assert_false(mh_tls_shared_enabled());
    assert_null(mh_tls_shared_ctx(&sys)); /* off: each check its own */

    mh_tls_shared_enable();
    assert_true(mh_tls_shared_enabled());
    SSL_CTX *a = mh_tls_shared_ctx(&sys);
    assert_non_null(a);
    SSL_CTX *b = mh_tls_shared_ctx(&sys);
    assert_ptr_equal(a, b);
    /* It carries the trust store the chain is verified with. */
    assert_non_null(SSL_CTX_get_cert_store(a));

    struct mh_tls_params tls13 = {.min_version = TLS1_3_VERSION};
    SSL_CTX *c = mh_tls_shared_ctx(&tls13);
    assert_non_null(c);
    assert_ptr_not_equal(a, c);
    assert_int_equal(SSL_CTX_get_min_proto_version(c), TLS1_3_VERSION);

    /* A trust store that does not load is not cached. */
    struct mh_tls_params missing = {.ca_file = "/nonexistent/ca.pem"};
    assert_null(mh_tls_shared_ctx(&missing));

    /* After a reload the references held stay valid; new checks get a new
     * context. */
    mh_tls_shared_reload();
    SSL *ssl = SSL_new(a);
    assert_non_null(ssl);
    SSL_free(ssl);
    SSL_CTX *d = mh_tls_shared_ctx(&sys);
    assert_non_null(d);
    SSL_CTX_free(a);
    SSL_CTX_free(b);
    SSL_CTX_free(c);
    SSL_CTX_free(d);
    mh_tls_shared_reload();
}

/* More parameter sets than slots: the rest get NULL (their own context),
 * the ones cached stay served. */
static void
test_slots_full(void **state)
{
    (void)state;
    mh_tls_shared_enable();
    static const char *const dirs[] = {"/", "/etc", "/usr", "/tmp", "/var"};
    SSL_CTX *held[10];
    size_t n = 0;
    for (size_t i = 0; i < 5; i++) {
        for (int v = 0; v < 2; v++) {
            struct mh_tls_params p = {.ca_path = dirs[i],
                                      .min_version = v == 0 ? TLS1_2_VERSION
                                                            : TLS1_3_VERSION};
            held[n] = mh_tls_shared_ctx(&p);
            if (n < MH_TLS_SHARED_MAX) {
                assert_non_null(held[n]);
            } else {
                assert_null(held[n]);
            }
            n++;
        }
    }
    struct mh_tls_params first = {.ca_path = "/",
                                  .min_version = TLS1_2_VERSION};
    SSL_CTX *again = mh_tls_shared_ctx(&first);
    assert_ptr_equal(again, held[0]);
    SSL_CTX_free(again);
    for (size_t i = 0; i < n; i++) {
        SSL_CTX_free(held[i]);
    }
    mh_tls_shared_reload();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_contexts),
        cmocka_unit_test(test_slots_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
