#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Integration test of the exporter, `check_mailhealth run --listen` (a
# native Prometheus exporter beside the textfile), against the lab's
# Postfix and a real Prometheus:
#   1. /metrics: the last round's families plus the exporter's own, passes
#      promtool check metrics (plain and gzip); the landing page lists the
#      modules;
#   2. /probe: a STARTTLS check of the lab's Postfix answers
#      mailhealth_probe_success 1; a closed port 200 with 0; unknown module,
#      malformed target, a target outside allowed_targets 400; other paths
#      404, other methods 405; X-Prometheus-Scrape-Timeout-Seconds bounds a
#      probe of a silent server;
#   3. a real Prometheus scrapes /metrics and, through the multi-target
#      relabelling of contrib/prometheus, /probe: checked through its HTTP
#      API (up, mailhealth_probe_success of both jobs);
#   4. HTTPS with basic authentication (bcrypt): 401 without or with wrong
#      credentials, 200 with them, no plain HTTP, no TLS 1.1; Prometheus
#      scrapes it with tls_config and basic_auth;
#   5. hostile requests: a head over 32 KiB gets 431, a client dripping its
#      head is cut off after 10 s while others are served at once, binary
#      junk gets a 4xx, seeded mutations of hostile request parts each get
#      a clean status or a close, one address holds at most 16
#      connections, and the rounds go on;
#   6. probe-only (contrib/prometheus/probe-only.json: modules, no checks):
#      refused without an address or with --once, naming "checks"; /probe
#      works, /metrics has the exporter's own families only; a reload
#      adding a check starts rounds, one removing them forgets the round;
#   7. SIGTERM with a probe in flight: the probe is answered 503, exit 0
#      within the 2 s drain.
#
# Ports: LAB_PORT_BASE+80 .. +89 only.
# Needs: the lab (tests/lab/lab.sh start), prometheus, promtool, curl, jq,
# gzip.
. "$(dirname "$0")/lib.sh"
needs_lab

B=$MH_BIN
D=$T_TMP
P_HTTP=$((LAB_PORT_BASE + 80))
P_PROM=$((LAB_PORT_BASE + 81))
P_TLS=$((LAB_PORT_BASE + 82))
URL=http://127.0.0.1:$P_HTTP

check_ok() { # COND MESSAGE
    if eval "$1"; then ok "$2"; else not_ok "$2"; fi
}

# get PATH [CURL-ARGS...]: GET into OUT, the status code into CODE.
get() {
    local path=$1
    shift
    LAST_CMD="curl $* $URL$path"
    CODE=$(curl -s -o "$D/body" -w '%{http_code}' --max-time 20 "$@" "$URL$path")
    OUT=$(tr -d '\0' <"$D/body")
}

expect_code() {
    if [ "$CODE" = "$1" ]; then ok "HTTP $1"; else not_ok "HTTP $CODE, wanted $1"; fi
}

cat >"$D/run.json" <<EOF
{
  "interval_seconds": 2,
  "timeout_seconds": 5,
  "resolver": "$LAB_RESOLVER",
  "checks": [
    {"name": "mx", "check": "smtp", "host": "$LAB_HOST", "port": $LAB_SMTP_PORT,
     "starttls": true, "ca_file": "$LAB_CA_FILE", "verify_name": "$LAB_MX_NAME"}
  ],
  "exporter": {
    "modules": {
      "smtp_starttls": {"check": "smtp", "starttls": true, "ca_file": "$LAB_CA_FILE",
                        "verify_name": "$LAB_MX_NAME", "timeout": 8,
                        "allowed_targets": ["127.0.0.*", "::1", "*.lab.test"]},
      "tls": {"check": "tls", "starttls": true, "ca_file": "$LAB_CA_FILE",
              "verify_name": "$LAB_MX_NAME"},
      "domain": {"check": "domain", "allowed_targets": ["lab.test"]}
    }
  }
}
EOF

"$B" run --config "$D/run.json" --listen "127.0.0.1:$P_HTTP" -v \
    >"$D/runner.out" 2>"$D/runner.err" &
RUNNER=$!
T_PIDS+=("$RUNNER")

