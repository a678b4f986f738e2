#!/usr/bin/env bash
# ssesim's emulated proxy, seen with curl: CONNECT to an emulated host
# through the fault gate (the host's journal says via proxy), 405 and 502
# for what it does not tunnel, 407 until the rule's credentials come, an
# inspection leaf from the inspection CA that a client refuses unless it
# trusts that CA, WebSocket upgrades answered by the proxy while REST
# passes, a block page, and silence. Every CONNECT is in the journal.
. "$(dirname "$0")/lib.sh"

API=api-sse.cisco.com
MX=mx01.sse.itd.cisco.com
C="$T/certs"

start_ssesim
TOKEN=$(sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p' "$T/ports")
[ -n "$TOKEN" ] || fail "no admin token in $T/ports"
PX="http://127.0.0.1:$(port_of proxy)"

# via URL [curl args]: HTTPS through the proxy, trusting the private root
# unless the arguments say otherwise; prints the status, then the CONNECT
# status.
via() {
    url=$1
    shift
    curl -sS --max-time 30 --proxy "$PX" --cacert "$C/connectorCA.pem" \
        -o "$T/body" -w '%{http_code} %{http_connect}' "$@" "$url"
}

# --- a plain tunnel ----------------------------------------------------
out=$(via "https://$API/")
[ "$out" = "403 200" ] || fail "through the proxy: $out, expected 403 200"
grep -q Forbidden "$T/body" || fail "api-sse's own 403 body: $(cat "$T/body")"
wait_for "journal: CONNECT api-sse answered 200" 20 \
    journal_has "host=$API&layer=proxy&event=connect&status=200" "tunnel to port"
wait_for "journal: the host accepted it via the proxy" 20 \
    journal_has "host=$API&layer=tcp&event=accept" "via proxy conn"
wait_for "journal: the tunnel closed with its bytes" 20 \
    journal_has "host=$API&layer=proxy&event=close" "bytes to the host"
pass "CONNECT api-sse.cisco.com:443 tunnels through the gate"

# --- what it does not tunnel -------------------------------------------
code=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' \
    -X GET "$PX/")
[ "$code" = 405 ] || fail "GET to the proxy: HTTP $code, expected 405"
if curl -sS --max-time 30 --proxy "$PX" https://www.example.invalid/ \
    2>"$T/err"; then
    fail "an unknown host was tunnelled"
fi
grep -q "response 502" "$T/err" || fail "unknown host: $(cat "$T/err")"
if curl -sS --max-time 30 --proxy "$PX" "https://$API:8443/" 2>"$T/err"; then
    fail "port 8443 was tunnelled"
fi
grep -q "response 403" "$T/err" || fail "port 8443: $(cat "$T/err")"
pass "405 for GET, 502 for an unknown host, 403 for another port"

# --- proxy.auth-required -----------------------------------------------
id=$(fault_add '{"action":"proxy.auth-required","host":"*","user":"device","password":"s3cret"}')
curl -sS --max-time 30 --proxy "$PX" -D "$T/h407" -o /dev/null \
    "https://$API/" 2>"$T/err" && fail "no credentials: tunnelled"
grep -q "response 407" "$T/err" || fail "no credentials: $(cat "$T/err")"
grep -q '^Proxy-Authenticate: Basic realm="sselab proxy"' "$T/h407" ||
    fail "no Basic challenge: $(cat "$T/h407")"
curl -sS --max-time 30 --proxy "$PX" --proxy-user device:wrong \
    --proxy-basic "https://$API/" 2>"$T/err" && fail "wrong password: tunnelled"
grep -q "response 407" "$T/err" || fail "wrong password: $(cat "$T/err")"
out=$(via "https://$API/" --proxy-user device:s3cret --proxy-basic)
[ "$out" = "403 200" ] || fail "right credentials: $out"
wait_for "journal: 407 says why, without the password" 20 \
    journal_has "layer=proxy&event=connect&status=407" \
    "wrong password for user \\\\\"device\\\\\""
admin_get "/v1/journal?limit=5000" | grep -q "s3cret\|wrong\"" &&
    fail "a password is in the journal"
admin_get "/v1/faults" | grep -q '"password":"(set)"' ||
    fail "the rule's password is listed"
wait_for "journal: authenticated" 20 \
    journal_has "layer=proxy&event=connect&status=200" "authenticated as device"
fault_del "$id"
pass "407 with Proxy-Authenticate until the rule's credentials come"

# --- proxy.mitm ---------------------------------------------------------
id=$(fault_add '{"action":"proxy.mitm","host":"*"}')
curl -sS --max-time 30 --proxy "$PX" --cacert "$C/connectorCA.pem" \
    "https://$API/" -o /dev/null 2>"$T/err" && fail "mitm leaf accepted"
grep -q "unable to get local issuer certificate" "$T/err" ||
    fail "mitm: $(cat "$T/err")"
openssl x509 -in "$C/ca/inspection-ca.pem" -noout -subject |
    grep -q "sselab Inspection CA" || fail "inspection CA subject"
out=$(via "https://$API/" --cacert "$C/ca/inspection-ca.pem")
[ "$out" = "403 200" ] || fail "mitm with the inspection CA trusted: $out"
grep -q Forbidden "$T/body" || fail "mitm relays api-sse's own answer"
wait_for "journal: the client refused the leaf" 20 \
    journal_has "host=$API&layer=proxy&event=tls" "refused the leaf"
wait_for "journal: the client took the leaf" 20 \
    journal_has "host=$API&layer=proxy&event=tls" "took the leaf"
fault_del "$id"
pass "mitm: leaf from the inspection CA, refused unless trusted"

# --- proxy.strip-upgrade -------------------------------------------------
id=$(fault_add '{"action":"proxy.strip-upgrade","host":"*","status":426}')
out=$(via "https://$API/" --cacert "$C/ca/inspection-ca.pem")
[ "$out" = "403 200" ] || fail "strip-upgrade passes REST: $out"
curl -sS --max-time 30 --http1.1 --proxy "$PX" \
    --cacert "$C/ca/inspection-ca.pem" -D "$T/hup" -o "$T/body" \
    -H 'Upgrade: websocket' -H 'Connection: Upgrade' \
    -H 'Sec-WebSocket-Version: 13' \
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
    "https://$MX/v1/messaging" || true
grep -q "^HTTP/1.1 426" "$T/hup" || fail "upgrade: $(cat "$T/hup")"
grep -qi "^Via: 1.1 sselab-proxy" "$T/hup" || fail "no Via: $(cat "$T/hup")"
grep -q "WebSocket not supported" "$T/body" || fail "page: $(cat "$T/body")"
wait_for "journal: the upgrade answered by the proxy" 20 \
    journal_has "host=$MX&layer=proxy&event=request&status=426" \
    "host never saw it"
fault_del "$id"
pass "strip-upgrade: REST passes, the upgrade gets 426 from the proxy"

# --- proxy.block-page and proxy.silence ----------------------------------
id=$(fault_add '{"action":"proxy.block-page","service":"api-sse"}')
curl -sS --max-time 30 --proxy "$PX" "https://$API/" 2>"$T/err" &&
    fail "block page tunnelled"
grep -q "response 403" "$T/err" || fail "block page: $(cat "$T/err")"
fault_del "$id"
id=$(fault_add '{"action":"proxy.silence","host":"*","trigger":{"times":1}}')
curl -sS --max-time 2 --proxy "$PX" "https://$API/" 2>"$T/err" &&
    fail "silence answered"
grep -q "timed out" "$T/err" || fail "silence: $(cat "$T/err")"
out=$(via "https://$API/")
[ "$out" = "403 200" ] || fail "after silence's one time: $out"
fault_del "$id"
pass "block page 403 and a silent CONNECT"
