#!/usr/bin/env bash
# ssesim conform against sselab's own connector started through the
# generic path (fixtures/connectors/sselab.yaml): every behaviour of the
# conformance suite passes, exit 0, and the report says so in its
# versioned shape (JSON, text and JUnit).
. "$(dirname "$0")/lib.sh"

SUITE="$SRC/scenarios/conformance"
nbeh=$(find "$SUITE" -name '*.yaml' | wc -l)
[ "$nbeh" -ge 15 ] || fail "only $nbeh behaviours in $SUITE"
version=$(head -n 1 "$SUITE/VERSION")

rc=0
PROFILE="$SRC/fixtures/connectors/sselab.yaml"
(cd "$T" && "$BIN/ssesim" conform --connector "$PROFILE" --suite "$SUITE" \
    --jobs 2 --report "$T/report.json" --junit "$T/j.xml") \
    >"$T/conform.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "conform: exit $rc: $(tail -n 40 "$T/conform.log")"

python3 - "$T/report.json" "$nbeh" "$version" <<'PY' || fail "report.json"
import json, sys
doc = json.load(open(sys.argv[1]))
n, version = int(sys.argv[2]), sys.argv[3]
assert doc["report_version"] == 1, doc["report_version"]
assert doc["suite"]["version"] == version, doc["suite"]
assert doc["sselab_version"], doc
assert doc["connector"]["name"] == "sselab", doc["connector"]
assert doc["connector"]["default_profile"] is False
assert "time_scale" in doc["connector"]["understands"]
assert doc["result"] == "PASS" and doc["exit_code"] == 0, doc["result"]
assert len(doc["date"]) == 20 and doc["date"].endswith("Z"), doc["date"]
b = doc["behaviours"]
assert len(b) == n, (len(b), n)
ids = [x["id"] for x in b]
assert ids == sorted(ids) and len(set(ids)) == n, ids
bad = [x["id"] for x in b if x["result"] != "pass"]
assert not bad, bad
assert {x["level"] for x in b} == {"must", "should"}
musts = sum(1 for x in b if x["level"] == "must")
assert doc["counts"]["must"] == {"pass": musts, "fail": 0, "error": 0}
print("ok: %d behaviours pass, %d of them must" % (n, musts))
PY
grep -q "^result:     PASS: must" "$T/report.txt" ||
    fail "report.txt: $(head -n 8 "$T/report.txt")"
[ "$(grep -c '<testcase ' "$T/j.xml")" = "$nbeh" ] || fail "j.xml testcases"
grep -q 'failures="0" errors="0"' "$T/j.xml" || fail "j.xml failures"
pass "ssesim conform with the sselab profile: all $nbeh behaviours pass" \
    "(suite $version), report.json, report.txt and JUnit agree"
