#!/usr/bin/env bash
# ssesim conform can fail, and says why: sselab's connector through a
# profile whose template points it at a socket where no EventHandler is
# (fixtures/connectors/sselab-wrong-socket.yaml) fails the delivery
# behaviours and passes the local API one: exit 1, the failing ids with
# their failed expectation and last value in the report. Bad profiles and
# suites exit 2 naming file, line and field before anything starts; a
# plain command gets the default profile.
. "$(dirname "$0")/lib.sh"

SUITE="$SRC/scenarios/conformance"
mkdir -p "$T/suite"
cp "$SUITE/VERSION" "$SUITE/api-create-409.yaml" \
    "$SUITE/delivery-every-event.yaml" \
    "$SUITE/recover-eventhandler-missing.yaml" "$T/suite/"

# 1. The broken profile: exit 1, the two delivery ids fail, 409 passes.
rc=0
(cd "$T" && "$BIN/ssesim" conform \
    --connector "$SRC/fixtures/connectors/sselab-wrong-socket.yaml" \
    --suite "$T/suite" --jobs 2 --report "$T/broken.json") \
    >"$T/broken.log" 2>&1 || rc=$?
[ "$rc" = 1 ] ||
    fail "broken profile: exit $rc, not 1: $(tail -n 30 "$T/broken.log")"
python3 - "$T/broken.json" <<'PY' || fail "broken.json"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["result"] == "FAIL" and doc["exit_code"] == 1, doc["result"]
by = {b["id"]: b for b in doc["behaviours"]}
assert by["conf.api.create-409"]["result"] == "pass", by["conf.api.create-409"]
for i in ("conf.delivery.every-event", "conf.recover.eventhandler-missing"):
    b = by[i]
    assert b["result"] == "fail" and b["level"] == "must", b
    assert b["expected"].startswith("expect ingest delivered all"), b
    assert b["observed"].startswith("delivered 0 of "), b
    assert b["where"].startswith(b["file"] + ":"), b
assert doc["counts"]["must"] == {"pass": 1, "fail": 2, "error": 0}
print("ok: the two delivery behaviours fail with their last value")
PY
grep -q "^MUST   FAIL    conf.delivery.every-event" "$T/broken.txt" ||
    fail "broken.txt: $(cat "$T/broken.txt")"
pass "a profile that breaks delivery fails conf.delivery.every-event and" \
    "conf.recover.eventhandler-missing, exit 1; conf.api.create-409 passes"

# Stand-ins that leave a mark when started: nothing may start on bad input.
mkdir -p "$T/fakebin"
for prog in ssesim sse-connector sse-eventhandler; do
    printf '#!/bin/sh\necho "%s $*" >>"%s/started"\nexit 1\n' "$prog" "$T" \
        >"$T/fakebin/$prog"
    chmod +x "$T/fakebin/$prog"
done

# 2. A misspelt key in a profile: exit 2 with file:line:column and field.
cp "$SRC/fixtures/connectors/sselab.yaml" "$T/bad.yaml"
sed -i 's/^local_api: {port: ports_file}/local_api: {prot: ports_file}/' \
    "$T/bad.yaml"
line=$(grep -n '^local_api:' "$T/bad.yaml" | cut -d: -f1)
rc=0
"$BIN/ssesim" conform --bin "$T/fakebin" --connector "$T/bad.yaml" \
    --suite "$T/suite" --report "$T/bad.json" >"$T/bad.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "bad profile: exit $rc: $(cat "$T/bad.out")"
want="$T/bad.yaml:$line:13: local_api: unknown key \"prot\""
want="$want (expected one of: port)"
grep -qF "$want" "$T/bad.out" ||
    fail "bad profile: message: $(cat "$T/bad.out")"
pass "a misspelt profile key exits 2 naming bad.yaml:$line:13: local_api"

# An unknown placeholder inside a template: its own line and column.
cp "$SRC/fixtures/connectors/sselab.yaml" "$T/bad2.yaml"
sed -i 's/time_scale: {time_scale}/time_scale: {time_scal}/' "$T/bad2.yaml"
line=$(grep -n 'time_scale: {time_scal}' "$T/bad2.yaml" | cut -d: -f1)
col=$(sed -n "${line}p" "$T/bad2.yaml" | awk '{print index($0, "{time_scal}")}')
rc=0
"$BIN/ssesim" conform --bin "$T/fakebin" --connector "$T/bad2.yaml" \
    --suite "$T/suite" --report "$T/bad.json" >"$T/bad2.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "bad placeholder: exit $rc: $(cat "$T/bad2.out")"
