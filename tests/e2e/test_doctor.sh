#!/usr/bin/env bash
# sse-doctor against a real chain: ssesim, sse-connector enrolled by the
# FMC role, sse-eventhandler. A healthy device passes every check (exit
# 0); each fault is named at the step it breaks, with its evidence: an
# expired certificate on api-sse (tls, subject, notAfter), refused
# connects to eventing-ingest (connect, address:port), the EventHandler
# socket gone (its path), the connector stopped (the local API), and a
# configuration that does not read (exit 2, file and line).
. "$(dirname "$0")/lib.sh"

start_ssesim
start_eventhandler --count 20 --size 1024 --hold
start_connector
"$BIN/ssesim" fmc --ports-file "$T/ports.json" --certs "$T/certs" \
    --connector "http://127.0.0.1:$CAPI_PORT" --timeout-s 120 \
    >"$T/fmc.log" 2>&1 || fail "fmc did not enrol: $(cat "$T/fmc.log")"
sock="$T/root/ngfw/var/sf/run/EventHandler_SSEConnector.sock"
connected() {
    awk -v p="$sock" '$8 == p && $6 == "03"' /proc/net/unix | grep -q .
}
wait_for "the connector connected to EventHandler" 60 connected
# Both WebSockets answering, as the connector's status says.
answering() {
    capi /v1/contexts/default/status |
        jq -e '.endpoints.messaging.up and .endpoints.eventing.up'
}
wait_for "messaging and eventing answering" 60 answering

# doctor NAME [args]: run sse-doctor --json on the device; the JSON in
# $T/NAME.json, the exit status in $T/NAME.rc.
doctor() {
    name=$1
    shift
    set +e
    "$BIN/sse-doctor" --root "$T/root" --ports-file "$T/cports" \
        --timeout 20 --json "$@" >"$T/$name.json" 2>"$T/$name.err"
    echo $? >"$T/$name.rc"
    set -e
    jq -e . "$T/$name.json" >/dev/null ||
        fail "$name: not JSON: $(cat "$T/$name.json")"
}

# finding NAME ID FILTER: jq FILTER on the finding ID of run NAME.
finding() {
    jq -r --arg id "$2" ".findings[] | select(.id == \$id) | $3" \
        "$T/$1.json"
}

doctor healthy
not_ok='.findings[] | select(.result != "ok") | {id, summary}'
[ "$(cat "$T/healthy.rc")" = 0 ] ||
    fail "healthy: exit $(cat "$T/healthy.rc"):" \
        "$(jq -c "$not_ok" "$T/healthy.json")"
bad=$(jq -r '.findings[] | select(.result != "ok") | .id' "$T/healthy.json")
[ -z "$bad" ] || fail "healthy device: not ok: $bad"
for id in config local-api status endpoints eventhandler-socket \
    reach.api-sse reach.est reach.mx reach.eventing-ingest clock \
    certificates log; do
    [ "$(finding healthy "$id" .result)" = ok ] || fail "no ok finding $id"
done
finding healthy reach.api-sse '.steps[] | select(.step == "http")
    | .detail' | grep -q '403 Forbidden' ||
    fail "api-sse's 403 is not named the success"
finding healthy reach.eventing-ingest '.steps[] | .step' | tr '\n' ' ' |
    grep -q 'resolve connect tls http' || fail "steps not in order"
finding healthy certificates .evidence.last_contact |
    grep -qE 'the cloud last answered [0-9]+ s ago' ||
    fail "no last contact: $(finding healthy certificates .evidence)"
pass "a healthy enrolled device passes every check, exit 0"

"$BIN/sse-doctor" --root "$T/root" --ports-file "$T/cports" >"$T/text.out" ||
    fail "text run: exit $?"
grep -q '^0 failed, 0 warnings, 12 ok' "$T/text.out" ||
    fail "text summary: $(tail -n 1 "$T/text.out")"
pass "the text report ends with the count of each result"

# Tokens are 32 alphanumerics, one-time passwords 24: neither may show.
if grep -qE '[A-Za-z0-9]{24,}' "$T/healthy.json" "$T/text.out"; then
    fail "a secret-shaped string: $(grep -ohE '[A-Za-z0-9]{24,}' \
        "$T/healthy.json" | head -n 1)"
fi
pass "no secret-shaped string in the report"