# The same runner over HTTPS with basic authentication (bcrypt hash made by
# libcrypt through Python's crypt module, as htpasswd -B would).
HASH=$(/usr/bin/python3 -W ignore -c 'import crypt; print(crypt.crypt("s3cret pass", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 8)))')
jq --arg h "$HASH" --arg cert "$LAB_CERT_DIR/valid.chain.pem" --arg key "$LAB_CERT_DIR/valid.key" \
    --arg listen "127.0.0.1:$P_TLS" \
    '.exporter += {listen: $listen, tls_cert_file: $cert, tls_key_file: $key,
                   basic_auth_users: {prometheus: $h}}' "$D/run.json" >"$D/tls.json"
"$B" run --config "$D/tls.json" >"$D/tls.out" 2>"$D/tls.err" &
T_PIDS+=("$!")

case_ "start"
check_ok 'wait_until 20 grep -q "round 1:" "$D/runner.err"' "the first round ends"
check_ok 'grep -q "exporter: listening on 127.0.0.1:$P_HTTP" "$D/runner.err"' "the exporter says where it listens"

case_ "/metrics"
get /metrics
expect_code 200
promtool_ok
expect_out 'mailhealth_probe_success{target="mx",check="smtp"} 1'
expect_out 'mailhealth_exporter_rounds_total'
expect_out 'mailhealth_exporter_http_requests_total{code="200"}'
expect_out 'mailhealth_runner_round_duration_seconds'
expect_out_re "^# HELP mailhealth_probe_success .*\(from the runner's last complete round\)$"
expect_out 'mailhealth_build_info{version="'
check_ok 'curl -s -D - -o /dev/null $URL/metrics | grep -qi "^content-type: text/plain; version=0.0.4"' "exposition content type"
get /metrics -H 'Accept-Encoding: gzip'
check_ok 'gzip -t "$D/body"' "gzip body when asked"
OUT=$(gzip -dc "$D/body")
promtool_ok
expect_out 'mailhealth_probe_success{target="mx",check="smtp"} 1'
check_ok 'curl -s -D - -o /dev/null -H "Accept-Encoding: gzip;q=0" $URL/metrics | grep -qvi "^content-encoding"' "no gzip with q=0"

case_ "HTTPS and basic authentication"
TURL=https://127.0.0.1:$P_TLS
check_ok 'wait_until 20 grep -q "round 1:" "$D/tls.err"' "the HTTPS runner's first round ends"
check_ok 'grep -q "listening on 127.0.0.1:$P_TLS (https, basic authentication)" "$D/tls.err"' "it says https and basic authentication"
tcode() { curl -s -o "$D/tbody" -w '%{http_code}' --max-time 20 --cacert "$LAB_CA_FILE" "$@"; }
check_ok '[ "$(tcode $TURL/metrics)" = 401 ]' "no credentials: 401"
check_ok 'curl -s -D - -o /dev/null --cacert "$LAB_CA_FILE" $TURL/metrics | grep -qi "^www-authenticate: basic realm=\"mailhealth\""' "WWW-Authenticate: Basic realm"
check_ok '[ "$(tcode -u prometheus:wrong $TURL/metrics)" = 401 ]' "wrong password: 401"
check_ok '[ "$(tcode -u nobody:x $TURL/metrics)" = 401 ]' "unknown user: 401"
check_ok '[ "$(tcode -u "prometheus:s3cret pass" $TURL/metrics)" = 200 ]' "right password: 200"
check_ok 'OUT=$(cat "$D/tbody") && grep -q "mailhealth_probe_success{target=\"mx\",check=\"smtp\"} 1" <<<"$OUT"' "the round's families over HTTPS"
check_ok '[ "$(tcode -u "prometheus:s3cret pass" "$TURL/probe?module=smtp_starttls&target=127.0.0.1:$LAB_SMTP_PORT")" = 200 ]' "/probe over HTTPS with credentials"
check_ok '[ "$(tcode "$TURL/probe?module=smtp_starttls&target=127.0.0.1:$LAB_SMTP_PORT")" = 401 ]' "/probe without credentials: 401"
check_ok '[ "$(tcode $TURL/)" = 401 ]' "the landing page needs credentials too"
check_ok '! curl -s --max-time 5 -o /dev/null http://127.0.0.1:$P_TLS/metrics' "plain HTTP on the HTTPS port gets no answer"
check_ok '! curl -s --max-time 5 -o /dev/null --tls-max 1.1 --cacert "$LAB_CA_FILE" -u "prometheus:s3cret pass" $TURL/metrics' "TLS 1.1 is refused"

