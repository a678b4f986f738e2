#!/usr/bin/env bash
# Malformed messages from EventHandler: a seq past 2^32 - 1 (the protocol's
# limit), an envelope of 31 bytes, a lone frame. The connector counts each
# as malformed, forwards none, keeps the gap count true (a seq of 2^32
# after 2 is no gap of four billion), and says which check failed, once
# per check and minute.
. "$(dirname "$0")/lib.sh"

E=77
start_ssesim
start_connector
"$BIN/ssesim" fmc --ports-file "$T/ports.json" --certs "$T/certs" \
    --connector "http://127.0.0.1:$CAPI_PORT" --timeout-s 120 \
    >"$T/fmc.log" 2>&1 || fail "fmc did not reach Enrolled: $(cat "$T/fmc.log")"

SOCK="$T/root/ngfw/var/sf/run/EventHandler_SSEConnector.sock"
mkdir -p "$T/root/ngfw/var/sf/run"
"$BIN/zmq-push-raw" --bind "ipc://$SOCK" \
    --epoch $E 1 2 4294967296 3 short one-frame 18446744073709551615 5 \
    >"$T/push.log" 2>&1 || fail "zmq-push-raw: $(cat "$T/push.log")"

counted() {
    capi /v1/contexts/default/status >"$T/status.json" &&
        grep -q '"malformed":4[,}]' "$T/status.json" &&
        grep -q '"acked":4[,}]' "$T/status.json"
}
wait_for "4 events acknowledged and 4 malformed" 60 counted
grep -q '"received":4[,}]' "$T/status.json" ||
    fail "received: $(cat "$T/status.json")"
grep -q '"sequence_gaps":1[,}]' "$T/status.json" ||
    fail "sequence_gaps is not 1 (seq 4 only): $(cat "$T/status.json")"
pass "4 events taken, 4 malformed dropped, one gap (seq 4)"

admin_get "/v1/ledger/check?epoch=$E&sent=5" >"$T/check.json"
grep -q '"delivered":4,' "$T/check.json" &&
    grep -q '"missing":1,' "$T/check.json" ||
    fail "ledger: $(cat "$T/check.json")"
admin_get "/v1/ledger" >"$T/ledger.json"
grep -q '"rejected":0' "$T/ledger.json" ||
    fail "an out-of-range seq reached the ingest: $(cat "$T/ledger.json")"
pass "the ingest got seqs 1, 2, 3 and 5, nothing out of range"

log="$T/root/ngfw/var/log/connector/connector.log"
w() { grep 'level=warning' "$log" | grep -c -- "$1" || true; }
SEQ_LINE='dropped: envelope seq 4294967296 of epoch 77 is above 4294967295,'
SEQ_LINE="$SEQ_LINE the highest seq of an epoch (1 malformed in all)"
[ "$(w "$SEQ_LINE")" = 1 ] ||
    fail "no warning naming the seq check: $(grep malformed "$log")"
[ "$(w 'dropped: envelope frame of 31 bytes, not 32')" = 1 ] ||
    fail "no warning naming the envelope size: $(grep malformed "$log")"
[ "$(w 'dropped: a message of one frame')" = 1 ] ||
    fail "no warning naming the lone frame: $(grep malformed "$log")"
# The second out-of-range seq is the same check within the minute: debug.
[ "$(w 'envelope seq 18446744073709551615')" = 0 ] ||
    fail "the same check warned twice within a minute"
pass "each failed check is named once at warning"
