#!/bin/bash
# test_eventhandler.sh: sse-eventhandler against zmq-pull-probe, a PULL
# socket that checks every message (envelope frame + JSON frame) and
# summarises what arrived. Each case compares the eventhandler's report
# with what the probe counted.

. "$(dirname "$0")/lib.sh"

EH="$BIN/sse-eventhandler"
PROBE="$BIN/zmq-pull-probe"
FIXTURES="$SRC/fixtures/events"
SOCK="$T/ngfw/var/sf/run/EventHandler_SSEConnector.sock"
STATE="$T/ngfw/var/sf/sse/eventhandler.epoch"
START_TIME=$(date +%s)

[ -x "$EH" ] || fail "no $EH (build first)"
[ -x "$PROBE" ] || fail "no $PROBE (build first)"

# json_num FILE KEY: the integer after "KEY": in a one-line JSON document.
json_num() {
    sed -n "s/.*\"$2\":\([0-9][0-9]*\).*/\1/p" "$1" | head -n 1
}

# expect_num FILE KEY VALUE: fail unless FILE says "KEY":VALUE.
expect_num() {
    got=$(json_num "$1" "$2")
    [ "$got" = "$3" ] || fail "$(basename "$1"): $2 is '$got', want $3"
}

# start_probe NAME ARGS...: a probe in the background; summary in
# $T/NAME.json, its pid in PROBE_PID.
start_probe() {
    name=$1
    shift
    "$PROBE" --connect "ipc://$SOCK" --timeout-ms 120000 "$@" \
        >"$T/$name.json" 2>"$T/$name.log" &
    PROBE_PID=$!
    PIDS="$PIDS $PROBE_PID"
}

# wait_probe: the probe's exit status must be 0.
wait_probe() {
    prc=0
    wait "$PROBE_PID" || prc=$?
    [ "$prc" -eq 0 ] || fail "probe exited $prc: $(cat "$T/$name.log")"
}

# lines_of FILE: events in a JSON Lines file (blank lines do not count).
lines_of() {
    grep -c '[^[:space:]]' "$1"
}

# --- every fixture is sent once and decodes --------------------------------

