#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The C sources are formatted by clang-format with the committed
# .clang-format (Debian 12's clang-format 14): this fails, naming the files,
# when running clang-format would change any of them.
# Fix with: clang-format -i $(git ls-files '*.c' '*.h')
set -uo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || {
    echo "check-format: clang-format missing (packaging/install-deps.sh)" >&2
    exit 1
}
if git rev-parse --git-dir >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files '*.c' '*.h')
else
    mapfile -t files < <(find probes plugin tests -name '*.[ch]')
fi
# One clang-format process for every file (a start per file took a minute
# on a busy machine); the files are named one by one only when some fail.
if clang-format --dry-run --Werror "${files[@]}" >/dev/null 2>&1; then
    echo "${#files[@]} passed, 0 failed"
    exit 0
fi
bad=0
for f in "${files[@]}"; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f"
        bad=$((bad + 1))
    fi
done
echo "$((${#files[@]} - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
