#!/usr/bin/env bash
# ssesim triage from the outside: real scenarios (api-sse's 403 at
# registration, an expired certificate, the missing EventHandler socket)
# are played with --keep, and triage over the connector.log each left
# names the right case and its reproduction; the JSON says the same;
# the sample logs of fixtures/logs give what their README says; a log of
# unknown errors lists them as unmatched and exits 1; bad usage and a file
# that cannot be read exit 2 naming it; every reproduction the table
# names exists and tags its case.
. "$(dirname "$0")/lib.sh"

TRIAGE="$BIN/ssesim triage"

# 1. Three real failures, played by the harness, their logs kept.
"$BIN/ssesim" run --jobs 2 --keep --artifacts "$T/art" \
    "$SRC/scenarios/faults/http-status-403-registration.yaml" \
    "$SRC/scenarios/faults/tls-expired-api.yaml" \
    "$SRC/scenarios/faults/local-eventhandler-missing.yaml" \
    >"$T/run.log" 2>&1 || fail "scenarios: exit $?: $(cat "$T/run.log")"

# expect_case NAME ID FILE: triage of scenario NAME's log reports case ID,
# in text and in JSON, with the reproduction FILE, which exists.
expect_case() {
    name=$1 id=$2 file=$3
    log="$T/art/$name/connector.log"
    [ -s "$log" ] || fail "$name: no connector.log in the artefacts"
    $TRIAGE "$log" >"$T/$name.txt" 2>"$T/$name.err" ||
        fail "$name: triage exit $?: $(cat "$T/$name.err")"
    grep -q "^$id  " "$T/$name.txt" ||
        fail "$name: no $id in: $(cat "$T/$name.txt")"
    grep -q "reproduce: ssesim run scenarios/cases/$file\$" "$T/$name.txt" ||
        fail "$name: no reproduction $file: $(cat "$T/$name.txt")"
    grep -q "^      $log:[0-9][0-9]*  20[0-9-]*T[0-9:.]*Z  " "$T/$name.txt" ||
        fail "$name: no evidence line file:line time: $(cat "$T/$name.txt")"
    [ -f "$SRC/scenarios/cases/$file" ] || fail "$name: $file is missing"
    $TRIAGE --json "$log" >"$T/$name.json" || fail "$name: --json exit $?"
    jq -e --arg id "$id" --arg f "ssesim run scenarios/cases/$file" \
        '.cases[] | select(.id == $id) | select(.reproduce == $f)
         | select(.count >= 1 and (.evidence | length) >= 1)
         | select(.first <= .last)' "$T/$name.json" >/dev/null ||
        fail "$name: JSON lacks $id: $(cat "$T/$name.json")"
    pass "$name: $id, reproduced by scenarios/cases/$file"
}

expect_case api-sse-403-registration K11 k11-bare-403.yaml
expect_case tls-expired-api K15 k15-expired-server-cert.yaml
expect_case eventhandler-socket-missing K29 k29-eventhandler-socket.yaml

# The expired certificate's evidence is the line with notAfter, and the
# case is cleared by the enrolment that followed.
jq -e '.cases[] | select(.id == "K15") | .evidence[0].msg
       | test("certificate has expired: subject .*notAfter")' \
    "$T/tls-expired-api.json" >/dev/null || fail "K15 evidence line"
jq -e '.cases[] | select(.id == "K15") | .cleared != null' \
    "$T/tls-expired-api.json" >/dev/null || fail "K15 not cleared"
# The 403 is not taken for an expired certificate, nor the reverse.
jq -e '[.cases[].id] | index("K15") == null' \
    "$T/api-sse-403-registration.json" >/dev/null || fail "403 gave K15"
jq -e '[.cases[].id] | index("K11") == null' \
    "$T/tls-expired-api.json" >/dev/null || fail "expired gave K11"
pass "evidence, recovery and no cross-talk between the three"

# 2. Several files at once: cases of both, each line named by its file.
$TRIAGE --json "$T/art/tls-expired-api/connector.log" \
    "$T/art/api-sse-403-registration/connector.log" >"$T/both.json" ||
    fail "two files: exit $?"
jq -e '([.cases[].id] | index("K11") != null and index("K15") != null)
       and (.files | length == 2)' "$T/both.json" >/dev/null ||
    fail "two files: $(cat "$T/both.json")"
pass "two logs at once give the cases of both"

