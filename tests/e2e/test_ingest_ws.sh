#!/usr/bin/env bash
# eventing-ingest over WebSocket with mutual TLS, driven by ws-batch-client:
# the ledger counts every event exactly (distinct, duplicates, missing), a
# hostile frame is closed with its code and leaves the ledger as it was, and
# the EU host behaves the same.
. "$(dirname "$0")/lib.sh"

start_ssesim
"$BIN/ssesim" certs --out "$T/certs" --client-cert dev1 >"$T/certs.out" ||
    fail "ssesim certs --client-cert dev1"
[ -s "$T/certs/clients/dev1.pem" ] || fail "no client certificate for dev1"

US=eventing-ingest.sse.itd.cisco.com
EU=eventing-ingest.eu.sse.itd.cisco.com

# ingest HOST [ws-batch-client args]: one connection to HOST as dev1.
ingest() {
    h=$1
    shift
    "$BIN/ws-batch-client" --connect-to "127.0.0.1:$(port_of "$h")" \
        --host "$h" --cafile "$T/certs/connectorCA.pem" \
        --cert "$T/certs/clients/dev1.pem" \
        --key "$T/certs/clients/dev1.key" --timeout-s 60 "$@"
}

# expect_json FILE FILTER VALUE: the jq FILTER of FILE is VALUE.
expect_json() {
    got=$(jq -c "$2" "$1") || fail "$1 is not JSON: $(cat "$1")"
    [ "$got" = "$3" ] || fail "$2 is $got, not $3, in $(cat "$1")"
}

check() {
    admin_get "/v1/ledger/check?epoch=$1&sent=$2" >"$T/check"
}

# --- exact counts -------------------------------------------------------
E=1700000001
ingest "$US" --epoch $E --count 1000 --batch 50 --size 300 >"$T/sent" ||
    fail "1000 events to $US"
expect_json "$T/sent" . '{"sent":1000,"batches":20,"acked_seq":20}'
admin_get /v1/ledger >"$T/ledger"
expect_json "$T/ledger" '[.received,.distinct,.duplicates,.rejected]' \
    '[1000,1000,0,0]'
expect_json "$T/ledger" .bytes 300000
expect_json "$T/ledger" '.epochs' \
    "[{\"epoch\":$E,\"distinct\":1000,\"duplicates\":0,\"max_seq\":1000}]"
check $E 1000
expect_json "$T/check" '[.delivered,.missing,.duplicates,.first_missing]' \
    '[1000,0,0,0]'
pass "1000 events in batches of 50: 1000 distinct, none missing, no copies"

ingest "$US" --epoch $E --first-seq 901 --count 100 --batch 50 >"$T/sent" ||
    fail "the last 100 again"
check $E 1000
expect_json "$T/check" '[.delivered,.missing,.duplicates]' '[1000,0,100]'
admin_get /v1/ledger >"$T/ledger"
expect_json "$T/ledger" '[.received,.distinct,.duplicates]' '[1100,1000,100]'
pass "the last 100 sent again are counted as 100 duplicates"

check $E 1200
expect_json "$T/check" '[.delivered,.missing,.first_missing]' '[1000,200,1001]'
pass "a producer that sent 1200 is told 200 are missing, from 1001"

# A replayed batch_seq is stored and acknowledged all the same.
ingest "$US" --epoch 7 --count 10 --batch 3 --repeat-seq >"$T/sent" ||
    fail "--repeat-seq"
expect_json "$T/sent" '[.batches,.acked_seq]' '[8,4]'
check 7 10
expect_json "$T/check" '[.delivered,.duplicates]' '[10,10]'
pass "batches sent twice with the same batch_seq are counted and acked"

# Messages in many WebSocket frames are put together before reading.
ingest "$US" --epoch 8 --count 2000 --batch 400 --size 500 \
    --fragment 1000 >"$T/sent" || fail "fragmented batches"
check 8 2000
expect_json "$T/check" '[.delivered,.missing,.duplicates]' '[2000,0,0]'
pass "batches fragmented into 1000-byte frames are counted exactly"

# --- control messages ---------------------------------------------------
ingest "$US" --raw-text '{"type":"ping"}' >"$T/out" || fail "ping"
expect_json "$T/out" . '{"type":"pong"}'
pass "a ping is answered with a pong"

ingest "$US" --raw-text 'hello' >"$T/out" || fail "text that is no JSON"
expect_json "$T/out" .close_code 1007
pass "a text message that is no control message is closed with 1007"

