#!/usr/bin/env bash
# test_certs_layout.sh: `ssesim certs` writes the layout of DESIGN §5, and
# the openssl program (not our code) agrees that every host leaf chains to
# the private root through the server CA; a second run keeps the root; keys
# are mode 600; a faulty expired leaf fails verification as expired.
source "$(dirname "$0")/lib.sh"

C="$T/c"
HOSTS="api-sse.cisco.com mx01.sse.itd.cisco.com dex.sse.itd.cisco.com
eventing-ingest.sse.itd.cisco.com api.eu.sse.itd.cisco.com
mx01.eu.sse.itd.cisco.com dex.eu.sse.itd.cisco.com
eventing-ingest.eu.sse.itd.cisco.com api.apj.sse.itd.cisco.com
mx01.apj.sse.itd.cisco.com dex.apj.sse.itd.cisco.com
eventing-ingest.apj.sse.itd.cisco.com est.sco.cisco.com"

fingerprint() {
    openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'
}

"$BIN/ssesim" certs --out "$C" >"$T/first.log" 2>&1 ||
    fail "ssesim certs failed: $(cat "$T/first.log")"
pass "first run wrote the layout"

for f in ca/root.pem ca/root.key ca/server-ca.pem ca/server-ca.key \
    ca/device-ca.pem ca/device-ca.key ca/device-trust.pem connectorCA.pem; do
    [ -s "$C/$f" ] || fail "missing $f"
done

[ "$(grep -c 'BEGIN CERTIFICATE' "$C/connectorCA.pem")" -eq 1 ] ||
    fail "connectorCA.pem must hold the root only"
cmp -s "$C/connectorCA.pem" "$C/ca/root.pem" ||
    fail "connectorCA.pem differs from ca/root.pem"
pass "connectorCA.pem is the root alone"

for h in $HOSTS; do
    [ -s "$C/hosts/$h.pem" ] || fail "no leaf for $h"
    [ "$(grep -c 'BEGIN CERTIFICATE' "$C/hosts/$h.pem")" -eq 2 ] ||
        fail "hosts/$h.pem should hold the leaf then the server CA"
    out=$(openssl verify -CAfile "$C/connectorCA.pem" \
        -untrusted "$C/ca/server-ca.pem" -verify_hostname "$h" \
        -purpose sslserver "$C/hosts/$h.pem" 2>&1) ||
        fail "openssl verify $h: $out"
    # Without the server CA the root alone cannot vouch for a leaf: that is
    # the missing-intermediate fault the connector can meet.
    if openssl verify -CAfile "$C/connectorCA.pem" \
        "$C/hosts/$h.pem" >/dev/null 2>&1; then
        fail "$h verified without its intermediate"
    fi
done
pass "every host leaf verifies against the root with the server CA"

# Every root line of the fingerprint printed matches openssl's own.
fp1=$(fingerprint "$C/ca/root.pem")
grep -q "Fingerprint=$fp1" "$T/first.log" ||
    fail "ssesim certs printed no matching root fingerprint"

"$BIN/ssesim" certs --out "$C" >"$T/second.log" 2>&1 ||
    fail "second run failed: $(cat "$T/second.log")"
fp2=$(fingerprint "$C/ca/root.pem")
[ "$fp1" = "$fp2" ] || fail "root fingerprint changed: $fp1 -> $fp2"
grep -q "^kept .*ca/root.pem" "$T/second.log" ||
    fail "second run did not say it kept the root"
if grep -q "^wrote\|^reissued" "$T/second.log"; then
    fail "second run rewrote files: $(grep '^wrote\|^reissued' "$T/second.log")"
fi
pass "second run keeps the root ($fp1)"

