#!/usr/bin/env bash
# api-sse seen through curl, a client nobody here wrote: the seed document's
# connectivity check (403 Forbidden, 9 bytes, its headers) on every region's
# api host, then token, region discovery and registration shapes.
. "$(dirname "$0")/lib.sh"

start_ssesim

for h in api-sse.cisco.com api.eu.sse.itd.cisco.com \
    api.apj.sse.itd.cisco.com; do
    curl_host "$h" / -v -o "$T/body" 2>"$T/verbose" || fail "curl to $h"
    grep -q '^< HTTP/1.1 403 Forbidden' "$T/verbose" ||
        fail "$h: no 'HTTP/1.1 403 Forbidden' line"
    grep -q '^< Content-Length: 9' "$T/verbose" ||
        fail "$h: Content-Length is not 9"
    grep -qi '^< content-type: text/plain' "$T/verbose" ||
        fail "$h: Content-Type is not text/plain"
    for hdr in 'cache-control: no-store' 'pragma: no-cache' \
        "content-security-policy: default-src 'self'" \
        'x-content-type-options: nosniff' \
        'x-xss-protection: 1; mode=block' 'strict-transport-security:'; do
        grep -qi "^< $hdr" "$T/verbose" || fail "$h: missing header '$hdr'"
    done
    grep -q 'SSL certificate verify ok' "$T/verbose" ||
        fail "$h: certificate not verified against connectorCA.pem"
    grep -q 'ALPN: server accepted http/1.1' "$T/verbose" ||
        fail "$h: ALPN did not settle on http/1.1"
    [ "$(cat "$T/body")" = "Forbidden" ] || fail "$h: body is not Forbidden"
    pass "$h answers the bare 403 with its headers"
done

# The real name is what is verified: a wrong name must fail.
if curl -sS --max-time 30 --cacert "$T/certs/connectorCA.pem" \
    --connect-to "api.eu.sse.itd.cisco.com:443:127.0.0.1:$(port_of \
    api-sse.cisco.com)" https://api.eu.sse.itd.cisco.com/ \
    >/dev/null 2>"$T/wrong"; then
    fail "a leaf for api-sse.cisco.com passed as api.eu.sse.itd.cisco.com"
fi
pass "the US leaf does not verify as the EU host"

curl_host api-sse.cisco.com /providers/sse/api/v1/regions >"$T/regions"
for r in us eu apj; do
    grep -q "\"name\":\"$r\"" "$T/regions" || fail "region $r not listed"
done
grep -q 'wss://eventing-ingest.eu.sse.itd.cisco.com/v1/events' \
    "$T/regions" || fail "EU eventing URL missing from region discovery"
pass "region discovery lists us, eu, apj with their URLs"

tokpath=/providers/sse/services/token/api/v2/auth_tokens/registration
clipath=/providers/sse/services/registration/api/v2/clients
curl_host api-sse.cisco.com "$tokpath" -H 'Content-Type: application/json' \
    -d '{"tenant":"t-lab","region":"us"}' -w '\n%{http_code}\n' >"$T/tok"
tail -n 1 "$T/tok" | grep -qx 201 || fail "token: $(cat "$T/tok")"
token=$(sed -n 's/.*"token":"\([A-Za-z0-9]*\)".*/\1/p' "$T/tok")
[ "${#token}" -eq 32 ] || fail "token is not 32 alphanumerics: '$token'"
pass "token service mints a 32-character token"

# Every member of a token request is checked, and a bad one is named.
bad_token() {
    curl_host api-sse.cisco.com "$tokpath" -H 'Content-Type: application/json' \
        -d "$1" -w '\n%{http_code}\n' >"$T/tok"
    tail -n 1 "$T/tok" | grep -qx 400 || fail "token $1: $(cat "$T/tok")"
    head -n 1 "$T/tok" | jq -e --arg f "$2" '.error.field == $f' >/dev/null ||
        fail "token $1: not field $2: $(cat "$T/tok")"
    head -n 1 "$T/tok" | jq -r .error.message | grep -qF -- "$3" ||
        fail "token $1: message: $(cat "$T/tok")"
}
bad_token '{"region":5}' region 'region: expected a string (us, eu or apj)'
bad_token '{"region":"mars"}' region 'expected us, eu or apj, got "mars"'
long=$(head -c 5000 /dev/zero | tr '\0' t)
bad_token "{\"tenant\":\"$long\"}" tenant \
    'tenant: expected 1 to 39 characters, got 5000'
bad_token '{"tenant":""}' tenant 'expected 1 to 39 characters, got 0'
bad_token '{"tenant":7}' tenant 'tenant: expected a string, got a number'
bad_token '{"tenant":"a b"}' tenant "got byte 0x20 at character 2"
bad_token '{"tenant":"t1","regoin":"us"}' regoin \
    'unknown field "regoin" (expected tenant, region)'
curl_host api-sse.cisco.com "$tokpath" -H 'Content-Type: application/json' \
    -d '{}' -w '\n%{http_code}\n' >"$T/tok"