# An expired server certificate on api-sse.
id=$(fault_add '{"action":"tls.expired","host":"api-sse.cisco.com"}')
doctor expired
fault_del "$id"
[ "$(cat "$T/expired.rc")" = 1 ] || fail "expired: exit $(cat "$T/expired.rc")"
[ "$(jq -r .first_failure.id "$T/expired.json")" = reach.api-sse ] ||
    fail "expired: first failure $(jq -c .first_failure "$T/expired.json")"
[ "$(finding expired reach.api-sse .step)" = tls ] ||
    fail "expired: not step tls"
summary=$(finding expired reach.api-sse .summary)
echo "$summary" | grep -q 'api-sse.cisco.com' || fail "no host: $summary"
echo "$summary" | grep -q 'certificate has expired' || fail "no cause: $summary"
echo "$summary" | grep -q 'subject /CN=api-sse.cisco.com' ||
    fail "no subject: $summary"
na=$(finding expired reach.api-sse .evidence.notAfter)
echo "$summary" | grep -qF "notAfter $na" || fail "no notAfter: $summary"
[ "$(date -u -d "$na" +%s)" -lt "$(date +%s)" ] || fail "notAfter $na not past"
finding expired reach.api-sse .fix | grep -q 'expired on' ||
    fail "expired: fix $(finding expired reach.api-sse .fix)"
echo "$summary" |
    grep -qE 'names api-sse.cisco.com; reached at 127\.0\.0\.1:[0-9]+' ||
    fail "expired: the address reads as a name: $summary"
[ "$(finding expired reach.est .result)" = ok ] || fail "est hit by api's fault"
pass "tls.expired on api-sse: step tls with host, subject, notAfter $na"

# Connects to eventing-ingest refused.
iport=$(port_of eventing-ingest.sse.itd.cisco.com)
id=$(fault_add \
    '{"action":"tcp.refused","service":"eventing-ingest","region":"us"}')
doctor refused
fault_del "$id"
[ "$(cat "$T/refused.rc")" = 1 ] || fail "refused: exit $(cat "$T/refused.rc")"
[ "$(finding refused reach.eventing-ingest .step)" = connect ] ||
    fail "refused: step $(finding refused reach.eventing-ingest .step)"
summary=$(finding refused reach.eventing-ingest .summary)
want="dial tcp 127.0.0.1:$iport: connect: connection refused"
echo "$summary" | grep -qF "$want" || fail "refused: $summary"
addr=$(finding refused reach.eventing-ingest .evidence.address)
stands="eventing-ingest.sse.itd.cisco.com:443 in the host map"
echo "$addr" | grep -qF "127.0.0.1:$iport ($stands)" ||
    fail "refused: address $addr"
[ "$(finding refused reach.eventing-ingest .evidence.route)" = direct ] ||
    fail "refused: route"
pass "tcp.refused on eventing-ingest: step connect, 127.0.0.1:$iport named"

# The cloud's clock an hour and a minute ahead (K16): always measured,
# from the Date of the cloud's answers, and named.
id=$(fault_add '{"action":"clock.offset","host":"*","seconds":3660}')
doctor clock
fault_del "$id"
[ "$(finding clock clock .result)" = fail ] ||
    fail "clock: $(finding clock clock .result)"
off=$(finding clock clock .evidence.offset | tr -d '+ s')
[ "$off" -ge 3655 ] && [ "$off" -le 3665 ] || fail "clock: offset $off"
finding clock clock .summary | grep -q 'the device is behind' ||
    fail "clock: $(finding clock clock .summary)"
# Which clock is wrong the offset cannot say: the fix names both sides.
finding clock clock .fix | grep -qF "the cloud's clock is off (K16)" ||
    fail "clock: fix blames only the device: $(finding clock clock .fix)"
doctor clockback
[ "$(finding clockback clock .result)" = ok ] ||
    fail "clock after the fault: $(finding clockback clock .summary)"
pass "a cloud clock ${off} s ahead fails the clock check, and passes after"

# The EventHandler socket gone.
kill "$EH_PID"
wait "$EH_PID" 2>/dev/null || true
wait_for "the socket to go" 30 test ! -e "$sock"
doctor nosocket
[ "$(cat "$T/nosocket.rc")" = 1 ] ||
    fail "no socket: exit $(cat "$T/nosocket.rc")"
finding nosocket eventhandler-socket .result | grep -qx fail ||
    fail "no socket: $(finding nosocket eventhandler-socket .result)"
finding nosocket eventhandler-socket .summary | grep -qF "$sock is missing" ||
    fail "no socket: $(finding nosocket eventhandler-socket .summary)"
pass "the EventHandler socket missing is named with its path"