n_intrusion=$(lines_of "$FIXTURES/intrusion.jsonl")
n_si=$(lines_of "$FIXTURES/si-connection.jsonl")
n_file=$(lines_of "$FIXTURES/file-malware.jsonl")
n_all=$((n_intrusion + n_si + n_file))
fixture_bytes=$(cat "$FIXTURES"/*.jsonl | tr -d '\n' | wc -c)

start_probe fixtures --count "$n_all"
timeout 120 "$EH" --root "$T" --fixtures "$FIXTURES" --report "$T/r1.json" \
    >"$T/eh1.out" 2>"$T/eh1.log" || fail "eventhandler (fixtures) failed"
wait_probe
expect_num "$T/fixtures.json" count "$n_all"
expect_num "$T/fixtures.json" distinct "$n_all"
expect_num "$T/fixtures.json" malformed 0
expect_num "$T/fixtures.json" min_seq 1
expect_num "$T/fixtures.json" max_seq "$n_all"
expect_num "$T/fixtures.json" bytes "$fixture_bytes"
expect_num "$T/fixtures.json" INTRUSION "$n_intrusion"
expect_num "$T/fixtures.json" CONNECTION_HIGH "$n_si"
expect_num "$T/fixtures.json" FILE_MALWARE "$n_file"
expect_num "$T/r1.json" sent "$n_all"
expect_num "$T/r1.json" last_seq "$n_all"
expect_num "$T/r1.json" bytes "$fixture_bytes"
cmp -s "$T/r1.json" "$T/eh1.out" || fail "--report differs from stdout"
epoch1=$(json_num "$T/r1.json" epoch)
grep -q "\"epochs\":\[$epoch1\]" "$T/fixtures.json" ||
    fail "probe saw other epochs than $epoch1"
grep -q "bound ipc://$SOCK" "$T/eh1.log" || fail "no 'bound' log line"
grep -q "finished: sent $n_all events" "$T/eh1.log" ||
    fail "no 'finished' log line"
pass "fixtures: $n_all events sent once, decoded, counted by type"

# --- generated events padded to an exact size -----------------------------

start_probe gen --count 500 --payloads "$T/gen.payloads"
timeout 120 "$EH" --root "$T" --count 500 --size 1024 --report "$T/r2.json" \
    >"$T/eh2.out" 2>"$T/eh2.log" || fail "eventhandler (generated) failed"
wait_probe
expect_num "$T/gen.json" count 500
expect_num "$T/gen.json" distinct 500
expect_num "$T/gen.json" payload_min 1024
expect_num "$T/gen.json" payload_max 1024
expect_num "$T/gen.json" INTRUSION 167
expect_num "$T/gen.json" CONNECTION_HIGH 167
expect_num "$T/gen.json" FILE_MALWARE 166
expect_num "$T/r2.json" sent 500
expect_num "$T/r2.json" bytes $((500 * 1024))
[ "$(wc -l <"$T/gen.payloads")" -eq 500 ] || fail "payload file incomplete"
if command -v python3 >/dev/null 2>&1 &&
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 8))'; then
    python3 -m json.tool --json-lines "$T/gen.payloads" >/dev/null ||
        fail "a generated payload is not valid JSON"
    pass "generated: 500 payloads of exactly 1024 bytes, all valid JSON"
else
    echo "skip: python3 >= 3.8 not found; JSON validity of payloads not checked"
    pass "generated: 500 payloads of exactly 1024 bytes"
fi

# --- ids stay unique across restarts --------------------------------------

epoch2=$(json_num "$T/r2.json" epoch)
[ "$epoch2" -gt "$epoch1" ] || fail "epoch $epoch2 not above $epoch1"
grep -q "\"epochs\":\[$epoch2\]" "$T/gen.json" ||
    fail "probe saw other epochs than $epoch2"
[ "$(cat "$STATE")" = "$epoch2" ] || fail "state file does not hold $epoch2"
pass "restart: epoch $epoch1 then $epoch2"

# --- a garbled fixture line is refused before anything is sent -------------

mkdir -p "$T/bad"
head -n 3 "$FIXTURES/intrusion.jsonl" >"$T/bad/intrusion-bad.jsonl"
sed -i '2s/}$/,/' "$T/bad/intrusion-bad.jsonl"
brc=0
timeout 60 "$EH" --root "$T" --fixtures "$T/bad" >/dev/null \
    2>"$T/bad.log" || brc=$?
[ "$brc" -eq 2 ] || fail "garbled fixture: exit $brc, want 2"
grep -q "intrusion-bad.jsonl:2:" "$T/bad.log" ||
    fail "garbled fixture: no file:line in $(cat "$T/bad.log")"
[ "$(cat "$STATE")" = "$epoch2" ] || fail "a refused run used up an epoch"
[ ! -e "$SOCK" ] || fail "a refused run bound the socket"

start_probe skip --count 2
timeout 120 "$EH" --root "$T" --fixtures "$T/bad" --skip-bad \
    --report "$T/r3.json" >/dev/null 2>"$T/skip.log" ||
    fail "--skip-bad run failed"
wait_probe
expect_num "$T/r3.json" sent 2
expect_num "$T/skip.json" count 2
grep -q "intrusion-bad.jsonl:2:.*skipped" "$T/skip.log" ||
    fail "--skip-bad did not report the line"
pass "garbled line: refused with file:line (exit 2), skipped with --skip-bad"

# --- a socket path too long for sun_path is refused by name ---------------

long="$T/$(printf 'x%.0s' $(seq 1 110)).sock"
lrc=0
"$EH" --socket "$long" --state-file "$T/long.epoch" --count 1 \
    >/dev/null 2>"$T/long.log" || lrc=$?
[ "$lrc" -eq 2 ] || fail "long socket path: exit $lrc, want 2"
grep -qF "$long" "$T/long.log" || fail "long socket path: path not named"
pass "socket path over 107 bytes refused, naming the path"

# --- a number below its option's bound is named as such --------------------

grc=0
"$EH" --gap-every 1 >/dev/null 2>"$T/gap.log" || grc=$?
[ "$grc" -eq 2 ] || fail "--gap-every 1: exit $grc, want 2"
grep -qF -- '--gap-every: "1" is not a whole number of at least 2' \
    "$T/gap.log" || fail "--gap-every 1: $(cat "$T/gap.log")"
pass "--gap-every 1 is refused as below 2, not as no whole number"

# --- --hold keeps the socket until SIGTERM --------------------------------

start_probe hold --count 20
"$EH" --root "$T" --count 20 --hold --report "$T/r4.json" \
    >"$T/eh4.out" 2>"$T/eh4.log" &
EH_PID=$!
PIDS="$PIDS $EH_PID"
wait_probe
wait_for "report of the held run" 60 test -s "$T/r4.json"
wait_for "holding log line" 60 grep -q "holding" "$T/eh4.log"
kill -0 "$EH_PID" 2>/dev/null || fail "--hold exited before SIGTERM"
[ -S "$SOCK" ] || fail "--hold did not keep the socket bound"
kill -TERM "$EH_PID"
hrc=0
wait "$EH_PID" || hrc=$?
[ "$hrc" -eq 0 ] || fail "--hold: exit $hrc after SIGTERM"
expect_num "$T/r4.json" sent 20
[ ! -e "$SOCK" ] || fail "socket file left after exit"
pass "--hold: sent 20, stayed bound, left cleanly on SIGTERM"

# --- SIGTERM while sending still reports what was sent ---------------------

start_probe term --idle-ms 3000
"$EH" --root "$T" --rate 200 --count 1000000 --report "$T/r5.json" \
    >"$T/eh5.out" 2>"$T/eh5.log" &
EH_PID=$!
PIDS="$PIDS $EH_PID"
wait_for "a progress line" 60 grep -q "sending to .*: [0-9]* sent" \
    "$T/eh5.log"
kill -TERM "$EH_PID"
trc=0
wait "$EH_PID" || trc=$?
[ "$trc" -eq 0 ] || fail "SIGTERM while sending: exit $trc"
wait_probe
sent=$(json_num "$T/r5.json" sent)
[ "$sent" -gt 0 ] || fail "SIGTERM while sending: nothing sent"
grep -q '"interrupted":true' "$T/r5.json" || fail "report not interrupted"
expect_num "$T/term.json" count "$sent"
expect_num "$T/term.json" max_seq "$sent"
expect_num "$T/term.json" distinct "$sent"
pass "SIGTERM while sending: report says $sent, probe got $sent"

# --- the rate and the time leave out the wait for a peer -------------------

# No peer for a while (a second and a half from the moment sending blocked),
# then one: the report's waiting_s holds that wait, elapsed_s the whole of
# the sending, and the rate in the log is over the time spent sending.
"$EH" --root "$T" --rate 2000 --count 4000 --report "$T/r7.json" \
    >"$T/eh7.out" 2>"$T/eh7.log" &
EH_PID=$!
PIDS="$PIDS $EH_PID"
wait_for "the wait for a peer" 60 grep -q "sending waits for one" \
    "$T/eh7.log"
sleep 1.5 # the stretch without a peer that the report must account for
start_probe rate --count 4000
wait_probe
wrc=0
wait "$EH_PID" || wrc=$?
[ "$wrc" -eq 0 ] || fail "paced run with a late peer: exit $wrc"
elapsed=$(jq .elapsed_s "$T/r7.json")
waiting=$(jq .waiting_s "$T/r7.json")
jq -e '.waiting_s >= 1.5 and .elapsed_s > .waiting_s' "$T/r7.json" \
    >/dev/null || fail "elapsed_s $elapsed, waiting_s $waiting"
line=$(grep 'finished: sent 4000 events' "$T/eh7.log") ||
    fail "no finished line: $(tail -n 3 "$T/eh7.log")"
echo "$line" | grep -q "s of it waiting for a peer), [0-9]* events/s" ||
    fail "finished line: $line"
rate=$(echo "$line" | sed 's/.*), \([0-9]*\) events\/s.*/\1/')
want=$(jq '4000 / (.elapsed_s - .waiting_s) | floor' "$T/r7.json")
[ $((rate - want)) -le 2 ] && [ $((want - rate)) -le 2 ] ||
    fail "finished at $rate events/s, not 4000 over the time sending ($want)"
[ "$rate" -le 2100 ] || fail "a run paced at 2000/s says $rate events/s"
pass "a late peer: waiting_s $waiting of elapsed_s $elapsed, and the rate" \
    "($rate events/s) is over the time spent sending"

# A shorter wait for a peer (under the pacer's one second of tolerated
# lag) moves the schedule on: the events due during it follow at the rate,
# so the time spent sending is the count over the rate, not less (a burst
# to catch up would send 1,000 of these 4,000 events at once).
"$EH" --root "$T" --rate 2000 --count 4000 --report "$T/r9.json" \
    >"$T/eh9.out" 2>"$T/eh9.log" &
EH_PID=$!
PIDS="$PIDS $EH_PID"
wait_for "the wait for a peer" 60 grep -q "sending waits for one" \
    "$T/eh9.log"
sleep 0.5 # the stretch without a peer, shorter than the pacer's lag limit
start_probe shortwait --count 4000
wait_probe
wrc=0
wait "$EH_PID" || wrc=$?
[ "$wrc" -eq 0 ] || fail "paced run with a peer 0.5 s late: exit $wrc"
jq -e '.waiting_s >= 0.5 and .elapsed_s - .waiting_s >= 1.9' "$T/r9.json" \
    >/dev/null || fail "a peer 0.5 s late: the events due meanwhile came in" \
    "a burst: $(cat "$T/r9.json")"
pass "a peer 0.5 s late: 4000 events at 2000/s still take 2 s of sending" \
    "($(jq -c '{elapsed_s, waiting_s}' "$T/r9.json"))"

# Stopped before anything could be sent: the time it tried is reported.
"$EH" --root "$T" --count 10 --report "$T/r8.json" --linger-ms 0 \
    >"$T/eh8.out" 2>"$T/eh8.log" &
EH_PID=$!
PIDS="$PIDS $EH_PID"
wait_for "the wait for a peer" 60 grep -q "sending waits for one" \
    "$T/eh8.log"
sleep 1 # the time spent trying, which the report must not call 0
kill -TERM "$EH_PID"
wait "$EH_PID" || true
jq -e '.sent == 0 and .elapsed_s >= 1 and .waiting_s >= 1' "$T/r8.json" \
    >/dev/null || fail "stopped while waiting: $(cat "$T/r8.json")"
grep -q 'stopped by signal 15: sent 0 events .* in [1-9][0-9.]* s' \
    "$T/eh8.log" || fail "stop line: $(grep stopped "$T/eh8.log")"
pass "stopped while waiting for a peer: the report says how long, not 0 s"

# --- a lost state file still gives a fresh epoch ---------------------------

rm -f "$STATE"
timeout 60 "$EH" --root "$T" --count 0 >"$T/r6.json" 2>"$T/eh6.log" ||
    fail "run after losing the state file failed"
epoch6=$(json_num "$T/r6.json" epoch)
[ "$epoch6" -ge "$START_TIME" ] ||
    fail "epoch $epoch6 after a lost state file is older than the test"
pass "lost state file: epoch restarts from the clock ($epoch6)"
