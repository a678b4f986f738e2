#!/usr/bin/env bash
# The lab of docker/compose.yaml, without Docker: the four entry scripts
# the services run (docker/entry/*.sh, through /bin/sh as in the image),
# on the host, each with a directory of its own under $T and the shared
# ones compose.yaml mounts as volumes, every address on loopback (the cloud
# reached by the name localhost, as compose.yaml names it "cloud") and every
# port 0. The lab must come up end to end: certificates made once, the
# connector Enrolled by the fmc script, the EventHandler's fixtures all in
# the ingest's ledger, a fault set with the admin token felt by the
# connector; then every part stops on SIGTERM as `docker compose stop`
# asks, and a second start of the cloud keeps the CA.
. "$(dirname "$0")/lib.sh"

ENTRY=$SRC/docker/entry
export PATH="$BIN:$PATH"
# The volumes of compose.yaml (certs, share, ipc under the root) and each
# container's own directory; no address is set: loopback is the default.
export LAB_CERTS=$T/certs LAB_SHARE=$T/share LAB_ROOT=$T/root
export LAB_WAIT_S=120 LAB_FMC_TIMEOUT_S=120
export LAB_FIXTURES=$SRC/fixtures/events
export LAB_EH_RATE=25 LAB_EH_COUNT=300

# part NAME: run docker/entry/NAME.sh as its service would; its stderr
# goes to $T/NAME.log, its own files to $T/run-NAME. Sets PART_PID.
part() {
    LAB_RUN=$T/run-$1 "$ENTRY/$1.sh" >"$T/$1.out" 2>"$T/$1.log" &
    PART_PID=$!
    PIDS="$PIDS $PART_PID"
}

# exited PID: gone, or a zombie waiting to be collected.
exited() {
    [ ! -e "/proc/$1/stat" ] || [ "$(awk '{print $3}' "/proc/$1/stat")" = Z ]
}

# children_of PID: the processes whose parent is PID (from /proc: procps is
# not among the packages ci/install-deps.sh installs).
children_of() {
    for st in /proc/[0-9]*/stat; do
        # Field 4 is the parent; the programs here have no blank in their
        # name (field 2). A process may be gone by the time it is read.
        { read -r pid _ _ ppid _ <"$st"; } 2>/dev/null || continue
        if [ "$ppid" = "$1" ]; then
            echo "$pid"
        fi
    done
}

# listens_on_loopback PORT: a TCP listener on PORT, on 127.0.0.1 only.
listens_on_loopback() {
    ss -Hltn "sport = :$1" | awk '{print $4}' >"$T/listen.$1"
    [ -s "$T/listen.$1" ] && ! grep -qv "^127\.0\.0\.1:$1\$" "$T/listen.$1"
}

for s in cloud connector eventhandler fmc; do
    [ -x "$ENTRY/$s.sh" ] || fail "$ENTRY/$s.sh is not executable"
    head -n 1 "$ENTRY/$s.sh" | grep -qx '#!/bin/sh' ||
        fail "$ENTRY/$s.sh does not start with #!/bin/sh"
done

part cloud
CLOUD_PID=$PART_PID
part eventhandler
EH_PID=$PART_PID
# The connector and the FMC role reach the cloud by a name, as compose.yaml
# has them do ("cloud"): the host map's address and ssesim fmc
# --cloud-address are resolved, not only parsed.
LAB_CLOUD_ADDR=localhost part connector
CONN_PID=$PART_PID

# --- the one-shot FMC service enrols the connector ----------------------
LAB_CLOUD_ADDR=localhost LAB_RUN=$T/run-fmc "$ENTRY/fmc.sh" >"$T/fmc.log" \
    2>&1 || fail "fmc.sh exited $?: $(cat "$T/fmc.log")"
grep -q '^enrolled: device .*, region us' "$T/fmc.log" ||
    fail "fmc.sh did not report the enrolment: $(cat "$T/fmc.log")"
grep -q "certificates: making the private CA in $T/certs" "$T/cloud.log" ||
    fail "cloud.sh did not make the CA: $(cat "$T/cloud.log")"
for f in ca/root.pem connectorCA.pem hosts/api-sse.cisco.com.pem; do
    [ -s "$T/certs/$f" ] || fail "no $f in the certificates volume"
done