want="$T/bad2.yaml:$line:$col: files.settings.template:"
want="$want unknown placeholder {time_scal}"
grep -qF "$want" "$T/bad2.out" ||
    fail "bad placeholder: message: $(cat "$T/bad2.out")"
pass "an unknown placeholder exits 2 naming bad2.yaml:$line:$col"

# A misspelt {setting:KEY}: once, at the profile's own line, with the key
# it is nearest to, not once per scenario that sets the right one.
cp "$SRC/fixtures/connectors/sselab.yaml" "$T/bad3.yaml"
sed -i 's/sink_backoff_max|1m/sink_backof_max|1m/' "$T/bad3.yaml"
line=$(grep -n 'sink_backof_max|1m' "$T/bad3.yaml" | cut -d: -f1)
col=$(sed -n "${line}p" "$T/bad3.yaml" | awk '{print index($0, "{setting")}')
rc=0
"$BIN/ssesim" conform --bin "$T/fakebin" --connector "$T/bad3.yaml" \
    --report "$T/bad.json" >"$T/bad3.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "bad setting key: exit $rc: $(cat "$T/bad3.out")"
want="$T/bad3.yaml:$line:$col: files.settings.template: unknown setting"
want="$want Globals.Contexts.Events.sink_backof_max (did you mean"
want="$want Globals.Contexts.Events.sink_backoff_max?)"
grep -qF "$want" "$T/bad3.out" ||
    fail "bad setting key: message: $(cat "$T/bad3.out")"
[ "$(grep -c 'sink_backof' "$T/bad3.out")" = 1 ] ||
    fail "bad setting key: said more than once: $(cat "$T/bad3.out")"
pass "a misspelt {setting:KEY} exits 2 once, at bad3.yaml:$line:$col"

# A suite without VERSION, and a scenario that is no behaviour: exit 2.
mkdir -p "$T/nover" && cp "$T/suite/api-create-409.yaml" "$T/nover/"
rc=0
"$BIN/ssesim" conform --bin "$T/fakebin" --connector "$BIN/sse-connector" \
    --suite "$T/nover" >"$T/nover.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "no VERSION: exit $rc: $(cat "$T/nover.out")"
grep -q "nover/VERSION: No such file" "$T/nover.out" ||
    fail "no VERSION: $(cat "$T/nover.out")"
cp "$SUITE/VERSION" "$T/nover/"
cp "$SRC/scenarios/examples/happy-path.yaml" "$T/nover/"
rc=0
"$BIN/ssesim" conform --bin "$T/fakebin" --connector "$BIN/sse-connector" \
    --suite "$T/nover" --report "$T/nover.json" >"$T/nover.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "no conformance key: exit $rc: $(cat "$T/nover.out")"
grep -q "happy-path.yaml:1:1: missing required key \"conformance\"" \
    "$T/nover.out" || fail "no conformance key: $(cat "$T/nover.out")"
[ ! -e "$T/started" ] || fail "a process was started: $(cat "$T/started")"
pass "a suite without VERSION, or with a scenario that is no behaviour," \
    "exits 2 and starts nothing"

# 3. sselab's own scenarios read sselab-only things: on a foreign
# connector they are refused, one line each, never passed.
rc=0
"$BIN/ssesim" run --bin "$T/fakebin" --connector "$BIN/sse-connector" \
    "$SRC/scenarios/examples/happy-path.yaml" >"$T/foreign.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "sselab-only scenario: exit $rc: $(cat "$T/foreign.out")"
want="happy-path.yaml:[0-9]*:5: steps\[0\].expect.status:"
want="$want status Disabled is sselab's own"
grep -q "$want" "$T/foreign.out" ||
    fail "sselab-only status: $(cat "$T/foreign.out")"
grep -q "steps\[5\].expect.endpoint: reads sselab's status detail" \
    "$T/foreign.out" || fail "sselab-only endpoint: $(cat "$T/foreign.out")"
[ ! -e "$T/started" ] || fail "a process was started: $(cat "$T/started")"
pass "a scenario reading sselab's status on a foreign connector exits 2" \
    "naming each expectation"

# The suite itself reads nothing sselab-only: a connector that
# understands nothing of sselab's own may play every behaviour.
"$BIN/ssesim" run --dry-run --bin "$BIN" --connector /bin/true "$SUITE" \
    >"$T/dry.out" 2>&1 || fail "the suite is not connector-agnostic:" \
    "$(grep -v '^ ' "$T/dry.out" | head -n 20)"
