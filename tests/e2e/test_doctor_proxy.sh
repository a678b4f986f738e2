#!/usr/bin/env bash
# sse-doctor's probes through the proxy the connector would use
# (HTTPS_PROXY) and against intermediaries: a 407 is named at the proxy
# step, ahead of TLS (K20); an inspecting proxy's certificate is named by
# its issuer (K14); a block page by its title (K22). Before enrolment the
# WebSocket hosts want a client certificate the device does not have yet:
# a warning, not a failure.
. "$(dirname "$0")/lib.sh"

start_ssesim
start_connector
proxy="http://127.0.0.1:$(port_of proxy)"

# doctor NAME [env...]: sse-doctor --json, the JSON in $T/NAME.json.
doctor() {
    name=$1
    shift
    env "$@" "$BIN/sse-doctor" --root "$T/root" --ports-file "$T/cports" \
        --timeout 20 --json >"$T/$name.json" 2>"$T/$name.err" || true
    jq -e . "$T/$name.json" >/dev/null ||
        fail "$name: not JSON: $(cat "$T/$name.json" "$T/$name.err")"
}

finding() {
    jq -r --arg id "$2" ".findings[] | select(.id == \$id) | $3" \
        "$T/$1.json"
}

step() {
    finding "$1" "$2" ".steps[] | select(.step == \"$3\") | $4"
}

doctor via HTTPS_PROXY="$proxy"
[ "$(finding via reach.api-sse .result)" = ok ] ||
    fail "through the proxy: $(finding via reach.api-sse .summary)"
[ "$(step via reach.api-sse proxy .result)" = ok ] || fail "no proxy step"
finding via reach.api-sse .evidence.route | grep -qF "through proxy $proxy" ||
    fail "route: $(finding via reach.api-sse .evidence.route)"
step via reach.api-sse http .detail | grep -q '403 Forbidden' ||
    fail "no 403 through the proxy"
pass "through HTTPS_PROXY: CONNECT, TLS and api-sse's 403, route named"

for h in reach.mx reach.eventing-ingest; do
    [ "$(finding via "$h" .result)" = warn ] ||
        fail "$h before enrolment: $(finding via "$h" .result)"
    [ "$(finding via "$h" .step)" = tls ] || fail "$h: not step tls"
    finding via "$h" .fix | grep -q 'gets one when it enrols' ||
        fail "$h: fix $(finding via "$h" .fix)"
done
pass "before enrolment the WebSocket hosts' missing client certificate warns"

id=$(fault_add '{"action":"proxy.auth-required","host":"api-sse.cisco.com"}')
doctor auth HTTPS_PROXY="$proxy"
fault_del "$id"
[ "$(finding auth reach.api-sse .step)" = proxy ] ||
    fail "407: step $(finding auth reach.api-sse .step)"
finding auth reach.api-sse .summary |
    grep -q 'CONNECT api-sse.cisco.com:443 with HTTP/1.1 407' ||
    fail "407: $(finding auth reach.api-sse .summary)"
[ "$(step auth reach.api-sse tls .result)" = skip ] ||
    fail "407: a TLS result after a refused CONNECT"
finding auth reach.api-sse .fix | grep -q 'no certificate problem' ||
    fail "407: fix $(finding auth reach.api-sse .fix)"
pass "a 407 is the proxy step's failure, ahead of TLS, never a TLS error"

id=$(fault_add '{"action":"proxy.mitm","host":"api-sse.cisco.com"}')
doctor mitm HTTPS_PROXY="$proxy"
fault_del "$id"
[ "$(finding mitm reach.api-sse .step)" = tls ] ||
    fail "mitm: step $(finding mitm reach.api-sse .step)"
issuer=$(finding mitm reach.api-sse .evidence.issuer)
echo "$issuer" | grep -q 'Inspection CA' || fail "mitm: issuer $issuer"
finding mitm reach.api-sse .fix | grep -qF "intercepted: issued by $issuer" ||
    fail "mitm: fix $(finding mitm reach.api-sse .fix)"
pass "an inspecting proxy is named by the issuer it signs with: $issuer"

id=$(fault_add '{"action":"http.block-page","host":"api-sse.cisco.com"}')
doctor block
fault_del "$id"
[ "$(finding block reach.api-sse .step)" = http ] ||
    fail "block page: step $(finding block reach.api-sse .step)"
finding block reach.api-sse .summary | grep -q 'an HTML page titled "' ||
    fail "block page: $(finding block reach.api-sse .summary)"
[ "$(finding block reach.api-sse .evidence.route)" = direct ] ||
    fail "block page: not direct"
pass "an HTML block page is named by its title"
