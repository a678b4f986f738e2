#!/usr/bin/env bash
# eventing-ingest and mx01 against a peer that breaks RFC 6455, played by
# ws-raw-peer (it writes its frames byte by byte): an upgrade offering a
# subprotocol the host does not serve gets an HTTP answer naming the one it
# does; frames with reserved bits or an unknown opcode and a close frame
# with a 1-byte payload are closed with 1002; the journal holds what was
# sent, never "1006 dropped" for a close frame that went out.
. "$(dirname "$0")/lib.sh"

US=eventing-ingest.sse.itd.cisco.com
MX=mx01.sse.itd.cisco.com
C="$T/certs"

start_ssesim
"$BIN/ssesim" certs --out "$C" --client-cert dev1 >"$T/certs.out" ||
    fail "ssesim certs --client-cert dev1"

# peer HOST [ws-raw-peer args]: one connection as dev1, its report in
# $T/out. Frames are masked with the key 00000000, so payloads read as is.
peer() {
    h=$1
    shift
    "$BIN/ws-raw-peer" --connect-to "127.0.0.1:$(port_of "$h")" --host "$h" \
        --cafile "$C/connectorCA.pem" --cert "$C/clients/dev1.pem" \
        --key "$C/clients/dev1.key" --timeout-s 30 "$@" >"$T/out" ||
        fail "ws-raw-peer $*: exit $?"
}

mx_peer() {
    peer "$MX" --path /v1/messaging --protocol sse-messaging.v1 "$@"
}

expect_json() {
    got=$(jq -c "$2" "$1") || fail "$1 is not JSON: $(cat "$1")"
    [ "$got" = "$3" ] || fail "$2 is $got, not $3, in $(cat "$1")"
}

# The journal's ws entries of HOST with EVENT, in order.
ws_entries() {
    admin_get "/v1/journal?host=$1&layer=ws&event=$2" >"$T/journal"
    jq -c '[.entries[] | [.status, .detail]]' "$T/journal"
}

count_is() {
    [ "$(admin_get "/v1/journal?host=$1&layer=ws&event=$2" |
        jq '.entries | length')" = "$3" ]
}

# expect_last HOST EVENT N STATUS ERE: the journal comes to hold N such
# entries, and the last has STATUS and a detail matching ERE.
expect_last() {
    wait_for "$3 ws $2 entries of $1" 30 count_is "$1" "$2" "$3"
    last=$(ws_entries "$1" "$2" | jq -c '.[-1]')
    [ "$(echo "$last" | jq .[0])" = "$4" ] ||
        fail "the last ws $2 of $1 is $last, not status $4"
    echo "$last" | jq -r .[1] | grep -qE -- "$5" ||
        fail "the last ws $2 of $1 is $last, not /$5/"
}

# --- the subprotocol ------------------------------------------------------
peer "$US" --protocol nope.v9
expect_json "$T/out" .status 400
want='Sec-WebSocket-Protocol "nope.v9" is not served; this host serves'
jq -r .body "$T/out" | grep -qF "$want sse-eventing.v1" ||
    fail "400 body: $(cat "$T/out")"
expect_last "$US" refuse 1 400 \
    'protocol "nope\.v9" offered, sse-eventing\.v1 served'
pass "an unknown subprotocol is answered 400 naming sse-eventing.v1, journaled"

peer "$MX" --path /v1/messaging --protocol ""
expect_json "$T/out" .status 400
want='no Sec-WebSocket-Protocol offered; this host serves sse-messaging.v1'
jq -r .body "$T/out" | grep -qF "$want" ||
    fail "400 body: $(cat "$T/out")"
expect_last "$MX" refuse 1 400 'no protocol offered, sse-messaging\.v1 served'
pass "an upgrade to mx01 offering no subprotocol is answered 400, journaled"

# The name of the HTTP side is a protocol of the vhost to lws, too.
peer "$US" --protocol http
expect_json "$T/out" .status 400
expect_last "$US" refuse 2 400 'protocol "http" offered'
pass "the vhost's HTTP protocol cannot be asked for by name"

peer "$US" --protocol "x.v1, sse-eventing.v1" --send 88820000000003e8
expect_json "$T/out" '[.status,.protocol,.close_code]' \
    '[101,"sse-eventing.v1",1000]'
expect_last "$US" close 1 1000 'closed by the peer'
pass "a list that holds sse-eventing.v1 is upgraded; a normal close is echoed"

# --- protocol errors lws finds --------------------------------------------
# FIN + RSV1, binary, 4 bytes.
peer "$US" --send c2840000000001020304
expect_json "$T/out" '[.close_code,.close_reason]' '[1002,"rsv bits"]'
expect_last "$US" close 2 1002 'protocol error found by lws \("rsv bits"\)'
pass "reserved bits: 1002 sent, and the journal says 1002, not 1006"

# Opcode 3 is reserved.
mx_peer --send 838000000000
expect_json "$T/out" '[.close_code,.close_reason]' '[1002,"bad opc"]'
expect_last "$MX" close 1 1002 'protocol error found by lws \("bad opc"\)'
pass "an unknown opcode on mx01: 1002 sent and journaled"

# A close code no peer may send (999) is answered 1002, journaled so.
peer "$US" --send 88820000000003e7
expect_json "$T/out" .close_code 1002
expect_last "$US" close 3 1002 'closed by the peer'
pass "a close with code 999 is answered 1002, journaled 1002"

# --- a close frame with a 1-byte payload ----------------------------------
peer "$US" --send 88810000000003
expect_json "$T/out" '[.close_code,.close_reason]' \
    '[1002,"close payload of 1 byte"]'
expect_last "$US" close 4 1002 '1-byte payload'
mx_peer --send 88810000000003
expect_json "$T/out" '[.close_code,.close_reason]' \
    '[1002,"close payload of 1 byte"]'
expect_last "$MX" close 2 1002 '1-byte payload'
pass "a close frame with a 1-byte payload is answered 1002, not echoed"

# Nothing above was journaled as a dropped connection.
for h in "$US" "$MX"; do
    ws_entries "$h" close |
        jq -e 'map(select(.[0] == 1006)) | length == 0' >/dev/null ||
        fail "a 1006 close in the journal of $h: $(cat "$T/journal")"
done
pass "no connection above was journaled as dropped (1006)"
