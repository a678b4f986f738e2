#!/usr/bin/env bash
# The manager's side of sse-connector's local API, driven as the public FMC
# script and the Splunk relay drive the real connector, with curl only:
# create the context (then again: 409 is tolerated), post the token
# service's whole document to activations, poll the status until Enrolled;
# a second connector activated with {"token": ...} alone; then `ssesim fmc`
# against that one, after a reset.
. "$(dirname "$0")/lib.sh"

tokpath=/providers/sse/services/token/api/v2/auth_tokens/registration

# run_connector NAME: sse-connector under $T/NAME, trusting connectorCA.pem
# of $T/certs and reaching every emulated host through a host map. Sets
# CONNECTOR_PID and CAPI_PORT; the port is announced in $T/NAME.cports.
run_connector() {
    r="$T/$1"
    mkdir -p "$r/ngfw/etc/sf"
    # Paths in the settings are taken under --root: the certificates are
    # reached through a link there.
    ln -s "$T/certs" "$r/certs"
    write_host_map "$r/sse-hosts.map"
    [ -s "$r/sse-hosts.map" ] || fail "empty host map"
    echo 'connector_port=0' >"$r/ngfw/etc/sf/connector.properties"
    cat >"$r/ngfw/etc/sf/connector.yaml" <<EOF
Globals:
  server_port: 0
  ca_file: /certs/connectorCA.pem
  host_map: /sse-hosts.map
  Log:
    log_type: file
    log_level: debug
EOF
    "$BIN/sse-connector" --root "$r" --ports-file "$T/$1.cports" \
        2>"$T/$1-stderr.log" &
    CONNECTOR_PID=$!
    PIDS="$PIDS $CONNECTOR_PID"
    wait_for "$1 local API announced" 60 grep -q '"ready":true' \
        "$T/$1.cports"
    grep -q '"service":"connector-api","region":"local","host":"127.0.0.1"' \
        "$T/$1.cports" || fail "$1.cports: $(cat "$T/$1.cports")"
    CAPI_PORT=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$T/$1.cports")
    ln -sf "$r/ngfw/var/log/connector/connector.log" "$T/$1.log"
}

# api METHOD PATH [curl args]: the HTTP status on stdout, the body in
# $T/body.
api() {
    method=$1
    path=$2
    shift 2
    curl -sS --max-time 30 -X "$method" -o "$T/body" -w '%{http_code}' \
        "$@" "http://127.0.0.1:$CAPI_PORT$path"
}

post_json() {
    api POST "$1" -H 'Content-Type: application/json' --data-binary "@$2"
}

status_is() {
    [ "$(api GET /v1/contexts/default/status)" = 200 ] &&
        grep -q "\"status\":\"$1\"" "$T/body"
}

# mint HOST TENANT REGION FILE: a token document from the token service.
mint() {
    code=$(curl_host "$1" "$tokpath" -H 'Content-Type: application/json' \
        -d "{\"tenant\":\"$2\",\"region\":\"$3\"}" -o "$4" -w '%{http_code}')
    [ "$code" = 201 ] || fail "token from $1: HTTP $code: $(cat "$4")"
    sed -n 's/.*"token":"\([A-Za-z0-9]*\)".*/\1/p' "$4"
}

# exited PID: the process is gone or a zombie.
exited() {
    [ ! -e "/proc/$1/stat" ] || [ "$(awk '{print $3}' "/proc/$1/stat")" = Z ]
}

# no_secret FILE TOKEN: neither the token nor anything shaped like one.
no_secret() {
    if grep -q "$2" "$1" || grep -qE '[A-Za-z0-9]{24,}' "$1"; then
        fail "$1 shows a secret:" \
            "$(grep -oE '[A-Za-z0-9]{24,}' "$1" | head -n 1)"
    fi
}

