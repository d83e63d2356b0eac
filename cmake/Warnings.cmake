# SPDX-License-Identifier: MIT
# Strict warnings, each probed before use (curl PickyWarnings / c-ares
# EnableWarnings style). MH_WERROR turns them into errors (on in CI and in the
# test command, off by default for packagers).
include(CheckCCompilerFlag)

set(MH_WARNING_FLAGS
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wstrict-prototypes -Wmissing-prototypes -Wmissing-declarations
    -Wold-style-definition -Wformat=2 -Wformat-security -Wcast-qual
    -Wwrite-strings -Wundef -Wvla -Wpointer-arith -Wimplicit-fallthrough
    -Werror=implicit-function-declaration -Wlogical-op -Wduplicated-cond
    -Wnull-dereference -Wdouble-promotion)

set(MH_C_WARNINGS "")
foreach(flag ${MH_WARNING_FLAGS})
    string(MAKE_C_IDENTIFIER "HAVE_CFLAG${flag}" var)
    check_c_compiler_flag(${flag} ${var})
    if(${var})
        list(APPEND MH_C_WARNINGS ${flag})
    endif()
endforeach()

function(mh_strict target)
    target_compile_options(${target} PRIVATE ${MH_C_WARNINGS})
    if(MH_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()