case_ "landing page"
get /
expect_code 200
expect_out 'href="/probe?module=smtp_starttls&amp;target='
expect_out 'href="/metrics"'
get / -I
expect_code 200
get /-/healthy
expect_code 200
expect_out 'Healthy'

case_ "/probe smtp over STARTTLS"
get "/probe?module=smtp_starttls&target=127.0.0.1:$LAB_SMTP_PORT"
expect_code 200
promtool_ok
expect_out "mailhealth_probe_success{target=\"127.0.0.1:$LAB_SMTP_PORT\",check=\"smtp\"} 1"
expect_out 'mailhealth_smtp_phase_duration_seconds'
# The probe's families only: what describes the exporter is on /metrics.
expect_no_out 'mailhealth_build_info'
expect_no_out 'mailhealth_last_run_timestamp_seconds'
expect_no_out 'last complete round'
get "/probe?module=tls&target=%5B%3A%3A1%5D:$LAB_SMTP_PORT"
expect_code 200
expect_out "mailhealth_tls_verified{target=\"[::1]:$LAB_SMTP_PORT\"} 1"

case_ "/probe failures are 200 with success 0"
get "/probe?module=smtp_starttls&target=127.0.0.1:1"
expect_code 200
expect_out 'mailhealth_probe_success{target="127.0.0.1:1",check="smtp"} 0'
expect_out 'category="connection"'
# debug=true, as blackbox_exporter: why, in words, then the metrics.
get "/probe?module=smtp_starttls&target=127.0.0.1:1&debug=true"
expect_code 200
expect_out_re '^MAILHEALTH CRITICAL - \[connection\] '
expect_out 'mailhealth_probe_success{target="127.0.0.1:1",check="smtp"} 0'
check_ok 'curl -s -D - -o /dev/null "$URL/probe?module=smtp_starttls&target=127.0.0.1:1&debug=true" | grep -qi "^content-type: text/plain; charset=utf-8"' "debug=true is plain text"

case_ "/probe bad requests"
get "/probe?module=nosuch&target=127.0.0.1"
expect_code 400
get "/probe?target=127.0.0.1"
expect_code 400
get "/probe?module=smtp_starttls"
expect_code 400
get "/probe?module=smtp_starttls&target=--help"
expect_code 400
get "/probe?module=smtp_starttls&target=10.1.2.3:25"
expect_code 400
expect_out 'allowed_targets'
get "/probe?module=domain&target=lab.test:25"
expect_code 400
get "/probe?module=smtp_starttls&target=127.0.0.1%0aX:25"
expect_code 400
get "/probe?module=nosuch&target=127.0.0.1" -I
expect_code 400
get /nosuch
expect_code 404
get /metrics -X POST -d x=1
expect_code 405
get /metrics -I
expect_code 200

case_ "hostile requests"
big_header() { # BYTES: a header line of that size in $D/big
    printf 'X-Big: %s\r\n' "$(head -c "$1" /dev/zero | tr '\0' a)" >"$D/big"
}
big_header 40000
get /metrics -H @"$D/big"
expect_code 431
big_header 120000
get /metrics -H @"$D/big"
check_ok '[ "$CODE" = 431 ] || [ "$CODE" = 413 ] || [ "$CODE" = 000 ]' "a 120 KB head is refused (HTTP $CODE)"
# hostile.py MODE PORT: slow (drips a head, prints the seconds until the
# server closed), flood (opens 300 connections from 127.0.0.3, prints how
# many the server kept open), junk (binary garbage, prints the status line).
cat >"$D/hostile.py" <<'EOF'
import socket, sys, time
port = int(sys.argv[2])
mode = sys.argv[1]
if mode == "slow":
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /metrics HTTP/1.1\r\n")
    t0 = time.monotonic()
    s.settimeout(0.5)
    while time.monotonic() - t0 < 30:
        try:
            s.sendall(b"X")
            if s.recv(4096) == b"":
                break
        except socket.timeout:
            continue
        except OSError:
            break
    print("%.1f" % (time.monotonic() - t0))
