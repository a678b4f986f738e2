#!/usr/bin/env bash
# test_est_enrol.sh: an RFC 7030 enrolment against `ssesim serve`, done with
# nothing but curl and the openssl program: mint a token and register on
# api-sse, then cacerts, csrattrs, simpleenroll with the one-time
# credential (once only), and simplereenroll with the issued certificate.
source "$(dirname "$0")/lib.sh"

API=api-sse.cisco.com
EST=est.sco.cisco.com
WK=/.well-known/est
C="$T/certs"

# json_field NAME < doc: the string value of "NAME" (compact or spaced JSON).
json_field() {
    sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p" | head -n 1
}

# post_json HOST PATH BODY OUT: POST, body to OUT, prints the status.
post_json() {
    curl_host "$1" "$2" -X POST -H 'Content-Type: application/json' \
        --data-binary "$3" -o "$4" -w '%{http_code}'
}

# new_csr OUT_PREFIX SUBJECT: key to PREFIX.key, base64 DER CSR to
# PREFIX.b64.
new_csr() {
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1.key" -subj "$2" -outform DER -out "$1.der" 2>/dev/null ||
        fail "openssl req $2"
    base64 "$1.der" >"$1.b64"
}

# est_post OP OUT [curl args]: POST PREFIX.b64 style bodies to est; headers
# in OUT.h, body in OUT; prints the status.
est_post() {
    op=$1
    out=$2
    shift 2
    curl_host "$EST" "$WK/$op" -X POST \
        -H 'Content-Type: application/pkcs10' -D "$out.h" -o "$out" \
        -w '%{http_code}' "$@"
}

# certs_of B64 PEM: the certificates of a base64 PKCS#7 certs-only body.
certs_of() {
    base64 -d "$1" >"$1.der" || fail "$1 is not base64"
    openssl pkcs7 -inform DER -in "$1.der" -print_certs -out "$2" ||
        fail "$1 is not PKCS#7"
}

start_ssesim

# ---- token and registration on api-sse ----
code=$(post_json "$API" \
    /providers/sse/services/token/api/v2/auth_tokens/registration \
    '{"tenant":"t1","region":"us"}' "$T/token.json")
[ "$code" = 201 ] || fail "token: HTTP $code $(cat "$T/token.json")"
token=$(json_field token <"$T/token.json")
echo "$token" | grep -Eq '^[A-Za-z0-9]{32}$' || fail "token \"$token\""

guid="e2e-est-$$"
code=$(post_json "$API" /providers/sse/services/registration/api/v2/clients \
    "{\"token\":\"$token\",\"clientInfo\":{\"guid\":\"$guid\",\
\"name\":\"ftd-e2e\",\"type\":\"FTD\",\"version\":\"7.4.1\",\
\"description\":\"est e2e\",\"ip\":\"127.0.0.1\"}}" "$T/reg.json")
[ "$code" = 201 ] || fail "register: HTTP $code $(cat "$T/reg.json")"
device=$(json_field device_id <"$T/reg.json")
tenant=$(json_field tenant_id <"$T/reg.json")
user=$(json_field username <"$T/reg.json")
pass=$(json_field password <"$T/reg.json")
[ -n "$device" ] && [ -n "$tenant" ] && [ -n "$user" ] && [ -n "$pass" ] ||
    fail "registration lacks device, tenant or EST credential: \
$(cat "$T/reg.json")"
pass "registered device $device of tenant $tenant"

# ---- cacerts ----
curl_host "$EST" "$WK/cacerts" -D "$T/cacerts.h" -o "$T/cacerts.b64" ||
    fail "cacerts"
grep -qi '^HTTP/1.1 200' "$T/cacerts.h" ||
    fail "cacerts: $(head -n 1 "$T/cacerts.h")"
grep -qi '^content-type: application/pkcs7-mime' "$T/cacerts.h" ||
    fail "cacerts Content-Type: $(grep -i content-type "$T/cacerts.h")"
grep -qi '^content-transfer-encoding: base64' "$T/cacerts.h" ||
    fail "cacerts lacks Content-Transfer-Encoding: base64"
certs_of "$T/cacerts.b64" "$T/cacerts.pem"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/cacerts.pem")" -eq 2 ] ||
    fail "cacerts should hold two certificates"
grep -q 'subject=.*sselab Device CA' "$T/cacerts.pem" ||
    fail "cacerts lacks the device CA"
grep -q 'subject=.*sselab Root CA' "$T/cacerts.pem" ||
    fail "cacerts lacks the root"
pass "cacerts: device CA and root, PKCS#7 base64"

# ---- csrattrs ----
curl_host "$EST" "$WK/csrattrs" -D "$T/attrs.h" -o "$T/attrs.b64" ||
    fail "csrattrs"
grep -qi '^content-type: application/csrattrs' "$T/attrs.h" ||
    fail "csrattrs Content-Type: $(grep -i content-type "$T/attrs.h")"
base64 -d "$T/attrs.b64" >"$T/attrs.der" || fail "csrattrs is not base64"
openssl asn1parse -inform DER -in "$T/attrs.der" >"$T/attrs.txt" ||
    fail "csrattrs is not DER"
