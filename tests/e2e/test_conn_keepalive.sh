#!/usr/bin/env bash
# TCP keepalive on the connector's outbound sockets, seen from outside with
# `ss -o` (the kernel's keepalive timer on the socket), not from the
# connector's own report: both WebSockets (mx01, eventing-ingest) once
# enrolled, and a REST call to api-sse held open by tcp.silence.
. "$(dirname "$0")/lib.sh"

command -v ss >/dev/null || fail "ss (iproute2) is needed"
start_ssesim
TOKEN=$(sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p' "$T/ports")
[ -n "$TOKEN" ] || fail "no admin token in $T/ports"
start_connector
"$BIN/ssesim" fmc --ports-file "$T/ports.json" --certs "$T/certs" \
    --connector "http://127.0.0.1:$CAPI_PORT" --timeout-s 120 \
    >"$T/fmc.log" 2>&1 || fail "fmc did not reach Enrolled: $(cat "$T/fmc.log")"

# keepalive_on PORT: an established connection of the connector to PORT
# whose timer is keepalive, at most 30 s away (the idle time it asked).
keepalive_on() {
    ss -tnoH state established "( dport = :$1 )" >"$T/ss.$1" 2>&1 || return 1
    grep -q "timer:(keepalive," "$T/ss.$1" || return 1
    left=$(sed -n 's/.*timer:(keepalive,\([0-9.]*\)\(sec\|min\|ms\).*/\1 \2/p' \
        "$T/ss.$1" | head -n 1)
    n=${left%% *}
    case "$left" in
    *ms | *sec) [ "${n%%.*}" -le 30 ] ;;
    *) false ;;
    esac
}

for h in eventing-ingest.sse.itd.cisco.com mx01.sse.itd.cisco.com; do
    p=$(port_of "$h")
    wait_for "keepalive on the connection to $h" 60 keepalive_on "$p"
    timer=$(grep -o 'timer:([^)]*)' "$T/ss.$p")
    pass "the connection to $h has TCP keepalive: $timer"
done

# A REST call held open: api-sse accepts and never answers, and a new
# activation makes the connector register again.
API=api-sse.cisco.com
curl -sS --max-time 30 -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' \
    --data-binary "{\"action\":\"tcp.silence\",\"host\":\"$API\"}" \
    -o "$T/fault.json" -w '%{http_code}' \
    "http://127.0.0.1:$(port_of admin)/v1/faults" | grep -qx 201 ||
    fail "tcp.silence refused: $(cat "$T/fault.json")"
# The token service is silent too now: a token alone does, as the
# connector never gets as far as having it checked.
capi /v1/contexts/default/activations -H 'Content-Type: application/json' \
    -d '{"token":"Zq7RkT2mWx9LpB4nVc6HsJ8dFg3YtA5e"}' >"$T/act.json"
grep -q '"accepted"' "$T/act.json" || fail "activation: $(cat "$T/act.json")"
p=$(port_of "$API")
wait_for "keepalive on the REST connection to $API" 60 keepalive_on "$p"
timer=$(grep -o 'timer:([^)]*)' "$T/ss.$p")
pass "the REST connection to $API has TCP keepalive: $timer"