cat >"$T/context.json" <<'EOF'
{
  "clientInfo": {
    "version": "7.4.1-172",
    "description": "Cisco Secure Firewall Management Center for VMware",
    "name": "fmc-e2e",
    "guid": "0d4f1f6e-2b7a-4c52-9a3e-5f1b2c3d4e5f",
    "type": "FMC",
    "ip": "192.0.2.10"
  },
  "settings": {
    "client": {
      "administration": {"enabled": true},
      "statusCallback": {"uri": "http://127.0.0.1/sse/status"}
    },
    "exchange": {
      "fqdn": "api.eu.sse.itd.cisco.com",
      "registration": {"refreshInterval": 3600}
    },
    "events": {
      "uri": "ipc:///ngfw/var/sf/run/EventHandler_SSEConnector.sock",
      "type": "ZMQ_PUSH"
    },
    "fileUpload": {"enabled": true, "fqdn": "dex.eu.sse.itd.cisco.com"}
  }
}
EOF

start_ssesim

# --- first connector: the whole token document, EU region -------------
run_connector root
[ "$(api GET /v1/contexts)" = 200 ] && [ "$(cat "$T/body")" = "[]" ] ||
    fail "GET /v1/contexts on a fresh connector: $(cat "$T/body")"
status_is Disabled || fail "fresh connector: $(cat "$T/body")"
pass "a fresh connector lists no context and reports Disabled"

code=$(post_json /v1/contexts/ "$T/context.json")
[ "$code" = 201 ] || fail "create: HTTP $code: $(cat "$T/body")"
grep -q '"guid":"0d4f1f6e-2b7a-4c52-9a3e-5f1b2c3d4e5f"' "$T/body" ||
    fail "create did not answer the context: $(cat "$T/body")"
code=$(post_json /v1/contexts/ "$T/context.json")
[ "$code" = 409 ] || fail "second create: HTTP $code, not 409"
grep -q '"error"' "$T/body" || fail "409 without an error: $(cat "$T/body")"
status_is WaitingForToken || fail "after create: $(cat "$T/body")"
[ "$(api GET /v1/contexts/default)" = 200 ] &&
    grep -q 'EventHandler_SSEConnector.sock' "$T/body" ||
    fail "GET default: $(cat "$T/body")"
pass "create answers 201, again 409 (tolerated), status WaitingForToken"

token1=$(mint api.eu.sse.itd.cisco.com t-e2e eu "$T/token1.json")
[ "${#token1}" -eq 32 ] || fail "token is not 32 characters: $token1"
code=$(post_json /v1/contexts/default/activations "$T/token1.json")
[ "$code" = 202 ] || fail "activation: HTTP $code: $(cat "$T/body")"
wait_for "root: Enrolled" 120 status_is Enrolled
grep -q '"region":"eu"' "$T/body" && grep -q '"tenant_id":"t-e2e"' \
    "$T/body" || fail "enrolled elsewhere: $(cat "$T/body")"
pass "the whole token document enrols the connector in its region (eu)"

log="$T/root.log"
grep -q 'local API POST /v1/contexts/: 201' "$log" || fail "no 201 line"
grep -q 'local API POST /v1/contexts/: 409' "$log" || fail "no 409 line"
act="activations: 202 token ${token1:0:4}\.\.\.(32 chars)"
grep -q "local API POST /v1/contexts/default/$act" "$log" ||
    fail "no redacted activation line"
grep -q 'local API GET /v1/contexts/default/status from 127.0.0.1:' "$log" ||
    fail "no debug line for a status request"
no_secret "$log" "$token1"
pass "connector.log: one line per state-changing request, token redacted"

code=$(api POST '/v1/action?type=shutdown')
[ "$code" = 202 ] || fail "shutdown: HTTP $code: $(cat "$T/body")"
wait_for "the first connector to exit" 30 exited "$CONNECTOR_PID"
wait "$CONNECTOR_PID" || fail "the connector exited with $? after shutdown"
pass "POST /v1/action?type=shutdown answers 202 and the daemon exits"

# --- second connector: {"token": ...} only, the endpoint's region ------
run_connector root2
sed -e 's/api\.eu\.sse\.itd\.cisco\.com/api-sse.cisco.com/' \
    -e 's/dex\.eu\./dex./' "$T/context.json" >"$T/context-us.json"