# Nobody listening on a socket file left behind.
python3 -c 'import socket, sys
socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$sock"
doctor stale
finding stale eventhandler-socket .summary | grep -qF "nobody listens" ||
    fail "stale socket: $(finding stale eventhandler-socket .summary)"
rm -f "$sock"
pass "a socket file nobody listens on is told from a missing one"

# The connector stopped.
kill "$CONNECTOR_PID"
wait "$CONNECTOR_PID" 2>/dev/null || true
doctor stopped
[ "$(cat "$T/stopped.rc")" = 1 ] || fail "stopped: exit $(cat "$T/stopped.rc")"
[ "$(jq -r .first_failure.id "$T/stopped.json")" = local-api ] ||
    fail "stopped: first failure $(jq -c .first_failure "$T/stopped.json")"
summary=$(finding stopped local-api .summary)
want="dial tcp 127.0.0.1:$CAPI_PORT: connect: connection refused"
echo "$summary" | grep -qF "$want: the connector is not running" ||
    fail "stopped: $summary"
[ "$(finding stopped status .result)" = skip ] ||
    fail "stopped: status not skipped"
# The fix gives the command as it was started, and the log's newest line.
fix=$(finding stopped local-api .fix)
echo "$fix" | grep -qF "sse-connector --root $T/root --ports-file $T/cports" ||
    fail "stopped: fix without --ports-file: $fix"
newest=$(tail -n 1 "$T/root/ngfw/var/log/connector/connector.log" |
    sed -n 's/.*msg="\[[^]]*\]\[[^]]*\] \(.*\)".*/\1/p')
[ -n "$newest" ] && echo "$fix" | grep -qF "$newest" ||
    fail "stopped: fix without the log's newest line ($newest): $fix"
pass "a stopped connector is named: its local API does not answer"

# A local API that takes connections and never answers: hung, not gone.
python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(120)' "$T/hung.port" &
PIDS="$PIDS $!"
wait_for "the silent listener" 30 test -s "$T/hung.port"
hung=$(cat "$T/hung.port")
"$BIN/sse-doctor" --root "$T/root" --api-port "$hung" --timeout 2 \
    --offline --json >"$T/hung.json" || true
finding hung local-api .summary |
    grep -qF "127.0.0.1:$hung took the connection and did not answer" ||
    fail "hung: $(finding hung local-api .summary)"
pass "a local API that never answers is named hung, not stopped"

# A settings file that does not read: exit 2, file and line named.
printf 'Globals:\n  Log:\n    log_levl: info\n' \
    >"$T/root/ngfw/etc/sf/connector.yaml"
doctor badconf
[ "$(cat "$T/badconf.rc")" = 2 ] ||
    fail "bad config: exit $(cat "$T/badconf.rc")"
finding badconf config .summary |
    grep -qF "connector.yaml:3:5: unknown key \"Globals.Log.log_levl\"" ||
    fail "bad config: $(finding badconf config .summary)"
set +e
"$BIN/sse-doctor" --root "$T/root" --region mars >/dev/null 2>"$T/usage.err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q -- '--region' "$T/usage.err" ||
    fail "bad usage: exit $rc"
pass "a configuration that does not read, or bad usage, exits 2 naming it"

# A --root with a typo: said first as the wrong root, exit 2, and no cloud
# name probed (no reach.* finding); likewise a root without either file.
mkdir -p "$T/emptyroot/ngfw"
for r in "$T/noroot" "$T/emptyroot"; do
    set +e
    "$BIN/sse-doctor" --root "$r" --json >"$T/wrongroot.json" \
        2>"$T/wrongroot.err"
    rc=$?
    set -e
    [ "$rc" = 2 ] || fail "wrong root $r: exit $rc"
    sum=$(jq -r '.findings[0].summary' "$T/wrongroot.json")
    case "$sum" in
    "root $r "*"(wrong --root?)") ;;
    *) fail "wrong root $r: first finding: $sum" ;;
    esac
    [ "$(jq '.findings | length' "$T/wrongroot.json")" = 1 ] ||
        fail "wrong root $r: probed: $(jq -c '[.findings[].id]' \
            "$T/wrongroot.json")"
done
set +e
"$BIN/sse-doctor" --root "$T/noroot" >"$T/wrongroot.out" 2>"$T/wrongroot.err"
set -e
grep -qF "sse-doctor: root $T/noroot does not exist (wrong --root?)" \
    "$T/wrongroot.err" ||
    fail "wrong root: stderr: $(cat "$T/wrongroot.err")"
pass "a --root that does not exist or holds no configuration exits 2 first"
