#!/usr/bin/env bash
# The main job end to end, as `make demo` runs it: ssesim, sse-connector,
# sse-eventhandler and the FMC role; 1,000 events of 1 KiB must reach the
# ingest exactly once, as the ingest's own ledger counts them.
. "$(dirname "$0")/lib.sh"

N=1000
start_ssesim
start_connector
[ "$(connector_status)" = Disabled ] || fail "fresh connector not Disabled"
pass "a fresh connector reports Disabled"

start_eventhandler --count "$N" --size 1024 --hold
"$BIN/ssesim" fmc --ports-file "$T/ports.json" --certs "$T/certs" \
    --connector "http://127.0.0.1:$CAPI_PORT" --timeout-s 120 \
    >"$T/fmc.log" 2>&1 || fail "fmc did not reach Enrolled: $(cat "$T/fmc.log")"
[ "$(connector_status)" = Enrolled ] || fail "status is not Enrolled"
pass "the FMC role brings the connector to Enrolled"

wait_for "eventhandler report" 120 test -s "$T/eh-report.json"
epoch=$(sed -n 's/.*"epoch":\([0-9]*\).*/\1/p' "$T/eh-report.json")
sent=$(sed -n 's/.*"sent":\([0-9]*\).*/\1/p' "$T/eh-report.json")
[ "$sent" = "$N" ] || fail "eventhandler sent $sent, not $N"

delivered() {
    admin_get "/v1/ledger/check?epoch=$epoch&sent=$N" >"$T/check.json" &&
        grep -q "\"delivered\":$N," "$T/check.json"
}
wait_for "all $N events in the ledger" 120 delivered
grep -q '"missing":0,' "$T/check.json" || fail "missing: $(cat "$T/check.json")"
grep -q '"duplicates":0,' "$T/check.json" ||
    fail "duplicates: $(cat "$T/check.json")"
pass "the ingest ledger counts $N delivered, 0 missing, 0 duplicates"

all_acked() {
    capi /v1/contexts/default/status | grep -q "\"acked\":$N,"
}
wait_for "the connector to see every batch acknowledged" 60 all_acked
pass "the connector saw every batch acknowledged"

log="$T/root/ngfw/var/log/connector/connector.log"
grep -qE '^time="[0-9T:.-]+(Z|[+-][0-9:]+)" level=info msg="\[[^]]+\]\[[a-z_]+\.c:[0-9]+ [a-z_]+:[a-z_]+\] status ' "$log" ||
    fail "connector.log lines are not in the logrus shape"
grep -q 'status Enrolling -> Enrolled' "$log" || fail "no Enrolled transition"
grep -q 'eventing connected to wss://eventing-ingest.sse.itd.cisco.com/v1/events (region us)' "$log" ||
    fail "no eventing connection line"
grep -q 'messaging connected to wss://mx01.sse.itd.cisco.com' "$log" ||
    fail "no messaging connection line"
# Tokens are 32 alphanumerics and one-time passwords 24: neither may show.
if grep -qE '[A-Za-z0-9]{24,}' "$log"; then
    fail "connector.log holds something shaped like a secret: $(grep -oE '[A-Za-z0-9]{24,}' "$log" | head -n 1)"
fi
pass "connector.log has one logrus line per state change"

# The EventHandler socket is LISTENING and CONNECTED, as the seed's netstat
# check shows it: /proc/net/unix state 01 and 03 for the path.
ipc="$T/root/ngfw/var/sf/run/EventHandler_SSEConnector.sock"
awk -v p="$ipc" '$8 == p && $6 == "01"' /proc/net/unix | grep -q . ||
    fail "nothing LISTENING at $ipc"
awk -v p="$ipc" '$8 == p && $6 == "03"' /proc/net/unix | grep -q . ||
    fail "nothing CONNECTED at $ipc"
pass "the EventHandler socket is LISTENING and CONNECTED"
