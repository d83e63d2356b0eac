/* SPDX-License-Identifier: MIT */
/*
 * fuzz: the entry points of the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Every target defines LLVMFuzzerTestOneInput: with clang and MH_FUZZ=ON it
 * is linked against libFuzzer (-fsanitize=fuzzer); on every build it is also
 * linked with replay.c, whose main() feeds it each file of the committed
 * corpus, so CI runs the corpus without libFuzzer. One-time setup is done
 * lazily inside the target (no LLVMFuzzerInitialize).
 *
 * Targets check invariants with FUZZ_CHECK, which aborts (a crash libFuzzer
 * and the replay runner both report) with the failed condition.
 */
#ifndef MH_FUZZ_H
#define MH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
