#!/usr/bin/env bash
# make demo: the whole chain on real input, live. The emulated SSE cloud
# (ssesim), sselab's connector, the EventHandler stand-in and the FMC role;
# 10,000 events counted by the ingest's own ledger; then the seed
# document's checks, run for real. Stops everything it started; the run
# directory stays for a look afterwards.
set -euo pipefail

BIN=${1:-build/bin}
BIN=$(cd "$BIN" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
EVENTS=${DEMO_EVENTS:-10000}
# Short: the EventHandler's ipc path must fit in 107 bytes.
RUN=$(mktemp -d "${TMPDIR:-/tmp}/sselab-demo.XXXXXX")
ROOT=$RUN/root
PIDS=""

stop_all() {
    rc=$?
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    if [ "$rc" -ne 0 ]; then
        echo
        echo "demo FAILED (exit $rc); logs in $RUN:" >&2
        for f in "$RUN"/*.log "$ROOT"/ngfw/var/log/connector/connector.log; do
            [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
        done
    fi
    exit "$rc"
}
trap stop_all EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
indent() { sed 's/^/  /'; }
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | head -n 1; }

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

say "1. The emulated SSE cloud: ssesim serve (run directory $RUN)"
"$BIN/ssesim" serve --certs "$RUN/certs" --ports-file "$RUN/ports.json" \
    >"$RUN/ports" 2>"$RUN/ssesim.log" &
PIDS="$PIDS $!"
wait_for "ssesim ready" 120 grep -q '"ready":true' "$RUN/ports"
sed -n 's/.*"service":"\([^"]*\)","region":"\([^"]*\)","host":"\([^"]*\)","port":\([0-9]*\).*/\1 \2 \3 127.0.0.1:\4/p' \
    "$RUN/ports" | awk '{printf "  %-16s %-7s %-40s %s\n", $1, $2, $3, $4}'
ADMIN=$(port_of admin)

say "2. sse-connector under $ROOT"
mkdir -p "$ROOT/ngfw/etc/sf"
grep '"host"' "$RUN/ports" | grep -v '"service":"admin"' |
    sed 's/.*"host":"\([^"]*\)","port":\([0-9]*\).*/\1:443:127.0.0.1:\2/' \
        >"$ROOT/ngfw/etc/sf/sse-hosts.map"
cp "$RUN/certs/connectorCA.pem" "$ROOT/ngfw/etc/sf/connectorCA.pem"
cat >"$ROOT/ngfw/etc/sf/connector.properties" <<'PROPS'
registration_interval=180
connector_port=0
connector_fqdn=ftd-demo.example.com
region_discovery_endpoint=https://api-sse.cisco.com/providers/sse/api/v1/regions
sudi_registration_fqdn=
sign_type=
PROPS
printf 'Globals:\n  Log:\n    log_level: info\n' \
    >"$ROOT/ngfw/etc/sf/connector.yaml"
"$BIN/sse-connector" --root "$ROOT" --ports-file "$RUN/cports" \
    2>"$RUN/connector-stderr.log" &
PIDS="$PIDS $!"
wait_for "connector ready" 60 grep -q '"ready":true' "$RUN/cports"
CAPI=$(field port <"$RUN/cports")
echo "  local API on 127.0.0.1:$CAPI, log in $ROOT/ngfw/var/log/connector/connector.log"

say "3. sse-eventhandler binds the ipc socket and sends $EVENTS events"
"$BIN/sse-eventhandler" --root "$ROOT" --count "$EVENTS" --size 1024 \
    --rate 0 --hold --report "$RUN/eh-report.json" >"$RUN/eh.out" \
    2>"$RUN/eventhandler.log" &
PIDS="$PIDS $!"
echo "  socket $ROOT/ngfw/var/sf/run/EventHandler_SSEConnector.sock"

say "4. The FMC role: token on api-sse, context and activation on the connector"
"$BIN/ssesim" fmc --ports-file "$RUN/ports.json" --certs "$RUN/certs" \
    --connector "http://127.0.0.1:$CAPI" --timeout-s 120 | indent

say "5. Waiting for the ingest's ledger to count every event"
wait_for "eventhandler report" 300 test -s "$RUN/eh-report.json"
epoch=$(field epoch <"$RUN/eh-report.json")
sent=$(field sent <"$RUN/eh-report.json")
end=$(($(date +%s) + 300))
while :; do
    check=$(curl -sS "http://127.0.0.1:$ADMIN/v1/ledger/check?epoch=$epoch&sent=$sent")
    got=$(echo "$check" | field delivered)
    printf '\r  ingested %s of %s' "$got" "$sent"
    [ "$got" = "$sent" ] && break
    [ "$(date +%s)" -lt "$end" ] || { echo; die "events still missing: $check"; }
    sleep 0.2
done
echo
ledger=$(curl -sS "http://127.0.0.1:$ADMIN/v1/ledger")
printf '  %-11s %s\n' sent "$sent" \
    ingested "$(echo "$check" | field delivered)" \
    duplicates "$(echo "$ledger" | field duplicates)" \
    missing "$(echo "$check" | field missing)"
[ "$(echo "$check" | field missing)" = 0 ] || die "events missing"
[ "$(echo "$ledger" | field duplicates)" = 0 ] || die "duplicates"

say "6. Seed check: curl -v --cacert connectorCA.pem https://api-sse.cisco.com/"
curl -sS -v --max-time 30 --cacert "$RUN/certs/connectorCA.pem" \
    --connect-to "api-sse.cisco.com:443:127.0.0.1:$(port_of api-sse.cisco.com)" \
    https://api-sse.cisco.com/ -o /dev/null 2>&1 |
    grep -E '^(\* +SSL certificate verify|< HTTP/|< Content-Length)' | indent

say "7. Seed check: curl localhost:$CAPI/v1/contexts/default and .../status"
curl -sS "http://127.0.0.1:$CAPI/v1/contexts/default" | cut -c1-300 | indent
echo
status=$(curl -sS "http://127.0.0.1:$CAPI/v1/contexts/default/status")
echo "$status" | sed -n 's/.*\("status":"[A-Za-z]*"\).*/\1/p' | indent
echo "$status" | grep -q '"status":"Enrolled"' || die "not Enrolled"

say "8. Seed check: the connector's properties"
indent <"$ROOT/ngfw/etc/sf/connector.properties"

say "9. Seed check: the EventHandler socket (netstat -x | grep EventHandler)"
sock="$ROOT/ngfw/var/sf/run/EventHandler_SSEConnector.sock"
if command -v ss >/dev/null 2>&1; then
    ss -x -a | grep -F "$sock" | awk '{
        st = ($2 == "LISTEN") ? "LISTENING" : ($2 == "ESTAB") ? "CONNECTED" : $2
        print "  unix " st " " $5 }' | sort | uniq -c | indent
    ss -x -a | grep -F "$sock" | grep -q ESTAB || die "socket not CONNECTED"
else
    awk -v p="$sock" '$8 == p { print ($6 == "03" ? "CONNECTED" : "LISTENING") }' \
        /proc/net/unix | sort | uniq -c | indent
fi

say "10. Seed check: tail connector.log"
tail -n 8 "$ROOT/ngfw/var/log/connector/connector.log" | cut -c1-220 | indent

say "11. sse-doctor: the same checklist, run by itself"
"$BIN/sse-doctor" --root "$ROOT" --ports-file "$RUN/cports" | indent ||
    die "sse-doctor found a failure"

echo
echo "demo: OK: $sent sent, $(echo "$check" | field delivered) ingested," \
    "$(echo "$ledger" | field duplicates) duplicates, $(echo "$check" | field missing) missing" \
    "(run directory $RUN)"