tail -n 1 "$T/tok" | grep -qx 201 || fail "token {}: $(cat "$T/tok")"
head -n 1 "$T/tok" | jq -e '[.tenant_id, .region] == ["tenant-lab", "us"]' \
    >/dev/null || fail "token {}: defaults: $(cat "$T/tok")"
pass "a token request with a wrong type, a tenant over 39 characters or an" \
    "unknown member is answered 400 naming the member; {} takes the defaults"

reg() {
    curl_host "$1" "$clipath" -H 'Content-Type: application/json' \
        -d "{\"token\":\"$2\",\"clientInfo\":{\"guid\":\"$3\",\
\"name\":\"ftd-lab\",\"type\":\"FTD\",\"version\":\"7.4.1\"}}" \
        -w '\n%{http_code}\n'
}
reg api.eu.sse.itd.cisco.com "$token" g-1 >"$T/reg"
tail -n 1 "$T/reg" | grep -qx 403 || fail "US token on EU api: $(cat "$T/reg")"
pass "a US token at the EU api gets 403"

reg api-sse.cisco.com "$token" g-1 >"$T/reg"
tail -n 1 "$T/reg" | grep -qx 201 || fail "register: $(cat "$T/reg")"
for k in device_id tenant_id est username password messaging eventing \
    refresh_interval; do
    grep -q "\"$k\"" "$T/reg" || fail "registration answer lacks $k"
done
pass "registration answers device id, EST credential and URLs"

reg api-sse.cisco.com "$token" g-2 >"$T/reg"
tail -n 1 "$T/reg" | grep -qx 410 || fail "reuse: $(cat "$T/reg")"
pass "the token claimed by one device is refused to another with 410"

reg api-sse.cisco.com ABCDEFGHIJKLMNOPQRSTUVWXYZ012345 g-3 >"$T/reg"
tail -n 1 "$T/reg" | grep -qx 401 || fail "unknown token: $(cat "$T/reg")"
pass "an unknown token gets 401"

curl_host api-sse.cisco.com "$clipath" -H 'Content-Type: text/plain' \
    -d 'x' -o /dev/null -w '%{http_code}\n' | grep -qx 415 ||
    fail "non-JSON body not refused with 415"
pass "a body that is not JSON gets 415"

# The journal saw the requests, with host and status.
admin_get '/v1/journal?limit=5000' >"$T/journal"
grep -q '"host":"api-sse.cisco.com","region":"us","layer":"http","event":"request","status":403' \
    "$T/journal" || fail "journal lacks the 403 request"
pass "the journal records requests with host, region and status"

# A port serves its own host only: a Host header naming another emulated
# host (here the mTLS-only ingest, through api-sse's port, without a
# client certificate) is refused, for plain requests and for upgrades.
api_port=$(port_of api-sse.cisco.com)
code=$(curl -sS --max-time 30 --cacert "$T/certs/connectorCA.pem" \
    --connect-to "api-sse.cisco.com:443:127.0.0.1:$api_port" \
    -H 'Host: eventing-ingest.sse.itd.cisco.com' -o /dev/null \
    -w '%{http_code}' https://api-sse.cisco.com/v1/events)
[ "$code" = 421 ] || fail "Host of another emulated host answered $code"
code=$(curl -sS --http1.1 --max-time 10 --cacert "$T/certs/connectorCA.pem" \
    --connect-to "api-sse.cisco.com:443:127.0.0.1:$api_port" \
    -H 'Host: eventing-ingest.sse.itd.cisco.com' -H 'Connection: Upgrade' \
    -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
    -H 'Sec-WebSocket-Protocol: sse-eventing.v1' -o /dev/null \
    -w '%{http_code}' https://api-sse.cisco.com/v1/events || true)
[ "$code" != 101 ] || fail "an upgrade through api-sse's port reached ingest"
code=$(curl -sS --max-time 30 --cacert "$T/certs/connectorCA.pem" \
    --connect-to "api.eu.sse.itd.cisco.com:443:127.0.0.1:$(port_of \
    api.eu.sse.itd.cisco.com)" -H 'Host: api-sse.cisco.com' \
    -H 'Content-Type: application/json' -d '{"tenant":"t"}' -o /dev/null \
    -w '%{http_code}' \
    "https://api.eu.sse.itd.cisco.com$tokpath")
[ "$code" = 421 ] || fail "the EU api served a request for the US host: $code"
pass "a Host header naming another emulated host gets 421, never its service"

code=$(printf '{}' | curl -sS --max-time 30 --cacert "$T/certs/connectorCA.pem" \
    --connect-to "api-sse.cisco.com:443:127.0.0.1:$api_port" \
    -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    --data-binary @- -o /dev/null -w '%{http_code}' \
    "https://api-sse.cisco.com$tokpath")
[ "$code" = 411 ] || fail "a chunked body got $code, not 411"
pass "a chunked request body is answered 411 at once"
