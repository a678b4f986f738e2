#!/usr/bin/env bash
# ssesim run, the scenario runner, from the outside: the example scenarios
# pass and give JUnit and TAP; a bad file is refused with its place before
# any process starts; a failing expectation exits 1 and leaves its
# artefacts; a fault is set and cleared; SIGINT stops everything, exit 3.
. "$(dirname "$0")/lib.sh"

RUN="$BIN/ssesim run"
EXAMPLES="$SRC/scenarios/examples"
nexamples=$(find "$EXAMPLES" -name '*.yaml' | wc -l)
[ "$nexamples" -ge 1 ] || fail "no example scenarios in $EXAMPLES"

# Stand-ins for the three programs: each leaves a mark when started, so
# that a test can tell that nothing was. sse-connector --check is passed on
# to the real one: it is how the runner checks a scenario's settings.
mkdir -p "$T/fakebin"
for prog in ssesim sse-connector sse-eventhandler; do
    cat >"$T/fakebin/$prog" <<EOF
#!/bin/sh
case " \$* " in *" --check "*) exec "$BIN/$prog" "\$@" ;; esac
echo "$prog \$*" >>"$T/started"
exit 1
EOF
    chmod +x "$T/fakebin/$prog"
done

# 1. The examples pass, with one JUnit testcase each.
(cd "$T" && $RUN --jobs 3 --junit "$T/out.xml" "$EXAMPLES") >"$T/run.log" 2>&1 ||
    fail "examples: exit $?: $(cat "$T/run.log")"
grep -q "^$nexamples scenarios\?: $nexamples passed" "$T/run.log" ||
    fail "examples: summary: $(tail -n 1 "$T/run.log")"
[ "$(grep -c '<testcase ' "$T/out.xml")" = "$nexamples" ] ||
    fail "out.xml: not $nexamples testcases: $(cat "$T/out.xml")"
grep -q 'failures="0" errors="0"' "$T/out.xml" || fail "out.xml: failures"
grep -q 'classname="[^"]*examples"' "$T/out.xml" ||
    fail "out.xml: classname is not the directory"
[ ! -e "$T/ssesim-artifacts" ] || fail "passed scenarios left artefacts"
pass "the $nexamples example scenarios pass; out.xml has one testcase each"