n=$(grep -c '^conf-' "$T/dry.out")
[ "$n" = "$(find "$SUITE" -name '*.yaml' | wc -l)" ] ||
    fail "dry run planned $n behaviours"
pass "every behaviour of the suite is playable by a connector that" \
    "understands nothing of sselab's own ($n planned)"

# 4. A plain command gets the default profile (the --root/--ports-file
# contract, no time scale: real time) and plays a behaviour for real.
mkdir -p "$T/plain"
cp "$SUITE/VERSION" "$SUITE/api-create-409.yaml" "$T/plain/"
rc=0
(cd "$T" && "$BIN/ssesim" conform --connector "$BIN/sse-connector" \
    --suite "$T/plain" --report "$T/plain.json") \
    >"$T/plain.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "plain command: exit $rc: $(tail -n 30 "$T/plain.log")"
python3 - "$T/plain.json" >"$T/plain.check" 2>&1 <<'PY' || plain_bad=1
import json, sys
doc = json.load(open(sys.argv[1]))
c = doc["connector"]
assert c["default_profile"] is True and c["name"] == "default", c
want = "/sse-connector --root {root} --ports-file {ports_file}"
assert c["command"].endswith(want), c
assert c["understands"] == [], c
by = {b["id"]: b for b in doc["behaviours"]}
assert by["conf.api.create-409"]["result"] == "pass", by["conf.api.create-409"]
assert by["conf.api.create-409"]["time_scale"] == 1, by["conf.api.create-409"]
print("ok: the default profile ran conf.api.create-409 in real time")
PY
[ -z "${plain_bad:-}" ] ||
    fail "plain.json: $(cat "$T/plain.check"; tail -n 20 "$T/plain.log")"
cat "$T/plain.check"
grep -q "does not understand time_scale: every scenario runs at scale 1" \
    "$T/plain.log" || fail "no note of the time scale: $(head "$T/plain.log")"
pass "a plain command gets the default profile and passes conf.api.create-409" \
    "at scale 1"

# 5. A connector that exits before its local API answers is no verdict on
# it: the behaviour is an error, exit 3, and the report says why.
rc=0
(cd "$T" && "$BIN/ssesim" conform --connector /bin/false --suite "$T/plain" \
    --report "$T/false.json") >"$T/false.log" 2>&1 || rc=$?
[ "$rc" = 3 ] || fail "/bin/false: exit $rc, not 3: $(tail "$T/false.log")"
python3 - "$T/false.json" >"$T/false.check" 2>&1 <<'PY' || false_bad=1
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["result"] == "ERROR" and doc["exit_code"] == 3, doc["result"]
b = doc["behaviours"][0]
assert b["result"] == "error", b
assert "exited with 1 before its local API answered" in b["message"], b
PY
[ -z "${false_bad:-}" ] ||
    fail "false.json: $(cat "$T/false.check"; tail -n 20 "$T/false.log")"
pass "a connector that exits at once is a harness error: exit 3, result error"

# 6. A profile whose log: is not where the connector writes: the failure
# and the artefacts' summary.txt say the log was never written, instead of
# a folder without connector.log and no word why.
sed "s#^log: .*#log: '{root}/var/log/elsewhere.log'#" \
    "$SRC/fixtures/connectors/sselab.yaml" >"$T/wrong-log.yaml"
cat >"$T/log-never.yaml" <<'YAML'
name: t-log-never-written
time_scale: 20
steps:
  - expect:
      log: {match: line, min: 1, portable: true, pattern: '.'}
      within: 2s
YAML
rc=0
"$BIN/ssesim" run --bin "$BIN" --connector "$T/wrong-log.yaml" \
    --artifacts "$T/wl" "$T/log-never.yaml" >"$T/wl.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "wrong log path: exit $rc: $(cat "$T/wl.out")"
grep -q "the profile's log /.*/var/log/elsewhere.log was never written" \
    "$T/wl.out" ||
    fail "wrong log path: the failure does not say so: $(cat "$T/wl.out")"
grep -q "^connector.log: not in this folder: the profile's log .*/var/log/" \
    "$T/wl/t-log-never-written/summary.txt" ||
    fail "summary.txt: $(cat "$T/wl/t-log-never-written/summary.txt")"
[ ! -e "$T/wl/t-log-never-written/connector.log" ] ||
    fail "a connector.log in the artefacts"
pass "a profile's log path the connector never writes is named in the" \
    "failure and in summary.txt"