# --- hostile frames -----------------------------------------------------
admin_get /v1/ledger >"$T/before"

ingest "$US" --raw-hex 00ff13374242deadbeef >"$T/out" || fail "garbage"
expect_json "$T/out" .close_code 1007
pass "garbage bytes are closed with 1007"

# Header: "SSEB", version 1, flags 0, count 1, batch_seq 1. One envelope
# (epoch 77, seq 1) whose payload_len claims 1000 bytes; 4 follow.
hdr=53534542010000010000000000000001
env=0101000000000000000000000000004d00000000000000010000000000000000
ingest "$US" --raw-hex "${hdr}${env}000003e861626364" >"$T/out" ||
    fail "overrunning record"
expect_json "$T/out" .close_code 1007
pass "a record whose length overruns the frame is closed with 1007"

# A complete record, then one that overruns: nothing of a malformed frame
# is stored, not even its good records.
rec1="${env}0000000461626364"
rec2=0101000000000000000000000000004d0000000000000002
rec2=${rec2}0000000000000000000003e861626364
ingest "$US" --raw-hex "53534542010000020000000000000001${rec1}${rec2}" \
    >"$T/out" || fail "good record then overrun"
expect_json "$T/out" .close_code 1007
pass "a frame with a good record and a bad one is refused whole"

# Over the 8 MiB a batch may have. The server closes while the client is
# still writing, so the client may see the close or a reset: the log says.
ingest "$US" --epoch 9 --count 9000 --batch 9000 --size 1000 \
    >/dev/null 2>&1 && fail "a 9 MB batch was accepted"
wait_for "log line of the 1009 close" 10 grep -q \
    "batch over 8 MiB.*host=$US .*layer=ws status=1009" "$T/ssesim.log"
pass "a batch over 8 MiB is closed with 1009"

admin_get /v1/ledger >"$T/after"
cmp -s "$T/before" "$T/after" ||
    fail "hostile frames changed the ledger: $(cat "$T/before") -> \
$(cat "$T/after")"
pass "hostile frames leave the ledger as it was"

wait_for "log line of the 1007 close" 10 grep -q \
    "malformed batch.*host=$US .*layer=ws status=1007" "$T/ssesim.log"
pass "the ssesim log names the host and the reason of the close"

# A seq past 2^32 - 1 is acknowledged with its batch but counted rejected.
env=0101000000000000000000000000004d00000001000000000000000000000000
ingest "$US" --raw-hex "53534542010000010000000000000005${env}00000000" \
    >"$T/out" || fail "seq 2^32"
expect_json "$T/out" . '{"type":"ack","seq":5}'
admin_get /v1/ledger >"$T/ledger"
expect_json "$T/ledger" '.rejected' 1
pass "a seq of 2^32 is acknowledged and counted as rejected"

# --- verification and routing -------------------------------------------
if ingest "$US" --path /v1/other --epoch 1 --count 1 --batch 1 \
    >/dev/null 2>"$T/err"; then
    fail "an upgrade on /v1/other was accepted"
fi
grep -q 'refused the WebSocket upgrade' "$T/err" ||
    fail "no refused upgrade reported: $(cat "$T/err")"
pass "an upgrade on another path is refused"

if "$BIN/ws-batch-client" --connect-to "127.0.0.1:$(port_of "$US")" \
    --host "$EU" --cafile "$T/certs/connectorCA.pem" \
    --cert "$T/certs/clients/dev1.pem" --key "$T/certs/clients/dev1.key" \
    --epoch 1 --count 1 --batch 1 >/dev/null 2>"$T/err"; then
    fail "the US leaf verified as $EU"
fi
grep -q 'TLS with' "$T/err" || fail "no TLS failure reported: $(cat "$T/err")"
pass "the client verifies the server's name"

# --- the EU host --------------------------------------------------------
E2=1700000002
ingest "$EU" --epoch $E2 --count 500 --batch 50 >"$T/sent" ||
    fail "500 events to $EU"
expect_json "$T/sent" .acked_seq 10
check $E2 500
expect_json "$T/check" '[.delivered,.missing,.duplicates]' '[500,0,0]'
ingest "$EU" --raw-hex 5353454202 >"$T/out" || fail "garbage to $EU"
expect_json "$T/out" .close_code 1007
wait_for "EU log line of the 1007 close" 10 grep -q \
    "malformed batch.*host=$EU .*layer=ws status=1007" "$T/ssesim.log"
pass "$EU counts and refuses the same way"