CAPI_PORT=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$T/share/connector.ports")
[ "$(connector_status)" = Enrolled ] ||
    fail "connector status: $(capi /v1/contexts/default/status)"
pass "cloud, eventhandler and connector up; fmc.sh enrols the connector"

rc=0
"$BIN/ssesim" fmc --ports-file "$T/share/cloud.ports" --certs "$T/certs" \
    --cloud-address '[::1]' >/dev/null 2>"$T/usage.err" || rc=$?
[ "$rc" = 2 ] && grep -q -- '--cloud-address: expected a host name or IPv4' \
    "$T/usage.err" || fail "--cloud-address [::1]: exit $rc"
# Nothing listens on 127.0.0.2 (the cloud binds 127.0.0.1): the address
# given is the one dialled.
rc=0
"$BIN/ssesim" fmc --ports-file "$T/share/cloud.ports" --certs "$T/certs" \
    --cloud-address 127.0.0.2 --connector "http://127.0.0.1:$CAPI_PORT" \
    --timeout-s 10 >/dev/null 2>"$T/elsewhere.err" || rc=$?
[ "$rc" = 1 ] && grep -q 'api-sse.cisco.com:443:127.0.0.2:' \
    "$T/elsewhere.err" || fail "--cloud-address 127.0.0.2: exit $rc:" \
    "$(cat "$T/elsewhere.err")"
pass "ssesim fmc --cloud-address: a name reaches the cloud, another" \
    "address is dialled as given, a bracketed one is bad usage"

# --- what compose.yaml relies on: loopback by default, no shared secret --
ADMIN=$(sed -n 's/.*"service":"admin".*"port":\([0-9]*\).*/\1/p' \
    "$T/share/cloud.ports")
listens_on_loopback "$ADMIN" ||
    fail "admin API port $ADMIN: $(cat "$T/listen.$ADMIN")"
listens_on_loopback "$CAPI_PORT" ||
    fail "local API port $CAPI_PORT: $(cat "$T/listen.$CAPI_PORT")"
api=$(sed -n 's/.*"host":"api-sse.cisco.com","port":\([0-9]*\).*/\1/p' \
    "$T/share/cloud.ports")
listens_on_loopback "$api" || fail "api-sse port $api: $(cat "$T/listen.$api")"
map=$T/root/ngfw/etc/sf/sse-hosts.map
grep -qx "api-sse.cisco.com:443:localhost:$api" "$map" ||
    fail "host map: $(cat "$map")"
hosts=$(grep -c -e '"service":"api-sse"' -e '"service":"est"' \
    -e '"service":"mx"' -e '"service":"dex"' -e '"service":"eventing-ingest"' \
    "$T/share/cloud.ports")
[ "$hosts" -gt 0 ] && [ "$(wc -l <"$map")" = "$hosts" ] ||
    fail "host map lines differ from the emulated hosts: $(cat "$map")"
TOKEN=$(cat "$T/run-cloud/admin-token")
[ "${#TOKEN}" = 32 ] || fail "admin token of ${#TOKEN} characters"
[ "$(stat -c %a "$T/run-cloud/admin-token")" = 600 ] ||
    fail "admin-token mode $(stat -c %a "$T/run-cloud/admin-token")"
for f in ports.json serve.out; do
    [ "$(stat -c %a "$T/run-cloud/$f")" = 600 ] ||
        fail "$f holds the admin token, mode $(stat -c %a "$T/run-cloud/$f")"
done
! grep -rqF "$TOKEN" "$T/share" "$T/fmc.log" "$T/cloud.log" \
    "$T/connector.log" "$T/eventhandler.log" ||
    fail "the admin token is in the shared volume or a log"
pass "listeners on 127.0.0.1 only; host map of every emulated host;" \
    "admin token only in the cloud's own mode-0600 file"