elif mode == "flood":
    conns = []
    for i in range(300):
        try:
            c = socket.socket()
            c.bind(("127.0.0.3", 0))
            c.settimeout(2)
            c.connect(("127.0.0.1", port))
            conns.append(c)
        except OSError:
            pass
    time.sleep(1.0)
    alive = 0
    for c in conns:
        c.setblocking(False)
        try:
            alive += c.recv(1) != b""
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    print(alive)
    sys.stdout.flush()
    time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 0)
elif mode == "mutate":
    # Requests made of hostile parts (seeded, so a failure repeats): odd
    # methods, versions, paths, %-escapes, /probe parameters, header values
    # the exporter parses itself (Accept-Encoding, the scrape timeout,
    # Authorization), bodies, pipelining. Each head is complete, so every
    # request gets an answer or a close at once. Prints one line per
    # request whose answer is not a clean status (or close), then "done N".
    import random
    rnd = random.Random(int(sys.argv[3]))
    count = int(sys.argv[4])
    junk = lambda n: bytes(rnd.randrange(256) for _ in range(n))
    methods = [b"GET", b"HEAD", b"POST", b"PUT", b"OPTIONS", b"TRACE",
               b"CONNECT", b"get", b"G\x00T", b"", b"GET GET", junk(3)]
    versions = [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/9.9",
                b"HTTP/1.1 x", b"", b"http/1.1", junk(4)]
    values = [b"", b"%", b"%0", b"%zz", b"%00", b"%0d%0aX:%20y", b"%ff%fe",
              b"a" * 300, b"[::1", b"[::1]:", b"[::1]:99999", b"::1",
              b"127.0.0.1:1", b"127.0.0.1:0", b"127.0.0.1:-1", b"-h",
              b"--help", b"mx..lab.test", b".lab.test", b"lab.test:25",
              b"%5B%3A%3A1%5D%3A1", b"\xc3\xa9", b"smtp_starttls", b"tls",
              b"domain", b"nosuch", b"x" * 5000]
    paths = [b"/", b"/metrics", b"/probe", b"/-/healthy", b"//metrics",
             b"/metrics/", b"/../etc/passwd", b"/%2e%2e/", b"*",
             b"http://127.0.0.1/metrics", b"/" + b"a" * 6000, junk(8)]
    hvals = {
        b"Accept-Encoding": [b"gzip", b"gzip;q=", b"gzip;q=0.", b",,,",
                             b"*;q=1e9", b"gzip;;;q=0", b"\x00", b" " * 100],
        b"X-Prometheus-Scrape-Timeout-Seconds": [
            b"1e308", b"nan", b"-0", b"0.0000001", b"999999999999999999",
            b"0.7", b"1.", b".5", b"\xff"],
        b"Authorization": [b"Basic", b"Basic ", b"Basic !!!!", b"Basic Og==",
                           b"Basic " + b"QQ==" * 400, b"Bearer x",
                           b"Basic cHJvbWV0aGV1czo="],
        b"Content-Length": [b"-1", b"99999999999999999999999", b"0", b"x"],
        b"Transfer-Encoding": [b"chunked", b"gzip, chunked", b"identity"],
        b"Host": [b"", b"\x01", b"a" * 300],
    }
    def request():
        path = rnd.choice(paths)
        if rnd.random() < 0.5:
            q = [b"module=" + rnd.choice(values),
                 b"target=" + rnd.choice(values)]
            rnd.shuffle(q)
            if rnd.random() < 0.3:
                q.append(rnd.choice(values) + b"=" + rnd.choice(values))
            path = b"/probe?" + b"&".join(q[: rnd.randrange(1, len(q) + 1)])
        line = b" ".join([rnd.choice(methods), path, rnd.choice(versions)])
        head = [line]
        for _ in range(rnd.randrange(0, 6)):
            k = rnd.choice(list(hvals))
            head.append(k + b": " + rnd.choice(hvals[k]))
        if rnd.random() < 0.1:
            head.append(b"NoColonHere")
        if rnd.random() < 0.1:
            head.append(b" folded continuation")
        if rnd.random() < 0.05:
            head += [b"X-%d: y" % i for i in range(300)]
        body = b""
        if rnd.random() < 0.15:
            body = junk(rnd.randrange(1, 64))
            head.append(b"Content-Length: %d" % len(body))
        return b"\r\n".join(head) + b"\r\n\r\n" + body
    clean = {200, 400, 401, 404, 405, 413, 414, 431, 501, 503, 505}
    for i in range(count):
        req = request()
        if rnd.random() < 0.1:
            req += request()  # pipelined
        try:
            # From 127.0.1.x: a connection the server still holds (a
            # client's close is seen by its idle timeout at worst) counts
            # against the limit of that address, not of 127.0.0.1's.
            src = ("127.0.1.%d" % (1 + i % 100), 0)
            s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                         source_address=src)
            s.sendall(req)
            s.shutdown(socket.SHUT_WR)
            data = b""
            while b"\r\n\r\n" not in data:
                d = s.recv(4096)
                if not d:
                    break
                data += d
            s.close()
        except socket.timeout:
            print("request %d: no answer within 5 s (%r): %r"
                  % (i, data[:40], req[:120]))
            continue
        except OSError:
            continue  # reset: the server closed on us
        first = data.split(b"\r\n")[0]
        parts = first.split(b" ")
        ok = not data or (len(parts) >= 2 and parts[0] in
                          (b"HTTP/1.1", b"HTTP/1.0") and parts[1].isdigit()
                          and int(parts[1]) in clean)
        if not ok:
            print("request %d: %r -> %r" % (i, req[:120], first[:80]))
    print("done %d" % count)
else:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(bytes(range(256)) * 4 + b"\r\n\r\n")
    s.settimeout(10)
    data = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except OSError:
        pass
    print(data.split(b"\r\n")[0].decode("latin-1"))
EOF
python3 "$D/hostile.py" slow "$P_HTTP" >"$D/slow.out" &
SLOW=$!
sleep 1
t0=$(date +%s%N)
get /metrics
t1=$(date +%s%N)
ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
BUSYFREE=$ELAPSED RUNQ=0
expect_code 200
expect_elapsed_below 5
wait "$SLOW"
SLOW_S=$(cat "$D/slow.out")
check_ok 'awk -v s="$SLOW_S" "BEGIN { exit !(s >= 8 && s < 20) }"' "a client dripping its head is cut off after about 10 s ($SLOW_S s)"
JUNK=$(python3 "$D/hostile.py" junk "$P_HTTP")
check_ok '[[ "$JUNK" =~ ^HTTP/1\.[01]\ 4[0-9][0-9] ]] || [ -z "$JUNK" ]' "binary junk gets a 4xx or a close ($JUNK)"
N_MUT=$(soak_size 400 4000)
python3 "$D/hostile.py" mutate "$P_HTTP" 20 "$N_MUT" >"$D/mutate.out" 2>&1
check_ok 'grep -qx "done $N_MUT" "$D/mutate.out" && [ "$(wc -l <"$D/mutate.out")" = 1 ]' "$N_MUT mutated requests: each a clean status or a close ($(head -c 300 "$D/mutate.out"))"
get /metrics
expect_code 200
check_ok 'kill -0 "$RUNNER"' "the runner lives on"
python3 "$D/hostile.py" flood "$P_HTTP" 4 >"$D/flood.out" &
FLOOD=$!
wait_until 10 test -s "$D/flood.out"
check_ok '[ "$(cat "$D/flood.out")" -le 16 ]' "one address holds at most 16 connections ($(cat "$D/flood.out") of 300)"
rounds_before=$(curl -s "$URL/metrics" | awk '/^mailhealth_exporter_rounds_total/ { print $2 }')
get /metrics
expect_code 200
wait "$FLOOD"
check_ok 'wait_until 10 test "$(curl -s $URL/metrics | awk "/^mailhealth_exporter_rounds_total/ { print \$2 }")" -gt "$rounds_before"' "rounds go on meanwhile"