for k in "$C"/ca/*.key "$C"/hosts/*.key; do
    m=$(stat -c %a "$k")
    [ "$m" = 600 ] || fail "$k has mode $m"
done
pass "keys are mode 600"

"$BIN/ssesim" certs --out "$C" --fault expired --host api-sse.cisco.com \
    >"$T/fault.log" 2>&1 || fail "fault leaf: $(cat "$T/fault.log")"
leaf="$C/faults/expired/api-sse.cisco.com.pem"
[ -s "$leaf" ] || fail "no $leaf"
[ "$(stat -c %a "$C/faults/expired/api-sse.cisco.com.key")" = 600 ] ||
    fail "faulty leaf key is not mode 600"
if out=$(openssl verify -CAfile "$C/connectorCA.pem" \
    -untrusted "$C/ca/server-ca.pem" -verify_hostname api-sse.cisco.com \
    "$leaf" 2>&1); then
    fail "expired leaf verified: $out"
fi
echo "$out" | grep -q "certificate has expired" ||
    fail "expired leaf failed for another reason: $out"
pass "expired leaf fails with \"certificate has expired\""

# A corrupt root is reported by name and left as it is.
cp "$C/ca/root.pem" "$T/root.good"
printf -- '-----BEGIN CERTIFICATE-----\ngarbage\n' >"$C/ca/root.pem"
rc=0
"$BIN/ssesim" certs --out "$C" >"$T/corrupt.log" 2>&1 || rc=$?
[ "$rc" -eq 3 ] || fail "corrupt root: exit $rc, expected 3"
grep -q "ca/root.pem" "$T/corrupt.log" ||
    fail "corrupt root not named: $(cat "$T/corrupt.log")"
grep -q garbage "$C/ca/root.pem" || fail "corrupt root was overwritten"
cp "$T/root.good" "$C/ca/root.pem"
pass "corrupt root reported, exit 3, not overwritten"

# --key-type rsa on this EC layout: every leaf is reissued with an RSA key;
# the CAs are kept, and the run says why they are not RSA.
"$BIN/ssesim" certs --out "$C" --key-type rsa >"$T/rsa.log" 2>&1 ||
    fail "--key-type rsa: $(cat "$T/rsa.log")"
[ "$(fingerprint "$C/ca/root.pem")" = "$fp1" ] ||
    fail "--key-type rsa replaced the root"
want="ca/root.pem (its key is EC P-256, not the RSA asked: a CA is never"
grep -qF "$want replaced" "$T/rsa.log" ||
    fail "--key-type rsa: the root's note: $(cat "$T/rsa.log")"
if grep -q "^kept .*/hosts/" "$T/rsa.log"; then
    fail "--key-type rsa kept EC leaves: $(grep '^kept .*/hosts/' "$T/rsa.log")"
fi
want="hosts/mx01.sse.itd.cisco.com.pem (its key is EC P-256, not the RSA"
grep -q "^reissued .*$want asked)" "$T/rsa.log" ||
    fail "--key-type rsa: no reissue note: $(cat "$T/rsa.log")"
openssl pkey -in "$C/hosts/mx01.sse.itd.cisco.com.key" -noout -text |
    grep -q '^Private-Key: (2048 bit' || fail "mx01's key is not RSA-2048"
openssl verify -CAfile "$C/connectorCA.pem" -untrusted "$C/ca/server-ca.pem" \
    -verify_hostname mx01.sse.itd.cisco.com \
    "$C/hosts/mx01.sse.itd.cisco.com.pem" >/dev/null ||
    fail "the RSA leaf does not verify"
"$BIN/ssesim" certs --out "$C" >"$T/auto.log" 2>&1 ||
    fail "a run without --key-type: $(cat "$T/auto.log")"
if grep -q "^reissued" "$T/auto.log"; then
    fail "a run without --key-type reissued: $(grep '^reissued' "$T/auto.log")"
fi
pass "--key-type rsa reissues the EC leaves, keeps the CAs and says why;" \
    "a run without it keeps the RSA leaves"

rc=0
"$BIN/ssesim" certs --key-type dsa --out "$C" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "bad --key-type: exit $rc, expected 2"
"$BIN/ssesim" certs --help | grep -q -- "--client-cert" ||
    fail "--help does not list --client-cert"
pass "bad usage exits 2, --help works"