code=$(post_json /v1/contexts "$T/context-us.json")
[ "$code" = 201 ] || fail "create: HTTP $code: $(cat "$T/body")"
token2=$(mint api-sse.cisco.com t-e2e us "$T/token2.json")
printf '{"token": "%s"}' "$token2" >"$T/token2-only.json"
code=$(post_json /v1/contexts/default/activations "$T/token2-only.json")
[ "$code" = 202 ] || fail "activation: HTTP $code: $(cat "$T/body")"
wait_for "root2: Enrolled" 120 status_is Enrolled
grep -q '"region":"us"' "$T/body" || fail "not in us: $(cat "$T/body")"
no_secret "$T/root2.log" "$token2"
pass "{\"token\": ...} alone enrols in the discovery endpoint's region (us)"

code=$(api POST '/v1/action?type=reset')
[ "$code" = 200 ] || fail "reset: HTTP $code: $(cat "$T/body")"
status_is Disabled || fail "after reset: $(cat "$T/body")"
[ "$(api GET /v1/contexts/default)" = 404 ] || fail "context kept by reset"
pass "POST /v1/action?type=reset forgets the context"

# --- ssesim fmc -----------------------------------------------------------
"$BIN/ssesim" fmc --ports-file "$T/ports.json" --certs "$T/certs" \
    --connector-ports-file "$T/root2.cports" --tenant t-fmc \
    --timeout-s 120 >"$T/fmc.log" 2>&1 ||
    fail "ssesim fmc exited $?: $(cat "$T/fmc.log")"
grep -q '^context: created on ' "$T/fmc.log" || fail "no context line"
grep -q '^activation: the whole token document posted (202)' "$T/fmc.log" ||
    fail "no activation line"
grep -qE '^token: [A-Za-z0-9]{4}\.\.\.\(32 chars\)' "$T/fmc.log" ||
    fail "no redacted token line"
grep -q '^enrolled: device .*, tenant t-fmc, region us' "$T/fmc.log" ||
    fail "no enrolled line"
no_secret "$T/fmc.log" "no-token-here"
status_is Enrolled || fail "after ssesim fmc: $(cat "$T/body")"
pass "ssesim fmc creates, activates and waits to Enrolled"

"$BIN/ssesim" fmc --ports-file "$T/ports.json" --certs "$T/certs" \
    --connector "http://127.0.0.1:$CAPI_PORT/" --activation token \
    --tenant t-fmc --timeout-s 120 >"$T/fmc2.log" 2>&1 ||
    fail "ssesim fmc (token only) exited $?: $(cat "$T/fmc2.log")"
grep -q '(409, tolerated)' "$T/fmc2.log" || fail "409 not reported"
grep -q '^activation: {"token": ...} posted (202)' "$T/fmc2.log" ||
    fail "no token-only activation line"
grep -q '^enrolled: ' "$T/fmc2.log" || fail "not enrolled again"
pass "ssesim fmc tolerates an existing context and posts the token alone"

set +e
"$BIN/ssesim" fmc --ports-file "$T/ports.json" --certs "$T/certs" \
    --region mars >/dev/null 2>"$T/usage.err"
rc=$?
"$BIN/ssesim" fmc --ports-file "$T/ports.json" --certs "$T/certs" \
    --connector http://127.0.0.1:1 --timeout-s 2 --quiet \
    >"$T/quiet.out" 2>"$T/unreach.err"
rc2=$?
set -e
[ "$rc" = 2 ] && grep -q -- '--region' "$T/usage.err" ||
    fail "bad usage: exit $rc: $(cat "$T/usage.err")"
[ "$rc2" = 1 ] && [ ! -s "$T/quiet.out" ] &&
    grep -q 'no answer from http://127.0.0.1:1' "$T/unreach.err" ||
    fail "unreachable connector: exit $rc2: $(cat "$T/unreach.err")"
pass "ssesim fmc: bad usage exits 2, an unreachable connector 1"
