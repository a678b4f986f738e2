#!/usr/bin/env bash
# docker/compose.yaml and docker/Dockerfile, checked without Docker (no
# engine runs where sselab is built): compose-check (libyaml) holds the
# compose file to what the lab needs, and refuses each way of breaking it
# that it guards against, naming line and field; the Dockerfile copies the
# entry scripts where compose.yaml runs them, installs in its runtime stage
# exactly the packages of the libraries the programs link, and runs as the
# user that owns every volume's mount point.
. "$(dirname "$0")/lib.sh"

D=$SRC/docker
PREFIX=/opt/sselab/entry/
check() {
    "$BIN/compose-check" --entry-prefix "$PREFIX" --entry-dir "$D/entry" \
        --project-dir "$D" "$@"
}

out=$(check "$D/compose.yaml") || fail "compose.yaml: exit $?"
echo "$out" | grep -q ': 4 services, 3 volumes, 2 ports on 127.0.0.1:' ||
    fail "unexpected summary: $out"
pass "compose.yaml is consistent: $out"

# refused SED-EXPRESSION PATTERN: compose.yaml edited so is refused with
# exit 1 and a line matching PATTERN (FILE:LINE:COLUMN: path: what).
refused() {
    sed "$1" "$D/compose.yaml" >"$T/compose.yaml"
    ! cmp -s "$T/compose.yaml" "$D/compose.yaml" ||
        fail "the edit $1 changed nothing"
    rc=0
    check "$T/compose.yaml" >/dev/null 2>"$T/refused.err" || rc=$?
    [ "$rc" = 1 ] || fail "edit $1: exit $rc, not 1: $(cat "$T/refused.err")"
    grep -qE "^$T/compose.yaml:[0-9]+:[0-9]+: $2" "$T/refused.err" ||
        fail "edit $1: no line matching '$2' in: $(cat "$T/refused.err")"
}

refused 's/"127.0.0.1:8990:8990"/"8990:8990"/' \
    'services.cloud.ports: "8990:8990" is published beyond loopback'
refused 's/"127.0.0.1:8989:8989"/"0.0.0.0:8989:8989"/' \
    'services.connector.ports: "0.0.0.0:8989:8989" is published beyond'
refused 's/"127.0.0.1:8990:8990"/"127.0.0.1:8990:8991"/' \
    'services.cloud.ports: container port 8991 is not a \*_PORT value'
refused 's/"127.0.0.1:8989:8989"/"127.0.0.1:8990:8989"/' \
    'services.connector.ports: host port 8990 is published twice'
pass "ports beyond loopback, twice, or where nothing listens are refused"

refused 's|entry/cloud.sh|entry/clouds.sh|' \
    "services.cloud.command: $D/entry/clouds.sh: No such file"
refused 's|\["/opt/sselab/entry/fmc.sh"\]|["/bin/sh", "-c", "true"]|' \
    'services.fmc.command: "/bin/sh" is not an entry script'
refused 's/LAB_CONNECTOR_PORT: "8989"/LAB_CONECTOR_PORT: "8989"/' \
    'services.connector.environment: LAB_CONECTOR_PORT is not read by'
refused 's/      LAB_EH_RATE:/      LAB_BIND: 0.0.0.0\n      LAB_EH_RATE:/' \
    'services.eventhandler.environment: LAB_BIND is not read by .*/eventh'
pass "a missing entry script, another program, a variable no script" \
    "reads are refused"

refused 's|- share:/lab/share:ro|- shared:/lab/share:ro|' \
    'services.fmc.volumes: volume "shared" is not declared'
refused 's|- certs:/lab/certs$|- certs:/lab/certs:ro|' \
    'volumes.certs: mounted read-only everywhere'
refused 's|- ipc:\(/lab/root/ngfw/var/sf/run\)$|- ./run:\1|' \
    'services.eventhandler.volumes: "./run" binds a host path'
refused '/^  # The EventHandler.s ipc socket/,$s/^  ipc:/  ipc2:/' \
    'volumes.ipc2: declared but mounted by no service'
pass "undeclared, unused, never written and host-path volumes are refused"

refused 's/      - eventhandler$/      - event-handler/' \
    'services.connector.depends_on: "event-handler" is no service'
refused 's|^    command: \["/opt/sselab/entry/fmc.sh"\]|    comand: ["x"]|' \
    'services.fmc: unknown key "comand"'
refused '/^  fmc:/,$s|^    <<: \*sselab$|    <<: *sselab\n    image: other:1|' \
    'services.fmc.image: "other:1", not the lab.s image "sselab-lab:local"'
refused 's|dockerfile: docker/Dockerfile|dockerfile: docker/Dockerfile.lab|' \
    'services.cloud.build: dockerfile .*/Dockerfile.lab: No such file'
pass "unknown services, misspelt keys, another image, a missing" \
    "Dockerfile are refused"

printf 'services:\n  cloud:\n\t  image: x\n' >"$T/bad.yaml"
rc=0
check "$T/bad.yaml" 2>"$T/bad.err" || rc=$?
[ "$rc" = 2 ] && grep -q "^$T/bad.yaml:3:1: " "$T/bad.err" ||
    fail "broken YAML: exit $rc: $(cat "$T/bad.err")"
