#!/bin/sh
# The lab's cloud: the certificates once into the shared volume (ssesim
# certs keeps what is there), then ssesim serve. Its listeners go to
# $LAB_SHARE/cloud.ports without the admin token; the token stays in
# $LAB_RUN/admin-token, $LAB_RUN/ports.json and serve.out (mode 0600).
#
#   LAB_BIND        listen address of every listener (default 127.0.0.1;
#                   compose.yaml: 0.0.0.0 inside the container)
#   LAB_ADMIN_PORT  the admin API's port (default 0: any)
#   SSESIM_ADMIN_TOKEN  the admin token (default: random)
set -eu
LAB_PART=cloud
# shellcheck source=docker/entry/common.sh
. "$(dirname "$0")/common.sh"

LAB_BIND=${LAB_BIND:-127.0.0.1}
LAB_ADMIN_PORT=${LAB_ADMIN_PORT:-0}

mkdir -p "$LAB_CERTS" "$LAB_SHARE" "$LAB_RUN"
rm -f "$LAB_CLOUD_PORTS"
if [ -f "$LAB_CERTS/ca/root.pem" ]; then
    lab_say "certificates: keeping the CA in $LAB_CERTS"
else
    lab_say "certificates: making the private CA in $LAB_CERTS"
fi
ssesim certs --out "$LAB_CERTS" >"$LAB_RUN/certs.out" ||
    lab_die "ssesim certs --out $LAB_CERTS failed: $(cat "$LAB_RUN/certs.out")"

# serve's stdout is read here; its log goes to this process's stderr.
# Its stdout and ports file hold the admin token: mode 0600, as the
# token's own file (on the host, $LAB_RUN may be under a shared /tmp).
lab_umask=$(umask)
umask 077
ssesim serve --certs "$LAB_CERTS" --bind "$LAB_BIND" \
    --admin-port "$LAB_ADMIN_PORT" --ports-file "$LAB_RUN/ports.json" \
    >"$LAB_RUN/serve.out" &
serve=$!
umask "$lab_umask"
trap 'kill -TERM "$serve" 2>/dev/null' TERM INT

end=$(($(date +%s) + LAB_WAIT_S))
until grep -q '"ready":true' "$LAB_RUN/serve.out" 2>/dev/null; do
    kill -0 "$serve" 2>/dev/null || {
        rc=0
        wait "$serve" || rc=$?
        lab_die "ssesim serve exited ($rc) before it was ready"
    }
    [ "$(date +%s)" -lt "$end" ] || lab_die "ssesim serve not ready"
    sleep 0.2
done
(
    umask 077
    sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p' "$LAB_RUN/serve.out" \
        >"$LAB_RUN/admin-token"
)
grep -v '"admin_token"' "$LAB_RUN/serve.out" >"$LAB_CLOUD_PORTS.tmp"
mv "$LAB_CLOUD_PORTS.tmp" "$LAB_CLOUD_PORTS"
lab_say "ready on $LAB_BIND: admin API port" \
    "$(lab_port_of "$LAB_CLOUD_PORTS" admin), listeners in $LAB_CLOUD_PORTS," \
    "admin token in $LAB_RUN/admin-token"

rc=0
wait "$serve" || rc=$?
if kill -0 "$serve" 2>/dev/null; then
    rc=0
    wait "$serve" || rc=$?
fi
exit "$rc"