grep -q 'ecdsa-with-SHA256' "$T/attrs.txt" ||
    fail "csrattrs does not name ecdsa-with-SHA256: $(cat "$T/attrs.txt")"
pass "csrattrs decodes as a DER sequence"

# ---- simpleenroll ----
new_csr "$T/dev" /CN=whatever

code=$(est_post simpleenroll "$T/noauth.out" --data-binary @"$T/dev.b64")
[ "$code" = 401 ] || fail "enrol without credential: HTTP $code"
grep -qi '^www-authenticate: Basic realm="estrealm"' "$T/noauth.out.h" ||
    fail "401 without WWW-Authenticate: Basic realm=\"estrealm\""

echo 'bm90IGEgQ1NS' >"$T/bad.b64"
code=$(est_post simpleenroll "$T/bad.out" -u "$user:$pass" \
    --data-binary @"$T/bad.b64")
[ "$code" = 400 ] || fail "enrol with a bad CSR: HTTP $code"
grep -q 'CSR' "$T/bad.out" || fail "400 does not say why: $(cat "$T/bad.out")"
pass "a bad CSR is refused 400 and keeps the credential"

code=$(est_post simpleenroll "$T/enrol.b64" -u "$user:$pass" \
    --data-binary @"$T/dev.b64")
[ "$code" = 200 ] || fail "enrol: HTTP $code $(cat "$T/enrol.b64")"
grep -Eqi '^content-type: application/pkcs7-mime; *smime-type=certs-only' \
    "$T/enrol.b64.h" ||
    fail "enrol Content-Type: $(grep -i content-type "$T/enrol.b64.h")"
grep -qi '^content-transfer-encoding: base64' "$T/enrol.b64.h" ||
    fail "enrol lacks Content-Transfer-Encoding: base64"
certs_of "$T/enrol.b64" "$T/dev.pem"
out=$(openssl verify -CAfile "$C/ca/root.pem" \
    -untrusted "$C/ca/device-ca.pem" -purpose sslclient "$T/dev.pem" 2>&1) ||
    fail "enrolled certificate does not verify: $out"
subject=$(openssl x509 -in "$T/dev.pem" -noout -subject -nameopt compat)
[ "$subject" = "subject=/O=$tenant/CN=$device" ] ||
    fail "enrolled subject \"$subject\", expected /O=$tenant/CN=$device"
openssl x509 -in "$T/dev.pem" -noout -text | grep -q 'TLS Web Client' ||
    fail "enrolled certificate lacks clientAuth"
pass "simpleenroll issued $subject, verifying as sslclient"

new_csr "$T/again" /CN=whatever
code=$(est_post simpleenroll "$T/again.out" -u "$user:$pass" \
    --data-binary @"$T/again.b64")
[ "$code" = 401 ] || fail "second use of the credential: HTTP $code"
pass "the one-time credential is refused the second time"

if grep -qF -- "$pass" "$T/ssesim.log"; then
    fail "the EST password appears in ssesim's log"
fi

# ---- simplereenroll ----
new_csr "$T/re" "/O=$tenant/CN=$device"
code=$(est_post simplereenroll "$T/nocert.out" --data-binary @"$T/re.b64")
[ "$code" = 403 ] || fail "reenrol without a certificate: HTTP $code"
pass "simplereenroll without a client certificate is refused"

new_csr "$T/other" "/O=$tenant/CN=someone-else"
code=$(est_post simplereenroll "$T/other.out" --cert "$T/dev.pem" \
    --key "$T/dev.key" --data-binary @"$T/other.b64")
[ "$code" = 400 ] || fail "reenrol with another subject: HTTP $code"
grep -q 'subject' "$T/other.out" ||
    fail "400 does not name the subject: $(cat "$T/other.out")"
pass "simplereenroll with another subject is refused 400"

code=$(est_post simplereenroll "$T/reenrol.b64" --cert "$T/dev.pem" \
    --key "$T/dev.key" --data-binary @"$T/re.b64")
[ "$code" = 200 ] || fail "reenrol: HTTP $code $(cat "$T/reenrol.b64")"
certs_of "$T/reenrol.b64" "$T/re.pem"
out=$(openssl verify -CAfile "$C/ca/root.pem" \
    -untrusted "$C/ca/device-ca.pem" -purpose sslclient "$T/re.pem" 2>&1) ||
    fail "reenrolled certificate does not verify: $out"
old_serial=$(openssl x509 -in "$T/dev.pem" -noout -serial)
new_serial=$(openssl x509 -in "$T/re.pem" -noout -serial)
[ "$old_serial" != "$new_serial" ] || fail "reenrol returned the same serial"
[ "$(openssl x509 -in "$T/re.pem" -noout -subject -nameopt compat)" = \
    "$subject" ] || fail "reenrolled subject changed"
[ "$(openssl x509 -in "$T/re.pem" -noout -pubkey)" = \
    "$(openssl pkey -in "$T/re.key" -pubout)" ] ||
    fail "reenrolled certificate is not for the new key"
pass "simplereenroll with the enrolled certificate issued a new one"

code=$(curl_host "$EST" "$WK/nosuchop" -o /dev/null -w '%{http_code}')
[ "$code" = 404 ] || fail "unknown EST path: HTTP $code"
pass "unknown EST path answers 404"
