#!/usr/bin/env bash
# The main job, live: the emulated cloud, the EventHandler stand-in, and the
# seed document's checks against them, shown as they run. Stops everything
# it started; the run directory stays for a look afterwards.
set -euo pipefail

BIN=${1:-build/bin}
BIN=$(cd "$BIN" && pwd)
# Short: the EventHandler's ipc path must fit in 107 bytes.
RUN=$(mktemp -d "${TMPDIR:-/tmp}/sselab-demo.XXXXXX")
PIDS=""
EVENTS=${DEMO_EVENTS:-10000}

stop_all() {
    rc=$?
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    if [ "$rc" -ne 0 ]; then
        echo
        echo "demo FAILED (exit $rc); logs in $RUN:" >&2
        tail -n 20 "$RUN"/*.log >&2 2>/dev/null || true
    fi
    exit "$rc"
}
trap stop_all EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

wait_for() {
    local what=$1 secs=$2 end
    shift 2
    end=$(($(date +%s) + secs))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || die "timed out: $what"
        sleep 0.1
    done
}

port_of() {
    grep -e "\"host\":\"$1\"" -e "\"service\":\"$1\"" "$RUN/ports" |
        head -n 1 | sed 's/.*"port":\([0-9]*\).*/\1/'
}

json_field() { sed -n "s/.*\"$2\":\"\\([^\"]*\\)\".*/\\1/p" "$1" | head -n 1; }

https() {
    local h=$1 p=$2
    shift 2
    curl -sS --max-time 30 --cacert "$RUN/certs/connectorCA.pem" \
        --connect-to "$h:443:127.0.0.1:$(port_of "$h")" "$@" "https://$h$p"
}

say "1. The emulated SSE cloud (ssesim serve), run directory $RUN"
"$BIN/ssesim" serve --certs "$RUN/certs" --ports-file "$RUN/ports.json" \
    --heartbeat 2 >"$RUN/ports" 2>"$RUN/ssesim.log" &
PIDS="$PIDS $!"
wait_for "ssesim ready" 120 grep -q '"ready":true' "$RUN/ports"
sed 's/^/  /' "$RUN/ports"

say "2. Seed check: curl --cacert connectorCA.pem https://api-sse.cisco.com/"
https api-sse.cisco.com / -v -o /dev/null 2>&1 |
    grep -E '^< (HTTP/|content-length|content-type|cache-control|x-)' |
    sed 's/^/  /'

say "3. Registration on api-sse (token, then register)"
tok=/providers/sse/services/token/api/v2/auth_tokens/registration
cli=/providers/sse/services/registration/api/v2/clients
https api-sse.cisco.com "$tok" -H 'Content-Type: application/json' \
    -d '{"tenant":"tenant-demo","region":"us"}' >"$RUN/token.json"
token=$(json_field "$RUN/token.json" token)
echo "  token: ${token:0:4}...(redacted) region $(json_field "$RUN/token.json" region)"
https api-sse.cisco.com "$cli" -H 'Content-Type: application/json' \
    -d "{\"token\":\"$token\",\"clientInfo\":{\"guid\":\"demo-ftd-1\",\
\"name\":\"ftd-demo\",\"type\":\"FTD\",\"version\":\"7.4.1\"}}" \
    >"$RUN/registration.json"
device=$(json_field "$RUN/registration.json" device_id)
[ -n "$device" ] || die "registration failed: $(cat "$RUN/registration.json")"
echo "  device id: $device"
echo "  est user:  $(json_field "$RUN/registration.json" username) (one-time password redacted)"

say "4. RFC 7030 enrolment on est.sco.cisco.com with curl and openssl"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=$device" -keyout "$RUN/device.key" -outform DER \
    -out "$RUN/device.csr" 2>/dev/null
base64 "$RUN/device.csr" >"$RUN/device.csr.b64"
https est.sco.cisco.com /.well-known/est/simpleenroll \
    -u "$(json_field "$RUN/registration.json" username):$(json_field \
    "$RUN/registration.json" password)" \
    -H 'Content-Type: application/pkcs10' \
    --data-binary @"$RUN/device.csr.b64" -o "$RUN/device.p7.b64"
base64 -d "$RUN/device.p7.b64" |
    openssl pkcs7 -inform DER -print_certs -out "$RUN/device.pem"
openssl x509 -in "$RUN/device.pem" -noout -subject -issuer -enddate |
    sed 's/^/  /'
openssl verify -CAfile "$RUN/certs/ca/root.pem" \
    -untrusted "$RUN/certs/ca/device-ca.pem" -purpose sslclient \
    "$RUN/device.pem" | sed 's/^/  /'
