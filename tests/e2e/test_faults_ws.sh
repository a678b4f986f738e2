#!/usr/bin/env bash
# WebSocket faults on eventing-ingest and mx01, seen with ws-batch-client
# (which reports close codes) and curl: a refused upgrade, a close with a
# code after N messages, a dropped connection (1006), acks withheld while
# the ledger still counts, pings and heartbeats left unanswered.
. "$(dirname "$0")/lib.sh"

US=eventing-ingest.sse.itd.cisco.com
EU=eventing-ingest.eu.sse.itd.cisco.com
MX=mx01.sse.itd.cisco.com
C="$T/certs"

start_ssesim --heartbeat 1
TOKEN=$(sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p' "$T/ports")
[ -n "$TOKEN" ] || fail "no admin token in $T/ports"
"$BIN/ssesim" certs --out "$C" --client-cert dev1 >"$T/certs.out" ||
    fail "ssesim certs --client-cert dev1"

faults_clear() {
    curl -sS --max-time 30 -X DELETE -H "Authorization: Bearer $TOKEN" \
        -o /dev/null "http://127.0.0.1:$(port_of admin)/v1/faults"
}

# ws HOST [ws-batch-client args]: one connection as dev1; stdout to
# $T/out, stderr to $T/err, the exit status in $T/rc.
ws() {
    h=$1
    shift
    set +e
    "$BIN/ws-batch-client" --connect-to "127.0.0.1:$(port_of "$h")" \
        --host "$h" --cafile "$C/connectorCA.pem" --cert "$C/clients/dev1.pem" \
        --key "$C/clients/dev1.key" "$@" >"$T/out" 2>"$T/err"
    echo $? >"$T/rc"
    set -e
}

expect_json() {
    got=$(jq -c "$2" "$1") || fail "$1 is not JSON: $(cat "$1")"
    [ "$got" = "$3" ] || fail "$2 is $got, not $3, in $(cat "$1")"
}

check() {
    admin_get "/v1/ledger/check?epoch=$1&sent=$2" >"$T/check"
}

# --- ws.upgrade-refused -------------------------------------------------
fault_add "{\"action\":\"ws.upgrade-refused\",\"host\":\"$US\",\
\"status\":401}" >/dev/null
ws "$US" --epoch 1 --count 10 --batch 5 --timeout-s 10
[ "$(cat "$T/rc")" = 1 ] || fail "a refused upgrade: exit $(cat "$T/rc")"
grep -q 'refused the WebSocket upgrade' "$T/err" ||
    fail "no refused upgrade reported: $(cat "$T/err")"
faults_clear
fault_add "{\"action\":\"ws.upgrade-refused\",\"service\":\"eventing-ingest\",\
\"path\":\"/v1/events\"}" >/dev/null
curl_host "$EU" /v1/events -i --http1.1 --cert "$C/clients/dev1.pem" \
    --key "$C/clients/dev1.key" -H 'Connection: Upgrade' \
    -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
    -H 'Sec-WebSocket-Protocol: sse-eventing.v1' >"$T/upgrade" 2>&1 || true
tr -d '\r' <"$T/upgrade" >"$T/upgrade.txt"
grep -q '^HTTP/1.1 403' "$T/upgrade.txt" ||
    fail "curl's upgrade was not answered 403: $(head -n 5 "$T/upgrade.txt")"
grep -qi '^content-type: text/plain' "$T/upgrade.txt" ||
    fail "the refusal is not text/plain"
grep -q 'WebSocket upgrade refused' "$T/upgrade.txt" ||
    fail "the refusal has no body"
journal_has "host=$EU&event=fault" "ws.upgrade-refused rule" ||
    fail "no fault in the journal"
faults_clear
pass "ws.upgrade-refused: 401 for ws-batch-client, 403 text/plain for curl"

# --- ws.close -----------------------------------------------------------
fault_add "{\"action\":\"ws.close\",\"host\":\"$US\",\"code\":1011,\
\"after_frames\":2}" >/dev/null
ws "$US" --epoch 2 --count 100 --batch 10 --timeout-s 10
grep -q "closed by $US with 1011 (fault)" "$T/err" ||
    fail "ws.close 1011: $(cat "$T/err")"
check 2 100
expect_json "$T/check" '.delivered' 20
wait_for "close note" 10 journal_has "host=$US&event=close&status=1011" \
    "after 2 frames (ws.close rule"
faults_clear
pass "ws.close 1011 after 2 batches: the client sees 1011, 20 events stored"

fault_add "{\"action\":\"ws.close\",\"host\":\"$US\",\"code\":4000}" >/dev/null
ws "$US" --raw-text '{"type":"ping"}' --timeout-s 10
expect_json "$T/out" . '{"close_code":4000,"reason":"fault"}'
faults_clear
pass "ws.close 4000 after 0 frames: closed at once after the upgrade"

fault_add "{\"action\":\"ws.close\",\"host\":\"$MX\",\"code\":1001,\
\"after_frames\":1,\"trigger\":{\"times\":1}}" >/dev/null
ws "$MX" --mode mx --device-id dev1 --messages 3 --timeout-s 10
grep -q "closed by $MX with 1001" "$T/err" ||
    fail "mx ws.close: $(cat "$T/err")"
ws "$MX" --mode mx --device-id dev1 --messages 3 --timeout-s 10
[ "$(cat "$T/rc")" = 0 ] || fail "mx after times 1: $(cat "$T/err")"
faults_clear
pass "ws.close on mx01 after the hello, once: the next session runs"

# --- ws.drop ------------------------------------------------------------
fault_add "{\"action\":\"ws.drop\",\"host\":\"$US\",\"after_frames\":1}" \
    >/dev/null
ws "$US" --raw-text '{"type":"ping"}' --timeout-s 10
expect_json "$T/out" .close_code 1006
wait_for "drop note" 10 journal_has "host=$US&event=close&status=1006" \
    "dropped without a close frame after 1 frames (ws.drop rule"
faults_clear
pass "ws.drop after 1 frame: no close frame, the client sees 1006"

# --- ws.withhold-acks ---------------------------------------------------
fault_add "{\"action\":\"ws.withhold-acks\",\"host\":\"$US\"}" >/dev/null
ws "$US" --epoch 3 --count 30 --batch 10 --timeout-s 3
[ "$(cat "$T/rc")" = 1 ] || fail "withheld acks: exit $(cat "$T/rc")"
grep -q 'no end of the exchange' "$T/err" || fail "withhold: $(cat "$T/err")"
check 3 30
expect_json "$T/check" '[.delivered,.missing]' '[30,0]'
faults_clear
ws "$US" --epoch 3 --count 30 --batch 10 --timeout-s 10
expect_json "$T/out" .acked_seq 3
check 3 30
expect_json "$T/check" '[.delivered,.duplicates]' '[30,30]'
pass "ws.withhold-acks: 30 events stored, no ack; resent, all duplicates"

# --- ws.ignore-pings ----------------------------------------------------
ws "$US" --raw-text '{"type":"ping"}' --timeout-s 10
expect_json "$T/out" . '{"type":"pong"}'
fault_add "{\"action\":\"ws.ignore-pings\",\"service\":\"eventing-ingest\"}" \
    >/dev/null
ws "$US" --raw-text '{"type":"ping"}' --timeout-s 3
grep -q 'no end of the exchange' "$T/err" ||
    fail "a ping was answered under ws.ignore-pings: $(cat "$T/out")"
faults_clear
pass "ws.ignore-pings: the ingest's ping goes unanswered"

ws "$MX" --mode mx --device-id dev1 --messages 3 --timeout-s 10
grep -q '"type":"heartbeat"' "$T/out" || fail "no heartbeat from mx01"
fault_add "{\"action\":\"ws.ignore-pings\",\"host\":\"$MX\"}" >/dev/null
ws "$MX" --mode mx --device-id dev1 --messages 3 --timeout-s 4
grep -q 'no end of the exchange' "$T/err" ||
    fail "mx01 under ws.ignore-pings: $(cat "$T/out")"
grep -q '"type":"heartbeat"' "$T/out" && fail "a heartbeat came anyway"
grep -q '"type":"welcome"' "$T/out" || fail "no welcome under ws.ignore-pings"
faults_clear
pass "ws.ignore-pings: mx01 welcomes the device but sends no heartbeat"
