#!/bin/sh
# The lab's EventHandler: binds the ipc socket under $LAB_ROOT (in
# compose.yaml a volume the connector mounts too) and sends the fixtures
# round robin at a modest rate, then keeps the socket bound. Its report
# (epoch, sent) goes to $LAB_SHARE/eventhandler.json when it has sent all.
#
#   LAB_FIXTURES  directory of *.jsonl events (default
#                 /opt/sselab/fixtures/events)
#   LAB_EH_RATE   events per second (default 2)
#   LAB_EH_COUNT  events in all (default 7200: an hour at 2/s)
set -eu
LAB_PART=eventhandler
# shellcheck source=docker/entry/common.sh
. "$(dirname "$0")/common.sh"

LAB_FIXTURES=${LAB_FIXTURES:-/opt/sselab/fixtures/events}
LAB_EH_RATE=${LAB_EH_RATE:-2}
LAB_EH_COUNT=${LAB_EH_COUNT:-7200}

mkdir -p "$LAB_ROOT/ngfw/var/sf/run" "$LAB_SHARE" "$LAB_RUN"
rm -f "$LAB_SHARE/eventhandler.json"
lab_say "sending $LAB_EH_COUNT events from $LAB_FIXTURES at $LAB_EH_RATE/s"
lab_run_child sse-eventhandler --root "$LAB_ROOT" \
    --fixtures "$LAB_FIXTURES" --count "$LAB_EH_COUNT" \
    --rate "$LAB_EH_RATE" --hold --report "$LAB_SHARE/eventhandler.json" \
    >"$LAB_RUN/eventhandler.out"
