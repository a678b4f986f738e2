# lib.sh: fixtures for the end-to-end tests, sourced by each test_*.sh.
#
# Each test owns a temporary directory, the processes it starts and their
# ports (all port 0); the EXIT trap stops and removes them. Waits poll a
# condition with a generous deadline; nothing sleeps blindly.

set -eu

BIN=${SSELAB_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}
SRC=${SSELAB_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/sse-e2e.XXXXXX)
PIDS=""

cleanup() {
    rc=$?
    for p in $PIDS; do
        kill "$p" 2>/dev/null || true
    done
    for p in $PIDS; do
        wait "$p" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ]; then
        echo "--- test failed (rc=$rc); logs in $T ---" >&2
        for f in "$T"/*.log; do
            [ -f "$f" ] || continue
            echo "--- $f (last 40 lines)" >&2
            tail -n 40 "$f" >&2
        done
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

pass() {
    echo "ok: $*"
}

# wait_for DESCRIPTION SECONDS COMMAND...: poll COMMAND until it succeeds.
wait_for() {
    what=$1
    secs=$2
    shift 2
    end=$(($(date +%s) + secs))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || fail "timed out after ${secs}s: $what"
        sleep 0.1
    done
}

# start_ssesim [extra args]: certificates in $T/certs, ports in $T/ports.
start_ssesim() {
    "$BIN/ssesim" serve --certs "$T/certs" --ports-file "$T/ports.json" \
        "$@" >"$T/ports" 2>"$T/ssesim.log" &
    PIDS="$PIDS $!"
    SSESIM_PID=$!
    wait_for "ssesim ready" 120 grep -q '"ready":true' "$T/ports"
}

# port_of HOST: the loopback port that serves HOST (or a service name such
# as "admin").
port_of() {
    line=$(grep -e "\"host\":\"$1\"" -e "\"service\":\"$1\"" "$T/ports" |
        head -n 1)
    [ -n "$line" ] || fail "no listener for $1 in $T/ports"
    echo "$line" | sed 's/.*"port":\([0-9]*\).*/\1/'
}

# curl_host HOST PATH [curl args]: HTTPS to the emulated HOST on loopback,
# verified against the private root only.
curl_host() {
    h=$1
    p=$2
    shift 2
    curl -sS --max-time 30 --cacert "$T/certs/connectorCA.pem" \
        --connect-to "$h:443:127.0.0.1:$(port_of "$h")" "$@" "https://$h$p"
}

admin_get() {
    curl -sS --max-time 30 "http://127.0.0.1:$(port_of admin)$1"
}

# admin_token: the bearer token of ssesim's admin API (start_ssesim).
admin_token() {
    sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p' "$T/ports"
}

# fault_add JSON: add a rule through the admin API; prints its id.
fault_add() {
    curl -sS --max-time 30 -H "Authorization: Bearer $(admin_token)" \
        -H 'Content-Type: application/json' --data-binary "$1" \
        -o "$T/fault.json" -w '%{http_code}' \
        "http://127.0.0.1:$(port_of admin)/v1/faults" >"$T/fault.code"
    [ "$(cat "$T/fault.code")" = 201 ] ||
        fail "fault_add $1: HTTP $(cat "$T/fault.code") $(cat "$T/fault.json")"
    jq -r .id "$T/fault.json"
}

# fault_del ID: remove a rule.
fault_del() {
    code=$(curl -sS --max-time 30 -X DELETE \
        -H "Authorization: Bearer $(admin_token)" -o /dev/null \
        -w '%{http_code}' "http://127.0.0.1:$(port_of admin)/v1/faults/$1")
    [ "$code" = 200 ] || fail "fault_del $1: HTTP $code"
}

# journal_has ARGS PATTERN: a journal entry (filtered by ARGS) matches.
journal_has() {
    admin_get "/v1/journal?limit=5000&$1" | grep -q -- "$2"
}

# write_host_map FILE: a connect-to line for every emulated host.
write_host_map() {
    grep '"host"' "$T/ports" |
        grep -v -e '"service":"admin"' -e '"service":"proxy"' |
        sed 's/.*"host":"\([^"]*\)","port":\([0-9]*\).*/\1:443:127.0.0.1:\2/' \
            >"$1"
}

# start_connector [settings lines...]: sse-connector under $T/root, trusting
# the private root, reaching the cloud through the host map. Extra YAML
# lines go under Globals.Contexts.Events. Sets CONNECTOR_PID, CAPI_PORT.
start_connector() {
    mkdir -p "$T/root/ngfw/etc/sf"
    write_host_map "$T/root/ngfw/etc/sf/sse-hosts.map"
    cp "$T/certs/connectorCA.pem" "$T/root/ngfw/etc/sf/connectorCA.pem"
    cat >"$T/root/ngfw/etc/sf/connector.properties" <<PROPS
registration_interval=180
connector_port=0
region_discovery_endpoint=https://api-sse.cisco.com/providers/sse/api/v1/regions
PROPS
    {
        echo "Globals:"
        echo "  time_scale: ${TIME_SCALE:-1}"
        echo "  Log:"
        echo "    log_type: file"
        echo "    log_level: ${LOG_LEVEL:-info}"
        echo "  Contexts:"
        echo "    Events:"
        for line in "$@"; do
            echo "      $line"
        done
    } >"$T/root/ngfw/etc/sf/connector.yaml"
    "$BIN/sse-connector" --root "$T/root" --ports-file "$T/cports" \
        2>"$T/connector-stderr.log" &
    CONNECTOR_PID=$!
    PIDS="$PIDS $CONNECTOR_PID"
    wait_for "connector ready" 60 grep -q '"ready":true' "$T/cports"
    CAPI_PORT=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$T/cports" | head -n 1)
    ln -sf "$T/root/ngfw/var/log/connector/connector.log" "$T/connector.log"
}

capi() {
    curl -sS --max-time 30 "http://127.0.0.1:$CAPI_PORT$@"
}

connector_status() {
    capi /v1/contexts/default/status | sed -n 's/.*"status":"\([A-Za-z]*\)".*/\1/p'
}

# start_eventhandler ARGS...: the stand-in bound under the connector's root.
start_eventhandler() {
    "$BIN/sse-eventhandler" --root "$T/root" --report "$T/eh-report.json" \
        "$@" >"$T/eh.out" 2>"$T/eventhandler.log" &
    EH_PID=$!
    PIDS="$PIDS $EH_PID"
}