# 2. A misspelt key: exit 2, FILE:LINE:COLUMN and the keys expected, and
# no process started, not even for the good files beside it.
mkdir -p "$T/bad"
cp "$EXAMPLES"/*.yaml "$T/bad/"
first=$(ls "$T/bad" | head -n 1)
sed -i '0,/^steps:/s//stpes:/' "$T/bad/$first"
line=$(grep -n '^stpes:' "$T/bad/$first" | cut -d: -f1)
rc=0
$RUN --bin "$T/fakebin" --artifacts "$T/a-bad" "$T/bad" >"$T/bad.out" 2>&1 ||
    rc=$?
[ "$rc" = 2 ] || fail "misspelt key: exit $rc, not 2: $(cat "$T/bad.out")"
grep -qF "$T/bad/$first:$line:1: unknown key \"stpes\" (expected one of:" \
    "$T/bad.out" || fail "misspelt key: message: $(cat "$T/bad.out")"
grep -q 'steps)' "$T/bad.out" || fail "misspelt key: expected keys not named"
[ ! -e "$T/started" ] || fail "a process was started: $(cat "$T/started")"
pass "a misspelt key exits 2 naming $first:$line:1, and starts nothing"

# The same for a copy of the fault scenarios with a fault rule's member
# misspelt: the fault engine's parser names it at its place in the file.
mkdir -p "$T/badf"
cp "$SRC"/scenarios/faults/*.yaml "$T/badf/"
sed -i 's/action: tcp.partition, host:/action: tcp.partition, hots:/' \
    "$T/badf/tcp-partition-ingest.yaml"
fline=$(grep -n 'tcp.partition, hots:' "$T/badf/tcp-partition-ingest.yaml" |
    cut -d: -f1)
fcol=$(sed -n "${fline}p" "$T/badf/tcp-partition-ingest.yaml" |
    awk '{print index($0, "hots:")}')
rc=0
$RUN --bin "$T/fakebin" --artifacts "$T/a-badf" "$T/badf" >"$T/badf.out" \
    2>&1 || rc=$?
[ "$rc" = 2 ] || fail "misspelt fault member: exit $rc: $(cat "$T/badf.out")"
want="/badf/tcp-partition-ingest\.yaml:$fline:$fcol: steps\[[0-9]+\]\.fault:"
want="$want unknown field \"hots\" \(expected one of: action, host,"
grep -qE "$want" "$T/badf.out" ||
    fail "misspelt fault member: $(cat "$T/badf.out")"
[ "$(grep -c . "$T/badf.out")" = 1 ] ||
    fail "misspelt fault member: more than its error: $(cat "$T/badf.out")"
[ ! -e "$T/started" ] || fail "a process was started: $(cat "$T/started")"
pass "a misspelt fault member in a copy of scenarios/faults exits 2 naming" \
    "tcp-partition-ingest.yaml:$fline:$fcol, and starts nothing"

# A wrong type deep in a step, and a bad duration: the same.
cat >"$T/types.yaml" <<'EOF'
name: types
steps:
  - send: {count: 10}
  - expect: {status: Enrolled, within: soon}
EOF
rc=0
$RUN --bin "$T/fakebin" "$T/types.yaml" >"$T/types.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "bad duration: exit $rc"
grep -qF "$T/types.yaml:4:40: steps[1].expect.within: expected a duration such as \"30s\", got \"soon\"" \
    "$T/types.out" || fail "bad duration: message: $(cat "$T/types.out")"
[ ! -e "$T/started" ] || fail "a process was started: $(cat "$T/started")"
pass "a bad duration is named with its place"

# A misspelt key among the connector's properties: the connector only
# warns about it in a device's file, but in a scenario it is a mistake.
# --dry-run and a run both exit 2 naming the key's place in the scenario.
cat >"$T/props.yaml" <<'EOF'
name: props
connector:
  properties:
    connector_fqdn: lab.example
    registraton_interval: 60
steps:
  - wait: 100ms
EOF
for mode in --dry-run --jobs=1; do
    rc=0
    $RUN $mode --bin "$T/fakebin" "$T/props.yaml" >"$T/props.out" 2>&1 ||
        rc=$?
    [ "$rc" = 2 ] ||
        fail "misspelt property ($mode): exit $rc: $(cat "$T/props.out")"
    want="$T/props.yaml:5:5: connector.properties: sse-connector --check:"
    want="$want unknown key \"registraton_interval\" (expected one of:"
    want="$want registration_interval, connector_port,"
    grep -qF "$want" "$T/props.out" ||
        fail "misspelt property ($mode): message: $(cat "$T/props.out")"
    [ ! -e "$T/started" ] || fail "a process was started: $(cat "$T/started")"
done
pass "a misspelt connector property exits 2 naming props.yaml:5:5, the key" \
    "and the keys expected, with --dry-run too, and starts nothing"

# Output paths that cannot be written are bad usage, found before any
# scenario runs: a file given as --artifacts, a --junit where no file can
# be made (even root cannot create one in /proc).
: >"$T/afile"
rc=0
$RUN --bin "$T/fakebin" --artifacts "$T/afile" "$EXAMPLES" \
    >"$T/out1.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "--artifacts FILE: exit $rc: $(cat "$T/out1.out")"
grep -qF "ssesim run: --artifacts $T/afile: $T/afile is not a directory" \
    "$T/out1.out" || fail "--artifacts FILE: message: $(cat "$T/out1.out")"
rc=0
$RUN --bin "$T/fakebin" --junit /proc/nope.xml "$EXAMPLES" \
    >"$T/out2.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "--junit /proc/nope.xml: exit $rc: $(cat "$T/out2.out")"
grep -qF "ssesim run: --junit /proc/nope.xml: cannot create" "$T/out2.out" ||
    fail "--junit /proc/nope.xml: message: $(cat "$T/out2.out")"
[ ! -e "$T/started" ] || fail "a process was started: $(cat "$T/started")"
pass "--artifacts naming a file and --junit in /proc exit 2 before" \
    "anything starts"

# 3. --list: one line per scenario, with tags, cases and fault actions.
$RUN --list "$EXAMPLES" >"$T/list.out" || fail "--list failed"
[ "$(wc -l <"$T/list.out")" = "$nexamples" ] ||
    fail "--list: not $nexamples lines: $(cat "$T/list.out")"
grep -q '^happy-path tags=examples,smoke cases=- faults=- file=' \
    "$T/list.out" || fail "--list: $(cat "$T/list.out")"
pass "--list prints one line per scenario"

# --shard: the shards split the scenarios between them, each once.
$RUN --list --shard 1/2 "$EXAMPLES" >"$T/s1.out"
$RUN --list --shard 2/2 "$EXAMPLES" >"$T/s2.out"
[ "$(cat "$T/s1.out" "$T/s2.out" | sort | uniq | wc -l)" = "$nexamples" ] &&
    [ "$(cat "$T/s1.out" "$T/s2.out" | wc -l)" = "$nexamples" ] ||
    fail "--shard: the shards do not split the list"
pass "--shard 1/2 and 2/2 split the scenarios"

# 4. --dry-run: the plan, every step numbered; nothing started.
$RUN --dry-run --bin "$T/fakebin" "$EXAMPLES" >"$T/plan.out" 2>&1 ||
    fail "--dry-run: $(cat "$T/plan.out")"
grep -q "^plan: $nexamples of $nexamples scenarios" "$T/plan.out" ||
    fail "--dry-run: $(head -n 3 "$T/plan.out")"
grep -q '^   1\. line [0-9]* ' "$T/plan.out" || fail "--dry-run: no steps"
[ ! -e "$T/started" ] || fail "--dry-run started: $(cat "$T/started")"
pass "--dry-run prints the plan and starts nothing"

# 5. An expectation that cannot hold: exit 1, the failure named, and the
# artefacts kept.
cat >"$T/never.yaml" <<'EOF'
name: never-enrolled
description: no FMC step, so the connector cannot be Enrolled
steps:
  - wait: 100ms
  - expect: {status: Enrolled, within: 1s}
EOF
rc=0
$RUN --grace 1s --artifacts "$T/art" "$T/never.yaml" >"$T/never.out" 2>&1 ||
    rc=$?
[ "$rc" = 1 ] || fail "never: exit $rc, not 1: $(cat "$T/never.out")"
grep -qF "FAIL never-enrolled: step 2 ($T/never.yaml:5) expect status Enrolled within 1s: status was Disabled" \
    "$T/never.out" || fail "never: message: $(cat "$T/never.out")"
for f in connector.log ssesim.log journal.json status.json ledger.json \
    never.yaml summary.txt connector.yaml; do
    [ -s "$T/art/never-enrolled/$f" ] || fail "artefact $f missing or empty"
done
grep -q '"entries"' "$T/art/never-enrolled/journal.json" ||
    fail "journal.json is not the journal"
grep -q '"status": "Disabled"' "$T/art/never-enrolled/status.json" ||
    fail "status.json: $(cat "$T/art/never-enrolled/status.json")"
grep -q '^result: *FAIL' "$T/art/never-enrolled/summary.txt" ||
    fail "summary.txt: $(cat "$T/art/never-enrolled/summary.txt")"
pass "an expectation that cannot hold exits 1 and leaves its artefacts"

# 6. --tap: the version, the plan, one ok or not ok line per scenario.
rc=0
$RUN --tap --grace 1s --artifacts "$T/art2" "$T/never.yaml" \
    "$EXAMPLES/happy-path.yaml" >"$T/tap.out" 2>"$T/tap.err" || rc=$?
[ "$rc" = 1 ] || fail "tap: exit $rc: $(cat "$T/tap.err")"
[ "$(sed -n 1p "$T/tap.out")" = "TAP version 13" ] || fail "tap: no version"
[ "$(sed -n 2p "$T/tap.out")" = "1..2" ] || fail "tap: no plan"
grep -q '^not ok 1 - never-enrolled$' "$T/tap.out" || fail "tap: not ok 1"
grep -q '^ok 2 - happy-path' "$T/tap.out" || fail "tap: ok 2"
[ "$(grep -cE '^(not )?ok [0-9]+ - ' "$T/tap.out")" = 2 ] ||
    fail "tap: not 2 test lines"
if grep -vE '^(TAP version 13|1\.\.[0-9]+|(not )?ok [0-9]+ - .*|  .*)$' \
    "$T/tap.out"; then
    fail "tap: lines that are not TAP"
fi
pass "--tap writes TAP version 13 with a plan and one line per scenario"

# 7. A fault set, observed, and cleared: the api-sse 403 of registration.
cat >"$T/reg403.yaml" <<'EOF'
name: api-sse-403-registration
tags: [faults, registration]
cases: [K05]
time_scale: 20
seed: 7
connector:
  properties: {registration_interval: 60}
steps:
  - fault: {action: http.status, host: api-sse.cisco.com,
            path: /providers/sse/services/registration, status: 403,
            as: reg403}
  - fmc: {activation: whole, wait: false}
  - expect:
      log: {level: error,
            pattern: 'registration with api-sse.cisco.com \(region us.*HTTP 403'}
      within: 60s
  - expect: {status: {not: Enrolled}, for: 20s}
  - expect:
      journal: {host: api-sse.cisco.com, event: request, status: 403,
                min: 1}
      within: 60s
  - clear: reg403
  - fmc: {}
  - expect: {status: Enrolled, within: 2m}
EOF
$RUN --list "$T/reg403.yaml" | grep -q 'cases=K05 faults=http.status ' ||
    fail "--list: fault actions not listed"
(cd "$T" && $RUN "$T/reg403.yaml") >"$T/reg403.out" 2>&1 ||
    fail "fault scenario: $(cat "$T/reg403.out")"
pass "a fault rule is set, bites, and is cleared"

# 8. SIGINT: the scenario stops, every part is stopped and reaped, the
# JUnit file is written, exit 3.
cat >"$T/long.yaml" <<'EOF'
name: long
steps:
  - wait: 5m
EOF
$RUN --junit "$T/int.xml" --artifacts "$T/art3" "$T/long.yaml" \
    >"$T/int.out" 2>&1 &
runner=$!
PIDS="$PIDS $runner"
descendants() {
    for c in $(pgrep -P "$1"); do
        echo "$c"
        descendants "$c"
    done
}
has_connector() {
    for p in $(descendants "$runner"); do
        grep -q sse-connector "/proc/$p/cmdline" 2>/dev/null && return 0
    done
    return 1
}
wait_for "the scenario's parts" 60 has_connector
parts=$(descendants "$runner")
kill -INT "$runner"
rc=0
wait "$runner" || rc=$?
[ "$rc" = 3 ] || fail "SIGINT: exit $rc, not 3: $(cat "$T/int.out")"
for p in $parts; do
    if kill -0 "$p" 2>/dev/null; then
        fail "process $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) outlived the runner"
    fi
done
grep -q '<error message="interrupted' "$T/int.xml" ||
    fail "SIGINT: JUnit: $(cat "$T/int.xml")"
pass "SIGINT stops and reaps every part, writes JUnit, exits 3"