case_ "/probe deadline from X-Prometheus-Scrape-Timeout-Seconds"
# The lab's silent server accepts TCP and never speaks: no greeting.
t0=$(date +%s%N)
get "/probe?module=smtp_starttls&target=127.0.0.1:$LAB_SILENT_DNS_PORT" -H 'X-Prometheus-Scrape-Timeout-Seconds: 2'
t1=$(date +%s%N)
ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
BUSYFREE=$ELAPSED RUNQ=0
expect_code 200
expect_out 'category="timeout"'
expect_elapsed_below 4
expect_out_re 'mailhealth_probe_duration_seconds\{[^}]*\} 1\.[4-5]'

case_ "a real Prometheus scrapes both endpoints"
mkdir -p "$D/prom"
cat >"$D/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: mailhealth
    static_configs:
      - targets: ['127.0.0.1:$P_HTTP']
  - job_name: mailhealth_probe
    metrics_path: /probe
    scrape_timeout: 1s
    params:
      module: [smtp_starttls]
    static_configs:
      - targets: ['127.0.0.1:$LAB_SMTP_PORT']
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: '127.0.0.1:$P_HTTP'
  - job_name: mailhealth_https
    scheme: https
    tls_config:
      ca_file: $LAB_CA_FILE
    basic_auth:
      username: prometheus
      password: 's3cret pass'
    static_configs:
      - targets: ['127.0.0.1:$P_TLS']
EOF
check_ok 'promtool check config "$D/prom/prometheus.yml" >/dev/null 2>&1' "promtool check config"
prometheus --config.file="$D/prom/prometheus.yml" --storage.tsdb.path="$D/prom/data" \
    --web.listen-address="127.0.0.1:$P_PROM" >"$D/prom/log" 2>&1 &
T_PIDS+=("$!")
PQ=http://127.0.0.1:$P_PROM/api/v1/query
prom_value() { # QUERY: the first sample's value, or empty
    curl -s --max-time 5 --get --data-urlencode "query=$1" "$PQ" |
        jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}
prom_is() { [ "$(prom_value "$1")" = "$2" ]; }
check_ok 'wait_until 60 prom_is "up{job=\"mailhealth\"}" 1' "up{job=mailhealth} 1"
check_ok 'wait_until 30 prom_is "mailhealth_probe_success{job=\"mailhealth\",target=\"mx\"}" 1' "/metrics: the round's probe_success 1 in Prometheus"
check_ok 'wait_until 30 prom_is "up{job=\"mailhealth_probe\"}" 1' "up{job=mailhealth_probe} 1"
check_ok 'wait_until 30 prom_is "mailhealth_probe_success{job=\"mailhealth_probe\",instance=\"127.0.0.1:$LAB_SMTP_PORT\"}" 1' "/probe: probe_success 1 in Prometheus"
check_ok 'wait_until 30 prom_is "up{job=\"mailhealth_https\"}" 1' "up{job=mailhealth_https} 1 (HTTPS, basic authentication)"
check_ok 'wait_until 30 prom_is "scrape_samples_post_metric_relabeling{job=\"mailhealth_probe\"} > bool 5" 1' "/probe: a whole check's families scraped"
if [ "$T_FAIL" -gt 0 ]; then
    tail -20 "$D/prom/log"
fi

case_ "probe-only: exporter modules, no checks"
# contrib/prometheus/probe-only.json with the lab's CA, resolver and address.
P_ONLY=$((LAB_PORT_BASE + 83))
OURL=http://127.0.0.1:$P_ONLY
jq --arg ca "$LAB_CA_FILE" --arg vn "$LAB_MX_NAME" --arg res "$LAB_RESOLVER" \
    --arg listen "127.0.0.1:$P_ONLY" \
    '.resolver = $res | .exporter.listen = $listen |
     .exporter.modules.smtp_starttls += {ca_file: $ca, verify_name: $vn,
                                         allowed_targets: ["127.0.0.1"]}' \
    "$MH_SOURCE_DIR/contrib/prometheus/probe-only.json" >"$D/only.json"
