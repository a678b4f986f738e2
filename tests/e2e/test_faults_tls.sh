#!/usr/bin/env bash
# TLS faults of the gate, seen with curl and openssl s_client: each faulty
# leaf fails verification with its own reason, the host's own leaf is back
# once the rule goes, a stalled handshake times out, and the client
# certificate is insisted on or refused where the host normally does
# otherwise.
. "$(dirname "$0")/lib.sh"

API=api-sse.cisco.com
EST=est.sco.cisco.com
MX=mx01.sse.itd.cisco.com
C="$T/certs"

start_ssesim
TOKEN=$(sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p' "$T/ports")
[ -n "$TOKEN" ] || fail "no admin token in $T/ports"
"$BIN/ssesim" certs --out "$C" --client-cert dev1 >"$T/certs.out" ||
    fail "ssesim certs --client-cert dev1"

# s_client HOST OUT [args]: one request over TLS, verifying the server
# against the private root with the host's name; all openssl says to OUT.
s_client() {
    h=$1
    out=$2
    shift 2
    printf 'GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$h" |
        timeout 20 openssl s_client -connect "127.0.0.1:$(port_of "$h")" \
            -servername "$h" -verify_hostname "$h" \
            -CAfile "$C/connectorCA.pem" \
            -ign_eof "$@" >"$out" 2>&1 || true
}

# curl_fails HOST PATTERN [args]: curl fails, and says PATTERN.
curl_fails() {
    h=$1
    pat=$2
    shift 2
    if curl_host "$h" / -o /dev/null "$@" 2>"$T/err"; then
        fail "curl to $h succeeded, expected: $pat"
    fi
    grep -q -- "$pat" "$T/err" ||
        fail "curl to $h: not \"$pat\": $(cat "$T/err")"
}

# --- the faulty leaves --------------------------------------------------
# check_leaf ACTION CURL_SAYS NUM REASON: the leaf of tls.ACTION fails with
# curl saying CURL_SAYS and OpenSSL's first verify error NUM:REASON.
check_leaf() {
    action=$1
    curl_says=$2
    num=$3
    reason=$4
    id=$(fault_add "{\"action\":\"tls.$action\",\"host\":\"$API\"}")
    curl_fails "$API" "$curl_says"
    s_client "$API" "$T/s.$action.txt"
    grep -m 1 'verify error:' "$T/s.$action.txt" |
        grep -q "verify error:num=$num:$reason" ||
        fail "tls.$action: s_client: $(grep -i 'verify' "$T/s.$action.txt")"
    journal_has "host=$API&event=fault" "tls.$action rule $id" ||
        fail "tls.$action: no fault in the journal"
    fault_del "$id"
    pass "tls.$action: curl says \"$curl_says\", OpenSSL $num ($reason)"
}

check_leaf expired "certificate has expired" 10 "certificate has expired"
check_leaf not-yet-valid "certificate is not yet valid" 9 \
    "certificate is not yet valid"
check_leaf wrong-host "no alternative certificate subject name matches" 62 \
    "hostname mismatch"
check_leaf self-signed "self-signed certificate" 18 "self-signed certificate"
check_leaf unknown-ca "unable to get local issuer certificate" 20 \
    "unable to get local issuer certificate"

openssl x509 -in "$C/faults/expired/$API.pem" -noout -checkend 0 \
    >/dev/null && fail "the expired leaf on disk has not expired"
openssl x509 -in "$C/faults/unknown-ca/$API.pem" -noout -issuer |
    grep -q "Inspection Proxy Root CA" ||
    fail "the unknown-ca leaf is not from the inspection proxy's CA"
pass "the faulty leaves are written under certs/faults/"

s_client "$API" "$T/s.own.txt"
grep -q 'Verify return code: 0 (ok)' "$T/s.own.txt" ||
    fail "the own leaf does not verify again: $(grep -i verify "$T/s.own.txt")"
grep -Eq 'HTTP/1\.1 403' "$T/s.own.txt" || fail "no bare 403 after the faults"
pass "rules removed: $API presents its own leaf again"

# times: the first connection meets the fault, the second does not.
id=$(fault_add "{\"action\":\"tls.expired\",\"host\":\"$API\",\
\"trigger\":{\"times\":1}}")
curl_fails "$API" "certificate has expired"
curl_host "$API" / -o /dev/null 2>"$T/err" ||
    fail "tls.expired times 1: the second connection failed: $(cat "$T/err")"
admin_get "/v1/faults/$id" >"$T/rule.json"
jq -e '.hits == 1 and .spent == true' "$T/rule.json" >/dev/null ||
    fail "tls.expired times 1: $(cat "$T/rule.json")"
fault_del "$id"
pass "tls.expired with times 1 bites once and is listed spent"

# --- tls.stall ----------------------------------------------------------
id=$(fault_add "{\"action\":\"tls.stall\",\"host\":\"$API\"}")
set +e
echo | timeout 3 openssl s_client -connect "127.0.0.1:$(port_of "$API")" \
    -servername "$API" -CAfile "$C/connectorCA.pem" >"$T/stall.txt" 2>&1
rc=$?
set -e
[ "$rc" = 124 ] ||
    fail "tls.stall: s_client exit $rc: $(tail -n 3 "$T/stall.txt")"
grep -q 'BEGIN CERTIFICATE\|Server certificate' "$T/stall.txt" &&
    fail "tls.stall: a certificate came back"
wait_for "the stalled connection's close" 10 journal_has \
    "host=$API&event=close" "closed by the client after"
admin_get "/v1/journal?host=$API&event=close&layer=tls" |
    grep -Eq "tls.stall rule $id\\), [1-9][0-9]* bytes read" ||
    fail "tls.stall: the ClientHello was not read"
fault_del "$id"
pass "tls.stall: the ClientHello is read, s_client times out"

# --- client certificates ------------------------------------------------
id=$(fault_add "{\"action\":\"tls.client-cert-required\",\"host\":\"$API\"}")
s_client "$API" "$T/ccr.none.txt"
grep -q 'alert certificate required' "$T/ccr.none.txt" ||
    fail "tls.client-cert-required: $(tail -n 5 "$T/ccr.none.txt")"
grep -Eq 'HTTP/1\.1 [0-9]' "$T/ccr.none.txt" &&
    fail "tls.client-cert-required: answered without a certificate"
s_client "$API" "$T/ccr.dev.txt" -cert "$C/clients/dev1.pem" \
    -key "$C/clients/dev1.key"
grep -Eq 'HTTP/1\.1 403' "$T/ccr.dev.txt" ||
    fail "tls.client-cert-required: a device certificate was refused: \
$(tail -n 5 "$T/ccr.dev.txt")"
fault_del "$id"
curl_host "$API" / -o /dev/null 2>"$T/err" ||
    fail "$API insists on a certificate after the rule: $(cat "$T/err")"
pass "tls.client-cert-required: $API insists on a device certificate"

id=$(fault_add "{\"action\":\"tls.client-cert-refused\",\"host\":\"$EST\"}")
curl_host "$EST" /.well-known/est/cacerts -o /dev/null 2>"$T/err" ||
    fail "tls.client-cert-refused: est refused a client without one"
s_client "$EST" "$T/ccf.dev.txt" -cert "$C/clients/dev1.pem" \
    -key "$C/clients/dev1.key"
grep -q 'alert unknown ca' "$T/ccf.dev.txt" ||
    fail "tls.client-cert-refused: $(tail -n 5 "$T/ccf.dev.txt")"
grep -Eq 'HTTP/1\.1 [0-9]' "$T/ccf.dev.txt" &&
    fail "tls.client-cert-refused: answered with a refused certificate"
fault_del "$id"
pass "tls.client-cert-refused: est refuses a valid device certificate"

id=$(fault_add "{\"action\":\"tls.client-cert-refused\",\"host\":\"$MX\"}")
s_client "$MX" "$T/ccf.mx.txt" -cert "$C/clients/dev1.pem" \
    -key "$C/clients/dev1.key"
grep -q 'alert unknown ca' "$T/ccf.mx.txt" ||
    fail "tls.client-cert-refused on mx: $(tail -n 5 "$T/ccf.mx.txt")"
fault_del "$id"
s_client "$MX" "$T/mx.dev.txt" -cert "$C/clients/dev1.pem" \
    -key "$C/clients/dev1.key"
grep -Eq 'HTTP/1\.1 [0-9]' "$T/mx.dev.txt" ||
    fail "mx refuses the device certificate after the rule: \
$(tail -n 5 "$T/mx.dev.txt")"
pass "tls.client-cert-refused: mx refuses the certificate it takes otherwise"
