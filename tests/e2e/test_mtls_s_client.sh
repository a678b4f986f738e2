#!/usr/bin/env bash
# test_mtls_s_client.sh: mx01 and eventing-ingest insist on a client
# certificate from the device CA. Checked with `openssl s_client` only:
# without a certificate (or with a foreign one) no HTTP answer comes back;
# with the certificate that est enrolled, the server's chain verifies up to
# the private root and the host answers.
source "$(dirname "$0")/lib.sh"

API=api-sse.cisco.com
EST=est.sco.cisco.com
C="$T/certs"
HOSTS="mx01.sse.itd.cisco.com eventing-ingest.sse.itd.cisco.com
mx01.eu.sse.itd.cisco.com"

json_field() {
    sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p" | head -n 1
}

post_json() {
    curl_host "$API" "$1" -X POST -H 'Content-Type: application/json' \
        --data-binary "$2" -o "$3" -w '%{http_code}'
}

# s_client HOST OUT [args]: one request over TLS to HOST, everything that
# openssl printed to OUT. TLS 1.3 reports a refused client certificate
# only when reading, so the request is sent and the answer waited for.
s_client() {
    h=$1
    out=$2
    shift 2
    printf 'GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$h" |
        timeout 30 openssl s_client -connect "127.0.0.1:$(port_of "$h")" \
            -servername "$h" -CAfile "$C/connectorCA.pem" -ign_eof \
            "$@" >"$out" 2>&1 || true
}

start_ssesim

# ---- a device certificate, enrolled through est ----
code=$(post_json /providers/sse/services/token/api/v2/auth_tokens/registration \
    '{"tenant":"t1","region":"us"}' "$T/token.json")
[ "$code" = 201 ] || fail "token: HTTP $code $(cat "$T/token.json")"
token=$(json_field token <"$T/token.json")
code=$(post_json /providers/sse/services/registration/api/v2/clients \
    "{\"token\":\"$token\",\"clientInfo\":{\"guid\":\"e2e-mtls-$$\",\
\"name\":\"ftd-mtls\",\"type\":\"FTD\",\"version\":\"7.4.1\",\
\"description\":\"mtls e2e\",\"ip\":\"127.0.0.1\"}}" "$T/reg.json")
[ "$code" = 201 ] || fail "register: HTTP $code $(cat "$T/reg.json")"
user=$(json_field username <"$T/reg.json")
pass=$(json_field password <"$T/reg.json")

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/dev.key" -subj /CN=whatever -outform DER \
    -out "$T/dev.der" 2>/dev/null || fail "openssl req"
base64 "$T/dev.der" >"$T/dev.b64"
code=$(curl_host "$EST" /.well-known/est/simpleenroll -X POST \
    -u "$user:$pass" -H 'Content-Type: application/pkcs10' \
    --data-binary @"$T/dev.b64" -o "$T/enrol.b64" -w '%{http_code}')
[ "$code" = 200 ] || fail "enrol: HTTP $code $(cat "$T/enrol.b64")"
base64 -d "$T/enrol.b64" | openssl pkcs7 -inform DER -print_certs \
    -out "$T/dev.pem" || fail "enrolment answer is not PKCS#7"
pass "enrolled a device certificate through est"

# A certificate from a CA that nobody here trusts.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/stranger.key" -out "$T/stranger.pem" -days 2 \
    -subj /CN=stranger 2>/dev/null || fail "openssl req -x509"

for h in $HOSTS; do
    s_client "$h" "$T/none.$h.txt"
    if grep -Eq 'HTTP/1\.[01] [0-9]{3}' "$T/none.$h.txt"; then
        fail "$h answered HTTP without a client certificate"
    fi
    grep -Eqi 'alert|certificate required|handshake failure' \
        "$T/none.$h.txt" ||
        fail "$h: no TLS alert without a client certificate: \
$(tail -n 5 "$T/none.$h.txt")"
    pass "$h refuses a client without a certificate"

    s_client "$h" "$T/stranger.$h.txt" -cert "$T/stranger.pem" \
        -key "$T/stranger.key"
    if grep -Eq 'HTTP/1\.[01] [0-9]{3}' "$T/stranger.$h.txt"; then
        fail "$h answered HTTP to a certificate from an unknown CA"
    fi
    pass "$h refuses a certificate from an unknown CA"

    s_client "$h" "$T/dev.$h.txt" -cert "$T/dev.pem" -key "$T/dev.key" \
        -verify_return_error
    grep -q 'Verify return code: 0 (ok)' "$T/dev.$h.txt" ||
        fail "$h: server chain did not verify: \
$(grep -i verify "$T/dev.$h.txt" | head -n 5)"
    grep -Eq '^depth=2 .*sselab Root CA' "$T/dev.$h.txt" ||
        fail "$h: the private root is not at the top of the chain"
    grep -Eq "^depth=0 .*CN = $h" "$T/dev.$h.txt" ||
        fail "$h: the leaf does not name the host"
    grep -Eq 'HTTP/1\.[01] [0-9]{3}' "$T/dev.$h.txt" ||
        fail "$h: no HTTP answer with the enrolled certificate: \
$(tail -n 5 "$T/dev.$h.txt")"
    pass "$h accepts the enrolled certificate, chain to the private root"
done
