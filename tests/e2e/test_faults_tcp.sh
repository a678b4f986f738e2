#!/usr/bin/env bash
# TCP faults of the gate, seen with curl and bash's /dev/tcp: a refused
# listener (curl 7) and a full accept queue (curl 28 on connect) that come
# back on the same port when their rule goes, a silent accept that holds
# the socket until the rule goes, a reset after N bytes of the server's
# output, and latency on every byte each way.
. "$(dirname "$0")/lib.sh"

API=api-sse.cisco.com
DEX=dex.sse.itd.cisco.com

start_ssesim
TOKEN=$(sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p' "$T/ports")
[ -n "$TOKEN" ] || fail "no admin token in $T/ports"

# status_of HOST PATH [curl args]: the HTTP status, "000" on failure; the
# curl exit status in $T/rc and its stderr in $T/err.
status_of() {
    h=$1
    p=$2
    shift 2
    set +e
    curl_host "$h" "$p" -o "$T/body" -w '%{http_code}' "$@" \
        >"$T/code" 2>"$T/err"
    echo $? >"$T/rc"
    set -e
    cat "$T/code"
}

PORT=$(port_of "$API")

# --- tcp.refused --------------------------------------------------------
[ "$(status_of "$API" /)" = 403 ] || fail "$API does not answer at first"
id=$(fault_add "{\"action\":\"tcp.refused\",\"host\":\"$API\"}")
wait_for "listener of $API closed" 10 journal_has \
    "host=$API&event=fault" "tcp.refused rule $id"
status_of "$API" / >/dev/null
[ "$(cat "$T/rc")" = 7 ] ||
    fail "tcp.refused: curl exit $(cat "$T/rc"), not 7: $(cat "$T/err")"
grep -q "Couldn't connect\|Connection refused" "$T/err" ||
    fail "tcp.refused: no refused connection in: $(cat "$T/err")"
pass "tcp.refused: curl exits 7, the connect is refused"

fault_del "$id"
wait_for "listener of $API back" 10 journal_has "host=$API&event=listen" \
    "port $PORT accepts again"
[ "$(status_of "$API" /)" = 403 ] ||
    fail "after tcp.refused: HTTP $(cat "$T/code"), $(cat "$T/err")"
pass "tcp.refused removed: the same port $PORT serves again"

# --- tcp.connect-timeout ------------------------------------------------
id=$(fault_add "{\"action\":\"tcp.connect-timeout\",\"host\":\"$API\"}")
wait_for "accept queue of $API full" 10 journal_has \
    "host=$API&event=fault" "tcp.connect-timeout rule $id"
start=$(date +%s)
status_of "$API" / --connect-timeout 2 >/dev/null
took=$(($(date +%s) - start))
[ "$(cat "$T/rc")" = 28 ] ||
    fail "tcp.connect-timeout: curl exit $(cat "$T/rc"): $(cat "$T/err")"
grep -qi "connect" "$T/err" || fail "not a connect timeout: $(cat "$T/err")"
[ "$took" -lt 10 ] || fail "tcp.connect-timeout: curl took ${took}s"
# Our bash cannot connect either: the SYN goes unanswered.
if timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; then
    fail "tcp.connect-timeout: a plain connect went through"
fi
pass "tcp.connect-timeout: curl --connect-timeout 2 exits 28 in ${took}s"

fault_del "$id"
wait_for "listener of $API drained" 10 journal_has "host=$API&event=listen" \
    "was choked"
[ "$(status_of "$API" /)" = 403 ] ||
    fail "after tcp.connect-timeout: HTTP $(cat "$T/code"), $(cat "$T/err")"
pass "tcp.connect-timeout removed: $API answers again on port $PORT"

# --- tcp.silence --------------------------------------------------------
id=$(fault_add "{\"action\":\"tcp.silence\",\"host\":\"$API\",\
\"trigger\":{\"times\":1}}")
status_of "$API" / -m 3 >/dev/null
[ "$(cat "$T/rc")" = 28 ] ||
    fail "tcp.silence: curl exit $(cat "$T/rc"), not 28: $(cat "$T/err")"
journal_has "host=$API&event=fault" "tcp.silence rule $id" ||
    fail "tcp.silence: no fault in the journal"
journal_has "host=$API&event=accept" "from 127.0.0.1" ||
    fail "tcp.silence: the connection was never accepted"
pass "tcp.silence: accepted, then curl -m 3 exits 28"
[ "$(status_of "$API" /)" = 403 ] ||
    fail "tcp.silence times 1: the second connection got $(cat "$T/code")"
pass "tcp.silence with times 1: the next connection is served"
fault_del "$id"

# A silent connection is held until its rule goes, then closed.
id=$(fault_add "{\"action\":\"tcp.silence\",\"host\":\"$API\"}")
exec 3<>"/dev/tcp/127.0.0.1/$PORT" || fail "connect for tcp.silence"
printf 'hello\n' >&3
if timeout 2 cat <&3 >"$T/silent.out"; then
    fail "tcp.silence: the connection ended by itself"
fi
[ ! -s "$T/silent.out" ] || fail "tcp.silence: the server said something"
fault_del "$id"
timeout 10 cat <&3 >"$T/silent.out" ||
    fail "tcp.silence: the held socket was not closed when the rule went"
exec 3<&-
wait_for "close of the held connection" 10 journal_has \
    "host=$API&event=close" "its rule was removed after"
pass "tcp.silence: the held socket is closed when its rule is removed"

# --- tcp.latency --------------------------------------------------------
# timed PATH: "status connect appconnect total" of one request to $API.
timed() {
    curl_host "$API" "$1" -o "$T/body" \
        -w '%{http_code} %{time_connect} %{time_appconnect} %{time_total}\n' \
        >"$T/timed" 2>"$T/err" || true
}

timed /providers/sse/api/v1/regions
read -r code c0 a0 total <"$T/timed"
[ "$code" = 200 ] || fail "regions: HTTP $code"
id=$(fault_add "{\"action\":\"tcp.latency\",\"host\":\"$API\",\
\"delay_ms\":400}")
timed /providers/sse/api/v1/regions
read -r code c1 a1 total <"$T/timed"
[ "$code" = 200 ] || fail "tcp.latency: HTTP $code $(cat "$T/err")"
jq -e '.regions | length == 3' "$T/body" >/dev/null ||
    fail "tcp.latency: the answer came damaged: $(head -c 200 "$T/body")"
# A TLS 1.3 handshake is one round trip: 2 x 400 ms on top.
awk -v c0="$c0" -v a0="$a0" -v c1="$c1" -v a1="$a1" -v t="$total" \
    'BEGIN { d = (a1 - c1) - (a0 - c0)
             exit !(d >= 0.7 && d < 3 && t >= 1.5) }' ||
    fail "tcp.latency 400 ms: handshake $c1..$a1 s (before $c0..$a0), total $t"
