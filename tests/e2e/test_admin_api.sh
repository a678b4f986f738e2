#!/usr/bin/env bash
# The admin API: writes need the bearer token (reads do not), fault rules
# are added, listed, refused by the field at fault and removed, the ledger
# answers per event id after an upload with duplicates, the journal
# filters, and a reset empties the ledger, the journal and the rules.
. "$(dirname "$0")/lib.sh"

start_ssesim
TOKEN=$(sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p' "$T/ports")
[ -n "$TOKEN" ] || fail "no admin token in $T/ports"
ADMIN="http://127.0.0.1:$(port_of admin)"

# call METHOD PATH [curl args]: prints the status; body in $T/out, headers
# in $T/headers.
call() {
    m=$1
    p=$2
    shift 2
    curl -sS --max-time 30 -o "$T/out" -D "$T/headers" -w '%{http_code}' \
        -X "$m" "$@" "$ADMIN$p"
}

# write METHOD PATH [curl args]: call with the token.
write() {
    m=$1
    p=$2
    shift 2
    call "$m" "$p" -H "Authorization: Bearer $TOKEN" "$@"
}

# expect_status GOT WANT WHAT
expect_status() {
    [ "$1" = "$2" ] || fail "$3: status $1, not $2: $(cat "$T/out")"
}

# expect_json FILTER VALUE: the jq FILTER of the last body is VALUE.
expect_json() {
    got=$(jq -c "$1" "$T/out") || fail "not JSON: $(cat "$T/out")"
    [ "$got" = "$2" ] || fail "$1 is $got, not $2, in $(cat "$T/out")"
}

RULE='{"action":"http.status","host":"api-sse.cisco.com","status":403}'

# --- authentication -----------------------------------------------------
st=$(call POST /v1/faults -d "$RULE")
expect_status "$st" 401 "a write without a token"
grep -qi '^WWW-Authenticate: Bearer realm="ssesim"' "$T/headers" ||
    fail "no WWW-Authenticate on the 401: $(cat "$T/headers")"
expect_json .error.code '"unauthorized"'
pass "a write without a token is answered 401 with WWW-Authenticate"

st=$(call POST /v1/faults -H "Authorization: Bearer not-$TOKEN" -d "$RULE")
expect_status "$st" 401 "a wrong token"
st=$(call POST /v1/faults -H "Authorization: Bearer ${TOKEN%?}" -d "$RULE")
expect_status "$st" 401 "the token less its last character"
st=$(call POST /v1/faults -H "Authorization: Basic $TOKEN" -d "$RULE")
expect_status "$st" 401 "the token under another scheme"
st=$(call DELETE /v1/faults)
expect_status "$st" 401 "a clear without a token"
st=$(call POST /v1/reset)
expect_status "$st" 401 "a reset without a token"
pass "wrong tokens, other schemes and token-less deletes are refused"

st=$(call GET /v1/faults)
expect_status "$st" 200 "a read without a token"
expect_json '.rules' '[]'
pass "reads need no token"

# --- fault rules ----------------------------------------------------------
st=$(write POST /v1/faults -d "$RULE")
expect_status "$st" 201 "a rule with the token"
expect_json '[.id,.rule.action,.rule.host,.rule.status,.rule.hits]' \
    '[1,"http.status","api-sse.cisco.com",403,0]'
pass "a rule with the token is added: 201 with its id"

st=$(write POST /v1/faults -d '{"action":"http.status","stauts":403}')
expect_status "$st" 400 "a misspelt member"
expect_json .error.field '"stauts"'
jq -r .error.message "$T/out" | grep -q 'unknown field "stauts"' ||
    fail "the message does not name the field: $(cat "$T/out")"
st=$(write POST /v1/faults -d '{"action":"ws.close","code":1006}')
expect_status "$st" 400 "close code 1006"
expect_json .error.field '"code"'
st=$(write POST /v1/faults -d '{"action":"http.status",')
expect_status "$st" 400 "a body that is no JSON"
expect_json .error.code '"bad_json"'
pass "bad rules are answered 400 naming the field"

head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big"
st=$(write POST /v1/faults --data-binary @"$T/big")
expect_status "$st" 413 "a body over 64 KiB"
st=$(write POST /v1/faults -H 'Transfer-Encoding: chunked' \
    --data-binary @"$T/big")
expect_status "$st" 413 "a chunked body over 64 KiB"
pass "bodies over 64 KiB are answered 413"

st=$(write POST /v1/faults -d '{"action":"tls.stall","service":"mx",
    "trigger":{"times":2}}')
expect_status "$st" 201 "a second rule"
st=$(call GET /v1/faults)
expect_status "$st" 200 "the list"
expect_json '[.rules[].id]' '[1,2]'
expect_json '.rules[1].trigger' '{"times":2}'
st=$(call GET /v1/faults/2)
expect_status "$st" 200 "one rule"
expect_json '[.action,.service,.spent]' '["tls.stall","mx",false]'
pass "rules are listed in order, one by one too"

st=$(write DELETE /v1/faults/1)
expect_status "$st" 200 "removing rule 1"
expect_json . '{"removed":1}'
st=$(write DELETE /v1/faults/1)
expect_status "$st" 404 "removing rule 1 again"
st=$(write DELETE /v1/faults/bogus)
expect_status "$st" 404 "removing no number"
st=$(call GET /v1/faults)
expect_json '[.rules[].id]' '[2]'
st=$(write DELETE /v1/faults)
expect_status "$st" 200 "the clear"
expect_json . '{"cleared":1}'
st=$(call GET /v1/faults)
expect_json '.rules' '[]'
pass "a rule is removed by id (404 the second time), all by a clear"

st=$(call GET /v1/nowhere)
expect_status "$st" 404 "an unknown route"
st=$(call GET /v1/reset)
expect_status "$st" 405 "GET on the reset"
grep -qi '^Allow: POST' "$T/headers" || fail "no Allow: $(cat "$T/headers")"
st=$(call GET '/v1/journal?bogus=1')
expect_status "$st" 400 "an unknown argument"
expect_json .error.field '"bogus"'
pass "unknown routes 404, wrong methods 405 with Allow, unknown arguments 400"

# --- ledger per event id --------------------------------------------------
"$BIN/ssesim" certs --out "$T/certs" --client-cert dev1 >"$T/certs.out" ||
    fail "ssesim certs --client-cert dev1"
US=eventing-ingest.sse.itd.cisco.com
ingest() {
    "$BIN/ws-batch-client" --connect-to "127.0.0.1:$(port_of "$US")" \
        --host "$US" --cafile "$T/certs/connectorCA.pem" \
        --cert "$T/certs/clients/dev1.pem" \
        --key "$T/certs/clients/dev1.key" --timeout-s 60 "$@"
}
E=1700000042
ingest --epoch $E --count 50 --batch 10 >"$T/sent" || fail "50 events"
ingest --epoch $E --first-seq 41 --count 10 --batch 5 >"$T/sent" ||
    fail "the last 10 again"

st=$(call GET "/v1/ledger/events?epoch=$E")
expect_status "$st" 200 "ledger events"
expect_json '[.epoch,.from,.to]' "[$E,1,50]"
expect_json '[.counts[] | "\(.seq):\(.count)"] | join(",")' \
    '"41:2,42:2,43:2,44:2,45:2,46:2,47:2,48:2,49:2,50:2"'
st=$(call GET "/v1/ledger/events?epoch=$E&from=39&to=52")
expect_json '[.counts[] | select(.count != 2) | "\(.seq):\(.count)"]' \
    '["51:0","52:0"]'
st=$(call GET "/v1/ledger/events?epoch=$E&from=1&to=3&all=1")
expect_json '[.counts[].count]' '[1,1,1]'
st=$(call GET "/v1/ledger/events?epoch=$E&from=1&to=10001")
expect_status "$st" 400 "10,001 seqs"
expect_json .error.field '"to"'
pass "ledger/events lists the seqs counted other than once"

st=$(call GET "/v1/ledger/event?id=$E-45")
expect_json . "{\"id\":\"$E-45\",\"epoch\":$E,\"seq\":45,\"count\":2}"
st=$(call GET "/v1/ledger/event?id=$E-7")
expect_json .count 1
st=$(call GET "/v1/ledger/event?id=$E-60")
expect_json .count 0
st=$(call GET "/v1/ledger/event?id=$E")
expect_status "$st" 400 "an id without a seq"
pass "ledger/event counts one event id"

# --- token minting --------------------------------------------------------
st=$(write POST /v1/tokens -d '{"tenant":"t1","region":"eu"}')
expect_status "$st" 201 "a token from the admin listener"
expect_json '[.tenant_id, .region, .api_host]' \
    '["t1","eu","api.eu.sse.itd.cisco.com"]'
st=$(write POST /v1/tokens -d '{"region":5}')
expect_status "$st" 400 "a region that is a number"
expect_json '[.error.field, .error.message]' \
    '["region","region: expected a string (us, eu or apj), got a number"]'
st=$(write POST /v1/tokens -d '{"tenant":"t1"}')
expect_status "$st" 400 "no region"
expect_json .error.field '"region"'
st=$(write POST /v1/tokens -d '{"region":"us","tenant":"a/b"}')
expect_status "$st" 400 "a tenant with a slash"
expect_json .error.field '"tenant"'
pass "POST /v1/tokens checks the request as api-sse does, region required"

# --- journal filters -----------------------------------------------------
closes() {
    [ "$(admin_get '/v1/journal?layer=ws&event=close' |
        jq '.entries | length')" = 2 ]
}
wait_for "both connections journalled as closed" 10 closes
st=$(call GET "/v1/journal?layer=ws&event=close")
expect_json '[.entries[] | "\(.layer) \(.event) \(.status)"]' \
    '["ws close 1000","ws close 1000"]'
st=$(call GET "/v1/journal?host=$US&layer=tcp")
expect_json '[.entries[].event]' '["accept","accept"]'
st=$(call GET "/v1/journal?path=duplicates=10")
expect_json '[.entries[].detail | test("records=10 duplicates=10")]' '[true]'
st=$(call GET "/v1/journal?status=1000&limit=1")
expect_json '[(.entries | length), .entries[0].event]' '[1,"close"]'
after=$(jq .next_after "$T/out")
st=$(call GET "/v1/journal?status=1000&after=$after")
expect_json '[.entries[].status]' '[1000]'
pass "the journal filters by host, layer, event, status and detail"

# --- reset -----------------------------------------------------------------
st=$(write POST /v1/faults -d "$RULE")
expect_status "$st" 201 "a rule before the reset"
st=$(write POST /v1/reset)
expect_status "$st" 200 "the reset"
st=$(call GET /v1/ledger)
expect_json '[.received,.distinct,.duplicates,.epochs]' '[0,0,0,[]]'
st=$(call GET /v1/journal)
expect_json .entries '[]'
st=$(call GET /v1/faults)
expect_json .rules '[]'
st=$(call GET /v1/latency)
expect_json .count 0
pass "a reset empties the ledger, the journal, the latency and the rules"

st=$(write POST /v1/reset -d '{"seed":9}')
expect_json .seed 9
st=$(call GET /v1/faults)
expect_json .seed 9
st=$(write POST /v1/reset -d '{"sed":9}')
expect_status "$st" 400 "a reset with a misspelt member"
pass "a reset may set the fault engine's seed"

# --- the log -------------------------------------------------------------
grep -q 'msg="POST /v1/faults: 201 rule 1 http.status on api-sse.cisco.com"' \
    "$T/ssesim.log" || fail "no log line of the added rule"
grep -q 'msg="POST /v1/faults: 401 .*component=admin' "$T/ssesim.log" ||
    fail "no log line of the refused write"
grep -q 'msg="POST /v1/reset: 200 .*component=admin' "$T/ssesim.log" ||
    fail "no log line of the reset"
grep -qF "$TOKEN" "$T/ssesim.log" && fail "the token is in the log"
pass "each write is logged with method, path and result, never the token"
