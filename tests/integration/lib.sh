# SPDX-License-Identifier: MIT
# Shared helpers of the integration tests (bash). Source it first:
#   . "$(dirname "$0")/lib.sh"
#
# Environment (set by CTest, see tests/CMakeLists.txt; defaults for running a
# test by hand from the repository root after `cmake -B build`):
#   MH_BIN          the check_mailhealth binary
#   MH_FAULTSERVER  the scripted fault server binary
#   MH_LAB_DIR      the running lab (tests/lab/lab.sh start DIR); lab.env is
#                   sourced when it exists
#   MH_SOURCE_DIR   the repository
#
# A test calls `run ARGS...` (runs the binary, sets OUT, RC, ELAPSED), then
# assertions (`expect_rc`, `expect_line1`, `expect_out`, `expect_no_out`,
# `expect_elapsed_below`), and ends with `finish`, which prints
# "N passed, N failed" and sets the exit status.
set -uo pipefail

MH_SOURCE_DIR=${MH_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MH_BIN=${MH_BIN:-$MH_SOURCE_DIR/build/check_mailhealth}
MH_FAULTSERVER=${MH_FAULTSERVER:-$MH_SOURCE_DIR/build/tests/faultserver/mh_faultserver}
MH_LAB_DIR=${MH_LAB_DIR:-$MH_SOURCE_DIR/build/lab}
if [ -f "$MH_LAB_DIR/lab.env" ]; then
    # shellcheck disable=SC1091
    . "$MH_LAB_DIR/lab.env"
fi
export CERT_DIR=${LAB_CERT_DIR:-${CERT_DIR:-}}

T_PASS=0
T_FAIL=0
T_NAME=""
T_TMP=$(mktemp -d /tmp/mh-itest.XXXXXX)
T_PIDS=()

cleanup() {
    local p
    for p in "${T_PIDS[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null
    done
    for p in "${T_PIDS[@]:-}"; do
        [ -n "$p" ] && wait "$p" 2>/dev/null
    done
    rm -rf "$T_TMP"
}
trap cleanup EXIT

# case NAME: names the following assertions in the report.
case_() { T_NAME=$1; }

ok() {
    T_PASS=$((T_PASS + 1))
    echo "ok   - ${T_NAME}: $1"
}

not_ok() {
    T_FAIL=$((T_FAIL + 1))
    echo "FAIL - ${T_NAME}: $1"
    echo "       command: ${LAST_CMD:-}"
    echo "       rc=${RC:-} elapsed=${ELAPSED:-}s output:"
    printf '%s\n' "${OUT:-}" | sed 's/^/       | /'
}

# timed COMMAND [ARG...]: runs COMMAND through mh_sched_time
# (tests/support/sched_time.c, built beside the fault server; its stdin,
# stdout and stderr are the caller's) and sets RC, ELAPSED (wall seconds, 3
# decimals), RUNQ (seconds its threads waited for a CPU) and BUSYFREE
# (ELAPSED - RUNQ: the time it would have taken on an idle machine). Deadline
# bounds compare BUSYFREE, so a loaded machine does not fail them while a
# real overrun (time spent sleeping or waiting for a server) still does;
# lower bounds ("waited for the deadline") compare ELAPSED.
T_SCHED=${MH_SCHED_TIME:-$(dirname "$MH_FAULTSERVER")/../mh_sched_time}
timed() {
    "$T_SCHED" "$T_TMP/sched.$BASHPID" "$@"
    RC=$?
    timed_read "$T_TMP/sched.$BASHPID"
    return "$RC"
}
# Under the sanitizers (ASAN_OPTIONS set, tests/run.sh's second pass) the
# probe's own CPU time is not counted either: AddressSanitizer's start and
# LeakSanitizer's scan at exit add up to a second of it; an overrun spent
# waiting (the deadline's concern) still counts.
timed_read() { # FILE: the line mh_sched_time wrote
    local cpu=0 rss
    read -r ELAPSED RUNQ cpu rss <"$1" 2>/dev/null || { ELAPSED=999 RUNQ=0 cpu=0; }
    rm -f "$1"
    [ -n "${ASAN_OPTIONS:-}" ] || cpu=0
    RUNQ=$(awk -v q="$RUNQ" -v c="$cpu" 'BEGIN { printf "%.3f", q + c }')
    BUSYFREE=$(awk -v e="$ELAPSED" -v q="$RUNQ" 'BEGIN { printf "%.3f", e - q }')
}

# run ARGS...: runs check_mailhealth with ARGS, capturing stdout in OUT
# (stderr goes to $T_TMP/stderr), the exit code in RC and the times as
# `timed` does.
run() {
    LAST_CMD="check_mailhealth $*"
    local f=$T_TMP/sched.$BASHPID
    OUT=$("$T_SCHED" "$f" "$MH_BIN" "$@" 2>"$T_TMP/stderr")
    RC=$?
    timed_read "$f"
    LINE1=${OUT%%$'\n'*}
}

# soak_size DEFAULT SOAK: the size of a soak-style run (sessions, points):
# SOAK under `tests/run.sh --soak` (MH_SOAK=1), DEFAULT otherwise.
soak_size() { if [ "${MH_SOAK:-0}" = 1 ]; then echo "$2"; else echo "$1"; fi; }

# note TEXT: a line in the report that is neither a pass nor a failure.
note() { echo "note - $*"; }

# fail MESSAGE: a failed assertion that is not about a command's output.
fail() {
    LAST_CMD="-" RC="-" OUT=""
    not_ok "$1"
}

# check_cmd WHAT COMMAND...: runs COMMAND (output in OUT, exit code in RC);
# ok or not_ok by its exit code.
check_cmd() {
    local what=$1
    shift
    LAST_CMD="$*"
    if OUT=$("$@" 2>&1); then
        RC=0
        ok "$what"
    else
        RC=$?
        not_ok "$what"
    fi
}

expect_rc() {
    if [ "$RC" = "$1" ]; then ok "exit code $1"; else not_ok "exit code $RC, wanted $1"; fi
}

# expect_line1 REGEX: the status line matches the extended regex.
expect_line1() {
    # Here-strings, not pipes: with pipefail a grep -q that exits early
    # could make printf die of SIGPIPE and flip the result.
    if grep -Eq -- "$1" <<<"$LINE1"; then
        ok "status line ~ /$1/"
    else
        not_ok "status line does not match /$1/"
    fi
}

# expect_no_line1 REGEX: the status line does not match the extended regex.
expect_no_line1() {
    if grep -Eq -- "$1" <<<"$LINE1"; then
        not_ok "status line matches /$1/ but must not"
    else
        ok "status line !~ /$1/"
    fi
}

# expect_out FIXED-STRING: some output line contains the string.
expect_out() {
    if grep -Fq -- "$1" <<<"$OUT"; then
        ok "output has '$1'"
    else
        not_ok "output lacks '$1'"
    fi
}

# expect_out_re REGEX: some output line matches the extended regex.
expect_out_re() {
    if grep -Eq -- "$1" <<<"$OUT"; then
        ok "output ~ /$1/"
    else
        not_ok "no output line matches /$1/"
    fi
}

expect_no_out() {
    if grep -Fq -- "$1" <<<"$OUT"; then
        not_ok "output has '$1' but must not"
    else
        ok "output lacks '$1'"
    fi
}

# expect_elapsed_below SECONDS: the check returned within the bound (used for
# "reported at once, not at the timeout" and deadline cases), counting the
# time it did not spend waiting for a CPU (BUSYFREE, see `timed`).
expect_elapsed_below() {
    local how="${BUSYFREE}s"
    [ "$BUSYFREE" = "$ELAPSED" ] || how="$how (${ELAPSED}s, ${RUNQ}s of it waiting for a CPU or sanitizer work)"
    if awk -v e="$BUSYFREE" -v m="$1" 'BEGIN { exit !(e < m) }'; then
        ok "returned in $how (< $1 s)"
    else
        not_ok "took $how, wanted < $1 s"
    fi
}

# A fault-server transcript is complete once its session wrote "EVENT end":
# wait for it (bounded) before asserting on it.
transcript_settle() {
    local i
    [ "${1:-}" = "${FS_TRANSCRIPT:-}" ] || return 0
    for i in $(seq 1 60); do
        grep -q ' EVENT end' "$1" 2>/dev/null && return 0
        sleep 0.05
    done
}

# expect_file_has FILE FIXED-STRING / expect_file_lacks FILE FIXED-STRING
expect_file_has() {
    transcript_settle "$1"
    if grep -Fq -- "$2" "$1" 2>/dev/null; then ok "$(basename "$1") has '$2'"; else
        not_ok "$(basename "$1") lacks '$2'"
        sed 's/^/       > /' "$1" 2>/dev/null | tail -n 30
    fi
}
expect_file_lacks() {
    transcript_settle "$1"
    if grep -Fq -- "$2" "$1" 2>/dev/null; then
        not_ok "$(basename "$1") has '$2' but must not"
        sed 's/^/       > /' "$1" 2>/dev/null | tail -n 30
    else ok "$(basename "$1") lacks '$2'"; fi
}

# json_ok PERL-EXPR: the JSON output parses and the expression on $j holds.
json_ok() {
    if printf '%s' "$OUT" | perl -MJSON::PP -e '
        my $j = decode_json(join "", <STDIN>);
        exit(('"$1"') ? 0 : 1);' 2>"$T_TMP/json.err"; then
        ok "json: $1"
    else
        not_ok "json: $1 $(cat "$T_TMP/json.err")"
    fi
}

# promtool_ok: the Prometheus exposition in OUT passes promtool check metrics.
promtool_ok() {
    local msg
    if msg=$(printf '%s\n' "$OUT" | promtool check metrics 2>&1); then
        ok "promtool check metrics"
    else
        not_ok "promtool check metrics: $msg"
    fi
}

# fault SCENARIO [SESSIONS]: starts the fault server on a free port with
# tests/faultserver/scenarios/SCENARIO.fs (or a path), sets FS_PORT and
# FS_TRANSCRIPT. The server is stopped when the test ends.
fault() {
    local script=$1 sessions=${2:-1}
    [ -f "$script" ] || script=$MH_SOURCE_DIR/tests/faultserver/scenarios/$1.fs
    # Names unique within T_TMP (mktemp), never $RANDOM: a test starts up to
    # ~150 fault servers, and a repeated $RANDOM (birthday odds of several
    # per cent) found the earlier server's port file already there, so the
    # check was pointed at a port whose one session was over ("connection
    # refused" in 0.01 s).
    FS_TRANSCRIPT=$(mktemp "$T_TMP/transcript.XXXXXX")
    local portfile
    portfile=$(mktemp "$T_TMP/port.XXXXXX")
    "$MH_FAULTSERVER" --script "$script" --port 0 --port-file "$portfile" \
        --transcript "$FS_TRANSCRIPT" --sessions "$sessions" --max-seconds 60 \
        >"$T_TMP/faultserver.log" 2>&1 &
    T_PIDS+=($!)
    local i
    for i in $(seq 1 100); do
        [ -s "$portfile" ] && break
        sleep 0.05
    done
    FS_PORT=$(cat "$portfile" 2>/dev/null)
    if [ -z "$FS_PORT" ]; then
        echo "fault server did not start:" >&2
        cat "$T_TMP/faultserver.log" >&2
        exit 1
    fi
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s until it succeeds
# (0) or SECONDS have passed (1).
wait_until() {
    local limit=$1 i
    shift
    for ((i = 0; i < limit * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

# Cases that mostly wait (for a deadline, a server's pause) run side by side:
#   bg COMMAND...  runs COMMAND (a function holding one case) in the
#                  background; its report is held back. T_TMP is a directory
#                  of its own there (run's stderr, fault servers); the
#                  test's own is T_TMP_MAIN.
#   bg_wait        waits for every such case, prints the reports in the
#                  order the cases were started and adds up their counts.
T_TMP_MAIN=$T_TMP
T_BG_PIDS=()
T_BG_DIRS=()
bg() {
    local d
    d=$(mktemp -d "$T_TMP_MAIN/bg.XXXXXX")
    (
        T_TMP=$d T_PASS=0 T_FAIL=0 T_PIDS=()
        "$@" >"$d/report" 2>&1
        for p in "${T_PIDS[@]:-}"; do
            [ -n "$p" ] && kill "$p" 2>/dev/null
        done
        echo "$T_PASS $T_FAIL" >"$d/counts"
    ) &
    T_PIDS+=($!)
    T_BG_PIDS+=($!)
    T_BG_DIRS+=("$d")
}
bg_wait() {
    local i p f
    for i in "${!T_BG_PIDS[@]}"; do
        wait "${T_BG_PIDS[$i]}"
        cat "${T_BG_DIRS[$i]}/report"
        if read -r p f <"${T_BG_DIRS[$i]}/counts" 2>/dev/null; then
            T_PASS=$((T_PASS + p)) T_FAIL=$((T_FAIL + f))
        else
            T_FAIL=$((T_FAIL + 1))
            echo "FAIL - a case run side by side ended before its report"
        fi
    done
    T_BG_PIDS=()
    T_BG_DIRS=()
}

# needs_lab: skip the whole test (exit 0 with a note) unless lab.env exists.
needs_lab() {
    if [ ! -f "$MH_LAB_DIR/lab.env" ]; then
        echo "lab not running in $MH_LAB_DIR (tests/lab/lab.sh start $MH_LAB_DIR)" >&2
        exit 1
    fi
}

finish() {
    echo "$T_PASS passed, $T_FAIL failed"
    [ "$T_FAIL" -eq 0 ]
}
