#!/usr/bin/env bash
# HTTP faults, seen with curl: a status with its headers and body instead
# of the service (on a path prefix, a number of times, with a probability
# drawn from the seeded generator), a proxy's HTML block page, JSON cut
# short; each journalled with its rule, counted in GET /v1/faults. An
# ssesim started with --ignore-faults lists the same rule and never
# applies it.
. "$(dirname "$0")/lib.sh"

API=api-sse.cisco.com
DEX=dex.sse.itd.cisco.com
REG=/providers/sse/services/registration/api/v2/clients
REGIONS=/providers/sse/api/v1/regions

start_ssesim --seed 42
TOKEN=$(sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p' "$T/ports")
[ -n "$TOKEN" ] || fail "no admin token in $T/ports"
ADMIN=$(port_of admin)

# faults_clear: remove every rule (and restart the generator).
faults_clear() {
    curl -sS --max-time 30 -X DELETE -H "Authorization: Bearer $TOKEN" \
        -o /dev/null "http://127.0.0.1:$ADMIN/v1/faults"
}

# get HOST PATH [curl args]: status line, headers and body to $T/resp;
# prints the status.
get() {
    h=$1
    p=$2
    shift 2
    curl_host "$h" "$p" -D "$T/head" -o "$T/body" -w '%{http_code}' "$@"
}

header() {
    tr -d '\r' <"$T/head" | sed -n "s/^$1: //Ip" | head -n 1
}

admin_get /v1/faults | jq -e '.seed == 42' >/dev/null ||
    fail "--seed 42 is not the engine's seed: $(admin_get /v1/faults)"
pass "--seed 42 seeds the fault engine"

# --- http.status on a path prefix, three times --------------------------
id=$(fault_add "{\"action\":\"http.status\",\"host\":\"$API\",\
\"path\":\"/providers/sse/services/registration\",\"status\":403,\
\"body\":\"Forbidden\",\"content_type\":\"text/plain\",\
\"trigger\":{\"times\":3}}")
[ "$(get "$API" "$REGIONS")" = 200 ] || fail "another path was answered too"
for i in 1 2 3; do
    [ "$(get "$API" "$REG" -X POST -H 'Content-Type: application/json' \
        --data-binary '{}')" = 403 ] || fail "request $i: not the rule's 403"
    [ "$(cat "$T/body")" = Forbidden ] || fail "403 body: $(cat "$T/body")"
    header Content-Type | grep -q '^text/plain' ||
        fail "403 content type: $(header Content-Type)"
done
[ "$(get "$API" "$REG" -X POST -H 'Content-Type: application/json' \
    --data-binary '{}')" = 400 ] ||
    fail "the fourth request met the rule again: $(cat "$T/body")"
admin_get "/v1/faults/$id" >"$T/rule.json"
jq -e '.hits == 3 and .spent == true and .passes >= 1' "$T/rule.json" \
    >/dev/null || fail "times 3 counted wrong: $(cat "$T/rule.json")"
[ "$(admin_get "/v1/journal?host=$API&layer=http&event=fault" |
    jq "[.entries[] | select(.detail | startswith(\"http.status rule $id:\"))
        | select(.status == 403)] | length")" = 3 ] ||
    fail "the journal does not hold three 403 faults of rule $id"
faults_clear
pass "http.status 403 on a path prefix: three times, then the service"

# --- 429 with Retry-After, 503 with headers -----------------------------
fault_add "{\"action\":\"http.status\",\"service\":\"api-sse\",\
\"region\":\"us\",\"status\":429,\"headers\":{\"Retry-After\":\"5\"}}" \
    >/dev/null
[ "$(get "$API" "$REGIONS")" = 429 ] || fail "not 429: $(cat "$T/head")"
head -n 1 "$T/head" | grep -q '^HTTP/1.1 429 Too Many Requests' ||
    fail "429 status line: $(head -n 1 "$T/head")"
[ "$(header Retry-After)" = 5 ] || fail "429 without Retry-After: 5"
header Date | grep -q GMT || fail "429 without a Date header"
[ "$(get api.eu.sse.itd.cisco.com "$REGIONS")" = 200 ] ||
    fail "the us rule reached the eu host"
faults_clear
pass "http.status 429 with Retry-After: 5 on the us api-sse only"

fault_add "{\"action\":\"http.status\",\"host\":\"$DEX\",\"status\":503,\
\"headers\":{\"Retry-After\":\"30\",\"X-Upstream\":\"maintenance\"},\
\"body\":\"{\\\"error\\\":\\\"down\\\"}\"}" >/dev/null
[ "$(get "$DEX" /v1/upload -X POST --data-binary x)" = 503 ] ||
    fail "dex: not 503"
[ "$(header Retry-After)" = 30 ] && [ "$(header X-Upstream)" = maintenance ] ||
    fail "503 headers: $(cat "$T/head")"
header Content-Type | grep -q '^application/json' ||
    fail "503 content type by default: $(header Content-Type)"