# --- a fault set with the admin token reaches the connector -------------
rule='{"action":"ws.close","host":"eventing-ingest.sse.itd.cisco.com",'
rule="$rule"'"code":1011,"after_frames":3,"trigger":{"times":1}}'
code=$(curl -sS --max-time 30 -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' --data-binary "$rule" \
    -o "$T/fault.json" -w '%{http_code}' \
    "http://127.0.0.1:$ADMIN/v1/faults")
[ "$code" = 201 ] || fail "POST /v1/faults: HTTP $code $(cat "$T/fault.json")"
id=$(jq -r .id "$T/fault.json")
code=$(curl -sS --max-time 30 -H 'Content-Type: application/json' \
    --data-binary "$rule" -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$ADMIN/v1/faults")
[ "$code" = 401 ] || fail "a fault without the token: HTTP $code"
fired() {
    curl -sS --max-time 30 "http://127.0.0.1:$ADMIN/v1/faults/$id" |
        jq -e '.hits == 1'
}
wait_for "the ws.close rule to fire" 120 fired
ln -sf "$T/root/ngfw/var/log/connector/connector.log" "$T/connector.log"
wait_for "connector.log to show the close" 60 grep -q \
    'eventing.*1011' "$T/connector.log"
pass "a ws.close rule set with the admin token fires; connector.log" \
    "shows code 1011"

# --- every fixture event in the ingest's ledger, none twice -------------
wait_for "the eventhandler's report" 120 test -s "$T/share/eventhandler.json"
epoch=$(jq -r .epoch "$T/share/eventhandler.json")
sent=$(jq -r .sent "$T/share/eventhandler.json")
[ "$sent" = "$LAB_EH_COUNT" ] || fail "eventhandler sent $sent"
delivered() {
    curl -sS --max-time 30 -o "$T/check.json" \
        "http://127.0.0.1:$ADMIN/v1/ledger/check?epoch=$epoch&sent=$sent"
    jq -e ".delivered == $sent" "$T/check.json"
}
wait_for "$sent events in the ledger" 120 delivered
jq -e '.missing == 0 and .duplicates == 0' "$T/check.json" >/dev/null ||
    fail "ledger: $(cat "$T/check.json")"
jq -e '.by_type | length == 3' "$T/share/eventhandler.json" >/dev/null ||
    fail "not every fixture type sent: $(cat "$T/share/eventhandler.json")"
[ "$(connector_status)" = Enrolled ] || fail "no longer Enrolled"
pass "$sent fixture events (3 types) counted by the ledger:" \
    "0 missing, 0 duplicates across the close"

# --- docker compose stop: SIGTERM to each service, each exits 0 ---------
children=""
for p in $CONN_PID $EH_PID $CLOUD_PID; do
    children="$children $(children_of "$p" | tr '\n' ' ')"
done
[ -n "$(echo "$children" | tr -d ' ')" ] || fail "no programs under the scripts"
for p in $CONN_PID $EH_PID $CLOUD_PID; do
    kill -TERM "$p"
    wait_for "entry script $p to stop" 60 exited "$p"
    rc=0
    wait "$p" || rc=$?
    [ "$rc" = 0 ] || fail "entry script $p exited $rc after SIGTERM"
done
for c in $children; do
    exited "$c" || fail "program $c outlived its entry script"
done
grep -q 'closed by the connector: shutdown' "$T/connector.log" ||
    fail "the connector did not shut down by itself"
pass "SIGTERM stops each entry script and its program; each exits 0"

# --- a second start keeps the CA (certificates made once) ---------------
sum=$(sha256sum <"$T/certs/ca/root.pem")
# compose.yaml's share volume is tmpfs: gone once every container stopped.
rm -f "$T/share/cloud.ports"
part cloud
wait_for "the cloud again" 120 grep -q '"ready":true' "$T/share/cloud.ports"
grep -q "certificates: keeping the CA in $T/certs" "$T/cloud.log" ||
    fail "second start: $(cat "$T/cloud.log")"
[ "$(sha256sum <"$T/certs/ca/root.pem")" = "$sum" ] ||
    fail "the CA was replaced on the second start"
kill -TERM "$PART_PID"
wait_for "the second cloud to stop" 60 exited "$PART_PID"
pass "a second start of the cloud keeps the CA of the first"

# --- a program that fails says so on the entry script's stderr ----------
# (the connector logs to a file: without this line a container that
# stops shows nothing in `docker compose logs`)
probe='. "$1/common.sh"; lab_run_child sh -c "exit 3"'
out=$(LAB_PART=probe /bin/sh -c "$probe" sh "$ENTRY" 2>&1) &&
    fail "lab_run_child returned 0 for exit 3"
[ "$out" = "lab-probe: sh exited with status 3" ] ||
    fail "lab_run_child on a failing program said: $out"
pass "an entry script whose program fails names its exit status"