pass "tcp.latency 400 ms: the TLS handshake takes $a1 s instead of $a0 s"
fault_del "$id"

# A body four times the relay's window arrives whole (its back-pressure at
# work; dex takes up to 256 KiB).
id=$(fault_add "{\"action\":\"tcp.latency\",\"host\":\"$DEX\",\"delay_ms\":5}")
head -c 250000 /dev/urandom >"$T/mb"
[ "$(status_of "$DEX" /v1/upload -X POST --data-binary @"$T/mb" \
    -H 'Content-Type: application/octet-stream')" = 202 ] ||
    fail "upload through the relay: HTTP $(cat "$T/code") $(cat "$T/err")"
jq -e '.bytes == 250000' "$T/body" >/dev/null ||
    fail "upload through the relay: $(cat "$T/body")"
fault_del "$id"
wait_for "relay close note" 10 journal_has "host=$DEX&event=close" \
    "relay: both sides closed"
pass "250 kB through a delaying relay arrive whole and the relay closes"

# --- tcp.reset ----------------------------------------------------------
# How many bytes the server sends for this request: the relay counts them.
id=$(fault_add "{\"action\":\"tcp.latency\",\"host\":\"$API\",\"delay_ms\":1}")
[ "$(status_of "$API" /providers/sse/api/v1/regions)" = 200 ] ||
    fail "regions through the relay: $(cat "$T/err")"
fault_del "$id"
wait_for "relay close note" 10 journal_has "host=$API&event=close" "relay:"
sent=$(admin_get "/v1/journal?host=$API&event=close&path=relay:" |
    jq -r '[.entries[].detail][-1]' |
    sed -n 's/.*; \([0-9]*\) bytes to the client.*/\1/p')
[ -n "$sent" ] && [ "$sent" -gt 500 ] || fail "no byte count from the relay"

cut=$((sent - 100))
id=$(fault_add "{\"action\":\"tcp.reset\",\"host\":\"$API\",\"bytes\":$cut}")
status_of "$API" /providers/sse/api/v1/regions >/dev/null
rc=$(cat "$T/rc")
[ "$rc" = 56 ] || [ "$rc" = 35 ] ||
    fail "tcp.reset after $cut bytes: curl exit $rc: $(cat "$T/err")"
grep -qi "reset" "$T/err" || fail "tcp.reset: no reset in: $(cat "$T/err")"
[ "$(cat "$T/code")" = 200 ] ||
    fail "tcp.reset after $cut of $sent bytes: the status line did not arrive"
wait_for "reset note" 10 journal_has "host=$API&event=close" \
    "reset after $cut bytes (tcp.reset rule $id)"
pass "tcp.reset after $cut of $sent bytes: curl got the status, then a reset"
fault_del "$id"

id=$(fault_add "{\"action\":\"tcp.reset\",\"host\":\"$API\",\"bytes\":0}")
status_of "$API" / >/dev/null
[ "$(cat "$T/rc")" != 0 ] || fail "tcp.reset 0: curl succeeded"
journal_has "host=$API&event=close" \
    "reset after 0 bytes (tcp.reset rule $id)" ||
    fail "tcp.reset 0: no note"
pass "tcp.reset 0: the connection is reset before the ServerHello"
fault_del "$id"
[ "$(status_of "$API" /)" = 403 ] ||
    fail "after the faults: HTTP $(cat "$T/code")"
pass "every rule removed, $API serves as before"