pass "YAML that does not parse: exit 2 with line and column"

# --- the Dockerfile against compose.yaml and the programs --------------
DF=$D/Dockerfile
# The Dockerfile with each instruction on one line (continuations joined).
sed -e ':a' -e '/\\$/N' -e 's/\\\n//' -e 'ta' "$DF" >"$T/Dockerfile.joined"
DJ=$T/Dockerfile.joined
grep -qx 'FROM debian:12 AS build' "$DF" || fail "no debian:12 build stage"
grep -qx 'RUN ci/install-deps.sh && rm -rf /var/lib/apt/lists/\*' "$DF" ||
    fail "the build stage does not install with ci/install-deps.sh"
grep -q 'cmake -S . -B /build' "$DF" || fail "the build stage runs no cmake"
grep -qx 'FROM debian:12-slim AS runtime' "$DF" ||
    fail "no slim debian:12 runtime stage"
grep -qx "COPY docker/entry/ $PREFIX" "$DF" ||
    fail "the entry scripts are not copied to $PREFIX"
fixtures=$(sed -n 's/^LAB_FIXTURES=\${LAB_FIXTURES:-\(.*\)}$/\1/p' \
    "$D/entry/eventhandler.sh")
grep -qx "COPY fixtures/events/ $fixtures/" "$DF" ||
    fail "fixtures not copied to eventhandler.sh's default $fixtures"
pass "Dockerfile: debian:12 build with install-deps.sh and cmake, slim" \
    "runtime, entry scripts and fixtures where compose.yaml and the" \
    "scripts expect them"

# The runtime stage's packages: those owning the libraries the three
# programs need (libc6 is in every Debian image), no fewer, no more.
runtime=$(sed -n '/^FROM debian:12-slim/,$p' "$DJ" | grep 'apt-get install' |
    tr ' ' '\n' | grep -E '^(lib[a-z0-9.+-]+|zlib1g)$' | sort -u)
[ -n "$runtime" ] || fail "no runtime packages found in $DF"
arch=$(dpkg --print-architecture)
needed=$(for b in ssesim sse-connector sse-eventhandler; do
    readelf -d "$BIN/$b" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'
done | sort -u | while read -r so; do
    dpkg -S "*/$so" 2>/dev/null | grep ":$arch: " | cut -d: -f1 | head -n 1
done | grep -vx libc6 | sort -u)
[ -n "$needed" ] || fail "no libraries found for the programs"
[ "$runtime" = "$needed" ] ||
    fail "runtime packages differ: Dockerfile:" $runtime "; needed:" $needed
pass "runtime packages are exactly those of the linked libraries:" $needed

# Unprivileged, and owner of every mount point compose.yaml uses.
user=$(sed -n 's/^USER \(.*\)$/\1/p' "$DF" | tail -n 1)
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] ||
    fail "the image runs as '${user:-root}'"
uid=$(sed -n 's/.*useradd .*--uid \([0-9]*\).*/\1/p' "$DJ")
gid=$(sed -n 's/.*groupadd .*--gid \([0-9]*\) '"$user"' .*/\1/p' "$DJ")
[ -n "$uid" ] && [ "$uid" != 0 ] || fail "no --uid in the useradd line"
[ -n "$gid" ] && [ "$gid" != 0 ] || fail "no groupadd --gid for $user"
grep -q "useradd .*--uid $uid --gid $gid .* $user  *&&" "$DJ" ||
    fail "USER $user is not the user useradd makes, in group $gid"
for o in $(sed -n 's/^ *o: "\(.*\)"$/\1/p' "$D/compose.yaml"); do
    echo "$o" | grep -q "uid=$uid,gid=$gid," ||
        fail "a tmpfs volume of compose.yaml for another uid/gid: $o"
done
# Made in the image and given to the user with every parent under /lab.
made=$(grep "install -d /lab" "$DJ" | tr ' ' '\n' | grep '^/lab')
grep -q "install -d /lab.* && chown -R $user:$user /lab\$" "$DJ" ||
    fail "/lab and its subdirectories are not all given to $user"
for target in $(sed -n 's/^ *- [a-z]*:\(\/[^:]*\).*/\1/p' "$D/compose.yaml" |
    sort -u); do
    echo "$made" | grep -qx "$target" ||
        fail "mount point $target is not made for $user in the image"
done
pass "the image runs as $user (uid $uid, gid $gid), owner of every mount" \
    "point and of the tmpfs volumes"

# docker/podman-pod.sh runs the services by hand: its environment is
# compose.yaml's, value for value.
n=0
for kv in $(grep -o -- '-e LAB_[A-Z_]*=[^ ]*' "$D/podman-pod.sh" | cut -c4-); do
    name=${kv%%=*}
    value=${kv#*=}
    "$BIN/compose-check" --get "services.*.environment.$name" \
        "$D/compose.yaml" | grep -qx "$value" ||
        fail "podman-pod.sh sets $kv; compose.yaml does not"
    n=$((n + 1))
done
[ "$n" -ge 8 ] || fail "only $n LAB_ variables found in podman-pod.sh"
pass "podman-pod.sh sets the $n LAB_ variables as compose.yaml does"