cat "$RUN/device.pem" "$RUN/certs/ca/device-ca.pem" >"$RUN/device-chain.pem"

say "5. openssl s_client to eventing-ingest.sse.itd.cisco.com"
ingest_port=$(port_of eventing-ingest.sse.itd.cisco.com)
sclient() {
    printf 'GET / HTTP/1.1\r\nHost: eventing-ingest.sse.itd.cisco.com\r\nConnection: close\r\n\r\n' |
        timeout 20 openssl s_client -connect "127.0.0.1:$ingest_port" \
            -servername eventing-ingest.sse.itd.cisco.com \
            -CAfile "$RUN/certs/connectorCA.pem" -verify_return_error \
            -ign_eof "$@" 2>&1 || true
}
sclient >"$RUN/sclient-nocert.txt"
if grep -q '^HTTP/1.1' "$RUN/sclient-nocert.txt"; then
    die "eventing-ingest answered without a client certificate"
fi
why=$(grep -oE 'alert [a-z ]+' "$RUN/sclient-nocert.txt" | head -n 1)
echo "  without a client certificate: refused (${why:-no answer})"
sclient -cert "$RUN/device-chain.pem" -key "$RUN/device.key" \
    >"$RUN/sclient-cert.txt"
echo "  with the enrolled certificate:"
grep -m1 -E '^HTTP/1.1' "$RUN/sclient-cert.txt" | sed 's/^/    /'
grep -m1 -E 'Verify return code' "$RUN/sclient-cert.txt" | sed 's/^ */    /'
grep -E '^ *[0-9] s:' "$RUN/sclient-cert.txt" | sed 's/^/    /'
grep -q 'Verify return code: 0 (ok)' "$RUN/sclient-cert.txt" ||
    die "s_client did not verify"

say "6. EventHandler stand-in pushes events over ZeroMQ"
"$BIN/sse-eventhandler" --root "$RUN/eh" --fixtures "$(dirname "$0")/../fixtures/events" \
    --report "$RUN/eh-report.json" >"$RUN/eh.out" 2>"$RUN/eventhandler.log" &
ehpid=$!
PIDS="$PIDS $ehpid"
"$BIN/zmq-pull-probe" --connect "ipc://$RUN/eh/ngfw/var/sf/run/EventHandler_SSEConnector.sock" \
    --timeout-ms 60000 --idle-ms 3000 >"$RUN/probe.json" 2>"$RUN/probe.log"
wait "$ehpid"
echo "  EventHandler reports: $(cat "$RUN/eh.out")"
echo "  a ZeroMQ PULL peer received: $(cat "$RUN/probe.json")"

say "7. $EVENTS events uploaded to eventing-ingest over a mutual-TLS WebSocket"
epoch=$(date +%s)
"$BIN/ws-batch-client" --connect-to "127.0.0.1:$ingest_port" \
    --host eventing-ingest.sse.itd.cisco.com \
    --cafile "$RUN/certs/connectorCA.pem" --cert "$RUN/device-chain.pem" \
    --key "$RUN/device.key" --epoch "$epoch" --count "$EVENTS" --batch 100 \
    --size 1024 --timeout-s 120 >"$RUN/upload.json" 2>"$RUN/upload.log"
echo "  client: $(cat "$RUN/upload.json")"
admin=$(port_of admin)
check=$(curl -sS "http://127.0.0.1:$admin/v1/ledger/check?epoch=$epoch&sent=$EVENTS")
echo "  ingest ledger: $check"
for k in sent delivered missing duplicates; do
    printf '  %-10s %s\n' "$k" "$(echo "$check" | sed -n "s/.*\"$k\":\([0-9]*\).*/\1/p")"
done
echo "$check" | grep -q '"missing":0,' || die "events missing"
echo "$check" | grep -q '"duplicates":0,' || die "duplicates"

say "8. mx01 messaging with the enrolled certificate"
"$BIN/ws-batch-client" --mode mx --connect-to \
    "127.0.0.1:$(port_of mx01.sse.itd.cisco.com)" \
    --host mx01.sse.itd.cisco.com --cafile "$RUN/certs/connectorCA.pem" \
    --cert "$RUN/device-chain.pem" --key "$RUN/device.key" \
    --device-id "$device" --messages 3 --timeout-s 30 2>"$RUN/mx.log" |
    sed 's/^/  /'

say "9. The last lines of the cloud's log"
tail -n 8 "$RUN/ssesim.log" | sed 's/^/  /'

echo
echo "demo: OK (run directory $RUN)"
