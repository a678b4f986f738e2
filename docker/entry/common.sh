# common.sh: what the lab's entry scripts share (sourced, POSIX sh).
# shellcheck disable=SC2034
#
# Every path and address comes from the environment, so that the same
# scripts run in the containers of compose.yaml and, in
# tests/e2e/test_lab_entry.sh, on the host with loopback addresses and
# temporary directories. The defaults are the image's paths and loopback:
# compose.yaml sets the addresses that open a listener to the network.

LAB_CERTS=${LAB_CERTS:-/lab/certs}   # ssesim certs --out (shared)
LAB_SHARE=${LAB_SHARE:-/lab/share}   # ports files (shared, no secret)
LAB_RUN=${LAB_RUN:-/lab/run}         # this part's own files
LAB_ROOT=${LAB_ROOT:-/lab/root}      # the connector's --root
LAB_WAIT_S=${LAB_WAIT_S:-300}        # how long to wait for another part

# The cloud's listeners as ssesim serve prints them, without the admin
# token: the host map and the FMC role are made from it.
LAB_CLOUD_PORTS=$LAB_SHARE/cloud.ports
# The connector's local API port (sse-connector --ports-file).
LAB_CONNECTOR_PORTS=$LAB_SHARE/connector.ports

lab_say() {
    echo "lab-$LAB_PART: $*" >&2
}

lab_die() {
    lab_say "$*"
    exit 1
}

# lab_wait_ready FILE: wait until FILE holds {"ready":true}, or give up
# after LAB_WAIT_S seconds naming the file.
lab_wait_ready() {
    lab_end=$(($(date +%s) + LAB_WAIT_S))
    while ! grep -q '"ready":true' "$1" 2>/dev/null; do
        [ "$(date +%s)" -lt "$lab_end" ] ||
            lab_die "no {\"ready\":true} in $1 after ${LAB_WAIT_S}s"
        sleep 0.2
    done
}

# lab_port_of FILE SERVICE: the port of SERVICE's line in a ports file.
lab_port_of() {
    sed -n "s/.*\"service\":\"$2\".*\"port\":\([0-9]*\).*/\1/p" "$1" |
        head -n 1
}

# lab_run_child CMD...: run CMD in the background and wait for it, passing
# SIGTERM and SIGINT on, so that `docker compose stop` (or a test's kill)
# stops the program itself, which then logs its own shutdown. Returns the
# program's exit status.
lab_run_child() {
    "$@" &
    lab_child=$!
    trap 'kill -TERM "$lab_child" 2>/dev/null' TERM INT
    lab_rc=0
    wait "$lab_child" || lab_rc=$?
    # A signal interrupts the first wait; the second collects the exit.
    if kill -0 "$lab_child" 2>/dev/null; then
        lab_rc=0
        wait "$lab_child" || lab_rc=$?
    fi
    trap - TERM INT
    # The program's own log may be a file: say here that it ended, and how.
    [ "$lab_rc" = 0 ] || lab_say "$1 exited with status $lab_rc"
    return "$lab_rc"
}
