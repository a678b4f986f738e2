#!/usr/bin/env bash
# EST faults and the cloud's clock, seen with curl and openssl: an
# enrolment refused with the rule's status (the one-time credential still
# good afterwards), a certificate issued for a few seconds only, and a
# clock.offset that moves the Date header, the validity of what est issues
# and the expiry of tokens, until the rule goes.
. "$(dirname "$0")/lib.sh"

API=api-sse.cisco.com
EST=est.sco.cisco.com
WK=/.well-known/est
TOKEN_PATH=/providers/sse/services/token/api/v2/auth_tokens/registration
REG=/providers/sse/services/registration/api/v2/clients

start_ssesim
TOKEN=$(sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p' "$T/ports")
[ -n "$TOKEN" ] || fail "no admin token in $T/ports"

faults_clear() {
    curl -sS --max-time 30 -X DELETE -H "Authorization: Bearer $TOKEN" \
        -o /dev/null "http://127.0.0.1:$(port_of admin)/v1/faults"
}

post_json() {
    curl_host "$API" "$1" -X POST -H 'Content-Type: application/json' \
        --data-binary "$2" -o "$3" -w '%{http_code}'
}

# register NAME: a token and a registration; sets EST_USER, EST_PASS.
register() {
    code=$(post_json "$TOKEN_PATH" '{"tenant":"t1","region":"us"}' \
        "$T/token.json")
    [ "$code" = 201 ] || fail "token: HTTP $code $(cat "$T/token.json")"
    tok=$(jq -r .token "$T/token.json")
    code=$(post_json "$REG" "{\"token\":\"$tok\",\"clientInfo\":{\
\"guid\":\"e2e-$1-$$\",\"name\":\"$1\",\"type\":\"FTD\",\"version\":\"7.4.1\",\
\"description\":\"faults e2e\",\"ip\":\"127.0.0.1\"}}" "$T/reg.json")
    [ "$code" = 201 ] || fail "register $1: HTTP $code $(cat "$T/reg.json")"
    EST_USER=$(jq -r .est.username "$T/reg.json")
    EST_PASS=$(jq -r .est.password "$T/reg.json")
}

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/dev.key" -subj /CN=whatever -outform DER -out "$T/dev.der" \
    2>/dev/null || fail "openssl req"
base64 "$T/dev.der" >"$T/dev.b64"

# enrol OUT: simpleenroll with the current credential; the answer to OUT,
# the certificate (on 200) to OUT.pem; prints the status.
enrol() {
    code=$(curl_host "$EST" "$WK/simpleenroll" -X POST \
        -u "$EST_USER:$EST_PASS" -H 'Content-Type: application/pkcs10' \
        --data-binary @"$T/dev.b64" -D "$1.h" -o "$1" -w '%{http_code}')
    if [ "$code" = 200 ]; then
        base64 -d "$1" | openssl pkcs7 -inform DER -print_certs \
            -out "$1.pem" || fail "the enrolment answer is not PKCS#7"
    fi
    echo "$code"
}

# epoch_of "openssl date": seconds since 1970.
epoch_of() {
    date -d "$1" +%s
}

# --- est.refuse ---------------------------------------------------------
register refused
id=$(fault_add "{\"action\":\"est.refuse\",\"host\":\"$EST\"}")
[ "$(enrol "$T/e1")" = 403 ] || fail "est.refuse: HTTP $(cat "$T/e1")"
tr -d '\r' <"$T/e1.h" | grep -qi '^content-type: text/plain' ||
    fail "est.refuse: not text/plain"
curl_host "$EST" "$WK/cacerts" -o /dev/null ||
    fail "est.refuse reached cacerts"
journal_has "host=$EST&event=fault&status=403" "est.refuse rule $id" ||
    fail "est.refuse: no fault in the journal"
faults_clear
[ "$(enrol "$T/e2")" = 200 ] ||
    fail "the credential did not survive est.refuse: $(cat "$T/e2")"
pass "est.refuse: simpleenroll answered 403, the credential still good"

register narrowed
fault_add "{\"action\":\"est.refuse\",\"host\":\"$EST\",\
\"path\":\"$WK/simplereenroll\",\"status\":503}" >/dev/null
[ "$(enrol "$T/e3")" = 200 ] || fail "a simplereenroll rule hit simpleenroll"
code=$(curl_host "$EST" "$WK/simplereenroll" -X POST \
    --cert "$T/e3.pem" --key "$T/dev.key" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$T/dev.b64" \
    -o "$T/e4" -w '%{http_code}')
[ "$code" = 503 ] || fail "est.refuse 503 on simplereenroll: HTTP $code"
faults_clear
pass "est.refuse with a path: simplereenroll 503, simpleenroll untouched"

# --- est.short-lived ----------------------------------------------------
register short
id=$(fault_add "{\"action\":\"est.short-lived\",\"host\":\"$EST\",\
\"seconds\":120}")
[ "$(enrol "$T/e5")" = 200 ] || fail "short-lived enrolment: $(cat "$T/e5")"
faults_clear
end=$(epoch_of "$(openssl x509 -in "$T/e5.pem" -noout -enddate | cut -d= -f2)")
now=$(date +%s)
[ $((end - now)) -gt 60 ] && [ $((end - now)) -le 121 ] ||
    fail "est.short-lived 120: notAfter is $((end - now)) s away"
openssl x509 -in "$T/e5.pem" -noout -checkend 200 >/dev/null &&
    fail "est.short-lived: the certificate outlives 200 s"
journal_has "host=$EST&event=fault" "est.short-lived rule $id" ||
    fail "est.short-lived: no fault in the journal"
pass "est.short-lived 120: the certificate ends $((end - now)) s from now"

# --- clock.offset -------------------------------------------------------
date_of() {
    curl_host "$API" / -D - -o /dev/null | tr -d '\r' |
        sed -n 's/^[Dd]ate: //p'
}
before=$(epoch_of "$(date_of)")
id=$(fault_add '{"action":"clock.offset","seconds":-864000}')
moved=$(epoch_of "$(date_of)")
shift_s=$((before - moved))
[ "$shift_s" -ge 863990 ] && [ "$shift_s" -le 864010 ] ||
    fail "clock.offset -864000: the Date header moved ${shift_s}s"
wait_for "clock note" 10 journal_has "event=fault&layer=clock" \
    "clock.offset rule $id: the cloud's clock moves -864000 s"

register clock
[ "$(enrol "$T/e6")" = 200 ] || fail "enrolment under clock.offset"
start=$(epoch_of "$(openssl x509 -in "$T/e6.pem" -noout -startdate |
    cut -d= -f2)")
ago=$(($(date +%s) - start))
[ "$ago" -ge 863900 ] && [ "$ago" -le 864200 ] ||
    fail "a certificate issued 10 days back starts ${ago}s ago"
expires=$(epoch_of "$(jq -r .expires_at "$T/token.json")")
left=$((expires - $(date +%s)))
want=$((86400 - 864000))
[ "$left" -ge $((want - 60)) ] && [ "$left" -le $((want + 60)) ] ||
    fail "a token minted 10 days back expires in ${left}s"
pass "clock.offset -10 days: Date header, issued certificate and token follow"

faults_clear
back=$(epoch_of "$(date_of)")
[ $((back - $(date +%s))) -ge -5 ] && [ $((back - $(date +%s))) -le 5 ] ||
    fail "the clock did not come back: Date $back, now $(date +%s)"
wait_for "clock back note" 10 journal_has "event=fault&layer=clock" \
    "no rule, the cloud's clock is back"
pass "clock.offset removed: the Date header is the real time again"