jq 'del(.exporter.listen)' "$D/only.json" >"$D/only-nolisten.json"
run run --config "$D/only-nolisten.json"
expect_rc 3
check_ok 'grep -q "key \"checks\": no checks to run" "$T_TMP/stderr"' "without an address it is refused, naming \"checks\""
run run --config "$D/only.json" --once
expect_rc 3
check_ok 'grep -q "key \"checks\"" "$T_TMP/stderr"' "--once has no round to run"
"$B" run --config "$D/only.json" -v >"$D/only.out" 2>"$D/only.err" &
ONLY=$!
T_PIDS+=("$ONLY")
check_ok 'wait_until 20 grep -q "exporter: listening on 127.0.0.1:$P_ONLY" "$D/only.err"' "the probe-only exporter listens"
check_ok 'grep -q "probe-only (no checks, no rounds)" "$D/only.err"' "it says it is probe-only"
URL=$OURL get "/probe?module=smtp_starttls&target=127.0.0.1:$LAB_SMTP_PORT"
expect_code 200
promtool_ok
expect_out "mailhealth_probe_success{target=\"127.0.0.1:$LAB_SMTP_PORT\",check=\"smtp\"} 1"
URL=$OURL get "/probe?module=smtp_starttls&target=10.1.2.3:25"
expect_code 400
URL=$OURL get /metrics
expect_code 200
promtool_ok
expect_out 'mailhealth_exporter_rounds_total 0'
expect_out 'mailhealth_exporter_http_requests_total{code="400"} 1'
expect_no_out 'mailhealth_probe_success'
expect_no_out 'mailhealth_last_run_timestamp_seconds'
URL=$OURL get /
expect_out 'href="/probe?module=submission&amp;target='
check_ok '! grep -q "round 1" "$D/only.err"' "no round runs"
# A reload that adds a check starts rounds at once; one that removes them
# all makes /metrics forget the round.
jq --arg h "$LAB_HOST" --argjson p "$LAB_SMTP_PORT" \
    '.checks = [{name: "mx", check: "smtp", host: $h, port: $p}] | .interval_seconds = 3600 | .spread_s = 0' \
    "$D/only.json" >"$D/only-checks.json"
cp "$D/only.json" "$D/only-saved.json"
cp "$D/only-checks.json" "$D/only.json"
kill -HUP "$ONLY"
check_ok 'wait_until 20 grep -q "round 1:" "$D/only.err"' "after a reload with a check the first round runs at once"
check_ok 'curl -s $OURL/metrics | grep -q "mailhealth_probe_success{target=\"mx\",check=\"smtp\"} 1"' "/metrics has the round"
cp "$D/only-saved.json" "$D/only.json"
kill -HUP "$ONLY"
only_count() { [ "$(grep -c "probe-only (no checks" "$D/only.err")" -ge 2 ]; }
no_round() { ! curl -s "$OURL/metrics" | grep -q mailhealth_probe_success; }
check_ok 'wait_until 20 only_count' "reloaded to probe-only"
check_ok 'wait_until 10 no_round' "/metrics forgets the round"
check_ok 'curl -s $OURL/metrics | grep -q "mailhealth_exporter_rounds_total 1"' "rounds_total stays 1"
kill -TERM "$ONLY"
wait "$ONLY"
RC=$?
expect_rc 0

case_ "SIGTERM with a probe in flight"
# A probe of the silent server (8 s module timeout) is running when the
# runner is told to stop: it is answered 503 within the 2 s drain.
curl -s -o "$D/inflight" -w '%{http_code}' --max-time 20 \
    "$URL/probe?module=smtp_starttls&target=127.0.0.1:$LAB_SILENT_DNS_PORT" >"$D/inflight.code" &
INFLIGHT=$!
sleep 1
kill -TERM "$RUNNER"
t0=$(date +%s%N)
wait "$RUNNER"
RC=$?
t1=$(date +%s%N)
ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
BUSYFREE=$ELAPSED RUNQ=0
expect_rc 0
expect_elapsed_below 5
wait "$INFLIGHT"
check_ok '[ "$(cat "$D/inflight.code")" = 503 ]' "the probe in flight is answered 503 ($(cat "$D/inflight.code"))"
check_ok '! curl -s --max-time 2 -o /dev/null $URL/metrics' "the port is closed"
if [ "$T_FAIL" -gt 0 ]; then
    tail -30 "$D/runner.err"
fi

finish