jq -e '.error == "down"' "$T/body" >/dev/null ||
    fail "503 body: $(cat "$T/body")"
faults_clear
pass "http.status 503 with its headers and a JSON body"

# --- http.block-page ----------------------------------------------------
fault_add "{\"action\":\"http.block-page\",\"host\":\"$API\"}" >/dev/null
[ "$(get "$API" "$REGIONS")" = 403 ] || fail "block page: not 403"
header Content-Type | grep -q '^text/html' ||
    fail "block page content type: $(header Content-Type)"
grep -q '<title>Access Denied</title>' "$T/body" ||
    fail "block page without its title: $(head -c 300 "$T/body")"
faults_clear
fault_add "{\"action\":\"http.block-page\",\"host\":\"$API\",\"status\":200}" \
    >/dev/null
[ "$(get "$API" "$REGIONS")" = 200 ] || fail "block page 200: not 200"
header Content-Type | grep -q '^text/html' || fail "block page 200: not HTML"
faults_clear
pass "http.block-page: a text/html page titled Access Denied, 403 or 200"

# --- http.malformed-json ------------------------------------------------
fault_add "{\"action\":\"http.malformed-json\",\"host\":\"$API\",\
\"path\":\"$REGIONS\"}" >/dev/null
[ "$(get "$API" "$REGIONS")" = 200 ] || fail "malformed JSON: not 200"
header Content-Type | grep -q '^application/json' || fail "not JSON's type"
[ -s "$T/body" ] || fail "malformed JSON: empty body"
jq . "$T/body" >/dev/null 2>&1 && fail "the cut document parses"
head -c 12 "$T/body" | grep -q '^{"regions"' ||
    fail "not the regions document, cut: $(head -c 80 "$T/body")"
faults_clear
[ "$(get "$API" "$REGIONS")" = 200 ] && jq . "$T/body" >/dev/null ||
    fail "the regions document stays broken after the rule"
pass "http.malformed-json: 200 application/json, the document cut short"

# --- probability, from the seed -----------------------------------------
# draws PATTERN_FILE: 40 requests under a p=0.5 rule, their statuses.
draws() {
    fault_add "{\"action\":\"http.status\",\"host\":\"$API\",\"status\":503,\
\"path\":\"$REGIONS\",\"trigger\":{\"probability\":0.5}}" >"$T/pid"
    : >"$1"
    for i in $(seq 40); do
        get "$API" "$REGIONS" >>"$1"
        echo >>"$1"
    done
}
draws "$T/draws1"
hits=$(grep -c 503 "$T/draws1" || true)
[ "$hits" -gt 5 ] && [ "$hits" -lt 35 ] || fail "p=0.5 bit $hits of 40 times"
admin_get "/v1/faults/$(cat "$T/pid")" >"$T/rule.json"
jq -e ".hits == $hits and .hits + .passes == 40" "$T/rule.json" >/dev/null ||
    fail "probability counted wrong ($hits 503s): $(cat "$T/rule.json")"
faults_clear
draws "$T/draws2"
cmp -s "$T/draws1" "$T/draws2" ||
    fail "the same seed drew differently after the rules were cleared"
faults_clear
pass "probability 0.5: $hits of 40, counted, the same draws again"

# --- --ignore-faults ----------------------------------------------------
"$BIN/ssesim" serve --certs "$T/certs" --ports-file "$T/ports2.json" \
    --ignore-faults >"$T/ports2" 2>"$T/ssesim2.log" &
PIDS="$PIDS $!"
wait_for "the second ssesim ready" 60 grep -q '"ready":true' "$T/ports2"
A2=$(grep '"service":"admin"' "$T/ports2" | sed 's/.*"port":\([0-9]*\).*/\1/')
P2=$(grep "\"host\":\"$API\"" "$T/ports2" | sed 's/.*"port":\([0-9]*\).*/\1/')
T2=$(sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p' "$T/ports2")
code=$(curl -sS --max-time 30 -H "Authorization: Bearer $T2" \
    -H 'Content-Type: application/json' -o "$T/fault2.json" -w '%{http_code}' \
    --data-binary "{\"action\":\"http.status\",\"host\":\"$API\",\
\"status\":403}" \
    "http://127.0.0.1:$A2/v1/faults")
[ "$code" = 201 ] || fail "--ignore-faults refused the rule: $code"
code=$(curl -sS --max-time 30 --cacert "$T/certs/connectorCA.pem" \
    --connect-to "$API:443:127.0.0.1:$P2" -o /dev/null -w '%{http_code}' \
    "https://$API$REGIONS")
[ "$code" = 200 ] || fail "--ignore-faults: the rule bit ($code)"
curl -sS --max-time 30 "http://127.0.0.1:$A2/v1/faults" >"$T/list2.json"
jq -e '.ignore == true and (.rules | length) == 1 and .rules[0].hits == 0' \
    "$T/list2.json" >/dev/null || fail "--ignore-faults: $(cat "$T/list2.json")"
pass "--ignore-faults: the rule is listed and never bites"