# 3. The sample logs of fixtures/logs.
for spec in k05-wrong-region.log:K05 k15-expired-server-cert.log:K15 \
    k20-proxy-407.json.log:K20 k29-eventhandler-socket.log:K29; do
    f=${spec%%:*} id=${spec##*:}
    $TRIAGE --json "$SRC/fixtures/logs/$f" >"$T/fx.json" ||
        fail "fixtures/logs/$f: exit $?"
    jq -e --arg id "$id" '.cases[0].id == $id' "$T/fx.json" >/dev/null ||
        fail "fixtures/logs/$f: first case is not $id: $(cat "$T/fx.json")"
done
pass "fixtures/logs: each sample's first case is its own"

# 3b. A rotated, gzip-compressed log reads as the plain one; a damaged one
# stops the run naming the file, exit 2.
gzip -c "$SRC/fixtures/logs/k15-expired-server-cert.log" \
    >"$T/connector.log.1.gz"
$TRIAGE --json "$T/connector.log.1.gz" >"$T/gz.json" 2>"$T/gz.err" ||
    fail "gzip'd log: exit $?: $(cat "$T/gz.err")"
$TRIAGE --json "$SRC/fixtures/logs/k15-expired-server-cert.log" \
    >"$T/plain.json" || fail "plain log: exit $?"
jq -e '.cases[0].id == "K15"' "$T/gz.json" >/dev/null ||
    fail "gzip'd log: first case is not K15: $(cat "$T/gz.json")"
shape='[.connector_lines, [.cases[] | .id, .count]]'
[ "$(jq -c "$shape" "$T/gz.json")" = "$(jq -c "$shape" "$T/plain.json")" ] ||
    fail "gzip'd log and plain log differ"
head -c 200 "$T/connector.log.1.gz" >"$T/cut.log.gz"
rc=0
$TRIAGE "$T/cut.log.gz" >"$T/cut.out" 2>"$T/cut.err" || rc=$?
[ "$rc" = 2 ] && grep -q "cut.log.gz: " "$T/cut.err" ||
    fail "damaged gzip: exit $rc: $(cat "$T/cut.err")"
[ ! -s "$T/cut.out" ] || fail "damaged gzip: printed: $(cat "$T/cut.out")"
pass "a gzip'd log reads as the plain one; a damaged one exits 2, named"

# 3c. EventHandler's socket missing right after the connector's start and
# connected within seconds: a start-up note, not K29. Late, never, or
# again later: K29.
# eh_log FILE CONNECT_AT [LATER]: a start at 09:00:00, the socket missing,
# EventHandler connected at CONNECT_AT ("" never), then LATER lines.
eh_log() {
    p=/ngfw/var/sf/run/EventHandler_SSEConnector.sock
    at='time="2026-12-04T09:00:'
    {
        echo "${at}00.100Z\" level=info msg=\"[vm][loop.c:387 loop:conn_run]" \
            "sse-connector 0.1.0 started: local API on port 1, events from" \
            "ipc://$p\""
        echo "${at}00.200Z\" level=error msg=\"[vm][pipeline.c:1069" \
            "pipeline:on_probe] events: dial unix $p: connect: no such file" \
            "or directory\""
        [ -z "$2" ] ||
            echo "${at}$2Z\" level=info msg=\"[vm][pipeline.c:1119" \
                "pipeline:monitor_drain] events: connected to EventHandler" \
                "at $p after 3 failed attempts over 0.1 s\""
        [ -z "${3:-}" ] ||
            echo "${at}$3Z\" level=error msg=\"[vm][pipeline.c:1069" \
                "pipeline:on_probe] events: dial unix $p: connect:" \
                "connection refused\""
    } >"$1"
}
eh_log "$T/eh-start.log" 01.500
rc=0
$TRIAGE "$T/eh-start.log" >"$T/eh1.txt" || rc=$?
[ "$rc" = 1 ] && ! grep -q '^K29 ' "$T/eh1.txt" &&
    grep -q "^note: $T/eh-start.log:2  EventHandler's socket not there yet" \
        "$T/eh1.txt" || fail "start-up race: exit $rc: $(cat "$T/eh1.txt")"
$TRIAGE --json "$T/eh-start.log" >"$T/eh1.json" || [ $? = 1 ] ||
    fail "start-up race: --json"
jq -e '(.cases | length == 0) and .startup_notes_count == 1
       and .startup_notes[0].line == 2' "$T/eh1.json" >/dev/null ||
    fail "start-up race in JSON: $(cat "$T/eh1.json")"
eh_log "$T/eh-late.log" 40.000
eh_log "$T/eh-never.log" ""
eh_log "$T/eh-again.log" 01.500 50.000
for f in late never again; do
    $TRIAGE --json "$T/eh-$f.log" >"$T/eh-$f.json" ||
        fail "socket missing ($f): exit $?"
    jq -e '.cases[0].id == "K29"' "$T/eh-$f.json" >/dev/null ||
        fail "socket missing ($f): not K29: $(cat "$T/eh-$f.json")"
done
jq -e '.cases[0].cleared == null' "$T/eh-never.json" >/dev/null ||
    fail "socket never there: cleared"
jq -e '.cases[0].evidence[0].line == 2' "$T/eh-late.json" >/dev/null ||
    fail "socket late: the first line is not the evidence"
jq -e '.cases[0].count == 1 and .cases[0].evidence[0].line == 4
       and .startup_notes_count == 1' "$T/eh-again.json" >/dev/null ||
    fail "socket gone again later: $(cat "$T/eh-again.json")"
pass "a socket missing only at start-up is a note; late, never or again: K29"

# 4. Only unknown errors: listed as unmatched, exit 1.
rc=0
$TRIAGE "$SRC/fixtures/logs/unmatched-wrong-host.log" >"$T/un.txt" || rc=$?
[ "$rc" = 1 ] || fail "unmatched: exit $rc, not 1"
grep -q "^unmatched error lines: [1-9]" "$T/un.txt" ||
    fail "unmatched: $(cat "$T/un.txt")"
grep -q "hostname mismatch" "$T/un.txt" || fail "unmatched: line missing"
grep -q "^0 cases matched" "$T/un.txt" || fail "unmatched: summary"
printf 'not a log\npanic: nothing here\n' >"$T/other.txt"
rc=0
$TRIAGE "$T/other.txt" >"$T/o.txt" 2>"$T/o.err" || rc=$?
[ "$rc" = 1 ] && grep -q "other.txt: no connector.log lines" "$T/o.err" ||
    fail "a file with no connector lines: exit $rc: $(cat "$T/o.err")"
pass "unknown error lines are listed as unmatched, exit 1"

# 5. Bad usage and unreadable files: exit 2, the file named.
rc=0
$TRIAGE >/dev/null 2>"$T/e1" || rc=$?
[ "$rc" = 2 ] && grep -q "no file given" "$T/e1" || fail "no file: $rc"
rc=0
$TRIAGE "$SRC/fixtures/logs/k05-wrong-region.log" "$T/nope.log" \
    >"$T/o2" 2>"$T/e2" || rc=$?
[ "$rc" = 2 ] && grep -q "$T/nope.log: No such file" "$T/e2" ||
    fail "missing file: exit $rc: $(cat "$T/e2")"
[ ! -s "$T/o2" ] || fail "missing file: something was printed: $(cat "$T/o2")"
rc=0
$TRIAGE "$T" >/dev/null 2>"$T/e3" || rc=$?
[ "$rc" = 2 ] && grep -q "$T: is a directory" "$T/e3" ||
    fail "directory: exit $rc"
rc=0
$TRIAGE --frobnicate x >/dev/null 2>"$T/e4" || rc=$?
[ "$rc" = 2 ] && grep -q 'unknown option "--frobnicate"' "$T/e4" ||
    fail "bad option: exit $rc"
rc=0
$TRIAGE --list "$SRC/fixtures/logs/k05-wrong-region.log" >/dev/null \
    2>"$T/e6" || rc=$?
[ "$rc" = 2 ] && grep -q -- "--list takes no file" "$T/e6" ||
    fail "--list with a file: exit $rc"
if [ "$(id -u)" != 0 ]; then
    cp "$SRC/fixtures/logs/k05-wrong-region.log" "$T/locked.log"
    chmod 000 "$T/locked.log"
    rc=0
    $TRIAGE "$T/locked.log" >/dev/null 2>"$T/e5" || rc=$?
    [ "$rc" = 2 ] && grep -q "locked.log: Permission denied" "$T/e5" ||
        fail "unreadable: exit $rc"
fi
pass "bad usage and unreadable files exit 2, naming the file"

# 6. The table and scenarios/cases agree: each reproduction exists and
# carries its case in cases:, and each case scenario is the table's.
$TRIAGE --list >"$T/list.txt" || fail "--list: exit $?"
[ "$(grep -c '^K[0-9][0-9]  ' "$T/list.txt")" = 30 ] ||
    fail "--list: not 30 cases"
grep '^K[0-9][0-9]  scenarios/' "$T/list.txt" | while read -r id file _; do
    [ -f "$SRC/$file" ] || fail "$id: $file is missing"
    grep -q "^cases: \[$id\]" "$SRC/$file" || fail "$file: not cases: [$id]"
done
for f in "$SRC"/scenarios/cases/*.yaml; do
    grep -q "  scenarios/cases/$(basename "$f")  " "$T/list.txt" ||
        fail "$f is no case's reproduction in the table"
done
pass "every reproduction in the table exists and tags its case"

# 7. docs/triage.md shows the table as it is compiled in.
sed -n '/^<!-- ssesim triage --list -->$/,$p' "$SRC/docs/triage.md" |
    sed '1,2d;$d' >"$T/doc-list.txt"
diff -u "$T/doc-list.txt" "$T/list.txt" >"$T/doc.diff" ||
    fail "docs/triage.md's table differs from --list: $(cat "$T/doc.diff")"
pass "docs/triage.md lists the signature table as compiled"
