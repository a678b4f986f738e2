#!/bin/sh
# The services of compose.yaml run by hand with podman, in one pod: how
# the image was checked where no Docker engine runs (docker/README.md).
# The same image, commands, environment and volumes as compose.yaml (the
# tmpfs ones owned by uid and gid 10001); the pod's network namespace is
# slirp4netns, reached from nowhere, and its /etc/hosts names cloud and
# connector 127.0.0.1, so the services find each other by the names
# compose.yaml gives them. No port is published.
#
#   docker/podman-pod.sh up     build nothing; start the pod, wait for fmc
#   docker/podman-pod.sh down   stop (SIGTERM) and remove it all
#
# The image first: podman build -f docker/Dockerfile -t sselab-lab:local .
# From the host, curl through the pod's network namespace:
#   nsenter -t "$(docker/podman-pod.sh pid)" -n curl -s \
#       http://127.0.0.1:8990/v1/ledger
set -eu

P=${PODMAN:-podman}
I=${SSELAB_IMAGE:-sselab-lab:local}
POD=sselab-lab
E=/opt/sselab/entry

up() {
    for v in share ipc; do
        $P volume create --opt type=tmpfs --opt device=tmpfs \
            --opt o=uid=10001,gid=10001,mode=0750 "$POD-$v" >/dev/null
    done
    $P volume create "$POD-certs" >/dev/null
    $P pod create --name "$POD" --network slirp4netns \
        --add-host cloud:127.0.0.1 --add-host connector:127.0.0.1 >/dev/null
    $P run -d --pod "$POD" --init --name "$POD-cloud" \
        -e LAB_BIND=0.0.0.0 -e LAB_ADMIN_PORT=8990 \
        -e SSESIM_ADMIN_TOKEN="${SSELAB_ADMIN_TOKEN:-}" \
        -v "$POD-certs:/lab/certs" -v "$POD-share:/lab/share" \
        "$I" "$E/cloud.sh" >/dev/null
    $P run -d --pod "$POD" --init --name "$POD-eventhandler" \
        -e LAB_EH_RATE=2 -e LAB_EH_COUNT=7200 -v "$POD-share:/lab/share" \
        -v "$POD-ipc:/lab/root/ngfw/var/sf/run" \
        "$I" "$E/eventhandler.sh" >/dev/null
    $P run -d --pod "$POD" --init --name "$POD-connector" \
        -e LAB_CLOUD_ADDR=cloud -e LAB_CONNECTOR_PORT=8989 \
        -e LAB_CONNECTOR_INTERFACE=all -v "$POD-certs:/lab/certs:ro" \
        -v "$POD-share:/lab/share" -v "$POD-ipc:/lab/root/ngfw/var/sf/run" \
        "$I" "$E/connector.sh" >/dev/null
    $P run --pod "$POD" --init --name "$POD-fmc" \
        -e LAB_CLOUD_ADDR=cloud -e LAB_CONNECTOR_ADDR=connector \
        -v "$POD-certs:/lab/certs:ro" -v "$POD-share:/lab/share:ro" \
        "$I" "$E/fmc.sh"
}

down() {
    for c in connector eventhandler cloud; do
        $P stop -t 20 "$POD-$c" >/dev/null 2>&1 || true
    done
    $P pod rm -f "$POD" >/dev/null 2>&1 || true
    $P volume rm "$POD-certs" "$POD-share" "$POD-ipc" >/dev/null 2>&1 || true
}

case ${1:-} in
up) up ;;
down) down ;;
pid)
    infra=$($P pod inspect "$POD" -f '{{.InfraContainerID}}')
    $P inspect -f '{{.State.Pid}}' "$infra"
    ;;
*)
    echo "usage: $0 up|down|pid" >&2
    exit 2
    ;;
esac
